/*
 * uco-echo-server: a TCP echo server on uco, built only on the public API.
 *
 *   uco-echo-server [--host ADDR] [--port PORT] [--cores N]
 *                   [--max-connections N] [--grace SECONDS]
 *                   [--recv oneshot|multishot] [--idle-timeout SECONDS]
 *                   [--lines [--read-timeout SECONDS]]
 *
 * Everything a client sends on a connection is sent back to it.  Use it with
 * uco-echo-client (tools/echo-client.c), the load client:
 *
 *   uco-echo-server --port 7000 --cores 2 &
 *   uco-echo-client --port 7000 --connections 64 --size 64 --duration 5
 *
 * When it accepts connections it prints one line on stdout:
 *   uco-echo-server: listening on HOST:PORT (N cores)
 * (with --port 0 the kernel picks the port; the line says which).  SIGINT
 * or SIGTERM stop it: it stops accepting, gives open connections --grace
 * seconds (default 2) to finish, cancels the rest, and exits 0.
 *
 * Errors a user can cause, each one line on stderr:
 *   - a port another program listens on: "cannot listen on HOST:PORT:
 *     Address already in use", exit 1 (never a silent share of the port:
 *     see uco_listen_tcp() in uco/net.h);
 *   - an unknown host: "... Name or service not known" (uco_strerror());
 *   - a bad option or value: one line, then "Try 'uco-echo-server --help'
 *     for more information.", exit 1, as cp(1) does.
 *
 * Timeouts: --idle-timeout closes a connection that sends nothing for that
 * long (a timeout scope around each wait for data).  --lines echoes whole
 * lines instead of bytes as they come, through uco_start_server() and a
 * uco_stream per connection (the short way to write a server; see
 * uco/server.h); there a line is a message, and --read-timeout cuts one
 * that does not arrive whole in time (a client trickling bytes,
 * slowloris).  An echo of bytes has no messages, so --read-timeout needs
 * --lines.  (In --lines mode --max-connections is uco_server_opts'
 * cap: connections past it wait in the kernel's backlog instead of being
 * closed.)
 *
 * How it works — the shape of any uco server:
 *
 *   - One loop per core (uco_config.cores).  On each core a listener task
 *     owns its own listening socket, all on one port: core 0's opens a
 *     SO_REUSEPORT group (UCO_LISTEN_REUSEPORT) and the others join it
 *     (uco_listen_twin()), so the kernel spreads incoming connections
 *     over the cores and no connection ever crosses cores.  With one
 *     core, a plain socket: nothing may join it.
 *   - The listener takes connections from a multishot accept
 *     (uco_acceptor_*: one SQE for all of them) and spawns a task per
 *     connection into a task group (uco_group), which is how it finds them
 *     again at shutdown.  Connection tasks never fail the group: a client
 *     that resets is the end of that connection only.
 *   - A connection task receives and sends back.  Two ways to receive,
 *     chosen with --recv:
 *       multishot (default)  one multishot receive per connection into a
 *                            per-core provided buffer ring (uco_mrecv_*):
 *                            no SQE per message, and an idle connection
 *                            holds no buffer;
 *       oneshot              uco_recv() into the connection's own buffer,
 *                            one SQE per receive.
 *     Either way the data goes back with uco_send_all().
 *   - Errors: EMFILE/ENFILE (out of file descriptors) from accept make the
 *     listener pause for 100 ms and go on; sends use MSG_NOSIGNAL (always,
 *     in uco), so a client that vanished is -EPIPE for its connection, not
 *     a SIGPIPE for the server.  Past --max-connections (default: no cap),
 *     new connections are accepted and closed at once.
 *   - main waits for SIGINT/SIGTERM with uco_signal_wait(), then cancels the
 *     listeners; each closes its socket and waits for its connections
 *     under a timeout scope of --grace seconds, which cancels the rest.
 *
 * Sockets are closed with uco_close(), which releases the descriptor
 * whatever happens, even in a task that is being cancelled at shutdown.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uco/uco.h>

#define PROG "uco-echo-server"

/*
 * Per-core receive buffer ring (multishot mode): 512 buffers of 4 KiB.  A
 * connection holds a buffer from its receive to the end of its send, so a
 * few hundred serve thousands of connections.  A connection whose send
 * blocks (a client that sends but does not read) keeps what it holds, and
 * its multishot would go on filling buffers; the runtime stops it at the
 * ring's per-connection quota (UCO_BUFRING_QUOTA: 32 of the 512), so 16
 * such connections fit before the ring runs dry.  Past that, a dry ring
 * slows the others down but never stops them: a connection that finds it
 * dry receives into memory of its own, one receive SQE per chunk as in
 * --recv oneshot, and nobody waits for another connection's buffers (see
 * uco/net.h).  The kernel hands the buffers out in ring order, so every
 * receive lands in the next one: a small ring (2 MiB, 512 pages) keeps
 * what the receives cycle through cache- and TLB-friendly.  (Against
 * 1024 x 16 KiB the difference measured on a shared 2-CPU VM was within
 * its noise.)
 */
