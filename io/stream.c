/*
 * Buffered streams (uco/stream.h): a read buffer filled by one uco_recv()
 * at a time, a write buffer emptied by uco_send() (or by the receive and
 * send of another transport, stream_impl.h); both go through the op
 * layer, so cancellation and timeouts need nothing here beyond keeping the
 * buffers consistent whenever a call returns early.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uco/net.h>
#include <uco/stream.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "stream_impl.h"

#define MIN_READ_SIZE 64
#define MIN_WRITE_BUF 4096
/* A write buffer larger than this is freed once drained. */
#define KEEP_WRITE_BUF (256 * 1024)

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static size_t max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

void uco__stream_init(struct uco_stream *s, int fd,
		      const uco_stream_opts *opts)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->limit = opts && opts->limit ? opts->limit : UCO_STREAM_LIMIT;
	s->rsize = opts && opts->read_size ? opts->read_size
					   : UCO_STREAM_READ_SIZE;
	if (s->rsize < MIN_READ_SIZE)
		s->rsize = MIN_READ_SIZE;
	s->rmax = max_sz(s->limit, s->rsize);
	s->io = &uco__stream_socket_io;
	s->roff = s->woff = -1;
}

int uco__stream_open_xport(struct uco_stream **out, int fd,
			   const uco_stream_opts *opts,
			   const struct uco__stream_io *io, void *xctx)
{
	int r = uco_stream_open(out, fd, opts);

	if (r == 0) {
		(*out)->io = io;
		(*out)->xctx = xctx;
	}
	return r;
}

UCO_API int uco_stream_open(uco_stream **out, int fd,
			    const uco_stream_opts *opts)
{
	struct uco_stream *s;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (fd < 0)
		return -EBADF;
	s = uco__alloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	uco__stream_init(s, fd, opts);
	*out = s;
	return 0;
}

static int wrap(uco_stream **out, int fd, const uco_stream_opts *opts)
{
	int r;

	if (fd < 0)
		return fd;
	r = uco_stream_open(out, fd, opts);
	if (r < 0)
		close(fd);
	return r;
}

UCO_API int uco_open_connection(uco_stream **out, const char *host,
				const char *port, const uco_stream_opts *opts)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	return wrap(out, uco_connect_tcp(host, port), opts);
}

UCO_API int uco_open_unix_connection(uco_stream **out, const char *path,
				     const uco_stream_opts *opts)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	return wrap(out, uco_connect_unix(path), opts);
}

/* ---- the read buffer ------------------------------------------------- */

static size_t avail(const struct uco_stream *s)
{
	return s->rtail - s->rhead;
}

/* Drop n buffered bytes (n <= avail). */
static void rdrop(struct uco_stream *s, size_t n)
{
	s->rhead += n;
	if (s->rhead != s->rtail)
		return;
	s->rhead = s->rtail = 0;
	if (s->rcap > s->rmax) {
		/* It grew past the limit to take back a cut-short large
		 * readexactly(); do not keep that much for good. */
		uco__free(s->rbuf, s->rcap);
		s->rbuf = NULL;
		s->rcap = 0;
	}
}

/* Move the buffered bytes into a buffer of ncap bytes (>= avail). */
/* Move the n bytes at *buf + head to the start of a new buffer of ncap
 * bytes, which replaces *buf (of *cap bytes). */
static int buf_regrow(char **buf, size_t *cap, size_t head, size_t n,
		      size_t ncap)
{
	char *nb = uco__alloc(ncap);

	if (!nb)
		return -ENOMEM;
	if (n)
		memcpy(nb, *buf + head, n);
	uco__free(*buf, *cap);
	*buf = nb;
	*cap = ncap;
	return 0;
}

static int rresize(struct uco_stream *s, size_t ncap)
{
	size_t n = avail(s);
	int r = buf_regrow(&s->rbuf, &s->rcap, s->rhead, n, ncap);

	if (r < 0)
		return r;
	s->rhead = 0;
	s->rtail = n;
	return 0;
}

/* now + ns, without overflow. */
static uint64_t after(uint64_t now, uint64_t ns)
{
	return ns < UINT64_MAX - now ? now + ns : UINT64_MAX;
}

