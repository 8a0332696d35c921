/*
 * uco/stats.h — what a loop has done so far: counters for dashboards and
 * for the SIGQUIT dump of debug mode (which prints them per loop).
 *
 * Every loop counts its own work on its own thread, in batches (SQEs when
 * they are submitted, CQEs and kernel entries once per loop iteration), so
 * counting costs the I/O path nothing per operation.  A snapshot is read on
 * the loop's own thread; another core's is read by a task spawned there:
 *
 *     static void *read_stats(void *out)
 *     {
 *             return uco_loop_stats_get(out) < 0 ? uco_fail(-EPERM) : NULL;
 *     }
 *     ... uco_spawn_on(core, &t, read_stats, &stats, NULL); uco_join(t, NULL);
 */
#ifndef UCO_STATS_H
#define UCO_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_loop_stats {
	unsigned core;            /* the loop these are from */
	/* Since the loop started (they only grow): */
	uint64_t sqes_submitted;  /* SQEs handed to the kernel */
	uint64_t cqes_reaped;     /* CQEs taken off the completion queue */
	uint64_t enters;          /* io_uring_enter calls the loop made to
	                             submit or wait (liburing may skip the
	                             system call for an empty submit) */
	uint64_t cq_overflows;    /* times the loop found the CQ emptied while
	                             the kernel still held CQEs back (it was
	                             full) and had it post them */
	uint64_t tasks_spawned;   /* tasks spawned by tasks of this loop (here
	                             or, with uco_spawn_on, on another core) */
	uint64_t max_run_ns;      /* the longest a task ran without suspending,
	                             measured in debug mode only (a clock read
	                             per switch); 0 when debug mode is off */
	/* Now: */
	size_t ready;             /* tasks in the ready queue */
	size_t live_tasks;        /* tasks alive on this loop */
	size_t stack_slabs;       /* stack slabs this loop has mapped */
	size_t offload_queued;    /* blocking-offload jobs waiting for a thread
	                             (one pool per runtime, shared by every loop) */
} uco_loop_stats;

/*
 * Fill *out with the counters of the caller's loop.  Does not suspend, and
 * may be called from a task or from a loop's thread outside any task (a
 * signal handler may not: it reads the loop's state).  Returns 0, or -EPERM
 * outside uco_run() (*out is then untouched).
 */
UCO_API int uco_loop_stats_get(uco_loop_stats *out);

#ifdef __cplusplus
}
#endif

#endif
