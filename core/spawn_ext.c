/*
 * The shorter forms of spawning and failing (issue 14): detached spawn,
 * errors with a message, results with a destructor, wait_for on a task
 * function, blocking work as a task, and task names cut on a character.
 *
 * Kept apart from task.c (the scheduler's file): task.c calls
 * uco__task_name_copy() and uco__task_free_extras(), and nothing else
 * here reaches into the scheduler.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <uco/error.h>
#include <uco/offload.h>
#include <uco/task.h>
#include <uco/time.h>

#include "alloc.h"
#include "loop.h"
#include "task.h"

#define ERRMSG_MAX 256

void uco__task_name_copy(char *dst, size_t size, const char *name)
{
	size_t n = strlen(name);

	if (n >= size) {
		n = size - 1;
		/* Back off to the first byte of the character that does not
		 * fit: continuation bytes are 10xxxxxx. */
		while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, name, n);
	dst[n] = '\0';
}

void uco__task_free_extras(struct uco_task *t)
{
	if (t->free_result && t->result && !t->error && !t->result_taken)
		t->free_result(t->result);
	t->result = NULL;
	if (t->errmsg) {
		uco__free(t->errmsg, ERRMSG_MAX);
		t->errmsg = NULL;
	}
}

UCO_API int uco_go(uco_fn fn, void *arg)
{
	return uco_spawn(NULL, fn, arg, NULL);
}

UCO_API void *uco_fail_msg(int err, const char *fmt, ...)
{
	struct uco_task *t = uco__self();
	va_list ap;

	uco_fail(err);
	if (!t || !fmt)
		return NULL;
	if (!t->errmsg)
		t->errmsg = uco__alloc(ERRMSG_MAX);
	if (t->errmsg) {
		va_start(ap, fmt);
		vsnprintf(t->errmsg, ERRMSG_MAX, fmt, ap);
		va_end(ap);
	}
	return NULL;
}

UCO_API const char *uco_task_error_msg(const uco_task *t)
{
	if (!t || !t->finished || !t->error)
		return NULL;
	return t->errmsg ? t->errmsg : uco_strerror(t->error);
}

/* ---- wait_for on a task function ----------------------------------------- */

UCO_API int uco_wait_for_fn(uint64_t ns, uco_fn fn, void *arg, void **result)
{
	uco_task *t;
	int r;

	if (result)
		*result = NULL;
	if (!uco__self())
		return -EPERM;
	r = uco_spawn(&t, fn, arg, NULL);
	if (r < 0)
		return r;
	r = uco_wait_for_task(t, ns, result);
	uco_task_release(t);
	return r;
}

/* ---- blocking work as a task --------------------------------------------- */

struct thread_call {
	void *(*fn)(void *);
	void *arg;
	void (*free_result)(void *);
};

/* An abandoned call's result, when it comes back: freed if it can be. */
static void thread_call_cleanup(void *arg, void *result)
{
	struct thread_call *c = arg;

	if (c->free_result && result)
		c->free_result(result);
	uco__free(c, sizeof(*c));
}

/* On the pool thread: the job's arg is c, so that cleanup gets c too. */
static void *thread_call_run(void *arg)
{
	struct thread_call *c = arg;

	return c->fn(c->arg);
}

static void *thread_call_task(void *arg)
{
	struct thread_call *c = arg;
	void *res = NULL;
	int r = uco_to_thread(thread_call_run, c, &res, thread_call_cleanup);

	if (r < 0)
		return uco_fail(r); /* c went to thread_call_cleanup */
	uco__free(c, sizeof(*c));
	return res;
}

UCO_API int uco_spawn_thread(uco_task **out, void *(*fn)(void *arg),
			     void *arg, const uco_spawn_opts *opts)
{
	struct thread_call *c;
	int r;

	if (out)
		*out = NULL;
	if (!fn)
		return -EINVAL;
	if (!uco__tls_loop)
		return -EPERM;
	c = uco__alloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->arg = arg;
	c->free_result = opts ? opts->free_result : NULL;
	r = uco_spawn(out, thread_call_task, c, opts);
	if (r < 0)
		uco__free(c, sizeof(*c));
	return r;
}
