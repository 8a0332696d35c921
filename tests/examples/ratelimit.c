#include <stdio.h>
#include <stdlib.h>
#include <uco/uco.h>

struct shared { uco_queue *queue; uco_ratelimit *limiter; long results[8]; int n; };

static void *worker(void *arg)
{
	struct shared *s = arg;
	for (void *job;;) {
		UCO_TRY(uco_queue_get(s->queue, &job));
		UCO_TRY(uco_ratelimit_acquire(s->limiter, 1));
		s->results[s->n++] = (long)job;
		uco_queue_task_done(s->queue);
	}
}

static int by_value(const void *a, const void *b) { return (int)(*(const long *)a - *(const long *)b); }

static void *amain(void *arg)
{
	struct shared s = { .n = 0 };
	UCO_TRY(uco_queue_create(&s.queue, NULL));
	UCO_TRY(uco_ratelimit_create(&s.limiter, 5, 100 * UCO_NSEC_PER_MSEC, 5, NULL));
	for (long job = 0; job < 8; job++)
		UCO_TRY(uco_queue_try_put(s.queue, (void *)job));
	uco_task *workers[3];
	for (int i = 0; i < 3; i++)
		UCO_TRY(uco_spawn(&workers[i], worker, &s, NULL));
	UCO_TRY(uco_queue_join(s.queue));
	for (int i = 0; i < 3; i++)
		uco_cancel(workers[i]);
	UCO_TRY(uco_gather(workers, 3, NULL, NULL));
	for (int i = 0; i < 3; i++)
		uco_task_release(workers[i]);
	qsort(s.results, (size_t)s.n, sizeof s.results[0], by_value);
	for (int i = 0; i < s.n; i++)
		printf("job %ld squared is %ld\n", s.results[i], s.results[i] * s.results[i]);
	printf("%d jobs done\n", s.n);
	uco_ratelimit_free(s.limiter);
	uco_queue_free(s.queue);
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
