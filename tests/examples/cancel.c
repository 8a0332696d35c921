#include <stdio.h>
#include <uco/uco.h>

static void *worker(void *arg)
{
	puts("worker: started");
	int r = uco_sleep(10 * UCO_NSEC_PER_SEC);
	if (r == -ECANCELED) {
		puts("worker: cancelled, cleaning up");
		return uco_fail(r);
	}
	puts("worker: finished");
	return arg;
}

static void *amain(void *arg)
{
	uco_task *task;
	UCO_TRY(uco_spawn(&task, worker, NULL, NULL));
	UCO_TRY(uco_sleep(10 * UCO_NSEC_PER_MSEC));
	uco_cancel(task);
	if (uco_join(task, NULL) == -ECANCELED)
		puts("main: the worker is cancelled");
	printf("cancelled: %s\n", uco_task_outcome(task, NULL) == -ECANCELED ? "True" : "False");
	uco_task_release(task);
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
