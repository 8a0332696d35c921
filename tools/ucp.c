/*
 * ucp — copy files and trees with uco's copy engine (<uco/copy.h>): cp's
 * flags and messages, many files in flight, and never a half-written file
 * under a real name.
 *
 *   ucp [OPTION]... [-T] SOURCE DEST
 *   ucp [OPTION]... SOURCE... DIRECTORY
 *   ucp [OPTION]... -t DIRECTORY SOURCE...
 *
 * Built on the public API only: a main task copies the operands one after
 * the other (each a uco_copy_file or uco_copy_tree call), while a second
 * task waits for SIGINT/SIGTERM and cancels it; the engine then cancels
 * and cleans up everything in flight, and ucp says how far it got.
 *
 * Where cp and ucp differ, on purpose: an existing destination file is
 * replaced by a new file (written beside it, then renamed over it), not
 * truncated and rewritten in place, so it takes the source's mode (less
 * the umask) rather than keeping its own, and -f has nothing left to do.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uco/uco.h>

#define UCP_VERSION "ucp (uco) 0.1"

struct ucp {
	uco_copy_opts o;
	bool recursive, no_deref, verbose, progress, no_target, quiet_progress;
	const char *target;  /* -t DIR */
	char **srcs;
	int nsrcs;
	const char *dest;    /* the last operand, without -t */
	int status;          /* exit status so far */
	int signo;           /* the signal that stopped us */
	uco_task *copier;
	uco_copy_stats total; /* finished operands */
	const uco_copy_stats *cur;
	bool drawn;          /* a progress line is on screen */
};

static void usage(FILE *f)
{
	fputs("Usage: ucp [OPTION]... [-T] SOURCE DEST\n"
	      "  or:  ucp [OPTION]... SOURCE... DIRECTORY\n"
	      "  or:  ucp [OPTION]... -t DIRECTORY SOURCE...\n"
	      "Copy SOURCE to DEST, or multiple SOURCE(s) to DIRECTORY, with\n"
	      "many files in flight; a file appears under its name only once\n"
	      "it is complete.\n\n"
	      "  -a, --archive                same as -dR --preserve=all\n"
	      "  -d                           same as --no-dereference --preserve=links\n"
	      "  -f, --force                  accepted (ucp always replaces through a new file)\n"
	      "  -n, --no-clobber             do not overwrite an existing file\n"
	      "  -P, --no-dereference         never follow symbolic links in SOURCE\n"
	      "  -p                           same as --preserve=mode,ownership,timestamps\n"
	      "      --preserve[=ATTR_LIST]   preserve the specified attributes (default:\n"
	      "                                 mode,ownership,timestamps), if possible\n"
	      "                                 additional attributes: links, xattr, all\n"
	      "  -R, -r, --recursive          copy directories recursively\n"
	      "      --reflink[=WHEN]         control clone/CoW copies: auto (default),\n"
	      "                                 always, never; --reflink alone is always\n"
	      "      --sparse=WHEN            control creation of sparse files: auto,\n"
	      "                                 always, never\n"
	      "  -t, --target-directory=DIRECTORY  copy all SOURCE arguments into DIRECTORY\n"
	      "  -T, --no-target-directory    treat DEST as a normal file\n"
	      "  -u, --update                 copy only when SOURCE is newer than the\n"
	      "                                 destination file or it is missing\n"
	      "  -v, --verbose                explain what is being done\n"
	      "  -j, --jobs=N                 files in flight (default 16)\n"
	      "      --direct                 O_DIRECT (falls back per file, with a note)\n"
	      "      --fsync                  fsync every file before it appears\n"
	      "      --verify                 re-read both sides and compare (with -v:\n"
	      "                                 print each file's checksum)\n"
	      "      --progress, --no-progress  a progress line (default: on a terminal)\n"
	      "      --help                   display this help and exit\n"
	      "      --version                output version information and exit\n\n"
	      "Exit status: 0 if all went well, 1 if anything failed (the rest is\n"
	      "still copied), 130 or 143 when stopped by SIGINT or SIGTERM.\n",
	      f);
}

