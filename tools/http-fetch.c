/*
 * uco-http-fetch: fetch many URLs, at most N at once — the seeds' "fetch
 * these 100 URLs, at most 10 at once", on uco's HTTP client session and
 * built only on the public API.
 *
 *   uco-http-fetch [-j N] URL...      (no URL: one per line on stdin)
 *
 * One task per URL, a semaphore of N permits, and uco_gather() for the
 * results in order: the session pools and reuses the connections.  Prints
 * one line per URL, "STATUS BYTES URL", or "error: MESSAGE URL" (in
 * curl's words where it has them); exits 1 if any failed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uco/uco.h>

#define PROG "uco-http-fetch"

struct job {
	uco_http_session *session;
	uco_sem *sem;
	const char *url;
	int status;
	size_t len;
};

static void *fetch_one(void *arg)
{
	struct job *j = arg;
	int r = uco_sem_acquire(j->sem);

	if (r < 0)
		return uco_fail(r);
	r = uco_http_get(j->session, j->url, &j->status, NULL, &j->len);
	uco_sem_release(j->sem);
	return r < 0 ? uco_fail(r) : NULL;
}

struct run {
	char **urls;
	size_t n;
	unsigned jobs;
	int failed;
};

static const char *curl_words(int err)
{
	switch (err) {
	case -ENOENT: return "Could not resolve host";
	case -ECONNREFUSED: return "Failed to connect: Connection refused";
	case -ETIMEDOUT: return "Operation timed out";
	case -EINVAL: return "URL using bad/illegal format or missing URL";
	case -ELOOP: return "Maximum redirects followed";
	case -EPIPE: return "Transferred a partial file";
	case -EPROTO: return "Weird server reply";
	case -EMSGSIZE: return "Response too large";
	default: return strerror(-err);
	}
}

static void *main_task(void *arg)
{
	struct run *run = arg;
	uco_http_session *s;
	uco_sem sem;
	struct job *jobs = calloc(run->n, sizeof(*jobs));
	uco_task **tasks = calloc(run->n, sizeof(*tasks));
	int *errs = calloc(run->n, sizeof(*errs));
	int r;

	if (!jobs || !tasks || !errs)
		return uco_fail(-ENOMEM);
	if ((r = uco_http_session_create(&s, NULL)) < 0)
		return uco_fail(r);
	uco_sem_init(&sem, run->jobs);
	for (size_t i = 0; i < run->n; i++) {
		jobs[i] = (struct job){ s, &sem, run->urls[i], 0, 0 };
		if ((r = uco_spawn(&tasks[i], fetch_one, &jobs[i], NULL)) < 0)
			break;
	}
	if (r == 0 && (r = uco_gather(tasks, run->n, NULL, errs)) > 0)
		r = 0; /* a count of failed fetches: each is reported below */
	for (size_t i = 0; i < run->n && tasks[i]; i++) {
		if (errs[i] < 0) {
			printf("error: %s %s\n", curl_words(errs[i]), run->urls[i]);
			run->failed = 1;
		} else {
			printf("%d %zu %s\n", jobs[i].status, jobs[i].len,
			       run->urls[i]);
		}
		uco_task_release(tasks[i]);
	}
	uco_sem_destroy(&sem);
	uco_http_session_free(s);
	free(jobs);
	free(tasks);
	free(errs);
	return r < 0 ? uco_fail(r) : NULL;
}

int main(int argc, char **argv)
{
	struct run run = { .jobs = 10 };
	char *line = NULL;
	size_t cap = 0, n = 0;
	uco_config cfg;
	int c, r;

	while ((c = getopt(argc, argv, "j:h")) != -1) {
		if (c == 'j' && atoi(optarg) > 0) {
			run.jobs = (unsigned)atoi(optarg);
		} else if (c == 'h') {
			printf("Usage: " PROG " [-j N] URL...\n"
			       "Fetch URLs over HTTP/1.1, at most N (default 10) at once;\n"
			       "with no URL, read them one per line from stdin.\n");
			return 0;
		} else {
			fprintf(stderr, PROG ": invalid option\n"
					"Try '" PROG " -h' for more information.\n");
			return 1;
		}
	}
	if (optind < argc) {
		run.urls = argv + optind;
		run.n = (size_t)(argc - optind);
	} else {
		ssize_t k;

		while ((k = getline(&line, &cap, stdin)) > 0) {
			char **u = realloc(run.urls, (n + 1) * sizeof(*u));

			if (!u)
				return 1;
			run.urls = u;
			line[strcspn(line, "\r\n")] = '\0';
			if (*line)
				run.urls[n++] = strdup(line);
		}
		run.n = n;
		free(line);
	}
	if (run.n == 0) {
		fprintf(stderr, PROG ": no URL specified\n"
				"Try '" PROG " -h' for more information.\n");
		return 1;
	}
	uco_config_init(&cfg);
	r = uco_run(main_task, &run, &cfg, NULL);
	for (size_t i = 0; i < n; i++)
		free(run.urls[i]);
	if (n)
		free(run.urls);
	if (r < 0 && !run.failed)
		fprintf(stderr, PROG ": %s\n", strerror(-r));
	return r < 0 || run.failed;
}
