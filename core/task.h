/*
 * The task record and the internal task calls.
 *
 * A task record lives at the top of the task's own stack region (see
 * stack.h), so spawning allocates nothing but a stack from the loop's pool.
 * The record outlives the task's run until its last reference is dropped.
 *
 *   region top ->  +----------------------------+
 *                  | canary of the region above |  (64 bytes)
 *                  | struct uco_task            |
 *                  | first frames of the task   |
 *                  |   ... grows down ...       |
 *                  | guard page or nothing      |
 *   region base -> +----------------------------+
 */
#ifndef UCO_CORE_TASK_H
#define UCO_CORE_TASK_H

#include <uco/task.h>
#include <uco/time.h>

#include <errno.h>

#include "list.h"
#include "msg.h"
#include "switch.h"
#include "timer.h"
#include "wait.h"

struct uco__loop;
struct uco__stack;
struct uco__op;
struct uco__local;

/* What a suspended task waits on. */
enum uco__wait_kind {
	UCO_WAIT_NONE,   /* running or ready */
	UCO_WAIT_OP,     /* an io_uring operation: t->wait_op */
	UCO_WAIT_OBJECT, /* a runtime object: t->wait_interrupt unlinks it */
};

struct uco_task {
	/* Hot: read or written on every suspension and resumption; kept in
	 * the record's first cache line (without ASan). */
	struct uco__ctx ctx;            /* saved registers while switched out */
	struct uco__loop *loop;         /* the loop it runs on */
	struct uco_task *next_ready;    /* ready-queue link */
	struct uco__op *wait_op;        /* UCO_WAIT_OP: the op in flight */
	int wake_res;                   /* what the call it sleeps in returns */
	uint8_t state;                  /* uco_task_state, written on t->loop */
	uint8_t wait_kind;              /* enum uco__wait_kind */
	uint16_t shield;                /* shield depth */
	/*
	 * The slow-path word: every rare condition a suspending call or a
	 * suspension must look at, one byte each, so the fast path tests
	 * them all with one load (`if (t->slow)`).  Each byte is written
	 * under its own name as before; the union only lets them be read
	 * together.  Shield is not here: it matters only when cancel_req is
	 * set, and then the slow path looks at it.
	 */
	union {
		struct {
			bool cancel_req;     /* uco_cancel() was called */
			uint8_t ndeadlines;  /* open timeout scopes */
			bool canaried;       /* unguarded stack: check the
			                        canary at every suspension */
			bool debug;          /* debug mode (timing, reports) */
		};
		uint32_t slow;
	};
	bool exiting;                   /* finished running; stack still in use */
	bool finished;                  /* done as seen from home (outcome final) */

	/* Warm: per wait, or per task. */
	uint64_t *canary;               /* the stack's canary, NULL if guarded */
	const char *wait_what;          /* for dumps: "sleep", "join", ... */
	void (*wait_interrupt)(void *); /* UCO_WAIT_OBJECT: unlink from the object */
	void *wait_ctx;
	struct uco__timer timer;        /* object-wait deadline (the loop's heap) */
	struct uco__loop *home;         /* the loop its handle belongs to */
	struct uco__stack *stack;       /* the region this record lives in */

	/* Cold: spawn, join and introspection. */
	struct uco__node all_node;      /* on loop->tasks while alive */
	struct uco__waitq joiners;      /* tasks joining it (on home) */
	uint64_t id;
	uco_fn fn;
	void *arg;
	void *result;                   /* what fn returned */
	int error;                      /* 0, or the uco_fail() error */
	int refs;                       /* handle + running; touched on home only */
	struct uco__local *locals;      /* task-local values (shared, refcounted) */
	uint64_t run_start;             /* debug mode: when it was last resumed */
	uint32_t refused;               /* debug mode: calls refused since the
	                                   cancel (valid once cancel_req) */
	uint64_t deadlines[UCO_TIMEOUT_DEPTH]; /* open scopes, absolute ns */
	uint8_t deadlines_cut;          /* bit i: scope i cut a call short */
	struct uco__msg msg;            /* cross-core start / done notice */
	struct uco__node group_node;    /* on its group's member list */
	struct uco_group *group;
	char name[32];

	/* spawn_ext.c: results nobody took, and error messages. */
	void (*free_result)(void *result); /* uco_spawn_opts.free_result */
	char *errmsg;                   /* uco_fail_msg()'s text, or NULL */
	bool result_taken;              /* the result was handed out */
};

_Static_assert(UCO_TIMEOUT_DEPTH <= 8, "deadlines_cut has a bit per scope");

/* The calling thread's loop (loop.h), or NULL.  initial-exec: a plain
 * %fs-relative access even from libuco.so (which is linked at start-up,
 * not dlopen()ed), instead of a __tls_get_addr call on every suspending
 * call. */
extern __thread struct uco__loop *uco__tls_loop
	__attribute__((tls_model("initial-exec")));

/*
 * What the record layer sees of a loop: struct uco__loop (loop.h) starts
 * with its running task, so this header needs neither loop.h nor
 * liburing.h (loop.h asserts the layout).  may_alias: it is read through
 * a pointer to the other struct.
 */
struct __attribute__((may_alias)) uco__loop_head {
	struct uco_task *current;
};

