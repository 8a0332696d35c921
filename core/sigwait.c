/* Waiting for signals; see sigwait.h and uco/signal.h. */
#include "sigwait.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <uco/signal.h>

#include "alloc.h"
#include "loop.h"
#include "msg.h"
#include "op.h"
#include "task.h"
#include "wait.h"

/* Per loop (rt->sigstates[core]); registered with its loop as a service,
 * which re-arms the read. */
struct uco__sigstate {
	struct uco__node waiters;          /* tasks in uco_signal_wait() */
	_Atomic unsigned count[UCO_NSIGNALS]; /* ...per signal (read by readers) */
	struct uco__cqe_handler h;         /* this loop's signalfd read */
	struct uco__service rearm;         /* read again (in the scheduler) */
	struct signalfd_siginfo si;
	int fd;                            /* the signalfd, or -1 */
	bool armed;
};

static struct uco__sigstate *sig_of(struct uco__loop *l)
{
	return &l->rt->sigstates[l->core];
}

struct uco__sigstate *uco__sigstates_new(unsigned nloops)
{
	return uco__zalloc(nloops * sizeof(struct uco__sigstate));
}

void uco__sigstates_free(struct uco__sigstate *s, unsigned nloops)
{
	uco__free(s, nloops * sizeof(*s));
}

bool uco__signal_armed(struct uco__loop *l)
{
	return sig_of(l)->armed;
}

static const int signals[UCO_NSIGNALS] = { SIGINT, SIGTERM, SIGHUP };

static int sig_index(int signo)
{
	for (int i = 0; i < UCO_NSIGNALS; i++)
		if (signals[i] == signo)
			return i;
	return -1;
}

void uco__signal_set(sigset_t *set)
{
	sigemptyset(set);
	for (int i = 0; i < UCO_NSIGNALS; i++)
		sigaddset(set, signals[i]);
}


/* The program's own disposition for a signal nobody waits for: SIG_DFL
 * terminates the process as the signal would have, SIG_IGN drops it, a
 * handler runs here, on the thread of the loop that read it. */
static void default_action(int signo)
{
	struct sigaction sa;
	sigset_t one;

	if (sigaction(signo, NULL, &sa) < 0 || sa.sa_handler == SIG_IGN)
		return;
	sigemptyset(&one);
	sigaddset(&one, signo);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(signo); /* SIG_DFL: does not return */
	pthread_sigmask(SIG_BLOCK, &one, NULL);
}

struct sigwaiter {
	struct uco__node node;
	struct uco_task *task;
	struct uco__loop *loop;
	const sigset_t *set;
};

/* Point the watcher's signalfd at the signals nobody waits for now.  The
 * counts are read under the mutex, after the caller's own change, so the
 * last update to run sees every change before it. */
static void watch_update(struct uco__runtime *rt)
{
	struct uco__sigwatch *sw = &rt->sigwatch;
	sigset_t unwaited;

	if (sw->fd < 0)
		return;
	sigemptyset(&unwaited);
	pthread_mutex_lock(&sw->mu);
	for (int i = 0; i < UCO_NSIGNALS; i++)
		if (!atomic_load_explicit(&sw->waiting[i], memory_order_relaxed))
			sigaddset(&unwaited, signals[i]);
	if (signalfd(sw->fd, &unwaited, 0) < 0)
		fprintf(stderr, "uco: updating the signal watcher: %s\n",
			strerror(errno));
	pthread_mutex_unlock(&sw->mu);
}

static void count_waiter(struct sigwaiter *w, int delta)
{
	struct uco__sigwatch *sw = &w->loop->rt->sigwatch;
	bool changed = false;

	for (int i = 0; i < UCO_NSIGNALS; i++) {
		unsigned before;

		if (sigismember(w->set, signals[i]) != 1)
			continue;
		atomic_fetch_add_explicit(&sig_of(w->loop)->count[i],
					  (unsigned)delta, memory_order_relaxed);
		before = atomic_fetch_add_explicit(&sw->waiting[i],
						   (unsigned)delta,
						   memory_order_relaxed);
		/* Only the first waiter and the last one change the mask. */
		changed |= delta > 0 ? before == 0 : before == 1;
	}
	if (changed)
		watch_update(w->loop->rt);
}

