/*
 * Suite "tls": TLS streams (include/uco/tls.h).
 *
 * At start the suite makes a throwaway CA and, signed by it, server
 * certificates for "localhost": good, expired, for another host, plus one
 * self-signed (all EC P-256, written as PEM to a temporary directory that
 * is removed at the end).  Then:
 *   - uco client against uco server (uco_start_server, the handler calls
 *     uco_tls_start on its stream): lines and 1 MiB both ways through
 *     readline / readexactly / write / drain, ALPN "http/1.1", the
 *     version;
 *   - verification: expired (-EKEYEXPIRED), wrong host and self-signed
 *     (-EKEYREJECTED), the system store not trusting the test CA, and the
 *     insecure flag accepting them all;
 *   - peers nobody here wrote: `openssl s_server -rev` (run with
 *     uco/process.h) for the uco client, `openssl s_client` for the uco
 *     server;
 *   - cut short: a handshake with a peer that never answers (timeout
 *     scope, cancel), a read timeout after which the session still works,
 *     a peer that hangs up without close_notify (-ECONNRESET);
 *   - bad arguments and bad files.
 * Memory: OpenSSL allocates through malloc, which is jemalloc here, so the
 * leak check counts it; OpenSSL builds some caches once per process, so
 * each body runs once unmeasured first (tls_run).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "leakcheck.h"

static char dir[64];
static char ca_pem[128], good_pem[128], expired_pem[128], wronghost_pem[128],
	self_pem[128], key_pem[128], other_key_pem[128];

/* ---- the throwaway PKI ---------------------------------------------- */

/* Made before Check runs (its asserts work only inside a test). */
#define PKI(cond)                                                             \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "test_tls: making the test PKI: %s "  \
				"failed (line %d)\n", #cond, __LINE__);      \
			ERR_print_errors_fp(stderr);                          \
			exit(1);                                              \
		}                                                             \
	} while (0)

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	PKI(k);
	return k;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	PKI(ext);
	PKI(X509_add_ext(cert, ext, -1) == 1);
	X509_EXTENSION_free(ext);
}

/* A certificate for cn (and DNS name cn), valid from now + from_s to now +
 * to_s, signed by issuer_key (issuer NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, long from_s, long to_s,
		       X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
	static long serial = 1;
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	char san[128];

	PKI(c);
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
	X509_gmtime_adj(X509_getm_notBefore(c), from_s);
	X509_gmtime_adj(X509_getm_notAfter(c), to_s);
	X509_set_pubkey(c, key);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	if (ca) {
		add_ext(c, issuer ? issuer : c, NID_basic_constraints,
			"critical,CA:TRUE");
		add_ext(c, issuer ? issuer : c, NID_key_usage,
			"critical,keyCertSign,cRLSign");
	} else {
		snprintf(san, sizeof(san), "DNS:%s", cn);
		add_ext(c, issuer ? issuer : c, NID_subject_alt_name, san);
	}
	PKI(X509_sign(c, issuer_key, EVP_sha256()) > 0);
	return c;
}

static void write_cert(const char *path, X509 *c)
{
	FILE *f = fopen(path, "w");

	PKI(f);
	PKI(PEM_write_X509(f, c) == 1);
	fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");

	PKI(f);
	PKI(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1);
	fclose(f);
}

static void make_pki(void)
{
	EVP_PKEY *ca_key = new_key(), *key = new_key(), *other = new_key();
	X509 *ca, *c;

	PKI(mkdtemp(strcpy(dir, "/tmp/uco-tls-XXXXXX")));
#define P(v, f) snprintf(v, sizeof(v), "%s/%s", dir, f)
	P(ca_pem, "ca.pem");
	P(good_pem, "good.pem");
	P(expired_pem, "expired.pem");
	P(wronghost_pem, "wronghost.pem");
	P(self_pem, "self.pem");
	P(key_pem, "key.pem");
	P(other_key_pem, "other-key.pem");
#undef P
	ca = make_cert(ca_key, "uco test CA", -3600, 86400, NULL, ca_key, true);
	write_cert(ca_pem, ca);
	c = make_cert(key, "localhost", -3600, 86400, ca, ca_key, false);
	write_cert(good_pem, c);
	X509_free(c);
	c = make_cert(key, "localhost", -7200, -3600, ca, ca_key, false);
	write_cert(expired_pem, c);
	X509_free(c);
	c = make_cert(key, "elsewhere.test", -3600, 86400, ca, ca_key, false);
	write_cert(wronghost_pem, c);
	X509_free(c);
	c = make_cert(key, "localhost", -3600, 86400, NULL, key, false);
	write_cert(self_pem, c);
	X509_free(c);
	write_key(key_pem, key);
	write_key(other_key_pem, other);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void remove_pki(void)
{
	const char *files[] = { ca_pem,	  good_pem, expired_pem, wronghost_pem,
				self_pem, key_pem,  other_key_pem };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	rmdir(dir);
}

/* Run body once to let OpenSSL build its once-per-process caches, then
 * leak-checked. */
