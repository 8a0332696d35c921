/*
 * uco/http.h — an HTTP/1.1 server: handlers, a router, background tasks.
 *
 *   static int hello(uco_http_request *req, uco_http_response *res, void *a)
 *   {
 *           uco_http_response_header(res, "Content-Type", "text/plain");
 *           return uco_http_response_send(res, "Hello, World!", 13);
 *   }
 *   ...
 *   uco_http_server *srv;
 *   int r = uco_http_serve(&srv, NULL, "8080", hello, NULL, NULL);
 *   if (r == 0) {
 *           uco_http_server_run_until_signal(srv, 5 * UCO_NSEC_PER_SEC);
 *           uco_http_server_free(srv);
 *   }
 *
 * Shape (as uco_start_server, uco/server.h): one SO_REUSEPORT listener and
 * multishot accept on every core, a connection cap split over the cores,
 * graceful shutdown.  Requests are parsed by llhttp 8.1, built into libuco
 * from Debian's node-llhttp (measured against http-parser 2.9.4 on a mix
 * of four requests: 245 against 713 ns per request, 3.3k against 7.1k
 * instructions under callgrind; benchmarks/http_parse.c).
 *
 * An idle keep-alive connection holds no task and no stack: between
 * requests it is a record of about a hundred bytes with a multishot receive
 * armed into the core's provided buffer ring.  When a request's first bytes
 * arrive, a task is taken from a small per-core pool of workers (or one is
 * spawned) to serve it, and given back when the response is sent and no
 * further request is waiting.  The handler never notices: it is a plain
 * task function that may suspend as it likes.
 *
 * HTTP/1.1 behaviour: keep-alive; pipelined requests answered in order,
 * their responses coalesced into one send (a response is sent when the
 * connection has no complete request left to read, or the buffer is
 * large); Expect: 100-continue (the 100 goes out when the handler first
 * reads the body; a handler that answers without reading it gets the
 * connection closed after the response); HEAD (the headers GET would get,
 * no body); Connection: close; HTTP/1.0 (keep-alive only when asked for);
 * a Date header cached per core and updated once a second.
 *
 * Limits, each answered with its status and the connection closed:
 *   - request line and headers larger than max_header_size, or more than
 *     max_headers headers: 431;
 *   - a body larger than max_body_size (Content-Length, or chunked as it
 *     arrives): 413;
 *   - malformed requests, HTTP/1.1 without Host, both Content-Length and
 *     Transfer-Encoding, two Content-Lengths, an obsolete line folding, a
 *     bad chunk size: 400 (these are the request-smuggling shapes);
 *   - a transfer coding other than "chunked": 501;
 *   - header_timeout from a request's first byte to its last header line
 *     (slowloris), body_timeout between two reads of the body, send_timeout
 *     per send: 408 where a response can still be sent, then closed;
 *     idle_timeout for a keep-alive connection with no request: closed.
 *
 * Cores: the server belongs to the core that started it (home); the calls
 * that stop or wait for it are made there (others: -EXDEV).  Handlers run
 * on the core that accepted the connection.
 */
#ifndef UCO_HTTP_H
#define UCO_HTTP_H

#include <sys/types.h>

#include <uco/common.h>
#include <uco/task.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_http_server uco_http_server;
typedef struct uco_http_request uco_http_request;
typedef struct uco_http_response uco_http_response;
typedef struct uco_http_router uco_http_router;

/*
 * A request handler, run in a task (it may suspend).  req and res are
 * valid until it returns.  Return 0, or a negative errno: if no response
 * has been started then, the client gets 500; a response left unfinished
 * is finished for a 0 return and cut off (connection closed) for an error.
 */
typedef int (*uco_http_handler)(uco_http_request *req,
				uco_http_response *res, void *arg);

typedef struct uco_http_server_opts {
	unsigned cores;          /* listen on cores 0..cores-1 (0: all) */
	size_t max_connections;  /* over all cores (0: no cap) */
	int backlog;             /* listen(2) backlog per core (0: 511) */
	size_t stack_size;       /* of each worker task (0: the default) */
	size_t max_header_size;  /* request line + headers (0: 16 KiB) */
	unsigned max_headers;    /* (0: 100) */
	size_t max_body_size;    /* (0: 1 MiB; SIZE_MAX: no limit) */
	uint64_t header_timeout; /* ns (0: 10 s) */
	uint64_t body_timeout;   /* ns between two body reads (0: 60 s) */
	uint64_t send_timeout;   /* ns per send (0: 60 s) */
	uint64_t idle_timeout;   /* ns a keep-alive connection idles (0: 75 s) */
	unsigned recv_buffers;   /* ring buffers per core (0: 1024; power of 2) */
	size_t recv_buffer_size; /* bytes each (0: 4096) */
	const char *server;      /* the Server header (NULL: "uco"; "": none) */
} uco_http_server_opts;

