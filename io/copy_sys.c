/*
 * The copy engine's system calls outside liburing 2.3's helpers:
 *
 *   - IORING_OP_FTRUNCATE (kernel 6.9) prepared from raw SQE fields, used
 *     when the start-up probe finds it, else ftruncate(2) on the pool;
 *   - the calls io_uring has no op for, each one uco_to_thread trip.
 *
 * Pool calls are made inside a shield: they are short, and the memory and
 * fds they touch belong to the calling task, which must not free them
 * while a pool thread still uses them.  A cancel then takes effect at the
 * task's next suspending call.  The engine's tasks carry no timeout scope
 * of their own (the caller's deadline is a timer on its wait for them), so
 * a shielded call here always runs to its end.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <uco/file.h>
#include <uco/offload.h>
#include <uco/task.h>

#include "core/alloc.h"
#include "copy_impl.h"
#include "io.h"

/* Not in Debian 12's uapi headers (linux/io_uring.h of 6.1). */
#ifndef IORING_OP_FTRUNCATE_NR
#define IORING_OP_FTRUNCATE_NR 55
#endif

bool uco__copy_probe(void)
{
	struct uco__loop *l = uco__io_loop();
	struct io_uring_probe *p;
	bool ok;

	if (!l)
		return false;
	p = io_uring_get_probe_ring(&l->ring);
	if (!p)
		return false;
	ok = p->last_op >= IORING_OP_FTRUNCATE_NR &&
	     (p->ops[IORING_OP_FTRUNCATE_NR].flags & IO_URING_OP_SUPPORTED);
	io_uring_free_probe(p);
	return ok;
}

/* ---- the pool calls ------------------------------------------------------ */

enum sys_kind {
	SYS_GETDENTS,
	SYS_READLINK,
	SYS_MKNOD,
	SYS_CLONE,
	SYS_SEEK_DATA,
	SYS_FTRUNCATE,
	SYS_META,
	SYS_RANGE,
};

struct sys_call {
	enum sys_kind kind;
	long ret;
	int fd, fd2;
	const char *name;
	void *buf;
	size_t len;
	mode_t mode;
	dev_t dev;
	int64_t off, start, end;
	/* SYS_META */
	unsigned flags;
	const struct statx *st;
	bool mode_fix, is_dir, root;
	unsigned umask;
	int err_owner, err_mode, err_times, err_xattr;
};

static int copy_xattrs(int sfd, int dfd)
{
	char list[8192], *val = NULL;
	size_t cap = 0;
	ssize_t n = flistxattr(sfd, list, sizeof(list));
	int err = 0;

	if (n < 0)
		return errno == ENOTSUP ? 0 : -errno;
	for (char *k = list; k < list + n; k += strlen(k) + 1) {
		ssize_t v = fgetxattr(sfd, k, NULL, 0);

		if (v < 0) {
			err = err ? err : -errno;
			continue;
		}
		if ((size_t)v > cap) {
			char *nv = realloc(val, (size_t)v + 1);

			if (!nv) {
				err = -ENOMEM;
				break;
			}
			val = nv;
			cap = (size_t)v;
		}
		v = fgetxattr(sfd, k, val, cap);
		if (v < 0 || fsetxattr(dfd, k, val, (size_t)v, 0) < 0) {
			/* Like cp: a destination without xattr support
			 * is not an error for the "security." names it
			 * sets itself. */
			if (errno != ENOTSUP || strncmp(k, "user.", 5) == 0)
				err = err ? err : -errno;
		}
	}
	free(val);
	return err;
}

