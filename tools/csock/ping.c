/* SPDX-License-Identifier: MIT */
/* csock ping: the ping example (examples/ping/ping.c), built in as a command of the tool. */
#define PING_MAIN csock_ping_main
#define PING_NAME "csock ping"
#include "../../examples/ping/ping.c"
