/*
 * uco/queue.h — queues between tasks of one core (asyncio.Queue,
 * LifoQueue, PriorityQueue): FIFO, LIFO or priority order, bounded or not,
 * with waiting and non-waiting put/get, task_done/join and shutdown.
 *
 * Items are `void *`; the queue never looks at them (except through the
 * priority comparator) and never frees them, unless a `drop` callback is
 * given for the items an immediate shutdown or uco_queue_free() discards.
 *
 * Per core: a queue belongs to the core that created it and may only be
 * used by tasks running there (no atomics).  Any call from another core
 * returns -EXDEV; between cores, use a channel.
 *
 * Waiting: getters and putters are served first come, first served.  An
 * item is handed straight to the first waiting getter when it is put, and
 * a waiting putter's item is moved into the queue the moment a get makes
 * room, so a task arriving later can never take what a waiter was given.
 * A waiter that is cancelled or times out before that moment leaves the
 * line with nothing taken (-ECANCELED / -ETIMEDOUT, the item still the
 * putter's own); once it was given its item or its place, it keeps it
 * (the call returns 0) even if a cancel arrives before it runs again — the
 * cancel then shows at its next suspending call.  A call that can complete
 * at once does so without suspending, even in a cancelled task (as
 * asyncio's do).
 *
 * Every suspending call here honours cancellation (-ECANCELED) and the
 * task's timeout scopes / uco_wait_for (-ETIMEDOUT).
 */
#ifndef UCO_QUEUE_H
#define UCO_QUEUE_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_queue uco_queue;

typedef enum uco_queue_kind {
	UCO_QUEUE_FIFO = 0, /* first in, first out (asyncio.Queue) */
	UCO_QUEUE_LIFO,     /* last in, first out (asyncio.LifoQueue) */
	UCO_QUEUE_PRIORITY, /* smallest first by `cmp`; equal items in the
	                       order they were put (asyncio.PriorityQueue) */
} uco_queue_kind;

/* Options for uco_queue_create(); NULL or zeroed means an unbounded FIFO. */
typedef struct uco_queue_opts {
	uco_queue_kind kind;
	/* Most items held at once; 0 = unbounded (put never waits, but may
	 * fail with -ENOMEM). */
	size_t maxsize;
	/* UCO_QUEUE_PRIORITY only (required there): negative if a comes out
	 * before b, 0 if they are equal, positive otherwise.  Called with
	 * cmp_ctx.  It must not call into the queue. */
	int (*cmp)(const void *a, const void *b, void *cmp_ctx);
	void *cmp_ctx;
	/* Optional: called for each item an immediate shutdown discards and
	 * for each item still queued at uco_queue_free(). */
	void (*drop)(void *item, void *drop_ctx);
	void *drop_ctx;
} uco_queue_opts;

/*
 * Create a queue on the caller's core.  Does not suspend.  Returns 0 with
 * *out set, to free with uco_queue_free(); -EINVAL (bad kind, or a
 * priority queue without cmp, or out NULL), -ENOMEM, -EPERM (outside
 * uco_run).
 */
UCO_API int uco_queue_create(uco_queue **out, const uco_queue_opts *opts);

/*
 * Free q; items still queued go to the drop callback.  Nobody may be
 * waiting on it (checked: that aborts with a message).  Tasks already woken
 * with their item, their place or the end of a join never look at q again,
 * so q may be freed right after the call that woke them.  Does not
 * suspend.  NULL is a no-op.
 */
UCO_API void uco_queue_free(uco_queue *q);

/*
 * Put item in q, waiting while q is full.  Suspends (only if q is full).
 * Returns 0 (the item is q's), -ESHUTDOWN (q was shut down, before or
 * while waiting), -ECANCELED / -ETIMEDOUT (cancelled or timed out while
 * waiting), -ENOMEM (unbounded queue could not grow), -EINVAL (q NULL),
 * -EXDEV (other core); on every error the item was not put and stays the
 * caller's.
 */
UCO_MUST_USE
UCO_API int uco_queue_put(uco_queue *q, void *item);

/*
 * Take the next item into *item, waiting while q is empty.  Suspends (only
 * if q is empty).  Returns 0 (the item is the caller's), -ESHUTDOWN (q was
 * shut down and is empty, or shut down while waiting), -ECANCELED /
 * -ETIMEDOUT (cancelled or timed out while waiting: nothing taken),
 * -EINVAL (q or item NULL), -EXDEV.
 */
UCO_MUST_USE
UCO_API int uco_queue_get(uco_queue *q, void **item);

/* Put without waiting: 0, -EAGAIN (full), -ESHUTDOWN, -ENOMEM, -EINVAL,
 * -EXDEV.  Does not suspend. */
UCO_API int uco_queue_try_put(uco_queue *q, void *item);

/* Get without waiting: 0, -EAGAIN (empty), -ESHUTDOWN (shut down and
 * empty), -EINVAL, -EXDEV.  Does not suspend. */
UCO_API int uco_queue_try_get(uco_queue *q, void **item);

/*
 * Count one item taken from q as processed (asyncio's task_done).  Every
 * successful put adds one unfinished item; when task_done has been called
 * for all of them, uco_queue_join() returns.  Does not suspend.  Returns 0,
 * or -EINVAL if called more times than items were put (or q NULL), -EXDEV.
 */
UCO_API int uco_queue_task_done(uco_queue *q);

/*
 * Wait until every item put has been counted by uco_queue_task_done().
 * Suspends (returns at once if none is unfinished).  Returns 0,
 * -ECANCELED, -ETIMEDOUT, -EINVAL, -EXDEV.
 */
UCO_MUST_USE
UCO_API int uco_queue_join(uco_queue *q);

/*
 * Shut q down (asyncio's Queue.shutdown): later puts fail with -ESHUTDOWN,
 * and so do waiting putters, at once.  Gets still return what is queued and
 * fail with -ESHUTDOWN once it is empty; waiting getters (q is empty) wake
 * with -ESHUTDOWN.  If `immediate`, the queued items are discarded as well
 * (each to the drop callback, and counted as done for uco_queue_join(), so
 * joiners may wake).  Does not suspend.  Returns 0 (also when already shut
 * down: an immediate shutdown after a plain one still discards), -EINVAL,
 * -EXDEV.
 */
UCO_API int uco_queue_shutdown(uco_queue *q, bool immediate);

/* Snapshots; none of them suspends. */
UCO_API size_t uco_queue_size(const uco_queue *q);    /* items queued */
UCO_API size_t uco_queue_maxsize(const uco_queue *q); /* 0 = unbounded */
UCO_API bool uco_queue_empty(const uco_queue *q);
UCO_API bool uco_queue_full(const uco_queue *q);      /* never if unbounded */
UCO_API bool uco_queue_is_shutdown(const uco_queue *q);
/* Items put and not yet counted by uco_queue_task_done().  Does not
 * suspend. */
UCO_API size_t uco_queue_unfinished(const uco_queue *q);

#ifdef __cplusplus
}
#endif

#endif
