/*
 * Every allocation the runtime makes goes through here, to jemalloc's
 * non-standard API (mallocx/sdallocx), so it is jemalloc whatever malloc the
 * application links, and sized deallocation skips a size lookup.
 *
 * Built with a sanitizer that brings its own allocator (meson's b_sanitize
 * with address, thread, memory or leak: UCO_ALLOC_PLAIN in uco_config.h),
 * these calls are plain malloc/calloc/realloc/free instead.  The sanitizer
 * cannot see inside jemalloc's blocks, so an overflow of a runtime buffer or
 * a use of a freed task record would otherwise pass unseen; this way it is
 * reported, LeakSanitizer sees the runtime's blocks at exit, the tests'
 * leak check counts them through the sanitizer's allocator statistics
 * (tests/leakcheck.h), and uco__free() aborts when the size it is given is
 * not the size allocated.
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
