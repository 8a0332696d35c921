/*
 * gather, wait and as_completed: waiting on many tasks at once.
 *
 * Each waits with one waiter per task on the tasks' join lists; a waiter's
 * notify callback counts completions and wakes the waiting task only when
 * its condition holds, so n tasks cost n callbacks and one wake-up.
 *
 * They refuse what uco_join() refuses, before linking anything: a list
 * with the caller in it (-EDEADLK: it would wait for itself), and tasks
 * spawned on another core (-EXDEV: their join lists belong to that core's
 * loop, which may be touching them right now).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uco/combine.h>
#include <uco/time.h>

#include "alloc.h"
#include "cleanup.h"
#include "loop.h"
#include "task.h"
#include "wait.h"

/* uco_join()'s checks, for each of n tasks: 0, -EINVAL (a NULL task),
 * -EDEADLK (self is one of them) or -EXDEV (spawned on another core than
 * l, the caller's). */
static int check_tasks(uco_task *const *tasks, size_t n,
		       const struct uco_task *self, const struct uco__loop *l)
{
	if (n && !tasks)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!tasks[i])
			return -EINVAL;
		if (tasks[i] == self)
			return -EDEADLK;
		if (tasks[i]->home != l)
			return -EXDEV;
	}
	return 0;
}

/* Wait until t has finished: 0, or -ECANCELED / -ETIMEDOUT. */
static void unlink_one(void *ctx)
{
	uco__list_del(&((struct uco__waiter *)ctx)->node);
}

static int wait_finished(struct uco_task *t)
{
	struct uco__waiter w = { .task = uco__self() };

	if (t->finished)
		return 0;
	uco__list_add_tail(&t->joiners.head, &w.node);
	return uco__block(unlink_one, &w, "gather");
}

/* Wait for every task, shielded and without deadlines (clean-up). */
static void wait_all_shielded(uco_task *const *tasks, size_t n)
{
	struct uco__cleanup c;

	uco__cleanup_begin(&c);
	for (size_t i = 0; i < n; i++)
		while (!tasks[i]->finished && wait_finished(tasks[i]) < 0)
			;
	uco__cleanup_end(&c);
}

UCO_API int uco_gather(uco_task *const *tasks, size_t n, void **results,
		       int *errors)
{
	struct uco_task *self = uco__self();
	int r = 0, failed = 0;

	if (!self)
		return -EPERM;
	r = check_tasks(tasks, n, self, self->loop);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++)
		r = wait_finished(tasks[i]);
	if (r < 0) {
		/* asyncio: cancelling gather() cancels its children. */
		for (size_t i = 0; i < n; i++)
			uco_cancel(tasks[i]);
		wait_all_shielded(tasks, n);
	}
	for (size_t i = 0; i < n; i++) {
		void *res = NULL;
		int e = uco_task_outcome(tasks[i], results ? &res : NULL);

		if (results)
			results[i] = e ? NULL : res;
		if (errors)
			errors[i] = e;
		if (e)
			failed++;
	}
	return r < 0 ? r : failed;
}

/* ---- wait -------------------------------------------------------------- */

struct wait_state {
	struct uco_task *self;
	uco_wait_mode mode;
	size_t pending;   /* tasks not yet finished */
	bool woken;
};

struct wait_link {
	struct uco__waiter w;
	struct wait_state *st;
	struct uco_task *t;
};

static bool satisfied(uco_wait_mode mode, size_t pending, size_t n,
		      bool error_seen)
{
	switch (mode) {
	case UCO_FIRST_COMPLETED:
		return pending < n;
	case UCO_FIRST_ERROR:
		return pending == 0 || error_seen;
	default:
		return pending == 0;
	}
}

static void wait_notify(struct uco__waiter *w, int res)
{
	struct wait_link *k = (struct wait_link *)w;
	struct wait_state *st = k->st;
	bool err = k->t->error != 0;

	(void)res;
	st->pending--;
	if (st->woken)
		return;
	if (st->mode == UCO_FIRST_COMPLETED ||
	    (st->mode == UCO_FIRST_ERROR && err) || st->pending == 0) {
		st->woken = true;
		uco__wake(st->self, 0);
	}
}

struct wait_links {
	struct wait_link *links;
	size_t n;
};

static void unlink_all(void *ctx)
{
	struct wait_links *wl = ctx;

	for (size_t i = 0; i < wl->n; i++)
		uco__list_del(&wl->links[i].w.node);
}

