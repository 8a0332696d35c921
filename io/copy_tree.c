/*
 * The copy engine's tree side (see uco/copy.h): one walker task reads the
 * source directories depth first (getdents64 on the offload pool, a
 * 32 KiB buffer per level), makes each destination directory as it goes,
 * and puts every other entry on a bounded queue; `jobs` worker tasks take
 * entries off it and copy them, so walking overlaps copying and a full
 * queue holds the walker back (that is what bounds memory).  A directory
 * keeps its two fds while anything in it is in flight, and gets its
 * metadata (mode, times...) when the last of it is done.
 *
 * All of it runs in a task group; the public calls wait for the group, so
 * a cancel or an expired timeout scope of the caller cancels and joins
 * every task, each removing its temporary file on the way out.
 */

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <uco/event.h>
#include <uco/file.h>
#include <uco/offload.h>
#include <uco/queue.h>
#include <uco/task.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "copy_impl.h"

#define DENTS_BUF (32u << 10)

/* ---- directories -------------------------------------------------------- */

/* A node for a directory opened as (sfd, dfd); takes a reference on the
 * parent.  The caller's reference is the one returned. */
static struct cp_dir *dir_new(struct cp_dir *parent, const char *sname,
			      const char *dname)
{
	size_t sl = strlen(sname) + 1;
	size_t dl = strcmp(sname, dname) ? strlen(dname) + 1 : 0;
	struct cp_dir *d = uco__zalloc(sizeof(*d) + sl + dl);

	if (!d)
		return NULL;
	memcpy(d->names, sname, sl);
	d->sname = d->names;
	d->dname = d->names;
	if (dl) {
		memcpy(d->names + sl, dname, dl);
		d->dname = d->names + sl;
	}
	d->parent = parent;
	d->refs = 1;
	d->sfd = d->dfd = -1;
	if (parent)
		parent->refs++;
	return d;
}

/* Drop a reference; the last one applies the directory's metadata (its
 * contents are done) and closes it, then drops its parent's. */
static void dir_put(struct cp_ctx *cx, struct cp_dir *d)
{
	while (d && --d->refs == 0) {
		struct cp_dir *parent = d->parent;

		if (d->meta && !cx->stop_err && !uco_cancelling())
			uco__copy_meta(cx, d->dfd, d->sfd, -1, d->dname, &d->st,
				       parent, d->sname, true,
				       d->created &&
					       (d->st.stx_mode & 0700) != 0700);
		uco__copy_close(d->sfd);
		uco__copy_close(d->dfd);
		uco__free_unsized(d->sprefix);
		uco__free_unsized(d->dprefix);
		uco__free_unsized(d);
		d = parent;
	}
}

/* ---- the queue, the workers --------------------------------------------- */

struct cp_run {
	struct cp_ctx *cx;
	uco_queue *q;
	struct cp_dir *proot;
	const char *sname, *dname; /* the root entry */
	bool file_only;
	unsigned workers_live;
};

static void job_free(struct cp_ctx *cx, struct cp_job *j)
{
	dir_put(cx, j->d);
	uco__free_unsized(j->dname);
	uco__free_unsized(j);
}

static void job_drop(void *item, void *ctx)
{
	job_free(ctx, item);
}

static int job_put(struct cp_run *run, struct cp_dir *d, const char *name,
		   const char *dname, unsigned char type, bool follow)
{
	size_t len = strlen(name) + 1;
	struct cp_job *j = uco__alloc(sizeof(*j) + len);
	int r;

	if (!j)
		return -ENOMEM;
	memcpy(j->name, name, len);
	j->type = type;
	j->follow = follow;
	j->dname = NULL;
	if (dname && strcmp(dname, name)) {
		j->dname = uco__alloc(strlen(dname) + 1);
		if (!j->dname) {
			uco__free_unsized(j);
			return -ENOMEM;
		}
		strcpy(j->dname, dname);
	}
	j->d = d;
	d->refs++;
	r = uco_queue_put(run->q, j);
	if (r < 0)
		job_free(run->cx, j);
	return r;
}