/*
 * One receive for a read call that already has part of what it reads
 * (have) or nothing yet, under the stream's read timeouts when it has
 * them (uco/server.h, uco_server_opts): a timeout scope for the idle or
 * the read deadline, unless a scope of the caller's own is nearer.  Our
 * scope expiring makes the stream's reads fail for good (rtimedout).
 */
static ssize_t srecv(struct uco_stream *s, void *buf, size_t len, bool have)
{
	uint64_t now, dl;
	ssize_t r;
	int scope;

	if (have ? !s->read_ns : !s->idle_ns)
		return s->io->recv(s, buf, len);
	now = uco_now();
	if (have) {
		if (!s->read_deadline)
			s->read_deadline = after(now, s->read_ns);
		dl = s->read_deadline;
	} else {
		dl = after(now, s->idle_ns);
	}
	if (uco_deadline() <= dl)
		return s->io->recv(s, buf, len); /* the caller's is nearer */
	scope = uco_timeout_at(dl);
	if (scope < 0)
		return scope;
	r = s->io->recv(s, buf, len);
	uco_timeout_end(scope);
	if (r == -ETIMEDOUT && uco_now() >= dl)
		s->rtimedout = true;
	return r;
}

/*
 * Make sure the buffer can hold `want` bytes from rhead (want <= rmax, or
 * anything when 0) and has room for at least one more, then receive once
 * into the free space.  Returns the count, 0 at the end of the stream, or
 * a negative errno; the buffered bytes are untouched whatever happens.
 */
static ssize_t fill(struct uco_stream *s, size_t want)
{
	size_t n = avail(s);
	size_t need = max_sz(want, n + 1);
	ssize_t r;

	if (n == 0)
		s->rhead = s->rtail = 0;
	if (s->rcap < need) {
		size_t ncap = max_sz(s->rcap ? s->rcap * 2 : s->rsize, need);

		r = rresize(s, min_sz(ncap, max_sz(s->rmax, need)));
		if (r < 0)
			return r;
	} else if (s->rcap - s->rhead < need ||
		   (s->rhead && s->rcap - s->rtail < s->rsize / 2)) {
		/* Slide the data down: room for what is wanted, and for a
		 * recv of a useful size. */
		memmove(s->rbuf, s->rbuf + s->rhead, n);
		s->rhead = 0;
		s->rtail = n;
	}
	r = srecv(s, s->rbuf + s->rtail, s->rcap - s->rtail, n > 0);
	if (r > 0)
		s->rtail += (size_t)r;
	else if (r == 0)
		s->eof = true;
	return r;
}

/* Put n bytes received straight into the caller's buffer back in front
 * (the buffer is empty: they were read past it). */
static int unread(struct uco_stream *s, const void *data, size_t n)
{
	if (n == 0)
		return 0;
	if (s->rcap < n) {
		int r = rresize(s, max_sz(n, s->rsize));

		if (r < 0)
			return r;
	}
	memcpy(s->rbuf, data, n);
	s->rhead = 0;
	s->rtail = n;
	return 0;
}

static int check(const struct uco_stream *s)
{
	if (!s)
		return -EINVAL;
	return s->fd < 0 ? -EBADF : 0;
}

/* check() for a read call, which also starts the call's read timeout
 * afresh, or fails at once once a read timeout has expired. */
static int rcheck(struct uco_stream *s)
{
	int r = check(s);

	if (r < 0)
		return r;
	s->read_deadline = 0;
	return s->rtimedout ? -ETIMEDOUT : 0;
}

/* ---- reading ----------------------------------------------------------- */

UCO_API ssize_t uco_stream_read(uco_stream *s, void *buf, size_t n)
{
	ssize_t r = rcheck(s);

	if (r < 0)
		return r;
	if (n == 0)
		return 0;
	if (!buf)
		return -EFAULT;
	if (avail(s) == 0) {
		if (s->eof)
			return 0;
		if (n >= s->rsize) {
			/* A large read: straight into the caller's buffer. */
			r = srecv(s, buf, n, false);
			if (r == 0)
				s->eof = true;
			return r;
		}
		r = fill(s, 0);
		if (r <= 0)
			return r;
	}
	n = min_sz(n, avail(s));
	memcpy(buf, s->rbuf + s->rhead, n);
	rdrop(s, n);
	return (ssize_t)n;
}

