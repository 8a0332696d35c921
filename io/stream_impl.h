/*
 * io/stream_impl.h — the stream record (uco/stream.h), shared with the
 * server (io/server.c), which keeps one inside each connection's record
 * instead of allocating it apart.
 *
 * Read buffer: rbuf[rhead, rtail) is buffered data; it is allocated on
 * first use with read_size bytes and grows (doubling) up to rmax =
 * max(limit, read_size).  Only putting back what a cut-short large
 * readexactly() had received can take it past rmax; it is freed as soon as
 * it empties then.  Write buffer: wbuf[whead, wtail) is written but not
 * yet sent.
 *
 * Transport: a stream moves its bytes through `io`, a table of functions:
 * uco_recv()/uco_send() on its socket by default (uco__stream_socket_io);
 * files and pipes (stream_file.c), a child's pipes (process.c) and TLS
 * (tls.c) bring their own, with xctx as their state.  The buffering above
 * is the same for all of them.
 */
#ifndef UCO_IO_STREAM_IMPL_H
#define UCO_IO_STREAM_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uco/stream.h>

struct uco__stream_xport;

struct uco_stream {
	int fd;             /* -1 once closed */
	bool eof;           /* a recv returned 0 */
	bool wshut;         /* uco_stream_write_eof() done */
	bool embedded;      /* inside another record: close does not free it */
	int werr;           /* sticky send error, 0 if none */
	size_t limit;
	size_t rsize;       /* initial read buffer, and the direct-read threshold */
	size_t rmax;        /* max(limit, rsize) */
	size_t partial;     /* what the last -EPIPE handed over */
	char *rbuf;
	size_t rcap, rhead, rtail;
	char *wbuf;
	size_t wcap, whead, wtail;
	/* Read timeouts (uco_server_opts: idle_timeout, read_timeout), 0:
	 * none.  read_deadline: the current read call's, set when it first
	 * has a byte of what it reads (0: not yet).  rtimedout: one of them
	 * expired; every read fails at once from then on. */
	uint64_t idle_ns, read_ns;
	uint64_t read_deadline;
	bool rtimedout;

	/* How bytes move (the transport): sockets by default; see above.
	 * xctx: the transport's state (NULL for sockets and files).
	 * roff / woff: a regular file's read and write offsets (-1 for the
	 * fd's own position: pipes, ttys). */
	const struct uco__stream_io *io;
	void *xctx;
	int64_t roff, woff;
};

/*
 * A stream's transport: what the buffered reader and writer call to move
 * bytes.  Each function gets the stream (fd and xctx in it).
 */
struct uco__stream_io {
	/* One receive into buf (len > 0): the count, 0 at the end of the
	 * stream, or a negative errno.  Suspends; cancellation and timeout
	 * scopes cut it short with nothing lost. */
	ssize_t (*recv)(struct uco_stream *s, void *buf, size_t len);
	/* One send from buf (len > 0): the count sent (> 0) or a negative
	 * errno (never a SIGPIPE).  Suspends, as recv. */
	ssize_t (*send)(struct uco_stream *s, const void *buf, size_t len);
	/* The same without suspending: what it could send now, -EAGAIN if
	 * nothing.  For the best-effort flush of uco_stream_close(). */
	ssize_t (*send_now)(struct uco_stream *s, const void *buf, size_t len);
	/* Half-close the sending side (what was sent is already sent).  May
	 * suspend.  0 or a negative errno. */
	int (*shutdown_wr)(struct uco_stream *s);
	/* NULL, or: free xctx (the stream closes fd itself); graceful: a
	 * close, not an abort (TLS sends its close_notify).  Never
	 * suspends. */
	void (*release)(struct uco_stream *s, bool graceful);
};

/* The socket transport (stream.c) and the file / pipe one
 * (stream_file.c). */
extern const struct uco__stream_io uco__stream_socket_io;
extern const struct uco__stream_io uco__stream_file_io;

/* Wrap fd with transport io (state xctx); as uco_stream_open().  On
 * failure neither fd nor xctx is released. */
int uco__stream_open_xport(struct uco_stream **out, int fd,
			   const uco_stream_opts *opts,
			   const struct uco__stream_io *io, void *xctx);

/* Set up s over fd (nothing allocated yet). */
void uco__stream_init(struct uco_stream *s, int fd,
		      const uco_stream_opts *opts);

/* Close s's socket and free its buffers, but not s; flush: one
 * non-blocking send of what is pending first.  Returns as
 * uco_stream_close(). */
int uco__stream_release(struct uco_stream *s, bool flush);

/* A stream over one end of a pipe (io/process.c): reads with
 * IORING_OP_READ (the read end must be blocking), writes without SIGPIPE
 * (the write end must be nonblocking).  As uco_stream_open(). */
int uco__pipe_stream_open(struct uco_stream **out, int fd,
			  const uco_stream_opts *opts);

#endif
