/*
 * Suite "task": spawning, joining, results and errors, names, ids and
 * states, yielding, cancellation in every kind of wait, introspection, many
 * tasks, and spawn_on across cores.
 *
 * Every test runs its body as the main task of uco_run, leak-checked
 * (lc_run, tests/leakcheck.h), and ends with the runtime shut down; the
 * tests that call uco_run or the API outside it are measured the same way
 * (lc_begin/lc_end).  State shared between the main task
 * and its children lives in statics: Check forks a child per test.
 */
#include "leakcheck.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>

#define FOREVER (3600ull * UCO_NSEC_PER_SEC)

/* ---- small task bodies ------------------------------------------------- */

static void *ret_arg(void *arg)
{
	return arg;
}

static void *ret_minus5(void *arg)
{
	(void)arg;
	return (void *)-5;
}

static void *fail_eio(void *arg)
{
	(void)arg;
	return uco_fail(-EIO);
}

/* Sleep "forever"; store what the sleep returned in *arg (an int) and end
 * with that error, as a task that gives up does. */
static void *sleeper(void *arg)
{
	int r = uco_sleep(FOREVER);

	if (arg)
		*(int *)arg = r;
	return r < 0 ? uco_fail(r) : NULL;
}

/* Wait for the future *arg and return its result. */
static void *future_waiter(void *arg)
{
	void *res = NULL;
	int r = uco_future_wait(arg, &res);

	return r < 0 ? uco_fail(r) : res;
}

static void *set_future(void *arg)
{
	ck_assert_int_eq(uco_future_set_result(arg, (void *)0x5e7), 0);
	return NULL;
}

/* ---- results and errors ------------------------------------------------ */

static void body_result_vs_error(void *arg)
{
	uco_task *a, *b, *c;
	void *res = (void *)0xdead;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&a, ret_minus5, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(&b, fail_eio, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(&c, ret_arg, NULL, NULL), 0);
	/* Not finished yet: no outcome. */
	ck_assert_int_eq(uco_task_outcome(a, &res), -EAGAIN);
	ck_assert_ptr_eq(res, (void *)0xdead);

	/* A pointer that looks like -5 is a result, not an error. */
	ck_assert_int_eq(uco_join(a, &res), 0);
	ck_assert_ptr_eq(res, (void *)-5);
	res = (void *)0xdead;
	ck_assert_int_eq(uco_task_outcome(a, &res), 0);
	ck_assert_ptr_eq(res, (void *)-5);

	/* uco_fail(-EIO) is an error; the result pointer is left alone. */
	res = (void *)0xdead;
	ck_assert_int_eq(uco_join(b, &res), -EIO);
	ck_assert_ptr_eq(res, (void *)0xdead);
	ck_assert_int_eq(uco_task_outcome(b, &res), -EIO);

	/* NULL is an ordinary result. */
	res = (void *)0xdead;
	ck_assert_int_eq(uco_join(c, &res), 0);
	ck_assert_ptr_null(res);
	/* Joining again gives the same outcome; result may be NULL. */
	ck_assert_int_eq(uco_join(a, NULL), 0);
	ck_assert_int_eq(uco_join(b, NULL), -EIO);

	uco_task_release(a);
	uco_task_release(b);
	uco_task_release(c);
	uco_task_release(NULL); /* a no-op */
}

START_TEST(test_result_vs_error)
{
	lc_run(body_result_vs_error, NULL, NULL);
}
END_TEST

/* ---- detached tasks and early release ------------------------------------ */

