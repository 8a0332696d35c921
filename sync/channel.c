/*
 * Channels between cores; see include/uco/channel.h.
 *
 * The ring.  `tail` counts the items ever reserved by senders, shifted left
 * by one; its bit 0 is the closed flag, so a send and a close are ordered by
 * the one word they both modify and a receiver that sees "closed, and head
 * == tail" knows nothing more can come.  Both counters only grow; a slot is
 * position & mask.
 *
 *   SPSC: slots are plain `void *`.  The sending core (one thread, its tasks
 *   cooperative) writes the slot, then publishes it by a CAS of tail from
 *   the value it knows (which fails only if a close set the flag meanwhile).
 *   The receiver reads tail with acquire, takes the item, and stores head;
 *   the sender reads head only when its cached copy says the ring is full.
 *
 *   MPSC: every slot carries a sequence number (the bounded queue of Dmitry
 *   Vyukov): a slot at position p is free for the sender of p when seq == p,
 *   holds its item when seq == p + 1, and is handed back for p + size by the
 *   receiver.  A sender reserves p by a CAS of tail, writes the item, then
 *   publishes it by storing seq.  A slot reserved but not yet published
 *   counts as "not there yet": its sender is about to publish it and will
 *   wake the receiver if need be.
 *
 * Waking (the Dekker pattern, in sequentially consistent operations):
 *
 *   receivers  A receiving task that finds the ring empty queues on
 *              `receivers` (a per-core wait list) and, if the core is not
 *              armed yet, arms it: rx_flag = 1 (SC), then looks at the ring
 *              again (SC).  A sender, after publishing (SC), reads rx_flag
 *              (SC); if it is set, the one sender that swaps it back to 0
 *              posts rx_msg to the receiving core.  So either the receiver's
 *              second look sees the item or the sender sees the flag.  While
 *              the notice is on its way rx_armed stays true, so the core does
 *              not arm again and rx_msg is never posted twice.  Whatever
 *              arrives before the notice runs costs no further wake-up.
 *   senders    The same per sending core, with one bit per core in tx_mask:
 *              a sender that finds the ring full queues on its core's list
 *              and arms the core's bit; a receiver, after handing a slot
 *              back, reads tx_mask and posts each armed core its notice.
 *
 * A notice wakes the first waiter of its core; a waiter woken, after taking
 * its item (or its slot), wakes the next one if there is more, and otherwise
 * re-arms the core for those still waiting ("settle").  A waiter cut short
 * by cancellation or a timeout was not woken (waking unlinks first, see
 * core/wait.h), so it takes nothing meant for another; if it leaves its
 * core's list empty it disarms the core.
 *
 * Notices live in the channel and hold a reference to it, so a channel freed
 * while one is on its way is freed by that notice when it has run.
 */
#include <uco/channel.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/loop.h"
#include "core/msg.h"
#include "core/task.h"
#include "core/wait.h"
#include "channel_impl.h"

#define CACHE_LINE 64
#define CLOSED 1ull
#define MAX_CAPACITY (1ull << 30)

struct slot {
	_Atomic uint64_t seq;
	void *item;
};

/* Per sending core: its waiting senders and its "room" notice. */
struct chan_core {
	struct uco__waitq senders;
	struct uco__msg msg;
	uco_channel *ch;
	bool armed;      /* its bit is set in tx_mask, or its notice is coming */
	unsigned kick_in; /* sends left before this core submits the wake-up
	                     of the receiving core it queued (0: none) */
} __attribute__((aligned(CACHE_LINE)));

struct uco_channel {
	/* Written at creation only. */
	void *raw;                  /* the allocation this struct is carved in */
	size_t raw_size;
	void **items;               /* SPSC slots */
	struct slot *slots;         /* MPSC slots */
	uint64_t mask;
	struct uco__loop *loops;    /* the runtime's */
	struct chan_core *cores;    /* one per core */
	_Atomic uint64_t *tx_mask;  /* one bit per core whose senders wait */
	unsigned ncores;
	unsigned nwords;            /* of tx_mask */
	unsigned recv_core;
	unsigned send_core;
	unsigned kick_after;        /* see post() */
	bool spsc;

	/* Written by senders. */
	_Alignas(CACHE_LINE) _Atomic uint64_t tail; /* position << 1 | CLOSED */
	uint64_t head_seen;         /* SPSC: the sender's last look at head */

