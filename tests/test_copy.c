/*
 * Suite "copy": the copy engine (include/uco/copy.h).
 *
 *   copy            generated trees with random content (empty, 1 byte,
 *                   chunk multiples and +-1, a file larger than the whole
 *                   pipeline, sparse, symlinks incl. dangling, hard links,
 *                   nesting deeper than PATH_MAX, odd names, xattrs, a FIFO,
 *                   a read-only directory) compared by content and
 *                   metadata; single files (replace, -n, -u, sparse modes,
 *                   O_DIRECT, verify); failures (unreadable source as an
 *                   unprivileged child, a file where a directory is needed,
 *                   a directory into itself, bad arguments); cancellation
 *                   and timeout scopes in the middle of a tree and of a big
 *                   file, and around a copy blocked in an io-wq worker (a
 *                   FIFO): each returns, leaks no fd or byte (leakcheck.h)
 *                   and leaves no temporary or partial file.
 *   copy enospc     a small loop-mounted ext4 fills up   } exit 77 (counted
 *   copy reflink    FICLONE on a loop-mounted btrfs      }  skip) when the
 *                                                        image cannot be
 *                                                        mounted
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC
#define KiB 1024ull
#define MiB (1024ull * 1024)

/* ---- fixtures (plain system calls, outside the runtime) ------------------ */