static void try_help(void)
{
	fputs("Try 'ucp --help' for more information.\n", stderr);
}

/* ---- output ------------------------------------------------------------- */

static void human(char *buf, size_t cap, double v)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, cap, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void clear_progress(struct ucp *u)
{
	if (u->drawn) {
		fputs("\r\033[K", stderr);
		u->drawn = false;
	}
}

/* The engine calls this at most every 100 ms: at most 10 redraws/s. */
static void on_progress(const uco_copy_stats *st, void *arg)
{
	struct ucp *u = arg;
	char done[32], total[32], rate[32], eta[32] = "";
	double secs = (double)st->elapsed_ns / 1e9;
	double bps = secs > 0 ? (double)st->bytes / secs : 0;

	u->cur = st;
	if (!u->progress)
		return;
	human(done, sizeof(done), (double)st->bytes);
	human(total, sizeof(total), (double)st->bytes_total);
	human(rate, sizeof(rate), bps);
	if (st->total_final && bps > 0 && st->bytes_total >= st->bytes) {
		unsigned s = (unsigned)((double)(st->bytes_total - st->bytes) / bps);

		snprintf(eta, sizeof(eta), "  ETA %u:%02u", s / 60, s % 60);
	}
	fprintf(stderr, "\r\033[K%s / %s%s  %" PRIu64 " / %" PRIu64 "%s files  %s/s%s",
		done, total, st->total_final ? "" : "+",
		st->files + st->hardlinks, st->files_total,
		st->total_final ? "" : "+ (still counting)", rate, eta);
	u->drawn = true;
}

static void report(const char *fmt, const char *a, const char *b, int err)
{
	fputs("ucp: ", stderr);
	fprintf(stderr, fmt, a, b);
	if (err)
		fprintf(stderr, ": %s", strerror(-err));
	fputc('\n', stderr);
}

static int on_error(const uco_copy_error *e, void *arg)
{
	struct ucp *u = arg;
	const char *s = e->src, *d = e->dst;

	clear_progress(u);
	switch (e->step) {
	case UCO_COPY_STAT: report("cannot stat '%s'", s, d, e->err); break;
	case UCO_COPY_OPEN_SRC:
		report("cannot open '%s' for reading", s, d, e->err);
		break;
	case UCO_COPY_OPEN_DIR:
		report("cannot open directory '%s'", s, d, e->err);
		break;
	case UCO_COPY_READ_DIR:
		report("cannot read directory '%s'", s, d, e->err);
		break;
	case UCO_COPY_READ: report("error reading '%s'", s, d, e->err); break;
	case UCO_COPY_CREATE:
		report("cannot create regular file '%s'", d, s, e->err);
		break;
	case UCO_COPY_WRITE: report("error writing '%s'", d, s, e->err); break;
	case UCO_COPY_MKDIR:
		report("cannot create directory '%s'", d, s, e->err);
		break;
	case UCO_COPY_SYMLINK:
		report("cannot create symbolic link '%s'", d, s, e->err);
		break;
	case UCO_COPY_READLINK:
		report("cannot read symbolic link '%s'", s, d, e->err);
		break;
	case UCO_COPY_SPECIAL:
		report("cannot create special file '%s'", d, s, e->err);
		break;
	case UCO_COPY_LINK:
		report("cannot create hard link '%s' to '%s'", d, s, e->err);
		break;
	case UCO_COPY_CLONE:
		report("failed to clone '%s' from '%s'", d, s, e->err);
		break;
	case UCO_COPY_MODE:
		report("preserving permissions for '%s'", d, s, e->err);
		break;
	case UCO_COPY_OWNER:
		report("failed to preserve ownership for '%s'", d, s, e->err);
		break;
	case UCO_COPY_TIMES:
		report("preserving times for '%s'", d, s, e->err);
		break;
	case UCO_COPY_XATTR:
		report("setting attributes for '%s'", d, s, e->err);
		break;
	case UCO_COPY_OVERWRITE_DIR:
		report("cannot overwrite directory '%s' with non-directory", d, s,
		       0);
		break;
	case UCO_COPY_NOT_DIR:
		report("cannot overwrite non-directory '%s' with directory '%s'",
		       d, s, 0);
		break;
	case UCO_COPY_INTO_ITSELF:
		report("cannot copy a directory, '%s', into itself, '%s'", s, d,
		       0);
		break;
	case UCO_COPY_VERIFY_FAIL:
		report("'%s' and '%s' differ after copying", s, d, 0);
		break;
	case UCO_COPY_FSYNC_FAIL:
		report("error syncing '%s'", d, s, e->err);
		break;
	case UCO_COPY_NOTE_DIRECT:
		fprintf(stderr, "ucp: note: O_DIRECT refused for '%s' (%s): "
				"copied through the page cache\n",
			s, strerror(-e->err));
		return 0;
	}
	u->status = 1;
	return 0; /* cp goes on with the other files */
}

