/*
 * Suite "barrier": include/uco/barrier.h.  Arrival indexes, rounds reused
 * at once, abort and reset, a waiter that is cancelled or times out
 * breaking the barrier for the others (-EPIPE), a released waiter keeping
 * its index, and misuse.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

struct bw {
	uco_barrier *b;
	uint64_t scope_ns;
	int rounds;
	int r[64];       /* what each round's wait returned */
	int done;
	bool started;
};

static void *bw_task(void *arg)
{
	struct bw *w = arg;

	w->started = true;
	for (int i = 0; i < w->rounds; i++) {
		int s = w->scope_ns ? uco_timeout_begin(w->scope_ns) : -1;
		w->r[i] = uco_barrier_wait(w->b);
		if (s >= 0)
			uco_timeout_end(s);
		w->done++;
		if (w->r[i] < 0)
			break;
	}
	return NULL;
}

static void spawn_bw(struct bw *w, uco_task **t, int n)
{
	for (int i = 0; i < n; i++) {
		if (!w[i].rounds)
			w[i].rounds = 1;
		ck_assert_int_eq(uco_spawn(&t[i], bw_task, &w[i], NULL), 0);
	}
	ck_assert_int_eq(uco_yield(), 0);
	for (int i = 0; i < n; i++)
		ck_assert(w[i].started);
}

static void join_all(uco_task **t, int n)
{
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
}

static void body_basic(void *arg)
{
	struct bw w[2];
	uco_task *t[2];
	uco_barrier b;

	ck_assert_int_eq(uco_barrier_init(&b, 3), 0);
	ck_assert_uint_eq(uco_barrier_parties(&b), 3);
	ck_assert(!uco_barrier_broken(&b));
	for (int i = 0; i < 2; i++)
		w[i] = (struct bw){ .b = &b };
	spawn_bw(w, t, 2);
	ck_assert_uint_eq(uco_barrier_n_waiting(&b), 2);
	/* The last arrival releases the others without suspending. */
	ck_assert_int_eq(uco_barrier_wait(&b), 2);
	ck_assert_uint_eq(uco_barrier_n_waiting(&b), 0);
	ck_assert_int_eq(w[0].done, 0); /* not run yet */
	join_all(t, 2);
	ck_assert_int_eq(w[0].r[0], 0);
	ck_assert_int_eq(w[1].r[0], 1);
	uco_barrier_destroy(&b);

	ck_assert_int_eq(uco_barrier_init(&b, 1), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uco_barrier_wait(&b), 0);
	uco_barrier_destroy(&b);
	uco_barrier_destroy(NULL);
}

START_TEST(basic)
{
	lc_run(body_basic, NULL, NULL);
}
END_TEST

/* Many rounds back to back: each round hands out 0..parties-1 once. */
static void body_rounds(void *arg)
{
	enum { P = 4, R = 50 };
	struct bw w[P];
	uco_task *t[P];
	uco_barrier b;

	uco_barrier_init(&b, P);
	for (int i = 0; i < P; i++)
		w[i] = (struct bw){ .b = &b, .rounds = R };
	for (int i = 0; i < P; i++)
		ck_assert_int_eq(uco_spawn(&t[i], bw_task, &w[i], NULL), 0);
	join_all(t, P);
	for (int round = 0; round < R; round++) {
		unsigned seen = 0;
		for (int i = 0; i < P; i++) {
			ck_assert_int_ge(w[i].r[round], 0);
			ck_assert_int_lt(w[i].r[round], P);
			seen |= 1u << w[i].r[round];
		}
		ck_assert_uint_eq(seen, (1u << P) - 1);
	}
	uco_barrier_destroy(&b);
}

START_TEST(rounds)
{
	lc_run(body_rounds, NULL, NULL);
}
END_TEST

static void body_abort_reset(void *arg)
{
	struct bw w[2];
	uco_task *t[2];
	uco_barrier b;

	uco_barrier_init(&b, 3);
	for (int i = 0; i < 2; i++)
		w[i] = (struct bw){ .b = &b };
	spawn_bw(w, t, 2);
	ck_assert_int_eq(uco_barrier_abort(&b), 0);
	ck_assert(uco_barrier_broken(&b));
	join_all(t, 2);
	ck_assert_int_eq(w[0].r[0], -EPIPE);
	ck_assert_int_eq(w[1].r[0], -EPIPE);
	ck_assert_int_eq(uco_barrier_wait(&b), -EPIPE);
	ck_assert_int_eq(uco_barrier_reset(&b), 0);
	ck_assert(!uco_barrier_broken(&b));

	/* Reset with waiters: they get -EPIPE, the barrier starts over. */
	w[0] = (struct bw){ .b = &b };
	spawn_bw(w, t, 1);
	ck_assert_int_eq(uco_barrier_reset(&b), 0);
	join_all(t, 1);
	ck_assert_int_eq(w[0].r[0], -EPIPE);
	ck_assert(!uco_barrier_broken(&b));
	ck_assert_uint_eq(uco_barrier_n_waiting(&b), 0);
	for (int i = 0; i < 2; i++)
		w[i] = (struct bw){ .b = &b };
	spawn_bw(w, t, 2);
	ck_assert_int_eq(uco_barrier_wait(&b), 2);
	join_all(t, 2);
	ck_assert_int_eq(w[0].r[0], 0);
	ck_assert_int_eq(w[1].r[0], 1);
	uco_barrier_destroy(&b);
}

START_TEST(abort_reset)
{
	lc_run(body_abort_reset, NULL, NULL);
}
END_TEST

