/*
 * uco_queue costs.
 *
 *   queue/put_get           uco_queue_put + uco_queue_get of one item on an
 *                           unbounded FIFO queue in one task (ns per pair)
 *   queue/put_get_bounded   the same on a FIFO queue of maxsize 64
 *   queue/put_get_priority  the same on a priority queue holding 63 other
 *                           items (a heap of 64: log2 levels of compares)
 *   queue/pingpong          a producer and a consumer task through a queue
 *                           of maxsize 1: ns per item handed over (the
 *                           producer fills it and waits, the consumer
 *                           empties it and waits)
 *
 * Public API only.  Best of several repetitions; no floating point until
 * they are done (see benchmarks/README.md on MXCSR).
 */
#include <stdint.h>
#include <stdlib.h>

#include <uco/uco.h>

#include "bench.h"

struct args {
	long n;
	int reps;
};

static uint64_t run_put_get(uco_queue *q, long n)
{
	uint64_t t0 = bench_now();
	void *it;

	for (long i = 0; i < n; i++) {
		if (uco_queue_put(q, (void *)(uintptr_t)(i + 1)) != 0 ||
		    uco_queue_get(q, &it) != 0)
			abort();
	}
	return bench_now() - t0;
}

static int cmp_long(const void *a, const void *b, void *ctx)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	(void)ctx;
	return (x > y) - (x < y);
}

struct pp {
	uco_queue *q;
	long n;
};

static void *producer(void *arg)
{
	struct pp *p = arg;

	for (long i = 0; i < p->n; i++)
		if (uco_queue_put(p->q, (void *)(uintptr_t)(i + 1)) != 0)
			abort();
	return NULL;
}

static void *consumer(void *arg)
{
	struct pp *p = arg;
	void *it;

	for (long i = 0; i < p->n; i++)
		if (uco_queue_get(p->q, &it) != 0 ||
		    (uintptr_t)it != (uintptr_t)(i + 1))
			abort();
	return NULL;
}

static uint64_t run_pingpong(uco_queue *q, long n)
{
	struct pp p = { q, n };
	uco_task *t[2];
	uint64_t t0 = bench_now();

	if (uco_spawn(&t[0], producer, &p, NULL) != 0 ||
	    uco_spawn(&t[1], consumer, &p, NULL) != 0)
		abort();
	for (int i = 0; i < 2; i++) {
		UCO_IGNORE(uco_join(t[i], NULL));
		uco_task_release(t[i]);
	}
	return bench_now() - t0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void *bench_main(void *p)
{
	struct args *a = p;
	uco_queue_opts bounded = { .maxsize = 64 };
	uco_queue_opts prio = { .kind = UCO_QUEUE_PRIORITY, .cmp = cmp_long };
	uco_queue_opts one = { .maxsize = 1 };
	uco_queue *qf, *qb, *qp, *q1;
	uint64_t best[4] = { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX };

	if (uco_queue_create(&qf, NULL) || uco_queue_create(&qb, &bounded) ||
	    uco_queue_create(&qp, &prio) || uco_queue_create(&q1, &one))
		abort();
	/* The priority queue keeps 63 items that sort after the measured
	 * one... and before it, half and half, so pushes and pops walk the
	 * heap. */
	for (long i = 0; i < 63; i++)
		UCO_IGNORE(uco_queue_put(qp, (void *)(uintptr_t)(i * 2 * (a->n / 63 + 1))));
	run_put_get(qf, a->n / 10);
	run_pingpong(q1, a->n / 100);
	for (int rep = 0; rep < a->reps; rep++) {
		best[0] = min_u64(best[0], run_put_get(qf, a->n));
		best[1] = min_u64(best[1], run_put_get(qb, a->n));
		best[2] = min_u64(best[2], run_put_get(qp, a->n / 4));
		best[3] = min_u64(best[3], run_pingpong(q1, a->n / 4));
	}
	while (uco_queue_try_get(qp, &(void *){ NULL }) == 0)
		;
	uco_queue_free(qf);
	uco_queue_free(qb);
	uco_queue_free(qp);
	uco_queue_free(q1);
	bench_result("queue", "put_get", (double)best[0] / (double)a->n, "ns");
	bench_result("queue", "put_get_bounded",
		     (double)best[1] / (double)a->n, "ns");
	bench_result("queue", "put_get_priority",
		     (double)best[2] / (double)(a->n / 4), "ns");
	bench_result("queue", "pingpong", (double)best[3] / (double)(a->n / 4),
		     "ns");
	return NULL;
}

int main(int argc, char **argv)
{
	struct args a;
	int quick = bench_quick(argc, argv);

	a.n = quick ? 2000000 : 20000000;
	a.reps = quick ? 3 : 7;
	return uco_run(bench_main, &a, NULL, NULL) < 0;
}
