/* The address value type: parsing "host:port" text and numeric hosts, formatting, Unix paths.
 * Nothing here looks a name up; resolve.c does. */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sun_path holds 108 bytes; a path needs its NUL, an abstract name its leading NUL. */
#define UNIX_PATH_MAX ((int)sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

int csock_parse_port(const char *text)
{
    if (!text) return csock__failf(CSOCK_EINVAL, "parse port: NULL text");
    long port = 0;
    const char *p = text;
    if (*p == '\0') return csock__failf(CSOCK_EINVAL, "parse port \"\": empty port");
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return csock__failf(CSOCK_EINVAL, "parse port \"%.64s\": not a number", text);
        port = port * 10 + (*p - '0');
        if (port > 65535)
            return csock__failf(CSOCK_EINVAL, "parse port \"%.64s\": out of range (0-65535)", text);
    }
    return (int)port;
}

int csock__unix_addr(csock_addr *out, const char *path, const char *op)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
    size_t n = strlen(path);
    memset(out, 0, sizeof *out);
    if (n == 0) return csock__failf(CSOCK_EINVAL, "%s: empty Unix socket path", op);
    if (n > (size_t)UNIX_PATH_MAX)
        return csock__failf(CSOCK_ENAMETOOLONG,
                            "%s %.40s...: Unix socket path too long (%zu bytes, at most %d)", op,
                            path, n, UNIX_PATH_MAX);
    un->sun_family = AF_UNIX;
    if (path[0] == '@') {
        /* Linux abstract name: a leading NUL, then the name, with no terminator. */
        if (n == 1) return csock__failf(CSOCK_EINVAL, "%s @: empty abstract Unix name", op);
        memcpy(un->sun_path + 1, path + 1, n - 1);
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        memcpy(un->sun_path, path, n + 1);
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

int csock__numeric_host(csock_addr *out, const char *host, int port)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        out->len = sizeof *in4;
        return 0;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
    char bare[INET6_ADDRSTRLEN];
    const char *pct = strchr(host, '%');
    size_t hostlen = pct ? (size_t)(pct - host) : strlen(host);
    if (hostlen >= sizeof bare) return 1;
    memcpy(bare, host, hostlen);
    bare[hostlen] = '\0';
    if (inet_pton(AF_INET6, bare, &in6->sin6_addr) != 1) return 1;
    if (pct) {
        /* A scope is an interface name or index: fe80::1%lo, fe80::1%1. */
        unsigned scope = if_nametoindex(pct + 1);
        if (scope == 0) {
            char *end;
            unsigned long v = strtoul(pct + 1, &end, 10);
            if (pct[1] == '\0' || *end != '\0' || v > UINT_MAX) return 1;
            scope = (unsigned)v;
        }
        in6->sin6_scope_id = scope;
    }
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    out->len = sizeof *in6;
    return 0;
}

static int check_port(int port, const char *op, const char *host)
{
    if (port < 0 || port > 65535) {
        char where[CSOCK_ADDRSTRLEN];
        return csock__failf(CSOCK_EINVAL, "%s %s: port out of range (0-65535)", op,
                            csock__hostport_text(host, port, where, sizeof where));
    }
    return 0;
}

int csock_addr_make(csock_addr *out, const char *host, int port)
{
    if (!out) return csock__failf(CSOCK_EINVAL, "make address: NULL output");
    memset(out, 0, sizeof *out);
    if (host && (host[0] == '/' || host[0] == '@')) {
        if (port != 0)
            return csock__failf(CSOCK_EINVAL, "make address %.64s: a Unix address has no port",
                                host);
        return csock__unix_addr(out, host, "make address");
    }
    int rc = check_port(port, "make address", host);
    if (rc < 0) return rc;
    if (!host || !*host) host = "0.0.0.0";
    if (csock__numeric_host(out, host, port) != 0) {
        char where[CSOCK_ADDRSTRLEN];
        return csock__failf(CSOCK_EINVAL, "make address %s: not a numeric address",
                            csock__hostport_text(host, port, where, sizeof where));
    }
    return 0;
}

int csock_addr_parse(csock_addr *out, const char *text)
{
    if (!out || !text) return csock__failf(CSOCK_EINVAL, "parse address: NULL argument");
    memset(out, 0, sizeof *out);
    if (text[0] == '/' || text[0] == '@') return csock__unix_addr(out, text, "parse address");
    if (strncmp(text, "unix:", 5) == 0) return csock__unix_addr(out, text + 5, "parse address");

    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    const char *colon;
    size_t hostlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return csock__failf(CSOCK_EINVAL, "parse address \"%.64s\": expected [IPv6]:port",
                                text);
        hostlen = (size_t)(close - text - 1);
        colon = close + 1;
        if (hostlen == 0 || hostlen >= sizeof host)
            return csock__failf(CSOCK_EINVAL, "parse address \"%.64s\": bad IPv6 address", text);
        memcpy(host, text + 1, hostlen);
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return csock__failf(CSOCK_EINVAL, "parse address \"%.64s\": missing port", text);
        if (memchr(text, ':', (size_t)(colon - text)))
            return csock__failf(CSOCK_EINVAL,
                                "parse address \"%.64s\": IPv6 addresses need brackets: [::1]:80",
                                text);
        hostlen = (size_t)(colon - text);
        if (hostlen >= sizeof host)
            return csock__failf(CSOCK_EINVAL, "parse address \"%.64s\": bad host", text);
        memcpy(host, text, hostlen);
    }
    host[hostlen] = '\0';

    int port = csock_parse_port(colon + 1);
    if (port < 0)
        return csock__failf(CSOCK_EINVAL,
                            "parse address \"%.64s\": bad port \"%.16s\" (expected 0-65535)", text,
                            colon + 1);
    if (hostlen == 0) strcpy(host, "0.0.0.0");
    if (csock__numeric_host(out, host, port) != 0)
        return csock__failf(CSOCK_EINVAL,
                            "parse address \"%.64s\": \"%s\" is not a numeric IP address (names "
                            "are looked up by csock_addr_resolve)",
                            text, host);
    if (text[0] == '[' && out->ss.ss_family != AF_INET6)
        return csock__failf(CSOCK_EINVAL, "parse address \"%.64s\": not an IPv6 address", text);
    return 0;
}

