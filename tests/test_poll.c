/*
 * Suite "poll": uco_poll (include/uco/poll.h), and the proof that a real
 * nonblocking C library runs on it: OpenSSL, TLS 1.3 between uco tasks.
 *
 *   - readiness: a pipe becomes readable when another task writes; a
 *     writable socket and a pipe holding data are ready at once; POLLHUP /
 *     POLLERR are reported whatever was asked; bad fds are -EBADF; many
 *     tasks wait on many fds, on one core and across two;
 *   - cancellation while waiting (-ECANCELED, no CQE left due, the fd
 *     untouched and usable), before waiting, inside a shield, and racing
 *     the fd becoming ready; timeouts from uco_wait_for and from (nested)
 *     scopes;
 *   - TLS: tls_wait() / tls_io() below are the glue a program copies to run
 *     OpenSSL (or any library that says "would block, wait for read/write")
 *     on uco.  A client and a server, each a uco task, handshake (TLS 1.3,
 *     certificate made in memory at test start, hostname verified),
 *     exchange 1 MiB both ways in random-size records with every byte
 *     checked (a reader and a writer task per side on one SSL), and close
 *     with close_notify both ways: on one core over a socketpair, and on two
 *     cores over loopback TCP.  Error paths: a handshake cut by a timeout
 *     scope, by uco_wait_for and by cancellation; a read timeout after
 *     which the connection is still good; a certificate for the wrong name;
 *     a peer that hangs up mid-stream (read and write side).
 *
 * Memory: uco's leak check counts jemalloc's bytes, and jemalloc is also
 * the process's malloc here, so it sees OpenSSL's allocations too.  OpenSSL
 * builds some tables and caches lazily, once per process (algorithm fetch
 * caches, for instance), so each TLS body runs once unmeasured before the
 * measured run (tls_run()).  Under AddressSanitizer, malloc is ASan's and
 * its leak detector checks OpenSSL's memory at exit: every SSL, SSL_CTX,
 * key and certificate is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "leakcheck.h"

#include "core/loop.h"

#define MS UCO_NSEC_PER_MSEC
#define SEC UCO_NSEC_PER_SEC

#define NOT_YET INT_MIN /* a result nobody has returned yet */

/* SQEs still in the kernel on this core: the loop's count, less core 0's
 * standing signalfd read (core/sigwait.c).  0 whenever no op is pending:
 * an op that was cancelled or timed out has had all of its CQEs. */
static unsigned inflight(void)
{
	struct uco__loop *l = uco__loop_current();

	return uco__loop_inflight(l) - (uco__signal_armed(l) ? 1u : 0u);
}

static void make_pipe(int p[2])
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
}

static void make_socketpair(int sv[2], int flags)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags,
				    0, sv), 0);
}

static void close_pair(int p[2])
{
	ck_assert_int_eq(close(p[0]), 0);
	ck_assert_int_eq(close(p[1]), 0);
}

static void put_byte(int fd, char c)
{
	ck_assert_int_eq(write(fd, &c, 1), 1);
}

static char get_byte(int fd)
{
	char c = 0;

	ck_assert_int_eq(read(fd, &c, 1), 1);
	return c;
}

/* xorshift64*: the random sizes and orders of these tests (fixed seeds, so
 * a failure repeats). */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* A number in [lo, hi]. */
static size_t rng_range(uint64_t *s, size_t lo, size_t hi)
{
	return lo + (size_t)(rng_next(s) % (hi - lo + 1));
}

/* ---- a task that waits in uco_poll ----------------------------------- */

struct poller {
	int fd;
	unsigned events;
	int r;          /* uco_poll's result; NOT_YET until it returns */
	int after;      /* shielded pollers: the next uco_poll's result */
	bool shielded;  /* poll inside a shield, then once more outside */
	char got;       /* the byte read once readable (pipes) */
	bool read_it;
};

static void *poller_task(void *arg)
{
	struct poller *p = arg;

	if (p->shielded)
		uco_shield_begin();
	p->r = uco_poll(p->fd, p->events);
	if (p->shielded) {
		uco_shield_end();
		p->after = uco_poll(p->fd, p->events);
	}
	if (p->read_it && p->r > 0 && (p->r & POLLIN))
		p->got = get_byte(p->fd);
	return NULL;
}

static uco_task *spawn_poller(struct poller *p, int fd, unsigned events)
{
	uco_task *t;

	*p = (struct poller){ .fd = fd, .events = events, .r = NOT_YET,
			      .after = NOT_YET };
	ck_assert_int_eq(uco_spawn(&t, poller_task, p, NULL), 0);
	return t;
}

/* Let the pollers spawned so far run and arm their polls: a NOP submitted
 * now goes to the kernel in the same batch as their POLL_ADDs, so by the
 * time it completes every poll is armed. */
static void let_them_wait(void)
{
	ck_assert_int_eq(uco_nop(), 0);
}

static void join_release(uco_task *t)
{
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
}

/* ---- readiness ------------------------------------------------------- */

struct writer {
	int fd;
	char c;
};

static void *writer_task(void *arg)
{
	struct writer *w = arg;

	let_them_wait();
	put_byte(w->fd, w->c);
	return NULL;
}

/* A pipe becomes readable when another task writes to it; the poller
 * waits until then. */
static void body_pipe_readable(void *arg)
{
	struct poller pl;
	struct writer w;
	uco_task *t, *wt;
	int p[2];

	make_pipe(p);
	t = spawn_poller(&pl, p[0], POLLIN);
	pl.read_it = true;
	let_them_wait();
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	ck_assert_int_eq(pl.r, NOT_YET);

	w = (struct writer){ p[1], 'a' };
	ck_assert_int_eq(uco_spawn(&wt, writer_task, &w, NULL), 0);
	join_release(wt);
	join_release(t);
	ck_assert_int_eq(pl.r, POLLIN);
	ck_assert_int_eq(pl.got, 'a');
	ck_assert_uint_eq(inflight(), 0);
	close_pair(p);
}

START_TEST(pipe_readable)
{
	lc_run(body_pipe_readable, NULL, NULL);
}
END_TEST

