/*
 * Suite "runtime": uco_run start-up and shutdown.
 *
 *   - run -> shutdown releases every fd, mapping, thread and byte of
 *     memory it took, over several runs with 1 and 2 cores;
 *   - tasks left over when main returns (sleeping, waiting on objects,
 *     joining, on other cores, detached or not) are cancelled and run to
 *     their end before uco_run returns;
 *   - main's result and its uco_fail() error come out of uco_run;
 *   - cores = 0 means every CPU we may run on, and each loop is pinned;
 *   - two runtimes in two threads at once do not see each other.
 */
#include "harness.h"
#include "leakcheck.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define FOREVER (3600ull * UCO_NSEC_PER_SEC)

static void *ret_arg(void *arg)
{
	return arg;
}

static void *set_future(void *arg)
{
	ck_assert_int_eq(uco_future_set_result(arg, NULL), 0);
	return NULL;
}

/* ---- no leaks ----------------------------------------------------------- */

static void *napper(void *arg)
{
	(void)arg;
	ck_assert_int_eq(uco_sleep(100 * UCO_NSEC_PER_USEC), 0);
	return (void *)(uintptr_t)uco_core_id();
}

static void *offloaded(void *arg)
{
	return arg;
}

/* Both pool threads at once: every run starts the whole pool, so no run
 * has more threads than the warm-up had (see test_no_leaks). */
#define POOL 2
static pthread_barrier_t g_pool_barrier;

static void *meet(void *arg)
{
	pthread_barrier_wait(&g_pool_barrier);
	return arg;
}

static void *meet_caller(void *arg)
{
	void *res = NULL;

	ck_assert_int_eq(uco_to_thread(meet, arg, &res, NULL), 0);
	ck_assert_ptr_eq(res, arg);
	return NULL;
}

static void *forever(void *arg)
{
	(void)arg;
	ck_assert_int_eq(uco_sleep(FOREVER), -ECANCELED);
	return NULL;
}

/* Touch what allocates kernel and memory resources: stacks (two sizes),
 * timers, the offload pool (threads and their rings), cross-core messages,
 * object waits under a timeout scope; and leave tasks behind for the
 * shutdown to cancel. */
static void leak_body(void *arg)
{
	uco_task *t[64];
	uco_spawn_opts big = { .name = "big", .stack_size = 256 * 1024 };
	uco_future *f;
	void *res;
	int scope;

	(void)arg;
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(uco_spawn_on((unsigned)i % uco_cores(), &t[i],
					      napper, NULL, i % 8 ? NULL : &big),
				 0);
	for (int i = 0; i < 64; i++) {
		ck_assert_int_eq(uco_join(t[i], &res), 0);
		ck_assert_ptr_eq(res, (void *)(uintptr_t)(i % uco_cores()));
		uco_task_release(t[i]);
	}
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(uco_spawn(&t[i], napper, NULL, NULL), 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(uco_to_thread(offloaded, (void *)(intptr_t)i,
					       &res, NULL), 0);
		ck_assert_ptr_eq(res, (void *)(intptr_t)i);
	}
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	for (intptr_t i = 0; i < POOL; i++)
		ck_assert_int_eq(uco_spawn(&t[i], meet_caller, (void *)i, NULL), 0);
	for (int i = 0; i < POOL; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(uco_future_create(&f), 0);
	scope = uco_timeout_begin(UCO_NSEC_PER_MSEC);
	ck_assert_int_ge(scope, 0);
	ck_assert_int_eq(uco_future_wait(f, NULL), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(scope), -ETIMEDOUT);
	uco_future_free(f);
	/* Left for the shutdown. */
	for (unsigned c = 0; c < uco_cores(); c++)
		ck_assert_int_eq(uco_spawn_on(c, NULL, forever, NULL, NULL), 0);
}

static void run_leak_body(unsigned cores)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = cores;
	cfg.offload_threads = POOL;
	pthread_barrier_init(&g_pool_barrier, NULL, POOL);
	th_run(leak_body, NULL, &cfg);
	pthread_barrier_destroy(&g_pool_barrier);
}

