/*
 * uco/file.h — file operations, each one io_uring SQE.
 *
 * What every call here shares (each call's contract below says where it
 * differs):
 *   - It suspends the calling task until the kernel's CQE arrives, and
 *     returns the result (>= 0) or a negative errno.  Outside a task it
 *     returns -EPERM; in a task already cancelled, or under a timeout scope
 *     whose deadline has passed, it returns -ECANCELED or -ETIMEDOUT without
 *     submitting anything.
 *   - Cancelling the task while the call waits cancels the op in the
 *     kernel; the call returns -ECANCELED once the kernel has let go of it.
 *     A timeout scope (uco/time.h) or uco_wait_for() that expires does the
 *     same and the call returns -ETIMEDOUT.  Either way an op the kernel
 *     completed anyway returns its result, as the kernel did the work (an
 *     open returns its fd, a read its count), so nothing is leaked or lost.
 *   - When a call returns, whatever it returns, the kernel no longer
 *     touches its buffers, paths or structures: they are the caller's, and
 *     may live on the task's stack.  Paths are read when the SQE is
 *     submitted.
 *   - File descriptors are plain fds owned by the caller: close them with
 *     uco_close() in a task (or close(2) outside one).
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

#ifdef __cplusplus
extern "C" {
#endif

/* <sys/stat.h> defines it only with _GNU_SOURCE; <linux/stat.h> always. */
struct statx;

/* --- opening and closing ------------------------------------------------ */

/*
 * openat(2): open `path` relative to the directory `dirfd` (AT_FDCWD: the
 * working directory), with open(2)'s `flags` and, when creating, `mode`.
 * O_CLOEXEC is always added.  Suspends.  Returns the new descriptor, owned
 * by the caller; -EFAULT for a NULL path; or open's error (-ENOENT,
 * -EACCES, -EEXIST with O_EXCL, -EMFILE...).  Cancelled or timed out:
 * -ECANCELED / -ETIMEDOUT and no descriptor, unless the open had completed,
 * in which case its descriptor is returned.
 */
UCO_MUST_USE
UCO_API int uco_openat(int dirfd, const char *path, int flags, mode_t mode);

/* uco_openat(AT_FDCWD, path, flags, mode): the same contract. */
UCO_MUST_USE
UCO_API int uco_open(const char *path, int flags, mode_t mode);

/*
 * close(2) through the ring.  Suspends.  Returns 0, -EBADF (fd < 0 or not
 * open) or close's own error (-EIO from a file system that reports
 * write-back errors at close), never -ECANCELED or -ETIMEDOUT.  The
 * descriptor is always released, even in a task that is cancelled or under
 * an expired timeout scope: the close goes to the kernel shielded and
 * without the scope's timeout (a cancel arriving meanwhile is kept for the
 * next call).  After it returns, whatever it returns, fd is no longer the
 * caller's; never close it again (the number may already name another
 * file).  Outside a task it is a plain close(2) (an exception to
 * common.h's -EPERM rule, so that a release never fails to release).
 * Not marked UCO_MUST_USE: it is a release, and a socket's close has
 * nothing to report; check it after writing a file whose write-back
 * errors matter (a copy tool must).
 */
UCO_API int uco_close(int fd);

/* --- reading and writing ------------------------------------------------ */

/*
 * read(2) at the current position (off = -1) or pread(2) at `off`: read up
 * to len bytes into buf.  Suspends.  Returns the count, which is 0 at end
 * of file (and for len 0) and may be short; a len above INT32_MAX reads at
 * most INT32_MAX rounded down to 4096.  Errors: read's own (-EBADF,
 * -EISDIR, -EINVAL for O_DIRECT misalignment...).  buf is the caller's and
 * the kernel writes into it only while the call runs.  Cancelled or timed
 * out: -ECANCELED / -ETIMEDOUT with nothing read; a read that had already
 * taken bytes returns their count instead (from a pipe or socket they are
 * consumed, so they are never lost).
 */
UCO_MUST_USE
UCO_API ssize_t uco_read(int fd, void *buf, size_t len, int64_t off);

/*
 * write(2) at the current position (off = -1) or pwrite(2) at `off`:
 * write up to len bytes from buf.  Suspends.  Returns the count written,
 * which may be short (a full disk, a signal, a pipe with room for part);
 * a len above INT32_MAX writes at most INT32_MAX rounded down to 4096.
 * Errors: write's own (-ENOSPC, -EPIPE for a pipe with no reader, -EBADF,
 * -EINVAL...).  buf is only read, and only while the call runs.  Cancelled
 * or timed out: -ECANCELED / -ETIMEDOUT, or the count of bytes the kernel
 * had written already.
 */
UCO_MUST_USE
UCO_API ssize_t uco_write(int fd, const void *buf, size_t len, int64_t off);