UCO_API int uco_wait(uco_task *const *tasks, size_t n, uco_wait_mode mode,
		     uint64_t timeout_ns)
{
	struct wait_state st = { .self = uco__self(), .mode = mode };
	struct wait_links wl = { NULL, 0 };
	size_t done = 0;
	bool error_seen = false;
	int scope = -1, r = 0;

	if (!st.self)
		return -EPERM;
	if (mode != UCO_ALL_COMPLETED && mode != UCO_FIRST_COMPLETED &&
	    mode != UCO_FIRST_ERROR)
		return -EINVAL;
	r = check_tasks(tasks, n, st.self, st.self->loop);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (tasks[i]->finished) {
			done++;
			error_seen |= tasks[i]->error != 0;
		}
	}
	if (n == 0 || satisfied(mode, n - done, n, error_seen))
		return (int)done;
	if (timeout_ns != UINT64_MAX) {
		/* Opened before anything is linked: with every scope slot
		 * taken the timeout could not be honoured, so refuse, as
		 * uco_wait_for() does, rather than wait without it. */
		scope = uco_timeout_begin(timeout_ns);
		if (scope < 0)
			return scope;
	}
	st.pending = n - done;
	wl.links = uco__zalloc((n - done) * sizeof(*wl.links));
	if (!wl.links) {
		if (scope >= 0)
			uco_timeout_end(scope);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct wait_link *k;

		if (tasks[i]->finished)
			continue;
		k = &wl.links[wl.n++];
		k->w.task = st.self;
		k->w.notify = wait_notify;
		k->st = &st;
		k->t = tasks[i];
		uco__list_add_tail(&tasks[i]->joiners.head, &k->w.node);
	}
	r = uco__block(unlink_all, &wl, "wait");
	unlink_all(&wl);
	if (scope >= 0 && uco_timeout_end(scope) == -ETIMEDOUT &&
	    r == -ETIMEDOUT && uco_now() < uco__task_deadline(st.self))
		r = 0; /* our own timeout: not an error, the count tells */
	uco__free(wl.links, (n - done) * sizeof(*wl.links));
	if (r < 0)
		return r;
	done = 0;
	for (size_t i = 0; i < n; i++)
		done += tasks[i]->finished;
	return (int)done;
}

/* ---- as_completed ------------------------------------------------------ */

struct ac_link {
	struct uco__waiter w;
	struct uco_as_completed *it;
	struct uco_task *t;
	struct ac_link *next_done;
};

struct uco_as_completed {
	struct ac_link *links;
	size_t n;
	size_t handed;                 /* tasks returned so far */
	struct ac_link *done_head;     /* finished, not yet handed back */
	struct ac_link *done_tail;
	struct uco_task *waiter;       /* task blocked in next(), if any */
	struct uco_task *inside;       /* ...from blocking until it has run
	                                  again (woken, not yet resumed) */
	struct uco__loop *loop;        /* the core of the tasks */
	bool freed;                    /* freed while a task was inside */
	size_t last_index;             /* of the task _next() handed back */
};

static void ac_push(struct uco_as_completed *it, struct ac_link *k)
{
	k->next_done = NULL;
	if (it->done_tail)
		it->done_tail->next_done = k;
	else
		it->done_head = k;
	it->done_tail = k;
}

static void ac_notify(struct uco__waiter *w, int res)
{
	struct ac_link *k = (struct ac_link *)w;
	struct uco_as_completed *it = k->it;

	(void)res;
	ac_push(it, k);
	if (it->waiter) {
		struct uco_task *t = it->waiter;
		it->waiter = NULL;
		uco__wake(t, 0);
	}
}

UCO_API int uco_as_completed_create(uco_as_completed **out,
				    uco_task *const *tasks, size_t n)
{
	struct uco__loop *l = uco__tls_loop;
	uco_as_completed *it;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!l)
		return -EPERM;
	r = check_tasks(tasks, n, l->current, l);
	if (r < 0)
		return r;
	it = uco__zalloc(sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->links = uco__zalloc((n ? n : 1) * sizeof(*it->links));
	if (!it->links) {
		uco__free(it, sizeof(*it));
		return -ENOMEM;
	}
	it->n = n;
	it->loop = l;
	for (size_t i = 0; i < n; i++) {
		struct ac_link *k = &it->links[i];

		k->it = it;
		k->t = tasks[i];
		k->w.notify = ac_notify;
		uco__node_init(&k->w.node);
		if (tasks[i]->finished)
			ac_push(it, k);
		else
			uco__list_add_tail(&tasks[i]->joiners.head, &k->w.node);
	}
	*out = it;
	return 0;
}

static void ac_unwait(void *ctx)
{
	((uco_as_completed *)ctx)->waiter = NULL;
}

/* Is self, unfinished, one of the tasks it still has to hand back?  Its
 * link is then on self's own join list (short: scanned, not the array). */
static bool ac_waits_for(const uco_as_completed *it, struct uco_task *self)
{
	struct uco__node *n;

	for (n = self->joiners.head.next; n != &self->joiners.head;
	     n = n->next) {
		struct uco__waiter *w =
			uco__container_of(n, struct uco__waiter, node);
		if (w->notify == ac_notify && ((struct ac_link *)w)->it == it)
			return true;
	}
	return false;
}

