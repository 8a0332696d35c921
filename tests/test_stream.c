/*
 * Suite "stream": buffered streams (include/uco/stream.h) over socket
 * pairs and TCP.  Every byte that goes through is checked against a
 * pattern; calls cut short by timeouts and cancellation are shown to keep
 * what had arrived (nothing lost, nothing read or sent twice); limits keep
 * the buffer bounded against a peer that never sends the delimiter.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

/* glibc keeps what its first name resolutions load (NSS modules, resolver
 * state, per-thread TLS for them) for the life of the process; resolve
 * once on every offload thread before a leak check starts counting. */
static void *resolve_once(void *arg)
{
	struct addrinfo *ai;

	if (uco_getaddrinfo("127.0.0.1", "1", NULL, &ai) == 0)
		freeaddrinfo(ai);
	if (uco_getaddrinfo("localhost", "1", NULL, &ai) == 0)
		freeaddrinfo(ai);
	return NULL;
}

static void body_resolve_warm(void *arg)
{
	uco_task *t[8];

	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(uco_spawn(&t[i], resolve_once, NULL, NULL), 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
}

/* lc_run() for bodies that resolve names. */
static void lc_run_net(void (*body)(void *), void *arg)
{
	th_run(body_resolve_warm, NULL, NULL);
	lc_run(body, arg, NULL);
}

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 131u + 7u + (i >> 9));
}

static void fill_pat(uint8_t *b, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(off + i);
}

/* Index of the first byte that is not the pattern from off, or n. */
static size_t check_pat(const uint8_t *b, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(off + i))
			return i;
	return n;
}

static void pair(int sv[2])
{
	ck_assert_int_eq(
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void send_str(int fd, const char *s)
{
	size_t n = strlen(s);

	ck_assert_int_eq(uco_send_all(fd, s, n, 0), (ssize_t)n);
}

/* A stream on sv[0], the raw peer on sv[1]. */
static uco_stream *stream_pair(int sv[2], const uco_stream_opts *opts)
{
	uco_stream *s;

	pair(sv);
	ck_assert_int_eq(uco_stream_open(&s, sv[0], opts), 0);
	ck_assert_int_eq(uco_stream_fd(s), sv[0]);
	return s;
}

/* ---- reading ------------------------------------------------------------ */

static void body_read_write(void *arg)
{
	int sv[2];
	uco_stream *a, *b;
	char buf[64];

	pair(sv);
	ck_assert_int_eq(uco_stream_open(&a, sv[0], NULL), 0);
	ck_assert_int_eq(uco_stream_open(&b, sv[1], NULL), 0);
	ck_assert_int_eq(uco_stream_write(a, "hello ", 6), 0);
	ck_assert_int_eq(uco_stream_write(a, "world", 5), 0);
	ck_assert_uint_eq(uco_stream_pending(a), 11);
	ck_assert_int_eq(uco_stream_drain(a), 0);
	ck_assert_uint_eq(uco_stream_pending(a), 0);
	ck_assert_int_eq(uco_stream_drain(a), 0); /* nothing: no op */
	ck_assert_int_eq(uco_stream_readexactly(b, buf, 11), 11);
	ck_assert(memcmp(buf, "hello world", 11) == 0);
	ck_assert_uint_eq(uco_stream_buffered(b), 0);
	/* read returns what is there, up to n */
	ck_assert_int_eq(uco_stream_write(b, "abcdef", 6), 0);
	ck_assert_int_eq(uco_stream_drain(b), 0);
	ck_assert_int_eq(uco_stream_read(a, buf, 4), 4);
	ck_assert(memcmp(buf, "abcd", 4) == 0);
	ck_assert_uint_eq(uco_stream_buffered(a), 2);
	ck_assert_int_eq(uco_stream_read(a, buf, sizeof(buf)), 2);
	ck_assert(memcmp(buf, "ef", 2) == 0);
	ck_assert_int_eq(uco_stream_read(a, buf, 0), 0);
	/* end of stream */
	ck_assert_int_eq(uco_stream_close(b), 0);
	ck_assert(!uco_stream_at_eof(a));
	ck_assert_int_eq(uco_stream_read(a, buf, sizeof(buf)), 0);
	ck_assert(uco_stream_at_eof(a));
	ck_assert_int_eq(uco_stream_read(a, buf, sizeof(buf)), 0);
	ck_assert_int_eq(uco_stream_close(a), 0);
	ck_assert_int_eq(uco_stream_close(NULL), 0);
	uco_stream_abort(NULL);
}

START_TEST(read_write)
{
	lc_run(body_read_write, NULL, NULL);
}
END_TEST

/* A peer that sends one byte per send, yielding between. */
struct dribbler {
	int fd;
	size_t n;
	size_t chunk;
};

static void *dribble_task(void *arg)
{
	struct dribbler *d = arg;
	uint8_t b[64];

	for (size_t off = 0; off < d->n;) {
		size_t k = d->n - off < d->chunk ? d->n - off : d->chunk;

		fill_pat(b, off, k);
		ck_assert_int_eq(uco_send_all(d->fd, b, k, 0), (ssize_t)k);
		off += k;
		if (off % 7 == 0)
			ck_assert_int_eq(uco_yield(), 0);
	}
	return NULL;
}

/* readexactly over thousands of 1..3-byte sends, in sizes from 1 byte to
 * more than the buffer may hold (the direct path). */
static void body_readexactly_tiny(void *arg)
{
	enum { N = 20000 };
	static const size_t sizes[] = { 1, 2, 3, 17, 64, 100, 1000, 3, 4096 };
	uco_stream_opts o = { .limit = 256, .read_size = 64 };
	struct dribbler d;
	uco_task *t;
	uco_stream *s;
	uint8_t *buf = malloc(N);
	size_t off = 0;
	int sv[2];

	s = stream_pair(sv, &o);
	for (size_t chunk = 1; chunk <= 3; chunk++) {
		d = (struct dribbler){ sv[1], N, chunk };
		ck_assert_int_eq(uco_spawn(&t, dribble_task, &d, NULL), 0);
		off = 0;
		for (size_t i = 0; off < N; i++) {
			size_t k = sizes[i % (sizeof(sizes) / sizeof(*sizes))];

			if (k > N - off)
				k = N - off;
			LC_CHECK(uco_stream_readexactly(s, buf, k) == (ssize_t)k,
				 "readexactly %zu at %zu", k, off);
			LC_CHECK(check_pat(buf, off, k) == k, "bad byte at %zu",
				 off + check_pat(buf, off, k));
			off += k;
		}
		ck_assert_int_eq(uco_join(t, NULL), 0);
		uco_task_release(t);
		ck_assert_uint_eq(uco_stream_buffered(s), 0);
	}
	ck_assert_int_eq(uco_stream_readexactly(s, buf, 0), 0);
	free(buf);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_close(s), 0);
}

START_TEST(readexactly_tiny_sends)
{
	lc_run(body_readexactly_tiny, NULL, NULL);
}
END_TEST

/* The peer closes early: -EPIPE, and partial says how much came. */
static void body_readexactly_eof(void *arg)
{
	uco_stream_opts small = { .limit = 64, .read_size = 64 };
	uint8_t out[300], in[1000];
	uco_stream *s;
	int sv[2];

	/* within the buffer's size */
	s = stream_pair(sv, NULL);
	fill_pat(out, 0, 10);
	ck_assert_int_eq(uco_send_all(sv[1], out, 10, 0), 10);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_readexactly(s, in, 100), -EPIPE);
	ck_assert_uint_eq(uco_stream_partial(s), 10);
	ck_assert_uint_eq(check_pat(in, 0, 10), 10);
	ck_assert_uint_eq(uco_stream_buffered(s), 0);
	ck_assert(uco_stream_at_eof(s));
	ck_assert_int_eq(uco_stream_readexactly(s, in, 1), -EPIPE);
	ck_assert_uint_eq(uco_stream_partial(s), 0);
	ck_assert_int_eq(uco_stream_close(s), 0);

	/* larger than the buffer may hold: the direct path */
	s = stream_pair(sv, &small);
	fill_pat(out, 0, 300);
	ck_assert_int_eq(uco_send_all(sv[1], out, 300, 0), 300);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_readexactly(s, in, 1000), -EPIPE);
	ck_assert_uint_eq(uco_stream_partial(s), 300);
	ck_assert_uint_eq(check_pat(in, 0, 300), 300);
	ck_assert_int_eq(uco_stream_close(s), 0);
}

