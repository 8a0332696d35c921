/*
 * The scheduler: one loop iteration, phase by phase, and everything that
 * chooses the next task to run.  loop.h states the phases and the
 * hand-off rule; this file is in the same order:
 *
 *   the ring      SQEs (their count and the one place that submits), and
 *                 the CQ walker, shared by the loop and the hand-off path
 *   the tasks     ready queue, suspension with its hand-off, resumption
 *   the iteration uco__loop_run and its phases
 */
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <uco/time.h>

#include "debug.h"
#include "opfast.h"
#include "probes.h"
#include "task.h"

__thread struct uco__loop *uco__tls_loop
	__attribute__((tls_model("initial-exec")));

/* Task runs (each counting 1 + its hand-offs) per ready phase before the
 * loop looks at the ring again, so a task that keeps yielding cannot starve
 * I/O completions. */
#define READY_BUDGET 4096

/* What phase 5 waits for: not at all, or for ever (else an absolute
 * CLOCK_MONOTONIC time, in ns). */
#define ENTER_POLL 0
#define ENTER_FOREVER UINT64_MAX

int uco__loop_init(struct uco__loop *l, struct uco__runtime *rt, unsigned core)
{
	struct io_uring_params p;
	stack_t ss;
	int r;

	l->rt = rt;
	l->core = core;
	uco__node_init(&l->tasks);
	atomic_init(&l->inbox, NULL);
	uco__stack_pool_init(&l->stacks, &rt->guard_budget);
	uco__timers_init(&l->timers);
	l->debug = rt->cfg.debug;
#ifdef UCO_ASAN
	{
		/* ASan is told the bounds of every stack we switch to; the
		 * scheduler runs on the thread's own. */
		pthread_attr_t attr;
		void *lo;
		size_t size;

		if (pthread_getattr_np(pthread_self(), &attr) == 0) {
			if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
				l->sched.stack_lo = lo;
				l->sched.stack_size = size;
			}
			pthread_attr_destroy(&attr);
		}
	}
#endif

	memset(&p, 0, sizeof(p));
	/* One thread submits and reaps (SINGLE_ISSUER); completions are
	 * processed only when the loop asks for them (DEFER_TASKRUN), so the
	 * kernel never interrupts a running task to post CQEs.  The CQ is
	 * sized explicitly: multishot ops and a million sleepers flood it. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
		  /* The kernel's CQ holds at most 65,536 entries (Linux 6.x);
		   * a larger cq_entries (the configuration allows 2^20) gets
		   * that many instead of failing the set-up: the rest of a
		   * flood waits in the kernel's overflow list, which the CQ
		   * walker drains. */
		  IORING_SETUP_CLAMP;
	p.cq_entries = rt->cfg.cq_entries;
	r = io_uring_queue_init_params(rt->cfg.sq_entries, &l->ring, &p);
	if (r < 0) {
		fprintf(stderr,
			"uco: io_uring_setup failed (%s); uco needs Linux 6.1 or "
			"later with io_uring enabled (IORING_SETUP_DEFER_TASKRUN)\n",
			strerror(-r));
		return r == -EINVAL ? -ENOSYS : r;
	}
	l->ring_ready = true;
	l->sq_free = l->ring.sq.ring_entries;
	l->sq_counted = l->ring.sq.sqe_tail;
	l->cq_counted = *l->ring.cq.khead;
	if (!(p.features & IORING_FEAT_NODROP) ||
	    !(p.features & IORING_FEAT_EXT_ARG)) {
		fprintf(stderr, "uco: this kernel's io_uring lacks NODROP or "
				"EXT_ARG (Linux 5.11+ needed)\n");
		return -ENOSYS;
	}
	/* Enter the kernel through a registered ring index, not the fd: the
	 * kernel then skips looking the fd up on every io_uring_enter.  An
	 * optimisation only; the real fd stays (MSG_RING targets use it). */
	io_uring_register_ring_fd(&l->ring);

	/* The SIGSEGV handler runs on its own stack: the faulting one is the
	 * task's guard page. */
	l->altstack_size = 65536;
	l->altstack = mmap(NULL, l->altstack_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->altstack == MAP_FAILED) {
		l->altstack = NULL;
		return -ENOMEM;
	}
	memset(&ss, 0, sizeof(ss));
	ss.ss_sp = l->altstack;
	ss.ss_size = l->altstack_size;
	if (sigaltstack(&ss, NULL) != 0)
		return -errno;
	return 0;
}

