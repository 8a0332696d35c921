/*
 * Suite "stream_file": one stream interface over files, pipes and sockets
 * (issue 14), and the stream / server shortcuts.
 *
 *   - a file written through a stream (write, flush, close) reads back
 *     with read, readline, readuntil, readexactly; the end of the file is
 *     the end of the stream; O_APPEND appends; close writes what is
 *     pending; a missing file is -ENOENT;
 *   - the read and write offsets are the stream's own;
 *   - a pipe works as a stream both ways;
 *   - peername / sockname over a loopback connection; a small buffer is
 *     -ENOSPC; a file stream has no peer (-ENOTSOCK);
 *   - uco_open_connection_port and uco_server_with (the server ends when
 *     its connections have).
 */
#include <fcntl.h>

#include "harness.h"
#include "leakcheck.h"

static char dir[256];

static void tmpdir_make(void)
{
	snprintf(dir, sizeof(dir), "%s/uco-sfile-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void tmpdir_remove(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* ---- files ------------------------------------------------------------ */

static void body_file(void *arg)
{
	char path[300], buf[64];
	uco_stream *f;
	ssize_t n;

	(void)arg;
	path_of(path, sizeof(path), "lines.txt");
	ck_assert_int_eq(uco_stream_open_file(&f, path,
					      O_WRONLY | O_CREAT | O_TRUNC,
					      0644, NULL), 0);
	ck_assert_int_eq(uco_stream_write(f, "first line\n", 11), 0);
	ck_assert_int_eq(uco_stream_write(f, "second;", 7), 0);
	ck_assert_int_eq(uco_stream_flush(f), 0);
	ck_assert_uint_eq(uco_stream_pending(f), 0);
	ck_assert_int_eq(uco_stream_send(f, "third\nlast", 10), 0);
	ck_assert_int_eq(uco_stream_write_eof(f), 0);
	ck_assert_int_eq(uco_stream_close(f), 0);

	ck_assert_int_eq(uco_stream_open_file(&f, path, O_RDONLY, 0, NULL), 0);
	n = uco_stream_readline(f, buf, sizeof(buf));
	ck_assert_int_eq(n, 11);
	ck_assert(memcmp(buf, "first line\n", 11) == 0);
	n = uco_stream_readuntil(f, ";", 1, buf, sizeof(buf));
	ck_assert_int_eq(n, 7);
	ck_assert(memcmp(buf, "second;", 7) == 0);
	ck_assert_int_eq(uco_stream_readexactly(f, buf, 3), 3);
	ck_assert(memcmp(buf, "thi", 3) == 0);
	n = uco_stream_readline(f, buf, sizeof(buf));
	ck_assert_int_eq(n, 3);
	/* The last line has no newline: -EPIPE with the rest handed over. */
	ck_assert_int_eq(uco_stream_readline(f, buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "last", 4) == 0);
	ck_assert_int_eq(uco_stream_read(f, buf, sizeof(buf)), 0);
	ck_assert(uco_stream_at_eof(f));
	ck_assert_int_eq(uco_stream_peername(f, buf, sizeof(buf)), -ENOTSOCK);
	ck_assert_int_eq(uco_stream_close(f), 0);

	/* O_APPEND: writes go to the end; close writes what is pending. */
	ck_assert_int_eq(uco_stream_open_file(&f, path, O_WRONLY | O_APPEND, 0,
					      NULL), 0);
	ck_assert_int_eq(uco_stream_write(f, "\nappended\n", 10), 0);
	ck_assert_int_eq(uco_stream_close(f), 0);
	ck_assert_int_eq(uco_stream_open_file(&f, path, O_RDONLY, 0, NULL), 0);
	ck_assert_int_eq(uco_stream_readexactly(f, buf, 35), 35);
	ck_assert(memcmp(buf, "first line\nsecond;third\nlast\nappended\n",
			 35) == 0);
	ck_assert_int_eq(uco_stream_readexactly(f, buf, 10), -EPIPE);
	ck_assert_uint_eq(uco_stream_partial(f), 3);
	ck_assert_int_eq(uco_stream_close(f), 0);

	path_of(path, sizeof(path), "missing");
	ck_assert_int_eq(uco_stream_open_file(&f, path, O_RDONLY, 0, NULL),
			 -ENOENT);
	ck_assert_ptr_null(f);
}

START_TEST(test_file)
{
	tmpdir_make();
	lc_run(body_file, NULL, NULL);
	tmpdir_remove();
}
END_TEST

/* Reads and writes keep their own offsets; the fd's position is unused. */
static void body_offsets(void *arg)
{
	char path[300], buf[16];
	uco_stream *f;
	int fd;

	(void)arg;
	path_of(path, sizeof(path), "rw.bin");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "0123456789", 10), 10); /* position: 10 */
	ck_assert_int_eq(uco_stream_open_fd(&f, fd, NULL), 0);
	ck_assert_int_eq(uco_stream_readexactly(f, buf, 4), 4);
	ck_assert(memcmp(buf, "0123", 4) == 0);
	ck_assert_int_eq(uco_stream_send(f, "ab", 2), 0); /* at offset 0 */
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 10);
	ck_assert_int_eq(pread(fd, buf, 10, 0), 10);
	ck_assert(memcmp(buf, "ab23456789", 10) == 0);
	ck_assert_int_eq(uco_stream_close(f), 0);
	ck_assert_int_eq(uco_stream_open_fd(&f, -1, NULL), -EBADF);
}

