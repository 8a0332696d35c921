/*
 * Suite "pg": the PostgreSQL client (include/uco/pg.h) against a real
 * PostgreSQL server, which tests/pg_server.sh starts in a temporary
 * directory (Unix socket only) around this program and stops afterwards.
 * Run without it (no UCO_PG_CONNINFO), every test reports a counted skip.
 *
 *   - connect: good (conninfo and URI), wrong password (-EACCES), no
 *     server (-ECONNREFUSED), a server that accepts and never answers (a
 *     listening socket of ours, never accepted from) bounded by a scope
 *     (-ETIMEDOUT) and cut by cancellation, with no socket left behind;
 *   - statements: parameter types, binary parameters and NULLs, prepared
 *     statements, server errors (-EREMOTEIO, the SQLSTATE, the connection
 *     still good), a 100,000-row result;
 *   - pipeline mode: an error mid-pipeline (the failing statement's error,
 *     the rest aborted up to the sync, the next batch fine);
 *   - cancellation: pg_sleep(60) cut by a scope and by uco_cancel(): the
 *     call returns at once, the server-side cancel runs, the server shows
 *     the backend idle again (pg_stat_activity) and the connection works.
 *     "Promptly" is proved without timing: the whole test runs under a
 *     30 s scope, which a pg_sleep(60) left running would overrun;
 *   - transactions: commit, rollback on an error, rollback on a scope;
 *   - LISTEN/NOTIFY delivered to a waiting task, and a wait cancelled;
 *   - pools: exhaustion with a timeout, FIFO hand-over to a waiter, a
 *     released connection with an open transaction or a statement cut
 *     short comes back clean, the server restarted under the pool, 1,000
 *     concurrent queries through a pool of 10, one pool per core.
 *
 * Memory: leak-checked (tests/leakcheck.h) with jemalloc as the process's
 * malloc, so libpq's own allocations count too.  libpq and glibc set up
 * some state once per process (the password file lookup's getpwuid, the
 * resolver), so each body runs once unmeasured first (pg_test()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC
#define SEC UCO_NSEC_PER_SEC

static const char *conninfo(void)
{
	return getenv("UCO_PG_CONNINFO");
}

/* Run body twice: once to warm libpq and glibc up, once leak-checked. */
static void pg_test(void (*body)(void *arg))
{
	th_run(body, NULL, NULL);
	lc_run(body, NULL, NULL);
}