void uco__loop_term(struct uco__loop *l)
{
	if (l->ring_ready)
		io_uring_queue_exit(&l->ring);
	l->ring_ready = false;
	uco__callbacks_drop(l); /* never run: asyncio's loop.close() */
	uco__timers_term(&l->timers);
	uco__stack_pool_term(&l->stacks);
	if (l->altstack)
		munmap(l->altstack, l->altstack_size);
	l->altstack = NULL;
}


/* ==== the ring ========================================================== */

/*
 * In-flight accounting, per batch.  Every SQE we prepare counts as in
 * flight until its last CQE (the one without IORING_CQE_F_MORE), except a
 * wake-up sent to another loop, whose CQE is skipped on success: it moves
 * sq_counted past itself.  SQEs are added to `inflight` when submitted
 * (count_sqes), and CQEs taken off it by the walker (cq_deliver), on l
 * itself: the op path pays nothing for it.
 */
static inline void count_sqes(struct uco__loop *l)
{
	unsigned tail = l->ring.sq.sqe_tail;

	l->inflight += tail - l->sq_counted;
	l->stat_sqes += tail - l->sq_counted;
	l->sq_counted = tail;
}

static __attribute__((cold, noreturn)) void ring_fatal(struct uco__loop *l,
							 int err)
{
	fprintf(stderr,
		"uco: loop %u: io_uring_submit: %s; the ring takes no more "
		"work, stopping\n",
		l->core, strerror(-err));
	abort();
}

static unsigned reap(struct uco__loop *l);

/* One io_uring_submit.  0, or -EBUSY / -EAGAIN (reap and try again). */
static int submit(struct uco__loop *l)
{
	int r;

	count_sqes(l);
	/* liburing enters the kernel only when there is something to submit */
	l->stat_enters += io_uring_sq_ready(&l->ring) != 0;
	do
		r = io_uring_submit(&l->ring);
	while (r == -EINTR);
	if (r >= 0 || r == -EBUSY || r == -EAGAIN)
		return r < 0 ? r : 0;
	ring_fatal(l, r);
}

void uco__loop_flush(struct uco__loop *l)
{
	while (submit(l) < 0) {
		if (l->current) {
			/* A task cannot reap (that resumes other tasks from
			 * under it): it steps aside, the scheduler reaps, and
			 * the task retries. */
			struct uco_task *t = l->current;
			uco__make_ready(t, 0);
			l->handoffs = UCO_HANDOFF_BUDGET; /* to the scheduler */
			uco__suspend(t);
		} else if (reap(l) == 0 && l->inflight == 0) {
			/* Nothing to reap and nothing coming: the kernel will
			 * never take these SQEs. */
			ring_fatal(l, -EAGAIN);
		}
	}
}

void uco__loop_kick(struct uco__loop *l)
{
	(void)submit(l); /* -EBUSY / -EAGAIN: they go with the next submit */
}

struct io_uring_sqe *uco__sqe_get_slow(struct uco__loop *l, unsigned n)
{
	struct io_uring_sq *sq = &l->ring.sq;

	for (;;) {
		/* The cached count ran out: ask the kernel's head. */
		l->sq_free = sq->ring_entries -
			     (sq->sqe_tail - IO_URING_READ_ONCE(*sq->khead));
		if (l->sq_free >= n)
			return uco__sqe_take(l);
		uco__loop_flush(l);
	}
}