START_TEST(readexactly_eof)
{
	lc_run(body_readexactly_eof, NULL, NULL);
}
END_TEST

static void body_readline(void *arg)
{
	char buf[64];
	uco_stream *s;
	int sv[2];

	s = stream_pair(sv, NULL);
	send_str(sv[1], "one\ntwo\n\nthr");
	send_str(sv[1], "ee\nlast");
	close(sv[1]);
	ck_assert_int_eq(uco_stream_readline(s, buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "one\n", 4) == 0);
	ck_assert_int_eq(uco_stream_readline(s, buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "two\n", 4) == 0);
	ck_assert_int_eq(uco_stream_readline(s, buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], '\n');
	ck_assert_int_eq(uco_stream_readline(s, buf, sizeof(buf)), 6);
	ck_assert(memcmp(buf, "three\n", 6) == 0);
	/* the last line without its newline, then nothing */
	ck_assert_int_eq(uco_stream_readline(s, buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "last", 4) == 0);
	ck_assert_int_eq(uco_stream_readline(s, buf, sizeof(buf)), 0);
	ck_assert_int_eq(uco_stream_readline(s, buf, sizeof(buf)), 0);
	ck_assert_int_eq(uco_stream_close(s), 0);
}

START_TEST(readline)
{
	lc_run(body_readline, NULL, NULL);
}
END_TEST

/* A peer that keeps sending and never sends the newline. */
struct flooder {
	int fd;
	size_t sent;
};

static void *flood_task(void *arg)
{
	struct flooder *f = arg;
	char b[1000];

	memset(b, 'x', sizeof(b));
	for (;;) {
		ssize_t n = uco_send(f->fd, b, sizeof(b), 0);

		if (n < 0)
			return uco_fail((int)n);
		f->sent += (size_t)n;
	}
}

