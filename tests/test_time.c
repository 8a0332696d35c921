/*
 * Suite "time": sleeping, timeout scopes, wait_for and wait_for_task, and
 * waits on runtime objects bounded by scopes (include/uco/time.h).
 *
 * Durations are checked with an exact lower bound (a timer never fires
 * early) and a generous upper bound: the suites may share the machine with
 * others, and what is tested is that a wait ends because of the right
 * deadline, not how promptly.
 */
#include <errno.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC
#define SEC UCO_NSEC_PER_SEC
/* Upper slack on every duration; anything waiting for the wrong deadline
 * (10 s in these tests) is far beyond it. */
#define SLACK (1500 * MS)

static void check_elapsed(uint64_t t0, uint64_t at_least)
{
	uint64_t dt = uco_now() - t0;

	ck_assert_msg(dt >= at_least, "took %llu ns, less than %llu",
		      (unsigned long long)dt, (unsigned long long)at_least);
	ck_assert_msg(dt < at_least + SLACK, "took %llu ns, expected ~%llu",
		      (unsigned long long)dt, (unsigned long long)at_least);
}

/* A child that sleeps, records what its sleep returned, and ends with that
 * error or with `result`. */
struct sleeper {
	uint64_t ns;
	int saw;     /* what uco_sleep returned */
	void *result;
	bool ignore; /* return `result` even when the sleep failed */
	uint64_t extra_ns; /* then sleep this long, shielded */
};

static void *sleeper_task(void *arg)
{
	struct sleeper *s = arg;

	s->saw = uco_sleep(s->ns);
	if (s->extra_ns) {
		uco_shield_begin();
		ck_assert_int_eq(uco_sleep(s->extra_ns), 0);
		uco_shield_end();
	}
	if (s->saw < 0 && !s->ignore)
		return uco_fail(s->saw);
	return s->result;
}

static uco_task *spawn_sleeper(struct sleeper *s)
{
	uco_task *t;

	ck_assert_int_eq(uco_spawn(&t, sleeper_task, s, NULL), 0);
	return t;
}

/* ---- sleeping ---------------------------------------------------------- */

static void body_sleep_durations(void *arg)
{
	static const uint64_t durs[] = { 1 * MS, 10 * MS, 40 * MS };

	for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		uint64_t t0 = uco_now();

		ck_assert_int_eq(uco_sleep(durs[i]), 0);
		check_elapsed(t0, durs[i]);
	}
}

START_TEST(sleep_durations)
{
	lc_run(body_sleep_durations, NULL, NULL);
}
END_TEST

/* Sleeps overlap: 100 tasks sleeping 50 ms take ~50 ms, not 5 s. */
static void body_sleep_concurrent(void *arg)
{
	enum { N = 100 };
	struct sleeper s[N];
	uco_task *t[N];
	uint64_t t0 = uco_now();

	for (int i = 0; i < N; i++) {
		s[i] = (struct sleeper){ .ns = 50 * MS, .result = &s[i] };
		t[i] = spawn_sleeper(&s[i]);
	}
	for (int i = 0; i < N; i++) {
		void *res;

		ck_assert_int_eq(uco_join(t[i], &res), 0);
		ck_assert_ptr_eq(res, &s[i]);
		ck_assert_int_eq(s[i].saw, 0);
		uco_task_release(t[i]);
	}
	check_elapsed(t0, 50 * MS);
}

START_TEST(sleep_concurrent)
{
	lc_run(body_sleep_concurrent, NULL, NULL);
}
END_TEST

static void *set_flag(void *arg)
{
	*(int *)arg += 1;
	return NULL;
}

/* uco_sleep(0) is a yield: a task spawned before it has run after it. */
static void body_sleep_zero_yields(void *arg)
{
	int flag = 0;
	uco_task *t;

	ck_assert_int_eq(uco_spawn(&t, set_flag, &flag, NULL), 0);
	ck_assert_int_eq(flag, 0);
	ck_assert_int_eq(uco_sleep(0), 0);
	ck_assert_int_eq(flag, 1);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
}

START_TEST(sleep_zero_yields)
{
	lc_run(body_sleep_zero_yields, NULL, NULL);
}
END_TEST

/* Two tasks taking turns with sleep(0) interleave strictly. */
struct turns {
	char log[16];
	int len;
};

struct turn_arg {
	struct turns *t;
	char name;
};

static void *turn_task(void *arg)
{
	struct turn_arg *a = arg;

	for (int i = 0; i < 4; i++) {
		a->t->log[a->t->len++] = a->name;
		ck_assert_int_eq(uco_sleep(0), 0);
	}
	return NULL;
}

