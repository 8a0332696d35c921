/*
 * Suite "combine": uco_gather, uco_wait and as_completed
 * (include/uco/combine.h).
 *
 * Where the order in which tasks finish matters, it is set by futures (a
 * task finishes when its gate is set) rather than by sleeping different
 * times, except in the one test that checks exactly that.
 */
#include <errno.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC
#define SEC UCO_NSEC_PER_SEC

/* A child task: waits for its gate (if any) or sleeps ns (if any), records
 * what that wait returned, then ends with `fail` or `result`; a failed wait
 * (cancelled, timed out) ends it with that error unless `ignore`. */
struct job {
	uint64_t ns;
	uco_future *gate;
	int fail;
	void *result;
	bool ignore;
	int saw;
	bool finished;
};

static void *job_task(void *arg)
{
	struct job *j = arg;
	int r = 0;

	if (j->gate)
		r = uco_future_wait(j->gate, NULL);
	else if (j->ns)
		r = uco_sleep(j->ns);
	j->saw = r;
	j->finished = true;
	if (r < 0 && !j->ignore)
		return uco_fail(r);
	if (j->fail)
		return uco_fail(j->fail);
	return j->result;
}

static uco_task *spawn_job(struct job *j)
{
	uco_task *t;

	j->saw = 1;
	ck_assert_int_eq(uco_spawn(&t, job_task, j, NULL), 0);
	return t;
}

static void release_all(uco_task **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		uco_task_release(t[i]);
}

/* Cancel and join every task still running. */
static void finish_all(uco_task **t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uco_cancel(t[i]);
		ck_assert_int_ne(uco_join(t[i], NULL), -EAGAIN);
	}
}

/* ---- gather ---------------------------------------------------------- */

/* Results come in the order of the array, not of completion. */
static void body_gather_in_order(void *arg)
{
	enum { N = 5 };
	struct job j[N];
	uco_task *t[N];
	void *results[N];
	int errors[N];

	for (int i = 0; i < N; i++) {
		j[i] = (struct job){ .ns = (uint64_t)(N - i) * 5 * MS,
				     .result = (void *)(intptr_t)(i * 10) };
		t[i] = spawn_job(&j[i]);
	}
	ck_assert_int_eq(uco_gather(t, N, results, errors), 0);
	for (int i = 0; i < N; i++) {
		ck_assert(uco_task_done(t[i]));
		ck_assert_ptr_eq(results[i], (void *)(intptr_t)(i * 10));
		ck_assert_int_eq(errors[i], 0);
	}
	/* Again, all done already, with the arrays optional. */
	ck_assert_int_eq(uco_gather(t, N, NULL, NULL), 0);
	ck_assert_int_eq(uco_gather(t, N, results, NULL), 0);
	ck_assert_ptr_eq(results[4], (void *)(intptr_t)40);
	ck_assert_int_eq(uco_gather(NULL, 0, NULL, NULL), 0);
	release_all(t, N);
}

START_TEST(gather_in_order)
{
	lc_run(body_gather_in_order, NULL, NULL);
}
END_TEST

/* Per-task errors and the failure count; a result that looks like an
 * errno is still a result. */
static void body_gather_errors(void *arg)
{
	enum { N = 5 };
	struct job j[N] = {
		{ .ns = 2 * MS, .result = (void *)(intptr_t)1 },
		{ .ns = 4 * MS, .fail = -EIO },
		{ .ns = 1 * MS, .result = (void *)(intptr_t)-5 },
		{ .fail = -ENOENT },
		{ .result = (void *)(intptr_t)5 },
	};
	uco_task *t[N];
	void *results[N];
	int errors[N];

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_gather(t, N, results, errors), 2);
	ck_assert_ptr_eq(results[0], (void *)(intptr_t)1);
	ck_assert_int_eq(errors[0], 0);
	ck_assert_ptr_null(results[1]);
	ck_assert_int_eq(errors[1], -EIO);
	ck_assert_ptr_eq(results[2], (void *)(intptr_t)-5);
	ck_assert_int_eq(errors[2], 0);
	ck_assert_ptr_null(results[3]);
	ck_assert_int_eq(errors[3], -ENOENT);
	ck_assert_ptr_eq(results[4], (void *)(intptr_t)5);
	ck_assert_int_eq(errors[4], 0);
	release_all(t, N);
}

START_TEST(gather_errors)
{
	lc_run(body_gather_errors, NULL, NULL);
}
END_TEST

/* A task that cancels another after a while. */
struct canceller {
	uco_task *target;
	uint64_t after_ns;
};

static void *canceller_task(void *arg)
{
	struct canceller *c = arg;

	ck_assert_int_eq(uco_sleep(c->after_ns), 0);
	ck_assert_int_eq(uco_cancel(c->target), 0);
	return NULL;
}

/* Members cancelled before and during the gather fail with -ECANCELED;
 * one that ignores its cancel and returns a result succeeds. */
