/* SPDX-License-Identifier: MIT */
/* A server's choice of context by the name the client asks for (SNI): the user's callback picks
 * one for each handshake, and the connection switches to it (SSL_set_SSL_CTX), holding a
 * reference of its own to it until the connection is freed. */
#include "tls_internal.h"

#include <openssl/err.h>

static int held_index = -1; /* the SSL's ex data slot that holds the context switched to */
static pthread_once_t held_once = PTHREAD_ONCE_INIT;

static void free_held(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    csock_tls_context_free(ptr);
}

static void make_index(void)
{
    held_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_held);
}

/* OpenSSL's servername callback: the user's choice, applied. */
static int choose(SSL *ssl, int *alert, void *arg)
{
    csock_tls_context *ctx = arg, *use = NULL;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (ctx->sni(name, &use, ctx->sni_data) < 0) {
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (!use || use == ctx) return SSL_TLSEXT_ERR_OK;
    /* A context to switch to must be a server's, with a certificate, and frozen from now on. */
    if (use->side != CSOCK_TLS_SERVER || !SSL_CTX_get0_certificate(use->ssl) ||
        csock__tls_freeze(use) < 0 || held_index < 0 || SSL_get_ex_data(ssl, held_index) != NULL) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    atomic_fetch_add(&use->refs, 1);
    /* The switch takes the other context's certificate; verification stays the first one's,
     * its CAs too (OpenSSL would verify a client against the other context's store). */
    if (!SSL_set_ex_data(ssl, held_index, use) || !SSL_set_SSL_CTX(ssl, use->ssl) ||
        !SSL_set1_verify_cert_store(ssl, SSL_CTX_get_cert_store(ctx->ssl))) {
        if (SSL_get_ex_data(ssl, held_index) != use) csock_tls_context_free(use);
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

int csock_tls_context_set_sni_callback(csock_tls_context *ctx, csock_tls_sni_callback fn,
                                       void *data)
{
    int rc = csock__tls_changeable(ctx, "tls sni callback");
    if (rc < 0) return rc;
    if (ctx->side != CSOCK_TLS_SERVER)
        return csock__failf(CSOCK_EINVAL, "tls sni callback: only a server chooses by name");
    pthread_once(&held_once, make_index);
    if (held_index < 0) return csock__tls_fail_setup("tls sni callback");
    ctx->sni = fn;
    ctx->sni_data = data;
    /* (The macro casts without parentheses: the function is named alone.) */
    if (fn)
        SSL_CTX_set_tlsext_servername_callback(ctx->ssl, choose);
    else
        SSL_CTX_set_tlsext_servername_callback(ctx->ssl, NULL);
    SSL_CTX_set_tlsext_servername_arg(ctx->ssl, fn ? ctx : NULL);
    return 0;
}
