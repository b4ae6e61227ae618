/* SPDX-License-Identifier: MIT */
/* csock listen: binds, says where (-v), then serves one client (a stream connection, or the
 * first datagram peer), or with -k every client at once. A Unix socket file it made is removed
 * when it is done, and also when a signal ends csock. */
#include "commands.h"
#include "listener.h"
#include "session.h"

static int fail(void)
{
    say("%s", csock_lasterror());
    remove_socket_file();
    return failure_status(csock_lastcode());
}

/* One stream client: accept it, close the listener (later clients are refused), serve it. */
static int serve_one_stream(const struct config *c, csock *l)
{
    csock_addr peer;
    csock *s = csock_settimeout(l, c->wait > 0 ? c->wait : CSOCK_NO_TIMEOUT) == 0
                   ? csock_accept(l, &peer)
                   : NULL;
    if (!s) {
        int status = fail();
        csock_free(l);
        return status;
    }
    csock_free(l);
    remove_socket_file();
    if (c->verbose) {
        char text[CSOCK_ADDRSTRLEN];
        peer_text(s, text, sizeof text);
        say("connection from %s", text);
    }
    return c->exec ? exec_session(c, s) : relay_stream(c, s);
}

/* Datagrams: the first peer to send (relay_datagrams waits for it, and connects the socket to
 * it), or with -k every peer. SIGINT and SIGTERM end the session. */
static int serve_datagrams(const struct config *c, csock *s)
{
    int rc = relay_datagrams(c, s, c->keep_open ? EVERY_PEER : FIRST_PEER);
    remove_socket_file();
    return rc;
}

/* -w with -k: the server gives up if its first client has not come within -w. The handler's
 * on_open is wrapped for the first client, which cancels the timer. */
static struct {
    csock_stream_handler handler; /* the relay's or --exec's, on_open wrapped */
    const csock_stream_handler *inner;
    csock_server *srv;
    csock_timer *timer;
    int timed_out;
    char where[CSOCK_ADDRSTRLEN];
} first;

static void first_open(csock_stream *st, void *data)
{
    csock_timer_cancel(first.timer);
    first.timer = NULL;
    first.handler.on_open = first.inner->on_open;
    if (first.inner->on_open) first.inner->on_open(st, data);
}

static void first_due(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t, (void)data;
    first.timer = NULL;
    first.timed_out = 1;
    say("accept %s: %s", first.where, csock_strerror(CSOCK_ETIMEOUT));
    csock_server_shutdown(first.srv);
}

static int wait_for_first(const struct config *c, csock_server *srv, const csock_addr *where)
{
    if (c->wait <= 0) return 0;
    first.srv = srv;
    csock_addr_format(where, first.where, sizeof first.where);
    first.timer = csock_loop_call_later(csock_server_loop(srv, 0), c->wait, first_due, NULL);
    if (first.timer) return 0;
    say("%s", csock_lasterror());
    return -1;
}

/* -k over streams: csock's server, with the relay or --exec on its loop. */
static int serve_many_streams(const struct config *c)
{
    struct relay *r = NULL;
    csock_server_config config = c->exec ? exec_server_config(c) : relay_server_config(c, &r);
    if (!c->exec && !r) return EXIT_FAILED;
    if (c->wait > 0) {
        first.inner = config.handler;
        first.handler = *config.handler;
        first.handler.on_open = first_open;
        config.handler = &first.handler;
    }
    csock_addr where;
    csock_server *srv = make_server(c, &config, &where);
    if (!srv) {
        relay_free(r);
        return failure_status(csock_lastcode());
    }
    remember_socket_file(c);
    announce(c, &where);
    int status = EXIT_FAILED;
    if (wait_for_first(c, srv, &where) == 0)
        status = c->exec ? exec_serve(c, srv) : relay_serve(r, srv);
    else
        relay_free(r);
    if (first.timed_out) status = EXIT_TIMEOUT;
    csock_server_free(srv);
    remove_socket_file();
    return status;
}

int run_listen(const struct config *c)
{
    if (c->keep_open && !c->udp) return serve_many_streams(c);
    csock *l = make_listener(c);
    if (!l) return failure_status(csock_lastcode());
    remember_socket_file(c);
    csock_addr where;
    if (csock_getsockname(l, &where) < 0) {
        int status = fail();
        csock_free(l);
        return status;
    }
    if (c->udp) return serve_datagrams(c, l); /* which announces once signals are handled */
    announce(c, &where);
    return serve_one_stream(c, l);
}
