/*
 * Suite "procpool": shared memory segments and the process pool
 * (include/uco/procpool.h).  Every test runs leak-checked (fds and bytes)
 * and then asserts that no child process is left, running or zombie.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "leakcheck.h"

static void no_children(void)
{
	siginfo_t si;
	int r;

	memset(&si, 0, sizeof(si));
	r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
	ck_assert_msg(r < 0 && errno == ECHILD,
		      "a child is left behind (pid %d)", (int)si.si_pid);
}

static void run(void (*body)(void *), void *arg)
{
	lc_run(body, arg, NULL);
	no_children();
}

/* ---- job functions (run in the workers) ---------------------------- */

/* The argument reversed. */
static ssize_t fn_reverse(const void *arg, size_t len, void *out, size_t cap)
{
	const char *a = arg;
	char *o = out;

	if (len > cap)
		return -EMSGSIZE;
	for (size_t i = 0; i < len; i++)
		o[i] = a[len - 1 - i];
	return (ssize_t)len;
}

/* The sum example: which segment, which chunk. */
struct chunk {
	char shm[64];
	size_t from, count; /* in uint32_t elements */
};

static ssize_t fn_sum(const void *arg, size_t len, void *out, size_t cap)
{
	const struct chunk *c = arg;
	uint64_t sum = 0;
	uco_shm *m;
	int r;

	if (len != sizeof(*c) || cap < sizeof(sum))
		return -EINVAL;
	r = uco_shm_attach(&m, c->shm);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->count; i++)
		sum += ((const uint32_t *)uco_shm_buf(m))[c->from + i];
	uco_shm_close(m);
	memcpy(out, &sum, sizeof(sum));
	return sizeof(sum);
}

static ssize_t fn_crash(const void *arg, size_t len, void *out, size_t cap)
{
	raise(SIGSEGV);
	return 0;
}

static ssize_t fn_exit(const void *arg, size_t len, void *out, size_t cap)
{
	_exit(3);
}

static ssize_t fn_error(const void *arg, size_t len, void *out, size_t cap)
{
	return -EDOM;
}

static ssize_t fn_too_much(const void *arg, size_t len, void *out, size_t cap)
{
	return (ssize_t)cap + 1;
}

/* Never returns: only a kill ends it. */
static ssize_t fn_forever(const void *arg, size_t len, void *out, size_t cap)
{
	for (;;)
		pause();
	return 0;
}

/* A deep frame: the worker runs fn on a big stack, not the task's. */
static ssize_t fn_deep_stack(const void *arg, size_t len, void *out,
			     size_t cap)
{
	volatile char big[1 << 20];

	for (size_t i = 0; i < sizeof(big); i += 4096)
		big[i] = (char)i;
	memcpy(out, "ok", 2);
	return big[4096] == (char)4096 ? 2 : -EIO;
}

static uco_procpool *pool_new(unsigned n)
{
	uco_procpool_opts o = { .workers = n };
	uco_procpool *p;

	ck_assert_int_eq(uco_procpool_create(&p, &o), 0);
	return p;
}

/* ---- shared memory --------------------------------------------------- */

static void body_shm(void *arg)
{
	uco_shm *a, *b, *c = (uco_shm *)1;
	char name[64];

	ck_assert_int_eq(uco_shm_create(&a, 1 << 20), 0);
	ck_assert_uint_eq(uco_shm_size(a), 1 << 20);
	ck_assert_int_eq(((char *)uco_shm_buf(a))[12345], 0);
	ck_assert_int_eq(uco_shm_attach(&b, uco_shm_name(a)), 0);
	ck_assert_uint_eq(uco_shm_size(b), 1 << 20);
	memcpy(uco_shm_buf(a), "shared", 6);
	ck_assert_int_eq(memcmp(uco_shm_buf(b), "shared", 6), 0);
	ck_assert_int_eq(uco_shm_unlink(b), -EPERM);
	snprintf(name, sizeof(name), "%s", uco_shm_name(a));
	ck_assert_int_eq(uco_shm_unlink(a), 0);
	ck_assert_int_eq(uco_shm_unlink(a), 0);
	ck_assert_int_eq(uco_shm_attach(&c, name), -ENOENT);
	ck_assert_ptr_null(c);
	/* The mappings outlive the name. */
	ck_assert_int_eq(memcmp(uco_shm_buf(b), "shared", 6), 0);
	uco_shm_close(a);
	ck_assert_int_eq(memcmp(uco_shm_buf(b), "shared", 6), 0);
	uco_shm_close(b);

	ck_assert_int_eq(uco_shm_create(&a, 0), -EINVAL);
	ck_assert_int_eq(uco_shm_create(NULL, 1), -EINVAL);
	ck_assert_int_eq(uco_shm_attach(&a, "nope"), -EINVAL);
	ck_assert_int_eq(uco_shm_attach(&a, "uco-shm.1.2.3x"), -EINVAL);
	ck_assert_int_eq(uco_shm_attach(&a, NULL), -EINVAL);
	/* A descriptor that is not the segment (inode differs). */
	snprintf(name, sizeof(name), "uco-shm.%d.0.1", (int)getpid());
	ck_assert_int_eq(uco_shm_attach(&a, name), -ENOENT);
	uco_shm_close(NULL);
}

