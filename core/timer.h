/*
 * Deadlines of waits on runtime objects (join, futures, locks, queues...).
 *
 * Those waits involve no SQE, so their deadlines are kept in a per-loop
 * binary min-heap; the loop bounds its wait for CQEs by the earliest one
 * and interrupts the owner when it passes.  Operations on the ring use
 * linked timeouts instead (op.h).  O(log n) insert and removal.
 *
 * The heap knows nothing of tasks: it holds {deadline, owner} pairs, where
 * the owner is a struct uco__timer embedded in whatever waits (a task
 * record, or a stackless callback: callback.h), which remembers its place
 * in the heap and what kind of owner it is, so that the loop can tell a
 * task from a callback when it pops one (the kind sits in the word the
 * heap writes anyway: no extra cache line on the task path).  The deadline
 * sits in the pair itself, so sifting compares without a pointer hop.
 */
#ifndef UCO_CORE_TIMER_H
#define UCO_CORE_TIMER_H

#include <stddef.h>
#include <stdint.h>

/* What embeds a struct uco__timer (the loop's run_services dispatches on
 * it).  A task's is 0, so a zeroed timer is a task's. */
enum uco__timer_kind {
	UCO__TIMER_TASK = 0,     /* struct uco_task's `timer` */
	UCO__TIMER_CALLBACK = 1, /* struct uco_callback's `timer` */
};

/* One armable deadline, embedded in its owner.  16 bytes: a 32-bit place
 * would make it 8, but costs the heap's sifting a zero extension per step
 * (about 7 instructions per sleep, measured with callgrind). */
struct uco__timer {
	size_t idx;   /* place in the heap, 0 = not armed */
	uint8_t kind; /* enum uco__timer_kind, set by the owner once */
};

struct uco__timer_slot {
	uint64_t at;
	struct uco__timer *owner;
};

struct uco__timers {
	struct uco__timer_slot *heap; /* 1-based: heap[1] is the earliest */
	size_t len;                   /* entries in use */
	size_t cap;
};

void uco__timers_init(struct uco__timers *h);
void uco__timers_term(struct uco__timers *h);

/* Arm tm to expire at `at`.  -ENOMEM on failure. */
int uco__timer_arm(struct uco__timers *h, struct uco__timer *tm, uint64_t at);

/* Disarm tm if it is armed. */
void uco__timer_disarm(struct uco__timers *h, struct uco__timer *tm);

static inline int uco__timer_armed(const struct uco__timer *tm)
{
	return tm->idx != 0;
}

/* How long past the earliest deadline an idle loop waits, so that the
 * deadlines close behind it fire in the same pass (uco/time.h, "Order of
 * wake-ups"). */
#define UCO_TIMER_BATCH_NS 200000ull

/* When an idle loop should look at its timers: the earliest deadline plus
 * UCO_TIMER_BATCH_NS, UINT64_MAX if none. */
static inline uint64_t uco__timers_next(const struct uco__timers *h)
{
	uint64_t at = h->len ? h->heap[1].at : UINT64_MAX;

	return at < UINT64_MAX - UCO_TIMER_BATCH_NS ? at + UCO_TIMER_BATCH_NS
						    : at;
}

/* Disarm and return the earliest timer if it is due at `now`, else NULL. */
struct uco__timer *uco__timers_expired(struct uco__timers *h, uint64_t now);

#endif
