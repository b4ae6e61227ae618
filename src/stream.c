/* SPDX-License-Identifier: MIT */
/* Streams: a connected socket on a loop, its unread bytes, its write queue, its deadlines and
 * its closing. Lines and frames are in stream_frame.c. */
#include "stream_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCRATCH_SIZE          (64 * 1024)
#define SCRATCH_ALIGN         4096
#define DEFAULT_CLOSE_TIMEOUT 5.0 /* seconds: see close_timeout in stream.h */
#define DROP_READS            4   /* reads of input to drop per pass, then others get their turn */

enum {
    STREAM_PAUSED = 1 << 0,     /* the owner paused reading */
    STREAM_BACKED_UP = 1 << 1,  /* the queue reached high water: reading waits for the drain,
                                   unless the handler keeps reading */
    STREAM_EOF = 1 << 2,        /* the peer ended its side */
    STREAM_SHUT = 1 << 3,       /* shut down for writing once drained */
    STREAM_SHUT_DONE = 1 << 4,  /* shutdown(SHUT_WR) done */
    STREAM_CLOSING = 1 << 5,    /* close once drained */
    STREAM_CLOSED = 1 << 6,     /* on_close is due: no other callback runs */
    STREAM_DEADLINES = 1 << 7,  /* the handler has an idle or total deadline */
    STREAM_OWES_DRAIN = 1 << 8, /* a write returned 1: on_drain is owed */
    STREAM_DRAINED = 1 << 9,    /* closed gracefully, its queue sent: may linger */
    STREAM_DROPPED = 1 << 10,   /* input arrived while closing and was dropped */
    STREAM_LINGERING = 1 << 11, /* on_close has run; reading and dropping until the peer's end */
};

static void stream_io(csock_loop *loop, csock_watch *w, int events, void *data);

static csock_stream *of_watch(csock_watch *w)
{
    return (csock_stream *)w; /* the watch is the stream's first member */
}

/* ---- limits ---- */

size_t csock__stream_max_buffer(const csock_stream *st)
{
    return st->handler->max_buffer ? st->handler->max_buffer : 64 * 1024;
}

static size_t high_water(const csock_stream_handler *h)
{
    return h->high_water ? h->high_water : 64 * 1024;
}

static size_t low_water(const csock_stream_handler *h)
{
    return h->low_water ? h->low_water : high_water(h) / 4;
}

static size_t max_queue(const csock_stream_handler *h)
{
    if (h->max_queue) return h->max_queue;
    size_t high = high_water(h);
    return high > SIZE_MAX / 4 ? SIZE_MAX : 4 * high; /* 4 times, or no limit rather than wrap */
}

int csock__stream_eof(const csock_stream *st)
{
    return (st->state & STREAM_EOF) != 0;
}

static uint32_t loop_ms(csock_loop *loop)
{
    return (uint32_t)(csock__loop_now_ns(loop) / 1000000);
}

/* Notes that bytes moved, for the idle deadline; a stream without deadlines reads no clock. */
static void note_io(csock_stream *st)
{
    if (st->state & STREAM_DEADLINES) st->last_io_ms = loop_ms(st->watch.loop);
}

/* ---- the loop's shared state ---- */

static void closing_pass(csock_loop *loop);
static int closing_waiting(const csock_loop *loop);

static void free_streams(csock_loop *loop)
{
    struct csock__streams *sh = loop->streams;
    if (!sh) return;
    csock_timer_cancel(sh->sweep);
    free(sh->scratch);
    free(sh);
    loop->streams = NULL;
}

/* Frees a stream whose watch the loop has let go of; its socket is closed already, except when
 * the loop itself is being freed with the stream still open. */
static void release(csock_watch *w)
{
    csock_stream *st = of_watch(w);
    if (w->fd >= 0) close(w->fd);
    if (st->bufs) {
        free(st->bufs->in.data);
        free(st->bufs->out.data);
        free(st->bufs);
    }
    free(st);
}