#define RING_BUFFERS 512
#define RING_BUFFER_SIZE (4 * 1024)
/* Receive buffer of a connection in oneshot mode. */
#define CONN_BUFFER_SIZE (16 * 1024)
#define LISTEN_BACKLOG 4096
#define EMFILE_PAUSE (100 * UCO_NSEC_PER_MSEC)
/* --lines: the longest line echoed; a longer one ends its connection. */
#define LINE_MAX_BYTES (64 * 1024)

enum recv_mode { RECV_MULTISHOT, RECV_ONESHOT };

struct server {
	const char *host;       /* NULL: every address */
	char port[16];          /* the port every core binds (set by core 0) */
	unsigned cores;
	long max_connections;   /* 0: no cap */
	uint64_t grace_ns;
	enum recv_mode recv;
	bool lines;             /* --lines: uco_start_server, line echo */
	uint64_t idle_ns;       /* 0: none */
	uint64_t read_ns;       /* --lines only; 0: none */
	atomic_long connections; /* open now, over every core */
	atomic_long served;      /* accepted since start */
};

/* One per core: its listening socket and what its connections share. */
struct listener {
	struct server *srv;
	unsigned core;
	int fd;
	uco_bufring *ring;  /* multishot mode */
};

struct conn {
	struct listener *l;
	int fd;
};

/* --- a connection ---------------------------------------------------------- */

/* --idle-timeout: a timeout scope around one wait for data (-1: none). */
static int idle_begin(const struct conn *c)
{
	return c->l->srv->idle_ns ? uco_timeout_begin(c->l->srv->idle_ns) : -1;
}

static ssize_t idle_bounded_next(struct conn *c, uco_mrecv *r, uco_buf *buf)
{
	int scope = idle_begin(c);
	ssize_t n = uco_mrecv_next(r, buf);

	if (scope >= 0)
		uco_timeout_end(scope);
	return n;
}

/* Echo with one multishot receive: each chunk the kernel put into a ring
 * buffer is sent back, and the buffer returned to the ring. */
static ssize_t echo_multishot(struct conn *c)
{
	uco_mrecv *r;
	uco_buf buf;
	ssize_t n;
	int err = uco_mrecv_open(&r, c->fd, c->l->ring);

	if (err < 0)
		return err;
	for (;;) {
		n = idle_bounded_next(c, r, &buf);
		if (n <= 0)
			break;
		n = uco_send_all(c->fd, buf.data, buf.len, 0);
		uco_mrecv_release(r, &buf);
		if (n < 0)
			break;
	}
	uco_mrecv_close(r);
	return n;
}

/* Echo with one uco_recv() per chunk into a buffer of the connection's. */
static ssize_t echo_oneshot(struct conn *c)
{
	char *buf = malloc(CONN_BUFFER_SIZE);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		int scope = idle_begin(c);

		n = uco_recv(c->fd, buf, CONN_BUFFER_SIZE, 0);
		if (scope >= 0)
			uco_timeout_end(scope);
		if (n <= 0)
			break;
		n = uco_send_all(c->fd, buf, (size_t)n, 0);
		if (n < 0)
			break;
	}
	free(buf);
	return n;
}

static void *conn_task(void *arg)
{
	struct conn *c = arg;
	struct server *srv = c->l->srv;
	int one = 1;

	/* Small messages go out at once (no Nagle delay under pipelining). */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (srv->recv == RECV_MULTISHOT)
		echo_multishot(c);
	else
		echo_oneshot(c);
	/* End of stream, a reset, a cancel at shutdown: all end this
	 * connection only, so the task returns normally. */
	/* Uncounted before the close: a client that sees the close may
	 * connect again at once and must find the room free. */
	atomic_fetch_sub_explicit(&srv->connections, 1, memory_order_relaxed);
	uco_close(c->fd);
	free(c);
	return NULL;
}

/* --- a core's listener ------------------------------------------------------ */

