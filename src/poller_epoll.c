/* SPDX-License-Identifier: MIT */
/* The epoll backend: level-triggered, one registration per watch, the watch itself as the event's
 * data. */
#include "loop_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define FETCH_MAX 256 /* events fetched per wait; the rest are reported by the next one */

struct csock__poller {
    int epfd;
    struct epoll_event events[FETCH_MAX];
};

static int create(csock__poller **out, char *why, size_t size)
{
    csock__poller *p = malloc(sizeof *p);
    if (!p) {
        snprintf(why, size, "out of memory");
        return CSOCK_ENOMEM;
    }
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        int code = -errno;
        snprintf(why, size, "epoll_create1: %s", csock_strerror(code));
        free(p);
        return code;
    }
    *out = p;
    return 0;
}

static void destroy(csock__poller *p)
{
    if (!p) return;
    close(p->epfd);
    free(p);
}

/* A paused watch stays in the set, edge-triggered with no events: an error or hang-up then wakes
 * the loop once (and is ignored) instead of at every wait, as it would level-triggered. */
static uint32_t kernel_events(int events)
{
    if (!events) return EPOLLET;
    return (events & CSOCK_READ ? EPOLLIN | EPOLLRDHUP : 0) | (events & CSOCK_WRITE ? EPOLLOUT : 0);
}

static int control(csock__poller *p, int op, csock_watch *w, int events, const char *what)
{
    struct epoll_event e = {.events = kernel_events(events), .data.ptr = w};
    if (epoll_ctl(p->epfd, op, w->fd, &e) == 0) return 0;
    int code = -errno;
    if (code == CSOCK_EEXIST) return code; /* already watched: the loop says so */
    return csock__failf(code, "loop: %s fd %d: epoll_ctl: %s", what, w->fd, csock_strerror(code));
}

static int add(csock__poller *p, csock_watch *w, int events)
{
    return control(p, EPOLL_CTL_ADD, w, events, "watch");
}

static int set(csock__poller *p, csock_watch *w, int events)
{
    return control(p, EPOLL_CTL_MOD, w, events, "change");
}

static void forget(csock__poller *p, csock_watch *w)
{
    /* Fails only if the descriptor was closed first, which removed it from the set already. */
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

static int fetch(csock__poller *p, csock__ready *ready, int max, int timeout_ms)
{
    int n = epoll_wait(p->epfd, p->events, max < FETCH_MAX ? max : FETCH_MAX, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return CSOCK_EINTR; /* the loop waits again */
        int code = -errno;
        return csock__failf(code, "loop: epoll_wait: %s", csock_strerror(code));
    }
    for (int i = 0; i < n; i++) {
        uint32_t e = p->events[i].events;
        ready[i].watch = p->events[i].data.ptr;
        ready[i].events = (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR) ? CSOCK_READ : 0) |
                          (e & (EPOLLOUT | EPOLLHUP | EPOLLERR) ? CSOCK_WRITE : 0);
    }
    return n;
}

const csock__poller_ops csock__poller_epoll = {"epoll", create, destroy, add,  set, forget,
                                               fetch,   NULL,   NULL,    NULL, NULL};
