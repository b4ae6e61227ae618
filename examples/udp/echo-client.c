/* SPDX-License-Identifier: MIT */
/* A UDP echo client: sends each message as a datagram and prints the reply. Datagrams can be
 * lost, so each is sent up to three times, waiting a second for the reply each time.
 * Usage: udp-echo-client host port message... */
#include <csock.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: udp-echo-client host port message...\n");
        return 2;
    }
    int port = csock_parse_port(argv[2]);
    csock_addr server;
    csock *s = NULL;
    char reply[65536];
    if (port < 0 || csock_addr_resolve(&server, argv[1], port, 0) < 0 ||
        !(s = csock_socket(csock_addr_family(&server), SOCK_DGRAM, 0)) ||
        csock_connect_addr(s, &server) < 0 || csock_settimeout(s, 1.0) < 0)
        goto fail;
    for (int i = 3; i < argc; i++) {
        size_t len = strlen(argv[i]);
        ssize_t n = CSOCK_ETIMEOUT;
        for (int try = 0; try < 3 && n == CSOCK_ETIMEOUT; try++) {
            if (csock_send(s, argv[i], len) < 0) goto fail;
            n = csock_recv(s, reply, sizeof reply);
        }
        if (n < 0) goto fail;
        printf("reply: %.*s\n", (int)n, reply);
    }
    csock_free(s);
    return 0;
fail:
    fprintf(stderr, "udp-echo-client: %s\n", csock_lasterror());
    csock_free(s);
    return 1;
}
