/*
 * Suite "lock": include/uco/lock.h.  Mutual exclusion, first come first
 * served, the lock handed straight to the first waiter (no barging), a
 * cancelled or timed-out waiter never left holding it, UCO_WITH_LOCK on
 * every way out of its body, and misuse.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

/* A task taking the lock (under a scope if scope_ns), holding it for
 * `hold` yields, then releasing it; it notes when it got the lock. */
struct locker {
	uco_lock *l;
	uint64_t scope_ns;
	int hold;
	int r;          /* uco_lock_lock()'s result */
	int after;      /* a suspending call made while holding it */
	int rank;       /* order it got the lock in, -1 if it did not */
	int *seq;
	bool started;
};

static void *locker_task(void *arg)
{
	struct locker *k = arg;
	int s = k->scope_ns ? uco_timeout_begin(k->scope_ns) : -1;

	k->started = true;
	k->r = uco_lock_lock(k->l);
	if (s >= 0)
		uco_timeout_end(s);
	if (k->r != 0)
		return NULL;
	if (k->seq)
		k->rank = (*k->seq)++;
	k->after = 0;
	for (int i = 0; i < k->hold && k->after == 0; i++)
		k->after = uco_yield();
	ck_assert_int_eq(uco_lock_unlock(k->l), 0);
	return NULL;
}

/* ---- basics ---------------------------------------------------------- */

static void body_basic(void *arg)
{
	uco_lock l;

	ck_assert_int_eq(uco_lock_init(&l), 0);
	ck_assert(!uco_lock_locked(&l));
	ck_assert_int_eq(uco_lock_lock(&l), 0);
	ck_assert(uco_lock_locked(&l));
	ck_assert_int_eq(uco_lock_try_lock(&l), -EAGAIN);
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	ck_assert(!uco_lock_locked(&l));
	ck_assert_int_eq(uco_lock_unlock(&l), -EPERM);
	ck_assert_int_eq(uco_lock_try_lock(&l), 0);
	ck_assert(uco_lock_locked(&l));
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	uco_lock_destroy(&l);
	uco_lock_destroy(NULL);
}

START_TEST(basic)
{
	lc_run(body_basic, NULL, NULL);
}
END_TEST

/* Waiters get the lock in the order they asked for it. */
static void body_fifo(void *arg)
{
	enum { N = 10 };
	struct locker k[N];
	uco_task *t[N];
	uco_lock l;
	int seq = 0;

	uco_lock_init(&l);
	ck_assert_int_eq(uco_lock_lock(&l), 0);
	for (int i = 0; i < N; i++)
		k[i] = (struct locker){ .l = &l, .hold = i % 3, .seq = &seq };
	TH_SPAWN_WAITERS(k, t, N, locker_task);
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	th_join_all(t, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(k[i].r, 0);
		ck_assert_int_eq(k[i].rank, i);
	}
	ck_assert(!uco_lock_locked(&l));
	uco_lock_destroy(&l);
}

START_TEST(fifo)
{
	lc_run(body_fifo, NULL, NULL);
}
END_TEST

/* Unlocking hands the lock to the waiter: the unlocker cannot take it back
 * before the waiter has run, and queues behind it instead. */
static void body_no_barging(void *arg)
{
	struct locker k = { 0 };
	uco_task *t;
	uco_lock l;
	int seq = 0;

	uco_lock_init(&l);
	ck_assert_int_eq(uco_lock_lock(&l), 0);
	k = (struct locker){ .l = &l, .hold = 2, .seq = &seq };
	TH_SPAWN_WAITERS(&k, &t, 1, locker_task);
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	ck_assert(uco_lock_locked(&l)); /* now the waiter's */
	ck_assert_int_eq(uco_lock_try_lock(&l), -EAGAIN);
	ck_assert_int_eq(uco_lock_lock(&l), 0); /* waits for it */
	ck_assert_int_eq(seq, 1);
	ck_assert_int_eq(k.r, 0);
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	th_join_all(&t, 1);
	uco_lock_destroy(&l);
}

START_TEST(no_barging)
{
	lc_run(body_no_barging, NULL, NULL);
}
END_TEST

