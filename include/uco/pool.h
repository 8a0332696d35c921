/*
 * uco/pool.h — a worker pool / task queue: N workers take jobs from a
 * bounded FIFO queue.
 *
 *   uco_pool *p;
 *   uco_job *j;
 *   uco_pool_opts o = { .workers = 8, .queue_size = 100 };
 *   uco_pool_create(&p, &o);
 *   uco_pool_submit(p, fetch, url, &j);         // waits while the queue is full
 *   r = uco_job_wait(j, 5 * UCO_NSEC_PER_SEC, &page);
 *   uco_job_release(j);
 *   uco_pool_stop(p, UCO_POOL_DRAIN);           // finish what is queued
 *   uco_pool_free(p);
 *
 * A job is fn(arg, &result): it returns 0 (done, with *result) or a
 * negative errno (failed; -ECANCELED counts as cancelled).  Each job runs
 * in a task of its own, spawned by the worker that took it, so cancelling
 * a running job cancels that task (its current call returns -ECANCELED)
 * and never the worker; at most `workers` jobs run at once.  Workers and
 * jobs run on the core that created the pool (the pool does not spread
 * over cores); every call is made there (-EXDEV otherwise).
 *
 * Backpressure: at most queue_size jobs wait in the queue; uco_pool_submit()
 * waits for room (FIFO among the submitters that wait), uco_pool_try_submit()
 * fails with -EAGAIN.
 *
 * Job records: submit hands back a handle (if asked) that stays valid —
 * status, wait, cancel — until uco_job_release(), even after the pool is
 * stopped and freed.  Every record is freed once it has finished and its
 * handle is released (a job submitted without a handle: once it has
 * finished), whichever way it ends.
 *
 * Stopping: uco_pool_stop(DRAIN) refuses new jobs (-ESHUTDOWN, waiting
 * submitters too) and waits until the queued and running jobs are done;
 * uco_pool_stop(CANCEL) also cancels the queued jobs (they end cancelled
 * without running) and the running ones, and waits for them to end.  A
 * stop cut short (the caller cancelled, or its timeout scope expired)
 * turns into CANCEL and still waits for the jobs to end before returning
 * the error, so nothing outlives it.
 */
#ifndef UCO_POOL_H
#define UCO_POOL_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_pool uco_pool;
typedef struct uco_job uco_job;

/* A job: 0 with *result set (done), or a negative errno (failed). */
typedef int (*uco_job_fn)(void *arg, void **result);

typedef enum uco_job_status {
	UCO_JOB_PENDING,   /* queued */
	UCO_JOB_RUNNING,
	UCO_JOB_DONE,      /* fn returned 0 */
	UCO_JOB_FAILED,    /* fn returned an error (other than -ECANCELED) */
	UCO_JOB_CANCELLED, /* cancelled before it ran, or fn returned -ECANCELED */
} uco_job_status;

/* Options for uco_pool_create(); NULL or zeroed fields mean the defaults. */
typedef struct uco_pool_opts {
	unsigned workers;   /* jobs running at once (4) */
	size_t queue_size;  /* jobs waiting at most (64) */
	size_t stack_size;  /* each job task's stack (the runtime's default) */
	const char *name;   /* the workers' and jobs' task name ("pool") */
} uco_pool_opts;

typedef struct uco_pool_stats {
	uint64_t submitted; /* accepted by submit */
	uint64_t done;
	uint64_t failed;
	uint64_t cancelled;
	size_t running;
	size_t queued;
} uco_pool_stats;

typedef enum uco_pool_stop_mode {
	UCO_POOL_DRAIN,  /* run what is queued, then stop */
	UCO_POOL_CANCEL, /* cancel what is queued and running */
} uco_pool_stop_mode;

/* uco_job_wait() without a timeout. */
#define UCO_JOB_FOREVER UINT64_MAX

/*
 * Create a pool and start its workers on the caller's core.  Does not
 * suspend.  Returns 0, -ENOMEM, -EPERM (not inside the runtime).
 */
UCO_API int uco_pool_create(uco_pool **out, const uco_pool_opts *opts);

/*
 * Queue fn(arg), waiting while the queue is full.  Suspends.  *job (if job
 * is not NULL) receives a handle to release.  Returns 0, -ESHUTDOWN (the
 * pool is stopping, before or while waiting), -ECANCELED / -ETIMEDOUT
 * (nothing queued), -EINVAL (fn NULL), -ENOMEM, -EXDEV, -EPERM.
 */
UCO_MUST_USE
UCO_API int uco_pool_submit(uco_pool *p, uco_job_fn fn, void *arg,
			    uco_job **job);

/* The same without waiting: -EAGAIN when the queue is full.  Does not
 * suspend. */
UCO_API int uco_pool_try_submit(uco_pool *p, uco_job_fn fn, void *arg,
				uco_job **job);

/* Where j is now.  Does not suspend. */
UCO_API uco_job_status uco_job_get_status(const uco_job *j);

/*
 * Wait up to timeout_ns (UCO_JOB_FOREVER: no limit; 0: do not wait) for j
 * to finish.  Suspends.  Returns 0 with *result (if not NULL) set when it
 * is done; its error when it failed; -ECANCELED when it was cancelled (or
 * the caller was); -ETIMEDOUT when it has not finished in time (it goes
 * on) or a timeout scope of the caller expired; -EXDEV, -EPERM.
 */
UCO_MUST_USE
UCO_API int uco_job_wait(uco_job *j, uint64_t timeout_ns, void **result);

/*
 * Cancel j: a queued job ends cancelled at once without running; a running
 * one's task is cancelled (its outcome is what it returns).  Does not
 * suspend.  Returns 0, 1 if j had finished already (nothing done), -EXDEV.
 */
UCO_API int uco_job_cancel(uco_job *j);

/* Drop the handle from submit (the job goes on).  Does not suspend.  NULL
 * is a no-op. */
UCO_API void uco_job_release(uco_job *j);

/* The pool's counters now, into *st.  Does not suspend. */
UCO_API void uco_pool_get_stats(const uco_pool *p, uco_pool_stats *st);

/*
 * Stop the pool (see the top of this file) and wait until its workers have
 * ended.  Suspends.  Returns 0, or -ECANCELED / -ETIMEDOUT if it was cut
 * short (and turned into CANCEL); -EXDEV, -EPERM.  Calling it again (or
 * from several tasks) waits the same way; CANCEL after DRAIN cancels.
 */
UCO_MUST_USE
UCO_API int uco_pool_stop(uco_pool *p, uco_pool_stop_mode mode);

/*
 * Free a stopped pool (a pool not stopped aborts with a message).  Job
 * handles stay valid.  Does not suspend.  NULL is a no-op.
 */
UCO_API void uco_pool_free(uco_pool *p);

#ifdef __cplusplus
}
#endif

#endif
