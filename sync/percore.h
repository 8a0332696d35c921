/*
 * What the per-core primitives of sync/ share (lock, semaphore, event,
 * condition, barrier, queue): the home-core check, and the mapping of a
 * public opaque object (a union of bytes, so it can be embedded without an
 * allocation) onto the private struct that lives in it.
 *
 * Every primitive remembers the loop it was initialised on.  It has no
 * atomics and no lock of its own, so it may only be touched by tasks of that
 * loop: every call checks it (one thread-local load and a compare) and
 * refuses with -EXDEV from another core, -EPERM outside the runtime.
 */
#ifndef UCO_SYNC_PERCORE_H
#define UCO_SYNC_PERCORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/loop.h"
#include "core/task.h"
#include "core/wait.h"

/* 0 if the caller runs on `home`, else -EXDEV (another core) or -EPERM
 * (no loop at all). */
static inline int uco__home_check(const struct uco__loop *home)
{
	const struct uco__loop *l = uco__tls_loop;

	if (__builtin_expect(l == home, 1))
		return 0;
	return l ? -EXDEV : -EPERM;
}

/*
 * The private struct behind a public opaque type.  The public types are
 * unions of bytes and a pointer (for alignment), like pthread_mutex_t; the
 * private struct is declared may_alias so reading it through a pointer to
 * the public storage is not undone by type-based alias analysis.  The
 * static assertion keeps the two sizes honest.
 */
#define UCO__OPAQUE_FITS(pub, priv)                                           \
	_Static_assert(sizeof(priv) <= sizeof(pub) &&                         \
			       _Alignof(priv) <= _Alignof(pub),               \
		       #priv " does not fit in " #pub)

#endif
