/*
 * uco_lock costs, and the hand-off of a contended lock against a plain
 * task switch, measured in the same program.
 *
 *   lock/uncontended  one uco_lock_lock + uco_lock_unlock of a free lock
 *                     (ns per pair)
 *   lock/handoff      two tasks alternately taking a contended lock: each
 *                     unlocks (handing the lock to the other, which waits)
 *                     and asks for it again (and waits); ns per hand-off.
 *                     Printed with impl=uco, and beside it, as its peer,
 *                     impl=yield_pair: two tasks alternately calling
 *                     uco_yield(), ns per pair of yields (A->B, B->A), so
 *                     the report's ratio is hand-off / switch pair.
 *
 * Public API only.  Times are the best of several repetitions.  No floating
 * point until every repetition is done: an inexact FP operation in a task
 * sets its MXCSR sticky flag, and every switch to or from it then pays for
 * an ldmxcsr that changes the register (benchmarks/README.md).
 */
#include <stdlib.h>

#include <uco/uco.h>

#include "bench.h"

struct args {
	long n;
	int reps;
};

/* ---- uncontended ------------------------------------------------------ */

static uint64_t run_uncontended(uco_lock *l, long n)
{
	uint64_t t0 = bench_now();

	for (long i = 0; i < n; i++) {
		if (uco_lock_lock(l) != 0 || uco_lock_unlock(l) != 0)
			abort();
	}
	return bench_now() - t0;
}

/* ---- hand-off --------------------------------------------------------- */

struct handoff {
	uco_lock *l;
	long n;
	long waited; /* lock calls that found the lock held */
};

static void *handoff_task(void *arg)
{
	struct handoff *h = arg;

	if (uco_lock_lock(h->l) != 0)
		abort();
	/* Let the other task run and line up (the first task holds the
	 * lock; the second waits for it). */
	UCO_IGNORE(uco_yield());
	for (long i = 0; i < h->n; i++) {
		if (uco_lock_unlock(h->l) != 0)
			abort();
		h->waited += uco_lock_locked(h->l);
		if (uco_lock_lock(h->l) != 0)
			abort();
	}
	uco_lock_unlock(h->l);
	return NULL;
}

/* ns for the run; *handoffs gets the number of contended acquisitions. */
static uint64_t run_handoff(uco_lock *l, long n, long *handoffs)
{
	struct handoff h[2] = { { l, n, 0 }, { l, n, 0 } };
	uco_task *t[2];
	uint64_t t0 = bench_now();

	for (int i = 0; i < 2; i++)
		if (uco_spawn(&t[i], handoff_task, &h[i], NULL) != 0)
			abort();
	for (int i = 0; i < 2; i++) {
		UCO_IGNORE(uco_join(t[i], NULL));
		uco_task_release(t[i]);
	}
	*handoffs = h[0].waited + h[1].waited;
	return bench_now() - t0;
}

/* ---- yield pair ------------------------------------------------------- */

static void *yield_task(void *arg)
{
	long n = *(long *)arg;

	for (long i = 0; i < n; i++)
		UCO_IGNORE(uco_yield());
	return NULL;
}

static uint64_t run_yield_pair(long n)
{
	uco_task *t[2];
	uint64_t t0 = bench_now();

	for (int i = 0; i < 2; i++)
		if (uco_spawn(&t[i], yield_task, &n, NULL) != 0)
			abort();
	for (int i = 0; i < 2; i++) {
		UCO_IGNORE(uco_join(t[i], NULL));
		uco_task_release(t[i]);
	}
	return bench_now() - t0;
}

static void *bench_main(void *p)
{
	struct args *a = p;
	uint64_t best_unc = UINT64_MAX, best_ho = UINT64_MAX;
	uint64_t best_yp = UINT64_MAX;
	long ho_count = 1, ho_best_count = 1;
	uco_lock l;

	if (uco_lock_init(&l) != 0)
		abort();
	run_uncontended(&l, a->n / 10); /* warm-up */
	run_handoff(&l, a->n / 100, &ho_count);
	run_yield_pair(a->n / 100);
	for (int rep = 0; rep < a->reps; rep++) {
		uint64_t ns = run_uncontended(&l, a->n);
		if (ns < best_unc)
			best_unc = ns;
		ns = run_handoff(&l, a->n / 4, &ho_count);
		/* Per hand-off, in integer picoseconds (no FP yet). */
		if (ho_count > 0 && ns * 1000 / (uint64_t)ho_count < best_ho) {
			best_ho = ns * 1000 / (uint64_t)ho_count;
			ho_best_count = ho_count;
		}
		ns = run_yield_pair(a->n / 4);
		if (ns < best_yp)
			best_yp = ns;
	}
	uco_lock_destroy(&l);
	if (ho_best_count < a->n / 4) {
		fprintf(stderr, "uco_bench_lock: only %ld of %ld acquisitions "
				"were contended\n", ho_best_count, a->n / 2);
		abort();
	}
	/* Floating point from here on only. */
	bench_result("lock", "uncontended", (double)best_unc / (double)a->n,
		     "ns");
	bench_result("lock", "handoff", (double)best_ho / 1000.0, "ns");
	printf("RESULT group=lock name=handoff impl=yield_pair value=%.4g "
	       "unit=ns\n", (double)best_yp / (double)(a->n / 4));
	fflush(stdout);
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
