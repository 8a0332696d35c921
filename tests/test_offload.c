/*
 * Suite "offload": uco_to_thread (asyncio.to_thread).
 *
 *   - returns fn's result, runs fn on a pool thread, not the loop's;
 *   - many concurrent calls, and the pool really runs offload_threads of
 *     them at once;
 *   - a caller cancelled (or timed out) mid-call gets -ECANCELED
 *     (-ETIMEDOUT) at once while fn is still blocked; fn finishes later and
 *     `cleanup` runs on the caller's loop, so nothing leaks;
 *   - a call cut short while still queued is taken off the queue: its
 *     cleanup runs at once with a NULL result, and fn never runs;
 *   - the loop keeps running other tasks while fn blocks;
 *   - uco_run waits for abandoned calls before it returns.
 *
 * The blocking functions block on pipes and barriers the test controls,
 * never on a sleep.  Their argument is malloc()ed and freed by `cleanup`,
 * so a cleanup that never runs is a leak LeakSanitizer reports (ASan
 * build) and jemalloc's statistics show (leakcheck.h).
 */
#include "harness.h"
#include "leakcheck.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

/* ---- a blocking function the test controls --------------------------- */

struct blk {
	atomic_int ran; /* fn has started */
	int started;  /* fn writes a byte here when it starts (or -1) */
	int release;  /* fn blocks reading a byte from here */
	void *ret;
};

static atomic_int g_fn_returned;
static atomic_int g_cleanups;
static pthread_t g_loop_thread;
static uco_future *g_cleanup_done; /* completed by the cleanup, if set */

static void *blocker(void *arg)
{
	struct blk *b = arg;
	char c = 1;

	ck_assert(!pthread_equal(pthread_self(), g_loop_thread));
	atomic_store(&b->ran, 1);
	if (b->started >= 0)
		ck_assert_int_eq(write(b->started, &c, 1), 1);
	ck_assert_int_eq(read(b->release, &c, 1), 1);
	atomic_fetch_add(&g_fn_returned, 1);
	return b->ret;
}

static void blk_cleanup(void *arg, void *result)
{
	struct blk *b = arg;

	/* On the caller's loop; after fn returned, with fn's result, or with
	 * NULL if the call was cut short while still queued (fn never runs:
	 * a loaded pool may not have started it yet). */
	ck_assert(pthread_equal(pthread_self(), g_loop_thread));
	if (atomic_load(&b->ran)) {
		ck_assert_int_eq(atomic_load(&g_fn_returned), 1);
		ck_assert_ptr_eq(result, b->ret);
	} else {
		ck_assert_ptr_null(result);
	}
	free(b);
	atomic_fetch_add(&g_cleanups, 1);
	if (g_cleanup_done)
		ck_assert_int_eq(uco_future_set_result(g_cleanup_done, NULL), 0);
}

/* Start of every test body: a body may run twice (warm-up, measure). */
static void reset(void)
{
	g_loop_thread = pthread_self();
	atomic_store(&g_fn_returned, 0);
	atomic_store(&g_cleanups, 0);
	g_cleanup_done = NULL;
}

static struct blk *blk_new(int started, int release, void *ret)
{
	struct blk *b = malloc(sizeof(*b));

	ck_assert_ptr_nonnull(b);
	atomic_init(&b->ran, 0);
	b->started = started;
	b->release = release;
	b->ret = ret;
	return b;
}

/* Pool-side helper: wait for one byte on fd. */
static void *read_byte(void *arg)
{
	char c;

	return (void *)(intptr_t)read((int)(intptr_t)arg, &c, 1);
}

/* Wait (without blocking the loop) until a blocker has started. */
static void await_started(int fd)
{
	void *res = NULL;

	ck_assert_int_eq(uco_to_thread(read_byte, (void *)(intptr_t)fd, &res,
				       NULL), 0);
	ck_assert_ptr_eq(res, (void *)1);
}

static void release(int fd)
{
	char c = 1;

	ck_assert_int_eq(write(fd, &c, 1), 1);
}

static void make_pipe(int p[2])
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
}

static void close_pipe(int p[2])
{
	close(p[0]);
	close(p[1]);
}

static void warm_pool(void);

/* ---- results --------------------------------------------------------- */

static void *plus_one(void *arg)
{
	ck_assert(!pthread_equal(pthread_self(), g_loop_thread));
	return (void *)((intptr_t)arg + 1);
}

static void count_refused(void *arg, void *result)
{
	ck_assert_ptr_null(result);
	(*(int *)arg)++;
}

