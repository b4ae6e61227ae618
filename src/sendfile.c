/* SPDX-License-Identifier: MIT */
/* Sending a file over a stream socket: sendfile(2) where the kernel can, read and send where it
 * cannot (and on a TLS socket, through TLS), with one deadline for the whole call. */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

/* sendfile(2) moves at most this much per call on Linux. */
#define SENDFILE_MAX 0x7ffff000

/* The fallback's buffer: big enough to keep the socket busy, small enough for any stack. */
#define CHUNK 32768

/* Sends one piece read from the file, adding what went to *done: over the plain socket within
 * the deadline d, or through the socket's layer (TLS) within its deadline at. */
struct piece_sender {
    csock__deadline *d; /* plain */
    int64_t at;         /* a layer's */
};

static int send_piece(csock *s, const char *buf, size_t n, const struct piece_sender *how,
                      size_t *done)
{
    if (!s->layer) return csock__send_until(s, buf, n, how->d, done);
    size_t went = 0;
    int rc = s->layer->ops->sendall_by(s, buf, n, how->at, &went);
    *done += went;
    return rc;
}

/* Reads and sends from fd at *offset (or from its current position when it cannot seek), count
 * bytes, or with to_end until the input ends. */
static int read_and_send(csock *s, int fd, off_t *offset, size_t count, int to_end,
                         const struct piece_sender *how, size_t *done, int *ended)
{
    char buf[CHUNK];
    int seekable = 1;
    while (count > 0) {
        size_t want = count < sizeof buf ? count : sizeof buf;
        ssize_t n = seekable ? pread(fd, buf, want, *offset) : read(fd, buf, want);
        if (n < 0 && errno == ESPIPE && seekable) {
            if (*offset > 0) return CSOCK_ESPIPE; /* cannot seek: never send the wrong bytes */
            seekable = 0;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return csock__errno();
        if (n == 0 && to_end) return 0;
        if (n == 0) {
            *ended = 1;
            return CSOCK_ENODATA;
        }
        int rc = send_piece(s, buf, (size_t)n, how, done);
        if (rc < 0) return rc;
        *offset += n;
        count -= (size_t)n;
    }
    return 0;
}

/* sendfile(2) has no MSG_NOSIGNAL: writing to a closed peer raises SIGPIPE, whose default action
 * ends the process. csock never changes the process's dispositions, so for the length of the
 * call SIGPIPE is blocked in this thread only, and a SIGPIPE the call raised is taken back with
 * sigtimedwait before the mask is restored. One the caller already had pending (it can only
 * pend if the caller blocks it) is left for the caller. Success costs two sigprocmask calls per
 * csock_sendfile, whatever its size; the send paths with MSG_NOSIGNAL need none of this. */
struct sigpipe_guard {
    sigset_t old;    /* the thread's mask before */
    int was_blocked; /* the caller blocks SIGPIPE itself: nothing to restore */
    int was_pending; /* a SIGPIPE of the caller's waits: not ours to take */
};

static void sigpipe_only(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGPIPE);
}

static void block_sigpipe(struct sigpipe_guard *g)
{
    sigset_t only;
    sigpipe_only(&only);
    pthread_sigmask(SIG_BLOCK, &only, &g->old);
    g->was_blocked = sigismember(&g->old, SIGPIPE) == 1;
    g->was_pending = 0;
    if (g->was_blocked) {
        sigset_t pending;
        g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    }
}

