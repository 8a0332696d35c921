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
	struct consumer c[2];
	uco_task *consumers[2];
	for (int i = 0; i < 2; i++) {
		c[i].queue = queue;
		snprintf(c[i].name, sizeof c[i].name, "consumer-%d", i);
		UCO_TRY(uco_spawn(&consumers[i], consumer, &c[i], NULL));
	}
	producer(queue, 5);
	UCO_TRY(uco_queue_join(queue));
	for (int i = 0; i < 2; i++)
		uco_cancel(consumers[i]);
	UCO_TRY(uco_gather(consumers, 2, NULL, NULL));
	for (int i = 0; i < 2; i++)
		uco_task_release(consumers[i]);
	uco_queue_free(queue);
	puts("all work done");
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
