/*
 * Suite "http_client": the HTTP client session (include/uco/http_client.h)
 * against uco's own server and against hostile servers written here, every
 * run leak-checked.  Keep-alive reuse; streamed and whole bodies,
 * Content-Length and chunked; redirects (followed, limited, refused, 303
 * turning a POST into a GET); the per-host limit; total and read
 * timeouts; a server sending an over-long header, an endless status line,
 * a Content-Length that lies, a close mid-body, garbage, more bytes than
 * it said (the connection is then not reused).
 *
 * With --interop (the "http_client-interop" test): against Python's
 * http.server, a file byte-exact and its redirect of a directory; exit 77
 * (skipped) without python3.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

static char *url_of(int port, const char *path)
{
	static char u[4][256];
	static int k;
	char *s = u[k++ % 4];

	snprintf(s, 256, "http://127.0.0.1:%d%s", port, path);
	return s;
}

/* ---- uco's server, with a router -------------------------------------- */

static int h_hello(uco_http_request *req, uco_http_response *res, void *a)
{
	return uco_http_response_send_str(res, "Hello, World!");
}

static int h_chunks(uco_http_request *req, uco_http_response *res, void *a)
{
	char b[64];

	for (int i = 0; i < 100; i++) {
		int n = snprintf(b, sizeof(b), "chunk %03d;", i);
		int r = uco_http_response_write(res, b, (size_t)n);

		if (r < 0)
			return r;
	}
	return uco_http_response_end(res);
}

static int h_redirect(uco_http_request *req, uco_http_response *res, void *a)
{
	int n = atoi(uco_http_request_param(req, "n"));
	char loc[64];

	if (n == 0)
		return uco_http_response_send_str(res, uco_http_request_method(req));
	snprintf(loc, sizeof(loc), n == 2 ? "%d" : "/r/%d", n - 1);
	uco_http_response_status(res, strcmp(uco_http_request_method(req),
					     "POST") == 0 ? 303 : 302);
	uco_http_response_header(res, "Location", loc);
	return uco_http_response_send_str(res, "moved");
}

static int h_slow(uco_http_request *req, uco_http_response *res, void *a)
{
	int r = uco_sleep(30 * MS);

	return r < 0 ? r : uco_http_response_send_str(res, "slow");
}

static int h_stall(uco_http_request *req, uco_http_response *res, void *a)
{
	/* Half a body, then nothing for a second. */
	int r = uco_http_response_write(res, "half", 4);

	if (r == 0)
		r = uco_http_response_write(res, "", 0);
	uco_http_response_end(res); /* flushes "half" */
	return r;
}

struct srv {
	uco_http_server *srv;
	uco_http_router *rt;
	int port;
};

static void srv_start(struct srv *s)
{
	ck_assert_int_eq(uco_http_router_create(&s->rt), 0);
	uco_http_route(s->rt, "GET", "/hello", h_hello, NULL);
	uco_http_route(s->rt, "GET", "/chunks", h_chunks, NULL);
	uco_http_route(s->rt, "*", "/r/{n}", h_redirect, NULL);
	uco_http_route(s->rt, "GET", "/slow", h_slow, NULL);
	uco_http_route(s->rt, "GET", "/stall", h_stall, NULL);
	ck_assert_int_eq(uco_http_serve(&s->srv, "127.0.0.1", "0",
					uco_http_router_handler, s->rt, NULL), 0);
	s->port = uco_http_server_port(s->srv);
}

static void srv_stop(struct srv *s)
{
	ck_assert_int_eq(uco_http_server_shutdown(s->srv, UCO_NSEC_PER_SEC), 0);
	uco_http_server_free(s->srv);
	uco_http_router_free(s->rt);
}

static void *resolve_once(void *arg)
{
	struct addrinfo *ai;

	if (uco_getaddrinfo("127.0.0.1", "1", NULL, &ai) == 0)
		freeaddrinfo(ai);
	return NULL;
}

