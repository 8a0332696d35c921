/*
 * uco/group.h — task groups (asyncio.TaskGroup, structured concurrency).
 *
 * Tasks spawned into a group belong to it.  The first member to fail (end
 * with uco_fail(), other than -ECANCELED from being cancelled by the group)
 * cancels every other member; uco_group_wait() waits for all members and
 * returns that first error.  If the task waiting is cancelled, the members
 * are cancelled and joined, and -ECANCELED is returned.
 */
#ifndef UCO_GROUP_H
#define UCO_GROUP_H

#include <uco/common.h>
#include <uco/task.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_group uco_group;

/* Create an empty group on the caller's core.  Does not suspend.  Returns
 * 0 with *out set, to free with uco_group_free(); -ENOMEM, -EPERM. */
UCO_API int uco_group_create(uco_group **out);

/*
 * Spawn fn(arg) into g on the caller's core.  *out (optional) receives an
 * extra reference for the caller (release it; the group holds its own).
 * Does not suspend.  -ECANCELED if the group is already failing or
 * cancelled; otherwise as uco_spawn().
 */
UCO_API int uco_group_spawn(uco_group *g, uco_task **out, uco_fn fn, void *arg,
			    const uco_spawn_opts *opts);

/*
 * Wait for every member.  Suspends.  Returns 0, the first member's error,
 * -ECANCELED if the caller was cancelled (members are cancelled and joined
 * first), or -ETIMEDOUT if the caller's timeout scope expired (likewise).
 */
UCO_MUST_USE
UCO_API int uco_group_wait(uco_group *g);

/* Cancel every member; does not suspend or wait (uco_group_wait() does). */
UCO_API void uco_group_cancel(uco_group *g);

/*
 * Free g.  Members still running are cancelled and detached (they finish on
 * their own).  Does not suspend.  NULL is a no-op.
 */
UCO_API void uco_group_free(uco_group *g);

/*
 * A task set: a group whose members the runtime owns and keeps in spawn
 * order (asyncio.gather over tasks it made, return_exceptions=True).  Unlike
 * a plain group, a member's failure does not cancel the others.  Spawn
 * with uco_group_spawn(g, NULL, ...) — there is nothing to release per
 * task: every member's handle is kept until uco_group_free(g), which
 * releases them all.  Cancelling the waiter cancels the members, as for
 * any group.  Does not suspend.  Returns 0, -ENOMEM, -EPERM.
 */
UCO_API int uco_group_create_set(uco_group **out);

/*
 * Wait for every member of the set g (uco_group_wait()), then fill
 * results[i] / errors[i] for member i in spawn order (either may be NULL;
 * uco_group_size(g) entries), as uco_gather() does.  Suspends.  Returns
 * 0 if every member succeeded, else the first failed member's error (by
 * spawn order), or -ECANCELED / -ETIMEDOUT (the members were cancelled and
 * joined; the arrays are still filled); -EINVAL if g is not a set.
 */
UCO_MUST_USE
UCO_API int uco_group_wait_results(uco_group *g, void **results,
				   int *errors);

/* Members spawned into the set g so far (0 for a plain group).  Does not
 * suspend. */
UCO_API size_t uco_group_size(const uco_group *g);

/* Member i of the set g, in spawn order (NULL if none): for
 * uco_task_error_msg() and the like.  The set keeps the reference: valid
 * until uco_group_free(g).  Does not suspend. */
UCO_API uco_task *uco_group_task(const uco_group *g, size_t i);

#ifdef __cplusplus
}
#endif

#endif