/* Cancelled before it runs: its uco_to_thread is refused. */
static void *refused_task(void *arg)
{
	ck_assert_int_eq(uco_to_thread(plus_one, arg, NULL, count_refused),
			 -ECANCELED);
	return NULL;
}

static void body_result(void *arg)
{
	void *res = NULL;

	(void)arg;
	reset();
	ck_assert_int_eq(uco_to_thread(plus_one, (void *)41, &res, NULL), 0);
	ck_assert_ptr_eq(res, (void *)42);
	/* result may be NULL; fn must not be. */
	ck_assert_int_eq(uco_to_thread(plus_one, NULL, NULL, NULL), 0);
	ck_assert_int_eq(uco_to_thread(NULL, NULL, &res, NULL), -EINVAL);
	/* A result that looks like an errno is still a result. */
	ck_assert_int_eq(uco_to_thread(plus_one, (void *)-6, &res, NULL), 0);
	ck_assert_ptr_eq(res, (void *)-5);
	/* cleanup is only for abandoned calls. */
	{
		int rel[2];
		struct blk *b;

		make_pipe(rel);
		release(rel[1]);
		b = blk_new(-1, rel[0], (void *)7);
		ck_assert_int_eq(uco_to_thread(blocker, b, &res, blk_cleanup), 0);
		ck_assert_ptr_eq(res, (void *)7);
		ck_assert_int_eq(atomic_load(&g_cleanups), 0);
		free(b); /* the caller's to free when the call completed */
		close_pipe(rel);
	}
	/* Refused before fn starts (already cancelled, bad fn): the cleanup
	 * gets arg back at once, with a NULL result, exactly once. */
	{
		int calls = 0;
		uco_task *t;

		ck_assert_int_eq(uco_to_thread(NULL, &calls, &res, count_refused),
				 -EINVAL);
		ck_assert_int_eq(calls, 1);
		ck_assert_int_eq(uco_spawn(&t, refused_task, &calls, NULL), 0);
		ck_assert_int_eq(uco_cancel(t), 0);
		ck_assert_int_eq(uco_join(t, NULL), 0);
		uco_task_release(t);
		ck_assert_int_eq(calls, 2);
	}
}

START_TEST(test_result)
{
	th_run(body_result, NULL, NULL);
}
END_TEST

/* ---- many calls ---------------------------------------------------------- */

#define NCALLERS 64
#define NCALLS 20

static void *caller(void *arg)
{
	intptr_t base = (intptr_t)arg * 1000;

	for (intptr_t i = 0; i < NCALLS; i++) {
		void *res = NULL;

		ck_assert_int_eq(uco_to_thread(plus_one, (void *)(base + i), &res,
					       NULL), 0);
		ck_assert_ptr_eq(res, (void *)(base + i + 1));
	}
	return NULL;
}

static void body_many(void *arg)
{
	uco_task *t[NCALLERS];

	(void)arg;
	reset();
	for (intptr_t i = 0; i < NCALLERS; i++)
		ck_assert_int_eq(uco_spawn(&t[i], caller, (void *)i, NULL), 0);
	for (int i = 0; i < NCALLERS; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
}

START_TEST(test_many_concurrent)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.offload_threads = 4;
	warm_pool();
	lc_run(body_many, NULL, &cfg);
}
END_TEST

/* offload_threads calls meet at a barrier: it only opens if the pool runs
 * them all at the same time. */
#define NPOOL 4
static pthread_barrier_t g_barrier;

static void *meet(void *arg)
{
	pthread_barrier_wait(&g_barrier);
	return arg;
}

/* Says which thread ran it. */
static void *meet_one(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)gettid();
}

static void *meet_caller(void *arg)
{
	void *res = NULL;

	ck_assert_int_eq(uco_to_thread(meet, arg, &res, NULL), 0);
	ck_assert_ptr_eq(res, arg);
	return NULL;
}

