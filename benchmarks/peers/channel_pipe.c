/*
 * Peer benchmark: a cross-core handoff of pointers through a pipe, the
 * figure uco's channel (group=channel name=cross_core) is compared with.
 *
 * Two threads, the sender pinned to CPU 1 and the receiver to CPU 0 (like
 * uco's benchmark: sender task on core 1, receiver on core 0).  The sender
 * write()s each pointer on its own (one handoff, one system call); the
 * receiver read()s whatever is there, up to 1024 pointers at a time, and
 * checks their order.  The pipe holds 1024 pointers (F_SETPIPE_SZ 8 KiB),
 * the channel's capacity; the kernel's pipe wait queues do the sleeping
 * and waking.
 *
 * Prints: RESULT group=channel name=cross_core impl=pipe value=<M/s> unit=Mmsg/s
 * (messages per second from the first write to the last read, best of
 * several runs after a warm-up).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAPACITY 1024

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

struct run {
	int fd[2];
	long n;
};

static void *sender(void *arg)
{
	struct run *r = arg;

	pin(1);
	for (long i = 1; i <= r->n; i++) {
		void *p = (void *)i;

		if (write(r->fd[1], &p, sizeof(p)) != sizeof(p)) {
			perror("channel_pipe: write");
			exit(1);
		}
	}
	return NULL;
}

/* One run: nanoseconds from the start to the last pointer read. */
static uint64_t one_run(long n)
{
	static void *buf[CAPACITY];
	struct run r = { .n = n };
	size_t have = 0; /* bytes of a pointer split across reads */
	long next = 1;
	pthread_t t;
	uint64_t t0;

	if (pipe2(r.fd, O_CLOEXEC) < 0) {
		perror("channel_pipe: pipe2");
		exit(1);
	}
	if (fcntl(r.fd[1], F_SETPIPE_SZ, CAPACITY * (int)sizeof(void *)) < 0)
		perror("channel_pipe: F_SETPIPE_SZ (default size kept)");
	t0 = now_ns();
	pthread_create(&t, NULL, sender, &r);
	while (next <= n) {
		ssize_t k = read(r.fd[0], (char *)buf + have,
				 sizeof(buf) - have);

		if (k <= 0) {
			fprintf(stderr, "channel_pipe: read: %s\n",
				k < 0 ? strerror(errno) : "EOF");
			exit(1);
		}
		have += (size_t)k;
		for (size_t i = 0; i < have / sizeof(void *); i++, next++)
			if (buf[i] != (void *)next) {
				fprintf(stderr, "channel_pipe: bad item\n");
				exit(1);
			}
		/* Keep a partial pointer for the next read. */
		memmove(buf, (char *)buf + have / sizeof(void *) * sizeof(void *),
			have % sizeof(void *));
		have %= sizeof(void *);
	}
	uint64_t ns = now_ns() - t0;
	pthread_join(t, NULL);
	close(r.fd[0]);
	close(r.fd[1]);
	return ns;
}

int main(int argc, char **argv)
{
	long n = 2000000;
	int reps = 5;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			n = 500000;
			reps = 3;
		} else {
			fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
			return 2;
		}
	}
	pin(0);
	one_run(n / 10); /* warm-up */
	uint64_t best = UINT64_MAX;
	for (int r = 0; r < reps; r++) {
		uint64_t ns = one_run(n);
		if (ns < best)
			best = ns;
	}
	printf("RESULT group=channel name=cross_core impl=pipe value=%.4g unit=Mmsg/s\n",
	       (double)n * 1e3 / (double)best);
	return 0;
}
