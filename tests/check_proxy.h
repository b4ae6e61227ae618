/* SPDX-License-Identifier: MIT */
/* What the tests across the fault proxy share: a client connected to a server through a new
 * proxy, as csock sockets. */
#ifndef CSOCK_CHECK_PROXY_H
#define CSOCK_CHECK_PROXY_H

#include "check.h"
#include "faultproxy.h"

struct check_link {
    faultproxy *proxy;
    csock *client, *server; /* the client's connection goes through the proxy */
};

/* A listener on loopback, a proxy of cfg to it, a client connected to the proxy and the server's
 * side accepted. Exits the test on failure. */
static inline struct check_link check_through_proxy(const faultproxy_config *cfg)
{
    struct check_link l;
    int port;
    csock *listener = check_listener("127.0.0.1", &port);
    l.proxy = faultproxy_start("127.0.0.1", port, cfg);
    if (!l.proxy) exit(1);
    l.client = csock_create_connection("127.0.0.1", faultproxy_port(l.proxy), 10, NULL);
    l.server = l.client ? csock_accept(listener, NULL) : NULL;
    if (!l.client || !l.server) {
        fprintf(stderr, "through the proxy: %s\n", csock_lasterror());
        exit(1);
    }
    csock_free(listener);
    return l;
}

/* Frees both sockets (either may be NULL, taken by a stream) and stops the proxy. */
static inline void check_link_free(struct check_link *l)
{
    csock_free(l->client);
    csock_free(l->server);
    faultproxy_stop(l->proxy);
}

#endif
