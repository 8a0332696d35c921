/*
 * Suite "pool": the worker pool (include/uco/pool.h) — results, failures,
 * concurrency bounded by the workers, backpressure, job timeouts and
 * cancellation, stop (drain and cancel) with jobs in flight and cut short,
 * and no job record leaked on any path (every run is leak-checked).
 *
 * Jobs wait on "gates" (futures the test sets), never on the clock.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

/* What the jobs of one test share. */
struct world {
	uco_future *gate;  /* jobs wait on it (if set) */
	int running, max_running;
	int started;
	bool shield;       /* jobs finish their work even if cancelled */
};

struct jarg {
	struct world *w;
	long value;        /* result value * 2, or an error if negative */
	bool ran;
	int gate_r;
};

static int job(void *arg, void **result)
{
	struct jarg *a = arg;
	struct world *w = a->w;
	int r = 0;

	a->ran = true;
	w->started++;
	if (++w->running > w->max_running)
		w->max_running = w->running;
	if (w->shield)
		uco_shield_begin();
	if (w->gate)
		r = a->gate_r = uco_future_wait(w->gate, NULL);
	else
		r = uco_yield();
	if (w->shield)
		uco_shield_end();
	w->running--;
	if (r < 0)
		return r;
	if (a->value < 0)
		return (int)a->value;
	*result = (void *)(a->value * 2);
	return 0;
}

static void stats_eq(uco_pool *p, uint64_t submitted, uint64_t done,
		     uint64_t failed, uint64_t cancelled, size_t running,
		     size_t queued)
{
	uco_pool_stats st;

	uco_pool_get_stats(p, &st);
	ck_assert_uint_eq(st.submitted, submitted);
	ck_assert_uint_eq(st.done, done);
	ck_assert_uint_eq(st.failed, failed);
	ck_assert_uint_eq(st.cancelled, cancelled);
	ck_assert_uint_eq(st.running, running);
	ck_assert_uint_eq(st.queued, queued);
}

/* A task that submits one job (and keeps its handle). */
struct submitter {
	uco_pool *p;
	struct jarg *a;
	uco_job *j;
	uint64_t scope;
	int r;
	bool waiting;
};

static void *submitter_task(void *arg)
{
	struct submitter *s = arg;
	int sc = s->scope ? uco_timeout_begin(s->scope) : -1;

	s->waiting = true;
	s->r = uco_pool_submit(s->p, job, s->a, &s->j);
	s->waiting = false;
	if (sc >= 0)
		uco_timeout_end(sc);
	return NULL;
}

static void join_ok(uco_task *t)
{
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
}

/* ---- results ----------------------------------------------------------- */

static void body_results(void *arg)
{
	enum { N = 40 };
	uco_pool_opts o = { .workers = 4, .queue_size = N };
	struct world w = { 0 };
	struct jarg a[N];
	uco_job *j[N];
	uco_pool *p;

	(void)arg;
	ck_assert_int_eq(uco_pool_create(&p, &o), 0);
	for (int i = 0; i < N; i++) {
		a[i] = (struct jarg){ .w = &w, .value = i };
		ck_assert_int_eq(uco_pool_submit(p, job, &a[i], &j[i]), 0);
		ck_assert_int_eq(uco_job_get_status(j[i]), UCO_JOB_PENDING);
	}
	stats_eq(p, N, 0, 0, 0, 0, N);
	for (int i = 0; i < N; i++) {
		void *res = NULL;

		ck_assert_int_eq(uco_job_wait(j[i], UCO_JOB_FOREVER, &res), 0);
		ck_assert_ptr_eq(res, (void *)(long)(i * 2));
		ck_assert_int_eq(uco_job_get_status(j[i]), UCO_JOB_DONE);
		/* Waiting again is the same answer. */
		ck_assert_int_eq(uco_job_wait(j[i], 0, NULL), 0);
		uco_job_release(j[i]);
	}
	/* Never more than the 4 workers at once, and all 4 were used. */
	ck_assert_int_eq(w.max_running, 4);
	stats_eq(p, N, N, 0, 0, 0, 0);

	/* Jobs without a handle, and a failure. */
	w.max_running = 0;
	for (int i = 0; i < N; i++) {
		a[i] = (struct jarg){ .w = &w, .value = i == 7 ? -EIO : i };
		ck_assert_int_eq(uco_pool_submit(p, job, &a[i], NULL), 0);
	}
	ck_assert_int_eq(uco_pool_stop(p, UCO_POOL_DRAIN), 0);
	for (int i = 0; i < N; i++)
		ck_assert(a[i].ran);
	stats_eq(p, 2 * N, 2 * N - 1, 1, 0, 0, 0);
	uco_pool_free(p);
	uco_pool_free(NULL);
	uco_job_release(NULL);
}

