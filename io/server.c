/*
 * Stream servers (uco/server.h).
 *
 * Per core (struct srv_core), owned by that core: a listening socket, a
 * multishot accept whose CQEs come to a handler (no task woken per
 * connection unless one is waiting), a queue of accepted fds, the
 * connection records, and the accepting task that ties them together:
 *
 *   accept:  hand queued fds to new connection tasks while under the cap;
 *            keep the multishot armed while below the cap (cancel it at
 *            the cap, re-arm when a connection ends); after an accept
 *            error, wait out a backoff (a timeout scope on the wait) and
 *            re-arm
 *   stop:    cancel the multishot, close what it queued and the listener
 *   drain:   (shielded) wait for the connections until the deadline, then
 *            cancel them and wait again; and for the multishot's last CQE
 *
 * Home (the core that started the server) owns the rest: how many cores
 * are still running, the waiters of serve_forever/shutdown, and the
 * requests.  A request ("stop; cancel connections from deadline D") goes
 * to each core as a message that comes back home (so home knows when the
 * record is free to reuse, and the runtime stays alive while it travels);
 * a newer request made while one is on its way is sent when it returns.
 * Each accepting task's last act is a message home saying it is done.
 * The server's memory is freed on home when it has been freed by its user,
 * every core is done and no message is away.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uco/net.h>
#include <uco/server.h>
#include <uco/signal.h>
#include <uco/task.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "core/loop.h"
#include "core/msg.h"
#include "core/wait.h"
#include "fifo.h"
#include "io.h"
#include "stream_impl.h"
#include "until_signal.h"

#define BACKOFF_MIN (1 * UCO_NSEC_PER_MSEC)
#define BACKOFF_MAX (100 * UCO_NSEC_PER_MSEC)
#define DEFAULT_BACKLOG 511

struct srv_core;

/* One connection: its task, and the stream handed to the handler. */
struct conn {
	struct uco__node node;          /* on srv_core.conns */
	struct uco_task *task;
	struct srv_core *pc;
	struct uco_stream stream;
};

struct srv_core {
	/* ---- the core's own ---- */
	struct uco__cqe_handler h;      /* first: the multishot's user_data */
	struct uco_server *srv;
	struct uco__loop *loop;         /* where it runs */
	unsigned core;
	int lfd;                        /* -1 once closed */
	size_t cap;                     /* this core's share; 0: no cap */
	struct uco__fifo q;             /* accepted fds (int) not yet served */
	int pending_err;                /* from the multishot, not yet seen */
	bool armed;                     /* the multishot is in the kernel */
	bool disarming;                 /* ...and its cancel is on its way */
	bool stop;                      /* stop accepting (a request came) */
	bool conns_cancelled;
	uint64_t deadline;              /* connections are cancelled then */
	uint64_t backoff;               /* current backoff, 0: none */
	uint64_t backoff_until;         /* 0: not backing off */
	struct uco__node conns;
	size_t active;
	struct uco__waitq wq;           /* the accepting task, when it waits */
	struct uco__msg done;           /* "this core is done", to home */

	/* ---- home's (the request that travels to the core and back) ---- */
	struct uco__msg req;
	uint64_t req_deadline;          /* what req carries; fixed while away */
	bool req_away;
	bool req_again;                 /* a newer request waits for req */
	bool finished;                  /* the done message arrived */

	/* ---- counters: written by the core only, read anywhere ---- */
	_Atomic uint64_t n_accepted, n_active, n_completed, n_failed,
		n_cancelled, n_accept_errors, n_paused;
	_Atomic bool listening;
};

struct uco_server {
	struct uco__loop *home;
	uco_server_handler handler;
	void *arg;
	uco_server_opts opts;
	bool tcp;
	int port;
	unsigned ncores;
	struct srv_core **cores;
	/* home only */
	unsigned running;               /* cores not done */
	unsigned away;                  /* request messages travelling */
	bool stopping;
	bool freed;                     /* by its user: free when idle */
	uint64_t deadline;              /* the earliest one requested */
	struct uco__waitq stopped;      /* serve_forever / shutdown */
	char *path;                     /* Unix socket file to unlink */
	dev_t path_dev;
	ino_t path_ino;
	_Atomic bool logged;            /* an accept error was printed */
};

