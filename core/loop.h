/*
 * The per-core loop and its scheduler: the one place where tasks are
 * chosen, switched to and resumed off their CQEs (loop.c, read top to
 * bottom).
 *
 * One loop per core, each on its own thread with its own io_uring; only that
 * thread touches the ring and the loop's state (the inbox is the exception,
 * and it is atomic).  The thread-local uco__tls_loop is the only mutable
 * global state in uco.  One iteration of uco__loop_run:
 *
 *   1. ready     run ready tasks (FIFO), at most READY_BUDGET task runs;
 *   2. services  run messages from other threads, the signal re-arm, and
 *                interrupt the object waits whose deadline passed;
 *   3. exit      if the runtime stops and this loop has nothing left
 *                (a pure check: it changes nothing);
 *   4. orphans   ...but ops are still in the kernel, nobody owns them:
 *                cancel them all, once, and wait for their CQEs;
 *   5. enter     the one io_uring_enter of the iteration: submit what was
 *                prepared and wait for a CQE until `wait_until` (not at all
 *                if a task is ready; until the next object-wait deadline,
 *                or for ever);
 *   6. reap      walk the CQ: each CQE's op gets its result and its task is
 *                resumed right there.
 *
 * The hand-off rule.  A task that suspends does not go back to the
 * scheduler: it switches straight to the next task to run, which is the
 * head of the ready queue, else the task of the next CQE in the CQ (the
 * same CQ walker as phase 6).  One switch per resumption instead of two.
 * A chain of hand-offs is bounded by UCO_HANDOFF_BUDGET: after that many,
 * the suspending task switches to the scheduler, so phases 2-6 get their
 * turn (the SQ is submitted, messages and timers run) even when every task
 * keeps handing off.  Each task run counts against READY_BUDGET as
 * 1 + its hand-offs, so a ready phase runs at most READY_BUDGET tasks in
 * all, whether the scheduler or the tasks themselves chose them.
 */
#ifndef UCO_CORE_LOOP_H
#define UCO_CORE_LOOP_H

#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uco/runtime.h>

#include "callback.h"
#include "list.h"
#include "msg.h"
#include "sigwait.h"
#include "stack.h"
#include "switch.h"
#include "task.h"
#include "timer.h"

struct uco__runtime;
struct uco__offload;

struct uco__loop {
	/* Hot: the scheduler and the fused fast path.  `current` first: it
	 * is what task.h's struct uco__loop_head sees. */
	struct uco_task *current;       /* running task, NULL in the scheduler */
	struct io_uring ring;
	struct uco_task *ready_head;    /* FIFO of ready tasks */
	struct uco_task *ready_tail;
	unsigned handoffs;              /* task-to-task switches since the
	                                   scheduler last ran */
	unsigned sq_free;               /* SQ slots known free (a lower bound:
	                                   only the kernel frees more) */
	unsigned sq_counted;            /* SQ tail up to which SQEs are counted
	                                   in inflight (see uco__loop_inflight) */
	unsigned inflight;              /* counted SQEs whose last CQE has not
	                                   come back */
	struct uco__ctx sched;          /* the loop's own context (thread stack) */
	bool debug;

	struct uco__node tasks;         /* every live task running here */
	size_t ntasks;
	unsigned core;                  /* index in the runtime */
	uint64_t next_id;               /* task ids: next_id * ncores + core + 1 */
	struct uco__runtime *rt;
	struct uco__stack_pool stacks;
	struct uco__timers timers;
	struct uco__callbacks cbs;      /* call_soon / call_later (callback.h) */
	_Atomic(struct uco__msg *) inbox; /* posted by other threads */
	pthread_t thread;
	bool ring_ready;
	void *altstack;                 /* SIGSEGV handler stack */
	size_t altstack_size;
	int exit_status;                /* start-up error of this loop */
	struct uco__service *services;  /* registered with uco__loop_register */
	bool services_due;              /* some service asked to run */
	bool stop_cancelled;            /* shutdown cancelled leftover ops */
	unsigned long handoff_overflows; /* CQ overflows pulled in by the
	                                   hand-off path (tests/test_op.c) */
	long home_live;                 /* tasks homed here not yet gone, plus
	                                   round trips (remote cancels, offload
	                                   jobs) started here */
	/* Counters (uco/stats.h), each updated per batch or per iteration,
	 * never per op: stats.c reads them. */
	uint64_t stat_sqes;             /* SQEs submitted (count_sqes) */
	uint64_t stat_cqes;             /* CQEs reaped, up to cq_counted */
	unsigned cq_counted;            /* CQ head up to which CQEs are counted */
	uint64_t stat_enters;           /* io_uring_enter calls */
	uint64_t stat_overflows;        /* CQ overflows drained */
	uint64_t stat_max_run_ns;       /* debug mode: longest run */
};

