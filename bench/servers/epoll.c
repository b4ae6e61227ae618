/* SPDX-License-Identifier: MIT */
/* The reference: an echo server on raw epoll, written the way a careful C programmer would.
 * Level-triggered; every read goes into one 64 KiB buffer and straight back out; only a write
 * the socket does not take whole leaves bytes held for that connection (and stops reading from
 * it until they are gone). Usage: echo-epoll HOST PORT; SIGTERM ends it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 65536

struct pending {
    size_t len, off;
    char data[];
};

static struct pending *pending[MAX_FDS];
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(pending[fd]);
    pending[fd] = NULL;
}

static void watch(int ep, int op, int fd, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.fd = fd};
    epoll_ctl(ep, op, fd, &e);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: echo-epoll HOST PORT\n");
        return 2;
    }
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 511) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0) {
        perror("echo-epoll");
        return 1;
    }
    printf("listening on %s:%d\n", argv[1], ntohs(a.sin_port));
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    watch(ep, EPOLL_CTL_ADD, l, EPOLLIN);
    static char buf[65536];
    struct epoll_event ev[256];
    while (!stop) {
        int n = epoll_wait(ep, ev, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            if (fd == l) {
                int c;
                while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (c >= MAX_FDS) {
                        close(c);
                        continue;
                    }
                    watch(ep, EPOLL_CTL_ADD, c, EPOLLIN);
                }
                continue;
            }
            if (ev[i].events & EPOLLOUT) {
                struct pending *p = pending[fd];
                ssize_t w = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) {
                    drop(ep, fd);
                    continue;
                }
                if (w > 0) p->off += (size_t)w;
                if (p->off == p->len) {
                    free(p);
                    pending[fd] = NULL;
                    watch(ep, EPOLL_CTL_MOD, fd, EPOLLIN);
                }
                continue;
            }
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                drop(ep, fd);
                continue;
            }
            if (r < 0) continue;
            ssize_t w = send(fd, buf, (size_t)r, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN) {
                drop(ep, fd);
                continue;
            }
            if (w < 0) w = 0;
            if (w < r) {
                struct pending *p = malloc(sizeof *p + (size_t)(r - w));
                p->len = (size_t)(r - w);
                p->off = 0;
                memcpy(p->data, buf + w, p->len);
                pending[fd] = p;
                watch(ep, EPOLL_CTL_MOD, fd, EPOLLOUT);
            }
        }
    }
    return 0;
}
