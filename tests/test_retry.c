/*
 * Suite "retry": exponential backoff with full jitter (include/uco/retry.h).
 *
 * The schedule is checked on a fake clock whose sleep_until records the
 * deadline, moves the fake time there and yields: every delay is known
 * exactly and nothing sleeps.  Cancellation and timeouts mid-backoff are
 * checked on the real clock with hour-long delays that are cut short.
 */
#include <errno.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC
#define SEC UCO_NSEC_PER_SEC
#define T0 (1000 * SEC)

struct fake {
	uint64_t now;
	int sleeps;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static int fake_sleep_until(void *ctx, uint64_t deadline)
{
	struct fake *f = ctx;

	f->sleeps++;
	if (deadline > f->now)
		f->now = deadline;
	return uco_yield();
}

/* An operation that returns results[i] on its i-th call (the last one
 * again after them) and records when it was called. */
struct script {
	int results[8];
	int nresults;
	int calls;
	uint64_t at[64];
	struct fake *f;
};

static int scripted(void *arg)
{
	struct script *s = arg;
	int i = s->calls < s->nresults ? s->calls : s->nresults - 1;

	if (s->calls < 64)
		s->at[s->calls] = s->f ? s->f->now : 0;
	s->calls++;
	return s->results[i];
}

static void fake_policy(uco_retry_policy *p, struct fake *f)
{
	uco_retry_policy_init(p);
	*f = (struct fake){ .now = T0 };
	p->now = fake_now;
	p->sleep_until = fake_sleep_until;
	p->clock_ctx = f;
}

/* ---- the schedule -------------------------------------------------- */

static void body_defaults(void *arg)
{
	uco_retry_policy p;
	struct script s = { .results = { 42 }, .nresults = 1 };

	(void)arg;
	uco_retry_policy_init(&p);
	ck_assert_uint_eq(p.max_attempts, 5);
	ck_assert_uint_eq(p.base_ns, 100 * MS);
	ck_assert_uint_eq(p.max_delay_ns, 10 * SEC);
	ck_assert_uint_eq(p.multiplier_pct, 200);
	ck_assert_uint_eq(p.deadline_ns, 0);
	/* Success at once: no delay, on the real clock. */
	ck_assert_int_eq(uco_retry(scripted, &s, NULL), 42);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(uco_retry(scripted, &s, &p), 42);
}

START_TEST(defaults)
{
	lc_run(body_defaults, NULL, NULL);
}
END_TEST

/* Run op (always -EAGAIN) under p; store the delays before each retry. */
static int delays_of(uco_retry_policy *p, struct fake *f, uint64_t *d,
		     int max)
{
	struct script s = { .results = { -EAGAIN }, .nresults = 1, .f = f };

	f->now = T0;
	f->sleeps = 0;
	ck_assert_int_eq(uco_retry(scripted, &s, p), -EAGAIN);
	ck_assert_int_eq(f->sleeps, s.calls - 1);
	ck_assert_int_le(s.calls - 1, max);
	for (int i = 1; i < s.calls; i++)
		d[i - 1] = s.at[i] - s.at[i - 1];
	return s.calls - 1;
}

static void body_backoff(void *arg)
{
	static const uint64_t caps[5] = { 100 * MS, 200 * MS, 400 * MS,
					  800 * MS, 1000 * MS };
	uint64_t d[8], d2[8], top[5] = { 0 };
	uco_retry_policy p;
	struct fake f;
	int same = 0;

	(void)arg;
	fake_policy(&p, &f);
	p.max_attempts = 6;
	p.base_ns = 100 * MS;
	p.max_delay_ns = SEC;
	p.seed = 42;
	/* Six calls, five delays, each within its cap. */
	ck_assert_int_eq(delays_of(&p, &f, d, 8), 5);
	for (int k = 0; k < 5; k++)
		ck_assert_uint_le(d[k], caps[k]);
	/* The same seed, the same schedule. */
	ck_assert_int_eq(delays_of(&p, &f, d2, 8), 5);
	for (int k = 0; k < 5; k++)
		ck_assert_uint_eq(d[k], d2[k]);
	/* Another seed, another schedule. */
	p.seed = 43;
	ck_assert_int_eq(delays_of(&p, &f, d2, 8), 5);
	for (int k = 0; k < 5; k++)
		same += d[k] == d2[k];
	ck_assert_int_lt(same, 5);
	/* Over many seeds the delays fill their whole range [0, cap]: full
	 * jitter, not a fixed fraction.  (Deterministic: fixed seeds.) */
	for (uint64_t seed = 1; seed <= 300; seed++) {
		p.seed = seed;
		ck_assert_int_eq(delays_of(&p, &f, d, 8), 5);
		for (int k = 0; k < 5; k++) {
			ck_assert_uint_le(d[k], caps[k]);
			if (d[k] > top[k])
				top[k] = d[k];
		}
	}
	for (int k = 0; k < 5; k++)
		ck_assert_uint_gt(top[k], caps[k] / 10 * 9);
}

START_TEST(backoff_schedule)
{
	lc_run(body_backoff, NULL, NULL);
}
END_TEST

/* 150 %: caps 100, 150, 225, 337.5 (337), 506 ms. */
static void body_multiplier(void *arg)
{
	static const uint64_t caps[5] = { 100 * MS, 150 * MS, 225 * MS,
					  337500 * UCO_NSEC_PER_USEC,
					  506250 * UCO_NSEC_PER_USEC };
	uint64_t d[8], top[5] = { 0 };
	uco_retry_policy p;
	struct fake f;

	(void)arg;
	fake_policy(&p, &f);
	p.max_attempts = 6;
	p.multiplier_pct = 150;
	for (uint64_t seed = 1; seed <= 300; seed++) {
		p.seed = seed;
		ck_assert_int_eq(delays_of(&p, &f, d, 8), 5);
		for (int k = 0; k < 5; k++) {
			ck_assert_uint_le(d[k], caps[k]);
			if (d[k] > top[k])
				top[k] = d[k];
		}
	}
	for (int k = 0; k < 5; k++)
		ck_assert_uint_gt(top[k], caps[k] / 10 * 9);

	/* 100 %: a constant cap. */
	p.multiplier_pct = 100;
	p.seed = 7;
	ck_assert_int_eq(delays_of(&p, &f, d, 8), 5);
	for (int k = 0; k < 5; k++)
		ck_assert_uint_le(d[k], 100 * MS);
}

START_TEST(multiplier)
{
	lc_run(body_multiplier, NULL, NULL);
}
END_TEST

/* The total deadline: no attempt starts after it, no sleep ends past it. */
static void body_deadline(void *arg)
{
	struct script s = { .results = { -ETIMEDOUT }, .nresults = 1 };
	uco_retry_policy p;
	struct fake f;

	(void)arg;
	fake_policy(&p, &f);
	s.f = &f;
	p.max_attempts = 0; /* no limit but the deadline */
	p.base_ns = SEC;
	p.max_delay_ns = SEC;
	p.deadline_ns = 10 * SEC;
	p.seed = 5;
	ck_assert_int_eq(uco_retry(scripted, &s, &p), -ETIMEDOUT);
	ck_assert_int_gt(s.calls, 2);
	for (int i = 0; i < s.calls; i++)
		ck_assert_uint_lt(s.at[i], T0 + 10 * SEC);
	/* It stopped because the next delay (at most 1 s) would have ended
	 * past the deadline: so the last call was in its final second. */
	ck_assert_uint_ge(s.at[s.calls - 1], T0 + 9 * SEC);
}

START_TEST(deadline)
{
	lc_run(body_deadline, NULL, NULL);
}
END_TEST

/* ---- what is retried ---------------------------------------------- */

static bool only_eio(int err, void *ctx)
{
	++*(int *)ctx;
	return err == -EIO;
}

static void body_retryable(void *arg)
{
	static const int yes[] = { -EAGAIN, -EINTR, -ETIMEDOUT,
				   -ECONNREFUSED, -ECONNRESET, -EBUSY };
	static const int no[] = { -EIO, -ENOENT, -EINVAL, -EPIPE, -ENOMEM };
	uco_retry_policy p;
	struct fake f;
	int asked = 0;

	(void)arg;
	fake_policy(&p, &f);
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct script s = { .results = { yes[i], 7 }, .nresults = 2 };

		ck_assert(uco_retry_default_retryable(yes[i], NULL));
		ck_assert_int_eq(uco_retry(scripted, &s, &p), 7);
		ck_assert_int_eq(s.calls, 2);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct script s = { .results = { no[i], 7 }, .nresults = 2 };

		ck_assert(!uco_retry_default_retryable(no[i], NULL));
		ck_assert_int_eq(uco_retry(scripted, &s, &p), no[i]);
		ck_assert_int_eq(s.calls, 1);
	}
	/* A mixed run stops at the first error not worth retrying. */
	{
		struct script s = { .results = { -EAGAIN, -ECONNRESET, -EIO, 1 },
				    .nresults = 4 };

		ck_assert_int_eq(uco_retry(scripted, &s, &p), -EIO);
		ck_assert_int_eq(s.calls, 3);
	}
	/* Out of attempts: the last error. */
	{
		struct script s = { .results = { -EAGAIN, -EBUSY }, .nresults = 2 };

		p.max_attempts = 3;
		ck_assert_int_eq(uco_retry(scripted, &s, &p), -EBUSY);
		ck_assert_int_eq(s.calls, 3);
		p.max_attempts = 1;
		s.calls = 0;
		ck_assert_int_eq(uco_retry(scripted, &s, &p), -EAGAIN);
		ck_assert_int_eq(s.calls, 1);
		p.max_attempts = 5;
	}
	/* A predicate of our own. */
	{
		struct script s = { .results = { -EIO, -EIO, -EAGAIN },
				    .nresults = 3 };

		p.retryable = only_eio;
		p.retryable_ctx = &asked;
		ck_assert_int_eq(uco_retry(scripted, &s, &p), -EAGAIN);
		ck_assert_int_eq(s.calls, 3);
		ck_assert_int_eq(asked, 3);
	}
}

