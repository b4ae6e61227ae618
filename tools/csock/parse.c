/* SPDX-License-Identifier: MIT */
/* Reading the command line's values: durations with units, and addresses in csock's syntax
 * ("host:port", "[v6]:port", ":port", "unix:/path", "unix:@name"), port ranges for -z. The
 * library splits host and port and says what is a Unix address; this file adds ranges and the
 * tool's words for a refusal. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int parse_duration(const char *text, double *seconds)
{
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {{"", 1}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"m", 60}, {"h", 3600}};
    char *end;
    if (!text || !*text || (!(text[0] >= '0' && text[0] <= '9') && text[0] != '.')) return -1;
    double v = strtod(text, &end);
    if (end == text || !isfinite(v)) return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            v *= units[i].scale;
            if (!(v >= 0 && v <= 2147483647.0)) return -1;
            *seconds = v;
            return 0;
        }
    }
    return -1;
}

/* "N" or, with ranges, "N-M" (N <= M). */
static int parse_ports(const char *text, int ranges, struct endpoint *out, const char **why)
{
    char first[8];
    const char *dash = ranges ? strchr(text, '-') : NULL;
    size_t len = dash ? (size_t)(dash - text) : strlen(text);
    if (len == 0 || len >= sizeof first) {
        *why = "a port is a number from 0 to 65535";
        return -1;
    }
    memcpy(first, text, len);
    first[len] = '\0';
    int low = csock_parse_port(first);
    int high = dash ? csock_parse_port(dash + 1) : low;
    if (low < 0 || high < 0) {
        *why = "a port is a number from 0 to 65535";
        return -1;
    }
    if (high < low) {
        *why = "a port range goes from the lower port to the higher";
        return -1;
    }
    out->port = low;
    out->port_last = high;
    out->has_port = 1;
    return 0;
}

/* A Unix address (csock_unix_path said so): checked as the library will read it. */
static int parse_unix(const char *text, const char *path, struct endpoint *out, const char **why)
{
    csock_addr a;
    int rc = csock_addr_parse(&a, text);
    out->unix_socket = 1;
    if (rc == CSOCK_ENAMETOOLONG)
        *why = "a Unix socket path has at most 107 bytes";
    else if (rc < 0)
        *why = path[0] == '@' ? "an abstract name needs a byte after @"
                              : "a Unix address needs a path or @name after unix:";
    if (rc < 0) return -1;
    memcpy(out->host, path, strlen(path) + 1); /* at most 108 bytes: it fits */
    return 0;
}

/* Why csock_split_host_port refused text, in the tool's words, asked in the order it checks:
 * the bracket form, a bare IPv6 address before a port, stray brackets, then the port. */
static const char *split_refusal(const char *text, int rc, int port_optional, char *port,
                                 size_t size)
{
    char host[sizeof((struct endpoint *)0)->host];
    const char *colon = strrchr(text, ':');
    /* Fine as a host alone: only the port is missing. */
    int host_alone = !port_optional && csock_split_host_port(text, host, sizeof host, port, size,
                                                             CSOCK_SPLIT_PORT_OPTIONAL) == 0;
    if (rc == CSOCK_ENOSPC) return "the host is too long";
    if (text[0] == '[' && !host_alone) return "an IPv6 address in brackets looks like [::1]:80";
    if (text[0] != '[' && colon && memchr(text, ':', (size_t)(colon - text)) && !port_optional)
        return "an IPv6 address needs brackets before a port: [::1]:80";
    if (host_alone) return "a port is needed: host:port, [v6]:port or :port";
    return "brackets go around an IPv6 address only: [::1]:80";
}

int parse_endpoint(const char *text, int port_optional, int ranges, struct endpoint *out,
                   const char **why)
{
    *out = (struct endpoint){0};
    *why = "";
    if (!text || !*text) {
        *why = "the address is empty";
        return -1;
    }
    const char *path = csock_unix_path(text);
    if (path) return parse_unix(text, path, out, why);
    /* The port is the end of the text: room for all of it, so only the host can be too long. */
    size_t size = strlen(text) + 1;
    char *port = malloc(size);
    if (!port) {
        *why = "out of memory";
        return -1;
    }
    int rc = csock_split_host_port(text, out->host, sizeof out->host, port, size,
                                   port_optional ? CSOCK_SPLIT_PORT_OPTIONAL : 0);
    if (rc < 0)
        *why = split_refusal(text, rc, port_optional, port, size);
    else if (rc == 1 && parse_ports(port, ranges, out, why) < 0)
        rc = -1;
    free(port);
    return rc < 0 ? -1 : 0;
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
