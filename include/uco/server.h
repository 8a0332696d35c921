/*
 * uco/server.h — stream servers (asyncio.start_server): a listener on
 * every core, a task per connection, a connection cap, graceful shutdown.
 *
 * uco_start_server() opens one listening socket per core, all on one
 * port in a SO_REUSEPORT group (the kernel spreads new connections over
 * them; with one core, a plain socket without SO_REUSEPORT), and starts,
 * on each of
 * those cores, an accepting task that takes connections from a multishot
 * accept and spawns, on that same core, one task per connection calling
 * handler(stream, arg).  The stream (uco/stream.h) is closed for the
 * handler when it returns (undrained bytes get close's best-effort send);
 * the handler may close it earlier itself.
 *
 * A port that another process already listens on is refused with
 * -EADDRINUSE, whatever the number of cores: the first listener is bound
 * without SO_REUSEPORT, and only this server's own listeners join its
 * group (uco_listen_tcp() and uco_listen_twin() in uco/net.h, with the
 * race this leaves and why).
 *
 * Faults stay where they happen:
 *   - EPIPE / ECONNRESET end only the connection that met them (sends use
 *     MSG_NOSIGNAL: no SIGPIPE);
 *   - EMFILE / ENFILE / ENOBUFS / ENOMEM from accept make that core's
 *     acceptor back off (1 ms, doubling up to 100 ms, and at once when one
 *     of its connections ends) and try again, never spinning and never
 *     giving up; the first such error is reported once on stderr (or each
 *     one to opts.on_accept_error);
 *   - a connection the server cannot start a task for is closed.
 *
 * Connection cap: opts.max_connections is split evenly over the cores
 * (core i gets max/n, plus one for the first max % n cores; a core whose
 * share is 0 does not listen).  A core at its share stops accepting: its
 * multishot accept is cancelled, so new connections wait in the kernel's
 * backlog, and it is re-armed when one of its connections ends.  (A few
 * connections that the kernel accepted in the meantime wait, accepted, for
 * a free place; they never run over the cap.)
 *
 * Stopping: uco_server_close() stops accepting (the listeners are closed:
 * new connections are refused) and lets the connections run on;
 * uco_server_shutdown() does the same, then gives them `grace`
 * nanoseconds to end, cancels those still running, and waits for them.
 * uco_server_serve_forever() waits until everything has stopped.  (A
 * handler that wants the server to stop calls uco_server_close(): a
 * shutdown or serve_forever inside a handler would wait for itself.)
 *
 * Cores: the server belongs to the core that started it, its home.  The
 * calls below that change or wait for it are made from a task on home
 * (others: -EXDEV); uco_server_port(), uco_server_stats_get() and
 * uco_server_home() may be called from any core.  The handler runs on
 * whichever core accepted the connection; to stop the server from there,
 * hand the request to a task on home (e.g. uco_spawn_on(home, ...)).
 */
#ifndef UCO_SERVER_H
#define UCO_SERVER_H

#include <uco/common.h>
#include <uco/stream.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_server uco_server;

/*
 * A connection handler: serve one client over s, then return.  Its
 * result is only counted (uco_server_stats_get(): completed / failed).
 */
typedef int (*uco_server_handler)(uco_stream *s, void *arg);

typedef struct uco_server_opts {
	/* Listen on cores 0 .. cores-1 (default 0: every core of the
	 * runtime; more than uco_cores() is -EINVAL). */
	unsigned cores;
	/* Most connections served at once, over all cores (0: no cap). */
	size_t max_connections;
	/* listen(2) backlog per listener (0: 511). */
	int backlog;
	/* Stack of each connection task (0: the runtime's default). */
	size_t stack_size;
	/* Buffer sizes and limit of each connection's stream. */
	uco_stream_opts stream;
	/*
	 * Timeouts of a connection's reads, in nanoseconds (0: none).  Each
	 * wait of a read call on the handler's stream (uco_stream_read,
	 * readexactly, readline, readuntil, readuntil_view, peek) runs under
	 * a timeout scope (uco/time.h) for the nearer of its deadline and any
	 * scope the handler has open itself:
	 *   idle_timeout  while the call has nothing of what it reads yet:
	 *                 the client must start sending within this long;
	 *   read_timeout  once the call has part of it (bytes were buffered
	 *                 when it began, or came during it): the rest must
	 *                 come within this long of that moment, however it
	 *                 trickles in (slowloris).  One call is one message:
	 *                 a readline() is a line, a readexactly(n) n bytes.
	 * When one of them expires, the call returns -ETIMEDOUT (what
	 * arrived stays buffered), and so does every later read on that
	 * stream at once, without waiting: the connection is over, and the
	 * server closes it when the handler returns (writes still work, e.g.
	 * to say goodbye).  A -ETIMEDOUT from the handler's own scope is not
	 * sticky.  These bound reads only, never a handler busy elsewhere.
	 */
	uint64_t idle_timeout;
	uint64_t read_timeout;
	/* Called on the accepting core with each error accept reports
	 * (-EMFILE...), before backing off; must not suspend.  NULL: the
	 * first one is printed on stderr. */
	void (*on_accept_error)(int err, void *arg);
	void *on_accept_error_arg;
} uco_server_opts;

