/*
 * Multishot accept: one IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT whose
 * CQEs (one per connection) are queued here until a task takes them.
 *
 * Lifetime: the record is freed when its owner has closed it, no task is
 * inside uco_acceptor_next(), and the kernel has posted the multishot's
 * last CQE (the one without IORING_CQE_F_MORE) — whichever comes last.
 * `refs` counts those three.
 *
 * A woken waiter takes nothing with it: the results stay queued until some
 * task pops them, so a waiter cancelled after being woken cannot lose a
 * connection; it passes the wake-up on to the next waiter instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <uco/net.h>

#include "core/alloc.h"
#include "core/loop.h"
#include "core/wait.h"
#include "fifo.h"
#include "io.h"

struct uco_acceptor {
	struct uco__cqe_handler h;    /* first: the CQE's user_data */
	struct uco__loop *loop;
	int lfd;
	struct uco__fifo q;           /* results (int): fds or -errnos */
	struct uco__waitq waiters;
	unsigned refs;
	bool armed;                   /* the multishot is in the kernel */
	bool closed;
};

static void acceptor_put(struct uco_acceptor *a)
{
	if (--a->refs)
		return;
	uco__fifo_free(&a->q);
	uco__free(a, sizeof(*a));
}

static void drain_closing(struct uco_acceptor *a)
{
	while (a->q.len) {
		int fd;

		uco__fifo_pop(&a->q, &fd);
		if (fd >= 0)
			close(fd);
	}
}

static void on_cqe(struct uco__cqe_handler *h, int res, uint32_t flags)
{
	struct uco_acceptor *a = (struct uco_acceptor *)h;
	bool last = !(flags & IORING_CQE_F_MORE);

	if (a->closed) {
		if (res >= 0)
			close(res);
	} else if (res == -ECANCELED && last) {
		/* Our own cancel (never sent while open): nothing to report. */
	} else if (!uco__fifo_push(&a->q, &res)) {
		if (res >= 0)
			close(res); /* out of memory: the client sees a reset */
	} else {
		uco__waitq_wake_one(&a->waiters, 0);
	}
	if (last) {
		a->armed = false;
		/* Ended with nothing queued (a cancel from outside): a waiter
		 * must re-arm it. */
		if (!a->closed && !a->q.len)
			uco__waitq_wake_one(&a->waiters, 0);
		acceptor_put(a);
	}
}

UCO_API int uco_acceptor_open(uco_acceptor **out, int listen_fd)
{
	struct uco__loop *l = uco__io_loop();
	struct uco_acceptor *a;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!l)
		return -EPERM;
	if (listen_fd < 0)
		return -EBADF;
	a = uco__zalloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	uco__fifo_init(&a->q, sizeof(int));
	a->h.fn = on_cqe;
	a->loop = l;
	a->lfd = listen_fd;
	a->refs = 1;
	uco__waitq_init(&a->waiters);
	*out = a;
	return 0;
}

static void arm(struct uco_acceptor *a)
{
	struct io_uring_sqe *sqe = uco__sqe_get(a->loop, 1);

	io_uring_prep_multishot_accept(sqe, a->lfd, NULL, NULL, SOCK_CLOEXEC);
	uco__handler_submitted(&a->h, sqe);
	a->armed = true;
	a->refs++;
}

UCO_API int uco_acceptor_next(uco_acceptor *a)
{
	int r = 0;

	if (!a)
		return -EINVAL;
	if (uco__io_loop() != a->loop)
		return uco__io_loop() ? -EXDEV : -EPERM;
	if (a->closed)
		return -EBADF;
	a->refs++;
	for (;;) {
		if (a->q.len) {
			uco__fifo_pop(&a->q, &r);
			break;
		}
		if (!a->armed)
			arm(a);
		r = uco__waitq_wait(&a->waiters, "accept");
		if (a->closed) {
			r = -EBADF;
			break;
		}
		if (r < 0) {
			/* Cut short: hand any queued result to the next. */
			if (a->q.len)
				uco__waitq_wake_one(&a->waiters, 0);
			break;
		}
	}
	acceptor_put(a);
	return r;
}

UCO_API void uco_acceptor_close(uco_acceptor *a)
{
	if (!a || a->closed)
		return;
	if (uco__io_loop() != a->loop) {
		/* Its multishot lives in another ring: a cancel from here
		 * cannot reach it. */
		fprintf(stderr, "uco: uco_acceptor_close() called off the "
				"acceptor's core\n");
		abort();
	}
	a->closed = true;
	drain_closing(a);
	if (a->armed)
		uco__handler_cancel(&a->h);
	uco__waitq_wake_all(&a->waiters, -EBADF);
	acceptor_put(a);
}
