/*
 * Lock: a flag and a FIFO wait list, per core.
 *
 * Direct hand-off.  uco_lock_unlock() with waiters present does not clear
 * the flag: it unlinks the first waiter and wakes it with 0, which means
 * "you hold the lock now".  The lock never looks free while a waiter is
 * lined up, so a task that calls uco_lock_lock() between the hand-off and
 * the moment the woken waiter runs queues up behind instead of stealing
 * it.  Hence the invariant: !locked implies no waiters, and the fast path
 * is one test of the flag.
 *
 * A waiter that is cancelled or times out is unlinked by uco__block()'s
 * interrupt before any hand-off reached it: it returns the error and holds
 * nothing, and the lock stays with whoever holds it.  A waiter already
 * handed the lock was unlinked and readied with 0; a cancel arriving after
 * that does not change its result (core/wait.h), so it returns 0 and
 * holds the lock: the lock is never held by a task that was told it did
 * not get it, and no hand-off is ever dropped.  Woken waiters do not read
 * the lock again, so it may be destroyed right after the last unlock.
 */
#include "core/cleanup.h"
#include "lock_impl.h"

#include <stdio.h>
#include <stdlib.h>

UCO__OPAQUE_FITS(uco_lock, struct uco__lock);

#define L(l) uco__lock_of(l)

UCO_API int uco_lock_init(uco_lock *pl)
{
	struct uco__lock *l = L(pl);

	if (!pl)
		return -EINVAL;
	if (!uco__tls_loop)
		return -EPERM;
	uco__waitq_init(&l->waiters);
	l->loop = uco__tls_loop;
	l->locked = false;
	return 0;
}

UCO_API void uco_lock_destroy(uco_lock *pl)
{
	if (!pl)
		return;
	if (!uco__waitq_empty(&L(pl)->waiters)) {
		fprintf(stderr, "uco: uco_lock_destroy() on a lock that tasks "
				"are waiting on\n");
		abort();
	}
	L(pl)->loop = NULL;
}

UCO_API int uco_lock_lock(uco_lock *pl)
{
	struct uco__lock *l = L(pl);
	int r;

	if (__builtin_expect(!pl, 0))
		return -EINVAL;
	r = uco__home_check(l->loop);
	if (__builtin_expect(r != 0, 0))
		return r;
	if (__builtin_expect(!l->locked, 1)) {
		l->locked = true;
		return 0;
	}
	/* Woken with 0 only by a hand-off from unlock. */
	return uco__waitq_wait(&l->waiters, "lock");
}

UCO_API int uco_lock_try_lock(uco_lock *pl)
{
	struct uco__lock *l = L(pl);
	int r;

	if (!pl)
		return -EINVAL;
	r = uco__home_check(l->loop);
	if (r)
		return r;
	if (l->locked)
		return -EAGAIN;
	l->locked = true;
	return 0;
}

UCO_API int uco_lock_unlock(uco_lock *pl)
{
	struct uco__lock *l = L(pl);
	int r;

	if (__builtin_expect(!pl, 0))
		return -EINVAL;
	r = uco__home_check(l->loop);
	if (__builtin_expect(r != 0, 0))
		return r;
	if (__builtin_expect(!l->locked, 0))
		return -EPERM;
	/* Hand over to the first waiter, or free the lock. */
	if (!uco__waitq_wake_one(&l->waiters, 0))
		l->locked = false;
	return 0;
}

UCO_API bool uco_lock_locked(const uco_lock *pl)
{
	return ((const struct uco__lock *)(const void *)pl)->locked;
}

void uco__lock_take_uninterruptible(struct uco__lock *l)
{
	struct uco__cleanup c;

	if (!l->locked) {
		l->locked = true;
		return;
	}
	/* A clean-up wait: neither a cancel nor a deadline cuts it short, so
	 * only unlock's hand-off ends it (with the lock). */
	uco__cleanup_begin(&c);
	(void)uco__waitq_wait(&l->waiters, "lock (condition reacquire)");
	uco__cleanup_end(&c);
}
