/*
 * The process pool (uco/procpool.h).
 *
 * Parent side: one driver task per worker takes jobs from a shared queue
 * (sync/ uco_queue, FIFO), writes each to its worker's request pipe and
 * reads the answer from the response pipe, both uco streams over pipes
 * (io/process.c's transport).  A worker that dies shows as the end of its
 * response pipe: the driver reaps it (its pidfd), fails the job it was
 * running with -EOWNERDEAD (or -ECANCELED if the job was cancelled, which
 * is done by killing the worker), forks a replacement, and goes on.
 *
 * Worker side (after fork): a blocking loop, no uco.  Its two pipe ends
 * are moved to fds 3 and 4 and every other descriptor is closed: the
 * worker must not keep the parent's ring, and above all not the other
 * workers' pipe ends, or a worker would never see the end of its requests.
 *
 * On the wire (native endianness and sizes: both ends are this program):
 *   request   struct req { fn, arglen } + arglen bytes
 *   response  struct resp { result } + result bytes when result > 0
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <uco/future.h>
#include <uco/poll.h>
#include <uco/procpool.h>
#include <uco/queue.h>
#include <uco/stream.h>
#include <uco/task.h>

#include "core/alloc.h"
#include "core/cleanup.h"
#include "stream_impl.h"

#define DEFAULT_MAX_RESULT (64 * 1024)
#define WORKER_STACK (64 * 1024)          /* a driver task's */
#define WORKER_FN_STACK (8 * 1024 * 1024) /* a worker's, for fn */

struct req {
	uint64_t fn;
	uint64_t arglen;
};

struct resp {
	int64_t result;
};

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct uco_procpool_job {
	uco_procpool_fn fn;
	void *arg;
	size_t arglen;
	enum job_state state;
	bool cancelled;
	int refs;         /* the caller's, and the queue's/driver's */
	ssize_t result;
	void *res;        /* result bytes (malloc) */
	size_t reslen;
	uco_future *done; /* set when state becomes JOB_DONE */
	struct worker *worker; /* while running */
};

struct worker {
	struct uco_procpool *pool;
	pid_t pid;
	int pidfd;          /* -1: no process */
	uco_stream *req;    /* parent -> worker */
	uco_stream *resp;   /* worker -> parent */
	uco_task *driver;
	struct uco_procpool_job *job; /* running */
};

struct uco_procpool {
	unsigned n;
	size_t max_result;
	uco_queue *q;
	bool stopping;
	bool stopped;
	struct worker *w;
};

/* ---- jobs ---------------------------------------------------------------- */

static void job_unref(struct uco_procpool_job *j)
{
	if (--j->refs > 0)
		return;
	free(j->res);
	uco__free(j->arg, j->arglen ? j->arglen : 1);
	uco_future_free(j->done);
	uco__free(j, sizeof(*j));
}

static void job_finish(struct uco_procpool_job *j, ssize_t result)
{
	if (j->state == JOB_DONE)
		return;
	j->state = JOB_DONE;
	j->result = result;
	uco_future_set_result(j->done, NULL);
}

/* An immediate queue shutdown drops the queued jobs. */
static void job_dropped(void *item, void *ctx)
{
	struct uco_procpool_job *j = item;

	job_finish(j, -ECANCELED);
	job_unref(j);
}

/* ---- the worker process ------------------------------------------------- */

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, (char *)buf + got, n - got);

		if (k == 0)
			return 0;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)k;
	}
	return 1;
}

static int write_full(int fd, const void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = write(fd, (const char *)buf + done, n - done);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)k;
	}
	return 0;
}

struct worker_args {
	int in, out;
	size_t cap;
};

