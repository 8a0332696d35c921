/*
 * Tasks: spawning, running to the end, joining, cancelling, yielding.
 */
#include "probes.h"
#include "task.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uco/time.h>

#include "alloc.h"
#include "debug.h"
#include "group_internal.h"
#include "local.h"
#include "loop.h"
#include "op.h"
#include "stack.h"
#include "timer.h"
#include "wait.h"

#define MAX_STACK (1ull << 30)

/* The rare part of uco__enter_check (t->slow is set). */
__attribute__((cold, noinline)) int uco__enter_check_slow(struct uco_task *t)
{
	if (t->cancel_req && !t->shield)
		return -ECANCELED;
	if (t->ndeadlines != 0 && uco_now() >= uco__task_deadline(t))
		return uco__timed_out(t);
	return 0;
}

/* The rare part of uco__enter (t->slow is set). */
__attribute__((cold, noinline)) int uco__enter_slow(struct uco_task *t)
{
	int r = uco__enter_check_slow(t);

	return r < 0 ? uco__refuse(t, r) : 0;
}

__attribute__((cold, noinline)) int uco__refuse(struct uco_task *t, int err)
{
	/* t->refused is set to 0 when cancel_req is set (so spawning pays
	 * nothing for it): only calls refused for a cancel are counted. */
	if (__builtin_expect(t->loop->debug, 0) && err == -ECANCELED &&
	    ++t->refused == UCO_REFUSED_WARN)
		uco__debug_refused(t->loop, t);
	/* A yield: behind every task that is ready now; the handoff budget
	 * sends the loop through its scheduler (ring, messages, timers,
	 * signals) at least every UCO_HANDOFF_BUDGET of these. */
	uco__make_ready(t, 0);
	uco__suspend(t);
	return err;
}

void uco__interrupt(struct uco_task *t, int reason)
{
	switch (t->wait_kind) {
	case UCO_WAIT_OP:
		/* The op ends early in the kernel; its CQEs resume the task. */
		uco__op_cancel(t->wait_op);
		break;
	case UCO_WAIT_OBJECT:
		t->wait_interrupt(t->wait_ctx);
		uco__make_ready(t, reason);
		break;
	default:
		break;
	}
}

void uco__cancel_local(struct uco_task *t)
{
	if (t->state == UCO_TASK_DONE || t->exiting)
		return;
	if (!t->cancel_req)
		t->refused = 0; /* counted from the cancel (not at spawn) */
	t->cancel_req = true;
	if (!t->shield && t->state == UCO_TASK_WAITING)
		uco__interrupt(t, -ECANCELED);
}

void uco__cancel_all(struct uco__loop *l)
{
	struct uco__node *n, *tmp;

	uco__list_for_each_safe(n, tmp, &l->tasks) {
		struct uco_task *t = uco__container_of(n, struct uco_task, all_node);
		if (t != l->current)
			uco__cancel_local(t);
	}
}

/* ---- spawning ---------------------------------------------------------- */

static void task_entry(void *arg);

static int task_new(struct uco__loop *home, struct uco__loop *runner,
		    uco_fn fn, void *arg, const uco_spawn_opts *opts,
		    struct uco_task **out)
{
	struct uco__runtime *rt = home->rt;
	size_t size = opts && opts->stack_size ? opts->stack_size
					       : rt->cfg.stack_size;
	struct uco__stack *st;
	struct uco_task *t, *parent = home->current;

	if (!fn || size > MAX_STACK)
		return -EINVAL;
	st = uco__stack_get(&home->stacks, size);
	if (!st)
		return -ENOMEM;
	t = (struct uco_task *)(((uintptr_t)uco__stack_top(st) - sizeof(*t)) &
				~(uintptr_t)63);
	/* Field by field, not memset: most of the record (the deadline
	 * stack, the wait fields, the message) is written before it is read,
	 * and spawning is a hot path. */
	t->next_ready = NULL;
	t->result = NULL;
	t->error = 0;
	t->wake_res = 0;
	t->wait_kind = UCO_WAIT_NONE;
	t->finished = false;
	t->cancel_req = false;
	t->exiting = false;
	t->ndeadlines = 0;
	t->deadlines_cut = 0;
	t->shield = 0;
	t->timer = (struct uco__timer){ .idx = 0, .kind = UCO__TIMER_TASK };
	t->wait_what = NULL;
	t->locals = NULL;
	t->group = NULL;
	t->name[0] = '\0';
	if (opts && opts->name)
		uco__task_name_copy(t->name, sizeof(t->name), opts->name);
	t->free_result = opts ? opts->free_result : NULL;
	t->errmsg = NULL;
	t->result_taken = false;
	t->loop = runner;
	t->home = home;
	t->stack = st;
	t->canary = st->canary;
	t->canaried = st->canary != NULL;
	t->debug = runner->debug;
	t->fn = fn;
	t->arg = arg;
	t->refs = 1;
	t->id = home->next_id++ * rt->nloops + home->core + 1;
	t->state = UCO_TASK_READY;
	uco__node_init(&t->all_node);
	uco__waitq_init(&t->joiners);
	uco__node_init(&t->group_node);
	if (parent)
		t->locals = uco__local_inherit(parent->locals);
	/* A task born during shutdown is cancelled at birth. */
	if (atomic_load_explicit(&rt->stopping, memory_order_relaxed)) {
		t->cancel_req = true;
		t->refused = 0;
	}
	uco__ctx_init(&t->ctx, st->lo, (size_t)((char *)t - (char *)st->lo),
		      task_entry, t);
	UCO_PROBE_T1(spawn, t, runner->core);
	*out = t;
	return 0;
}

