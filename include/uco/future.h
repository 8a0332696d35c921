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

/* Create a pending future on the caller's core.  Does not suspend.
 * Returns 0 with *out set, to free with uco_future_free(); -ENOMEM,
 * -EPERM. */
UCO_API int uco_future_create(uco_future **out);

/* Complete f with a result, an error (negative), or as cancelled.  Wakes
 * every waiter.  Does not suspend.  Call from a task on f's core (not
 * checked).  The result pointer is handed to the waiters as it is; who
 * owns what it points to is the program's affair.  Returns 0, or
 * -EALREADY if f is already done. */
UCO_API int uco_future_set_result(uco_future *f, void *result);
UCO_API int uco_future_set_error(uco_future *f, int err);
UCO_API int uco_future_cancel(uco_future *f);

/*
 * Wait for f.  Suspends (unless f is done).  Returns 0 with *result set,
 * f's error, -ECANCELED (f cancelled, or the caller cancelled), or
 * -ETIMEDOUT.  A waiter cut short by its own cancel or timeout leaves f
 * untouched: f stays pending for others.
 */
UCO_MUST_USE
UCO_API int uco_future_wait(uco_future *f, void **result);

/* Whether f is done (with a result, an error or cancelled).  Does not
 * suspend. */
UCO_API bool uco_future_done(const uco_future *f);

/* Free f.  Nobody may be waiting on it (checked: that aborts with a
 * message); once it is done it may be freed at once, even before the
 * woken waiters have run (they got the outcome when woken).  Does not
 * suspend.  NULL is a no-op. */
UCO_API void uco_future_free(uco_future *f);

#ifdef __cplusplus
}
#endif

#endif
