#include <stdio.h>
#include <uco/uco.h>

struct say { uint64_t ms; const char *what; };

static void *say_after(void *arg)
{
	struct say *s = arg;
	UCO_TRY(uco_sleep(s->ms * UCO_NSEC_PER_MSEC));
	puts(s->what);
	return NULL;
}

static void *amain(void *arg)
{
	puts("sequential (await):");
	say_after(&(struct say){ 20, "hello" });
	say_after(&(struct say){ 10, "world" });
	puts("concurrent (create_task):");
	uco_task *task1, *task2;
	struct say hello = { 20, "hello" }, world = { 10, "world" };
	UCO_TRY(uco_spawn(&task1, say_after, &hello, NULL));
	UCO_TRY(uco_spawn(&task2, say_after, &world, NULL));
	UCO_TRY(uco_join(task1, NULL));
	UCO_TRY(uco_join(task2, NULL));
	uco_task_release(task1);
	uco_task_release(task2);
	puts("done");
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
