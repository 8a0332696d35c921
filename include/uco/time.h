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

/* CLOCK_MONOTONIC now, in nanoseconds.  Does not suspend; works anywhere. */
UCO_API uint64_t uco_now(void);

/*
 * Sleep for ns nanoseconds (see "Order of wake-ups" below).  Suspends.  Returns 0,
 * -ECANCELED, or -ETIMEDOUT if a timeout scope expires first.  uco_sleep(0)
 * is uco_yield().
 */
UCO_MUST_USE
UCO_API int uco_sleep(uint64_t ns);

/* Sleep until the absolute CLOCK_MONOTONIC time `deadline`.  Same results. */
UCO_MUST_USE
UCO_API int uco_sleep_until(uint64_t deadline);

/*
 * Order of wake-ups (asyncio's rule): sleeps wait in their loop's timer
 * heap, not as one kernel timer each.  Each time the loop looks at its
 * timers (once per pass, after running what is ready and before waiting
 * for completions), every sleep whose deadline has passed is woken in that
 * one batch, earliest deadline first, and they all run before any task
 * they make ready (a permit released, an event set) — so three tasks that
 * slept 1 s under a semaphore of 2 print in asyncio's order: both holders
 * wake and finish before the third starts.  A loop with nothing else to do
 * waits until 200 us past the earliest deadline before it looks, so sleeps
 * due within 200 us of each other wake together even when they were
 * started a few microseconds apart.  Sleeps due at the same nanosecond
 * wake in no defined order between them.  A sleep never ends before its
 * deadline, and on an idle loop ends about 200 us after it (the kernel's
 * own timer slack is 50 us); a busy loop looks at every pass.
 * (Should the heap be unable to grow, the sleep falls back to an
 * IORING_OP_TIMEOUT and wakes with its completion.)
 * Timer callbacks (uco/callback.h: call_later, call_at) wait in the same
 * heap and follow the same rule: the batch holds the sleeps and the
 * callbacks due, earliest deadline first; a callback runs at its turn in
 * the batch, the woken tasks after the whole batch, in deadline order.
 * call_soon callbacks run just before the batch, first in first out.
 */

/*
 * Submit an IORING_OP_NOP and wait for its completion.  Suspends.  Returns 0
 * or -ECANCELED / -ETIMEDOUT.  Useful to measure the runtime itself.
 */
UCO_MUST_USE
UCO_API int uco_nop(void);

/*
 * Open a timeout scope that expires ns from now (uco_timeout_at(): at the
 * absolute CLOCK_MONOTONIC time `deadline`; one already past makes the next
 * suspending call return -ETIMEDOUT at once).  Does not suspend, and is not
 * affected by cancellation.  Returns a scope number to pass to
 * uco_timeout_expired() and uco_timeout_end(); -E2BIG when
 * UCO_TIMEOUT_DEPTH scopes are already open in the task; -EPERM outside a
 * task.  The scope belongs to the calling task: end it in that task, in
 * the reverse order of opening (ending one ends those opened inside it).
 */
UCO_API int uco_timeout_begin(uint64_t ns);
UCO_API int uco_timeout_at(uint64_t deadline);

/*
 * Whether the open scope `scope` has cut a call short: 1 if a suspending
 * call of this task returned -ETIMEDOUT while the scope's deadline had
 * passed (the scope, or another open one whose deadline had passed too,
 * was the reason), 0 if not (yet).  This is asyncio's Timeout.expired(),
 * what a caller branches on to tell "my timeout stopped the work" from "the
 * work failed, or finished, after the deadline".  Ask before
 * uco_timeout_end(), which forgets it.  Does not suspend.  Returns 1 or 0;
 * -EINVAL if `scope` is not open in this task; -EPERM outside a task.
 */
UCO_API int uco_timeout_expired(int scope);

/*
 * Close the scope `scope` and any left open inside it.  Does not suspend,
 * and is not affected by cancellation.  Returns 0; -ETIMEDOUT if its
 * deadline has passed, whether or not it cut anything short (a scope whose
 * work finished just after the deadline reports -ETIMEDOUT here and 0 from
 * uco_timeout_expired()); -EINVAL if it is not open; -EPERM outside a
 * task.  Either 0 or -ETIMEDOUT, the scope is closed.
 */
UCO_API int uco_timeout_end(int scope);

/* The deadline the running task is under (UINT64_MAX if none, or outside a
 * task).  Does not suspend. */
UCO_API uint64_t uco_deadline(void);

/*
 * asyncio.wait_for(fn(arg), timeout): run fn(arg) in the calling task inside
 * a timeout scope of ns, opened before fn and closed after it.  For a single
 * operation, fn is that operation: it is submitted linked to an
 * IORING_OP_LINK_TIMEOUT.  Suspends if fn does (it runs fn directly, in the
 * caller's task, and adds no suspension of its own).
 *
 * Returns what fn returned, except that a negative result is reported as
 * -ETIMEDOUT when this scope cut one of fn's calls short
 * (uco_timeout_expired()); a success is returned even if the deadline
 * passed.  Without calling fn: -E2BIG when UCO_TIMEOUT_DEPTH scopes are
 * already open in the task, -EPERM outside a task.  The scope nests in the
 * caller's: an outer scope with a nearer deadline cuts fn's calls short
 * first, and fn's -ETIMEDOUT is then returned as it is (the outer scope
 * reports it).  The caller's own cancellation is not turned into a
 * timeout: fn's calls return -ECANCELED, and wait_for returns what fn
 * returns (-ETIMEDOUT only if this scope had already cut one of fn's calls
 * short).  arg is fn's; a call cut short releases its buffers before it
 * returns.
 */
UCO_MUST_USE
UCO_API int uco_wait_for(uint64_t ns, int (*fn)(void *arg), void *arg);

/*
 * asyncio.wait_for(task, timeout): wait up to ns for t to finish.  On expiry
 * t is cancelled and joined, and -ETIMEDOUT is returned — unless t finished
 * anyway while being cancelled, in which case its outcome is returned.  If
 * the caller is cancelled (or an outer scope expires) while waiting, t is
 * cancelled and joined too, and -ECANCELED (-ETIMEDOUT) is returned.
 * Otherwise as uco_join().  Suspends.
 */
UCO_MUST_USE
UCO_API int uco_wait_for_task(uco_task *t, uint64_t ns, void **result);

/*
 * asyncio.wait_for(coro, timeout) for a task function: spawn fn(arg) as a
 * task on the caller's core and uco_wait_for_task() it for ns, then
 * release it.  Suspends.  Returns 0 with *result (if not NULL) set to what
 * fn returned (yours now: a free_result does not apply here), fn's error
 * (uco_fail), -ETIMEDOUT (fn was cancelled and joined), -ECANCELED (the
 * caller was: fn is cancelled and joined too), or uco_spawn()'s errors.
 * *result is NULL on every error.
 */
UCO_MUST_USE
UCO_API int uco_wait_for_fn(uint64_t ns, uco_fn fn, void *arg,
			    void **result);

#ifdef __cplusplus
}
#endif

#endif
