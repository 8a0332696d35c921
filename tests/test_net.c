/*
 * Suite "net": sockets on io_uring (include/uco/net.h): TCP over IPv4 and
 * IPv6, Unix stream sockets, UDP; refused and unreachable connections;
 * timeouts on accept, recv and connect; a peer that hangs up; multishot
 * accept (incl. EMFILE in a child with a low RLIMIT_NOFILE); multishot
 * receive into a provided buffer ring, whose buffers all come back when it
 * is cancelled or closed.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

/* Name resolution fills glibc's process-wide caches (NSS modules, the
 * resolver configuration, and each thread's TLS vector grown for the NSS
 * modules' TLS, kept with glibc's cached thread stacks) on first use;
 * that memory is not the runtime's, so it is allocated before any leak
 * check counts bytes, on as many offload threads as resolutions can
 * overlap on. */
static void *warm_resolver_task(void *arg)
{
	struct addrinfo *res;

	if (uco_getaddrinfo("localhost", "80", NULL, &res) == 0)
		freeaddrinfo(res);
	if (uco_getaddrinfo("127.0.0.1", "0", NULL, &res) == 0)
		freeaddrinfo(res);
	if (uco_getaddrinfo(NULL, "no-such-service-x", NULL, &res) == 0)
		freeaddrinfo(res);
	return NULL;
}

static void body_warm_resolver(void *arg)
{
	uco_task *t[8];

	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(uco_spawn(&t[i], warm_resolver_task, NULL, NULL),
				 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
}

static void net_run(void (*body)(void *), void *arg)
{
	th_run(body_warm_resolver, NULL, NULL);
	lc_run(body, arg, NULL);
}

/* What the machine must have for some tests: IPv6 on the loopback device
 * (disabled in some containers), and the name localhost (from /etc/hosts,
 * which a minimal root may lack).  Checked with plain calls, before the
 * runtime starts; the reason if missing, else NULL. */
static const char *no_ipv6_loopback(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	static char why[128];
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));

	if (r == 0) {
		close(fd);
		return NULL;
	}
	snprintf(why, sizeof(why), "no IPv6 on the loopback device (::1): %s",
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return why;
}

static const char *no_localhost(void)
{
	static char why[128];
	struct addrinfo *res;
	int r = getaddrinfo("localhost", NULL, NULL, &res);

	if (r == 0) {
		freeaddrinfo(res);
		return NULL;
	}
	snprintf(why, sizeof(why), "the name localhost does not resolve "
		 "(no /etc/hosts entry?): %s", gai_strerror(r));
	return why;
}

static void fill(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)((i * 131 + seed) & 0xff);
}

static void port_str(int fd, char *out, size_t cap)
{
	int port = uco_local_port(fd);

	ck_assert_int_gt(port, 0);
	snprintf(out, cap, "%d", port);
}

/* A listener on host (port chosen by the kernel) and a connected pair. */
struct pair {
	int lfd, client, server;
};

static void pair_open(struct pair *p, const char *host)
{
	char port[16];

	p->lfd = uco_listen_tcp(host, "0", 16, 0);
	ck_assert_int_ge(p->lfd, 0);
	port_str(p->lfd, port, sizeof(port));
	p->client = uco_connect_tcp(host, port);
	ck_assert_int_ge(p->client, 0);
	p->server = uco_accept(p->lfd, NULL, NULL, 0);
	ck_assert_int_ge(p->server, 0);
}

static void pair_close(struct pair *p)
{
	if (p->client >= 0)
		ck_assert_int_eq(uco_close(p->client), 0);
	if (p->server >= 0)
		ck_assert_int_eq(uco_close(p->server), 0);
	ck_assert_int_eq(uco_close(p->lfd), 0);
}

/* ---- TCP ------------------------------------------------------------------ */

struct echo {
	int fd;
	size_t len;
};

static void *echo_task(void *arg)
{
	struct echo *e = arg;
	char buf[4096];
	ssize_t n;

	while ((n = uco_recv(e->fd, buf, sizeof(buf), 0)) > 0) {
		ck_assert_int_eq(uco_send_all(e->fd, buf, (size_t)n, 0), n);
		e->len += (size_t)n;
	}
	ck_assert_int_eq(n, 0);
	return NULL;
}