static void body_readline_limit(void *arg)
{
	uco_stream_opts o = { .limit = 4096, .read_size = 1024 };
	struct flooder f = { 0 };
	char *buf = malloc(8192);
	const void *view;
	uco_task *t;
	uco_stream *s;
	int sv[2];

	s = stream_pair(sv, &o);
	f.fd = sv[1];
	ck_assert_int_eq(uco_spawn(&t, flood_task, &f, NULL), 0);
	/* The limit is hit; the buffer holds the limit and no more. */
	ck_assert_int_eq(uco_stream_readline(s, buf, 8192), -EMSGSIZE);
	ck_assert_uint_eq(uco_stream_buffered(s), 4096);
	/* Again: it does not grow past it. */
	ck_assert_int_eq(uco_stream_readline(s, buf, 8192), -EMSGSIZE);
	ck_assert_uint_eq(uco_stream_buffered(s), 4096);
	ck_assert_int_eq(uco_stream_readuntil_view(s, "\n", 1, &view),
			 -EMSGSIZE);
	ck_assert_uint_eq(uco_stream_buffered(s), 4096);
	/* The data is still there, in order. */
	ck_assert_int_eq(uco_stream_read(s, buf, 10), 10);
	ck_assert(memcmp(buf, "xxxxxxxxxx", 10) == 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	uco_task_release(t);
	ck_assert_uint_ge(f.sent, 4096);

	/* A line that fits the limit but not the caller's buffer is
	 * -EMSGSIZE too; it can be skipped and the next line read. */
	uco_stream_abort(s);
	close(sv[1]);
	s = stream_pair(sv, &o);
	send_str(sv[1], "0123456789abcdef\nok\n");
	ck_assert_int_eq(uco_stream_readline(s, buf, 8), -EMSGSIZE);
	ck_assert_uint_eq(uco_stream_buffered(s), 20);
	ck_assert_int_eq(uco_stream_readline(s, buf, 17), 17);
	ck_assert_int_eq(uco_stream_readline(s, buf, 3), 3);
	ck_assert(memcmp(buf, "ok\n", 3) == 0);
	/* Skipping with consume. */
	send_str(sv[1], "junkjunk\nnext\n");
	ck_assert_int_eq(uco_stream_readline(s, buf, 4), -EMSGSIZE);
	ck_assert_int_eq(uco_stream_readuntil_view(s, "\n", 1, &view), 9);
	ck_assert_uint_eq(uco_stream_consume(s, 9), 9);
	ck_assert_int_eq(uco_stream_readline(s, buf, 64), 5);
	ck_assert(memcmp(buf, "next\n", 5) == 0);
	free(buf);
	close(sv[1]);
	uco_stream_abort(s);
}

START_TEST(readline_limit)
{
	lc_run(body_readline_limit, NULL, NULL);
}
END_TEST

/* Go round the loop until the stream has taken every byte sent to fd's
 * peer out of the socket (FIONREAD on fd is 0): what is sent next then
 * reaches it in a read of its own.  Fails after 10 s, only against a
 * hang. */
static void await_taken(int fd)
{
	uint64_t deadline = uco_now() + 10 * UCO_NSEC_PER_SEC;
	int n;

	for (;;) {
		ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
		if (n == 0)
			return;
		ck_assert_msg(uco_now() < deadline,
			      "the stream never read %d bytes", n);
		ck_assert_int_eq(uco_nop(), 0);
	}
}

/* A multi-byte delimiter split over sends (and over buffer refills): each
 * part is sent once the stream has read the one before, so every part
 * arrives in a read of its own. */
static void *split_sender(void *arg)
{
	int *sv = arg;
	static const char *parts[] = { "GET / HTTP/1.1\r", "\nHost: x\r\n",
				       "\r", "\n", "tail\r\n\r", "\nrest" };

	for (size_t i = 0; i < sizeof(parts) / sizeof(*parts); i++) {
		send_str(sv[1], parts[i]);
		await_taken(sv[0]);
	}
	close(sv[1]);
	return NULL;
}

static void body_readuntil(void *arg)
{
	uco_stream_opts o = { .limit = 64, .read_size = 64 };
	char buf[128];
	const void *view;
	uco_task *t;
	uco_stream *s;
	int sv[2];

	s = stream_pair(sv, &o);
	ck_assert_int_eq(uco_spawn(&t, split_sender, sv, NULL), 0);
	ck_assert_int_eq(uco_stream_readuntil(s, "\r\n\r\n", 4, buf,
					      sizeof(buf)), 27);
	ck_assert(memcmp(buf, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27) == 0);
	ck_assert_int_eq(uco_stream_readuntil_view(s, "\r\n\r\n", 4, &view),
			 8);
	ck_assert(memcmp(view, "tail\r\n\r\n", 8) == 0);
	ck_assert_uint_eq(uco_stream_consume(s, 8), 8);
	/* the end, without the delimiter: -EPIPE and the rest */
	ck_assert_int_eq(uco_stream_readuntil(s, "\r\n\r\n", 4, buf,
					      sizeof(buf)), -EPIPE);
	ck_assert_uint_eq(uco_stream_partial(s), 4);
	ck_assert(memcmp(buf, "rest", 4) == 0);
	ck_assert_int_eq(uco_stream_readuntil(s, "\r\n\r\n", 4, buf,
					      sizeof(buf)), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(uco_stream_readuntil(s, "", 0, buf, sizeof(buf)),
			 -EINVAL);
	ck_assert_int_eq(uco_stream_close(s), 0);
}

START_TEST(readuntil)
{
	lc_run(body_readuntil, NULL, NULL);
}
END_TEST

static void body_peek(void *arg)
{
	uco_stream_opts o = { .limit = 100, .read_size = 64 };
	const void *view;
	uco_stream *s;
	char buf[8];
	int sv[2];

	s = stream_pair(sv, &o);
	ck_assert_int_eq(uco_stream_peek(s, 0, &view), 0);
	send_str(sv[1], "abc");
	ck_assert_int_eq(uco_stream_peek(s, 2, &view), 3);
	ck_assert(memcmp(view, "abc", 3) == 0);
	ck_assert_uint_eq(uco_stream_buffered(s), 3); /* not consumed */
	ck_assert_int_eq(uco_stream_peek(s, 101, &view), -EMSGSIZE);
	send_str(sv[1], "defgh");
	ck_assert_int_eq(uco_stream_peek(s, 8, &view), 8);
	ck_assert(memcmp(view, "abcdefgh", 8) == 0);
	ck_assert_uint_eq(uco_stream_consume(s, 2), 2);
	ck_assert_uint_eq(uco_stream_consume(s, 100), 6);
	send_str(sv[1], "zz");
	close(sv[1]);
	/* at the end: fewer than asked for */
	ck_assert_int_eq(uco_stream_peek(s, 50, &view), 2);
	ck_assert_int_eq(uco_stream_read(s, buf, sizeof(buf)), 2);
	ck_assert_int_eq(uco_stream_peek(s, 50, &view), 0);
	ck_assert(uco_stream_at_eof(s));
	ck_assert_int_eq(uco_stream_close(s), 0);
}

START_TEST(peek)
{
	lc_run(body_peek, NULL, NULL);
}
END_TEST

/* ---- timeouts and cancellation: nothing lost --------------------------- */

struct rx {
	uco_stream *s;
	void *buf;
	size_t n;
};

static int rx_exactly(void *arg)
{
	struct rx *x = arg;

	return (int)uco_stream_readexactly(x->s, x->buf, x->n);
}

static int rx_line(void *arg)
{
	struct rx *x = arg;

	return (int)uco_stream_readline(x->s, x->buf, x->n);
}

static void body_read_timeouts(void *arg)
{
	uco_stream_opts small = { .limit = 64, .read_size = 64 };
	uint8_t out[1000], in[1000];
	struct rx x;
	uco_stream *s;
	int sv[2], sc;

	/* readexactly under wait_for: half arrived, the rest later */
	s = stream_pair(sv, NULL);
	fill_pat(out, 0, 10);
	ck_assert_int_eq(uco_send_all(sv[1], out, 5, 0), 5);
	x = (struct rx){ s, in, 10 };
	ck_assert_int_eq(uco_wait_for(20 * MS, rx_exactly, &x), -ETIMEDOUT);
	ck_assert_uint_eq(uco_stream_buffered(s), 5);
	ck_assert_int_eq(uco_send_all(sv[1], out + 5, 5, 0), 5);
	ck_assert_int_eq(uco_wait_for(5000 * MS, rx_exactly, &x), 10);
	ck_assert_uint_eq(check_pat(in, 0, 10), 10);

	/* readline in a timeout scope */
	send_str(sv[1], "par");
	sc = uco_timeout_begin(20 * MS);
	ck_assert_int_ge(sc, 0);
	ck_assert_int_eq(uco_stream_readline(s, in, sizeof(in)), -ETIMEDOUT);
	ck_assert_int_eq(uco_stream_readline(s, in, sizeof(in)), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(sc), -ETIMEDOUT);
	ck_assert_uint_eq(uco_stream_buffered(s), 3);
	send_str(sv[1], "tial\n");
	x = (struct rx){ s, in, sizeof(in) };
	ck_assert_int_eq(uco_wait_for(5000 * MS, rx_line, &x), 8);
	ck_assert(memcmp(in, "partial\n", 8) == 0);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_close(s), 0);

	/* the direct path (more than the buffer holds) puts back what it
	 * had received */
	s = stream_pair(sv, &small);
	fill_pat(out, 0, sizeof(out));
	ck_assert_int_eq(uco_send_all(sv[1], out, 300, 0), 300);
	x = (struct rx){ s, in, 1000 };
	ck_assert_int_eq(uco_wait_for(20 * MS, rx_exactly, &x), -ETIMEDOUT);
	ck_assert_uint_eq(uco_stream_buffered(s), 300);
	ck_assert_int_eq(uco_send_all(sv[1], out + 300, 700, 0), 700);
	memset(in, 0, sizeof(in));
	ck_assert_int_eq(uco_stream_readexactly(s, in, 1000), 1000);
	ck_assert_uint_eq(check_pat(in, 0, 1000), 1000);
	ck_assert_uint_eq(uco_stream_buffered(s), 0);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_close(s), 0);
}

