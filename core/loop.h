/*
 * The per-core loop and the runtime that owns the loops.
 *
 * One loop per core, each on its own thread with its own io_uring; only that
 * thread touches the ring and the loop's state (the inbox is the exception,
 * and it is atomic).  The thread-local uco__tls_loop is the only mutable
 * global state in uco.
 *
 *   loop:
 *     run ready tasks (FIFO) until the queue is empty or the budget is spent
 *     run messages from other threads; fire expired object-wait deadlines
 *     submit what was prepared; wait for a CQE if nothing is ready
 *     for each CQE: its op gets res/flags; its task is resumed right there
 */
#ifndef UCO_CORE_LOOP_H
#define UCO_CORE_LOOP_H

#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uco/runtime.h>

#include "list.h"
#include "msg.h"
#include "sigwait.h"
#include "stack.h"
#include "switch.h"
#include "timer.h"

struct uco__runtime;
struct uco__offload;

struct uco__loop {
	struct io_uring ring;
	struct uco__ctx sched;          /* the loop's own context (thread stack) */
	struct uco_task *current;       /* running task, NULL in the scheduler */
	struct uco_task *ready_head;    /* FIFO of ready tasks */
	struct uco_task *ready_tail;
	struct uco__node tasks;         /* every live task running here */
	size_t ntasks;
	unsigned inflight;              /* SQEs whose CQE has not come back */
	unsigned core;                  /* index in the runtime */
	uint64_t next_id;               /* task ids: next_id * ncores + core + 1 */
	unsigned handoffs;              /* task-to-task switches since the
	                                   scheduler last ran */
	struct uco__runtime *rt;
	struct uco__stack_pool stacks;
	struct uco__timers timers;
	_Atomic(struct uco__msg *) inbox; /* posted by other threads */
	pthread_t thread;
	bool ring_ready;
	bool debug;
	void *altstack;                 /* SIGSEGV handler stack */
	size_t altstack_size;
	int exit_status;                /* start-up error of this loop */
	struct uco__sigstate sig;       /* uco_signal_wait() */
	bool stop_cancelled;            /* shutdown cancelled leftover ops */
	long home_live;                 /* tasks homed here not yet gone, plus
	                                   round trips (remote cancels, offload
	                                   jobs) started here */
};

struct uco__runtime {
	struct uco__loop *loops;
	unsigned nloops;
	uco_config cfg;
	_Atomic long busy;              /* loops whose home_live is not zero */
	_Atomic bool stopping;
	unsigned guard_budget;          /* guarded stacks left (atomic use) */
	pthread_mutex_t start_mu;       /* start-up handshake */
	pthread_cond_t start_cv;
	unsigned nready;                /* loops set up */
	int go;                         /* 1 run, -1 called off */
	struct uco__offload *offload;
	uco_fn main_fn;
	void *main_arg;
	void *main_result;
	int main_error;
	size_t page;
	int sigfd;                      /* SIGINT/TERM/HUP, read by every loop */
	struct uco__sigwatch sigwatch;  /* ...and the unwaited by a thread */
	struct sigaction old_segv;
	struct sigaction old_bus;
};

/* initial-exec: a plain %fs-relative access even from libuco.so (which is
 * linked at start-up, not dlopen()ed), instead of a __tls_get_addr call on
 * every suspending call. */
extern __thread struct uco__loop *uco__tls_loop
	__attribute__((tls_model("initial-exec")));

static inline struct uco__loop *uco__loop_current(void)
{
	return uco__tls_loop;
}

/* Queue and run loop internals. */
void uco__ready_push(struct uco__loop *l, struct uco_task *t);

/* Switch from the scheduler into t right now (off a CQE, or from the ready
 * queue).  Returns when some task switches back to the scheduler. */
void uco__run_task(struct uco__loop *l, struct uco_task *t);

/* Hand-offs a task may make before the scheduler must run. */
#define UCO_HANDOFF_BUDGET 256

/* The next task to run straight from a suspending one, or NULL. */
struct uco_task *uco__pick_next(struct uco__loop *l);

/*
 * An SQE from l's ring, flushing the SQ to the kernel when it is full.
 * Never NULL.  `n` SQEs are guaranteed to be available consecutively
 * (n <= 2), so a linked pair is never split by a flush.
 */
struct io_uring_sqe *uco__sqe_get_slow(struct uco__loop *l, unsigned n);

static inline struct io_uring_sqe *uco__sqe_get(struct uco__loop *l,
						unsigned n)
{
	/* liburing's io_uring_get_sqe without its flag tests: this ring has
	 * neither SQPOLL (the kernel's head moves only when we submit, on
	 * this thread) nor 128-byte SQEs. */
	struct io_uring_sq *sq = &l->ring.sq;
	unsigned tail = sq->sqe_tail;

	if (__builtin_expect(tail + n - IO_URING_READ_ONCE(*sq->khead) <=
				     sq->ring_entries, 1)) {
		sq->sqe_tail = tail + 1;
		return &sq->sqes[tail & sq->ring_mask];
	}
	return uco__sqe_get_slow(l, n);
}

/* Submit what is queued (handles -EBUSY / -EAGAIN by reaping first). */
void uco__loop_flush(struct uco__loop *l);

/* Set up / tear down one loop, and run it until the runtime stops. */
int uco__loop_init(struct uco__loop *l, struct uco__runtime *rt,
		   unsigned core);
void uco__loop_term(struct uco__loop *l);
void uco__loop_run(struct uco__loop *l);

/*
 * Count work that keeps the runtime alive, on the calling loop (l must be
 * the caller's).  Only a loop's transitions between idle and busy touch the
 * shared atomic, so spawning and finishing tasks costs no atomic operation
 * while the loop has other work; when the last busy loop goes idle during
 * shutdown, every loop is woken to re-check the exit condition.
 */
void uco__live_add(struct uco__loop *l, long delta);

/* Wake loop `to` through the sender's ring `from`. */
void uco__loop_wake(struct io_uring *from, struct uco__loop *to, int submit);

#endif