	/* Written by the receiving core. */
	_Alignas(CACHE_LINE) _Atomic uint64_t head;
	uint64_t tail_seen;         /* SPSC: positions known to be published */
	struct uco__waitq receivers;
	struct uco__msg rx_msg;
	bool rx_armed;              /* rx_flag is set, or rx_msg is coming */
	unsigned kick_in;           /* takes left before the receiving core
	                               submits the sending cores' wake-ups */

	/* Written by both sides, rarely. */
	_Alignas(CACHE_LINE) _Atomic int rx_flag;
	_Atomic int refs;           /* the owner's, plus one per notice */
	_Atomic uint64_t rx_notices; /* for the tests (channel_impl.h) */
	_Atomic uint64_t tx_notices;
};

/* ---- memory ------------------------------------------------------------ */

static size_t align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

static void chan_unref(uco_channel *ch)
{
	if (atomic_fetch_sub_explicit(&ch->refs, 1, memory_order_acq_rel) == 1)
		uco__free(ch->raw, ch->raw_size);
}

UCO_API int uco_channel_create(uco_channel **out, size_t capacity,
			       const uco_channel_opts *opts)
{
	struct uco__loop *l = uco__tls_loop;
	size_t size, off_words, off_cores, off_ring, total;
	unsigned ncores, nwords;
	uco_channel *ch;
	void *raw;

	*out = NULL;
	if (!l)
		return -EPERM;
	ncores = l->rt->nloops;
	if (capacity == 0 || capacity > MAX_CAPACITY)
		return -EINVAL;
	if (opts && (opts->recv_core >= ncores ||
		     (opts->spsc && opts->send_core >= ncores)))
		return -EINVAL;
	/* At least two slots: with one, "holds the item for p" (seq p + 1)
	 * and "free for p + 1" (seq p + 1) would look the same. */
	size = 2;
	while (size < capacity)
		size <<= 1;
	nwords = (ncores + 63) / 64;

	/* One allocation: the struct, tx_mask, the per-core records and the
	 * ring, each on its own cache lines. */
	off_words = align_up(sizeof(*ch), CACHE_LINE);
	off_cores = off_words + align_up(nwords * sizeof(uint64_t), CACHE_LINE);
	off_ring = off_cores + ncores * sizeof(struct chan_core);
	total = off_ring + size * (opts && opts->spsc ? sizeof(void *)
						      : sizeof(struct slot));
	raw = uco__zalloc(total + CACHE_LINE);
	if (!raw)
		return -ENOMEM;
	ch = (uco_channel *)align_up((uintptr_t)raw, CACHE_LINE);
	ch->raw = raw;
	ch->raw_size = total + CACHE_LINE;
	ch->mask = size - 1;
	ch->kick_after = size / 4 < 2 ? 1 : size / 4 < 64 ? (unsigned)size / 4 : 64;
	ch->loops = l->rt->loops;
	ch->ncores = ncores;
	ch->nwords = nwords;
	ch->tx_mask = (_Atomic uint64_t *)((char *)ch + off_words);
	ch->cores = (struct chan_core *)((char *)ch + off_cores);
	ch->recv_core = opts ? opts->recv_core : l->core;
	ch->spsc = opts && opts->spsc;
	ch->send_core = ch->spsc ? opts->send_core : 0;
	for (unsigned i = 0; i < nwords; i++)
		atomic_init(&ch->tx_mask[i], 0);
	for (unsigned i = 0; i < ncores; i++) {
		uco__waitq_init(&ch->cores[i].senders);
		ch->cores[i].ch = ch;
	}
	if (ch->spsc) {
		ch->items = (void **)((char *)ch + off_ring);
	} else {
		ch->slots = (struct slot *)((char *)ch + off_ring);
		for (size_t i = 0; i < size; i++)
			atomic_init(&ch->slots[i].seq, i);
	}
	atomic_init(&ch->tail, 0);
	atomic_init(&ch->head, 0);
	atomic_init(&ch->rx_flag, 0);
	atomic_init(&ch->refs, 1);
	atomic_init(&ch->rx_notices, 0);
	atomic_init(&ch->tx_notices, 0);
	uco__waitq_init(&ch->receivers);
	*out = ch;
	return 0;
}

UCO_API void uco_channel_free(uco_channel *ch)
{
	struct uco__loop *l = uco__tls_loop;

	if (!ch)
		return;
	if (l && ((l->core == ch->recv_core &&
		   !uco__waitq_empty(&ch->receivers)) ||
		  !uco__waitq_empty(&ch->cores[l->core].senders))) {
		fprintf(stderr, "uco: uco_channel_free() on a channel that "
				"tasks are waiting on\n");
		abort();
	}
	chan_unref(ch);
}

