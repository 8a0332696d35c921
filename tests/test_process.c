/*
 * Suite "process": subprocesses (include/uco/process.h) with real
 * programs (cat, sh, head, true, tail) as the children.  Every test runs
 * leak-checked (fds and bytes, tests/leakcheck.h) and then asserts that
 * the test process has no child left at all, running or zombie
 * (no_children()).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "leakcheck.h"

#define MIB (1024 * 1024)

/* No child of ours exists, zombie or alive: waitid() says ECHILD. */
static void no_children(void)
{
	siginfo_t si;
	int r;

	memset(&si, 0, sizeof(si));
	r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
	ck_assert_msg(r < 0 && errno == ECHILD,
		      "a child is left behind (pid %d, code %d)", (int)si.si_pid,
		      si.si_code);
}

static void run(void (*body)(void *), void *arg)
{
	lc_run(body, arg, NULL);
	no_children();
}

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 131u + 7u + (i >> 11));
}

static char *spawn_argv_sh(const char *script, char *buf[4])
{
	buf[0] = (char *)"sh";
	buf[1] = (char *)"-c";
	buf[2] = (char *)script;
	buf[3] = NULL;
	return buf[0];
}

static uco_process *spawn_sh(const char *script, uco_stdio in, uco_stdio out,
			     uco_stdio err)
{
	uco_process_opts o = { .in = in, .out = out, .err = err };
	char *argv[4];
	uco_process *p;
	int r;

	spawn_argv_sh(script, argv);
	r = uco_process_spawn(&p, argv, &o);
	ck_assert_msg(r == 0, "spawn sh -c '%s': %s", script, strerror(-r));
	return p;
}

/* ---- cat: 10 MiB through and back ---------------------------------- */

struct feeder {
	uco_process *p;
	size_t total;
	int result;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	uco_stream *in = uco_process_pipe(f->p, 0);
	static uint8_t chunk[65536]; /* one feeder at a time */
	size_t off = 0;

	while (off < f->total) {
		size_t n = sizeof(chunk);
		int r;

		if (n > f->total - off)
			n = f->total - off;
		for (size_t i = 0; i < n; i++)
			chunk[i] = pat(off + i);
		r = uco_stream_write(in, chunk, n);
		if (r == 0)
			r = uco_stream_drain(in);
		if (r < 0) {
			f->result = r;
			return NULL;
		}
		off += n;
	}
	f->result = uco_process_close_pipe(f->p, 0);
	return NULL;
}

static void body_cat(void *arg)
{
	char *argv[] = { (char *)"cat", NULL };
	uco_process_opts o = { .in = UCO_STDIO_PIPE, .out = UCO_STDIO_PIPE };
	struct feeder f = { .total = 10 * MIB };
	static uint8_t buf[1 << 20];
	uco_process *p;
	uco_task *t;
	size_t off = 0;
	int st;

	ck_assert_int_eq(uco_process_spawn(&p, argv, &o), 0);
	ck_assert_ptr_null(uco_process_pipe(p, 2));
	ck_assert_int_gt(uco_process_pid(p), 0);
	f.p = p;
	ck_assert_int_eq(uco_spawn(&t, feed, &f, NULL), 0);
	while (off < f.total) {
		ssize_t n = uco_stream_readexactly(uco_process_pipe(p, 1), buf,
						   sizeof(buf));
		ck_assert_int_eq(n, (ssize_t)sizeof(buf));
		for (size_t i = 0; i < sizeof(buf); i++)
			LC_CHECK(buf[i] == pat(off + i), "byte %zu differs",
				 off + i);
		off += sizeof(buf);
	}
	ck_assert_int_eq(uco_stream_read(uco_process_pipe(p, 1), buf, 1), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(f.result, 0);
	st = uco_process_wait(p);
	ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "cat: status %d", st);
	ck_assert_int_eq(uco_process_status(p), st);
	ck_assert_int_eq(uco_process_wait(p), st); /* again: no suspension */
	uco_process_close(p);
}

START_TEST(cat_round_trip)
{
	run(body_cat, NULL);
}
END_TEST