static void tls_run(void (*body)(void *), void *arg)
{
	th_run(body, arg, NULL);
	lc_run(body, arg, NULL);
}

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 167u + 3u + (i >> 10));
}

/* ---- a uco TLS echo server ------------------------------------------ */

#define BIG (1024 * 1024)
#define TLS_STACK (256 * 1024)

struct srv {
	uco_tls_ctx *ctx;
	uco_server *server;
	char port[16];
	int handshakes_failed;
	int last_error;
};

/* Echo lines until the end; a line "big\n" is answered with BIG bytes of
 * the pattern read back with readexactly. */
static int echo_handler(uco_stream *s, void *arg)
{
	struct srv *sv = arg;
	char line[256];
	char alpn[32];
	int r = uco_tls_start(s, sv->ctx, NULL);

	if (r < 0) {
		sv->handshakes_failed++;
		sv->last_error = r;
		return r;
	}
	if (uco_tls_alpn(s, alpn, sizeof(alpn)) < 0)
		return -EPROTO;
	for (;;) {
		ssize_t n = uco_stream_readline(s, line, sizeof(line));

		if (n <= 0)
			break;
		if (n == 4 && memcmp(line, "big\n", 4) == 0) {
			uint8_t *b = malloc(BIG);

			if (!b || uco_stream_readexactly(s, b, BIG) != BIG) {
				free(b);
				break;
			}
			r = uco_stream_send(s, b, BIG);
			free(b);
			if (r < 0)
				break;
			continue;
		}
		if (n == 5 && memcmp(line, "alpn\n", 5) == 0) {
			size_t l = strlen(alpn);

			alpn[l] = '\n';
			r = uco_stream_write(s, alpn, l + 1);
		} else {
			r = uco_stream_write(s, line, (size_t)n);
		}
		if (r == 0)
			r = uco_stream_drain(s);
		if (r < 0)
			break;
	}
	UCO_IGNORE(uco_stream_write_eof(s)); /* the peer may be gone */
	return 0;
}

static void srv_start(struct srv *sv, const char *cert)
{
	uco_tls_server_opts so = { .cert_file = cert, .key_file = key_pem };
	uco_server_opts o = { .stack_size = TLS_STACK };

	memset(sv, 0, sizeof(*sv));
	ck_assert_int_eq(uco_tls_server_ctx_create(&sv->ctx, &so), 0);
	ck_assert_int_eq(uco_start_server(&sv->server, "127.0.0.1", "0",
					  echo_handler, sv, &o),
			 0);
	snprintf(sv->port, sizeof(sv->port), "%d",
		 uco_server_port(sv->server));
}

static void srv_stop(struct srv *sv)
{
	ck_assert_int_eq(uco_server_shutdown(sv->server, UCO_NSEC_PER_SEC), 0);
	uco_server_free(sv->server);
	uco_tls_ctx_free(sv->ctx);
}

static uco_tls_ctx *client_ctx(const char *ca, bool insecure,
			       const char *alpn)
{
	uco_tls_client_opts o = { .ca_file = ca, .insecure = insecure,
				  .alpn = alpn };
	uco_tls_ctx *c;

	ck_assert_int_eq(uco_tls_client_ctx_create(&c, &o), 0);
	return c;
}

