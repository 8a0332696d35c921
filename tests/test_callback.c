/*
 * Suite "callback": stackless timer callbacks (include/uco/callback.h):
 * call_soon's FIFO, call_later/call_at in deadline order in one batch with
 * the sleeps, what a callback may do (set a future, spawn a task, re-arm
 * itself), cancellation (pending, in the same batch, after the run, of
 * itself), cores, misuse, and shutdown dropping what is still pending.
 * Every test waits for the thing itself (a future, a join), never a sleep
 * of its own, and runs leak-checked.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC
#define SEC UCO_NSEC_PER_SEC

/* A log of who ran, in order. */
struct log {
	char ev[64];
	int n;
	uco_future *done;    /* set when `want` entries are in */
	int want;
};

struct entry {
	struct log *log;
	char tag;
};

static void log_add(struct log *g, char tag)
{
	ck_assert_int_lt(g->n, (int)sizeof(g->ev) - 1);
	g->ev[g->n++] = tag;
	g->ev[g->n] = '\0';
	if (g->done && g->n == g->want)
		ck_assert_int_eq(uco_future_set_result(g->done, NULL), 0);
}

static void cb_log(void *arg)
{
	struct entry *e = arg;

	/* A callback runs with no task. */
	ck_assert_ptr_null(uco_current());
	log_add(e->log, e->tag);
}

static void log_wait(struct log *g)
{
	ck_assert_int_eq(uco_future_wait(g->done, NULL), 0);
	uco_future_free(g->done);
	g->done = NULL;
}

static void log_init(struct log *g, int want)
{
	*g = (struct log){ .want = want };
	ck_assert_int_eq(uco_future_create(&g->done), 0);
}

/* ---- order -------------------------------------------------------------- */

/* call_soon: first in first out, with and without handles. */
static void body_soon_fifo(void *arg)
{
	enum { N = 20 };
	struct log g;
	struct entry e[N];
	uco_callback *h[N];

	(void)arg;
	log_init(&g, N);
	for (int i = 0; i < N; i++) {
		e[i] = (struct entry){ &g, (char)('a' + i) };
		ck_assert_int_eq(uco_call_soon(cb_log, &e[i],
					       i % 2 ? &h[i] : NULL),
				 0);
	}
	ck_assert_int_eq(g.n, 0); /* nothing runs before the loop looks */
	log_wait(&g);
	ck_assert_str_eq(g.ev, "abcdefghijklmnopqrst");
	for (int i = 1; i < N; i += 2) {
		ck_assert(!uco_callback_pending(h[i]));
		ck_assert_int_eq(uco_callback_cancel(h[i]), 0); /* ran */
		uco_callback_release(h[i]);
	}
}

START_TEST(soon_fifo)
{
	lc_run(body_soon_fifo, NULL, NULL);
}
END_TEST

/* Timed callbacks armed out of order run in deadline order. */
static void body_later_order(void *arg)
{
	static const uint64_t delay_ms[] = { 5, 1, 4, 2, 3 };
	struct log g;
	struct entry e[5];

	(void)arg;
	log_init(&g, 5);
	for (int i = 0; i < 5; i++) {
		e[i] = (struct entry){ &g, (char)('0' + delay_ms[i]) };
		ck_assert_int_eq(uco_call_later(delay_ms[i] * MS, cb_log,
						&e[i], NULL),
				 0);
	}
	log_wait(&g);
	ck_assert_str_eq(g.ev, "12345");
}

START_TEST(later_order)
{
	lc_run(body_later_order, NULL, NULL);
}
END_TEST

/* A task that sleeps until a deadline logs its tag when it wakes. */
struct sleeper {
	struct log *log;
	uint64_t until;
	char tag;
};

static void *sleeper_task(void *arg)
{
	struct sleeper *s = arg;

	ck_assert_int_eq(uco_sleep_until(s->until), 0);
	log_add(s->log, s->tag);
	return NULL;
}

/*
 * uco/time.h's order rule with callbacks in the batch: sleeps and
 * callbacks all due (deadlines already past, so one look takes them all)
 * run in deadline order, callbacks at their turn and the woken tasks after
 * the whole batch; the soon callbacks run before the batch.
 */