/* ---- notices ------------------------------------------------------------ */

static void rx_settle(uco_channel *ch);
static void tx_settle(uco_channel *ch, struct chan_core *c);

static void rx_notice(struct uco__loop *l, struct uco__msg *m)
{
	uco_channel *ch = uco__container_of(m, uco_channel, rx_msg);

	(void)l;
	ch->rx_armed = false;
	rx_settle(ch);
	chan_unref(ch);
}

static void tx_notice(struct uco__loop *l, struct uco__msg *m)
{
	struct chan_core *c = uco__container_of(m, struct chan_core, msg);
	uco_channel *ch = c->ch;

	(void)l;
	c->armed = false;
	tx_settle(ch, c);
	chan_unref(ch);
}

/*
 * Post a notice to another core.  Its MSG_RING (queued if the inbox was
 * empty, i.e. the loop may sleep) leaves with the loop's next submission,
 * as every SQE does — when this task suspends — or, at the latest, after
 * kick_after more items have gone through this side (*kick_in counts them
 * down; kick()), or at once if `now`.  So a stream whose other side keeps
 * falling asleep pays one system call per kick_after items at most, and the
 * other core still starts long before this one stops (submitting each
 * wake-up at once made a stream 5x slower when the sender was the slower
 * side: the receiver caught up after every item and the sender paid a
 * system call per item; submitting only on suspension made the two cores
 * take turns).
 */
static void post(uco_channel *ch, struct uco__msg *m, unsigned core,
		 void (*fn)(struct uco__loop *, struct uco__msg *),
		 unsigned *kick_in, bool now)
{
	struct uco__loop *l = uco__tls_loop;

	atomic_fetch_add_explicit(&ch->refs, 1, memory_order_relaxed);
	m->fn = fn;
	uco__msg_post(&ch->loops[core], m, &l->ring, now);
	if (!now)
		*kick_in = ch->kick_after;
}

/* n more items went through: submit a queued wake-up if it is time. */
static inline void kick(unsigned *kick_in, size_t n)
{
	if (__builtin_expect(*kick_in != 0, 0)) {
		if (*kick_in > n) {
			*kick_in -= (unsigned)n;
		} else {
			*kick_in = 0;
			uco__loop_kick(uco__tls_loop);
		}
	}
}

/* After publishing an item (or closing): wake the receiving core if it is
 * armed.  The caller's publication was sequentially consistent.  On the
 * receiving core itself the notice's work is done in place. */
static void notify_receiver(uco_channel *ch, struct chan_core *c, bool now)
{
	if (atomic_load_explicit(&ch->rx_flag, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&ch->rx_flag, 0, memory_order_acq_rel)) {
		if (uco__tls_loop->core == ch->recv_core) {
			ch->rx_armed = false;
			rx_settle(ch);
			return;
		}
		atomic_fetch_add_explicit(&ch->rx_notices, 1,
					  memory_order_relaxed);
		post(ch, &ch->rx_msg, ch->recv_core, rx_notice, &c->kick_in,
		     now);
	}
}

/* After handing slots back (or closing): wake every armed sending core. */
static void notify_senders(uco_channel *ch, bool now)
{
	for (unsigned w = 0; w < ch->nwords; w++) {
		uint64_t bits;

		if (!atomic_load_explicit(&ch->tx_mask[w], memory_order_seq_cst))
			continue;
		bits = atomic_exchange_explicit(&ch->tx_mask[w], 0,
						memory_order_acq_rel);
		while (bits) {
			unsigned core = w * 64 + (unsigned)__builtin_ctzll(bits);

			bits &= bits - 1;
			if (core == uco__tls_loop->core) {
				ch->cores[core].armed = false;
				tx_settle(ch, &ch->cores[core]);
				continue;
			}
			atomic_fetch_add_explicit(&ch->tx_notices, 1,
						  memory_order_relaxed);
			post(ch, &ch->cores[core].msg, core, tx_notice,
			     &ch->kick_in, now);
		}
	}
}

/* ---- the ring ---------------------------------------------------------- */

/* Take one item (receiving core).  0, -EAGAIN (nothing published at the
 * head) or -EPIPE (closed and drained).  Does not notify. */
