/*
 * uco/net.h — sockets on io_uring: TCP (IPv4, IPv6), Unix stream sockets,
 * UDP; multishot accept; multishot receive into a provided buffer ring.
 *
 * The conventions at the top of uco/file.h hold for every call here that
 * is one io_uring op (the one-shot operations): it suspends until its CQE,
 * returns its result or a negative errno, -EPERM outside a task; the
 * task's cancellation cuts it short with -ECANCELED and a timeout scope
 * with -ETIMEDOUT, and an op the kernel completed anyway returns its
 * result (an accepted fd, a count of bytes sent), so nothing is lost or
 * leaked; its buffers are the caller's again when it returns, whatever it
 * returns.  Each call below says where it differs.  Sockets are created
 * with SOCK_CLOEXEC and belong to the caller (close them with uco_close());
 * sends always add MSG_NOSIGNAL, so a peer that went away is -EPIPE for
 * that call, never a SIGPIPE for the process.
 */
#ifndef UCO_NET_H
#define UCO_NET_H

#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <uco/common.h>
#include <uco/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* <netdb.h> defines it only under POSIX feature macros (not -std=c11). */
struct addrinfo;

/* --- one-shot operations ------------------------------------------------ */

/*
 * socket(2) through the ring (IORING_OP_SOCKET), SOCK_CLOEXEC added.
 * Suspends.  Returns the new socket, the caller's; or socket's error
 * (-EAFNOSUPPORT, -EPROTONOSUPPORT, -EMFILE...).  Cancelled or timed out:
 * -ECANCELED / -ETIMEDOUT, or the socket if the kernel had made it.
 */
UCO_MUST_USE
UCO_API int uco_socket(int domain, int type, int protocol);

/*
 * connect(2) fd to addr (len bytes).  Suspends until connected or refused.
 * Returns 0; -EFAULT for a NULL addr; or connect's error (-ECONNREFUSED,
 * -ENETUNREACH, -ETIMEDOUT from TCP itself...).  addr is the caller's.
 * Cancelled or timed out: -ECANCELED / -ETIMEDOUT, and the socket's state
 * is then unknown (a connect may still be in progress): close it.
 */
UCO_MUST_USE
UCO_API int uco_connect(int fd, const struct sockaddr *addr, socklen_t len);

/*
 * accept4(2) one connection on the listening socket fd.  addr/len may be
 * NULL (len must be given with addr: -EFAULT); flags: SOCK_NONBLOCK
 * (SOCK_CLOEXEC is added; others: -EINVAL).  Suspends until a connection
 * comes.  Returns the connection's fd, the caller's; or accept's error
 * (-EMFILE, -ENFILE, -ENOBUFS, -EINVAL when fd does not listen...).
 * Cancelled or timed out: -ECANCELED / -ETIMEDOUT with no connection
 * taken, or the fd of one the kernel had accepted already.
 */
UCO_MUST_USE
UCO_API int uco_accept(int fd, struct sockaddr *addr, socklen_t *len,
		       int flags);

/*
 * recv(2) up to len bytes into buf, with recv's flags.  Suspends until data
 * (or the end of the stream) comes.  Returns the count, 0 when the peer
 * has closed (or for len 0), or recv's error (-ECONNRESET, -EAGAIN with
 * MSG_DONTWAIT...).  Cancelled or timed out: -ECANCELED / -ETIMEDOUT with
 * nothing consumed, or the count of bytes already received.
 */
UCO_MUST_USE
UCO_API ssize_t uco_recv(int fd, void *buf, size_t len, int flags);

/*
 * send(2) up to len bytes from buf, with send's flags and MSG_NOSIGNAL.
 * Suspends while the socket buffer is full (the kernel retries a blocking
 * socket itself).  Returns the count sent, which may be short; or send's
 * error (-EPIPE, -ECONNRESET...).  Cancelled or timed out: -ECANCELED /
 * -ETIMEDOUT with nothing sent, or the count of bytes already sent.
 */
UCO_MUST_USE
UCO_API ssize_t uco_send(int fd, const void *buf, size_t len, int flags);

/*
 * Send all len bytes, looping over short sends (uco_send()).  Suspends.
 * Returns len, or the error that stopped it (then an unknown part may have
 * been sent: the connection is only good for closing).  Cancellation and
 * timeouts stop it the same way: -ECANCELED / -ETIMEDOUT, part sent.
 */
UCO_MUST_USE
UCO_API ssize_t uco_send_all(int fd, const void *buf, size_t len, int flags);

/*
 * recvmsg(2) into *msg (its iovecs, name and control buffers, all the
 * caller's; the kernel writes msg_namelen, msg_controllen and msg_flags).
 * Suspends.  Returns the count, 0 at the end of a stream; -EFAULT for a
 * NULL msg; or recvmsg's error.  Cancellation and timeouts as uco_recv().
 */
