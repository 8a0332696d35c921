/*
 * Peer benchmark: the raw liburing NOP loop, the floor under uco's
 * "task submits a NOP and is resumed off its CQE" figure.
 *
 * One ring, set up like uco's loops (IORING_SETUP_SINGLE_ISSUER |
 * IORING_SETUP_DEFER_TASKRUN, or plain on a kernel that refuses those flags).
 * Each round prepares BATCH NOP SQEs, submits them and waits for all of them
 * in one io_uring_submit_and_wait(), then reaps every CQE with
 * io_uring_for_each_cqe() and one io_uring_cq_advance().  So BATCH
 * operations are always in flight together, as with uco's 64 tasks.
 *
 * Prints: RESULT group=nop name=per_op_64_inflight impl=liburing value=<ns> unit=ns
 * The figure is the best (lowest) of several repetitions, divided by the
 * number of operations.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <liburing.h>

#define BATCH 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Run `rounds` rounds of BATCH NOPs.  Returns the elapsed nanoseconds, or 0
 * after printing what went wrong.
 */
static uint64_t run_rounds(struct io_uring *ring, long rounds)
{
	uint64_t t0 = now_ns();

	for (long r = 0; r < rounds; r++) {
		for (int i = 0; i < BATCH; i++) {
			/* The SQ has room for BATCH: it was emptied last round. */
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, (uint64_t)i);
		}
		int ret = io_uring_submit_and_wait(ring, BATCH);
		if (ret != BATCH) {
			fprintf(stderr, "nop_liburing: submit_and_wait: %s\n",
				ret < 0 ? strerror(-ret) : "short submit");
			return 0;
		}

		/*
		 * submit_and_wait returned once BATCH CQEs were posted; with
		 * DEFER_TASKRUN they were all posted in that call, so one pass
		 * over the CQ collects the whole batch.  Keep reaping until
		 * it has, to stay correct on the fallback ring too.
		 */
		unsigned seen = 0;
		while (seen < BATCH) {
			struct io_uring_cqe *cqe;
			unsigned head, n = 0;

			io_uring_for_each_cqe(ring, head, cqe) {
				if (cqe->res != 0) {
					fprintf(stderr, "nop_liburing: NOP failed: %s\n",
						strerror(-cqe->res));
					return 0;
				}
				n++;
			}
			io_uring_cq_advance(ring, n);
			seen += n;
			if (seen < BATCH) {
				ret = io_uring_wait_cqe_nr(ring, &cqe, BATCH - seen);
				if (ret < 0) {
					fprintf(stderr, "nop_liburing: wait: %s\n",
						strerror(-ret));
					return 0;
				}
			}
		}
	}
	return now_ns() - t0;
}

int main(int argc, char **argv)
{
	long rounds = 40000; /* 2.56 M operations per repetition */
	int reps = 5;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			rounds = 10000;
			reps = 3;
		} else {
			fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
			return 2;
		}
	}

	struct io_uring ring;
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	int ret = io_uring_queue_init_params(BATCH * 2, &ring, &p);
	if (ret == -EINVAL) {
		/* A kernel older than 6.1: the loop without the two flags. */
		fprintf(stderr, "nop_liburing: no DEFER_TASKRUN, using a plain ring\n");
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(BATCH * 2, &ring, &p);
	}
	if (ret < 0) {
		fprintf(stderr, "nop_liburing: io_uring_queue_init: %s\n",
			strerror(-ret));
		return 1;
	}

	/* Warm up: fault in the rings and the SQE array. */
	if (run_rounds(&ring, rounds / 10 + 1) == 0)
		return 1;

	/* Integers only until all repetitions are done (benchmarks/README.md). */
	uint64_t best = UINT64_MAX;
	for (int r = 0; r < reps; r++) {
		uint64_t ns = run_rounds(&ring, rounds);
		if (ns == 0)
			return 1;
		if (ns < best)
			best = ns;
	}
	printf("RESULT group=nop name=per_op_64_inflight impl=liburing value=%.2f unit=ns\n",
	       (double)best / ((double)rounds * BATCH));
	io_uring_queue_exit(&ring);
	return 0;
}
