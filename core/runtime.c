/*
 * uco_run: start one loop per core, run main on core 0, shut down cleanly.
 *
 * Shutdown: when main returns, the runtime is marked stopping and every
 * loop cancels the tasks it runs.  `busy` counts the loops that still have
 * tasks (or round trips) homed on them; a loop exits when it is zero,
 * nothing of its own is in flight in the kernel, and its queues are empty.
 * The rings are torn down only after every loop thread has exited, so a
 * late IORING_OP_MSG_RING can never reach a closed (or reused) ring fd.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uco/runtime.h>

#include "alloc.h"
#include "debug.h"
#include "loop.h"
#include "offload.h"
#include "task.h"
#include "uco_config.h"

#if UCO_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

UCO_API void uco_config_init(uco_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cores = 1;
	cfg->stack_size = UCO_DEFAULT_STACK_SIZE;
	cfg->sq_entries = 1024;
	cfg->cq_entries = 16 * 1024;
	cfg->offload_threads = 4;
	cfg->pin = true;
}

static unsigned read_max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	unsigned v = 65530;

	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v;
}

/* The CPUs we may run on, in order: loop i is pinned to the i-th. */
static int allowed_cpus(cpu_set_t *set, unsigned *count)
{
	CPU_ZERO(set);
	if (sched_getaffinity(0, sizeof(*set), set) != 0)
		return -errno;
	*count = (unsigned)CPU_COUNT(set);
	return 0;
}

static int nth_cpu(const cpu_set_t *set, unsigned n)
{
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set) && n-- == 0)
			return c;
	return -1;
}

/* The wrapper main runs in: on return it starts the shutdown. */
static void stop_run(struct uco__loop *l, struct uco__msg *m)
{
	if (l->debug)
		uco__debug_report_alive(l);
	uco__cancel_all(l);
	uco__free(m, sizeof(*m));
}

static void *main_task(void *arg)
{
	struct uco__runtime *rt = arg;
	struct uco__loop *l = uco__tls_loop;
	void *r = rt->main_fn(rt->main_arg);
	struct uco_task *self = uco__self();

	rt->main_result = self->error ? NULL : r;
	rt->main_error = self->error;
	atomic_store_explicit(&rt->stopping, true, memory_order_release);
	for (unsigned i = 0; i < rt->nloops; i++) {
		struct uco__msg *m = uco__alloc(sizeof(*m));

		if (&rt->loops[i] == l || !m) {
			uco__free(m, sizeof(*m));
			continue;
		}
		m->fn = stop_run;
		uco__msg_send(&rt->loops[i], m);
	}
	if (l->debug)
		uco__debug_report_alive(l);
	uco__cancel_all(l);
	return r;
}

struct thread_arg {
	struct uco__runtime *rt;
	unsigned core;
	int cpu;
};

