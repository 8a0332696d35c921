/*
 * The HTTP server's connections and tasks (uco/http.h).
 *
 * Per core (struct hcore), owned by that core and driven by its main task:
 *
 *   accept   a multishot accept whose CQEs come to a handler: each new
 *            connection becomes a record (struct hconn) with a multishot
 *            receive armed into the core's provided buffer ring, and goes
 *            on the idle list.  No task is involved.
 *   receive  the receive's CQEs come to a handler too.  Data for an idle
 *            connection puts it on the ready list and wakes a pooled
 *            worker (or spawns one); data for a connection a worker
 *            serves wakes that worker.  An end of stream or an error on an
 *            idle connection closes it right there.
 *   workers  a worker takes a ready connection and serves requests on it
 *            while there is input; when none is left and the responses
 *            are sent, the connection goes back to the idle list and the
 *            worker to the pool (at most POOL_KEEP wait there; the others
 *            end, giving their stack back).
 *   ticker   the main task wakes once a second: a fresh Date header, and
 *            idle connections older than idle_timeout closed (the idle
 *            list is in idle order, so the sweep stops at the first young
 *            one).  It also re-arms the accept after a back-off or when a
 *            connection frees a place under the cap.
 *   stop     home cancels each core's main task (after storing the
 *            deadline): the core stops accepting, closes idle and ready
 *            connections, lets workers finish the request they are in
 *            and background tasks run until the deadline, cancels what is
 *            left, waits for every record and CQE, and frees its ring.
 *
 * A connection record is freed once it is closed and its multishot's last
 * CQE is in (refs), so a CQE never finds it gone.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uco/http.h>
#include <uco/net.h>
#include <uco/signal.h>
#include <uco/task.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "core/loop.h"
#include "bufring.h"
#include "http_impl.h"
#include "until_signal.h"
#include "io.h"

#define POOL_KEEP 32            /* idle workers kept per core */
#define MAX_WORKERS 4096        /* workers per core; then requests queue */
#define BACKOFF_MIN (1 * UCO_NSEC_PER_MSEC)
#define BACKOFF_MAX (100 * UCO_NSEC_PER_MSEC)

static void conn_free_ref(struct hconn *c);

/* ---- connections ------------------------------------------------------ */

static void arm_recv(struct hconn *c)
{
	struct hcore *pc = c->pc;
	struct io_uring_sqe *sqe = uco__sqe_get(pc->loop, 1);

	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = pc->br->bgid;
	uco__handler_submitted(&c->h, sqe);
	c->armed = true;
	c->starved = false;
	c->refs++;
}

static void spawn_worker(struct hcore *pc);
static void go_idle(struct hconn *c);

/*
 * A connection whose receive ended for want of buffers (the ring ran dry
 * under a burst) and has nothing queued waits on the starved list, holding
 * no worker, until a buffer is back: then its receive is re-armed.  (A
 * worker that had to wait for a buffer itself would call another, and a
 * burst of ten thousand would pin a stack each.)
 */
static void feed_starved(struct hcore *pc)
{
	struct uco__node *n;

	while (pc->br->avail && (n = uco__list_first(&pc->starved))) {
		struct hconn *c = uco__container_of(n, struct hconn, node);

		uco__list_del(&c->node);
		arm_recv(c);
		go_idle(c);
	}
}

static void recycle(struct hcore *pc, unsigned bid)
{
	uco__bufring_recycle(pc->br, bid);
	/* Workers mid-request first: they hold a stack while they wait. */
	uco__waitq_wake_all(&pc->buf_wait, 0);
	if (!uco__list_empty(&pc->starved))
		feed_starved(pc);
}

/* c has nothing queued and no worker: re-arm it, or wait for a buffer. */
static void rest(struct hconn *c)
{
	struct hcore *pc = c->pc;

	if (c->armed) {
		go_idle(c);
	} else if (pc->br->avail) {
		arm_recv(c);
		go_idle(c);
	} else {
		uco__list_del(&c->node);
		uco__list_add_tail(&pc->starved, &c->node);
	}
}

/*
 * Someone to look at the ready list: a pooled worker, or a new one.  One
 * on its way is enough: it takes a connection, and calls another if more
 * wait (so a worker that then suspends in its handler leaves the rest to
 * the next one); a worker that does not suspend takes them one after the
 * other.  Hence as many workers as requests in progress that suspended,
 * not as many as arrived at once.
 */
