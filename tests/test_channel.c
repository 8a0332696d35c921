/*
 * Suite "channel": bounded channels between cores (include/uco/channel.h).
 *
 * The receiving core is core 0 (the main task's) unless a test says
 * otherwise; senders run there or on core 1.  Items carry (sender, number)
 * so that every test can check that each item arrived exactly once and, per
 * sender, in order.  The big cross-core runs stream 10 M items, under
 * AddressSanitizer too (a few seconds each on 2 CPUs).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "leakcheck.h"
#include "sync/channel_impl.h"

#define MS UCO_NSEC_PER_MSEC
#define FOREVER (3600ull * UCO_NSEC_PER_SEC)

#define BIG 10000000L

/* An item: sender id in the high bits, 1-based number in the low ones (so
 * no item is NULL). */
#define ITEM(id, i) ((void *)(((uintptr_t)(id) << 40) | (uintptr_t)((i) + 1)))
#define ITEM_ID(p) ((long)((uintptr_t)(p) >> 40))
#define ITEM_NO(p) ((long)(((uintptr_t)(p) & ((1ull << 40) - 1)) - 1))

static void cfg2(uco_config *cfg)
{
	uco_config_init(cfg);
	cfg->cores = 2;
}

/* ---- tasks ---------------------------------------------------------- */

struct sender {
	uco_channel *ch;
	long id, n;
	long sent;       /* how many send() returned 0 for */
	int r;           /* the first error, or 0 */
	uint64_t scope;  /* if not 0: each send under a scope this long */
	bool try_only;   /* try_send in a loop that never suspends */
};

static void *sender_task(void *arg)
{
	struct sender *s = arg;

	s->r = 0;
	for (long i = s->sent; i < s->n; i++) {
		int sc = s->scope ? uco_timeout_begin(s->scope) : -1;
		int r = s->try_only ? uco_channel_try_send(s->ch, ITEM(s->id, i))
				    : uco_channel_send(s->ch, ITEM(s->id, i));

		if (sc >= 0)
			uco_timeout_end(sc);
		if (r < 0) {
			s->r = r;
			return NULL;
		}
		s->sent++;
	}
	return NULL;
}

struct receiver {
	uco_channel *ch;
	long n;          /* stop after this many (or at an error) */
	long got;
	int r;
	void *last;
	bool waiting;
};

static void *receiver_task(void *arg)
{
	struct receiver *rc = arg;

	rc->r = 0;
	while (rc->got < rc->n) {
		void *item;
		int r;

		rc->waiting = true;
		r = uco_channel_recv(rc->ch, &item);
		rc->waiting = false;
		if (r < 0) {
			rc->r = r;
			break;
		}
		rc->last = item;
		rc->got++;
	}
	return NULL;
}

static void join_ok(uco_task *t)
{
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
}

/* ---- without waiting ------------------------------------------------ */

static void body_try(void *arg)
{
	uco_channel *ch;
	void *item = NULL;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&ch, 3, NULL), 0);
	ck_assert_uint_eq(uco_channel_capacity(ch), 4); /* a power of two */
	ck_assert_uint_eq(uco_channel_len(ch), 0);
	ck_assert_int_eq(uco_channel_try_recv(ch, &item), -EAGAIN);
	for (long i = 0; i < 4; i++)
		ck_assert_int_eq(uco_channel_try_send(ch, ITEM(0, i)), 0);
	ck_assert_uint_eq(uco_channel_len(ch), 4);
	ck_assert_int_eq(uco_channel_try_send(ch, ITEM(0, 4)), -EAGAIN);
	for (long i = 0; i < 4; i++) {
		ck_assert_int_eq(uco_channel_try_recv(ch, &item), 0);
		ck_assert_ptr_eq(item, ITEM(0, i));
	}
	ck_assert_int_eq(uco_channel_try_recv(ch, &item), -EAGAIN);
	/* Around the ring a few times. */
	for (long i = 0; i < 10; i++) {
		ck_assert_int_eq(uco_channel_try_send(ch, ITEM(1, i)), 0);
		ck_assert_int_eq(uco_channel_try_recv(ch, &item), 0);
		ck_assert_ptr_eq(item, ITEM(1, i));
	}

	/* Close: sends fail, what is left is still received, then -EPIPE. */
	ck_assert_int_eq(uco_channel_try_send(ch, ITEM(2, 0)), 0);
	ck_assert_int_eq(uco_channel_send(ch, ITEM(2, 1)), 0);
	ck_assert(!uco_channel_closed(ch));
	ck_assert_int_eq(uco_channel_close(ch), 0);
	ck_assert(uco_channel_closed(ch));
	ck_assert_int_eq(uco_channel_close(ch), -EALREADY);
	ck_assert_int_eq(uco_channel_try_send(ch, ITEM(2, 2)), -EPIPE);
	ck_assert_int_eq(uco_channel_send(ch, ITEM(2, 2)), -EPIPE);
	ck_assert_int_eq(uco_channel_recv(ch, &item), 0);
	ck_assert_ptr_eq(item, ITEM(2, 0));
	ck_assert_int_eq(uco_channel_try_recv(ch, &item), 0);
	ck_assert_ptr_eq(item, ITEM(2, 1));
	ck_assert_int_eq(uco_channel_try_recv(ch, &item), -EPIPE);
	ck_assert_int_eq(uco_channel_recv(ch, &item), -EPIPE);
	ck_assert_int_eq(uco_channel_recv_many(ch, &item, 1), -EPIPE);
	uco_channel_free(ch);
	uco_channel_free(NULL);
}

