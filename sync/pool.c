/*
 * Worker pool; see include/uco/pool.h.
 *
 * All on the pool's core, no atomics.  A job record is on `queue` while
 * pending and on `active` while running (the node is reused), and holds
 * two references: the pool's, dropped when it finishes, and its handle's
 * (if one was asked for), dropped by uco_job_release().
 *
 * Workers are detached tasks: each takes the first queued job, runs it in
 * a task of its own and joins it, until the pool stops and there is
 * nothing left for it; `alive` counts them and the last one out wakes the
 * stoppers.  Wake-ups: a queued job wakes one idle worker, a job taken off
 * the queue (or cancelled there) wakes one waiting submitter.  A woken
 * task that finds its job or its room taken by a task that came later
 * just waits again; one that was cut short was not woken (core/wait.h),
 * so no wake-up is lost.
 */
#include <uco/pool.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uco/task.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "core/list.h"
#include "core/loop.h"
#include "core/task.h"
#include "core/wait.h"
#include "core/cleanup.h"

struct uco_job {
	struct uco__node node;     /* on pool->queue or pool->active */
	uco_pool *pool;            /* until it finishes */
	uco_job_fn fn;
	void *arg;
	void *result;
	int error;
	uint8_t status;            /* uco_job_status */
	uint8_t refs;
	uco_task *task;            /* while running */
	struct uco__loop *home;
	struct uco__waitq waiters; /* in uco_job_wait() */
};

struct uco_pool {
	struct uco__loop *home;
	struct uco__node queue;     /* pending jobs, FIFO */
	struct uco__node active;    /* running jobs */
	size_t queued, running, cap;
	struct uco__waitq idle;     /* workers waiting for a job */
	struct uco__waitq putters;  /* submitters waiting for room */
	struct uco__waitq stoppers; /* uco_pool_stop() waiting for the end */
	unsigned alive;             /* workers not yet ended */
	bool stopping;
	bool orphan;                /* create failed: the last worker frees it */
	uint64_t submitted, done, failed, cancelled;
	uco_spawn_opts job_opts;
	char name[32];
};

static int home_check(const struct uco__loop *home)
{
	struct uco__loop *l = uco__tls_loop;

	if (!l)
		return -EPERM;
	return l == home ? 0 : -EXDEV;
}

/* ---- job records ------------------------------------------------------- */

static void job_unref(uco_job *j)
{
	if (--j->refs == 0)
		uco__free(j, sizeof(*j));
}

/* The outcome is final: count it, wake the waiters, drop the pool's
 * reference.  The record is off every list. */
static void job_finish(uco_job *j, int error)
{
	uco_pool *p = j->pool;

	j->error = error;
	if (error == 0) {
		j->status = UCO_JOB_DONE;
		p->done++;
	} else if (error == -ECANCELED) {
		j->status = UCO_JOB_CANCELLED;
		p->cancelled++;
	} else {
		j->status = UCO_JOB_FAILED;
		p->failed++;
	}
	j->pool = NULL;
	uco__waitq_wake_all(&j->waiters, 0);
	job_unref(j);
}

/* A pending job leaves the queue without running. */
static void job_drop_pending(uco_pool *p, uco_job *j)
{
	uco__list_del(&j->node);
	p->queued--;
	job_finish(j, -ECANCELED);
	uco__waitq_wake_one(&p->putters, 0);
}

/* ---- workers ------------------------------------------------------------ */

static void *job_main(void *arg)
{
	uco_job *j = arg;
	void *result = NULL;
	int r = j->fn(j->arg, &result);

	j->error = r < 0 ? r : 0;
	j->result = r < 0 ? NULL : result;
	return NULL;
}