UCO_MUST_USE
UCO_API ssize_t uco_recvmsg(int fd, struct msghdr *msg, int flags);

/*
 * sendmsg(2) of *msg, with MSG_NOSIGNAL.  Suspends.  Returns the count
 * sent; -EFAULT for a NULL msg; or sendmsg's error (-EMSGSIZE for a
 * datagram too large...).  msg is only read.  Cancellation and timeouts as
 * uco_send().
 */
UCO_MUST_USE
UCO_API ssize_t uco_sendmsg(int fd, const struct msghdr *msg, int flags);

/*
 * recvfrom(2): uco_recvmsg() of one buffer, the sender's address into
 * from (which may be NULL; with it, fromlen is required: -EFAULT, and is
 * updated to the address's length).  Same results, cancellation and
 * timeouts as uco_recvmsg().
 */
UCO_MUST_USE
UCO_API ssize_t uco_recvfrom(int fd, void *buf, size_t len, int flags,
			     struct sockaddr *from, socklen_t *fromlen);

/*
 * sendto(2): uco_sendmsg() of one buffer to `to` (NULL on a connected
 * socket).  Same results, cancellation and timeouts as uco_sendmsg().
 */
UCO_MUST_USE
UCO_API ssize_t uco_sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *to, socklen_t tolen);
/*
 * Zero-copy send (IORING_OP_SEND_ZC): the kernel sends straight from buf
 * and says when it no longer needs it; the call returns only then, so buf
 * may be reused at once.  Worth it from about 16 KiB up; below
 * UCO_SEND_ZC_MIN it does a plain send instead.  Suspends (until the
 * kernel's notification).  Returns the count sent, or send's error, as
 * uco_send(); cancelled or timed out, it too returns only once the kernel
 * has let go of buf.
 */
#define UCO_SEND_ZC_MIN (16 * 1024)
UCO_MUST_USE
UCO_API ssize_t uco_send_zc(int fd, const void *buf, size_t len, int flags);

/*
 * shutdown(2) with how SHUT_RD, SHUT_WR or SHUT_RDWR (others: -EINVAL).
 * Suspends.  Returns 0 or shutdown's error (-ENOTCONN...).  Cancelled or
 * timed out: -ECANCELED / -ETIMEDOUT, or 0 if it was done.  Does not close
 * fd.
 */
UCO_MUST_USE
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
UCO_MUST_USE
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
 * see uco_local_port()).  SO_REUSEADDR is set (see below); flags are
 * UCO_LISTEN_* (others: -EINVAL); backlog < 0 means 511.  Suspends (name
 * resolution, uco_getaddrinfo()); the socket calls themselves do not
 * block.  Returns the listening fd, the caller's; or -EINVAL (NULL port,
 * unknown flags), a resolver error for an unknown host or service (see
 * uco/error.h), -EADDRINUSE when another socket already listens on the
 * address, or bind's and listen's other errors (-EACCES...).  Cancelled or
 * timed out while resolving: -ECANCELED / -ETIMEDOUT, and no socket is left
 * open.  A restart is not refused for the connections of the last run
 * still in TIME_WAIT (SO_REUSEADDR).
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
 * connects, with TCP_NODELAY set, or the error of the last one.  Suspends.
 * Returns the fd, the caller's; -EINVAL (NULL host or port);
 * uco_getaddrinfo()'s errors; or connect's (-ECONNREFUSED...).  Cancelled
 * or timed out: -ECANCELED / -ETIMEDOUT at once, with no socket left open
 * (the remaining addresses are not tried).
 */
UCO_MUST_USE
UCO_API int uco_connect_tcp(const char *host, const char *port);

/* A bound UDP socket (host and port as for uco_listen_tcp()).  Suspends
 * (name resolution).  Returns the fd, the caller's, or an error as
 * uco_listen_tcp() does; cancellation and timeouts likewise. */
UCO_MUST_USE
UCO_API int uco_bind_udp(const char *host, const char *port);

/*
 * Unix stream sockets.  A path starting with '@' is in the abstract
 * namespace; an empty path or one too long for sun_path is -ENAMETOOLONG,
 * NULL -EINVAL.
 *
 * uco_listen_unix(): a listening socket at path (backlog < 0: 511),
 * replacing a stale socket file (one nobody accepts on).  Does not suspend
 * (socket, bind and listen do not block) and needs no task; cancellation
 * does not affect it.  Returns the fd, the caller's, or bind's and
 * listen's errors (-EADDRINUSE when someone listens there, -EACCES...).
 *
 * uco_connect_unix(): a socket connected to path.  Suspends.  Returns the
 * fd, the caller's, or connect's error (-ENOENT, -ECONNREFUSED...).
 * Cancelled or timed out: -ECANCELED / -ETIMEDOUT, no socket left open.
 */
