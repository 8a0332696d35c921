/*
 * Suite "stats": uco_loop_stats_get (uco/stats.h).
 *
 *   - outside uco_run it refuses (-EPERM) and leaves *out alone;
 *   - SQEs submitted, CQEs reaped and io_uring_enter calls grow by at least
 *     one per NOP (each NOP here is one SQE and one CQE);
 *   - tasks spawned counts spawns, live tasks and the ready queue see them
 *     before they run and let them go after;
 *   - a stack slab is counted once a task has a stack;
 *   - a CQ far smaller than the ops in flight overflows, and it is counted;
 *   - the offload queue depth counts jobs waiting for the one pool thread;
 *   - in debug mode the longest run is measured (a task that computes for
 *     2 ms of its own clock), and is 0 with debug mode off;
 *   - another core's counters are read by a task spawned there.
 */
#include "harness.h"
#include "leakcheck.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static uco_loop_stats snap(void)
{
	uco_loop_stats s;

	ck_assert_int_eq(uco_loop_stats_get(&s), 0);
	return s;
}

START_TEST(test_outside_run)
{
	uco_loop_stats s;

	memset(&s, 0xab, sizeof(s));
	ck_assert_int_eq(uco_loop_stats_get(&s), -EPERM);
	ck_assert_uint_eq(s.core, 0xababababu);
}
END_TEST

/* ---- the ring: SQEs, CQEs, enters ------------------------------------- */

static void ring_body(void *arg)
{
	uco_loop_stats a, b;

	(void)arg;
	a = snap();
	ck_assert_uint_eq(a.core, 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(uco_nop(), 0);
	b = snap();
	ck_assert_uint_ge(b.sqes_submitted - a.sqes_submitted, 100);
	ck_assert_uint_ge(b.cqes_reaped - a.cqes_reaped, 100);
	/* One task alone: every NOP goes through the kernel and back. */
	ck_assert_uint_ge(b.enters - a.enters, 1);
	ck_assert_uint_le(b.enters - a.enters, 2 * 100 + 2);
	ck_assert_uint_eq(b.cq_overflows, a.cq_overflows);
	ck_assert_uint_ge(b.stack_slabs, 1);
}

START_TEST(test_ring_counters)
{
	lc_run(ring_body, NULL, NULL);
}
END_TEST

/* ---- tasks ------------------------------------------------------------ */

static void *one_yield(void *arg)
{
	(void)arg;
	return uco_yield() < 0 ? uco_fail(-ECANCELED) : NULL;
}

static void tasks_body(void *arg)
{
	uco_task *t[10];
	uco_loop_stats a, b, c;

	(void)arg;
	a = snap();
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(uco_spawn(&t[i], one_yield, NULL, NULL), 0);
	b = snap();
	ck_assert_uint_eq(b.tasks_spawned - a.tasks_spawned, 10);
	ck_assert_uint_eq(b.live_tasks, a.live_tasks + 10);
	ck_assert_uint_ge(b.ready, a.ready + 10);
	th_join_all(t, 10);
	c = snap();
	ck_assert_uint_eq(c.live_tasks, a.live_tasks);
	ck_assert_uint_eq(c.ready, 0);
	ck_assert_uint_eq(c.tasks_spawned, b.tasks_spawned);
}

START_TEST(test_task_counters)
{
	lc_run(tasks_body, NULL, NULL);
}
END_TEST

/* ---- CQ overflow ------------------------------------------------------ */

static void *nops(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++)
		if (uco_nop() < 0)
			return uco_fail(-EIO);
	return NULL;
}

static void overflow_body(void *arg)
{
	enum { N = 2000 };
	uco_task **t = malloc(N * sizeof(*t));
	uco_loop_stats a, b;

	(void)arg;
	ck_assert_ptr_nonnull(t);
	a = snap();
	/* 2,000 tasks' NOPs against a CQ of 16 (test_op's cq_overflow_handoff
	 * shows the walker then finds the kernel holding CQEs back). */
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(uco_spawn(&t[i], nops, NULL, NULL), 0);
	th_join_all(t, N);
	free(t);
	b = snap();
	ck_assert_uint_ge(b.cq_overflows - a.cq_overflows, 1);
	ck_assert_uint_ge(b.cqes_reaped - a.cqes_reaped, 5 * N);
	ck_assert_uint_ge(b.sqes_submitted - a.sqes_submitted, 5 * N);
	ck_assert_uint_ge(b.enters - a.enters, b.cq_overflows - a.cq_overflows);
}

