/*
 * uco-echo-client: a TCP echo load client on uco, built only on the public
 * API.  It measures an echo server (uco-echo-server or any other).
 *
 *   uco-echo-client [--host HOST] [--port PORT] [--cores N]
 *                   [--connections N] [--size BYTES] [--pipeline N]
 *                   [--duration SECONDS | --count N] [--verify]
 *                   [--recv multishot|oneshot] [--timeout SECONDS]
 *
 * Example, against the uco server on the same machine:
 *
 *   uco-echo-server --port 7000 &
 *   uco-echo-client --port 7000 --connections 64 --size 64 --duration 5
 *
 * It opens --connections connections (spread over --cores event loops),
 * and on each one keeps --pipeline messages of --size bytes in flight:
 * it sends them, reads back exactly what it sent, and sends a new message
 * for each one that came back, until --duration seconds have passed or
 * --count round trips are done in all.  With --verify every echoed byte
 * is checked against what was sent.  It prints a line starting with
 * "connected:" when every connection is open and the clock starts, then:
 *
 *   round trips      how many, and how many per second;
 *   latency          p50, p90, p99 and max of the round trip of each
 *                    message (send to last byte back), from a histogram
 *                    with about 3% resolution;
 *   client CPU       its own CPU time (getrusage: user + system, every
 *                    thread), and CPU microseconds per round trip: on a
 *                    machine it shares with the server, a client that uses
 *                    a whole CPU measures itself, not the server;
 *   one line for scripts:
 *     STATS round_trips=N seconds=S rps=R p50_us=.. p90_us=.. p99_us=..
 *           max_us=.. cpu_s=C user_s=.. sys_s=.. cpu_us_per_rt=U
 *           connections=.. size=.. pipeline=.. cores=..
 *
 * Exit status: 0; 1 when the server cannot be reached (an unknown host is
 * "Name or service not known": uco_strerror()), hangs up, resets, echoes
 * wrong bytes (--verify) or stops answering for --timeout seconds (default
 * 10).  Each error is one line on stderr.  A bad option or value is one
 * line and "Try 'uco-echo-client --help' for more information.", exit 1,
 * as cp(1) does.
 *
 * How it is built, and why it is cheap per round trip:
 *
 *   - One task per connection.  Connections never cross cores; each core's
 *     tasks add to that core's counters and histogram, with no locks.
 *   - A send is one uco_send_all() straight from a read-only pattern buffer
 *     (the bytes of a message are a function of their offset in the
 *     connection's stream), so nothing is copied or filled per message.
 *   - Receiving is, by default (--recv multishot), one multishot receive
 *     per connection into a per-core provided buffer ring (uco_mrecv_*):
 *     the kernel keeps the receive armed, so a round trip costs one send
 *     SQE and no receive SQE.  --recv oneshot uses one uco_recv() per read
 *     instead.
 *   - One clock read per batch of echoed data: it timestamps the messages
 *     that came back and the messages sent in their place.
 *   - Connections are opened before the clock starts (the address is
 *     resolved once), so the figures are round trips only.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uco/uco.h>

#define PROG "uco-echo-client"

#define MAX_SIZE (16u << 20)          /* --size limit */
#define MAX_IN_FLIGHT (64u << 20)     /* --size * --pipeline limit */
#define MAX_RECV_BUFFER (64u * 1024)  /* one receive, either mode */

enum recv_mode { RECV_MULTISHOT, RECV_ONESHOT };

struct options {
	const char *host;
	const char *port;
	unsigned cores;
	unsigned connections;
	size_t size;
	unsigned pipeline;
	double duration;  /* seconds; used when count == 0 */
	uint64_t count;   /* total round trips; 0: run for duration */
	double timeout;   /* seconds without progress before giving up */
	bool verify;
	enum recv_mode recv;
};

/* --- latency histogram ------------------------------------------------------- */

/*
 * Nanoseconds, log-linear: exact below 32, then 32 buckets per power of two
 * (3% wide).  Adding a sample is a count leading zeros and an increment.
 */
#define HIST_SUB 32
#define HIST_BUCKETS (60 * HIST_SUB)