START_TEST(try_ops)
{
	lc_run(body_try, NULL, NULL);
}
END_TEST

static void body_try_spsc(void *arg)
{
	uco_channel_opts o = { .spsc = true, .send_core = 0 };
	uco_channel *ch;
	void *items[8];

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&ch, 8, &o), 0);
	ck_assert_uint_eq(uco_channel_capacity(ch), 8);
	for (long round = 0; round < 5; round++) {
		for (long i = 0; i < 8; i++)
			ck_assert_int_eq(uco_channel_try_send(ch, ITEM(round, i)), 0);
		ck_assert_int_eq(uco_channel_try_send(ch, ITEM(9, 9)), -EAGAIN);
		/* recv_many takes what is there, in order. */
		ck_assert_int_eq(uco_channel_recv_many(ch, items, 3), 3);
		ck_assert_int_eq(uco_channel_recv_many(ch, items + 3, 8), 5);
		for (long i = 0; i < 8; i++)
			ck_assert_ptr_eq(items[i], ITEM(round, i));
	}
	ck_assert_int_eq(uco_channel_recv_many(ch, items, 0), -EINVAL);
	ck_assert_int_eq(uco_channel_try_send(ch, ITEM(7, 0)), 0);
	ck_assert_int_eq(uco_channel_close(ch), 0);
	ck_assert_int_eq(uco_channel_try_send(ch, ITEM(7, 1)), -EPIPE);
	ck_assert_int_eq(uco_channel_recv_many(ch, items, 8), 1);
	ck_assert_ptr_eq(items[0], ITEM(7, 0));
	ck_assert_int_eq(uco_channel_recv_many(ch, items, 8), -EPIPE);
	uco_channel_free(ch);
}

START_TEST(try_spsc)
{
	lc_run(body_try_spsc, NULL, NULL);
}
END_TEST

/* ---- misuse --------------------------------------------------------- */

static void *recv_here(void *arg)
{
	void *item;

	return (void *)(intptr_t)uco_channel_try_recv(arg, &item);
}

static void *recv_wait_here(void *arg)
{
	void *item;

	return (void *)(intptr_t)uco_channel_recv(arg, &item);
}

static void *send_here(void *arg)
{
	return (void *)(intptr_t)uco_channel_send(arg, ITEM(0, 0));
}