static void body_cat_communicate(void *arg)
{
	char *argv[] = { (char *)"cat", NULL };
	uco_process_opts o = { .in = UCO_STDIO_PIPE, .out = UCO_STDIO_PIPE,
			       .err = UCO_STDIO_PIPE };
	size_t total = 10 * MIB, outlen = 99, errlen = 99;
	uint8_t *in = malloc(total);
	char *out = NULL, *err = (char *)1;
	uco_process *p;
	int st;

	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < total; i++)
		in[i] = pat(i);
	ck_assert_int_eq(uco_process_spawn(&p, argv, &o), 0);
	st = uco_process_communicate(p, in, total, &out, &outlen, &err,
				     &errlen);
	ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "cat: status %d", st);
	ck_assert_uint_eq(outlen, total);
	ck_assert_uint_eq(errlen, 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(memcmp(out, in, total), 0);
	free(out);
	free(in);
	uco_process_close(p);
}

START_TEST(cat_communicate)
{
	run(body_cat_communicate, NULL);
}
END_TEST

/* A child that fills stderr (well past a pipe's 64 KiB) before it reads
 * any of its stdin, then copies stdin to stdout: served one pipe at a
 * time, parent and child would each wait for the other. */
static void body_no_deadlock(void *arg)
{
	uco_process *p = spawn_sh("head -c 1000000 /dev/zero >&2; cat",
				  UCO_STDIO_PIPE, UCO_STDIO_PIPE,
				  UCO_STDIO_PIPE);
	size_t total = 2 * MIB, outlen, errlen;
	uint8_t *in = malloc(total);
	char *out, *err;
	int st;

	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < total; i++)
		in[i] = pat(i);
	st = uco_process_communicate(p, in, total, &out, &outlen, &err,
				     &errlen);
	ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "status %d", st);
	ck_assert_uint_eq(outlen, total);
	ck_assert_int_eq(memcmp(out, in, total), 0);
	ck_assert_uint_eq(errlen, 1000000);
	for (size_t i = 0; i < errlen; i++)
		LC_CHECK(err[i] == 0, "stderr byte %zu is not 0", i);
	free(out);
	free(err);
	free(in);
	uco_process_close(p);
}

START_TEST(communicate_no_deadlock)
{
	run(body_no_deadlock, NULL);
}
END_TEST

/* ---- lines, environment, working directory, /dev/null --------------- */

static void body_env_cwd(void *arg)
{
	char *argv[4];
	char *env[] = { (char *)"FOO=bar baz", (char *)"PATH=/usr/bin:/bin",
			NULL };
	uco_process_opts o = { .env = env, .cwd = "/tmp",
			       .in = UCO_STDIO_DEVNULL,
			       .out = UCO_STDIO_PIPE,
			       .err = UCO_STDIO_STDOUT };
	uco_process *p;
	char line[256];
	uco_stream *s;
	int st;

	spawn_argv_sh("echo \"$FOO\"; pwd; echo to-stderr >&2; "
		      "cat; echo \"end $HOME\"",
		      argv);
	ck_assert_int_eq(uco_process_spawn(&p, argv, &o), 0);
	s = uco_process_pipe(p, 1);
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)), 8);
	ck_assert_int_eq(memcmp(line, "bar baz\n", 8), 0);
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)), 5);
	ck_assert_int_eq(memcmp(line, "/tmp\n", 5), 0);
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)), 10);
	ck_assert_int_eq(memcmp(line, "to-stderr\n", 10), 0);
	/* cat read /dev/null: nothing; HOME is not in env. */
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)), 5);
	ck_assert_int_eq(memcmp(line, "end \n", 5), 0);
	ck_assert_int_eq(uco_stream_readline(s, line, sizeof(line)), 0);
	ck_assert(uco_stream_at_eof(s));
	st = uco_process_wait(p);
	ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "status %d", st);
	uco_process_close(p);
}

START_TEST(env_cwd_devnull)
{
	run(body_env_cwd, NULL);
}
END_TEST

static void body_exit_codes(void *arg)
{
	uco_process *p = spawn_sh("exit 42", UCO_STDIO_DEVNULL,
				  UCO_STDIO_DEVNULL, UCO_STDIO_DEVNULL);
	int st = uco_process_wait(p);

	ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 42,
		      "status %d", st);
	ck_assert_int_eq(uco_process_kill(p, SIGTERM), -ESRCH);
	uco_process_close(p);
}

