/*
 * Suite "http": the HTTP/1.1 server (include/uco/http.h), driven over
 * loopback by raw clients in the same runtime, every run leak-checked.
 *
 * Parsing: a request cut at every byte boundary (the server's receive
 * buffers shrunk to 1, 2, 3 and 7 bytes, so each receive holds that much),
 * pipelined bursts answered in order, chunked bodies with extensions, bad
 * chunk sizes; limits: 431 (head too large, too many headers), 413
 * (Content-Length, chunked), 400 (garbage, HTTP/1.1 without Host, both
 * Content-Length and Transfer-Encoding, two Content-Lengths, obs-fold),
 * 501 (an unknown transfer coding), each followed by the close; timeouts:
 * slowloris closed by the header timeout, an idle keep-alive connection by
 * the idle timeout; 10,000 requests on one keep-alive connection;
 * Expect: 100-continue, HEAD, HTTP/1.0, Connection: close; streamed and
 * file bodies; the router; background tasks; graceful shutdown with
 * requests and background tasks in flight, and with them cut off.
 *
 * With --interop (the "http-interop" test) it runs clients nobody here
 * wrote instead: curl (keep-alive, --http1.0, a chunked upload) and
 * Python's http.client; exit 77 (skipped) if either is missing.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

/* ---- a raw client ----------------------------------------------------- */

struct cl {
	int fd;
	char buf[1 << 18];
	size_t len;
	bool eof;
};

struct resp {
	int status;
	char head[8192];
	char body[1 << 18];
	size_t body_len;
};

static int cl_open(struct cl *c, int port)
{
	char p[16];

	snprintf(p, sizeof(p), "%d", port);
	c->fd = uco_connect_tcp("127.0.0.1", p);
	c->len = 0;
	c->eof = false;
	return c->fd;
}

static void cl_close(struct cl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int cl_send(struct cl *c, const char *s, size_t n)
{
	ssize_t r = uco_send_all(c->fd, s, n, 0);

	return r < 0 ? (int)r : 0;
}

static int cl_sends(struct cl *c, const char *s)
{
	return cl_send(c, s, strlen(s));
}

/* More bytes into buf: > 0, 0 at EOF, < 0 an error. */
static ssize_t cl_fill(struct cl *c)
{
	ssize_t n;

	if (c->len == sizeof(c->buf))
		return -ENOSPC;
	n = uco_recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n == 0)
		c->eof = true;
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

static void cl_eat(struct cl *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Find "name: " in a head (case-insensitive); the value's start or NULL. */
static const char *hdr(const char *head, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p && p[2];
	     p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':')
			return p + 3 + n + (p[3 + n] == ' ');
	return NULL;
}

/* Read one response (head_req: no body).  0, or < 0 (-EPIPE: EOF). */
static int cl_response(struct cl *c, struct resp *r, bool head_req)
{
	char *end;
	size_t hl;
	const char *v;

	while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
		ssize_t n = cl_fill(c);

		if (n <= 0)
			return n == 0 ? -EPIPE : (int)n;
	}
	hl = (size_t)(end - c->buf) + 4;
	if (hl >= sizeof(r->head))
		return -E2BIG;
	memcpy(r->head, c->buf, hl);
	r->head[hl] = '\0';
	cl_eat(c, hl);
	if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
		return -EPROTO;
	r->body_len = 0;
	if (head_req || r->status == 304 || r->status == 204 ||
	    r->status / 100 == 1)
		return 0;
	if ((v = hdr(r->head, "Content-Length"))) {
		size_t want = strtoull(v, NULL, 10);

		if (want > sizeof(r->body))
			return -E2BIG;
		while (c->len < want) {
			ssize_t n = cl_fill(c);

			if (n <= 0)
				return n == 0 ? -EPIPE : (int)n;
		}
		memcpy(r->body, c->buf, want);
		r->body_len = want;
		cl_eat(c, want);
	} else if ((v = hdr(r->head, "Transfer-Encoding"))) {
		for (;;) {
			char *crlf;
			size_t sz;

			while (!(crlf = memmem(c->buf, c->len, "\r\n", 2)))
				if (cl_fill(c) <= 0)
					return -EPIPE;
			sz = strtoull(c->buf, NULL, 16);
			cl_eat(c, (size_t)(crlf - c->buf) + 2);
			while (c->len < sz + 2)
				if (cl_fill(c) <= 0)
					return -EPIPE;
			if (r->body_len + sz > sizeof(r->body))
				return -E2BIG;
			memcpy(r->body + r->body_len, c->buf, sz);
			r->body_len += sz;
			cl_eat(c, sz + 2);
			if (sz == 0)
				break;
		}
	} else {
		/* Until the connection closes. */
		while (cl_fill(c) > 0)
			;
		memcpy(r->body, c->buf, c->len);
		r->body_len = c->len;
		c->len = 0;
	}
	return 0;
}

/* After a response that closes: the next read is the end. */
static bool cl_closed(struct cl *c)
{
	return c->len == 0 && cl_fill(c) == 0;
}

/* ---- the server under test ------------------------------------------------ */

struct ctx {
	uco_http_server *srv;
	int port;
	int bg_done, bg_started;
	int in_handler;
	uco_http_router *router;
};

static struct ctx *g; /* the running test's (one per forked test) */

