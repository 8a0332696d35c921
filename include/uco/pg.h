/*
 * uco/pg.h — an async PostgreSQL client (what asyncpg is to asyncio), on
 * libpq's nonblocking API.
 *
 * libpq (Debian's libpq-dev) speaks the protocol; uco only waits: every
 * place where libpq would block becomes a uco_poll() on its socket, so a
 * query suspends the task, never the loop.  Built into libuco when libpq is
 * found at configure time; `pkg-config uco` then lists libpq.
 *
 * Results are libpq's own PGresult, handed to the caller, who frees it with
 * PQclear().  Decision: a result is a finished, in-memory object that no
 * I/O ever touches again, and libpq's accessors for it (PQntuples,
 * PQgetvalue, PQgetisnull, PQgetlength, PQftype, PQfname, binary format,
 * PQcmdTuples, PQresultErrorField for the SQLSTATE, ...) are complete and
 * documented; an opaque uco handle would re-declare two dozen of them and
 * add a copy or an indirection for nothing.  So #include <libpq-fe.h> to
 * read results.  This header only names libpq's types (declared below as
 * libpq declares them), so it compiles on its own.
 *
 * Errors, for every call that runs a statement:
 *   0            success; *res (when asked for) is the statement's result
 *   -EREMOTEIO   the server reported an error: *res (when asked for) is the
 *                error result (PQresultErrorMessage, PG_DIAG_SQLSTATE); the
 *                connection is fine
 *   -ECONNRESET  the connection is lost or was closed earlier (cancel
 *                clean-up that failed, a restarted server): only
 *                uco_pg_close() is left to do; uco_pg_error_message() says
 *                what happened
 *   -ECANCELED / -ETIMEDOUT   the task was cancelled / a timeout scope
 *                expired while the statement ran (see "Cut short" below)
 *   -EINVAL      bad arguments; -ENOMEM; -EPERM outside a task;
 *   -EBUSY       the connection is in pipeline mode (or not, for the
 *                pipeline calls); -ENOTSUP for COPY (the connection is
 *                closed: these calls do not speak COPY)
 *
 * Cut short: a statement whose wait is cut by cancellation or an expired
 * scope returns -ECANCELED / -ETIMEDOUT at once.  The server is still
 * running it, so a background task of the connection sends the
 * server-side cancel (PQcancel, which blocks, on the offload pool: libpq
 * 15 has no asynchronous cancel), then reads the connection back to idle
 * (the cancelled statement's error, ReadyForQuery), and rolls back a
 * transaction the cancel aborted.  That clean-up is bounded by the
 * connection's cancel timeout (uco_pg_set_cancel_timeout, 5 s by default);
 * if it fails, the connection is closed (-ECONNRESET from then on).  The
 * next call on the connection waits for the clean-up first; a connection
 * released to a pool goes back only once clean (or is replaced).  A
 * pipeline cut short is not drained: the cancel is sent and the
 * connection closed.  If the server accepts the cancel request and never
 * answers it, the offload thread stays in PQcancel (libpq 15 has no
 * timeout there), and uco_run() waits for it at shutdown.
 *
 * A connection is used by one task at a time (a pool hands it to one
 * task), on the core that opened it (another core's statements: -EXDEV).  Host names in a conninfo are
 * resolved by libpq, blocking: give a Unix socket directory, `hostaddr`,
 * or a name resolved beforehand (uco_getaddrinfo).  Task stacks: libpq
 * runs on the calling task's stack; the default 64 KiB is enough.
 */
#ifndef UCO_PG_H
#define UCO_PG_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libpq's types, declared exactly as <libpq-fe.h> declares them (a
 * repeated typedef of the same type is allowed). */
typedef unsigned int Oid;
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef struct pgNotify PGnotify;

typedef struct uco_pg uco_pg;           /* one connection */
typedef struct uco_pg_pool uco_pg_pool; /* a pool of connections */

/* ---- connections ------------------------------------------------------ */

/*
 * Open a connection.  conninfo is a libpq connection string
 * ("host=/run/postgresql dbname=app user=app") or URI
 * ("postgresql://app@%2Frun%2Fpostgresql/app"); NULL or "" means libpq's
 * defaults and PG* environment variables.  Suspends (PQconnectStartParams,
 * then PQconnectPoll waiting on the socket with uco_poll).  Returns 0 with
 * *out set, or: -EACCES (authentication failed, or a password is needed
 * and none was given), -ECONNREFUSED (no server reached, or the server
 * refused the connection for another reason), -ECANCELED, -ETIMEDOUT (a
 * timeout scope: the way to bound a connect), -ENOMEM, -EINVAL.  On
 * failure, libpq's message (one line) is copied into msg when msg is not
 * NULL (msglen bytes, NUL-terminated).  A connect cut short closes its
 * socket before returning: nothing is left behind.  libpq's
 * connect_timeout is not used in this mode; use a scope.
 */
UCO_API int uco_pg_connect(uco_pg **out, const char *conninfo, char *msg,
			   size_t msglen);

