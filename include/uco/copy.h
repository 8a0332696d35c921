/*
 * uco/copy.h — the copy engine: one file or a whole tree, without blocking
 * the loop (what shutil.copyfile / copytree give Python, on io_uring).
 *
 * Every file-system call io_uring has goes through the ring: openat,
 * statx, read, write, close, mkdirat, symlinkat, linkat, renameat,
 * unlinkat, and ftruncate (IORING_OP_FTRUNCATE, prepared from raw SQE
 * fields since liburing 2.3 has no helper; probed once per call, with the
 * offload pool as the fallback on kernels before 6.9).  What has no ring
 * op runs on the offload pool (uco_to_thread): getdents64, readlinkat,
 * mknodat, lseek(SEEK_DATA/SEEK_HOLE), ioctl(FICLONE), fchmod, fchown,
 * utimensat and the xattr calls (each file's metadata in one trip).
 *
 * The data path, chosen by measurement.  Small files (up to 2 x big_chunk)
 * are copied by their worker in chunks: a ring read into a page-aligned
 * buffer, a ring write out of it; on a tree `jobs` files are in flight at
 * once, every op of every file in the one ring.  A bigger file is copied
 * by copy_file_range(2) on the offload pool, in 32 MiB calls one after
 * the other: the kernel copies page cache to page cache with no trip through
 * user memory, which is cp's own path.  O_DIRECT and sparse=always (which
 * must see the data) instead use `chunks` lanes (tasks) of 1 MiB ring
 * reads and writes, several in flight.  Before any of it, unless reflink
 * is NEVER, FICLONE shares the extents outright where the filesystem can
 * (btrfs, xfs); a refusal (EOPNOTSUPP, EXDEV, EINVAL) falls back to
 * copying and is remembered for that source device, so an ext4 tree pays
 * for it once, not per file.  The figures (ext4 on virtio, 2 cores shared
 * with other builds at load 4-9, so wide spreads; seconds):
 *   1 GiB, warm, four runs each:
 *     cp (copy_file_range)                          0.33 0.43 0.51 0.79
 *     4 lanes of 8 MiB copy_file_range ranges       0.33 0.39 0.42 0.88
 *     chunked read/write through the ring, 128 KiB  0.45 0.46 0.47 0.49
 *   2 GiB (benchmarks/copy_bench.py, best of two), warm / settled / cold,
 *   each line with its own cp run beside it:
 *     4 lanes of 8 MiB ranges          1.39  1.12  4.00   cp 0.54 0.57 1.39
 *     one stream of 8 MiB calls        0.58  0.77  3.39   cp 0.58 0.62 1.23
 *     one stream of 32 MiB (chosen)    0.75   -    1.96   cp 0.80  -   2.18
 * Reads and writes through user memory cost a copy more than the kernel's
 * own (1.4x cp's time even with many chunks in flight).  Parallel ranges
 * of one file gain nothing on a page-cache copy (the writes serialise on
 * the inode lock, and dirty-page throttling is per writer) and lose the
 * source's readahead when it is cold, hence one stream; and each call is a
 * hand-over to a pool thread, which on a loaded machine waits for a CPU,
 * hence calls of 32 MiB rather than 8.  Splice through a
 * pipe is the same kernel copy as copy_file_range, with two ops and a
 * pipe per chunk.  copy_file_range has no ring op, hence the pool; each
 * call is bounded (32 MiB), so a cancel waits for one call at most (tens
 * of milliseconds from the page cache, a third of a second from a
 * 100 MB/s disk).
 * Small files are latency-bound: there the win is many in flight.
 *
 * The temporary-file rule.  A regular file is written as an O_TMPFILE in
 * its destination directory and linked into place (linkat of
 * /proc/self/fd/N) only when its data and metadata are complete; where
 * O_TMPFILE is refused it is written under a hidden temporary name
 * (".ucp-<n>-<n>") and renamed into place.  A destination that already
 * exists is replaced by a rename, never truncated and rewritten, so a
 * failure, a full disk or a cancel leaves the old file (or nothing) under
 * the real name, and no temporary file: clean-up unlinks it even when the
 * caller is cancelled.  (A kill -9 can leave a named temporary; an
 * O_TMPFILE vanishes with the process.)  The one exception needs none: an
 * empty file with no metadata to preserve is complete when O_CREAT |
 * O_EXCL makes it, so it is made in place.  Directories are created with
 * u+rwx and get their final mode and times once everything in them is
 * done.
 *
 * Memory is bounded whatever the tree's size:
 *   jobs x chunk_size                       (one buffer per file worker)
 * + 2 x chunks x big_chunk                  (lanes of at most two big files,
 *                                            O_DIRECT or sparse=always)
 * + queue_depth x (~80 B + name)            (entries walked, not yet copied)
 * + depth x (32 KiB + ~200 B)               (one getdents buffer per level
 *                                            of the directory being walked)
 * + one record per inode with several links (only with PRESERVE_LINKS)
 * With the defaults (16 jobs x 128 KiB, 2 x 4 x 1 MiB, 256 entries) that
 * is about 11 MiB plus 32 KiB per level of nesting.  Measured: ucp -r of
 * 1,000,000 empty files in 1,000 directories peaks at 4.6 MiB RSS, as it
 * does for 100,000 (4.5 MiB) and for 20,000 files of 4 KiB (4.6 MiB).  File descriptors:
 * two per directory that still has entries in flight (at most depth +
 * queue_depth + jobs directories), plus two per file in flight.
 *
 * Cancellation and timeouts: both calls run the copy in tasks of their own
 * and wait for them.  When the caller is cancelled or its timeout scope
 * expires, every one of them is cancelled (ops in flight get
 * IORING_OP_ASYNC_CANCEL) and joined; each cleans up (temporary file
 * unlinked, fds closed) before the call returns -ECANCELED or -ETIMEDOUT.
 * The deadline is a timer on that wait, not a linked timeout on the
 * workers' ops, because a linked timeout does not fire for an op blocked
 * in an io-wq worker (where buffered writes run): an op that cannot be
 * interrupted (a buffered write) delays the return by at most one chunk.
 */
