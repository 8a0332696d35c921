/* jemalloc behind four calls; see alloc.h. */
#include "alloc.h"

#include <jemalloc/jemalloc.h>

void *uco__alloc(size_t size)
{
	return mallocx(size ? size : 1, 0);
}

void *uco__zalloc(size_t size)
{
	return mallocx(size ? size : 1, MALLOCX_ZERO);
}

void *uco__realloc(void *p, size_t size)
{
	if (!p)
		return uco__alloc(size);
	return rallocx(p, size ? size : 1, 0);
}

void uco__free(void *p, size_t size)
{
	if (p)
		sdallocx(p, size ? size : 1, 0);
}

void uco__free_unsized(void *p)
{
	if (p)
		dallocx(p, 0);
}
