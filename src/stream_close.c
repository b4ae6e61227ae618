/* SPDX-License-Identifier: MIT */
/* How a stream ends: closing gracefully or at once, shutting down for writing, on_close at the
 * end of the pass, lingering after it, and the deadlines (idle, total, close) that end a stream
 * which takes too long. */
#include "stream_internal.h"

#include <stdlib.h>
#include <string.h>

#define DROP_READS 4 /* reads of input to drop per pass, then others get their turn */

static double close_timeout(const csock_stream_handler *h)
{
    return h->close_timeout > 0 ? h->close_timeout : CSOCK__CLOSE_TIMEOUT_DEFAULT;
}

/* ---- closing ---- */

void csock__stream_finish(csock_stream *st, int error)
{
    if (st->state & CSOCK__STREAM_CLOSED) return;
    csock_loop *loop = st->watch.loop;
    struct csock__streams *sh = csock__streams(loop);
    st->state |= CSOCK__STREAM_CLOSED;
    st->error = error;
    /* The failure was just recorded: on_close reads it, whatever fails meanwhile. */
    if (error && csock_lastcode() == error && !st->message) st->message = strdup(csock_lasterror());
    /* Its events are ignored from now on (csock__stream_io), and its watch is removed at the end
     * of this pass: telling the kernel to stop them first would only cost a system call. */
    if (sh->closing_tail)
        sh->closing_tail->next_closing = st;
    else
        sh->closing = st;
    sh->closing_tail = st;
    csock__loop_hook_due(loop, &sh->closing_hook);
}

void csock__stream_finish_drained(csock_stream *st)
{
    /* The peer is told first where the transport has a word for it (TLS: close_notify), within
     * close_timeout (the sweep ends a close that takes longer). */
    if (st->transport->notify && !(st->state & CSOCK__STREAM_CLOSED) &&
        st->transport->notify(st) == CSOCK_EAGAIN) {
        st->state |= CSOCK__STREAM_NOTIFYING;
        csock__stream_update_events(st);
        return;
    }
    if (!(st->state & CSOCK__STREAM_CLOSED)) st->state |= CSOCK__STREAM_DRAINED;
    csock__stream_finish(st, st->error);
}

void csock__stream_fail_open(csock_stream *st, int rc)
{
    /* The transport's last word (TLS's alert: why the handshake failed) must reach the peer:
     * with its input unread, the close would reset the connection and the alert could be lost.
     * So the stream lingers as after a graceful close, within close_timeout. */
    int64_t by = csock__loop_now_ns(st->watch.loop) + (int64_t)(close_timeout(st->handler) * 1e9);
    if (!st->close_by_ns || by < st->close_by_ns) st->close_by_ns = by;
    st->state |= CSOCK__STREAM_DRAINED;
    csock__stream_finish(st, rc);
}

int csock__stream_drop_input(csock_stream *st)
{
    /* A closing stream wants no more of the input, but leaving it unread would make the kernel
     * reset the connection at close, and the peer would lose what it has not read of ours. */
    struct csock__streams *sh = csock__streams(st->watch.loop);
    for (int i = 0; i < DROP_READS; i++) {
        int wants;
        ssize_t n = st->transport->read(st, sh->scratch, sh->scratch_size, &wants);
        if (n > 0) {
            st->state |= CSOCK__STREAM_DROPPED;
            continue;
        }
        if (n == 0) return 0;
        if (n == CSOCK_EINTR) continue;
        return n == CSOCK_EAGAIN ? 1 : (int)n;
    }
    return 1;
}

/* Whether the peer may still send while it has bytes of ours to read: then closing now could
 * reset the connection and lose them. Not after its end of file, after an error or an abort;
 * otherwise when input was left unread or dropped, or the transport holds bytes unsettled (a
 * peer that has everything and sends nothing loses nothing). */
static int should_linger(csock_stream *st)
{
    if (!(st->state & CSOCK__STREAM_DRAINED) || (st->state & CSOCK__STREAM_EOF)) return 0;
    if ((st->state & CSOCK__STREAM_DROPPED) ||
        (st->bufs && (st->bufs->in.len > 0 || st->bufs->held.len > 0)))
        return 1;
    return st->transport->unsettled(st);
}

static int ensure_sweep(csock_loop *loop, double shortest);

/* After on_close: shuts the transport down for writing (the peer reads end of file after the
 * last byte) and keeps reading and dropping until the peer's end of file, an error, or
 * close_by_ns; the user never sees the stream again. Returns 0, or -1 to close at once instead. */