/* Mappings of io_uring rings (named in /proc/self/maps).  Called outside
 * uco_run only, so stdio is fine here. */
static int count_ring_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (getline(&line, &cap, f) > 0)
		n += strstr(line, "io_uring") != NULL;
	free(line);
	fclose(f);
	return n;
}

/*
 * Every mapping is compared in a plain build.  Under AddressSanitizer the
 * anonymous mappings are not: ASan's allocator keeps freed blocks in a
 * quarantine and maps fresh memory as it fills, so the count grows run
 * after run whoever allocates.  The rings (named mappings) are still
 * compared, and the stack slabs are checked by the stack suite.
 */
static void check_maps(int maps0, int rings0, int run, unsigned cores)
{
	ck_assert_msg(count_ring_maps() == rings0,
		      "run %d, %u cores: %d io_uring mappings, %d before", run,
		      cores, count_ring_maps(), rings0);
#if !defined(TH_ASAN) && !defined(TH_TSAN)
	ck_assert_msg(th_count_maps() == maps0,
		      "run %d, %u cores: %d mappings, %d before", run, cores,
		      th_count_maps(), maps0);
#else
	(void)maps0;
#endif
}

START_TEST(test_no_leaks)
{
	int fds0, maps0, thr0, rings0;
	size_t mem0;

	/*
	 * Warm up with one run of each shape first: the first run loads and
	 * initialises what stays for the life of the process whoever uses it
	 * (glibc's cache of freed thread stacks, jemalloc's arenas for the
	 * new threads and its retained extents, lazily bound libraries).
	 * Both depend on the most threads the process ever had at once, so
	 * every run starts all its threads (2 loops, the whole pool).  After
	 * that, a run must give back exactly what it took: the counts are
	 * compared without any tolerance.
	 */
	run_leak_body(1);
	run_leak_body(2);
	fds0 = th_count_fds();
	maps0 = th_count_maps();
	rings0 = count_ring_maps();
	thr0 = th_count_threads();
	mem0 = lc_allocated();
	for (int i = 0; i < 3; i++) {
		for (unsigned cores = 1; cores <= 2; cores++) {
			run_leak_body(cores);
			ck_assert_msg(th_count_fds() == fds0,
				      "run %d, %u cores: %d fds open, %d before",
				      i, cores, th_count_fds(), fds0);
			ck_assert_msg(th_count_threads() == thr0,
				      "run %d, %u cores: %d threads, %d before",
				      i, cores, th_count_threads(), thr0);
			check_maps(maps0, rings0, i, cores);
			/* And every byte uco took from jemalloc. */
			ck_assert_msg(lc_allocated() == mem0,
				      "run %d, %u cores: %zu bytes allocated, "
				      "%zu before", i, cores, lc_allocated(), mem0);
		}
	}
}
END_TEST

/* The first run of a process leaves no fd behind either (fds are never
 * cached by anyone). */
START_TEST(test_no_fd_leak_first_run)
{
	int fds0 = th_count_fds();
	int thr0 = th_count_threads();

	run_leak_body(2);
	ck_assert_int_eq(th_count_fds(), fds0);
#ifndef TH_TSAN /* TSan's background thread starts with the first thread */
	ck_assert_int_eq(th_count_threads(), thr0);
#else
	(void)thr0;
#endif
}
END_TEST

/* ---- leftover tasks at shutdown ---------------------------------------- */

static atomic_int g_cleaned;
static atomic_int g_reborn;

static void *left_sleeping(void *arg)
{
	(void)arg;
	ck_assert_int_eq(uco_sleep(FOREVER), -ECANCELED);
	atomic_fetch_add(&g_cleaned, 1);
	return NULL;
}

