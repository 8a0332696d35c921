/*
 * uco/http_client.h — an HTTP/1.1 client session (aiohttp's ClientSession):
 * a connection pool per host with keep-alive, limits, timeouts, redirects.
 *
 *   uco_http_session *s;
 *   uco_http_session_create(&s, NULL);
 *   uco_http_client_response *r;
 *   if (uco_http_fetch(s, "http://example.org/", NULL, &r) == 0) {
 *           const char *body;
 *           ssize_t n = uco_http_client_response_body(r, &body);
 *           ...
 *           uco_http_client_response_free(r);   // the connection goes back
 *   }
 *   uco_http_session_free(s);
 *
 * uco_http_get() does all of that in one call, so that "fetch these 100
 * URLs, at most 10 at once" is a semaphore and a task per URL (see
 * tools/http-fetch.c).
 *
 * Only http:// (TLS comes later: a connection is a uco_stream, and a TLS
 * stream will slot in underneath).  Responses are parsed by llhttp, as the
 * server's requests are.
 *
 * Errors are negative errnos, never a crash, whatever the server sends:
 *   -ECONNREFUSED, -ENOENT (unknown host), ... from connecting;
 *   -ETIMEDOUT   connect_timeout, read_timeout (between two reads) or
 *                total_timeout (the whole exchange, body included) expired;
 *   -EMSGSIZE    a response head over max_header_size, or a body over
 *                max_body_size for uco_http_client_response_body();
 *   -EPROTO      a malformed response;
 *   -EPIPE       the server closed before the response was complete (a
 *                Content-Length that lied, a close mid-body);
 *   -ELOOP       more than max_redirects redirects;
 *   -EINVAL      a URL that is not http://host[:port]/path;
 *   -ECANCELED   the calling task was cancelled.
 * After any error the connection is closed, never reused.
 *
 * Cores: a session belongs to the core that created it; use it from tasks
 * on that core (others: -EXDEV).
 */
#ifndef UCO_HTTP_CLIENT_H
#define UCO_HTTP_CLIENT_H

#include <sys/types.h>

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_http_session uco_http_session;
typedef struct uco_http_client_response uco_http_client_response;

typedef struct uco_http_session_opts {
	unsigned limit;            /* connections open at once (0: 100) */
	unsigned limit_per_host;   /* ... to one host:port (0: no limit
	                              beyond `limit`) */
	uint64_t connect_timeout;  /* ns (0: none) */
	uint64_t read_timeout;     /* ns between two reads (0: none) */
	uint64_t total_timeout;    /* ns for a whole exchange (0: 300 s) */
	unsigned max_redirects;    /* (0: 10) */
	size_t max_header_size;    /* (0: 16 KiB) */
	size_t max_body_size;      /* for _body() (0: 64 MiB) */
} uco_http_session_opts;

/* Returns 0 with *out, or -ENOMEM, -EPERM (not in a task). */
UCO_API int uco_http_session_create(uco_http_session **out,
				    const uco_http_session_opts *opts);
/* Close the pooled connections and free the session.  Every response
 * must have been freed.  NULL: no-op. */
UCO_API void uco_http_session_free(uco_http_session *s);

typedef struct uco_http_fetch_opts {
	const char *method;            /* NULL: GET */
	const char *const *headers;    /* "Name: value" strings, NULL-ended */
	const void *body;              /* sent with Content-Length */
	size_t body_len;
	bool no_redirects;             /* return a 3xx as it is */
} uco_http_fetch_opts;

/*
 * Send a request and read the response's head (following redirects unless
 * asked not to).  Waits for a free connection under the session's limits,
 * reusing a kept-alive one to the same host:port when there is one.
 * Suspends.  Returns 0 with *out (free it with
 * uco_http_client_response_free()), or a negative errno (top of file).
 */
UCO_MUST_USE
UCO_API int uco_http_fetch(uco_http_session *s, const char *url,
			   const uco_http_fetch_opts *opts,
			   uco_http_client_response **out);

UCO_API int uco_http_client_response_status(const uco_http_client_response *r);
/* A header of the response (case-insensitive), or NULL. */
UCO_API const char *uco_http_client_response_header(
	const uco_http_client_response *r, const char *name);
/* The URL the response came from (after redirects). */
UCO_API const char *uco_http_client_response_url(
	const uco_http_client_response *r);
/* Content-Length, or -1 (chunked, or up to the close). */
UCO_API int64_t uco_http_client_response_length(
	const uco_http_client_response *r);

/* Read up to len bytes of the body (chunks decoded).  Suspends.  The
 * count, 0 at the end, or a negative errno. */
UCO_MUST_USE
UCO_API ssize_t uco_http_client_response_read(uco_http_client_response *r,
					      void *buf, size_t len);
/* The whole body (what is left of it) into a buffer the response owns,
 * NUL-terminated.  Suspends.  Its length, or a negative errno. */
UCO_MUST_USE
UCO_API ssize_t uco_http_client_response_body(uco_http_client_response *r,
					      const char **data);
/* Free the response: its connection goes back to the pool when the body
 * was read to its end and the server keeps it alive; otherwise it is
 * closed.  Does not suspend.  NULL: no-op. */
UCO_API void uco_http_client_response_free(uco_http_client_response *r);

/*
 * GET url and read the whole body: 0 with *status, and *body (malloc'd,
 * NUL-terminated; free() it) and *len if those are not NULL; or a
 * negative errno.  Suspends.  One call per task makes a gather of many.
 */
UCO_MUST_USE
UCO_API int uco_http_get(uco_http_session *s, const char *url, int *status,
			 char **body, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
