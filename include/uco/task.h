/*
 * uco/task.h — tasks: spawn, join, cancel, yield, names and ids.
 *
 * A task is a function running on its own stack (a stackful coroutine) on
 * the loop of one core; it never migrates.  It ends with either a result
 * (what its function returned) or an error (uco_fail()), kept apart: joining
 * a task that returned (void *)-5 still reports success with that pointer.
 *
 * Lifetime: uco_spawn() hands back a reference.  The task record stays valid
 * until that reference is dropped with uco_task_release() — before or after
 * the task finishes; a running task holds its own reference.  Pass a NULL
 * out-parameter to spawn a detached task.  A handle is used (joined,
 * cancelled, released) on the core that spawned the task.
 *
 * Cancellation (asyncio's rules): uco_cancel() asks a task to stop.  The
 * suspending call it is in (or its next one) returns -ECANCELED, and so does
 * every later suspending call until it finishes, unless it is inside a
 * shield (closing a descriptor is the exception: see uco_close()).  Such a
 * refused call (as one refused because a timeout scope expired) still
 * yields to the other tasks before it returns, so a task that ignores the
 * error in a loop slows its core down but does not take it over; debug
 * mode names it.  An I/O operation in flight is cancelled in the kernel
 * (IORING_OP_ASYNC_CANCEL) and the call returns only after the kernel has let
 * go of its buffers; an operation that completed anyway delivers its result.
 * Cancelling a finished task does nothing.
 */
#ifndef UCO_TASK_H
#define UCO_TASK_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_task uco_task;

/* A task body.  Its return value is the task's result; see uco_fail(). */
typedef void *(*uco_fn)(void *arg);

/* Options for uco_spawn(); NULL or zeroed fields mean the defaults. */
typedef struct uco_spawn_opts {
	const char *name;  /* copied; at most 31 bytes are kept, cut before a
	                      UTF-8 character that does not fit (default
	                      "task-<id>") */
	size_t stack_size; /* bytes (default: uco_config.stack_size) */
	/* Called with the task's result when its record is freed, unless
	 * the result was handed out (uco_join / uco_task_outcome / a gather
	 * with a results array): a result nobody took is freed, not leaked.
	 * Never called with NULL, nor for a task that failed.  Runs on the
	 * spawning core, maybe outside any task: it must not suspend. */
	void (*free_result)(void *result);
} uco_spawn_opts;

typedef enum uco_task_state {
	UCO_TASK_READY,   /* queued to run */
	UCO_TASK_RUNNING, /* the caller itself */
	UCO_TASK_WAITING, /* suspended in an operation or on an object */
	UCO_TASK_DONE,    /* finished, with a result or an error */
} uco_task_state;

/*
 * Spawn fn(arg) on the caller's core.  It starts running when the caller
 * next suspends or yields.  *out (if out is not NULL) receives a reference.
 * Does not suspend, and works in a cancelled task too (the child is not
 * cancelled with it).  arg is handed to fn as it is.  Returns 0, -ENOMEM,
 * -EINVAL (bad stack size) or -EPERM (not inside uco_run).  The child
 * inherits the caller's task-local values.
 */
UCO_API int uco_spawn(uco_task **out, uco_fn fn, void *arg,
		      const uco_spawn_opts *opts);

/*
 * Spawn fn(arg) on core `core` (an IORING_OP_MSG_RING wakes its loop).
 * Same contract as uco_spawn(); -EINVAL if there is no such core.
 */
UCO_API int uco_spawn_on(unsigned core, uco_task **out, uco_fn fn, void *arg,
			 const uco_spawn_opts *opts);

/*
 * Wait for t to finish.  Suspends.  Returns 0 and stores its result in
 * *result (if not NULL); or t's error if it ended with uco_fail() (-ECANCELED
 * if it was cancelled and gave up); or -ECANCELED if the caller was
 * cancelled while waiting (t keeps running); -ETIMEDOUT if a timeout scope
 * of the caller expired; -EDEADLK if t is the caller; -EXDEV if the caller
 * is not on the core that spawned t.
 */
UCO_MUST_USE
UCO_API int uco_join(uco_task *t, void **result);

/* Drop the reference from uco_spawn() (the task runs on).  Does not
 * suspend.  NULL is a no-op. */
UCO_API void uco_task_release(uco_task *t);

/*
 * Ask t to stop (see the top of this file).  Does not suspend and does not
 * wait: join t to know when it is gone.  Returns 0, or 1 if t had already
 * finished (nothing done), -EXDEV if the caller is not on the core that
 * spawned t, -ENOMEM if the message to t's core could not be allocated.
 */