START_TEST(exit_codes)
{
	run(body_exit_codes, NULL);
}
END_TEST

/* ---- early ends and signals ------------------------------------------ */

/* The child closes its stdout and goes on living: the parent reads the
 * end of the stream while the child still waits for its input. */
static void body_stdout_closed_early(void *arg)
{
	uco_process *p = spawn_sh("exec >&-; read x; exit 7", UCO_STDIO_PIPE,
				  UCO_STDIO_PIPE, UCO_STDIO_INHERIT);
	char buf[16];
	int st;

	ck_assert_int_eq(uco_stream_read(uco_process_pipe(p, 1), buf,
					 sizeof(buf)),
			 0);
	ck_assert_int_eq(uco_process_status(p), -EAGAIN); /* still there */
	ck_assert_int_eq(uco_stream_write(uco_process_pipe(p, 0), "go\n", 3),
			 0);
	ck_assert_int_eq(uco_stream_drain(uco_process_pipe(p, 0)), 0);
	st = uco_process_wait(p);
	ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 7,
		      "status %d", st);
	uco_process_close(p);
}

START_TEST(stdout_closed_early)
{
	run(body_stdout_closed_early, NULL);
}
END_TEST

/* The child reads 100 bytes and exits: the parent's writes of much more
 * end with -EPIPE (no SIGPIPE kills the test), sticky, and the 100 bytes
 * came through. */
static void body_stdin_closed_early(void *arg)
{
	char *argv[] = { (char *)"head", (char *)"-c", (char *)"100", NULL };
	uco_process_opts o = { .in = UCO_STDIO_PIPE, .out = UCO_STDIO_PIPE };
	static uint8_t chunk[65536];
	uco_stream *in;
	uco_process *p;
	uint8_t got[100];
	int r = 0, st;

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = pat(i);
	ck_assert_int_eq(uco_process_spawn(&p, argv, &o), 0);
	in = uco_process_pipe(p, 0);
	for (int i = 0; i < 1000 && r == 0; i++)
		r = uco_stream_send(in, chunk, sizeof(chunk));
	ck_assert_int_eq(r, -EPIPE);
	ck_assert_int_eq(uco_stream_readexactly(uco_process_pipe(p, 1), got,
						sizeof(got)),
			 (ssize_t)sizeof(got));
	ck_assert_int_eq(uco_stream_write(in, "x", 1), -EPIPE);
	st = uco_process_wait(p);
	ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "status %d", st);
	for (size_t i = 0; i < sizeof(got); i++)
		ck_assert_uint_eq(got[i], pat(i));
	uco_process_close(p);
}

START_TEST(stdin_closed_early)
{
	run(body_stdin_closed_early, NULL);
}
END_TEST

static void body_signals(void *arg)
{
	uco_process *p;
	int st;

	/* Killed by us. */
	p = spawn_sh("exec cat", UCO_STDIO_PIPE, UCO_STDIO_DEVNULL,
		     UCO_STDIO_INHERIT);
	ck_assert_int_eq(uco_process_kill(p, SIGUSR1), 0);
	st = uco_process_wait(p);
	ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1,
		      "status %d", st);
	uco_process_close(p);

	/* terminate(); the runtime blocks SIGTERM in its threads, the
	 * child must not inherit that. */
	p = spawn_sh("exec cat", UCO_STDIO_PIPE, UCO_STDIO_DEVNULL,
		     UCO_STDIO_INHERIT);
	ck_assert_int_eq(uco_process_terminate(p), 0);
	st = uco_process_wait(p);
	ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
		      "status %d", st);
	uco_process_close(p);

	/* By its own hand, with a signal that dumps core (or would). */
	p = spawn_sh("ulimit -c 0; kill -ABRT $$", UCO_STDIO_DEVNULL,
		     UCO_STDIO_DEVNULL, UCO_STDIO_INHERIT);
	st = uco_process_wait(p);
	ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
		      "status %d", st);
	uco_process_close(p);
}

START_TEST(killed_by_signal)
{
	run(body_signals, NULL);
}
END_TEST

/* ---- many at once --------------------------------------------------- */

#define NCHILD 1000

static void *wait_one(void *arg)
{
	return (void *)(intptr_t)uco_process_wait(arg);
}