static void body_sleep_zero_fifo(void *arg)
{
	struct turns log = { .len = 0 };
	struct turn_arg a = { &log, 'a' }, b = { &log, 'b' };
	uco_task *ta, *tb;

	ck_assert_int_eq(uco_spawn(&ta, turn_task, &a, NULL), 0);
	ck_assert_int_eq(uco_spawn(&tb, turn_task, &b, NULL), 0);
	ck_assert_int_eq(uco_join(ta, NULL), 0);
	ck_assert_int_eq(uco_join(tb, NULL), 0);
	log.log[log.len] = '\0';
	ck_assert_str_eq(log.log, "abababab");
	uco_task_release(ta);
	uco_task_release(tb);
}

START_TEST(sleep_zero_fifo)
{
	lc_run(body_sleep_zero_fifo, NULL, NULL);
}
END_TEST

static void body_sleep_until(void *arg)
{
	uint64_t t0 = uco_now();
	uint64_t deadline = t0 + 30 * MS;

	ck_assert_int_eq(uco_sleep_until(deadline), 0);
	ck_assert_uint_ge(uco_now(), deadline);
	check_elapsed(t0, 30 * MS);

	/* A deadline in the past returns at once, successfully. */
	t0 = uco_now();
	ck_assert_int_eq(uco_sleep_until(t0 - 5 * MS), 0);
	ck_assert_int_eq(uco_sleep_until(0), 0);
	check_elapsed(t0, 0);
}

START_TEST(sleep_until)
{
	lc_run(body_sleep_until, NULL, NULL);
}
END_TEST

/* A sleeping task cancelled returns -ECANCELED at once. */
static void body_sleep_cancelled(void *arg)
{
	struct sleeper s = { .ns = 10 * SEC };
	uco_task *t = spawn_sleeper(&s);
	uint64_t t0;

	ck_assert_int_eq(uco_sleep(MS), 0);
	t0 = uco_now();
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	ck_assert_int_eq(s.saw, -ECANCELED);
	check_elapsed(t0, 0);
	uco_task_release(t);
}

START_TEST(sleep_cancelled)
{
	lc_run(body_sleep_cancelled, NULL, NULL);
}
END_TEST

/* A sleep too long to express as a deadline sleeps until cancelled; it
 * must not wrap around into the past and return at once. */
struct forever {
	uint64_t ns;
	int r;
};

static void *sleep_forever(void *arg)
{
	struct forever *f = arg;

	f->r = uco_sleep(f->ns);
	return NULL;
}

static void body_sleep_huge(void *arg)
{
	static const uint64_t huge[] = { UINT64_MAX, UINT64_MAX - 1,
					 UINT64_MAX / 2 + 1 };

	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		struct forever f = { huge[i], 1 };
		uco_task *t;

		ck_assert_int_eq(uco_spawn(&t, sleep_forever, &f, NULL), 0);
		ck_assert_int_eq(uco_sleep(10 * MS), 0);
		ck_assert_msg(!uco_task_done(t),
			      "uco_sleep(%llu) returned %d at once",
			      (unsigned long long)huge[i], f.r);
		ck_assert_int_eq(uco_cancel(t), 0);
		ck_assert_int_eq(uco_join(t, NULL), 0);
		ck_assert_int_eq(f.r, -ECANCELED);
		uco_task_release(t);
	}
}

START_TEST(sleep_huge)
{
	lc_run(body_sleep_huge, NULL, NULL);
}
END_TEST

/* Outside a task, the suspending calls refuse with -EPERM. */
START_TEST(outside_task)
{
	ck_assert_int_eq(uco_sleep(MS), -EPERM);
	ck_assert_int_eq(uco_sleep_until(0), -EPERM);
	ck_assert_int_eq(uco_nop(), -EPERM);
	ck_assert_int_eq(uco_timeout_begin(MS), -EPERM);
	ck_assert_int_eq(uco_timeout_at(0), -EPERM);
	ck_assert_int_eq(uco_timeout_end(0), -EPERM);
	ck_assert_int_eq(uco_timeout_expired(0), -EPERM);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
}
END_TEST

/* ---- timeout scopes ---------------------------------------------------- */

static void *never_task(void *arg)
{
	/* Waits until cancelled. */
	int r = uco_sleep(100 * SEC);

	return r < 0 ? uco_fail(r) : NULL;
}

/* An expired scope: the call in progress returns -ETIMEDOUT, and so does
 * every later suspending call (ops and object waits alike) until the scope
 * is closed; closing it says it expired. */
