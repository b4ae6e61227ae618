/* SPDX-License-Identifier: MIT */
/* The commands main runs, each on a checked config (ping on its own command line). Each returns
 * an exit status. */
#ifndef CSOCK_TOOL_COMMANDS_H
#define CSOCK_TOOL_COMMANDS_H

#include "config.h"

int run_connect(const struct config *c); /* connect.c */
int run_scan(const struct config *c);    /* scan.c: connect -z */
int run_listen(const struct config *c);  /* listen.c */
int run_serve(const struct config *c);   /* services.c */
int run_forward(const struct config *c); /* forward.c */
int run_ping(int argc, char **argv);     /* ping.c: argv[0] is "ping" */

#endif