static void body_gather_cancelled_members(void *arg)
{
	enum { N = 4 };
	struct job j[N] = {
		{ .ns = 10 * SEC },
		{ .ns = 10 * SEC },
		{ .ns = 10 * SEC, .ignore = true,
		  .result = (void *)(intptr_t)3 },
		{ .ns = 2 * MS, .result = (void *)(intptr_t)4 },
	};
	uco_task *t[N], *c1, *c2;
	struct canceller k1, k2;
	void *results[N];
	int errors[N];

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_cancel(t[0]), 0);
	k1 = (struct canceller){ t[1], 5 * MS };
	k2 = (struct canceller){ t[2], 5 * MS };
	ck_assert_int_eq(uco_spawn(&c1, canceller_task, &k1, NULL), 0);
	ck_assert_int_eq(uco_spawn(&c2, canceller_task, &k2, NULL), 0);
	ck_assert_int_eq(uco_gather(t, N, results, errors), 2);
	ck_assert_int_eq(errors[0], -ECANCELED);
	ck_assert_int_eq(errors[1], -ECANCELED);
	ck_assert_int_eq(errors[2], 0);
	ck_assert_ptr_eq(results[2], (void *)(intptr_t)3);
	ck_assert_int_eq(j[2].saw, -ECANCELED);
	ck_assert_int_eq(errors[3], 0);
	ck_assert_ptr_eq(results[3], (void *)(intptr_t)4);
	ck_assert_int_eq(uco_join(c1, NULL), 0);
	ck_assert_int_eq(uco_join(c2, NULL), 0);
	uco_task_release(c1);
	uco_task_release(c2);
	release_all(t, N);
}

START_TEST(gather_cancelled_members)
{
	lc_run(body_gather_cancelled_members, NULL, NULL);
}
END_TEST

/* Cancelling the task in gather: the children are cancelled and joined
 * before gather returns -ECANCELED, with every outcome filled in. */
struct gatherer {
	uco_task **tasks;
	struct job *jobs;
	size_t n;
	void *results[4];
	int errors[4];
	int r;
	bool all_done; /* every child done when gather returned */
	bool all_seen; /* every job had recorded its wait by then */
	uint64_t scope_ns;
};

static void *gatherer_task(void *arg)
{
	struct gatherer *g = arg;
	int s = g->scope_ns ? uco_timeout_begin(g->scope_ns) : -1;

	g->r = uco_gather(g->tasks, g->n, g->results, g->errors);
	if (s >= 0)
		uco_timeout_end(s);
	g->all_done = true;
	g->all_seen = true;
	for (size_t i = 0; i < g->n; i++) {
		g->all_done &= uco_task_done(g->tasks[i]);
		g->all_seen &= g->jobs[i].finished;
	}
	return NULL;
}

static void body_gather_caller_cancelled(void *arg)
{
	enum { N = 4 };
	struct job j[N] = {
		{ .result = (void *)(intptr_t)1 },
		{ .ns = 10 * SEC },
		{ .ns = 10 * SEC },
		{ .ns = 10 * SEC, .ignore = true,
		  .result = (void *)(intptr_t)4 },
	};
	uco_task *t[N], *gt;
	struct gatherer g = { .tasks = t, .jobs = j, .n = N, .r = 1 };

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_spawn(&gt, gatherer_task, &g, NULL), 0);
	ck_assert_int_eq(uco_join(t[0], NULL), 0);
	/* One yield runs everyone that is ready (tasks run in order): the
	 * jobs are in their sleeps and the gatherer in uco_gather. */
	ck_assert_int_eq(uco_yield(), 0);
	for (int i = 1; i < N; i++)
		ck_assert_int_eq(uco_task_get_state(t[i]), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_task_get_state(gt), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(gt), 0);
	ck_assert_int_eq(uco_join(gt, NULL), 0);
	ck_assert_int_eq(g.r, -ECANCELED);
	ck_assert(g.all_done);
	ck_assert(g.all_seen);
	ck_assert_ptr_eq(g.results[0], (void *)(intptr_t)1);
	ck_assert_int_eq(g.errors[0], 0);
	for (int i = 1; i < 3; i++) {
		ck_assert_int_eq(j[i].saw, -ECANCELED);
		ck_assert_int_eq(g.errors[i], -ECANCELED);
		ck_assert_ptr_null(g.results[i]);
	}
	ck_assert_int_eq(j[3].saw, -ECANCELED);
	ck_assert_int_eq(g.errors[3], 0);
	ck_assert_ptr_eq(g.results[3], (void *)(intptr_t)4);
	uco_task_release(gt);
	release_all(t, N);
}

START_TEST(gather_caller_cancelled)
{
	lc_run(body_gather_caller_cancelled, NULL, NULL);
}
END_TEST

