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

#include <netinet/in.h>
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
    /* As sendall, within the deadline at (csock__deadline's: 0 none) of an operation that began
     * earlier (csock_sendfile's, one deadline over every piece). */
    int (*sendall_by)(csock *s, const void *buf, size_t len, int64_t at, size_t *sent);
    int (*shutdown)(csock *s, int how);
    /* Ends the layer, freeing it and setting s->layer to NULL. notify is CSOCK__END_QUIET,
     * CSOCK__END_NOTIFY: it first tells the peer it is ending (TLS: close_notify), or
     * CSOCK__END_LINGER: it tells, and then, if input is unread (which would make a close reset
     * the connection), reads and drops what the peer sends until its end (bounded). */
    void (*end)(csock *s, int notify);
} csock__layer_ops;
struct csock__layer {
    const csock__layer_ops *ops;
};
#define CSOCK__END_QUIET  0
#define CSOCK__END_NOTIFY 1
#define CSOCK__END_LINGER 2

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

/* Whether s is a TCP socket. */
static inline int csock__is_tcp(const csock *s)
{
    return (s->family == AF_INET || s->family == AF_INET6) && s->type == SOCK_STREAM &&
           (s->protocol == 0 || s->protocol == IPPROTO_TCP);
}

/* ---- errors (error.c) ---- */

/* Records a failure of op on s (its peer address, if known, goes into the message) and returns
 * code. Cheap: the message is only formatted when csock_lasterror() asks for it, so hot paths
 * (EAGAIN on non-blocking sockets) may call it freely. */
int csock__fail(int code, const char *op, const csock_addr *addr);

/* Records a failure whose message is formatted now from fmt (the whole message) and returns
 * code. For cold paths with specific wording. */
int csock__failf(int code, const char *fmt, ...) CSOCK_PRINTF(2, 3);

/* Adds why, when not NULL, to the failure just recorded, after its reason: "send: Broken pipe
 * (the socket is not connected: csock_connect it first)". */
void csock__explain(const char *why);

/* The longest hint csock__hint writes. */
#define CSOCK__HINT_MAX 200

/* What to do next after op ("send", "recv", "accept", "bind", ...) failed on s with code, where
 * the system's words alone mislead: a send on a socket never connected, a second bind, an
 * accept on a socket not listening, a port reserved for root (addr: the address bound). Returns
 * a static text, one written into buf, or NULL when there is nothing to add (hint.c). */
const char *csock__hint(const csock *s, int code, const char *op, const csock_addr *addr,
                        char buf[CSOCK__HINT_MAX]);

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

/* Appends the n bytes of text to buf (size bytes) at *pos, escaped as every message and trace
 * line shows text from outside: a printable byte as it is, any other (and the backslash) as
 * "\xNN". Returns 0, or -1 when the rest does not fit (buf then ends at the last byte that did,
 * never inside an escape). */
int csock__escape(char *buf, size_t size, size_t *pos, const void *text, size_t n);

/* Formats "host:port" (with brackets for IPv6 hosts) as the user gave it, escaped
 * (csock__escape), for messages and trace lines. */
const char *csock__hostport_text(const char *host, int port, char *buf, size_t size);

/* Resolves host and port for a socket of the given family and type, as bind (passive) or
 * connect do; failures are reported as "op host:port: reason". */
int csock__lookup(csock_addr *out, const char *host, int port, int family, int type, int passive,
                  const char *op);

/* ---- binding, connecting (accept.c, connect.c) ---- */

/* Records "op host:port (resolved): reason" when the user gave a name that resolved to another
 * text, else "op resolved: reason"; why, if not NULL, follows the reason. Returns rc. */
int csock__fail_why(int rc, const char *op, const char *host, int port, const csock_addr *addr,
                    const char *why);

/* Checks that addr is an address for op on s: present, of a length its bytes can hold, and of
 * s's family. Returns 0 or a recorded failure ("connect: no address"). */
int csock__check_addr(const csock *s, const csock_addr *addr, const char *op);