START_TEST(shm_segments)
{
	run(body_shm, NULL);
}
END_TEST

/* ---- the sum over chunks: the example -------------------------------- */

#define N_ELEMS (4u << 20)
#define N_CHUNKS 16

static void body_sum(void *arg)
{
	uco_procpool *pool = pool_new(2);
	uco_procpool_job *jobs[N_CHUNKS];
	uint64_t expect = 0, total = 0;
	uint32_t *v;
	uco_shm *m;

	ck_assert_int_eq(uco_shm_create(&m, N_ELEMS * sizeof(uint32_t)), 0);
	v = uco_shm_buf(m);
	for (uint32_t i = 0; i < N_ELEMS; i++) {
		v[i] = i * 2654435761u;
		expect += v[i];
	}
	for (int i = 0; i < N_CHUNKS; i++) {
		struct chunk c = { .from = (size_t)i * (N_ELEMS / N_CHUNKS),
				   .count = N_ELEMS / N_CHUNKS };

		snprintf(c.shm, sizeof(c.shm), "%s", uco_shm_name(m));
		ck_assert_int_eq(uco_procpool_submit(pool, &jobs[i], fn_sum, &c,
						     sizeof(c)),
				 0);
	}
	for (int i = 0; i < N_CHUNKS; i++) {
		uint64_t part;

		ck_assert_int_eq(uco_procpool_job_wait(jobs[i]), sizeof(part));
		memcpy(&part, uco_procpool_job_result(jobs[i]), sizeof(part));
		total += part;
		uco_procpool_job_free(jobs[i]);
	}
	ck_assert_uint_eq(total, expect);
	uco_shm_close(m);
	ck_assert_int_eq(uco_procpool_stop(pool, false), 0);
	uco_procpool_free(pool);
}

START_TEST(sum_over_chunks)
{
	run(body_sum, NULL);
}
END_TEST

/* ---- many small jobs, bytes both ways -------------------------------- */

#define N_JOBS 1000

static void body_many(void *arg)
{
	uco_procpool *pool = pool_new(3);
	static uco_procpool_job *jobs[N_JOBS];
	char in[64];

	for (int i = 0; i < N_JOBS; i++) {
		int n = snprintf(in, sizeof(in), "job %d", i);

		ck_assert_int_eq(uco_procpool_submit(pool, &jobs[i], fn_reverse,
						     in, (size_t)n),
				 0);
	}
	for (int i = 0; i < N_JOBS; i++) {
		int n = snprintf(in, sizeof(in), "job %d", i);
		const char *out;

		LC_CHECK(uco_procpool_job_wait(jobs[i]) == n, "job %d", i);
		out = uco_procpool_job_result(jobs[i]);
		for (int k = 0; k < n; k++)
			LC_CHECK(out[k] == in[n - 1 - k], "job %d byte %d", i,
				 k);
		uco_procpool_job_free(jobs[i]);
	}
	/* An empty argument and an empty result. */
	ck_assert_int_eq(uco_procpool_submit(pool, &jobs[0], fn_reverse, NULL,
					     0),
			 0);
	ck_assert_int_eq(uco_procpool_job_wait(jobs[0]), 0);
	ck_assert_ptr_null(uco_procpool_job_result(jobs[0]));
	uco_procpool_job_free(jobs[0]);
	/* fn runs on a big stack. */
	ck_assert_int_eq(uco_procpool_submit(pool, &jobs[0], fn_deep_stack,
					     NULL, 0),
			 0);
	ck_assert_int_eq(uco_procpool_job_wait(jobs[0]), 2);
	uco_procpool_job_free(jobs[0]);
	uco_procpool_free(pool);
}