static void body_misuse(void *arg)
{
	uco_channel_opts bad_recv = { .recv_core = 2 };
	uco_channel_opts bad_send = { .spsc = true, .send_core = 5 };
	uco_channel_opts spsc1 = { .spsc = true, .send_core = 1 };
	uco_channel *ch = (uco_channel *)&ch;
	uco_task *t;
	void *res;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&ch, 0, NULL), -EINVAL);
	ck_assert_ptr_null(ch);
	ck_assert_int_eq(uco_channel_create(&ch, (1ull << 30) + 1, NULL),
			 -EINVAL);
	ck_assert_int_eq(uco_channel_create(&ch, 4, &bad_recv), -EINVAL);
	ck_assert_int_eq(uco_channel_create(&ch, 4, &bad_send), -EINVAL);

	/* Receiving off the receiving core. */
	ck_assert_int_eq(uco_channel_create(&ch, 4, NULL), 0);
	ck_assert_int_eq(uco_spawn_on(1, &t, recv_here, ch, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_int_eq((intptr_t)res, -EXDEV);
	uco_task_release(t);
	ck_assert_int_eq(uco_spawn_on(1, &t, recv_wait_here, ch, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_int_eq((intptr_t)res, -EXDEV);
	uco_task_release(t);
	uco_channel_free(ch);

	/* Sending to an SPSC channel off its sending core. */
	ck_assert_int_eq(uco_channel_create(&ch, 4, &spsc1), 0);
	ck_assert_int_eq(uco_channel_try_send(ch, ITEM(0, 0)), -EXDEV);
	ck_assert_int_eq(uco_channel_send(ch, ITEM(0, 0)), -EXDEV);
	ck_assert_int_eq(uco_spawn_on(1, &t, send_here, ch, NULL), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	ck_assert_int_eq((intptr_t)res, 0);
	uco_task_release(t);
	ck_assert_uint_eq(uco_channel_len(ch), 1);
	uco_channel_free(ch); /* with an item left in it */
}

START_TEST(misuse)
{
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_misuse, NULL, &cfg);
}
END_TEST

START_TEST(outside_runtime)
{
	uco_channel *ch = (uco_channel *)&ch;

	ck_assert_int_eq(uco_channel_create(&ch, 4, NULL), -EPERM);
	ck_assert_ptr_null(ch);
}
END_TEST

static void body_free_with_waiter(void *arg)
{
	struct receiver rc = { .n = 1 };
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&rc.ch, 4, NULL), 0);
	ck_assert_int_eq(uco_spawn(&t, receiver_task, &rc, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(rc.waiting);
	uco_channel_free(rc.ch); /* aborts */
}

START_TEST(free_with_waiter)
{
	th_run(body_free_with_waiter, NULL, NULL);
}
END_TEST

/* ---- streams across cores ------------------------------------------- */

struct stream {
	bool spsc;
	size_t cap;
	long n;
	bool many; /* receive with recv_many */
};

static void body_stream(void *arg)
{
	const struct stream *st = arg;
	uco_channel_opts o = { .spsc = st->spsc, .send_core = 1 };
	struct sender s;
	uco_task *t;
	long next = 0;

	ck_assert_int_eq(uco_channel_create(&s.ch, st->cap, &o), 0);
	s = (struct sender){ .ch = s.ch, .id = 3, .n = st->n };
	ck_assert_int_eq(uco_spawn_on(1, &t, sender_task, &s, NULL), 0);
	while (next < st->n) {
		void *items[64];
		long k;

		if (st->many) {
			k = uco_channel_recv_many(s.ch, items, 64);
		} else {
			k = uco_channel_recv(s.ch, &items[0]);
			if (k == 0)
				k = 1;
		}
		LC_CHECK(k > 0, "recv: %ld after %ld items", k, next);
		for (long i = 0; i < k; i++, next++)
			LC_CHECK(items[i] == ITEM(3, next),
				 "item %ld is %p, expected %p", next, items[i],
				 ITEM(3, next));
	}
	join_ok(t);
	ck_assert_int_eq(s.r, 0);
	ck_assert_int_eq(s.sent, st->n);
	ck_assert_uint_eq(uco_channel_len(s.ch), 0);
	uco_channel_free(s.ch);
}

START_TEST(cross_core_spsc_10m)
{
	struct stream st = { .spsc = true, .cap = 1024, .n = BIG };
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_stream, &st, &cfg);
}
END_TEST

START_TEST(cross_core_mpsc_10m)
{
	struct stream st = { .spsc = false, .cap = 1024, .n = BIG,
			     .many = true };
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_stream, &st, &cfg);
}
END_TEST

/* A tiny ring: senders and the receiver wait for each other all the time. */
START_TEST(cross_core_small_ring)
{
	struct stream st = { .spsc = false, .cap = 2, .n = BIG / 500 };
	struct stream st1 = { .spsc = true, .cap = 1, .n = BIG / 500,
			      .many = true };
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_stream, &st, &cfg);
	lc_run(body_stream, &st1, &cfg);
}
END_TEST

/* MPSC: one sender on each core (two on core 1), one receiver. */
static void body_mpsc(void *arg)
{
	enum { NS = 3 };
	long n = *(long *)arg;
	struct sender s[NS];
	long next[NS] = { 0 };
	uco_task *t[NS];
	uco_channel *ch;

	ck_assert_int_eq(uco_channel_create(&ch, 64, NULL), 0);
	for (int i = 0; i < NS; i++) {
		s[i] = (struct sender){ .ch = ch, .id = i, .n = n };
		ck_assert_int_eq(uco_spawn_on(i == 0 ? 0 : 1, &t[i],
					      sender_task, &s[i], NULL),
				 0);
	}
	for (long k = 0; k < NS * n; k++) {
		void *item;
		long id;

		LC_CHECK(uco_channel_recv(ch, &item) == 0, "recv %ld", k);
		id = ITEM_ID(item);
		LC_CHECK(id >= 0 && id < NS, "bad item %p", item);
		LC_CHECK(ITEM_NO(item) == next[id],
			 "sender %ld: item %ld, expected %ld", id,
			 ITEM_NO(item), next[id]);
		next[id]++;
	}
	for (int i = 0; i < NS; i++) {
		join_ok(t[i]);
		ck_assert_int_eq(s[i].r, 0);
		ck_assert_int_eq(next[i], n);
	}
	ck_assert_int_eq(uco_channel_try_recv(ch, &(void *){ NULL }), -EAGAIN);
	uco_channel_free(ch);
}