static void on_done(const uco_copy_event *e, void *arg)
{
	struct ucp *u = arg;

	if (!u->verbose || e->kind == '-')
		return;
	clear_progress(u);
	if (e->kind == 'h')
		printf("'%s' => '%s'\n", e->src, e->dst);
	else if (e->have_sum)
		printf("'%s' -> '%s' (fnv1a64 %016" PRIx64 ")\n", e->src, e->dst,
		       e->sum);
	else
		printf("'%s' -> '%s'\n", e->src, e->dst);
}

/* ---- operands --------------------------------------------------------- */

static char *join(const char *dir, const char *src)
{
	size_t sl = strlen(src);
	const char *base;
	char *out;

	while (sl > 1 && src[sl - 1] == '/')
		sl--;
	base = src + sl;
	while (base > src && base[-1] != '/')
		base--;
	if (asprintf(&out, "%s%s%.*s", dir,
		     dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/",
		     (int)(src + sl - base), base) < 0)
		return NULL;
	return out;
}

static void add_stats(uco_copy_stats *a, const uco_copy_stats *b)
{
	a->bytes += b->bytes;
	a->files += b->files;
	a->dirs += b->dirs;
	a->symlinks += b->symlinks;
	a->hardlinks += b->hardlinks;
	a->errors += b->errors;
}

/* Is the directory src an ancestor of (or the same as) where dst goes? */
static bool into_itself(const char *src, const char *dst)
{
	char s[PATH_MAX], p[PATH_MAX], *dcopy = strdup(dst), *slash;
	bool r = false;

	if (!dcopy || !realpath(src, s)) {
		free(dcopy);
		return false;
	}
	/* dst may not exist yet: resolve its parent. */
	slash = strrchr(dcopy, '/');
	if (slash && slash != dcopy)
		*slash = 0;
	else if (slash)
		dcopy[1] = 0;
	if (realpath(slash ? dcopy : ".", p)) {
		size_t n = strlen(s);

		r = strncmp(p, s, n) == 0 && (p[n] == 0 || p[n] == '/');
	}
	free(dcopy);
	return r;
}

static int copy_one(struct ucp *u, const char *src, const char *dst)
{
	struct stat ss, ds;
	uco_copy_stats st;
	bool follow = !(u->no_deref || u->recursive);
	int r;

	if ((follow ? stat(src, &ss) : lstat(src, &ss)) < 0) {
		report("cannot stat '%s'", src, NULL, -errno);
		return 1;
	}
	if (S_ISDIR(ss.st_mode) && !u->recursive) {
		report("-r not specified; omitting directory '%s'", src, NULL, 0);
		return 1;
	}
	if (stat(dst, &ds) == 0 && ds.st_dev == ss.st_dev &&
	    ds.st_ino == ss.st_ino) {
		report("'%s' and '%s' are the same file", src, dst, 0);
		return 1;
	}
	if (S_ISDIR(ss.st_mode) && into_itself(src, dst)) {
		report("cannot copy a directory, '%s', into itself, '%s'", src,
		       dst, 0);
		return 1;
	}
	if (S_ISDIR(ss.st_mode) || !follow)
		r = uco_copy_tree(src, dst, &u->o, &st);
	else
		r = uco_copy_file(src, dst, &u->o, &st);
	u->cur = NULL;
	add_stats(&u->total, &st);
	if (r == -ECANCELED || r == -ETIMEDOUT)
		return -1;
	return r < 0; /* the engine reported it (on_error) */
}

