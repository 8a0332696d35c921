/*
 * Spawn + join of an empty task, the cost of a task's whole life.
 *
 *   spawn_join        one at a time: spawn, join, release (per task)
 *   spawn_join_batch  100,000 spawned, then all joined (per task)
 */
#include <stdlib.h>

#include <uco/uco.h>

#include "bench.h"

struct args {
	long n;
	int quick;
};

static void *empty(void *arg)
{
	return arg;
}

static void *bench_main(void *p)
{
	struct args *a = p;
	double best = 1e18, best_batch = 1e18;
	const long batch = 100000;
	uco_task **ts = malloc((size_t)batch * sizeof(*ts));

	for (int rep = 0; rep < 5; rep++) {
		uint64_t t0 = bench_now();
		for (long i = 0; i < a->n; i++) {
			uco_task *t;
			if (uco_spawn(&t, empty, NULL, NULL) < 0)
				abort();
			UCO_IGNORE(uco_join(t, NULL));
			uco_task_release(t);
		}
		double ns = (double)(bench_now() - t0) / (double)a->n;
		if (ns < best)
			best = ns;

		t0 = bench_now();
		for (long i = 0; i < batch; i++)
			if (uco_spawn(&ts[i], empty, NULL, NULL) < 0)
				abort();
		for (long i = 0; i < batch; i++) {
			UCO_IGNORE(uco_join(ts[i], NULL));
			uco_task_release(ts[i]);
		}
		ns = (double)(bench_now() - t0) / (double)batch;
		if (ns < best_batch)
			best_batch = ns;
	}
	free(ts);
	bench_result("spawn", "spawn_join", best, "ns");
	bench_result("spawn", "spawn_join_batch", best_batch, "ns");
	return NULL;
}

int main(int argc, char **argv)
{
	struct args a = { .quick = bench_quick(argc, argv) };

	a.n = a.quick ? 200000 : 2000000;
	return uco_run(bench_main, &a, NULL, NULL) < 0;
}
