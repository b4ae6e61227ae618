/* SPDX-License-Identifier: MIT */
/* Streams: a connected socket on a loop. This file holds the loop's state for its streams,
 * creating a stream, its limits and buffers, and its accessors; reading and writing are in
 * stream_io.c, closing, lingering and deadlines in stream_close.c, lines and frames in
 * stream_frame.c, the transports in stream_plain.c and stream_tls.c. */
#include "stream_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCRATCH_SIZE  (64 * 1024)
#define SCRATCH_ALIGN 4096

/* ---- limits ---- */

size_t csock__stream_max_buffer(const csock_stream *st)
{
    return st->handler->max_buffer ? st->handler->max_buffer : 64 * 1024;
}

size_t csock__stream_high_water(const csock_stream_handler *h)
{
    return h->high_water ? h->high_water : 64 * 1024;
}

size_t csock__stream_low_water(const csock_stream_handler *h)
{
    return h->low_water ? h->low_water : csock__stream_high_water(h) / 4;
}

size_t csock__stream_max_queue(const csock_stream_handler *h)
{
    if (h->max_queue) return h->max_queue;
    size_t high = csock__stream_high_water(h);
    return high > SIZE_MAX / 4 ? SIZE_MAX : 4 * high; /* 4 times, or no limit rather than wrap */
}

int64_t csock__stream_ns(double seconds)
{
    int64_t ns;
    csock__seconds_ns(seconds, CSOCK__TIMEOUT_ZERO, "stream", &ns);
    return ns > 0 ? ns : 0;
}

int csock__stream_eof(const csock_stream *st)
{
    return (st->state & CSOCK__STREAM_EOF) != 0;
}

/* ---- the loop's shared state ---- */

static void free_streams(csock_loop *loop, csock__extension *ext)
{
    struct csock__streams *sh = (struct csock__streams *)ext;
    csock_timer_cancel(sh->sweep);
    csock_timer_cancel(sh->soon);
    free(sh->scratch);
    free(sh);
    (void)loop;
}

/* Frees a stream whose watch the loop has let go of; its socket is closed already, except when
 * the loop itself is being freed with the stream still open. */
static void release(csock_watch *w)
{
    csock_stream *st = csock__stream_of_watch(w);
    free(st->message);
    csock__stream_detach_receive(st);
    if (w->fd >= 0) st->transport->close(st);
    if (st->bufs) {
        free(st->bufs->in.data);
        free(st->bufs->out.data);
        free(st->bufs->held.data);
        free(st->bufs);
    }
    csock__loop_give(w->loop, CSOCK__CACHE_STREAM, st);
}

struct csock__streams *csock__streams_of(csock_loop *loop)
{
    struct csock__streams *sh = csock__streams(loop);
    if (sh) return sh;
    sh = calloc(1, sizeof *sh);
    /* Page-aligned: a read of a page's worth then fills one page, not two, and the kernel's
     * copies touch half the pages (measured: 8% more server CPU for 4 KiB echoes when the buffer
     * of a raw epoll server is moved 16 bytes off a page boundary). */
    char *scratch = sh ? aligned_alloc(SCRATCH_ALIGN, SCRATCH_SIZE) : NULL;
    if (!scratch) {
        free(sh);
        csock__failf(CSOCK_ENOMEM, "stream: out of memory");
        return NULL;
    }
    sh->ext.free = free_streams;
    sh->closing_hook.run = csock__streams_closing_pass;
    sh->held_hook.run = csock__streams_held_pass;
    sh->pending_hook.run = csock__streams_pending_pass;
    sh->scratch = scratch;
    sh->scratch_size = SCRATCH_SIZE;
    csock__loop_set_extension(loop, &sh->ext);
    /* Input held by transports is read before the closes of the pass, so that a stream closed
     * by what it reads closes in the same pass. */
    csock__loop_add_hook(loop, &sh->pending_hook);
    csock__loop_add_hook(loop, &sh->closing_hook);
    csock__loop_add_hook(loop, &sh->held_hook);
    return sh;
}

int csock__streams_on_close(csock_loop *loop, void (*closed)(csock_stream *st, void *context),
                            void *context)
{
    struct csock__streams *sh = csock__streams_of(loop);
    if (!sh) return csock_lastcode();
    sh->closed = closed;
    sh->closed_context = context;
    return 0;
}

int csock__streams_open(const csock_loop *loop)
{
    const struct csock__streams *sh = csock__streams(loop);
    for (const csock_stream *st = sh ? sh->all : NULL; st; st = st->next)
        if (st->state & CSOCK__STREAM_SERVED) return 1;
    return 0;
}

/* ---- buffers ---- */

struct csock__buffers *csock__stream_buffers(csock_stream *st)
{
    if (!st->bufs) st->bufs = calloc(1, sizeof *st->bufs);
    return st->bufs;
}

void csock__stream_trim(csock_stream *st)
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
    if (!b->in.data && !b->out.data && !b->held.data) {
        free(b);
        st->bufs = NULL;
    }
}

