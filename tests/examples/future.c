#include <stdio.h>
#include <uco/uco.h>

static void *set_after(void *fut)
{
	UCO_TRY(uco_sleep(10 * UCO_NSEC_PER_MSEC));
	uco_future_set_result(fut, "... world");
	return NULL;
}

static void *amain(void *arg)
{
	uco_future *fut;
	UCO_TRY(uco_future_create(&fut));
	UCO_TRY(uco_go(set_after, fut));
	puts("hello ...");
	void *value;
	UCO_TRY(uco_future_wait(fut, &value));
	puts(value);
	uco_future_free(fut);
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
