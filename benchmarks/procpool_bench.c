/*
 * The process pool (uco/procpool.h), group "procpool":
 *   roundtrip_empty  us per empty job, submitted and awaited one at a time
 *                    on a pool of one worker (the pipe round trip and the
 *                    bookkeeping); peers/procpool_python.py measures
 *                    Python's ProcessPoolExecutor the same way;
 *   cpu_1w, cpu_2w   CPU-bound jobs per second (each ~40M rounds of an
 *                    integer hash, 8 jobs at once) on 1 and on 2 workers:
 *                    their ratio is the speed-up on this machine's 2
 *                    cores (printed on its own line too).
 * Best of 3 rounds (2 with --quick).  Not pinned: the workers need both
 * CPUs.
 *
 *   procpool_bench [--quick]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <uco/uco.h>

#include "bench.h"

static ssize_t fn_empty(const void *arg, size_t len, void *out, size_t cap)
{
	return 0;
}

static ssize_t fn_hash(const void *arg, size_t len, void *out, size_t cap)
{
	uint64_t x = 88172645463325252ull;

	for (uint32_t i = 0; i < 40u * 1000 * 1000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	memcpy(out, &x, sizeof(x));
	return sizeof(x);
}

static int quick;

static double roundtrip_us(void)
{
	uco_procpool_opts o = { .workers = 1 };
	int n = quick ? 2000 : 20000;
	uco_procpool *pool;
	uint64_t t0;

	if (uco_procpool_create(&pool, &o) < 0)
		abort();
	t0 = bench_now();
	for (int i = 0; i < n; i++) {
		uco_procpool_job *j;

		if (uco_procpool_submit(pool, &j, fn_empty, NULL, 0) < 0 ||
		    uco_procpool_job_wait(j) != 0)
			abort();
		uco_procpool_job_free(j);
	}
	t0 = bench_now() - t0;
	uco_procpool_free(pool);
	return (double)t0 / 1e3 / n;
}

static double cpu_jobs_per_s(unsigned workers)
{
	uco_procpool_opts o = { .workers = workers };
	uco_procpool_job *j[8];
	uco_procpool *pool;
	uint64_t t0;

	if (uco_procpool_create(&pool, &o) < 0)
		abort();
	t0 = bench_now();
	for (int i = 0; i < 8; i++)
		if (uco_procpool_submit(pool, &j[i], fn_hash, NULL, 0) < 0)
			abort();
	for (int i = 0; i < 8; i++) {
		if (uco_procpool_job_wait(j[i]) != 8)
			abort();
		uco_procpool_job_free(j[i]);
	}
	t0 = bench_now() - t0;
	uco_procpool_free(pool);
	return 8 / ((double)t0 / 1e9);
}

static void *bench_main(void *arg)
{
	double rt = 1e30, c1 = 0, c2 = 0;

	for (int r = 0; r < (quick ? 2 : 3); r++) {
		double v = roundtrip_us();

		if (v < rt)
			rt = v;
		v = cpu_jobs_per_s(1);
		if (v > c1)
			c1 = v;
		v = cpu_jobs_per_s(2);
		if (v > c2)
			c2 = v;
	}
	bench_result("procpool", "roundtrip_empty", rt, "us");
	bench_result("procpool", "cpu_1w", c1, "jobs/s");
	bench_result("procpool", "cpu_2w", c2, "jobs/s");
	printf("procpool: speed-up of 2 workers over 1 on a CPU-bound job: "
	       "%.2fx\n", c2 / c1);
	return NULL;
}

int main(int argc, char **argv)
{
	quick = bench_quick(argc, argv);
	return uco_run(bench_main, NULL, NULL, NULL) ? 1 : 0;
}