static void sys_meta(struct sys_call *c)
{
	const struct statx *st = c->st;
	bool lnk = c->fd < 0;

	if (c->flags & UCO_COPY_PRESERVE_OWNER) {
		int r = lnk ? fchownat(c->fd2, c->name, st->stx_uid, st->stx_gid,
				       AT_SYMLINK_NOFOLLOW)
			    : fchown(c->fd, st->stx_uid, st->stx_gid);

		/* cp: only root is told that ownership could not be kept. */
		if (r < 0 && (c->root || (errno != EPERM && errno != EINVAL)))
			c->err_owner = -errno;
	}
	if (c->flags & UCO_COPY_PRESERVE_XATTR && !lnk)
		c->err_xattr = copy_xattrs(c->fd2, c->fd);
	if (lnk && !S_ISLNK(st->stx_mode) &&
	    (c->flags & UCO_COPY_PRESERVE_MODE)) { /* a FIFO, a device */
		if (fchmodat(c->fd2, c->name, st->stx_mode & 07777, 0) < 0)
			c->err_mode = -errno;
	} else if (!lnk && (c->flags & UCO_COPY_PRESERVE_MODE)) {
		if (fchmod(c->fd, st->stx_mode & 07777) < 0)
			c->err_mode = -errno;
	} else if (!lnk && c->mode_fix) {
		if (fchmod(c->fd, st->stx_mode & 0777 & ~c->umask) < 0)
			c->err_mode = -errno;
	}
	if (c->flags & UCO_COPY_PRESERVE_TIMES) {
		struct timespec ts[2] = {
			{ st->stx_atime.tv_sec, st->stx_atime.tv_nsec },
			{ st->stx_mtime.tv_sec, st->stx_mtime.tv_nsec },
		};
		int r = lnk ? utimensat(c->fd2, c->name, ts, AT_SYMLINK_NOFOLLOW)
			    : futimens(c->fd, ts);

		if (r < 0)
			c->err_times = -errno;
	}
}

static void *sys_run(void *p)
{
	struct sys_call *c = p;
	long r = 0;

	switch (c->kind) {
	case SYS_GETDENTS:
		r = syscall(SYS_getdents64, c->fd, c->buf, c->len);
		break;
	case SYS_READLINK:
		r = readlinkat(c->fd, c->name, c->buf, c->len);
		break;
	case SYS_MKNOD:
		r = mknodat(c->fd, c->name, c->mode, c->dev);
		break;
	case SYS_CLONE:
		r = ioctl(c->fd, FICLONE, c->fd2);
		break;
	case SYS_SEEK_DATA:
		c->start = lseek(c->fd, c->off, SEEK_DATA);
		if (c->start < 0) {
			if (errno == ENXIO) { /* no data past off */
				c->start = -1;
				r = 0;
			} else {
				r = -1;
			}
			break;
		}
		c->end = lseek(c->fd, c->start, SEEK_HOLE);
		r = c->end < 0 ? -1 : 0;
		break;
	case SYS_FTRUNCATE:
		r = ftruncate(c->fd, c->off);
		break;
	case SYS_META:
		sys_meta(c);
		break;
	case SYS_RANGE: {
		loff_t in = c->off, out = c->off;
		size_t left = c->len;

		while (left) {
			ssize_t n = copy_file_range(c->fd, &in, c->fd2, &out,
						    left, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				r = -1;
				break;
			}
			if (n == 0) /* end of file */
				break;
			left -= (size_t)n;
		}
		if (r == 0)
			r = (long)(c->len - left);
		break;
	}
	}
	c->ret = r < 0 ? -errno : r;
	return NULL;
}

static long sys(struct sys_call *c)
{
	int r;

	/* The shield below hides a cancel from uco_to_thread: a task that
	 * is being stopped starts no new call. */
	if (uco_cancelling())
		return -ECANCELED;
	uco_shield_begin();
	r = uco_to_thread(sys_run, c, NULL, NULL);
	uco_shield_end();
	return r < 0 ? r : c->ret;
}

long uco__copy_getdents(int fd, void *buf, size_t len)
{
	struct sys_call c = { .kind = SYS_GETDENTS, .fd = fd, .buf = buf,
			      .len = len };

	return sys(&c);
}

long uco__copy_readlink(int dirfd, const char *name, char *buf, size_t len)
{
	struct sys_call c = { .kind = SYS_READLINK, .fd = dirfd, .name = name,
			      .buf = buf, .len = len };

	return sys(&c);
}

int uco__copy_mknod(int dirfd, const char *name, mode_t mode, dev_t dev)
{
	struct sys_call c = { .kind = SYS_MKNOD, .fd = dirfd, .name = name,
			      .mode = mode, .dev = dev };

	return (int)sys(&c);
}