static void *loop_thread(void *p)
{
	struct thread_arg *ta = p;
	struct uco__runtime *rt = ta->rt;
	struct uco__loop *l = &rt->loops[ta->core];
	bool ok = true;

	if (ta->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(ta->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	uco__tls_loop = l;
	l->exit_status = uco__loop_init(l, rt, ta->core);
	/* Wait until every loop is set up (or the start was called off);
	 * after that, every loop's status and ring fd are visible. */
	pthread_mutex_lock(&rt->start_mu);
	rt->nready++;
	pthread_cond_broadcast(&rt->start_cv);
	while (rt->go == 0)
		pthread_cond_wait(&rt->start_cv, &rt->start_mu);
	ok = rt->go > 0;
	pthread_mutex_unlock(&rt->start_mu);
	for (unsigned i = 0; i < rt->nloops; i++)
		if (rt->loops[i].exit_status)
			ok = false;
	if (ok) {
		if (ta->core == 0) {
			uco_spawn_opts o = { .name = "main", .stack_size = 0 };
			if (l->debug)
				uco__debug_start(l);
			if (uco_spawn(NULL, main_task, rt, &o) < 0) {
				rt->main_error = -ENOMEM;
				atomic_store(&rt->stopping, true);
			}
		}
		uco__signal_start(l, rt->sigfd);
		uco__loop_run(l);
	}
	uco__tls_loop = NULL;
	return NULL;
}

static int check_config(const uco_config *cfg)
{
	if (cfg->stack_size < 16384 || cfg->stack_size > (1u << 30))
		return -EINVAL;
	if (cfg->sq_entries == 0 || cfg->sq_entries > 32768 ||
	    cfg->cq_entries < cfg->sq_entries || cfg->cq_entries > 1u << 20)
		return -EINVAL;
	if (cfg->offload_threads > 1024 || cfg->cores > 4096)
		return -EINVAL;
	return 0;
}

UCO_API int uco_run(uco_fn main_fn, void *arg, const uco_config *cfg_in,
		    void **result)
{
	struct uco__runtime *rt;
	struct thread_arg *targs;
	cpu_set_t cpus;
	unsigned ncpu = 1, started = 0;
	sigset_t quit, oldmask;
	const char *dbg = getenv("UCO_DEBUG");
	int r;

	if (uco__tls_loop)
		return -EBUSY;
	if (!main_fn)
		return -EINVAL;
	rt = uco__zalloc(sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	if (cfg_in)
		rt->cfg = *cfg_in;
	else
		uco_config_init(&rt->cfg);
	if (dbg && dbg[0] == '1')
		rt->cfg.debug = true;
	r = check_config(&rt->cfg);
	if (r == 0)
		r = allowed_cpus(&cpus, &ncpu);
	if (r < 0) {
		uco__free(rt, sizeof(*rt));
		return r;
	}
	rt->nloops = rt->cfg.cores ? rt->cfg.cores : ncpu;
	rt->page = (size_t)sysconf(_SC_PAGESIZE);
	rt->guard_budget = rt->cfg.guarded_stacks ? rt->cfg.guarded_stacks
						  : read_max_map_count() / 4;
#if UCO_HAVE_VALGRIND
	/* valgrind tracks at most a few thousand mappings of its own; each
	 * guard page costs two. */
	if (RUNNING_ON_VALGRIND && rt->guard_budget > 1000)
		rt->guard_budget = 1000;
#endif
	rt->main_fn = main_fn;
	rt->main_arg = arg;
	atomic_init(&rt->busy, 0);
	atomic_init(&rt->stopping, false);
	pthread_mutex_init(&rt->start_mu, NULL);
	pthread_cond_init(&rt->start_cv, NULL);
	rt->loops = uco__zalloc(rt->nloops * sizeof(*rt->loops));
	targs = uco__zalloc(rt->nloops * sizeof(*targs));
	rt->sigstates = uco__sigstates_new(rt->nloops);
	if (!rt->loops || !targs || !rt->sigstates) {
		uco__sigstates_free(rt->sigstates, rt->nloops);
		uco__free(targs, rt->nloops * sizeof(*targs));
		uco__free(rt->loops, rt->nloops * sizeof(*rt->loops));
		uco__free(rt, sizeof(*rt));
		return -ENOMEM;
	}
	r = uco__offload_init(rt);
	if (r < 0)
		goto out_barrier;

	uco__fault_handlers_install(rt);
	/* SIGINT, SIGTERM, SIGHUP (and SIGQUIT in debug mode) are read from
	 * signalfds: they must be blocked in every thread, this one
	 * included, while we run.  The loops inherit the mask. */
	uco__signal_set(&quit);
	rt->sigfd = signalfd(-1, &quit, SFD_CLOEXEC | SFD_NONBLOCK);
	if (rt->sigfd < 0)
		sigemptyset(&quit); /* unread, they would be lost: keep them */
	if (rt->cfg.debug)
		sigaddset(&quit, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &quit, &oldmask);
	uco__sigwatch_start(rt);

	for (started = 0; started < rt->nloops; started++) {
		targs[started].rt = rt;
		targs[started].core = started;
		targs[started].cpu =
			rt->cfg.pin ? nth_cpu(&cpus, started % ncpu) : -1;
		if (pthread_create(&rt->loops[started].thread, NULL, loop_thread,
				   &targs[started]) != 0)
			break;
	}
	/* Release the loops once all are set up; if a thread could not be
	 * created, release those that were, with the start called off. */
	pthread_mutex_lock(&rt->start_mu);
	while (rt->nready < started)
		pthread_cond_wait(&rt->start_cv, &rt->start_mu);
	rt->go = started == rt->nloops ? 1 : -1;
	pthread_cond_broadcast(&rt->start_cv);
	pthread_mutex_unlock(&rt->start_mu);
	if (started < rt->nloops)
		r = -EAGAIN;
	for (unsigned i = 0; i < started; i++)
		pthread_join(rt->loops[i].thread, NULL);
	for (unsigned i = 0; i < rt->nloops; i++) {
		if (r == 0 && rt->loops[i].exit_status)
			r = rt->loops[i].exit_status;
		uco__loop_term(&rt->loops[i]);
	}
	uco__sigwatch_stop(rt);
	if (rt->sigfd >= 0)
		close(rt->sigfd);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
	uco__fault_handlers_remove(rt);
	uco__offload_term(rt);
	if (r == 0) {
		r = rt->main_error;
		if (result)
			*result = rt->main_result;
	}
out_barrier:
	uco__sigstates_free(rt->sigstates, rt->nloops);
	uco__free(targs, rt->nloops * sizeof(*targs));
	uco__free(rt->loops, rt->nloops * sizeof(*rt->loops));
	uco__free(rt, sizeof(*rt));
	return r;
}

UCO_API unsigned uco_cores(void)
{
	struct uco__loop *l = uco__tls_loop;

	return l ? l->rt->nloops : 0;
}

UCO_API unsigned uco_core_id(void)
{
	struct uco__loop *l = uco__tls_loop;

	return l ? l->core : 0;
}
