/*
 * The copy engine, one regular file (the rules are in uco/copy.h):
 *
 *   1. the output: an O_TMPFILE in the destination directory, or a hidden
 *      temporary name there (O_CREAT | O_EXCL);
 *   2. the data: FICLONE (unless reflink NEVER, or refused before for
 *      this source device), else: small files in chunks by the worker
 *      itself with its own buffer; files above 2 x big_chunk by
 *      copy_file_range on the pool in 32 MiB calls, or, when every chunk
 *      must pass through memory (O_DIRECT, sparse=always), by `chunks`
 *      lanes sharing a cursor over the source's data extents;
 *   3. the size (ftruncate, when holes or O_DIRECT padding end the file),
 *      the metadata, fsync, verification;
 *   4. placing: linkat(/proc/self/fd/N) to the real name (or the temporary
 *      name and renameat over an existing one), or renameat.
 * Every way out of 1-4 without step 4 done removes the temporary.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <uco/file.h>
#include <uco/group.h>
#include <uco/lock.h>
#include <uco/task.h>
#include <uco/time.h>

#include "copy_impl.h"

#define DIRECT_ALIGN 4096u
#define RANGE_CHUNK (32u << 20)

/* The lanes of one file share this. */
struct lanes {
	struct cp_ctx *cx;
	int sfd, ofd;
	uint64_t size;
	uint64_t next;          /* next offset to hand out */
	int64_t ext_end;        /* end of the current data extent */
	bool sparse_map;        /* extents from SEEK_DATA / SEEK_HOLE */
	bool zero_holes;        /* sparse=always: all-zero chunks skipped */
	bool direct;
	bool range;             /* copy_file_range on the pool, not chunks */
	size_t chunk;
	uco_lock lock;          /* one extent look-up at a time */
	uint64_t written_end;   /* end of the last byte written */
	uco_copy_step step;     /* what failed */
	int err;
};

static bool all_zero(const char *p, size_t n)
{
	static const char zero[256];

	while (n >= sizeof(zero)) {
		if (memcmp(p, zero, sizeof(zero)) != 0)
			return false;
		p += sizeof(zero);
		n -= sizeof(zero);
	}
	return memcmp(p, zero, n) == 0;
}

/* Hand out the next range to copy: 1 with *off and *len, 0 when done. */
static int claim(struct lanes *ln, uint64_t *off, size_t *len)
{
	if (ln->next >= ln->size)
		return 0;
	if (ln->sparse_map && (int64_t)ln->next >= ln->ext_end) {
		int64_t s, e;
		int r = uco_lock_lock(&ln->lock);

		if (r < 0)
			return r;
		/* Another lane may have moved on while we waited. */
		if ((int64_t)ln->next >= ln->ext_end && ln->next < ln->size) {
			r = uco__copy_seek_data(ln->sfd, (int64_t)ln->next, &s,
						&e);
			if (r < 0) {
				uco_lock_unlock(&ln->lock);
				ln->step = UCO_COPY_READ;
				return r;
			}
			if (s < 0) {
				ln->next = ln->size;
			} else {
				ln->next = (uint64_t)s;
				ln->ext_end = e < (int64_t)ln->size
						      ? e
						      : (int64_t)ln->size;
			}
		}
		uco_lock_unlock(&ln->lock);
		if (ln->next >= ln->size)
			return 0;
	}
	*off = ln->next;
	*len = ln->chunk;
	if ((int64_t)(*off + *len) > ln->ext_end)
		*len = (size_t)(ln->ext_end - (int64_t)*off);
	ln->next += *len;
	return 1;
}

/* [off, off + len) through buf (cap bytes), piece by piece.  Returns 0,
 * 1 at an early end of file, or an error (ln->step says which side). */
