/* SPDX-License-Identifier: MIT */
/* The tutorial's client for shout-server: connects to the first address of the host that
 * answers, sends its message, ends its side, and reads the reply until the server ends its own:
 * the whole reply, however many pieces it arrives in. Usage: shout-client host port message */
#include <csock.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: shout-client host port message\n");
        return 2;
    }
    int port = csock_parse_port(argv[2]);
    csock *s = port < 0 ? NULL : csock_create_connection(argv[1], port, 10, NULL);
    char buf[4096];
    ssize_t n;
    if (!s || csock_sendall(s, argv[3], strlen(argv[3]), NULL) < 0) goto fail;
    if (csock_shutdown(s, SHUT_WR) < 0) goto fail;   /* "that is all": the server reads 0 */
    while ((n = csock_recv(s, buf, sizeof buf)) > 0) /* until the server's end: 0 */
        fwrite(buf, 1, (size_t)n, stdout);
    if (n < 0) goto fail;
    putchar('\n');
    csock_free(s);
    return 0;
fail:
    fprintf(stderr, "shout-client: %s\n", csock_lasterror());
    csock_free(s);
    return 1;
}
