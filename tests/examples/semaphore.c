#include <stdio.h>
#include <uco/uco.h>

static uco_sem sem;

static void *worker(void *i)
{
	int r;
	UCO_WITH_SEM(&sem, r) {
		printf("task-%ld acquired\n", (long)i);
		UCO_TRY(uco_sleep(50 * UCO_NSEC_PER_MSEC));
		printf("task-%ld released\n", (long)i);
	}
	return r < 0 ? uco_fail(r) : NULL;
}

static void *amain(void *arg)
{
	UCO_TRY(uco_sem_init(&sem, 2));
	UCO_TRY(uco_gather_fn(worker, NULL, 3, NULL, NULL));
	uco_sem_destroy(&sem);
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