/* Whether a TCP connect that succeeded met its own socket. With nothing listening on a local port
 * in the range source ports come from, a connect that happens to be given that very port as its
 * source reaches itself (a "simultaneous open") and succeeds, talking to itself. Go's net
 * refuses such a connection as well: the caller undoes it and reports CSOCK_ECONNREFUSED with
 * csock__reached_itself_text after the reason. One getsockname, after a connect that succeeded
 * only (connect.c). */
int csock__reached_itself(const csock *s, const csock_addr *addr);
extern const char csock__reached_itself_text[];

/* csock_connect_addr, also giving the text that followed the reason in its message (such as
 * " (the connection reached itself: nothing listens there)"), or NULL, in *why. The returned
 * code, addr and *why are the parts of the failure's message, for a caller that composes its own
 * (create_connection's list of tried addresses) to read instead of parsing the text. */
int csock__connect_addr(csock *s, const csock_addr *addr, const char **why);

/* ---- sending everything (io.c) ---- */

/* Records that a datagram of size bytes did not fit in len (the buffer holds its start), naming
 * from or else the peer; nothing is cut silently. Returns CSOCK_EMSGSIZE. */
ssize_t csock__datagram_cut(csock *s, const char *op, size_t len, ssize_t size,
                            const csock_addr *from);

struct csock__deadline; /* a call's deadline: see "sockets" below */

/* Sends all len bytes (completing partial writes) within the deadline d (begun with SO_SNDTIMEO;
 * the caller ends it), adding what went out to *done. Returns 0 or a code (nothing recorded). */
int csock__send_until(csock *s, const void *buf, size_t len, struct csock__deadline *d,
                      size_t *done);

/* ---- a lingering close (linger.c) ---- */

/* Seconds a lingering close may wait for the peer's end of file when nothing else bounds it: a
 * stream whose handler's close_timeout is 0, a THREADS server's connection. */
#define CSOCK__CLOSE_TIMEOUT_DEFAULT 5.0

/* Whether closing the connected stream socket fd now could lose bytes the peer has not read:
 * when input is waiting unread in the kernel (the close would reset the connection) or bytes of
 * ours are not yet acknowledged. A peer that has everything and sends nothing loses nothing. tcp
 * says fd is a TCP socket: one getsockopt answers then, where another kind asks twice. */
int csock__linger_needed(int fd, int tcp);

/* Shuts s down for writing (the peer reads end of file after the last byte), then reads and
 * drops what the peer sends until its end of file, an error, or timeout_ns (-1: none; 0: only
 * what is there now), waiting by the one deadline rule (csock__deadline). Does not close s.
 * Returns 0 at the peer's end of file (or when s is not connected: nothing to wait for),
 * CSOCK_ETIMEOUT, or a negative errno (nothing recorded). */
int csock__drain_to_end(csock *s, int64_t timeout_ns);

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

/* csock_socket with timeout_ns (csock's model: -1 none, 0 non-blocking, else the kernel's
 * timeouts) instead of the default, given at birth: no system call after socket(2) for 0. */
csock *csock__socket_with(int family, int type, int protocol, int64_t timeout_ns);

/* csock__socket_with into s, an object of the caller's (part of a larger one). Returns 0, or a
 * recorded failure with s->fd -1. Close s with csock_close, never csock_free. */
int csock__socket_init(csock *s, int family, int type, int protocol, int64_t timeout_ns);

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

/* A call's deadline: the one place that keeps the time a call on a socket may take, across the
 * EINTR retries and the waits after partial progress of every blocking step (send and receive,
 * sendall, sendfile, accept, connect, ICMP receive, a graceful close). Modelled on CPython's
 * sock_call_ex, with the kernel doing the waiting (docs/design.md, "How it is enforced"):
 *
 *     csock__deadline d = csock__deadline_begin(s, SO_RCVTIMEO, flags);
 *     while ((n = the_call(s->fd, ...)) < 0) {
 *         if (errno != EINTR) { n = csock__deadline_error(&d, errno); break; }
 *         if ((n = csock__deadline_again(&d)) < 0) break;
 *     }
 *     csock__deadline_end(&d);
 *
 * Beginning reads the clock only when the call has a limit; a call that does not block makes no
 * system call beyond its own. Only again lowers the kernel timeout, and end restores it. */
