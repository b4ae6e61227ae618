/* SPDX-License-Identifier: MIT */
/* What a TLS stream tells once its handshake is done, read on both sides of a connection (a
 * stream client and a server of the framework): the ALPN protocol agreed on and whether the
 * session was resumed, the peer's certificate (a server whose client gave none has none to
 * tell); and what they tell before the handshake and on plain streams. */
#include "check_stream.h"
#include "check_tls.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdatomic.h>

/* What one side saw at on_open. */
struct told {
    char alpn[64];          /* csock_stream_tls_alpn, or "(none)" */
    int reused;             /* csock_stream_tls_session_reused */
    int no_delay;           /* the socket's TCP_NODELAY, which TLS streams set */
    int subject_rc, der_rc; /* csock_stream_tls_peer_subject's and _peer_certificate's */
    char subject[160];      /* the subject, or the subject call's message */
};

static void tell(csock_stream *st, struct told *t)
{
    const char *a = csock_stream_tls_alpn(st);
    snprintf(t->alpn, sizeof t->alpn, "%s", a ? a : "(none)");
    t->reused = csock_stream_tls_session_reused(st);
    int on = -1;
    socklen_t len = sizeof on;
    getsockopt(csock_stream_fileno(st), IPPROTO_TCP, TCP_NODELAY, &on, &len);
    t->no_delay = on;
    t->subject_rc = csock_stream_tls_peer_subject(st, t->subject, sizeof t->subject);
    if (t->subject_rc < 0) snprintf(t->subject, sizeof t->subject, "%s", csock_lasterror());
    t->der_rc = csock_stream_tls_peer_certificate(st, NULL, 0);
}

/* ---- the server: echoes, and records what its last stream told ---- */

static struct told server_told;
static atomic_int server_opened;
static pthread_mutex_t server_lock = PTHREAD_MUTEX_INITIALIZER;

static void server_open(csock_stream *st, void *data)
{
    (void)data;
    pthread_mutex_lock(&server_lock);
    tell(st, &server_told);
    pthread_mutex_unlock(&server_lock);
    atomic_fetch_add(&server_opened, 1);
}

static void server_end(csock_stream *st, void *data)
{
    (void)data;
    csock_stream_close(st);
}

static const csock_stream_handler server_handler = {
    .on_open = server_open, .on_data = check_echo, .on_end = server_end};

/* ---- the client: one byte out and back, then its close ---- */

struct client {
    struct told told;
    int opened, done, error;
    size_t got;
    char before[64]; /* what the stream told before its handshake was done */
};

static void client_open(csock_stream *st, void *data)
{
    struct client *c = data;
    c->opened = 1;
    tell(st, &c->told);
    CHECK_EQ(csock_stream_write(st, "s", 1), 0);
}

static void client_data(csock_stream *st, void *data)
{
    struct client *c = data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    c->got += n;
    csock_stream_consume(st, n);
    /* The byte back came with (or after) a TLS 1.3 server's session ticket. */
    if (c->got >= 1) csock_stream_close(st);
}

static void client_close(csock_stream *st, int error, void *data)
{
    (void)st;
    struct client *c = data;
    c->error = error;
    c->done = 1;
}

static const csock_stream_handler client_handler = {
    .on_open = client_open, .on_data = client_data, .on_close = client_close};

/* One connection to port with ctx: returns what the client saw. */
static struct client connect_once(int port, csock_tls_context *ctx)
{
    struct client c = {0};
    csock_loop *loop = csock_loop_new();
    CHECK(loop != NULL);
    csock *s = csock_create_connection("127.0.0.1", port, 10, NULL);
    CHECK(s != NULL);
    csock_stream *st = csock_stream_new_tls(loop, s, ctx, "localhost", &client_handler, &c);
    CHECK(st != NULL);
    /* Before the handshake is done, nothing is agreed on yet. */
    const char *a = csock_stream_tls_alpn(st);
    snprintf(c.before, sizeof c.before, "%s/%d", a ? a : "(none)",
             csock_stream_tls_session_reused(st));
    double end = check_now() + 20;
    while (!c.done && check_now() < end)
        CHECK(csock_loop_run_once(loop, 0.1) >= 0);
    CHECK(c.done);
    csock_loop_free(loop);
    return c;
}

/* The server's on_open has run n times: it runs before the server reads the byte it echoes, so
 * once the client has the echo it has run. */
static void check_server_opened(int n)
{
    CHECK_EQ(atomic_load(&server_opened), n);
}