/*
 * Close c: PQfinish (a Terminate message, then the socket is closed).  Does
 * not suspend.  If a cancel clean-up is running, it finishes first in the
 * background and then closes.  NULL is a no-op.  A connection from a pool
 * goes back with uco_pg_pool_release(), not here.
 */
UCO_API void uco_pg_close(uco_pg *c);

/*
 * The libpq connection, for the calls that do no I/O: PQbackendPID,
 * PQtransactionStatus, PQparameterStatus, PQescapeLiteral /
 * PQescapeIdentifier, PQserverVersion.  Never run a query or read input
 * through it.  NULL once the connection is lost.  Does not suspend.
 */
UCO_API PGconn *uco_pg_conn(uco_pg *c);

/* Whether c is lost (only uco_pg_close is left).  Does not suspend. */
UCO_API bool uco_pg_broken(const uco_pg *c);

/* libpq's last error message for c (the reason it broke, once lost).
 * Valid until the next call on c.  Does not suspend. */
UCO_API const char *uco_pg_error_message(const uco_pg *c);

/* How long a cancel clean-up may take before the connection is closed
 * instead (ns; 0 restores the default, 5 s).  Does not suspend. */
UCO_API void uco_pg_set_cancel_timeout(uco_pg *c, uint64_t ns);

/*
 * Wait until a clean-up after a statement cut short has finished.
 * Suspends (only if one runs).  Returns 0 (c is idle and usable),
 * -ECONNRESET (the clean-up failed and closed c), -ECANCELED, -ETIMEDOUT.
 * Every call below does this first; call it to know that the server has
 * let go of the cancelled statement.
 */
UCO_API int uco_pg_wait_ready(uco_pg *c);

/* ---- statements ------------------------------------------------------- */

/*
 * Run sql with the simple query protocol (PQsendQuery): several statements
 * separated by ';' are allowed, and *res is the last one's result (or the
 * first error).  res may be NULL: the result is discarded.  Suspends.
 * Returns as the top of this file says.
 */
UCO_API int uco_pg_exec(uco_pg *c, const char *sql, PGresult **res);

/*
 * Run one statement with parameters $1..$n (PQsendQueryParams): values in
 * text format, NULL for an SQL NULL; the server infers their types; the
 * result in text format.  Suspends.  Returns as above.
 */
UCO_API int uco_pg_query(uco_pg *c, const char *sql, int nparams,
			 const char *const *values, PGresult **res);

/*
 * The same with everything PQsendQueryParams takes: parameter types (NULL
 * or 0 entries: inferred), lengths and formats (1: binary) per parameter,
 * and the result format (0 text, 1 binary).
 */
UCO_API int uco_pg_query_params(uco_pg *c, const char *sql, int nparams,
				const Oid *types, const char *const *values,
				const int *lengths, const int *formats,
				int result_format, PGresult **res);

/*
 * Prepare sql as the named statement `name` ("" is the unnamed one) with
 * nparams parameters of `types` (NULL: inferred) (PQsendPrepare).  Then
 * run it any number of times with uco_pg_query_prepared().  Suspends.
 * Returns as above.
 */
UCO_API int uco_pg_prepare(uco_pg *c, const char *name, const char *sql,
			   int nparams, const Oid *types);

/* Run the prepared statement `name` (PQsendQueryPrepared); arguments as
 * uco_pg_query_params().  Suspends.  Returns as above. */
UCO_API int uco_pg_query_prepared(uco_pg *c, const char *name, int nparams,
				  const char *const *values, const int *lengths,
				  const int *formats, int result_format,
				  PGresult **res);

/* ---- pipeline mode (libpq 14+) ----------------------------------------- */

/*
 * Pipeline mode: many statements in flight on one connection, sent
 * together, their results read in order, as asyncpg does.
 *
 *   uco_pg_pipeline_begin(c);
 *   for (...) uco_pg_pipeline_send(c, "SELECT $1::int", 1, v);
 *   uco_pg_pipeline_sync(c);
 *   for (...) uco_pg_pipeline_result(c, &res) ...;  then the sync's result
 *   uco_pg_pipeline_end(c);
 *
 * begin, send, send_prepared and sync do not suspend: they queue
 * messages in libpq's buffer (and write what the socket takes at once).
 * Each returns 0, -EBUSY (begin: already in pipeline mode, or a result is
 * unread; the others: not in pipeline mode), -ECONNRESET, -ENOMEM or
 * -EINVAL.
 *
 * uco_pg_pipeline_result() sends what is queued and waits for the next
 * result in order.  Suspends.  Returns 0 with *res a statement's result,
 * or a result of status PGRES_PIPELINE_SYNC for each sync point;
 * -EREMOTEIO with *res the error result for a statement that failed, and
 * with *res of status PGRES_PIPELINE_ABORTED for each statement after it
 * up to the next sync point (the server skipped them); -EAGAIN when
 * nothing is pending (every result has been read); -ECANCELED /
 * -ETIMEDOUT (the connection is then closed: see the top).  *res is the
 * caller's (PQclear).
 *
 * uco_pg_pipeline_end() leaves pipeline mode: 0, or -EBUSY while results
 * are unread.  Does not suspend.
 */
