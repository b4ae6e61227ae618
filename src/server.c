/* SPDX-License-Identifier: MIT */
/* Servers: listening sockets, event loops that accept and run streams, limits, back-off when
 * descriptors run out, and shutdown. The thread-per-connection mode is in server_threads.c. */
#include "server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACCEPTS_PER_PASS 64 /* then other events get their turn */

/* Out of descriptors, accepting pauses for BACKOFF_FIRST seconds, doubling up to BACKOFF_MAX,
 * until an accept succeeds. The pause only keeps the loop from waking again and again for
 * connections it cannot take (those that wait are shed when each pause ends, a handful of
 * system calls); the longest pause is also how long the next client may wait once descriptors
 * are free again, so it stays short. */
#define BACKOFF_FIRST 0.005
#define BACKOFF_MAX   0.05

/* ---- accepting ---- */

static void accept_ready(csock_loop *loop, csock_watch *w, int events, void *data);

/* Accepts again: the watch's readiness, or a new multishot accept. */
static void accept_on(struct csock__worker *wk)
{
    if (wk->multishot &&
        csock__op_start(wk->loop, &wk->accept_op, CSOCK__OP_ACCEPT, wk->listen_fd) < 0)
        wk->multishot = 0; /* no memory for it: readiness, as on other backends */
    if (!wk->multishot) csock_watch_set(wk->accepting, CSOCK_READ);
}

static void resume_accepting(csock_loop *loop, csock_timer *t, void *data)
{
    (void)loop, (void)t;
    struct csock__worker *wk = data;
    wk->backoff = NULL;
    accept_on(wk);
}

/* Out of descriptors (or memory): with the reserve descriptor freed, take the connections
 * waiting and close them, so that their clients learn at once (end of file, or a reset if they
 * had sent something) instead of hanging in the backlog; then stop accepting for a moment rather
 * than waking again and again for connections that cannot be taken. */