_Static_assert(offsetof(struct uco__loop, current) == 0,
	       "task.h's uco__loop_head is the start of struct uco__loop");

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
	struct uco__sigstate *sigstates; /* per loop (sigwait.c's own) */
	struct uco__sigwatch sigwatch;  /* ...and the unwaited by a thread */
	struct sigaction old_segv;
	struct sigaction old_bus;
};

static inline struct uco__loop *uco__loop_current(void)
{
	return uco__tls_loop;
}

/* Hand-offs a task may make before the scheduler must run (loop.h's
 * top comment). */
#define UCO_HANDOFF_BUDGET 256

/* Queue t at the tail of l's ready queue. */
static inline void uco__ready_push(struct uco__loop *l, struct uco_task *t);

/*
 * An SQE from l's ring, flushing the SQ to the kernel when it is full.
 * Never NULL.  `n` SQEs are guaranteed to be available consecutively
 * (n <= 2), so a linked pair is never split by a flush: the second is then
 * taken with uco__sqe_take().  A submission that fails for good (not
 * -EBUSY, -EAGAIN or -EINTR) ends the process with one clear line: the
 * ring cannot take work any more, and a loop that spun on it would hang.
 */
struct io_uring_sqe *uco__sqe_get_slow(struct uco__loop *l, unsigned n);

static inline struct io_uring_sqe *uco__sqe_take(struct uco__loop *l)
{
	struct io_uring_sq *sq = &l->ring.sq;
	unsigned tail = sq->sqe_tail;

	l->sq_free--;
	sq->sqe_tail = tail + 1;
	return &sq->sqes[tail & sq->ring_mask];
}

static inline struct io_uring_sqe *uco__sqe_get(struct uco__loop *l,
						unsigned n)
{
	/* liburing's io_uring_get_sqe without its flag tests, and without
	 * reading the kernel's head: this ring has neither SQPOLL (the head
	 * moves only when we submit, on this thread) nor 128-byte SQEs, and
	 * sq_free is refreshed from the head only when it runs out. */
	if (__builtin_expect(l->sq_free >= n, 1))
		return uco__sqe_take(l);
	return uco__sqe_get_slow(l, n);
}

/* SQEs (and what they are waiting for) still in flight on l: the counted
 * ones, plus those prepared since the last count. */
static inline unsigned uco__loop_inflight(const struct uco__loop *l)
{
	return l->inflight + (l->ring.sq.sqe_tail - l->sq_counted);
}

/*
 * A service: something outside the scheduler that needs a turn in the
 * loop's services phase now and then (signal reading registers one).  It
 * runs on the loop's thread, in the scheduler, so it may submit SQEs and
 * wake tasks but never suspends.  Registered once, for the loop's life.
 */
struct uco__service {
	struct uco__service *next;
	void (*run)(struct uco__loop *l, struct uco__service *s);
	bool due;
};

void uco__loop_register(struct uco__loop *l, struct uco__service *s);

/* Ask for s to run in l's next services phase (from l's thread). */
static inline void uco__service_due(struct uco__loop *l,
				    struct uco__service *s)
{
	s->due = true;
	l->services_due = true;
}

/* Submit what is queued (handles -EBUSY / -EAGAIN by reaping first; a task
 * calling it may yield to the scheduler for that). */
void uco__loop_flush(struct uco__loop *l);

/*
 * Submit what is queued now, from a task or the scheduler, without ever
 * suspending: sync/ calls it to send a wake-up it queued (uco__msg_post)
 * before its next scheduling point.  On -EBUSY or -EAGAIN the SQEs stay
 * queued and leave with the loop's next submission.
 */
void uco__loop_kick(struct uco__loop *l);

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

/*
 * Wake loop `to` (an IORING_OP_MSG_RING posting a UCO_UD_WAKE CQE there),
 * through the sender's ring `from`: l's own ring, whose SQE is counted
 * nowhere (its CQE is skipped on success), or an offload thread's.  With
 * `submit`, the SQE is submitted now (uco__loop_kick on a loop's ring).
 */
void uco__loop_wake(struct io_uring *from, struct uco__loop *to, int submit);

static inline void uco__ready_push(struct uco__loop *l, struct uco_task *t)
{
	t->next_ready = NULL;
	if (l->ready_tail)
		l->ready_tail->next_ready = t;
	else
		l->ready_head = t;
	l->ready_tail = t;
}

#endif