static void body_batch_with_sleeps(void *arg)
{
	struct log g;
	struct entry c1, c2, s1;
	struct sleeper t1, t2;
	uco_task *th1, *th2;
	uint64_t base = uco_now();

	(void)arg;
	log_init(&g, 5);
	t1 = (struct sleeper){ &g, base - 3000, 'T' };
	t2 = (struct sleeper){ &g, base - 1000, 'U' };
	ck_assert_int_eq(uco_spawn(&th1, sleeper_task, &t1, NULL), 0);
	ck_assert_int_eq(uco_spawn(&th2, sleeper_task, &t2, NULL), 0);
	/* Both start and go to sleep in the heap, due already; this task
	 * runs again in the same pass, before the loop looks at its timers. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(g.n, 0);
	c1 = (struct entry){ &g, 'b' };
	c2 = (struct entry){ &g, 'a' };
	s1 = (struct entry){ &g, 's' };
	ck_assert_int_eq(uco_call_at(base - 2000, cb_log, &c1, NULL), 0);
	ck_assert_int_eq(uco_call_at(base - 4000, cb_log, &c2, NULL), 0);
	ck_assert_int_eq(uco_call_soon(cb_log, &s1, NULL), 0);
	log_wait(&g);
	ck_assert_str_eq(g.ev, "sabTU");
	th_join_all((uco_task *[]){ th1, th2 }, 2);
}

START_TEST(batch_with_sleeps)
{
	lc_run(body_batch_with_sleeps, NULL, NULL);
}
END_TEST

/* Many deadlines at random: every callback runs, none before its
 * deadline, and in nondecreasing deadline order. */
struct many {
	uint64_t *at;
	uint64_t last;
	int ran;
	int n;
	bool early;
	bool disorder;
	uco_future *done;
};

struct many_arg {
	struct many *m;
	int i;
};

static void cb_many(void *arg)
{
	struct many_arg *a = arg;
	struct many *m = a->m;
	uint64_t at = m->at[a->i];

	if (uco_now() < at)
		m->early = true;
	if (at < m->last)
		m->disorder = true;
	m->last = at;
	if (++m->ran == m->n)
		uco_future_set_result(m->done, NULL);
}

static void body_many_random(void *arg)
{
	enum { N = 20000 };
	struct many m = { .n = N };
	struct many_arg *a = malloc(N * sizeof(*a));
	uint64_t base = uco_now();
	unsigned seed = 12345;

	(void)arg;
	ck_assert_ptr_nonnull(a);
	m.at = malloc(N * sizeof(*m.at));
	ck_assert_ptr_nonnull(m.at);
	ck_assert_int_eq(uco_future_create(&m.done), 0);
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		m.at[i] = base + (seed >> 8) % (20 * MS);
		a[i] = (struct many_arg){ &m, i };
		LC_CHECK(uco_call_at(m.at[i], cb_many, &a[i], NULL) == 0,
			 "call_at %d failed", i);
	}
	ck_assert_int_eq(uco_future_wait(m.done, NULL), 0);
	ck_assert_int_eq(m.ran, N);
	ck_assert(!m.early);
	ck_assert(!m.disorder);
	uco_future_free(m.done);
	free(m.at);
	free(a);
}

START_TEST(many_random)
{
	lc_run(body_many_random, NULL, NULL);
}
END_TEST

/* ---- what a callback may do --------------------------------------------- */

static void cb_set_future(void *arg)
{
	ck_assert_int_eq(uco_future_set_result(arg, (void *)0x5eed), 0);
}

/* asyncio's loop.call_later(1, lambda: future.set_result(...)). */
static void body_sets_future(void *arg)
{
	uco_future *f;
	void *res = NULL;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&f), 0);
	ck_assert_int_eq(uco_call_later(1 * MS, cb_set_future, f, NULL), 0);
	ck_assert_int_eq(uco_future_wait(f, &res), 0);
	ck_assert_ptr_eq(res, (void *)0x5eed);
	uco_future_free(f);
}

START_TEST(sets_future)
{
	lc_run(body_sets_future, NULL, NULL);
}
END_TEST

struct spawner {
	uco_task *child;
	uco_future *f;
	int sleep_r;
	int spawn_r;
};

