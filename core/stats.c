/*
 * uco_loop_stats_get (uco/stats.h): a snapshot of the counters the loop
 * keeps in its own record (loop.h: stat_*), plus what is read at the time
 * (queue depths, live tasks, slabs).
 *
 * The loop counts per batch: SQEs in count_sqes (at each submission, from
 * the SQ tail), CQEs from the CQ head once per loop iteration (and here, for
 * those reaped since), io_uring_enter calls where they are made.  So the
 * op path pays nothing for these counters.
 */
#include <uco/stats.h>

#include <errno.h>
#include <string.h>

#include "loop.h"
#include "offload.h"
#include "stack.h"
#include "stats.h"

void uco__loop_stats_fill(struct uco__loop *l, uco_loop_stats *out)
{
	unsigned head = *l->ring.cq.khead;
	size_t ready = 0;

	memset(out, 0, sizeof(*out));
	for (const struct uco_task *t = l->ready_head; t; t = t->next_ready)
		ready++;
	out->core = l->core;
	/* SQEs prepared but not yet submitted are not counted yet. */
	out->sqes_submitted = l->stat_sqes;
	out->cqes_reaped = l->stat_cqes + (head - l->cq_counted);
	out->enters = l->stat_enters;
	out->cq_overflows = l->stat_overflows;
	out->tasks_spawned = l->next_id;
	out->max_run_ns = l->stat_max_run_ns;
	out->ready = ready;
	out->live_tasks = l->ntasks;
	out->stack_slabs = uco__stack_pool_slabs(&l->stacks);
	out->offload_queued = uco__offload_queued(l->rt);
}

UCO_API int uco_loop_stats_get(uco_loop_stats *out)
{
	struct uco__loop *l = uco__tls_loop;

	if (!l)
		return -EPERM;
	uco__loop_stats_fill(l, out);
	return 0;
}
