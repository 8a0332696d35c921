/*
 * TLS streams (uco/tls.h): OpenSSL's record layer as a stream transport
 * (stream_impl.h), driven the uco_poll() way (tests/test_poll.c): call
 * OpenSSL on the nonblocking socket; on WANT_READ / WANT_WRITE wait in
 * uco_poll() for that readiness, then make the same call again.  A task
 * switch happens only inside uco_poll(), never inside an OpenSSL call, so
 * a reader task and a writer task may share one SSL, and the per-thread
 * error queue is read right after the call that filled it.
 *
 * The socket BIO is ours: OpenSSL's writes with write(2), which raises
 * SIGPIPE when the peer is gone; ours sends with MSG_NOSIGNAL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <uco/net.h>
#include <uco/poll.h>
#include <uco/tls.h>

#include "core/alloc.h"
#include "stream_impl.h"

struct uco_tls_ctx {
	SSL_CTX *ssl;
	BIO_METHOD *bio;     /* the socket BIO below */
	bool client;
	unsigned char *alpn; /* server: ALPN list, wire format */
	size_t alpn_len;
	atomic_uint refs;    /* the creator's, and one per stream */
};

/* A TLS stream's transport state (its xctx). */
struct tls_conn {
	SSL *ssl;
	struct uco_tls_ctx *ctx;
	bool failed; /* a fatal error: no close_notify at close */
};

static const struct uco__stream_io tls_xport;

/* ---- contexts ----------------------------------------------------------- */

static void ctx_unref(struct uco_tls_ctx *c)
{
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	SSL_CTX_free(c->ssl);
	BIO_meth_free(c->bio);
	if (c->alpn)
		uco__free(c->alpn, c->alpn_len);
	uco__free(c, sizeof(*c));
}

UCO_API void uco_tls_ctx_free(uco_tls_ctx *ctx)
{
	if (ctx)
		ctx_unref(ctx);
}

/* The socket BIO: the fd is its data (as fd + 1, so that NULL is none). */
static int bio_fd(BIO *b)
{
	return (int)(intptr_t)BIO_get_data(b) - 1;
}

static int bio_write(BIO *b, const char *buf, int len)
{
	ssize_t n = send(bio_fd(b), buf, (size_t)len,
			 MSG_NOSIGNAL | MSG_DONTWAIT);

	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
	ssize_t n = recv(bio_fd(b), buf, (size_t)len, MSG_DONTWAIT);

	BIO_clear_retry_flags(b);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO_METHOD *bio_method(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "uco socket");

	if (!m)
		return NULL;
	if (!BIO_meth_set_write(m, bio_write) ||
	    !BIO_meth_set_read(m, bio_read) ||
	    !BIO_meth_set_ctrl(m, bio_ctrl) ||
	    !BIO_meth_set_create(m, bio_create)) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

/* "h2,http/1.1" -> ALPN's wire format (length-prefixed names). */
static int alpn_wire(const char *list, unsigned char **out, size_t *len)
{
	size_t n = strlen(list), k = 0;
	unsigned char *w;
	const char *p = list;

	*out = NULL;
	*len = 0;
	if (n == 0 || n > 1024)
		return -EINVAL;
	w = uco__alloc(n + 1);
	if (!w)
		return -ENOMEM;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == 0 || l > 255) {
			uco__free(w, n + 1);
			return -EINVAL;
		}
		w[k++] = (unsigned char)l;
		memcpy(w + k, p, l);
		k += l;
		p += l + (e ? 1 : 0);
		if (e && !*p) { /* a trailing comma */
			uco__free(w, n + 1);
			return -EINVAL;
		}
	}
	/* k == n + 1 exactly: one length byte per name, commas dropped. */
	*out = w;
	*len = k;
	return 0;
}

static int ctx_new(struct uco_tls_ctx **out, bool client)
{
	struct uco_tls_ctx *c = uco__alloc(sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	atomic_init(&c->refs, 1);
	c->client = client;
	c->ssl = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
	c->bio = bio_method();
	if (!c->ssl || !c->bio ||
	    !SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION)) {
		ERR_clear_error();
		ctx_unref(c);
		return -ENOMEM;
	}
	/* The stream may hand a write a buffer that moved (its write buffer
	 * grew) and wants to know how much of a large write went. */
	SSL_CTX_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
					 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	*out = c;
	return 0;
}