static void *copier(void *arg)
{
	struct ucp *u = arg;

	for (int i = 0; i < u->nsrcs; i++) {
		const char *dst = u->dest;
		char *joined = NULL;
		struct stat ds;
		int r;

		if (u->target || (!u->no_target && stat(u->dest, &ds) == 0 &&
				  S_ISDIR(ds.st_mode))) {
			joined = join(u->target ? u->target : u->dest,
				      u->srcs[i]);
			if (!joined) {
				u->status = 1;
				break;
			}
			dst = joined;
		}
		r = copy_one(u, u->srcs[i], dst);
		free(joined);
		if (r < 0)
			return uco_fail(-ECANCELED);
		if (r > 0)
			u->status = 1;
	}
	return NULL;
}

static void *signaller(void *arg)
{
	struct ucp *u = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sig = uco_signal_wait(&set);
	if (sig > 0) {
		u->signo = sig;
		uco_cancel(u->copier);
	}
	return NULL;
}

static void *main_task(void *arg)
{
	struct ucp *u = arg;
	uco_task *sig;
	int r = uco_spawn(&u->copier, copier, u, &(uco_spawn_opts){ .name = "copier" });

	if (r < 0) {
		fprintf(stderr, "ucp: %s\n", strerror(-r));
		u->status = 1;
		return NULL;
	}
	if (uco_spawn(&sig, signaller, u, NULL) < 0)
		sig = NULL;
	/* The copier reports its own outcome in u->status. */
	UCO_IGNORE(uco_join(u->copier, NULL));
	uco_task_release(u->copier);
	if (sig) {
		uco_cancel(sig);
		UCO_IGNORE(uco_join(sig, NULL)); /* cancelled: nothing to say */
		uco_task_release(sig);
	}
	return NULL;
}

/* ---- options ------------------------------------------------------------ */

static bool parse_preserve(struct ucp *u, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	bool ok = copy != NULL;

	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
	     t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "mode"))
			u->o.flags |= UCO_COPY_PRESERVE_MODE;
		else if (!strcmp(t, "ownership"))
			u->o.flags |= UCO_COPY_PRESERVE_OWNER;
		else if (!strcmp(t, "timestamps"))
			u->o.flags |= UCO_COPY_PRESERVE_TIMES;
		else if (!strcmp(t, "links"))
			u->o.flags |= UCO_COPY_PRESERVE_LINKS;
		else if (!strcmp(t, "xattr") || !strcmp(t, "context"))
			u->o.flags |= UCO_COPY_PRESERVE_XATTR;
		else if (!strcmp(t, "all"))
			u->o.flags |= UCO_COPY_PRESERVE_MODE |
				      UCO_COPY_PRESERVE_OWNER |
				      UCO_COPY_PRESERVE_TIMES |
				      UCO_COPY_PRESERVE_LINKS |
				      UCO_COPY_PRESERVE_XATTR;
		else {
			fprintf(stderr,
				"ucp: invalid argument '%s' for '--preserve'\n",
				t);
			ok = false;
			break;
		}
	}
	free(copy);
	return ok;
}

struct when {
	const char *name;
	int value;
};

