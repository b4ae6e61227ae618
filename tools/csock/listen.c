/* SPDX-License-Identifier: MIT */
/* csock listen: binds, says where (-v), then serves one client (a stream connection, or the
 * first datagram peer), or with -k every client at once. A Unix socket file it made is removed
 * when it is done, and also when a signal ends csock. */
#define _POSIX_C_SOURCE 200809L /* sigaction */
#include "session.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The socket file to remove, if listen made one: removed only while it is still the file bound
 * (its inode), so that a later server's file is never taken away. */
static char socket_file[sizeof((struct sockaddr_un *)0)->sun_path];
static ino_t socket_inode;

/* A signal that ends csock takes the file with it. */
static void remove_and_die(int signo)
{
    if (socket_file[0]) unlink(socket_file);
    raise(signo); /* SA_RESETHAND: the default action now */
}

static void remove_on_signals(int on)
{
    static const int signals[] = {SIGINT, SIGTERM, SIGHUP};
    static int installed[sizeof signals / sizeof signals[0]];
    struct sigaction sa = {.sa_handler = on ? remove_and_die : SIG_DFL, .sa_flags = SA_RESETHAND};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction old;
        if (on && socket_file[0] && sigaction(signals[i], NULL, &old) == 0 &&
            old.sa_handler == SIG_DFL) /* a loop's handler ends csock its own way */
            installed[i] = sigaction(signals[i], &sa, NULL) == 0;
        else if (!on && installed[i])
            installed[i] = sigaction(signals[i], &sa, NULL) != 0;
    }
}

void remember_socket_file(const struct config *c)
{
    struct stat st;
    if (!c->address.unix_socket || c->address.host[0] == '@') return;
    size_t len = strlen(c->address.host);
    if (len < sizeof socket_file && stat(c->address.host, &st) == 0 && S_ISSOCK(st.st_mode)) {
        memcpy(socket_file, c->address.host, len + 1);
        socket_inode = st.st_ino;
        remove_on_signals(1);
    }
}

void remove_socket_file(void)
{
    struct stat st;
    remove_on_signals(0);
    if (socket_file[0] && stat(socket_file, &st) == 0 && st.st_ino == socket_inode)
        unlink(socket_file);
    socket_file[0] = '\0';
}

csock *make_listener(const struct config *c)
{
    const char *host = c->address.host;
    if (!c->address.unix_socket && !host[0] && c->family == AF_INET6) host = "::";
    csock_listen_options o = {
        .family = c->address.unix_socket ? AF_UNIX : c->family,
        .type = c->udp ? SOCK_DGRAM : SOCK_STREAM,
    };
    return csock_create_server(host, c->address.unix_socket ? 0 : c->address.port, &o);
}

void announce(const struct config *c, const csock_addr *where)
{
    char text[CSOCK_ADDRSTRLEN];
    if (!c->verbose) return;
    csock_addr_format(where, text, sizeof text);
    say("listening on %s", text);
}

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

/* The address as csock_server_new takes it: numeric, names resolved here. */
int server_address(const struct config *c, char *text, size_t size)
{
    const struct endpoint *a = &c->address;
    if (a->unix_socket) {
        snprintf(text, size, "unix:%s", a->host);
        return 0;
    }
    csock_addr where;
    const char *host = a->host[0] ? a->host : c->family == AF_INET6 ? "::" : "0.0.0.0";
    if (csock_addr_resolve(&where, host, a->port, c->family) < 0) {
        say_failed("bind", host, a->port);
        return -1;
    }
    return csock_addr_format(&where, text, size) < 0 ? -1 : 0;
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
    char text[CSOCK_ADDRSTRLEN + 8];
    if (server_address(c, text, sizeof text) < 0) return failure_status(csock_lastcode());
    struct relay *r = NULL;
    csock_server_config config = c->exec ? exec_server_config(c) : relay_server_config(c, &r);
    if (!c->exec && !r) return EXIT_FAILED;
    if (c->wait > 0) {
        first.inner = config.handler;
        first.handler = *config.handler;
        first.handler.on_open = first_open;
        config.handler = &first.handler;
    }
    csock_server *srv = csock_server_new(text, &config);
    csock_addr where;
    if (!srv || csock_server_address(srv, &where) < 0) {
        int status = fail();
        relay_free(r);
        csock_server_free(srv);
        return status;
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
    if (!l) return fail();
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
