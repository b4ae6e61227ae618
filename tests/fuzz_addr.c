/* SPDX-License-Identifier: MIT */
/* Fuzzes the address and port parsers: no input may crash them, read past the text, or leak;
 * an IPv4, IPv6 or Unix-path address that parses formats back to text that parses to the same
 * address; host and port split and joined again split the same; and every call that takes an
 * address's text reads a Unix address the same way, an abstract name's bytes as written. Built
 * with -fsanitize=fuzzer when CSOCK_FUZZ is on. */
#include "fuzz.h"

#include <csock.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const csock_addr *a, const csock_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* parse(format(a)) == a, for every address whose text form is meant to parse back. */
static void check_round_trip(const csock_addr *a)
{
    char out[CSOCK_ADDRSTRLEN], again[CSOCK_ADDRSTRLEN + 8];
    if (csock_addr_format(a, out, sizeof out) < 0) abort();
    if (out[0] == '@')
        return; /* abstract names print bytes as \xHH, which is for reading, not parsing */
    /* A relative Unix path prints bare; it parses back with its "unix:" prefix. */
    int relative = csock_addr_family(a) == AF_UNIX && out[0] != '/';
    snprintf(again, sizeof again, "%s%s", relative ? "unix:" : "", out);
    csock_addr b;
    if (csock_addr_parse(&b, again) != 0 || !same(a, &b)) abort();
}

/* split(join(split(text))) == split(text), and the joined text parses to the same address. */
static void check_split_join(const char *text, int flags)
{
    size_t size = strlen(text) + 16; /* joining adds brackets and a port to a host from text */
    char *host = malloc(size), *port = malloc(size), *host2 = malloc(size), *port2 = malloc(size);
    char *joined = malloc(size);
    if (!host || !port || !host2 || !port2 || !joined) abort();
    int rc = csock_split_host_port(text, host, size, port, size, flags);
    if ((rc != 1 && rc != 0 && rc != CSOCK_EINVAL) ||
        (rc == 0 && !(flags & CSOCK_SPLIT_PORT_OPTIONAL)))
        abort();
    int number = rc == 1 ? csock_parse_port(port) : 0;
    if (rc >= 0 && number >= 0) {
        if (csock_join_host_port(host, number, joined, size) < 0) abort();
        if (csock_split_host_port(joined, host2, size, port2, size, 0) != 1 ||
            strcmp(host, host2) != 0 || csock_parse_port(port2) != number)
            abort();
        csock_addr a, b;
        if (rc == 1 && !csock_unix_path(text) && csock_addr_parse(&a, text) == 0 &&
            (csock_addr_parse(&b, joined) != 0 || !same(&a, &b)))
            abort();
    }
    free(host), free(port), free(host2), free(port2), free(joined);
}

/* The address a Unix path or "@name" must give: its bytes exactly, nothing unescaped. */
static int names(const csock_addr *a, const char *path)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
    size_t n = strlen(path), off = offsetof(struct sockaddr_un, sun_path);
    if (csock_addr_family(a) != AF_UNIX) return 0;
    if (path[0] == '@')
        return a->len == off + n && un->sun_path[0] == '\0' &&
               memcmp(un->sun_path + 1, path + 1, n - 1) == 0;
    return a->len == off + n + 1 && strcmp(un->sun_path, path) == 0;
}

/* One answer to "is this a Unix address, and which", from every call that takes text. */
static void check_unix_rule(const char *text)
{
    const char *path = csock_unix_path(text);
    csock_addr parsed, made, other;
    int p = csock_addr_parse(&parsed, text);
    int m = csock_addr_make(&made, text, 0);
    if (!path) {
        if ((p == 0 && csock_addr_family(&parsed) == AF_UNIX) ||
            (m == 0 && csock_addr_family(&made) == AF_UNIX))
            abort();
    } else {
        if (p != m || (p == 0 && (!same(&parsed, &made) || !names(&parsed, path)))) abort();
        if (p < 0 && p != CSOCK_EINVAL && p != CSOCK_ENAMETOOLONG) abort();
        /* Looked up nowhere: csock_addr_resolve and csock_getaddrinfo answer alike. */
        if (csock_addr_resolve(&other, text, 0, 0) != p || (p == 0 && !same(&other, &parsed)))
            abort();
        csock_addrlist *list = csock_getaddrinfo(text, 0, 0, 0, 0, 0);
        if ((list == NULL) != (p < 0) ||
            (list && (list->count != 1 || !same(&list->items[0].addr, &parsed))))
            abort();
        csock_freeaddrinfo(list);
        if (csock_addr_unix(&other, text, strlen(text)) != p || (p == 0 && !same(&other, &parsed)))
            abort();
    }
    /* Where the family is AF_UNIX already, any text is a path: "unix:" removed, if there. */
    int u = csock_addr_unix(&made, text, strlen(text));
    int r = csock_addr_resolve(&other, text, 0, AF_UNIX);
    if ((u == 0) != (r == 0) || (u == 0 && !same(&made, &other))) abort();
}

/* Bytes and a length, NULs and all: an abstract name keeps every byte, a path holds no NUL,
 * and nothing is cut short. */
static void check_unix_bytes(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t n = size;
    if (n >= 5 && memcmp(p, "unix:", 5) == 0) p += 5, n -= 5;
    csock_addr a;
    int rc = csock_addr_unix(&a, (const char *)data, size);
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a.ss;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    int fits = n > 0 && n <= 107 + (p[0] == '@');
    int ok = fits && (p[0] == '@' ? n > 1 : memchr(p, '\0', n) == NULL);
    if ((rc == 0) != ok) abort();
    if (rc == 0 && p[0] == '@' &&
        (a.len != off + n || un->sun_path[0] != '\0' || memcmp(un->sun_path + 1, p + 1, n - 1)))
        abort();
    if (rc == 0 && p[0] != '@' && (a.len != off + n + 1 || memcmp(un->sun_path, p, n) != 0))
        abort();
    if (rc < 0 && rc != (fits || n == 0 ? CSOCK_EINVAL : CSOCK_ENAMETOOLONG)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_unix_bytes(data, size);
    char *text = fuzz_text(data, size);
    if (!text) return 0;

    csock_addr a;
    if (csock_addr_parse(&a, text) == 0) check_round_trip(&a);
    csock_parse_port(text);
    check_split_join(text, 0);
    check_split_join(text, CSOCK_SPLIT_PORT_OPTIONAL);
    check_unix_rule(text);
    /* The text split at its last comma, as host and port. */
    char *comma = strrchr(text, ',');
    if (comma) {
        *comma = '\0';
        int port = csock_parse_port(comma + 1);
        if (csock_addr_make(&a, text, port < 0 ? 1 : port) == 0) check_round_trip(&a);
    }
    free(text);
    return 0;
}