START_TEST(results)
{
	lc_run(body_results, NULL, NULL);
}
END_TEST

static void body_failure(void *arg)
{
	struct world w = { 0 };
	struct jarg a = { .w = &w, .value = -ENOENT };
	uco_job *j;
	uco_pool *p;
	void *res = &res;

	(void)arg;
	ck_assert_int_eq(uco_pool_create(&p, NULL), 0);
	ck_assert_int_eq(uco_pool_submit(p, job, &a, &j), 0);
	ck_assert_int_eq(uco_job_wait(j, UCO_JOB_FOREVER, &res), -ENOENT);
	ck_assert_ptr_eq(res, &res); /* untouched */
	ck_assert_int_eq(uco_job_get_status(j), UCO_JOB_FAILED);
	ck_assert_int_eq(uco_job_cancel(j), 1); /* finished: nothing to do */
	stats_eq(p, 1, 0, 1, 0, 0, 0);
	uco_job_release(j);
	ck_assert_int_eq(uco_pool_stop(p, UCO_POOL_CANCEL), 0);
	uco_pool_free(p);
}

START_TEST(failure)
{
	lc_run(body_failure, NULL, NULL);
}
END_TEST

/* ---- backpressure -------------------------------------------------------- */

static void body_backpressure(void *arg)
{
	uco_pool_opts o = { .workers = 1, .queue_size = 2 };
	struct world w = { 0 };
	struct jarg a[6];
	struct submitter s[3];
	uco_task *t[3];
	uco_job *j[3];
	uco_pool *p;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&w.gate), 0);
	ck_assert_int_eq(uco_pool_create(&p, &o), 0);
	for (int i = 0; i < 6; i++)
		a[i] = (struct jarg){ .w = &w, .value = i };
	/* One running, two queued: full. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uco_pool_try_submit(p, job, &a[i], &j[i]), 0);
		ck_assert_int_eq(uco_yield(), 0);
	}
	ck_assert_int_eq(uco_job_get_status(j[0]), UCO_JOB_RUNNING);
	stats_eq(p, 3, 0, 0, 0, 1, 2);
	ck_assert_int_eq(uco_pool_try_submit(p, job, &a[3], NULL), -EAGAIN);
	/* Three submitters wait for room; one times out, one is cancelled:
	 * neither queues anything. */
	for (int i = 0; i < 3; i++) {
		s[i] = (struct submitter){ .p = p, .a = &a[3 + i] };
		if (i == 1)
			s[i].scope = 2 * MS;
		ck_assert_int_eq(uco_spawn(&t[i], submitter_task, &s[i], NULL),
				 0);
	}
	ck_assert_int_eq(uco_yield(), 0);
	for (int i = 0; i < 3; i++)
		ck_assert(s[i].waiting);
	ck_assert_int_eq(uco_cancel(t[0]), 0);
	join_ok(t[0]);
	ck_assert_int_eq(s[0].r, -ECANCELED);
	ck_assert_ptr_null(s[0].j);
	join_ok(t[1]);
	ck_assert_int_eq(s[1].r, -ETIMEDOUT);
	stats_eq(p, 3, 0, 0, 0, 1, 2);
	/* Room: the last submitter gets in. */
	ck_assert_int_eq(uco_future_set_result(w.gate, NULL), 0);
	join_ok(t[2]);
	ck_assert_int_eq(s[2].r, 0);
	ck_assert_int_eq(uco_job_wait(s[2].j, UCO_JOB_FOREVER, NULL), 0);
	uco_job_release(s[2].j);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uco_job_wait(j[i], UCO_JOB_FOREVER, NULL), 0);
		uco_job_release(j[i]);
	}
	ck_assert(!a[3].ran && !a[4].ran && a[5].ran);
	stats_eq(p, 4, 4, 0, 0, 0, 0);
	ck_assert_int_eq(uco_pool_stop(p, UCO_POOL_DRAIN), 0);
	uco_pool_free(p);
	uco_future_free(w.gate);
}