static int copy_chunks(struct lanes *ln, char *buf, size_t cap, uint64_t off,
		       size_t len)
{
	while (len) {
		size_t piece = len < cap ? len : cap;
		size_t rlen = piece;
		ssize_t n, w;

		if (ln->direct) /* O_DIRECT reads whole blocks; EOF cuts */
			rlen = (piece + DIRECT_ALIGN - 1) &
			       ~(size_t)(DIRECT_ALIGN - 1);
		n = uco_read_full(ln->sfd, buf, rlen, (int64_t)off);
		if (n < 0) {
			ln->step = UCO_COPY_READ;
			return (int)n;
		}
		if ((size_t)n > piece)
			n = (ssize_t)piece;
		if (n == 0)
			return 1; /* the file shrank since its statx */
		off += (uint64_t)n;
		len -= (size_t)n;
		if (ln->zero_holes && all_zero(buf, (size_t)n))
			continue;
		size_t wlen = (size_t)n;
		if (ln->direct && (wlen & (DIRECT_ALIGN - 1))) {
			/* The last block, padded; ftruncate cuts it. */
			size_t pad = (wlen + DIRECT_ALIGN - 1) &
				     ~(size_t)(DIRECT_ALIGN - 1);

			memset(buf + wlen, 0, pad - wlen);
			wlen = pad;
		}
		w = uco_write_full(ln->ofd, buf, wlen, (int64_t)(off - (uint64_t)n));
		if (w < 0) {
			ln->step = UCO_COPY_WRITE;
			return (int)w;
		}
		if (off > ln->written_end)
			ln->written_end = off;
		ln->cx->st->bytes += (uint64_t)n;
		uco__copy_progress(ln->cx);
	}
	return 0;
}

/* Copy ranges until none is left; buf holds cap bytes. */
static int lane_run(struct lanes *ln, char *buf, size_t cap)
{
	uint64_t off;
	size_t len;
	int c, r;

	while ((c = claim(ln, &off, &len)) > 0) {
		if (ln->range) {
			long k = uco__copy_range(ln->sfd, ln->ofd, (int64_t)off,
						 len);

			if (k == -EXDEV || k == -EINVAL || k == -EOPNOTSUPP ||
			    k == -ENOSYS) {
				ln->range = false; /* chunks from here on */
			} else if (k < 0) {
				ln->step = UCO_COPY_WRITE;
				return (int)k;
			} else {
				if (off + (uint64_t)k > ln->written_end)
					ln->written_end = off + (uint64_t)k;
				ln->cx->st->bytes += (uint64_t)k;
				uco__copy_progress(ln->cx);
				if ((size_t)k < len)
					break; /* end of file */
				continue;
			}
		}
		r = copy_chunks(ln, buf, cap, off, len);
		if (r < 0)
			return r;
		if (r > 0)
			break;
	}
	if (c < 0 && ln->step != UCO_COPY_READ)
		ln->step = UCO_COPY_WRITE;
	return c < 0 ? c : 0;
}

/* A source without a size: read at the file position until end of file. */
static int copy_stream(struct lanes *ln, char *buf)
{
	size_t cap = ln->cx->o.chunk_size;
	uint64_t off = 0;

	for (;;) {
		ssize_t n = uco_read(ln->sfd, buf, cap, -1), w;

		if (n < 0) {
			ln->step = UCO_COPY_READ;
			return (int)n;
		}
		if (n == 0)
			return 0;
		w = uco_write_full(ln->ofd, buf, (size_t)n, (int64_t)off);
		if (w < 0) {
			ln->step = UCO_COPY_WRITE;
			return (int)w;
		}
		off += (uint64_t)n;
		ln->cx->st->bytes += (uint64_t)n;
		uco__copy_progress(ln->cx);
	}
}