/* The end of the stream came too early: hand over what is buffered, at
 * most cap bytes (the caller's buffer; every caller has fewer than cap
 * buffered, but a copy into the caller's memory is bounded by the caller's
 * size, never by what happens to be buffered). */
static ssize_t hand_over(struct uco_stream *s, void *buf, size_t cap)
{
	size_t n = min_sz(avail(s), cap);

	if (n)
		memcpy(buf, s->rbuf + s->rhead, n);
	rdrop(s, n);
	s->partial = n;
	return -EPIPE;
}

UCO_API ssize_t uco_stream_readexactly(uco_stream *s, void *buf, size_t n)
{
	ssize_t r = rcheck(s);
	size_t got;

	if (r < 0)
		return r;
	s->partial = 0;
	if (n == 0)
		return 0;
	if (!buf)
		return -EFAULT;
	if (n <= s->rmax) {
		/* Gather it in the buffer, so that a call cut short keeps
		 * everything there. */
		while (avail(s) < n) {
			if (s->eof)
				return hand_over(s, buf, n);
			r = fill(s, n);
			if (r < 0)
				return r;
		}
		memcpy(buf, s->rbuf + s->rhead, n);
		rdrop(s, n);
		return (ssize_t)n;
	}
	/* More than the buffer may hold: receive straight into buf, and put
	 * it all back should the call be cut short.  What is buffered can be
	 * more than n even though n > rmax: the put-back of an earlier,
	 * larger call cut short may have left up to that call's n there.
	 * Take only n of it; the rest stays for the next read. */
	got = min_sz(avail(s), n);
	if (got)
		memcpy(buf, s->rbuf + s->rhead, got);
	rdrop(s, got);
	while (got < n) {
		if (s->eof) {
			s->partial = got;
			return -EPIPE;
		}
		r = srecv(s, (char *)buf + got, n - got, got > 0);
		if (r == 0) {
			s->eof = true;
			continue;
		}
		if (r < 0) {
			if (unread(s, buf, got) < 0) {
				/* Cannot keep them: they are the caller's. */
				s->partial = got;
				return -ENOMEM;
			}
			return r;
		}
		got += (size_t)r;
	}
	return (ssize_t)n;
}

/*
 * Wait until the buffer holds dlen-byte delim ending within `bound` bytes
 * of its start.  Returns that length, 0 at the end of the stream with
 * nothing buffered, -EPIPE at the end with partial = avail (still
 * buffered), -EMSGSIZE if bound bytes are buffered without it, or an error.
 */
static ssize_t until(struct uco_stream *s, const void *delim, size_t dlen,
		     size_t bound)
{
	size_t from = 0; /* bytes already searched, from rhead */

	s->partial = 0;
	if (dlen == 0 || !delim)
		return -EINVAL;
	for (;;) {
		size_t n = avail(s), span = min_sz(n, bound);
		ssize_t r;

		if (span >= dlen && span - from >= dlen) {
			const char *base = s->rbuf + s->rhead;
			const char *p =
				dlen == 1 ? memchr(base + from,
						   *(const char *)delim,
						   span - from)
					  : memmem(base + from, span - from,
						   delim, dlen);
			if (p)
				return (ssize_t)((size_t)(p - base) + dlen);
			from = span - (dlen - 1);
		}
		if (n >= bound)
			return -EMSGSIZE;
		if (s->eof) {
			s->partial = n;
			return n ? -EPIPE : 0;
		}
		r = fill(s, bound);
		if (r < 0)
			return r;
	}
}

UCO_API ssize_t uco_stream_readuntil(uco_stream *s, const void *delim,
				     size_t dlen, void *buf, size_t cap)
{
	ssize_t r = rcheck(s);

	if (r < 0)
		return r;
	if (!buf && cap)
		return -EFAULT;
	r = until(s, delim, dlen, min_sz(s->limit, cap));
	if (r == -EPIPE)
		return hand_over(s, buf, cap);
	if (r > 0) {
		memcpy(buf, s->rbuf + s->rhead, (size_t)r);
		rdrop(s, (size_t)r);
	}
	return r;
}

