/* SPDX-License-Identifier: MIT */
/* TLS contexts: one side's settings, safe by default, frozen once a socket uses them. */
#include "tls_internal.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Appends one key log line (OpenSSL gives it without its newline) in one write, so that lines
 * from several threads never mix in a file opened O_APPEND. */
static void keylog_line(const SSL *ssl, const char *line)
{
    csock_tls_context *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    struct iovec iov[2] = {{(void *)line, strlen(line)}, {"\n", 1}};
    ssize_t n;
    do
        n = writev(ctx->keylog_fd, iov, 2);
    while (n < 0 && errno == EINTR);
}

/* A server's ALPN choice: its own first protocol that the client offered, else none. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    csock_tls_context *ctx = arg;
    unsigned char *chosen;
    if (ctx->alpn && SSL_select_next_proto(&chosen, outlen, ctx->alpn, ctx->alpn_len, in, inlen) ==
                         OPENSSL_NPN_NEGOTIATED) {
        *out = chosen;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* Verification's own result, kept; for a host name the certificate does not have, its names are
 * noted for the message. */
static int verified(int ok, X509_STORE_CTX *store)
{
    int err = X509_STORE_CTX_get_error(store);
    if (!ok && (err == X509_V_ERR_HOSTNAME_MISMATCH || err == X509_V_ERR_IP_ADDRESS_MISMATCH)) {
        SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
        csock__tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
        if (t)
            csock__tls_certificate_names(X509_STORE_CTX_get_current_cert(store), t->names,
                                         sizeof t->names);
    }
    return ok;
}

/* Gives the OpenSSL context the verification mode ctx->verify asks for. */
static void apply_verify(csock_tls_context *ctx)
{
    int mode = SSL_VERIFY_NONE;
    if (ctx->verify != CSOCK_TLS_VERIFY_NONE) mode = SSL_VERIFY_PEER;
    if (ctx->verify == CSOCK_TLS_VERIFY_REQUIRED && ctx->side == CSOCK_TLS_SERVER)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx->ssl, mode, verified);
}

csock_tls_context *csock_tls_context_new(int side)
{
    if (side != CSOCK_TLS_CLIENT && side != CSOCK_TLS_SERVER) {
        csock__failf(CSOCK_EINVAL,
                     "tls context: side %d is neither CSOCK_TLS_CLIENT nor "
                     "CSOCK_TLS_SERVER",
                     side);
        return NULL;
    }
    csock_tls_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        csock__failf(CSOCK_ENOMEM, "tls context: out of memory");
        return NULL;
    }
    ERR_clear_error();
    ctx->ssl = SSL_CTX_new(side == CSOCK_TLS_CLIENT ? TLS_client_method() : TLS_server_method());
    if (!ctx->ssl) {
        csock__tls_fail_setup("tls context");
        free(ctx);
        return NULL;
    }
    ctx->side = side;
    atomic_init(&ctx->refs, 1);
    atomic_init(&ctx->frozen, 0);
    ctx->keylog_fd = -1;
    ctx->check_hostname = side == CSOCK_TLS_CLIENT;
    ctx->verify = side == CSOCK_TLS_CLIENT ? CSOCK_TLS_VERIFY_REQUIRED : CSOCK_TLS_VERIFY_NONE;
    SSL_CTX_set_app_data(ctx->ssl, ctx);
    SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION);
    SSL_CTX_set_security_level(ctx->ssl, 2);
    SSL_CTX_set_options(ctx->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    /* A send returns after each record, as a plain send returns after a partial write;
     * csock_sendall goes on from there. */
    SSL_CTX_set_mode(ctx->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    apply_verify(ctx);
    if (side == CSOCK_TLS_SERVER) {
        SSL_CTX_set_alpn_select_cb(ctx->ssl, alpn_select, ctx);
        /* A session resumes only with the context it was made with (a server that verifies its
         * clients refuses every resumption without one): random, as its ticket keys are, so that
         * another context (chosen by SNI) never takes a session verified by different rules. */
        unsigned char id[16];
        if (RAND_bytes(id, sizeof id) != 1 ||
            SSL_CTX_set_session_id_context(ctx->ssl, id, sizeof id) != 1) {
            csock__tls_fail_setup("tls context");
            SSL_CTX_free(ctx->ssl);
            free(ctx);
            return NULL;
        }
    }
    ctx->system_ca = side == CSOCK_TLS_CLIENT;
    pthread_mutex_init(&ctx->freezing, NULL);
    return ctx;
}

void csock_tls_context_free(csock_tls_context *ctx)
{
    if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1) return;
    SSL_CTX_free(ctx->ssl);
    csock__tls_cache_free(ctx->cache);
    pthread_mutex_destroy(&ctx->freezing);
    free(ctx->alpn);
    if (ctx->keylog_fd >= 0) close(ctx->keylog_fd);
    free(ctx);
}

