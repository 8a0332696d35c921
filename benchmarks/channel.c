/*
 * Cross-core channel: a task on core 1 sends N pointers through a channel
 * of 1024 slots to a task on core 0, which receives them one call at a
 * time and checks their order.  Messages per second from the first send to
 * the last receive, best of several runs.
 *
 *   group=channel name=cross_core        unit=Mmsg/s  (SPSC channel)
 *   group=channel name=cross_core_mpsc   unit=Mmsg/s  (MPSC channel, one
 *                                                      sender)
 *
 * Peers: peers/channel_pipe.c (pointers through a pipe), peers/
 * channel_eventfd.c (a shared ring plus eventfd wake-ups) and peers/
 * channel_go (a buffered Go channel, GOMAXPROCS=2): two threads (or
 * goroutines), one per CPU, same N and the same capacity.
 */
#include <stdlib.h>

#include <uco/uco.h>

#include "bench.h"

#define CAPACITY 1024

struct run {
	uco_channel *ch;
	long n;
};

static void *sender(void *arg)
{
	struct run *r = arg;

	for (long i = 1; i <= r->n; i++)
		if (uco_channel_send(r->ch, (void *)i) < 0)
			return uco_fail(-1);
	return NULL;
}

/* One run: nanoseconds from the first send to the last receive (0 on
 * error).  Integers only until every run is done: an inexact floating-point
 * operation would make every later context switch reload MXCSR
 * (benchmarks/README.md). */
static uint64_t one_run(long n, bool spsc)
{
	uco_channel_opts o = { .recv_core = 0, .spsc = spsc, .send_core = 1 };
	struct run r = { .n = n };
	uco_task *t;
	uint64_t t0, t1;

	if (uco_channel_create(&r.ch, CAPACITY, &o) < 0)
		return 0;
	t0 = bench_now();
	if (uco_spawn_on(1, &t, sender, &r, NULL) < 0)
		return 0;
	for (long i = 1; i <= n; i++) {
		void *item;

		if (uco_channel_recv(r.ch, &item) < 0 || item != (void *)i) {
			fprintf(stderr, "channel: bad item at %ld\n", i);
			exit(1);
		}
	}
	t1 = bench_now();
	if (uco_join(t, NULL) < 0)
		return 0;
	uco_task_release(t);
	uco_channel_free(r.ch);
	return t1 - t0;
}

struct args {
	long n;
	int reps;
};

static void *bench_main(void *p)
{
	struct args *a = p;

	if (uco_cores() < 2) {
		fprintf(stderr, "channel: needs 2 cores\n");
		return uco_fail(-1);
	}
	uint64_t best[2] = { UINT64_MAX, UINT64_MAX };

	for (int spsc = 1; spsc >= 0; spsc--) {
		one_run(a->n / 10, spsc); /* warm-up */
		for (int rep = 0; rep < a->reps; rep++) {
			uint64_t ns = one_run(a->n, spsc);

			if (ns == 0)
				return uco_fail(-1);
			if (ns < best[spsc])
				best[spsc] = ns;
		}
	}
	bench_result("channel", "cross_core",
		     (double)a->n * 1e3 / (double)best[1], "Mmsg/s");
	bench_result("channel", "cross_core_mpsc",
		     (double)a->n * 1e3 / (double)best[0], "Mmsg/s");
	return NULL;
}

int main(int argc, char **argv)
{
	struct args a = { .n = 10000000, .reps = 5 };
	uco_config cfg;

	if (bench_quick(argc, argv)) {
		a.n = 2000000;
		a.reps = 3;
	}
	uco_config_init(&cfg);
	cfg.cores = 2;
	return uco_run(bench_main, &a, &cfg, NULL) < 0;
}
