/* Inboxes between loops; see msg.h. */
#include "msg.h"

#include <stdatomic.h>
#include <stdbool.h>

#include "loop.h"

/* Push m; true if the inbox was empty (so the loop may be asleep). */
static bool inbox_push(struct uco__loop *to, struct uco__msg *m)
{
	struct uco__msg *old =
		atomic_load_explicit(&to->inbox, memory_order_relaxed);

	/* Release: the message's contents (and the task record it may sit
	 * in) are visible to the loop that takes it with acquire. */
	do {
		m->next = old;
	} while (!atomic_compare_exchange_weak_explicit(
		&to->inbox, &old, m, memory_order_release,
		memory_order_relaxed));
	return old == NULL;
}

void uco__msg_post(struct uco__loop *to, struct uco__msg *m,
		   struct io_uring *wake_ring, int submit)
{
	/* Only the sender that found the inbox empty wakes the loop: a
	 * wake-up for the earlier messages is already on its way. */
	if (inbox_push(to, m))
		uco__loop_wake(wake_ring, to, submit);
}

void uco__msg_send(struct uco__loop *to, struct uco__msg *m)
{
	struct uco__loop *l = uco__tls_loop;

	/* To ourselves no wake-up is needed: the loop drains every turn.  To
	 * another loop, a wake-up (sent only if its inbox was empty, so it may
	 * be asleep) leaves at once: not with our next submission, which may
	 * be UCO_HANDOFF_BUDGET hand-offs away. */
	if (to == l)
		inbox_push(to, m);
	else
		uco__msg_post(to, m, &l->ring, 1);
}

unsigned uco__msg_drain(struct uco__loop *l)
{
	struct uco__msg *m, *rev = NULL, *next;
	unsigned n = 0;

	if (!atomic_load_explicit(&l->inbox, memory_order_relaxed))
		return 0;
	m = atomic_exchange_explicit(&l->inbox, NULL, memory_order_acquire);
	/* The inbox is a stack: reverse it into posting order. */
	for (; m; m = next) {
		next = m->next;
		m->next = rev;
		rev = m;
	}
	for (m = rev; m; m = next) {
		next = m->next;
		m->fn(l, m);
		n++;
	}
	return n;
}
