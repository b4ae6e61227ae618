/* SPDX-License-Identifier: MIT */
/* The tutorial's server for many clients at once: on every address of the machine (IPv6 and
 * IPv4 on one socket), a thread per client, each client's bytes sent back in capitals until it
 * ends its side. Usage: shout-server [port] (default 8888; 0 picks a free port, printed as
 * "listening on HOST:PORT"). Stops with Ctrl-C. */
#include <csock.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>

static void *serve(void *arg)
{
    csock *cs = arg;
    char buf[4096];
    ssize_t n;
    while ((n = csock_recv(cs, buf, sizeof buf)) > 0) { /* 0: the client has ended its side */
        for (ssize_t i = 0; i < n; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        if (csock_sendall(cs, buf, (size_t)n, NULL) < 0) break;
    }
    if (n != 0) fprintf(stderr, "shout-server: %s\n", csock_lasterror());
    csock_free(cs); /* closes: the client reads the end of the reply */
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? csock_parse_port(argv[1]) : 8888;
    csock_listen_options opts = {.dualstack =
                                     1}; /* IPv6 clients, and IPv4 ones as ::ffff:a.b.c.d */
    csock *s = port < 0 ? NULL : csock_create_server(NULL, port, &opts);
    char text[CSOCK_ADDRSTRLEN];
    csock_addr address;
    if (!s || csock_getsockname(s, &address) < 0) goto fail;
    csock_addr_format(&address, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);
    for (;;) {
        csock *cs = csock_accept(s, &address);
        if (!cs) goto fail;
        csock_addr_format(&address, text, sizeof text);
        printf("got connected from %s\n", text);
        fflush(stdout);
        pthread_t thread;
        if (pthread_create(&thread, NULL, serve, cs) != 0) {
            fprintf(stderr, "shout-server: no thread for %s\n", text);
            csock_free(cs);
            continue;
        }
        pthread_detach(thread);
    }
fail:
    fprintf(stderr, "shout-server: %s\n", csock_lasterror());
    csock_free(s);
    return 1;
}