static void body_parallel(void *arg)
{
	uco_task *t[NPOOL];

	(void)arg;
	for (intptr_t i = 0; i < NPOOL; i++)
		ck_assert_int_eq(uco_spawn(&t[i], meet_caller, (void *)i, NULL), 0);
	for (int i = 0; i < NPOOL; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
}

/* With the default configuration (NPOOL offload threads), one call per
 * pool thread at once. */
static void warm_pool(void)
{
	uco_config cfg;

	uco_config_init(&cfg);
	ck_assert_uint_eq(cfg.offload_threads, NPOOL);
	pthread_barrier_init(&g_barrier, NULL, NPOOL);
	th_run(body_parallel, NULL, &cfg);
	pthread_barrier_destroy(&g_barrier);
}

START_TEST(test_pool_parallel)
{
	warm_pool();
}
END_TEST

/*
 * Go round the loop until thread tid is asleep in futex(2): a pool thread
 * that has finished its call blocks nowhere else (its mutex is not
 * contended here), so it is then waiting for work.  The kernel shows the
 * system call a thread is blocked in in /proc/self/task/TID/syscall.
 * Fails after 10 s, only against a hang.
 */
static void await_blocked(pid_t tid)
{
	uint64_t deadline = uco_now() + 10 * UCO_NSEC_PER_SEC;
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	for (;;) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t k;

		ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
		k = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		ck_assert_int_gt(k, 0);
		buf[k] = '\0';
		if (atoi(buf) == SYS_futex)
			return;
		ck_assert_msg(uco_now() < deadline,
			      "pool thread %d never went back to waiting: %s",
			      (int)tid, buf);
		ck_assert_int_eq(uco_nop(), 0);
	}
}

/*
 * The same once the pool has a thread idle from an earlier call: the calls
 * must not queue up behind the one idle thread while the pool may still
 * grow (they would wait at the barrier forever).
 */
static void body_parallel_after_idle(void *arg)
{
	void *res;

	(void)arg;
	ck_assert_int_eq(uco_to_thread(meet_one, NULL, &res, NULL), 0);
	/* Wait until the pool thread is back waiting for work: the state
	 * this test is about. */
	await_blocked((pid_t)(intptr_t)res);
	body_parallel(NULL);
}

START_TEST(test_pool_grows_past_idle)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.offload_threads = NPOOL;
	pthread_barrier_init(&g_barrier, NULL, NPOOL);
	for (int i = 0; i < 20; i++)
		th_run(body_parallel_after_idle, NULL, &cfg);
	pthread_barrier_destroy(&g_barrier);
}
END_TEST

/* ---- cancelled mid-call ---------------------------------------------- */

static int g_caller_r = 1;

static void *offload_caller(void *b)
{
	void *res = (void *)0xdead;

	g_caller_r = uco_to_thread(blocker, b, &res, blk_cleanup);
	ck_assert_ptr_eq(res, (void *)0xdead); /* untouched when abandoned */
	return g_caller_r < 0 ? uco_fail(g_caller_r) : res;
}

static void body_cancel_midcall(void *arg)
{
	int started[2], rel[2];
	uco_task *t;

	(void)arg;
	reset();
	g_caller_r = 1;
	make_pipe(started);
	make_pipe(rel);
	ck_assert_int_eq(uco_future_create(&g_cleanup_done), 0);
	ck_assert_int_eq(uco_spawn(&t, offload_caller,
				   blk_new(started[1], rel[0], (void *)0xb10c),
				   NULL), 0);
	await_started(started[0]);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);

	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	ck_assert_int_eq(g_caller_r, -ECANCELED);
	/* The caller is gone while fn is still blocked in read(). */
	ck_assert_int_eq(atomic_load(&g_fn_returned), 0);
	ck_assert_int_eq(atomic_load(&g_cleanups), 0);
	uco_task_release(t);

	/* Let fn finish: its result goes to the cleanup, on this loop. */
	release(rel[1]);
	ck_assert_int_eq(uco_future_wait(g_cleanup_done, NULL), 0);
	ck_assert_int_eq(atomic_load(&g_fn_returned), 1);
	ck_assert_int_eq(atomic_load(&g_cleanups), 1);
	uco_future_free(g_cleanup_done);
	g_cleanup_done = NULL;
	close_pipe(started);
	close_pipe(rel);
}

START_TEST(test_cancel_midcall)
{
	warm_pool();
	lc_run(body_cancel_midcall, NULL, NULL);
}
END_TEST

/* ---- timed out mid-call ------------------------------------------------ */

static int to_thread_blocker(void *b)
{
	return uco_to_thread(blocker, b, NULL, blk_cleanup);
}

