/*
 * Writing responses (uco/http.h).
 *
 * Everything a response writes goes into its worker's output buffer; the
 * buffer is sent when the worker is about to wait for input (so the
 * responses to a burst of pipelined requests leave in one send), when it
 * passes OUT_HIGH, when a body is large enough to go on its own, and at the
 * end of a streamed or file body.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <uco/file.h>
#include <uco/http.h>
#include <uco/net.h>
#include <uco/time.h>

#include "core/alloc.h"
#include "http_impl.h"

#define OUT_HIGH (64 * 1024)     /* send when the buffer holds this much */
#define FILE_CHUNK (64 * 1024)   /* sendfile's reads */

/* ---- the output buffer ------------------------------------------------ */

static int reserve(struct hworker *w, size_t n)
{
	size_t cap;
	char *nb;

	if (w->out_cap - w->out_len >= n)
		return 0;
	cap = w->out_cap ? w->out_cap : 16384;
	while (cap - w->out_len < n)
		cap *= 2;
	nb = uco__realloc(w->out, cap);
	if (!nb)
		return -ENOMEM;
	w->out = nb;
	w->out_cap = cap;
	return 0;
}

static int put(struct hworker *w, const void *data, size_t len)
{
	int r = reserve(w, len);

	if (r == 0) {
		memcpy(w->out + w->out_len, data, len);
		w->out_len += len;
	}
	return r;
}

/* Send data under send_timeout.  A failure leaves the connection to be
 * closed: the input side reports it from then on. */
static int send_now(struct hworker *w, const void *data, size_t len)
{
	uint64_t limit = w->pc->srv->o.send_timeout;
	bool cancelled = uco_cancelling();
	int scope;
	ssize_t r;

	/* A cancelled worker (a shutdown past its grace) still says what
	 * happened to its client, shielded, but for a second at most. */
	if (cancelled) {
		uco_shield_begin();
		if (limit > UCO_NSEC_PER_SEC)
			limit = UCO_NSEC_PER_SEC;
	}
	scope = uco_timeout_begin(limit);
	r = uco__http_send_wait(w);
	if (r == 0)
		r = uco_send_all(w->c->fd, data, len, 0);
	uco_timeout_end(scope);
	if (cancelled)
		uco_shield_end();
	if (r < 0) {
		if (!w->in_err)
			w->in_err = (int)r;
		w->res.close = true;
		return (int)r;
	}
	return 0;
}

int uco__http_flush(struct hworker *w)
{
	int r;

	if (w->in_err)
		return w->in_err;
	if (!w->out_len)
		return 0;
	if (w->c->send || w->c->send_err || w->out_len > OUT_HIGH ||
	    uco_cancelling()) {
		/* Behind a send in flight, large, or the last words of a
		 * cancelled worker: sent and waited for. */
		r = send_now(w, w->out, w->out_len);
	} else {
		/* The common case: copied into a send of its own, and the
		 * worker goes on at once. */
		r = uco__http_send_async(w->c, w->out, w->out_len);
		if (r < 0)
			r = send_now(w, w->out, w->out_len);
	}
	w->out_len = 0;
	if (w->out_cap > 4 * OUT_HIGH) {
		/* One huge response does not pin its buffer. */
		uco__free(w->out, w->out_cap);
		w->out = NULL;
		w->out_cap = 0;
	}
	return r;
}

int uco__http_flush_wait(struct hworker *w)
{
	uint64_t limit = w->pc->srv->o.send_timeout;
	bool cancelled = uco_cancelling();
	int r = uco__http_flush(w), scope;

	if (r < 0 || !w->c->send)
		return r;
	if (cancelled) {
		uco_shield_begin();
		if (limit > UCO_NSEC_PER_SEC)
			limit = UCO_NSEC_PER_SEC;
	}
	scope = uco_timeout_begin(limit);
	r = uco__http_send_wait(w);
	uco_timeout_end(scope);
	if (cancelled)
		uco_shield_end();
	return r;
}

int uco__http_send_raw(struct hworker *w, const char *data, size_t len)
{
	int r = put(w, data, len);

	return r < 0 ? r : uco__http_flush(w);
}

/* ---- status texts and the head ------------------------------------------- */

