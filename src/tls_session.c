/* SPDX-License-Identifier: MIT */
/* A client's cache of sessions to resume, by server name and port, as Go's ClientSessionCache:
 * the last session each server gave is offered the next time a socket of the context connects
 * there. A few slots, replaced in turn, under one lock: contexts are shared by threads. */
#include "tls_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct csock__tls_cache {
    pthread_mutex_t lock;
    size_t size, next; /* slots, and the one to replace next when a server is new */
    struct slot {
        char key[300]; /* "name:port" */
        SSL_SESSION *session;
    } slots[];
};

/* The key of t's server: its name and port. Returns 0, or -1 when t has no name. */
static int key_of(const csock__tls *t, char key[300])
{
    if (!t->server_name) return -1;
    int port = csock_addr_port(&t->where);
    return csock__hostport_text(t->server_name, port < 0 ? 0 : port, key, 300) ? 0 : -1;
}

/* OpenSSL's word that a server gave a session (at the handshake's end in TLS 1.2; a TLS 1.3
 * ticket comes with the first data read after it). Keeps it: returns 1, the reference is ours. */
static int new_session(SSL *ssl, SSL_SESSION *session)
{
    csock__tls *t = SSL_get_app_data(ssl);
    csock__tls_cache *c = t ? t->ctx->cache : NULL;
    char key[300];
    if (!c || !SSL_SESSION_is_resumable(session) || key_of(t, key) < 0) return 0;
    pthread_mutex_lock(&c->lock);
    struct slot *slot = NULL;
    for (size_t i = 0; i < c->size && !slot; i++)
        if (c->slots[i].session && strcmp(c->slots[i].key, key) == 0) slot = &c->slots[i];
    if (!slot) {
        slot = &c->slots[c->next];
        c->next = (c->next + 1) % c->size;
        snprintf(slot->key, sizeof slot->key, "%s", key);
    }
    SSL_SESSION_free(slot->session);
    slot->session = session;
    pthread_mutex_unlock(&c->lock);
    return 1;
}

int csock_tls_context_set_session_cache(csock_tls_context *ctx, size_t size)
{
    int rc = csock__tls_changeable(ctx, "tls session cache");
    if (rc < 0) return rc;
    if (ctx->side != CSOCK_TLS_CLIENT)
        return csock__failf(CSOCK_EINVAL, "tls session cache: a server resumes sessions by "
                                          "itself; this cache is a client's");
    if (size > 1024)
        return csock__failf(CSOCK_EINVAL, "tls session cache %zu: at most 1024 servers", size);
    csock__tls_cache *c = NULL;
    if (size > 0) {
        c = calloc(1, sizeof *c + size * sizeof c->slots[0]);
        if (!c) return csock__failf(CSOCK_ENOMEM, "tls session cache: out of memory");
        pthread_mutex_init(&c->lock, NULL);
        c->size = size;
    }
    csock__tls_cache_free(ctx->cache);
    ctx->cache = c;
    SSL_CTX_set_session_cache_mode(ctx->ssl,
                                   c ? SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE
                                     : SSL_SESS_CACHE_OFF);
    SSL_CTX_sess_set_new_cb(ctx->ssl, c ? new_session : NULL);
    return 0;
}

void csock__tls_cache_offer(csock__tls *t)
{
    csock__tls_cache *c = t->ctx->cache;
    char key[300];
    if (!c || key_of(t, key) < 0) return;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->size; i++)
        if (c->slots[i].session && strcmp(c->slots[i].key, key) == 0) {
            SSL_set_session(t->ssl, c->slots[i].session); /* takes a reference of its own */
            break;
        }
    pthread_mutex_unlock(&c->lock);
}

void csock__tls_cache_free(csock__tls_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->size; i++)
        SSL_SESSION_free(c->slots[i].session);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