/* Under an expiring scope: the same, with -ETIMEDOUT. */
static void body_gather_scope(void *arg)
{
	enum { N = 3 };
	struct job j[N] = {
		{ .ns = 1 * MS, .result = (void *)(intptr_t)1 },
		{ .ns = 10 * SEC },
		{ .ns = 10 * SEC },
	};
	uco_task *t[N], *gt;
	struct gatherer g = { .tasks = t, .jobs = j, .n = N, .r = 1,
			      .scope_ns = 20 * MS };
	uint64_t t0 = uco_now();

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_spawn(&gt, gatherer_task, &g, NULL), 0);
	ck_assert_int_eq(uco_join(gt, NULL), 0);
	ck_assert_uint_ge(uco_now() - t0, 20 * MS);
	ck_assert_int_eq(g.r, -ETIMEDOUT);
	ck_assert(g.all_done);
	ck_assert_int_eq(g.errors[0], 0);
	ck_assert_ptr_eq(g.results[0], (void *)(intptr_t)1);
	ck_assert_int_eq(g.errors[1], -ECANCELED);
	ck_assert_int_eq(g.errors[2], -ECANCELED);
	uco_task_release(gt);
	release_all(t, N);
}

START_TEST(gather_scope)
{
	lc_run(body_gather_scope, NULL, NULL);
}
END_TEST

/* Many children, more than fit anywhere in one batch. */
static void body_gather_many(void *arg)
{
	enum { N = 2000 };
	struct job *j = calloc(N, sizeof(*j));
	uco_task **t = calloc(N, sizeof(*t));
	void **results = calloc(N, sizeof(*results));
	int *errors = calloc(N, sizeof(*errors));

	ck_assert(j && t && results && errors);
	for (int i = 0; i < N; i++) {
		j[i] = (struct job){ .ns = (uint64_t)(i % 7 + 1) * MS,
				     .result = (void *)(intptr_t)i,
				     .fail = i % 10 == 9 ? -EIO : 0 };
		t[i] = spawn_job(&j[i]);
	}
	ck_assert_int_eq(uco_gather(t, N, results, errors), N / 10);
	for (int i = 0; i < N; i++) {
		LC_CHECK(errors[i] == (i % 10 == 9 ? -EIO : 0), "errors[%d]",
			 i);
		LC_CHECK(errors[i] || results[i] == (void *)(intptr_t)i,
			 "results[%d]", i);
	}
	release_all(t, N);
	free(j);
	free(t);
	free(results);
	free(errors);
}

START_TEST(gather_many)
{
	lc_run(body_gather_many, NULL, NULL);
}
END_TEST

/* ---- wait ------------------------------------------------------------ */

static void body_wait_all(void *arg)
{
	enum { N = 3 };
	struct job j[N] = { { .ns = 5 * MS }, { .ns = 10 * MS, .fail = -EIO },
			    { .ns = 15 * MS } };
	uco_task *t[N];

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_wait(t, N, UCO_ALL_COMPLETED, UINT64_MAX), N);
	for (int i = 0; i < N; i++)
		ck_assert(uco_task_done(t[i]));
	/* All done: at once. */
	ck_assert_int_eq(uco_wait(t, N, UCO_ALL_COMPLETED, 0), N);
	ck_assert_int_eq(uco_wait(t, 0, UCO_ALL_COMPLETED, UINT64_MAX), 0);
	release_all(t, N);
}

START_TEST(wait_all)
{
	lc_run(body_wait_all, NULL, NULL);
}
END_TEST

static void body_wait_first_completed(void *arg)
{
	enum { N = 3 };
	struct job j[N] = { { .ns = 10 * SEC }, { .ns = 5 * MS },
			    { .ns = 10 * SEC } };
	uco_task *t[N];

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_wait(t, N, UCO_FIRST_COMPLETED, UINT64_MAX), 1);
	ck_assert(!uco_task_done(t[0]));
	ck_assert(uco_task_done(t[1]));
	ck_assert(!uco_task_done(t[2]));
	/* One is done already: satisfied at once. */
	ck_assert_int_eq(uco_wait(t, N, UCO_FIRST_COMPLETED, UINT64_MAX), 1);
	/* uco_wait cancels nothing. */
	ck_assert_int_eq(j[0].saw, 1);
	finish_all(t, N);
	release_all(t, N);
}

START_TEST(wait_first_completed)
{
	lc_run(body_wait_first_completed, NULL, NULL);
}
END_TEST