static void back_off(struct csock__worker *wk, int err)
{
    csock_server *srv = wk->server;
    if (err == EMFILE || err == ENFILE) {
        pthread_mutex_lock(&srv->reserve_lock);
        if (srv->reserve_fd >= 0) {
            close(srv->reserve_fd);
            for (int i = 0; i < ACCEPTS_PER_PASS; i++) {
                int fd = accept4(wk->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) break;
                close(fd);
            }
            srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        pthread_mutex_unlock(&srv->reserve_lock);
    }
    wk->backoff_s = wk->backoff_s == 0                ? BACKOFF_FIRST
                    : wk->backoff_s * 2 > BACKOFF_MAX ? BACKOFF_MAX
                                                      : wk->backoff_s * 2;
    csock_timer *t = csock_loop_call_later(wk->loop, wk->backoff_s, resume_accepting, wk);
    if (!t) { /* no memory for a timer: stay on, and try again at the next readiness */
        accept_on(wk);
        return;
    }
    wk->backoff = t;
    csock_watch_set(wk->accepting, 0);
}

static void take(struct csock__worker *wk, int fd)
{
    csock_server *srv = wk->server;
    int max = srv->config.max_connections;
    if (max > 0 && atomic_load(&srv->connections) >= max) {
        close(fd); /* over the limit: the client reads end of file now rather than waiting */
        return;
    }
    atomic_fetch_add(&srv->connections, 1);
    if (srv->config.mode == CSOCK_SERVE_THREADS) {
        csock__serve_on_thread(srv, fd);
    } else if (!(srv->config.tls
                     ? csock__stream_adopt_tls(wk->loop, fd, srv->config.tls, srv->config.handler,
                                               srv->config.data, wk->kind)
                     : csock__stream_adopt(wk->loop, fd, srv->config.handler, srv->config.data,
                                           wk->kind))) {
        close(fd);
        atomic_fetch_sub(&srv->connections, 1);
    }
}

static void accept_ready(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)loop, (void)w, (void)events;
    struct csock__worker *wk = data;
    if (wk->server->config.mode == CSOCK_SERVE_THREADS) csock__reap_clients(wk->server);
    for (int i = 0; i < ACCEPTS_PER_PASS && !atomic_load(&wk->server->shutting); i++) {
        int fd = accept4(wk->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            wk->backoff_s = 0;
            take(wk, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* Every connection waiting is taken: back to the multishot accept, where there is one
             * (readiness took over after an error ended it). */
            if (wk->completes && !wk->multishot) {
                wk->multishot = 1;
                csock_watch_set(wk->accepting, 0);
                accept_on(wk);
            }
            return;
        }
        back_off(wk, errno); /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse: never spin */
        return;
    }
}

/* A multishot accept's completion: a connection, or why accepting stopped. It ends at an error:
 * out of descriptors, the server backs off as above, then accepts by readiness, exactly as on
 * epoll, until the connections waiting are all taken, and then by a multishot accept again. */
static void accepted(csock_loop *loop, csock__op *op, int res, const char *data, int more)
{
    (void)data;
    struct csock__worker *wk =
        (struct csock__worker *)(void *)((char *)op - offsetof(struct csock__worker, accept_op));
    csock_server *srv = wk->server;
    if (srv->config.mode == CSOCK_SERVE_THREADS) csock__reap_clients(srv);
    if (atomic_load(&srv->shutting)) {
        if (res >= 0) close(res);
        return;
    }
    if (res >= 0) {
        wk->backoff_s = 0;
        take(wk, res);
    } else if (res != CSOCK_EINTR && res != CSOCK_ECONNABORTED && res != -EPROTO &&
               res != CSOCK_EAGAIN && res != -ECANCELED) {
        /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse: never spin. A kernel whose multishot accept
         * goes on after such an error has it stopped: the pause decides when to accept again. */
        if (more) csock__op_stop(loop, op, 0);
        wk->multishot = 0;
        if (!wk->backoff) back_off(wk, -res);
        return;
    }
    if (!more && !wk->backoff) accept_on(wk);
}

static void connection_closed(csock_stream *st, void *context)
{
    (void)st;
    csock_server *srv = context;
    atomic_fetch_sub(&srv->connections, 1);
}

/* ---- creating ---- */

static const char *const mode_names[] = {"LOOP", "LOOPS", "THREADS"};

/* A field set in a mode that does not use it is refused rather than ignored: the modes each
 * field applies to (bits 1 << mode), and what its message adds. */
#define IN_LOOP    (1u << CSOCK_SERVE_LOOP)
#define IN_LOOPS   (1u << CSOCK_SERVE_LOOPS)
#define IN_THREADS (1u << CSOCK_SERVE_THREADS)

static int check_fields_fit_mode(const csock_server_config *c)
{
    const struct {
        int set;
        unsigned modes;
        const char *field, *modes_text, *instead;
    } fields[] = {
        {c->handler != NULL, IN_LOOP | IN_LOOPS, "handler", "LOOP and LOOPS modes",
         " (which takes a serve function)"},
        {c->serve != NULL, IN_THREADS, "serve", "THREADS mode", " (which takes a handler)"},
        {c->loops != 0, IN_LOOPS, "loops", "LOOPS mode", ""},
        {c->reuse_port != 0, IN_LOOPS, "reuse_port", "LOOPS mode", ""},
        {c->timeout != 0, IN_THREADS, "timeout", "THREADS mode",
         " (a stream's time limits are its handler's)"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (fields[i].set && !(fields[i].modes & (1u << c->mode)))
            return csock__failf(CSOCK_EINVAL, "server: %s is for %s, not %s%s", fields[i].field,
                                fields[i].modes_text, mode_names[c->mode], fields[i].instead);
    return 0;
}

static int check_config(const csock_server_config *c)
{
    if (c->mode < 0 || c->mode > CSOCK_SERVE_THREADS)
        return csock__failf(CSOCK_EINVAL, "server: unknown mode %d", c->mode);
    int rc = check_fields_fit_mode(c);
    if (rc < 0) return rc;
    const char *bad = NULL;
    if (c->mode == CSOCK_SERVE_THREADS)
        bad = !c->serve ? "THREADS mode needs a serve function" : NULL;
    else
        bad = !c->handler ? "a handler is needed" : NULL;
    if (!bad && (c->loops < 0 || c->max_connections < 0 || c->backlog < 0))
        bad = c->loops < 0             ? "loops is negative"
              : c->max_connections < 0 ? "max_connections is negative"
                                       : "backlog is negative";
    if (bad) return csock__failf(CSOCK_EINVAL, "server: %s", bad);
    int64_t timeout_ns;
    rc = csock__seconds_ns(c->timeout, CSOCK__TIMEOUT_ZERO, "server: timeout", &timeout_ns);
    if (rc < 0) return rc;
    return c->handler ? csock__stream_check_handler(c->handler) : 0;
}

static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

/* The listening sockets on addr: one, or one per loop sharing the port with SO_REUSEPORT. The
 * address is bound as it is, never formatted to text and parsed again. */
static int listen_on(csock_server *srv, const csock_addr *addr)
{
    csock_listen_options o = {.backlog = srv->config.backlog ? srv->config.backlog : 511};
    int count = 1;
    if (srv->config.mode == CSOCK_SERVE_LOOPS && srv->config.reuse_port) {
        o.reuse_port = 1;
        count = srv->worker_count;
    }
    srv->listeners = calloc((size_t)count, sizeof *srv->listeners);
    if (!srv->listeners) return csock__failf(CSOCK_ENOMEM, "server: out of memory");
    csock_addr at = *addr;
    for (int i = 0; i < count; i++) {
        csock *l = csock_create_server_addr(&at, &o);
        if (!l) return csock_lastcode();
        srv->listeners[srv->listener_count++] = l;
        if (csock_settimeout(l, 0) < 0) return csock_lastcode(); /* non-blocking */
        if (i == 0) {
            /* With port 0 the others must share the port the first one got. */
            int rc = csock_getsockname(l, &srv->addr);
            if (rc < 0) return rc;
            if (csock_addr_family(&srv->addr) != AF_UNIX) at = srv->addr;
        }
    }
    return 0;
}

static int make_workers(csock_server *srv)
{
    for (int i = 0; i < srv->worker_count; i++) {
        struct csock__worker *wk = &srv->workers[i];
        wk->server = srv;
        wk->loop = csock_loop_new();
        if (!wk->loop) return csock_lastcode();
        int rc = csock__streams_on_close(wk->loop, connection_closed, srv);
        if (rc < 0) return rc;
    }
    return 0;
}

static void stop_on_signal(csock_loop *loop, void *data)
{
    (void)loop;
    csock_server_shutdown(data);
}

/* Makes a server listening on addr, config already checked. */
static csock_server *server_new(const csock_addr *addr, const csock_server_config *config)
{
    /* A TLS context is checked (a server's, with a certificate) and held from here on. */
    if (config->tls && csock__server_tls_check(config->tls) < 0) return NULL;
    csock_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        if (config->tls) csock__server_tls_release(config->tls);
        csock__failf(CSOCK_ENOMEM, "server: out of memory");
        return NULL;
    }
    srv->config = *config;
    srv->reserve_fd = -1;
    pthread_mutex_init(&srv->reserve_lock, NULL);
    pthread_mutex_init(&srv->clients_lock, NULL);
    pthread_cond_init(&srv->clients_done, NULL);
    srv->worker_count =
        config->mode == CSOCK_SERVE_LOOPS ? (config->loops ? config->loops : online_cores()) : 1;
    srv->workers = calloc((size_t)srv->worker_count, sizeof *srv->workers);
    if (!srv->workers) {
        csock__failf(CSOCK_ENOMEM, "server: out of memory");
        csock_server_free(srv);
        return NULL;
    }
    int rc = make_workers(srv);
    if (rc == 0) rc = listen_on(srv, addr);
    for (int i = 0; rc == 0 && i < srv->worker_count; i++) {
        struct csock__worker *wk = &srv->workers[i];
        csock *l = srv->listeners[i % srv->listener_count];
        wk->listen_fd = csock_fileno(l);
        wk->kind =
            CSOCK__ADOPT_BYTES | CSOCK__ADOPT_SERVED | (csock__is_tcp(l) ? CSOCK__ADOPT_TCP : 0);
        wk->completes = wk->multishot = csock__loop_completes(wk->loop, CSOCK__OP_ACCEPT);
        wk->accept_op.done = accepted;
        wk->accepting = csock_loop_add(wk->loop, wk->listen_fd, wk->completes ? 0 : CSOCK_READ,
                                       accept_ready, wk);
        if (!wk->accepting)
            rc = csock_lastcode();
        else if (wk->completes)
            rc = csock__op_start(wk->loop, &wk->accept_op, CSOCK__OP_ACCEPT, wk->listen_fd);
    }
    if (rc == 0 && config->stop_on_signals &&
        ((rc = csock_loop_on_signal(srv->workers[0].loop, SIGINT, stop_on_signal, srv)) == 0))
        rc = csock_loop_on_signal(srv->workers[0].loop, SIGTERM, stop_on_signal, srv);
    if (rc == 0 && (srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        rc = csock__failf(-errno, "server: open /dev/null: %s", csock_strerror(-errno));
    if (rc < 0) {
        csock_server_free(srv); /* records nothing: the failure's message stays */
        return NULL;
    }
    return srv;
}

csock_server *csock_server_new(const char *address, const csock_server_config *config)
{
    if (!address || !config) {
        csock__failf(CSOCK_EINVAL, "server: NULL %s", !address ? "address" : "config");
        return NULL;
    }
    csock_addr addr;
    if (check_config(config) < 0 || csock_addr_parse(&addr, address) < 0) return NULL;
    return server_new(&addr, config);
}

csock_server *csock_server_new_addr(const csock_addr *addr, const csock_server_config *config)
{
    if (!addr || !config) {
        csock__failf(CSOCK_EINVAL, "server: NULL %s", !addr ? "address" : "config");
        return NULL;
    }
    if (check_config(config) < 0) return NULL;
    if (addr->len == 0) {
        csock__failf(CSOCK_EINVAL, "server: no address");
        return NULL;
    }
    if (csock__addr_check(addr, "server") < 0) return NULL;
    return server_new(addr, config);
}

/* ---- running ---- */

/* Closes every stream gracefully (what is queued still goes, then each lingers until its peer's
 * end of file) and runs the loop until all are gone: each is bounded by its handler's
 * close_timeout. A second shutdown closes what is left at once. */
static void finish_streams(csock_loop *loop)
{
    csock__streams_close_all(loop, CSOCK_ESHUTDOWN);
    while (csock__streams_open(loop)) {
        if (csock_loop_run_once(loop, -1) < 0 || atomic_exchange(&loop->stop, 0)) {
            csock__streams_abort_all(loop, CSOCK_ESHUTDOWN);
            csock_loop_run_once(loop, 0); /* runs their on_close */
            return;
        }
    }
}

static void *work(void *arg)
{
    struct csock__worker *wk = arg;
    csock_server *srv = wk->server;
    while (!atomic_load(&srv->shutting))
        if (csock_loop_run(wk->loop) < 0) break; /* the poller failed: nothing more can run */
    csock_watch_remove(wk->accepting);
    wk->accepting = NULL;
    csock_timer_cancel(wk->backoff);
    wk->backoff = NULL;
    if (srv->config.mode == CSOCK_SERVE_THREADS) {
        csock__stop_clients(srv);
    } else {
        finish_streams(wk->loop);
    }
    return NULL;
}

int csock_server_run(csock_server *srv)
{
    if (!srv) return csock__failf(CSOCK_EINVAL, "server: NULL server");
    if (srv->ran) return csock__failf(CSOCK_EINVAL, "server: already ran");
    srv->ran = 1;
    int rc = 0;
    for (int i = 1; i < srv->worker_count; i++) {
        struct csock__worker *wk = &srv->workers[i];
        int err = pthread_create(&wk->thread, NULL, work, wk);
        if (err) {
            rc = csock__failf(-err, "server: start loop %d: %s", i, csock_strerror(-err));
            csock_server_shutdown(srv);
            break;
        }
        wk->has_thread = 1;
    }
    work(&srv->workers[0]);
    for (int i = 1; i < srv->worker_count; i++)
        if (srv->workers[i].has_thread) pthread_join(srv->workers[i].thread, NULL);
    return rc;
}

void csock_server_shutdown(csock_server *srv)
{
    if (!srv) return;
    atomic_store(&srv->shutting, 1);
    for (int i = 0; i < srv->worker_count; i++)
        csock_loop_stop(srv->workers[i].loop);
}

csock_loop *csock_server_loop(const csock_server *srv, int i)
{
    if (!srv || srv->config.mode == CSOCK_SERVE_THREADS || i < 0 || i >= srv->worker_count)
        return NULL;
    return srv->workers[i].loop;
}

int csock_server_connections(const csock_server *srv)
{
    return srv ? atomic_load(&srv->connections) : 0;
}

int csock_server_address(const csock_server *srv, csock_addr *addr)
{
    if (!srv || !addr) return csock__failf(CSOCK_EINVAL, "server address: NULL argument");
    *addr = srv->addr;
    return 0;
}

void csock_server_free(csock_server *srv)
{
    if (!srv) return;
    for (int i = 0; srv->workers && i < srv->worker_count; i++)
        csock_loop_free(srv->workers[i].loop);
    free(srv->workers);
    for (int i = 0; i < srv->listener_count; i++)
        csock_free(srv->listeners[i]);
    free(srv->listeners);
    if (srv->reserve_fd >= 0) close(srv->reserve_fd);
    pthread_mutex_destroy(&srv->reserve_lock);
    pthread_mutex_destroy(&srv->clients_lock);
    pthread_cond_destroy(&srv->clients_done);
    if (srv->config.tls) csock__server_tls_release(srv->config.tls);
    free(srv);
}

int csock__server_completes(const csock_server *srv)
{
    return srv->worker_count > 0 && srv->workers[0].completes;
}