static void another_worker(struct hcore *pc)
{
	if (pc->nidle) {
		pc->nidle--;
		pc->nstarting++;
		uco__waitq_wake_one(&pc->pool, 0);
	} else if (pc->nworkers < MAX_WORKERS) {
		spawn_worker(pc);
	}
}

/* c has input and no worker: queue it for one. */
static void make_ready(struct hconn *c)
{
	struct hcore *pc = c->pc;

	if (c->ready)
		return;
	uco__list_del(&c->node);
	uco__list_add_tail(&pc->ready, &c->node);
	c->ready = true;
	if (pc->nstarting == 0)
		another_worker(pc);
}

static void conn_close(struct hconn *c)
{
	struct hcore *pc = c->pc;

	if (c->fd < 0)
		return;
	uco__list_del(&c->node);
	c->ready = false;
	if (c->armed)
		uco__handler_cancel(&c->h);
	/* The multishot holds its own reference to the socket: closing the
	 * fd here does not end it, the cancel does.  A send in flight may
	 * not have been submitted yet (it names the fd, looked up when the
	 * ring is entered): then the fd is closed when the send ends. */
	if (c->send) {
		/* Every orderly close waited for its last send: one still in
		 * flight is for a client that stopped reading. */
		uco__handler_cancel(&c->send->h);
		c->deferred_fd = c->fd;
	} else {
		close(c->fd);
	}
	c->fd = -1;
	while (c->q.len) {
		struct hchunk k;

		uco__fifo_pop(&c->q, &k);
		if (k.res > 0)
			recycle(pc, k.bid);
	}
	uco__fifo_free(&c->q);
	pc->nconns--;
	uco__http_bump(&pc->n_open, -1);
	/* A place under the cap, or an fd for an accept backing off. */
	pc->backoff_until = 0;
	uco__waitq_wake_one(&pc->wq, 0);
	conn_free_ref(c);
}

static void conn_free_ref(struct hconn *c)
{
	struct hcore *pc = c->pc;

	if (--c->refs)
		return;
	uco__free(c, sizeof(*c));
	pc->nrecs--;
	if (pc->stopping)
		uco__waitq_wake_one(&pc->wq, 0);
}

static void on_recv(struct uco__cqe_handler *h, int res, uint32_t flags)
{
	struct hconn *c = (struct hconn *)h;
	struct hcore *pc = c->pc;
	bool last = !(flags & IORING_CQE_F_MORE);
	struct hchunk k = { res, 0 };
	bool queued = false;

	if (flags & IORING_CQE_F_BUFFER) {
		k.bid = flags >> IORING_CQE_BUFFER_SHIFT;
		pc->br->avail--;
		if (c->fd < 0 || res <= 0 || !uco__fifo_push(&c->q, &k)) {
			recycle(pc, k.bid);
			k.res = res > 0 ? -ENOMEM : res;
			queued = c->fd >= 0 && uco__fifo_push(&c->q, &k);
		} else {
			queued = true;
		}
	} else if (res == -ENOBUFS) {
		/* The ring ran dry: the data waits in the socket until a
		 * worker has a buffer and re-arms. */
		c->starved = true;
	} else if (c->fd >= 0 && res != -ECANCELED) {
		queued = uco__fifo_push(&c->q, &k);
	}
	if (last)
		c->armed = false;
	if (c->fd >= 0) {
		if (c->w) {
			if (c->w->waiting_data && (queued || last))
				uco__waitq_wake_one(&c->w->wq, 0);
		} else if (queued && k.res <= 0 && c->q.len == 1) {
			/* An idle connection's client left: no worker needed. */
			conn_close(c);
		} else if (queued || c->q.len) {
			make_ready(c); /* (a no-op if it is ready already) */
		} else if (last && !c->armed) {
			rest(c);
		}
	}
	if (last)
		conn_free_ref(c);
}

