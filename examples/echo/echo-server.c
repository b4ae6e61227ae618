/* SPDX-License-Identifier: MIT */
/* A TCP echo server for many clients at once: every byte a client sends comes back to it.
 * Serves until SIGINT or SIGTERM.
 *
 * Usage: echo-server ADDRESS [LOOPS]
 *   ADDRESS  where to listen: 127.0.0.1:9000, [::1]:0, :9000; with port 0 the real port is
 *            printed as "listening on HOST:PORT"
 *   LOOPS    event loops on as many threads (default 1) */
#include "../serve.h"

#include <stdio.h>
#include <stdlib.h>

/* Whatever arrived goes back. A client that sends without reading fills the queue to its high
 * water mark; the stream then stops reading from it until the queue drains. */
static void echo(csock_stream *st, void *data)
{
    (void)data;
    const char *bytes;
    size_t n = csock_stream_peek(st, &bytes);
    if (csock_stream_write(st, bytes, n) < 0) {
        csock_stream_abort(st);
        return;
    }
    csock_stream_consume(st, n);
}

static const csock_stream_handler echo_handler = {.on_data = echo};

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: echo-server ADDRESS [LOOPS]\n");
        return 2;
    }
    int loops = argc > 2 ? atoi(argv[2]) : 1;
    if (loops < 1 || loops > 256) {
        fprintf(stderr, "echo-server: LOOPS must be 1 to 256\n");
        return 2;
    }
    csock_server_config config = {.handler = &echo_handler};
    if (loops > 1) {
        config.mode = CSOCK_SERVE_LOOPS;
        config.loops = loops;
    }
    return serve("echo-server", argv[1], config);
}
