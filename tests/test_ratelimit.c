/*
 * Suite "ratelimit": the token bucket (include/uco/ratelimit.h).
 *
 * The schedule is checked on a fake clock: its sleep_until records the
 * deadline it was asked for, moves the fake time there and yields (so the
 * waiters interleave as they would, and a cancel lands), so the test knows
 * every deadline to the nanosecond and sleeps not at all.  Cancellation
 * and timeouts are checked on the real clock with waits of an hour that
 * are cut short.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC
#define SEC UCO_NSEC_PER_SEC
#define T0 (1000 * SEC)

struct fake {
	uint64_t now;
	uint64_t log[32]; /* the first 32 deadlines asked for */
	int nlog;         /* sleeps */
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static int fake_sleep_until(void *ctx, uint64_t deadline)
{
	struct fake *f = ctx;

	if (f->nlog < 32)
		f->log[f->nlog] = deadline;
	f->nlog++;
	if (deadline > f->now)
		f->now = deadline;
	return uco_yield();
}

static void fake_opts(uco_ratelimit_opts *o, struct fake *f, bool empty)
{
	*f = (struct fake){ .now = T0 };
	*o = (uco_ratelimit_opts){ .start_empty = empty, .now = fake_now,
				   .sleep_until = fake_sleep_until,
				   .clock_ctx = f };
}

/* ---- the schedule --------------------------------------------------- */

static void body_schedule(void *arg)
{
	uco_ratelimit_opts o;
	uco_ratelimit *rl;
	struct fake f;

	(void)arg;
	/* 10 per second, 5 at most: full at the start. */
	fake_opts(&o, &f, false);
	ck_assert_int_eq(uco_ratelimit_create(&rl, 10, SEC, 5, &o), 0);
	ck_assert_uint_eq(uco_ratelimit_tokens(rl), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(uco_ratelimit_acquire(rl, 1), 0);
	ck_assert_int_eq(f.nlog, 0); /* the burst did not wait */
	ck_assert_int_eq(uco_ratelimit_try_acquire(rl, 1), -EAGAIN);
	/* Then one token every 100 ms, exactly. */
	ck_assert_int_eq(uco_ratelimit_acquire(rl, 1), 0);
	ck_assert_int_eq(f.nlog, 1);
	ck_assert_uint_eq(f.log[0], T0 + 100 * MS);
	ck_assert_int_eq(uco_ratelimit_acquire(rl, 3), 0);
	ck_assert_int_eq(f.nlog, 2);
	ck_assert_uint_eq(f.log[1], T0 + 400 * MS);
	ck_assert_uint_eq(uco_ratelimit_tokens(rl), 0);
	/* 50 ms later half a token: not enough. */
	f.now += 50 * MS;
	ck_assert_int_eq(uco_ratelimit_try_acquire(rl, 1), -EAGAIN);
	ck_assert_int_eq(uco_ratelimit_acquire(rl, 1), 0);
	ck_assert_uint_eq(f.log[2], T0 + 500 * MS);
	/* A long pause fills the bucket to its burst, not beyond. */
	f.now += 3600 * SEC;
	ck_assert_uint_eq(uco_ratelimit_tokens(rl), 5);
	ck_assert_int_eq(uco_ratelimit_try_acquire(rl, 5), 0);
	ck_assert_int_eq(uco_ratelimit_try_acquire(rl, 1), -EAGAIN);
	ck_assert_int_eq(f.nlog, 3);
	uco_ratelimit_free(rl);
	uco_ratelimit_free(NULL);
}

START_TEST(schedule)
{
	lc_run(body_schedule, NULL, NULL);
}
END_TEST

/* A rate that does not divide the period: 3 tokens per 1000 ns.  The
 * waits are rounded up to the nanosecond, and the remainder is kept, so
 * three tokens take exactly 1000 ns. */
static void body_fractional(void *arg)
{
	uco_ratelimit_opts o;
	uco_ratelimit *rl;
	struct fake f;

	(void)arg;
	fake_opts(&o, &f, true);
	ck_assert_int_eq(uco_ratelimit_create(&rl, 3, 1000, 2, &o), 0);
	ck_assert_uint_eq(uco_ratelimit_tokens(rl), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uco_ratelimit_acquire(rl, 1), 0);
	ck_assert_int_eq(f.nlog, 3);
	ck_assert_uint_eq(f.log[0], T0 + 334);
	ck_assert_uint_eq(f.log[1], T0 + 667);
	ck_assert_uint_eq(f.log[2], T0 + 1000);
	/* 1000 tokens later, still exact: 1000 / 3 us, rounded up. */
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(uco_ratelimit_acquire(rl, 1), 0);
	ck_assert_int_eq(f.nlog, 1003);
	ck_assert_uint_eq(f.now, T0 + 1000 + 1000 * 1000 / 3 + 1);
	/* Taking the whole burst each time waits for a full bucket, and
	 * what would overflow it is lost: 667 ns per 2 tokens, not 666.7
	 * (the first of these starts with 2 units left over: 666 ns). */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uco_ratelimit_acquire(rl, 2), 0);
	ck_assert_uint_eq(f.now,
			  T0 + 1000 + 1000 * 1000 / 3 + 1 + 666 + 2 * 667);
	uco_ratelimit_free(rl);
}

