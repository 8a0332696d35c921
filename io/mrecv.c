/*
 * Multishot receive into a provided buffer ring: one IORING_OP_RECV with
 * IORING_RECV_MULTISHOT | IOSQE_BUFFER_SELECT; each CQE names the ring
 * buffer the kernel filled.  The chunks queue here until the owner takes
 * them with uco_mrecv_next() and gives them back with uco_mrecv_release().
 *
 * The ring is shared by every receiver on the core, so no receiver may
 * take it over (issue 9, part 1: a connection whose echo was blocked in a
 * send kept its multishot armed and piled up buffers until the ring was
 * dry, and every other connection on the core starved).  Two rules:
 *
 *   - Quota.  A receiver holds at most br->quota ring buffers unreleased
 *     (queued here or handed out).  The CQE that reaches the quota cancels
 *     the multishot ("pausing"); CQEs the kernel had already posted before
 *     the cancel landed are copied into memory of the receiver's own and
 *     their ring buffers go straight back, so the quota is never exceeded,
 *     not even by one.  The multishot is re-armed by uco_mrecv_next() when
 *     the receiver's queue is empty and it holds fewer than the quota.
 *   - No waiting for the ring.  When the receiver must receive but cannot
 *     use the ring (the ring is dry, its multishot just ended with
 *     -ENOBUFS, or it holds its whole quota), it receives once, with a
 *     plain IORING_OP_RECV, into a buffer of its own (br->size bytes,
 *     kept for the next time).  So a dry ring costs a receiver a copy and
 *     an SQE per chunk, never a wait for another connection to release
 *     something; that is the fairness rule: every receiver goes on at the
 *     pace of its own data.
 *
 * The fallback receive is, like the multishot, the receiver's (a CQE
 * handler), not the calling task's op: a task cancelled or timed out in
 * uco_mrecv_next() leaves it in flight, and what it brings is queued for
 * the next call, so nothing is lost or read twice.
 *
 * Incremental consumption (IOU_PBUF_RING_INC, Linux 6.12) is not used.
 * It lets a short receive take part of a buffer, but the rest of that
 * buffer goes to whichever receive of the group comes next, so pieces of
 * one buffer end up in different receivers and the buffer is free only
 * when all of them are released: one stalled receiver's piece would pin a
 * buffer other connections share, the trap the quota exists to close, and
 * a per-receiver quota could no longer be counted in buffers.  What it
 * would save was measured in the slow-reader test (tests/test_net.c,
 * 200 senders that never read): the stalled receivers' chunks averaged
 * 4096.0 bytes in 4096-byte buffers (nothing to save), and the 64-byte
 * ping-pong receiver held at most one buffer at a time.
 *
 * Lifetime as in io/acceptor.c: the record goes when it is closed, no task
 * is inside uco_mrecv_next(), every buffer handed out has been released,
 * and the last CQE of both receives is in.  Chunks queued at close, and
 * chunks that arrive after it, go straight back to the ring (or are
 * freed): nothing leaks under cancellation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uco/net.h>

#include "core/alloc.h"
#include "core/list.h"
#include "core/loop.h"
#include "core/wait.h"
#include "bufring.h"
#include "fifo.h"
#include "io.h"

/* uco_buf.id of a chunk in the receiver's own memory (not a ring slot). */
#define COPY_ID (UINT32_MAX - 1)

struct chunk {
	int res;     /* bytes (> 0), 0 for end of stream, or -errno */
	unsigned bid;
	char *copy;  /* NULL: in ring buffer bid; else own memory (br->size) */
};