START_TEST(many_jobs)
{
	run(body_many, NULL);
}
END_TEST

/* ---- faults ---------------------------------------------------------- */

static void body_faults(void *arg)
{
	uco_procpool *pool = pool_new(1);
	uco_procpool_job *j;

	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_crash, NULL, 0), 0);
	ck_assert_int_eq(uco_procpool_job_wait(j), -EOWNERDEAD);
	uco_procpool_job_free(j);
	/* Replaced: the one worker runs the next job. */
	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_reverse, "ab", 2),
			 0);
	ck_assert_int_eq(uco_procpool_job_wait(j), 2);
	ck_assert_int_eq(memcmp(uco_procpool_job_result(j), "ba", 2), 0);
	uco_procpool_job_free(j);
	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_exit, NULL, 0), 0);
	ck_assert_int_eq(uco_procpool_job_wait(j), -EOWNERDEAD);
	uco_procpool_job_free(j);
	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_error, NULL, 0), 0);
	ck_assert_int_eq(uco_procpool_job_wait(j), -EDOM);
	uco_procpool_job_free(j);
	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_too_much, NULL, 0),
			 0);
	ck_assert_int_eq(uco_procpool_job_wait(j), -EMSGSIZE);
	uco_procpool_job_free(j);
	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_reverse, "xyz", 3),
			 0);
	ck_assert_int_eq(uco_procpool_job_wait(j), 3);
	uco_procpool_job_free(j);
	uco_procpool_free(pool);
}

START_TEST(worker_faults)
{
	run(body_faults, NULL);
}
END_TEST

/* ---- cancellation, timeouts, stopping -------------------------------- */

static void body_cancel(void *arg)
{
	uco_procpool *pool = pool_new(1);
	uco_procpool_job *running, *queued, *j;
	int scope;

	ck_assert_int_eq(uco_procpool_submit(pool, &running, fn_forever, NULL,
					     0),
			 0);
	ck_assert_int_eq(uco_procpool_submit(pool, &queued, fn_reverse, "q", 1),
			 0);
	/* The queued one, behind the endless one on the only worker. */
	ck_assert_int_eq(uco_procpool_job_cancel(queued), 0);
	ck_assert_int_eq(uco_procpool_job_wait(queued), -ECANCELED);
	/* A wait that times out cancels the job: its worker is killed. */
	scope = uco_timeout_begin(20 * UCO_NSEC_PER_MSEC);
	ck_assert_int_eq(uco_procpool_job_wait(running), -ETIMEDOUT);
	uco_timeout_end(scope);
	ck_assert_int_eq(uco_procpool_job_wait(running), -ECANCELED);
	uco_procpool_job_free(running);
	uco_procpool_job_free(queued);
	/* The worker was replaced. */
	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_reverse, "ok", 2), 0);
	ck_assert_int_eq(uco_procpool_job_wait(j), 2);
	uco_procpool_job_free(j);
	/* Freeing a job that runs forever kills its worker too. */
	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_forever, NULL, 0), 0);
	ck_assert_int_eq(uco_yield(), 0);
	uco_procpool_job_free(j);
	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_reverse, "ok", 2), 0);
	ck_assert_int_eq(uco_procpool_job_wait(j), 2);
	uco_procpool_job_free(j);
	uco_procpool_free(pool);
}

/* A task cancelled while waiting for a job: the job is cancelled with
 * it, its worker killed and replaced. */
static void *wait_job(void *arg)
{
	return (void *)(intptr_t)uco_procpool_job_wait(arg);
}

