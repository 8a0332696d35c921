/*
 * Stack slabs and per-loop pools; see stack.h for the layout and why.
 */
#include "stack.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"
#include "uco_config.h"

#if UCO_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

#define SLAB_BYTES (16u << 20) /* address space per slab (not memory) */
#define TOP_SLOT 64            /* canary slot of the region above */
#define COLORS 32              /* record offsets, in cache lines */

/*
 * Regions are aligned to their size, so without an offset every task
 * record (and every task's top frames) would sit at the same address modulo
 * 4 KiB and compete for the same few L1 sets: 64 tasks in flight thrash
 * an 8-way cache.  Each region's metadata and record are shifted down by a
 * "color" of 0..31 cache lines, keeping them within the region's top page.
 */
static struct uco__stack *region_meta(char *base, size_t region, unsigned i)
{
	size_t meta = (sizeof(struct uco__stack) + 63) & ~(size_t)63;
	size_t color = (size_t)(i % COLORS) * 64;

	return (struct uco__stack *)(base + region - TOP_SLOT - meta - color);
}

struct uco__slab {
	struct uco__slab *next;
	char *map;        /* the whole mapping, guard page first */
	size_t map_size;
	size_t region;    /* region size */
	unsigned count;   /* regions in the slab */
	unsigned carved;  /* regions handed out at least once */
	bool guarded;     /* every region has its own guard page */
};

struct uco__pool_class {
	struct uco__pool_class *next;
	size_t size;
	struct uco__slab *current;  /* slab still being carved */
	struct uco__stack *free;    /* LIFO: the most recently used is warmest */
};

int uco__stack_pool_init(struct uco__stack_pool *p, unsigned *guard_budget)
{
	p->classes = NULL;
	p->slabs = NULL;
	p->guard_budget_left = guard_budget;
	p->page = (size_t)sysconf(_SC_PAGESIZE);
	return 0;
}

size_t uco__stack_pool_slabs(const struct uco__stack_pool *p)
{
	size_t n = 0;

	for (const struct uco__slab *sl = p->slabs; sl; sl = sl->next)
		n++;
	return n;
}

void uco__stack_pool_term(struct uco__stack_pool *p)
{
	struct uco__slab *s, *next;
	struct uco__pool_class *c, *cnext;

	for (s = p->slabs; s; s = next) {
		next = s->next;
#if UCO_HAVE_VALGRIND
		for (unsigned i = 0; i < s->carved; i++) {
			char *base = s->map + p->page + (size_t)i * s->region;
			VALGRIND_STACK_DEREGISTER(
				region_meta(base, s->region, i)->vg_id);
		}
#endif
		munmap(s->map, s->map_size);
		uco__free(s, sizeof(*s));
	}
	for (c = p->classes; c; c = cnext) {
		cnext = c->next;
		uco__free(c, sizeof(*c));
	}
	p->slabs = NULL;
	p->classes = NULL;
}

/* Take `n` guard pages from the runtime-wide budget, or none at all. */
static bool take_guards(struct uco__stack_pool *p, unsigned n)
{
	unsigned left = atomic_load_explicit((_Atomic unsigned *)p->guard_budget_left,
					     memory_order_relaxed);
	while (left >= n) {
		if (atomic_compare_exchange_weak_explicit(
			    (_Atomic unsigned *)p->guard_budget_left, &left,
			    left - n, memory_order_relaxed, memory_order_relaxed))
			return true;
	}
	return false;
}

static struct uco__slab *slab_new(struct uco__stack_pool *p, size_t region)
{
	struct uco__slab *s = uco__alloc(sizeof(*s));
	unsigned count = (unsigned)(SLAB_BYTES / region);

	if (!s)
		return NULL;
	if (count == 0)
		count = 1;
	s->region = region;
	s->count = count;
	s->carved = 0;
	s->map_size = p->page + (size_t)count * region;
	/* MAP_NORESERVE: address space only; pages are committed on touch,
	 * and the kernel does not count the slab against overcommit. */
	s->map = mmap(NULL, s->map_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->map == MAP_FAILED) {
		uco__free(s, sizeof(*s));
		return NULL;
	}
	/* The page below region 0 always guards it. */
	if (mprotect(s->map, p->page, PROT_NONE) != 0) {
		munmap(s->map, s->map_size);
		uco__free(s, sizeof(*s));
		return NULL;
	}
	/* Region 0 needs no guard of its own; the others do, or canaries. */
	s->guarded = count == 1 || take_guards(p, count - 1);
	s->next = p->slabs;
	p->slabs = s;
	return s;
}

static struct uco__stack *carve(struct uco__stack_pool *p, struct uco__slab *s)
{
	unsigned i = s->carved;
	char *base = s->map + p->page + (size_t)i * s->region;
	struct uco__stack *st = region_meta(base, s->region, i);

	if (i > 0 && s->guarded) {
		/* Splits the slab's mapping: this is what max_map_count counts. */
		if (mprotect(base, p->page, PROT_NONE) != 0)
			return NULL;
	}
	s->carved++;
	st->base = base;
	st->size = s->region;
	st->slab = s;
	st->next = NULL;
	if (i == 0 || s->guarded) {
		st->lo = base + (i == 0 ? 0 : p->page);
		st->canary = NULL;
	} else {
		st->lo = base;
		/* The top word of the region below, which that region's own
		 * record keeps committed. */
		st->canary = (uint64_t *)base - 1;
		*st->canary = UCO_STACK_CANARY;
	}
#if UCO_HAVE_VALGRIND
	st->vg_id = VALGRIND_STACK_REGISTER(st->lo, (char *)st);
#else
	st->vg_id = 0;
#endif
	return st;
}

struct uco__stack *uco__stack_get(struct uco__stack_pool *p, size_t size)
{
	struct uco__pool_class *c;
	struct uco__stack *st;

	size = (size + p->page - 1) & ~(p->page - 1);
	if (size < 16384)
		size = 16384;
	for (c = p->classes; c && c->size != size; c = c->next)
		;
	if (!c) {
		c = uco__zalloc(sizeof(*c));
		if (!c)
			return NULL;
		c->size = size;
		c->next = p->classes;
		p->classes = c;
	}
	st = c->free;
	if (st) {
		c->free = st->next;
		return st;
	}
	if (!c->current || c->current->carved == c->current->count) {
		c->current = slab_new(p, size);
		if (!c->current)
			return NULL;
	}
	return carve(p, c->current);
}

void uco__stack_put(struct uco__stack_pool *p, struct uco__stack *st)
{
	struct uco__pool_class *c;

	for (c = p->classes; c->size != st->size; c = c->next)
		;
	st->next = c->free;
	c->free = st;
}

bool uco__stack_guard_hit(const struct uco__stack *s, const void *addr,
			  size_t page)
{
	const char *a = addr;

	if (s->canary)
		return false;
	/* Region 0's guard is the slab page below its base; the others'
	 * guard is their own first page. */
	if ((char *)s->lo == (char *)s->base)
		return a >= (char *)s->base - page && a < (char *)s->base;
	return a >= (char *)s->base && a < (char *)s->lo;
}
