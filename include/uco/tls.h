/*
 * uco/tls.h — TLS streams (asyncio's ssl= argument), with OpenSSL 3.
 *
 * A TLS connection is a uco_stream (uco/stream.h) like a plain one:
 * readline, readexactly, read, write, drain, send, write_eof and close work
 * on it unchanged, and so does everything built on streams.  Only the
 * transport under the stream's buffers differs: the bytes go through
 * OpenSSL's record layer instead of straight to the socket.
 *
 * Contexts: a uco_tls_ctx holds the configuration shared by many
 * connections (an OpenSSL SSL_CTX): the client's trust store and checks,
 * or the server's certificate, key and ALPN.  A client context verifies the
 * server's certificate chain against the system's CA store (or a CA file or
 * directory), checks the host name given to the handshake, and sends it as
 * SNI.  TLS 1.2 is the least version spoken.
 *
 * How it runs: the socket is made nonblocking and driven by OpenSSL; when
 * OpenSSL needs the socket readable or writable the task waits in
 * uco_poll() (uco/poll.h), so the handshake, every read and write, and the
 * closing exchange honour cancellation (-ECANCELED) and timeout scopes and
 * uco_wait_for() (-ETIMEDOUT), with the TLS state intact: a read cut short
 * may be called again, as on a plain stream.  OpenSSL's sends use
 * MSG_NOSIGNAL: a peer gone is -EPIPE, never SIGPIPE.
 *
 * Errors a TLS call may return, beyond a stream's: -EKEYEXPIRED (the
 * peer's certificate has expired or is not yet valid), -EKEYREJECTED (the
 * certificate does not verify: unknown or self-signed issuer, wrong host
 * name, bad signature...), -EPROTO (any other TLS failure: a fatal alert,
 * a bad record, no protocol in common), -ECONNRESET (the peer closed the
 * connection without TLS's close_notify: the data may have been cut short
 * by an attacker, so it is not reported as a clean end).
 *
 * Kernel TLS: OpenSSL's SSL_OP_ENABLE_KTLS hands the record layer to the
 * kernel after the handshake (setsockopt TCP_ULP "tls" and the session
 * keys), and the data path could then be plain IORING_OP_RECV/SEND on the
 * socket, the stream's socket transport.  Taking it would need: the
 * socket BIO (ours is a custom one that adds MSG_NOSIGNAL; kTLS requires
 * OpenSSL's own), BIO_get_ktls_send/recv after the handshake to choose
 * the transport, and control messages for non-data records (alerts,
 * key updates) on the receive side.  It is not shipped: the kernel this
 * was built on has no "tls" module (TCP_ULP gives ENOENT), so that path
 * could not be tested.  The record layer is one transport (io/tls.c), so
 * a kTLS transport would be a second one beside it.
 *
 * Threads: a context may be shared by connections on every core; a TLS
 * stream, as any stream, is used from the tasks of one core.
 */
#ifndef UCO_TLS_H
#define UCO_TLS_H

#include <stdbool.h>

#include <uco/common.h>
#include <uco/stream.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_tls_ctx uco_tls_ctx;

/* Options for uco_tls_client_ctx_create(); NULL or zeroed fields mean the
 * defaults. */
typedef struct uco_tls_client_opts {
	/* Trusted CAs: a PEM file and/or a hashed directory (c_rehash).
	 * Default (both NULL): the system's store (OpenSSL's default
	 * paths, /etc/ssl/certs on Debian). */
	const char *ca_file;
	const char *ca_dir;
	/* Do not verify the server at all (no chain, no host name check):
	 * for tests against throwaway certificates only.  Default false. */
	bool insecure;
	/* Protocols to offer by ALPN, most preferred first, comma-separated
	 * ("h2,http/1.1"); default NULL: no ALPN. */
	const char *alpn;
} uco_tls_client_opts;

