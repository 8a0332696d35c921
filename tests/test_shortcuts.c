/*
 * Suite "shortcuts": the calls that make asyncio's programs short (issue
 * 14), beside the ones they shorten.
 *
 *   - uco_fail_msg / uco_task_error_msg; UCO_TRY; uco_go (detached);
 *   - free_result: an untaken result is freed once, a taken one never,
 *     a failed task's never;
 *   - a long UTF-8 name is cut before the character that does not fit;
 *   - uco_wait_for_fn: the result, and a timeout that cancels and joins fn;
 *   - uco_spawn_thread: a result, gather over thread tasks, a queued call
 *     cancelled never runs, a running one's task ends at once;
 *   - task sets (uco_group_create_set): kept handles, no fail-fast;
 *   - uco_gather_all / uco_gather_fn / uco_wait_split /
 *     uco_as_completed_next_index;
 *   - UCO_WITH_SEM releases on every way out;
 *   - task-locals with a default, set/reset with a token;
 *   - generators: uco_gen_send and uco_gen_throw;
 *   - sleeps due together wake as one batch, in deadline order, before
 *     any task they make ready runs (time.h); scopes and cancel on them.
 */
#include <stdatomic.h>

#include "harness.h"
#include "leakcheck.h"

#define V(n) ((void *)(uintptr_t)(n))

/* ---- errors with a message, UCO_TRY, detached spawn ---------------------- */

static void *fails_with_msg(void *arg)
{
	return uco_fail_msg(-EIO, "Failed to fetch %s", (const char *)arg);
}

static void *tries(void *arg)
{
	(void)arg;
	UCO_TRY(uco_yield());
	UCO_TRY(uco_join(uco_current(), NULL)); /* -EDEADLK */
	return V(1);                             /* not reached */
}

static void *plain_fail(void *arg)
{
	return uco_fail((int)(intptr_t)arg);
}

static void *sets_event(void *arg)
{
	(void)uco_event_set(arg);
	return NULL;
}

static void body_errors(void *arg)
{
	uco_task *t;
	uco_event ev;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, fails_with_msg, "http://x", NULL), 0);
	ck_assert_ptr_null(uco_task_error_msg(t)); /* not finished yet */
	ck_assert_int_eq(uco_join(t, NULL), -EIO);
	ck_assert_str_eq(uco_task_error_msg(t), "Failed to fetch http://x");
	uco_task_release(t);

	ck_assert_int_eq(uco_spawn(&t, plain_fail, V(-ENOENT), NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), -ENOENT);
	ck_assert_str_eq(uco_task_error_msg(t), "No such file or directory");
	uco_task_release(t);

	ck_assert_int_eq(uco_spawn(&t, tries, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), -EDEADLK);
	uco_task_release(t);

	ck_assert_int_eq(uco_spawn(&t, sets_event, &ev, NULL), 0);
	ck_assert_int_eq(uco_event_init(&ev), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	ck_assert_ptr_null(uco_task_error_msg(t)); /* succeeded */
	uco_task_release(t);

	/* Detached: nothing to release, and it runs. */
	ck_assert_int_eq(uco_event_init(&ev), 0);
	ck_assert_int_eq(uco_go(sets_event, &ev), 0);
	ck_assert_int_eq(uco_event_wait(&ev), 0);
	ck_assert_int_eq(uco_go(NULL, NULL), -EINVAL);
}

START_TEST(test_errors)
{
	lc_run(body_errors, NULL, NULL);
}
END_TEST

/* ---- free_result ---------------------------------------------------------- */

struct counted {
	int *freed;
};

static void free_counted(void *p)
{
	struct counted *c = p;

	(*c->freed)++;
	free(c);
}

static void *make_counted(void *arg)
{
	struct counted *c = malloc(sizeof(*c));

	ck_assert_ptr_nonnull(c);
	c->freed = arg;
	return c;
}

static void *counted_then_fail(void *arg)
{
	(void)arg;
	return uco_fail(-EIO);
}