UCO_API const char *uco_http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Not Allowed"; /* nginx's words */
	case 408: return "Request Time-out";
	case 411: return "Length Required";
	case 413: return "Request Entity Too Large";
	case 414: return "Request-URI Too Large";
	case 416: return "Requested Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Temporarily Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* The status line and headers.  length: the Content-Length, or -1 for a
 * chunked body, -2 for a body that ends with the connection. */
static int put_head(struct hworker *w, int64_t length)
{
	struct uco_http_response *res = &w->res;
	struct uco_http_server *srv = w->pc->srv;
	char line[96];
	int n, r;

	if (res->status == 200)
		r = put(w, "HTTP/1.1 200 OK\r\n", 17);
	else {
		n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n",
			     res->status, uco_http_status_text(res->status));
		r = put(w, line, (size_t)n);
	}
	if (r < 0 || reserve(w, srv->server_hdr_len + w->pc->date_len +
					res->hlen + 128) < 0)
		return -ENOMEM;
	if (srv->server_hdr_len)
		memcpy(w->out + w->out_len, srv->server_hdr,
		       srv->server_hdr_len);
	w->out_len += srv->server_hdr_len;
	memcpy(w->out + w->out_len, w->pc->date, w->pc->date_len);
	w->out_len += w->pc->date_len;
	if (length >= 0)
		n = snprintf(line, sizeof(line), "Content-Length: %lld\r\n",
			     (long long)length);
	else if (length == -1)
		n = snprintf(line, sizeof(line),
			     "Transfer-Encoding: chunked\r\n");
	else
		n = 0;
	memcpy(w->out + w->out_len, line, (size_t)n);
	w->out_len += (size_t)n;
	if (res->close) {
		memcpy(w->out + w->out_len, "Connection: close\r\n", 19);
		w->out_len += 19;
	} else if (w->req.version == 10) {
		memcpy(w->out + w->out_len, "Connection: keep-alive\r\n", 24);
		w->out_len += 24;
	}
	if (res->hlen) /* hdrs is NULL until a header is added */
		memcpy(w->out + w->out_len, res->hdrs, res->hlen);
	w->out_len += res->hlen;
	memcpy(w->out + w->out_len, "\r\n", 2);
	w->out_len += 2;
	return 0;
}

void uco__http_response_reset(struct hworker *w)
{
	struct uco_http_response *res = &w->res;

	res->w = w;
	res->status = 200;
	res->state = RES_NEW;
	res->close = !llhttp_should_keep_alive(&w->parser) || w->eof;
	res->head_only = w->parser.method == HTTP_HEAD;
	res->chunked = false;
	res->cut = false;
	res->hlen = 0;
}

/* ---- the API ---------------------------------------------------------------- */

UCO_API int uco_http_response_status(uco_http_response *res, int status)
{
	if (res->state != RES_NEW)
		return -EALREADY;
	if (status < 100 || status > 999)
		return -EINVAL;
	res->status = status;
	return 0;
}