/* An argument of --reflink / --sparse; the list in cp's order. */
static bool parse_when(const char *opt, const char *arg,
		       const struct when *w, int *out)
{
	for (int i = 0; w[i].name; i++)
		if (!strcmp(arg, w[i].name)) {
			*out = w[i].value;
			return true;
		}
	fprintf(stderr, "ucp: invalid argument '%s' for '--%s'\n", arg, opt);
	fputs("Valid arguments are:\n", stderr);
	for (int i = 0; w[i].name; i++)
		fprintf(stderr, "  - '%s'\n", w[i].name);
	return false;
}

enum {
	OPT_PRESERVE = 256, OPT_REFLINK, OPT_SPARSE, OPT_HELP, OPT_VERSION,
	OPT_DIRECT, OPT_FSYNC, OPT_VERIFY, OPT_PROGRESS, OPT_NO_PROGRESS,
};

static const struct option longopts[] = {
	{ "archive", no_argument, NULL, 'a' },
	{ "force", no_argument, NULL, 'f' },
	{ "no-clobber", no_argument, NULL, 'n' },
	{ "no-dereference", no_argument, NULL, 'P' },
	{ "preserve", optional_argument, NULL, OPT_PRESERVE },
	{ "recursive", no_argument, NULL, 'R' },
	{ "reflink", optional_argument, NULL, OPT_REFLINK },
	{ "sparse", required_argument, NULL, OPT_SPARSE },
	{ "target-directory", required_argument, NULL, 't' },
	{ "no-target-directory", no_argument, NULL, 'T' },
	{ "update", no_argument, NULL, 'u' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "direct", no_argument, NULL, OPT_DIRECT },
	{ "fsync", no_argument, NULL, OPT_FSYNC },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int parse(struct ucp *u, int argc, char **argv)
{
	static const struct when reflinks[] = {
		{ "auto", UCO_REFLINK_AUTO }, { "always", UCO_REFLINK_ALWAYS },
		{ "never", UCO_REFLINK_NEVER }, { NULL, 0 },
	};
	static const struct when sparses[] = {
		{ "never", UCO_SPARSE_NEVER }, { "auto", UCO_SPARSE_AUTO },
		{ "always", UCO_SPARSE_ALWAYS }, { NULL, 0 },
	};
	int progress = -1, c, w;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "adfnPprRt:Tuvj:", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'a':
			u->recursive = u->no_deref = true;
			parse_preserve(u, "all");
			break;
		case 'd':
			u->no_deref = true;
			u->o.flags |= UCO_COPY_PRESERVE_LINKS;
			break;
		case 'f': break;
		case 'n': u->o.flags |= UCO_COPY_NO_CLOBBER; break;
		case 'P': u->no_deref = true; break;
		case 'p': parse_preserve(u, "mode,ownership,timestamps"); break;
		case OPT_PRESERVE:
			if (!parse_preserve(u, optarg ? optarg
						      : "mode,ownership,timestamps")) {
				try_help();
				return 1;
			}
			break;
		case 'r':
		case 'R': u->recursive = true; break;
		case OPT_REFLINK:
			if (!optarg) {
				u->o.reflink = UCO_REFLINK_ALWAYS;
			} else if (parse_when("reflink", optarg, reflinks, &w)) {
				u->o.reflink = (uco_copy_reflink)w;
			} else {
				try_help();
				return 1;
			}
			break;
		case OPT_SPARSE:
			if (!parse_when("sparse", optarg, sparses, &w)) {
				try_help();
				return 1;
			}
			u->o.sparse = (uco_copy_sparse)w;
			break;
		case 't': u->target = optarg; break;
		case 'T': u->no_target = true; break;
		case 'u': u->o.flags |= UCO_COPY_UPDATE; break;
		case 'v': u->verbose = true; break;
		case 'j': {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || n < 1 || n > 1024) {
				fprintf(stderr, "ucp: invalid number of jobs: '%s'\n",
					optarg);
				try_help();
				return 1;
			}
			u->o.jobs = (unsigned)n;
			break;
		}
		case OPT_DIRECT: u->o.flags |= UCO_COPY_DIRECT; break;
		case OPT_FSYNC: u->o.flags |= UCO_COPY_FSYNC; break;
		case OPT_VERIFY: u->o.flags |= UCO_COPY_VERIFY; break;
		case OPT_PROGRESS: progress = 1; break;
		case OPT_NO_PROGRESS: progress = 0; break;
		case OPT_HELP: usage(stdout); exit(0);
		case OPT_VERSION: puts(UCP_VERSION); exit(0);
		default:
			if (optopt && optopt < 256)
				fprintf(stderr, "ucp: invalid option -- '%c'\n",
					optopt);
			else
				fprintf(stderr, "ucp: unrecognized option '%s'\n",
					argv[optind - 1]);
			try_help();
			return 1;
		}
	}
	/* -n wins over -u, as in cp. */
	if (u->o.flags & UCO_COPY_NO_CLOBBER)
		u->o.flags &= ~UCO_COPY_UPDATE;
	u->progress = progress < 0 ? isatty(STDERR_FILENO) : progress;
	u->srcs = argv + optind;
	u->nsrcs = argc - optind;
	if (u->nsrcs == 0) {
		fputs("ucp: missing file operand\n", stderr);
		try_help();
		return 1;
	}
	if (u->target && u->no_target) {
		fputs("ucp: cannot combine --target-directory (-t) and "
		      "--no-target-directory (-T)\n", stderr);
		try_help();
		return 1;
	}
	if (!u->target) {
		if (u->nsrcs == 1) {
			fprintf(stderr,
				"ucp: missing destination file operand after '%s'\n",
				u->srcs[0]);
			try_help();
			return 1;
		}
		u->dest = u->srcs[--u->nsrcs];
	}
	struct stat sb;
	if (u->target && (stat(u->target, &sb) < 0 || !S_ISDIR(sb.st_mode))) {
		fprintf(stderr, "ucp: target directory '%s': %s\n", u->target,
			strerror(errno ? errno : ENOTDIR));
		return 1;
	}
	if (!u->target && u->no_target && u->nsrcs > 1) {
		fprintf(stderr, "ucp: extra operand '%s'\n", u->srcs[1]);
		try_help();
		return 1;
	}
	if (!u->target && u->nsrcs > 1) {
		if (stat(u->dest, &sb) < 0) {
			fprintf(stderr, "ucp: target '%s': %s\n", u->dest,
				strerror(errno));
			return 1;
		}
		if (!S_ISDIR(sb.st_mode)) {
			fprintf(stderr, "ucp: target '%s': %s\n", u->dest,
				strerror(ENOTDIR));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ucp u = { 0 };
	struct rlimit rl;
	uco_config cfg;
	int r;

	if (parse(&u, argc, argv))
		return 1;
	u.o.on_error = on_error;
	if (u.verbose) /* each call builds the entry's two paths */
		u.o.on_done = on_done;
	u.o.arg = &u;
	if (u.progress) {
		u.o.progress = on_progress;
		u.o.flags |= UCO_COPY_COUNT;
	}
	/* Two fds per directory in flight: deep trees need more than the
	 * default soft limit of 1024. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	uco_config_init(&cfg);
	cfg.offload_threads = 6; /* metadata calls, getdents, the count */
	r = uco_run(main_task, &u, &cfg, NULL);
	clear_progress(&u);
	fflush(stdout);
	if (r < 0) {
		fprintf(stderr, "ucp: %s\n", strerror(-r));
		return 1;
	}
	if (u.signo) {
		char b[32];

		human(b, sizeof(b), (double)u.total.bytes);
		fprintf(stderr,
			"ucp: interrupted by %s: %" PRIu64 " files, %" PRIu64
			" directories, %s copied; nothing partial left behind\n",
			u.signo == SIGINT ? "SIGINT" : "SIGTERM",
			u.total.files + u.total.hardlinks, u.total.dirs, b);
		return 128 + u.signo;
	}
	return u.status;
}