static void *echo_round_trip(void *arg)
{
	struct srv *sv = arg;
	uco_tls_ctx *c = client_ctx(ca_pem, false, "h2,http/1.1");
	uco_stream *s;
	char line[64], alpn[32];
	uint8_t *b = malloc(BIG), *back = malloc(BIG);

	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(uco_open_tls_connection(&s, c, "localhost", sv->port,
						 NULL),
			 0);
	ck_assert(uco_tls_active(s));
	ck_assert_str_eq(uco_tls_version(s), "TLSv1.3");
	ck_assert_int_eq(uco_tls_alpn(s, alpn, sizeof(alpn)), 8);
	ck_assert_str_eq(alpn, "http/1.1");
	ck_assert_int_eq(uco_tls_alpn(s, alpn, 8), -ENOSPC);
	ck_assert_int_eq(uco_stream_write(s, "hello\nalpn\n", 11), 0);
	ck_assert_int_eq(uco_stream_drain(s), 0);
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)), 6);
	ck_assert_int_eq(memcmp(line, "hello\n", 6), 0);
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)), 9);
	ck_assert_int_eq(memcmp(line, "http/1.1\n", 9), 0);
	for (size_t i = 0; i < BIG; i++)
		b[i] = pat(i);
	ck_assert_int_eq(uco_stream_write(s, "big\n", 4), 0);
	ck_assert_int_eq(uco_stream_send(s, b, BIG), 0);
	ck_assert_int_eq(uco_stream_readexactly(s, back, BIG), BIG);
	ck_assert_int_eq(memcmp(b, back, BIG), 0);
	/* Half-close: close_notify + FIN; the server's end follows. */
	ck_assert_int_eq(uco_stream_write_eof(s), 0);
	ck_assert_int_eq(uco_stream_read(s, line, sizeof(line)), 0);
	ck_assert(uco_stream_at_eof(s));
	ck_assert_int_eq(uco_stream_close(s), 0);
	uco_tls_ctx_free(c);
	free(b);
	free(back);
	return NULL;
}

static void body_echo(void *arg)
{
	struct srv sv;
	uco_task *t[3];

	srv_start(&sv, good_pem);
	/* Three clients at once, on their own big stacks. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uco_spawn(&t[i], echo_round_trip, &sv,
					   &(uco_spawn_opts){
						   .stack_size = TLS_STACK }),
				 0);
	th_join_all(t, 3);
	ck_assert_int_eq(sv.handshakes_failed, 0);
	srv_stop(&sv);
}

START_TEST(echo_uco_to_uco)
{
	tls_run(body_echo, NULL);
}
END_TEST

/* ---- verification ---------------------------------------------------- */

struct verify_case {
	const char *cert;
	const char *ca;  /* NULL: the system store */
	bool insecure;
	int expect;
};

static void *verify_client(void *arg)
{
	struct verify_case *vc = arg;
	struct srv sv;
	uco_tls_ctx *c;
	uco_stream *s = (uco_stream *)1;
	char line[16];
	int r;

	srv_start(&sv, vc->cert);
	c = client_ctx(vc->ca, vc->insecure, NULL);
	r = uco_open_tls_connection(&s, c, "localhost", sv.port, NULL);
	ck_assert_msg(r == vc->expect, "%s: %d (%s), expected %d", vc->cert,
		      r, strerror(-r), vc->expect);
	if (r == 0) {
		ck_assert_int_eq(uco_stream_write(s, "ok\n", 3), 0);
		ck_assert_int_eq(uco_stream_drain(s), 0);
		ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)),
				 3);
		ck_assert_int_eq(uco_stream_close(s), 0);
	} else {
		ck_assert_ptr_null(s);
	}
	uco_tls_ctx_free(c);
	srv_stop(&sv);
	return NULL;
}

static void run_case(struct verify_case *vc)
{
	uco_task *t;

	ck_assert_int_eq(uco_spawn(&t, verify_client, vc,
				   &(uco_spawn_opts){ .stack_size = TLS_STACK }),
			 0);
	th_join_all(&t, 1);
}

