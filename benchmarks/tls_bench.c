/*
 * TLS echo servers side by side, in one run: uco's (uco_start_server, the
 * handler upgrading its stream with uco_tls_start and echoing with
 * uco_stream_read + uco_stream_send) against a plain epoll server over the
 * same OpenSSL (benchmarks/peers/tls_epoll.c).  Both servers run pinned to
 * CPU 0 with the same ECDSA P-256 certificate (made at start with the
 * openssl command); one blocking OpenSSL client, pinned to CPU 1, drives
 * each in turn, so the client's cost is the same for both.
 *
 * Figures (group "tls"), each the best of a few alternating rounds:
 *   handshakes       full TLS 1.3 handshakes per second, sequential (each
 *                    connect + handshake + a 1-byte echo + close_notify);
 *   handshake_cpu_us the server's CPU time per such connection
 *                    (/proc/PID/stat, user + system);
 *   echo_64k         MB/s through one connection, 64 KiB written and read
 *                    back at a time.
 *
 *   tls_bench --peer PATH/tls_epoll [--quick]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <uco/uco.h>

#include "bench.h"

#define STACK (256 * 1024)
#define CHUNK 65536

static char cert[64], key[64];

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void die(const char *what)
{
	fprintf(stderr, "tls_bench: %s\n", what);
	exit(1);
}

/* ---- uco's server (in a child process) ------------------------------- */

static uco_tls_ctx *srv_ctx;

static int echo(uco_stream *s, void *arg)
{
	static __thread char *buf;
	int r = uco_tls_start(s, srv_ctx, NULL);

	if (r < 0)
		return r;
	if (!buf && !(buf = malloc(CHUNK)))
		return -ENOMEM;
	for (;;) {
		ssize_t n = uco_stream_read(s, buf, CHUNK);

		if (n <= 0)
			return (int)n;
		r = uco_stream_send(s, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

static void *uco_server_main(void *arg)
{
	int out = *(int *)arg;
	uco_tls_server_opts so = { .cert_file = cert, .key_file = key };
	uco_server_opts o = { .stack_size = STACK };
	uco_server *srv;
	char line[32];
	int n;

	if (uco_tls_server_ctx_create(&srv_ctx, &so) < 0 ||
	    uco_start_server(&srv, "127.0.0.1", "0", echo, NULL, &o) < 0)
		die("uco server did not start");
	n = snprintf(line, sizeof(line), "PORT %d\n", uco_server_port(srv));
	if (write(out, line, (size_t)n) != n)
		die("write");
	close(out);
	UCO_IGNORE(uco_server_serve_forever(srv)); /* until killed */
	return NULL;
}

/* Start a server process; returns its pid, *port its port.  argv NULL:
 * uco's, in a fork of this program. */
static pid_t start_server(char *const argv[], int *port)
{
	int p[2];
	char line[64] = "";
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(p) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(p[0]);
		pin(0);
		if (argv) {
			dup2(p[1], 1);
			execv(argv[0], argv);
			_exit(127);
		} else {
			uco_config cfg;

			uco_config_init(&cfg);
			cfg.cores = 1;
			uco_run(uco_server_main, &p[1], &cfg, NULL);
			_exit(0);
		}
	}
	close(p[1]);
	while (got < (ssize_t)sizeof(line) - 1 &&
	       (n = read(p[0], line + got, sizeof(line) - 1 - (size_t)got)) > 0) {
		got += n;
		if (strchr(line, '\n'))
			break;
	}
	close(p[0]);
	if (sscanf(line, "PORT %d", port) != 1)
		die("a server did not say its port");
	return pid;
}

/* ---- the client ---------------------------------------------------- */

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static SSL *handshake(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);

	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		die("handshake");
	}
	return ssl;
}

static double cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		die("/proc/PID/stat");
	fclose(f);
	p = strrchr(buf, ')');
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		die("/proc/PID/stat");
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* n sequential connections; returns handshakes/s, *cpu_us the server's
 * CPU per connection. */
