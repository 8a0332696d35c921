#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uco/uco.h>

static void *blocking_io(void *n)
{
	nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
	char *s;
	return asprintf(&s, "blocking call %ld done", (long)n) < 0 ? NULL : s;
}

static void *sleep_task(void *result)
{
	UCO_TRY(uco_sleep(10 * UCO_NSEC_PER_MSEC));
	return result;
}

static void *amain(void *arg)
{
	puts("start");
	uco_task *t[3];
	UCO_TRY(uco_spawn_thread(&t[0], blocking_io, (void *)1, &(uco_spawn_opts){ .free_result = free }));
	UCO_TRY(uco_spawn_thread(&t[1], blocking_io, (void *)2, &(uco_spawn_opts){ .free_result = free }));
	UCO_TRY(uco_spawn(&t[2], sleep_task, "sleep done", NULL));
	char *results[3];
	UCO_TRY(uco_gather_all(t, 3, (void **)results, NULL));
	for (int i = 0; i < 3; i++) {
		puts(results[i]);
		uco_task_release(t[i]);
	}
	free(results[0]);
	free(results[1]);
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
