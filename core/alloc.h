/*
 * Every allocation the runtime makes goes through here, to jemalloc's
 * non-standard API (mallocx/sdallocx), so it is jemalloc whatever malloc the
 * application links, and sized deallocation skips a size lookup.
 */
#ifndef UCO_CORE_ALLOC_H
#define UCO_CORE_ALLOC_H

#include <stddef.h>

void *uco__alloc(size_t size);              /* NULL on failure */
void *uco__zalloc(size_t size);             /* zeroed; NULL on failure */
void *uco__realloc(void *p, size_t size);   /* NULL on failure, p kept */
void uco__free(void *p, size_t size);       /* size as allocated; p may be NULL */
void uco__free_unsized(void *p);            /* when the size is not known */

#endif
