/*
 * uco/local.h — task-local values (Python's contextvars).
 *
 * A key is the address of any object of the caller's (usually a static
 * variable).  A task sees the values its parent had when it was spawned, and
 * its own changes are invisible to its parent and to siblings.  Values are
 * plain pointers: uco never frees what they point to.
 */
#ifndef UCO_LOCAL_H
#define UCO_LOCAL_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Set key to value in the running task.  Keys are compared by address (use
 * the address of a static object you own); value is stored as it is,
 * never copied or freed.  Does not suspend.  Returns 0, -ENOMEM, -EPERM
 * (outside a task).
 */
UCO_API int uco_local_set(const void *key, void *value);

/* The running task's value for key, or NULL if never set (or outside a
 * task).  Does not suspend. */
UCO_API void *uco_local_get(const void *key);

/*
 * The running task's value for key, or `dflt` if the key was never set in
 * it (or was reset to unset), or outside a task (ContextVar's default:
 * `request_id.get("-")`).  A key set to NULL gives NULL.  Does not
 * suspend.
 */
UCO_API void *uco_local_get_or(const void *key, void *dflt);

/* What uco_local_set_token() hands back, to undo that set (contextvars'
 * Token).  A plain value: keep it on the stack; no need to free it. */
typedef struct uco_local_token {
	const void *key;
	void *old_value;
	bool had_value;     /* false: the key was unset before */
	bool used;          /* uco_local_reset() has been called with it */
} uco_local_token;

/*
 * uco_local_set(), which also fills *token with what key held before
 * (token = var.set(value)).  Does not suspend.  Returns 0, -ENOMEM,
 * -EPERM; on an error nothing is set and *token is not usable.
 */
UCO_API int uco_local_set_token(const void *key, void *value,
				uco_local_token *token);

/*
 * var.reset(token): give token's key back the value it had before that
 * set (unset, if it had none: uco_local_get_or() then gives the default).
 * Only that key changes.  Does not suspend.  Returns 0, -EINVAL (token
 * already used, or NULL), -ENOMEM, -EPERM.
 */
UCO_API int uco_local_reset(uco_local_token *token);

#ifdef __cplusplus
}
#endif

#endif
