/* SPDX-License-Identifier: MIT */
/* The timeout model (docs/design.md). A socket with no timeout is a blocking descriptor; with
 * timeout 0 it is O_NONBLOCK; with a positive timeout it stays blocking and the kernel enforces
 * the limit through SO_RCVTIMEO and SO_SNDTIMEO, so each call is the one system call raw code
 * makes. A call's deadline (csock__deadline, internal.h) is kept here: only when a call is
 * interrupted, or must wait again after partial progress, is the kernel's timeout lowered to what
 * remains of it; a step the kernel's timeout does not bound waits with poll instead. */
#include "internal.h"

#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <time.h>

/* Nanoseconds; < 0 means no timeout. */
static _Atomic int64_t default_timeout_ns = -1;

#define MAX_SECONDS 2147483648.0 /* 2^31 s, about 68 years: "up to 2^31 s" below */

/* Deadlines use the coarse monotonic clock: it costs a quarter of the precise one, and its
 * resolution (one kernel tick, a few ms) is the resolution the kernel gives SO_RCVTIMEO and
 * SO_SNDTIMEO anyway. */
int64_t csock__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Each kind's range, as its refusals say it. */
static const char *const seconds_range[] = {
    [CSOCK__TIMEOUT] = "a timeout is CSOCK_NO_TIMEOUT, 0, or positive up to 2^31 s",
    [CSOCK__TIMEOUT_ZERO] = "a timeout is 0 (none) or positive up to 2^31 s",
    [CSOCK__DELAY] = "a delay is 0 or positive up to 2^31 s",
    [CSOCK__INTERVAL] = "an interval is positive up to 2^31 s",
    [CSOCK__AHEAD] = "a time is finite and at most 2^31 s from now",
};

int csock__seconds_ns(double seconds, csock__seconds_kind kind, const char *op, int64_t *ns)
{
    *ns = -1;
    if (kind == CSOCK__TIMEOUT && seconds == CSOCK_NO_TIMEOUT) return 0;
    if (kind == CSOCK__AHEAD && seconds < 0 && isfinite(seconds)) {
        /* In the past, and due at once; how long ago keeps such times in order. */
        *ns =
            seconds < -MAX_SECONDS ? (int64_t)(-MAX_SECONDS * 1e9) : (int64_t)(seconds * 1e9 - 0.5);
        return 0;
    }
    int low_ok = kind == CSOCK__INTERVAL ? seconds > 0 : seconds >= 0; /* false for NaN */
    if (!low_ok || seconds > MAX_SECONDS) {
        char value[32];
        /* NaN's sign means nothing; "-nan" would look like a reason. */
        if (isnan(seconds))
            snprintf(value, sizeof value, "nan");
        else
            snprintf(value, sizeof value, "%g", seconds);
        return csock__failf(CSOCK_EINVAL, "%s %s%s: %s", op, value,
                            kind == CSOCK__AHEAD ? " s from now" : "", seconds_range[kind]);
    }
    /* Rounded, not truncated, so that a time read back from a clock in seconds comes back as
     * the same nanosecond. */
    *ns = (int64_t)(seconds * 1e9 + 0.5);
    if (seconds > 0 && *ns == 0) *ns = 1;
    return 0;
}

static double to_seconds(int64_t ns)
{
    return ns < 0 ? CSOCK_NO_TIMEOUT : (double)ns / 1e9;
}

int csock__set_kernel_timeout(int fd, int optname, int64_t ns)
{
    struct timeval tv = {0, 0};
    if (ns > 0) {
        /* Round up: a timeval of zero would mean "no timeout" to the kernel. */
        int64_t us = (ns + 999) / 1000;
        tv.tv_sec = (time_t)(us / 1000000);
        tv.tv_usec = (suseconds_t)(us % 1000000);
    }
    return setsockopt(fd, SOL_SOCKET, optname, &tv, sizeof tv) < 0 ? csock__errno() : 0;
}

