/*
 * io/pg_impl.h — what io/pg.c (connections) and io/pgpool.c (pools) share:
 * the connection record and the hand-over between a connection's clean-up
 * task and its pool.
 */
#ifndef UCO_IO_PG_IMPL_H
#define UCO_IO_PG_IMPL_H

#include <libpq-fe.h>

#include <uco/event.h>
#include <uco/pg.h>

/* What the clean-up task does with the connection when it is done. */
enum uco__pg_after {
	UCO__PG_KEEP,  /* the owner keeps it: set `ready` */
	UCO__PG_CLOSE, /* the owner closed it meanwhile: free it */
	UCO__PG_POOL,  /* it was released: hand it to its pool */
};

struct uco_pg {
	PGconn *conn;          /* NULL once lost (broken) */
	bool cleaning;         /* a clean-up task owns the connection */
	bool interrupted;      /* a statement was cut short: cancel + drain */
	bool want_rollback;    /* roll back an open transaction when cleaning */
	bool listening;        /* LISTEN was run (UNLISTEN * before pooling) */
	bool pipe_need_null;   /* pipeline: a query's closing NULL is unread */
	bool pipe_unflushed;   /* pipeline: queries sent since a flush request */
	unsigned pipe_pending; /* pipeline: results (queries + syncs) unread */
	enum uco__pg_after after;
	uint64_t cancel_timeout;  /* ns the clean-up may take */
	unsigned core;         /* the core it was opened on */
	uco_event ready;       /* set while no clean-up runs */
	uco_pg_pool *pool;     /* the pool it belongs to, or NULL */
	uco_pg *next;          /* the pool's idle list */
	char errmsg[256];      /* why it broke */
};

/* Whether a released connection needs the clean-up task before it can be
 * handed to someone else. */
bool uco__pg_needs_clean(const uco_pg *c);

/* Start the clean-up task for c (c->after says what happens next).
 * Does not suspend.  Returns 0 or -ENOMEM (c is then broken). */
int uco__pg_clean_start(uco_pg *c, bool rollback);

/* The connection is lost: keep libpq's reason, PQfinish, return
 * -ECONNRESET.  Does not suspend. */
int uco__pg_lost(uco_pg *c);

/* Send what libpq holds and wait until PQgetResult() would not block.
 * Suspends.  0 or a negative errno. */
int uco__pg_wait_result(uco_pg *c);

/* After a wait returned r < 0: when r is -ECANCELED / -ETIMEDOUT, hand c
 * to its clean-up task (cancel, drain or close).  Returns r. */
int uco__pg_cut(uco_pg *c, int r);

/* Free c (PQfinish if still open).  Does not suspend. */
void uco__pg_free(uco_pg *c);

/* Called by the clean-up task when c->after is UCO__PG_POOL. */
void uco__pg_pool_put(uco_pg_pool *p, uco_pg *c);

#endif
