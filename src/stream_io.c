/* SPDX-License-Identifier: MIT */
/* A stream's data path: what its socket is ready for, reading into on_data, and writing, at once
 * when the transport takes the bytes and through the bounded queue otherwise. */
#include "stream_internal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* ---- writing ---- */

char *csock__stream_peer_text(const csock_stream *st, char peer[CSOCK_ADDRSTRLEN])
{
    /* After a reset the kernel no longer knows the peer, and an unnamed peer (a socket pair's)
     * has no name to give: the descriptor names the stream then. */
    peer[0] = '\0';
    csock_addr a;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(st->watch.fd, (struct sockaddr *)&ss, &len) == 0) {
        memcpy(&a.ss, &ss, len);
        a.len = len;
        if (csock_addr_format(&a, peer, CSOCK_ADDRSTRLEN) < 0) peer[0] = '\0';
    }
    if (!peer[0]) snprintf(peer, CSOCK_ADDRSTRLEN, "fd %d", st->watch.fd);
    return peer;
}

int csock__stream_socket_error(csock_stream *st, int code, const char *op)
{
    char peer[CSOCK_ADDRSTRLEN];
    const char *why = st->transport->reason ? st->transport->reason(st, code) : NULL;
    csock__failf(code, "stream %s %s: %s", op, csock__stream_peer_text(st, peer),
                 why ? why : csock_strerror(code));
    csock__stream_finish(st, code); /* with its message, for on_close */
    return code;
}

/* Notes what a transport's call that could not go on waits for, when it is not the call's own
 * direction (TLS: a read that must write first, a write that must read first). */
static void note_wants(csock_stream *st, int direction, int wants)
{
    if (wants == direction) return;
    st->state |=
        direction == CSOCK_READ ? CSOCK__STREAM_READ_WANTS_WRITE : CSOCK__STREAM_WRITE_WANTS_READ;
    csock__stream_update_events(st);
}

/* Sends what the queue holds. Returns 0, or a socket error (the stream is then closing). */
static int flush(csock_stream *st)
{
    struct csock__buffer *out = &st->bufs->out;
    while (out->len > 0) {
        struct iovec one = {out->data + out->start, out->len};
        int wants;
        ssize_t n = st->transport->writev(st, &one, 1, &wants);
        if (n < 0) {
            if (n == CSOCK_EINTR) continue;
            if (n == CSOCK_EAGAIN) {
                note_wants(st, CSOCK_WRITE, wants);
                break;
            }
            return csock__stream_socket_error(st, (int)n, "send");
        }
        out->start += (size_t)n;
        out->len -= (size_t)n;
        csock__stream_note_io(st);
    }
    return 0;
}

