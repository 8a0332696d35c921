/*
 * Suite "condition": include/uco/condition.h.  Notify order, notify(n)
 * reaching only live waiters, the lock held again on every return —
 * notified, cancelled or timed out, even while another task holds the lock
 * long past the deadline — wait_for with a predicate, and misuse.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

struct cw {
	uco_cond *c;
	uint64_t scope_ns;
	int r;
	int rank;
	int *seq;
	int *inside;     /* tasks between their lock and unlock */
	bool held_after; /* the lock was held when wait returned */
	bool started;
};

static void *cw_task(void *arg)
{
	struct cw *w = arg;
	uco_lock *l = uco_cond_lock(w->c);

	ck_assert_int_eq(uco_lock_lock(l), 0);
	w->started = true;
	int s = w->scope_ns ? uco_timeout_begin(w->scope_ns) : -1;
	w->r = uco_cond_wait(w->c);
	if (s >= 0)
		uco_timeout_end(s);
	w->held_after = uco_lock_locked(l);
	if (w->inside)
		ck_assert_int_eq(++*w->inside, 1);
	if (w->seq)
		w->rank = (*w->seq)++;
	UCO_IGNORE(uco_yield()); /* hold it a little: nobody else may get in */
	if (w->inside)
		--*w->inside;
	ck_assert_int_eq(uco_lock_unlock(l), 0);
	return NULL;
}

static void body_notify(void *arg)
{
	enum { N = 6 };
	struct cw w[N];
	uco_task *t[N];
	uco_cond c;
	uco_lock *l;
	int seq = 0, inside = 0;

	ck_assert_int_eq(uco_cond_init(&c, NULL), 0);
	l = uco_cond_lock(&c);
	ck_assert_ptr_nonnull(l);
	for (int i = 0; i < N; i++)
		w[i] = (struct cw){ .c = &c, .seq = &seq, .inside = &inside };
	TH_SPAWN_WAITERS(w, t, N, cw_task);
	ck_assert(!uco_lock_locked(l)); /* every waiter let go of it */
	ck_assert_int_eq(uco_lock_lock(l), 0);
	ck_assert_int_eq(uco_cond_notify(&c, 2), 2);
	ck_assert_int_eq(uco_lock_unlock(l), 0);
	for (int i = 0; i < 4; i++)
		UCO_IGNORE(uco_yield());
	ck_assert_int_eq(seq, 2);
	ck_assert_int_eq(uco_lock_lock(l), 0);
	ck_assert_int_eq(uco_cond_notify(&c, 0), 0);
	ck_assert_int_eq(uco_cond_notify_all(&c), N - 2);
	ck_assert_int_eq(uco_cond_notify_all(&c), 0);
	ck_assert_int_eq(uco_lock_unlock(l), 0);
	th_join_all(t, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(w[i].r, 0);
		ck_assert(w[i].held_after);
		ck_assert_int_eq(w[i].rank, i);
	}
	ck_assert(!uco_lock_locked(l));
	uco_cond_destroy(&c);
	uco_cond_destroy(NULL);
}

START_TEST(notify)
{
	lc_run(body_notify, NULL, NULL);
}
END_TEST

/* A cancelled waiter takes no notify from the others; one cancelled after
 * its notify returns 0; both hold the lock when they return. */
static void body_cancelled_waiter(void *arg)
{
	enum { N = 3 };
	struct cw w[N];
	uco_task *t[N];
	uco_lock lock;
	uco_cond c;

	/* An external lock this time. */
	ck_assert_int_eq(uco_lock_init(&lock), 0);
	ck_assert_int_eq(uco_cond_init(&c, &lock), 0);
	ck_assert_ptr_eq(uco_cond_lock(&c), &lock);
	for (int i = 0; i < N; i++)
		w[i] = (struct cw){ .c = &c };
	TH_SPAWN_WAITERS(w, t, N, cw_task);
	ck_assert_int_eq(uco_cancel(t[0]), 0);
	ck_assert_int_eq(uco_join(t[0], NULL), 0);
	ck_assert_int_eq(w[0].r, -ECANCELED);
	ck_assert(w[0].held_after);
	ck_assert_int_eq(uco_lock_lock(&lock), 0);
	ck_assert_int_eq(uco_cond_notify(&c, 1), 1); /* reaches t[1] */
	ck_assert_int_eq(uco_cancel(t[1]), 0);       /* after its notify */
	uco_lock_unlock(&lock);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	ck_assert_int_eq(w[1].r, 0);
	ck_assert(w[1].held_after);
	ck_assert_int_eq(w[2].r, 1); /* still waiting */
	ck_assert_int_eq(uco_lock_lock(&lock), 0);
	ck_assert_int_eq(uco_cond_notify(&c, 5), 1);
	uco_lock_unlock(&lock);
	ck_assert_int_eq(uco_join(t[2], NULL), 0);
	ck_assert_int_eq(w[2].r, 0);
	for (int i = 0; i < N; i++)
		uco_task_release(t[i]);
	uco_cond_destroy(&c);
	uco_lock_destroy(&lock);
}

START_TEST(cancelled_waiter)
{
	lc_run(body_cancelled_waiter, NULL, NULL);
}
END_TEST

