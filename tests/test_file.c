/*
 * Suite "file": file operations on the real filesystem (include/uco/file.h):
 * every call one SQE; short reads at end of file; O_DIRECT misalignment
 * reported as -EINVAL; a full device as -ENOSPC; cancellation and timeouts
 * of a read that would block; bad arguments; calls outside a task.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "leakcheck.h"

#define MS UCO_NSEC_PER_MSEC

/* A fresh directory for one test, removed (with its files) at the end. */
static void tmpdir_make(char *dir, size_t cap)
{
	snprintf(dir, cap, "%s/uco-file-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void tmpdir_remove(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void fill(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)((i * 131 + seed) & 0xff);
}

/* ---- read, write, offsets, short reads ---------------------------------- */

static void body_roundtrip(void *arg)
{
	const char *dir = arg;
	char path[300], out[8192], in[8192];
	int fd;

	snprintf(path, sizeof(path), "%s/a", dir);
	fill(out, sizeof(out), 7);
	fd = uco_open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(uco_write(fd, out, sizeof(out), 0), sizeof(out));
	ck_assert_int_eq(uco_read(fd, in, sizeof(in), 0), sizeof(in));
	ck_assert_mem_eq(in, out, sizeof(in));
	/* At an offset. */
	ck_assert_int_eq(uco_read(fd, in, 100, 4000), 100);
	ck_assert_mem_eq(in, out + 4000, 100);
	/* -1: the file position, which then moves. */
	ck_assert_int_eq(lseek(fd, 10, SEEK_SET), 10);
	ck_assert_int_eq(uco_read(fd, in, 20, -1), 20);
	ck_assert_mem_eq(in, out + 10, 20);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 30);
	ck_assert_int_eq(uco_close(fd), 0);
	/* Closed for real. */
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
}

START_TEST(roundtrip)
{
	char dir[256];

	tmpdir_make(dir, sizeof(dir));
	lc_run(body_roundtrip, dir, NULL);
	tmpdir_remove(dir);
}
END_TEST

static void body_short_read_eof(void *arg)
{
	const char *dir = arg;
	char path[300], buf[4096], data[100];
	int fd;

	snprintf(path, sizeof(path), "%s/short", dir);
	fill(data, sizeof(data), 3);
	fd = uco_open(path, O_CREAT | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uco_write_full(fd, data, sizeof(data), 0), 100);
	/* The kernel stops at end of file: a short read, then 0. */
	ck_assert_int_eq(uco_read(fd, buf, sizeof(buf), 0), 100);
	ck_assert_int_eq(uco_read(fd, buf, sizeof(buf), 60), 40);
	ck_assert_int_eq(uco_read(fd, buf, sizeof(buf), 100), 0);
	ck_assert_int_eq(uco_read(fd, buf, sizeof(buf), 1 << 20), 0);
	/* read_full returns fewer bytes only at end of file. */
	ck_assert_int_eq(uco_read_full(fd, buf, sizeof(buf), 0), 100);
	ck_assert_mem_eq(buf, data, 100);
	ck_assert_int_eq(uco_read_full(fd, buf, 50, 25), 50);
	ck_assert_mem_eq(buf, data + 25, 50);
	ck_assert_int_eq(uco_close(fd), 0);
}

START_TEST(short_read_eof)
{
	char dir[256];

	tmpdir_make(dir, sizeof(dir));
	lc_run(body_short_read_eof, dir, NULL);
	tmpdir_remove(dir);
}
END_TEST

/* read_full over a pipe fed in tiny pieces: short reads are looped. */
struct feeder {
	int fd;
	const char *data;
	size_t len;
	size_t chunk;
};

static void *feeder_task(void *arg)
{
	struct feeder *f = arg;

	for (size_t off = 0; off < f->len; off += f->chunk) {
		size_t n = f->len - off < f->chunk ? f->len - off : f->chunk;
		ck_assert_int_eq(uco_write(f->fd, f->data + off, n, -1), n);
		ck_assert_int_eq(uco_yield(), 0);
	}
	close(f->fd);
	return NULL;
}

