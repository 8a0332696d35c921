/*
 * uco/event.h — an event flag between tasks of one core (asyncio.Event):
 * tasks wait until some task sets it.
 *
 * A uco_event is embedded where it is needed and set up with
 * uco_event_init(): no allocation.  Its bytes are private; it must not be
 * copied or moved while initialised.  Per core: calls from another core
 * return -EXDEV.
 *
 * Setting wakes every waiter, in the order they came, and each of them
 * returns 0 even if the event is cleared again (or the waiter cancelled)
 * before it runs: the wake-up is theirs.  A waiter cancelled or timed out
 * before the set leaves the list and takes no wake-up from the others.
 * Woken waiters do not read the event again, so it may be destroyed right
 * after the set.  Waiting on a set event returns at once, without
 * suspending, even in a cancelled task (as asyncio's does).
 */
#ifndef UCO_EVENT_H
#define UCO_EVENT_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef union uco_event {
	unsigned char uco_opaque_[32];
	void *uco_align_;
} uco_event;

/* Set up e, clear, on the caller's core.  Does not suspend.  Returns 0,
 * -EINVAL, -EPERM (outside uco_run). */
UCO_API int uco_event_init(uco_event *e);

/* Tear e down.  Does not suspend.  Nobody may be waiting on it (checked:
 * that aborts with a message).  NULL is a no-op. */
UCO_API void uco_event_destroy(uco_event *e);

/* Set e and wake every waiter.  Returns how many were woken, or -EINVAL,
 * -EXDEV.  Does not suspend. */
UCO_API int uco_event_set(uco_event *e);

/* Clear e.  Returns 0, -EINVAL, -EXDEV.  Does not suspend. */
UCO_API int uco_event_clear(uco_event *e);

/* Whether e is set.  Does not suspend. */
UCO_API bool uco_event_is_set(const uco_event *e);

/*
 * Wait until e is set.  Suspends (only if e is clear).  Returns 0,
 * -ECANCELED, -ETIMEDOUT (cancelled or timed out while waiting: the
 * waiter leaves the list, see the top), -EINVAL, -EXDEV, -EPERM (would
 * have to wait outside a task).
 */
UCO_MUST_USE
UCO_API int uco_event_wait(uco_event *e);

#ifdef __cplusplus
}
#endif

#endif
