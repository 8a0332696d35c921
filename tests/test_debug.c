/*
 * Suite "debug": debug mode (uco_config.debug or UCO_DEBUG=1).
 *
 *   - a task that runs over 50 ms without suspending gets a warning naming
 *     it (the task busy-computes, measuring the time itself: the length is
 *     the behaviour under test);
 *   - tasks still alive when main returns are reported, on every core;
 *   - SIGQUIT makes every loop dump its tasks (name, state, what it waits
 *     on);
 *   - a cancelled task that keeps making calls refused with -ECANCELED is
 *     named.
 *
 * Each runtime runs in a forked child whose stderr goes to a memfd
 * (th_child), so the parent can read what debug mode printed.  The child
 * exits 0 if uco_run returned 0 and gave back every byte and descriptor
 * (tests/leakcheck.h); a failed check inside it fails the test through
 * Check as usual.
 */
#include "leakcheck.h"

#include "core/backtrace.h"
#include "uco_config.h"

#include <signal.h>
#include <time.h>

#define FOREVER (3600ull * UCO_NSEC_PER_SEC)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UCO_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Run main_fn with cfg in a child, leak-checked; assert it exited 0;
 * return stderr. */
struct child_run {
	uco_fn main_fn;
	uco_config cfg;
	bool env_debug; /* UCO_DEBUG=1 instead of cfg.debug */
};

static void child_main(void *arg)
{
	struct child_run *cr = arg;
	uco_config quiet = cr->cfg;
	struct lc_mark m;
	char msg[160];
	int r;

	/* Leak-checked; the warm-up run in quiet mode, so that all debug
	 * mode prints comes from the measured run.  UCO_DEBUG is a static
	 * string put in the environment before the warm-up and switched on
	 * after it: setenv() would allocate between the measurements. */
	static char env[] = "UCO_DEBUG=0";

	quiet.debug = false;
	if (cr->env_debug)
		ck_assert_int_eq(putenv(env), 0);
	/* Debug mode sets libunwind up, which opens a pipe for the life of
	 * the process (core/backtrace.h); the quiet warm-up does not. */
	uco__backtrace_init();
	lc_begin(&m, &quiet);
	env[sizeof(env) - 2] = '1';
	r = uco_run(cr->main_fn, NULL, &cr->cfg, NULL);
	if (r != 0)
		_exit(10);
	if (!lc_same(&m, msg, sizeof(msg))) {
		fprintf(stderr, "%s\n", msg);
		_exit(11);
	}
	_exit(0);
}

static void run_child(struct child_run *cr, struct th_child_result *res)
{
	char st[64];

	th_child(child_main, cr, res);
	ck_assert_msg(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0,
		      "child ended with %s; stderr:\n%s",
		      th_status_str(res->status, st, sizeof(st)), res->err);
}

static struct child_run debug_run(uco_fn main_fn, unsigned cores)
{
	struct child_run cr = { .main_fn = main_fn };

	uco_config_init(&cr.cfg);
	cr.cfg.cores = cores;
	cr.cfg.debug = true;
	return cr;
}

/* The line of `text` that contains `what`, copied into line (or false). */
static bool find_line(const char *text, const char *what, char *line,
		      size_t len)
{
	const char *p = strstr(text, what), *b, *e;

	if (!p)
		return false;
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	if (!e)
		e = p + strlen(p);
	snprintf(line, len, "%.*s", (int)(e - b), b);
	return true;
}

/* On core 1: tell core 0 it is about to wait, then sleep. */
static void *set_future(void *f)
{
	ck_assert_int_eq(uco_future_set_result(f, NULL), 0);
	return NULL;
}

static void *remote_sleeper(void *f)
{
	ck_assert_int_eq(uco_spawn_on(0, NULL, set_future, f, NULL), 0);
	ck_assert_int_eq(uco_sleep(FOREVER), -ECANCELED);
	return NULL;
}