static void body_wait_first_error(void *arg)
{
	enum { N = 3 };
	struct job j[N] = { { .ns = 10 * SEC }, { .ns = 2 * MS },
			    { .ns = 8 * MS, .fail = -EIO } };
	struct job k[2] = { { .ns = 2 * MS }, { .ns = 6 * MS } };
	uco_task *t[N], *u[2];

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	/* Returns on the failure, not on the first success. */
	ck_assert_int_eq(uco_wait(t, N, UCO_FIRST_ERROR, UINT64_MAX), 2);
	ck_assert(!uco_task_done(t[0]));
	ck_assert(uco_task_done(t[1]));
	ck_assert_int_eq(uco_task_outcome(t[2], NULL), -EIO);
	/* A failure already there: at once. */
	ck_assert_int_eq(uco_wait(t, N, UCO_FIRST_ERROR, UINT64_MAX), 2);
	finish_all(t, N);
	release_all(t, N);

	/* No failure: waits for all. */
	for (int i = 0; i < 2; i++)
		u[i] = spawn_job(&k[i]);
	ck_assert_int_eq(uco_wait(u, 2, UCO_FIRST_ERROR, UINT64_MAX), 2);
	release_all(u, 2);
}

START_TEST(wait_first_error)
{
	lc_run(body_wait_first_error, NULL, NULL);
}
END_TEST

/* Its own timeout expiring is not an error: the count tells. */
static void body_wait_timeout(void *arg)
{
	enum { N = 3 };
	struct job j[N] = { { .ns = 10 * SEC }, { .ns = 10 * SEC },
			    { .ns = 1 * MS } };
	uco_task *t[N];
	uint64_t t0;

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	t0 = uco_now();
	ck_assert_int_eq(uco_wait(t, 2, UCO_ALL_COMPLETED, 20 * MS), 0);
	ck_assert_uint_ge(uco_now() - t0, 20 * MS);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
	ck_assert_int_eq(uco_wait(t, N, UCO_ALL_COMPLETED, 20 * MS), 1);
	ck_assert(uco_task_done(t[2]));
	ck_assert_int_eq(uco_wait(t, 2, UCO_FIRST_COMPLETED, 10 * MS), 0);
	ck_assert_int_eq(uco_wait(t, 2, UCO_FIRST_ERROR, 10 * MS), 0);
	/* Nothing was cancelled. */
	ck_assert_int_eq(j[0].saw, 1);
	ck_assert_int_eq(j[1].saw, 1);
	/* A zero timeout just counts. */
	ck_assert_int_eq(uco_wait(t, N, UCO_ALL_COMPLETED, 0), 1);
	ck_assert_int_eq(uco_nop(), 0);
	finish_all(t, N);
	release_all(t, N);
}

START_TEST(wait_timeout)
{
	lc_run(body_wait_timeout, NULL, NULL);
}
END_TEST

static void body_wait_bad_mode(void *arg)
{
	struct job j = { .ns = 1 * MS };
	uco_task *t = spawn_job(&j);

	ck_assert_int_eq(uco_wait(&t, 1, (uco_wait_mode)42, UINT64_MAX),
			 -EINVAL);
	ck_assert_int_eq(uco_wait(&t, 1, (uco_wait_mode)-1, 0), -EINVAL);
	ck_assert_int_eq(uco_wait(NULL, 0, (uco_wait_mode)7, 0), -EINVAL);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
}

START_TEST(wait_bad_mode)
{
	lc_run(body_wait_bad_mode, NULL, NULL);
}
END_TEST

/* With every scope slot taken, a timeout cannot be honoured: the wait
 * refuses with -E2BIG (as uco_wait_for does) rather than run without it. */
static void body_wait_scopes_full(void *arg)
{
	struct job j = { .ns = 300 * MS };
	uco_task *t = spawn_job(&j);
	uint64_t t0;
	int r;

	for (int i = 0; i < UCO_TIMEOUT_DEPTH; i++)
		ck_assert_int_eq(uco_timeout_begin(10 * SEC), i);
	t0 = uco_now();
	r = uco_wait(&t, 1, UCO_ALL_COMPLETED, 10 * MS);
	ck_assert_msg(r == -E2BIG, "uco_wait returned %d after %llu ms", r,
		      (unsigned long long)((uco_now() - t0) / MS));
	/* Without a timeout of its own it needs no slot. */
	ck_assert_int_eq(uco_wait(&t, 1, UCO_ALL_COMPLETED, UINT64_MAX), 1);
	ck_assert_int_eq(uco_timeout_end(0), 0);
	uco_task_release(t);
}

START_TEST(wait_scopes_full)
{
	lc_run(body_wait_scopes_full, NULL, NULL);
}
END_TEST

/* An enclosing scope that expires is an error (-ETIMEDOUT), whether the
 * wait has a timeout of its own (a later one) or not. */
