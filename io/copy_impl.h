/*
 * io/copy_impl.h — what the copy engine's files share (see uco/copy.h):
 * the per-call context, directory nodes, and the calls with no ring op
 * (io/copy_sys.c).
 *
 *   copy_sys.c    ring ops liburing lacks, offload-pool calls
 *   copy_file.c   one regular file: temp file, lanes, metadata, placing
 *   copy_entry.c  one entry (symlink, special, regular, hard link),
 *                 messages, progress, the counting walk
 *   copy_tree.c   the walk, the workers, directories, the two public
 *                 calls
 */
#ifndef UCO_IO_COPY_IMPL_H
#define UCO_IO_COPY_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <uco/copy.h>
#include <uco/group.h>
#include <uco/lock.h>
#include <uco/semaphore.h>

/* A directory of the copy: source and destination fds, open while
 * anything inside is in flight.  The pseudo-root (the roots' parents) has
 * no parent and carries the roots' path prefixes. */
struct cp_dir {
	struct cp_dir *parent;
	int sfd, dfd;
	unsigned refs;           /* walker + entries in flight + children */
	bool meta;               /* apply st's metadata when done */
	bool created;            /* we made the destination */
	struct statx st;         /* the source directory's */
	const char *sname;       /* this level's names (root: they differ) */
	const char *dname;
	char *sprefix, *dprefix; /* pseudo-root only: "a/b/" or "" */
	char names[];            /* storage for sname (and dname) */
};

struct cp_links;
struct cp_scan;

/* One call's state, on the caller's stack. */
struct cp_ctx {
	uco_copy_opts o;
	uco_copy_stats *st;
	uint64_t t0, last_progress;
	int first_err;           /* first error gone past */
	int stop_err;            /* set: the copy is being stopped */
	unsigned umask;
	bool has_ftruncate;      /* IORING_OP_FTRUNCATE probed */
	bool use_tmpfile;        /* O_TMPFILE + linkat via /proc/self/fd */
	bool root;               /* running as root (ownership errors count) */
	uint64_t noclone_sdev, noclone_ddev; /* FICLONE refused between them */
	bool noclone;
	unsigned tmp_seq;
	uint64_t droot_dev, droot_ino; /* the destination root directory */
	bool have_droot;
	int droot_fd;            /* the destination root's parent (for links) */
	uco_sem big;             /* big files copied by lanes at once */
	void *bigfree[128];      /* idle lane buffers (big_chunk each) */
	unsigned nbigfree;
	struct cp_links *links;
	struct cp_scan *scan;
};

/* copy_sys.c: ring ops without a liburing 2.3 helper. */
bool uco__copy_probe(void);                 /* IORING_OP_FTRUNCATE there? */
int uco__copy_ftruncate(struct cp_ctx *cx, int fd, uint64_t len);

/* copy_sys.c: ring ops uco/file.h does not have (yet). */
int uco__copy_linkat(int olddirfd, const char *from, int newdirfd,
		     const char *to, int flags);
int uco__copy_symlinkat(const char *target, int dirfd, const char *name);
int uco__copy_fadvise(int fd, int advice);

/* copy_sys.c: offload-pool calls (each one uco_to_thread trip). */
long uco__copy_getdents(int fd, void *buf, size_t len);
long uco__copy_readlink(int dirfd, const char *name, char *buf, size_t len);
int uco__copy_mknod(int dirfd, const char *name, mode_t mode, dev_t dev);
int uco__copy_clone(int dfd, int sfd);
/* copy_file_range of [off, off + len) at the same offset on both sides;
 * the bytes copied (fewer only at end of file) or an error. */
long uco__copy_range(int sfd, int dfd, int64_t off, size_t len);
/* Next data extent at or after off: *start and *end, or 0 with *start = -1
 * past the last one. */
int uco__copy_seek_data(int fd, int64_t off, int64_t *start, int64_t *end);
/* Apply what cx->o.flags asks to preserve from st onto fd (a file or
 * directory opened by us), or, with fd < 0, onto dirfd/name without
 * following (a symlink, a FIFO or a device node).  Reports each failure through uco__copy_report
 * with the dst path of (dir, name).  Returns 0 or the first error that
 * counts. */
int uco__copy_meta(struct cp_ctx *cx, int fd, int sfd, int dirfd,
		   const char *name, const struct statx *st,
		   struct cp_dir *dir, const char *sname, bool is_dir,
		   bool mode_only_if_needed);

/* copy_tree.c: paths for messages, error reporting, progress. */
char *uco__copy_path(const struct cp_dir *d, const char *name, bool dst);
/* Report an error at (dir, name); returns 0 to go on or the error to
 * stop with.  Notes return 0 and are not counted. */
int uco__copy_report(struct cp_ctx *cx, uco_copy_step step, int err,
		     const struct cp_dir *d, const char *sname,
		     const char *dname);
void uco__copy_done(struct cp_ctx *cx, const struct cp_dir *d,
		    const char *sname, const char *dname, char kind,
		    bool have_sum, uint64_t sum);
void uco__copy_progress(struct cp_ctx *cx);

/* copy_entry.c: the counting walk, on a pool thread. */
struct cp_scan {
	atomic_uint_fast64_t files, bytes;
	atomic_bool stop, done;
	char *root;
};
void *uco__copy_scan_task(void *cx);   /* a task: runs it, keeps totals */
void uco__copy_scan_free(struct cp_scan *sc);

/* copy_entry.c: hard links seen (PRESERVE_LINKS).  *out is set even on
 * -ENOMEM (free it). */
int uco__copy_links_new(struct cp_links **out);
int uco__copy_links_grow(struct cp_links *t);
void uco__copy_links_free(struct cp_links *t);

/* An entry the walker queued for the workers; holds a reference on d. */
struct cp_job {
	struct cp_dir *d;
	unsigned char type; /* DT_* from getdents, or from the root's statx */
	bool follow;        /* the root of uco_copy_file: follow a symlink */
	char *dname;        /* differs from name only at the root */
	char name[];
};
/* copy_entry.c: copy one non-directory entry (in a worker, buf its
 * chunk_size buffer).  0, or the error to stop with (after reporting). */
int uco__copy_entry(struct cp_ctx *cx, struct cp_job *j, char *buf);

/* copy_file.c: one regular file.  sfd is open (O_RDONLY) and st its
 * statx; the file lands as (d->dfd, dname).  buf is the worker's
 * chunk_size buffer.  Returns 0, or the error to stop with (after it was
 * reported). */
int uco__copy_reg(struct cp_ctx *cx, struct cp_dir *d, const char *sname,
		  const char *dname, int sfd, const struct statx *st,
		  char *buf);

/* Close and unlink on clean-up paths: through the ring when the task may
 * still submit, else directly (a cancelled task in an expired scope). */
void uco__copy_close(int fd);
void uco__copy_unlink(int dirfd, const char *name, int flags);

#define CP_STATX_MASK                                                         \
	(STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID |     \
	 STATX_ATIME | STATX_MTIME | STATX_INO | STATX_SIZE | STATX_BLOCKS)

#endif
