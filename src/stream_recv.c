/* SPDX-License-Identifier: MIT */
/* Receiving by completions: on io_uring, a stream's input comes from a multishot receive into the
 * loop's ring of provided buffers instead of a recv(2) after each readiness, so one io_uring_enter
 * stands for the wait and every receive of the pass. on_data reads straight from the provided
 * buffer, which goes back to the ring when the pass is over; what it leaves is copied into the
 * stream, as with the read buffer of readiness streams.
 *
 * The receive runs while the stream's state asks for input and is stopped when it does not. A
 * stop takes effect in the kernel with the next wait, so bytes may still come after it: they are
 * held in the stream (at most what the provided buffers hold) and handed to on_data, in order,
 * at the end of the first pass in which reading is on again; end of file after them waits its
 * turn too. A receive that ends for want of buffers (ENOBUFS), or is cancelled when the loop moves
 * to another thread, is started again: the bytes it did not take are still in the socket. */
#include "stream_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static csock_stream *stream_of_op(csock__op *op)
{
    return (csock_stream *)(void *)((char *)op - offsetof(csock_stream, recv));
}

static void list_held(csock_stream *st)
{
    if (st->state & CSOCK__STREAM_LISTED) return;
    struct csock__streams *sh = csock__streams(st->watch.loop);
    st->state |= CSOCK__STREAM_LISTED;
    st->next_held = sh->held;
    sh->held = st;
    csock__loop_hook_due(st->watch.loop, &sh->held_hook);
}

static void unlist(csock_stream *st)
{
    if (!(st->state & CSOCK__STREAM_LISTED)) return;
    struct csock__streams *sh = csock__streams(st->watch.loop);
    for (csock_stream **at = &sh->held; *at; at = &(*at)->next_held)
        if (*at == st) {
            *at = st->next_held;
            break;
        }
    st->state &= (uint32_t)~CSOCK__STREAM_LISTED;
}

/* Keeps n bytes received while reading is off, after what the stream holds. */
static void hold(csock_stream *st, const char *data, size_t n)
{
    struct csock__buffers *b = csock__stream_buffers(st);
    if (!b || csock__buffer_reserve(&b->held, n, b->held.len + n) < 0) {
        if (b) csock__stream_trim(st);
        csock__stream_finish(st,
                             csock__failf(CSOCK_ENOMEM, "stream: out of memory for unread bytes"));
        return;
    }
    memcpy(b->held.data + b->held.start + b->held.len, data, n);
    b->held.len += n;
    st->state |= CSOCK__STREAM_HELD;
    if (csock__stream_reads(st)) list_held(st);
}

/* Hands up to n received bytes to on_data, at most the handler's max_buffer at a time, as
 * readiness streams read them, while reading is on. Returns how many were taken (dropped, when
 * the stream is closing); the rest are the caller's to hold. */
static size_t take(csock_stream *st, const char *data, size_t n)
{
    size_t taken = 0;
    while (taken < n) {
        if (st->state & (CSOCK__STREAM_CLOSED | CSOCK__STREAM_CLOSING)) {
            if (!(st->state & CSOCK__STREAM_CLOSED)) st->state |= CSOCK__STREAM_DROPPED;
            return n;
        }
        if (!csock__stream_reads(st)) return taken;
        size_t limit = csock__stream_max_buffer(st), chunk, left = n - taken;
        struct csock__buffer *in = st->bufs ? &st->bufs->in : NULL;
        if (!in || in->len == 0) {
            chunk = left < limit ? left : limit;
            csock__stream_deliver(st, data + taken, chunk, 0);
        } else {
            size_t room = limit > in->len ? limit - in->len : 0;
            if (room == 0) return n; /* delivering closed the stream */
            chunk = left < room ? left : room;
            if (csock__buffer_reserve(in, chunk, limit) < 0) {
                csock__stream_finish(
                    st, csock__failf(CSOCK_ENOMEM, "stream: out of memory for unread bytes"));
                return n;
            }
            memcpy(in->data + in->start + in->len, data + taken, chunk);
            in->len += chunk;
            csock__stream_deliver(st, in->data + in->start, in->len, 1);
        }
        taken += chunk;
    }
    return taken;
}

/* Takes n bytes of a completion: after what is held, else to on_data, the rest held. */
static void receive_bytes(csock_stream *st, const char *data, size_t n)
{
    size_t taken = st->state & CSOCK__STREAM_HELD ? 0 : take(st, data, n);
    if (taken < n && !(st->state & CSOCK__STREAM_CLOSED)) hold(st, data + taken, n - taken);
}

/* A lingering stream's receive: drops the input until the peer's end or an error. */
static void linger_received(csock_stream *st, int res, int more)
{
    if (res > 0 || res == CSOCK_ENOBUFS || res == -ECANCELED) {
        if (!more && csock__op_start(st->watch.loop, &st->recv, CSOCK__OP_RECV, st->watch.fd) < 0)
            csock__stream_end_linger(st);
        return;
    }
    csock__stream_end_linger(st);
}

