/* The op layer; see op.h for the protocol. */
#include "op.h"

#include <errno.h>

#include "loop.h"
#include "opfast.h"
#include "task.h"

struct io_uring_sqe *uco__op_begin_timed(struct uco__op *op, uint64_t deadline)
{
	if (deadline == UINT64_MAX)
		return uco__sqe_get(op->task->loop, 1);
	op->flags |= UCO_OP_TIMED;
	op->pending = 2;
	op->ts.tv_sec = (long long)(deadline / 1000000000ull);
	op->ts.tv_nsec = (long long)(deadline % 1000000000ull);
	/* Reserve both SQEs of the pair before filling either, so a flush can
	 * never separate an op from its linked timeout. */
	return uco__sqe_get(op->task->loop, 2);
}

void uco__op_link_timeout(struct uco__op *op, struct io_uring_sqe *sqe)
{
	/* io_uring_prep_* zero the SQE, so the link flag goes on after the
	 * caller's prep, here; the second SQE was reserved with the first. */
	struct io_uring_sqe *ts = uco__sqe_take(op->task->loop);

	sqe->flags |= IOSQE_IO_LINK;
	io_uring_prep_link_timeout(ts, &op->ts, IORING_TIMEOUT_ABS);
	io_uring_sqe_set_data64(ts, (uint64_t)(uintptr_t)op | UCO_OP_TAG_TIMEOUT);
}

/* The kernel's internal "restart the syscall" codes (include/linux/errno.h),
 * never meant for userspace.  An op interrupted in an io-wq worker (an
 * ASYNC_CANCEL or a linked timeout that finds it running, e.g. a blocking
 * openat of a FIFO) can complete with one of them as its CQE's res. */
#define KERN_ERESTARTSYS 512
#define KERN_ERESTART_RESTARTBLOCK 516

int uco__op_map_error(const struct uco__op *op)
{
	int res = op->res;

	if (res <= -KERN_ERESTARTSYS && res >= -KERN_ERESTART_RESTARTBLOCK)
		res = -EINTR;
	if (res == -ECANCELED || res == -EINTR) {
		if (op->flags & UCO_OP_CANCELLED)
			return -ECANCELED;
		if (op->flags & UCO_OP_FIRED)
			return uco__timed_out(op->task);
	}
	return res;
}

void uco__op_cancel(struct uco__op *op)
{
	struct uco__loop *l = op->task->loop;
	struct io_uring_sqe *sqe;

	if (op->flags & UCO_OP_CANCELLED)
		return;
	if (!(op->flags & ~UCO_OP_WANT_FLAGS))
		op->pending = 1; /* the op's own CQE (not counted until now) */
	op->flags |= UCO_OP_CANCELLED;
	sqe = uco__sqe_get(l, 1);
	/* Matched by value: the kernel never dereferences user_data.  The
	 * answer (0, -ENOENT or -EALREADY) is only counted: in every case the
	 * target's own CQE still follows, or has already come. */
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op | UCO_OP_TAG_OP, 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | UCO_OP_TAG_CANCEL);
	op->pending++;
}

void uco__handler_submitted(struct uco__cqe_handler *h,
			    struct io_uring_sqe *sqe)
{
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)h | UCO_OP_TAG_HANDLER);
}

void uco__handler_cancel(struct uco__cqe_handler *h)
{
	struct uco__loop *l = uco__tls_loop;
	struct io_uring_sqe *sqe = uco__sqe_get(l, 1);

	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)h | UCO_OP_TAG_HANDLER,
			       IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, UCO_UD_CANCEL);
}

struct uco_task *uco__op_complete_slow(uint64_t user_data, int res,
				       uint32_t flags)
{
	struct uco__op *op =
		(struct uco__op *)(uintptr_t)(user_data & ~(uint64_t)UCO_OP_TAG_MASK);
	if ((user_data & UCO_OP_TAG_MASK) == UCO_OP_TAG_HANDLER) {
		struct uco__cqe_handler *h = (struct uco__cqe_handler *)op;

		h->fn(h, res, flags);
		return NULL;
	}
	switch (user_data & UCO_OP_TAG_MASK) {
	case UCO_OP_TAG_OP:
		/* A zero-copy send answers twice: its result (with F_MORE),
		 * then a notification (F_NOTIF) when the kernel lets go of
		 * the buffer.  The op ends at the CQE without F_MORE. */
		if (!(flags & IORING_CQE_F_NOTIF)) {
			op->res = res;
			op->cqe_flags = flags;
		}
		if (flags & IORING_CQE_F_MORE)
			return NULL;
		break;
	case UCO_OP_TAG_TIMEOUT:
		/* A timer that fired answers with its attempt to cancel the
		 * op (the kernel's `ret ?: -ETIME`): -ETIME, the op was
		 * cancelled; -EALREADY, the op was running in an io-wq worker,
		 * which was interrupted (the op ends -EINTR): both are this
		 * timeout.  -ENOENT: the op was already completing, its own
		 * result stands.  -ECANCELED: the op finished first. */
		if (res == -ETIME || res == -EALREADY)
			op->flags |= UCO_OP_FIRED;
		break;
	default:
		break;
	}
	/* An op without flags has one CQE to come (its pending was never
	 * set): this one, without F_MORE. */
	if (op->flags & ~UCO_OP_WANT_FLAGS && --op->pending > 0)
		return NULL;
	/* The kernel is done with the op: its task is resumed straight off
	 * this CQE, by whoever is walking the CQ. */
	op->task->wait_kind = UCO_WAIT_NONE;
	return op->task;
}
