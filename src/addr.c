/* SPDX-License-Identifier: MIT */
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

#define UNIX_PREFIX "unix:" /* the prefix that makes any text a Unix path */

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

/* The one rule for "is this text a Unix address": every call that takes an address's text asks
 * here, so that a text means the same thing wherever it is given. */
const char *csock_unix_path(const char *text)
{
    if (!text) return NULL;
    if (text[0] == UNIX_PREFIX[0] && strncmp(text, UNIX_PREFIX, sizeof UNIX_PREFIX - 1) == 0)
        return text + sizeof UNIX_PREFIX - 1;
    if (text[0] == '/' || text[0] == '@') return text;
    return NULL;
}

const char *csock__unix_text(const char *text, int family)
{
    const char *path = csock_unix_path(text);
    return path || family != AF_UNIX ? path : text;
}

int csock__unix_addr(csock_addr *out, const char *path, size_t n, const char *op)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    memset(out, 0, sizeof *out);
    if (n == 0) return csock__failf(CSOCK_EINVAL, "%s: empty Unix socket path", op);
    un->sun_family = AF_UNIX;
    if (path[0] == '@') {
        /* Linux abstract name: a leading NUL, then the name's bytes (any, NULs too), with no
         * terminator. */
        if (n == 1) return csock__failf(CSOCK_EINVAL, "%s @: empty abstract Unix name", op);
        if (n - 1 > (size_t)UNIX_PATH_MAX)
            return csock__failf(CSOCK_ENAMETOOLONG,
                                "%s %.40s...: abstract Unix name too long (%zu bytes, at most %d)",
                                op, path, n - 1, UNIX_PATH_MAX);
        memcpy(un->sun_path + 1, path + 1, n - 1);
        out->len = (socklen_t)(off + n);
        return 0;
    }
    if (n > (size_t)UNIX_PATH_MAX)
        return csock__failf(CSOCK_ENAMETOOLONG,
                            "%s %.40s...: Unix socket path too long (%zu bytes, at most %d)", op,
                            path, n, UNIX_PATH_MAX);
    /* The kernel would stop at a NUL and bind a shorter path than the one given. */
    const char *nul = memchr(path, '\0', n);
    if (nul)
        return csock__failf(CSOCK_EINVAL,
                            "%s %.40s: a Unix socket path cannot hold a NUL byte (byte %zu of %zu)",
                            op, path, (size_t)(nul - path), n);
    memcpy(un->sun_path, path, n);
    out->len = (socklen_t)(off + n + 1);
    return 0;
}

int csock_addr_unix(csock_addr *out, const char *path, size_t len)
{
    if (!out || !path) return csock__failf(CSOCK_EINVAL, "make Unix address: NULL argument");
    size_t prefix = sizeof UNIX_PREFIX - 1;
    if (len >= prefix && memcmp(path, UNIX_PREFIX, prefix) == 0) path += prefix, len -= prefix;
    return csock__unix_addr(out, path, len, "make Unix address");
}

/* inet_pton(AF_INET)'s dotted quad, in one pass: four decimal numbers of 0-255 without leading
 * zeros, joined by dots and nothing else. Returns 1 with *addr in network order, else 0. */
static int dotted_quad(const char *text, struct in_addr *addr)
{
    uint32_t value = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0 && *text++ != '.') return 0;
        unsigned n = 0, digits = 0;
        while (*text >= '0' && *text <= '9') {
            if (digits == 1 && n == 0) return 0; /* a leading zero */
            n = n * 10 + (unsigned)(*text++ - '0');
            if (n > 255) return 0;
            digits++;
        }
        if (digits == 0) return 0;
        value = value << 8 | n;
    }
    if (*text != '\0') return 0;
    addr->s_addr = htonl(value);
    return 1;
}