/*
 * Listen on host:port (as uco_listen_tcp(); port "0": the kernel picks,
 * see uco_http_server_port()) and serve every request with
 * handler(req, res, arg).  Suspends (name resolution).  Returns 0 with
 * *out set, or -EINVAL, -EADDRINUSE, -ENOENT, -ENOMEM, -EPERM (not in a
 * task); nothing is left running on failure.
 */
UCO_MUST_USE
UCO_API int uco_http_serve(uco_http_server **out, const char *host,
			   const char *port, uco_http_handler handler,
			   void *arg, const uco_http_server_opts *opts);

/* Stop accepting; connections finish the request they are in and close
 * (idle ones at once).  Does not suspend.  0, or -EXDEV off home. */
UCO_API int uco_http_server_close(uco_http_server *srv);

/*
 * Stop accepting, let requests in progress and background tasks run for
 * up to grace_ns, then cancel what is left and wait for it.  Suspends.
 * Returns 0, -ECANCELED / -ETIMEDOUT if the caller gave up waiting (the
 * shutdown goes on), -EXDEV off home.
 */
UCO_MUST_USE
UCO_API int uco_http_server_shutdown(uco_http_server *srv, uint64_t grace_ns);

/* Wait until the server has stopped (after close/shutdown elsewhere).
 * Suspends.  0, -ECANCELED, -ETIMEDOUT, -EXDEV. */
UCO_MUST_USE
UCO_API int uco_http_server_serve_forever(uco_http_server *srv);

/* Serve until SIGINT or SIGTERM, then shut down with grace_ns.  Suspends.
 * Returns the signal number, or a negative errno as serve_forever. */
UCO_MUST_USE
UCO_API int uco_http_server_run_until_signal(uco_http_server *srv,
					     uint64_t grace_ns);

/* Free a stopped server (one still running is shut down with no grace
 * first, which suspends).  On home.  NULL: no-op. */
UCO_API void uco_http_server_free(uco_http_server *srv);

/* The TCP port (host byte order). */
UCO_API int uco_http_server_port(const uco_http_server *srv);

typedef struct uco_http_server_stats {
	uint64_t accepted;     /* connections accepted */
	uint64_t open;         /* connections open now */
	uint64_t requests;     /* requests answered */
	uint64_t workers;      /* worker tasks now (busy and pooled) */
	uint64_t background;   /* background tasks running now */
	uint64_t rejected;     /* requests refused with a 4xx/5xx by a limit */
	uint64_t timeouts;     /* connections closed by a timeout */
} uco_http_server_stats;

/* A snapshot summed over the cores; any core. */
UCO_API void uco_http_server_stats_get(const uco_http_server *srv,
				       uco_http_server_stats *st);

/* --- the request (valid in its handler only) ---------------------------- */

/* "GET", "POST"...; the target as sent ("/a%20b?x=1"); the path (the
 * target up to '?', still percent-encoded); the query after '?' or NULL.
 * NUL-terminated, owned by the request.  Do not suspend. */
UCO_API const char *uco_http_request_method(const uco_http_request *req);
UCO_API const char *uco_http_request_target(const uco_http_request *req);
UCO_API const char *uco_http_request_path(const uco_http_request *req);
UCO_API const char *uco_http_request_query(const uco_http_request *req);
/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
UCO_API int uco_http_request_version(const uco_http_request *req);

/* The first header named `name` (case-insensitive), or NULL. */
UCO_API const char *uco_http_request_header(const uco_http_request *req,
					    const char *name);
/* The number of headers, and header i (0-based) in the order sent:
 * returns 0 with *name, *value set, or -ENOENT. */
UCO_API unsigned uco_http_request_header_count(const uco_http_request *req);
UCO_API int uco_http_request_header_at(const uco_http_request *req,
				       unsigned i, const char **name,
				       const char **value);
/* A router path parameter ({name} in the pattern), percent-decoded, or
 * NULL. */
UCO_API const char *uco_http_request_param(const uco_http_request *req,
					   const char *name);
/* The Content-Length, or -1 for a chunked body (0: no body). */
UCO_API int64_t uco_http_request_content_length(const uco_http_request *req);

/*
 * Read up to len bytes of the body (chunked bodies arrive decoded).
 * Suspends.  Returns the count, 0 at the end of the body, or -EMSGSIZE
 * (over max_body_size: the client gets 413), -EPROTO (a malformed body:
 * 400), -ETIMEDOUT (body_timeout), -ECONNRESET/-EPIPE (the client went),
 * -ECANCELED.  After an error the connection closes after the response.
 */
UCO_MUST_USE
UCO_API ssize_t uco_http_request_read(uco_http_request *req, void *buf,
				      size_t len);