#define PG_TEST(name)                                                         \
	START_TEST(name)                                                      \
	{                                                                     \
		if (!conninfo())                                              \
			TH_SKIP("no PostgreSQL server: UCO_PG_CONNINFO is "   \
				"unset (run through tests/pg_server.sh)");    \
		pg_test(body_##name);                                         \
	}                                                                     \
	END_TEST

static uco_pg *connect_ok(void)
{
	char msg[256];
	uco_pg *c = NULL;
	int r = uco_pg_connect(&c, conninfo(), msg, sizeof(msg));

	ck_assert_msg(r == 0, "connect: %d (%s)", r, msg);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Run sql, which must return one row with one column; return it as a long. */
static long one_value(uco_pg *c, const char *sql)
{
	PGresult *res;
	long v;
	int r = uco_pg_exec(c, sql, &res);

	ck_assert_msg(r == 0, "%s: %d (%s)", sql, r,
		      res ? PQresultErrorMessage(res) : uco_pg_error_message(c));
	ck_assert_int_eq(PQntuples(res), 1);
	v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

/* A string one-row, one-column value, copied into buf. */
static void one_text(uco_pg *c, const char *sql, int n, const char *const *v,
		     char *buf, size_t len)
{
	PGresult *res;
	int r = uco_pg_query(c, sql, n, v, &res);

	ck_assert_msg(r == 0, "%s: %d", sql, r);
	ck_assert_int_eq(PQntuples(res), 1);
	snprintf(buf, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
}

/* ---- connect ---------------------------------------------------------- */

static void body_connect_good(void *arg)
{
	char uri[512];
	uco_pg *c = connect_ok();

	ck_assert_int_eq(one_value(c, "SELECT 41 + 1"), 42);
	ck_assert_int_eq(PQtransactionStatus(uco_pg_conn(c)), PQTRANS_IDLE);
	ck_assert(!uco_pg_broken(c));
	uco_pg_close(c);

	/* The same server as a URI (the socket directory percent-encoded is
	 * not needed as a query parameter). */
	snprintf(uri, sizeof(uri),
		 "postgresql:///postgres?host=%s&port=%s&user=uco&password=%s",
		 getenv("UCO_PG_SOCKDIR"), getenv("UCO_PG_PORT"),
		 getenv("UCO_PG_PASSWORD"));
	ck_assert_int_eq(uco_pg_connect(&c, uri, NULL, 0), 0);
	ck_assert_int_eq(one_value(c, "SELECT 7"), 7);
	uco_pg_close(c);
	uco_pg_close(NULL);
}
PG_TEST(connect_good)

static void body_connect_bad_password(void *arg)
{
	char info[512], msg[256];
	uco_pg *c = (uco_pg *)&c;

	snprintf(info, sizeof(info), "host=%s port=%s user=uco dbname=postgres "
		 "password=wrong", getenv("UCO_PG_SOCKDIR"),
		 getenv("UCO_PG_PORT"));
	ck_assert_int_eq(uco_pg_connect(&c, info, msg, sizeof(msg)), -EACCES);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(msg, "password authentication failed"),
		      "message: %s", msg);
	ck_assert_msg(!strstr(msg, "28P01"), "message: %s", msg);

	/* No password at all: the server asks for one. */
	snprintf(info, sizeof(info), "host=%s port=%s user=uco dbname=postgres "
		 "passfile=/nonexistent", getenv("UCO_PG_SOCKDIR"),
		 getenv("UCO_PG_PORT"));
	ck_assert_int_eq(uco_pg_connect(&c, info, msg, sizeof(msg)), -EACCES);
}
PG_TEST(connect_bad_password)

/* A loopback TCP port nothing listens on: bound, never listened to. */
static int unused_port(int *fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(*fd, 0);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void body_connect_no_server(void *arg)
{
	char info[256], msg[256];
	uco_pg *c;
	int fd;

	ck_assert_int_eq(uco_pg_connect(&c, "host=/nonexistent-uco-dir port=5432"
					" user=uco dbname=postgres",
					msg, sizeof(msg)), -ECONNREFUSED);
	/* libpq's own words are translated; the path it names is not. */
	ck_assert_msg(strstr(msg, "/nonexistent-uco-dir"), "%s", msg);
	snprintf(info, sizeof(info), "hostaddr=127.0.0.1 port=%d user=uco "
		 "dbname=postgres sslmode=disable", unused_port(&fd));
	ck_assert_int_eq(uco_pg_connect(&c, info, msg, sizeof(msg)),
			 -ECONNREFUSED);
	ck_assert_msg(strstr(msg, "127.0.0.1"), "%s", msg);
	ck_assert_ptr_null(c);
	close(fd);
}
PG_TEST(connect_no_server)

/* A server that accepts (the kernel completes the handshake into our
 * listen backlog) but never answers the startup packet. */
struct silent {
	int fd;
	char info[256];
	int r;
};

static void silent_open(struct silent *s)
{
	int port = unused_port(&s->fd);

	ck_assert_int_eq(listen(s->fd, 8), 0);
	snprintf(s->info, sizeof(s->info), "hostaddr=127.0.0.1 port=%d "
		 "user=uco dbname=postgres sslmode=disable gssencmode=disable",
		 port);
}

static void *silent_connect_task(void *arg)
{
	struct silent *s = arg;
	uco_pg *c = NULL;

	s->r = uco_pg_connect(&c, s->info, NULL, 0);
	uco_pg_close(c);
	return NULL;
}

static void body_connect_silent(void *arg)
{
	struct silent s;
	uco_task *t;
	uco_pg *c;
	int fds, scope;

	silent_open(&s);
	fds = th_count_fds();

	/* Bounded by a scope. */
	scope = uco_timeout_begin(200 * MS);
	ck_assert_int_ge(scope, 0);
	ck_assert_int_eq(uco_pg_connect(&c, s.info, NULL, 0), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_expired(scope), 1);
	uco_timeout_end(scope);
	ck_assert_int_eq(th_count_fds(), fds); /* no socket left */

	/* Cut by cancellation, once it waits for the server's answer. */
	s.r = 1;
	ck_assert_int_eq(uco_spawn(&t, silent_connect_task, &s, NULL), 0);
	while (uco_task_get_state(t) != UCO_TASK_WAITING || fds == th_count_fds())
		ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(s.r, -ECANCELED);
	ck_assert_int_eq(th_count_fds(), fds);
	close(s.fd);
}
PG_TEST(connect_silent)

/* ---- statements ------------------------------------------------------- */

static void body_params(void *arg)
{
	const char *v[6] = { "12345", "héllo 'quoted'", "2.5", "t", NULL,
			     "-9000000000" };
	Oid types[2] = { 23 /* int4 */, 25 /* text */ };
	uint32_t be = htonl(77);
	const char *bv[2] = { (const char *)&be, NULL };
	int lens[2] = { 4, 0 }, fmts[2] = { 1, 0 };
	PGresult *res;
	uco_pg *c = connect_ok();

	ck_assert_int_eq(uco_pg_query(c, "SELECT $1::int4 + 1, $2::text, "
				      "$3::float8 * 2, NOT $4::bool, $5::int4,"
				      " $5::text IS NULL, $6::int8", 6, v,
				      &res), 0);
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQnfields(res), 7);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "12346");
	ck_assert_str_eq(PQgetvalue(res, 0, 1), "héllo 'quoted'");
	ck_assert_str_eq(PQgetvalue(res, 0, 2), "5");
	ck_assert_str_eq(PQgetvalue(res, 0, 3), "f");
	ck_assert_int_eq(PQgetisnull(res, 0, 4), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 5), "t");
	ck_assert_str_eq(PQgetvalue(res, 0, 6), "-9000000000");
	ck_assert_int_eq(PQftype(res, 0), 23);
	ck_assert_int_eq(PQftype(res, 6), 20);
	PQclear(res);

	/* Binary in and out, with explicit types and a NULL. */
	ck_assert_int_eq(uco_pg_query_params(c, "SELECT $1 * 2, $2 IS NULL",
					     2, types, bv, lens, fmts, 1,
					     &res), 0);
	ck_assert_int_eq(PQgetlength(res, 0, 0), 4);
	ck_assert_uint_eq(ntohl(*(uint32_t *)PQgetvalue(res, 0, 0)), 154);
	ck_assert_int_eq(*PQgetvalue(res, 0, 1), 1);
	PQclear(res);

	/* Prepared, run many times. */
	ck_assert_int_eq(uco_pg_prepare(c, "sq", "SELECT $1::int * $1::int", 1,
					NULL), 0);
	for (int i = 0; i < 50; i++) {
		char n[16];
		const char *pv[1] = { n };

		snprintf(n, sizeof(n), "%d", i);
		ck_assert_int_eq(uco_pg_query_prepared(c, "sq", 1, pv, NULL,
						       NULL, 0, &res), 0);
		LC_CHECK(atoi(PQgetvalue(res, 0, 0)) == i * i, "square %d", i);
		PQclear(res);
	}
	ck_assert_int_eq(uco_pg_prepare(c, "sq", "SELECT 1", 0, NULL),
			 -EREMOTEIO); /* already exists */

	/* A server error, its SQLSTATE, and the connection still good. */
	ck_assert_int_eq(uco_pg_exec(c, "SELECT 1/0", &res), -EREMOTEIO);
	ck_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "22012");
	PQclear(res);
	ck_assert_int_eq(uco_pg_exec(c, "SELEC 1", NULL), -EREMOTEIO);
	ck_assert_int_eq(one_value(c, "SELECT 3; SELECT 4"), 4);
	ck_assert_int_eq(uco_pg_query(c, "SELECT 1", -1, NULL, NULL), -EINVAL);
	ck_assert_int_eq(uco_pg_pipeline_sync(c), -EBUSY);
	uco_pg_close(c);
	ck_assert_int_eq(uco_pg_exec(NULL, "SELECT 1", NULL), -EINVAL);
}
PG_TEST(params)