/* Spawn a task for connection fd into the group; false if it was refused. */
static bool start_conn(struct listener *l, uco_group *g, int fd)
{
	struct server *srv = l->srv;
	long open = atomic_fetch_add_explicit(&srv->connections, 1,
					      memory_order_relaxed);
	struct conn *c;

	if (srv->max_connections && open >= srv->max_connections)
		goto refuse;
	c = malloc(sizeof(*c));
	if (!c)
		goto refuse;
	c->l = l;
	c->fd = fd;
	if (uco_group_spawn(g, NULL, conn_task, c, NULL) < 0) {
		free(c);
		goto refuse;
	}
	atomic_fetch_add_explicit(&srv->served, 1, memory_order_relaxed);
	return true;
refuse:
	atomic_fetch_sub_explicit(&srv->connections, 1, memory_order_relaxed);
	uco_close(fd);
	return false;
}

static void *listener_task(void *arg)
{
	struct listener *l = arg;
	struct server *srv = l->srv;
	uco_acceptor *acc = NULL;
	uco_group *conns = NULL;
	bool said_emfile = false;
	int r;

	if ((r = uco_group_create(&conns)) < 0 ||
	    (r = uco_acceptor_open(&acc, l->fd)) < 0 ||
	    (srv->recv == RECV_MULTISHOT &&
	     (r = uco_bufring_create(&l->ring, RING_BUFFERS,
				     RING_BUFFER_SIZE)) < 0)) {
		fprintf(stderr, PROG ": core %u: cannot start accepting: %s\n",
			l->core, uco_strerror(r));
		uco_acceptor_close(acc);
		uco_group_free(conns);
		return uco_fail(r);
	}

	/* Accept until cancelled (by main, at SIGINT/SIGTERM). */
	for (;;) {
		int fd = uco_acceptor_next(acc);

		if (fd >= 0) {
			start_conn(l, conns, fd);
			continue;
		}
		if (fd == -ECANCELED)
			break;
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS ||
		    fd == -ENOMEM) {
			/* Out of descriptors or memory: serve the open
			 * connections and try again a little later. */
			if (!said_emfile)
				fprintf(stderr, PROG ": accept: %s (pausing "
					"accepts; said once)\n", uco_strerror(fd));
			said_emfile = true;
			if (uco_sleep(EMFILE_PAUSE) == -ECANCELED)
				break;
			continue;
		}
		if (fd != -ECONNABORTED)
			fprintf(stderr, PROG ": accept: %s\n", uco_strerror(fd));
	}

	/* Stopping: no new connections; the open ones get the grace period,
	 * then the timeout scope cancels them (uco_group_wait() cancels and
	 * joins the members when its caller's scope expires). */
	uco_acceptor_close(acc);
	uco_close(l->fd);
	uco_shield_begin();
	int scope = uco_timeout_begin(srv->grace_ns);
	UCO_IGNORE(uco_group_wait(conns));
	if (scope >= 0)
		uco_timeout_end(scope);
	uco_shield_end();
	uco_group_free(conns);
	uco_bufring_free(l->ring);
	return NULL;
}

/* --- main ---------------------------------------------------------------------- */

static void *wait_signal_task(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sig = uco_signal_wait(&set);
	return sig < 0 ? uco_fail(sig) : (void *)(intptr_t)sig;
}

/* --lines: one task per connection on a uco_stream (uco_start_server).
 * Each line is sent back from the stream's own buffer (no copy, and no
 * line buffer on the task's small stack), then consumed. */
static int line_echo(uco_stream *s, void *arg)
{
	const void *line;
	ssize_t n;
	int r;

	(void)arg;
	for (;;) {
		n = uco_stream_readuntil_view(s, "\n", 1, &line);
		if (n == -EPIPE) /* the last line, without its newline */
			n = (ssize_t)uco_stream_partial(s);
		if (n <= 0)
			return (int)n; /* -ETIMEDOUT, -EMSGSIZE...: closed */
		r = uco_stream_send(s, line, (size_t)n);
		uco_stream_consume(s, (size_t)n);
		if (r < 0)
			return r;
	}
}

