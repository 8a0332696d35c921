/*
 * Signals (uco/signal.h): SIGINT, SIGTERM and SIGHUP are blocked in every
 * runtime thread while uco_run() runs and read from one signalfd, by a CQE
 * handler (no task, no stack) on every loop's ring: a read takes the
 * process's pending signals and the reading thread's own, so a raise() in
 * a task on any core is read too.  A signal goes to the tasks waiting for
 * it, on whichever core; one nobody waits for gets the program's own
 * disposition.
 *
 * That last promise must hold even while every loop is busy (a task that
 * never suspends): a watcher thread, which depends on no loop, reads a
 * second signalfd whose mask is kept to the signals no task waits for, and
 * gives them the program's disposition itself.  Waited-for signals are
 * left to the loops.  Both readers take process-wide signals from the same
 * pending set, so each signal is read once, by whichever comes first.
 */
#ifndef UCO_CORE_SIGWAIT_H
#define UCO_CORE_SIGWAIT_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/signalfd.h>


struct uco__loop;
struct uco__runtime;

#define UCO_NSIGNALS 3 /* SIGINT, SIGTERM, SIGHUP */

/* Per loop, private to sigwait.c: the runtime keeps an array of them
 * (rt->sigstates, by core). */
struct uco__sigstate;
struct uco__sigstate *uco__sigstates_new(unsigned nloops);
void uco__sigstates_free(struct uco__sigstate *s, unsigned nloops);

/* Per runtime: the watcher thread for signals nobody waits for. */
struct uco__sigwatch {
	pthread_t thread;
	pthread_mutex_t mu;                /* serialises mask updates */
	pthread_cond_t cv;                 /* start-up handshake */
	bool running;
	_Atomic unsigned waiting[UCO_NSIGNALS]; /* waiting tasks, all cores */
	int fd;                            /* signalfd of the unwaited, or -1 */
	int stopfd;                        /* eventfd: stop the thread */
	bool started;
};

/* Start / stop the watcher (uco_run, around the loops' whole life). */
void uco__sigwatch_start(struct uco__runtime *rt);
void uco__sigwatch_stop(struct uco__runtime *rt);

/* The signals uco takes over. */
void uco__signal_set(sigset_t *set);

/* Set up l's part, register it with l and start reading the signalfd
 * from uco_run() (or -1: none), from l's thread before it runs. */
void uco__signal_start(struct uco__loop *l, int fd);

/* Is l's signalfd read in flight?  (The tests discount it.) */
bool uco__signal_armed(struct uco__loop *l);

#endif