static void received(csock_loop *loop, csock__op *op, int res, const char *data, int more)
{
    (void)loop;
    csock_stream *st = stream_of_op(op);
    if (st->state & CSOCK__STREAM_LINGERING) {
        linger_received(st, res, more);
        return;
    }
    if (st->state & CSOCK__STREAM_CLOSED) return;
    if (res < 0) {
        if (res == CSOCK_ENOBUFS || res == -ECANCELED || res == CSOCK_EINTR ||
            res == CSOCK_EAGAIN) {
            if (!more) csock__stream_update_events(st); /* started again if still wanted */
        } else if (res == CSOCK_EINVAL && !more) {
            /* A kernel that refuses the multishot receive after all: readiness, as before. */
            st->state &= (uint32_t)~CSOCK__STREAM_COMPLETES;
            csock__stream_update_events(st);
        } else {
            csock__stream_socket_error(st, res, "recv");
        }
        return;
    }
    csock__stream_note_io(st);
    if (st->state & CSOCK__STREAM_CLOSING) {
        st->state |= res > 0 ? CSOCK__STREAM_DROPPED : CSOCK__STREAM_EOF;
    } else if (res == 0) {
        if (csock__stream_reads(st) && !(st->state & CSOCK__STREAM_HELD)) {
            csock__stream_read_eof(st);
            return;
        }
        st->state |= CSOCK__STREAM_EOF_HELD;
    } else {
        receive_bytes(st, data, (size_t)res);
    }
    if (!more) csock__stream_update_events(st);
}

void csock__stream_use_completions(csock_stream *st)
{
    st->recv.done = received;
    st->state |= CSOCK__STREAM_COMPLETES;
    if (csock__op_start(st->watch.loop, &st->recv, CSOCK__OP_RECV, st->watch.fd) < 0) {
        st->state &= (uint32_t)~CSOCK__STREAM_COMPLETES; /* no memory for it: readiness */
        csock_watch_set(&st->watch, CSOCK_READ);
    }
}

void csock__stream_receive(csock_stream *st, int reads)
{
    csock_loop *loop = st->watch.loop;
    if (!reads) {
        if (st->recv.busy && !st->recv.stopping) csock__op_stop(loop, &st->recv, 0);
        return;
    }
    /* Held input goes first; the receive starts again after it (or after its last completion,
     * when a stop is still on its way). */
    if (st->state & (CSOCK__STREAM_HELD | CSOCK__STREAM_EOF_HELD)) {
        list_held(st);
        return;
    }
    if (!st->recv.busy && csock__op_start(loop, &st->recv, CSOCK__OP_RECV, st->watch.fd) < 0)
        csock__stream_finish(st, csock_lastcode());
}

void csock__stream_detach_receive(csock_stream *st)
{
    if (!(st->state & CSOCK__STREAM_COMPLETES)) return;
    unlist(st);
    csock__op_stop(st->watch.loop, &st->recv, 1);
}

/* Hands st's held input to on_data, then its held end of file, for as long as reading stays on. */
static void hand_over(csock_stream *st)
{
    struct csock__buffer *held = st->bufs ? &st->bufs->held : NULL;
    if (held && held->len > 0) {
        size_t taken = take(st, held->data + held->start, held->len);
        if (st->state & CSOCK__STREAM_CLOSED) return;
        held->start += taken;
        held->len -= taken;
        if (held->len > 0) return; /* reading is off again: the rest waits */
        free(held->data);
        *held = (struct csock__buffer){0};
        csock__stream_trim(st);
    }
    st->state &= (uint32_t)~CSOCK__STREAM_HELD;
    int eof = (st->state & CSOCK__STREAM_EOF_HELD) != 0;
    st->state &= (uint32_t)~CSOCK__STREAM_EOF_HELD;
    if (st->state & CSOCK__STREAM_CLOSING) {
        if (eof) st->state |= CSOCK__STREAM_EOF;
        csock__stream_update_events(st);
    } else if (eof) {
        csock__stream_read_eof(st);
    } else {
        csock__stream_update_events(st);
    }
}

int csock__streams_held_pass(csock_loop *loop, csock__hook *hook)
{
    (void)hook;
    struct csock__streams *sh = csock__streams(loop);
    csock_stream *st;
    while ((st = sh->held)) {
        sh->held = st->next_held;
        st->state &= (uint32_t)~CSOCK__STREAM_LISTED;
        if (st->state & CSOCK__STREAM_CLOSED) continue;
        /* Reading may be off again: it is listed again when it is on. */
        if (csock__stream_reads(st)) hand_over(st);
    }
    return 0; /* the streams' own work, not counted */
}

int csock__stream_completes(const csock_stream *st)
{
    return (st->state & CSOCK__STREAM_COMPLETES) != 0;
}
