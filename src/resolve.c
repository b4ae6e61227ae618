/* SPDX-License-Identifier: MIT */
/* Name lookups: getaddrinfo/getnameinfo wrappers, and the host-and-port resolution behind bind,
 * connect and csock_addr_resolve. */
#include "internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_port(csock_addr *addr, int port)
{
    if (addr->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&addr->ss)->sin_port = htons((uint16_t)port);
    else if (addr->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&addr->ss)->sin6_port = htons((uint16_t)port);
}

/* csock__lookup without its trace line. */
static int lookup(csock_addr *out, const char *host, int port, int family, int type, int passive,
                  const char *op)
{
    char where[CSOCK_ADDRSTRLEN];
    memset(out, 0, sizeof *out);
    if (family == AF_UNIX && (!host || !*host))
        return csock__failf(CSOCK_EINVAL, "%s: a Unix socket needs a path", op);
    const char *path = csock__unix_text(host, family);
    if (path) {
        char f1[24];
        if (family != 0 && family != AF_UNIX)
            return csock__failf(CSOCK_EAFNOSUPPORT,
                                "%s %.300s: an AF_UNIX address for an %s socket", op, host,
                                csock__family_name(family, f1));
        if (port != 0)
            return csock__failf(CSOCK_EINVAL, "%s %.300s: a Unix address has no port (got %d)", op,
                                host, port);
        return csock__unix_addr(out, path, strlen(path), op);
    }
    if (port < 0 || port > 65535)
        return csock__failf(CSOCK_EINVAL, "%s %s: port out of range (0-65535)", op,
                            csock__hostport_text(host, port, where, sizeof where));
    if (!host || !*host)
        host = family == AF_INET6 ? "::" : "0.0.0.0";
    else if (strcmp(host, "<broadcast>") == 0 && family != AF_INET6)
        host = "255.255.255.255";

    if (csock__numeric_host(out, host, port) == 0) {
        char f1[24], f2[24];
        if (family != 0 && out->ss.ss_family != family)
            return csock__failf(CSOCK_EAFNOSUPPORT, "%s %s: an %s address for an %s socket", op,
                                csock__hostport_text(host, port, where, sizeof where),
                                csock__family_name(out->ss.ss_family, f1),
                                csock__family_name(family, f2));
        return 0;
    }

    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        int code = csock__gai_error(gai);
        return csock__failf(code, "%s %s: %s", op,
                            csock__hostport_text(host, port, where, sizeof where),
                            csock_strerror(code));
    }
    if (res->ai_addrlen > sizeof out->ss) {
        freeaddrinfo(res);
        return csock__failf(CSOCK_EAFNOSUPPORT, "%s %s: address too large", op,
                            csock__hostport_text(host, port, where, sizeof where));
    }
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    set_port(out, port);
    return 0;
}

int csock__lookup(csock_addr *out, const char *host, int port, int family, int type, int passive,
                  const char *op)
{
    int rc = lookup(out, host, port, family, type, passive, op);
    /* A call that ends here makes no system call of its own, so the lookup's failure is its
     * line; on success the call's own step prints one. */
    if (rc < 0 && csock__tracing()) {
        char where[CSOCK_ADDRSTRLEN];
        csock__trace("%s %s -> %s", op, csock__hostport_text(host, port, where, sizeof where),
                     csock_strerror(rc));
    }
    return rc;
}

int csock_addr_resolve(csock_addr *out, const char *host, int port, int family)
{
    if (!out) return csock__failf(CSOCK_EINVAL, "resolve: NULL output");
    return csock__lookup(out, host, port, family, 0, 0, "resolve");
}

/* A list of the one address addr. */
static csock_addrlist *one_address(const csock_addr *addr, int type, int protocol)
{
    csock_addrlist *list = calloc(1, sizeof(csock_addrlist) + sizeof(csock_addrinfo));
    if (!list) {
        char where[CSOCK_ADDRSTRLEN];
        csock__failf(CSOCK_ENOMEM, "getaddrinfo %s: out of memory", csock__addr_text(addr, where));
        return NULL;
    }
    list->count = 1;
    list->items[0] = (csock_addrinfo){addr->ss.ss_family, type, protocol, *addr};
    return list;
}