/* GET anything: "path=<path>"; POST: the body back. */
static int echo(uco_http_request *req, uco_http_response *res, void *arg)
{
	char buf[512];
	const char *m = uco_http_request_method(req);

	(void)arg;
	if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0) {
		const char *body;
		ssize_t n = uco_http_request_body(req, &body);

		if (n < 0)
			return (int)n;
		return uco_http_response_send(res, body, (size_t)n);
	}
	int n = snprintf(buf, sizeof(buf), "path=%s",
			 uco_http_request_path(req));
	uco_http_response_header(res, "Content-Type", "text/plain");
	return uco_http_response_send(res, buf, (size_t)n);
}

static void start(struct ctx *c, uco_http_handler h, void *arg,
		  const uco_http_server_opts *o)
{
	g = c;
	ck_assert_int_eq(uco_http_serve(&c->srv, "127.0.0.1", "0", h, arg, o),
			 0);
	c->port = uco_http_server_port(c->srv);
	ck_assert_int_gt(c->port, 0);
}

static void stop(struct ctx *c)
{
	ck_assert_int_eq(uco_http_server_shutdown(c->srv, 2 * UCO_NSEC_PER_SEC),
			 0);
	uco_http_server_free(c->srv);
	c->srv = NULL;
}

/* One exchange on a fresh connection: send req, read one response. */
static int once(struct ctx *c, const char *req, struct resp *r,
		bool *closed_after)
{
	static struct cl cl;
	int e;

	ck_assert_int_ge(cl_open(&cl, c->port), 0);
	ck_assert_int_eq(cl_sends(&cl, req), 0);
	e = cl_response(&cl, r, strncmp(req, "HEAD", 4) == 0);
	if (closed_after)
		*closed_after = e == 0 && cl_closed(&cl);
	cl_close(&cl);
	return e;
}

/* glibc keeps what its first name resolution loads (uco_listen_tcp and
 * uco_connect_tcp resolve) for good: resolve on every offload thread
 * before the leak check counts. */
static void *resolve_once(void *arg)
{
	struct addrinfo *ai;

	if (uco_getaddrinfo("127.0.0.1", "1", NULL, &ai) == 0)
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

static void run(void (*body)(void *), unsigned cores)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = cores;
	th_run(body_resolve_warm, NULL, &cfg);
	lc_run(body, NULL, &cfg);
}

/* ---- basics ------------------------------------------------------------------ */

static void body_keepalive(void *arg)
{
	struct ctx c = { 0 };
	static struct cl cl;
	static struct resp r;

	start(&c, echo, NULL, NULL);
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	for (int i = 0; i < 3; i++) {
		char req[128];

		snprintf(req, sizeof(req),
			 "GET /k/%d?q=1 HTTP/1.1\r\nHost: x\r\n\r\n", i);
		ck_assert_int_eq(cl_sends(&cl, req), 0);
		ck_assert_int_eq(cl_response(&cl, &r, false), 0);
		ck_assert_int_eq(r.status, 200);
		char want[32];
		snprintf(want, sizeof(want), "path=/k/%d", i);
		ck_assert_uint_eq(r.body_len, strlen(want));
		ck_assert(memcmp(r.body, want, r.body_len) == 0);
		ck_assert_ptr_nonnull(hdr(r.head, "Date"));
		ck_assert_ptr_nonnull(hdr(r.head, "Server"));
		ck_assert_ptr_null(hdr(r.head, "Connection"));
	}
	cl_close(&cl);
	stop(&c);
}

START_TEST(keepalive)
{
	run(body_keepalive, 1);
}
END_TEST

/* What the handler sees of a request. */
static int inspect(uco_http_request *req, uco_http_response *res, void *arg)
{
	char buf[2048];
	const char *name, *value;
	int n = snprintf(buf, sizeof(buf), "%s|%s|%s|%s|%d|%s|%u",
			 uco_http_request_method(req),
			 uco_http_request_target(req),
			 uco_http_request_path(req),
			 uco_http_request_query(req) ? uco_http_request_query(req)
						     : "(none)",
			 uco_http_request_version(req),
			 uco_http_request_header(req, "x-MiXeD") ?
				 uco_http_request_header(req, "x-MiXeD") : "-",
			 uco_http_request_header_count(req));

	(void)arg;
	for (unsigned i = 0; uco_http_request_header_at(req, i, &name, &value) == 0; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "|%s=%s", name,
			      value);
	ck_assert_int_eq(uco_http_request_header_at(req, 99, &name, &value),
			 -ENOENT);
	return uco_http_response_send(res, buf, (size_t)n);
}

static void body_request_parts(void *arg)
{
	struct ctx c = { 0 };
	static struct resp r;

	start(&c, inspect, NULL, NULL);
	ck_assert_int_eq(once(&c, "GET /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: h\r\n"
				  "X-Mixed: Value 1\r\nEmpty:\r\n\r\n", &r, NULL), 0);
	ck_assert_int_eq(r.status, 200);
	r.body[r.body_len] = '\0';
	ck_assert_str_eq(r.body, "GET|/a/b%20c?x=1&y=2|/a/b%20c|x=1&y=2|11|"
				 "Value 1|3|Host=h|X-Mixed=Value 1|Empty=");
	stop(&c);
}

START_TEST(request_parts)
{
	run(body_request_parts, 1);
}
END_TEST

/* The same POST, with the server's receive buffers `size` bytes each: every
 * receive holds at most that much, so with 1 the request is split at every
 * byte boundary. */