static void body_read_full_pipe(void *arg)
{
	char data[3000], buf[4000];
	int p[2];
	uco_task *t;
	struct feeder f;

	fill(data, sizeof(data), 11);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	f = (struct feeder){ p[1], data, sizeof(data), 7 };
	ck_assert_int_eq(uco_spawn(&t, feeder_task, &f, NULL), 0);
	ck_assert_int_eq(uco_read_full(p[0], buf, sizeof(buf), -1), 3000);
	ck_assert_mem_eq(buf, data, sizeof(data));
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	close(p[0]);
}

START_TEST(read_full_pipe)
{
	lc_run(body_read_full_pipe, NULL, NULL);
}
END_TEST

static void body_vectored(void *arg)
{
	const char *dir = arg;
	char path[300], a[100], b[300], c[50], x[100], y[300], z[50];
	struct iovec out[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct iovec in[3] = { { x, sizeof(x) }, { y, sizeof(y) }, { z, sizeof(z) } };
	int fd;

	snprintf(path, sizeof(path), "%s/v", dir);
	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	fill(c, sizeof(c), 3);
	fd = uco_open(path, O_CREAT | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uco_writev(fd, out, 3, 0), 450);
	ck_assert_int_eq(uco_readv(fd, in, 3, 0), 450);
	ck_assert_mem_eq(x, a, sizeof(a));
	ck_assert_mem_eq(y, b, sizeof(b));
	ck_assert_mem_eq(z, c, sizeof(c));
	ck_assert_int_eq(uco_readv(fd, in, -1, 0), -EINVAL);
	ck_assert_int_eq(uco_writev(fd, out, -1, 0), -EINVAL);
	ck_assert_int_eq(uco_close(fd), 0);
}

START_TEST(vectored)
{
	char dir[256];

	tmpdir_make(dir, sizeof(dir));
	lc_run(body_vectored, dir, NULL);
	tmpdir_remove(dir);
}
END_TEST

/* ---- fixed buffers ------------------------------------------------------- */

static void body_fixed(void *arg)
{
	const char *dir = arg;
	char path[300];
	static char bufs[2][8192];
	struct iovec iov[2] = { { bufs[0], sizeof(bufs[0]) },
				{ bufs[1], sizeof(bufs[1]) } };
	int fd;

	snprintf(path, sizeof(path), "%s/fixed", dir);
	fill(bufs[0], sizeof(bufs[0]), 5);
	memset(bufs[1], 0, sizeof(bufs[1]));
	ck_assert_int_eq(uco_buffers_register(iov, 2), 0);
	fd = uco_open(path, O_CREAT | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uco_write_fixed(fd, bufs[0], 8192, 0, 0), 8192);
	ck_assert_int_eq(uco_read_fixed(fd, bufs[1] + 100, 1000, 200, 1), 1000);
	ck_assert_mem_eq(bufs[1] + 100, bufs[0] + 200, 1000);
	/* Outside the registered buffer: the kernel refuses. */
	ck_assert_int_eq(uco_read_fixed(fd, bufs[1] + 8000, 1000, 0, 1), -EFAULT);
	/* No such buffer. */
	ck_assert_int_lt(uco_read_fixed(fd, bufs[1], 10, 0, 7), 0);
	/* Re-registering replaces; 0 unregisters. */
	ck_assert_int_eq(uco_buffers_register(iov, 1), 0);
	ck_assert_int_lt(uco_read_fixed(fd, bufs[1], 10, 0, 1), 0);
	ck_assert_int_eq(uco_buffers_register(NULL, 0), 0);
	ck_assert_int_lt(uco_write_fixed(fd, bufs[0], 10, 0, 0), 0);
	ck_assert_int_eq(uco_buffers_register(NULL, 3), -EFAULT);
	ck_assert_int_eq(uco_close(fd), 0);
}

/*
 * Replacing the registration while a fixed read is in flight is safe, as
 * file.h says: the read completes into the buffer it was given, from the
 * old set, and later fixed ops use the new set.
 */
struct fixed_reader {
	int fd;
	char *buf;
	ssize_t r;
};

static void *fixed_reader_task(void *arg)
{
	struct fixed_reader *fr = arg;

	fr->r = uco_read_fixed(fr->fd, fr->buf, 100, -1, 0);
	return NULL;
}

static void body_fixed_replace_in_flight(void *arg)
{
	static char old_buf[4096], new_buf[4096];
	struct iovec old_iov = { old_buf, sizeof(old_buf) };
	struct iovec new_iov = { new_buf, sizeof(new_buf) };
	struct fixed_reader fr = { .buf = old_buf, .r = 1 };
	int p[2];
	uco_task *t;

	memset(old_buf, 0, sizeof(old_buf));
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fr.fd = p[0];
	ck_assert_int_eq(uco_buffers_register(&old_iov, 1), 0);
	ck_assert_int_eq(uco_spawn(&t, fixed_reader_task, &fr, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0); /* the read is in the kernel now */
	ck_assert_int_eq(fr.r, 1);
	ck_assert_int_eq(uco_buffers_register(&new_iov, 1), 0);
	ck_assert_int_eq(write(p[1], "hello", 5), 5);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(fr.r, 5);
	ck_assert_mem_eq(old_buf, "hello", 5);
	/* Index 0 is the new buffer now: the old range is outside it. */
	ck_assert_int_eq(write(p[1], "again", 5), 5);
	ck_assert_int_eq(uco_read_fixed(p[0], old_buf, 5, -1, 0), -EFAULT);
	ck_assert_int_eq(uco_read_fixed(p[0], new_buf, 5, -1, 0), 5);
	ck_assert_mem_eq(new_buf, "again", 5);
	ck_assert_int_eq(uco_buffers_register(NULL, 0), 0);
	close(p[0]);
	close(p[1]);
}

START_TEST(fixed_replace_in_flight)
{
	lc_run(body_fixed_replace_in_flight, NULL, NULL);
}
END_TEST

START_TEST(fixed)
{
	char dir[256];

	tmpdir_make(dir, sizeof(dir));
	lc_run(body_fixed, dir, NULL);
	tmpdir_remove(dir);
}
END_TEST

/* ---- metadata ops ---------------------------------------------------------- */

static void body_metadata(void *arg)
{
	const char *dir = arg;
	char a[300], b[300], sub[300], buf[64];
	struct statx st;
	int fd;

	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	fd = uco_open(a, O_CREAT | O_RDWR | O_EXCL, 0640);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uco_open(a, O_CREAT | O_RDWR | O_EXCL, 0640), -EEXIST);
	ck_assert_int_eq(uco_fallocate(fd, 0, 0, 1 << 20), 0);
	ck_assert_int_eq(uco_write(fd, "hello", 5, 0), 5);
	ck_assert_int_eq(uco_fsync(fd), 0);
	ck_assert_int_eq(uco_fdatasync(fd), 0);
	ck_assert_int_eq(uco_statx(AT_FDCWD, a, 0, STATX_SIZE | STATX_MODE, &st),
			 0);
	ck_assert_uint_eq(st.stx_size, 1 << 20);
	ck_assert_uint_eq(st.stx_mode & 0777, 0640);
	ck_assert(S_ISREG(st.stx_mode));
	/* AT_EMPTY_PATH: the fd itself. */
	ck_assert_int_eq(uco_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &st), 0);
	ck_assert_uint_eq(st.stx_size, 1 << 20);
	ck_assert_int_eq(uco_close(fd), 0);

	ck_assert_int_eq(uco_rename(a, b), 0);
	ck_assert_int_eq(uco_statx(AT_FDCWD, a, 0, STATX_SIZE, &st), -ENOENT);
	ck_assert_int_eq(uco_renameat(AT_FDCWD, b, AT_FDCWD, a, 0), 0);
	ck_assert_int_eq(uco_mkdir(sub, 0700), 0);
	ck_assert_int_eq(uco_mkdir(sub, 0700), -EEXIST);
	ck_assert_int_eq(uco_statx(AT_FDCWD, sub, 0, STATX_TYPE, &st), 0);
	ck_assert(S_ISDIR(st.stx_mode));
	ck_assert_int_eq(uco_unlinkat(AT_FDCWD, sub, 0), -EISDIR);
	ck_assert_int_eq(uco_unlinkat(AT_FDCWD, sub, AT_REMOVEDIR), 0);
	ck_assert_int_eq(uco_unlink(a), 0);
	ck_assert_int_eq(uco_unlink(a), -ENOENT);
	ck_assert_int_eq(uco_open(a, O_RDONLY, 0), -ENOENT);

	/* Bad arguments. */
	ck_assert_int_eq(uco_open(NULL, O_RDONLY, 0), -EFAULT);
	ck_assert_int_eq(uco_statx(AT_FDCWD, a, 0, STATX_SIZE, NULL), -EFAULT);
	ck_assert_int_eq(uco_rename(NULL, b), -EFAULT);
	ck_assert_int_eq(uco_close(-1), -EBADF);
	ck_assert_int_eq(uco_read(-1, buf, 1, 0), -EBADF);
	ck_assert_int_eq(uco_fallocate(0, 0, -1, 10), -EINVAL);
	ck_assert_int_eq(uco_mkdirat(-1, "rel", 0700), -EBADF);
}