static int take(uco_channel *ch, void **item)
{
	uint64_t h = atomic_load_explicit(&ch->head, memory_order_relaxed);
	uint64_t t;

	if (ch->spsc) {
		if (h == ch->tail_seen) {
			t = atomic_load_explicit(&ch->tail, memory_order_seq_cst);
			ch->tail_seen = t >> 1;
			if (h == ch->tail_seen)
				return t & CLOSED ? -EPIPE : -EAGAIN;
		}
		*item = ch->items[h & ch->mask];
	} else {
		struct slot *s = &ch->slots[h & ch->mask];

		if (atomic_load_explicit(&s->seq, memory_order_seq_cst) != h + 1) {
			t = atomic_load_explicit(&ch->tail, memory_order_seq_cst);
			return (t & CLOSED) && (t >> 1) == h ? -EPIPE : -EAGAIN;
		}
		*item = s->item;
		/* Hand the slot back for position h + size.  SC: ordered
		 * before notify_senders()'s look at tx_mask. */
		atomic_store_explicit(&s->seq, h + ch->mask + 1,
				      memory_order_seq_cst);
		atomic_store_explicit(&ch->head, h + 1, memory_order_relaxed);
		return 0;
	}
	/* SC, for the same reason; the sender reads head with acquire. */
	atomic_store_explicit(&ch->head, h + 1, memory_order_seq_cst);
	return 0;
}

/* Would take() return something other than -EAGAIN? */
static bool rx_ready(uco_channel *ch)
{
	uint64_t h = atomic_load_explicit(&ch->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&ch->tail, memory_order_seq_cst);

	if (ch->spsc)
		return (t >> 1) != h || (t & CLOSED);
	if (atomic_load_explicit(&ch->slots[h & ch->mask].seq,
				 memory_order_seq_cst) == h + 1)
		return true;
	return (t & CLOSED) && (t >> 1) == h;
}

/* Put one item (any core).  0, -EAGAIN (full) or -EPIPE (closed).  Does
 * not notify. */
static int put(uco_channel *ch, void *item)
{
	uint64_t t = atomic_load_explicit(&ch->tail, memory_order_relaxed);

	if (t & CLOSED)
		return -EPIPE;
	if (ch->spsc) {
		uint64_t pos = t >> 1;

		if (pos - ch->head_seen > ch->mask) {
			ch->head_seen = atomic_load_explicit(&ch->head,
							     memory_order_acquire);
			if (pos - ch->head_seen > ch->mask)
				return -EAGAIN;
		}
		ch->items[pos & ch->mask] = item;
		/* Publish: fails only if a close set the flag meanwhile. */
		if (!atomic_compare_exchange_strong_explicit(
			    &ch->tail, &t, t + 2, memory_order_seq_cst,
			    memory_order_relaxed))
			return -EPIPE;
		return 0;
	}
	for (;;) {
		uint64_t pos = t >> 1;
		struct slot *s = &ch->slots[pos & ch->mask];
		int64_t d = (int64_t)(atomic_load_explicit(&s->seq,
							   memory_order_acquire) -
				      pos);

		if (t & CLOSED)
			return -EPIPE;
		if (d == 0) {
			if (atomic_compare_exchange_weak_explicit(
				    &ch->tail, &t, t + 2, memory_order_relaxed,
				    memory_order_relaxed)) {
				s->item = item;
				atomic_store_explicit(&s->seq, pos + 1,
						      memory_order_seq_cst);
				return 0;
			}
		} else if (d < 0) {
			return -EAGAIN; /* the receiver has not freed it yet */
		} else {
			t = atomic_load_explicit(&ch->tail, memory_order_relaxed);
		}
	}
}

/* Would put() return something other than -EAGAIN? */
static bool tx_ready(uco_channel *ch)
{
	uint64_t t = atomic_load_explicit(&ch->tail, memory_order_seq_cst);
	uint64_t pos = t >> 1;

	if (t & CLOSED)
		return true;
	if (ch->spsc)
		return pos - atomic_load_explicit(&ch->head,
						  memory_order_seq_cst) <= ch->mask;
	return (int64_t)(atomic_load_explicit(&ch->slots[pos & ch->mask].seq,
					      memory_order_seq_cst) -
			 pos) >= 0;
}

/* ---- waiting ------------------------------------------------------------ */

/* Arm the receiving core; true if the ring must be looked at again. */
static bool rx_arm(uco_channel *ch)
{
	if (ch->rx_armed)
		return false;
	ch->rx_armed = true;
	atomic_store_explicit(&ch->rx_flag, 1, memory_order_seq_cst);
	return true;
}

