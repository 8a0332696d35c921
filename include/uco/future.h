/*
 * uco/future.h — futures (asyncio.Future): a one-shot result that one task
 * sets and any number of tasks on the same core wait for.
 */
#ifndef UCO_FUTURE_H
#define UCO_FUTURE_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_future uco_future;

/* Create a pending future on the caller's core.  Returns 0, -ENOMEM, -EPERM. */
UCO_API int uco_future_create(uco_future **out);

/* Complete f with a result, an error (negative), or as cancelled.  Wakes
 * every waiter.  Returns 0, or -EALREADY if f is already done. */
UCO_API int uco_future_set_result(uco_future *f, void *result);
UCO_API int uco_future_set_error(uco_future *f, int err);
UCO_API int uco_future_cancel(uco_future *f);

/*
 * Wait for f.  Suspends.  Returns 0 with *result set, f's error,
 * -ECANCELED (f cancelled, or the caller cancelled), or -ETIMEDOUT.
 */
UCO_API int uco_future_wait(uco_future *f, void **result);

UCO_API bool uco_future_done(const uco_future *f);

/* Free f.  Nobody may be waiting on it (checked: that aborts with a
 * message); once it is done it may be freed at once, even before the
 * woken waiters have run (they got the outcome when woken).  NULL is a
 * no-op. */
UCO_API void uco_future_free(uco_future *f);

#ifdef __cplusplus
}
#endif

#endif
