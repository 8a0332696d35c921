/* Stackless callbacks: call_soon, call_later, call_at (uco/callback.h). */
#include "callback.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <uco/time.h>

#include "alloc.h"
#include "loop.h"

static void cb_unref(struct uco_callback *cb)
{
	if (--cb->refs == 0)
		uco__free(cb, sizeof(*cb));
}

/* A new pending record on l, with a reference for *out if asked. */
static struct uco_callback *cb_new(struct uco__loop *l, uco_callback_fn fn,
				   void *arg, uco_callback **out)
{
	struct uco_callback *cb = uco__alloc(sizeof(*cb));

	if (!cb)
		return NULL;
	cb->timer = (struct uco__timer){ .idx = 0,
					 .kind = UCO__TIMER_CALLBACK };
	cb->fn = fn;
	cb->arg = arg;
	cb->core = l->core;
	cb->next = NULL;
	cb->state = UCO__CB_PENDING;
	cb->refs = out ? 2 : 1;
	if (out)
		*out = cb;
	return cb;
}

UCO_API int uco_call_soon(uco_callback_fn fn, void *arg, uco_callback **out)
{
	struct uco__loop *l = uco__tls_loop;
	struct uco_callback *cb;

	if (out)
		*out = NULL;
	if (!l)
		return -EPERM;
	if (!fn)
		return -EINVAL;
	cb = cb_new(l, fn, arg, out);
	if (!cb)
		return -ENOMEM;
	cb->soon = true;
	if (l->cbs.soon_tail)
		l->cbs.soon_tail->next = cb;
	else
		l->cbs.soon_head = cb;
	l->cbs.soon_tail = cb;
	return 0;
}

UCO_API int uco_call_at(uint64_t deadline, uco_callback_fn fn, void *arg,
			uco_callback **out)
{
	struct uco__loop *l = uco__tls_loop;
	struct uco_callback *cb;

	if (out)
		*out = NULL;
	if (!l)
		return -EPERM;
	if (!fn)
		return -EINVAL;
	cb = cb_new(l, fn, arg, out);
	if (!cb)
		return -ENOMEM;
	cb->soon = false;
	/* Never in the batch that is running: a callback that
	 * re-arms itself for a past deadline runs again at the next look,
	 * not for ever in this one.  Later than asked is allowed; earlier
	 * never happens. */
	if (deadline <= l->cbs.batch_now)
		deadline = l->cbs.batch_now + 1;
	if (uco__timer_arm(&l->timers, &cb->timer, deadline) < 0) {
		if (out)
			*out = NULL;
		uco__free(cb, sizeof(*cb));
		return -ENOMEM;
	}
	return 0;
}

UCO_API int uco_call_later(uint64_t ns, uco_callback_fn fn, void *arg,
			   uco_callback **out)
{
	uint64_t now = uco_now();

	/* Past the end of time is never (as uco_sleep), not a wrap-around. */
	return uco_call_at(ns > UINT64_MAX - now ? UINT64_MAX : now + ns, fn,
			   arg, out);
}

/* Run cb, pending and off the heap or the soon list, and drop its pending
 * reference. */
static void cb_run(struct uco_callback *cb)
{
	cb->state = UCO__CB_RUNNING;
	cb->fn(cb->arg);
	cb->state = UCO__CB_DONE;
	cb_unref(cb);
}

void uco__callbacks_run_soon(struct uco__loop *l)
{
	struct uco_callback *cb = l->cbs.soon_head, *next;

	/* Detached first: what these arm waits for the next pass. */
	l->cbs.soon_head = l->cbs.soon_tail = NULL;
	for (; cb; cb = next) {
		next = cb->next;
		if (cb->state == UCO__CB_PENDING)
			cb_run(cb);
		else
			cb_unref(cb); /* cancelled while queued */
	}
}

void uco__callback_fire(struct uco__loop *l, struct uco__timer *tm)
{
	(void)l;
	cb_run(uco__container_of(tm, struct uco_callback, timer));
}

/* The soon list also holds cancelled records until its next run (they
 * are skipped there), so a cancel is O(1) without a back link. */
UCO_API int uco_callback_cancel(uco_callback *cb)
{
	struct uco__loop *l = uco__tls_loop;

	if (!l)
		return -EPERM;
	if (cb->core != l->core)
		return -EXDEV;
	if (cb->state != UCO__CB_PENDING)
		return 0;
	cb->state = UCO__CB_CANCELLED;
	if (!cb->soon) {
		uco__timer_disarm(&l->timers, &cb->timer);
		cb_unref(cb);
	}
	return 1;
}

UCO_API bool uco_callback_pending(const uco_callback *cb)
{
	return cb->state == UCO__CB_PENDING;
}

UCO_API void uco_callback_release(uco_callback *cb)
{
	struct uco__loop *l = uco__tls_loop;

	if (!cb)
		return;
	if (l && cb->core != l->core) {
		fprintf(stderr,
			"uco: uco_callback_release on core %u for a callback "
			"armed on core %u\n",
			l->core, (unsigned)cb->core);
		abort();
	}
	cb_unref(cb);
}

void uco__callbacks_drop(struct uco__loop *l)
{
	struct uco__timer *tm;

	/* Soon callbacks: each list entry holds its pending reference. */
	for (struct uco_callback *cb = l->cbs.soon_head, *next; cb; cb = next) {
		next = cb->next;
		cb->state = UCO__CB_CANCELLED;
		cb_unref(cb);
	}
	l->cbs.soon_head = l->cbs.soon_tail = NULL;
	/* Timed ones: every heap entry, whatever its deadline.  No task is
	 * left, so no task timer either; skip one all the same. */
	while ((tm = uco__timers_expired(&l->timers, UINT64_MAX))) {
		struct uco_callback *cb;

		if (tm->kind != UCO__TIMER_CALLBACK)
			continue;
		cb = uco__container_of(tm, struct uco_callback, timer);
		cb->state = UCO__CB_CANCELLED;
		cb_unref(cb);
	}
}
