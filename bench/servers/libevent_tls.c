/* SPDX-License-Identifier: MIT */
/* A TLS echo server on libevent, written the way its documentation teaches: a
 * bufferevent_openssl per connection (accepting), whose input is moved to its output. Usage:
 * echo-libevent-tls HOST PORT CERT KEY; SIGTERM ends it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static SSL_CTX *ctx;

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
    (void)arg;
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *a, int len,
                      void *arg)
{
    (void)a, (void)len, (void)arg;
    struct event_base *base = evconnlistener_get_base(l);
    int one = 1; /* as TLS servers do: no reply held by Nagle behind the session tickets */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(ctx);
    struct bufferevent *bev =
        ssl ? bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE)
            : NULL;
    if (!bev) {
        SSL_free(ssl);
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_term(evutil_socket_t sig, short events, void *arg)
{
    (void)sig, (void)events;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: echo-libevent-tls HOST PORT CERT KEY\n");
        return 2;
    }
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    struct event_base *base = event_base_new();
    struct evconnlistener *l =
        evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                511, (struct sockaddr *)&a, sizeof a);
    if (!l) {
        fprintf(stderr, "echo-libevent-tls: cannot listen\n");
        return 1;
    }
    socklen_t len = sizeof a;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&a, &len);
    printf("listening on %s:%d\n", argv[1], ntohs(a.sin_port));
    fflush(stdout);
    signal(SIGPIPE, SIG_IGN);
    struct event *term = evsignal_new(base, SIGTERM, on_term, base);
    event_add(term, NULL);
    event_base_dispatch(base);
    event_free(term);
    evconnlistener_free(l);
    event_base_free(base);
    SSL_CTX_free(ctx);
    return 0;
}
