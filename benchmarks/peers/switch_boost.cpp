/*
 * Peer benchmark: one-way context switch with boost.context's fcontext,
 * the low-level assembly switch under boost::context::fiber
 * (boost/context/detail/fcontext.hpp, -lboost_context).
 *
 * Measured the way uco's benchmarks/switch.c measures uco's switch, which
 * is the way the runtime switches: two coroutines on their own stacks hand
 * the CPU to each other symmetrically, from one shared call site (body ->
 * hop() -> jump_fcontext), and are resumed inside that same call.  One-way
 * time is the total over the number of switches between the two.  Like
 * uco's switch, jump_fcontext saves only callee-saved registers (plus MXCSR
 * and the x87 control word), so it is the figure uco's switch has to match.
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

ctx::fcontext_t main_ctx;  /* where the run returns to */
ctx::fcontext_t peer;      /* the suspended other coroutine */
long rounds;

/*
 * The one call site both coroutines switch from and resume in.  jump_fcontext
 * hands back the context that jumped to us: that is the other coroutine,
 * suspended in this same function, and the one to jump to next.
 */
__attribute__((noinline)) void hop()
{
	peer = ctx::jump_fcontext(peer, nullptr).fctx;
}

/* The first coroutine: started from main, back to main at the end. */
void body_a(ctx::transfer_t t)
{
	main_ctx = t.fctx;
	for (long i = 0; i < rounds; i++)
		hop();
	ctx::jump_fcontext(main_ctx, nullptr);
}

/* The second: started by a's first hop, left suspended in its last. */
void body_b(ctx::transfer_t t)
{
	peer = t.fctx;
	for (long i = 0; i < rounds; i++)
		hop();
	std::abort(); /* never resumed after its last hop */
}

/* Fresh coroutines on the two stacks; nanoseconds for 2 * rounds switches. */
std::int64_t run(char *stacks)
{
	ctx::fcontext_t a = ctx::make_fcontext(stacks + co_stack_size,
					       co_stack_size, body_a);
	peer = ctx::make_fcontext(stacks + 2 * co_stack_size, co_stack_size,
				  body_b);
	auto t0 = std::chrono::steady_clock::now();
	ctx::jump_fcontext(a, nullptr);
	auto t1 = std::chrono::steady_clock::now();
	return std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0)
		.count();
}

} // namespace

int main(int argc, char **argv)
{
	int reps = 7;

	rounds = 10000000;
	for (int i = 1; i < argc; i++) {
		if (std::strcmp(argv[i], "--quick") == 0) {
			rounds = 1000000;
		} else {
			std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
			return 2;
		}
	}

	/* make_fcontext takes the top of a stack: they grow down. */
	char *stacks = static_cast<char *>(std::malloc(2 * co_stack_size));
	if (!stacks) {
		std::fprintf(stderr, "switch_boost: out of memory\n");
		return 1;
	}

	/*
	 * Integers only until every repetition is done: a floating-point
	 * operation here would set MXCSR's sticky "inexact" flag in this
	 * context only, and jump_fcontext reloads MXCSR on every switch;
	 * loading a value that differs from the current one costs tens of
	 * nanoseconds (see benchmarks/README.md).
	 */
	std::int64_t best = INT64_MAX;
	for (int r = 0; r < reps; r++) {
		std::int64_t ns = run(stacks);
		if (ns < best)
			best = ns;
	}
	std::printf("RESULT group=switch name=one_way impl=boost.context value=%.2f unit=ns\n",
		    static_cast<double>(best) / (2.0 * static_cast<double>(rounds)));
	std::free(stacks);
	return 0;
}
