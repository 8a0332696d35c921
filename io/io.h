/*
 * io/io.h — what the io/ files share: one-SQE operations through the op
 * layer (core/op.h), so that every I/O call is cancellable and bounded by
 * timeout scopes in exactly the same way.
 */
#ifndef UCO_IO_IO_H
#define UCO_IO_IO_H

#include <liburing.h>

#include "core/opfast.h"

/*
 * The body of a one-SQE call: reserve an SQE (and its linked timeout's),
 * let `prep` fill *sqe, submit, suspend until the kernel is done, return
 * the mapped result.  `prep` is a statement using the name `sqe`.
 */
#define UCO__IO_RETURN(prep)                                                  \
	do {                                                                  \
		struct uco__op io_op_;                                        \
		struct io_uring_sqe *sqe;                                     \
		int io_r_ = uco__op_begin(&io_op_, &sqe);                     \
		if (io_r_ < 0)                                                \
			return io_r_;                                         \
		prep;                                                         \
		return uco__op_wait(&io_op_, sqe);                            \
	} while (0)

/* The calling task's loop, or NULL outside a task. */
struct uco__loop *uco__io_loop(void);

#endif
