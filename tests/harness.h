/*
 * tests/harness.h — small helpers shared by the Check suites.
 *
 * Header-only (static functions), so every suite includes it without a
 * separate object.  Check runs each test in a forked child (CK_FORK, the
 * default), so a failed ck_assert inside a uco task ends that child and is
 * reported as the test failing.
 *
 *   th_run(body, arg, cfg)   run body(arg) as the main task of uco_run with
 *                            cfg (NULL: defaults) and assert uco_run
 *                            returned 0
 *   th_run_cores(body, arg, n)          the same with cfg.cores = n
 *   th_child(fn, arg, &res)  run fn(arg) in a forked child whose stderr goes
 *                            to a memfd; res gets the wait status and what
 *                            the child wrote to stderr
 *   th_count_fds(), th_count_maps(), th_count_threads()
 *                            entries of /proc/self/fd, lines of
 *                            /proc/self/maps, entries of /proc/self/task
 *   TH_SPAWN_WAITERS(w, t, n, fn)   spawn fn(&w[i]) as t[i] for each of
 *                            n waiter records, then yield once and assert
 *                            that each one got to its wait
 *   th_join_all(t, n)        join and release n tasks, asserting each
 *                            returned normally
 *   th_await_waiting_on(name, what)    go round the loop until the task
 *                            called name is waiting on what (the last
 *                            column of uco_tasks_dump())
 *   TH_SKIP(fmt, ...)        in a START_TEST body, outside uco_run: the
 *                            machine lacks what the test needs (say what);
 *                            record a skip and end the test
 *   th_main_run(suite)       run the suite: exit 0 if every test passed,
 *                            1 if any failed, else 77 (meson: SKIP) if any
 *                            was skipped, listing each skip and its reason
 *
 * Skips: Check knows only pass and fail, and runs each test in a forked
 * child.  So th_main_run() opens a memfd before the run, which every child
 * inherits (with its file offset: the children run one at a time, so their
 * lines follow each other); TH_SKIP writes "name: reason" there and
 * returns from the test, which Check counts as passed.  After the run the
 * lines are read back: a suite with a skipped test and no failure exits
 * 77, so meson counts it as skipped, never as passed, and its log names
 * each skipped test and why.
 */
#ifndef UCO_TESTS_HARNESS_H
#define UCO_TESTS_HARNESS_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uco/uco.h>

/* Built with AddressSanitizer?  (gcc defines the macro; clang has the
 * feature test.) */
#if defined(__SANITIZE_ADDRESS__)
#define TH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TH_ASAN 1
#endif
#endif
#ifdef TH_ASAN
#include <sanitizer/lsan_interface.h>
#endif
/* ThreadSanitizer, likewise: it maps shadow memory per thread and fiber and
 * starts a background thread of its own, which mapping and thread counts
 * must not blame on uco. */
#if defined(__SANITIZE_THREAD__)
#define TH_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TH_TSAN 1
#endif
#endif

struct th_main {
	void (*body)(void *arg);
	void *arg;
};

static void *th_main_task(void *p)
{
	struct th_main *m = p;

	m->body(m->arg);
	return NULL;
}

/* Run body(arg) as uco_run's main task; assert uco_run returned 0. */
static inline void th_run(void (*body)(void *arg), void *arg,
			  const uco_config *cfg)
{
	struct th_main m = { body, arg };
	int r = uco_run(th_main_task, &m, cfg, NULL);

	ck_assert_msg(r == 0, "uco_run returned %d (%s)", r, strerror(-r));
}

static inline void th_run_cores(void (*body)(void *arg), void *arg,
				unsigned cores)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = cores;
	th_run(body, arg, &cfg);
}

/* Entries in a /proc directory, without "." and "..". */
static inline int th_count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	ck_assert_msg(d != NULL, "opendir %s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - (strcmp(path, "/proc/self/fd") == 0); /* the DIR's own fd */
}

static inline int th_count_fds(void)
{
	return th_count_dir("/proc/self/fd");
}