int uco__copy_clone(int dfd, int sfd)
{
	struct sys_call c = { .kind = SYS_CLONE, .fd = dfd, .fd2 = sfd };

	return (int)sys(&c);
}

int uco__copy_seek_data(int fd, int64_t off, int64_t *start, int64_t *end)
{
	struct sys_call c = { .kind = SYS_SEEK_DATA, .fd = fd, .off = off };
	long r = sys(&c);

	*start = c.start;
	*end = c.end;
	return (int)r;
}

long uco__copy_range(int sfd, int dfd, int64_t off, size_t len)
{
	struct sys_call c = { .kind = SYS_RANGE, .fd = sfd, .fd2 = dfd,
			      .off = off, .len = len };

	return sys(&c);
}

int uco__copy_ftruncate(struct cp_ctx *cx, int fd, uint64_t len)
{
	if (cx->has_ftruncate) {
		/* IORING_OP_FTRUNCATE: fd, and the length in off; every
		 * other field zero (io_uring_prep_rw clears them). */
		UCO__IO_RETURN(io_uring_prep_rw(IORING_OP_FTRUNCATE_NR, sqe, fd,
						NULL, 0, len));
	}
	struct sys_call c = { .kind = SYS_FTRUNCATE, .fd = fd,
			      .off = (int64_t)len };

	return (int)sys(&c);
}

int uco__copy_meta(struct cp_ctx *cx, int fd, int sfd, int dirfd,
		   const char *name, const struct statx *st,
		   struct cp_dir *dir, const char *sname, bool is_dir,
		   bool mode_fix)
{
	struct sys_call c = { .kind = SYS_META, .fd = fd, .fd2 = fd < 0 ? dirfd
								      : sfd,
			      .name = name, .st = st, .flags = cx->o.flags,
			      .mode_fix = mode_fix, .is_dir = is_dir,
			      .root = cx->root, .umask = cx->umask };
	long r;
	int stop = 0;

	if (!(cx->o.flags & (UCO_COPY_PRESERVE_OWNER | UCO_COPY_PRESERVE_MODE |
			     UCO_COPY_PRESERVE_TIMES | UCO_COPY_PRESERVE_XATTR)) &&
	    !mode_fix)
		return 0;
	r = sys(&c);
	if (r < 0)
		return uco__copy_report(cx, UCO_COPY_MODE, (int)r, dir, sname,
					name);
	if (c.err_owner && !stop)
		stop = uco__copy_report(cx, UCO_COPY_OWNER, c.err_owner, dir,
					sname, name);
	if (c.err_xattr && !stop)
		stop = uco__copy_report(cx, UCO_COPY_XATTR, c.err_xattr, dir,
					sname, name);
	if (c.err_mode && !stop)
		stop = uco__copy_report(cx, UCO_COPY_MODE, c.err_mode, dir,
					sname, name);
	if (c.err_times && !stop)
		stop = uco__copy_report(cx, UCO_COPY_TIMES, c.err_times, dir,
					sname, name);
	return stop;
}

void uco__copy_close(int fd)
{
	int r;

	if (fd < 0)
		return;

	uco_shield_begin();
	r = uco_close(fd);
	/* These three mean the op was never submitted: the fd is open. */
	if (r == -ETIMEDOUT || r == -EPERM || r == -ECANCELED)
		close(fd);
	uco_shield_end();
}

void uco__copy_unlink(int dirfd, const char *name, int flags)
{
	int r;

	uco_shield_begin();
	r = uco_unlinkat(dirfd, name, flags);
	if (r == -ETIMEDOUT || r == -EPERM || r == -ECANCELED)
		unlinkat(dirfd, name, flags);
	uco_shield_end();
}

int uco__copy_linkat(int olddirfd, const char *from, int newdirfd,
		     const char *to, int flags)
{
	UCO__IO_RETURN(io_uring_prep_linkat(sqe, olddirfd, from, newdirfd, to,
					    flags));
}

int uco__copy_symlinkat(const char *target, int dirfd, const char *name)
{
	UCO__IO_RETURN(io_uring_prep_symlinkat(sqe, target, dirfd, name));
}

int uco__copy_fadvise(int fd, int advice)
{
	UCO__IO_RETURN(io_uring_prep_fadvise(sqe, fd, 0, 0, advice));
}