static void *big_get(struct cp_ctx *cx)
{
	void *p;

	if (cx->nbigfree)
		return cx->bigfree[--cx->nbigfree];
	p = mmap(NULL, cx->o.big_chunk, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void big_put(struct cp_ctx *cx, void *p)
{
	if (cx->nbigfree < sizeof(cx->bigfree) / sizeof(cx->bigfree[0]))
		cx->bigfree[cx->nbigfree++] = p;
	else
		munmap(p, cx->o.big_chunk);
}

static void *lane_task(void *arg)
{
	struct lanes *ln = arg;
	char *buf = big_get(ln->cx);
	int r;

	if (!buf) {
		ln->step = UCO_COPY_READ;
		return uco_fail(-ENOMEM);
	}
	r = lane_run(ln, buf, ln->cx->o.big_chunk);
	big_put(ln->cx, buf);
	if (r < 0) {
		if (!ln->err && r != -ECANCELED)
			ln->err = r;
		return uco_fail(r);
	}
	return NULL;
}

/* The data, by lanes for a big file, else in the worker. */
static int copy_data(struct lanes *ln, char *buf)
{
	struct cp_ctx *cx = ln->cx;
	uint64_t nchunks = (ln->size + cx->o.big_chunk - 1) / cx->o.big_chunk;
	unsigned nl = cx->o.chunks;
	uco_group *g;
	int r;

	if (ln->size <= 2 * (uint64_t)cx->o.big_chunk) {
		ln->chunk = cx->o.chunk_size;
		return lane_run(ln, buf, cx->o.chunk_size);
	}
	/* As cp does: a bigger readahead window for a cold source (an
	 * error here only costs speed). */
	uco__copy_fadvise(ln->sfd, POSIX_FADV_SEQUENTIAL);
	/* copy_file_range on the pool (the kernel copies page cache to page
	 * cache: half the work of read + write), in RANGE_CHUNK calls, one
	 * after another: parallel ranges of one file serialise on its inode
	 * lock and break the source's readahead (uco/copy.h has the
	 * figures).  Unless each chunk must pass through memory (O_DIRECT,
	 * sparse=always): then `chunks` lanes keep several in flight. */
	ln->range = !ln->direct && !ln->zero_holes;
	if (ln->range) {
		ln->chunk = RANGE_CHUNK;
		return lane_run(ln, buf, cx->o.chunk_size);
	}
	ln->chunk = ln->range ? RANGE_CHUNK : cx->o.big_chunk;
	nchunks = (ln->size + ln->chunk - 1) / ln->chunk;
	if (nchunks < nl)
		nl = (unsigned)nchunks;
	if (nl <= 1)
		return lane_run(ln, buf, cx->o.chunk_size);
	r = uco_sem_acquire(&cx->big);
	if (r < 0)
		return r;
	r = uco_group_create(&g);
	if (r == 0) {
		uco_spawn_opts so = { .name = "ucp-lane" };

		for (unsigned i = 0; i < nl && r == 0; i++)
			r = uco_group_spawn(g, NULL, lane_task, ln, &so);
		/* The lanes hold ln and its fds: wait for every one, even
		 * after a failed spawn (the group then cancels them). */
		if (r < 0)
			uco_group_cancel(g);
		int w = uco_group_wait(g);
		if (r == 0)
			r = w;
		uco_group_free(g);
	}
	uco_sem_release(&cx->big);
	if (r < 0 && ln->err)
		r = ln->err;
	return r;
}

/* 64-bit FNV-1a, for --verify's printed checksums. */
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Re-read both sides and compare; *sum gets the content's checksum. */
static int verify(struct cp_ctx *cx, int sfd, int ofd, uint64_t size,
		  char *a, bool direct, uint64_t *sum)
{
	size_t chunk = cx->o.chunk_size;
	char *b = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t h = 0xcbf29ce484222325ull;
	int r = 0;

	if (b == MAP_FAILED)
		return -ENOMEM;
	for (uint64_t off = 0; off < size; off += chunk) {
		size_t len = size - off < chunk ? (size_t)(size - off) : chunk;
		size_t rlen = direct ? (len + DIRECT_ALIGN - 1) &
					       ~(size_t)(DIRECT_ALIGN - 1)
				     : len;
		ssize_t n = uco_read_full(sfd, a, rlen, (int64_t)off);
		ssize_t m = n < 0 ? n : uco_read_full(ofd, b, rlen, (int64_t)off);

		if (n < 0 || m < 0) {
			r = (int)(n < 0 ? n : m);
			break;
		}
		if ((size_t)n < len || (size_t)m < len ||
		    memcmp(a, b, len) != 0) {
			r = -EIO;
			break;
		}
		h = fnv(h, (const unsigned char *)a, len);
	}
	munmap(b, chunk);
	*sum = h;
	return r;
}

/* Open the output; *tmp gets the temporary name when there is one. */
static int open_output(struct cp_ctx *cx, struct cp_dir *d, mode_t mode,
		       bool direct, char *tmp, size_t cap)
{
	/* --verify reads the output back. */
	int flags = (cx->o.flags & UCO_COPY_VERIFY ? O_RDWR : O_WRONLY) |
		    (direct ? O_DIRECT : 0);
	int fd;

	tmp[0] = 0;
	if (cx->use_tmpfile) {
		fd = uco_openat(d->dfd, ".", flags | O_TMPFILE, mode);
		/* Filesystems without O_TMPFILE: a named temporary. */
		if (fd != -EOPNOTSUPP && fd != -EISDIR && fd != -EINVAL)
			return fd;
	}
	for (int tries = 0; tries < 100; tries++) {
		snprintf(tmp, cap, ".ucp-%x-%x", (unsigned)getpid(),
			 ++cx->tmp_seq);
		fd = uco_openat(d->dfd, tmp, flags | O_CREAT | O_EXCL, mode);
		if (fd != -EEXIST)
			break;
	}
	if (fd < 0)
		tmp[0] = 0;
	return fd;
}

/* Make the finished output appear as dname.  Returns 0, 1 if it was kept
 * out by NO_CLOBBER, or an error. */
static int place(struct cp_ctx *cx, struct cp_dir *d, const char *dname,
		 int ofd, char *tmp, size_t cap)
{
	bool noclobber = cx->o.flags & UCO_COPY_NO_CLOBBER;
	int r;

	if (!tmp[0]) {
		char proc[40];

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ofd);
		r = uco__copy_linkat(AT_FDCWD, proc, d->dfd, dname,
				     AT_SYMLINK_FOLLOW);
		if (r != -EEXIST)
			return r;
		if (noclobber)
			return 1;
		/* Replace: link under a temporary name, rename over. */
		for (int tries = 0; tries < 100; tries++) {
			snprintf(tmp, cap, ".ucp-%x-%x", (unsigned)getpid(),
				 ++cx->tmp_seq);
			r = uco__copy_linkat(AT_FDCWD, proc, d->dfd, tmp,
					     AT_SYMLINK_FOLLOW);
			if (r != -EEXIST)
				break;
		}
		if (r < 0) {
			tmp[0] = 0;
			return r;
		}
	}
	r = uco_renameat(d->dfd, tmp, d->dfd, dname,
			 noclobber ? RENAME_NOREPLACE : 0);
	if (r == -EEXIST && noclobber)
		return 1;
	if (r == 0)
		tmp[0] = 0;
	return r;
}

int uco__copy_reg(struct cp_ctx *cx, struct cp_dir *d, const char *sname,
		  const char *dname, int sfd, const struct statx *st,
		  char *buf)
{
	bool direct = cx->o.flags & UCO_COPY_DIRECT;
	struct lanes ln = { .cx = cx, .sfd = sfd, .size = st->stx_size,
			    .ext_end = (int64_t)st->stx_size };
	char tmp[64];
	uint64_t sum = 0;
	bool cloned = false, have_sum = false;
	uco_copy_step step = UCO_COPY_CREATE;
	int ofd, r, stop = 0;

	/* An empty file with nothing to set after its creation is complete
	 * the moment O_CREAT | O_EXCL makes it (its mode comes with it): no
	 * temporary and no link, one op where there were two.  A name that
	 * exists takes the usual way (a replacement). */
	if (S_ISREG(st->stx_mode) && st->stx_size == 0 &&
	    !(cx->o.flags & (UCO_COPY_PRESERVE_MODE | UCO_COPY_PRESERVE_OWNER |
			     UCO_COPY_PRESERVE_TIMES | UCO_COPY_PRESERVE_XATTR |
			     UCO_COPY_FSYNC))) {
		ofd = uco_openat(d->dfd, dname, O_WRONLY | O_CREAT | O_EXCL,
				 st->stx_mode & 0777);
		if (ofd >= 0) {
			uco__copy_close(ofd);
			cx->st->files++;
			uco__copy_done(cx, d, sname, dname, 'f', false, 0);
			uco__copy_progress(cx);
			return 0;
		}
		if (ofd != -EEXIST)
			return uco__copy_report(cx, ofd == -EISDIR
							    ? UCO_COPY_OVERWRITE_DIR
							    : UCO_COPY_CREATE,
						ofd, d, sname, dname);
	}
	ofd = open_output(cx, d, st->stx_mode & 0777, direct, tmp,
			  sizeof(tmp));
	if (ofd == -EINVAL && direct) {
		stop = uco__copy_report(cx, UCO_COPY_NOTE_DIRECT, ofd, d, sname,
					dname);
		direct = false;
		ofd = open_output(cx, d, st->stx_mode & 0777, false, tmp,
				  sizeof(tmp));
	}
	if (ofd < 0)
		return uco__copy_report(cx, UCO_COPY_CREATE, ofd, d, sname,
					dname);
	ln.ofd = ofd;
	ln.direct = direct;
	uco_lock_init(&ln.lock);

	/* 2. the data.  A refused FICLONE is remembered by the source's
	 * device (the destination is one filesystem in practice). */
	r = 0;
	if (st->stx_size > 0 && cx->o.reflink != UCO_REFLINK_NEVER &&
	    !(cx->noclone && cx->noclone_sdev == st->stx_dev_major * 4096ull +
							   st->stx_dev_minor)) {
		r = uco__copy_clone(ofd, sfd);
		if (r == 0) {
			cloned = true;
			cx->st->bytes += st->stx_size;
			cx->st->reflinked++;
		} else if (cx->o.reflink == UCO_REFLINK_ALWAYS) {
			step = UCO_COPY_CLONE;
			goto fail;
		} else {
			if (r == -EOPNOTSUPP || r == -EXDEV || r == -EINVAL ||
			    r == -ENOTTY) {
				cx->noclone = true;
				cx->noclone_sdev = st->stx_dev_major * 4096ull +
						   st->stx_dev_minor;
			}
			r = 0;
		}
	}
	if (!S_ISREG(st->stx_mode)) {
		/* A FIFO or a device given to uco_copy_file: read to the
		 * end, whatever statx said of its size. */
		r = copy_stream(&ln, buf);
		if (r < 0) {
			step = ln.step;
			goto fail;
		}
	} else if (!cloned && st->stx_size > 0) {
		ln.zero_holes = cx->o.sparse == UCO_SPARSE_ALWAYS;
		ln.sparse_map = cx->o.sparse != UCO_SPARSE_NEVER &&
				st->stx_blocks * 512 < st->stx_size;
		if (ln.sparse_map)
			ln.ext_end = 0;
		r = copy_data(&ln, buf);
		if (r < 0) {
			step = ln.step;
			goto fail;
		}
		/* 3. the size: holes or padding at the end */
		if (ln.written_end != st->stx_size || direct) {
			/* (A file that shrank since its statx comes out at
			 * its old size, zero-filled: cp would stop short.) */
			r = uco__copy_ftruncate(cx, ofd, st->stx_size);
			if (r < 0) {
				step = UCO_COPY_WRITE;
				goto fail;
			}
		}
	}
	if (cx->o.flags & UCO_COPY_VERIFY) {
		r = verify(cx, sfd, ofd, st->stx_size, buf, direct, &sum);
		if (r < 0) {
			step = r == -EIO ? UCO_COPY_VERIFY_FAIL : UCO_COPY_READ;
			goto fail;
		}
		have_sum = true;
	}
	r = uco__copy_meta(cx, ofd, sfd, d->dfd, dname, st, d, sname, false,
			   false);
	if (r < 0) {
		stop = r;
		goto cleanup;
	}
	if (cx->o.flags & UCO_COPY_FSYNC) {
		r = uco_fsync(ofd);
		if (r < 0) {
			step = UCO_COPY_FSYNC_FAIL;
			goto fail;
		}
	}
	/* 4. placing */
	r = place(cx, d, dname, ofd, tmp, sizeof(tmp));
	if (r < 0) {
		step = r == -EISDIR ? UCO_COPY_OVERWRITE_DIR : UCO_COPY_CREATE;
		goto fail;
	}
	if (r == 1) {
		cx->st->skipped++;
		uco__copy_done(cx, d, sname, dname, '-', false, 0);
	} else {
		cx->st->files++;
		uco__copy_done(cx, d, sname, dname, cloned ? 'c' : 'f', have_sum,
			       sum);
	}
	goto cleanup;
fail:
	if (r != -ECANCELED)
		stop = uco__copy_report(cx, step, r, d, sname, dname);
	else
		stop = r;
cleanup:
	if (tmp[0])
		uco__copy_unlink(d->dfd, tmp, 0);
	uco__copy_close(ofd);
	uco_lock_destroy(&ln.lock);
	uco__copy_progress(cx);
	return stop;
}
