/*
 * Suite "stack": task stacks.
 *
 *   - an overflow ends the process with SIGABRT and a message naming the
 *     task, both on a stack with a guard page (the SIGSEGV handler) and on
 *     one protected by a canary (checked when the task switches out);
 *   - a per-spawn stack size is honoured;
 *   - deep (legal) stack use leaves neighbouring tasks alone, with guard
 *     pages and with canaries;
 *   - freed stacks are reused from the loop's pool.
 *
 * This suite reaches internals (core/task.h, core/stack.h) to check which
 * kind of protection a task's stack has and where its region starts, so
 * that the canary case overflows deterministically.
 */
#include "leakcheck.h"

#include "core/stack.h"
#include "core/task.h"

#define KIB 1024ul
#define REGION (64 * KIB) /* the stack size every test here configures */

static uco_config stack_cfg(unsigned guarded)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.stack_size = REGION;
	cfg.guarded_stacks = guarded; /* 0: the default budget */
	return cfg;
}

static void *ret_arg(void *arg)
{
	return arg;
}

/* ---- overflow ------------------------------------------------------------- */

/* Recurse until something stops us, writing every byte of every frame.
 * Frames are far smaller than a page, so the guard page cannot be jumped. */
static volatile unsigned g_sink;

__attribute__((noinline, noipa)) static unsigned dive(unsigned depth)
{
	volatile char buf[256];

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(depth + i);
	if (g_sink != 0xdeadu)
		g_sink = dive(depth + 1) + buf[depth % sizeof(buf)];
	return buf[0];
}

static void *guarded_overflow(void *arg)
{
	struct uco_task *self = uco_current();

	(void)arg;
	/* The setup this test relies on: a guard page, no canary. */
	ck_assert_ptr_null(self->stack->canary);
	dive(0);
	ck_abort_msg("recursed forever without overflowing");
	return NULL;
}

/* A frame larger than what is left of the stack: its every byte is
 * written, from below the region's base up, so the canary in the word just
 * below the base is overwritten whatever the frame layout. */
__attribute__((noinline, noipa)) static void spill(void)
{
	volatile char big[REGION + 8 * KIB];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)0xa5;
	g_sink += big[0];
	/* The canary is checked when the task switches out. */
	UCO_IGNORE(uco_yield());
}

static void *canary_overflow(void *arg)
{
	struct uco_task *self = uco_current();

	(void)arg;
	/* The setup this test relies on: no guard page, a canary; and
	 * enough room below the region for the spill to stay in mapped
	 * memory (the region below, in the same slab). */
	ck_assert_ptr_nonnull(self->stack->canary);
	ck_assert_ptr_eq(self->stack->lo, self->stack->base);
	ck_assert_ptr_eq(self->stack->canary, (uint64_t *)self->stack->base - 1);
	spill();
	ck_abort_msg("overflow not detected at the switch");
	return NULL;
}

enum { GUARDED, CANARY, UNNAMED };

