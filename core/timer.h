/*
 * Deadlines of waits on runtime objects (join, futures, locks, queues...).
 *
 * Those waits involve no SQE, so their deadlines are kept in a per-loop
 * binary min-heap of tasks; the loop bounds its wait for CQEs by the
 * earliest one and interrupts the task when it passes.  Operations on the
 * ring use linked timeouts instead (op.h).  O(log n) insert and removal.
 */
#ifndef UCO_CORE_TIMER_H
#define UCO_CORE_TIMER_H

#include <stddef.h>
#include <stdint.h>

struct uco_task;

struct uco__timers {
	struct uco_task **heap; /* 1-based: heap[1] is the earliest */
	size_t len;             /* entries in use */
	size_t cap;
};

void uco__timers_init(struct uco__timers *h);
void uco__timers_term(struct uco__timers *h);

/* Arm t to be interrupted with -ETIMEDOUT at `at`.  -ENOMEM on failure. */
int uco__timer_arm(struct uco__timers *h, struct uco_task *t, uint64_t at);
void uco__timer_disarm(struct uco__timers *h, struct uco_task *t);

/* How long past the earliest deadline an idle loop waits, so that the
 * deadlines close behind it fire in the same pass (uco/time.h). */
#define UCO_TIMER_BATCH_NS 200000ull

/* Earliest deadline plus UCO_TIMER_BATCH_NS (the time to wake the loop),
 * UINT64_MAX if none. */
uint64_t uco__timers_next(const struct uco__timers *h);

/* Interrupt every task whose deadline is <= now.  Returns how many. */
unsigned uco__timers_fire(struct uco__timers *h, uint64_t now);

#endif