static void *child_task(void *arg)
{
	struct spawner *s = arg;

	/* A task spawned by a callback is a task: it may suspend. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_future_set_result(s->f, s), 0);
	return (void *)0x1234;
}

static void cb_spawn(void *arg)
{
	struct spawner *s = arg;

	/* No task to suspend: a suspending call is refused. */
	s->sleep_r = uco_sleep(1);
	s->spawn_r = uco_spawn(&s->child, child_task, s, NULL);
}

static void body_spawns_task(void *arg)
{
	struct spawner s = { 0 };
	void *res = NULL;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&s.f), 0);
	ck_assert_int_eq(uco_call_soon(cb_spawn, &s, NULL), 0);
	ck_assert_int_eq(uco_future_wait(s.f, &res), 0);
	ck_assert_ptr_eq(res, &s);
	ck_assert_int_eq(s.sleep_r, -EPERM);
	ck_assert_int_eq(s.spawn_r, 0);
	ck_assert_int_eq(uco_join(s.child, &res), 0);
	ck_assert_ptr_eq(res, (void *)0x1234);
	uco_task_release(s.child);
	uco_future_free(s.f);
}

START_TEST(spawns_task)
{
	lc_run(body_spawns_task, NULL, NULL);
}
END_TEST

/* A callback that re-arms itself: with call_later(0), with call_at of a
 * deadline already past (which must not make one batch spin for ever),
 * and with call_soon, N times each, then sets a future. */
struct rearm {
	int left;
	int how; /* 0 call_later(0), 1 call_at(past), 2 call_soon */
	int passes_seen;
	uco_future *f;
	uco_callback *h;
};

static void cb_rearm(void *arg)
{
	struct rearm *r = arg;
	int rc;

	/* A callback that is running is no longer pending. */
	ck_assert(!uco_callback_pending(r->h));
	ck_assert_int_eq(uco_callback_cancel(r->h), 0);
	uco_callback_release(r->h);
	r->h = NULL;
	if (--r->left == 0) {
		ck_assert_int_eq(uco_future_set_result(r->f, NULL), 0);
		return;
	}
	if (r->how == 0)
		rc = uco_call_later(0, cb_rearm, r, &r->h);
	else if (r->how == 1)
		rc = uco_call_at(1, cb_rearm, r, &r->h);
	else
		rc = uco_call_soon(cb_rearm, r, &r->h);
	ck_assert_int_eq(rc, 0);
	ck_assert(uco_callback_pending(r->h));
}

/* Counts the passes of a task that keeps yielding while r re-arms: the
 * tasks get their turn between the callback's runs. */
struct yielder {
	struct rearm *r;
	int yields;
};

static void *yielder_task(void *arg)
{
	struct yielder *y = arg;

	while (!uco_future_done(y->r->f)) {
		int r = uco_yield();

		LC_CHECK(r == 0, "uco_yield: %d", r);
		y->yields++;
	}
	return NULL;
}

static void body_rearms_itself(void *arg)
{
	enum { N = 1000 };

	(void)arg;
	for (int how = 0; how < 3; how++) {
		struct rearm r = { .left = N, .how = how };
		struct yielder y = { .r = &r };
		uco_task *t;

		ck_assert_int_eq(uco_future_create(&r.f), 0);
		ck_assert_int_eq(uco_spawn(&t, yielder_task, &y, NULL), 0);
		ck_assert_int_eq(uco_call_soon(cb_rearm, &r, &r.h), 0);
		ck_assert_int_eq(uco_future_wait(r.f, NULL), 0);
		ck_assert_ptr_null(r.h);
		ck_assert_int_eq(uco_join(t, NULL), 0);
		uco_task_release(t);
		/* Each re-arm waited for a later pass, where the yielder
		 * ran too. */
		ck_assert_int_ge(y.yields, N - 1);
		uco_future_free(r.f);
	}
}

START_TEST(rearms_itself)
{
	lc_run(body_rearms_itself, NULL, NULL);
}
END_TEST

/* A cancelled task may still arm callbacks (they are not cancelled with
 * it), as it may still spawn tasks. */
struct armer {
	uco_future *f;
	int r;
	int yield_r;
};

