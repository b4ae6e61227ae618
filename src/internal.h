/* SPDX-License-Identifier: MIT */
/* Internal interface shared by csock's source files. Cross-file symbols use the csock__ prefix. */
#ifndef CSOCK_INTERNAL_H
#define CSOCK_INTERNAL_H

/* Every source file includes this header first: Linux interfaces (accept4, SOCK_CLOEXEC,
 * strerrorname_np) need it before any system header. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "csock.h"

#include <stdatomic.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CSOCK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CSOCK_UNLIKELY(x) (x)
#endif

#if defined(__GNUC__)
#define CSOCK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CSOCK_PRINTF(f, a)
#endif

/* A protocol layered over a connected stream socket's bytes (TLS, tls_socket.c). While a socket
 * has one, csock_send, csock_sendall, csock_recv (and their variants), csock_shutdown and
 * csock_close go through it; calls that would move bytes around it (csock_sendmsg,
 * csock_sendfile, ...) are refused by csock__check_plain. The layer's state starts with this. */
typedef struct csock__layer csock__layer;
typedef struct csock__layer_ops {
    /* As csock_send_flags and csock_recv_flags (to and from as for sendto and recvfrom); each
     * records its own failures. */
    ssize_t (*send)(csock *s, const void *buf, size_t len, int flags, const csock_addr *to,
                    const char *op);
    ssize_t (*recv)(csock *s, void *buf, size_t len, int flags, csock_addr *from, const char *op);
    int (*sendall)(csock *s, const void *buf, size_t len, size_t *sent);
    int (*shutdown)(csock *s, int how);
    /* Ends the layer, freeing it and setting s->layer to NULL; with notify, it first tells the
     * peer it is ending (TLS: close_notify), without waiting. */
    void (*end)(csock *s, int notify);
} csock__layer_ops;
struct csock__layer {
    const csock__layer_ops *ops;
};

struct csock {
    int fd; /* -1 once closed or detached */
    int family, type, protocol;
    int64_t timeout_ns; /* < 0: block forever, 0: non-blocking, > 0: limit per call */
    int had_timeout;    /* the kernel timeouts were ever set: accepted sockets may carry them */
    csock_addr peer;    /* the peer as connected or accepted, for messages; len 0 if unknown */
    int no_segments;    /* the kernel refused UDP segmentation once: batches use sendmmsg */

    /* NULL, or the protocol over the socket's bytes (TLS) */
    csock__layer *layer;
};

/* ---- errors (error.c) ---- */

/* Records a failure of op on s (its peer address, if known, goes into the message) and returns
 * code. Cheap: the message is only formatted when csock_lasterror() asks for it, so hot paths
 * (EAGAIN on non-blocking sockets) may call it freely. */
int csock__fail(int code, const char *op, const csock_addr *addr);

/* Records a failure whose message is formatted now from fmt (the whole message) and returns
 * code. For cold paths with specific wording. */
int csock__failf(int code, const char *fmt, ...) CSOCK_PRINTF(2, 3);

/* Converts the current errno into a csock code. */
int csock__errno(void);

/* Converts a getaddrinfo/getnameinfo return value into a csock code (EAI_SYSTEM: errno). */
int csock__gai_error(int gai);

/* ---- tracing (trace.c) ---- */

extern atomic_int csock__trace_state; /* -1 not read yet, 0 off, 1 on */
int csock__trace_init(void);
void csock__trace(const char *fmt, ...) CSOCK_PRINTF(1, 2);

static inline int csock__tracing(void)
{
    int t = atomic_load_explicit(&csock__trace_state, memory_order_relaxed);
    if (CSOCK_UNLIKELY(t != 0)) return t > 0 ? 1 : csock__trace_init();
    return 0;
}

/* Traces a call that moves a count of things: "recv 512 -> 4 bytes", "recv 512 -> 0 bytes (end
 * of stream)", "recvmany 64 -> 3 messages", "send 6 -> Broken pipe". */
void csock__trace_count(const char *op, size_t asked, ssize_t n, const char *unit);

/* Text for a result: "ok" or the error text. */
const char *csock__result_text(int rc);

/* ---- addresses (addr.c, resolve.c) ---- */

/* Formats addr for messages; never fails (an unnamed or empty address gives "(unnamed)"). */
const char *csock__addr_text(const csock_addr *addr, char buf[CSOCK_ADDRSTRLEN]);