static bool tx_arm(uco_channel *ch, struct chan_core *c, unsigned core)
{
	if (c->armed)
		return false;
	c->armed = true;
	atomic_fetch_or_explicit(&ch->tx_mask[core / 64], 1ull << (core % 64),
				 memory_order_seq_cst);
	return true;
}

/*
 * On the receiving core, with receivers waiting: wake the first if there
 * is something for it, otherwise make sure the core is armed.
 */
static __attribute__((noinline)) void rx_settle(uco_channel *ch)
{
	while (!uco__waitq_empty(&ch->receivers)) {
		if (rx_ready(ch)) {
			uco__waitq_wake_one(&ch->receivers, 0);
			return;
		}
		if (!rx_arm(ch))
			return;
	}
}

static __attribute__((noinline)) void tx_settle(uco_channel *ch,
						struct chan_core *c)
{
	unsigned core = (unsigned)(c - ch->cores);

	while (!uco__waitq_empty(&c->senders)) {
		if (tx_ready(ch)) {
			uco__waitq_wake_one(&c->senders, 0);
			return;
		}
		if (!tx_arm(ch, c, core))
			return;
	}
}

struct chan_waiter {
	struct uco__waiter w;
	uco_channel *ch;
	struct chan_core *c; /* NULL for a receiver */
};

/* Nobody waits any more on the receiving core (on sending core c): disarm
 * it, so that senders (the receiver) need not post a notice.  If the notice
 * is on its way already, it stays armed until the notice has run. */
static void rx_disarm_idle(uco_channel *ch)
{
	if (ch->rx_armed && uco__waitq_empty(&ch->receivers) &&
	    atomic_exchange_explicit(&ch->rx_flag, 0, memory_order_acq_rel))
		ch->rx_armed = false;
}

static void tx_disarm_idle(uco_channel *ch, struct chan_core *c)
{
	unsigned core = (unsigned)(c - ch->cores);
	uint64_t bit = 1ull << (core % 64);

	if (c->armed && uco__waitq_empty(&c->senders) &&
	    (atomic_fetch_and_explicit(&ch->tx_mask[core / 64], ~bit,
				       memory_order_acq_rel) & bit))
		c->armed = false;
}

/* A waiter cut short leaves the list (and perhaps the core disarmed). */
static void chan_interrupt(void *ctx)
{
	struct chan_waiter *cw = ctx;

	uco__list_del(&cw->w.node);
	if (cw->c)
		tx_disarm_idle(cw->ch, cw->c);
	else
		rx_disarm_idle(cw->ch);
}

static int check_recv(uco_channel *ch)
{
	struct uco__loop *l = uco__tls_loop;

	if (!l)
		return -EPERM;
	return l->core == ch->recv_core ? 0 : -EXDEV;
}

static int check_send(uco_channel *ch, struct chan_core **c)
{
	struct uco__loop *l = uco__tls_loop;

	if (!l)
		return -EPERM;
	if (ch->spsc && l->core != ch->send_core)
		return -EXDEV;
	*c = &ch->cores[l->core];
	return 0;
}

/* Wait on the receiving core until an item (or the close) may be there.
 * `again`: the caller was woken before and keeps its place at the head.
 * Out of line, as are the other slow paths, so that a send or receive
 * that need not wait saves no registers and builds no waiter. */
static __attribute__((noinline)) int rx_wait(uco_channel *ch, bool again)
{
	struct chan_waiter cw = { .w = { .task = uco__self() }, .ch = ch };

	if (!cw.w.task)
		return -EPERM;
	if (again)
		uco__list_add_head(&ch->receivers.head, &cw.w.node);
	else
		uco__list_add_tail(&ch->receivers.head, &cw.w.node);
	if (rx_arm(ch) && rx_ready(ch)) {
		/* Published before we armed: no notice will come for it. */
		uco__list_del(&cw.w.node);
		rx_disarm_idle(ch);
		return 0;
	}
	return uco__block(chan_interrupt, &cw, "channel recv");
}

static __attribute__((noinline)) int tx_wait(uco_channel *ch,
					    struct chan_core *c, bool again)
{
	struct chan_waiter cw = { .w = { .task = uco__self() }, .ch = ch,
				  .c = c };

	if (!cw.w.task)
		return -EPERM;
	if (again)
		uco__list_add_head(&c->senders.head, &cw.w.node);
	else
		uco__list_add_tail(&c->senders.head, &cw.w.node);
	if (tx_arm(ch, c, (unsigned)(c - ch->cores)) && tx_ready(ch)) {
		uco__list_del(&cw.w.node);
		tx_disarm_idle(ch, c);
		return 0;
	}
	return uco__block(chan_interrupt, &cw, "channel send");
}

