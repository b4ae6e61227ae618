/* SPDX-License-Identifier: MIT */
/* The transport under TLS: a BIO of csock's own through which OpenSSL reads and writes the
 * socket. OpenSSL's socket BIO (SSL_set_fd) writes with write(2), which raises SIGPIPE when the
 * peer is gone, and knows nothing of csock's deadlines; this one sends with MSG_NOSIGNAL,
 * retries EINTR, and keeps one deadline over every system call of a csock call, as csock's
 * plain calls do (timeout.c): the first call waits with the kernel's timeout, which is then the
 * whole time left; a later one first looks without waiting, and only if it must wait lowers the
 * kernel's timeout to what remains. So a recv that finds its record whole costs the system
 * calls raw OpenSSL code makes, and no more. */
#include "tls_internal.h"

#include <openssl/bio.h>
#include <pthread.h>

void csock__tls_begin(csock__tls *t, int flags, int64_t at, int fresh)
{
    t->flags = flags & MSG_DONTWAIT;
    int64_t ns = t->flags ? 0 : at ? at - csock__now() : -1;
    t->rd = (csock__deadline){t->s, ns, at, SO_RCVTIMEO, 0};
    t->wr = (csock__deadline){t->s, ns, at, SO_SNDTIMEO, 0};
    t->fresh = fresh;
    t->err = 0;
    t->want = 0;
}

void csock__tls_end(csock__tls *t)
{
    csock__deadline_end(&t->rd);
    csock__deadline_end(&t->wr);
}

/* One send or recv of the operation, as the comment at the top says. Returns the count, or a
 * csock code: CSOCK_EAGAIN or CSOCK_ETIMEOUT when it could not go on in time. */
static ssize_t transfer(csock__tls *t, int sending, void *buf, size_t len)
{
    csock *s = t->s;
    csock__deadline *d = sending ? &t->wr : &t->rd;
    int look_first = d->at && !t->fresh && !t->flags;
    for (;;) {
        int flags = t->flags | (look_first ? MSG_DONTWAIT : 0);
        ssize_t n =
            sending ? send(s->fd, buf, len, flags | MSG_NOSIGNAL) : recv(s->fd, buf, len, flags);
        if (n >= 0) {
            t->fresh = 0;
            return n;
        }
        int err = errno;
        if (err == EINTR || (look_first && (err == EAGAIN || err == EWOULDBLOCK))) {
            /* Waits again with only what is left (or fails with CSOCK_ETIMEOUT). */
            t->fresh = 0;
            int rc = csock__deadline_again(d);
            if (rc < 0) return rc;
            look_first = 0;
            continue;
        }
        t->fresh = 0;
        return csock__deadline_error(d, err);
    }
}

/* A failure OpenSSL may come back from (the handshake or the record goes on later) is marked
 * for retry; others end the connection. */
static int failed(BIO *b, csock__tls *t, ssize_t rc, int sending)
{
    t->err = (int)rc;
    if (rc == CSOCK_EAGAIN || rc == CSOCK_ETIMEOUT) {
        if (sending)
            BIO_set_retry_write(b);
        else
            BIO_set_retry_read(b);
    }
    return 0;
}

static int bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
    csock__tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = transfer(t, 1, (void *)data, len);
    if (n < 0) return failed(b, t, n, 1);
    *written = (size_t)n;
    return 1;
}

static int bio_read(BIO *b, char *data, size_t len, size_t *got)
{
    csock__tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = transfer(t, 0, data, len);
    if (n < 0) return failed(b, t, n, 0);
    if (n == 0) {
        /* OpenSSL asks BIO_CTRL_EOF to tell an end of stream from an error. */
        t->eof = 1;
        return 0;
    }
    *got = (size_t)n;
    return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    csock__tls *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: /* nothing is held back: every write goes straight to the kernel */
        return 1;
    case BIO_CTRL_EOF:
        return t->eof;
    default:
        return 0;
    }
}

static BIO_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "csock");
    if (m && BIO_meth_set_write_ex(m, bio_write) && BIO_meth_set_read_ex(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl))
        method = m;
    else
        BIO_meth_free(m);
}

BIO *csock__tls_bio(csock__tls *t)
{
    pthread_once(&method_once, make_method);
    BIO *b = method ? BIO_new(method) : NULL;
    if (b) {
        BIO_set_data(b, t);
        BIO_set_init(b, 1);
    }
    return b;
}