/* Spawn a sleeper named `name` on `core`, and wait until it sleeps. */
static void spawn_sleeper(unsigned core, const char *name)
{
	uco_spawn_opts o = { .name = name };
	uco_future *f;

	ck_assert_int_eq(uco_future_create(&f), 0);
	ck_assert_int_eq(uco_spawn_on(core, NULL, remote_sleeper, f, &o), 0);
	ck_assert_int_eq(uco_future_wait(f, NULL), 0);
	uco_future_free(f);
}

/* ---- slow tasks ----------------------------------------------------------- */

#define HOG_NS (80 * UCO_NSEC_PER_MSEC)

static volatile uint64_t g_sink;

static void *hog(void *arg)
{
	uint64_t t0 = now_ns(), x = 1;

	(void)arg;
	/* Compute, never suspend, until well past the 50 ms threshold. */
	while (now_ns() - t0 < HOG_NS)
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
	g_sink = x;
	return NULL;
}

static void *slow_main(void *arg)
{
	uco_spawn_opts o = { .name = "hog" };
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, hog, NULL, &o), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	return NULL;
}

static void check_slow_warning(const struct th_child_result *res)
{
	char line[512];
	double ms = 0;
	const char *p;

	ck_assert_msg(find_line(res->err, "task 'hog'", line, sizeof(line)),
		      "no warning about 'hog'; stderr:\n%s", res->err);
	ck_assert_msg(strstr(line, "without suspending"), "%s", line);
	/* It says for how long: at least the threshold. */
	p = strstr(line, " ran ");
	ck_assert_msg(p && sscanf(p, " ran %lf ms", &ms) == 1, "%s", line);
	ck_assert_msg(ms >= 50.0, "%s", line);
}

START_TEST(test_slow_task_warning)
{
	struct child_run cr = debug_run(slow_main, 1);
	struct th_child_result res;

	run_child(&cr, &res);
	check_slow_warning(&res);
}
END_TEST

START_TEST(test_slow_task_warning_env)
{
	struct child_run cr = debug_run(slow_main, 1);
	struct th_child_result res;

	cr.cfg.debug = false;
	cr.env_debug = true;
	run_child(&cr, &res);
	check_slow_warning(&res);
}
END_TEST

/* Without debug mode, nothing is printed. */
START_TEST(test_no_debug_quiet)
{
	struct child_run cr = debug_run(slow_main, 1);
	struct th_child_result res;

	cr.cfg.debug = false;
	unsetenv("UCO_DEBUG");
	run_child(&cr, &res);
	ck_assert_msg(res.err_len == 0, "stderr:\n%s", res.err);
}
END_TEST

/* ---- calls after -ECANCELED ------------------------------------------------ */

/*
 * A cancelled task that goes on making suspending calls (each refused with
 * -ECANCELED) is named once it has made UCO's threshold of them (1000); a
 * task that makes a few calls while cleaning up is not.
 */
static void *stubborn(void *arg)
{
	int n = (int)(intptr_t)arg;

	for (int i = 0; i < n; i++)
		ck_assert_int_eq(uco_sleep(FOREVER), -ECANCELED);
	return NULL;
}