struct hist {
	uint64_t count[HIST_BUCKETS];
	uint64_t max;
};

static unsigned hist_bucket(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 5 */

	return (e - 4) * HIST_SUB + (unsigned)((v >> (e - 5)) & (HIST_SUB - 1));
}

/* The middle of bucket b, in nanoseconds. */
static double hist_value(unsigned b)
{
	if (b < HIST_SUB)
		return b;
	unsigned e = b / HIST_SUB + 4;
	double low = (double)((uint64_t)(HIST_SUB + b % HIST_SUB) << (e - 5));

	return low + (double)(1ull << (e - 5)) / 2;
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->count[hist_bucket(v)]++;
	if (v > h->max)
		h->max = v;
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned b = 0; b < HIST_BUCKETS; b++)
		into->count[b] += h->count[b];
	if (h->max > into->max)
		into->max = h->max;
}

/* The q-quantile (0 < q <= 1) in microseconds; 0 without samples. */
static double hist_quantile_us(const struct hist *h, uint64_t n, double q)
{
	uint64_t rank = (uint64_t)ceil(q * (double)n), seen = 0;

	if (n == 0)
		return 0;
	if (rank == 0)
		rank = 1;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += h->count[b];
		if (seen >= rank) {
			double v = hist_value(b);

			return (v > (double)h->max ? (double)h->max : v) / 1e3;
		}
	}
	return (double)h->max / 1e3;
}

/* --- shared state ------------------------------------------------------------- */

/* What every core reads; written by main before the cores start. */
struct shared {
	struct options o;
	struct sockaddr_storage addr; /* the server, resolved once */
	socklen_t addrlen;
	/*
	 * The bytes sent: byte k of a connection's stream is
	 * pattern[(k + phase) % period], with phase different per connection,
	 * so a send or a check at any offset is a pointer into `pattern`.
	 */
	unsigned char *pattern;
	size_t period;
	uint64_t deadline;   /* duration mode: no new message after this */
	atomic_bool stop;    /* a connection failed: the others wind down */
};

enum fail_kind { FAIL_ERRNO, FAIL_HANGUP, FAIL_MISMATCH };

struct core;

struct conn {
	struct core *core;
	unsigned index;      /* over every core, for messages */
	int fd;
	size_t phase;
	uint64_t quota;      /* count mode: round trips for this one */
	uint64_t *sent_at;   /* send time of the messages in flight */
};

/* One per core; only that core's thread writes it while it runs. */
struct core {
	struct shared *sh;
	unsigned id;
	unsigned first, nconns;  /* connections [first, first + nconns) */
	struct conn *conns;
	uco_bufring *ring;       /* multishot mode */
	_Atomic uint64_t done;   /* connections opened, then round trips:
				    main's watchdog watches it move */
	struct hist hist;
	/* The first failure on this core. */
	int err;                 /* 0 if none */
	enum fail_kind fail;
	unsigned fail_conn;
	uint64_t fail_done;      /* round trips that connection had done */
	uint64_t fail_offset;    /* FAIL_MISMATCH: stream offset */
};

static void core_fail(struct core *c, struct conn *cn, int err,
		      enum fail_kind kind, uint64_t done, uint64_t offset)
{
	atomic_store_explicit(&c->sh->stop, true, memory_order_relaxed);
	if (c->err || err == -ECANCELED)
		return;
	c->err = err;
	c->fail = kind;
	c->fail_conn = cn->index;
	c->fail_done = done;
	c->fail_offset = offset;
}

/* --- one connection -------------------------------------------------------------- */

/* Send messages [first, first + n), all stamped `now`. */
static int send_messages(struct conn *cn, uint64_t first, uint64_t n,
			 uint64_t now)
{
	const struct shared *sh = cn->core->sh;
	size_t size = sh->o.size;
	uint64_t off = first * size;
	unsigned p = sh->o.pipeline;

	for (uint64_t m = first; m < first + n; m++)
		cn->sent_at[m % p] = now;
	ssize_t r = uco_send_all(cn->fd,
				 sh->pattern + (off + cn->phase) % sh->period,
				 (size_t)n * size, 0);
	return r < 0 ? (int)r : 0;
}

