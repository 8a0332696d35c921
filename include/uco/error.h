/*
 * uco/error.h — what a uco error means, in words.
 *
 * Every uco call that fails returns a negative number (uco/common.h).
 * Almost all of them are negative errnos (-ECONNREFUSED, -ETIMEDOUT...).
 * The one other kind is the resolver's: getaddrinfo(3) reports its own
 * codes (EAI_NONAME, EAI_AGAIN...), which no errno says well ("No such
 * file or directory" for an unknown host misleads).  uco_getaddrinfo()
 * and every call that resolves a name (uco_listen_tcp, uco_connect_tcp,
 * uco_bind_udp, uco_open_connection, uco_start_server) return them as
 * UCO_EAI(code), in a range of their own far below every errno:
 *
 *   -UCO_EAI_BASE - 999 <= err <= -UCO_EAI_BASE - 1   UCO_IS_EAI(err)
 *
 * except EAI_MEMORY, which is -ENOMEM, and EAI_SYSTEM, which is the
 * errno of the system error.  Compare a result with UCO_EAI(EAI_NONAME)
 * (include <netdb.h> for the names), or get getaddrinfo's code back with
 * UCO_EAI_CODE(err).  (On Linux, glibc's and musl's EAI_* codes are
 * small negative numbers; the range holds them all.)
 *
 * uco_strerror() turns any of them, errno or resolver code, into words.
 */
#ifndef UCO_ERROR_H
#define UCO_ERROR_H

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UCO_EAI_BASE 10000

/* uco's error for getaddrinfo's code eai (EAI_NONAME...), and back. */
#define UCO_EAI(eai) (-UCO_EAI_BASE + (eai))
#define UCO_EAI_CODE(err) ((err) + UCO_EAI_BASE)
/* Is err a resolver error? */
#define UCO_IS_EAI(err)                                                      \
	((err) <= -UCO_EAI_BASE - 1 && (err) >= -UCO_EAI_BASE - 999)

/*
 * A description of err, a uco result: a negative errno (a positive one is
 * taken as the same), a resolver error (UCO_IS_EAI: getaddrinfo's words,
 * e.g. "Name or service not known"), or 0 ("Success").  Returns a static
 * string, never NULL ("Unknown error" for a number that is none of
 * these), in English whatever the locale, safe to call from any thread.
 * Does not suspend.
 */
UCO_API const char *uco_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