/* The running task of the calling thread, or NULL (scheduler / no loop). */
static inline struct uco_task *uco__self(void)
{
	struct uco__loop *l = uco__tls_loop;

	return l ? ((struct uco__loop_head *)(void *)l)->current : NULL;
}

/*
 * Suspend the running task until uco__make_ready() or its op's last CQE;
 * returns the result given to uco__make_ready().  The caller has set
 * t->wait_kind and friends.  The scheduler (loop.c) switches straight to
 * the next task to run, if there is one (the hand-off rule, loop.h).
 */
int uco__suspend(struct uco_task *t);

/* Queue t to run, with `res` as the return value of its uco__suspend(). */
void uco__make_ready(struct uco_task *t, int res);

/*
 * The end of a finished task (its last call): switch away for good, to
 * the next task if the hand-off rule finds one and the task's record and
 * stack can be given back before it is left (loop.c), else to the
 * scheduler, which gives them back.
 */
__attribute__((noreturn)) void uco__leave(struct uco_task *t);

/* The running task t goes behind every ready task, and the head of the
 * ready queue runs now (the hand-off rule; none: t goes on).  uco_yield's
 * switch, fused: uco__make_ready + uco__suspend without what a running
 * task does not need. */
void uco__yield_now(struct uco_task *t);

/* uco__enter_check / uco__enter when t->slow is set (task.c, cold). */
int uco__enter_check_slow(struct uco_task *t);
int uco__enter_slow(struct uco_task *t);

/* Earliest open deadline of t (UINT64_MAX if none). */
static inline uint64_t uco__task_deadline(const struct uco_task *t);

/*
 * A suspending call of t returns -ETIMEDOUT because a scope expired: mark
 * every open scope whose deadline has passed as having cut a call short
 * (uco_timeout_expired()).  Returns -ETIMEDOUT.
 */
static inline int uco__timed_out(struct uco_task *t)
{
	uint64_t now = uco_now();

	for (unsigned i = 0; i < t->ndeadlines; i++)
		if (t->deadlines[i] <= now)
			t->deadlines_cut |= (uint8_t)(1u << i);
	return -ETIMEDOUT;
}

/*
 * A suspending call refused at its start (err: -ECANCELED or -ETIMEDOUT)
 * still yields before it returns err: a task that ignores the error and
 * calls again in a loop would otherwise never leave its core's CPU, and
 * other tasks, CQEs, messages and signals would never get their turn.  In
 * debug mode it also names a task that keeps making calls after -ECANCELED
 * (UCO_REFUSED_WARN of them).  Out of
 * line and cold: the common path only tests the flags it always tested.
 * The caller must not be linked on any wait list (others run meanwhile).
 */
int uco__refuse(struct uco_task *t, int err);

/* Debug mode: calls refused for a cancel after which the task is named. */
#define UCO_REFUSED_WARN 1000

/*
 * The checks every suspending call starts with: -EPERM outside a task,
 * -ECANCELED if cancelled and not shielded, -ETIMEDOUT if a scope expired.
 * Never suspends (uco__block uses it: its caller has linked a waiter).
 */
static inline int uco__enter_check(struct uco_task **out)
{
	struct uco_task *t = uco__self();

	*out = t;
	if (__builtin_expect(!t, 0))
		return -EPERM;
	if (__builtin_expect(t->slow != 0, 0))
		return uco__enter_check_slow(t);
	return 0;
}

/* uco__enter_check(), and a refusal passes through the scheduler
 * (uco__refuse).  For calls that have linked nothing yet. */
static inline int uco__enter(struct uco_task **out)
{
	struct uco_task *t = uco__self();

	*out = t;
	if (__builtin_expect(!t, 0))
		return -EPERM;
	if (__builtin_expect(t->slow != 0, 0))
		return uco__enter_slow(t);
	return 0;
}

/* Earliest open deadline of t (UINT64_MAX if none). */
static inline uint64_t uco__task_deadline(const struct uco_task *t)
{
	uint64_t d = UINT64_MAX;

	for (unsigned i = 0; i < t->ndeadlines; i++)
		if (t->deadlines[i] < d)
			d = t->deadlines[i];
	return d;
}

/* Cut t's current wait short with `reason` (-ECANCELED or -ETIMEDOUT). */
void uco__interrupt(struct uco_task *t, int reason);

/* Apply a cancel request to t, on t's loop. */
void uco__cancel_local(struct uco_task *t);

/* Drop one reference (on home); frees the record and stack at zero. */
void uco__task_unref(struct uco_task *t);

/* The scheduler's part of a task's end, once it is off its stack. */
void uco__task_exited(struct uco__loop *l, struct uco_task *t);

/* One line describing t, for dumps. */
void uco__task_describe(const struct uco_task *t, char *buf, size_t len);

/* spawn_ext.c: copy a task name into dst[size], cut on a UTF-8
 * character boundary. */
void uco__task_name_copy(char *dst, size_t size, const char *name);

/* spawn_ext.c: free what the record owns beyond its stack (an untaken
 * result through free_result, the error message); at the last unref. */
void uco__task_free_extras(struct uco_task *t);

/* Cancel every task of the calling loop (shutdown). */
void uco__cancel_all(struct uco__loop *l);

#endif
