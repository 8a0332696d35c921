/*
 * The router (uco/http.h): method + path, {name} parameters, 404 and 405.
 *
 * Routes are kept in the order added, each with its pattern split into
 * segments.  A pattern without parameters is matched with one strcmp of
 * the whole path, so a literal route such as /hello costs a string
 * compare per route tried ahead of it; a pattern with parameters is
 * matched segment by segment, and each parameter is percent-decoded into
 * the request's spare head space.
 */
#include <errno.h>
#include <string.h>

#include <uco/http.h>

#include "core/alloc.h"
#include "http_impl.h"

#define MAX_SEGS 32
#define MAX_PARAMS 8

struct route {
	char *method;
	char *pattern;
	size_t pattern_size;
	uco_http_handler handler;
	void *arg;
	unsigned nseg;
	bool has_params;
	char *seg[MAX_SEGS];        /* into pattern's copy, NUL-split */
	size_t seglen[MAX_SEGS];
	bool param[MAX_SEGS];
};

struct uco_http_router {
	struct route **routes;
	size_t n, cap;
};

static char *dup_str(const char *s, size_t *size)
{
	size_t n = strlen(s) + 1;
	char *d = uco__alloc(n);

	if (d)
		memcpy(d, s, n);
	*size = n;
	return d;
}

UCO_API int uco_http_router_create(uco_http_router **out)
{
	if (!out)
		return -EINVAL;
	*out = uco__zalloc(sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static void route_free(struct route *rt)
{
	uco__free(rt->method, strlen(rt->method) + 1);
	uco__free(rt->pattern, rt->pattern_size);
	uco__free(rt, sizeof(*rt));
}

UCO_API void uco_http_router_free(uco_http_router *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		route_free(r->routes[i]);
	uco__free(r->routes, r->cap * sizeof(*r->routes));
	uco__free(r, sizeof(*r));
}

/* Split a copy of the pattern (after its leading '/') into segments. */
static int split(struct route *rt)
{
	char *p = rt->pattern + 1;
	size_t nparams = 0;

	rt->nseg = 0;
	if (*p == '\0')
		return 0; /* "/" */
	for (;;) {
		char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (rt->nseg == MAX_SEGS)
			return -EINVAL;
		rt->seg[rt->nseg] = p;
		rt->seglen[rt->nseg] = len;
		rt->param[rt->nseg] = len > 2 && p[0] == '{' &&
				      p[len - 1] == '}';
		if (rt->param[rt->nseg]) {
			if (++nparams > MAX_PARAMS)
				return -EINVAL;
			rt->seg[rt->nseg] = p + 1;
			rt->seglen[rt->nseg] = len - 2;
			p[len - 1] = '\0';
			rt->has_params = true;
		} else if (memchr(p, '{', len) || memchr(p, '}', len)) {
			return -EINVAL;
		}
		rt->nseg++;
		if (!slash)
			return 0;
		*slash = '\0';
		p = slash + 1;
	}
}

UCO_API int uco_http_route(uco_http_router *r, const char *method,
			   const char *pattern, uco_http_handler handler,
			   void *arg)
{
	struct route *rt;
	size_t msize;
	int e;

	if (!r || !method || !*method || !pattern || pattern[0] != '/' ||
	    !handler)
		return -EINVAL;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct route **nr = uco__realloc(r->routes, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		r->routes = nr;
		r->cap = cap;
	}
	rt = uco__zalloc(sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->method = dup_str(method, &msize);
	rt->pattern = dup_str(pattern, &rt->pattern_size);
	rt->handler = handler;
	rt->arg = arg;
	if (!rt->method || !rt->pattern) {
		if (rt->method)
			uco__free(rt->method, msize);
		if (rt->pattern)
			uco__free(rt->pattern, rt->pattern_size);
		uco__free(rt, sizeof(*rt));
		return -ENOMEM;
	}
	if (strchr(pattern, '{')) {
		e = split(rt);
		if (e < 0) {
			route_free(rt);
			return e;
		}
	}
	r->routes[r->n++] = rt;
	return 0;
}

/* Match path against a pattern with parameters, decoding them into the
 * request's spare head space. */
static bool match_params(const struct route *rt, uco_http_request *req)
{
	struct hworker *w = req->w;
	const char *p = req->path;
	size_t space = w->head_cap - w->head_len;
	char *dst = w->head + w->head_len;
	unsigned np = 0;

	if (*p++ != '/')
		return false;
	for (unsigned i = 0; i < rt->nseg; i++) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (rt->param[i]) {
			ssize_t n;

			if (len == 0)
				return false;
			n = uco_http_unescape(dst, space, p, len);
			if (n < 0)
				return false;
			req->param_names[np] = rt->seg[i];
			req->params[np++] = dst;
			dst += n + 1;
			space -= (size_t)n + 1;
		} else if (len != rt->seglen[i] ||
			   memcmp(p, rt->seg[i], len) != 0) {
			return false;
		}
		if (i + 1 == rt->nseg) {
			if (slash)
				return false;
		} else if (!slash) {
			return false;
		}
		p = slash ? slash + 1 : p + len;
	}
	req->nparams = np;
	return true;
}

static bool method_matches(const char *route_m, const char *m)
{
	return strcmp(route_m, m) == 0 || strcmp(route_m, "*") == 0 ||
	       (strcmp(m, "HEAD") == 0 && strcmp(route_m, "GET") == 0);
}

UCO_API int uco_http_router_handler(uco_http_request *req,
				    uco_http_response *res, void *router)
{
	struct uco_http_router *r = router;
	const char *m = uco_http_request_method(req);
	char allow[256];
	size_t alen = 0;
	bool path_seen = false;

	for (size_t i = 0; i < r->n; i++) {
		struct route *rt = r->routes[i];
		bool hit = rt->has_params ? match_params(rt, req)
					  : strcmp(rt->pattern, req->path) == 0;

		if (!hit)
			continue;
		if (method_matches(rt->method, m))
			return rt->handler(req, res, rt->arg);
		path_seen = true;
		/* Allow: the methods this path answers, without repeats. */
		size_t ml = strlen(rt->method);
		bool dup = false;

		for (const char *s = allow; s < allow + alen;) {
			const char *e = memchr(s, ',', (size_t)(allow + alen - s));
			size_t l = e ? (size_t)(e - s) : (size_t)(allow + alen - s);

			if (l == ml && memcmp(s, rt->method, ml) == 0)
				dup = true;
			s += l + (e ? 2 : 0);
			if (!e)
				break;
		}
		if (!dup && alen + ml + 2 < sizeof(allow)) {
			if (alen) {
				memcpy(allow + alen, ", ", 2);
				alen += 2;
			}
			memcpy(allow + alen, rt->method, ml);
			alen += ml;
		}
	}
	req->nparams = 0;
	if (!path_seen)
		return uco_http_response_error(res, 404);
	allow[alen] = '\0';
	uco_http_response_header(res, "Allow", allow);
	return uco_http_response_error(res, 405);
}
