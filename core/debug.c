/*
 * Stack-overflow reports and debug mode.
 */
#include "debug.h"

#include <errno.h>
#include <signal.h>
#include <ucontext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uco/time.h>

#include "alloc.h"
#include "backtrace.h"
#include "loop.h"
#include "stats.h"
#include "task.h"

#define SLOW_TASK_NS (50ull * 1000000ull)

/* Async-signal-safe: only write(2) and stack buffers. */
static size_t fmt_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static size_t append(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		buf[at++] = *s++;
	return at;
}

__attribute__((noreturn)) void uco__stack_overflow(const struct uco_task *t)
{
	char msg[256], num[24], dflt[32];
	size_t n = 0;
	const char *name = t->name;

	/* The default name "task-<id>" is made on first use by
	 * uco_task_name() (snprintf: not async-signal-safe); build it here. */
	if (!name[0]) {
		size_t k = append(dflt, 0, sizeof(dflt), "task-");
		k += fmt_u64(dflt + k, t->id);
		dflt[k] = '\0';
		name = dflt;
	}

	n = append(msg, n, sizeof(msg), "uco: stack overflow in task '");
	n = append(msg, n, sizeof(msg), name);
	n = append(msg, n, sizeof(msg), "' (id ");
	num[fmt_u64(num, t->id)] = '\0';
	n = append(msg, n, sizeof(msg), num);
	n = append(msg, n, sizeof(msg), ", stack ");
	num[fmt_u64(num, t->stack->size)] = '\0';
	n = append(msg, n, sizeof(msg), num);
	n = append(msg, n, sizeof(msg),
		   " bytes); spawn it with a larger uco_spawn_opts.stack_size\n");
	if (write(STDERR_FILENO, msg, n) < 0)
		abort();
	abort();
}

/* The stack pointer at the fault (0 where the architecture is unknown). */
static uintptr_t interrupted_sp(void *ucv)
{
	ucontext_t *uc = ucv;

#if defined(__x86_64__)
	return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	return (uintptr_t)uc->uc_mcontext.sp;
#else
	(void)uc;
	return UINTPTR_MAX;
#endif
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct uco__loop *l = uco__tls_loop;
	struct uco_task *t = l ? l->current : NULL;
	struct sigaction dfl;

	if (t && uco__stack_guard_hit(t->stack, si->si_addr, l->rt->page))
		uco__stack_overflow(t);
	/* A frame larger than the guard page jumps right over it: then the
	 * stack pointer the fault interrupted is below the stack itself. */
	if (t && interrupted_sp(uc) < (uintptr_t)t->stack->lo &&
	    interrupted_sp(uc) + (64u << 20) > (uintptr_t)t->stack->lo)
		uco__stack_overflow(t);
	/* Not a guard page of ours: fall back to the action that was there
	 * before uco_run (or the default) and let the fault happen again. */
	if (l) {
		sigaction(sig, sig == SIGSEGV ? &l->rt->old_segv : &l->rt->old_bus,
			  NULL);
	} else {
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, NULL);
	}
}

void uco__fault_handlers_install(struct uco__runtime *rt)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &rt->old_segv);
	sigaction(SIGBUS, &sa, &rt->old_bus);
}

void uco__fault_handlers_remove(struct uco__runtime *rt)
{
	sigaction(SIGSEGV, &rt->old_segv, NULL);
	sigaction(SIGBUS, &rt->old_bus, NULL);
}

/* ---- debug mode -------------------------------------------------------- */

void uco__debug_ran(struct uco__loop *l, struct uco_task *t)
{
	uint64_t ran = uco_now() - t->run_start;

	if (ran > l->stat_max_run_ns)
		l->stat_max_run_ns = ran;
	if (ran <= SLOW_TASK_NS)
		return;
	fprintf(stderr,
		"uco: debug: task '%s' (id %llu, core %u) ran %.1f ms "
		"without suspending%s\n",
		uco_task_name(t), (unsigned long long)t->id, l->core,
		(double)ran / 1e6,
		l->current == t ? "; it suspends here:" : " and returned");
	/* Still on its own stack (it is suspending, not finished): where it
	 * stopped running, which is below the code that ran so long. */
	if (l->current == t)
		uco__backtrace_here(stderr, "    ");
}

