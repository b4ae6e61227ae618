/* SPDX-License-Identifier: MIT */
/* Reading the command line's values: durations with units, and addresses in csock's syntax
 * ("host:port", "[v6]:port", ":port", "unix:/path", "unix:@name"), port ranges for -z. The
 * library splits host and port and says what is a Unix address; this file adds ranges and the
 * tool's words for a refusal. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The time rule (csock.1, OPTIONS): a decimal number, digits with at most one point ("2", "1.5",
 * ".5", "5."), then a unit or none. Nothing strtod would also take: no sign, no spaces, no
 * exponent, no hexadecimal, no "inf" or "nan". */
int parse_duration(const char *text, double *seconds, const char **why)
{
    static const struct {
        const char *suffix;
        double scale;
    } units[] = {{"", 1}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"m", 60}, {"h", 3600}};
    *why = NULL;
    const char *p = text ? text : "";
    size_t whole = strspn(p, "0123456789"), fraction = 0;
    const char *unit = p + whole;
    if (*unit == '.') {
        fraction = strspn(unit + 1, "0123456789");
        unit += 1 + fraction;
    }
    if (whole + fraction == 0) { /* no number at all: the caller's example says enough */
        if (p[0] == '-') *why = "a time cannot be negative";
        return -1;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        *why = "a time is a decimal number, not hexadecimal";
        return -1;
    }
    if ((*unit == 'e' || *unit == 'E') && unit[1] && strchr("+-0123456789", unit[1])) {
        *why = "a time is written without an exponent (1000s, not 1e3)";
        return -1;
    }
    if (*unit == '.') {
        *why = "a time has one decimal point at most";
        return -1;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].suffix) != 0) continue;
        double v = strtod(p, NULL) * units[i].scale;
        if (!(v <= 2147483647.0)) {
            *why = "a time is at most 2147483647s (68 years)";
            return -1;
        }
        *seconds = v;
        return 0;
    }
    *why = "the unit is us, ms, s, m or h (none is seconds)";
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
    int rc = csock_addr_parse(&out->unix_addr, text);
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

/* Why csock_split_host_port refused text, in the tool's words, from what it makes of the text
 * when a port is optional: a host alone (a port is missing, and an IPv6 address needs brackets
 * before one), or still no address (stray brackets). */
static const char *split_refusal(const char *text, int rc, int port_optional, char *port,
                                 size_t size)
{
    char host[sizeof((struct endpoint *)0)->host];
    int host_alone = !port_optional && csock_split_host_port(text, host, sizeof host, port, size,
                                                             CSOCK_SPLIT_PORT_OPTIONAL) == 0;
    if (rc == CSOCK_ENOSPC) return "the host is too long";
    if (host_alone && text[0] != '[' && strchr(host, ':'))
        return "an IPv6 address needs brackets before a port: [::1]:80";
    if (host_alone) return "a port is needed: host:port, [v6]:port or :port";
    if (text[0] == '[') return "an IPv6 address in brackets looks like [::1]:80";
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

int family_option(int opt, int *family)
{
    int asked = opt == '4' ? AF_INET : AF_INET6;
    if (*family && *family != asked) return -1;
    *family = asked;
    return 0;
}

int endpoint_family(const struct endpoint *e)
{
    csock_addr a;
    if (e->unix_socket || !e->host[0] || csock_addr_make(&a, e->host, 0) < 0) return 0;
    return csock_addr_family(&a);
}
