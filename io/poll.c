/* uco_poll: one one-shot IORING_OP_POLL_ADD through the op layer. */
#include <errno.h>

#include <uco/poll.h>

#include "io.h"

UCO_API int uco_poll(int fd, unsigned events)
{
	if (fd < 0)
		return -EBADF;
	UCO__IO_RETURN(io_uring_prep_poll_add(sqe, fd, events));
}
