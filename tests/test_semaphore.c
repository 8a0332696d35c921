/*
 * Suite "semaphore": include/uco/semaphore.h.  Permits counted exactly,
 * waiters served first come first served with the permit handed over on
 * release, a bounded semaphore refusing to grow, and — property-style, a
 * fixed seed and many rounds — never more holders than permits whatever
 * is cancelled or timed out when.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

struct acq {
	uco_sem *s;
	uint64_t scope_ns;
	int hold;       /* yields while holding */
	int r;
	int rank;
	int *seq;
	bool started;
};

static void *acq_task(void *arg)
{
	struct acq *a = arg;
	int sc = a->scope_ns ? uco_timeout_begin(a->scope_ns) : -1;

	a->started = true;
	a->r = uco_sem_acquire(a->s);
	if (sc >= 0)
		uco_timeout_end(sc);
	if (a->r != 0)
		return NULL;
	if (a->seq)
		a->rank = (*a->seq)++;
	for (int i = 0; i < a->hold; i++)
		if (uco_yield() != 0)
			break;
	ck_assert_int_eq(uco_sem_release(a->s), 0);
	return NULL;
}

static void body_basic(void *arg)
{
	uco_sem s;

	ck_assert_int_eq(uco_sem_init(&s, 2), 0);
	ck_assert_uint_eq(uco_sem_value(&s), 2);
	ck_assert(!uco_sem_locked(&s));
	ck_assert_int_eq(uco_sem_acquire(&s), 0);
	ck_assert_int_eq(uco_sem_try_acquire(&s), 0);
	ck_assert(uco_sem_locked(&s));
	ck_assert_int_eq(uco_sem_try_acquire(&s), -EAGAIN);
	ck_assert_int_eq(uco_sem_release(&s), 0);
	ck_assert_int_eq(uco_sem_release(&s), 0);
	/* Unbounded: releasing more than was acquired grows it. */
	ck_assert_int_eq(uco_sem_release(&s), 0);
	ck_assert_uint_eq(uco_sem_value(&s), 3);
	uco_sem_destroy(&s);

	ck_assert_int_eq(uco_sem_init(&s, 0), 0);
	ck_assert(uco_sem_locked(&s));
	ck_assert_int_eq(uco_sem_try_acquire(&s), -EAGAIN);
	ck_assert_int_eq(uco_sem_release(&s), 0);
	ck_assert_int_eq(uco_sem_acquire(&s), 0);
	uco_sem_destroy(&s);
	ck_assert_int_eq(uco_sem_init(&s, INT_MAX), 0);
	ck_assert_int_eq(uco_sem_release(&s), -EOVERFLOW);
	uco_sem_destroy(&s);
	uco_sem_destroy(NULL);
}

START_TEST(basic)
{
	lc_run(body_basic, NULL, NULL);
}
END_TEST

/* A bounded semaphore never goes above its initial value. */
static void body_bounded(void *arg)
{
	struct acq a;
	uco_task *t;
	uco_sem s;

	ck_assert_int_eq(uco_sem_init_bounded(&s, 2), 0);
	ck_assert_int_eq(uco_sem_release(&s), -EOVERFLOW);
	ck_assert_uint_eq(uco_sem_value(&s), 2);
	ck_assert_int_eq(uco_sem_acquire(&s), 0);
	ck_assert_int_eq(uco_sem_release(&s), 0);
	ck_assert_int_eq(uco_sem_release(&s), -EOVERFLOW);
	ck_assert_uint_eq(uco_sem_value(&s), 2);
	/* With a waiter, the release goes to it and the count stays. */
	ck_assert_int_eq(uco_sem_acquire(&s), 0);
	ck_assert_int_eq(uco_sem_acquire(&s), 0);
	a = (struct acq){ .s = &s };
	TH_SPAWN_WAITERS(&a, &t, 1, acq_task);
	ck_assert_int_eq(uco_sem_release(&s), 0);
	ck_assert_uint_eq(uco_sem_value(&s), 0);
	th_join_all(&t, 1);
	ck_assert_int_eq(a.r, 0);
	ck_assert_uint_eq(uco_sem_value(&s), 1);
	ck_assert_int_eq(uco_sem_release(&s), 0);
	ck_assert_int_eq(uco_sem_release(&s), -EOVERFLOW);
	uco_sem_destroy(&s);

	/* Bounded at 0: can never be released (asyncio's rule). */
	ck_assert_int_eq(uco_sem_init_bounded(&s, 0), 0);
	ck_assert_int_eq(uco_sem_release(&s), -EOVERFLOW);
	uco_sem_destroy(&s);
}