/* Start t on its loop (the calling one). */
static void task_start(struct uco__loop *l, struct uco_task *t)
{
	uco__list_add_tail(&l->tasks, &t->all_node);
	l->ntasks++;
	uco__ready_push(l, t);
}

static void start_remote(struct uco__loop *l, struct uco__msg *m)
{
	struct uco_task *t = uco__container_of(m, struct uco_task, msg);

	if (atomic_load_explicit(&l->rt->stopping, memory_order_relaxed) &&
	    !t->cancel_req) {
		t->cancel_req = true;
		t->refused = 0;
	}
	task_start(l, t);
}

static int spawn_common(struct uco__loop *runner, uco_task **out, uco_fn fn,
			void *arg, const uco_spawn_opts *opts)
{
	struct uco__loop *l = uco__tls_loop;
	struct uco_task *t;
	int r;

	if (!l)
		return -EPERM;
	r = task_new(l, runner, fn, arg, opts, &t);
	if (r < 0)
		return r;
	uco__live_add(l, 1);
	if (out) {
		t->refs++;
		*out = t;
	}
	if (runner == l) {
		task_start(l, t);
	} else {
		t->msg.fn = start_remote;
		uco__msg_send(runner, &t->msg);
	}
	return 0;
}

UCO_API int uco_spawn(uco_task **out, uco_fn fn, void *arg,
		      const uco_spawn_opts *opts)
{
	struct uco__loop *l = uco__tls_loop;

	if (out)
		*out = NULL;
	if (!l)
		return -EPERM;
	return spawn_common(l, out, fn, arg, opts);
}

UCO_API int uco_spawn_on(unsigned core, uco_task **out, uco_fn fn, void *arg,
			 const uco_spawn_opts *opts)
{
	struct uco__loop *l = uco__tls_loop;

	if (out)
		*out = NULL;
	if (!l)
		return -EPERM;
	if (core >= l->rt->nloops)
		return -EINVAL;
	return spawn_common(&l->rt->loops[core], out, fn, arg, opts);
}

/* ---- finishing --------------------------------------------------------- */

/* The outcome is final: wake joiners and the group (on home). */
static void finish_at_home(struct uco_task *t)
{
	t->finished = true;
	uco__waitq_wake_all(&t->joiners, 0);
	if (t->group)
		uco__group_member_done(t->group, t);
}

static void done_remote(struct uco__loop *l, struct uco__msg *m)
{
	struct uco_task *t = uco__container_of(m, struct uco_task, msg);

	finish_at_home(t);
	uco__task_unref(t);
	uco__live_add(l, -1);
}

static void task_entry(void *arg)
{
	struct uco_task *t = arg;
	struct uco__loop *l = t->loop;
	void *r;

	uco__ctx_started(&t->ctx);
	UCO_PROBE_T(resume, t);
	r = t->fn(t->arg);
	UCO_PROBE_T1(exit, t, t->error);
	if (!t->error)
		t->result = r;
	t->state = UCO_TASK_DONE;
	t->exiting = true;
	t->ndeadlines = 0;
	uco__list_del(&t->all_node);
	l->ntasks--;
	if (t->home == l)
		finish_at_home(t);
	uco__leave(t);
}

/* Called by the scheduler after t switched away for the last time. */
void uco__task_exited(struct uco__loop *l, struct uco_task *t)
{
	if (t->home == l) {
		uco__task_unref(t);
		uco__live_add(l, -1);
	} else {
		t->msg.fn = done_remote;
		uco__msg_send(t->home, &t->msg);
	}
}

void uco__task_unref(struct uco_task *t)
{
	if (--t->refs > 0)
		return;
	uco__task_free_extras(t);
	uco__local_release(t->locals);
	t->locals = NULL;
	uco__stack_put(&t->home->stacks, t->stack);
}

UCO_API void uco_task_release(uco_task *t)
{
	if (t)
		uco__task_unref(t);
}

UCO_API void *uco_fail(int err)
{
	struct uco_task *t = uco__self();

	if (t)
		t->error = err < 0 ? err : -EINVAL;
	return NULL;
}

/* ---- joining ----------------------------------------------------------- */

static void unlink_waiter(void *ctx)
{
	uco__list_del(&((struct uco__waiter *)ctx)->node);
}

UCO_API int uco_task_outcome(const uco_task *t, void **result)
{
	if (!t->finished)
		return -EAGAIN;
	if (t->error)
		return t->error;
	if (result) {
		*result = t->result;
		((struct uco_task *)t)->result_taken = true;
	}
	return 0;
}

