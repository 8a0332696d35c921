/*
 * uco/time.h — the clock, sleeping, and timeouts.
 *
 * Times are nanoseconds of CLOCK_MONOTONIC.
 *
 * Timeout scopes are asyncio.timeout() / Trio's fail_after: while a scope is
 * open in a task, every operation the task submits to the kernel carries a
 * linked timeout (IOSQE_IO_LINK + IORING_OP_LINK_TIMEOUT) for the time left,
 * and every wait on a runtime object (join, future, lock, queue...) is
 * bounded the same way.  When the deadline passes, the call in progress
 * returns -ETIMEDOUT, and so does every later suspending call until the
 * scope is closed.  Scopes nest (at most UCO_TIMEOUT_DEPTH per task); the
 * nearest deadline wins.  An operation that completed although its timer
 * fired delivers its result, not a timeout.
 */
#ifndef UCO_TIME_H
#define UCO_TIME_H

#include <uco/common.h>
#include <uco/task.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UCO_TIMEOUT_DEPTH 8

/* CLOCK_MONOTONIC now, in nanoseconds. */
UCO_API uint64_t uco_now(void);

/*
 * Sleep for ns nanoseconds (an IORING_OP_TIMEOUT).  Suspends.  Returns 0,
 * -ECANCELED, or -ETIMEDOUT if a timeout scope expires first.  uco_sleep(0)
 * is uco_yield().
 */
UCO_API int uco_sleep(uint64_t ns);

/* Sleep until the absolute CLOCK_MONOTONIC time `deadline`.  Same results. */
UCO_API int uco_sleep_until(uint64_t deadline);

/*
 * Submit an IORING_OP_NOP and wait for its completion.  Suspends.  Returns 0
 * or -ECANCELED / -ETIMEDOUT.  Useful to measure the runtime itself.
 */
UCO_API int uco_nop(void);

/*
 * Open a timeout scope that expires ns from now (uco_timeout_at(): at an
 * absolute time).  Returns a scope number to pass to uco_timeout_end(), or
 * -E2BIG when UCO_TIMEOUT_DEPTH scopes are already open, or -EPERM outside a
 * task.  Does not suspend.
 */
UCO_API int uco_timeout_begin(uint64_t ns);
UCO_API int uco_timeout_at(uint64_t deadline);

/*
 * Close the scope `scope` (and any left open inside it).  Returns 0, or
 * -ETIMEDOUT if its deadline has passed (asyncio's Timeout.expired()),
 * -EINVAL if it is not open.
 */
UCO_API int uco_timeout_end(int scope);

/* The deadline the running task is under (UINT64_MAX if none). */
UCO_API uint64_t uco_deadline(void);

/*
 * asyncio.wait_for(fn(arg), timeout): run fn(arg) in the calling task inside
 * a timeout scope of ns.  Returns what fn returned, except that a negative
 * result after the deadline passed is reported as -ETIMEDOUT.  For a single
 * operation, fn is that operation: it is submitted linked to an
 * IORING_OP_LINK_TIMEOUT.
 */
UCO_API int uco_wait_for(uint64_t ns, int (*fn)(void *arg), void *arg);

/*
 * asyncio.wait_for(task, timeout): wait up to ns for t to finish.  On expiry
 * t is cancelled and joined, and -ETIMEDOUT is returned — unless t finished
 * anyway while being cancelled, in which case its outcome is returned.  If
 * the caller is cancelled (or an outer scope expires) while waiting, t is
 * cancelled and joined too, and -ECANCELED (-ETIMEDOUT) is returned.
 * Otherwise as uco_join().  Suspends.
 */
UCO_API int uco_wait_for_task(uco_task *t, uint64_t ns, void **result);

#ifdef __cplusplus
}
#endif

#endif
