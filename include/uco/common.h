/*
 * uco/common.h — what every uco header shares: the export macro and the
 * conventions.
 *
 * Conventions, for every call in every uco header:
 *   - A call that can fail returns 0 (or a count, or a size) on success and a
 *     negative errno on failure.  There is no errno and no global error state.
 *   - -ECANCELED: the calling task was cancelled (or the object was).
 *     -ETIMEDOUT: a timeout (uco_wait_for, a timeout scope) expired.
 *   - "Suspends" means the call may switch to other tasks before it returns.
 *     Suspending calls may only be made from inside a task (inside uco_run);
 *     outside one they return -EPERM.
 *   - A call that fails synchronously never completes asynchronously.
 *   - Every call says whether it suspends.  A call that does not suspend is
 *     not affected by cancellation or timeout scopes: it does its work in
 *     a cancelled task too.  A suspending call says what a cancel
 *     (-ECANCELED) or an expired scope (-ETIMEDOUT) leaves behind.
 *   - Objects come back through out-parameters and belong to the caller
 *     until their uco_X_free() / uco_X_destroy() / uco_X_close();
 *     uco_X_free(NULL) is a no-op.  Memory passed in (buffers, paths,
 *     arrays, items) stays the caller's, and the runtime is done with it
 *     when the call returns, unless the call says otherwise.
 */
#ifndef UCO_COMMON_H
#define UCO_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(UCO_BUILDING)
#define UCO_API __attribute__((visibility("default")))
#else
#define UCO_API
#endif

#define UCO_NSEC_PER_USEC 1000ull
#define UCO_NSEC_PER_MSEC 1000000ull
#define UCO_NSEC_PER_SEC 1000000000ull

#ifdef __cplusplus
}
#endif

#endif
