/*
 * uco/net.h — sockets on io_uring: TCP (IPv4, IPv6), Unix stream sockets,
 * UDP; multishot accept; multishot receive into a provided buffer ring.
 *
 * The conventions of uco/file.h hold: each suspending call is one SQE,
 * returns its result or a negative errno, and honours cancellation
 * (-ECANCELED) and timeout scopes (-ETIMEDOUT).  Sockets are created with
 * SOCK_CLOEXEC; sends always add MSG_NOSIGNAL, so a peer that went away is
 * -EPIPE for that call, never a SIGPIPE for the process.
 */
#ifndef UCO_NET_H
#define UCO_NET_H

#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <uco/common.h>
#include <uco/error.h>

/* --- one-shot operations ------------------------------------------------ */

UCO_API int uco_socket(int domain, int type, int protocol);
UCO_API int uco_connect(int fd, const struct sockaddr *addr, socklen_t len);
/* addr/len may be NULL.  flags: SOCK_NONBLOCK (SOCK_CLOEXEC is added). */
UCO_API int uco_accept(int fd, struct sockaddr *addr, socklen_t *len,
		       int flags);
UCO_API ssize_t uco_recv(int fd, void *buf, size_t len, int flags);
UCO_API ssize_t uco_send(int fd, const void *buf, size_t len, int flags);
/* Send all len bytes, looping over short sends.  Returns len, or the
 * error that stopped it (then an unknown part may have been sent: the
 * connection is only good for closing). */
UCO_API ssize_t uco_send_all(int fd, const void *buf, size_t len, int flags);
UCO_API ssize_t uco_recvmsg(int fd, struct msghdr *msg, int flags);
UCO_API ssize_t uco_sendmsg(int fd, const struct msghdr *msg, int flags);
UCO_API ssize_t uco_recvfrom(int fd, void *buf, size_t len, int flags,
			     struct sockaddr *from, socklen_t *fromlen);
UCO_API ssize_t uco_sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *to, socklen_t tolen);
/*
 * Zero-copy send (IORING_OP_SEND_ZC): the kernel sends straight from buf
 * and says when it no longer needs it; the call returns only then, so buf
 * may be reused at once.  Worth it from about 16 KiB up; below
 * UCO_SEND_ZC_MIN it does a plain send instead.
 */
#define UCO_SEND_ZC_MIN (16 * 1024)
UCO_API ssize_t uco_send_zc(int fd, const void *buf, size_t len, int flags);
UCO_API int uco_shutdown(int fd, int how);

/* --- addresses, listeners, connections ----------------------------------- */

/*
 * getaddrinfo(3) on the offload pool (it blocks on DNS).  Suspends.
 * Returns 0 with *res to free with freeaddrinfo(), or: a resolver error
 * UCO_EAI(EAI_...) (uco/error.h; e.g. UCO_EAI(EAI_NONAME): no such host
 * or service, UCO_EAI(EAI_AGAIN): temporary failure, try again;
 * uco_strerror() says it in getaddrinfo's words), -ENOMEM, -EINVAL (NULL
 * res, or neither host nor service), -ECANCELED, -ETIMEDOUT, or the errno
 * of a system error (EAI_SYSTEM).  A cancelled or timed-out call returns
 * at once; the lookup finishes on its thread and is freed there.
 */
UCO_API int uco_getaddrinfo(const char *host, const char *service,
			    const struct addrinfo *hints,
			    struct addrinfo **res);

enum {
	/* The first of a group of listeners on one port, one per core (see
	 * uco_listen_twin()).  Without this flag a listener is a plain one,
	 * alone on its address. */
	UCO_LISTEN_REUSEPORT = 1,
	UCO_LISTEN_V6ONLY = 2,    /* an IPv6 listener takes no IPv4 */
};

/*
 * A listening TCP socket on host:port (host NULL or "" or "*": every
 * address, IPv6 dual-stack where available; port "0": the kernel picks,
 * see uco_local_port()).  Suspends (name resolution).  Returns the fd or
 * a negative errno: -EADDRINUSE when another socket already listens on
 * the address, a resolver error for an unknown host or service (see
 * uco/error.h), -EINVAL for unknown flags.  A restart is not refused for
 * the connections of the last run still in TIME_WAIT (SO_REUSEADDR).
 *
 * A port is never shared with another program by accident.  Linux lets
 * sockets that all set SO_REUSEPORT share a port when they belong to the
 * same user, and spreads the connections over them: a second server
 * started by mistake on a busy port would listen without a word and take
 * part of the first one's connections.  So:
 *   - without UCO_LISTEN_REUSEPORT, SO_REUSEPORT is not set at all: the
 *     socket is alone on its address, and nobody can join it;
 *   - with UCO_LISTEN_REUSEPORT, the socket is bound *without*
 *     SO_REUSEPORT, and first without SO_REUSEADDR either, so that the
 *     bind fails with -EADDRINUSE when any other socket is bound there
 *     (another process's SO_REUSEPORT group included, and another server
 *     between its own bind and listen); SO_REUSEPORT is set between bind
 *     and listen, so that the caller's own uco_listen_twin() sockets can
 *     join.  Only if that first bind fails is it tried again with
 *     SO_REUSEADDR, which gets past TIME_WAIT connections of an earlier
 *     run but never past a listener.
 * What this leaves, and why we accept it: (1) two servers that start on
 * the same port in the same few microseconds *while TIME_WAIT connections
 * hold it* may both pass the second bind (each before the other listens)
 * and share; closing that would take a lock outside the kernel (a lock
 * file per port) that a crashed server leaves behind.  (2) A program of
 * the same user that sets SO_REUSEPORT itself and binds after we listen
 * joins our group: the kernel allows that on purpose, and that program
 * asked for it; uco's own listeners never do it.
 */
