/*
 * Queues between tasks of one core: FIFO, LIFO and priority (a binary
 * min-heap, ties broken by insertion sequence), bounded or not.
 *
 * Hand-off, not re-offer.  Items and places go straight to the first
 * waiter at the moment they become available, never to "whoever runs
 * first":
 *   - put with a getter waiting (the queue is then empty): the item is
 *     written into the getter's waiter record (in its frame) and the getter
 *     is woken with 0.  The item never enters the buffer, so a getter that
 *     arrives in between finds the queue empty and lines up behind.
 *   - get from a full queue with a putter waiting: the item is taken, then
 *     the first putter's item is moved into the freed slot and the putter is
 *     woken with 0.  A putter arriving in between finds the queue full.
 * So the wait lists obey two invariants: getters wait only while the buffer
 * is empty, putters only while it is full.  A waiter that is cancelled or
 * times out is unlinked by uco__block()'s interrupt before anything was
 * handed to it (nothing to give back); a waiter that was handed its item or
 * its place is off the list and its wake-up carries 0, which a later cancel
 * does not change (core/wait.h), so it returns success and keeps the item.
 * Nothing is ever lost or taken twice, and no wake-up needs re-offering.
 *
 * Woken tasks never read the queue again (the item is in their own frame),
 * so a queue may be freed as soon as the call that woke them returns.
 *
 * Storage: FIFO is a ring of void * with a power-of-two capacity, LIFO the
 * same array used as a stack, priority a 0-based heap of (item, seq).  The
 * array grows by doubling as items arrive (up to the power of two at or
 * above maxsize), so a large maxsize costs nothing until it is used.
 */
#include <uco/queue.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "percore.h"

struct pq_entry {
	void *item;
	uint64_t seq;
};

struct uco_queue {
	struct uco__loop *loop;
	size_t len;                  /* items in the buffer */
	size_t cap;                  /* slots allocated (power of two or 0) */
	size_t head;                 /* FIFO: index of the oldest item */
	union {
		void **ring;         /* FIFO ring, LIFO stack */
		struct pq_entry *heap;
	} buf;
	size_t maxsize;              /* 0 = unbounded */
	size_t unfinished;           /* put and not task_done'd */
	uint64_t seq;                /* priority: insertion counter */
	uco_queue_kind kind;
	bool shutdown;
	struct uco__waitq getters;
	struct uco__waitq putters;
	struct uco__waitq joiners;
	int (*cmp)(const void *a, const void *b, void *ctx);
	void *cmp_ctx;
	void (*drop)(void *item, void *ctx);
	void *drop_ctx;
};

/* A waiting getter or putter: the item travels through here. */
struct q_waiter {
	struct uco__waiter w;
	void *item;
};

static size_t elem_size(const uco_queue *q)
{
	return q->kind == UCO_QUEUE_PRIORITY ? sizeof(struct pq_entry)
					     : sizeof(void *);
}