static void *lines_main(struct server *srv)
{
	uco_server_opts o = {
		.cores = srv->cores,
		.max_connections = (size_t)srv->max_connections,
		.backlog = LISTEN_BACKLOG,
		.stream = { .limit = LINE_MAX_BYTES },
		.idle_timeout = srv->idle_ns,
		.read_timeout = srv->read_ns,
	};
	uco_server_stats st;
	uco_server *s;
	int r = uco_start_server(&s, srv->host, srv->port, line_echo, NULL, &o);

	if (r < 0) {
		fprintf(stderr, PROG ": cannot listen on %s:%s: %s\n",
			srv->host ? srv->host : "*", srv->port,
			uco_strerror(r));
		return uco_fail(r);
	}
	printf(PROG ": listening on %s:%d (%u core%s)\n",
	       srv->host ? srv->host : "*", uco_server_port(s), srv->cores,
	       srv->cores == 1 ? "" : "s");
	fflush(stdout);
	r = uco_server_run_until_signal(s, srv->grace_ns);
	uco_server_stats_get(s, &st);
	if (r > 0)
		fprintf(stderr, PROG ": %s: stopping (%llu connections served)\n",
			strsignal(r), (unsigned long long)st.accepted);
	uco_server_free(s);
	return r < 0 ? uco_fail(r) : NULL;
}

static void *main_task(void *arg)
{
	struct server *srv = arg;
	unsigned n = srv->cores;
	struct listener *ls = calloc(n, sizeof(*ls));
	uco_task **tasks = calloc(n + 1, sizeof(*tasks)); /* listeners, signal */
	int status = 0;
	int r;

	if (srv->lines) {
		free(ls);
		free(tasks);
		return lines_main(srv);
	}
	if (!ls || !tasks) {
		free(ls);
		free(tasks);
		return uco_fail(-ENOMEM);
	}
	/* One listening socket per core, all on the port core 0's got. */
	for (unsigned c = 0; c < n; c++) {
		ls[c].srv = srv;
		ls[c].core = c;
		/* Core 0 checks that nobody listens on the port and opens
		 * a group only our own listeners join; one core needs no
		 * group at all. */
		if (c == 0)
			ls[c].fd = uco_listen_tcp(srv->host, srv->port,
						  LISTEN_BACKLOG,
						  n > 1 ? UCO_LISTEN_REUSEPORT : 0);
		else
			ls[c].fd = uco_listen_twin(ls[0].fd, LISTEN_BACKLOG);
		if (ls[c].fd < 0) {
			int err = ls[c].fd;

			fprintf(stderr, PROG ": cannot listen on %s:%s: %s\n",
				srv->host ? srv->host : "*", srv->port,
				uco_strerror(err));
			for (unsigned i = 0; i < c; i++)
				uco_close(ls[i].fd);
			free(ls);
			free(tasks);
			return uco_fail(err);
		}
		if (c == 0)
			snprintf(srv->port, sizeof(srv->port), "%d",
				 uco_local_port(ls[0].fd));
	}
	/* The sockets listen: connections from now on wait in the backlog
	 * until the acceptors run, so the server is ready. */
	printf(PROG ": listening on %s:%s (%u core%s)\n",
	       srv->host ? srv->host : "*", srv->port, n, n == 1 ? "" : "s");
	fflush(stdout);

	for (unsigned c = 0; c < n; c++) {
		uco_spawn_opts opts = { .name = "listener" };

		r = uco_spawn_on(c, &tasks[c], listener_task, &ls[c], &opts);
		if (r < 0) {
			fprintf(stderr, PROG ": cannot start core %u: %s\n", c,
				uco_strerror(r));
			uco_close(ls[c].fd);
			status = r;
		}
	}
	r = uco_spawn(&tasks[n], wait_signal_task, NULL, NULL);
	if (r < 0)
		status = r;

	/* Until a signal arrives, or a listener gives up. */
	if (status == 0)
		UCO_IGNORE(uco_wait(tasks, n + 1, UCO_FIRST_COMPLETED, UINT64_MAX));
	void *sig = NULL;

	if (tasks[n] && uco_task_outcome(tasks[n], &sig) == 0)
		fprintf(stderr, PROG ": %s: stopping (%ld connections served)\n",
			strsignal((int)(intptr_t)sig),
			atomic_load(&srv->served));
	for (unsigned c = 0; c <= n; c++)
		if (tasks[c])
			uco_cancel(tasks[c]);
	for (unsigned c = 0; c < n; c++) {
		if (!tasks[c])
			continue;
		r = uco_join(tasks[c], NULL);
		if (r < 0 && r != -ECANCELED && status == 0)
			status = r;
		uco_task_release(tasks[c]);
	}
	if (tasks[n]) {
		UCO_IGNORE(uco_join(tasks[n], NULL));
		uco_task_release(tasks[n]);
	}
	free(ls);
	free(tasks);
	return status < 0 ? uco_fail(status) : NULL;
}