/* ---- cancellation and timeouts --------------------------------------- */

/* A cancelled waiter leaves the line without the lock; the lock goes to
 * the next waiter and ends up free. */
static void body_cancelled_waiter(void *arg)
{
	enum { N = 3 };
	struct locker k[N];
	uco_task *t[N];
	uco_lock l;
	int seq = 0;

	uco_lock_init(&l);
	ck_assert_int_eq(uco_lock_lock(&l), 0);
	for (int i = 0; i < N; i++)
		k[i] = (struct locker){ .l = &l, .hold = 1, .seq = &seq };
	TH_SPAWN_WAITERS(k, t, N, locker_task);
	ck_assert_int_eq(uco_cancel(t[1]), 0);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	ck_assert_int_eq(k[1].r, -ECANCELED);
	ck_assert(uco_lock_locked(&l)); /* still ours */
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	th_join_all(t, 1);
	th_join_all(t + 2, 1);
	uco_task_release(t[1]);
	ck_assert_int_eq(k[0].rank, 0);
	ck_assert_int_eq(k[2].rank, 1);
	ck_assert_int_eq(k[1].rank, -1);
	ck_assert(!uco_lock_locked(&l));
	ck_assert_int_eq(uco_lock_try_lock(&l), 0);
	uco_lock_unlock(&l);
	uco_lock_destroy(&l);
}

START_TEST(cancelled_waiter)
{
	lc_run(body_cancelled_waiter, NULL, NULL);
}
END_TEST

/* A waiter cancelled after the lock was handed to it holds it (its lock
 * call returns 0, its next suspending call -ECANCELED) and releases it;
 * nothing is left held. */
static void body_cancel_after_handoff(void *arg)
{
	struct locker k;
	uco_task *t;
	uco_lock l;

	uco_lock_init(&l);
	ck_assert_int_eq(uco_lock_lock(&l), 0);
	k = (struct locker){ .l = &l, .hold = 5 };
	TH_SPAWN_WAITERS(&k, &t, 1, locker_task);
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	th_join_all(&t, 1);
	ck_assert_int_eq(k.r, 0);
	ck_assert_int_eq(k.after, -ECANCELED);
	ck_assert(!uco_lock_locked(&l));
	uco_lock_destroy(&l);
}

START_TEST(cancel_after_handoff)
{
	lc_run(body_cancel_after_handoff, NULL, NULL);
}
END_TEST

static int lock_fn(void *arg)
{
	return uco_lock_lock(arg);
}

/* Timeouts by uco_wait_for and by a scope; a waiter timing out in the
 * middle of the line takes no hand-off from the next. */
static void body_timeouts(void *arg)
{
	struct locker k[3];
	uco_task *t[3];
	uco_lock l;
	int s, seq = 0;

	uco_lock_init(&l);
	ck_assert_int_eq(uco_lock_lock(&l), 0);
	ck_assert_int_eq(uco_wait_for(2 * MS, lock_fn, &l), -ETIMEDOUT);
	s = uco_timeout_begin(2 * MS);
	ck_assert_int_eq(uco_lock_lock(&l), -ETIMEDOUT);
	uco_timeout_end(s);
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	ck_assert(!uco_lock_locked(&l)); /* no ghost waiter got it */
	/* A free lock within a scope: taken at once. */
	ck_assert_int_eq(uco_wait_for(2 * MS, lock_fn, &l), 0);

	for (int i = 0; i < 3; i++)
		k[i] = (struct locker){ .l = &l, .seq = &seq,
					.scope_ns = i == 1 ? 2 * MS : 0 };
	TH_SPAWN_WAITERS(k, t, 3, locker_task);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	ck_assert_int_eq(k[1].r, -ETIMEDOUT);
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	th_join_all(t, 1);
	th_join_all(t + 2, 1);
	uco_task_release(t[1]);
	ck_assert_int_eq(k[0].rank, 0);
	ck_assert_int_eq(k[2].rank, 1);
	ck_assert(!uco_lock_locked(&l));
	uco_lock_destroy(&l);
}

START_TEST(timeouts)
{
	lc_run(body_timeouts, NULL, NULL);
}
END_TEST