static void body_rows_100k(void *arg)
{
	PGresult *res;
	long long sum = 0;
	uco_pg *c = connect_ok();

	ck_assert_int_eq(uco_pg_exec(c, "SELECT g, md5(g::text) FROM "
				     "generate_series(1, 100000) g", &res), 0);
	ck_assert_int_eq(PQntuples(res), 100000);
	for (int i = 0; i < 100000; i++) {
		sum += atoi(PQgetvalue(res, i, 0));
		LC_CHECK(PQgetlength(res, i, 1) == 32, "row %d", i);
	}
	ck_assert(sum == 100000LL * 100001 / 2);
	PQclear(res);
	uco_pg_close(c);
}
PG_TEST(rows_100k)

/* ---- pipeline mode ---------------------------------------------------- */

static int pipe_next(uco_pg *c, ExecStatusType want, const char *value)
{
	PGresult *res;
	int r = uco_pg_pipeline_result(c, &res);

	ck_assert_ptr_nonnull(res);
	ck_assert_msg(PQresultStatus(res) == want, "status %s, want %s",
		      PQresStatus(PQresultStatus(res)), PQresStatus(want));
	if (value)
		ck_assert_str_eq(PQgetvalue(res, 0, 0), value);
	PQclear(res);
	return r;
}

static void body_pipeline_error(void *arg)
{
	const char *v[1] = { "5" };
	PGresult *res;
	uco_pg *c = connect_ok();

	ck_assert_int_eq(uco_pg_prepare(c, "p", "SELECT $1::int + 100", 1,
					NULL), 0);
	ck_assert_int_eq(uco_pg_pipeline_begin(c), 0);
	ck_assert_int_eq(uco_pg_pipeline_begin(c), -EBUSY);
	ck_assert_int_eq(uco_pg_exec(c, "SELECT 1", NULL), -EBUSY);
	ck_assert_int_eq(uco_pg_pipeline_send(c, "SELECT $1::int * 2", 1, v),
			 0);
	ck_assert_int_eq(uco_pg_pipeline_send(c, "SELECT 1/0", 0, NULL), 0);
	ck_assert_int_eq(uco_pg_pipeline_send(c, "SELECT 3", 0, NULL), 0);
	ck_assert_int_eq(uco_pg_pipeline_sync(c), 0);
	ck_assert_int_eq(uco_pg_pipeline_send_prepared(c, "p", 1, v), 0);
	ck_assert_int_eq(uco_pg_pipeline_send(c, "SELECT 'after'", 0, NULL), 0);
	ck_assert_int_eq(uco_pg_pipeline_sync(c), 0);

	ck_assert_int_eq(pipe_next(c, PGRES_TUPLES_OK, "10"), 0);
	ck_assert_int_eq(uco_pg_pipeline_end(c), -EBUSY);
	ck_assert_int_eq(uco_pg_pipeline_result(c, &res), -EREMOTEIO);
	ck_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "22012");
	PQclear(res);
	ck_assert_int_eq(pipe_next(c, PGRES_PIPELINE_ABORTED, NULL),
			 -EREMOTEIO);
	ck_assert_int_eq(pipe_next(c, PGRES_PIPELINE_SYNC, NULL), 0);
	/* After the sync point, the next batch runs. */
	ck_assert_int_eq(pipe_next(c, PGRES_TUPLES_OK, "105"), 0);
	ck_assert_int_eq(pipe_next(c, PGRES_TUPLES_OK, "after"), 0);
	ck_assert_int_eq(pipe_next(c, PGRES_PIPELINE_SYNC, NULL), 0);
	ck_assert_int_eq(uco_pg_pipeline_result(c, &res), -EAGAIN);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(uco_pg_pipeline_end(c), 0);
	ck_assert_int_eq(one_value(c, "SELECT 9"), 9);

	/* Results read without a sync (a flush request asks for them). */
	ck_assert_int_eq(uco_pg_pipeline_begin(c), 0);
	ck_assert_int_eq(uco_pg_pipeline_send(c, "SELECT 11", 0, NULL), 0);
	ck_assert_int_eq(pipe_next(c, PGRES_TUPLES_OK, "11"), 0);
	ck_assert_int_eq(uco_pg_pipeline_sync(c), 0);
	ck_assert_int_eq(pipe_next(c, PGRES_PIPELINE_SYNC, NULL), 0);
	ck_assert_int_eq(uco_pg_pipeline_end(c), 0);
	uco_pg_close(c);
}
PG_TEST(pipeline_error)

