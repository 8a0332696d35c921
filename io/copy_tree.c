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

/* ---- paths for messages ------------------------------------------------- */

static char *path_build(const struct cp_dir *d, const char *name, bool dst,
			bool prefix)
{
	const struct cp_dir *p;
	size_t len = strlen(name) + 1, at;
	char *s;

	for (p = d; p->parent; p = p->parent)
		len += strlen(dst ? p->dname : p->sname) + 1;
	const char *pre = prefix ? (dst ? p->dprefix : p->sprefix) : "";
	len += strlen(pre);
	s = uco__alloc(len);
	if (!s)
		return NULL;
	at = len - 1;
	s[at] = 0;
	at -= strlen(name);
	memcpy(s + at, name, strlen(name));
	for (p = d; p->parent; p = p->parent) {
		const char *n = dst ? p->dname : p->sname;

		s[--at] = '/';
		at -= strlen(n);
		memcpy(s + at, n, strlen(n));
	}
	memcpy(s, pre, strlen(pre));
	return s;
}

char *uco__copy_path(const struct cp_dir *d, const char *name, bool dst)
{
	return path_build(d, name, dst, true);
}

int uco__copy_report(struct cp_ctx *cx, uco_copy_step step, int err,
		     const struct cp_dir *d, const char *sname,
		     const char *dname)
{
	uco_copy_error e = { .step = step, .err = err };
	int r = err;

	if (err == -ECANCELED)
		return err; /* being stopped is not an error of this entry */
	if (cx->o.on_error) {
		char *s = uco__copy_path(d, sname, false);
		char *t = uco__copy_path(d, dname, true);

		e.src = s ? s : sname;
		e.dst = t ? t : dname;
		r = cx->o.on_error(&e, cx->o.arg);
		uco__free_unsized(s);
		uco__free_unsized(t);
	}
	if (step == UCO_COPY_NOTE_DIRECT)
		return 0;
	cx->st->errors++;
	if (!cx->first_err)
		cx->first_err = err;
	if (r < 0 && !cx->stop_err)
		cx->stop_err = r;
	return r < 0 ? r : 0;
}

void uco__copy_done(struct cp_ctx *cx, const struct cp_dir *d,
		    const char *sname, const char *dname, char kind,
		    bool have_sum, uint64_t sum)
{
	if (!cx->o.on_done)
		return;
	char *s = uco__copy_path(d, sname, false);
	char *t = uco__copy_path(d, dname, true);
	uco_copy_event e = { .src = s ? s : sname, .dst = t ? t : dname,
			     .kind = kind, .have_sum = have_sum, .sum = sum };

	cx->o.on_done(&e, cx->o.arg);
	uco__free_unsized(s);
	uco__free_unsized(t);
}

/* ---- the walk alongside that counts the totals (UCO_COPY_COUNT) ---------- */

struct cp_scan {
	atomic_uint_fast64_t files, bytes;
	atomic_bool stop, done;
	char *root;
};

/* On a pool thread: an openat/getdents walk of its own, depth first with
 * an explicit stack (nesting is not bounded by PATH_MAX). */
