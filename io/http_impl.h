/*
 * io/http_impl.h — what the HTTP server's files share: the per-core state,
 * the connection record, the worker that serves one connection at a time,
 * and the request and response it carries.
 *
 *   http_server.c   listeners, accept, connection records and their
 *                   multishot receives, the worker pool, the per-core
 *                   ticker (Date, idle sweep), shutdown
 *   http_request.c  parsing (llhttp) and the request API
 *   http_response.c the response API and the output buffer
 *   http_router.c   the router
 */
#ifndef UCO_IO_HTTP_IMPL_H
#define UCO_IO_HTTP_IMPL_H

#include <llhttp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uco/http.h>

#include "core/list.h"
#include "core/op.h"
#include "core/wait.h"
#include "fifo.h"

struct hcore;
struct hworker;

/* A received chunk: bytes (> 0) in ring buffer bid, 0 end of stream, or a
 * negative errno. */
struct hchunk {
	int res;
	unsigned bid;
};

/*
 * A connection.  Idle, it is this record on its core's idle list with its
 * multishot receive armed: no task, no buffer.  It is freed when it is
 * closed and the multishot's last CQE is in (refs).
 */
struct hconn {
	struct uco__cqe_handler h;  /* first: the multishot's user_data */
	struct hcore *pc;
	struct hworker *w;          /* serving it, or NULL */
	struct uco__node node;      /* idle list, ready list, or none */
	struct uco__fifo q;         /* struct hchunk not yet taken */
	uint64_t idle_since;
	struct hsend *send;         /* a send in flight, or NULL */
	int fd;                     /* -1 once closed */
	int send_err;               /* what the last send in flight met */
	int deferred_fd;            /* closed when the send in flight ends */
	uint8_t refs;               /* the owner (until closed), the multishot,
	                               the send in flight */
	bool armed;                 /* the multishot is in the kernel */
	bool ready;                 /* on the ready list */
	bool starved;               /* the multishot ended for want of buffers */
};

/*
 * A send nobody waits for: the worker's queued responses, copied here so
 * that the worker need not suspend until the kernel has sent them (it
 * goes on to the next connection; the send leaves with the loop's next
 * submission, batched with the others).  A short send is continued from
 * its CQE; a connection has one in flight at a time.
 */
struct hsend {
	struct uco__cqe_handler h;  /* first: the send's user_data */
	struct hconn *c;
	size_t len, off;
	char data[];
};

struct hheader {
	uint32_t name, value;       /* offsets in the head buffer */
};

struct uco_http_request {
	struct hworker *w;
	const char *method;
	char *target, *path, *query;
	int version;                /* 10, 11 */
	int64_t content_length;     /* -1: chunked */
	unsigned nheaders;
	bool expect_continue;
	bool continue_sent;
	bool body_done;             /* the message is complete */
	bool body_error;
	int body_err;
	size_t body_read;           /* decoded body bytes handed over */
	char *body;                 /* uco_http_request_body()'s buffer */
	size_t body_cap;
	unsigned nparams;
	const char *param_names[8];
	char *params[8];
};

enum hres_state {
	RES_NEW,                    /* nothing written */
	RES_STREAMING,              /* head out, chunks going */
	RES_DONE,                   /* complete */
};

struct uco_http_response {
	struct hworker *w;
	int status;
	enum hres_state state;
	bool close;                 /* close the connection after it */
	bool head_only;             /* HEAD: no body */
	bool chunked;
	bool cut;                   /* an error left it unfinished */
	char *hdrs;                 /* extra header lines */
	size_t hlen, hcap;
	struct hafter *after;       /* background tasks to start */
};

struct hafter {
	struct hafter *next;
	uco_fn fn;
	void *arg;
};

/* A worker: a pooled task serving one connection at a time. */
struct hworker {
	struct uco__node node;      /* pc->workers */
	struct hcore *pc;
	struct uco_task *task;
	struct hconn *c;            /* the connection it serves */
	struct uco__waitq wq;       /* waiting for data on c, or for work */
	bool waiting_data;
	bool waiting_send;          /* for c's send in flight to end */
	bool starting;              /* counted in pc->nstarting */

	/* input: the chunk being parsed */
	bool have_chunk;
	struct hchunk cur;
	char *in;                   /* its bytes */
	size_t in_off, in_len;
	bool eof;                   /* the client closed its side */
	int in_err;                 /* a receive error */

	/* parsing */
	llhttp_t parser;
	char *head;                 /* max_header_size + slack */
	size_t head_len, head_cap;
	size_t head_raw;            /* raw bytes of the head parsed so far */
	struct hheader *hdr;        /* max_headers */
	unsigned nhdr;
	bool in_value;
	bool value_cut;             /* a value's piece ended inside the input */
	bool head_done;
	bool msg_done;
	int perr;                   /* a parse error's status (400, 431...) */
	/* body spans of the last execute (pointers into `in`) */
	const char *body_at;
	size_t body_len;

