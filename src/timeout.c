/* The timeout model (docs/design.md). A socket with no timeout is a blocking descriptor; with
 * timeout 0 it is O_NONBLOCK; with a positive timeout it stays blocking and the kernel enforces
 * the limit through SO_RCVTIMEO and SO_SNDTIMEO, so each call is the one system call raw code
 * makes. Only when a call is interrupted, or must wait again after partial progress, is the
 * kernel's timeout lowered to what remains of the deadline. */
#include "internal.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <time.h>

/* Nanoseconds; < 0 means no timeout. */
static _Atomic int64_t default_timeout_ns = -1;

#define MAX_TIMEOUT_SECONDS 2147483648.0 /* 2^31 s, about 68 years */

/* Deadlines use the coarse monotonic clock: it costs a quarter of the precise one, and its
 * resolution (one kernel tick, a few ms) is the resolution the kernel gives SO_RCVTIMEO and
 * SO_SNDTIMEO anyway. */
int64_t csock__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t csock__timeout_ns(double seconds, const char *op, int *rc)
{
    *rc = 0;
    if (seconds == CSOCK_NO_TIMEOUT) return -1;
    if (isnan(seconds) || seconds < 0 || seconds > MAX_TIMEOUT_SECONDS) {
        *rc = csock__failf(CSOCK_EINVAL,
                           "%s %g: a timeout is CSOCK_NO_TIMEOUT, 0, or positive up to 2^31 s", op,
                           seconds);
        return -1;
    }
    int64_t ns = (int64_t)(seconds * 1e9);
    /* A tiny positive timeout must not round to 0, which would mean "non-blocking". */
    return (seconds > 0 && ns == 0) ? 1 : ns;
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

int csock__wait_again(csock *s, int optname, int64_t deadline, int *lowered)
{
    if (deadline == 0) return 0;
    int64_t left = deadline - csock__now();
    if (left <= 0) return CSOCK_ETIMEOUT;
    int rc = csock__set_kernel_timeout(s->fd, optname, left);
    if (rc < 0) return rc;
    *lowered = 1;
    return 0;
}

void csock__restore_timeout(csock *s, int optname, int lowered)
{
    if (lowered) csock__set_kernel_timeout(s->fd, optname, s->timeout_ns);
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
    int64_t ns = csock__timeout_ns(seconds, "settimeout", &rc);
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
    int rc;
    int64_t ns = csock__timeout_ns(seconds, "setdefaulttimeout", &rc);
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