/* What is ready already is reported without waiting for anyone. */
static void body_ready_now(void *arg)
{
	int p[2], sv[2];
	int fd;

	make_socketpair(sv, 0);
	ck_assert_int_eq(uco_poll(sv[0], POLLOUT), POLLOUT);
	ck_assert_int_eq(uco_poll(sv[0], POLLIN | POLLOUT), POLLOUT);
	put_byte(sv[1], 'x');
	ck_assert_int_eq(uco_poll(sv[0], POLLIN | POLLOUT), POLLIN | POLLOUT);
	ck_assert_int_eq(uco_poll(sv[0], POLLIN), POLLIN);
	ck_assert_int_eq(get_byte(sv[0]), 'x');
	close_pair(sv);

	make_pipe(p);
	ck_assert_int_eq(uco_poll(p[1], POLLOUT), POLLOUT);
	put_byte(p[1], 'y');
	ck_assert_int_eq(uco_poll(p[0], POLLIN), POLLIN);
	ck_assert_int_eq(get_byte(p[0]), 'y');
	close_pair(p);

	/* A regular file (a memfd) is always ready, as with poll(2). */
	fd = memfd_create("poll-test", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uco_poll(fd, POLLIN | POLLOUT), POLLIN | POLLOUT);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_uint_eq(inflight(), 0);
}

START_TEST(ready_now)
{
	lc_run(body_ready_now, NULL, NULL);
}
END_TEST

/* POLLHUP when the peer closes, reported to a waiting task; POLLHUP and
 * POLLERR are reported even when not asked for. */
static void body_hangup(void *arg)
{
	struct poller pl;
	uco_task *t;
	int p[2], sv[2];
	int r;

	/* A pipe's reader waiting, the writer closes. */
	make_pipe(p);
	t = spawn_poller(&pl, p[0], POLLIN);
	let_them_wait();
	ck_assert_int_eq(pl.r, NOT_YET);
	ck_assert_int_eq(close(p[1]), 0);
	join_release(t);
	ck_assert_int_eq(pl.r, POLLHUP);
	ck_assert_int_eq(close(p[0]), 0);

	/* A pipe's writer, the reader gone: POLLERR, asked or not. */
	make_pipe(p);
	ck_assert_int_eq(close(p[0]), 0);
	r = uco_poll(p[1], POLLOUT);
	ck_assert_msg(r > 0 && (r & POLLERR), "uco_poll: %#x", (unsigned)r);
	ck_assert_int_eq(uco_poll(p[1], 0) & POLLERR, POLLERR);
	ck_assert_int_eq(close(p[1]), 0);

	/* A socket waiting for input, its peer closes: POLLHUP (and POLLIN,
	 * the end of the stream is readable). */
	make_socketpair(sv, 0);
	t = spawn_poller(&pl, sv[0], POLLIN);
	let_them_wait();
	ck_assert_int_eq(pl.r, NOT_YET);
	ck_assert_int_eq(close(sv[1]), 0);
	join_release(t);
	ck_assert_msg(pl.r > 0 && (pl.r & POLLHUP) && (pl.r & POLLIN),
		      "uco_poll: %#x", (unsigned)pl.r);
	/* POLLPRI only was asked: the hang-up is reported all the same. */
	r = uco_poll(sv[0], POLLPRI);
	ck_assert_msg(r > 0 && (r & POLLHUP) && !(r & POLLPRI),
		      "uco_poll: %#x", (unsigned)r);
	ck_assert_int_eq(close(sv[0]), 0);
	ck_assert_uint_eq(inflight(), 0);
}

START_TEST(hangup)
{
	lc_run(body_hangup, NULL, NULL);
}
END_TEST

static void body_bad_fd(void *arg)
{
	int p[2];
	int closed;

	ck_assert_int_eq(uco_poll(-1, POLLIN), -EBADF);
	ck_assert_int_eq(uco_poll(INT_MIN, POLLOUT), -EBADF);
	/* An fd number that is not open: the kernel says -EBADF. */
	make_pipe(p);
	closed = p[1];
	close_pair(p);
	ck_assert_int_eq(uco_poll(closed, POLLIN), -EBADF);
	ck_assert_int_eq(uco_poll(INT_MAX, POLLIN), -EBADF);
	ck_assert_uint_eq(inflight(), 0);
	/* A failed poll changes nothing: the task carries on. */
	ck_assert_int_eq(uco_nop(), 0);
}

START_TEST(bad_fd)
{
	lc_run(body_bad_fd, NULL, NULL);
}
END_TEST

/* Outside uco_run there is no task to suspend. */
START_TEST(outside_runtime)
{
	ck_assert_int_eq(uco_poll(STDIN_FILENO, POLLIN), -EPERM);
}
END_TEST

/* ---- many tasks, many fds -------------------------------------------- */

enum { MANY = 256 };

struct many {
	unsigned cores;
	int p[MANY][2];
	struct poller pl[MANY];
	uco_task *t[MANY];
};

/* MANY pollers, each on its own pipe, spread over the cores; the main task
 * writes one byte to each pipe in a shuffled order, and each poller must
 * wake for its own pipe and read its own byte. */
static void body_many(void *arg)
{
	struct many *m = arg;
	int order[MANY];
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < MANY; i++) {
		make_pipe(m->p[i]);
		m->pl[i] = (struct poller){ .fd = m->p[i][0], .events = POLLIN,
					    .r = NOT_YET, .read_it = true };
		ck_assert_int_eq(uco_spawn_on((unsigned)i % m->cores, &m->t[i],
					      poller_task, &m->pl[i], NULL),
				 0);
		order[i] = i;
	}
	for (int i = MANY - 1; i > 0; i--) {
		int j = (int)rng_range(&seed, 0, (size_t)i);
		int x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	let_them_wait();
	for (int k = 0; k < MANY; k++) {
		int i = order[k];

		put_byte(m->p[i][1], (char)(i & 0x7f));
		/* Now and then, let some wake before writing on. */
		if (k % 16 == 15)
			ck_assert_int_eq(uco_yield(), 0);
	}
	for (int i = 0; i < MANY; i++) {
		ck_assert_int_eq(uco_join(m->t[i], NULL), 0);
		uco_task_release(m->t[i]);
		LC_CHECK(m->pl[i].r == POLLIN, "poller %d: %d", i, m->pl[i].r);
		LC_CHECK(m->pl[i].got == (char)(i & 0x7f),
			 "poller %d read %d", i, m->pl[i].got);
		close_pair(m->p[i]);
	}
	ck_assert_uint_eq(inflight(), 0);
}

