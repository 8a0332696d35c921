/* tools/example.c: cc example.c $(pkg-config --cflags --libs uco) */
#include <stdio.h>
#include <uco/uco.h>

static void *worker(void *arg)
{
	long n = (long)arg;

	UCO_TRY(uco_sleep(n * 10 * UCO_NSEC_PER_MSEC)); /* an error ends the task */
	if (n == 3)
		return uco_fail_msg(-EIO, "worker %ld gave up", n); /* an error with words */
	return (void *)(n * n);                          /* a result */
}

static void *forever(void *arg)
{
	int r = uco_sleep(3600 * UCO_NSEC_PER_SEC);

	printf("forever: woke with %d (-ECANCELED is %d)\n", r, -ECANCELED);
	return uco_fail(r);
}

static void *main_task(void *arg)
{
	void *results[4];
	int errors[4];
	uco_group *set;

	/* asyncio.gather(*(worker(i) for i in range(4))): the runtime owns the
	 * tasks; the call returns the first failure (0 if none) */
	int r = uco_gather_fn(worker, NULL, 4, results, errors);
	for (int i = 0; i < 4; i++)
		printf("task %d: result %ld error %d\n", i, (long)results[i], errors[i]);
	printf("gather: %s\n", uco_strerror(r));

	/* the same with a task set, to read each failure's message */
	UCO_TRY(uco_group_create_set(&set));
	for (long i = 0; i < 4; i++)
		UCO_TRY(uco_group_spawn(set, NULL, worker, (void *)i, NULL));
	if (uco_group_wait_results(set, NULL, NULL) < 0)
		printf("set: %s\n", uco_task_error_msg(uco_group_task(set, 3)));
	uco_group_free(set);

	/* asyncio.wait_for(worker(50), 0.05): the task is cancelled on time */
	r = uco_wait_for_fn(50 * UCO_NSEC_PER_MSEC, worker, (void *)50, NULL);
	printf("wait_for: %d (-ETIMEDOUT is %d)\n", r, -ETIMEDOUT);

	/* cancel: the task's sleep returns -ECANCELED */
	uco_task *f;
	UCO_TRY(uco_spawn(&f, forever, NULL, &(uco_spawn_opts){ .name = "forever" }));
	UCO_TRY(uco_yield());                /* let it start sleeping */
	uco_cancel(f);
	printf("join: %d\n", uco_join(f, NULL));
	uco_task_release(f);
	return arg;
}

int main(void)
{
	int r = uco_run(main_task, NULL, NULL, NULL); /* NULL: 1 core, 64 KiB stacks */

	if (r < 0)
		fprintf(stderr, "uco_run: %s\n", uco_strerror(r));
	return r < 0;
}