static void body_warm(void *arg)
{
	uco_task *t[8];

	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(uco_spawn(&t[i], resolve_once, NULL, NULL), 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
}

static void run(void (*body)(void *))
{
	uco_config cfg;

	uco_config_init(&cfg);
	th_run(body_warm, NULL, &cfg);
	lc_run(body, NULL, &cfg);
}

/* ---- against uco's server ------------------------------------------------ */

static void body_keepalive(void *arg)
{
	struct srv v;
	uco_http_session *s;
	uco_http_server_stats st;

	srv_start(&v);
	ck_assert_int_eq(uco_http_session_create(&s, NULL), 0);
	for (int i = 0; i < 20; i++) {
		int status;
		char *body;
		size_t len;

		ck_assert_int_eq(uco_http_get(s, url_of(v.port, "/hello"), &status,
					      &body, &len), 0);
		ck_assert_int_eq(status, 200);
		ck_assert_str_eq(body, "Hello, World!");
		ck_assert_uint_eq(len, 13);
		free(body);
	}
	uco_http_server_stats_get(v.srv, &st);
	ck_assert_uint_eq(st.accepted, 1);
	uco_http_session_free(s);
	srv_stop(&v);
}

START_TEST(keepalive)
{
	run(body_keepalive);
}
END_TEST

static void body_bodies(void *arg)
{
	struct srv v;
	uco_http_session *s;
	uco_http_client_response *r;
	char buf[7], all[2048];
	size_t got = 0;
	ssize_t n;
	const char *data;

	srv_start(&v);
	ck_assert_int_eq(uco_http_session_create(&s, NULL), 0);
	/* Chunked, streamed 7 bytes at a time. */
	ck_assert_int_eq(uco_http_fetch(s, url_of(v.port, "/chunks"), NULL, &r), 0);
	ck_assert_int_eq(uco_http_client_response_length(r), -1);
	while ((n = uco_http_client_response_read(r, buf, sizeof(buf))) > 0) {
		ck_assert_uint_le(got + (size_t)n, sizeof(all));
		memcpy(all + got, buf, (size_t)n);
		got += (size_t)n;
	}
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(got, 1000);
	ck_assert(memcmp(all, "chunk 000;chunk 001;", 20) == 0);
	ck_assert(memcmp(all + 990, "chunk 099;", 10) == 0);
	uco_http_client_response_free(r);
	/* Content-Length, whole; HEAD; a header. */
	ck_assert_int_eq(uco_http_fetch(s, url_of(v.port, "/hello"), NULL, &r), 0);
	ck_assert_int_eq(uco_http_client_response_length(r), 13);
	ck_assert_str_eq(uco_http_client_response_header(r, "content-length"), "13");
	ck_assert_int_eq(uco_http_client_response_body(r, &data), 13);
	ck_assert_str_eq(data, "Hello, World!");
	uco_http_client_response_free(r);
	uco_http_fetch_opts head = { .method = "HEAD" };
	ck_assert_int_eq(uco_http_fetch(s, url_of(v.port, "/hello"), &head, &r), 0);
	ck_assert_int_eq(uco_http_client_response_body(r, &data), 0);
	uco_http_client_response_free(r);
	/* The body over max_body_size. */
	uco_http_session *small;
	uco_http_session_opts so = { .max_body_size = 100 };
	ck_assert_int_eq(uco_http_session_create(&small, &so), 0);
	ck_assert_int_eq(uco_http_fetch(small, url_of(v.port, "/chunks"), NULL, &r), 0);
	ck_assert_int_eq(uco_http_client_response_body(r, &data), -EMSGSIZE);
	uco_http_client_response_free(r);
	uco_http_session_free(small);
	uco_http_session_free(s);
	srv_stop(&v);
}

START_TEST(bodies)
{
	run(body_bodies);
}
END_TEST

static void body_redirects(void *arg)
{
	struct srv v;
	uco_http_session *s, *s2;
	uco_http_client_response *r;
	const char *data;
	uco_http_session_opts o2 = { .max_redirects = 2 };

	srv_start(&v);
	ck_assert_int_eq(uco_http_session_create(&s, NULL), 0);
	ck_assert_int_eq(uco_http_fetch(s, url_of(v.port, "/r/4"), NULL, &r), 0);
	ck_assert_int_eq(uco_http_client_response_status(r), 200);
	ck_assert_int_eq(uco_http_client_response_body(r, &data), 3);
	ck_assert_str_eq(data, "GET");
	ck_assert_str_eq(uco_http_client_response_url(r), url_of(v.port, "/r/0"));
	uco_http_client_response_free(r);
	/* Off on request. */
	uco_http_fetch_opts no = { .no_redirects = true };
	ck_assert_int_eq(uco_http_fetch(s, url_of(v.port, "/r/4"), &no, &r), 0);
	ck_assert_int_eq(uco_http_client_response_status(r), 302);
	ck_assert_str_eq(uco_http_client_response_header(r, "Location"), "/r/3");
	uco_http_client_response_free(r);
	/* A POST answered 303 goes on as a GET, without its body. */
	uco_http_fetch_opts post = { .method = "POST", .body = "data",
				     .body_len = 4 };
	ck_assert_int_eq(uco_http_fetch(s, url_of(v.port, "/r/1"), &post, &r), 0);
	ck_assert_int_eq(uco_http_client_response_body(r, &data), 3);
	ck_assert_str_eq(data, "GET");
	uco_http_client_response_free(r);
	/* Past the limit. */
	ck_assert_int_eq(uco_http_session_create(&s2, &o2), 0);
	ck_assert_int_eq(uco_http_fetch(s2, url_of(v.port, "/r/4"), NULL, &r),
			 -ELOOP);
	ck_assert_ptr_null(r);
	uco_http_session_free(s2);
	uco_http_session_free(s);
	srv_stop(&v);
}

START_TEST(redirects)
{
	run(body_redirects);
}
END_TEST

struct getter {
	uco_http_session *s;
	const char *url;
	int status;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;
	char *body = NULL;
	int r = uco_http_get(g->s, g->url, &g->status, &body, NULL);

	free(body);
	return r < 0 ? uco_fail(r) : NULL;
}

static void body_limits(void *arg)
{
	struct srv v;
	uco_http_session *s;
	uco_http_session_opts o = { .limit_per_host = 2 };
	enum { N = 20 };
	struct getter g[N];
	uco_task *t[N];
	int errs[N];
	uco_http_server_stats st;

	srv_start(&v);
	ck_assert_int_eq(uco_http_session_create(&s, &o), 0);
	for (int i = 0; i < N; i++) {
		g[i] = (struct getter){ s, url_of(v.port, "/slow"), 0 };
		ck_assert_int_eq(uco_spawn(&t[i], getter_main, &g[i], NULL), 0);
	}
	ck_assert_int_eq(uco_gather(t, N, NULL, errs), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(errs[i], 0);
		ck_assert_int_eq(g[i].status, 200);
		uco_task_release(t[i]);
	}
	uco_http_server_stats_get(v.srv, &st);
	ck_assert_uint_eq(st.accepted, 2);
	uco_http_session_free(s);
	srv_stop(&v);
}

START_TEST(limits)
{
	run(body_limits);
}
END_TEST

static void body_timeouts(void *arg)
{
	struct srv v;
	uco_http_session *s;
	uco_http_session_opts o = { .total_timeout = 10 * MS };
	uco_http_session_opts o2 = { .read_timeout = 10 * MS };
	uco_http_client_response *r;
	const char *data;

	srv_start(&v);
	ck_assert_int_eq(uco_http_session_create(&s, &o), 0);
	ck_assert_int_eq(uco_http_fetch(s, url_of(v.port, "/slow"), NULL, &r),
			 -ETIMEDOUT);
	uco_http_session_free(s);
	ck_assert_int_eq(uco_http_session_create(&s, &o2), 0);
	ck_assert_int_eq(uco_http_fetch(s, url_of(v.port, "/slow"), NULL, &r),
			 -ETIMEDOUT);
	/* Still usable afterwards. */
	ck_assert_int_eq(uco_http_fetch(s, url_of(v.port, "/hello"), NULL, &r), 0);
	ck_assert_int_eq(uco_http_client_response_body(r, &data), 13);
	uco_http_client_response_free(r);
	uco_http_session_free(s);
	/* Connection refused. */
	ck_assert_int_eq(uco_http_session_create(&s, NULL), 0);
	ck_assert_int_eq(uco_http_fetch(s, "http://127.0.0.1:1/", NULL, &r),
			 -ECONNREFUSED);
	ck_assert_int_eq(uco_http_fetch(s, "ftp://x/", NULL, &r), -EINVAL);
	ck_assert_int_eq(uco_http_fetch(s, "http://:80/", NULL, &r), -EINVAL);
	uco_http_session_free(s);
	srv_stop(&v);
}

START_TEST(timeouts)
{
	run(body_timeouts);
}
END_TEST

/* ---- hostile servers ---------------------------------------------------------- */

struct hostile {
	int lfd;
	const char *reply;
	size_t reply_len;
	int conns;
};

/* Accept, read a request head, send the reply, close; `conns` times. */
static void *hostile_main(void *arg)
{
	struct hostile *h = arg;

	for (int i = 0; i < h->conns; i++) {
		char buf[4096];
		size_t got = 0;
		int fd = uco_accept(h->lfd, NULL, NULL, 0);

		if (fd < 0)
			return uco_fail(fd);
		while (!memmem(buf, got, "\r\n\r\n", 4)) {
			ssize_t n = uco_recv(fd, buf + got, sizeof(buf) - got, 0);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		/* The client may hang up first: what it got is its test. */
		UCO_IGNORE(uco_send_all(fd, h->reply, h->reply_len, 0));
		close(fd);
	}
	return NULL;
}

static int hostile_get(const char *reply, size_t len, int conns,
		       const char **body_out, int *fetches_ok)
{
	struct hostile h = { uco_listen_tcp("127.0.0.1", "0", 16, 0), reply,
			     len, conns };
	uco_http_session *s;
	uco_http_client_response *r;
	uco_task *t;
	const char *data;
	int e;

	ck_assert_int_ge(h.lfd, 0);
	ck_assert_int_eq(uco_spawn(&t, hostile_main, &h, NULL), 0);
	ck_assert_int_eq(uco_http_session_create(&s, NULL), 0);
	*fetches_ok = 0;
	e = uco_http_fetch(s, url_of(uco_local_port(h.lfd), "/"), NULL, &r);
	if (e == 0) {
		(*fetches_ok)++;
		e = (int)uco_http_client_response_body(r, &data);
		if (e >= 0 && body_out)
			*body_out = strcmp(data, "abc") == 0 ? "abc" : "other";
		uco_http_client_response_free(r);
	}
	for (int i = 1; i < conns; i++) {
		/* The connection must not be reused: a new one is made. */
		int e2 = uco_http_fetch(s, url_of(uco_local_port(h.lfd), "/"),
					NULL, &r);

		if (e2 == 0) {
			(*fetches_ok)++;
			uco_http_client_response_free(r);
		}
	}
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	uco_http_session_free(s);
	close(h.lfd);
	return e;
}

static void body_hostile(void *arg)
{
	static char huge[60000];
	const char *body = NULL;
	int ok;
	size_t n = (size_t)snprintf(huge, sizeof(huge),
				    "HTTP/1.1 200 OK\r\nX-Huge: ");

	memset(huge + n, 'a', 40000);
	strcpy(huge + n + 40000, "\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_eq(hostile_get(huge, strlen(huge), 1, NULL, &ok), -EMSGSIZE);
	memset(huge, 'b', sizeof(huge));
	memcpy(huge, "HTTP/1.1 200 ", 13);
	ck_assert_int_eq(hostile_get(huge, sizeof(huge), 1, NULL, &ok), -EMSGSIZE);
#define S(x) x, sizeof(x) - 1
	ck_assert_int_eq(hostile_get(S("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
				       "\r\nabc"), 1, NULL, &ok), -EPIPE);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(hostile_get(S("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
				       "chunked\r\n\r\n3\r\nabc\r\n10\r\nab"), 1,
				     NULL, &ok), -EPIPE);
	ck_assert_int_eq(hostile_get(S("NOT HTTP AT ALL\r\n\r\n"), 1, NULL, &ok),
			 -EPROTO);
	ck_assert_int_eq(hostile_get(S(""), 1, NULL, &ok), -ECONNRESET);
	ck_assert_int_eq(hostile_get(S("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
				       "Content-Length: 4\r\n\r\nabcd"), 1, NULL,
				     &ok), -EPROTO);
	/* More than it said: the body is what it said, and the connection is
	 * not kept (the second fetch needs the second accept). */
	ck_assert_int_eq(hostile_get(S("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
				       "\r\nabcEXTRA"), 2, &body, &ok), 3);
	ck_assert_str_eq(body, "abc");
	ck_assert_int_eq(ok, 2);
	/* A body that runs to the close. */
	ck_assert_int_eq(hostile_get(S("HTTP/1.0 200 OK\r\n\r\nabc"), 1, &body,
				     &ok), 3);
#undef S
}

START_TEST(hostile)
{
	run(body_hostile);
}
END_TEST

START_TEST(misuse)
{
	uco_http_session *s;

	ck_assert_int_eq(uco_http_session_create(&s, NULL), -EPERM);
	ck_assert_int_eq(uco_http_session_create(NULL, NULL), -EINVAL);
	uco_http_session_free(NULL);
	uco_http_client_response_free(NULL);
}
END_TEST

/* ---- Python's http.server ------------------------------------------------------- */

static void body_python(void *arg)
{
	char dir[] = "/tmp/uco-http-client-XXXXXX";
	char path[128], port[16], data[20000];
	int p, fd, r;
	pid_t pid;
	uco_http_session *s;
	uco_http_client_response *resp;
	const char *body;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file.bin", dir);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 13 + 1);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(write(fd, data, sizeof(data)), (int)sizeof(data));
	close(fd);
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0755);
	/* A free port: bind one, then let Python have it. */
	fd = uco_listen_tcp("127.0.0.1", "0", 1, 0);
	p = uco_local_port(fd);
	close(fd);
	snprintf(port, sizeof(port), "%d", p);
	char *const argv[] = { "python3", "-m", "http.server", "--bind",
			       "127.0.0.1", "--directory", dir, port, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	/* uco's loops block SIGTERM (it is read from a signalfd): the child
	 * must not inherit that, or the SIGTERM below would not end it. */
	sigemptyset(&none);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	ck_assert_int_eq(posix_spawnp(&pid, "python3", &fa, &at, argv, environ), 0);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	/* Wait for it to listen: each try is a connect it answers. */
	for (int i = 0; i < 500; i++) {
		int c = uco_connect_tcp("127.0.0.1", port);

		if (c >= 0) {
			close(c);
			break;
		}
		ck_assert_int_eq(uco_sleep(20 * MS), 0); /* python's start */
	}
	uco_http_session_opts so = { .total_timeout = 20 * UCO_NSEC_PER_SEC };
	ck_assert_int_eq(uco_http_session_create(&s, &so), 0);
	r = uco_http_fetch(s, url_of(p, "/file.bin"), NULL, &resp);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(uco_http_client_response_body(resp, &body),
			 (int)sizeof(data));
	ck_assert(memcmp(body, data, sizeof(data)) == 0);
	uco_http_client_response_free(resp);
	/* A directory without its '/': http.server redirects (301). */
	ck_assert_int_eq(uco_http_fetch(s, url_of(p, "/sub"), NULL, &resp), 0);
	ck_assert_int_eq(uco_http_client_response_status(resp), 200);
	ck_assert_ptr_nonnull(strstr(uco_http_client_response_url(resp), "/sub/"));
	ck_assert_int_gt(uco_http_client_response_body(resp, &body), 0);
	uco_http_client_response_free(resp);
	ck_assert_int_eq(uco_http_fetch(s, url_of(p, "/nope"), NULL, &resp), 0);
	ck_assert_int_eq(uco_http_client_response_status(resp), 404);
	uco_http_client_response_free(resp);
	uco_http_session_free(s);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(path, sizeof(path), "%s/file.bin", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

START_TEST(python_server)
{
	run(body_python);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *su = suite_create("http_client");
	TCase *tc = tcase_create("http_client");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	{
		char d[32];

		uco_http_date(d, 0); /* glibc's time zone set-up, not a leak */
	}
	tcase_set_timeout(tc, 120);
	if (argc > 1 && strcmp(argv[1], "--interop") == 0) {
		if (system("command -v python3 >/dev/null 2>&1") != 0) {
			fprintf(stderr, "python3 missing: skipped\n");
			return 77;
		}
		tcase_add_test(tc, python_server);
	} else {
		tcase_add_test(tc, keepalive);
		tcase_add_test(tc, bodies);
		tcase_add_test(tc, redirects);
		tcase_add_test(tc, limits);
		tcase_add_test(tc, timeouts);
		tcase_add_test(tc, hostile);
		tcase_add_test(tc, misuse);
	}
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
