/*
 * uco-httpd: a static file server on uco's HTTP server, built only on the
 * public API.
 *
 *   uco-httpd [--port PORT] [--host ADDR] [--cores N] [--root DIR]
 *             [--max-connections N] [--grace SECONDS]
 *
 * Serves the files under --root (default: the current directory):
 *   - a directory answers with its index.html, or else a listing of its
 *     files (a directory asked for without its final '/' is redirected,
 *     301, to the name with it, as nginx does);
 *   - Content-Type from the file name's extension;
 *   - Last-Modified, and If-Modified-Since answered with 304;
 *   - one byte range (Range: bytes=a-b, a-, -n) answered with 206, an
 *     unsatisfiable one with 416;
 *   - HEAD as GET without the body; other methods get 405.
 * And, for benchmarks, TechEmpower's two simplest tests: /hello answers
 * "Hello, World!" as text/plain (the plaintext test) and /json answers
 * {"message":"Hello, World!"} as application/json.
 *
 * No request leaves the root: the path is percent-decoded, "." and ".."
 * segments are resolved against the root (a ".." above it, however it is
 * spelled, %2e%2e included, is 400 as in nginx), a NUL is refused, and the
 * file is opened with openat2(RESOLVE_BENEATH), so no symbolic link leads
 * out either (403).  Errors are nginx's pages: 400 Bad Request, 403
 * Forbidden, 404 Not Found, 405 Not Allowed.
 *
 * On stdout, once serving: "uco-httpd: listening on HOST:PORT (N cores)".
 * SIGINT or SIGTERM: stop accepting, give requests in flight --grace
 * seconds (default 2), exit 0.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <uco/uco.h>

#define PROG "uco-httpd"

struct httpd {
	const char *host;
	const char *port;
	const char *root;
	int rootfd;
	unsigned cores;
	size_t max_connections;
	uint64_t grace;
};

/* ---- TechEmpower's plaintext and json ---------------------------------- */

static int hello(uco_http_request *req, uco_http_response *res, void *arg)
{
	(void)req;
	(void)arg;
	uco_http_response_header(res, "Content-Type", "text/plain");
	return uco_http_response_send(res, "Hello, World!", 13);
}

static int json(uco_http_request *req, uco_http_response *res, void *arg)
{
	static const char body[] = "{\"message\":\"Hello, World!\"}";

	(void)req;
	(void)arg;
	uco_http_response_header(res, "Content-Type", "application/json");
	return uco_http_response_send(res, body, sizeof(body) - 1);
}

/* ---- static files ------------------------------------------------------- */

static const struct {
	const char *ext, *type;
} types[] = {
	{ "html", "text/html" },    { "htm", "text/html" },
	{ "css", "text/css" },      { "js", "application/javascript" },
	{ "json", "application/json" }, { "txt", "text/plain" },
	{ "xml", "text/xml" },      { "png", "image/png" },
	{ "jpg", "image/jpeg" },    { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },     { "svg", "image/svg+xml" },
	{ "ico", "image/x-icon" },  { "webp", "image/webp" },
	{ "pdf", "application/pdf" }, { "zip", "application/zip" },
	{ "gz", "application/gzip" }, { "tar", "application/x-tar" },
	{ "wasm", "application/wasm" }, { "mp4", "video/mp4" },
	{ "mp3", "audio/mpeg" },    { "woff", "font/woff" },
	{ "woff2", "font/woff2" },  { "c", "text/plain" },
	{ "h", "text/plain" },      { "md", "text/plain" },
};

static const char *content_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream"; /* nginx's default_type */
}

/*
 * Decode the path and resolve "." and ".." against the root into rel
 * ("" for the root itself, else "a/b", no leading '/').  Returns 0, or
 * 400 for what cannot name a file under the root.
 */