UCO_API int uco_join(uco_task *t, void **result)
{
	struct uco_task *self = uco__self();

	if (!self)
		return -EPERM;
	if (t == self)
		return -EDEADLK;
	if (t->home != self->loop)
		return -EXDEV;
	if (!t->finished) {
		struct uco__waiter w = { .task = self };
		int r;

		uco__list_add_tail(&t->joiners.head, &w.node);
		r = uco__block(unlink_waiter, &w, "join");
		if (r < 0)
			return r;
	}
	return uco_task_outcome(t, result);
}

/* ---- cancelling -------------------------------------------------------- */

struct remote_cancel {
	struct uco__msg msg;
	struct uco_task *task;
};

static void remote_cancel_done(struct uco__loop *l, struct uco__msg *m)
{
	struct remote_cancel *rc = (struct remote_cancel *)m;

	uco__task_unref(rc->task);
	uco__free(rc, sizeof(*rc));
	uco__live_add(l, -1);
}

static void remote_cancel_run(struct uco__loop *l, struct uco__msg *m)
{
	struct remote_cancel *rc = (struct remote_cancel *)m;

	uco__cancel_local(rc->task);
	/* Back home to drop the reference that kept the record alive. */
	rc->msg.fn = remote_cancel_done;
	uco__msg_send(rc->task->home, &rc->msg);
}

UCO_API int uco_cancel(uco_task *t)
{
	struct uco__loop *l = uco__tls_loop;

	if (!t || t->finished)
		return 1;
	if (!l)
		return -EPERM;
	if (t->home != l)
		return -EXDEV;
	if (t->loop == l) {
		uco__cancel_local(t);
	} else {
		struct remote_cancel *rc = uco__alloc(sizeof(*rc));

		if (!rc)
			return -ENOMEM;
		rc->task = t;
		rc->msg.fn = remote_cancel_run;
		t->refs++;
		uco__live_add(l, 1);
		uco__msg_send(t->loop, &rc->msg);
	}
	return 0;
}

UCO_API bool uco_cancelling(void)
{
	struct uco_task *t = uco__self();

	return t && t->cancel_req;
}

UCO_API void uco_shield_begin(void)
{
	struct uco_task *t = uco__self();

	if (t)
		t->shield++;
}

UCO_API void uco_shield_end(void)
{
	struct uco_task *t = uco__self();

	if (t && t->shield)
		t->shield--;
}

UCO_API int uco_yield(void)
{
	struct uco_task *t;
	int r = uco__enter(&t);

	if (r < 0)
		return r;
	uco__yield_now(t);
	return t->cancel_req && !t->shield ? -ECANCELED : 0;
}

/* ---- introspection ----------------------------------------------------- */

UCO_API uco_task *uco_current(void)
{
	return uco__self();
}

UCO_API uint64_t uco_task_id(const uco_task *t)
{
	return t->id;
}

UCO_API const char *uco_task_name(const uco_task *t)
{
	struct uco_task *m = (struct uco_task *)t;

	if (!m->name[0])
		snprintf(m->name, sizeof(m->name), "task-%llu",
			 (unsigned long long)m->id);
	return m->name;
}

UCO_API uco_task_state uco_task_get_state(const uco_task *t)
{
	if (t->finished)
		return UCO_TASK_DONE;
	if (t == uco__self())
		return UCO_TASK_RUNNING;
	return t->state == UCO_TASK_DONE ? UCO_TASK_WAITING
					 : (uco_task_state)t->state;
}

UCO_API bool uco_task_done(const uco_task *t)
{
	return t->finished;
}

UCO_API size_t uco_tasks_foreach(void (*fn)(uco_task *t, void *ctx), void *ctx)
{
	struct uco__loop *l = uco__tls_loop;
	struct uco__node *n, *tmp;
	size_t count = 0;

	if (!l)
		return 0;
	uco__list_for_each_safe(n, tmp, &l->tasks) {
		fn(uco__container_of(n, struct uco_task, all_node), ctx);
		count++;
	}
	return count;
}

static const char *state_name(const struct uco_task *t)
{
	static const char *const names[] = { "ready", "running", "waiting",
					     "done" };
	return names[t->state & 3];
}

void uco__task_describe(const struct uco_task *t, char *buf, size_t len)
{
	const char *what = t->state != UCO_TASK_WAITING ? "-"
			   : t->wait_what		    ? t->wait_what
			   : t->wait_kind == UCO_WAIT_OP    ? "io"
							    : "-";

	snprintf(buf, len, "core %u  id %-8llu  %-31s  %-8s  %s%s\n",
		 t->loop->core, (unsigned long long)t->id,
		 uco_task_name(t), state_name(t), what,
		 t->cancel_req ? "  (cancelling)" : "");
}

UCO_API void uco_tasks_dump(int fd)
{
	struct uco__loop *l = uco__tls_loop;
	struct uco__node *n;
	char line[160];

	if (!l)
		return;
	for (n = l->tasks.next; n != &l->tasks; n = n->next) {
		struct uco_task *t =
			uco__container_of(n, struct uco_task, all_node);
		uco__task_describe(t, line, sizeof(line));
		if (write(fd, line, strlen(line)) < 0)
			return;
	}
}