/* csock_getaddrinfo without its trace line. */
static csock_addrlist *addrinfo(const char *host, int port, int family, int type, int protocol,
                                int flags)
{
    char where[CSOCK_ADDRSTRLEN];
    if (csock__unix_text(host, family)) {
        /* A Unix address is looked up nowhere: it is the one address of its list. */
        csock_addr unix_addr;
        if (lookup(&unix_addr, host, port, family, type, 0, "getaddrinfo") < 0) return NULL;
        return one_address(&unix_addr, type ? type : SOCK_STREAM, protocol);
    }
    if (port < 0 || port > 65535) {
        csock__failf(CSOCK_EINVAL, "getaddrinfo %s: port out of range (0-65535)",
                     csock__hostport_text(host, port, where, sizeof where));
        return NULL;
    }
    /* A numeric address of the family asked for, for one type and no flags, is what getaddrinfo
     * would answer, with the protocol it gives that type: made here, without its parsing and
     * formatting. Everything else is getaddrinfo's, its errors too. */
    csock_addr numeric;
    int proto = type == SOCK_STREAM ? IPPROTO_TCP : type == SOCK_DGRAM ? IPPROTO_UDP : -1;
    if (flags == 0 && proto >= 0 && (protocol == 0 || protocol == proto) &&
        csock__numeric_host(&numeric, host, port) == 0 &&
        (family == 0 || family == numeric.ss.ss_family))
        return one_address(&numeric, type, proto);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_protocol = protocol;
    hints.ai_flags = flags;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        int code = csock__gai_error(gai);
        csock__failf(code, "getaddrinfo %s: %s",
                     csock__hostport_text(host, port, where, sizeof where), csock_strerror(code));
        return NULL;
    }
    size_t count = 0, namelen = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_addrlen <= sizeof(struct sockaddr_storage)) count++;
    if (res->ai_canonname) namelen = strlen(res->ai_canonname) + 1;
    /* One allocation: the header, the items, then the canonical name. */
    size_t size = sizeof(csock_addrlist) + count * sizeof(csock_addrinfo) + namelen;
    csock_addrlist *list = calloc(1, size);
    if (!list) {
        freeaddrinfo(res);
        csock__failf(CSOCK_ENOMEM, "getaddrinfo %s: out of memory",
                     csock__hostport_text(host, port, where, sizeof where));
        return NULL;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(struct sockaddr_storage)) continue;
        csock_addrinfo *item = &list->items[list->count++];
        item->family = ai->ai_family;
        item->type = ai->ai_socktype;
        item->protocol = ai->ai_protocol;
        memcpy(&item->addr.ss, ai->ai_addr, ai->ai_addrlen);
        item->addr.len = ai->ai_addrlen;
    }
    if (namelen) {
        char *name = (char *)&list->items[count];
        memcpy(name, res->ai_canonname, namelen);
        list->canonname = name;
    }
    freeaddrinfo(res);
    return list;
}

csock_addrlist *csock_getaddrinfo(const char *host, int port, int family, int type, int protocol,
                                  int flags)
{
    csock_addrlist *list = addrinfo(host, port, family, type, protocol, flags);
    if (csock__tracing()) {
        char where[CSOCK_ADDRSTRLEN], count[32];
        if (list)
            snprintf(count, sizeof count, "%zu address%s", list->count,
                     list->count == 1 ? "" : "es");
        csock__trace("getaddrinfo %s -> %s", csock__hostport_text(host, port, where, sizeof where),
                     list ? count : csock_strerror(csock_lastcode()));
    }
    return list;
}

void csock_freeaddrinfo(csock_addrlist *list)
{
    free(list);
}

int csock_getnameinfo(const csock_addr *addr, int flags, char *host, size_t hostlen, char *serv,
                      size_t servlen)
{
    if (!addr || addr->len == 0) return csock__failf(CSOCK_EINVAL, "getnameinfo: no address");
    int rc = csock__addr_check(addr, "getnameinfo");
    if (rc < 0) return rc;
    int gai =
        getnameinfo((const struct sockaddr *)&addr->ss, addr->len, host,
                    host ? (socklen_t)hostlen : 0, serv, serv ? (socklen_t)servlen : 0, flags);
    int code = gai ? csock__gai_error(gai) : 0;
    char where[CSOCK_ADDRSTRLEN];
    if (csock__tracing())
        csock__trace("getnameinfo %s -> %s%s%s", csock__addr_text(addr, where),
                     code   ? csock_strerror(code)
                     : host ? host
                            : "",
                     !code && host && serv ? " " : "", !code && serv ? serv : "");
    if (code)
        return csock__failf(code, "getnameinfo %s: %s", csock__addr_text(addr, where),
                            csock_strerror(code));
    return 0;
}