UCO_API int uco_http_response_header(uco_http_response *res,
				     const char *name, const char *value)
{
	size_t nl, vl, need;

	if (!name || !value)
		return -EINVAL;
	if (res->state != RES_NEW)
		return -EALREADY;
	nl = strlen(name);
	vl = strlen(value);
	if (!nl || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return -EINVAL;
	need = res->hlen + nl + vl + 4;
	if (need > res->hcap) {
		size_t cap = res->hcap ? res->hcap : 256;
		char *nb;

		while (cap < need)
			cap *= 2;
		nb = uco__realloc(res->hdrs, cap);
		if (!nb)
			return -ENOMEM;
		res->hdrs = nb;
		res->hcap = cap;
	}
	memcpy(res->hdrs + res->hlen, name, nl);
	memcpy(res->hdrs + res->hlen + nl, ": ", 2);
	memcpy(res->hdrs + res->hlen + nl + 2, value, vl);
	memcpy(res->hdrs + res->hlen + nl + 2 + vl, "\r\n", 2);
	res->hlen = need;
	return 0;
}

UCO_API void uco_http_response_close(uco_http_response *res)
{
	res->close = true;
}

UCO_API int uco_http_response_send(uco_http_response *res, const void *data,
				   size_t len)
{
	struct hworker *w = res->w;
	int r;

	if (res->state != RES_NEW)
		return -EALREADY;
	if (len && !data)
		return -EINVAL;
	res->state = RES_DONE;
	r = put_head(w, (int64_t)len);
	if (r < 0 || res->head_only || len == 0)
		return r;
	if (len < OUT_HIGH)
		return put(w, data, len);
	/* A large body goes on its own, without a copy. */
	r = uco__http_flush(w);
	return r < 0 ? r : send_now(w, data, len);
}

UCO_API int uco_http_response_send_str(uco_http_response *res, const char *s)
{
	return uco_http_response_send(res, s, s ? strlen(s) : 0);
}

UCO_API int uco_http_response_write(uco_http_response *res, const void *data,
				    size_t len)
{
	struct hworker *w = res->w;
	char sz[24];
	int r, n;

	if (res->state == RES_DONE)
		return -EALREADY;
	if (w->in_err)
		return w->in_err;
	if (res->state == RES_NEW) {
		res->state = RES_STREAMING;
		if (w->req.version == 10)
			res->close = true; /* no chunked coding for 1.0 */
		res->chunked = w->req.version != 10;
		r = put_head(w, res->chunked ? -1 : -2);
		if (r < 0)
			return r;
	}
	if (len == 0 || res->head_only)
		return 0;
	if (!data)
		return -EINVAL;
	if (res->chunked) {
		n = snprintf(sz, sizeof(sz), "%zx\r\n", len);
		if ((r = put(w, sz, (size_t)n)) < 0)
			return r;
	}
	if (len >= OUT_HIGH) {
		r = uco__http_flush(w);
		if (r == 0)
			r = send_now(w, data, len);
	} else {
		r = put(w, data, len);
	}
	if (r == 0 && res->chunked)
		r = put(w, "\r\n", 2);
	if (r == 0 && w->out_len >= OUT_HIGH)
		r = uco__http_flush(w);
	return r;
}

UCO_API int uco_http_response_end(uco_http_response *res)
{
	struct hworker *w = res->w;
	int r = 0;

	if (res->state == RES_NEW)
		return uco_http_response_send(res, NULL, 0);
	if (res->state == RES_DONE)
		return -EALREADY;
	res->state = RES_DONE;
	if (res->chunked && !res->head_only)
		r = put(w, "0\r\n\r\n", 5);
	/* A streamed body is sent as it ends: its reader is waiting. */
	return r < 0 ? r : uco__http_flush(w);
}

UCO_API int uco_http_response_sendfile(uco_http_response *res, int fd,
				       int64_t offset, size_t len)
{
	struct hworker *w = res->w;
	int r;

	if (res->state != RES_NEW)
		return -EALREADY;
	if (fd < 0 || offset < 0)
		return -EINVAL;
	res->state = RES_DONE;
	r = put_head(w, (int64_t)len);
	if (r < 0 || res->head_only || len == 0)
		return r;
	if (len < 16384) {
		/* Small: read it straight into the output buffer, so it
		 * leaves with the head (and the neighbours' responses). */
		size_t got = 0;

		if ((r = reserve(w, len)) < 0)
			return r;
		while (got < len) {
			ssize_t n = uco_read(fd, w->out + w->out_len + got,
					     len - got, offset + (int64_t)got);

			if (n <= 0) {
				res->cut = true;
				res->close = true;
				return n < 0 ? (int)n : -EIO;
			}
			got += (size_t)n;
		}
		w->out_len += len;
		return 0;
	}
	if (!w->filebuf && !(w->filebuf = uco__alloc(FILE_CHUNK)))
		return -ENOMEM;
	r = uco__http_flush(w);
	while (r == 0 && len) {
		size_t want = len < FILE_CHUNK ? len : FILE_CHUNK;
		ssize_t n = uco_read(fd, w->filebuf, want, offset);

		if (n <= 0) {
			r = n < 0 ? (int)n : -EIO;
			break;
		}
		r = send_now(w, w->filebuf, (size_t)n);
		offset += n;
		len -= (size_t)n;
	}
	if (r < 0) {
		/* The head promised more than went: only closing says so. */
		res->cut = true;
		res->close = true;
		if (!w->in_err)
			w->in_err = r;
	}
	return r;
}

/* nginx's error page, word for word but for the server's name. */
static int put_error_body(struct hworker *w, int status, char *buf,
			  size_t size)
{
	return snprintf(buf, size,
			"<html>\r\n<head><title>%d %s</title></head>\r\n"
			"<body>\r\n<center><h1>%d %s</h1></center>\r\n"
			"<hr><center>uco</center>\r\n</body>\r\n</html>\r\n",
			status, uco_http_status_text(status), status,
			uco_http_status_text(status));
}

UCO_API int uco_http_response_error(uco_http_response *res, int status)
{
	char body[512];
	int n, r;

	if (res->state != RES_NEW)
		return -EALREADY;
	if ((r = uco_http_response_status(res, status)) < 0)
		return r;
	n = put_error_body(res->w, status, body, sizeof(body));
	r = uco_http_response_header(res, "Content-Type", "text/html");
	return r < 0 ? r : uco_http_response_send(res, body, (size_t)n);
}

void uco__http_error_response(struct hworker *w, int status, int version)
{
	uco__http_response_reset(w);
	w->req.version = version == 10 ? 10 : 11;
	w->res.close = true;
	w->res.head_only = false;
	uco_http_response_error(&w->res, status);
}

void uco__http_response_finish(struct hworker *w, int r)
{
	struct uco_http_response *res = &w->res;
	struct uco_http_request *req = &w->req;

	switch (res->state) {
	case RES_NEW:
		if (r >= 0) {
			/* An empty 200; a peer gone meanwhile ends the
			 * connection, which is all there is to do. */
			UCO_IGNORE(uco_http_response_send(res, NULL, 0));
			break;
		}
		/* The body's own failure says best what went wrong. */
		res->close = true;
		res->hlen = 0;
		if (req->body_error && req->body_err == -EMSGSIZE)
			uco_http_response_error(res, 413);
		else if (req->body_error && req->body_err == -EPROTO)
			uco_http_response_error(res, 400);
		else if (req->body_error && req->body_err == -ETIMEDOUT)
			uco_http_response_error(res, 408);
		else
			uco_http_response_error(res, 500);
		break;
	case RES_STREAMING:
		if (r < 0 || res->cut) {
			res->close = true; /* cut off: the client sees it */
			w->in_err = w->in_err ? w->in_err : -ECONNABORTED;
		} else {
			uco_http_response_end(res);
		}
		break;
	case RES_DONE:
		break;
	}
}

UCO_API int uco_http_response_after(uco_http_response *res, uco_fn fn,
				    void *arg)
{
	struct hafter *a, **tail;

	if (!fn)
		return -EINVAL;
	a = uco__alloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->next = NULL;
	a->fn = fn;
	a->arg = arg;
	for (tail = &res->after; *tail; tail = &(*tail)->next)
		;
	*tail = a;
	return 0;
}

/* ---- helpers -------------------------------------------------------------------- */

static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

UCO_API int uco_http_date(char *buf, int64_t t)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed",
					  "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
					    "May", "Jun", "Jul", "Aug",
					    "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	/* Fixed width: the year in four digits (9999 at most). */
	if (tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		tm.tm_year = 9999 - 1900;
	memcpy(buf, days[tm.tm_wday], 3);
	buf[3] = ',';
	buf[4] = ' ';
	put2(buf + 5, tm.tm_mday);
	buf[7] = ' ';
	memcpy(buf + 8, months[tm.tm_mon], 3);
	buf[11] = ' ';
	put2(buf + 12, (tm.tm_year + 1900) / 100);
	put2(buf + 14, (tm.tm_year + 1900) % 100);
	buf[16] = ' ';
	put2(buf + 17, tm.tm_hour);
	buf[19] = ':';
	put2(buf + 20, tm.tm_min);
	buf[22] = ':';
	put2(buf + 23, tm.tm_sec);
	memcpy(buf + 25, " GMT", 5);
	return 29;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

UCO_API ssize_t uco_http_unescape(char *dst, size_t dst_size,
				  const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -EINVAL;
			hi = hexval(src[i + 1]);
			lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= dst_size)
			return -ENOSPC;
		dst[o++] = c;
	}
	if (dst_size == 0)
		return -ENOSPC;
	dst[o] = '\0';
	return (ssize_t)o;
}