START_TEST(mpsc_two_cores)
{
	long n = BIG / 10;
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_mpsc, &n, &cfg);
}
END_TEST

/* ---- waiting and its wake-ups ---------------------------------------- */

/* Receivers waiting on an empty channel are woken in order, once per
 * burst: a burst sent from core 1 without suspending costs one notice. */
static void body_burst(void *arg)
{
	enum { NR = 3, BURST = 50 }; /* below the channel's kick_after (64) */
	struct receiver rc[NR];
	struct sender s;
	uco_task *t[NR], *st;
	uint64_t rx, tx;
	uco_channel *ch;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&ch, 256, NULL), 0);
	for (int i = 0; i < NR; i++) {
		rc[i] = (struct receiver){ .ch = ch, .n = i == 0 ? 1 : BURST };
		ck_assert_int_eq(uco_spawn(&t[i], receiver_task, &rc[i], NULL),
				 0);
	}
	ck_assert_int_eq(uco_yield(), 0);
	for (int i = 0; i < NR; i++)
		ck_assert(rc[i].waiting);
	s = (struct sender){ .ch = ch, .id = 1, .n = BURST, .try_only = true };
	ck_assert_int_eq(uco_spawn_on(1, &st, sender_task, &s, NULL), 0);
	join_ok(st);
	ck_assert_int_eq(s.r, 0);
	/* The first waiter takes the first item, the second all the rest. */
	join_ok(t[0]);
	ck_assert_ptr_eq(rc[0].last, ITEM(1, 0));
	ck_assert_int_eq(uco_channel_close(ch), 0);
	join_ok(t[1]);
	join_ok(t[2]);
	ck_assert_int_eq(rc[1].got, BURST - 1);
	ck_assert_ptr_eq(rc[1].last, ITEM(1, BURST - 1));
	ck_assert_int_eq(rc[1].r, -EPIPE);
	ck_assert_int_eq(rc[2].got, 0);
	ck_assert_int_eq(rc[2].r, -EPIPE);
	uco__channel_notices(ch, &rx, &tx);
	/* Core 0 sleeps in the kernel until core 1 submits the wake-up (when
	 * the sender ends: the burst is shorter than kick_after), so the
	 * whole burst is one notice; a second one only if core 0's loop
	 * happened to wake meanwhile (a signal). */
	ck_assert_msg(rx <= 2, "%llu notices for one burst",
		      (unsigned long long)rx);
	ck_assert_uint_eq(tx, 0);
	uco_channel_free(ch);
}

START_TEST(burst_one_wakeup)
{
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_burst, NULL, &cfg);
}
END_TEST

/* Receive on core 1, ITEMs expected in order: the test's remote receiver. */
struct remote_recv {
	uco_channel *ch;
	long n;          /* items to take: first `many` with one recv_many */
	long many;
	void **out;      /* where they go */
	int r;
};

static void *remote_recv_task(void *arg)
{
	struct remote_recv *rr = arg;
	long got = 0;

	rr->r = 0;
	if (rr->many) {
		long k = uco_channel_recv_many(rr->ch, rr->out, (size_t)rr->many);

		if (k < 0) {
			rr->r = (int)k;
			return NULL;
		}
		got = k;
	}
	while (got < rr->n) {
		int r = uco_channel_recv(rr->ch, &rr->out[got]);

		if (r < 0) {
			rr->r = r;
			return NULL;
		}
		got++;
	}
	return NULL;
}

static void remote_recv(uco_channel *ch, long n, long many, void **out,
			int expect)
{
	struct remote_recv rr = { .ch = ch, .n = n, .many = many, .out = out };
	uco_task *t;

	ck_assert_int_eq(uco_spawn_on(1, &t, remote_recv_task, &rr, NULL), 0);
	join_ok(t);
	ck_assert_int_eq(rr.r, expect);
}

/* Senders on core 0 fill a channel received on core 1 and wait in line;
 * the receiver takes everything in the ring at once: the waiting senders'
 * core gets a notice and they go on, in order. */
