/*
 * The private side of uco_lock (include/uco/lock.h), shared by lock.c and
 * condition.c.
 */
#ifndef UCO_SYNC_LOCK_IMPL_H
#define UCO_SYNC_LOCK_IMPL_H

#include <uco/lock.h>

#include "percore.h"

struct __attribute__((may_alias)) uco__lock {
	struct uco__waitq waiters;  /* tasks waiting, first come first */
	struct uco__loop *loop;     /* home core */
	bool locked;                /* invariant: !locked => no waiters */
};

static inline struct uco__lock *uco__lock_of(uco_lock *l)
{
	return (struct uco__lock *)(void *)l;
}

/*
 * Take l for the calling task, waiting as long as it takes: neither a
 * cancel nor a timeout scope cuts this wait short (Condition's reacquire
 * after a wait, which asyncio also completes before it lets a
 * cancellation through).  The task must be on l's core.
 */
void uco__lock_take_uninterruptible(struct uco__lock *l);

#endif
