/*
 * Token-bucket rate limiter; see include/uco/ratelimit.h.
 *
 * Units: one token is period_ns units, and the bucket gains `rate` units
 * per nanosecond, so refilling and the time to wait are exact integer
 * arithmetic: n tokens missing `d` units are there after ceil(d / rate) ns.
 * The level is capped at burst * period_ns units.
 *
 * The line: `waiters` in FIFO order.  The first sleeps (the clock's
 * sleep_until) until its tokens are there; the others block on the list
 * (core/wait.h) until the one before them leaves, which wakes the new
 * first without unlinking it.  A waiter behind the first that is cut short
 * unlinks itself (uco__block's interrupt); the first, cut short in its
 * sleep, leaves and wakes the next.  Nobody holds tokens while waiting.
 */
#include <uco/ratelimit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <uco/time.h>

#include "core/alloc.h"
#include "core/list.h"
#include "core/loop.h"
#include "core/task.h"
#include "core/wait.h"
#include "clock.h"

struct uco_ratelimit {
	uint64_t rate;      /* units per ns */
	uint64_t period;    /* units per token */
	uint64_t burst;     /* tokens */
	uint64_t cap;       /* burst * period units */
	uint64_t level;     /* units in the bucket at `last` */
	uint64_t last;      /* clock time of the last refill */
	uint64_t (*now)(void *ctx);
	int (*sleep_until)(void *ctx, uint64_t deadline);
	void *clock_ctx;
	struct uco__loop *home;
	struct uco__node waiters;
};

struct rl_waiter {
	struct uco__node node;
	struct uco_task *task;
};


static int home_check(const uco_ratelimit *rl)
{
	struct uco__loop *l = uco__tls_loop;

	if (!l)
		return -EPERM;
	return l == rl->home ? 0 : -EXDEV;
}

UCO_API int uco_ratelimit_create(uco_ratelimit **out, uint64_t rate,
				 uint64_t period_ns, uint64_t burst,
				 const uco_ratelimit_opts *opts)
{
	uco_ratelimit *rl;
	uint64_t cap;

	*out = NULL;
	if (!uco__tls_loop)
		return -EPERM;
	if (!rate || !period_ns || !burst ||
	    __builtin_mul_overflow(burst, period_ns, &cap) ||
	    cap + rate < cap)
		return -EINVAL;
	rl = uco__zalloc(sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->rate = rate;
	rl->period = period_ns;
	rl->burst = burst;
	rl->cap = cap;
	rl->now = opts && opts->now ? opts->now : uco__clock_now;
	rl->sleep_until = opts && opts->sleep_until ? opts->sleep_until
						    : uco__clock_sleep_until;
	rl->clock_ctx = opts ? opts->clock_ctx : NULL;
	rl->home = uco__tls_loop;
	rl->level = opts && opts->start_empty ? 0 : cap;
	rl->last = rl->now(rl->clock_ctx);
	uco__node_init(&rl->waiters);
	*out = rl;
	return 0;
}

UCO_API void uco_ratelimit_free(uco_ratelimit *rl)
{
	if (!rl)
		return;
	if (!uco__list_empty(&rl->waiters)) {
		fprintf(stderr, "uco: uco_ratelimit_free() on a limiter that "
				"tasks are waiting on\n");
		abort();
	}
	uco__free(rl, sizeof(*rl));
}

/* Bring the level up to the clock's now. */
static void refill(uco_ratelimit *rl)
{
	uint64_t now = rl->now(rl->clock_ctx);
	uint64_t room = rl->cap - rl->level;

	if (now <= rl->last)
		return;
	/* Full after ceil(room / rate) ns; below that, elapsed * rate is
	 * less than room + rate, which cannot overflow (checked at create). */
	if (now - rl->last >= room / rl->rate + (room % rl->rate != 0))
		rl->level = rl->cap;
	else
		rl->level += (now - rl->last) * rl->rate;
	rl->last = now;
}

static bool take(uco_ratelimit *rl, uint64_t n)
{
	uint64_t need = n * rl->period;

	refill(rl);
	if (rl->level < need)
		return false;
	rl->level -= need;
	return true;
}

UCO_API int uco_ratelimit_try_acquire(uco_ratelimit *rl, uint64_t n)
{
	int r = home_check(rl);

	if (r < 0)
		return r;
	if (n > rl->burst)
		return -EINVAL;
	if (!uco__list_empty(&rl->waiters) || !take(rl, n))
		return -EAGAIN;
	return 0;
}

static void waiter_unlink(void *ctx)
{
	uco__list_del(&((struct rl_waiter *)ctx)->node);
}

/* The first in line leaves: the next one becomes the first and is woken
 * (it stays on the list, at its head). */
static void leave_first(uco_ratelimit *rl, struct rl_waiter *w)
{
	struct uco__node *next;

	uco__list_del(&w->node);
	next = uco__list_first(&rl->waiters);
	if (next)
		uco__wake(uco__container_of(next, struct rl_waiter, node)->task,
			  0);
}

UCO_API int uco_ratelimit_acquire(uco_ratelimit *rl, uint64_t n)
{
	struct rl_waiter w;
	int r = home_check(rl);

	if (r < 0)
		return r;
	if (n > rl->burst)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (uco__list_empty(&rl->waiters) && take(rl, n))
		return 0;
	w.task = uco__self();
	if (!w.task)
		return -EPERM;
	uco__list_add_tail(&rl->waiters, &w.node);
	if (uco__list_first(&rl->waiters) != &w.node) {
		/* Wait for our turn: the one before us wakes us as it leaves,
		 * leaving us first on the list. */
		r = uco__block(waiter_unlink, &w, "ratelimit (in line)");
		if (r < 0)
			return r;
	}
	/* First in line: sleep until the tokens are there.  One sleep, to
	 * the computed moment; the loop only guards against a clock whose
	 * sleep returns early. */
	while (!take(rl, n)) {
		uint64_t missing = n * rl->period - rl->level;
		uint64_t wait = missing / rl->rate + (missing % rl->rate != 0);

		r = rl->sleep_until(rl->clock_ctx, rl->last + wait);
		if (r < 0) {
			leave_first(rl, &w);
			return r;
		}
	}
	leave_first(rl, &w);
	return 0;
}

UCO_API uint64_t uco_ratelimit_tokens(uco_ratelimit *rl)
{
	refill(rl);
	return rl->level / rl->period;
}
