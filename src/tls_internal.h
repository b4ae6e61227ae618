/* SPDX-License-Identifier: MIT */
/* TLS's internal interface: the context, a wrapped socket's state, the transport OpenSSL
 * reaches the descriptor through, and OpenSSL's errors in csock's terms. */
#ifndef CSOCK_TLS_INTERNAL_H
#define CSOCK_TLS_INTERNAL_H

#include "internal.h"

#include "csock/tls.h"

#include <openssl/ssl.h>
#include <pthread.h>

typedef struct csock__tls_cache csock__tls_cache;

struct csock_tls_context {
    SSL_CTX *ssl;
    int side;                 /* CSOCK_TLS_CLIENT or CSOCK_TLS_SERVER */
    atomic_int refs;          /* the caller's, and one for each wrapped socket */
    atomic_int frozen;        /* a socket was wrapped with it: no setter may change it now */
    int verify;               /* CSOCK_TLS_VERIFY_* */
    int check_hostname;       /* clients: check the server name against the certificate */
    unsigned char *alpn;      /* the ALPN list in its wire form (length-prefixed names), or NULL */
    unsigned int alpn_len;    /* its bytes */
    int keylog_fd;            /* -1: no key log */
    int system_ca;            /* trust the system's CAs too (loaded when the context freezes) */
    csock__tls_cache *cache;  /* a client's sessions to resume (tls_session.c), or NULL */
    double handshake_timeout; /* seconds a stream's or server's handshake may take; 0: 10 s */
    /* A server's choice of context by the name the client asks for (tls_sni.c), or NULL. */
    csock_tls_sni_callback sni;
    void *sni_data;
    pthread_mutex_t freezing;
};

/* Freezes ctx before its first use (loading the system's CAs if it trusts them). Returns 0 or
 * a recorded failure. */
int csock__tls_freeze(csock_tls_context *ctx);

/* Checks that a setter op may change ctx (not NULL, not frozen). Returns 0 or a recorded
 * CSOCK_EINVAL. */
int csock__tls_changeable(const csock_tls_context *ctx, const char *op);

/* A wrapped socket's TLS state; s->layer points at its first member. */
typedef struct csock__tls {
    csock__layer layer;
    csock *s;
    SSL *ssl;
    csock_tls_context *ctx;
    char *server_name; /* a client's, as given; NULL on a server */
    csock_addr where;  /* the peer, for messages */
    int established;   /* the handshake was done (what the socket tells holds after a failure) */
    int failed;        /* a fatal error (its code): no close_notify may follow */
    char failure[320]; /* its reason, which every later call gives again */
    size_t pending;    /* the plaintext bytes of a record a send left half written, or 0 */
    int shut_rd;       /* csock_shutdown(SHUT_RD): csock_recv returns 0 */
    int want;          /* POLLIN, POLLOUT or 0: what the last CSOCK_EAGAIN waits for */
    char names[256];   /* " (the certificate is for ...)" when its names did not match */
    char alpn[256];    /* the ALPN protocol agreed on, once asked for, or "" */
    /* The operation under way (one csock call), for the transport: */
    int flags;              /* MSG_DONTWAIT when the caller asked for it */
    csock__deadline rd, wr; /* the call's deadline (one end, both directions' kernel timeouts) */
    int fresh;              /* no system call of this operation has run yet, and the kernel's
                               timeout is the whole of what is left */
    int err;                /* the transport's last failure (a csock code), or 0 */
    int eof;                /* the transport read the end of the stream */
} csock__tls;

/* ---- a client's session cache (tls_session.c) ---- */

/* Offers t's server the session the cache holds for it, if any (before the handshake). */
void csock__tls_cache_offer(csock__tls *t);

/* Frees a cache and its sessions. NULL is allowed. */
void csock__tls_cache_free(csock__tls_cache *c);

/* ---- the transport (tls_bio.c) ---- */