START_TEST(test_offsets)
{
	tmpdir_make();
	lc_run(body_offsets, NULL, NULL);
	tmpdir_remove();
}
END_TEST

/* ---- pipes ---------------------------------------------------------------- */

static void *pipe_writer(void *arg)
{
	uco_stream *w = arg;

	for (int i = 0; i < 3; i++) {
		char line[16];
		int n = snprintf(line, sizeof(line), "line %d\n", i);

		UCO_TRY(uco_stream_send(w, line, (size_t)n));
		UCO_TRY(uco_yield());
	}
	return uco_stream_close(w) < 0 ? uco_fail(-EIO) : NULL;
}

static void body_pipe(void *arg)
{
	int p[2];
	uco_stream *r, *w;
	uco_task *t;
	char buf[32];
	ssize_t n;
	int lines = 0;

	(void)arg;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(uco_stream_open_fd(&r, p[0], NULL), 0);
	ck_assert_int_eq(uco_stream_open_fd(&w, p[1], NULL), 0);
	ck_assert_int_eq(uco_spawn(&t, pipe_writer, w, NULL), 0);
	while ((n = uco_stream_readline(r, buf, sizeof(buf))) > 0) {
		char want[32];

		snprintf(want, sizeof(want), "line %d\n", lines++);
		ck_assert_int_eq(n, (ssize_t)strlen(want));
		ck_assert(memcmp(buf, want, (size_t)n) == 0);
	}
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(lines, 3);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(uco_stream_close(r), 0);
}

START_TEST(test_pipe)
{
	lc_run(body_pipe, NULL, NULL);
}
END_TEST

/* ---- addresses, open_connection_port, server_with ------------------------ */

struct seen {
	char peer[64], local[64];
	int served;
};

static int handler(uco_stream *s, void *arg)
{
	struct seen *sn = arg;
	char line[64];
	ssize_t n = uco_stream_readline(s, line, sizeof(line));

	if (n <= 0)
		return n < 0 ? (int)n : -EPIPE;
	ck_assert_int_eq(uco_stream_peername(s, sn->peer, sizeof(sn->peer)), 0);
	ck_assert_int_eq(uco_stream_sockname(s, sn->local, sizeof(sn->local)),
			 0);
	sn->served++;
	return uco_stream_send(s, line, (size_t)n);
}

struct client_ctx {
	struct seen *sn;
	char local[64], peer[64];
};

static int client_body(uco_server *srv, void *arg)
{
	struct client_ctx *c = arg;
	uco_stream *s;
	char buf[64];
	char tiny[4];

	UCO_TRY_INT(uco_open_connection_port(&s, "127.0.0.1",
					     uco_server_port(srv), NULL));
	ck_assert_int_eq(uco_stream_sockname(s, c->local, sizeof(c->local)), 0);
	ck_assert_int_eq(uco_stream_peername(s, c->peer, sizeof(c->peer)), 0);
	ck_assert_int_eq(uco_stream_peername(s, tiny, sizeof(tiny)), -ENOSPC);
	ck_assert_int_eq(uco_stream_send(s, "hello\n", 6), 0);
	ck_assert_int_eq(uco_stream_readline(s, buf, sizeof(buf)), 6);
	ck_assert_int_eq(uco_stream_close(s), 0);
	return 7;
}

static void body_server(void *arg)
{
	struct seen sn = { .served = 0 };
	struct client_ctx c = { .sn = &sn };
	uco_server *srv;
	char want[32];

	(void)arg;
	ck_assert_int_eq(uco_open_connection_port(NULL, "127.0.0.1", 1, NULL),
			 -EINVAL);
	ck_assert_int_eq(uco_start_server(&srv, "127.0.0.1", "0", handler, &sn,
					  NULL), 0);
	snprintf(want, sizeof(want), "127.0.0.1:%d", uco_server_port(srv));
	/* body's result is returned; the server is shut down and freed. */
	ck_assert_int_eq(uco_server_with(srv, client_body, &c), 0);
	ck_assert_int_eq(sn.served, 1);
	ck_assert_str_eq(c.peer, want);
	ck_assert_str_eq(sn.local, want);
	ck_assert_str_eq(sn.peer, c.local); /* each side sees the other */
	ck_assert_int_eq(uco_server_with(NULL, client_body, &c), -EINVAL);
}

START_TEST(test_server)
{
	lc_run(body_server, NULL, NULL);
}
END_TEST

static Suite *stream_file_suite(void)
{
	Suite *s = suite_create("stream_file");
	TCase *tc = tcase_create("io");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_offsets);
	tcase_add_test(tc, test_pipe);
	tcase_add_test(tc, test_server);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(stream_file_suite());
}
