/*
 * Suite "group": task groups (include/uco/group.h), asyncio.TaskGroup's
 * rules: the first real failure cancels the siblings and is what the group
 * reports; being cancelled is not a failure; the waiting task cancelled (or
 * timed out) takes the members down with it and waits for them.
 */
#include <errno.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC
#define SEC UCO_NSEC_PER_SEC

/* What the members of one test share. */
struct crew {
	int started;           /* members that have begun */
	int finished;          /* members that have ended */
	int expect;            /* when `finished` reaches it... */
	uco_future *all_done;  /* ...this is set (if not NULL) */
};

/* A member: sleeps ns (or not), records what the sleep returned, and ends
 * with the sleep's error (unless `ignore`), or `fail`, or `result`.
 * With `linger_ns` it then sleeps that long more, shielded. */
struct member {
	struct crew *crew;
	uint64_t ns;
	uint64_t linger_ns;
	int fail;
	bool ignore;
	void *result;
	int saw;
	/* spawn this one into `group` before ending (nested spawn) */
	uco_group *group;
	struct member *child;
	int child_spawn;
};

static void *member_task(void *arg);

static void member_end(struct member *m)
{
	struct crew *c = m->crew;

	if (++c->finished == c->expect && c->all_done)
		ck_assert_int_eq(uco_future_set_result(c->all_done, NULL), 0);
}

static void *member_task(void *arg)
{
	struct member *m = arg;
	int r;

	m->crew->started++;
	r = m->ns ? uco_sleep(m->ns) : 0;
	m->saw = r;
	if (m->linger_ns) {
		uco_shield_begin();
		ck_assert_int_eq(uco_sleep(m->linger_ns), 0);
		uco_shield_end();
	}
	if (m->group)
		m->child_spawn = uco_group_spawn(m->group, NULL, member_task,
						 m->child, NULL);
	member_end(m);
	if (r < 0 && !m->ignore)
		return uco_fail(r);
	if (m->fail)
		return uco_fail(m->fail);
	return m->result;
}

static void spawn_member(uco_group *g, struct member *m, uco_task **out)
{
	m->saw = 1;
	ck_assert_int_eq(uco_group_spawn(g, out, member_task, m, NULL), 0);
	if (out)
		ck_assert_ptr_nonnull(*out);
}

/* ---- success --------------------------------------------------------- */

static void body_all_succeed(void *arg)
{
	enum { N = 5 };
	struct crew c = { 0 };
	struct member m[N];
	uco_task *t[N];
	uco_group *g;

	ck_assert_int_eq(uco_group_create(&g), 0);
	for (int i = 0; i < N; i++) {
		m[i] = (struct member){ .crew = &c,
					.ns = (uint64_t)(i + 1) * MS,
					.result = (void *)(intptr_t)(i + 1) };
		spawn_member(g, &m[i], i % 2 ? &t[i] : NULL);
	}
	ck_assert_int_eq(uco_group_wait(g), 0);
	ck_assert_int_eq(c.finished, N);
	for (int i = 1; i < N; i += 2) {
		void *res;

		ck_assert(uco_task_done(t[i]));
		ck_assert_int_eq(uco_join(t[i], &res), 0);
		ck_assert_ptr_eq(res, (void *)(intptr_t)(i + 1));
		uco_task_release(t[i]);
	}
	/* Waiting again, and spawning more after a clean wait, are fine. */
	ck_assert_int_eq(uco_group_wait(g), 0);
	m[0] = (struct member){ .crew = &c, .ns = MS };
	spawn_member(g, &m[0], NULL);
	ck_assert_int_eq(uco_group_wait(g), 0);
	ck_assert_int_eq(c.finished, N + 1);
	uco_group_free(g);

	/* An empty group. */
	ck_assert_int_eq(uco_group_create(&g), 0);
	ck_assert_int_eq(uco_group_wait(g), 0);
	uco_group_free(g);
	uco_group_free(NULL);
}

START_TEST(all_succeed)
{
	lc_run(body_all_succeed, NULL, NULL);
}
END_TEST

/* A member spawning a sibling into its own group: the wait covers it. */
static void body_nested_spawn(void *arg)
{
	struct crew c = { 0 };
	struct member child = { .crew = &c, .ns = 20 * MS };
	struct member parent = { .crew = &c, .ns = MS, .child = &child };
	uco_group *g;

	ck_assert_int_eq(uco_group_create(&g), 0);
	parent.group = g;
	spawn_member(g, &parent, NULL);
	ck_assert_int_eq(uco_group_wait(g), 0);
	ck_assert_int_eq(parent.child_spawn, 0);
	ck_assert_int_eq(c.finished, 2);
	ck_assert_int_eq(child.saw, 0);
	uco_group_free(g);
}