static void conn_open(struct hcore *pc, int fd)
{
	struct hconn *c;
	int one = 1;

	uco__http_bump(&pc->n_accepted, 1);
	if (pc->stopping || (pc->cap && pc->nconns >= pc->cap) ||
	    !(c = uco__zalloc(sizeof(*c)))) {
		/* Over the cap (a few the kernel accepted before the
		 * multishot was cancelled) or out of memory. */
		close(fd);
		return;
	}
	/* Request/response traffic: no Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->h.fn = on_recv;
	c->pc = pc;
	c->fd = fd;
	c->deferred_fd = -1;
	c->refs = 1;
	pc->nrecs++;
	uco__fifo_init(&c->q, sizeof(struct hchunk));
	uco__node_init(&c->node);
	c->idle_since = uco_now();
	uco__list_add_tail(&pc->idle, &c->node);
	pc->nconns++;
	uco__http_bump(&pc->n_open, 1);
	arm_recv(c);
}

/* ---- sends nobody waits for ------------------------------------------------ */

static void send_submit(struct hsend *sd)
{
	struct hconn *c = sd->c;
	int fd = c->fd >= 0 ? c->fd : c->deferred_fd;
	struct io_uring_sqe *sqe = uco__sqe_get(c->pc->loop, 1);

	io_uring_prep_send(sqe, fd, sd->data + sd->off, sd->len - sd->off,
			   MSG_NOSIGNAL);
	uco__handler_submitted(&sd->h, sqe);
}

static void on_send(struct uco__cqe_handler *h, int res, uint32_t flags)
{
	struct hsend *sd = (struct hsend *)h;
	struct hconn *c = sd->c;

	(void)flags;
	if (res > 0 && c->fd >= 0) {
		sd->off += (size_t)res;
		if (sd->off < sd->len) {
			send_submit(sd); /* a short send: the rest */
			return;
		}
	} else if (res <= 0 && c->fd >= 0) {
		c->send_err = res < 0 ? res : -EPIPE;
	}
	c->send = NULL;
	uco__free(sd, sizeof(*sd) + sd->len);
	if (c->deferred_fd >= 0) {
		close(c->deferred_fd);
		c->deferred_fd = -1;
	}
	if (c->w && c->w->waiting_send)
		uco__waitq_wake_one(&c->w->wq, 0);
	conn_free_ref(c);
}

int uco__http_send_async(struct hconn *c, const char *data, size_t len)
{
	struct hsend *sd = uco__alloc(sizeof(*sd) + len);

	if (!sd)
		return -ENOMEM;
	sd->h.fn = on_send;
	sd->c = c;
	sd->len = len;
	sd->off = 0;
	memcpy(sd->data, data, len);
	c->send = sd;
	c->refs++;
	send_submit(sd);
	return 0;
}

int uco__http_send_wait(struct hworker *w)
{
	struct hconn *c = w->c;

	while (c->send) {
		int r;

		w->waiting_send = true;
		r = uco__waitq_wait(&w->wq, "http send");
		w->waiting_send = false;
		if (r < 0) {
			/* Cut short: the send goes on, the connection is
			 * only good for closing. */
			uco__handler_cancel(&c->send->h);
			return r;
		}
	}
	if (c->send_err) {
		int r = c->send_err;

		c->send_err = 0;
		return r;
	}
	return 0;
}

/* ---- the worker's input -------------------------------------------------- */

void uco__http_drop_chunk(struct hworker *w)
{
	if (w->have_chunk) {
		recycle(w->pc, w->cur.bid);
		w->have_chunk = false;
		w->in = NULL;
		w->in_off = w->in_len = 0;
	}
}

bool uco__http_input_pending(const struct hworker *w)
{
	return (w->have_chunk && w->in_off < w->in_len) || w->c->q.len;
}

int uco__http_next_chunk(struct hworker *w)
{
	struct hconn *c = w->c;
	struct hcore *pc = w->pc;
	struct hchunk k;

	uco__http_drop_chunk(w);
	if (w->in_err)
		return w->in_err;
	while (c->q.len == 0) {
		int r;

		if (w->eof)
			return 0;
		if (w->out_len && (r = uco__http_flush(w)) < 0)
			return r;
		if (c->q.len)
			break;
		if (!c->armed) {
			if (pc->br->avail == 0) {
				r = uco__waitq_wait(&pc->buf_wait,
						    "http recv buffer");
				if (r < 0)
					return r;
				continue;
			}
			arm_recv(c);
		}
		w->waiting_data = true;
		r = uco__waitq_wait(&w->wq, "http recv");
		w->waiting_data = false;
		if (r < 0)
			return r;
	}
	uco__fifo_pop(&c->q, &k);
	if (k.res > 0) {
		w->cur = k;
		w->have_chunk = true;
		w->in = pc->br->bufs + (size_t)k.bid * pc->br->size;
		w->in_off = 0;
		w->in_len = (size_t)k.res;
		return 1;
	}
	if (k.res == 0) {
		w->eof = true;
		return 0;
	}
	w->in_err = k.res;
	return k.res;
}

/* ---- background tasks ------------------------------------------------------ */

static void *bg_main(void *arg)
{
	struct hbg *b = arg;
	struct hcore *pc = b->pc;
	void *r = b->fn(b->arg);

	uco__list_del(&b->node);
	pc->nbg--;
	uco__http_bump(&pc->n_bg, -1);
	uco__waitq_wake_one(&pc->wq, 0);
	uco_task_release(b->task);
	uco__free(b, sizeof(*b));
	return r;
}

/* Start the background tasks of the responses just sent. */
static void start_after(struct hworker *w)
{
	struct hcore *pc = w->pc;
	struct hafter *a;

	while ((a = w->res.after)) {
		struct hbg *b = uco__zalloc(sizeof(*b));
		uco_spawn_opts so = { .name = "http-background" };

		w->res.after = a->next;
		if (b) {
			b->pc = pc;
			b->fn = a->fn;
			b->arg = a->arg;
			if (uco_spawn(&b->task, bg_main, b, &so) == 0) {
				uco__list_add_tail(&pc->bgs, &b->node);
				pc->nbg++;
				uco__http_bump(&pc->n_bg, 1);
			} else {
				uco__free(b, sizeof(*b));
			}
		}
		uco__free(a, sizeof(*a));
	}
}

/* ---- serving a connection ----------------------------------------------------- */

static void release_conn(struct hworker *w, bool close_it)
{
	struct hconn *c = w->c;
	struct hcore *pc = w->pc;

	uco__http_drop_chunk(w);
	c->w = NULL;
	w->c = NULL;
	if (close_it || pc->stopping || w->eof || w->in_err || c->send_err) {
		conn_close(c);
		return;
	}
	if (c->q.len) {
		/* Input came after all: another turn. */
		make_ready(c);
		return;
	}
	rest(c);
}

static void go_idle(struct hconn *c)
{
	uco__fifo_free(&c->q);
	c->idle_since = uco_now();
	uco__list_del(&c->node);
	uco__list_add_tail(&c->pc->idle, &c->node);
}

/* Serve requests on c while it has input.  Returns true to close it. */
static bool serve(struct hworker *w)
{
	struct uco_http_server *srv = w->pc->srv;

	uco__http_parser_setup(w);
	for (;;) {
		int r = uco__http_read_head(w);

		if (r == 1 || r < 0) {
			if (r == -ETIMEDOUT)
				uco__http_bump(&w->pc->n_timeouts, 1);
			return true;
		}
		if (r > 0) {
			uco__http_bump(&w->pc->n_rejected, 1);
			if (r == 408)
				uco__http_bump(&w->pc->n_timeouts, 1);
			uco__http_error_response(w, r, w->req.version);
			uco__http_flush_wait(w);
			start_after(w);
			return true;
		}
		uco__http_response_reset(w);
		r = srv->handler(&w->req, &w->res, srv->arg);
		uco__http_response_finish(w, r);
		uco__http_bump(&w->pc->n_requests, 1);
		if (w->req.body) {
			uco__free(w->req.body, w->req.body_cap);
			w->req.body = NULL;
		}
		if (!w->res.close && !w->req.body_done) {
			if (w->req.expect_continue && !w->req.continue_sent)
				w->res.close = true; /* the body never comes */
			else if (uco__http_skip_body(w) < 0)
				w->res.close = true;
		}
		if (w->res.close || w->pc->stopping || uco_cancelling()) {
			uco__http_flush_wait(w);
			start_after(w);
			return true;
		}
		if (!uco__http_input_pending(w)) {
			if (uco__http_flush(w) < 0) {
				start_after(w);
				return true;
			}
			start_after(w);
			if (!uco__http_input_pending(w))
				return false;
		}
	}
}

static void *worker_main(void *arg)
{
	struct hworker *w = arg;
	struct hcore *pc = w->pc;

	for (;;) {
		struct uco__node *n = uco__list_first(&pc->ready);
		struct hconn *c;
		bool close_it;

		if (w->starting) {
			w->starting = false;
			pc->nstarting--;
		}
		if (!n) {
			int r;

			if (pc->stopping || pc->nidle >= POOL_KEEP)
				break;
			pc->nidle++;
			r = uco__waitq_wait(&pc->pool, "http idle worker");
			if (r < 0)
				pc->nidle--; /* not woken by another_worker */
			if (r != 0)
				break;
			w->starting = true; /* another_worker counted it */
			continue;
		}
		c = uco__container_of(n, struct hconn, node);
		uco__list_del(&c->node);
		c->ready = false;
		if (!uco__list_empty(&pc->ready) && pc->nstarting == 0)
			another_worker(pc);
		c->w = w;
		w->c = c;
		w->eof = false;
		w->in_err = 0;
		w->out_len = 0;
		close_it = serve(w);
		release_conn(w, close_it);
		if (uco_cancelling())
			break;
	}
	if (w->starting)
		pc->nstarting--;
	uco__list_del(&w->node);
	pc->nworkers--;
	uco__http_bump(&pc->n_workers, -1);
	uco__waitq_wake_one(&pc->wq, 0);
	uco__free(w->head, w->head_cap);
	uco__free(w->hdr, pc->srv->o.max_headers * sizeof(*w->hdr));
	uco__free(w->out, w->out_cap);
	uco__free(w->filebuf, 65536);
	uco__free(w->res.hdrs, w->res.hcap);
	uco_task_release(w->task);
	uco__free(w, sizeof(*w));
	return NULL;
}

static void spawn_worker(struct hcore *pc)
{
	struct uco_http_server *srv = pc->srv;
	struct hworker *w = uco__zalloc(sizeof(*w));
	uco_spawn_opts so = { .name = "http-worker",
			      .stack_size = srv->o.stack_size };

	if (!w)
		return;
	w->pc = pc;
	uco__waitq_init(&w->wq);
	/* The head, the path's copy, decoded parameters. */
	w->head_cap = 3 * srv->o.max_header_size + 256;
	w->head = uco__alloc(w->head_cap);
	w->hdr = uco__alloc(srv->o.max_headers * sizeof(*w->hdr));
	if (!w->head || !w->hdr || uco_spawn(&w->task, worker_main, w, &so)) {
		uco__free(w->head, w->head_cap);
		uco__free(w->hdr, srv->o.max_headers * sizeof(*w->hdr));
		uco__free(w, sizeof(*w));
		return;
	}
	uco__list_add_tail(&pc->workers, &w->node);
	w->starting = true;
	pc->nstarting++;
	pc->nworkers++;
	uco__http_bump(&pc->n_workers, 1);
}

/* ---- accept ------------------------------------------------------------------ */

static void on_accept(struct uco__cqe_handler *h, int res, uint32_t flags)
{
	struct hcore *pc = (struct hcore *)h;

	if (res >= 0)
		conn_open(pc, res);
	else if (res != -ECANCELED)
		pc->accept_err = res;
	if (!(flags & IORING_CQE_F_MORE)) {
		pc->accept_armed = false;
		pc->accept_disarming = false;
		uco__waitq_wake_one(&pc->wq, 0);
	} else if (pc->cap && pc->nconns >= pc->cap) {
		uco__waitq_wake_one(&pc->wq, 0);
	}
}

static void accept_arm(struct hcore *pc)
{
	struct io_uring_sqe *sqe = uco__sqe_get(pc->loop, 1);

	io_uring_prep_multishot_accept(sqe, pc->lfd, NULL, NULL, SOCK_CLOEXEC);
	uco__handler_submitted(&pc->h, sqe);
	pc->accept_armed = true;
}

static void accept_disarm(struct hcore *pc)
{
	if (pc->accept_armed && !pc->accept_disarming) {
		uco__handler_cancel(&pc->h);
		pc->accept_disarming = true;
	}
}

/* Arm or disarm the accept as the cap and back-off say. */
static void accept_tend(struct hcore *pc, uint64_t now)
{
	if (pc->accept_err) {
		int err = pc->accept_err;

		pc->accept_err = 0;
		if (err == -EBADF || err == -EINVAL || err == -ENOTSOCK)
			return; /* the listener is gone: nothing to retry */
		pc->backoff = pc->backoff ? pc->backoff * 2 : BACKOFF_MIN;
		if (pc->backoff > BACKOFF_MAX)
			pc->backoff = BACKOFF_MAX;
		pc->backoff_until = now + pc->backoff;
	}
	if (pc->backoff_until && now >= pc->backoff_until)
		pc->backoff_until = 0;
	if (!pc->backoff_until && (!pc->cap || pc->nconns < pc->cap)) {
		if (!pc->accept_armed)
			accept_arm(pc);
	} else {
		accept_disarm(pc);
	}
	if (!pc->backoff_until)
		pc->backoff = 0;
}

/* ---- the ticker ------------------------------------------------------------- */

static void update_date(struct hcore *pc)
{
	char d[32];

	uco_http_date(d, (int64_t)time(NULL));
	pc->date_len = (size_t)snprintf(pc->date, sizeof(pc->date),
					"Date: %s\r\n", d);
}

static void sweep_idle(struct hcore *pc, uint64_t now)
{
	uint64_t limit = pc->srv->o.idle_timeout;
	struct uco__node *n;

	while ((n = uco__list_first(&pc->idle))) {
		struct hconn *c = uco__container_of(n, struct hconn, node);

		if (now - c->idle_since < limit)
			break;
		uco__http_bump(&pc->n_timeouts, 1);
		conn_close(c);
	}
}

static void stop_core(struct hcore *pc)
{
	struct uco__node *n;

	pc->stopping = true;
	accept_disarm(pc);
	if (pc->lfd >= 0)
		close(pc->lfd);
	pc->lfd = -1;
	while ((n = uco__list_first(&pc->idle)))
		conn_close(uco__container_of(n, struct hconn, node));
	while ((n = uco__list_first(&pc->ready)))
		conn_close(uco__container_of(n, struct hconn, node));
	while ((n = uco__list_first(&pc->starved)))
		conn_close(uco__container_of(n, struct hconn, node));
	pc->nidle = 0;
	uco__waitq_wake_all(&pc->pool, 1);
}

static void cancel_all(struct hcore *pc)
{
	struct uco__node *n, *t;

	uco__list_for_each_safe(n, t, &pc->workers)
		uco_cancel(uco__container_of(n, struct hworker, node)->task);
	uco__list_for_each_safe(n, t, &pc->bgs)
		uco_cancel(uco__container_of(n, struct hbg, node)->task);
}

/* Wait for workers, background tasks, records and CQEs, cancelling what
 * is still running at the deadline.  Shielded: the cancel that brought us
 * here must not cut it short. */
static void drain(struct hcore *pc)
{
	bool cancelled = false;

	uco_shield_begin();
	/* nrecs: a closed connection's record lives until its multishot's
	 * last CQE (the cancel's), which may come after nconns is 0. */
	while (pc->nworkers || pc->nbg || pc->nconns || pc->nrecs ||
	       pc->accept_armed) {
		uint64_t dl = atomic_load_explicit(&pc->deadline,
						   memory_order_relaxed);
		uint64_t now = uco_now();
		int scope;

		if (now >= dl) {
			/* Again each time round: a worker cut off may have
			 * started its response's background tasks since. */
			cancel_all(pc);
			cancelled = true;
		}
		/* Re-read the deadline at least once a second: a second
		 * shutdown may have brought it forward. */
		scope = uco_timeout_at(cancelled || dl - now > UCO_NSEC_PER_SEC
					       ? now + UCO_NSEC_PER_SEC
					       : dl);
		uco__waitq_wait(&pc->wq, "http drain");
		uco_timeout_end(scope);
	}
	uco_shield_end();
}

static void *core_main(void *arg)
{
	struct hcore *pc = arg;
	struct uco_http_server *srv = pc->srv;
	int r;

	pc->loop = uco__io_loop();
	r = uco_bufring_create(&pc->br, srv->o.recv_buffers,
			       srv->o.recv_buffer_size);
	if (r < 0) {
		fprintf(stderr, "uco http: core %u: no receive ring: %s\n",
			pc->core, strerror(-r));
		close(pc->lfd);
		pc->lfd = -1;
		return uco_fail(r);
	}
	update_date(pc);
	for (;;) {
		uint64_t now = uco_now();
		uint64_t wake = (now / UCO_NSEC_PER_SEC + 1) * UCO_NSEC_PER_SEC;
		int scope;

		accept_tend(pc, now);
		if (pc->backoff_until && pc->backoff_until < wake)
			wake = pc->backoff_until;
		scope = uco_timeout_at(wake);
		r = uco__waitq_wait(&pc->wq, "http accept");
		uco_timeout_end(scope);
		if (r == -ECANCELED || uco_cancelling())
			break;
		now = uco_now();
		if (r == -ETIMEDOUT) {
			update_date(pc);
			sweep_idle(pc, now);
		}
	}
	stop_core(pc);
	drain(pc);
	uco_bufring_free(pc->br);
	pc->br = NULL;
	return NULL;
}

/* ---- home -------------------------------------------------------------------- */

static int on_home(const struct uco_http_server *srv)
{
	struct uco__loop *l = uco__io_loop();

	if (!srv)
		return -EINVAL;
	if (!l)
		return -EPERM;
	return l == srv->home ? 0 : -EXDEV;
}

static void request_stop(struct uco_http_server *srv, uint64_t deadline)
{
	for (unsigned i = 0; i < srv->ncores; i++) {
		struct hcore *pc = srv->cores[i];
		uint64_t old = atomic_load_explicit(&pc->deadline,
						    memory_order_relaxed);

		if (deadline < old)
			atomic_store_explicit(&pc->deadline, deadline,
					      memory_order_relaxed);
		if (!srv->stopping && pc->task)
			uco_cancel(pc->task);
	}
	srv->stopping = true;
}

static int wait_stopped(struct uco_http_server *srv)
{
	for (unsigned i = 0; i < srv->ncores; i++) {
		int r;

		if (!srv->cores[i]->task)
			continue;
		r = uco_join(srv->cores[i]->task, NULL);
		if (r == -ECANCELED && uco_cancelling())
			return r;
		if (r == -ETIMEDOUT && uco_deadline() <= uco_now())
			return r;
	}
	srv->stopped = true;
	return 0;
}

UCO_API int uco_http_server_close(uco_http_server *srv)
{
	int r = on_home(srv);

	if (r == 0)
		request_stop(srv, UINT64_MAX);
	return r;
}

UCO_API int uco_http_server_shutdown(uco_http_server *srv, uint64_t grace_ns)
{
	int r = on_home(srv);

	if (r < 0)
		return r;
	request_stop(srv, uco__deadline_in(grace_ns));
	return wait_stopped(srv);
}

UCO_API int uco_http_server_serve_forever(uco_http_server *srv)
{
	int r = on_home(srv);

	return r < 0 ? r : wait_stopped(srv);
}

/* uco__until_signal()'s view of a uco_http_server. */
static void stop_cb(void *srv, uint64_t deadline)
{
	request_stop(srv, deadline);
}

static int wait_cb(void *srv)
{
	return wait_stopped(srv);
}

UCO_API int uco_http_server_run_until_signal(uco_http_server *srv,
					     uint64_t grace_ns)
{
	int r = on_home(srv);

	if (r < 0)
		return r;
	return uco__until_signal(srv, "http-signals", grace_ns, stop_cb,
				 wait_cb);
}

static void server_destroy(struct uco_http_server *srv)
{
	for (unsigned i = 0; i < srv->ncores; i++) {
		struct hcore *pc = srv->cores[i];

		if (!pc)
			continue;
		uco_task_release(pc->task);
		if (pc->lfd >= 0)
			close(pc->lfd);
		uco__free(pc, sizeof(*pc));
	}
	uco__free(srv->cores, srv->ncores * sizeof(*srv->cores));
	uco__free(srv, sizeof(*srv));
}

UCO_API void uco_http_server_free(uco_http_server *srv)
{
	if (!srv)
		return;
	if (on_home(srv) != 0) {
		fprintf(stderr, "uco: uco_http_server_free() off home\n");
		abort();
	}
	if (!srv->stopped) {
		uco_shield_begin();
		request_stop(srv, 0);
		wait_stopped(srv);
		uco_shield_end();
	}
	server_destroy(srv);
}

UCO_API int uco_http_server_port(const uco_http_server *srv)
{
	return srv ? srv->port : -EINVAL;
}

UCO_API void uco_http_server_stats_get(const uco_http_server *srv,
				       uco_http_server_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!srv)
		return;
	for (unsigned i = 0; i < srv->ncores; i++) {
		const struct hcore *pc = srv->cores[i];

#define SUM(f, c) st->f += atomic_load_explicit(&pc->c, memory_order_relaxed)
		SUM(accepted, n_accepted);
		SUM(open, n_open);
		SUM(requests, n_requests);
		SUM(workers, n_workers);
		SUM(background, n_bg);
		SUM(rejected, n_rejected);
		SUM(timeouts, n_timeouts);
#undef SUM
	}
}

