/*
 * One loop iteration, phase by phase; see loop.h.
 */
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <uco/time.h>

#include "debug.h"
#include "opfast.h"
#include "task.h"

__thread struct uco__loop *uco__tls_loop
	__attribute__((tls_model("initial-exec")));

/* Tasks run per ready phase before the loop checks the ring again, so a
 * task that keeps yielding cannot starve I/O completions. */
#define READY_BUDGET 4096

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
	uco__signal_init(l, rt->sigfd);
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
		  IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
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
	uco__timers_term(&l->timers);
	uco__stack_pool_term(&l->stacks);
	if (l->altstack)
		munmap(l->altstack, l->altstack_size);
	l->altstack = NULL;
}

/* ---- the ready queue --------------------------------------------------- */

void uco__ready_push(struct uco__loop *l, struct uco_task *t)
{
	t->next_ready = NULL;
	if (l->ready_tail)
		l->ready_tail->next_ready = t;
	else
		l->ready_head = t;
	l->ready_tail = t;
}

static struct uco_task *ready_pop(struct uco__loop *l)
{
	struct uco_task *t = l->ready_head;

	if (t) {
		l->ready_head = t->next_ready;
		if (!l->ready_head)
			l->ready_tail = NULL;
	}
	return t;
}

void uco__run_task(struct uco__loop *l, struct uco_task *t)
{
	l->current = t;
	l->handoffs = 0;
	t->state = UCO_TASK_RUNNING;
	if (__builtin_expect(l->debug, 0))
		t->run_start = uco_now();
	uco__ctx_switch(&l->sched, &t->ctx);
	/* Tasks hand the CPU to each other directly (uco__suspend), so the
	 * one that comes back here need not be the one we switched to. */
	t = l->current;
	l->current = NULL;
	if (t->exiting) {
		if (__builtin_expect(l->debug, 0))
			uco__debug_ran(l, t);
		uco__task_exited(l, t);
	}
}


static void run_ready(struct uco__loop *l)
{
	long budget = READY_BUDGET;
	struct uco_task *t;

	/* Every task run counts, including those the first one handed the
	 * CPU to without coming back here. */
	while (budget > 0 && (t = ready_pop(l))) {
		uco__run_task(l, t);
		budget -= 1 + (long)l->handoffs;
	}
}

/* ---- the ring ---------------------------------------------------------- */

static void reap(struct uco__loop *l);

/*
 * Submit; on -EBUSY or -EAGAIN (the kernel wants CQEs reaped first, or is
 * short of memory) reap and retry, never give up.
 */
void uco__loop_flush(struct uco__loop *l)
{
	for (;;) {
		int r = io_uring_submit(&l->ring);

		if (r >= 0 || r == -EINTR)
			return;
		if (r != -EBUSY && r != -EAGAIN) {
			fprintf(stderr, "uco: io_uring_submit: %s\n",
				strerror(-r));
			return;
		}
		if (l->current) {
			/* A task cannot reap (that resumes other tasks from
			 * under it): it steps aside, the scheduler reaps, and
			 * the task retries. */
			struct uco_task *t = l->current;
			uco__make_ready(t, 0);
			l->handoffs = UCO_HANDOFF_BUDGET; /* to the scheduler */
			uco__suspend(t);
		} else {
			reap(l);
		}
	}
}

struct io_uring_sqe *uco__sqe_get_slow(struct uco__loop *l, unsigned n)
{
	struct io_uring_sqe *sqe;

	if (n == 1) {
		/* io_uring_get_sqe checks for room itself. */
		while (!(sqe = io_uring_get_sqe(&l->ring)))
			uco__loop_flush(l);
		return sqe;
	}
	while (io_uring_sq_space_left(&l->ring) < n)
		uco__loop_flush(l);
	return io_uring_get_sqe(&l->ring);
}

void uco__loop_wake(struct io_uring *from, struct uco__loop *to, int submit)
{
	struct uco__loop *self = uco__tls_loop;
	struct io_uring_sqe *sqe;

	if (self && from == &self->ring) {
		sqe = uco__sqe_get(self, 1);
		self->inflight++;
	} else {
		sqe = io_uring_get_sqe(from);
		if (!sqe) {
			io_uring_submit(from);
			sqe = io_uring_get_sqe(from);
		}
	}
	/* Posts a CQE with user_data UCO_UD_WAKE into the target's ring; the
	 * sender's own CQE is tagged to be ignored. */
	io_uring_prep_msg_ring(sqe, to->ring.ring_fd, 0, UCO_UD_WAKE, 0);
	io_uring_sqe_set_data64(sqe, UCO_UD_IGNORE);
	if (submit)
		io_uring_submit(from);
}

static void dispatch_special(struct uco__loop *l, uint64_t ud, int res)
{
	if (ud == UCO_UD_WAKE)
		return; /* the inbox is drained every turn */
	l->inflight--;
	if (ud == UCO_UD_CANCEL)
		return;
	if (ud == UCO_UD_IGNORE && res < 0 && res != -ENOENT)
		fprintf(stderr, "uco: loop %u: cross-core wake failed: %s\n",
			l->core, strerror(-res));
}

static void dispatch(struct uco__loop *l, uint64_t ud, int res, uint32_t flags)
{
	struct uco_task *t;

	if (ud < 4096)
		dispatch_special(l, ud, res);
	else if ((t = uco__op_complete(ud, res, flags)))
		uco__run_task(l, t);
}