/* raised: the call failed with EPIPE, which is when the kernel sends SIGPIPE. */
static void unblock_sigpipe(const struct sigpipe_guard *g, int raised)
{
    if (raised && !g->was_pending) {
        sigset_t only;
        sigpipe_only(&only);
        const struct timespec no_wait = {0, 0};
        while (sigtimedwait(&only, NULL, &no_wait) < 0 && errno == EINTR) {
        }
    }
    if (!g->was_blocked) pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Sends count bytes of fd from offset, or with to_end (count then SIZE_MAX) until it ends. */
static int send_file(csock *s, int fd, off_t offset, size_t count, int to_end, size_t *done,
                     int *ended)
{
    csock__deadline d = csock__deadline_begin(s, SO_SNDTIMEO, 0);
    int rc = 0, raised = 0;
    struct sigpipe_guard guard;
    block_sigpipe(&guard);
    while (count > 0) {
        ssize_t n = sendfile(s->fd, fd, &offset, count < SENDFILE_MAX ? count : SENDFILE_MAX);
        if (n > 0) {
            *done += (size_t)n;
            count -= (size_t)n;
            if (count > 0 && (rc = csock__deadline_again(&d)) < 0) break;
        } else if (n == 0 && to_end) {
            break;
        } else if (n == 0) {
            *ended = 1;
            rc = CSOCK_ENODATA;
            break;
        } else if (errno == EINTR) {
            if ((rc = csock__deadline_again(&d)) < 0) break;
        } else if ((errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == ESPIPE) &&
                   *done == 0) {
            /* This kind of file cannot be spliced from an offset (a pipe, say): move it through
             * a buffer instead. */
            rc = read_and_send(s, fd, &offset, count, to_end, &(struct piece_sender){.d = &d}, done,
                               ended);
            break;
        } else {
            raised = errno == EPIPE;
            rc = csock__deadline_error(&d, errno);
            break;
        }
    }
    unblock_sigpipe(&guard, raised);
    csock__deadline_end(&d);
    return rc;
}

int csock_sendfile(csock *s, int fd, off_t offset, size_t count, size_t *sent)
{
    size_t done = 0;
    if (sent) *sent = 0;
    int rc = csock__check(s, "sendfile");
    if (rc < 0) return rc;
    if (s->type != SOCK_STREAM)
        return csock__failf(CSOCK_EINVAL, "sendfile: needs a stream socket (SOCK_STREAM)");
    if (offset < 0)
        return csock__failf(CSOCK_EINVAL, "sendfile fd %d: negative offset %lld", fd,
                            (long long)offset);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        rc = fd < 0 ? CSOCK_EBADF : csock__errno();
        return csock__failf(rc, "sendfile fd %d: %s", fd, csock_strerror(rc));
    }
    /* A pipe or a socket has no offsets: what is at offset 3 of one cannot be reached without
     * taking (and losing) the bytes before it, so an offset there is refused, as Python's seek
     * would fail, rather than sending from where the input stands. */
    if (offset > 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        return csock__failf(CSOCK_ESPIPE,
                            "sendfile fd %d: offset %lld on a %s, which cannot seek (give 0)", fd,
                            (long long)offset, S_ISFIFO(st.st_mode) ? "pipe" : "socket");
    /* count 0: to the end. A regular file's size says where that is; what has no size (a pipe,
     * a device) or says 0 although it holds text (a /proc file) is sent until it ends. */
    int to_end = count == 0 && !(S_ISREG(st.st_mode) && st.st_size > 0);
    if (to_end)
        count = SIZE_MAX;
    else if (count == 0)
        count = st.st_size > offset ? (size_t)(st.st_size - offset) : 0;
    int ended = 0;
    if (s->layer) /* TLS: the file's bytes go through it, read and sent piece by piece */
        rc =
            read_and_send(s, fd, &offset, count, to_end,
                          &(struct piece_sender){.at = csock__deadline_begin(s, SO_SNDTIMEO, 0).at},
                          &done, &ended);
    else
        rc = send_file(s, fd, offset, count, to_end, &done, &ended);
    if (sent) *sent = done;
    /* How much was asked, for the trace and the messages: "of 800 bytes", or nothing. */
    char asked[40] = "";
    if (!to_end) snprintf(asked, sizeof asked, " of %zu", count);
    if (csock__tracing()) {
        if (rc < 0)
            csock__trace("sendfile fd %d -> %s after %zu%s bytes", fd, csock_strerror(rc), done,
                         asked);
        else
            csock__trace("sendfile fd %d -> ok, %zu bytes", fd, done);
    }
    if (rc < 0) {
        char where[CSOCK_ADDRSTRLEN];
        if (ended)
            return csock__failf(rc, "sendfile %s: fd %d ended after %zu%s bytes",
                                csock__addr_text(&s->peer, where), fd, done, asked);
        return csock__failf(rc, "sendfile %s: %s after %zu%s bytes",
                            csock__addr_text(&s->peer, where), csock_strerror(rc), done, asked);
    }
    return 0;
}
