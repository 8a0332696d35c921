/*
 * Internals of sync/channel.c that the tests look at.
 */
#ifndef UCO_SYNC_CHANNEL_IMPL_H
#define UCO_SYNC_CHANNEL_IMPL_H

#include <stdint.h>

#include <uco/channel.h>

/* Notices posted so far: to the receiving core (items or close) and to
 * sending cores (room or close).  Each is at most one wake-up of a loop. */
void uco__channel_notices(const uco_channel *ch, uint64_t *rx, uint64_t *tx);

#endif