static void *armer_task(void *arg)
{
	struct armer *a = arg;

	a->yield_r = uco_yield(); /* cancelled meanwhile */
	a->r = uco_call_soon(cb_set_future, a->f, NULL);
	return NULL;
}

static void body_from_cancelled_task(void *arg)
{
	struct armer a = { 0 };
	uco_task *t;
	void *res = NULL;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&a.f), 0);
	ck_assert_int_eq(uco_spawn(&t, armer_task, &a, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0); /* t is in its yield */
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_future_wait(a.f, &res), 0);
	ck_assert_ptr_eq(res, (void *)0x5eed);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(a.yield_r, -ECANCELED);
	ck_assert_int_eq(a.r, 0);
	uco_future_free(a.f);
}

START_TEST(from_cancelled_task)
{
	lc_run(body_from_cancelled_task, NULL, NULL);
}
END_TEST

/* ---- cancellation ------------------------------------------------------- */

static void cb_must_not_run(void *arg)
{
	(void)arg;
	ck_abort_msg("a cancelled callback ran");
}

static void body_cancel_pending(void *arg)
{
	uco_callback *later, *soon, *at;
	struct log g;
	struct entry e;

	(void)arg;
	ck_assert_int_eq(uco_call_later(10 * SEC, cb_must_not_run, NULL,
					&later),
			 0);
	ck_assert_int_eq(uco_call_soon(cb_must_not_run, NULL, &soon), 0);
	ck_assert_int_eq(uco_call_at(0, cb_must_not_run, NULL, &at), 0);
	ck_assert(uco_callback_pending(later));
	ck_assert_int_eq(uco_callback_cancel(later), 1);
	ck_assert_int_eq(uco_callback_cancel(later), 0); /* once */
	ck_assert(!uco_callback_pending(later));
	ck_assert_int_eq(uco_callback_cancel(soon), 1);
	ck_assert_int_eq(uco_callback_cancel(at), 1);
	/* Released before its queue entry goes (the soon one): the record
	 * lives on until the loop skips it. */
	uco_callback_release(soon);
	/* A pass that runs the soon list and the due timers. */
	log_init(&g, 1);
	e = (struct entry){ &g, 'x' };
	ck_assert_int_eq(uco_call_later(0, cb_log, &e, NULL), 0);
	log_wait(&g);
	ck_assert_str_eq(g.ev, "x");
	ck_assert_int_eq(uco_callback_cancel(at), 0);
	uco_callback_release(later);
	uco_callback_release(at);
	uco_callback_release(NULL);
}

START_TEST(cancel_pending)
{
	lc_run(body_cancel_pending, NULL, NULL);
}
END_TEST

/* A callback cancels another one due in the same batch (and a soon one
 * queued behind it), which then never run. */
struct canceller {
	uco_callback *victim;
	uco_callback *soon_victim;
	int r;
	int r_soon;
	struct entry e;
};

static void cb_cancel_other(void *arg)
{
	struct canceller *c = arg;

	c->r = uco_callback_cancel(c->victim);
	c->r_soon = uco_callback_cancel(c->soon_victim);
	cb_log(&c->e);
}

