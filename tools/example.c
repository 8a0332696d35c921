/* tools/example.c: cc example.c $(pkg-config --cflags --libs uco) */
#include <errno.h>
#include <stdio.h>
#include <uco/uco.h>

static void *worker(void *arg)
{
	long n = (long)arg;
	int r = uco_sleep(n * 10 * UCO_NSEC_PER_MSEC);   /* an IORING_OP_TIMEOUT */

	if (r < 0)
		return uco_fail(r);          /* an error, kept apart from results */
	return (void *)(n * n);              /* a result */
}

static void *forever(void *arg)
{
	(void)arg;
	int r = uco_sleep(3600 * UCO_NSEC_PER_SEC);

	printf("forever: woke with %d (-ECANCELED is %d)\n", r, -ECANCELED);
	return uco_fail(r);
}

static int slow_op(void *arg)
{
	(void)arg;
	return uco_sleep(UCO_NSEC_PER_SEC);  /* one op, bounded by wait_for */
}

static void *main_task(void *arg)
{
	uco_task *t[4], *f;
	void *results[4];
	int errors[4];

	(void)arg;
	/* spawn + gather: results in order, errors per task */
	for (long i = 0; i < 4; i++)
		uco_spawn(&t[i], worker, (void *)i, NULL);
	int failed = uco_gather(t, 4, results, errors);
	for (int i = 0; i < 4; i++) {
		printf("task %d: result %ld error %d\n", i, (long)results[i], errors[i]);
		uco_task_release(t[i]);
	}

	/* wait_for with a timeout: the op's SQE is linked to a LINK_TIMEOUT */
	int r = uco_wait_for(50 * UCO_NSEC_PER_MSEC, slow_op, NULL);
	printf("wait_for: %d (-ETIMEDOUT is %d)\n", r, -ETIMEDOUT);

	/* cancel: the task's sleep is cancelled in the kernel, it sees -ECANCELED */
	uco_spawn_opts opts = { .name = "forever" };
	uco_spawn(&f, forever, NULL, &opts);
	UCO_IGNORE(uco_yield());                        /* let it start sleeping */
	uco_cancel(f);
	printf("join: %d\n", uco_join(f, NULL));
	uco_task_release(f);
	return failed ? uco_fail(-EIO) : NULL;
}

int main(void)
{
	uco_config cfg;

	uco_config_init(&cfg);              /* 1 core, 64 KiB stacks */
	int r = uco_run(main_task, NULL, &cfg, NULL);
	if (r < 0)
		fprintf(stderr, "uco_run: %d\n", r);
	return r < 0;
}
