/* SPDX-License-Identifier: MIT */
/* OpenSSL's errors in csock's terms: a code and the reason OpenSSL gives. */
#include "tls_internal.h"

#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

int csock__tls_reason(int fallback, char *why, size_t size)
{
    /* The first error queued is the cause; those after it say what gave up because of it. */
    unsigned long e = ERR_peek_error();
    int code = fallback;
    if (e == 0) {
        snprintf(why, size, "%s", csock_strerror(fallback));
    } else if (ERR_SYSTEM_ERROR(e)) {
        code = -(int)ERR_GET_REASON(e);
        snprintf(why, size, "%s", csock_strerror(code));
    } else {
        const char *reason = ERR_reason_error_string(e);
        if (reason)
            snprintf(why, size, "%s", reason);
        else
            snprintf(why, size, "OpenSSL error %lx", e);
    }
    ERR_clear_error();
    return code;
}

int csock__tls_fail_setup(const char *what)
{
    char why[256];
    int code = csock__tls_reason(CSOCK_ETLS, why, sizeof why);
    return csock__failf(code, "%s: %s", what, why);
}
