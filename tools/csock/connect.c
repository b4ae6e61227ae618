/* SPDX-License-Identifier: MIT */
/* csock connect: makes the connection (TCP, UDP, Unix stream or datagram), then hands it to the
 * relay or to the command of --exec. */
#include "commands.h"
#include "listener.h"
#include "session.h"

#include <string.h>

/* Each way of connecting returns the socket, or NULL having said why. */

static csock *connect_unix(const struct config *c, int type)
{
    csock *s = csock_socket(AF_UNIX, type, 0);
    if (!s) return NULL;
    int rc = csock_settimeout(s, c->wait > 0 ? c->wait : CSOCK_NO_TIMEOUT);
    if (rc == 0 && type == SOCK_DGRAM) {
        /* A datagram client needs a name of its own for replies to reach it: -s, or one the
         * kernel makes up (an abstract name, nothing left in the file system). */
        if (c->has_source) {
            rc = csock_bind_unix(s, c->source.host, 0, 1);
        } else {
            csock_addr autobind = {.len = sizeof(sa_family_t)};
            autobind.ss.ss_family = AF_UNIX;
            rc = csock_bind_addr(s, &autobind);
        }
    }
    if (rc == 0) rc = csock_connect(s, c->address.host, 0);
    if (rc < 0) {
        say("%s", csock_lasterror());
        csock_free(s);
        return NULL;
    }
    return s;
}

static csock *connect_udp(const struct config *c, const csock_addr *source)
{
    int family = source ? csock_addr_family(source) : c->family;
    csock_addrlist *list =
        csock_getaddrinfo(c->address.host, c->address.port, family, SOCK_DGRAM, 0, 0);
    if (!list) {
        if (!say_family_not_found(c, family))
            say_failed("connect", c->address.host, c->address.port);
        return NULL;
    }
    csock *s = csock_socket(list->items[0].family, SOCK_DGRAM, 0);
    int rc = s ? 0 : csock_lastcode();
    if (rc == 0 && source) rc = csock_bind_addr(s, source);
    if (rc == 0) rc = csock_connect_addr(s, &list->items[0].addr);
    csock_freeaddrinfo(list);
    if (rc < 0) {
        say("%s", csock_lasterror());
        csock_free(s);
        return NULL;
    }
    return s;
}

static csock *make_connection(const struct config *c)
{
    int type = c->udp ? SOCK_DGRAM : SOCK_STREAM;
    if (c->address.unix_socket) return connect_unix(c, type);
    csock_addr source;
    int has = source_address(c, &source);
    if (has < 0) return NULL;
    if (c->udp) return connect_udp(c, has ? &source : NULL);
    csock *s =
        csock_create_connection(c->address.host, c->address.port,
                                c->wait > 0 ? c->wait : CSOCK_NO_TIMEOUT, has ? &source : NULL);
    /* A connection that reached itself is refused, and said as such. */
    if (!s && !say_family_not_found(c, has ? csock_addr_family(&source) : 0))
        say("%s", csock_lasterror());
    return s;
}

int run_connect(const struct config *c)
{
    csock *s = make_connection(c);
    if (!s) return failure_status(csock_lastcode());
    if (c->verbose) {
        char asked[300], peer[CSOCK_ADDRSTRLEN];
        peer_text(s, peer, sizeof peer);
        if (c->address.unix_socket)
            say("connected to %s", c->address.host);
        else if (endpoint_text(c->address.host, c->address.port, asked, sizeof asked),
                 strcmp(asked, peer) == 0)
            say("connected to %s", peer);
        else
            say("connected to %s (%s)", asked, peer);
    }
    if (c->exec) return exec_session(c, s);
    if (c->udp) return relay_datagrams(c, s, ONE_PEER);
    return relay_stream(c, s);
}
