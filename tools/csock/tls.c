/* SPDX-License-Identifier: MIT */
/* --tls: builds the one context a session uses from the options, and says what a handshake
 * agreed on (-v). */
#include "tls.h"

#include <stdio.h>
#include <string.h>

#ifdef CSOCK_TOOL_TLS
#include <csock/tls.h>

#define MAX_ALPN 16

int tool_has_tls(void)
{
    return 1;
}

/* --alpn h2,http/1.1 into the context. Returns 0, or a negative code. */
static int set_alpn(csock_tls_context *ctx, const char *list)
{
    char copy[1024];
    const char *names[MAX_ALPN];
    size_t n = 0;
    snprintf(copy, sizeof copy, "%s", list); /* options.c bounds the list */
    for (char *p = copy, *comma; p; p = comma ? comma + 1 : NULL) {
        comma = strchr(p, ',');
        if (comma) *comma = '\0';
        names[n++] = p; /* options.c checks the count and that no name is empty */
    }
    return csock_tls_context_set_alpn(ctx, names, n);
}

/* A context for one side: a server's (with --cert and --key; --ca when it is this side's) or a
 * client's (--ca, --insecure; --cert and --key when they are this side's). */
static csock_tls_context *make_context(const struct config *c, int server, int own_ca, int own_cert)
{
    csock_tls_context *ctx = csock_tls_context_new(server ? CSOCK_TLS_SERVER : CSOCK_TLS_CLIENT);
    int rc = ctx ? 0 : csock_lastcode();
    if (rc == 0 && !server && c->insecure)
        rc = csock_tls_context_set_verify(ctx, CSOCK_TLS_VERIFY_NONE);
    if (rc == 0 && own_ca && c->ca) {
        rc = csock_tls_context_load_ca(ctx, c->ca, NULL);
        /* --ca names whom to trust: the system's CAs no longer are (as ncat's --ssl-trustfile
         * adds to them, csock's replaces them: a test CA is not meant to widen trust). A
         * server asks its clients for a certificate that one signed. */
        if (rc == 0 && !server) rc = csock_tls_context_no_system_ca(ctx);
        if (rc == 0 && server) rc = csock_tls_context_set_verify(ctx, CSOCK_TLS_VERIFY_REQUIRED);
    }
    if (rc == 0 && own_cert && c->cert)
        rc = csock_tls_context_load_cert_chain(ctx, c->cert, c->key);
    if (rc == 0 && c->alpn) rc = set_alpn(ctx, c->alpn);
    /* A client's handshake is part of connecting: -w bounds it, not the context's 10 s. */
    if (rc == 0 && !server && c->wait > 0)
        rc = csock_tls_context_set_handshake_timeout(ctx, c->wait);
    if (rc < 0) {
        say("%s", csock_lasterror());
        csock_tls_context_free(ctx);
        return NULL;
    }
    return ctx;
}

csock_tls_context *tool_tls_context(const struct config *c)
{
    if (!c->tls) return NULL;
    /* forward's --ca is its target's: its listening side asks clients for no certificate. */
    return make_context(c, c->command != CMD_CONNECT, c->command != CMD_FORWARD, 1);
}

csock_tls_context *tool_tls_target_context(const struct config *c)
{
    return c->target_tls ? make_context(c, 0, 1, 0) : NULL;
}

void tool_tls_free(csock_tls_context *ctx)
{
    csock_tls_context_free(ctx);
}

void tool_tls_say(const csock_stream *st, const char *peer)
{
    const char *version = csock_stream_tls_version(st);
    const char *cipher = csock_stream_tls_cipher(st);
    char subject[512];
    int rc = csock_stream_tls_peer_subject(st, subject, sizeof subject);
    const char *alpn = csock_stream_tls_alpn(st);
    say("%s: %s, %s, %s%s%speer certificate %s", peer, version ? version : "TLS",
        cipher ? cipher : "(no cipher)", alpn ? "ALPN " : "", alpn ? alpn : "", alpn ? ", " : "",
        rc >= 0              ? subject
        : rc == CSOCK_ENOENT ? "(none)"
                             : csock_lasterror());
}

#else /* no OpenSSL: options.c refuses --tls, and nothing here is reached */

int tool_has_tls(void)
{
    return 0;
}

csock_tls_context *tool_tls_context(const struct config *c)
{
    if (c->tls) say("--tls: csock was built without OpenSSL 3: TLS is not available");
    return NULL;
}

csock_tls_context *tool_tls_target_context(const struct config *c)
{
    if (c->target_tls) say("--target-tls: csock was built without OpenSSL 3: TLS is not available");
    return NULL;
}

void tool_tls_free(csock_tls_context *ctx)
{
    (void)ctx;
}

void tool_tls_say(const csock_stream *st, const char *peer)
{
    (void)st, (void)peer;
}

#endif

const char *tool_tls_server_name(const struct config *c)
{
    return c->sni ? c->sni : c->address.unix_socket ? NULL : c->address.host;
}
