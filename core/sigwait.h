/*
 * Signals (uco/signal.h): SIGINT, SIGTERM and SIGHUP are blocked in every
 * runtime thread while uco_run() runs and read from one signalfd on core
 * 0's ring, by a CQE handler (no task, no stack).  A signal goes to the
 * tasks waiting for it, on whichever core; one nobody waits for gets the
 * program's own disposition.
 */
#ifndef UCO_CORE_SIGWAIT_H
#define UCO_CORE_SIGWAIT_H

#include <signal.h>
#include <stdatomic.h>
#include <sys/signalfd.h>

#include "list.h"
#include "op.h"

struct uco__loop;
struct uco__runtime;

#define UCO_NSIGNALS 3 /* SIGINT, SIGTERM, SIGHUP */

/* Per loop. */
struct uco__sigstate {
	struct uco__node waiters;          /* tasks in uco_signal_wait() */
	_Atomic unsigned count[UCO_NSIGNALS]; /* ...per signal (read by core 0) */
	struct uco__cqe_handler h;         /* core 0: the signalfd read */
	struct signalfd_siginfo si;
	int fd;                            /* core 0: the signalfd, or -1 */
	bool armed;
};

/* The signals uco takes over. */
void uco__signal_set(sigset_t *set);

/* Per-loop set-up; on core 0 with a signalfd from uco_run(). */
void uco__signal_init(struct uco__loop *l, int fd);
/* Core 0: start reading the signalfd (from the loop's thread). */
void uco__signal_start(struct uco__loop *l);

#endif
