/* A binary min-heap of {deadline, owner} pairs; see timer.h. */
#include "timer.h"

#include <errno.h>

#include "alloc.h"

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

static void place(struct uco__timers *h, size_t i, struct uco__timer_slot s)
{
	h->heap[i] = s;
	s.owner->idx = i;
}

static void sift_up(struct uco__timers *h, size_t i)
{
	struct uco__timer_slot s = h->heap[i];

	while (i > 1 && h->heap[i / 2].at > s.at) {
		place(h, i, h->heap[i / 2]);
		i /= 2;
	}
	place(h, i, s);
}

static void sift_down(struct uco__timers *h, size_t i)
{
	struct uco__timer_slot s = h->heap[i];

	for (;;) {
		size_t c = 2 * i;
		if (c > h->len)
			break;
		if (c + 1 <= h->len && h->heap[c + 1].at < h->heap[c].at)
			c++;
		if (h->heap[c].at >= s.at)
			break;
		place(h, i, h->heap[c]);
		i = c;
	}
	place(h, i, s);
}

int uco__timer_arm(struct uco__timers *h, struct uco__timer *tm, uint64_t at)
{
	if (h->len + 1 >= h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct uco__timer_slot *n =
			uco__realloc(h->heap, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		h->heap = n;
		h->cap = cap;
	}
	h->len++;
	place(h, h->len, (struct uco__timer_slot){ .at = at, .owner = tm });
	sift_up(h, h->len);
	return 0;
}

void uco__timer_disarm(struct uco__timers *h, struct uco__timer *tm)
{
	size_t i = tm->idx;
	struct uco__timer_slot last;

	if (!i)
		return;
	tm->idx = 0;
	last = h->heap[h->len--];
	if (i > h->len)
		return; /* tm was the last entry */
	place(h, i, last);
	if (i > 1 && h->heap[i / 2].at > last.at)
		sift_up(h, i);
	else
		sift_down(h, i);
}

struct uco__timer *uco__timers_expired(struct uco__timers *h, uint64_t now)
{
	struct uco__timer *tm;

	if (!h->len || h->heap[1].at > now)
		return NULL;
	tm = h->heap[1].owner;
	uco__timer_disarm(h, tm);
	return tm;
}
