/*
 * Suite "queue": include/uco/queue.h.  Order (FIFO, LIFO, priority with
 * ties in insertion order), bounded and unbounded, waiting getters and
 * putters served first come first served, items handed over directly so a
 * cancelled or timed-out waiter never loses or steals one, task_done/join,
 * shutdown (plain and immediate), timeouts on every wait, and misuse.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

#define ITEM(i) ((void *)(uintptr_t)(i))
#define VAL(p) ((long)(uintptr_t)(p))

static uco_queue *mkq(uco_queue_kind kind, size_t maxsize)
{
	uco_queue_opts o = { .kind = kind, .maxsize = maxsize };
	uco_queue *q;

	ck_assert_int_eq(uco_queue_create(&q, &o), 0);
	return q;
}

/* A task doing one get or one put (under a scope of scope_ns if set). */
struct op {
	uco_queue *q;
	bool put;
	void *item;
	uint64_t scope_ns;
	int r;
	int *seq;      /* shared counter: the order the ops finished in */
	int rank;
	bool started;
};

static void *op_task(void *arg)
{
	struct op *o = arg;
	int s = o->scope_ns ? uco_timeout_begin(o->scope_ns) : -1;

	o->started = true;
	o->r = o->put ? uco_queue_put(o->q, o->item)
		      : uco_queue_get(o->q, &o->item);
	if (s >= 0)
		uco_timeout_end(s);
	if (o->seq)
		o->rank = (*o->seq)++;
	return NULL;
}

/* ---- order ----------------------------------------------------------- */

static void body_fifo_lifo(void *arg)
{
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 0);
	void *it;

	ck_assert(uco_queue_empty(q));
	/* Enough to grow several times, with the ring wrapped first. */
	for (long i = 0; i < 5; i++)
		ck_assert_int_eq(uco_queue_put(q, ITEM(i)), 0);
	for (long i = 0; i < 5; i++) {
		ck_assert_int_eq(uco_queue_get(q, &it), 0);
		ck_assert_int_eq(VAL(it), i);
	}
	for (long i = 0; i < 100; i++)
		ck_assert_int_eq(uco_queue_put(q, ITEM(i)), 0);
	ck_assert_uint_eq(uco_queue_size(q), 100);
	ck_assert(!uco_queue_full(q));
	for (long i = 0; i < 100; i++) {
		ck_assert_int_eq(uco_queue_try_get(q, &it), 0);
		ck_assert_int_eq(VAL(it), i);
	}
	ck_assert_int_eq(uco_queue_try_get(q, &it), -EAGAIN);
	ck_assert_uint_eq(uco_queue_unfinished(q), 105);
	uco_queue_free(q);

	q = mkq(UCO_QUEUE_LIFO, 0);
	for (long i = 0; i < 50; i++)
		ck_assert_int_eq(uco_queue_try_put(q, ITEM(i)), 0);
	for (long i = 49; i >= 0; i--) {
		ck_assert_int_eq(uco_queue_get(q, &it), 0);
		ck_assert_int_eq(VAL(it), i);
	}
	ck_assert_int_eq(uco_queue_try_get(q, &it), -EAGAIN);
	uco_queue_free(q);
	uco_queue_free(NULL);
}

START_TEST(fifo_lifo)
{
	lc_run(body_fifo_lifo, NULL, NULL);
}
END_TEST

/* Items are pointers to {prio, id}: lower prio first, ties by put order. */
struct prio_item {
	int prio;
	int id;
};

static int prio_cmp(const void *a, const void *b, void *ctx)
{
	const struct prio_item *x = a, *y = b;

	(void)ctx;
	return (x->prio > y->prio) - (x->prio < y->prio);
}

static void body_priority(void *arg)
{
	enum { N = 2000 };
	struct prio_item *items = calloc(N, sizeof(*items));
	uco_queue_opts o = { .kind = UCO_QUEUE_PRIORITY, .cmp = prio_cmp };
	uco_queue *q;
	unsigned seed = 12345;
	void *it;

	ck_assert_ptr_nonnull(items);
	ck_assert_int_eq(uco_queue_create(&q, &o), 0);
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		items[i] = (struct prio_item){ (int)(seed >> 16) % 17, i };
		ck_assert_int_eq(uco_queue_put(q, &items[i]), 0);
	}
	struct prio_item prev = { -1, -1 };
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uco_queue_get(q, &it), 0);
		const struct prio_item *p = it;
		LC_CHECK(p->prio > prev.prio ||
				 (p->prio == prev.prio && p->id > prev.id),
			 "out of order at %d: (%d,%d) after (%d,%d)", i,
			 p->prio, p->id, prev.prio, prev.id);
		prev = *p;
	}
	ck_assert_int_eq(uco_queue_try_get(q, &it), -EAGAIN);

	/* Interleaved: a small one put later still comes out first. */
	struct prio_item a = { 5, 0 }, b = { 1, 1 }, c = { 5, 2 }, d = { 0, 3 };
	ck_assert_int_eq(uco_queue_put(q, &a), 0);
	ck_assert_int_eq(uco_queue_put(q, &b), 0);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_ptr_eq(it, &b);
	ck_assert_int_eq(uco_queue_put(q, &c), 0);
	ck_assert_int_eq(uco_queue_put(q, &d), 0);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_ptr_eq(it, &d);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_ptr_eq(it, &a);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_ptr_eq(it, &c);
	uco_queue_free(q);
	free(items);
}