/* A cancelled task takes a free lock (no wait needed, as asyncio) but
 * cannot wait for a held one. */
static void body_cancelled_caller(void *arg)
{
	uco_lock l;

	uco_lock_init(&l);
	ck_assert_int_eq(uco_cancel(uco_current()), 0);
	ck_assert_int_eq(uco_lock_lock(&l), 0);
	ck_assert_int_eq(uco_lock_lock(&l), -ECANCELED);
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	uco_lock_destroy(&l);
}

START_TEST(cancelled_caller)
{
	lc_run(body_cancelled_caller, NULL, NULL);
}
END_TEST

/*
 * Property: mutual exclusion holds and the lock ends free, whatever is
 * cancelled when.  Workers loop taking the lock, checking nobody else
 * holds it, yielding inside; the main task cancels workers at random
 * (fixed seed) and spawns new ones.
 */
struct mx {
	uco_lock *l;
	int *holders;
	long *entries;
	unsigned seed;
};

static void *mx_worker(void *arg)
{
	struct mx *m = arg;

	for (;;) {
		if (uco_lock_lock(m->l) != 0)
			return NULL;
		LC_CHECK(++*m->holders == 1, "%d holders", *m->holders);
		(*m->entries)++;
		m->seed = m->seed * 1103515245u + 12345u;
		int n = (int)((m->seed >> 16) % 3), r = 0;
		for (int i = 0; i < n && r == 0; i++)
			r = uco_yield();
		--*m->holders;
		LC_CHECK(uco_lock_unlock(m->l) == 0, "unlock");
		if (r)
			return NULL;
	}
}

