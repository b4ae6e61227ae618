/* SPDX-License-Identifier: MIT */
/* A thread per connection: the serve function gets a connected, blocking csock socket and may
 * be written like the tutorial's server. Threads are joined, never detached, so that a shutdown
 * leaves nothing running and nothing allocated. When serve returns, the connection is closed
 * gracefully: it lingers if the client may still be sending. */
#include "server_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct csock__client {
    csock_server *server;
    csock *sock;
    pthread_t thread;
    struct csock__client *prev, *next; /* in server->clients while running, then finished */
};

static void unlink_client(csock_server *srv, struct csock__client *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->clients = c->next;
    if (c->next) c->next->prev = c->prev;
}

static void *client_main(void *arg)
{
    struct csock__client *c = arg;
    csock_server *srv = c->server;
    /* TLS first, within the context's handshake timeout: a client that fails it never
     * reaches serve. */
    if (!srv->config.tls || csock__server_tls_handshake(c->sock, srv->config.tls) == 0)
        srv->config.serve(c->sock, srv->config.data);
    /* A close with the client's bytes unread would reset the connection and lose what is still
     * queued for it, so the connection lingers first, as a stream's does: on this thread, off
     * the lock (a shutdown meanwhile ends the wait at once), for a bounded time. */
    int fd = csock_fileno(c->sock);
    if (fd >= 0 && csock__linger_needed(fd, csock__is_tcp(c->sock)))
        csock__drain_to_end(c->sock, (int64_t)(CSOCK__CLOSE_TIMEOUT_DEFAULT * 1e9));
    pthread_mutex_lock(&srv->clients_lock);
    unlink_client(srv, c);
    /* Closed under the lock: a shutdown never reaches a descriptor number already reused. */
    csock_free(c->sock);
    c->sock = NULL;
    c->prev = NULL;
    c->next = srv->finished;
    srv->finished = c;
    srv->running_clients--;
    atomic_fetch_sub(&srv->connections, 1);
    pthread_cond_broadcast(&srv->clients_done);
    pthread_mutex_unlock(&srv->clients_lock);
    return NULL;
}

void csock__serve_on_thread(csock_server *srv, int fd)
{
    struct csock__client *c = calloc(1, sizeof *c);
    int flags = fcntl(fd, F_GETFL);
    if (c && flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0) c->sock = csock_wrap(fd);
    if (c && c->sock && srv->config.timeout > 0) csock_settimeout(c->sock, srv->config.timeout);
    if (!c || !c->sock) {
        close(fd);
        free(c);
        atomic_fetch_sub(&srv->connections, 1);
        return;
    }
    c->server = srv;
    pthread_mutex_lock(&srv->clients_lock);
    c->next = srv->clients;
    if (srv->clients) srv->clients->prev = c;
    srv->clients = c;
    srv->running_clients++;
    if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
        /* No thread: the client is closed at once rather than left waiting. */
        unlink_client(srv, c);
        srv->running_clients--;
        csock_free(c->sock);
        free(c);
        atomic_fetch_sub(&srv->connections, 1);
    }
    pthread_mutex_unlock(&srv->clients_lock);
}

void csock__reap_clients(csock_server *srv)
{
    pthread_mutex_lock(&srv->clients_lock);
    struct csock__client *done = srv->finished;
    srv->finished = NULL;
    pthread_mutex_unlock(&srv->clients_lock);
    while (done) {
        struct csock__client *next = done->next;
        pthread_join(done->thread, NULL);
        free(done);
        done = next;
    }
}

void csock__stop_clients(csock_server *srv)
{
    pthread_mutex_lock(&srv->clients_lock);
    for (struct csock__client *c = srv->clients; c; c = c->next)
        shutdown(csock_fileno(c->sock), SHUT_RDWR);
    while (srv->running_clients > 0)
        pthread_cond_wait(&srv->clients_done, &srv->clients_lock);
    pthread_mutex_unlock(&srv->clients_lock);
    csock__reap_clients(srv);
}