/* --- arguments -------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [options]\n"
"A TCP echo server on uco: every byte a client sends is sent back.\n"
"\n"
"  --host ADDR             address to listen on (default: every address)\n"
"  --port PORT             port (default 7000; 0: the kernel picks one)\n"
"  --cores N               event loops, one per CPU, each with its own\n"
"                          SO_REUSEPORT listener (default 1; 0: every CPU)\n"
"  --max-connections N     close connections past N open at once (with\n"
"                          --lines: leave them waiting in the backlog;\n"
"                          default: no cap)\n"
"  --grace SECONDS         at SIGINT/SIGTERM, how long open connections may\n"
"                          go on before they are cancelled (default 2)\n"
"  --recv MODE             multishot (default: one multishot receive per\n"
"                          connection into a per-core buffer ring) or\n"
"                          oneshot (one receive SQE per chunk)\n"
"  --idle-timeout SECONDS  close a connection that sends nothing for this\n"
"                          long (default: never)\n"
"  --lines                 echo whole lines (at most 64 KiB) through\n"
"                          uco_start_server and a stream per connection\n"
"                          (instead of --recv)\n"
"  --read-timeout SECONDS  with --lines: close a connection whose line has\n"
"                          begun but not ended after this long\n"
"  -h, --help              this text\n"
"\n"
"Prints \"" PROG ": listening on HOST:PORT (N cores)\" on stdout when ready.\n");
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

static uint64_t parse_seconds(const char *opt, const char *val, bool zero_ok)
{
	char *end;
	double v = strtod(val, &end);

	if (end == val || *end || !(v >= 0 && v < 1e6) || (!zero_ok && v == 0))
		bad_arg(opt, val, "not a number of seconds");
	return (uint64_t)(v * 1e9);
}

static long parse_long(const char *opt, const char *val, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (errno || end == val || *end)
		bad_arg(opt, val, "not a whole number");
	if (v < min || v > max)
		bad_arg(opt, val, "out of range");
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "cores", required_argument, NULL, 'c' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "grace", required_argument, NULL, 'g' },
		{ "recv", required_argument, NULL, 'r' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "lines", no_argument, NULL, 'l' },
		{ "read-timeout", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct server srv = { .cores = 1, .grace_ns = 2 * UCO_NSEC_PER_SEC };
	uco_config cfg;
	bool recv_given = false;
	int opt, r;

	snprintf(srv.port, sizeof(srv.port), "7000");
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			srv.host = optarg[0] ? optarg : NULL;
			break;
		case 'p':
			snprintf(srv.port, sizeof(srv.port), "%ld",
				 parse_long("port", optarg, 0, 65535));
			break;
		case 'c':
			srv.cores = (unsigned)parse_long("cores", optarg, 0, 4096);
			break;
		case 'm':
			srv.max_connections =
				parse_long("max-connections", optarg, 1, LONG_MAX);
			break;
		case 'g':
			srv.grace_ns = parse_seconds("grace", optarg, true);
			break;
		case 'i':
			srv.idle_ns = parse_seconds("idle-timeout", optarg,
						    false);
			break;
		case 'l':
			srv.lines = true;
			break;
		case 'R':
			srv.read_ns = parse_seconds("read-timeout", optarg,
						    false);
			break;
		case 'r':
			recv_given = true;
			if (strcmp(optarg, "multishot") == 0)
				srv.recv = RECV_MULTISHOT;
			else if (strcmp(optarg, "oneshot") == 0)
				srv.recv = RECV_ONESHOT;
			else
				bad_arg("recv", optarg,
					"must be multishot or oneshot");
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			bad_option(opt, argv);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (recv_given && srv.lines)
		usage_error("--recv and --lines exclude each other (--lines "
			    "reads through a stream)");
	if (srv.read_ns && !srv.lines)
		usage_error("--read-timeout needs --lines (an echo of bytes "
			    "has no messages to time)");
	if (srv.cores == 0) {
		/* Every CPU we may run on (taskset is respected). */
		cpu_set_t cpus;

		srv.cores = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ?
				    (unsigned)CPU_COUNT(&cpus) : 1;
	}

	uco_config_init(&cfg);
	cfg.cores = srv.cores;
	r = uco_run(main_task, &srv, &cfg, NULL);
	if (r < 0) {
		/* main_task has said what went wrong, or uco_run() has. */
		return 1;
	}
	return 0;
}
