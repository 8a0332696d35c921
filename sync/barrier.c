/*
 * Barrier: an arrival count and a FIFO wait list, per core.
 *
 * Direct hand-off: each waiter records its arrival index in its own frame;
 * the last arrival wakes every waiter with 0 ("passed") and resets the
 * count at once, so there is no draining phase (asyncio needs one because
 * its woken waiters read the barrier's state when they run; ours never read
 * the barrier again).  A waiter that was released keeps its index even if
 * cancelled before it runs.
 *
 * A waiter cancelled or timed out while waiting is unlinked by the
 * interrupt below, which also breaks the barrier: the others wake with
 * -EPIPE at once (see include/uco/barrier.h for why).  Nothing has to be
 * re-offered: a release or a break wakes every waiter.
 */
#include <uco/barrier.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "percore.h"

struct __attribute__((may_alias)) barrier {
	struct uco__waitq waiters;
	struct uco__loop *loop;
	unsigned parties;
	unsigned count;   /* arrived and waiting this round */
	bool broken;
};

UCO__OPAQUE_FITS(uco_barrier, struct barrier);

#define B(b) ((struct barrier *)(void *)(b))
#define CB(b) ((const struct barrier *)(const void *)(b))

struct barrier_waiter {
	struct uco__waiter w;
	struct barrier *b;
};

UCO_API int uco_barrier_init(uco_barrier *pb, unsigned parties)
{
	struct barrier *b = B(pb);

	if (!pb || parties == 0 || parties > INT_MAX)
		return -EINVAL;
	if (!uco__tls_loop)
		return -EPERM;
	uco__waitq_init(&b->waiters);
	b->loop = uco__tls_loop;
	b->parties = parties;
	b->count = 0;
	b->broken = false;
	return 0;
}

UCO_API void uco_barrier_destroy(uco_barrier *pb)
{
	if (!pb)
		return;
	if (!uco__waitq_empty(&B(pb)->waiters)) {
		fprintf(stderr, "uco: uco_barrier_destroy() on a barrier that "
				"tasks are waiting on\n");
		abort();
	}
	B(pb)->loop = NULL;
}

static inline int check(const uco_barrier *pb)
{
	if (!pb)
		return -EINVAL;
	return uco__home_check(CB(pb)->loop);
}

/* Wake everyone waiting with res and start an empty round. */
static void release_all(struct barrier *b, int res)
{
	b->count = 0;
	uco__waitq_wake_all(&b->waiters, res);
}

/* A waiter gave up (cancelled, timed out): it leaves, and the round it
 * was part of can no longer complete. */
static void barrier_interrupt(void *ctx)
{
	struct barrier_waiter *bw = ctx;

	uco__list_del(&bw->w.node);
	bw->b->broken = true;
	release_all(bw->b, -EPIPE);
}

UCO_API int uco_barrier_wait(uco_barrier *pb)
{
	struct barrier *b = B(pb);
	struct barrier_waiter bw;
	struct uco_task *t;
	unsigned index;
	int r = check(pb);

	if (r)
		return r;
	if (b->broken)
		return -EPIPE;
	index = b->count;
	if (index + 1 == b->parties) {
		release_all(b, 0);
		return (int)index;
	}
	/* A task already cancelled or out of time does not arrive. */
	r = uco__enter(&t);
	if (r)
		return r;
	bw = (struct barrier_waiter){ .w = { .task = t }, .b = b };
	b->count++;
	uco__list_add_tail(&b->waiters.head, &bw.w.node);
	r = uco__block(barrier_interrupt, &bw, "barrier");
	return r ? r : (int)index;
}

UCO_API int uco_barrier_reset(uco_barrier *pb)
{
	int r = check(pb);

	if (r)
		return r;
	release_all(B(pb), -EPIPE);
	B(pb)->broken = false;
	return 0;
}

UCO_API int uco_barrier_abort(uco_barrier *pb)
{
	int r = check(pb);

	if (r)
		return r;
	B(pb)->broken = true;
	release_all(B(pb), -EPIPE);
	return 0;
}

UCO_API unsigned uco_barrier_parties(const uco_barrier *pb)
{
	return CB(pb)->parties;
}

UCO_API unsigned uco_barrier_n_waiting(const uco_barrier *pb)
{
	return CB(pb)->count;
}

UCO_API bool uco_barrier_broken(const uco_barrier *pb)
{
	return CB(pb)->broken;
}