/* Wake this loop's waiters for signo; how many. */
static unsigned deliver_here(struct uco__loop *l, int signo)
{
	struct uco__sigstate *st = sig_of(l);
	struct uco__node *n = st->waiters.next;
	unsigned woken = 0;

	while (n != &st->waiters) {
		struct sigwaiter *w = uco__container_of(n, struct sigwaiter, node);

		n = n->next;
		if (sigismember(w->set, signo) != 1)
			continue;
		uco__list_del(&w->node);
		count_waiter(w, -1);
		uco__wake(w->task, signo);
		woken++;
	}
	return woken;
}

struct sigmsg {
	struct uco__msg msg;
	int signo;
};

static void deliver_msg(struct uco__loop *l, struct uco__msg *m)
{
	struct sigmsg *sm = (struct sigmsg *)m;

	/* The waiters this message was meant for may have gone (cancelled)
	 * on the way: then the signal gets its default treatment here. */
	if (deliver_here(l, sm->signo) == 0)
		default_action(sm->signo);
	uco__free(sm, sizeof(*sm));
}

static void dispatch(struct uco__loop *l, int signo)
{
	struct uco__runtime *rt = l->rt;
	int i = sig_index(signo);
	bool sent = false;

	if (i < 0)
		return;
	if (deliver_here(l, signo))
		sent = true;
	for (unsigned c = 0; c < rt->nloops; c++) {
		struct uco__loop *o = &rt->loops[c];
		struct sigmsg *m;

		if (o == l ||
		    !atomic_load_explicit(&sig_of(o)->count[i], memory_order_relaxed))
			continue;
		m = uco__alloc(sizeof(*m));
		if (!m)
			continue;
		m->msg.fn = deliver_msg;
		m->signo = signo;
		uco__msg_send(o, &m->msg);
		sent = true;
	}
	if (!sent)
		default_action(signo);
}

static void arm(struct uco__loop *l, struct uco__sigstate *st);

static void on_read(struct uco__cqe_handler *h, int res, uint32_t flags)
{
	struct uco__loop *l = uco__tls_loop;
	struct uco__sigstate *st = uco__container_of(h, struct uco__sigstate, h);

	st->armed = false;
	if (res == (int)sizeof(st->si))
		dispatch(l, (int)st->si.ssi_signo);
	else if (res != -ECANCELED && res != -EINTR)
		fprintf(stderr, "uco: reading signals: %s\n",
			strerror(res < 0 ? -res : EIO));
	/* Read on until the loop's shutdown cancels what nobody owns (tasks
	 * may still wait for a signal after main returned).  Re-armed by the
	 * scheduler, not here: this runs inside a suspending task, which
	 * must not be suspended again by a flush of a full SQ. */
	if (res != -ECANCELED && !l->stop_cancelled)
		uco__service_due(l, &st->rearm);
}

static void rearm(struct uco__loop *l, struct uco__service *s)
{
	struct uco__sigstate *st =
		uco__container_of(s, struct uco__sigstate, rearm);

	if (st->fd >= 0 && !st->armed && !l->stop_cancelled)
		arm(l, st);
}

static void arm(struct uco__loop *l, struct uco__sigstate *st)
{
	struct io_uring_sqe *sqe = uco__sqe_get(l, 1);

	io_uring_prep_read(sqe, st->fd, &st->si, sizeof(st->si), 0);
	uco__handler_submitted(&st->h, sqe);
	st->armed = true;
}

void uco__signal_start(struct uco__loop *l, int fd)
{
	struct uco__sigstate *st = sig_of(l);

	uco__node_init(&st->waiters);
	for (int i = 0; i < UCO_NSIGNALS; i++)
		atomic_init(&st->count[i], 0);
	st->fd = fd;
	st->armed = false;
	st->h.fn = on_read;
	st->rearm.run = rearm;
	uco__loop_register(l, &st->rearm);
	if (st->fd >= 0)
		arm(l, st);
}

static void sigwaiter_unlink(void *ctx)
{
	struct sigwaiter *w = ctx;

	uco__list_del(&w->node);
	count_waiter(w, -1);
}