UCO_API int uco_pg_pipeline_begin(uco_pg *c);
UCO_API int uco_pg_pipeline_send(uco_pg *c, const char *sql, int nparams,
				 const char *const *values);
UCO_API int uco_pg_pipeline_send_prepared(uco_pg *c, const char *name,
					  int nparams,
					  const char *const *values);
UCO_API int uco_pg_pipeline_sync(uco_pg *c);
UCO_API int uco_pg_pipeline_result(uco_pg *c, PGresult **res);
UCO_API int uco_pg_pipeline_end(uco_pg *c);

/* ---- transactions ----------------------------------------------------- */

/*
 * Run fn(c, arg) inside a transaction: `begin` (NULL: "BEGIN"; or e.g.
 * "BEGIN ISOLATION LEVEL SERIALIZABLE"), then fn, then COMMIT if fn
 * returned >= 0.  If fn returns a negative errno, or the task is
 * cancelled or its scope expires anywhere inside, the transaction is
 * rolled back: at once when the connection can still run a statement,
 * else by the connection's clean-up (see the top), which the next call
 * waits for.  Suspends.  Returns fn's result after a COMMIT; fn's error;
 * -EREMOTEIO if BEGIN or COMMIT failed (a COMMIT of a transaction an
 * ignored error had aborted ends as ROLLBACK: -EREMOTEIO too); or the
 * errors above.  fn must not commit or roll back itself.
 */
UCO_API int uco_pg_transaction(uco_pg *c, const char *begin,
			       int (*fn)(uco_pg *c, void *arg), void *arg);

/* ---- LISTEN / NOTIFY -------------------------------------------------- */

/*
 * LISTEN on `channel` (quoted as an identifier for you).  Suspends (one
 * statement).  Returns as the statements above.
 */
UCO_API int uco_pg_listen(uco_pg *c, const char *channel);

/*
 * Wait for the next notification on c (any channel it listens on).
 * Suspends until one arrives (none are lost: those that came while the
 * connection ran statements are returned first).  Returns 0 with *out
 * set (relname: the channel, extra: the payload, be_pid: the sender;
 * free it with PQfreemem), -ECANCELED / -ETIMEDOUT (nothing is lost and
 * the connection stays usable), -ECONNRESET, -EBUSY in pipeline mode.
 */
UCO_API int uco_pg_notify_wait(uco_pg *c, PGnotify **out);

/* ---- pools ------------------------------------------------------------ */

/*
 * A pool of connections to one server (asyncpg.create_pool), on the core
 * that creates it: its tasks acquire and release connections; another
 * core's calls return -EXDEV.  To share a server between cores, create a
 * pool on each core (uco_spawn_on), each with max / cores connections:
 * connections then stay on their core's ring and need no locking.
 *
 * Opens `min` connections now (suspends; fails with the first connect's
 * error, opening none); at most `max` are open at once.  Returns 0 with
 * *out set, -EINVAL (max 0 or min > max), -ENOMEM, or a connect error.
 * conninfo is copied.
 */
UCO_API int uco_pg_pool_create(uco_pg_pool **out, const char *conninfo,
			       unsigned min, unsigned max);

/*
 * Take a connection: an idle one (checked without a round trip: one whose
 * server hung up is closed and replaced), or a new one while fewer than
 * max are open; else wait, first come first served, for one to be
 * released.  timeout_ns bounds the whole call, the connect included (0:
 * no timeout of its own; the caller's scopes still apply).  Suspends.
 * Returns 0 with *out set, -ETIMEDOUT, -ECANCELED, a connect error, -EXDEV.
 */
UCO_API int uco_pg_pool_acquire(uco_pg_pool *p, uint64_t timeout_ns,
				uco_pg **out);

/*
 * Give c back (on the pool's core; elsewhere, or for a connection of
 * another pool, nothing is done).  Does not suspend.  A clean idle connection is ready for
 * the next acquire at once.  A lost one is closed (the next acquire opens
 * a new one).  One that needs cleaning (a statement cut short, a
 * transaction left open, a LISTEN, pipeline mode) is cleaned by a
 * background task (cancel, drain, ROLLBACK, UNLISTEN *) and only then
 * handed to the next acquirer; if that fails it is closed.  So the next
 * user always gets a connection with no transaction open and nothing
 * pending.  Session settings (SET) and prepared statements stay, as with
 * asyncpg's statement cache.
 */
UCO_API void uco_pg_pool_release(uco_pg_pool *p, uco_pg *c);

/* Connections open (idle, in use, or being cleaned) and idle now.  Does
 * not suspend. */
UCO_API unsigned uco_pg_pool_size(const uco_pg_pool *p);
UCO_API unsigned uco_pg_pool_idle(const uco_pg_pool *p);

/*
 * Close the idle connections and free p.  Does not suspend.  Returns 0,
 * -EBUSY (nothing done) while connections are acquired and not released
 * or tasks wait to acquire one, -EXDEV on another core.  Connections still being cleaned close themselves when done.
 * NULL is a no-op (0).
 */
UCO_API int uco_pg_pool_free(uco_pg_pool *p);

#ifdef __cplusplus
}
#endif

#endif
