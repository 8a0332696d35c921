/*
 * Blocking offload: a small pool of threads, started on first use.
 *
 * A job is queued under a mutex (the pool is not a hot path; the loops
 * never wait on that mutex for long).  When the function returns, the pool
 * thread posts the job back to the loop that asked, and wakes that loop
 * with an IORING_OP_MSG_RING from a tiny ring of its own: the loop sleeps in
 * io_uring_enter and is never polled.  A caller that is cancelled or times
 * out abandons the job at once: a job still queued is taken off the queue
 * (fn never runs, cleanup runs there and then with a NULL result), so
 * timeouts under load leave no backlog of dead work; a job already running
 * completes in the background and is freed (after `cleanup`) when it comes
 * back.
 */
#include "offload.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>

#include <uco/offload.h>

#include "alloc.h"
#include "loop.h"
#include "msg.h"
#include "task.h"
#include "wait.h"

struct job {
	struct uco__msg msg;          /* back to the loop when done */
	struct job *next, *prev;      /* pool queue (under pool->mu) */
	bool queued;                  /* on the queue, not yet taken */
	void *(*fn)(void *);
	void *arg;
	void *result;
	void (*cleanup)(void *, void *);
	struct uco__loop *loop;       /* who asked */
	struct uco_task *task;        /* NULL once abandoned */
};

struct worker {
	pthread_t thread;
	struct io_uring ring;         /* only for MSG_RING wake-ups */
	struct uco__offload *pool;
};

struct uco__offload {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	struct worker *workers;
	unsigned max, started, idle;
	unsigned queued;              /* jobs on the queue, not yet taken */
	bool stop;
};

