/*
 * The HTTP/1.1 client session (uco/http_client.h).
 *
 * A session keeps, per host:port, the connections kept alive (a stack: the
 * most recently used first) and how many are open.  A fetch takes an idle
 * one, or opens one while under both limits, or closes an idle connection
 * of another host to make room, or else waits (one wait list per session,
 * re-checked at every release).  A connection is a uco_stream, so a TLS
 * stream can replace it later without touching the rest.
 *
 * The response is parsed by llhttp straight from the stream's buffer
 * (uco_stream_peek / uco_stream_consume): the head is copied out as the
 * server's is, and a body span is handed to the reader before its bytes
 * are consumed.  The parser pauses at the end of the head, at each body
 * span and at the end of the message.
 *
 * A kept-alive connection may have been closed by the server meanwhile: a
 * request on a reused connection that fails before any response byte came
 * is retried once on a new connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>
#include <uco/http_client.h>
#include <uco/stream.h>
#include <uco/task.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "core/list.h"
#include "core/wait.h"
#include "io.h"

#define MAX_HEADERS 100

struct phost {
	struct uco__node node;          /* session->hosts */
	struct uco__node idle;          /* struct pconn, most recent first */
	unsigned open;                  /* idle + in use */
	char host[256], port[8];
};

struct pconn {
	struct uco__node node;          /* host->idle */
	struct phost *h;
	uco_stream *st;
};

struct uco_http_session {
	struct uco__loop *loop;
	uco_http_session_opts o;
	struct uco__node hosts;
	unsigned open;
	unsigned responses;             /* not freed yet */
	struct uco__waitq slots;
};

struct uco_http_client_response {
	uco_http_session *s;
	struct pconn *c;
	llhttp_t p;
	uint64_t deadline;              /* total_timeout */
	int status;
	int err;                        /* sticky */
	bool head_req, head_done, msg_done, got_bytes, in_value;
	int64_t length;
	char *head;
	size_t head_len, status_len;
	unsigned nhdr;
	uint32_t hname[MAX_HEADERS], hvalue[MAX_HEADERS];
	const char *span;               /* body not handed out yet */
	size_t span_len;
	size_t unconsumed;              /* parsed bytes still in the stream */
	char *body;
	size_t body_cap;
	char url[2048];
};

/* ---- URLs -------------------------------------------------------------- */

struct url {
	char host[256], port[8];
	const char *path;               /* into the URL given */
};

static int parse_url(const char *u, struct url *o)
{
	const char *p, *slash, *colon, *hend;
	size_t n;

	if (!u || strncasecmp(u, "http://", 7) != 0)
		return -EINVAL;
	p = u + 7;
	slash = p + strcspn(p, "/?#");
	colon = memchr(p, ':', (size_t)(slash - p));
	hend = colon ? colon : slash;
	n = (size_t)(hend - p);
	if (n == 0 || n >= sizeof(o->host) || memchr(p, '@', n))
		return -EINVAL;
	memcpy(o->host, p, n);
	o->host[n] = '\0';
	if (colon) {
		n = (size_t)(slash - colon - 1);
		if (n == 0 || n > 5 || strspn(colon + 1, "0123456789") < n)
			return -EINVAL;
		memcpy(o->port, colon + 1, n);
		o->port[n] = '\0';
	} else {
		strcpy(o->port, "80");
	}
	o->path = *slash ? slash : "/";
	return 0;
}