static int start_linger(csock_stream *st)
{
    csock_loop *loop = st->watch.loop;
    int64_t left_ns = st->close_by_ns - csock__loop_now_ns(loop);
    if (left_ns <= 0 || ensure_sweep(loop, (double)left_ns / 1e9) < 0) return -1;
    if (!(st->state & CSOCK__STREAM_SHUT_DONE)) st->transport->shutdown(st);
    st->state |= CSOCK__STREAM_LINGERING | CSOCK__STREAM_SHUT_DONE;
    if (st->bufs) { /* the queue is empty; unread input is dropped */
        free(st->bufs->in.data);
        free(st->bufs->out.data);
        free(st->bufs->held.data);
        free(st->bufs);
        st->bufs = NULL;
    }
    if (st->state & CSOCK__STREAM_COMPLETES) /* its completions drop the input from now on */
        return csock__op_start(loop, &st->recv, CSOCK__OP_RECV, st->watch.fd) == 0 ? 0 : -1;
    if (csock_watch_set(&st->watch, CSOCK_READ) < 0) return -1;
    int rc = csock__stream_drop_input(st); /* what is there already; end of file may be too */
    return rc == 1 ? 0 : -1;
}

/* Takes st off the loop's streams and removes its watch: the loop then frees it, at the end of
 * the pass when inside one (a later event of this pass may still name it). */
static void let_go(csock_stream *st)
{
    struct csock__streams *sh = csock__streams(st->watch.loop);
    if (st->state & CSOCK__STREAM_PENDING) { /* no pass may read it once it is freed */
        csock_stream **at = &sh->pending;
        while (*at != st)
            at = &(*at)->next_pending;
        *at = st->next_pending;
        st->state &= (uint32_t)~CSOCK__STREAM_PENDING;
    }
    if (st->prev)
        st->prev->next = st->next;
    else
        sh->all = st->next;
    if (st->next) st->next->prev = st->prev;
    csock__stream_detach_receive(st);
    csock_watch_remove(&st->watch);
}

void csock__stream_end_linger(csock_stream *st)
{
    let_go(st); /* the release closes the socket */
}

int csock__streams_closing_pass(csock_loop *loop, csock__hook *hook)
{
    (void)hook;
    struct csock__streams *sh = csock__streams(loop);
    while (sh->closing) {
        csock_stream *st = sh->closing;
        sh->closing = st->next_closing;
        if (!sh->closing) sh->closing_tail = NULL;
        if (st->message) {
            csock__failf(st->error, "%s", st->message);
            free(st->message);
            st->message = NULL;
        }
        if (st->handler->on_close) st->handler->on_close(st, st->error, st->watch.data);
        if (sh->closed && (st->state & CSOCK__STREAM_SERVED)) sh->closed(st, sh->closed_context);
        if (should_linger(st) && start_linger(st) == 0) continue;
        let_go(st); /* before the close: epoll finds the registration by descriptor */
        st->transport->close(st);
        st->watch.fd = -1;
    }
    return 0; /* the streams' own work, not counted */
}

/* Starts a graceful close: no more on_data, input dropped, the queue sent (within
 * close_timeout), then on_close with st->error. */
static void begin_close(csock_stream *st)
{
    csock_loop *loop = st->watch.loop;
    const csock_stream_handler *h = st->handler;
    int64_t timeout_ns = h->close_timeout > 0 ? csock__stream_ns(h->close_timeout)
                                              : (int64_t)(CSOCK__CLOSE_TIMEOUT_DEFAULT * 1e9);
    if (st->state & CSOCK__STREAM_OPENING) {
        /* Nothing was said yet (a handshake under way): nothing to deliver or tell. */
        csock__stream_finish(st, st->error);
        return;
    }
    st->state |= CSOCK__STREAM_CLOSING;
    st->close_by_ns = csock__loop_now_ns(loop) + timeout_ns;
    if (!st->bufs || st->bufs->out.len == 0) {
        csock__stream_finish_drained(st);
        /* A close_notify waiting for room is bounded by close_timeout too. */
        if ((st->state & CSOCK__STREAM_NOTIFYING) && ensure_sweep(loop, close_timeout(h)) < 0)
            csock__stream_finish(st, csock_lastcode());
        return;
    }
    int rc = ensure_sweep(loop, close_timeout(h));
    if (rc < 0) {
        csock__stream_finish(st, rc); /* no timer to bound the close: do not wait without one */
        return;
    }
    csock__stream_update_events(st); /* input is dropped; the queue drains, then the close */
}