/* A BIO that moves t's bytes over t->s's descriptor (recv, and send with MSG_NOSIGNAL), within
 * the operation's deadline; NULL when out of memory. */
BIO *csock__tls_bio(csock__tls *t);

/* Starts an operation on t: flags (only MSG_DONTWAIT counts), when it must end on csock__now()'s
 * clock (0: no limit), and fresh (1 when the socket's kernel timeout is the whole time the
 * operation has). */
void csock__tls_begin(csock__tls *t, int flags, int64_t at, int fresh);

/* When an operation on s starting now must end, by its timeout and flags (0: no limit). */
static inline int64_t csock__tls_deadline(csock *s, int flags)
{
    return csock__deadline_begin(s, SO_RCVTIMEO, flags).at;
}

/* Ends an operation: restores kernel timeouts the transport lowered. */
void csock__tls_end(csock__tls *t);

/* Writes " (the certificate is for example.com, 10.0.0.1)", the DNS and IP names of cert, into
 * out (size bytes); "" when it has none. */
void csock__tls_certificate_names(X509 *cert, char *out, size_t size);

/* Why the SSL call on t that returned ret failed: a csock code, and the reason written into why
 * (size bytes), as the TLS socket words it (tls_socket.c). */
int csock__tls_why(csock__tls *t, int ret, char *why, size_t size);

/* Names the server a client of t means: SNI (unless an IP literal) and what the certificate must
 * name. Returns 0 or a recorded CSOCK_EINVAL naming op. */
int csock__tls_name_server(csock__tls *t, const char *name, const char *op);

/* Sets TCP_NODELAY on a TCP connection (peer's family IPv4 or IPv6; others are left alone): TLS
 * writes whole records, and with Nagle a server's first reply after a TLS 1.3 handshake waits
 * behind its session tickets for the client's delayed ACK (40 ms). A failure changes nothing. */
void csock__tls_no_delay(int fd, const csock_addr *peer);

/* The ALPN protocol t's handshake agreed on, NUL-terminated in t->alpn, or NULL for none. Only
 * once the handshake is done (it no longer changes then). */
const char *csock__tls_alpn(csock__tls *t);

/* The peer of t, for messages: a client's server name with the port, or the address. */
const char *csock__tls_where(const csock__tls *t, char buf[CSOCK_ADDRSTRLEN]);

/* ---- the peer's certificate (tls_peer.c), for sockets and streams: op names the call ---- */

/* Writes the subject of t's peer certificate as RFC 2253 text into buf (size bytes, "" on a
 * failure). Returns its length, or a recorded CSOCK_ENOENT (no certificate), CSOCK_ENOSPC. */
int csock__tls_peer_subject(const csock__tls *t, char *buf, size_t size, const char *op);

/* Copies t's peer certificate, DER, into buf; with buf NULL and size 0 only its length. Returns
 * its length, or a recorded CSOCK_ENOENT (no certificate), CSOCK_ENOSPC (size too small). */
int csock__tls_peer_certificate(const csock__tls *t, unsigned char *buf, size_t size,
                                const char *op);

/* The handshake timeout of ctx in seconds, the default applied. */
static inline double csock__tls_handshake_timeout(const csock_tls_context *ctx)
{
    return ctx->handshake_timeout > 0 ? ctx->handshake_timeout : 10.0;
}

/* ---- errors (tls_error.c) ---- */

/* Why OpenSSL failed, as a csock code and a reason written into why (size bytes) from its
 * error queue (the first error: the cause), which is then cleared. A system error in the queue
 * keeps its errno code (CSOCK_ENOENT); other errors are fallback. */
int csock__tls_reason(int fallback, char *why, size_t size);

/* Records "what: reason" for a failed OpenSSL call that set up a context (what: "tls ca file
 * x.pem") and returns the code, as csock__tls_reason. */
int csock__tls_fail_setup(const char *what);

#endif /* CSOCK_TLS_INTERNAL_H */