static void body_scope_expires(void *arg)
{
	uint64_t t0 = uco_now();
	int s = uco_timeout_begin(30 * MS);
	uco_future *f;
	uco_task *t;

	ck_assert_int_eq(s, 0);
	ck_assert_uint_ge(uco_deadline(), t0 + 30 * MS);
	ck_assert_uint_le(uco_deadline(), uco_now() + 30 * MS);
	ck_assert_int_eq(uco_sleep(10 * SEC), -ETIMEDOUT);
	check_elapsed(t0, 30 * MS);

	ck_assert_int_eq(uco_future_create(&f), 0);
	ck_assert_int_eq(uco_spawn(&t, never_task, NULL, NULL), 0);
	ck_assert_int_eq(uco_sleep(MS), -ETIMEDOUT);
	ck_assert_int_eq(uco_sleep(0), -ETIMEDOUT);
	ck_assert_int_eq(uco_sleep_until(0), -ETIMEDOUT);
	ck_assert_int_eq(uco_yield(), -ETIMEDOUT);
	ck_assert_int_eq(uco_nop(), -ETIMEDOUT);
	ck_assert_int_eq(uco_join(t, NULL), -ETIMEDOUT);
	ck_assert_int_eq(uco_future_wait(f, NULL), -ETIMEDOUT);
	ck_assert(!uco_task_done(t));

	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_int_eq(uco_sleep(MS), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	uco_task_release(t);
	uco_future_free(f);
}

START_TEST(scope_expires)
{
	lc_run(body_scope_expires, NULL, NULL);
}
END_TEST

static void body_scope_not_expired(void *arg)
{
	int s = uco_timeout_begin(10 * SEC);

	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_int_eq(uco_sleep(MS), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_timeout_end(s), 0);
	/* Closed: ending it again, or a scope never opened, is -EINVAL. */
	ck_assert_int_eq(uco_timeout_end(s), -EINVAL);
	ck_assert_int_eq(uco_timeout_end(3), -EINVAL);
	ck_assert_int_eq(uco_timeout_end(-1), -EINVAL);
}

START_TEST(scope_not_expired)
{
	lc_run(body_scope_not_expired, NULL, NULL);
}
END_TEST

/* uco_timeout_at() in the past: the next suspending call times out at once,
 * without waiting for anything, but still yields on the way (a task that
 * ignored -ETIMEDOUT in a loop must not starve its core). */
static void body_scope_at_past(void *arg)
{
	int flag = 0;
	uco_task *t;
	int s;

	ck_assert_int_eq(uco_spawn(&t, set_flag, &flag, NULL), 0);
	s = uco_timeout_at(uco_now() - MS);
	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(flag, 0);
	ck_assert_int_eq(uco_nop(), -ETIMEDOUT);
	ck_assert_int_eq(flag, 1); /* the refused call let it run */
	ck_assert_int_eq(uco_sleep(10 * SEC), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	ck_assert_int_eq(flag, 1);
	uco_task_release(t);
}

START_TEST(scope_at_past)
{
	lc_run(body_scope_at_past, NULL, NULL);
}
END_TEST

/* Nested, the inner nearer: it fires; ending it, the outer still holds. */
static void body_scope_nested_inner_nearer(void *arg)
{
	uint64_t t0 = uco_now();
	int outer = uco_timeout_begin(10 * SEC);
	int inner = uco_timeout_begin(30 * MS);

	ck_assert_int_eq(outer, 0);
	ck_assert_int_eq(inner, 1);
	ck_assert_uint_le(uco_deadline(), uco_now() + 30 * MS);
	ck_assert_int_eq(uco_sleep(20 * SEC), -ETIMEDOUT);
	check_elapsed(t0, 30 * MS);
	ck_assert_int_eq(uco_timeout_end(inner), -ETIMEDOUT);
	ck_assert_uint_ge(uco_deadline(), t0 + 10 * SEC);
	ck_assert_int_eq(uco_sleep(MS), 0);
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_int_eq(uco_timeout_end(outer), 0);
}

START_TEST(scope_nested_inner_nearer)
{
	lc_run(body_scope_nested_inner_nearer, NULL, NULL);
}
END_TEST

/* Nested, the outer nearer: it wins inside the inner scope; the inner did
 * not expire, and after it ends the outer still has. */
static void body_scope_nested_outer_nearer(void *arg)
{
	uint64_t t0 = uco_now();
	int outer = uco_timeout_begin(30 * MS);
	int inner = uco_timeout_begin(10 * SEC);
	uco_task *t;

	ck_assert_int_eq(outer, 0);
	ck_assert_int_eq(inner, 1);
	ck_assert_uint_le(uco_deadline(), uco_now() + 30 * MS);
	ck_assert_int_eq(uco_sleep(20 * SEC), -ETIMEDOUT);
	check_elapsed(t0, 30 * MS);
	ck_assert_int_eq(uco_timeout_end(inner), 0);
	ck_assert_int_eq(uco_nop(), -ETIMEDOUT);
	ck_assert_int_eq(uco_spawn(&t, never_task, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(outer), -ETIMEDOUT);
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	uco_task_release(t);
}

START_TEST(scope_nested_outer_nearer)
{
	lc_run(body_scope_nested_outer_nearer, NULL, NULL);
}
END_TEST

/* The nearer scope also bounds an object wait (join), outer or inner. */
static void body_scope_nested_join(void *arg)
{
	uco_task *t;
	uint64_t t0;
	int a, b;

	ck_assert_int_eq(uco_spawn(&t, never_task, NULL, NULL), 0);
	t0 = uco_now();
	a = uco_timeout_begin(20 * MS);
	b = uco_timeout_begin(10 * SEC);
	ck_assert_int_eq(uco_join(t, NULL), -ETIMEDOUT);
	check_elapsed(t0, 20 * MS);
	ck_assert_int_eq(uco_timeout_end(b), 0);
	ck_assert_int_eq(uco_timeout_end(a), -ETIMEDOUT);

	t0 = uco_now();
	a = uco_timeout_begin(10 * SEC);
	b = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(uco_join(t, NULL), -ETIMEDOUT);
	check_elapsed(t0, 20 * MS);
	ck_assert_int_eq(uco_timeout_end(b), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(a), 0);

	ck_assert(!uco_task_done(t)); /* a join that times out leaves t be */
	uco_cancel(t);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	uco_task_release(t);
}

START_TEST(scope_nested_join)
{
	lc_run(body_scope_nested_join, NULL, NULL);
}
END_TEST

static void body_scope_depth(void *arg)
{
	for (int i = 0; i < UCO_TIMEOUT_DEPTH; i++)
		ck_assert_int_eq(uco_timeout_begin(10 * SEC + (uint64_t)i), i);
	ck_assert_int_eq(uco_timeout_begin(10 * SEC), -E2BIG);
	ck_assert_int_eq(uco_timeout_at(UINT64_MAX - 1), -E2BIG);
	ck_assert_int_eq(uco_nop(), 0);
	/* Closing the outermost closes them all. */
	ck_assert_int_eq(uco_timeout_end(0), 0);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
	ck_assert_int_eq(uco_timeout_end(1), -EINVAL);
	ck_assert_int_eq(uco_timeout_begin(10 * SEC), 0);
	ck_assert_int_eq(uco_timeout_end(0), 0);
}

START_TEST(scope_depth)
{
	lc_run(body_scope_depth, NULL, NULL);
}
END_TEST

/* Ending an outer scope closes the inner ones: their deadline is gone. */
static void body_scope_end_outer_closes_inner(void *arg)
{
	int outer = uco_timeout_begin(10 * SEC);
	int inner = uco_timeout_begin(10 * MS);

	ck_assert_int_eq(outer, 0);
	ck_assert_int_eq(inner, 1);
	ck_assert_int_eq(uco_timeout_end(outer), 0);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
	ck_assert_int_eq(uco_timeout_end(inner), -EINVAL);
	/* Well past the inner deadline: nothing times out. */
	ck_assert_int_eq(uco_sleep(30 * MS), 0);
	ck_assert_int_eq(uco_nop(), 0);
	/* Scope numbers are reused from the outermost closed. */
	ck_assert_int_eq(uco_timeout_begin(SEC), 0);
	ck_assert_int_eq(uco_timeout_end(0), 0);
}

START_TEST(scope_end_outer_closes_inner)
{
	lc_run(body_scope_end_outer_closes_inner, NULL, NULL);
}
END_TEST

/* A scope belongs to its task: a child neither inherits it nor sees it. */
static void *deadline_of_child(void *arg)
{
	*(uint64_t *)arg = uco_deadline();
	ck_assert_int_eq(uco_sleep(30 * MS), 0);
	return NULL;
}

static void body_scope_per_task(void *arg)
{
	uint64_t child_deadline = 0;
	uco_task *t;
	int s = uco_timeout_begin(10 * MS);

	ck_assert_int_eq(uco_spawn(&t, deadline_of_child, &child_deadline,
				   NULL), 0);
	ck_assert_int_eq(uco_timeout_end(s), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	ck_assert_uint_eq(child_deadline, UINT64_MAX);
	uco_task_release(t);
}

START_TEST(scope_per_task)
{
	lc_run(body_scope_per_task, NULL, NULL);
}
END_TEST

/* An object wait that ends before its deadline disarms it: a later wait
 * past that deadline, outside any scope, is not cut short. */
static void body_scope_object_wait_disarmed(void *arg)
{
	struct sleeper fast = { .ns = 2 * MS, .result = &fast };
	struct sleeper slow = { .ns = 80 * MS, .result = &slow };
	uco_task *a = spawn_sleeper(&fast), *b = spawn_sleeper(&slow);
	int s = uco_timeout_begin(30 * MS);
	void *res;

	ck_assert_int_eq(uco_join(a, &res), 0);
	ck_assert_ptr_eq(res, &fast);
	ck_assert_int_eq(uco_timeout_end(s), 0);
	ck_assert_int_eq(uco_join(b, &res), 0);
	ck_assert_ptr_eq(res, &slow);
	ck_assert_int_eq(slow.saw, 0);
	uco_task_release(a);
	uco_task_release(b);
}

START_TEST(scope_object_wait_disarmed)
{
	lc_run(body_scope_object_wait_disarmed, NULL, NULL);
}
END_TEST

/* A future wait under a scope times out and leaves the wait list (the
 * future can be freed, which aborts if anyone still waits). */
static void body_scope_future(void *arg)
{
	uco_future *f;
	uint64_t t0 = uco_now();
	void *res = NULL;
	int s;

	ck_assert_int_eq(uco_future_create(&f), 0);
	s = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(uco_future_wait(f, &res), -ETIMEDOUT);
	check_elapsed(t0, 20 * MS);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	/* Once set, the same wait under a fresh scope succeeds. */
	ck_assert_int_eq(uco_future_set_result(f, f), 0);
	s = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(uco_future_wait(f, &res), 0);
	ck_assert_ptr_eq(res, f);
	ck_assert_int_eq(uco_timeout_end(s), 0);
	uco_future_free(f);
}

START_TEST(scope_future)
{
	lc_run(body_scope_future, NULL, NULL);
}
END_TEST

/* ---- uco_timeout_expired: did the scope cut something short? ----------- */

/* A pipe nobody writes to: a read of it waits until cut short. */
struct quiet_pipe {
	int fd[2];
};

static void quiet_pipe_open(struct quiet_pipe *p)
{
	ck_assert_int_eq(pipe2(p->fd, O_CLOEXEC), 0);
}

static void quiet_pipe_close(struct quiet_pipe *p)
{
	close(p->fd[0]);
	close(p->fd[1]);
}

static int read_quiet(void *arg)
{
	char c;

	return (int)uco_read(((struct quiet_pipe *)arg)->fd[0], &c, 1, -1);
}

/* Open, not cut: 0; the query is for open scopes only. */
static void body_expired_not_cut(void *arg)
{
	int s = uco_timeout_begin(10 * SEC);

	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(uco_timeout_expired(s), 0);
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_int_eq(uco_sleep(MS), 0);
	ck_assert_int_eq(uco_timeout_expired(s), 0);
	ck_assert_int_eq(uco_timeout_expired(s + 1), -EINVAL);
	ck_assert_int_eq(uco_timeout_expired(-1), -EINVAL);
	ck_assert_int_eq(uco_timeout_end(s), 0);
	ck_assert_int_eq(uco_timeout_expired(s), -EINVAL);
}

START_TEST(expired_not_cut)
{
	lc_run(body_expired_not_cut, NULL, NULL);
}
END_TEST

/* A deadline that passed with no call made under it: uco_timeout_end()
 * says -ETIMEDOUT (the deadline passed), uco_timeout_expired() says 0
 * (nothing was cut short).  The first call made then is cut at once, and
 * from then on the scope has expired. */
static void body_expired_passed_uncut(void *arg)
{
	int s = uco_timeout_at(uco_now() - MS);

	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(uco_timeout_expired(s), 0);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);

	s = uco_timeout_at(uco_now() - MS);
	ck_assert_int_eq(uco_timeout_expired(s), 0);
	ck_assert_int_eq(uco_nop(), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_expired(s), 1);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);

	/* The scope number is reused; the new scope starts uncut. */
	s = uco_timeout_begin(10 * SEC);
	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(uco_timeout_expired(s), 0);
	ck_assert_int_eq(uco_timeout_end(s), 0);
}

START_TEST(expired_passed_uncut)
{
	lc_run(body_expired_passed_uncut, NULL, NULL);
}
END_TEST

/* Every way a scope cuts a call short counts: a kernel op's linked
 * timeout, a sleep's own timer, a wait on a runtime object. */
static void body_expired_each_kind(void *arg)
{
	struct quiet_pipe p;
	uco_event e;
	int s;

	quiet_pipe_open(&p);
	s = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(read_quiet(&p), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_expired(s), 1);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);

	s = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(uco_sleep(10 * SEC), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_expired(s), 1);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);

	ck_assert_int_eq(uco_event_init(&e), 0);
	s = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(uco_event_wait(&e), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_expired(s), 1);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	uco_event_destroy(&e);
	quiet_pipe_close(&p);
}

