/* SPDX-License-Identifier: MIT */
/* Fuzzes the HTTP example's request parser (examples/http/request.c) the way its server drives
 * it: the input cut into lines as csock_stream_read_line cuts them (at most HEAD_MAX bytes),
 * ends of line dropped, a request line, headers until an empty line, again and again. No input
 * may crash it or read past a line, and what it accepts must be what the text says: a request
 * line has a method, a target and "HTTP/1.x"; a Content-Length it takes is exactly the
 * header's decimal digits (anything else would skip a body of another size and read the next
 * request from the wrong place). Built with -fsanitize=fuzzer when CSOCK_FUZZ is on. */
#include "request.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The Content-Length a strict reader finds in value: optional blanks, 1 to 15 digits, optional
 * blanks; -1 when it is not that. */
static long long strict_length(const char *value, size_t len)
{
    size_t i = 0;
    while (i < len && (value[i] == ' ' || value[i] == '\t'))
        i++;
    size_t digits = i;
    long long n = 0;
    for (; i < len && isdigit((unsigned char)value[i]); i++)
        if (i - digits < 16) n = n * 10 + (value[i] - '0');
    if (i == digits || i - digits > 15) return -1;
    while (i < len && (value[i] == ' ' || value[i] == '\t'))
        i++;
    return i == len ? n : -1;
}

static void check_line(const char *line, size_t len)
{
    const char *sp1 = memchr(line, ' ', len);
    if (!sp1 || sp1 == line) abort();
    const char *sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line));
    if (!sp2 || (size_t)(line + len - sp2) < 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) abort();
}

static void check_header(const struct request *before, const struct request *after,
                         const char *line, size_t len, int rc)
{
    int is_length = len >= 15 && strncasecmp(line, "Content-Length:", 15) == 0;
    if (rc < 0) {
        if (!is_length || strict_length(line + 15, len - 15) >= 0) abort(); /* refused a good one */
        return;
    }
    if (is_length) {
        long long n = strict_length(line + 15, len - 15);
        if (n < 0 || after->body_left != (size_t)n) abort();
    } else if (after->body_left != before->body_left) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct request r = {0};
    size_t at = 0;
    while (at < size) {
        /* One line as the stream hands it out, in a buffer of its own size. */
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t len = nl ? (size_t)(nl - (data + at)) + 1 : size - at;
        if (len > HEAD_MAX) return 0; /* the server answers 431 */
        char *line = malloc(len);
        if (!line) return 0;
        memcpy(line, data + at, len);
        at += len;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (!r.in_head) {
            if (len > 0 && request_line(&r, line, len) == 0) check_line(line, len);
        } else if (len > 0) {
            struct request before = r;
            check_header(&before, &r, line, len, request_header(&r, line, len));
        } else {
            r = (struct request){0}; /* the end of the head; the body, if any, is skipped */
        }
        free(line);
    }
    return 0;
}
