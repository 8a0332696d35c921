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

/*
 * Run fn(arg) on a pool thread and wait for it.  Suspends.  Returns 0 with
 * *result (if not NULL) set to what fn returned, -ENOMEM, or -ECANCELED /
 * -ETIMEDOUT at once if the caller is cancelled or times out: fn cannot be
 * interrupted, so it finishes in the background and its result is dropped
 * (`cleanup`, if not NULL, is then called with arg and fn's result on the
 * caller's core once fn returns, so whatever was passed can be freed; arg
 * must stay valid until then).  The runtime waits for abandoned calls at
 * shutdown, so a function that never returns keeps uco_run() from
 * returning.
 */
UCO_API int uco_to_thread(void *(*fn)(void *arg), void *arg, void **result,
			  void (*cleanup)(void *arg, void *result));

#endif