#ifndef UCO_COPY_H
#define UCO_COPY_H

#include <stdint.h>

#include <uco/common.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
	UCO_COPY_PRESERVE_MODE = 1u << 0,   /* mode bits, set-id bits too */
	UCO_COPY_PRESERVE_OWNER = 1u << 1,  /* uid and gid (a failure is an
					       error only as root) */
	UCO_COPY_PRESERVE_TIMES = 1u << 2,  /* atime and mtime */
	UCO_COPY_PRESERVE_LINKS = 1u << 3,  /* hard links within the tree
					       (a first copy deeper than
					       PATH_MAX below dst's parent
					       is left apart, and the next
					       one is linked to) */
	UCO_COPY_PRESERVE_XATTR = 1u << 4,  /* extended attributes (ACLs);
					       not those of symlinks */
	UCO_COPY_NO_CLOBBER = 1u << 5,      /* keep an existing destination */
	UCO_COPY_UPDATE = 1u << 6,          /* replace only an older one */
	UCO_COPY_FSYNC = 1u << 7,           /* fsync each file before linking */
	UCO_COPY_DIRECT = 1u << 8,          /* O_DIRECT, buffered fallback */
	UCO_COPY_VERIFY = 1u << 9,          /* re-read both, compare */
	UCO_COPY_COUNT = 1u << 10,          /* count totals alongside */
	UCO_COPY_FOLLOW_ROOT = 1u << 11,    /* a symlink given as src is
					       followed (uco_copy_file
					       always does) */
};

typedef enum uco_copy_reflink {
	UCO_REFLINK_AUTO = 0, /* clone when the filesystem can, else copy */
	UCO_REFLINK_NEVER,    /* always copy the data */
	UCO_REFLINK_ALWAYS,   /* clone or fail */
} uco_copy_reflink;

typedef enum uco_copy_sparse {
	UCO_SPARSE_AUTO = 0, /* a source with holes keeps them (SEEK_DATA) */
	UCO_SPARSE_ALWAYS,   /* also every all-zero chunk becomes a hole */
	UCO_SPARSE_NEVER,    /* holes are written as zeroes */
} uco_copy_sparse;

/* What went wrong where; the words are cp's (see tools/ucp.c). */
typedef enum uco_copy_step {
	UCO_COPY_STAT,          /* cannot stat 'src' */
	UCO_COPY_OPEN_SRC,      /* cannot open 'src' for reading */
	UCO_COPY_OPEN_DIR,      /* cannot access 'src' (a directory) */
	UCO_COPY_READ_DIR,      /* cannot read directory 'src' */
	UCO_COPY_READ,          /* error reading 'src' */
	UCO_COPY_CREATE,        /* cannot create regular file 'dst' */
	UCO_COPY_WRITE,         /* error writing 'dst' */
	UCO_COPY_MKDIR,         /* cannot create directory 'dst' */
	UCO_COPY_SYMLINK,       /* cannot create symbolic link 'dst' */
	UCO_COPY_READLINK,      /* cannot read symbolic link 'src' */
	UCO_COPY_SPECIAL,       /* cannot create special file 'dst' */
	UCO_COPY_LINK,          /* cannot create hard link 'dst' */
	UCO_COPY_CLONE,         /* failed to clone 'dst' from 'src' */
	UCO_COPY_MODE,          /* preserving permissions for 'dst' */
	UCO_COPY_OWNER,         /* failed to preserve ownership for 'dst' */
	UCO_COPY_TIMES,         /* preserving times for 'dst' */
	UCO_COPY_XATTR,         /* preserving xattrs for 'dst' */
	UCO_COPY_OVERWRITE_DIR, /* cannot overwrite directory 'dst' with
				   non-directory */
	UCO_COPY_NOT_DIR,       /* cannot overwrite non-directory 'dst' with
				   directory 'src' */
	UCO_COPY_INTO_ITSELF,   /* cannot copy a directory, 'src', into
				   itself, 'dst' */
	UCO_COPY_VERIFY_FAIL,   /* 'dst' differs from 'src' after copying */
	UCO_COPY_FSYNC_FAIL,    /* error syncing 'dst' */
	UCO_COPY_NOTE_DIRECT,   /* a note, not an error: O_DIRECT refused
				   for 'src'/'dst', copied buffered */
} uco_copy_step;