static int barrier_fn(void *arg)
{
	return uco_barrier_wait(arg);
}

/* A waiter cancelled or timed out breaks the barrier for the others. */
static void body_give_up_breaks(void *arg)
{
	struct bw w[3];
	uco_task *t[3];
	uco_barrier b;
	int s;

	uco_barrier_init(&b, 4);
	for (int i = 0; i < 3; i++)
		w[i] = (struct bw){ .b = &b };
	spawn_bw(w, t, 3);
	ck_assert_int_eq(uco_cancel(t[1]), 0);
	join_all(t, 3);
	ck_assert_int_eq(w[1].r[0], -ECANCELED);
	ck_assert_int_eq(w[0].r[0], -EPIPE);
	ck_assert_int_eq(w[2].r[0], -EPIPE);
	ck_assert(uco_barrier_broken(&b));
	ck_assert_int_eq(uco_barrier_wait(&b), -EPIPE);
	uco_barrier_reset(&b);

	/* A timeout scope in one waiter. */
	for (int i = 0; i < 2; i++)
		w[i] = (struct bw){ .b = &b, .scope_ns = i ? 2 * MS : 0 };
	spawn_bw(w, t, 2);
	join_all(t, 2);
	ck_assert_int_eq(w[1].r[0], -ETIMEDOUT);
	ck_assert_int_eq(w[0].r[0], -EPIPE);
	uco_barrier_reset(&b);

	/* The caller, by uco_wait_for and by a scope. */
	ck_assert_int_eq(uco_wait_for(2 * MS, barrier_fn, &b), -ETIMEDOUT);
	ck_assert(uco_barrier_broken(&b));
	uco_barrier_reset(&b);
	s = uco_timeout_begin(2 * MS);
	ck_assert_int_eq(uco_barrier_wait(&b), -ETIMEDOUT);
	uco_timeout_end(s);
	ck_assert(uco_barrier_broken(&b));
	uco_barrier_reset(&b);

	/* Already cancelled: does not arrive, breaks nothing. */
	ck_assert_int_eq(uco_cancel(uco_current()), 0);
	ck_assert_int_eq(uco_barrier_wait(&b), -ECANCELED);
	ck_assert(!uco_barrier_broken(&b));
	ck_assert_uint_eq(uco_barrier_n_waiting(&b), 0);
	uco_barrier_destroy(&b);
}

START_TEST(give_up_breaks)
{
	lc_run(body_give_up_breaks, NULL, NULL);
}
END_TEST

/* Released, then cancelled before it runs: it keeps its index and the
 * barrier is not broken. */
static void body_cancel_after_release(void *arg)
{
	struct bw w;
	uco_task *t;
	uco_barrier b;

	uco_barrier_init(&b, 2);
	w = (struct bw){ .b = &b };
	spawn_bw(&w, &t, 1);
	ck_assert_int_eq(uco_barrier_wait(&b), 1);
	ck_assert_int_eq(uco_cancel(t), 0);
	uco_barrier_destroy(&b); /* the released never read it again */
	join_all(&t, 1);
	ck_assert_int_eq(w.r[0], 0);
}

START_TEST(cancel_after_release)
{
	lc_run(body_cancel_after_release, NULL, NULL);
}
END_TEST

/* ---- misuse ---------------------------------------------------------- */

START_TEST(outside_runtime)
{
	uco_barrier b;

	ck_assert_int_eq(uco_barrier_init(&b, 2), -EPERM);
}
END_TEST

static void body_bad_args(void *arg)
{
	uco_barrier b;

	ck_assert_int_eq(uco_barrier_init(NULL, 2), -EINVAL);
	ck_assert_int_eq(uco_barrier_init(&b, 0), -EINVAL);
	ck_assert_int_eq(uco_barrier_wait(NULL), -EINVAL);
	ck_assert_int_eq(uco_barrier_reset(NULL), -EINVAL);
	ck_assert_int_eq(uco_barrier_abort(NULL), -EINVAL);
}

START_TEST(bad_args)
{
	lc_run(body_bad_args, NULL, NULL);
}
END_TEST

static void *other_core(void *arg)
{
	ck_assert_int_eq(uco_barrier_wait(arg), -EXDEV);
	ck_assert_int_eq(uco_barrier_reset(arg), -EXDEV);
	ck_assert_int_eq(uco_barrier_abort(arg), -EXDEV);
	return NULL;
}

static void body_cross_core(void *arg)
{
	uco_barrier b;
	uco_task *t;

	uco_barrier_init(&b, 2);
	ck_assert_int_eq(uco_spawn_on(1, &t, other_core, &b, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert(!uco_barrier_broken(&b));
	ck_assert_uint_eq(uco_barrier_n_waiting(&b), 0);
	uco_barrier_destroy(&b);
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
	struct bw w;
	uco_task *t;
	uco_barrier b;

	uco_barrier_init(&b, 2);
	w = (struct bw){ .b = &b };
	spawn_bw(&w, &t, 1);
	uco_barrier_destroy(&b); /* aborts */
}

START_TEST(destroy_with_waiter)
{
	th_run(body_destroy_with_waiter, NULL, NULL);
}
END_TEST

static Suite *barrier_suite(void)
{
	Suite *s = suite_create("barrier");
	TCase *tc;

	tc = tcase_create("barrier");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, basic);
	tcase_add_test(tc, rounds);
	tcase_add_test(tc, abort_reset);
	tcase_add_test(tc, give_up_breaks);
	tcase_add_test(tc, cancel_after_release);
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
	return th_main_run(barrier_suite());
}
