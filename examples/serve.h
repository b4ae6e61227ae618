/* SPDX-License-Identifier: MIT */
/* What the server examples share: listen on the address given, say where, and serve until
 * SIGINT or SIGTERM. */
#ifndef CSOCK_EXAMPLES_SERVE_H
#define CSOCK_EXAMPLES_SERVE_H

#include <csock/server.h>

#include <stdio.h>

/* Serves config on address until SIGINT or SIGTERM, having printed "listening on HOST:PORT" (the
 * real port when address has port 0). Returns the exit status: 0, or 1 with the error printed
 * as "program: message". */
static int serve(const char *program, const char *address, csock_server_config config)
{
    config.stop_on_signals = 1;
    csock_server *srv = csock_server_new(address, &config);
    csock_addr where;
    char text[CSOCK_ADDRSTRLEN];
    if (!srv || csock_server_address(srv, &where) < 0) {
        fprintf(stderr, "%s: %s\n", program, csock_lasterror());
        return 1;
    }
    csock_addr_format(&where, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);
    int rc = csock_server_run(srv);
    if (rc < 0) fprintf(stderr, "%s: %s\n", program, csock_lasterror());
    csock_server_free(srv);
    return rc < 0 ? 1 : 0;
}

#endif
