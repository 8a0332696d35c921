/* A binary min-heap of object-wait deadlines; see timer.h. */
#include "timer.h"

#include <errno.h>

#include "alloc.h"
#include "task.h"

void uco__timers_init(struct uco__timers *h)
{
	h->heap = NULL;
	h->len = 0;
	h->cap = 0;
}

void uco__timers_term(struct uco__timers *h)
{
	uco__free(h->heap, h->cap * sizeof(*h->heap));
	uco__timers_init(h);
}

static void place(struct uco__timers *h, size_t i, struct uco_task *t)
{
	h->heap[i] = t;
	t->heap_idx = i;
}

static void sift_up(struct uco__timers *h, size_t i)
{
	struct uco_task *t = h->heap[i];

	while (i > 1 && h->heap[i / 2]->wake_at > t->wake_at) {
		place(h, i, h->heap[i / 2]);
		i /= 2;
	}
	place(h, i, t);
}

static void sift_down(struct uco__timers *h, size_t i)
{
	struct uco_task *t = h->heap[i];

	for (;;) {
		size_t c = 2 * i;
		if (c > h->len)
			break;
		if (c + 1 <= h->len &&
		    h->heap[c + 1]->wake_at < h->heap[c]->wake_at)
			c++;
		if (h->heap[c]->wake_at >= t->wake_at)
			break;
		place(h, i, h->heap[c]);
		i = c;
	}
	place(h, i, t);
}

int uco__timer_arm(struct uco__timers *h, struct uco_task *t, uint64_t at)
{
	if (h->len + 1 >= h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct uco_task **n = uco__realloc(h->heap, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		h->heap = n;
		h->cap = cap;
	}
	t->wake_at = at;
	h->len++;
	place(h, h->len, t);
	sift_up(h, h->len);
	return 0;
}

void uco__timer_disarm(struct uco__timers *h, struct uco_task *t)
{
	size_t i = t->heap_idx;
	struct uco_task *last;

	if (!i)
		return;
	t->heap_idx = 0;
	last = h->heap[h->len--];
	if (i > h->len)
		return; /* t was the last entry */
	place(h, i, last);
	if (i > 1 && h->heap[i / 2]->wake_at > last->wake_at)
		sift_up(h, i);
	else
		sift_down(h, i);
}

uint64_t uco__timers_next(const struct uco__timers *h)
{
	uint64_t at = h->len ? h->heap[1]->wake_at : UINT64_MAX;

	/* Batching (uco/time.h, "Order of wake-ups"): an idle loop waits
	 * UCO_TIMER_BATCH_NS past the earliest deadline, so the deadlines
	 * that follow it closely fire in the same pass. */
	return at < UINT64_MAX - UCO_TIMER_BATCH_NS ? at + UCO_TIMER_BATCH_NS
						    : at;
}

unsigned uco__timers_fire(struct uco__timers *h, uint64_t now)
{
	unsigned n = 0;

	while (h->len && h->heap[1]->wake_at <= now) {
		struct uco_task *t = h->heap[1];

		uco__timer_disarm(h, t);
		uco__interrupt(t, -ETIMEDOUT);
		n++;
	}
	return n;
}