/*
 * The whole body: reads what is left into a buffer the request owns
 * (until the handler returns) and sets *data (NUL-terminated).  Suspends.
 * Returns its length, or an error as uco_http_request_read().
 */
UCO_MUST_USE
UCO_API ssize_t uco_http_request_body(uco_http_request *req,
				      const char **data);

/* --- the response ------------------------------------------------------- */

/* Set the status (default 200).  -EALREADY once the head has gone. */
UCO_API int uco_http_response_status(uco_http_response *res, int status);
/* Add a header (both strings copied; no CR or LF: -EINVAL).  The server
 * writes Date, Server, Content-Length / Transfer-Encoding and Connection
 * itself.  -EALREADY once the head has gone, -ENOMEM. */
UCO_API int uco_http_response_header(uco_http_response *res,
				     const char *name, const char *value);
/*
 * The whole body (len bytes; data may be freed on return).  Ends the
 * response.  It is queued to go with the connection's next send (several
 * pipelined responses leave in one): so 0 means queued, and a client that
 * went away only shows in later calls.  Large bodies are sent at once.
 * Suspends only for a large body.  -EALREADY if a body was begun already.
 */
UCO_MUST_USE
UCO_API int uco_http_response_send(uco_http_response *res, const void *data,
				   size_t len);
/* The same with a NUL-terminated string. */
UCO_API int uco_http_response_send_str(uco_http_response *res,
				       const char *s);
/*
 * Stream the body: the first write sends the head with Transfer-Encoding:
 * chunked (to an HTTP/1.0 client: no length, and the connection closes at
 * the end); each write is a chunk, sent when the buffer fills; _end()
 * sends the last chunk.  Suspends.  0, or -EPIPE/-ECONNRESET/-ETIMEDOUT
 * (send_timeout)/-ECANCELED.  A zero-length write does nothing.
 */
UCO_MUST_USE
UCO_API int uco_http_response_write(uco_http_response *res, const void *data,
				    size_t len);
UCO_API int uco_http_response_end(uco_http_response *res);
/*
 * A file's bytes [offset, offset + len) as the body (Content-Length: len),
 * read through the ring (uco_read) and sent.  fd stays the caller's.
 * Suspends.  0, or -EIO (the file was shorter than said: the connection
 * is cut off), a send error as above.
 */
UCO_MUST_USE
UCO_API int uco_http_response_sendfile(uco_http_response *res, int fd,
				       int64_t offset, size_t len);
/* An error page: status, and a small text/html body saying it in nginx's
 * words ("404 Not Found").  Ends the response. */
UCO_API int uco_http_response_error(uco_http_response *res, int status);
/* Close the connection after this response.  Does not suspend. */
UCO_API void uco_http_response_close(uco_http_response *res);
/* The reason phrase of a status ("Not Found"), or "Unknown". */
UCO_API const char *uco_http_status_text(int status);

/*
 * FastAPI's BackgroundTasks: run fn(arg) as a task on this core once this
 * response has been sent (or the connection closed).  The server owns it:
 * a graceful shutdown waits for it within its grace, then cancels it.
 * Returns 0 or -ENOMEM (fn is then not run).  Does not suspend.
 */
UCO_API int uco_http_response_after(uco_http_response *res, uco_fn fn,
				    void *arg);

/* --- the router ------------------------------------------------------------ */

/*
 * A router is a handler (uco_http_router_handler, with the router as its
 * arg) that picks a route by method and path.  Patterns are literal
 * segments and {name} parameters, each matching one segment ("/users/{id}"):
 * uco_http_request_param(req, "id").  Routes are tried in the order added;
 * a path that no route matches is 404; one that only other methods match is
 * 405 with an Allow header.  A GET route also answers HEAD.  Add routes
 * before serving; the router is read-only afterwards (any core).
 */
UCO_API int uco_http_router_create(uco_http_router **out);
/* Add a route.  method "*" matches any.  -EINVAL (bad pattern), -ENOMEM. */
UCO_API int uco_http_route(uco_http_router *r, const char *method,
			   const char *pattern, uco_http_handler handler,
			   void *arg);
UCO_API int uco_http_router_handler(uco_http_request *req,
				    uco_http_response *res, void *router);
UCO_API void uco_http_router_free(uco_http_router *r);

/* --- helpers --------------------------------------------------------------- */

/* Percent-decode src into dst (dst_size with the NUL).  Returns the length,
 * or -EINVAL (a bad escape or an encoded NUL), -ENOSPC. */
UCO_API ssize_t uco_http_unescape(char *dst, size_t dst_size,
				  const char *src, size_t len);
/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for t into buf (at
 * least 30 bytes).  Returns 29. */
UCO_API int uco_http_date(char *buf, int64_t t);

#ifdef __cplusplus
}
#endif

#endif