/* A task that holds the lock for a while, and optionally cancels `victim`
 * while holding it. */
struct holder {
	uco_lock *l;
	uco_task *victim;
	uint64_t hold_ns;
	bool released;
};

static void *holder_task(void *arg)
{
	struct holder *h = arg;

	ck_assert_int_eq(uco_lock_lock(h->l), 0);
	if (h->victim) {
		ck_assert_int_eq(uco_cancel(h->victim), 0);
		for (int i = 0; i < 5; i++)
			ck_assert_int_eq(uco_yield(), 0);
	}
	if (h->hold_ns)
		ck_assert_int_eq(uco_sleep(h->hold_ns), 0);
	h->released = true;
	ck_assert_int_eq(uco_lock_unlock(h->l), 0);
	return NULL;
}

static int cond_wait_fn(void *arg)
{
	return uco_cond_wait(arg);
}

/*
 * The deadline passes (or the cancel comes) while another task holds the
 * lock: the wait still returns only once it has the lock back, and says
 * -ETIMEDOUT / -ECANCELED.
 */
static void body_reacquire(void *arg)
{
	struct holder h;
	uco_task *t;
	uco_cond c;
	uco_lock *l;
	int s;

	uco_cond_init(&c, NULL);
	l = uco_cond_lock(&c);

	/* Timeout scope, holder sleeping well past the deadline. */
	h = (struct holder){ .l = l, .hold_ns = 20 * MS };
	ck_assert_int_eq(uco_lock_lock(l), 0);
	ck_assert_int_eq(uco_spawn(&t, holder_task, &h, NULL), 0);
	s = uco_timeout_begin(2 * MS);
	ck_assert_int_eq(uco_cond_wait(&c), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	ck_assert(h.released);
	ck_assert(uco_lock_locked(l));
	ck_assert_int_eq(uco_lock_unlock(l), 0);
	th_join_all(&t, 1);

	/* uco_wait_for, the same way. */
	h = (struct holder){ .l = l, .hold_ns = 10 * MS };
	ck_assert_int_eq(uco_lock_lock(l), 0);
	ck_assert_int_eq(uco_spawn(&t, holder_task, &h, NULL), 0);
	ck_assert_int_eq(uco_wait_for(1 * MS, cond_wait_fn, &c), -ETIMEDOUT);
	ck_assert(h.released);
	ck_assert(uco_lock_locked(l));
	ck_assert_int_eq(uco_lock_unlock(l), 0);
	th_join_all(&t, 1);

	/* Cancelled by the holder, which then keeps the lock a while. */
	h = (struct holder){ .l = l, .victim = uco_current() };
	ck_assert_int_eq(uco_lock_lock(l), 0);
	ck_assert_int_eq(uco_spawn(&t, holder_task, &h, NULL), 0);
	ck_assert_int_eq(uco_cond_wait(&c), -ECANCELED);
	ck_assert(h.released);
	ck_assert(uco_lock_locked(l));
	ck_assert_int_eq(uco_lock_unlock(l), 0);
	uco_shield_begin();
	th_join_all(&t, 1);
	uco_shield_end();

	/* Already cancelled: refused at once, the lock never let go of. */
	ck_assert_int_eq(uco_lock_lock(l), 0);
	ck_assert_int_eq(uco_cond_wait(&c), -ECANCELED);
	ck_assert(uco_lock_locked(l));
	ck_assert_int_eq(uco_lock_unlock(l), 0);
	uco_cond_destroy(&c);
}

START_TEST(reacquire)
{
	lc_run(body_reacquire, NULL, NULL);
}
END_TEST

/* wait_for: a consumer waits for a count that a producer raises.  The
 * predicate counts the times it said "not yet", i.e. the waits the consumer
 * went into; the producer records what each notify_all woke.  With one
 * consumer every wait it went into ends by a notify (the timed-out wait
 * below has no producer left to race it), so the two totals are equal. */
struct counter {
	uco_cond *c;
	int n;
	int want;
	int waits;     /* predicate false: the consumer is about to wait */
	int woke[10];  /* notify_all's result at each bump */
};

static bool enough(void *arg)
{
	struct counter *k = arg;

	if (k->n >= k->want)
		return true;
	k->waits++;
	return false;
}

static void *bump_task(void *arg)
{
	struct counter *k = arg;
	uco_lock *l = uco_cond_lock(k->c);

	for (int i = 0; i < 10; i++) {
		int r;
		UCO_WITH_LOCK(l, r) {
			k->n++;
			k->woke[i] = uco_cond_notify_all(k->c);
		}
		ck_assert_int_eq(r, 0);
		UCO_IGNORE(uco_yield());
	}
	return NULL;
}

static void body_wait_for(void *arg)
{
	uco_cond c;
	uco_task *t;
	struct counter k = { .c = &c, .want = 7 };
	uco_lock *l;
	int s, woken = 0;

	uco_cond_init(&c, NULL);
	l = uco_cond_lock(&c);
	ck_assert_int_eq(uco_spawn(&t, bump_task, &k, NULL), 0);
	ck_assert_int_eq(uco_lock_lock(l), 0);
	ck_assert_int_eq(uco_cond_wait_for(&c, enough, &k), 0);
	ck_assert_int_ge(k.n, 7);
	ck_assert(uco_lock_locked(l));
	/* True at once: no wait. */
	int waits = k.waits;
	ck_assert_int_eq(uco_cond_wait_for(&c, enough, &k), 0);
	ck_assert_int_eq(k.waits, waits);
	/* Let the producer finish: nobody waits for its last bumps. */
	ck_assert_int_eq(uco_lock_unlock(l), 0);
	th_join_all(&t, 1);
	ck_assert_int_eq(k.n, 10);
	/* The consumer was waiting before the producer first ran. */
	ck_assert_int_eq(k.woke[0], 1);
	for (int i = 0; i < 10; i++) {
		ck_assert_msg(k.woke[i] == 0 || k.woke[i] == 1,
			      "notify_all %d woke %d of one waiter", i,
			      k.woke[i]);
		woken += k.woke[i];
	}
	ck_assert_int_ge(waits, 1);
	ck_assert_int_eq(woken, waits);
	/* Never true: times out, lock held, nobody woke it. */
	ck_assert_int_eq(uco_lock_lock(l), 0);
	k.want = 1000;
	s = uco_timeout_begin(2 * MS);
	ck_assert_int_eq(uco_cond_wait_for(&c, enough, &k), -ETIMEDOUT);
	uco_timeout_end(s);
	ck_assert_int_eq(k.waits, waits + 1);
	ck_assert(uco_lock_locked(l));
	ck_assert_int_eq(uco_lock_unlock(l), 0);
	uco_cond_destroy(&c);
}

START_TEST(wait_for)
{
	lc_run(body_wait_for, NULL, NULL);
}
END_TEST

/* ---- misuse ---------------------------------------------------------- */

START_TEST(outside_runtime)
{
	uco_cond c;

	ck_assert_int_eq(uco_cond_init(&c, NULL), -EPERM);
}
END_TEST

static void body_bad_args(void *arg)
{
	uco_cond c;

	ck_assert_int_eq(uco_cond_init(NULL, NULL), -EINVAL);
	ck_assert_int_eq(uco_cond_wait(NULL), -EINVAL);
	ck_assert_int_eq(uco_cond_wait_for(NULL, enough, NULL), -EINVAL);
	ck_assert_int_eq(uco_cond_notify(NULL, 1), -EINVAL);
	ck_assert_int_eq(uco_cond_notify_all(NULL), -EINVAL);
	ck_assert_ptr_null(uco_cond_lock(NULL));
	uco_cond_init(&c, NULL);
	/* The lock must be held. */
	ck_assert_int_eq(uco_cond_wait(&c), -EPERM);
	ck_assert_int_eq(uco_cond_wait_for(&c, enough, NULL), -EPERM);
	ck_assert_int_eq(uco_cond_notify(&c, 1), -EPERM);
	ck_assert_int_eq(uco_cond_notify_all(&c), -EPERM);
	ck_assert_int_eq(uco_lock_lock(uco_cond_lock(&c)), 0);
	ck_assert_int_eq(uco_cond_wait_for(&c, NULL, NULL), -EINVAL);
	uco_lock_unlock(uco_cond_lock(&c));
	uco_cond_destroy(&c);
}

START_TEST(bad_args)
{
	lc_run(body_bad_args, NULL, NULL);
}
END_TEST

static void *other_core(void *arg)
{
	uco_cond *c = arg;
	uco_cond mine;

	ck_assert_int_eq(uco_cond_wait(c), -EXDEV);
	ck_assert_int_eq(uco_cond_notify(c, 1), -EXDEV);
	ck_assert_int_eq(uco_cond_notify_all(c), -EXDEV);
	/* A condition here cannot use a lock of the other core. */
	ck_assert_int_eq(uco_cond_init(&mine, uco_cond_lock(c)), -EXDEV);
	return NULL;
}

static void body_cross_core(void *arg)
{
	uco_cond c;
	uco_task *t;

	uco_cond_init(&c, NULL);
	ck_assert_int_eq(uco_lock_lock(uco_cond_lock(&c)), 0);
	ck_assert_int_eq(uco_spawn_on(1, &t, other_core, &c, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	uco_lock_unlock(uco_cond_lock(&c));
	uco_cond_destroy(&c);
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
	struct cw w;
	uco_task *t;
	uco_cond c;

	uco_cond_init(&c, NULL);
	w = (struct cw){ .c = &c };
	TH_SPAWN_WAITERS(&w, &t, 1, cw_task);
	uco_cond_destroy(&c); /* aborts */
}

START_TEST(destroy_with_waiter)
{
	th_run(body_destroy_with_waiter, NULL, NULL);
}
END_TEST

static Suite *condition_suite(void)
{
	Suite *s = suite_create("condition");
	TCase *tc;

	tc = tcase_create("condition");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, notify);
	tcase_add_test(tc, cancelled_waiter);
	tcase_add_test(tc, reacquire);
	tcase_add_test(tc, wait_for);
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
	return th_main_run(condition_suite());
}
