/*
 * Suite "server": stream servers (include/uco/server.h) with clients from
 * uco_open_connection().  Echo on 1 and 2 cores with 1,000 concurrent
 * clients, every byte checked; a peer hanging up mid-read and mid-write
 * ends that connection only; the connection cap; accept hitting EMFILE (in
 * a child with a low RLIMIT_NOFILE) and the server serving again once fds
 * are free; shutdown with a grace period; SIGTERM through
 * uco_server_run_until_signal() (in a child); Unix sockets; misuse; a
 * port another process listens on refused with -EADDRINUSE (1 and 2
 * cores); idle and read timeouts closing connections.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC
#define HOST "127.0.0.1"

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 131u + 7u + (i >> 11));
}

/* glibc keeps what its first name resolutions load for good; resolve on
 * every offload thread before a leak check counts. */
static void *resolve_once(void *arg)
{
	struct addrinfo *ai;

	if (uco_getaddrinfo(HOST, "1", NULL, &ai) == 0)
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

static void srv_run(void (*body)(void *), void *arg, unsigned cores)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = cores;
	th_run(body_resolve_warm, NULL, &cfg);
	lc_run(body, arg, &cfg);
}

static void port_str(uco_server *srv, char *buf, size_t len)
{
	int p = uco_server_port(srv);

	ck_assert_int_gt(p, 0);
	snprintf(buf, len, "%d", p);
}

static void stats(uco_server *srv, uco_server_stats *st)
{
	uco_server_stats_get(srv, st);
}

/* ---- handlers ------------------------------------------------------------ */

static int echo_handler(uco_stream *s, void *arg)
{
	char buf[4096];

	for (;;) {
		ssize_t n = uco_stream_read(s, buf, sizeof(buf));
		int r;

		if (n <= 0)
			return (int)n;
		r = uco_stream_write(s, buf, (size_t)n);
		if (r == 0)
			r = uco_stream_drain(s);
		if (r < 0)
			return r;
	}
}

/* One round trip of a line through an echo server. */
static void echo_line(const char *port, const char *line)
{
	uco_stream *c;
	char buf[256];
	size_t len = strlen(line);

	ck_assert_int_eq(uco_open_connection(&c, HOST, port, NULL), 0);
	ck_assert_int_eq(uco_stream_write(c, line, len), 0);
	ck_assert_int_eq(uco_stream_drain(c), 0);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)),
			 (ssize_t)len);
	ck_assert(memcmp(buf, line, len) == 0);
	ck_assert_int_eq(uco_stream_close(c), 0);
}

/* ---- echo with many clients ---------------------------------------------- */

struct echo_client {
	const char *port;
	unsigned id;
	unsigned msgs;
	uint64_t bytes; /* verified */
	int err;
	int line;       /* where it went wrong */
};

#define FAIL_AT(c, e)                                                         \
	do {                                                                  \
		int fail_e_ = (e);                                            \
		(c)->err = fail_e_ ? fail_e_ : -EPROTO;                       \
		(c)->line = __LINE__;                                         \
		goto out;                                                     \
	} while (0)

static void *echo_client_task(void *arg)
{
	struct echo_client *c = arg;
	uint8_t out[3000], in[3000];
	uint64_t off = (uint64_t)c->id * 1000003u;
	uco_stream *s = NULL;
	ssize_t n;
	int r;

	r = uco_open_connection(&s, HOST, c->port, NULL);
	if (r < 0)
		FAIL_AT(c, r);
	for (unsigned m = 0; m < c->msgs; m++) {
		size_t len = 1 + (c->id * 7919u + m * 104729u) % sizeof(out);

		for (size_t i = 0; i < len; i++)
			out[i] = pat(off + i);
		r = uco_stream_write(s, out, len);
		if (r == 0)
			r = uco_stream_drain(s);
		if (r < 0)
			FAIL_AT(c, r);
		n = uco_stream_readexactly(s, in, len);
		if (n != (ssize_t)len)
			FAIL_AT(c, (int)n);
		if (memcmp(in, out, len) != 0)
			FAIL_AT(c, -EBADMSG);
		off += len;
		c->bytes += len;
	}
	/* half-close: the server sees the end and closes its side */
	r = uco_stream_write_eof(s);
	if (r < 0)
		FAIL_AT(c, r);
	n = uco_stream_read(s, in, sizeof(in));
	if (n != 0)
		FAIL_AT(c, n < 0 ? (int)n : -E2BIG);
out:
	UCO_IGNORE(uco_stream_close(s));
	return NULL;
}

/* Raise RLIMIT_NOFILE's soft limit to the hard one; how many clients
 * (two fds each, in this one process) that leaves room for. */
static unsigned clients_for_fds(unsigned want)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want * 2 + 256, cap = 1u << 20;
	unsigned n = want;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max < cap ? rl.rlim_max : cap;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	if (rl.rlim_cur < need) {
		n = rl.rlim_cur > 256 + 2 ? (unsigned)(rl.rlim_cur - 256) / 2 : 1;
		fprintf(stderr,
			"server: RLIMIT_NOFILE hard limit is %llu; running %u "
			"clients instead of %u\n",
			(unsigned long long)rl.rlim_max, n, want);
	}
	return n;
}

struct echo_many {
	unsigned clients;
	unsigned msgs;
	unsigned cores;
};

static void body_echo_many(void *arg)
{
	struct echo_many *e = arg;
	uco_server_opts o = { .backlog = 4096 };
	struct echo_client *c = calloc(e->clients, sizeof(*c));
	uco_task **t = calloc(e->clients, sizeof(*t));
	uco_server_stats st;
	uco_server *srv;
	uint64_t total = 0;
	char port[16];

	ck_assert_int_eq(uco_cores(), e->cores);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", echo_handler, NULL,
					  &o),
			 0);
	port_str(srv, port, sizeof(port));
	stats(srv, &st);
	ck_assert_uint_eq(st.listening, e->cores);
	for (unsigned i = 0; i < e->clients; i++) {
		c[i] = (struct echo_client){ port, i, e->msgs, 0, 0, 0 };
		ck_assert_int_eq(uco_spawn(&t[i], echo_client_task, &c[i],
					   NULL),
				 0);
	}
	for (unsigned i = 0; i < e->clients; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
		ck_assert_msg(c[i].err == 0, "client %u: %d (%s) at line %d",
			      i, c[i].err, strerror(-c[i].err), c[i].line);
		total += c[i].bytes;
	}
	ck_assert_int_eq(uco_server_shutdown(srv, 5000 * MS), 0);
	stats(srv, &st);
	ck_assert_uint_eq(st.accepted, e->clients);
	ck_assert_uint_eq(st.completed, e->clients);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_eq(st.active, 0);
	ck_assert_uint_eq(st.listening, 0);
	fprintf(stderr, "server: %u clients on %u core(s): %llu bytes echoed "
			"and verified\n",
		e->clients, e->cores, (unsigned long long)total);
	uco_server_free(srv);
	free(c);
	free(t);
}

START_TEST(echo_1core_1000)
{
	struct echo_many e = { clients_for_fds(1000), 8, 1 };

	srv_run(body_echo_many, &e, 1);
}
END_TEST

START_TEST(echo_2cores_1000)
{
	struct echo_many e = { clients_for_fds(1000), 8, 2 };

	srv_run(body_echo_many, &e, 2);
}
END_TEST

/* ---- peers that hang up --------------------------------------------------- */

/* Handlers that record what their calls returned, and say when. */
struct probe {
	int result;        /* the last handler's call result */
	size_t partial;
	uco_future *done;  /* set when a probe handler has its result */
};

