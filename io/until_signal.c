/*
 * Serving until a signal, for both servers (io/until_signal.h).
 */
#include "until_signal.h"

#include <signal.h>

#include <uco/signal.h>
#include <uco/task.h>
#include <uco/time.h>

uint64_t uco__deadline_in(uint64_t ns)
{
	uint64_t now = uco_now();

	return ns > UINT64_MAX - 1 - now ? UINT64_MAX - 1 : now + ns;
}

struct sigwatch {
	void *srv;
	uint64_t grace;
	void (*stop)(void *srv, uint64_t deadline);
	int signo;
};

static void *sigwatch_main(void *arg)
{
	struct sigwatch *w = arg;
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	r = uco_signal_wait(&set);
	if (r > 0) {
		w->signo = r;
		w->stop(w->srv, uco__deadline_in(w->grace));
	}
	return NULL;
}

int uco__until_signal(void *srv, const char *name, uint64_t grace_ns,
		      void (*stop)(void *srv, uint64_t deadline),
		      int (*wait)(void *srv))
{
	struct sigwatch w = { srv, grace_ns, stop, 0 };
	uco_spawn_opts so = { .name = name };
	uco_task *t;
	int r = uco_spawn(&t, sigwatch_main, &w, &so);

	if (r < 0)
		return r;
	r = wait(srv);
	/* The watcher's frame points at w: see it gone before returning. */
	uco_shield_begin();
	uco_cancel(t);
	UCO_IGNORE(uco_join(t, NULL)); /* shielded: it ends, cancelled */
	uco_shield_end();
	uco_task_release(t);
	return r < 0 ? r : w.signo;
}