START_TEST(expired_each_kind)
{
	lc_run(body_expired_each_kind, NULL, NULL);
}
END_TEST

/* Nested scopes: only the one whose deadline cut the call has expired. */
static void body_expired_nested(void *arg)
{
	struct quiet_pipe p;
	int outer, inner;

	quiet_pipe_open(&p);
	/* The inner one is nearer: it expires, the outer does not. */
	outer = uco_timeout_begin(10 * SEC);
	inner = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(read_quiet(&p), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_expired(inner), 1);
	ck_assert_int_eq(uco_timeout_expired(outer), 0);
	ck_assert_int_eq(uco_timeout_end(inner), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_expired(outer), 0);
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_int_eq(uco_timeout_end(outer), 0);

	/* The outer one is nearer: it expires, the inner does not. */
	outer = uco_timeout_begin(20 * MS);
	inner = uco_timeout_begin(10 * SEC);
	ck_assert_int_eq(read_quiet(&p), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_expired(outer), 1);
	ck_assert_int_eq(uco_timeout_expired(inner), 0);
	ck_assert_int_eq(uco_timeout_end(inner), 0);
	ck_assert_int_eq(uco_timeout_expired(outer), 1);
	ck_assert_int_eq(uco_timeout_end(outer), -ETIMEDOUT);
	quiet_pipe_close(&p);
}