UCO_API int uco_listen_unix(const char *path, int backlog);
UCO_MUST_USE
UCO_API int uco_connect_unix(const char *path);

/* The port a socket is bound to (host byte order), or a negative errno
 * (getsockname's; -EAFNOSUPPORT for a socket that is not IPv4 or IPv6).
 * Does not suspend; works outside a task too. */
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

/*
 * An acceptor on listen_fd, which stays the caller's (the acceptor does
 * not close it).  Does not suspend; the multishot is armed by the first
 * uco_acceptor_next().  Returns 0 with *out set, to close with
 * uco_acceptor_close(); -EINVAL (NULL out), -EBADF (listen_fd < 0),
 * -ENOMEM, -EPERM (not in a task).
 */
UCO_API int uco_acceptor_open(uco_acceptor **out, int listen_fd);

/*
 * The next connection's fd (SOCK_CLOEXEC), the caller's.  Suspends when
 * none is waiting (a waiting one is returned at once, even in a cancelled
 * task).  Returns the fd, or the kernel's error once (see above); -EBADF
 * once the acceptor is closed; -EINVAL (NULL); -EXDEV from another core;
 * -EPERM outside a task.  Cancelled or timed out while waiting:
 * -ECANCELED / -ETIMEDOUT, and the multishot stays armed: connections that
 * come meanwhile wait for the next call, none is lost.
 */
UCO_MUST_USE
UCO_API int uco_acceptor_next(uco_acceptor *a);
/* Stop accepting: cancels the multishot; connections already accepted but
 * not taken are closed; tasks waiting in uco_acceptor_next() get -EBADF.
 * Does not close listen_fd.  Does not suspend (the acceptor's memory goes
 * once the kernel's last CQE for it has come), and cancellation does not
 * affect it.  On the acceptor's core only (elsewhere it
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

/*
 * Create the ring: count * size bytes of buffers, owned by the ring.  Does
 * not suspend, but registers the ring with one blocking
 * io_uring_register(2) call on the loop thread.  Returns 0 with *out set,
 * to free with uco_bufring_free(); -EINVAL (NULL out, count not a power
 * of two up to 32768, size 0 or above 4 GiB); -ENOMEM; -EOPNOTSUPP (a
 * kernel without provided buffer rings, before 5.19); -EPERM (not in a
 * task).
 */
UCO_API int uco_bufring_create(uco_bufring **out, unsigned count,
			       size_t size);
/* Frees it once the last receiver using it is closed.  Does not suspend.
 * NULL: no-op. */
UCO_API void uco_bufring_free(uco_bufring *br);
/* Buffers currently given to the kernel (free for receives); 0 for NULL.
 * Does not suspend. */
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

/*
 * A receiver on the connected socket fd, which stays the caller's (the
 * receiver does not close it), taking buffers from br (of the same core).
 * Does not suspend; the multishot is armed by the first uco_mrecv_next().
 * Returns 0 with *out set, to close with uco_mrecv_close(); -EINVAL (NULL
 * out or br, or br freed), -EXDEV (br of another core), -EBADF (fd < 0),
 * -ENOMEM, -EPERM (not in a task).
 */
UCO_API int uco_mrecv_open(uco_mrecv **out, int fd, uco_bufring *br);
/*
 * The next chunk of data: returns its length (> 0) with *buf set, 0 when
 * the peer has closed (end of stream), or a negative errno (-ECONNRESET,
 * -ECANCELED, -ETIMEDOUT, -EBADF once closed, -ENOMEM when no buffer of
 * its own could be had...).  Suspends when nothing has arrived (data
 * already queued is returned at once, even in a cancelled task).  The
 * buffer belongs to the caller until uco_mrecv_release(): buf->data holds
 * buf->len bytes, in a ring buffer or in the receiver's own memory.
 * Cancelled or timed out while waiting: -ECANCELED / -ETIMEDOUT, and
 * nothing is lost: the receive it started stays in flight and what it
 * brings is handed out by the next call.  Also -EINVAL (NULL), -EXDEV
 * (another core), -EPERM.
 */
UCO_MUST_USE
UCO_API ssize_t uco_mrecv_next(uco_mrecv *r, uco_buf *buf);
/* Give a buffer back to the ring (also allowed after uco_mrecv_close();
 * the receiver is freed once its last buffer is back).  Each buffer
 * exactly once.  Does not suspend. */
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
 * (once the kernel has let go of it).  Does not close fd.  Does not
 * suspend, and cancellation does not affect it.  On the
 * receiver's core only (elsewhere it aborts).  NULL: no-op. */
UCO_API void uco_mrecv_close(uco_mrecv *r);

#ifdef __cplusplus
}
#endif

#endif
