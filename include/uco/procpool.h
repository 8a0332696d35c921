/*
 * uco/procpool.h — a pool of worker processes for CPU-bound work
 * (asyncio's run_in_executor with a ProcessPoolExecutor), and shared
 * memory segments to hand them large data (multiprocessing.shared_memory).
 *
 * Workers are fork()ed from the program itself when the pool starts (and
 * when one is replaced), so a C function pointer of the program is valid
 * in them: a job names a function and its argument bytes, the worker runs
 * fn(arg, arglen, out, outcap) and sends back the bytes it wrote to out.
 * Arguments and results travel through a pipe pair per worker; anything
 * large belongs in a shared memory segment whose name (and offsets) the
 * argument carries.
 *
 * A worker is a plain process: it does not run uco (no loop, no tasks);
 * fn may use anything that is safe in a fork()ed child of a threaded
 * program: its own computation, malloc, system calls, the shared memory
 * calls below.  Workers die with the pool's process (PR_SET_PDEATHSIG).
 *
 * Faults: a worker that dies while running a job (a crash, a kill, an
 * exit) fails that job with -EOWNERDEAD and is reaped, and a fresh fork
 * replaces it when its slot takes the next job; the other jobs go on.
 * The pool never waits for a worker that is gone.  (A worker that dies
 * while idle is noticed, and replaced, when it is next given a job: that
 * job then fails with -EOWNERDEAD.)
 */
#ifndef UCO_PROCPOOL_H
#define UCO_PROCPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- shared memory (Python's SharedMemory) ------------------------------ */

typedef struct uco_shm uco_shm;

/*
 * Create a segment of size bytes (memfd_create + mmap, zero-filled) and
 * map it.  Its name (uco_shm_name()) lets another process of the same
 * user — a worker — attach it while the creator's handle is open and not
 * unlinked.  Does not suspend.  Returns 0 with *out set; -EINVAL (size 0,
 * NULL out), -ENOMEM, -EMFILE.
 */
UCO_API int uco_shm_create(uco_shm **out, size_t size);

/* Map the segment called name (from uco_shm_name()).  Does not suspend.
 * Returns 0 with *out set; -ENOENT (no such segment any more: its
 * creator closed or unlinked it), -EINVAL (not a segment name), -ENOMEM,
 * -EACCES. */
UCO_API int uco_shm_attach(uco_shm **out, const char *name);

/* The segment's name, its mapping, its size.  Do not suspend. */
UCO_API const char *uco_shm_name(const uco_shm *shm);
UCO_API void *uco_shm_buf(const uco_shm *shm);
UCO_API size_t uco_shm_size(const uco_shm *shm);

/* Remove the name: later attaches fail with -ENOENT; mappings stay valid
 * until closed, the memory is freed with the last one.  Creator only
 * (-EPERM otherwise; 0 if already unlinked).  Does not suspend. */
UCO_API int uco_shm_unlink(uco_shm *shm);

/* Unmap and free the handle (for the creator, this unlinks too: the name
 * is the creator's descriptor).  Does not suspend.  NULL: no-op. */
UCO_API void uco_shm_close(uco_shm *shm);

/* --- the pool ------------------------------------------------------------ */

typedef struct uco_procpool uco_procpool;
typedef struct uco_procpool_job uco_procpool_job;

/*
 * A job's function, run in a worker: read arglen bytes at arg, write at
 * most outcap bytes to out, return how many (>= 0), or a negative errno
 * that becomes the job's error.
 */
typedef ssize_t (*uco_procpool_fn)(const void *arg, size_t arglen, void *out,
				   size_t outcap);

typedef struct uco_procpool_opts {
	unsigned workers;  /* default 0: the number of online CPUs */
	size_t max_result; /* bytes a job may return (default 64 KiB) */
} uco_procpool_opts;

/*
 * Fork the workers.  Call from a task; the pool belongs to the caller's
 * core (its calls are made from tasks there).  Does not suspend.  Returns
 * 0 with *out set, to stop with uco_procpool_stop() and free with
 * uco_procpool_free(); -ENOMEM, -EAGAIN / -EMFILE (fork, pipes), -EPERM
 * (not in a task), -EINVAL.
 */
UCO_API int uco_procpool_create(uco_procpool **out,
				const uco_procpool_opts *opts);

/*
 * Queue fn(arg[0, arglen)) for the next free worker; arg is copied.
 * Does not suspend.  Returns 0 with *job set, to wait for and free with
 * uco_procpool_job_free(); -ESHUTDOWN (the pool is stopping), -ENOMEM,
 * -EINVAL.
 */
UCO_API int uco_procpool_submit(uco_procpool *pool, uco_procpool_job **job,
				uco_procpool_fn fn, const void *arg,
				size_t arglen);

/*
 * Wait for the job.  Suspends.  Returns the length of its result (>= 0;
 * the bytes at uco_procpool_job_result()), or its error: fn's own
 * negative return, -EOWNERDEAD (the worker died running it; the pool
 * replaced it), -ECANCELED (the job was cancelled, or the pool stopped
 * with cancel), -EMSGSIZE (fn returned more than max_result).
 * A wait cut short — the caller cancelled (-ECANCELED) or a timeout scope
 * expired (-ETIMEDOUT) — cancels the job, as uco_procpool_job_cancel().
 */
UCO_API ssize_t uco_procpool_job_wait(uco_procpool_job *job);

/* The result bytes once the job succeeded (NULL before, or if empty);
 * valid until the job is freed.  Does not suspend. */
UCO_API const void *uco_procpool_job_result(const uco_procpool_job *job);

/*
 * Cancel the job: one still queued never runs; one running has its
 * worker killed (SIGKILL) and replaced, so the function stops at once.
 * Either way the job ends with -ECANCELED; a job already done keeps its
 * outcome.  Does not suspend.  Returns 0.
 */
UCO_API int uco_procpool_job_cancel(uco_procpool_job *job);

/* Free the job (cancelling it if it is not done).  Does not suspend.
 * NULL: no-op. */
UCO_API void uco_procpool_job_free(uco_procpool_job *job);

/*
 * Stop the pool: no more submits.  cancel false: run every queued job to
 * its end first (drain); cancel true: queued and running jobs end with
 * -ECANCELED (running workers are killed).  Then the workers are told to
 * exit and are reaped.  Suspends until every worker is gone (not cut short
 * by the caller's cancel or timeouts: the workers are killed instead).
 * Returns 0, -EINVAL.
 */
UCO_API int uco_procpool_stop(uco_procpool *pool, bool cancel);

/* Free a pool (stopping it with cancel first if needed, which suspends).
 * NULL: no-op. */
UCO_API void uco_procpool_free(uco_procpool *pool);

#ifdef __cplusplus
}
#endif

#endif
