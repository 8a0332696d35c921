/*
 * uco/poll.h — waiting for readiness of any file descriptor.
 *
 * This is how a nonblocking C library (libpq, hiredis, OpenSSL over a
 * nonblocking socket) runs on uco: it returns EAGAIN / WANT_READ, the task
 * calls uco_poll() for the events the library asked for, then calls the
 * library again.  One IORING_OP_POLL_ADD (one-shot) per call.
 *
 * The worked example is tests/test_poll.c: OpenSSL over a nonblocking
 * socket, a TLS 1.3 client and server as uco tasks (on one core and on
 * two).  Its tls_wait() / tls_io() pair is the glue to copy: call OpenSSL;
 * on SSL_ERROR_WANT_READ / WANT_WRITE, uco_poll(fd, POLLIN / POLLOUT) and
 * make the same call again.  Cancellation and timeout scopes cut the wait,
 * not the library call, so after -ECANCELED / -ETIMEDOUT the library's
 * state is intact: retry the call later, or drop the connection.  Drive
 * hiredis (EAGAIN) or libpq (PGRES_POLLING_READING / _WRITING) the same way.
 */
#ifndef UCO_POLL_H
#define UCO_POLL_H

#include <poll.h>

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Wait until fd is ready for `events` (POLLIN, POLLOUT, POLLPRI, ...).
 * Suspends.  Returns the ready events (POLLERR and POLLHUP are reported
 * whatever was asked, as poll(2) does), or a negative errno: -ECANCELED,
 * -ETIMEDOUT under a timeout scope or uco_wait_for, -EBADF.
 */
UCO_MUST_USE
UCO_API int uco_poll(int fd, unsigned events);

#ifdef __cplusplus
}
#endif

#endif
