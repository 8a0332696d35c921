/*
 * Addresses, listeners and connections: name resolution on the offload
 * pool, listening sockets (bind and listen are immediate system calls: they
 * never block), connections that try every resolved address.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <uco/error.h>
#include <uco/net.h>
#include <uco/offload.h>

#include "core/alloc.h"
#include "io.h"

/* One resolution, owned by whoever finishes last: the caller, or (if the
 * caller was cancelled) the cleanup that runs when the pool thread is
 * done. */
struct resolve {
	char *host;
	char *service;
	struct addrinfo hints;
	bool has_hints;
	struct addrinfo *res;
	int rc;
	int err; /* errno, for EAI_SYSTEM */
};

static char *dup_str(const char *s)
{
	size_t n;
	char *d;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	d = uco__alloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static void resolve_free(struct resolve *r)
{
	if (r->host)
		uco__free(r->host, strlen(r->host) + 1);
	if (r->service)
		uco__free(r->service, strlen(r->service) + 1);
	uco__free(r, sizeof(*r));
}

static void *resolve_run(void *arg)
{
	struct resolve *r = arg;

	r->rc = getaddrinfo(r->host, r->service,
			    r->has_hints ? &r->hints : NULL, &r->res);
	r->err = errno;
	return NULL;
}

static void resolve_abandoned(void *arg, void *result)
{
	struct resolve *r = arg;

	if (r->rc == 0 && r->res)
		freeaddrinfo(r->res);
	resolve_free(r);
}

/* getaddrinfo's result as uco's (uco/error.h): system errors as errnos,
 * the resolver's own in their range. */
static int eai_to_errno(int rc, int err)
{
	switch (rc) {
	case 0:
		return 0;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return err ? -err : -EIO;
	default:
		return UCO_EAI(rc);
	}
}

UCO_API int uco_getaddrinfo(const char *host, const char *service,
			    const struct addrinfo *hints,
			    struct addrinfo **res)
{
	struct resolve *r;
	int rc;

	if (!res || (!host && !service))
		return -EINVAL;
	r = uco__zalloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->host = dup_str(host);
	r->service = dup_str(service);
	if ((host && !r->host) || (service && !r->service)) {
		resolve_free(r);
		return -ENOMEM;
	}
	if (hints) {
		r->hints = *hints;
		r->hints.ai_addr = NULL;
		r->hints.ai_canonname = NULL;
		r->hints.ai_next = NULL;
		r->has_hints = true;
	}
	rc = uco_to_thread(resolve_run, r, NULL, resolve_abandoned);
	if (rc < 0)
		return rc; /* resolve_abandoned frees r (now, or when fn is done) */
	rc = eai_to_errno(r->rc, r->err);
	*res = rc == 0 ? r->res : NULL;
	if (rc != 0 && r->res)
		freeaddrinfo(r->res);
	resolve_free(r);
	return rc;
}

static bool any_host(const char *host)
{
	return !host || !*host || strcmp(host, "*") == 0;
}

static int set_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v)) < 0 ? -errno : 0;
}

/* socket + options + bind (+ listen when backlog >= 0), synchronously:
 * none of them blocks.  reuseaddr: SO_REUSEADDR before the bind. */
static int bind_with(const struct addrinfo *ai, int backlog, unsigned flags,
		     bool reuseaddr)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			ai->ai_protocol);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (reuseaddr)
		r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (r == 0 && ai->ai_family == AF_INET6)
		r = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY,
			    (flags & UCO_LISTEN_V6ONLY) ? 1 : 0);
	/* Bound without SO_REUSEPORT, so that the bind itself is the check
	 * that nobody listens here yet (uco/net.h says why); the group is
	 * opened for our twins only after that. */
	if (r == 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		r = -errno;
	if (r == 0 && (flags & UCO_LISTEN_REUSEPORT))
		r = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (r == 0 && backlog >= 0 && listen(fd, backlog) < 0)
		r = -errno;
	/* Now that nobody else can bind here: SO_REUSEADDR, which the
	 * connections it accepts inherit, so that their TIME_WAIT remnants
	 * let the next run bind (the kernel wants it on both sides). */
	if (r == 0 && !reuseaddr)
		r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int bind_one(const struct addrinfo *ai, int backlog, unsigned flags)
{
	int r;

	if (!(flags & UCO_LISTEN_REUSEPORT))
		return bind_with(ai, backlog, flags, true);
	/*
	 * The first of a group.  Without SO_REUSEADDR the bind fails while
	 * any other socket is bound to the address, even one that does not
	 * listen yet: another server starting at this very moment, between
	 * its bind and its listen, cannot slip in.  It also fails for the
	 * TIME_WAIT connections an earlier run left on the port; only then
	 * may SO_REUSEADDR help (it still fails while anything listens).
	 */
	r = bind_with(ai, backlog, flags, false);
	if (r == -EADDRINUSE)
		r = bind_with(ai, backlog, flags, true);
	return r;
}

/* Resolve host:port for binding and bind the first address that works
 * (the wildcard resolves IPv6 first where the machine has it: dual
 * stack). */
static int bind_addr(const char *host, const char *port, int socktype,
		     int backlog, unsigned flags)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = socktype,
		.ai_flags = AI_PASSIVE | AI_ADDRCONFIG,
	};
	struct addrinfo *res, *ai;
	int r, fd = -EADDRNOTAVAIL;

	if (!port)
		return -EINVAL;
	if (any_host(host))
		host = NULL;
	r = uco_getaddrinfo(host, port, &hints, &res);
	if (UCO_IS_EAI(r) && r != UCO_EAI(EAI_AGAIN) && host == NULL) {
		hints.ai_flags &= ~AI_ADDRCONFIG; /* e.g. only loopback up */
		r = uco_getaddrinfo(host, port, &hints, &res);
	}
	if (r < 0)
		return r;
	/* With no host, prefer the IPv6 wildcard: it takes IPv4 too. */
	if (!host) {
		for (ai = res; ai; ai = ai->ai_next) {
			if (ai->ai_family != AF_INET6 ||
			    (flags & UCO_LISTEN_V6ONLY))
				continue;
			fd = bind_one(ai, backlog, flags);
			if (fd >= 0)
				break;
		}
	}
	for (ai = res; fd < 0 && ai; ai = ai->ai_next)
		fd = bind_one(ai, backlog, flags);
	freeaddrinfo(res);
	return fd;
}