UCO_API int uco_signal_wait(const sigset_t *set)
{
	struct sigwaiter w;
	sigset_t ours;
	bool any = false;

	if (!set)
		return -EINVAL;
	uco__signal_set(&ours);
	for (int s = 1; s < NSIG; s++) {
		if (sigismember(set, s) != 1)
			continue;
		if (sigismember(&ours, s) != 1)
			return -EINVAL;
		any = true;
	}
	if (!any)
		return -EINVAL;
	w.task = uco__self();
	if (!w.task)
		return -EPERM;
	w.loop = w.task->loop;
	w.set = set;
	uco__list_add_tail(&sig_of(w.loop)->waiters, &w.node);
	count_waiter(&w, 1);
	return uco__block(sigwaiter_unlink, &w, "signal");
}

/* ---- the watcher thread ------------------------------------------------ */

static void *watch_main(void *arg)
{
	struct uco__sigwatch *sw = arg;
	struct pollfd pf[2] = {
		{ .fd = sw->fd, .events = POLLIN },
		{ .fd = sw->stopfd, .events = POLLIN },
	};

	/* Running: uco_run goes on only now, so that whatever the thread's
	 * start maps or allocates (glibc, a sanitizer) is in place before
	 * any task runs, not half-way through a program's measurements. */
	pthread_mutex_lock(&sw->mu);
	sw->running = true;
	pthread_cond_signal(&sw->cv);
	pthread_mutex_unlock(&sw->mu);

	for (;;) {
		struct signalfd_siginfo si;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "uco: signal watcher: poll: %s\n",
				strerror(errno));
			return NULL;
		}
		if (pf[1].revents)
			return NULL;
		/* Nonblocking: a loop may have read it first.  A task that
		 * started waiting after the read is too late for this one,
		 * as signal.h says. */
		for (;;) {
			ssize_t k;

			/* Each read under the mutex watch_update changes the
			 * fd's mask under: a read and a change of the mask
			 * are then ordered (ThreadSanitizer sees the fd as
			 * rewritten by signalfd(), read by read()). */
			pthread_mutex_lock(&sw->mu);
			k = read(sw->fd, &si, sizeof(si));
			pthread_mutex_unlock(&sw->mu);
			if (k != (ssize_t)sizeof(si))
				break;
			if (sig_index((int)si.ssi_signo) >= 0)
				default_action((int)si.ssi_signo);
		}
	}
}

void uco__sigwatch_start(struct uco__runtime *rt)
{
	struct uco__sigwatch *sw = &rt->sigwatch;
	sigset_t set, all, old;
	int r;

	sw->fd = -1;
	sw->stopfd = -1;
	pthread_mutex_init(&sw->mu, NULL);
	pthread_cond_init(&sw->cv, NULL);
	sw->running = false;
	for (int i = 0; i < UCO_NSIGNALS; i++)
		atomic_init(&sw->waiting[i], 0);
	if (rt->sigfd < 0)
		return; /* the signals are not taken over at all */
	uco__signal_set(&set);
	sw->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	sw->stopfd = eventfd(0, EFD_CLOEXEC);
	if (sw->fd < 0 || sw->stopfd < 0) {
		r = errno;
		goto fail;
	}
	/* It takes no signal itself but through its signalfd (and the one
	 * it raises in default_action). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&sw->thread, NULL, watch_main, sw);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		sw->started = true;
		pthread_mutex_lock(&sw->mu);
		while (!sw->running)
			pthread_cond_wait(&sw->cv, &sw->mu);
		pthread_mutex_unlock(&sw->mu);
		return;
	}
fail:
	fprintf(stderr, "uco: cannot start the signal watcher (%s): a signal "
			"nobody waits for is handled only while a loop runs\n",
		strerror(r));
	if (sw->fd >= 0)
		close(sw->fd);
	if (sw->stopfd >= 0)
		close(sw->stopfd);
	sw->fd = sw->stopfd = -1;
}

void uco__sigwatch_stop(struct uco__runtime *rt)
{
	struct uco__sigwatch *sw = &rt->sigwatch;
	uint64_t one = 1;

	if (sw->started) {
		if (write(sw->stopfd, &one, sizeof(one)) != sizeof(one))
			abort(); /* an eventfd write of 1 cannot fail */
		pthread_join(sw->thread, NULL);
		sw->started = false;
	}
	if (sw->fd >= 0)
		close(sw->fd);
	if (sw->stopfd >= 0)
		close(sw->stopfd);
	sw->fd = sw->stopfd = -1;
	pthread_mutex_destroy(&sw->mu);
	pthread_cond_destroy(&sw->cv);
}
