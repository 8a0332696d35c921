/*
 * PostgreSQL connections on libpq's nonblocking API (include/uco/pg.h).
 *
 * The glue is one rule: where libpq would block, wait with uco_poll() on
 * PQsocket() for what it needs, then call libpq again.
 *   - sending: PQflush() returns 1 while output is left; wait for POLLOUT,
 *     and for POLLIN too, consuming input meanwhile (libpq's own advice: a
 *     server blocked writing results to us would never read our output);
 *   - receiving: while PQisBusy(), wait for POLLIN and PQconsumeInput().
 * A wait cut short (cancel, expired scope) leaves libpq's state intact, so
 * the clean-up task below can pick the connection up where it stopped.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <uco/offload.h>
#include <uco/pg.h>
#include <uco/poll.h>
#include <uco/runtime.h>
#include <uco/task.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "pg_impl.h"

#define PG_CANCEL_TIMEOUT (5 * UCO_NSEC_PER_SEC)

static bool cut_short(int r)
{
	return r == -ECANCELED || r == -ETIMEDOUT;
}

/* Copy the first line of s into buf (len bytes), NUL-terminated. */
static void first_line(char *buf, size_t len, const char *s)
{
	size_t n = strcspn(s ? s : "", "\n");

	if (!buf || !len)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(buf, s ? s : "", n);
	buf[n] = '\0';
}

/* The connection is lost: keep the reason, close the socket.  Every later
 * call returns -ECONNRESET. */
int uco__pg_lost(uco_pg *c)
{
	if (c->conn) {
		const char *m = PQerrorMessage(c->conn);

		if (m && *m) /* keep a reason given before, rather than "" */
			first_line(c->errmsg, sizeof(c->errmsg), m);
		PQfinish(c->conn);
		c->conn = NULL;
	}
	c->pipe_pending = 0;
	c->pipe_need_null = false;
	return -ECONNRESET;
}

void uco__pg_free(uco_pg *c)
{
	if (c->conn)
		PQfinish(c->conn);
	uco_event_destroy(&c->ready);
	uco__free(c, sizeof(*c));
}

/* ---- waiting on the socket ------------------------------------------- */

/* Read what has arrived into libpq's buffer. */
static int pg_consume(uco_pg *c)
{
	if (!PQconsumeInput(c->conn))
		return uco__pg_lost(c);
	return 0;
}

/* libpq's socket, or -1 once libpq itself has dropped the connection
 * (it closes the socket when it reads EOF or fails to send). */
static int pg_socket(uco_pg *c)
{
	return PQstatus(c->conn) == CONNECTION_BAD ? -1 : PQsocket(c->conn);
}

/* Wait until libpq has sent everything it holds. */
static int pg_flush(uco_pg *c)
{
	for (;;) {
		int r = PQflush(c->conn);

		if (r == 0)
			return 0;
		if (r < 0 || pg_socket(c) < 0)
			return uco__pg_lost(c);
		r = uco_poll(pg_socket(c), POLLOUT | POLLIN);
		if (r < 0)
			return r;
		if ((r & (POLLIN | POLLERR | POLLHUP)) && (r = pg_consume(c)) < 0)
			return r;
	}
}

/* Wait until PQgetResult() would not block. */
int uco__pg_wait_result(uco_pg *c)
{
	int r = pg_flush(c);

	if (r < 0)
		return r;
	while (PQisBusy(c->conn)) {
		if (pg_socket(c) < 0)
			return uco__pg_lost(c);
		r = uco_poll(pg_socket(c), POLLIN);
		if (r < 0)
			return r;
		if ((r = pg_consume(c)) < 0)
			return r;
	}
	return 0;
}

/* A wait in a statement was cut short by r (-ECANCELED / -ETIMEDOUT):
 * the server still runs it.  Outside the clean-up task, hand the
 * connection to a new one (cancel, drain) and return r at once; inside
 * it, the clean-up has failed and the caller closes the connection. */
static int pg_interrupted(uco_pg *c, int r)
{
	if (!cut_short(r))
		return r;
	if (!c->cleaning) {
		c->interrupted = true;
		c->after = UCO__PG_KEEP;
		if (uco__pg_clean_start(c, false) < 0)
			return r;
	}
	return r;
}

int uco__pg_cut(uco_pg *c, int r)
{
	return pg_interrupted(c, r);
}

/* ---- the clean-up task ------------------------------------------------ */

struct pg_cancel_job {
	PGcancel *cancel;
	char err[256];
};