static void check_server_told(const char *alpn, int reused)
{
    pthread_mutex_lock(&server_lock);
    struct told t = server_told;
    pthread_mutex_unlock(&server_lock);
    CHECK_STR(t.alpn, alpn);
    CHECK_EQ(t.reused, reused);
    CHECK(t.no_delay > 0);
    /* The client gave no certificate. */
    CHECK_EQ(t.subject_rc, CSOCK_ENOENT);
    CHECK(strstr(t.subject, "stream tls peer subject 127.0.0.1:") != NULL);
    CHECK(strstr(t.subject, ": the peer gave no certificate") != NULL);
    CHECK_EQ(t.der_rc, CSOCK_ENOENT);
}

/* Both sides agree on the protocol both offered, the server's choice among the client's; a
 * second connection with the client's session cache resumes, and both sides say so. TLS 1.2
 * and 1.3. */
static void alpn_and_resumption_are_told_on_both_sides(void)
{
    static const char *const served[] = {"h2", "http/1.1"};
    static const char *const offered[] = {"http/1.1", "imap"};
    for (int max = CSOCK_TLS_V1_2; max <= CSOCK_TLS_V1_3; max++) {
        atomic_store(&server_opened, 0);
        csock_tls_context *sctx = server_ctx("server"), *cctx = client_ctx();
        CHECK_EQ(csock_tls_context_set_alpn(sctx, served, 2), 0);
        CHECK_EQ(csock_tls_context_set_alpn(cctx, offered, 2), 0);
        CHECK_EQ(csock_tls_context_set_versions(cctx, 0, max), 0);
        CHECK_EQ(csock_tls_context_set_session_cache(cctx, 4), 0);
        struct check_server r;
        check_server_start(&r, &(csock_server_config){.handler = &server_handler, .tls = sctx});
        for (int i = 0; i < 2; i++) {
            struct client c = connect_once(r.port, cctx);
            CHECK_EQ(c.error, 0);
            CHECK_EQ(c.got, 1);
            CHECK_STR(c.before, "(none)/0");
            CHECK_STR(c.told.alpn, "http/1.1");
            CHECK(c.told.no_delay > 0);
            CHECK_EQ(c.told.reused, i); /* the second time */
            CHECK_STR(c.told.subject, "O=csock test,CN=localhost");
            CHECK(c.told.der_rc > 100);
            check_server_opened(i + 1);
            check_server_told("http/1.1", i);
        }
        check_server_stop(&r);
        csock_tls_context_free(sctx);
        csock_tls_context_free(cctx);
    }
}

/* No protocol in common, or none offered: NULL on both sides, and no session cache means no
 * resumption. */
static void no_alpn_agreed_is_null(void)
{
    static const char *const served[] = {"h2"};
    static const char *const offered[] = {"http/1.1"};
    for (int client_offers = 0; client_offers < 2; client_offers++) {
        atomic_store(&server_opened, 0);
        csock_tls_context *sctx = server_ctx("server"), *cctx = client_ctx();
        CHECK_EQ(csock_tls_context_set_alpn(sctx, served, 1), 0);
        if (client_offers) CHECK_EQ(csock_tls_context_set_alpn(cctx, offered, 1), 0);
        struct check_server r;
        check_server_start(&r, &(csock_server_config){.handler = &server_handler, .tls = sctx});
        for (int i = 0; i < 2; i++) {
            struct client c = connect_once(r.port, cctx);
            CHECK_EQ(c.error, 0);
            CHECK_EQ(c.got, 1);
            CHECK_STR(c.told.alpn, "(none)");
            CHECK_EQ(c.told.reused, 0); /* no cache on the client */
            check_server_opened(i + 1);
            check_server_told("(none)", 0);
        }
        check_server_stop(&r);
        csock_tls_context_free(sctx);
        csock_tls_context_free(cctx);
    }
}

/* A handshake that failed agreed on nothing: on_close (no on_open before it) finds no version,
 * cipher or certificate, as before the handshake. */
struct refused {
    int error, opened, closed, der_rc;
    const char *version, *cipher;
};

static void refused_open(csock_stream *st, void *data)
{
    (void)st;
    ((struct refused *)data)->opened = 1;
}

static void refused_close(csock_stream *st, int error, void *data)
{
    struct refused *r = data;
    r->closed = 1;
    r->error = error;
    r->version = csock_stream_tls_version(st);
    r->cipher = csock_stream_tls_cipher(st);
    r->der_rc = csock_stream_tls_peer_certificate(st, NULL, 0);
}