/* Resolve a Location against the URL it came from. */
static int resolve(const char *base, const char *loc, char *out, size_t size)
{
	struct url b;
	int n;

	if (strncasecmp(loc, "http://", 7) == 0) {
		n = snprintf(out, size, "%s", loc);
	} else if (strncasecmp(loc, "https://", 8) == 0) {
		return -EPROTONOSUPPORT; /* TLS comes later */
	} else {
		if (parse_url(base, &b) < 0)
			return -EINVAL;
		if (loc[0] == '/') {
			n = snprintf(out, size, "http://%s:%s%s", b.host, b.port,
				     loc);
		} else {
			/* Relative to the base's directory. */
			size_t dir = strcspn(b.path, "?#");

			while (dir > 0 && b.path[dir - 1] != '/')
				dir--;
			n = snprintf(out, size, "http://%s:%s%.*s%s", b.host,
				     b.port, (int)dir, b.path, loc);
		}
	}
	return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

/* ---- the pool ----------------------------------------------------------- */

static struct phost *host_get(uco_http_session *s, const struct url *u)
{
	struct uco__node *n;
	struct phost *h;

	for (n = s->hosts.next; n != &s->hosts; n = n->next) {
		h = uco__container_of(n, struct phost, node);
		if (strcmp(h->host, u->host) == 0 &&
		    strcmp(h->port, u->port) == 0)
			return h;
	}
	h = uco__zalloc(sizeof(*h));
	if (!h)
		return NULL;
	uco__node_init(&h->idle);
	strcpy(h->host, u->host);
	strcpy(h->port, u->port);
	uco__list_add_tail(&s->hosts, &h->node);
	return h;
}

static void conn_drop(uco_http_session *s, struct pconn *c)
{
	uco__list_del(&c->node);
	uco_stream_abort(c->st);
	c->h->open--;
	s->open--;
	uco__free(c, sizeof(*c));
	uco__waitq_wake_all(&s->slots, 0);
}

/* Close an idle connection of another host, to make room. */
static bool evict_idle(uco_http_session *s, struct phost *keep)
{
	for (struct uco__node *n = s->hosts.next; n != &s->hosts; n = n->next) {
		struct phost *h = uco__container_of(n, struct phost, node);
		struct uco__node *i;

		if (h != keep && (i = uco__list_first(&h->idle))) {
			/* The least recently used: the tail. */
			conn_drop(s, uco__container_of(h->idle.prev,
						       struct pconn, node));
			(void)i;
			return true;
		}
	}
	return false;
}

static int acquire(uco_http_session *s, const struct url *u, bool fresh,
		   struct pconn **out, bool *reused)
{
	struct phost *h = host_get(s, u);
	int r;

	if (!h)
		return -ENOMEM;
	for (;;) {
		struct uco__node *n = uco__list_first(&h->idle);
		bool host_ok = !s->o.limit_per_host ||
			       h->open < s->o.limit_per_host;

		if (n && !fresh) {
			uco__list_del(n);
			*out = uco__container_of(n, struct pconn, node);
			*reused = true;
			return 0;
		}
		if (n && fresh) {
			/* Make room with this host's own idle one. */
			conn_drop(s, uco__container_of(n, struct pconn, node));
			continue;
		}
		if (host_ok && (s->open < s->o.limit || evict_idle(s, h)))
			break;
		r = uco__waitq_wait(&s->slots, "http client slot");
		if (r < 0)
			return r;
	}
	struct pconn *c = uco__zalloc(sizeof(*c));
	int scope = -1;

	if (!c)
		return -ENOMEM;
	h->open++;
	s->open++;
	c->h = h;
	uco__node_init(&c->node);
	if (s->o.connect_timeout)
		scope = uco_timeout_begin(s->o.connect_timeout);
	r = uco_open_connection(&c->st, u->host, u->port, NULL);
	if (scope >= 0)
		uco_timeout_end(scope);
	if (r < 0) {
		h->open--;
		s->open--;
		uco__free(c, sizeof(*c));
		uco__waitq_wake_all(&s->slots, 0);
		return r;
	}
	*out = c;
	*reused = false;
	return 0;
}

static void release(uco_http_session *s, struct pconn *c, bool keep)
{
	if (!keep) {
		conn_drop(s, c);
		return;
	}
	uco__list_add_head(&c->h->idle, &c->node);
	uco__waitq_wake_all(&s->slots, 0);
}

/* ---- sessions -------------------------------------------------------------- */

UCO_API int uco_http_session_create(uco_http_session **out,
				    const uco_http_session_opts *opts)
{
	uco_http_session *s;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!uco__io_loop())
		return -EPERM;
	s = uco__zalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (opts)
		s->o = *opts;
	if (!s->o.limit)
		s->o.limit = 100;
	if (!s->o.total_timeout)
		s->o.total_timeout = 300 * UCO_NSEC_PER_SEC;
	if (!s->o.max_redirects)
		s->o.max_redirects = 10;
	if (!s->o.max_header_size)
		s->o.max_header_size = 16384;
	if (!s->o.max_body_size)
		s->o.max_body_size = 64u << 20;
	s->loop = uco__io_loop();
	uco__node_init(&s->hosts);
	uco__waitq_init(&s->slots);
	*out = s;
	return 0;
}