static void body_random_cancel(void *arg)
{
	enum { W = 8, ROUNDS = 3000 };
	struct mx m[W];
	uco_task *t[W];
	uco_lock l;
	int holders = 0;
	long entries = 0;
	unsigned seed = 7;

	uco_lock_init(&l);
	for (int i = 0; i < W; i++) {
		m[i] = (struct mx){ &l, &holders, &entries, (unsigned)i };
		ck_assert_int_eq(uco_spawn(&t[i], mx_worker, &m[i], NULL), 0);
	}
	for (int round = 0; round < ROUNDS; round++) {
		seed = seed * 1103515245u + 12345u;
		int i = (int)((seed >> 16) % W);
		if ((seed >> 8) % 2)
			uco_cancel(t[i]);
		UCO_IGNORE(uco_yield());
		for (i = 0; i < W; i++) {
			if (!uco_task_done(t[i]))
				continue;
			LC_CHECK(uco_join(t[i], NULL) == 0, "join");
			uco_task_release(t[i]);
			LC_CHECK(uco_spawn(&t[i], mx_worker, &m[i], NULL) == 0,
				 "spawn");
		}
	}
	for (int i = 0; i < W; i++) {
		uco_cancel(t[i]);
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(holders, 0);
	ck_assert_int_gt(entries, ROUNDS / 2);
	ck_assert(!uco_lock_locked(&l));
	uco_lock_destroy(&l);
}

START_TEST(random_cancel)
{
	lc_run(body_random_cancel, NULL, NULL);
}
END_TEST

/* ---- UCO_WITH_LOCK --------------------------------------------------- */

static int with_return(uco_lock *l, int v)
{
	int r;

	UCO_WITH_LOCK(l, r) {
		ck_assert(uco_lock_locked(l));
		if (v > 0)
			return v; /* unlocks */
	}
	return r < 0 ? r : 0;
}

static int with_goto(uco_lock *l)
{
	int r, n = 0;

	UCO_WITH_LOCK(l, r) {
		n++;
		goto out;
	}
	n += 100;
out:
	return n;
}

static void body_with_lock(void *arg)
{
	uco_lock a, b;
	int r = 1, runs = 0;

	uco_lock_init(&a);
	uco_lock_init(&b);
	UCO_WITH_LOCK(&a, r) {
		runs++;
		ck_assert(uco_lock_locked(&a));
		/* Nested, of another lock; and a suspending call inside. */
		int r2;
		UCO_WITH_LOCK(&b, r2) {
			ck_assert(uco_lock_locked(&b));
			ck_assert_int_eq(uco_yield(), 0);
			runs++;
		}
		ck_assert_int_eq(r2, 0);
		ck_assert(!uco_lock_locked(&b));
	}
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(runs, 2);
	ck_assert(!uco_lock_locked(&a));

	ck_assert_int_eq(with_return(&a, 7), 7);
	ck_assert(!uco_lock_locked(&a));
	ck_assert_int_eq(with_return(&a, 0), 0);
	ck_assert(!uco_lock_locked(&a));
	ck_assert_int_eq(with_goto(&a), 1);
	ck_assert(!uco_lock_locked(&a));

	/* break and continue leave the body (not an outer loop). */
	for (int i = 0; i < 3; i++) {
		UCO_WITH_LOCK(&a, r) {
			if (i == 1)
				break;
			continue;
		}
		ck_assert(!uco_lock_locked(&a));
		runs++;
	}
	ck_assert_int_eq(runs, 5);
	ck_assert(!uco_lock_locked(&a));

	/* Failure: the body is skipped and r says why. */
	ck_assert_int_eq(uco_lock_lock(&a), 0);
	int s = uco_timeout_begin(1 * MS);
	runs = 0;
	UCO_WITH_LOCK(&a, r) {
		runs++;
	}
	uco_timeout_end(s);
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_int_eq(runs, 0);
	ck_assert(uco_lock_locked(&a)); /* still ours */
	uco_lock_unlock(&a);
	uco_lock_destroy(&a);
	uco_lock_destroy(&b);
}

START_TEST(with_lock)
{
	lc_run(body_with_lock, NULL, NULL);
}
END_TEST

/* ---- misuse ---------------------------------------------------------- */

START_TEST(outside_runtime)
{
	uco_lock l;

	ck_assert_int_eq(uco_lock_init(&l), -EPERM);
}
END_TEST

static void body_bad_args(void *arg)
{
	ck_assert_int_eq(uco_lock_init(NULL), -EINVAL);
	ck_assert_int_eq(uco_lock_lock(NULL), -EINVAL);
	ck_assert_int_eq(uco_lock_try_lock(NULL), -EINVAL);
	ck_assert_int_eq(uco_lock_unlock(NULL), -EINVAL);
}

START_TEST(bad_args)
{
	lc_run(body_bad_args, NULL, NULL);
}
END_TEST

static void *other_core(void *arg)
{
	uco_lock *l = arg;

	ck_assert_int_eq(uco_lock_lock(l), -EXDEV);
	ck_assert_int_eq(uco_lock_try_lock(l), -EXDEV);
	ck_assert_int_eq(uco_lock_unlock(l), -EXDEV);
	return NULL;
}

static void body_cross_core(void *arg)
{
	uco_lock l;
	uco_task *t;

	uco_lock_init(&l);
	ck_assert_int_eq(uco_lock_lock(&l), 0);
	ck_assert_int_eq(uco_spawn_on(1, &t, other_core, &l, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert(uco_lock_locked(&l));
	ck_assert_int_eq(uco_lock_unlock(&l), 0);
	uco_lock_destroy(&l);
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
	struct locker k;
	uco_task *t;
	uco_lock l;

	uco_lock_init(&l);
	ck_assert_int_eq(uco_lock_lock(&l), 0);
	k = (struct locker){ .l = &l };
	TH_SPAWN_WAITERS(&k, &t, 1, locker_task);
	uco_lock_destroy(&l); /* aborts */
}

START_TEST(destroy_with_waiter)
{
	th_run(body_destroy_with_waiter, NULL, NULL);
}
END_TEST

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc;

	tc = tcase_create("lock");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, basic);
	tcase_add_test(tc, fifo);
	tcase_add_test(tc, no_barging);
	tcase_add_test(tc, cancelled_waiter);
	tcase_add_test(tc, cancel_after_handoff);
	tcase_add_test(tc, timeouts);
	tcase_add_test(tc, cancelled_caller);
	tcase_add_test(tc, random_cancel);
	tcase_add_test(tc, with_lock);
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
	return th_main_run(lock_suite());
}