static void reap(struct uco__loop *l)
{
	struct io_uring_cqe *cqe;
	unsigned head;

	for (;;) {
		uint64_t ud;
		int res;
		uint32_t flags;

		cqe = NULL;
		io_uring_for_each_cqe(&l->ring, head, cqe)
			break;
		if (!cqe) {
			/* CQEs the CQ had no room for wait in the kernel's
			 * overflow list; ask for them to be flushed in. */
			if (IO_URING_READ_ONCE(*l->ring.sq.kflags) &
			    IORING_SQ_CQ_OVERFLOW) {
				io_uring_get_events(&l->ring);
				if (io_uring_cq_ready(&l->ring))
					continue;
			}
			return;
		}
		/* Copy the CQE out and hand its slot back before resuming
		 * anyone: a resumed task may submit, the kernel may then post
		 * more.  One at a time, because the task resumed here goes on
		 * to resume the next CQE's task itself (uco__pick_next). */
		ud = cqe->user_data;
		res = cqe->res;
		flags = cqe->flags;
		io_uring_cq_advance(&l->ring, 1);
		dispatch(l, ud, res, flags);
	}
}

/* Enter the kernel: submit, and wait for a CQE (or the next object-wait
 * deadline) if there is nothing else to do. */
static void submit_and_wait(struct uco__loop *l, bool wait)
{
	uint64_t next = uco__timers_next(&l->timers);
	struct io_uring_cqe *cqe;
	int r;

	if (!wait) {
		/* Submit and run deferred completions without blocking. */
		r = io_uring_submit_and_get_events(&l->ring);
	} else if (next == UINT64_MAX) {
		r = io_uring_submit_and_wait(&l->ring, 1);
	} else {
		uint64_t now = uco_now();
		uint64_t d = next > now ? next - now : 0;
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(d / 1000000000ull),
			.tv_nsec = (long long)(d % 1000000000ull),
		};
		r = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts,
						     NULL);
	}
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY &&
	    r != -EAGAIN)
		fprintf(stderr, "uco: loop %u: io_uring_enter: %s\n", l->core,
			strerror(-r));
}

static bool should_exit(struct uco__loop *l)
{
	if (!atomic_load_explicit(&l->rt->stopping, memory_order_acquire) ||
	    atomic_load_explicit(&l->rt->busy, memory_order_acquire) != 0 ||
	    l->ready_head || atomic_load_explicit(&l->inbox, memory_order_relaxed))
		return false;
	if (l->inflight && !l->stop_cancelled) {
		/* No task is left, so what is still in the kernel belongs to
		 * nobody: the signal read, a multishot nobody closed.  Cancel
		 * it all once and wait for the CQEs, so that no buffer is
		 * freed under the kernel. */
		struct io_uring_sqe *sqe = uco__sqe_get(l, 1);

		l->stop_cancelled = true;
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, UCO_UD_CANCEL);
		l->inflight++;
	}
	return l->inflight == 0;
}

void uco__loop_run(struct uco__loop *l)
{
	for (;;) {
		run_ready(l);
		uco__msg_drain(l);
		if (__builtin_expect(l->sig.rearm, 0))
			uco__signal_rearm(l);
		if (l->timers.len)
			uco__timers_fire(&l->timers, uco_now());
		if (l->ready_head) {
			/* More to run: only look at the ring in passing. */
			submit_and_wait(l, false);
			reap(l);
			continue;
		}
		if (should_exit(l))
			break;
		submit_and_wait(l, true);
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

/*
 * Called by a suspending task: the next task to run without going through
 * the scheduler — the head of the ready queue, else the task whose op's
 * last CQE is next in the CQ — or NULL if neither is there (or the task has
 * handed off UCO_HANDOFF_BUDGET times since the scheduler last ran, so the
 * scheduler gets its turn to submit, drain messages and fire timers).
 */
/* The CQ's next entry, or NULL: liburing's io_uring_for_each_cqe without
 * its CQE32 test (this ring has 16-byte CQEs).  Only this thread moves
 * the head; the kernel publishes the tail with a release store. */
static inline struct io_uring_cqe *cq_peek(struct uco__loop *l)
{
	struct io_uring_cq *cq = &l->ring.cq;
	unsigned head = *cq->khead;

	if (head == io_uring_smp_load_acquire(cq->ktail))
		return NULL;
	return &cq->cqes[head & cq->ring_mask];
}

static inline void cq_advance(struct uco__loop *l)
{
	struct io_uring_cq *cq = &l->ring.cq;

	io_uring_smp_store_release(cq->khead, *cq->khead + 1);
}

struct uco_task *uco__pick_next(struct uco__loop *l)
{
	struct uco_task *t;
	struct io_uring_cqe *cqe;

	if (l->handoffs >= UCO_HANDOFF_BUDGET)
		return NULL;
	l->handoffs++;
	if ((t = ready_pop(l)))
		return t;
	while ((cqe = cq_peek(l))) {
		uint64_t ud = cqe->user_data;
		int res = cqe->res;
		uint32_t flags = cqe->flags;

		/* Hand the slot back before anything runs (see reap()). */
		cq_advance(l);
		if (ud >= 4096) {
			if ((t = uco__op_complete(ud, res, flags)))
				return t;
		} else {
			dispatch_special(l, ud, res);
		}
	}
	return NULL;
}
