/*
 * uco/stream.h — buffered streams over a connected socket (asyncio's
 * StreamReader and StreamWriter in one object), and open_connection.
 *
 * A uco_stream owns its socket: uco_stream_close() closes it.  Reads come
 * from a buffer the stream fills with one recv (an io_uring op) at a time;
 * writes are copied into a buffer that uco_stream_drain() sends.
 *
 * Every suspending call goes through the op layer, so it honours the
 * calling task's cancellation (-ECANCELED) and timeout scopes and
 * uco_wait_for() (-ETIMEDOUT), and returns the result or a negative errno.
 *
 * Nothing is lost or read twice when a call is cut short (cancelled, timed
 * out, or any error): bytes that had already arrived stay in the stream's
 * buffer for the next read call, and bytes that drain had already sent are
 * not sent again.  The one exception is the end of the stream: a read call
 * that cannot complete because the peer closed (-EPIPE, below) hands over
 * what it got and consumes it; uco_stream_partial() says how much.
 *
 * Concurrency: one task may read while another writes (the two sides have
 * separate state), but two tasks must not read (or write) at the same
 * time, and nothing may be in a call on the stream when it is closed.
 * A stream has no lock: use it from the tasks of one core.
 *
 * Limits: the read buffer starts at `read_size` bytes and grows only as
 * far as max(limit, read_size), so a peer that never sends a delimiter
 * cannot make it grow without bound (uco_stream_readexactly() of more than
 * that is read straight into the caller's buffer instead).
 */
#ifndef UCO_STREAM_H
#define UCO_STREAM_H

#include <sys/types.h>

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_stream uco_stream;

#define UCO_STREAM_LIMIT (64 * 1024)     /* default limit, as asyncio's */
#define UCO_STREAM_READ_SIZE (16 * 1024) /* default read buffer */

/* Options for uco_stream_open(); NULL or zeroed fields mean the defaults. */
typedef struct uco_stream_opts {
	/* The most uco_stream_readline()/readuntil()/peek() will buffer while
	 * looking for what they wait for (default UCO_STREAM_LIMIT). */
	size_t limit;
	/* Initial read buffer, and what one recv asks for (default
	 * UCO_STREAM_READ_SIZE; at least 64). */
	size_t read_size;
} uco_stream_opts;

/*
 * Wrap the connected stream socket fd.  Does not suspend; allocates the
 * buffers lazily.  Returns 0, -EBADF (fd < 0), -EINVAL (NULL out) or
 * -ENOMEM.  On success the stream owns fd; on
 * failure the caller still does.
 */
UCO_API int uco_stream_open(uco_stream **out, int fd,
			    const uco_stream_opts *opts);

/*
 * asyncio.open_connection(host, port): resolve host:port, connect to each
 * address in turn until one accepts (see uco_connect_tcp(), which sets
 * TCP_NODELAY), and wrap the socket.  Suspends.  Returns 0 with *out set,
 * to close with uco_stream_close(); or the error of the last address tried
 * (-ECONNREFUSED, -ETIMEDOUT...), a resolver error for an unknown host
 * (UCO_EAI(EAI_NONAME), see uco/error.h), -ENOMEM; -ECANCELED / -ETIMEDOUT
 * when cancelled or timed out, with no socket left open.
 */
UCO_MUST_USE
UCO_API int uco_open_connection(uco_stream **out, const char *host,
				const char *port, const uco_stream_opts *opts);

/* The same over a Unix stream socket (a path starting with '@' is in the
 * abstract namespace; see uco_connect_unix()).  Suspends; the same
 * results, cancellation and timeouts, -ENOENT for no such socket. */
UCO_MUST_USE
UCO_API int uco_open_unix_connection(uco_stream **out, const char *path,
				     const uco_stream_opts *opts);

/* --- reading ------------------------------------------------------------ */

/*
 * Read up to n bytes: what is buffered, or else the result of one recv.
 * Suspends only when nothing is buffered.  Returns the count (> 0), 0 at
 * the end of the stream (or for n == 0), or a negative errno
 * (-ECONNRESET...).
 */
UCO_MUST_USE
UCO_API ssize_t uco_stream_read(uco_stream *s, void *buf, size_t n);

/*
 * Read exactly n bytes, looping over short reads.  Suspends.  Returns n,
 * or:
 *   -EPIPE  the peer closed first (asyncio's IncompleteReadError): the
 *           first uco_stream_partial() bytes of buf hold what came, and
 *           they are consumed;
 *   any other error (-ECANCELED, -ETIMEDOUT, -ECONNRESET...): nothing is
 *           consumed; what arrived stays buffered for the next call.  (For
 *           n larger than the buffer may hold, what arrived is read into
 *           buf and put back on error; should that need memory there is
 *           not, the call returns -ENOMEM with the first
 *           uco_stream_partial() bytes of buf consumed.)
 */