static void body_many(void *arg)
{
	static uco_process *p[NCHILD];
	static uco_task *t[NCHILD];
	char script[32];

	for (int i = 0; i < NCHILD; i++) {
		snprintf(script, sizeof(script), "exit %d", i % 200);
		p[i] = spawn_sh(script, UCO_STDIO_DEVNULL, UCO_STDIO_DEVNULL,
				UCO_STDIO_INHERIT);
		ck_assert_int_eq(uco_spawn(&t[i], wait_one, p[i], NULL), 0);
	}
	for (int i = 0; i < NCHILD; i++) {
		void *res;
		int st;

		ck_assert_int_eq(uco_join(t[i], &res), 0);
		uco_task_release(t[i]);
		st = (int)(intptr_t)res;
		LC_CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == i % 200,
			 "child %d: status %d", i, st);
		uco_process_close(p[i]);
	}
}

START_TEST(many_children)
{
	run(body_many, NULL);
}
END_TEST

/* ---- cancellation and timeouts -------------------------------------- */

static void body_wait_timeout(void *arg)
{
	uco_process *p = spawn_sh("exec cat", UCO_STDIO_PIPE,
				  UCO_STDIO_DEVNULL, UCO_STDIO_INHERIT);
	int scope = uco_timeout_begin(20 * UCO_NSEC_PER_MSEC);
	int st;

	ck_assert_int_ge(scope, 0);
	/* cat waits on its stdin pipe, which we hold open: only the
	 * timeout can end this wait. */
	ck_assert_int_eq(uco_process_wait(p), -ETIMEDOUT);
	uco_timeout_end(scope);
	st = uco_process_status(p);
	ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		      "status %d", st);
	ck_assert_int_eq(uco_process_wait(p), st);
	uco_process_close(p);
}

START_TEST(wait_timeout_kills)
{
	run(body_wait_timeout, NULL);
}
END_TEST

static void body_communicate_timeout(void *arg)
{
	uco_process *p = spawn_sh("echo partial; exec tail -f /dev/null",
				  UCO_STDIO_PIPE, UCO_STDIO_PIPE,
				  UCO_STDIO_PIPE);
	int scope = uco_timeout_begin(20 * UCO_NSEC_PER_MSEC);
	char *out = (char *)1, *err = (char *)1;
	size_t outlen = 1, errlen = 1;
	int st;

	ck_assert_int_eq(uco_process_communicate(p, "abc", 3, &out, &outlen,
						 &err, &errlen),
			 -ETIMEDOUT);
	uco_timeout_end(scope);
	ck_assert_ptr_null(out);
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(outlen, 0);
	ck_assert_uint_eq(errlen, 0);
	st = uco_process_status(p);
	ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		      "status %d", st);
	uco_process_close(p);
}

START_TEST(communicate_timeout_kills)
{
	run(body_communicate_timeout, NULL);
}
END_TEST

/*
 * One task runs a whole conversation with a child — spawn, a line each
 * way, communicate, wait — and is cancelled at each stage in turn: it
 * sets an event as it starts stage `stop_at`, the main task wakes on it,
 * yields `extra` times (0: the cancel lands on the stage's first
 * suspension; more: deeper into it, e.g. inside communicate's helper
 * tasks), then cancels.  Whatever the cancel hits, the task ends with
 * -ECANCELED (or success, had it finished first), the child is gone and
 * reaped, and no descriptor is left (the leak check around the sweep).
 */
struct convo {
	int stop_at;
	uco_event reached;
	int result;
	int stage; /* how far it got */
};

static void mark(struct convo *c, int stage)
{
	c->stage = stage;
	if (stage == c->stop_at)
		uco_event_set(&c->reached);
}

