/*
 * The program tests/unwind_gdb.sh runs under gdb: a task that calls down
 * two functions of its own, yields (so it is resumed through the switch at
 * least once) and stops in unwind_break_here(), where gdb's backtrace must
 * read unwind_break_here <- unwind_middle <- unwind_task <- task_entry <-
 * uco__ctx_start, and end there.  Public API only.
 */
#include <stdio.h>

#include <uco/uco.h>

/* noinline and a side effect: each function keeps its own frame at -O2. */
static volatile int unwind_sink;

__attribute__((noinline)) void unwind_break_here(int depth);
__attribute__((noinline)) void unwind_break_here(int depth)
{
	unwind_sink += depth;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static int unwind_middle(int depth)
{
	int r = 0;

	/* Two of these tasks yield to each other: the switches between them
	 * resume a task inside its own chain, which gdb also walks. */
	for (int i = 0; i < 4 && r == 0; i++)
		r = uco_yield();
	unwind_break_here(depth);
	unwind_sink += 1;
	return r;
}

__attribute__((noinline)) static void *unwind_task(void *arg)
{
	int r = unwind_middle((int)(long)arg);

	unwind_sink += 1;
	return r < 0 ? uco_fail(r) : NULL;
}

static void *unwind_main(void *arg)
{
	uco_task *t[2];
	int r = 0, e;

	(void)arg;
	for (int i = 0; i < 2; i++) {
		e = uco_spawn(&t[i], unwind_task, (void *)3L, NULL);
		if (e < 0)
			return uco_fail(e);
	}
	for (int i = 0; i < 2; i++) {
		e = uco_join(t[i], NULL);
		if (e < 0 && r == 0)
			r = e;
		uco_task_release(t[i]);
	}
	return r < 0 ? uco_fail(r) : NULL;
}

int main(void)
{
	int r = uco_run(unwind_main, NULL, NULL, NULL);

	if (r < 0) {
		fprintf(stderr, "unwind_target: uco_run: %d\n", r);
		return 1;
	}
	puts("unwind_target: done");
	return 0;
}
