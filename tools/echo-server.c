/*
 * uco-echo-server: a TCP echo server on uco, built only on the public API.
 *
 *   uco-echo-server [--host ADDR] [--port PORT] [--cores N]
 *                   [--max-connections N] [--grace SECONDS]
 *                   [--recv oneshot|multishot]
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
 * How it works — the shape of any uco server:
 *
 *   - One loop per core (uco_config.cores).  On each core a listener task
 *     owns its own listening socket bound to the same port with
 *     SO_REUSEPORT (UCO_LISTEN_REUSEPORT), so the kernel spreads incoming
 *     connections over the cores and no connection ever crosses cores.
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
 * Sockets are closed with close(2), not uco_close(): closing a TCP socket
 * never blocks, and a cancelled task's uco_close() would only report
 * -ECANCELED.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
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

enum recv_mode { RECV_MULTISHOT, RECV_ONESHOT };

struct server {
	const char *host;       /* NULL: every address */
	char port[16];          /* the port every core binds (set by core 0) */
	unsigned cores;
	long max_connections;   /* 0: no cap */
	uint64_t grace_ns;
	enum recv_mode recv;
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
		n = uco_mrecv_next(r, &buf);
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
		n = uco_recv(c->fd, buf, CONN_BUFFER_SIZE, 0);
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
	close(c->fd);
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
	close(fd);
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
			l->core, strerror(-r));
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
					"accepts; said once)\n", strerror(-fd));
			said_emfile = true;
			if (uco_sleep(EMFILE_PAUSE) == -ECANCELED)
				break;
			continue;
		}
		if (fd != -ECONNABORTED)
			fprintf(stderr, PROG ": accept: %s\n", strerror(-fd));
	}

	/* Stopping: no new connections; the open ones get the grace period,
	 * then the timeout scope cancels them (uco_group_wait() cancels and
	 * joins the members when its caller's scope expires). */
	uco_acceptor_close(acc);
	close(l->fd);
	uco_shield_begin();
	int scope = uco_timeout_begin(srv->grace_ns);
	uco_group_wait(conns);
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

static void *main_task(void *arg)
{
	struct server *srv = arg;
	unsigned n = srv->cores;
	struct listener *ls = calloc(n, sizeof(*ls));
	uco_task **tasks = calloc(n + 1, sizeof(*tasks)); /* listeners, signal */
	int status = 0;
	int r;

	if (!ls || !tasks) {
		free(ls);
		free(tasks);
		return uco_fail(-ENOMEM);
	}
	/* One listening socket per core, all on the port core 0's got. */
	for (unsigned c = 0; c < n; c++) {
		ls[c].srv = srv;
		ls[c].core = c;
		ls[c].fd = uco_listen_tcp(srv->host, srv->port, LISTEN_BACKLOG,
					  UCO_LISTEN_REUSEPORT);
		if (ls[c].fd < 0) {
			int err = ls[c].fd;

			fprintf(stderr, PROG ": cannot listen on %s:%s: %s\n",
				srv->host ? srv->host : "*", srv->port,
				strerror(-err));
			for (unsigned i = 0; i < c; i++)
				close(ls[i].fd);
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
				strerror(-r));
			close(ls[c].fd);
			status = r;
		}
	}
	r = uco_spawn(&tasks[n], wait_signal_task, NULL, NULL);
	if (r < 0)
		status = r;

	/* Until a signal arrives, or a listener gives up. */
	if (status == 0)
		uco_wait(tasks, n + 1, UCO_FIRST_COMPLETED, UINT64_MAX);
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
		uco_join(tasks[n], NULL);
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
"  --max-connections N     close connections past N open at once (default:\n"
"                          no cap)\n"
"  --grace SECONDS         at SIGINT/SIGTERM, how long open connections may\n"
"                          go on before they are cancelled (default 2)\n"
"  --recv MODE             multishot (default: one multishot receive per\n"
"                          connection into a per-core buffer ring) or\n"
"                          oneshot (one receive SQE per chunk)\n"
"  -h, --help              this text\n"
"\n"
"Prints \"" PROG ": listening on HOST:PORT (N cores)\" on stdout when ready.\n");
}

static void bad_arg(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, PROG ": --%s %s: %s (see --help)\n", opt, val, why);
	exit(2);
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
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct server srv = { .cores = 1, .grace_ns = 2 * UCO_NSEC_PER_SEC };
	uco_config cfg;
	int opt, r;
	char *end;
	double grace;

	snprintf(srv.port, sizeof(srv.port), "7000");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
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
			grace = strtod(optarg, &end);
			if (end == optarg || *end || !(grace >= 0 && grace < 1e6))
				bad_arg("grace", optarg, "not a number of seconds");
			srv.grace_ns = (uint64_t)(grace * 1e9);
			break;
		case 'r':
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
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument: %s (see --help)\n",
			argv[optind]);
		return 2;
	}
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