START_TEST(priority)
{
	lc_run(body_priority, NULL, NULL);
}
END_TEST

/* A bounded queue refuses try_put when full and put waits. */
static void body_bounded(void *arg)
{
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 3);
	void *it;

	ck_assert_uint_eq(uco_queue_maxsize(q), 3);
	for (long i = 0; i < 3; i++)
		ck_assert_int_eq(uco_queue_try_put(q, ITEM(i)), 0);
	ck_assert(uco_queue_full(q));
	ck_assert_int_eq(uco_queue_try_put(q, ITEM(9)), -EAGAIN);
	ck_assert_uint_eq(uco_queue_size(q), 3);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 0);
	ck_assert_int_eq(uco_queue_try_put(q, ITEM(3)), 0);
	for (long i = 1; i <= 3; i++) {
		ck_assert_int_eq(uco_queue_get(q, &it), 0);
		ck_assert_int_eq(VAL(it), i);
	}
	uco_queue_free(q);
}

START_TEST(bounded)
{
	lc_run(body_bounded, NULL, NULL);
}
END_TEST

/* LIFO and priority queues with putters waiting: a get admits the first
 * putter's item into the freed slot, then the flavour's order applies. */
static void body_flavours_with_putters(void *arg)
{
	struct prio_item pi[5] = { { 5, 0 }, { 3, 1 }, { 9, 2 }, { 1, 3 },
				   { 4, 4 } };
	uco_queue_opts po = { .kind = UCO_QUEUE_PRIORITY, .maxsize = 2,
			      .cmp = prio_cmp };
	struct op o[3];
	uco_task *t[3];
	uco_queue *q = mkq(UCO_QUEUE_LIFO, 2);
	void *it;

	ck_assert_int_eq(uco_queue_put(q, ITEM(1)), 0);
	ck_assert_int_eq(uco_queue_put(q, ITEM(2)), 0);
	for (int i = 0; i < 2; i++)
		o[i] = (struct op){ .q = q, .put = true, .item = ITEM(3 + i) };
	TH_SPAWN_WAITERS(o, t, 2, op_task);
	ck_assert_int_eq(uco_queue_get(q, &it), 0); /* 2; then 3 is pushed on top */
	ck_assert_int_eq(VAL(it), 2);
	ck_assert_int_eq(uco_queue_get(q, &it), 0); /* 3; then 4 */
	ck_assert_int_eq(VAL(it), 3);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 4);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 1);
	th_join_all(t, 2);
	uco_queue_free(q);

	ck_assert_int_eq(uco_queue_create(&q, &po), 0);
	ck_assert_int_eq(uco_queue_put(q, &pi[0]), 0);
	ck_assert_int_eq(uco_queue_put(q, &pi[1]), 0);
	for (int i = 0; i < 3; i++)
		o[i] = (struct op){ .q = q, .put = true, .item = &pi[2 + i] };
	TH_SPAWN_WAITERS(o, t, 3, op_task);
	/* Held: 5, 3.  Waiting: 9, 1, 4. */
	int want[] = { 3, 5, 1, 4, 9 };
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(uco_queue_get(q, &it), 0);
		ck_assert_int_eq(((struct prio_item *)it)->prio, want[i]);
	}
	th_join_all(t, 3);
	/* A waiting getter of a priority queue is handed the item. */
	o[0] = (struct op){ .q = q };
	TH_SPAWN_WAITERS(o, t, 1, op_task);
	ck_assert_int_eq(uco_queue_put(q, &pi[4]), 0);
	th_join_all(t, 1);
	ck_assert_ptr_eq(o[0].item, &pi[4]);
	uco_queue_free(q);
}

START_TEST(flavours_with_putters)
{
	lc_run(body_flavours_with_putters, NULL, NULL);
}
END_TEST