static int hangup_read_handler(uco_stream *s, void *arg)
{
	struct probe *p = arg;
	char buf[100];
	ssize_t n = uco_stream_readexactly(s, buf, sizeof(buf));

	p->result = (int)n;
	p->partial = uco_stream_partial(s);
	uco_future_set_result(p->done, NULL);
	return n < 0 ? (int)n : 0;
}

static void body_hangup_mid_read(void *arg)
{
	struct probe p = { 0 };
	uco_server_stats st;
	uco_server *srv;
	uco_stream *c;
	char port[16];

	ck_assert_int_eq(uco_future_create(&p.done), 0);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0",
					  hangup_read_handler, &p, NULL),
			 0);
	port_str(srv, port, sizeof(port));
	ck_assert_int_eq(uco_open_connection(&c, HOST, port, NULL), 0);
	ck_assert_int_eq(uco_stream_write(c, "0123456789", 10), 0);
	ck_assert_int_eq(uco_stream_close(c), 0);
	ck_assert_int_eq(uco_future_wait(p.done, NULL), 0);
	ck_assert_int_eq(p.result, -EPIPE);
	ck_assert_uint_eq(p.partial, 10);
	ck_assert_int_eq(uco_server_shutdown(srv, 5000 * MS), 0);
	stats(srv, &st);
	ck_assert_uint_eq(st.accepted, 1);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.cancelled, 0);
	uco_server_free(srv);
	uco_future_free(p.done);
}

START_TEST(hangup_mid_read)
{
	srv_run(body_hangup_mid_read, NULL, 1);
}
END_TEST

/* The first line picks the behaviour: "flood" sends until the peer is
 * gone; anything else is echoed, line by line. */
static int mixed_handler(uco_stream *s, void *arg)
{
	struct probe *p = arg;
	static const char junk[65536];
	char line[64];
	ssize_t n = uco_stream_readline(s, line, sizeof(line));

	if (n <= 0)
		return (int)n;
	if (n == 6 && memcmp(line, "flood\n", 6) == 0) {
		int r;

		do {
			r = uco_stream_write(s, junk, sizeof(junk));
			if (r == 0)
				r = uco_stream_drain(s);
		} while (r == 0);
		p->result = r;
		uco_future_set_result(p->done, NULL);
		return r;
	}
	do {
		int r = uco_stream_write(s, line, (size_t)n);

		if (r == 0)
			r = uco_stream_drain(s);
		if (r < 0)
			return r;
	} while ((n = uco_stream_readline(s, line, sizeof(line))) > 0);
	return (int)n;
}

static void body_hangup_mid_write(void *arg)
{
	struct probe p = { 0 };
	uco_server_stats st;
	uco_server *srv;
	uco_stream *c, *keep;
	char port[16], buf[64];

	ck_assert_int_eq(uco_future_create(&p.done), 0);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", mixed_handler, &p,
					  NULL),
			 0);
	port_str(srv, port, sizeof(port));
	/* a client that stays connected throughout */
	ck_assert_int_eq(uco_open_connection(&keep, HOST, port, NULL), 0);
	ck_assert_int_eq(uco_stream_write(keep, "before\n", 7), 0);
	ck_assert_int_eq(uco_stream_drain(keep), 0);
	ck_assert_int_eq(uco_stream_readline(keep, buf, sizeof(buf)), 7);
	/* one that asks for a flood, reads a little of it and hangs up */
	ck_assert_int_eq(uco_open_connection(&c, HOST, port, NULL), 0);
	ck_assert_int_eq(uco_stream_write(c, "flood\n", 6), 0);
	ck_assert_int_eq(uco_stream_drain(c), 0);
	ck_assert_int_eq(uco_stream_readexactly(c, buf, sizeof(buf)),
			 (ssize_t)sizeof(buf));
	uco_stream_abort(c);
	ck_assert_int_eq(uco_future_wait(p.done, NULL), 0);
	ck_assert_msg(p.result == -EPIPE || p.result == -ECONNRESET,
		      "flood ended with %d", p.result);
	/* the process is alive (no SIGPIPE) and the others are served */
	ck_assert_int_eq(uco_stream_write(keep, "after\n", 6), 0);
	ck_assert_int_eq(uco_stream_drain(keep), 0);
	ck_assert_int_eq(uco_stream_readline(keep, buf, sizeof(buf)), 6);
	ck_assert(memcmp(buf, "after\n", 6) == 0);
	echo_line(port, "a new client\n");
	ck_assert_int_eq(uco_stream_close(keep), 0);
	ck_assert_int_eq(uco_server_shutdown(srv, 5000 * MS), 0);
	stats(srv, &st);
	ck_assert_uint_eq(st.accepted, 3);
	ck_assert_uint_eq(st.completed, 2);
	ck_assert_uint_eq(st.failed, 1);
	uco_server_free(srv);
	uco_future_free(p.done);
}

START_TEST(hangup_mid_write)
{
	srv_run(body_hangup_mid_write, NULL, 1);
}
END_TEST

/* ---- timeouts and cancellation in handlers ------------------------------ */

static int line_reader(void *arg)
{
	uco_stream *s = arg;
	char line[64];

	return (int)uco_stream_readline(s, line, sizeof(line));
}

/* Answers "wait_for <r>" and "scope <r>" with the results of a readline
 * under uco_wait_for and under a timeout scope. */
static int timeout_handler(uco_stream *s, void *arg)
{
	char line[64];
	int r, sc, n;

	r = uco_wait_for(30 * MS, line_reader, s);
	n = snprintf(line, sizeof(line), "wait_for %d\n", r);
	UCO_IGNORE(uco_stream_write(s, line, (size_t)n));
	r = uco_stream_drain(s);
	if (r < 0)
		return r;
	sc = uco_timeout_begin(30 * MS);
	r = (int)uco_stream_readline(s, line, sizeof(line));
	uco_timeout_end(sc);
	n = snprintf(line, sizeof(line), "scope %d\n", r);
	UCO_IGNORE(uco_stream_write(s, line, (size_t)n));
	return uco_stream_drain(s);
}

static void body_handler_timeouts(void *arg)
{
	char port[16], buf[64], want[64];
	uco_server *srv;
	uco_stream *c;

	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", timeout_handler,
					  NULL, NULL),
			 0);
	port_str(srv, port, sizeof(port));
	ck_assert_int_eq(uco_open_connection(&c, HOST, port, NULL), 0);
	snprintf(want, sizeof(want), "wait_for %d\n", -ETIMEDOUT);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)),
			 (ssize_t)strlen(want));
	ck_assert(memcmp(buf, want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "scope %d\n", -ETIMEDOUT);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)),
			 (ssize_t)strlen(want));
	ck_assert(memcmp(buf, want, strlen(want)) == 0);
	ck_assert_int_eq(uco_stream_read(c, buf, sizeof(buf)), 0);
	ck_assert_int_eq(uco_stream_close(c), 0);
	ck_assert_int_eq(uco_server_shutdown(srv, 0), 0);
	uco_server_free(srv);
}

START_TEST(handler_timeouts)
{
	srv_run(body_handler_timeouts, NULL, 1);
}
END_TEST

/* Handlers that say when they are in, then read a line. */
struct gate {
	unsigned in, want, inside, peak;
	int results[8];
	unsigned nresults;
	uco_future *all_in;
	uco_future *open;  /* NULL: do not wait for it */
};

