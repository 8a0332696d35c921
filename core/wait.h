/*
 * Waiting on runtime objects: the building block of join, futures, the
 * combinators and everything in sync/.
 *
 * A waiter is a node on an object's wait list, living in the waiting task's
 * frame.  Waking it unlinks it first, so a waiter that was cancelled or
 * timed out (and unlinked itself) can never swallow a wake-up meant for
 * another, and a waiter that was already woken keeps what it was given even
 * if a cancel arrives before it runs.
 */
#ifndef UCO_CORE_WAIT_H
#define UCO_CORE_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"

struct uco_task;

struct uco__waiter {
	struct uco__node node;
	struct uco_task *task;
	/* NULL: wake `task` with res.  Otherwise called instead (the waiter is
	 * already unlinked), e.g. to count completions for uco_wait(). */
	void (*notify)(struct uco__waiter *w, int res);
	void *ctx;
};

/* A FIFO wait list. */
struct uco__waitq {
	struct uco__node head;
};

static inline void uco__waitq_init(struct uco__waitq *q)
{
	uco__node_init(&q->head);
}

static inline bool uco__waitq_empty(const struct uco__waitq *q)
{
	return uco__list_empty(&q->head);
}

/*
 * Block the running task on an object: the caller has linked whatever it
 * needs; `interrupt(ctx)` must unlink it again and is called if the wait is
 * cut short by cancellation or a deadline (or refused at the start).
 * Returns the res given to uco__wake(), or -ECANCELED / -ETIMEDOUT /
 * -EPERM.  Honours the task's timeout scopes.
 */
int uco__block(void (*interrupt)(void *ctx), void *ctx, const char *what);

/*
 * uco__block() that also ends at `at` (absolute CLOCK_MONOTONIC ns) with
 * -ETIMEDOUT, through the loop's timer heap (no SQE): uco_sleep().  Scopes
 * are honoured as by uco__block() and marked cut short only if one of
 * theirs had passed.  -ENOMEM if the heap cannot grow (nothing linked is
 * touched: interrupt(ctx) has been called).
 */
int uco__block_until(void (*interrupt)(void *ctx), void *ctx,
		     const char *what, uint64_t at);

/* Wake a task blocked in uco__block() with res (same loop only). */
void uco__wake(struct uco_task *t, int res);

/* Wait at the tail of q.  Returns the res it was woken with, or an error
 * from uco__block(). */
int uco__waitq_wait(struct uco__waitq *q, const char *what);

/* Wake the first waiter (FIFO).  Returns false if there was none. */
bool uco__waitq_wake_one(struct uco__waitq *q, int res);

/* Wake every waiter, in order.  Returns how many. */
size_t uco__waitq_wake_all(struct uco__waitq *q, int res);

/* Wake (or notify) waiter w, unlinking it. */
void uco__waiter_fire(struct uco__waiter *w, int res);

#endif
