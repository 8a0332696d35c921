/*
 * Peer benchmark: one-way context switch with swapcontext(3).
 *
 * Two contexts, the thread's own and a coroutine on a heap stack, hand
 * control back and forth.  A round trip is two switches, so one-way time is
 * the total over 2 * round trips.  swapcontext saves and restores the signal
 * mask with a system call each time, which is what uco's switch avoids; this
 * is the figure uco's one-way switch is compared with.
 *
 * Prints: RESULT group=switch name=one_way impl=ucontext value=<ns> unit=ns
 * The figure is the best (lowest) of several repetitions.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#define CO_STACK_SIZE (64 * 1024)

static ucontext_t main_uc; /* the thread's own context while the coroutine runs */
static ucontext_t co_uc;   /* the coroutine's context while main runs */
static char *co_stack;     /* the coroutine's stack (heap) */

/* The coroutine: hand control straight back, forever. */
static void co_entry(void)
{
	for (;;)
		swapcontext(&co_uc, &main_uc);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Make co_uc run co_entry on co_stack.  getcontext() returns twice, so it is
 * kept out of main(): no local of main's can be clobbered by a second return.
 */
static int co_setup(void)
{
	co_stack = malloc(CO_STACK_SIZE);
	if (!co_stack) {
		fprintf(stderr, "switch_ucontext: out of memory\n");
		return -1;
	}
	if (getcontext(&co_uc) != 0) {
		perror("switch_ucontext: getcontext");
		return -1;
	}
	co_uc.uc_stack.ss_sp = co_stack;
	co_uc.uc_stack.ss_size = CO_STACK_SIZE;
	co_uc.uc_link = NULL; /* co_entry never returns */
	makecontext(&co_uc, co_entry, 0);
	return 0;
}

/* Run `trips` round trips and return the elapsed nanoseconds. */
static uint64_t ping_pong(long trips)
{
	uint64_t t0 = now_ns();

	for (long i = 0; i < trips; i++)
		swapcontext(&main_uc, &co_uc);
	return now_ns() - t0;
}

int main(int argc, char **argv)
{
	long trips = 1000000;
	int reps = 5;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			trips = 100000;
			reps = 3;
		} else {
			fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
			return 2;
		}
	}

	if (co_setup() != 0)
		return 1;

	/* Warm up: start the coroutine and fault in both stacks. */
	ping_pong(trips / 10 + 1);

	/*
	 * Integers only until every repetition is done: a floating-point
	 * operation between repetitions would set MXCSR's sticky "inexact"
	 * flag in this context only, and from then on every switch reloads a
	 * different MXCSR value, which costs tens of nanoseconds (see
	 * benchmarks/README.md).  uco's benchmark follows the same rule.
	 */
	uint64_t best = UINT64_MAX;
	for (int r = 0; r < reps; r++) {
		uint64_t ns = ping_pong(trips);
		if (ns < best)
			best = ns;
	}
	printf("RESULT group=switch name=one_way impl=ucontext value=%.2f unit=ns\n",
	       (double)best / (2.0 * (double)trips));
	/* The coroutine stays suspended in swapcontext; its stack dies with us. */
	return 0;
}
