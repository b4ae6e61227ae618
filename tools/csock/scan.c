/* SPDX-License-Identifier: MIT */
/* csock connect -z: connects to each port of a range in turn, and prints "HOST:PORT open" on
 * standard output for each that accepts (nothing is sent). With -v, each port that does not says
 * why on standard error. The host's first address is scanned, as nc does. A connection that
 * reached itself is no open port. */
#include "commands.h"
#include "listener.h"

#include <arpa/inet.h>
#include <stdio.h>

static void set_port(csock_addr *a, int port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((unsigned short)port);
    else
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((unsigned short)port);
}

/* Returns 1 if the port accepted, 0 if not, -1 if nothing can be scanned (no socket). */
static int try_port(const struct config *c, const csock_addrinfo *item, const csock_addr *source,
                    int port)
{
    csock_addr a = item->addr;
    set_port(&a, port);
    csock *s = csock_socket(item->family, SOCK_STREAM, 0);
    if (!s) return -1;
    int rc = csock_settimeout(s, c->wait > 0 ? c->wait : CSOCK_NO_TIMEOUT);
    if (rc == 0 && source) rc = csock_bind_addr(s, source);
    if (rc == 0) rc = csock_connect_addr(s, &a);
    if (rc < 0 && c->verbose) say("%s", csock_lasterror());
    int open = rc == 0; /* a connection that reached itself is refused, said as such */
    csock_free(s);
    return open;
}

int run_scan(const struct config *c)
{
    csock_addr source;
    int has = source_address(c, &source);
    int family = has > 0 ? csock_addr_family(&source) : c->family;
    csock_addrlist *list =
        has < 0 ? NULL
                : csock_getaddrinfo(c->address.host, c->address.port, family, SOCK_STREAM, 0, 0);
    if (!list) {
        if (has >= 0 && !say_family_not_found(c, family))
            say_failed("connect", c->address.host, c->address.port);
        return EXIT_FAILED;
    }
    int open = 0;
    for (int port = c->address.port; port <= c->address.port_last; port++) {
        int rc = try_port(c, &list->items[0], has > 0 ? &source : NULL, port);
        if (rc < 0) {
            say("%s", csock_lasterror());
            break;
        }
        if (rc == 1) {
            char text[300];
            endpoint_text(c->address.host, port, text, sizeof text);
            printf("%s open\n", text);
            fflush(stdout);
            open++;
        }
    }
    csock_freeaddrinfo(list);
    return open ? EXIT_OK : EXIT_FAILED;
}
