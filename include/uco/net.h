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
 * Returns 0 with *res to free with freeaddrinfo(), or: -ENOENT (no such
 * host or service), -EAGAIN (temporary failure, try again), -ENOMEM,
 * -EINVAL (bad arguments or flags), -EAFNOSUPPORT, -ECANCELED, -ETIMEDOUT,
 * or the errno of a system error.
 */
UCO_API int uco_getaddrinfo(const char *host, const char *service,
			    const struct addrinfo *hints,
			    struct addrinfo **res);

enum {
	UCO_LISTEN_REUSEPORT = 1, /* SO_REUSEPORT: one listener per core */
	UCO_LISTEN_V6ONLY = 2,    /* an IPv6 listener takes no IPv4 */
};

/*
 * A listening TCP socket on host:port (host NULL or "" or "*": every
 * address, IPv6 dual-stack where available; port "0": the kernel picks,
 * see uco_local_port()).  SO_REUSEADDR is always set.  Suspends (name
 * resolution).  Returns the fd or a negative errno.
 */
UCO_API int uco_listen_tcp(const char *host, const char *port, int backlog,
			   unsigned flags);
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
 * idle connections hold no receive buffer at all.  Not suspending.
 * Returns 0 with *out set, or -EINVAL (bad count or size), -ENOMEM,
 * -EPERM (outside the runtime), -EOPNOTSUPP (the kernel has no buffer
 * rings).
 *
 * The limits, and what happens at each:
 *
 *   - The ring: count buffers, shared by every receiver of the core that
 *     uses it.  When none is free the ring is "dry": a receiver that
 *     needs data then receives into a buffer of its own instead (one
 *     plain receive of up to size bytes, copied from the socket; the
 *     buffer is kept for its next such receive).  Nobody waits for another
 *     connection to give a buffer back, so a connection whose owner stops
 *     reading (a send that blocks, a slow peer) can never stall the
 *     others: a dry ring costs each receiver an SQE per chunk and a buffer
 *     of its own (size bytes, held while it waits for data, freed at
 *     close), as a one-shot receive does.
 *   - The quota: each receiver holds at most uco_bufring_quota() ring
 *     buffers at once, counting those received but not taken yet and
 *     those handed out by uco_mrecv_next() and not yet released.  When it
 *     reaches the quota, its multishot is cancelled (paused); the chunks
 *     the kernel had already delivered before the cancel took effect are
 *     copied into the receiver's own memory and their ring buffers freed
 *     at once, so the quota is never exceeded.  uco_mrecv_next() re-arms
 *     the multishot once the receiver has taken everything queued and
 *     holds fewer than the quota; until then (the owner keeps its buffers)
 *     it receives into its own memory as on a dry ring.  The default is
 *     UCO_BUFRING_QUOTA(count): count / 16, at least 2 (or count, for
 *     a ring of one buffer), at most 32, so a ring of 512 lets 16 stalled
 *     connections pin it before it runs dry.  A quota of 1 would stop the
 *     multishot after every chunk that the owner has not yet released.
 *     (A receiver that reaches its quota pays a cancel, a re-arm and a
 *     copy of what was in flight: with 16 KiB messages 4 deep on 4 KiB
 *     buffers a quota of 8 cost the echo server about 8% more CPU per
 *     round trip, 32 nothing measurable.)
 *
 * So the memory a core's receives take is bounded by the ring (count *
 * size) plus, per receiver, what its owner holds from the fallback and
 * the copies made while pausing (at most the CQEs of one kernel batch).
 */
typedef struct uco_bufring uco_bufring;

#define UCO_BUFRING_QUOTA(count)                                        \
	((count) < 2 ? (unsigned)(count)                                \
	 : (count) / 16 < 2 ? 2u                                        \
	 : (count) / 16 > 32 ? 32u : (unsigned)((count) / 16))

UCO_API int uco_bufring_create(uco_bufring **out, unsigned count,
			       size_t size);