START_TEST(retryable)
{
	lc_run(body_retryable, NULL, NULL);
}
END_TEST

static bool always(int err, void *ctx)
{
	(void)err;
	(void)ctx;
	return true;
}

/* -ECANCELED from op stops at once, whatever the predicate says. */
static void body_op_cancelled(void *arg)
{
	struct script s = { .results = { -EAGAIN, -ECANCELED, 0 },
			    .nresults = 3 };
	uco_retry_policy p;
	struct fake f;

	(void)arg;
	fake_policy(&p, &f);
	p.retryable = always;
	ck_assert_int_eq(uco_retry(scripted, &s, &p), -ECANCELED);
	ck_assert_int_eq(s.calls, 2);
	ck_assert_int_eq(f.sleeps, 1);
}

START_TEST(op_cancelled)
{
	lc_run(body_op_cancelled, NULL, NULL);
}
END_TEST

/* ---- cut short mid-backoff (real clock) ----------------------------- */

struct retrier {
	struct script s;
	uint64_t scope; /* if not 0: the whole retry under a scope */
	int r;
};

static void *retrier_task(void *arg)
{
	struct retrier *rt = arg;
	uco_retry_policy p;
	int sc = rt->scope ? uco_timeout_begin(rt->scope) : -1;

	uco_retry_policy_init(&p);
	p.base_ns = 3600 * SEC; /* cut short long before */
	p.max_delay_ns = 3600 * SEC;
	p.seed = 1; /* a delay of 0 would not wait at all */
	rt->r = uco_retry(scripted, &rt->s, &p);
	if (sc >= 0)
		uco_timeout_end(sc);
	return NULL;
}

