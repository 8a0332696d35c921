/*
 * uco/offload.h — running blocking code off the loop (asyncio.to_thread).
 *
 * A small pool of threads per runtime runs blocking functions; the loop that
 * asked is woken through its io_uring when the call finishes, never by
 * polling.
 */
#ifndef UCO_OFFLOAD_H
#define UCO_OFFLOAD_H

#include <uco/common.h>
#include <uco/task.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Run fn(arg) on a pool thread and wait for it.  Suspends.  Returns 0 with
 * *result (if not NULL) set to what fn returned, or a negative errno:
 * -ECANCELED / -ETIMEDOUT at once if the caller is (or gets) cancelled or
 * times out, -ENOMEM, -EAGAIN (no thread could be started), -EINVAL (fn is
 * NULL), -EPERM (outside a task).  fn cannot be interrupted: a call cut
 * short finishes in the background and its result is dropped.
 *
 * Ownership of arg: after 0, the caller has it back.  After an error, the
 * caller must not touch arg again: `cleanup` (if not NULL) is called
 * exactly once to release it — at once, with a NULL result, when fn never
 * started (a call cut short while still queued is taken off the queue, and
 * fn never runs: its cleanup may run inside the uco_cancel() that cut it
 * short); or on the caller's core with fn's result once an abandoned fn
 * returns (arg must stay valid until then).  cleanup runs outside any task
 * (suspending calls in it return -EPERM; uco_close() still closes).  The runtime waits for
 * abandoned calls at shutdown, so a function that never returns keeps
 * uco_run() from returning.
 */
UCO_MUST_USE
UCO_API int uco_to_thread(void *(*fn)(void *arg), void *arg, void **result,
			  void (*cleanup)(void *arg, void *result));

/*
 * asyncio.create_task(asyncio.to_thread(fn, arg)): start fn(arg) on a pool
 * thread as a task, so that join, gather, wait, wait_for_task,
 * as_completed and cancel all work on it.  *out (if not NULL) receives a
 * reference, as from uco_spawn() (NULL: detached); opts as uco_spawn()'s
 * (the name; free_result is also called on the result of a call cut short
 * that comes back later).  The task's result is what fn returned.  Does
 * not suspend.  Returns 0, -EINVAL (fn NULL), -ENOMEM, -EPERM.
 *
 * Cancelling the task: a call still queued is taken off the queue and fn
 * never runs; a running fn cannot be interrupted, so the task ends at once
 * with -ECANCELED and fn finishes in the background (its result goes to
 * free_result; arg must stay valid until then, as for uco_to_thread()).
 */
UCO_MUST_USE
UCO_API int uco_spawn_thread(uco_task **out,
			     void *(*fn)(void *arg), void *arg,
			     const uco_spawn_opts *opts);

#ifdef __cplusplus
}
#endif

#endif