START_TEST(read_timeouts)
{
	lc_run(body_read_timeouts, NULL, NULL);
}
END_TEST

/*
 * Regression (issue 9, part 10): readexactly overflowed the caller's buffer
 * after a cut-short read.  With limit and read size 64, a readexactly(2000)
 * cut short by its scope puts the 1,000 bytes it had back in the buffer;
 * the next readexactly(200), on the direct path (200 > 64), copied all
 * 1,000 buffered bytes into the 200-byte buffer and dropped the 800 past
 * it.  The buffer is followed by a guard region, so the overflow shows in
 * a plain build too, not only under ASan.
 */
#define GUARD_BYTE 0xa5

struct guarded {
	uint8_t buf[200];
	uint8_t guard[1024];
};

static void guard_init(struct guarded *g)
{
	memset(g->buf, 0, sizeof(g->buf));
	memset(g->guard, GUARD_BYTE, sizeof(g->guard));
}

/* The number of guard bytes that were overwritten. */
static size_t guard_hit(const struct guarded *g)
{
	size_t hit = 0;

	for (size_t i = 0; i < sizeof(g->guard); i++)
		hit += g->guard[i] != GUARD_BYTE;
	return hit;
}

/* A stream with limit = read size = 64 on sv[0], with 1000 bytes of data
 * (from `out`) put back by a readexactly(2000) cut short by a 50 ms
 * scope. */
static uco_stream *put_back_1000(int sv[2], const uint8_t *out)
{
	static const uco_stream_opts small = { .limit = 64, .read_size = 64 };
	uint8_t big[2000];
	uco_stream *s = stream_pair(sv, &small);
	int sc;

	ck_assert_int_eq(uco_send_all(sv[1], out, 1000, 0), 1000);
	sc = uco_timeout_begin(50 * MS);
	ck_assert_int_ge(sc, 0);
	ck_assert_int_eq(uco_stream_readexactly(s, big, sizeof(big)),
			 -ETIMEDOUT);
	uco_timeout_end(sc);
	ck_assert_uint_eq(uco_stream_buffered(s), 1000);
	return s;
}

static void body_readexactly_overflow_after_cut_short(void *arg)
{
	uint8_t out[1000], rest[1000];
	struct guarded g;
	uco_stream *s;
	int sv[2];

	fill_pat(out, 0, sizeof(out));
	s = put_back_1000(sv, out);
	guard_init(&g);
	ck_assert_int_eq(uco_stream_readexactly(s, g.buf, sizeof(g.buf)),
			 (ssize_t)sizeof(g.buf));
	ck_assert_uint_eq(guard_hit(&g), 0);
	ck_assert_uint_eq(check_pat(g.buf, 0, sizeof(g.buf)), sizeof(g.buf));
	/* the bytes past the first 200 are kept, in order, for the next read */
	ck_assert_uint_eq(uco_stream_buffered(s), 800);
	memset(rest, 0, sizeof(rest));
	ck_assert_int_eq(uco_stream_readexactly(s, rest, 800), 800);
	ck_assert_uint_eq(check_pat(rest, 200, 800), 800);
	ck_assert_uint_eq(uco_stream_buffered(s), 0);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_close(s), 0);
}

START_TEST(readexactly_overflow_after_cut_short)
{
	lc_run(body_readexactly_overflow_after_cut_short, NULL, NULL);
}
END_TEST

/*
 * The same shape in every other read call: with more buffered than the
 * limit (a put-back), none copies more than the caller's size into the
 * caller's buffer, and what it does not take stays buffered in order.
 */
static void body_put_back_reads_bounded(void *arg)
{
	uint8_t out[1000], rest[2000];
	struct guarded g;
	uco_stream *s;
	size_t off = 0;
	int sv[2];

	/* read, readexactly within the limit, readexactly past it, then the
	 * end of the stream: each takes at most what it was asked for */
	fill_pat(out, 0, sizeof(out));
	s = put_back_1000(sv, out);
	guard_init(&g);
	ck_assert_int_eq(uco_stream_read(s, g.buf, 10), 10);
	ck_assert_uint_eq(check_pat(g.buf, off, 10), 10);
	off += 10;
	ck_assert_int_eq(uco_stream_readexactly(s, g.buf, 32), 32);
	ck_assert_uint_eq(check_pat(g.buf, off, 32), 32);
	off += 32;
	ck_assert_int_eq(uco_stream_read(s, g.buf, sizeof(g.buf)),
			 (ssize_t)sizeof(g.buf));
	ck_assert_uint_eq(check_pat(g.buf, off, sizeof(g.buf)), sizeof(g.buf));
	off += sizeof(g.buf);
	ck_assert_int_eq(uco_stream_readexactly(s, g.buf, 150), 150);
	ck_assert_uint_eq(check_pat(g.buf, off, 150), 150);
	off += 150;
	ck_assert_uint_eq(guard_hit(&g), 0);
	ck_assert_uint_eq(uco_stream_buffered(s), 1000 - off);
	/* past the end: -EPIPE with the rest of the stream, bounded by n */
	close(sv[1]);
	ck_assert_int_eq(uco_stream_readexactly(s, rest, sizeof(rest)), -EPIPE);
	ck_assert_uint_eq(uco_stream_partial(s), 1000 - off);
	ck_assert_uint_eq(check_pat(rest, off, 1000 - off), 1000 - off);
	ck_assert_int_eq(uco_stream_close(s), 0);

	/* readline / readuntil with no delimiter in 1,000 buffered bytes, and
	 * the peer gone: -EMSGSIZE within min(limit, cap), nothing copied
	 * past cap, everything still buffered */
	memset(out, 'x', sizeof(out));
	s = put_back_1000(sv, out);
	close(sv[1]);
	guard_init(&g);
	ck_assert_int_eq(uco_stream_readline(s, g.buf, 50), -EMSGSIZE);
	ck_assert_int_eq(uco_stream_readuntil(s, "\r\n", 2, g.buf, 50),
			 -EMSGSIZE);
	ck_assert_int_eq(uco_stream_readline(s, g.buf, sizeof(g.buf)),
			 -EMSGSIZE);
	ck_assert_uint_eq(guard_hit(&g), 0);
	ck_assert_uint_eq(uco_stream_buffered(s), 1000);
	/* a readexactly(n <= limit) at the end takes n, not the 1,000 */
	ck_assert_int_eq(uco_stream_readexactly(s, g.buf, 60), 60);
	ck_assert_uint_eq(guard_hit(&g), 0);
	ck_assert_uint_eq(uco_stream_buffered(s), 940);
	ck_assert_int_eq(uco_stream_close(s), 0);
}