START_TEST(metadata)
{
	char dir[256];

	tmpdir_make(dir, sizeof(dir));
	lc_run(body_metadata, dir, NULL);
	tmpdir_remove(dir);
}
END_TEST

/* ---- O_DIRECT and full devices ----------------------------------------- */

static void body_direct(void *arg)
{
	const char *dir = arg;
	char path[300];
	char *raw = aligned_alloc(4096, 3 * 4096);
	int fd;

	snprintf(path, sizeof(path), "%s/direct", dir);
	fd = uco_open(path, O_CREAT | O_RDWR | O_DIRECT, 0600);
	ck_assert_int_ge(fd, 0);
	fill(raw, 3 * 4096, 9);
	/* Aligned buffer, length and offset: fine. */
	ck_assert_int_eq(uco_write(fd, raw, 8192, 0), 8192);
	ck_assert_int_eq(uco_read(fd, raw + 4096, 4096, 4096), 4096);
	/* Misaligned buffer, length or offset: the kernel's -EINVAL. */
	ck_assert_int_eq(uco_read(fd, raw + 1, 4096, 0), -EINVAL);
	ck_assert_int_eq(uco_read(fd, raw, 100, 0), -EINVAL);
	ck_assert_int_eq(uco_write(fd, raw, 4096, 3), -EINVAL);
	ck_assert_int_eq(uco_close(fd), 0);
	free(raw);
}