static void run_many(unsigned cores)
{
	struct many *m = calloc(1, sizeof(*m));
	uco_config cfg;

	ck_assert_ptr_nonnull(m);
	m->cores = cores;
	uco_config_init(&cfg);
	cfg.cores = cores;
	lc_run(body_many, m, &cfg);
	free(m);
}

START_TEST(many_one_core)
{
	run_many(1);
}
END_TEST

START_TEST(many_two_cores)
{
	run_many(2);
}
END_TEST

/* ---- cancellation ---------------------------------------------------- */

/* Cancelled while waiting: -ECANCELED, every CQE of the op in (nothing
 * left in the kernel), and the fd untouched: still usable. */
static void body_cancel_waiting(void *arg)
{
	struct poller pl;
	uco_task *t;
	int p[2];

	make_pipe(p);
	t = spawn_poller(&pl, p[0], POLLIN);
	let_them_wait();
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(t), 0);
	join_release(t);
	ck_assert_int_eq(pl.r, -ECANCELED);
	ck_assert_uint_eq(inflight(), 0);

	put_byte(p[1], 'z');
	ck_assert_int_eq(uco_poll(p[0], POLLIN), POLLIN);
	ck_assert_int_eq(get_byte(p[0]), 'z');
	/* ...and another task can wait on it and be woken. */
	t = spawn_poller(&pl, p[0], POLLIN);
	pl.read_it = true;
	let_them_wait();
	ck_assert_int_eq(pl.r, NOT_YET);
	put_byte(p[1], 'w');
	join_release(t);
	ck_assert_int_eq(pl.r, POLLIN);
	ck_assert_int_eq(pl.got, 'w');
	close_pair(p);
	ck_assert_uint_eq(inflight(), 0);
}

START_TEST(cancel_waiting)
{
	lc_run(body_cancel_waiting, NULL, NULL);
}
END_TEST

/* A task already cancelled does not start a poll, even on a ready fd. */
static void body_cancelled_before(void *arg)
{
	int sv[2];

	make_socketpair(sv, 0);
	ck_assert_int_eq(uco_cancel(uco_current()), 0);
	ck_assert_int_eq(uco_poll(sv[0], POLLOUT), -ECANCELED);
	ck_assert_uint_eq(inflight(), 0);
	close_pair(sv);
}

START_TEST(cancelled_before)
{
	lc_run(body_cancelled_before, NULL, NULL);
}
END_TEST

/* Inside a shield a cancel waits: the poll completes with its events, and
 * the next poll after the shield returns -ECANCELED. */
static void body_cancel_shielded(void *arg)
{
	struct poller pl;
	uco_task *t;
	int p[2];

	make_pipe(p);
	pl = (struct poller){ .fd = p[0], .events = POLLIN, .r = NOT_YET,
				  .after = NOT_YET, .shielded = true };
	ck_assert_int_eq(uco_spawn(&t, poller_task, &pl, NULL), 0);
	let_them_wait();
	ck_assert_int_eq(uco_cancel(t), 0);
	let_them_wait();
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	ck_assert_int_eq(pl.r, NOT_YET);
	put_byte(p[1], 'q');
	join_release(t);
	ck_assert_int_eq(pl.r, POLLIN);
	ck_assert_int_eq(pl.after, -ECANCELED);
	ck_assert_int_eq(get_byte(p[0]), 'q');
	close_pair(p);
	ck_assert_uint_eq(inflight(), 0);
}

START_TEST(cancel_shielded)
{
	lc_run(body_cancel_shielded, NULL, NULL);
}
END_TEST

/* The fd becomes ready as the cancel goes out: either outcome is right (an
 * op that completed anyway delivers its result), but it is one of the two,
 * and nothing is left in the kernel. */
static void body_cancel_race(void *arg)
{
	int ready = 0, cancelled = 0;

	for (int i = 0; i < 200; i++) {
		struct poller pl;
		uco_task *t;
		int p[2];

		make_pipe(p);
		t = spawn_poller(&pl, p[0], POLLIN);
		let_them_wait();
		put_byte(p[1], 'r');
		if (i % 2)
			ck_assert_int_eq(uco_yield(), 0);
		ck_assert_int_ge(uco_cancel(t), 0);
		ck_assert_int_eq(uco_join(t, NULL), 0);
		uco_task_release(t);
		LC_CHECK(pl.r == POLLIN || pl.r == -ECANCELED,
			 "iteration %d: %d", i, pl.r);
		ready += pl.r == POLLIN;
		cancelled += pl.r == -ECANCELED;
		LC_CHECK(inflight() == 0, "iteration %d: %u CQEs due", i,
			 inflight());
		LC_CHECK(get_byte(p[0]) == 'r', "iteration %d", i);
		close_pair(p);
	}
	ck_assert_int_eq(ready + cancelled, 200);
}

START_TEST(cancel_race)
{
	lc_run(body_cancel_race, NULL, NULL);
}
END_TEST

/* ---- timeouts --------------------------------------------------------- */

static int poll_in(void *arg)
{
	return uco_poll(*(int *)arg, POLLIN);
}

static void body_wait_for(void *arg)
{
	int p[2];

	make_pipe(p);
	ck_assert_int_eq(uco_wait_for(20 * MS, poll_in, &p[0]), -ETIMEDOUT);
	ck_assert_uint_eq(inflight(), 0);
	/* The fd is as it was; ready in time, the events come back. */
	put_byte(p[1], 'a');
	ck_assert_int_eq(uco_wait_for(60 * SEC, poll_in, &p[0]), POLLIN);
	ck_assert_int_eq(get_byte(p[0]), 'a');
	ck_assert_uint_eq(inflight(), 0);
	close_pair(p);
}

START_TEST(wait_for)
{
	lc_run(body_wait_for, NULL, NULL);
}
END_TEST