static void body_verify(void *arg)
{
	struct verify_case cases[] = {
		{ good_pem, NULL, false, -EKEYREJECTED }, /* not in the system store */
		{ expired_pem, ca_pem, false, -EKEYEXPIRED },
		{ wronghost_pem, ca_pem, false, -EKEYREJECTED },
		{ self_pem, ca_pem, false, -EKEYREJECTED },
		{ good_pem, ca_pem, false, 0 },
		{ expired_pem, NULL, true, 0 },
		{ wronghost_pem, NULL, true, 0 },
		{ self_pem, NULL, true, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

START_TEST(verification)
{
	tls_run(body_verify, NULL);
}
END_TEST

/* The CA as a hashed directory (ca_dir), as /etc/ssl/certs is. */
static void body_ca_dir(void *arg)
{
	char hashdir[128], link[192];
	uco_process *p;
	char *argv[] = { (char *)"openssl", (char *)"rehash", hashdir, NULL };
	uco_tls_client_opts o = { .ca_dir = hashdir };
	struct srv sv;
	uco_tls_ctx *c;
	uco_stream *s;

	snprintf(hashdir, sizeof(hashdir), "%s/certs", dir);
	mkdir(hashdir, 0700);
	snprintf(link, sizeof(link), "%s/ca.pem", hashdir);
	ck_assert_int_eq(symlink(ca_pem, link) == 0 || errno == EEXIST, 1);
	ck_assert_int_eq(uco_process_spawn(&p, argv,
					   &(uco_process_opts){
						   .out = UCO_STDIO_DEVNULL }),
			 0);
	ck_assert_int_eq(uco_process_wait(p), 0);
	uco_process_close(p);
	srv_start(&sv, good_pem);
	ck_assert_int_eq(uco_tls_client_ctx_create(&c, &o), 0);
	ck_assert_int_eq(uco_open_tls_connection(&s, c, "localhost", sv.port,
						 NULL),
			 0);
	ck_assert_int_eq(uco_stream_close(s), 0);
	uco_tls_ctx_free(c);
	srv_stop(&sv);
}

static void *ca_dir_task(void *arg)
{
	body_ca_dir(arg);
	return NULL;
}

static void body_ca_dir_big_stack(void *arg)
{
	uco_task *t;

	ck_assert_int_eq(uco_spawn(&t, ca_dir_task, NULL,
				   &(uco_spawn_opts){ .stack_size = TLS_STACK }),
			 0);
	th_join_all(&t, 1);
}

START_TEST(ca_directory)
{
	tls_run(body_ca_dir_big_stack, NULL);
}
END_TEST

/* ---- peers nobody here wrote ---------------------------------------- */

/* openssl s_server -rev: answers each line reversed.  It says where it
 * listens ("ACCEPT 127.0.0.1:PORT") on stdout. */
static void *s_server_peer(void *arg)
{
	char *argv[] = { (char *)"openssl", (char *)"s_server", (char *)"-rev",
			 (char *)"-accept", (char *)"127.0.0.1:0",
			 (char *)"-naccept", (char *)"1", (char *)"-cert",
			 good_pem, (char *)"-key", key_pem, NULL };
	uco_process_opts po = { .in = UCO_STDIO_DEVNULL,
				.out = UCO_STDIO_PIPE,
				.err = UCO_STDIO_DEVNULL };
	uco_tls_ctx *c = client_ctx(ca_pem, false, NULL);
	char line[256], *port = NULL;
	uco_process *p;
	uco_stream *s;
	ssize_t n;

	ck_assert_int_eq(uco_process_spawn(&p, argv, &po), 0);
	while ((n = uco_stream_readline(uco_process_pipe(p, 1), line,
					sizeof(line) - 1)) > 0) {
		line[n] = '\0';
		if (strncmp(line, "ACCEPT ", 7) == 0) {
			port = strrchr(line, ':') + 1;
			port[strcspn(port, "\n")] = '\0';
			break;
		}
	}
	ck_assert_ptr_nonnull(port);
	ck_assert_int_eq(uco_open_tls_connection(&s, c, "localhost", port,
						 NULL),
			 0);
	ck_assert_int_eq(uco_stream_write(s, "hello uco\n", 10), 0);
	ck_assert_int_eq(uco_stream_drain(s), 0);
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)), 10);
	ck_assert_int_eq(memcmp(line, "ocu olleh\n", 10), 0);
	ck_assert_int_eq(uco_stream_close(s), 0);
	uco_tls_ctx_free(c);
	/* It has served its one connection: it ends by itself. */
	uco_process_close_pipe(p, 1);
	ck_assert_int_eq(uco_process_wait(p), 0);
	uco_process_close(p);
	return NULL;
}

