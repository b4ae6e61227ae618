/* SPDX-License-Identifier: MIT */
/* The tutorial's client: the four steps, one csock call each. Usage: tutorial-client [host] [port]
 * (default 127.0.0.1 8888, the server's defaults). */
#include <csock.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? csock_parse_port(argv[2]) : 8888;
    char data[512];
    csock *s = NULL;
    ssize_t n;

    if (port < 0) goto fail;
    s = csock_socket(strchr(host, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0); /* 1. socket */
    if (!s || csock_connect(s, host, port) < 0) goto fail;                    /* 2. connect */
    if ((n = csock_recv_flags(s, data, 6, MSG_WAITALL)) < 0) goto fail;       /* 3. recv all 6... */
    if (csock_sendall(s, "hihi", 4, NULL) < 0) goto fail;                     /*    ...and send */
    csock_close(s);                                                           /* 4. close */
    printf("the data received is %.*s\n", (int)n, data);
    csock_free(s);
    return 0;
fail:
    fprintf(stderr, "tutorial-client: %s\n", csock_lasterror());
    csock_free(s);
    return 1;
}
