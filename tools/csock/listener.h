/* SPDX-License-Identifier: MIT */
/* The csock command's bottom floor, part two: the addresses a session binds (to listen, or as the
 * source of a connection), the listening socket or server made on them, and the Unix socket file
 * such a listener leaves. An address is resolved once, into a csock_addr, and that value is what
 * is bound. */
#ifndef CSOCK_TOOL_LISTENER_H
#define CSOCK_TOOL_LISTENER_H

#include "config.h"

#include <csock/connect.h>
#include <csock/server.h>

/* c->address as a value to bind: a Unix address as parsed, a name resolved (first address of
 * c->family), "" the wildcard of c->family. Returns 0, or -1 having said why ("bind
 * nosuch.invalid:0: Name or service not known"). */
int listen_address(const struct config *c, csock_addr *out);

/* A socket bound to c->address (listening, for a stream), or NULL having said why. */
csock *make_listener(const struct config *c);

/* A server on c->address, with *where set to the address it listens on (the real port), or NULL
 * having said why. */
csock_server *make_server(const struct config *c, const csock_server_config *config,
                          csock_addr *where);

/* With -v, says "listening on ADDRESS". */
void announce(const struct config *c, const csock_addr *where);

/* The source address for connecting: -s, or with -4/-6 alone the wildcard of that family, so
 * that only addresses of the family are tried. Returns 1 with *out set, 0 for none, -1 on error
 * (said). */
int source_address(const struct config *c, csock_addr *out);

/* Where a connection goes on a loop (csock_stream_connect, csock_loop_connect): connect's
 * address, forward's target. */
struct destination {
    char host[300]; /* as csock_stream_connect takes it ("unix:" before a Unix path) */
    char text[300]; /* as messages write it: "localhost:80", "[::1]:80", a Unix path */
    int port;
    int family; /* the family -s or -4/-6 limit it to, for say_family_not_found; 0: none */
    csock_connect_options options; /* -w, -4/-6, -s; the caller adds TLS */
};

/* *d for c->address. Returns 0, or -1 having said why (a source that does not resolve). */
int destination_of(const struct config *c, struct destination *d);

/* "connected to localhost:80 (127.0.0.1:80)" for the peer's address where (peer_text's), or
 * without the parenthesis where it is the one asked for or d is a Unix path. */
void connected_text(const struct destination *d, const char *where, char *buf, size_t size);

/* Where connecting to c->address failed because its name has no address of the family the
 * source (family, from source_address) or -4/-6 asked for, says so and returns 1: "connect
 * localhost:80: Name or service not known (looked up for IPv6 addresses only, the family of
 * -s ::1)". Returns 0, saying nothing, for any other failure. */
int say_family_not_found(const struct config *c, int family);

/* A Unix socket file bound at c->address is removed by remove_socket_file, unless it was
 * replaced meanwhile; until then SIGINT, SIGTERM and SIGHUP, where nothing else catches them (a
 * loop's signal handling ends csock its own way), remove it before they end csock. */
void remember_socket_file(const struct config *c);
void remove_socket_file(void);

/* A server running out of descriptors closes the clients it cannot take (csock_server_run). It
 * does not tell, so csock looks for itself: descriptors_taken, called as each connection opens,
 * says once when no descriptor is left for the next client ("accept ADDRESS: Too many open files:
 * new clients are closed until a connection ends"); descriptors_freed, as one closes, looks again
 * on the next pass of srv's loop, and with -v says when clients are taken again. */
void descriptors_taken(const struct config *c, csock_server *srv);
void descriptors_freed(const struct config *c, csock_server *srv);

#endif