START_TEST(bounded)
{
	lc_run(body_bounded, NULL, NULL);
}
END_TEST

/* Waiters in order, each permit handed to the first one: a task that
 * arrives later does not get it first. */
static void body_fifo(void *arg)
{
	enum { N = 8 };
	struct acq a[N];
	uco_task *t[N];
	uco_sem s;
	int seq = 0;

	uco_sem_init(&s, 0);
	for (int i = 0; i < N; i++)
		a[i] = (struct acq){ .s = &s, .hold = i % 2, .seq = &seq };
	TH_SPAWN_WAITERS(a, t, N, acq_task);
	ck_assert_int_eq(uco_sem_release(&s), 0);
	ck_assert_int_eq(uco_sem_try_acquire(&s), -EAGAIN); /* no barging */
	ck_assert_int_eq(uco_sem_release(&s), 0);
	th_join_all(t, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(a[i].r, 0);
		ck_assert_int_eq(a[i].rank, i);
	}
	ck_assert_uint_eq(uco_sem_value(&s), 2);
	uco_sem_destroy(&s);
}

START_TEST(fifo)
{
	lc_run(body_fifo, NULL, NULL);
}
END_TEST

static int acquire_fn(void *arg)
{
	return uco_sem_acquire(arg);
}

/* Cancelled and timed-out waiters take no permit; one cancelled after the
 * hand-off keeps (and gives back) its permit. */
static void body_cancel_timeout(void *arg)
{
	enum { N = 4 };
	struct acq a[N];
	uco_task *t[N];
	uco_sem s;
	int seq = 0, sc;

	uco_sem_init(&s, 0);
	ck_assert_int_eq(uco_wait_for(2 * MS, acquire_fn, &s), -ETIMEDOUT);
	sc = uco_timeout_begin(2 * MS);
	ck_assert_int_eq(uco_sem_acquire(&s), -ETIMEDOUT);
	uco_timeout_end(sc);
	ck_assert_int_eq(uco_cancel(uco_current()), 0);
	ck_assert_int_eq(uco_sem_acquire(&s), -ECANCELED);
	uco_shield_begin();
	for (int i = 0; i < N; i++)
		a[i] = (struct acq){ .s = &s, .seq = &seq, .hold = 1,
				     .scope_ns = i == 2 ? 2 * MS : 0 };
	TH_SPAWN_WAITERS(a, t, N, acq_task);
	ck_assert_int_eq(uco_cancel(t[1]), 0);
	ck_assert_int_eq(uco_join(t[2], NULL), 0); /* times out */
	ck_assert_int_eq(a[2].r, -ETIMEDOUT);
	ck_assert_int_eq(uco_sem_release(&s), 0); /* to t[0] */
	ck_assert_int_eq(uco_cancel(t[0]), 0);    /* after the hand-off */
	th_join_all(t, N);
	ck_assert_int_eq(a[0].r, 0);
	ck_assert_int_eq(a[1].r, -ECANCELED);
	ck_assert_int_eq(a[3].r, 0); /* t[0] passed the permit on */
	ck_assert_int_eq(a[0].rank, 0);
	ck_assert_int_eq(a[3].rank, 1);
	ck_assert_uint_eq(uco_sem_value(&s), 1);
	uco_shield_end();
	uco_sem_destroy(&s);
}

START_TEST(cancel_timeout)
{
	lc_run(body_cancel_timeout, NULL, NULL);
}
END_TEST

/*
 * Property: with P permits, never more than P holders, and every permit
 * comes back — under random cancels and short timeout scopes (fixed seed,
 * thousands of rounds).  A checker counts holders on every acquire.
 */
struct prop {
	uco_sem *s;
	int *holders;
	int *max_holders;
	long *acquired;
	unsigned seed;
	int permits;
};

static void *prop_worker(void *arg)
{
	struct prop *p = arg;

	for (;;) {
		p->seed = p->seed * 1103515245u + 12345u;
		unsigned r = p->seed >> 16;
		int sc = r % 4 == 0 ? uco_timeout_begin(1 + (r >> 2) % 20000)
				    : -1;
		int got = uco_sem_acquire(p->s);
		if (sc >= 0)
			uco_timeout_end(sc);
		if (got == -ETIMEDOUT)
			continue;
		if (got != 0)
			return NULL; /* cancelled */
		++*p->holders;
		LC_CHECK(*p->holders <= p->permits, "%d holders of %d",
			 *p->holders, p->permits);
		if (*p->holders > *p->max_holders)
			*p->max_holders = *p->holders;
		(*p->acquired)++;
		int y = 0;
		for (unsigned i = 0; i < (r >> 3) % 4 && y == 0; i++)
			y = uco_yield();
		--*p->holders;
		LC_CHECK(uco_sem_release(p->s) == 0, "release");
		if (y)
			return NULL;
	}
}