/* ---- waiters --------------------------------------------------------- */

/* Waiting getters are served in the order they came, one item each. */
static void body_getters_fifo(void *arg)
{
	enum { N = 8 };
	struct op o[N];
	uco_task *t[N];
	uco_queue *q = mkq(UCO_QUEUE_LIFO, 0); /* order must not matter */
	int seq = 0;

	for (int i = 0; i < N; i++)
		o[i] = (struct op){ .q = q, .seq = &seq };
	TH_SPAWN_WAITERS(o, t, N, op_task);
	for (long i = 0; i < N; i++)
		ck_assert_int_eq(uco_queue_put(q, ITEM(100 + i)), 0);
	/* Handed over directly: nothing is left in the buffer to take. */
	ck_assert_uint_eq(uco_queue_size(q), 0);
	th_join_all(t, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(o[i].r, 0);
		ck_assert_int_eq(VAL(o[i].item), 100 + i);
		ck_assert_int_eq(o[i].rank, i);
	}
	uco_queue_free(q);
}

START_TEST(getters_fifo)
{
	lc_run(body_getters_fifo, NULL, NULL);
}
END_TEST

/* Waiting putters of a full queue get in in the order they came. */
static void body_putters_fifo(void *arg)
{
	enum { N = 6 };
	struct op o[N];
	uco_task *t[N];
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 2);
	int seq = 0;
	void *it;

	ck_assert_int_eq(uco_queue_put(q, ITEM(0)), 0);
	ck_assert_int_eq(uco_queue_put(q, ITEM(1)), 0);
	for (int i = 0; i < N; i++)
		o[i] = (struct op){ .q = q, .put = true, .item = ITEM(2 + i),
				    .seq = &seq };
	TH_SPAWN_WAITERS(o, t, N, op_task);
	for (long i = 0; i < N + 2; i++) {
		ck_assert_int_eq(uco_queue_get(q, &it), 0);
		ck_assert_int_eq(VAL(it), i);
		/* A get from a full queue moves a waiting putter's item in
		 * at once: still full, no room for a newcomer. */
		if (i < N)
			ck_assert_int_eq(uco_queue_try_put(q, ITEM(99)),
					 -EAGAIN);
	}
	th_join_all(t, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(o[i].r, 0);
		ck_assert_int_eq(o[i].rank, i);
	}
	uco_queue_free(q);
}

START_TEST(putters_fifo)
{
	lc_run(body_putters_fifo, NULL, NULL);
}
END_TEST

/* A cancelled getter leaves the line: the items go to the others, none is
 * lost.  A getter cancelled after it was handed its item keeps it. */
static void body_cancelled_getter(void *arg)
{
	enum { N = 4 };
	struct op o[N];
	uco_task *t[N];
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 0);
	void *it;

	for (int i = 0; i < N; i++)
		o[i] = (struct op){ .q = q };
	TH_SPAWN_WAITERS(o, t, N, op_task);
	ck_assert_int_eq(uco_cancel(t[1]), 0);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	ck_assert_int_eq(o[1].r, -ECANCELED);
	ck_assert_int_eq(uco_queue_put(q, ITEM(10)), 0);
	ck_assert_int_eq(uco_queue_put(q, ITEM(11)), 0);
	/* t[0] was handed 10; cancelling it now must not lose it. */
	ck_assert_int_eq(uco_cancel(t[0]), 0);
	ck_assert_int_eq(uco_queue_put(q, ITEM(12)), 0);
	ck_assert_int_eq(uco_queue_put(q, ITEM(13)), 0); /* nobody left waiting: stays queued */
	th_join_all(t, 1);
	th_join_all(t + 2, 2);
	uco_task_release(t[1]);
	ck_assert_int_eq(o[0].r, 0);
	ck_assert_int_eq(VAL(o[0].item), 10);
	ck_assert_int_eq(o[2].r, 0);
	ck_assert_int_eq(VAL(o[2].item), 11);
	ck_assert_int_eq(o[3].r, 0);
	ck_assert_int_eq(VAL(o[3].item), 12);
	ck_assert_int_eq(uco_queue_try_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 13);
	ck_assert_int_eq(uco_queue_try_get(q, &it), -EAGAIN);
	uco_queue_free(q);
}

START_TEST(cancelled_getter)
{
	lc_run(body_cancelled_getter, NULL, NULL);
}
END_TEST

/* A getter that was handed an item cannot have it taken by a task that
 * runs before it. */
