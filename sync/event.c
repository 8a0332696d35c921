/*
 * Event: a flag and a FIFO wait list, per core.
 *
 * Direct hand-off of the wake-up: set unlinks every waiter and readies it
 * with 0, so what a waiter returns is decided at the set, not when it runs
 * (a clear in between does not send it back to sleep, as in asyncio).  A
 * waiter cancelled or timed out before the set is unlinked by uco__block()'s
 * interrupt; there is nothing to re-offer, since a set wakes everyone.
 */
#include <uco/event.h>

#include <stdio.h>
#include <stdlib.h>

#include "percore.h"

struct __attribute__((may_alias)) event {
	struct uco__waitq waiters;
	struct uco__loop *loop;
	bool set;
};

UCO__OPAQUE_FITS(uco_event, struct event);

#define E(e) ((struct event *)(void *)(e))

UCO_API int uco_event_init(uco_event *pe)
{
	struct event *e = E(pe);

	if (!pe)
		return -EINVAL;
	if (!uco__tls_loop)
		return -EPERM;
	uco__waitq_init(&e->waiters);
	e->loop = uco__tls_loop;
	e->set = false;
	return 0;
}

UCO_API void uco_event_destroy(uco_event *pe)
{
	if (!pe)
		return;
	if (!uco__waitq_empty(&E(pe)->waiters)) {
		fprintf(stderr, "uco: uco_event_destroy() on an event that "
				"tasks are waiting on\n");
		abort();
	}
	E(pe)->loop = NULL;
}

static inline int check(const uco_event *pe)
{
	if (__builtin_expect(!pe, 0))
		return -EINVAL;
	return uco__home_check(((const struct event *)(const void *)pe)->loop);
}

UCO_API int uco_event_set(uco_event *pe)
{
	int r = check(pe);

	if (r)
		return r;
	E(pe)->set = true;
	return (int)uco__waitq_wake_all(&E(pe)->waiters, 0);
}

UCO_API int uco_event_clear(uco_event *pe)
{
	int r = check(pe);

	if (r)
		return r;
	E(pe)->set = false;
	return 0;
}

UCO_API bool uco_event_is_set(const uco_event *pe)
{
	return ((const struct event *)(const void *)pe)->set;
}

UCO_API int uco_event_wait(uco_event *pe)
{
	int r = check(pe);

	if (r)
		return r;
	if (E(pe)->set)
		return 0;
	return uco__waitq_wait(&E(pe)->waiters, "event");
}
