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
UCO_MUST_USE
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

/*
 * UCO_WITH_SEM(s, r) { body } — `async with sem:`: take a permit of s, run
 * body, give the permit back on every way out of body.  `r` (an int
 * lvalue) receives uco_sem_acquire()'s result; when it is negative
 * (cancelled, timed out...) body is skipped and nothing is released:
 *
 *	int r;
 *	UCO_WITH_SEM(&sem, r) {
 *		if (uco_sleep(UCO_NSEC_PER_SEC) < 0)
 *			return NULL;        // releases, then returns
 *	}
 *	if (r < 0)
 *		return uco_fail(r);
 *
 * The same rules and limits as UCO_WITH_LOCK (uco/lock.h): falling off
 * the end, `return`, `break` or a `goto` out of body release the permit
 * (a cleanup attribute); it is a one-pass loop, so `break` and `continue`
 * leave body; longjmp() skips the release; do not release s yourself
 * inside body.  Suspends as uco_sem_acquire() does.
 */
static inline uco_sem *uco_sem_scope_begin_(uco_sem *s, int *r)
{
	*r = uco_sem_acquire(s);
	return *r == 0 ? s : (uco_sem *)0;
}

static inline void uco_sem_scope_end_(uco_sem **held)
{
	if (*held) {
		(void)uco_sem_release(*held);
		*held = (uco_sem *)0;
	}
}

#define UCO_SEM_CAT2_(a, b) a##b
#define UCO_SEM_CAT_(a, b) UCO_SEM_CAT2_(a, b)
#define UCO_WITH_SEM_(s, r, held)                                             \
	for (uco_sem *held __attribute__((cleanup(uco_sem_scope_end_))) =    \
		     uco_sem_scope_begin_((s), &(r));                         \
	     held; uco_sem_scope_end_(&held))
#define UCO_WITH_SEM(s, r)                                                    \
	UCO_WITH_SEM_(s, r, UCO_SEM_CAT_(uco_with_sem_held_, __COUNTER__))

#ifdef __cplusplus
}
#endif

#endif