void csock_stream_close(csock_stream *st)
{
    if (!st || (st->state & (CSOCK__STREAM_CLOSING | CSOCK__STREAM_CLOSED))) return;
    begin_close(st);
}

void csock_stream_abort(csock_stream *st)
{
    if (st) csock__stream_finish(st, 0);
}

void csock__stream_shut_down(csock_stream *st)
{
    if (st->transport->shutdown(st) == CSOCK_EAGAIN) { /* no room for TLS's close_notify yet */
        st->state |= CSOCK__STREAM_NOTIFYING;
        csock__stream_update_events(st);
        return;
    }
    st->state |= CSOCK__STREAM_SHUT_DONE;
    if (st->state & CSOCK__STREAM_EOF) csock__stream_finish(st, 0);
}

int csock_stream_shutdown(csock_stream *st)
{
    if (!st || (st->state & (CSOCK__STREAM_CLOSING | CSOCK__STREAM_CLOSED)))
        return csock__stream_closed_error("shutdown");
    st->state |= CSOCK__STREAM_SHUT;
    if ((!st->bufs || st->bufs->out.len == 0) && !(st->state & CSOCK__STREAM_SHUT_DONE))
        csock__stream_shut_down(st);
    return 0;
}

void csock__streams_close_all(csock_loop *loop, int error)
{
    struct csock__streams *sh = csock__streams(loop);
    for (csock_stream *st = sh ? sh->all : NULL; st; st = st->next) {
        if (!(st->state & CSOCK__STREAM_SERVED) ||
            (st->state & (CSOCK__STREAM_CLOSING | CSOCK__STREAM_CLOSED)))
            continue;
        st->error = error;
        begin_close(st);
    }
}

void csock__streams_abort_all(csock_loop *loop, int error)
{
    struct csock__streams *sh = csock__streams(loop);
    for (csock_stream *st = sh ? sh->all : NULL, *next; st; st = next) {
        next = st->next; /* ending a lingering stream takes it off the list */
        if (!(st->state & CSOCK__STREAM_SERVED)) continue;
        if (st->state & CSOCK__STREAM_LINGERING)
            csock__stream_end_linger(st);
        else
            csock__stream_finish(st, error);
    }
}

/* ---- deadlines ---- */

/* Ends st if one of its handler's deadlines has passed at now. */
static void check_deadlines(csock_stream *st, int64_t now)
{
    const csock_stream_handler *h = st->handler;
    int64_t idle_ns = csock__stream_ns(h->idle_timeout);
    int64_t total_ns = csock__stream_ns(h->total_timeout);
    int total = total_ns > 0 && now - st->started_ns >= total_ns;
    if (total || (idle_ns > 0 && now - st->last_io_ns >= idle_ns))
        csock__stream_finish(st, csock__failf(CSOCK_ETIMEOUT, "stream: %s deadline of %gs passed",
                                              total ? "total" : "idle",
                                              total ? h->total_timeout : h->idle_timeout));
}

static void sweep(csock_loop *loop, csock_timer *t, void *data);

static void sweep_soon(csock_loop *loop, csock_timer *t, void *data)
{
    (void)t;
    struct csock__streams *sh = csock__streams(loop);
    sh->soon = NULL;
    if (sh->sweep) sweep(loop, sh->sweep, data);
}

/* A handshake's or a close's end is kept to the time it was given, not to the next sweep (which
 * may be up to a second later): the sweep before it asks for one at that time. */
static void sweep_at(csock_loop *loop, struct csock__streams *sh, int64_t at, int64_t now)
{
    if (at == INT64_MAX || at - now >= sh->sweep_ns || (sh->soon && sh->soon_ns <= at)) return;
    csock_timer *t = csock_loop_call_later(loop, (double)(at - now) / 1e9, sweep_soon, NULL);
    if (!t) return; /* the sweep comes anyway, a little later */
    csock_timer_cancel(sh->soon);
    sh->soon = t;
    sh->soon_ns = at;
}

/* The shortest of a handler's idle and total deadlines in use (0 when it has none). */
static double shortest_deadline(const csock_stream_handler *h)
{
    double shortest = h->idle_timeout > 0 ? h->idle_timeout : h->total_timeout;
    if (h->total_timeout > 0 && h->total_timeout < shortest) shortest = h->total_timeout;
    return shortest;
}

/* The sweep's interval for the shortest deadline in use: 1/8 of it, 5 ms to 1 s. */
static double sweep_every(double shortest)
{
    double every = shortest / 8;
    return every < 0.005 ? 0.005 : every > 1 ? 1 : every;
}

