#include <stdio.h>
#include <uco/uco.h>

static const struct { const char *name; long ms; } jobs[] = { { "A", 30 }, { "B", 10 }, { "C", 20 } };

static void *job(void *i)
{
	UCO_TRY(uco_sleep(jobs[(long)i].ms * UCO_NSEC_PER_MSEC));
	return NULL;
}

static void *amain(void *arg)
{
	uco_task *tasks[3];
	for (long i = 0; i < 3; i++)
		UCO_TRY(uco_spawn(&tasks[i], job, (void *)i, NULL));
	uco_as_completed *it;
	UCO_TRY(uco_as_completed_create(&it, tasks, 3));
	for (size_t i; uco_as_completed_next_index(it, NULL, &i) == 1;)
		printf("%s done after %gs\n", jobs[i].name, jobs[i].ms / 1e3);
	uco_as_completed_free(it);
	for (int i = 0; i < 3; i++)
		uco_task_release(tasks[i]);
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
