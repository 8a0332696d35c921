/*
 * uco/combine.h — waiting on many tasks: gather, wait, as_completed.
 *
 * All of these take an array of task handles owned by the caller; they never
 * release them.  They suspend, honour cancellation and timeout scopes, and
 * must be called on the core that spawned the tasks.  Like uco_join(), they
 * refuse before waiting for anything: -EDEADLK if the calling task is in
 * the array (it would wait for itself), -EXDEV if a task was spawned on
 * another core, -EINVAL for a NULL task (or array with n > 0).
 *
 * NOTE: uco_gather() returns a POSITIVE number when tasks failed (how many
 * did), unlike every other call.  `if (uco_gather(...) < 0)` sees only
 * the gather's own failure (cancelled, timed out, bad arguments).  To read
 * it like the rest, use uco_gather_all(): 0, or the first failed task's
 * error (negative).  uco_gather_fn() spawns, gathers and releases in one
 * call.
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
UCO_MUST_USE
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
UCO_MUST_USE
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
UCO_MUST_USE
UCO_API int uco_as_completed_next(uco_as_completed *it, uco_task **t);

/*
 * Free the iterator (not the tasks; NULL: nothing).  Does not suspend; on
 * the tasks' core only (aborts elsewhere).  Safe while a task waits in
 * _next(): that call returns -EBADF and the memory goes when it has
 * returned.
 */
UCO_API void uco_as_completed_free(uco_as_completed *it);

/*
 * uco_gather() that reads like every other call: the same wait and the
 * same filling of results/errors, but returns 0 if every task succeeded,
 * else the error of the first task (by index) that failed (negative), or
 * the gather's own error (-ECANCELED, -ETIMEDOUT, the checks above).
 * Unlike asyncio.gather without return_exceptions, it still waits for
 * every task, so none outlives the call.  Suspends.
 */
UCO_MUST_USE
UCO_API int uco_gather_all(uco_task *const *tasks, size_t n,
			   void **results, int *errors);

/*
 * await asyncio.gather(*(fn(a) for a in args)): spawn fn(args[i]) for i in
 * 0..n-1 on the caller's core (args NULL: task i gets (void *)i, its
 * index), gather them as uco_gather_all() does, and release them: the
 * runtime owns the tasks from start to end.  results[i] / errors[i] as in
 * uco_gather() (either may be NULL); results are the caller's.  Suspends.
 * Returns 0, the first failed task's error, -ECANCELED / -ETIMEDOUT (the
 * tasks were cancelled and joined), -EINVAL (fn NULL), -ENOMEM, -EPERM.
 * If a spawn fails, the tasks already started are cancelled and joined,
 * every errors[i] is that error, and it is returned.
 */
UCO_MUST_USE
UCO_API int uco_gather_fn(uco_fn fn, void *const *args, size_t n,
			  void **results, int *errors);

/*
 * done, pending = await asyncio.wait(tasks, ...): uco_wait(), then done[]
 * gets the finished tasks and pending[] the others, each in array order
 * (arrays of n entries, either may be NULL), and *npending (if not NULL)
 * their count.  Returns the number done, or uco_wait()'s errors (then
 * nothing is filled and *npending is 0).  No references are taken: the
 * handles are still the caller's.  Suspends as uco_wait() does.
 */
UCO_MUST_USE
UCO_API int uco_wait_split(uco_task *const *tasks, size_t n,
			   uco_wait_mode mode, uint64_t timeout_ns,
			   uco_task **done, uco_task **pending,
			   size_t *npending);

/*
 * uco_as_completed_next() that also says which task: *index (if not NULL)
 * gets the finished task's index in the array given to _create().  *t may
 * be NULL.  Same results and suspension as uco_as_completed_next().
 */
UCO_MUST_USE
UCO_API int uco_as_completed_next_index(uco_as_completed *it,
					uco_task **t,
					size_t *index);

#ifdef __cplusplus
}
#endif

#endif