/* Compare len received bytes at stream offset off with what was sent;
 * returns the offset of the first wrong byte, or UINT64_MAX. */
static uint64_t check_bytes(const struct conn *cn, const void *data,
			    size_t len, uint64_t off)
{
	const struct shared *sh = cn->core->sh;
	const unsigned char *want = sh->pattern + (off + cn->phase) % sh->period;

	if (memcmp(data, want, len) == 0)
		return UINT64_MAX;
	for (size_t i = 0;; i++)
		if (((const unsigned char *)data)[i] != want[i])
			return off + i;
}

/*
 * Keep `pipeline` messages in flight until time is up (or the quota is
 * done), then collect the ones still in flight.  Each receive is handed to
 * `got`; the two receive modes differ only in where the bytes come from.
 */
struct conn_state {
	uint64_t sent, done;   /* messages */
	uint64_t received;     /* bytes */
};

static bool keep_sending(const struct conn *cn, const struct conn_state *s,
			 uint64_t now)
{
	const struct shared *sh = cn->core->sh;

	if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
		return false;
	if (sh->o.count)
		return s->sent < cn->quota;
	return now < sh->deadline;
}

/* len bytes came back: check them, count the messages now complete, and
 * send one new message for each.  Returns 0 or a negative errno. */
static int got(struct conn *cn, struct conn_state *s, const void *data,
	       size_t len)
{
	struct core *c = cn->core;
	const struct shared *sh = c->sh;
	size_t size = sh->o.size;

	if (sh->o.verify) {
		uint64_t bad = check_bytes(cn, data, len, s->received);

		if (bad != UINT64_MAX) {
			core_fail(c, cn, -EBADMSG, FAIL_MISMATCH, s->done, bad);
			return -EBADMSG;
		}
	}
	s->received += len;
	uint64_t complete = s->received / size;

	if (complete == s->done)
		return 0;
	uint64_t now = uco_now();
	uint64_t k = complete - s->done;
	unsigned p = sh->o.pipeline;

	for (uint64_t m = s->done; m < complete; m++)
		hist_add(&c->hist, now - cn->sent_at[m % p]);
	s->done = complete;
	atomic_store_explicit(&c->done,
			      atomic_load_explicit(&c->done,
						   memory_order_relaxed) + k,
			      memory_order_relaxed);
	if (!keep_sending(cn, s, now))
		return 0;
	if (sh->o.count && k > cn->quota - s->sent)
		k = cn->quota - s->sent;
	int r = send_messages(cn, s->sent, k, now);

	if (r < 0) {
		core_fail(c, cn, r, FAIL_ERRNO, s->done, 0);
		return r;
	}
	s->sent += k;
	return 0;
}

/* The first messages; returns 0 or a negative errno. */
static int start(struct conn *cn, struct conn_state *s)
{
	const struct shared *sh = cn->core->sh;
	uint64_t n = sh->o.pipeline;

	if (sh->o.count && n > cn->quota)
		n = cn->quota;
	if (n == 0 || !keep_sending(cn, s, uco_now()))
		return 0;
	int r = send_messages(cn, 0, n, uco_now());

	if (r < 0) {
		core_fail(cn->core, cn, r, FAIL_ERRNO, 0, 0);
		return r;
	}
	s->sent = n;
	return 0;
}

static int hangup(struct conn *cn, const struct conn_state *s, ssize_t n)
{
	if (n == 0) {
		core_fail(cn->core, cn, -ECONNRESET, FAIL_HANGUP, s->done, 0);
		return -ECONNRESET;
	}
	core_fail(cn->core, cn, (int)n, FAIL_ERRNO, s->done, 0);
	return (int)n;
}

static int run_multishot(struct conn *cn)
{
	struct conn_state s = { 0 };
	uco_mrecv *r;
	uco_buf buf;
	int err = uco_mrecv_open(&r, cn->fd, cn->core->ring);

	if (err < 0) {
		core_fail(cn->core, cn, err, FAIL_ERRNO, 0, 0);
		return err;
	}
	err = start(cn, &s);
	while (err == 0 && s.done < s.sent) {
		ssize_t n = uco_mrecv_next(r, &buf);

		if (n <= 0) {
			err = hangup(cn, &s, n);
			break;
		}
		err = got(cn, &s, buf.data, buf.len);
		uco_mrecv_release(r, &buf);
	}
	uco_mrecv_close(r);
	return err;
}

