/*
 * io/until_signal.h — what uco_server_run_until_signal() and
 * uco_http_server_run_until_signal() share: serve until SIGINT or SIGTERM,
 * then ask the server to stop within a grace period, and wait for it.
 */
#ifndef UCO_IO_UNTIL_SIGNAL_H
#define UCO_IO_UNTIL_SIGNAL_H

#include <stdint.h>

/* now + ns as an absolute CLOCK_MONOTONIC deadline, without overflow
 * (at most UINT64_MAX - 1: UINT64_MAX means "no deadline"). */
uint64_t uco__deadline_in(uint64_t ns);

/*
 * Spawn a task (named `name`) that waits for SIGINT or SIGTERM and then
 * calls stop(srv, deadline grace_ns from then); meanwhile wait(srv), which
 * returns once the server has stopped (0) or the caller was cut short (a
 * negative errno).  The watcher is cancelled and joined, shielded, before
 * this returns.  Returns the signal number, wait's error, or spawn's.
 * Suspends; on the server's home core (the caller checks).
 */
int uco__until_signal(void *srv, const char *name, uint64_t grace_ns,
		      void (*stop)(void *srv, uint64_t deadline),
		      int (*wait)(void *srv));

#endif