UCO_API void uco_http_session_free(uco_http_session *s)
{
	struct uco__node *n;

	if (!s)
		return;
	if (s->responses || !uco__waitq_empty(&s->slots)) {
		fprintf(stderr, "uco: uco_http_session_free() with responses "
				"or fetches still in progress\n");
		abort();
	}
	while ((n = uco__list_first(&s->hosts))) {
		struct phost *h = uco__container_of(n, struct phost, node);
		struct uco__node *i;

		while ((i = uco__list_first(&h->idle)))
			conn_drop(s, uco__container_of(i, struct pconn, node));
		uco__list_del(n);
		uco__free(h, sizeof(*h));
	}
	uco__free(s, sizeof(*s));
}

/* ---- parsing ---------------------------------------------------------------- */

#define R(p) ((struct uco_http_client_response *)(p)->data)

static int append(struct uco_http_client_response *r, const char *at,
		  size_t len)
{
	if (r->head_len + len + 1 > r->s->o.max_header_size) {
		r->err = -EMSGSIZE;
		return HPE_USER;
	}
	memcpy(r->head + r->head_len, at, len);
	r->head_len += len;
	return 0;
}

static int on_field(llhttp_t *p, const char *at, size_t len)
{
	struct uco_http_client_response *r = R(p);

	if (!r->in_value) {
		if (r->nhdr == MAX_HEADERS) {
			r->err = -EMSGSIZE;
			return HPE_USER;
		}
		r->hname[r->nhdr] = (uint32_t)r->head_len;
		r->in_value = true;
	}
	return append(r, at, len);
}

static int on_field_complete(llhttp_t *p)
{
	struct uco_http_client_response *r = R(p);
	int e = append(r, "", 1);

	r->hvalue[r->nhdr] = (uint32_t)r->head_len;
	return e;
}

/* The reason phrase is not kept, but it counts towards the limit. */
static int on_status(llhttp_t *p, const char *at, size_t len)
{
	struct uco_http_client_response *r = R(p);
	int e = append(r, at, len);

	r->head_len -= len;
	r->status_len += len;
	if (!e && r->status_len > r->s->o.max_header_size) {
		r->err = -EMSGSIZE;
		return HPE_USER;
	}
	return e;
}

static int on_value(llhttp_t *p, const char *at, size_t len)
{
	return append(R(p), at, len);
}

static int on_value_complete(llhttp_t *p)
{
	struct uco_http_client_response *r = R(p);
	int e = append(r, "", 1);

	r->nhdr++;
	r->in_value = false;
	return e;
}

static int on_headers_complete(llhttp_t *p)
{
	struct uco_http_client_response *r = R(p);

	r->head_done = true;
	r->status = p->status_code;
	/* No body for HEAD, 1xx, 204, 304: llhttp knows the last three. */
	if (r->head_req) {
		r->length = 0;
		return 1; /* and pauses at the message's end */
	}
	r->length = p->flags & F_CONTENT_LENGTH ? (int64_t)p->content_length : -1;
	return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct uco_http_client_response *r = R(p);

	r->span = at;
	r->span_len = len;
	return HPE_PAUSED;
}

