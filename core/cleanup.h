/*
 * Clean-up waits: after telling something to stop (cancelled group
 * members, a wait_for'ed task, a generator's producer, pool jobs), wait
 * for it to be gone without being cut short again — shielded from the
 * caller's cancellation and with its timeout scopes set aside.
 *
 *   struct uco__cleanup c;
 *   uco__cleanup_begin(&c);
 *   ... wait ...
 *   uco__cleanup_end(&c);
 */
#ifndef UCO_CORE_CLEANUP_H
#define UCO_CORE_CLEANUP_H

#include <stdint.h>

#include <uco/task.h>

#include "task.h"

struct uco__cleanup {
	struct uco_task *self;
	uint8_t ndeadlines;
};

static inline void uco__cleanup_begin(struct uco__cleanup *c)
{
	c->self = uco__self();
	uco_shield_begin();
	c->ndeadlines = c->self->ndeadlines;
	c->self->ndeadlines = 0;
}

static inline void uco__cleanup_end(struct uco__cleanup *c)
{
	c->self->ndeadlines = c->ndeadlines;
	uco_shield_end();
}

#endif
