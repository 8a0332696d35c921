/*
 * Sockets: every call one SQE through the op layer (see io/io.h).
 * Sockets are created close-on-exec; sends carry MSG_NOSIGNAL.
 */
#include <errno.h>
#include <string.h>

#include <uco/net.h>

#include "io.h"

UCO_API int uco_socket(int domain, int type, int protocol)
{
	UCO__IO_RETURN(io_uring_prep_socket(sqe, domain, type | SOCK_CLOEXEC,
					    protocol, 0));
}

UCO_API int uco_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (!addr)
		return -EFAULT;
	UCO__IO_RETURN(io_uring_prep_connect(sqe, fd, addr, len));
}

UCO_API int uco_accept(int fd, struct sockaddr *addr, socklen_t *len,
		       int flags)
{
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (addr && !len)
		return -EFAULT;
	UCO__IO_RETURN(io_uring_prep_accept(sqe, fd, addr, len,
					    flags | SOCK_CLOEXEC));
}

UCO_API ssize_t uco_recv(int fd, void *buf, size_t len, int flags)
{
	UCO__IO_RETURN(io_uring_prep_recv(sqe, fd, buf, len, flags));
}

UCO_API ssize_t uco_send(int fd, const void *buf, size_t len, int flags)
{
	UCO__IO_RETURN(io_uring_prep_send(sqe, fd, buf, len,
					  flags | MSG_NOSIGNAL));
}

UCO_API ssize_t uco_send_all(int fd, const void *buf, size_t len, int flags)
{
	const char *p = buf;
	size_t done = 0;

	/* A stream socket's send may be short (a signal, a full buffer
	 * with MSG_DONTWAIT); io_uring retries a blocking one itself, so
	 * this loop rarely turns more than once. */
	do {
		ssize_t n = uco_send(fd, p + done, len - done, flags);
		if (n < 0)
			return n;
		done += (size_t)n;
	} while (done < len);
	return (ssize_t)done;
}

UCO_API ssize_t uco_recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (!msg)
		return -EFAULT;
	UCO__IO_RETURN(io_uring_prep_recvmsg(sqe, fd, msg, (unsigned)flags));
}

UCO_API ssize_t uco_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!msg)
		return -EFAULT;
	UCO__IO_RETURN(io_uring_prep_sendmsg(sqe, fd, msg,
					     (unsigned)flags | MSG_NOSIGNAL));
}

UCO_API ssize_t uco_recvfrom(int fd, void *buf, size_t len, int flags,
			     struct sockaddr *from, socklen_t *fromlen)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = from,
		.msg_namelen = from && fromlen ? *fromlen : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	ssize_t n;

	if (from && !fromlen)
		return -EFAULT;
	n = uco_recvmsg(fd, &msg, flags);
	if (n >= 0 && from)
		*fromlen = msg.msg_namelen;
	return n;
}

UCO_API ssize_t uco_sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *to, socklen_t tolen)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = (void *)to,
		.msg_namelen = to ? tolen : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};

	return uco_sendmsg(fd, &msg, flags);
}

UCO_API ssize_t uco_send_zc(int fd, const void *buf, size_t len, int flags)
{
	if (len < UCO_SEND_ZC_MIN)
		return uco_send(fd, buf, len, flags);
	/* The op layer resumes the task only at the notification CQE, when
	 * the kernel is done with buf (see core/op.c). */
	UCO__IO_RETURN(io_uring_prep_send_zc(sqe, fd, buf, len,
					     flags | MSG_NOSIGNAL, 0));
}

UCO_API int uco_shutdown(int fd, int how)
{
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	UCO__IO_RETURN(io_uring_prep_shutdown(sqe, fd, how));
}
