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

static void *setter(void *arg)
{
	UCO_TRY(uco_sleep(10 * UCO_NSEC_PER_MSEC));
	puts("setting the event");
	uco_event_set(&event);
	return arg;
}

static void *amain(void *arg)
{
	UCO_TRY(uco_event_init(&event));
	UCO_TRY(uco_go(setter, NULL));
	UCO_TRY(uco_gather_fn(waiter, NULL, 2, NULL, NULL));
	uco_event_destroy(&event);
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
