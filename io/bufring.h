/* The provided buffer ring, shared by io/bufring.c and io/mrecv.c. */
#ifndef UCO_IO_BUFRING_H
#define UCO_IO_BUFRING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uco/net.h>

struct uco_bufring {
	struct io_uring_buf_ring *ring; /* shared with the kernel */
	size_t ring_bytes;
	char *bufs;                     /* count * size bytes */
	size_t size;
	unsigned count;
	unsigned avail;                 /* buffers the kernel may pick */
	uint16_t bgid;                  /* buffer group id in the ring */
	struct uco__loop *loop;
	unsigned quota;                 /* buffers one receiver may hold */
	unsigned users;                 /* open receivers */
	bool freed;                     /* uco_bufring_free() was called */
};

/* Give buffer bid back to the kernel. */
void uco__bufring_recycle(struct uco_bufring *br, unsigned bid);

/* A receiver stops using br (frees it if it was freed and unused). */
void uco__bufring_unuse(struct uco_bufring *br);

#endif
