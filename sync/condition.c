/*
 * Condition: a FIFO wait list tied to a uco_lock, per core.
 *
 * Direct hand-off of notifies: notify(n) unlinks the first n waiters and
 * readies them with 0 at once, so what a waiter returns is decided by the
 * notify, not by when it runs; a waiter cancelled or timed out before that
 * is unlinked by uco__block()'s interrupt and never counted by a notify, so
 * notify(1) always reaches a live waiter when there is one.
 *
 * After the wait (whatever ended it) the waiter takes the lock again with
 * uco__lock_take_uninterruptible(): a lock wait no cancel or deadline can
 * cut, so uco_cond_wait() never returns without the lock.  It queues on
 * the lock like anyone else (first come, first served, hand-off on unlock).
 * Only the lock is touched after the wake-up, never the condition, so a
 * condition may be destroyed once its waiters are woken.
 */
#include <uco/condition.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "lock_impl.h"

struct __attribute__((may_alias)) cond {
	uco_lock own;              /* used when no lock was given */
	uco_lock *lock;            /* the lock: &own or the caller's */
	struct uco__waitq waiters;
	struct uco__loop *loop;
};

UCO__OPAQUE_FITS(uco_cond, struct cond);

#define C(c) ((struct cond *)(void *)(c))

UCO_API int uco_cond_init(uco_cond *pc, uco_lock *lock)
{
	struct cond *c = C(pc);
	int r;

	if (!pc)
		return -EINVAL;
	if (!uco__tls_loop)
		return -EPERM;
	if (lock) {
		r = uco__home_check(uco__lock_of(lock)->loop);
		if (r)
			return r;
		c->lock = lock;
	} else {
		r = uco_lock_init(&c->own);
		if (r)
			return r;
		c->lock = &c->own;
	}
	uco__waitq_init(&c->waiters);
	c->loop = uco__tls_loop;
	return 0;
}

UCO_API void uco_cond_destroy(uco_cond *pc)
{
	struct cond *c = C(pc);

	if (!pc)
		return;
	if (!uco__waitq_empty(&c->waiters)) {
		fprintf(stderr, "uco: uco_cond_destroy() on a condition that "
				"tasks are waiting on\n");
		abort();
	}
	if (c->lock == &c->own)
		uco_lock_destroy(&c->own);
	c->loop = NULL;
}

UCO_API uco_lock *uco_cond_lock(uco_cond *pc)
{
	return pc ? C(pc)->lock : NULL;
}

/* The checks every call starts with: c usable here, its lock held. */
static int check(uco_cond *pc)
{
	int r;

	if (!pc)
		return -EINVAL;
	r = uco__home_check(C(pc)->loop);
	if (r)
		return r;
	return uco_lock_locked(C(pc)->lock) ? 0 : -EPERM;
}

static void cond_unlink(void *ctx)
{
	uco__list_del(&((struct uco__waiter *)ctx)->node);
}

UCO_API int uco_cond_wait(uco_cond *pc)
{
	struct cond *c = C(pc);
	struct uco__waiter w;
	struct uco_task *t;
	uco_lock *lock;
	int r = check(pc);

	if (r)
		return r;
	/* Already cancelled or out of time: say so without letting go of
	 * the lock (the outcome is the same, minus a pointless wait for the
	 * lock to come back). */
	r = uco__enter(&t);
	if (r)
		return r;
	lock = c->lock;
	w = (struct uco__waiter){ .task = t };
	uco__list_add_tail(&c->waiters.head, &w.node);
	uco_lock_unlock(lock);
	r = uco__block(cond_unlink, &w, "condition");
	uco__lock_take_uninterruptible(uco__lock_of(lock));
	return r;
}

UCO_API int uco_cond_wait_for(uco_cond *pc, bool (*pred)(void *ctx),
			      void *ctx)
{
	int r = check(pc);

	if (r)
		return r;
	if (!pred)
		return -EINVAL;
	while (!pred(ctx)) {
		r = uco_cond_wait(pc);
		if (r)
			return r;
	}
	return 0;
}

UCO_API int uco_cond_notify(uco_cond *pc, unsigned n)
{
	int r = check(pc);
	int woken = 0;

	if (r)
		return r;
	while (n-- && woken < INT_MAX &&
	       uco__waitq_wake_one(&C(pc)->waiters, 0))
		woken++;
	return woken;
}

UCO_API int uco_cond_notify_all(uco_cond *pc)
{
	return uco_cond_notify(pc, UINT_MAX);
}