static void body_no_barging(void *arg)
{
	struct op o = { 0 };
	uco_task *t;
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 0);
	void *it = NULL;

	o.q = q;
	TH_SPAWN_WAITERS(&o, &t, 1, op_task);
	ck_assert_int_eq(uco_queue_put(q, ITEM(7)), 0);
	ck_assert_int_eq(uco_queue_try_get(q, &it), -EAGAIN);
	ck_assert_ptr_null(it);
	th_join_all(&t, 1);
	ck_assert_int_eq(o.r, 0);
	ck_assert_int_eq(VAL(o.item), 7);
	uco_queue_free(q);
}

START_TEST(no_barging)
{
	lc_run(body_no_barging, NULL, NULL);
}
END_TEST


/* A cancelled putter's item never enters the queue; the others' do, in
 * order.  A putter cancelled after its item was taken in reports 0. */
static void body_cancelled_putter(void *arg)
{
	enum { N = 3 };
	struct op o[N];
	uco_task *t[N];
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 1);
	void *it;

	ck_assert_int_eq(uco_queue_put(q, ITEM(0)), 0);
	for (int i = 0; i < N; i++)
		o[i] = (struct op){ .q = q, .put = true, .item = ITEM(1 + i) };
	TH_SPAWN_WAITERS(o, t, N, op_task);
	ck_assert_int_eq(uco_cancel(t[0]), 0);
	ck_assert_int_eq(uco_join(t[0], NULL), 0);
	ck_assert_int_eq(o[0].r, -ECANCELED);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 0);
	/* t[1]'s item is in now; cancelling it cannot take it back. */
	ck_assert_int_eq(uco_cancel(t[1]), 0);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 2);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 3);
	ck_assert_int_eq(uco_queue_try_get(q, &it), -EAGAIN);
	th_join_all(t + 1, 2);
	uco_task_release(t[0]);
	ck_assert_int_eq(o[1].r, 0);
	ck_assert_int_eq(o[2].r, 0);
	ck_assert_uint_eq(uco_queue_unfinished(q), 3); /* 0, 2, 3 */
	uco_queue_free(q);
}

START_TEST(cancelled_putter)
{
	lc_run(body_cancelled_putter, NULL, NULL);
}
END_TEST

/* A cancelled task: a wait returns -ECANCELED at once, but a call that can
 * complete without waiting does (as asyncio's get_nowait-able get). */
static void body_cancelled_caller(void *arg)
{
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 1);
	void *it;

	ck_assert_int_eq(uco_cancel(uco_current()), 0);
	ck_assert_int_eq(uco_queue_get(q, &it), -ECANCELED);
	ck_assert_int_eq(uco_queue_put(q, ITEM(1)), 0);
	ck_assert_int_eq(uco_queue_put(q, ITEM(2)), -ECANCELED);
	ck_assert_uint_eq(uco_queue_size(q), 1);
	ck_assert_int_eq(uco_queue_join(q), -ECANCELED);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 1);
	ck_assert_int_eq(uco_queue_task_done(q), 0);
	ck_assert_int_eq(uco_queue_join(q), 0);
	uco_queue_free(q);
}

START_TEST(cancelled_caller)
{
	lc_run(body_cancelled_caller, NULL, NULL);
}
END_TEST

/* ---- timeouts -------------------------------------------------------- */

static int get_fn(void *arg)
{
	void *it;

	return uco_queue_get(arg, &it);
}

static int put_fn(void *arg)
{
	return uco_queue_put(arg, ITEM(42));
}

static int join_fn(void *arg)
{
	return uco_queue_join(arg);
}