static void bump(_Atomic uint64_t *c, int64_t d)
{
	/* One writer per counter: no read-modify-write needed. */
	atomic_store_explicit(
		c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)d,
		memory_order_relaxed);
}

/* ---- the multishot accept -------------------------------------------- */

static bool q_push(struct srv_core *pc, int fd)
{
	return uco__fifo_push(&pc->q, &fd);
}

static int q_pop(struct srv_core *pc)
{
	int fd;

	uco__fifo_pop(&pc->q, &fd);
	return fd;
}

static void on_accept(struct uco__cqe_handler *h, int res, uint32_t flags)
{
	struct srv_core *pc = (struct srv_core *)h;

	if (res >= 0) {
		/* Nobody will serve it when stopping; a client the queue
		 * cannot take (out of memory) sees a reset. */
		if (pc->stop || !q_push(pc, res))
			close(res);
	} else if (res != -ECANCELED) {
		pc->pending_err = res;
	}
	if (!(flags & IORING_CQE_F_MORE)) {
		pc->armed = false;
		pc->disarming = false;
	}
	uco__waitq_wake_one(&pc->wq, 0);
}

static void arm(struct srv_core *pc)
{
	struct io_uring_sqe *sqe = uco__sqe_get(pc->loop, 1);

	io_uring_prep_multishot_accept(sqe, pc->lfd, NULL, NULL, SOCK_CLOEXEC);
	uco__handler_submitted(&pc->h, sqe);
	pc->armed = true;
}

static void disarm(struct srv_core *pc)
{
	if (pc->armed && !pc->disarming) {
		uco__handler_cancel(&pc->h);
		pc->disarming = true;
	}
}

/* ---- connections ------------------------------------------------------- */

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct srv_core *pc = c->pc;
	struct uco_server *srv = pc->srv;
	int r = srv->handler(&c->stream, srv->arg);

	if (r >= 0) {
		bump(&pc->n_completed, 1);
	} else {
		bump(&pc->n_failed, 1);
		if (r == -ECANCELED)
			bump(&pc->n_cancelled, 1);
	}
	uco__stream_release(&c->stream, true);
	uco__list_del(&c->node);
	pc->active--;
	bump(&pc->n_active, -1);
	/* An fd is free again: an accept backing off from EMFILE may try at
	 * once. */
	pc->backoff_until = 0;
	uco__waitq_wake_one(&pc->wq, 0);
	uco_task_release(c->task); /* our own handle; we hold another */
	uco__free(c, sizeof(*c));
	return NULL;
}