/* OpenSSL 3.0 fills a certificate's cache of its decoded extensions the first time the
 * certificate is checked, under the certificate's lock, while other threads' checks read the
 * cache without it (ThreadSanitizer sees the key identifiers written and compared at once when
 * the first handshakes of several threads meet). The CAs' caches are filled here, on one thread,
 * before the context is used. */
static void cache_extensions(SSL_CTX *ssl)
{
    STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ssl));
    for (int i = 0; i < sk_X509_OBJECT_num(objects); i++) {
        X509 *cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
        if (cert) X509_check_purpose(cert, -1, 0);
    }
}

int csock__tls_freeze(csock_tls_context *ctx)
{
    int rc = 0;
    pthread_mutex_lock(&ctx->freezing);
    if (!atomic_load(&ctx->frozen)) {
        /* The system's CAs are added last, so that csock_tls_context_no_system_ca may come
         * before or after csock_tls_context_load_ca. */
        ERR_clear_error();
        if (ctx->system_ca && !SSL_CTX_set_default_verify_paths(ctx->ssl)) {
            rc = csock__tls_fail_setup("tls context: the system's CAs");
        } else {
            cache_extensions(ctx->ssl);
            atomic_store(&ctx->frozen, 1);
        }
    }
    pthread_mutex_unlock(&ctx->freezing);
    return rc;
}

int csock__tls_changeable(const csock_tls_context *ctx, const char *op)
{
    if (!ctx) return csock__failf(CSOCK_EINVAL, "%s: NULL context", op);
    if (atomic_load(&ctx->frozen))
        return csock__failf(CSOCK_EINVAL,
                            "%s: the context is in use (a socket was wrapped with it) and can no "
                            "longer change",
                            op);
    return 0;
}

/* Refuses a directory where what (a file) is wanted: OpenSSL would read it as an empty file ("no
 * start line"). Returns 0 or a recorded CSOCK_EISDIR. */
static int not_a_directory(const char *what, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) return 0; /* OpenSSL names the rest */
    return csock__failf(CSOCK_EISDIR, "%s %s: %s", what, path, csock_strerror(CSOCK_EISDIR));
}

int csock_tls_context_load_ca(csock_tls_context *ctx, const char *file, const char *dir)
{
    int rc = csock__tls_changeable(ctx, "tls ca");
    if (rc < 0) return rc;
    if (!file && !dir) return csock__failf(CSOCK_EINVAL, "tls ca: neither a file nor a directory");
    char what[512];
    if (file && (rc = not_a_directory("tls ca file", file)) < 0) return rc;
    ERR_clear_error();
    if (file && !SSL_CTX_load_verify_file(ctx->ssl, file)) {
        snprintf(what, sizeof what, "tls ca file %s", file);
        return csock__tls_fail_setup(what);
    }
    if (dir) {
        /* OpenSSL looks in a directory only when it verifies, and takes one that is not there
         * without a word: so it is looked at here. */
        struct stat st;
        int rc = stat(dir, &st) < 0 ? csock__errno() : S_ISDIR(st.st_mode) ? 0 : CSOCK_ENOTDIR;
        if (rc < 0) return csock__failf(rc, "tls ca directory %s: %s", dir, csock_strerror(rc));
        if (!SSL_CTX_load_verify_dir(ctx->ssl, dir)) {
            snprintf(what, sizeof what, "tls ca directory %s", dir);
            return csock__tls_fail_setup(what);
        }
    }
    return 0;
}