static int run_oneshot(struct conn *cn)
{
	const struct shared *sh = cn->core->sh;
	struct conn_state s = { 0 };
	size_t cap = sh->o.size * sh->o.pipeline;
	void *buf;
	int err;

	if (cap > MAX_RECV_BUFFER)
		cap = MAX_RECV_BUFFER;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	err = start(cn, &s);
	while (err == 0 && s.done < s.sent) {
		/* Never ask for more than is in flight. */
		uint64_t left = s.sent * sh->o.size - s.received;
		ssize_t n = uco_recv(cn->fd, buf, left < cap ? left : cap, 0);

		if (n <= 0) {
			err = hangup(cn, &s, n);
			break;
		}
		err = got(cn, &s, buf, (size_t)n);
	}
	free(buf);
	return err;
}

static void *conn_task(void *arg)
{
	struct conn *cn = arg;
	int err = cn->core->sh->o.recv == RECV_MULTISHOT ? run_multishot(cn) :
							   run_oneshot(cn);

	return err < 0 ? uco_fail(err) : NULL;
}

/* --- a core: connect, then run ---------------------------------------------------- */

/* Phase 1, on each core: open this core's connections. */
static void *connect_task(void *arg)
{
	struct core *c = arg;
	const struct shared *sh = c->sh;

	for (unsigned i = 0; i < c->nconns; i++) {
		struct conn *cn = &c->conns[i];
		int one = 1, fd, r;

		fd = uco_socket(sh->addr.ss_family, SOCK_STREAM, 0);
		if (fd < 0) {
			core_fail(c, cn, fd, FAIL_ERRNO, 0, 0);
			return uco_fail(fd);
		}
		r = uco_connect(fd, (const struct sockaddr *)&sh->addr,
				sh->addrlen);
		if (r < 0) {
			close(fd);
			core_fail(c, cn, r, FAIL_ERRNO, 0, 0);
			return uco_fail(r);
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		cn->fd = fd;
		/* Progress, for the watchdog. */
		atomic_store_explicit(&c->done, i + 1, memory_order_relaxed);
	}
	return NULL;
}

static unsigned pow2_at_least(unsigned n)
{
	unsigned p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* Phase 2, on each core: a task per connection, all in one group. */
static void *run_task(void *arg)
{
	struct core *c = arg;
	const struct shared *sh = c->sh;
	uco_group *g;
	int r;

	if (c->nconns == 0)
		return NULL;
	if (sh->o.recv == RECV_MULTISHOT) {
		/* Two buffers per connection, each as large as what is in
		 * flight on it (up to 64 KiB): a receive never waits for a
		 * buffer in steady state. */
		size_t bufsize = sh->o.size * sh->o.pipeline;
		unsigned count = pow2_at_least(2 * c->nconns);

		if (bufsize > MAX_RECV_BUFFER)
			bufsize = MAX_RECV_BUFFER;
		if (count < 16)
			count = 16;
		if (count > 32768)
			count = 32768;
		r = uco_bufring_create(&c->ring, count, bufsize);
		if (r < 0) {
			core_fail(c, &c->conns[0], r, FAIL_ERRNO, 0, 0);
			return uco_fail(r);
		}
		/* Each connection may hold its share of the ring: the ring
		 * is sized for them, and every one of them reads at once, so
		 * the runtime's smaller default (uco/net.h) would only make
		 * a connection with a deep pipeline stop and re-arm its
		 * multishot. */
		unsigned share = count / c->nconns;

		uco_bufring_set_quota(c->ring, share < 2 ? 2 : share);
	}
	r = uco_group_create(&g);
	for (unsigned i = 0; r == 0 && i < c->nconns; i++)
		r = uco_group_spawn(g, NULL, conn_task, &c->conns[i], NULL);
	if (r < 0)
		core_fail(c, &c->conns[0], r, FAIL_ERRNO, 0, 0);
	if (g) {
		int w = uco_group_wait(g);

		if (r == 0)
			r = w;
		uco_group_free(g);
	}
	uco_bufring_free(c->ring);
	c->ring = NULL;
	return r < 0 ? uco_fail(r) : NULL;
}

/* --- main -------------------------------------------------------------------------- */

/* Resolve host:port and make one test connection, so that a server that is
 * not there is one clear error before anything else starts. */
static int resolve(struct shared *sh)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	int r = uco_getaddrinfo(sh->o.host, sh->o.port, &hints, &res);

	if (r < 0) {
		fprintf(stderr, PROG ": cannot resolve %s:%s: %s\n", sh->o.host,
			sh->o.port, uco_strerror(r));
		return r;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = uco_socket(ai->ai_family, SOCK_STREAM, 0);

		if (fd < 0) {
			r = fd;
			continue;
		}
		r = uco_connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (r == 0) {
			/* Let the server see the test connection end before
			 * the real ones open (a server with a connection cap
			 * counts it until then): half-close, and wait (2 s at
			 * most) for its side to close. */
			char b;
			int scope = uco_timeout_begin(2 * UCO_NSEC_PER_SEC);

			if (uco_shutdown(fd, SHUT_WR) == 0)
				while (uco_recv(fd, &b, 1, 0) > 0)
					;
			if (scope >= 0)
				uco_timeout_end(scope);
		}
		close(fd);
		if (r == 0) {
			memcpy(&sh->addr, ai->ai_addr, ai->ai_addrlen);
			sh->addrlen = ai->ai_addrlen;
			break;
		}
	}
	freeaddrinfo(res);
	if (r < 0)
		fprintf(stderr, PROG ": cannot connect to %s:%s: %s\n",
			sh->o.host, sh->o.port, uco_strerror(r));
	return r;
}

static void report_failure(const struct shared *sh, const struct core *c)
{
	fprintf(stderr, PROG ": connection %u: ", c->fail_conn);
	switch (c->fail) {
	case FAIL_HANGUP:
		fprintf(stderr, "the server closed the connection (after %"
			PRIu64 " round trips)\n", c->fail_done);
		break;
	case FAIL_MISMATCH:
		fprintf(stderr, "echoed bytes differ from those sent, at byte %"
			PRIu64 " of the stream (--size %zu)\n",
			c->fail_offset, sh->o.size);
		break;
	default:
		if (c->err == -ETIMEDOUT)
			fprintf(stderr, "no answer from the server for %g s "
				"(after %" PRIu64 " round trips)\n",
				sh->o.timeout, c->fail_done);
		else
			fprintf(stderr, "%s (after %" PRIu64 " round trips)\n",
				uco_strerror(c->err), c->fail_done);
	}
}

/* CPU time of the whole process (every thread), user and system. */
static void cpu_seconds(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t total_done(struct core *cores, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += atomic_load_explicit(&cores[i].done, memory_order_relaxed);
	return t;
}

/* Spawn fn on every core and wait for all; with a watchdog that cancels
 * them when the cores' `done` counters (connections opened, then round
 * trips) do not move for timeout seconds.  Returns 0 or the first error. */
static int on_every_core(struct core *cores, unsigned n, uco_fn fn,
			 double timeout)
{
	uco_task **t = calloc(n, sizeof(*t));
	int r = 0, err = 0;
	uint64_t last = 0;

	if (!t)
		return -ENOMEM;
	for (unsigned i = 0; i < n && r == 0; i++)
		r = uco_spawn_on(i, &t[i], fn, &cores[i], NULL);
	if (r < 0) {
		fprintf(stderr, PROG ": cannot start a task: %s\n",
			uco_strerror(r));
		err = r;
	}
	while (!err) {
		r = uco_wait(t, n, UCO_ALL_COMPLETED,
			     (uint64_t)(timeout * 1e9));
		if (r < 0 || (unsigned)r == n)
			break;
		uint64_t now_done = total_done(cores, n);

		if (now_done == last) {
			/* Stalled: every connection waits for the server. */
			err = -ETIMEDOUT;
			break;
		}
		last = now_done;
	}
	for (unsigned i = 0; i < n; i++)
		if (t[i] && err)
			uco_cancel(t[i]);
	for (unsigned i = 0; i < n; i++) {
		if (!t[i])
			continue;
		r = uco_join(t[i], NULL);
		if (r < 0 && !err)
			err = r;
		uco_task_release(t[i]);
	}
	free(t);
	return err;
}

static void *main_task(void *arg)
{
	struct shared *sh = arg;
	const struct options *o = &sh->o;
	unsigned ncores = o->cores;
	struct core *cores = calloc(ncores, sizeof(*cores));
	struct conn *conns = calloc(o->connections, sizeof(*conns));
	uint64_t *stamps = calloc((size_t)o->connections * o->pipeline,
				  sizeof(*stamps));
	struct hist *h = calloc(1, sizeof(*h));
	int status = 0, r;

	if (!cores || !conns || !stamps || !h) {
		fprintf(stderr, PROG ": out of memory\n");
		status = -ENOMEM;
		goto out;
	}
	if ((r = resolve(sh)) < 0) {
		status = r;
		goto out;
	}

	/* Spread the connections over the cores, and the count over the
	 * connections. */
	for (unsigned c = 0, next = 0; c < ncores; c++) {
		struct core *cc = &cores[c];

		cc->sh = sh;
		cc->id = c;
		cc->first = next;
		cc->nconns = o->connections / ncores +
			     (c < o->connections % ncores);
		cc->conns = &conns[next];
		for (unsigned i = 0; i < cc->nconns; i++) {
			struct conn *cn = &cc->conns[i];
			unsigned k = next + i;

			cn->core = cc;
			cn->index = k;
			cn->fd = -1;
			cn->phase = ((size_t)k * 17) % sh->period;
			cn->quota = o->count / o->connections +
				    (k < o->count % o->connections);
			cn->sent_at = &stamps[(size_t)k * o->pipeline];
		}
		next += cc->nconns;
	}

	r = on_every_core(cores, ncores, connect_task, o->timeout);
	if (r < 0) {
		for (unsigned c = 0; c < ncores; c++)
			if (cores[c].err) {
				fprintf(stderr, PROG ": cannot open connection "
					"%u to %s:%s: %s\n", cores[c].fail_conn,
					o->host, o->port,
					uco_strerror(cores[c].err));
				break;
			}
		status = r;
		goto out;
	}

	double user0, sys0, user1, sys1;

	for (unsigned c = 0; c < ncores; c++)
		atomic_store_explicit(&cores[c].done, 0, memory_order_relaxed);
	/* Scripts that sample the server's CPU time wait for this line. */
	if (o->count)
		printf("connected: %u connection%s, running %" PRIu64
		       " round trips\n", o->connections,
		       o->connections == 1 ? "" : "s", o->count);
	else
		printf("connected: %u connection%s, running for %g s\n",
		       o->connections, o->connections == 1 ? "" : "s",
		       o->duration);
	fflush(stdout);
	cpu_seconds(&user0, &sys0);
	uint64_t t0 = uco_now();

	sh->deadline = t0 + (uint64_t)(o->duration * 1e9);
	r = on_every_core(cores, ncores, run_task, o->timeout);
	uint64_t t1 = uco_now();

	cpu_seconds(&user1, &sys1);
	double user = user1 - user0, sys = sys1 - sys0, cpu = user + sys;

	if (r < 0) {
		bool said = false;

		for (unsigned c = 0; c < ncores && !said; c++)
			if (cores[c].err) {
				report_failure(sh, &cores[c]);
				said = true;
			}
		if (!said && r == -ETIMEDOUT)
			fprintf(stderr, PROG ": no answer from the server for "
				"%g s\n", o->timeout);
		else if (!said)
			fprintf(stderr, PROG ": %s\n", uco_strerror(r));
		status = r;
		goto out;
	}

	uint64_t rt = 0;

	for (unsigned c = 0; c < ncores; c++) {
		hist_merge(h, &cores[c].hist);
		rt += cores[c].done;
	}
	double secs = (double)(t1 - t0) / 1e9;
	double rps = rt / secs;
	double us_per_rt = rt ? cpu * 1e6 / (double)rt : 0;
	double p50 = hist_quantile_us(h, rt, 0.50);
	double p90 = hist_quantile_us(h, rt, 0.90);
	double p99 = hist_quantile_us(h, rt, 0.99);
	double max = (double)h->max / 1e3;

	printf("%u connection%s to %s:%s on %u core%s, %zu-byte messages, "
	       "pipeline %u%s\n",
	       o->connections, o->connections == 1 ? "" : "s", o->host,
	       o->port, ncores, ncores == 1 ? "" : "s", o->size, o->pipeline,
	       o->verify ? ", every byte verified" : "");
	printf("  round trips  %" PRIu64 " in %.3f s: %.0f per second\n", rt,
	       secs, rps);
	printf("  latency      p50 %.1f us  p90 %.1f us  p99 %.1f us  "
	       "max %.1f us\n", p50, p90, p99, max);
	printf("  client CPU   %.3f s (user %.3f, system %.3f; %.0f%% of one "
	       "CPU): %.3f us per round trip\n", cpu, user, sys,
	       100 * cpu / secs, us_per_rt);
	printf("STATS round_trips=%" PRIu64 " seconds=%.4f rps=%.1f "
	       "p50_us=%.2f p90_us=%.2f p99_us=%.2f max_us=%.2f cpu_s=%.4f "
	       "user_s=%.4f sys_s=%.4f cpu_us_per_rt=%.4f connections=%u "
	       "size=%zu pipeline=%u cores=%u\n",
	       rt, secs, rps, p50, p90, p99, max, cpu, user, sys, us_per_rt,
	       o->connections, o->size, o->pipeline, ncores);
	fflush(stdout);
out:
	for (unsigned i = 0; conns && i < o->connections; i++)
		if (conns[i].fd >= 0 && conns[i].core)
			close(conns[i].fd);
	free(h);
	free(stamps);
	free(conns);
	free(cores);
	return status < 0 ? uco_fail(status) : NULL;
}

/* --- arguments ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [options]\n"
"An echo load client: keeps connections busy with round trips (send a\n"
"message, read it back) and reports their rate, latency and its own CPU use.\n"
"\n"
"  --host HOST           server (default 127.0.0.1)\n"
"  --port PORT           server port (default 7000)\n"
"  --cores N             event loops to spread connections over (default 1)\n"
"  --connections N       connections (default 1)\n"
"  --size BYTES          message size, K and M suffixes (default 64)\n"
"  --pipeline N          messages in flight per connection (default 1)\n"
"  --duration SECONDS    how long to send (default 5)\n"
"  --count N             or: this many round trips in all, then stop\n"
"  --verify              check every echoed byte (default: off)\n"
"  --recv MODE           multishot (default) or oneshot receives\n"
"  --timeout SECONDS     give up when nothing comes back for this long\n"
"                        (default 10)\n"
"  -h, --help            this text\n"
"\n"
"Prints the results and one \"STATS key=value ...\" line for scripts.\n"
"Exit status: 0; 1 if the server cannot be reached, hangs up, resets,\n"
"echoes wrong bytes or stops answering, or for a bad option.\n");
}

/* A usage error: one line, the hint, and cp's exit status for it. */
__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
	exit(1);
}

static void bad_arg(const char *opt, const char *val, const char *why)
{
	usage_error("--%s %s: %s", opt, val, why);
}

/* What getopt_long() refused, in its own words (opterr is off so that
 * the program's name, not argv[0], starts the line). */
static void bad_option(int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		usage_error("option '%s' requires an argument", arg);
	if (optopt && strncmp(arg, "--", 2) != 0)
		usage_error("invalid option -- '%c'", optopt);
	usage_error("unrecognized option '%s'", arg);
}

/* A whole number in [min, max], with an optional K/M/G (x1024) suffix
 * when `sizes` is set. */
static uint64_t parse_uint(const char *opt, const char *val, uint64_t min,
			   uint64_t max, bool sizes)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (val[0] == '-')
		bad_arg(opt, val, "must not be negative");
	v = strtoull(val, &end, 10);
	if (errno || end == val)
		bad_arg(opt, val, "not a whole number");
	if (sizes && *end) {
		unsigned shift = 0;

		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: bad_arg(opt, val, "not a size (e.g. 64, 4K, 1M)");
		}
		if (end[1] && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0)
			bad_arg(opt, val, "not a size (e.g. 64, 4K, 1M)");
		if (v > (UINT64_MAX >> shift))
			bad_arg(opt, val, "out of range");
		v <<= shift;
		end += strlen(end);
	}
	if (*end)
		bad_arg(opt, val, "not a whole number");
	if (v < min || v > max) {
		char why[96];

		snprintf(why, sizeof(why), "must be from %" PRIu64 " to %" PRIu64,
			 min, max);
		bad_arg(opt, val, why);
	}
	return v;
}