static void body_timeouts(void *arg)
{
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 1);
	void *it;
	int s;

	/* get: wait_for and a scope; the waiter leaves the line, so the
	 * next item stays in the queue instead of going to a ghost. */
	ck_assert_int_eq(uco_wait_for(2 * MS, get_fn, q), -ETIMEDOUT);
	s = uco_timeout_begin(2 * MS);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(uco_queue_get(q, &it), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	ck_assert_int_eq(uco_queue_put(q, ITEM(1)), 0);
	ck_assert_uint_eq(uco_queue_size(q), 1);

	/* put on a full queue: its item does not get in. */
	ck_assert_int_eq(uco_wait_for(2 * MS, put_fn, q), -ETIMEDOUT);
	s = uco_timeout_begin(2 * MS);
	ck_assert_int_eq(uco_queue_put(q, ITEM(2)), -ETIMEDOUT);
	uco_timeout_end(s);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 1);
	ck_assert_int_eq(uco_queue_try_get(q, &it), -EAGAIN);

	/* join with an unfinished item. */
	ck_assert_int_eq(uco_wait_for(2 * MS, join_fn, q), -ETIMEDOUT);
	s = uco_timeout_begin(2 * MS);
	ck_assert_int_eq(uco_queue_join(q), -ETIMEDOUT);
	uco_timeout_end(s);
	ck_assert_int_eq(uco_queue_task_done(q), 0);
	ck_assert_int_eq(uco_wait_for(2 * MS, join_fn, q), 0);

	/* A waiter timing out in the middle of the line: the item meant for
	 * the next one still reaches it. */
	struct op o[3];
	uco_task *t[3];
	for (int i = 0; i < 3; i++)
		o[i] = (struct op){ .q = q, .scope_ns = i == 1 ? 2 * MS : 0 };
	TH_SPAWN_WAITERS(o, t, 3, op_task);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	ck_assert_int_eq(o[1].r, -ETIMEDOUT);
	ck_assert_int_eq(uco_queue_put(q, ITEM(5)), 0);
	ck_assert_int_eq(uco_queue_put(q, ITEM(6)), 0);
	th_join_all(t, 1);
	th_join_all(t + 2, 1);
	uco_task_release(t[1]);
	ck_assert_int_eq(VAL(o[0].item), 5);
	ck_assert_int_eq(VAL(o[2].item), 6);
	ck_assert_uint_eq(uco_queue_size(q), 0);
	uco_queue_free(q);
}

START_TEST(timeouts)
{
	lc_run(body_timeouts, NULL, NULL);
}
END_TEST

/* ---- task_done / join ------------------------------------------------ */

struct pc {
	uco_queue *q;
	int id;
	int per_producer;
	long sum;       /* consumers: what they took */
	long count;
	int r;
};

static void *producer(void *arg)
{
	struct pc *p = arg;

	for (int i = 0; i < p->per_producer; i++) {
		int r = uco_queue_put(p->q, ITEM(p->id * 100000 + i + 1));
		if (r < 0) {
			p->r = r;
			return NULL;
		}
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct pc *c = arg;
	void *it;
	int r;

	while ((r = uco_queue_get(c->q, &it)) == 0) {
		c->sum += VAL(it);
		c->count++;
		if (c->count % 3 == 0)
			UCO_IGNORE(uco_yield()); /* "process" it */
		LC_CHECK(uco_queue_task_done(c->q) == 0, "task_done");
	}
	c->r = r;
	return NULL;
}

static void body_producer_consumer(void *arg)
{
	enum { P = 4, C = 3, M = 5000 };
	struct pc prod[P], cons[C];
	uco_task *tp[P], *tc[C];
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 4);
	long want = 0, got = 0, count = 0;

	for (int i = 0; i < C; i++) {
		cons[i] = (struct pc){ .q = q };
		ck_assert_int_eq(uco_spawn(&tc[i], consumer, &cons[i], NULL),
				 0);
	}
	for (int i = 0; i < P; i++) {
		prod[i] = (struct pc){ .q = q, .id = i, .per_producer = M };
		ck_assert_int_eq(uco_spawn(&tp[i], producer, &prod[i], NULL),
				 0);
		for (int k = 0; k < M; k++)
			want += i * 100000 + k + 1;
	}
	for (int i = 0; i < P; i++) {
		ck_assert_int_eq(uco_join(tp[i], NULL), 0);
		ck_assert_int_eq(prod[i].r, 0);
		uco_task_release(tp[i]);
	}
	ck_assert_int_eq(uco_queue_join(q), 0);
	ck_assert_uint_eq(uco_queue_unfinished(q), 0);
	for (int i = 0; i < C; i++) {
		got += cons[i].sum;
		count += cons[i].count;
	}
	ck_assert_int_eq(count, P * M);
	ck_assert_int_eq(got, want);
	/* Consumers wait on the empty queue; shutdown lets them go. */
	ck_assert_int_eq(uco_queue_shutdown(q, false), 0);
	for (int i = 0; i < C; i++) {
		ck_assert_int_eq(uco_join(tc[i], NULL), 0);
		ck_assert_int_eq(cons[i].r, -ESHUTDOWN);
		uco_task_release(tc[i]);
	}
	ck_assert_int_eq(uco_queue_task_done(q), -EINVAL); /* too many */
	uco_queue_free(q);
}

START_TEST(producer_consumer)
{
	lc_run(body_producer_consumer, NULL, NULL);
}
END_TEST

/* A joiner waits for the last task_done; a cancelled joiner leaves. */
static void *join_task(void *arg)
{
	struct op *o = arg;

	o->started = true;
	o->r = uco_queue_join(o->q);
	return NULL;
}