static void run_job(uco_pool *p, uco_job *j)
{
	int r;

	j->status = UCO_JOB_RUNNING;
	uco__list_add_tail(&p->active, &j->node);
	p->running++;
	r = uco_spawn(&j->task, job_main, j, &p->job_opts);
	if (r == 0) {
		if (uco_join(j->task, NULL) < 0 && !uco_task_done(j->task)) {
			/* The worker itself was cancelled (the runtime is
			 * shutting down): the job goes too, and is waited for. */
			struct uco__cleanup c;

			uco_cancel(j->task);
			uco__cleanup_begin(&c);
			UCO_IGNORE(uco_join(j->task, NULL));
			uco__cleanup_end(&c);
		}
		uco_task_release(j->task);
		j->task = NULL;
		r = j->error;
	}
	uco__list_del(&j->node);
	p->running--;
	job_finish(j, r);
}

static void *worker_main(void *arg)
{
	uco_pool *p = arg;

	for (;;) {
		struct uco__node *n = uco__list_first(&p->queue);

		if (!n) {
			if (p->stopping)
				break;
			if (uco__waitq_wait(&p->idle, "pool (idle)") < 0)
				break; /* cancelled: the runtime is stopping */
			continue;
		}
		uco__list_del(n);
		p->queued--;
		uco__waitq_wake_one(&p->putters, 0);
		run_job(p, uco__container_of(n, uco_job, node));
	}
	if (--p->alive == 0) {
		if (p->orphan)
			uco__free(p, sizeof(*p));
		else
			uco__waitq_wake_all(&p->stoppers, 0);
	}
	return NULL;
}

/* ---- the pool ------------------------------------------------------------ */

UCO_API int uco_pool_create(uco_pool **out, const uco_pool_opts *opts)
{
	struct uco__loop *l = uco__tls_loop;
	unsigned workers = opts && opts->workers ? opts->workers : 4;
	uco_spawn_opts wopts;
	uco_pool *p;

	*out = NULL;
	if (!l)
		return -EPERM;
	p = uco__zalloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->home = l;
	uco__node_init(&p->queue);
	uco__node_init(&p->active);
	uco__waitq_init(&p->idle);
	uco__waitq_init(&p->putters);
	uco__waitq_init(&p->stoppers);
	p->cap = opts && opts->queue_size ? opts->queue_size : 64;
	strncpy(p->name, opts && opts->name ? opts->name : "pool",
		sizeof(p->name) - 1);
	p->job_opts.name = p->name;
	p->job_opts.stack_size = opts ? opts->stack_size : 0;
	wopts = (uco_spawn_opts){ .name = p->name };
	for (unsigned i = 0; i < workers; i++) {
		int r = uco_spawn(NULL, worker_main, p, &wopts);

		if (r < 0) {
			/* Those started (they have not run yet) find nothing
			 * to do and end; the last one frees the pool. */
			p->stopping = true;
			p->orphan = true;
			if (p->alive == 0)
				uco__free(p, sizeof(*p));
			return r;
		}
		p->alive++;
	}
	*out = p;
	return 0;
}

static int submit(uco_pool *p, uco_job_fn fn, void *arg, uco_job **out,
		  bool wait)
{
	int r = home_check(p->home);
	uco_job *j;

	if (out)
		*out = NULL;
	if (r < 0)
		return r;
	if (!fn)
		return -EINVAL;
	while (!p->stopping && p->queued >= p->cap) {
		if (!wait)
			return -EAGAIN;
		r = uco__waitq_wait(&p->putters, "pool submit");
		if (r < 0)
			return r;
	}
	if (p->stopping)
		return -ESHUTDOWN;
	j = uco__zalloc(sizeof(*j));
	if (!j) {
		uco__waitq_wake_one(&p->putters, 0); /* the room is unused */
		return -ENOMEM;
	}
	j->pool = p;
	j->fn = fn;
	j->arg = arg;
	j->home = p->home;
	j->status = UCO_JOB_PENDING;
	j->refs = out ? 2 : 1;
	uco__waitq_init(&j->waiters);
	uco__list_add_tail(&p->queue, &j->node);
	p->queued++;
	p->submitted++;
	uco__waitq_wake_one(&p->idle, 0);
	if (out)
		*out = j;
	return 0;
}