static void *conversation(void *arg)
{
	struct convo *c = arg;
	char *argv[4];
	uco_process_opts o = { .in = UCO_STDIO_PIPE, .out = UCO_STDIO_PIPE,
			       .err = UCO_STDIO_PIPE };
	uco_process *p;
	char line[64];
	char *out = NULL;
	size_t outlen;
	ssize_t n;
	int r;

	spawn_argv_sh("read x; echo \"got $x\"; cat", argv);
	r = uco_process_spawn(&p, argv, &o);
	if (r < 0) {
		c->result = r;
		return NULL;
	}
	mark(c, 1);
	r = uco_stream_write(uco_process_pipe(p, 0), "hi\n", 3);
	if (r == 0)
		r = uco_stream_drain(uco_process_pipe(p, 0));
	if (r < 0)
		goto out;
	mark(c, 2);
	n = uco_stream_readline(uco_process_pipe(p, 1), line, sizeof(line));
	if (n < 0) {
		r = (int)n;
		goto out;
	}
	mark(c, 3);
	r = uco_process_communicate(p, "tail", 4, &out, &outlen, NULL, NULL);
	if (r < 0)
		goto out;
	free(out);
	mark(c, 4);
	r = uco_process_wait(p);
	if (r >= 0)
		mark(c, 5);
out:
	c->result = r;
	uco_process_close(p);
	return NULL;
}

static void body_cancel_sweep(void *arg)
{
	for (int stop = 1; stop <= 4; stop++) {
		for (int extra = 0; extra < 6; extra++) {
			struct convo c = { .stop_at = stop };
			uco_task *t;

			ck_assert_int_eq(uco_event_init(&c.reached), 0);
			ck_assert_int_eq(uco_spawn(&t, conversation, &c, NULL),
					 0);
			ck_assert_int_eq(uco_event_wait(&c.reached), 0);
			for (int i = 0; i < extra; i++)
				ck_assert_int_eq(uco_yield(), 0);
			uco_cancel(t);
			ck_assert_int_eq(uco_join(t, NULL), 0);
			uco_task_release(t);
			uco_event_destroy(&c.reached);
			no_children();
			LC_CHECK(c.stage >= stop, "stop %d: stage %d", stop,
				 c.stage);
			LC_CHECK(c.result == -ECANCELED ||
					 (c.stage == 5 && c.result >= 0),
				 "stop %d extra %d stage %d: result %d", stop,
				 extra, c.stage, c.result);
		}
	}
}

START_TEST(cancel_every_stage)
{
	run(body_cancel_sweep, NULL);
}
END_TEST

/* A task cancelled while in uco_process_wait(): the child dies by
 * SIGKILL, reaped before the wait returns. */
struct waiter {
	uco_process *p;
	int result;
};

static void *wait_task(void *arg)
{
	struct waiter *w = arg;

	w->result = uco_process_wait(w->p);
	return NULL;
}

static void body_wait_cancel(void *arg)
{
	struct waiter w = { 0, 0 };
	uco_task *t;
	int st;

	w.p = spawn_sh("exec cat", UCO_STDIO_PIPE, UCO_STDIO_DEVNULL,
		       UCO_STDIO_INHERIT);
	ck_assert_int_eq(uco_spawn(&t, wait_task, &w,
				   &(uco_spawn_opts){ .name = "waiter" }),
			 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_process_wait(w.p), -EBUSY);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(w.result, -ECANCELED);
	st = uco_process_status(w.p);
	ck_assert_msg(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		      "status %d", st);
	no_children();
	uco_process_close(w.p);
}

START_TEST(wait_cancel_kills)
{
	run(body_wait_cancel, NULL);
}
END_TEST

/* Closing a process whose child still runs kills and reaps it. */
static void body_close_running(void *arg)
{
	uco_process *p = spawn_sh("exec cat", UCO_STDIO_PIPE, UCO_STDIO_PIPE,
				  UCO_STDIO_INHERIT);

	ck_assert_int_eq(uco_stream_write(uco_process_pipe(p, 0), "x", 1), 0);
	uco_process_close(p);
	no_children();
}

START_TEST(close_running_child)
{
	run(body_close_running, NULL);
}
END_TEST

/* ---- errors --------------------------------------------------------- */