static int resolve(const char *path, char *rel, size_t size, bool *slash)
{
	char dec[4096];
	ssize_t n;
	size_t o = 0;
	const char *p;

	if (path[0] != '/')
		return 400;
	n = uco_http_unescape(dec, sizeof(dec), path, strlen(path));
	if (n < 0)
		return 400;
	*slash = n > 0 && dec[n - 1] == '/';
	p = dec;
	while (*p) {
		const char *e;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		len = e ? (size_t)(e - p) : strlen(p);
		if (len == 1 && p[0] == '.') {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (o == 0)
				return 400; /* above the root */
			while (o > 0 && rel[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (o + len + 2 > size)
				return 414;
			if (o)
				rel[o++] = '/';
			memcpy(rel + o, p, len);
			o += len;
		}
		p += len;
	}
	rel[o] = '\0';
	return 0;
}

/* openat2 with RESOLVE_BENEATH: nothing, symbolic links included, leads
 * out of the root.  (A plain system call: opening is quick, and io_uring's
 * openat2 needs a struct open_how that uco's file API does not take yet.) */
static int open_beneath(int rootfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how,
			  sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

static int errno_status(int err)
{
	switch (err) {
	case -ENOENT:
	case -ENOTDIR:
	case -ENAMETOOLONG:
		return 404;
	case -EACCES:
	case -EPERM:
	case -EXDEV:   /* RESOLVE_BENEATH: a link out of the root */
	case -ELOOP:
		return 403;
	default:
		return 500;
	}
}

/* Parse an IMF-fixdate; -1 if it is not one. */
static time_t parse_date(const char *s)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);

	return end && *end == '\0' ? timegm(&tm) : (time_t)-1;
}

/* One range "bytes=a-b" of a size-byte file: 1 with [*off, *off + *len),
 * 0 to ignore it (several ranges, or not bytes), -1 unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *off,
		       uint64_t *len)
{
	char *end;
	unsigned long long a, b;

	if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoull(h + 1, &end, 10);
		if (end == h + 1 || *end)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		if (b > size)
			b = size;
		*off = size - b;
		*len = b;
		return 1;
	}
	a = strtoull(h, &end, 10);
	if (end == h || *end != '-')
		return 0;
	h = end + 1;
	if (*h == '\0') {
		b = size ? size - 1 : 0;
	} else {
		b = strtoull(h, &end, 10);
		if (*end || b < a)
			return 0;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return -1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

/* Write n bytes of the body unless an earlier write failed (*err keeps the
 * first failure: the peer went away, and the rest is moot). */
static void put(uco_http_response *res, const char *s, size_t n, int *err)
{
	if (*err == 0)
		*err = uco_http_response_write(res, s, n);
}

static void html_escape_put(uco_http_response *res, const char *s, int *err)
{
	for (; *s; s++) {
		const char *e = NULL;

		switch (*s) {
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '&': e = "&amp;"; break;
		case '"': e = "&quot;"; break;
		}
		if (e)
			put(res, e, strlen(e), err);
		else
			put(res, s, 1, err);
	}
}

/* A directory listing in nginx's autoindex shape. */
static int listing(uco_http_response *res, int dirfd, const char *path)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	static const char tail[] = "</pre><hr></body>\r\n</html>\r\n";
	int err = 0;

	if (!d) {
		close(dirfd);
		return uco_http_response_error(res, 500);
	}
	uco_http_response_header(res, "Content-Type", "text/html");
	put(res, "<html>\r\n<head><title>Index of ", 30, &err);
	html_escape_put(res, path, &err);
	put(res, "</title></head>\r\n<body>\r\n<h1>Index of ", 38, &err);
	html_escape_put(res, path, &err);
	put(res, "</h1><hr><pre><a href=\"../\">../</a>\r\n", 37, &err);
	while (err == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		bool dir = de->d_type == DT_DIR;

		put(res, "<a href=\"", 9, &err);
		html_escape_put(res, de->d_name, &err);
		if (dir)
			put(res, "/", 1, &err);
		put(res, "\">", 2, &err);
		html_escape_put(res, de->d_name, &err);
		if (dir)
			put(res, "/", 1, &err);
		put(res, "</a>\r\n", 6, &err);
	}
	closedir(d);
	put(res, tail, sizeof(tail) - 1, &err);
	return err < 0 ? err : uco_http_response_end(res);
}