static void *overflow_main(void *arg)
{
	bool canary = (uintptr_t)arg == CANARY;
	uco_fn fn = canary ? canary_overflow : guarded_overflow;
	uco_spawn_opts o = {
		.name = canary ? "deep-canary" : "deep-guarded",
	};

	if ((uintptr_t)arg == UNNAMED)
		o.name = NULL;
	uco_task *pad, *t;

	/* Keep the region below the overflowing task's taken, so the canary
	 * overflow spills into a region nobody runs on. */
	ck_assert_int_eq(uco_spawn(&pad, ret_arg, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(pad, NULL), 0);
	ck_assert_int_eq(uco_spawn(&t, fn, NULL, &o), 0);
	UCO_IGNORE(uco_join(t, NULL));
	ck_abort_msg("the overflowing task came back");
	return NULL;
}

static void run_overflow_child(void *arg)
{
	/* guarded_stacks = 1: the budget is too small for any slab's guard
	 * pages, so every region but the first of a slab gets a canary.  The
	 * default budget (a quarter of vm.max_map_count) guards them all. */
	uco_config cfg = stack_cfg((uintptr_t)arg == CANARY ? 1 : 0);

	uco_run(overflow_main, arg, &cfg, NULL);
	/* Not reached: the child aborts. */
	fprintf(stderr, "uco_run returned after an overflow\n");
	_exit(3);
}

static void check_overflow(uintptr_t kind, const char *name)
{
	struct th_child_result res;
	char want[64], st[64];

	th_child(run_overflow_child, (void *)kind, &res);
	snprintf(want, sizeof(want), "stack overflow in task '%s'", name);
	ck_assert_msg(WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGABRT,
		      "child ended with %s; stderr:\n%s",
		      th_status_str(res.status, st, sizeof(st)), res.err);
	ck_assert_msg(strstr(res.err, want) != NULL,
		      "stderr lacks \"%s\":\n%s", want, res.err);
	ck_assert_msg(strstr(res.err, "65536 bytes") != NULL,
		      "stderr lacks the stack size:\n%s", res.err);
}

/*
 * These also run under AddressSanitizer: uco_run installs its SIGSEGV
 * handler (on each loop's own alternate stack) over ASan's, and the canary
 * case does not fault at all.
 */
START_TEST(test_overflow_guarded)
{
	check_overflow(GUARDED, "deep-guarded");
}
END_TEST

START_TEST(test_overflow_canary)
{
	check_overflow(CANARY, "deep-canary");
}
END_TEST

/* A task with the default name is reported by that name, "task-<id>". */
START_TEST(test_overflow_default_name)
{
	struct th_child_result res;
	unsigned long long id;
	const char *p;
	char want[64], st[64];

	th_child(run_overflow_child, (void *)(uintptr_t)UNNAMED, &res);
	ck_assert_msg(WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGABRT,
		      "child ended with %s; stderr:\n%s",
		      th_status_str(res.status, st, sizeof(st)), res.err);
	p = strstr(res.err, "(id ");
	ck_assert_msg(p && sscanf(p, "(id %llu", &id) == 1,
		      "no task id in stderr:\n%s", res.err);
	snprintf(want, sizeof(want), "stack overflow in task 'task-%llu'", id);
	ck_assert_msg(strstr(res.err, want) != NULL,
		      "stderr lacks \"%s\":\n%s", want, res.err);
}
END_TEST

/* ---- per-spawn stack size --------------------------------------------------- */

#define BIG_USE (200 * KIB)

__attribute__((noinline, noipa)) static unsigned use_big(unsigned seed)
{
	volatile unsigned char buf[BIG_USE];
	unsigned sum = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(seed + i);
	/* Others run meanwhile; the bytes must still be ours. */
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_nop(), 0);
	for (size_t i = 0; i < sizeof(buf); i++) {
		if (buf[i] != (unsigned char)(seed + i))
			ck_abort_msg("byte %zu of task %u changed", i, seed);
		sum += buf[i];
	}
	return sum;
}

static void *big_user(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	struct uco_task *self = uco_current();

	ck_assert_uint_ge(self->stack->size, 512 * KIB);
	return (void *)(uintptr_t)use_big(seed);
}

static void body_stack_size(void *arg)
{
	uco_spawn_opts o = { .name = "big", .stack_size = 512 * KIB };
	uco_task *t[4];
	void *res;

	(void)arg;
	for (uintptr_t i = 0; i < 4; i++)
		ck_assert_int_eq(uco_spawn(&t[i], big_user, (void *)i, &o), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(uco_join(t[i], &res), 0);
		ck_assert_ptr_nonnull(res);
		uco_task_release(t[i]);
	}
	/* The default size still applies to everyone else. */
	ck_assert_int_eq(uco_spawn(&t[0], ret_arg, NULL, NULL), 0);
	ck_assert_uint_eq(((struct uco_task *)t[0])->stack->size, REGION);
	ck_assert_int_eq(uco_join(t[0], NULL), 0);
	uco_task_release(t[0]);
}

START_TEST(test_stack_size)
{
	uco_config cfg = stack_cfg(0);

	lc_run(body_stack_size, NULL, &cfg);
	cfg = stack_cfg(1); /* on canary stacks too */
	lc_run(body_stack_size, NULL, &cfg);
}
END_TEST

/* ---- deep use next to other tasks ---------------------------------------- */

#define NDEEP 16
#define DEEP_USE (48 * KIB)