/*
 * Whether dir's filesystem does direct I/O the way the test checks it: an
 * O_DIRECT open works, an aligned write goes through and a misaligned read
 * is refused.  tmpfs refuses O_DIRECT before Linux 6.6 and since then
 * accepts it without any alignment: neither can be tested.
 */
static bool has_direct(const char *dir)
{
	char path[300];
	char *raw = aligned_alloc(4096, 2 * 4096);
	bool ok = false;
	int fd;

	ck_assert_ptr_nonnull(raw);
	memset(raw, 1, 2 * 4096);
	snprintf(path, sizeof(path), "%s/probe", dir);
	fd = open(path, O_CREAT | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		ck_assert_int_eq(pwrite(fd, raw, 4096, 0), 4096);
		ok = pread(fd, raw + 1, 4096, 0) < 0 && errno == EINVAL;
		close(fd);
		unlink(path);
	} else {
		ck_assert_msg(errno == EINVAL, "open %s: %s", path,
			      strerror(errno));
	}
	free(raw);
	return ok;
}

/* In the temporary directory, or failing that (a tmpfs /tmp) in the
 * current one (meson runs tests in the build directory); a skip if
 * neither filesystem has O_DIRECT. */
START_TEST(direct)
{
	char dir[256], cwd[200];

	tmpdir_make(dir, sizeof(dir));
	if (!has_direct(dir)) {
		tmpdir_remove(dir);
		ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
		snprintf(dir, sizeof(dir), "%s/uco-file-XXXXXX", cwd);
		ck_assert_ptr_nonnull(mkdtemp(dir));
		if (!has_direct(dir)) {
			tmpdir_remove(dir);
			TH_SKIP("no direct I/O with alignment checks on the "
				"filesystems of %s or %s",
				getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
				cwd);
		}
	}
	lc_run(body_direct, dir, NULL);
	tmpdir_remove(dir);
}
END_TEST

