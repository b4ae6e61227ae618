/* SPDX-License-Identifier: MIT */
/* CSOCK_TRACE: one line on stderr per call, so a learner sees each step happen. Off, the cost is
 * one relaxed load and a predicted branch per call (csock__tracing in internal.h). */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

atomic_int csock__trace_state = -1;

int csock__trace_init(void)
{
    const char *env = getenv("CSOCK_TRACE");
    int on = env && *env && strcmp(env, "0") != 0;
    int unknown = -1;
    /* A racing csock_settrace wins over the environment. */
    atomic_compare_exchange_strong(&csock__trace_state, &unknown, on);
    return atomic_load(&csock__trace_state) > 0;
}

void csock_settrace(int on)
{
    atomic_store(&csock__trace_state, on ? 1 : 0);
}

void csock__trace(const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "csock: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    n += m;
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* One write per line, so lines from threads and processes do not interleave. */
    fwrite(line, 1, (size_t)n, stderr);
}

const char *csock__result_text(int rc)
{
    return rc < 0 ? csock_strerror(rc) : "ok";
}

void csock__trace_count(const char *op, size_t asked, ssize_t n, const char *unit)
{
    if (n < 0)
        csock__trace("%s %zu -> %s", op, asked, csock_strerror((int)n));
    else if (n == 0 && asked > 0 && op[0] == 'r')
        csock__trace("%s %zu -> 0 %s (end of stream)", op, asked, unit);
    else
        csock__trace("%s %zu -> %zd %s", op, asked, n, unit);
}
