/*
 * Subprocesses (uco/process.h).
 *
 * Spawning: posix_spawn(3) rather than our own clone(CLONE_PIDFD) +
 * vfork.  glibc's posix_spawn is already a CLONE_VM | CLONE_VFORK clone on
 * a private stack (no page-table copy, so its cost does not grow with the
 * parent), it resets the signal mask and dispositions and runs the file
 * actions (dup2, open, chdir, closefrom) in the child with only
 * async-signal-safe code, and it reports a failed exec back as an error.
 * Writing that child side ourselves would buy only the pidfd from the
 * clone itself; pidfd_open() right after the spawn gives the same
 * guarantee, because nothing else reaps our child (so its pid cannot be
 * reused) until we do.  (glibc 2.39's pidfd_spawn would fold the two.)
 *
 * Waiting: IORING_OP_WAITID (kernel 6.7) on the pidfd, prepared from raw
 * SQE fields since liburing 2.3 has no helper: one SQE that completes when
 * the child has exited and been reaped, with its siginfo written by the
 * kernel into the record.  A kernel without the opcode answers -EINVAL;
 * the record then falls back, for good, to polling the pidfd (readable
 * once the child has exited) and reaping with waitid(WNOHANG).
 *
 * Pipes: the parent's ends are uco_streams with the pipe transport below:
 * reads are IORING_OP_READ; writes are nonblocking write(2) calls with
 * SIGPIPE blocked around them, waiting for POLLOUT through uco_poll() when
 * the pipe is full.  Not IORING_OP_WRITE: a write to a pipe whose reader
 * is gone raises SIGPIPE in whichever thread the kernel ran it on, which
 * kills the process (a pipe has no MSG_NOSIGNAL).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uco/combine.h>
#include <uco/file.h>
#include <uco/poll.h>
#include <uco/process.h>
#include <uco/task.h>

#include "core/alloc.h"
#include "core/cleanup.h"
#include "io.h"
#include "stream_impl.h"

extern char **environ;

/* Not in liburing 2.3's enum (kernel uapi: include/uapi/linux/io_uring.h). */
#define UCO_IORING_OP_WAITID 50

struct uco_process {
	pid_t pid;
	int pidfd;           /* -1 once closed */
	int status;          /* the wait status once reaped, else -1 */
	bool waiting;        /* a task is in uco_process_wait() */
	bool no_waitid_op;   /* the kernel refused IORING_OP_WAITID */
	uco_stream *pipes[3];
	siginfo_t si;        /* written by the kernel's WAITID */
};

/* ---- the pipe transport ------------------------------------------------- */

static ssize_t pipe_recv(struct uco_stream *s, void *buf, size_t len)
{
	return uco_read(s->fd, buf, len, -1);
}

/*
 * One nonblocking write(2) with SIGPIPE blocked, so that a reader gone is
 * -EPIPE.  The SIGPIPE the kernel then queues on this thread is taken back
 * with sigtimedwait() — unless the program itself had SIGPIPE blocked, in
 * which case one may have been pending already and it is the program's.
 */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old;
	ssize_t n;
	int e;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	e = errno;
	if (n < 0 && e == EPIPE && !sigismember(&old, SIGPIPE))
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 &&
		       errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return n < 0 ? -e : n;
}

static ssize_t pipe_send_nowait(struct uco_stream *s, const void *buf,
				size_t len)
{
	return write_nosigpipe(s->fd, buf, len);
}

static ssize_t pipe_send(struct uco_stream *s, const void *buf, size_t len)
{
	for (;;) {
		ssize_t n = write_nosigpipe(s->fd, buf, len);
		int r;

		if (n != -EAGAIN)
			return n;
		/* Full: wait for room (POLLERR once the reader is gone,
		 * and the next write says -EPIPE). */
		r = uco_poll(s->fd, POLLOUT);
		if (r < 0)
			return r;
	}
}

/* A pipe cannot be half-closed: its write end is closed instead, by
 * putting /dev/null in its place (dup3 swaps the descriptor atomically), so
 * the stream keeps a descriptor to close later like any other. */
static int pipe_shutdown(struct uco_stream *s)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (null < 0)
		return -errno;
	if (dup3(null, s->fd, O_CLOEXEC) < 0)
		r = -errno;
	close(null);
	return r;
}

static void pipe_release(struct uco_stream *s, bool graceful)
{
}

static const struct uco__stream_io pipe_xport = {
	.recv = pipe_recv,
	.send = pipe_send,
	.send_now = pipe_send_nowait,
	.shutdown_wr = pipe_shutdown,
	.release = pipe_release,
};

int uco__pipe_stream_open(struct uco_stream **out, int fd,
			  const uco_stream_opts *opts)
{
	return uco__stream_open_xport(out, fd, opts, &pipe_xport, NULL);
}

