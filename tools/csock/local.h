/* SPDX-License-Identifier: MIT */
/* The local side of a session: standard input read on the loop, standard output written whole,
 * and the hex dump of what passes (-x). */
#ifndef CSOCK_TOOL_LOCAL_H
#define CSOCK_TOOL_LOCAL_H

#include <csock/loop.h>

#include <stdint.h>

/* Called with each chunk read from standard input; len 0 is its end, or a read error (said, and
 * failed set): the session then ends with exit status 1. The chunk stays valid, and no other is
 * read, until the input is resumed or the callback returns without pausing it. */
typedef void (*input_cb)(const char *chunk, size_t len, void *data);

struct input {
    csock_loop *loop;
    csock_watch *watch; /* standard input that the loop can watch: a pipe, a terminal, a socket */
    csock_timer *pump;  /* one it cannot (a regular file is always ready): read once a pass */
    input_cb cb;
    void *data;
    char *buf;
    size_t chunk;
    int paused, done;
    int failed; /* reading failed: standard input did not end, it broke */
    int epoll;  /* the loop is on epoll, whose readiness is current */
};

/* Starts reading standard input in chunks of at most chunk bytes. Returns 0, or -1 with the
 * reason said (out of memory). */
int input_start(struct input *in, csock_loop *loop, size_t chunk, input_cb cb, void *data);

/* Stops (1) or resumes (0) reading, e.g. while the peer's queue is full. */
void input_pause(struct input *in, int pause);

/* Stops reading for good and frees what input_start took; safe to call more than once. */
void input_stop(struct input *in);

/* Writes all len bytes to standard output, retrying interrupted and partial writes. Returns 0, or
 * -1 with the reason said. */
int output_write(const void *buf, size_t len);

/* A closed pipe on standard output or error must be a write error csock says ("write standard
 * output: Broken pipe", exit 1), not a SIGPIPE that kills it without a word: output_keep_sigpipe
 * ignores SIGPIPE for csock, and output_give_sigpipe (async-signal-safe, for a child before
 * exec) gives back the disposition csock was started with. */
void output_keep_sigpipe(void);
void output_give_sigpipe(void);

/* Writes len bytes as hex-dump lines to standard error, each starting with direction ('>' sent,
 * '<' received) and the offset; *offset counts the direction's bytes so far. */
void hexdump(char direction, uint64_t *offset, const void *buf, size_t len);

#endif
