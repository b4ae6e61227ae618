/* csock listen: binds, says where (-v), then serves one client (a stream connection, or the
 * first datagram peer), or with -k every client at once. A Unix socket file it made is removed
 * when it is done, and also when a signal ends it while it waits for its client. */
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

void remember_socket_file(const struct config *c)
{
    struct stat st;
    if (!c->address.unix_socket || c->address.host[0] == '@') return;
    size_t len = strlen(c->address.host);
    if (len < sizeof socket_file && stat(c->address.host, &st) == 0 && S_ISSOCK(st.st_mode)) {
        memcpy(socket_file, c->address.host, len + 1);
        socket_inode = st.st_ino;
    }
}

void remove_socket_file(void)
{
    struct stat st;
    if (socket_file[0] && stat(socket_file, &st) == 0 && st.st_ino == socket_inode)
        unlink(socket_file);
    socket_file[0] = '\0';
}

/* While waiting for the client, a signal that ends csock takes the file with it. */
static void remove_and_die(int signo)
{
    if (socket_file[0]) unlink(socket_file);
    raise(signo); /* SA_RESETHAND: the default action now */
}

static void remove_on_signals(int on)
{
    static const int signals[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa = {.sa_handler = on ? remove_and_die : SIG_DFL, .sa_flags = SA_RESETHAND};
    for (size_t i = 0; socket_file[0] && i < sizeof signals / sizeof signals[0]; i++)
        sigaction(signals[i], &sa, NULL);
}

csock *make_listener(const struct config *c)
{
    const char *host = c->address.host;
    if (!c->address.unix_socket && !host[0] && c->family == AF_INET6) host = "::";
    csock_server_options o = {
        .family = c->address.unix_socket ? AF_UNIX : c->family,
        .type = c->udp ? SOCK_DGRAM : SOCK_STREAM,
    };
    return csock_create_server(host, c->address.unix_socket ? 0 : c->address.port, &o);
}

static void announce(const struct config *c, const csock_addr *where)
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
    remove_on_signals(0);
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

/* One datagram peer: the first to send; the socket is connected to it, so that the kernel turns
 * others away. */
static int serve_one_peer(const struct config *c, csock *s)
{
    char one;
    csock_addr from = {0};
    struct iovec iov = {&one, 1};
    csock_msg peek = {.iov = &iov, .iovcnt = 1, .addr = &from};
    remove_on_signals(1);
    int rc = csock_settimeout(s, c->wait > 0 ? c->wait : CSOCK_NO_TIMEOUT);
    if (rc == 0 && csock_recvmsg(s, &peek, MSG_PEEK) < 0) rc = -1;
    remove_on_signals(0);
    /* An unnamed Unix client cannot be answered, nor connected to: hear everyone, then. */
    int named = from.len > sizeof(sa_family_t);
    if (rc == 0 && named) rc = csock_connect_addr(s, &from);
    if (rc < 0) {
        int status = fail();
        csock_free(s);
        return status;
    }
    if (c->verbose) {
        char text[CSOCK_ADDRSTRLEN];
        csock_addr_format(&from, text, sizeof text);
        say(named ? "datagrams from %s" : "datagrams from an unnamed socket: it gets no replies",
            text);
    }
    if (c->exec && named) return exec_session(c, s);
    rc = relay_datagrams(c, s, named ? FIRST_PEER : EVERY_PEER);
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

/* -k over streams: csock's server, with the relay or --exec on its loop. */
static int serve_many_streams(const struct config *c)
{
    char text[CSOCK_ADDRSTRLEN + 8];
    if (server_address(c, text, sizeof text) < 0) return failure_status(csock_lastcode());
    struct relay *r = NULL;
    csock_server_config config = c->exec ? exec_server_config(c) : relay_server_config(c, &r);
    if (!c->exec && !r) return EXIT_FAILED;
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
    int status = c->exec ? exec_serve(c, srv) : relay_serve(r, srv);
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
    /* Before "listening on": a signal from the moment a client may know of it takes the file. */
    if (!c->udp) remove_on_signals(1);
    announce(c, &where);
    if (c->udp && c->keep_open) {
        int rc = relay_datagrams(c, l, EVERY_PEER);
        remove_socket_file();
        return rc;
    }
    return c->udp ? serve_one_peer(c, l) : serve_one_stream(c, l);
}