static void body_cut_short(void *arg)
{
	struct retrier a = { .s = { .results = { -ECONNREFUSED }, .nresults = 1 } };
	struct retrier b = a;
	uco_task *ta, *tb;

	(void)arg;
	b.scope = 2 * MS;
	ck_assert_int_eq(uco_spawn(&ta, retrier_task, &a, NULL), 0);
	ck_assert_int_eq(uco_spawn(&tb, retrier_task, &b, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(a.s.calls, 1); /* and now in its backoff sleep */
	ck_assert_int_eq(uco_task_get_state(ta), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(ta), 0);
	ck_assert_int_eq(uco_join(ta, NULL), 0);
	ck_assert_int_eq(a.r, -ECANCELED);
	ck_assert_int_eq(a.s.calls, 1);
	ck_assert_int_eq(uco_join(tb, NULL), 0);
	ck_assert_int_eq(b.r, -ETIMEDOUT);
	ck_assert_int_eq(b.s.calls, 1);
	uco_task_release(ta);
	uco_task_release(tb);
}

START_TEST(cut_short_mid_backoff)
{
	lc_run(body_cut_short, NULL, NULL);
}
END_TEST

/* ---- misuse -------------------------------------------------------- */

static void body_misuse(void *arg)
{
	struct script s = { .results = { 0 }, .nresults = 1 };
	uco_retry_policy p;

	(void)arg;
	uco_retry_policy_init(&p);
	ck_assert_int_eq(uco_retry(NULL, NULL, &p), -EINVAL);
	p.multiplier_pct = 99;
	ck_assert_int_eq(uco_retry(scripted, &s, &p), -EINVAL);
	p.multiplier_pct = 200;
	p.base_ns = 0;
	ck_assert_int_eq(uco_retry(scripted, &s, &p), -EINVAL);
	ck_assert_int_eq(s.calls, 0);
}

START_TEST(misuse)
{
	lc_run(body_misuse, NULL, NULL);
}
END_TEST

START_TEST(outside_runtime)
{
	struct script s = { .results = { 0 }, .nresults = 1 };

	ck_assert_int_eq(uco_retry(scripted, &s, NULL), -EPERM);
	ck_assert_int_eq(s.calls, 0);
}
END_TEST

static Suite *retry_suite(void)
{
	Suite *s = suite_create("retry");
	TCase *tc;

	tc = tcase_create("schedule");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, backoff_schedule);
	tcase_add_test(tc, multiplier);
	tcase_add_test(tc, deadline);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, retryable);
	tcase_add_test(tc, op_cancelled);
	tcase_add_test(tc, cut_short_mid_backoff);
	tcase_add_test(tc, misuse);
	tcase_add_test(tc, outside_runtime);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(retry_suite());
}