START_TEST(test_cq_overflow_counted)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.sq_entries = 16;
	cfg.cq_entries = 16;
	lc_run(overflow_body, NULL, &cfg);
}
END_TEST

/* ---- offload queue depth ---------------------------------------------- */

struct gate {
	int fd[2];
	atomic_int started;
};

static void *blocker(void *arg)
{
	struct gate *g = arg;
	char c;

	atomic_fetch_add(&g->started, 1);
	return read(g->fd[0], &c, 1) == 1 ? NULL : (void *)1;
}

static void *offload_task(void *arg)
{
	int r = uco_to_thread(blocker, arg, NULL, NULL);

	return r < 0 ? uco_fail(r) : NULL;
}

static void offload_body(void *arg)
{
	struct gate g;
	uco_task *t[3];
	uco_loop_stats s;

	(void)arg;
	ck_assert_int_eq(pipe(g.fd), 0);
	atomic_init(&g.started, 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uco_spawn(&t[i], offload_task, &g, NULL), 0);
	/* One thread: one job runs (blocked on the pipe), two wait. */
	do {
		ck_assert_int_eq(uco_yield(), 0);
		s = snap();
	} while (!(atomic_load(&g.started) == 1 && s.offload_queued == 2));
	ck_assert_int_eq(write(g.fd[1], "xyz", 3), 3);
	th_join_all(t, 3);
	ck_assert_uint_eq(snap().offload_queued, 0);
	close(g.fd[0]);
	close(g.fd[1]);
}

START_TEST(test_offload_queued)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.offload_threads = 1;
	lc_run(offload_body, NULL, &cfg);
}
END_TEST

/* ---- longest run (debug mode) ------------------------------------------ */

static uint64_t cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UCO_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void *compute(void *arg)
{
	uint64_t end = cpu_now() + 2 * UCO_NSEC_PER_MSEC;
	volatile unsigned long x = 0;

	(void)arg;
	/* The run's length is the behaviour under test: it computes. */
	while (cpu_now() < end)
		x++;
	return uco_yield() < 0 ? uco_fail(-ECANCELED) : NULL;
}

static void max_run_body(void *arg)
{
	bool debug = *(bool *)arg;
	uco_task *t;

	ck_assert_int_eq(uco_spawn(&t, compute, NULL, NULL), 0);
	th_join_all(&t, 1);
	if (debug)
		ck_assert_uint_ge(snap().max_run_ns, 2 * UCO_NSEC_PER_MSEC);
	else
		ck_assert_uint_eq(snap().max_run_ns, 0);
}

START_TEST(test_max_run)
{
	uco_config cfg;
	bool debug = _i == 1;

	uco_config_init(&cfg);
	cfg.debug = debug;
	unsetenv("UCO_DEBUG");
	/* Debug mode warns only above 50 ms: nothing on stderr here. */
	th_run(max_run_body, &debug, &cfg);
}
END_TEST

/* ---- another core ------------------------------------------------------ */

static void *read_stats(void *out)
{
	return uco_loop_stats_get(out) < 0 ? uco_fail(-EPERM) : NULL;
}

static void other_core_body(void *arg)
{
	uco_loop_stats s;
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_spawn_on(1, &t, read_stats, &s, NULL), 0);
	th_join_all(&t, 1);
	ck_assert_uint_eq(s.core, 1);
	ck_assert_uint_ge(s.live_tasks, 1); /* read_stats itself */
	ck_assert_uint_eq(snap().core, 0);
	ck_assert_uint_ge(snap().tasks_spawned, 1);
}

START_TEST(test_other_core)
{
	lc_run_cores(other_core_body, NULL, 2);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_outside_run);
	tcase_add_test(tc, test_ring_counters);
	tcase_add_test(tc, test_task_counters);
	tcase_add_test(tc, test_cq_overflow_counted);
	tcase_add_test(tc, test_offload_queued);
	tcase_add_loop_test(tc, test_max_run, 0, 2);
	tcase_add_test(tc, test_other_core);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(stats_suite());
}