static void start_conn(struct srv_core *pc, int fd)
{
	struct uco_server *srv = pc->srv;
	uco_spawn_opts so = { .name = "srv-conn",
			      .stack_size = srv->opts.stack_size };
	struct conn *c = uco__alloc(sizeof(*c));

	bump(&pc->n_accepted, 1);
	if (!c) {
		close(fd);
		bump(&pc->n_accept_errors, 1);
		return;
	}
	if (srv->tcp) {
		int one = 1;

		/* As asyncio does: request/response traffic, no Nagle. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	uco__stream_init(&c->stream, fd, &srv->opts.stream);
	c->stream.embedded = true;
	c->stream.idle_ns = srv->opts.idle_timeout;
	c->stream.read_ns = srv->opts.read_timeout;
	c->pc = pc;
	if (uco_spawn(&c->task, conn_main, c, &so) < 0) {
		close(fd);
		uco__free(c, sizeof(*c));
		bump(&pc->n_accept_errors, 1);
		return;
	}
	uco__list_add_tail(&pc->conns, &c->node);
	pc->active++;
	bump(&pc->n_active, 1);
}

static void cancel_conns(struct srv_core *pc)
{
	struct uco__node *n, *tmp;

	pc->conns_cancelled = true;
	uco__list_for_each_safe(n, tmp, &pc->conns)
		uco_cancel(uco__container_of(n, struct conn, node)->task);
}

/* ---- the accepting task --------------------------------------------- */

static void report(struct srv_core *pc, int err)
{
	struct uco_server *srv = pc->srv;

	bump(&pc->n_accept_errors, 1);
	if (srv->opts.on_accept_error)
		srv->opts.on_accept_error(err, srv->opts.on_accept_error_arg);
	else if (!atomic_exchange_explicit(&srv->logged, true,
					   memory_order_relaxed))
		fprintf(stderr,
			"uco server: accept on core %u failed: %s; backing off "
			"and retrying (reported once)\n",
			pc->core, strerror(-err));
}

/* The listener itself is unusable: retrying cannot help. */
static bool fatal(int err)
{
	return err == -EBADF || err == -EINVAL || err == -ENOTSOCK ||
	       err == -EOPNOTSUPP;
}

static bool below_cap(const struct srv_core *pc, size_t extra)
{
	return pc->cap == 0 || pc->active + extra < pc->cap;
}

static void accept_phase(struct srv_core *pc)
{
	for (;;) {
		int r, scope = -1;
		bool backing_off;

		if (pc->stop)
			return;
		while (pc->q.len && below_cap(pc, 0)) {
			start_conn(pc, q_pop(pc));
			pc->backoff = 0;
		}
		if (pc->pending_err) {
			int err = pc->pending_err;

			pc->pending_err = 0;
			report(pc, err);
			if (fatal(err))
				return;
			pc->backoff = pc->backoff ? pc->backoff * 2 : BACKOFF_MIN;
			if (pc->backoff > BACKOFF_MAX)
				pc->backoff = BACKOFF_MAX;
			pc->backoff_until = uco_now() + pc->backoff;
		}
		backing_off = pc->backoff_until && uco_now() < pc->backoff_until;
		if (!backing_off)
			pc->backoff_until = 0;
		if (below_cap(pc, pc->q.len) && !backing_off) {
			if (!pc->armed)
				arm(pc);
		} else if (pc->armed && !pc->disarming) {
			disarm(pc);
			if (!backing_off)
				bump(&pc->n_paused, 1);
		}
		if (backing_off)
			scope = uco_timeout_at(pc->backoff_until);
		r = uco__waitq_wait(&pc->wq, "server accept");
		if (scope >= 0)
			uco_timeout_end(scope);
		if (r == -ECANCELED) {
			/* The task itself was cancelled (the runtime is
			 * ending): stop, and cancel the connections now. */
			pc->stop = true;
			pc->deadline = 0;
			return;
		}
	}
}

static void stop_accepting(struct srv_core *pc)
{
	pc->stop = true;
	disarm(pc);
	while (pc->q.len)
		close(q_pop(pc));
	if (pc->lfd >= 0)
		close(pc->lfd);
	pc->lfd = -1;
	atomic_store_explicit(&pc->listening, false, memory_order_relaxed);
}

static void drain_phase(struct srv_core *pc)
{
	/* Shielded: a cancel of this task (the runtime ending) must not cut
	 * the wait for the connections short; the runtime cancels them too. */
	uco_shield_begin();
	while (pc->active || pc->armed) {
		int scope = -1;

		if (uco_cancelling())
			pc->deadline = 0;
		if (pc->active && !pc->conns_cancelled &&
		    uco_now() >= pc->deadline)
			cancel_conns(pc);
		if (pc->active && !pc->conns_cancelled &&
		    pc->deadline != UINT64_MAX)
			scope = uco_timeout_at(pc->deadline);
		uco__waitq_wait(&pc->wq, "server drain");
		if (scope >= 0)
			uco_timeout_end(scope);
	}
	uco_shield_end();
}

static void done_home(struct uco__loop *l, struct uco__msg *m);

static void *acceptor_main(void *arg)
{
	struct srv_core *pc = arg;

	pc->loop = uco__io_loop();
	accept_phase(pc);
	stop_accepting(pc);
	drain_phase(pc);
	/* Last: home may free pc as soon as it has this. */
	pc->done.fn = done_home;
	uco__msg_send(pc->srv->home, &pc->done);
	return NULL;
}

/* ---- home: requests, stopping, freeing ---------------------------------- */

static void server_destroy(struct uco_server *srv)
{
	for (unsigned i = 0; i < srv->ncores; i++) {
		struct srv_core *pc = srv->cores[i];

		if (!pc)
			continue;
		if (pc->lfd >= 0)
			close(pc->lfd);
		uco__fifo_free(&pc->q);
		uco__free(pc, sizeof(*pc));
	}
	uco__free(srv->cores, srv->ncores * sizeof(*srv->cores));
	if (srv->path)
		uco__free(srv->path, strlen(srv->path) + 1);
	uco__free(srv, sizeof(*srv));
}

static void maybe_destroy(struct uco_server *srv)
{
	if (srv->freed && srv->running == 0 && srv->away == 0)
		server_destroy(srv);
}

/* Remove the Unix socket file, if it is still ours. */
static void unlink_path(struct uco_server *srv)
{
	struct stat st;

	if (!srv->path)
		return;
	if (stat(srv->path, &st) == 0 && st.st_dev == srv->path_dev &&
	    st.st_ino == srv->path_ino)
		unlink(srv->path);
	uco__free(srv->path, strlen(srv->path) + 1);
	srv->path = NULL;
}

static void post(struct uco_server *srv, struct srv_core *pc);

static void req_back(struct uco__loop *l, struct uco__msg *m)
{
	struct srv_core *pc = uco__container_of(m, struct srv_core, req);
	struct uco_server *srv = pc->srv;

	pc->req_away = false;
	srv->away--;
	uco__live_add(l, -1);
	if (pc->req_again && !pc->finished) {
		pc->req_again = false;
		post(srv, pc);
	}
	maybe_destroy(srv);
}

static void req_run(struct uco__loop *l, struct uco__msg *m)
{
	struct srv_core *pc = uco__container_of(m, struct srv_core, req);

	pc->stop = true;
	if (pc->req_deadline < pc->deadline)
		pc->deadline = pc->req_deadline;
	uco__waitq_wake_one(&pc->wq, 0);
	m->fn = req_back;
	uco__msg_send(pc->srv->home, m);
}

static void post(struct uco_server *srv, struct srv_core *pc)
{
	if (pc->req_away) {
		pc->req_again = true;
		return;
	}
	pc->req_deadline = srv->deadline;
	pc->req_away = true;
	srv->away++;
	uco__live_add(srv->home, 1);
	pc->req.fn = req_run;
	uco__msg_send(&srv->home->rt->loops[pc->core], &pc->req);
}

/* Stop accepting everywhere; cancel connections from `deadline`. */
static void request_stop(struct uco_server *srv, uint64_t deadline)
{
	if (srv->stopping && deadline >= srv->deadline)
		return;
	srv->stopping = true;
	if (deadline < srv->deadline)
		srv->deadline = deadline;
	unlink_path(srv);
	for (unsigned i = 0; i < srv->ncores; i++)
		if (!srv->cores[i]->finished)
			post(srv, srv->cores[i]);
}

static void done_home(struct uco__loop *l, struct uco__msg *m)
{
	struct srv_core *pc = uco__container_of(m, struct srv_core, done);
	struct uco_server *srv = pc->srv;

	pc->finished = true;
	if (--srv->running == 0) {
		unlink_path(srv);
		uco__waitq_wake_all(&srv->stopped, 0);
	}
	maybe_destroy(srv);
}

static int on_home(const struct uco_server *srv)
{
	struct uco__loop *l = uco__io_loop();

	if (!srv)
		return -EINVAL;
	if (!l)
		return -EPERM;
	return l == srv->home ? 0 : -EXDEV;
}

/* Wait until every core is done. */
static int wait_stopped(struct uco_server *srv)
{
	while (srv->running) {
		int r = uco__waitq_wait(&srv->stopped, "server");

		if (r < 0)
			return r;
	}
	return 0;
}

UCO_API int uco_server_close(uco_server *srv)
{
	int r = on_home(srv);

	if (r == 0)
		request_stop(srv, UINT64_MAX);
	return r;
}

UCO_API int uco_server_serve_forever(uco_server *srv)
{
	int r = on_home(srv);

	if (r < 0)
		return r;
	r = wait_stopped(srv);
	if (r < 0)
		request_stop(srv, UINT64_MAX);
	return r;
}

UCO_API int uco_server_shutdown(uco_server *srv, uint64_t grace_ns)
{
	int r = on_home(srv);

	if (r < 0)
		return r;
	request_stop(srv, uco__deadline_in(grace_ns));
	return wait_stopped(srv);
}

/* uco__until_signal()'s view of a uco_server. */
static void stop_cb(void *srv, uint64_t deadline)
{
	request_stop(srv, deadline);
}

static int wait_cb(void *srv)
{
	return wait_stopped(srv);
}

UCO_API int uco_server_run_until_signal(uco_server *srv, uint64_t grace_ns)
{
	int r = on_home(srv);

	if (r < 0)
		return r;
	r = uco__until_signal(srv, "srv-signals", grace_ns, stop_cb, wait_cb);
	if (r < 0)
		request_stop(srv, UINT64_MAX);
	return r;
}

UCO_API void uco_server_free(uco_server *srv)
{
	if (!srv)
		return;
	if (on_home(srv) != 0 || !uco__waitq_empty(&srv->stopped)) {
		fprintf(stderr, "uco: uco_server_free(%p) %s\n", (void *)srv,
			on_home(srv) != 0 ? "off the server's home core"
					  : "while a task waits on it");
		abort();
	}
	srv->freed = true;
	if (srv->running)
		request_stop(srv, 0);
	maybe_destroy(srv);
}

UCO_API int uco_server_port(const uco_server *srv)
{
	if (!srv)
		return -EINVAL;
	return srv->tcp ? srv->port : -EAFNOSUPPORT;
}

UCO_API unsigned uco_server_home(const uco_server *srv)
{
	return srv ? srv->home->core : 0;
}

UCO_API void uco_server_stats_get(const uco_server *srv, uco_server_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!srv)
		return;
	for (unsigned i = 0; i < srv->ncores; i++) {
		const struct srv_core *pc = srv->cores[i];

#define SUM(field, counter)                                                   \
	st->field += atomic_load_explicit(&pc->counter, memory_order_relaxed)
		SUM(accepted, n_accepted);
		SUM(active, n_active);
		SUM(completed, n_completed);
		SUM(failed, n_failed);
		SUM(cancelled, n_cancelled);
		SUM(accept_errors, n_accept_errors);
		SUM(paused, n_paused);
#undef SUM
		st->listening += atomic_load_explicit(&pc->listening,
						      memory_order_relaxed);
	}
}

/* ---- starting ---------------------------------------------------------- */

static int start_common(uco_server **out, const char *host, const char *port,
			const char *path, uco_server_handler handler,
			void *arg, const uco_server_opts *opts)
{
	uco_server_opts o = { 0 };
	struct uco__loop *l = uco__io_loop();
	struct uco_server *srv;
	unsigned n, spawned = 0;
	int r = 0, backlog;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!l || !uco_current())
		return -EPERM;
	if (!handler)
		return -EINVAL;
	if (opts)
		o = *opts;
	if (o.cores > uco_cores() || o.backlog < 0)
		return -EINVAL;
	n = o.cores ? o.cores : uco_cores();
	if (o.max_connections && o.max_connections < n)
		n = (unsigned)o.max_connections; /* the others' share is 0 */
	backlog = o.backlog ? o.backlog : DEFAULT_BACKLOG;

	srv = uco__zalloc(sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cores = uco__zalloc(n * sizeof(*srv->cores));
	if (!srv->cores) {
		uco__free(srv, sizeof(*srv));
		return -ENOMEM;
	}
	srv->ncores = n;
	srv->home = l;
	srv->handler = handler;
	srv->arg = arg;
	srv->opts = o;
	srv->tcp = path == NULL;
	srv->deadline = UINT64_MAX;
	uco__waitq_init(&srv->stopped);
	for (unsigned i = 0; i < n; i++) {
		struct srv_core *pc = uco__zalloc(sizeof(*pc));

		if (!pc) {
			r = -ENOMEM;
			goto fail;
		}
		srv->cores[i] = pc;
		uco__fifo_init(&pc->q, sizeof(int));
		pc->h.fn = on_accept;
		pc->srv = srv;
		pc->core = i;
		pc->lfd = -1;
		pc->deadline = UINT64_MAX;
		uco__node_init(&pc->conns);
		uco__waitq_init(&pc->wq);
		if (o.max_connections)
			pc->cap = o.max_connections / n +
				  (i < o.max_connections % n);
	}

	/* The listeners. */
	if (path) {
		struct stat st;

		r = uco_listen_unix(path, backlog);
		if (r < 0)
			goto fail;
		srv->cores[0]->lfd = r;
		if (path[0] != '@' && stat(path, &st) == 0) {
			size_t len = strlen(path) + 1;

			srv->path = uco__alloc(len);
			if (!srv->path) {
				unlink(path);
				r = -ENOMEM;
				goto fail;
			}
			memcpy(srv->path, path, len);
			srv->path_dev = st.st_dev;
			srv->path_ino = st.st_ino;
		}
		for (unsigned i = 1; i < n; i++) {
			r = fcntl(srv->cores[0]->lfd, F_DUPFD_CLOEXEC, 0);
			if (r < 0) {
				r = -errno;
				goto fail;
			}
			srv->cores[i]->lfd = r;
		}
		srv->port = -1;
	} else {
		/* One core: a plain listener, alone on its port.  Several: a
		 * SO_REUSEPORT group that only our own twins join (see
		 * uco_listen_tcp() in uco/net.h: a port another process
		 * listens on is -EADDRINUSE either way). */
		r = uco_listen_tcp(host, port, backlog,
				   n > 1 ? UCO_LISTEN_REUSEPORT : 0);
		if (r < 0)
			goto fail;
		srv->cores[0]->lfd = r;
		srv->port = uco_local_port(r);
		for (unsigned i = 1; i < n; i++) {
			r = uco_listen_twin(srv->cores[0]->lfd, backlog);
			if (r < 0)
				goto fail;
			srv->cores[i]->lfd = r;
		}
	}

	/* The accepting tasks (detached: each reports its end home). */
	for (unsigned i = 0; i < n; i++) {
		uco_spawn_opts so = { .name = "srv-accept" };

		atomic_store_explicit(&srv->cores[i]->listening, true,
				      memory_order_relaxed);
		r = uco_spawn_on(i, NULL, acceptor_main, srv->cores[i], &so);
		if (r < 0) {
			atomic_store_explicit(&srv->cores[i]->listening, false,
					      memory_order_relaxed);
			goto fail;
		}
		spawned++;
		srv->running++;
	}
	*out = srv;
	return 0;

fail:
	unlink_path(srv);
	if (spawned == 0) {
		server_destroy(srv);
		return r;
	}
	/* Some cores run already: the unstarted ones count as done, and
	 * the rest stop and free the server in the background. */
	for (unsigned i = spawned; i < n; i++) {
		srv->cores[i]->finished = true;
		if (srv->cores[i]->lfd >= 0)
			close(srv->cores[i]->lfd);
		srv->cores[i]->lfd = -1;
	}
	srv->freed = true;
	request_stop(srv, 0);
	return r;
}

UCO_API int uco_start_server(uco_server **out, const char *host,
			     const char *port, uco_server_handler handler,
			     void *arg, const uco_server_opts *opts)
{
	if (!port)
		return out ? (*out = NULL, -EINVAL) : -EINVAL;
	return start_common(out, host, port, NULL, handler, arg, opts);
}

UCO_API int uco_start_unix_server(uco_server **out, const char *path,
				  uco_server_handler handler, void *arg,
				  const uco_server_opts *opts)
{
	if (!path)
		return out ? (*out = NULL, -EINVAL) : -EINVAL;
	return start_common(out, NULL, NULL, path, handler, arg, opts);
}
