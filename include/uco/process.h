/*
 * uco/process.h — subprocesses (asyncio's create_subprocess_exec and its
 * Process: wait, communicate, send_signal, terminate, kill).
 *
 * A child is started with posix_spawn(3) (glibc's is a vfork-style clone:
 * the parent's memory is not copied, whatever its size, and a failed exec
 * is reported to the caller as an error, not as a child exiting 127), and
 * is then held by a pidfd: signals go through pidfd_send_signal(), so they
 * can never reach another process that reused the pid, and the exit is
 * awaited with IORING_OP_WAITID on the pidfd (kernel 6.7+; the op is its
 * own probe: a kernel without it answers -EINVAL, and that record then
 * polls the pidfd readable and reaps it with waitid(WNOHANG) instead).
 *
 * Each of the child's stdin, stdout and stderr is inherited, /dev/null,
 * or a pipe that the parent holds as a uco_stream (uco/stream.h): readline,
 * readexactly, write, drain and the rest work on it as on a socket.  A
 * write to a child that closed its stdin is -EPIPE, never a SIGPIPE.
 *
 * No zombie and no descriptor outlives a uco_process: a wait that is
 * cancelled or timed out kills the child (SIGKILL) and reaps it before it
 * returns, and uco_process_close() does the same to a child still running.
 *
 * A uco_process is used from the tasks of the core that spawned it.  It
 * has no lock: one task waits while others read and write its pipes.
 */
#ifndef UCO_PROCESS_H
#define UCO_PROCESS_H

#include <stddef.h>
#include <sys/types.h>

#include <uco/common.h>
#include <uco/stream.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uco_process uco_process;

/* What one of the child's standard descriptors is. */
typedef enum uco_stdio {
	UCO_STDIO_INHERIT = 0, /* the parent's own descriptor */
	UCO_STDIO_DEVNULL,     /* /dev/null */
	UCO_STDIO_PIPE,        /* a pipe to the parent, as a uco_stream */
	UCO_STDIO_STDOUT,      /* stderr only: wherever stdout goes */
} uco_stdio;

/* Options for uco_process_spawn(); NULL or zeroed fields mean the
 * defaults. */
typedef struct uco_process_opts {
	/* The child's environment, "NAME=value" strings, NULL-terminated
	 * (default NULL: the parent's environ). */
	char *const *env;
	/* The child's working directory (default NULL: the parent's). */
	const char *cwd;
	/* stdin, stdout, stderr (default UCO_STDIO_INHERIT each). */
	uco_stdio in, out, err;
	/* Options of the pipe streams (default NULL: uco_stream's). */
	const uco_stream_opts *stream;
} uco_process_opts;

/*
 * Start argv[0] with arguments argv (NULL-terminated).  argv[0] without a
 * '/' is looked for in the parent's PATH, as execvp(3) does.  The child
 * starts with an empty signal mask and every signal at its default action
 * (the runtime blocks some in its threads and a program may ignore
 * SIGPIPE: a child inherits neither), and with no descriptor of the parent
 * beyond 0, 1 and 2 (all others are closed in the child, as Python's
 * close_fds=True).  Nothing else in the program may reap children
 * (waitpid(-1), SIGCHLD set to SIG_IGN): the child is this record's.
 *
 * Does not suspend (the calling thread waits the few tens of microseconds
 * until the child has exec'd).  Returns 0 with *out set, to release with
 * uco_process_close(); or a negative errno with nothing left behind:
 * -ENOENT (no such program), -EACCES, -ENOEXEC, -ENOTDIR, -E2BIG from the
 * exec or the chdir to cwd, -EMFILE / -ENFILE / -EAGAIN / -ENOMEM from the
 * pipes or the clone, -EINVAL (bad arguments).  May be called outside
 * uco_run too; the pipes and the waits are used inside it.
 */
UCO_API int uco_process_spawn(uco_process **out, char *const argv[],
			      const uco_process_opts *opts);

/* The child's pid (valid until it is reaped; prefer uco_process_kill(),
 * which cannot signal a stranger).  Does not suspend. */
UCO_API pid_t uco_process_pid(const uco_process *p);