/* Cancelled, it still cleans up with suspending calls in a shield. */
static void *left_shielded_cleanup(void *arg)
{
	(void)arg;
	ck_assert_int_eq(uco_sleep(FOREVER), -ECANCELED);
	uco_shield_begin();
	ck_assert_int_eq(uco_nop(), 0);
	ck_assert_int_eq(uco_sleep(100 * UCO_NSEC_PER_USEC), 0);
	uco_shield_end();
	atomic_fetch_add(&g_cleaned, 1);
	return NULL;
}

static void *left_waiting_future(void *arg)
{
	ck_assert_int_eq(uco_future_wait(arg, NULL), -ECANCELED);
	uco_future_free(arg); /* its only waiter has left it */
	atomic_fetch_add(&g_cleaned, 1);
	return NULL;
}

static void *left_joining(void *arg)
{
	ck_assert_int_eq(uco_join(arg, NULL), -ECANCELED);
	atomic_fetch_add(&g_cleaned, 1);
	return NULL;
}

static void *born_late(void *arg)
{
	(void)arg;
	/* Spawned during shutdown: cancelled at birth. */
	ck_assert_int_eq(uco_sleep(FOREVER), -ECANCELED);
	atomic_fetch_add(&g_reborn, 1);
	return NULL;
}

/* When cancelled, spawns a replacement (on both cores): the runtime must
 * not wait for it forever. */
static void *left_spawner(void *arg)
{
	(void)arg;
	ck_assert_int_eq(uco_sleep(FOREVER), -ECANCELED);
	for (unsigned c = 0; c < uco_cores(); c++)
		ck_assert_int_eq(uco_spawn_on(c, NULL, born_late, NULL, NULL), 0);
	atomic_fetch_add(&g_cleaned, 1);
	return NULL;
}

/* On core 1: tell core 0 it is about to sleep, then sleep. */
static void *left_remote(void *f)
{
	ck_assert_uint_eq(uco_core_id(), 1);
	ck_assert_int_eq(uco_spawn_on(0, NULL, set_future, f, NULL), 0);
	return left_sleeping(NULL);
}

#define NLEFT 10

static void *leftover_main(void *arg)
{
	static uco_future *never, *remote[2];
	uco_task *kept, *target;

	(void)arg;
	ck_assert_int_eq(uco_future_create(&never), 0);
	ck_assert_int_eq(uco_spawn(NULL, left_sleeping, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(NULL, left_sleeping, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(NULL, left_shielded_cleanup, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(NULL, left_waiting_future, never, NULL), 0);
	/* A handle main never releases. */
	ck_assert_int_eq(uco_spawn(&kept, left_sleeping, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(&target, left_sleeping, NULL, NULL), 0);
	ck_assert_int_eq(uco_spawn(NULL, left_joining, target, NULL), 0);
	uco_task_release(target);
	ck_assert_int_eq(uco_spawn(NULL, left_spawner, NULL, NULL), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_future_create(&remote[i]), 0);
		ck_assert_int_eq(uco_spawn_on(1, NULL, left_remote, remote[i],
					      NULL), 0);
	}
	/* Everyone is in its wait once the remote ones said so and the
	 * local ones ran once. */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_future_wait(remote[i], NULL), 0);
		uco_future_free(remote[i]);
	}
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(atomic_load(&g_cleaned), 0);
	/* Main returns: the rest is the shutdown's job. */
	return (void *)0x600d;
}

START_TEST(test_leftovers_cancelled)
{
	uco_config cfg;
	void *res = NULL;
	struct lc_mark m;

	uco_config_init(&cfg);
	cfg.cores = 2;
	lc_begin(&m, &cfg);
	ck_assert_int_eq(uco_run(leftover_main, NULL, &cfg, &res), 0);
	ck_assert_ptr_eq(res, (void *)0x600d);
	/* 2 + shielded + future + kept + target + joiner + spawner + 2 remote */
	ck_assert_int_eq(atomic_load(&g_cleaned), NLEFT);
	ck_assert_int_eq(atomic_load(&g_reborn), 2);
	/* The shutdown freed all of it, the handle main kept included. */
	lc_end(&m);
}
END_TEST

/* ---- main's outcome ------------------------------------------------------ */

static void *main_fails(void *arg)
{
	(void)arg;
	ck_assert_int_eq(uco_spawn(NULL, ret_arg, NULL, NULL), 0);
	return uco_fail(-EIO);
}

static void *main_cancel_self(void *arg)
{
	(void)arg;
	/* A main that cancels itself and gives up reports -ECANCELED. */
	ck_assert_int_eq(uco_cancel(uco_current()), 0);
	return uco_fail(uco_nop());
}

static void *main_after_failed_child(void *arg)
{
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, main_fails, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), -EIO);
	uco_task_release(t);
	return (void *)-5; /* looks like an errno, is a result */
}

