/*
 * Multishot receive into a provided buffer ring: one IORING_OP_RECV with
 * IORING_RECV_MULTISHOT | IOSQE_BUFFER_SELECT; each CQE names the ring
 * buffer the kernel filled.  The chunks queue here until the owner takes
 * them with uco_mrecv_next() and gives them back with uco_mrecv_release().
 *
 * When the ring runs dry the kernel ends the multishot with -ENOBUFS (the
 * data waits in the socket).  The receiver re-arms on the next call, after
 * waiting for a buffer to be recycled if none is free, so an empty ring
 * never turns into a submit/-ENOBUFS spin.
 *
 * Lifetime as in io/acceptor.c: the record goes when it is closed, no task
 * is inside uco_mrecv_next(), every buffer handed out has been released,
 * and the multishot's last CQE is in.  Chunks
 * queued at close, and chunks that arrive after it, go straight back to the
 * ring: nothing leaks under cancellation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <uco/net.h>

#include "core/alloc.h"
#include "core/loop.h"
#include "core/wait.h"
#include "bufring.h"
#include "fifo.h"
#include "io.h"

struct chunk {
	int res;     /* bytes (> 0), 0 for end of stream, or -errno */
	unsigned bid;
};

struct uco_mrecv {
	struct uco__cqe_handler h;    /* first: the CQE's user_data */
	struct uco_bufring *br;
	int fd;
	struct uco__fifo q;           /* struct chunk: what came, in order */
	struct uco__waitq waiters;
	unsigned refs;
	bool armed;
	bool closed;
	bool eof;                     /* end of stream was handed out */
	unsigned starving;            /* tasks waiting for a free buffer */
};

static void mrecv_put(struct uco_mrecv *r)
{
	if (--r->refs)
		return;
	uco__bufring_unuse(r->br);
	uco__fifo_free(&r->q);
	uco__free(r, sizeof(*r));
}

static bool push(struct uco_mrecv *r, int res, unsigned bid)
{
	struct chunk c = { res, bid };

	return uco__fifo_push(&r->q, &c);
}

static void on_cqe(struct uco__cqe_handler *h, int res, uint32_t flags)
{
	struct uco_mrecv *r = (struct uco_mrecv *)h;
	bool last = !(flags & IORING_CQE_F_MORE);

	if (flags & IORING_CQE_F_BUFFER) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

		r->br->avail--;
		if (r->closed || res <= 0 || !push(r, res, bid)) {
			uco__bufring_recycle(r->br, bid);
			/* An end of stream or error that came with a buffer is
			 * still reported; lost data as -ENOMEM (best effort). */
			if (!r->closed)
				push(r, res > 0 ? -ENOMEM : res, 0);
		}
	} else if (r->closed || res == -ENOBUFS ||
		   (res == -ECANCELED && r->closed)) {
		/* Nothing to hand out: closed, or the ring ran dry (the
		 * data is still in the socket; re-armed on demand). */
	} else {
		push(r, res, 0);
	}
	/* Wake a reader for data, and also when the multishot ended with
	 * nothing to hand out (-ENOBUFS): the reader must re-arm it, after
	 * waiting for a free buffer if the ring is dry. */
	if (!r->closed && (r->q.len || last))
		uco__waitq_wake_one(&r->waiters, 0);
	if (last) {
		r->armed = false;
		mrecv_put(r);
	}
}

UCO_API int uco_mrecv_open(uco_mrecv **out, int fd, uco_bufring *br)
{
	struct uco__loop *l = uco__io_loop();
	struct uco_mrecv *r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!l)
		return -EPERM;
	if (!br || br->freed)
		return -EINVAL;
	if (br->loop != l)
		return -EXDEV;
	if (fd < 0)
		return -EBADF;
	r = uco__zalloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	uco__fifo_init(&r->q, sizeof(struct chunk));
	r->h.fn = on_cqe;
	r->br = br;
	r->fd = fd;
	r->refs = 1;
	uco__waitq_init(&r->waiters);
	br->users++;
	*out = r;
	return 0;
}

static void arm(struct uco_mrecv *r)
{
	struct io_uring_sqe *sqe = uco__sqe_get(r->br->loop, 1);

	io_uring_prep_recv_multishot(sqe, r->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = r->br->bgid;
	uco__handler_submitted(&r->h, sqe);
	r->armed = true;
	r->refs++;
}

UCO_API ssize_t uco_mrecv_next(uco_mrecv *r, uco_buf *buf)
{
	ssize_t n;

	if (!r || !buf)
		return -EINVAL;
	if (uco__io_loop() != r->br->loop)
		return uco__io_loop() ? -EXDEV : -EPERM;
	if (r->closed)
		return -EBADF;
	if (r->eof)
		return 0;
	r->refs++;
	for (;;) {
		int w;

		if (r->q.len) {
			struct chunk c;

			uco__fifo_pop(&r->q, &c);
			n = c.res;
			if (n > 0) {
				buf->data = r->br->bufs + (size_t)c.bid * r->br->size;
				buf->len = (size_t)n;
				buf->id = c.bid;
				r->refs++; /* the record outlives its buffers */
			} else if (n == 0) {
				r->eof = true;
			}
			break;
		}
		if (!r->armed && r->br->avail == 0) {
			r->starving++;
			w = uco__waitq_wait(&r->br->starved, "recv buffer");
			r->starving--;
		} else {
			if (!r->armed)
				arm(r);
			w = uco__waitq_wait(&r->waiters, "recv");
		}
		if (r->closed) {
			n = -EBADF;
			break;
		}
		if (w < 0) {
			if (r->q.len)
				uco__waitq_wake_one(&r->waiters, 0);
			n = w;
			break;
		}
	}
	mrecv_put(r);
	return n;
}

UCO_API void uco_mrecv_release(uco_mrecv *r, uco_buf *buf)
{
	if (!r || !buf || buf->id >= r->br->count)
		return;
	uco__bufring_recycle(r->br, buf->id);
	buf->data = NULL;
	buf->len = 0;
	buf->id = UINT32_MAX;
	mrecv_put(r);
}

UCO_API void uco_mrecv_close(uco_mrecv *r)
{
	if (!r || r->closed)
		return;
	if (uco__io_loop() != r->br->loop) {
		/* Its multishot lives in another ring: a cancel from here
		 * cannot reach it. */
		fprintf(stderr, "uco: uco_mrecv_close() called off the "
				"receiver's core\n");
		abort();
	}
	r->closed = true;
	while (r->q.len) {
		struct chunk c;

		uco__fifo_pop(&r->q, &c);
		if (c.res > 0)
			uco__bufring_recycle(r->br, c.bid);
	}
	if (r->armed)
		uco__handler_cancel(&r->h);
	uco__waitq_wake_all(&r->waiters, -EBADF);
	if (r->starving) /* which waiter is ours is not known: wake all */
		uco__waitq_wake_all(&r->br->starved, 0);
	mrecv_put(r);
}