struct csock__streams *csock__streams_of(csock_loop *loop)
{
    if (loop->streams) return loop->streams;
    struct csock__streams *sh = calloc(1, sizeof *sh);
    /* Page-aligned: a read of a page's worth then fills one page, not two, and the kernel's
     * copies touch half the pages (measured: 8% more server CPU for 4 KiB echoes when the buffer
     * of a raw epoll server is moved 16 bytes off a page boundary). */
    char *scratch = sh ? aligned_alloc(SCRATCH_ALIGN, SCRATCH_SIZE) : NULL;
    if (!scratch) {
        free(sh);
        csock__failf(CSOCK_ENOMEM, "stream: out of memory");
        return NULL;
    }
    sh->scratch = scratch;
    sh->scratch_size = SCRATCH_SIZE;
    loop->streams = sh;
    loop->release = release;
    loop->end_of_pass = closing_pass;
    loop->work_waiting = closing_waiting;
    loop->free_streams = free_streams;
    return sh;
}

/* ---- buffers ---- */

static struct csock__buffers *buffers(csock_stream *st)
{
    if (!st->bufs) st->bufs = calloc(1, sizeof *st->bufs);
    return st->bufs;
}

/* Releases the buffers once both are empty: an idle stream holds no memory beyond itself. */
static void trim(csock_stream *st)
{
    struct csock__buffers *b = st->bufs;
    if (!b) return;
    if (b->in.len == 0) {
        free(b->in.data);
        b->in = (struct csock__buffer){0};
    }
    if (b->out.len == 0) {
        free(b->out.data);
        b->out = (struct csock__buffer){0};
    }
    if (!b->in.data && !b->out.data) {
        free(b);
        st->bufs = NULL;
    }
}

/* Makes room for more bytes after the held ones, up to limit in all. Returns 0, or -1 when the
 * bytes would pass limit (or what an allocation can be) or memory is short. */