/* ---- spawning ------------------------------------------------------------ */

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Reap a child we hold no pidfd for (pidfd_open failed): it was never
 * waited for, so pid is still ours. */
static void kill_reap_pid(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Set up the file actions for child descriptor `fd` (0, 1, 2) in mode m;
 * for a pipe, *child / *parent receive the two ends. */
static int stdio_action(posix_spawn_file_actions_t *fa, int fd, uco_stdio m,
			int *child, int *parent)
{
	int p[2];
	int r;

	switch (m) {
	case UCO_STDIO_INHERIT:
		return 0;
	case UCO_STDIO_DEVNULL:
		return -posix_spawn_file_actions_addopen(
			fa, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
	case UCO_STDIO_STDOUT:
		if (fd != 2)
			return -EINVAL;
		return -posix_spawn_file_actions_adddup2(fa, 1, 2);
	case UCO_STDIO_PIPE:
		if (pipe2(p, O_CLOEXEC) < 0)
			return -errno;
		/* fd 0: the child reads p[0]; 1, 2: it writes p[1]. */
		*child = fd == 0 ? p[0] : p[1];
		*parent = fd == 0 ? p[1] : p[0];
		/* The parent's write end is nonblocking (pipe_send waits
		 * with uco_poll); its read ends stay blocking, as
		 * IORING_OP_READ would report EAGAIN on a nonblocking one. */
		if (fd == 0 && fcntl(*parent, F_SETFL, O_NONBLOCK) < 0)
			return -errno;
		/* glibc's dup2 action clears close-on-exec even when the
		 * descriptor already has the target number. */
		r = posix_spawn_file_actions_adddup2(fa, *child, fd);
		return -r;
	}
	return -EINVAL;
}

UCO_API int uco_process_spawn(uco_process **out, char *const argv[],
			      const uco_process_opts *opts)
{
	static const uco_process_opts defaults;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int child[3] = { -1, -1, -1 }, parent[3] = { -1, -1, -1 };
	uco_stdio modes[3];
	struct uco_process *p;
	sigset_t set;
	pid_t pid;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!argv || !argv[0])
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	modes[0] = opts->in;
	modes[1] = opts->out;
	modes[2] = opts->err;
	if (modes[0] == UCO_STDIO_STDOUT || modes[1] == UCO_STDIO_STDOUT)
		return -EINVAL;
	for (int i = 0; i < 3; i++)
		if ((unsigned)modes[i] > UCO_STDIO_STDOUT)
			return -EINVAL;
	p = uco__alloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->pidfd = -1;
	p->status = -1;

	r = -posix_spawn_file_actions_init(&fa);
	if (r < 0)
		goto fail_alloc;
	r = -posix_spawnattr_init(&attr);
	if (r < 0)
		goto fail_fa;
	for (int i = 0; i < 3 && r == 0; i++)
		r = stdio_action(&fa, i, modes[i], &child[i], &parent[i]);
	if (r == 0 && opts->cwd)
		r = -posix_spawn_file_actions_addchdir_np(&fa, opts->cwd);
	/* Python's close_fds: nothing of the parent beyond 0-2, whether or
	 * not the program opened it close-on-exec. */
	if (r == 0)
		r = -posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	sigemptyset(&set);
	if (r == 0)
		r = -posix_spawnattr_setsigmask(&attr, &set);
	sigfillset(&set);
	if (r == 0)
		r = -posix_spawnattr_setsigdefault(&attr, &set);
	if (r == 0)
		r = -posix_spawnattr_setflags(
			&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = -posix_spawnp(&pid, argv[0], &fa, &attr, argv,
				  opts->env ? opts->env : environ);
	posix_spawnattr_destroy(&attr);
fail_fa:
	posix_spawn_file_actions_destroy(&fa);
	close_fds(child, 3);
	if (r < 0)
		goto fail_pipes;

	p->pid = pid;
	p->pidfd = pidfd_open(pid, 0);
	if (p->pidfd < 0) {
		r = -errno;
		kill_reap_pid(pid);
		goto fail_pipes;
	}
	for (int i = 0; i < 3; i++) {
		if (parent[i] < 0)
			continue;
		r = uco__pipe_stream_open(&p->pipes[i], parent[i],
					  opts->stream);
		if (r < 0) {
			/* Streams already made own their ends. */
			for (int j = 0; j < i; j++)
				if (p->pipes[j]) {
					uco_stream_abort(p->pipes[j]);
					parent[j] = -1;
				}
			uco_process_close(p);
			close_fds(parent, 3);
			return r;
		}
	}
	*out = p;
	return 0;

fail_pipes:
	close_fds(parent, 3);
fail_alloc:
	uco__free(p, sizeof(*p));
	return r;
}

UCO_API pid_t uco_process_pid(const uco_process *p)
{
	return p ? p->pid : -EINVAL;
}

UCO_API uco_stream *uco_process_pipe(uco_process *p, int fd)
{
	if (!p || fd < 0 || fd > 2)
		return NULL;
	return p->pipes[fd];
}

UCO_API int uco_process_close_pipe(uco_process *p, int fd)
{
	uco_stream *s;

	if (!p || fd < 0 || fd > 2)
		return -EINVAL;
	s = p->pipes[fd];
	p->pipes[fd] = NULL;
	return uco_stream_close(s);
}

/* ---- waiting ------------------------------------------------------------- */

/* The wait status of a reaped child, from its siginfo. */
static int wait_status(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	default: /* CLD_KILLED */
		return si->si_status & 0x7f;
	}
}

/*
 * One IORING_OP_WAITID on the pidfd: 0 once the child is reaped (si
 * filled), or a negative errno.
 *
 * A linked timeout that cancels a WAITID completes with the count the
 * kernel's cancel returned (1), not -ETIME (kernel 6.7 to at least 6.18:
 * io_try_cancel() passes io_waitid_cancel()'s count through), so the op
 * layer does not see it as fired and the op ends -ECANCELED.  Nothing but
 * that timeout or our own task's cancel can cancel it: when the op was not
 * cancelled for the task, the timeout it is.
 */
static int waitid_op(struct uco_process *p)
{
	struct uco__op op;
	struct io_uring_sqe *sqe;
	int r = uco__op_begin(&op, &sqe);

	if (r < 0)
		return r;
	io_uring_prep_rw(UCO_IORING_OP_WAITID, sqe, p->pidfd, NULL, P_PIDFD,
			 0);
	sqe->file_index = WEXITED; /* waitid's options */
	sqe->rw_flags = 0;         /* waitid_flags: none defined */
	sqe->addr2 = (uint64_t)(uintptr_t)&p->si;
	r = uco__op_wait(&op, sqe);
	if (r == -ECANCELED && !(op.flags & UCO_OP_CANCELLED))
		r = uco__timed_out(op.task);
	return r;
}

/* Without WAITID: wait for the pidfd to be readable (the child exited),
 * then reap. */
static int waitid_poll(struct uco_process *p)
{
	for (;;) {
		int r;

		memset(&p->si, 0, sizeof(p->si));
		if (waitid(P_PIDFD, (id_t)p->pidfd, &p->si,
			   WEXITED | WNOHANG) < 0)
			return -errno;
		if (p->si.si_pid != 0)
			return 0;
		r = uco_poll(p->pidfd, POLLIN);
		if (r < 0)
			return r;
	}
}

/* Wait once for the child to exit and reap it. */
static int reap(struct uco_process *p)
{
	int r;

	if (!p->no_waitid_op) {
		memset(&p->si, 0, sizeof(p->si));
		r = waitid_op(p);
		if (r != -EINVAL)
			goto done;
		/* A kernel before 6.7: no such opcode. */
		p->no_waitid_op = true;
	}
	r = waitid_poll(p);
done:
	if (r == 0)
		p->status = wait_status(&p->si);
	return r;
}

/* Block the thread until the killed child is gone, and reap it. */
static void reap_blocking(struct uco_process *p)
{
	memset(&p->si, 0, sizeof(p->si));
	while (waitid(P_PIDFD, (id_t)p->pidfd, &p->si, WEXITED) < 0 &&
	       errno == EINTR)
		;
	p->status = wait_status(&p->si);
}

/* Kill the child and wait for it, not to be cut short: shielded from the
 * caller's cancellation, timeout scopes set aside.  Outside a task (or if
 * the ring cannot take the wait), the thread blocks for it instead. */
static void kill_reap(struct uco_process *p)
{
	struct uco__cleanup c;

	if (p->status >= 0)
		return;
	pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
	if (!uco_current()) {
		reap_blocking(p);
		return;
	}
	uco__cleanup_begin(&c);
	while (p->status < 0) {
		int r = reap(p);

		if (r < 0 && r != -ECANCELED && r != -ETIMEDOUT && r != -EINTR &&
		    r != -EAGAIN && r != -ENOMEM)
			reap_blocking(p); /* nothing left to wait with */
	}
	uco__cleanup_end(&c);
}

UCO_API int uco_process_wait(uco_process *p)
{
	int r;

	if (!p)
		return -EINVAL;
	if (p->status >= 0)
		return p->status;
	if (p->waiting)
		return -EBUSY;
	p->waiting = true;
	r = reap(p);
	if (r == -ECANCELED || r == -ETIMEDOUT)
		kill_reap(p);
	p->waiting = false;
	return r < 0 ? r : p->status;
}

UCO_API int uco_process_status(const uco_process *p)
{
	if (!p)
		return -EINVAL;
	return p->status >= 0 ? p->status : -EAGAIN;
}

UCO_API int uco_process_kill(uco_process *p, int sig)
{
	if (!p)
		return -EINVAL;
	if (p->status >= 0)
		return -ESRCH;
	if (pidfd_send_signal(p->pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

UCO_API int uco_process_terminate(uco_process *p)
{
	return uco_process_kill(p, SIGTERM);
}

/* ---- communicate --------------------------------------------------------- */

/* A helper of communicate() that fails kills the child, so that its
 * siblings see their pipes end instead of waiting for a child that may be
 * blocked on the pipe nobody serves any more. */
static void *helper_fail(struct uco_process *p, int err)
{
	pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
	return uco_fail(err);
}

struct collect {
	struct uco_process *p;
	uco_stream *s;
	char *buf;
	size_t len, cap;
	bool keep; /* the caller wants the bytes */
};

static void *collect_task(void *arg)
{
	struct collect *c = arg;
	char scratch[4096];

	for (;;) {
		ssize_t n;

		if (c->keep && c->cap - c->len < 4096) {
			size_t ncap = c->cap ? c->cap * 2 : 16384;
			char *nb = realloc(c->buf, ncap);

			if (!nb)
				return helper_fail(c->p, -ENOMEM);
			c->buf = nb;
			c->cap = ncap;
		}
		if (c->keep)
			n = uco_stream_read(c->s, c->buf + c->len,
					    c->cap - c->len);
		else
			n = uco_stream_read(c->s, scratch, sizeof(scratch));
		if (n == 0)
			return NULL;
		if (n < 0)
			return helper_fail(c->p, (int)n);
		if (c->keep)
			c->len += (size_t)n;
	}
}

struct feed {
	struct uco_process *p;
	const void *in;
	size_t len;
};

static void *feed_task(void *arg)
{
	struct feed *f = arg;
	int r = 0;

	if (f->len)
		r = uco_stream_send(f->p->pipes[0], f->in, f->len);
	if (r == -EPIPE)
		r = 0; /* the child stopped reading: not our error */
	uco_process_close_pipe(f->p, 0);
	return r < 0 ? helper_fail(f->p, r) : NULL;
}

UCO_API int uco_process_communicate(uco_process *p, const void *in,
				    size_t inlen, char **out, size_t *outlen,
				    char **err, size_t *errlen)
{
	struct collect col[2] = { { 0 }, { 0 } };
	struct feed f = { p, in, inlen };
	uco_task *tasks[3];
	int errors[3];
	size_t n = 0;
	int r = 0;

	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if (err)
		*err = NULL;
	if (errlen)
		*errlen = 0;
	if (!p || (!in && inlen))
		return -EINVAL;
	if (!uco_current())
		return -EPERM;
	for (int i = 0; i < 2; i++) {
		col[i].p = p;
		col[i].s = p->pipes[i + 1];
		col[i].keep = i == 0 ? out != NULL : err != NULL;
	}
	if (p->pipes[0])
		r = uco_spawn(&tasks[n++], feed_task, &f, NULL);
	for (int i = 0; i < 2 && r == 0; i++)
		if (col[i].s && (r = uco_spawn(&tasks[n], collect_task, &col[i],
					       NULL)) == 0)
			n++;
	if (r < 0)
		for (size_t i = 0; i < n; i++)
			uco_cancel(tasks[i]);
	if (n) {
		/* gather cancels its children when it is cut short, and
		 * waits for them either way. */
		int g = uco_gather(tasks, n, NULL, errors);

		if (r == 0 && g < 0)
			r = g;
		for (size_t i = 0; i < n; i++) {
			if (r == 0 && errors[i] < 0)
				r = errors[i];
			uco_task_release(tasks[i]);
		}
	}
	if (r == 0) {
		r = uco_process_wait(p);
	} else {
		kill_reap(p);
	}
	if (r < 0) {
		free(col[0].buf);
		free(col[1].buf);
		return r;
	}
	for (int i = 0; i < 2; i++) {
		char **dst = i == 0 ? out : err;
		size_t *dlen = i == 0 ? outlen : errlen;

		if (dst && col[i].len) {
			*dst = col[i].buf;
			col[i].buf = NULL;
		}
		if (dlen)
			*dlen = col[i].len;
		free(col[i].buf);
	}
	return r;
}

/* ---- closing ------------------------------------------------------------- */

UCO_API void uco_process_close(uco_process *p)
{
	if (!p)
		return;
	for (int i = 0; i < 3; i++)
		uco_process_close_pipe(p, i);
	if (p->status < 0 && p->pidfd >= 0) {
		/* Never leave a zombie: kill and reap, blocking. */
		pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
		reap_blocking(p);
	}
	if (p->pidfd >= 0)
		close(p->pidfd);
	uco__free(p, sizeof(*p));
}
