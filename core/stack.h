/*
 * Task stacks: carved from large slabs, pooled per loop, committed lazily.
 *
 * A slab is one mmap(MAP_NORESERVE) of `count` regions of the same size, with
 * a PROT_NONE page below the first region.  Pages are committed on first
 * touch, so an idle task costs the page or two its frames and record use.
 *
 * vm.max_map_count (65,530 by default) caps how many separate mappings a
 * process may have, and every guard page inside a slab splits it into two
 * more.  So the first `guarded_stacks` stacks of a runtime (a quarter of the
 * limit by default) get a PROT_NONE guard page at the bottom of their
 * region; after that, slabs have no guard pages between regions and each
 * stack is protected by a canary instead: a word in the top of the region
 * below (always committed, as that region's record lives there), which an
 * overflow clobbers first, checked every time the task switches out.
 */
#ifndef UCO_CORE_STACK_H
#define UCO_CORE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"

#define UCO_STACK_CANARY 0x75636f5f73746bull /* "uco_stk" */

struct uco__slab;

/* Metadata of one region; it sits at the top of the region itself. */
struct uco__stack {
	void *base;                /* lowest address of the region */
	size_t size;               /* region size */
	void *lo;                  /* lowest usable byte (above any guard page) */
	uint64_t *canary;          /* NULL if guarded */
	struct uco__stack *next;   /* free-list link */
	struct uco__slab *slab;
	unsigned vg_id;            /* valgrind stack id */
};

/* Per-loop pools, one per region size. */
struct uco__stack_pool {
	struct uco__pool_class *classes; /* linked list by size */
	struct uco__slab *slabs;         /* every slab, for teardown */
	unsigned *guard_budget_left;     /* shared runtime counter (atomic) */
	size_t page;
};

int uco__stack_pool_init(struct uco__stack_pool *p, unsigned *guard_budget);
void uco__stack_pool_term(struct uco__stack_pool *p);
/* Slabs p has mapped so far (a walk of its list: for statistics). */
size_t uco__stack_pool_slabs(const struct uco__stack_pool *p);

/*
 * A region of `size` bytes (rounded up to whole pages, at least 16 KiB).
 * The bytes reserved at its top for the record and the canary of the region
 * above are uco__stack_reserved().  NULL if out of memory or mappings.
 */
struct uco__stack *uco__stack_get(struct uco__stack_pool *p, size_t size);
void uco__stack_put(struct uco__stack_pool *p, struct uco__stack *s);

/* Top of the usable stack (below the metadata); where the record goes. */
static inline char *uco__stack_top(const struct uco__stack *s)
{
	return (char *)s;
}

/* True if the canary of s is intact (always true for guarded stacks). */
static inline bool uco__stack_ok(const struct uco__stack *s)
{
	return !s->canary || *s->canary == UCO_STACK_CANARY;
}

/* The guard page of s contains addr (for the SIGSEGV handler, hence the
 * page size passed in: sysconf is not async-signal-safe). */
bool uco__stack_guard_hit(const struct uco__stack *s, const void *addr,
			  size_t page);

#endif