int csock__apply_timeout(int fd, int64_t from_ns, int64_t timeout_ns)
{
    int was_nonblocking = from_ns == 0, nonblocking = timeout_ns == 0;
    if (was_nonblocking != nonblocking) {
        int on = nonblocking;
        if (ioctl(fd, FIONBIO, &on) < 0) return csock__errno();
    }
    int64_t kernel_from = from_ns > 0 ? from_ns : 0, kernel_to = timeout_ns > 0 ? timeout_ns : 0;
    if (kernel_from != kernel_to) {
        int rc = csock__set_kernel_timeout(fd, SO_RCVTIMEO, kernel_to);
        if (rc == 0) rc = csock__set_kernel_timeout(fd, SO_SNDTIMEO, kernel_to);
        if (rc < 0) return rc;
    }
    return 0;
}

int csock__deadline_again(csock__deadline *d)
{
    if (d->at == 0) return 0;
    int64_t left = d->at - csock__now();
    if (left <= 0) return CSOCK_ETIMEOUT;
    int rc = csock__set_kernel_timeout(d->s->fd, d->optname, left);
    if (rc < 0) return rc;
    d->lowered = 1;
    return 0;
}

int csock__deadline_wait(csock__deadline *d, short events)
{
    struct pollfd p = {.fd = d->s->fd, .events = events};
    for (;;) {
        int ms = -1;
        if (d->ns == 0) return CSOCK_ETIMEOUT;
        if (d->at) {
            int64_t left = d->at - csock__now();
            if (left <= 0) return CSOCK_ETIMEOUT;
            ms = (int)((left + 999999) / 1000000);
        }
        int n = poll(&p, 1, ms);
        if (n > 0) return 0;
        if (n < 0 && errno != EINTR) return csock__errno();
    }
}

void csock__deadline_restore(csock__deadline *d)
{
    csock__set_kernel_timeout(d->s->fd, d->optname, d->s->timeout_ns);
    d->lowered = 0;
}

int csock__set_timeout_ns(csock *s, int64_t ns)
{
    int rc = csock__apply_timeout(s->fd, s->timeout_ns, ns);
    if (rc == 0) {
        s->timeout_ns = ns;
        s->had_timeout |= ns > 0;
    }
    return rc;
}

int csock_settimeout(csock *s, double seconds)
{
    int rc = csock__check(s, "settimeout");
    if (rc < 0) return rc;
    int64_t ns;
    rc = csock__seconds_ns(seconds, CSOCK__TIMEOUT, "settimeout", &ns);
    if (rc == 0 && (rc = csock__set_timeout_ns(s, ns)) < 0) csock__fail(rc, "settimeout", NULL);
    if (csock__tracing()) {
        char buf[32];
        if (seconds == CSOCK_NO_TIMEOUT)
            snprintf(buf, sizeof buf, "none");
        else
            snprintf(buf, sizeof buf, "%g", seconds);
        csock__trace("settimeout %s -> %s", buf, csock__result_text(rc));
    }
    return rc;
}

double csock_gettimeout(const csock *s)
{
    return s ? to_seconds(s->timeout_ns) : CSOCK_NO_TIMEOUT;
}

int csock_setblocking(csock *s, int blocking)
{
    return csock_settimeout(s, blocking ? CSOCK_NO_TIMEOUT : 0.0);
}

int csock_getblocking(const csock *s)
{
    return s && s->timeout_ns != 0;
}

int csock_setdefaulttimeout(double seconds)
{
    int64_t ns;
    int rc = csock__seconds_ns(seconds, CSOCK__TIMEOUT, "setdefaulttimeout", &ns);
    if (rc < 0) return rc;
    atomic_store(&default_timeout_ns, ns);
    return 0;
}

double csock_getdefaulttimeout(void)
{
    return to_seconds(atomic_load(&default_timeout_ns));
}

int64_t csock__default_timeout_ns(void)
{
    return atomic_load_explicit(&default_timeout_ns, memory_order_relaxed);
}
