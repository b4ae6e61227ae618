/* SPDX-License-Identifier: MIT */
/* csock connect: makes the connection (TCP, UDP, Unix stream or datagram), then hands it to the
 * relay or to the command of --exec. A stream connects on a loop (csock_stream_connect, within
 * -w, the TLS handshake too); a datagram socket at once. */
#include "commands.h"
#include "listener.h"
#include "session.h"

/* Each way of connecting returns the socket, or NULL having said why. */

static csock *connect_unix_datagram(const struct config *c)
{
    csock *s = csock_socket(AF_UNIX, SOCK_DGRAM, 0);
    if (!s) return NULL;
    int rc = csock_settimeout(s, c->wait > 0 ? c->wait : CSOCK_NO_TIMEOUT);
    if (rc == 0) {
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

/* A stream for --exec, connected on a loop of its own as relay_connect connects (within -w). */
struct made {
    csock *s;
    int done; /* made ran: the operation is over, and freed */
};

static void made(csock_loop *loop, csock *s, int error, void *data)
{
    (void)error; /* the message says it */
    struct made *m = data;
    m->s = s;
    m->done = 1;
    csock_loop_stop(loop);
}

static csock *connect_stream(const struct config *c, const struct destination *to)
{
    csock_loop *loop = csock_loop_new();
    if (!loop) {
        say("%s", csock_lasterror());
        return NULL;
    }
    struct made m = {0};
    csock_connecting *op = csock_loop_connect(loop, to->host, to->port, &to->options, made, &m);
    if (!op) {
        say("%s", csock_lasterror());
    } else if (csock_loop_run(loop) < 0 && !m.done) { /* the loop failed first */
        say("%s", csock_lasterror());
        csock_connect_cancel(op);
    } else if (!m.s && !say_family_not_found(c, to->family)) {
        say("%s", csock_lasterror());
    }
    csock_loop_free(loop);
    return m.s;
}

int run_connect(const struct config *c)
{
    struct destination to;
    if (destination_of(c, &to) < 0) return EXIT_FAILED;
    csock *s;
    if (!c->udp && !c->exec) return relay_connect(c, &to);
    if (!c->udp)
        s = connect_stream(c, &to);
    else if (c->address.unix_socket) /* a datagram socket connects at once */
        s = connect_unix_datagram(c);
    else
        s = connect_udp(c, to.options.source.len ? &to.options.source : NULL);
    if (!s) return failure_status(csock_lastcode());
    if (c->verbose) {
        char peer[CSOCK_ADDRSTRLEN], connected[700];
        peer_text(s, peer, sizeof peer);
        connected_text(&to, peer, connected, sizeof connected);
        say("%s", connected);
    }
    if (c->exec) return exec_session(c, s);
    return relay_datagrams(c, s, ONE_PEER);
}