static void body_full(void *arg)
{
	enum { NS = 3, CAP = 8 };
	uco_channel_opts o = { .recv_core = 1 };
	struct sender s[NS];
	uco_task *t[NS];
	void *items[NS * CAP];
	uint64_t rx, tx;
	uco_channel *ch;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&ch, CAP, &o), 0);
	for (int i = 0; i < NS; i++) {
		s[i] = (struct sender){ .ch = ch, .id = i, .n = CAP };
		ck_assert_int_eq(uco_spawn(&t[i], sender_task, &s[i], NULL), 0);
	}
	/* Sender 0 fills the ring and ends; 1 and 2 wait in line. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(s[0].sent, CAP);
	ck_assert_int_eq(s[1].sent + s[2].sent, 0);
	ck_assert_int_eq(uco_channel_try_send(ch, ITEM(7, 7)), -EAGAIN);
	remote_recv(ch, NS * CAP, CAP, items, 0);
	/* FIFO among the waiting senders: all of 1's before 2's. */
	for (long i = 0; i < NS * CAP; i++)
		ck_assert_ptr_eq(items[i], ITEM(i / CAP, i % CAP));
	for (int i = 0; i < NS; i++) {
		join_ok(t[i]);
		ck_assert_int_eq(s[i].r, 0);
	}
	uco__channel_notices(ch, &rx, &tx);
	ck_assert_uint_ge(tx, 1);
	uco_channel_free(ch);
}

START_TEST(full_waits)
{
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_full, NULL, &cfg);
}
END_TEST

/* The same on one core, so waiting and waking happen without MSG_RING. */
static void body_one_core(void *arg)
{
	struct sender s = { .id = 4, .n = 10000 };
	struct receiver rc = { .n = 10000 };
	uco_task *ts, *tr;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&s.ch, 4, NULL), 0);
	rc.ch = s.ch;
	ck_assert_int_eq(uco_spawn(&tr, receiver_task, &rc, NULL), 0);
	ck_assert_int_eq(uco_spawn(&ts, sender_task, &s, NULL), 0);
	join_ok(ts);
	join_ok(tr);
	ck_assert_int_eq(s.r, 0);
	ck_assert_int_eq(rc.r, 0);
	ck_assert_ptr_eq(rc.last, ITEM(4, 9999));
	uco_channel_free(s.ch);
}

START_TEST(one_core)
{
	lc_run(body_one_core, NULL, NULL);
}
END_TEST

/* ---- close with waiters on both sides ------------------------------ */

struct closer {
	uco_channel *ch;
	uint64_t after;
	int r;
};

static void *closer_task(void *arg)
{
	struct closer *c = arg;

	if (c->after)
		UCO_IGNORE(uco_sleep(c->after));
	c->r = uco_channel_close(c->ch);
	return NULL;
}

/* Receivers wait on core 0; core 1 closes: all wake with -EPIPE. */
static void body_close_receivers(void *arg)
{
	enum { NR = 4 };
	struct receiver rc[NR];
	struct closer c;
	uco_task *t[NR], *ct;
	uco_channel *ch;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&ch, 16, NULL), 0);
	for (int i = 0; i < NR; i++) {
		rc[i] = (struct receiver){ .ch = ch, .n = 1 };
		ck_assert_int_eq(uco_spawn(&t[i], receiver_task, &rc[i], NULL),
				 0);
	}
	ck_assert_int_eq(uco_yield(), 0);
	c = (struct closer){ .ch = ch };
	ck_assert_int_eq(uco_spawn_on(1, &ct, closer_task, &c, NULL), 0);
	join_ok(ct);
	ck_assert_int_eq(c.r, 0);
	for (int i = 0; i < NR; i++) {
		join_ok(t[i]);
		ck_assert_int_eq(rc[i].r, -EPIPE);
		ck_assert_int_eq(rc[i].got, 0);
	}
	uco_channel_free(ch);
}

START_TEST(close_wakes_receivers)
{
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_close_receivers, NULL, &cfg);
}
END_TEST

/* Senders wait on core 0 for room in a channel received on core 1; core
 * 1 closes: they all get -EPIPE, and the receiver still gets the items in
 * the ring. */
static void body_close_senders(void *arg)
{
	enum { NS = 4, CAP = 4 };
	uco_channel_opts o = { .recv_core = 1 };
	struct sender s[NS];
	struct closer c;
	uco_task *t[NS], *ct;
	void *items[CAP];
	uco_channel *ch;
	long sent = 0;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&ch, CAP, &o), 0);
	for (int i = 0; i < NS; i++) {
		s[i] = (struct sender){ .ch = ch, .id = i, .n = 100 };
		ck_assert_int_eq(uco_spawn(&t[i], sender_task, &s[i], NULL), 0);
	}
	ck_assert_int_eq(uco_yield(), 0); /* all of them wait now */
	ck_assert_uint_eq(uco_channel_len(ch), CAP);
	c = (struct closer){ .ch = ch };
	ck_assert_int_eq(uco_spawn_on(1, &ct, closer_task, &c, NULL), 0);
	join_ok(ct);
	ck_assert_int_eq(c.r, 0);
	for (int i = 0; i < NS; i++) {
		join_ok(t[i]);
		ck_assert_int_eq(s[i].r, -EPIPE);
		sent += s[i].sent;
	}
	ck_assert_int_eq(sent, CAP);
	remote_recv(ch, CAP, 0, items, 0);
	for (long i = 0; i < CAP; i++)
		ck_assert_ptr_eq(items[i], ITEM(0, i));
	remote_recv(ch, 1, 0, items, -EPIPE);
	uco_channel_free(ch);
}