static int serve_file(uco_http_request *req, uco_http_response *res,
		      struct httpd *h)
{
	const char *m = uco_http_request_method(req);
	char rel[4096], buf[64];
	bool slash;
	struct statx st;
	int fd, r, status;
	const char *ims, *range;
	uint64_t off = 0, len;

	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		uco_http_response_header(res, "Allow", "GET, HEAD");
		return uco_http_response_error(res, 405);
	}
	status = resolve(uco_http_request_path(req), rel, sizeof(rel), &slash);
	if (status)
		return uco_http_response_error(res, status);
	fd = open_beneath(h->rootfd, rel, O_RDONLY);
	if (fd < 0)
		return uco_http_response_error(res, errno_status(fd));
	r = uco_statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE |
		      STATX_MTIME, &st);
	if (r < 0) {
		close(fd);
		return uco_http_response_error(res, 500);
	}
	if (S_ISDIR(st.stx_mode)) {
		int ifd;

		if (!slash && *rel) {
			char loc[4200];

			close(fd);
			snprintf(loc, sizeof(loc), "%s/",
				 uco_http_request_path(req));
			uco_http_response_header(res, "Location", loc);
			return uco_http_response_error(res, 301);
		}
		ifd = open_beneath(fd, "index.html", O_RDONLY);
		if (ifd < 0)
			return listing(res, fd, uco_http_request_path(req));
		close(fd);
		fd = ifd;
		strcpy(rel, "index.html");
		r = uco_statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE |
			      STATX_MTIME, &st);
		if (r < 0 || !S_ISREG(st.stx_mode)) {
			close(fd);
			return uco_http_response_error(res, 403);
		}
	} else if (!S_ISREG(st.stx_mode)) {
		close(fd);
		return uco_http_response_error(res, 403);
	}
	uco_http_date(buf, st.stx_mtime.tv_sec);
	uco_http_response_header(res, "Last-Modified", buf);
	ims = uco_http_request_header(req, "If-Modified-Since");
	if (ims) {
		time_t t = parse_date(ims);

		if (t != (time_t)-1 && st.stx_mtime.tv_sec <= t) {
			close(fd);
			uco_http_response_status(res, 304);
			return uco_http_response_end(res);
		}
	}
	uco_http_response_header(res, "Content-Type", content_type(rel));
	uco_http_response_header(res, "Accept-Ranges", "bytes");
	len = st.stx_size;
	range = uco_http_request_header(req, "Range");
	if (range) {
		int pr = parse_range(range, st.stx_size, &off, &len);

		if (pr < 0) {
			close(fd);
			snprintf(buf, sizeof(buf), "bytes */%llu",
				 (unsigned long long)st.stx_size);
			uco_http_response_header(res, "Content-Range", buf);
			return uco_http_response_error(res, 416);
		}
		if (pr > 0) {
			snprintf(buf, sizeof(buf), "bytes %llu-%llu/%llu",
				 (unsigned long long)off,
				 (unsigned long long)(off + len - 1),
				 (unsigned long long)st.stx_size);
			uco_http_response_header(res, "Content-Range", buf);
			uco_http_response_status(res, 206);
		} else {
			off = 0;
			len = st.stx_size;
		}
	}
	r = uco_http_response_sendfile(res, fd, (int64_t)off, len);
	close(fd);
	return r;
}

static int handle(uco_http_request *req, uco_http_response *res, void *arg)
{
	const char *path = uco_http_request_path(req);

	/* The benchmark paths first: a compare each. */
	if (strcmp(path, "/hello") == 0)
		return hello(req, res, arg);
	if (strcmp(path, "/json") == 0)
		return json(req, res, arg);
	return serve_file(req, res, arg);
}

/* ---- main ------------------------------------------------------------------ */

