/*
 * The clock, sleeping, NOP, timeout scopes and wait_for.
 */
#include <errno.h>
#include <time.h>

#include <uco/time.h>

#include "cleanup.h"
#include "loop.h"
#include "opfast.h"
#include "task.h"
#include "wait.h"

UCO_API uint64_t uco_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The sleep as an IORING_OP_TIMEOUT: what uco_sleep_until() falls back to
 * when the timer heap cannot grow. */
static int sleep_op(uint64_t deadline)
{
	struct uco__op op;
	struct io_uring_sqe *sqe;
	struct __kernel_timespec ts;
	uint64_t scope;
	bool by_scope = false;
	int r;

	/* The sleep's own TIMEOUT carries the nearer of the two deadlines,
	 * so a scope costs no extra SQE here. */
	r = uco__op_begin_ex(&op, &sqe, false);
	if (r < 0)
		return r;
	scope = uco__task_deadline(op.task);
	if (scope < deadline) {
		deadline = scope;
		by_scope = true;
	}
	ts.tv_sec = (long long)(deadline / 1000000000ull);
	ts.tv_nsec = (long long)(deadline % 1000000000ull);
	io_uring_prep_timeout(sqe, &ts, 0, IORING_TIMEOUT_ABS);
	op.task->wait_what = "sleep";
	r = uco__op_wait(&op, sqe);
	op.task->wait_what = NULL; /* (the op path leaves it alone) */
	if (r == -ETIME)
		return by_scope ? uco__timed_out(op.task) : 0;
	return r;
}

static void sleep_unlink(void *ctx)
{
	(void)ctx; /* a sleep is linked on nothing but the timer heap */
}

/*
 * Sleeps wait in the loop's timer heap (no SQE each), so every sleep
 * whose deadline has passed when the loop looks at its timers wakes in
 * that one pass, in deadline order, before any of them runs (time.h).
 */
UCO_API int uco_sleep_until(uint64_t deadline)
{
	struct uco_task *t = uco__self();
	int r;

	if (!t)
		return -EPERM;
	r = uco__block_until(sleep_unlink, NULL, "sleep", deadline);
	if (r == -ENOMEM)
		return sleep_op(deadline);
	if (r != -ETIMEDOUT)
		return r;
	/* The heap fired: a scope's deadline, or only the sleep's own. */
	return uco_now() >= uco__task_deadline(t) ? uco__timed_out(t) : 0;
}

UCO_API int uco_sleep(uint64_t ns)
{
	uint64_t now;

	if (ns == 0)
		return uco_yield();
	/* A sleep past the end of time is until cancelled, not a deadline
	 * wrapped around into the past (the kernel clamps the far one). */
	now = uco_now();
	return uco_sleep_until(ns > UINT64_MAX - now ? UINT64_MAX : now + ns);
}

UCO_API int uco_nop(void)
{
	struct uco__op op;
	struct io_uring_sqe *sqe;
	int r = uco__op_begin(&op, &sqe);

	if (r < 0)
		return r;
	io_uring_prep_nop(sqe);
	return uco__op_wait(&op, sqe);
}

/* ---- scopes ------------------------------------------------------------ */

UCO_API int uco_timeout_at(uint64_t deadline)
{
	struct uco_task *t = uco__self();

	if (!t)
		return -EPERM;
	if (t->ndeadlines == UCO_TIMEOUT_DEPTH)
		return -E2BIG;
	t->deadlines[t->ndeadlines] = deadline;
	t->deadlines_cut &= (uint8_t)~(1u << t->ndeadlines);
	return t->ndeadlines++;
}

UCO_API int uco_timeout_begin(uint64_t ns)
{
	uint64_t now = uco_now();

	return uco_timeout_at(ns > UINT64_MAX - now ? UINT64_MAX - 1 : now + ns);
}

UCO_API int uco_timeout_end(int scope)
{
	struct uco_task *t = uco__self();
	bool expired;

	if (!t)
		return -EPERM;
	if (scope < 0 || scope >= t->ndeadlines)
		return -EINVAL;
	expired = uco_now() >= t->deadlines[scope];
	t->ndeadlines = (uint8_t)scope;
	t->deadlines_cut &= (uint8_t)((1u << scope) - 1);
	return expired ? -ETIMEDOUT : 0;
}

UCO_API int uco_timeout_expired(int scope)
{
	struct uco_task *t = uco__self();

	if (!t)
		return -EPERM;
	if (scope < 0 || scope >= t->ndeadlines)
		return -EINVAL;
	return (t->deadlines_cut >> scope) & 1;
}

UCO_API uint64_t uco_deadline(void)
{
	struct uco_task *t = uco__self();

	return t ? uco__task_deadline(t) : UINT64_MAX;
}

UCO_API int uco_wait_for(uint64_t ns, int (*fn)(void *arg), void *arg)
{
	int scope = uco_timeout_begin(ns);
	int r, cut;

	if (scope < 0)
		return scope;
	r = fn(arg);
	/* An error is a timeout only if this scope cut one of fn's calls
	 * short; a deadline that merely passed changes nothing. */
	cut = uco_timeout_expired(scope);
	uco_timeout_end(scope);
	if (r < 0 && cut > 0)
		return -ETIMEDOUT;
	return r;
}

UCO_API int uco_wait_for_task(uco_task *t, uint64_t ns, void **result)
{
	struct uco_task *self = uco__self();
	int scope, r, e;
	struct uco__cleanup c;

	if (!self)
		return -EPERM;
	scope = uco_timeout_begin(ns);
	if (scope < 0)
		return scope;
	r = uco_join(t, result);
	e = uco_timeout_end(scope);
	if (r >= 0 || t->finished || r == -EXDEV || r == -EDEADLK)
		return r; /* t's own outcome */
	/* The wait was cut short: by our deadline, an outer one, or a cancel
	 * of the caller.  As asyncio.wait_for does, t is cancelled and waited
	 * for; the join is shielded and free of deadlines so it cannot be cut
	 * short again. */
	uco_cancel(t);
	uco__cleanup_begin(&c);
	{
		int j = uco_join(t, result);

		uco__cleanup_end(&c);
		/* The outcome is what happened: a task that finished anyway
		 * reports its result; one that gave up reports why we stopped
		 * waiting. */
		if (j >= 0 || j != -ECANCELED)
			return j;
	}
	return e == -ETIMEDOUT && r == -ETIMEDOUT ? -ETIMEDOUT : r;
}