static void body_errors(void *arg)
{
	char *none[] = { (char *)"/nonexistent/uco-no-such-program", NULL };
	char *nopath[] = { (char *)"uco-no-such-program-in-path", NULL };
	char *cat[] = { (char *)"cat", NULL };
	char *empty[] = { NULL };
	uco_process_opts bad_cwd = { .cwd = "/nonexistent/dir",
				     .out = UCO_STDIO_PIPE };
	uco_process_opts bad_mode = { .out = UCO_STDIO_STDOUT };
	uco_process_opts bad_enum = { .in = (uco_stdio)42 };
	uco_process *p = (uco_process *)1;

	ck_assert_int_eq(uco_process_spawn(&p, none, NULL), -ENOENT);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(uco_process_spawn(&p, nopath, NULL), -ENOENT);
	ck_assert_int_eq(uco_process_spawn(&p, cat, &bad_cwd), -ENOENT);
	ck_assert_int_eq(uco_process_spawn(&p, cat, &bad_mode), -EINVAL);
	ck_assert_int_eq(uco_process_spawn(&p, cat, &bad_enum), -EINVAL);
	ck_assert_int_eq(uco_process_spawn(&p, empty, NULL), -EINVAL);
	ck_assert_int_eq(uco_process_spawn(&p, NULL, NULL), -EINVAL);
	ck_assert_int_eq(uco_process_spawn(NULL, cat, NULL), -EINVAL);
	ck_assert_int_eq(uco_process_wait(NULL), -EINVAL);
	ck_assert_int_eq(uco_process_kill(NULL, 9), -EINVAL);
	ck_assert_int_eq(uco_process_status(NULL), -EINVAL);
	ck_assert_ptr_null(uco_process_pipe(NULL, 1));
	ck_assert_int_eq(uco_process_communicate(NULL, NULL, 0, NULL, NULL,
						 NULL, NULL),
			 -EINVAL);
	uco_process_close(NULL);

	/* A bad signal number; pipe() past the descriptor limit. */
	p = spawn_sh("exit 0", UCO_STDIO_DEVNULL, UCO_STDIO_DEVNULL,
		     UCO_STDIO_INHERIT);
	ck_assert_int_eq(uco_process_kill(p, 12345), -EINVAL);
	ck_assert_ptr_null(uco_process_pipe(p, 3));
	ck_assert_int_eq(uco_process_close_pipe(p, 1), 0);
	uco_process_close(p);
}

START_TEST(spawn_errors)
{
	char *argv[] = { (char *)"cat", NULL };
	uco_process_opts o = { .in = UCO_STDIO_PIPE };
	uco_process *p;

	run(body_errors, NULL);
	/* Outside uco_run: spawn works, waits are refused, close still
	 * kills and reaps. */
	ck_assert_int_eq(uco_process_spawn(&p, argv, &o), 0);
	ck_assert_int_eq(uco_process_wait(p), -EPERM);
	ck_assert_int_eq(uco_process_communicate(p, "x", 1, NULL, NULL, NULL,
						 NULL),
			 -EPERM);
	ck_assert_int_eq(uco_process_status(p), -EAGAIN); /* still running */
	uco_process_close(p);
	no_children();
}
END_TEST

static void body_emfile(void *arg)
{
	uco_process_opts o = { .in = UCO_STDIO_PIPE, .out = UCO_STDIO_PIPE,
			       .err = UCO_STDIO_PIPE };
	char *cat[] = { (char *)"cat", NULL };
	struct rlimit old, low;
	uco_process *p;
	int r;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)th_count_fds() + 3; /* room for one pipe */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	r = uco_process_spawn(&p, cat, &o);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	ck_assert_int_eq(r, -EMFILE);
}

START_TEST(spawn_emfile)
{
	run(body_emfile, NULL);
}
END_TEST

static Suite *process_suite(void)
{
	Suite *s = suite_create("process");
	TCase *tc = tcase_create("pipes");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, cat_round_trip);
	tcase_add_test(tc, cat_communicate);
	tcase_add_test(tc, communicate_no_deadlock);
	tcase_add_test(tc, env_cwd_devnull);
	tcase_add_test(tc, exit_codes);
	suite_add_tcase(s, tc);

	tc = tcase_create("ends");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, stdout_closed_early);
	tcase_add_test(tc, stdin_closed_early);
	tcase_add_test(tc, killed_by_signal);
	tcase_add_test(tc, many_children);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, wait_timeout_kills);
	tcase_add_test(tc, communicate_timeout_kills);
	tcase_add_test(tc, wait_cancel_kills);
	tcase_add_test(tc, cancel_every_stage);
	tcase_add_test(tc, close_running_child);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, spawn_errors);
	tcase_add_test(tc, spawn_emfile);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(process_suite());
}
