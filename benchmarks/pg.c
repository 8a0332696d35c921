/*
 * pg_bench_uco: uco's PostgreSQL client (uco/pg.h) against a server given
 * by UCO_PG_CONNINFO (benchmarks/pg_bench.py starts one with
 * tests/pg_server.sh and runs this beside the asyncpg and psycopg peers,
 * benchmarks/peers/pg_asyncpg.py and pg_psycopg.py, which measure the same
 * things the same way).
 *
 *   select1      SELECT 1 round trips on one connection, one at a time
 *                (a prepared statement, as asyncpg's statement cache does)
 *   pipeline     SELECT $1::int (prepared) in pipeline mode, batches of
 *                1,000 with one sync each, two batches in flight
 *   pool_1000    1,000 tasks at once, each acquiring a connection from a
 *                pool of 10 and running SELECT 1 on it; rounds of 1,000
 *   rows_100k    fetching SELECT g, md5(g::text) FROM generate_series(1,
 *                100000) g whole
 *
 * Figures: queries/s (or ms per fetch), and the client's CPU time (user +
 * system, getrusage) per query (per fetch), over the same window; for the
 * one-connection figures also the server backend's CPU time per query
 * (/proc/PID/schedstat of PQbackendPID), which shows how much of the wall
 * time is the server's and not the client's.  Each
 * is the best of 3 repetitions after a warm-up.  Prints RESULT lines
 * (benchmarks/README.md).  Not a uco_bench_* program: it needs the server
 * that the pg suite starts, so tools/bench does not run it on its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <libpq-fe.h>
#include <uco/uco.h>

#include "bench.h"

#define REPS 3

struct window {
	uint64_t t0, cpu0, srv0;
};

/* The server backend serving the connection being measured (0: none),
 * whose CPU time /proc/PID/schedstat gives in ns. */
static int backend_pid;