static inline int th_count_threads(void)
{
	return th_count_dir("/proc/self/task");
}

/* Lines of /proc/self/maps, read with plain read(2) so that counting does
 * not itself allocate (and perhaps map) anything.  The buffer is small:
 * this is called from tasks, whose stacks may be 16 KiB. */
static inline int th_count_maps(void)
{
	char buf[2048];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	int n = 0;
	ssize_t k;

	ck_assert_msg(fd >= 0, "open /proc/self/maps: %s", strerror(errno));
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < k; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

/*
 * The sync suites' waiters: an array w of n records, each with at least
 *   int r;          the wait's result, set to 1 here ("not returned yet")
 *   int rank;       the order it got through in, set to -1 here
 *   bool started;   set by fn before it waits
 * fn(&w[i]) runs as task t[i].  One uco_yield() runs every new task up to
 * its first suspension (tasks run in spawn order), and the check that each
 * set `started` proves it is waiting, in order, before the test goes on.
 * A macro, since each suite's record is its own type.
 */
#define TH_SPAWN_WAITERS(w, t, n, fn)                                         \
	do {                                                                  \
		for (int th_i_ = 0; th_i_ < (n); th_i_++) {                   \
			(w)[th_i_].r = 1;                                     \
			(w)[th_i_].rank = -1;                                 \
			ck_assert_int_eq(uco_spawn(&(t)[th_i_], (fn),         \
						   &(w)[th_i_], NULL), 0);    \
		}                                                             \
		ck_assert_int_eq(uco_yield(), 0);                             \
		for (int th_i_ = 0; th_i_ < (n); th_i_++)                     \
			ck_assert_msg((w)[th_i_].started,                     \
				      "waiter %d did not start", th_i_);      \
	} while (0)

/* Join and release n tasks; each must have returned (not failed). */
static inline void th_join_all(uco_task **t, int n)
{
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(uco_join(t[i], NULL), 0);
		uco_task_release(t[i]);
	}
}

/*
 * Go round the loop (uco_nop(): a submit and a reap) until the task called
 * `name`, on this core, is waiting on `what`, as uco_tasks_dump() shows it.
 * For a wait that changes because of a completion the test cannot await
 * itself (the other task consumes it): it proves the completion came and
 * was handled.  Fails after 10 s (only against a hang: a slow machine
 * passes).  The buffer is small: tasks' stacks may be 16 KiB.
 */
static inline void th_await_waiting_on(const char *name, const char *what)
{
	uint64_t deadline = uco_now() + 10 * UCO_NSEC_PER_SEC;
	int fd = memfd_create("th-dump", MFD_CLOEXEC);
	char buf[2048], seen[160] = "";

	ck_assert_msg(fd >= 0, "memfd_create: %s", strerror(errno));
	for (;;) {
		ssize_t k;
		char *line, *end;

		ck_assert_int_eq(ftruncate(fd, 0), 0);
		uco_tasks_dump(fd);
		k = pread(fd, buf, sizeof(buf) - 1, 0);
		ck_assert_int_ge(k, 0);
		buf[k] = '\0';
		for (line = buf; *line; line = end + 1) {
			end = strchr(line, '\n');
			if (!end)
				break;
			*end = '\0';
			/* "core C  id N  <name>  <state>  <what>[  (cancelling)]" */
			char *nm = strstr(line, name);
			if (!nm || nm[-1] != ' ' || nm[strlen(name)] != ' ')
				continue;
			snprintf(seen, sizeof(seen), "%.150s", line);
			char *st = strstr(nm + strlen(name), " waiting ");
			if (!st)
				continue;
			st += strlen(" waiting ");
			while (*st == ' ')
				st++;
			if (strncmp(st, what, strlen(what)) == 0 &&
			    (st[strlen(what)] == '\0' || st[strlen(what)] == ' ')) {
				close(fd);
				return;
			}
		}
		ck_assert_msg(uco_now() < deadline,
			      "task %s never waited on \"%s\"; last seen: %s",
			      name, what, seen[0] ? seen : "(not listed)");
		ck_assert_int_eq(uco_nop(), 0);
	}
}

