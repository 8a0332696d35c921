/*
 * uco/barrier.h — a barrier between tasks of one core (asyncio.Barrier):
 * `parties` tasks wait until all of them have arrived, then all go on.
 *
 * uco_barrier_wait() returns the caller's arrival index, 0 for the first
 * to arrive up to parties - 1 for the last, which releases the others
 * without suspending itself.  The barrier is then at once ready for the
 * next round (the released tasks do not need to run first).
 *
 * Broken barrier (-EPIPE, asyncio's BrokenBarrierError): uco_barrier_abort()
 * breaks it; so does a waiter that is cancelled or times out while
 * waiting — the round cannot complete without it, so rather than leave
 * the others waiting for a party that already left, every waiter wakes
 * with -EPIPE (threading.Barrier's rule for a timeout; asyncio's Barrier
 * only takes the cancelled party off the count, which can leave the rest
 * waiting forever).  The cancelled waiter itself returns -ECANCELED /
 * -ETIMEDOUT.  A task that is already cancelled (or out of time) when it
 * calls uco_barrier_wait() does not arrive and breaks nothing.  While
 * broken, every wait fails with -EPIPE at once, until uco_barrier_reset().
 * A waiter released by the last arrival keeps its index even if cancelled
 * before it runs again.
 *
 * A uco_barrier is embedded where it is needed and set up with
 * uco_barrier_init(): no allocation.  Its bytes are private; it must not be
 * copied or moved while initialised.  Per core: calls from another core
 * return -EXDEV.  Released waiters do not read the barrier again.
 */
#ifndef UCO_BARRIER_H
#define UCO_BARRIER_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef union uco_barrier {
	unsigned char uco_opaque_[48];
	void *uco_align_;
} uco_barrier;

/* Set up b for `parties` tasks (at least 1) on the caller's core.  Does
 * not suspend or allocate.  Returns 0, -EINVAL (b NULL, parties 0 or above
 * INT_MAX), -EPERM (outside uco_run). */
UCO_API int uco_barrier_init(uco_barrier *b, unsigned parties);

/* Tear b down.  Does not suspend.  Nobody may be waiting on it (checked:
 * that aborts with a message).  NULL is a no-op. */
UCO_API void uco_barrier_destroy(uco_barrier *b);

/*
 * Arrive and wait for the others.  Suspends (except the last arrival).
 * Returns the arrival index (>= 0), -EPIPE (broken, before or while
 * waiting), -ECANCELED / -ETIMEDOUT (and the barrier is broken for the
 * others), -EINVAL, -EXDEV, -EPERM (would have to wait outside a task).
 */
UCO_MUST_USE
UCO_API int uco_barrier_wait(uco_barrier *b);

/* Wake the tasks waiting now with -EPIPE and make b whole and empty again.
 * Returns 0, -EINVAL, -EXDEV.  Does not suspend. */
UCO_API int uco_barrier_reset(uco_barrier *b);

/* Break b: the tasks waiting now, and every later wait until a reset, get
 * -EPIPE.  Returns 0, -EINVAL, -EXDEV.  Does not suspend. */
UCO_API int uco_barrier_abort(uco_barrier *b);

/* Snapshots, none of which suspends: the parties b was set up for, the
 * tasks waiting in this round, and whether b is broken. */
UCO_API unsigned uco_barrier_parties(const uco_barrier *b);
UCO_API unsigned uco_barrier_n_waiting(const uco_barrier *b); /* this round */
UCO_API bool uco_barrier_broken(const uco_barrier *b);

#ifdef __cplusplus
}
#endif

#endif
