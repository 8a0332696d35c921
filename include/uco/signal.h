/*
 * uco/signal.h — waiting for SIGINT, SIGTERM or SIGHUP in a task.
 *
 * While uco_run() runs, these three signals are blocked in every runtime
 * thread and in the thread that called uco_run(), and read from a signalfd
 * on every core's ring (so a raise() in a task on any core is seen too).  A signal that no task is waiting for gets its usual
 * treatment: the disposition the program had set (the default terminates
 * the process, as without uco; SIG_IGN ignores it; a handler runs on the
 * thread that read the signal: a core's, or uco's signal thread, which
 * reads the signals no task waits for even while every core is busy).  A signal that arrives while a task waits for it is
 * delivered to that task only (to every task waiting for that signal).
 * Tasks may still wait for signals after main has returned, while the
 * runtime shuts down.  "While a task waits" means from the moment its
 * uco_signal_wait() has suspended: a signal raced against a waiter that
 * is only about to wait (on another core) may get the usual treatment, so
 * start the waiting task before whatever could make the signal come.
 * Threads the program started before uco_run() do not block them: a
 * signal sent to the process may then be delivered there instead.
 *
 * A child started with a plain posix_spawn() or fork() + exec from a
 * runtime thread inherits the blocked mask, so SIGINT and SIGTERM stay
 * blocked in it (a Python child then ignores SIGTERM).  Clear the mask in
 * the child (posix_spawnattr_setsigmask() with an empty set), or use
 * uco_process_spawn() (uco/process.h), which does.
 */
#ifndef UCO_SIGNAL_H
#define UCO_SIGNAL_H

#include <signal.h>
#include <sys/select.h> /* sigset_t, also under -std=c11 (POSIX puts it here) */

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Wait for one of the signals in `set` (only SIGINT, SIGTERM and SIGHUP
 * may be in it: -EINVAL otherwise, or for an empty set).  Suspends; can be
 * called on any core.  set stays the caller's; it is read while the task
 * waits, so keep it unchanged until the call returns.  Returns the signal number, -EPERM outside a task, or
 * -ECANCELED / -ETIMEDOUT when cancelled or timed out while waiting (the
 * task stops waiting at once; a signal that comes after that gets the
 * treatment described above).
 */
UCO_MUST_USE
UCO_API int uco_signal_wait(const sigset_t *set);

#ifdef __cplusplus
}
#endif

#endif
