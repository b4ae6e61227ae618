/* Streams: a connected socket on a loop, its unread bytes, its write queue, its deadlines and
 * its closing. Lines and frames are in stream_frame.c. */
#include "stream_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCRATCH_SIZE  (64 * 1024)
#define SCRATCH_ALIGN 4096

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
    return h->max_queue ? h->max_queue : 4 * high_water(h);
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

/* Makes room for more bytes after the held ones, up to limit in all. Returns 0 or -1. */
static int reserve(struct csock__buffer *b, size_t more, size_t limit)
{
    if (b->start + b->len + more <= b->cap) return 0;
    if (b->start > 0) { /* move the held bytes to the front first */
        memmove(b->data, b->data + b->start, b->len);
        b->start = 0;
        if (b->len + more <= b->cap) return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    if (cap > limit) cap = limit;
    if (cap < b->len + more) return -1;
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
    int events = 0;
    int waits_for_drain = (st->state & STREAM_BACKED_UP) && !st->handler->keep_reading;
    if (!(st->state & (STREAM_PAUSED | STREAM_EOF | STREAM_CLOSING)) && !waits_for_drain)
        events |= CSOCK_READ;
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

static int closing_waiting(const csock_loop *loop)
{
    return loop->streams && loop->streams->closing;
}

/* close(2) with input unread resets the connection, which drops what the kernel has not sent
 * yet: a graceful close first reads the unread input away (a bounded amount: a peer that goes on
 * sending is reset). FIONREAD says how much is left, so an empty read does not end it early. */
static void discard_input(int fd)
{
    char buf[4096];
    int unread = 0;
    for (int i = 0; i < 64 && ioctl(fd, FIONREAD, &unread) == 0 && unread > 0; i++)
        if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) == 0) break;
}

/* Runs the on_close callbacks due, then closes the sockets; streams are freed when the pass
 * ends (a later event of this pass may still name them). */
static void closing_pass(csock_loop *loop)
{
    struct csock__streams *sh = loop->streams;
    while (sh->closing) {
        csock_stream *st = sh->closing;
        sh->closing = st->next_closing;
        if (!sh->closing) sh->closing_tail = NULL;
        if (st->handler->on_close) st->handler->on_close(st, st->error, st->watch.data);
        if (sh->closed) sh->closed(st, sh->closed_context);
        int fd = st->watch.fd;
        csock_watch_remove(&st->watch); /* before close: epoll finds the registration by fd */
        if (st->error == 0 && (st->state & STREAM_CLOSING)) discard_input(fd);
        close(fd);
        st->watch.fd = -1;
    }
}

void csock_stream_close(csock_stream *st)
{
    if (!st || (st->state & (STREAM_CLOSING | STREAM_CLOSED))) return;
    st->state |= STREAM_CLOSING;
    if (!st->bufs || st->bufs->out.len == 0)
        finish(st, 0);
    else
        update_events(st); /* stop reading; the queue drains, then write_ready finishes */
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
            finish(st, 0);
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

int csock_stream_writev(csock_stream *st, const struct iovec *iov, int iovcnt)
{
    if (!st || iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt > 0 && !iov))
        return csock__failf(CSOCK_EINVAL, "stream write: %s",
                            !st ? "NULL stream" : "bad buffer list");
    if (st->state & (STREAM_CLOSING | STREAM_CLOSED | STREAM_SHUT)) return closed_error("write");
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return csock__failf(CSOCK_EINVAL, "stream write: buffer %d is NULL", i);
        total += iov[i].iov_len;
    }
    const csock_stream_handler *h = st->handler;
    size_t queued = st->bufs ? st->bufs->out.len : 0;
    if (total > max_queue(h) - queued)
        return csock__failf(CSOCK_ENOBUFS,
                            "stream write: %zu bytes would pass the %zu-byte queue limit (%zu "
                            "queued): the peer is not reading",
                            total, max_queue(h), queued);
    size_t sent = 0;
    if (queued == 0 && total > 0) {
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
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return socket_error(st, -errno, "write");
        sent = n > 0 ? (size_t)n : 0;
        note_io(st);
        if (sent == total) return 0;
    }
    /* Queue the rest: the part of each buffer the socket did not take. */
    struct csock__buffers *b = buffers(st);
    if (!b || reserve(&b->out, total - sent, max_queue(h)) < 0) {
        int code =
            csock__failf(CSOCK_ENOMEM, "stream write: out of memory for %zu bytes", total - sent);
        finish(st, code); /* part of the data may have gone: the stream cannot go on */
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

int csock_stream_write(csock_stream *st, const void *buf, size_t len)
{
    struct iovec one = {(void *)buf, len};
    return csock_stream_writev(st, &one, 1);
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
    if (st->state & STREAM_CLOSED) return;
    if (events & CSOCK_WRITE) write_ready(st);
    if ((events & CSOCK_READ) && !(st->state & (STREAM_CLOSED | STREAM_CLOSING))) read_ready(st);
}

/* ---- deadlines ---- */

static void sweep(csock_loop *loop, csock_timer *t, void *data)
{
    (void)t, (void)data;
    uint32_t now = loop_ms(loop);
    for (csock_watch *w = loop->live; w; w = w->next) {
        if (w->cb != stream_io) continue;
        csock_stream *st = of_watch(w);
        if (!(st->state & STREAM_DEADLINES) || (st->state & STREAM_CLOSED)) continue;
        const csock_stream_handler *h = st->handler;
        double idle = (now - st->last_io_ms) / 1e3, age = (now - st->started_ms) / 1e3;
        if ((h->idle_timeout > 0 && idle >= h->idle_timeout) ||
            (h->total_timeout > 0 && age >= h->total_timeout))
            finish(st,
                   csock__failf(CSOCK_ETIMEOUT, "stream: %s deadline of %gs passed",
                                h->total_timeout > 0 && age >= h->total_timeout ? "total" : "idle",
                                h->total_timeout > 0 && age >= h->total_timeout ? h->total_timeout
                                                                                : h->idle_timeout));
    }
}

/* Checks deadlines every 1/8 of the shortest one in use (5 ms to 1 s). */
static int watch_deadlines(csock_loop *loop, const csock_stream_handler *h)
{
    struct csock__streams *sh = loop->streams;
    double shortest = h->idle_timeout > 0 ? h->idle_timeout : h->total_timeout;
    if (h->total_timeout > 0 && h->total_timeout < shortest) shortest = h->total_timeout;
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

/* ---- creating ---- */

int csock__stream_check_handler(const csock_stream_handler *h)
{
    const char *bad = !h->on_data                       ? "the handler has no on_data"
                      : low_water(h) > high_water(h)    ? "low_water is above high_water"
                      : high_water(h) > max_queue(h)    ? "high_water is above max_queue"
                      : !(h->idle_timeout >= 0)         ? "idle_timeout is negative"
                      : !(h->total_timeout >= 0)        ? "total_timeout is negative"
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

void csock__streams_abort_all(csock_loop *loop, int error)
{
    for (csock_watch *w = loop->live; w; w = w->next)
        if (w->cb == stream_io) finish(of_watch(w), error);
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