START_TEST(backpressure)
{
	lc_run(body_backpressure, NULL, NULL);
}
END_TEST

/* ---- job timeouts and cancellation ---------------------------------------- */

struct waiter {
	uco_job *j;
	int r;
};

static void *waiter_task(void *arg)
{
	struct waiter *w = arg;

	w->r = uco_job_wait(w->j, UCO_JOB_FOREVER, NULL);
	return NULL;
}

static void body_job_timeout_cancel(void *arg)
{
	uco_pool_opts o = { .workers = 1 };
	struct world w = { 0 };
	struct jarg a[3];
	struct waiter wt;
	uco_job *j[3];
	uco_task *t;
	uco_pool *p;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&w.gate), 0);
	ck_assert_int_eq(uco_pool_create(&p, &o), 0);
	for (int i = 0; i < 3; i++) {
		a[i] = (struct jarg){ .w = &w, .value = i };
		ck_assert_int_eq(uco_pool_submit(p, job, &a[i], &j[i]), 0);
	}
	ck_assert_int_eq(uco_yield(), 0);
	/* Waiting with a timeout: the job goes on. */
	ck_assert_int_eq(uco_job_wait(j[0], 2 * MS, NULL), -ETIMEDOUT);
	ck_assert_int_eq(uco_job_get_status(j[0]), UCO_JOB_RUNNING);
	ck_assert_int_eq(uco_job_wait(j[1], 0, NULL), -ETIMEDOUT);
	ck_assert_int_eq(uco_job_get_status(j[1]), UCO_JOB_PENDING);

	/* A pending job cancelled ends at once without running. */
	ck_assert_int_eq(uco_job_cancel(j[1]), 0);
	ck_assert_int_eq(uco_job_get_status(j[1]), UCO_JOB_CANCELLED);
	ck_assert_int_eq(uco_job_wait(j[1], UCO_JOB_FOREVER, NULL), -ECANCELED);
	stats_eq(p, 3, 0, 0, 1, 1, 1);

	/* A waiter of the job cancelled: -ECANCELED, the job goes on. */
	wt = (struct waiter){ .j = j[0] };
	ck_assert_int_eq(uco_spawn(&t, waiter_task, &wt, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	join_ok(t);
	ck_assert_int_eq(wt.r, -ECANCELED);
	ck_assert_int_eq(uco_job_get_status(j[0]), UCO_JOB_RUNNING);
	/* The running job cancelled: its task's wait returns -ECANCELED. */
	ck_assert_int_eq(uco_job_cancel(j[0]), 0);
	ck_assert_int_eq(uco_job_wait(j[0], UCO_JOB_FOREVER, NULL), -ECANCELED);
	ck_assert_int_eq(uco_job_get_status(j[0]), UCO_JOB_CANCELLED);
	ck_assert_int_eq(a[0].gate_r, -ECANCELED);
	/* The worker goes on with the next job. */
	ck_assert_int_eq(uco_future_set_result(w.gate, NULL), 0);
	ck_assert_int_eq(uco_job_wait(j[2], UCO_JOB_FOREVER, NULL), 0);
	ck_assert(!a[1].ran);
	stats_eq(p, 3, 1, 0, 2, 0, 0);
	for (int i = 0; i < 3; i++)
		uco_job_release(j[i]);
	ck_assert_int_eq(uco_pool_stop(p, UCO_POOL_DRAIN), 0);
	uco_pool_free(p);
	uco_future_free(w.gate);
}

START_TEST(job_timeout_cancel)
{
	lc_run(body_job_timeout_cancel, NULL, NULL);
}
END_TEST

/* A job released before it ends is freed when it ends (leak-checked). */
static void body_release_early(void *arg)
{
	struct world w = { 0 };
	struct jarg a[4];
	uco_job *j;
	uco_pool *p;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&w.gate), 0);
	ck_assert_int_eq(uco_pool_create(&p, NULL), 0);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct jarg){ .w = &w, .value = i };
		ck_assert_int_eq(uco_pool_submit(p, job, &a[i], &j), 0);
		uco_job_release(j);
	}
	ck_assert_int_eq(uco_future_set_result(w.gate, NULL), 0);
	ck_assert_int_eq(uco_pool_stop(p, UCO_POOL_DRAIN), 0);
	stats_eq(p, 4, 4, 0, 0, 0, 0);
	uco_pool_free(p);
	uco_future_free(w.gate);
}