static void body_timeout_scope(void *arg)
{
	struct writer w;
	uco_task *wt;
	int p[2];
	int outer, inner;

	make_pipe(p);
	/* The scope expires while the poll waits; later polls in the
	 * expired scope do not start. */
	inner = uco_timeout_begin(20 * MS);
	ck_assert_int_ge(inner, 0);
	ck_assert_int_eq(uco_poll(p[0], POLLIN), -ETIMEDOUT);
	ck_assert_int_eq(uco_poll(p[1], POLLOUT), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(inner), -ETIMEDOUT);
	ck_assert_uint_eq(inflight(), 0);

	/* Nested: the nearest deadline wins, the outer scope lives on. */
	outer = uco_timeout_begin(60 * SEC);
	inner = uco_timeout_begin(20 * MS);
	ck_assert_int_eq(uco_poll(p[0], POLLIN), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(inner), -ETIMEDOUT);
	put_byte(p[1], 'b');
	ck_assert_int_eq(uco_poll(p[0], POLLIN), POLLIN);
	ck_assert_int_eq(get_byte(p[0]), 'b');

	/* Woken by another task before the deadline: the events. */
	w = (struct writer){ p[1], 'c' };
	ck_assert_int_eq(uco_spawn(&wt, writer_task, &w, NULL), 0);
	ck_assert_int_eq(uco_poll(p[0], POLLIN), POLLIN);
	ck_assert_int_eq(get_byte(p[0]), 'c');
	join_release(wt);
	ck_assert_int_eq(uco_timeout_end(outer), 0);
	ck_assert_uint_eq(inflight(), 0);
	close_pair(p);
}

START_TEST(timeout_scope)
{
	lc_run(body_timeout_scope, NULL, NULL);
}
END_TEST

/* =======================================================================
 * OpenSSL on uco: the pattern.
 *
 * Put the socket in nonblocking mode and give it to OpenSSL (SSL_set_fd).
 * Call OpenSSL as usual.  When it says SSL_ERROR_WANT_READ or
 * SSL_ERROR_WANT_WRITE, the socket would have blocked: uco_poll() the fd for
 * POLLIN or POLLOUT (the task sleeps, the core runs the others), then make
 * the same call again with the same arguments.  tls_wait() is that step,
 * tls_io() the loop around one call.  Copy both.
 *
 * Any library with the same contract (hiredis: REDIS_ERR_IO and EAGAIN;
 * libpq: PQconnectPoll's PGRES_POLLING_READING/WRITING, PQflush,
 * PQconsumeInput) is driven the same way.
 *
 * Notes:
 *   - One connection may have a reader task and a writer task at once (as
 *     below): a task switch happens only inside uco_poll(), never inside an
 *     OpenSSL call, so the calls interleave the way a single-threaded
 *     event loop's do.  A WANT_WRITE'd SSL_write must be repeated with the
 *     same buffer, which tls_io() does.
 *   - OpenSSL writes to sockets with write(2), so a peer that went away
 *     raises SIGPIPE: ignore it (main() below) and get -EPIPE instead.
 *   - The error queue is per thread and shared by the tasks of a core; it
 *     is cleared before each call, and nothing switches between a call and
 *     SSL_get_error().
 * ======================================================================= */

enum tls_op { TLS_HANDSHAKE, TLS_READ, TLS_WRITE, TLS_SHUTDOWN };

/*
 * After an OpenSSL call on ssl returned r (not success): wait for what it
 * needs.  Returns 0 when the fd is ready (call again), or a negative errno:
 *   -ECANCELED / -ETIMEDOUT  from uco_poll: the SSL is intact, the same
 *                            call may be made again later, or the
 *                            connection dropped;
 *   -ESHUTDOWN   the peer closed the TLS session (close_notify);
 *   -ECONNRESET  the peer went away without close_notify;
 *   -EPROTO      a TLS failure (bad certificate, alert, bad record...);
 *   the socket's errno (-EPIPE...).
 */
static int tls_wait(SSL *ssl, int r)
{
	int err = errno; /* the socket's, from the call */
	int p;

	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		p = uco_poll(SSL_get_fd(ssl), POLLIN);
		break;
	case SSL_ERROR_WANT_WRITE:
		p = uco_poll(SSL_get_fd(ssl), POLLOUT);
		break;
	case SSL_ERROR_ZERO_RETURN:
		return -ESHUTDOWN;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return err ? -err : -ECONNRESET;
	case SSL_ERROR_SSL:
		p = ERR_GET_REASON(ERR_peek_error()) ==
				    SSL_R_UNEXPECTED_EOF_WHILE_READING
			    ? -ECONNRESET
			    : -EPROTO;
		ERR_clear_error();
		return p;
	default:
		ERR_clear_error();
		return -EPROTO;
	}
	/* POLLHUP / POLLERR: call again, OpenSSL will meet the error. */
	return p < 0 ? p : 0;
}

/*
 * One OpenSSL operation on a nonblocking socket, suspending the task while
 * the socket is not ready.  Returns:
 *   TLS_HANDSHAKE  0 when the handshake is done;
 *   TLS_READ       the bytes read into buf (1..len), 0 when the peer has
 *                  closed the session with close_notify;
 *   TLS_WRITE      len, all of buf written;
 *   TLS_SHUTDOWN   0 when close_notify has gone out and the peer's has
 *                  come in;
 * or a negative errno as tls_wait() says.
 */
static int tls_io(SSL *ssl, enum tls_op op, void *buf, int len)
{
	for (;;) {
		size_t done = 0;
		int r;

		ERR_clear_error();
		errno = 0;
		switch (op) {
		case TLS_HANDSHAKE:
			r = SSL_do_handshake(ssl);
			if (r == 1)
				return 0;
			break;
		case TLS_READ:
			r = SSL_read_ex(ssl, buf, (size_t)len, &done);
			if (r == 1)
				return (int)done;
			break;
		case TLS_WRITE:
			r = SSL_write_ex(ssl, buf, (size_t)len, &done);
			if (r == 1)
				return (int)done;
			break;
		case TLS_SHUTDOWN:
			r = SSL_shutdown(ssl);
			if (r == 1)
				return 0;
			if (r == 0) /* ours sent: now wait for theirs */
				continue;
			break;
		default:
			return -EINVAL;
		}
		r = tls_wait(ssl, r);
		if (r == -ESHUTDOWN && op == TLS_READ)
			return 0;
		if (r < 0)
			return r;
	}
}

/* ---- the test's TLS setup --------------------------------------------- */

#define TLS_HOST "uco.test"
#define TLS_STACK (256 * 1024) /* OpenSSL's frames, and ASan's redzones */
#define TLS_BYTES (1024 * 1024)
#define TLS_MAX_CHUNK 50000    /* records of 1..16 KiB, writes span several */