/* A pipeline cut short is cancelled on the server and closed, not drained. */
static void body_pipeline_cut(void *arg)
{
	char st[64];
	PGresult *res;
	uco_pg *c = connect_ok(), *other = connect_ok();
	int guard = uco_timeout_begin(30 * SEC);
	int scope;

	ck_assert_int_eq(uco_pg_pipeline_begin(c), 0);
	ck_assert_int_eq(uco_pg_pipeline_send(c, "SELECT pg_sleep(60)", 0, NULL),
			 0);
	ck_assert_int_eq(uco_pg_pipeline_send(c, "SELECT 2", 0, NULL), 0);
	ck_assert_int_eq(uco_pg_pipeline_sync(c), 0);
	scope = uco_timeout_begin(100 * MS);
	ck_assert_int_eq(uco_pg_pipeline_result(c, &res), -ETIMEDOUT);
	ck_assert_ptr_null(res);
	uco_timeout_end(scope);
	ck_assert_int_eq(uco_pg_wait_ready(c), -ECONNRESET);
	ck_assert(uco_pg_broken(c));
	ck_assert_ptr_null(uco_pg_conn(c));
	ck_assert_int_eq(uco_pg_exec(c, "SELECT 1", NULL), -ECONNRESET);
	ck_assert_int_eq(uco_pg_pipeline_result(c, &res), -ECONNRESET);
	ck_assert_msg(strstr(uco_pg_error_message(c), "closed: a pipeline"), "%s",
		      uco_pg_error_message(c));
	uco_pg_close(c);
	/* The server-side cancel ended the sleep. */
	do {
		one_text(other, "SELECT count(*)::text FROM pg_stat_activity "
			 "WHERE state = 'active' AND query = 'SELECT "
			 "pg_sleep(60)'", 0, NULL, st, sizeof(st));
	} while (strcmp(st, "0") != 0);
	ck_assert_int_eq(uco_timeout_end(guard), 0);
	uco_pg_close(other);
}
PG_TEST(pipeline_cut)

