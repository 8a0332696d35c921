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

UCO_API int uco_future_wait(uco_future *f, void **result)
{
	if (!f->done) {
		int r = uco__waitq_wait(&f->waiters, "future");
		if (r < 0)
			return r;
	}
	if (f->error)
		return f->error;
	if (result)
		*result = f->result;
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