static void tmpdir_make(char *dir, size_t cap)
{
	snprintf(dir, cap, "%s/uco-copy-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void tmpdir_remove(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'",
		 dir, dir);
	ck_assert_int_eq(system(cmd), 0);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void write_at(int dirfd, const char *name, uint64_t size, int extra)
{
	static char buf[1 << 16];
	int fd = openat(dirfd, name, O_CREAT | O_WRONLY | O_TRUNC | extra, 0644);

	ck_assert_msg(fd >= 0, "create %s: %s", name, strerror(errno));
	for (uint64_t done = 0; done < size;) {
		size_t n = size - done < sizeof(buf) ? (size_t)(size - done)
						     : sizeof(buf);

		for (size_t i = 0; i < n; i += 8) {
			uint64_t v = rnd();

			memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
		}
		ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
		done += n;
	}
	close(fd);
}

static void path_at(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* Sizes around the engine's boundaries: the 128 KiB worker buffer, the
 * 1 MiB lane chunk, the 2 MiB lane threshold, the 8 MiB range. */
static const uint64_t sizes[] = {
	0, 1, 4095, 4096, 4097, 128 * KiB - 1, 128 * KiB, 128 * KiB + 1,
	MiB - 1, MiB, MiB + 1, 2 * MiB + 1, 8 * MiB - 1, 8 * MiB + 1,
};

#define DEEP_LEVELS 45 /* x 100-byte names: 4,545 bytes > PATH_MAX */

static void make_deep(int dirfd)
{
	char name[101];
	int fd = dup(dirfd);

	memset(name, 'd', 100);
	name[100] = 0;
	for (int i = 0; i < DEEP_LEVELS; i++) {
		ck_assert_int_eq(mkdirat(fd, name, 0755), 0);
		int nfd = openat(fd, name, O_RDONLY | O_DIRECTORY);

		ck_assert_int_ge(nfd, 0);
		close(fd);
		fd = nfd;
	}
	write_at(fd, "deepfile", 3000, 0);
	/* A hard link down there: linking it from above PATH_MAX fails with
	 * ENAMETOOLONG, and the engine then copies it apart. */
	ck_assert_int_eq(linkat(dirfd, "hl1", fd, "deephl", 0), 0);
	close(fd);
}

/* The big generated tree; `big` adds the file larger than the pipeline. */
static void gen_tree(const char *root, bool big)
{
	char p[600];
	int fd;

	ck_assert_int_eq(mkdir(root, 0755), 0);
	fd = open(root, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(p, sizeof(p), "size-%llu", (unsigned long long)sizes[i]);
		write_at(fd, p, sizes[i], 0);
	}
	/* Bigger than everything in flight at once (4 lanes x 8 MiB). */
	if (big)
		write_at(fd, "bigger-than-pipeline", 40 * MiB + 123, 0);
	/* Sparse: a hole, data, a hole, data, and a hole at the end. */
	int s = openat(fd, "sparse", O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(ftruncate(s, 64 * MiB), 0);
	ck_assert_int_eq(pwrite(s, "data", 4, 16 * MiB), 4);
	ck_assert_int_eq(pwrite(s, "more", 4, 40 * MiB + 5), 4);
	close(s);
	/* Links. */
	ck_assert_int_eq(symlinkat("size-1", fd, "link"), 0);
	ck_assert_int_eq(symlinkat("no/such/target", fd, "dangling"), 0);
	ck_assert_int_eq(mkdirat(fd, "sub", 0755), 0);
	write_at(fd, "hl1", 5000, 0);
	ck_assert_int_eq(linkat(fd, "hl1", fd, "sub/hl2", 0), 0);
	ck_assert_int_eq(linkat(fd, "hl1", fd, "hl3", 0), 0);
	/* Odd names. */
	write_at(fd, "with space", 10, 0);
	write_at(fd, "new\nline", 11, 0);
	write_at(fd, "bad\xff\xfeutf8", 12, 0);
	write_at(fd, "-dash", 13, 0);
	write_at(fd, ".hidden", 14, 0);
	/* Many small files in one directory. */
	ck_assert_int_eq(mkdirat(fd, "many", 0755), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(p, sizeof(p), "many/f%03d", i);
		write_at(fd, p, rnd() % 10000, 0);
	}
	ck_assert_int_eq(mkdirat(fd, "emptydir", 0700), 0);
	ck_assert_int_eq(mkdirat(fd, "ro", 0755), 0);
	write_at(fd, "ro/inside", 100, 0);
	ck_assert_int_eq(fchmodat(fd, "ro", 0555, 0), 0);
	ck_assert_int_eq(mkfifoat(fd, "fifo", 0640), 0);
	ck_assert_int_eq(fchmodat(fd, "size-1", 0600, 0), 0);
	/* Old times, to see them kept. */
	struct timespec ts[2] = { { 978307200, 5 }, { 978307200, 123456789 } };
	ck_assert_int_eq(utimensat(fd, "size-4096", ts, 0), 0);
	ck_assert_int_eq(utimensat(fd, "sub", ts, 0), 0);
	ck_assert_int_eq(utimensat(fd, "link", ts, AT_SYMLINK_NOFOLLOW), 0);
	make_deep(fd); /* after hl1: it links to it */
	path_at(p, sizeof(p), root, "size-1");
	if (setxattr(p, "user.ucp", "value", 5, 0) < 0)
		fprintf(stderr, "copy: no user xattrs on %s (%s)\n", root,
			strerror(errno));
	close(fd);
}

static bool xattrs_supported(const char *root)
{
	char p[600], v[16];

	path_at(p, sizeof(p), root, "size-1");
	return getxattr(p, "user.ucp", v, sizeof(v)) == 5;
}

enum { CMP_MODE = 1, CMP_TIMES = 2, CMP_XATTR = 4 };

static void same_content(int a, int b, const char *name)
{
	static char x[1 << 16], y[1 << 16];
	ssize_t n, m;

	do {
		n = read(a, x, sizeof(x));
		m = read(b, y, sizeof(y));
		ck_assert_msg(n == m && n >= 0 && memcmp(x, y, (size_t)n) == 0,
			      "content of %s differs", name);
	} while (n > 0);
}

/* Compare the trees under (da, db) entry by entry; returns the number of
 * entries.  Fails on a missing or extra entry (a temporary file). */
static long cmp_dir(int da, int db, unsigned what)
{
	DIR *d = fdopendir(dup(da));
	struct dirent *e;
	long n = 0, nb = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		struct stat sa, sb;
		const char *nm = e->d_name;

		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		n++;
		ck_assert_int_eq(fstatat(da, nm, &sa, AT_SYMLINK_NOFOLLOW), 0);
		ck_assert_msg(fstatat(db, nm, &sb, AT_SYMLINK_NOFOLLOW) == 0,
			      "%s missing", nm);
		ck_assert_msg((sa.st_mode & S_IFMT) == (sb.st_mode & S_IFMT),
			      "%s: type", nm);
		if ((what & CMP_MODE) && !S_ISLNK(sa.st_mode))
			ck_assert_msg((sa.st_mode & 07777) == (sb.st_mode & 07777),
				      "%s: mode %o != %o", nm, sa.st_mode & 07777,
				      sb.st_mode & 07777);
		if (what & CMP_TIMES)
			ck_assert_msg(sa.st_mtim.tv_sec == sb.st_mtim.tv_sec &&
					      sa.st_mtim.tv_nsec == sb.st_mtim.tv_nsec,
				      "%s: mtime", nm);
		if (S_ISREG(sa.st_mode)) {
			int a = openat(da, nm, O_RDONLY), b = openat(db, nm, O_RDONLY);

			ck_assert_int_eq(sa.st_size, sb.st_size);
			ck_assert(a >= 0 && b >= 0);
			same_content(a, b, nm);
			close(a);
			close(b);
			/* Holes stay holes (a little slack for metadata). */
			if (sa.st_blocks * 512 < sa.st_size)
				ck_assert_msg(sb.st_blocks <= sa.st_blocks + 64,
					      "%s: %lld blocks, source %lld", nm,
					      (long long)sb.st_blocks,
					      (long long)sa.st_blocks);
		} else if (S_ISLNK(sa.st_mode)) {
			char ta[PATH_MAX], tb[PATH_MAX];
			ssize_t la = readlinkat(da, nm, ta, sizeof(ta));
			ssize_t lb = readlinkat(db, nm, tb, sizeof(tb));

			ck_assert(la == lb && la > 0 && memcmp(ta, tb, (size_t)la) == 0);
		} else if (S_ISDIR(sa.st_mode)) {
			int a = openat(da, nm, O_RDONLY | O_DIRECTORY);
			int b = openat(db, nm, O_RDONLY | O_DIRECTORY);

			ck_assert(a >= 0 && b >= 0);
			cmp_dir(a, b, what);
			close(a);
			close(b);
		}
		if ((what & CMP_XATTR) && S_ISREG(sa.st_mode)) {
			char pa[64], pb[64], va[64], vb[64];
			ssize_t la, lb;

			snprintf(pa, sizeof(pa), "/proc/self/fd/%d", da);
			snprintf(pb, sizeof(pb), "/proc/self/fd/%d", db);
			int a = openat(da, nm, O_RDONLY), b = openat(db, nm, O_RDONLY);
			la = fgetxattr(a, "user.ucp", va, sizeof(va));
			lb = fgetxattr(b, "user.ucp", vb, sizeof(vb));
			close(a);
			close(b);
			ck_assert_msg(la == lb && (la < 0 || !memcmp(va, vb, (size_t)la)),
				      "%s: xattr", nm);
		}
	}
	closedir(d);
	/* Nothing extra on the destination side. */
	d = fdopendir(dup(db));
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			nb++;
	closedir(d);
	ck_assert_int_eq(nb, n);
	return n;
}

static void cmp_tree(const char *a, const char *b, unsigned what)
{
	int da = open(a, O_RDONLY | O_DIRECTORY), db = open(b, O_RDONLY | O_DIRECTORY);

	ck_assert(da >= 0 && db >= 0);
	cmp_dir(da, db, what);
	close(da);
	close(db);
}

/* Temporary names (".ucp-*") anywhere under root. */
static int count_temps(const char *root)
{
	char cmd[700];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd),
		 "find '%s' -name '.ucp-*' 2>/dev/null | wc -l", root);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

static ino_t ino_of(const char *dir, const char *name)
{
	char p[600];
	struct stat sb;

	path_at(p, sizeof(p), dir, name);
	ck_assert_int_eq(lstat(p, &sb), 0);
	return sb.st_ino;
}

/* ---- what the callbacks saw --------------------------------------------- */

#define MAX_ERRS 16

struct seen {
	int nerr;
	uco_copy_step step[MAX_ERRS];
	int err[MAX_ERRS];
	char path[MAX_ERRS][128];
	int stop;          /* on_error's answer */
	long done;
	long cancel_after; /* on_done / progress count that cancels `victim` */
	uco_task *victim;
	int progress_calls;
	uint64_t last_progress, min_gap;
	bool have_sum;
	uint64_t sum;
};

static int seen_error(const uco_copy_error *e, void *arg)
{
	struct seen *s = arg;

	if (s->nerr < MAX_ERRS) {
		s->step[s->nerr] = e->step;
		s->err[s->nerr] = e->err;
		snprintf(s->path[s->nerr], sizeof(s->path[0]), "%s", e->dst);
		s->nerr++;
	}
	return s->stop;
}

static void seen_done(const uco_copy_event *e, void *arg)
{
	struct seen *s = arg;

	s->done++;
	if (e->have_sum) {
		s->have_sum = true;
		s->sum = e->sum;
	}
	if (s->victim && s->done == s->cancel_after)
		uco_cancel(s->victim);
}

static void seen_progress(const uco_copy_stats *st, void *arg)
{
	struct seen *s = arg;
	uint64_t now = uco_now();

	(void)st;
	if (s->progress_calls++ > 0 && now - s->last_progress < s->min_gap)
		s->min_gap = now - s->last_progress;
	s->last_progress = now;
	if (s->victim && s->progress_calls == s->cancel_after)
		uco_cancel(s->victim);
}

static bool seen_has(const struct seen *s, uco_copy_step step, int err)
{
	for (int i = 0; i < s->nerr; i++)
		if (s->step[i] == step && (!err || s->err[i] == err))
			return true;
	return false;
}

/* ---- the generated tree, whole ------------------------------------------ */

struct tree_arg {
	char src[300], dst[300];
	unsigned flags;
	uco_copy_stats st;
	struct seen seen;
	int r;
};

static void body_tree(void *p)
{
	struct tree_arg *a = p;
	uco_copy_opts o = { .flags = a->flags, .on_error = seen_error,
			    .on_done = seen_done, .arg = &a->seen };

	a->r = uco_copy_tree(a->src, a->dst, &o, &a->st);
}

START_TEST(tree_archive)
{
	char dir[256];
	struct tree_arg a = { 0 };

	tmpdir_make(dir, sizeof(dir));
	snprintf(a.src, sizeof(a.src), "%s/src", dir);
	snprintf(a.dst, sizeof(a.dst), "%s/dst", dir);
	gen_tree(a.src, true);
	a.flags = UCO_COPY_PRESERVE_MODE | UCO_COPY_PRESERVE_OWNER |
		  UCO_COPY_PRESERVE_TIMES | UCO_COPY_PRESERVE_LINKS |
		  UCO_COPY_PRESERVE_XATTR;
	lc_run(body_tree, &a, NULL);
	ck_assert_msg(a.r == 0, "copy_tree: %d (%d errors, first step %d err %d)",
		      a.r, a.seen.nerr, a.seen.step[0], a.seen.err[0]);
	ck_assert_int_eq(a.st.errors, 0);
	cmp_tree(a.src, a.dst,
		 CMP_MODE | CMP_TIMES | (xattrs_supported(a.src) ? CMP_XATTR : 0));
	/* Hard links stay hard links, within the tree. */
	ck_assert_uint_eq(ino_of(a.dst, "hl1"), ino_of(a.dst, "sub/hl2"));
	ck_assert_uint_eq(ino_of(a.dst, "hl1"), ino_of(a.dst, "hl3"));
	ck_assert_uint_ne(ino_of(a.dst, "hl1"), ino_of(a.src, "hl1"));
	/* hl1, sub/hl2, hl3 stay one file.  The link below PATH_MAX joins
	 * them if the walk met it after one of them (only the first copy's
	 * path must fit in PATH_MAX), else it is copied apart and the next
	 * one becomes the target. */
	ck_assert_uint_ge(a.st.hardlinks, 2);
	ck_assert_uint_le(a.st.hardlinks, 3);
	ck_assert_uint_eq(a.st.symlinks, 2);
	ck_assert_uint_eq(a.st.specials, 1);
	ck_assert_int_eq(count_temps(a.dst), 0);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(tree_plain)
{
	char dir[256];
	struct tree_arg a = { 0 };
	struct stat sb;
	char p[600];

	umask(022);
	tmpdir_make(dir, sizeof(dir));
	snprintf(a.src, sizeof(a.src), "%s/src", dir);
	snprintf(a.dst, sizeof(a.dst), "%s/dst", dir);
	gen_tree(a.src, false);
	lc_run(body_tree, &a, NULL);
	ck_assert_int_eq(a.r, 0);
	cmp_tree(a.src, a.dst, 0);
	/* cp without -p: modes less the umask, times not kept, hard links
	 * copied apart, directories made u+rwx then given their mode. */
	ck_assert_uint_ne(ino_of(a.dst, "hl1"), ino_of(a.dst, "sub/hl2"));
	path_at(p, sizeof(p), a.dst, "size-1");
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	path_at(p, sizeof(p), a.dst, "size-4096");
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_ne(sb.st_mtim.tv_sec, 978307200);
	path_at(p, sizeof(p), a.dst, "ro");
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0555);
	/* Copy again over it: everything replaced, nothing left over. */
	lc_run(body_tree, &a, NULL);
	ck_assert_int_eq(a.r, 0);
	cmp_tree(a.src, a.dst, 0);
	ck_assert_int_eq(count_temps(a.dst), 0);
	tmpdir_remove(dir);
}
END_TEST

/* ---- single files ----------------------------------------------------- */

struct file_arg {
	char dir[256];
	struct seen seen;
};

static int copy_f(struct file_arg *a, const char *s, const char *d,
		  unsigned flags, uco_copy_sparse sp, uco_copy_stats *st)
{
	char sp_[600], dp[600];
	uco_copy_opts o = { .flags = flags, .sparse = sp, .on_error = seen_error,
			    .on_done = seen_done, .arg = &a->seen };

	path_at(sp_, sizeof(sp_), a->dir, s);
	path_at(dp, sizeof(dp), a->dir, d);
	return uco_copy_file(sp_, dp, &o, st);
}

static void body_files(void *p)
{
	struct file_arg *a = p;
	uco_copy_stats st;

	/* Every boundary size. */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char s[64], d[64];

		snprintf(s, sizeof(s), "src/size-%llu", (unsigned long long)sizes[i]);
		snprintf(d, sizeof(d), "out/size-%llu", (unsigned long long)sizes[i]);
		ck_assert_int_eq(copy_f(a, s, d, 0, 0, &st), 0);
		ck_assert_uint_eq(st.bytes, sizes[i]);
		ck_assert_uint_eq(st.files, 1);
	}
	/* A symlink given as src is followed. */
	ck_assert_int_eq(copy_f(a, "src/link", "out/followed", 0, 0, &st), 0);
	/* Replace: a new file (new inode) takes the name. */
	ck_assert_int_eq(copy_f(a, "src/size-4097", "out/size-4096", 0, 0, &st), 0);
	/* -n keeps what is there, -u keeps a newer one. */
	ck_assert_int_eq(copy_f(a, "src/size-1", "out/size-4096",
				UCO_COPY_NO_CLOBBER, 0, &st), 0);
	ck_assert_uint_eq(st.skipped, 1);
	ck_assert_int_eq(copy_f(a, "src/size-4096", "out/size-0", UCO_COPY_UPDATE,
				0, &st), 0);
	ck_assert_uint_eq(st.skipped, 1); /* src/size-4096 is from 2001 */
	/* Sparse: auto keeps the holes, always makes zero chunks holes,
	 * never fills them. */
	ck_assert_int_eq(copy_f(a, "src/sparse", "out/sparse-auto", 0,
				UCO_SPARSE_AUTO, &st), 0);
	ck_assert_int_eq(copy_f(a, "src/zeros", "out/zeros-always", 0,
				UCO_SPARSE_ALWAYS, &st), 0);
	ck_assert_int_eq(copy_f(a, "src/sparse", "out/sparse-never", 0,
				UCO_SPARSE_NEVER, &st), 0);
	/* O_DIRECT with an odd size; verify with its checksum. */
	ck_assert_int_eq(copy_f(a, "src/size-1048577", "out/direct",
				UCO_COPY_DIRECT, 0, &st), 0);
	ck_assert_int_eq(copy_f(a, "src/size-8388609", "out/verified",
				UCO_COPY_VERIFY, 0, &st), 0);
	ck_assert(a->seen.have_sum);
	ck_assert_int_eq(a->seen.nerr, 0);
	/* Errors: a directory in the way, no such parent, no such source, a
	 * directory as source. */
	ck_assert_int_eq(copy_f(a, "src/size-1", "out/adir", 0, 0, &st), -EISDIR);
	ck_assert(seen_has(&a->seen, UCO_COPY_OVERWRITE_DIR, -EISDIR));
	ck_assert_int_eq(copy_f(a, "src/size-1", "nodir/x", 0, 0, &st), -ENOENT);
	ck_assert(seen_has(&a->seen, UCO_COPY_CREATE, -ENOENT));
	ck_assert_int_eq(copy_f(a, "src/size-1", "out/size-1/x", 0, 0, &st),
			 -ENOTDIR);
	ck_assert_int_eq(copy_f(a, "src/missing", "out/m", 0, 0, &st), -ENOENT);
	ck_assert(seen_has(&a->seen, UCO_COPY_STAT, -ENOENT));
	ck_assert_int_eq(copy_f(a, "src/sub", "out/sub", 0, 0, &st), -EISDIR);
	/* reflink=always where the filesystem cannot clone (ext4): an error,
	 * and no file. */
	char s1[600], d1[600];
	uco_copy_opts cl = { .reflink = UCO_REFLINK_ALWAYS,
			     .on_error = seen_error, .arg = &a->seen };
	path_at(s1, sizeof(s1), a->dir, "src/size-4097");
	path_at(d1, sizeof(d1), a->dir, "out/clone");
	int r = uco_copy_file(s1, d1, &cl, &st);
	if (r == 0) {
		ck_assert_uint_eq(st.reflinked, 1);
	} else {
		ck_assert_msg(r == -EOPNOTSUPP || r == -EXDEV || r == -EINVAL,
			      "clone: %d", r);
		ck_assert(seen_has(&a->seen, UCO_COPY_CLONE, r));
		ck_assert_int_eq(access(d1, F_OK), -1);
	}
	/* Bad arguments. */
	uco_copy_opts bad = { .jobs = 5000 };
	ck_assert_int_eq(uco_copy_file("a", "b", &bad, NULL), -EINVAL);
	bad = (uco_copy_opts){ .chunk_size = 1000 };
	ck_assert_int_eq(uco_copy_tree("a", "b", &bad, NULL), -EINVAL);
	ck_assert_int_eq(uco_copy_file(NULL, "b", NULL, NULL), -EFAULT);
	ck_assert_int_eq(uco_copy_file("", "b", NULL, NULL), -ENOENT);
}

