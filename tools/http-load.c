/*
 * uco-http-load: an HTTP/1.1 load generator on uco, built only on the
 * public API.
 *
 *   uco-http-load [-c CONNS] [-d SECONDS | -n REQUESTS] [-p DEPTH]
 *                 [-m METHOD] [-H 'Name: value']... [-b BODY]
 *                 [--status CODE] [--cores N] URL
 *
 * CONNS keep-alive connections (default 64), each a task that sends DEPTH
 * requests at once (pipelined; default 1) and reads their responses,
 * for SECONDS (default 10) or until REQUESTS have been answered in all.
 * URL is http://HOST[:PORT]/PATH.  Every response is checked: its status
 * must be CODE (default 200) and its body as long as its Content-Length
 * or its chunks say, and as long as the first response's; a mismatch is
 * counted as an error (the first one is printed).  At the end, on stdout:
 *
 *   requests: N
 *   duration: S
 *   requests/s: R
 *   latency p50/p90/p99/p99.9/max: a b c d e us
 *   cpu per request: C us (this process, user + system)
 *   errors: E (status S1, length L1, connect/read R1)
 *
 * A request's latency runs from the send of its batch to the end of its
 * response.  Exits 0 when every response passed, 1 otherwise; a bad
 * option prints one line and a --help pointer (as curl and wrk do).
 *
 * How it works: one uco loop per --cores (default 1), connections spread
 * over them; a connection's task builds its batch of DEPTH requests once,
 * sends it with uco_send_all() and parses the responses from its own
 * buffer with uco_recv(): one send and usually one receive per batch.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uco/uco.h>

#define PROG "uco-http-load"
#define RBUF (256 * 1024)
#define HIST_SUB 32                 /* sub-buckets per power of two */
#define HIST_N (64 * HIST_SUB)

struct cfg {
	char host[256], port[16], path[2048];
	const char *method;
	const char *headers[32];
	int nheaders;
	const char *body;
	unsigned conns, depth, cores;
	double duration;
	uint64_t requests;              /* 0: by duration */
	int status;
	char *batch;                    /* DEPTH requests */
	size_t batch_len;
	bool head;
	uint64_t deadline;
	_Atomic long expect_len;        /* the first response's body; -1 */
	_Atomic bool reported;
};

struct conn {
	struct cfg *cfg;
	uint64_t quota;                 /* requests to make; 0: by time */
	uint64_t done, bad_status, bad_len, io_errors;
	uint64_t hist[HIST_N];
	char *buf;
	size_t len;
};

/* ---- the latency histogram: HIST_SUB buckets per power of two of ns ---- */

static unsigned bucket(uint64_t ns)
{
	if (ns < HIST_SUB)
		return (unsigned)ns;
	unsigned lg = 63 - (unsigned)__builtin_clzll(ns);
	unsigned sub = (unsigned)(ns >> (lg - 5)) & (HIST_SUB - 1);

	return (lg - 4) * HIST_SUB + sub;
}

static double bucket_ns(unsigned b)
{
	if (b < HIST_SUB)
		return b;
	unsigned lg = b / HIST_SUB + 4, sub = b % HIST_SUB;

	return ldexp(HIST_SUB + sub + 0.5, (int)lg - 5);
}

/* ---- a connection ----------------------------------------------------------- */

static void report_once(struct cfg *c, const char *fmt, long a, long b)
{
	if (!atomic_exchange(&c->reported, true)) {
		fprintf(stderr, PROG ": ");
		fprintf(stderr, fmt, a, b);
		fputc('\n', stderr);
	}
}

static ssize_t fill(struct conn *k, int fd)
{
	ssize_t n;

	if (k->len == RBUF)
		return -EMSGSIZE; /* a head longer than the buffer */
	n = uco_recv(fd, k->buf + k->len, RBUF - k->len, 0);
	if (n > 0)
		k->len += (size_t)n;
	return n == 0 ? -ECONNRESET : n;
}

static void eat(struct conn *k, size_t n)
{
	memmove(k->buf, k->buf + n, k->len - n);
	k->len -= n;
}

static const char *find_hdr(const char *head, size_t hl, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = memmem(head, hl, "\r\n", 2); p;
	     p = memmem(p + 2, hl - (size_t)(p + 2 - head), "\r\n", 2)) {
		if ((size_t)(p + 2 - head) + n + 1 > hl)
			break;
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':')
			return p + 3 + n;
	}
	return NULL;
}

/* Read one response: its status and body length, or a negative errno.
 * *close: the server said it closes. */