void uco__loop_wake(struct io_uring *from, struct uco__loop *to, int submit_now)
{
	struct uco__loop *self = uco__tls_loop;
	struct io_uring_sqe *sqe;

	if (self && from == &self->ring) {
		sqe = uco__sqe_get(self, 1);
		self->sq_counted++; /* never counted: no CQE on success */
		self->stat_sqes++;
	} else {
		sqe = io_uring_get_sqe(from);
		if (!sqe) {
			io_uring_submit(from);
			sqe = io_uring_get_sqe(from);
		}
	}
	/* Posts a CQE with user_data UCO_UD_WAKE into the target's ring; the
	 * sender's own CQE comes only if the message could not be sent. */
	io_uring_prep_msg_ring(sqe, to->ring.ring_fd, 0, UCO_UD_WAKE, 0);
	io_uring_sqe_set_data64(sqe, UCO_UD_WAKE_SENT);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	if (submit_now) {
		if (self && from == &self->ring)
			uco__loop_kick(self);
		else
			io_uring_submit(from);
	}
}

/*
 * The CQ walker.  cq_pop takes the next CQE off the CQ (copied out, its
 * slot handed back before anything runs: a resumed task may submit, and
 * the kernel may then post more); when the CQ is empty but the kernel kept
 * CQEs it had no room for (IORING_SQ_CQ_OVERFLOW), it has them flushed in
 * first.  cq_deliver gives the CQE to its op and returns the task to
 * resume, if any.  Both the loop (reap) and the hand-off path (pick_next)
 * walk the CQ with these two, one CQE at a time.
 */
struct cqe {
	uint64_t ud;
	int res;
	uint32_t flags;
};

static __attribute__((noinline)) bool cq_overflowed(struct uco__loop *l)
{
	/* An io_uring_enter(GETEVENTS): it posts what it can and resumes
	 * nothing, so tasks may call it too. */
	if (l->current)
		l->handoff_overflows++;
	l->stat_overflows++;
	l->stat_enters++;
	io_uring_get_events(&l->ring);
	return io_uring_cq_ready(&l->ring) != 0;
}

static inline bool cq_pop(struct uco__loop *l, struct cqe *c)
{
	/* liburing's io_uring_for_each_cqe without its CQE32 test (this ring
	 * has 16-byte CQEs).  Only this thread moves the head; the kernel
	 * publishes the tail with a release store. */
	struct io_uring_cq *cq = &l->ring.cq;
	unsigned head = *cq->khead;
	struct io_uring_cqe *cqe;

	if (__builtin_expect(head == io_uring_smp_load_acquire(cq->ktail), 0)) {
		if (__builtin_expect(!(IO_URING_READ_ONCE(*l->ring.sq.kflags) &
				       IORING_SQ_CQ_OVERFLOW), 1) ||
		    !cq_overflowed(l))
			return false;
		head = *cq->khead;
	}
	cqe = &cq->cqes[head & cq->ring_mask];
	c->ud = cqe->user_data;
	c->res = cqe->res;
	c->flags = cqe->flags;
	io_uring_smp_store_release(cq->khead, head + 1);
	return true;
}

static __attribute__((noinline)) void cq_special(struct uco__loop *l,
						 const struct cqe *c)
{
	switch (c->ud) {
	case UCO_UD_WAKE:
		break; /* not ours; the inbox is drained every turn */
	case UCO_UD_WAKE_SENT:
		if (c->res != -ENOENT)
			fprintf(stderr, "uco: loop %u: cross-core wake failed: %s\n",
				l->core, strerror(-c->res));
		break;
	default: /* UCO_UD_CANCEL */
		l->inflight--;
		break;
	}
}

static inline struct uco_task *cq_deliver(struct uco__loop *l,
					  const struct cqe *c)
{
	struct uco_task *t;

	if (__builtin_expect(c->ud < UCO_UD_SPECIAL_LIMIT, 0)) {
		cq_special(l, c);
		return NULL;
	}
	l->inflight -= !(c->flags & IORING_CQE_F_MORE);
	t = uco__op_complete(c->ud, c->res, c->flags);
	if (t)
		UCO_PROBE_T2(op_complete, t, c->res,
			     c->ud & ~(uint64_t)UCO_OP_TAG_MASK);
	return t;
}

/* ==== the tasks ========================================================= */

