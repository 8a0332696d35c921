#include <stdio.h>
#include <uco/uco.h>

static uco_event event;

static void *waiter(void *i)
{
	printf("waiter-%ld waiting\n", (long)i);
	UCO_TRY(uco_event_wait(&event));
	printf("waiter-%ld got the event\n", (long)i);
	return NULL;
}

static void *amain(void *arg)
{
	UCO_TRY(uco_event_init(&event));
	uco_group *tasks;
	UCO_TRY(uco_group_create_set(&tasks));
	for (long i = 0; i < 2; i++)
		UCO_TRY(uco_group_spawn(tasks, NULL, waiter, (void *)i, NULL));
	UCO_TRY(uco_sleep(10 * UCO_NSEC_PER_MSEC));
	puts("setting the event");
	uco_event_set(&event);
	UCO_TRY(uco_group_wait_results(tasks, NULL, NULL));
	uco_group_free(tasks);
	uco_event_destroy(&event);
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
