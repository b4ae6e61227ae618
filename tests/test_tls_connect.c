/* SPDX-License-Identifier: MIT */
/* TLS on the loop's connect (csock_stream_connect with csock_connect_options.tls), from
 * <csock/connect.h>: the handshake after the connect, verified by name or by server_name; a bad
 * certificate with its reason and no on_open; one deadline over resolving, connecting and the
 * handshake; a refused connect starts no handshake; what is refused before anything starts; the
 * context may be freed once the call returns. Run with the tests' own hosts file (localhost is
 * 127.0.0.1; csock-dual is ::1 and 127.0.0.1). */
#include "check_stream.h"
#include "check_tls.h"

#include <csock/connect.h>

/* What the client saw. */
struct client {
    int opened, closed, done;
    int error;
    int stream_at_close; /* on_close had a stream (the handshake failed) or not (no connect) */
    char version[32];
    char message[512];
    size_t got;
    double closed_at;
};

static void client_open(csock_stream *st, void *data)
{
    struct client *c = data;
    c->opened++;
    const char *v = csock_stream_tls_version(st);
    snprintf(c->version, sizeof c->version, "%s", v ? v : "(none)");
    CHECK_EQ(csock_stream_write(st, "ping", 4), 0);
}

static void client_data(csock_stream *st, void *data)
{
    struct client *c = data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    c->got += n;
    csock_stream_consume(st, n);
    if (c->got >= 4) csock_stream_close(st);
}

static void client_close(csock_stream *st, int error, void *data)
{
    struct client *c = data;
    c->closed++;
    c->error = error;
    c->stream_at_close = st != NULL;
    snprintf(c->message, sizeof c->message, "%s", error ? csock_lasterror() : "");
    c->closed_at = check_now();
    c->done = 1;
}

static const csock_stream_handler client_handler = {
    .on_open = client_open, .on_data = client_data, .on_close = client_close};

/* Connects to host:port with opts on a loop of its own, runs it until the stream is done. */
static struct client run_connect(const char *host, int port, const csock_connect_options *opts)
{
    struct client c = {0};
    csock_loop *loop = csock_loop_new();
    CHECK(loop != NULL);
    CHECK(csock_stream_connect(loop, host, port, opts, &client_handler, &c) != NULL);
    double end = check_now() + 20;
    while (!c.done && check_now() < end)
        CHECK(csock_loop_run_once(loop, 0.1) >= 0);
    CHECK(c.done);
    csock_loop_free(loop);
    return c;
}

static const csock_stream_handler echo_handler = {.on_data = check_echo};

/* By name, over every address: localhost's certificate is checked against the name; an IP
 * literal against the certificate's addresses; server_name instead of the host. */
static void connects_and_verifies(void)
{
    csock_tls_context *sctx = server_ctx("server"), *cctx = client_ctx();
    struct check_server r;
    check_server_start(&r, &(csock_server_config){.handler = &echo_handler, .tls = sctx});
    const struct {
        const char *host, *server_name;
    } cases[] = {{"localhost", NULL}, {"127.0.0.1", NULL}, {"csock-dual", "localhost"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        csock_connect_options o = {.timeout = 10, .tls = cctx, .server_name = cases[i].server_name};
        struct client c = run_connect(cases[i].host, r.port, &o);
        CHECK_EQ(c.opened, 1);
        CHECK_EQ(c.error, 0);
        CHECK_EQ(c.got, 4);
        CHECK_STR(c.version, "TLSv1.3");
    }
    /* csock-dual without server_name: the certificate does not name csock-dual. */
    struct client c = run_connect("csock-dual", r.port, &(csock_connect_options){.tls = cctx});
    CHECK_EQ(c.opened, 0);
    CHECK_EQ(c.error, CSOCK_ETLSVERIFY);
    CHECK(strstr(c.message, "csock-dual") != NULL);
    check_server_stop(&r);
    csock_tls_context_free(sctx);
    csock_tls_context_free(cctx);
}

/* An expired certificate, and one of a CA the client does not trust: on_close with the stream
 * and the reason, on_open never. */
static void bad_certificates_are_refused_with_their_reason(void)
{
    const struct {
        const char *cert, *reason;
    } cases[] = {{"expired", "certificate has expired"},
                 {"other", "unable to get local issuer certificate"}};
    csock_tls_context *cctx = client_ctx();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        csock_tls_context *sctx = server_ctx(cases[i].cert);
        struct check_server r;
        check_server_start(&r, &(csock_server_config){.handler = &echo_handler, .tls = sctx});
        struct client c =
            run_connect("localhost", r.port, &(csock_connect_options){.timeout = 10, .tls = cctx});
        CHECK_EQ(c.opened, 0);
        CHECK_EQ(c.closed, 1);
        CHECK_EQ(c.stream_at_close, 1);
        CHECK_EQ(c.error, CSOCK_ETLSVERIFY);
        CHECK(strstr(c.message, cases[i].reason) != NULL);
        CHECK(strstr(c.message, "localhost") != NULL);
        check_server_stop(&r);
        csock_tls_context_free(sctx);
    }
    csock_tls_context_free(cctx);
}