UCO_API int uco_cancel(uco_task *t);

/* Let every other ready task run once, then continue.  Suspends.
 * Returns 0 or -ECANCELED. */
UCO_MUST_USE
UCO_API int uco_yield(void);

/*
 * End the calling task with an error: `return uco_fail(-EIO);`.  err must be
 * negative.  Returns NULL so the task function can return it directly.
 * Does not suspend.
 */
UCO_API void *uco_fail(int err);

/* The running task, or NULL outside a task.  No reference is taken.  Does
 * not suspend. */
UCO_API uco_task *uco_current(void);

/* True if the running task has been asked to stop (shields do not hide it).
 * Does not suspend. */
UCO_API bool uco_cancelling(void);

/*
 * Shield the running task from cancellation until the matching
 * uco_shield_end() (they nest).  A cancel that arrives meanwhile is kept and
 * takes effect at the next suspending call after the outermost end.
 * Neither suspends.  Shields do not hold off timeout scopes.
 */
UCO_API void uco_shield_begin(void);
UCO_API void uco_shield_end(void);

/* Introspection; none of these suspends.  t must be a live reference. */
UCO_API uint64_t uco_task_id(const uco_task *t);     /* unique in the process */
UCO_API const char *uco_task_name(const uco_task *t); /* valid while t is */
UCO_API uco_task_state uco_task_get_state(const uco_task *t);
UCO_API bool uco_task_done(const uco_task *t);

/*
 * The outcome of a finished task without suspending: 0 with *result set, or
 * its error.  -EAGAIN if it has not finished.  Does not suspend.
 */
UCO_API int uco_task_outcome(const uco_task *t, void **result);

/*
 * Call fn for every live task on the caller's core (asyncio.all_tasks()).
 * fn must not spawn or release tasks, or suspend; the task pointers are
 * valid only during fn.  Does not suspend.  Returns the number of tasks
 * visited.
 */
UCO_API size_t uco_tasks_foreach(void (*fn)(uco_task *t, void *ctx), void *ctx);

/*
 * Write one line per live task of the caller's core to fd: core, id, name,
 * state and what it waits on.  (In debug mode SIGQUIT dumps every core.)
 * Does not suspend: it writes with write(2), blocking the core briefly.
 */
UCO_API void uco_tasks_dump(int fd);


/* ---- shorter forms (asyncio one line at a time) ------------------------ */

/*
 * UCO_TRY(expr): in a task body (a uco_fn), evaluate expr (an int result)
 * and end the task with that error if it is negative: `return uco_fail(r)`.
 * UCO_TRY_INT(expr) does the same in a function returning int: it returns
 * the negative result.  Non-negative results (counts) go on unchanged.
 */
#define UCO_TRY(expr)                                                         \
	do {                                                                  \
		int uco_try_r_ = (int)(expr);                                 \
		if (uco_try_r_ < 0)                                           \
			return uco_fail(uco_try_r_);                          \
	} while (0)
#define UCO_TRY_INT(expr)                                                     \
	do {                                                                  \
		int uco_try_r_ = (int)(expr);                                 \
		if (uco_try_r_ < 0)                                           \
			return uco_try_r_;                                    \
	} while (0)

/*
 * asyncio.create_task() whose task nobody awaits: spawn fn(arg) on the
 * caller's core, detached (uco_spawn with a NULL out: there is nothing to
 * release, and the runtime frees the task when it ends).  Does not
 * suspend.  Returns 0 or uco_spawn()'s errors.
 */
UCO_MUST_USE
UCO_API int uco_go(uco_fn fn, void *arg);

/*
 * End the calling task with error err and a message, printf-style:
 * `return uco_fail_msg(-EIO, "Failed to fetch %s", url);` (an exception
 * with its text).  The message is copied (cut at 255 bytes) and kept with
 * the task until its record is freed.  err must be negative (else
 * -EINVAL).  Returns NULL.  Does not suspend.  Without memory for the
 * message, the task still fails with err, with no message.
 */
UCO_API void *uco_fail_msg(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The text of t's error: the message given to uco_fail_msg(), else
 * uco_strerror() of its error; NULL if t has not failed (or is not
 * finished).  Valid while the reference to t is.  Does not suspend.
 */
UCO_API const char *uco_task_error_msg(const uco_task *t);

#ifdef __cplusplus
}
#endif

#endif
