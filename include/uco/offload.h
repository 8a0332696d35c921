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
UCO_API int uco_to_thread(void *(*fn)(void *arg), void *arg, void **result,
			  void (*cleanup)(void *arg, void *result));

#ifdef __cplusplus
}
#endif

#endif
