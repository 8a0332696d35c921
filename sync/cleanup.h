/*
 * Clean-up waits for sync/'s patterns (generator, pool): after telling
 * something to stop, wait for it to be gone without being cut short again
 * — shielded from the caller's cancellation and with its timeout scopes
 * set aside, as uco_wait_for_task() and task groups do.
 */
#ifndef UCO_SYNC_CLEANUP_H
#define UCO_SYNC_CLEANUP_H

#include <stdint.h>

#include <uco/task.h>

#include "core/task.h"

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