static void run_cancelled(const char *name, int calls)
{
	uco_spawn_opts o = { .name = name };
	uco_task *t;

	ck_assert_int_eq(uco_spawn(&t, stubborn, (void *)(intptr_t)calls, &o),
			 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
}

static void *refused_main(void *arg)
{
	(void)arg;
	run_cancelled("stubborn", 5000);
	run_cancelled("tidy", 10);
	return NULL;
}

START_TEST(test_calls_after_cancel_named)
{
	struct child_run cr = debug_run(refused_main, 1);
	struct th_child_result res;
	char line[512];

	run_child(&cr, &res);
	ck_assert_msg(find_line(res.err, "task 'stubborn'", line, sizeof(line)),
		      "no report about 'stubborn'; stderr:\n%s", res.err);
	ck_assert_msg(strstr(line, "-ECANCELED") && strstr(line, "cancelled"),
		      "%s", line);
	/* One report in all: once, not once per call, and none for 'tidy'
	 * (a preempted run may add "ran ... ms" lines about either task:
	 * only this report is counted). */
	ck_assert_ptr_null(strstr(strstr(res.err, "since it was cancelled") + 1,
				  "since it was cancelled"));
}
END_TEST

/* ---- alive at shutdown ---------------------------------------------------- */

static void *alive_main(void *arg)
{
	(void)arg;
	spawn_sleeper(0, "lingerer-0");
	spawn_sleeper(1, "lingerer-1");
	return NULL;
}

START_TEST(test_alive_at_shutdown)
{
	struct child_run cr = debug_run(alive_main, 2);
	struct th_child_result res;
	char line[512];

	run_child(&cr, &res);
	ck_assert_msg(find_line(res.err, "lingerer-0", line, sizeof(line)),
		      "lingerer-0 not reported; stderr:\n%s", res.err);
	ck_assert_msg(strstr(line, "still alive at shutdown"), "%s", line);
	ck_assert_msg(strstr(line, "core 0"), "%s", line);
	ck_assert_msg(strstr(line, "sleep"), "%s", line);
	ck_assert_msg(find_line(res.err, "lingerer-1", line, sizeof(line)),
		      "lingerer-1 not reported; stderr:\n%s", res.err);
	ck_assert_msg(strstr(line, "still alive at shutdown"), "%s", line);
	ck_assert_msg(strstr(line, "core 1"), "%s", line);
	/* main itself is not "left over", nor is debug mode's own watcher. */
	ck_assert_msg(!strstr(res.err, " main "), "stderr:\n%s", res.err);
	ck_assert_msg(!strstr(res.err, "uco-debug"), "stderr:\n%s", res.err);
}
END_TEST

/* ---- SIGQUIT dump ------------------------------------------------------- */

static void *sigquit_main(void *arg)
{
	char buf[8192];
	uint64_t deadline;

	(void)arg;
	spawn_sleeper(0, "sleepy-0");
	spawn_sleeper(1, "sleepy-1");
	ck_assert_int_eq(kill(getpid(), SIGQUIT), 0);
	/*
	 * The dump is written by the loops to stderr (our memfd) with no
	 * event a task could wait on, so read it back until both cores'
	 * lines are there.  The bound is only against a hang.
	 */
	deadline = uco_now() + 10 * UCO_NSEC_PER_SEC;
	for (;;) {
		ssize_t k = pread(STDERR_FILENO, buf, sizeof(buf) - 1, 0);
		const char *hdr;

		buf[k > 0 ? k : 0] = '\0';
		hdr = strstr(buf, "tasks at SIGQUIT");
		if (hdr && strstr(hdr, "sleepy-0") && strstr(hdr, "sleepy-1"))
			break;
		ck_assert_msg(uco_now() < deadline, "no dump; stderr:\n%s", buf);
		ck_assert_int_eq(uco_sleep(UCO_NSEC_PER_MSEC), 0);
	}
	return NULL;
}

START_TEST(test_sigquit_dump)
{
	struct child_run cr = debug_run(sigquit_main, 2);
	struct th_child_result res;
	char line[512];
	const char *dump;

	run_child(&cr, &res);
	dump = strstr(res.err, "tasks at SIGQUIT");
	ck_assert_ptr_nonnull(dump);
	/* One line per task: core, id, name, state, what it waits on. */
	ck_assert_msg(find_line(dump, "sleepy-0", line, sizeof(line)), "%s", dump);
	ck_assert_msg(strstr(line, "core 0") && strstr(line, "waiting") &&
			      strstr(line, "sleep"),
		      "%s", line);
	ck_assert_msg(find_line(dump, "sleepy-1", line, sizeof(line)), "%s", dump);
	ck_assert_msg(strstr(line, "core 1") && strstr(line, "waiting") &&
			      strstr(line, "sleep"),
		      "%s", line);
	ck_assert_msg(find_line(dump, " main ", line, sizeof(line)), "%s", dump);
	ck_assert_msg(strstr(line, "core 0"), "%s", line);
	/* Each loop's counters (uco/stats.h) head its part of the dump. */
	ck_assert_msg(find_line(dump, "loop 0: ", line, sizeof(line)), "%s", dump);
	ck_assert_msg(strstr(line, "SQEs submitted") && strstr(line, " live") &&
			      strstr(line, "longest run"),
		      "%s", line);
	ck_assert_msg(find_line(dump, "loop 1: ", line, sizeof(line)), "%s", dump);
}
END_TEST

/* ---- backtraces (core/backtrace.c, with libunwind) ----------------------- */

/* The frame lines ("    #N 0x... function+0x...") printed after the line
 * of `what`, copied into out. */
static void frames_after(const char *text, const char *what, char *out,
			 size_t len)
{
	const char *p = strstr(text, what), *e;
	size_t n = 0;

	out[0] = '\0';
	if (!p || !(p = strchr(p, '\n')))
		return;
	for (p++; strncmp(p, "    #", 5) == 0; p = e + 1) {
		e = strchr(p, '\n');
		if (!e || n + (size_t)(e + 1 - p) >= len)
			break;
		memcpy(out + n, p, (size_t)(e + 1 - p));
		n += (size_t)(e + 1 - p);
		out[n] = '\0';
	}
}

START_TEST(test_sigquit_backtraces)
{
	struct child_run cr;
	struct th_child_result res;
	char frames[4096];
	const char *dump, *last;

	if (!UCO_HAVE_LIBUNWIND)
		TH_SKIP("uco built without libunwind (libunwind-dev)");
	cr = debug_run(sigquit_main, 2);
	run_child(&cr, &res);
	dump = strstr(res.err, "tasks at SIGQUIT");
	ck_assert_ptr_nonnull(dump);
	/* Each sleeper's stack, from the switch down to its entry: the
	 * call it is suspended in, the task's own function, the entry. */
	for (int i = 0; i < 2; i++) {
		frames_after(dump, i ? "sleepy-1" : "sleepy-0", frames,
			     sizeof(frames));
		ck_assert_msg(strstr(frames, " uco_sleep_until+") &&
				      strstr(frames, " remote_sleeper+") &&
				      strstr(frames, " task_entry+"),
			      "%s", dump);
		ck_assert_msg(!strstr(frames, " ?\n"), "%s", frames);
		last = strrchr(frames, '#');
		ck_assert_msg(last && strstr(last, " uco__ctx_start+"), "%s",
			      frames);
	}
}
END_TEST

/* Runs past the threshold, then suspends in a function of its own. */
static __attribute__((noinline)) int hog_then_yield(void)
{
	int r;

	hog(NULL);
	r = uco_yield();
	g_sink += (uint64_t)r; /* not a tail call: this frame stays */
	return r;
}

static void *hog_yield(void *arg)
{
	(void)arg;
	return hog_then_yield() < 0 ? uco_fail(-ECANCELED) : NULL;
}

static void *slow_yield_main(void *arg)
{
	uco_spawn_opts o = { .name = "hog" };
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, hog_yield, NULL, &o), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	return NULL;
}

