/*
 * Generators: a producer task and its consumer taking turns on one core;
 * see include/uco/generator.h.
 *
 * State, all on the home core (no atomics):
 *   want     the consumer has asked for a value it has not got yet;
 *   have     a value is waiting for the consumer (`value`);
 *   closing  uco_gen_close() was called;
 *   done     the producer has ended with `result`.
 * The producer runs only while `want` is set (or to finish after a close):
 * it waits on `producer` before its body starts and in every yield; the
 * consumer waits on `consumer` in uco_gen_next().  A wait cut short
 * (cancelled, timed out) leaves the flags as they are, so a request stays
 * asked and a value stays handed over.
 */
#include <uco/generator.h>

#include <errno.h>

#include "core/alloc.h"
#include "core/loop.h"
#include "core/task.h"
#include "core/wait.h"
#include "core/cleanup.h"

struct uco_gen {
	uco_task *task;            /* the producer: our reference */
	uco_gen_fn fn;
	void *arg;
	struct uco__loop *home;
	struct uco__waitq consumer; /* the task in uco_gen_next() */
	struct uco__waitq producer; /* the producer, before its start or in a
	                               yield */
	void *value;
	int result;                /* the producer's: 0 or its failure */
	bool want, have, closing, done;
	void *sent;                /* uco_gen_send()'s value, for the yield */
	int thrown;                /* uco_gen_throw()'s error, for the yield */
};

static void *gen_main(void *arg)
{
	uco_gen *g = arg;
	int r = 0;

	/* On demand, as an async generator's body: nothing runs before the
	 * first uco_gen_next(), and nothing at all if closed first. */
	while (r == 0 && !g->want && !g->closing)
		r = uco__waitq_wait(&g->producer, "generator start");
	if (r == 0 && g->thrown) {
		/* athrow() before the start: the body never runs and the
		 * error is its outcome. */
		r = g->thrown;
		g->thrown = 0;
	} else if (r == 0 && !g->closing) {
		r = g->fn(g, g->arg);
	}
	g->result = r < 0 ? r : 0;
	g->done = true;
	uco__waitq_wake_all(&g->consumer, 0);
	return r < 0 ? uco_fail(r) : NULL;
}

UCO_API int uco_gen_start(uco_gen **out, uco_gen_fn fn, void *arg)
{
	struct uco_task *self = uco__self();
	uco_spawn_opts opts = { .name = "generator" };
	uco_gen *g;
	int r;

	*out = NULL;
	if (!self)
		return -EPERM;
	if (!fn)
		return -EINVAL;
	g = uco__zalloc(sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->fn = fn;
	g->arg = arg;
	g->home = self->loop;
	uco__waitq_init(&g->consumer);
	uco__waitq_init(&g->producer);
	r = uco_spawn(&g->task, gen_main, g, &opts);
	if (r < 0) {
		uco__free(g, sizeof(*g));
		return r;
	}
	*out = g;
	return 0;
}

/* The checks of the consumer's calls. */
static int consumer_check(const uco_gen *g)
{
	struct uco_task *self = uco__self();

	if (!self)
		return -EPERM;
	if (self->loop != g->home)
		return -EXDEV;
	return self == g->task ? -EDEADLK : 0;
}

UCO_API int uco_gen_next(uco_gen *g, void **value)
{
	int r = consumer_check(g);

	if (r < 0)
		return r;
	if (!g->have) {
		if (g->done)
			return g->result;
		if (g->closing)
			return -EPIPE;
		if (!uco__waitq_empty(&g->consumer))
			return -EBUSY;
		if (!g->want) {
			g->want = true;
			uco__waitq_wake_one(&g->producer, 0);
		}
		while (!g->have && !g->done) {
			r = uco__waitq_wait(&g->consumer, "generator next");
			if (r < 0)
				return r; /* the request stays (see above) */
		}
		if (!g->have)
			return g->result;
	}
	g->have = false;
	if (value)
		*value = g->value;
	return 1;
}

UCO_API int uco_gen_yield(uco_gen *g, void *value)
{
	int r = 0;

	if (uco__self() != g->task)
		return -EINVAL;
	if (g->closing)
		return -EPIPE;
	g->value = value;
	g->have = true;
	g->want = false;
	uco__waitq_wake_one(&g->consumer, 0);
	while (r == 0 && !g->want && !g->closing)
		r = uco__waitq_wait(&g->producer, "generator yield");
	if (r < 0)
		return r;
	if (g->closing)
		return -EPIPE;
	if (g->thrown) {
		r = g->thrown;
		g->thrown = 0;
		return r;
	}
	return 0;
}

UCO_API int uco_gen_close(uco_gen *g)
{
	struct uco__cleanup c;
	bool cancelled = false;
	int r;

	if (!g)
		return 0;
	r = consumer_check(g);
	if (r < 0)
		return r;
	if (!g->done) {
		g->closing = true;
		if (!uco__waitq_empty(&g->producer)) {
			/* Parked in a yield (or not started): it wakes to
			 * -EPIPE (or never runs its body). */
			uco__waitq_wake_one(&g->producer, 0);
		} else {
			/* Suspended in some other call: cut it short. */
			uco_cancel(g->task);
			cancelled = true;
		}
	}
	uco__cleanup_begin(&c);
	UCO_IGNORE(uco_join(g->task, NULL));
	uco__cleanup_end(&c);
	r = g->result;
	if (r == -EPIPE || (cancelled && r == -ECANCELED))
		r = 0;
	/* A failure the consumer has already been told of is not news. */
	if (!g->closing)
		r = 0;
	uco_task_release(g->task);
	uco__free(g, sizeof(*g));
	return r;
}

UCO_API uco_task *uco_gen_task(const uco_gen *g)
{
	return g->task;
}

UCO_API bool uco_gen_done(const uco_gen *g)
{
	return g->done;
}

/* ---- asend / athrow (issue 14) -------------------------------------------- */

UCO_API int uco_gen_send(uco_gen *g, void *send, void **value)
{
	int r = consumer_check(g);

	if (r < 0)
		return r;
	if (!g->want && !g->have && !g->done)
		g->sent = send;
	return uco_gen_next(g, value);
}

UCO_API int uco_gen_throw(uco_gen *g, int err, void **value)
{
	int r = consumer_check(g);

	if (r < 0)
		return r;
	if (err >= 0)
		return -EINVAL;
	if (!g->want && !g->have && !g->done && !g->closing)
		g->thrown = err;
	else if (g->have)
		return -EBUSY; /* a value is waiting: take it first */
	return uco_gen_next(g, value);
}

UCO_API int uco_gen_yield_recv(uco_gen *g, void *value, void **received)
{
	int r = uco_gen_yield(g, value);

	if (received)
		*received = r == 0 ? g->sent : NULL;
	if (r == 0)
		g->sent = NULL;
	return r;
}

UCO_API void *uco_gen_received(uco_gen *g)
{
	void *v = g->sent;

	g->sent = NULL;
	return v;
}