START_TEST(nested_spawn)
{
	lc_run(body_nested_spawn, NULL, NULL);
}
END_TEST

/* ---- failure --------------------------------------------------------- */

/* The first failure cancels the siblings (they see -ECANCELED, even one
 * that would have failed later) and is what the wait returns. */
static void body_first_failure(void *arg)
{
	struct crew c = { 0 };
	struct member fails = { .crew = &c, .ns = 5 * MS, .fail = -EIO };
	struct member later = { .crew = &c, .ns = 50 * MS, .fail = -ENOENT };
	struct member slow[2] = { { .crew = &c, .ns = 10 * SEC },
				  { .crew = &c, .ns = 10 * SEC } };
	struct member stubborn = { .crew = &c, .ns = 10 * SEC, .ignore = true,
				   .result = &c };
	uco_task *st, *ft;
	uco_group *g;
	uint64_t t0 = uco_now();
	void *res;

	ck_assert_int_eq(uco_group_create(&g), 0);
	spawn_member(g, &slow[0], NULL);
	spawn_member(g, &fails, &ft);
	spawn_member(g, &later, NULL);
	spawn_member(g, &slow[1], NULL);
	spawn_member(g, &stubborn, &st);
	ck_assert_int_eq(uco_group_wait(g), -EIO);
	ck_assert_uint_lt(uco_now() - t0, 5 * SEC);
	ck_assert_int_eq(c.finished, 5);
	ck_assert_int_eq(fails.saw, 0);
	ck_assert_int_eq(later.saw, -ECANCELED);
	ck_assert_int_eq(slow[0].saw, -ECANCELED);
	ck_assert_int_eq(slow[1].saw, -ECANCELED);
	ck_assert_int_eq(stubborn.saw, -ECANCELED);
	ck_assert_int_eq(uco_join(ft, NULL), -EIO);
	ck_assert_int_eq(uco_join(st, &res), 0);
	ck_assert_ptr_eq(res, &c);
	/* Failed: the wait keeps saying so. */
	ck_assert_int_eq(uco_group_wait(g), -EIO);
	uco_task_release(ft);
	uco_task_release(st);
	uco_group_free(g);
}

START_TEST(first_failure)
{
	lc_run(body_first_failure, NULL, NULL);
}
END_TEST

/* Two members failing at once (neither suspends): the first to end wins;
 * the failure happens before anyone waits on the group. */
static void body_simultaneous_failures(void *arg)
{
	struct crew c = { 0 };
	struct member a = { .crew = &c, .fail = -EIO };
	struct member b = { .crew = &c, .fail = -ENOENT };
	struct member s = { .crew = &c, .ns = 10 * SEC };
	uco_group *g;

	ck_assert_int_eq(uco_group_create(&g), 0);
	spawn_member(g, &a, NULL);
	spawn_member(g, &b, NULL);
	spawn_member(g, &s, NULL);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_group_wait(g), -EIO);
	ck_assert_int_eq(s.saw, -ECANCELED);
	ck_assert_int_eq(c.finished, 3);
	uco_group_free(g);
}

START_TEST(simultaneous_failures)
{
	lc_run(body_simultaneous_failures, NULL, NULL);
}
END_TEST

/* A member cancelled from outside is not a failure of the group. */
static void body_outside_cancel(void *arg)
{
	struct crew c = { 0 };
	struct member victim = { .crew = &c, .ns = 10 * SEC };
	struct member ok[2] = { { .crew = &c, .ns = 5 * MS },
				{ .crew = &c, .ns = 10 * MS } };
	uco_task *vt;
	uco_group *g;

	ck_assert_int_eq(uco_group_create(&g), 0);
	spawn_member(g, &victim, &vt);
	spawn_member(g, &ok[0], NULL);
	spawn_member(g, &ok[1], NULL);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(vt), 0);
	ck_assert_int_eq(uco_group_wait(g), 0);
	ck_assert_int_eq(victim.saw, -ECANCELED);
	ck_assert_int_eq(uco_join(vt, NULL), -ECANCELED);
	ck_assert_int_eq(ok[0].saw, 0);
	ck_assert_int_eq(ok[1].saw, 0);
	ck_assert_int_eq(c.finished, 3);
	uco_task_release(vt);
	uco_group_free(g);
}

START_TEST(outside_cancel)
{
	lc_run(body_outside_cancel, NULL, NULL);
}
END_TEST

/* uco_group_cancel(): every member cancelled, not a failure, and no more
 * spawning. */
