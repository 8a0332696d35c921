/*
 * Suite "signal": waiting for SIGINT, SIGTERM and SIGHUP in tasks
 * (include/uco/signal.h).  Each test runs in a forked child (th_child): the
 * signals go to the whole process, and an unwaited one must be able to
 * kill it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

/* Check's runner handles SIGINT and SIGTERM itself (it forwards them to
 * its process group); the children start from the defaults. */
static void default_dispositions(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

static void set_of(sigset_t *set, int a, int b)
{
	sigemptyset(set);
	if (a)
		sigaddset(set, a);
	if (b)
		sigaddset(set, b);
}

struct sw {
	int a, b;
	int r;
	bool waiting;
};

static void *wait_task(void *arg)
{
	struct sw *w = arg;
	sigset_t set;

	set_of(&set, w->a, w->b);
	w->waiting = true;
	w->r = uco_signal_wait(&set);
	w->waiting = false;
	return NULL;
}

/* ---- delivery -------------------------------------------------------------- */

static void body_delivered(void *arg)
{
	struct sw w1 = { SIGINT, SIGTERM, 0, false };
	struct sw w2 = { SIGTERM, 0, 0, false };
	struct sw w3 = { SIGHUP, 0, 0, false };
	uco_task *t1, *t2, *t3;

	ck_assert_int_eq(uco_spawn(&t1, wait_task, &w1, NULL), 0);
	ck_assert_int_eq(uco_spawn(&t2, wait_task, &w2, NULL), 0);
	ck_assert_int_eq(uco_spawn(&t3, wait_task, &w3, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(w1.waiting && w2.waiting && w3.waiting);
	/* SIGTERM goes to both tasks waiting for it, not to the third. */
	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	ck_assert_int_eq(uco_join(t1, NULL), 0);
	ck_assert_int_eq(uco_join(t2, NULL), 0);
	ck_assert_int_eq(w1.r, SIGTERM);
	ck_assert_int_eq(w2.r, SIGTERM);
	ck_assert(w3.waiting);
	ck_assert_int_eq(kill(getpid(), SIGHUP), 0);
	ck_assert_int_eq(uco_join(t3, NULL), 0);
	ck_assert_int_eq(w3.r, SIGHUP);
	uco_task_release(t1);
	uco_task_release(t2);
	uco_task_release(t3);
}

static void delivered_child(void *arg)
{
	default_dispositions();
	lc_run(body_delivered, NULL, NULL);
}

START_TEST(delivered)
{
	struct th_child_result res;

	th_child(delivered_child, NULL, &res);
	ck_assert_msg(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
		      "status %#x: %s", res.status, res.err);
}
END_TEST

/* A waiter on core 1 gets a signal read on core 0. */
static void *send_sigint_task(void *arg)
{
	ck_assert_int_eq(kill(getpid(), SIGINT), 0);
	return NULL;
}

/* Waits on core 1; the signal is sent by a task on the same core, which
 * runs only once the wait counts (any core's loop may read it). */
static void *wait_then_send_task(void *arg)
{
	ck_assert_int_eq(uco_spawn(NULL, send_sigint_task, NULL, NULL), 0);
	return wait_task(arg);
}

static void body_other_core(void *arg)
{
	struct sw w = { SIGINT, 0, 0, false };
	uco_task *t;

	ck_assert_int_eq(uco_spawn_on(1, &t, wait_then_send_task, &w, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(w.r, SIGINT);
}

static void other_core_child(void *arg)
{
	default_dispositions();
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = 2;
	lc_run(body_other_core, NULL, &cfg);
}

START_TEST(other_core)
{
	struct th_child_result res;

	th_child(other_core_child, NULL, &res);
	ck_assert_msg(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
		      "status %#x: %s", res.status, res.err);
}
END_TEST

/* A raise() in a task on core 1 (a signal for that thread only, which
 * blocks it) reaches a waiter on core 0. */
static void *raise_task(void *arg)
{
	ck_assert_int_eq(raise(SIGHUP), 0);
	return NULL;
}

static void body_raise_other_core(void *arg)
{
	struct sw w = { SIGHUP, 0, 0, false };
	uco_task *t, *r;

	ck_assert_int_eq(uco_spawn(&t, wait_task, &w, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(w.waiting);
	ck_assert_int_eq(uco_spawn_on(1, &r, raise_task, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(r, NULL), 0);
	uco_task_release(r);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(w.r, SIGHUP);
}

static void raise_other_core_child(void *arg)
{
	uco_config cfg;

	default_dispositions();
	uco_config_init(&cfg);
	cfg.cores = 2;
	lc_run(body_raise_other_core, NULL, &cfg);
}

START_TEST(raise_other_core)
{
	struct th_child_result res;

	th_child(raise_other_core_child, NULL, &res);
	ck_assert_msg(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
		      "status %#x: %s", res.status, res.err);
}
END_TEST

/* Signals still reach a task that waits for them while the runtime shuts
 * down after main returned ("press Ctrl-C again to force quit"): a task on
 * core 1 takes a SIGTERM, which ends main; the runtime's shutdown cancel
 * then reaches the task, which shields itself and takes two more. */
static int g_second = 1;

static void *kill_task(void *arg)
{
	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	return NULL;
}

static void *twice_task(void *arg)
{
	struct sw *w = arg;
	sigset_t set;
	int r;

	set_of(&set, SIGTERM, 0);
	/* Each SIGTERM is sent by a task on this core, which runs only once
	 * this one waits (sent before, a loop could read it before the wait
	 * counts, and give it the default action). */
	ck_assert_int_eq(uco_spawn(NULL, kill_task, NULL, NULL), 0);
	__atomic_store_n(&w->r, uco_signal_wait(&set), __ATOMIC_RELEASE);
	/* main returns once it sees the first, and the runtime cancels this
	 * task: that cancel, not a time, says main has returned. */
	ck_assert_int_eq(uco_sleep(3600 * UCO_NSEC_PER_SEC), -ECANCELED);
	ck_assert(uco_cancelling());
	uco_shield_begin();
	/* Twice: the read armed before main returned takes the first. */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(uco_spawn(NULL, kill_task, NULL, NULL), 0);
		r = uco_timeout_begin(5000 * MS);
		g_second = uco_signal_wait(&set);
		uco_timeout_end(r);
		if (g_second != SIGTERM)
			break;
	}
	uco_shield_end();
	return NULL;
}

static void body_after_main(void *arg)
{
	static struct sw w = { SIGTERM, 0, 0, false };

	ck_assert_int_eq(uco_spawn_on(1, NULL, twice_task, &w, NULL), 0);
	/* Polled across cores: the waiter runs on core 1. */
	while (__atomic_load_n(&w.r, __ATOMIC_ACQUIRE) != SIGTERM)
		ck_assert_int_eq(uco_sleep(1 * MS), 0);
}

static void after_main_child(void *arg)
{
	uco_config cfg;

	default_dispositions();
	uco_config_init(&cfg);
	cfg.cores = 2;
	th_run(body_after_main, NULL, &cfg);
	if (g_second != SIGTERM) {
		fprintf(stderr, "second SIGTERM: %d\n", g_second);
		_exit(1);
	}
}

START_TEST(after_main)
{
	struct th_child_result res;

	th_child(after_main_child, NULL, &res);
	ck_assert_msg(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
		      "status %#x: %s", res.status, res.err);
}
END_TEST

/* ---- nobody waits: the program's own disposition ------------------------------ */

static void body_unwaited_default(void *arg)
{
	struct sw w = { SIGINT, 0, 0, false };
	uco_task *t;

	/* A waiter that was cancelled no longer counts. */
	ck_assert_int_eq(uco_spawn(&t, wait_task, &w, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(w.r, -ECANCELED);
	kill(getpid(), SIGTERM);
	/* The default action terminates the process, as without uco. */
	for (;;)
		UCO_IGNORE(uco_sleep(1000 * MS));
}

static void unwaited_default_child(void *arg)
{
	default_dispositions();
	th_run(body_unwaited_default, NULL, NULL);
}

START_TEST(unwaited_default)
{
	struct th_child_result res;

	th_child(unwaited_default_child, NULL, &res);
	ck_assert_msg(WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGTERM,
		      "status %#x: %s", res.status, res.err);
}
END_TEST

/* Atomic, not just volatile sig_atomic_t: uco runs a program's handler on
 * its signal thread (core/sigwait.c), and ThreadSanitizer rightly calls a
 * plain write there and a read in a task a data race. */
static _Atomic int handled;

static void on_hup(int sig)
{
	handled = sig;
}

static void body_unwaited_handler(void *arg)
{
	struct sw w = { SIGHUP, 0, 0, false };
	uco_task *t;

	/* The program's handler runs for an unwaited signal... */
	ck_assert_int_eq(kill(getpid(), SIGHUP), 0);
	while (!handled)
		ck_assert_int_eq(uco_sleep(1 * MS), 0);
	ck_assert_int_eq(handled, SIGHUP);
	/* ...and not for one a task waits for. */
	handled = 0;
	ck_assert_int_eq(uco_spawn(&t, wait_task, &w, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(kill(getpid(), SIGHUP), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(w.r, SIGHUP);
	ck_assert_int_eq(handled, 0);
	/* SIG_IGN: dropped.  A SIGTERM sent after it is read after it (the
	 * kernel hands out the lowest-numbered pending signal first), so
	 * once a SIGTERM waiter has its signal the SIGINT was read: the
	 * process is still alive, no handler ran, and it is not pending. */
	struct sw term = { SIGTERM, 0, 0, false };
	sigset_t pending;

	signal(SIGINT, SIG_IGN);
	ck_assert_int_eq(uco_spawn(&t, wait_task, &term, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(term.waiting);
	ck_assert_int_eq(kill(getpid(), SIGINT), 0);
	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(term.r, SIGTERM);
	ck_assert_int_eq(handled, 0);
	ck_assert_int_eq(sigpending(&pending), 0);
	ck_assert(!sigismember(&pending, SIGINT));
}

static void unwaited_handler_child(void *arg)
{
	default_dispositions();
	signal(SIGHUP, on_hup);
	lc_run(body_unwaited_handler, NULL, NULL);
	/* After uco_run the mask is the program's again. */
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	ck_assert(!sigismember(&cur, SIGHUP));
	ck_assert(!sigismember(&cur, SIGTERM));
}

START_TEST(unwaited_handler)
{
	struct th_child_result res;

	th_child(unwaited_handler_child, NULL, &res);
	ck_assert_msg(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0,
		      "status %#x: %s", res.status, res.err);
}
END_TEST

/* ---- killable whatever the tasks do -------------------------------------------- */

/*
 * SIGTERM must end the process even when a task makes its core busy: one
 * that ignores -ECANCELED in a loop, or one that never suspends at all.
 * The child reports on a pipe; the parent waits for the report itself,
 * then sends SIGTERM and waits for the child's death by SIGTERM, bounded
 * by a generous timeout (a hang, not a slow machine, is what it catches).
 */
#define KILL_WAIT_MS 20000 /* under the test case's 30 s */

static int g_report = -1; /* the child's end of the pipe */

static void report(char c)
{
	if (write(g_report, &c, 1) != 1)
		_exit(3);
}

/* Ignores -ECANCELED, as a ported `for (;;) { sleep(1); work(); }`. */
static void *ignores_cancel(void *arg)
{
	for (;;)
		UCO_IGNORE(uco_sleep(UCO_NSEC_PER_SEC));
	return arg;
}

/* Another task on the same core: a byte per 100 NOPs. */
static void *progress(void *arg)
{
	for (long i = 1;; i++) {
		if (uco_nop() < 0)
			_exit(4);
		if (i % 100 == 0)
			report('p');
	}
	return arg;
}

static void *spin_main(void *arg)
{
	uco_task *t;

	if (uco_spawn(&t, ignores_cancel, NULL, NULL) < 0 || uco_yield() < 0 ||
	    uco_cancel(t) < 0 || uco_spawn(NULL, progress, NULL, NULL) < 0)
		_exit(5);
	report('c'); /* cancelled, and it goes on */
	UCO_IGNORE(uco_join(t, NULL));
	_exit(6);
}

/* Never suspends: the loop it runs on never gets the CPU back. */
static void *hog_main(void *arg)
{
	volatile unsigned long n = 0;

	report('h');
	for (;;)
		n++;
	return arg;
}

/* Run main_fn in a child on one core; wait for `want` report bytes (the
 * first one is `first`), SIGTERM it, and check it died of SIGTERM.  The
 * number of 'p' bytes seen is returned. */
static int killed_by_sigterm(uco_fn main_fn, char first, int want)
{
	int fds[2], pidfd, status = 0, progress_seen = 0;
	struct pollfd pf;
	pid_t pid;
	char st[64];

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uco_config cfg;

		/* Gone with the test if Check's timeout kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		default_dispositions();
		g_report = fds[1];
		uco_config_init(&cfg);
		cfg.cores = 1;
		uco_run(main_fn, NULL, &cfg, NULL);
		_exit(7);
	}
	close(fds[1]);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	ck_assert_int_ge(pidfd, 0);
	for (int got = 0; got < want; got++) {
		char c;

		pf = (struct pollfd){ .fd = fds[0], .events = POLLIN };
		if (poll(&pf, 1, KILL_WAIT_MS) != 1 || read(fds[0], &c, 1) != 1) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("report %d of %d never came (%s)", got + 1,
				     want, th_status_str(status, st, sizeof(st)));
		}
		if (got == 0)
			ck_assert_int_eq(c, first);
		progress_seen += c == 'p';
	}
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	pf = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	if (poll(&pf, 1, KILL_WAIT_MS) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ck_abort_msg("SIGTERM did not end the child (%d s)",
			     KILL_WAIT_MS / 1000);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
		      "child ended with %s",
		      th_status_str(status, st, sizeof(st)));
	close(pidfd);
	close(fds[0]);
	return progress_seen;
}

/* A cancelled task that ignores -ECANCELED: the other task on its core
 * keeps running (20 reports of 100 NOPs each after the cancel), and
 * SIGTERM, which nobody waits for, kills the process. */
START_TEST(cancel_ignored_sigterm_kills)
{
	ck_assert_int_eq(killed_by_sigterm(spin_main, 'c', 21), 20);
}
END_TEST

/* A task that never suspends: its loop never runs again, and SIGTERM
 * still has its default action. */
START_TEST(busy_loop_sigterm_kills)
{
	killed_by_sigterm(hog_main, 'h', 1);
}
END_TEST

/* ---- errors, timeouts ----------------------------------------------------------- */

static int wait_int(void *arg)
{
	sigset_t set;

	set_of(&set, SIGINT, 0);
	return uco_signal_wait(&set);
}

static void body_errors(void *arg)
{
	sigset_t set;
	int s;

	set_of(&set, SIGUSR1, 0);
	ck_assert_int_eq(uco_signal_wait(&set), -EINVAL);
	set_of(&set, SIGINT, SIGUSR1);
	ck_assert_int_eq(uco_signal_wait(&set), -EINVAL);
	set_of(&set, 0, 0);
	ck_assert_int_eq(uco_signal_wait(&set), -EINVAL);
	ck_assert_int_eq(uco_signal_wait(NULL), -EINVAL);
	ck_assert_int_eq(uco_wait_for(20 * MS, wait_int, NULL), -ETIMEDOUT);
	s = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(wait_int(NULL), -ETIMEDOUT);
	uco_timeout_end(s);
}

START_TEST(errors)
{
	sigset_t set;

	lc_run(body_errors, NULL, NULL);
	set_of(&set, SIGINT, 0);
	ck_assert_int_eq(uco_signal_wait(&set), -EPERM);
}
END_TEST

static Suite *signal_suite(void)
{
	Suite *s = suite_create("signal");
	TCase *tc = tcase_create("signal");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, delivered);
	tcase_add_test(tc, other_core);
	tcase_add_test(tc, raise_other_core);
	tcase_add_test(tc, after_main);
	tcase_add_test(tc, unwaited_default);
	tcase_add_test(tc, unwaited_handler);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, cancel_ignored_sigterm_kills);
	tcase_add_test(tc, busy_loop_sigterm_kills);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(signal_suite());
}
