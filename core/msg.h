/*
 * Messages between loops (and from offload threads to loops).
 *
 * Each loop has one inbox: a lock-free multi-producer stack that the owning
 * loop empties in one atomic exchange and then reverses, so messages from
 * one sender are handled in the order they were posted.  A sender that
 * finds the inbox empty wakes the loop with IORING_OP_MSG_RING on its own
 * ring; later senders know a wake-up is already on its way, so a burst of
 * messages costs one wake-up.
 */
#ifndef UCO_CORE_MSG_H
#define UCO_CORE_MSG_H

struct uco__loop;
struct io_uring;

struct uco__msg {
	struct uco__msg *next;
	void (*fn)(struct uco__loop *l, struct uco__msg *m); /* run on the target */
};

/*
 * Post m to loop `to`.  `wake_ring` is the sender's own ring (a loop's, or
 * an offload thread's); the wake-up SQE goes there.  If `submit` is true the
 * sender's ring is submitted right away (offload threads, which have no loop
 * to flush it).
 */
void uco__msg_post(struct uco__loop *to, struct uco__msg *m,
		   struct io_uring *wake_ring, int submit);

/* Post from the calling loop's thread; a wake-up it needs is submitted at
 * once. */
void uco__msg_send(struct uco__loop *to, struct uco__msg *m);

/* Run every message in l's inbox; returns how many. */
unsigned uco__msg_drain(struct uco__loop *l);

#endif