START_TEST(test_main_outcome)
{
	void *res = (void *)0xdead;
	struct lc_mark m;

	lc_begin(&m, NULL);
	ck_assert_int_eq(uco_run(ret_arg, (void *)0x1234, NULL, &res), 0);
	ck_assert_ptr_eq(res, (void *)0x1234);
	ck_assert_int_eq(uco_run(ret_arg, NULL, NULL, &res), 0);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(uco_run(ret_arg, (void *)1, NULL, NULL), 0);

	ck_assert_int_eq(uco_run(main_fails, NULL, NULL, &res), -EIO);
	ck_assert_int_eq(uco_run(main_cancel_self, NULL, NULL, NULL),
			 -ECANCELED);
	/* A child's error is the child's, not main's. */
	ck_assert_int_eq(uco_run(main_after_failed_child, NULL, NULL, &res), 0);
	ck_assert_ptr_eq(res, (void *)-5);
	lc_end(&m);
}
END_TEST

/* ---- cores and pinning -------------------------------------------------- */

static cpu_set_t g_allowed;

struct core_info {
	unsigned id, cores;
	int ncpus, cpu; /* affinity of the loop thread */
};

static void *where_am_i(void *arg)
{
	struct core_info *ci = arg;
	cpu_set_t set;

	ci->id = uco_core_id();
	ci->cores = uco_cores();
	CPU_ZERO(&set);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	ci->ncpus = CPU_COUNT(&set);
	ci->cpu = -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set)) {
			ci->cpu = c;
			break;
		}
	return NULL;
}

static int nth_allowed(unsigned n)
{
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &g_allowed) && n-- == 0)
			return c;
	return -1;
}

static bool g_pinned;

static void body_cores(void *arg)
{
	unsigned want = *(unsigned *)arg;
	unsigned n = uco_cores();
	struct core_info *ci;

	ck_assert_uint_eq(n, want);
	ci = calloc(n, sizeof(*ci));
	ck_assert_ptr_nonnull(ci);
	for (unsigned c = 0; c < n; c++) {
		uco_task *t;

		ck_assert_int_eq(uco_spawn_on(c, &t, where_am_i, &ci[c], NULL), 0);
		ck_assert_int_eq(uco_join(t, NULL), 0);
		uco_task_release(t);
		ck_assert_uint_eq(ci[c].id, c);
		ck_assert_uint_eq(ci[c].cores, n);
		if (g_pinned) {
			/* Loop i is pinned to the i-th allowed CPU (wrapping
			 * round when there are more loops than CPUs). */
			ck_assert_int_eq(ci[c].ncpus, 1);
			ck_assert_int_eq(ci[c].cpu,
					 nth_allowed(c % (unsigned)CPU_COUNT(
							      &g_allowed)));
		} else {
			ck_assert_int_eq(ci[c].ncpus, CPU_COUNT(&g_allowed));
		}
	}
	free(ci);
}

