/* SPDX-License-Identifier: MIT */
/* The tutorial's server: the six steps, one csock call each. Usage: tutorial-server [host] [port]
 * (default 127.0.0.1 8888; port 0 picks a free port, printed as "listening on HOST:PORT"). */
#include <csock.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? csock_parse_port(argv[2]) : 8888;
    char text[CSOCK_ADDRSTRLEN], data[512];
    csock_addr address;
    csock *cs = NULL, *s = NULL;
    ssize_t n = 0;
    size_t got = 0;

    if (port < 0) goto fail;
    s = csock_socket(strchr(host, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);    /* 1. socket */
    if (!s || csock_bind(s, host, port) < 0) goto fail;                          /* 2. bind */
    if (csock_listen(s, 5) < 0 || csock_getsockname(s, &address) < 0) goto fail; /* 3. listen */
    csock_addr_format(&address, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);
    if (!(cs = csock_accept(s, &address))) goto fail; /* 4. accept */
    csock_addr_format(&address, text, sizeof text);
    printf("got connected from %s\n", text);
    if (csock_sendall(cs, "byebye", 6, NULL) < 0) goto fail; /* 5. send... */
    while (got < sizeof data && (n = csock_recv(cs, data + got, sizeof data - got)) > 0)
        got += (size_t)n; /*    ...and recv, until the client's end (0): it may come in pieces */
    if (n < 0) goto fail;
    printf("%.*s\n", (int)got, data);
    csock_close(cs); /* 6. close */
    csock_free(cs);
    csock_free(s);
    return 0;
fail:
    fprintf(stderr, "tutorial-server: %s\n", csock_lasterror());
    csock_free(cs);
    csock_free(s);
    return 1;
}
