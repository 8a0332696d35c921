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

/*
 * UCO_MUST_USE marks every suspending call (and every call whose result is
 * the only way to learn of a failure): ignoring what it returns is a
 * warning, so a missed check is hard to write.  To drop a result on
 * purpose, use it: `if (uco_sleep(ns) < 0) { ... }`, or UCO_IGNORE(call)
 * where nothing can be done about a failure.
 */
#if defined(__GNUC__) || defined(__clang__)
#define UCO_MUST_USE __attribute__((warn_unused_result))
#else
#define UCO_MUST_USE
#endif

/* Evaluate a UCO_MUST_USE call and drop its result on purpose (GCC does
 * not let a cast to void do that). */
#define UCO_IGNORE(call)                                                      \
	do {                                                                  \
		if ((call) != 0) {                                            \
		}                                                             \
	} while (0)

#define UCO_NSEC_PER_USEC 1000ull
#define UCO_NSEC_PER_MSEC 1000000ull
#define UCO_NSEC_PER_SEC 1000000000ull

#ifdef __cplusplus
}
#endif

#endif