/* ---- starting ------------------------------------------------------------------ */

static int fill_opts(uco_http_server_opts *o, const uco_http_server_opts *in)
{
	if (in)
		*o = *in;
	if (o->cores > uco_cores() || o->backlog < 0)
		return -EINVAL;
	if (!o->max_header_size)
		o->max_header_size = 16384;
	if (!o->max_headers)
		o->max_headers = 100;
	if (!o->max_body_size)
		o->max_body_size = 1 << 20;
	if (!o->header_timeout)
		o->header_timeout = 10 * UCO_NSEC_PER_SEC;
	if (!o->body_timeout)
		o->body_timeout = 60 * UCO_NSEC_PER_SEC;
	if (!o->send_timeout)
		o->send_timeout = 60 * UCO_NSEC_PER_SEC;
	if (!o->idle_timeout)
		o->idle_timeout = 75 * UCO_NSEC_PER_SEC;
	if (!o->recv_buffers)
		o->recv_buffers = 1024;
	if (!o->recv_buffer_size)
		o->recv_buffer_size = 4096;
	if (!o->backlog)
		o->backlog = 511;
	if (o->recv_buffers & (o->recv_buffers - 1) ||
	    o->recv_buffers > 32768 || o->max_header_size > (1u << 30))
		return -EINVAL;
	return 0;
}