static void body_wait_enclosing_scope(void *arg)
{
	enum { N = 2 };
	struct job j[N] = { { .ns = 10 * SEC }, { .ns = 10 * SEC } };
	uco_task *t[N];
	int s;

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	s = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(uco_wait(t, N, UCO_ALL_COMPLETED, UINT64_MAX),
			 -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	s = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(uco_wait(t, N, UCO_FIRST_COMPLETED, 5 * SEC),
			 -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	/* ...and the wait's own nearer timeout is still just a count. */
	s = uco_timeout_begin(5 * SEC);
	ck_assert_int_eq(uco_wait(t, N, UCO_ALL_COMPLETED, 10 * MS), 0);
	ck_assert_int_eq(uco_timeout_end(s), 0);
	finish_all(t, N);
	release_all(t, N);
}

START_TEST(wait_enclosing_scope)
{
	lc_run(body_wait_enclosing_scope, NULL, NULL);
}
END_TEST

/* The task in uco_wait cancelled: -ECANCELED, the tasks keep running. */
struct waiter_arg {
	uco_task **tasks;
	size_t n;
	int r;
};

static void *waiter_task(void *arg)
{
	struct waiter_arg *w = arg;

	w->r = uco_wait(w->tasks, w->n, UCO_ALL_COMPLETED, 10 * SEC);
	return NULL;
}

static void body_wait_cancelled(void *arg)
{
	enum { N = 2 };
	struct job j[N] = { { .ns = 10 * SEC }, { .ns = 10 * SEC } };
	uco_task *t[N], *wt;
	struct waiter_arg w = { t, N, 1 };

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_spawn(&wt, waiter_task, &w, NULL), 0);
	/* One yield runs everyone that is ready (tasks run in order): the
	 * jobs are in their sleeps and the waiter in uco_wait. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(t[0]), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_task_get_state(t[1]), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_task_get_state(wt), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(wt), 0);
	ck_assert_int_eq(uco_join(wt, NULL), 0);
	ck_assert_int_eq(w.r, -ECANCELED);
	ck_assert(!uco_task_done(t[0]));
	ck_assert(!uco_task_done(t[1]));
	/* Its waiters are off the tasks' lists: finishing them is safe. */
	finish_all(t, N);
	uco_task_release(wt);
	release_all(t, N);
}

START_TEST(wait_cancelled)
{
	lc_run(body_wait_cancelled, NULL, NULL);
}
END_TEST

/* ---- as_completed ---------------------------------------------------- */

/* Tasks sleeping different times come back in the order they finish. */
static void body_as_completed_sleeps(void *arg)
{
	enum { N = 3 };
	struct job j[N] = { { .ns = 60 * MS }, { .ns = 5 * MS },
			    { .ns = 30 * MS } };
	static const int order[N] = { 1, 2, 0 };
	uco_task *t[N], *got;
	uco_as_completed *it;

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_as_completed_create(&it, t, N), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_as_completed_next(it, &got), 1);
		ck_assert_ptr_eq(got, t[order[i]]);
		ck_assert(uco_task_done(got));
	}
	ck_assert_int_eq(uco_as_completed_next(it, &got), 0);
	ck_assert_ptr_null(got);
	ck_assert_int_eq(uco_as_completed_next(it, &got), 0);
	uco_as_completed_free(it);
	release_all(t, N);
}

START_TEST(as_completed_sleeps)
{
	lc_run(body_as_completed_sleeps, NULL, NULL);
}
END_TEST

/* The order set by futures, one at a time and all at once; failures and
 * cancellations are completions too. */
struct setter {
	uco_future **gates;
	const int *order;
	int n;
	bool one_by_one;
};

static void *setter_task(void *arg)
{
	struct setter *s = arg;

	for (int i = 0; i < s->n; i++) {
		ck_assert_int_eq(uco_future_set_result(s->gates[s->order[i]],
						       NULL), 0);
		if (s->one_by_one)
			ck_assert_int_eq(uco_nop(), 0);
	}
	return NULL;
}

static void as_completed_gated(bool one_by_one)
{
	enum { N = 5 };
	static const int order[N] = { 3, 0, 4, 1, 2 };
	uco_future *gates[N];
	struct job j[N];
	uco_task *t[N], *st, *got;
	uco_as_completed *it;
	struct setter s = { gates, order, N, one_by_one };

	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_future_create(&gates[i]), 0);
		j[i] = (struct job){ .gate = gates[i],
				     .fail = i == 4 ? -EIO : 0 };
		t[i] = spawn_job(&j[i]);
	}
	ck_assert_int_eq(uco_as_completed_create(&it, t, N), 0);
	ck_assert_int_eq(uco_spawn(&st, setter_task, &s, NULL), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_as_completed_next(it, &got), 1);
		ck_assert_ptr_eq(got, t[order[i]]);
	}
	ck_assert_int_eq(uco_as_completed_next(it, &got), 0);
	ck_assert_int_eq(uco_task_outcome(t[4], NULL), -EIO);
	uco_as_completed_free(it);
	ck_assert_int_eq(uco_join(st, NULL), 0);
	uco_task_release(st);
	release_all(t, N);
	for (int i = 0; i < N; i++)
		uco_future_free(gates[i]);
}

static void body_as_completed_gated(void *arg)
{
	as_completed_gated(true);
	as_completed_gated(false);
}

START_TEST(as_completed_gated_order)
{
	lc_run(body_as_completed_gated, NULL, NULL);
}
END_TEST

