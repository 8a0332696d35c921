/*
 * The TLS echo peer: a plain single-threaded epoll server over the same
 * OpenSSL that uco's TLS streams use, with OpenSSL's own socket BIO
 * (SSL_set_fd) on nonblocking sockets — what a C server without uco would
 * write.  Echoes what it reads on every connection.
 *
 *   tls_epoll CERT KEY     listens on 127.0.0.1, an ephemeral port, and
 *                          prints "PORT <n>" on stdout once it accepts
 *
 * Runs until killed.  Used by benchmarks/tls_bench.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define BUF 65536

struct conn {
	int fd;
	SSL *ssl;
	char *buf;
	size_t len, off; /* bytes read and not yet written back */
};

static void drop(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	SSL_free(c->ssl);
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Wait for what OpenSSL asked: read or write readiness. */
static void want(int ep, struct conn *c, int err)
{
	struct epoll_event ev = { .data.ptr = c };

	ev.events = err == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Make progress on c: handshake, then write back what is pending, then
 * read more.  Returns -1 to drop the connection. */
static int serve(int ep, struct conn *c)
{
	for (;;) {
		int r, e;

		ERR_clear_error();
		if (!SSL_is_init_finished(c->ssl)) {
			r = SSL_do_handshake(c->ssl);
		} else if (c->off < c->len) {
			size_t n;

			r = SSL_write_ex(c->ssl, c->buf + c->off, c->len - c->off,
					 &n);
			if (r == 1) {
				c->off += n;
				continue;
			}
		} else {
			size_t n;

			r = SSL_read_ex(c->ssl, c->buf, BUF, &n);
			if (r == 1) {
				c->len = n;
				c->off = 0;
				continue;
			}
		}
		if (r == 1)
			continue;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			want(ep, c, e);
			return 0;
		}
		return -1;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct epoll_event ev, evs[64];
	SSL_CTX *ctx;
	int l, ep, one = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: tls_epoll CERT KEY\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* OpenSSL's socket BIO uses write(2) */
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 511) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
		perror("tls_epoll: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	printf("PORT %d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (!c) {
				int fd;

				while ((fd = accept4(l, NULL, NULL,
						     SOCK_NONBLOCK |
							     SOCK_CLOEXEC)) >= 0) {
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					c->buf = malloc(BUF);
					c->ssl = SSL_new(ctx);
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
						   &one, sizeof(one));
					SSL_set_fd(c->ssl, fd);
					SSL_set_accept_state(c->ssl);
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
					if (serve(ep, c) < 0)
						drop(ep, c);
				}
				continue;
			}
			if (serve(ep, c) < 0)
				drop(ep, c);
		}
	}
}