static void body_s_server(void *arg)
{
	uco_task *t;

	ck_assert_int_eq(uco_spawn(&t, s_server_peer, NULL,
				   &(uco_spawn_opts){ .stack_size = TLS_STACK }),
			 0);
	th_join_all(&t, 1);
}

START_TEST(peer_openssl_s_server)
{
	tls_run(body_s_server, NULL);
}
END_TEST

/* openssl s_client against the uco server: verifies our certificate with
 * the CA and the host name, offers ALPN http/1.1; what it reads from its
 * stdin goes to the server, what comes back to its stdout. */
static void *s_client_peer(void *arg)
{
	struct srv sv;
	char connect[64];
	char *argv[] = { (char *)"openssl", (char *)"s_client", (char *)"-connect",
			 connect, (char *)"-CAfile", ca_pem,
			 (char *)"-verify_return_error", (char *)"-verify_hostname",
			 (char *)"localhost", (char *)"-servername",
			 (char *)"localhost", (char *)"-alpn",
			 (char *)"http/1.1", (char *)"-quiet", NULL };
	uco_process_opts po = { .in = UCO_STDIO_PIPE, .out = UCO_STDIO_PIPE,
				.err = UCO_STDIO_DEVNULL };
	char line[64];
	uco_process *p;
	int st;

	srv_start(&sv, good_pem);
	snprintf(connect, sizeof(connect), "127.0.0.1:%s", sv.port);
	ck_assert_int_eq(uco_process_spawn(&p, argv, &po), 0);
	ck_assert_int_eq(uco_stream_write(uco_process_pipe(p, 0),
					  "from s_client\nalpn\n", 19),
			 0);
	ck_assert_int_eq(uco_stream_drain(uco_process_pipe(p, 0)), 0);
	ck_assert_int_eq(uco_stream_readline(uco_process_pipe(p, 1), line,
					     sizeof(line)),
			 14);
	ck_assert_int_eq(memcmp(line, "from s_client\n", 14), 0);
	ck_assert_int_eq(uco_stream_readline(uco_process_pipe(p, 1), line,
					     sizeof(line)),
			 9);
	ck_assert_int_eq(memcmp(line, "http/1.1\n", 9), 0);
	/* -quiet implies -ign_eof: end it ourselves. */
	ck_assert_int_eq(uco_process_terminate(p), 0);
	st = uco_process_wait(p);
	ck_assert(WIFSIGNALED(st) || WIFEXITED(st));
	uco_process_close(p);
	srv_stop(&sv);
	ck_assert_int_eq(sv.handshakes_failed, 0);
	return NULL;
}

static void body_s_client(void *arg)
{
	uco_task *t;

	ck_assert_int_eq(uco_spawn(&t, s_client_peer, NULL,
				   &(uco_spawn_opts){ .stack_size = TLS_STACK }),
			 0);
	th_join_all(&t, 1);
}

START_TEST(peer_openssl_s_client)
{
	tls_run(body_s_client, NULL);
}
END_TEST

/* ---- cut short ------------------------------------------------------- */

/* A listener that never accepts: connections complete in its backlog and
 * nobody ever speaks TLS on them. */
static void *silent_handshakes(void *arg)
{
	int l = uco_listen_tcp("127.0.0.1", "0", 8, 0);
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	char port[16];
	uco_tls_ctx *c = client_ctx(ca_pem, false, NULL);
	uco_stream *s = (uco_stream *)1;
	int scope;

	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));

	scope = uco_timeout_begin(30 * UCO_NSEC_PER_MSEC);
	ck_assert_int_eq(uco_open_tls_connection(&s, c, "localhost", port,
						 NULL),
			 -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(scope), -ETIMEDOUT);
	ck_assert_ptr_null(s);

	/* Cancelled: the task cancels itself, so its next suspension (the
	 * connect or the handshake's poll) is refused. */
	uco_cancel(uco_current());
	ck_assert_int_eq(uco_open_tls_connection(&s, c, "localhost", port,
						 NULL),
			 -ECANCELED);
	ck_assert_ptr_null(s);
	uco_tls_ctx_free(c);
	close(l);
	return NULL;
}

