/*
 * uco/callback.h — timer callbacks: asyncio's loop.call_soon, call_later
 * and call_at.
 *
 * A callback is a plain function the loop calls itself, between tasks: it
 * has no task and no stack of its own, and costs one small record while
 * pending (64 bytes for a timed one, 48 for a soon one: core/callback.h).
 * It runs on the core that armed it, in the scheduler's own context, so it
 * must not suspend: a suspending call made in it returns -EPERM (there is
 * no task to suspend).  Everything that does not suspend works, and these
 * are what callbacks are for: set a future (uco_future_set_result), spawn
 * a task (uco_spawn: it starts after the batch), set an event, arm another
 * callback or the same function again.
 *
 * asyncio's loop.call_later(0.1, fut.set_result, 42), in uco:
 *
 *     static void finish(void *f) { uco_future_set_result(f, &answer); }
 *     ...
 *     uco_future *f;
 *     uco_future_create(&f);
 *     uco_call_later(100 * UCO_NSEC_PER_MSEC, finish, f, NULL);
 *     r = uco_future_wait(f, &res);   (res == &answer, 0.1 s later)
 *
 * When they run (asyncio's order; uco/time.h, "Order of wake-ups"):
 *   - call_soon callbacks run first in first out, in the loop's next look
 *     at its timers (once per pass, after the ready tasks have run).  One
 *     armed by a callback runs in the pass after, never in the same one,
 *     so a callback that keeps re-arming itself with call_soon lets the
 *     tasks and the ring have their turn between its runs.
 *   - call_later / call_at callbacks wait in the loop's timer heap with the
 *     sleeping tasks.  Each look runs every callback, and wakes every
 *     sleep, whose deadline has passed, in one batch, earliest deadline
 *     first (same-nanosecond deadlines in no defined order between them).
 *     A callback runs right when its turn in the batch comes; a sleep's
 *     task is queued then and runs after the whole batch, in deadline
 *     order, as asyncio runs a timer's callbacks before the tasks they
 *     wake.  The call_soon callbacks queued before the look run before
 *     the batch.  A callback armed during a batch, even for a deadline
 *     already past, runs in a later look, not in this batch.
 *   - a callback never runs before its deadline; an idle loop looks about
 *     200 us after the earliest deadline (uco/time.h), a busy one at every
 *     pass.
 *
 * Handles (the convention of uco_spawn): *out, when out is not NULL,
 * receives a reference to the callback, which keeps its record valid until
 * it is dropped with uco_callback_release(), before or after the callback
 * ran; with out NULL the callback is fire-and-forget and its record is
 * freed once it ran or was dropped.  The runtime frees a record when the
 * last of its two references goes: the pending one (held until the
 * callback returns, is cancelled, or is dropped at shutdown) and the
 * handle.  `arg` is never freed by uco: whoever cancels a callback
 * successfully (uco_callback_cancel() returned 1) owns arg again.
 *
 * Cores: a callback is armed on the caller's core and runs there; there
 * is no call to arm one on another core (asyncio's call_soon_threadsafe):
 * spawn a task there (uco_spawn_on) and arm it from that task.  A handle
 * is cancelled on its callback's core (-EXDEV from another, nothing
 * changes) and released there (or anywhere after uco_run returned);
 * uco_callback_pending() from another core is a racy read.  No locks,
 * no atomics: a callback costs no more than a heap insertion.
 *
 * Shutdown: pending callbacks do not keep the runtime alive, as asyncio's
 * do not keep asyncio.run() going: once main has returned and no task is
 * left on any core (uco_run's shutdown, uco/runtime.h), the loops end and
 * the callbacks still pending, timed or soon, are dropped without running,
 * like loop.close() after asyncio.run().  Until then they run as usual,
 * while the remaining tasks wind down.  A dropped callback's arg is not
 * freed: a program that must free it keeps a handle, or cancels the
 * callback before it returns.
 */
#ifndef UCO_CALLBACK_H
#define UCO_CALLBACK_H

#include <stdbool.h>
#include <stdint.h>

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_callback uco_callback;

/* A callback: runs on the loop with no task; must not suspend. */
typedef void (*uco_callback_fn)(void *arg);

/*
 * asyncio's loop.call_soon(fn, arg): run fn(arg) at the loop's next look,
 * after the call_soon callbacks armed before it (FIFO).  Does not suspend;
 * works in a task, in a callback, and in a cancelled task (a callback is
 * not cancelled with its caller).  *out (if out is not NULL) receives a
 * reference (see the top of this file).  Returns 0; -EINVAL if fn is NULL;
 * -ENOMEM; -EPERM on a thread that is not one of uco_run's loops.
 */
UCO_API int uco_call_soon(uco_callback_fn fn, void *arg, uco_callback **out);

/*
 * asyncio's loop.call_later(ns, fn, arg): run fn(arg) once ns nanoseconds
 * have passed (see "When they run" above).  0 runs it at the next look, in
 * deadline order with the other due timers.  Does not suspend.  Returns as
 * uco_call_soon().
 */
UCO_API int uco_call_later(uint64_t ns, uco_callback_fn fn, void *arg,
			   uco_callback **out);

/*
 * asyncio's loop.call_at(deadline, fn, arg): run fn(arg) once the
 * CLOCK_MONOTONIC time `deadline` (ns, uco_now()) has passed; a deadline
 * already past runs it at the next look.  UINT64_MAX never comes: the
 * callback stays pending until cancelled or dropped at shutdown.  Does not
 * suspend.  Returns as uco_call_soon().
 */
UCO_API int uco_call_at(uint64_t deadline, uco_callback_fn fn, void *arg,
			uco_callback **out);

/*
 * asyncio's Handle.cancel(): make sure cb never runs.  Returns 1 if it was
 * still pending (it will never run; its arg is the caller's again), 0 if it
 * has already run, is running (a callback cancelling itself), was
 * cancelled, or was dropped at shutdown; -EXDEV if the caller is not on
 * the core that armed cb (nothing changes); -EPERM on a thread that is not
 * a loop.  A callback may cancel another one due in the same batch: that
 * one does not run.  Does not suspend.  The handle stays valid (release it
 * as usual).
 */
UCO_API int uco_callback_cancel(uco_callback *cb);

/* Whether cb has neither run nor been cancelled or dropped (asyncio's
 * not-yet-run, not-cancelled).  Does not suspend. */
UCO_API bool uco_callback_pending(const uco_callback *cb);

/*
 * Drop the reference from uco_call_*() (a pending callback still runs).
 * The handle is invalid afterwards.  Call it on the core that armed cb
 * (from another loop it aborts with a message), or after uco_run returned.
 * Does not suspend.  NULL is a no-op.
 */
UCO_API void uco_callback_release(uco_callback *cb);

#ifdef __cplusplus
}
#endif

#endif
