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
 */
#ifndef UCO_IO_STREAM_IMPL_H
#define UCO_IO_STREAM_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uco/stream.h>

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
};

/* Set up s over fd (nothing allocated yet). */
void uco__stream_init(struct uco_stream *s, int fd,
		      const uco_stream_opts *opts);

/* Close s's socket and free its buffers, but not s; flush: one
 * non-blocking send of what is pending first.  Returns as
 * uco_stream_close(). */
int uco__stream_release(struct uco_stream *s, bool flush);

#endif