UCO_API int uco_queue_create(uco_queue **out, const uco_queue_opts *opts)
{
	static const uco_queue_opts defaults;
	uco_queue *q;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if ((unsigned)opts->kind > UCO_QUEUE_PRIORITY ||
	    (opts->kind == UCO_QUEUE_PRIORITY && !opts->cmp))
		return -EINVAL;
	if (!uco__tls_loop)
		return -EPERM;
	q = uco__zalloc(sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->loop = uco__tls_loop;
	q->kind = opts->kind;
	q->maxsize = opts->maxsize;
	q->cmp = opts->cmp;
	q->cmp_ctx = opts->cmp_ctx;
	q->drop = opts->drop;
	q->drop_ctx = opts->drop_ctx;
	uco__waitq_init(&q->getters);
	uco__waitq_init(&q->putters);
	uco__waitq_init(&q->joiners);
	*out = q;
	return 0;
}

/* ---- the buffer -------------------------------------------------------- */

static bool is_full(const uco_queue *q)
{
	return q->maxsize && q->len >= q->maxsize;
}

/* Double the array (grown only when full; a full FIFO ring that does not
 * start at 0 wraps, so it is copied out in order, unwrapped at 0). */
__attribute__((noinline)) static int grow(uco_queue *q)
{
	size_t es = elem_size(q);
	size_t ncap = q->cap ? q->cap * 2 : 8;
	void **nb;

	if (ncap < q->cap || ncap > SIZE_MAX / es)
		return -ENOMEM;
	if (q->kind == UCO_QUEUE_FIFO && q->head) {
		nb = uco__alloc(ncap * es);
		if (!nb)
			return -ENOMEM;
		for (size_t i = 0; i < q->len; i++)
			nb[i] = q->buf.ring[(q->head + i) & (q->cap - 1)];
		uco__free(q->buf.ring, q->cap * es);
		q->head = 0;
	} else {
		nb = uco__realloc(q->buf.ring, ncap * es);
		if (!nb)
			return -ENOMEM;
	}
	q->buf.ring = nb;
	q->cap = ncap;
	return 0;
}

static bool pq_before(const uco_queue *q, const struct pq_entry *a,
		      const struct pq_entry *b)
{
	int c = q->cmp(a->item, b->item, q->cmp_ctx);

	return c < 0 || (c == 0 && a->seq < b->seq);
}

__attribute__((noinline)) static void pq_push(uco_queue *q, void *item)
{
	struct pq_entry *h = q->buf.heap;
	struct pq_entry e = { item, q->seq++ };
	size_t i = q->len++;

	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!pq_before(q, &e, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = e;
}

__attribute__((noinline)) static void *pq_pop(uco_queue *q)
{
	struct pq_entry *h = q->buf.heap;
	void *top = h[0].item;
	struct pq_entry last = h[--q->len];
	size_t n = q->len, i = 0;

	if (n == 0)
		return top;
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && pq_before(q, &h[c + 1], &h[c]))
			c++;
		if (!pq_before(q, &h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = last;
	return top;
}

/* Store item in the buffer (room is known to be there, or made). */
static inline int push(uco_queue *q, void *item)
{
	if (__builtin_expect(q->len == q->cap, 0)) {
		int r = grow(q);

		if (r < 0)
			return r;
	}
	switch (q->kind) {
	case UCO_QUEUE_FIFO:
		q->buf.ring[(q->head + q->len) & (q->cap - 1)] = item;
		q->len++;
		break;
	case UCO_QUEUE_LIFO:
		q->buf.ring[q->len++] = item;
		break;
	default:
		pq_push(q, item);
		break;
	}
	return 0;
}

/* Take the next item from a non-empty buffer. */
static inline void *pop(uco_queue *q)
{
	void *item;

	switch (q->kind) {
	case UCO_QUEUE_FIFO:
		item = q->buf.ring[q->head];
		q->head = (q->head + 1) & (q->cap - 1);
		q->len--;
		return item;
	case UCO_QUEUE_LIFO:
		return q->buf.ring[--q->len];
	default:
		return pq_pop(q);
	}
}

static struct q_waiter *first_waiter(struct uco__waitq *wq)
{
	struct uco__node *n = uco__list_first(&wq->head);

	return n ? uco__container_of(n, struct q_waiter, w.node) : NULL;
}

/* Hand item to the first waiting getter (the buffer is empty). */
__attribute__((noinline)) static void hand_to_getter(uco_queue *q,
						     void *item)
{
	struct q_waiter *g = first_waiter(&q->getters);

	g->item = item;
	uco__waiter_fire(&g->w, 0);
}

/* A put that does not wait: hand the item to the first getter, or store it. */
static inline int enqueue(uco_queue *q, void *item)
{
	if (__builtin_expect(!uco__waitq_empty(&q->getters), 0)) {
		hand_to_getter(q, item);
	} else {
		int r = push(q, item);

		if (r < 0)
			return r;
	}
	q->unfinished++;
	return 0;
}

/* A get made room in a full queue: the first waiting putter's item goes
 * into the freed slot. */
__attribute__((noinline)) static void admit_putter(uco_queue *q)
{
	struct q_waiter *p = first_waiter(&q->putters);

	push(q, p->item); /* cannot fail: a slot was just freed */
	q->unfinished++;
	uco__waiter_fire(&p->w, 0);
}

/* A get from a non-empty buffer: take the item, then let the first
 * waiting putter's item into the slot it freed. */
static inline void *dequeue(uco_queue *q)
{
	void *item = pop(q);

	if (__builtin_expect(!uco__waitq_empty(&q->putters), 0))
		admit_putter(q);
	return item;
}

static void q_unlink(void *ctx)
{
	uco__list_del(&((struct uco__waiter *)ctx)->node);
}

/* ---- the calls --------------------------------------------------------- */

static inline int check(const uco_queue *q)
{
	if (__builtin_expect(!q, 0))
		return -EINVAL;
	return uco__home_check(q->loop);
}

UCO_API int uco_queue_try_put(uco_queue *q, void *item)
{
	int r = check(q);

	if (r < 0)
		return r;
	if (q->shutdown)
		return -ESHUTDOWN;
	if (is_full(q))
		return -EAGAIN;
	return enqueue(q, item);
}

/* Wait for room (q is full). */
__attribute__((noinline)) static int put_wait(uco_queue *q, void *item)
{
	struct q_waiter pw = { .w = { .task = uco__self() }, .item = item };

	if (!pw.w.task)
		return -EPERM;
	uco__list_add_tail(&q->putters.head, &pw.w.node);
	return uco__block(q_unlink, &pw.w, "queue put");
}

UCO_API int uco_queue_put(uco_queue *q, void *item)
{
	int r = check(q);

	if (__builtin_expect(r != 0, 0))
		return r;
	if (__builtin_expect(q->shutdown, 0))
		return -ESHUTDOWN;
	if (__builtin_expect(!is_full(q), 1))
		return enqueue(q, item);
	return put_wait(q, item);
}

UCO_API int uco_queue_try_get(uco_queue *q, void **item)
{
	int r = check(q);

	if (r < 0)
		return r;
	if (!item)
		return -EINVAL;
	if (q->len) {
		*item = dequeue(q);
		return 0;
	}
	return q->shutdown ? -ESHUTDOWN : -EAGAIN;
}

/* Wait for an item (q is empty). */
__attribute__((noinline)) static int get_wait(uco_queue *q, void **item)
{
	struct q_waiter gw = { .w = { .task = uco__self() } };
	int r;

	if (!gw.w.task)
		return -EPERM;
	uco__list_add_tail(&q->getters.head, &gw.w.node);
	r = uco__block(q_unlink, &gw.w, "queue get");
	if (r == 0)
		*item = gw.item;
	return r;
}

UCO_API int uco_queue_get(uco_queue *q, void **item)
{
	int r = check(q);

	if (__builtin_expect(r != 0, 0))
		return r;
	if (__builtin_expect(!item, 0))
		return -EINVAL;
	if (__builtin_expect(q->len != 0, 1)) {
		*item = dequeue(q);
		return 0;
	}
	if (q->shutdown)
		return -ESHUTDOWN;
	return get_wait(q, item);
}

UCO_API int uco_queue_task_done(uco_queue *q)
{
	int r = check(q);

	if (r < 0)
		return r;
	if (!q->unfinished)
		return -EINVAL;
	if (--q->unfinished == 0)
		uco__waitq_wake_all(&q->joiners, 0);
	return 0;
}

UCO_API int uco_queue_join(uco_queue *q)
{
	int r = check(q);

	if (r < 0)
		return r;
	if (!q->unfinished)
		return 0;
	return uco__waitq_wait(&q->joiners, "queue join");
}

UCO_API int uco_queue_shutdown(uco_queue *q, bool immediate)
{
	int r = check(q);

	if (r < 0)
		return r;
	q->shutdown = true;
	/* Putters wait only while full and getters only while empty, so at
	 * most one of these lists has anyone on it. */
	uco__waitq_wake_all(&q->putters, -ESHUTDOWN);
	uco__waitq_wake_all(&q->getters, -ESHUTDOWN);
	if (immediate && q->len) {
		size_t n = 0;

		while (q->len) {
			void *item = pop(q);

			if (q->drop)
				q->drop(item, q->drop_ctx);
			n++;
		}
		q->unfinished = q->unfinished > n ? q->unfinished - n : 0;
		if (!q->unfinished)
			uco__waitq_wake_all(&q->joiners, 0);
	}
	return 0;
}

UCO_API void uco_queue_free(uco_queue *q)
{
	if (!q)
		return;
	if (!uco__waitq_empty(&q->getters) || !uco__waitq_empty(&q->putters) ||
	    !uco__waitq_empty(&q->joiners)) {
		fprintf(stderr, "uco: uco_queue_free() on a queue that tasks "
				"are waiting on\n");
		abort();
	}
	while (q->len) {
		void *item = pop(q);

		if (q->drop)
			q->drop(item, q->drop_ctx);
	}
	uco__free(q->buf.ring, q->cap * elem_size(q));
	uco__free(q, sizeof(*q));
}

UCO_API size_t uco_queue_size(const uco_queue *q)
{
	return q->len;
}

UCO_API size_t uco_queue_maxsize(const uco_queue *q)
{
	return q->maxsize;
}

UCO_API bool uco_queue_empty(const uco_queue *q)
{
	return q->len == 0;
}

UCO_API bool uco_queue_full(const uco_queue *q)
{
	return is_full(q);
}

UCO_API bool uco_queue_is_shutdown(const uco_queue *q)
{
	return q->shutdown;
}

UCO_API size_t uco_queue_unfinished(const uco_queue *q)
{
	return q->unfinished;
}