static void body_wait_cancelled(void *arg)
{
	uco_procpool *pool = pool_new(1);
	uco_procpool_job *j;
	uco_task *t;
	void *res;

	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_forever, NULL, 0), 0);
	ck_assert_int_eq(uco_spawn(&t, wait_job, j,
				   &(uco_spawn_opts){ .name = "jobwaiter" }),
			 0);
	ck_assert_int_eq(uco_yield(), 0);
	th_await_waiting_on("jobwaiter", "future");
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	uco_task_release(t);
	ck_assert_int_eq((int)(intptr_t)res, -ECANCELED);
	ck_assert_int_eq(uco_procpool_job_wait(j), -ECANCELED);
	uco_procpool_job_free(j);
	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_reverse, "ok", 2), 0);
	ck_assert_int_eq(uco_procpool_job_wait(j), 2);
	uco_procpool_job_free(j);
	uco_procpool_free(pool);
}

START_TEST(wait_cancelled)
{
	run(body_wait_cancelled, NULL);
}
END_TEST

START_TEST(cancel_and_timeout)
{
	run(body_cancel, NULL);
}
END_TEST

static void body_stop(void *arg)
{
	uco_procpool *pool = pool_new(2);
	uco_procpool_job *j[10], *x;

	/* Drain: every queued job runs. */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(uco_procpool_submit(pool, &j[i], fn_reverse,
						     "abc", 3),
				 0);
	ck_assert_int_eq(uco_procpool_stop(pool, false), 0);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(uco_procpool_job_wait(j[i]), 3);
		uco_procpool_job_free(j[i]);
	}
	ck_assert_int_eq(uco_procpool_submit(pool, &x, fn_reverse, "a", 1),
			 -ESHUTDOWN);
	ck_assert_int_eq(uco_procpool_stop(pool, true), 0);
	uco_procpool_free(pool);

	/* Cancel: running and queued jobs end with -ECANCELED. */
	pool = pool_new(2);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(uco_procpool_submit(pool, &j[i], fn_forever,
						     NULL, 0),
				 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_procpool_stop(pool, true), 0);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(uco_procpool_job_wait(j[i]), -ECANCELED);
		uco_procpool_job_free(j[i]);
	}
	uco_procpool_free(pool);

	/* Freed with jobs still queued, no stop first. */
	pool = pool_new(1);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uco_procpool_submit(pool, &j[i], fn_forever,
						     NULL, 0),
				 0);
	uco_procpool_free(pool);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uco_procpool_job_wait(j[i]), -ECANCELED);
		uco_procpool_job_free(j[i]);
	}
}

START_TEST(stop_drain_and_cancel)
{
	run(body_stop, NULL);
}
END_TEST

static void body_bad_args(void *arg)
{
	uco_procpool *pool = (uco_procpool *)1;
	uco_procpool_job *j = (uco_procpool_job *)1;

	ck_assert_int_eq(uco_procpool_create(NULL, NULL), -EINVAL);
	pool = pool_new(1);
	ck_assert_int_eq(uco_procpool_submit(pool, &j, NULL, NULL, 0), -EINVAL);
	ck_assert_ptr_null(j);
	ck_assert_int_eq(uco_procpool_submit(pool, &j, fn_reverse, NULL, 3),
			 -EINVAL);
	ck_assert_int_eq(uco_procpool_submit(NULL, &j, fn_reverse, NULL, 0),
			 -EINVAL);
	ck_assert_int_eq(uco_procpool_job_wait(NULL), -EINVAL);
	ck_assert_int_eq(uco_procpool_job_cancel(NULL), -EINVAL);
	ck_assert_int_eq(uco_procpool_stop(NULL, false), -EINVAL);
	uco_procpool_job_free(NULL);
	uco_procpool_free(pool);
	uco_procpool_free(NULL);
}

START_TEST(bad_arguments)
{
	uco_procpool *p = (uco_procpool *)1;

	/* Outside uco_run. */
	ck_assert_int_eq(uco_procpool_create(&p, NULL), -EPERM);
	ck_assert_ptr_null(p);
	run(body_bad_args, NULL);
}
END_TEST

static Suite *procpool_suite(void)
{
	Suite *s = suite_create("procpool");
	TCase *tc = tcase_create("procpool");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, shm_segments);
	tcase_add_test(tc, sum_over_chunks);
	tcase_add_test(tc, many_jobs);
	tcase_add_test(tc, worker_faults);
	tcase_add_test(tc, cancel_and_timeout);
	tcase_add_test(tc, wait_cancelled);
	tcase_add_test(tc, stop_drain_and_cancel);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(procpool_suite());
}
