/* Blocking on runtime objects; see wait.h. */
#include "wait.h"

#include <errno.h>

#include "loop.h"
#include "task.h"
#include "timer.h"

int uco__block(void (*interrupt)(void *ctx), void *ctx, const char *what)
{
	struct uco_task *t;
	uint64_t deadline;
	int r = uco__enter_check(&t);

	if (r < 0) {
		/* Unlinked before the refusal yields: while others run, a
		 * linked waiter could be woken under us. */
		if (t) {
			interrupt(ctx);
			r = uco__refuse(t, r);
		}
		return r;
	}
	deadline = uco__task_deadline(t);
	if (deadline != UINT64_MAX &&
	    uco__timer_arm(&t->loop->timers, &t->timer, deadline) < 0) {
		interrupt(ctx);
		return -ENOMEM;
	}
	t->wait_kind = UCO_WAIT_OBJECT;
	t->wait_interrupt = interrupt;
	t->wait_ctx = ctx;
	t->wait_what = what;
	t->state = UCO_TASK_WAITING;
	r = uco__suspend(t);
	t->wait_what = NULL;
	if (r == -ETIMEDOUT) /* the timer armed above fired */
		uco__timed_out(t);
	return r;
}

void uco__wake(struct uco_task *t, int res)
{
	uco__make_ready(t, res);
}

void uco__waiter_fire(struct uco__waiter *w, int res)
{
	uco__list_del(&w->node);
	if (w->notify)
		w->notify(w, res);
	else
		uco__wake(w->task, res);
}

static void waitq_unlink(void *ctx)
{
	uco__list_del(&((struct uco__waiter *)ctx)->node);
}

int uco__waitq_wait(struct uco__waitq *q, const char *what)
{
	struct uco__waiter w = { .task = uco__self() };

	if (!w.task)
		return -EPERM;
	uco__list_add_tail(&q->head, &w.node);
	return uco__block(waitq_unlink, &w, what);
}

bool uco__waitq_wake_one(struct uco__waitq *q, int res)
{
	struct uco__node *n = uco__list_first(&q->head);

	if (!n)
		return false;
	uco__waiter_fire(uco__container_of(n, struct uco__waiter, node), res);
	return true;
}

size_t uco__waitq_wake_all(struct uco__waitq *q, int res)
{
	size_t count = 0;
	struct uco__node *n;

	/* Firing unlinks, and a notify callback may add waiters (to other
	 * lists only), so take the head each time. */
	while ((n = uco__list_first(&q->head))) {
		uco__waiter_fire(uco__container_of(n, struct uco__waiter, node),
				 res);
		count++;
	}
	return count;
}

/* ---- a wait that also ends at a time (uco_sleep: issue 14) ---------------- */

int uco__block_until(void (*interrupt)(void *ctx), void *ctx,
		     const char *what, uint64_t at)
{
	struct uco_task *t;
	uint64_t scope;
	int r = uco__enter_check(&t);

	if (r < 0) {
		if (t) {
			interrupt(ctx);
			r = uco__refuse(t, r);
		}
		return r;
	}
	scope = uco__task_deadline(t);
	if (uco__timer_arm(&t->loop->timers, &t->timer, scope < at ? scope : at) < 0) {
		interrupt(ctx);
		return -ENOMEM;
	}
	t->wait_kind = UCO_WAIT_OBJECT;
	t->wait_interrupt = interrupt;
	t->wait_ctx = ctx;
	t->wait_what = what;
	t->state = UCO_TASK_WAITING;
	r = uco__suspend(t);
	if (r == -ETIMEDOUT && scope <= at)
		uco__timed_out(t);
	return r;
}
