/* SPDX-License-Identifier: MIT */
/* A fault-injecting TCP proxy for tests: it listens on 127.0.0.1 port 0, and relays each
 * connection it accepts to a target, on a thread of its own, while it misbehaves the way real
 * networks and peers do: writes cut into pieces of random size (down to one byte), each piece
 * held back a little, a direction shut down (the receiver reads end of file) or every connection
 * reset (closed with SO_LINGER 0) after a chosen number of bytes. Its choices come from a seeded
 * generator, one per connection, so a failing seed can be run again. FAULTPROXY_SEED=n in the
 * environment adds n to every proxy's seed: the same test then explores other choices.
 *
 * The proxy uses plain POSIX sockets, not csock: the code under test is never its own witness. */
#ifndef CSOCK_TESTS_FAULTPROXY_H
#define CSOCK_TESTS_FAULTPROXY_H

#include <stddef.h>

/* The two directions a connection carries. */
enum { FP_UP = 0 /* client to target */, FP_DOWN = 1 /* target to client */ };

typedef struct faultproxy_config {
    unsigned long long seed;  /* 0 is a seed like any other */
    size_t max_piece;         /* each write is 1..max_piece bytes; 0: as much as is buffered */
    unsigned max_delay_us;    /* each piece waits 0..max_delay_us microseconds; 0: none */
    long long shut_after[2];  /* per direction: after this many bytes, shut it down (the receiver
                                 reads end of file; the rest is read and dropped); 0: never */
    long long reset_after[2]; /* per direction: after this many bytes, reset the connection (both
                                 ends closed with SO_LINGER 0); 0: never */
    int rcvbuf; /* SO_RCVBUF of the proxy's sockets, so that little waits inside the kernel;
                   0: the system's */
} faultproxy_config;

typedef struct faultproxy faultproxy;

/* Starts a proxy to target_host (numeric) port target_port; cfg NULL is all zeros (a faithful
 * relay). Returns the proxy, or NULL with a message on stderr. */
faultproxy *faultproxy_start(const char *target_host, int target_port,
                             const faultproxy_config *cfg);

/* The port the proxy listens on, on 127.0.0.1. */
int faultproxy_port(const faultproxy *p);

/* Bytes relayed so far in a direction, over all connections; connections accepted. */
long long faultproxy_bytes(faultproxy *p, int direction);
int faultproxy_connections(faultproxy *p);

/* Stops the proxy, closes what it still holds and frees it. NULL is ignored. */
void faultproxy_stop(faultproxy *p);

#endif