/*
 * readv(2)/preadv(2): read into the iovcnt buffers of iov, in order.  As
 * uco_read(): suspends, returns the total count (0 at end of file, may be
 * short) or an error; -EINVAL for iovcnt < 0 or above IOV_MAX.  The iovec
 * array and its buffers are the caller's and must stay valid until the
 * call returns (they do, if they are on the task's stack).  Cancellation
 * and timeouts as for uco_read().
 */
UCO_MUST_USE
UCO_API ssize_t uco_readv(int fd, const struct iovec *iov, int iovcnt,
			  int64_t off);

/*
 * writev(2)/pwritev(2): write the iovcnt buffers of iov, in order.  As
 * uco_write(): suspends, returns the total count (may be short) or an
 * error; -EINVAL for iovcnt < 0 or above IOV_MAX.  The iovec array and its
 * buffers are the caller's.  Cancellation and timeouts as for uco_write().
 */
UCO_MUST_USE
UCO_API ssize_t uco_writev(int fd, const struct iovec *iov, int iovcnt,
			   int64_t off);

/*
 * Read until len bytes have come or the file ends, looping over short
 * reads; with off != -1 the offset advances with each read.  Suspends
 * (once per read).  Returns the count: len, or fewer only at end of file.
 * On an error after some bytes came, the error is returned and the count
 * is lost to the caller (buf holds the bytes, but the call does not say
 * how many), since a partial transfer followed by an error is an error for
 * every user of this helper.  Cancelled or timed out in any of its reads:
 * -ECANCELED / -ETIMEDOUT the same way; a timeout scope bounds the whole
 * loop, not each read.  buf is the caller's.
 */
UCO_MUST_USE
UCO_API ssize_t uco_read_full(int fd, void *buf, size_t len, int64_t off);

/*
 * Write all len bytes, looping over short writes; with off != -1 the
 * offset advances with each write.  Suspends (once per write).  Returns
 * len, or an error: write's own, or -EIO when a write makes no progress.
 * After an error, cancellation (-ECANCELED) or a timeout (-ETIMEDOUT, the
 * scope bounds the whole loop) some prefix of buf may have been written,
 * and the call does not say how much: rewrite from the start at a known
 * offset, or give the stream up.  buf is only read.
 */
UCO_MUST_USE
UCO_API ssize_t uco_write_full(int fd, const void *buf, size_t len,
			       int64_t off);

/* --- fixed (registered) buffers ----------------------------------------- */

/*
 * Register the calling core's fixed buffers: `n` iovecs (at most 16384,
 * each up to 1 GiB) that the kernel pins once, so uco_read_fixed() and
 * uco_write_fixed() skip the page walk of every op.  Each core has its own
 * set: a task registers for the core it runs on, and every core that does
 * fixed I/O registers its own.  An earlier set on this core is replaced;
 * n = 0 only unregisters.  Replacing is safe while fixed ops are in flight:
 * it first hands the kernel every SQE queued on this core, the kernel
 * keeps the old set alive until those ops finish, and they complete on it.
 *
 * Does not suspend (but for one case: should the kernel refuse that
 * submission because its completion queue is full, the task lets the loop
 * reap and then goes on, and other tasks run meanwhile).  It does block:
 * it makes two io_uring_register(2) calls (unregister, register) on the
 * loop thread, and the kernel pins every page of the buffers during the
 * second, so every task on the core waits for them.  Register once at
 * start-up, not per request.  Not affected by cancellation or timeouts
 * (it has nothing to cut short).
 *
 * Returns 0; -EPERM outside a task; -EFAULT for NULL bufs with n > 0; or
 * the error of io_uring_register(2): -ENOMEM (past RLIMIT_MEMLOCK, without
 * CAP_IPC_LOCK), -EINVAL (too many buffers, an empty or oversized one),
 * -EFAULT (an unmapped address), -EOPNOTSUPP (memory the kernel will not
 * pin)...  When registering fails, the earlier set is already gone: the
 * core has none.  The memory stays the caller's; keep it mapped until it
 * is unregistered or the runtime ends, since the kernel holds its pages
 * and fixed ops read and write those pages, not whatever is mapped there
 * later.
 */
UCO_API int uco_buffers_register(const struct iovec *bufs, unsigned n);

/*
 * uco_read() into a registered buffer: buf..buf+len must lie inside buffer
 * `index` of the calling core's set.  Suspends.  Returns the count (0 at
 * end of file, may be short); -EINVAL for len above INT32_MAX; -EFAULT
 * from the kernel when the range is outside the buffer, the index is past
 * the set or this core has none; or read's own errors.  Ownership,
 * cancellation and timeouts as for uco_read().
 */
UCO_MUST_USE
UCO_API ssize_t uco_read_fixed(int fd, void *buf, size_t len, int64_t off,
			       unsigned index);

/*
 * uco_write() from a registered buffer, as uco_read_fixed(): suspends;
 * returns the count written (may be short), -EINVAL for len above
 * INT32_MAX, -EFAULT for a range outside buffer `index` of this core's set,
 * or write's own errors.  Cancellation and timeouts as for uco_write().
 */