static inline struct uco_task *ready_pop(struct uco__loop *l)
{
	struct uco_task *t = l->ready_head;

	if (t) {
		l->ready_head = t->next_ready;
		if (!l->ready_head)
			l->ready_tail = NULL;
	}
	return t;
}

void uco__make_ready(struct uco_task *t, int res)
{
	struct uco__loop *l = t->loop;

	if (t->timer.idx)
		uco__timer_disarm(&l->timers, &t->timer);
	t->wake_res = res;
	t->wait_kind = UCO_WAIT_NONE;
	t->state = UCO_TASK_READY;
	uco__ready_push(l, t);
}

/*
 * The hand-off rule (loop.h): the next task to run straight from a
 * suspending one — the head of the ready queue, else the task whose op's
 * last CQE is next in the CQ — or NULL: nothing to run, or the budget of
 * hand-offs since the scheduler last ran is spent.
 */
static inline struct uco_task *pick_next(struct uco__loop *l)
{
	struct uco_task *t;
	struct cqe c;

	if (__builtin_expect(l->handoffs >= UCO_HANDOFF_BUDGET, 0))
		return NULL;
	l->handoffs++;
	if ((t = ready_pop(l)))
		return t;
	while (cq_pop(l, &c))
		if ((t = cq_deliver(l, &c)))
			return t;
	return NULL;
}

/* The rare part of a suspension (t->slow): the canary of an unguarded
 * stack, checked every time it is left (an overflow has clobbered the word
 * below the region by now), and debug mode's timing. */
static __attribute__((cold, noinline)) void suspend_checks(struct uco__loop *l,
							   struct uco_task *t)
{
	if (t->canaried && *t->canary != UCO_STACK_CANARY)
		uco__stack_overflow(t);
	if (t->debug)
		uco__debug_ran(l, t);
}

int uco__suspend(struct uco_task *t)
{
	struct uco__loop *l = t->loop;
	struct uco_task *next;

	if (__builtin_expect(t->slow != 0, 0))
		suspend_checks(l, t);
	UCO_PROBE_T(suspend, t);
	/* One switch per resumption instead of two through the scheduler. */
	next = pick_next(l);
	if (__builtin_expect(next == t, 0)) {
		/* It was itself first in the ready queue (a yield). */
		t->state = UCO_TASK_RUNNING;
	} else if (next) {
		l->current = next;
		next->state = UCO_TASK_RUNNING;
		if (__builtin_expect(next->debug, 0))
			next->run_start = uco_now();
		uco__ctx_switch(&t->ctx, &next->ctx);
	} else {
		uco__ctx_switch(&t->ctx, &l->sched);
	}
	UCO_PROBE_T(resume, t);
	if (__builtin_expect(t->debug, 0))
		t->run_start = uco_now();
	return t->wake_res;
}

__attribute__((noreturn)) void uco__leave(struct uco_task *t)
{
	struct uco__loop *l = t->loop;
	struct uco_task *next;

	/* A task homed here, whose end does not make this loop idle (that
	 * would wake the other loops, which may need a flush of the SQ),
	 * gives its record and stack back itself: the stack goes to this
	 * loop's pool, and nothing can take it from there before this task
	 * has switched away.  Then it hands off like a suspension.  Any other
	 * end leaves the release to the scheduler (run_task). */
	if (t->home == l && l->home_live > 1 && (next = pick_next(l))) {
		/* As in the scheduler: no task is running while t is given
		 * back (a suspending call there gets -EPERM). */
		l->current = NULL;
		if (__builtin_expect(t->debug, 0))
			uco__debug_ran(l, t);
		uco__task_exited(l, t);
		l->current = next;
		next->state = UCO_TASK_RUNNING;
		if (__builtin_expect(next->debug, 0))
			next->run_start = uco_now();
		uco__ctx_exit(&t->ctx, &next->ctx);
	}
	uco__ctx_exit(&t->ctx, &l->sched);
	__builtin_unreachable();
}