static void sweep(csock_loop *loop, csock_timer *t, void *data)
{
    (void)data;
    struct csock__streams *sh = csock__streams(loop);
    int64_t now = csock__loop_now_ns(loop), soonest = INT64_MAX;
    int needed = 0;
    double shortest = 8; /* a sweep each second, unless a deadline in use is shorter */
    for (csock_stream *st = sh->all, *next; st; st = next) {
        next = st->next; /* ending a lingering stream takes it off the list */
        if (st->state & CSOCK__STREAM_LINGERING) {
            if (now >= st->close_by_ns) {
                csock__stream_end_linger(st);
            } else {
                needed = 1;
                if (st->close_by_ns < soonest) soonest = st->close_by_ns;
            }
            continue;
        }
        if (st->state & CSOCK__STREAM_CLOSED) continue;
        if (st->state & (CSOCK__STREAM_OPENING | CSOCK__STREAM_CLOSING) && now < st->close_by_ns &&
            st->close_by_ns < soonest)
            soonest = st->close_by_ns;
        if (st->state & CSOCK__STREAM_OPENING) {
            needed = 1;
            if (now >= st->close_by_ns) {
                char peer[CSOCK_ADDRSTRLEN];
                csock__stream_finish(st, csock__failf(CSOCK_ETIMEOUT,
                                                      "%s handshake %s: timed out before the "
                                                      "handshake was done",
                                                      st->transport->name,
                                                      csock__stream_peer_text(st, peer)));
                continue;
            }
        }
        if (st->state & CSOCK__STREAM_CLOSING) {
            needed = 1;
            if (now >= st->close_by_ns) {
                csock__stream_finish(st, csock__failf(CSOCK_ETIMEOUT,
                                                      "stream: close_timeout of %gs passed with "
                                                      "%zu bytes still queued: the peer is not "
                                                      "reading",
                                                      close_timeout(st->handler),
                                                      csock_stream_queued(st)));
                continue;
            }
        }
        if (!(st->state & CSOCK__STREAM_DEADLINES)) continue;
        needed = 1;
        double d = shortest_deadline(st->handler);
        if (d < shortest) shortest = d;
        check_deadlines(st, now);
    }
    if (!needed) { /* nothing to watch: an idle loop is not woken for nothing */
        csock_timer_cancel(t);
        sh->sweep = NULL;
        return;
    }
    /* The stream whose deadline was the shortest may have gone: the interval grows back (a
     * handshake's or a close's end has a timer of its own, sweep_at). */
    double every = sweep_every(shortest);
    int64_t every_ns = (int64_t)(every * 1e9);
    csock_timer *longer =
        every_ns > sh->sweep_ns ? csock_loop_call_every(loop, every, sweep, NULL) : NULL;
    if (longer) {
        csock_timer_cancel(t);
        sh->sweep = longer;
        sh->sweep_ns = every_ns;
    }
    sweep_at(loop, sh, soonest, now);
}

/* Checks deadlines every 1/8 of the shortest one in use (5 ms to 1 s). */
static int ensure_sweep(csock_loop *loop, double shortest)
{
    struct csock__streams *sh = csock__streams(loop);
    double every = sweep_every(shortest);
    int64_t ns = (int64_t)(every * 1e9);
    if (sh->sweep && sh->sweep_ns <= ns) return 0;
    csock_timer *t = csock_loop_call_every(loop, every, sweep, NULL);
    if (!t) return csock_lastcode();
    csock_timer_cancel(sh->sweep);
    sh->sweep = t;
    sh->sweep_ns = ns;
    return 0;
}

int csock__stream_watch_deadlines(csock_loop *loop, const csock_stream_handler *h)
{
    return ensure_sweep(loop, shortest_deadline(h));
}

int csock__stream_watch_open(csock_loop *loop, double timeout)
{
    return ensure_sweep(loop, timeout);
}

int csock__stream_begin_open(csock_stream *st, double timeout)
{
    csock_loop *loop = st->watch.loop;
    int rc = ensure_sweep(loop, timeout);
    if (rc < 0) return rc;
    st->state |= CSOCK__STREAM_OPENING;
    st->state &= (uint32_t) ~(CSOCK__STREAM_READ_WANTS_WRITE | CSOCK__STREAM_WRITE_WANTS_READ);
    st->close_by_ns = csock__loop_now_ns(loop) + (int64_t)(timeout * 1e9);
    /* The first step runs when the loop next looks (a client's hello goes out at once). */
    csock_watch_set(&st->watch, CSOCK_READ | CSOCK_WRITE);
    return 0;
}