__attribute__((noinline, noipa)) static void use_deep(unsigned char mark)
{
	volatile unsigned char buf[DEEP_USE];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = mark;
	for (int round = 0; round < 8; round++) {
		ck_assert_int_eq(uco_yield(), 0);
		for (size_t i = 0; i < sizeof(buf); i++)
			if (buf[i] != mark)
				ck_abort_msg("task %u: byte %zu is %u", mark, i,
					     buf[i]);
	}
}

static void *deep_user(void *arg)
{
	unsigned char mark = (unsigned char)(uintptr_t)arg;
	char want[16];

	use_deep(mark);
	/* The record at the top of the region is intact too. */
	snprintf(want, sizeof(want), "deep-%u", mark);
	ck_assert_str_eq(uco_task_name(uco_current()), want);
	return arg;
}

static void body_deep(void *arg)
{
	uco_task *t[NDEEP];
	char name[16];
	void *res;

	(void)arg;
	for (uintptr_t i = 0; i < NDEEP; i++) {
		uco_spawn_opts o = { .name = name };

		snprintf(name, sizeof(name), "deep-%u", (unsigned)(i + 1));
		ck_assert_int_eq(uco_spawn(&t[i], deep_user, (void *)(i + 1), &o),
				 0);
	}
	for (uintptr_t i = 0; i < NDEEP; i++) {
		ck_assert_int_eq(uco_join(t[i], &res), 0);
		ck_assert_ptr_eq(res, (void *)(i + 1));
		ck_assert_str_eq(uco_task_name(t[i]), (snprintf(name, sizeof(name),
					"deep-%u", (unsigned)(i + 1)), name));
		uco_task_release(t[i]);
	}
}

START_TEST(test_deep_use_isolated)
{
	uco_config cfg = stack_cfg(0);

	/* Adjacent regions separated by guard pages... */
	lc_run(body_deep, NULL, &cfg);
	/* ...and by nothing but canaries (a false alarm would abort). */
	cfg = stack_cfg(1);
	lc_run(body_deep, NULL, &cfg);
}
END_TEST

/* ---- reuse from the pool --------------------------------------------------- */

/* Where the task's stack is: the address of one of its locals. */
static void *where(void *arg)
{
	volatile char here = 0;
	volatile uintptr_t addr = (uintptr_t)&here;

	(void)arg;
	return (void *)addr;
}

#define NADDR 8

static void body_reuse(void *arg)
{
	void *seen[NADDR];
	int nseen = 0, maps;
	uco_task *batch[1000];

	(void)arg;
	/* Sequential spawn/join: the same few regions over and over. */
	for (int i = 0; i < 10000; i++) {
		uco_task *t;
		void *res;
		int k;

		if (uco_spawn(&t, where, NULL, NULL) != 0 || uco_join(t, &res) != 0)
			ck_abort_msg("spawn/join %d failed", i);
		uco_task_release(t);
		for (k = 0; k < nseen && seen[k] != res; k++)
			;
		if (k == nseen) {
			if (nseen == NADDR)
				ck_abort_msg("more than %d distinct stacks for "
					     "one task at a time", NADDR);
			seen[nseen++] = res;
		}
		if (i == 99)
			maps = th_count_maps();
	}
	ck_assert_int_eq(th_count_maps(), maps);

	/* Batches of 1000 at once: the second batch needs no new slab. */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 1000; i++)
			if (uco_spawn(&batch[i], where, NULL, NULL) != 0)
				ck_abort_msg("spawn %d failed", i);
		for (int i = 0; i < 1000; i++) {
			if (uco_join(batch[i], NULL) != 0)
				ck_abort_msg("join %d failed", i);
			uco_task_release(batch[i]);
		}
		if (round == 0)
			maps = th_count_maps();
		else
			ck_assert_int_eq(th_count_maps(), maps);
	}
}

START_TEST(test_stack_reuse)
{
	uco_config cfg = stack_cfg(0);

	lc_run(body_reuse, NULL, &cfg);
	cfg = stack_cfg(1);
	lc_run(body_reuse, NULL, &cfg);
}
END_TEST

static Suite *stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_overflow_guarded);
	tcase_add_test(tc, test_overflow_canary);
	tcase_add_test(tc, test_overflow_default_name);
	tcase_add_test(tc, test_stack_size);
	tcase_add_test(tc, test_deep_use_isolated);
	tcase_add_test(tc, test_stack_reuse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(stack_suite());
}