static void *scan_run(void *arg)
{
	struct cp_scan *sc = arg;
	DIR **stack = NULL;
	size_t n = 0, cap = 0;
	struct stat sb;
	int fd = open(sc->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		if (stat(sc->root, &sb) == 0 && S_ISREG(sb.st_mode)) {
			atomic_fetch_add(&sc->files, 1);
			atomic_fetch_add(&sc->bytes, (uint64_t)sb.st_size);
		}
		goto out;
	}
	DIR *top = fdopendir(fd);
	if (!top) {
		close(fd);
		goto out;
	}
	cap = 64;
	stack = malloc(cap * sizeof(*stack));
	if (!stack) {
		closedir(top);
		goto out;
	}
	stack[n++] = top;
	while (n && !atomic_load(&sc->stop)) {
		struct dirent *e = readdir(stack[n - 1]);

		if (!e) {
			closedir(stack[--n]);
			continue;
		}
		if (e->d_name[0] == '.' &&
		    (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (fstatat(dirfd(stack[n - 1]), e->d_name, &sb,
			    AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(sb.st_mode)) {
			atomic_fetch_add(&sc->files, 1);
			atomic_fetch_add(&sc->bytes, (uint64_t)sb.st_size);
		} else if (S_ISDIR(sb.st_mode)) {
			int cfd = openat(dirfd(stack[n - 1]), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);
			DIR *c = cfd < 0 ? NULL : fdopendir(cfd);

			if (!c) {
				if (cfd >= 0)
					close(cfd);
				continue;
			}
			if (n == cap) {
				DIR **ns = realloc(stack, 2 * cap * sizeof(*ns));

				if (!ns) {
					closedir(c);
					continue;
				}
				stack = ns;
				cap *= 2;
			}
			stack[n++] = c;
		}
	}
	while (n)
		closedir(stack[--n]);
	free(stack);
out:
	atomic_store(&sc->done, true);
	return NULL;
}

static void scan_free(struct cp_scan *sc)
{
	free(sc->root);
	free(sc);
}

static void scan_cleanup(void *arg, void *result)
{
	(void)result;
	scan_free(arg);
}

static void *scan_task(void *arg)
{
	struct cp_ctx *cx = arg;
	struct cp_scan *sc = cx->scan;
	int r = uco_to_thread(scan_run, sc, NULL, scan_cleanup);

	/* Either way the totals stop here; after an error the pool thread
	 * still owns sc (scan_cleanup frees it), so tell it to stop. */
	cx->st->files_total = atomic_load(&sc->files);
	cx->st->bytes_total = atomic_load(&sc->bytes);
	cx->scan = NULL;
	if (r < 0) {
		atomic_store(&sc->stop, true);
		return uco_fail(r);
	}
	cx->st->total_final = atomic_load(&sc->done) && !atomic_load(&sc->stop);
	scan_free(sc);
	return NULL;
}

void uco__copy_progress(struct cp_ctx *cx)
{
	uint64_t now;

	if (!cx->o.progress)
		return;
	now = uco_now();
	if (now - cx->last_progress < 100 * UCO_NSEC_PER_MSEC)
		return;
	cx->last_progress = now;
	if (cx->scan) {
		cx->st->files_total = atomic_load(&cx->scan->files);
		cx->st->bytes_total = atomic_load(&cx->scan->bytes);
		cx->st->total_final = atomic_load(&cx->scan->done);
	}
	cx->st->elapsed_ns = now - cx->t0;
	cx->o.progress(cx->st, cx->o.arg);
}

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

/* ---- hard links within the tree (PRESERVE_LINKS) ------------------------ */

struct cp_link {
	struct cp_link *next;
	uint64_t dev, ino;
	char *rel;        /* the first copy, relative to the pseudo-root */
	int state;        /* 0 being copied, 1 in place, -1 failed */
	uco_event done;
};

struct cp_links {
	struct cp_link **b;
	size_t nb, n;
};

static struct cp_link **link_slot(struct cp_links *t, uint64_t dev,
				  uint64_t ino)
{
	size_t h = (size_t)((ino * 0x9e3779b97f4a7c15ull) ^ dev) & (t->nb - 1);
	struct cp_link **pp = &t->b[h];

	while (*pp && ((*pp)->dev != dev || (*pp)->ino != ino))
		pp = &(*pp)->next;
	return pp;
}

static int links_grow(struct cp_links *t)
{
	size_t nb = t->nb ? t->nb * 2 : 256;
	struct cp_link **b = uco__zalloc(nb * sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->nb; i++)
		for (struct cp_link *l = t->b[i], *nx; l; l = nx) {
			size_t h = (size_t)((l->ino * 0x9e3779b97f4a7c15ull) ^
					    l->dev) & (nb - 1);

			nx = l->next;
			l->next = b[h];
			b[h] = l;
		}
	uco__free(t->b, t->nb * sizeof(*t->b));
	t->b = b;
	t->nb = nb;
	return 0;
}

static void links_free(struct cp_links *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nb; i++)
		for (struct cp_link *l = t->b[i], *nx; l; l = nx) {
			nx = l->next;
			uco_event_destroy(&l->done);
			uco__free_unsized(l->rel);
			uco__free(l, sizeof(*l));
		}
	uco__free(t->b, t->nb * sizeof(*t->b));
	uco__free(t, sizeof(*t));
}

/* Link (d, dname) to the first copy, replacing what is there (a temporary
 * name and a rename) unless NO_CLOBBER.  0, 1 (kept out) or an error. */
static int link_to(struct cp_ctx *cx, struct cp_dir *root, const char *rel,
		   struct cp_dir *d, const char *dname)
{
	char tmp[64];
	int r = uco__copy_linkat(root->dfd, rel, d->dfd, dname, 0);

	if (r != -EEXIST)
		return r;
	if (cx->o.flags & UCO_COPY_NO_CLOBBER)
		return 1;
	snprintf(tmp, sizeof(tmp), ".ucp-%x-%x", (unsigned)getpid(),
		 ++cx->tmp_seq);
	r = uco__copy_linkat(root->dfd, rel, d->dfd, tmp, 0);
	if (r < 0)
		return r;
	r = uco_renameat(d->dfd, tmp, d->dfd, dname, 0);
	if (r < 0)
		uco__copy_unlink(d->dfd, tmp, 0);
	return r;
}

/* ---- one entry ---------------------------------------------------------- */

struct cp_job {
	struct cp_dir *d;
	unsigned char type; /* DT_* from getdents, or from the root's statx */
	bool follow;        /* the root of uco_copy_file: follow a symlink */
	char *dname;        /* differs from name only at the root */
	char name[];
};

static struct cp_dir *pseudo_root(struct cp_dir *d)
{
	while (d->parent)
		d = d->parent;
	return d;
}

/* Skip for NO_CLOBBER / UPDATE?  1 = skip. */
static int keep_existing(struct cp_ctx *cx, struct cp_dir *d,
			 const char *dname, const struct statx *sst)
{
	struct statx dst;
	int r;

	if (!(cx->o.flags & (UCO_COPY_NO_CLOBBER | UCO_COPY_UPDATE)))
		return 0;
	r = uco_statx(d->dfd, dname, AT_SYMLINK_NOFOLLOW, STATX_MTIME, &dst);
	if (r < 0)
		return r == -ECANCELED ? r : 0;
	if (cx->o.flags & UCO_COPY_NO_CLOBBER)
		return 1;
	return dst.stx_mtime.tv_sec > sst->stx_mtime.tv_sec ||
	       (dst.stx_mtime.tv_sec == sst->stx_mtime.tv_sec &&
		dst.stx_mtime.tv_nsec >= sst->stx_mtime.tv_nsec);
}

static int copy_symlink(struct cp_ctx *cx, struct cp_dir *d, const char *sname,
			const char *dname, const struct statx *st)
{
	char target[PATH_MAX + 1], tmp[64];
	long n = uco__copy_readlink(d->sfd, sname, target, sizeof(target) - 1);
	int r;

	if (n < 0)
		return uco__copy_report(cx, UCO_COPY_READLINK, (int)n, d, sname,
					dname);
	target[n] = 0;
	r = uco__copy_symlinkat(target, d->dfd, dname);
	if (r == -EEXIST && !(cx->o.flags & UCO_COPY_NO_CLOBBER)) {
		/* Replace atomically: a temporary name, renamed over. */
		snprintf(tmp, sizeof(tmp), ".ucp-%x-%x", (unsigned)getpid(),
			 ++cx->tmp_seq);
		r = uco__copy_symlinkat(target, d->dfd, tmp);
		if (r == 0) {
			r = uco_renameat(d->dfd, tmp, d->dfd, dname, 0);
			if (r < 0)
				uco__copy_unlink(d->dfd, tmp, 0);
		}
		if (r == -EISDIR)
			return uco__copy_report(cx, UCO_COPY_OVERWRITE_DIR, r,
						d, sname, dname);
	} else if (r == -EEXIST) {
		cx->st->skipped++;
		uco__copy_done(cx, d, sname, dname, '-', false, 0);
		return 0;
	}
	if (r < 0)
		return uco__copy_report(cx, UCO_COPY_SYMLINK, r, d, sname,
					dname);
	cx->st->symlinks++;
	r = uco__copy_meta(cx, -1, -1, d->dfd, dname, st, d, sname, false,
			   false);
	uco__copy_done(cx, d, sname, dname, 'l', false, 0);
	return r;
}

static int copy_special(struct cp_ctx *cx, struct cp_dir *d, const char *sname,
			const char *dname, const struct statx *st)
{
	mode_t mode = st->stx_mode & (S_IFMT | 07777);
	dev_t dev = makedev(st->stx_rdev_major, st->stx_rdev_minor);
	int r = uco__copy_mknod(d->dfd, dname, mode, dev);

	if (r == -EEXIST && !(cx->o.flags & UCO_COPY_NO_CLOBBER)) {
		r = uco_unlinkat(d->dfd, dname, 0);
		if (r == 0)
			r = uco__copy_mknod(d->dfd, dname, mode, dev);
	}
	if (r < 0)
		return uco__copy_report(cx, UCO_COPY_SPECIAL, r, d, sname,
					dname);
	cx->st->specials++;
	r = uco__copy_meta(cx, -1, -1, d->dfd, dname, st, d, sname, false,
			   false);
	uco__copy_done(cx, d, sname, dname, 's', false, 0);
	return r;
}

static int copy_regular(struct cp_ctx *cx, struct cp_dir *d, const char *sname,
			const char *dname, bool follow, char *buf)
{
	int oflags = O_RDONLY | (follow ? 0 : O_NOFOLLOW);
	struct cp_link *lk = NULL;
	struct statx st;
	int sfd, r;

	if (cx->o.flags & UCO_COPY_DIRECT) {
		sfd = uco_openat(d->sfd, sname, oflags | O_DIRECT, 0);
		if (sfd == -EINVAL) {
			uco__copy_report(cx, UCO_COPY_NOTE_DIRECT, sfd, d, sname,
					 dname);
			sfd = uco_openat(d->sfd, sname, oflags, 0);
		}
	} else {
		sfd = uco_openat(d->sfd, sname, oflags, 0);
	}
	if (sfd < 0)
		return uco__copy_report(cx, UCO_COPY_OPEN_SRC, sfd, d, sname,
					dname);
	r = uco_statx(sfd, "", AT_EMPTY_PATH, CP_STATX_MASK, &st);
	if (r < 0) {
		r = uco__copy_report(cx, UCO_COPY_STAT, r, d, sname, dname);
		goto out;
	}
	r = keep_existing(cx, d, dname, &st);
	if (r != 0) {
		if (r > 0) {
			cx->st->skipped++;
			uco__copy_done(cx, d, sname, dname, '-', false, 0);
			r = 0;
		}
		goto out;
	}
	if ((cx->o.flags & UCO_COPY_PRESERVE_LINKS) && st.stx_nlink > 1 &&
	    cx->links) {
		uint64_t dev = makedev(st.stx_dev_major, st.stx_dev_minor);
		struct cp_link **pp = link_slot(cx->links, dev, st.stx_ino);

		if (*pp) {
			struct cp_link *first = *pp;

			uco__copy_close(sfd);
			sfd = -1;
			r = uco_event_wait(&first->done);
			if (r < 0)
				goto out;
			if (first->state == 1) {
				r = link_to(cx, pseudo_root(d), first->rel, d,
					    dname);
				if (r >= 0) {
					cx->st->hardlinks++;
					uco__copy_done(cx, d, sname, dname,
						       r ? '-' : 'h', false, 0);
					r = 0;
				} else {
					r = uco__copy_report(cx, UCO_COPY_LINK,
							     r, d, sname,
							     dname);
				}
				goto out;
			}
			/* The first copy failed: copy this one on its own. */
			sfd = uco_openat(d->sfd, sname, oflags, 0);
			if (sfd < 0) {
				r = uco__copy_report(cx, UCO_COPY_OPEN_SRC, sfd,
						     d, sname, dname);
				goto out;
			}
		} else if ((cx->links->n + 1) * 2 <= cx->links->nb ||
			   links_grow(cx->links) == 0) {
			lk = uco__zalloc(sizeof(*lk));
			if (lk && uco_event_init(&lk->done) == 0) {
				lk->dev = dev;
				lk->ino = st.stx_ino;
				lk->rel = path_build(d, dname, true, false);
				pp = link_slot(cx->links, dev, st.stx_ino);
				*pp = lk;
				cx->links->n++;
			} else if (lk) {
				uco__free(lk, sizeof(*lk));
				lk = NULL;
			}
		}
	}
	bool placed = false;
	uint64_t files = cx->st->files;

	r = uco__copy_reg(cx, d, sname, dname, sfd, &st, buf);
	placed = cx->st->files != files;
	if (lk) {
		lk->state = placed && lk->rel ? 1 : -1;
		uco_event_set(&lk->done);
	}
out:
	uco__copy_close(sfd);
	return r;
}

/* A non-directory entry, in a worker. */
static int copy_entry(struct cp_ctx *cx, struct cp_job *j, char *buf)
{
	struct cp_dir *d = j->d;
	const char *dname = j->dname ? j->dname : j->name;
	struct statx st;
	int r;

	if (j->type == DT_REG)
		return copy_regular(cx, d, j->name, dname, j->follow, buf);
	r = uco_statx(d->sfd, j->name, j->follow ? 0 : AT_SYMLINK_NOFOLLOW,
		      CP_STATX_MASK | STATX_TYPE, &st);
	if (r < 0)
		return uco__copy_report(cx, UCO_COPY_STAT, r, d, j->name, dname);
	switch (st.stx_mode & S_IFMT) {
	case S_IFREG:
		return copy_regular(cx, d, j->name, dname, j->follow, buf);
	case S_IFLNK:
		r = keep_existing(cx, d, dname, &st);
		if (r > 0) {
			cx->st->skipped++;
			uco__copy_done(cx, d, j->name, dname, '-', false, 0);
			return 0;
		}
		return r < 0 ? r : copy_symlink(cx, d, j->name, dname, &st);
	case S_IFDIR: /* became a directory since it was listed */
		return uco__copy_report(cx, UCO_COPY_STAT, -EAGAIN, d, j->name,
					dname);
	default:
		r = keep_existing(cx, d, dname, &st);
		if (r > 0) {
			cx->st->skipped++;
			return 0;
		}
		return r < 0 ? r : copy_special(cx, d, j->name, dname, &st);
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
		r = copy_entry(cx, item, buf);
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
		cx.links = uco__zalloc(sizeof(*cx.links));
		if (!cx.links || links_grow(cx.links) < 0) {
			r = -ENOMEM;
			goto out;
		}
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
			scan_free(cx.scan);
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
		r = uco_group_spawn(g, NULL, scan_task, &cx, &so);
	}
	if (r < 0) {
		if (cx.scan && !run.workers_live) {
			scan_free(cx.scan);
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
		scan_free(cx.scan);
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
	links_free(cx.links);
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