UCO_API ssize_t uco_stream_readline(uco_stream *s, void *buf, size_t cap)
{
	ssize_t r = uco_stream_readuntil(s, "\n", 1, buf, cap);

	if (r == -EPIPE)
		return (ssize_t)s->partial; /* the last line, unterminated */
	return r;
}

UCO_API ssize_t uco_stream_readuntil_view(uco_stream *s, const void *delim,
					  size_t dlen, const void **data)
{
	ssize_t r = rcheck(s);

	if (r < 0)
		return r;
	if (!data)
		return -EFAULT;
	r = until(s, delim, dlen, s->limit);
	*data = s->rbuf ? s->rbuf + s->rhead : NULL;
	return r;
}

UCO_API ssize_t uco_stream_peek(uco_stream *s, size_t min, const void **data)
{
	ssize_t r = rcheck(s);

	if (r < 0)
		return r;
	if (!data)
		return -EFAULT;
	if (min > s->rmax)
		return -EMSGSIZE;
	while (avail(s) < min && !s->eof) {
		r = fill(s, min);
		if (r < 0)
			return r;
	}
	*data = s->rbuf ? s->rbuf + s->rhead : NULL;
	return (ssize_t)avail(s);
}

UCO_API size_t uco_stream_consume(uco_stream *s, size_t n)
{
	if (!s)
		return 0;
	n = min_sz(n, avail(s));
	rdrop(s, n);
	return n;
}

UCO_API size_t uco_stream_buffered(const uco_stream *s)
{
	return s ? avail(s) : 0;
}

UCO_API bool uco_stream_at_eof(const uco_stream *s)
{
	return s && s->eof && avail(s) == 0;
}

UCO_API size_t uco_stream_partial(const uco_stream *s)
{
	return s ? s->partial : 0;
}

/* ---- writing ----------------------------------------------------------- */

UCO_API int uco_stream_write(uco_stream *s, const void *buf, size_t n)
{
	int r = check(s);
	size_t pending;

	if (r < 0)
		return r;
	if (s->werr)
		return s->werr;
	if (s->wshut)
		return -EPIPE;
	if (n == 0)
		return 0;
	if (!buf)
		return -EFAULT;
	pending = s->wtail - s->whead;
	if (n > SIZE_MAX / 2 - pending) {
		/* pending + n (and the doubling below) must not wrap: a
		 * wrapped size would pass the room check and the copy of n
		 * bytes would run past the new buffer. */
		return -ENOMEM;
	}
	if (pending == 0)
		s->whead = s->wtail = 0;
	if (s->wcap - s->wtail < n) {
		if (s->wcap - pending >= n && s->wcap - pending >= s->wcap / 2) {
			memmove(s->wbuf, s->wbuf + s->whead, pending);
		} else {
			size_t ncap = max_sz(max_sz(s->wcap * 2, MIN_WRITE_BUF),
					     pending + n);

			r = buf_regrow(&s->wbuf, &s->wcap, s->whead, pending,
				       ncap);
			if (r < 0)
				return r;
		}
		s->whead = 0;
		s->wtail = pending;
	}
	memcpy(s->wbuf + s->wtail, buf, n);
	s->wtail += n;
	return 0;
}

/* Errors that say nothing about the socket: the call was interrupted. */
static bool transient(int err)
{
	return err == -ECANCELED || err == -ETIMEDOUT || err == -EINTR ||
	       err == -EAGAIN || err == -ENOMEM || err == -EPERM;
}

UCO_API int uco_stream_drain(uco_stream *s)
{
	int r = check(s);

	if (r < 0)
		return r;
	if (s->werr)
		return s->werr;
	while (s->whead < s->wtail) {
		ssize_t n = s->io->send(s, s->wbuf + s->whead,
					s->wtail - s->whead);
		if (n < 0) {
			if (!transient((int)n))
				s->werr = (int)n;
			return (int)n;
		}
		s->whead += (size_t)n;
	}
	s->whead = s->wtail = 0;
	if (s->wcap > KEEP_WRITE_BUF) {
		uco__free(s->wbuf, s->wcap);
		s->wbuf = NULL;
		s->wcap = 0;
	}
	return 0;
}