static void body_cancel_same_batch(void *arg)
{
	struct log g;
	struct canceller c = { 0 };
	struct entry last;
	uint64_t base = uco_now();

	(void)arg;
	log_init(&g, 2);
	c.e = (struct entry){ &g, 'c' };
	last = (struct entry){ &g, 'z' };
	ck_assert_int_eq(uco_call_soon(cb_cancel_other, &c, NULL), 0);
	ck_assert_int_eq(uco_call_soon(cb_must_not_run, NULL, &c.soon_victim),
			 0);
	ck_assert_int_eq(uco_call_at(base - 1000, cb_must_not_run, NULL,
				     &c.victim),
			 0);
	ck_assert_int_eq(uco_call_at(base, cb_log, &last, NULL), 0);
	log_wait(&g);
	ck_assert_str_eq(g.ev, "cz");
	ck_assert_int_eq(c.r, 1);
	ck_assert_int_eq(c.r_soon, 1);
	uco_callback_release(c.victim);
	uco_callback_release(c.soon_victim);

	/* Now within one timer batch: an earlier callback cancels a later
	 * one due in the same look. */
	log_init(&g, 2);
	base = uco_now();
	c = (struct canceller){ .e = { &g, 'C' } };
	last = (struct entry){ &g, 'Z' };
	ck_assert_int_eq(uco_call_at(base - 2000, cb_cancel_other, &c, NULL),
			 0);
	ck_assert_int_eq(uco_call_at(base - 1000, cb_must_not_run, NULL,
				     &c.victim),
			 0);
	ck_assert_int_eq(uco_call_soon(cb_must_not_run, NULL, &c.soon_victim),
			 0);
	/* The soon one runs before the batch: cancel it here instead. */
	ck_assert_int_eq(uco_callback_cancel(c.soon_victim), 1);
	ck_assert_int_eq(uco_call_at(base, cb_log, &last, NULL), 0);
	log_wait(&g);
	ck_assert_str_eq(g.ev, "CZ");
	ck_assert_int_eq(c.r, 1);
	ck_assert_int_eq(c.r_soon, 0); /* already cancelled */
	uco_callback_release(c.victim);
	uco_callback_release(c.soon_victim);
}

START_TEST(cancel_same_batch)
{
	lc_run(body_cancel_same_batch, NULL, NULL);
}
END_TEST

/* A fire-and-forget callback releases nothing; one whose handle is
 * released while it is pending still runs. */
static void body_release_pending(void *arg)
{
	struct log g;
	struct entry e = { 0 };
	uco_callback *h;

	(void)arg;
	log_init(&g, 1);
	e = (struct entry){ &g, 'r' };
	ck_assert_int_eq(uco_call_later(1 * MS, cb_log, &e, &h), 0);
	uco_callback_release(h);
	log_wait(&g);
	ck_assert_str_eq(g.ev, "r");
}

START_TEST(release_pending)
{
	lc_run(body_release_pending, NULL, NULL);
}
END_TEST

/* ---- cores and misuse ---------------------------------------------------- */

struct xcore {
	uco_callback *h;
	int cancel_r;
	unsigned ran_on;
	uco_future *f; /* owned by core 1's task */
};

static void cb_note_core(void *arg)
{
	struct xcore *x = arg;

	x->ran_on = uco_core_id();
	ck_assert_int_eq(uco_future_set_result(x->f, NULL), 0);
}

static void *other_core_task(void *arg)
{
	struct xcore *x = arg;

	/* A handle of core 0's: refused here, nothing changes. */
	x->cancel_r = uco_callback_cancel(x->h);
	/* A callback armed here runs here. */
	ck_assert_int_eq(uco_future_create(&x->f), 0);
	ck_assert_int_eq(uco_call_later(1 * MS, cb_note_core, x, NULL), 0);
	ck_assert_int_eq(uco_future_wait(x->f, NULL), 0);
	uco_future_free(x->f);
	return NULL;
}