static void body_split(void *arg)
{
	static const char req[] =
		"POST /split?x=1 HTTP/1.1\r\nHost: example\r\n"
		"Content-Length: 11\r\nX-Long-Header: 0123456789\r\n\r\n"
		"hello world"
		"POST /split HTTP/1.1\r\nHost: example\r\n"
		"Transfer-Encoding: chunked\r\n\r\n"
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
		"GET /last HTTP/1.1\r\nHost: example\r\n\r\n";
	static const size_t sizes[] = { 1, 2, 3, 7, 4096 };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct ctx c = { 0 };
		uco_http_server_opts o = { .recv_buffers = 64,
					   .recv_buffer_size = sizes[s] };
		static struct cl cl;
		static struct resp r;

		start(&c, echo, NULL, &o);
		ck_assert_int_ge(cl_open(&cl, c.port), 0);
		/* Byte by byte from this side too, for the smallest size. */
		if (sizes[s] == 1) {
			for (size_t i = 0; i < sizeof(req) - 1; i++)
				ck_assert_int_eq(cl_send(&cl, req + i, 1), 0);
		} else {
			ck_assert_int_eq(cl_send(&cl, req, sizeof(req) - 1), 0);
		}
		for (int k = 0; k < 3; k++) {
			ck_assert_int_eq(cl_response(&cl, &r, false), 0);
			ck_assert_int_eq(r.status, 200);
			r.body[r.body_len] = '\0';
			ck_assert_str_eq(r.body, k < 2 ? "hello world"
						       : "path=/last");
		}
		cl_close(&cl);
		stop(&c);
	}
}

START_TEST(split_every_byte)
{
	run(body_split, 1);
}
END_TEST

/* The path: "/seq/N" answers N. */
static void body_pipelined(void *arg)
{
	struct ctx c = { 0 };
	static struct cl cl;
	static struct resp r;
	static char burst[100 * 64];
	size_t len = 0;

	start(&c, echo, NULL, NULL);
	for (int round = 0; round < 5; round++) {
		ck_assert_int_ge(cl_open(&cl, c.port), 0);
		len = 0;
		for (int i = 0; i < 100; i++)
			len += (size_t)snprintf(burst + len, sizeof(burst) - len,
						"GET /seq/%d HTTP/1.1\r\nHost: p\r\n\r\n",
						i);
		ck_assert_int_eq(cl_send(&cl, burst, len), 0);
		for (int i = 0; i < 100; i++) {
			char want[32];

			ck_assert_int_eq(cl_response(&cl, &r, false), 0);
			snprintf(want, sizeof(want), "path=/seq/%d", i);
			r.body[r.body_len] = '\0';
			ck_assert_str_eq(r.body, want);
		}
		cl_close(&cl);
	}
	stop(&c);
}

START_TEST(pipelined)
{
	run(body_pipelined, 1);
}
END_TEST

static void body_10k(void *arg)
{
	struct ctx c = { 0 };
	static struct cl cl;
	static struct resp r;
	uco_http_server_stats st;

	start(&c, echo, NULL, NULL);
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	for (int i = 0; i < 10000; i++) {
		LC_CHECK(cl_sends(&cl, "GET /ka HTTP/1.1\r\nHost: k\r\n\r\n") == 0,
			 "send %d", i);
		LC_CHECK(cl_response(&cl, &r, false) == 0 && r.status == 200 &&
				 r.body_len == 8,
			 "response %d", i);
	}
	uco_http_server_stats_get(c.srv, &st);
	ck_assert_uint_eq(st.requests, 10000);
	ck_assert_uint_eq(st.accepted, 1);
	cl_close(&cl);
	stop(&c);
}

START_TEST(keepalive_10k)
{
	run(body_10k, 1);
}
END_TEST

/* ---- limits and hostile input ------------------------------------------------ */

struct bad_case {
	const char *req;
	int status;
};

