/*
 * Suite "generator": async generators (include/uco/generator.h) — values
 * on demand and in order, the end and the producer's failure, closing
 * early (before the start, in a yield, elsewhere), and cancellation both
 * ways, nothing lost.
 */
#include <errno.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC
#define FOREVER (3600ull * UCO_NSEC_PER_SEC)

/* What a producer did, for the checks. */
struct prod {
	long n;             /* values to yield: 0, 1, ... n-1 */
	int fail;           /* returned after the values (0 = the end) */
	bool started;
	long yielded;       /* yields that returned 0 */
	int yield_r;        /* the first yield that did not return 0 */
	bool cleaned_up;    /* its clean-up (which suspends) ran */
	int fail_on_close;  /* returned instead if a yield says -EPIPE */
	uco_future *gate;   /* if set: waited for before each value from */
	long gate_from;     /* number gate_from on */
	int gate_r;
};

static int producer(uco_gen *g, void *arg)
{
	struct prod *p = arg;

	p->started = true;
	p->yield_r = 0;
	for (long i = 0; i < p->n; i++) {
		int r;

		if (p->gate && i >= p->gate_from) {
			r = p->gate_r = uco_future_wait(p->gate, NULL);
			if (r < 0)
				return r;
		}
		r = uco_gen_yield(g, (void *)(i + 100));
		if (r < 0) {
			p->yield_r = r;
			/* Clean up, suspending, as a producer may. */
			uco_shield_begin();
			UCO_IGNORE(uco_sleep(MS));
			uco_shield_end();
			p->cleaned_up = true;
			if (r == -EPIPE && p->fail_on_close)
				return p->fail_on_close;
			return r;
		}
		p->yielded++;
	}
	return p->fail;
}

/* ---- iterating ---------------------------------------------------- */

static void body_iterate(void *arg)
{
	struct prod p = { .n = 10 };
	uco_gen *g;
	void *v;

	(void)arg;
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	ck_assert_ptr_nonnull(uco_gen_task(g));
	/* On demand: the body has not started. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(!p.started);
	for (long i = 0; i < 10; i++) {
		ck_assert_int_eq(uco_gen_next(g, &v), 1);
		ck_assert_ptr_eq(v, (void *)(i + 100));
		/* The producer waits in its yield for the next request. */
		ck_assert_int_eq(uco_yield(), 0);
		ck_assert_int_eq(p.yielded, i);
	}
	ck_assert(!uco_gen_done(g));
	ck_assert_int_eq(uco_gen_next(g, &v), 0);
	ck_assert(uco_gen_done(g));
	ck_assert_int_eq(uco_gen_next(g, NULL), 0);
	ck_assert_int_eq(uco_gen_close(g), 0);
	ck_assert_int_eq(p.yield_r, 0);
	ck_assert_int_eq(uco_gen_close(NULL), 0);
}

START_TEST(iterate)
{
	lc_run(body_iterate, NULL, NULL);
}
END_TEST

static void body_fail(void *arg)
{
	struct prod p = { .n = 3, .fail = -EIO };
	uco_gen *g;
	void *v;

	(void)arg;
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	for (long i = 0; i < 3; i++)
		ck_assert_int_eq(uco_gen_next(g, &v), 1);
	ck_assert_int_eq(uco_gen_next(g, &v), -EIO);
	ck_assert_int_eq(uco_gen_next(g, &v), -EIO);
	/* Already reported: closing is quiet. */
	ck_assert_int_eq(uco_gen_close(g), 0);

	/* A positive return is the end. */
	p = (struct prod){ .n = 1, .fail = 7 };
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	ck_assert_int_eq(uco_gen_next(g, &v), 1);
	ck_assert_int_eq(uco_gen_next(g, &v), 0);
	ck_assert_int_eq(uco_gen_close(g), 0);
}

START_TEST(producer_fails)
{
	lc_run(body_fail, NULL, NULL);
}
END_TEST