static void body_detached(void *arg)
{
	uco_future *f1, *f2;
	uco_task *t;
	void *res = NULL;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&f1), 0);
	ck_assert_int_eq(uco_future_create(&f2), 0);
	/* out = NULL: detached, it still runs. */
	ck_assert_int_eq(uco_spawn(NULL, set_future, f1, NULL), 0);
	ck_assert_int_eq(uco_future_wait(f1, &res), 0);
	ck_assert_ptr_eq(res, (void *)0x5e7);

	/* A handle released before the task ran: the task is unaffected. */
	ck_assert_int_eq(uco_spawn(&t, set_future, f2, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(uco_future_wait(f2, &res), 0);
	ck_assert_ptr_eq(res, (void *)0x5e7);
	uco_future_free(f1);
	uco_future_free(f2);
}

START_TEST(test_detached)
{
	lc_run(body_detached, NULL, NULL);
}
END_TEST

/* ---- names, ids, uco_current, states ------------------------------------- */

static uco_task *g_handle;
static bool g_child_checked;

static void *check_current(void *arg)
{
	(void)arg;
	ck_assert_ptr_nonnull(uco_current());
	ck_assert_ptr_eq(uco_current(), g_handle);
	ck_assert_int_eq(uco_task_get_state(uco_current()), UCO_TASK_RUNNING);
	ck_assert_str_eq(uco_task_name(uco_current()), "checker");
	g_child_checked = true;
	return NULL;
}

static void body_names(void *arg)
{
	uco_task *self = uco_current();
	uco_task *named, *dflt, *longn, *sized;
	uco_spawn_opts o = { .name = "worker-1" };
	uco_spawn_opts lo = {
		.name = "a-name-that-is-much-longer-than-31-bytes",
	};
	uco_spawn_opts so = { .name = NULL, .stack_size = 128 * 1024 };
	char want[64];

	(void)arg;
	ck_assert_ptr_nonnull(self);
	ck_assert_str_eq(uco_task_name(self), "main");
	ck_assert_int_eq(uco_task_get_state(self), UCO_TASK_RUNNING);
	ck_assert(!uco_task_done(self));

	ck_assert_int_eq(uco_spawn(&named, ret_arg, NULL, &o), 0);
	ck_assert_int_eq(uco_spawn(&dflt, ret_arg, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(&longn, ret_arg, NULL, &lo), 0);
	ck_assert_int_eq(uco_spawn(&sized, ret_arg, NULL, &so), 0);

	/* The name was copied: the caller's buffer may change. */
	ck_assert_str_eq(uco_task_name(named), "worker-1");
	snprintf(want, sizeof(want), "task-%llu",
		 (unsigned long long)uco_task_id(dflt));
	ck_assert_str_eq(uco_task_name(dflt), want);
	snprintf(want, sizeof(want), "task-%llu",
		 (unsigned long long)uco_task_id(sized));
	ck_assert_str_eq(uco_task_name(sized), want);
	/* At most 31 bytes are kept. */
	ck_assert_uint_eq(strlen(uco_task_name(longn)), 31);
	ck_assert(strncmp(uco_task_name(longn), lo.name, 31) == 0);

	ck_assert_int_eq(uco_join(named, NULL), 0);
	ck_assert_int_eq(uco_join(dflt, NULL), 0);
	ck_assert_int_eq(uco_join(longn, NULL), 0);
	ck_assert_int_eq(uco_join(sized, NULL), 0);
	/* Still readable after the task finished, while the handle is held. */
	ck_assert_str_eq(uco_task_name(named), "worker-1");
	uco_task_release(named);
	uco_task_release(dflt);
	uco_task_release(longn);
	uco_task_release(sized);

	/* uco_current() in a child is the handle its parent got. */
	{
		uco_spawn_opts co = { .name = "checker" };
		ck_assert_int_eq(uco_spawn(&g_handle, check_current, NULL, &co), 0);
		ck_assert_int_eq(uco_join(g_handle, NULL), 0);
		ck_assert(g_child_checked);
		uco_task_release(g_handle);
	}
}

START_TEST(test_names)
{
	lc_run(body_names, NULL, NULL);
}
END_TEST

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define NIDS 1000

static void body_ids(void *arg)
{
	static uco_task *t[NIDS];
	static uint64_t ids[NIDS + 1];

	(void)arg;
	for (int i = 0; i < NIDS; i++) {
		ck_assert_int_eq(uco_spawn(&t[i], ret_arg, NULL, NULL), 0);
		ids[i] = uco_task_id(t[i]);
		ck_assert_uint_ne(ids[i], 0);
	}
	ids[NIDS] = uco_task_id(uco_current());
	for (int i = 0; i < NIDS; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	/* Ids of finished (and freed) tasks are not handed out again. */
	for (int i = 0; i < NIDS / 2; i++) {
		ck_assert_int_eq(uco_spawn(&t[i], ret_arg, NULL, NULL), 0);
		ck_assert_uint_ne(uco_task_id(t[i]), ids[i]);
		ck_assert_uint_gt(uco_task_id(t[i]), ids[NIDS - 1]);
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	qsort(ids, NIDS + 1, sizeof(ids[0]), cmp_u64);
	for (int i = 1; i <= NIDS; i++)
		ck_assert_uint_ne(ids[i], ids[i - 1]);
}

START_TEST(test_ids_unique)
{
	lc_run(body_ids, NULL, NULL);
}
END_TEST

static void *short_sleeper(void *arg)
{
	(void)arg;
	ck_assert_int_eq(uco_sleep(UCO_NSEC_PER_MSEC), 0);
	return (void *)1;
}

static void body_states(void *arg)
{
	uco_task *t;
	void *res = NULL;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, short_sleeper, NULL, NULL), 0);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_READY);
	ck_assert(!uco_task_done(t));
	/* One yield: the child runs up to its sleep. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	ck_assert(!uco_task_done(t));
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_ptr_eq(res, (void *)1);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_DONE);
	ck_assert(uco_task_done(t));
	uco_task_release(t);
}

START_TEST(test_states)
{
	lc_run(body_states, NULL, NULL);
}
END_TEST

/* ---- yield -------------------------------------------------------------- */

#define YROUNDS 5
static int g_log[64];
static int g_nlog;

static void *yielder(void *arg)
{
	for (int i = 0; i < YROUNDS; i++) {
		g_log[g_nlog++] = (int)(intptr_t)arg;
		ck_assert_int_eq(uco_yield(), 0);
	}
	return NULL;
}

static void body_yield_fifo(void *arg)
{
	uco_task *t[3];
	int k = 0;

	(void)arg;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uco_spawn(&t[i], yielder, (void *)(intptr_t)i,
					   NULL), 0);
	/* The yielder goes behind everything that is ready, itself included:
	 * 0 1 2 main 0 1 2 main ... */
	for (int i = 0; i < YROUNDS; i++) {
		ck_assert_int_eq(uco_yield(), 0);
		g_log[g_nlog++] = 9;
	}
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(g_nlog, 4 * YROUNDS);
	for (int r = 0; r < YROUNDS; r++) {
		ck_assert_int_eq(g_log[k++], 0);
		ck_assert_int_eq(g_log[k++], 1);
		ck_assert_int_eq(g_log[k++], 2);
		ck_assert_int_eq(g_log[k++], 9);
	}
}

START_TEST(test_yield_fifo)
{
	lc_run(body_yield_fifo, NULL, NULL);
}
END_TEST

/* ---- join self ------------------------------------------------------------ */

static void *join_self(void *arg)
{
	(void)arg;
	ck_assert_int_eq(uco_join(uco_current(), NULL), -EDEADLK);
	return (void *)3;
}

static void body_join_self(void *arg)
{
	uco_task *t;
	void *res;

	(void)arg;
	ck_assert_int_eq(uco_join(uco_current(), NULL), -EDEADLK);
	ck_assert_int_eq(uco_spawn(&t, join_self, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_ptr_eq(res, (void *)3);
	uco_task_release(t);
}

START_TEST(test_join_self)
{
	lc_run(body_join_self, NULL, NULL);
}
END_TEST

/* ---- cancellation ----------------------------------------------------------- */

static void body_cancel_sleeping(void *arg)
{
	uco_task *t;
	int r = 1;
	void *res = (void *)0xdead;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, sleeper, &r, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(t), 0);
	/* The task gave up (uco_fail(-ECANCELED)): joining reports it. */
	ck_assert_int_eq(uco_join(t, &res), -ECANCELED);
	ck_assert_ptr_eq(res, (void *)0xdead);
	ck_assert_int_eq(r, -ECANCELED);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_DONE);
	/* Cancelling the caller's own sibling did not touch the caller. */
	ck_assert(!uco_cancelling());
	ck_assert_int_eq(uco_nop(), 0);
	uco_task_release(t);
}

START_TEST(test_cancel_sleeping)
{
	lc_run(body_cancel_sleeping, NULL, NULL);
}
END_TEST

/* A cancel that arrives before the task first ran: its first suspending
 * call returns -ECANCELED. */
static bool g_started;

static void *note_then_sleep(void *arg)
{
	g_started = true;
	return sleeper(arg);
}

static void body_cancel_before_start(void *arg)
{
	uco_task *t;
	int r = 1;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, note_then_sleep, &r, NULL), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	ck_assert(g_started);
	ck_assert_int_eq(r, -ECANCELED);
	uco_task_release(t);
}

