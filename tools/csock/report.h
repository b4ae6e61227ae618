/* SPDX-License-Identifier: MIT */
/* The csock command's bottom floor, part one: how it says things. Every message goes to standard
 * error as one line starting "csock: "; what it quotes of the user's (an argument, a name, a path)
 * has its control characters escaped. Nothing here knows the command line or a session. */
#ifndef CSOCK_TOOL_REPORT_H
#define CSOCK_TOOL_REPORT_H

#include <csock.h>
#include <csock/stream.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses (csock.1, EXIT STATUS). */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,  /* an operation failed: refused, reset, in use, no open port found */
    EXIT_USAGE = 2,   /* the command line is wrong; nothing was done */
    EXIT_TIMEOUT = 3, /* -w or -i ran out */
};

/* Prints "csock: " and the message to standard error (after clearing a terminal's partial line,
 * if one is shown). */
void say(const char *fmt, ...);

/* Whether a partial line (--progress on a terminal) is on standard error now: the next message
 * clears it first. */
void say_partial_line(int shown);

/* The same with a va_list, starting with who ("csock", "csock ping") rather than "csock", and
 * then after (e.g. "Try 'csock --help'.\n"), as written. */
void say_then(const char *who, const char *after, const char *fmt, va_list ap);

/* Says why op ("connect", "bind") of host:port failed, from csock_lastcode(), in the words of
 * csock's other messages: "connect nosuch.invalid:80: Name or service not known" (rather than
 * naming the look-up step). */
void say_failed(const char *op, const char *host, int port);

/* The exit status for a failed csock call: EXIT_TIMEOUT for a timeout, else EXIT_FAILED. */
int failure_status(int code);

/* Formats a host and port the way csock writes addresses ("[::1]:80"). */
void endpoint_text(const char *host, int port, char *buf, size_t size);

/* Writes a byte count the way csock's messages do: "345 B", "1.2 KiB", "3.4 MiB", "1.0 GiB"
 * (binary units, one decimal from KiB on). Returns buf. */
char *bytes_text(uint64_t n, char *buf, size_t size);

/* Writes a connected socket's (or stream's) peer address, or "a client" for an unnamed Unix
 * socket or one whose peer has gone (stream_peer_text returns -1 then, else 0). */
void peer_text(csock *s, char *buf, size_t size);
int stream_peer_text(csock_stream *st, char *buf, size_t size);

#endif
