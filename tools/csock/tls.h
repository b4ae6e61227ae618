/* SPDX-License-Identifier: MIT */
/* --tls: the context the options ask for, the name a client checks, and -v's account of a
 * handshake. Where csock was built without OpenSSL, options.c refuses --tls before anything
 * here runs. */
#ifndef CSOCK_TOOL_TLS_H
#define CSOCK_TOOL_TLS_H

#include "config.h"

#include <csock/stream.h>

/* Whether this csock was built with TLS. */
int tool_has_tls(void);

/* The context for c's side (a client's for connect, a server's for listen, serve and forward's
 * listening side), configured from --ca (not forward's), --cert, --key, --alpn and --insecure.
 * Returns it, or NULL having said why. NULL without --tls too (then nothing is said). */
csock_tls_context *tool_tls_context(const struct config *c);

/* forward --target-tls: the client context for the target, from --ca, --alpn and --insecure.
 * Returns it, or NULL having said why; NULL without --target-tls (nothing said). */
csock_tls_context *tool_tls_target_context(const struct config *c);

/* Gives up a context from tool_tls_context; NULL is ignored. */
void tool_tls_free(csock_tls_context *ctx);

/* The name a client sends as SNI and checks the certificate against: --sni, else the connect
 * address's host (c->address: forward passes a config whose address is its target), or NULL
 * for a Unix address without --sni. */
const char *tool_tls_server_name(const struct config *c);

/* -v: "PEER: TLSv1.3, TLS_AES_256_GCM_SHA384, peer certificate O=csock test,CN=localhost" (the
 * subject as RFC 2253 text). */
void tool_tls_say(const csock_stream *st, const char *peer);

#endif