/* A peer that accepts and never answers the handshake: the connect's one timeout ends it, well
 * before the context's handshake timeout (10 s). */
static void one_deadline_covers_the_handshake(void)
{
    csock *listener = csock_create_server("127.0.0.1", 0, NULL);
    CHECK(listener != NULL);
    csock_addr a;
    CHECK_EQ(csock_getsockname(listener, &a), 0);
    csock_tls_context *cctx = client_ctx();
    double start = check_now();
    struct client c = run_connect("127.0.0.1", csock_addr_port(&a),
                                  &(csock_connect_options){.timeout = 0.3, .tls = cctx});
    double took = c.closed_at - start;
    CHECK_EQ(c.opened, 0);
    CHECK_EQ(c.error, CSOCK_ETIMEOUT);
    CHECK_EQ(c.stream_at_close, 1);
    CHECK(took >= 0.25);
    CHECK(took < 5); /* the context's 10 s would be 10 */
    csock_free(listener);
    csock_tls_context_free(cctx);
}

/* A connect refused starts no handshake: on_close without a stream, the connect's message. */
static void refused_connect_starts_no_handshake(void)
{
    csock *s = csock_create_server("127.0.0.1", 0, NULL);
    csock_addr a;
    CHECK_EQ(csock_getsockname(s, &a), 0);
    int port = csock_addr_port(&a);
    csock_free(s); /* nothing listens there now */
    csock_tls_context *cctx = client_ctx();
    struct client c =
        run_connect("127.0.0.1", port, &(csock_connect_options){.timeout = 5, .tls = cctx});
    CHECK_EQ(c.opened, 0);
    CHECK_EQ(c.stream_at_close, 0);
    CHECK_EQ(c.error, CSOCK_ECONNREFUSED);
    CHECK(strstr(c.message, "Connection refused") != NULL);
    csock_tls_context_free(cctx);
}

static void ignore_connect(csock_loop *loop, csock *s, int error, void *data)
{
    (void)loop, (void)error, (void)data;
    csock_free(s);
}

/* What is refused before anything starts, each with its reason. */
static void bad_tls_options_are_refused(void)
{
    csock_loop *loop = csock_loop_new();
    csock_tls_context *cctx = client_ctx(), *sctx = server_ctx("server");
    struct client c = {0};
    csock_connect_options o = {.tls = cctx};
    CHECK(csock_loop_connect(loop, "127.0.0.1", 1, &o, ignore_connect, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "tls is for csock_stream_connect");
    o.tls = sctx;
    CHECK(csock_stream_connect(loop, "127.0.0.1", 1, &o, &client_handler, &c) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "the context is a server's");
    o.tls = cctx;
    CHECK(csock_stream_connect(loop, "unix:/nonexistent.sock", 0, &o, &client_handler, &c) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "no server name to check the certificate against");
    CHECK_EQ(c.closed, 0);
    csock_loop_run_once(loop, 0);
    CHECK_EQ(c.closed, 0); /* no callback for a refused call */
    csock_tls_context_free(cctx);
    csock_tls_context_free(sctx);
    csock_loop_free(loop);
}

/* The context freed right after the call: the operation holds its own reference (ASan would
 * see a use after free). Also over Unix, with server_name. */
static void context_may_be_freed_once_called(void)
{
    csock_tls_context *sctx = server_ctx("server");
    char path[300];
    snprintf(path, sizeof path, "unix:%s/tls.sock", certs);
    csock_server *srv =
        csock_server_new(path, &(csock_server_config){.handler = &echo_handler, .tls = sctx});
    CHECK(srv != NULL);
    struct check_server r = {.srv = srv};
    r.thread = check_thread(check_server_run, &r);
    for (int unix_socket = 0; unix_socket < 2; unix_socket++) {
        struct check_server tcp;
        if (!unix_socket)
            check_server_start(&tcp, &(csock_server_config){.handler = &echo_handler, .tls = sctx});
        struct client c = {0};
        csock_loop *loop = csock_loop_new();
        csock_tls_context *cctx = client_ctx();
        csock_connect_options o = {.timeout = 10, .tls = cctx, .server_name = "localhost"};
        CHECK(csock_stream_connect(loop, unix_socket ? path : "127.0.0.1",
                                   unix_socket ? 0 : tcp.port, &o, &client_handler, &c) != NULL);
        csock_tls_context_free(cctx);
        double end = check_now() + 20;
        while (!c.done && check_now() < end)
            CHECK(csock_loop_run_once(loop, 0.1) >= 0);
        CHECK_EQ(c.opened, 1);
        CHECK_EQ(c.got, 4);
        CHECK_EQ(c.error, 0);
        csock_loop_free(loop);
        if (!unix_socket) check_server_stop(&tcp);
    }
    check_server_stop(&r);
    csock_tls_context_free(sctx);
}

int main(void)
{
    check_tls_setup();
    RUN(connects_and_verifies);
    RUN(bad_certificates_are_refused_with_their_reason);
    RUN(one_deadline_covers_the_handshake);
    RUN(refused_connect_starts_no_handshake);
    RUN(bad_tls_options_are_refused);
    RUN(context_may_be_freed_once_called);
    return check_tls_done();
}