static uint64_t fnv_file(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
	close(fd);
	return h;
}

START_TEST(files)
{
	struct file_arg a = { 0 };
	char src[300], out[300], p[600], q[600];
	struct stat s1, s2;

	tmpdir_make(a.dir, sizeof(a.dir));
	snprintf(src, sizeof(src), "%s/src", a.dir);
	snprintf(out, sizeof(out), "%s/out", a.dir);
	gen_tree(src, false);
	path_at(p, sizeof(p), src, "zeros");
	int fd = open(p, O_CREAT | O_WRONLY, 0644);
	char zero[65536] = { 0 };
	for (int i = 0; i < 64; i++) /* 4 MiB of real zeroes, then data */
		ck_assert_int_eq(write(fd, zero, sizeof(zero)), sizeof(zero));
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	ck_assert_int_eq(mkdir(out, 0755), 0);
	path_at(p, sizeof(p), out, "adir");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	/* An old destination, to see -u replace nothing newer. */
	path_at(p, sizeof(p), out, "size-0");
	write_at(AT_FDCWD, p, 0, 0);
	ino_t before;
	path_at(p, sizeof(p), out, "size-4096");
	write_at(AT_FDCWD, p, 7, 0);
	ck_assert_int_eq(stat(p, &s1), 0);
	before = s1.st_ino;

	lc_run(body_files, &a, NULL);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(p, sizeof(p), "%s/size-%llu", src, (unsigned long long)sizes[i]);
		snprintf(q, sizeof(q), "%s/size-%llu", out, (unsigned long long)sizes[i]);
		if (sizes[i] == 4096 || sizes[i] == 0)
			continue;
		ck_assert_uint_eq(fnv_file(p), fnv_file(q));
	}
	path_at(p, sizeof(p), out, "size-4096");
	ck_assert_int_eq(stat(p, &s1), 0);
	ck_assert_uint_ne(s1.st_ino, before);       /* replaced ... */
	ck_assert_int_eq(s1.st_size, 4097);         /* ... by size-4097 */
	path_at(p, sizeof(p), out, "size-0");
	ck_assert_int_eq(stat(p, &s1), 0);
	ck_assert_int_eq(s1.st_size, 0);            /* -u kept it */
	path_at(p, sizeof(p), out, "followed");
	ck_assert_int_eq(lstat(p, &s1), 0);
	ck_assert(S_ISREG(s1.st_mode) && s1.st_size == 1);
	/* Holes. */
	path_at(p, sizeof(p), src, "sparse");
	path_at(q, sizeof(q), out, "sparse-auto");
	ck_assert_uint_eq(fnv_file(p), fnv_file(q));
	ck_assert_int_eq(stat(q, &s2), 0);
	ck_assert_int_le(s2.st_blocks, 64);
	path_at(q, sizeof(q), out, "sparse-never");
	ck_assert_uint_eq(fnv_file(p), fnv_file(q));
	ck_assert_int_eq(stat(q, &s2), 0);
	ck_assert_int_ge(s2.st_blocks * 512, 64 * MiB);
	path_at(p, sizeof(p), src, "zeros");
	path_at(q, sizeof(q), out, "zeros-always");
	ck_assert_uint_eq(fnv_file(p), fnv_file(q));
	ck_assert_int_eq(stat(q, &s2), 0);
	ck_assert_int_le(s2.st_blocks * 512, 1 * MiB);
	path_at(p, sizeof(p), src, "size-1048577");
	path_at(q, sizeof(q), out, "direct");
	ck_assert_uint_eq(fnv_file(p), fnv_file(q));
	path_at(p, sizeof(p), src, "size-8388609");
	ck_assert_uint_eq(a.seen.sum, fnv_file(p));
	ck_assert_int_eq(count_temps(a.dir), 0);
	tmpdir_remove(a.dir);
}
END_TEST