UCO_API int uco_tls_client_ctx_create(uco_tls_ctx **out,
				      const uco_tls_client_opts *opts)
{
	static const uco_tls_client_opts defaults;
	struct uco_tls_ctx *c;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!opts)
		opts = &defaults;
	r = ctx_new(&c, true);
	if (r < 0)
		return r;
	if (opts->alpn) {
		unsigned char *w;
		size_t len;

		r = alpn_wire(opts->alpn, &w, &len);
		if (r < 0)
			goto fail;
		/* 0 is success here, as the OpenSSL manual warns. */
		r = SSL_CTX_set_alpn_protos(c->ssl, w, (unsigned)len) ? -ENOMEM
								     : 0;
		uco__free(w, len);
		if (r < 0)
			goto fail;
	}
	if (opts->insecure) {
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
		if (opts->ca_file || opts->ca_dir) {
			if ((opts->ca_file && access(opts->ca_file, R_OK) < 0) ||
			    (opts->ca_dir && access(opts->ca_dir, R_OK) < 0)) {
				r = -ENOENT;
				goto fail;
			}
			if (!SSL_CTX_load_verify_locations(c->ssl, opts->ca_file,
							   opts->ca_dir)) {
				r = -EPROTO;
				goto fail;
			}
		} else if (!SSL_CTX_set_default_verify_paths(c->ssl)) {
			r = -EPROTO;
			goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	ERR_clear_error();
	ctx_unref(c);
	return r;
}

/* ALPN for the server: the first of its own protocols the client offers
 * too (the server's preference wins); none in common is a fatal alert. */
static int alpn_select(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned inlen, void *arg)
{
	struct uco_tls_ctx *c = arg;
	unsigned char *o;

	if (SSL_select_next_proto(&o, outlen, c->alpn, (unsigned)c->alpn_len,
				  in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = o;
	return SSL_TLSEXT_ERR_OK;
}

UCO_API int uco_tls_server_ctx_create(uco_tls_ctx **out,
				      const uco_tls_server_opts *opts)
{
	struct uco_tls_ctx *c;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!opts || !opts->cert_file || !opts->key_file)
		return -EINVAL;
	if (access(opts->cert_file, R_OK) < 0 || access(opts->key_file, R_OK) < 0)
		return errno == EACCES ? -EACCES : -ENOENT;
	r = ctx_new(&c, false);
	if (r < 0)
		return r;
	r = alpn_wire(opts->alpn ? opts->alpn : "http/1.1", &c->alpn,
		      &c->alpn_len);
	if (r < 0)
		goto fail;
	SSL_CTX_set_alpn_select_cb(c->ssl, alpn_select, c);
	if (SSL_CTX_use_certificate_chain_file(c->ssl, opts->cert_file) != 1) {
		r = -EPROTO;
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ssl, opts->key_file,
					SSL_FILETYPE_PEM) != 1) {
		/* It checks the key against the certificate too. */
		r = ERR_GET_REASON(ERR_peek_last_error()) ==
				    X509_R_KEY_VALUES_MISMATCH
			    ? -EKEYREJECTED
			    : -EPROTO;
		goto fail;
	}
	if (SSL_CTX_check_private_key(c->ssl) != 1) {
		r = -EKEYREJECTED;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	ERR_clear_error();
	ctx_unref(c);
	return r;
}

/* ---- one OpenSSL call, waiting as it asks ------------------------------ */

/*
 * After an OpenSSL call on t->ssl returned r (not success), with the
 * socket's errno in sys_err: wait for what it needs.  Returns 1 when the
 * call should be made again, 0 for the peer's close_notify, or a negative
 * errno (see uco/tls.h).  nowait: report -EAGAIN instead of waiting.
 */
static int settle(struct tls_conn *t, int fd, int r, int sys_err, bool nowait)
{
	int e = SSL_get_error(t->ssl, r);
	long v;

	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		if (nowait)
			return -EAGAIN;
		r = uco_poll(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
		/* POLLERR / POLLHUP: the call again meets the error. */
		return r < 0 ? r : 1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		t->failed = true;
		return sys_err ? -sys_err : -ECONNRESET;
	case SSL_ERROR_SSL:
		t->failed = true;
		if (ERR_GET_REASON(ERR_peek_error()) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return -ECONNRESET;
		}
		ERR_clear_error();
		v = SSL_get_verify_result(t->ssl);
		if (v == X509_V_ERR_CERT_HAS_EXPIRED ||
		    v == X509_V_ERR_CERT_NOT_YET_VALID)
			return -EKEYEXPIRED;
		if (v != X509_V_OK)
			return -EKEYREJECTED;
		return -EPROTO;
	default:
		ERR_clear_error();
		t->failed = true;
		return -EPROTO;
	}
}

enum tls_call { CALL_HANDSHAKE, CALL_READ, CALL_WRITE, CALL_SHUTDOWN };

/* Make one call until it succeeds or fails: the count read or written,
 * 0 for a handshake or shutdown done (or a read at close_notify), or a
 * negative errno. */
static ssize_t tls_call(struct tls_conn *t, int fd, enum tls_call call,
			void *buf, size_t len, bool nowait)
{
	if (t->failed)
		return -EPROTO;
	for (;;) {
		size_t done = 0;
		int r;

		ERR_clear_error();
		errno = 0;
		switch (call) {
		case CALL_HANDSHAKE:
			r = SSL_do_handshake(t->ssl);
			if (r == 1)
				return 0;
			break;
		case CALL_READ:
			r = SSL_read_ex(t->ssl, buf, len, &done);
			if (r == 1)
				return (ssize_t)done;
			break;
		case CALL_WRITE:
			r = SSL_write_ex(t->ssl, buf, len, &done);
			if (r == 1)
				return (ssize_t)done;
			break;
		default: /* CALL_SHUTDOWN: ours out; theirs is not waited */
			r = SSL_shutdown(t->ssl);
			if (r >= 0)
				return 0;
			break;
		}
		r = settle(t, fd, r, errno, nowait);
		if (r <= 0) {
			if (r == 0 && call != CALL_READ)
				return -EPIPE; /* the peer closed the session */
			return r;
		}
	}
}

/* ---- the transport ------------------------------------------------------ */

static ssize_t tls_recv(struct uco_stream *s, void *buf, size_t len)
{
	return tls_call(s->xctx, s->fd, CALL_READ, buf, len, false);
}

static ssize_t tls_send(struct uco_stream *s, const void *buf, size_t len)
{
	return tls_call(s->xctx, s->fd, CALL_WRITE, (void *)buf, len, false);
}

static ssize_t tls_send_nowait(struct uco_stream *s, const void *buf,
			       size_t len)
{
	return tls_call(s->xctx, s->fd, CALL_WRITE, (void *)buf, len, true);
}

/* Half-close: close_notify (TLS 1.3 lets the other direction go on), then
 * the socket's own. */
static int tls_shutdown(struct uco_stream *s)
{
	ssize_t r = tls_call(s->xctx, s->fd, CALL_SHUTDOWN, NULL, 0, false);

	return r < 0 ? (int)r : uco_shutdown(s->fd, SHUT_WR);
}

static void conn_free(struct tls_conn *t)
{
	SSL_free(t->ssl);
	ctx_unref(t->ctx);
	uco__free(t, sizeof(*t));
}

/* Closing (graceful: not an abort): one nonblocking try at close_notify,
 * unless the session failed or it went already. */
static void tls_release(struct uco_stream *s, bool graceful)
{
	struct tls_conn *t = s->xctx;

	if (graceful && !t->failed && !(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN) &&
	    SSL_is_init_finished(t->ssl)) {
		ERR_clear_error();
		SSL_shutdown(t->ssl);
		ERR_clear_error();
	}
	conn_free(t);
}

static const struct uco__stream_io tls_xport = {
	.recv = tls_recv,
	.send = tls_send,
	.send_now = tls_send_nowait,
	.shutdown_wr = tls_shutdown,
	.release = tls_release,
};

/* ---- starting a session ------------------------------------------------- */

/* Check the server's name: a DNS name (and SNI), or an IP address. */
static int set_host(SSL *ssl, const char *host)
{
	unsigned char ip[16];

	if (inet_pton(AF_INET, host, ip) == 1 ||
	    inet_pton(AF_INET6, host, ip) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
			       ? 0
			       : -EINVAL;
	if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1)
		return -EINVAL;
	return 0;
}

UCO_API int uco_tls_start(uco_stream *s, uco_tls_ctx *ctx, const char *host)
{
	struct tls_conn *t;
	int flags, r;
	BIO *bio;

	if (!s || !ctx)
		return -EINVAL;
	if (s->fd < 0)
		return -EBADF;
	if (s->io != &uco__stream_socket_io || s->rtail != s->rhead || s->wtail != s->whead || s->eof ||
	    s->wshut)
		return -EINVAL;
	if (ctx->client && !host &&
	    SSL_CTX_get_verify_mode(ctx->ssl) != SSL_VERIFY_NONE)
		return -EINVAL;
	flags = fcntl(s->fd, F_GETFL);
	if (flags < 0 || fcntl(s->fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	t = uco__alloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->ssl = SSL_new(ctx->ssl);
	bio = t->ssl ? BIO_new(ctx->bio) : NULL;
	if (!bio) {
		SSL_free(t->ssl);
		uco__free(t, sizeof(*t));
		ERR_clear_error();
		return -ENOMEM;
	}
	atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
	t->ctx = ctx;
	BIO_set_data(bio, (void *)(intptr_t)(s->fd + 1));
	SSL_set_bio(t->ssl, bio, bio); /* the SSL owns the BIO now */
	if (ctx->client) {
		SSL_set_connect_state(t->ssl);
		r = host ? set_host(t->ssl, host) : 0;
		if (r < 0) {
			conn_free(t);
			ERR_clear_error();
			return r;
		}
	} else {
		SSL_set_accept_state(t->ssl);
	}
	r = (int)tls_call(t, s->fd, CALL_HANDSHAKE, NULL, 0, false);
	if (r < 0) {
		conn_free(t);
		return r;
	}
	s->io = &tls_xport;
	s->xctx = t;
	return 0;
}

UCO_API int uco_tls_connect(uco_stream **out, int fd, uco_tls_ctx *ctx,
			    const char *host, const uco_stream_opts *opts)
{
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!ctx)
		return -EINVAL;
	r = uco_stream_open(out, fd, opts);
	if (r < 0)
		return r;
	r = uco_tls_start(*out, ctx, host);
	if (r < 0) {
		(*out)->fd = -1; /* the caller's again */
		uco_stream_abort(*out);
		*out = NULL;
	}
	return r;
}

UCO_API int uco_open_tls_connection(uco_stream **out, uco_tls_ctx *ctx,
				    const char *host, const char *port,
				    const uco_stream_opts *opts)
{
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!ctx)
		return -EINVAL;
	r = uco_open_connection(out, host, port, opts);
	if (r < 0)
		return r;
	r = uco_tls_start(*out, ctx, host);
	if (r < 0) {
		uco_stream_abort(*out);
		*out = NULL;
	}
	return r;
}

UCO_API bool uco_tls_active(const uco_stream *s)
{
	return s && s->io == &tls_xport;
}

UCO_API int uco_tls_alpn(const uco_stream *s, char *buf, size_t cap)
{
	const unsigned char *p;
	unsigned len;

	if (!uco_tls_active(s))
		return -ENOTCONN;
	SSL_get0_alpn_selected(((struct tls_conn *)s->xctx)->ssl, &p, &len);
	if (!buf || cap <= len)
		return -ENOSPC;
	if (len)
		memcpy(buf, p, len);
	buf[len] = '\0';
	return (int)len;
}

UCO_API const char *uco_tls_version(const uco_stream *s)
{
	if (!uco_tls_active(s))
		return NULL;
	return SSL_get_version(((struct tls_conn *)s->xctx)->ssl);
}
