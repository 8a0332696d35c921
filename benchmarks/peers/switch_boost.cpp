/*
 * Peer benchmark: one-way context switch with boost.context's fcontext,
 * the low-level assembly switch under boost::context::fiber
 * (boost/context/detail/fcontext.hpp, -lboost_context).
 *
 * The thread's context and a coroutine on a heap stack hand control back and
 * forth with jump_fcontext; a round trip is two switches, so one-way time is
 * the total over 2 * round trips.  Like uco's switch, jump_fcontext saves
 * only callee-saved registers (plus MXCSR and the x87 control word), so it is
 * the figure uco's switch has to match.
 *
 * Prints: RESULT group=switch name=one_way impl=boost.context value=<ns> unit=ns
 * The figure is the best (lowest) of several repetitions.
 */
#include <boost/context/detail/fcontext.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ctx = boost::context::detail;

namespace {

constexpr std::size_t co_stack_size = 64 * 1024;

/* The coroutine: jump back to whoever resumed us, forever. */
void co_entry(ctx::transfer_t t)
{
	for (;;)
		t = ctx::jump_fcontext(t.fctx, nullptr);
}

/*
 * Run `trips` round trips starting from the suspended coroutine *co and
 * return the elapsed nanoseconds.  Every jump hands back the context that was
 * left, so *co is refreshed after each round trip.
 */
std::int64_t ping_pong(ctx::fcontext_t *co, long trips)
{
	auto t0 = std::chrono::steady_clock::now();
	ctx::fcontext_t c = *co;

	for (long i = 0; i < trips; i++)
		c = ctx::jump_fcontext(c, nullptr).fctx;
	auto t1 = std::chrono::steady_clock::now();
	*co = c;
	return std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0)
		.count();
}

} // namespace

int main(int argc, char **argv)
{
	long trips = 10000000;
	int reps = 5;

	for (int i = 1; i < argc; i++) {
		if (std::strcmp(argv[i], "--quick") == 0) {
			trips = 1000000;
			reps = 3;
		} else {
			std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
			return 2;
		}
	}

	char *stack = static_cast<char *>(std::malloc(co_stack_size));
	if (!stack) {
		std::fprintf(stderr, "switch_boost: out of memory\n");
		return 1;
	}
	/* make_fcontext takes the top of the stack: it grows down. */
	ctx::fcontext_t co = ctx::make_fcontext(stack + co_stack_size,
						co_stack_size, co_entry);

	/* Warm up: start the coroutine and fault in both stacks. */
	ping_pong(&co, trips / 10 + 1);

	/*
	 * Integers only until every repetition is done: a floating-point
	 * operation here would set MXCSR's sticky "inexact" flag in this
	 * context only, and jump_fcontext reloads MXCSR on every switch;
	 * loading a value that differs from the current one costs tens of
	 * nanoseconds (see benchmarks/README.md).
	 */
	std::int64_t best = INT64_MAX;
	for (int r = 0; r < reps; r++) {
		std::int64_t ns = ping_pong(&co, trips);
		if (ns < best)
			best = ns;
	}
	std::printf("RESULT group=switch name=one_way impl=boost.context value=%.2f unit=ns\n",
		    static_cast<double>(best) / (2.0 * static_cast<double>(trips)));
	/* The coroutine stays suspended; its stack dies with the process. */
	return 0;
}