static void body_group_cancel(void *arg)
{
	struct crew c = { 0 };
	struct member m[3] = { { .crew = &c, .ns = 10 * SEC },
			       { .crew = &c, .ns = 10 * SEC },
			       { .crew = &c, .ns = 10 * SEC } };
	struct member late = { .crew = &c };
	uco_task *t = (uco_task *)&c;
	uco_group *g;

	ck_assert_int_eq(uco_group_create(&g), 0);
	for (int i = 0; i < 3; i++)
		spawn_member(g, &m[i], NULL);
	ck_assert_int_eq(uco_yield(), 0);
	uco_group_cancel(g);
	ck_assert_int_eq(uco_group_spawn(g, &t, member_task, &late, NULL),
			 -ECANCELED);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(uco_group_wait(g), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(m[i].saw, -ECANCELED);
	ck_assert_int_eq(c.finished, 3);
	uco_group_free(g);
}

START_TEST(group_cancel)
{
	lc_run(body_group_cancel, NULL, NULL);
}
END_TEST

/* Spawning into a failed group: -ECANCELED, before and after the wait. */
static void body_spawn_into_failed(void *arg)
{
	struct crew c = { 0 };
	struct member f = { .crew = &c, .fail = -EIO };
	struct member s = { .crew = &c, .ns = 10 * SEC };
	struct member late = { .crew = &c };
	uco_task *t = (uco_task *)&c;
	uco_group *g;

	ck_assert_int_eq(uco_group_create(&g), 0);
	spawn_member(g, &s, NULL);
	spawn_member(g, &f, NULL);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(c.finished, 1); /* f failed, s is being cancelled */
	ck_assert_int_eq(uco_group_spawn(g, &t, member_task, &late, NULL),
			 -ECANCELED);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(uco_group_wait(g), -EIO);
	ck_assert_int_eq(uco_group_spawn(g, NULL, member_task, &late, NULL),
			 -ECANCELED);
	ck_assert_int_eq(c.finished, 2);
	uco_group_free(g);
}

START_TEST(spawn_into_failed)
{
	lc_run(body_spawn_into_failed, NULL, NULL);
}
END_TEST

/* ---- the waiting task cancelled or timed out ------------------------- */

struct boss {
	struct crew crew;
	struct member m[3];
	int r;
	int finished_at_return;
	uint64_t scope_ns;
};

static void *boss_task(void *arg)
{
	struct boss *b = arg;
	uco_group *g;
	int s = -1;

	ck_assert_int_eq(uco_group_create(&g), 0);
	for (int i = 0; i < 3; i++)
		spawn_member(g, &b->m[i], NULL);
	if (b->scope_ns)
		s = uco_timeout_begin(b->scope_ns);
	b->r = uco_group_wait(g);
	if (s >= 0)
		uco_timeout_end(s);
	b->finished_at_return = b->crew.finished;
	uco_group_free(g);
	return NULL;
}

static void boss_init(struct boss *b)
{
	b->crew = (struct crew){ 0 };
	for (int i = 0; i < 3; i++)
		b->m[i] = (struct member){ .crew = &b->crew, .ns = 10 * SEC };
	/* One member takes a while to go when cancelled. */
	b->m[2].linger_ns = 30 * MS;
	b->r = 1;
}

static void body_waiter_cancelled(void *arg)
{
	struct boss b;
	uco_task *bt;

	boss_init(&b);
	ck_assert_int_eq(uco_spawn(&bt, boss_task, &b, NULL), 0);
	/* Tasks run in order: the first yield runs the boss, which spawns
	 * its crew and waits; the second runs the crew into their sleeps. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(bt), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(b.crew.started, 3);
	ck_assert_int_eq(b.crew.finished, 0);
	ck_assert_int_eq(uco_cancel(bt), 0);
	ck_assert_int_eq(uco_join(bt, NULL), 0);
	ck_assert_int_eq(b.r, -ECANCELED);
	ck_assert_int_eq(b.finished_at_return, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(b.m[i].saw, -ECANCELED);
	uco_task_release(bt);
}

START_TEST(waiter_cancelled)
{
	lc_run(body_waiter_cancelled, NULL, NULL);
}
END_TEST

static void body_wait_scope(void *arg)
{
	struct boss b;
	uco_task *bt;
	uint64_t t0 = uco_now();

	boss_init(&b);
	b.scope_ns = 20 * MS;
	ck_assert_int_eq(uco_spawn(&bt, boss_task, &b, NULL), 0);
	ck_assert_int_eq(uco_join(bt, NULL), 0);
	ck_assert_int_eq(b.r, -ETIMEDOUT);
	/* The lingering member was waited for past the deadline. */
	ck_assert_uint_ge(uco_now() - t0, 50 * MS);
	ck_assert_uint_lt(uco_now() - t0, 5 * SEC);
	ck_assert_int_eq(b.finished_at_return, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(b.m[i].saw, -ECANCELED);
	uco_task_release(bt);
}

START_TEST(wait_scope)
{
	lc_run(body_wait_scope, NULL, NULL);
}
END_TEST

/* ---- freeing a group with live members ------------------------------- */

static void body_free_live(void *arg)
{
	enum { N = 4 };
	struct crew c = { .expect = N };
	struct member m[N];
	uco_task *t;
	uco_group *g;
	int s;

	ck_assert_int_eq(uco_future_create(&c.all_done), 0);
	ck_assert_int_eq(uco_group_create(&g), 0);
	for (int i = 0; i < N; i++) {
		m[i] = (struct member){ .crew = &c, .ns = 10 * SEC };
		spawn_member(g, &m[i], i == 0 ? &t : NULL);
	}
	m[1].linger_ns = 10 * MS;
	ck_assert_int_eq(uco_yield(), 0);
	uco_group_free(g);
	/* They are cancelled and finish on their own (the group goes with
	 * the last of them); a safety scope keeps a bug from hanging. */
	s = uco_timeout_begin(10 * SEC);
	ck_assert_int_eq(uco_future_wait(c.all_done, NULL), 0);
	ck_assert_int_eq(uco_timeout_end(s), 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(m[i].saw, -ECANCELED);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	uco_task_release(t);
	uco_future_free(c.all_done);
}

START_TEST(free_live)
{
	lc_run(body_free_live, NULL, NULL);
}
END_TEST

/* Freed with members that have not even started yet. */
static void body_free_unstarted(void *arg)
{
	struct crew c = { .expect = 2 };
	struct member m[2] = { { .crew = &c, .ns = 10 * SEC },
			       { .crew = &c, .ns = 10 * SEC } };
	uco_group *g;

	ck_assert_int_eq(uco_future_create(&c.all_done), 0);
	ck_assert_int_eq(uco_group_create(&g), 0);
	spawn_member(g, &m[0], NULL);
	spawn_member(g, &m[1], NULL);
	uco_group_free(g);
	ck_assert_int_eq(uco_future_wait(c.all_done, NULL), 0);
	ck_assert_int_eq(m[0].saw, -ECANCELED);
	ck_assert_int_eq(m[1].saw, -ECANCELED);
	uco_future_free(c.all_done);
}

START_TEST(free_unstarted)
{
	lc_run(body_free_unstarted, NULL, NULL);
}
END_TEST

/* Members still alive when main returns: the runtime cancels them, and the
 * group is freed with the last one (lc_run checks nothing leaks). */
static void body_left_to_shutdown(void *arg)
{
	static struct crew c;
	static struct member m[2];
	uco_group *g;

	c = (struct crew){ 0 };
	m[0] = (struct member){ .crew = &c, .ns = 10 * SEC };
	m[1] = (struct member){ .crew = &c, .ns = 10 * SEC };
	ck_assert_int_eq(uco_group_create(&g), 0);
	spawn_member(g, &m[0], NULL);
	spawn_member(g, &m[1], NULL);
	ck_assert_int_eq(uco_yield(), 0);
	uco_group_free(g);
}

START_TEST(left_to_shutdown)
{
	lc_run(body_left_to_shutdown, NULL, NULL);
}
END_TEST

START_TEST(outside_runtime)
{
	uco_group *g = (uco_group *)&g;

	ck_assert_int_eq(uco_group_create(&g), -EPERM);
	ck_assert_ptr_null(g);
}
END_TEST

static Suite *group_suite(void)
{
	Suite *s = suite_create("group");
	TCase *tc;

	tc = tcase_create("outcome");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, all_succeed);
	tcase_add_test(tc, nested_spawn);
	tcase_add_test(tc, first_failure);
	tcase_add_test(tc, simultaneous_failures);
	tcase_add_test(tc, outside_cancel);
	tcase_add_test(tc, group_cancel);
	tcase_add_test(tc, spawn_into_failed);
	tcase_add_test(tc, outside_runtime);
	suite_add_tcase(s, tc);

	tc = tcase_create("waiter");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, waiter_cancelled);
	tcase_add_test(tc, wait_scope);
	suite_add_tcase(s, tc);

	tc = tcase_create("free");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, free_live);
	tcase_add_test(tc, free_unstarted);
	tcase_add_test(tc, left_to_shutdown);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(group_suite());
}