/* ---- failures in a tree ------------------------------------------------ */

/* In a child that is not root (when we are): an unreadable file and an
 * unreadable directory are reported, the rest copied. */
static void unreadable_child(void *p)
{
	struct tree_arg *a = p;

	if (geteuid() == 0) {
		ck_assert_int_eq(setgid(65534), 0);
		ck_assert_int_eq(setuid(65534), 0);
	}
	lc_run(body_tree, a, NULL);
	ck_assert_int_eq(a->r, -EACCES);
	ck_assert(seen_has(&a->seen, UCO_COPY_OPEN_SRC, -EACCES));
	ck_assert(seen_has(&a->seen, UCO_COPY_OPEN_DIR, -EACCES));
	ck_assert_int_eq(a->st.errors, 2);
	ck_assert_int_eq(count_temps(a->dst), 0);
	/* The others are there, whole. */
	char p1[600], p2[600];
	path_at(p1, sizeof(p1), a->src, "readable");
	path_at(p2, sizeof(p2), a->dst, "readable");
	ck_assert_uint_eq(fnv_file(p1), fnv_file(p2));
	path_at(p2, sizeof(p2), a->dst, "secret");
	ck_assert_int_eq(access(p2, F_OK), -1);
}

START_TEST(unreadable)
{
	char dir[256];
	struct tree_arg a = { 0 };
	struct th_child_result res;

	tmpdir_make(dir, sizeof(dir));
	ck_assert_int_eq(chmod(dir, 0777), 0);
	snprintf(a.src, sizeof(a.src), "%s/src", dir);
	snprintf(a.dst, sizeof(a.dst), "%s/dst", dir);
	ck_assert_int_eq(mkdir(a.src, 0755), 0);
	char p[600];
	path_at(p, sizeof(p), a.src, "readable");
	write_at(AT_FDCWD, p, 200000, 0);
	path_at(p, sizeof(p), a.src, "secret");
	write_at(AT_FDCWD, p, 100, 0);
	ck_assert_int_eq(chmod(p, 0), 0);
	path_at(p, sizeof(p), a.src, "closed");
	ck_assert_int_eq(mkdir(p, 0), 0);
	a.seen.stop = 0; /* go on past errors */
	th_child(unreadable_child, &a, &res);
	ck_assert_msg(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
		      "child: status %d: %s", res.status, res.err);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(file_in_the_way)
{
	char dir[256], p[600];
	struct tree_arg a = { 0 };

	tmpdir_make(dir, sizeof(dir));
	snprintf(a.src, sizeof(a.src), "%s/src", dir);
	snprintf(a.dst, sizeof(a.dst), "%s/dst", dir);
	ck_assert_int_eq(mkdir(a.src, 0755), 0);
	ck_assert_int_eq(mkdir(a.dst, 0755), 0);
	path_at(p, sizeof(p), a.src, "sub");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	path_at(p, sizeof(p), a.src, "sub/f");
	write_at(AT_FDCWD, p, 10, 0);
	path_at(p, sizeof(p), a.src, "other");
	write_at(AT_FDCWD, p, 10, 0);
	path_at(p, sizeof(p), a.dst, "sub"); /* a file where a dir goes */
	write_at(AT_FDCWD, p, 3, 0);
	lc_run(body_tree, &a, NULL);
	ck_assert_int_eq(a.r, -ENOTDIR);
	ck_assert(seen_has(&a.seen, UCO_COPY_NOT_DIR, -ENOTDIR));
	ck_assert_msg(strstr(a.seen.path[0], "dst/sub") != NULL, "%s",
		      a.seen.path[0]);
	path_at(p, sizeof(p), a.dst, "other");
	ck_assert_int_eq(access(p, F_OK), 0);
	/* Stopping at the first error (on_error returns it). */
	a.seen = (struct seen){ .stop = -ENOTDIR };
	lc_run(body_tree, &a, NULL);
	ck_assert_int_eq(a.r, -ENOTDIR);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(into_itself)
{
	char dir[256], p[600];
	struct tree_arg a = { 0 };

	tmpdir_make(dir, sizeof(dir));
	snprintf(a.src, sizeof(a.src), "%s/src", dir);
	snprintf(a.dst, sizeof(a.dst), "%s/src/inner/copy", dir);
	ck_assert_int_eq(mkdir(a.src, 0755), 0);
	path_at(p, sizeof(p), a.src, "inner");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	path_at(p, sizeof(p), a.src, "f");
	write_at(AT_FDCWD, p, 10, 0);
	lc_run(body_tree, &a, NULL);
	/* The copy does not recurse into itself; it says so and ends. */
	ck_assert_int_eq(a.r, -EINVAL);
	ck_assert(seen_has(&a.seen, UCO_COPY_INTO_ITSELF, 0));
	tmpdir_remove(dir);
}
END_TEST

/* ---- cancellation and timeouts ------------------------------------------ */

struct cut_arg {
	struct tree_arg t;
	uco_copy_sparse sparse;
	uint64_t timeout;    /* a scope around the call, or 0 */
	bool file;           /* uco_copy_file instead */
	uint64_t wait_for;   /* the caller gives up after this (cancels) */
	int r;
};

static void *cut_copier(void *p)
{
	struct cut_arg *a = p;
	uco_copy_opts o = { .sparse = a->sparse, .on_error = seen_error,
			    .on_done = seen_done, .progress = seen_progress,
			    .arg = &a->t.seen };
	int s = a->timeout ? uco_timeout_begin(a->timeout) : -1;

	a->r = a->file ? uco_copy_file(a->t.src, a->t.dst, &o, &a->t.st)
		       : uco_copy_tree(a->t.src, a->t.dst, &o, &a->t.st);
	if (s >= 0)
		uco_timeout_end(s);
	return NULL;
}

static void body_cut(void *p)
{
	struct cut_arg *a = p;
	uco_task *t;

	a->t.seen.min_gap = UINT64_MAX;
	ck_assert_int_eq(uco_spawn(&t, cut_copier, a, NULL), 0);
	a->t.seen.victim = t;
	if (a->wait_for) {
		int w = uco_wait_for_task(t, a->wait_for, NULL);

		/* The copier is cancelled and joined; it returns normally
		 * (its copy got -ECANCELED), which is the outcome given. */
		ck_assert_int_eq(w, 0);
	}
	else
		ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
}

/* Every file under dst is whole (equal to its source), none temporary. */
static void check_no_partial(const struct cut_arg *a, const char *sub)
{
	char sd[600], dd[600];
	DIR *d;
	struct dirent *e;

	snprintf(sd, sizeof(sd), "%s%s", a->t.src, sub);
	snprintf(dd, sizeof(dd), "%s%s", a->t.dst, sub);
	ck_assert_int_eq(count_temps(a->t.dst), 0);
	d = opendir(dd);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char p1[900], p2[900];

		if (e->d_type != DT_REG)
			continue;
		path_at(p1, sizeof(p1), sd, e->d_name);
		path_at(p2, sizeof(p2), dd, e->d_name);
		ck_assert_uint_eq(fnv_file(p1), fnv_file(p2));
	}
	closedir(d);
}

/* A tree of many small files and a 4 GiB sparse file copied with holes
 * filled (no copy finishes that in the 100 ms before a progress call). */
static void gen_cut_tree(struct cut_arg *a, const char *dir)
{
	char p[600];

	snprintf(a->t.src, sizeof(a->t.src), "%s/src", dir);
	snprintf(a->t.dst, sizeof(a->t.dst), "%s/dst", dir);
	ck_assert_int_eq(mkdir(a->t.src, 0755), 0);
	path_at(p, sizeof(p), a->t.src, "d");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	for (int i = 0; i < 400; i++) {
		snprintf(p, sizeof(p), "%s/d/f%03d", a->t.src, i);
		write_at(AT_FDCWD, p, 1 + rnd() % 20000, 0);
	}
	path_at(p, sizeof(p), a->t.src, "huge");
	int fd = open(p, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4096 * MiB), 0);
	ck_assert_int_eq(pwrite(fd, "end", 3, 4096 * MiB - 3), 3);
	close(fd);
	a->sparse = UCO_SPARSE_NEVER;
}

