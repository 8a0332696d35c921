/*
 * uco/condition.h — condition variables between tasks of one core
 * (asyncio.Condition): wait, with a uco_lock held, until another task
 * notifies.
 *
 * A condition is tied to a uco_lock: either one the caller passes (several
 * conditions may share it) or its own, embedded in it.  Waiting and
 * notifying require that lock to be held (locks have no owner, so "held"
 * means locked; -EPERM otherwise).  uco_cond_wait() releases the lock,
 * waits for a notify, then takes the lock again before it returns — always,
 * even when the wait ends in a cancel or a timeout (as asyncio's does):
 * that last step waits as long as the lock is held elsewhere and is not
 * cut short by a cancel or a timeout scope (the cancel is kept and shows
 * at the next suspending call).  So the caller holds the lock whatever
 * uco_cond_wait() returns (except the argument errors, which return at
 * once with the lock untouched).
 *
 * A uco_cond is embedded where it is needed and set up with
 * uco_cond_init(): no allocation.  Its bytes are private; it must not be
 * copied or moved while initialised.  Per core: calls from another core
 * return -EXDEV.
 *
 * Notifying wakes waiters in the order they began waiting.  A waiter
 * cancelled or timed out before a notify reached it leaves the list
 * without taking that notify from anyone (a notify(1) then wakes the next
 * waiter); a waiter that was notified returns 0 even if cancelled before
 * it runs again.  As everywhere, wake-ups are hints: re-check the state
 * (uco_cond_wait_for() does).
 */
#ifndef UCO_CONDITION_H
#define UCO_CONDITION_H

#include <uco/common.h>
#include <uco/lock.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef union uco_cond {
	unsigned char uco_opaque_[64];
	void *uco_align_;
} uco_cond;

/*
 * Set up c on the caller's core, tied to `lock` (initialised, same core),
 * or to a lock of its own if lock is NULL.  Does not suspend.  Returns 0,
 * -EINVAL (c NULL),
 * -EXDEV (lock of another core), -EPERM (outside uco_run).
 */
UCO_API int uco_cond_init(uco_cond *c, uco_lock *lock);

/* Tear c down (and its own lock).  Does not suspend.  Nobody may be
 * waiting on it (checked: that aborts with a message).  NULL is a no-op. */
UCO_API void uco_cond_destroy(uco_cond *c);

/* The lock c is tied to (c's, or the caller's passed to init): take it
 * with uco_lock_lock() or UCO_WITH_LOCK.  Does not suspend. */
UCO_API uco_lock *uco_cond_lock(uco_cond *c);

/*
 * Release the lock, wait for a notify, take the lock again.  Suspends.
 * Returns 0 (notified), -ECANCELED, -ETIMEDOUT — in all three cases with
 * the lock held again; or, returning at once with nothing changed,
 * -EPERM (lock not held, or outside a task), -EINVAL, -EXDEV.
 */
UCO_MUST_USE
UCO_API int uco_cond_wait(uco_cond *c);

/*
 * Wait until pred(ctx) is true: test it, and uco_cond_wait() while it is
 * false.  Returns 0 (pred true, lock held), or uco_cond_wait()'s error
 * (-ECANCELED / -ETIMEDOUT with the lock held).  pred runs with the lock
 * held.  Suspends.
 */
UCO_MUST_USE
UCO_API int uco_cond_wait_for(uco_cond *c, bool (*pred)(void *ctx),
			      void *ctx);

/* Wake up to n waiters (oldest first).  The lock must be held.  Returns how
 * many were woken, or -EPERM (lock not held), -EINVAL, -EXDEV.  Does not
 * suspend. */
UCO_API int uco_cond_notify(uco_cond *c, unsigned n);

/* Wake every waiter.  Same results; does not suspend. */
UCO_API int uco_cond_notify_all(uco_cond *c);

#ifdef __cplusplus
}
#endif

#endif
