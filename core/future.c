/* Futures: a one-shot result, waited for on one core. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <uco/future.h>

#include "alloc.h"
#include "loop.h"
#include "task.h"
#include "wait.h"

struct uco_future {
	struct uco__waitq waiters;
	bool done;
	int error;     /* 0, an error, or -ECANCELED */
	void *result;
};

UCO_API int uco_future_create(uco_future **out)
{
	uco_future *f;

	*out = NULL;
	if (!uco__tls_loop)
		return -EPERM;
	f = uco__zalloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	uco__waitq_init(&f->waiters);
	*out = f;
	return 0;
}

static int complete(uco_future *f, void *result, int error)
{
	if (f->done)
		return -EALREADY;
	f->done = true;
	f->result = result;
	f->error = error;
	uco__waitq_wake_all(&f->waiters, 0);
	return 0;
}

UCO_API int uco_future_set_result(uco_future *f, void *result)
{
	return complete(f, result, 0);
}

UCO_API int uco_future_set_error(uco_future *f, int err)
{
	return complete(f, NULL, err < 0 ? err : -EINVAL);
}

UCO_API int uco_future_cancel(uco_future *f)
{
	return complete(f, NULL, -ECANCELED);
}

/* A waiter gets the outcome copied into its own frame when it is woken:
 * the future may be freed (it is no longer on the list) before the woken
 * task runs, so the task must not look at f again. */
struct future_waiter {
	struct uco__waiter w;
	int error;
	void *result;
};

static void future_notify(struct uco__waiter *w, int res)
{
	struct future_waiter *fw = (struct future_waiter *)w;
	const uco_future *f = w->ctx;

	fw->error = f->error;
	fw->result = f->result;
	uco__wake(w->task, res);
}

static void future_unlink(void *ctx)
{
	uco__list_del(&((struct uco__waiter *)ctx)->node);
}

UCO_API int uco_future_wait(uco_future *f, void **result)
{
	struct future_waiter fw = { .w = { .task = uco__self(),
					   .notify = future_notify,
					   .ctx = f } };
	int r;

	if (f->done) {
		fw.error = f->error;
		fw.result = f->result;
	} else {
		if (!fw.w.task)
			return -EPERM;
		uco__list_add_tail(&f->waiters.head, &fw.w.node);
		r = uco__block(future_unlink, &fw.w, "future");
		if (r < 0)
			return r;
	}
	if (fw.error)
		return fw.error;
	if (result)
		*result = fw.result;
	return 0;
}

UCO_API bool uco_future_done(const uco_future *f)
{
	return f->done;
}

UCO_API void uco_future_free(uco_future *f)
{
	if (!f)
		return;
	if (!uco__waitq_empty(&f->waiters)) {
		fprintf(stderr, "uco: uco_future_free() on a future that tasks "
				"are waiting on\n");
		abort();
	}
	uco__free(f, sizeof(*f));
}