/*
 * Listen on host:port (as uco_listen_tcp(): host NULL, "" or "*" for
 * every address; port "0" for one the kernel picks, the same on every
 * core: see uco_server_port()) and start serving.  Suspends (name
 * resolution).  Returns 0 with *out set, to free with uco_server_free(),
 * or -EINVAL (no handler, bad options), -EADDRINUSE (another socket
 * listens on host:port), a resolver error for an unknown host or port
 * (uco/error.h: print it with uco_strerror()), -ENOMEM, -EPERM (not in a
 * task), -ECANCELED / -ETIMEDOUT (cut short while resolving)...; nothing is
 * left running on failure.
 */
UCO_MUST_USE
UCO_API int uco_start_server(uco_server **out, const char *host,
			     const char *port, uco_server_handler handler,
			     void *arg, const uco_server_opts *opts);

/*
 * The same on the Unix stream socket at path (see uco_listen_unix(): a
 * stale socket file is replaced; '@' for the abstract namespace).  Unix
 * sockets have no SO_REUSEPORT, so the cores share one listening socket.
 * The socket file is unlinked when the server stops accepting.  Does not
 * suspend (nothing to resolve); the same results otherwise.
 */
UCO_API int uco_start_unix_server(uco_server **out, const char *path,
				  uco_server_handler handler, void *arg,
				  const uco_server_opts *opts);

/*
 * Wait until the server has stopped: no listener left and every
 * connection ended (after uco_server_close() or uco_server_shutdown() in
 * another task).  Suspends.  Returns 0; or -ECANCELED / -ETIMEDOUT if the
 * caller is cancelled or its timeout scope expires, in which case, as in
 * asyncio, the server is closed (stops accepting) but its connections run
 * on; -EXDEV off home.
 */
UCO_MUST_USE
UCO_API int uco_server_serve_forever(uco_server *srv);

/*
 * Stop accepting on every core; the connections run on.  Does not
 * suspend or wait (the listeners close as each core gets the request).
 * Returns 0, or -EXDEV off home.  Again: no-op.
 */
UCO_API int uco_server_close(uco_server *srv);

/*
 * Stop accepting, let the connections end by themselves for up to
 * grace_ns (0: cancel them at once), then cancel those still running,
 * and wait until they have all ended.  Suspends.  Returns 0; -ECANCELED /
 * -ETIMEDOUT if the caller is cancelled or times out while waiting (the
 * shutdown goes on without it); -EXDEV off home.  Called again with a
 * shorter grace, the earlier deadline wins.
 */
UCO_MUST_USE
UCO_API int uco_server_shutdown(uco_server *srv, uint64_t grace_ns);

/*
 * Serve until SIGINT or SIGTERM (uco_signal_wait()), then shut down with
 * grace_ns as uco_server_shutdown() does.  Suspends.  Returns the signal
 * number; or 0 if the server stopped for another reason first; or
 * -ECANCELED / -ETIMEDOUT as uco_server_serve_forever() (the server is
 * closed); -EXDEV off home.
 */
UCO_MUST_USE
UCO_API int uco_server_run_until_signal(uco_server *srv, uint64_t grace_ns);

/*
 * Free the server.  Does not suspend.  If it has not stopped yet, it is
 * shut down with no grace in the background (connections cancelled) and
 * its memory is freed once the last core is done with it.  Call on home.
 * NULL: no-op.
 */
UCO_API void uco_server_free(uco_server *srv);

/* The TCP port the server listens on (host byte order), or -EAFNOSUPPORT
 * for a Unix socket server, -EINVAL for NULL.  Does not suspend. */
UCO_API int uco_server_port(const uco_server *srv);

/* The core the server was started on.  Does not suspend. */
UCO_API unsigned uco_server_home(const uco_server *srv);

typedef struct uco_server_stats {
	uint64_t accepted;      /* connections accepted */
	uint64_t active;        /* handlers running now */
	uint64_t completed;     /* handlers that returned >= 0 */
	uint64_t failed;        /* handlers that returned < 0 ... */
	uint64_t cancelled;     /* ... of which -ECANCELED (e.g. by shutdown) */
	uint64_t accept_errors; /* errors from accept (EMFILE...), and
	                           connections dropped for want of memory */
	uint64_t paused;        /* times a core stopped accepting at its cap */
	unsigned listening;     /* cores still accepting */
} uco_server_stats;

/* A snapshot of the counters into *st, summed over the cores (each core's
 * own are exact; the sum is taken while they run).  Does not suspend. */
UCO_API void uco_server_stats_get(const uco_server *srv,
				  uco_server_stats *st);

/*
 * `async with server: body`: run body(srv, arg) in the calling task, then
 * shut the server down as its __aexit__ does (stop accepting, wait for the
 * connections to end by themselves: uco_server_shutdown() with no
 * deadline) and free it.  srv is consumed in every case.  Suspends (in
 * body and in the wait).  Returns body's result if negative, else the
 * shutdown's (0, or -ECANCELED / -ETIMEDOUT if the caller was cut short
 * waiting: the connections are then cancelled by the free); -EINVAL for
 * a NULL srv or body.
 */
UCO_MUST_USE
UCO_API int uco_server_with(uco_server *srv,
			    int (*body)(uco_server *srv,
						     void *arg),
			    void *arg);

#ifdef __cplusplus
}
#endif

#endif