START_TEST(release_early)
{
	lc_run(body_release_early, NULL, NULL);
}
END_TEST

/* ---- stopping with jobs in flight ---------------------------------------- */

struct stopper {
	uco_pool *p;
	uco_pool_stop_mode mode;
	uint64_t scope;
	int r;
	bool done;
};

static void *stopper_task(void *arg)
{
	struct stopper *s = arg;
	int sc = s->scope ? uco_timeout_begin(s->scope) : -1;

	s->r = uco_pool_stop(s->p, s->mode);
	if (sc >= 0)
		uco_timeout_end(sc);
	s->done = true;
	return NULL;
}

static void body_stop_drain(void *arg)
{
	enum { N = 6 };
	uco_pool_opts o = { .workers = 2, .queue_size = 4 };
	struct world w = { 0 };
	struct jarg a[N + 1];
	struct submitter sub;
	struct stopper st;
	uco_job *j[N];
	uco_task *t, *ts;
	uco_pool *p;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&w.gate), 0);
	ck_assert_int_eq(uco_pool_create(&p, &o), 0);
	for (int i = 0; i <= N; i++)
		a[i] = (struct jarg){ .w = &w, .value = i };
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_pool_submit(p, job, &a[i], &j[i]), 0);
		ck_assert_int_eq(uco_yield(), 0);
	}
	stats_eq(p, N, 0, 0, 0, 2, 4);
	/* A submitter waits for room when the stop comes: it is refused. */
	sub = (struct submitter){ .p = p, .a = &a[N] };
	ck_assert_int_eq(uco_spawn(&ts, submitter_task, &sub, NULL), 0);
	st = (struct stopper){ .p = p, .mode = UCO_POOL_DRAIN };
	ck_assert_int_eq(uco_spawn(&t, stopper_task, &st, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_yield(), 0);
	join_ok(ts);
	ck_assert_int_eq(sub.r, -ESHUTDOWN);
	ck_assert_int_eq(uco_pool_try_submit(p, job, &a[N], NULL), -ESHUTDOWN);
	ck_assert_int_eq(uco_pool_submit(p, job, &a[N], NULL), -ESHUTDOWN);
	ck_assert(!st.done); /* the jobs still wait on the gate */
	ck_assert_int_eq(uco_future_set_result(w.gate, NULL), 0);
	join_ok(t);
	ck_assert_int_eq(st.r, 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_job_get_status(j[i]), UCO_JOB_DONE);
		uco_job_release(j[i]);
	}
	ck_assert(!a[N].ran);
	stats_eq(p, N, N, 0, 0, 0, 0);
	/* Stopping again: nothing left, returns at once. */
	ck_assert_int_eq(uco_pool_stop(p, UCO_POOL_CANCEL), 0);
	uco_pool_free(p);
	uco_future_free(w.gate);
}

START_TEST(stop_drain)
{
	lc_run(body_stop_drain, NULL, NULL);
}
END_TEST