UCO_MUST_USE
UCO_API ssize_t uco_write_fixed(int fd, const void *buf, size_t len,
				int64_t off, unsigned index);

/* --- durability and allocation ------------------------------------------ */

/*
 * fsync(2): flush fd's data and metadata to stable storage.  Suspends.
 * Returns 0, or -EIO (write-back failed: the data may be lost), -EBADF,
 * -EINVAL (fd does not support syncing)...  Cancelled or timed out:
 * -ECANCELED / -ETIMEDOUT, and nothing is promised about what reached the
 * disk; a sync the kernel has already started usually runs to the end, and
 * the call then returns its result.
 */
UCO_MUST_USE
UCO_API int uco_fsync(int fd);

/*
 * fdatasync(2): as uco_fsync(), but metadata only as far as reading the
 * data back needs it (the size, not the times).  Same results,
 * cancellation and timeouts.
 */
UCO_MUST_USE
UCO_API int uco_fdatasync(int fd);

/*
 * fallocate(2): with mode 0, allocate [off, off + len) and extend the file
 * if it ends before; or a FALLOC_FL_* mode (punch a hole, zero a range,
 * keep the size...).  Suspends.  Returns 0; -EINVAL for off < 0 or
 * len <= 0 (checked before submitting) or a mode the file system does not
 * take; -ENOSPC, -EOPNOTSUPP, -EBADF...  Cancelled or timed out:
 * -ECANCELED / -ETIMEDOUT, and part of the range may be allocated.
 */
UCO_MUST_USE
UCO_API int uco_fallocate(int fd, int mode, int64_t off, int64_t len);

/* --- metadata and names ------------------------------------------------- */

/*
 * statx(2): describe `path` relative to dirfd into *out, with statx's
 * `flags` (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH with path "" to describe
 * dirfd itself, AT_STATX_*) and `mask` (STATX_BASIC_STATS...).  Suspends.
 * Returns 0 with *out filled (check out->stx_mask for what was); -EFAULT
 * for a NULL path or out; or statx's error (-ENOENT, -EACCES...).  *out is
 * the caller's; it is written only while the call runs, and its contents
 * are unspecified after an error, -ECANCELED or -ETIMEDOUT.  struct statx
 * comes from <sys/stat.h> with _GNU_SOURCE, or from <linux/stat.h>.
 */
UCO_MUST_USE
UCO_API int uco_statx(int dirfd, const char *path, int flags, unsigned mask,
		      struct statx *out);

/*
 * renameat2(2): rename `from` (relative to olddirfd) to `to` (relative to
 * newdirfd), with flags 0, RENAME_NOREPLACE, RENAME_EXCHANGE or
 * RENAME_WHITEOUT.  Suspends.  Returns 0; -EFAULT for a NULL path; or
 * rename's error (-ENOENT, -EEXIST with RENAME_NOREPLACE, -EXDEV across
 * file systems...).  Cancelled or timed out: -ECANCELED / -ETIMEDOUT; a
 * rename is atomic, so it either happened or not (stat to find out, or
 * rely on the call returning 0 when the kernel had done it).
 */
UCO_MUST_USE
UCO_API int uco_renameat(int olddirfd, const char *from, int newdirfd,
			 const char *to, unsigned flags);

/* uco_renameat(AT_FDCWD, from, AT_FDCWD, to, 0): the same contract. */
UCO_MUST_USE
UCO_API int uco_rename(const char *from, const char *to);

/*
 * unlinkat(2): remove the name `path` relative to dirfd; with flags
 * AT_REMOVEDIR, remove an empty directory instead.  Suspends.  Returns 0;
 * -EFAULT for a NULL path; or unlink's or rmdir's error (-ENOENT, -EISDIR
 * without AT_REMOVEDIR, -ENOTEMPTY...).  Cancelled or timed out:
 * -ECANCELED / -ETIMEDOUT; the name is then either still there or gone,
 * as with rename.
 */
UCO_MUST_USE
UCO_API int uco_unlinkat(int dirfd, const char *path, int flags);

/* uco_unlinkat(AT_FDCWD, path, 0): the same contract. */
UCO_MUST_USE
UCO_API int uco_unlink(const char *path);

/*
 * mkdirat(2): create the directory `path` relative to dirfd with `mode`
 * (less the umask).  Suspends.  Returns 0; -EFAULT for a NULL path; or
 * mkdir's error (-EEXIST, -ENOENT for a missing parent...).  Cancelled or
 * timed out: -ECANCELED / -ETIMEDOUT; the directory then may or may not
 * exist, as with rename.
 */
UCO_MUST_USE
UCO_API int uco_mkdirat(int dirfd, const char *path, mode_t mode);

/* uco_mkdirat(AT_FDCWD, path, mode): the same contract. */
UCO_MUST_USE
UCO_API int uco_mkdir(const char *path, mode_t mode);

#ifdef __cplusplus
}
#endif

#endif
