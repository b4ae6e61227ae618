/* SPDX-License-Identifier: MIT */
/* Error codes, their names and texts, and the per-thread "last error" message. */
#include "internal.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The last failure of this thread. Hot paths record only the operation, the code and an
 * address; the text is built when csock_lasterror() asks for it. */
static _Thread_local struct {
    int code;
    const char *op; /* NULL when text already holds the whole message */
    csock_addr addr;
    char why[CSOCK__HINT_MAX]; /* what follows the reason, in parentheses, or "" */
    char text[1024];
} last;

int csock__fail(int code, const char *op, const csock_addr *addr)
{
    last.code = code;
    last.op = op;
    last.why[0] = '\0';
    if (addr)
        last.addr = *addr;
    else
        last.addr.len = 0;
    return code;
}

int csock__failf(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last.text, sizeof last.text, fmt, ap);
    va_end(ap);
    last.code = code;
    last.op = NULL;
    last.why[0] = '\0';
    return code;
}

void csock__explain(const char *why)
{
    if (why) snprintf(last.why, sizeof last.why, "%s", why);
}

const char *csock_lasterror(void)
{
    if (last.op) {
        char where[CSOCK_ADDRSTRLEN];
        if (last.addr.len > 0)
            snprintf(last.text, sizeof last.text, "%s %s: %s", last.op,
                     csock__addr_text(&last.addr, where), csock_strerror(last.code));
        else
            snprintf(last.text, sizeof last.text, "%s: %s", last.op, csock_strerror(last.code));
        last.op = NULL;
    }
    if (last.why[0]) {
        size_t n = strlen(last.text);
        snprintf(last.text + n, sizeof last.text - n, " (%s)", last.why);
        last.why[0] = '\0';
    }
    return last.text;
}

int csock_lastcode(void)
{
    return last.code;
}

int csock__errno(void)
{
    return errno > 0 ? -errno : CSOCK_EIO;
}

int csock__gai_error(int gai)
{
    switch (gai) {
#define CSOCK_GAI_CASE_(name, value)                                                               \
    case name:                                                                                     \
        return value;
        CSOCK_RESOLVER_MAP(CSOCK_GAI_CASE_)
#undef CSOCK_GAI_CASE_
    case EAI_SYSTEM:
        return csock__errno();
    default:
        return CSOCK_EAI_FAIL;
    }
}

const char *csock_strerror(int code)
{
    /* glibc has no text of its own for EAI_OVERFLOW ("Unknown error"). */
    if (code == CSOCK_EAI_OVERFLOW) return "Buffer too small for the name or service";
    switch (code) {
#define CSOCK_GAI_TEXT_(name, value)                                                               \
    case value:                                                                                    \
        return gai_strerror(name);
        CSOCK_RESOLVER_MAP(CSOCK_GAI_TEXT_)
#undef CSOCK_GAI_TEXT_
    case CSOCK_ETIMEOUT:
        return "timed out";
    case CSOCK_ETLS:
        return "TLS error";
    case CSOCK_ETLSVERIFY:
        return "certificate verify failed";
    case CSOCK_ETLSEOF:
        return "TLS connection ended without close_notify";
    case 0:
        return "Success";
    default:
        break;
    }
    if (code < 0 && code >= CSOCK_ERRNO_LAST && strerrorname_np(-code)) {
        /* glibc's strerror returns static text for every known code and is thread-safe. An
         * errno it has no name for gets csock's text below, which keeps the caller's sign. */
        return strerror(-code);
    }
    static _Thread_local char unknown[32];
    snprintf(unknown, sizeof unknown, "Unknown error %d", code);
    return unknown;
}

const char *csock_errname(int code)
{
    switch (code) {
#define CSOCK_ERRNO_NAME_(name)                                                                    \
    case -name:                                                                                    \
        return #name;
        CSOCK_ERRNO_MAP(CSOCK_ERRNO_NAME_)
#undef CSOCK_ERRNO_NAME_
#define CSOCK_GAI_NAME_(name, value)                                                               \
    case value:                                                                                    \
        return #name;
        CSOCK_RESOLVER_MAP(CSOCK_GAI_NAME_)
#undef CSOCK_GAI_NAME_
    case CSOCK_ETIMEOUT:
        return "ETIMEOUT";
    case CSOCK_ETLS:
        return "ETLS";
    case CSOCK_ETLSVERIFY:
        return "ETLSVERIFY";
    case CSOCK_ETLSEOF:
        return "ETLSEOF";
    case 0:
        return "OK";
    default:
        break;
    }
    if (code < 0 && code >= CSOCK_ERRNO_LAST) {
        const char *name = strerrorname_np(-code);
        if (name) return name;
    }
    return "EUNKNOWN";
}