static void body_bad(void *arg)
{
	static char huge[40000], many[8000];
	size_t n = 0;
	struct bad_case cases[] = {
		{ "GARBAGE\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n\r\n", 400 }, /* no Host */
		{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		  "Content-Length: 5\r\n\r\n0\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		  "Content-Length: 6\r\n\r\nhello!", 400 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
		  501 },
		{ "POST / HTTP/1.1\r\nHost: x\r\n"
		  "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "zz\r\nhello\r\n0\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5 ; a=\"unterminated\r\nhello\r\n0\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
		  413 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
		{ "GET / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", 417 },
		{ huge, 431 },
		{ many, 431 },
	};
	struct ctx c = { 0 };
	static struct resp r;

	n = (size_t)snprintf(huge, sizeof(huge), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(huge + n, 'a', 30000);
	strcpy(huge + n + 30000, "\r\n\r\n");
	n = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 120; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "H%d: v\r\n", i);
	strcpy(many + n, "\r\n");

	start(&c, echo, NULL, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool closed = false;
		int e = once(&c, cases[i].req, &r, &closed);

		ck_assert_msg(e == 0, "case %zu: %d", i, e);
		ck_assert_msg(r.status == cases[i].status,
			      "case %zu: status %d, not %d", i, r.status,
			      cases[i].status);
		ck_assert_msg(closed, "case %zu: not closed", i);
		ck_assert_ptr_nonnull(strstr(r.head, "Connection: close"));
	}
	stop(&c);
}

START_TEST(bad_requests)
{
	run(body_bad, 1);
}
END_TEST

/* A chunked body over max_body_size, read by the handler: 413. */
static void body_chunked_413(void *arg)
{
	struct ctx c = { 0 };
	uco_http_server_opts o = { .max_body_size = 100 };
	static struct resp r;
	static char req[4096];
	size_t n = (size_t)snprintf(req, sizeof(req),
				    "POST / HTTP/1.1\r\nHost: x\r\n"
				    "Transfer-Encoding: chunked\r\n\r\n");
	bool closed;

	for (int i = 0; i < 10; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n,
				      "14\r\n01234567890123456789\r\n");
	strcpy(req + n, "0\r\n\r\n");
	start(&c, echo, NULL, &o);
	ck_assert_int_eq(once(&c, req, &r, &closed), 0);
	ck_assert_int_eq(r.status, 413);
	ck_assert(closed);
	/* Within the limit: fine. */
	ck_assert_int_eq(once(&c, "POST / HTTP/1.1\r\nHost: x\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n"
				  "5\r\nhello\r\n0\r\n\r\n", &r, NULL), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 5);
	stop(&c);
}

START_TEST(chunked_413)
{
	run(body_chunked_413, 1);
}
END_TEST

/* Slowloris: a byte of head every 20 ms; the header timeout (200 ms)
 * must close the connection long before the 200 bytes are out. */
struct drip {
	struct cl *cl;
	int sent;
	bool stop;
};

static void *drip_main(void *arg)
{
	struct drip *d = arg;
	static const char head[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";

	for (d->sent = 0; d->sent < 200 && !d->stop; d->sent++) {
		char ch = d->sent < (int)sizeof(head) - 1 ? head[d->sent] : 'a';

		if (uco_send(d->cl->fd, &ch, 1, 0) < 0)
			break;
		if (uco_sleep(20 * MS) < 0)
			break;
	}
	return NULL;
}

static void body_slowloris(void *arg)
{
	struct ctx c = { 0 };
	uco_http_server_opts o = { .header_timeout = 200 * MS };
	static struct cl cl;
	static struct resp r;
	struct drip d = { &cl, 0, false };
	uco_task *t;
	uco_http_server_stats st;

	start(&c, echo, NULL, &o);
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	ck_assert_int_eq(uco_spawn(&t, drip_main, &d, NULL), 0);
	/* The server answers 408 and closes. */
	ck_assert_int_eq(cl_response(&cl, &r, false), 0);
	ck_assert_int_eq(r.status, 408);
	ck_assert(cl_closed(&cl));
	d.stop = true;
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_lt(d.sent, 200);
	uco_http_server_stats_get(c.srv, &st);
	ck_assert_uint_ge(st.timeouts, 1);
	cl_close(&cl);
	stop(&c);
}

START_TEST(slowloris)
{
	run(body_slowloris, 1);
}
END_TEST

static void body_idle(void *arg)
{
	struct ctx c = { 0 };
	uco_http_server_opts o = { .idle_timeout = 100 * MS };
	static struct cl cl;
	static struct resp r;

	start(&c, echo, NULL, &o);
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	ck_assert_int_eq(cl_sends(&cl, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(cl_response(&cl, &r, false), 0);
	/* Then nothing: the idle sweep closes it. */
	ck_assert(cl_closed(&cl));
	cl_close(&cl);
	stop(&c);
}

START_TEST(idle_timeout)
{
	run(body_idle, 1);
}
END_TEST

/* A client that vanishes mid-body, and one that resets: the server goes
 * on serving others. */
static void body_hangups(void *arg)
{
	struct ctx c = { 0 };
	static struct cl cl;
	static struct resp r;

	start(&c, echo, NULL, NULL);
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	ck_assert_int_eq(cl_sends(&cl, "POST / HTTP/1.1\r\nHost: x\r\n"
				       "Content-Length: 100\r\n\r\nabc"), 0);
	cl_close(&cl);
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	ck_assert_int_eq(cl_sends(&cl, "GET / HTTP/1.1\r\nHo"), 0);
	{
		struct linger lg = { 1, 0 };

		setsockopt(cl.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	cl_close(&cl);
	ck_assert_int_eq(once(&c, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n", &r,
			      NULL), 0);
	ck_assert_int_eq(r.status, 200);
	stop(&c);
}

START_TEST(hangups)
{
	run(body_hangups, 1);
}
END_TEST

/* ---- HTTP/1.1 behaviour ---------------------------------------------------- */

static void body_protocol(void *arg)
{
	struct ctx c = { 0 };
	static struct cl cl;
	static struct resp r;
	bool closed;

	start(&c, echo, NULL, NULL);
	/* HEAD: the length GET would have, no body. */
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	ck_assert_int_eq(cl_sends(&cl, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"
				       "GET /h HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(cl_response(&cl, &r, true), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strncmp(hdr(r.head, "Content-Length"), "7\r\n", 3) == 0);
	ck_assert_int_eq(cl_response(&cl, &r, false), 0);
	ck_assert_uint_eq(r.body_len, 7);
	cl_close(&cl);
	/* HTTP/1.0: closed after the response, unless keep-alive asked. */
	ck_assert_int_eq(once(&c, "GET /old HTTP/1.0\r\n\r\n", &r, &closed), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(closed);
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(cl_sends(&cl, "GET /old HTTP/1.0\r\n"
					       "Connection: keep-alive\r\n\r\n"), 0);
		ck_assert_int_eq(cl_response(&cl, &r, false), 0);
		ck_assert_ptr_nonnull(strstr(r.head, "Connection: keep-alive"));
	}
	cl_close(&cl);
	/* Connection: close. */
	ck_assert_int_eq(once(&c, "GET / HTTP/1.1\r\nHost: x\r\n"
				  "Connection: close\r\n\r\n", &r, &closed), 0);
	ck_assert(closed);
	ck_assert_ptr_nonnull(strstr(r.head, "Connection: close"));
	/* Expect: 100-continue: the 100 comes before the body is sent. */
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	ck_assert_int_eq(cl_sends(&cl, "POST /e HTTP/1.1\r\nHost: x\r\n"
				       "Content-Length: 5\r\n"
				       "Expect: 100-continue\r\n\r\n"), 0);
	ck_assert_int_eq(cl_response(&cl, &r, false), 0);
	ck_assert_int_eq(r.status, 100);
	ck_assert_int_eq(cl_sends(&cl, "hello"), 0);
	ck_assert_int_eq(cl_response(&cl, &r, false), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(memcmp(r.body, "hello", 5) == 0);
	cl_close(&cl);
	stop(&c);
}

START_TEST(protocol)
{
	run(body_protocol, 1);
}
END_TEST

/* Streamed and file bodies; a handler that fails; one that ignores a body. */
static int bodies(uco_http_request *req, uco_http_response *res, void *arg)
{
	const char *p = uco_http_request_path(req);
	int fd = *(int *)arg;

	if (strcmp(p, "/stream") == 0) {
		for (int i = 0; i < 3; i++) {
			char b[16];
			int n = snprintf(b, sizeof(b), "part%d;", i);
			int r = uco_http_response_write(res, b, (size_t)n);

			if (r < 0)
				return r;
		}
		return uco_http_response_end(res);
	}
	if (strcmp(p, "/big-stream") == 0) {
		static char blk[100000];

		memset(blk, 'z', sizeof(blk));
		return uco_http_response_write(res, blk, sizeof(blk));
	}
	if (strcmp(p, "/file") == 0)
		return uco_http_response_sendfile(res, fd, 10, 50000);
	if (strcmp(p, "/short-file") == 0)
		return uco_http_response_sendfile(res, fd, 99990, 100);
	if (strcmp(p, "/fail") == 0)
		return -EIO;
	if (strcmp(p, "/ignore") == 0)
		return uco_http_response_send_str(res, "ignored");
	return uco_http_response_error(res, 404);
}

static void body_bodies(void *arg)
{
	struct ctx c = { 0 };
	static struct cl cl;
	static struct resp r;
	static char data[100000];
	char path[] = "/tmp/uco-http-test-XXXXXX";
	int fd = mkstemp(path);
	bool closed;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + 3);
	ck_assert_int_eq(write(fd, data, sizeof(data)), (int)sizeof(data));
	start(&c, bodies, &fd, NULL);
	ck_assert_int_eq(once(&c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", &r,
			      NULL), 0);
	ck_assert_ptr_nonnull(hdr(r.head, "Transfer-Encoding"));
	ck_assert_uint_eq(r.body_len, 18);
	ck_assert(memcmp(r.body, "part0;part1;part2;", 18) == 0);
	/* 1.0: no chunking, the end is the close. */
	ck_assert_int_eq(once(&c, "GET /stream HTTP/1.0\r\n\r\n", &r, NULL), 0);
	ck_assert_ptr_null(hdr(r.head, "Transfer-Encoding"));
	ck_assert_uint_eq(r.body_len, 18);
	/* A handler that returns without ending: ended for it. */
	ck_assert_int_eq(once(&c, "GET /big-stream HTTP/1.1\r\nHost: x\r\n\r\n",
			      &r, NULL), 0);
	ck_assert_uint_eq(r.body_len, 100000);
	ck_assert_int_eq(once(&c, "GET /file HTTP/1.1\r\nHost: x\r\n\r\n", &r,
			      NULL), 0);
	ck_assert_uint_eq(r.body_len, 50000);
	ck_assert(memcmp(r.body, data + 10, 50000) == 0);
	/* A file shorter than promised: the connection is cut. */
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	ck_assert_int_eq(cl_sends(&cl, "GET /short-file HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(cl_response(&cl, &r, false), -EPIPE);
	cl_close(&cl);
	ck_assert_int_eq(once(&c, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n", &r,
			      &closed), 0);
	ck_assert_int_eq(r.status, 500);
	ck_assert(closed);
	/* The unread body is skipped and the connection goes on. */
	ck_assert_int_ge(cl_open(&cl, c.port), 0);
	ck_assert_int_eq(cl_sends(&cl, "POST /ignore HTTP/1.1\r\nHost: x\r\n"
				       "Content-Length: 3\r\n\r\nabc"
				       "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(cl_response(&cl, &r, false), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(cl_response(&cl, &r, false), 0);
	ck_assert_uint_eq(r.body_len, 18);
	cl_close(&cl);
	stop(&c);
	close(fd);
}

START_TEST(response_bodies)
{
	run(body_bodies, 1);
}
END_TEST

/* ---- the router ---------------------------------------------------------------- */

static int user(uco_http_request *req, uco_http_response *res, void *arg)
{
	char b[256];
	int n = snprintf(b, sizeof(b), "%s:%s:%s", (const char *)arg,
			 uco_http_request_param(req, "id"),
			 uco_http_request_param(req, "rest") ?
				 uco_http_request_param(req, "rest") : "-");

	return uco_http_response_send(res, b, (size_t)n);
}

static void body_router(void *arg)
{
	struct ctx c = { 0 };
	uco_http_router *rt;
	static struct resp r;

	ck_assert_int_eq(uco_http_router_create(&rt), 0);
	ck_assert_int_eq(uco_http_route(rt, "GET", "/users/{id}", user, "get"), 0);
	ck_assert_int_eq(uco_http_route(rt, "DELETE", "/users/{id}", user, "del"), 0);
	ck_assert_int_eq(uco_http_route(rt, "GET", "/users/{id}/files/{rest}",
					user, "files"), 0);
	ck_assert_int_eq(uco_http_route(rt, "POST", "/hello", user, "hello"), 0);
	ck_assert_int_eq(uco_http_route(rt, "GET", "bad", user, NULL), -EINVAL);
	ck_assert_int_eq(uco_http_route(rt, "GET", "/a{b}", user, NULL), -EINVAL);
	start(&c, uco_http_router_handler, rt, NULL);
	ck_assert_int_eq(once(&c, "GET /users/a%20b HTTP/1.1\r\nHost: x\r\n\r\n",
			      &r, NULL), 0);
	r.body[r.body_len] = '\0';
	ck_assert_str_eq(r.body, "get:a b:-");
	ck_assert_int_eq(once(&c, "DELETE /users/7 HTTP/1.1\r\nHost: x\r\n\r\n",
			      &r, NULL), 0);
	r.body[r.body_len] = '\0';
	ck_assert_str_eq(r.body, "del:7:-");
	ck_assert_int_eq(once(&c, "GET /users/7/files/x.txt HTTP/1.1\r\nHost: x\r\n\r\n",
			      &r, NULL), 0);
	r.body[r.body_len] = '\0';
	ck_assert_str_eq(r.body, "files:7:x.txt");
	ck_assert_int_eq(once(&c, "GET /users/7/other HTTP/1.1\r\nHost: x\r\n\r\n",
			      &r, NULL), 0);
	ck_assert_int_eq(r.status, 404);
	ck_assert_int_eq(once(&c, "GET /users/ HTTP/1.1\r\nHost: x\r\n\r\n",
			      &r, NULL), 0);
	ck_assert_int_eq(r.status, 404);
	ck_assert_int_eq(once(&c, "PUT /users/7 HTTP/1.1\r\nHost: x\r\n"
				  "Content-Length: 0\r\n\r\n", &r, NULL), 0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(hdr(r.head, "Allow"), strstr(hdr(r.head, "Allow"), "GET, DELETE"));
	ck_assert(strncmp(hdr(r.head, "Allow"), "GET, DELETE\r\n", 13) == 0);
	ck_assert_int_eq(once(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
			      &r, NULL), 0);
	ck_assert_int_eq(r.status, 405);
	ck_assert_int_eq(once(&c, "HEAD /users/1 HTTP/1.1\r\nHost: x\r\n\r\n",
			      &r, NULL), 0);
	ck_assert_int_eq(r.status, 200);
	stop(&c);
	uco_http_router_free(rt);
}

START_TEST(router)
{
	run(body_router, 1);
}
END_TEST

/* ---- background tasks and shutdown ---------------------------------------------- */

static void *bg_task(void *arg)
{
	struct ctx *c = arg;
	int r;

	c->bg_started++;
	r = uco_sleep(50 * MS);
	if (r < 0)
		return uco_fail(r);
	c->bg_done++;
	return NULL;
}

static void *bg_forever(void *arg)
{
	struct ctx *c = arg;

	c->bg_started++;
	/* Sleeps until the server's shutdown cancels it. */
	ck_assert_int_eq(uco_sleep(3600 * UCO_NSEC_PER_SEC), -ECANCELED);
	return NULL;
}

/* /slow: 100 ms, /forever: an hour; each adds a background task. */
static int slow(uco_http_request *req, uco_http_response *res, void *arg)
{
	struct ctx *c = arg;
	bool forever = strcmp(uco_http_request_path(req), "/forever") == 0;
	int r;

	c->in_handler++;
	uco_http_response_after(res, forever ? bg_forever : bg_task, c);
	r = uco_sleep(forever ? 3600 * UCO_NSEC_PER_SEC : 100 * MS);
	if (r < 0)
		return r;
	return uco_http_response_send_str(res, "done");
}

struct client_arg {
	struct ctx *c;
	const char *req;
	int status;
};

static void *client_main(void *arg)
{
	struct client_arg *a = arg;
	struct cl *cl = malloc(sizeof(*cl));
	struct resp *r = malloc(sizeof(*r));

	a->status = -1;
	if (cl_open(cl, a->c->port) >= 0 && cl_sends(cl, a->req) == 0 &&
	    cl_response(cl, r, false) == 0)
		a->status = r->status;
	cl_close(cl);
	free(cl);
	free(r);
	return NULL;
}

static void body_shutdown_graceful(void *arg)
{
	struct ctx c = { 0 };
	struct client_arg a[4];
	uco_task *t[4];

	start(&c, slow, &c, NULL);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct client_arg){ &c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", 0 };
		ck_assert_int_eq(uco_spawn(&t[i], client_main, &a[i], NULL), 0);
	}
	while (c.in_handler < 4)
		ck_assert_int_eq(uco_yield(), 0);
	/* Requests and (then) background tasks in flight: all finish. */
	ck_assert_int_eq(uco_http_server_shutdown(c.srv, 10 * UCO_NSEC_PER_SEC), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
		ck_assert_int_eq(a[i].status, 200);
	}
	ck_assert_int_eq(c.bg_done, 4);
	uco_http_server_free(c.srv);
}

START_TEST(shutdown_graceful)
{
	run(body_shutdown_graceful, 1);
}
END_TEST

static void body_shutdown_cut(void *arg)
{
	struct ctx c = { 0 };
	struct client_arg a[2];
	uco_task *t[2];
	uco_http_server_stats st;

	start(&c, slow, &c, NULL);
	a[0] = (struct client_arg){ &c, "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n", 0 };
	a[1] = (struct client_arg){ &c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", 0 };
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(uco_spawn(&t[i], client_main, &a[i], NULL), 0);
	while (c.in_handler < 2)
		ck_assert_int_eq(uco_yield(), 0);
	/* /slow's background task sleeps 50 ms after its 100 ms handler; the
	 * handler of /forever never ends: both are cut at 300 ms. */
	ck_assert_int_eq(uco_http_server_shutdown(c.srv, 300 * MS), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(a[1].status, 200);
	ck_assert_int_eq(a[0].status, 500); /* cancelled before answering */
	ck_assert_int_eq(c.bg_done, 1);
	uco_http_server_stats_get(c.srv, &st);
	ck_assert_uint_eq(st.open, 0);
	ck_assert_uint_eq(st.workers, 0);
	ck_assert_uint_eq(st.background, 0);
	uco_http_server_free(c.srv);
}

START_TEST(shutdown_cut)
{
	run(body_shutdown_cut, 1);
}
END_TEST

/* Many clients on two cores at once, and idle connections closed by the
 * shutdown itself. */
static void body_two_cores(void *arg)
{
	struct ctx c = { 0 };
	enum { N = 200 };
	static struct client_arg a[N];
	static uco_task *t[N];
	static struct cl idle[8];
	static struct resp r;

	start(&c, echo, NULL, NULL);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_ge(cl_open(&idle[i], c.port), 0);
		ck_assert_int_eq(cl_sends(&idle[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
		ck_assert_int_eq(cl_response(&idle[i], &r, false), 0);
	}
	for (int i = 0; i < N; i++) {
		a[i] = (struct client_arg){ &c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", 0 };
		ck_assert_int_eq(uco_spawn(&t[i], client_main, &a[i], NULL), 0);
	}
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
		ck_assert_int_eq(a[i].status, 200);
	}
	ck_assert_int_eq(uco_http_server_shutdown(c.srv, 0), 0);
	for (int i = 0; i < 8; i++) {
		ck_assert(cl_closed(&idle[i]));
		cl_close(&idle[i]);
	}
	uco_http_server_free(c.srv);
}

START_TEST(two_cores)
{
	run(body_two_cores, 2);
}
END_TEST

/* A burst of first requests on a ring of 8 buffers: the connections the
 * ring cannot take wait for a buffer without a worker each, and every one
 * is answered. */
static void body_starved(void *arg)
{
	struct ctx c = { 0 };
	enum { N = 300 };
	uco_http_server_opts o = { .recv_buffers = 8, .recv_buffer_size = 64 };
	static struct client_arg a[N];
	static uco_task *t[N];
	uco_http_server_stats st;

	start(&c, echo, NULL, &o);
	for (int i = 0; i < N; i++) {
		a[i] = (struct client_arg){ &c, "GET /burst HTTP/1.1\r\nHost: x\r\n"
						"X-Pad: 0123456789012345678901234567890123456789\r\n\r\n", 0 };
		ck_assert_int_eq(uco_spawn(&t[i], client_main, &a[i], NULL), 0);
	}
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
		ck_assert_int_eq(a[i].status, 200);
	}
	uco_http_server_stats_get(c.srv, &st);
	ck_assert_uint_eq(st.requests, N);
	stop(&c);
}

START_TEST(starved_ring)
{
	run(body_starved, 1);
}
END_TEST

static void body_misuse(void *arg)
{
	uco_http_server *srv;

	ck_assert_int_eq(uco_http_serve(NULL, NULL, "0", echo, NULL, NULL), -EINVAL);
	ck_assert_int_eq(uco_http_serve(&srv, NULL, "0", NULL, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(srv);
	uco_http_server_opts o = { .cores = 99 };
	ck_assert_int_eq(uco_http_serve(&srv, NULL, "0", echo, NULL, &o), -EINVAL);
	uco_http_server_opts o2 = { .recv_buffers = 3 };
	ck_assert_int_eq(uco_http_serve(&srv, NULL, "0", echo, NULL, &o2), -EINVAL);
	uco_http_server_free(NULL);
}

START_TEST(misuse)
{
	run(body_misuse, 1);
	uco_http_server *srv;
	ck_assert_int_eq(uco_http_serve(&srv, NULL, "0", echo, NULL, NULL), -EPERM);
}
END_TEST

START_TEST(helpers)
{
	char b[64];

	ck_assert_int_eq(uco_http_unescape(b, sizeof(b), "a%2e%2E/%41", 11), 5);
	ck_assert_str_eq(b, "a../A");
	ck_assert_int_eq(uco_http_unescape(b, sizeof(b), "%00", 3), -EINVAL);
	ck_assert_int_eq(uco_http_unescape(b, sizeof(b), "%4", 2), -EINVAL);
	ck_assert_int_eq(uco_http_unescape(b, sizeof(b), "%zz", 3), -EINVAL);
	ck_assert_int_eq(uco_http_unescape(b, 3, "abcd", 4), -ENOSPC);
	ck_assert_int_eq(uco_http_date(b, 784111777), 29);
	ck_assert_str_eq(b, "Sun, 06 Nov 1994 08:49:37 GMT");
	ck_assert_str_eq(uco_http_status_text(431),
			 "Request Header Fields Too Large");
}
END_TEST

/* ---- interop: curl and Python ---------------------------------------------------- */

struct cmd {
	char *const *argv;
	int status;
	char out[8192];
};

/* Run argv, its stdout into out; in an offload thread (it blocks). */
static void *cmd_run(void *arg)
{
	struct cmd *c = arg;
	int p[2];
	pid_t pid;
	posix_spawn_file_actions_t fa;
	size_t n = 0;
	ssize_t k;

	if (pipe2(p, O_CLOEXEC) < 0)
		return NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	c->status = -1;
	if (posix_spawnp(&pid, c->argv[0], &fa, NULL, c->argv, environ) == 0) {
		close(p[1]);
		while ((k = read(p[0], c->out + n, sizeof(c->out) - 1 - n)) > 0)
			n += (size_t)k;
		waitpid(pid, &c->status, 0);
	} else {
		close(p[1]);
	}
	c->out[n] = '\0';
	close(p[0]);
	posix_spawn_file_actions_destroy(&fa);
	return NULL;
}

static int cmd(struct cmd *c)
{
	int r = uco_to_thread(cmd_run, c, NULL, NULL);

	return r < 0 ? r : c->status;
}

static void body_curl(void *arg)
{
	struct ctx c = { 0 };
	char u1[64], u2[64];
	static struct cmd k;

	start(&c, echo, NULL, NULL);
	snprintf(u1, sizeof(u1), "http://127.0.0.1:%d/one", c.port);
	snprintf(u2, sizeof(u2), "http://127.0.0.1:%d/two", c.port);
	/* Keep-alive: two URLs, one connection ("%{num_connects}" is 0 for
	 * the re-used one). */
	{
		char *const argv[] = { "curl", "-sS", "-w", " %{num_connects}\n",
				       u1, u2, NULL };
		k.argv = argv;
		ck_assert_int_eq(cmd(&k), 0);
		ck_assert_str_eq(k.out, "path=/one 1\npath=/two 0\n");
	}
	{
		char *const argv[] = { "curl", "-sS", "--http1.0", "-D", "-", u1,
				       NULL };
		k.argv = argv;
		ck_assert_int_eq(cmd(&k), 0);
		ck_assert_ptr_nonnull(strstr(k.out, "HTTP/1.1 200 OK"));
		ck_assert_ptr_nonnull(strstr(k.out, "path=/one"));
	}
	{
		/* A chunked upload. */
		char *const argv[] = { "curl", "-sS", "-H",
				       "Transfer-Encoding: chunked", "--data-binary",
				       "uploaded in chunks", u1, NULL };
		k.argv = argv;
		ck_assert_int_eq(cmd(&k), 0);
		ck_assert_str_eq(k.out, "uploaded in chunks");
	}
	{
		static const char py[] =
			"import http.client, sys\n"
			"c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]))\n"
			"out = []\n"
			"for i in range(3):\n"
			"    c.request('GET', '/py/%d' % i)\n"
			"    r = c.getresponse()\n"
			"    out.append('%d %s' % (r.status, r.read().decode()))\n"
			"c.request('POST', '/p', body=b'x' * 70000)\n"
			"r = c.getresponse()\n"
			"out.append('%d %d' % (r.status, len(r.read())))\n"
			"c.request('PUT', '/p', body=iter([b'ab', b'cd']),\n"
			"          encode_chunked=True)\n"
			"r = c.getresponse()\n"
			"out.append('%d %s' % (r.status, r.read().decode()))\n"
			"print(';'.join(out))\n";
		char port[16];
		snprintf(port, sizeof(port), "%d", c.port);
		char *const argv[] = { "python3", "-c", (char *)py, port, NULL };
		k.argv = argv;
		ck_assert_int_eq(cmd(&k), 0);
		ck_assert_str_eq(k.out, "200 path=/py/0;200 path=/py/1;"
					"200 path=/py/2;200 70000;200 abcd\n");
	}
	stop(&c);
}

START_TEST(interop)
{
	run(body_curl, 1);
}
END_TEST

static bool have(const char *prog)
{
	char cmdline[128];

	snprintf(cmdline, sizeof(cmdline), "command -v %s >/dev/null 2>&1", prog);
	return system(cmdline) == 0;
}

int main(int argc, char **argv)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	/* glibc sets up its time zone state (allocating) on the first
	 * gmtime_r(): here, before the leak checks count. */
	{
		char d[32];

		uco_http_date(d, 0);
	}
	tcase_set_timeout(tc, 120);
	if (argc > 1 && strcmp(argv[1], "--interop") == 0) {
		if (!have("curl") || !have("python3")) {
			fprintf(stderr, "curl or python3 missing: skipped\n");
			return 77;
		}
		tcase_add_test(tc, interop);
	} else {
		tcase_add_test(tc, helpers);
		tcase_add_test(tc, keepalive);
		tcase_add_test(tc, request_parts);
		tcase_add_test(tc, split_every_byte);
		tcase_add_test(tc, pipelined);
		tcase_add_test(tc, keepalive_10k);
		tcase_add_test(tc, bad_requests);
		tcase_add_test(tc, chunked_413);
		tcase_add_test(tc, slowloris);
		tcase_add_test(tc, idle_timeout);
		tcase_add_test(tc, hangups);
		tcase_add_test(tc, protocol);
		tcase_add_test(tc, response_bodies);
		tcase_add_test(tc, router);
		tcase_add_test(tc, shutdown_graceful);
		tcase_add_test(tc, shutdown_cut);
		tcase_add_test(tc, two_cores);
		tcase_add_test(tc, starved_ring);
		tcase_add_test(tc, misuse);
	}
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