static int gated_handler(uco_stream *s, void *arg)
{
	struct gate *g = arg;
	char line[64];
	ssize_t n;
	int r = 0;

	g->inside++;
	if (g->inside > g->peak)
		g->peak = g->inside;
	if (++g->in == g->want)
		uco_future_set_result(g->all_in, NULL);
	if (g->open)
		r = uco_future_wait(g->open, NULL);
	if (r == 0) {
		n = uco_stream_readline(s, line, sizeof(line));
		r = n < 0 ? (int)n : 0;
		if (n > 0) {
			UCO_IGNORE(uco_stream_write(s, line, (size_t)n));
			r = uco_stream_drain(s);
		}
	}
	if (g->nresults < 8)
		g->results[g->nresults++] = r;
	g->inside--;
	return r;
}

/* Cancellation of a handler mid-read: shutdown with no grace. */
static void body_cancel_handler(void *arg)
{
	struct gate g = { .want = 2 };
	uco_server_stats st;
	uco_server *srv;
	uco_stream *c[2];
	char port[16], buf[8];

	ck_assert_int_eq(uco_future_create(&g.all_in), 0);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", gated_handler, &g,
					  NULL),
			 0);
	port_str(srv, port, sizeof(port));
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(uco_open_connection(&c[i], HOST, port, NULL),
				 0);
	ck_assert_int_eq(uco_future_wait(g.all_in, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0); /* into their readline */
	ck_assert_int_eq(uco_server_shutdown(srv, 0), 0);
	ck_assert_uint_eq(g.nresults, 2);
	ck_assert_int_eq(g.results[0], -ECANCELED);
	ck_assert_int_eq(g.results[1], -ECANCELED);
	stats(srv, &st);
	ck_assert_uint_eq(st.cancelled, 2);
	ck_assert_uint_eq(st.active, 0);
	/* the clients see the end of the stream */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_stream_read(c[i], buf, sizeof(buf)), 0);
		UCO_IGNORE(uco_stream_close(c[i]));
	}
	/* and nobody listens any more */
	ck_assert_int_eq(uco_open_connection(&c[0], HOST, port, NULL),
			 -ECONNREFUSED);
	uco_server_free(srv);
	uco_future_free(g.all_in);
}

START_TEST(cancel_handler)
{
	srv_run(body_cancel_handler, NULL, 1);
}
END_TEST

/* ---- shutdown with grace ------------------------------------------------- */

struct shutter {
	uco_server *srv;
	uint64_t grace;
	int r;
};

static void *shutdown_task(void *arg)
{
	struct shutter *s = arg;

	s->r = uco_server_shutdown(s->srv, s->grace);
	return NULL;
}

static void body_shutdown_grace(void *arg)
{
	struct gate g = { .want = 2 };
	struct shutter sh;
	uco_server_stats st;
	uco_server *srv;
	uco_stream *c[2];
	uco_task *t;
	char port[16], buf[64];

	ck_assert_int_eq(uco_future_create(&g.all_in), 0);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", gated_handler, &g,
					  NULL),
			 0);
	port_str(srv, port, sizeof(port));
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(uco_open_connection(&c[i], HOST, port, NULL),
				 0);
	ck_assert_int_eq(uco_future_wait(g.all_in, NULL), 0);
	/* shut down with a grace period, while both handlers read */
	sh = (struct shutter){ srv, 1000 * MS, 1 };
	ck_assert_int_eq(uco_spawn(&t, shutdown_task, &sh, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	/* the first one gets its line within the grace and finishes... */
	ck_assert_int_eq(uco_stream_write(c[0], "bye\n", 4), 0);
	ck_assert_int_eq(uco_stream_drain(c[0]), 0);
	ck_assert_int_eq(uco_stream_readline(c[0], buf, sizeof(buf)), 4);
	/* ...the second one never does, and is cancelled at the deadline */
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(sh.r, 0);
	ck_assert_uint_eq(g.nresults, 2);
	ck_assert_int_eq(g.results[0], 0);
	ck_assert_int_eq(g.results[1], -ECANCELED);
	stats(srv, &st);
	ck_assert_uint_eq(st.completed, 1);
	ck_assert_uint_eq(st.cancelled, 1);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_stream_read(c[i], buf, sizeof(buf)), 0);
		UCO_IGNORE(uco_stream_close(c[i]));
	}
	/* a second shutdown: nothing left to do */
	ck_assert_int_eq(uco_server_shutdown(srv, 0), 0);
	ck_assert_int_eq(uco_server_close(srv), 0);
	ck_assert_int_eq(uco_server_serve_forever(srv), 0);
	uco_server_free(srv);
	uco_future_free(g.all_in);
}

START_TEST(shutdown_grace)
{
	srv_run(body_shutdown_grace, NULL, 1);
}
END_TEST

/* Connections that end inside the grace are not cancelled, and shutdown
 * returns when they have ended; close lets them run on. */
static void body_close_then_shutdown(void *arg)
{
	struct gate g = { .want = 3 };
	struct shutter sh;
	uco_server_stats st;
	uco_server *srv;
	uco_stream *c[3];
	uco_task *t;
	char port[16], buf[64];

	ck_assert_int_eq(uco_future_create(&g.all_in), 0);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", gated_handler, &g,
					  NULL),
			 0);
	port_str(srv, port, sizeof(port));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uco_open_connection(&c[i], HOST, port, NULL),
				 0);
	ck_assert_int_eq(uco_future_wait(g.all_in, NULL), 0);
	ck_assert_int_eq(uco_server_close(srv), 0);
	/* serving on after close: the connections still get answers */
	ck_assert_int_eq(uco_stream_write(c[0], "one\n", 4), 0);
	ck_assert_int_eq(uco_stream_drain(c[0]), 0);
	ck_assert_int_eq(uco_stream_readline(c[0], buf, sizeof(buf)), 4);
	sh = (struct shutter){ srv, 3600ull * 1000 * MS, 1 };
	ck_assert_int_eq(uco_spawn(&t, shutdown_task, &sh, NULL), 0);
	for (int i = 1; i < 3; i++) {
		ck_assert_int_eq(uco_stream_write(c[i], "two\n", 4), 0);
		ck_assert_int_eq(uco_stream_drain(c[i]), 0);
		ck_assert_int_eq(uco_stream_readline(c[i], buf, sizeof(buf)),
				 4);
	}
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(sh.r, 0);
	stats(srv, &st);
	ck_assert_uint_eq(st.completed, 3);
	ck_assert_uint_eq(st.cancelled, 0);
	for (int i = 0; i < 3; i++)
		UCO_IGNORE(uco_stream_close(c[i]));
	uco_server_free(srv);
	uco_future_free(g.all_in);
}

START_TEST(close_then_shutdown)
{
	srv_run(body_close_then_shutdown, NULL, 1);
}
END_TEST

/* ---- the connection cap --------------------------------------------------- */

struct capped_client {
	const char *port;
	int err;
};

static void *capped_client_task(void *arg)
{
	struct capped_client *cc = arg;
	uco_stream *s;
	char buf[16];
	int r = uco_open_connection(&s, HOST, cc->port, NULL);

	if (r < 0) {
		cc->err = r;
		return NULL;
	}
	r = uco_stream_write(s, "hi\n", 3);
	if (r == 0)
		r = uco_stream_drain(s);
	if (r == 0 && uco_stream_readline(s, buf, sizeof(buf)) != 3)
		r = -EPROTO;
	cc->err = r;
	UCO_IGNORE(uco_stream_close(s));
	return NULL;
}

struct cap_case {
	unsigned cores;
	size_t cap;
};

