/* SPDX-License-Identifier: MIT */
/* A line-based chat server: every line a client sends goes to every other client, prefixed
 * with the sender's address; joins and departures are announced. Serves until SIGINT or SIGTERM.
 *
 * Usage: chat-server ADDRESS   (127.0.0.1:7000, [::1]:0, ...; port 0 prints the real one) */
#include "../serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 1024

/* Everyone connected, in a list the callbacks keep. */
struct member {
    csock_stream *stream;
    char name[CSOCK_ADDRSTRLEN];
    struct member *prev, *next;
};

static struct member *members;

/* Sends text to every member but from. A member whose queue is full is not reading: it is
 * dropped (and told why on the server's error output) rather than slowing everyone down. */
static void broadcast(const struct member *from, const char *text, size_t len)
{
    for (struct member *m = members; m; m = m->next) {
        if (m == from) continue;
        if (csock_stream_write(m->stream, text, len) < 0) {
            fprintf(stderr, "chat-server: dropping %s: %s\n", m->name, csock_lasterror());
            csock_stream_abort(m->stream);
        }
    }
}

static void announce(const struct member *who, const char *what)
{
    char text[CSOCK_ADDRSTRLEN + 32];
    int n = snprintf(text, sizeof text, "* %s %s\n", who->name, what);
    broadcast(who, text, (size_t)n);
}

static void joined(csock_stream *st, void *data)
{
    (void)data;
    struct member *m = calloc(1, sizeof *m);
    if (!m) {
        csock_stream_abort(st);
        return;
    }
    csock_addr peer;
    if (csock_stream_peername(st, &peer) == 0) csock_addr_format(&peer, m->name, sizeof m->name);
    m->stream = st;
    m->next = members;
    if (members) members->prev = m;
    members = m;
    csock_stream_set_data(st, m);
    announce(m, "joined");
}

static void said(csock_stream *st, void *data)
{
    struct member *m = data;
    const char *line;
    size_t len;
    int rc;
    while ((rc = csock_stream_read_line(st, &line, &len)) == 1) {
        char text[CSOCK_ADDRSTRLEN + LINE_MAX_BYTES + 8];
        int n = snprintf(text, sizeof text, "[%s] %.*s%s", m->name, (int)len, line,
                         line[len - 1] == '\n' ? "" : "\n");
        broadcast(m, text, (size_t)n);
    }
    if (rc < 0) { /* a line over the limit */
        static const char too_long[] = "* line too long: the limit is 1024 bytes\n";
        csock_stream_write(st, too_long, sizeof too_long - 1);
        csock_stream_close(st);
    }
}

static void left(csock_stream *st, int error, void *data)
{
    (void)st, (void)error;
    struct member *m = data;
    if (!m) return;
    if (m->prev)
        m->prev->next = m->next;
    else
        members = m->next;
    if (m->next) m->next->prev = m->prev;
    announce(m, "left");
    free(m);
}

static const csock_stream_handler chat = {
    .on_open = joined,
    .on_data = said,
    .on_close = left,
    .max_buffer = LINE_MAX_BYTES,
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: chat-server ADDRESS\n");
        return 2;
    }
    return serve("chat-server", argv[1], (csock_server_config){.handler = &chat});
}