static void body_timeout(void *arg)
{
	int rel[2];
	int scope;
	uint64_t t0;

	(void)arg;
	reset();
	make_pipe(rel);
	ck_assert_int_eq(uco_future_create(&g_cleanup_done), 0);

	/* A timeout scope around the call. */
	t0 = uco_now();
	scope = uco_timeout_begin(20 * UCO_NSEC_PER_MSEC);
	ck_assert_int_ge(scope, 0);
	ck_assert_int_eq(uco_to_thread(blocker, blk_new(-1, rel[0], (void *)1),
				       NULL, blk_cleanup), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(scope), -ETIMEDOUT);
	/* Generous bound: it returned at the deadline, not when fn did. */
	ck_assert_uint_lt(uco_now() - t0, 5 * UCO_NSEC_PER_SEC);
	ck_assert_int_eq(atomic_load(&g_fn_returned), 0);
	/* Still queued when the timer fired (a slow machine), the call was
	 * taken off the queue and cleaned up at once; else fn waits for us. */
	if (atomic_load(&g_cleanups) == 0)
		release(rel[1]);
	ck_assert_int_eq(uco_future_wait(g_cleanup_done, NULL), 0);
	uco_future_free(g_cleanup_done);

	/* And uco_wait_for around it. */
	atomic_store(&g_fn_returned, 0);
	ck_assert_int_eq(uco_future_create(&g_cleanup_done), 0);
	ck_assert_int_eq(uco_wait_for(20 * UCO_NSEC_PER_MSEC, to_thread_blocker,
				      blk_new(-1, rel[0], (void *)2)),
			 -ETIMEDOUT);
	ck_assert_int_eq(atomic_load(&g_fn_returned), 0);
	if (atomic_load(&g_cleanups) == 1)
		release(rel[1]);
	ck_assert_int_eq(uco_future_wait(g_cleanup_done, NULL), 0);
	uco_future_free(g_cleanup_done);
	g_cleanup_done = NULL;
	ck_assert_int_eq(atomic_load(&g_cleanups), 2);
	close_pipe(rel);
}

START_TEST(test_timeout)
{
	warm_pool();
	lc_run(body_timeout, NULL, NULL);
}
END_TEST

/* ---- cut short while still queued ------------------------------------- */

/*
 * A pool of one thread, kept busy by a call that blocks until the test
 * lets it go; a second call queues behind it and is cancelled (or times
 * out) there.  Its cleanup must have run with a NULL result before the
 * cancel returned (the caller's arg is back at once), and its fn must
 * never run, not even once the busy call has ended: on the old code the
 * job stayed queued, fn ran after the busy call, and the cleanup came only
 * then, with fn's result.
 */
static atomic_int g_never_ran;

static void *never(void *arg)
{
	atomic_fetch_add(&g_never_ran, 1);
	return arg;
}

static void queued_cleanup(void *arg, void *result)
{
	ck_assert(pthread_equal(pthread_self(), g_loop_thread));
	ck_assert_ptr_null(result);
	/* Outside any task, even when it runs inside a uco_cancel(): it
	 * cannot suspend the cancelling task half-way. */
	ck_assert_ptr_null(uco_current());
	ck_assert_int_eq(uco_nop(), -EPERM);
	free(arg);
	atomic_fetch_add(&g_cleanups, 1);
}

static void *queued_caller(void *arg)
{
	int *r = arg;

	*r = uco_to_thread(never, malloc(16), NULL, queued_cleanup);
	return NULL;
}

static void *queued_timed(void *arg)
{
	int *r = arg;
	int s = uco_timeout_begin(UCO_NSEC_PER_MSEC);

	*r = uco_to_thread(never, malloc(16), NULL, queued_cleanup);
	uco_timeout_end(s);
	return NULL;
}

static void *busy_caller(void *arg)
{
	void *res = NULL;

	ck_assert_int_eq(uco_to_thread(blocker, arg, &res, NULL), 0);
	ck_assert_ptr_eq(res, (void *)0xb5);
	free(arg);
	return NULL;
}