/* On an offload thread: PQcancel connects to the server, sends the cancel
 * request and waits for the server to close that connection (blocking). */
static void *pg_cancel_fn(void *arg)
{
	struct pg_cancel_job *j = arg;

	return (void *)(intptr_t)PQcancel(j->cancel, j->err, sizeof(j->err));
}

static void pg_cancel_cleanup(void *arg, void *result)
{
	struct pg_cancel_job *j = arg;

	(void)result;
	PQfreeCancel(j->cancel);
	uco__free(j, sizeof(*j));
}

/* Send the server-side cancel for the statement running on c. */
static int pg_send_cancel(uco_pg *c)
{
	struct pg_cancel_job *j = uco__alloc(sizeof(*j));
	void *ok = NULL;
	int r;

	if (!j)
		return -ENOMEM;
	j->cancel = PQgetCancel(c->conn);
	if (!j->cancel) {
		uco__free(j, sizeof(*j));
		return -ENOMEM;
	}
	r = uco_to_thread(pg_cancel_fn, j, &ok, pg_cancel_cleanup);
	if (r < 0)
		return r; /* the cleanup frees j */
	if (!ok)
		snprintf(c->errmsg, sizeof(c->errmsg), "cancel: %.200s", j->err);
	pg_cancel_cleanup(j, NULL);
	return ok ? 0 : -ECONNRESET;
}

/* Read and drop every result until the connection is idle again. */
static int pg_drain(uco_pg *c)
{
	for (;;) {
		int r = uco__pg_wait_result(c);
		PGresult *x;

		if (r < 0)
			return r;
		x = PQgetResult(c->conn);
		if (!x)
			return 0;
		r = PQresultStatus(x);
		PQclear(x);
		if (r == PGRES_COPY_IN || r == PGRES_COPY_OUT ||
		    r == PGRES_COPY_BOTH)
			return -ENOTSUP;
	}
}

static int pg_run(uco_pg *c, const char *sql, PGresult **res);

static void *pg_clean_task(void *arg)
{
	uco_pg *c = arg;
	int scope = uco_timeout_begin(c->cancel_timeout);
	int r = scope < 0 ? scope : 0;
	const char *why = "cleaning up after a statement cut short failed";

	if (r == 0 && c->conn && c->interrupted) {
		/* The whole statement first, or the cancel could reach the
		 * server before it and be ignored. */
		r = pg_flush(c);
		if (r == 0)
			r = pg_send_cancel(c);
		if (r == 0 && PQpipelineStatus(c->conn) != PQ_PIPELINE_OFF) {
			r = -ECONNRESET; /* a pipeline is closed, not drained */
			why = "a pipeline cut short is cancelled, then closed";
		}
		if (r == 0)
			r = pg_drain(c);
		c->interrupted = false;
	}
	if (r == 0 && c->conn && c->after == UCO__PG_POOL &&
	    PQpipelineStatus(c->conn) != PQ_PIPELINE_OFF) {
		if (c->pipe_pending || PQexitPipelineMode(c->conn) != 1) {
			r = -ECONNRESET;
			why = "released to its pool with pipeline results unread";
		}
	}
	if (r == 0 && c->conn) {
		PGTransactionStatusType t = PQtransactionStatus(c->conn);

		if (t == PQTRANS_INERROR ||
		    (t == PQTRANS_INTRANS &&
		     (c->want_rollback || c->after == UCO__PG_POOL)))
			r = pg_run(c, "ROLLBACK", NULL);
	}
	if (r == 0 && c->conn && c->listening && c->after == UCO__PG_POOL) {
		r = pg_run(c, "UNLISTEN *", NULL);
		c->listening = false;
	}
	if (scope >= 0)
		uco_timeout_end(scope);
	if (r < 0 && c->conn) {
		char detail[128];

		first_line(detail, sizeof(detail), c->errmsg[0] ? c->errmsg
			   : PQerrorMessage(c->conn));
		PQfinish(c->conn);
		c->conn = NULL;
		c->pipe_pending = 0;
		c->pipe_need_null = false;
		snprintf(c->errmsg, sizeof(c->errmsg), "closed: %s (%s%s%s)",
			 why, strerror(-r), detail[0] ? ": " : "", detail);
	}
	c->cleaning = false;
	c->want_rollback = false;
	switch (c->after) {
	case UCO__PG_KEEP:
		uco_event_set(&c->ready);
		break;
	case UCO__PG_CLOSE:
		uco__pg_free(c);
		break;
	case UCO__PG_POOL:
		c->after = UCO__PG_KEEP;
		uco_event_set(&c->ready);
		uco__pg_pool_put(c->pool, c);
		break;
	}
	return NULL;
}

