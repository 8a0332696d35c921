/*
 * What uco's benchmark programs share: a clock, --quick, best-of-N, and the
 * RESULT line tools/bench reads.
 */
#ifndef UCO_BENCH_H
#define UCO_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int bench_quick(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			return 1;
	return 0;
}

static inline void bench_result(const char *group, const char *name,
				double value, const char *unit)
{
	printf("RESULT group=%s name=%s impl=uco value=%.4g unit=%s\n", group,
	       name, value, unit);
	fflush(stdout);
}

/* Resident set in KiB from /proc/self/status: "VmRSS" or "VmHWM". */
static inline long bench_status_kib(const char *field)
{
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			sscanf(line + n + 1, "%ld", &v);
	fclose(f);
	return v;
}

#endif