/* Checks that addr's len is one its bytes can hold: within the structure, at least a family,
 * and for AF_INET, AF_INET6 and AF_UNIX within that family's sockaddr. NULL or len 0 (no
 * address) passes: callers that need one say so. Returns 0, or a recorded CSOCK_EINVAL ("bind:
 * address length 200 is over the 128 bytes of a csock_addr"). Every call that takes a csock_addr
 * asks here before it reads a byte of it. */
int csock__addr_check(const csock_addr *addr, const char *op);

/* The Unix path or "@name" that text names for a socket of family: csock_unix_path's answer,
 * or, on an AF_UNIX socket, any other text as it is (a relative path needs no "unix:" there).
 * NULL when the text is no Unix address. */
const char *csock__unix_text(const char *text, int family);

/* Builds a Unix-domain address from the n bytes of a path or "@abstract" name (no "unix:"
 * prefix: csock__unix_text has removed it). Reports failures as op. */
int csock__unix_addr(csock_addr *out, const char *path, size_t n, const char *op);

/* Binds s to a Unix address as csock_bind_unix does (mode, a stale socket file replaced). */
int csock__bind_unix_addr(csock *s, const csock_addr *addr, int mode, int replace_stale);

/* Parses a numeric IPv4 or IPv6 host (IPv6 may carry a %scope) into out, with port. Returns 0,
 * or 1 when host is not numeric (nothing is recorded). */
int csock__numeric_host(csock_addr *out, const char *host, int port);

/* Formats "host:port" (with brackets for IPv6 hosts) as the user gave it, for messages. */
const char *csock__hostport_text(const char *host, int port, char *buf, size_t size);

/* Resolves host and port for a socket of the given family and type, as bind (passive) or
 * connect do; failures are reported as "op host:port: reason". */
int csock__lookup(csock_addr *out, const char *host, int port, int family, int type, int passive,
                  const char *op);

/* ---- connecting (endpoint.c) ---- */

/* csock_connect_addr, also giving the text that followed the reason in its message (such as
 * " (the connection reached itself: nothing listens there)"), or NULL, in *why. */
int csock__connect_addr(csock *s, const csock_addr *addr, const char **why);

/* ---- sending everything (io.c) ---- */

/* Records that a datagram of size bytes did not fit in len (the buffer holds its start), naming
 * from or else the peer; nothing is cut silently. Returns CSOCK_EMSGSIZE. */
ssize_t csock__datagram_cut(csock *s, const char *op, size_t len, ssize_t size,
                            const csock_addr *from);

/* Sends all len bytes (completing partial writes) by the deadline (0: none), adding what went
 * out to *done. *lowered as for csock__wait_again; the caller restores. Returns 0 or a code
 * (nothing recorded). */
int csock__send_until(csock *s, const void *buf, size_t len, int64_t deadline, int *lowered,
                      size_t *done);

/* ---- messages (msg.c) ---- */

/* csock_sendmsg and csock_recvmsg, reporting failures and traces as op. */
ssize_t csock__sendmsg(csock *s, csock_msg *msg, int flags, const char *op);
ssize_t csock__recvmsg(csock *s, csock_msg *msg, int flags, const char *op);

/* ---- sockets (socket.c, timeout.c) ---- */

/* Checks that s is usable for op: not NULL, not closed. Returns 0 or a recorded failure. */
static inline int csock__check(const csock *s, const char *op)
{
    if (CSOCK_UNLIKELY(s == NULL)) return csock__failf(CSOCK_EINVAL, "%s: NULL socket", op);
    if (CSOCK_UNLIKELY(s->fd < 0)) return csock__failf(CSOCK_EBADF, "%s: socket is closed", op);
    return 0;
}

/* csock__check for calls that move bytes past a layer (TLS) and so are refused on a socket that
 * has one: "sendmsg 127.0.0.1:443: not on a TLS socket (it would bypass TLS)". */
static inline int csock__check_plain(const csock *s, const char *op)
{
    int rc = csock__check(s, op);
    if (CSOCK_UNLIKELY(rc == 0 && s->layer != NULL)) {
        char where[CSOCK_ADDRSTRLEN];
        return csock__failf(CSOCK_EINVAL, "%s %s: not on a TLS socket (it would bypass TLS)", op,
                            csock__addr_text(&s->peer, where));
    }
    return rc;
}

/* "AF_INET", "AF_INET6", "AF_UNIX", or "family N" written into buf. */
const char *csock__family_name(int family, char buf[24]);

/* Allocates a socket object around fd. On failure (NULL) fd is left as it was. */
csock *csock__new(int fd, int family, int type, int protocol, int64_t timeout_ns);

/* What a number of seconds given to csock may be. Every kind is finite and at most 2^31 s (about
 * 68 years): NaN, the infinities and larger values are refused everywhere, never taken as
 * "forever" or cut to a limit. The ranges are written once, in timeout.c, and every refusal
 * quotes its kind's. */