UCO_API int uco_listen_tcp(const char *host, const char *port, int backlog,
			   unsigned flags)
{
	if (flags & ~(unsigned)(UCO_LISTEN_REUSEPORT | UCO_LISTEN_V6ONLY))
		return -EINVAL;
	return bind_addr(host, port, SOCK_STREAM, backlog < 0 ? 511 : backlog,
			 flags);
}

static int get_int(int fd, int level, int name, int *v)
{
	socklen_t len = sizeof(*v);

	return getsockopt(fd, level, name, v, &len) < 0 ? -errno : 0;
}

UCO_API int uco_listen_twin(int fd0, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, reuseport = 0, v6only = 0, r;

	if (getsockname(fd0, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if ((r = get_int(fd0, SOL_SOCKET, SO_REUSEPORT, &reuseport)) < 0)
		return r;
	if (!reuseport ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return -EINVAL;
	if (ss.ss_family == AF_INET6 &&
	    (r = get_int(fd0, IPPROTO_IPV6, IPV6_V6ONLY, &v6only)) < 0)
		return r;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (r == 0)
		r = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (r == 0 && ss.ss_family == AF_INET6)
		r = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only);
	if (r == 0 && bind(fd, (struct sockaddr *)&ss, len) < 0)
		r = -errno;
	if (r == 0 && listen(fd, backlog < 0 ? 511 : backlog) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

UCO_API int uco_bind_udp(const char *host, const char *port)
{
	return bind_addr(host, port, SOCK_DGRAM, -1, 0);
}

UCO_API int uco_connect_tcp(const char *host, const char *port)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_ADDRCONFIG,
	};
	struct addrinfo *res, *ai;
	int r, fd = -EHOSTUNREACH;

	if (!host || !port)
		return -EINVAL;
	r = uco_getaddrinfo(host, port, &hints, &res);
	if (r < 0)
		return r;
	for (ai = res; ai; ai = ai->ai_next) {
		int s = uco_socket(ai->ai_family, ai->ai_socktype,
				   ai->ai_protocol);
		if (s < 0) {
			fd = s;
			if (s == -ECANCELED || s == -ETIMEDOUT)
				break;
			continue;
		}
		r = uco_connect(s, ai->ai_addr, ai->ai_addrlen);
		if (r == 0) {
			/* Echo-style request/response traffic: no Nagle. */
			set_int(s, IPPROTO_TCP, TCP_NODELAY, 1);
			fd = s;
			break;
		}
		close(s);
		fd = r;
		if (r == -ECANCELED || r == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

static int unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n;

	if (!path)
		return -EINVAL;
	n = strlen(path);
	if (n == 0 || n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@')
		sa->sun_path[0] = '\0'; /* abstract: no file */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			   (path[0] == '@' ? 0 : 1));
	return 0;
}

/* Is the socket file at sa left over (nobody accepts on it)? */
static bool unix_stale(const struct sockaddr_un *sa, socklen_t len)
{
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool stale;

	if (probe < 0)
		return false;
	stale = connect(probe, (const struct sockaddr *)sa, len) < 0 &&
		errno == ECONNREFUSED;
	close(probe);
	return stale;
}

UCO_API int uco_listen_unix(const char *path, int backlog)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, r = unix_addr(path, &sa, &len);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = bind(fd, (struct sockaddr *)&sa, len) < 0 ? -errno : 0;
	if (r == -EADDRINUSE && path[0] != '@' && unix_stale(&sa, len)) {
		/* A socket file nobody listens on any more: replace it. */
		r = unlink(path) < 0 ? -errno : 0;
		if (r == 0 && bind(fd, (struct sockaddr *)&sa, len) < 0)
			r = -errno;
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	if (listen(fd, backlog < 0 ? 511 : backlog) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

UCO_API int uco_connect_unix(const char *path)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, r = unix_addr(path, &sa, &len);

	if (r < 0)
		return r;
	fd = uco_socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return fd;
	r = uco_connect(fd, (struct sockaddr *)&sa, len);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

UCO_API int uco_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}