static int response(struct conn *k, int fd, int *status, long *blen,
		    bool *close)
{
	char *end;
	size_t hl;
	const char *v;
	ssize_t n;

	while (!(end = memmem(k->buf, k->len, "\r\n\r\n", 4)))
		if ((n = fill(k, fd)) < 0)
			return (int)n;
	hl = (size_t)(end - k->buf) + 4;
	if (k->len < 12 || memcmp(k->buf, "HTTP/1.", 7) != 0)
		return -EPROTO;
	*status = atoi(k->buf + 9);
	v = find_hdr(k->buf, hl, "Connection");
	*close = v && strncasecmp(v + strspn(v, " "), "close", 5) == 0;
	*blen = 0;
	if (k->cfg->head || *status == 204 || *status == 304) {
		eat(k, hl);
		return 0;
	}
	if ((v = find_hdr(k->buf, hl, "Content-Length"))) {
		size_t want = strtoull(v, NULL, 10);

		eat(k, hl);
		while (k->len < want) {
			/* A big body passes through the buffer. */
			want -= k->len;
			*blen += (long)k->len;
			k->len = 0;
			if ((n = fill(k, fd)) < 0)
				return (int)n;
		}
		*blen += (long)want;
		eat(k, want);
		return 0;
	}
	if ((v = find_hdr(k->buf, hl, "Transfer-Encoding"))) {
		eat(k, hl);
		for (;;) {
			char *crlf;
			size_t sz;

			while (!(crlf = memmem(k->buf, k->len, "\r\n", 2)))
				if ((n = fill(k, fd)) < 0)
					return (int)n;
			sz = strtoull(k->buf, NULL, 16);
			eat(k, (size_t)(crlf - k->buf) + 2);
			if (sz == 0) {
				/* Trailers, then the final CRLF. */
				while (!(crlf = memmem(k->buf, k->len, "\r\n", 2)))
					if ((n = fill(k, fd)) < 0)
						return (int)n;
				eat(k, (size_t)(crlf - k->buf) + 2);
				return 0;
			}
			*blen += (long)sz;
			sz += 2;
			while (k->len < sz) {
				sz -= k->len;
				k->len = 0;
				if ((n = fill(k, fd)) < 0)
					return (int)n;
			}
			eat(k, sz);
		}
	}
	return -EPROTO; /* no length: not what a load test expects */
}

static void *conn_main(void *arg)
{
	struct conn *k = arg;
	struct cfg *c = k->cfg;
	int fd = -1;

	k->buf = malloc(RBUF);
	if (!k->buf)
		return uco_fail(-ENOMEM);
	for (;;) {
		uint64_t t0, now;
		unsigned depth = c->depth;
		ssize_t r;

		if (c->requests ? k->done >= k->quota : uco_now() >= c->deadline)
			break;
		if (c->requests && k->quota - k->done < depth)
			depth = (unsigned)(k->quota - k->done);
		if (fd < 0) {
			fd = uco_connect_tcp(c->host, c->port);
			if (fd < 0) {
				k->io_errors++;
				report_once(c, "connect: error %ld%.0ld", fd, 0);
				break;
			}
			k->len = 0;
		}
		t0 = uco_now();
		r = uco_send_all(fd, c->batch,
				 c->batch_len / c->depth * depth, 0);
		if (r < 0) {
			k->io_errors++;
			close(fd);
			fd = -1;
			continue;
		}
		for (unsigned i = 0; i < depth; i++) {
			int status = 0;
			long blen = 0, want;
			bool cl = false;
			int e = response(k, fd, &status, &blen, &cl);

			if (e < 0) {
				k->io_errors++;
				report_once(c, "read: error %ld (%ld)", e, 0);
				close(fd);
				fd = -1;
				break;
			}
			now = uco_now();
			k->hist[bucket(now - t0)]++;
			k->done++;
			if (status != c->status) {
				k->bad_status++;
				report_once(c, "unexpected status %ld", status, 0);
			}
			want = atomic_load(&c->expect_len);
			if (want < 0) {
				long none = -1;

				atomic_compare_exchange_strong(&c->expect_len,
							       &none, blen);
				want = atomic_load(&c->expect_len);
			}
			if (blen != want) {
				k->bad_len++;
				report_once(c, "body of %ld bytes, not %ld", blen,
					    want);
			}
			if (cl) {
				close(fd);
				fd = -1;
				break;
			}
		}
		if (uco_cancelling())
			break;
	}
	if (fd >= 0)
		close(fd);
	free(k->buf);
	k->buf = NULL;
	return NULL;
}

/* ---- main ------------------------------------------------------------------------ */

struct run {
	struct cfg *cfg;
	struct conn *conns;
	double wall;
};

