/*
 * Peer benchmark: an echo server on libuv (Debian's libuv1-dev), written as
 * libuv's documentation and a careful user would:
 *
 *   - one uv_default_loop(), a uv_tcp_t listener, a uv_tcp_t per
 *     connection with TCP_NODELAY;
 *   - reads into a buffer the connection owns (64 KiB, handed out by the
 *     alloc callback; libuv reads once per readiness event, like the epoll
 *     peer);
 *   - uv_try_write() first, so the common case writes straight from the
 *     read buffer with no request and no copy; only what the socket did not
 *     take is copied into a uv_write() request, and reading stops until that
 *     write completes (back-pressure, as in the epoll peer).
 *
 * Usage: echo_libuv [--host ADDR] PORT    (PORT 0: the kernel picks one)
 * Prints one line on stdout when it accepts connections:
 *   echo_libuv: listening on ADDR:PORT
 * and nothing else.  SIGINT or SIGTERM end it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define BUF_SIZE (64 * 1024)

struct conn {
	uv_tcp_t tcp;      /* first: the handle is the connection */
	uv_write_t write;  /* the one write request in flight, if any */
	char *rest;        /* what uv_try_write() left, owned by `write` */
	char buf[BUF_SIZE];
};

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_closed(uv_handle_t *h)
{
	struct conn *c = (struct conn *)h;

	free(c->rest);
	free(c);
}

static void conn_close(struct conn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = (struct conn *)h;

	(void)hint;
	*buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void on_written(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	free(c->rest);
	c->rest = NULL;
	if (status < 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
		conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = (struct conn *)s;

	if (n < 0) { /* UV_EOF or an error */
		conn_close(c);
		return;
	}
	if (n == 0)
		return; /* EAGAIN */
	uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
	int w = uv_try_write(s, &out, 1);

	if (w == n)
		return;
	if (w < 0 && w != UV_EAGAIN) {
		conn_close(c);
		return;
	}
	if (w < 0)
		w = 0;
	/* Queue the rest (copied: the read buffer is reused) and stop
	 * reading until it is out. */
	size_t left = (size_t)n - (size_t)w;

	c->rest = malloc(left);
	if (!c->rest) {
		conn_close(c);
		return;
	}
	memcpy(c->rest, buf->base + w, left);
	out = uv_buf_init(c->rest, (unsigned)left);
	c->write.data = c;
	uv_read_stop(s);
	if (uv_write(&c->write, s, &out, 1, on_written) < 0)
		conn_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct conn *c;

	if (status < 0) {
		fprintf(stderr, "echo_libuv: accept: %s\n", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	uv_tcp_init(server->loop, &c->tcp);
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
		conn_close(c);
}

static int usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: echo_libuv [--host ADDR] PORT\n");
	return status;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	const char *port_arg = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
			host = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 ||
			 strcmp(argv[i], "--help") == 0)
			return usage(0);
		else if (!port_arg && argv[i][0] != '-')
			port_arg = argv[i];
		else
			return usage(2);
	}
	if (!port_arg)
		return usage(2);
	char *end;
	long port = strtol(port_arg, &end, 10);

	if (*end || end == port_arg || port < 0 || port > 65535) {
		fprintf(stderr, "echo_libuv: bad port: %s\n", port_arg);
		return 2;
	}

	uv_loop_t *loop = uv_default_loop();
	uv_tcp_t server;
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	int r;

	if ((r = uv_ip4_addr(host, (int)port, &addr)) < 0) {
		fprintf(stderr, "echo_libuv: bad address %s: %s\n", host,
			uv_strerror(r));
		return 2;
	}
	uv_tcp_init(loop, &server);
	if ((r = uv_tcp_bind(&server, (struct sockaddr *)&addr, 0)) < 0 ||
	    (r = uv_listen((uv_stream_t *)&server, 4096, on_connection)) < 0 ||
	    (r = uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len)) < 0) {
		fprintf(stderr, "echo_libuv: cannot listen on %s:%ld: %s\n",
			host, port, uv_strerror(r));
		return 1;
	}
	printf("echo_libuv: listening on %s:%d\n", host,
	       ntohs(((struct sockaddr_in *)&bound)->sin_port));
	fflush(stdout);
	return uv_run(loop, UV_RUN_DEFAULT) != 0;
}