static void body_stop_cancel(void *arg)
{
	enum { N = 6 };
	uco_pool_opts o = { .workers = 2, .queue_size = 8 };
	struct world w = { 0 };
	struct jarg a[N];
	uco_job *j[N];
	uco_pool *p;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&w.gate), 0);
	ck_assert_int_eq(uco_pool_create(&p, &o), 0);
	for (int i = 0; i < N; i++) {
		a[i] = (struct jarg){ .w = &w, .value = i };
		/* Half of them without a handle. */
		ck_assert_int_eq(uco_pool_submit(p, job, &a[i],
						 i % 2 ? &j[i] : NULL),
				 0);
	}
	ck_assert_int_eq(uco_yield(), 0);
	stats_eq(p, N, 0, 0, 0, 2, N - 2);
	ck_assert_int_eq(uco_pool_stop(p, UCO_POOL_CANCEL), 0);
	/* The two running were cancelled in their wait, the rest never ran. */
	ck_assert_int_eq(a[0].gate_r, -ECANCELED);
	ck_assert_int_eq(a[1].gate_r, -ECANCELED);
	for (int i = 2; i < N; i++)
		ck_assert(!a[i].ran);
	for (int i = 1; i < N; i += 2) {
		ck_assert_int_eq(uco_job_get_status(j[i]), UCO_JOB_CANCELLED);
		ck_assert_int_eq(uco_job_wait(j[i], UCO_JOB_FOREVER, NULL),
				 -ECANCELED);
		uco_job_release(j[i]);
	}
	stats_eq(p, N, 0, 0, N, 0, 0);
	uco_pool_free(p);
	uco_future_free(w.gate);

	/* A running job that finishes its work despite the cancel is done:
	 * the outcome is what happened. */
	w = (struct world){ .shield = true };
	ck_assert_int_eq(uco_future_create(&w.gate), 0);
	ck_assert_int_eq(uco_pool_create(&p, &o), 0);
	a[0] = (struct jarg){ .w = &w, .value = 21 };
	ck_assert_int_eq(uco_pool_submit(p, job, &a[0], &j[0]), 0);
	ck_assert_int_eq(uco_yield(), 0);
	{
		struct stopper st = { .p = p, .mode = UCO_POOL_CANCEL };
		uco_task *t;
		void *res;

		ck_assert_int_eq(uco_spawn(&t, stopper_task, &st, NULL), 0);
		ck_assert_int_eq(uco_yield(), 0);
		ck_assert(!st.done);
		ck_assert_int_eq(uco_future_set_result(w.gate, NULL), 0);
		join_ok(t);
		ck_assert_int_eq(st.r, 0);
		ck_assert_int_eq(uco_job_wait(j[0], 0, &res), 0);
		ck_assert_ptr_eq(res, (void *)42);
	}
	uco_job_release(j[0]);
	stats_eq(p, 1, 1, 0, 0, 0, 0);
	uco_pool_free(p);
	uco_future_free(w.gate);
}

START_TEST(stop_cancel)
{
	lc_run(body_stop_cancel, NULL, NULL);
}
END_TEST

