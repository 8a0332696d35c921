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

#ifdef __cplusplus
}
#endif

#endif