START_TEST(test_slow_task_backtrace)
{
	struct child_run cr;
	struct th_child_result res;
	char frames[4096];

	if (!UCO_HAVE_LIBUNWIND)
		TH_SKIP("uco built without libunwind (libunwind-dev)");
	cr = debug_run(slow_yield_main, 1);
	run_child(&cr, &res);
	ck_assert_msg(strstr(res.err, "without suspending; it suspends here:"),
		      "%s", res.err);
	frames_after(res.err, "it suspends here:", frames, sizeof(frames));
	ck_assert_msg(strstr(frames, " uco_yield+") &&
			      strstr(frames, " hog_then_yield+") &&
			      strstr(frames, " hog_yield+") &&
			      strstr(frames, " uco__ctx_start+"),
		      "%s", res.err);
}
END_TEST

static Suite *debug_suite(void)
{
	Suite *s = suite_create("debug");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_slow_task_warning);
	tcase_add_test(tc, test_slow_task_warning_env);
	tcase_add_test(tc, test_no_debug_quiet);
	tcase_add_test(tc, test_alive_at_shutdown);
	tcase_add_test(tc, test_sigquit_dump);
	tcase_add_test(tc, test_sigquit_backtraces);
	tcase_add_test(tc, test_slow_task_backtrace);
	tcase_add_test(tc, test_calls_after_cancel_named);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(debug_suite());
}
