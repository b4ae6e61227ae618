/* SPDX-License-Identifier: MIT */
/* What connect and listen hand a connected socket to: the stream relay, the datagram relay, or
 * a command run per connection (--exec). These sit between the commands (connect.c, listen.c)
 * and the floor they all stand on (report.h, listener.h). */
#ifndef CSOCK_TOOL_SESSION_H
#define CSOCK_TOOL_SESSION_H

#include "config.h"

#include <csock/server.h>

#include <stdint.h>
#include <sys/types.h>

/* relay.c: moves standard input to s and s's data to standard output, both ways at once, until
 * the end-of-file rules of csock.1 end it. Takes s. Returns the exit status. */
int relay_stream(const struct config *c, csock *s);

/* relay.c: the same for a connection that relay_connect makes to `to` on its loop (within -w, the
 * TLS handshake too with --tls), said and ended with its error if it cannot be made. */
struct destination;
int relay_connect(const struct config *c, const struct destination *to);

/* relay.c: serves srv (a one-loop server made with relay_server_config) with every client's
 * data to standard output and standard input to every client, until a signal ends it. Returns
 * the exit status. */
struct relay;
csock_server_config relay_server_config(const struct config *c, struct relay **r);
int relay_serve(struct relay *r, csock_server *srv);
void relay_free(struct relay *r); /* one that was never served; NULL is ignored */

/* finish.c: the end of a single TCP session, after its stream has closed: writing is shut down,
 * what the peer still sends goes to standard output, and csock waits until the peer has
 * acknowledged every byte, the connection fails, or a time limit runs out; each but the first is
 * said, with how many bytes the peer did not take. */
struct ending {
    int fd;            /* a duplicate of the session's socket; finish_session closes it */
    int reading;       /* the peer has not ended its side: read what it sends */
    int peer_ended;    /* it had ended its side while standard input went on */
    int hex, verbose;  /* -x, -v (says how the session ended) */
    uint64_t received; /* bytes received so far (the hex dump's offset) */
    uint64_t sent;     /* bytes of standard input sent, for -v */
    double deadline;   /* monotonic_time() at which -q runs out, or NO_LIMIT */
    double quit_after; /* -q, for the message */
    double idle;       /* -i: nothing taken or received for that long; NO_LIMIT */
    const char *peer;
};
/* Returns the exit status. */
int finish_session(struct ending *e);

/* finish.c: with -v, the last line of a session that did not end well: "PEER: ended: HOW after
 * 1.2 MiB sent, 345 B received". */
void say_ended(const char *peer, const char *how, uint64_t sent, uint64_t received);

/* finish.c: HOW for a stream error: "reset by the peer", "idle for 2s" (idle, for -i), "stopped
 * by a signal", "failed: ..." */
void ending_reason(int error, double idle, char *buf, size_t size);

/* finish.c: bytes written to a TCP socket that the peer has not acknowledged yet (its end of file
 * not counted; fin_sent: the socket was shut down for writing, which a reset leaves no trace
 * of); 0 for any other socket. */
size_t unacked_bytes(int fd, int fin_sent);

/* finish.c: seconds on the monotonic clock. */
double monotonic_time(void);

/* datagram.c: the same for a datagram socket, which talks to: */
enum peers {
    ONE_PEER,   /* the peer it is connected to (connect -u) */
    FIRST_PEER, /* the first that sends (listen -u): it waits for its datagram (within -w), then
                   connects the socket to it; datagrams that others sent before that are
                   dropped, said with -v. With --exec the command then gets the socket */
    EVERY_PEER, /* every peer it hears from (listen -u -k) */
};
/* Takes s. Returns the exit status. */
int relay_datagrams(const struct config *c, csock *s, enum peers peers);

/* spawn.c: runs command with sh -c, its standard input and output the descriptor fd and no other
 * descriptor of csock's open in it (standard error stays). Returns the process id, or -1 with the
 * reason said. */
pid_t spawn_command(const char *command, int fd);

/* spawn.c: runs command on s, then waits for it. Takes s. Returns EXIT_OK if it exited with 0,
 * else EXIT_FAILED with how it ended said. */
int exec_session(const struct config *c, csock *s);

/* spawn.c: serves srv with a command per connection, at most c->max_conns at once. */
csock_server_config exec_server_config(const struct config *c);
int exec_serve(const struct config *c, csock_server *srv);

#endif
