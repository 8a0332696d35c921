/*
 * The op layer's per-operation path (see op.h), inline: every I/O call in
 * uco is uco__op_begin + a prep + uco__op_wait, so these are compiled into
 * each call rather than called.  What is rare — a linked timeout, result
 * mapping after a cancel — stays out of line in op.c.
 */
#ifndef UCO_CORE_OPFAST_H
#define UCO_CORE_OPFAST_H

#include <errno.h>

#include "loop.h"
#include "op.h"
#include "probes.h"
#include "task.h"

/* Out of line (op.c): the op under a timeout scope gets both SQEs of its
 * pair reserved; its LINK_TIMEOUT is filled in at submission. */
struct io_uring_sqe *uco__op_begin_timed(struct uco__op *op, uint64_t deadline);
void uco__op_link_timeout(struct uco__op *op, struct io_uring_sqe *sqe);
int uco__op_map_error(const struct uco__op *op);

static inline int uco__op_begin_ex(struct uco__op *op,
				   struct io_uring_sqe **sqe, bool link)
{
	struct uco_task *t;
	int r = uco__enter(&t);

	if (__builtin_expect(r < 0, 0))
		return r;
	/* res is written by the op's CQE before anyone reads it; pending and
	 * cqe_flags only matter once a flag is set (op.h). */
	op->task = t;
	op->flags = 0;
	if (__builtin_expect(link && t->ndeadlines != 0, 0))
		*sqe = uco__op_begin_timed(op, uco__task_deadline(t));
	else
		*sqe = uco__sqe_get(t->loop, 1);
	return 0;
}

static inline int uco__op_begin(struct uco__op *op, struct io_uring_sqe **sqe)
{
	return uco__op_begin_ex(op, sqe, true);
}

/*
 * The fused fast path: the SQE is left in the SQ (the loop counts and
 * submits SQEs in batches), and uco__suspend switches straight to the next
 * ready task or the task of the next CQE (loop.c).  Nothing else is
 * written: no in-flight count, no pending count, no CQE flags.
 */
static inline int uco__op_wait(struct uco__op *op, struct io_uring_sqe *sqe)
{
	struct uco_task *t = op->task;

	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | UCO_OP_TAG_OP);
	if (__builtin_expect(op->flags & UCO_OP_TIMED, 0))
		uco__op_link_timeout(op, sqe);
	t->wait_kind = UCO_WAIT_OP;
	t->wait_op = op;
	t->state = UCO_TASK_WAITING;
	UCO_PROBE_T2(op_submit, t, sqe->opcode, op);
	uco__suspend(t);
	/* Data (or any success) is delivered even if a cancel or the timer
	 * raced it: the kernel did the work. */
	if (__builtin_expect(op->res >= 0, 1))
		return op->res;
	return uco__op_map_error(op);
}

/*
 * A CQE for an op record (or a handler) arrived.  Returns the task to
 * resume now (its op's last CQE), or NULL.  Inline for the common case: an
 * op without flags (no linked timeout, no cancel) and its own, single CQE.
 * The loop's CQ walker (loop.c) has counted the CQE already.
 */
static inline struct uco_task *uco__op_complete(uint64_t user_data, int res,
						uint32_t flags)
{
	struct uco__op *op = (struct uco__op *)(uintptr_t)user_data;

	if (__builtin_expect((user_data & UCO_OP_TAG_MASK) == UCO_OP_TAG_OP &&
				     !(flags & (IORING_CQE_F_MORE |
						IORING_CQE_F_NOTIF)) &&
				     op->flags == 0,
			     1)) {
		struct uco_task *t = op->task;

		op->res = res;
		/* The kernel is done with the op: its task is resumed
		 * straight off this CQE, by whoever is walking the CQ. */
		t->wait_kind = UCO_WAIT_NONE;
		return t;
	}
	return uco__op_complete_slow(user_data, res, flags);
}

#endif