static void body_join_waiters(void *arg)
{
	struct op o[3];
	uco_task *t[3];
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 0);
	void *it;

	ck_assert_int_eq(uco_queue_put(q, ITEM(1)), 0);
	ck_assert_int_eq(uco_queue_put(q, ITEM(2)), 0);
	for (int i = 0; i < 3; i++) {
		o[i] = (struct op){ .q = q, .r = 1 };
		ck_assert_int_eq(uco_spawn(&t[i], join_task, &o[i], NULL), 0);
	}
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t[1]), 0);
	ck_assert_int_eq(uco_join(t[1], NULL), 0);
	ck_assert_int_eq(o[1].r, -ECANCELED);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(uco_queue_task_done(q), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(o[0].r, 1); /* still waiting */
	ck_assert_int_eq(uco_queue_task_done(q), 0);
	th_join_all(t, 1);
	th_join_all(t + 2, 1);
	uco_task_release(t[1]);
	ck_assert_int_eq(o[0].r, 0);
	ck_assert_int_eq(o[2].r, 0);
	uco_queue_free(q); /* the woken joiners do not look at q again */
}

START_TEST(join_waiters)
{
	lc_run(body_join_waiters, NULL, NULL);
}
END_TEST

/* ---- shutdown -------------------------------------------------------- */

static void count_drop(void *item, void *ctx)
{
	(void)item;
	(*(int *)ctx)++;
}

static void body_shutdown(void *arg)
{
	enum { N = 3 };
	struct op o[N];
	uco_task *t[N];
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 2);
	void *it;

	/* Getters on an empty queue. */
	for (int i = 0; i < N; i++)
		o[i] = (struct op){ .q = q };
	TH_SPAWN_WAITERS(o, t, N, op_task);
	ck_assert_int_eq(uco_queue_shutdown(q, false), 0);
	ck_assert(uco_queue_is_shutdown(q));
	th_join_all(t, N);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(o[i].r, -ESHUTDOWN);
	ck_assert_int_eq(uco_queue_put(q, ITEM(1)), -ESHUTDOWN);
	ck_assert_int_eq(uco_queue_try_put(q, ITEM(1)), -ESHUTDOWN);
	ck_assert_int_eq(uco_queue_get(q, &it), -ESHUTDOWN);
	ck_assert_int_eq(uco_queue_try_get(q, &it), -ESHUTDOWN);
	ck_assert_int_eq(uco_queue_shutdown(q, false), 0); /* again: fine */
	uco_queue_free(q);

	/* Putters on a full queue; the queued items can still be taken. */
	q = mkq(UCO_QUEUE_FIFO, 2);
	ck_assert_int_eq(uco_queue_put(q, ITEM(1)), 0);
	ck_assert_int_eq(uco_queue_put(q, ITEM(2)), 0);
	for (int i = 0; i < N; i++)
		o[i] = (struct op){ .q = q, .put = true, .item = ITEM(10 + i) };
	TH_SPAWN_WAITERS(o, t, N, op_task);
	ck_assert_int_eq(uco_queue_shutdown(q, false), 0);
	th_join_all(t, N);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(o[i].r, -ESHUTDOWN);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 1);
	ck_assert_int_eq(uco_queue_try_get(q, &it), 0);
	ck_assert_int_eq(VAL(it), 2);
	ck_assert_int_eq(uco_queue_get(q, &it), -ESHUTDOWN);
	ck_assert_uint_eq(uco_queue_unfinished(q), 2);
	uco_queue_free(q);
}

START_TEST(shutdown_plain)
{
	lc_run(body_shutdown, NULL, NULL);
}
END_TEST

/* Immediate: the items are discarded (to drop) and count as done. */
static void body_shutdown_immediate(void *arg)
{
	struct op j[2];
	uco_task *t[2];
	int dropped = 0;
	uco_queue_opts opts = { .kind = UCO_QUEUE_LIFO, .drop = count_drop,
				.drop_ctx = &dropped };
	uco_queue *q;
	void *it;

	ck_assert_int_eq(uco_queue_create(&q, &opts), 0);
	for (long i = 0; i < 5; i++)
		ck_assert_int_eq(uco_queue_put(q, ITEM(i)), 0);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	for (int i = 0; i < 2; i++) {
		j[i] = (struct op){ .q = q, .r = 1 };
		ck_assert_int_eq(uco_spawn(&t[i], join_task, &j[i], NULL), 0);
	}
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_queue_shutdown(q, true), 0);
	ck_assert_int_eq(dropped, 3);
	ck_assert_uint_eq(uco_queue_size(q), 0);
	ck_assert_uint_eq(uco_queue_unfinished(q), 2); /* the two taken */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(j[0].r, 1);
	ck_assert_int_eq(uco_queue_get(q, &it), -ESHUTDOWN);
	ck_assert_int_eq(uco_queue_task_done(q), 0);
	ck_assert_int_eq(uco_queue_task_done(q), 0);
	th_join_all(t, 2);
	ck_assert_int_eq(j[0].r, 0);
	ck_assert_int_eq(j[1].r, 0);
	uco_queue_free(q);

	/* Left at free: dropped too. */
	dropped = 0;
	opts.kind = UCO_QUEUE_FIFO;
	ck_assert_int_eq(uco_queue_create(&q, &opts), 0);
	for (long i = 0; i < 20; i++)
		ck_assert_int_eq(uco_queue_put(q, ITEM(i)), 0);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	uco_queue_free(q);
	ck_assert_int_eq(dropped, 19);
}