static void body_connection_cap(void *arg)
{
	enum { N = 12 };
	struct cap_case *cc = arg;
	struct gate g = { .want = (unsigned)cc->cap };
	uco_server_opts o = { .max_connections = cc->cap, .cores = 1 };
	struct capped_client cl[N];
	uco_server_stats st;
	uco_server *srv;
	uco_task *t[N];
	char port[16];

	ck_assert_int_eq(uco_future_create(&g.all_in), 0);
	ck_assert_int_eq(uco_future_create(&g.open), 0);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", gated_handler, &g,
					  &o),
			 0);
	port_str(srv, port, sizeof(port));
	for (int i = 0; i < N; i++) {
		cl[i] = (struct capped_client){ port, 1 };
		ck_assert_int_eq(uco_spawn(&t[i], capped_client_task, &cl[i],
					   NULL),
				 0);
	}
	ck_assert_int_eq(uco_future_wait(g.all_in, NULL), 0);
	/* Give the other connections every chance to get in (this checks
	 * that something does NOT happen, so a short wait is the test). */
	ck_assert_int_eq(uco_sleep(50 * MS), 0);
	stats(srv, &st);
	ck_assert_uint_eq(g.inside, cc->cap);
	ck_assert_uint_eq(st.active, cc->cap);
	ck_assert_uint_eq(st.accepted, cc->cap);
	ck_assert_uint_ge(st.paused, 1);
	/* open the gate: everyone is served, never more than cap at once */
	ck_assert_int_eq(uco_future_set_result(g.open, NULL), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
		ck_assert_int_eq(cl[i].err, 0);
	}
	ck_assert_uint_eq(g.peak, cc->cap);
	ck_assert_int_eq(uco_server_shutdown(srv, 5000 * MS), 0);
	stats(srv, &st);
	ck_assert_uint_eq(st.accepted, N);
	ck_assert_uint_eq(st.completed, N);
	uco_server_free(srv);
	uco_future_free(g.all_in);
	uco_future_free(g.open);
}

START_TEST(connection_cap)
{
	struct cap_case c = { 1, 3 };

	srv_run(body_connection_cap, &c, 1);
}
END_TEST

/* The cap over two cores: each core gets its share; counted per core by
 * handlers that wait for the gate. */
struct core_gate {
	unsigned inside[2], peak[2], in;
	unsigned want;
	uco_future *all_in; /* on core 0 */
	uco_future *open;   /* per core: handlers wait on their own core's */
	uco_future *opens[2];
};

/* A task on core 0 that sets all_in (a future belongs to its core). */
static void *set_all_in(void *arg)
{
	uco_future_set_result(arg, NULL);
	return NULL;
}

static void *open_gate_task(void *arg)
{
	uco_future_set_result(arg, NULL);
	return NULL;
}

static int core_gated_handler(uco_stream *s, void *arg)
{
	struct core_gate *g = arg;
	unsigned core = uco_core_id();
	char line[16];
	ssize_t n;
	int r;

	g->inside[core]++;
	if (g->inside[core] > g->peak[core])
		g->peak[core] = g->inside[core];
	if (__atomic_add_fetch(&g->in, 1, __ATOMIC_SEQ_CST) == g->want)
		uco_spawn_on(0, NULL, set_all_in, g->all_in, NULL);
	r = uco_future_wait(g->opens[core], NULL);
	if (r == 0) {
		n = uco_stream_readline(s, line, sizeof(line));
		r = n < 0 ? (int)n : 0;
		if (n > 0) {
			UCO_IGNORE(uco_stream_write(s, line, (size_t)n));
			r = uco_stream_drain(s);
		}
	}
	g->inside[core]--;
	return r;
}

static void *make_future(void *arg)
{
	ck_assert_int_eq(uco_future_create(arg), 0);
	return NULL;
}

static void *free_future(void *arg)
{
	uco_future_free(arg);
	return NULL;
}

static void on_core(unsigned core, uco_fn fn, void *arg)
{
	uco_task *t;

	ck_assert_int_eq(uco_spawn_on(core, &t, fn, arg, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
}

static void body_connection_cap_2cores(void *arg)
{
	enum { N = 40, CAP = 5 };
	struct core_gate g = { .want = CAP };
	uco_server_opts o = { .max_connections = CAP };
	struct capped_client cl[N];
	uco_server_stats st;
	uco_server *srv;
	uco_task *t[N];
	char port[16];

	ck_assert_int_eq(uco_future_create(&g.all_in), 0);
	for (unsigned i = 0; i < 2; i++)
		on_core(i, make_future, &g.opens[i]);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", core_gated_handler,
					  &g, &o),
			 0);
	port_str(srv, port, sizeof(port));
	for (int i = 0; i < N; i++) {
		cl[i] = (struct capped_client){ port, 1 };
		ck_assert_int_eq(uco_spawn(&t[i], capped_client_task, &cl[i],
					   NULL),
				 0);
	}
	/* REUSEPORT spreads the 40 connections over the cores by a hash of
	 * their addresses: both get enough to fill their shares (3 and 2)
	 * but for a chance of about 1e-9; the test waits until they have. */
	ck_assert_int_eq(uco_future_wait(g.all_in, NULL), 0);
	ck_assert_int_eq(uco_sleep(50 * MS), 0);
	stats(srv, &st);
	ck_assert_uint_eq(st.active, CAP);
	ck_assert_uint_eq(st.accepted, CAP);
	for (unsigned i = 0; i < 2; i++)
		on_core(i, open_gate_task, g.opens[i]);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
		ck_assert_int_eq(cl[i].err, 0);
	}
	ck_assert_int_eq(uco_server_shutdown(srv, 5000 * MS), 0);
	/* (the shutdown's messages order core 1's writes before this) */
	ck_assert_uint_eq(g.peak[0], 3);
	ck_assert_uint_eq(g.peak[1], 2);
	stats(srv, &st);
	ck_assert_uint_eq(st.accepted, N);
	ck_assert_uint_eq(st.completed, N);
	uco_server_free(srv);
	uco_future_free(g.all_in);
	for (unsigned i = 0; i < 2; i++)
		on_core(i, free_future, g.opens[i]);
}

START_TEST(connection_cap_2cores)
{
	srv_run(body_connection_cap_2cores, NULL, 2);
}
END_TEST

/* ---- EMFILE ------------------------------------------------------------ */

struct emfile {
	uco_future *hit;
	int err;
	unsigned errors;
};

static void on_accept_error(int err, void *arg)
{
	struct emfile *e = arg;

	e->errors++;
	if (!e->err) {
		e->err = err;
		uco_future_set_result(e->hit, NULL);
	}
}

struct raw_client {
	int fd;
	struct sockaddr_in sa;
	int err;
};

static void *raw_client_task(void *arg)
{
	struct raw_client *rc = arg;
	char buf[8];
	int r = uco_connect(rc->fd, (struct sockaddr *)&rc->sa,
			    sizeof(rc->sa));

	if (r == 0 && uco_send_all(rc->fd, "ping\n", 5, 0) != 5)
		r = -EIO;
	if (r == 0 && uco_recv(rc->fd, buf, 5, MSG_WAITALL) != 5)
		r = -EPROTO;
	rc->err = r;
	return NULL;
}