static void write_ready(csock_stream *st)
{
    if (flush(st) < 0) return;
    size_t queued = st->bufs->out.len;
    if (queued == 0) {
        if (st->state & CSOCK__STREAM_CLOSING) {
            csock__stream_finish_drained(st);
            return;
        }
        if ((st->state & CSOCK__STREAM_SHUT) && !(st->state & CSOCK__STREAM_SHUT_DONE)) {
            csock__stream_shut_down(st);
            if (st->state & CSOCK__STREAM_CLOSED) return;
        }
        csock__stream_trim(st);
    }
    if ((st->state & CSOCK__STREAM_BACKED_UP) && queued <= csock__stream_low_water(st->handler)) {
        st->state &= (uint32_t)~CSOCK__STREAM_BACKED_UP;
        if ((st->state & CSOCK__STREAM_OWES_DRAIN) && st->handler->on_drain) {
            st->state &= (uint32_t)~CSOCK__STREAM_OWES_DRAIN;
            st->handler->on_drain(st, st->watch.data);
        }
    }
    csock__stream_update_events(st);
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

/* A write that the queue cannot take: with bytes queued, the peer is behind; with none, the write
 * alone is larger than the queue may ever hold. */
static int over_queue_limit(const char *op, size_t total, size_t limit, size_t queued)
{
    if (queued == 0)
        return csock__failf(CSOCK_ENOBUFS,
                            "stream %s: %zu bytes are more than the %zu-byte queue limit "
                            "(max_queue) allows, with nothing queued",
                            op, total, limit);
    return csock__failf(CSOCK_ENOBUFS,
                        "stream %s: %zu bytes would pass the %zu-byte queue limit (%zu "
                        "queued): the peer is not reading",
                        op, total, limit, queued);
}

/* Queues the part of each buffer the transport did not take (the first sent bytes went). */
static int queue_rest(csock_stream *st, const struct iovec *iov, int iovcnt, size_t total,
                      size_t sent, const char *op)
{
    const csock_stream_handler *h = st->handler;
    struct csock__buffers *b = csock__stream_buffers(st);
    if (!b || csock__buffer_reserve(&b->out, total - sent, csock__stream_max_queue(h)) < 0) {
        int code =
            csock__failf(CSOCK_ENOMEM, "stream %s: out of memory for %zu bytes", op, total - sent);
        if (sent > 0) csock__stream_finish(st, code); /* part of the data went: no going on */
        if (b) csock__stream_trim(st);
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
    int full = b->out.len >= csock__stream_high_water(h);
    if (full) st->state |= CSOCK__STREAM_BACKED_UP | CSOCK__STREAM_OWES_DRAIN;
    csock__stream_update_events(st);
    return full;
}

/* csock_stream_writev, reporting failures as op (the public call the user made). */
static int write_buffers(csock_stream *st, const struct iovec *iov, int iovcnt, const char *op)
{
    if (!st) return csock__failf(CSOCK_EINVAL, "stream %s: NULL stream", op);
    size_t total = 0;
    int rc = check_buffers(iov, iovcnt, op, &total);
    if (rc < 0) return rc;
    if (st->state & (CSOCK__STREAM_CLOSING | CSOCK__STREAM_CLOSED | CSOCK__STREAM_SHUT))
        return csock__stream_closed_error(op);
    size_t limit = csock__stream_max_queue(st->handler);
    size_t queued = st->bufs ? st->bufs->out.len : 0;
    if (total > limit - queued) return over_queue_limit(op, total, limit, queued);
    if (total == 0 && queued == 0) return 0;
    size_t sent = 0;
    /* While the transport opens (a handshake), writes wait in the queue. */
    if (queued == 0 && !(st->state & CSOCK__STREAM_OPENING)) {
        ssize_t n;
        int wants = CSOCK_WRITE;
        do {
            n = st->transport->writev(st, iov, iovcnt, &wants);
        } while (n == CSOCK_EINTR);
        if (n < 0 && n != CSOCK_EAGAIN) return csock__stream_socket_error(st, (int)n, op);
        if (n == CSOCK_EAGAIN) note_wants(st, CSOCK_WRITE, wants);
        sent = n > 0 ? (size_t)n : 0;
        csock__stream_note_io(st);
        if (sent == total) return 0;
    }
    return queue_rest(st, iov, iovcnt, total, sent, op);
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

void csock__stream_deliver(csock_stream *st, const char *data, size_t len, int held)
{
    struct csock__streams *sh = csock__streams(st->watch.loop);
    sh->view = (struct csock__view){st, data, len, 0};
    st->handler->on_data(st, st->watch.data);
    size_t used = sh->view.used;
    sh->view.stream = NULL;
    if (st->state & CSOCK__STREAM_CLOSING) {
        if (used < len) st->state |= CSOCK__STREAM_DROPPED; /* closing: what is left is dropped */
        if (held) st->bufs->in.len = 0;
        if (st->bufs) csock__stream_trim(st);
        return;
    }
    if (held) {
        st->bufs->in.start += used;
        st->bufs->in.len -= used;
    } else if (used < len && !(st->state & CSOCK__STREAM_CLOSED)) {
        struct csock__buffers *b = csock__stream_buffers(st);
        if (!b || csock__buffer_reserve(&b->in, len - used, csock__stream_max_buffer(st)) < 0) {
            csock__stream_finish(
                st, csock__failf(CSOCK_ENOMEM, "stream: out of memory for unread bytes"));
            return;
        }
        memcpy(b->in.data + b->in.start + b->in.len, data + used, len - used);
        b->in.len += len - used;
    }
    if (st->bufs) {
        /* A handler that closed has dealt with the input (a reply may still be queued). */
        if (st->bufs->in.len >= csock__stream_max_buffer(st) &&
            !(st->state & (CSOCK__STREAM_CLOSED | CSOCK__STREAM_CLOSING)))
            csock__stream_finish(st, csock__failf(CSOCK_EMSGSIZE,
                                                  "stream: %zu bytes unread, the limit: a line or "
                                                  "frame too long, or a handler that does not read",
                                                  st->bufs->in.len));
        else
            csock__stream_trim(st);
    }
}

void csock__stream_read_eof(csock_stream *st)
{
    st->state |= CSOCK__STREAM_EOF;
    csock__stream_update_events(st);
    const char *rest;
    size_t left = csock__stream_unread(st, &rest);
    if (left > 0) csock__stream_deliver(st, rest, left, 1);
    if (st->state & (CSOCK__STREAM_CLOSED | CSOCK__STREAM_CLOSING)) return;
    if (!st->handler->on_end) {
        csock_stream_close(st);
        return;
    }
    st->handler->on_end(st, st->watch.data);
    if ((st->state & CSOCK__STREAM_SHUT_DONE) &&
        !(st->state & (CSOCK__STREAM_CLOSED | CSOCK__STREAM_CLOSING)))
        csock__stream_finish(st, 0); /* both directions are over */
}

static void read_ready(csock_stream *st)
{
    struct csock__streams *sh = csock__streams(st->watch.loop);
    size_t limit = csock__stream_max_buffer(st);
    int held = st->bufs && st->bufs->in.len > 0;
    char *into;
    size_t room;
    if (held) {
        /* Append to what is held, so a line or frame arriving in pieces is read in one place
         * (deliver closed the stream if that was full). */
        struct csock__buffer *in = &st->bufs->in;
        size_t want = limit - in->len < sh->scratch_size ? limit - in->len : sh->scratch_size;
        if (want == 0 || csock__buffer_reserve(in, want, limit) < 0) {
            csock__stream_finish(
                st, csock__failf(CSOCK_ENOMEM, "stream: out of memory for unread bytes"));
            return;
        }
        into = in->data + in->start + in->len;
        room = want;
    } else {
        into = sh->scratch;
        room = limit < sh->scratch_size ? limit : sh->scratch_size;
    }
    int wants = CSOCK_READ;
    ssize_t n = st->transport->read(st, into, room, &wants);
    if (n < 0) {
        if (n == CSOCK_EAGAIN) note_wants(st, CSOCK_READ, wants);
        if (n == CSOCK_EAGAIN || n == CSOCK_EINTR) return;
        csock__stream_socket_error(st, (int)n, "recv");
        return;
    }
    csock__stream_note_io(st);
    if (n == 0) {
        csock__stream_read_eof(st);
        return;
    }
    if (held) {
        st->bufs->in.len += (size_t)n;
        csock__stream_deliver(st, st->bufs->in.data + st->bufs->in.start, st->bufs->in.len, 1);
    } else {
        csock__stream_deliver(st, into, (size_t)n, 0);
    }
    /* What the transport holds beyond this read comes with no readiness: read on at the end of
     * the pass (each stream one read a pass, so that none starves the others). */
    if (st->transport->pending && csock__stream_reads(st) && !(st->state & CSOCK__STREAM_CLOSING) &&
        st->transport->pending(st))
        csock__stream_note_pending(st);
}

void csock__stream_note_pending(csock_stream *st)
{
    if (st->state & CSOCK__STREAM_PENDING) return;
    struct csock__streams *sh = csock__streams(st->watch.loop);
    st->state |= CSOCK__STREAM_PENDING;
    st->next_pending = sh->pending;
    sh->pending = st;
    csock__loop_hook_due(st->watch.loop, &sh->pending_hook);
}

int csock__streams_pending_pass(csock_loop *loop, csock__hook *hook)
{
    (void)hook;
    struct csock__streams *sh = csock__streams(loop);
    csock_stream *list = sh->pending;
    sh->pending = NULL; /* those that still hold input after their read are noted again */
    while (list) {
        csock_stream *st = list;
        list = st->next_pending;
        st->next_pending = NULL;
        st->state &= (uint32_t)~CSOCK__STREAM_PENDING;
        /* A closing stream drops its input; the socket's readiness still ends it. */
        if (csock__stream_reads(st) && !(st->state & CSOCK__STREAM_CLOSING)) read_ready(st);
    }
    return 0; /* the streams' own work, not counted */
}

/* ---- opening ---- */

void csock__stream_opened(csock_stream *st, int rc)
{
    st->state &= (uint32_t)~CSOCK__STREAM_OPENING;
    if (rc < 0) {
        csock__stream_fail_open(st, rc);
        return;
    }
    csock__stream_note_io(st);
    if (st->handler->on_open) st->handler->on_open(st, st->watch.data);
    /* Reading, the writes queued meanwhile, and input the open read past its end. */
    csock__stream_update_events(st);
}

/* One step of the transport's open: wait for what it wants, or the end of it. */
static void open_step(csock_stream *st)
{
    int wants = 0, rc;
    do
        rc = st->transport->open(st, &wants);
    while (rc == CSOCK_EINTR);
    if (rc == CSOCK_EAGAIN) {
        if (wants != st->watch.events) csock_watch_set(&st->watch, wants);
        return;
    }
    csock__stream_opened(st, rc);
}

void csock__stream_io(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)loop, (void)data;
    csock_stream *st = csock__stream_of_watch(w);
    if (st->state & CSOCK__STREAM_LINGERING) {
        if (csock__stream_drop_input(st) <= 0)
            csock__stream_end_linger(st); /* the peer's end, or an error */
        return;
    }
    if (st->state & CSOCK__STREAM_CLOSED) return;
    if (st->state & CSOCK__STREAM_OPENING) {
        open_step(st);
        return;
    }
    /* Room for the transport's word of a graceful end: the close or the shutdown goes on. */
    if ((events & CSOCK_WRITE) && (st->state & CSOCK__STREAM_NOTIFYING)) {
        st->state &= (uint32_t)~CSOCK__STREAM_NOTIFYING;
        if (st->state & CSOCK__STREAM_CLOSING)
            csock__stream_finish_drained(st);
        else
            csock__stream_shut_down(st);
        if (st->state & CSOCK__STREAM_CLOSED) return;
        csock__stream_update_events(st);
    }
    /* The readiness a transport's read or write waited for, though the other direction's. */
    int read_for_write = (events & CSOCK_WRITE) && (st->state & CSOCK__STREAM_READ_WANTS_WRITE);
    int write_for_read = (events & CSOCK_READ) && (st->state & CSOCK__STREAM_WRITE_WANTS_READ);
    st->state &= (uint32_t) ~((read_for_write ? CSOCK__STREAM_READ_WANTS_WRITE : 0) |
                              (write_for_read ? CSOCK__STREAM_WRITE_WANTS_READ : 0));
    if (((events & CSOCK_WRITE) || write_for_read) && st->bufs && st->bufs->out.len > 0)
        write_ready(st);
    else if (read_for_write || write_for_read)
        csock__stream_update_events(st); /* no longer watched for the other direction */
    if (st->state & CSOCK__STREAM_CLOSED) return;
    if (!(events & CSOCK_READ) && !read_for_write) return;
    if (!(st->state & CSOCK__STREAM_CLOSING)) {
        if (csock__stream_reads(st)) read_ready(st);
        return;
    }
    int rc = csock__stream_drop_input(st);
    if (rc == 0) {
        st->state |= CSOCK__STREAM_EOF;
        csock__stream_update_events(st);
    } else if (rc < 0) {
        csock__stream_socket_error(st, rc, "recv");
    }
}