int csock_addr_family(const csock_addr *addr)
{
    return (addr && addr->len > 0) ? addr->ss.ss_family : 0;
}

int csock_addr_port(const csock_addr *addr)
{
    int family = csock_addr_family(addr);
    if (family == AF_INET) return ntohs(((const struct sockaddr_in *)&addr->ss)->sin_port);
    if (family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)&addr->ss)->sin6_port);
    return csock__failf(CSOCK_EAFNOSUPPORT, "address port: not an IPv4 or IPv6 address");
}

/* Appends text to buf at *pos, or reports that it does not fit. */
static int put(char *buf, size_t size, size_t *pos, const char *text, size_t n)
{
    if (*pos + n >= size) return -1;
    memcpy(buf + *pos, text, n);
    *pos += n;
    buf[*pos] = '\0';
    return 0;
}

/* Writes the host, the port, or both (with IPv6 brackets) of addr into buf. */
static int format(const csock_addr *addr, char *buf, size_t size, int with_port)
{
    if (!addr || !buf) return csock__failf(CSOCK_EINVAL, "format address: NULL argument");
    if (size == 0) return csock__failf(CSOCK_ENOSPC, "format address: buffer of 0 bytes");
    buf[0] = '\0';
    size_t pos = 0;
    int family = csock_addr_family(addr);
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    int fits = 0;
    if (family == AF_INET || family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr->ss;
        const void *raw = family == AF_INET
                              ? (const void *)&((const struct sockaddr_in *)&addr->ss)->sin_addr
                              : (const void *)&in6->sin6_addr;
        inet_ntop(family, raw, host, sizeof host);
        if (family == AF_INET6 && in6->sin6_scope_id != 0) {
            char ifname[IF_NAMESIZE];
            size_t n = strlen(host);
            if (if_indextoname(in6->sin6_scope_id, ifname))
                snprintf(host + n, sizeof host - n, "%%%s", ifname);
            else
                snprintf(host + n, sizeof host - n, "%%%u", in6->sin6_scope_id);
        }
        int bracket = with_port && family == AF_INET6;
        char port[8];
        int portlen = snprintf(port, sizeof port, ":%d", csock_addr_port(addr));
        fits = !(bracket && put(buf, size, &pos, "[", 1)) &&
               !put(buf, size, &pos, host, strlen(host)) &&
               !(bracket && put(buf, size, &pos, "]", 1)) &&
               !(with_port && put(buf, size, &pos, port, (size_t)portlen));
    } else if (family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&addr->ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = addr->len > off ? addr->len - off : 0;
        fits = 1;
        if (n > 0 && un->sun_path[0] == '\0') {
            fits = !put(buf, size, &pos, "@", 1);
            for (size_t i = 1; fits && i < n; i++) {
                unsigned char c = (unsigned char)un->sun_path[i];
                char esc[5];
                if (isprint(c) && c != '\\')
                    fits = !put(buf, size, &pos, (const char *)&c, 1);
                else
                    fits =
                        !put(buf, size, &pos, esc, (size_t)snprintf(esc, sizeof esc, "\\x%02x", c));
            }
        } else if (n > 0) {
            fits = !put(buf, size, &pos, un->sun_path, strnlen(un->sun_path, n));
        }
    } else {
        return csock__failf(CSOCK_EINVAL, "format address: unknown address family %d", family);
    }
    if (!fits) {
        buf[0] = '\0';
        return csock__failf(CSOCK_ENOSPC, "format address: buffer of %zu bytes is too small", size);
    }
    return (int)pos;
}

int csock_addr_format(const csock_addr *addr, char *buf, size_t size)
{
    return format(addr, buf, size, 1);
}

int csock_addr_host(const csock_addr *addr, char *buf, size_t size)
{
    return format(addr, buf, size, 0);
}

const char *csock__addr_text(const csock_addr *addr, char buf[CSOCK_ADDRSTRLEN])
{
    if (!addr || addr->len == 0 || format(addr, buf, CSOCK_ADDRSTRLEN, 1) <= 0)
        strcpy(buf, "(unnamed)");
    return buf;
}

const char *csock__hostport_text(const char *host, int port, char *buf, size_t size)
{
    if (!host || !*host) host = "";
    if (host[0] == '/' || host[0] == '@')
        snprintf(buf, size, "%.300s", host);
    else if (strchr(host, ':'))
        snprintf(buf, size, "[%.300s]:%d", host, port);
    else
        snprintf(buf, size, "%.300s:%d", host, port);
    return buf;
}
