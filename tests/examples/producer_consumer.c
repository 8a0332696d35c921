#include <stdio.h>
#include <uco/uco.h>

struct consumer { uco_queue *queue; char name[16]; };

static void *producer(uco_queue *queue, long n)
{
	for (long i = 0; i < n; i++) {
		UCO_TRY(uco_queue_put(queue, (void *)i));
		printf("produced %ld\n", i);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct consumer *c = arg;
	for (void *item;;) {
		UCO_TRY(uco_queue_get(c->queue, &item));
		UCO_TRY(uco_sleep(((long)item + 1) * 10 * UCO_NSEC_PER_MSEC));
		printf("%s consumed %ld\n", c->name, (long)item);
		uco_queue_task_done(c->queue);
	}
}

static void *amain(void *arg)
{
	uco_queue *queue;
	UCO_TRY(uco_queue_create(&queue, &(uco_queue_opts){ .maxsize = 2 }));
	struct consumer c[2] = { { queue, "consumer-0" }, { queue, "consumer-1" } };
	uco_group *consumers;
	UCO_TRY(uco_group_create_set(&consumers));
	for (int i = 0; i < 2; i++)
		UCO_TRY(uco_group_spawn(consumers, NULL, consumer, &c[i], NULL));
	producer(queue, 5);
	UCO_TRY(uco_queue_join(queue));
	uco_group_cancel(consumers);
	if (uco_group_wait_results(consumers, NULL, NULL) != -ECANCELED)
		return uco_fail(-EIO);
	uco_group_free(consumers);
	uco_queue_free(queue);
	puts("all work done");
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