START_TEST(test_cancel_before_start)
{
	lc_run(body_cancel_before_start, NULL, NULL);
}
END_TEST

static int g_join_r = 1;

static void *joiner(void *arg)
{
	g_join_r = uco_join(arg, NULL);
	return g_join_r < 0 ? uco_fail(g_join_r) : NULL;
}

static void body_cancel_joining(void *arg)
{
	uco_task *a, *b;
	int rb = 1;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&b, sleeper, &rb, NULL), 0);
	ck_assert_int_eq(uco_spawn(&a, joiner, b, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(a), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(a), 0);
	ck_assert_int_eq(uco_join(a, NULL), -ECANCELED);
	ck_assert_int_eq(g_join_r, -ECANCELED);
	/* The task it was joining keeps running. */
	ck_assert(!uco_task_done(b));
	ck_assert_int_eq(uco_task_get_state(b), UCO_TASK_WAITING);
	ck_assert_int_eq(rb, 1);
	/* a's waiter left b's join list: finishing b must not touch it. */
	uco_task_release(a);
	ck_assert_int_eq(uco_cancel(b), 0);
	ck_assert_int_eq(uco_join(b, NULL), -ECANCELED);
	ck_assert_int_eq(rb, -ECANCELED);
	uco_task_release(b);
}

START_TEST(test_cancel_joining)
{
	lc_run(body_cancel_joining, NULL, NULL);
}
END_TEST

static int sleep_forever_fn(void *arg)
{
	(void)arg;
	return uco_sleep(FOREVER);
}

static int future_wait_fn(void *arg)
{
	return uco_future_wait(arg, NULL);
}

static int g_wf_r[3] = { 1, 1, 1 };

/* uco_wait_for around an op (the sleep), around an object wait (a future),
 * and uco_wait_for_task; all with a deadline far away. */
static void *wait_for_op(void *arg)
{
	(void)arg;
	g_wf_r[0] = uco_wait_for(60 * UCO_NSEC_PER_SEC, sleep_forever_fn, NULL);
	return g_wf_r[0] < 0 ? uco_fail(g_wf_r[0]) : NULL;
}

static void *wait_for_object(void *arg)
{
	g_wf_r[1] = uco_wait_for(60 * UCO_NSEC_PER_SEC, future_wait_fn, arg);
	return g_wf_r[1] < 0 ? uco_fail(g_wf_r[1]) : NULL;
}

static void *wait_for_task(void *arg)
{
	g_wf_r[2] = uco_wait_for_task(arg, 60 * UCO_NSEC_PER_SEC, NULL);
	return g_wf_r[2] < 0 ? uco_fail(g_wf_r[2]) : NULL;
}

