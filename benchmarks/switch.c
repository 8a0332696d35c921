/*
 * One-way context switch, measured the way the runtime switches: two tasks
 * on their own stacks hand the CPU to each other, symmetrically, from one
 * shared call site (task body -> hop() -> uco__switch), as every suspension
 * in uco goes worker -> uco_nop -> uco__suspend -> uco__switch and is
 * resumed inside that same chain.  A ping-pong between the thread's own
 * context and a coroutine, from two different call sites, is not what the
 * runtime does, and it rewards a switch ending that slows every real
 * suspension (issue 12): the return-address predictor sees different
 * chains on the two sides.  peers/switch_boost.cpp measures boost.context
 * the same way.
 *
 * This is the microbenchmark of one internal mechanism (uco__switch), so it
 * includes core/switch.h.
 *
 * RESULT group=switch name=one_way impl=uco unit=ns (best of several runs,
 * total time / switches between the two tasks).
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "bench.h"
#include "core/switch.h"

struct hopper {
	struct uco__ctx ctx;
	struct hopper *peer;
};

static struct uco__ctx main_ctx;
static struct hopper task_a, task_b;
static long rounds;

/* The one call site both tasks switch from, and resume in. */
static __attribute__((noinline)) void hop(struct hopper *self)
{
	uco__ctx_switch(&self->ctx, &self->peer->ctx);
}

static void body(void *arg)
{
	struct hopper *self = arg;

	uco__ctx_started(&self->ctx);
	for (long i = 0; i < rounds; i++)
		hop(self);
	/* Only task a gets here (b is left suspended in its last hop). */
	uco__ctx_exit(&self->ctx, &main_ctx);
}

int main(int argc, char **argv)
{
	size_t size = 64 * 1024;
	char *stacks = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t best = UINT64_MAX;

	if (stacks == MAP_FAILED) {
		perror("uco_bench_switch: mmap");
		return 1;
	}
	rounds = bench_quick(argc, argv) ? 1000000 : 10000000;
	task_a.peer = &task_b;
	task_b.peer = &task_a;
	for (int rep = 0; rep < 7; rep++) {
		/* Fresh contexts each run: a starts, hops to b, and after
		 * 2 * rounds switches between them comes back here. */
		uco__ctx_init(&task_a.ctx, stacks, size, body, &task_a);
		uco__ctx_init(&task_b.ctx, stacks + size, size, body, &task_b);
		uint64_t t0 = bench_now();
		uco__ctx_switch(&main_ctx, &task_a.ctx);
		uint64_t ns = bench_now() - t0;
		if (ns < best)
			best = ns;
	}
	/* Floating point only now (see benchmarks/README.md on MXCSR). */
	bench_result("switch", "one_way", (double)best / (2.0 * (double)rounds),
		     "ns");
	return 0;
}
