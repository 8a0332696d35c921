/*
 * A task submits an IORING_OP_NOP and is resumed off its CQE: 64 tasks in
 * flight at once, per-op time.  The peer is a raw liburing loop keeping 64
 * NOPs in flight (peers/nop_liburing.c).
 */
#include <stdlib.h>

#include <uco/uco.h>

#include "bench.h"

#define TASKS 64

static void *worker(void *arg)
{
	long n = (long)arg;

	for (long i = 0; i < n; i++)
		if (uco_nop() < 0)
			return uco_fail(-1);
	return NULL;
}

static void *bench_main(void *p)
{
	long total = *(long *)p;
	uco_task *ts[TASKS];
	double best = 1e18;

	for (int rep = 0; rep < 5; rep++) {
		uint64_t t0 = bench_now();
		for (int i = 0; i < TASKS; i++)
			uco_spawn(&ts[i], worker, (void *)(total / TASKS), NULL);
		UCO_IGNORE(uco_gather(ts, TASKS, NULL, NULL));
		double ns = (double)(bench_now() - t0) / (double)total;
		for (int i = 0; i < TASKS; i++)
			uco_task_release(ts[i]);
		if (ns < best)
			best = ns;
	}
	bench_result("nop", "per_op_64_inflight", best, "ns");
	return NULL;
}

int main(int argc, char **argv)
{
	long total = bench_quick(argc, argv) ? 640000 : 6400000;

	return uco_run(bench_main, &total, NULL, NULL) < 0;
}
