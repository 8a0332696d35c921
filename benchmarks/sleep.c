/*
 * Many tasks asleep at once: N tasks each sleep 1 s (in the loop's timer
 * heap; an IORING_OP_TIMEOUT each before issue 14), spawned together.
 * Reports the wall time from the first spawn until all are done, and peak
 * RSS per task: (VmHWM after - VmRSS before) / N.
 * Each count runs in its own process so peaks do not mix: 100,000 (against
 * asyncio's figure) and, without --quick, 1,000,000 (against Go's).  Like
 * Go with GOMAXPROCS = all CPUs, uco runs a loop per CPU and each spawns
 * its share of the sleepers.
 *
 * Runs on a stock kernel: vm.max_map_count is not raised; stacks come from
 * slabs (see core/stack.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uco/uco.h>

#include "bench.h"

static void *sleeper(void *arg)
{
	(void)arg;
	return uco_sleep(UCO_NSEC_PER_SEC) == 0 ? NULL : uco_fail(-1);
}

struct sleep_args {
	long n;
	int last; /* the largest run: it reports rss_per_task */
};

/* One per core: spawn this core's share of sleepers and wait for them. */
static void *spawner(void *arg)
{
	long n = (long)arg;
	uco_group *g;
	int r;

	if (uco_group_create(&g) < 0)
		return uco_fail(-ENOMEM);
	for (long i = 0; i < n; i++)
		if ((r = uco_group_spawn(g, NULL, sleeper, NULL, NULL)) < 0)
			return uco_fail(r);
	r = uco_group_wait(g);
	uco_group_free(g);
	return r < 0 ? uco_fail(r) : NULL;
}

static void *bench_main(void *p)
{
	struct sleep_args *a = p;
	long n = a->n;
	unsigned cores = uco_cores();
	long before = bench_status_kib("VmRSS");
	uint64_t t0 = bench_now();
	uco_task *sp[64];
	int errs[64];
	char name[32];

	/* Every core spawns its own share: a runtime with a loop per core
	 * puts both CPUs to work, as Go's scheduler does. */
	for (unsigned c = 0; c < cores; c++)
		if (uco_spawn_on(c, &sp[c], spawner,
				 (void *)(n / cores + (c < n % cores)), NULL) < 0)
			abort();
	if (uco_gather(sp, cores, NULL, errs) != 0) {
		fprintf(stderr, "uco_bench_sleep: a sleeper failed\n");
		exit(1);
	}
	for (unsigned c = 0; c < cores; c++)
		uco_task_release(sp[c]);
	double wall = (double)(bench_now() - t0) / 1e9;
	long peak = bench_status_kib("VmHWM");
	snprintf(name, sizeof(name), "wall_%s", n == 1000000 ? "1M" : "100k");
	bench_result("sleep", name, wall, "s");
	/* One rss_per_task figure: from the largest run (1M, or 100k with
	 * --quick); the 100k run's goes to stderr. */
	if (a->last)
		bench_result("sleep", "rss_per_task",
			     (double)(peak - before) / (double)n, "KiB");
	else
		fprintf(stderr, "uco_bench_sleep: 100k tasks: %.2f KiB per task\n",
			(double)(peak - before) / (double)n);
	return NULL;
}

static int run_child(long n, int last)
{
	struct sleep_args a = { n, last };
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		uco_config cfg;

		uco_config_init(&cfg);
		cfg.cores = 0; /* every CPU */
		_exit(uco_run(bench_main, &a, &cfg, NULL) < 0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv);

	if (run_child(100000, quick) < 0)
		return 1;
	if (!quick && run_child(1000000, 1) < 0)
		return 1;
	return 0;
}