/* ---- the calls ---------------------------------------------------------- */

/* After a send attempt on core c that did not return -EAGAIN. */
static void after_put(uco_channel *ch, struct chan_core *c, int r)
{
	if (r == 0) {
		kick(&c->kick_in, 1);
		notify_receiver(ch, c, false);
	}
	if (!uco__waitq_empty(&c->senders))
		tx_settle(ch, c);
}

static void after_take(uco_channel *ch, int r, size_t n)
{
	if (r == 0) {
		kick(&ch->kick_in, n);
		notify_senders(ch, false);
	}
	if (!uco__waitq_empty(&ch->receivers))
		rx_settle(ch);
}

UCO_API int uco_channel_try_send(uco_channel *ch, void *item)
{
	struct chan_core *c;
	int r = check_send(ch, &c);

	if (r < 0)
		return r;
	r = put(ch, item);
	if (r != -EAGAIN)
		after_put(ch, c, r);
	return r;
}

UCO_API int uco_channel_send(uco_channel *ch, void *item)
{
	struct chan_core *c;
	bool again = false;
	int r = check_send(ch, &c);

	if (r < 0)
		return r;
	for (;;) {
		r = put(ch, item);
		if (r != -EAGAIN) {
			after_put(ch, c, r);
			return r;
		}
		r = tx_wait(ch, c, again);
		if (r < 0)
			return r;
		again = true;
	}
}

UCO_API int uco_channel_try_recv(uco_channel *ch, void **item)
{
	int r = check_recv(ch);

	if (r < 0)
		return r;
	r = take(ch, item);
	if (r != -EAGAIN)
		after_take(ch, r, 1);
	return r;
}

UCO_API int uco_channel_recv(uco_channel *ch, void **item)
{
	bool again = false;
	int r = check_recv(ch);

	if (r < 0)
		return r;
	for (;;) {
		r = take(ch, item);
		if (r != -EAGAIN) {
			after_take(ch, r, 1);
			return r;
		}
		r = rx_wait(ch, again);
		if (r < 0)
			return r;
		again = true;
	}
}

UCO_API long uco_channel_recv_many(uco_channel *ch, void **items, size_t max)
{
	bool again = false;
	size_t n = 0;
	int r = check_recv(ch);

	if (r < 0)
		return r;
	if (max == 0)
		return -EINVAL;
	for (;;) {
		while (n < max && (r = take(ch, &items[n])) == 0)
			n++;
		if (n > 0) {
			after_take(ch, 0, n);
			return (long)n;
		}
		if (r != -EAGAIN) {
			after_take(ch, r, 0);
			return r;
		}
		r = rx_wait(ch, again);
		if (r < 0)
			return r;
		again = true;
	}
}

UCO_API int uco_channel_close(uco_channel *ch)
{
	struct uco__loop *l = uco__tls_loop;

	if (!l)
		return -EPERM;
	if (atomic_fetch_or_explicit(&ch->tail, CLOSED, memory_order_seq_cst) &
	    CLOSED)
		return -EALREADY;
	/* Waiters elsewhere are woken by their notices; those of this core
	 * straight away. */
	if (l->core == ch->recv_core)
		rx_settle(ch);
	else
		notify_receiver(ch, &ch->cores[l->core], true);
	notify_senders(ch, true);
	tx_settle(ch, &ch->cores[l->core]);
	return 0;
}

UCO_API bool uco_channel_closed(const uco_channel *ch)
{
	return atomic_load_explicit(&ch->tail, memory_order_acquire) & CLOSED;
}

UCO_API size_t uco_channel_capacity(const uco_channel *ch)
{
	return (size_t)ch->mask + 1;
}

UCO_API size_t uco_channel_len(const uco_channel *ch)
{
	uint64_t h = atomic_load_explicit(&ch->head, memory_order_acquire);
	uint64_t t = atomic_load_explicit(&ch->tail, memory_order_acquire) >> 1;

	return t > h ? (size_t)(t - h) : 0;
}

void uco__channel_notices(const uco_channel *ch, uint64_t *rx, uint64_t *tx)
{
	*rx = atomic_load_explicit(&ch->rx_notices, memory_order_relaxed);
	*tx = atomic_load_explicit(&ch->tx_notices, memory_order_relaxed);
}