static void body_cancel_wait_for(void *arg)
{
	uco_future *f;
	uco_task *w[3], *target;
	int rt = 1;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&f), 0);
	ck_assert_int_eq(uco_spawn(&target, sleeper, &rt, NULL), 0);
	ck_assert_int_eq(uco_spawn(&w[0], wait_for_op, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(&w[1], wait_for_object, f, NULL), 0);
	ck_assert_int_eq(uco_spawn(&w[2], wait_for_task, target, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uco_task_get_state(w[i]), UCO_TASK_WAITING);
		ck_assert_int_eq(uco_cancel(w[i]), 0);
	}
	/* Cancelled, not timed out, and at once (the deadline is a minute
	 * away; the suite's timeout is far shorter). */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uco_join(w[i], NULL), -ECANCELED);
		ck_assert_int_eq(g_wf_r[i], -ECANCELED);
		uco_task_release(w[i]);
	}
	/* The future nobody waits on any more can be freed, and the task
	 * waited for by wait_for_task went with its waiter, as in asyncio:
	 * cancelled and joined before uco_wait_for_task returned. */
	uco_future_free(f);
	ck_assert(uco_task_done(target));
	ck_assert_int_eq(uco_cancel(target), 1);
	ck_assert_int_eq(uco_join(target, NULL), -ECANCELED);
	uco_task_release(target);
}

START_TEST(test_cancel_wait_for)
{
	lc_run(body_cancel_wait_for, NULL, NULL);
}
END_TEST

static struct {
	int r_wait, r_inner, r_after;
	bool cancelling_seen;
	void *res;
} g_sh = { 1, 1, 1, false, NULL };

static void *shielded(void *arg)
{
	uco_shield_begin();
	uco_shield_begin(); /* shields nest */
	g_sh.r_wait = uco_future_wait(arg, &g_sh.res);
	g_sh.cancelling_seen = uco_cancelling();
	uco_shield_end();
	g_sh.r_inner = uco_nop(); /* still inside the outer shield */
	uco_shield_end();
	g_sh.r_after = uco_nop(); /* the kept cancel takes effect here */
	return g_sh.r_after < 0 ? uco_fail(g_sh.r_after) : NULL;
}

static void body_cancel_shielded(void *arg)
{
	uco_future *f;
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&f), 0);
	ck_assert_int_eq(uco_spawn(&t, shielded, f, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(t), 0);
	/* The shielded wait goes on: the task is not woken. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_future_set_result(f, (void *)77), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	ck_assert_int_eq(g_sh.r_wait, 0);
	ck_assert_ptr_eq(g_sh.res, (void *)77);
	ck_assert(g_sh.cancelling_seen); /* shields do not hide the request */
	ck_assert_int_eq(g_sh.r_inner, 0);
	ck_assert_int_eq(g_sh.r_after, -ECANCELED);
	uco_task_release(t);
	uco_future_free(f);
}

START_TEST(test_cancel_shielded)
{
	lc_run(body_cancel_shielded, NULL, NULL);
}
END_TEST

