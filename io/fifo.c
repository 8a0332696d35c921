/* The growable FIFO; see fifo.h. */
#include "fifo.h"

#include <string.h>

#include "core/alloc.h"

static char *slot(const struct uco__fifo *f, unsigned i)
{
	return f->buf + (size_t)((f->head + i) & (f->cap - 1)) * f->esize;
}

bool uco__fifo_push(struct uco__fifo *f, const void *e)
{
	if (f->len == f->cap) {
		unsigned ncap = f->cap ? f->cap * 2 : 16;
		char *nb = uco__alloc((size_t)ncap * f->esize);

		if (!nb)
			return false;
		for (unsigned i = 0; i < f->len; i++)
			memcpy(nb + (size_t)i * f->esize, slot(f, i), f->esize);
		uco__free(f->buf, (size_t)f->cap * f->esize);
		f->buf = nb;
		f->cap = ncap;
		f->head = 0;
	}
	memcpy(slot(f, f->len), e, f->esize);
	f->len++;
	return true;
}

void uco__fifo_pop(struct uco__fifo *f, void *e)
{
	memcpy(e, slot(f, 0), f->esize);
	f->head = (f->head + 1) & (f->cap - 1);
	f->len--;
}

void uco__fifo_free(struct uco__fifo *f)
{
	uco__free(f->buf, (size_t)f->cap * f->esize);
	f->buf = NULL;
	f->cap = f->len = f->head = 0;
}
