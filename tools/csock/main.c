/* csock: a netcat built on libcsock. Reads the command line into a config, checks it, then runs
 * the command. csock.1 is the specification. */
#include "config.h"

#include <string.h>

int failure_status(int code)
{
    return code == CSOCK_ETIMEOUT ? EXIT_TIMEOUT : EXIT_FAILED;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "ping") == 0) return csock_ping_main(argc - 1, argv + 1);
    struct config c;
    int done;
    int rc = parse_command_line(argc, argv, &c, &done);
    if (rc != EXIT_OK || done) return rc;
    switch (c.command) {
    case CMD_CONNECT:
        return c.scan ? run_scan(&c) : run_connect(&c);
    case CMD_LISTEN:
        return run_listen(&c);
    case CMD_SERVE:
        return run_serve(&c);
    }
    return EXIT_USAGE;
}
