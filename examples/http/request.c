/* SPDX-License-Identifier: MIT */
/* The HTTP example's request parser (request.h). */
#define _GNU_SOURCE /* strcasestr */
#include "request.h"

#include <string.h>
#include <strings.h>

int request_line(struct request *r, const char *line, size_t len)
{
    const char *sp1 = memchr(line, ' ', len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
    if (!sp1 || !sp2 || sp1 == line || len - (size_t)(sp2 + 1 - line) < 8 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    *r = (struct request){.in_head = 1, .close = sp2[8] == '0'}; /* HTTP/1.0: close by default */
    return 0;
}

/* A body's length: decimal digits between optional blanks, and not absurdly large. Returns 0, or
 * -1 for anything else: a server that guessed would skip a body of the wrong size and take the
 * rest for the next request. */
static int content_length(const char *text, size_t len, size_t *length)
{
    size_t i = 0, n = 0, digits;
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    for (digits = 0; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++)
        n = n * 10 + (size_t)(text[i] - '0');
    while (i < len && (text[i] == ' ' || text[i] == '\t'))
        i++;
    if (digits == 0 || digits > 15 || i != len) return -1;
    *length = n;
    return 0;
}

int request_header(struct request *r, const char *line, size_t len)
{
    char text[HEAD_MAX + 1];
    if (len > HEAD_MAX) return -1;
    memcpy(text, line, len);
    text[len] = 0;
    if (strncasecmp(text, "Connection:", 11) == 0) {
        if (strcasestr(text + 11, "close")) r->close = 1;
        if (strcasestr(text + 11, "keep-alive")) r->close = 0;
    } else if (strncasecmp(text, "Content-Length:", 15) == 0) {
        return content_length(text + 15, len - 15, &r->body_left);
    }
    return 0;
}
