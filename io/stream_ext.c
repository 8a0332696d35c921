/*
 * The shorter forms around streams and servers (issue 14): the peer's and
 * the local address (asyncio's get_extra_info('peername') and
 * 'sockname'), open_connection with a numeric port, and `async with
 * server` as one call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <uco/server.h>
#include <uco/stream.h>

#include "stream_impl.h"

/* Format the address of fd (peer: getpeername, else getsockname). */
static int addr_of(const uco_stream *s, bool peer, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int n;

	if (!s || !buf || !len)
		return -EINVAL;
	if (s->fd < 0)
		return -EBADF;
	if ((peer ? getpeername(s->fd, (struct sockaddr *)&ss, &sl)
		  : getsockname(s->fd, (struct sockaddr *)&ss, &sl)) < 0)
		return -errno;
	switch (ss.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		n = snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		n = snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
		size_t plen = sl > offsetof(struct sockaddr_un, sun_path)
			? sl - offsetof(struct sockaddr_un, sun_path) : 0;

		if (plen && un->sun_path[0] == '\0') /* abstract: '@' */
			n = snprintf(buf, len, "@%.*s", (int)(plen - 1),
				     un->sun_path + 1);
		else
			n = snprintf(buf, len, "%.*s", (int)strnlen(un->sun_path,
				     plen), un->sun_path);
		break;
	}
	default:
		return -EAFNOSUPPORT;
	}
	return n >= 0 && (size_t)n < len ? 0 : -ENOSPC;
}

UCO_API int uco_stream_peername(const uco_stream *s, char *buf, size_t len)
{
	return addr_of(s, true, buf, len);
}

UCO_API int uco_stream_sockname(const uco_stream *s, char *buf, size_t len)
{
	return addr_of(s, false, buf, len);
}

UCO_API int uco_open_connection_port(uco_stream **out, const char *host,
				     int port, const uco_stream_opts *opts)
{
	char p[8];

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (port < 0 || port > 65535)
		return -EINVAL;
	snprintf(p, sizeof(p), "%d", port);
	return uco_open_connection(out, host, p, opts);
}

UCO_API int uco_server_with(uco_server *srv, int (*body)(uco_server *srv,
							  void *arg),
			    void *arg)
{
	int r, e;

	if (!srv || !body) {
		uco_server_free(srv);
		return -EINVAL;
	}
	r = body(srv, arg);
	/* __aexit__: stop accepting, and wait for the connections to end by
	 * themselves (a cancel or a timeout of the caller cuts that short:
	 * then free() cancels them). */
	e = uco_server_shutdown(srv, UINT64_MAX);
	uco_server_free(srv);
	return r < 0 ? r : e;
}