void uco__yield_now(struct uco_task *t)
{
	struct uco__loop *l = t->loop;
	struct uco_task *next = l->ready_head;

	if (__builtin_expect(t->slow != 0, 0))
		suspend_checks(l, t);
	if (__builtin_expect(l->handoffs >= UCO_HANDOFF_BUDGET, 0)) {
		/* The scheduler's turn (pick_next's rule); t runs again
		 * after every task ready now. */
		t->state = UCO_TASK_READY;
		uco__ready_push(l, t);
		UCO_PROBE_T(suspend, t);
		uco__ctx_switch(&t->ctx, &l->sched);
	} else {
		l->handoffs++;
		if (!next)
			return; /* t alone was ready: it goes on */
		/* Push t, pop next: the queue is not empty either side. */
		t->next_ready = NULL;
		l->ready_tail->next_ready = t;
		l->ready_tail = t;
		l->ready_head = next->next_ready;
		t->state = UCO_TASK_READY;
		next->state = UCO_TASK_RUNNING;
		l->current = next;
		if (__builtin_expect(next->debug, 0))
			next->run_start = uco_now();
		UCO_PROBE_T(suspend, t);
		uco__ctx_switch(&t->ctx, &next->ctx);
	}
	UCO_PROBE_T(resume, t);
	if (__builtin_expect(t->debug, 0))
		t->run_start = uco_now();
}

/* Switch from the scheduler into t; back when some task switches to the
 * scheduler (tasks hand the CPU to each other, so it need not be t). */
static void run_task(struct uco__loop *l, struct uco_task *t)
{
	l->current = t;
	l->handoffs = 0;
	t->state = UCO_TASK_RUNNING;
	if (__builtin_expect(t->debug, 0))
		t->run_start = uco_now();
	uco__ctx_switch(&l->sched, &t->ctx);
	t = l->current;
	l->current = NULL;
	if (t->exiting) {
		if (__builtin_expect(t->debug, 0))
			uco__debug_ran(l, t);
		uco__task_exited(l, t);
	}
}

/* ==== the iteration ===================================================== */

void uco__loop_register(struct uco__loop *l, struct uco__service *s)
{
	s->due = false;
	s->next = l->services;
	l->services = s;
}

/* 1. Ready tasks, READY_BUDGET runs (a run and its hand-offs all count). */
static void run_ready(struct uco__loop *l)
{
	long budget = READY_BUDGET;
	struct uco_task *t;

	while (budget > 0 && (t = ready_pop(l))) {
		run_task(l, t);
		budget -= 1 + (long)l->handoffs;
	}
}

/* 2. Services: messages, what registered services asked for (the signal
 * read's re-arm), object-wait deadlines. */
static void run_services(struct uco__loop *l)
{
	struct uco__timer *tm;
	uint64_t now;

	uco__msg_drain(l);
	if (__builtin_expect(l->services_due, 0)) {
		l->services_due = false;
		for (struct uco__service *s = l->services; s; s = s->next)
			if (s->due) {
				s->due = false;
				s->run(l, s);
			}
	}
	/* Callbacks (callback.h): the soon ones first, then one batch of
	 * expired timers in deadline order, tasks and callbacks alike
	 * (uco/callback.h, "When they run"). */
	if (l->cbs.soon_head)
		uco__callbacks_run_soon(l);
	if (!l->timers.len)
		return;
	now = uco_now();
	l->cbs.batch_now = now;
	while ((tm = uco__timers_expired(&l->timers, now))) {
		if (__builtin_expect(tm->kind == UCO__TIMER_TASK, 1))
			uco__interrupt(uco__container_of(tm, struct uco_task,
							 timer),
				       -ETIMEDOUT);
		else
			uco__callback_fire(l, tm);
	}
	l->cbs.batch_now = 0;
}

/* 3. The runtime stops and nothing here can make more work: no task (here
 * or anywhere: rt->busy), none ready, no message.  Changes nothing. */
static bool exit_due(const struct uco__loop *l)
{
	return atomic_load_explicit(&l->rt->stopping, memory_order_acquire) &&
	       atomic_load_explicit(&l->rt->busy, memory_order_acquire) == 0 &&
	       !l->ready_head &&
	       !atomic_load_explicit(&l->inbox, memory_order_relaxed);
}