/* Tasks already finished when the iterator is made come first. */
static void body_as_completed_finished(void *arg)
{
	enum { N = 4 };
	struct job j[N] = { { .ns = 5 * MS }, { .result = NULL },
			    { .ns = 5 * MS }, { .fail = -EIO } };
	uco_task *t[N], *got;
	uco_as_completed *it;
	bool seen[N] = { false, false, false, false };

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	ck_assert_int_eq(uco_join(t[3], NULL), -EIO);
	ck_assert_int_eq(uco_as_completed_create(&it, t, N), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_as_completed_next(it, &got), 1);
		ck_assert(got == t[1] || got == t[3]);
		seen[got == t[1] ? 1 : 3] = true;
	}
	ck_assert(seen[1] && seen[3]);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_as_completed_next(it, &got), 1);
		ck_assert(got == t[0] || got == t[2]);
		ck_assert(!seen[got == t[0] ? 0 : 2]);
		seen[got == t[0] ? 0 : 2] = true;
	}
	ck_assert_int_eq(uco_as_completed_next(it, &got), 0);
	uco_as_completed_free(it);

	/* All finished beforehand: handed back without suspending. */
	ck_assert_int_eq(uco_as_completed_create(&it, t, N), 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(uco_as_completed_next(it, &got), 1);
	ck_assert_int_eq(uco_as_completed_next(it, &got), 0);
	uco_as_completed_free(it);

	/* None at all. */
	ck_assert_int_eq(uco_as_completed_create(&it, NULL, 0), 0);
	ck_assert_int_eq(uco_as_completed_next(it, &got), 0);
	ck_assert_ptr_null(got);
	uco_as_completed_free(it);
	uco_as_completed_free(NULL);
	release_all(t, N);
}

START_TEST(as_completed_finished)
{
	lc_run(body_as_completed_finished, NULL, NULL);
}
END_TEST

/* Freed before it is exhausted: with tasks still running, with tasks
 * finished but not handed back, and untouched.  The tasks then finish
 * without touching the freed iterator (AddressSanitizer would tell). */
static void body_as_completed_free_early(void *arg)
{
	enum { N = 4 };
	struct job j[N] = { { .ns = 1 * MS }, { .ns = 2 * MS },
			    { .ns = 20 * MS }, { .ns = 30 * MS } };
	uco_task *t[N], *got;
	uco_as_completed *it, *untouched;

	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_as_completed_create(&it, t, N), 0);
	ck_assert_int_eq(uco_as_completed_create(&untouched, t, N), 0);
	ck_assert_int_eq(uco_as_completed_next(it, &got), 1);
	ck_assert_ptr_eq(got, t[0]);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	uco_as_completed_free(it);
	uco_as_completed_free(untouched);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
	release_all(t, N);
}

START_TEST(as_completed_free_early)
{
	lc_run(body_as_completed_free_early, NULL, NULL);
}
END_TEST

/* next() under a scope or cancelled: -ETIMEDOUT / -ECANCELED, and the
 * iterator still works afterwards. */
struct ac_user {
	uco_as_completed *it;
	int r;
};

static void *ac_user_task(void *arg)
{
	struct ac_user *u = arg;
	uco_task *got;

	u->r = uco_as_completed_next(u->it, &got);
	return NULL;
}

static void body_as_completed_interrupted(void *arg)
{
	enum { N = 2 };
	uco_future *gate;
	struct job j[N] = { { .ns = 30 * MS } };
	uco_task *t[N], *got, *ut;
	uco_as_completed *it;
	struct ac_user u = { .r = 1 };
	int s;

	ck_assert_int_eq(uco_future_create(&gate), 0);
	j[1] = (struct job){ .gate = gate };
	for (int i = 0; i < N; i++)
		t[i] = spawn_job(&j[i]);
	ck_assert_int_eq(uco_as_completed_create(&it, t, N), 0);
	s = uco_timeout_begin(5 * MS);
	ck_assert_int_eq(uco_as_completed_next(it, &got), -ETIMEDOUT);
	ck_assert_ptr_null(got);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);

	u.it = it;
	ck_assert_int_eq(uco_spawn(&ut, ac_user_task, &u, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(ut), 0);
	ck_assert_int_eq(uco_join(ut, NULL), 0);
	ck_assert_int_eq(u.r, -ECANCELED);

	ck_assert_int_eq(uco_as_completed_next(it, &got), 1);
	ck_assert_ptr_eq(got, t[0]);
	ck_assert_int_eq(uco_future_set_result(gate, NULL), 0);
	ck_assert_int_eq(uco_as_completed_next(it, &got), 1);
	ck_assert_ptr_eq(got, t[1]);
	ck_assert_int_eq(uco_as_completed_next(it, &got), 0);
	uco_as_completed_free(it);
	uco_task_release(ut);
	release_all(t, N);
	uco_future_free(gate);
}

START_TEST(as_completed_interrupted)
{
	lc_run(body_as_completed_interrupted, NULL, NULL);
}
END_TEST

