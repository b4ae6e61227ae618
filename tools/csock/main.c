/* SPDX-License-Identifier: MIT */
/* csock: a netcat built on libcsock. Reads the command line into a config, checks it, then runs
 * the command. csock.1 is the specification. */
#include "commands.h"
#include "local.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Opens /dev/null on each of standard input, output and error that is closed, so that no socket
 * csock makes is given descriptor 0, 1 or 2 and taken for one of them (the peer would get its own
 * bytes back, or csock's messages). Returns 0, or -1 if one cannot be opened. */
static int open_standard_descriptors(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
        int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (got != fd) {
            if (got >= 0) close(got);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (open_standard_descriptors() < 0) return EXIT_FAILED;
    output_keep_sigpipe();
    if (argc > 1 && strcmp(argv[1], "ping") == 0) return run_ping(argc - 1, argv + 1);
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
    case CMD_FORWARD:
        return run_forward(&c);
    }
    return EXIT_USAGE;
}