UCO_API int uco_stream_send(uco_stream *s, const void *buf, size_t n)
{
	int r = check(s);
	size_t done = 0;

	if (r < 0)
		return r;
	if (s->werr)
		return s->werr;
	if (s->wshut)
		return -EPIPE;
	if (!buf && n)
		return -EFAULT;
	if (s->whead != s->wtail) {
		/* Behind what is pending: in order, through the buffer. */
		r = uco_stream_write(s, buf, n);
		return r < 0 ? r : uco_stream_drain(s);
	}
	while (done < n) {
		ssize_t k = s->io->send(s, (const char *)buf + done,
					n - done);
		if (k < 0) {
			if (!transient((int)k)) {
				s->werr = (int)k;
				return (int)k;
			}
			/* Cut short: the rest is written, as with write +
			 * drain (-ENOMEM here loses it: reported as is). */
			r = uco_stream_write(s, (const char *)buf + done,
					     n - done);
			return r < 0 ? r : (int)k;
		}
		done += (size_t)k;
	}
	return 0;
}

UCO_API size_t uco_stream_pending(const uco_stream *s)
{
	return s ? s->wtail - s->whead : 0;
}

UCO_API int uco_stream_write_eof(uco_stream *s)
{
	int r = check(s);

	if (r < 0)
		return r;
	if (s->wshut)
		return 0;
	r = uco_stream_drain(s);
	if (r < 0)
		return r;
	r = s->io->shutdown_wr(s);
	if (r == 0)
		s->wshut = true;
	return r;
}

/* ---- closing ----------------------------------------------------------- */

int uco__stream_release(struct uco_stream *s, bool flush)
{
	size_t pending = s->wtail - s->whead;
	int r = 0;

	if (s->fd < 0)
		return 0;
	if (flush && pending) {
		if (s->werr) {
			r = s->werr;
		} else {
			ssize_t n = s->io->send_now(s, s->wbuf + s->whead,
						    pending);
			if (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK)
				r = (int)n;
			else if (n < 0 || (size_t)n < pending)
				r = -EAGAIN;
		}
	}
	if (s->io->release)
		s->io->release(s, flush);
	s->io = &uco__stream_socket_io;
	s->xctx = NULL;
	if (close(s->fd) < 0 && errno != EINTR && r == 0)
		r = -errno;
	s->fd = -1;
	uco__free(s->rbuf, s->rcap);
	uco__free(s->wbuf, s->wcap);
	s->rbuf = s->wbuf = NULL;
	s->rcap = s->wcap = 0;
	s->rhead = s->rtail = s->whead = s->wtail = 0;
	return r;
}

UCO_API int uco_stream_close(uco_stream *s)
{
	int r;

	if (!s)
		return 0;
	r = uco__stream_release(s, true);
	if (!s->embedded)
		uco__free(s, sizeof(*s));
	return r;
}

UCO_API void uco_stream_abort(uco_stream *s)
{
	if (!s)
		return;
	uco__stream_release(s, false);
	if (!s->embedded)
		uco__free(s, sizeof(*s));
}

UCO_API int uco_stream_fd(const uco_stream *s)
{
	return s ? s->fd : -EINVAL;
}

/* ---- the socket transport ---------------------------------------------- */

static ssize_t sock_recv(struct uco_stream *s, void *buf, size_t len)
{
	return uco_recv(s->fd, buf, len, 0);
}

static ssize_t sock_send(struct uco_stream *s, const void *buf, size_t len)
{
	return uco_send(s->fd, buf, len, 0);
}

static ssize_t sock_send_now(struct uco_stream *s, const void *buf,
			     size_t len)
{
	ssize_t n = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	return n < 0 ? -errno : n;
}

static int sock_shutdown_wr(struct uco_stream *s)
{
	return uco_shutdown(s->fd, SHUT_WR);
}

const struct uco__stream_io uco__stream_socket_io = {
	.recv = sock_recv,
	.send = sock_send,
	.send_now = sock_send_now,
	.shutdown_wr = sock_shutdown_wr,
};