START_TEST(close_wakes_senders)
{
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_close_senders, NULL, &cfg);
}
END_TEST

/* Close while a stream runs from core 1: the receiver gets exactly what
 * the sender was told it sent, then -EPIPE. */
static void body_close_midstream(void *arg)
{
	struct sender s;
	struct closer c;
	uco_task *t, *ct;
	long got = 0;
	void *item;
	int r;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&s.ch, 8, NULL), 0);
	s = (struct sender){ .ch = s.ch, .id = 2, .n = 1L << 40 };
	c = (struct closer){ .ch = s.ch, .after = 20 * MS };
	ck_assert_int_eq(uco_spawn_on(1, &t, sender_task, &s, NULL), 0);
	ck_assert_int_eq(uco_spawn_on(1, &ct, closer_task, &c, NULL), 0);
	while ((r = uco_channel_recv(s.ch, &item)) == 0) {
		LC_CHECK(item == ITEM(2, got), "item %ld", got);
		got++;
	}
	ck_assert_int_eq(r, -EPIPE);
	join_ok(t);
	join_ok(ct);
	ck_assert_int_eq(s.r, -EPIPE);
	ck_assert_int_eq(got, s.sent);
	uco_channel_free(s.ch);
}

START_TEST(close_midstream)
{
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_close_midstream, NULL, &cfg);
}
END_TEST

/* ---- cancellation and timeouts --------------------------------------- */

static void *recv_scoped(void *arg)
{
	struct receiver *rc = arg;
	int s = uco_timeout_begin(10 * MS);
	void *item;

	rc->waiting = true;
	rc->r = uco_channel_recv(rc->ch, &item);
	rc->waiting = false;
	uco_timeout_end(s);
	return NULL;
}

