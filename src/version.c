/* SPDX-License-Identifier: MIT */
/* The library's own version, as it was built: what a program linked against another shared
 * libcsock than the headers it was compiled with can ask at run time. */
#include "csock.h"

const char *csock_version(void)
{
    return CSOCK_VERSION_STRING;
}

unsigned csock_version_number(void)
{
    return CSOCK_VERSION_NUMBER;
}
