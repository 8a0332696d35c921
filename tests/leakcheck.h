/*
 * tests/leakcheck.h — run a test body with th_run() (harness.h) and assert
 * that the runtime gave back what it took: every file descriptor, and every
 * byte it allocated.  uco allocates through jemalloc's mallocx, so jemalloc's
 * own statistics see all of it; built with a sanitizer (UCO_ALLOC_PLAIN,
 * core/alloc.h) it allocates with plain malloc and the sanitizer's
 * allocator statistics count it instead.  Either way the check measures or
 * fails: it never passes without counting.
 *
 *   lc_run(body, arg, cfg)   th_run() between two such measurements
 *   lc_run_cores(body, arg, n)          the same with cfg.cores = n
 *   lc_begin(&m, cfg), lc_end(&m), lc_same(&m, msg, len)
 *                            the two measurements around any code that
 *                            runs the runtime (uco_run for its result, a
 *                            forked child reporting by exit status)
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

#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "harness.h"
#include "uco_config.h"

#if !UCO_ALLOC_PLAIN
#include <jemalloc/jemalloc.h>
#endif

#define LC_CHECK(cond, ...)                                                   \
	do {                                                                  \
		if (!(cond))                                                  \
			ck_abort_msg(__VA_ARGS__);                            \
	} while (0)

#if UCO_ALLOC_PLAIN
/* The sanitizer's own count of bytes allocated and not yet freed (its
 * runtime has the call; gcc ships no header declaring it). */
size_t __sanitizer_get_current_allocated_bytes(void);

static inline size_t lc_allocated(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
/* Bytes allocated from jemalloc and not freed, with this thread's cache
 * flushed (cached blocks count as allocated) and the statistics refreshed.
 * A jemalloc built without statistics fails the test, naming what is
 * missing: the check cannot pass without measuring. */
static inline size_t lc_allocated(void)
{
	uint64_t epoch = 1;
	size_t sz = sizeof(epoch);
	size_t allocated = 0;
	bool stats = false;
	size_t bsz = sizeof(stats);

	ck_assert_msg(mallctl("config.stats", &stats, &bsz, NULL, 0) == 0 &&
			      stats,
		      "leak check: jemalloc was built without statistics "
		      "(--enable-stats), so the bytes uco allocated cannot be "
		      "counted");
	ck_assert_msg(mallctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0,
		      "leak check: jemalloc's thread.tcache.flush failed");
	ck_assert_msg(mallctl("epoch", &epoch, &sz, &epoch, sz) == 0,
		      "leak check: jemalloc's epoch refresh failed");
	sz = sizeof(allocated);
	ck_assert_msg(mallctl("stats.allocated", &allocated, &sz, NULL, 0) == 0,
		      "leak check: jemalloc has no stats.allocated");
	return allocated;
}
#endif

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
	UCO_IGNORE(uco_to_thread(lc_warm_job, arg, NULL, NULL));
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
		UCO_IGNORE(uco_join(t[i], NULL));
		uco_task_release(t[i]);
	}
	pthread_barrier_destroy(&w.all_started);
}

/* What was in use before a measured run; see lc_begin(). */
struct lc_mark {
	int fds;
	size_t mem;
};

/*
 * Warm up with a run of the configuration cfg (NULL: defaults), then note
 * the open descriptors and allocated bytes.  A first run lets glibc and
 * jemalloc set up their per-thread state (glibc caches thread stacks with
 * their TLS blocks), which is not the runtime's to give back.  For tests
 * that call uco_run() themselves (for its result, or in a forked child):
 *   lc_begin(&m, cfg); ...uco_run(...)...; lc_end(&m);
 */
static inline void lc_begin(struct lc_mark *m, const uco_config *cfg)
{
#ifdef TH_TSAN
	/* ThreadSanitizer keeps its table of descriptors in chunks of 1,024
	 * (16 KiB each) that it allocates from the program's heap on the
	 * first use of a descriptor in the chunk, and never frees: a test
	 * with a thousand connections would seem to leak one.  Have the
	 * first few made before measuring. */
	int lc_null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	for (int fd = 1024; lc_null >= 0 && fd < 8192; fd += 1024)
		if (dup2(lc_null, fd) == fd)
			close(fd);
	if (lc_null >= 0)
		close(lc_null);
#endif
	th_run(lc_nothing, (void *)cfg, cfg);
	m->fds = th_count_fds();
	m->mem = lc_allocated();
}

/* Whether everything noted by lc_begin() was given back; if not, what was
 * not, in msg.  Does not assert: for children that report by exit status. */
static inline bool lc_same(const struct lc_mark *m, char *msg, size_t len)
{
	int fds = th_count_fds();
	size_t mem = lc_allocated();

	if (fds == m->fds && mem == m->mem)
		return true;
	snprintf(msg, len, "leak check: %d fds open (%d before), %zu bytes "
		 "allocated (%zu before)", fds, m->fds, mem, m->mem);
	return false;
}

static inline void lc_end(const struct lc_mark *m)
{
	char msg[160];

	ck_assert_msg(lc_same(m, msg, sizeof(msg)), "%s", msg);
}

/* th_run(body, arg, cfg) between lc_begin() and lc_end(). */
static inline void lc_run(void (*body)(void *arg), void *arg,
			  const uco_config *cfg)
{
	struct lc_mark m;

	lc_begin(&m, cfg);
	th_run(body, arg, cfg);
	lc_end(&m);
}

/* lc_run() with cfg.cores = cores. */
static inline void lc_run_cores(void (*body)(void *arg), void *arg,
				unsigned cores)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = cores;
	lc_run(body, arg, &cfg);
}

#endif
