/* SPDX-License-Identifier: MIT */
/* How csock says things: one line on standard error per message, the exit status of a failure,
 * and the peer's address as the messages write it. */
#include "report.h"

#include <stdio.h>

static int partial_line;

void say_partial_line(int shown)
{
    partial_line = shown;
}

/* csock's own words have no control characters: any in the line come from what the user wrote
 * (an argument, a name, a path), and are escaped, so that a message stays one line and cannot
 * drive the terminal. */
void say_then(const char *who, const char *after, const char *fmt, va_list ap)
{
    char line[1024], shown[4 * sizeof line];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
        static const char named[] = {['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
        if (*p >= 0x20 && *p != 0x7f) {
            shown[n++] = (char)*p;
        } else if (*p < sizeof named && named[*p]) {
            shown[n++] = '\\';
            shown[n++] = named[*p];
        } else {
            n += (size_t)snprintf(shown + n, sizeof shown - n, "\\x%02x", *p);
        }
    }
    shown[n] = '\0';
    if (partial_line) fputs("\r\033[K", stderr);
    partial_line = 0;
    fprintf(stderr, "%s: %s\n%s", who, shown, after);
}

void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_then("csock", "", fmt, ap);
    va_end(ap);
}

void endpoint_text(const char *host, int port, char *buf, size_t size)
{
    csock_join_host_port(host, port, buf, size);
}

void say_failed(const char *op, const char *host, int port)
{
    char where[300];
    endpoint_text(host, port, where, sizeof where);
    say("%s %s: %s", op, where, csock_strerror(csock_lastcode()));
}

int failure_status(int code)
{
    return code == CSOCK_ETIMEOUT ? EXIT_TIMEOUT : EXIT_FAILED;
}

/* An address that does not format (an unnamed Unix socket's is "") is "a client". Returns 0, or
 * -1 for "a client". */
static int addr_or_client(int rc, const csock_addr *a, char *buf, size_t size)
{
    if (rc >= 0 && csock_addr_format(a, buf, size) > 0) return 0;
    snprintf(buf, size, "a client");
    return -1;
}

void peer_text(csock *s, char *buf, size_t size)
{
    csock_addr a;
    addr_or_client(csock_getpeername(s, &a), &a, buf, size);
}

int stream_peer_text(csock_stream *st, char *buf, size_t size)
{
    csock_addr a;
    return addr_or_client(csock_stream_peername(st, &a), &a, buf, size);
}

char *bytes_text(uint64_t n, char *buf, size_t size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) {
        snprintf(buf, size, "%llu B", (unsigned long long)n);
        return buf;
    }
    double v = (double)n / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0])
        v /= 1024, u++;
    snprintf(buf, size, "%.1f %s", v, units[u]);
    return buf;
}