START_TEST(shutdown_immediate)
{
	lc_run(body_shutdown_immediate, NULL, NULL);
}
END_TEST

/* ---- property: nothing lost, nothing taken twice ---------------------- */

/*
 * Rounds of putters and getters (some under short scopes) on a small
 * bounded queue, with random cancels between yields.  Every item a putter
 * reports as put is taken by exactly one getter that reports success, or
 * is still in the queue at the end; no item a putter failed to put ever
 * shows up.
 */
static void body_random_cancel(void *arg)
{
	enum { ROUNDS = 300, N = 12, IDS = ROUNDS * N };
	unsigned char *seen = calloc(IDS + 1, 1);
	struct op o[N];
	uco_task *t[N];
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 3);
	unsigned seed = 42;
	long put_ok = 0, got_ok = 0;
	int next_id = 1;
	void *it;

	ck_assert_ptr_nonnull(seen);
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < N; i++) {
			seed = seed * 1103515245u + 12345u;
			unsigned r = seed >> 16;
			o[i] = (struct op){ .q = q, .put = r & 1, .r = 1 };
			if (o[i].put)
				o[i].item = ITEM(next_id++);
			if ((r >> 1) % 8 == 0)
				o[i].scope_ns = 1 + (r >> 4) % 50000;
			LC_CHECK(uco_spawn(&t[i], op_task, &o[i], NULL) == 0,
				 "spawn");
		}
		for (int step = 0; step < 4; step++) {
			UCO_IGNORE(uco_yield());
			for (int i = 0; i < N; i++) {
				seed = seed * 1103515245u + 12345u;
				if ((seed >> 16) % 6 == 0)
					uco_cancel(t[i]);
			}
		}
		/* Let the leftovers finish: drain and refill as needed. */
		for (int i = 0; i < N; i++) {
			while (!uco_task_done(t[i])) {
				if (o[i].put) {
					if (uco_queue_try_get(q, &it) == 0) {
						long v = VAL(it);
						LC_CHECK(!seen[v], "dup %ld", v);
						seen[v] = 1;
						got_ok++;
					}
				} else {
					if (uco_queue_try_put(q, ITEM(next_id))
					    == 0)
						put_ok++;
					next_id++;
				}
				UCO_IGNORE(uco_yield());
			}
			LC_CHECK(uco_join(t[i], NULL) == 0, "join");
			uco_task_release(t[i]);
			LC_CHECK(o[i].r == 0 || o[i].r == -ECANCELED ||
					 o[i].r == -ETIMEDOUT,
				 "r = %d", o[i].r);
			if (o[i].r != 0)
				continue;
			if (o[i].put) {
				put_ok++;
			} else {
				long v = VAL(o[i].item);
				LC_CHECK(v > 0 && v < next_id, "bad item %ld", v);
				LC_CHECK(!seen[v], "item %ld taken twice", v);
				seen[v] = 1;
				got_ok++;
			}
		}
		ck_assert_int_lt(next_id, IDS * 2);
		if (next_id > IDS - 2 * N)
			break;
	}
	while (uco_queue_try_get(q, &it) == 0) {
		long v = VAL(it);
		LC_CHECK(!seen[v], "item %ld taken twice", v);
		seen[v] = 1;
		got_ok++;
	}
	ck_assert_int_eq(got_ok, put_ok);
	free(seen);
	uco_queue_free(q);
}

START_TEST(random_cancel)
{
	lc_run(body_random_cancel, NULL, NULL);
}
END_TEST

/* ---- misuse ---------------------------------------------------------- */

START_TEST(outside_runtime)
{
	uco_queue *q = (uco_queue *)&q;

	ck_assert_int_eq(uco_queue_create(&q, NULL), -EPERM);
	ck_assert_ptr_null(q);
}
END_TEST