static double parse_seconds(const char *opt, const char *val)
{
	char *end;
	double v = strtod(val, &end);

	if (end == val || *end || !(v > 0 && v < 1e6))
		bad_arg(opt, val, "not a positive number of seconds");
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "cores", required_argument, NULL, 'c' },
		{ "connections", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "pipeline", required_argument, NULL, 'P' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'N' },
		{ "verify", no_argument, NULL, 'v' },
		{ "recv", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct shared shared = { 0 }, *sh = &shared;
	struct options *o = &sh->o;
	bool have_duration = false;
	uco_config cfg;
	int opt, r;

	*o = (struct options){
		.host = "127.0.0.1", .port = "7000", .cores = 1,
		.connections = 1, .size = 64, .pipeline = 1, .duration = 5,
		.timeout = 10, .recv = RECV_MULTISHOT,
	};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H': o->host = optarg; break;
		case 'p':
			parse_uint("port", optarg, 1, 65535, false);
			o->port = optarg;
			break;
		case 'c':
			o->cores = (unsigned)parse_uint("cores", optarg, 1, 1024,
							false);
			break;
		case 'n':
			o->connections = (unsigned)parse_uint(
				"connections", optarg, 1, 1000000, false);
			break;
		case 's':
			o->size = parse_uint("size", optarg, 1, MAX_SIZE, true);
			break;
		case 'P':
			o->pipeline = (unsigned)parse_uint("pipeline", optarg,
							   1, 65536, false);
			break;
		case 'd':
			o->duration = parse_seconds("duration", optarg);
			have_duration = true;
			break;
		case 'N':
			o->count = parse_uint("count", optarg, 1,
					      UINT64_MAX / 2, false);
			break;
		case 'v': o->verify = true; break;
		case 'r':
			if (strcmp(optarg, "multishot") == 0)
				o->recv = RECV_MULTISHOT;
			else if (strcmp(optarg, "oneshot") == 0)
				o->recv = RECV_ONESHOT;
			else
				bad_arg("recv", optarg,
					"must be multishot or oneshot");
			break;
		case 't': o->timeout = parse_seconds("timeout", optarg); break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			bad_option(opt, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (have_duration && o->count)
		usage_error("--duration and --count exclude each other");
	if ((uint64_t)o->size * o->pipeline > MAX_IN_FLIGHT)
		usage_error("--size x --pipeline is over %u MiB per connection",
			    MAX_IN_FLIGHT >> 20);
	if (o->cores > o->connections)
		o->cores = o->connections; /* a core with no connection idles */

	/* The pattern: a period that is not a divisor of the message size
	 * (so swapped or repeated messages differ), long enough for any
	 * send or check to be one pointer into it. */
	sh->period = o->size % 251 ? 251 : 241;
	size_t span = o->size * o->pipeline;

	if (span < MAX_RECV_BUFFER)
		span = MAX_RECV_BUFFER;
	sh->pattern = malloc(sh->period + span);
	if (!sh->pattern) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < sh->period + span; i++)
		sh->pattern[i] = (unsigned char)((i % sh->period) * 131 + 7);
	atomic_init(&sh->stop, false);

	uco_config_init(&cfg);
	cfg.cores = o->cores;
	r = uco_run(main_task, sh, &cfg, NULL);
	free(sh->pattern);
	return r < 0 ? 1 : 0;
}