void uco__debug_refused(struct uco__loop *l, struct uco_task *t)
{
	fprintf(stderr,
		"uco: debug: task '%s' (id %llu, core %u) has made %u suspending "
		"calls since it was cancelled, each refused at once with "
		"-ECANCELED; it should return instead of calling again\n",
		uco_task_name(t), (unsigned long long)t->id, l->core,
		(unsigned)UCO_REFUSED_WARN);
}

/* The dump runs on each loop for its own tasks. */
struct dump_msg {
	struct uco__msg msg;
};

static void dump_run(struct uco__loop *l, struct uco__msg *m)
{
	char line[160];
	struct uco__node *n;
	uco_loop_stats st;
	char *text = NULL;
	size_t len = 0;
	/* Each loop writes its part in one write(2), so that the loops'
	 * parts do not interleave line by line. */
	FILE *out = open_memstream(&text, &len);

	if (!out)
		out = stderr;
	uco__loop_stats_fill(l, &st);
	fprintf(out,
		"uco: debug: loop %u: %llu SQEs submitted, %llu CQEs reaped, "
		"%llu io_uring_enter, %llu CQ overflows; %zu ready, %zu live, "
		"%llu spawned, %zu stack slabs, %zu offload jobs queued; "
		"longest run %.3f ms\n",
		st.core, (unsigned long long)st.sqes_submitted,
		(unsigned long long)st.cqes_reaped,
		(unsigned long long)st.enters,
		(unsigned long long)st.cq_overflows, st.ready, st.live_tasks,
		(unsigned long long)st.tasks_spawned, st.stack_slabs,
		st.offload_queued, (double)st.max_run_ns / 1e6);

	for (n = l->tasks.next; n != &l->tasks; n = n->next) {
		struct uco_task *t =
			uco__container_of(n, struct uco_task, all_node);

		uco__task_describe(t, line, sizeof(line));
		fputs(line, out);
		/* The dump runs in the scheduler: every task is switched
		 * out, its registers in the frame the switch saved. */
		uco__backtrace_ctx(out, &t->ctx, "    ");
	}
	if (out != stderr) {
		fclose(out);
		/* A failed write has nowhere left to be reported. */
		(void)!write(STDERR_FILENO, text, len);
		free(text);
	}
	uco__free(m, sizeof(struct dump_msg));
}

/*
 * SIGQUIT in debug mode: a watcher task on core 0 waits for it on a
 * signalfd read on the ring, then asks every loop to dump its tasks.
 */
#include <sys/signalfd.h>

#include "opfast.h"

static void *sigquit_watcher(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct signalfd_siginfo si;
	struct uco__loop *l = uco__tls_loop;

	for (;;) {
		struct uco__op op;
		struct io_uring_sqe *sqe;
		int r = uco__op_begin(&op, &sqe);

		if (r < 0)
			break;
		io_uring_prep_read(sqe, fd, &si, sizeof(si), 0);
		op.task->wait_what = "SIGQUIT (debug dump)";
		r = uco__op_wait(&op, sqe);
		op.task->wait_what = NULL;
		if (r != (int)sizeof(si))
			break;
		fprintf(stderr, "uco: debug: tasks at SIGQUIT:\n");
		for (unsigned i = 0; i < l->rt->nloops; i++) {
			struct dump_msg *m = uco__alloc(sizeof(*m));
			if (!m)
				break;
			m->msg.fn = dump_run;
			uco__msg_send(&l->rt->loops[i], &m->msg);
		}
	}
	close(fd);
	return NULL;
}

void uco__debug_start(struct uco__loop *l)
{
	sigset_t set;
	int fd;
	uco_spawn_opts o = { .name = "uco-debug-sigquit", .stack_size = 0 };

	uco__backtrace_init();
	sigemptyset(&set);
	sigaddset(&set, SIGQUIT);
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "uco: debug: signalfd: %s\n", strerror(errno));
		return;
	}
	if (uco_spawn(NULL, sigquit_watcher, (void *)(intptr_t)fd, &o) < 0)
		close(fd);
}

void uco__debug_report_alive(struct uco__loop *l)
{
	char line[160];
	struct uco__node *n;

	for (n = l->tasks.next; n != &l->tasks; n = n->next) {
		struct uco_task *t =
			uco__container_of(n, struct uco_task, all_node);
		if (t == l->current || strcmp(t->name, "uco-debug-sigquit") == 0)
			continue;
		uco__task_describe(t, line, sizeof(line));
		fprintf(stderr, "uco: debug: still alive at shutdown: %s", line);
	}
}
