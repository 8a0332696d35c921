#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uco/uco.h>

static void *fetch(void *url)
{
	UCO_TRY(uco_sleep(50 * UCO_NSEC_PER_MSEC));
	if (strstr(url, "bad"))
		return uco_fail_msg(-ECONNREFUSED, "Failed to fetch %s", (char *)url);
	char *html;
	return asprintf(&html, "<html of %s>", (char *)url) < 0 ? uco_fail(-ENOMEM) : html;
}

static void *amain(void *arg)
{
	const char *urls[] = { "a.example", "b.example", "bad.example", "c.example" };
	uco_group *g;
	UCO_TRY(uco_group_create_set(&g));
	for (int i = 0; i < 4; i++)
		UCO_TRY(uco_group_spawn(g, NULL, fetch, (void *)urls[i], NULL));
	char *results[4];
	if (uco_group_wait_results(g, (void **)results, NULL) == -ECANCELED)
		return uco_fail(-ECANCELED);
	for (int i = 0; i < 4; i++) {
		if (!results[i])
			printf("%s: error: %s\n", urls[i], uco_task_error_msg(uco_group_task(g, i)));
		else
			printf("%s: %s\n", urls[i], results[i]);
		free(results[i]);
	}
	uco_group_free(g);
	return arg;
}

int main(void) { return uco_run(amain, NULL, NULL, NULL) != 0; }