static void tcp_echo(const char *host)
{
	struct pair p;
	struct echo e = { 0 };
	uco_task *t;
	static char out[200000], in[200000];

	pair_open(&p, host);
	e.fd = p.server;
	ck_assert_int_eq(uco_spawn(&t, echo_task, &e, NULL), 0);
	fill(out, sizeof(out), 1);
	for (size_t off = 0; off < sizeof(out);) {
		size_t n = sizeof(out) - off < 7000 ? sizeof(out) - off : 7000;
		ck_assert_int_eq(uco_send_all(p.client, out + off, n, 0), n);
		ck_assert_int_eq(uco_read_full(p.client, in + off, n, -1), n);
		off += n;
	}
	ck_assert_mem_eq(in, out, sizeof(out));
	ck_assert_int_eq(uco_shutdown(p.client, SHUT_WR), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_uint_eq(e.len, sizeof(out));
	/* The server side saw EOF; the client reads EOF once the server
	 * closes. */
	ck_assert_int_eq(uco_close(p.server), 0);
	p.server = -1;
	ck_assert_int_eq(uco_recv(p.client, in, 10, 0), 0);
	pair_close(&p);
}

static void body_tcp4(void *arg)
{
	tcp_echo("127.0.0.1");
}

START_TEST(tcp4)
{
	net_run(body_tcp4, NULL);
}
END_TEST

static void body_tcp6(void *arg)
{
	tcp_echo("::1");
}

START_TEST(tcp6)
{
	const char *why = no_ipv6_loopback();

	if (why)
		TH_SKIP("%s", why);
	net_run(body_tcp6, NULL);
}
END_TEST

/* The wildcard listener is dual-stack: IPv4 and IPv6 clients both reach it. */
static void body_dual_stack(void *arg)
{
	char port[16], c;
	int lfd = uco_listen_tcp(NULL, "0", 16, 0);
	int a, b, s1, s2;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	ck_assert_int_ge(lfd, 0);
	port_str(lfd, port, sizeof(port));
	a = uco_connect_tcp("127.0.0.1", port);
	b = uco_connect_tcp("::1", port);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	s1 = uco_accept(lfd, (struct sockaddr *)&ss, &len, 0);
	ck_assert_int_ge(s1, 0);
	ck_assert_uint_gt(len, 0);
	s2 = uco_accept(lfd, NULL, NULL, SOCK_NONBLOCK);
	ck_assert_int_ge(s2, 0);
	ck_assert(fcntl(s2, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(s2, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(uco_send(a, "x", 1, 0), 1);
	ck_assert_int_eq(uco_recv(s1, &c, 1, 0), 1);
	ck_assert_int_eq(uco_accept(lfd, NULL, NULL, 0x1000), -EINVAL);
	ck_assert_int_eq(uco_accept(lfd, (struct sockaddr *)&ss, NULL, 0),
			 -EFAULT);
	close(a);
	close(b);
	close(s1);
	close(s2);
	close(lfd);
}

START_TEST(dual_stack)
{
	const char *why = no_ipv6_loopback();

	if (why)
		TH_SKIP("%s", why);
	net_run(body_dual_stack, NULL);
}
END_TEST

/* ---- failures: refused, unreachable, hang-ups ------------------------------ */

static void body_refused(void *arg)
{
	char port[16];
	int r, lfd = uco_listen_tcp("127.0.0.1", "0", 1, 0);

	ck_assert_int_ge(lfd, 0);
	port_str(lfd, port, sizeof(port));
	close(lfd); /* nobody listens there now */
	ck_assert_int_eq(uco_connect_tcp("127.0.0.1", port), -ECONNREFUSED);
	ck_assert_int_eq(uco_connect_unix("@uco-test-nobody-listens"),
			 -ECONNREFUSED);
	ck_assert_int_eq(uco_connect_unix("/nonexistent/uco.sock"), -ENOENT);
	/* Bad arguments and unknown names. */
	ck_assert_int_eq(uco_connect_tcp(NULL, port), -EINVAL);
	ck_assert_int_eq(uco_listen_tcp("127.0.0.1", NULL, 1, 0), -EINVAL);
	ck_assert_int_eq(uco_listen_tcp("127.0.0.1", "0", 1, 0x100), -EINVAL);
	r = uco_listen_tcp("127.0.0.1", "no-such-service-x", 1, 0);
	ck_assert_msg(r == UCO_EAI(EAI_SERVICE) || r == UCO_EAI(EAI_NONAME),
		      "unknown service: %d (%s)", r, uco_strerror(r));
}

START_TEST(refused)
{
	net_run(body_refused, NULL);
}
END_TEST

/* 192.0.2.1 (TEST-NET-1) is never routed: a connect there fails at once
 * (no route; a sandbox may answer with a reset) or hangs until the
 * timeout. */
static int connect_unroutable(void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(9) };
	int fd = uco_socket(AF_INET, SOCK_STREAM, 0), r;

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
	r = uco_connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return r;
}

/* A connect that hangs for sure: to a listener whose accept queue is
 * full, which drops SYNs until someone accepts. */
static int connect_port(void *arg)
{
	return uco_connect_tcp("127.0.0.1", arg);
}

static void body_unreachable(void *arg)
{
	char port[16];
	int r, s, lfd, c[8], n = 0;

	r = uco_wait_for(100 * MS, connect_unroutable, NULL);
	ck_assert_msg(r == -ETIMEDOUT || r == -ENETUNREACH ||
			      r == -EHOSTUNREACH || r == -ECONNREFUSED,
		      "connect to an unroutable address: %s", strerror(-r));

	lfd = uco_listen_tcp("127.0.0.1", "0", 0, 0);
	ck_assert_int_ge(lfd, 0);
	port_str(lfd, port, sizeof(port));
	/* Fill the queue: the first connects complete (backlog + 1). */
	for (;;) {
		r = uco_wait_for(200 * MS, connect_port, port);
		if (r < 0)
			break;
		ck_assert_int_lt(n, 8);
		c[n++] = r;
	}
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_int_ge(n, 1);
	/* The same under a scope. */
	s = uco_timeout_begin(50 * MS);
	ck_assert_int_eq(uco_connect_tcp("127.0.0.1", port), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	while (n > 0)
		close(c[--n]);
	close(lfd);
}

START_TEST(unreachable)
{
	net_run(body_unreachable, NULL);
}
END_TEST

static void body_hangup(void *arg)
{
	struct pair p;
	static char big[1 << 20];
	char buf[16];
	ssize_t r;

	pair_open(&p, "127.0.0.1");
	/* Mid-read: the peer closes, the read ends with 0 (end of stream). */
	ck_assert_int_eq(uco_send(p.server, "ab", 2, 0), 2);
	ck_assert_int_eq(uco_close(p.server), 0);
	p.server = -1;
	ck_assert_int_eq(uco_recv(p.client, buf, sizeof(buf), 0), 2);
	ck_assert_int_eq(uco_recv(p.client, buf, sizeof(buf), 0), 0);
	/* Mid-write: the peer is gone; sending fails with -EPIPE or
	 * -ECONNRESET, never a SIGPIPE (the test would die of it). */
	do {
		r = uco_send(p.client, big, sizeof(big), 0);
	} while (r > 0);
	ck_assert_msg(r == -EPIPE || r == -ECONNRESET, "send: %zd", r);
	r = uco_send_all(p.client, big, sizeof(big), 0);
	ck_assert_msg(r == -EPIPE || r == -ECONNRESET, "send_all: %zd", r);
	pair_close(&p);
}

START_TEST(hangup)
{
	net_run(body_hangup, NULL);
}
END_TEST

/* ---- timeouts and cancellation on accept, recv ------------------------------- */

static int accept_op(void *arg)
{
	return uco_accept(*(int *)arg, NULL, NULL, 0);
}

struct recv_arg {
	int fd;
	char buf[32];
	ssize_t r;
};

static void *recv_task(void *arg)
{
	struct recv_arg *a = arg;

	a->r = uco_recv(a->fd, a->buf, sizeof(a->buf), 0);
	return NULL;
}

static void body_timeouts(void *arg)
{
	struct pair p;
	struct recv_arg ra = { .r = 1 };
	uco_task *t;
	char c;
	int s;

	pair_open(&p, "127.0.0.1");
	ck_assert_int_eq(uco_wait_for(20 * MS, accept_op, &p.lfd), -ETIMEDOUT);
	s = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(uco_recv(p.client, &c, 1, 0), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	/* Cancelled mid-recv: -ECANCELED; the socket keeps working and the
	 * byte sent afterwards is not lost. */
	ra.fd = p.client;
	ck_assert_int_eq(uco_spawn(&t, recv_task, &ra, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(ra.r, -ECANCELED);
	ck_assert_int_eq(uco_send(p.server, "k", 1, 0), 1);
	ck_assert_int_eq(uco_recv(p.client, &c, 1, 0), 1);
	ck_assert_int_eq(c, 'k');
	pair_close(&p);
}

START_TEST(timeouts)
{
	net_run(body_timeouts, NULL);
}
END_TEST

/* ---- msg, zero copy, UDP, Unix ------------------------------------------------- */

static void body_msg_zc(void *arg)
{
	struct pair p;
	char a[10] = "0123456789", b[20], x[10], y[20];
	struct iovec out[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct iovec in[2] = { { x, sizeof(x) }, { y, sizeof(y) } };
	struct msghdr mo = { .msg_iov = out, .msg_iovlen = 2 };
	struct msghdr mi = { .msg_iov = in, .msg_iovlen = 2 };
	size_t big = 1 << 20;
	char *src = malloc(big), *dst = malloc(big);
	struct echo e = { 0 };
	uco_task *t;

	pair_open(&p, "127.0.0.1");
	fill(b, sizeof(b), 4);
	ck_assert_int_eq(uco_sendmsg(p.client, &mo, 0), 30);
	ck_assert_int_eq(uco_recvmsg(p.server, &mi, MSG_WAITALL), 30);
	ck_assert_mem_eq(x, a, 10);
	ck_assert_mem_eq(y, b, 20);
	ck_assert_int_eq(uco_sendmsg(p.client, NULL, 0), -EFAULT);
	/* Zero copy: 1 MiB echoed back and verified; the call returns only
	 * when the kernel is done with src, so it is reused at once. */
	fill(src, big, 8);
	e.fd = p.server;
	ck_assert_int_eq(uco_spawn(&t, echo_task, &e, NULL), 0);
	for (int round = 0; round < 3; round++) {
		ssize_t n = uco_send_zc(p.client, src, big, 0);
		ck_assert_msg(n > 0, "send_zc: %zd", n);
		ck_assert_int_eq(uco_send_all(p.client, src + n, big - (size_t)n,
					      0),
				 big - (size_t)n);
		ck_assert_int_eq(uco_read_full(p.client, dst, big, -1), big);
		ck_assert_mem_eq(dst, src, big);
		src[round] ^= 0x55; /* reuse right away */
	}
	/* Small sends take the plain path. */
	ck_assert_int_eq(uco_send_zc(p.client, "tiny", 4, 0), 4);
	ck_assert_int_eq(uco_read_full(p.client, dst, 4, -1), 4);
	ck_assert_int_eq(uco_shutdown(p.client, SHUT_WR), 0);
	ck_assert_int_eq(uco_shutdown(p.client, 99), -EINVAL);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	pair_close(&p);
	free(src);
	free(dst);
}

START_TEST(msg_zc)
{
	net_run(body_msg_zc, NULL);
}
END_TEST

static void body_udp(void *arg)
{
	char pa[16], buf[64];
	int a = uco_bind_udp("127.0.0.1", "0"), b = uco_bind_udp("127.0.0.1", "0");
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);

	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	port_str(a, pa, sizeof(pa));
	to.sin_port = htons((uint16_t)atoi(pa));
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	/* b -> a, then a answers to the sender's address. */
	for (int i = 0; i < 100; i++) {
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "datagram %d", i);

		ck_assert_int_eq(uco_sendto(b, msg, (size_t)n, 0,
					    (struct sockaddr *)&to, sizeof(to)),
				 n);
		flen = sizeof(from);
		ck_assert_int_eq(uco_recvfrom(a, buf, sizeof(buf), 0,
					      (struct sockaddr *)&from, &flen),
				 n);
		ck_assert_mem_eq(buf, msg, (size_t)n);
		ck_assert_uint_eq(flen, sizeof(struct sockaddr_in));
		ck_assert_int_eq(((struct sockaddr_in *)&from)->sin_port,
				 htons((uint16_t)uco_local_port(b)));
		ck_assert_int_eq(uco_sendto(a, buf, (size_t)n, 0,
					    (struct sockaddr *)&from, flen),
				 n);
		ck_assert_int_eq(uco_recvfrom(b, buf, sizeof(buf), 0, NULL, NULL),
				 n);
	}
	/* Datagram boundaries: a short buffer truncates one datagram. */
	ck_assert_int_eq(uco_sendto(b, "0123456789", 10, 0,
				    (struct sockaddr *)&to, sizeof(to)), 10);
	ck_assert_int_eq(uco_recvfrom(a, buf, 4, 0, NULL, NULL), 4);
	ck_assert_int_eq(uco_recvfrom(a, buf, 4, 0, (struct sockaddr *)&from,
				      NULL), -EFAULT);
	close(a);
	close(b);
}

START_TEST(udp)
{
	net_run(body_udp, NULL);
}
END_TEST

static void unix_roundtrip(const char *path)
{
	int lfd = uco_listen_unix(path, 8), c, s;
	char buf[8];

	ck_assert_int_ge(lfd, 0);
	c = uco_connect_unix(path);
	ck_assert_int_ge(c, 0);
	s = uco_accept(lfd, NULL, NULL, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(uco_send(c, "unix", 4, 0), 4);
	ck_assert_int_eq(uco_recv(s, buf, sizeof(buf), 0), 4);
	ck_assert_mem_eq(buf, "unix", 4);
	ck_assert_int_eq(uco_send(s, "back", 4, 0), 4);
	ck_assert_int_eq(uco_recv(c, buf, sizeof(buf), 0), 4);
	ck_assert_mem_eq(buf, "back", 4);
	close(c);
	close(s);
	close(lfd);
}

static void body_unix(void *arg)
{
	char path[108];
	int lfd;

	snprintf(path, sizeof(path), "/tmp/uco-test-%d.sock", (int)getpid());
	unlink(path);
	unix_roundtrip(path);
	/* The socket file is left behind (as with any Unix socket); a new
	 * listener replaces it since nobody listens there. */
	unix_roundtrip(path);
	/* ...but not one somebody listens on. */
	lfd = uco_listen_unix(path, 1);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(uco_listen_unix(path, 1), -EADDRINUSE);
	close(lfd);
	unlink(path);
	snprintf(path, sizeof(path), "@uco-test-%d", (int)getpid());
	unix_roundtrip(path);
	ck_assert_int_eq(uco_listen_unix("", 1), -ENAMETOOLONG);
	ck_assert_int_eq(uco_listen_unix(NULL, 1), -EINVAL);
}

START_TEST(unix_stream)
{
	net_run(body_unix, NULL);
}
END_TEST

static void body_resolve(void *arg)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST };
	struct addrinfo *res = (void *)1;

	ck_assert_int_eq(uco_getaddrinfo("127.0.0.1", "80", &hints, &res), 0);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(res->ai_family, AF_INET);
	ck_assert_int_eq(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port),
			 80);
	freeaddrinfo(res);
	ck_assert_int_eq(uco_getaddrinfo("localhost", NULL, NULL, &res), 0);
	freeaddrinfo(res);
	ck_assert_int_eq(uco_getaddrinfo("not-a-number", "80", &hints, &res),
			 UCO_EAI(EAI_NONAME));
	ck_assert_str_eq(uco_strerror(UCO_EAI(EAI_NONAME)),
			 gai_strerror(EAI_NONAME));
	ck_assert_ptr_null(res);
	ck_assert_int_eq(uco_getaddrinfo(NULL, NULL, NULL, &res), -EINVAL);
	ck_assert_int_eq(uco_getaddrinfo("x", "1", NULL, NULL), -EINVAL);
	hints.ai_flags = 0x7fff0000;
	ck_assert_int_lt(uco_getaddrinfo("127.0.0.1", "80", &hints, &res), 0);
}

/* uco_strerror: errnos in glibc's words, resolver codes in getaddrinfo's,
 * never NULL. */
START_TEST(strerror_words)
{
	ck_assert_str_eq(uco_strerror(0), "Success");
	ck_assert_str_eq(uco_strerror(-ECONNREFUSED), "Connection refused");
	ck_assert_str_eq(uco_strerror(ECONNREFUSED), "Connection refused");
	ck_assert_str_eq(uco_strerror(-EADDRINUSE), "Address already in use");
	ck_assert_str_eq(uco_strerror(UCO_EAI(EAI_NONAME)),
			 "Name or service not known");
	ck_assert_str_eq(uco_strerror(UCO_EAI(EAI_AGAIN)),
			 gai_strerror(EAI_AGAIN));
	ck_assert(UCO_IS_EAI(UCO_EAI(EAI_NONAME)));
	ck_assert(UCO_IS_EAI(UCO_EAI(EAI_SYSTEM)));
	ck_assert_int_eq(UCO_EAI_CODE(UCO_EAI(EAI_SERVICE)), EAI_SERVICE);
	/* No errno is in the resolver's range, nor the other way round. */
	for (int e = 1; e < 4096; e++)
		ck_assert(!UCO_IS_EAI(-e));
	ck_assert(!UCO_IS_EAI(-UCO_EAI_BASE));
	ck_assert_str_eq(uco_strerror(-100000), "Unknown error");
	ck_assert_str_eq(uco_strerror(INT_MIN), "Unknown error");
	ck_assert_str_eq(uco_strerror(INT_MAX), "Unknown error");
}
END_TEST

/* A listener is alone on its port unless it asks for a group, and a group
 * admits only twins of its first socket: a second listener of any kind
 * gets -EADDRINUSE. */
static void body_listen_alone(void *arg)
{
	char port[16];
	int a, b, t, twin;

	(void)arg;
	/* Plain: nobody joins, not even a group's first. */
	a = uco_listen_tcp("127.0.0.1", "0", 8, 0);
	ck_assert_int_ge(a, 0);
	port_str(a, port, sizeof(port));
	ck_assert_int_eq(uco_listen_tcp("127.0.0.1", port, 8, 0), -EADDRINUSE);
	ck_assert_int_eq(uco_listen_tcp("127.0.0.1", port, 8,
					UCO_LISTEN_REUSEPORT),
			 -EADDRINUSE);
	ck_assert_int_eq(uco_listen_twin(a, 8), -EINVAL);
	close(a);

	/* A group: its twins join, a second group's first does not. */
	a = uco_listen_tcp("127.0.0.1", "0", 8, UCO_LISTEN_REUSEPORT);
	ck_assert_int_ge(a, 0);
	port_str(a, port, sizeof(port));
	twin = uco_listen_twin(a, 8);
	ck_assert_int_ge(twin, 0);
	ck_assert_int_eq(uco_local_port(twin), uco_local_port(a));
	t = uco_listen_twin(twin, 8); /* a twin's twin is one too */
	ck_assert_int_ge(t, 0);
	close(t);
	ck_assert_int_eq(uco_listen_tcp("127.0.0.1", port, 8,
					UCO_LISTEN_REUSEPORT),
			 -EADDRINUSE);
	ck_assert_int_eq(uco_listen_tcp("127.0.0.1", port, 8, 0), -EADDRINUSE);
	/* The group takes connections: each lands on one of the two. */
	for (int i = 0; i < 8; i++) {
		int c = uco_connect_tcp("127.0.0.1", port);

		ck_assert_int_ge(c, 0);
		close(c);
	}
	close(twin);
	close(a);
	/* Another server between its bind and its listen (bound as a group's
	 * first is: without SO_REUSEADDR) holds the port against a group's
	 * first, whose bind with SO_REUSEADDR fails too. */
	a = uco_listen_tcp("127.0.0.1", "0", 8, UCO_LISTEN_REUSEPORT);
	ck_assert_int_ge(a, 0);
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int one = 1;

		port_str(a, port, sizeof(port));
		ck_assert_int_eq(getsockname(a, (struct sockaddr *)&ss, &len), 0);
		close(a);
		b = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(b, 0);
		ck_assert_int_eq(bind(b, (struct sockaddr *)&ss, len), 0);
		ck_assert_int_eq(setsockopt(b, SOL_SOCKET, SO_REUSEPORT, &one,
					    sizeof(one)),
				 0);
		ck_assert_int_eq(uco_listen_tcp("127.0.0.1", port, 8,
						UCO_LISTEN_REUSEPORT),
				 -EADDRINUSE);
		close(b);
	}

	/* A restart: the last run's connections, closed by the server first,
	 * still hold the port (TIME_WAIT); a group's first gets it. */
	a = uco_listen_tcp("127.0.0.1", "0", 8, UCO_LISTEN_REUSEPORT);
	ck_assert_int_ge(a, 0);
	port_str(a, port, sizeof(port));
	{
		char ch;
		int c = uco_connect_tcp("127.0.0.1", port);
		int s = uco_accept(a, NULL, NULL, 0);

		ck_assert_int_ge(c, 0);
		ck_assert_int_ge(s, 0);
		close(s);                       /* the server closes first */
		ck_assert_int_eq(uco_recv(c, &ch, 1, 0), 0);
		close(c);
	}
	close(a);
	a = uco_listen_tcp("127.0.0.1", port, 8, UCO_LISTEN_REUSEPORT);
	ck_assert_msg(a >= 0, "restart on port %s: %s", port, uco_strerror(a));
	close(a);

	ck_assert_int_eq(uco_listen_twin(-1, 8), -EBADF);
	b = uco_socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(uco_listen_twin(b, 8), -EINVAL);
	close(b);
}

START_TEST(listen_alone)
{
	net_run(body_listen_alone, NULL);
}
END_TEST

START_TEST(resolve)
{
	const char *why = no_localhost();

	if (why)
		TH_SKIP("%s", why);
	net_run(body_resolve, NULL);
}
END_TEST

/* ---- multishot accept -------------------------------------------------------- */

static void body_acceptor(void *arg)
{
	enum { N = 100 };
	char port[16];
	int lfd = uco_listen_tcp("127.0.0.1", "0", N, 0), c[N];
	uco_acceptor *a;

	ck_assert_int_ge(lfd, 0);
	port_str(lfd, port, sizeof(port));
	ck_assert_int_eq(uco_acceptor_open(&a, lfd), 0);
	for (int i = 0; i < N; i++) {
		c[i] = uco_connect_tcp("127.0.0.1", port);
		ck_assert_int_ge(c[i], 0);
	}
	/* In order: client i's byte arrives on the i-th accepted socket. */
	for (int i = 0; i < N; i++) {
		unsigned char b = (unsigned char)i, got;
		int s = uco_acceptor_next(a);

		ck_assert_int_ge(s, 0);
		ck_assert(fcntl(s, F_GETFD) & FD_CLOEXEC);
		ck_assert_int_eq(uco_send(c[i], &b, 1, 0), 1);
		ck_assert_int_eq(uco_recv(s, &got, 1, 0), 1);
		ck_assert_int_eq(got, b);
		close(s);
	}
	/* Connections accepted but never taken are closed by close(). */
	for (int i = 0; i < 5; i++)
		ck_assert_int_ge(uco_connect_tcp("127.0.0.1", port), 0);
	ck_assert_int_eq(uco_sleep(20 * MS), 0); /* let the CQEs come in */
	uco_acceptor_close(a);
	uco_acceptor_close(NULL);
	for (int i = 0; i < N; i++)
		close(c[i]);
	/* The five client fds: find and close them (the leak check counts
	 * every fd). */
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (fd != lfd && getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    ((struct sockaddr_in *)&ss)->sin_port == htons((uint16_t)atoi(port)))
			close(fd);
	}
	close(lfd);
	ck_assert_int_eq(uco_acceptor_open(NULL, 0), -EINVAL);
	ck_assert_int_eq(uco_acceptor_open(&a, -1), -EBADF);
	ck_assert_int_eq(uco_acceptor_next(NULL), -EINVAL);
}

START_TEST(acceptor)
{
	net_run(body_acceptor, NULL);
}
END_TEST

struct acc_arg {
	uco_acceptor *a;
	int r;
};

static void *acc_task(void *arg)
{
	struct acc_arg *x = arg;

	x->r = uco_acceptor_next(x->a);
	return NULL;
}

static int acc_op(void *arg)
{
	return uco_acceptor_next(arg);
}

static void body_acceptor_cancel(void *arg)
{
	char port[16];
	int lfd = uco_listen_tcp("127.0.0.1", "0", 8, 0), c, s;
	uco_acceptor *a;
	struct acc_arg x = { .r = 1 };
	uco_task *t;

	ck_assert_int_ge(lfd, 0);
	port_str(lfd, port, sizeof(port));
	ck_assert_int_eq(uco_acceptor_open(&a, lfd), 0);
	/* Timed out, then cancelled: neither loses the next connection. */
	ck_assert_int_eq(uco_wait_for(20 * MS, acc_op, a), -ETIMEDOUT);
	x.a = a;
	ck_assert_int_eq(uco_spawn(&t, acc_task, &x, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(x.r, -ECANCELED);
	c = uco_connect_tcp("127.0.0.1", port);
	ck_assert_int_ge(c, 0);
	s = uco_acceptor_next(a);
	ck_assert_int_ge(s, 0);
	close(s);
	close(c);
	/* A waiter when the acceptor is closed: -EBADF. */
	x.r = 1;
	ck_assert_int_eq(uco_spawn(&t, acc_task, &x, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	uco_acceptor_close(a);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(x.r, -EBADF);
	close(lfd);
}

START_TEST(acceptor_cancel)
{
	net_run(body_acceptor_cancel, NULL);
}
END_TEST

/* EMFILE: with RLIMIT_NOFILE lowered, accept fails with -EMFILE; the
 * acceptor reports it, and serves again once fds are free. */
static void body_emfile(void *arg)
{
	char port[16];
	int lfd = uco_listen_tcp("127.0.0.1", "0", 64, 0), c[8], r, s;
	uco_acceptor *a;
	struct rlimit rl;
	int spare[64], nspare = 0;

	ck_assert_int_ge(lfd, 0);
	port_str(lfd, port, sizeof(port));
	for (int i = 0; i < 8; i++) {
		c[i] = uco_connect_tcp("127.0.0.1", port);
		ck_assert_int_ge(c[i], 0);
	}
	ck_assert_int_eq(uco_acceptor_open(&a, lfd), 0);
	/* Use up every fd below the limit. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (nspare < 64 && (spare[nspare] = dup(0)) >= 0)
		nspare++;
	r = uco_acceptor_next(a);
	ck_assert_msg(r == -EMFILE, "accept at the fd limit: %d", r);
	/* Free fds: the acceptor re-arms and the connections are there. */
	for (int i = 0; i < nspare; i++)
		close(spare[i]);
	for (int i = 0; i < 8; i++) {
		s = uco_acceptor_next(a);
		ck_assert_msg(s >= 0, "accept %d after EMFILE: %d", i, s);
		close(s);
	}
	uco_acceptor_close(a);
	for (int i = 0; i < 8; i++)
		close(c[i]);
	close(lfd);
}

static void emfile_child(void *arg)
{
	struct lc_mark m;
	char msg[160];

	th_run(body_warm_resolver, NULL, NULL);
	lc_begin(&m, NULL);
	th_run(body_emfile, NULL, NULL);
	if (!lc_same(&m, msg, sizeof(msg))) {
		fprintf(stderr, "%s\n", msg);
		_exit(11);
	}
}

START_TEST(acceptor_emfile)
{
	struct th_child_result res;

	th_child(emfile_child, NULL, &res);
	ck_assert_msg(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
		      "child: status %d: %s", res.status, res.err);
}
END_TEST

/* ---- multishot receive into a buffer ring -------------------------------------- */

static void body_mrecv(void *arg)
{
	struct pair p;
	uco_bufring *br;
	uco_mrecv *r;
	uco_buf b;
	static char out[100000], in[100000];
	size_t got = 0;
	ssize_t n;

	pair_open(&p, "127.0.0.1");
	ck_assert_int_eq(uco_bufring_create(&br, 8, 512), 0);
	ck_assert_uint_eq(uco_bufring_available(br), 8);
	ck_assert_int_eq(uco_mrecv_open(&r, p.server, br), 0);
	fill(out, sizeof(out), 6);
	/* More than the ring holds, sent at once: the ring runs dry, the
	 * kernel ends the multishot (-ENOBUFS), and the receiver re-arms as
	 * buffers come back.  Every byte arrives, in order. */
	ck_assert_int_eq(uco_send_all(p.client, out, sizeof(out), 0),
			 sizeof(out));
	while (got < sizeof(out)) {
		n = uco_mrecv_next(r, &b);
		ck_assert_int_gt(n, 0);
		ck_assert_uint_le((size_t)n, 512);
		ck_assert_ptr_eq(b.data, b.data);
		memcpy(in + got, b.data, (size_t)n);
		got += (size_t)n;
		uco_mrecv_release(r, &b);
	}
	ck_assert_mem_eq(in, out, sizeof(out));
	/* Hold buffers while more arrives, release them later. */
	ck_assert_int_eq(uco_send_all(p.client, out, 1000, 0), 1000);
	uco_buf held[8];
	size_t h = 0, hb = 0;
	while (hb < 1000) {
		n = uco_mrecv_next(r, &held[h]);
		ck_assert_int_gt(n, 0);
		ck_assert_mem_eq(held[h].data, out + hb, (size_t)n);
		hb += (size_t)n;
		h++;
	}
	for (size_t i = 0; i < h; i++)
		uco_mrecv_release(r, &held[i]);
	uco_mrecv_release(r, &held[0]); /* twice: ignored */
	ck_assert_uint_eq(uco_bufring_available(br), 8);
	/* End of stream. */
	ck_assert_int_eq(uco_shutdown(p.client, SHUT_WR), 0);
	ck_assert_int_eq(uco_mrecv_next(r, &b), 0);
	ck_assert_int_eq(uco_mrecv_next(r, &b), 0);
	uco_mrecv_close(r);
	uco_bufring_free(br);
	pair_close(&p);
}

START_TEST(mrecv)
{
	net_run(body_mrecv, NULL);
}
END_TEST

struct mr_arg {
	uco_mrecv *r;
	ssize_t n;
	uco_buf b;
};

static void *mr_task(void *arg)
{
	struct mr_arg *x = arg;

	x->n = uco_mrecv_next(x->r, &x->b);
	return NULL;
}

static int mr_op(void *arg)
{
	struct mr_arg *x = arg;

	return (int)uco_mrecv_next(x->r, &x->b);
}

static void body_mrecv_cancel(void *arg)
{
	struct pair p;
	uco_bufring *br;
	uco_mrecv *r;
	struct mr_arg x = { .n = 1 };
	uco_task *t;
	uco_buf b;

	pair_open(&p, "127.0.0.1");
	ck_assert_int_eq(uco_bufring_create(&br, 4, 64), 0);
	/* the whole ring to one receiver, so that what it leaves queued
	 * is seen in the ring's count */
	ck_assert_int_eq(uco_bufring_set_quota(br, 4), 0);
	ck_assert_int_eq(uco_mrecv_open(&r, p.server, br), 0);
	x.r = r;
	/* Timed out and cancelled while waiting: then data still arrives. */
	ck_assert_int_eq(uco_wait_for(20 * MS, mr_op, &x), -ETIMEDOUT);
	ck_assert_int_eq(uco_spawn(&t, mr_task, &x, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(x.n, -ECANCELED);
	ck_assert_int_eq(uco_send(p.client, "hello", 5, 0), 5);
	ck_assert_int_eq(uco_mrecv_next(r, &b), 5);
	ck_assert_mem_eq(b.data, "hello", 5);
	uco_mrecv_release(r, &b);
	/* Data received but never taken goes back to the ring at close:
	 * send three chunks, let them land, close without taking them. */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uco_send(p.client, "abcdefgh", 8, 0), 8);
		ck_assert_int_eq(uco_sleep(5 * MS), 0);
	}
	ck_assert_uint_lt(uco_bufring_available(br), 4);
	/* A waiter at close gets -EBADF. */
	uco_mrecv_close(r);
	ck_assert_uint_eq(uco_bufring_available(br), 4);
	/* A receiver closed with a buffer still out lives until it is
	 * released. */
	ck_assert_int_eq(uco_mrecv_open(&r, p.server, br), 0);
	ck_assert_int_eq(uco_send(p.client, "x", 1, 0), 1);
	ck_assert_int_eq(uco_mrecv_next(r, &b), 1);
	uco_mrecv_close(r);
	ck_assert_uint_eq(uco_bufring_available(br), 3);
	uco_mrecv_release(r, &b);
	ck_assert_uint_eq(uco_bufring_available(br), 4);
	/* Freed while a receiver is open: it goes with the last one. */
	ck_assert_int_eq(uco_mrecv_open(&r, p.server, br), 0);
	x = (struct mr_arg){ .r = r, .n = 1 };
	ck_assert_int_eq(uco_spawn(&t, mr_task, &x, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	uco_bufring_free(br);
	uco_mrecv_close(r);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(x.n, -EBADF);
	pair_close(&p);
}

START_TEST(mrecv_cancel)
{
	net_run(body_mrecv_cancel, NULL);
}
END_TEST

/*
 * The quota: a receiver of a 16-buffer ring with quota 2 never holds more
 * than 2 ring buffers, however much arrives and however long its owner
 * holds what it took; past the quota it gets its data from its own memory.
 * Every byte arrives once, in order.
 */
static void body_mrecv_quota(void *arg)
{
	struct pair p;
	uco_bufring *br;
	uco_mrecv *r;
	uco_mrecv_stats st;
	uco_buf held[2], b;
	static char out[4000], in[4000];
	size_t got = 0;
	ssize_t n;

	pair_open(&p, "127.0.0.1");
	ck_assert_int_eq(uco_bufring_create(&br, 16, 64), 0);
	ck_assert_int_eq(uco_bufring_set_quota(br, 2), 0);
	ck_assert_uint_eq(uco_bufring_quota(br), 2);
	ck_assert_int_eq(uco_mrecv_open(&r, p.server, br), 0);
	fill(out, sizeof(out), 9);
	/* hold two ring buffers: the quota */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_send(p.client, out + got, 10, 0), 10);
		n = uco_mrecv_next(r, &held[i]);
		ck_assert_int_eq(n, 10);
		ck_assert_mem_eq(held[i].data, out + got, 10);
		got += 10;
	}
	ck_assert_int_eq(uco_mrecv_stats_get(r, &st), 0);
	ck_assert_uint_eq(st.held, 2);
	ck_assert_uint_eq(uco_bufring_available(br), 14);
	/* then a flood: it is received into the receiver's own memory,
	 * the ring is not touched */
	ck_assert_int_eq(uco_send_all(p.client, out + got, 1000, 0), 1000);
	while (got < 1020) {
		n = uco_mrecv_next(r, &b);
		ck_assert_int_gt(n, 0);
		ck_assert_mem_eq(b.data, out + got, (size_t)n);
		got += (size_t)n;
		ck_assert_uint_eq(uco_bufring_available(br), 14);
		uco_mrecv_release(r, &b);
	}
	ck_assert_int_eq(uco_mrecv_stats_get(r, &st), 0);
	ck_assert_uint_ge(st.copied, 1);
	ck_assert_uint_eq(st.held_max, 2);
	uco_mrecv_release(r, &held[0]);
	uco_mrecv_release(r, &held[1]);
	ck_assert_uint_eq(uco_bufring_available(br), 16);
	/* back on the ring: a flood while one chunk is held stops the
	 * multishot at the quota (a pause), what the kernel had in flight is
	 * copied, and the ring keeps at least 14 free */
	ck_assert_int_eq(uco_send(p.client, out + got, 10, 0), 10);
	ck_assert_int_eq(uco_mrecv_next(r, &held[0]), 10);
	ck_assert_mem_eq(held[0].data, out + got, 10);
	got += 10;
	ck_assert_int_eq(uco_send_all(p.client, out + got, sizeof(out) - got, 0),
			 (ssize_t)(sizeof(out) - got));
	while (got < sizeof(out)) {
		n = uco_mrecv_next(r, &b);
		ck_assert_int_gt(n, 0);
		memcpy(in + got, b.data, (size_t)n);
		got += (size_t)n;
		ck_assert_uint_ge(uco_bufring_available(br), 14);
		ck_assert_int_eq(uco_mrecv_stats_get(r, &st), 0);
		ck_assert_uint_le(st.held, 2);
		uco_mrecv_release(r, &b);
	}
	ck_assert_mem_eq(in + 1030, out + 1030, sizeof(out) - 1030);
	ck_assert_int_eq(uco_mrecv_stats_get(r, &st), 0);
	ck_assert_uint_ge(st.pauses, 1);
	ck_assert_uint_le(st.held_max, 2);
	ck_assert_uint_eq(st.bytes, sizeof(out));
	uco_mrecv_release(r, &held[0]);
	ck_assert_uint_eq(uco_bufring_available(br), 16);
	uco_mrecv_close(r);
	/* a chunk of its own memory released after close is freed */
	ck_assert_int_eq(uco_mrecv_open(&r, p.server, br), 0);
	ck_assert_int_eq(uco_send(p.client, "abc", 3, 0), 3);
	ck_assert_int_eq(uco_mrecv_next(r, &held[0]), 3);
	ck_assert_int_eq(uco_send(p.client, "de", 2, 0), 2);
	ck_assert_int_eq(uco_bufring_set_quota(br, 1), 0);
	ck_assert_int_eq(uco_mrecv_next(r, &held[1]), 2); /* own memory */
	ck_assert_mem_eq(held[1].data, "de", 2);
	uco_mrecv_close(r);
	uco_mrecv_release(r, &held[1]);
	uco_mrecv_release(r, &held[0]);
	ck_assert_uint_eq(uco_bufring_available(br), 16);
	uco_bufring_free(br);
	pair_close(&p);
}

START_TEST(mrecv_quota)
{
	net_run(body_mrecv_quota, NULL);
}
END_TEST

/* Two receivers share a ring.  A (quota: the whole ring) holds every
 * buffer; B waits for data.  Data for B ends B's multishot with -ENOBUFS
 * while B waits: B must not wait for A to give a buffer back, but get its
 * data at once in memory of its own; once A has released, B is back on the
 * ring. */
static void body_mrecv_starved(void *arg)
{
	struct pair pa, pb;
	uco_bufring *br;
	uco_mrecv *ra, *rb;
	uco_buf held[4];
	uco_mrecv_stats st;
	struct mr_arg x = { .n = 1 };
	uco_task *t;
	size_t got = 0;

	pair_open(&pa, "127.0.0.1");
	pair_open(&pb, "127.0.0.1");
	ck_assert_int_eq(uco_bufring_create(&br, 4, 64), 0);
	ck_assert_uint_eq(uco_bufring_quota(br), 2); /* the default for 4 */
	ck_assert_uint_eq(UCO_BUFRING_QUOTA(1), 1);
	ck_assert_uint_eq(UCO_BUFRING_QUOTA(64), 4);
	ck_assert_uint_eq(UCO_BUFRING_QUOTA(512), 32);
	ck_assert_uint_eq(UCO_BUFRING_QUOTA(32768), 32);
	ck_assert_int_eq(uco_bufring_set_quota(br, 0), -EINVAL);
	ck_assert_int_eq(uco_bufring_set_quota(br, 5), -EINVAL);
	ck_assert_int_eq(uco_bufring_set_quota(NULL, 1), -EINVAL);
	ck_assert_int_eq(uco_bufring_set_quota(br, 4), 0);
	ck_assert_int_eq(uco_mrecv_open(&ra, pa.server, br), 0);
	ck_assert_int_eq(uco_mrecv_open(&rb, pb.server, br), 0);
	/* B waits first: its multishot is armed while the ring has room */
	x.r = rb;
	ck_assert_int_eq(uco_spawn(&t, mr_task, &x, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(uco_send(pa.client, "aaaa", 4, 0), 4);
		ck_assert_int_eq(uco_mrecv_next(ra, &held[i]), 4);
	}
	ck_assert_uint_eq(uco_bufring_available(br), 0);
	ck_assert_int_eq(uco_mrecv_stats_get(ra, &st), 0);
	ck_assert_uint_eq(st.held, 4);
	ck_assert_int_eq(x.n, 1); /* B still waits */
	ck_assert_int_eq(uco_send(pb.client, "bbbbbbbb", 8, 0), 8);
	while (got < 8) {
		if (t) {
			ck_assert_int_eq(uco_join(t, NULL), 0);
			uco_task_release(t);
			t = NULL;
		} else {
			x.n = uco_mrecv_next(rb, &x.b);
		}
		ck_assert_int_gt(x.n, 0);
		ck_assert_mem_eq(x.b.data, "bbbbbbbb" + got, (size_t)x.n);
		got += (size_t)x.n;
		uco_mrecv_release(rb, &x.b);
	}
	ck_assert_int_eq(uco_mrecv_stats_get(rb, &st), 0);
	ck_assert_uint_ge(st.copied, 1);
	ck_assert_uint_eq(st.held, 0);
	ck_assert_uint_eq(st.held_max, 0);
	ck_assert_uint_eq(uco_bufring_available(br), 0); /* A still holds */
	for (int i = 0; i < 4; i++)
		uco_mrecv_release(ra, &held[i]);
	ck_assert_uint_eq(uco_bufring_available(br), 4);
	/* B is back on the ring: a chunk it holds counts against it */
	ck_assert_int_eq(uco_send(pb.client, "cc", 2, 0), 2);
	x.n = uco_mrecv_next(rb, &x.b);
	ck_assert_int_eq(x.n, 2);
	ck_assert_int_eq(uco_mrecv_stats_get(rb, &st), 0);
	ck_assert_uint_eq(st.held, 1);
	ck_assert_uint_eq(uco_bufring_available(br), 3);
	uco_mrecv_release(rb, &x.b);
	ck_assert_int_eq(uco_mrecv_stats_get(NULL, &st), -EINVAL);
	uco_mrecv_close(ra);
	uco_mrecv_close(rb);
	uco_bufring_free(br);
	pair_close(&pa);
	pair_close(&pb);
}

START_TEST(mrecv_starved)
{
	net_run(body_mrecv_starved, NULL);
}
END_TEST

/*
 * Regression (issue 9, part 1): slow readers starved every other
 * connection on a core.  200 clients send without pause and never read;
 * the server echoes with one multishot receive per connection into a
 * per-core ring, so each echo soon blocks in its send.  Before the quota,
 * their multishots went on filling ring buffers until the ring was dry, and
 * a normal ping-pong client on the same core then waited for a buffer for
 * ever.  Now each receiver stops at its quota and a receiver that finds
 * the ring dry receives into its own memory: the normal client completes
 * its round trips, and no receiver ever holds more than its quota.
 */
#define SLOW_READERS 200
#define SLOW_RING_DRY 256    /* per core: 200 slow readers x 16 run it dry */
#define SLOW_RING_WIDE 2048  /* per core, with quota 8: 200 x 8 fit */
#define SLOW_WIDE_QUOTA 8
#define SLOW_RING_SIZE 4096
#define SLOW_SOCKBUF 8192    /* small socket buffers: the echoes block soon */
#define PING_SIZE 64
#define PING_TRIPS 200

struct slow_conn {
	struct slow_srv *srv;
	int fd;
	bool slow;              /* one of the slow readers' */
	bool blocked;           /* its echo's send would block */
	uco_mrecv *r;           /* while it runs */
	uco_mrecv_stats st;     /* at its end */
};

/* One core's echo server; every field is that core's. */
struct slow_srv {
	int lfd;
	int port;
	unsigned expect;        /* connections: the slow ones, then the normal */
	unsigned ring_size;
	bool wait_quota;        /* start: also wait until all are at the quota */
	unsigned blocked;       /* slow ones whose echo would block */
	uco_event all_blocked;
	uco_bufring *ring;
	uco_acceptor *acc;
	uco_group *group;
	struct slow_conn *conns;
};

static void note_blocked(struct slow_conn *c)
{
	struct slow_srv *srv = c->srv;

	if (c->blocked || !c->slow)
		return;
	c->blocked = true;
	if (++srv->blocked == srv->expect - 1)
		ck_assert_int_ge(uco_event_set(&srv->all_blocked), 0);
}

/* Echo, as tools/echo-server.c does, noting when a send would block. */
static void *slow_conn_task(void *arg)
{
	struct slow_conn *c = arg;
	uco_mrecv *r;
	uco_buf b;
	ssize_t n;

	ck_assert_int_eq(uco_mrecv_open(&r, c->fd, c->srv->ring), 0);
	c->r = r;
	while ((n = uco_mrecv_next(r, &b)) > 0) {
		n = uco_send(c->fd, b.data, b.len, MSG_DONTWAIT);
		if (n == -EAGAIN)
			n = 0;
		if (n >= 0 && (size_t)n < b.len) {
			note_blocked(c);
			n = uco_send_all(c->fd, (char *)b.data + n,
					 b.len - (size_t)n, 0);
		}
		uco_mrecv_release(r, &b);
		if (n < 0)
			break;
	}
	ck_assert_int_eq(uco_mrecv_stats_get(r, &c->st), 0);
	c->r = NULL;
	uco_mrecv_close(r);
	close(c->fd);
	return NULL;
}

static void slow_accept(struct slow_srv *srv, unsigned i)
{
	int fd = uco_acceptor_next(srv->acc);

	ck_assert_int_ge(fd, 0);
	srv->conns[i].srv = srv;
	srv->conns[i].fd = fd;
	srv->conns[i].slow = i < srv->expect - 1;
	ck_assert_int_eq(uco_group_spawn(srv->group, NULL, slow_conn_task,
					 &srv->conns[i], NULL), 0);
}

/* On the server's core: accept the slow readers and return once every
 * one of their echoes blocks in its send. */
static void *slow_srv_start(void *arg)
{
	struct slow_srv *srv = arg;

	ck_assert_int_eq(uco_event_init(&srv->all_blocked), 0);
	ck_assert_int_eq(uco_bufring_create(&srv->ring, srv->ring_size,
					    SLOW_RING_SIZE), 0);
	if (srv->wait_quota)
		ck_assert_int_eq(uco_bufring_set_quota(srv->ring,
						       SLOW_WIDE_QUOTA), 0);
	ck_assert_int_eq(uco_group_create(&srv->group), 0);
	ck_assert_int_eq(uco_acceptor_open(&srv->acc, srv->lfd), 0);
	for (unsigned i = 0; i < srv->expect - 1; i++)
		slow_accept(srv, i);
	ck_assert_int_eq(uco_event_wait(&srv->all_blocked), 0);
	/* With a ring wider than all the quotas, the slow readers' clients
	 * go on sending until every receiver has stopped at its quota
	 * (the multishot is re-armed only when its owner asks for more, and
	 * these owners are stuck in their sends). */
	for (unsigned i = 0; srv->wait_quota && i < srv->expect - 1;) {
		uco_mrecv_stats st;

		ck_assert_int_eq(uco_mrecv_stats_get(srv->conns[i].r, &st), 0);
		if (st.pauses == 0)
			ck_assert_int_eq(uco_yield(), 0);
		else
			i++;
	}
	return NULL;
}

/* On the server's core: accept the normal client, then wait for every
 * connection to end. */
static void *slow_srv_finish(void *arg)
{
	struct slow_srv *srv = arg;

	slow_accept(srv, srv->expect - 1);
	uco_acceptor_close(srv->acc);
	ck_assert_int_eq(uco_group_wait(srv->group), 0);
	uco_group_free(srv->group);
	uco_bufring_free(srv->ring);
	uco_event_destroy(&srv->all_blocked);
	close(srv->lfd);
	return NULL;
}

static int slow_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int small = SLOW_SOCKBUF;
	int fd = uco_socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small,
				    sizeof(small)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small,
				    sizeof(small)), 0);
	ck_assert_int_eq(uco_connect(fd, (struct sockaddr *)&sa, sizeof(sa)),
			 0);
	return fd;
}

/* Send for ever, never read (until cancelled). */
static void *slow_client_task(void *arg)
{
	static const char chunk[16 * 1024];
	int fd = slow_connect((int)(intptr_t)arg);
	ssize_t n;

	while ((n = uco_send(fd, chunk, sizeof(chunk), 0)) > 0)
		;
	ck_assert_int_eq(n, -ECANCELED); /* stopped by the test */
	close(fd);
	return NULL;
}

/* PING_TRIPS round trips of PING_SIZE bytes; returns how many completed. */
static unsigned ping_pong(int port)
{
	char out[PING_SIZE], in[PING_SIZE];
	int fd = slow_connect(port), one = 1;
	unsigned trips = 0;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (unsigned i = 0; i < PING_TRIPS; i++) {
		size_t got = 0;

		fill(out, sizeof(out), i);
		if (uco_send_all(fd, out, sizeof(out), 0) != sizeof(out))
			break;
		while (got < sizeof(in)) {
			ssize_t n = uco_recv(fd, in + got, sizeof(in) - got, 0);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got < sizeof(in) || memcmp(in, out, sizeof(in)) != 0)
			break;
		trips++;
	}
	close(fd);
	return trips;
}

struct slow_case {
	unsigned cores;
	unsigned ring_size;     /* SLOW_RING_DRY or SLOW_RING_WIDE */
};

static void body_slow_readers_starve(void *arg)
{
	const struct slow_case *k = arg;
	unsigned cores = k->cores;
	bool wide = k->ring_size == SLOW_RING_WIDE;
	struct slow_srv srvs[2] = { 0 };
	unsigned long pauses = 0;
	uco_task *clients[SLOW_READERS], *t[2];
	unsigned trips[2];
	int small = SLOW_SOCKBUF, sc;

	for (unsigned c = 0; c < cores; c++) {
		struct slow_srv *s = &srvs[c];

		s->lfd = uco_listen_tcp("127.0.0.1", "0", SLOW_READERS + 8, 0);
		ck_assert_int_ge(s->lfd, 0);
		/* inherited by the accepted sockets */
		ck_assert_int_eq(setsockopt(s->lfd, SOL_SOCKET, SO_RCVBUF,
					    &small, sizeof(small)), 0);
		ck_assert_int_eq(setsockopt(s->lfd, SOL_SOCKET, SO_SNDBUF,
					    &small, sizeof(small)), 0);
		s->port = uco_local_port(s->lfd);
		s->expect = SLOW_READERS / cores + 1;
		s->ring_size = k->ring_size;
		s->wait_quota = wide;
		s->conns = calloc(s->expect, sizeof(*s->conns));
		ck_assert_ptr_nonnull(s->conns);
		ck_assert_int_eq(uco_spawn_on(c, &t[c], slow_srv_start, s,
					      NULL), 0);
	}
	for (unsigned i = 0; i < SLOW_READERS; i++)
		ck_assert_int_eq(
			uco_spawn(&clients[i], slow_client_task,
				  (void *)(intptr_t)srvs[i % cores].port, NULL),
			0);
	/* Generous bounds (a shared, loaded machine): they turn the
	 * starvation into a failure instead of a hang. */
	sc = uco_timeout_begin(60 * UCO_NSEC_PER_SEC);
	ck_assert_int_ge(sc, 0);
	for (unsigned c = 0; c < cores; c++) {
		ck_assert_int_eq(uco_join(t[c], NULL), 0);
		uco_task_release(t[c]);
	}
	ck_assert_int_eq(uco_timeout_end(sc), 0);
	/* Every slow reader's echo now blocks in its send, for good (its
	 * client never reads), while its client keeps sending.  A normal
	 * client on each core must still be served. */
	sc = uco_timeout_begin(30 * UCO_NSEC_PER_SEC);
	ck_assert_int_ge(sc, 0);
	for (unsigned c = 0; c < cores; c++) {
		ck_assert_int_eq(uco_spawn_on(c, &t[c], slow_srv_finish,
					      &srvs[c], NULL), 0);
		trips[c] = ping_pong(srvs[c].port);
	}
	uco_timeout_end(sc);
	for (unsigned c = 0; c < cores; c++)
		ck_assert_uint_eq(trips[c], PING_TRIPS);

	for (unsigned i = 0; i < SLOW_READERS; i++)
		ck_assert_int_eq(uco_cancel(clients[i]), 0);
	for (unsigned i = 0; i < SLOW_READERS; i++) {
		ck_assert_int_eq(uco_join(clients[i], NULL), 0);
		uco_task_release(clients[i]);
	}
	for (unsigned c = 0; c < cores; c++) {
		struct slow_srv *s = &srvs[c];
		unsigned long copied = 0;

		ck_assert_int_eq(uco_join(t[c], NULL), 0);
		uco_task_release(t[c]);
		for (unsigned i = 0; i < s->expect; i++) {
			const uco_mrecv_stats *st = &s->conns[i].st;

			ck_assert_uint_eq(st->quota,
					  wide ? SLOW_WIDE_QUOTA
					       : UCO_BUFRING_QUOTA(k->ring_size));
			ck_assert_uint_le(st->held_max, st->quota);
			ck_assert_uint_le(st->held, st->held_max);
			copied += st->copied;
			pauses += st->pauses;
		}
		if (wide) {
			/* every slow receiver paused at its quota; the ring
			 * never ran dry, so the normal one never copied */
			ck_assert_uint_ge(pauses, s->expect - 1);
			ck_assert_uint_eq(s->conns[s->expect - 1].st.copied, 0);
		} else {
			/* the ring ran dry: the normal client was served from
			 * its receiver's own memory */
			ck_assert_uint_gt(copied, 0);
		}
		pauses = 0;
		free(s->conns);
	}
}

static void slow_case_run(unsigned cores, unsigned ring_size)
{
	struct slow_case k = { cores, ring_size };
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = cores;
	lc_run(body_slow_readers_starve, &k, &cfg);
}

/* The ring runs dry: the normal client is served from its own memory. */
START_TEST(slow_readers_starve_dry_1core)
{
	slow_case_run(1, SLOW_RING_DRY);
}
END_TEST

START_TEST(slow_readers_starve_dry_2cores)
{
	slow_case_run(2, SLOW_RING_DRY);
}
END_TEST

/* The quotas stop the slow readers before the ring runs dry. */
START_TEST(slow_readers_starve_quota_1core)
{
	slow_case_run(1, SLOW_RING_WIDE);
}
END_TEST

START_TEST(slow_readers_starve_quota_2cores)
{
	slow_case_run(2, SLOW_RING_WIDE);
}
END_TEST

/* A task cancelled while its multishot is in the kernel, with nobody
 * closing it: the runtime still shuts down (it cancels what nobody owns)
 * and nothing leaks but the records the program forgot to close. */
static void body_bufring_args(void *arg)
{
	uco_bufring *br;
	uco_mrecv *r;

	ck_assert_int_eq(uco_bufring_create(&br, 3, 64), -EINVAL);
	ck_assert_int_eq(uco_bufring_create(&br, 0, 64), -EINVAL);
	ck_assert_int_eq(uco_bufring_create(&br, 65536, 64), -EINVAL);
	ck_assert_int_eq(uco_bufring_create(&br, 4, 0), -EINVAL);
	ck_assert_int_eq(uco_bufring_create(NULL, 4, 64), -EINVAL);
	ck_assert_int_eq(uco_bufring_create(&br, 4, 64), 0);
	ck_assert_int_eq(uco_mrecv_open(&r, -1, br), -EBADF);
	ck_assert_int_eq(uco_mrecv_open(&r, 0, NULL), -EINVAL);
	ck_assert_int_eq(uco_mrecv_next(NULL, NULL), -EINVAL);
	uco_mrecv_close(NULL);
	uco_bufring_free(br);
	uco_bufring_free(NULL);
	ck_assert_uint_eq(uco_bufring_available(NULL), 0);
}

START_TEST(bufring_args)
{
	net_run(body_bufring_args, NULL);
}
END_TEST

/* A ring is its core's: from another core, quota and receivers are
 * refused. */
static void *other_core_task(void *arg)
{
	uco_bufring *br = arg;
	uco_mrecv *r;

	ck_assert_int_eq(uco_bufring_set_quota(br, 1), -EXDEV);
	ck_assert_int_eq(uco_mrecv_open(&r, 0, br), -EXDEV);
	return NULL;
}

static void body_bufring_other_core(void *arg)
{
	uco_bufring *br;
	uco_task *t;

	ck_assert_int_eq(uco_bufring_create(&br, 4, 64), 0);
	ck_assert_int_eq(uco_spawn_on(1, &t, other_core_task, br, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_uint_eq(uco_bufring_quota(br), 2);
	uco_bufring_free(br);
}

START_TEST(bufring_other_core)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = 2;
	lc_run(body_bufring_other_core, NULL, &cfg);
}
END_TEST

/* Several rings on one loop get distinct buffer groups. */
static void body_many_rings(void *arg)
{
	uco_bufring *br[20];

	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(uco_bufring_create(&br[i], 2, 64), 0);
	for (int i = 0; i < 20; i++)
		uco_bufring_free(br[i]);
}

START_TEST(many_rings)
{
	net_run(body_many_rings, NULL);
}
END_TEST

/*
 * Every release-type call releases in a task that has been cancelled: the
 * task owns a multishot receiver holding a ring buffer, an armed acceptor,
 * a stream, a server and plain sockets, is cancelled, and lets go of all of
 * them.  The fds must be gone at once (uco_close() used to be refused with
 * -ECANCELED and leave them open) and the rest by the time the runtime
 * ends (lc_run counts fds and bytes).
 */
static int no_handler(uco_stream *st, void *arg)
{
	(void)st;
	(void)arg;
	return 0;
}

static void assert_fd_closed(int fd)
{
	errno = 0;
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
}

static void *release_owner(void *arg)
{
	char port[16];
	struct pair p;
	uco_bufring *br;
	uco_mrecv *r;
	uco_acceptor *a;
	uco_stream *st;
	uco_server *srv;
	uco_buf b;
	int lfd, c, s, sp[2];

	(void)arg;
	pair_open(&p, "127.0.0.1");
	ck_assert_int_eq(uco_bufring_create(&br, 4, 64), 0);
	ck_assert_int_eq(uco_mrecv_open(&r, p.server, br), 0);
	ck_assert_int_eq(uco_send(p.client, "hi", 2, 0), 2);
	ck_assert_int_eq(uco_mrecv_next(r, &b), 2); /* armed, one held */
	lfd = uco_listen_tcp("127.0.0.1", "0", 8, 0);
	ck_assert_int_ge(lfd, 0);
	port_str(lfd, port, sizeof(port));
	ck_assert_int_eq(uco_acceptor_open(&a, lfd), 0);
	c = uco_connect_tcp("127.0.0.1", port);
	ck_assert_int_ge(c, 0);
	s = uco_acceptor_next(a); /* armed */
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
			 0);
	ck_assert_int_eq(uco_stream_open(&st, sp[0], NULL), 0);
	ck_assert_int_eq(uco_start_server(&srv, "127.0.0.1", "0", no_handler,
					  NULL, NULL), 0);

	ck_assert_int_eq(uco_cancel(uco_current()), 0);
	ck_assert_int_eq(uco_nop(), -ECANCELED);

	uco_mrecv_release(r, &b);
	uco_mrecv_close(r);
	uco_bufring_free(br);
	uco_acceptor_close(a);
	ck_assert_int_eq(uco_stream_close(st), 0);
	uco_server_free(srv);
	ck_assert_int_eq(uco_close(s), 0);
	ck_assert_int_eq(uco_close(c), 0);
	ck_assert_int_eq(uco_close(lfd), 0);
	ck_assert_int_eq(uco_close(sp[1]), 0);
	pair_close(&p);
	{
		const int gone[] = { s,	       c,	 lfd,	   sp[0],
				     sp[1],    p.client, p.server, p.lfd };

		for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
			assert_fd_closed(gone[i]);
	}
	ck_assert_int_eq(uco_nop(), -ECANCELED); /* still cancelled */
	return NULL;
}

static void body_release_cancelled(void *arg)
{
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, release_owner, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
}

START_TEST(release_calls_in_cancelled_task)
{
	net_run(body_release_cancelled, NULL);
}
END_TEST

START_TEST(outside_task)
{
	uco_bufring *br;
	uco_acceptor *a;

	ck_assert_int_eq(uco_socket(AF_INET, SOCK_STREAM, 0), -EPERM);
	ck_assert_int_eq(uco_bufring_create(&br, 4, 64), -EPERM);
	ck_assert_int_eq(uco_acceptor_open(&a, 0), -EPERM);
	ck_assert_int_eq(uco_connect_tcp("127.0.0.1", "1"), -EPERM);
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("tcp");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, tcp4);
	tcase_add_test(tc, tcp6);
	tcase_add_test(tc, dual_stack);
	tcase_add_test(tc, refused);
	tcase_add_test(tc, unreachable);
	tcase_add_test(tc, hangup);
	tcase_add_test(tc, timeouts);
	tcase_add_test(tc, msg_zc);
	tcase_add_test(tc, udp);
	tcase_add_test(tc, unix_stream);
	tcase_add_test(tc, resolve);
	tcase_add_test(tc, strerror_words);
	tcase_add_test(tc, listen_alone);
	tcase_add_test(tc, release_calls_in_cancelled_task);
	tcase_add_test(tc, outside_task);
	suite_add_tcase(s, tc);

	tc = tcase_create("multishot");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, acceptor);
	tcase_add_test(tc, acceptor_cancel);
	tcase_add_test(tc, acceptor_emfile);
	tcase_add_test(tc, mrecv);
	tcase_add_test(tc, mrecv_cancel);
	tcase_add_test(tc, mrecv_starved);
	tcase_add_test(tc, mrecv_quota);
	tcase_add_test(tc, bufring_args);
	tcase_add_test(tc, bufring_other_core);
	tcase_add_test(tc, many_rings);
	suite_add_tcase(s, tc);

	tc = tcase_create("slow_readers");
	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, slow_readers_starve_dry_1core);
	tcase_add_test(tc, slow_readers_starve_dry_2cores);
	tcase_add_test(tc, slow_readers_starve_quota_1core);
	tcase_add_test(tc, slow_readers_starve_quota_2cores);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(net_suite());
}
