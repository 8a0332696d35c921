/*
 * Task groups (asyncio.TaskGroup).  The group holds one reference to each
 * member until it finishes; the first real failure cancels the rest.
 */
#include <errno.h>

#include <uco/group.h>

#include "alloc.h"
#include "cleanup.h"
#include "group_internal.h"
#include "loop.h"
#include "task.h"
#include "wait.h"

struct uco_group {
	struct uco__node members;  /* live members, via task->group_node */
	size_t nlive;
	int error;                 /* the first member failure */
	bool cancelled;            /* cancel the members spawned from now on */
	bool freed;                /* uco_group_free() called while members lived */
	unsigned nwaiting;         /* tasks inside uco_group_wait() */
	struct uco__waitq waiters; /* tasks in uco_group_wait() */
	/* uco_group_create_set(): failures do not cancel the others, and
	 * every member's handle is kept here, in spawn order, until free. */
	bool set;
	uco_task **kept;
	size_t nkept, capkept;
};

UCO_API int uco_group_create(uco_group **out)
{
	uco_group *g;

	*out = NULL;
	if (!uco__tls_loop)
		return -EPERM;
	g = uco__zalloc(sizeof(*g));
	if (!g)
		return -ENOMEM;
	uco__node_init(&g->members);
	uco__waitq_init(&g->waiters);
	*out = g;
	return 0;
}

UCO_API void uco_group_cancel(uco_group *g)
{
	struct uco__node *n, *tmp;

	g->cancelled = true;
	uco__list_for_each_safe(n, tmp, &g->members)
		uco_cancel(uco__container_of(n, struct uco_task, group_node));
}

UCO_API int uco_group_spawn(uco_group *g, uco_task **out, uco_fn fn, void *arg,
			    const uco_spawn_opts *opts)
{
	uco_task *t;
	int r;

	if (out)
		*out = NULL;
	if (g->error || g->cancelled || g->freed)
		return -ECANCELED;
	if (g->set && g->nkept == g->capkept) {
		size_t ncap = g->capkept ? 2 * g->capkept : 8;
		uco_task **k = uco__alloc(ncap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		for (size_t i = 0; i < g->nkept; i++)
			k[i] = g->kept[i];
		uco__free(g->kept, g->capkept * sizeof(*k));
		g->kept = k;
		g->capkept = ncap;
	}
	r = uco_spawn(&t, fn, arg, opts);
	if (r < 0)
		return r;
	if (g->set) {
		t->refs++;
		g->kept[g->nkept++] = t;
	}
	/* The reference from uco_spawn() is the group's. */
	t->group = g;
	uco__list_add_tail(&g->members, &t->group_node);
	g->nlive++;
	if (out) {
		t->refs++;
		*out = t;
	}
	return 0;
}

void uco__group_member_done(uco_group *g, struct uco_task *t)
{
	uco__list_del(&t->group_node);
	t->group = NULL;
	g->nlive--;
	/* A member that was cancelled is not a failure of its own; in a
	 * set, no failure cancels the others. */
	if (t->error && t->error != -ECANCELED && !g->error && !g->set) {
		g->error = t->error;
		uco_group_cancel(g);
	}
	uco__task_unref(t);
	if (g->nlive == 0) {
		uco__waitq_wake_all(&g->waiters, 0);
		/* A woken waiter has not run yet and will read g: it frees. */
		if (g->freed && g->nwaiting == 0)
			uco__free(g, sizeof(*g));
	}
}

static int group_wait(uco_group *g)
{
	int r = 0;

	while (g->nlive > 0) {
		r = uco__waitq_wait(&g->waiters, "group");
		if (r < 0)
			break;
	}
	if (r < 0) {
		/* Cancelled or timed out: the members go too, and we wait for
		 * them, shielded and without deadlines, so none outlives the
		 * scope that started it. */
		struct uco__cleanup c;

		uco_group_cancel(g);
		uco__cleanup_begin(&c);
		while (g->nlive > 0)
			uco__waitq_wait(&g->waiters, "group (cancelling)");
		uco__cleanup_end(&c);
		return r;
	}
	return g->error;
}

UCO_API int uco_group_wait(uco_group *g)
{
	struct uco_task *self = uco__self();
	int r;

	if (!self)
		return -EPERM;
	g->nwaiting++;
	r = group_wait(g);
	/* uco_group_free() may have been called while we waited; the last
	 * one out frees the group. */
	if (--g->nwaiting == 0 && g->freed && g->nlive == 0)
		uco__free(g, sizeof(*g));
	return r;
}

UCO_API void uco_group_free(uco_group *g)
{
	if (!g)
		return;
	if (g->kept) {
		for (size_t i = 0; i < g->nkept; i++)
			uco_task_release(g->kept[i]);
		uco__free(g->kept, g->capkept * sizeof(*g->kept));
		g->kept = NULL;
		g->nkept = g->capkept = 0;
	}
	if (g->nlive == 0 && g->nwaiting == 0) {
		uco__free(g, sizeof(*g));
		return;
	}
	uco_group_cancel(g);
	g->freed = true;
}

/* ---- task sets (issue 14) -------------------------------------------------- */

UCO_API int uco_group_create_set(uco_group **out)
{
	int r = uco_group_create(out);

	if (r == 0)
		(*out)->set = true;
	return r;
}

UCO_API int uco_group_wait_results(uco_group *g, void **results, int *errors)
{
	int r, first = 0;

	if (!g || !g->set)
		return -EINVAL;
	r = uco_group_wait(g);
	for (size_t i = 0; i < g->nkept; i++) {
		void *res = NULL;
		int e = uco_task_outcome(g->kept[i], results ? &res : NULL);

		if (e == -EAGAIN)
			e = r < 0 ? r : -EAGAIN; /* not reached: all joined */
		if (results)
			results[i] = e ? NULL : res;
		if (errors)
			errors[i] = e;
		if (e && !first)
			first = e;
	}
	return r < 0 ? r : first;
}

UCO_API size_t uco_group_size(const uco_group *g)
{
	return g && g->set ? g->nkept : 0;
}

UCO_API uco_task *uco_group_task(const uco_group *g, size_t i)
{
	return g && g->set && i < g->nkept ? g->kept[i] : NULL;
}