START_TEST(put_back_reads_bounded)
{
	lc_run(body_put_back_reads_bounded, NULL, NULL);
}
END_TEST

/* A reader that signals once `first` bytes are buffered, then waits for
 * n in readexactly. */
struct canc_reader {
	uco_stream *s;
	uco_future *ready;
	size_t first, n;
	uint8_t buf[1000];
	ssize_t r;
};

static void *canc_reader_task(void *arg)
{
	struct canc_reader *c = arg;
	const void *view;

	ck_assert_int_eq(uco_stream_peek(c->s, c->first, &view),
			 (ssize_t)c->first);
	ck_assert_int_eq(uco_future_set_result(c->ready, NULL), 0);
	c->r = uco_stream_readexactly(c->s, c->buf, c->n);
	return NULL;
}

static void cancel_case(size_t first, size_t n, const uco_stream_opts *o)
{
	struct canc_reader c = { .first = first, .n = n, .r = 1 };
	uint8_t out[1000];
	uco_task *t;
	int sv[2];

	c.s = stream_pair(sv, o);
	ck_assert_int_eq(uco_future_create(&c.ready), 0);
	fill_pat(out, 0, n);
	ck_assert_int_eq(uco_send_all(sv[1], out, first, 0), (ssize_t)first);
	ck_assert_int_eq(uco_spawn(&t, canc_reader_task, &c, NULL), 0);
	ck_assert_int_eq(uco_future_wait(c.ready, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0); /* into readexactly */
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(c.r, -ECANCELED);
	ck_assert_uint_eq(uco_stream_buffered(c.s), first);
	/* the rest: the next call gets all n, in order */
	ck_assert_int_eq(uco_send_all(sv[1], out + first, n - first, 0),
			 (ssize_t)(n - first));
	memset(c.buf, 0, sizeof(c.buf));
	ck_assert_int_eq(uco_stream_readexactly(c.s, c.buf, n), (ssize_t)n);
	ck_assert_uint_eq(check_pat(c.buf, 0, n), n);
	uco_future_free(c.ready);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_close(c.s), 0);
}

static void body_read_cancel(void *arg)
{
	uco_stream_opts small = { .limit = 64, .read_size = 64 };

	cancel_case(5, 10, NULL);
	cancel_case(40, 1000, &small);
}

START_TEST(read_cancel)
{
	lc_run(body_read_cancel, NULL, NULL);
}
END_TEST

/* ---- writing ------------------------------------------------------------- */

static int do_drain(void *arg)
{
	return uco_stream_drain(arg);
}

struct sink {
	int fd;
	size_t n;
	size_t bad;
};

static void *sink_task(void *arg)
{
	struct sink *k = arg;
	uint8_t b[8192];
	size_t got = 0;

	k->bad = SIZE_MAX;
	while (got < k->n) {
		ssize_t r = uco_recv(k->fd, b, sizeof(b), 0);

		if (r <= 0)
			return uco_fail(r < 0 ? (int)r : -EPIPE);
		if (k->bad == SIZE_MAX && check_pat(b, got, (size_t)r) != (size_t)r)
			k->bad = got + check_pat(b, got, (size_t)r);
		got += (size_t)r;
	}
	/* and nothing more */
	return uco_recv(k->fd, b, sizeof(b), 0) == 0 ? NULL : uco_fail(-E2BIG);
}

/* A drain cut short by a timeout (the peer does not read) sends the rest
 * later, each byte once. */
