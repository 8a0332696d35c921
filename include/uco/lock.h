/*
 * uco/lock.h — a mutual-exclusion lock between tasks of one core
 * (asyncio.Lock).
 *
 * A uco_lock is embedded wherever it is needed (a struct member, a local
 * of a task) and set up with uco_lock_init(): no allocation.  Its bytes
 * are private.  It must not be copied or moved while initialised.
 *
 * Like asyncio's, the lock is not owned by a task: any task of the core
 * may unlock it (unlocking an unlocked lock is an error, -EPERM).
 *
 * Per core: a lock belongs to the core it was initialised on and may only
 * be used by tasks running there (it has no atomics); any call from
 * another core returns -EXDEV.
 *
 * Fairness and cancellation: waiters get the lock in the order they asked.
 * Unlocking with waiters present hands the lock straight to the first of
 * them (it stays locked in between), so a task that asks later cannot
 * barge in before the waiter runs.  A waiter that is cancelled or times out
 * before the hand-off leaves the line without the lock (-ECANCELED /
 * -ETIMEDOUT); once handed the lock it holds it, and uco_lock_lock()
 * returns 0 even if a cancel arrives before it runs again (the cancel then
 * shows at its next suspending call) — so a lock is never left held by a
 * task that was told it did not get it.  A free lock is taken at once,
 * without suspending, even by a cancelled task (as asyncio's is).
 */
#ifndef UCO_LOCK_H
#define UCO_LOCK_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef union uco_lock {
	unsigned char uco_opaque_[32];
	void *uco_align_;
} uco_lock;

/* Set up l, unlocked, on the caller's core.  Does not allocate or
 * suspend.  Returns 0, -EINVAL (l NULL), -EPERM (outside uco_run). */
UCO_API int uco_lock_init(uco_lock *l);

/* Tear l down.  Does not suspend.  Nobody may be waiting on it (checked:
 * that aborts with a message); it may still be locked.  NULL is a no-op. */
UCO_API void uco_lock_destroy(uco_lock *l);

/*
 * Take l, waiting while another task holds it.  Suspends (only if l is
 * held).  Returns 0, -ECANCELED, -ETIMEDOUT (a timeout scope or
 * uco_wait_for expired while waiting), -EINVAL (l NULL), -EXDEV (other
 * core), -EPERM (would have to wait outside a task).
 */
UCO_MUST_USE
UCO_API int uco_lock_lock(uco_lock *l);

/* Take l if it is free.  Returns 0, -EAGAIN (held), -EINVAL, -EXDEV.  Does
 * not suspend. */
UCO_API int uco_lock_try_lock(uco_lock *l);

/* Release l (to the first waiter, if any).  Returns 0, -EPERM (l is not
 * locked), -EINVAL, -EXDEV.  Does not suspend. */
UCO_API int uco_lock_unlock(uco_lock *l);

/* Whether some task holds l.  Does not suspend. */
UCO_API bool uco_lock_locked(const uco_lock *l);

/*
 * UCO_WITH_LOCK(l, r) { body } — take l, run body, release l on every way
 * out of body.  `r` (an int lvalue) receives uco_lock_lock()'s result;
 * when it is negative (cancelled, timed out...) body is skipped:
 *
 *	int r;
 *	UCO_WITH_LOCK(&s->lock, r) {
 *		if (s->closed)
 *			return -EPIPE;      // unlocks, then returns
 *		s->count++;
 *	}
 *	if (r < 0)
 *		return r;
 *
 * Leaving body by falling off its end, `return`, `break` or a `goto` out of
 * it releases l (a cleanup attribute, so even a `return` whose value is
 * computed under the lock).  Limits:
 *   - it is a one-pass loop: `break` and `continue` inside body leave body
 *     (releasing l); they do not reach a loop around UCO_WITH_LOCK;
 *   - longjmp() out of body, and ending the thread, skip the release;
 *   - do not unlock l yourself inside body (it would be released twice);
 *   - body runs in the calling task; suspending calls inside it are fine.
 * Nested UCO_WITH_LOCKs (of different locks) are fine.
 */
static inline uco_lock *uco_lock_scope_begin_(uco_lock *l, int *r)
{
	*r = uco_lock_lock(l);
	return *r == 0 ? l : (uco_lock *)0;
}

static inline void uco_lock_scope_end_(uco_lock **held)
{
	if (*held) {
		uco_lock_unlock(*held);
		*held = (uco_lock *)0;
	}
}

#define UCO_LOCK_CAT2_(a, b) a##b
#define UCO_LOCK_CAT_(a, b) UCO_LOCK_CAT2_(a, b)
#define UCO_WITH_LOCK_(l, r, held)                                            \
	for (uco_lock *held __attribute__((cleanup(uco_lock_scope_end_))) =  \
		     uco_lock_scope_begin_((l), &(r));                        \
	     held; uco_lock_scope_end_(&held))
#define UCO_WITH_LOCK(l, r)                                                   \
	UCO_WITH_LOCK_(l, r, UCO_LOCK_CAT_(uco_with_lock_held_, __COUNTER__))

#ifdef __cplusplus
}
#endif

#endif
