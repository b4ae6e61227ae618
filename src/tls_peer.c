/* SPDX-License-Identifier: MIT */
/* The peer's certificate, as its subject's text and as DER, for TLS sockets and streams alike:
 * one wording, one set of codes. */
#include "tls_internal.h"

#include <openssl/x509.h>

#include <limits.h>
#include <string.h>

/* The peer's certificate, or a recorded CSOCK_ENOENT ("op localhost:4433: the peer gave no
 * certificate") with NULL. */
static X509 *peer_certificate(const csock__tls *t, const char *op)
{
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (!cert) {
        char at[CSOCK_ADDRSTRLEN];
        csock__failf(CSOCK_ENOENT, "%s %s: the peer gave no certificate", op,
                     csock__tls_where(t, at));
    }
    return cert;
}

/* Records that what op has (n bytes of what) does not fit in size. */
static int no_room(const csock__tls *t, const char *op, size_t n, const char *what, size_t size)
{
    char at[CSOCK_ADDRSTRLEN];
    return csock__failf(CSOCK_ENOSPC, "%s %s: %zu bytes of %s do not fit in %zu", op,
                        csock__tls_where(t, at), n, what, size);
}

int csock__tls_peer_subject(const csock__tls *t, char *buf, size_t size, const char *op)
{
    if (size > 0) buf[0] = '\0';
    X509 *cert = peer_certificate(t, op);
    if (!cert) return CSOCK_ENOENT;
    BIO *mem = BIO_new(BIO_s_mem());
    char *text = NULL;
    long n = -1;
    if (mem && X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0)
        n = BIO_get_mem_data(mem, &text);
    int rc;
    if (n < 0 || n > INT_MAX - 1) {
        rc = csock__tls_fail_setup(op);
    } else if ((size_t)n >= size) {
        rc = no_room(t, op, (size_t)n + 1, "text (its NUL included)", size);
    } else {
        memcpy(buf, text, (size_t)n);
        buf[n] = '\0';
        rc = (int)n;
    }
    BIO_free(mem);
    return rc;
}

int csock__tls_peer_certificate(const csock__tls *t, unsigned char *buf, size_t size,
                                const char *op)
{
    X509 *cert = peer_certificate(t, op);
    if (!cert) return CSOCK_ENOENT;
    int n = i2d_X509(cert, NULL);
    if (n <= 0) return csock__tls_fail_setup(op);
    if (!buf && size == 0) return n;
    if ((size_t)n > size) return no_room(t, op, (size_t)n, "DER", size);
    unsigned char *at = buf;
    return i2d_X509(cert, &at) == n ? n : csock__tls_fail_setup(op);
}
