/*
 * Suite "event": include/uco/event.h.  Set wakes every waiter in order,
 * the wake-up is theirs even if the event is cleared (or they are
 * cancelled) before they run, waiters that give up leave the list, and
 * misuse.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

struct waiter {
	uco_event *e;
	uint64_t scope_ns;
	int r;
	int rank;
	int *seq;
	bool started;
};

static void *wait_task(void *arg)
{
	struct waiter *w = arg;
	int s = w->scope_ns ? uco_timeout_begin(w->scope_ns) : -1;

	w->started = true;
	w->r = uco_event_wait(w->e);
	if (s >= 0)
		uco_timeout_end(s);
	if (w->seq)
		w->rank = (*w->seq)++;
	return NULL;
}

static void body_set_wakes_all(void *arg)
{
	enum { N = 6 };
	struct waiter w[N];
	uco_task *t[N];
	uco_event e;
	int seq = 0;

	ck_assert_int_eq(uco_event_init(&e), 0);
	ck_assert(!uco_event_is_set(&e));
	for (int i = 0; i < N; i++)
		w[i] = (struct waiter){ .e = &e, .seq = &seq };
	TH_SPAWN_WAITERS(w, t, N, wait_task);
	ck_assert_int_eq(uco_event_set(&e), N);
	ck_assert(uco_event_is_set(&e));
	/* Cleared before they run: they were woken, they return 0. */
	ck_assert_int_eq(uco_event_clear(&e), 0);
	ck_assert(!uco_event_is_set(&e));
	th_join_all(t, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(w[i].r, 0);
		ck_assert_int_eq(w[i].rank, i);
	}
	/* Set: waits return at once; set twice wakes nobody new. */
	ck_assert_int_eq(uco_event_set(&e), 0);
	ck_assert_int_eq(uco_event_set(&e), 0);
	ck_assert_int_eq(uco_event_wait(&e), 0);
	uco_event_destroy(&e);
	uco_event_destroy(NULL);
}

START_TEST(set_wakes_all)
{
	lc_run(body_set_wakes_all, NULL, NULL);
}
END_TEST

static int wait_fn(void *arg)
{
	return uco_event_wait(arg);
}

/* Cancelled and timed-out waiters leave; the rest are woken.  A waiter
 * cancelled after the set returns 0.  Destroying right after the set is
 * fine: the woken never look at the event again. */
static void body_give_up(void *arg)
{
	enum { N = 4 };
	struct waiter w[N];
	uco_task *t[N];
	uco_event e;
	int s;

	uco_event_init(&e);
	ck_assert_int_eq(uco_wait_for(2 * MS, wait_fn, &e), -ETIMEDOUT);
	s = uco_timeout_begin(2 * MS);
	ck_assert_int_eq(uco_event_wait(&e), -ETIMEDOUT);
	uco_timeout_end(s);
	for (int i = 0; i < N; i++)
		w[i] = (struct waiter){ .e = &e,
					.scope_ns = i == 2 ? 2 * MS : 0 };
	TH_SPAWN_WAITERS(w, t, N, wait_task);
	ck_assert_int_eq(uco_cancel(t[1]), 0);
	ck_assert_int_eq(uco_join(t[2], NULL), 0);
	ck_assert_int_eq(w[2].r, -ETIMEDOUT);
	ck_assert_int_eq(uco_event_set(&e), 2);
	ck_assert_int_eq(uco_cancel(t[0]), 0); /* too late: it was woken */
	uco_event_destroy(&e);
	th_join_all(t, N);
	ck_assert_int_eq(w[0].r, 0);
	ck_assert_int_eq(w[1].r, -ECANCELED);
	ck_assert_int_eq(w[3].r, 0);

	/* A cancelled caller: a set event still returns 0, a clear one
	 * refuses to wait. */
	uco_event_init(&e);
	ck_assert_int_eq(uco_cancel(uco_current()), 0);
	ck_assert_int_eq(uco_event_wait(&e), -ECANCELED);
	uco_event_set(&e);
	ck_assert_int_eq(uco_event_wait(&e), 0);
	uco_event_destroy(&e);
}

START_TEST(give_up)
{
	lc_run(body_give_up, NULL, NULL);
}
END_TEST

/* Set by another task while we wait.  The setter first runs when the
 * spawner suspends in its wait (a new task waits for its turn), so the set
 * finds exactly that one waiter. */
static void *setter(void *arg)
{
	ck_assert(!uco_event_is_set(arg));
	ck_assert_int_eq(uco_event_set(arg), 1);
	return NULL;
}

static void body_set_by_task(void *arg)
{
	uco_event e;
	uco_task *t;

	uco_event_init(&e);
	ck_assert_int_eq(uco_spawn(&t, setter, &e, NULL), 0);
	ck_assert_int_eq(uco_event_wait(&e), 0);
	th_join_all(&t, 1);
	uco_event_destroy(&e);
}

START_TEST(set_by_task)
{
	lc_run(body_set_by_task, NULL, NULL);
}
END_TEST

START_TEST(outside_runtime)
{
	uco_event e;

	ck_assert_int_eq(uco_event_init(&e), -EPERM);
}
END_TEST

static void body_bad_args(void *arg)
{
	ck_assert_int_eq(uco_event_init(NULL), -EINVAL);
	ck_assert_int_eq(uco_event_set(NULL), -EINVAL);
	ck_assert_int_eq(uco_event_clear(NULL), -EINVAL);
	ck_assert_int_eq(uco_event_wait(NULL), -EINVAL);
}

START_TEST(bad_args)
{
	lc_run(body_bad_args, NULL, NULL);
}
END_TEST

static void *other_core(void *arg)
{
	ck_assert_int_eq(uco_event_set(arg), -EXDEV);
	ck_assert_int_eq(uco_event_clear(arg), -EXDEV);
	ck_assert_int_eq(uco_event_wait(arg), -EXDEV);
	return NULL;
}

static void body_cross_core(void *arg)
{
	uco_event e;
	uco_task *t;

	uco_event_init(&e);
	ck_assert_int_eq(uco_spawn_on(1, &t, other_core, &e, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert(!uco_event_is_set(&e));
	uco_event_destroy(&e);
}

START_TEST(cross_core)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = 2;
	lc_run(body_cross_core, NULL, &cfg);
}
END_TEST

static void body_destroy_with_waiter(void *arg)
{
	struct waiter w;
	uco_task *t;
	uco_event e;

	uco_event_init(&e);
	w = (struct waiter){ .e = &e };
	TH_SPAWN_WAITERS(&w, &t, 1, wait_task);
	uco_event_destroy(&e); /* aborts */
}

START_TEST(destroy_with_waiter)
{
	th_run(body_destroy_with_waiter, NULL, NULL);
}
END_TEST

static Suite *event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc;

	tc = tcase_create("event");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, set_wakes_all);
	tcase_add_test(tc, give_up);
	tcase_add_test(tc, set_by_task);
	suite_add_tcase(s, tc);

	tc = tcase_create("misuse");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, outside_runtime);
	tcase_add_test(tc, bad_args);
	tcase_add_test(tc, cross_core);
	tcase_add_test_raise_signal(tc, destroy_with_waiter, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(event_suite());
}
