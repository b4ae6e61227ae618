/* SPDX-License-Identifier: MIT */
/* Python's conveniences: create_connection (every address, one deadline; a name's addresses
 * raced by Happy Eyeballs on a loop of the call's own) and create_server. */
#include "internal.h"

#include "csock/connect.h"

#include <stdio.h>
#include <string.h>

/* Appends "; text" (or "text" first) to a bounded message, marking a cut instead of losing it
 * silently. */
static void append(char *msg, size_t size, const char *text)
{
    size_t used = strlen(msg);
    const char *sep = used ? "; " : "";
    if (used + strlen(sep) + strlen(text) + 4 >= size) {
        if (used + 4 < size && strcmp(msg + used - 3, "...") != 0) strcat(msg, " ...");
        return;
    }
    strcat(msg, sep);
    strcat(msg, text);
}

/* Whether item i repeats an earlier address of the list: glibc, for one, gives 127.0.0.1 twice
 * for an IPv4 lookup of a name that /etc/hosts lists as both ::1 and 127.0.0.1. */
static int tried_before(const csock_addrlist *list, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (list->items[j].addr.len == list->items[i].addr.len &&
            memcmp(&list->items[j].addr.ss, &list->items[i].addr.ss, list->items[i].addr.len) == 0)
            return 1;
    return 0;
}

/* One attempt: a socket of the item's family, bound to source if given, connected within
 * timeout_ns. Returns the socket, or NULL with the failure recorded. When the connect step is
 * what failed, *connect_rc is its code and *why the text that followed its reason (or NULL): with
 * the item's address, the parts of its message. An earlier step's failure leaves *connect_rc 0.
 * The socket is made for the item's family and the item came from getaddrinfo, so the connect
 * step's own checks pass and its failure is connect(2)'s. */
static csock *attempt(const csock_addrinfo *item, int64_t timeout_ns, const csock_addr *source,
                      int *connect_rc, const char **why)
{
    *connect_rc = 0;
    *why = NULL;
    csock *s = csock_socket(item->family, SOCK_STREAM, item->protocol);
    if (!s) return NULL;
    int rc = csock__set_timeout_ns(s, timeout_ns);
    if (rc < 0) csock__fail(rc, "settimeout", NULL);
    if (rc == 0 && source) rc = csock_bind_addr(s, source);
    if (rc == 0 && (rc = csock__connect_addr(s, &item->addr, why)) < 0) *connect_rc = rc;
    if (rc < 0) {
        csock_free(s);
        return NULL;
    }
    return s;
}

/* Writes a failed connect's reason as a list item: "addr: reason", its detail after it. */
static void connect_item(char *buf, size_t size, const csock_addr *addr, int rc, const char *why)
{
    char where[CSOCK_ADDRSTRLEN];
    snprintf(buf, size, "%s: %s%s", csock__addr_text(addr, where), csock_strerror(rc),
             why ? why : "");
}

static atomic_int happy_eyeballs = 1;

int csock_set_happy_eyeballs(int on)
{
    return atomic_exchange(&happy_eyeballs, on != 0);
}

struct raced {
    csock *s;
    int done;
};

static void on_raced(csock_loop *loop, csock *s, int error, void *data)
{
    struct raced *r = data;
    (void)loop, (void)error;
    r->s = s;
    r->done = 1;
}

/* Connects to a name by Happy Eyeballs, the loop's way (src/loop_connect.c), on a loop of the
 * call's own, so the blocking call and the loop's race addresses alike and word their failures
 * alike. Returns the socket, or NULL with the failure recorded; *ran is 0 when no loop could be
 * made (nothing recorded then: the caller tries the addresses in order instead). */
static csock *race(const char *host, int port, int64_t timeout_ns, const csock_addr *source,
                   int *ran)
{
    csock_loop *loop = csock_loop_new();
    *ran = loop != NULL;
    if (!loop) return NULL;
    csock_connect_options o = {.timeout = timeout_ns > 0 ? (double)timeout_ns / 1e9 : 0};
    if (source) o.source = *source;
    struct raced r = {0};
    if (csock_loop_connect(loop, host, port, &o, on_raced, &r))
        while (!r.done && csock_loop_run_once(loop, CSOCK_NO_TIMEOUT) >= 0)
            ;
    csock_loop_free(loop);
    int rc = r.s ? csock__set_timeout_ns(r.s, timeout_ns) : 0;
    if (rc < 0) {
        char where[CSOCK_ADDRSTRLEN];
        csock_free(r.s);
        r.s = NULL;
        csock__failf(rc, "connect %s: %s", csock__hostport_text(host, port, where, sizeof where),
                     csock_strerror(rc));
    }
    return r.s;
}

