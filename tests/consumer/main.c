/* SPDX-License-Identifier: MIT */
/* Uses an installed csock: a server and a client on loopback, then a loop timer, through the
 * public headers only. */
#include <csock.h>
#include <csock/server.h>
#include <stdio.h>
#include <string.h>

static void stop(csock_loop *loop, csock_timer *t, void *data)
{
    (void)t, (void)data;
    csock_loop_stop(loop);
}

int main(void)
{
    csock *server = csock_create_server("127.0.0.1", 0, NULL);
    csock_addr address;
    if (!server || csock_getsockname(server, &address) < 0) goto fail;
    csock *client = csock_create_connection("127.0.0.1", csock_addr_port(&address), 5, NULL);
    csock *conn = client ? csock_accept(server, NULL) : NULL;
    char buf[8];
    if (!conn || csock_sendall(client, "ok", 2, NULL) < 0 || csock_recv(conn, buf, 8) != 2)
        goto fail;
    printf("consumer: %.2s\n", buf);
    csock_loop *loop = csock_loop_new();
    if (!loop || !csock_loop_call_later(loop, 0, stop, NULL) || csock_loop_run(loop) < 0) goto fail;
    csock_loop_free(loop);
    csock_free(conn);
    csock_free(client);
    csock_free(server);
    return 0;
fail:
    fprintf(stderr, "consumer: %s\n", csock_lasterror());
    return 1;
}