static void body_drain_timeout(void *arg)
{
	enum { N = 8 << 20 };
	uint8_t *out = malloc(N);
	struct sink k;
	uco_stream *s;
	uco_task *t;
	size_t left;
	int sv[2];

	s = stream_pair(sv, NULL);
	fill_pat(out, 0, N);
	for (size_t off = 0; off < N; off += 100000)
		ck_assert_int_eq(uco_stream_write(s, out + off,
						  N - off < 100000 ? N - off
								   : 100000),
				 0);
	ck_assert_uint_eq(uco_stream_pending(s), N);
	ck_assert_int_eq(uco_wait_for(20 * MS, do_drain, s), -ETIMEDOUT);
	left = uco_stream_pending(s);
	ck_assert_uint_gt(left, 0);
	ck_assert_uint_lt(left, N);
	k = (struct sink){ sv[1], N, 0 };
	ck_assert_int_eq(uco_spawn(&t, sink_task, &k, NULL), 0);
	ck_assert_int_eq(uco_stream_drain(s), 0);
	ck_assert_uint_eq(uco_stream_pending(s), 0);
	ck_assert_int_eq(uco_stream_close(s), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_uint_eq(k.bad, SIZE_MAX);
	close(sv[1]);
	free(out);
}

START_TEST(drain_timeout)
{
	lc_run(body_drain_timeout, NULL, NULL);
}
END_TEST

/* uco_stream_send: straight from the caller's buffer; cut short, the rest
 * stays written (as write + drain); behind pending bytes, in order. */
struct big_send {
	uco_stream *s;
	const uint8_t *buf;
	size_t n;
};

static int do_send(void *arg)
{
	struct big_send *b = arg;

	return uco_stream_send(b->s, b->buf, b->n);
}

static void body_send(void *arg)
{
	enum { N = 8 << 20 };
	uint8_t *out = malloc(N), in[8];
	struct big_send b;
	struct sink k;
	uco_stream *s;
	uco_task *t;
	size_t left;
	int sv[2];

	s = stream_pair(sv, NULL);
	fill_pat(out, 0, N);
	/* in order behind what is pending */
	ck_assert_int_eq(uco_stream_write(s, out, 3), 0);
	ck_assert_int_eq(uco_stream_send(s, out + 3, 5), 0);
	ck_assert_uint_eq(uco_stream_pending(s), 0);
	ck_assert_int_eq(recv(sv[1], in, 8, MSG_WAITALL), 8);
	ck_assert_uint_eq(check_pat(in, 0, 8), 8);
	ck_assert_int_eq(uco_stream_send(s, NULL, 0), 0);
	/* cut short by a timeout: the rest is pending, each byte sent once */
	b = (struct big_send){ s, out, N };
	ck_assert_int_eq(uco_wait_for(20 * MS, do_send, &b), -ETIMEDOUT);
	left = uco_stream_pending(s);
	ck_assert_uint_gt(left, 0);
	ck_assert_uint_lt(left, N);
	k = (struct sink){ sv[1], N, 0 };
	ck_assert_int_eq(uco_spawn(&t, sink_task, &k, NULL), 0);
	ck_assert_int_eq(uco_stream_drain(s), 0);
	ck_assert_int_eq(uco_stream_close(s), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_uint_eq(k.bad, SIZE_MAX);
	close(sv[1]);

	/* the peer gone: -EPIPE, sticky */
	s = stream_pair(sv, NULL);
	close(sv[1]);
	{
		int r = uco_stream_send(s, out, 1 << 20);

		ck_assert_msg(r == -EPIPE || r == -ECONNRESET, "send: %d", r);
		ck_assert_int_eq(uco_stream_send(s, out, 1), r);
		ck_assert_int_eq(uco_stream_write(s, out, 1), r);
	}
	ck_assert_int_eq(uco_stream_close(s), 0); /* nothing was pending */
	free(out);
}

START_TEST(stream_send)
{
	lc_run(body_send, NULL, NULL);
}
END_TEST

/* A drain to a peer that has gone: -EPIPE (no SIGPIPE), sticky. */
static void body_drain_peer_gone(void *arg)
{
	static char big[1 << 20];
	uco_stream *s;
	int sv[2], r;

	s = stream_pair(sv, NULL);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_write(s, big, sizeof(big)), 0);
	r = uco_stream_drain(s);
	ck_assert_msg(r == -EPIPE || r == -ECONNRESET, "drain: %d", r);
	ck_assert_int_eq(uco_stream_drain(s), r);
	ck_assert_int_eq(uco_stream_write(s, "x", 1), r);
	ck_assert_int_eq(uco_stream_write_eof(s), r);
	/* close reports the sticky error that kept the bytes */
	ck_assert_int_eq(uco_stream_close(s), r);
}

START_TEST(drain_peer_gone)
{
	lc_run(body_drain_peer_gone, NULL, NULL);
}
END_TEST

/* close() sends what was written but not drained, best effort. */
static void body_close_flushes(void *arg)
{
	uint8_t out[1000], in[1000];
	uco_stream *s;
	int sv[2];

	s = stream_pair(sv, NULL);
	fill_pat(out, 0, sizeof(out));
	ck_assert_int_eq(uco_stream_write(s, out, sizeof(out)), 0);
	ck_assert_int_eq(uco_stream_close(s), 0);
	ck_assert_int_eq(recv(sv[1], in, sizeof(in), MSG_WAITALL), 1000);
	ck_assert_uint_eq(check_pat(in, 0, sizeof(in)), sizeof(in));
	ck_assert_int_eq(recv(sv[1], in, sizeof(in), 0), 0);
	close(sv[1]);

	/* abort does not */
	s = stream_pair(sv, NULL);
	ck_assert_int_eq(uco_stream_write(s, out, sizeof(out)), 0);
	uco_stream_abort(s);
	ck_assert_int_eq(recv(sv[1], in, sizeof(in), 0), 0);
	close(sv[1]);
}

START_TEST(close_flushes)
{
	lc_run(body_close_flushes, NULL, NULL);
}
END_TEST

/* ---- connections over TCP ------------------------------------------------ */

struct acceptor_side {
	int lfd;
};

/* The server half of half_close: read to the end, then answer. */
static void *half_close_server(void *arg)
{
	struct acceptor_side *a = arg;
	char buf[64], line[64];
	uco_stream *s;
	ssize_t n, got = 0;
	int fd = uco_accept(a->lfd, NULL, NULL, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uco_stream_open(&s, fd, NULL), 0);
	while ((n = uco_stream_read(s, buf + got, sizeof(buf) - (size_t)got)) > 0)
		got += n;
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(got, 5);
	ck_assert(memcmp(buf, "ping\n", 5) == 0);
	/* the other direction still works */
	snprintf(line, sizeof(line), "pong %zd\n", got);
	ck_assert_int_eq(uco_stream_write(s, line, strlen(line)), 0);
	ck_assert_int_eq(uco_stream_drain(s), 0);
	ck_assert_int_eq(uco_stream_close(s), 0);
	return NULL;
}

static void body_half_close(void *arg)
{
	struct acceptor_side a;
	char port[16], buf[64];
	uco_stream *c;
	uco_task *t;

	a.lfd = uco_listen_tcp("127.0.0.1", "0", 16, 0);
	ck_assert_int_ge(a.lfd, 0);
	snprintf(port, sizeof(port), "%d", uco_local_port(a.lfd));
	ck_assert_int_eq(uco_spawn(&t, half_close_server, &a, NULL), 0);
	ck_assert_int_eq(uco_open_connection(&c, "127.0.0.1", port, NULL), 0);
	ck_assert_int_eq(uco_stream_write(c, "ping\n", 5), 0);
	ck_assert_int_eq(uco_stream_write_eof(c), 0);
	ck_assert_int_eq(uco_stream_write_eof(c), 0); /* once is enough */
	ck_assert_int_eq(uco_stream_write(c, "x", 1), -EPIPE);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)), 7);
	ck_assert(memcmp(buf, "pong 5\n", 7) == 0);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(uco_stream_close(c), 0);
	close(a.lfd);
}