START_TEST(expired_nested)
{
	lc_run(body_expired_nested, NULL, NULL);
}
END_TEST

/* A cancel is not a timeout: a scope around a call cut short by the task's
 * cancellation has not expired. */
struct cancelled_in_scope {
	struct quiet_pipe p;
	int r, expired;
};

static void *cancelled_in_scope_task(void *arg)
{
	struct cancelled_in_scope *c = arg;
	int s = uco_timeout_begin(10 * SEC);

	c->r = read_quiet(&c->p);
	c->expired = uco_timeout_expired(s);
	uco_timeout_end(s);
	return NULL;
}

static void body_expired_not_by_cancel(void *arg)
{
	struct cancelled_in_scope c = { .r = 1, .expired = -1 };
	uco_task *t;

	quiet_pipe_open(&c.p);
	ck_assert_int_eq(uco_spawn(&t, cancelled_in_scope_task, &c, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0); /* t runs until its read waits */
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	ck_assert_int_eq(c.r, -ECANCELED);
	ck_assert_int_eq(c.expired, 0);
	uco_task_release(t);
	quiet_pipe_close(&c.p);
}

START_TEST(expired_not_by_cancel)
{
	lc_run(body_expired_not_by_cancel, NULL, NULL);
}
END_TEST

/* ---- wait_for ---------------------------------------------------------- */

static int sleep_fn(void *arg)
{
	return uco_sleep(*(uint64_t *)arg);
}

static void body_wait_for_sleep(void *arg)
{
	uint64_t long_ns = 10 * SEC, short_ns = 5 * MS;
	uint64_t t0 = uco_now();

	ck_assert_int_eq(uco_wait_for(30 * MS, sleep_fn, &long_ns),
			 -ETIMEDOUT);
	check_elapsed(t0, 30 * MS);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
	ck_assert_int_eq(uco_nop(), 0);

	t0 = uco_now();
	ck_assert_int_eq(uco_wait_for(10 * SEC, sleep_fn, &short_ns), 0);
	check_elapsed(t0, 5 * MS);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
}

START_TEST(wait_for_sleep)
{
	lc_run(body_wait_for_sleep, NULL, NULL);
}
END_TEST

/* wait_for reports fn's own result: a success even after the deadline, an
 * error of its own before it, and -ETIMEDOUT for an error after it. */
static int fail_fast(void *arg)
{
	return -EIO;
}

static int late_success(void *arg)
{
	ck_assert_int_eq(uco_sleep(10 * SEC), -ETIMEDOUT);
	return 7;
}

static int late_failure(void *arg)
{
	ck_assert_int_eq(uco_sleep(10 * SEC), -ETIMEDOUT);
	return -EIO;
}

static void body_wait_for_results(void *arg)
{
	ck_assert_int_eq(uco_wait_for(SEC, fail_fast, NULL), -EIO);
	ck_assert_int_eq(uco_wait_for(10 * MS, late_success, NULL), 7);
	ck_assert_int_eq(uco_wait_for(10 * MS, late_failure, NULL),
			 -ETIMEDOUT);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
}

START_TEST(wait_for_results)
{
	lc_run(body_wait_for_results, NULL, NULL);
}
END_TEST

/* wait_for nests inside a scope: the nearer deadline wins either way, and
 * a full scope stack refuses with -E2BIG. */
static void body_wait_for_nested(void *arg)
{
	uint64_t long_ns = 10 * SEC;
	uint64_t t0 = uco_now();
	int s = uco_timeout_begin(20 * MS);

	ck_assert_int_eq(uco_wait_for(10 * SEC, sleep_fn, &long_ns),
			 -ETIMEDOUT);
	check_elapsed(t0, 20 * MS);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);

	for (int i = 0; i < UCO_TIMEOUT_DEPTH; i++)
		ck_assert_int_eq(uco_timeout_begin(10 * SEC), i);
	ck_assert_int_eq(uco_wait_for(MS, sleep_fn, &long_ns), -E2BIG);
	ck_assert_int_eq(uco_timeout_end(0), 0);
}