int csock__numeric_host(csock_addr *out, const char *host, int port)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->ss;
    if (dotted_quad(host, &in4->sin_addr)) {
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

/* Where the host and the port lie in "host:port" text. */
struct hostport {
    const char *host;
    size_t hostlen;
    const char *port; /* the rest of the text after the colon; NULL when there is none */
};

/* Splits text as csock_split_host_port does, recording a failure as "op "text": reason".
 * Returns 1 (a port), 0 (none, with CSOCK_SPLIT_PORT_OPTIONAL) or CSOCK_EINVAL. */
static int split(const char *text, int flags, struct hostport *hp, const char *op)
{
    int optional = flags & CSOCK_SPLIT_PORT_OPTIONAL;
    const char *why = NULL;
    hp->port = NULL;
    if (text[0] == '[') {
        /* Brackets hold an IPv6 address (one colon at least, no more brackets), then the port
         * or the end. */
        const char *close = strchr(text, ']');
        size_t inside = close ? (size_t)(close - text - 1) : 0;
        hp->host = text + 1;
        hp->hostlen = inside;
        if (!close || (close[1] != '\0' && close[1] != ':') || !memchr(text + 1, ':', inside) ||
            memchr(text + 1, '[', inside))
            why = "an IPv6 address in brackets looks like [::1]:80";
        else if (close[1] == ':')
            hp->port = close + 2;
    } else {
        /* One colon separates the port; more are an IPv6 address, which needs brackets before
         * a port ("::1:80" could be either). */
        const char *colon = strrchr(text, ':');
        if (colon && memchr(text, ':', (size_t)(colon - text))) {
            if (!optional) why = "an IPv6 address needs brackets before a port: [::1]:80";
            colon = NULL;
        }
        hp->host = text;
        hp->hostlen = colon ? (size_t)(colon - text) : strlen(text);
        hp->port = colon ? colon + 1 : NULL;
        if (!why && (memchr(text, '[', hp->hostlen) || memchr(text, ']', hp->hostlen)))
            why = "brackets go around an IPv6 address only: [::1]:80";
    }
    if (!why && !hp->port && !optional) why = "a port is needed: host:port, [v6]:port or :port";
    if (why) return csock__failf(CSOCK_EINVAL, "%s \"%.64s\": %s", op, text, why);
    return hp->port != NULL;
}

int csock_split_host_port(const char *text, char *host, size_t hostsize, char *port,
                          size_t portsize, int flags)
{
    if (!text || !host || !port)
        return csock__failf(CSOCK_EINVAL, "split host:port: NULL argument");
    if (flags & ~CSOCK_SPLIT_PORT_OPTIONAL)
        return csock__failf(CSOCK_EINVAL, "split host:port: unknown flags %#x", (unsigned)flags);
    struct hostport hp;
    int rc = split(text, flags, &hp, "split host:port");
    if (rc < 0) return rc;
    size_t portlen = hp.port ? strlen(hp.port) : 0;
    if (hp.hostlen >= hostsize || portlen >= portsize)
        return csock__failf(
            CSOCK_ENOSPC, "split host:port \"%.64s\": the %s does not fit in %zu bytes", text,
            hp.hostlen >= hostsize ? "host" : "port", hp.hostlen >= hostsize ? hostsize : portsize);
    memcpy(host, hp.host, hp.hostlen);
    host[hp.hostlen] = '\0';
    memcpy(port, hp.port ? hp.port : "", portlen + 1);
    return rc;
}

/* host and port as text, with brackets around a host with a colon (IPv6). Returns the length,
 * or -1 when it does not fit (nothing recorded). */
static int join(const char *host, int port, char *buf, size_t size)
{
    int n = snprintf(buf, size, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int csock_join_host_port(const char *host, int port, char *buf, size_t size)
{
    if (!buf) return csock__failf(CSOCK_EINVAL, "join host:port: NULL buffer");
    if (size > 0) buf[0] = '\0';
    if (!host) host = "";
    if (port < 0 || port > 65535)
        return csock__failf(CSOCK_EINVAL, "join host:port %.64s %d: port out of range (0-65535)",
                            host, port);
    int n = join(host, port, buf, size);
    if (n < 0) {
        if (size > 0) buf[0] = '\0';
        return csock__failf(CSOCK_ENOSPC, "join host:port %.64s: buffer of %zu bytes is too small",
                            host, size);
    }
    return n;
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
    const char *path = csock_unix_path(host);
    if (path) {
        if (port != 0)
            return csock__failf(CSOCK_EINVAL, "make address %.64s: a Unix address has no port",
                                host);
        return csock__unix_addr(out, path, strlen(path), "make address");
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
    const char *path = csock_unix_path(text);
    if (path) return csock__unix_addr(out, path, strlen(path), "parse address");
    if (!*text) return csock__failf(CSOCK_EINVAL, "parse address \"\": empty address");
    if (strchr(text, '/')) /* in no host:port, numeric or not */
        return csock__failf(CSOCK_EINVAL,
                            "parse address \"%.64s\": not host:port (a relative Unix path is "
                            "written unix:%.64s)",
                            text, text);

    struct hostport hp;
    int rc = split(text, 0, &hp, "parse address");
    if (rc < 0) return rc;
    int port = csock_parse_port(hp.port);
    if (port < 0)
        return csock__failf(CSOCK_EINVAL,
                            "parse address \"%.64s\": bad port \"%.16s\" (expected 0-65535)", text,
                            hp.port);
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    int numeric = hp.hostlen < sizeof host;
    if (numeric) {
        memcpy(host, hp.host, hp.hostlen);
        host[hp.hostlen] = '\0';
        numeric = csock__numeric_host(out, hp.hostlen ? host : "0.0.0.0", port) == 0;
    }
    if (!numeric)
        return csock__failf(CSOCK_EINVAL,
                            "parse address \"%.64s\": \"%.*s\" is not a numeric IP address (names "
                            "are looked up by csock_addr_resolve)",
                            text, (int)(hp.hostlen > 64 ? 64 : hp.hostlen), hp.host);
    return 0;
}

/* Why addr's len cannot be an address, written into why; NULL when it can be. */
static const char *bad_length(const csock_addr *addr, char *why, size_t size)
{
    size_t len = addr->len, most = sizeof addr->ss, least = 0;
    const char *family = NULL;
    if (addr->ss.ss_family == AF_INET) least = sizeof(struct sockaddr_in), family = "AF_INET";
    if (addr->ss.ss_family == AF_INET6) least = sizeof(struct sockaddr_in6), family = "AF_INET6";
    if (len > most)
        snprintf(why, size, "address length %zu is over the %zu bytes of a csock_addr", len, most);
    else if (len < sizeof(sa_family_t))
        snprintf(why, size, "address length %zu is too short for an address family", len);
    else if (len < least)
        snprintf(why, size, "address length %zu is too short for %s (%zu bytes)", len, family,
                 least);
    else if (addr->ss.ss_family == AF_UNIX && len > sizeof(struct sockaddr_un))
        snprintf(why, size, "address length %zu is over the %zu bytes of an AF_UNIX address", len,
                 sizeof(struct sockaddr_un));
    else
        return NULL;
    return why;
}

int csock__addr_check(const csock_addr *addr, const char *op)
{
    char why[96];
    if (!addr || addr->len == 0 || !bad_length(addr, why, sizeof why)) return 0;
    return csock__failf(CSOCK_EINVAL, "%s: %s", op, why);
}

int csock_addr_family(const csock_addr *addr)
{
    char why[96];
    return (addr && addr->len > 0 && !bad_length(addr, why, sizeof why)) ? addr->ss.ss_family : 0;
}

int csock_addr_port(const csock_addr *addr)
{
    int rc = csock__addr_check(addr, "address port");
    if (rc < 0) return rc;
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

int csock__escape(char *buf, size_t size, size_t *pos, const void *text, size_t n)
{
    const unsigned char *p = text;
    for (size_t i = 0; i < n; i++) {
        char esc[5];
        int fits =
            isprint(p[i]) && p[i] != '\\'
                ? !put(buf, size, pos, (const char *)&p[i], 1)
                : !put(buf, size, pos, esc, (size_t)snprintf(esc, sizeof esc, "\\x%02x", p[i]));
        if (!fits) return -1;
    }
    return 0;
}

/* Writes the host, the port, or both (with IPv6 brackets) of addr into buf. */
static int format(const csock_addr *addr, char *buf, size_t size, int with_port)
{
    if (!addr || !buf) return csock__failf(CSOCK_EINVAL, "format address: NULL argument");
    if (size == 0) return csock__failf(CSOCK_ENOSPC, "format address: buffer of 0 bytes");
    buf[0] = '\0';
    int rc = csock__addr_check(addr, "format address");
    if (rc < 0) return rc;
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
            fits = !put(buf, size, &pos, "@", 1) &&
                   !csock__escape(buf, size, &pos, un->sun_path + 1, n - 1);
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
    /* Never records a failure: it runs while a message is being made (csock_lasterror), whose
     * code and operation must stay as they are. So what format would refuse is said here. */
    char why[96];
    int family = addr && addr->len > 0 ? addr->ss.ss_family : AF_UNSPEC;
    if (family == AF_UNSPEC)
        strcpy(buf, "(unnamed)");
    else if (bad_length(addr, why, sizeof why))
        snprintf(buf, CSOCK_ADDRSTRLEN, "(an address of %u bytes)", (unsigned)addr->len);
    else if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
        snprintf(buf, CSOCK_ADDRSTRLEN, "(an address of family %d)", family);
    else if (format(addr, buf, CSOCK_ADDRSTRLEN, 1) <= 0)
        strcpy(buf, "(unnamed)");
    return buf;
}

const char *csock__hostport_text(const char *host, int port, char *buf, size_t size)
{
    if (!host) host = "";
    const char *path = csock_unix_path(host);
    const char *text = path ? path : host;
    size_t n = strlen(text), pos = 0;
    char tail[16]; /* ":-2147483648" */
    int bracket = !path && host[0] != '[' && strchr(host, ':');
    int taillen = path ? 0 : snprintf(tail, sizeof tail, ":%d", port);
    buf[0] = '\0';
    if (!(bracket && put(buf, size, &pos, "[", 1)) && !csock__escape(buf, size, &pos, text, n) &&
        !(bracket && put(buf, size, &pos, "]", 1)) && !put(buf, size, &pos, tail, (size_t)taillen))
        return buf;
    /* Too long for buf: as much of the text as fits, marked as cut. */
    pos = 0;
    buf[0] = '\0';
    csock__escape(buf, size > 4 ? size - 3 : 1, &pos, text, n);
    put(buf, size, &pos, "...", 3);
    return buf;
}