struct uco_mrecv {
	struct uco__cqe_handler h;    /* first: the multishot's user_data */
	struct uco__cqe_handler oh;   /* the fallback one-shot receive's */
	struct uco_bufring *br;
	int fd;
	struct uco__fifo q;           /* struct chunk: what came, in order */
	struct uco__waitq waiters;
	unsigned refs;
	bool armed;                   /* the multishot is in the kernel */
	bool pausing;                 /* ... and cancelled at the quota */
	bool nobufs;                  /* it last ended with -ENOBUFS */
	bool oarmed;                  /* the fallback receive is in flight */
	bool closed;
	bool eof;                     /* end of stream was handed out */
	char *obuf;                   /* the fallback receive's buffer */
	char *spare;                  /* an own buffer kept for next time */
	unsigned held;                /* ring buffers queued or handed out */
	uco_mrecv_stats st;
};

static void mrecv_put(struct uco_mrecv *r)
{
	if (--r->refs)
		return;
	uco__free(r->spare, r->br->size);
	uco__bufring_unuse(r->br);
	uco__fifo_free(&r->q);
	uco__free(r, sizeof(*r));
}

static bool push(struct uco_mrecv *r, int res, unsigned bid, char *copy)
{
	struct chunk c = { res, bid, copy };

	return uco__fifo_push(&r->q, &c);
}

/* A buffer of the receiver's own (br->size bytes), or NULL. */
static char *own_buf(struct uco_mrecv *r)
{
	char *b = r->spare;

	if (b) {
		r->spare = NULL;
		return b;
	}
	return uco__alloc(r->br->size);
}

static void own_buf_put(struct uco_mrecv *r, char *b)
{
	if (!r->spare && !r->closed)
		r->spare = b;
	else
		uco__free(b, r->br->size);
}

static void give_back(struct uco_mrecv *r, unsigned bid)
{
	r->held--;
	uco__bufring_recycle(r->br, bid);
}

/* A filled ring buffer came: queue it, or past the quota copy it out and
 * give the ring buffer back at once. */
static void take_buffer(struct uco_mrecv *r, int res, unsigned bid)
{
	struct uco_bufring *br = r->br;
	char *copy;

	if (r->held < br->quota) {
		if (push(r, res, bid, NULL)) {
			r->held++;
			if (r->held > r->st.held_max)
				r->st.held_max = r->held;
			return;
		}
	} else if ((copy = own_buf(r)) != NULL) {
		memcpy(copy, br->bufs + (size_t)bid * br->size, (size_t)res);
		if (push(r, res, COPY_ID, copy)) {
			r->st.copied++;
			uco__bufring_recycle(br, bid);
			return;
		}
		own_buf_put(r, copy);
	}
	/* Out of memory: the data is lost, say so (best effort). */
	uco__bufring_recycle(br, bid);
	push(r, -ENOMEM, 0, NULL);
}

static void on_cqe(struct uco__cqe_handler *h, int res, uint32_t flags)
{
	struct uco_mrecv *r = (struct uco_mrecv *)h;
	bool last = !(flags & IORING_CQE_F_MORE);

	if (flags & IORING_CQE_F_BUFFER) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;

		r->br->avail--;
		if (r->closed || res <= 0) {
			uco__bufring_recycle(r->br, bid);
			/* An end of stream or error that came with a buffer is
			 * still reported. */
			if (!r->closed)
				push(r, res, 0, NULL);
		} else {
			r->st.chunks++;
			r->st.bytes += (unsigned long)res;
			take_buffer(r, res, bid);
		}
	} else if (res == -ENOBUFS) {
		/* The ring ran dry: the data is still in the socket; the next
		 * uco_mrecv_next() takes it with the fallback receive. */
		r->nobufs = true;
	} else if (r->closed || (res == -ECANCELED && r->pausing)) {
		/* Nothing to hand out: closed, or paused at the quota. */
	} else {
		push(r, res, 0, NULL);
	}
	if (!last && !r->pausing && !r->closed && r->held >= r->br->quota) {
		/* At the quota: stop taking ring buffers.  What the kernel
		 * posts before the cancel lands is copied (take_buffer). */
		uco__handler_cancel(&r->h);
		r->pausing = true;
		r->st.pauses++;
	}
	/* Wake a reader for data, and also when the multishot ended with
	 * nothing to hand out: the reader must re-arm it or fall back. */
	if (!r->closed && (r->q.len || last))
		uco__waitq_wake_one(&r->waiters, 0);
	if (last) {
		r->armed = false;
		r->pausing = false;
		mrecv_put(r);
	}
}