/* What the TLS tests share: a server key and self-signed certificate made
 * at test start, and one context per role. */
struct tls_env {
	EVP_PKEY *key;
	X509 *cert;
	SSL_CTX *server;
	SSL_CTX *client;
};

/* A self-signed certificate for TLS_HOST (CN and subjectAltName), valid
 * for an hour, signed with key. */
static X509 *make_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(
				 name, "CN", MBSTRING_ASC,
				 (const unsigned char *)TLS_HOST, -1, -1, 0),
			 1);
	ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
				  "DNS:" TLS_HOST);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	return x;
}

static SSL_CTX *make_ctx(const SSL_METHOD *method)
{
	SSL_CTX *ctx = SSL_CTX_new_ex(NULL, NULL, method);

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION),
			 1);
	/* No resumption here: a session cache would only grow across the
	 * runs the leak check compares. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

static void tls_env_init(struct tls_env *e)
{
	ck_assert_int_eq(OPENSSL_init_ssl(0, NULL), 1);
	e->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(e->key);
	e->cert = make_cert(e->key);

	e->server = make_ctx(TLS_server_method());
	ck_assert_int_eq(SSL_CTX_use_certificate(e->server, e->cert), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(e->server, e->key), 1);
	ck_assert_int_eq(SSL_CTX_check_private_key(e->server), 1);

	/* The client trusts exactly that certificate, for that name. */
	e->client = make_ctx(TLS_client_method());
	SSL_CTX_set_verify(e->client, SSL_VERIFY_PEER, NULL);
	ck_assert_int_eq(X509_STORE_add_cert(SSL_CTX_get_cert_store(e->client),
					     e->cert),
			 1);
}

static void tls_env_free(struct tls_env *e)
{
	SSL_CTX_free(e->client);
	SSL_CTX_free(e->server);
	X509_free(e->cert);
	EVP_PKEY_free(e->key);
}

/* A new SSL for a connected nonblocking socket fd (not taken over: the
 * caller closes it after SSL_free).  host: a client verifying that name;
 * NULL: a server. */
static SSL *tls_new(SSL_CTX *ctx, int fd, const char *host)
{
	SSL *ssl = SSL_new(ctx);

	if (!ssl)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1)
		goto fail;
	if (host) {
		SSL_set_connect_state(ssl);
		if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
		    SSL_set1_host(ssl, host) != 1)
			goto fail;
	} else {
		SSL_set_accept_state(ssl);
	}
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

/* Run a TLS body on `cores` cores: once to let OpenSSL build what it
 * builds once per process, then measured. */
static void tls_run(void (*body)(void *arg), void *arg, unsigned cores)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.cores = cores;
	cfg.stack_size = TLS_STACK;
	th_run(body, arg, &cfg);
	lc_run(body, arg, &cfg);
}

/* ---- the exchange: 1 MiB each way, every byte checked ----------------- */

/* Byte `off` of the stream seeded `seed`: a hash of its 8-byte word, so a
 * lost, repeated or reordered record shows. */
static uint8_t stream_byte(uint64_t seed, uint64_t off)
{
	uint64_t z = seed + (off >> 3) * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (uint8_t)(z >> ((off & 7) * 8));
}

/* One direction of one connection's data: the writer sends `total` bytes
 * of stream `seed` in random-size writes; the reader reads them in
 * random-size reads and checks each. */
struct tls_pump {
	SSL *ssl;
	uint64_t seed;   /* the stream */
	uint64_t rng;    /* the sizes */
	size_t total;
	size_t done;
	int r;
};

static void *tls_writer_task(void *arg)
{
	struct tls_pump *w = arg;
	uint8_t *buf = malloc(TLS_MAX_CHUNK);

	if (!buf)
		return uco_fail(-ENOMEM);
	w->r = 0;
	while (w->done < w->total) {
		size_t n = rng_range(&w->rng, 1, TLS_MAX_CHUNK);

		if (n > w->total - w->done)
			n = w->total - w->done;
		for (size_t i = 0; i < n; i++)
			buf[i] = stream_byte(w->seed, w->done + i);
		w->r = tls_io(w->ssl, TLS_WRITE, buf, (int)n);
		if (w->r < 0)
			break;
		if (w->r != (int)n) {
			w->r = -EIO;
			break;
		}
		w->done += n;
	}
	free(buf);
	return w->r < 0 ? uco_fail(w->r) : NULL;
}

static void *tls_reader_task(void *arg)
{
	struct tls_pump *rd = arg;
	uint8_t *buf = malloc(TLS_MAX_CHUNK);
	int n;

	if (!buf)
		return uco_fail(-ENOMEM);
	rd->r = 0;
	while (rd->done < rd->total) {
		n = tls_io(rd->ssl, TLS_READ, buf,
			   (int)rng_range(&rd->rng, 1, TLS_MAX_CHUNK));
		if (n <= 0) {
			rd->r = n < 0 ? n : -EPIPE; /* close_notify too early */
			break;
		}
		if ((size_t)n > rd->total - rd->done) {
			rd->r = -E2BIG;
			break;
		}
		for (int i = 0; i < n && rd->r == 0; i++) {
			if (buf[i] != stream_byte(rd->seed, rd->done + (size_t)i)) {
				fprintf(stderr, "byte %zu of the stream differs\n",
					rd->done + (size_t)i);
				rd->r = -EILSEQ;
			}
		}
		if (rd->r < 0)
			break;
		rd->done += (size_t)n;
	}
	free(buf);
	return rd->r < 0 ? uco_fail(rd->r) : NULL;
}

/* One end of a connection. */
struct tls_side {
	SSL_CTX *ctx;
	const char *host;   /* client: the name to verify; NULL: server */
	int fd;             /* the connected nonblocking socket; the side
	                       closes it (and sets -1) when done */
	size_t total;       /* bytes each way */
	uint64_t seed_out;  /* the stream this side sends */
	uint64_t seed_in;   /* ... and receives */
	bool eof_first;     /* read the peer's close_notify before sending
	                       ours (else: send ours, then wait for theirs) */
	/* outcome */
	int r;
	long verify;        /* SSL_get_verify_result() */
	int version;        /* SSL_version() */
	size_t sent, received;
};

/* Exchange the data: a reader and a writer task on the one SSL, in a task
 * group (the first to fail cancels the other). */
