/* SPDX-License-Identifier: MIT */
/* Standard input and output, and the hex dump. Standard input is never made non-blocking: it may
 * be a terminal shared with the shell. One read per readiness never blocks on a pipe or a
 * terminal, and a regular file (which epoll refuses, and which is always ready) is read once a
 * pass instead, so that the peer's data still gets its turn. */
#define _POSIX_C_SOURCE 200809L /* sigaction */
#include "local.h"

#include "report.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096

static void read_chunk(struct input *in)
{
    ssize_t n = read(STDIN_FILENO, in->buf, in->chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) {
        say("read standard input: %s", strerror(errno));
        in->failed = 1;
    }
    if (n <= 0) {
        input_stop(in);
        in->cb(NULL, 0, in->data);
        return;
    }
    in->cb(in->buf, (size_t)n, in->data);
}

static void input_ready(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)loop, (void)w, (void)events;
    /* A read that blocked would stop everything (standard input stays blocking). epoll reports
     * what is ready when it returns; on another backend a readiness that is no longer true when
     * the callback runs waits for the next one. */
    struct input *in = data;
    struct pollfd now = {.fd = STDIN_FILENO, .events = POLLIN};
    if (!in->epoll && poll(&now, 1, 0) == 0) return;
    read_chunk(in);
}

/* A file never blocks: a pass reads chunks until the peer's queue is full (the callback pauses
 * the input) or PUMP_BATCH of them, so that the other direction gets its turn. A zero-delay
 * timer then runs on the next pass without waiting (a repeating one would be rounded to the
 * loop's millisecond). */
#define PUMP_BATCH 16

static void pump_due(csock_loop *loop, csock_timer *t, void *data)
{
    (void)t;
    struct input *in = data;
    in->pump = NULL;
    for (int i = 0; i < PUMP_BATCH && !in->done && !in->paused; i++)
        read_chunk(in);
    if (!in->done && !in->paused && !in->pump)
        in->pump = csock_loop_call_later(loop, 0, pump_due, in);
}

int input_start(struct input *in, csock_loop *loop, size_t chunk, input_cb cb, void *data)
{
    *in = (struct input){.loop = loop, .cb = cb, .data = data, .chunk = chunk};
    in->epoll = strcmp(csock_loop_backend(loop), "epoll") == 0;
    /* Page-aligned, so that a chunk read fills whole pages (the kernel copies touch fewer). */
    if (!(in->buf = aligned_alloc(PAGE, (chunk + PAGE - 1) / PAGE * PAGE))) {
        say("out of memory");
        return -1;
    }
    in->watch = csock_loop_add(loop, STDIN_FILENO, CSOCK_READ, input_ready, in);
    if (in->watch) return 0;
    int rc = csock_lastcode();
    if (rc == CSOCK_EBADF) { /* no standard input at all: it has ended */
        input_stop(in);
        cb(NULL, 0, data);
        return 0;
    }
    if (rc == CSOCK_EPERM) { /* a regular file or /dev/null: always ready */
        in->pump = csock_loop_call_later(loop, 0, pump_due, in);
        if (in->pump) return 0;
    }
    say("standard input: %s", csock_lasterror());
    input_stop(in);
    return -1;
}

void input_pause(struct input *in, int pause)
{
    if (in->done || in->paused == pause) return;
    in->paused = pause;
    if (in->watch) {
        csock_watch_set(in->watch, pause ? 0 : CSOCK_READ);
    } else if (pause) {
        csock_timer_cancel(in->pump);
        in->pump = NULL;
    } else {
        in->pump = csock_loop_call_later(in->loop, 0, pump_due, in);
    }
}

void input_stop(struct input *in)
{
    if (in->done) return;
    in->done = 1;
    csock_watch_remove(in->watch);
    csock_timer_cancel(in->pump);
    in->watch = NULL;
    in->pump = NULL;
    free(in->buf);
    in->buf = NULL;
}

static struct sigaction sigpipe_at_start;

void output_keep_sigpipe(void)
{
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &sigpipe_at_start);
}

void output_give_sigpipe(void)
{
    sigaction(SIGPIPE, &sigpipe_at_start, NULL);
}

int output_write(const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* Standard output was made non-blocking by whoever shares it: wait for room, as a
             * blocking write would, rather than lose the rest. */
            struct pollfd p1 = {.fd = STDOUT_FILENO, .events = POLLOUT};
            if (poll(&p1, 1, -1) >= 0 || errno == EINTR) continue;
        }
        if (n < 0) {
            say("write standard output: %s", strerror(errno));
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void hexdump(char direction, uint64_t *offset, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    for (size_t at = 0; at < len; at += 16) {
        char line[100];
        int n = snprintf(line, sizeof line, "%c %08llx ", direction,
                         (unsigned long long)(*offset + at));
        for (size_t i = 0; i < 16; i++) {
            if (at + i < len)
                n += snprintf(line + n, sizeof line - (size_t)n, " %02x", p[at + i]);
            else
                n += snprintf(line + n, sizeof line - (size_t)n, "   ");
        }
        n += snprintf(line + n, sizeof line - (size_t)n, "  |");
        for (size_t i = 0; i < 16 && at + i < len; i++)
            line[n++] = p[at + i] >= 0x20 && p[at + i] < 0x7f ? (char)p[at + i] : '.';
        line[n++] = '|';
        line[n++] = '\n';
        fwrite(line, 1, (size_t)n, stderr);
    }
    *offset += len;
}
