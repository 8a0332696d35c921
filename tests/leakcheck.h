/*
 * tests/leakcheck.h — run a test body with th_run() (harness.h) and assert
 * that the runtime gave back what it took: every file descriptor, and every
 * byte it allocated (uco allocates through jemalloc's mallocx, so jemalloc's
 * own statistics see all of it, with or without AddressSanitizer).
 *
 *   lc_run(body, arg, cfg)   th_run() between two such measurements
 *   LC_CHECK(cond, ...)      ck_assert_msg() for hot loops: Check records a
 *                            "last passed point" on every successful
 *                            ck_assert (a write to its pipe), which is too
 *                            slow inside a loop of thousands of iterations
 *
 * A test body must free what it allocates itself, and must not make stdio's
 * first use of stdout (its buffer would count as a leak): print to stderr.
 */
#ifndef UCO_TESTS_LEAKCHECK_H
#define UCO_TESTS_LEAKCHECK_H

#include <jemalloc/jemalloc.h>
#include <stdint.h>

#include "harness.h"

#define LC_CHECK(cond, ...)                                                   \
	do {                                                                  \
		if (!(cond))                                                  \
			ck_abort_msg(__VA_ARGS__);                            \
	} while (0)

/* Bytes allocated from jemalloc and not freed, with this thread's cache
 * flushed (cached blocks count as allocated) and the statistics refreshed.
 * 0 if jemalloc was built without statistics: the check then passes. */
static inline size_t lc_allocated(void)
{
	uint64_t epoch = 1;
	size_t sz = sizeof(epoch);
	size_t allocated = 0;

	mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	mallctl("epoch", &epoch, &sz, &epoch, sz);
	sz = sizeof(allocated);
	if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0)
		return 0;
	return allocated;
}

static void lc_nothing(void *arg)
{
	(void)arg;
}

static inline void lc_run(void (*body)(void *arg), void *arg,
			  const uco_config *cfg)
{
	size_t mem;
	int fds;

	/* A first run with the same configuration lets glibc and jemalloc
	 * set up their per-thread state (glibc caches thread stacks with
	 * their TLS blocks), which is not the runtime's to give back. */
	th_run(lc_nothing, NULL, cfg);
	fds = th_count_fds();
	mem = lc_allocated();
	th_run(body, arg, cfg);
	ck_assert_int_eq(th_count_fds(), fds);
	ck_assert_uint_eq(lc_allocated(), mem);
}

#endif