typedef struct uco_copy_error {
	uco_copy_step step;
	int err;         /* negative errno */
	const char *src; /* full paths as the caller spelled the roots; valid
			    during the callback only */
	const char *dst;
} uco_copy_error;

/* One entry finished (for -v). */
typedef struct uco_copy_event {
	const char *src, *dst; /* valid during the callback only */
	char kind;             /* 'f' file, 'd' directory, 'l' symlink,
				  'h' hard link, 's' special, 'c' clone,
				  '-' skipped (-n / -u) */
	bool have_sum;         /* with UCO_COPY_VERIFY, files */
	uint64_t sum;          /* 64-bit FNV-1a of the content, both sides */
} uco_copy_event;

typedef struct uco_copy_stats {
	uint64_t bytes;        /* data bytes written or cloned */
	uint64_t files;        /* regular files done (cloned, linked too) */
	uint64_t dirs, symlinks, hardlinks, specials, skipped, reflinked;
	uint64_t errors;       /* errors reported (and gone past) */
	/* With UCO_COPY_COUNT: what the walk alongside has found so far, and
	 * whether it has finished (the totals are then final). */
	uint64_t bytes_total, files_total;
	bool total_final;
	uint64_t elapsed_ns;
} uco_copy_stats;

/* Zeroed means the defaults. */
typedef struct uco_copy_opts {
	unsigned flags;           /* UCO_COPY_* */
	uco_copy_reflink reflink;
	uco_copy_sparse sparse;
	unsigned jobs;            /* files in flight (default 16, max 1024) */
	unsigned chunks;          /* lanes per big file copied through
				     memory (O_DIRECT, sparse=always;
				     default 4, max 64) */
	size_t chunk_size;        /* small-file buffer (default 128 KiB) */
	size_t big_chunk;         /* lane buffer (default 1 MiB) */
	unsigned queue_depth;     /* entries walked ahead (default 256) */
	/*
	 * Called on the caller's core at most every 100 ms while the copy
	 * runs (never after the call returns), with the stats so far.
	 */
	void (*progress)(const uco_copy_stats *st, void *arg);
	/*
	 * Called for every error (and UCO_COPY_NOTE_* note).  Return 0 to go
	 * on with the other entries (the call then returns the first error
	 * once everything else is done), or a negative errno to stop the
	 * whole copy with it.  Without a callback the first error stops it.
	 * It must not suspend.
	 */
	int (*on_error)(const uco_copy_error *e, void *arg);
	/* Called for every entry done or skipped; must not suspend. */
	void (*on_done)(const uco_copy_event *e, void *arg);
	void *arg;                /* for the three callbacks */
} uco_copy_opts;

/*
 * Copy the file src (a symlink is followed) to the path dst, which is
 * replaced if it exists (unless NO_CLOBBER / UPDATE say otherwise) and
 * appears only once complete.  Suspends.  Returns 0 or a negative errno
 * (also given to opts->on_error with the step); -ECANCELED / -ETIMEDOUT
 * with nothing left behind.  opts and stats may be NULL; *stats is
 * filled in on every return.  -EPERM outside a task, -EINVAL for bad
 * options, -EISDIR if src is a directory.
 */
UCO_MUST_USE
UCO_API int uco_copy_file(const char *src, const char *dst,
			  const uco_copy_opts *opts, uco_copy_stats *stats);

/*
 * Copy src (a directory, or any single entry) to dst: dst is created, or
 * merged into if it is an existing directory.  Symlinks are copied as
 * symlinks (FOLLOW_ROOT: except src itself), FIFOs and devices are made
 * anew, hard links kept with PRESERVE_LINKS.  Suspends.  Returns 0, the
 * first error (after the others went on, if on_error said so), or
 * -ECANCELED / -ETIMEDOUT; everything in flight is then cancelled and
 * cleaned up first, and directories already made stay.  Same rules as
 * uco_copy_file otherwise.
 */
UCO_MUST_USE
UCO_API int uco_copy_tree(const char *src, const char *dst,
			  const uco_copy_opts *opts, uco_copy_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