/* ---- the checks uco_join makes --------------------------------------- */

/*
 * A list with the caller in it: -EDEADLK before anything is waited for
 * (uco_join(self) refuses too).  gather used to hang for good, even under
 * a 200 ms scope: the scope cut the wait, gather cancelled its tasks and
 * then waited, shielded, for the caller itself to finish.
 */
static void *gather_self_task(void *arg)
{
	uco_task **others = arg;
	uco_task *list[2] = { others[0], uco_current() };
	void *results[2] = { (void *)1, (void *)1 };
	int errors[2] = { 1, 1 };
	int s = uco_timeout_begin(200 * MS);

	ck_assert_int_eq(uco_gather(list, 2, results, errors), -EDEADLK);
	uco_timeout_end(s);
	/* Nothing was touched, nothing cancelled. */
	ck_assert_ptr_eq(results[0], (void *)1);
	ck_assert_int_eq(errors[1], 1);
	ck_assert(!uco_cancelling());
	ck_assert(!uco_task_done(others[0]));
	return NULL;
}

static void body_gather_self(void *arg)
{
	uco_future *gate;
	struct job j;
	uco_task *t[2];

	(void)arg;
	ck_assert_int_eq(uco_future_create(&gate), 0);
	j = (struct job){ .gate = gate };
	t[0] = spawn_job(&j);
	ck_assert_int_eq(uco_spawn(&t[1], gather_self_task, t, NULL), 0);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	ck_assert_int_eq(uco_future_set_result(gate, NULL), 0);
	ck_assert_int_eq(uco_join(t[0], NULL), 0);
	ck_assert_int_eq(j.saw, 0); /* it was never cancelled */
	release_all(t, 2);
	uco_future_free(gate);
}

START_TEST(gather_self_edeadlk)
{
	lc_run(body_gather_self, NULL, NULL);
}
END_TEST

/* uco_wait with the caller in the list (with a timeout, so that the old
 * code, which waited, returned 0 finished instead of hanging). */
static void body_wait_self(void *arg)
{
	uco_task *self = uco_current();

	(void)arg;
	ck_assert_int_eq(uco_wait(&self, 1, UCO_ALL_COMPLETED, 50 * MS),
			 -EDEADLK);
	ck_assert_int_eq(uco_wait(&self, 1, UCO_FIRST_COMPLETED, 50 * MS),
			 -EDEADLK);
	ck_assert_int_eq(uco_wait(NULL, 1, UCO_ALL_COMPLETED, 50 * MS),
			 -EINVAL);
}

START_TEST(wait_self_edeadlk)
{
	lc_run(body_wait_self, NULL, NULL);
}
END_TEST

/* as_completed: created with the caller in it, -EDEADLK; a task of the
 * list iterating it gets the others, then -EDEADLK when only it is left
 * (the old code waited: here, until a scope ran out). */
struct ac_self {
	uco_as_completed *it;
	uco_task *first;
	int r1, r2;
};

static void *ac_self_task(void *arg)
{
	struct ac_self *a = arg;
	uco_task *got = NULL;
	int s = uco_timeout_begin(5 * SEC); /* bounds the old code's wait */

	a->r1 = uco_as_completed_next(a->it, &got);
	a->first = got;
	a->r2 = uco_as_completed_next(a->it, &got);
	uco_timeout_end(s);
	return NULL;
}

static void body_as_completed_self(void *arg)
{
	uco_task *self = uco_current(), *t[2];
	uco_as_completed *it = (uco_as_completed *)1;
	struct ac_self a = { .r1 = 9, .r2 = 9 };
	struct job j = { 0 };

	(void)arg;
	ck_assert_int_eq(uco_as_completed_create(&it, &self, 1), -EDEADLK);
	ck_assert_ptr_null(it);
	t[0] = spawn_job(&j);
	ck_assert_int_eq(uco_spawn(&t[1], ac_self_task, &a, NULL), 0);
	ck_assert_int_eq(uco_as_completed_create(&a.it, t, 2), 0);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	ck_assert_int_eq(a.r1, 1);
	ck_assert_ptr_eq(a.first, t[0]);
	ck_assert_int_eq(a.r2, -EDEADLK);
	uco_as_completed_free(a.it);
	release_all(t, 2);
}

START_TEST(as_completed_self_edeadlk)
{
	lc_run(body_as_completed_self, NULL, NULL);
}
END_TEST

/*
 * Tasks spawned on another core: -EXDEV from all three, before anything is
 * linked.  The old code linked a waiter on core 0's join list from core 1.
 * Here a task on core 1 is handed a task homed on core 0 (which stays
 * unfinished) and tries each.
 */