static void body_many(void *arg)
{
	struct prod p = { .n = 200000 };
	uco_gen *g;
	void *v;
	long i = 0;
	int r;

	(void)arg;
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	while ((r = uco_gen_next(g, &v)) == 1) {
		LC_CHECK(v == (void *)(i + 100), "value %ld", i);
		i++;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(i, p.n);
	ck_assert_int_eq(uco_gen_close(g), 0);
}

START_TEST(many)
{
	lc_run(body_many, NULL, NULL);
}
END_TEST

/* ---- closing early ------------------------------------------------ */

static void body_close_in_yield(void *arg)
{
	struct prod p = { .n = 100 };
	uco_gen *g;
	void *v;

	(void)arg;
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	ck_assert_int_eq(uco_gen_next(g, &v), 1);
	ck_assert_int_eq(uco_gen_next(g, &v), 1);
	/* Its pending yield returns -EPIPE; close waits for its clean-up. */
	ck_assert_int_eq(uco_gen_close(g), 0);
	ck_assert_int_eq(p.yield_r, -EPIPE);
	ck_assert(p.cleaned_up);
	ck_assert_int_eq(p.yielded, 1);

	/* A producer that fails while closing: close reports it. */
	p = (struct prod){ .n = 100, .fail_on_close = -EIO };
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	ck_assert_int_eq(uco_gen_next(g, &v), 1);
	ck_assert_int_eq(uco_gen_close(g), -EIO);
}

START_TEST(close_in_yield)
{
	lc_run(body_close_in_yield, NULL, NULL);
}
END_TEST

static void body_close_unstarted(void *arg)
{
	struct prod p = { .n = 5 };
	uco_gen *g;

	(void)arg;
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	ck_assert_int_eq(uco_gen_close(g), 0);
	ck_assert(!p.started);

	/* Even before the producer task first ran. */
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_gen_close(g), 0);
	ck_assert(!p.started);
}

START_TEST(close_unstarted)
{
	lc_run(body_close_unstarted, NULL, NULL);
}
END_TEST

/* Closed while the producer waits on something else: it is cancelled. */
static void body_close_elsewhere(void *arg)
{
	struct prod p = { .n = 5 };
	uco_gen *g;
	void *v;
	int s;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&p.gate), 0);
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	s = uco_timeout_begin(2 * MS);
	ck_assert_int_eq(uco_gen_next(g, &v), -ETIMEDOUT);
	uco_timeout_end(s);
	ck_assert(p.started);
	ck_assert_int_eq(uco_gen_close(g), 0);
	ck_assert_int_eq(p.gate_r, -ECANCELED);
	uco_future_free(p.gate);
}

START_TEST(close_elsewhere)
{
	lc_run(body_close_elsewhere, NULL, NULL);
}
END_TEST

/* A consumer that was cancelled (or is under an expired scope) still
 * closes: the wait for the producer is shielded. */
struct consumer {
	uco_gen *g;
	long take;   /* values to take before the cancel point */
	int next_r;  /* what the next after them returned */
	int close_r;
	bool waiting;
};

static void *consumer_task(void *arg)
{
	struct consumer *c = arg;
	void *v;

	for (long i = 0; i < c->take; i++)
		ck_assert_int_eq(uco_gen_next(c->g, &v), 1);
	c->waiting = true;
	c->next_r = uco_gen_next(c->g, &v);
	c->waiting = false;
	c->close_r = uco_gen_close(c->g);
	return NULL;
}

static void body_cancelled_consumer_closes(void *arg)
{
	struct prod p = { .n = 10, .gate_from = 2 };
	struct consumer c = { .take = 2 };
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&p.gate), 0);
	ck_assert_int_eq(uco_gen_start(&c.g, producer, &p), 0);
	ck_assert_int_eq(uco_spawn(&t, consumer_task, &c, NULL), 0);
	/* It takes two values, then waits for the third (the producer waits
	 * on the gate). */
	while (!c.waiting)
		ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(p.yielded, 2);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(c.next_r, -ECANCELED);
	/* Its close, in a cancelled task, cancelled the producer (waiting on
	 * the gate) and waited for it. */
	ck_assert_int_eq(c.close_r, 0);
	ck_assert_int_eq(p.gate_r, -ECANCELED);
	uco_future_free(p.gate);
}