int uco__pg_clean_start(uco_pg *c, bool rollback)
{
	uco_spawn_opts opts = { .name = "pg-cleanup" };
	int r;

	c->cleaning = true;
	c->want_rollback = c->want_rollback || rollback;
	uco_event_clear(&c->ready);
	/* Detached: it owns c until it ends, and decides then (c->after). */
	r = uco_spawn(NULL, pg_clean_task, c, &opts);
	if (r < 0) {
		c->cleaning = false;
		c->interrupted = false;
		uco_event_set(&c->ready);
		uco__pg_lost(c);
		snprintf(c->errmsg, sizeof(c->errmsg),
			 "closed: no task for the clean-up (%s)", strerror(-r));
	}
	return r;
}

bool uco__pg_needs_clean(const uco_pg *c)
{
	if (!c->conn)
		return false;
	return c->interrupted || c->listening || c->pipe_pending ||
	       PQpipelineStatus(c->conn) != PQ_PIPELINE_OFF ||
	       PQtransactionStatus(c->conn) != PQTRANS_IDLE;
}

/* ---- connect / close --------------------------------------------------- */

/* libpq's message says which SQLSTATE refused us (verbose errors): class
 * 28 is "invalid authorization specification". */
static int pg_connect_error(PGconn *conn)
{
	const char *m = PQerrorMessage(conn);

	if (PQconnectionNeedsPassword(conn) || strstr(m, " 28P01:") ||
	    strstr(m, " 28000:"))
		return -EACCES;
	return -ECONNREFUSED;
}

/* The message without the verbose LOCATION line and the SQLSTATE. */
static void pg_connect_message(PGconn *conn, char *msg, size_t msglen)
{
	char line[512];
	char *p;

	if (!msg || !msglen)
		return;
	first_line(line, sizeof(line), conn ? PQerrorMessage(conn)
					    : "out of memory");
	/* "...: FATAL:  28P01: password ..." -> "...: FATAL:  password ..." */
	p = strstr(line, "FATAL:  ");
	if (p && strlen(p) > 15 && p[13] == ':' && p[14] == ' ')
		memmove(p + 8, p + 15, strlen(p + 15) + 1);
	first_line(msg, msglen, line);
}

UCO_API int uco_pg_connect(uco_pg **out, const char *conninfo, char *msg,
			   size_t msglen)
{
	const char *keys[] = { "dbname", NULL };
	const char *vals[] = { conninfo ? conninfo : "", NULL };
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	uco_pg *c;
	PGconn *conn;
	int r;

	if (msg && msglen)
		msg[0] = '\0';
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!uco_current())
		return -EPERM;
	c = uco__zalloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = uco_event_init(&c->ready);
	if (r < 0) {
		uco__free(c, sizeof(*c));
		return r;
	}
	uco_event_set(&c->ready);
	c->cancel_timeout = PG_CANCEL_TIMEOUT;
	c->core = uco_core_id();

	/* expand_dbname = 1: dbname may be a whole conninfo string or URI. */
	conn = PQconnectStartParams(keys, vals, 1);
	if (!conn || PQstatus(conn) == CONNECTION_BAD) {
		r = conn ? pg_connect_error(conn) : -ENOMEM;
		pg_connect_message(conn, msg, msglen);
		goto fail;
	}
	PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);
	for (;;) {
		if (st == PGRES_POLLING_OK)
			break;
		if (st == PGRES_POLLING_FAILED) {
			r = pg_connect_error(conn);
			pg_connect_message(conn, msg, msglen);
			goto fail;
		}
		/* The socket may change between calls (another host, a retry
		 * without SSL): ask for it every time. */
		r = uco_poll(PQsocket(conn), st == PGRES_POLLING_READING
					     ? POLLIN : POLLOUT);
		if (r < 0) {
			first_line(msg, msglen, strerror(-r));
			goto fail;
		}
		st = PQconnectPoll(conn);
	}
	PQsetErrorVerbosity(conn, PQERRORS_DEFAULT);
	if (PQsetnonblocking(conn, 1) != 0) {
		r = -ECONNRESET;
		pg_connect_message(conn, msg, msglen);
		goto fail;
	}
	c->conn = conn;
	*out = c;
	return 0;
fail:
	if (conn)
		PQfinish(conn); /* closes the socket: nothing is left behind */
	uco_event_destroy(&c->ready);
	uco__free(c, sizeof(*c));
	return r;
}