csock *csock_create_connection(const char *host, int port, double timeout, const csock_addr *source)
{
    char where[CSOCK_ADDRSTRLEN];
    int rc = 0;
    int64_t timeout_ns = csock__default_timeout_ns();
    if (timeout != CSOCK_DEFAULT_TIMEOUT &&
        csock__seconds_ns(timeout, CSOCK__TIMEOUT, "create_connection", &timeout_ns) < 0)
        return NULL;
    if (!host || !*host) {
        csock__failf(CSOCK_EINVAL, "create_connection: no host to connect to");
        return NULL;
    }
    if (source && source->len == 0) source = NULL;
    if (csock__addr_check(source, "create_connection source") < 0) return NULL;
    int family = source ? source->ss.ss_family : 0;
    /* A bad Unix address is said as connect's own fault, not as a failed look-up. */
    csock_addr unix_addr;
    if (csock_unix_path(host) &&
        csock__lookup(&unix_addr, host, port, family, SOCK_STREAM, 0, "connect") < 0)
        return NULL;
    /* A name may have addresses of both families: they are raced. A numeric or Unix address is
     * the one there is, and a timeout of 0 cannot wait for any race. */
    if (atomic_load(&happy_eyeballs) && timeout_ns != 0 && !csock_unix_path(host) &&
        csock__numeric_host(&unix_addr, host, port) != 0 && port >= 0 && port <= 65535) {
        int ran;
        csock *s = race(host, port, timeout_ns, source, &ran);
        if (ran) return s;
    }
    csock_addrlist *list = csock_getaddrinfo(host, port, family, SOCK_STREAM, 0, 0);
    if (!list) {
        rc = csock_lastcode();
        csock__failf(rc, "connect %s: %s", csock__hostport_text(host, port, where, sizeof where),
                     csock_strerror(rc));
        return NULL;
    }

    /* The timeout bounds the whole call: each address gets what is left. */
    int64_t deadline = timeout_ns > 0 ? csock__now() + timeout_ns : 0;
    char tried[1024] = "";
    csock *s = NULL;
    int connect_rc = 0;     /* the last attempt's connect code, 0 if another step failed */
    const char *why = NULL; /* what followed the reason in the last attempt's message */
    size_t attempts = 0;
    for (size_t i = 0; i < list->count && !s; i++) {
        const csock_addrinfo *item = &list->items[i];
        if (tried_before(list, i)) continue;
        attempts++;
        int64_t left = timeout_ns;
        if (deadline && (left = deadline - csock__now()) <= 0) {
            rc = CSOCK_ETIMEOUT;
            char line[CSOCK_ADDRSTRLEN + 32];
            snprintf(line, sizeof line, "%s: not tried, timed out",
                     csock__addr_text(&item->addr, where));
            append(tried, sizeof tried, line);
            continue;
        }
        s = attempt(item, left, source, &connect_rc, &why);
        if (!s) {
            rc = csock_lastcode();
            /* The list gives a connect failure by its address and reason (the step is the
             * call's own); another step's failure, such as the source's bind, stands whole. */
            char line[CSOCK_ADDRSTRLEN + 256];
            if (connect_rc < 0) connect_item(line, sizeof line, &item->addr, connect_rc, why);
            append(tried, sizeof tried, connect_rc < 0 ? line : csock_lasterror());
        }
    }
    /* A name with one address reads as csock_connect's message: "connect localhost:9
     * (127.0.0.1:9): Connection refused", or without the parenthesis for a numeric host. */
    if (!s && attempts == 1 && connect_rc < 0) {
        char addr[CSOCK_ADDRSTRLEN], asked[CSOCK_ADDRSTRLEN];
        csock__addr_text(&list->items[0].addr, addr);
        csock__hostport_text(host, port, asked, sizeof asked);
        if (!why) why = "";
        if (strcmp(addr, asked) == 0)
            snprintf(tried, sizeof tried, "%s%s", csock_strerror(connect_rc), why);
        else
            snprintf(tried, sizeof tried, "(%s): %s%s", addr, csock_strerror(connect_rc), why);
    }
    if (s && (rc = csock__set_timeout_ns(s, timeout_ns)) < 0) {
        csock_free(s);
        s = NULL;
        append(tried, sizeof tried, csock_strerror(rc));
    }
    csock_freeaddrinfo(list);
    if (!s) {
        if (tried[0] == '\0')
            snprintf(tried, sizeof tried, "no address of the source address's family");
        if (rc == 0) rc = CSOCK_EADDRNOTAVAIL;
        csock__failf(rc, "connect %s%s%s", csock__hostport_text(host, port, where, sizeof where),
                     tried[0] == '(' ? " " : ": ", tried);
    }
    return s;
}