/*
 * The parent's end of the child's stdin (fd 0), stdout (1) or stderr (2)
 * when it is UCO_STDIO_PIPE, else NULL.  The stream belongs to p: do not
 * close it with uco_stream_close(); use uco_process_close_pipe().  Does
 * not suspend.
 */
UCO_API uco_stream *uco_process_pipe(uco_process *p, int fd);

/*
 * Close the parent's end of pipe fd (0, 1 or 2) now: for stdin, the child
 * reads the end of its input (what was written but not drained gets one
 * non-blocking attempt, as uco_stream_close()); for stdout or stderr, a
 * child that goes on writing gets EPIPE / SIGPIPE.  Never suspends.
 * Returns what uco_stream_close() returns, or 0 if there is no such pipe
 * (any more).  Nothing may be in a call on that stream.
 */
UCO_API int uco_process_close_pipe(uco_process *p, int fd);

/*
 * Wait for the child to exit and reap it.  Suspends (not at all once it
 * has been reaped).  Returns its wait status, >= 0, to decode with
 * WIFEXITED() / WEXITSTATUS() / WIFSIGNALED() / WTERMSIG(); or:
 *   -ECANCELED, -ETIMEDOUT  the caller was cancelled, or a timeout scope or
 *           uco_wait_for() expired: the child has been killed (SIGKILL) and
 *           reaped before the call returns, and a later wait returns the
 *           status it died with;
 *   -EINVAL (p NULL), -EPERM (not in a task), -EBUSY (another task is
 *           waiting: one at a time), -ENOMEM: the child is left running
 *           (wait again, or close).
 */
UCO_API int uco_process_wait(uco_process *p);

/* The wait status once the child has been reaped, else -EAGAIN (still
 * running, or not waited for yet).  Does not suspend. */
UCO_API int uco_process_status(const uco_process *p);

/*
 * Send signal sig (asyncio's send_signal) through the pidfd.  Does not
 * suspend.  Returns 0, -ESRCH once the child has been reaped, -EINVAL (bad
 * signal), or what pidfd_send_signal() says.  A child that has exited but
 * was not reaped yet accepts (and ignores) the signal: 0.
 */
UCO_API int uco_process_kill(uco_process *p, int sig);

/* uco_process_kill(p, SIGTERM). */
UCO_API int uco_process_terminate(uco_process *p);

/*
 * asyncio's communicate(): write in[0, inlen) to the child's stdin and
 * close it, read its stdout and stderr to their ends, then wait for it.
 * All three pipes are served at once (by tasks of the caller's core), so a
 * child that fills one pipe while the parent writes another cannot
 * deadlock the pair.  in may be NULL (inlen 0): stdin is just closed.
 * A descriptor that is not a pipe is skipped; the caller must not be using
 * any of the pipes.  A child that stops reading its stdin early
 * (-EPIPE) is not an error: its output and status are still collected.
 *
 * On success *out / *err (each may be NULL to discard that output; set to
 * NULL when the pipe is absent or empty) receive malloc'd buffers that the
 * caller frees with free(), with their lengths in *outlen / *errlen, and
 * the call returns the wait status (>= 0).  On failure nothing is handed
 * over: -ECANCELED / -ETIMEDOUT (the child is killed and reaped, as for
 * uco_process_wait()), -ENOMEM or a pipe error (the child is killed and
 * reaped too), -EINVAL, -EPERM (not in a task: nothing done).  Suspends.
 */
UCO_API int uco_process_communicate(uco_process *p, const void *in,
				    size_t inlen, char **out, size_t *outlen,
				    char **err, size_t *errlen);

/*
 * Release p: close its pipes (a pending write gets one non-blocking
 * attempt) and its pidfd.  A child still running is killed (SIGKILL) and
 * reaped first; that waits, blocking the thread, for the kernel to tear
 * the child down (microseconds, unless it is stuck in an uninterruptible
 * sleep): wait for it with uco_process_wait() first to avoid that.  Never
 * suspends.  Nothing may be in a call on p or its pipes.  NULL: no-op.
 */
UCO_API void uco_process_close(uco_process *p);

#ifdef __cplusplus
}
#endif

#endif