static void ac_destroy(uco_as_completed *it)
{
	for (size_t i = 0; i < it->n; i++)
		uco__list_del(&it->links[i].w.node);
	uco__free(it->links, (it->n ? it->n : 1) * sizeof(*it->links));
	uco__free(it, sizeof(*it));
}

UCO_API int uco_as_completed_next(uco_as_completed *it, uco_task **t)
{
	struct uco_task *self = uco__self();
	struct ac_link *k;

	if (!it || !t)
		return -EINVAL;
	*t = NULL;
	if (!self)
		return -EPERM;
	if (self->loop != it->loop)
		return -EXDEV;
	if (it->handed == it->n)
		return 0;
	while (!it->done_head) {
		int r;

		/* One task at a time may wait; a second would steal the
		 * first's wake-up and leave it waiting for good. */
		if (it->inside)
			return -EBUSY;
		/* Only the caller itself is left: it would wait for itself. */
		if (it->n - it->handed == 1 && ac_waits_for(it, self))
			return -EDEADLK;
		it->waiter = self;
		it->inside = self;
		r = uco__block(ac_unwait, it, "as_completed");
		it->inside = NULL;
		if (it->freed) {
			/* uco_as_completed_free() ran while we waited: the
			 * record was left to us. */
			ac_destroy(it);
			return -EBADF;
		}
		if (r < 0)
			return r;
	}
	k = it->done_head;
	it->done_head = k->next_done;
	if (!it->done_head)
		it->done_tail = NULL;
	it->handed++;
	it->last_index = (size_t)(k - it->links);
	*t = k->t;
	return 1;
}

UCO_API void uco_as_completed_free(uco_as_completed *it)
{
	struct uco_task *w;

	if (!it)
		return;
	if (uco__tls_loop != it->loop) {
		/* The links sit on the join lists of that core's tasks. */
		fprintf(stderr, "uco: uco_as_completed_free() called off the "
				"tasks' core\n");
		abort();
	}
	if (!it->inside) {
		ac_destroy(it);
		return;
	}
	/* A task is in next(), blocked or woken but not yet run again: it
	 * returns -EBADF and frees the record when it runs, so nothing is
	 * freed under it. */
	for (size_t i = 0; i < it->n; i++)
		uco__list_del(&it->links[i].w.node);
	it->freed = true;
	w = it->waiter;
	if (w) {
		it->waiter = NULL;
		uco__wake(w, -EBADF);
	}
}

/* ---- the shorter forms (issue 14) ---------------------------------------- */

UCO_API int uco_gather_all(uco_task *const *tasks, size_t n, void **results,
			   int *errors)
{
	int r = uco_gather(tasks, n, results, errors);

	if (r <= 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (tasks[i]->error)
			return tasks[i]->error;
	return -EIO; /* not reached: r counts failed tasks */
}

UCO_API int uco_gather_fn(uco_fn fn, void *const *args, size_t n,
			  void **results, int *errors)
{
	uco_task *one, **tasks;
	size_t started = 0;
	int r = 0;

	if (!uco__self())
		return -EPERM;
	if (!fn)
		return -EINVAL;
	tasks = n > 1 ? uco__alloc(n * sizeof(*tasks)) : &one;
	if (!tasks)
		return -ENOMEM;
	for (; started < n; started++) {
		void *arg = args ? args[started] : (void *)(uintptr_t)started;

		r = uco_spawn(&tasks[started], fn, arg, NULL);
		if (r < 0)
			break;
	}
	if (r < 0) {
		/* Unwind: the ones started go, and nothing is reported. */
		for (size_t i = 0; i < started; i++)
			uco_cancel(tasks[i]);
		wait_all_shielded(tasks, started);
		for (size_t i = 0; i < n; i++) {
			if (results)
				results[i] = NULL;
			if (errors)
				errors[i] = r;
		}
	} else {
		r = uco_gather_all(tasks, n, results, errors);
	}
	for (size_t i = 0; i < started; i++)
		uco_task_release(tasks[i]);
	if (tasks != &one)
		uco__free(tasks, n * sizeof(*tasks));
	return r;
}

UCO_API int uco_wait_split(uco_task *const *tasks, size_t n,
			   uco_wait_mode mode, uint64_t timeout_ns,
			   uco_task **done, uco_task **pending,
			   size_t *npending)
{
	int r = uco_wait(tasks, n, mode, timeout_ns);
	size_t d = 0, p = 0;

	if (npending)
		*npending = 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (tasks[i]->finished) {
			if (done)
				done[d] = tasks[i];
			d++;
		} else {
			if (pending)
				pending[p] = tasks[i];
			p++;
		}
	}
	if (npending)
		*npending = p;
	return (int)d;
}

UCO_API int uco_as_completed_next_index(uco_as_completed *it, uco_task **t,
					size_t *index)
{
	uco_task *got;
	int r = uco_as_completed_next(it, &got);

	if (t)
		*t = got;
	if (r == 1 && index)
		*index = it->last_index;
	return r;
}
