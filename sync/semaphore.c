/*
 * Semaphore and BoundedSemaphore: a count and a FIFO wait list, per core.
 *
 * Direct hand-off, as in lock.c: a release with waiters present unlinks
 * the first waiter and wakes it with 0, meaning "you hold a permit"; the
 * count is not raised, so the permit cannot be taken by a task that
 * acquires between the release and the moment the waiter runs.  Invariant:
 * waiters only while the count is 0, so the fast path is one test.
 *
 * A waiter cancelled or timed out before the hand-off is unlinked by
 * uco__block()'s interrupt and returns the error holding nothing; one
 * already handed a permit returns 0 and holds it even if cancelled before
 * it runs (core/wait.h).  Either way every permit is accounted for: the
 * permits held plus the count always equal the permits in circulation,
 * never more.  Woken waiters do not read the semaphore again.
 */
#include <uco/semaphore.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "percore.h"

struct __attribute__((may_alias)) sem {
	struct uco__waitq waiters;
	struct uco__loop *loop;
	unsigned value;   /* free permits; waiters only when 0 */
	unsigned bound;   /* most free permits allowed */
};

UCO__OPAQUE_FITS(uco_sem, struct sem);

#define S(s) ((struct sem *)(void *)(s))

static int init(uco_sem *ps, unsigned value, unsigned bound)
{
	struct sem *s = S(ps);

	if (!ps || value > INT_MAX)
		return -EINVAL;
	if (!uco__tls_loop)
		return -EPERM;
	uco__waitq_init(&s->waiters);
	s->loop = uco__tls_loop;
	s->value = value;
	s->bound = bound;
	return 0;
}

UCO_API int uco_sem_init(uco_sem *s, unsigned value)
{
	return init(s, value, INT_MAX);
}

UCO_API int uco_sem_init_bounded(uco_sem *s, unsigned value)
{
	return init(s, value, value);
}

UCO_API void uco_sem_destroy(uco_sem *ps)
{
	if (!ps)
		return;
	if (!uco__waitq_empty(&S(ps)->waiters)) {
		fprintf(stderr, "uco: uco_sem_destroy() on a semaphore that "
				"tasks are waiting on\n");
		abort();
	}
	S(ps)->loop = NULL;
}

static inline int check(const uco_sem *ps)
{
	if (__builtin_expect(!ps, 0))
		return -EINVAL;
	return uco__home_check(((const struct sem *)(const void *)ps)->loop);
}

UCO_API int uco_sem_acquire(uco_sem *ps)
{
	struct sem *s = S(ps);
	int r = check(ps);

	if (__builtin_expect(r != 0, 0))
		return r;
	if (__builtin_expect(s->value != 0, 1)) {
		s->value--;
		return 0;
	}
	/* Woken with 0 only by a release handing over its permit. */
	return uco__waitq_wait(&s->waiters, "semaphore");
}

UCO_API int uco_sem_try_acquire(uco_sem *ps)
{
	struct sem *s = S(ps);
	int r = check(ps);

	if (r)
		return r;
	if (!s->value)
		return -EAGAIN;
	s->value--;
	return 0;
}

UCO_API int uco_sem_release(uco_sem *ps)
{
	struct sem *s = S(ps);
	int r = check(ps);

	if (__builtin_expect(r != 0, 0))
		return r;
	/* Checked first, as asyncio does: a bounded semaphore of 0 cannot be
	 * released, even to a waiter. */
	if (s->value >= s->bound)
		return -EOVERFLOW;
	if (!uco__waitq_wake_one(&s->waiters, 0))
		s->value++;
	return 0;
}

UCO_API unsigned uco_sem_value(const uco_sem *ps)
{
	return ((const struct sem *)(const void *)ps)->value;
}

UCO_API bool uco_sem_locked(const uco_sem *ps)
{
	return ((const struct sem *)(const void *)ps)->value == 0;
}