int csock_tls_context_no_system_ca(csock_tls_context *ctx)
{
    int rc = csock__tls_changeable(ctx, "tls no system ca");
    if (rc < 0) return rc;
    ctx->system_ca = 0;
    return 0;
}

int csock_tls_context_load_cert_chain(csock_tls_context *ctx, const char *certfile,
                                      const char *keyfile)
{
    int rc = csock__tls_changeable(ctx, "tls certificate chain");
    if (rc < 0) return rc;
    if (!certfile) return csock__failf(CSOCK_EINVAL, "tls certificate chain: NULL file");
    int key_apart = keyfile != NULL;
    if (!keyfile) keyfile = certfile;
    if ((rc = not_a_directory("tls certificate chain", certfile)) < 0 ||
        (rc = not_a_directory("tls private key", keyfile)) < 0)
        return rc;
    char what[512];
    ERR_clear_error();
    if (!SSL_CTX_use_certificate_chain_file(ctx->ssl, certfile)) {
        snprintf(what, sizeof what, "tls certificate chain %s", certfile);
        return csock__tls_fail_setup(what);
    }
    if (!SSL_CTX_use_PrivateKey_file(ctx->ssl, keyfile, SSL_FILETYPE_PEM)) {
        /* The certificate's file was read: what failed is that no key is in it. */
        if (!key_apart) {
            ERR_clear_error();
            return csock__failf(CSOCK_EINVAL,
                                "tls private key %s: no private key in it (pass the key file too)",
                                keyfile);
        }
        snprintf(what, sizeof what, "tls private key %s", keyfile);
        return csock__tls_fail_setup(what);
    }
    if (!SSL_CTX_check_private_key(ctx->ssl)) {
        snprintf(what, sizeof what, "tls private key %s", keyfile);
        return csock__tls_fail_setup(what);
    }
    return 0;
}

int csock_tls_context_set_verify(csock_tls_context *ctx, int mode)
{
    int rc = csock__tls_changeable(ctx, "tls verify");
    if (rc < 0) return rc;
    if (mode != CSOCK_TLS_VERIFY_NONE && mode != CSOCK_TLS_VERIFY_OPTIONAL &&
        mode != CSOCK_TLS_VERIFY_REQUIRED)
        return csock__failf(CSOCK_EINVAL,
                            "tls verify: mode %d is not CSOCK_TLS_VERIFY_NONE, "
                            "_OPTIONAL or _REQUIRED",
                            mode);
    ctx->verify = mode;
    apply_verify(ctx);
    return 0;
}

int csock_tls_context_set_check_hostname(csock_tls_context *ctx, int on)
{
    int rc = csock__tls_changeable(ctx, "tls check hostname");
    if (rc < 0) return rc;
    if (ctx->side != CSOCK_TLS_CLIENT)
        return csock__failf(CSOCK_EINVAL, "tls check hostname: only a client checks one");
    ctx->check_hostname = on != 0;
    return 0;
}

static int version_ok(int v)
{
    return v == 0 || v == CSOCK_TLS_V1_2 || v == CSOCK_TLS_V1_3;
}

