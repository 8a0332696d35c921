/* jemalloc behind four calls, or plain malloc under a sanitizer; see alloc.h. */
#include "alloc.h"

#include "uco_config.h"

#if UCO_ALLOC_PLAIN

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sanitizer's malloc_usable_size() is the size asked for, to the byte,
 * so the size a caller frees with is checked exactly: with jemalloc, a
 * wrong size given to sdallocx() corrupts the heap without a word. */
static void check_size(void *p, size_t size)
{
	size_t have = malloc_usable_size(p);

	if (have != size) {
		fprintf(stderr, "uco: freeing %p with size %zu, allocated with "
			"%zu\n", p, size, have);
		abort();
	}
}

void *uco__alloc(size_t size)
{
	return malloc(size ? size : 1);
}

void *uco__zalloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

void *uco__realloc(void *p, size_t size)
{
	return realloc(p, size ? size : 1);
}

void uco__free(void *p, size_t size)
{
	if (p) {
		check_size(p, size ? size : 1);
		free(p);
	}
}

void uco__free_unsized(void *p)
{
	free(p);
}

#else

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

#endif
