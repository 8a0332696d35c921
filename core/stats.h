/* The loop's counters as uco/stats.h shows them (stats.c). */
#ifndef UCO_CORE_STATS_H
#define UCO_CORE_STATS_H

#include <uco/stats.h>

struct uco__loop;

/* Snapshot l's counters; on l's own thread. */
void uco__loop_stats_fill(struct uco__loop *l, uco_loop_stats *out);

#endif
