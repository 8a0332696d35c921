/*
 * Shared memory segments (uco/procpool.h): a memfd, sized and mapped
 * shared.  Its name is "uco-shm.<pid>.<fd>.<ino>": another process of the
 * same user opens /proc/<pid>/fd/<fd> (the creator's descriptor) and checks
 * the inode, so a descriptor number reused for something else after an
 * unlink is never taken for the segment.  No file system entry exists, so
 * nothing outlives the processes: the memory goes with the last mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uco/procpool.h>

#include "core/alloc.h"

struct uco_shm {
	void *buf;
	size_t size;
	int fd;        /* the creator's: the name; -1 once unlinked */
	bool creator;
	char name[64];
};

static int map(struct uco_shm *m, int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	m->buf = p;
	m->size = size;
	return 0;
}

UCO_API int uco_shm_create(uco_shm **out, size_t size)
{
	struct uco_shm *m;
	struct stat st;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (size == 0)
		return -EINVAL;
	m = uco__alloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	m->creator = true;
	m->fd = memfd_create("uco-shm", MFD_CLOEXEC);
	if (m->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (ftruncate(m->fd, (off_t)size) < 0 || fstat(m->fd, &st) < 0) {
		r = errno == EFBIG || errno == EINVAL ? -ENOMEM : -errno;
		goto fail;
	}
	r = map(m, m->fd, size);
	if (r < 0)
		goto fail;
	snprintf(m->name, sizeof(m->name), "uco-shm.%d.%d.%llu", (int)getpid(),
		 m->fd, (unsigned long long)st.st_ino);
	*out = m;
	return 0;
fail:
	if (m->fd >= 0)
		close(m->fd);
	uco__free(m, sizeof(*m));
	return r;
}

UCO_API int uco_shm_attach(uco_shm **out, const char *name)
{
	unsigned long long ino;
	struct uco_shm *m;
	char path[64];
	struct stat st;
	int pid, nfd, fd, r, end = 0;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!name || sscanf(name, "uco-shm.%d.%d.%llu%n", &pid, &nfd, &ino,
			    &end) != 3 ||
	    name[end] != '\0' || pid <= 0 || nfd < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, nfd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0 || (unsigned long long)st.st_ino != ino ||
	    st.st_size <= 0) {
		close(fd);
		return -ENOENT; /* that descriptor is something else now */
	}
	m = uco__alloc(sizeof(*m));
	if (!m) {
		close(fd);
		return -ENOMEM;
	}
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	r = map(m, fd, (size_t)st.st_size);
	close(fd); /* the mapping keeps the memory */
	if (r < 0) {
		uco__free(m, sizeof(*m));
		return r;
	}
	snprintf(m->name, sizeof(m->name), "%s", name);
	*out = m;
	return 0;
}

UCO_API const char *uco_shm_name(const uco_shm *shm)
{
	return shm ? shm->name : NULL;
}

UCO_API void *uco_shm_buf(const uco_shm *shm)
{
	return shm ? shm->buf : NULL;
}

UCO_API size_t uco_shm_size(const uco_shm *shm)
{
	return shm ? shm->size : 0;
}

UCO_API int uco_shm_unlink(uco_shm *shm)
{
	if (!shm)
		return -EINVAL;
	if (!shm->creator)
		return -EPERM;
	if (shm->fd >= 0) {
		close(shm->fd);
		shm->fd = -1;
	}
	return 0;
}

UCO_API void uco_shm_close(uco_shm *shm)
{
	if (!shm)
		return;
	if (shm->fd >= 0)
		close(shm->fd);
	munmap(shm->buf, shm->size);
	uco__free(shm, sizeof(*shm));
}