UCO_MUST_USE
UCO_API ssize_t uco_stream_readexactly(uco_stream *s, void *buf, size_t n);

/*
 * Read through the next delimiter (dlen bytes, dlen > 0) and copy it,
 * delimiter included, into buf.  Suspends.  Returns its length, or:
 *   0        the stream ended with nothing buffered;
 *   -EMSGSIZE the delimiter does not end within the first min(limit, cap)
 *           bytes (asyncio's LimitOverrunError).  Nothing is consumed: the
 *           bytes stay buffered, to read with uco_stream_read(), skip with
 *           uco_stream_consume(), or give up on by closing.  The buffer
 *           does not grow past the limit to find out;
 *   -EPIPE  the stream ended before a delimiter: the first
 *           uco_stream_partial() bytes of buf hold the rest of the stream,
 *           consumed (asyncio's IncompleteReadError);
 *   -EINVAL (dlen == 0), or another error, with nothing consumed.
 */
UCO_MUST_USE
UCO_API ssize_t uco_stream_readuntil(uco_stream *s, const void *delim,
				     size_t dlen, void *buf, size_t cap);

/*
 * uco_stream_readuntil() with "\n", except at the end of the stream: as
 * asyncio's readline, the last line is returned even without its "\n"
 * (0 once nothing is left).  -EMSGSIZE leaves the data buffered, as
 * readuntil does (asyncio's readline would discard it).  Suspends, and is
 * cut short by cancellation and timeouts, as uco_stream_readuntil().
 */
UCO_MUST_USE
UCO_API ssize_t uco_stream_readline(uco_stream *s, void *buf, size_t cap);

/*
 * Zero-copy reading.  These wait like their copying cousins but leave the
 * data in the stream's buffer and point *data at it; the pointer is valid
 * until the next call on the stream.  Consume what was used with
 * uco_stream_consume().
 *
 * uco_stream_readuntil_view(): as uco_stream_readuntil() with cap = limit,
 * returning the length through the delimiter; at the end of the stream it
 * returns 0 (nothing buffered) or -EPIPE with uco_stream_partial() bytes
 * still buffered at *data (not consumed).
 *
 * uco_stream_peek(): wait until at least min bytes are buffered (min must
 * not exceed max(limit, read_size): -EMSGSIZE), or the stream ends; returns
 * how many are buffered (possibly more than min; fewer only at the end).
 * min == 0 does not suspend.
 */
UCO_API ssize_t uco_stream_readuntil_view(uco_stream *s, const void *delim,
					  size_t dlen, const void **data);
UCO_API ssize_t uco_stream_peek(uco_stream *s, size_t min, const void **data);

/* Drop n buffered bytes (at most uco_stream_buffered()).  Returns how many
 * were dropped.  Does not suspend. */
UCO_API size_t uco_stream_consume(uco_stream *s, size_t n);

/* Bytes readable without suspending.  Does not suspend. */
UCO_API size_t uco_stream_buffered(const uco_stream *s);

/* True once the peer has closed and everything buffered was read
 * (asyncio's at_eof()).  Does not suspend. */
UCO_API bool uco_stream_at_eof(const uco_stream *s);

/* After -EPIPE from a read call: how many bytes it handed over.  Does not
 * suspend. */
UCO_API size_t uco_stream_partial(const uco_stream *s);

/* --- writing ------------------------------------------------------------ */

/*
 * Append n bytes to the write buffer (asyncio's write()).  Never suspends
 * and never sends: call uco_stream_drain().  Returns 0, -ENOMEM, -EPIPE
 * after uco_stream_write_eof(), or the error an earlier drain met
 * (-EPIPE, -ECONNRESET: the write side is then dead).
 */
UCO_MUST_USE
UCO_API int uco_stream_write(uco_stream *s, const void *buf, size_t n);

/*
 * Send everything buffered (looping over short sends; MSG_NOSIGNAL, so a
 * peer gone is -EPIPE, never SIGPIPE).  Suspends unless the buffer is
 * empty.  Returns 0 or a negative errno.  Cut short by cancellation or a
 * timeout, what was sent is dropped from the buffer and the rest stays, so
 * a later drain sends each byte exactly once.  -EPIPE / -ECONNRESET (and
 * other socket errors) are sticky: later writes and drains return them.
 */
UCO_MUST_USE
UCO_API int uco_stream_drain(uco_stream *s);

/*
 * uco_stream_write() then uco_stream_drain(), with the same results — but
 * sent straight from buf, without copying, when nothing else is pending.
 * Suspends.  Cut short by cancellation or a timeout, what was not sent
 * stays written (pending), for the next drain or close, exactly as with
 * write + drain; after a socket error (sticky, as drain's) it is dropped.
 */
