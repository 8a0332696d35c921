/*
 * uco/combine.h — waiting on many tasks: gather, wait, as_completed.
 *
 * All of these take an array of task handles owned by the caller; they never
 * release them.  They suspend, honour cancellation and timeout scopes, and
 * must be called on the core that spawned the tasks.  Like uco_join(), they
 * refuse before waiting for anything: -EDEADLK if the calling task is in
 * the array (it would wait for itself), -EXDEV if a task was spawned on
 * another core, -EINVAL for a NULL task (or array with n > 0).
 */
#ifndef UCO_COMBINE_H
#define UCO_COMBINE_H

#include <uco/common.h>
#include <uco/task.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * asyncio.gather(*tasks, return_exceptions=True): wait for all n tasks.
 * results[i] gets task i's result (NULL if it failed) and errors[i] 0 or its
 * error; either array may be NULL.  Suspends until all have finished.  The
 * caller keeps its references to the tasks (release them after).  Returns
 * 0 if every task succeeded, else
 * the number of tasks that failed (positive).  If the caller is cancelled
 * (or its timeout scope expires) while waiting, the unfinished tasks are
 * cancelled and joined, and -ECANCELED (or -ETIMEDOUT) is returned, with
 * results/errors filled in for every task.
 */
UCO_API int uco_gather(uco_task *const *tasks, size_t n, void **results,
		       int *errors);

typedef enum uco_wait_mode {
	UCO_ALL_COMPLETED,   /* return when every task has finished */
	UCO_FIRST_COMPLETED, /* return when any task finishes */
	UCO_FIRST_ERROR,     /* return when any task fails, or all finish */
} uco_wait_mode;

/*
 * asyncio.wait(): wait until `mode` is satisfied or timeout_ns passes
 * (UINT64_MAX: no timeout).  Suspends (unless `mode` is already met).
 * Does not cancel anything, and the caller keeps its references.  Returns the number
 * of finished tasks (check each with uco_task_done()), -ECANCELED,
 * -ETIMEDOUT (an enclosing scope expired), -EINVAL (bad mode), or -E2BIG
 * (a timeout, with UCO_TIMEOUT_DEPTH scopes already open: it needs one).
 * As in asyncio, the timeout expiring is not an error: the count tells.
 */
UCO_API int uco_wait(uco_task *const *tasks, size_t n, uco_wait_mode mode,
		     uint64_t timeout_ns);

typedef struct uco_as_completed uco_as_completed;

/*
 * asyncio.as_completed(): an iterator that hands back the tasks in the order
 * they finish.  The array is copied; the tasks stay the caller's (keep
 * their references until the iteration is done).  Does not suspend.
 * Returns 0 with *out set, to free with uco_as_completed_free(), -ENOMEM,
 * -EPERM (not on a core), or the checks above.
 */
UCO_API int uco_as_completed_create(uco_as_completed **out,
				    uco_task *const *tasks, size_t n);

/*
 * Next finished task.  Suspends (unless one has finished already).
 * Returns 1 with *t set, 0 when every task has been handed back,
 * -ECANCELED or -ETIMEDOUT (cut short: nothing handed back, and the next
 * call goes on where this one stopped); -EXDEV off the tasks' core; -EBUSY
 * if another task is already waiting in it (one at a time); -EDEADLK if
 * the only task left is the caller; -EBADF if the iterator was freed while
 * this call waited (it is then gone).
 */
UCO_API int uco_as_completed_next(uco_as_completed *it, uco_task **t);

/*
 * Free the iterator (not the tasks; NULL: nothing).  Does not suspend; on
 * the tasks' core only (aborts elsewhere).  Safe while a task waits in
 * _next(): that call returns -EBADF and the memory goes when it has
 * returned.
 */
UCO_API void uco_as_completed_free(uco_as_completed *it);

#ifdef __cplusplus
}
#endif

#endif