static int reserve(struct csock__buffer *b, size_t more, size_t limit)
{
    if (more <= b->cap - b->start - b->len) return 0;
    if (limit > PTRDIFF_MAX) limit = PTRDIFF_MAX; /* no allocation is larger */
    if (more > limit || b->len > limit - more) return -1;
    size_t need = b->len + more;
    if (b->start > 0) { /* move the held bytes to the front first */
        memmove(b->data, b->data + b->start, b->len);
        b->start = 0;
        if (need <= b->cap) return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap = cap > limit / 2 ? limit : cap * 2;
    if (cap > limit) cap = limit;
    char *data = realloc(b->data, cap);
    if (!data) return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

size_t csock__stream_unread(csock_stream *st, const char **p)
{
    struct csock__streams *sh = st->watch.loop->streams;
    if (sh->view.stream == st) {
        *p = sh->view.data + sh->view.used;
        return sh->view.len - sh->view.used;
    }
    if (!st->bufs || st->bufs->in.len == 0) {
        *p = NULL;
        return 0;
    }
    *p = st->bufs->in.data + st->bufs->in.start;
    return st->bufs->in.len;
}

void csock_stream_consume(csock_stream *st, size_t n)
{
    if (!st) return;
    struct csock__streams *sh = st->watch.loop->streams;
    if (sh->view.stream == st) {
        size_t left = sh->view.len - sh->view.used;
        sh->view.used += n < left ? n : left;
    } else if (st->bufs) {
        struct csock__buffer *in = &st->bufs->in;
        if (n > in->len) n = in->len;
        in->start += n;
        in->len -= n;
        if (in->len == 0) trim(st);
    }
}

size_t csock_stream_peek(csock_stream *st, const char **p)
{
    const char *unused;
    return st ? csock__stream_unread(st, p ? p : &unused) : 0;
}

/* ---- what the socket is watched for ---- */

static void update_events(csock_stream *st)
{
    if (st->state & STREAM_CLOSED) return;
    int events = 0, reads;
    if (st->state & STREAM_CLOSING) {
        reads = !(st->state & STREAM_EOF); /* to drop what the peer still sends */
    } else {
        int waits_for_drain = (st->state & STREAM_BACKED_UP) && !st->handler->keep_reading;
        reads = !(st->state & (STREAM_PAUSED | STREAM_EOF)) && !waits_for_drain;
    }
    if (reads) events |= CSOCK_READ;
    if (st->bufs && st->bufs->out.len > 0) events |= CSOCK_WRITE;
    if (events != st->watch.events) csock_watch_set(&st->watch, events);
}

/* ---- closing ---- */

/* Marks st closed for the reason given and queues its on_close for the end of the pass. */
static void finish(csock_stream *st, int error)
{
    if (st->state & STREAM_CLOSED) return;
    csock_loop *loop = st->watch.loop;
    struct csock__streams *sh = loop->streams;
    st->state |= STREAM_CLOSED;
    st->error = error;
    /* Its events are ignored from now on (stream_io), and its watch is removed at the end of
     * this pass: telling the kernel to stop them first would only cost a system call. */
    if (sh->closing_tail)
        sh->closing_tail->next_closing = st;
    else
        sh->closing = st;
    sh->closing_tail = st;
    /* Outside a pass, the next one must come soon to run on_close. */
    if (!loop->dispatching) csock_loop_wakeup(loop);
}

/* A close whose queue has drained: it may linger (closing_pass). */
static void finish_drained(csock_stream *st)
{
    if (!(st->state & STREAM_CLOSED)) st->state |= STREAM_DRAINED;
    finish(st, st->error);
}

static int closing_waiting(const csock_loop *loop)
{
    return loop->streams && loop->streams->closing;
}

static int ensure_sweep(csock_loop *loop, double shortest);

static double close_timeout(const csock_stream_handler *h)
{
    return h->close_timeout > 0 ? h->close_timeout : DEFAULT_CLOSE_TIMEOUT;
}

/* Whether the clock has reached a time taken from it (both modulo 2^32 ms). */
static int reached(uint32_t now, uint32_t when)
{
    return (int32_t)(now - when) >= 0;
}

/* Reads and drops what the peer sends: a closing stream wants no more of it, but leaving it
 * unread would make the kernel reset the connection at close, and the peer would lose what it
 * has not read of ours yet. Returns 1 when nothing more is there for now, 0 at end of file, or
 * a negative errno code. */
static int drop_input(csock_stream *st)
{
    struct csock__streams *sh = st->watch.loop->streams;
    for (int i = 0; i < DROP_READS; i++) {
        ssize_t n = recv(st->watch.fd, sh->scratch, sh->scratch_size, 0);
        if (n > 0) {
            st->state |= STREAM_DROPPED;
            continue;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -errno;
    }
    return 1;
}

/* Whether the peer may still send while it has bytes of ours to read: then closing now could
 * reset the connection and lose them. Not after its end of file, after an error or an abort;
 * otherwise when input was left unread or dropped, is waiting in the kernel, or bytes of ours
 * are not yet acknowledged (a peer that has everything and sends nothing loses nothing). */
static int should_linger(csock_stream *st)
{
    if (!(st->state & STREAM_DRAINED) || (st->state & STREAM_EOF)) return 0;
    if ((st->state & STREAM_DROPPED) || (st->bufs && st->bufs->in.len > 0)) return 1;
    int n = 0;
    if (ioctl(st->watch.fd, SIOCINQ, &n) == 0 && n > 0) return 1;
    return ioctl(st->watch.fd, SIOCOUTQ, &n) == 0 && n > 0;
}

/* After on_close: shuts the socket down for writing (the peer reads end of file after the last
 * byte) and keeps reading and dropping until the peer's end of file, an error, or close_by_ms;
 * the user never sees the stream again. Returns 0, or -1 to close at once instead. */
static int start_linger(csock_stream *st)
{
    csock_loop *loop = st->watch.loop;
    int32_t left_ms = (int32_t)(st->close_by_ms - loop_ms(loop));
    if (left_ms <= 0 || ensure_sweep(loop, left_ms / 1e3) < 0) return -1;
    if (!(st->state & STREAM_SHUT_DONE)) shutdown(st->watch.fd, SHUT_WR);
    st->state |= STREAM_LINGERING | STREAM_SHUT_DONE;
    if (st->bufs) { /* the queue is empty; unread input is dropped */
        free(st->bufs->in.data);
        free(st->bufs->out.data);
        free(st->bufs);
        st->bufs = NULL;
    }
    if (csock_watch_set(&st->watch, CSOCK_READ) < 0) return -1;
    int rc = drop_input(st); /* what is there already; end of file may be too */
    return rc == 1 ? 0 : -1;
}

/* Ends a lingering stream: its socket is closed and its memory freed (by release, at the end of
 * the pass when inside one). */
static void end_linger(csock_stream *st)
{
    csock_watch_remove(&st->watch);
}

/* Runs the on_close callbacks due, then closes the sockets, or lets them linger; streams are
 * freed when the pass ends (a later event of this pass may still name them). */
static void closing_pass(csock_loop *loop)
{
    struct csock__streams *sh = loop->streams;
    while (sh->closing) {
        csock_stream *st = sh->closing;
        sh->closing = st->next_closing;
        if (!sh->closing) sh->closing_tail = NULL;
        if (st->handler->on_close) st->handler->on_close(st, st->error, st->watch.data);
        if (sh->closed) sh->closed(st, sh->closed_context);
        if (should_linger(st) && start_linger(st) == 0) continue;
        int fd = st->watch.fd;
        csock_watch_remove(&st->watch); /* before close: epoll finds the registration by fd */
        close(fd);
        st->watch.fd = -1;
    }
}

/* Starts a graceful close: no more on_data, input dropped, the queue sent (within
 * close_timeout), then on_close with st->error. */
static void begin_close(csock_stream *st)
{
    csock_loop *loop = st->watch.loop;
    double timeout = close_timeout(st->handler);
    st->state |= STREAM_CLOSING;
    /* Kept below 2^31 ms (24 days), the most the modular clock can compare. */
    st->close_by_ms = loop_ms(loop) + (uint32_t)(timeout < 2e6 ? timeout * 1e3 : 2e9);
    if (!st->bufs || st->bufs->out.len == 0) {
        finish_drained(st);
        return;
    }
    int rc = ensure_sweep(loop, timeout);
    if (rc < 0) {
        finish(st, rc); /* no timer to bound the close: do not wait without one */
        return;
    }
    update_events(st); /* input is dropped; the queue drains, then write_ready finishes */
}

void csock_stream_close(csock_stream *st)
{
    if (!st || (st->state & (STREAM_CLOSING | STREAM_CLOSED))) return;
    begin_close(st);
}

void csock_stream_abort(csock_stream *st)
{
    if (st) finish(st, 0);
}

/* Shuts the socket down for writing; with end of file read too, nothing more can happen, and
 * the stream closes. */
static void shut_down(csock_stream *st)
{
    shutdown(st->watch.fd, SHUT_WR);
    st->state |= STREAM_SHUT_DONE;
    if (st->state & STREAM_EOF) finish(st, 0);
}

static int closed_error(const char *op)
{
    return csock__failf(CSOCK_EPIPE, "stream %s: the stream is closing or shut down", op);
}

int csock_stream_shutdown(csock_stream *st)
{
    if (!st || (st->state & (STREAM_CLOSING | STREAM_CLOSED))) return closed_error("shutdown");
    st->state |= STREAM_SHUT;
    if ((!st->bufs || st->bufs->out.len == 0) && !(st->state & STREAM_SHUT_DONE)) shut_down(st);
    return 0;
}

int csock_stream_pause(csock_stream *st, int pause)
{
    if (!st || (st->state & STREAM_CLOSED)) return closed_error("pause");
    if (pause)
        st->state |= STREAM_PAUSED;
    else
        st->state &= (uint16_t)~STREAM_PAUSED;
    update_events(st);
    return 0;
}

/* ---- writing ---- */

static int socket_error(csock_stream *st, int code, const char *op)
{
    finish(st, code);
    /* After a reset the kernel no longer knows the peer: the descriptor names the stream then. */
    char peer[CSOCK_ADDRSTRLEN];
    csock_addr a;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(st->watch.fd, (struct sockaddr *)&ss, &len) == 0) {
        memcpy(&a.ss, &ss, len);
        a.len = len;
        csock_addr_format(&a, peer, sizeof peer);
    } else {
        snprintf(peer, sizeof peer, "fd %d", st->watch.fd);
    }
    return csock__failf(code, "stream %s %s: %s", op, peer, csock_strerror(code));
}

/* Sends what the queue holds. Returns 0, or a socket error (the stream is then closing). */
static int flush(csock_stream *st)
{
    struct csock__buffer *out = &st->bufs->out;
    while (out->len > 0) {
        ssize_t n = send(st->watch.fd, out->data + out->start, out->len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return socket_error(st, -errno, "send");
        }
        out->start += (size_t)n;
        out->len -= (size_t)n;
        note_io(st);
    }
    return 0;
}

static void write_ready(csock_stream *st)
{
    if (flush(st) < 0) return;
    size_t queued = st->bufs->out.len;
    if (queued == 0) {
        if (st->state & STREAM_CLOSING) {
            finish_drained(st);
            return;
        }
        if ((st->state & STREAM_SHUT) && !(st->state & STREAM_SHUT_DONE)) {
            shut_down(st);
            if (st->state & STREAM_CLOSED) return;
        }
        trim(st);
    }
    if ((st->state & STREAM_BACKED_UP) && queued <= low_water(st->handler)) {
        st->state &= (uint16_t)~STREAM_BACKED_UP;
        if ((st->state & STREAM_OWES_DRAIN) && st->handler->on_drain) {
            st->state &= (uint16_t)~STREAM_OWES_DRAIN;
            st->handler->on_drain(st, st->watch.data);
        }
    }
    update_events(st);
}

/* Checks a buffer list and adds up its lengths into *total. Returns 0 or a recorded
 * CSOCK_EINVAL naming op. */
static int check_buffers(const struct iovec *iov, int iovcnt, const char *op, size_t *total)
{
    if (iovcnt < 0 || iovcnt > IOV_MAX)
        return csock__failf(CSOCK_EINVAL, "stream %s: %d buffers (0 to %d)", op, iovcnt, IOV_MAX);
    if (iovcnt > 0 && !iov) return csock__failf(CSOCK_EINVAL, "stream %s: NULL buffer list", op);
    size_t sum = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return csock__failf(CSOCK_EINVAL, "stream %s: buffer %d is NULL with %zu bytes", op, i,
                                iov[i].iov_len);
        /* The kernel takes at most SSIZE_MAX bytes a call; past that the sum could wrap. */
        if (iov[i].iov_len > (size_t)SSIZE_MAX - sum)
            return csock__failf(CSOCK_EINVAL,
                                "stream %s: buffers add up to more than %zd bytes (buffer %d)", op,
                                (ssize_t)SSIZE_MAX, i);
        sum += iov[i].iov_len;
    }
    *total = sum;
    return 0;
}

/* csock_stream_writev, reporting failures as op (the public call the user made). */
static int write_buffers(csock_stream *st, const struct iovec *iov, int iovcnt, const char *op)
{
    if (!st) return csock__failf(CSOCK_EINVAL, "stream %s: NULL stream", op);
    size_t total = 0;
    int rc = check_buffers(iov, iovcnt, op, &total);
    if (rc < 0) return rc;
    if (st->state & (STREAM_CLOSING | STREAM_CLOSED | STREAM_SHUT)) return closed_error(op);
    const csock_stream_handler *h = st->handler;
    size_t queued = st->bufs ? st->bufs->out.len : 0;
    if (total > max_queue(h) - queued)
        return csock__failf(CSOCK_ENOBUFS,
                            "stream %s: %zu bytes would pass the %zu-byte queue limit (%zu "
                            "queued): the peer is not reading",
                            op, total, max_queue(h), queued);
    if (total == 0 && queued == 0) return 0;
    size_t sent = 0;
    if (queued == 0) {
        ssize_t n;
        do {
            /* One buffer: send(2), which costs less than sendmsg(2) on some kernels. */
            if (iovcnt == 1) {
                n = send(st->watch.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
            } else {
                struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
                n = sendmsg(st->watch.fd, &m, MSG_NOSIGNAL);
            }
        } while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return socket_error(st, -errno, op);
        sent = n > 0 ? (size_t)n : 0;
        note_io(st);
        if (sent == total) return 0;
    }
    /* Queue the rest: the part of each buffer the socket did not take. */
    struct csock__buffers *b = buffers(st);
    if (!b || reserve(&b->out, total - sent, max_queue(h)) < 0) {
        int code =
            csock__failf(CSOCK_ENOMEM, "stream %s: out of memory for %zu bytes", op, total - sent);
        if (sent > 0) finish(st, code); /* part of the data went: the stream cannot go on */
        if (b) trim(st);
        return code;
    }
    size_t skip = sent;
    for (int i = 0; i < iovcnt; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(b->out.data + b->out.start + b->out.len, (const char *)iov[i].iov_base + skip,
               len - skip);
        b->out.len += len - skip;
        skip = 0;
    }
    int full = b->out.len >= high_water(h);
    if (full) st->state |= STREAM_BACKED_UP | STREAM_OWES_DRAIN;
    update_events(st);
    return full;
}

int csock_stream_writev(csock_stream *st, const struct iovec *iov, int iovcnt)
{
    return write_buffers(st, iov, iovcnt, "writev");
}

int csock_stream_write(csock_stream *st, const void *buf, size_t len)
{
    struct iovec one = {(void *)buf, len};
    return write_buffers(st, &one, 1, "write");
}

int csock__stream_write_frame(csock_stream *st, const struct iovec iov[2])
{
    return write_buffers(st, iov, 2, "write_frame");
}

/* ---- reading ---- */

/* Runs on_data over data (len bytes): the stream's held input (held) or the loop's read buffer,
 * whose leftover is then copied into the stream. */
static void deliver(csock_stream *st, const char *data, size_t len, int held)
{
    struct csock__streams *sh = st->watch.loop->streams;
    sh->view = (struct csock__view){st, data, len, 0};
    st->handler->on_data(st, st->watch.data);
    size_t used = sh->view.used;
    sh->view.stream = NULL;
    if (st->state & STREAM_CLOSING) {
        if (used < len) st->state |= STREAM_DROPPED; /* closing: what is left is dropped */
        if (held) st->bufs->in.len = 0;
        if (st->bufs) trim(st);
        return;
    }
    if (held) {
        st->bufs->in.start += used;
        st->bufs->in.len -= used;
    } else if (used < len && !(st->state & STREAM_CLOSED)) {
        struct csock__buffers *b = buffers(st);
        if (!b || reserve(&b->in, len - used, csock__stream_max_buffer(st)) < 0) {
            finish(st, csock__failf(CSOCK_ENOMEM, "stream: out of memory for unread bytes"));
            return;
        }
        memcpy(b->in.data + b->in.start + b->in.len, data + used, len - used);
        b->in.len += len - used;
    }
    if (st->bufs) {
        /* A handler that closed has dealt with the input (a reply may still be queued). */
        if (st->bufs->in.len >= csock__stream_max_buffer(st) &&
            !(st->state & (STREAM_CLOSED | STREAM_CLOSING)))
            finish(st, csock__failf(CSOCK_EMSGSIZE,
                                    "stream: %zu bytes unread, the limit: a line or frame too "
                                    "long, or a handler that does not read",
                                    st->bufs->in.len));
        else
            trim(st);
    }
}

static void read_ready(csock_stream *st)
{
    struct csock__streams *sh = st->watch.loop->streams;
    size_t limit = csock__stream_max_buffer(st);
    int held = st->bufs && st->bufs->in.len > 0;
    char *into;
    size_t room;
    if (held) {
        /* Append to what is held, so a line or frame arriving in pieces is read in one place
         * (deliver closed the stream if that was full). */
        struct csock__buffer *in = &st->bufs->in;
        size_t want = limit - in->len < SCRATCH_SIZE ? limit - in->len : SCRATCH_SIZE;
        if (want == 0 || reserve(in, want, limit) < 0) {
            finish(st, csock__failf(CSOCK_ENOMEM, "stream: out of memory for unread bytes"));
            return;
        }
        into = in->data + in->start + in->len;
        room = want;
    } else {
        into = sh->scratch;
        room = limit < sh->scratch_size ? limit : sh->scratch_size;
    }
    ssize_t n = recv(st->watch.fd, into, room, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        socket_error(st, -errno, "recv");
        return;
    }
    note_io(st);
    if (n == 0) {
        st->state |= STREAM_EOF;
        update_events(st);
        const char *rest;
        size_t left = csock__stream_unread(st, &rest);
        if (left > 0) deliver(st, rest, left, 1);
        if (st->state & (STREAM_CLOSED | STREAM_CLOSING)) return;
        if (!st->handler->on_end) {
            csock_stream_close(st);
            return;
        }
        st->handler->on_end(st, st->watch.data);
        if ((st->state & STREAM_SHUT_DONE) && !(st->state & (STREAM_CLOSED | STREAM_CLOSING)))
            finish(st, 0); /* both directions are over */
        return;
    }
    if (held) {
        st->bufs->in.len += (size_t)n;
        deliver(st, st->bufs->in.data + st->bufs->in.start, st->bufs->in.len, 1);
    } else {
        deliver(st, into, (size_t)n, 0);
    }
}

static void stream_io(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)loop, (void)data;
    csock_stream *st = of_watch(w);
    if (st->state & STREAM_LINGERING) {
        if (drop_input(st) <= 0) end_linger(st); /* the peer's end of file, or an error */
        return;
    }
    if (st->state & STREAM_CLOSED) return;
    if (events & CSOCK_WRITE) write_ready(st);
    if (!(events & CSOCK_READ) || (st->state & STREAM_CLOSED)) return;
    if (!(st->state & STREAM_CLOSING)) {
        read_ready(st);
        return;
    }
    int rc = drop_input(st);
    if (rc == 0) {
        st->state |= STREAM_EOF;
        update_events(st);
    } else if (rc < 0) {
        socket_error(st, rc, "recv");
    }
}

/* ---- deadlines ---- */

static void sweep(csock_loop *loop, csock_timer *t, void *data)
{
    (void)data;
    uint32_t now = loop_ms(loop);
    int needed = 0;
    for (csock_watch *w = loop->live, *next; w; w = next) {
        next = w->next; /* ending a lingering stream unlinks it */
        if (w->cb != stream_io) continue;
        csock_stream *st = of_watch(w);
        if (st->state & STREAM_LINGERING) {
            if (reached(now, st->close_by_ms))
                end_linger(st);
            else
                needed = 1;
            continue;
        }
        if (st->state & STREAM_CLOSED) continue;
        const csock_stream_handler *h = st->handler;
        if (st->state & STREAM_CLOSING) {
            needed = 1;
            if (reached(now, st->close_by_ms)) {
                finish(st, csock__failf(CSOCK_ETIMEOUT,
                                        "stream: close_timeout of %gs passed with %zu bytes "
                                        "still queued: the peer is not reading",
                                        close_timeout(h), csock_stream_queued(st)));
                continue;
            }
        }
        if (!(st->state & STREAM_DEADLINES)) continue;
        needed = 1;
        double idle = (now - st->last_io_ms) / 1e3, age = (now - st->started_ms) / 1e3;
        if ((h->idle_timeout > 0 && idle >= h->idle_timeout) ||
            (h->total_timeout > 0 && age >= h->total_timeout))
            finish(st,
                   csock__failf(CSOCK_ETIMEOUT, "stream: %s deadline of %gs passed",
                                h->total_timeout > 0 && age >= h->total_timeout ? "total" : "idle",
                                h->total_timeout > 0 && age >= h->total_timeout ? h->total_timeout
                                                                                : h->idle_timeout));
    }
    if (!needed) { /* nothing to watch: an idle loop is not woken for nothing */
        csock_timer_cancel(t);
        loop->streams->sweep = NULL;
    }
}

/* Checks deadlines every 1/8 of the shortest one in use (5 ms to 1 s). */
static int ensure_sweep(csock_loop *loop, double shortest)
{
    struct csock__streams *sh = loop->streams;
    double every = shortest / 8;
    every = every < 0.005 ? 0.005 : every > 1 ? 1 : every;
    int64_t ns = (int64_t)(every * 1e9);
    if (sh->sweep && sh->sweep_ns <= ns) return 0;
    csock_timer *t = csock_loop_call_every(loop, every, sweep, NULL);
    if (!t) return csock_lastcode();
    csock_timer_cancel(sh->sweep);
    sh->sweep = t;
    sh->sweep_ns = ns;
    return 0;
}

static int watch_deadlines(csock_loop *loop, const csock_stream_handler *h)
{
    double shortest = h->idle_timeout > 0 ? h->idle_timeout : h->total_timeout;
    if (h->total_timeout > 0 && h->total_timeout < shortest) shortest = h->total_timeout;
    return ensure_sweep(loop, shortest);
}

/* ---- creating ---- */

int csock__stream_check_handler(const csock_stream_handler *h)
{
    const char *bad = !h->on_data                       ? "the handler has no on_data"
                      : low_water(h) > high_water(h)    ? "low_water is above high_water"
                      : high_water(h) > max_queue(h)    ? "high_water is above max_queue"
                      : !(h->idle_timeout >= 0)         ? "idle_timeout is negative"
                      : !(h->total_timeout >= 0)        ? "total_timeout is negative"
                      : !(h->close_timeout >= 0)        ? "close_timeout is negative"
                      : h->max_buffer > (size_t)INT_MAX ? "max_buffer is over 2 GiB"
                                                        : NULL;
    return bad ? csock__failf(CSOCK_EINVAL, "stream: %s", bad) : 0;
}

csock_stream *csock__stream_adopt(csock_loop *loop, int fd, const csock_stream_handler *handler,
                                  void *data)
{
    if (!csock__streams_of(loop)) return NULL;
    csock_stream *st = calloc(1, sizeof *st);
    if (!st) {
        csock__failf(CSOCK_ENOMEM, "stream: out of memory");
        return NULL;
    }
    int deadlines = handler->idle_timeout > 0 || handler->total_timeout > 0;
    if ((deadlines && watch_deadlines(loop, handler) < 0) ||
        csock__loop_attach(loop, &st->watch, fd, CSOCK_READ, stream_io, data) < 0) {
        free(st);
        return NULL;
    }
    st->handler = handler;
    if (deadlines) {
        st->state |= STREAM_DEADLINES;
        st->last_io_ms = st->started_ms = loop_ms(loop);
    }
    if (handler->on_open) handler->on_open(st, data);
    return st;
}

csock_stream *csock_stream_new(csock_loop *loop, csock *s, const csock_stream_handler *handler,
                               void *data)
{
    if (!loop || !s || !handler) {
        csock__failf(CSOCK_EINVAL, "stream: NULL %s", !loop ? "loop" : !s ? "socket" : "handler");
        return NULL;
    }
    if (csock__stream_check_handler(handler) < 0) return NULL;
    int fd = csock_fileno(s);
    if (fd < 0) {
        csock__failf(CSOCK_EBADF, "stream: socket is closed");
        return NULL;
    }
    if (s->type != SOCK_STREAM && s->type != SOCK_SEQPACKET) {
        csock__failf(CSOCK_EINVAL, "stream: not a stream socket");
        return NULL;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
        csock__failf(-errno, "stream: fcntl: %s", csock_strerror(-errno));
        return NULL;
    }
    csock_stream *st = csock__stream_adopt(loop, fd, handler, data);
    if (!st) {
        if (!(flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags);
        return NULL;
    }
    csock_detach(s); /* the descriptor is the stream's now */
    csock_free(s);
    return st;
}

void csock__streams_close_all(csock_loop *loop, int error)
{
    for (csock_watch *w = loop->live; w; w = w->next) {
        if (w->cb != stream_io) continue;
        csock_stream *st = of_watch(w);
        if (st->state & (STREAM_CLOSING | STREAM_CLOSED)) continue;
        st->error = error;
        begin_close(st);
    }
}

void csock__streams_abort_all(csock_loop *loop, int error)
{
    for (csock_watch *w = loop->live, *next; w; w = next) {
        next = w->next;
        if (w->cb != stream_io) continue;
        csock_stream *st = of_watch(w);
        if (st->state & STREAM_LINGERING)
            end_linger(st);
        else
            finish(st, error);
    }
}

int csock__streams_open(const csock_loop *loop)
{
    for (const csock_watch *w = loop->live; w; w = w->next)
        if (w->cb == stream_io) return 1;
    return 0;
}

/* ---- accessors ---- */

size_t csock_stream_queued(const csock_stream *st)
{
    return st && st->bufs ? st->bufs->out.len : 0;
}

int csock_stream_at_eof(const csock_stream *st)
{
    return st && (st->state & STREAM_EOF);
}

void *csock_stream_data(const csock_stream *st)
{
    return st ? st->watch.data : NULL;
}

void csock_stream_set_data(csock_stream *st, void *data)
{
    if (st) st->watch.data = data;
}

csock_loop *csock_stream_loop(const csock_stream *st)
{
    return st ? st->watch.loop : NULL;
}

int csock_stream_fileno(const csock_stream *st)
{
    return st ? st->watch.fd : -1;
}

int csock_stream_peername(const csock_stream *st, csock_addr *addr)
{
    if (!st || !addr) return csock__failf(CSOCK_EINVAL, "stream peername: NULL argument");
    addr->len = sizeof addr->ss;
    if (getpeername(st->watch.fd, (struct sockaddr *)&addr->ss, &addr->len) == 0) return 0;
    int code = -errno;
    addr->len = 0;
    return csock__failf(code, "stream peername: %s", csock_strerror(code));
}