static int on_message_complete(llhttp_t *p)
{
	struct uco_http_client_response *r = R(p);

	r->msg_done = true;
	return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
	.on_status = on_status,
	.on_header_field = on_field,
	.on_header_field_complete = on_field_complete,
	.on_header_value = on_value,
	.on_header_value_complete = on_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* Run the parser over data[0, n): 0, or a negative errno. */
static int execute(struct uco_http_client_response *r, const char *data,
		   size_t n)
{
	llhttp_errno_t e = llhttp_execute(&r->p, n ? data : "", n);
	size_t used = n;

	if (e == HPE_PAUSED) {
		if (n)
			used = (size_t)(llhttp_get_error_pos(&r->p) - data);
		llhttp_resume(&r->p);
	} else if (e != HPE_OK) {
		if (!r->err)
			r->err = -EPROTO;
		return r->err;
	}
	if (n) {
		if (r->span_len)
			r->unconsumed = used; /* the span lies in there */
		else
			uco_stream_consume(r->c->st, used);
	}
	return 0;
}

/* Make progress: the head, or the next body span, or the end. */
static int advance(struct uco_http_client_response *r)
{
	const void *data;
	ssize_t n;
	int scope, e;
	uint64_t dl = r->deadline;

	if (r->err)
		return r->err;
	/* Steps that need no input (the end of a Content-Length body). */
	if ((e = execute(r, NULL, 0)) < 0)
		return e;
	if (r->span_len || r->msg_done)
		return 0;
	if (r->s->o.read_timeout && uco_now() + r->s->o.read_timeout < dl)
		dl = uco_now() + r->s->o.read_timeout;
	scope = uco_timeout_at(dl);
	n = uco_stream_peek(r->c->st, 1, &data);
	uco_timeout_end(scope);
	if (n < 0)
		return r->err = (int)n;
	if (n == 0) {
		/* The end of the stream: the end of a body that runs to the
		 * close, or else a response cut short. */
		llhttp_errno_t f = llhttp_finish(&r->p);

		if ((f == HPE_OK || f == HPE_PAUSED) && r->msg_done)
			return 0;
		return r->err = r->got_bytes || r->head_done ? -EPIPE
							     : -ECONNRESET;
	}
	r->got_bytes = true;
	return execute(r, data, (size_t)n);
}

/* Hand out the pending span's first bytes. */
static size_t take(struct uco_http_client_response *r, void *buf, size_t len)
{
	size_t n = len < r->span_len ? len : r->span_len;

	if (buf)
		memcpy(buf, r->span, n);
	r->span += n;
	r->span_len -= n;
	if (!r->span_len && r->unconsumed) {
		uco_stream_consume(r->c->st, r->unconsumed);
		r->unconsumed = 0;
	}
	return n;
}

UCO_API ssize_t uco_http_client_response_read(uco_http_client_response *r,
					      void *buf, size_t len)
{
	if (!r || (!buf && len))
		return -EINVAL;
	if (len == 0)
		return 0;
	for (;;) {
		int e;

		if (r->span_len)
			return (ssize_t)take(r, buf, len);
		if (r->msg_done)
			return 0;
		if ((e = advance(r)) < 0)
			return e;
	}
}

UCO_API ssize_t uco_http_client_response_body(uco_http_client_response *r,
					      const char **data)
{
	size_t len = 0, max;

	if (!r || !data)
		return -EINVAL;
	*data = NULL;
	max = r->s->o.max_body_size;
	for (;;) {
		ssize_t n;

		if (r->body_cap - len < 2) {
			size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
			char *nb;

			if (r->length > 0 && (size_t)r->length + 1 > cap &&
			    (size_t)r->length < max)
				cap = (size_t)r->length + 1;
			if (cap > max + 1)
				cap = max + 1;
			if (cap <= r->body_cap)
				return r->err = -EMSGSIZE;
			nb = uco__realloc(r->body, cap);
			if (!nb)
				return -ENOMEM;
			r->body = nb;
			r->body_cap = cap;
		}
		n = uco_http_client_response_read(r, r->body + len,
						  r->body_cap - len - 1);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r->body[len] = '\0';
	*data = r->body;
	return (ssize_t)len;
}

/* ---- a fetch ----------------------------------------------------------------- */

static void response_end(struct uco_http_client_response *r)
{
	bool keep;

	if (!r->c)
		return;
	keep = !r->err && r->msg_done && !r->span_len &&
	       llhttp_should_keep_alive(&r->p) &&
	       uco_stream_buffered(r->c->st) == r->unconsumed &&
	       !uco_stream_at_eof(r->c->st);
	if (keep && r->unconsumed)
		uco_stream_consume(r->c->st, r->unconsumed);
	release(r->s, r->c, keep);
	r->c = NULL;
}

UCO_API void uco_http_client_response_free(uco_http_client_response *r)
{
	if (!r)
		return;
	response_end(r);
	r->s->responses--;
	uco__free(r->head, r->s->o.max_header_size);
	uco__free(r->body, r->body_cap);
	uco__free(r, sizeof(*r));
}

static int send_request(struct uco_http_client_response *r,
			const struct url *u, const char *method,
			const uco_http_fetch_opts *o, bool with_body)
{
	char line[512];
	int n, e, scope;

	n = snprintf(line, sizeof(line), "%s ", method);
	if ((e = uco_stream_write(r->c->st, line, (size_t)n)) < 0)
		return e;
	if ((e = uco_stream_write(r->c->st, u->path, strlen(u->path))) < 0)
		return e;
	if (strcmp(u->port, "80") == 0)
		n = snprintf(line, sizeof(line),
			     " HTTP/1.1\r\nHost: %s\r\nUser-Agent: uco\r\n",
			     u->host);
	else
		n = snprintf(line, sizeof(line),
			     " HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: uco\r\n",
			     u->host, u->port);
	if ((e = uco_stream_write(r->c->st, line, (size_t)n)) < 0)
		return e;
	for (const char *const *h = o && o->headers ? o->headers : NULL;
	     h && *h; h++) {
		if (strpbrk(*h, "\r\n") || !strchr(*h, ':'))
			return -EINVAL;
		if ((e = uco_stream_write(r->c->st, *h, strlen(*h))) < 0 ||
		    (e = uco_stream_write(r->c->st, "\r\n", 2)) < 0)
			return e;
	}
	if (with_body && o && (o->body_len || strcmp(method, "POST") == 0 ||
			       strcmp(method, "PUT") == 0)) {
		n = snprintf(line, sizeof(line), "Content-Length: %zu\r\n",
			     o->body_len);
		if ((e = uco_stream_write(r->c->st, line, (size_t)n)) < 0)
			return e;
	}
	if ((e = uco_stream_write(r->c->st, "\r\n", 2)) < 0)
		return e;
	if (with_body && o && o->body_len &&
	    (e = uco_stream_write(r->c->st, o->body, o->body_len)) < 0)
		return e;
	scope = uco_timeout_at(r->deadline);
	e = uco_stream_drain(r->c->st);
	uco_timeout_end(scope);
	return e;
}

/* One request/response head on one connection. */
static int exchange(struct uco_http_client_response *r, const struct url *u,
		    const char *method, const uco_http_fetch_opts *o,
		    bool with_body)
{
	bool reused = false;
	int e;

	for (int attempt = 0;; attempt++) {
		int scope = uco_timeout_at(r->deadline);

		e = acquire(r->s, u, attempt > 0, &r->c, &reused);
		uco_timeout_end(scope);
		if (e < 0)
			return e;
		llhttp_init(&r->p, HTTP_RESPONSE, &settings);
		r->p.data = r;
		r->head_req = strcmp(method, "HEAD") == 0;
		r->head_done = r->msg_done = r->got_bytes = r->in_value = false;
		r->err = 0;
		r->head_len = r->status_len = 0;
		r->nhdr = 0;
		r->span_len = 0;
		r->unconsumed = 0;
		e = send_request(r, u, method, o, with_body);
		while (e == 0 && !r->head_done)
			e = advance(r);
		if (e == 0)
			return 0;
		/* A kept-alive connection the server had closed: once more,
		 * on a new one, if nothing of a response came. */
		release(r->s, r->c, false);
		r->c = NULL;
		if (!(reused && !r->got_bytes && attempt == 0 &&
		      e != -ECANCELED && e != -ETIMEDOUT))
			return e;
	}
}

UCO_API int uco_http_fetch(uco_http_session *s, const char *url,
			   const uco_http_fetch_opts *o,
			   uco_http_client_response **out)
{
	struct uco_http_client_response *r;
	const char *method = o && o->method ? o->method : "GET";
	bool with_body = true;
	unsigned redirects = 0;
	int e;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!s || !url || strpbrk(method, " \r\n"))
		return -EINVAL;
	if (uco__io_loop() != s->loop)
		return uco__io_loop() ? -EXDEV : -EPERM;
	r = uco__zalloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->s = s;
	s->responses++;
	r->head = uco__alloc(s->o.max_header_size);
	if (!r->head) {
		uco_http_client_response_free(r);
		return -ENOMEM;
	}
	r->deadline = uco_now() + s->o.total_timeout;
	if (strlen(url) >= sizeof(r->url)) {
		uco_http_client_response_free(r);
		return -EINVAL;
	}
	strcpy(r->url, url);
	for (;;) {
		struct url u;
		const char *loc;
		char next[sizeof(r->url)];

		if ((e = parse_url(r->url, &u)) < 0)
			break;
		e = exchange(r, &u, method, o, with_body);
		if (e < 0)
			break;
		if (o && o->no_redirects)
			break;
		if (r->status != 301 && r->status != 302 &&
		    r->status != 303 && r->status != 307 && r->status != 308)
			break;
		if (!(loc = uco_http_client_response_header(r, "Location")))
			break;
		if (++redirects > s->o.max_redirects) {
			e = -ELOOP;
			break;
		}
		if ((e = resolve(r->url, loc, next, sizeof(next))) < 0)
			break;
		/* What browsers do: 303, and 301/302 after a POST, become a
		 * GET without the body; 307 and 308 repeat the request. */
		if (r->status == 303 ||
		    ((r->status == 301 || r->status == 302) &&
		     strcmp(method, "POST") == 0)) {
			if (strcmp(method, "HEAD") != 0)
				method = "GET";
			with_body = false;
		}
		/* The redirect's own body, read to keep the connection. */
		for (;;) {
			char sink[1024];
			ssize_t n = uco_http_client_response_read(r, sink,
								  sizeof(sink));

			if (n <= 0) {
				e = (int)n;
				break;
			}
		}
		if (e < 0)
			break;
		response_end(r);
		strcpy(r->url, next);
	}
	if (e < 0) {
		uco_http_client_response_free(r);
		return e;
	}
	*out = r;
	return 0;
}

UCO_API int uco_http_client_response_status(const uco_http_client_response *r)
{
	return r ? r->status : -EINVAL;
}

UCO_API const char *uco_http_client_response_header(
	const uco_http_client_response *r, const char *name)
{
	for (unsigned i = 0; r && name && i < r->nhdr; i++)
		if (strcasecmp(r->head + r->hname[i], name) == 0)
			return r->head + r->hvalue[i];
	return NULL;
}

UCO_API const char *uco_http_client_response_url(
	const uco_http_client_response *r)
{
	return r ? r->url : NULL;
}

UCO_API int64_t uco_http_client_response_length(
	const uco_http_client_response *r)
{
	return r ? r->length : -1;
}

UCO_API int uco_http_get(uco_http_session *s, const char *url, int *status,
			 char **body, size_t *len)
{
	uco_http_client_response *r;
	const char *data;
	ssize_t n;
	int e = uco_http_fetch(s, url, NULL, &r);

	if (body)
		*body = NULL;
	if (e < 0)
		return e;
	n = uco_http_client_response_body(r, &data);
	if (n >= 0) {
		if (status)
			*status = r->status;
		if (len)
			*len = (size_t)n;
		if (body) {
			*body = malloc((size_t)n + 1);
			if (*body)
				memcpy(*body, data, (size_t)n + 1);
			else
				n = -ENOMEM;
		}
	}
	uco_http_client_response_free(r);
	return n < 0 ? (int)n : 0;
}
