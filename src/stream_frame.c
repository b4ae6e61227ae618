/* SPDX-License-Identifier: MIT */
/* Framing on streams: a line, exactly n bytes, a length-prefixed frame. Each takes bytes only
 * when a whole unit is there, and refuses a unit larger than the stream's max_buffer instead of
 * holding ever more. */
#include "stream_internal.h"

#include <string.h>

static int too_long(csock_stream *st, const char *what, size_t len)
{
    return csock__failf(CSOCK_EMSGSIZE, "stream: %s of %zu bytes or more, over max_buffer (%zu)",
                        what, len, csock__stream_max_buffer(st));
}

int csock_stream_read_line(csock_stream *st, const char **line, size_t *len)
{
    if (!st || !line || !len) return csock__failf(CSOCK_EINVAL, "stream read_line: NULL argument");
    const char *p;
    size_t n = csock__stream_unread(st, &p);
    const char *nl = n ? memchr(p, '\n', n) : NULL;
    if (nl) {
        n = (size_t)(nl - p) + 1;
    } else if (n >= csock__stream_max_buffer(st)) {
        return too_long(st, "a line", n);
    } else if (n == 0 || !csock__stream_eof(st)) {
        return 0; /* at end of file the unterminated rest is the last line */
    }
    *line = p;
    *len = n;
    csock_stream_consume(st, n);
    return 1;
}

int csock_stream_read_exactly(csock_stream *st, size_t n, const char **out)
{
    if (!st || !out) return csock__failf(CSOCK_EINVAL, "stream read_exactly: NULL argument");
    if (n > csock__stream_max_buffer(st)) return too_long(st, "a read", n);
    const char *p;
    if (csock__stream_unread(st, &p) < n) return 0;
    *out = p;
    csock_stream_consume(st, n);
    return 1;
}

int csock_stream_read_frame(csock_stream *st, const char **out, size_t *len)
{
    if (!st || !out || !len) return csock__failf(CSOCK_EINVAL, "stream read_frame: NULL argument");
    size_t max = csock__stream_max_buffer(st);
    if (max < 4) return too_long(st, "a frame", 4); /* not even a prefix fits */
    const char *p;
    size_t n = csock__stream_unread(st, &p);
    if (n < 4) return 0;
    const unsigned char *b = (const unsigned char *)p;
    size_t size = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
    if (size > max - 4) {
        *len = size;
        return too_long(st, "a frame", size + 4);
    }
    if (n - 4 < size) return 0;
    *out = p + 4;
    *len = size;
    csock_stream_consume(st, size + 4);
    return 1;
}

int csock_stream_write_frame(csock_stream *st, const void *buf, size_t len)
{
    if (len > 0xffffffffu)
        return csock__failf(CSOCK_EMSGSIZE, "stream write_frame: %zu bytes, over 4 GiB - 1", len);
    unsigned char prefix[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                               (unsigned char)(len >> 8), (unsigned char)len};
    struct iovec iov[2] = {{prefix, 4}, {(void *)buf, len}};
    return csock__stream_write_frame(st, iov);
}