/* A TLS stream client of port by ctx, run until its on_close: what it found there. */
static struct refused connect_until_closed(int port, csock_tls_context *ctx)
{
    static const csock_stream_handler h = {
        .on_open = refused_open, .on_data = check_echo, .on_close = refused_close};
    struct refused got = {0};
    csock_loop *loop = csock_loop_new();
    csock *s = csock_create_connection("127.0.0.1", port, 10, NULL);
    CHECK(s != NULL);
    CHECK(csock_stream_new_tls(loop, s, ctx, "localhost", &h, &got) != NULL);
    double end = check_now() + 20;
    while (!got.closed && check_now() < end)
        CHECK(csock_loop_run_once(loop, 0.1) >= 0);
    csock_loop_free(loop);
    return got;
}

static void a_failed_handshake_tells_nothing(void)
{
    csock_tls_context *sctx = server_ctx("server");
    struct check_server r;
    check_server_start(&r, &(csock_server_config){.handler = &server_handler, .tls = sctx});
    csock_tls_context *cctx = csock_tls_context_new(CSOCK_TLS_CLIENT);
    CHECK_EQ(csock_tls_context_load_ca(cctx, cert("other-ca.pem"), NULL), 0);
    CHECK_EQ(csock_tls_context_no_system_ca(cctx), 0);
    struct refused got = connect_until_closed(r.port, cctx);
    CHECK(got.closed && !got.opened);
    CHECK_EQ(got.error, CSOCK_ETLSVERIFY);
    CHECK(got.version == NULL);
    CHECK(got.cipher == NULL);
    CHECK_EQ(got.der_rc, CSOCK_EINVAL);
    check_server_stop(&r);
    csock_tls_context_free(sctx);
    csock_tls_context_free(cctx);
}

/* A stream whose handshake was done tells what it agreed on to its end, also when a failure came
 * later (a peer that ends without close_notify). */
static void abort_at_open(csock_stream *st, void *data)
{
    (void)data;
    csock_stream_abort(st);
}

static void a_later_failure_keeps_what_was_agreed(void)
{
    static const csock_stream_handler rude = {.on_open = abort_at_open, .on_data = check_echo};
    csock_tls_context *sctx = server_ctx("server"), *cctx = client_ctx();
    struct check_server r;
    check_server_start(&r, &(csock_server_config){.handler = &rude, .tls = sctx});
    struct refused got = connect_until_closed(r.port, cctx);
    CHECK(got.closed && got.opened);
    CHECK_EQ(got.error, CSOCK_ETLSEOF);
    CHECK(got.version != NULL);
    CHECK(got.cipher != NULL);
    CHECK(got.der_rc > 0);
    check_server_stop(&r);
    csock_tls_context_free(sctx);
    csock_tls_context_free(cctx);
}

/* A plain stream and NULL tell nothing. */
static void plain_streams_tell_nothing(void)
{
    CHECK(csock_stream_tls_alpn(NULL) == NULL);
    CHECK_EQ(csock_stream_tls_session_reused(NULL), 0);
    csock_loop *loop = csock_loop_new();
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    static const csock_stream_handler nothing = {.on_data = check_echo};
    csock_stream *st = csock_stream_new(loop, pair[0], &nothing, NULL);
    CHECK(st != NULL);
    CHECK(csock_stream_tls_alpn(st) == NULL);
    CHECK_EQ(csock_stream_tls_session_reused(st), 0);
    char subject[64];
    unsigned char der[64];
    CHECK_EQ(csock_stream_tls_peer_subject(st, subject, sizeof subject), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "stream tls peer subject: not a TLS stream whose handshake is done");
    CHECK_EQ(csock_stream_tls_peer_certificate(st, der, sizeof der), CSOCK_EINVAL);
    CHECK_EQ(csock_stream_tls_peer_certificate(NULL, NULL, 0), CSOCK_EINVAL);
    csock_stream_abort(st);
    csock_loop_run_once(loop, 0);
    csock_free(pair[1]);
    csock_loop_free(loop);
}

int main(void)
{
    check_tls_setup();
    RUN(alpn_and_resumption_are_told_on_both_sides);
    RUN(no_alpn_agreed_is_null);
    RUN(plain_streams_tell_nothing);
    RUN(a_failed_handshake_tells_nothing);
    RUN(a_later_failure_keeps_what_was_agreed);
    return check_tls_done();
}
