/* Reading the command line's values: durations with units, and addresses in csock's syntax
 * ("host:port", "[v6]:port", ":port", "unix:/path", "unix:@name"), port ranges for -z. */
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

static int copy_host(struct endpoint *out, const char *host, size_t len, const char **why)
{
    if (len >= sizeof out->host) {
        *why = "the host is too long";
        return -1;
    }
    memcpy(out->host, host, len);
    out->host[len] = '\0';
    return 0;
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
    if (strncmp(text, "unix:", 5) == 0 || text[0] == '/' || text[0] == '@') {
        const char *path = strncmp(text, "unix:", 5) == 0 ? text + 5 : text;
        out->unix_socket = 1;
        if (!*path) {
            *why = "a Unix address needs a path or @name after unix:";
            return -1;
        }
        if (strlen(path) > sizeof((struct sockaddr_un *)0)->sun_path - 1) {
            *why = "a Unix socket path has at most 107 bytes";
            return -1;
        }
        return copy_host(out, path, strlen(path), why);
    }
    const char *host = text, *port = NULL;
    size_t host_len;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || (close[1] != '\0' && close[1] != ':') ||
            !memchr(text + 1, ':', (size_t)(close - text - 1)) ||
            memchr(text + 1, '[', (size_t)(close - text - 1))) {
            *why = "an IPv6 address in brackets looks like [::1]:80";
            return -1;
        }
        host = text + 1;
        host_len = (size_t)(close - host);
        port = close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon && memchr(text, ':', (size_t)(colon - text))) {
            if (!port_optional) {
                *why = "an IPv6 address needs brackets before a port: [::1]:80";
                return -1;
            }
            colon = NULL; /* a bare IPv6 address, no port */
        }
        host_len = colon ? (size_t)(colon - text) : strlen(text);
        port = colon ? colon + 1 : NULL;
        if (memchr(text, '[', host_len) || memchr(text, ']', host_len)) {
            *why = "brackets go around an IPv6 address only: [::1]:80";
            return -1;
        }
    }
    if (copy_host(out, host, host_len, why) < 0) return -1;
    if (!port) {
        if (port_optional) return 0;
        *why = "a port is needed: host:port, [v6]:port or :port";
        return -1;
    }
    return parse_ports(port, ranges, out, why);
}

void endpoint_text(const char *host, int port, char *buf, size_t size)
{
    snprintf(buf, size, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

void say_failed(const char *op, const char *host, int port)
{
    char where[300];
    endpoint_text(host, port, where, sizeof where);
    say("%s %s: %s", op, where, csock_strerror(csock_lastcode()));
}