static void *emfile_main(void *arg)
{
	enum { NC = 4, MAXFILL = 1024 };
	struct emfile e = { 0 };
	uco_server_opts o = { .on_accept_error = on_accept_error,
			      .on_accept_error_arg = &e };
	struct raw_client rc[NC];
	uco_server_stats st;
	uco_server *srv;
	uco_task *t[NC];
	int *fill = calloc(MAXFILL, sizeof(int)), nfill = 0;
	char port[16];

	ck_assert_int_eq(uco_future_create(&e.hit), 0);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", mixed_handler,
					  NULL, &o),
			 0);
	port_str(srv, port, sizeof(port));
	/* The clients' sockets first; then every fd left is taken. */
	for (int i = 0; i < NC; i++) {
		rc[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(rc[i].fd, 0);
		memset(&rc[i].sa, 0, sizeof(rc[i].sa));
		rc[i].sa.sin_family = AF_INET;
		rc[i].sa.sin_port = htons((uint16_t)uco_server_port(srv));
		rc[i].sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		rc[i].err = 1;
	}
	while (nfill < MAXFILL) {
		int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

		if (fd < 0) {
			ck_assert_int_eq(errno, EMFILE);
			break;
		}
		fill[nfill++] = fd;
	}
	ck_assert_int_lt(nfill, MAXFILL);
	for (int i = 0; i < NC; i++)
		ck_assert_int_eq(uco_spawn(&t[i], raw_client_task, &rc[i], NULL),
				 0);
	/* accept fails for want of an fd; the server backs off */
	ck_assert_int_eq(uco_future_wait(e.hit, NULL), 0);
	ck_assert_int_eq(e.err, -EMFILE);
	stats(srv, &st);
	ck_assert_uint_ge(st.accept_errors, 1);
	ck_assert_uint_eq(st.listening, 1);
	/* free the fds: the waiting clients are served */
	while (nfill)
		close(fill[--nfill]);
	for (int i = 0; i < NC; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
		ck_assert_int_eq(rc[i].err, 0);
		close(rc[i].fd);
	}
	echo_line(port, "served after\n");
	ck_assert_int_eq(uco_server_shutdown(srv, 5000 * MS), 0);
	stats(srv, &st);
	ck_assert_uint_eq(st.accepted, NC + 1);
	fprintf(stderr, "emfile: %u accept errors reported\n", e.errors);
	uco_server_free(srv);
	uco_future_free(e.hit);
	free(fill);
	return NULL;
}

static void emfile_child(void *arg)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 128;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	_exit(uco_run(emfile_main, NULL, NULL, NULL) == 0 ? 0 : 3);
}

START_TEST(emfile)
{
	struct th_child_result res;
	char st[64];

	th_child(emfile_child, NULL, &res);
	ck_assert_msg(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
		      "child ended with %s; stderr:\n%s",
		      th_status_str(res.status, st, sizeof(st)), res.err);
}
END_TEST

/* Without a callback, the first accept error is printed once. */
static void *emfile_log_main(void *arg)
{
	uco_server *srv;
	int *fill = calloc(1024, sizeof(int)), nfill = 0;

	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", echo_handler, NULL,
					  NULL),
			 0);
	while (nfill < 1024) {
		int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

		if (fd < 0)
			break;
		fill[nfill++] = fd;
	}
	/* a client from outside the process would be accepted... */
	close(fill[--nfill]);
	{
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET };

		ck_assert_int_ge(c, 0);
		sa.sin_port = htons((uint16_t)uco_server_port(srv));
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(uco_connect(c, (struct sockaddr *)&sa,
					     sizeof(sa)),
				 0);
		/* ...but no fd is left for it: wait until the accept has
		 * failed three times, after backoffs of 1 and 2 ms (polled:
		 * the count has no event; the bound is only against a
		 * hang). */
		uint64_t deadline = uco_now() + 10 * UCO_NSEC_PER_SEC;
		uco_server_stats st;

		for (;;) {
			uco_server_stats_get(srv, &st);
			if (st.accept_errors >= 3)
				break;
			ck_assert_msg(uco_now() < deadline,
				      "%llu accept errors after 10 s",
				      (unsigned long long)st.accept_errors);
			ck_assert_int_eq(uco_sleep(MS), 0);
		}
		close(c);
		fprintf(stderr, "accept_errors=%llu\n",
			(unsigned long long)st.accept_errors);
	}
	while (nfill)
		close(fill[--nfill]);
	ck_assert_int_eq(uco_server_shutdown(srv, 0), 0);
	uco_server_free(srv);
	free(fill);
	return NULL;
}

static void emfile_log_child(void *arg)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 128;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	_exit(uco_run(emfile_log_main, NULL, NULL, NULL) == 0 ? 0 : 3);
}

START_TEST(emfile_logged_once)
{
	struct th_child_result res;
	unsigned errors = 0;
	const char *p;
	char st[64];

	th_child(emfile_log_child, NULL, &res);
	ck_assert_msg(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
		      "child ended with %s; stderr:\n%s",
		      th_status_str(res.status, st, sizeof(st)), res.err);
	p = strstr(res.err, "accept_errors=");
	ck_assert_msg(p && sscanf(p, "accept_errors=%u", &errors) == 1,
		      "stderr:\n%s", res.err);
	/* Several errors, one line. */
	ck_assert_msg(errors >= 3, "%u errors; stderr:\n%s", errors, res.err);
	p = strstr(res.err, "Too many open files");
	ck_assert_msg(p != NULL, "%u errors, none reported; stderr:\n%s",
		      errors, res.err);
	ck_assert_msg(strstr(p + 1, "Too many open files") == NULL,
		      "reported more than once:\n%s", res.err);
	fprintf(stderr, "emfile_logged_once: %u errors, one line\n", errors);
}
END_TEST

/* ---- SIGTERM ------------------------------------------------------------- */

struct killer {
	const char *port;
};

/* A client that proves the server serves, sends the process SIGTERM,
 * then finishes its conversation inside the grace period.  It waits for
 * the signal too (every waiting task gets it), which it starts doing
 * before the runtime can read the signal: nothing suspends in between. */
static void *killer_task(void *arg)
{
	struct killer *k = arg;
	uco_stream *s;
	sigset_t set;
	char buf[32];

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	ck_assert_int_eq(uco_open_connection(&s, HOST, k->port, NULL), 0);
	ck_assert_int_eq(uco_stream_write(s, "first\n", 6), 0);
	ck_assert_int_eq(uco_stream_drain(s), 0);
	ck_assert_int_eq(uco_stream_readline(s, buf, sizeof(buf)), 6);
	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	ck_assert_int_eq(uco_signal_wait(&set), SIGTERM);
	/* the server is stopping, but this connection is served */
	ck_assert_int_eq(uco_stream_write(s, "second\n", 7), 0);
	ck_assert_int_eq(uco_stream_drain(s), 0);
	ck_assert_int_eq(uco_stream_readline(s, buf, sizeof(buf)), 7);
	ck_assert(memcmp(buf, "second\n", 7) == 0);
	ck_assert_int_eq(uco_stream_close(s), 0);
	return NULL;
}

static void *sigterm_main(void *arg)
{
	struct killer k;
	uco_server_stats st;
	uco_server *srv;
	uco_stream *late;
	uco_task *t;
	char port[16];

	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", mixed_handler,
					  NULL, NULL),
			 0);
	port_str(srv, port, sizeof(port));
	k.port = port;
	ck_assert_int_eq(uco_spawn(&t, killer_task, &k, NULL), 0);
	ck_assert_int_eq(uco_server_run_until_signal(srv, 10000 * MS),
			 SIGTERM);
	stats(srv, &st);
	ck_assert_uint_eq(st.listening, 0);
	ck_assert_uint_eq(st.accepted, 1);
	ck_assert_uint_eq(st.completed, 1);
	ck_assert_uint_eq(st.cancelled, 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	/* nobody listens any more */
	ck_assert_int_eq(uco_open_connection(&late, HOST, port, NULL),
			 -ECONNREFUSED);
	uco_server_free(srv);
	return NULL;
}