static void body_other_core(void *arg)
{
	struct xcore x = { 0 };
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_call_later(10 * SEC, cb_must_not_run, NULL, &x.h),
			 0);
	ck_assert_int_eq(uco_spawn_on(1, &t, other_core_task, &x, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(x.cancel_r, -EXDEV);
	ck_assert_uint_eq(x.ran_on, 1);
	ck_assert(uco_callback_pending(x.h));
	ck_assert_int_eq(uco_callback_cancel(x.h), 1);
	uco_callback_release(x.h);
}

START_TEST(other_core)
{
	lc_run_cores(body_other_core, NULL, 2);
}
END_TEST

static void *release_elsewhere_task(void *arg)
{
	uco_callback_release(arg); /* aborts: armed on core 0 */
	return NULL;
}

static void body_release_elsewhere(void *arg)
{
	uco_callback *h;
	uco_task *t;
	int r;

	(void)arg;
	ck_assert_int_eq(uco_call_later(10 * SEC, cb_must_not_run, NULL, &h),
			 0);
	ck_assert_int_eq(uco_spawn_on(1, &t, release_elsewhere_task, h, NULL),
			 0);
	r = uco_join(t, NULL);
	ck_abort_msg("released on another core without aborting (join: %d)",
		     r);
}

START_TEST(release_elsewhere)
{
	th_run_cores(body_release_elsewhere, NULL, 2);
}
END_TEST

START_TEST(outside_runtime)
{
	uco_callback *h = (uco_callback *)&h;

	ck_assert_int_eq(uco_call_soon(cb_must_not_run, NULL, &h), -EPERM);
	ck_assert_ptr_null(h);
	h = (uco_callback *)&h;
	ck_assert_int_eq(uco_call_later(1, cb_must_not_run, NULL, &h), -EPERM);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(uco_call_at(1, cb_must_not_run, NULL, NULL), -EPERM);
}
END_TEST

static void body_bad_args(void *arg)
{
	uco_callback *h = (uco_callback *)&h;

	(void)arg;
	ck_assert_int_eq(uco_call_soon(NULL, NULL, &h), -EINVAL);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(uco_call_later(1, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(uco_call_at(1, NULL, NULL, NULL), -EINVAL);
	/* Never: until cancelled. */
	ck_assert_int_eq(uco_call_later(UINT64_MAX, cb_must_not_run, NULL, &h),
			 0);
	ck_assert(uco_callback_pending(h));
	ck_assert_int_eq(uco_callback_cancel(h), 1);
	uco_callback_release(h);
}

START_TEST(bad_args)
{
	lc_run(body_bad_args, NULL, NULL);
}
END_TEST

/* ---- shutdown ------------------------------------------------------------ */

/* Pending callbacks do not keep the runtime alive, and are dropped unrun
 * when it ends: main arms far-off ones (fire-and-forget and with a
 * handle), a soon one that re-arms itself for ever, and returns.  uco_run
 * returns, nothing is leaked, and the handle, released after uco_run,
 * says it never ran. */
static void cb_soon_forever(void *arg)
{
	int *runs = arg;

	(*runs)++;
	ck_assert_int_eq(uco_call_soon(cb_soon_forever, arg, NULL), 0);
}

struct drop {
	uco_callback *h;
	int soon_runs;
};

static void *drop_main(void *arg)
{
	struct drop *d = arg;

	ck_assert_int_eq(uco_call_later(3600 * SEC, cb_must_not_run, NULL,
					NULL),
			 0);
	ck_assert_int_eq(uco_call_at(UINT64_MAX, cb_must_not_run, NULL,
				     &d->h),
			 0);
	ck_assert_int_eq(uco_call_soon(cb_soon_forever, &d->soon_runs, NULL),
			 0);
	return NULL;
}

START_TEST(dropped_at_shutdown)
{
	struct lc_mark m;
	struct drop d = { 0 };

	lc_begin(&m, NULL);
	ck_assert_int_eq(uco_run(drop_main, &d, NULL, NULL), 0);
	/* The soon callback queued by main ran (as in asyncio, where the
	 * loop finishes the iteration it stops in), and its re-arms did not
	 * keep the runtime going: it ran once, or a few times more while
	 * the loop waited for its last kernel operations to be cancelled. */
	ck_assert_int_ge(d.soon_runs, 1);
	ck_assert(!uco_callback_pending(d.h));
	uco_callback_release(d.h);
	lc_end(&m);
}
END_TEST

static Suite *callback_suite(void)
{
	Suite *s = suite_create("callback");
	TCase *tc;

	tc = tcase_create("order");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, soon_fifo);
	tcase_add_test(tc, later_order);
	tcase_add_test(tc, batch_with_sleeps);
	tcase_add_test(tc, many_random);
	suite_add_tcase(s, tc);

	tc = tcase_create("uses");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sets_future);
	tcase_add_test(tc, spawns_task);
	tcase_add_test(tc, rearms_itself);
	tcase_add_test(tc, from_cancelled_task);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cancel_pending);
	tcase_add_test(tc, cancel_same_batch);
	tcase_add_test(tc, release_pending);
	suite_add_tcase(s, tc);

	tc = tcase_create("misuse");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, other_core);
	tcase_add_test_raise_signal(tc, release_elsewhere, SIGABRT);
	tcase_add_test(tc, outside_runtime);
	tcase_add_test(tc, bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("shutdown");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dropped_at_shutdown);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(callback_suite());
}
