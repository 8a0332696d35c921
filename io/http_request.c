/*
 * Reading requests: llhttp drives the parse, one received chunk at a time,
 * and the request API reads from it (uco/http.h).
 *
 * The head (request line and headers) is copied, as llhttp hands over its
 * pieces, into the worker's head buffer as NUL-terminated strings: the
 * target, then each header's name and value.  A piece split across two
 * receives simply arrives in two calls, and the ring buffer can go back
 * to the kernel as soon as it is parsed.  The parser pauses at the end of
 * the head (the handler runs), at each span of body (handed to the reader
 * straight from the ring buffer), and, while a body is being read, at the
 * end of the message, so that the next pipelined request is not parsed
 * over the head the handler is still reading.
 *
 * What llhttp refuses (strict mode, no lenient flags) is a 400: among it
 * both Content-Length and Transfer-Encoding, a repeated Content-Length, a
 * bad chunk size.  On top of it: HTTP/1.1 without Host (400), an obsolete
 * line folding (400: llhttp would pass it on inside the value), a
 * transfer coding other than chunked (501), a head over max_header_size or
 * with over max_headers headers (431), a Content-Length over
 * max_body_size (413).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <uco/http.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "http_impl.h"

#define W(p) ((struct hworker *)(p)->data)

/* ---- llhttp's callbacks -------------------------------------------------- */

static int append(struct hworker *w, const char *at, size_t len)
{
	/* Half the buffer is the head; the rest is for the path's copy and
	 * decoded router parameters. */
	if (w->head_len + len + 1 > w->pc->srv->o.max_header_size) {
		w->perr = 431;
		return HPE_USER;
	}
	memcpy(w->head + w->head_len, at, len);
	w->head_len += len;
	return 0;
}

static int on_message_begin(llhttp_t *p)
{
	struct hworker *w = W(p);

	w->head_len = 0;
	w->nhdr = 0;
	w->in_value = false;
	w->head_done = false;
	w->msg_done = false;
	w->body_at = NULL;
	w->body_len = 0;
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	return append(W(p), at, len);
}

static int on_url_complete(llhttp_t *p)
{
	return append(W(p), "", 1);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct hworker *w = W(p);

	if (!w->in_value) {
		/* The first piece of a new name. */
		if (w->nhdr >= w->pc->srv->o.max_headers) {
			w->perr = 431;
			return HPE_USER;
		}
		w->hdr[w->nhdr].name = (uint32_t)w->head_len;
		w->in_value = true;
	}
	return append(w, at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
	struct hworker *w = W(p);
	int r = append(w, "", 1);

	w->value_cut = false;
	w->hdr[w->nhdr].value = (uint32_t)w->head_len;
	return r;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct hworker *w = W(p);

	/* llhttp takes an obsolete line folding (CRLF, then a space) as more
	 * of the same value: a second piece after one that ended before the
	 * end of the input (at its CR, not at a receive's end).  Refuse it
	 * (RFC 9112 5.2: a smuggling shape). */
	if (w->value_cut || memchr(at, '\r', len) || memchr(at, '\n', len)) {
		w->perr = 400;
		return HPE_USER;
	}
	w->value_cut = at + len < w->in + w->in_len;
	return append(w, at, len);
}

static int on_header_value_complete(llhttp_t *p)
{
	struct hworker *w = W(p);
	int r = append(w, "", 1);

	w->nhdr++;
	w->in_value = false;
	return r;
}

static int on_headers_complete(llhttp_t *p)
{
	W(p)->head_done = true;
	return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct hworker *w = W(p);

	w->body_at = at;
	w->body_len = len;
	return HPE_PAUSED;
}

static int on_message_complete(llhttp_t *p)
{
	struct hworker *w = W(p);

	w->msg_done = true;
	/* Only while reading a body: then the next request must wait. */
	return w->req.body_done ? 0 : HPE_PAUSED;
}

static const llhttp_settings_t settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_url_complete = on_url_complete,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void uco__http_parser_setup(struct hworker *w)
{
	llhttp_init(&w->parser, HTTP_REQUEST, &settings);
	w->parser.data = w;
	w->req.body_done = true;
	w->msg_done = false;
}

/*
 * Parse what is left of the current chunk, up to the next pause.
 * Returns 0, or the HTTP status of the error (w->perr, or 400).
 */
static int exec(struct hworker *w)
{
	size_t n = w->in ? w->in_len - w->in_off : 0;
	/* With nothing left to parse it still runs: the steps that take no
	 * input (the end of a Content-Length body) happen then. */
	const char *p = w->in ? w->in + w->in_off : "";
	llhttp_errno_t e;

	e = llhttp_execute(&w->parser, p, n);
	if (e == HPE_OK) {
		w->in_off = w->in_len;
	} else if (e == HPE_PAUSED) {
		if (n)
			w->in_off = (size_t)(llhttp_get_error_pos(&w->parser) -
					     w->in);
		llhttp_resume(&w->parser);
	} else if (e == HPE_PAUSED_UPGRADE) {
		/* An Upgrade we do not speak: this message ends here, and so
		 * does the connection after its response. */
		if (n)
			w->in_off = (size_t)(llhttp_get_error_pos(&w->parser) -
					     w->in);
		w->msg_done = true;
		w->eof = true;
	} else if (e == HPE_USER && w->perr) {
		return w->perr;
	} else if (e == HPE_INVALID_TRANSFER_ENCODING) {
		return 501;
	} else {
		return 400;
	}
	return 0;
}

/* ---- the head ----------------------------------------------------------------- */

static const char *find_header(const struct hworker *w, const char *name)
{
	for (unsigned i = 0; i < w->nhdr; i++)
		if (strcasecmp(w->head + w->hdr[i].name, name) == 0)
			return w->head + w->hdr[i].value;
	return NULL;
}

/* Is the value, trimmed, exactly `word` (case-insensitive)? */
static bool value_is(const char *v, const char *word)
{
	size_t n = strlen(word);

	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, word, n) != 0)
		return false;
	v += n;
	while (*v == ' ' || *v == '\t')
		v++;
	return *v == '\0';
}