static void body_cut_short_queued(void *timed)
{
	int started[2], rel[2], r = 1;
	uco_task *busy, *t;

	reset();
	atomic_store(&g_never_ran, 0);
	make_pipe(started);
	make_pipe(rel);
	ck_assert_int_eq(uco_spawn(&busy, busy_caller,
				   blk_new(started[1], rel[0], (void *)0xb5),
				   NULL), 0);
	/* The one pool thread is in blocker() once this byte comes (read
	 * from the loop, not the pool: the pool has no thread to spare). */
	{
		char c;

		ck_assert_int_eq(uco_read(started[0], &c, 1, -1), 1);
	}
	ck_assert_int_eq(uco_spawn(&t, timed ? queued_timed : queued_caller,
				   &r, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	if (timed) {
		/* Its scope's timer cuts it short. */
		ck_assert_int_eq(uco_join(t, NULL), 0);
		ck_assert_int_eq(r, -ETIMEDOUT);
	} else {
		ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
		ck_assert_int_eq(atomic_load(&g_cleanups), 0);
		ck_assert_int_eq(uco_cancel(t), 0);
		/* The cleanup ran inside the cancel. */
		ck_assert_int_eq(atomic_load(&g_cleanups), 1);
		ck_assert_int_eq(uco_join(t, NULL), 0);
		ck_assert_int_eq(r, -ECANCELED);
	}
	ck_assert_int_eq(atomic_load(&g_cleanups), 1);
	uco_task_release(t);

	/* End the busy call, then run one more call through the same single
	 * thread: everything queued before it has been taken by then. */
	release(rel[1]);
	ck_assert_int_eq(uco_join(busy, NULL), 0);
	uco_task_release(busy);
	{
		void *res = NULL;

		ck_assert_int_eq(uco_to_thread(plus_one, (void *)1, &res, NULL),
				 0);
		ck_assert_ptr_eq(res, (void *)2);
	}
	ck_assert_int_eq(atomic_load(&g_never_ran), 0);
	ck_assert_int_eq(atomic_load(&g_cleanups), 1);
	close_pipe(started);
	close_pipe(rel);
}

static uco_config one_thread(void)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.offload_threads = 1;
	return cfg;
}

START_TEST(test_cancel_queued_never_runs)
{
	uco_config cfg = one_thread();

	lc_run(body_cut_short_queued, NULL, &cfg);
}
END_TEST

START_TEST(test_timeout_queued_never_runs)
{
	uco_config cfg = one_thread();

	lc_run(body_cut_short_queued, (void *)1, &cfg);
}
END_TEST

/* ---- the loop runs on -------------------------------------------------- */

static int g_ticks;

static void *ticker(void *arg)
{
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(uco_nop(), 0);
		ck_assert_int_eq(uco_yield(), 0);
		g_ticks++;
	}
	/* Only now may the blocked function return. */
	release((int)(intptr_t)arg);
	return NULL;
}

static void body_not_blocking(void *arg)
{
	int rel[2];
	uco_task *t;
	struct blk *b;
	void *res = NULL;

	(void)arg;
	reset();
	make_pipe(rel);
	ck_assert_int_eq(uco_spawn(&t, ticker, (void *)(intptr_t)rel[1], NULL),
			 0);
	b = blk_new(-1, rel[0], (void *)3);
	ck_assert_int_eq(uco_to_thread(blocker, b, &res, blk_cleanup), 0);
	free(b);
	ck_assert_ptr_eq(res, (void *)3);
	ck_assert_int_eq(g_ticks, 100);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	close_pipe(rel);
	/* Not abandoned: no cleanup call. */
	ck_assert_int_eq(atomic_load(&g_cleanups), 0);
}

START_TEST(test_loop_not_blocked)
{
	th_run(body_not_blocking, NULL, NULL);
}
END_TEST

/* ---- shutdown waits for abandoned calls ----------------------------------- */

struct abandon_ctx {
	int started[2], rel[2];
};

static void *abandon_main(void *arg)
{
	struct abandon_ctx *c = arg;
	uco_task *t;

	reset();
	ck_assert_int_eq(uco_spawn(&t, offload_caller,
				   blk_new(c->started[1], c->rel[0], (void *)9),
				   NULL), 0);
	await_started(c->started[0]);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ECANCELED);
	uco_task_release(t);
	ck_assert_int_eq(atomic_load(&g_fn_returned), 0);
	/* fn may return from now on, while the runtime shuts down: uco_run
	 * must wait for it and run its cleanup before returning. */
	release(c->rel[1]);
	return NULL;
}

START_TEST(test_shutdown_waits)
{
	struct abandon_ctx c;

	make_pipe(c.started);
	make_pipe(c.rel);
	ck_assert_int_eq(uco_run(abandon_main, &c, NULL, NULL), 0);
	ck_assert_int_eq(atomic_load(&g_fn_returned), 1);
	ck_assert_int_eq(atomic_load(&g_cleanups), 1);
	close_pipe(c.started);
	close_pipe(c.rel);
}
END_TEST

static Suite *offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_result);
	tcase_add_test(tc, test_many_concurrent);
	tcase_add_test(tc, test_pool_parallel);
	tcase_add_test(tc, test_pool_grows_past_idle);
	tcase_add_test(tc, test_cancel_midcall);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_cancel_queued_never_runs);
	tcase_add_test(tc, test_timeout_queued_never_runs);
	tcase_add_test(tc, test_loop_not_blocked);
	tcase_add_test(tc, test_shutdown_waits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(offload_suite());
}