static void *main_task(void *arg)
{
	struct httpd *h = arg;
	uco_http_server *srv;
	uco_http_server_opts o = {
		.cores = h->cores,
		.max_connections = h->max_connections,
		.backlog = 4096,
	};
	int r = uco_http_serve(&srv, h->host, h->port, handle, h, &o);

	if (r < 0) {
		fprintf(stderr,
			PROG ": [emerg] bind() to %s:%s failed (%d: %s)\n",
			h->host ? h->host : "0.0.0.0", h->port, -r,
			strerror(-r));
		return uco_fail(r);
	}
	printf(PROG ": listening on %s:%d (%u cores)\n",
	       h->host ? h->host : "*", uco_http_server_port(srv),
	       h->cores ? h->cores : uco_cores());
	fflush(stdout);
	r = uco_http_server_run_until_signal(srv, h->grace);
	uco_http_server_free(srv);
	return r < 0 ? uco_fail(r) : NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [OPTION]...\n"
		"Serve the files of a directory over HTTP/1.1, on uco.\n\n"
		"  -p, --port PORT            port to listen on (default 8080; 0: any)\n"
		"  -H, --host ADDR            address to listen on (default: all)\n"
		"  -c, --cores N              cores to serve on (default: all)\n"
		"  -r, --root DIR             directory to serve (default: .)\n"
		"  -m, --max-connections N    most connections at once (default: no cap)\n"
		"  -g, --grace SECONDS        on SIGINT/SIGTERM, time left to requests\n"
		"                             in flight (default 2)\n"
		"  -h, --help                 this help\n\n"
		"/hello and /json answer as TechEmpower's plaintext and json tests.\n");
}

static int bad(const char *msg, const char *arg)
{
	fprintf(stderr, PROG ": %s '%s'\n", msg, arg);
	fprintf(stderr, "Try '" PROG " --help' for more information.\n");
	return 1;
}

static bool parse_num(const char *s, unsigned long long max,
		      unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return *s && *s != '-' && !*end && errno == 0 && *v <= max;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "cores", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "grace", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct httpd h = { .port = "8080", .root = ".",
			   .grace = 2 * UCO_NSEC_PER_SEC };
	unsigned long long v;
	uco_config cfg;
	int c, r;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:H:c:r:m:g:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!parse_num(optarg, 65535, &v))
				return bad("invalid port", optarg);
			h.port = optarg;
			break;
		case 'H':
			h.host = optarg;
			break;
		case 'c':
			if (!parse_num(optarg, (unsigned long long)ncpu, &v) || !v)
				return bad("invalid number of cores", optarg);
			h.cores = (unsigned)v;
			break;
		case 'r':
			h.root = optarg;
			break;
		case 'm':
			if (!parse_num(optarg, 1ull << 30, &v))
				return bad("invalid number of connections", optarg);
			h.max_connections = (size_t)v;
			break;
		case 'g':
			if (!parse_num(optarg, 3600, &v))
				return bad("invalid grace", optarg);
			h.grace = v * UCO_NSEC_PER_SEC;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return bad("option requires an argument --",
				   argv[optind - 1]);
		default:
			return bad("unrecognized option",
				   optopt ? (char[]){ (char)optopt, 0 }
					  : argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("extra operand", argv[optind]);
	h.rootfd = open(h.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h.rootfd < 0) {
		fprintf(stderr, PROG ": [emerg] root \"%s\" failed (%d: %s)\n",
			h.root, errno, strerror(errno));
		return 1;
	}
	uco_config_init(&cfg);
	cfg.cores = h.cores ? h.cores : (unsigned)ncpu;
	r = uco_run(main_task, &h, &cfg, NULL);
	close(h.rootfd);
	if (r < 0 && r != -EADDRINUSE && r != -EACCES && r != -EADDRNOTAVAIL &&
	    r != -ENOENT)
		fprintf(stderr, PROG ": %s\n", strerror(-r));
	return r < 0 ? 1 : 0;
}
