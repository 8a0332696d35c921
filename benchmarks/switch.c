/*
 * One-way context switch: uco's assembly switch, ping-pong between the
 * thread's own context and one coroutine.  This is the microbenchmark of one
 * internal mechanism (uco__switch), so it includes core/switch.h.
 *
 * RESULT group=switch name=one_way impl=uco unit=ns (best of several runs,
 * total time / (2 * round trips)).
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "bench.h"
#include "core/switch.h"

static struct uco__ctx main_ctx, co_ctx;

static void co_entry(void *arg)
{
	(void)arg;
	uco__ctx_started(&co_ctx);
	for (;;)
		uco__ctx_switch(&co_ctx, &main_ctx);
}

int main(int argc, char **argv)
{
	long rounds = bench_quick(argc, argv) ? 2000000 : 20000000;
	size_t size = 64 * 1024;
	void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double best = 1e18;

	if (stack == MAP_FAILED) {
		perror("uco_bench_switch: mmap");
		return 1;
	}
	uco__ctx_init(&co_ctx, stack, size, co_entry, NULL);
	for (int rep = 0; rep < 7; rep++) {
		uint64_t t0 = bench_now();
		for (long i = 0; i < rounds; i++)
			uco__ctx_switch(&main_ctx, &co_ctx);
		double ns = (double)(bench_now() - t0) / (2.0 * (double)rounds);
		if (ns < best)
			best = ns;
	}
	bench_result("switch", "one_way", best, "ns");
	return 0;
}