/* The family a server's socket gets: the options', else the one its host's text names. */
static int server_family(const char *host, const csock_listen_options *o)
{
    if (o->family) return o->family;
    if (csock_unix_path(host)) return AF_UNIX;
    if (o->dualstack || (host && strchr(host, ':'))) return AF_INET6;
    return AF_INET;
}

/* A socket of family with the server options set, before it is bound. */
static csock *server_socket(int family, const csock_listen_options *o)
{
    if (o->dualstack && family != AF_INET6) {
        csock__failf(CSOCK_EINVAL, "create_server: dualstack needs an AF_INET6 socket");
        return NULL;
    }
    csock *s = csock_socket(family, o->type ? o->type : SOCK_STREAM, 0);
    if (!s) return NULL;
    int inet = family == AF_INET || family == AF_INET6;
    int rc = 0;
    if (inet && !o->no_reuse_addr) rc = csock_setreuseaddr(s, 1);
    if (rc == 0 && o->reuse_port) rc = csock_setreuseport(s, 1);
    /* As Python: an IPv6 server is IPv6-only unless dual-stack was asked for, whatever the
     * system's default (net.ipv6.bindv6only). */
    if (rc == 0 && family == AF_INET6) rc = csock_setv6only(s, !o->dualstack);
    if (rc < 0) {
        csock_free(s);
        return NULL;
    }
    return s;
}

/* Listens on a bound server socket (datagram sockets only bind); frees it on failure. */
static csock *server_listen(csock *s, int rc, const csock_listen_options *o)
{
    int type = o->type ? o->type : SOCK_STREAM;
    if (rc == 0 && (type == SOCK_STREAM || type == SOCK_SEQPACKET))
        rc = csock_listen(s, o->backlog > 0 ? o->backlog : 128);
    if (rc < 0) {
        csock_free(s);
        return NULL;
    }
    return s;
}

csock *csock_create_server(const char *host, int port, const csock_listen_options *opts)
{
    csock_listen_options o = {0};
    if (opts) o = *opts;
    int family = server_family(host, &o);
    csock *s = server_socket(family, &o);
    if (!s) return NULL;
    int rc;
    if (family == AF_UNIX) {
        /* Parsed once, here; the address is bound as it is. */
        csock_addr addr;
        rc = csock__lookup(&addr, host, port, AF_UNIX, csock_type(s), 1, "bind");
        if (rc == 0) rc = csock__bind_unix_addr(s, &addr, o.unix_mode, !o.keep_stale);
    } else {
        rc = csock_bind(s, host, port);
    }
    return server_listen(s, rc, &o);
}

csock *csock_create_server_addr(const csock_addr *addr, const csock_listen_options *opts)
{
    csock_listen_options o = {0};
    if (opts) o = *opts;
    if (!addr || addr->len == 0) {
        csock__failf(CSOCK_EINVAL, "create_server: no address");
        return NULL;
    }
    if (csock__addr_check(addr, "create_server") < 0) return NULL;
    int family = addr->ss.ss_family;
    if (o.family && o.family != family) {
        char where[CSOCK_ADDRSTRLEN], f1[24], f2[24];
        csock__failf(CSOCK_EAFNOSUPPORT, "create_server %s: an %s address for an %s socket",
                     csock__addr_text(addr, where), csock__family_name(family, f1),
                     csock__family_name(o.family, f2));
        return NULL;
    }
    csock *s = server_socket(family, &o);
    if (!s) return NULL;
    int rc = family == AF_UNIX ? csock__bind_unix_addr(s, addr, o.unix_mode, !o.keep_stale)
                               : csock_bind_addr(s, addr);
    return server_listen(s, rc, &o);
}