START_TEST(half_close)
{
	lc_run_net(body_half_close, NULL);
}
END_TEST

static void body_connect_errors(void *arg)
{
	char port[16], path[64];
	uco_stream *c = (uco_stream *)&c;
	int lfd;

	/* a port nobody listens on: bind one, note it, close it */
	lfd = uco_listen_tcp("127.0.0.1", "0", 1, 0);
	ck_assert_int_ge(lfd, 0);
	snprintf(port, sizeof(port), "%d", uco_local_port(lfd));
	close(lfd);
	ck_assert_int_eq(uco_open_connection(&c, "127.0.0.1", port, NULL),
			 -ECONNREFUSED);
	ck_assert_ptr_null(c);
	snprintf(path, sizeof(path), "/tmp/uco-test-stream-%d.nosuch",
		 (int)getpid());
	ck_assert_int_eq(uco_open_unix_connection(&c, path, NULL), -ENOENT);
	ck_assert_int_eq(uco_open_connection(NULL, "127.0.0.1", port, NULL),
			 -EINVAL);
	ck_assert_int_eq(uco_open_connection(&c, NULL, port, NULL), -EINVAL);
}

START_TEST(connect_errors)
{
	lc_run_net(body_connect_errors, NULL);
}
END_TEST

/* A Unix socket round trip through open_unix_connection. */
static void *unix_server(void *arg)
{
	int lfd = *(int *)arg, fd;
	uco_stream *s;
	char buf[64];
	ssize_t n;

	fd = uco_accept(lfd, NULL, NULL, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uco_stream_open(&s, fd, NULL), 0);
	while ((n = uco_stream_readline(s, buf, sizeof(buf))) > 0) {
		ck_assert_int_eq(uco_stream_write(s, buf, (size_t)n), 0);
		ck_assert_int_eq(uco_stream_drain(s), 0);
	}
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(uco_stream_close(s), 0);
	return NULL;
}

static void body_unix(void *arg)
{
	char path[64], buf[64];
	uco_stream *c;
	uco_task *t;
	int lfd;

	snprintf(path, sizeof(path), "@uco-test-stream-%d", (int)getpid());
	lfd = uco_listen_unix(path, 8);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(uco_spawn(&t, unix_server, &lfd, NULL), 0);
	ck_assert_int_eq(uco_open_unix_connection(&c, path, NULL), 0);
	for (int i = 0; i < 100; i++) {
		char line[32];
		int len = snprintf(line, sizeof(line), "line %d\n", i);

		ck_assert_int_eq(uco_stream_write(c, line, (size_t)len), 0);
		ck_assert_int_eq(uco_stream_drain(c), 0);
		ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)), len);
		ck_assert(memcmp(buf, line, (size_t)len) == 0);
	}
	ck_assert_int_eq(uco_stream_write_eof(c), 0);
	ck_assert_int_eq(uco_stream_read(c, buf, sizeof(buf)), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(uco_stream_close(c), 0);
	close(lfd);
}

START_TEST(unix_round_trip)
{
	lc_run(body_unix, NULL, NULL);
}
END_TEST

/* A task cancelled before it runs: every call that would suspend returns
 * -ECANCELED and takes nothing; what is buffered is still handed over at
 * once (a call that can complete without suspending does, as asyncio's). */
struct cancelled_calls {
	uco_stream *s;
	int peer;
	ssize_t r[10];
	uco_stream *conn;
};

static void *cancelled_calls_task(void *arg)
{
	struct cancelled_calls *c = arg;
	char buf[16];
	const void *view;

	c->r[0] = uco_stream_read(c->s, buf, 2);          /* buffered: 2 */
	c->r[1] = uco_stream_readexactly(c->s, buf, 8);   /* needs more */
	c->r[2] = uco_stream_readline(c->s, buf, sizeof(buf));
	c->r[3] = uco_stream_readuntil(c->s, "!", 1, buf, sizeof(buf));
	c->r[4] = uco_stream_peek(c->s, 8, &view);
	c->r[5] = uco_stream_write(c->s, "xyz", 3);       /* never suspends */
	c->r[6] = uco_stream_drain(c->s);
	c->r[7] = uco_stream_write_eof(c->s);
	c->r[8] = uco_open_connection(&c->conn, "127.0.0.1", "1", NULL);
	c->r[9] = uco_open_unix_connection(&c->conn, "@nowhere", NULL);
	return NULL;
}

static void body_cancelled_task(void *arg)
{
	struct cancelled_calls c = { 0 };
	char buf[16];
	uco_task *t;
	int sv[2];

	c.s = stream_pair(sv, NULL);
	c.peer = sv[1];
	send_str(sv[1], "abcd");
	ck_assert_int_eq(uco_stream_peek(c.s, 4, &(const void *){ NULL }), 4);
	ck_assert_int_eq(uco_spawn(&t, cancelled_calls_task, &c, NULL), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(c.r[0], 2);
	for (int i = 1; i <= 4; i++)
		ck_assert_msg(c.r[i] == -ECANCELED, "call %d: %zd", i, c.r[i]);
	ck_assert_int_eq(c.r[5], 0);
	ck_assert_int_eq(c.r[6], -ECANCELED);
	ck_assert_int_eq(c.r[7], -ECANCELED);
	ck_assert_int_eq(c.r[8], -ECANCELED);
	ck_assert_int_eq(c.r[9], -ECANCELED);
	ck_assert_ptr_null(c.conn);
	/* nothing was lost, the written bytes are still pending */
	ck_assert_uint_eq(uco_stream_buffered(c.s), 2);
	ck_assert_uint_eq(uco_stream_pending(c.s), 3);
	ck_assert_int_eq(uco_stream_drain(c.s), 0);
	ck_assert_int_eq(uco_stream_readexactly(c.s, buf, 2), 2);
	ck_assert(memcmp(buf, "cd", 2) == 0);
	ck_assert_int_eq(recv(sv[1], buf, 3, MSG_WAITALL), 3);
	ck_assert(memcmp(buf, "xyz", 3) == 0);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_close(c.s), 0);
}

START_TEST(cancelled_task)
{
	lc_run(body_cancelled_task, NULL, NULL);
}
END_TEST

/* Cancel a readline and a readuntil that are waiting: the partial line
 * stays. */
struct waiting_line {
	uco_stream *s;
	uco_future *ready;
	bool until;
	ssize_t r;
};