/* 4. No task is left, so what is still in the kernel belongs to nobody
 * (the signal read, a multishot nobody closed): cancel it all, once, and
 * wait for the CQEs, so that no buffer is freed under the kernel. */
static void cancel_orphans(struct uco__loop *l)
{
	struct io_uring_sqe *sqe = uco__sqe_get(l, 1);

	l->stop_cancelled = true;
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data64(sqe, UCO_UD_CANCEL);
}

/* 5. The one kernel entry: submit, and wait for a CQE until wait_until
 * (ENTER_POLL: not at all; ENTER_FOREVER: no deadline). */
static void enter_kernel(struct uco__loop *l, uint64_t wait_until)
{
	struct io_uring_cqe *cqe;
	unsigned head = *l->ring.cq.khead;
	int r;

	count_sqes(l);
	/* The CQEs reaped since the last entry: the head moved past them. */
	l->stat_cqes += head - l->cq_counted;
	l->cq_counted = head;
	l->stat_enters++;
	if (wait_until == ENTER_POLL) {
		/* Submit and run deferred completions without blocking. */
		r = io_uring_submit_and_get_events(&l->ring);
	} else if (wait_until == ENTER_FOREVER) {
		r = io_uring_submit_and_wait(&l->ring, 1);
	} else {
		uint64_t now = uco_now();
		uint64_t d = wait_until > now ? wait_until - now : 0;
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(d / 1000000000ull),
			.tv_nsec = (long long)(d % 1000000000ull),
		};
		r = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts,
						     NULL);
	}
	/* -ETIME: the deadline came; -EINTR: a signal; -EBUSY / -EAGAIN: the
	 * SQEs stay queued, the reap below makes room.  Anything else, the
	 * ring is broken. */
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY &&
	    r != -EAGAIN)
		ring_fatal(l, r);
}

/* 6. Every CQE there is, each task resumed off its CQE right here.
 * Returns how many CQEs were taken. */
static unsigned reap(struct uco__loop *l)
{
	struct uco_task *t;
	struct cqe c;
	unsigned n = 0;

	while (cq_pop(l, &c)) {
		n++;
		if ((t = cq_deliver(l, &c)))
			run_task(l, t);
	}
	return n;
}

void uco__loop_run(struct uco__loop *l)
{
	for (;;) {
		uint64_t wait_until;

		run_ready(l);
		run_services(l);
		if (l->ready_head) {
			wait_until = ENTER_POLL; /* more to run: just look */
		} else if (exit_due(l)) {
			if (uco__loop_inflight(l) == 0)
				break;
			if (!l->stop_cancelled)
				cancel_orphans(l);
			wait_until = ENTER_FOREVER;
		} else if (uco__callbacks_soon(&l->cbs)) {
			wait_until = ENTER_POLL; /* call_soon'd: just look */
		} else {
			wait_until = uco__timers_next(&l->timers);
			if (wait_until == UINT64_MAX)
				wait_until = ENTER_FOREVER;
		}
		enter_kernel(l, wait_until);
		reap(l);
	}
	/* Messages that carry no work (debug dumps) may still be queued. */
	uco__msg_drain(l);
	if (io_uring_sq_ready(&l->ring))
		io_uring_submit(&l->ring);
}

void uco__live_add(struct uco__loop *l, long delta)
{
	struct uco__runtime *rt = l->rt;
	long before = l->home_live;
	long v;

	l->home_live += delta;
	if (before == 0 && l->home_live > 0) {
		atomic_fetch_add_explicit(&rt->busy, 1, memory_order_acq_rel);
		return;
	}
	if (before == 0 || l->home_live > 0)
		return;
	v = atomic_fetch_sub_explicit(&rt->busy, 1, memory_order_acq_rel) - 1;
	if (v != 0 || !atomic_load_explicit(&rt->stopping, memory_order_acquire))
		return;
	/* The last task is gone: every loop must look at the exit condition,
	 * including those asleep in io_uring_enter. */
	for (unsigned i = 0; i < rt->nloops; i++)
		if (&rt->loops[i] != l)
			uco__loop_wake(&l->ring, &rt->loops[i], 0);
}