START_TEST(fractional_rate)
{
	lc_run(body_fractional, NULL, NULL);
}
END_TEST

/* Waiters are served in order, each at its own computed time. */
struct acq {
	uco_ratelimit *rl;
	uint64_t n;
	int r;
	int *seq;
	int order;
	struct fake *f;
	uint64_t at; /* fake time when it got its tokens */
};

static void *acq_task(void *arg)
{
	struct acq *a = arg;

	a->r = uco_ratelimit_acquire(a->rl, a->n);
	a->order = (*a->seq)++;
	if (a->f)
		a->at = a->f->now;
	return NULL;
}

static void body_fifo(void *arg)
{
	static const uint64_t n[3] = { 2, 1, 3 };
	uco_ratelimit_opts o;
	uco_ratelimit *rl;
	struct acq a[3];
	uco_task *t[3];
	struct fake f;
	int seq = 0;

	(void)arg;
	fake_opts(&o, &f, true);
	ck_assert_int_eq(uco_ratelimit_create(&rl, 10, SEC, 5, &o), 0);
	for (int i = 0; i < 3; i++) {
		a[i] = (struct acq){ .rl = rl, .n = n[i], .seq = &seq, .f = &f };
		ck_assert_int_eq(uco_spawn(&t[i], acq_task, &a[i], NULL), 0);
	}
	ck_assert_int_eq(uco_yield(), 0);
	/* The first sleeps until +200 ms, the others wait in line.  Tokens
	 * are there now, but people wait: no jumping the line. */
	ck_assert_uint_eq(f.now, T0 + 200 * MS);
	ck_assert_uint_eq(uco_ratelimit_tokens(rl), 2);
	ck_assert_int_eq(uco_ratelimit_try_acquire(rl, 1), -EAGAIN);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
		ck_assert_int_eq(a[i].r, 0);
		ck_assert_int_eq(a[i].order, i);
	}
	/* Only the first in line sleeps, once each. */
	ck_assert_int_eq(f.nlog, 3);
	ck_assert_uint_eq(f.log[0], T0 + 200 * MS);
	ck_assert_uint_eq(f.log[1], T0 + 300 * MS);
	ck_assert_uint_eq(f.log[2], T0 + 600 * MS);
	ck_assert_uint_eq(a[2].at, T0 + 600 * MS);
	uco_ratelimit_free(rl);
}

START_TEST(fifo)
{
	lc_run(body_fifo, NULL, NULL);
}
END_TEST

/* A waiter cancelled in line gives its place back: the one behind it is
 * served when it would have been. */