static void body_recv_cancel(void *arg)
{
	struct receiver a, b, c;
	uco_task *ta, *tb, *tc;
	uco_channel *ch;
	void *item;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&ch, 4, NULL), 0);
	a = (struct receiver){ .ch = ch, .n = 1 };
	b = (struct receiver){ .ch = ch, .n = 1 };
	c = (struct receiver){ .ch = ch, .n = 1 };
	ck_assert_int_eq(uco_spawn(&ta, receiver_task, &a, NULL), 0);
	ck_assert_int_eq(uco_spawn(&tb, receiver_task, &b, NULL), 0);
	ck_assert_int_eq(uco_spawn(&tc, recv_scoped, &c, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(a.waiting && b.waiting && c.waiting);

	/* The first in line is cancelled: the item goes to the second. */
	ck_assert_int_eq(uco_cancel(ta), 0);
	join_ok(ta);
	ck_assert_int_eq(a.r, -ECANCELED);
	ck_assert_int_eq(a.got, 0);
	ck_assert_int_eq(uco_channel_send(ch, ITEM(0, 7)), 0);
	join_ok(tb);
	ck_assert_int_eq(b.r, 0);
	ck_assert_ptr_eq(b.last, ITEM(0, 7));

	/* The third times out with nothing taken. */
	join_ok(tc);
	ck_assert_int_eq(c.r, -ETIMEDOUT);
	ck_assert_uint_eq(uco_channel_len(ch), 0);

	/* Cancelled while woken but not yet run: it still takes its item. */
	a = (struct receiver){ .ch = ch, .n = 1 };
	ck_assert_int_eq(uco_spawn(&ta, receiver_task, &a, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_channel_try_send(ch, ITEM(0, 8)), 0);
	ck_assert_int_eq(uco_cancel(ta), 0);
	join_ok(ta);
	ck_assert_int_eq(a.r, 0);
	ck_assert_ptr_eq(a.last, ITEM(0, 8));

	/* A cancelled task with an item there gets it without waiting; with
	 * none there it gets -ECANCELED at once. */
	ck_assert_int_eq(uco_channel_try_send(ch, ITEM(0, 9)), 0);
	a = (struct receiver){ .ch = ch, .n = 2 };
	ck_assert_int_eq(uco_spawn(&ta, receiver_task, &a, NULL), 0);
	ck_assert_int_eq(uco_cancel(ta), 0);
	join_ok(ta);
	ck_assert_int_eq(a.got, 1);
	ck_assert_ptr_eq(a.last, ITEM(0, 9));
	ck_assert_int_eq(a.r, -ECANCELED);
	ck_assert_int_eq(uco_channel_try_recv(ch, &item), -EAGAIN);
	uco_channel_free(ch);
}

START_TEST(recv_cancel_timeout)
{
	lc_run(body_recv_cancel, NULL, NULL);
}
END_TEST

/* Senders on core 0 wait for room in a channel received on core 1; the
 * first is cancelled: its item is not in the channel, and the next one in
 * line gets the room when core 1 frees it. */
static void body_send_cancel(void *arg)
{
	uco_channel_opts o = { .recv_core = 1 };
	struct sender a, b, c;
	uco_task *ta, *tb, *tc;
	uco_channel *ch;
	void *item, *items[2];

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&ch, 1, &o), 0);
	ck_assert_uint_eq(uco_channel_capacity(ch), 2);
	ck_assert_int_eq(uco_channel_send(ch, ITEM(9, 0)), 0);
	ck_assert_int_eq(uco_channel_send(ch, ITEM(9, 1)), 0);
	a = (struct sender){ .ch = ch, .id = 1, .n = 1 };
	b = (struct sender){ .ch = ch, .id = 2, .n = 1 };
	c = (struct sender){ .ch = ch, .id = 3, .n = 1, .scope = 20 * MS };
	ck_assert_int_eq(uco_spawn(&ta, sender_task, &a, NULL), 0);
	ck_assert_int_eq(uco_spawn(&tb, sender_task, &b, NULL), 0);
	ck_assert_int_eq(uco_spawn(&tc, sender_task, &c, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(ta), 0);
	join_ok(ta);
	ck_assert_int_eq(a.r, -ECANCELED);
	ck_assert_int_eq(a.sent, 0);
	join_ok(tc); /* times out: b is ahead of it and the ring stays full */
	ck_assert_int_eq(c.r, -ETIMEDOUT);
	ck_assert_int_eq(c.sent, 0);
	remote_recv(ch, 1, 0, &item, 0);
	ck_assert_ptr_eq(item, ITEM(9, 0));
	join_ok(tb);
	ck_assert_int_eq(b.r, 0);
	remote_recv(ch, 2, 0, items, 0);
	ck_assert_ptr_eq(items[0], ITEM(9, 1));
	ck_assert_ptr_eq(items[1], ITEM(2, 0));
	ck_assert_uint_eq(uco_channel_len(ch), 0);
	uco_channel_free(ch);
}

START_TEST(send_cancel_timeout)
{
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_send_cancel, NULL, &cfg);
}
END_TEST

/* Receivers with tiny timeouts race a stream from core 1, senders with
 * tiny timeouts too: every item arrives exactly once, in order, however
 * the waits were cut short. */
struct racer {
	uco_channel *ch;
	long *next;      /* the next item number expected (shared) */
	long total;
	long timeouts;
	int r;
};

static void *racing_receiver(void *arg)
{
	struct racer *rr = arg;

	while (*rr->next < rr->total) {
		int s = uco_timeout_begin(((uint64_t)rr->timeouts % 7 + 1) *
					  UCO_NSEC_PER_USEC * 30);
		void *item;
		int r = uco_channel_recv(rr->ch, &item);

		uco_timeout_end(s);
		if (r == -ETIMEDOUT) {
			rr->timeouts++;
			continue;
		}
		if (r == -EPIPE)
			break;
		if (r < 0 || item != ITEM(5, *rr->next)) {
			rr->r = r < 0 ? r : -EILSEQ;
			return NULL;
		}
		++*rr->next;
	}
	return NULL;
}

struct racing_send {
	uco_channel *ch;
	long n;
	long timeouts;
};

static void *racing_sender(void *arg)
{
	struct racing_send *rs = arg;

	for (long i = 0; i < rs->n;) {
		int s = uco_timeout_begin(((uint64_t)i % 5 + 1) *
					  UCO_NSEC_PER_USEC * 20);
		int r = uco_channel_send(rs->ch, ITEM(5, i));

		uco_timeout_end(s);
		if (r == -ETIMEDOUT) {
			rs->timeouts++;
			continue;
		}
		if (r < 0)
			return uco_fail(r);
		i++;
	}
	return NULL;
}

