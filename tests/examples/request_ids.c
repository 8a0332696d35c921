#include <stdio.h>
#include <uco/uco.h>

static int request_id; /* the key */

static void log_msg(const char *message)
{
	printf("[%s] %s\n", (char *)uco_local_get_or(&request_id, "-"), message);
}

static void *handle(void *i)
{
	static const struct { const char *rid; long ms; } reqs[] = { { "req-1", 20 }, { "req-2", 10 } };
	UCO_TRY(uco_local_set(&request_id, (void *)reqs[(long)i].rid));
	log_msg("start");
	UCO_TRY(uco_sleep(reqs[(long)i].ms * UCO_NSEC_PER_MSEC));
	log_msg("end");
	return NULL;
}

static void *amain(void *arg)
{
	log_msg("main begins");
	UCO_TRY(uco_gather_fn(handle, NULL, 2, NULL, NULL));
	uco_local_token token;
	UCO_TRY(uco_local_set_token(&request_id, "req-main", &token));
	log_msg("inside a request of its own");
	UCO_TRY(uco_local_reset(&token));
	log_msg("main ends");
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