static void *xdev_task(void *arg)
{
	uco_task *other = arg;
	uco_as_completed *it;

	ck_assert_int_eq(uco_as_completed_create(&it, &other, 1), -EXDEV);
	ck_assert_int_eq(uco_wait(&other, 1, UCO_ALL_COMPLETED, 50 * MS),
			 -EXDEV);
	ck_assert_int_eq(uco_gather(&other, 1, NULL, NULL), -EXDEV);
	ck_assert_int_eq(uco_join(other, NULL), -EXDEV); /* as join does */
	return NULL;
}

static void body_xdev(void *arg)
{
	uco_future *gate;
	struct job j;
	uco_task *t, *x;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&gate), 0);
	j = (struct job){ .gate = gate };
	t = spawn_job(&j);
	ck_assert_int_eq(uco_spawn_on(1, &x, xdev_task, t, NULL), 0);
	ck_assert_int_eq(uco_join(x, NULL), 0);
	uco_task_release(x);
	ck_assert(!uco_task_done(t));
	ck_assert_int_eq(uco_future_set_result(gate, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	uco_future_free(gate);
}

START_TEST(combinators_other_core_exdev)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = 2;
	lc_run(body_xdev, NULL, &cfg);
}
END_TEST

/*
 * uco_as_completed_free() while a task is in next(): that task returns
 * -EBADF and the record goes when it has left (the old code freed it under
 * the blocked task, which was never woken).  Also while the task has been
 * woken but not yet run again; and a second task calling next() while one
 * waits gets -EBUSY instead of stealing its wake-up.
 */
static void *ac_scoped_user(void *arg)
{
	struct ac_user *u = arg;
	uco_task *got;
	int s = uco_timeout_begin(5 * SEC); /* bounds the old code's wait */

	u->r = uco_as_completed_next(u->it, &got);
	uco_timeout_end(s);
	return NULL;
}

static void body_as_completed_free_waiting(void *arg)
{
	uco_future *gate;
	struct job j;
	uco_task *t, *ut;
	uco_as_completed *it;
	struct ac_user u = { .r = 1 };
	uco_task *got;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&gate), 0);
	j = (struct job){ .gate = gate };
	t = spawn_job(&j);

	/* Blocked in next(). */
	ck_assert_int_eq(uco_as_completed_create(&it, &t, 1), 0);
	u.it = it;
	ck_assert_int_eq(uco_spawn(&ut, ac_scoped_user, &u, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(ut), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_as_completed_next(it, &got), -EBUSY);
	uco_as_completed_free(it);
	ck_assert_int_eq(uco_join(ut, NULL), 0);
	ck_assert_int_eq(u.r, -EBADF);
	uco_task_release(ut);

	/* Woken by the task's end, freed before it runs again. */
	ck_assert_int_eq(uco_as_completed_create(&it, &t, 1), 0);
	u = (struct ac_user){ .it = it, .r = 1 };
	ck_assert_int_eq(uco_spawn(&ut, ac_scoped_user, &u, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_future_set_result(gate, NULL), 0);
	/* The job runs and ends (waking ut, queued behind us); then us. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(uco_task_done(t));
	ck_assert_int_eq(uco_task_get_state(ut), UCO_TASK_READY);
	uco_as_completed_free(it);
	ck_assert_int_eq(uco_join(ut, NULL), 0);
	ck_assert_int_eq(u.r, -EBADF);
	uco_task_release(ut);

	uco_task_release(t);
	uco_future_free(gate);
}

START_TEST(as_completed_free_while_waiting)
{
	lc_run(body_as_completed_free_waiting, NULL, NULL);
}
END_TEST

static Suite *combine_suite(void)
{
	Suite *s = suite_create("combine");
	TCase *tc;

	tc = tcase_create("gather");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, gather_in_order);
	tcase_add_test(tc, gather_errors);
	tcase_add_test(tc, gather_cancelled_members);
	tcase_add_test(tc, gather_caller_cancelled);
	tcase_add_test(tc, gather_scope);
	tcase_add_test(tc, gather_many);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, wait_all);
	tcase_add_test(tc, wait_first_completed);
	tcase_add_test(tc, wait_first_error);
	tcase_add_test(tc, wait_timeout);
	tcase_add_test(tc, wait_bad_mode);
	tcase_add_test(tc, wait_scopes_full);
	tcase_add_test(tc, wait_enclosing_scope);
	tcase_add_test(tc, wait_cancelled);
	suite_add_tcase(s, tc);

	tc = tcase_create("as_completed");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, as_completed_sleeps);
	tcase_add_test(tc, as_completed_gated_order);
	tcase_add_test(tc, as_completed_finished);
	tcase_add_test(tc, as_completed_free_early);
	tcase_add_test(tc, as_completed_interrupted);
	suite_add_tcase(s, tc);

	tc = tcase_create("checks");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, gather_self_edeadlk);
	tcase_add_test(tc, wait_self_edeadlk);
	tcase_add_test(tc, as_completed_self_edeadlk);
	tcase_add_test(tc, combinators_other_core_exdev);
	tcase_add_test(tc, as_completed_free_while_waiting);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(combine_suite());
}