static void *worker_task(void *arg)
{
	struct cp_run *run = arg;
	struct cp_ctx *cx = run->cx;
	char *buf = mmap(NULL, cx->o.chunk_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r = 0;

	if (buf == MAP_FAILED)
		r = -ENOMEM;
	while (r == 0) {
		void *item;

		r = uco_queue_get(run->q, &item);
		if (r == -ESHUTDOWN) {
			r = 0;
			break;
		}
		if (r < 0)
			break;
		r = uco__copy_entry(cx, item, buf);
		job_free(cx, item);
		if (cx->stop_err && r == 0)
			r = cx->stop_err;
	}
	if (buf != MAP_FAILED)
		munmap(buf, cx->o.chunk_size);
	/* The last worker out stops the counting walk: the copy is over. */
	if (--run->workers_live == 0 && cx->scan)
		atomic_store(&cx->scan->stop, true);
	return r < 0 ? uco_fail(r) : NULL;
}

/* ---- the walker ----------------------------------------------------------- */

struct frame {
	struct frame *up;
	struct cp_dir *d;
	size_t pos, len;
	char buf[DENTS_BUF];
};

/* A source directory: make (or merge into) its destination, open both,
 * and return its frame (NULL with nothing to walk, *stop set to stop). */
static struct frame *enter_dir(struct cp_run *run, struct cp_dir *parent,
			       const char *sname, const char *dname,
			       const struct statx *st, bool root, int *stop)
{
	struct cp_ctx *cx = run->cx;
	struct cp_dir *d;
	struct statx dst;
	struct frame *f;
	bool created;
	int r;

	*stop = 0;
	if (cx->have_droot && makedev(st->stx_dev_major, st->stx_dev_minor) ==
				      cx->droot_dev &&
	    st->stx_ino == cx->droot_ino) {
		*stop = uco__copy_report(cx, UCO_COPY_INTO_ITSELF, -EINVAL,
					 parent, sname, dname);
		return NULL;
	}
	r = uco_mkdirat(parent->dfd, dname, (st->stx_mode & 07777) | S_IRWXU);
	created = r == 0;
	if (r == -EEXIST) {
		r = uco_statx(parent->dfd, dname, 0, STATX_TYPE, &dst);
		if (r == 0 && !S_ISDIR(dst.stx_mode)) {
			*stop = uco__copy_report(cx, UCO_COPY_NOT_DIR, -ENOTDIR,
						 parent, sname, dname);
			return NULL;
		}
	}
	if (r < 0) {
		*stop = uco__copy_report(cx, UCO_COPY_MKDIR, r, parent, sname,
					 dname);
		return NULL;
	}
	d = dir_new(parent, sname, dname);
	f = uco__alloc(sizeof(*f));
	if (!d || !f) {
		uco__free_unsized(f);
		if (d)
			dir_put(cx, d);
		*stop = uco__copy_report(cx, UCO_COPY_MKDIR, -ENOMEM, parent,
					 sname, dname);
		return NULL;
	}
	d->st = *st;
	d->created = created;
	d->meta = (cx->o.flags & (UCO_COPY_PRESERVE_MODE | UCO_COPY_PRESERVE_OWNER |
				  UCO_COPY_PRESERVE_TIMES | UCO_COPY_PRESERVE_XATTR)) ||
		  (created && (st->stx_mode & 0700) != 0700);
	d->sfd = uco_openat(parent->sfd, sname,
			    O_RDONLY | O_DIRECTORY | (root && (cx->o.flags &
							       UCO_COPY_FOLLOW_ROOT)
							      ? 0
							      : O_NOFOLLOW),
			    0);
	if (d->sfd < 0) {
		r = d->sfd;
		*stop = uco__copy_report(cx, UCO_COPY_OPEN_DIR, r, parent, sname,
					 dname);
		goto fail;
	}
	d->dfd = uco_openat(parent->dfd, dname, O_RDONLY | O_DIRECTORY, 0);
	if (d->dfd < 0) {
		r = d->dfd;
		*stop = uco__copy_report(cx, UCO_COPY_MKDIR, r, parent, sname,
					 dname);
		goto fail;
	}
	if (root && uco_statx(d->dfd, "", AT_EMPTY_PATH, STATX_INO, &dst) == 0) {
		cx->droot_dev = makedev(dst.stx_dev_major, dst.stx_dev_minor);
		cx->droot_ino = dst.stx_ino;
		cx->have_droot = true;
	}
	if (created) {
		cx->st->dirs++;
		uco__copy_done(cx, parent, sname, dname, 'd', false, 0);
	}
	f->d = d;
	f->pos = f->len = 0;
	f->up = NULL;
	return f;
fail:
	d->meta = false;
	dir_put(cx, d);
	uco__free_unsized(f);
	return NULL;
}

static void *walker_task(void *arg)
{
	struct cp_run *run = arg;
	struct cp_ctx *cx = run->cx;
	bool follow = cx->o.flags & UCO_COPY_FOLLOW_ROOT;
	struct frame *top = NULL;
	struct statx st;
	int r, stop = 0;

	/* The root entry. */
	r = uco_statx(run->proot->sfd, run->sname,
		      follow ? 0 : AT_SYMLINK_NOFOLLOW, CP_STATX_MASK, &st);
	if (r < 0) {
		stop = uco__copy_report(cx, UCO_COPY_STAT, r, run->proot,
					run->sname, run->dname);
		goto out;
	}
	if (!S_ISDIR(st.stx_mode)) {
		/* uco_copy_file reads whatever it is given (a FIFO, a
		 * device) as cp does; a tree makes it anew. */
		stop = job_put(run, run->proot, run->sname, run->dname,
			       S_ISREG(st.stx_mode) || run->file_only
				       ? DT_REG
				       : DT_UNKNOWN,
			       follow);
		goto out;
	}
	if (run->file_only) {
		stop = -EISDIR;
		goto out;
	}
	top = enter_dir(run, run->proot, run->sname, run->dname, &st, true,
			&stop);
	while (top && !stop) {
		struct frame *f = top;

		if (f->pos >= f->len) {
			long n = uco__copy_getdents(f->d->sfd, f->buf,
						    sizeof(f->buf));

			if (n <= 0) {
				if (n < 0)
					stop = uco__copy_report(
						cx, UCO_COPY_READ_DIR, (int)n,
						f->d->parent, f->d->sname,
						f->d->dname);
				top = f->up;
				dir_put(cx, f->d);
				uco__free(f, sizeof(*f));
				continue;
			}
			f->pos = 0;
			f->len = (size_t)n;
		}
		struct dirent64 *e = (struct dirent64 *)(f->buf + f->pos);
		f->pos += e->d_reclen;
		const char *name = e->d_name;

		if (name[0] == '.' &&
		    (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		unsigned char type = e->d_type;

		if (type == DT_UNKNOWN || type == DT_DIR) {
			r = uco_statx(f->d->sfd, name, AT_SYMLINK_NOFOLLOW,
				      CP_STATX_MASK, &st);
			if (r < 0) {
				stop = uco__copy_report(cx, UCO_COPY_STAT, r,
							f->d, name, name);
				continue;
			}
			if (S_ISDIR(st.stx_mode)) {
				struct frame *c = enter_dir(run, f->d, name, name,
							    &st, false, &stop);

				if (c) {
					c->up = top;
					top = c;
				}
				continue;
			}
			type = S_ISREG(st.stx_mode) ? DT_REG : DT_UNKNOWN;
		}
		stop = job_put(run, f->d, name, NULL, type, false);
	}
out:
	while (top) {
		struct frame *f = top;

		top = f->up;
		dir_put(cx, f->d);
		uco__free(f, sizeof(*f));
	}
	/* The workers finish what is queued, then see -ESHUTDOWN. */
	uco_queue_shutdown(run->q, false);
	if (!stop && cx->stop_err)
		stop = cx->stop_err;
	return stop < 0 ? uco_fail(stop) : NULL;
}

/* ---- the public calls ----------------------------------------------------- */

/* Split "a/b/c/" into the prefix "a/b/" and the name "c" (trailing slashes
 * dropped).  "/" and names like "." and ".." are kept as they are. */
static int split(const char *path, char **prefix, char **name)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	size_t base = len;
	while (base > 0 && path[base - 1] != '/')
		base--;
	if (base == len) /* "/" */
		base = 0;
	*prefix = uco__alloc(base + 1);
	*name = uco__alloc(len - base + 1);
	if (!*prefix || !*name) {
		uco__free_unsized(*prefix);
		uco__free_unsized(*name);
		return -ENOMEM;
	}
	memcpy(*prefix, path, base);
	(*prefix)[base] = 0;
	memcpy(*name, path + base, len - base);
	(*name)[len - base] = 0;
	return 0;
}

/* The umask, without changing it (umask(2) would, for every thread). */
static unsigned read_umask(void)
{
	char buf[2048];
	int fd = uco_open("/proc/self/status", O_RDONLY, 0);
	ssize_t n = fd < 0 ? fd : uco_read(fd, buf, sizeof(buf) - 1, 0);
	unsigned m = 022;

	if (fd >= 0)
		uco__copy_close(fd);
	if (n > 0) {
		buf[n] = 0;
		char *p = strstr(buf, "Umask:");

		if (p)
			m = (unsigned)strtoul(p + 6, NULL, 8);
	}
	return m;
}

static int run_copy(const char *src, const char *dst, const uco_copy_opts *opts,
		    uco_copy_stats *stats, bool file_only)
{
	uco_copy_stats local;
	struct cp_ctx cx;
	struct cp_run run = { .cx = &cx, .file_only = file_only };
	char *sprefix = NULL, *sname = NULL, *dprefix = NULL, *dname = NULL;
	struct statx tmp;
	uco_group *g = NULL;
	int r;

	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (!uco_current())
		return -EPERM;
	if (!src || !dst)
		return -EFAULT;
	if (!*src || !*dst)
		return -ENOENT;
	memset(&cx, 0, sizeof(cx));
	if (opts)
		cx.o = *opts;
	if (!cx.o.jobs)
		cx.o.jobs = 16;
	if (!cx.o.chunks)
		cx.o.chunks = 4;
	if (!cx.o.chunk_size)
		cx.o.chunk_size = 128u << 10;
	if (!cx.o.big_chunk)
		cx.o.big_chunk = 1u << 20;
	if (!cx.o.queue_depth)
		cx.o.queue_depth = 256;
	if (cx.o.jobs > 1024 || cx.o.chunks > 64 ||
	    cx.o.chunk_size % 4096 || cx.o.big_chunk % 4096 ||
	    cx.o.chunk_size > (64u << 20) || cx.o.big_chunk > (64u << 20) ||
	    (unsigned)cx.o.reflink > UCO_REFLINK_ALWAYS ||
	    (unsigned)cx.o.sparse > UCO_SPARSE_NEVER)
		return -EINVAL;
	if (file_only) {
		cx.o.flags |= UCO_COPY_FOLLOW_ROOT;
		cx.o.jobs = 1;
	}
	cx.st = stats;
	cx.t0 = cx.last_progress = uco_now();
	cx.root = geteuid() == 0;
	cx.umask = read_umask();
	cx.has_ftruncate = uco__copy_probe();
	cx.use_tmpfile = uco_statx(AT_FDCWD, "/proc/self/fd", 0, STATX_TYPE,
				   &tmp) == 0;
	uco_sem_init(&cx.big, 2);
	r = split(src, &sprefix, &sname);
	if (r == 0)
		r = split(dst, &dprefix, &dname);
	if (r < 0)
		goto out;
	run.proot = dir_new(NULL, "", "");
	if (!run.proot) {
		r = -ENOMEM;
		goto out;
	}
	run.proot->sprefix = sprefix;
	run.proot->dprefix = dprefix;
	sprefix = dprefix = NULL;
	run.sname = sname;
	run.dname = dname;
	if (cx.o.flags & UCO_COPY_PRESERVE_LINKS) {
		r = uco__copy_links_new(&cx.links);
		if (r < 0)
			goto out;
	}
	/* The roots' parents, as O_PATH fds (search permission is enough). */
	r = uco_open(*run.proot->sprefix ? run.proot->sprefix : ".",
		     O_PATH | O_DIRECTORY, 0);
	if (r < 0) {
		uco__copy_report(&cx, UCO_COPY_STAT, r, run.proot, sname, dname);
		goto out;
	}
	run.proot->sfd = r;
	r = uco_open(*run.proot->dprefix ? run.proot->dprefix : ".",
		     O_PATH | O_DIRECTORY, 0);
	if (r < 0) {
		bool dir = uco_statx(AT_FDCWD, src, 0, STATX_TYPE, &tmp) == 0 &&
			   S_ISDIR(tmp.stx_mode) && !file_only;

		uco__copy_report(&cx, dir ? UCO_COPY_MKDIR : UCO_COPY_CREATE, r,
				 run.proot, sname, dname);
		goto out;
	}
	run.proot->dfd = r;
	if (cx.o.flags & UCO_COPY_COUNT) {
		cx.scan = calloc(1, sizeof(*cx.scan));
		if (cx.scan)
			cx.scan->root = strdup(src);
		if (cx.scan && !cx.scan->root) {
			free(cx.scan);
			cx.scan = NULL;
		}
	}
	uco_queue_opts qo = { .maxsize = cx.o.queue_depth, .drop = job_drop,
			      .drop_ctx = &cx };
	r = uco_queue_create(&run.q, &qo);
	if (r == 0)
		r = uco_group_create(&g);
	if (r < 0) {
		if (cx.scan)
			uco__copy_scan_free(cx.scan);
		cx.scan = NULL;
		goto out;
	}
	uco_spawn_opts so = { .name = "ucp-walk" };
	r = uco_group_spawn(g, NULL, walker_task, &run, &so);
	so.name = "ucp-copy";
	for (unsigned i = 0; i < cx.o.jobs && r == 0; i++) {
		r = uco_group_spawn(g, NULL, worker_task, &run, &so);
		if (r == 0)
			run.workers_live++;
	}
	if (r == 0 && cx.scan) {
		so.name = "ucp-count";
		r = uco_group_spawn(g, NULL, uco__copy_scan_task, &cx, &so);
	}
	if (r < 0) {
		if (cx.scan && !run.workers_live) {
			uco__copy_scan_free(cx.scan);
			cx.scan = NULL;
		} else if (cx.scan) {
			atomic_store(&cx.scan->stop, true);
		}
		uco_group_cancel(g);
	}
	/* Cancelled or timed out here: the group cancels and joins every
	 * task first, and each cleans up after itself. */
	int w = uco_group_wait(g);
	if (r == 0)
		r = w;
	if (r < 0 && !cx.stop_err)
		cx.stop_err = r; /* no directory metadata after a stop */
	uco_group_free(g);
	if (cx.scan) { /* never started */
		uco__copy_scan_free(cx.scan);
		cx.scan = NULL;
	}
	uco_queue_free(run.q); /* drops what was never taken (a stop) */
	/* The caller's own cancel or timeout wins; then what stopped the
	 * copy; then the first error gone past. */
	if (w != -ECANCELED && w != -ETIMEDOUT && cx.stop_err)
		r = cx.stop_err;
out:
	if (run.proot)
		dir_put(&cx, run.proot);
	uco__copy_links_free(cx.links);
	while (cx.nbigfree)
		munmap(cx.bigfree[--cx.nbigfree], cx.o.big_chunk);
	uco_sem_destroy(&cx.big);
	uco__free_unsized(sprefix);
	uco__free_unsized(dprefix);
	uco__free_unsized(sname);
	uco__free_unsized(dname);
	stats->elapsed_ns = uco_now() - cx.t0;
	if (r == 0 && cx.first_err)
		r = cx.first_err;
	return r;
}

UCO_API int uco_copy_file(const char *src, const char *dst,
			  const uco_copy_opts *opts, uco_copy_stats *stats)
{
	return run_copy(src, dst, opts, stats, true);
}

UCO_API int uco_copy_tree(const char *src, const char *dst,
			  const uco_copy_opts *opts, uco_copy_stats *stats)
{
	return run_copy(src, dst, opts, stats, false);
}

