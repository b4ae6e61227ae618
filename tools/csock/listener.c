/* SPDX-License-Identifier: MIT */
/* Binding: the address to listen on or connect from, resolved once into the value that is bound;
 * the listening socket or server made on it; the Unix socket file it leaves, removed when csock
 * is done (also when a signal ends csock); and a server's running out of descriptors, said. */
#define _POSIX_C_SOURCE 200809L /* sigaction, F_DUPFD_CLOEXEC */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The wildcard of the family, as csock_addr_resolve takes it. */
static const char *wildcard(int family)
{
    return family == AF_INET6 ? "::" : "0.0.0.0";
}

int listen_address(const struct config *c, csock_addr *out)
{
    const struct endpoint *a = &c->address;
    if (a->unix_socket) {
        *out = a->unix_addr;
        return 0;
    }
    const char *host = a->host[0] ? a->host : wildcard(c->family);
    if (csock_addr_resolve(out, host, a->port, c->family) == 0) return 0;
    say_failed("bind", host, a->port);
    return -1;
}

csock *make_listener(const struct config *c)
{
    csock_addr where;
    if (listen_address(c, &where) < 0) return NULL;
    csock_listen_options o = {.type = c->udp ? SOCK_DGRAM : SOCK_STREAM};
    csock *s = csock_create_server_addr(&where, &o);
    if (!s) say("%s", csock_lasterror());
    return s;
}

csock_server *make_server(const struct config *c, const csock_server_config *config,
                          csock_addr *where)
{
    if (listen_address(c, where) < 0) return NULL;
    csock_server *srv = csock_server_new_addr(where, config);
    if (!srv || csock_server_address(srv, where) < 0) {
        say("%s", csock_lasterror());
        csock_server_free(srv);
        return NULL;
    }
    return srv;
}

void announce(const struct config *c, const csock_addr *where)
{
    char text[CSOCK_ADDRSTRLEN];
    if (!c->verbose) return;
    csock_addr_format(where, text, sizeof text);
    say("listening on %s", text);
}

int source_address(const struct config *c, csock_addr *out)
{
    if (!c->has_source && !c->family) return 0;
    const char *host = c->has_source ? c->source.host : "";
    int family = c->family;
    if (!family && !host[0]) family = endpoint_family(&c->address) == AF_INET6 ? AF_INET6 : AF_INET;
    if (!host[0]) host = wildcard(family);
    if (csock_addr_resolve(out, host, c->source.port, family) == 0) return 1;
    say_failed("bind", host, c->source.port);
    return -1;
}

int destination_of(const struct config *c, struct destination *d)
{
    const struct endpoint *a = &c->address;
    *d = (struct destination){.port = a->port};
    if (a->unix_socket) {
        snprintf(d->host, sizeof d->host, "unix:%s", a->host);
        snprintf(d->text, sizeof d->text, "%s", a->host);
    } else {
        snprintf(d->host, sizeof d->host, "%s", a->host);
        endpoint_text(a->host, a->port, d->text, sizeof d->text);
    }
    d->options.timeout = c->wait > 0 ? c->wait : 0;
    if (a->unix_socket) return 0;
    d->options.family = c->family;
    int has = source_address(c, &d->options.source);
    if (has < 0) return -1;
    if (has) d->family = csock_addr_family(&d->options.source);
    return 0;
}

void connected_text(const struct destination *d, const char *where, char *buf, size_t size)
{
    if (strcmp(where, d->text) == 0 || strncmp(d->host, "unix:", 5) == 0)
        snprintf(buf, size, "connected to %s", d->text);
    else
        snprintf(buf, size, "connected to %s (%s)", d->text, where);
}

int say_family_not_found(const struct config *c, int family)
{
    int code = csock_lastcode();
    if (!family ||
        (code != CSOCK_EAI_NONAME && code != CSOCK_EAI_ADDRFAMILY && code != CSOCK_EAI_NODATA))
        return 0;
    char where[300], source[300];
    endpoint_text(c->address.host, c->address.port, where, sizeof where);
    const char *source_text = c->has_source && c->source.host[0] ? source : NULL;
    if (source_text && c->source.has_port)
        endpoint_text(c->source.host, c->source.port, source, sizeof source);
    else if (source_text) /* as written: brackets around an IPv6 address */
        snprintf(source, sizeof source, strchr(c->source.host, ':') ? "[%s]" : "%s",
                 c->source.host);
    const char *version = family == AF_INET6 ? "IPv6" : "IPv4";
    if (source_text)
        say("connect %s: %s (looked up for %s addresses only, the family of -s %s)", where,
            csock_strerror(code), version, source_text);
    else
        say("connect %s: %s (looked up for %s addresses only: %s)", where, csock_strerror(code),
            version, family == AF_INET6 ? "-6" : "-4");
    return 1;
}

/* ---- the socket file ---- */

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
    const struct sockaddr_un *un = (const struct sockaddr_un *)&c->address.unix_addr.ss;
    if (!c->address.unix_socket || un->sun_path[0] == '\0') return; /* abstract: no file */
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

/* ---- running out of descriptors ---- */

static struct {
    int out;              /* none was left when last looked: said */
    csock_timer *recheck; /* descriptors_freed's look on the next pass */
    const struct config *c;
} descriptors;

/* Whether a descriptor is free now (the next accept would get one). */
static int descriptor_free(void)
{
    int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return errno != EMFILE && errno != ENFILE;
    close(fd);
    return 1;
}

static void server_text(csock_server *srv, char *buf, size_t size)
{
    csock_addr a;
    if (csock_server_address(srv, &a) < 0 || csock_addr_format(&a, buf, size) <= 0)
        snprintf(buf, size, "the server");
}

/* Looks: says when none is left, and (-v) when there are some again. */
static void look(csock_server *srv)
{
    int was_out = descriptors.out;
    descriptors.out = !descriptor_free();
    if (descriptors.out == was_out || (!descriptors.out && !descriptors.c->verbose)) return;
    int error = errno == ENFILE ? CSOCK_ENFILE : CSOCK_EMFILE;
    char where[CSOCK_ADDRSTRLEN];
    server_text(srv, where, sizeof where);
    if (descriptors.out)
        say("accept %s: %s: new clients are closed until a connection ends", where,
            csock_strerror(error));
    else
        say("accept %s: descriptors are free again: taking clients", where);
}

void descriptors_taken(const struct config *c, csock_server *srv)
{
    descriptors.c = c;
    look(srv);
}

static void recheck_due(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t;
    descriptors.recheck = NULL;
    look(data);
}

/* A stream's socket is still open while its on_close runs: look once it is closed. */
void descriptors_freed(const struct config *c, csock_server *srv)
{
    descriptors.c = c;
    if (!descriptors.out || descriptors.recheck) return;
    descriptors.recheck = csock_loop_call_later(csock_server_loop(srv, 0), 0, recheck_due, srv);
}