UCO_API int uco_listen_tcp(const char *host, const char *port, int backlog,
			   unsigned flags);
/*
 * Another listening socket on the very address and port fd (from
 * uco_listen_tcp() with UCO_LISTEN_REUSEPORT, or a twin) is bound to, in
 * the same SO_REUSEPORT group: the kernel spreads new connections over
 * the group, e.g. one listener per core.  Does not suspend.  Returns the
 * fd, or -EINVAL (fd has no SO_REUSEPORT), -EADDRINUSE, or the errno of
 * socket/bind/listen.
 */
UCO_API int uco_listen_twin(int fd, int backlog);
/*
 * A connected TCP socket: resolves host:port and tries every address in
 * turn (as asyncio.open_connection does), returning the first that
 * connects, or the error of the last one.
 */
UCO_API int uco_connect_tcp(const char *host, const char *port);
/* A bound UDP socket (host as for uco_listen_tcp). */
UCO_API int uco_bind_udp(const char *host, const char *port);

/* Unix stream sockets.  A path starting with '@' is in the abstract
 * namespace.  uco_listen_unix() replaces a stale socket file. */
UCO_API int uco_listen_unix(const char *path, int backlog);
UCO_API int uco_connect_unix(const char *path);

/* The port a socket is bound to (host byte order), or a negative errno. */
UCO_API int uco_local_port(int fd);

/* --- multishot accept ----------------------------------------------------- */

/*
 * One IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT on a listening socket:
 * the kernel accepts as connections arrive, and uco_acceptor_next() takes
 * them in order (no SQE per connection).  Same core only.  An error from
 * the kernel (-EMFILE, -ENFILE, -ENOBUFS...) is returned once by
 * uco_acceptor_next() and the acceptor re-arms itself on the next call.
 */
typedef struct uco_acceptor uco_acceptor;

UCO_API int uco_acceptor_open(uco_acceptor **out, int listen_fd);
/* The next connection's fd (SOCK_CLOEXEC), or a negative errno.  Suspends. */
UCO_API int uco_acceptor_next(uco_acceptor *a);
/* Stop accepting: cancels the multishot; connections already accepted but
 * not taken are closed; tasks waiting in uco_acceptor_next() get -EBADF.
 * Does not close listen_fd.  On the acceptor's core only (elsewhere it
 * aborts: the multishot lives in that core's ring).  NULL: no-op. */
UCO_API void uco_acceptor_close(uco_acceptor *a);

/* --- multishot receive into a provided buffer ring ------------------------ */

/*
 * A provided buffer ring (IORING_REGISTER_PBUF_RING) of `count` buffers
 * of `size` bytes each on the calling core; count is a power of two up to
 * 32768.  The kernel picks a free buffer for each receive, so a thousand
 * idle connections hold no receive buffer at all.
 */
typedef struct uco_bufring uco_bufring;

UCO_API int uco_bufring_create(uco_bufring **out, unsigned count,
			       size_t size);
/* Frees it once the last receiver using it is closed.  NULL: no-op. */
UCO_API void uco_bufring_free(uco_bufring *br);
/* Buffers currently given to the kernel (free for receives). */
UCO_API unsigned uco_bufring_available(const uco_bufring *br);

/*
 * A multishot receive (IORING_OP_RECV with IORING_RECV_MULTISHOT and
 * IOSQE_BUFFER_SELECT) on a connected socket: data arrives into ring
 * buffers as the peer sends, and uco_mrecv_next() hands them out in order.
 * Each buffer handed out must be given back with uco_mrecv_release().
 * When the ring runs dry the kernel ends the multishot (-ENOBUFS); the
 * receiver re-arms itself when asked for more.  Same core only.
 */
typedef struct uco_mrecv uco_mrecv;

typedef struct uco_buf {
	void *data;
	size_t len;
	unsigned id; /* internal: the ring slot */
} uco_buf;

UCO_API int uco_mrecv_open(uco_mrecv **out, int fd, uco_bufring *br);
/*
 * The next chunk of data: returns its length (> 0) with *buf set, 0 when
 * the peer has closed (end of stream), or a negative errno (-ECONNRESET,
 * -ECANCELED, -ETIMEDOUT...).  Suspends when nothing has arrived.
 */
UCO_API ssize_t uco_mrecv_next(uco_mrecv *r, uco_buf *buf);
/* Give a buffer back to the ring (also allowed after uco_mrecv_close();
 * the receiver is freed once its last buffer is back).  Each buffer
 * exactly once. */
UCO_API void uco_mrecv_release(uco_mrecv *r, uco_buf *buf);
/* Cancel the multishot; data received but not taken goes back to the ring
 * (once the kernel has let go of it).  Does not close fd.  On the
 * receiver's core only (elsewhere it aborts).  NULL: no-op. */
UCO_API void uco_mrecv_close(uco_mrecv *r);

#endif