static void body_give_back(void *arg)
{
	uco_ratelimit_opts o;
	uco_ratelimit *rl;
	struct acq a[3];
	uco_task *t[3];
	struct fake f;
	int seq = 0;

	(void)arg;
	fake_opts(&o, &f, true);
	ck_assert_int_eq(uco_ratelimit_create(&rl, 10, SEC, 5, &o), 0);
	for (int i = 0; i < 3; i++) {
		a[i] = (struct acq){ .rl = rl, .n = 1, .seq = &seq, .f = &f };
		ck_assert_int_eq(uco_spawn(&t[i], acq_task, &a[i], NULL), 0);
	}
	/* a[0] sleeps (first), a[1] and a[2] wait in line. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t[1]), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(a[0].r, 0);
	ck_assert_int_eq(a[1].r, -ECANCELED);
	ck_assert_int_eq(a[2].r, 0);
	ck_assert_int_eq(f.nlog, 2);
	ck_assert_uint_eq(f.log[0], T0 + 100 * MS);
	ck_assert_uint_eq(f.log[1], T0 + 200 * MS); /* not 300 */

	/* The first one cancelled in its sleep: the next computes afresh. */
	f.nlog = 0;
	seq = 0;
	for (int i = 0; i < 2; i++) {
		a[i] = (struct acq){ .rl = rl, .n = 1, .seq = &seq, .f = &f };
		ck_assert_int_eq(uco_spawn(&t[i], acq_task, &a[i], NULL), 0);
	}
	ck_assert_int_eq(uco_yield(), 0); /* a[0] in its sleep: cancel it */
	ck_assert_int_eq(uco_cancel(t[0]), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(a[0].r, -ECANCELED);
	ck_assert_int_eq(a[1].r, 0);
	/* a[0]'s sleep moved the fake clock to +300 ms and took nothing:
	 * that token is a[1]'s at once, with no second sleep. */
	ck_assert_int_eq(f.nlog, 1);
	ck_assert_uint_eq(f.log[0], T0 + 300 * MS);
	ck_assert_uint_eq(a[1].at, T0 + 300 * MS);
	uco_ratelimit_free(rl);
}

START_TEST(give_back_place)
{
	lc_run(body_give_back, NULL, NULL);
}
END_TEST

/* ---- the real clock: cancellation and timeouts ----------------------- */

static void *acq_scoped(void *arg)
{
	struct acq *a = arg;
	int s = uco_timeout_begin(2 * MS);

	a->r = uco_ratelimit_acquire(a->rl, a->n);
	uco_timeout_end(s);
	return NULL;
}

static void body_real_clock(void *arg)
{
	uco_ratelimit *rl;
	struct acq a[3];
	uco_task *t[3];
	int seq = 0;

	(void)arg;
	/* One token per hour. */
	ck_assert_int_eq(uco_ratelimit_create(&rl, 1, 3600 * SEC, 1, NULL), 0);
	ck_assert_int_eq(uco_ratelimit_acquire(rl, 1), 0);
	for (int i = 0; i < 3; i++)
		a[i] = (struct acq){ .rl = rl, .n = 1, .seq = &seq };
	ck_assert_int_eq(uco_spawn(&t[0], acq_task, &a[0], NULL), 0);
	ck_assert_int_eq(uco_spawn(&t[1], acq_task, &a[1], NULL), 0);
	ck_assert_int_eq(uco_spawn(&t[2], acq_scoped, &a[2], NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	/* a[2] times out in line. */
	ck_assert_int_eq(uco_join(t[2], NULL), 0);
	ck_assert_int_eq(a[2].r, -ETIMEDOUT);
	/* a[0] sleeps in the kernel; cancelled, a[1] takes its place. */
	ck_assert_int_eq(uco_cancel(t[0]), 0);
	ck_assert_int_eq(uco_join(t[0], NULL), 0);
	ck_assert_int_eq(a[0].r, -ECANCELED);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(t[1]), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(t[1]), 0);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	ck_assert_int_eq(a[1].r, -ECANCELED);
	for (int i = 0; i < 3; i++)
		uco_task_release(t[i]);
	ck_assert_int_eq(uco_ratelimit_try_acquire(rl, 1), -EAGAIN);
	/* A cancelled caller with nothing to wait for still gets its
	 * tokens; with something to wait for, -ECANCELED at once. */
	uco_ratelimit_free(rl);
	ck_assert_int_eq(uco_ratelimit_create(&rl, 1, 3600 * SEC, 2, NULL), 0);
	a[0] = (struct acq){ .rl = rl, .n = 2, .seq = &seq };
	a[1] = (struct acq){ .rl = rl, .n = 1, .seq = &seq };
	ck_assert_int_eq(uco_spawn(&t[0], acq_task, &a[0], NULL), 0);
	ck_assert_int_eq(uco_spawn(&t[1], acq_task, &a[1], NULL), 0);
	ck_assert_int_eq(uco_cancel(t[0]), 0);
	ck_assert_int_eq(uco_cancel(t[1]), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(a[0].r, 0);
	ck_assert_int_eq(a[1].r, -ECANCELED);
	uco_ratelimit_free(rl);
}

START_TEST(real_clock_cancel)
{
	lc_run(body_real_clock, NULL, NULL);
}
END_TEST

/* ---- misuse ---------------------------------------------------------- */

static void *acquire_here(void *arg)
{
	return (void *)(intptr_t)(uco_ratelimit_acquire(arg, 1) * 1000 +
				  uco_ratelimit_try_acquire(arg, 1));
}

static void body_misuse(void *arg)
{
	uco_ratelimit *rl = (uco_ratelimit *)&rl;
	uco_task *t;
	void *res;

	(void)arg;
	ck_assert_int_eq(uco_ratelimit_create(&rl, 0, SEC, 1, NULL), -EINVAL);
	ck_assert_ptr_null(rl);
	ck_assert_int_eq(uco_ratelimit_create(&rl, 1, 0, 1, NULL), -EINVAL);
	ck_assert_int_eq(uco_ratelimit_create(&rl, 1, SEC, 0, NULL), -EINVAL);
	ck_assert_int_eq(uco_ratelimit_create(&rl, 1, UINT64_MAX / 2, 3, NULL),
			 -EINVAL);
	ck_assert_int_eq(uco_ratelimit_create(&rl, 5, SEC, 5, NULL), 0);
	ck_assert_int_eq(uco_ratelimit_acquire(rl, 6), -EINVAL);
	ck_assert_int_eq(uco_ratelimit_try_acquire(rl, 6), -EINVAL);
	ck_assert_int_eq(uco_ratelimit_acquire(rl, 0), 0);
	ck_assert_int_eq(uco_spawn_on(1, &t, acquire_here, rl, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_int_eq((intptr_t)res, -EXDEV * 1000 - EXDEV);
	uco_task_release(t);
	uco_ratelimit_free(rl);
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
	uco_ratelimit *rl = (uco_ratelimit *)&rl;

	ck_assert_int_eq(uco_ratelimit_create(&rl, 1, SEC, 1, NULL), -EPERM);
	ck_assert_ptr_null(rl);
}
END_TEST

static void body_free_with_waiter(void *arg)
{
	uco_ratelimit *rl;
	struct acq a;
	int seq = 0;

	(void)arg;
	ck_assert_int_eq(uco_ratelimit_create(&rl, 1, 3600 * SEC, 1, NULL), 0);
	ck_assert_int_eq(uco_ratelimit_acquire(rl, 1), 0);
	a = (struct acq){ .rl = rl, .n = 1, .seq = &seq };
	ck_assert_int_eq(uco_spawn(NULL, acq_task, &a, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	uco_ratelimit_free(rl); /* aborts */
}

START_TEST(free_with_waiter)
{
	th_run(body_free_with_waiter, NULL, NULL);
}
END_TEST

static Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc;

	tc = tcase_create("schedule");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, schedule);
	tcase_add_test(tc, fractional_rate);
	tcase_add_test(tc, fifo);
	tcase_add_test(tc, give_back_place);
	suite_add_tcase(s, tc);

	tc = tcase_create("waiting");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, real_clock_cancel);
	suite_add_tcase(s, tc);

	tc = tcase_create("misuse");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, misuse);
	tcase_add_test(tc, outside_runtime);
	tcase_add_test_raise_signal(tc, free_with_waiter, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(ratelimit_suite());
}