START_TEST(wait_for_nested)
{
	lc_run(body_wait_for_nested, NULL, NULL);
}
END_TEST

/* wait_for turns an error into -ETIMEDOUT only when its own scope cut a
 * call short, not merely because its deadline has passed: with ns = 0 the
 * deadline has passed before fn starts. */
static int nop_fn(void *arg)
{
	return uco_nop();
}

static void body_wait_for_expired_only(void *arg)
{
	ck_assert_int_eq(uco_wait_for(0, fail_fast, NULL), -EIO);
	ck_assert_int_eq(uco_wait_for(0, nop_fn, NULL), -ETIMEDOUT);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
}

START_TEST(wait_for_expired_only)
{
	lc_run(body_wait_for_expired_only, NULL, NULL);
}
END_TEST

/* -E2BIG and -EPERM come without fn being called. */
static int count_calls(void *arg)
{
	++*(int *)arg;
	return 0;
}

static void body_wait_for_refused(void *arg)
{
	int calls = 0;

	for (int i = 0; i < UCO_TIMEOUT_DEPTH; i++)
		ck_assert_int_eq(uco_timeout_begin(10 * SEC), i);
	ck_assert_int_eq(uco_wait_for(MS, count_calls, &calls), -E2BIG);
	ck_assert_int_eq(calls, 0);
	ck_assert_int_eq(uco_timeout_end(0), 0);
	ck_assert_int_eq(uco_wait_for(MS, count_calls, &calls), 0);
	ck_assert_int_eq(calls, 1);
}