static void body_full_device(void *arg)
{
	char buf[4096] = { 0 };
	int fd = uco_open("/dev/full", O_WRONLY, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(uco_write(fd, buf, sizeof(buf), -1), -ENOSPC);
	ck_assert_int_eq(uco_write_full(fd, buf, sizeof(buf), -1), -ENOSPC);
	ck_assert_int_eq(uco_close(fd), 0);
}

START_TEST(full_device)
{
	struct stat st;

	if (stat("/dev/full", &st) != 0 || !S_ISCHR(st.st_mode))
		TH_SKIP("no /dev/full device (a minimal chroot without /dev?)");
	lc_run(body_full_device, NULL, NULL);
}
END_TEST

/* ---- cancellation and timeouts ------------------------------------------- */

struct reader {
	int fd;
	char buf[64];
	ssize_t r;
	bool started;
};

static void *reader_task(void *arg)
{
	struct reader *rd = arg;

	rd->started = true;
	rd->r = uco_read(rd->fd, rd->buf, sizeof(rd->buf), -1);
	return NULL;
}

static void body_cancel_read(void *arg)
{
	struct reader rd = { .r = 1 };
	uco_task *t;
	int p[2];
	char got[8];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	rd.fd = p[0];
	memset(rd.buf, 'z', sizeof(rd.buf));
	ck_assert_int_eq(uco_spawn(&t, reader_task, &rd, NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert(rd.started);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);
	ck_assert_int_eq(rd.r, -ECANCELED);
	/* The kernel no longer holds the buffer: data written now stays in
	 * the pipe and the buffer is untouched. */
	ck_assert_int_eq(write(p[1], "abc", 3), 3);
	for (size_t i = 0; i < sizeof(rd.buf); i++)
		ck_assert_int_eq(rd.buf[i], 'z');
	ck_assert_int_eq(uco_read(p[0], got, sizeof(got), -1), 3);
	ck_assert_mem_eq(got, "abc", 3);
	close(p[0]);
	close(p[1]);
}

START_TEST(cancel_read)
{
	lc_run(body_cancel_read, NULL, NULL);
}
END_TEST

static int read_op(void *arg)
{
	struct reader *rd = arg;

	return (int)uco_read(rd->fd, rd->buf, sizeof(rd->buf), -1);
}

static void body_timeout_read(void *arg)
{
	struct reader rd = { .r = 1 };
	int p[2], s;
	char c;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	rd.fd = p[0];
	/* uco_wait_for: a linked timeout on the read. */
	ck_assert_int_eq(uco_wait_for(20 * MS, read_op, &rd), -ETIMEDOUT);
	/* A scope. */
	s = uco_timeout_begin(20 * MS);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(uco_read(p[0], &c, 1, -1), -ETIMEDOUT);
	/* Still expired: the next call fails at once. */
	ck_assert_int_eq(uco_read(p[0], &c, 1, -1), -ETIMEDOUT);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	/* Data there: the read wins over a generous timeout. */
	ck_assert_int_eq(write(p[1], "q", 1), 1);
	ck_assert_int_eq(uco_wait_for(1000 * MS, read_op, &rd), 1);
	ck_assert_int_eq(rd.buf[0], 'q');
	close(p[0]);
	close(p[1]);
}

START_TEST(timeout_read)
{
	lc_run(body_timeout_read, NULL, NULL);
}
END_TEST

/* ---- closing always releases ---------------------------------------------- */

/* fd no longer names anything. */
static void assert_closed(int fd)
{
	errno = 0;
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
}

static void *close_cancelled(void *arg)
{
	int fd = (int)(intptr_t)arg;

	ck_assert_int_eq(uco_cancel(uco_current()), 0);
	ck_assert_int_eq(uco_nop(), -ECANCELED);
	/* Refused like any call once, it used to leave fd open. */
	ck_assert_int_eq(uco_close(fd), 0);
	assert_closed(fd);
	/* Still cancelled. */
	ck_assert_int_eq(uco_nop(), -ECANCELED);
	return NULL;
}

static void *close_mid_flight(void *arg)
{
	int fd = (int)(intptr_t)arg;

	/* Cancelled by main while the close is in flight. */
	ck_assert_int_eq(uco_close(fd), 0);
	assert_closed(fd);
	ck_assert_int_eq(uco_nop(), -ECANCELED);
	return NULL;
}

static void body_close_in_cancelled_task(void *arg)
{
	int p[2];
	uco_task *t;
	int s;

	(void)arg;
	/* Cancelled before the call. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(uco_spawn(&t, close_cancelled, (void *)(intptr_t)p[0],
				   NULL), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);

	/* Cancelled while the close is in the kernel. */
	ck_assert_int_eq(uco_spawn(&t, close_mid_flight,
				   (void *)(intptr_t)p[1], NULL), 0);
	ck_assert_int_eq(uco_yield(), 0);
	ck_assert_int_eq(uco_task_get_state(t), UCO_TASK_WAITING);
	ck_assert_int_eq(uco_cancel(t), 0);
	ck_assert_int_eq(uco_join(t, NULL), 0);
	uco_task_release(t);

	/* Under a timeout scope that has expired. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	s = uco_timeout_at(uco_now() - UCO_NSEC_PER_MSEC);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(uco_nop(), -ETIMEDOUT);
	ck_assert_int_eq(uco_close(p[0]), 0);
	assert_closed(p[0]);
	ck_assert_int_eq(uco_timeout_end(s), -ETIMEDOUT);
	ck_assert_int_eq(uco_close(p[1]), 0);
	assert_closed(p[1]);
}

START_TEST(close_in_cancelled_task_releases_fd)
{
	/* lc_run counts the process's fds too. */
	lc_run(body_close_in_cancelled_task, NULL, NULL);
}
END_TEST

/* ---- outside a task ------------------------------------------------------ */

START_TEST(outside_task)
{
	char buf[8];
	struct statx st;

	ck_assert_int_eq(uco_open("/dev/null", O_RDONLY, 0), -EPERM);
	ck_assert_int_eq(uco_read(0, buf, 1, 0), -EPERM);
	ck_assert_int_eq(uco_statx(AT_FDCWD, "/", 0, STATX_SIZE, &st), -EPERM);
	ck_assert_int_eq(uco_buffers_register(NULL, 0), -EPERM);
}
END_TEST

/* uco_close() releases outside a task too (a plain close(2)). */
START_TEST(close_outside_task_releases_fd)
{
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(uco_close(p[0]), 0);
	assert_closed(p[0]);
	ck_assert_int_eq(uco_close(p[0]), -EBADF);
	ck_assert_int_eq(uco_close(p[1]), 0);
	assert_closed(p[1]);
}
END_TEST

static Suite *file_suite(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("file");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, roundtrip);
	tcase_add_test(tc, short_read_eof);
	tcase_add_test(tc, read_full_pipe);
	tcase_add_test(tc, vectored);
	tcase_add_test(tc, fixed);
	tcase_add_test(tc, fixed_replace_in_flight);
	tcase_add_test(tc, metadata);
	tcase_add_test(tc, direct);
	tcase_add_test(tc, full_device);
	tcase_add_test(tc, cancel_read);
	tcase_add_test(tc, timeout_read);
	tcase_add_test(tc, outside_task);
	tcase_add_test(tc, close_in_cancelled_task_releases_fd);
	tcase_add_test(tc, close_outside_task_releases_fd);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_main_run(file_suite());
}