int csock__buffer_reserve(struct csock__buffer *b, size_t more, size_t limit)
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
    struct csock__streams *sh = csock__streams(st->watch.loop);
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
    struct csock__streams *sh = csock__streams(st->watch.loop);
    if (sh->view.stream == st) {
        size_t left = sh->view.len - sh->view.used;
        sh->view.used += n < left ? n : left;
    } else if (st->bufs) {
        struct csock__buffer *in = &st->bufs->in;
        if (n > in->len) n = in->len;
        in->start += n;
        in->len -= n;
        if (in->len == 0) csock__stream_trim(st);
    }
}

size_t csock_stream_peek(csock_stream *st, const char **p)
{
    const char *unused;
    return st ? csock__stream_unread(st, p ? p : &unused) : 0;
}

/* ---- what the socket is watched for ---- */

int csock__stream_reads(const csock_stream *st)
{
    if (st->state & (CSOCK__STREAM_CLOSED | CSOCK__STREAM_OPENING)) return 0;
    if (st->state & CSOCK__STREAM_CLOSING)
        return !(st->state & CSOCK__STREAM_EOF); /* to drop what the peer still sends */
    int waits_for_drain = (st->state & CSOCK__STREAM_BACKED_UP) && !st->handler->keep_reading;
    return !(st->state & (CSOCK__STREAM_PAUSED | CSOCK__STREAM_EOF)) && !waits_for_drain;
}

void csock__stream_update_events(csock_stream *st)
{
    /* While the transport opens, its open says what to wait for (csock__stream_io). */
    if (st->state & (CSOCK__STREAM_CLOSED | CSOCK__STREAM_OPENING)) return;
    int events = 0, reads = csock__stream_reads(st);
    if (st->state & CSOCK__STREAM_COMPLETES)
        csock__stream_receive(st, reads);
    else if (reads)
        events |= CSOCK_READ;
    if (st->bufs && st->bufs->out.len > 0) events |= CSOCK_WRITE;
    /* A transport's read that must write first, or its write that must read first. */
    if (st->state & CSOCK__STREAM_READ_WANTS_WRITE) events |= CSOCK_WRITE;
    if (st->state & CSOCK__STREAM_WRITE_WANTS_READ) events |= CSOCK_READ;
    if (st->state & CSOCK__STREAM_NOTIFYING) events |= CSOCK_WRITE;
    if (events != st->watch.events) csock_watch_set(&st->watch, events);
    /* Input the transport holds makes the socket no more readable: it is read without waiting
     * (after a pause at high water too). */
    if (reads && st->transport->pending && st->transport->pending(st))
        csock__stream_note_pending(st);
}

int csock__stream_closed_error(const char *op)
{
    return csock__failf(CSOCK_EPIPE, "stream %s: the stream is closing or shut down", op);
}

int csock_stream_pause(csock_stream *st, int pause)
{
    if (!st || (st->state & CSOCK__STREAM_CLOSED)) return csock__stream_closed_error("pause");
    if (pause)
        st->state |= CSOCK__STREAM_PAUSED;
    else
        st->state &= (uint32_t)~CSOCK__STREAM_PAUSED;
    csock__stream_update_events(st);
    return 0;
}

/* ---- creating ---- */

int csock__stream_check_handler(const csock_stream_handler *h)
{
    const char *bad =
        !h->on_data                                                ? "the handler has no on_data"
        : csock__stream_low_water(h) > csock__stream_high_water(h) ? "low_water is above high_water"
        : csock__stream_high_water(h) > csock__stream_max_queue(h) ? "high_water is above max_queue"
                                                                   : NULL;
    if (bad) return csock__failf(CSOCK_EINVAL, "stream: %s", bad);
    /* The library's one rule for seconds: NaN, infinity and what no clock reaches are refused
     * (NaN is not 0). */
    if (h->idle_timeout != 0 || h->total_timeout != 0 || h->close_timeout != 0) {
        int64_t ns;
        int rc =
            csock__seconds_ns(h->idle_timeout, CSOCK__TIMEOUT_ZERO, "stream: idle_timeout", &ns);
        if (rc == 0)
            rc = csock__seconds_ns(h->total_timeout, CSOCK__TIMEOUT_ZERO, "stream: total_timeout",
                                   &ns);
        if (rc == 0)
            rc = csock__seconds_ns(h->close_timeout, CSOCK__TIMEOUT_ZERO, "stream: close_timeout",
                                   &ns);
        if (rc < 0) return rc;
    }
    if (h->max_buffer > (size_t)INT_MAX)
        return csock__failf(CSOCK_EINVAL, "stream: max_buffer is over 2 GiB");
    return 0;
}

csock_stream *csock__stream_adopt(csock_loop *loop, int fd, const csock_stream_handler *handler,
                                  void *data, unsigned kind)
{
    return csock__stream_adopt_with(loop, fd, handler, data, &csock__plain, NULL, 0, kind);
}

