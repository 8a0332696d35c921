/*
 * The op layer: the one place that turns an SQE into a suspension and its
 * CQEs into a resumption.  Every operation uco submits goes through it, so
 * cancellation and timeouts behave the same for all of them.
 *
 *   struct uco__op op;
 *   struct io_uring_sqe *sqe;
 *   int r = uco__op_begin(&op, &sqe);    // checks, reserves SQE(s)
 *   if (r < 0) return r;
 *   io_uring_prep_read(sqe, fd, buf, len, off);   // prep zeroes the SQE...
 *   return uco__op_wait(&op, sqe);       // ...so flags and links come after
 *
 * The record lives in the suspended task's frame; cqe->user_data points to
 * it, tagged in its low bits with which SQE the CQE answers:
 *
 *   tag 0  the operation itself
 *   tag 1  its IORING_OP_LINK_TIMEOUT (only under a timeout scope)
 *   tag 2  an IORING_OP_ASYNC_CANCEL aimed at it (only when cancelled)
 *   tag 3  not an op record but a struct uco__cqe_handler: a long-lived
 *          object (a multishot accept or recv) that takes its CQEs itself
 *
 * Every SQE yields a CQE, so the task is resumed only when `pending`, the
 * number of CQEs still due, reaches zero: the kernel is then done with the
 * op's buffers and with the record, whatever order the CQEs came in.
 */
#ifndef UCO_CORE_OP_H
#define UCO_CORE_OP_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct uco_task;

enum {
	UCO_OP_TAG_OP = 0,
	UCO_OP_TAG_TIMEOUT = 1,
	UCO_OP_TAG_CANCEL = 2,
	UCO_OP_TAG_HANDLER = 3,
	UCO_OP_TAG_MASK = 3,
};

/* user_data values that are not op records (all below
 * UCO_UD_SPECIAL_LIMIT, which no pointer is): CQEs the loop consumes
 * itself. */
enum {
	UCO_UD_WAKE_SENT = 8, /* our own MSG_RING wake-up of another loop:
	                         posted only when it failed (it is sent with
	                         IOSQE_CQE_SKIP_SUCCESS), and never counted
	                         in flight */
	UCO_UD_WAKE = 16,     /* another thread's MSG_RING wake-up of us: no
	                         SQE of ours, so never counted in flight */
	UCO_UD_CANCEL = 24,   /* an ASYNC_CANCEL nobody waits for (its answer,
	                         0, -ENOENT or -EALREADY, changes nothing) */
	UCO_UD_SPECIAL_LIMIT = 4096,
};

/*
 * op->flags.  An op with none of them set (the common case) ends at its one
 * CQE: the completion fast path (opfast.h) writes only res and resumes the
 * task, and `pending` is neither set nor read.  Any flag sends its CQEs
 * through uco__op_complete_slow, which counts `pending` down.
 */
enum {
	UCO_OP_TIMED = 1,      /* a LINK_TIMEOUT was linked to it */
	UCO_OP_FIRED = 2,      /* ...and that timeout fired (-ETIME) */
	UCO_OP_CANCELLED = 4,  /* an ASYNC_CANCEL was sent for a task cancel */
	UCO_OP_WANT_FLAGS = 8, /* the caller reads cqe_flags (set it after
	                          uco__op_begin) */
};

struct uco__op {
	struct uco_task *task;
	int res;                      /* the operation's CQE result */
	uint32_t cqe_flags;           /* only with UCO_OP_WANT_FLAGS */
	uint8_t pending;              /* CQEs still due (only if flags != 0) */
	uint8_t flags;                /* UCO_OP_* */
	struct __kernel_timespec ts;  /* the linked timeout's deadline */
} __attribute__((aligned(8)));

/*
 * The per-operation calls are inline, in opfast.h:
 *
 * uco__op_begin(op, &sqe): start an operation in the running task: -EPERM
 * outside a task, -ECANCELED / -ETIMEDOUT if it must not start; else 0
 * with sqe to prepare (and, under a timeout scope, a second SQE reserved
 * behind it for the linked timeout).  uco__op_begin_ex(op, &sqe, false):
 * the same without a linked timeout even under a scope (for an op that
 * carries its own deadline, such as a sleep).
 *
 * uco__op_wait(op, sqe): submit the prepared SQE (batched: the loop
 * flushes), suspend until every CQE of the op has arrived, and return its
 * result: the CQE's res; or -ETIMEDOUT if the scope's timeout fired and the
 * op was cut short (an op that completed with data anyway returns the
 * data); or -ECANCELED if the task was cancelled and the op was cut short.
 */

/* Cancel the op t waits in (IORING_OP_ASYNC_CANCEL); idempotent. */
void uco__op_cancel(struct uco__op *op);

/*
 * A long-lived CQE consumer (tag 3): multishot operations, whose one SQE
 * yields CQEs until one comes without IORING_CQE_F_MORE.  Its SQE counts
 * in the loop's inflight like every SQE, until the CQE without F_MORE, so a
 * loop never shuts down under a live multishot.  fn runs on the loop's thread, in the scheduler or in a
 * suspending task; it may wake tasks but must not suspend.
 */
struct uco__cqe_handler {
	void (*fn)(struct uco__cqe_handler *h, int res, uint32_t flags);
} __attribute__((aligned(8)));

/* Tag the SQE for handler h. */
void uco__handler_submitted(struct uco__cqe_handler *h,
			    struct io_uring_sqe *sqe);

/* Cancel every op whose user_data is h's (fire and forget). */
void uco__handler_cancel(struct uco__cqe_handler *h);

/* A CQE for an op record arrived.  Returns the task to resume now (its
 * op's last CQE), or NULL. */
struct uco_task *uco__op_complete_slow(uint64_t user_data, int res,
				       uint32_t flags);
/* (uco__op_complete() itself, the common case inline, is in opfast.h.) */

#endif
