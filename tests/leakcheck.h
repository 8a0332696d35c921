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
#include <netdb.h>
#include <pthread.h>
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

/*
 * The warm-up run: start every offload thread at once, each resolving a
 * name.  glibc keeps a finished thread's stack for the next thread, with
 * the thread's TLS vector, which grows (through malloc, i.e. jemalloc) once
 * name resolution has loaded its NSS modules; a measured run that starts
 * more pool threads than the warm-up did would count that as a leak.
 */
struct lc_warm {
	pthread_barrier_t all_started;
};

static void *lc_warm_job(void *arg)
{
	struct lc_warm *w = arg;
	struct addrinfo *res;

	pthread_barrier_wait(&w->all_started);
	if (getaddrinfo("localhost", "80", NULL, &res) == 0)
		freeaddrinfo(res);
	return NULL;
}

static void *lc_warm_task(void *arg)
{
	uco_to_thread(lc_warm_job, arg, NULL, NULL);
	return NULL;
}

static void lc_nothing(void *arg)
{
	const uco_config *cfg = arg;
	unsigned n = cfg ? cfg->offload_threads : 4;
	struct lc_warm w;
	uco_task *t[64];

	if (n == 0 || n > 64)
		return;
	pthread_barrier_init(&w.all_started, NULL, n);
	for (unsigned i = 0; i < n; i++)
		if (uco_spawn(&t[i], lc_warm_task, &w, NULL) < 0)
			abort();
	for (unsigned i = 0; i < n; i++) {
		uco_join(t[i], NULL);
		uco_task_release(t[i]);
	}
	pthread_barrier_destroy(&w.all_started);
}

static inline void lc_run(void (*body)(void *arg), void *arg,
			  const uco_config *cfg)
{
	size_t mem;
	int fds;

	/* A first run with the same configuration lets glibc and jemalloc
	 * set up their per-thread state (glibc caches thread stacks with
	 * their TLS blocks), which is not the runtime's to give back. */
	th_run(lc_nothing, (void *)cfg, cfg);
	fds = th_count_fds();
	mem = lc_allocated();
	th_run(body, arg, cfg);
	ck_assert_int_eq(th_count_fds(), fds);
	ck_assert_uint_eq(lc_allocated(), mem);
}

#endif