static void sigterm_child(void *arg)
{
	_exit(uco_run(sigterm_main, NULL, NULL, NULL) == 0 ? 0 : 3);
}

START_TEST(sigterm)
{
	struct th_child_result res;
	char st[64];

	th_child(sigterm_child, NULL, &res);
	ck_assert_msg(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
		      "child ended with %s; stderr:\n%s",
		      th_status_str(res.status, st, sizeof(st)), res.err);
}
END_TEST

/* ---- Unix sockets, serve_forever, free, misuse ----------------------------- */

static void *unix_client(void *arg)
{
	const char *path = arg;
	uco_stream *c;
	char line[32], buf[32];

	ck_assert_int_eq(uco_open_unix_connection(&c, path, NULL), 0);
	for (int i = 0; i < 50; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);

		ck_assert_int_eq(uco_stream_write(c, line, (size_t)n), 0);
		ck_assert_int_eq(uco_stream_drain(c), 0);
		ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)), n);
		ck_assert(memcmp(buf, line, (size_t)n) == 0);
	}
	ck_assert_int_eq(uco_stream_close(c), 0);
	return NULL;
}

static void body_unix_server(void *arg)
{
	enum { N = 20 };
	char path[64];
	uco_server_stats st;
	uco_server *srv;
	uco_task *t[N];
	struct stat sb;

	snprintf(path, sizeof(path), "/tmp/uco-test-server-%d.sock",
		 (int)getpid());
	ck_assert_int_eq(uco_start_unix_server(&srv, path, echo_handler, NULL,
					       NULL),
			 0);
	ck_assert_int_eq(uco_server_port(srv), -EAFNOSUPPORT);
	ck_assert_int_eq(stat(path, &sb), 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(uco_spawn(&t[i], unix_client, path, NULL), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(uco_server_shutdown(srv, 5000 * MS), 0);
	stats(srv, &st);
	ck_assert_uint_eq(st.accepted, N);
	ck_assert_uint_eq(st.completed, N);
	/* the socket file is gone */
	ck_assert_int_eq(stat(path, &sb), -1);
	ck_assert_int_eq(errno, ENOENT);
	uco_server_free(srv);
}

START_TEST(unix_server)
{
	srv_run(body_unix_server, NULL, 2);
}
END_TEST

static void *serve_forever_task(void *arg)
{
	int r = uco_server_serve_forever(arg);

	return r < 0 ? uco_fail(r) : NULL;
}

static void body_serve_forever(void *arg)
{
	uco_server_stats st;
	uco_server *srv;
	uco_task *t;
	char port[16];

	/* cancelled: the server is closed (as asyncio's) */
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", echo_handler, NULL,
					  NULL),
			 0);
	port_str(srv, port, sizeof(port));
	ck_assert_int_eq(uco_spawn(&t, serve_forever_task, srv, NULL), 0);
	echo_line(port, "while serving forever\n");
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	uco_task_release(t);
	ck_assert_int_eq(uco_server_serve_forever(srv), 0); /* stops now */
	stats(srv, &st);
	ck_assert_uint_eq(st.listening, 0);
	uco_server_free(srv);

	/* returns once another task has shut the server down */
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", echo_handler, NULL,
					  NULL),
			 0);
	ck_assert_int_eq(uco_spawn(&t, serve_forever_task, srv, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_server_shutdown(srv, 0), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	uco_server_free(srv);
}

START_TEST(serve_forever)
{
	srv_run(body_serve_forever, NULL, 1);
}
END_TEST

/* Freed while running, with connections in their handlers on both
 * cores: shut down in the background; nothing leaks (the leak check after
 * uco_run says so). */
struct bg {
	unsigned in, want;
	int cancelled;
	uco_future *all_in; /* on core 0 */
};

static int bg_handler(uco_stream *s, void *arg)
{
	struct bg *g = arg;
	char line[16];
	ssize_t n;

	if (__atomic_add_fetch(&g->in, 1, __ATOMIC_SEQ_CST) == g->want)
		uco_spawn_on(0, NULL, set_all_in, g->all_in, NULL);
	n = uco_stream_readline(s, line, sizeof(line));
	if (n == -ECANCELED)
		__atomic_add_fetch(&g->cancelled, 1, __ATOMIC_SEQ_CST);
	return (int)n;
}

static void body_free_running(void *arg)
{
	enum { N = 8 };
	struct bg g = { .want = N };
	uco_server *srv;
	uco_stream *c[N];
	char port[16], buf[8];

	ck_assert_int_eq(uco_future_create(&g.all_in), 0);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", bg_handler, &g,
					  NULL),
			 0);
	port_str(srv, port, sizeof(port));
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(uco_open_connection(&c[i], HOST, port, NULL),
				 0);
	ck_assert_int_eq(uco_future_wait(g.all_in, NULL), 0);
	uco_server_free(srv);
	/* the handlers are cancelled: the clients see the end */
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_stream_read(c[i], buf, sizeof(buf)), 0);
		UCO_IGNORE(uco_stream_close(c[i]));
	}
	ck_assert_int_eq(__atomic_load_n(&g.cancelled, __ATOMIC_SEQ_CST), N);
	uco_future_free(g.all_in);
}

START_TEST(free_running)
{
	srv_run(body_free_running, NULL, 2);
}
END_TEST

/* Cancelled while starting (name resolution), and while waiting in
 * shutdown: -ECANCELED, and the shutdown goes on without the caller. */
static void *cancelled_start(void *arg)
{
	uco_server **out = arg;

	return uco_fail(uco_start_server(out, HOST, "0", echo_handler, NULL,
					 NULL));
}

static void *cancelled_shutdown(void *arg)
{
	int r = uco_server_shutdown(arg, 3600ull * 1000 * MS);

	return r < 0 ? uco_fail(r) : NULL;
}

static void body_cancelled_calls(void *arg)
{
	struct gate g = { .want = 1 };
	uco_server *srv = (uco_server *)&srv;
	uco_stream *c;
	uco_task *t;
	char port[16], buf[16];

	ck_assert_int_eq(uco_spawn(&t, cancelled_start, &srv, NULL), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	uco_task_release(t);
	ck_assert_ptr_null(srv);

	ck_assert_int_eq(uco_future_create(&g.all_in), 0);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", gated_handler, &g,
					  NULL),
			 0);
	port_str(srv, port, sizeof(port));
	ck_assert_int_eq(uco_open_connection(&c, HOST, port, NULL), 0);
	ck_assert_int_eq(uco_future_wait(g.all_in, NULL), 0);
	ck_assert_int_eq(uco_spawn(&t, cancelled_shutdown, srv, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0); /* it requests, then waits */
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	uco_task_release(t);
	/* the connection is still served (the grace is an hour) */
	ck_assert_int_eq(uco_stream_write(c, "ok\n", 3), 0);
	ck_assert_int_eq(uco_stream_drain(c), 0);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)), 3);
	ck_assert_int_eq(uco_stream_read(c, buf, sizeof(buf)), 0);
	UCO_IGNORE(uco_stream_close(c));
	ck_assert_int_eq(uco_server_serve_forever(srv), 0);
	ck_assert_int_eq(g.results[0], 0);
	uco_server_free(srv);
	uco_future_free(g.all_in);
}

START_TEST(cancelled_calls)
{
	srv_run(body_cancelled_calls, NULL, 1);
}
END_TEST

