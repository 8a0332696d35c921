/*
 * Streams over files and pipes (uco/stream.h): the same buffered reader
 * and writer as over sockets, with a transport that reads and writes with
 * IORING_OP_READ / WRITE.  A regular file is read and written at offsets
 * the stream keeps (one for reading from the start, one for writing, from
 * the end under O_APPEND), so the fd's own position is never used; a pipe,
 * FIFO or terminal has no offsets and is read and written at its position
 * (-1).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uco/file.h>
#include <uco/stream.h>

#include "core/alloc.h"
#include "stream_impl.h"

static ssize_t file_recv(struct uco_stream *s, void *buf, size_t len)
{
	ssize_t n = uco_read(s->fd, buf, len, s->roff);

	if (n > 0 && s->roff >= 0)
		s->roff += n;
	return n;
}

static ssize_t file_send(struct uco_stream *s, const void *buf, size_t len)
{
	ssize_t n = uco_write(s->fd, buf, len, s->woff);

	if (n > 0 && s->woff >= 0)
		s->woff += n;
	return n;
}

/* At close: a plain write (a regular file takes it at once; a pipe is
 * asked not to block where it can be). */
static ssize_t file_send_now(struct uco_stream *s, const void *buf,
			     size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = s->woff >= 0
			? pwrite(s->fd, (const char *)buf + done, len - done,
				 (off_t)s->woff)
			: write(s->fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return done ? (ssize_t)done : -errno;
		if (n == 0)
			break;
		done += (size_t)n;
		if (s->woff >= 0)
			s->woff += n;
	}
	return (ssize_t)done;
}

/* A file has no half-close: flushing is all write_eof does. */
static int file_shutdown_wr(struct uco_stream *s)
{
	(void)s;
	return 0;
}

const struct uco__stream_io uco__stream_file_io = {
	.recv = file_recv,
	.send = file_send,
	.send_now = file_send_now,
	.shutdown_wr = file_shutdown_wr,
};

UCO_API int uco_stream_open_fd(uco_stream **out, int fd,
			       const uco_stream_opts *opts)
{
	struct stat st;
	int r, fl;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	r = uco_stream_open(out, fd, opts);
	if (r < 0 || S_ISSOCK(st.st_mode))
		return r;
	(*out)->io = &uco__stream_file_io;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		fl = fcntl(fd, F_GETFL);
		(*out)->roff = 0;
		(*out)->woff = fl >= 0 && (fl & O_APPEND) ? (int64_t)st.st_size
							  : 0;
	}
	return 0;
}

UCO_API int uco_stream_open_file(uco_stream **out, const char *path,
				 int flags, mode_t mode,
				 const uco_stream_opts *opts)
{
	int fd, r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	fd = uco_open(path, flags | O_CLOEXEC, mode);
	if (fd < 0)
		return fd;
	r = uco_stream_open_fd(out, fd, opts);
	if (r < 0)
		close(fd);
	return r;
}

UCO_API int uco_stream_flush(uco_stream *s)
{
	return uco_stream_drain(s);
}
