/*
 * Peer benchmark: a plain C epoll echo server, the baseline uco's echo
 * server is compared with.  Written the way a skilled C programmer writes a
 * single-threaded event loop, with no library:
 *
 *   - one thread, one epoll instance, nonblocking sockets (accept4 with
 *     SOCK_NONBLOCK, so no fcntl per connection), TCP_NODELAY;
 *   - level-triggered: epoll_wait hands back up to 512 ready sockets per
 *     call; each gets one read(2) into a 64 KiB buffer (a read that fills the
 *     buffer is repeated, since more may be waiting; otherwise level
 *     triggering reports the socket again if anything is left, so there is no
 *     read that ends in EAGAIN just to learn that) and one write(2) of what
 *     was read;
 *   - a short write keeps the rest in a per-connection pending buffer, the
 *     socket is switched to EPOLLOUT (and stops being read, which pushes back
 *     on a client that sends faster than it reads), and the rest is written
 *     when the socket is writable;
 *   - the listening socket is level-triggered too and accept4() is called
 *     until EAGAIN, so a burst of connections costs one epoll_wait.
 *
 * So a round trip costs a read and a write, plus a share of epoll_wait.
 *
 * Usage: echo_epoll [--host ADDR] PORT    (PORT 0: the kernel picks one)
 * Prints one line on stdout when it accepts connections:
 *   echo_epoll: listening on ADDR:PORT
 * and nothing else; errors go to stderr.  SIGINT or SIGTERM end it (the
 * default disposition: the kernel closes everything).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 512
#define BUF_SIZE (64 * 1024)

struct conn {
	int fd;
	char *pending;      /* bytes read but not yet written */
	size_t pending_len;
	size_t pending_off;
	size_t pending_cap;
};

static void die(const char *what)
{
	fprintf(stderr, "echo_epoll: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void conn_close(struct conn *c)
{
	close(c->fd); /* also removes it from the epoll set */
	free(c->pending);
	free(c);
}

/* Keep buf[off..len) for later; returns 0 or -1 (out of memory). */
static int conn_keep(struct conn *c, const char *buf, size_t len)
{
	if (len > c->pending_cap) {
		char *p = realloc(c->pending, len);

		if (!p)
			return -1;
		c->pending = p;
		c->pending_cap = len;
	}
	memcpy(c->pending, buf, len);
	c->pending_len = len;
	c->pending_off = 0;
	return 0;
}

static int watch(int ep, int op, struct conn *c, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	return epoll_ctl(ep, op, c->fd, &ev);
}

/* Write the pending bytes; returns 1 when all are out, 0 if some are left,
 * -1 on an error (the connection is to be closed). */
static int conn_flush(struct conn *c)
{
	while (c->pending_off < c->pending_len) {
		ssize_t n = write(c->fd, c->pending + c->pending_off,
				  c->pending_len - c->pending_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		c->pending_off += (size_t)n;
	}
	c->pending_len = c->pending_off = 0;
	return 1;
}

/* The socket is readable: echo what is there.  Returns -1 to close it. */
static int on_readable(int ep, struct conn *c, char *buf)
{
	for (;;) {
		ssize_t n = read(c->fd, buf, BUF_SIZE);

		if (n == 0)
			return -1; /* the client is done */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		ssize_t w = write(c->fd, buf, (size_t)n);

		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -1;
			w = 0;
		}
		if (w < n) {
			/* The socket's send buffer is full: keep the rest,
			 * wait for EPOLLOUT and stop reading until then. */
			if (conn_keep(c, buf + w, (size_t)(n - w)) < 0 ||
			    watch(ep, EPOLL_CTL_MOD, c, EPOLLOUT) < 0)
				return -1;
			return 0;
		}
		if (n < BUF_SIZE)
			return 0; /* level-triggered: told again if more came */
	}
}

static int on_writable(int ep, struct conn *c)
{
	int r = conn_flush(c);

	if (r <= 0)
		return r;
	return watch(ep, EPOLL_CTL_MOD, c, EPOLLIN);
}

static void on_accept(int ep, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				return;
			/* EMFILE and friends: say so, serve the others. */
			fprintf(stderr, "echo_epoll: accept: %s\n",
				strerror(errno));
			return;
		}
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));

		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		if (watch(ep, EPOLL_CTL_ADD, c, EPOLLIN) < 0) {
			fprintf(stderr, "echo_epoll: epoll_ctl: %s\n",
				strerror(errno));
			conn_close(c);
		}
	}
}

static int listen_on(const char *host, int port, int *bound_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof(sa);
	int one = 1;
	int fd;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "echo_epoll: not an IPv4 address: %s\n", host);
		exit(2);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("getsockname");
	*bound_port = ntohs(sa.sin_port);
	return fd;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	const char *port_arg = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
			host = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 ||
			   strcmp(argv[i], "--help") == 0) {
			printf("usage: echo_epoll [--host ADDR] PORT\n");
			return 0;
		} else if (!port_arg && argv[i][0] != '-') {
			port_arg = argv[i];
		} else {
			fprintf(stderr, "echo_epoll: unexpected argument: %s\n"
				"usage: echo_epoll [--host ADDR] PORT\n", argv[i]);
			return 2;
		}
	}
	if (!port_arg) {
		fprintf(stderr, "usage: echo_epoll [--host ADDR] PORT\n");
		return 2;
	}
	char *end;
	long port = strtol(port_arg, &end, 10);

	if (*end || end == port_arg || port < 0 || port > 65535) {
		fprintf(stderr, "echo_epoll: bad port: %s\n", port_arg);
		return 2;
	}

	int bound;
	int lfd = listen_on(host, (int)port, &bound);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	/* The listener's data.ptr is NULL: connections are never NULL. */
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	static char buf[BUF_SIZE];
	static struct epoll_event events[MAX_EVENTS];

	if (ep < 0)
		die("epoll_create1");
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0)
		die("epoll_ctl");
	printf("echo_epoll: listening on %s:%d\n", host, bound);
	fflush(stdout);

	for (;;) {
		int n = epoll_wait(ep, events, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			unsigned ev = events[i].events;
			int r;

			if (!c) {
				on_accept(ep, lfd);
				continue;
			}
			if (c->pending_len)
				r = (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ?
					    on_writable(ep, c) : 0;
			else
				r = on_readable(ep, c, buf);
			if (r < 0)
				conn_close(c);
		}
	}
}
