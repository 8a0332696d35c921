/*
 * Suite "local": task-local values (contextvars).
 *
 *   - set/get, several keys, overwriting, a key never set reads NULL;
 *   - a child sees its parent's values as they were when it was spawned;
 *   - a child's changes are invisible to its parent and its siblings, but
 *     seen by its own children;
 *   - the same across spawn_on to another core;
 *   - outside a task: get is NULL, set is -EPERM.
 */
#include "harness.h"
#include "leakcheck.h"

static int key_a, key_b, key_never; /* keys are addresses */

#define V(n) ((void *)(uintptr_t)(n))

/* ---- set and get ---------------------------------------------------- */

static void body_set_get(void *arg)
{
	(void)arg;
	ck_assert_ptr_null(uco_local_get(&key_a));
	ck_assert_int_eq(uco_local_set(&key_a, V(1)), 0);
	ck_assert_int_eq(uco_local_set(&key_b, V(2)), 0);
	ck_assert_ptr_eq(uco_local_get(&key_a), V(1));
	ck_assert_ptr_eq(uco_local_get(&key_b), V(2));
	ck_assert_ptr_null(uco_local_get(&key_never));
	/* Overwrite, and set back to NULL. */
	ck_assert_int_eq(uco_local_set(&key_a, V(3)), 0);
	ck_assert_ptr_eq(uco_local_get(&key_a), V(3));
	ck_assert_ptr_eq(uco_local_get(&key_b), V(2));
	ck_assert_int_eq(uco_local_set(&key_b, NULL), 0);
	ck_assert_ptr_null(uco_local_get(&key_b));
	/* Values survive suspending calls. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_ptr_eq(uco_local_get(&key_a), V(3));
	/* Many sets of one key: the last one wins. */
	for (uintptr_t i = 0; i < 1000; i++)
		ck_assert_int_eq(uco_local_set(&key_a, V(i)), 0);
	ck_assert_ptr_eq(uco_local_get(&key_a), V(999));
}

START_TEST(test_set_get)
{
	/* Whatever the values cost is given back when the task ends. */
	lc_run(body_set_get, NULL, NULL);
}
END_TEST

/* ---- inheritance ------------------------------------------------------ */

static void *read_a(void *arg)
{
	(void)arg;
	return uco_local_get(&key_a);
}

static void *grandchild(void *arg)
{
	(void)arg;
	ck_assert_ptr_eq(uco_local_get(&key_b), V(20));
	return uco_local_get(&key_a);
}

/* Changes its values, lets the others run, and checks nobody else's
 * changes leaked in; its own child sees the changes. */
