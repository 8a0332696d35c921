/*
 * Stackless callbacks (uco/callback.h): the record, and the loop's side.
 *
 * A callback waits either in the loop's timer heap (call_later/call_at:
 * its struct uco__timer, kind UCO__TIMER_CALLBACK, is the heap's owner) or
 * on the loop's soon list (call_soon: a singly linked FIFO).  The loop's
 * run_services runs the soon list, then pops the expired timers and hands
 * every callback owner to uco__callback_fire(); the task owners are
 * interrupted as before.
 */
#ifndef UCO_CORE_CALLBACK_H
#define UCO_CORE_CALLBACK_H

#include <stddef.h>
#include <stdint.h>

#include <uco/callback.h>

#include "timer.h"

struct uco__loop;

enum uco__cb_state {
	UCO__CB_PENDING,   /* in the heap or on the soon list */
	UCO__CB_RUNNING,   /* fn is running */
	UCO__CB_DONE,      /* ran */
	UCO__CB_CANCELLED, /* cancelled, or dropped at shutdown */
};

/*
 * The record: 48 bytes on x86-64 and aarch64 (jemalloc's 48-byte class,
 * no slack).  A pending timed callback adds its 16-byte heap slot, which
 * the heap's doubling may leave with as much again unused: 64 bytes per
 * pending call_later/call_at callback (at most 80 counting the slack), 48
 * per call_soon one.  Asserted below against the 128-byte budget.
 */
struct uco_callback {
	struct uco__timer timer;      /* first; kind UCO__TIMER_CALLBACK */
	uco_callback_fn fn;
	void *arg;
	struct uco_callback *next;    /* soon list link */
	uint32_t core;                /* armed and runs on this loop (its
	                                 index: a pointer would not fit in
	                                 48 bytes); never changes */
	uint8_t state;                /* enum uco__cb_state */
	uint8_t refs;                 /* pending + handle, 0..2 */
	bool soon;                    /* on the soon list, not in the heap */
};

_Static_assert(sizeof(struct uco_callback) == 48,
	       "a callback record is 48 bytes (uco/callback.h's figure)");
_Static_assert(sizeof(struct uco_callback) +
			       2 * sizeof(struct uco__timer_slot) <=
		       128,
	       "a pending callback (record + heap slot with the heap's "
	       "doubling slack) fits in 128 bytes");

/* The loop's state, embedded in struct uco__loop. */
struct uco__callbacks {
	struct uco_callback *soon_head; /* FIFO of call_soon callbacks */
	struct uco_callback *soon_tail;
	uint64_t batch_now;             /* while a batch of expired timers
	                                   runs, its `now` (else 0): a deadline
	                                   armed then at or before it goes just
	                                   after it, so a batch never runs what
	                                   it armed itself */
};

/* Run the soon list as it stands (those armed meanwhile wait for the next
 * pass).  On l's thread, in the scheduler. */
void uco__callbacks_run_soon(struct uco__loop *l);

/* Run the callback whose heap timer tm has just expired (popped). */
void uco__callback_fire(struct uco__loop *l, struct uco__timer *tm);

/* Whether a soon callback is waiting (the loop must not sleep). */
static inline int uco__callbacks_soon(const struct uco__callbacks *c)
{
	return c->soon_head != NULL;
}

/* Shutdown: drop every callback still pending on l, unrun (the heap holds
 * nothing else by then: no task is left).  From any thread once l's own
 * has ended. */
void uco__callbacks_drop(struct uco__loop *l);

#endif