START_TEST(test_cores)
{
	uco_config cfg;
	unsigned want;
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&g_allowed);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(g_allowed), &g_allowed), 0);
	/* cores = 0: every CPU this process may run on (the affinity mask,
	 * which is all online CPUs unless someone restricted it). */
	ck_assert_int_le(CPU_COUNT(&g_allowed), online);
	uco_config_init(&cfg);
	ck_assert_uint_eq(cfg.cores, 1);
	cfg.cores = 0;
	want = (unsigned)CPU_COUNT(&g_allowed);
	g_pinned = true;
	lc_run(body_cores, &want, &cfg);

	/* The default is one core. */
	want = 1;
	lc_run(body_cores, &want, NULL);

	/* More loops than CPUs, pinned round-robin; and unpinned. */
	cfg.cores = want = (unsigned)CPU_COUNT(&g_allowed) + 1;
	lc_run(body_cores, &want, &cfg);
	cfg.pin = false;
	g_pinned = false;
	cfg.cores = want = 2;
	lc_run(body_cores, &want, &cfg);
}
END_TEST

/* ---- two runtimes at once ---------------------------------------------- */

static void *count_and_nap(void *arg)
{
	atomic_int *n = arg;

	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(uco_nop(), 0);
		ck_assert_int_eq(uco_yield(), 0);
	}
	atomic_fetch_add(n, 1);
	return NULL;
}

static void visit_count(uco_task *t, void *ctx)
{
	(void)t;
	(void)ctx;
}

static void *twin_main(void *arg)
{
	atomic_int n = 0;
	uco_task *t[32];

	for (int i = 0; i < 32; i++)
		ck_assert_int_eq(uco_spawn_on((unsigned)i % uco_cores(), &t[i],
					      count_and_nap, &n, NULL), 0);
	for (int i = 0; i < 32; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(atomic_load(&n), 32);
	/* Only this runtime's tasks are listed: main alone, by now. */
	ck_assert_uint_eq(uco_tasks_foreach(visit_count, NULL), 1);
	return arg;
}

static void *twin_thread(void *arg)
{
	uco_config cfg;
	void *res = NULL;
	intptr_t r;

	uco_config_init(&cfg);
	cfg.cores = 2;
	r = uco_run(twin_main, arg, &cfg, &res);
	return r == 0 && res == arg ? (void *)1 : (void *)0;
}

static void run_twins(void)
{
	pthread_t th[2];
	void *ok[2];

	for (intptr_t i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, twin_thread,
						(void *)(i + 1)), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(th[i], &ok[i]), 0);
		ck_assert_ptr_eq(ok[i], (void *)1);
	}
}

/* The largest CQ the configuration allows (2^20 entries) is more than
 * the kernel's limit (65,536): the ring gets the kernel's largest instead
 * of uco_run failing (it used to, blaming the kernel's version). */
static void *one_nop(void *arg)
{
	(void)arg;
	return uco_nop() == 0 ? NULL : uco_fail(-EIO);
}

static void body_cq_clamped(void *arg)
{
	enum { N = 1000 };
	uco_task **t = calloc(N, sizeof(*t));

	(void)arg;
	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(uco_spawn(&t[i], one_nop, NULL, NULL), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
	free(t);
}

START_TEST(test_cq_clamped)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cq_entries = 1u << 20;
	lc_run(body_cq_clamped, NULL, &cfg);
}
END_TEST

START_TEST(test_two_runtimes)
{
	uco_config cfg;
	struct lc_mark m;

	/* The first pass warms up what the most threads at once leave in
	 * glibc's and the allocator's caches; the second is measured. */
	run_twins();
	uco_config_init(&cfg);
	cfg.cores = 2;
	lc_begin(&m, &cfg);
	run_twins();
	lc_end(&m);
}
END_TEST

static Suite *runtime_suite(void)
{
	Suite *s = suite_create("runtime");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_no_leaks);
	tcase_add_test(tc, test_no_fd_leak_first_run);
	tcase_add_test(tc, test_leftovers_cancelled);
	tcase_add_test(tc, test_main_outcome);
	tcase_add_test(tc, test_cores);
	tcase_add_test(tc, test_two_runtimes);
	tcase_add_test(tc, test_cq_clamped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(runtime_suite());
}
