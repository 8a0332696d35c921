/*
 * uco/channel.h — bounded channels between cores (the one cross-core
 * primitive of sync/).
 *
 * A channel carries `void *` items (a pointer, or an integer cast to one;
 * ownership of what it points to passes with it) through a fixed ring of
 * slots.  Its tasks may sit on different cores:
 *
 *   - receivers: tasks of one core, the receiving core (chosen at creation);
 *     any number of them, served in FIFO order;
 *   - senders: tasks of any core (MPSC), or, with opts.spsc, of one sending
 *     core only (SPSC: a cheaper ring with no per-slot sequence numbers).
 *
 * Items from one sending core arrive in the order that core sent them.
 * Senders wait while the ring is full, receivers while it is empty.  The
 * ring is lock-free (acquire/release counters, the head and the tail on
 * separate cache lines); a core that waits is woken through core/msg.h, i.e.
 * IORING_OP_MSG_RING when its loop sleeps.  Wake-ups are batched: a core
 * whose tasks wait for items gets one wake-up however many items arrive
 * before it runs, and a core whose senders wait for room gets one however
 * many slots free up meanwhile.  A wake-up leaves like any SQE, with the
 * waking core's next submission (when its task suspends), but at the
 * latest after a few more items have gone through that side (a quarter of
 * the capacity, at most 64), so the two cores overlap instead of taking
 * turns and a core that keeps finding the other asleep pays one system
 * call per that many items at most.
 *
 * Closing (any core): senders get -EPIPE at once, waiting ones too;
 * receivers get what is left, then -EPIPE.
 *
 * Cancellation and timeout scopes: send and recv return -ECANCELED /
 * -ETIMEDOUT when cut short while waiting, with nothing sent or received: a
 * waiter that leaves takes no item and no wake-up meant for another.  An
 * item is never lost: a call that returns 0 delivered (or took) exactly one.
 *
 * Calls that take the channel may be made from any core unless stated;
 * suspending ones only from a task.
 */
#ifndef UCO_CHANNEL_H
#define UCO_CHANNEL_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_channel uco_channel;

/* Options for uco_channel_create(); NULL means the defaults in brackets. */
typedef struct uco_channel_opts {
	unsigned recv_core; /* the receiving core (the caller's) */
	bool spsc;          /* only tasks of send_core may send (false) */
	unsigned send_core; /* with spsc: the sending core */
} uco_channel_opts;

/*
 * Create a channel holding at least `capacity` items (rounded up to a power
 * of two, at least 2; see uco_channel_capacity()).  Inside the runtime
 * only.  Does not suspend.  Returns 0 with *out set, to free with
 * uco_channel_free(),
 * -EINVAL (capacity 0 or above 2^30, no such core), -ENOMEM, -EPERM.
 */
UCO_API int uco_channel_create(uco_channel **out, size_t capacity,
			       const uco_channel_opts *opts);

/*
 * Send item, waiting while the channel is full.  Suspends.  Returns 0
 * (the item is the receiver's now), -EPIPE (closed, before or while
 * waiting), -EXDEV (an SPSC channel and the caller is not on its sending
 * core), -ECANCELED / -ETIMEDOUT (cancelled or timed out while waiting),
 * -EPERM.  On every error nothing was sent: the item stays the caller's.
 */
UCO_MUST_USE
UCO_API int uco_channel_send(uco_channel *ch, void *item);

/* Send without waiting: 0, -EAGAIN (full), -EPIPE, -EXDEV, -EPERM.
 * Does not suspend. */
UCO_API int uco_channel_try_send(uco_channel *ch, void *item);

/*
 * Receive the next item into *item, waiting while the channel is empty.
 * Suspends.  Only on the receiving core.  Returns 0, -EPIPE (closed and
 * nothing left), -EXDEV (not the receiving core), -ECANCELED, -ETIMEDOUT,
 * -EPERM.
 */
UCO_MUST_USE
UCO_API int uco_channel_recv(uco_channel *ch, void **item);

/* Receive without waiting: 0, -EAGAIN (empty), -EPIPE, -EXDEV, -EPERM.
 * Does not suspend. */
UCO_API int uco_channel_try_recv(uco_channel *ch, void **item);

/*
 * Receive up to max items (at least one, waiting like uco_channel_recv()
 * while there is none) into items[]: what is there already, in one pass
 * over the ring.  Suspends, as uco_channel_recv() does.  Returns how many
 * (>= 1), or uco_channel_recv()'s errors (cut short: nothing taken).
 */
UCO_MUST_USE
UCO_API long uco_channel_recv_many(uco_channel *ch, void **items, size_t max);

/*
 * Close the channel.  Does not suspend.  Returns 0, -EALREADY if it was
 * closed already, -EPERM outside the runtime.
 */
UCO_API int uco_channel_close(uco_channel *ch);

/* Whether ch has been closed.  Does not suspend. */
UCO_API bool uco_channel_closed(const uco_channel *ch);

/* The number of slots, and the items in the channel (a snapshot: other
 * cores may change it at once).  Do not suspend. */
UCO_API size_t uco_channel_capacity(const uco_channel *ch);
UCO_API size_t uco_channel_len(const uco_channel *ch);

/*
 * Free the channel.  Nobody may be using it any more (no task in a call on
 * it; a waiter found on the caller's core aborts with a message).  Items
 * still in it are dropped.  Wake-ups still on their way to other cores hold
 * the memory until they have run.  Does not suspend.  NULL is a no-op.
 */
UCO_API void uco_channel_free(uco_channel *ch);

#ifdef __cplusplus
}
#endif

#endif
