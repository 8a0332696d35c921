#include <stdio.h>
#include <uco/uco.h>

static int countdown(uco_gen *g, void *n)
{
	for (long i = (long)n; i > 0; i--) {
		UCO_TRY_INT(uco_sleep(10 * UCO_NSEC_PER_MSEC));
		UCO_TRY_INT(uco_gen_yield(g, (void *)i));
	}
	return 0;
}

static int accumulator(uco_gen *g, void *arg)
{
	for (long total = 0;;) {
		void *value;
		UCO_TRY_INT(uco_gen_yield_recv(g, (void *)total, &value));
		total += (long)value;
	}
}

static void *amain(void *arg)
{
	uco_gen *g;
	void *i;
	UCO_TRY(uco_gen_start(&g, countdown, (void *)3));
	while (uco_gen_next(g, &i) == 1)
		printf("T-minus %ld\n", (long)i);
	UCO_TRY(uco_gen_close(g));
	puts("liftoff");
	uco_gen *acc;
	UCO_TRY(uco_gen_start(&acc, accumulator, NULL));
	UCO_TRY(uco_gen_send(acc, NULL, &i));
	for (long v = 1; v <= 3; v++) {
		UCO_TRY(uco_gen_send(acc, (void *)v, &i));
		printf("running total: %ld\n", (long)i);
	}
	UCO_TRY(uco_gen_close(acc));
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
