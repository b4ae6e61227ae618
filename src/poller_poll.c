/* SPDX-License-Identifier: MIT */
/* The poll backend: portable POSIX poll(2) over one array kept in step with the watches (each
 * watch knows its index; removal moves the last entry into the hole). */
#include "loop_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

struct csock__poller {
    struct pollfd *fds;
    csock_watch **watches;
    size_t count, cap;
    size_t start; /* where the next scan begins, so a full batch never starves later entries */
};

static int create(csock__poller **out, char *why, size_t size)
{
    if (!(*out = calloc(1, sizeof **out))) {
        snprintf(why, size, "out of memory");
        return CSOCK_ENOMEM;
    }
    return 0;
}

static void destroy(csock__poller *p)
{
    if (!p) return;
    free(p->fds);
    free(p->watches);
    free(p);
}

/* A paused entry gets a negative descriptor, which poll skips: otherwise an error or hang-up
 * would be reported at every wait. */
static void fill(struct pollfd *f, int fd, int events)
{
    f->fd = events ? fd : -1;
    f->events = (short)((events & CSOCK_READ ? POLLIN : 0) | (events & CSOCK_WRITE ? POLLOUT : 0));
    f->revents = 0;
}

static int add(csock__poller *p, csock_watch *w, int events)
{
    for (size_t i = 0; i < p->count; i++)
        if (p->watches[i]->fd == w->fd) return CSOCK_EEXIST; /* the loop says so */
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct pollfd *fds = realloc(p->fds, cap * sizeof *fds);
        if (fds) p->fds = fds;
        csock_watch **watches = fds ? realloc(p->watches, cap * sizeof *watches) : NULL;
        if (!watches) return csock__failf(CSOCK_ENOMEM, "loop: watch fd %d: out of memory", w->fd);
        p->watches = watches;
        p->cap = cap;
    }
    fill(&p->fds[p->count], w->fd, events);
    p->watches[p->count] = w;
    w->slot = (int)p->count++;
    return 0;
}

static int set(csock__poller *p, csock_watch *w, int events)
{
    p->watches[w->slot] = w; /* it may be taking the registration over */
    fill(&p->fds[w->slot], w->fd, events);
    return 0;
}

static void forget(csock__poller *p, csock_watch *w)
{
    size_t last = --p->count;
    if ((size_t)w->slot != last) {
        p->fds[w->slot] = p->fds[last];
        p->watches[w->slot] = p->watches[last];
        p->watches[w->slot]->slot = w->slot;
    }
}

static int fetch(csock__poller *p, csock__ready *ready, int max, int timeout_ms)
{
    int n = poll(p->fds, (nfds_t)p->count, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return CSOCK_EINTR; /* the loop waits again */
        int code = -errno;
        return csock__failf(code, "loop: poll: %s", csock_strerror(code));
    }
    int got = 0;
    size_t count = p->count, start = p->start < count ? p->start : 0;
    for (size_t k = 0; k < count && got < n && got < max; k++) {
        size_t i = (start + k) % count;
        short r = p->fds[i].revents;
        if (!r) continue;
        ready[got].watch = p->watches[i];
        ready[got].events = (r & (POLLIN | POLLHUP | POLLERR | POLLNVAL) ? CSOCK_READ : 0) |
                            (r & (POLLOUT | POLLHUP | POLLERR | POLLNVAL) ? CSOCK_WRITE : 0);
        got++;
        p->start = i + 1;
    }
    return got;
}

const csock__poller_ops csock__poller_poll = {"poll", create, destroy, add,  set, forget,
                                              fetch,  NULL,   NULL,    NULL, NULL};
