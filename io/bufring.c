/*
 * Provided buffer rings, registered by hand (liburing 2.3 has no
 * io_uring_setup_buf_ring): the ring of buffer descriptors is a page-aligned
 * mapping shared with the kernel; the buffers themselves are one jemalloc
 * allocation.  The kernel takes a buffer from the ring for each receive and
 * names it in the CQE; uco__bufring_recycle() puts it back.
 *
 * The buffer group id is derived from the record's address and moved on if
 * the ring already has that group, so no counter is needed.
 */
#include <errno.h>
#include <sys/mman.h>

#include "core/alloc.h"
#include "core/loop.h"
#include "bufring.h"
#include "io.h"

UCO_API int uco_bufring_create(uco_bufring **out, unsigned count, size_t size)
{
	struct uco__loop *l = uco__io_loop();
	struct uco_bufring *br;
	struct io_uring_buf_reg reg = { 0 };
	int r = -EEXIST;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!l)
		return -EPERM;
	if (count == 0 || count > 32768 || (count & (count - 1)) || size == 0 ||
	    size > UINT32_MAX)
		return -EINVAL;
	br = uco__zalloc(sizeof(*br));
	if (!br)
		return -ENOMEM;
	br->ring_bytes = count * sizeof(struct io_uring_buf);
	br->ring = mmap(NULL, br->ring_bytes, PROT_READ | PROT_WRITE,
			MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br->ring == MAP_FAILED) {
		uco__free(br, sizeof(*br));
		return -ENOMEM;
	}
	br->bufs = uco__alloc(count * size);
	if (!br->bufs) {
		munmap(br->ring, br->ring_bytes);
		uco__free(br, sizeof(*br));
		return -ENOMEM;
	}
	br->count = count;
	br->size = size;
	br->loop = l;
	br->quota = UCO_BUFRING_QUOTA(count);
	reg.ring_addr = (uint64_t)(uintptr_t)br->ring;
	reg.ring_entries = count;
	reg.bgid = (uint16_t)((uintptr_t)br >> 6);
	for (unsigned tries = 0; r == -EEXIST && tries < 64; tries++) {
		r = io_uring_register_buf_ring(&l->ring, &reg, 0);
		if (r == -EEXIST)
			reg.bgid++;
	}
	if (r < 0) {
		uco__free(br->bufs, count * size);
		munmap(br->ring, br->ring_bytes);
		uco__free(br, sizeof(*br));
		return r == -EINVAL ? -EOPNOTSUPP : r;
	}
	br->bgid = reg.bgid;
	io_uring_buf_ring_init(br->ring);
	for (unsigned i = 0; i < count; i++)
		io_uring_buf_ring_add(br->ring, br->bufs + (size_t)i * size,
				      (unsigned)size, (unsigned short)i,
				      io_uring_buf_ring_mask(count), (int)i);
	io_uring_buf_ring_advance(br->ring, (int)count);
	br->avail = count;
	*out = br;
	return 0;
}

static void destroy(struct uco_bufring *br)
{
	io_uring_unregister_buf_ring(&br->loop->ring, br->bgid);
	uco__free(br->bufs, br->count * br->size);
	munmap(br->ring, br->ring_bytes);
	uco__free(br, sizeof(*br));
}

UCO_API void uco_bufring_free(uco_bufring *br)
{
	if (!br || br->freed)
		return;
	br->freed = true;
	if (br->users == 0)
		destroy(br);
}

UCO_API unsigned uco_bufring_available(const uco_bufring *br)
{
	return br ? br->avail : 0;
}

UCO_API int uco_bufring_set_quota(uco_bufring *br, unsigned quota)
{
	struct uco__loop *l = uco__io_loop();

	if (!br || br->freed || quota == 0 || quota > br->count)
		return -EINVAL;
	if (br->loop != l)
		return l ? -EXDEV : -EPERM;
	br->quota = quota;
	return 0;
}

UCO_API unsigned uco_bufring_quota(const uco_bufring *br)
{
	return br ? br->quota : 0;
}

void uco__bufring_recycle(struct uco_bufring *br, unsigned bid)
{
	io_uring_buf_ring_add(br->ring, br->bufs + (size_t)bid * br->size,
			      (unsigned)br->size, (unsigned short)bid,
			      io_uring_buf_ring_mask(br->count), 0);
	io_uring_buf_ring_advance(br->ring, 1);
	br->avail++;
}

void uco__bufring_unuse(struct uco_bufring *br)
{
	if (--br->users == 0 && br->freed)
		destroy(br);
}