START_TEST(cancel_mid_tree)
{
	char dir[256];
	struct cut_arg a = { 0 };

	tmpdir_make(dir, sizeof(dir));
	gen_cut_tree(&a, dir);
	a.t.seen.cancel_after = 100; /* entries done, then the cancel */
	lc_run(body_cut, &a, NULL);
	ck_assert_int_eq(a.r, -ECANCELED);
	ck_assert_int_ge(a.t.seen.done, 100);
	check_no_partial(&a, "");
	check_no_partial(&a, "/d");
	tmpdir_remove(dir);
}
END_TEST

START_TEST(cancel_mid_file)
{
	char dir[256];
	struct cut_arg a = { 0 };

	tmpdir_make(dir, sizeof(dir));
	gen_cut_tree(&a, dir);
	strcat(a.t.src, "/huge");
	strcat(a.t.dst, "-huge");
	a.file = true;
	a.t.seen.cancel_after = -1;
	a.t.seen.progress_calls = 0;
	/* Cancel at the second progress call, >= 100 ms in. */
	a.t.seen.cancel_after = 2;
	lc_run(body_cut, &a, NULL);
	ck_assert_int_eq(a.r, -ECANCELED);
	/* Lanes already past their cancel check may still report once. */
	ck_assert_int_ge(a.t.seen.progress_calls, 2);
	ck_assert_int_le(a.t.seen.progress_calls, 2 + 4);
	/* The callback is never called more often than every 100 ms. */
	ck_assert_uint_ge(a.t.seen.min_gap, 100 * MS);
	ck_assert_int_eq(access(a.t.dst, F_OK), -1);
	ck_assert_int_eq(count_temps(dir), 0);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(timeout_mid_tree)
{
	char dir[256];
	struct cut_arg a = { 0 };

	tmpdir_make(dir, sizeof(dir));
	gen_cut_tree(&a, dir);
	a.timeout = 300 * MS;
	lc_run(body_cut, &a, NULL);
	ck_assert_int_eq(a.r, -ETIMEDOUT);
	check_no_partial(&a, "");
	check_no_partial(&a, "/d");
	tmpdir_remove(dir);
}
END_TEST

/* A FIFO with no writer: the source's open blocks in an io-wq worker,
 * where a linked timeout does not reach; the scope still ends the copy,
 * and so does a cancel. */
START_TEST(timeout_blocked_open)
{
	char dir[256];
	struct cut_arg a = { 0 };

	tmpdir_make(dir, sizeof(dir));
	snprintf(a.t.src, sizeof(a.t.src), "%s/fifo", dir);
	snprintf(a.t.dst, sizeof(a.t.dst), "%s/out", dir);
	ck_assert_int_eq(mkfifo(a.t.src, 0644), 0);
	a.file = true;
	a.timeout = 100 * MS;
	lc_run(body_cut, &a, NULL);
	ck_assert_int_eq(a.r, -ETIMEDOUT);
	ck_assert_int_eq(access(a.t.dst, F_OK), -1);
	/* The same, cancelled: its caller gives up waiting (wait_for_task
	 * cancels and joins it). */
	a.timeout = 0;
	a.wait_for = 100 * MS;
	a.t.seen = (struct seen){ 0 };
	lc_run(body_cut, &a, NULL);
	ck_assert_int_eq(a.r, -ECANCELED);
	ck_assert_int_eq(count_temps(dir), 0);
	tmpdir_remove(dir);
}
END_TEST

START_TEST(outside_task)
{
	ck_assert_int_eq(uco_copy_file("/dev/null", "/tmp/x", NULL, NULL), -EPERM);
	ck_assert_int_eq(uco_copy_tree("/dev/null", "/tmp/x", NULL, NULL), -EPERM);
}
END_TEST

/* ---- loop-mounted filesystems ------------------------------------------ */

static char mnt[256];

/* Make an image of `mb` MiB with `mkfs` and mount it at mnt; false (and a
 * note) when this machine cannot. */
static bool mount_image(const char *mkfs, unsigned mb)
{
	char img[300], cmd[2000];

	/* Not ck_assert: this runs before the suite. */
	snprintf(mnt, sizeof(mnt), "%s/uco-copy-mnt-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp");
	if (!mkdtemp(mnt)) {
		perror("copy: mkdtemp");
		return false;
	}
	snprintf(img, sizeof(img), "%s.img", mnt);
	snprintf(cmd, sizeof(cmd),
		 "truncate -s %uM '%s' && %s '%s' >/dev/null 2>&1 && "
		 "mount -o loop '%s' '%s' 2>/dev/null",
		 mb, img, mkfs, img, img, mnt);
	if (system(cmd) != 0) {
		fprintf(stderr, "copy: cannot mount a %s image here: skipped\n",
			mkfs);
		unlink(img);
		rmdir(mnt);
		return false;
	}
	return true;
}

static void unmount_image(void)
{
	char cmd[1000];

	snprintf(cmd, sizeof(cmd), "umount '%s' && rm -rf '%s' '%s.img'", mnt,
		 mnt, mnt);
	if (system(cmd) != 0)
		fprintf(stderr, "copy: could not unmount %s\n", mnt);
}

START_TEST(enospc)
{
	char dir[256], p[600];
	struct tree_arg a = { 0 };

	tmpdir_make(dir, sizeof(dir));
	snprintf(a.src, sizeof(a.src), "%s/src", dir);
	snprintf(a.dst, sizeof(a.dst), "%s/dst", mnt);
	ck_assert_int_eq(mkdir(a.src, 0755), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(p, sizeof(p), "%s/small%02d", a.src, i);
		write_at(AT_FDCWD, p, 1000, 0);
	}
	path_at(p, sizeof(p), a.src, "toobig");
	write_at(AT_FDCWD, p, 24 * MiB, 0);
	lc_run(body_tree, &a, NULL);
	ck_assert_int_eq(a.r, -ENOSPC);
	ck_assert(seen_has(&a.seen, UCO_COPY_WRITE, -ENOSPC));
	path_at(p, sizeof(p), a.dst, "toobig");
	ck_assert_int_eq(access(p, F_OK), -1); /* no partial file */
	ck_assert_int_eq(count_temps(mnt), 0);
	struct cut_arg c = { .t = a };
	check_no_partial(&c, "");
	tmpdir_remove(dir);
}
END_TEST

static void body_reflink(void *p)
{
	struct file_arg *a = p;
	uco_copy_opts o = { .reflink = UCO_REFLINK_ALWAYS, .on_error = seen_error,
			    .arg = &a->seen };
	uco_copy_stats st;
	char s1[600], d1[600];

	path_at(s1, sizeof(s1), a->dir, "src/f");
	path_at(d1, sizeof(d1), a->dir, "out/f");
	ck_assert_int_eq(uco_copy_file(s1, d1, &o, &st), 0);
	ck_assert_uint_eq(st.reflinked, 1);
	ck_assert_uint_eq(st.bytes, 10 * MiB + 7);
	/* A tree, reflink=auto (the default) clones too. */
	path_at(s1, sizeof(s1), a->dir, "src");
	path_at(d1, sizeof(d1), a->dir, "tree");
	o.reflink = UCO_REFLINK_AUTO;
	ck_assert_int_eq(uco_copy_tree(s1, d1, &o, &st), 0);
	ck_assert_uint_eq(st.reflinked, 1);
	/* never: the data is copied. */
	path_at(d1, sizeof(d1), a->dir, "out/g");
	path_at(s1, sizeof(s1), a->dir, "src/f");
	o.reflink = UCO_REFLINK_NEVER;
	ck_assert_int_eq(uco_copy_file(s1, d1, &o, &st), 0);
	ck_assert_uint_eq(st.reflinked, 0);
	ck_assert_int_eq(a->seen.nerr, 0);
}

START_TEST(reflink)
{
	char p[600], q[600];
	struct file_arg a = { 0 };

	snprintf(a.dir, sizeof(a.dir), "%s", mnt);
	path_at(p, sizeof(p), mnt, "src");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	path_at(p, sizeof(p), mnt, "out");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	path_at(p, sizeof(p), mnt, "src/f");
	write_at(AT_FDCWD, p, 10 * MiB + 7, 0);
	lc_run(body_reflink, &a, NULL);
	path_at(q, sizeof(q), mnt, "out/f");
	ck_assert_uint_eq(fnv_file(p), fnv_file(q));
	path_at(q, sizeof(q), mnt, "tree/f");
	ck_assert_uint_eq(fnv_file(p), fnv_file(q));
	path_at(q, sizeof(q), mnt, "out/g");
	ck_assert_uint_eq(fnv_file(p), fnv_file(q));
	ck_assert_int_eq(count_temps(mnt), 0);
}
END_TEST

static Suite *copy_suite(const char *which)
{
	Suite *s = suite_create("copy");
	TCase *tc = tcase_create("copy");

	tcase_set_timeout(tc, 600);
	if (!strcmp(which, "enospc")) {
		tcase_add_test(tc, enospc);
	} else if (!strcmp(which, "reflink")) {
		tcase_add_test(tc, reflink);
	} else {
		tcase_add_test(tc, tree_archive);
		tcase_add_test(tc, tree_plain);
		tcase_add_test(tc, files);
		tcase_add_test(tc, unreadable);
		tcase_add_test(tc, file_in_the_way);
		tcase_add_test(tc, into_itself);
		tcase_add_test(tc, cancel_mid_tree);
		tcase_add_test(tc, cancel_mid_file);
		tcase_add_test(tc, timeout_mid_tree);
		tcase_add_test(tc, timeout_blocked_open);
		tcase_add_test(tc, outside_task);
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	const char *which = argc > 1 ? argv[1] : "";
	int r;

	if (!strcmp(which, "enospc") && !mount_image("mkfs.ext4 -q -F", 8))
		return 77;
	if (!strcmp(which, "reflink") && !mount_image("mkfs.btrfs -q -f", 128))
		return 77;
	r = th_main_run(copy_suite(which));
	if (*which)
		unmount_image();
	return r;
}