UCO_API int uco_pool_submit(uco_pool *p, uco_job_fn fn, void *arg,
			    uco_job **job)
{
	return submit(p, fn, arg, job, true);
}

UCO_API int uco_pool_try_submit(uco_pool *p, uco_job_fn fn, void *arg,
				uco_job **job)
{
	return submit(p, fn, arg, job, false);
}

/* Cancel every queued job and every running one. */
static void cancel_all(uco_pool *p)
{
	struct uco__node *n, *tmp;

	uco__list_for_each_safe(n, tmp, &p->queue)
		job_drop_pending(p, uco__container_of(n, uco_job, node));
	uco__list_for_each_safe(n, tmp, &p->active) {
		uco_job *j = uco__container_of(n, uco_job, node);

		if (j->task)
			uco_cancel(j->task);
	}
}

UCO_API int uco_pool_stop(uco_pool *p, uco_pool_stop_mode mode)
{
	struct uco__cleanup c;
	int r = home_check(p->home);

	if (r < 0)
		return r;
	if (!uco__self())
		return -EPERM;
	p->stopping = true;
	uco__waitq_wake_all(&p->putters, 0);
	if (mode == UCO_POOL_CANCEL)
		cancel_all(p);
	uco__waitq_wake_all(&p->idle, 0);
	while (p->alive > 0) {
		r = uco__waitq_wait(&p->stoppers, "pool stop");
		if (r < 0)
			break;
	}
	if (r < 0) {
		/* Cut short: cancel what is left and wait for it anyway. */
		cancel_all(p);
		uco__cleanup_begin(&c);
		while (p->alive > 0)
			uco__waitq_wait(&p->stoppers, "pool stop (cancelling)");
		uco__cleanup_end(&c);
	}
	return r;
}

UCO_API void uco_pool_free(uco_pool *p)
{
	struct uco__node *n, *tmp;

	if (!p)
		return;
	if (p->alive || !uco__waitq_empty(&p->stoppers)) {
		fprintf(stderr, "uco: uco_pool_free() on a pool that was not "
				"stopped\n");
		abort();
	}
	/* Left only if the runtime cancelled the workers first. */
	uco__list_for_each_safe(n, tmp, &p->queue)
		job_drop_pending(p, uco__container_of(n, uco_job, node));
	uco__free(p, sizeof(*p));
}

UCO_API void uco_pool_get_stats(const uco_pool *p, uco_pool_stats *st)
{
	st->submitted = p->submitted;
	st->done = p->done;
	st->failed = p->failed;
	st->cancelled = p->cancelled;
	st->running = p->running;
	st->queued = p->queued;
}

/* ---- job handles ---------------------------------------------------------- */

UCO_API uco_job_status uco_job_get_status(const uco_job *j)
{
	return (uco_job_status)j->status;
}

static bool job_finished(const uco_job *j)
{
	return j->status >= UCO_JOB_DONE;
}

UCO_API int uco_job_wait(uco_job *j, uint64_t timeout_ns, void **result)
{
	int r = home_check(j->home);

	if (r < 0)
		return r;
	if (!job_finished(j)) {
		int scope = -1;

		if (timeout_ns != UCO_JOB_FOREVER) {
			scope = uco_timeout_begin(timeout_ns);
			if (scope < 0)
				return scope;
		}
		while (r == 0 && !job_finished(j))
			r = uco__waitq_wait(&j->waiters, "job");
		if (scope >= 0)
			uco_timeout_end(scope);
		if (r < 0)
			return r;
	}
	if (j->status == UCO_JOB_DONE) {
		if (result)
			*result = j->result;
		return 0;
	}
	return j->error;
}

UCO_API int uco_job_cancel(uco_job *j)
{
	int r = home_check(j->home);

	if (r < 0)
		return r;
	if (job_finished(j))
		return 1;
	if (j->status == UCO_JOB_PENDING)
		job_drop_pending(j->pool, j);
	else if (j->task)
		uco_cancel(j->task);
	return 0;
}

UCO_API void uco_job_release(uco_job *j)
{
	if (j)
		job_unref(j);
}
