/* SPDX-License-Identifier: MIT */
/* A UDP echo server: sends every datagram back to whoever sent it, until stopped (SIGINT,
 * SIGTERM). Usage: udp-echo-server [host] [port]   (default 127.0.0.1 9999; port 0 picks one,
 * printed as "listening on HOST:PORT") */
#include <csock.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? csock_parse_port(argv[2]) : 9999;
    csock_listen_options udp = {.type = SOCK_DGRAM};
    csock *s = port < 0 ? NULL : csock_create_server(host, port, &udp);
    csock_addr peer;
    char text[CSOCK_ADDRSTRLEN];
    static char buf[65536]; /* the largest datagram: nothing is ever cut */
    if (!s || csock_getsockname(s, &peer) < 0) goto fail;
    csock_addr_format(&peer, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);
    for (;;) {
        ssize_t n = csock_recvfrom(s, buf, sizeof buf, &peer);
        /* One peer's trouble (an ICMP error from an earlier reply) must not stop the server. */
        if (n == CSOCK_ECONNREFUSED) continue;
        if (n < 0) goto fail;
        if (csock_sendto(s, buf, (size_t)n, &peer) < 0)
            fprintf(stderr, "udp-echo-server: %s\n", csock_lasterror());
    }
fail:
    fprintf(stderr, "udp-echo-server: %s\n", csock_lasterror());
    csock_free(s);
    return 1;
}