	/* output: responses not sent yet */
	char *out;
	size_t out_len, out_cap;
	char *filebuf;              /* sendfile's bounce buffer */

	struct uco_http_request req;
	struct uco_http_response res;
};

struct hbg {
	struct uco__node node;      /* pc->bgs */
	struct hcore *pc;
	struct uco_task *task;
	uco_fn fn;
	void *arg;
};

struct hcore {
	struct uco__cqe_handler h;  /* first: the multishot accept */
	struct uco_http_server *srv;
	struct uco__loop *loop;
	struct uco_task *task;      /* the core's main task (home's handle) */
	unsigned core;
	int lfd;
	size_t cap;                 /* this core's share; 0: none */
	struct uco_bufring *br;
	bool accept_armed, accept_disarming;
	bool stopping;
	int accept_err;             /* from the multishot, not yet handled */
	uint64_t backoff, backoff_until;
	struct uco__waitq wq;       /* the main task */
	size_t nconns;
	size_t nrecs;               /* connection records not yet freed: a
	                               closed one lives until its last CQE */
	struct uco__node idle;      /* idle connections, oldest first */
	struct uco__node ready;     /* connections waiting for a worker */
	struct uco__node starved;   /* connections waiting for a ring buffer */
	struct uco__waitq buf_wait; /* workers waiting for a ring buffer */
	struct uco__node workers;   /* every worker */
	struct uco__waitq pool;     /* idle workers wait here */
	unsigned nworkers, nidle;
	unsigned nstarting;         /* workers woken or spawned that have not
	                               looked at the ready list yet */
	struct uco__node bgs;       /* background tasks */
	size_t nbg;
	char date[40];              /* "Date: ...\r\n" */
	size_t date_len;
	_Atomic uint64_t deadline;  /* shutdown: cancel from then on */
	_Atomic uint64_t n_accepted, n_open, n_requests, n_workers, n_bg,
		n_rejected, n_timeouts;
};

struct uco_http_server {
	struct uco__loop *home;
	uco_http_handler handler;
	void *arg;
	uco_http_server_opts o;
	int port;
	unsigned ncores;
	struct hcore **cores;
	bool stopping;
	bool stopped;
	char server_hdr[96];        /* "Server: uco\r\n" or "" */
	size_t server_hdr_len;
};

static inline void uco__http_bump(_Atomic uint64_t *c, int64_t d)
{
	/* One writer per counter (its core). */
	atomic_store_explicit(
		c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)d,
		memory_order_relaxed);
}

/* http_server.c: the worker's input. */
/* Make the next chunk of c current in w: 1, or 0 at the end of stream,
 * or a negative errno.  Flushes w's output before it waits.  Suspends. */
int uco__http_next_chunk(struct hworker *w);
/* Done with the current chunk: back to the ring. */
void uco__http_drop_chunk(struct hworker *w);
/* Any input buffered (the current chunk's rest, or queued)? */
bool uco__http_input_pending(const struct hworker *w);

/* http_request.c */
void uco__http_parser_setup(struct hworker *w);
/* Read and parse a request's head: 0 (w->req is ready), 1 the client
 * closed between requests, or an HTTP status to answer with before closing
 * (400, 408, 413, 431, 501), or a negative errno (close quietly). */
int uco__http_read_head(struct hworker *w);
/* Parse and throw away what is left of the body: 0, or < 0 (close). */
int uco__http_skip_body(struct hworker *w);

/* http_response.c */
void uco__http_response_reset(struct hworker *w);
/* Finish res after the handler returned r. */
void uco__http_response_finish(struct hworker *w, int r);
/* Queue a complete error response (and Connection: close). */
void uco__http_error_response(struct hworker *w, int status, int version);
/* Send what is queued, without waiting for the kernel (unless a send is
 * in flight already: then after it).  0 or a negative errno. */
int uco__http_flush(struct hworker *w);
/* Send what is queued and wait until the kernel has taken all of it
 * (before a close).  Suspends.  0 or < 0. */
int uco__http_flush_wait(struct hworker *w);
/* Wait until c's send in flight has ended.  Suspends.  0 or < 0. */
int uco__http_send_wait(struct hworker *w);
/* Submit len bytes as c's send in flight (none may be in flight). */
int uco__http_send_async(struct hconn *c, const char *data, size_t len);
/* Queue len bytes and send everything queued now.  Suspends. */
int uco__http_send_raw(struct hworker *w, const char *data, size_t len);

#endif