static void *changer(void *arg)
{
	uintptr_t mine = (uintptr_t)arg;
	uco_task *t;
	void *res;

	ck_assert_ptr_eq(uco_local_get(&key_a), V(10));
	ck_assert_ptr_eq(uco_local_get(&key_b), V(20));
	ck_assert_int_eq(uco_local_set(&key_a, V(mine)), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uco_yield(), 0);
		ck_assert_ptr_eq(uco_local_get(&key_a), V(mine));
		ck_assert_ptr_eq(uco_local_get(&key_b), V(20));
	}
	ck_assert_int_eq(uco_spawn(&t, grandchild, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_ptr_eq(res, V(mine));
	uco_task_release(t);
	return NULL;
}

static void body_inherit(void *arg)
{
	uco_task *t[4], *late, *early;
	void *res;

	(void)arg;
	ck_assert_int_eq(uco_local_set(&key_a, V(10)), 0);
	ck_assert_int_eq(uco_local_set(&key_b, V(20)), 0);

	/* Siblings that all change key_a to their own value. */
	for (uintptr_t i = 0; i < 4; i++)
		ck_assert_int_eq(uco_spawn(&t[i], changer, V(100 + i), NULL), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	/* None of it reached the parent. */
	ck_assert_ptr_eq(uco_local_get(&key_a), V(10));
	ck_assert_ptr_eq(uco_local_get(&key_b), V(20));

	/* A child sees the values of the moment it was spawned, not the
	 * parent's later changes (it has not run yet when they happen). */
	ck_assert_int_eq(uco_spawn(&early, read_a, NULL, NULL), 0);
	ck_assert_int_eq(uco_local_set(&key_a, V(11)), 0);
	ck_assert_int_eq(uco_spawn(&late, read_a, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(early, &res), 0);
	ck_assert_ptr_eq(res, V(10));
	ck_assert_int_eq(uco_join(late, &res), 0);
	ck_assert_ptr_eq(res, V(11));
	uco_task_release(early);
	uco_task_release(late);

	/* A key never set stays NULL in children too. */
	ck_assert_ptr_null(uco_local_get(&key_never));
}

START_TEST(test_inherit)
{
	lc_run(body_inherit, NULL, NULL);
}
END_TEST

/* The parent ends before its children read the values it handed down. */
static void *orphan_reader(void *arg)
{
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_ptr_eq(uco_local_get(&key_a), arg);
	return arg;
}

static void *short_parent(void *arg)
{
	uco_task **out = arg;

	ck_assert_int_eq(uco_local_set(&key_a, V(77)), 0);
	ck_assert_int_eq(uco_spawn(out, orphan_reader, V(77), NULL), 0);
	return NULL;
}

static void body_outlive_parent(void *arg)
{
	uco_task *p, *child;
	void *res;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&p, short_parent, &child, NULL), 0);
	ck_assert_int_eq(uco_join(p, NULL), 0);
	uco_task_release(p);
	ck_assert_int_eq(uco_join(child, &res), 0);
	ck_assert_ptr_eq(res, V(77));
	uco_task_release(child);
	ck_assert_ptr_null(uco_local_get(&key_a));
}

START_TEST(test_outlive_parent)
{
	lc_run(body_outlive_parent, NULL, NULL);
}
END_TEST

/* ---- across cores ------------------------------------------------------- */

static void *remote_reader(void *arg)
{
	ck_assert_uint_eq(uco_core_id(), (unsigned)(uintptr_t)arg);
	return uco_local_get(&key_a);
}

static void *remote_changer(void *arg)
{
	uco_task *t;
	void *res;

	(void)arg;
	ck_assert_uint_eq(uco_core_id(), 1);
	ck_assert_ptr_eq(uco_local_get(&key_a), V(5));
	ck_assert_ptr_eq(uco_local_get(&key_b), V(6));
	ck_assert_int_eq(uco_local_set(&key_a, V(50)), 0);
	/* Handed on from core 1 to a child on core 0... */
	ck_assert_int_eq(uco_spawn_on(0, &t, remote_reader, V(0), NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_ptr_eq(res, V(50));
	uco_task_release(t);
	/* ...and on core 1 itself. */
	ck_assert_int_eq(uco_spawn(&t, remote_reader, V(1), NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_ptr_eq(res, V(50));
	uco_task_release(t);
	return uco_local_get(&key_a);
}

static void body_cross_core(void *arg)
{
	uco_task *t[8];
	void *res;

	(void)arg;
	ck_assert_int_eq(uco_local_set(&key_a, V(5)), 0);
	ck_assert_int_eq(uco_local_set(&key_b, V(6)), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(uco_spawn_on(1, &t[i], remote_changer, NULL, NULL),
				 0);
	/* Meanwhile, the parent changes its own value on core 0. */
	ck_assert_int_eq(uco_local_set(&key_a, V(7)), 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(uco_join(t[i], &res), 0);
		ck_assert_ptr_eq(res, V(50));
		uco_task_release(t[i]);
	}
	ck_assert_ptr_eq(uco_local_get(&key_a), V(7));
	ck_assert_ptr_eq(uco_local_get(&key_b), V(6));
}

START_TEST(test_cross_core)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = 2;
	lc_run(body_cross_core, NULL, &cfg);
}
END_TEST

/* ---- outside a task ----------------------------------------------------- */

START_TEST(test_outside)
{
	ck_assert_ptr_null(uco_local_get(&key_a));
	ck_assert_int_eq(uco_local_set(&key_a, V(1)), -EPERM);
	ck_assert_ptr_null(uco_local_get(&key_a));
}
END_TEST

static Suite *local_suite(void)
{
	Suite *s = suite_create("local");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_set_get);
	tcase_add_test(tc, test_inherit);
	tcase_add_test(tc, test_outlive_parent);
	tcase_add_test(tc, test_cross_core);
	tcase_add_test(tc, test_outside);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(local_suite());
}