UCO_API int uco_http_serve(uco_http_server **out, const char *host,
			   const char *port, uco_http_handler handler,
			   void *arg, const uco_http_server_opts *opts)
{
	struct uco__loop *l = uco__io_loop();
	struct uco_http_server *srv;
	unsigned n;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!l || !uco_current())
		return -EPERM;
	if (!handler || !port)
		return -EINVAL;
	srv = uco__zalloc(sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	r = fill_opts(&srv->o, opts);
	if (r < 0) {
		uco__free(srv, sizeof(*srv));
		return r;
	}
	n = srv->o.cores ? srv->o.cores : uco_cores();
	if (srv->o.max_connections && srv->o.max_connections < n)
		n = (unsigned)srv->o.max_connections;
	srv->cores = uco__zalloc(n * sizeof(*srv->cores));
	if (!srv->cores) {
		uco__free(srv, sizeof(*srv));
		return -ENOMEM;
	}
	srv->ncores = n;
	srv->home = l;
	srv->handler = handler;
	srv->arg = arg;
	{
		const char *name = srv->o.server ? srv->o.server : "uco";

		if (*name && strlen(name) < sizeof(srv->server_hdr) - 12)
			srv->server_hdr_len = (size_t)snprintf(
				srv->server_hdr, sizeof(srv->server_hdr),
				"Server: %s\r\n", name);
		srv->o.server = NULL; /* not kept: the caller's string */
	}
	for (unsigned i = 0; i < n; i++) {
		struct hcore *pc = uco__zalloc(sizeof(*pc));

		if (!pc) {
			r = -ENOMEM;
			goto fail;
		}
		srv->cores[i] = pc;
		pc->h.fn = on_accept;
		pc->srv = srv;
		pc->core = i;
		pc->lfd = -1;
		pc->deadline = UINT64_MAX;
		uco__waitq_init(&pc->wq);
		uco__waitq_init(&pc->pool);
		uco__node_init(&pc->idle);
		uco__node_init(&pc->ready);
		uco__node_init(&pc->starved);
		uco__waitq_init(&pc->buf_wait);
		uco__node_init(&pc->workers);
		uco__node_init(&pc->bgs);
		if (srv->o.max_connections)
			pc->cap = srv->o.max_connections / n +
				  (i < srv->o.max_connections % n);
	}
	/* One core: a socket alone on its address.  Several: a SO_REUSEPORT
	 * group that only our own twins join; either way a port another
	 * process listens on is -EADDRINUSE (uco_listen_tcp() in uco/net.h). */
	r = uco_listen_tcp(host, port, srv->o.backlog,
			   n > 1 ? UCO_LISTEN_REUSEPORT : 0);
	if (r < 0)
		goto fail;
	srv->cores[0]->lfd = r;
	srv->port = uco_local_port(r);
	for (unsigned i = 1; i < n; i++) {
		r = uco_listen_twin(srv->cores[0]->lfd, srv->o.backlog);
		if (r < 0)
			goto fail;
		srv->cores[i]->lfd = r;
	}
	for (unsigned i = 0; i < n; i++) {
		uco_spawn_opts so = { .name = "http-core" };

		r = uco_spawn_on(i, &srv->cores[i]->task, core_main,
				 srv->cores[i], &so);
		if (r < 0)
			goto fail;
	}
	*out = srv;
	return 0;

fail:
	/* Cores already started stop at once; their lfd is theirs. */
	request_stop(srv, 0);
	uco_shield_begin();
	wait_stopped(srv);
	uco_shield_end();
	server_destroy(srv);
	return r;
}