int csock_tls_context_set_versions(csock_tls_context *ctx, int min, int max)
{
    int rc = csock__tls_changeable(ctx, "tls versions");
    if (rc < 0) return rc;
    if (!version_ok(min) || !version_ok(max))
        return csock__failf(CSOCK_EINVAL,
                            "tls versions: 0x%04x is not CSOCK_TLS_V1_2 or "
                            "CSOCK_TLS_V1_3",
                            version_ok(min) ? max : min);
    if (min && max && max < min)
        return csock__failf(CSOCK_EINVAL, "tls versions: max 0x%04x is below min 0x%04x", max, min);
    /* The protocol's numbers are OpenSSL's (TLS1_2_VERSION is 0x0303). */
    SSL_CTX_set_min_proto_version(ctx->ssl, min ? min : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx->ssl, max);
    return 0;
}

int csock_tls_context_set_security_level(csock_tls_context *ctx, int level)
{
    int rc = csock__tls_changeable(ctx, "tls security level");
    if (rc < 0) return rc;
    if (level < 0 || level > 5)
        return csock__failf(CSOCK_EINVAL, "tls security level %d: it is 0 to 5", level);
    SSL_CTX_set_security_level(ctx->ssl, level);
    return 0;
}

int csock_tls_context_set_alpn(csock_tls_context *ctx, const char *const *protocols, size_t count)
{
    int rc = csock__tls_changeable(ctx, "tls alpn");
    if (rc < 0) return rc;
    if (count > 0 && !protocols) return csock__failf(CSOCK_EINVAL, "tls alpn: NULL list");
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = protocols[i] ? strlen(protocols[i]) : 0;
        if (n == 0 || n > 255)
            return csock__failf(CSOCK_EINVAL, "tls alpn: protocol %zu is %s", i,
                                n ? "over 255 bytes" : "empty or NULL");
        total += 1 + n;
    }
    if (total > 65535) return csock__failf(CSOCK_EINVAL, "tls alpn: the list is over 65535 bytes");
    unsigned char *wire = NULL;
    if (count > 0 && !(wire = malloc(total)))
        return csock__failf(CSOCK_ENOMEM, "tls alpn: out of memory");
    unsigned char *p = wire;
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(protocols[i]);
        *p++ = (unsigned char)n;
        memcpy(p, protocols[i], n);
        p += n;
    }
    /* A client offers the list; a server's alpn_select reads it. (0 is success here.) */
    if (ctx->side == CSOCK_TLS_CLIENT && SSL_CTX_set_alpn_protos(ctx->ssl, wire, (unsigned)total)) {
        free(wire);
        return csock__tls_fail_setup("tls alpn");
    }
    free(ctx->alpn);
    ctx->alpn = wire;
    ctx->alpn_len = (unsigned)total;
    return 0;
}

int csock_tls_context_set_ragged_eof(csock_tls_context *ctx, int on)
{
    int rc = csock__tls_changeable(ctx, "tls ragged eof");
    if (rc < 0) return rc;
    if (on)
        SSL_CTX_set_options(ctx->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    else
        SSL_CTX_clear_options(ctx->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return 0;
}

int csock_tls_context_set_keylog(csock_tls_context *ctx, const char *path)
{
    int rc = csock__tls_changeable(ctx, "tls key log");
    if (rc < 0) return rc;
    if (!path) return csock__failf(CSOCK_EINVAL, "tls key log: NULL path");
    if (ctx->keylog_fd >= 0)
        return csock__failf(CSOCK_EINVAL, "tls key log %s: a key log is set already", path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = csock__errno();
        return csock__failf(rc, "tls key log %s: %s", path, csock_strerror(rc));
    }
    ctx->keylog_fd = fd;
    SSL_CTX_set_keylog_callback(ctx->ssl, keylog_line);
    return 0;
}

int csock_tls_context_set_handshake_timeout(csock_tls_context *ctx, double seconds)
{
    int rc = csock__tls_changeable(ctx, "tls handshake timeout");
    int64_t ns;
    if (rc == 0) rc = csock__seconds_ns(seconds, CSOCK__INTERVAL, "tls handshake timeout", &ns);
    if (rc < 0) return rc;
    ctx->handshake_timeout = seconds;
    return 0;
}