typedef enum {
    CSOCK__TIMEOUT,      /* CSOCK_NO_TIMEOUT (none), 0 (never wait) or positive */
    CSOCK__TIMEOUT_ZERO, /* 0 (none) or positive: a config field whose zero is the default */
    CSOCK__DELAY,        /* 0 or positive */
    CSOCK__INTERVAL,     /* positive */
    CSOCK__AHEAD,        /* a time, as seconds from now: in the past (negative) it is now */
} csock__seconds_kind;

/* Converts seconds of the given kind to nanoseconds in *ns: rounded to the nearest, a positive
 * value never to 0 (which would mean "do not wait"); -1 for CSOCK_NO_TIMEOUT; negative for a
 * time in the past (2^31 s ago for any earlier one). Returns 0, or a recorded CSOCK_EINVAL:
 * "op value: range" ("settimeout nan: a timeout is CSOCK_NO_TIMEOUT, 0, or positive up to
 * 2^31 s"). */
int csock__seconds_ns(double seconds, csock__seconds_kind kind, const char *op, int64_t *ns);

/* Gives s the timeout ns, changing the descriptor's mode as needed. Returns 0 or a code. */
int csock__set_timeout_ns(csock *s, int64_t ns);

/* The process's default timeout in nanoseconds (< 0: none). */
int64_t csock__default_timeout_ns(void);

/* Puts fd in the mode timeout_ns asks for (see docs/design.md). from_ns is its current mode, so
 * only what differs is changed. Returns 0 or -errno. */
int csock__apply_timeout(int fd, int64_t from_ns, int64_t timeout_ns);

/* Sets SO_RCVTIMEO or SO_SNDTIMEO to ns (0: none). Returns 0 or -errno. */
int csock__set_kernel_timeout(int fd, int optname, int64_t ns);

/* The coarse monotonic clock, in nanoseconds (timeout.c says why coarse). */
int64_t csock__now(void);

/* The deadline for a call on s starting now: 0 when s has no timeout or the call does not wait
 * (the clock is only read when it matters). */
static inline int64_t csock__deadline(const csock *s, int flags)
{
    return (s->timeout_ns > 0 && !(flags & MSG_DONTWAIT)) ? csock__now() + s->timeout_ns : 0;
}

/* A blocking call was interrupted (EINTR) or must wait again after partial progress. With a
 * deadline, the kernel timeout optname is lowered to what remains and *lowered is set; returns
 * 0 to go on, or CSOCK_ETIMEOUT when the deadline has passed. Without one, returns 0. */
int csock__wait_again(csock *s, int optname, int64_t deadline, int *lowered);

/* Restores the kernel timeout optname after csock__wait_again lowered it. */
void csock__restore_timeout(csock *s, int optname, int lowered);

/* One system call on s: returns its result, or -1 with errno set. */
typedef ssize_t (*csock__syscall)(csock *s, void *args, int flags);

/* Runs call until it does not fail with EINTR, within s's timeout for this call: the one place
 * that retries interrupted calls and keeps their deadline (optname: SO_RCVTIMEO for calls that
 * receive, SO_SNDTIMEO for calls that send). Returns the call's result or a negative code
 * (nothing recorded). Inline, so the call is direct. */
static inline ssize_t csock__retrying(csock *s, int optname, int flags, csock__syscall call,
                                      void *args);

/* Maps an error from a call that may wait: EAGAIN is CSOCK_ETIMEOUT when s has a timeout and
 * the call waited (flags without MSG_DONTWAIT), else CSOCK_EAGAIN. */
static inline int csock__wait_error(const csock *s, int err, int flags)
{
    if (err == EAGAIN && s->timeout_ns > 0 && !(flags & MSG_DONTWAIT)) return CSOCK_ETIMEOUT;
    return -err;
}

static inline ssize_t csock__retrying(csock *s, int optname, int flags, csock__syscall call,
                                      void *args)
{
    int64_t deadline = csock__deadline(s, flags);
    int lowered = 0;
    ssize_t n;
    while ((n = call(s, args, flags)) < 0) {
        if (errno != EINTR) {
            n = csock__wait_error(s, errno, flags);
            break;
        }
        int rc = csock__wait_again(s, optname, deadline, &lowered);
        if (rc < 0) {
            n = rc;
            break;
        }
    }
    if (CSOCK_UNLIKELY(lowered)) csock__restore_timeout(s, optname, lowered);
    return n;
}

#endif /* CSOCK_INTERNAL_H */