static void body_random_cancel(void *arg)
{
	enum { W = 12, P = 3, ROUNDS = 5000 };
	struct prop p[W];
	uco_task *t[W];
	uco_sem s;
	int holders = 0, max_holders = 0;
	long acquired = 0;
	unsigned seed = 2024;

	uco_sem_init_bounded(&s, P);
	for (int i = 0; i < W; i++) {
		p[i] = (struct prop){ &s, &holders, &max_holders, &acquired,
				      (unsigned)i * 7919u, P };
		ck_assert_int_eq(uco_spawn(&t[i], prop_worker, &p[i], NULL),
				 0);
	}
	for (int round = 0; round < ROUNDS; round++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 20) % 3 == 0)
			uco_cancel(t[(seed >> 16) % W]);
		UCO_IGNORE(uco_yield());
		for (int i = 0; i < W; i++) {
			if (!uco_task_done(t[i]))
				continue;
			LC_CHECK(uco_join(t[i], NULL) == 0, "join");
			uco_task_release(t[i]);
			LC_CHECK(uco_spawn(&t[i], prop_worker, &p[i], NULL) ==
					 0,
				 "spawn");
		}
	}
	for (int i = 0; i < W; i++) {
		uco_cancel(t[i]);
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(holders, 0);
	ck_assert_int_eq(max_holders, P); /* it was contended */
	ck_assert_int_gt(acquired, ROUNDS);
	ck_assert_uint_eq(uco_sem_value(&s), P); /* every permit is back */
	uco_sem_destroy(&s);
}

START_TEST(random_cancel)
{
	lc_run(body_random_cancel, NULL, NULL);
}
END_TEST

/* ---- misuse ---------------------------------------------------------- */

START_TEST(outside_runtime)
{
	uco_sem s;

	ck_assert_int_eq(uco_sem_init(&s, 1), -EPERM);
	ck_assert_int_eq(uco_sem_init_bounded(&s, 1), -EPERM);
}
END_TEST

static void body_bad_args(void *arg)
{
	uco_sem s;

	ck_assert_int_eq(uco_sem_init(NULL, 1), -EINVAL);
	ck_assert_int_eq(uco_sem_init_bounded(NULL, 1), -EINVAL);
	ck_assert_int_eq(uco_sem_init(&s, (unsigned)INT_MAX + 1), -EINVAL);
	ck_assert_int_eq(uco_sem_acquire(NULL), -EINVAL);
	ck_assert_int_eq(uco_sem_try_acquire(NULL), -EINVAL);
	ck_assert_int_eq(uco_sem_release(NULL), -EINVAL);
}

START_TEST(bad_args)
{
	lc_run(body_bad_args, NULL, NULL);
}
END_TEST

static void *other_core(void *arg)
{
	ck_assert_int_eq(uco_sem_acquire(arg), -EXDEV);
	ck_assert_int_eq(uco_sem_try_acquire(arg), -EXDEV);
	ck_assert_int_eq(uco_sem_release(arg), -EXDEV);
	return NULL;
}

static void body_cross_core(void *arg)
{
	uco_sem s;
	uco_task *t;

	uco_sem_init(&s, 1);
	ck_assert_int_eq(uco_spawn_on(1, &t, other_core, &s, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_uint_eq(uco_sem_value(&s), 1);
	uco_sem_destroy(&s);
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
	struct acq a;
	uco_task *t;
	uco_sem s;

	uco_sem_init(&s, 0);
	a = (struct acq){ .s = &s };
	TH_SPAWN_WAITERS(&a, &t, 1, acq_task);
	uco_sem_destroy(&s); /* aborts */
}

START_TEST(destroy_with_waiter)
{
	th_run(body_destroy_with_waiter, NULL, NULL);
}
END_TEST

static Suite *semaphore_suite(void)
{
	Suite *s = suite_create("semaphore");
	TCase *tc;

	tc = tcase_create("semaphore");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, basic);
	tcase_add_test(tc, bounded);
	tcase_add_test(tc, fifo);
	tcase_add_test(tc, cancel_timeout);
	tcase_add_test(tc, random_cancel);
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
	return th_main_run(semaphore_suite());
}