static int tls_exchange(struct tls_side *s, SSL *ssl)
{
	struct tls_pump w = { ssl, s->seed_out, s->seed_out ^ 0x5555, s->total,
			      0, 0 };
	struct tls_pump rd = { ssl, s->seed_in, s->seed_in ^ 0xaaaa, s->total,
			       0, 0 };
	uco_group *g;
	int r, wr;

	r = uco_group_create(&g);
	if (r < 0)
		return r;
	r = uco_group_spawn(g, NULL, tls_writer_task, &w, NULL);
	if (r == 0)
		r = uco_group_spawn(g, NULL, tls_reader_task, &rd, NULL);
	if (r < 0)
		uco_group_cancel(g);
	/* Waits for both, whatever happened (cancelled, they are cancelled
	 * and joined first): neither touches ssl after this. */
	wr = uco_group_wait(g);
	if (r == 0)
		r = wr;
	uco_group_free(g);
	s->sent = w.done;
	s->received = rd.done;
	return r;
}

static int tls_side_run(struct tls_side *s)
{
	SSL *ssl;
	int r;

	ssl = tls_new(s->ctx, s->fd, s->host);
	if (!ssl)
		return -ENOMEM;
	r = tls_io(ssl, TLS_HANDSHAKE, NULL, 0);
	s->verify = SSL_get_verify_result(ssl);
	s->version = SSL_version(ssl);
	if (r == 0)
		r = tls_exchange(s, ssl);
	if (r == 0 && s->eof_first) {
		char c;

		r = tls_io(ssl, TLS_READ, &c, 1);
		r = r == 0 ? tls_io(ssl, TLS_SHUTDOWN, NULL, 0)
			   : (r > 0 ? -E2BIG : r);
	} else if (r == 0) {
		r = tls_io(ssl, TLS_SHUTDOWN, NULL, 0);
	}
	SSL_free(ssl);
	return r;
}

static void *tls_side_task(void *arg)
{
	struct tls_side *s = arg;

	s->r = tls_side_run(s);
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	return s->r < 0 ? uco_fail(s->r) : NULL;
}

static void side_init(struct tls_side *s, SSL_CTX *ctx, const char *host,
		      int fd, uint64_t seed_out, uint64_t seed_in)
{
	*s = (struct tls_side){ .ctx = ctx, .host = host, .fd = fd,
				.total = TLS_BYTES,
				.seed_out = seed_out, .seed_in = seed_in,
				.r = NOT_YET, .verify = -1 };
}

static const uco_spawn_opts client_opts = { .name = "tls-client" };
static const uco_spawn_opts server_opts = { .name = "tls-server" };

static void check_side(const struct tls_side *s, const char *who, int i)
{
	ck_assert_msg(s->r == 0, "%s %d: %d (%s)", who, i, s->r,
		      strerror(-s->r));
	ck_assert_int_eq(s->version, TLS1_3_VERSION);
	ck_assert_uint_eq(s->sent, TLS_BYTES);
	ck_assert_uint_eq(s->received, TLS_BYTES);
}

/* One core, one socketpair: client and server tasks side by side.  The
 * client sends its close_notify first and waits for the server's; the
 * server reads the client's (its read returns 0), then answers. */
static void body_tls_one_core(void *arg)
{
	struct tls_env *e = arg;
	struct tls_side c, s;
	uco_task *ct, *st;
	int sv[2];

	make_socketpair(sv, SOCK_NONBLOCK);
	side_init(&c, e->client, TLS_HOST, sv[0], 1, 2);
	side_init(&s, e->server, NULL, sv[1], 2, 1);
	s.eof_first = true;
	ck_assert_int_eq(uco_spawn(&st, tls_side_task, &s, &server_opts), 0);
	ck_assert_int_eq(uco_spawn(&ct, tls_side_task, &c, &client_opts), 0);
	ck_assert_int_eq(uco_join(ct, NULL), c.r);
	ck_assert_int_eq(uco_join(st, NULL), s.r);
	uco_task_release(ct);
	uco_task_release(st);
	check_side(&c, "client", 0);
	check_side(&s, "server", 0);
	ck_assert_int_eq(c.verify, X509_V_OK);
	ck_assert_uint_eq(inflight(), 0);
}

START_TEST(tls_one_core)
{
	struct tls_env e;

	tls_env_init(&e);
	tls_run(body_tls_one_core, &e, 1);
	tls_env_free(&e);
}
END_TEST

/* Two cores over loopback TCP: the servers run on core 1, the clients on
 * core 0; several connections at once, half of them closing server-first.
 * The main task makes the connections (connect, then accept: the kernel
 * queues the connection in the backlog, so one task can do both) and
 * hands each end to its side.  The address is given as such, not resolved
 * (uco_connect_tcp): each resolution may start another offload thread, and
 * glibc keeps every thread's stack cached with a malloc'd block, which
 * the leak check would count. */
enum { TLS_CONNS = 3 };

static void body_tls_two_cores(void *arg)
{
	struct tls_env *e = arg;
	struct tls_side c[TLS_CONNS], s[TLS_CONNS];
	uco_task *ct[TLS_CONNS], *st[TLS_CONNS];
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int lfd, port;

	lfd = uco_listen_tcp("127.0.0.1", "0", 16, 0);
	ck_assert_int_ge(lfd, 0);
	port = uco_local_port(lfd);
	ck_assert_int_gt(port, 0);
	sa.sin_port = htons((uint16_t)port);
	for (int i = 0; i < TLS_CONNS; i++) {
		uint64_t up = 10 + 2 * (uint64_t)i, down = up + 1;
		int cfd, afd;

		cfd = uco_socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(cfd, 0);
		ck_assert_int_eq(uco_connect(cfd, (struct sockaddr *)&sa,
					     sizeof(sa)), 0);
		ck_assert_int_eq(fcntl(cfd, F_SETFL, O_NONBLOCK), 0);
		afd = uco_accept(lfd, NULL, NULL, SOCK_NONBLOCK);
		ck_assert_int_ge(afd, 0);
		side_init(&s[i], e->server, NULL, afd, down, up);
		side_init(&c[i], e->client, TLS_HOST, cfd, up, down);
		/* Whoever goes second answers the other's close_notify. */
		if (i % 2)
			c[i].eof_first = true;
		else
			s[i].eof_first = true;
		ck_assert_int_eq(uco_spawn_on(1, &st[i], tls_side_task, &s[i],
					      &server_opts),
				 0);
		ck_assert_int_eq(uco_spawn(&ct[i], tls_side_task, &c[i],
					   &client_opts),
				 0);
	}
	ck_assert_int_eq(close(lfd), 0);
	for (int i = 0; i < TLS_CONNS; i++) {
		ck_assert_int_eq(uco_join(ct[i], NULL), c[i].r);
		ck_assert_int_eq(uco_join(st[i], NULL), s[i].r);
		uco_task_release(ct[i]);
		uco_task_release(st[i]);
		check_side(&c[i], "client", i);
		check_side(&s[i], "server", i);
		ck_assert_int_eq(c[i].verify, X509_V_OK);
	}
	ck_assert_uint_eq(inflight(), 0);
}