/* The worker's loop, on its own stack (worker_main). */
static void worker_loop(unsigned hi, unsigned lo)
{
	struct worker_args *a =
		(struct worker_args *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
	size_t cap = a->cap;
	void *obuf = malloc(cap ? cap : 1);

	if (!obuf)
		_exit(1);
	for (;;) {
		struct req rq;
		struct resp rs;
		void *arg;

		if (read_full(3, &rq, sizeof(rq)) <= 0)
			_exit(0); /* the pool closed our requests: done */
		arg = malloc(rq.arglen ? rq.arglen : 1);
		if (!arg || read_full(3, arg, rq.arglen) <= 0)
			_exit(1);
		rs.result = ((uco_procpool_fn)(uintptr_t)rq.fn)(arg, rq.arglen,
								obuf, cap);
		free(arg);
		if (rs.result > (int64_t)cap)
			rs.result = -EMSGSIZE;
		if (write_full(4, &rs, sizeof(rs)) < 0 ||
		    (rs.result > 0 &&
		     write_full(4, obuf, (size_t)rs.result) < 0))
			_exit(1);
	}
}

/*
 * The child after fork.  It was forked from a task, so it runs on that
 * task's small stack: the job functions get a stack of a process's usual
 * size instead (WORKER_FN_STACK, mapped here, entered with makecontext).
 * Signals the runtime handles (SIGSEGV for its guard pages) go back to
 * their default: a crash in fn simply kills the worker.
 */
static void __attribute__((noreturn))
worker_main(int in, int out, size_t cap, pid_t parent)
{
	struct worker_args a = { in, out, cap };
	cpu_set_t cpus;
	ucontext_t uc;
	sigset_t none;
	void *stack;

	/* Die with the pool's process (and check it did not die before
	 * this was set). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	in = fcntl(in, F_DUPFD, 16);
	out = fcntl(out, F_DUPFD, 16);
	if (in < 0 || out < 0 || dup2(in, 3) < 0 || dup2(out, 4) < 0)
		_exit(1);
	close_range(5, ~0U, 0);
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	/* The forking thread is a loop pinned to its core's CPU, and the
	 * child inherits that: give it back every CPU the process may use
	 * (the kernel keeps within the cpuset), or the workers would all
	 * share one CPU. */
	CPU_ZERO(&cpus);
	for (int i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	stack = mmap(NULL, WORKER_FN_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED || getcontext(&uc) < 0)
		_exit(1);
	uc.uc_stack.ss_sp = stack;
	uc.uc_stack.ss_size = WORKER_FN_STACK;
	uc.uc_link = NULL;
	makecontext(&uc, (void (*)(void))worker_loop, 2,
		    (unsigned)((uintptr_t)&a >> 32), (unsigned)(uintptr_t)&a);
	setcontext(&uc);
	_exit(1);
}

/* Fork w's process and open its pipes. */
static int worker_start(struct worker *w)
{
	int rq[2] = { -1, -1 }, rs[2] = { -1, -1 };
	pid_t parent = getpid();
	int r;

	w->pidfd = -1;
	if (pipe2(rq, O_CLOEXEC) < 0 || pipe2(rs, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	w->pid = fork();
	if (w->pid < 0) {
		r = -errno;
		goto fail;
	}
	if (w->pid == 0)
		worker_main(rq[0], rs[1], w->pool->max_result, parent);
	close(rq[0]);
	close(rs[1]);
	rq[0] = rs[1] = -1;
	w->pidfd = pidfd_open(w->pid, 0);
	if (w->pidfd < 0) {
		r = -errno;
		kill(w->pid, SIGKILL);
		waitpid(w->pid, NULL, 0);
		goto fail;
	}
	if (fcntl(rq[1], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		goto fail_proc;
	}
	r = uco__pipe_stream_open(&w->req, rq[1], NULL);
	if (r < 0)
		goto fail_proc;
	rq[1] = -1;
	r = uco__pipe_stream_open(&w->resp, rs[0], NULL);
	if (r < 0)
		goto fail_proc;
	return 0;
fail_proc:
	pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
	waitid(P_PIDFD, (id_t)w->pidfd, NULL, WEXITED);
	close(w->pidfd);
	w->pidfd = -1;
	uco_stream_abort(w->req);
	w->req = NULL;
fail:
	for (int i = 0; i < 2; i++) {
		if (rq[i] >= 0)
			close(rq[i]);
		if (rs[i] >= 0)
			close(rs[i]);
	}
	return r;
}

/* Close w's pipes (a live worker reads the end of its requests and
 * exits), kill it if kill, and reap it: not cut short. */
static void worker_end(struct worker *w, bool kill_it)
{
	struct uco__cleanup c;
	siginfo_t si;

	uco_stream_abort(w->req);
	uco_stream_abort(w->resp);
	w->req = w->resp = NULL;
	if (w->pidfd < 0)
		return;
	if (kill_it)
		pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
	uco__cleanup_begin(&c);
	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG) < 0 ||
		    si.si_pid != 0)
			break;
		if (uco_poll(w->pidfd, POLLIN) < 0) {
			/* No way to wait: block for it. */
			waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED);
			break;
		}
	}
	uco__cleanup_end(&c);
	close(w->pidfd);
	w->pidfd = -1;
}

/* ---- the driver task ---------------------------------------------------- */

/* Run j on w.  Returns 0 when the worker answered, or < 0 when it is
 * gone (or its pipes failed). */
static int run_one(struct worker *w, struct uco_procpool_job *j)
{
	struct req rq = { (uint64_t)(uintptr_t)j->fn, j->arglen };
	struct resp rs;
	ssize_t n;
	int r;

	r = uco_stream_write(w->req, &rq, sizeof(rq));
	if (r == 0 && j->arglen)
		r = uco_stream_write(w->req, j->arg, j->arglen);
	if (r == 0)
		r = uco_stream_drain(w->req);
	if (r < 0)
		return r;
	n = uco_stream_readexactly(w->resp, &rs, sizeof(rs));
	if (n < 0)
		return (int)n;
	if (rs.result > 0) {
		j->res = malloc((size_t)rs.result);
		if (!j->res)
			return -ENOMEM; /* the worker is out of step: replace */
		n = uco_stream_readexactly(w->resp, j->res, (size_t)rs.result);
		if (n < 0)
			return (int)n;
		j->reslen = (size_t)rs.result;
	}
	job_finish(j, (ssize_t)rs.result);
	return 0;
}

static void *driver(void *arg)
{
	struct worker *w = arg;
	struct uco_procpool *pool = w->pool;

	for (;;) {
		struct uco_procpool_job *j;
		void *item;
		int r;

		if (uco_queue_get(pool->q, &item) < 0)
			break; /* shut down and empty */
		j = item;
		if (j->state == JOB_DONE) { /* cancelled while queued */
			job_unref(j);
			continue;
		}
		if (w->pidfd < 0 && worker_start(w) < 0) {
			/* No worker to run it on (fork failed). */
			job_finish(j, -EAGAIN);
			job_unref(j);
			continue;
		}
		j->state = JOB_RUNNING;
		j->worker = w;
		w->job = j;
		r = run_one(w, j);
		w->job = NULL;
		j->worker = NULL;
		if (r < 0) {
			/* The worker died (or was killed to cancel j): reap
			 * it; a replacement is forked for the next job. */
			worker_end(w, true);
			free(j->res);
			j->res = NULL;
			j->reslen = 0;
			job_finish(j, j->cancelled ? -ECANCELED : -EOWNERDEAD);
		}
		job_unref(j);
	}
	worker_end(w, false);
	return NULL;
}

/* ---- the pool ------------------------------------------------------------ */

UCO_API int uco_procpool_create(uco_procpool **out,
				const uco_procpool_opts *opts)
{
	uco_queue_opts qo = { .drop = job_dropped };
	struct uco_procpool *pool;
	unsigned n;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!uco_current())
		return -EPERM;
	n = opts && opts->workers ? opts->workers
				  : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (n == 0 || n > 4096)
		return -EINVAL;
	pool = uco__alloc(sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	memset(pool, 0, sizeof(*pool));
	pool->n = n;
	pool->max_result = opts && opts->max_result ? opts->max_result
						    : DEFAULT_MAX_RESULT;
	pool->w = uco__alloc(n * sizeof(*pool->w));
	if (!pool->w) {
		uco__free(pool, sizeof(*pool));
		return -ENOMEM;
	}
	memset(pool->w, 0, n * sizeof(*pool->w));
	r = uco_queue_create(&pool->q, &qo);
	for (unsigned i = 0; i < n && r == 0; i++) {
		pool->w[i].pool = pool;
		pool->w[i].pidfd = -1;
		r = worker_start(&pool->w[i]);
	}
	for (unsigned i = 0; i < n && r == 0; i++)
		r = uco_spawn(&pool->w[i].driver, driver, &pool->w[i],
			      &(uco_spawn_opts){ .name = "procpool",
						 .stack_size = WORKER_STACK });
	if (r < 0) {
		/* Drivers spawned end at the queue's shutdown, and the
		 * workers they did not reach are ended here. */
		uco_procpool_free(pool);
		return r;
	}
	*out = pool;
	return 0;
}

UCO_API int uco_procpool_submit(uco_procpool *pool, uco_procpool_job **job,
				uco_procpool_fn fn, const void *arg,
				size_t arglen)
{
	struct uco_procpool_job *j;
	int r;

	if (job)
		*job = NULL;
	if (!pool || !job || !fn || (!arg && arglen))
		return -EINVAL;
	if (pool->stopping)
		return -ESHUTDOWN;
	j = uco__alloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	memset(j, 0, sizeof(*j));
	j->fn = fn;
	j->arglen = arglen;
	j->arg = uco__alloc(arglen ? arglen : 1);
	r = j->arg ? uco_future_create(&j->done) : -ENOMEM;
	if (r < 0) {
		uco__free(j->arg, arglen ? arglen : 1);
		uco__free(j, sizeof(*j));
		return r;
	}
	if (arglen)
		memcpy(j->arg, arg, arglen);
	j->refs = 2;
	r = uco_queue_try_put(pool->q, j);
	if (r < 0) {
		j->refs = 1;
		job_unref(j);
		return r == -EAGAIN ? -ENOMEM : r;
	}
	*job = j;
	return 0;
}

UCO_API int uco_procpool_job_cancel(uco_procpool_job *job)
{
	if (!job)
		return -EINVAL;
	if (job->state == JOB_DONE)
		return 0;
	job->cancelled = true;
	if (job->state == JOB_QUEUED)
		job_finish(job, -ECANCELED); /* its driver drops it */
	else if (job->worker && job->worker->pidfd >= 0)
		pidfd_send_signal(job->worker->pidfd, SIGKILL, NULL, 0);
	return 0;
}

UCO_API ssize_t uco_procpool_job_wait(uco_procpool_job *job)
{
	int r;

	if (!job)
		return -EINVAL;
	r = uco_future_wait(job->done, NULL);
	if (r < 0) {
		uco_procpool_job_cancel(job);
		return r;
	}
	return job->result;
}

UCO_API const void *uco_procpool_job_result(const uco_procpool_job *job)
{
	return job && job->state == JOB_DONE && job->result > 0 ? job->res
								 : NULL;
}

UCO_API void uco_procpool_job_free(uco_procpool_job *job)
{
	if (!job)
		return;
	uco_procpool_job_cancel(job);
	job_unref(job);
}

UCO_API int uco_procpool_stop(uco_procpool *pool, bool cancel)
{
	struct uco__cleanup c;

	if (!pool)
		return -EINVAL;
	if (pool->stopped)
		return 0;
	pool->stopping = true;
	uco_queue_shutdown(pool->q, cancel);
	if (cancel)
		for (unsigned i = 0; i < pool->n; i++)
			if (pool->w[i].job)
				uco_procpool_job_cancel(pool->w[i].job);
	uco__cleanup_begin(&c);
	for (unsigned i = 0; i < pool->n; i++) {
		if (!pool->w[i].driver)
			continue;
		UCO_IGNORE(uco_join(pool->w[i].driver, NULL)); /* clean-up: shielded */
		uco_task_release(pool->w[i].driver);
		pool->w[i].driver = NULL;
	}
	uco__cleanup_end(&c);
	/* Workers whose driver never started (a failed create). */
	for (unsigned i = 0; i < pool->n; i++)
		worker_end(&pool->w[i], true);
	pool->stopped = true;
	return 0;
}

UCO_API void uco_procpool_free(uco_procpool *pool)
{
	if (!pool)
		return;
	if (pool->q) {
		uco_procpool_stop(pool, true);
		uco_queue_free(pool->q);
	}
	uco__free(pool->w, pool->n * sizeof(*pool->w));
	uco__free(pool, sizeof(*pool));
}