/* Server calls from core 1 on a server homed on core 0. */
static void *off_home(void *arg)
{
	uco_server *srv = arg;

	ck_assert_int_eq(uco_server_close(srv), -EXDEV);
	ck_assert_int_eq(uco_server_shutdown(srv, 0), -EXDEV);
	ck_assert_int_eq(uco_server_serve_forever(srv), -EXDEV);
	ck_assert_int_eq(uco_server_run_until_signal(srv, 0), -EXDEV);
	ck_assert_int_gt(uco_server_port(srv), 0);
	ck_assert_uint_eq(uco_server_home(srv), 0);
	return NULL;
}

static void body_bad_args(void *arg)
{
	uco_server_opts o = { .cores = 3 };
	uco_server *srv = (uco_server *)&srv;
	char port[16];
	int lfd;

	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", NULL, NULL, NULL),
			 -EINVAL);
	ck_assert_ptr_null(srv);
	ck_assert_int_eq(uco_start_server(NULL, HOST, "0", echo_handler, NULL,
					  NULL),
			 -EINVAL);
	ck_assert_int_eq(uco_start_server(&srv, HOST, NULL, echo_handler,
					  NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", echo_handler, NULL,
					  &o),
			 -EINVAL);
	o = (uco_server_opts){ .backlog = -1 };
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", echo_handler, NULL,
					  &o),
			 -EINVAL);
	ck_assert_int_eq(uco_start_unix_server(&srv, NULL, echo_handler, NULL,
					       NULL),
			 -EINVAL);
	/* a port taken by a listener without SO_REUSEPORT */
	lfd = uco_listen_tcp(HOST, "0", 1, 0);
	ck_assert_int_ge(lfd, 0);
	snprintf(port, sizeof(port), "%d", uco_local_port(lfd));
	ck_assert_int_eq(uco_start_server(&srv, HOST, port, echo_handler,
					  NULL, NULL),
			 -EADDRINUSE);
	close(lfd);
	ck_assert_int_eq(uco_server_close(NULL), -EINVAL);
	ck_assert_int_eq(uco_server_port(NULL), -EINVAL);
	uco_server_free(NULL);
	/* off home */
	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", echo_handler, NULL,
					  NULL),
			 0);
	on_core(1, off_home, srv);
	ck_assert_int_eq(uco_server_shutdown(srv, 0), 0);
	uco_server_free(srv);
}

START_TEST(bad_args)
{
	srv_run(body_bad_args, NULL, 2);
}
END_TEST

START_TEST(outside_runtime)
{
	uco_server *srv;

	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", echo_handler, NULL,
					  NULL),
			 -EPERM);
	ck_assert_int_eq(uco_server_close(NULL), -EINVAL);
}
END_TEST

/* ---- a port another process listens on ------------------------------------ */

/*
 * A child process holds a port: a uco server on 1 or 2 cores, or a plain
 * SO_REUSEPORT listener such as other programs (and uco before this check)
 * open.  A server of ours on that port, on 1 or 2 cores, must be refused
 * with -EADDRINUSE, never join the other process's group; once the child
 * is gone, the same port serves.
 */
enum holder { HOLD_UCO_1CORE, HOLD_UCO_2CORES, HOLD_RAW_REUSEPORT };

struct hold {
	enum holder kind;
	int ready_w;    /* the child writes its port here */
	int release_r;  /* ...and holds it until this pipe closes */
};

static void *hold_main(void *arg)
{
	struct hold *h = arg;
	uco_server *srv;
	int port;
	char c;

	if (uco_start_server(&srv, HOST, "0", echo_handler, NULL, NULL) < 0)
		return uco_fail(-EIO);
	port = uco_server_port(srv);
	if (write(h->ready_w, &port, sizeof(port)) != sizeof(port))
		return uco_fail(-EIO);
	while (uco_read(h->release_r, &c, 1, -1) > 0)
		;
	UCO_IGNORE(uco_server_shutdown(srv, 0));
	uco_server_free(srv);
	return NULL;
}

static void hold_child(struct hold *h)
{
	if (h->kind == HOLD_RAW_REUSEPORT) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr =
						  htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, port;
		char c;

		if (fd < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
		    listen(fd, 16) ||
		    getsockname(fd, (struct sockaddr *)&sa, &len))
			_exit(3);
		port = ntohs(sa.sin_port);
		if (write(h->ready_w, &port, sizeof(port)) != sizeof(port))
			_exit(3);
		while (read(h->release_r, &c, 1) > 0)
			;
		_exit(0);
	} else {
		uco_config cfg;

		uco_config_init(&cfg);
		cfg.cores = h->kind == HOLD_UCO_2CORES ? 2 : 1;
		_exit(uco_run(hold_main, h, &cfg, NULL) == 0 ? 0 : 4);
	}
}

struct taken {
	char port[16];
	bool free_now;  /* the holder is gone: the port must serve */
};

static void body_port_taken(void *arg)
{
	struct taken *t = arg;
	uco_server_opts o = { 0 };
	uco_server *srv;

	for (unsigned cores = 1; cores <= 2; cores++) {
		o.cores = cores;
		if (!t->free_now) {
			ck_assert_int_eq(uco_start_server(&srv, HOST, t->port,
							  echo_handler, NULL,
							  &o),
					 -EADDRINUSE);
			ck_assert_ptr_null(srv);
			continue;
		}
		ck_assert_int_eq(uco_start_server(&srv, HOST, t->port,
						  echo_handler, NULL, &o),
				 0);
		echo_line(t->port, "hello, port\n");
		ck_assert_int_eq(uco_server_shutdown(srv, 0), 0);
		uco_server_free(srv);
	}
	if (!t->free_now) {
		ck_assert_int_eq(uco_listen_tcp(HOST, t->port, 8, 0),
				 -EADDRINUSE);
		ck_assert_int_eq(uco_listen_tcp(HOST, t->port, 8,
						UCO_LISTEN_REUSEPORT),
				 -EADDRINUSE);
	}
}

static void port_taken(enum holder kind)
{
	int ready[2], release[2], port = 0, status;
	struct hold h = { .kind = kind };
	struct taken t = { .free_now = false };
	pid_t pid;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(release), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ready[0]);
		close(release[1]);
		h.ready_w = ready[1];
		h.release_r = release[0];
		hold_child(&h);
	}
	close(ready[1]);
	close(release[0]);
	/* Blocks until the child listens (or dies: 0 bytes). */
	ck_assert_int_eq(read(ready[0], &port, sizeof(port)), sizeof(port));
	close(ready[0]);
	snprintf(t.port, sizeof(t.port), "%d", port);
	srv_run(body_port_taken, &t, 2);
	close(release[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "holder exited with status %#x", status);
	t.free_now = true;
	srv_run(body_port_taken, &t, 2);
}

START_TEST(port_taken_by_uco_1core)
{
	port_taken(HOLD_UCO_1CORE);
}
END_TEST

START_TEST(port_taken_by_uco_2cores)
{
	port_taken(HOLD_UCO_2CORES);
}
END_TEST

START_TEST(port_taken_by_reuseport_socket)
{
	port_taken(HOLD_RAW_REUSEPORT);
}
END_TEST

/* ---- idle and read timeouts -------------------------------------------- */

struct outcome {
	int result;     /* the handler's */
	bool done;
};

/* Echo line by line; what ended it goes to arg. */
static int line_echo_handler(uco_stream *s, void *arg)
{
	struct outcome *o = arg;
	char line[256];
	ssize_t n;
	int r;

	for (;;) {
		n = uco_stream_readline(s, line, sizeof(line));
		if (n <= 0) {
			r = (int)n;
			break;
		}
		r = uco_stream_write(s, line, (size_t)n);
		if (r == 0)
			r = uco_stream_drain(s);
		if (r < 0)
			break;
	}
	/* The timeout is for good: a read after it fails at once. */
	if (r == -ETIMEDOUT)
		ck_assert_int_eq(uco_stream_read(s, line, 1), -ETIMEDOUT);
	o->result = r;
	o->done = true;
	return r;
}