UCO_MUST_USE
UCO_API int uco_stream_send(uco_stream *s, const void *buf, size_t n);

/* Bytes written but not yet sent.  Does not suspend. */
UCO_API size_t uco_stream_pending(const uco_stream *s);

/*
 * Half-close: drain, then shutdown(SHUT_WR), so the peer reads the end of
 * the stream while this side can still read its answer.  Suspends.
 * Returns 0 or the error of the drain or the shutdown.
 */
UCO_MUST_USE
UCO_API int uco_stream_write_eof(uco_stream *s);

/* --- closing ------------------------------------------------------------ */

/*
 * Close the socket and free the stream.  Never suspends.  Bytes written
 * but not drained get one best-effort non-blocking send first (asyncio
 * flushes in the background on close; a uco stream has no background):
 * what the socket buffer takes is delivered, the rest is dropped.  Call
 * uco_stream_drain() first for a delivery you can wait for.  Returns 0, or
 * -EAGAIN if undrained bytes were dropped, or the sticky write error that
 * kept them from being sent.  The stream is gone either way.  NULL: 0.
 */
UCO_MUST_USE
UCO_API int uco_stream_close(uco_stream *s);

/* Close at once, dropping anything not drained (asyncio's abort()): the
 * socket is closed and the stream freed.  Does not suspend.  NULL: no-op. */
UCO_API void uco_stream_abort(uco_stream *s);

/* The socket (still owned by the stream), e.g. for setsockopt().  Does
 * not suspend. */
UCO_API int uco_stream_fd(const uco_stream *s);

/* --- files, pipes, addresses (issue 14) --------------------------------- */

/*
 * One stream interface for sockets, files and pipes.  uco_stream_open_fd()
 * wraps any fd: a socket as uco_stream_open() does; a regular file (or
 * block device) with the same buffered reader and writer over
 * IORING_OP_READ / WRITE at offsets the stream keeps (reads from offset 0,
 * writes from 0, or from the end under O_APPEND; the fd's own position is
 * not used); a pipe, FIFO or terminal at its position.  On a file every
 * call above works as on a socket, with these differences: the end of the
 * file is the end of the stream (a read past it returns 0, readexactly
 * -EPIPE) — a file that grows later can be read on after 0;
 * uco_stream_write_eof() only drains; uco_stream_close() writes what is
 * still pending with a plain write(2) (a regular file takes it at once),
 * so nothing written is lost, and returns its error if it fails.  Does not
 * suspend.  Returns 0, -EBADF, -EINVAL, -ENOMEM, fstat's error.  The
 * stream owns fd on success only.
 */
UCO_API int uco_stream_open_fd(uco_stream **out, int fd,
			       const uco_stream_opts *opts);

/*
 * aiofiles.open(path, mode): open path (uco_open(): flags such as O_RDONLY,
 * O_WRONLY | O_CREAT | O_TRUNC, O_APPEND; O_CLOEXEC is added) and wrap it
 * with uco_stream_open_fd().  Suspends (the open).  Returns 0 with *out
 * set, to close with uco_stream_close(); open's error (-ENOENT...);
 * -ECANCELED / -ETIMEDOUT, with nothing left open.
 *
 *	UCO_TRY(uco_stream_open_file(&f, "log.txt", O_RDONLY, 0, NULL));
 *	while ((n = uco_stream_readline(f, line, sizeof line)) > 0)
 *		fwrite(line, 1, (size_t)n, stdout);    // async for line in f
 */
UCO_MUST_USE
UCO_API int uco_stream_open_file(uco_stream **out,
				 const char *path, int flags,
				 mode_t mode,
				 const uco_stream_opts *opts);

/* aiofiles' flush(): uco_stream_drain() under the name files use. */
UCO_MUST_USE
UCO_API int uco_stream_flush(uco_stream *s);

/*
 * get_extra_info('peername') / ('sockname'): the address of the socket's
 * peer / its own, written into buf as text: "127.0.0.1:8888",
 * "[::1]:8888", a Unix socket's path ("@name" for the abstract
 * namespace).  Does not suspend.  Returns 0; -ENOSPC (buf too small),
 * -EBADF (closed), -EINVAL, getpeername's error (-ENOTCONN; -ENOTSOCK for
 * a file stream), -EAFNOSUPPORT.
 */
UCO_API int uco_stream_peername(const uco_stream *s, char *buf, size_t len);
UCO_API int uco_stream_sockname(const uco_stream *s, char *buf, size_t len);

/* uco_open_connection() with the port as a number (uco_server_port()
 * gives one).  Same results; -EINVAL for a port outside 0..65535. */
UCO_MUST_USE
UCO_API int uco_open_connection_port(uco_stream **out,
				     const char *host, int port,
				     const uco_stream_opts *opts);

#ifdef __cplusplus
}
#endif

#endif