/* The head is parsed: fill w->req, or return the status refusing it. */
static int take_head(struct hworker *w)
{
	struct uco_http_request *req = &w->req;
	const struct uco_http_server_opts *o = &w->pc->srv->o;
	llhttp_t *p = &w->parser;
	char *q;
	size_t tlen;

	req->w = w;
	req->method = llhttp_method_name((llhttp_method_t)p->method);
	req->version = p->http_major * 10 + p->http_minor;
	if (p->http_major != 1)
		return 505;
	req->target = w->head;
	tlen = strlen(req->target);
	if (tlen == 0)
		return 400;
	/* The path's copy, NUL-terminated at the '?', after the head. */
	req->path = w->head + w->head_len;
	memcpy(req->path, req->target, tlen + 1);
	w->head_len += tlen + 1;
	q = strchr(req->path, '?');
	req->query = NULL;
	if (q) {
		*q = '\0';
		req->query = req->target + (q - req->path) + 1;
	}
	req->nheaders = w->nhdr;
	req->nparams = 0;
	req->body = NULL;
	req->body_cap = 0;
	req->body_read = 0;
	req->body_error = false;
	req->body_err = 0;
	req->continue_sent = false;
	req->expect_continue = false;
	if (req->version == 11 && !find_header(w, "host"))
		return 400;
	/* llhttp accepts "gzip, chunked" (and, in a request, a lone "gzip" as
	 * no body at all); we decode no coding but chunked. */
	for (unsigned i = 0; i < w->nhdr; i++)
		if (strcasecmp(w->head + w->hdr[i].name,
			       "transfer-encoding") == 0 &&
		    !value_is(w->head + w->hdr[i].value, "chunked"))
			return 501;
	if (p->flags & F_CHUNKED) {
		req->content_length = -1;
	} else if (p->flags & F_CONTENT_LENGTH) {
		if (p->content_length > o->max_body_size)
			return 413;
		req->content_length = (int64_t)p->content_length;
	} else {
		req->content_length = 0;
	}
	req->body_done = req->content_length == 0;
	if (req->version == 11) {
		const char *e = find_header(w, "expect");

		if (e) {
			if (!value_is(e, "100-continue"))
				return 417;
			req->expect_continue = !req->body_done;
		}
	}
	return 0;
}

int uco__http_read_head(struct hworker *w)
{
	const struct uco_http_server_opts *o = &w->pc->srv->o;
	int scope = -1, r = 0;
	bool started = false;
	size_t raw = 0;

	w->perr = 0;
	w->head_done = false;
	w->req.version = 11;
	for (;;) {
		size_t before;

		if (!w->have_chunk || w->in_off == w->in_len) {
			r = uco__http_next_chunk(w);
			if (r == 0) {
				/* The client closed: between requests it is
				 * the end; within a head, it gave up. */
				r = started ? -EPIPE : 1;
				break;
			}
			if (r < 0) {
				if (r == -ETIMEDOUT && scope >= 0)
					r = 408;
				break;
			}
		}
		if (scope < 0) {
			/* The first byte of this request is here: its head has
			 * header_timeout to arrive (slowloris). */
			scope = uco_timeout_begin(o->header_timeout);
		}
		before = w->in_off;
		r = exec(w);
		if (r)
			break;
		raw += w->in_off - before;
		if (w->in_off > before)
			started = true;
		if (w->head_done) {
			r = take_head(w);
			break;
		}
		if (raw > o->max_header_size) {
			r = 431;
			break;
		}
	}
	if (scope >= 0)
		uco_timeout_end(scope);
	return r;
}

/* ---- the body ------------------------------------------------------------------ */

/* The next span of body into w->body_at/len; 0 at the end of the body, 1
 * with a span, or a negative errno. */