static void *main_task(void *arg)
{
	struct run *run = arg;
	struct cfg *c = run->cfg;
	uco_task **t = calloc(c->conns, sizeof(*t));
	uint64_t t0 = uco_now();
	int r = 0;

	if (!t)
		return uco_fail(-ENOMEM);
	c->deadline = t0 + (uint64_t)(c->duration * 1e9);
	for (unsigned i = 0; i < c->conns && r == 0; i++) {
		run->conns[i].cfg = c;
		if (c->requests)
			run->conns[i].quota = c->requests / c->conns +
					      (i < c->requests % c->conns);
		r = uco_spawn_on(i % c->cores, &t[i], conn_main, &run->conns[i],
				 NULL);
	}
	for (unsigned i = 0; i < c->conns; i++)
		if (t[i]) {
			/* each connection counts its own errors */
			UCO_IGNORE(uco_join(t[i], NULL));
			uco_task_release(t[i]);
		}
	free(t);
	run->wall = (double)(uco_now() - t0) / 1e9;
	return r < 0 ? uco_fail(r) : NULL;
}

static int bad(const char *msg, const char *arg)
{
	fprintf(stderr, PROG ": %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	fprintf(stderr, "Try '" PROG " --help' for more information.\n");
	return 1;
}

static void usage(void)
{
	printf("Usage: " PROG " [OPTION]... URL\n"
	       "Load an HTTP/1.1 server with keep-alive (and pipelined) requests.\n\n"
	       "  -c, --connections N   connections (default 64)\n"
	       "  -d, --duration S      seconds to run (default 10)\n"
	       "  -n, --requests N      stop after N requests instead\n"
	       "  -p, --pipeline D      requests in flight per connection (default 1)\n"
	       "  -m, --method M        request method (default GET)\n"
	       "  -H, --header 'K: V'   add a request header (repeatable)\n"
	       "  -b, --body STRING     request body (sent with Content-Length)\n"
	       "      --status CODE     the status every response must have (default 200)\n"
	       "      --cores N         loops to run the connections on (default 1)\n"
	       "  -h, --help            this help\n");
}

static bool parse_url(struct cfg *c, const char *url)
{
	const char *p, *slash, *colon;

	if (strncmp(url, "http://", 7) != 0)
		return false;
	p = url + 7;
	slash = strchr(p, '/');
	if (!slash)
		slash = p + strlen(p);
	colon = memchr(p, ':', (size_t)(slash - p));
	if (p == (colon ? colon : slash) ||
	    (size_t)((colon ? colon : slash) - p) >= sizeof(c->host))
		return false;
	memcpy(c->host, p, (size_t)((colon ? colon : slash) - p));
	if (colon) {
		size_t n = (size_t)(slash - colon - 1);

		if (n == 0 || n >= sizeof(c->port) ||
		    strspn(colon + 1, "0123456789") < n)
			return false;
		memcpy(c->port, colon + 1, n);
	} else {
		strcpy(c->port, "80");
	}
	snprintf(c->path, sizeof(c->path), "%s", *slash ? slash : "/");
	return true;
}

static int build_batch(struct cfg *c)
{
	char one[8192];
	int n = snprintf(one, sizeof(one), "%s %s HTTP/1.1\r\nHost: %s\r\n",
			 c->method, c->path, c->host);

	for (int i = 0; i < c->nheaders && n < (int)sizeof(one); i++)
		n += snprintf(one + n, sizeof(one) - (size_t)n, "%s\r\n",
			      c->headers[i]);
	if (c->body && n < (int)sizeof(one))
		n += snprintf(one + n, sizeof(one) - (size_t)n,
			      "Content-Length: %zu\r\n", strlen(c->body));
	if (n < (int)sizeof(one))
		n += snprintf(one + n, sizeof(one) - (size_t)n, "\r\n");
	if (n >= (int)sizeof(one))
		return -E2BIG;
	size_t blen = c->body ? strlen(c->body) : 0;

	c->batch_len = ((size_t)n + blen) * c->depth;
	c->batch = malloc(c->batch_len);
	if (!c->batch)
		return -ENOMEM;
	for (unsigned i = 0; i < c->depth; i++) {
		memcpy(c->batch + i * ((size_t)n + blen), one, (size_t)n);
		if (blen)
			memcpy(c->batch + i * ((size_t)n + blen) + n, c->body,
			       blen);
	}
	return 0;
}

static bool num(const char *s, double max, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return *s && !*end && errno == 0 && *v > 0 && *v <= max;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connections", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "requests", required_argument, NULL, 'n' },
		{ "pipeline", required_argument, NULL, 'p' },
		{ "method", required_argument, NULL, 'm' },
		{ "header", required_argument, NULL, 'H' },
		{ "body", required_argument, NULL, 'b' },
		{ "status", required_argument, NULL, 's' },
		{ "cores", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cfg c = { .method = "GET", .conns = 64, .depth = 1, .cores = 1,
			 .duration = 10, .status = 200, .expect_len = -1 };
	struct run run = { &c, NULL, 0 };
	struct rusage ru0, ru1;
	uco_config ucfg;
	double v;
	int o, r;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":c:d:n:p:m:H:b:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			if (!num(optarg, 1e6, &v) || v != (unsigned)v)
				return bad("invalid number of connections:", optarg);
			c.conns = (unsigned)v;
			break;
		case 'd':
			if (!num(optarg, 1e6, &v))
				return bad("invalid duration:", optarg);
			c.duration = v;
			break;
		case 'n':
			if (!num(optarg, 1e15, &v) || v != (uint64_t)v)
				return bad("invalid number of requests:", optarg);
			c.requests = (uint64_t)v;
			break;
		case 'p':
			if (!num(optarg, 1024, &v) || v != (unsigned)v)
				return bad("invalid pipeline depth:", optarg);
			c.depth = (unsigned)v;
			break;
		case 'm':
			if (!*optarg || strpbrk(optarg, " \r\n"))
				return bad("invalid method:", optarg);
			c.method = optarg;
			break;
		case 'H':
			if (c.nheaders == 32 || !strchr(optarg, ':') ||
			    strpbrk(optarg, "\r\n"))
				return bad("invalid header:", optarg);
			c.headers[c.nheaders++] = optarg;
			break;
		case 'b':
			c.body = optarg;
			break;
		case 's':
			if (!num(optarg, 999, &v) || v < 100 || v != (int)v)
				return bad("invalid status:", optarg);
			c.status = (int)v;
			break;
		case 'C':
			if (!num(optarg, 1024, &v) || v != (unsigned)v)
				return bad("invalid number of cores:", optarg);
			c.cores = (unsigned)v;
			break;
		case 'h':
			usage();
			return 0;
		case ':':
			return bad("option requires an argument:", argv[optind - 1]);
		default:
			return bad("unknown option:", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return bad(optind < argc ? "one URL only:" : "no URL given",
			   optind < argc ? argv[optind + 1] : NULL);
	if (!parse_url(&c, argv[optind]))
		return bad("URL using bad/illegal format or missing URL:",
			   argv[optind]);
	c.head = strcmp(c.method, "HEAD") == 0;
	if (c.requests && c.requests < c.conns)
		c.conns = (unsigned)c.requests;
	if (build_batch(&c) < 0)
		return bad("request too large", NULL);
	run.conns = calloc(c.conns, sizeof(*run.conns));
	if (!run.conns)
		return bad("out of memory", NULL);
	uco_config_init(&ucfg);
	ucfg.cores = c.cores;
	getrusage(RUSAGE_SELF, &ru0);
	r = uco_run(main_task, &run, &ucfg, NULL);
	getrusage(RUSAGE_SELF, &ru1);
	if (r < 0) {
		fprintf(stderr, PROG ": %s\n", strerror(-r));
		return 1;
	}

	uint64_t done = 0, bs = 0, bl = 0, io = 0;
	static uint64_t hist[HIST_N];

	for (unsigned i = 0; i < c.conns; i++) {
		struct conn *k = &run.conns[i];

		done += k->done;
		bs += k->bad_status;
		bl += k->bad_len;
		io += k->io_errors;
		for (unsigned b = 0; b < HIST_N; b++)
			hist[b] += k->hist[b];
	}
	double pct[] = { 50, 90, 99, 99.9, 100 }, at[5] = { 0 };

	for (unsigned p = 0; p < 5 && done; p++) {
		uint64_t target = (uint64_t)ceil((double)done * pct[p] / 100);
		uint64_t seen = 0;

		for (unsigned b = 0; b < HIST_N; b++) {
			seen += hist[b];
			if (seen >= target) {
				at[p] = bucket_ns(b) / 1000.0;
				break;
			}
		}
	}
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
			      ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 +
		     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
			      ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);

	printf("requests: %llu\n", (unsigned long long)done);
	printf("duration: %.3f s\n", run.wall);
	printf("requests/s: %.0f\n", run.wall > 0 ? done / run.wall : 0);
	printf("latency p50/p90/p99/p99.9/max: %.0f %.0f %.0f %.0f %.0f us\n",
	       at[0], at[1], at[2], at[3], at[4]);
	printf("cpu per request: %.2f us (this process, user + system)\n",
	       done ? cpu / (double)done : 0);
	printf("errors: %llu (status %llu, length %llu, connect/read %llu)\n",
	       (unsigned long long)(bs + bl + io), (unsigned long long)bs,
	       (unsigned long long)bl, (unsigned long long)io);
	free(run.conns);
	free(c.batch);
	return bs + bl + io || done == 0 ? 1 : 0;
}
