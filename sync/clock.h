/*
 * The default clock of the sync patterns whose clock can be injected
 * (ratelimit, retry): uco's monotonic clock and sleep, in the shape of
 * their `now` / `sleep_until` callbacks.
 */
#ifndef UCO_SYNC_CLOCK_H
#define UCO_SYNC_CLOCK_H

#include <stdint.h>

#include <uco/time.h>

static inline uint64_t uco__clock_now(void *ctx)
{
	(void)ctx;
	return uco_now();
}

static inline int uco__clock_sleep_until(void *ctx, uint64_t deadline)
{
	(void)ctx;
	return uco_sleep_until(deadline);
}

#endif
