/*
 * Timer callbacks (uco/callback.h) against asyncio's loop.call_later
 * (peers/callbacks_asyncio.py, the same two figures):
 *
 *   arm_1M  (arm_100k with --quick), s: one task arms 1,000,000
 *           call_later(1 s) callbacks, keeping each handle (asyncio's
 *           call_later always hands one back); best of 3.  Between
 *           repetitions, untimed, every one is cancelled and released.
 *   run_1M  (run_100k), s: arm the same count with call_later(0),
 *           fire-and-forget, and wait until the last one has run (it sets
 *           a future); from the first arm to the wake-up; best of 3.
 *
 * One loop (uco_run's default: one core, its thread pinned).
 */
#include <errno.h>
#include <stdlib.h>

#include <uco/uco.h>

#include "bench.h"

#define REPS 3

/* The calling thread's CPU time, ns: on a shared machine, what the arming
 * itself cost, beside the wall time the figures are (stderr, the log). */
static uint64_t thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct run_state {
	long left;
	uco_future *done;
};

static void cb_nothing(void *arg)
{
	(void)arg;
}

static void cb_count(void *arg)
{
	struct run_state *s = arg;

	if (--s->left == 0)
		uco_future_set_result(s->done, NULL);
}

struct args {
	long n;
	const char *suffix;
};

static void *bench_main(void *p)
{
	struct args *a = p;
	long n = a->n;
	uco_callback **h = malloc((size_t)n * sizeof(*h));
	uint64_t best_arm = UINT64_MAX, best_run = UINT64_MAX;
	uint64_t cpu_arm = UINT64_MAX, cpu_run = UINT64_MAX;
	char name[32];

	if (!h)
		return uco_fail(-ENOMEM);
	for (int rep = 0; rep < REPS; rep++) {
		uint64_t c0 = thread_cpu(), t0 = bench_now(), t, c;

		for (long i = 0; i < n; i++)
			if (uco_call_later(UCO_NSEC_PER_SEC, cb_nothing, NULL,
					   &h[i]) < 0)
				return uco_fail(-ENOMEM);
		t = bench_now() - t0;
		c = thread_cpu() - c0;
		if (t < best_arm)
			best_arm = t;
		if (c < cpu_arm)
			cpu_arm = c;
		for (long i = 0; i < n; i++) {
			uco_callback_cancel(h[i]);
			uco_callback_release(h[i]);
		}
	}
	free(h);
	for (int rep = 0; rep < REPS; rep++) {
		struct run_state s = { .left = n };
		uint64_t t0, t, c0, c;

		if (uco_future_create(&s.done) < 0)
			return uco_fail(-ENOMEM);
		c0 = thread_cpu();
		t0 = bench_now();
		for (long i = 0; i < n; i++)
			if (uco_call_later(0, cb_count, &s, NULL) < 0)
				return uco_fail(-ENOMEM);
		if (uco_future_wait(s.done, NULL) < 0)
			return uco_fail(-EIO);
		t = bench_now() - t0;
		c = thread_cpu() - c0;
		if (t < best_run)
			best_run = t;
		if (c < cpu_run)
			cpu_run = c;
		uco_future_free(s.done);
	}
	/* Floating point only now, after the timed part (benchmarks/README.md,
	 * "MXCSR reloads"). */
	snprintf(name, sizeof(name), "arm_%s", a->suffix);
	bench_result("callbacks", name, (double)best_arm / 1e9, "s");
	snprintf(name, sizeof(name), "run_%s", a->suffix);
	bench_result("callbacks", name, (double)best_run / 1e9, "s");
	fprintf(stderr,
		"callbacks_bench: CPU time of the loop's thread (best of %d): "
		"arm %.3f s, run %.3f s\n",
		REPS, (double)cpu_arm / 1e9, (double)cpu_run / 1e9);
	return NULL;
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv);
	struct args a = { quick ? 100000 : 1000000, quick ? "100k" : "1M" };
	int r = uco_run(bench_main, &a, NULL, NULL);

	if (r < 0) {
		fprintf(stderr, "callbacks_bench: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