static double run_handshakes(SSL_CTX *ctx, int port, pid_t pid, int n,
			     double *cpu_us)
{
	double c0 = cpu_s(pid);
	uint64_t t0 = bench_now();

	for (int i = 0; i < n; i++) {
		int fd = dial(port);
		SSL *ssl = handshake(ctx, fd);
		char b = 'x';

		if (SSL_write(ssl, &b, 1) != 1 || SSL_read(ssl, &b, 1) != 1)
			die("1-byte echo");
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
	*cpu_us = (cpu_s(pid) - c0) * 1e6 / n;
	return n / ((double)(bench_now() - t0) / 1e9);
}

/* MB/s echoing total bytes in CHUNK pieces over one connection. */
static double run_echo(SSL_CTX *ctx, int port, size_t total)
{
	static char out[CHUNK], in[CHUNK];
	int fd = dial(port);
	SSL *ssl = handshake(ctx, fd);
	uint64_t t0;

	memset(out, 'e', sizeof(out));
	t0 = bench_now();
	for (size_t done = 0; done < total; done += CHUNK) {
		size_t got = 0, n;

		if (SSL_write_ex(ssl, out, CHUNK, &n) != 1 || n != CHUNK)
			die("echo write");
		while (got < CHUNK) {
			if (SSL_read_ex(ssl, in, CHUNK - got, &n) != 1)
				die("echo read");
			got += n;
		}
	}
	t0 = bench_now() - t0;
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	return (double)total / 1e6 / ((double)t0 / 1e9);
}

static void make_cert(void)
{
	char cmd[512];

	snprintf(cert, sizeof(cert), "/tmp/uco-tls-bench-%d.crt", (int)getpid());
	snprintf(key, sizeof(key), "/tmp/uco-tls-bench-%d.key", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:P-256 -nodes -keyout %s -out %s "
		 "-subj /CN=localhost -days 1 2>/dev/null",
		 key, cert);
	if (system(cmd) != 0)
		die("openssl req failed (is the openssl command installed?)");
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv);
	const char *peer = NULL;
	int nhs = quick ? 200 : 1000, rounds = quick ? 2 : 3;
	size_t total = (quick ? 32u : 128u) << 20;
	struct {
		const char *impl;
		pid_t pid;
		int port;
		double hs, cpu, mbs;
	} s[2] = { { "uco", 0, 0, 0, 1e30, 0 }, { "epoll", 0, 0, 0, 1e30, 0 } };
	SSL_CTX *ctx;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc)
			peer = argv[++i];
	if (!peer)
		die("usage: tls_bench --peer PATH/tls_epoll [--quick]");
	make_cert();
	s[0].pid = start_server(NULL, &s[0].port);
	s[1].pid = start_server((char *const[]){ (char *)peer, cert, key,
						 NULL },
				&s[1].port);
	pin(1);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < 2; i++) {
			double cpu, hs = run_handshakes(ctx, s[i].port,
							s[i].pid, nhs, &cpu);
			double mbs = run_echo(ctx, s[i].port, total);

			if (hs > s[i].hs)
				s[i].hs = hs;
			if (cpu < s[i].cpu)
				s[i].cpu = cpu;
			if (mbs > s[i].mbs)
				s[i].mbs = mbs;
		}
	}
	for (int i = 0; i < 2; i++) {
		printf("RESULT group=tls name=handshakes impl=%s value=%.4g "
		       "unit=hs/s\n", s[i].impl, s[i].hs);
		printf("RESULT group=tls name=handshake_cpu_us impl=%s "
		       "value=%.4g unit=us\n", s[i].impl, s[i].cpu);
		printf("RESULT group=tls name=echo_64k impl=%s value=%.4g "
		       "unit=MB/s\n", s[i].impl, s[i].mbs);
		kill(s[i].pid, SIGKILL);
		waitpid(s[i].pid, NULL, 0);
	}
	SSL_CTX_free(ctx);
	unlink(cert);
	unlink(key);
	return 0;
}
