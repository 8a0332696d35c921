/*
 * uco/semaphore.h — counting semaphores between tasks of one core
 * (asyncio.Semaphore and asyncio.BoundedSemaphore).
 *
 * A semaphore holds a number of permits: acquiring takes one, waiting while
 * there is none; releasing gives one back.  A bounded semaphore refuses a
 * release that would take it above its initial value (-EOVERFLOW) instead
 * of silently growing: that is a release without a matching acquire.
 *
 * A uco_sem is embedded where it is needed and set up with uco_sem_init()
 * or uco_sem_init_bounded(): no allocation.  Its bytes are private; it must
 * not be copied or moved while initialised.  Per core, like every sync
 * primitive: calls from another core return -EXDEV.
 *
 * Fairness and cancellation: waiters get permits in the order they asked.
 * A release with waiters present hands its permit straight to the first
 * of them (the count stays 0), so a later acquirer cannot take it before
 * the waiter runs.  A waiter cancelled or timed out before the hand-off
 * leaves the line holding nothing; once handed a permit it holds it and
 * uco_sem_acquire() returns 0 even if a cancel arrives before it runs
 * again.  So permits are never lost and never held beyond the count.  A
 * free permit is taken without suspending, even by a cancelled task.
 */
#ifndef UCO_SEMAPHORE_H
#define UCO_SEMAPHORE_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef union uco_sem {
	unsigned char uco_opaque_[32];
	void *uco_align_;
} uco_sem;

/*
 * Set up s with `value` permits on the caller's core; the bounded variant
 * also makes `value` its ceiling.  Does not suspend.  Returns 0, -EINVAL
 * (s NULL, or value above INT_MAX), -EPERM (outside uco_run).
 */
UCO_API int uco_sem_init(uco_sem *s, unsigned value);
UCO_API int uco_sem_init_bounded(uco_sem *s, unsigned value);

/* Tear s down.  Does not suspend.  Nobody may be waiting on it (checked:
 * that aborts with a message).  NULL is a no-op. */
UCO_API void uco_sem_destroy(uco_sem *s);

/*
 * Take a permit, waiting while there is none.  Suspends (only if it has
 * to wait).  Returns 0, -ECANCELED, -ETIMEDOUT, -EINVAL (s NULL), -EXDEV
 * (other core), -EPERM (would have to wait outside a task).
 */
UCO_API int uco_sem_acquire(uco_sem *s);

/* Take a permit if one is free: 0, -EAGAIN, -EINVAL, -EXDEV.  Does not
 * suspend. */
UCO_API int uco_sem_try_acquire(uco_sem *s);

/*
 * Give a permit back (to the first waiter, if any).  Returns 0,
 * -EOVERFLOW (bounded and already at its initial value; or the count
 * would pass INT_MAX), -EINVAL, -EXDEV.  Does not suspend.
 */
UCO_API int uco_sem_release(uco_sem *s);

/* Free permits now.  Does not suspend. */
UCO_API unsigned uco_sem_value(const uco_sem *s);

/* True if an acquire would have to wait (asyncio's locked()).  Does not
 * suspend. */
UCO_API bool uco_sem_locked(const uco_sem *s);

#ifdef __cplusplus
}
#endif

#endif