static void *waiting_line_task(void *arg)
{
	struct waiting_line *w = arg;
	const void *view;
	char buf[64];

	ck_assert_int_eq(uco_stream_peek(w->s, 3, &view), 3);
	uco_future_set_result(w->ready, NULL);
	w->r = w->until ? uco_stream_readuntil(w->s, "\r\n", 2, buf,
					       sizeof(buf))
			: uco_stream_readline(w->s, buf, sizeof(buf));
	return NULL;
}

static void body_line_cancel(void *arg)
{
	for (int until = 0; until < 2; until++) {
		struct waiting_line w = { .until = until, .r = 1 };
		char buf[64];
		uco_task *t;
		int sv[2];

		w.s = stream_pair(sv, NULL);
		ck_assert_int_eq(uco_future_create(&w.ready), 0);
		send_str(sv[1], "par");
		ck_assert_int_eq(uco_spawn(&t, waiting_line_task, &w, NULL), 0);
		ck_assert_int_eq(uco_future_wait(w.ready, NULL), 0);
		ck_assert_int_eq(uco_yield(), 0);
		ck_assert_int_eq(uco_cancel(t), 0);
		ck_assert_int_eq(uco_join(t, NULL), 0);
		uco_task_release(t);
		ck_assert_int_eq(w.r, -ECANCELED);
		ck_assert_uint_eq(uco_stream_buffered(w.s), 3);
		send_str(sv[1], "tial\r\n");
		ck_assert_int_eq(uco_stream_readline(w.s, buf, sizeof(buf)), 9);
		ck_assert(memcmp(buf, "partial\r\n", 9) == 0);
		uco_future_free(w.ready);
		close(sv[1]);
		ck_assert_int_eq(uco_stream_close(w.s), 0);
	}
}

START_TEST(line_cancel)
{
	lc_run(body_line_cancel, NULL, NULL);
}
END_TEST

/* ---- misuse ----------------------------------------------------------- */

static void body_bad_args(void *arg)
{
	uco_stream *s = (uco_stream *)&s;
	const void *view;
	char buf[4];
	int sv[2];

	ck_assert_int_eq(uco_stream_open(&s, -1, NULL), -EBADF);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(uco_stream_open(NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(uco_stream_read(NULL, buf, 1), -EINVAL);
	ck_assert_int_eq(uco_stream_drain(NULL), -EINVAL);
	ck_assert_int_eq(uco_stream_fd(NULL), -EINVAL);
	ck_assert_uint_eq(uco_stream_buffered(NULL), 0);
	s = stream_pair(sv, NULL);
	ck_assert_int_eq(uco_stream_read(s, NULL, 1), -EFAULT);
	ck_assert_int_eq(uco_stream_readexactly(s, NULL, 1), -EFAULT);
	ck_assert_int_eq(uco_stream_write(s, NULL, 1), -EFAULT);
	ck_assert_int_eq(uco_stream_peek(s, 1, NULL), -EFAULT);
	ck_assert_int_eq(uco_stream_readuntil(s, NULL, 1, buf, 4), -EINVAL);
	ck_assert_int_eq(uco_stream_readuntil_view(s, "\n", 0, &view),
			 -EINVAL);
	send_str(sv[1], "ab");
	ck_assert_int_eq(uco_stream_peek(s, 2, &view), 2);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_close(s), 0);
}

START_TEST(bad_args)
{
	lc_run(body_bad_args, NULL, NULL);
}
END_TEST

/* Outside a task the suspending calls refuse with -EPERM. */
START_TEST(outside_runtime)
{
	uco_stream *s;
	char buf[4];
	int sv[2];

	pair(sv);
	ck_assert_int_eq(uco_stream_open(&s, sv[0], NULL), 0);
	ck_assert_int_eq(uco_stream_read(s, buf, 4), -EPERM);
	ck_assert_int_eq(uco_stream_write(s, "ab", 2), 0);
	ck_assert_int_eq(uco_stream_drain(s), -EPERM);
	ck_assert_uint_eq(uco_stream_pending(s), 2);
	ck_assert_int_eq(uco_stream_close(s), 0);
	ck_assert_int_eq(recv(sv[1], buf, 4, 0), 2);
	close(sv[1]);
}
END_TEST

/*
 * The audit of issue 9, part 10, on the write side: uco_stream_write()
 * sized its new buffer from pending + n, which wraps for a huge n; the
 * wrapped size passed the room check and the copy of n bytes ran past the
 * buffer.  Now refused with -ENOMEM, the pending bytes untouched.
 */
static void body_write_size_overflow(void *arg)
{
	char small[8] = "abcdefg", buf[8];
	uco_stream *s;
	int sv[2];

	s = stream_pair(sv, NULL);
	ck_assert_int_eq(uco_stream_write(s, "hello", 5), 0);
	ck_assert_int_eq(uco_stream_write(s, small, SIZE_MAX - 1), -ENOMEM);
	ck_assert_int_eq(uco_stream_write(s, small, SIZE_MAX / 2), -ENOMEM);
	ck_assert_uint_eq(uco_stream_pending(s), 5);
	ck_assert_int_eq(uco_stream_drain(s), 0);
	ck_assert_int_eq(uco_read_full(sv[1], buf, 5, -1), 5);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	close(sv[1]);
	ck_assert_int_eq(uco_stream_close(s), 0);
}

START_TEST(write_size_overflow)
{
	lc_run(body_write_size_overflow, NULL, NULL);
}
END_TEST

static Suite *stream_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc;

	tc = tcase_create("read");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, read_write);
	tcase_add_test(tc, readexactly_tiny_sends);
	tcase_add_test(tc, readexactly_eof);
	tcase_add_test(tc, readline);
	tcase_add_test(tc, readline_limit);
	tcase_add_test(tc, readuntil);
	tcase_add_test(tc, peek);
	suite_add_tcase(s, tc);

	tc = tcase_create("interrupted");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, read_timeouts);
	tcase_add_test(tc, readexactly_overflow_after_cut_short);
	tcase_add_test(tc, put_back_reads_bounded);
	tcase_add_test(tc, read_cancel);
	tcase_add_test(tc, drain_timeout);
	tcase_add_test(tc, cancelled_task);
	tcase_add_test(tc, line_cancel);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, drain_peer_gone);
	tcase_add_test(tc, stream_send);
	tcase_add_test(tc, close_flushes);
	tcase_add_test(tc, half_close);
	tcase_add_test(tc, write_size_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("connect");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, connect_errors);
	tcase_add_test(tc, unix_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("misuse");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, bad_args);
	tcase_add_test(tc, outside_runtime);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(stream_suite());
}