/* Cancelled in the middle of the handshake by another task. */
static void *handshake_task(void *arg)
{
	int fd = *(int *)arg;
	uco_tls_ctx *c = client_ctx(ca_pem, false, NULL);
	uco_stream *s = (uco_stream *)1;
	int r = uco_tls_connect(&s, fd, c, "localhost", NULL);

	uco_tls_ctx_free(c);
	ck_assert_ptr_null(s);
	return (void *)(intptr_t)r;
}

static void body_handshake_cut(void *arg)
{
	uco_task *t;
	void *res;
	int sv[2];

	ck_assert_int_eq(uco_spawn(&t, silent_handshakes, NULL,
				   &(uco_spawn_opts){ .stack_size = TLS_STACK }),
			 0);
	th_join_all(&t, 1); /* it finished its work: a result, not -ECANCELED */

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(uco_spawn(&t, handshake_task, &sv[0],
				   &(uco_spawn_opts){ .name = "hs",
						      .stack_size = TLS_STACK }),
			 0);
	ck_assert_int_eq(uco_yield(), 0);
	th_await_waiting_on("hs", "io"); /* its handshake's uco_poll */
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, &res), 0);
	uco_task_release(t);
	ck_assert_int_eq((int)(intptr_t)res, -ECANCELED);
	close(sv[0]);
	close(sv[1]);
}

START_TEST(handshake_cut_short)
{
	tls_run(body_handshake_cut, NULL);
}
END_TEST

/* A read that times out leaves the session intact; a peer that hangs up
 * without close_notify is -ECONNRESET, not a clean end. */
struct raw_peer {
	uco_stream *s; /* the server side, TLS */
	uco_event ready, go;
};

static void *raw_server(void *arg)
{
	struct raw_peer *rp = arg;
	uco_tls_server_opts so = { .cert_file = good_pem, .key_file = key_pem };
	uco_tls_ctx *ctx;

	ck_assert_int_eq(uco_tls_server_ctx_create(&ctx, &so), 0);
	ck_assert_int_eq(uco_tls_start(rp->s, ctx, NULL), 0);
	uco_tls_ctx_free(ctx);
	uco_event_set(&rp->ready);
	ck_assert_int_eq(uco_event_wait(&rp->go), 0);
	ck_assert_int_eq(uco_stream_write(rp->s, "late\n", 5), 0);
	ck_assert_int_eq(uco_stream_drain(rp->s), 0);
	/* Hang up without close_notify. */
	uco_stream_abort(rp->s);
	return NULL;
}

static void *read_timeout_client(void *arg)
{
	struct raw_peer *rp = arg;
	uco_tls_ctx *c = client_ctx(ca_pem, false, NULL);
	uco_stream *s;
	uco_task *t;
	char line[16];
	int sv[2], scope;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(uco_stream_open(&rp->s, sv[1], NULL), 0);
	ck_assert_int_eq(uco_spawn(&t, raw_server, rp,
				   &(uco_spawn_opts){ .stack_size = TLS_STACK }),
			 0);
	ck_assert_int_eq(uco_tls_connect(&s, sv[0], c, "localhost", NULL), 0);
	ck_assert_int_eq(uco_event_wait(&rp->ready), 0);
	scope = uco_timeout_begin(10 * UCO_NSEC_PER_MSEC);
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)),
			 -ETIMEDOUT);
	uco_timeout_end(scope);
	uco_event_set(&rp->go);
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)), 5);
	ck_assert_int_eq(memcmp(line, "late\n", 5), 0);
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)),
			 -ECONNRESET);
	th_join_all(&t, 1);
	uco_stream_abort(s);
	uco_tls_ctx_free(c);
	return NULL;
}

static void body_read_cut(void *arg)
{
	struct raw_peer rp;
	uco_task *t;

	ck_assert_int_eq(uco_event_init(&rp.ready), 0);
	ck_assert_int_eq(uco_event_init(&rp.go), 0);
	ck_assert_int_eq(uco_spawn(&t, read_timeout_client, &rp,
				   &(uco_spawn_opts){ .stack_size = TLS_STACK }),
			 0);
	th_join_all(&t, 1);
	uco_event_destroy(&rp.ready);
	uco_event_destroy(&rp.go);
}