START_TEST(wait_for_refused)
{
	int calls = 0;

	ck_assert_int_eq(uco_wait_for(MS, count_calls, &calls), -EPERM);
	ck_assert_int_eq(calls, 0);
	lc_run(body_wait_for_refused, NULL, NULL);
}
END_TEST

/* The caller's own cancellation stays a cancellation. */
struct wait_for_cancelled {
	struct quiet_pipe p;
	int r;
};

static void *wait_for_cancelled_task(void *arg)
{
	struct wait_for_cancelled *w = arg;

	w->r = uco_wait_for(10 * SEC, read_quiet, &w->p);
	return NULL;
}

static void body_wait_for_caller_cancelled(void *arg)
{
	struct wait_for_cancelled w = { .r = 1 };
	uco_task *t;

	quiet_pipe_open(&w.p);
	ck_assert_int_eq(uco_spawn(&t, wait_for_cancelled_task, &w, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0); /* t runs until its read waits */
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	ck_assert_int_eq(w.r, -ECANCELED);
	uco_task_release(t);
	quiet_pipe_close(&w.p);
}

START_TEST(wait_for_caller_cancelled)
{
	lc_run(body_wait_for_caller_cancelled, NULL, NULL);
}
END_TEST

/* ---- wait_for_task ----------------------------------------------------- */

static void body_wait_for_task_in_time(void *arg)
{
	struct sleeper s = { .ns = 5 * MS, .result = (void *)(intptr_t)42 };
	struct sleeper f = { .ns = 5 * MS };
	uco_task *t = spawn_sleeper(&s), *u;
	void *res = NULL;

	ck_assert_int_eq(uco_wait_for_task(t, 10 * SEC, &res), 0);
	ck_assert_ptr_eq(res, (void *)(intptr_t)42);
	ck_assert(uco_task_done(t));
	/* Already finished: its outcome at once. */
	res = NULL;
	ck_assert_int_eq(uco_wait_for_task(t, 0, &res), 0);
	ck_assert_ptr_eq(res, (void *)(intptr_t)42);
	uco_task_release(t);

	/* A failure in time is the task's error. */
	u = spawn_sleeper(&f);
	ck_assert_int_eq(uco_cancel(u), 0);
	ck_assert_int_eq(uco_wait_for_task(u, 10 * SEC, NULL), -ECANCELED);
	uco_task_release(u);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
}

START_TEST(wait_for_task_in_time)
{
	lc_run(body_wait_for_task_in_time, NULL, NULL);
}
END_TEST

static void *fail_eio_task(void *arg)
{
	ck_assert_int_eq(uco_sleep(MS), 0);
	return uco_fail(-EIO);
}

static void body_wait_for_task_error(void *arg)
{
	uco_task *t;

	ck_assert_int_eq(uco_spawn(&t, fail_eio_task, NULL, NULL), 0);
	ck_assert_int_eq(uco_wait_for_task(t, 10 * SEC, NULL), -EIO);
	uco_task_release(t);
}

START_TEST(wait_for_task_error)
{
	lc_run(body_wait_for_task_error, NULL, NULL);
}
END_TEST

/* Expiry: the task is cancelled (it sees -ECANCELED) and joined before
 * wait_for_task returns -ETIMEDOUT. */
static void body_wait_for_task_timeout(void *arg)
{
	struct sleeper s = { .ns = 10 * SEC };
	uco_task *t = spawn_sleeper(&s);
	uint64_t t0 = uco_now();
	void *res = &s;

	ck_assert_int_eq(uco_wait_for_task(t, 30 * MS, &res), -ETIMEDOUT);
	check_elapsed(t0, 30 * MS);
	ck_assert(uco_task_done(t));
	ck_assert_int_eq(s.saw, -ECANCELED);
	ck_assert_int_eq(uco_task_outcome(t, NULL), -ECANCELED);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
	ck_assert_int_eq(uco_nop(), 0);
	uco_task_release(t);
}

START_TEST(wait_for_task_timeout)
{
	lc_run(body_wait_for_task_timeout, NULL, NULL);
}
END_TEST

/* A task that ignores the cancel and returns a result anyway: that result
 * is the outcome (asyncio's rule), also when it takes a while to finish
 * (the join after the cancel is not cut short by the expired deadline). */
static void body_wait_for_task_ignores_cancel(void *arg)
{
	struct sleeper a = { .ns = 10 * SEC, .ignore = true,
			     .result = (void *)(intptr_t)99 };
	struct sleeper b = { .ns = 10 * SEC, .ignore = true,
			     .result = (void *)(intptr_t)77,
			     .extra_ns = 40 * MS };
	uco_task *ta = spawn_sleeper(&a), *tb = spawn_sleeper(&b);
	uint64_t t0 = uco_now();
	void *res = NULL;

	ck_assert_int_eq(uco_wait_for_task(ta, 20 * MS, &res), 0);
	ck_assert_ptr_eq(res, (void *)(intptr_t)99);
	ck_assert_int_eq(a.saw, -ECANCELED);
	check_elapsed(t0, 20 * MS);

	t0 = uco_now();
	res = NULL;
	ck_assert_int_eq(uco_wait_for_task(tb, 20 * MS, &res), 0);
	ck_assert_ptr_eq(res, (void *)(intptr_t)77);
	ck_assert_int_eq(b.saw, -ECANCELED);
	check_elapsed(t0, 60 * MS);
	ck_assert_uint_eq(uco_deadline(), UINT64_MAX);
	uco_task_release(ta);
	uco_task_release(tb);
}

START_TEST(wait_for_task_ignores_cancel)
{
	lc_run(body_wait_for_task_ignores_cancel, NULL, NULL);
}
END_TEST

/* The caller cancelled while in wait_for_task gets -ECANCELED. */
struct wft_arg {
	uco_task *target;
	int r;
};

static void *wft_task(void *arg)
{
	struct wft_arg *w = arg;

	w->r = uco_wait_for_task(w->target, 10 * SEC, NULL);
	return NULL;
}

static void body_wait_for_task_caller_cancelled(void *arg)
{
	struct sleeper s = { .ns = 10 * SEC };
	struct wft_arg w = { .target = spawn_sleeper(&s), .r = 1 };
	uco_task *waiter;

	ck_assert_int_eq(uco_spawn(&waiter, wft_task, &w, NULL), 0);
	ck_assert_int_eq(uco_sleep(MS), 0);
	uco_cancel(waiter);
	ck_assert_int_eq(uco_join(waiter, NULL), 0);
	ck_assert_int_eq(w.r, -ECANCELED);
	uco_cancel(w.target);
	ck_assert_int_eq(uco_join(w.target, NULL), -ECANCELED);
	uco_task_release(waiter);
	uco_task_release(w.target);
}

START_TEST(wait_for_task_caller_cancelled)
{
	lc_run(body_wait_for_task_caller_cancelled, NULL, NULL);
}
END_TEST

static Suite *time_suite(void)
{
	Suite *s = suite_create("time");
	TCase *tc;

	tc = tcase_create("sleep");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, sleep_durations);
	tcase_add_test(tc, sleep_concurrent);
	tcase_add_test(tc, sleep_zero_yields);
	tcase_add_test(tc, sleep_zero_fifo);
	tcase_add_test(tc, sleep_until);
	tcase_add_test(tc, sleep_cancelled);
	tcase_add_test(tc, sleep_huge);
	tcase_add_test(tc, outside_task);
	suite_add_tcase(s, tc);

	tc = tcase_create("scope");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, scope_expires);
	tcase_add_test(tc, scope_not_expired);
	tcase_add_test(tc, scope_at_past);
	tcase_add_test(tc, scope_nested_inner_nearer);
	tcase_add_test(tc, scope_nested_outer_nearer);
	tcase_add_test(tc, scope_nested_join);
	tcase_add_test(tc, scope_depth);
	tcase_add_test(tc, scope_end_outer_closes_inner);
	tcase_add_test(tc, scope_per_task);
	tcase_add_test(tc, scope_object_wait_disarmed);
	tcase_add_test(tc, scope_future);
	suite_add_tcase(s, tc);

	tc = tcase_create("expired");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, expired_not_cut);
	tcase_add_test(tc, expired_passed_uncut);
	tcase_add_test(tc, expired_each_kind);
	tcase_add_test(tc, expired_nested);
	tcase_add_test(tc, expired_not_by_cancel);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait_for");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, wait_for_sleep);
	tcase_add_test(tc, wait_for_results);
	tcase_add_test(tc, wait_for_nested);
	tcase_add_test(tc, wait_for_expired_only);
	tcase_add_test(tc, wait_for_refused);
	tcase_add_test(tc, wait_for_caller_cancelled);
	tcase_add_test(tc, wait_for_task_in_time);
	tcase_add_test(tc, wait_for_task_error);
	tcase_add_test(tc, wait_for_task_timeout);
	tcase_add_test(tc, wait_for_task_ignores_cancel);
	tcase_add_test(tc, wait_for_task_caller_cancelled);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(time_suite());
}
