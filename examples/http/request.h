/* SPDX-License-Identifier: MIT */
/* The HTTP example's request parser: the request line and the few headers the server heeds,
 * one line at a time, with nothing allocated. A separate file so that it can be fuzzed. */
#ifndef CSOCK_EXAMPLES_HTTP_REQUEST_H
#define CSOCK_EXAMPLES_HTTP_REQUEST_H

#include <stddef.h>

#define HEAD_MAX 8192 /* the longest request line or header line, and a body we skip */

/* Where a connection is in its current request. */
struct request {
    int in_head;      /* the request line is read; headers come until an empty line */
    int close;        /* answer, then close */
    size_t body_left; /* bytes of a body to skip once the head is done */
    int discard;      /* answered with an error: read and drop the rest until end of file */
};

/* Starts a request from its request line, len bytes without the line's end: "GET /path
 * HTTP/1.1". Returns 0, or -1 when the line is not HTTP (the connection is then answered 400
 * and closed). */
int request_line(struct request *r, const char *line, size_t len);

/* Takes one header line of len bytes (without its end): Connection and Content-Length matter.
 * Returns 0, or -1 for a line longer than HEAD_MAX or a Content-Length that is not a decimal
 * number (the connection is then answered 400 and closed). */
int request_header(struct request *r, const char *line, size_t len);

#endif
