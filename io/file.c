/*
 * Files: every call one SQE through the op layer (see io/io.h).
 *
 * Paths are read by the kernel when the SQE is submitted, and the task stays
 * suspended until the CQE, so a caller's stack buffer is always fine.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <uco/file.h>

#include "core/cleanup.h"
#include "core/loop.h"
#include "core/task.h"
#include "io.h"

struct uco__loop *uco__io_loop(void)
{
	struct uco_task *t = uco__self();

	return t ? t->loop : NULL;
}

/* io_uring takes -1 as "the current position"; its offsets are unsigned. */
static inline uint64_t io_off(int64_t off)
{
	return off < 0 ? (uint64_t)-1 : (uint64_t)off;
}

UCO_API int uco_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (!path)
		return -EFAULT;
	UCO__IO_RETURN(io_uring_prep_openat(sqe, dirfd, path, flags | O_CLOEXEC,
					    mode));
}

UCO_API int uco_open(const char *path, int flags, mode_t mode)
{
	return uco_openat(AT_FDCWD, path, flags, mode);
}

static int close_op(int fd)
{
	UCO__IO_RETURN(io_uring_prep_close(sqe, fd));
}

UCO_API int uco_close(int fd)
{
	struct uco__cleanup c;
	int r;

	if (fd < 0)
		return -EBADF;
	if (!uco__self()) {
		/* Linux releases the descriptor even when close(2) reports
		 * EINTR: there is nothing to retry. */
		return close(fd) == 0 || errno == EINTR ? 0 : -errno;
	}
	/* A release must happen whatever state the task is in: refused at
	 * the start (cancelled, scope expired), or cut short in the kernel
	 * (a close punted to a worker to flush the file can be cancelled
	 * before it runs), the descriptor would stay open.  So the close
	 * goes in shielded and without the scope's linked timeout; a cancel
	 * that arrives meanwhile is kept for the task's next call. */
	uco__cleanup_begin(&c);
	r = close_op(fd);
	uco__cleanup_end(&c);
	return r;
}

UCO_API ssize_t uco_read(int fd, void *buf, size_t len, int64_t off)
{
	if (len > INT32_MAX)
		len = INT32_MAX & ~4095u;
	UCO__IO_RETURN(io_uring_prep_read(sqe, fd, buf, (unsigned)len,
					  io_off(off)));
}

UCO_API ssize_t uco_write(int fd, const void *buf, size_t len, int64_t off)
{
	if (len > INT32_MAX)
		len = INT32_MAX & ~4095u;
	UCO__IO_RETURN(io_uring_prep_write(sqe, fd, buf, (unsigned)len,
					   io_off(off)));
}

UCO_API ssize_t uco_readv(int fd, const struct iovec *iov, int iovcnt,
			  int64_t off)
{
	if (iovcnt < 0)
		return -EINVAL;
	UCO__IO_RETURN(io_uring_prep_readv(sqe, fd, iov, (unsigned)iovcnt,
					   io_off(off)));
}

UCO_API ssize_t uco_writev(int fd, const struct iovec *iov, int iovcnt,
			   int64_t off)
{
	if (iovcnt < 0)
		return -EINVAL;
	UCO__IO_RETURN(io_uring_prep_writev(sqe, fd, iov, (unsigned)iovcnt,
					    io_off(off)));
}

/* Loop over short transfers; `write` picks the direction. */
static ssize_t transfer_full(int fd, char *buf, size_t len, int64_t off,
			     bool write)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write ? uco_write(fd, buf + done, len - done, off)
				  : uco_read(fd, buf + done, len - done, off);
		if (n < 0)
			return n;
		if (n == 0) {
			if (write)
				return -EIO; /* a write that makes no progress */
			break;       /* end of file */
		}
		done += (size_t)n;
		if (off >= 0)
			off += n;
	}
	return (ssize_t)done;
}

UCO_API ssize_t uco_read_full(int fd, void *buf, size_t len, int64_t off)
{
	return transfer_full(fd, buf, len, off, false);
}

UCO_API ssize_t uco_write_full(int fd, const void *buf, size_t len,
			       int64_t off)
{
	return transfer_full(fd, (char *)buf, len, off, true);
}

UCO_API int uco_buffers_register(const struct iovec *bufs, unsigned n)
{
	struct uco__loop *l = uco__io_loop();
	int r;

	if (!l)
		return -EPERM;
	if (n && !bufs)
		return -EFAULT;
	/* Ops the kernel has been given keep their buffers' registration
	 * alive, so replacing it under them is safe; but a fixed op whose
	 * SQE is still queued would be prepared against the new set (and
	 * fail with -EFAULT), so hand the kernel everything queued first. */
	uco__loop_flush(l);
	r = io_uring_unregister_buffers(&l->ring);
	if (r < 0 && r != -ENXIO)
		return r;
	if (n == 0)
		return 0;
	return io_uring_register_buffers(&l->ring, bufs, n);
}

UCO_API ssize_t uco_read_fixed(int fd, void *buf, size_t len, int64_t off,
			       unsigned index)
{
	if (len > INT32_MAX)
		return -EINVAL;
	UCO__IO_RETURN(io_uring_prep_read_fixed(sqe, fd, buf, (unsigned)len,
						io_off(off), (int)index));
}

UCO_API ssize_t uco_write_fixed(int fd, const void *buf, size_t len,
				int64_t off, unsigned index)
{
	if (len > INT32_MAX)
		return -EINVAL;
	UCO__IO_RETURN(io_uring_prep_write_fixed(sqe, fd, buf, (unsigned)len,
						 io_off(off), (int)index));
}

UCO_API int uco_fsync(int fd)
{
	UCO__IO_RETURN(io_uring_prep_fsync(sqe, fd, 0));
}

UCO_API int uco_fdatasync(int fd)
{
	UCO__IO_RETURN(io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC));
}

UCO_API int uco_fallocate(int fd, int mode, int64_t off, int64_t len)
{
	if (off < 0 || len <= 0)
		return -EINVAL;
	UCO__IO_RETURN(io_uring_prep_fallocate(sqe, fd, mode, (uint64_t)off,
					       (uint64_t)len));
}

UCO_API int uco_statx(int dirfd, const char *path, int flags, unsigned mask,
		      struct statx *out)
{
	if (!path || !out)
		return -EFAULT;
	UCO__IO_RETURN(io_uring_prep_statx(sqe, dirfd, path, flags, mask, out));
}

UCO_API int uco_renameat(int olddirfd, const char *from, int newdirfd,
			 const char *to, unsigned flags)
{
	if (!from || !to)
		return -EFAULT;
	UCO__IO_RETURN(io_uring_prep_renameat(sqe, olddirfd, from, newdirfd, to,
					      flags));
}

UCO_API int uco_rename(const char *from, const char *to)
{
	return uco_renameat(AT_FDCWD, from, AT_FDCWD, to, 0);
}

UCO_API int uco_unlinkat(int dirfd, const char *path, int flags)
{
	if (!path)
		return -EFAULT;
	UCO__IO_RETURN(io_uring_prep_unlinkat(sqe, dirfd, path, flags));
}

UCO_API int uco_unlink(const char *path)
{
	return uco_unlinkat(AT_FDCWD, path, 0);
}

UCO_API int uco_mkdirat(int dirfd, const char *path, mode_t mode)
{
	if (!path)
		return -EFAULT;
	UCO__IO_RETURN(io_uring_prep_mkdirat(sqe, dirfd, path, mode));
}

UCO_API int uco_mkdir(const char *path, mode_t mode)
{
	return uco_mkdirat(AT_FDCWD, path, mode);
}
