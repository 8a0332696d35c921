/*
 * A per-core pool of PostgreSQL connections (include/uco/pg.h).
 *
 * A semaphore of `max` permits decides who may hold a connection: a permit
 * is held by each acquired connection and by each released one still being
 * cleaned, so at most max are open, and waiters are served first come,
 * first served (the semaphore hands a released permit straight to the
 * first waiter).  Idle connections wait on a stack, the most recently used
 * on top (its server backend's caches are the warmest).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include <uco/pg.h>
#include <uco/runtime.h>
#include <uco/semaphore.h>
#include <uco/task.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "pg_impl.h"

struct uco_pg_pool {
	char *conninfo;     /* copied */
	size_t conninfo_size;
	unsigned max;
	unsigned core;      /* the core it belongs to */
	unsigned open;      /* idle + acquired + cleaning */
	unsigned nidle;
	unsigned acquired;  /* handed out, not yet released */
	unsigned cleaning;  /* released, with their clean-up task running */
	unsigned waiting;   /* tasks in uco_sem_acquire */
	bool freed;         /* uco_pg_pool_free ran while some were cleaning */
	uco_pg *idle;       /* stack of idle connections */
	uco_sem slots;      /* max - acquired - cleaning permits */
};

static void pool_destroy(uco_pg_pool *p)
{
	uco_sem_destroy(&p->slots);
	uco__free(p->conninfo, p->conninfo_size);
	uco__free(p, sizeof(*p));
}

/* Is an idle connection still there?  Without a round trip: a server that
 * went away (restart, idle timeout, network) has left its socket readable
 * with an error message and EOF, which libpq then sees.  One poll(2) with
 * a zero timeout, not a suspension. */
static bool pool_alive(uco_pg *c)
{
	struct pollfd pfd = { .events = POLLIN };
	PGnotify *n;

	if (!c->conn)
		return false;
	pfd.fd = PQsocket(c->conn);
	if (poll(&pfd, 1, 0) == 0)
		return true;
	/* Something arrived on an idle connection: a notification, or the
	 * server's "terminating connection" error followed by EOF, which
	 * libpq may read in two steps.  Read until nothing is left. */
	for (int i = 0; i < 8 && poll(&pfd, 1, 0) > 0; i++) {
		if (!PQconsumeInput(c->conn) ||
		    PQstatus(c->conn) != CONNECTION_OK)
			return false;
		if (pfd.revents & (POLLERR | POLLHUP))
			return false;
	}
	while ((n = PQnotifies(c->conn))) /* left over from before UNLISTEN */
		PQfreemem(n);
	return true;
}

static void pool_close_one(uco_pg_pool *p, uco_pg *c)
{
	p->open--;
	uco__pg_free(c);
}

void uco__pg_pool_put(uco_pg_pool *p, uco_pg *c)
{
	p->cleaning--;
	if (p->freed) {
		pool_close_one(p, c);
		if (p->cleaning == 0)
			pool_destroy(p);
		return;
	}
	if (!c->conn) {
		pool_close_one(p, c);
	} else {
		c->next = p->idle;
		p->idle = c;
		p->nidle++;
	}
	uco_sem_release(&p->slots);
}

UCO_API int uco_pg_pool_create(uco_pg_pool **out, const char *conninfo,
			       unsigned min, unsigned max)
{
	uco_pg_pool *p;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (max == 0 || min > max || max > INT32_MAX)
		return -EINVAL;
	if (!uco_current())
		return -EPERM;
	p = uco__zalloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->conninfo_size = strlen(conninfo ? conninfo : "") + 1;
	p->conninfo = uco__alloc(p->conninfo_size);
	if (!p->conninfo) {
		uco__free(p, sizeof(*p));
		return -ENOMEM;
	}
	memcpy(p->conninfo, conninfo ? conninfo : "", p->conninfo_size);
	p->max = max;
	p->core = uco_core_id();
	r = uco_sem_init(&p->slots, max);
	if (r < 0) {
		uco__free(p->conninfo, p->conninfo_size);
		uco__free(p, sizeof(*p));
		return r;
	}
	while (p->open < min) {
		uco_pg *c;

		r = uco_pg_connect(&c, p->conninfo, NULL, 0);
		if (r < 0) {
			while ((c = p->idle)) {
				p->idle = c->next;
				uco__pg_free(c);
			}
			pool_destroy(p);
			return r;
		}
		c->pool = p;
		c->next = p->idle;
		p->idle = c;
		p->nidle++;
		p->open++;
	}
	*out = p;
	return 0;
}

UCO_API int uco_pg_pool_acquire(uco_pg_pool *p, uint64_t timeout_ns,
				uco_pg **out)
{
	uco_pg *c = NULL;
	int scope = -1;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!p)
		return -EINVAL;
	if (uco_core_id() != p->core || !uco_current())
		return uco_current() ? -EXDEV : -EPERM;
	if (timeout_ns) {
		scope = uco_timeout_begin(timeout_ns);
		if (scope < 0)
			return scope;
	}
	p->waiting++;
	r = uco_sem_acquire(&p->slots);
	p->waiting--;
	if (r < 0)
		goto out;
	while ((c = p->idle)) {
		p->idle = c->next;
		p->nidle--;
		c->next = NULL;
		if (pool_alive(c))
			goto out;
		pool_close_one(p, c); /* replaced below */
	}
	/* A permit and no idle connection: fewer than max are open. */
	p->open++;
	r = uco_pg_connect(&c, p->conninfo, NULL, 0);
	if (r < 0) {
		p->open--;
		c = NULL;
		uco_sem_release(&p->slots);
		goto out;
	}
	c->pool = p;
out:
	if (scope >= 0)
		uco_timeout_end(scope);
	if (r == 0) {
		p->acquired++;
		*out = c;
	}
	return r;
}

UCO_API void uco_pg_pool_release(uco_pg_pool *p, uco_pg *c)
{
	if (!p || !c || c->pool != p || uco_core_id() != p->core)
		return;
	p->acquired--;
	if (c->cleaning) {
		/* A statement cut short: its clean-up task hands it back. */
		c->after = UCO__PG_POOL;
		p->cleaning++;
		return;
	}
	if (!c->conn) {
		pool_close_one(p, c);
		uco_sem_release(&p->slots);
		return;
	}
	if (uco__pg_needs_clean(c)) {
		c->after = UCO__PG_POOL;
		p->cleaning++;
		if (uco__pg_clean_start(c, true) < 0) {
			/* c is lost now: the task could not start */
			p->cleaning--;
			pool_close_one(p, c);
			uco_sem_release(&p->slots);
		}
		return;
	}
	c->next = p->idle;
	p->idle = c;
	p->nidle++;
	uco_sem_release(&p->slots);
}

UCO_API unsigned uco_pg_pool_size(const uco_pg_pool *p)
{
	return p ? p->open : 0;
}

UCO_API unsigned uco_pg_pool_idle(const uco_pg_pool *p)
{
	return p ? p->nidle : 0;
}

UCO_API int uco_pg_pool_free(uco_pg_pool *p)
{
	uco_pg *c;

	if (!p)
		return 0;
	if (uco_core_id() != p->core)
		return -EXDEV;
	if (p->acquired || p->waiting)
		return -EBUSY;
	while ((c = p->idle)) {
		p->idle = c->next;
		p->nidle--;
		pool_close_one(p, c);
	}
	if (p->cleaning) {
		p->freed = true; /* the last clean-up task frees it */
		return 0;
	}
	pool_destroy(p);
	return 0;
}