/* Take j off the queue; pool->mu held. */
static void dequeue(struct uco__offload *pool, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		pool->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		pool->tail = j->prev;
	j->queued = false;
	pool->queued--;
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct uco__offload *pool = w->pool;
	struct io_uring_cqe *cqe;

	pthread_mutex_lock(&pool->mu);
	for (;;) {
		struct job *j;

		while (!pool->head && !pool->stop) {
			pool->idle++;
			pthread_cond_wait(&pool->cv, &pool->mu);
			pool->idle--;
		}
		if (!pool->head)
			break;
		j = pool->head;
		dequeue(pool, j);
		pthread_mutex_unlock(&pool->mu);

		j->result = j->fn(j->arg);
		uco__msg_post(j->loop, &j->msg, &w->ring, 1);
		/* Our own CQEs (the wake-ups' answers) are of no interest. */
		while (io_uring_peek_cqe(&w->ring, &cqe) == 0)
			io_uring_cqe_seen(&w->ring, cqe);

		pthread_mutex_lock(&pool->mu);
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

int uco__offload_init(struct uco__runtime *rt)
{
	struct uco__offload *pool = uco__zalloc(sizeof(*pool));

	if (!pool)
		return -ENOMEM;
	pool->max = rt->cfg.offload_threads ? rt->cfg.offload_threads : 1;
	pool->workers = uco__zalloc(pool->max * sizeof(*pool->workers));
	if (!pool->workers) {
		uco__free(pool, sizeof(*pool));
		return -ENOMEM;
	}
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->cv, NULL);
	rt->offload = pool;
	return 0;
}

unsigned uco__offload_queued(struct uco__runtime *rt)
{
	struct uco__offload *pool = rt->offload;
	unsigned n;

	if (!pool)
		return 0;
	pthread_mutex_lock(&pool->mu);
	n = pool->queued;
	pthread_mutex_unlock(&pool->mu);
	return n;
}

void uco__offload_term(struct uco__runtime *rt)
{
	struct uco__offload *pool = rt->offload;

	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->stop = true;
	pthread_cond_broadcast(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	for (unsigned i = 0; i < pool->started; i++) {
		pthread_join(pool->workers[i].thread, NULL);
		io_uring_queue_exit(&pool->workers[i].ring);
	}
	pthread_mutex_destroy(&pool->mu);
	pthread_cond_destroy(&pool->cv);
	uco__free(pool->workers, pool->max * sizeof(*pool->workers));
	uco__free(pool, sizeof(*pool));
	rt->offload = NULL;
}

/* Called with pool->mu held. */
static int start_worker(struct uco__offload *pool)
{
	struct worker *w = &pool->workers[pool->started];
	sigset_t all, old;
	int r;

	w->pool = pool;
	r = io_uring_queue_init(8, &w->ring, 0);
	if (r < 0)
		return r;
	/* Pool threads take no signals: those are for the application. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		io_uring_queue_exit(&w->ring);
		return -r;
	}
	pool->started++;
	return 0;
}

static void job_done(struct uco__loop *l, struct uco__msg *m)
{
	struct job *j = (struct job *)m;

	uco__live_add(l, -1);
	if (j->task) {
		uco__wake(j->task, 0);
		return; /* the waiting task reads the result and frees j */
	}
	if (j->cleanup)
		j->cleanup(j->arg, j->result);
	uco__free(j, sizeof(*j));
}

/* The caller was cancelled or timed out (uco__block's interrupt, run on
 * the caller's loop by whoever cut the wait short). */
static void abandon(void *ctx)
{
	struct job *j = ctx;
	struct uco__offload *pool = j->loop->rt->offload;
	bool queued;

	pthread_mutex_lock(&pool->mu);
	queued = j->queued;
	if (queued)
		dequeue(pool, j);
	pthread_mutex_unlock(&pool->mu);
	if (!queued) {
		/* Running: job_done frees it when fn returns. */
		j->task = NULL;
		return;
	}
	/* Never started, and now it never will: arg goes back at once, as
	 * offload.h promises.  The caller returns without touching j. */
	uco__live_add(j->loop, -1);
	if (j->cleanup) {
		/* We may be inside another task's uco_cancel(), between
		 * unlinking the caller and waking it: cleanup must not
		 * suspend that task there.  It runs as the scheduler would
		 * run it (where job_done runs it too): a suspending call in
		 * it gets -EPERM, uco_close() is a plain close(2). */
		struct uco__loop *l = j->loop;
		struct uco_task *cur = l->current;

		l->current = NULL;
		j->cleanup(j->arg, NULL);
		l->current = cur;
	}
	uco__free(j, sizeof(*j));
}

/* fn never started: arg goes back through cleanup at once (see offload.h). */
static int refused(int r, void *arg, void (*cleanup)(void *arg, void *result))
{
	if (cleanup)
		cleanup(arg, NULL);
	return r;
}

UCO_API int uco_to_thread(void *(*fn)(void *arg), void *arg, void **result,
			  void (*cleanup)(void *arg, void *result))
{
	struct uco_task *self;
	struct uco__offload *pool;
	struct job *j;
	int r = uco__enter(&self);

	if (r == 0 && !fn)
		r = -EINVAL;
	if (r < 0)
		return refused(r, arg, cleanup);
	pool = self->loop->rt->offload;
	j = uco__zalloc(sizeof(*j));
	if (!j)
		return refused(-ENOMEM, arg, cleanup);
	j->fn = fn;
	j->arg = arg;
	j->cleanup = cleanup;
	j->loop = self->loop;
	j->task = self;
	j->msg.fn = job_done;

	pthread_mutex_lock(&pool->mu);
	/* A new thread unless an idle one is left for this job: idle threads
	 * already signalled for queued jobs do not count (else calls would
	 * queue behind one busy thread while the pool could still grow). */
	if (pool->queued >= pool->idle && pool->started < pool->max &&
	    (r = start_worker(pool)) < 0 && pool->started == 0) {
		pthread_mutex_unlock(&pool->mu);
		uco__free(j, sizeof(*j));
		return refused(r, arg, cleanup);
	}
	j->prev = pool->tail;
	if (pool->tail)
		pool->tail->next = j;
	else
		pool->head = j;
	pool->tail = j;
	j->queued = true;
	pool->queued++;
	pthread_cond_signal(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	uco__live_add(self->loop, 1);

	r = uco__block(abandon, j, "to_thread");
	if (r < 0)
		return r; /* abandoned: freed by abandon() or job_done */
	if (result)
		*result = j->result;
	uco__free(j, sizeof(*j));
	return 0;
}