/* A drain cut short by a timeout turns into a cancel and still waits. */
static void body_stop_cut_short(void *arg)
{
	uco_pool_opts o = { .workers = 1 };
	struct world w = { 0 };
	struct jarg a[2];
	struct stopper st;
	uco_task *t;
	uco_pool *p;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&w.gate), 0);
	ck_assert_int_eq(uco_pool_create(&p, &o), 0);
	for (int i = 0; i < 2; i++) {
		a[i] = (struct jarg){ .w = &w, .value = i };
		ck_assert_int_eq(uco_pool_submit(p, job, &a[i], NULL), 0);
	}
	st = (struct stopper){ .p = p, .mode = UCO_POOL_DRAIN, .scope = 2 * MS };
	ck_assert_int_eq(uco_spawn(&t, stopper_task, &st, NULL), 0);
	join_ok(t);
	ck_assert_int_eq(st.r, -ETIMEDOUT);
	ck_assert_int_eq(a[0].gate_r, -ECANCELED);
	ck_assert(!a[1].ran);
	stats_eq(p, 2, 0, 0, 2, 0, 0);
	uco_pool_free(p);

	/* Cancelled while draining: the same. */
	ck_assert_int_eq(uco_pool_create(&p, &o), 0);
	ck_assert_int_eq(uco_pool_submit(p, job, &a[0], NULL), 0);
	st = (struct stopper){ .p = p, .mode = UCO_POOL_DRAIN };
	ck_assert_int_eq(uco_spawn(&t, stopper_task, &st, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	join_ok(t);
	ck_assert_int_eq(st.r, -ECANCELED);
	stats_eq(p, 1, 0, 0, 1, 0, 0);
	uco_pool_free(p);
	uco_future_free(w.gate);
}

START_TEST(stop_cut_short)
{
	lc_run(body_stop_cut_short, NULL, NULL);
}
END_TEST

/* uco_run's shutdown with a pool never stopped: the workers and jobs are
 * cancelled and the runtime still ends (the pool itself leaks: this run is
 * not leak-checked, and LeakSanitizer is told so). */
static void body_shutdown(void *arg)
{
	static struct world w;
	static struct jarg a[3];
	uco_pool *p;

	(void)arg;
	w = (struct world){ 0 };
	ck_assert_int_eq(uco_future_create(&w.gate), 0);
	ck_assert_int_eq(uco_pool_create(&p, NULL), 0);
#ifdef TH_ASAN
	__lsan_ignore_object(p);
#endif
	for (int i = 0; i < 3; i++) {
		a[i] = (struct jarg){ .w = &w, .value = i };
		ck_assert_int_eq(uco_pool_submit(p, job, &a[i], NULL), 0);
	}
	ck_assert_int_eq(uco_yield(), 0);
}

START_TEST(runtime_shutdown)
{
	th_run(body_shutdown, NULL, NULL);
}
END_TEST

/* ---- misuse ----------------------------------------------------------------- */

static void *submit_here(void *arg)
{
	return (void *)(intptr_t)(uco_pool_try_submit(arg, job, NULL, NULL) *
				  1000 + uco_pool_stop(arg, UCO_POOL_DRAIN));
}

static void body_misuse(void *arg)
{
	uco_pool *p = (uco_pool *)&p;
	uco_job *j = (uco_job *)&j;
	uco_task *t;
	void *res;

	(void)arg;
	ck_assert_int_eq(uco_pool_create(&p, NULL), 0);
	ck_assert_int_eq(uco_pool_submit(p, NULL, NULL, &j), -EINVAL);
	ck_assert_ptr_null(j);
	ck_assert_int_eq(uco_spawn_on(1, &t, submit_here, p, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_int_eq((intptr_t)res, -EXDEV * 1000 - EXDEV);
	uco_task_release(t);
	ck_assert_int_eq(uco_pool_stop(p, UCO_POOL_DRAIN), 0);
	uco_pool_free(p);
}

START_TEST(misuse)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = 2;
	lc_run(body_misuse, NULL, &cfg);
}
END_TEST

START_TEST(outside_runtime)
{
	uco_pool *p = (uco_pool *)&p;

	ck_assert_int_eq(uco_pool_create(&p, NULL), -EPERM);
	ck_assert_ptr_null(p);
}
END_TEST

static void body_free_running(void *arg)
{
	uco_pool *p;

	(void)arg;
	ck_assert_int_eq(uco_pool_create(&p, NULL), 0);
	uco_pool_free(p); /* aborts: not stopped */
}

START_TEST(free_running)
{
	th_run(body_free_running, NULL, NULL);
}
END_TEST

static Suite *pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc;

	tc = tcase_create("jobs");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, results);
	tcase_add_test(tc, failure);
	tcase_add_test(tc, backpressure);
	tcase_add_test(tc, job_timeout_cancel);
	tcase_add_test(tc, release_early);
	suite_add_tcase(s, tc);

	tc = tcase_create("stop");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, stop_drain);
	tcase_add_test(tc, stop_cancel);
	tcase_add_test(tc, stop_cut_short);
	tcase_add_test(tc, runtime_shutdown);
	suite_add_tcase(s, tc);

	tc = tcase_create("misuse");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, misuse);
	tcase_add_test(tc, outside_runtime);
	tcase_add_test_raise_signal(tc, free_running, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(pool_suite());
}
