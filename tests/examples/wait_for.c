#include <stdio.h>
#include <stdlib.h>
#include <uco/uco.h>

static void *slow_operation(void *delay_ms)
{
	UCO_TRY(uco_sleep((uintptr_t)delay_ms * UCO_NSEC_PER_MSEC));
	char *s;
	return asprintf(&s, "finished after %gs", (uintptr_t)delay_ms / 1e3) < 0 ? uco_fail(-ENOMEM) : s;
}

static void *amain(void *arg)
{
	char *result;
	int r = uco_wait_for_fn(50 * UCO_NSEC_PER_MSEC, slow_operation, (void *)1000, (void **)&result);
	if (r == -ETIMEDOUT)
		puts("timed out");
	else if (r == 0)
		puts(result);
	UCO_TRY(uco_wait_for_fn(UCO_NSEC_PER_SEC, slow_operation, (void *)10, (void **)&result));
	puts(result);
	free(result);
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