static void body_cancel_finished(void *arg)
{
	uco_task *t, *u;
	void *res = NULL;

	(void)arg;
	/* Finished and joined. */
	ck_assert_int_eq(uco_spawn(&t, ret_arg, (void *)7, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_int_eq(uco_cancel(t), 1);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_ptr_eq(res, (void *)7);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_DONE);
	uco_task_release(t);

	/* Finished but not joined yet: the outcome stays what happened. */
	ck_assert_int_eq(uco_spawn(&u, fail_eio, NULL, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(uco_task_done(u));
	ck_assert_int_eq(uco_cancel(u), 1);
	ck_assert_int_eq(uco_cancel(u), 1);
	ck_assert_int_eq(uco_join(u, NULL), -EIO);
	uco_task_release(u);
	ck_assert(!uco_cancelling());
}

START_TEST(test_cancel_finished)
{
	lc_run(body_cancel_finished, NULL, NULL);
}
END_TEST

static void *swallow(void *arg)
{
	int r = uco_sleep(FOREVER);

	(void)arg;
	ck_assert_int_eq(r, -ECANCELED);
	/* Clean-up that must suspend goes in a shield. */
	uco_shield_begin();
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_int_eq(uco_yield(), 0);
	uco_shield_end();
	return (void *)42;
}

static void body_cancel_swallow(void *arg)
{
	uco_task *t;
	void *res = NULL;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, swallow, NULL, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	/* asyncio's rule: the outcome is what happened. */
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_ptr_eq(res, (void *)42);
	uco_task_release(t);
}

START_TEST(test_cancel_swallow)
{
	lc_run(body_cancel_swallow, NULL, NULL);
}
END_TEST

static void *nothing_fn(void *arg)
{
	return arg;
}

static void visit_nothing(uco_task *t, void *ctx)
{
	(void)t;
	(void)ctx;
}

static void *sticky(void *arg)
{
	uco_future *f;
	void *res;

	ck_assert_int_eq(uco_future_create(&f), 0);
	ck_assert_int_eq(uco_sleep(FOREVER), -ECANCELED);
	ck_assert(uco_cancelling());
	/* Every later suspending call says so too, without suspending. */
	ck_assert_int_eq(uco_yield(), -ECANCELED);
	ck_assert_int_eq(uco_sleep(1), -ECANCELED);
	ck_assert_int_eq(uco_sleep(0), -ECANCELED);
	ck_assert_int_eq(uco_sleep_until(0), -ECANCELED);
	ck_assert_int_eq(uco_nop(), -ECANCELED);
	ck_assert_int_eq(uco_join(arg, NULL), -ECANCELED);
	ck_assert_int_eq(uco_future_wait(f, NULL), -ECANCELED);
	ck_assert_int_eq(uco_to_thread(nothing_fn, NULL, &res, NULL),
			 -ECANCELED);
	ck_assert_int_eq(uco_wait_for(UCO_NSEC_PER_SEC, sleep_forever_fn, NULL),
			 -ECANCELED);
	/* A shield lets clean-up suspend; after it, the cancel is back. */
	uco_shield_begin();
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_int_eq(uco_to_thread(nothing_fn, (void *)5, &res, NULL), 0);
	ck_assert_ptr_eq(res, (void *)5);
	uco_shield_end();
	ck_assert_int_eq(uco_nop(), -ECANCELED);
	ck_assert(uco_cancelling());
	uco_future_free(f);
	return uco_fail(-ECANCELED);
}

static void body_cancel_sticks(void *arg)
{
	uco_task *t, *other;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&other, sleeper, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(&t, sticky, other, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_cancel(t), 0); /* twice: still just a request */
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	uco_task_release(t);
	ck_assert(!uco_task_done(other));
	ck_assert_int_eq(uco_cancel(other), 0);
	ck_assert_int_eq(uco_join(other, NULL), -ECANCELED);
	uco_task_release(other);
}

START_TEST(test_cancel_sticks)
{
	lc_run(body_cancel_sticks, NULL, NULL);
}
END_TEST

/*
 * A cancelled task that ignores -ECANCELED and calls again in a loop (the
 * asyncio port's `for (;;) { uco_sleep(1 s); work(); }`) must not starve
 * its core: each refused call still passes through the scheduler, so a
 * yielding task and a task whose NOPs need the ring (submission and CQEs)
 * keep making progress on the same core.  On the old code the stubborn
 * task made every one of its calls without anyone else running, and the
 * counts stayed at 0.
 */
#define STUBBORN_LIMIT 50000000L /* ends the loop on the old code */

static long g_yields, g_nops, g_refused;
static bool g_others_stop;

static void *stubborn(void *arg)
{
	(void)arg;
	while (g_refused < STUBBORN_LIMIT &&
	       (g_yields < 1000 || g_nops < 50)) {
		int r = uco_sleep(UCO_NSEC_PER_SEC);

		if (r != -ECANCELED)
			return uco_fail(r < 0 ? r : -EINVAL);
		g_refused++;
	}
	return NULL;
}

static void *refuse_yielder(void *arg)
{
	(void)arg;
	while (!g_others_stop && uco_yield() == 0)
		g_yields++;
	return NULL;
}

static void *refuse_nopper(void *arg)
{
	(void)arg;
	while (!g_others_stop && uco_nop() == 0)
		g_nops++;
	return NULL;
}

static void body_cancel_ignored_no_starve(void *arg)
{
	uco_task *t, *y, *n;
	void *res;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, stubborn, NULL, NULL), 0);
	ck_assert_int_eq(uco_cancel(t), 0); /* before it first runs */
	ck_assert_int_eq(uco_spawn(&y, refuse_yielder, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(&n, refuse_nopper, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	g_others_stop = true;
	ck_assert_int_eq(uco_join(y, NULL), 0);
	ck_assert_int_eq(uco_join(n, NULL), 0);
	ck_assert_msg(g_yields >= 1000 && g_nops >= 50,
		      "starved: %ld yields, %ld nops in %ld refused calls",
		      g_yields, g_nops, g_refused);
	uco_task_release(t);
	uco_task_release(y);
	uco_task_release(n);
}

START_TEST(test_cancel_ignored_no_starve)
{
	th_run(body_cancel_ignored_no_starve, NULL, NULL);
}
END_TEST

/* ---- introspection -------------------------------------------------------- */

#define NFE 5

struct fe_ctx {
	int seen_main, seen_fe, seen_ready, other;
};

static void fe_visit(uco_task *t, void *p)
{
	struct fe_ctx *c = p;
	const char *name = uco_task_name(t);

	if (strcmp(name, "main") == 0) {
		c->seen_main++;
		ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_RUNNING);
	} else if (strcmp(name, "fe-ready") == 0) {
		c->seen_ready++;
		ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_READY);
	} else if (strncmp(name, "fe-", 3) == 0) {
		c->seen_fe++;
		ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	} else {
		c->other++;
	}
}

static void body_foreach_dump(void *arg)
{
	uco_future *f;
	uco_task *t[NFE + 1];
	struct fe_ctx c = { 0 };
	char names[NFE][16], buf[8192];
	int fd;
	ssize_t k;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&f), 0);
	for (int i = 0; i < NFE; i++) {
		uco_spawn_opts o = { .name = names[i] };
		snprintf(names[i], sizeof(names[i]), "fe-%d", i);
		ck_assert_int_eq(uco_spawn(&t[i], future_waiter, f, &o), 0);
	}
	ck_assert_int_eq(uco_yield(), 0); /* they all block on f */
	{
		uco_spawn_opts o = { .name = "fe-ready" };
		ck_assert_int_eq(uco_spawn(&t[NFE], ret_arg, NULL, &o), 0);
	}

	ck_assert_uint_eq(uco_tasks_foreach(fe_visit, &c), NFE + 2);
	ck_assert_int_eq(c.seen_main, 1);
	ck_assert_int_eq(c.seen_fe, NFE);
	ck_assert_int_eq(c.seen_ready, 1);
	ck_assert_int_eq(c.other, 0);

	fd = memfd_create("dump", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	uco_tasks_dump(fd);
	k = pread(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(k, 0);
	buf[k] = '\0';
	close(fd);
	/* One line per task, with its name and state. */
	{
		int lines = 0;
		for (ssize_t i = 0; i < k; i++)
			lines += buf[i] == '\n';
		ck_assert_int_eq(lines, NFE + 2);
	}
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (strstr(line, " main "))
			ck_assert_msg(strstr(line, "running"), "%s", line);
		else if (strstr(line, "fe-ready"))
			ck_assert_msg(strstr(line, "ready"), "%s", line);
		else if (strstr(line, "fe-"))
			ck_assert_msg(strstr(line, "waiting"), "%s", line);
		else
			ck_abort_msg("unexpected dump line: %s", line);
		ck_assert_msg(strstr(line, "core 0"), "%s", line);
	}

	ck_assert_int_eq(uco_future_set_result(f, NULL), 0);
	for (int i = 0; i <= NFE; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	/* Finished tasks are no longer listed. */
	ck_assert_uint_eq(uco_tasks_foreach(fe_visit, &c), 1);
	uco_future_free(f);
}

START_TEST(test_foreach_dump)
{
	lc_run(body_foreach_dump, NULL, NULL);
}
END_TEST

/* ---- many tasks --------------------------------------------------------- */

#define MANY 100000

/* In the loops below a check that passes must cost nothing: Check records
 * every passing ck_assert (a write to its pipe), so they test by hand. */
#define HOT_CHECK(cond, ...)                                                 \
	do {                                                                 \
		if (!(cond))                                                 \
			ck_abort_msg(__VA_ARGS__);                           \
	} while (0)

static void body_many_sequential(void *arg)
{
	(void)arg;
	for (intptr_t i = 0; i < MANY; i++) {
		uco_task *t;
		void *res = NULL;
		int rs = uco_spawn(&t, ret_arg, (void *)i, NULL);
		int rj = rs ? rs : uco_join(t, &res);

		HOT_CHECK(rs == 0 && rj == 0 && res == (void *)i,
			  "task %ld: spawn %d, join %d, result %p", (long)i, rs,
			  rj, res);
		uco_task_release(t);
	}
}

START_TEST(test_many_sequential)
{
	lc_run(body_many_sequential, NULL, NULL);
}
END_TEST

static int g_ran;

static void *count_ran(void *arg)
{
	g_ran++;
	return arg;
}

static void body_many_at_once(void *arg)
{
	uco_task **t = calloc(MANY, sizeof(*t));

	(void)arg;
	ck_assert_ptr_nonnull(t);
	for (intptr_t i = 0; i < MANY; i++) {
		int r = uco_spawn(&t[i], count_ran, (void *)i, NULL);

		HOT_CHECK(r == 0, "spawn %ld: %d", (long)i, r);
	}
	ck_assert_int_eq(g_ran, 0); /* nothing runs before the spawner yields */
	ck_assert_uint_eq(uco_tasks_foreach(visit_nothing, NULL), MANY + 1);
	for (intptr_t i = 0; i < MANY; i++) {
		void *res = NULL;
		int r = uco_join(t[i], &res);

		HOT_CHECK(r == 0 && res == (void *)i, "task %ld: join %d, result %p",
			  (long)i, r, res);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(g_ran, MANY);
	free(t);
}

START_TEST(test_many_at_once)
{
	lc_run(body_many_at_once, NULL, NULL);
}
END_TEST

/* ---- spawn_on ------------------------------------------------------------ */

#define HOPS 200

/* hop(n) runs on core n % 2 and spawns hop(n - 1) on the other core. */
static void *hop(void *arg)
{
	intptr_t n = (intptr_t)arg;
	uco_task *t;
	void *res = NULL;

	ck_assert_uint_eq(uco_core_id(), (unsigned)(n % 2));
	ck_assert_uint_eq(uco_cores(), 2);
	if (n == 0)
		return (void *)0;
	ck_assert_int_eq(uco_spawn_on((unsigned)((n - 1) % 2), &t, hop,
				      (void *)(n - 1), NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	uco_task_release(t);
	/* Still where it started: tasks never migrate. */
	ck_assert_uint_eq(uco_core_id(), (unsigned)(n % 2));
	return (void *)((intptr_t)res + 1);
}

static void *pong(void *arg)
{
	uco_task *t;
	void *res = NULL;

	ck_assert_uint_eq(uco_core_id(), 1);
	/* And back to core 0 for the return leg. */
	ck_assert_int_eq(uco_spawn_on(0, &t, hop, (void *)0, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_ptr_eq(res, (void *)0);
	uco_task_release(t);
	return (void *)((intptr_t)arg + 1);
}

static void body_pingpong(void *arg)
{
	uco_task *t;
	void *res = NULL;

	(void)arg;
	ck_assert_uint_eq(uco_core_id(), 0);
	/* A chain of HOPS nested tasks alternating between the cores. */
	ck_assert_int_eq(uco_spawn_on(HOPS % 2, &t, hop, (void *)(intptr_t)HOPS,
				      NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_ptr_eq(res, (void *)(intptr_t)HOPS);
	uco_task_release(t);

	/* Round trips 0 -> 1 -> 0, one after another. */
	for (intptr_t i = 0; i < 1000; i++) {
		ck_assert_int_eq(uco_spawn_on(1, &t, pong, (void *)i, NULL), 0);
		ck_assert_int_eq(uco_join(t, &res), 0);
		ck_assert_ptr_eq(res, (void *)(i + 1));
		uco_task_release(t);
		ck_assert_uint_eq(uco_core_id(), 0);
	}
}

START_TEST(test_spawn_on_pingpong)
{
	lc_run_cores(body_pingpong, NULL, 2);
}
END_TEST

static void body_spawn_on_bad_core(void *arg)
{
	uco_task *t = (uco_task *)0x1;
	unsigned n = uco_cores();

	(void)arg;
	ck_assert_int_eq(uco_spawn_on(n, &t, ret_arg, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(uco_spawn_on(UINT_MAX, NULL, ret_arg, NULL, NULL),
			 -EINVAL);
	/* The last valid core works, including the caller's own. */
	for (unsigned c = 0; c < n; c++) {
		void *res = NULL;
		ck_assert_int_eq(uco_spawn_on(c, &t, ret_arg, (void *)9, NULL), 0);
		ck_assert_int_eq(uco_join(t, &res), 0);
		ck_assert_ptr_eq(res, (void *)9);
		uco_task_release(t);
	}
}

START_TEST(test_spawn_on_bad_core)
{
	lc_run_cores(body_spawn_on_bad_core, NULL, 2);
	lc_run_cores(body_spawn_on_bad_core, NULL, 1);
}
END_TEST

/* The sleeper on core 1 tells core 0 it is about to sleep by spawning a
 * task there that completes a future of core 0. */
static int g_remote_r = 1;
static unsigned g_remote_core = 99;

static void *remote_sleeper(void *f)
{
	g_remote_core = uco_core_id();
	ck_assert_int_eq(uco_spawn_on(0, NULL, set_future, f, NULL), 0);
	g_remote_r = uco_sleep(FOREVER);
	return g_remote_r < 0 ? uco_fail(g_remote_r) : NULL;
}

static void body_cancel_other_core(void *arg)
{
	uco_future *f;
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&f), 0);
	ck_assert_int_eq(uco_spawn_on(1, &t, remote_sleeper, f, NULL), 0);
	ck_assert_int_eq(uco_future_wait(f, NULL), 0);
	ck_assert(!uco_task_done(t));
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	ck_assert_int_eq(g_remote_r, -ECANCELED);
	ck_assert_uint_eq(g_remote_core, 1);
	ck_assert_int_eq(uco_cancel(t), 1); /* finished now */
	uco_task_release(t);
	uco_future_free(f);
}

START_TEST(test_cancel_other_core)
{
	lc_run_cores(body_cancel_other_core, NULL, 2);
}
END_TEST

/* ---- misuse ------------------------------------------------------------ */

START_TEST(test_outside_eperm)
{
	uco_task *t = (uco_task *)0x1;
	uco_future *f = (uco_future *)0x1;
	uco_group *g = (uco_group *)0x1;
	void *res;
	struct lc_mark m;

	lc_begin(&m, NULL);
	ck_assert_int_eq(uco_spawn(&t, ret_arg, NULL, NULL), -EPERM);
	ck_assert_ptr_null(t);
	t = (uco_task *)0x1;
	ck_assert_int_eq(uco_spawn_on(0, &t, ret_arg, NULL, NULL), -EPERM);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(uco_join(NULL, NULL), -EPERM);
	ck_assert_int_eq(uco_yield(), -EPERM);
	ck_assert_int_eq(uco_sleep(1), -EPERM);
	ck_assert_int_eq(uco_sleep(0), -EPERM);
	ck_assert_int_eq(uco_sleep_until(0), -EPERM);
	ck_assert_int_eq(uco_nop(), -EPERM);
	ck_assert_int_eq(uco_timeout_begin(UCO_NSEC_PER_SEC), -EPERM);
	ck_assert_int_eq(uco_timeout_at(UINT64_MAX), -EPERM);
	ck_assert_int_eq(uco_timeout_end(0), -EPERM);
	ck_assert_int_eq(uco_wait_for(UCO_NSEC_PER_SEC, sleep_forever_fn, NULL),
			 -EPERM);
	ck_assert_int_eq(uco_wait_for_task(NULL, UCO_NSEC_PER_SEC, NULL), -EPERM);
	ck_assert_int_eq(uco_to_thread(nothing_fn, NULL, &res, NULL), -EPERM);
	ck_assert_int_eq(uco_local_set(&t, NULL), -EPERM);
	ck_assert_ptr_null(uco_local_get(&t));
	ck_assert_int_eq(uco_future_create(&f), -EPERM);
	ck_assert_ptr_null(f);
	ck_assert_int_eq(uco_group_create(&g), -EPERM);
	ck_assert_int_eq(uco_gather(NULL, 0, NULL, NULL), -EPERM);
	ck_assert_int_eq(uco_wait(NULL, 0, UCO_ALL_COMPLETED, 0), -EPERM);
	/* The non-suspending queries have a neutral answer. */
	ck_assert_ptr_null(uco_current());
	ck_assert(!uco_cancelling());
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
	ck_assert_uint_eq(uco_cores(), 0);
	ck_assert_uint_eq(uco_tasks_foreach(visit_nothing, NULL), 0);
	uco_shield_begin(); /* harmless no-ops */
	uco_shield_end();
	ck_assert_ptr_null(uco_fail(-EIO));
	lc_end(&m);
}
END_TEST

static int g_nested_r = 1;

static void *nested_run(void *arg)
{
	(void)arg;
	g_nested_r = uco_run(ret_arg, NULL, NULL, NULL);
	return NULL;
}

static void body_run_in_task(void *arg)
{
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_run(ret_arg, NULL, NULL, NULL), -EBUSY);
	/* From a task on another core too. */
	ck_assert_int_eq(uco_spawn_on(1, &t, nested_run, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	ck_assert_int_eq(g_nested_r, -EBUSY);
	uco_task_release(t);
}

START_TEST(test_run_in_task_ebusy)
{
	lc_run_cores(body_run_in_task, NULL, 2);
}
END_TEST

START_TEST(test_run_bad_config)
{
	uco_config good, cfg;
	void *res = (void *)0xdead;
	struct lc_mark m;

	uco_config_init(&good);
	lc_begin(&m, &good);
	ck_assert_int_eq(uco_run(NULL, NULL, &good, NULL), -EINVAL);

#define BAD(field, value)                                                   \
	do {                                                                \
		cfg = good;                                                 \
		cfg.field = value;                                          \
		ck_assert_msg(uco_run(ret_arg, NULL, &cfg, &res) == -EINVAL, \
			      "cfg." #field " = " #value " accepted");       \
	} while (0)
	BAD(stack_size, 0);
	BAD(stack_size, 4096);
	BAD(stack_size, (size_t)4 << 30);
	BAD(sq_entries, 0);
	BAD(sq_entries, 1u << 20);
	BAD(cq_entries, 0);
	BAD(cq_entries, good.sq_entries - 1);
	BAD(cq_entries, 1u << 30);
	BAD(cores, 100000);
	BAD(offload_threads, 1u << 20);
#undef BAD
	ck_assert_ptr_eq(res, (void *)0xdead); /* untouched on failure */

	/* And the runtime still starts afterwards (nothing half set up). */
	ck_assert_int_eq(uco_run(ret_arg, (void *)4, &good, &res), 0);
	ck_assert_ptr_eq(res, (void *)4);
	lc_end(&m);
}
END_TEST

static void body_spawn_bad_args(void *arg)
{
	uco_task *t = (uco_task *)0x1;
	uco_spawn_opts huge = { .stack_size = (size_t)2 << 30 };

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, NULL, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(t);
	t = (uco_task *)0x1;
	ck_assert_int_eq(uco_spawn(&t, ret_arg, NULL, &huge), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(uco_spawn_on(0, NULL, NULL, NULL, NULL), -EINVAL);
	ck_assert_uint_eq(uco_tasks_foreach(visit_nothing, NULL), 1);
}

START_TEST(test_spawn_bad_args)
{
	lc_run(body_spawn_bad_args, NULL, NULL);
}
END_TEST

static Suite *task_suite(void)
{
	Suite *s = suite_create("task");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_result_vs_error);
	tcase_add_test(tc, test_detached);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_ids_unique);
	tcase_add_test(tc, test_states);
	tcase_add_test(tc, test_yield_fifo);
	tcase_add_test(tc, test_join_self);
	tcase_add_test(tc, test_cancel_sleeping);
	tcase_add_test(tc, test_cancel_before_start);
	tcase_add_test(tc, test_cancel_joining);
	tcase_add_test(tc, test_cancel_wait_for);
	tcase_add_test(tc, test_cancel_shielded);
	tcase_add_test(tc, test_cancel_finished);
	tcase_add_test(tc, test_cancel_swallow);
	tcase_add_test(tc, test_cancel_sticks);
	tcase_add_test(tc, test_cancel_ignored_no_starve);
	tcase_add_test(tc, test_foreach_dump);
	tcase_add_test(tc, test_many_sequential);
	tcase_add_test(tc, test_many_at_once);
	tcase_add_test(tc, test_spawn_on_pingpong);
	tcase_add_test(tc, test_spawn_on_bad_core);
	tcase_add_test(tc, test_cancel_other_core);
	tcase_add_test(tc, test_outside_eperm);
	tcase_add_test(tc, test_run_in_task_ebusy);
	tcase_add_test(tc, test_run_bad_config);
	tcase_add_test(tc, test_spawn_bad_args);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(task_suite());
}