static int body_span(struct hworker *w)
{
	struct uco_http_request *req = &w->req;

	for (;;) {
		int r;

		if (w->body_len)
			return 1;
		if (w->msg_done) {
			req->body_done = true;
			return 0;
		}
		r = exec(w);
		if (r)
			return r == 413 ? -EMSGSIZE : -EPROTO;
		if (w->body_len || w->msg_done)
			continue;
		/* The parser needs more input. */
		r = uco__http_next_chunk(w);
		if (r == 0)
			r = -EPIPE; /* closed mid-body */
		if (r < 0)
			return r;
	}
}

static ssize_t body_fail(struct uco_http_request *req, int r)
{
	req->body_error = true;
	req->body_err = r;
	req->w->res.close = true;
	return r;
}

/* Copy up to len bytes of body to buf (NULL: discard). */
static ssize_t body_take(struct uco_http_request *req, void *buf, size_t len)
{
	struct hworker *w = req->w;
	const struct uco_http_server_opts *o = &w->pc->srv->o;
	int scope, r;
	size_t n;

	if (req->body_error)
		return req->body_err;
	if (req->body_done || len == 0)
		return 0;
	if (req->expect_continue && !req->continue_sent) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		req->continue_sent = true;
		r = uco__http_send_raw(w, cont, sizeof(cont) - 1);
		if (r < 0)
			return body_fail(req, r);
	}
	scope = uco_timeout_begin(o->body_timeout);
	r = body_span(w);
	uco_timeout_end(scope);
	if (r <= 0)
		return r < 0 ? body_fail(req, r) : 0;
	n = len < w->body_len ? len : w->body_len;
	if (req->body_read + n > o->max_body_size)
		return body_fail(req, -EMSGSIZE);
	if (buf)
		memcpy(buf, w->body_at, n);
	w->body_at += n;
	w->body_len -= n;
	req->body_read += n;
	return (ssize_t)n;
}

int uco__http_skip_body(struct hworker *w)
{
	ssize_t r;

	while ((r = body_take(&w->req, NULL, SIZE_MAX)) > 0)
		;
	return (int)r;
}

/* ---- the request API -------------------------------------------------------------- */

UCO_API const char *uco_http_request_method(const uco_http_request *req)
{
	return req->method;
}

UCO_API const char *uco_http_request_target(const uco_http_request *req)
{
	return req->target;
}

UCO_API const char *uco_http_request_path(const uco_http_request *req)
{
	return req->path;
}

UCO_API const char *uco_http_request_query(const uco_http_request *req)
{
	return req->query;
}

UCO_API int uco_http_request_version(const uco_http_request *req)
{
	return req->version;
}

UCO_API const char *uco_http_request_header(const uco_http_request *req,
					    const char *name)
{
	return name ? find_header(req->w, name) : NULL;
}

UCO_API unsigned uco_http_request_header_count(const uco_http_request *req)
{
	return req->nheaders;
}

UCO_API int uco_http_request_header_at(const uco_http_request *req,
				       unsigned i, const char **name,
				       const char **value)
{
	const struct hworker *w = req->w;

	if (i >= req->nheaders)
		return -ENOENT;
	if (name)
		*name = w->head + w->hdr[i].name;
	if (value)
		*value = w->head + w->hdr[i].value;
	return 0;
}

UCO_API const char *uco_http_request_param(const uco_http_request *req,
					   const char *name)
{
	for (unsigned i = 0; i < req->nparams; i++)
		if (strcmp(req->param_names[i], name) == 0)
			return req->params[i];
	return NULL;
}

UCO_API int64_t uco_http_request_content_length(const uco_http_request *req)
{
	return req->content_length;
}

UCO_API ssize_t uco_http_request_read(uco_http_request *req, void *buf,
				      size_t len)
{
	if (!req || (!buf && len))
		return -EINVAL;
	return body_take(req, buf, len);
}

UCO_API ssize_t uco_http_request_body(uco_http_request *req,
				      const char **data)
{
	const size_t max = req->w->pc->srv->o.max_body_size;
	size_t len = 0;

	if (!req || !data)
		return -EINVAL;
	*data = NULL;
	for (;;) {
		ssize_t n;

		if (req->body_cap - len < 2) {
			size_t ncap = req->body_cap ? req->body_cap * 2 : 4096;
			char *nb;

			if (req->content_length > 0 &&
			    (size_t)req->content_length + 1 > ncap)
				ncap = (size_t)req->content_length + 1;
			if (ncap > max + 1)
				ncap = max + 1 > req->body_cap + 1 ? max + 1
								   : req->body_cap + 2;
			nb = uco__realloc(req->body, ncap);
			if (!nb)
				return -ENOMEM;
			req->body = nb;
			req->body_cap = ncap;
		}
		n = body_take(req, req->body + len, req->body_cap - len - 1);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	req->body[len] = '\0';
	*data = req->body;
	return (ssize_t)len;
}