static uint64_t server_ns(void)
{
	char path[64];
	unsigned long long ns = 0;
	FILE *f;

	if (!backend_pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", backend_pid);
	if (!(f = fopen(path, "re")))
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static void win_start(struct window *w)
{
	w->srv0 = server_ns();
	w->cpu0 = cpu_ns();
	w->t0 = bench_now();
}

/* Wall and CPU ns since win_start; the server's CPU ns in last_srv. */
static uint64_t last_srv;

static void win_end(const struct window *w, uint64_t *wall, uint64_t *cpu)
{
	*wall = bench_now() - w->t0;
	*cpu = cpu_ns() - w->cpu0;
	last_srv = server_ns() - w->srv0;
}

static void die(const char *what, int r, uco_pg *c)
{
	fprintf(stderr, "pg_bench_uco: %s: %s (%s)\n", what, uco_strerror(r),
		c ? uco_pg_error_message(c) : "");
	exit(1);
}

static long n_select1, n_pipeline, n_pool_rounds, n_rows;
static const char *info;

/* Report the best (fastest) of REPS windows: queries/s and CPU-µs/query. */
static void report(const char *name, long queries, uint64_t wall,
		   uint64_t cpu, uint64_t srv)
{
	char n[64];

	bench_result("pg", name, (double)queries / ((double)wall / 1e9) / 1e3,
		     "kq/s");
	snprintf(n, sizeof(n), "cpu_us_%s", name);
	bench_result("pg", n, (double)cpu / 1e3 / (double)queries, "us");
	if (srv) {
		snprintf(n, sizeof(n), "server_us_%s", name);
		bench_result("pg", n, (double)srv / 1e3 / (double)queries, "us");
	}
}

static void bench_select1(uco_pg *c)
{
	uint64_t best = UINT64_MAX, best_cpu = 0, best_srv = 0;
	PGresult *res;
	int r;

	if ((r = uco_pg_prepare(c, "one", "SELECT 1", 0, NULL)) < 0)
		die("prepare", r, c);
	for (int rep = 0; rep <= REPS; rep++) {
		struct window w;
		uint64_t wall, cpu;

		win_start(&w);
		for (long i = 0; i < n_select1; i++) {
			r = uco_pg_query_prepared(c, "one", 0, NULL, NULL, NULL,
						  0, &res);
			if (r < 0 || PQgetvalue(res, 0, 0)[0] != '1')
				die("SELECT 1", r, c);
			PQclear(res);
		}
		win_end(&w, &wall, &cpu);
		if (rep > 0 && wall < best) /* rep 0 warms up */
			best = wall, best_cpu = cpu, best_srv = last_srv;
	}
	report("select1", n_select1, best, best_cpu, best_srv);
}

/* Queue 1,000 statements and a sync. */
static void pipeline_batch(uco_pg *c, const char *const *v)
{
	int r;

	for (int i = 0; i < 1000; i++)
		if ((r = uco_pg_pipeline_send_prepared(c, "int1", 1, v)) < 0)
			die("pipeline_send", r, c);
	if ((r = uco_pg_pipeline_sync(c)) < 0)
		die("pipeline_sync", r, c);
}

static void bench_pipeline(uco_pg *c)
{
	const char *v[1] = { "1" };
	uint64_t best = UINT64_MAX, best_cpu = 0, best_srv = 0;
	PGresult *res;
	int r;

	/* Prepared, as asyncpg's executemany prepares its statement once. */
	if ((r = uco_pg_prepare(c, "int1", "SELECT $1::int", 1, NULL)) < 0)
		die("prepare", r, c);
	if ((r = uco_pg_pipeline_begin(c)) < 0)
		die("pipeline_begin", r, c);
	for (int rep = 0; rep <= REPS; rep++) {
		struct window w;
		uint64_t wall, cpu;

		win_start(&w);
		/* Two batches in flight: batch k+1 is queued before batch k's
		 * results are read, so the server always has the next one. */
		for (long done = 0; done <= n_pipeline; done += 1000) {
			if (done < n_pipeline)
				pipeline_batch(c, v);
			if (done == 0)
				continue;
			for (int i = 0; i <= 1000; i++) {
				r = uco_pg_pipeline_result(c, &res);
				if (r < 0)
					die("pipeline_result", r, c);
				PQclear(res);
			}
		}
		win_end(&w, &wall, &cpu);
		if (rep > 0 && wall < best)
			best = wall, best_cpu = cpu, best_srv = last_srv;
	}
	if ((r = uco_pg_pipeline_end(c)) < 0)
		die("pipeline_end", r, c);
	report("pipeline", n_pipeline, best, best_cpu, best_srv);
}

static void *pool_task(void *arg)
{
	uco_pg_pool *p = arg;
	PGresult *res;
	uco_pg *c;
	int r = uco_pg_pool_acquire(p, 0, &c);

	if (r < 0)
		die("pool_acquire", r, NULL);
	r = uco_pg_query(c, "SELECT 1", 0, NULL, &res);
	if (r < 0 || PQgetvalue(res, 0, 0)[0] != '1')
		die("pooled SELECT 1", r, c);
	PQclear(res);
	uco_pg_pool_release(p, c);
	return NULL;
}

static void bench_pool(void)
{
	static uco_task *t[1000];
	uint64_t best = UINT64_MAX, best_cpu = 0;
	uco_pg_pool *p;
	int r = uco_pg_pool_create(&p, info, 10, 10);

	if (r < 0)
		die("pool_create", r, NULL);
	for (int rep = 0; rep <= REPS; rep++) {
		struct window w;
		uint64_t wall, cpu;

		win_start(&w);
		for (long round = 0; round < n_pool_rounds; round++) {
			for (int i = 0; i < 1000; i++)
				if ((r = uco_spawn(&t[i], pool_task, p, NULL)) < 0)
					die("spawn", r, NULL);
			for (int i = 0; i < 1000; i++) {
				if ((r = uco_join(t[i], NULL)) < 0)
					die("join", r, NULL);
				uco_task_release(t[i]);
			}
		}
		win_end(&w, &wall, &cpu);
		if (rep > 0 && wall < best)
			best = wall, best_cpu = cpu;
	}
	uco_pg_pool_free(p);
	report("pool_1000", n_pool_rounds * 1000, best, best_cpu, 0);
}

static void bench_rows(uco_pg *c)
{
	uint64_t best = UINT64_MAX, best_cpu = 0, best_srv = 0;
	PGresult *res;
	int r;

	for (int rep = 0; rep <= REPS; rep++) {
		struct window w;
		uint64_t wall, cpu;

		win_start(&w);
		for (long i = 0; i < n_rows; i++) {
			r = uco_pg_exec(c, "SELECT g, md5(g::text) FROM "
					"generate_series(1, 100000) g", &res);
			if (r < 0 || PQntuples(res) != 100000)
				die("100,000 rows", r, c);
			PQclear(res);
		}
		win_end(&w, &wall, &cpu);
		if (rep > 0 && wall < best)
			best = wall, best_cpu = cpu, best_srv = last_srv;
	}
	bench_result("pg", "rows_100k", (double)best / 1e6 / (double)n_rows,
		     "ms");
	bench_result("pg", "cpu_ms_rows_100k",
		     (double)best_cpu / 1e6 / (double)n_rows, "ms");
	if (best_srv)
		bench_result("pg", "server_ms_rows_100k",
			     (double)best_srv / 1e6 / (double)n_rows, "ms");
}

static void *main_task(void *arg)
{
	char msg[256];
	uco_pg *c;
	int r = uco_pg_connect(&c, info, msg, sizeof(msg));

	(void)arg;
	if (r < 0) {
		fprintf(stderr, "pg_bench_uco: connect: %s\n", msg);
		exit(1);
	}
	backend_pid = PQbackendPID(uco_pg_conn(c));
	bench_select1(c);
	bench_pipeline(c);
	bench_pool();
	bench_rows(c);
	uco_pg_close(c);
	return NULL;
}

int main(int argc, char **argv)
{
	int quick = bench_quick(argc, argv);
	int r;

	info = getenv("UCO_PG_CONNINFO");
	if (!info) {
		fprintf(stderr, "pg_bench_uco: UCO_PG_CONNINFO is not set "
			"(run through benchmarks/pg_bench.py)\n");
		return 2;
	}
	n_select1 = quick ? 2000 : 10000;
	n_pipeline = quick ? 20000 : 100000;
	n_pool_rounds = quick ? 2 : 10;
	n_rows = quick ? 2 : 5;
	r = uco_run(main_task, NULL, NULL, NULL);
	if (r < 0) {
		fprintf(stderr, "pg_bench_uco: %s\n", uco_strerror(r));
		return 1;
	}
	return 0;
}