/* The client waits for the server to close the connection: read returns
 * 0 or -ECONNRESET, within a generous bound (nothing is timed). */
static void wait_closed(uco_stream *c)
{
	char buf[64];
	ssize_t n;
	int scope = uco_timeout_begin(20 * UCO_NSEC_PER_SEC);

	ck_assert_int_ge(scope, 0);
	do
		n = uco_stream_read(c, buf, sizeof(buf));
	while (n > 0);
	uco_timeout_end(scope);
	ck_assert_msg(n == 0 || n == -ECONNRESET,
		      "the server did not close the connection: %zd (%s)", n,
		      uco_strerror((int)n));
}

static void body_idle_timeout(void *arg)
{
	struct outcome out = { 0 };
	uco_server_opts o = { .idle_timeout = 200 * MS };
	uco_server_stats st;
	uco_server *srv;
	uco_stream *c;
	char port[16], buf[16];
	uint64_t t0;

	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", line_echo_handler,
					  &out, &o),
			 0);
	port_str(srv, port, sizeof(port));
	ck_assert_int_eq(uco_open_connection(&c, HOST, port, NULL), 0);
	/* An active client is served... */
	t0 = uco_now(); /* before the server's idle clock can start */
	ck_assert_int_eq(uco_stream_write(c, "ping\n", 5), 0);
	ck_assert_int_eq(uco_stream_drain(c), 0);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)), 5);
	/* ...and one that then says nothing is closed. */
	wait_closed(c);
	/* A deadline never fires early (a bound that cannot flake, not a
	 * timing test): the server waited its 200 ms after the ping. */
	ck_assert_uint_ge(uco_now() - t0, 200 * MS);
	UCO_IGNORE(uco_stream_close(c));
	ck_assert_int_eq(uco_server_shutdown(srv, UCO_NSEC_PER_SEC), 0);
	ck_assert(out.done);
	ck_assert_int_eq(out.result, -ETIMEDOUT);
	stats(srv, &st);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.cancelled, 0);
	uco_server_free(srv);
}

START_TEST(idle_timeout)
{
	srv_run(body_idle_timeout, NULL, 1);
}
END_TEST

/* Sends one byte of a line that never ends, every few ms, until its
 * send fails or it is cancelled. */
static void *trickle(void *arg)
{
	uco_stream *c = arg;

	for (;;) {
		if (uco_stream_send(c, "x", 1) < 0)
			return NULL;
		if (uco_sleep(20 * MS) < 0) /* pacing only, not a proof */
			return NULL;
	}
}

static void body_read_timeout(void *arg)
{
	struct outcome out = { 0 };
	/* No idle timeout: only the message's own clock may cut it. */
	uco_server_opts o = { .read_timeout = 300 * MS };
	uco_server *srv;
	uco_stream *c;
	uco_task *t;
	char port[16], buf[64];

	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", line_echo_handler,
					  &out, &o),
			 0);
	port_str(srv, port, sizeof(port));
	ck_assert_int_eq(uco_open_connection(&c, HOST, port, NULL), 0);
	/* Whole lines, two in one send, are echoed. */
	ck_assert_int_eq(uco_stream_send(c, "one\ntwo\n", 8), 0);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)), 4);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)), 4);
	/* A line that trickles in a byte at a time is cut by the read
	 * timeout, however long the client keeps it up. */
	ck_assert_int_eq(uco_spawn(&t, trickle, c, NULL), 0);
	wait_closed(c);
	uco_cancel(t);
	UCO_IGNORE(uco_join(t, NULL));
	uco_task_release(t);
	UCO_IGNORE(uco_stream_close(c));
	ck_assert_int_eq(uco_server_shutdown(srv, UCO_NSEC_PER_SEC), 0);
	ck_assert(out.done);
	ck_assert_int_eq(out.result, -ETIMEDOUT);
	uco_server_free(srv);
}

START_TEST(read_timeout)
{
	srv_run(body_read_timeout, NULL, 1);
}
END_TEST

/* The handler's own timeout scope is not the server's: its -ETIMEDOUT is
 * not for good, and the connection goes on. */
static int own_scope_handler(uco_stream *s, void *arg)
{
	char line[64];
	ssize_t n;
	int scope = uco_timeout_begin(20 * MS);

	(void)arg;
	n = uco_stream_readline(s, line, sizeof(line));
	uco_timeout_end(scope);
	if (n != -ETIMEDOUT)
		return -EPROTO;
	if (uco_stream_send(s, "T\n", 2) < 0)
		return -EIO;
	n = uco_stream_readline(s, line, sizeof(line));
	if (n <= 0)
		return (int)n;
	return uco_stream_send(s, line, (size_t)n);
}

static void body_own_scope(void *arg)
{
	uco_server_opts o = { .idle_timeout = 60 * UCO_NSEC_PER_SEC,
			      .read_timeout = 60 * UCO_NSEC_PER_SEC };
	uco_server_stats st;
	uco_server *srv;
	uco_stream *c;
	char port[16], buf[16];

	ck_assert_int_eq(uco_start_server(&srv, HOST, "0", own_scope_handler,
					  NULL, &o),
			 0);
	port_str(srv, port, sizeof(port));
	ck_assert_int_eq(uco_open_connection(&c, HOST, port, NULL), 0);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)), 2);
	ck_assert(memcmp(buf, "T\n", 2) == 0);
	ck_assert_int_eq(uco_stream_send(c, "after\n", 6), 0);
	ck_assert_int_eq(uco_stream_readline(c, buf, sizeof(buf)), 6);
	ck_assert(memcmp(buf, "after\n", 6) == 0);
	UCO_IGNORE(uco_stream_close(c));
	ck_assert_int_eq(uco_server_shutdown(srv, 10 * UCO_NSEC_PER_SEC), 0);
	stats(srv, &st);
	ck_assert_uint_eq(st.completed, 1);
	uco_server_free(srv);
}

START_TEST(own_scope_not_sticky)
{
	srv_run(body_own_scope, NULL, 1);
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc;

	tc = tcase_create("echo");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, echo_1core_1000);
	tcase_add_test(tc, echo_2cores_1000);
	tcase_add_test(tc, unix_server);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hangup_mid_read);
	tcase_add_test(tc, hangup_mid_write);
	tcase_add_test(tc, handler_timeouts);
	tcase_add_test(tc, cancel_handler);
	tcase_add_test(tc, emfile);
	tcase_add_test(tc, emfile_logged_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, shutdown_grace);
	tcase_add_test(tc, close_then_shutdown);
	tcase_add_test(tc, connection_cap);
	tcase_add_test(tc, connection_cap_2cores);
	tcase_add_test(tc, sigterm);
	tcase_add_test(tc, serve_forever);
	tcase_add_test(tc, free_running);
	suite_add_tcase(s, tc);

	tc = tcase_create("ports");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, port_taken_by_uco_1core);
	tcase_add_test(tc, port_taken_by_uco_2cores);
	tcase_add_test(tc, port_taken_by_reuseport_socket);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeouts");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, idle_timeout);
	tcase_add_test(tc, read_timeout);
	tcase_add_test(tc, own_scope_not_sticky);
	suite_add_tcase(s, tc);

	tc = tcase_create("misuse");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, bad_args);
	tcase_add_test(tc, cancelled_calls);
	tcase_add_test(tc, outside_runtime);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(server_suite());
}