csock_stream *csock__stream_adopt_with(csock_loop *loop, int fd,
                                       const csock_stream_handler *handler, void *data,
                                       const struct csock__transport *tr, void *tls, double timeout,
                                       unsigned kind)
{
    struct csock__streams *sh = csock__streams_of(loop);
    if (!sh) return NULL;
    csock_stream *st = csock__loop_take(loop, CSOCK__CACHE_STREAM, sizeof *st);
    if (!st) {
        csock__failf(CSOCK_ENOMEM, "stream: out of memory");
        return NULL;
    }
    int deadlines = handler->idle_timeout > 0 || handler->total_timeout > 0;
    /* Only plain byte streams receive by completions: a transport reads the socket itself. */
    int completes = tr == &csock__plain && (kind & CSOCK__ADOPT_BYTES) &&
                    csock__loop_completes(loop, CSOCK__OP_RECV);
    if ((deadlines && csock__stream_watch_deadlines(loop, handler) < 0) ||
        (tr->open && csock__stream_watch_open(loop, timeout) < 0) ||
        csock__loop_attach(loop, &st->watch, fd, completes ? 0 : CSOCK_READ, csock__stream_io, data,
                           release) < 0) {
        csock__loop_give(loop, CSOCK__CACHE_STREAM, st);
        return NULL;
    }
    st->handler = handler;
    st->transport = tr;
    st->tls = tls;
    if (kind & CSOCK__ADOPT_TCP) st->state |= CSOCK__STREAM_TCP;
    if (kind & CSOCK__ADOPT_SERVED) st->state |= CSOCK__STREAM_SERVED;
    if (completes) csock__stream_use_completions(st);
    if (tr->open) csock__stream_begin_open(st, timeout); /* cannot fail: the sweep is on */
    st->next = sh->all;
    if (sh->all) sh->all->prev = st;
    sh->all = st;
    if (deadlines) {
        st->state |= CSOCK__STREAM_DEADLINES;
        st->last_io_ns = st->started_ns = csock__loop_now_ns(loop);
    }
    if (!tr->open && handler->on_open) handler->on_open(st, data); /* else once it is open */
    return st;
}

/* Refuses a socket that is not a connected stream: a listening one would never read a byte, and
 * one never connected would fail at its first read or write. A socket csock connected or
 * accepted is taken as it is, with no system call (it cannot be listening; its peer may have
 * reset it since: the stream then reads the reset, as it would a moment later); another one
 * must have a peer now. */
static int check_connected(const csock *s, int fd)
{
    if (s->type != SOCK_STREAM && s->type != SOCK_SEQPACKET)
        return csock__failf(CSOCK_EINVAL, "stream: not a stream socket");
    if (s->peer.len > 0) return 0;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
        return csock__failf(CSOCK_EINVAL,
                            "stream: a listening socket (accept its connections, then make "
                            "streams of them)");
    struct sockaddr_storage ss;
    len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
        int code = -errno;
        return csock__failf(code, "stream: socket is not connected (getpeername: %s)",
                            csock_strerror(code));
    }
    return 0;
}

csock_stream *csock_stream_new(csock_loop *loop, csock *s, const csock_stream_handler *handler,
                               void *data)
{
    if (!loop || !s || !handler) {
        csock__failf(CSOCK_EINVAL, "stream: NULL %s", !loop ? "loop" : !s ? "socket" : "handler");
        return NULL;
    }
    return csock__stream_new_with(loop, s, handler, data, &csock__plain, NULL, 0);
}

csock_stream *csock__stream_new_with(csock_loop *loop, csock *s,
                                     const csock_stream_handler *handler, void *data,
                                     const struct csock__transport *tr, void *tls, double timeout)
{
    if (csock__stream_check_handler(handler) < 0) return NULL;
    int fd = csock_fileno(s);
    if (fd < 0) {
        csock__failf(CSOCK_EBADF, "stream: socket is closed");
        return NULL;
    }
    if (check_connected(s, fd) < 0) return NULL;
    /* A socket of timeout 0 is non-blocking already (csock made it so, or found it so). */
    int flags = s->timeout_ns == 0 ? O_NONBLOCK : fcntl(fd, F_GETFL);
    if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
        csock__failf(-errno, "stream: fcntl: %s", csock_strerror(-errno));
        return NULL;
    }
    unsigned kind = (s->type == SOCK_STREAM ? CSOCK__ADOPT_BYTES : 0) |
                    (csock__is_tcp(s) ? CSOCK__ADOPT_TCP : 0);
    csock_stream *st = csock__stream_adopt_with(loop, fd, handler, data, tr, tls, timeout, kind);
    if (!st) {
        if (!(flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags);
        return NULL;
    }
    csock_detach(s); /* the descriptor is the stream's now */
    csock_free(s);
    return st;
}

/* ---- accessors ---- */

size_t csock_stream_queued(const csock_stream *st)
{
    return st && st->bufs ? st->bufs->out.len : 0;
}

int csock_stream_at_eof(const csock_stream *st)
{
    return st && (st->state & CSOCK__STREAM_EOF);
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