UCO_API void uco_pg_close(uco_pg *c)
{
	if (!c)
		return;
	if (c->cleaning) {
		c->after = UCO__PG_CLOSE; /* the clean-up task frees it */
		return;
	}
	uco__pg_free(c);
}

UCO_API PGconn *uco_pg_conn(uco_pg *c)
{
	return c ? c->conn : NULL;
}

UCO_API bool uco_pg_broken(const uco_pg *c)
{
	return !c || !c->conn;
}

UCO_API const char *uco_pg_error_message(const uco_pg *c)
{
	if (!c)
		return "no connection";
	if (!c->conn)
		return c->errmsg[0] ? c->errmsg : "connection closed";
	return PQerrorMessage(c->conn);
}

UCO_API void uco_pg_set_cancel_timeout(uco_pg *c, uint64_t ns)
{
	if (c)
		c->cancel_timeout = ns ? ns : PG_CANCEL_TIMEOUT;
}

UCO_API int uco_pg_wait_ready(uco_pg *c)
{
	if (!c)
		return -EINVAL;
	while (c->cleaning) {
		int r = uco_event_wait(&c->ready);

		if (r < 0)
			return r;
	}
	return c->conn ? 0 : -ECONNRESET;
}

/* ---- statements ------------------------------------------------------- */

/* Before sending: the connection is idle, ours and not in pipeline mode. */
static int pg_enter(uco_pg *c, bool pipeline)
{
	int r;

	if (!c)
		return -EINVAL;
	if (!c->cleaning && !uco_current())
		return -EPERM;
	if (uco_core_id() != c->core)
		return -EXDEV;
	if ((r = uco_pg_wait_ready(c)) < 0)
		return r;
	if ((PQpipelineStatus(c->conn) != PQ_PIPELINE_OFF) != pipeline)
		return -EBUSY;
	return 0;
}

/* After a PQsend*: collect the results of one statement (or of several
 * for the simple protocol: the last, or the first error). */
static int pg_collect(uco_pg *c, int sent, PGresult **res)
{
	PGresult *last = NULL, *err = NULL;
	int r;

	if (res)
		*res = NULL;
	if (!sent) /* libpq refused to send: lost, or not idle after all */
		return PQstatus(c->conn) == CONNECTION_BAD ? uco__pg_lost(c) : -EBUSY;
	for (;;) {
		PGresult *x;

		r = uco__pg_wait_result(c);
		if (r < 0) {
			PQclear(last);
			PQclear(err);
			return pg_interrupted(c, r);
		}
		x = PQgetResult(c->conn);
		if (!x)
			break;
		switch (PQresultStatus(x)) {
		case PGRES_FATAL_ERROR:
			if (!err) {
				err = x;
				x = NULL;
			}
			break;
		case PGRES_COPY_IN:
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			PQclear(x);
			PQclear(last);
			PQclear(err);
			uco__pg_lost(c);
			snprintf(c->errmsg, sizeof(c->errmsg),
				 "closed: COPY is not supported");
			return -ENOTSUP;
		default:
			PQclear(last);
			last = x;
			x = NULL;
			break;
		}
		PQclear(x);
	}
	if (PQstatus(c->conn) == CONNECTION_BAD) {
		PQclear(last);
		PQclear(err);
		return uco__pg_lost(c);
	}
	if (err) {
		PQclear(last);
		if (res)
			*res = err;
		else
			PQclear(err);
		return -EREMOTEIO;
	}
	if (res)
		*res = last;
	else
		PQclear(last);
	return 0;
}

/* A statement from inside this file (the clean-up task included). */
static int pg_run(uco_pg *c, const char *sql, PGresult **res)
{
	return pg_collect(c, PQsendQuery(c->conn, sql), res);
}

UCO_API int uco_pg_exec(uco_pg *c, const char *sql, PGresult **res)
{
	int r = pg_enter(c, false);

	if (res)
		*res = NULL;
	if (r < 0)
		return r;
	if (!sql)
		return -EINVAL;
	return pg_run(c, sql, res);
}

UCO_API int uco_pg_query_params(uco_pg *c, const char *sql, int nparams,
				const Oid *types, const char *const *values,
				const int *lengths, const int *formats,
				int result_format, PGresult **res)
{
	int r = pg_enter(c, false);

	if (res)
		*res = NULL;
	if (r < 0)
		return r;
	if (!sql || nparams < 0 || (nparams && !values))
		return -EINVAL;
	return pg_collect(c, PQsendQueryParams(c->conn, sql, nparams, types,
					       values, lengths, formats,
					       result_format), res);
}