/* What a forked child did. */
struct th_child_result {
	int status;      /* from waitpid */
	char err[16384]; /* its stderr, NUL-terminated (truncated if longer) */
	size_t err_len;
};

/*
 * Run fn(arg) in a forked child with stderr sent to a memfd and core dumps
 * off, then _exit(0) if fn returns.  Waits for the child (a crash is the
 * point of some tests) and collects its stderr.
 */
static inline void th_child(void (*fn)(void *arg), void *arg,
			    struct th_child_result *res)
{
	int fd = memfd_create("th-stderr", MFD_CLOEXEC);
	pid_t pid;
	ssize_t k;

	ck_assert_msg(fd >= 0, "memfd_create: %s", strerror(errno));
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct rlimit nocore = { 0, 0 };

		setrlimit(RLIMIT_CORE, &nocore);
		dup2(fd, STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &res->status, 0), pid);
	k = pread(fd, res->err, sizeof(res->err) - 1, 0);
	res->err_len = k > 0 ? (size_t)k : 0;
	res->err[res->err_len] = '\0';
	close(fd);
}

/* Describe a wait status, for failure messages. */
static inline const char *th_status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", status);
	return buf;
}

/* The descriptor skips are written to (see above); -1 outside
 * th_main_run(). */
static inline int *th_skip_fd(void)
{
	static int fd = -1;

	return &fd;
}

/* Record a skip of test `fn` (Check's name for the test's function, the
 * test's name with "_fn" after it). */
__attribute__((format(printf, 2, 3)))
static inline void th_skip_note(const char *fn, const char *fmt, ...)
{
	char line[512];
	size_t n = strlen(fn);
	va_list ap;
	int k;

	if (n > 3 && strcmp(fn + n - 3, "_fn") == 0)
		n -= 3;
	k = snprintf(line, sizeof(line), "%.*s: ", (int)n, fn);
	va_start(ap, fmt);
	k += vsnprintf(line + k, sizeof(line) - (size_t)k - 1, fmt, ap);
	va_end(ap);
	if (k > (int)sizeof(line) - 2)
		k = (int)sizeof(line) - 2;
	line[k++] = '\n';
	fprintf(stderr, "SKIP %.*s", k, line);
	ck_assert_msg(*th_skip_fd() >= 0,
		      "skip outside th_main_run: %.*s", k - 1, line);
	ck_assert_int_eq(write(*th_skip_fd(), line, (size_t)k), k);
}

#define TH_SKIP(...)                                                          \
	do {                                                                  \
		th_skip_note(__func__, __VA_ARGS__);                          \
		return;                                                       \
	} while (0)

/* Run a suite; the exit status of a test program: 1 if a test failed,
 * else 77 if one was skipped, else 0.  CK_VERBOSITY=verbose lists every
 * test. */
static inline int th_main_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	char skips[8192];
	int failed, nskip = 0;
	ssize_t k;

	*th_skip_fd() = memfd_create("th-skips", MFD_CLOEXEC);
	if (*th_skip_fd() < 0) {
		perror("memfd_create");
		return EXIT_FAILURE;
	}
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	k = pread(*th_skip_fd(), skips, sizeof(skips) - 1, 0);
	close(*th_skip_fd());
	*th_skip_fd() = -1;
	skips[k > 0 ? k : 0] = '\0';
	for (const char *p = skips; (p = strchr(p, '\n')); p++)
		nskip++;
	if (nskip) {
		printf("%d test%s skipped (the suite reports SKIP unless one "
		       "failed):\n%s", nskip, nskip > 1 ? "s" : "", skips);
		fflush(stdout);
	}
	if (failed)
		return EXIT_FAILURE;
	return nskip ? 77 : EXIT_SUCCESS;
}

#endif