/* The fallback receive into r->obuf completed. */
static void on_ocqe(struct uco__cqe_handler *h, int res, uint32_t flags)
{
	struct uco_mrecv *r = uco__container_of(h, struct uco_mrecv, oh);
	char *b = r->obuf;

	(void)flags;
	r->oarmed = false;
	r->obuf = NULL;
	r->nobufs = false; /* worth trying the ring again */
	if (r->closed) {
		own_buf_put(r, b);
	} else if (res > 0) {
		r->st.chunks++;
		r->st.bytes += (unsigned long)res;
		r->st.copied++;
		if (!push(r, res, COPY_ID, b)) {
			own_buf_put(r, b);
			push(r, -ENOMEM, 0, NULL);
		}
	} else {
		own_buf_put(r, b);
		push(r, res, 0, NULL);
	}
	if (!r->closed)
		uco__waitq_wake_one(&r->waiters, 0);
	mrecv_put(r);
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
	r->oh.fn = on_ocqe;
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

/* One plain receive into a buffer of the receiver's own. */
static int arm_fallback(struct uco_mrecv *r)
{
	struct io_uring_sqe *sqe;
	char *b = own_buf(r);

	if (!b)
		return -ENOMEM;
	sqe = uco__sqe_get(r->br->loop, 1);
	io_uring_prep_recv(sqe, r->fd, b, r->br->size, 0);
	uco__handler_submitted(&r->oh, sqe);
	r->obuf = b;
	r->oarmed = true;
	r->refs++;
	return 0;
}

/* Nothing queued and nothing in flight: receive, from the ring if this
 * receiver may, into its own memory if not. */
static int start_receive(struct uco_mrecv *r)
{
	if (r->held < r->br->quota && r->br->avail > 0 && !r->nobufs) {
		arm(r);
		return 0;
	}
	return arm_fallback(r);
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
				buf->data = c.copy ? c.copy
					: r->br->bufs + (size_t)c.bid * r->br->size;
				buf->len = (size_t)n;
				buf->id = c.copy ? COPY_ID : c.bid;
				r->refs++; /* the record outlives its buffers */
			} else if (n == 0) {
				r->eof = true;
			}
			break;
		}
		if (!r->armed && !r->oarmed) {
			w = start_receive(r);
			if (w < 0) {
				n = w;
				break;
			}
		}
		w = uco__waitq_wait(&r->waiters, "recv");
		if (r->closed) {
			n = -EBADF;
			break;
		}
		if (w < 0) {
			if (r->q.len || (!r->armed && !r->oarmed))
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
	if (!r || !buf)
		return;
	if (buf->id == COPY_ID)
		own_buf_put(r, buf->data);
	else if (buf->id < r->br->count)
		give_back(r, buf->id);
	else
		return;
	buf->data = NULL;
	buf->len = 0;
	buf->id = UINT32_MAX;
	mrecv_put(r);
}

UCO_API int uco_mrecv_stats_get(const uco_mrecv *r, uco_mrecv_stats *st)
{
	if (!r || !st)
		return -EINVAL;
	*st = r->st;
	st->held = r->held;
	st->quota = r->br->quota;
	return 0;
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
		if (c.res > 0 && c.copy)
			own_buf_put(r, c.copy);
		else if (c.res > 0)
			give_back(r, c.bid);
	}
	if (r->armed)
		uco__handler_cancel(&r->h);
	if (r->oarmed)
		uco__handler_cancel(&r->oh);
	uco__waitq_wake_all(&r->waiters, -EBADF);
	mrecv_put(r);
}