typedef struct csock__deadline {
    csock *s;
    int64_t ns;  /* the call's timeout: < 0 none, 0 never wait, > 0 the limit */
    int64_t at;  /* with a limit, when it ends on csock__now()'s clock; else 0 */
    int optname; /* the kernel timeout the call waits by: SO_RCVTIMEO or SO_SNDTIMEO */
    int lowered; /* again lowered it: end sets it back to the socket's timeout */
} csock__deadline;

/* The deadline of a call on s that lasts at most ns (< 0: no limit; 0: it never waits) and waits
 * by the kernel timeout optname. */
static inline csock__deadline csock__deadline_of(csock *s, int64_t ns, int optname)
{
    csock__deadline d = {s, ns, ns > 0 ? csock__now() + ns : 0, optname, 0};
    return d;
}

/* The deadline of a call on s starting now, with the socket's timeout, or never waiting when
 * flags has MSG_DONTWAIT. optname: SO_RCVTIMEO for calls that receive or accept, SO_SNDTIMEO
 * for calls that send or connect. */
static inline csock__deadline csock__deadline_begin(csock *s, int optname, int flags)
{
    return csock__deadline_of(s, (flags & MSG_DONTWAIT) ? 0 : s->timeout_ns, optname);
}

/* The call was interrupted (EINTR), or must wait again after partial progress: returns 0 to make
 * it again, with the kernel timeout lowered to what remains of a limit, or CSOCK_ETIMEOUT when
 * the limit has passed (or a code if the kernel refused the timeout). */
int csock__deadline_again(csock__deadline *d);

/* Waits with poll for events on the socket within what remains: for steps the kernel timeout
 * does not bound (finishing an interrupted connect, draining a closing socket). Returns 0 when
 * the socket is ready, CSOCK_ETIMEOUT when the time is up (at once for a call that never waits),
 * or a code. EINTR is retried within the deadline. */
int csock__deadline_wait(csock__deadline *d, short events);

/* Maps the errno of a failed call: EAGAIN is CSOCK_ETIMEOUT when the call had a limit (the
 * kernel's timeout ran out), else CSOCK_EAGAIN; anything else is -err. */
static inline int csock__deadline_error(const csock__deadline *d, int err)
{
    return err == EAGAIN && d->at ? CSOCK_ETIMEOUT : -err;
}

/* Ends the call: restores the kernel timeout if again lowered it. */
/* csock__deadline_end's slow path. */
void csock__deadline_restore(csock__deadline *d);
static inline void csock__deadline_end(csock__deadline *d)
{
    if (CSOCK_UNLIKELY(d->lowered)) csock__deadline_restore(d);
}

/* One system call on s: returns its result, or -1 with errno set. */
typedef ssize_t (*csock__syscall)(csock *s, void *args, int flags);

/* Runs call until it does not fail with EINTR, within s's timeout for this call (optname and
 * flags as for csock__deadline_begin). Returns the call's result or a negative code (nothing
 * recorded). Inline, so the call is direct. */
static inline ssize_t csock__retrying(csock *s, int optname, int flags, csock__syscall call,
                                      void *args)
{
    csock__deadline d = csock__deadline_begin(s, optname, flags);
    ssize_t n;
    while ((n = call(s, args, flags)) < 0) {
        if (errno != EINTR) {
            n = csock__deadline_error(&d, errno);
            break;
        }
        int rc = csock__deadline_again(&d);
        if (rc < 0) {
            n = rc;
            break;
        }
    }
    csock__deadline_end(&d);
    return n;
}

#endif /* CSOCK_INTERNAL_H */