static void body_race(void *arg)
{
	enum { NR = 3 };
	long n = *(long *)arg, next = 0, to = 0;
	struct racer rr[NR];
	struct racing_send rs;
	uco_task *t[NR], *st;
	uco_channel *ch;

	ck_assert_int_eq(uco_channel_create(&ch, 4, NULL), 0);
	for (int i = 0; i < NR; i++) {
		rr[i] = (struct racer){ .ch = ch, .next = &next, .total = n };
		ck_assert_int_eq(uco_spawn(&t[i], racing_receiver, &rr[i], NULL),
				 0);
	}
	rs = (struct racing_send){ .ch = ch, .n = n };
	ck_assert_int_eq(uco_spawn_on(1, &st, racing_sender, &rs, NULL), 0);
	join_ok(st);
	for (int i = 0; i < NR; i++) {
		join_ok(t[i]);
		ck_assert_int_eq(rr[i].r, 0);
		to += rr[i].timeouts;
	}
	ck_assert_int_eq(next, n);
	ck_assert_uint_eq(uco_channel_len(ch), 0);
	/* Not an assertion on timing: just what happened, for the log. */
	fprintf(stderr, "race: %ld items, %ld receive and %ld send timeouts\n",
		n, to, rs.timeouts);
	uco_channel_free(ch);
}

START_TEST(timeouts_lose_nothing)
{
	long n = 200000;
	uco_config cfg;

	cfg2(&cfg);
	lc_run(body_race, &n, &cfg);
}
END_TEST

/* uco_run's shutdown cancels tasks waiting on a channel on both sides. */
static struct sender shut_s;
static struct receiver shut_rc;

/* On core 1: start a sender there, let it block, then say so on *arg. */
static void *start_blocked_sender(void *arg)
{
	ck_assert_int_eq(uco_spawn(NULL, sender_task, &shut_s, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_channel_send(arg, ITEM(0, 0)), 0);
	return NULL;
}

static void body_shutdown(void *arg)
{
	uco_channel *a, *b, *ready;
	void *item;

	(void)arg;
	ck_assert_int_eq(uco_channel_create(&a, 1, NULL), 0);
	ck_assert_int_eq(uco_channel_create(&b, 1, NULL), 0);
	ck_assert_int_eq(uco_channel_create(&ready, 1, NULL), 0);
	ck_assert_int_eq(uco_channel_send(a, ITEM(0, 0)), 0);
	shut_s = (struct sender){ .ch = a, .id = 1, .n = 1 };
	shut_rc = (struct receiver){ .ch = b, .n = 1 };
	/* The receiver blocks first: the wake-up of core 1 leaves with the
	 * spawn_on, so core 1 may have sent on `ready` before this task next
	 * suspends. */
	ck_assert_int_eq(uco_spawn(NULL, receiver_task, &shut_rc, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(shut_rc.waiting);
	ck_assert_int_eq(uco_spawn_on(1, NULL, start_blocked_sender, ready,
				      NULL),
			 0);
	ck_assert_int_eq(uco_channel_recv(ready, &item), 0);
	ck_assert(shut_rc.waiting);
	uco_channel_free(ready);
	/* a and b leak on purpose: this run is not leak-checked. */
}

START_TEST(shutdown_cancels_waiters)
{
	uco_config cfg;

	cfg2(&cfg);
	th_run(body_shutdown, NULL, &cfg);
}
END_TEST

static Suite *channel_suite(void)
{
	Suite *s = suite_create("channel");
	TCase *tc;

	tc = tcase_create("basics");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, try_ops);
	tcase_add_test(tc, try_spsc);
	tcase_add_test(tc, misuse);
	tcase_add_test(tc, outside_runtime);
	tcase_add_test_raise_signal(tc, free_with_waiter, SIGABRT);
	tcase_add_test(tc, one_core);
	suite_add_tcase(s, tc);

	/* One case per stream, so CK_RUN_CASE can pick one. */
	tc = tcase_create("spsc_10m");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cross_core_spsc_10m);
	suite_add_tcase(s, tc);
	tc = tcase_create("mpsc_10m");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cross_core_mpsc_10m);
	suite_add_tcase(s, tc);
	tc = tcase_create("small_ring");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cross_core_small_ring);
	suite_add_tcase(s, tc);
	tc = tcase_create("mpsc_two_cores");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, mpsc_two_cores);
	suite_add_tcase(s, tc);

	tc = tcase_create("waiting");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, burst_one_wakeup);
	tcase_add_test(tc, full_waits);
	tcase_add_test(tc, close_wakes_receivers);
	tcase_add_test(tc, close_wakes_senders);
	tcase_add_test(tc, close_midstream);
	tcase_add_test(tc, recv_cancel_timeout);
	tcase_add_test(tc, send_cancel_timeout);
	tcase_add_test(tc, timeouts_lose_nothing);
	tcase_add_test(tc, shutdown_cancels_waiters);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(channel_suite());
}