/* ---- cancellation ----------------------------------------------------- */

/* The state of backend pid as the server shows it. */
static void backend_state(uco_pg *other, int pid, char *buf, size_t len)
{
	char p[16];
	const char *v[1] = { p };

	snprintf(p, sizeof(p), "%d", pid);
	one_text(other, "SELECT state || ':' || query FROM pg_stat_activity "
		 "WHERE pid = $1", 1, v, buf, len);
}

struct sleeper {
	uco_pg *c;
	int r;
};

static void *sleeper_task(void *arg)
{
	struct sleeper *s = arg;

	s->r = uco_pg_exec(s->c, "SELECT pg_sleep(60)", NULL);
	return NULL;
}

static void body_cancel_sleep(void *arg)
{
	char st[256];
	struct sleeper s;
	uco_task *t;
	uco_pg *c = connect_ok(), *other = connect_ok();
	int pid = PQbackendPID(uco_pg_conn(c));
	/* pg_sleep(60) not cancelled would overrun this: the proof that the
	 * cancel works, with no timing in any assertion. */
	int guard = uco_timeout_begin(30 * SEC);
	int scope;

	/* Cut short by a timeout scope. */
	scope = uco_timeout_begin(100 * MS);
	ck_assert_int_eq(uco_pg_exec(c, "SELECT pg_sleep(60)", NULL),
			 -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_expired(scope), 1);
	uco_timeout_end(scope);
	ck_assert_int_eq(uco_pg_wait_ready(c), 0);
	backend_state(other, pid, st, sizeof(st));
	ck_assert_str_eq(st, "idle:SELECT pg_sleep(60)");
	ck_assert_int_eq(one_value(c, "SELECT 5"), 5);

	/* Cut short by uco_cancel() while the server runs it: wait until the
	 * server shows it running. */
	s = (struct sleeper){ c, 1 };
	ck_assert_int_eq(uco_spawn(&t, sleeper_task, &s, NULL), 0);
	do {
		backend_state(other, pid, st, sizeof(st));
	} while (strcmp(st, "active:SELECT pg_sleep(60)") != 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(s.r, -ECANCELED);
	/* The next statement waits for the clean-up itself. */
	ck_assert_int_eq(one_value(c, "SELECT 6"), 6);
	backend_state(other, pid, st, sizeof(st));
	ck_assert_str_eq(st, "idle:SELECT 6");

	/* Closed while its clean-up runs: the clean-up closes it. */
	scope = uco_timeout_begin(50 * MS);
	ck_assert_int_eq(uco_pg_exec(c, "SELECT pg_sleep(60)", NULL),
			 -ETIMEDOUT);
	uco_timeout_end(scope);
	uco_pg_close(c);
	ck_assert_int_eq(uco_timeout_end(guard), 0);
	/* Wait for the clean-up to have closed it: the backend goes away. */
	do {
		one_text(other, "SELECT count(*)::text FROM pg_stat_activity "
			 "WHERE state = 'active' AND query LIKE '%pg_sleep(60)'"
			 " AND pid <> pg_backend_pid()", 0, NULL, st,
			 sizeof(st));
	} while (strcmp(st, "0") != 0);
	uco_pg_close(other);
}
PG_TEST(cancel_sleep)

/* ---- transactions ----------------------------------------------------- */

static int tx_insert(uco_pg *c, void *arg)
{
	const char *v[1] = { arg };
	int r = uco_pg_query(c, "INSERT INTO uco_tx VALUES ($1)", 1, v, NULL);

	if (r < 0)
		return r;
	if (strcmp(arg, "fail") == 0)
		return -EIO;
	if (strcmp(arg, "slow") == 0)
		return uco_pg_exec(c, "SELECT pg_sleep(60)", NULL);
	if (strcmp(arg, "sqlerr") == 0) {
		uco_pg_exec(c, "SELECT 1/0", NULL); /* ignored by fn */
		return 0;
	}
	return 1;
}

static void body_transaction(void *arg)
{
	uco_pg *c = connect_ok();
	int scope;

	ck_assert_int_eq(uco_pg_exec(c, "CREATE TEMP TABLE uco_tx (v text)",
				     NULL), 0);
	ck_assert_int_eq(uco_pg_transaction(c, NULL, tx_insert, "ok"), 1);
	ck_assert_int_eq(uco_pg_transaction(c, "BEGIN ISOLATION LEVEL "
					    "SERIALIZABLE", tx_insert, "fail"),
			 -EIO);
	ck_assert_int_eq(PQtransactionStatus(uco_pg_conn(c)), PQTRANS_IDLE);
	ck_assert_int_eq(uco_pg_transaction(c, NULL, tx_insert, "sqlerr"),
			 -EREMOTEIO);
	scope = uco_timeout_begin(100 * MS);
	ck_assert_int_eq(uco_pg_transaction(c, NULL, tx_insert, "slow"),
			 -ETIMEDOUT);
	uco_timeout_end(scope);
	ck_assert_int_eq(uco_pg_wait_ready(c), 0);
	ck_assert_int_eq(PQtransactionStatus(uco_pg_conn(c)), PQTRANS_IDLE);
	ck_assert_int_eq(one_value(c, "SELECT count(*) FROM uco_tx"), 1);
	ck_assert_int_eq(one_value(c, "SELECT count(*) FROM uco_tx "
				   "WHERE v = 'ok'"), 1);
	uco_pg_close(c);
}
PG_TEST(transaction)

/* ---- LISTEN / NOTIFY -------------------------------------------------- */

struct listener {
	uco_pg *c;
	PGnotify *n;
	int r;
};

static void *listener_task(void *arg)
{
	struct listener *l = arg;

	l->r = uco_pg_notify_wait(l->c, &l->n);
	return NULL;
}

static void body_notify(void *arg)
{
	struct listener l = { .r = 1 };
	uco_pg *sender = connect_ok();
	uco_task *t;
	PGnotify *n;

	l.c = connect_ok();
	ck_assert_int_eq(uco_pg_listen(l.c, "uco chan"), 0);
	ck_assert_int_eq(uco_spawn(&t, listener_task, &l, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_pg_exec(sender, "NOTIFY \"uco chan\", 'hello'",
				     NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(l.r, 0);
	ck_assert_str_eq(l.n->relname, "uco chan");
	ck_assert_str_eq(l.n->extra, "hello");
	ck_assert_int_eq(l.n->be_pid, PQbackendPID(uco_pg_conn(sender)));
	PQfreemem(l.n);

	/* A wait cancelled leaves the connection usable and loses nothing:
	 * a notification sent meanwhile is returned by the next wait, even
	 * with a statement run in between. */
	l.r = 1;
	ck_assert_int_eq(uco_spawn(&t, listener_task, &l, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(l.r, -ECANCELED);
	ck_assert_int_eq(uco_pg_exec(sender, "SELECT pg_notify('uco chan', "
				     "'second')", NULL), 0);
	ck_assert_int_eq(one_value(l.c, "SELECT 1"), 1);
	ck_assert_int_eq(uco_pg_notify_wait(l.c, &n), 0);
	ck_assert_str_eq(n->extra, "second");
	PQfreemem(n);
	uco_pg_close(l.c);
	uco_pg_close(sender);
}
PG_TEST(notify)

/* ---- pools ------------------------------------------------------------ */

struct acquirer {
	uco_pg_pool *p;
	uco_pg *c;
	uint64_t timeout;
	int r;
};

static void *acquirer_task(void *arg)
{
	struct acquirer *a = arg;

	a->r = uco_pg_pool_acquire(a->p, a->timeout, &a->c);
	return NULL;
}

static void body_pool_exhaustion(void *arg)
{
	struct acquirer a;
	uco_pg_pool *p;
	uco_pg *c1, *c2, *c3;
	uco_task *t;

	ck_assert_int_eq(uco_pg_pool_create(&p, conninfo(), 2, 1), -EINVAL);
	ck_assert_int_eq(uco_pg_pool_create(&p, conninfo(), 1, 2), 0);
	ck_assert_uint_eq(uco_pg_pool_size(p), 1);
	ck_assert_uint_eq(uco_pg_pool_idle(p), 1);
	ck_assert_int_eq(uco_pg_pool_acquire(p, 0, &c1), 0);
	ck_assert_int_eq(uco_pg_pool_acquire(p, 0, &c2), 0);
	ck_assert_uint_eq(uco_pg_pool_size(p), 2);
	ck_assert_int_eq(uco_pg_pool_acquire(p, 100 * MS, &c3), -ETIMEDOUT);
	ck_assert_ptr_null(c3);
	ck_assert_int_eq(uco_pg_pool_free(p), -EBUSY);

	/* A waiter cancelled leaves the line holding nothing. */
	a = (struct acquirer){ .p = p, .r = 1 };
	ck_assert_int_eq(uco_spawn(&t, acquirer_task, &a, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(a.r, -ECANCELED);
	ck_assert_ptr_null(a.c);

	/* A waiter is handed the connection released next. */
	a = (struct acquirer){ .p = p, .timeout = 30 * SEC, .r = 1 };
	ck_assert_int_eq(uco_spawn(&t, acquirer_task, &a, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(a.r, 1);
	/* Released inside a transaction: cleaned (rolled back) first. */
	ck_assert_int_eq(uco_pg_exec(c2, "BEGIN; CREATE TEMP TABLE t (x int)",
				     NULL), 0);
	uco_pg_pool_release(p, c2);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(a.r, 0);
	ck_assert_ptr_eq(a.c, c2);
	ck_assert_int_eq(PQtransactionStatus(uco_pg_conn(a.c)), PQTRANS_IDLE);
	ck_assert_int_eq(one_value(a.c, "SELECT count(*) FROM pg_class "
				   "WHERE relname = 't' AND relpersistence "
				   "= 't'"), 0);

	/* Released after a statement cut short: cancelled, drained, then
	 * handed on. */
	int scope = uco_timeout_begin(50 * MS);
	ck_assert_int_eq(uco_pg_exec(a.c, "SELECT pg_sleep(60)", NULL),
			 -ETIMEDOUT);
	uco_timeout_end(scope);
	uco_pg_pool_release(p, a.c);
	ck_assert_int_eq(uco_pg_pool_acquire(p, 30 * SEC, &c3), 0);
	ck_assert_ptr_eq(c3, c2);
	ck_assert_int_eq(one_value(c3, "SELECT 8"), 8);
	uco_pg_pool_release(p, c3);
	uco_pg_pool_release(p, c1);
	ck_assert_uint_eq(uco_pg_pool_idle(p), 2);
	ck_assert_int_eq(uco_pg_pool_free(p), 0);
	ck_assert_int_eq(uco_pg_pool_free(NULL), 0);
}
PG_TEST(pool_exhaustion)

static void *restart_fn(void *arg)
{
	return (void *)(intptr_t)system(arg);
}

static int pid_of(uco_pg *c)
{
	return PQbackendPID(uco_pg_conn(c));
}

static void body_pool_restart(void *arg)
{
	uco_pg_pool *p;
	uco_pg *a, *b, *held;
	void *status;
	int pa, pb;

	ck_assert_int_eq(uco_pg_pool_create(&p, conninfo(), 2, 3), 0);
	ck_assert_int_eq(uco_pg_pool_acquire(p, 0, &a), 0);
	ck_assert_int_eq(uco_pg_pool_acquire(p, 0, &b), 0);
	ck_assert_int_eq(uco_pg_pool_acquire(p, 0, &held), 0);
	pa = pid_of(a);
	pb = pid_of(b);
	ck_assert_int_eq(one_value(held, "SELECT 1"), 1);
	uco_pg_pool_release(p, a);
	uco_pg_pool_release(p, b);
	ck_assert_uint_eq(uco_pg_pool_size(p), 3);

	ck_assert_int_eq(uco_to_thread(restart_fn, getenv("UCO_PG_RESTART"),
				       &status, NULL), 0);
	ck_assert_int_eq((int)(intptr_t)status, 0);

	/* The one held across the restart: lost, and closed on release. */
	ck_assert_int_eq(uco_pg_exec(held, "SELECT 1", NULL), -ECONNRESET);
	ck_assert(uco_pg_broken(held));
	ck_assert_int_eq(uco_pg_exec(held, "SELECT 1", NULL), -ECONNRESET);
	uco_pg_pool_release(p, held);
	ck_assert_uint_eq(uco_pg_pool_size(p), 2);

	/* The idle ones are found dead and replaced, without an error. */
	ck_assert_int_eq(uco_pg_pool_acquire(p, 30 * SEC, &a), 0);
	ck_assert_int_eq(uco_pg_pool_acquire(p, 30 * SEC, &b), 0);
	ck_assert_int_ne(pid_of(a), pa);
	ck_assert_int_ne(pid_of(a), pb);
	ck_assert_int_ne(pid_of(b), pb);
	ck_assert_int_eq(one_value(a, "SELECT 2"), 2);
	ck_assert_int_eq(one_value(b, "SELECT 3"), 3);
	ck_assert_uint_eq(uco_pg_pool_size(p), 2);
	uco_pg_pool_release(p, a);
	uco_pg_pool_release(p, b);
	ck_assert_int_eq(uco_pg_pool_free(p), 0);
}
PG_TEST(pool_restart)

/* Pools are per core: one per core works there, another core's calls
 * are refused. */
struct core_pool {
	uco_pg_pool *other; /* core 0's pool */
	int refused;
	long value;
};

static void *core1_task(void *arg)
{
	struct core_pool *cp = arg;
	uco_pg_pool *mine;
	uco_pg *c = NULL;

	cp->refused = uco_pg_pool_acquire(cp->other, 0, &c);
	ck_assert_int_eq(uco_pg_pool_create(&mine, conninfo(), 1, 2), 0);
	ck_assert_int_eq(uco_pg_pool_acquire(mine, 0, &c), 0);
	cp->value = one_value(c, "SELECT 1234");
	uco_pg_pool_release(mine, c);
	ck_assert_int_eq(uco_pg_pool_free(mine), 0);
	return NULL;
}

static void body_pool_per_core(void *arg)
{
	struct core_pool cp = { .refused = 1 };
	uco_task *t;

	ck_assert_int_eq(uco_pg_pool_create(&cp.other, conninfo(), 1, 1), 0);
	ck_assert_int_eq(uco_spawn_on(1, &t, core1_task, &cp, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(cp.refused, -EXDEV);
	ck_assert_int_eq(cp.value, 1234);
	ck_assert_int_eq(uco_pg_pool_free(cp.other), 0);
}

START_TEST(pool_per_core)
{
	uco_config cfg;

	if (!conninfo())
		TH_SKIP("no PostgreSQL server: UCO_PG_CONNINFO is unset (run "
			"through tests/pg_server.sh)");
	uco_config_init(&cfg);
	cfg.cores = 2;
	th_run(body_pool_per_core, NULL, &cfg);
	lc_run(body_pool_per_core, NULL, &cfg);
}
END_TEST

#define MANY 1000

struct many {
	uco_pg_pool *p;
	int i;
	int r;
	unsigned max_open;
};

static void *many_task(void *arg)
{
	struct many *m = arg;
	char n[16];
	const char *v[1] = { n };
	PGresult *res;
	uco_pg *c;

	m->r = uco_pg_pool_acquire(m->p, 0, &c);
	if (m->r < 0)
		return NULL;
	m->max_open = uco_pg_pool_size(m->p);
	snprintf(n, sizeof(n), "%d", m->i);
	m->r = uco_pg_query(c, "SELECT $1::int * 3", 1, v, &res);
	if (m->r == 0) {
		m->r = atoi(PQgetvalue(res, 0, 0)) == m->i * 3 ? 0 : -EBADMSG;
		PQclear(res);
	}
	uco_pg_pool_release(m->p, c);
	return NULL;
}

static void body_pool_many(void *arg)
{
	static struct many m[MANY];
	static uco_task *t[MANY];
	uco_pg_pool *p;
	int backends;

	ck_assert_int_eq(uco_pg_pool_create(&p, conninfo(), 0, 10), 0);
	for (int i = 0; i < MANY; i++) {
		m[i] = (struct many){ .p = p, .i = i, .r = 1 };
		ck_assert_int_eq(uco_spawn(&t[i], many_task, &m[i], NULL), 0);
	}
	for (int i = 0; i < MANY; i++) {
		LC_CHECK(uco_join(t[i], NULL) == 0, "join %d", i);
		uco_task_release(t[i]);
		LC_CHECK(m[i].r == 0, "query %d: %d", i, m[i].r);
		LC_CHECK(m[i].max_open <= 10, "%u open", m[i].max_open);
	}
	ck_assert_uint_eq(uco_pg_pool_size(p), 10);
	ck_assert_uint_eq(uco_pg_pool_idle(p), 10);
	/* Ten backends, as the server sees them (plus this one's). */
	uco_pg *c;
	ck_assert_int_eq(uco_pg_pool_acquire(p, 0, &c), 0);
	backends = (int)one_value(c, "SELECT count(*) FROM pg_stat_activity "
				  "WHERE usename = 'uco' AND backend_type = "
				  "'client backend'");
	ck_assert_int_ge(backends, 10);
	uco_pg_pool_release(p, c);
	ck_assert_int_eq(uco_pg_pool_free(p), 0);
}
PG_TEST(pool_many)

static Suite *pg_suite(void)
{
	Suite *s = suite_create("pg");
	TCase *tc = tcase_create("pg");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, connect_good);
	tcase_add_test(tc, connect_bad_password);
	tcase_add_test(tc, connect_no_server);
	tcase_add_test(tc, connect_silent);
	tcase_add_test(tc, params);
	tcase_add_test(tc, rows_100k);
	tcase_add_test(tc, pipeline_error);
	tcase_add_test(tc, pipeline_cut);
	tcase_add_test(tc, cancel_sleep);
	tcase_add_test(tc, transaction);
	tcase_add_test(tc, notify);
	tcase_add_test(tc, pool_exhaustion);
	tcase_add_test(tc, pool_restart);
	tcase_add_test(tc, pool_many);
	tcase_add_test(tc, pool_per_core);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(pg_suite());
}