static void body_bad_args(void *arg)
{
	uco_queue_opts o = { .kind = UCO_QUEUE_PRIORITY };
	uco_queue *q;
	void *it;

	ck_assert_int_eq(uco_queue_create(NULL, NULL), -EINVAL);
	ck_assert_int_eq(uco_queue_create(&q, &o), -EINVAL); /* no cmp */
	o.kind = (uco_queue_kind)7;
	ck_assert_int_eq(uco_queue_create(&q, &o), -EINVAL);
	ck_assert_int_eq(uco_queue_put(NULL, ITEM(1)), -EINVAL);
	ck_assert_int_eq(uco_queue_try_put(NULL, ITEM(1)), -EINVAL);
	ck_assert_int_eq(uco_queue_get(NULL, &it), -EINVAL);
	ck_assert_int_eq(uco_queue_try_get(NULL, &it), -EINVAL);
	ck_assert_int_eq(uco_queue_task_done(NULL), -EINVAL);
	ck_assert_int_eq(uco_queue_join(NULL), -EINVAL);
	ck_assert_int_eq(uco_queue_shutdown(NULL, true), -EINVAL);
	ck_assert_int_eq(uco_queue_create(&q, NULL), 0);
	ck_assert_int_eq(uco_queue_get(q, NULL), -EINVAL);
	ck_assert_int_eq(uco_queue_try_get(q, NULL), -EINVAL);
	ck_assert_int_eq(uco_queue_task_done(q), -EINVAL);
	ck_assert_int_eq(uco_queue_join(q), 0); /* nothing unfinished */
	uco_queue_free(q);
}

START_TEST(bad_args)
{
	lc_run(body_bad_args, NULL, NULL);
}
END_TEST

/* Used from another core: -EXDEV, whatever the call. */
static void *other_core(void *arg)
{
	uco_queue *q = arg;
	void *it;

	ck_assert_int_eq(uco_queue_put(q, ITEM(1)), -EXDEV);
	ck_assert_int_eq(uco_queue_try_put(q, ITEM(1)), -EXDEV);
	ck_assert_int_eq(uco_queue_get(q, &it), -EXDEV);
	ck_assert_int_eq(uco_queue_try_get(q, &it), -EXDEV);
	ck_assert_int_eq(uco_queue_task_done(q), -EXDEV);
	ck_assert_int_eq(uco_queue_join(q), -EXDEV);
	ck_assert_int_eq(uco_queue_shutdown(q, true), -EXDEV);
	return NULL;
}

static void body_cross_core(void *arg)
{
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 0);
	uco_task *t;
	void *it;

	ck_assert_int_eq(uco_queue_put(q, ITEM(3)), 0);
	ck_assert_int_eq(uco_spawn_on(1, &t, other_core, q, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_uint_eq(uco_queue_size(q), 1);
	ck_assert_int_eq(uco_queue_get(q, &it), 0);
	uco_queue_free(q);
}

START_TEST(cross_core)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = 2;
	lc_run(body_cross_core, NULL, &cfg);
}
END_TEST

static void body_free_with_waiter(void *arg)
{
	struct op o = { 0 };
	uco_task *t;
	uco_queue *q = mkq(UCO_QUEUE_FIFO, 0);

	o.q = q;
	TH_SPAWN_WAITERS(&o, &t, 1, op_task);
	uco_queue_free(q); /* aborts */
}

START_TEST(free_with_waiter)
{
	th_run(body_free_with_waiter, NULL, NULL);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc;

	tc = tcase_create("order");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, fifo_lifo);
	tcase_add_test(tc, priority);
	tcase_add_test(tc, bounded);
	tcase_add_test(tc, flavours_with_putters);
	suite_add_tcase(s, tc);

	tc = tcase_create("waiters");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, getters_fifo);
	tcase_add_test(tc, putters_fifo);
	tcase_add_test(tc, cancelled_getter);
	tcase_add_test(tc, no_barging);
	tcase_add_test(tc, cancelled_putter);
	tcase_add_test(tc, cancelled_caller);
	tcase_add_test(tc, timeouts);
	tcase_add_test(tc, random_cancel);
	suite_add_tcase(s, tc);

	tc = tcase_create("join_shutdown");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, producer_consumer);
	tcase_add_test(tc, join_waiters);
	tcase_add_test(tc, shutdown_plain);
	tcase_add_test(tc, shutdown_immediate);
	suite_add_tcase(s, tc);

	tc = tcase_create("misuse");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, outside_runtime);
	tcase_add_test(tc, bad_args);
	tcase_add_test(tc, cross_core);
	tcase_add_test_raise_signal(tc, free_with_waiter, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(queue_suite());
}