START_TEST(tls_two_cores)
{
	struct tls_env e;

	tls_env_init(&e);
	tls_run(body_tls_two_cores, &e, 2);
	tls_env_free(&e);
}
END_TEST

/* ---- TLS error paths -------------------------------------------------- */

static int tls_handshake_fn(void *arg)
{
	return tls_io(arg, TLS_HANDSHAKE, NULL, 0);
}

/* The peer never answers: a timeout scope cuts the client's handshake
 * (its ClientHello went out, no ServerHello comes), uco_wait_for the
 * server's (it answered a ClientHello; no Finished comes).  Both return
 * -ETIMEDOUT with nothing left in the kernel, and are freed. */
static void body_tls_handshake_timeout(void *arg)
{
	struct tls_env *e = arg;
	SSL *c, *s;
	int sv[2];
	int scope;
	char b;

	make_socketpair(sv, SOCK_NONBLOCK);
	c = tls_new(e->client, sv[0], TLS_HOST);
	ck_assert_ptr_nonnull(c);
	scope = uco_timeout_begin(20 * MS);
	ck_assert_int_ge(scope, 0);
	ck_assert_int_eq(tls_io(c, TLS_HANDSHAKE, NULL, 0), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(scope), -ETIMEDOUT);
	ck_assert_uint_eq(inflight(), 0);
	ck_assert_int_eq(recv(sv[1], &b, 1, MSG_PEEK), 1); /* the hello */

	s = tls_new(e->server, sv[1], NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(uco_wait_for(20 * MS, tls_handshake_fn, s),
			 -ETIMEDOUT);
	ck_assert_uint_eq(inflight(), 0);
	SSL_free(c);
	SSL_free(s);
	close_pair(sv);
}

START_TEST(tls_handshake_timeout)
{
	struct tls_env e;

	tls_env_init(&e);
	tls_run(body_tls_handshake_timeout, &e, 1);
	tls_env_free(&e);
}
END_TEST

/* A client cancelled while its handshake waits for a silent server. */
static void body_tls_handshake_cancel(void *arg)
{
	struct tls_env *e = arg;
	struct tls_side c;
	uco_task *ct;
	int sv[2];

	make_socketpair(sv, SOCK_NONBLOCK);
	side_init(&c, e->client, TLS_HOST, sv[0], 1, 2);
	ck_assert_int_eq(uco_spawn(&ct, tls_side_task, &c, &client_opts), 0);
	let_them_wait();
	ck_assert_int_eq(uco_task_get_state(ct), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(ct), 0);
	ck_assert_int_eq(uco_join(ct, NULL), -ECANCELED);
	uco_task_release(ct);
	ck_assert_int_eq(c.r, -ECANCELED);
	ck_assert_int_eq(c.fd, -1); /* closed by the task */
	ck_assert_uint_eq(inflight(), 0);
	ck_assert_int_eq(close(sv[1]), 0);
}

START_TEST(tls_handshake_cancel)
{
	struct tls_env e;

	tls_env_init(&e);
	tls_run(body_tls_handshake_cancel, &e, 1);
	tls_env_free(&e);
}
END_TEST

/* A read that times out leaves the connection good: the same read, made
 * again once the peer has written, returns the data; both sides then
 * close cleanly. */
struct tls_conn {
	SSL *ssl;
	char buf[16];
	int r;
};

static int tls_read_fn(void *arg)
{
	struct tls_conn *k = arg;

	return tls_io(k->ssl, TLS_READ, k->buf, (int)sizeof(k->buf));
}

static void *tls_handshake_task(void *arg)
{
	struct tls_conn *k = arg;

	k->r = tls_io(k->ssl, TLS_HANDSHAKE, NULL, 0);
	return k->r < 0 ? uco_fail(k->r) : NULL;
}

static void *tls_shutdown_task(void *arg)
{
	struct tls_conn *k = arg;

	k->r = tls_io(k->ssl, TLS_SHUTDOWN, NULL, 0);
	return k->r < 0 ? uco_fail(k->r) : NULL;
}

/* Handshake c and s (on this core, s in its own task). */
static void tls_pair_handshake(struct tls_conn *c, struct tls_conn *s)
{
	uco_task *st;

	ck_assert_int_eq(uco_spawn(&st, tls_handshake_task, s, &server_opts),
			 0);
	ck_assert_int_eq(tls_io(c->ssl, TLS_HANDSHAKE, NULL, 0), 0);
	join_release(st);
	ck_assert_int_eq(s->r, 0);
}

static void body_tls_read_timeout(void *arg)
{
	struct tls_env *e = arg;
	struct tls_conn c = { 0 }, s = { 0 };
	uco_task *st;
	int sv[2];

	make_socketpair(sv, SOCK_NONBLOCK);
	c.ssl = tls_new(e->client, sv[0], TLS_HOST);
	s.ssl = tls_new(e->server, sv[1], NULL);
	ck_assert_ptr_nonnull(c.ssl);
	ck_assert_ptr_nonnull(s.ssl);
	tls_pair_handshake(&c, &s);

	ck_assert_int_eq(uco_wait_for(20 * MS, tls_read_fn, &c), -ETIMEDOUT);
	ck_assert_uint_eq(inflight(), 0);
	ck_assert_int_eq(tls_io(s.ssl, TLS_WRITE, "hello", 5), 5);
	ck_assert_int_eq(uco_wait_for(60 * SEC, tls_read_fn, &c), 5);
	ck_assert_mem_eq(c.buf, "hello", 5);
	/* And the other way, under a scope this time. */
	ck_assert_int_eq(tls_io(c.ssl, TLS_WRITE, "world", 5), 5);
	ck_assert_int_eq(tls_io(s.ssl, TLS_READ, s.buf, (int)sizeof(s.buf)),
			 5);
	ck_assert_mem_eq(s.buf, "world", 5);

	ck_assert_int_eq(uco_spawn(&st, tls_shutdown_task, &s, &server_opts),
			 0);
	ck_assert_int_eq(tls_io(c.ssl, TLS_SHUTDOWN, NULL, 0), 0);
	join_release(st);
	ck_assert_int_eq(s.r, 0);
	SSL_free(c.ssl);
	SSL_free(s.ssl);
	close_pair(sv);
	ck_assert_uint_eq(inflight(), 0);
}

START_TEST(tls_read_timeout)
{
	struct tls_env e;

	tls_env_init(&e);
	tls_run(body_tls_read_timeout, &e, 1);
	tls_env_free(&e);
}
END_TEST

/* The server's certificate is not for the name the client asked for: the
 * client's handshake fails verification (-EPROTO) and sends an alert, so
 * the server's fails too. */
static void body_tls_wrong_name(void *arg)
{
	struct tls_env *e = arg;
	struct tls_side c, s;
	uco_task *ct, *st;
	int sv[2];

	make_socketpair(sv, SOCK_NONBLOCK);
	side_init(&c, e->client, "other.test", sv[0], 1, 2);
	side_init(&s, e->server, NULL, sv[1], 2, 1);
	ck_assert_int_eq(uco_spawn(&st, tls_side_task, &s, &server_opts), 0);
	ck_assert_int_eq(uco_spawn(&ct, tls_side_task, &c, &client_opts), 0);
	ck_assert_int_eq(uco_join(ct, NULL), -EPROTO);
	ck_assert_int_eq(uco_join(st, NULL), -EPROTO);
	uco_task_release(ct);
	uco_task_release(st);
	ck_assert_int_eq(c.verify, X509_V_ERR_HOSTNAME_MISMATCH);
	ck_assert_uint_eq(c.sent + c.received + s.sent + s.received, 0);
	ck_assert_uint_eq(inflight(), 0);
}

START_TEST(tls_wrong_name)
{
	struct tls_env e;

	tls_env_init(&e);
	tls_run(body_tls_wrong_name, &e, 1);
	tls_env_free(&e);
}
END_TEST

/* The server hangs up after the handshake, without close_notify.  A client
 * waiting to read sees -ECONNRESET (no truncation passes for an end of
 * stream); a client writing sees -EPIPE (SIGPIPE is ignored). */
struct hangup_server {
	struct tls_conn k;
	int fd;
};

static void *hangup_server_task(void *arg)
{
	struct hangup_server *h = arg;

	h->k.r = tls_io(h->k.ssl, TLS_HANDSHAKE, NULL, 0);
	/* Let the client settle into its read, then go. */
	if (h->k.r == 0)
		h->k.r = uco_nop();
	SSL_free(h->k.ssl);
	h->k.ssl = NULL;
	close(h->fd);
	return NULL;
}

static void body_tls_peer_hangup(void *arg)
{
	struct tls_env *e = arg;

	for (int writing = 0; writing < 2; writing++) {
		struct hangup_server h = { { 0 }, -1 };
		uco_task *st;
		SSL *c;
		char buf[64];
		int sv[2];
		int r;

		make_socketpair(sv, SOCK_NONBLOCK);
		c = tls_new(e->client, sv[0], TLS_HOST);
		h.k.ssl = tls_new(e->server, sv[1], NULL);
		h.fd = sv[1];
		ck_assert_ptr_nonnull(c);
		ck_assert_ptr_nonnull(h.k.ssl);
		ck_assert_int_eq(uco_spawn(&st, hangup_server_task, &h,
					   &server_opts),
				 0);
		ck_assert_int_eq(tls_io(c, TLS_HANDSHAKE, NULL, 0), 0);
		if (writing) {
			join_release(st); /* gone before we write */
			memset(buf, 'w', sizeof(buf));
			r = tls_io(c, TLS_WRITE, buf, (int)sizeof(buf));
			ck_assert_int_eq(r, -EPIPE);
		} else {
			r = tls_io(c, TLS_READ, buf, (int)sizeof(buf));
			ck_assert_int_eq(r, -ECONNRESET);
			join_release(st);
		}
		ck_assert_int_eq(h.k.r, 0);
		SSL_free(c);
		ck_assert_int_eq(close(sv[0]), 0);
	}
	ck_assert_uint_eq(inflight(), 0);
}

START_TEST(tls_peer_hangup)
{
	struct tls_env e;

	tls_env_init(&e);
	tls_run(body_tls_peer_hangup, &e, 1);
	tls_env_free(&e);
}
END_TEST

static Suite *poll_suite(void)
{
	Suite *s = suite_create("poll");
	TCase *tc;

	tc = tcase_create("readiness");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, pipe_readable);
	tcase_add_test(tc, ready_now);
	tcase_add_test(tc, hangup);
	tcase_add_test(tc, bad_fd);
	tcase_add_test(tc, outside_runtime);
	tcase_add_test(tc, many_one_core);
	tcase_add_test(tc, many_two_cores);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel_timeout");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, cancel_waiting);
	tcase_add_test(tc, cancelled_before);
	tcase_add_test(tc, cancel_shielded);
	tcase_add_test(tc, cancel_race);
	tcase_add_test(tc, wait_for);
	tcase_add_test(tc, timeout_scope);
	suite_add_tcase(s, tc);

	tc = tcase_create("openssl");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, tls_one_core);
	tcase_add_test(tc, tls_two_cores);
	tcase_add_test(tc, tls_handshake_timeout);
	tcase_add_test(tc, tls_handshake_cancel);
	tcase_add_test(tc, tls_read_timeout);
	tcase_add_test(tc, tls_wrong_name);
	tcase_add_test(tc, tls_peer_hangup);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* OpenSSL writes to its sockets with write(2): a peer gone must be
	 * -EPIPE, not the end of the process. */
	signal(SIGPIPE, SIG_IGN);
	return th_main_run(poll_suite());
}