/* Options for uco_tls_server_ctx_create(). */
typedef struct uco_tls_server_opts {
	/* The certificate chain (PEM, leaf first) and its private key (PEM).
	 * Required. */
	const char *cert_file;
	const char *key_file;
	/* ALPN protocols the server speaks, most preferred first,
	 * comma-separated; default NULL: "http/1.1".  A client offering
	 * ALPN with none of them in common is refused (-EPROTO), as RFC
	 * 7301 asks; a client offering none is served. */
	const char *alpn;
} uco_tls_server_opts;

/*
 * Create a client context.  Does not suspend (it reads the CA files).
 * Returns 0 with *out set, to free with uco_tls_ctx_free(); -ENOENT (a CA
 * file or directory that cannot be read), -EINVAL (bad ALPN list), -ENOMEM,
 * -EPROTO (OpenSSL refused the configuration).
 */
UCO_API int uco_tls_client_ctx_create(uco_tls_ctx **out,
				      const uco_tls_client_opts *opts);

/*
 * Create a server context from a certificate and key.  Does not suspend.
 * Returns 0 with *out set; -ENOENT (no such file), -EKEYREJECTED (the key
 * does not match the certificate), -EPROTO (a file OpenSSL cannot parse),
 * -EINVAL (missing file names, bad ALPN list), -ENOMEM.
 */
UCO_API int uco_tls_server_ctx_create(uco_tls_ctx **out,
				      const uco_tls_server_opts *opts);

/* Free a context.  Streams made with it keep what they need (OpenSSL
 * counts references).  Does not suspend.  NULL: no-op. */
UCO_API void uco_tls_ctx_free(uco_tls_ctx *ctx);

/*
 * Turn the plain stream s into a TLS stream in place and run the
 * handshake: as a client if ctx is a client context (host: the server's
 * name, checked against its certificate and sent as SNI; an IP address is
 * checked against the certificate's IP addresses and not sent; NULL only
 * with an insecure context), as a server otherwise (host ignored).  s must
 * have nothing buffered in either direction (-EINVAL): what comes after
 * is TLS.  This is how a handler of uco_start_server() serves TLS: call it
 * on the stream it was given.  Suspends.
 *
 * Returns 0; or -ECANCELED / -ETIMEDOUT (handshake cut short), the TLS
 * errors above, a socket error, -ENOMEM.  On failure s is left a plain
 * stream in an unusable state: close or abort it.
 */
UCO_API int uco_tls_start(uco_stream *s, uco_tls_ctx *ctx, const char *host);

/*
 * Wrap the connected socket fd and run the handshake: uco_stream_open()
 * then uco_tls_start().  Suspends.  Returns 0 with *out set; on failure
 * the error of either, with no stream left and fd still the caller's.
 */
UCO_API int uco_tls_connect(uco_stream **out, int fd, uco_tls_ctx *ctx,
			    const char *host, const uco_stream_opts *opts);

/*
 * asyncio.open_connection(host, port, ssl=ctx): uco_open_connection(),
 * then the handshake with host as the name to check.  Suspends.  Returns
 * 0 with *out set, or the error of either (nothing left open).
 */
UCO_API int uco_open_tls_connection(uco_stream **out, uco_tls_ctx *ctx,
				    const char *host, const char *port,
				    const uco_stream_opts *opts);

/* True if s is a TLS stream (uco_tls_start() succeeded on it).  Does not
 * suspend. */
UCO_API bool uco_tls_active(const uco_stream *s);

/* The protocol ALPN chose ("http/1.1"), NUL-terminated, into buf of cap
 * bytes.  Returns its length, 0 if none was chosen, -ENOTCONN (not a TLS
 * stream), -ENOSPC.  Does not suspend. */
UCO_API int uco_tls_alpn(const uco_stream *s, char *buf, size_t cap);

/* The negotiated version ("TLSv1.3"), a static string, or NULL for a
 * stream that is not TLS.  Does not suspend. */
UCO_API const char *uco_tls_version(const uco_stream *s);

#ifdef __cplusplus
}
#endif

#endif
