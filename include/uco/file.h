/*
 * uco/file.h — file operations, each one io_uring SQE.
 *
 * Every call here suspends the calling task until its CQE arrives and
 * returns the result or a negative errno; it honours cancellation
 * (-ECANCELED: the op was cancelled in the kernel and the kernel no longer
 * touches the buffer) and timeout scopes (-ETIMEDOUT), except where said.
 * A call that completed anyway returns its result, as the kernel did the
 * work.  File descriptors are plain fds: close them with uco_close() (or
 * close(2) outside a task).
 *
 * Offsets: `off` is a byte offset, or -1 for the file's current position
 * (and for pipes, sockets and other streams, which have none).
 *
 * Short reads and writes are returned as they come (the kernel may stop
 * early, e.g. at end of file); uco_read_full() and uco_write_full() loop.
 * O_DIRECT misalignment is reported as -EINVAL by the kernel.
 *
 * An op blocked in an io_uring worker thread (a FIFO open, a read of a
 * blocking pipe opened without O_NONBLOCK) cannot always be cut short by a
 * timeout on kernels up to at least 6.18; cancellation interrupts it.
 */
#ifndef UCO_FILE_H
#define UCO_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <uco/common.h>

/* openat(2) relative to the working directory.  O_CLOEXEC is always added. */
UCO_API int uco_open(const char *path, int flags, mode_t mode);
UCO_API int uco_openat(int dirfd, const char *path, int flags, mode_t mode);
/*
 * Close fd; suspends.  Always releases the descriptor, even in a cancelled
 * task or under an expired timeout scope: the close goes to the kernel
 * shielded and without the scope's timeout (a cancel arriving meanwhile
 * is kept for the next call), and outside a task it is a plain close(2).
 * Returns 0 or close's own error, never -ECANCELED or -ETIMEDOUT.
 */
UCO_API int uco_close(int fd);

UCO_API ssize_t uco_read(int fd, void *buf, size_t len, int64_t off);
UCO_API ssize_t uco_write(int fd, const void *buf, size_t len, int64_t off);
UCO_API ssize_t uco_readv(int fd, const struct iovec *iov, int iovcnt,
			  int64_t off);
UCO_API ssize_t uco_writev(int fd, const struct iovec *iov, int iovcnt,
			   int64_t off);

/*
 * Read until len bytes or end of file (returns fewer only at EOF), or
 * write all len bytes, looping over short transfers.  With off != -1 the
 * offset advances with each transfer.  On an error after some bytes moved,
 * the error is returned (the bytes are lost to the caller), since a
 * partial transfer followed by an error is an error for every user of
 * these helpers.
 */
UCO_API ssize_t uco_read_full(int fd, void *buf, size_t len, int64_t off);
UCO_API ssize_t uco_write_full(int fd, const void *buf, size_t len,
			       int64_t off);

/*
 * Fixed (registered) buffers, per core: the calling core's ring registers
 * `n` buffers (pinned by the kernel: no page walk per op).  Replaces an
 * earlier registration; n = 0 unregisters.  Returns 0, -EBUSY if a fixed
 * op is in flight, or the kernel's error (-ENOMEM past RLIMIT_MEMLOCK).
 * Each core must register its own.  uco_read_fixed()/uco_write_fixed() use
 * buffer `index`, and buf..buf+len must lie inside it (-EFAULT otherwise,
 * from the kernel).
 */
UCO_API int uco_buffers_register(const struct iovec *bufs, unsigned n);
UCO_API ssize_t uco_read_fixed(int fd, void *buf, size_t len, int64_t off,
			       unsigned index);
UCO_API ssize_t uco_write_fixed(int fd, const void *buf, size_t len,
				int64_t off, unsigned index);

UCO_API int uco_fsync(int fd);
UCO_API int uco_fdatasync(int fd);
/* fallocate(2): mode 0 allocates (and extends), or FALLOC_FL_*. */
UCO_API int uco_fallocate(int fd, int mode, int64_t off, int64_t len);
/* statx(2); AT_EMPTY_PATH with path "" stats dirfd itself. */
UCO_API int uco_statx(int dirfd, const char *path, int flags, unsigned mask,
		      struct statx *out);
UCO_API int uco_rename(const char *from, const char *to);
UCO_API int uco_renameat(int olddirfd, const char *from, int newdirfd,
			 const char *to, unsigned flags);
UCO_API int uco_unlink(const char *path);
/* unlinkat(2): AT_REMOVEDIR removes a directory. */
UCO_API int uco_unlinkat(int dirfd, const char *path, int flags);
UCO_API int uco_mkdir(const char *path, mode_t mode);
UCO_API int uco_mkdirat(int dirfd, const char *path, mode_t mode);

#endif