START_TEST(read_timeout_then_reset)
{
	tls_run(body_read_cut, NULL);
}
END_TEST

/*
 * A drain cut short while OpenSSL waits for the socket (WANT_WRITE: the
 * peer reads nothing and the buffers are full), by a timeout and by a
 * cancel: the bytes stay pending, and once the peer reads, a later drain
 * sends them, each exactly once (the reader checks every byte), then
 * write_eof sends close_notify and the reader sees a clean end.
 */
#define BLOCKED (4 * 1024 * 1024)

struct blocked {
	uco_stream *s; /* the reader's side */
	uco_event go;
	int result;
};

static void *blocked_reader(void *arg)
{
	struct blocked *b = arg;
	uco_tls_server_opts so = { .cert_file = good_pem, .key_file = key_pem };
	static uint8_t buf[65536];
	uco_tls_ctx *ctx;
	size_t got = 0;
	ssize_t n;

	ck_assert_int_eq(uco_tls_server_ctx_create(&ctx, &so), 0);
	ck_assert_int_eq(uco_tls_start(b->s, ctx, NULL), 0);
	uco_tls_ctx_free(ctx);
	ck_assert_int_eq(uco_event_wait(&b->go), 0);
	while ((n = uco_stream_read(b->s, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			LC_CHECK(buf[i] == pat(got + (size_t)i), "byte %zu",
				 got + (size_t)i);
		got += (size_t)n;
	}
	b->result = n == 0 && got == BLOCKED ? 0 : n < 0 ? (int)n : -EIO;
	UCO_IGNORE(uco_stream_close(b->s));
	return NULL;
}

struct drainer {
	uco_stream *s;
	int result;
};

static void *drain_task(void *arg)
{
	struct drainer *d = arg;

	d->result = uco_stream_drain(d->s);
	return NULL;
}

static void *blocked_writer(void *arg)
{
	struct blocked *b = arg;
	uco_tls_ctx *c = client_ctx(ca_pem, false, NULL);
	uint8_t *data = malloc(BLOCKED);
	struct drainer d;
	uco_stream *s;
	uco_task *t, *dt;
	int sv[2], scope;

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < BLOCKED; i++)
		data[i] = pat(i);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(uco_stream_open(&b->s, sv[1], NULL), 0);
	ck_assert_int_eq(uco_spawn(&t, blocked_reader, b,
				   &(uco_spawn_opts){ .stack_size = TLS_STACK }),
			 0);
	ck_assert_int_eq(uco_tls_connect(&s, sv[0], c, "localhost", NULL), 0);
	ck_assert_int_eq(uco_stream_write(s, data, BLOCKED), 0);
	/* Nobody reads: a timeout ends the drain with bytes pending. */
	scope = uco_timeout_begin(20 * UCO_NSEC_PER_MSEC);
	ck_assert_int_eq(uco_stream_drain(s), -ETIMEDOUT);
	uco_timeout_end(scope);
	ck_assert_uint_gt(uco_stream_pending(s), 0);
	/* And a cancel, in another task. */
	d.s = s;
	ck_assert_int_eq(uco_spawn(&dt, drain_task, &d,
				   &(uco_spawn_opts){ .name = "drainer",
						      .stack_size = TLS_STACK }),
			 0);
	ck_assert_int_eq(uco_yield(), 0);
	th_await_waiting_on("drainer", "io");
	ck_assert_int_eq(uco_cancel(dt), 0);
	th_join_all(&dt, 1);
	ck_assert_int_eq(d.result, -ECANCELED);
	ck_assert_uint_gt(uco_stream_pending(s), 0);
	/* The reader starts: everything goes, once. */
	uco_event_set(&b->go);
	ck_assert_int_eq(uco_stream_drain(s), 0);
	ck_assert_int_eq(uco_stream_write_eof(s), 0);
	th_join_all(&t, 1);
	ck_assert_int_eq(b->result, 0);
	ck_assert_int_eq(uco_stream_close(s), 0);
	uco_tls_ctx_free(c);
	free(data);
	return NULL;
}

static void body_drain_cut(void *arg)
{
	struct blocked b;
	uco_task *t;

	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(uco_event_init(&b.go), 0);
	ck_assert_int_eq(uco_spawn(&t, blocked_writer, &b,
				   &(uco_spawn_opts){ .stack_size = TLS_STACK }),
			 0);
	th_join_all(&t, 1);
	uco_event_destroy(&b.go);
}

START_TEST(drain_cut_short_then_resumed)
{
	tls_run(body_drain_cut, NULL);
}
END_TEST

/* ---- misuse ---------------------------------------------------------- */

static void *bad_args_task(void *arg)
{
	uco_tls_server_opts missing = { .cert_file = "/nonexistent.pem",
					.key_file = key_pem };
	uco_tls_server_opts mismatch = { .cert_file = good_pem,
					 .key_file = other_key_pem };
	uco_tls_server_opts garbage = { .cert_file = "/etc/hostname",
					.key_file = key_pem };
	uco_tls_server_opts bad_alpn = { .cert_file = good_pem,
					 .key_file = key_pem, .alpn = "a,,b" };
	uco_tls_client_opts no_ca = { .ca_file = "/nonexistent-ca.pem" };
	uco_tls_ctx *c = (uco_tls_ctx *)1, *good;
	uco_stream *s;
	int sv[2];

	ck_assert_int_eq(uco_tls_server_ctx_create(&c, NULL), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(uco_tls_server_ctx_create(&c, &missing), -ENOENT);
	ck_assert_int_eq(uco_tls_server_ctx_create(&c, &mismatch),
			 -EKEYREJECTED);
	ck_assert_int_eq(uco_tls_server_ctx_create(&c, &garbage), -EPROTO);
	ck_assert_int_eq(uco_tls_server_ctx_create(&c, &bad_alpn), -EINVAL);
	ck_assert_int_eq(uco_tls_client_ctx_create(&c, &no_ca), -ENOENT);
	ck_assert_int_eq(uco_tls_client_ctx_create(NULL, NULL), -EINVAL);
	uco_tls_ctx_free(NULL);

	good = client_ctx(NULL, false, NULL);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(uco_stream_open(&s, sv[0], NULL), 0);
	/* A verifying client needs a host name. */
	ck_assert_int_eq(uco_tls_start(s, good, NULL), -EINVAL);
	/* Bytes already buffered are not TLS's. */
	ck_assert_int_eq(uco_stream_write(s, "x", 1), 0);
	ck_assert_int_eq(uco_tls_start(s, good, "localhost"), -EINVAL);
	ck_assert(!uco_tls_active(s));
	ck_assert_ptr_null(uco_tls_version(s));
	ck_assert_int_eq(uco_tls_alpn(s, NULL, 0), -ENOTCONN);
	uco_stream_abort(s);
	ck_assert_int_eq(uco_tls_start(NULL, good, "x"), -EINVAL);
	ck_assert_int_eq(uco_tls_connect(&s, -1, good, "x", NULL), -EBADF);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(uco_tls_connect(&s, sv[1], NULL, "x", NULL), -EINVAL);
	close(sv[1]);
	uco_tls_ctx_free(good);
	return NULL;
}

static void body_bad_args(void *arg)
{
	uco_task *t;

	ck_assert_int_eq(uco_spawn(&t, bad_args_task, NULL,
				   &(uco_spawn_opts){ .stack_size = TLS_STACK }),
			 0);
	th_join_all(&t, 1);
}

START_TEST(bad_arguments)
{
	tls_run(body_bad_args, NULL);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, echo_uco_to_uco);
	tcase_add_test(tc, verification);
	tcase_add_test(tc, ca_directory);
	tcase_add_test(tc, peer_openssl_s_server);
	tcase_add_test(tc, peer_openssl_s_client);
	tcase_add_test(tc, handshake_cut_short);
	tcase_add_test(tc, read_timeout_then_reset);
	tcase_add_test(tc, drain_cut_short_then_resumed);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int r;

	make_pki();
	r = th_main_run(tls_suite());
	remove_pki();
	return r;
}