static void body_free_result(void *arg)
{
	uco_spawn_opts o = { .free_result = free_counted };
	int freed = 0;
	uco_task *t, *ts[3];
	void *res[3];

	(void)arg;
	/* Released unjoined: freed with the record. */
	ck_assert_int_eq(uco_spawn(&t, make_counted, &freed, &o), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(uco_task_done(t));
	ck_assert_int_eq(freed, 0);
	uco_task_release(t);
	ck_assert_int_eq(freed, 1);

	/* Released before it even ran: freed when it ends. */
	ck_assert_int_eq(uco_spawn(&t, make_counted, &freed, &o), 0);
	uco_task_release(t);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(freed, 2);

	/* Detached. */
	ck_assert_int_eq(uco_spawn(NULL, make_counted, &freed, &o), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(freed, 3);

	/* Joined with a result pointer: the caller's now. */
	ck_assert_int_eq(uco_spawn(&t, make_counted, &freed, &o), 0);
	ck_assert_int_eq(uco_join(t, &res[0]), 0);
	uco_task_release(t);
	ck_assert_int_eq(freed, 3);
	free_counted(res[0]);
	ck_assert_int_eq(freed, 4);

	/* Joined without one: still nobody's, so freed. */
	ck_assert_int_eq(uco_spawn(&t, make_counted, &freed, &o), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(freed, 5);

	/* Gathered with results taken, and without. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uco_spawn(&ts[i], make_counted, &freed, &o), 0);
	ck_assert_int_eq(uco_gather(ts, 3, res, NULL), 0);
	for (int i = 0; i < 3; i++)
		uco_task_release(ts[i]);
	ck_assert_int_eq(freed, 5);
	for (int i = 0; i < 3; i++)
		free_counted(res[i]);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uco_spawn(&ts[i], make_counted, &freed, &o), 0);
	ck_assert_int_eq(uco_gather(ts, 3, NULL, NULL), 0);
	for (int i = 0; i < 3; i++)
		uco_task_release(ts[i]);
	ck_assert_int_eq(freed, 11);

	/* A failed task has no result to free. */
	ck_assert_int_eq(uco_spawn(&t, counted_then_fail, &freed, &o), 0);
	ck_assert_int_eq(uco_join(t, NULL), -EIO);
	uco_task_release(t);
	ck_assert_int_eq(freed, 11);
}

START_TEST(test_free_result)
{
	lc_run(body_free_result, NULL, NULL);
}
END_TEST

/* ---- names ---------------------------------------------------------------- */

static void *nothing(void *arg)
{
	return arg;
}

static void body_names(void *arg)
{
	/* 13 characters of 3 bytes: 39 bytes; 10 fit in 31. */
	const char *longname = "一个很长的后台任务名称示例";
	uco_spawn_opts o = { .name = longname };
	uco_task *t;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, nothing, NULL, &o), 0);
	ck_assert_uint_eq(strlen(uco_task_name(t)), 30);
	ck_assert_str_eq(uco_task_name(t), "一个很长的后台任务名");
	uco_task_release(t);
	/* ASCII is still cut at 31 bytes. */
	o.name = "abcdefghijklmnopqrstuvwxyz0123456789";
	ck_assert_int_eq(uco_spawn(&t, nothing, NULL, &o), 0);
	ck_assert_str_eq(uco_task_name(t), "abcdefghijklmnopqrstuvwxyz01234");
	uco_task_release(t);
	/* A two-byte character straddling byte 31. */
	o.name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaé"; /* 30 a's, é at 30..31 */
	ck_assert_int_eq(uco_spawn(&t, nothing, NULL, &o), 0);
	ck_assert_uint_eq(strlen(uco_task_name(t)), 30);
	uco_task_release(t);
	ck_assert_int_eq(uco_yield(), 0);
}

START_TEST(test_names)
{
	lc_run(body_names, NULL, NULL);
}
END_TEST

/* ---- wait_for on a task function ------------------------------------------ */

struct slow {
	uint64_t ns;
	int slept;      /* what its sleep returned */
	bool returned;
};

static void *slow_fn(void *arg)
{
	struct slow *s = arg;

	s->slept = uco_sleep(s->ns);
	s->returned = true;
	if (s->slept < 0)
		return uco_fail(s->slept);
	return V(42);
}

static void body_wait_for_fn(void *arg)
{
	struct slow fast = { .ns = 0 }, slow = { .ns = 3600 * UCO_NSEC_PER_SEC };
	void *res = V(1);

	(void)arg;
	ck_assert_int_eq(uco_wait_for_fn(3600 * UCO_NSEC_PER_SEC, slow_fn, &fast,
					 &res), 0);
	ck_assert_ptr_eq(res, V(42));
	ck_assert_int_eq(uco_wait_for_fn(UCO_NSEC_PER_MSEC, slow_fn, &slow, &res),
			 -ETIMEDOUT);
	ck_assert_ptr_null(res);
	/* Cancelled and joined before wait_for_fn returned. */
	ck_assert(slow.returned);
	ck_assert_int_eq(slow.slept, -ECANCELED);
	ck_assert_int_eq(uco_wait_for_fn(UCO_NSEC_PER_SEC, NULL, NULL, NULL),
			 -EINVAL);
}

START_TEST(test_wait_for_fn)
{
	lc_run(body_wait_for_fn, NULL, NULL);
	ck_assert_int_eq(uco_wait_for_fn(1, slow_fn, NULL, NULL), -EPERM);
}
END_TEST

/* ---- blocking work as a task ----------------------------------------------- */

static void *square(void *arg)
{
	long n = (long)arg;

	return V(n * n);
}

struct blocker {
	int fd[2];     /* the call blocks until a byte comes on fd[0] */
	int ready[2];  /* it writes a byte here when it has started */
	atomic_bool ran;
};

/* Blocks its pool thread until a byte arrives on the pipe. */
static void *block_on_pipe(void *arg)
{
	struct blocker *b = arg;
	char c;

	/* No ck_assert here: Check is not thread-safe; the loop checks. */
	atomic_store(&b->ran, true);
	if (write(b->ready[1], "r", 1) != 1 || read(b->fd[0], &c, 1) != 1)
		return NULL;
	return V(7);
}

static void *mark_ran(void *arg)
{
	atomic_store(&((struct blocker *)arg)->ran, true);
	return NULL;
}

static void body_spawn_thread(void *arg)
{
	uco_task *t[3], *queued;
	void *res[3];
	int errs[3];
	struct blocker b1, b2;

	(void)arg;
	for (long i = 0; i < 3; i++)
		ck_assert_int_eq(uco_spawn_thread(&t[i], square, V(i + 2), NULL), 0);
	ck_assert_int_eq(uco_gather(t, 3, res, errs), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_ptr_eq(res[i], V((i + 2) * (i + 2)));
		uco_task_release(t[i]);
	}
	ck_assert_int_eq(uco_spawn_thread(&t[0], NULL, NULL, NULL), -EINVAL);

	/* One pool thread (see the config): a blocked call keeps it, so the
	 * next call stays queued; cancelling it takes it off the queue. */
	ck_assert_int_eq(pipe(b1.fd), 0);
	ck_assert_int_eq(pipe(b1.ready), 0);
	atomic_init(&b1.ran, false);
	atomic_init(&b2.ran, false);
	ck_assert_int_eq(uco_spawn_thread(&t[0], block_on_pipe, &b1, NULL), 0);
	ck_assert_int_eq(uco_read(b1.ready[0], res, 1, -1), 1); /* started */
	ck_assert_int_eq(uco_spawn_thread(&queued, mark_ran, &b2, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0); /* it is queued now */
	ck_assert_int_eq(uco_cancel(queued), 0);
	ck_assert_int_eq(uco_join(queued, NULL), -ECANCELED);
	uco_task_release(queued);
	/* wait_for_task on the running one: cut short, it ends at once. */
	ck_assert_int_eq(uco_wait_for_task(t[0], UCO_NSEC_PER_MSEC, NULL),
			 -ETIMEDOUT);
	ck_assert(uco_task_done(t[0]));
	uco_task_release(t[0]);
	/* Let the abandoned call finish; its cleanup runs on this loop. */
	ck_assert_int_eq(write(b1.fd[1], "x", 1), 1);
	ck_assert_int_eq(uco_to_thread(square, V(3), &res[0], NULL), 0);
	ck_assert(!atomic_load(&b2.ran)); /* the cancelled one never ran */
	close(b1.fd[0]);
	close(b1.fd[1]);
	close(b1.ready[0]);
	close(b1.ready[1]);
}

START_TEST(test_spawn_thread)
{
	uco_config cfg;

	uco_config_init(&cfg);
	cfg.offload_threads = 1;
	lc_run(body_spawn_thread, NULL, &cfg);
}
END_TEST

/* ---- combinators ------------------------------------------------------------ */

static void *index_or_fail(void *arg)
{
	long i = (long)arg;

	if (i == 2)
		return uco_fail(-EIO);
	if (i == 3)
		return uco_fail(-ENOENT);
	return V(i * 10);
}

/* Sleeps arg ms. */
static void *sleep_ms(void *arg)
{
	if (uco_sleep((uint64_t)(uintptr_t)arg * UCO_NSEC_PER_MSEC) < 0)
		return uco_fail(-ECANCELED);
	return arg;
}

static void *wait_event(void *arg)
{
	UCO_TRY(uco_event_wait(arg));
	return V(5);
}

static void body_combine(void *arg)
{
	void *res[5];
	int errs[5];
	void *args[3] = { V(0), V(1), V(4) };
	uco_task *t[3], *done[3], *pending[3], *got;
	uco_as_completed *it;
	size_t np, idx, seen = 0;
	uco_event ev;

	(void)arg;
	/* gather_fn with indexes as arguments; the first failure by index. */
	ck_assert_int_eq(uco_gather_fn(index_or_fail, NULL, 5, res, errs), -EIO);
	ck_assert_ptr_eq(res[4], V(40));
	ck_assert_int_eq(errs[2], -EIO);
	ck_assert_int_eq(errs[3], -ENOENT);
	ck_assert_ptr_null(res[3]);
	ck_assert_int_eq(uco_gather_fn(index_or_fail, args, 3, res, NULL), 0);
	ck_assert_ptr_eq(res[2], V(40));
	ck_assert_int_eq(uco_gather_fn(index_or_fail, NULL, 0, NULL, NULL), 0);
	ck_assert_int_eq(uco_gather_fn(NULL, NULL, 1, NULL, NULL), -EINVAL);

	/* gather_all on handles. */
	for (long i = 0; i < 3; i++)
		ck_assert_int_eq(uco_spawn(&t[i], index_or_fail, V(i + 1), NULL), 0);
	ck_assert_int_eq(uco_gather_all(t, 3, res, errs), -EIO);
	ck_assert_int_eq(uco_gather(t, 3, NULL, NULL), 2); /* the old count */
	for (int i = 0; i < 3; i++)
		uco_task_release(t[i]);

	/* wait_split: one done, two pending. */
	ck_assert_int_eq(uco_event_init(&ev), 0);
	ck_assert_int_eq(uco_spawn(&t[0], wait_event, &ev, NULL), 0);
	ck_assert_int_eq(uco_spawn(&t[1], index_or_fail, V(1), NULL), 0);
	ck_assert_int_eq(uco_spawn(&t[2], wait_event, &ev, NULL), 0);
	ck_assert_int_eq(uco_wait_split(t, 3, UCO_FIRST_COMPLETED, UINT64_MAX,
					done, pending, &np), 1);
	ck_assert_ptr_eq(done[0], t[1]);
	ck_assert_uint_eq(np, 2);
	ck_assert_ptr_eq(pending[0], t[0]);
	ck_assert_ptr_eq(pending[1], t[2]);
	ck_assert_int_ge(uco_event_set(&ev), 0);
	ck_assert_int_eq(uco_wait_split(t, 3, UCO_ALL_COMPLETED, UINT64_MAX,
					done, NULL, &np), 3);
	ck_assert_uint_eq(np, 0);
	for (int i = 0; i < 3; i++)
		uco_task_release(t[i]);

	/* as_completed with the index: the one not waiting first. */
	ck_assert_int_eq(uco_event_init(&ev), 0);
	ck_assert_int_eq(uco_spawn(&t[0], wait_event, &ev, NULL), 0);
	ck_assert_int_eq(uco_spawn(&t[1], index_or_fail, V(1), NULL), 0);
	ck_assert_int_eq(uco_spawn(&t[2], wait_event, &ev, NULL), 0);
	ck_assert_int_eq(uco_as_completed_create(&it, t, 3), 0);
	ck_assert_int_eq(uco_as_completed_next_index(it, &got, &idx), 1);
	ck_assert_uint_eq(idx, 1);
	ck_assert_ptr_eq(got, t[1]);
	seen |= 1u << idx;
	ck_assert_int_ge(uco_event_set(&ev), 0);
	while (uco_as_completed_next_index(it, NULL, &idx) == 1) {
		ck_assert_uint_lt(idx, 3);
		ck_assert(!(seen & (1u << idx)));
		ck_assert(uco_task_done(t[idx]));
		seen |= 1u << idx;
	}
	ck_assert_uint_eq(seen, 7);
	uco_as_completed_free(it);
	for (int i = 0; i < 3; i++)
		uco_task_release(t[i]);
}

START_TEST(test_combine)
{
	lc_run(body_combine, NULL, NULL);
}
END_TEST

/* A gather_fn cut short cancels and joins its tasks. */
static void *gather_forever(void *arg)
{
	return V(uco_gather_fn(sleep_ms, arg, 3, NULL, NULL));
}

static void body_gather_fn_cancel(void *arg)
{
	void *forever[3] = { V(3600000), V(3600000), V(3600000) };
	uco_task *t;
	void *r;

	(void)arg;
	ck_assert_int_eq(uco_spawn(&t, gather_forever, forever, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, &r), 0);
	ck_assert_int_eq((int)(intptr_t)r, -ECANCELED);
}

START_TEST(test_gather_fn_cancel)
{
	lc_run(body_gather_fn_cancel, NULL, NULL);
}
END_TEST

/* ---- UCO_WITH_SEM ------------------------------------------------------------ */

static int with_sem_return(uco_sem *s)
{
	int r;

	UCO_WITH_SEM(s, r) {
		ck_assert_uint_eq(uco_sem_value(s), 1);
		return 5; /* releases */
	}
	return r;
}

static void *with_sem_task(void *arg)
{
	int r;

	UCO_WITH_SEM((uco_sem *)arg, r) {
		if (uco_sleep(3600 * UCO_NSEC_PER_SEC) < 0)
			return uco_fail(-ECANCELED); /* releases */
	}
	return NULL;
}

struct sem_waiter {
	uco_sem *s;
	int r;
	bool body_ran;
};

static void *with_sem_waiter(void *arg)
{
	struct sem_waiter *w = arg;

	UCO_WITH_SEM(w->s, w->r) {
		w->body_ran = true;
	}
	return NULL;
}

static void body_with_sem(void *arg)
{
	uco_sem s;
	uco_task *a, *b, *c;
	struct sem_waiter w = { .s = &s };
	int r;

	(void)arg;
	ck_assert_int_eq(uco_sem_init(&s, 2), 0);
	ck_assert_int_eq(with_sem_return(&s), 5);
	ck_assert_uint_eq(uco_sem_value(&s), 2);
	UCO_WITH_SEM(&s, r) {
		ck_assert_uint_eq(uco_sem_value(&s), 1);
		break; /* releases */
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(uco_sem_value(&s), 2);
	/* Two holders cancelled in their bodies; a third waits and is
	 * cancelled in the acquire: body skipped, nothing released. */
	ck_assert_int_eq(uco_spawn(&a, with_sem_task, &s, NULL), 0);
	ck_assert_int_eq(uco_spawn(&b, with_sem_task, &s, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_uint_eq(uco_sem_value(&s), 0);
	ck_assert_int_eq(uco_spawn(&c, with_sem_waiter, &w, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(c), 0);
	ck_assert_int_eq(uco_join(c, NULL), 0);
	ck_assert_int_eq(w.r, -ECANCELED);
	ck_assert(!w.body_ran);
	uco_task_release(c);
	ck_assert_int_eq(uco_cancel(a), 0);
	ck_assert_int_eq(uco_cancel(b), 0);
	ck_assert_int_eq(uco_join(a, NULL), -ECANCELED);
	ck_assert_int_eq(uco_join(b, NULL), -ECANCELED);
	ck_assert_uint_eq(uco_sem_value(&s), 2);
	uco_task_release(a);
	uco_task_release(b);
	uco_sem_destroy(&s);
}

START_TEST(test_with_sem)
{
	lc_run(body_with_sem, NULL, NULL);
}
END_TEST

/* ---- task-locals: default and token --------------------------------------------- */

static int key_id, key_other;

static void *read_id(void *arg)
{
	(void)arg;
	return uco_local_get_or(&key_id, V(99));
}

static void body_locals(void *arg)
{
	uco_local_token tok1, tok2;
	uco_task *t;
	void *r;

	(void)arg;
	ck_assert_ptr_eq(uco_local_get_or(&key_id, V(99)), V(99));
	ck_assert_int_eq(uco_local_set_token(&key_id, V(1), &tok1), 0);
	ck_assert_int_eq(uco_local_set(&key_other, V(5)), 0);
	ck_assert_int_eq(uco_local_set_token(&key_id, NULL, &tok2), 0);
	ck_assert_ptr_null(uco_local_get_or(&key_id, V(99))); /* set to NULL */
	ck_assert_int_eq(uco_local_reset(&tok2), 0);
	ck_assert_ptr_eq(uco_local_get_or(&key_id, V(99)), V(1));
	ck_assert_int_eq(uco_local_reset(&tok2), -EINVAL); /* used */
	ck_assert_int_eq(uco_local_set(&key_other, V(6)), 0);
	ck_assert_int_eq(uco_local_reset(&tok1), 0);       /* back to unset */
	ck_assert_ptr_eq(uco_local_get_or(&key_id, V(99)), V(99));
	ck_assert_ptr_null(uco_local_get(&key_id));
	ck_assert_ptr_eq(uco_local_get(&key_other), V(6)); /* untouched */
	/* A child sees the default too, and then a value. */
	ck_assert_int_eq(uco_spawn(&t, read_id, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(t, &r), 0);
	ck_assert_ptr_eq(r, V(99));
	uco_task_release(t);
	ck_assert_int_eq(uco_local_set(&key_id, V(3)), 0);
	ck_assert_int_eq(uco_spawn(&t, read_id, NULL, NULL), 0);
	ck_assert_int_eq(uco_join(t, &r), 0);
	ck_assert_ptr_eq(r, V(3));
	uco_task_release(t);
	ck_assert_int_eq(uco_local_reset(NULL), -EINVAL);
}

START_TEST(test_locals)
{
	lc_run(body_locals, NULL, NULL);
	ck_assert_ptr_eq(uco_local_get_or(&key_id, V(4)), V(4));
}
END_TEST

/* ---- generators: asend, athrow ------------------------------------------------- */

/* Yields the running total of what it is sent; -EAGAIN thrown in resets
 * the total and yields -1; anything else thrown ends it with that. */
static int accumulate(uco_gen *g, void *arg)
{
	long total = (long)(intptr_t)uco_gen_received(g);
	void *in;
	int r;

	(void)arg;
	for (;;) {
		r = uco_gen_yield_recv(g, V(total), &in);
		if (r == -EAGAIN) {
			total = 0;
			r = uco_gen_yield_recv(g, V(-1), &in);
		}
		if (r < 0)
			return r == -EPIPE ? 0 : r;
		total += (long)(intptr_t)in;
	}
}

static void body_gen(void *arg)
{
	uco_gen *g;
	void *v;

	(void)arg;
	ck_assert_int_eq(uco_gen_start(&g, accumulate, NULL), 0);
	ck_assert_int_eq(uco_gen_send(g, V(10), &v), 1);
	ck_assert_ptr_eq(v, V(10));
	ck_assert_int_eq(uco_gen_send(g, V(5), &v), 1);
	ck_assert_ptr_eq(v, V(15));
	ck_assert_int_eq(uco_gen_next(g, &v), 1); /* sends nothing */
	ck_assert_ptr_eq(v, V(15));
	ck_assert_int_eq(uco_gen_throw(g, -EAGAIN, &v), 1);
	ck_assert_ptr_eq(v, V(-1));
	ck_assert_int_eq(uco_gen_send(g, V(2), &v), 1);
	ck_assert_ptr_eq(v, V(2));
	ck_assert_int_eq(uco_gen_throw(g, 5, &v), -EINVAL);
	ck_assert_int_eq(uco_gen_throw(g, -EIO, &v), -EIO); /* it ended */
	ck_assert(uco_gen_done(g));
	ck_assert_int_eq(uco_gen_next(g, &v), -EIO);
	ck_assert_int_eq(uco_gen_close(g), 0);

	/* Thrown before the start: the body never runs. */
	ck_assert_int_eq(uco_gen_start(&g, accumulate, NULL), 0);
	ck_assert_int_eq(uco_gen_throw(g, -ENOENT, &v), -ENOENT);
	ck_assert_int_eq(uco_gen_close(g), 0);
}

START_TEST(test_gen)
{
	lc_run(body_gen, NULL, NULL);
}
END_TEST

/* ---- timers due together wake as one batch ------------------------------ */

struct batch {
	uco_sem sem;
	uint64_t base;   /* the deadlines: base + i */
	char log[16];    /* 'A'..'C' start (upper), 'a'..'c' end (lower) */
	size_t n;
};

struct sleeper {
	struct batch *b;
	int i;
};

static void *batch_sleeper(void *arg)
{
	struct sleeper *s = arg;
	int r;

	UCO_WITH_SEM(&s->b->sem, r) {
		s->b->log[s->b->n++] = (char)('A' + s->i);
		UCO_TRY(uco_sleep_until(s->b->base + (uint64_t)s->i));
		s->b->log[s->b->n++] = (char)('a' + s->i);
	}
	UCO_TRY(r);
	return NULL;
}

static void *past_sleeper(void *arg)
{
	struct sleeper *s = arg;

	UCO_TRY(uco_sleep_until(s->b->base - 10 + (uint64_t)s->i));
	s->b->log[s->b->n++] = (char)('a' + s->i);
	return NULL;
}

static void body_batch(void *arg)
{
	struct batch b = { .n = 0 };
	struct sleeper s[3];
	uco_task *t[3];

	(void)arg;
	/* Semaphore of 2, three sleepers: A and B sleep until base and
	 * base + 1; both have passed when the loop looks, so both wake and
	 * finish before C (made ready by A's release) starts. */
	ck_assert_int_eq(uco_sem_init(&b.sem, 2), 0);
	b.base = uco_now() + 20 * UCO_NSEC_PER_MSEC;
	for (int i = 0; i < 3; i++) {
		s[i] = (struct sleeper){ &b, i };
		ck_assert_int_eq(uco_spawn(&t[i], batch_sleeper, &s[i], NULL), 0);
	}
	ck_assert_int_eq(uco_gather_all(t, 3, NULL, NULL), 0);
	ck_assert_int_ge(uco_now(), b.base + 1);
	b.log[b.n] = '\0';
	ck_assert_str_eq(b.log, "ABabCc");
	for (int i = 0; i < 3; i++)
		uco_task_release(t[i]);
	uco_sem_destroy(&b.sem);

	/* Deadlines already past, given out of order: they wake in one
	 * batch in deadline order. */
	b.n = 0;
	b.base = uco_now();
	for (int i = 0; i < 3; i++)
		s[i] = (struct sleeper){ &b, 2 - i };
	ck_assert_int_eq(uco_gather_fn(past_sleeper,
				       (void *[]){ &s[0], &s[1], &s[2] }, 3,
				       NULL, NULL), 0);
	b.log[b.n] = '\0';
	ck_assert_str_eq(b.log, "abc");
}

START_TEST(test_batch)
{
	lc_run(body_batch, NULL, NULL);
}
END_TEST

/* A sleep cut short by a scope is -ETIMEDOUT and marks the scope; one that
 * ends first under a scope is 0; a cancelled one is -ECANCELED. */
static void *sleep_forever(void *arg)
{
	(void)arg;
	return V(uco_sleep(3600 * UCO_NSEC_PER_SEC));
}

static void body_sleep_scopes(void *arg)
{
	uco_task *t;
	void *r;
	int sc;

	(void)arg;
	sc = uco_timeout_begin(UCO_NSEC_PER_MSEC);
	ck_assert_int_ge(sc, 0);
	ck_assert_int_eq(uco_sleep(3600 * UCO_NSEC_PER_SEC), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_expired(sc), 1);
	ck_assert_int_eq(uco_timeout_end(sc), -ETIMEDOUT);
	sc = uco_timeout_begin(3600 * UCO_NSEC_PER_SEC);
	ck_assert_int_eq(uco_sleep(UCO_NSEC_PER_MSEC), 0);
	ck_assert_int_eq(uco_timeout_expired(sc), 0);
	ck_assert_int_eq(uco_timeout_end(sc), 0);
	ck_assert_int_eq(uco_spawn(&t, sleep_forever, NULL, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, &r), 0);
	ck_assert_int_eq((int)(intptr_t)r, -ECANCELED);
	uco_task_release(t);
}

START_TEST(test_sleep_scopes)
{
	lc_run(body_sleep_scopes, NULL, NULL);
}
END_TEST

/* ---- task sets ----------------------------------------------------------- */

static void *fetch_like(void *arg)
{
	long i = (long)arg;

	if (uco_yield() < 0)
		return uco_fail(-ECANCELED);
	if (i == 1)
		return uco_fail_msg(-ECONNREFUSED, "Failed to fetch %ld", i);
	return V(i + 100);
}

static void *set_forever(void *arg)
{
	uco_group *g = arg;

	for (int i = 0; i < 3; i++)
		UCO_TRY(uco_group_spawn(g, NULL, sleep_ms, V(3600000), NULL));
	return V(uco_group_wait_results(g, NULL, NULL));
}

static void body_set(void *arg)
{
	uco_group *g;
	void *res[3];
	int errs[3];
	uco_task *t;
	void *r;

	(void)arg;
	ck_assert_int_eq(uco_group_create_set(&g), 0);
	for (long i = 0; i < 3; i++)
		ck_assert_int_eq(uco_group_spawn(g, NULL, fetch_like, V(i), NULL), 0);
	ck_assert_uint_eq(uco_group_size(g), 3);
	/* The failure of member 1 does not cancel member 2. */
	ck_assert_int_eq(uco_group_wait_results(g, res, errs), -ECONNREFUSED);
	ck_assert_ptr_eq(res[0], V(100));
	ck_assert_ptr_null(res[1]);
	ck_assert_ptr_eq(res[2], V(102));
	ck_assert_int_eq(errs[2], 0);
	ck_assert_str_eq(uco_task_error_msg(uco_group_task(g, 1)),
			 "Failed to fetch 1");
	ck_assert_ptr_null(uco_group_task(g, 3));
	uco_group_free(g);

	/* A plain group is not a set. */
	ck_assert_int_eq(uco_group_create(&g), 0);
	ck_assert_int_eq(uco_group_wait_results(g, NULL, NULL), -EINVAL);
	ck_assert_uint_eq(uco_group_size(g), 0);
	uco_group_free(g);

	/* The waiter cancelled: the members are cancelled and joined. */
	ck_assert_int_eq(uco_group_create_set(&g), 0);
	ck_assert_int_eq(uco_spawn(&t, set_forever, g, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, &r), 0);
	ck_assert_int_eq((int)(intptr_t)r, -ECANCELED);
	for (size_t i = 0; i < 3; i++)
		ck_assert(uco_task_done(uco_group_task(g, i)));
	uco_task_release(t);
	uco_group_free(g);
}

START_TEST(test_set)
{
	lc_run(body_set, NULL, NULL);
}
END_TEST

static Suite *shortcuts_suite(void)
{
	Suite *s = suite_create("shortcuts");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_free_result);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_wait_for_fn);
	tcase_add_test(tc, test_spawn_thread);
	tcase_add_test(tc, test_combine);
	tcase_add_test(tc, test_gather_fn_cancel);
	tcase_add_test(tc, test_with_sem);
	tcase_add_test(tc, test_locals);
	tcase_add_test(tc, test_gen);
	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_sleep_scopes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(shortcuts_suite());
}