/* Frees it once the last receiver using it is closed.  NULL: no-op. */
UCO_API void uco_bufring_free(uco_bufring *br);
/* Buffers currently given to the kernel (free for receives). */
UCO_API unsigned uco_bufring_available(const uco_bufring *br);
/*
 * Set the per-receiver quota (1 to count; see above).  Applies at once to
 * every receiver on the ring: one already above a lowered quota pauses at
 * its next chunk and keeps what it holds.  On the ring's core.  Not
 * suspending.  Returns 0, or -EINVAL (NULL, freed, or quota out of range),
 * -EXDEV (called on another core), -EPERM (outside the runtime).
 */
UCO_API int uco_bufring_set_quota(uco_bufring *br, unsigned quota);
/* The per-receiver quota; 0 for NULL. */
UCO_API unsigned uco_bufring_quota(const uco_bufring *br);

/*
 * A multishot receive (IORING_OP_RECV with IORING_RECV_MULTISHOT and
 * IOSQE_BUFFER_SELECT) on a connected socket: data arrives into ring
 * buffers as the peer sends, and uco_mrecv_next() hands them out in order.
 * Each buffer handed out must be given back with uco_mrecv_release().
 * When the ring runs dry the kernel ends the multishot (-ENOBUFS), and at
 * the quota the receiver pauses it; either way the data waits in the
 * socket and the next uco_mrecv_next() takes it (see the limits above).
 * Same core only.
 */
typedef struct uco_mrecv uco_mrecv;

typedef struct uco_buf {
	void *data;
	size_t len;
	unsigned id; /* internal: the ring slot, or the receiver's own buffer */
} uco_buf;

/* Not suspending.  Returns 0 with *out set, or -EINVAL, -EBADF (fd < 0),
 * -ENOMEM, -EPERM (outside the runtime), -EXDEV (br is another core's). */
UCO_API int uco_mrecv_open(uco_mrecv **out, int fd, uco_bufring *br);
/*
 * The next chunk of data: returns its length (> 0) with *buf set, 0 when
 * the peer has closed (end of stream), or a negative errno (-ECONNRESET,
 * -ECANCELED, -ETIMEDOUT, -EBADF once closed, -ENOMEM when no buffer of
 * its own could be had...).  Suspends when nothing has arrived.  A call
 * cancelled or timed out loses nothing: the receive it started stays in
 * flight and what it brings is handed out by the next call.  buf->data
 * holds buf->len bytes, in a ring buffer or in the receiver's own memory,
 * until released.
 */
UCO_API ssize_t uco_mrecv_next(uco_mrecv *r, uco_buf *buf);
/* Give a buffer back to the ring (also allowed after uco_mrecv_close();
 * the receiver is freed once its last buffer is back).  Each buffer
 * exactly once.  Not suspending. */
UCO_API void uco_mrecv_release(uco_mrecv *r, uco_buf *buf);

/* What a receiver holds and has done, for tests and monitoring. */
typedef struct uco_mrecv_stats {
	unsigned held;          /* ring buffers held now (queued or out) */
	unsigned held_max;      /* the most it has held at once (<= quota) */
	unsigned quota;         /* the ring's quota now */
	unsigned long pauses;   /* multishots cancelled at the quota */
	unsigned long copied;   /* chunks in its own memory (dry, at quota) */
	unsigned long chunks;   /* chunks received, either way */
	unsigned long bytes;    /* bytes received */
} uco_mrecv_stats;

/* Fill *st.  On the receiver's core.  Not suspending.  Returns 0, or
 * -EINVAL for NULL. */
UCO_API int uco_mrecv_stats_get(const uco_mrecv *r, uco_mrecv_stats *st);
/* Cancel the multishot; data received but not taken goes back to the ring
 * (once the kernel has let go of it).  Does not close fd.  On the
 * receiver's core only (elsewhere it aborts).  NULL: no-op. */
UCO_API void uco_mrecv_close(uco_mrecv *r);

#endif
