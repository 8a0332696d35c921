/*
 * The copy engine's entries (see uco/copy.h): one symlink, FIFO, device or
 * regular file (with its hard links, PRESERVE_LINKS) as a worker copies it;
 * the paths and callbacks that report on them; and the walk alongside that
 * counts the totals (UCO_COPY_COUNT).  io/copy_tree.c walks and schedules.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <uco/event.h>
#include <uco/file.h>
#include <uco/offload.h>
#include <uco/task.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "copy_impl.h"

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

void uco__copy_scan_free(struct cp_scan *sc)
{
	free(sc->root);
	free(sc);
}

static void scan_cleanup(void *arg, void *result)
{
	(void)result;
	uco__copy_scan_free(arg);
}

void *uco__copy_scan_task(void *arg)
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
	uco__copy_scan_free(sc);
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

int uco__copy_links_grow(struct cp_links *t)
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

int uco__copy_links_new(struct cp_links **out)
{
	struct cp_links *t = uco__zalloc(sizeof(*t));

	*out = t;
	if (!t)
		return -ENOMEM;
	return uco__copy_links_grow(t);
}

void uco__copy_links_free(struct cp_links *t)
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
	struct cp_link *lk = NULL, *retarget = NULL;
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
				if (r == -ENAMETOOLONG)
					goto alone; /* the first is below PATH_MAX */
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
alone:
			/* The first copy failed (or cannot be named): copy
			 * this one on its own, and let the next ones link to
			 * it instead. */
			retarget = first;
			sfd = uco_openat(d->sfd, sname, oflags, 0);
			if (sfd < 0) {
				r = uco__copy_report(cx, UCO_COPY_OPEN_SRC, sfd,
						     d, sname, dname);
				goto out;
			}
		} else if ((cx->links->n + 1) * 2 <= cx->links->nb ||
			   uco__copy_links_grow(cx->links) == 0) {
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
		/* A first copy deeper than PATH_MAX cannot be linked to by
		 * name: the next one becomes the target. */
		lk->state = placed && lk->rel && strlen(lk->rel) < PATH_MAX
				    ? 1
				    : -1;
		uco_event_set(&lk->done);
	} else if (retarget && placed && retarget->state != 1) {
		char *rel = path_build(d, dname, true, false);

		if (rel && strlen(rel) < PATH_MAX) {
			uco__free_unsized(retarget->rel);
			retarget->rel = rel;
			retarget->state = 1;
		} else {
			uco__free_unsized(rel);
		}
	}
out:
	uco__copy_close(sfd);
	return r;
}

/* A non-directory entry, in a worker. */
int uco__copy_entry(struct cp_ctx *cx, struct cp_job *j, char *buf)
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

