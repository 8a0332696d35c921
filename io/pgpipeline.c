/*
 * Pipeline mode of the PostgreSQL client (include/uco/pg.h): statements
 * queued in libpq's buffer without waiting, their results read in order.
 *
 * libpq hands a pipeline's results back as: for each statement its result
 * and then a NULL; for each sync point one PGRES_PIPELINE_SYNC result, with
 * no NULL after it.  uco_pg_pipeline_result() returns one statement (or
 * sync) per call, so it reads the NULL that ends the previous statement
 * first (pipe_need_null), and counts what is still to come (pipe_pending),
 * so that a call with nothing pending returns -EAGAIN instead of waiting
 * for ever.
 */
#include <errno.h>

#include <uco/pg.h>
#include <uco/runtime.h>
#include <uco/task.h>

#include "pg_impl.h"

/* The pipeline calls that do not suspend: c must be ours, idle. */
static int pg_pipe_check(uco_pg *c)
{
	if (!c)
		return -EINVAL;
	if (uco_core_id() != c->core)
		return -EXDEV;
	if (c->cleaning)
		return -EBUSY;
	if (!c->conn)
		return -ECONNRESET;
	if (PQpipelineStatus(c->conn) == PQ_PIPELINE_OFF)
		return -EBUSY;
	return 0;
}

UCO_API int uco_pg_pipeline_begin(uco_pg *c)
{
	if (!c)
		return -EINVAL;
	if (uco_core_id() != c->core)
		return -EXDEV;
	if (c->cleaning)
		return -EBUSY;
	if (!c->conn)
		return -ECONNRESET;
	if (PQpipelineStatus(c->conn) != PQ_PIPELINE_OFF || PQisBusy(c->conn))
		return -EBUSY;
	if (PQenterPipelineMode(c->conn) != 1)
		return -EBUSY;
	c->pipe_pending = 0;
	c->pipe_need_null = false;
	c->pipe_unflushed = false;
	return 0;
}

static int pg_pipe_sent(uco_pg *c, int ok)
{
	if (!ok)
		return PQstatus(c->conn) == CONNECTION_BAD ? uco__pg_lost(c) : -ENOMEM;
	c->pipe_pending++;
	c->pipe_unflushed = true;
	return 0;
}

UCO_API int uco_pg_pipeline_send(uco_pg *c, const char *sql, int nparams,
				 const char *const *values)
{
	int r = pg_pipe_check(c);

	if (r < 0)
		return r;
	if (!sql || nparams < 0 || (nparams && !values))
		return -EINVAL;
	return pg_pipe_sent(c, PQsendQueryParams(c->conn, sql, nparams, NULL,
						 values, NULL, NULL, 0));
}

UCO_API int uco_pg_pipeline_send_prepared(uco_pg *c, const char *name,
					  int nparams,
					  const char *const *values)
{
	int r = pg_pipe_check(c);

	if (r < 0)
		return r;
	if (!name || nparams < 0 || (nparams && !values))
		return -EINVAL;
	return pg_pipe_sent(c, PQsendQueryPrepared(c->conn, name, nparams,
						   values, NULL, NULL, 0));
}

UCO_API int uco_pg_pipeline_sync(uco_pg *c)
{
	int r = pg_pipe_check(c);

	if (r < 0)
		return r;
	/* libpq 15's PQpipelineSync also tries to flush: in nonblocking mode
	 * whatever the socket does not take stays queued for
	 * uco_pg_pipeline_result(). */
	if (PQpipelineSync(c->conn) != 1)
		return PQstatus(c->conn) == CONNECTION_BAD ? uco__pg_lost(c) : -ENOMEM;
	c->pipe_pending++;
	c->pipe_unflushed = false; /* a Sync makes the server send it all */
	return 0;
}

/* The next PQgetResult of the pipeline, waiting for it. */
static int pg_pipe_get(uco_pg *c, PGresult **x)
{
	int r = uco__pg_wait_result(c);

	if (r < 0)
		return r;
	*x = PQgetResult(c->conn);
	return 0;
}

UCO_API int uco_pg_pipeline_result(uco_pg *c, PGresult **res)
{
	PGresult *x = NULL;
	int r;

	if (res)
		*res = NULL;
	if (!res)
		return -EINVAL;
	if ((r = pg_pipe_check(c)) < 0)
		return r;
	if (!uco_current())
		return -EPERM;
	if (c->pipe_pending == 0 && !c->pipe_need_null)
		return -EAGAIN;
	/* Queries sent without a Sync after them: ask the server to send
	 * their results now rather than when its buffer fills. */
	if (c->pipe_unflushed) {
		if (PQsendFlushRequest(c->conn) != 1)
			return uco__pg_lost(c);
		c->pipe_unflushed = false;
	}
	if (c->pipe_need_null) {
		/* The NULL that ends the previous statement's results. */
		if ((r = pg_pipe_get(c, &x)) < 0)
			goto cut;
		if (x) { /* more than one result for one statement: drop it */
			PQclear(x);
			return -EPROTO;
		}
		c->pipe_need_null = false;
	}
	if (c->pipe_pending == 0)
		return -EAGAIN;
	if ((r = pg_pipe_get(c, &x)) < 0)
		goto cut;
	if (!x)
		return PQstatus(c->conn) == CONNECTION_BAD ? uco__pg_lost(c) : -EPROTO;
	c->pipe_pending--;
	*res = x;
	switch (PQresultStatus(x)) {
	case PGRES_PIPELINE_SYNC:
		return 0;
	case PGRES_FATAL_ERROR:
		c->pipe_need_null = true;
		if (PQstatus(c->conn) == CONNECTION_BAD) {
			PQclear(x);
			*res = NULL;
			return uco__pg_lost(c);
		}
		return -EREMOTEIO;
	case PGRES_PIPELINE_ABORTED:
		c->pipe_need_null = true;
		return -EREMOTEIO;
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
		PQclear(x);
		*res = NULL;
		uco__pg_lost(c);
		return -ENOTSUP;
	default:
		c->pipe_need_null = true;
		return 0;
	}
cut:
	return uco__pg_cut(c, r);
}

UCO_API int uco_pg_pipeline_end(uco_pg *c)
{
	int r = pg_pipe_check(c);

	if (r < 0)
		return r;
	if (c->pipe_pending || c->pipe_need_null)
		return -EBUSY;
	/* The last result was a sync: libpq may still need its input read
	 * to leave the busy state; it has it all already. */
	if (PQexitPipelineMode(c->conn) != 1)
		return -EBUSY;
	return 0;
}