UCO_API int uco_pg_query(uco_pg *c, const char *sql, int nparams,
			 const char *const *values, PGresult **res)
{
	return uco_pg_query_params(c, sql, nparams, NULL, values, NULL, NULL,
				   0, res);
}

UCO_API int uco_pg_prepare(uco_pg *c, const char *name, const char *sql,
			   int nparams, const Oid *types)
{
	int r = pg_enter(c, false);

	if (r < 0)
		return r;
	if (!name || !sql || nparams < 0)
		return -EINVAL;
	return pg_collect(c, PQsendPrepare(c->conn, name, sql, nparams, types),
			  NULL);
}

UCO_API int uco_pg_query_prepared(uco_pg *c, const char *name, int nparams,
				  const char *const *values, const int *lengths,
				  const int *formats, int result_format,
				  PGresult **res)
{
	int r = pg_enter(c, false);

	if (res)
		*res = NULL;
	if (r < 0)
		return r;
	if (!name || nparams < 0 || (nparams && !values))
		return -EINVAL;
	return pg_collect(c, PQsendQueryPrepared(c->conn, name, nparams, values,
						 lengths, formats,
						 result_format), res);
}

/* ---- transactions ----------------------------------------------------- */

UCO_API int uco_pg_transaction(uco_pg *c, const char *begin,
			       int (*fn)(uco_pg *c, void *arg), void *arg)
{
	PGresult *res = NULL;
	int r, q;

	if (!fn)
		return -EINVAL;
	r = uco_pg_exec(c, begin ? begin : "BEGIN", NULL);
	if (r < 0)
		return r;
	r = fn(c, arg);
	if (r >= 0) {
		q = uco_pg_exec(c, "COMMIT", &res);
		if (q == 0 && strcmp(PQcmdStatus(res), "COMMIT") != 0)
			q = -EREMOTEIO; /* an aborted transaction rolled back */
		PQclear(res);
		if (q < 0 && !cut_short(q))
			return q;
		if (q == 0)
			return r;
		r = q; /* COMMIT cut short: roll back below if still open */
	}
	/* Roll back.  A statement cut short inside fn has already handed the
	 * connection to its clean-up task, which rolls back an aborted
	 * transaction; ask it to roll back an open one too. */
	if (c->cleaning) {
		c->want_rollback = true;
		return r;
	}
	if (!c->conn || PQtransactionStatus(c->conn) == PQTRANS_IDLE)
		return r;
	uco_shield_begin();
	q = uco_pg_exec(c, "ROLLBACK", NULL);
	uco_shield_end();
	if (cut_short(q) && !c->cleaning && c->conn)
		uco__pg_clean_start(c, true); /* e.g. our scope has expired */
	else if (cut_short(q) && c->cleaning)
		c->want_rollback = true;
	return r;
}

/* ---- LISTEN / NOTIFY -------------------------------------------------- */

UCO_API int uco_pg_listen(uco_pg *c, const char *channel)
{
	char *id, *sql;
	size_t n;
	int r = pg_enter(c, false);

	if (r < 0)
		return r;
	if (!channel)
		return -EINVAL;
	id = PQescapeIdentifier(c->conn, channel, strlen(channel));
	if (!id)
		return -ENOMEM;
	n = strlen(id) + sizeof("LISTEN ");
	sql = uco__alloc(n);
	if (!sql) {
		PQfreemem(id);
		return -ENOMEM;
	}
	snprintf(sql, n, "LISTEN %s", id);
	PQfreemem(id);
	c->listening = true;
	r = pg_run(c, sql, NULL);
	uco__free(sql, n);
	return r;
}

UCO_API int uco_pg_notify_wait(uco_pg *c, PGnotify **out)
{
	int r;

	if (out)
		*out = NULL;
	if (!out)
		return -EINVAL;
	if ((r = pg_enter(c, false)) < 0)
		return r;
	for (;;) {
		PGnotify *n = PQnotifies(c->conn);

		if (n) {
			*out = n;
			return 0;
		}
		/* No statement is running: a wait cut short leaves nothing
		 * behind, the connection stays usable. */
		if (pg_socket(c) < 0)
			return uco__pg_lost(c);
		r = uco_poll(pg_socket(c), POLLIN);
		if (r < 0)
			return r;
		if ((r = pg_consume(c)) < 0)
			return r;
	}
}
