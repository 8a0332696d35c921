/*
 * A growable FIFO of fixed-size entries, for what a multishot op's CQEs
 * hand over until a task takes it (accepted fds, received chunks).  A ring
 * whose capacity doubles when full; starts empty and allocates on the
 * first push.  Single-threaded: one loop's.
 */
#ifndef UCO_IO_FIFO_H
#define UCO_IO_FIFO_H

#include <stdbool.h>
#include <stddef.h>

struct uco__fifo {
	char *buf;
	size_t esize;             /* bytes per entry */
	unsigned head, len, cap;  /* cap: 0 or a power of two */
};

static inline void uco__fifo_init(struct uco__fifo *f, size_t esize)
{
	*f = (struct uco__fifo){ .esize = esize };
}

/* Append a copy of *e; false when out of memory (nothing changed). */
bool uco__fifo_push(struct uco__fifo *f, const void *e);

/* Take the oldest entry into *e; the FIFO must not be empty. */
void uco__fifo_pop(struct uco__fifo *f, void *e);

void uco__fifo_free(struct uco__fifo *f);

#endif