START_TEST(cancelled_consumer_closes)
{
	lc_run(body_cancelled_consumer_closes, NULL, NULL);
}
END_TEST

/* ---- cancellation both ways ---------------------------------------- */

/* The consumer, cancelled while waiting for a value, loses nothing: the
 * value comes with the next call. */
struct next_once {
	uco_gen *g;
	int r;
	void *v;
	bool waiting;
};

static void *next_once_task(void *arg)
{
	struct next_once *n = arg;

	n->waiting = true;
	n->r = uco_gen_next(n->g, &n->v);
	n->waiting = false;
	return NULL;
}

static void body_consumer_cancelled(void *arg)
{
	struct prod p = { .n = 3 };
	struct next_once a = { 0 }, b = { 0 };
	uco_task *ta, *tb;
	uco_gen *g;
	void *v;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&p.gate), 0);
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	a.g = b.g = g;
	ck_assert_int_eq(uco_spawn(&ta, next_once_task, &a, NULL), 0);
	ck_assert_int_eq(uco_spawn(&tb, next_once_task, &b, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(a.waiting);
	ck_assert_int_eq(b.r, -EBUSY); /* one consumer at a time */
	ck_assert_int_eq(uco_join(tb, NULL), 0);
	uco_task_release(tb);

	ck_assert_int_eq(uco_cancel(ta), 0);
	ck_assert_int_eq(uco_join(ta, NULL), 0);
	uco_task_release(ta);
	ck_assert_int_eq(a.r, -ECANCELED);
	/* The producer goes on with the request and yields value 100... */
	ck_assert_int_eq(uco_future_set_result(p.gate, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_yield(), 0);
	/* ...which the next call gets, without waiting. */
	ck_assert_int_eq(uco_gen_next(g, &v), 1);
	ck_assert_ptr_eq(v, (void *)100);
	ck_assert_int_eq(uco_gen_next(g, &v), 1);
	ck_assert_ptr_eq(v, (void *)101);

	/* A timeout the same way. */
	{
		int s = uco_timeout_begin(0);

		ck_assert_int_eq(uco_gen_next(g, &v), -ETIMEDOUT);
		uco_timeout_end(s);
	}
	ck_assert_int_eq(uco_gen_next(g, &v), 1);
	ck_assert_ptr_eq(v, (void *)102);
	ck_assert_int_eq(uco_gen_next(g, &v), 0);
	ck_assert_int_eq(uco_gen_close(g), 0);
	uco_future_free(p.gate);
}

START_TEST(consumer_cancelled)
{
	lc_run(body_consumer_cancelled, NULL, NULL);
}
END_TEST

/* The producer task cancelled: in its yield, and elsewhere. */
static void body_producer_cancelled(void *arg)
{
	struct prod p = { .n = 10 };
	uco_gen *g;
	void *v;

	(void)arg;
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	ck_assert_int_eq(uco_gen_next(g, &v), 1);
	/* Parked in its yield. */
	ck_assert_int_eq(uco_cancel(uco_gen_task(g)), 0);
	ck_assert_int_eq(uco_gen_next(g, &v), -ECANCELED);
	ck_assert_int_eq(p.yield_r, -ECANCELED);
	ck_assert(uco_gen_done(g));
	ck_assert_int_eq(uco_gen_next(g, &v), -ECANCELED);
	ck_assert_int_eq(uco_gen_close(g), 0);

	/* Waiting on something else while the consumer waits for it. */
	p = (struct prod){ .n = 10 };
	ck_assert_int_eq(uco_future_create(&p.gate), 0);
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	{
		struct next_once a = { .g = g };
		uco_task *ta;

		ck_assert_int_eq(uco_spawn(&ta, next_once_task, &a, NULL), 0);
		ck_assert_int_eq(uco_yield(), 0);
		ck_assert(a.waiting);
		ck_assert_int_eq(uco_cancel(uco_gen_task(g)), 0);
		ck_assert_int_eq(uco_join(ta, NULL), 0);
		uco_task_release(ta);
		ck_assert_int_eq(a.r, -ECANCELED);
		ck_assert_int_eq(p.gate_r, -ECANCELED);
	}
	ck_assert_int_eq(uco_gen_close(g), 0);
	uco_future_free(p.gate);

	/* Cancelled before its body started: the body never runs. */
	p = (struct prod){ .n = 10 };
	ck_assert_int_eq(uco_gen_start(&g, producer, &p), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(uco_gen_task(g)), 0);
	ck_assert_int_eq(uco_gen_next(g, &v), -ECANCELED);
	ck_assert(!p.started);
	ck_assert_int_eq(uco_gen_close(g), 0);
}

START_TEST(producer_cancelled)
{
	lc_run(body_producer_cancelled, NULL, NULL);
}
END_TEST

/* ---- misuse -------------------------------------------------------- */

static int bad_producer(uco_gen *g, void *arg)
{
	void *v;
	int *r = arg;

	r[0] = uco_gen_next(g, &v);    /* its own generator */
	r[1] = uco_gen_close(g);
	return uco_gen_yield(g, NULL);
}

static void *yield_other(void *arg)
{
	return (void *)(intptr_t)uco_gen_yield(arg, NULL);
}

static void *next_other_core(void *arg)
{
	void *v;
	intptr_t a = uco_gen_next(arg, &v), b = uco_gen_close(arg);

	return (void *)(a * 1000 + b);
}

static void body_misuse(void *arg)
{
	int r[2];
	uco_gen *g;
	uco_task *t;
	void *res, *v;

	(void)arg;
	ck_assert_int_eq(uco_gen_start(&g, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(g);
	ck_assert_int_eq(uco_gen_start(&g, bad_producer, r), 0);
	ck_assert_int_eq(uco_gen_yield(g, NULL), -EINVAL); /* not the producer */
	ck_assert_int_eq(uco_spawn(&t, yield_other, g, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_int_eq((intptr_t)res, -EINVAL);
	uco_task_release(t);
	ck_assert_int_eq(uco_spawn_on(1, &t, next_other_core, g, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_int_eq((intptr_t)res, -EXDEV * 1000 - EXDEV);
	uco_task_release(t);
	ck_assert_int_eq(uco_gen_next(g, &v), 1);
	ck_assert_int_eq(r[0], -EDEADLK);
	ck_assert_int_eq(r[1], -EDEADLK);
	ck_assert_int_eq(uco_gen_close(g), 0);
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
	uco_gen *g = (uco_gen *)&g;

	ck_assert_int_eq(uco_gen_start(&g, producer, NULL), -EPERM);
	ck_assert_ptr_null(g);
}
END_TEST

static Suite *generator_suite(void)
{
	Suite *s = suite_create("generator");
	TCase *tc;

	tc = tcase_create("iterate");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, iterate);
	tcase_add_test(tc, producer_fails);
	tcase_add_test(tc, many);
	suite_add_tcase(s, tc);

	tc = tcase_create("close");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, close_in_yield);
	tcase_add_test(tc, close_unstarted);
	tcase_add_test(tc, close_elsewhere);
	tcase_add_test(tc, cancelled_consumer_closes);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, consumer_cancelled);
	tcase_add_test(tc, producer_cancelled);
	suite_add_tcase(s, tc);

	tc = tcase_create("misuse");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, misuse);
	tcase_add_test(tc, outside_runtime);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(generator_suite());
}
