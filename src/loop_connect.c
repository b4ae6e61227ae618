/* SPDX-License-Identifier: MIT */
/* Connecting on the loop: the lookups (csock_loop_resolve), non-blocking attempts on every
 * address, Happy Eyeballs (RFC 8305) between the families, one deadline, and the list of what
 * was tried in the failure's message, worded as csock_create_connection's. */
#include "loop_internal.h"
#include "stream_internal.h"

#include "csock/connect.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* RFC 8305: the resolution delay (section 3) and the attempt delay's default and bounds
 * (section 5), in nanoseconds. */
#define RESOLUTION_DELAY_NS  50000000LL
#define ATTEMPT_DELAY_NS     250000000LL
#define ATTEMPT_DELAY_MIN_NS 100000000LL
#define ATTEMPT_DELAY_MAX_NS 2000000000LL

#define TRIED_SIZE 1024

/* A connect's object is one of the loop's kept blocks when its host fits in this much. */
#define HOST_KEPT 64

/* The untried addresses of one lookup, in the order it gave them. */
struct queue {
    csock_addrinfo *items;
    size_t count, next;
};

/* One connect under way, and its socket. Its memory goes with its watch's (release_attempt): at
 * the end of the pass that removed it, or once the stream it became took its registration over. */
struct attempt {
    csock_watch watch; /* first: the watch's release frees the attempt */
    csock_connecting *c;
    csock s; /* fd -1 once closed, or once the connection is the caller's */
    csock_addr addr;
    struct attempt *next;
};

static void release_attempt(csock_watch *w)
{
    csock__loop_give(w->loop, CSOCK__CACHE_ATTEMPT, w);
}

struct csock_connecting {
    csock_loop *loop;
    csock_connect_cb cb;
    const csock_stream_handler *handler; /* the stream variant's, else NULL */
    void *data;
    csock_connecting *prev, *next; /* the loop's */
    csock_addr source;
    int family, sequential;
    int64_t delay_ns;
    int64_t next_at_ns; /* while an attempt is under way, the next waits until then */
    /* [0] IPv6 (or the one lookup), [1] IPv4 */
    csock_resolve *lookup[2];
    struct queue q[2];
    /* A numeric or Unix address needs no lookup: its one item, queued at the end of the pass
     * that asked (on the loop's ready list meanwhile). */
    csock_addrinfo one;
    int waiting_ready;
    unsigned ready_round; /* the loop's round of starts when queued */
    csock_connecting *next_ready;
    int turn; /* the queue the next attempt comes from first */
    struct attempt *attempts;
    csock_timer *deadline, *delay, *resolution_delay;
    /* For the failure's message: what was tried (TRIED_SIZE bytes, made at the first failure),
     * and the last attempt's parts. */
    char *tried;
    size_t ntried, cut;
    int rc, connect_rc;
    const char *why;
    csock_addr last_addr;
    int lookup_rc; /* a failed lookup's code */
    /* TLS (the stream variant's): the context (a reference held), the name, and when the one
     * deadline ends (0: none), which the handshake must keep too. */
    csock_tls_context *tls;
    char *server_name;
    int64_t end_ns;
    int port;
    int kept; /* c is a block of the loop's (its host fits in HOST_KEPT bytes) */
    char host[];
};

struct loop_connects {
    csock__extension ext;
    csock_connecting *first;
    csock__hook hook;                     /* starts the ready ones at the end of a pass */
    csock_connecting *ready, *ready_tail; /* needing no lookup, in the order asked */
    unsigned round;                       /* how many times the hook has run */
};

/* ---- the loop's list ---- */

static void free_connecting(csock_connecting *c);

/* Drops the loop's connects without calling back (csock_loop_free's): their lookups are the
 * resolver's to drop. */
static void free_connects(csock_loop *loop, csock__extension *ext)
{
    struct loop_connects *lc = (struct loop_connects *)ext;
    (void)loop;
    lc->ready = lc->ready_tail = NULL;
    while (lc->first) {
        csock_connecting *c = lc->first;
        lc->first = c->next;
        c->lookup[0] = c->lookup[1] = NULL;
        c->waiting_ready = 0;
        free_connecting(c);
    }
    free(lc);
}

static void pump(csock_connecting *c);

/* The hook: queues the one address of each connect that needed no lookup, and starts it. Those
 * asked for meanwhile (by the callbacks this runs) wait for the next pass. Each is taken off the
 * list as it starts: a callback may cancel one still waiting. */
static int start_ready(csock_loop *loop, csock__hook *hook)
{
    (void)loop;
    struct loop_connects *lc =
        (struct loop_connects *)(void *)((char *)hook - offsetof(struct loop_connects, hook));
    unsigned round = ++lc->round;
    csock_connecting *c;
    while ((c = lc->ready) && c->ready_round != round) {
        lc->ready = c->next_ready;
        if (!lc->ready) lc->ready_tail = NULL;
        c->waiting_ready = 0;
        c->q[0].items = &c->one;
        /* As a lookup's answer is taken: of the source's family only. */
        c->q[0].count = !c->source.len || c->one.family == c->source.ss.ss_family;
        pump(c); /* may finish c, and start or cancel others */
    }
    return 0;
}

static void unready(struct loop_connects *lc, csock_connecting *c)
{
    csock_connecting **at = &lc->ready, *prev = NULL;
    while (*at != c)
        prev = *at, at = &(*at)->next_ready;
    *at = c->next_ready;
    if (lc->ready_tail == c) lc->ready_tail = prev;
    c->waiting_ready = 0;
}

static struct loop_connects *connects_of(csock_loop *loop)
{
    struct loop_connects *lc =
        (struct loop_connects *)csock__loop_find_extension(loop, csock_loop_connect);
    if (lc) return lc;
    if (!(lc = calloc(1, sizeof *lc))) return NULL;
    lc->ext.free = free_connects;
    lc->ext.key = csock_loop_connect;
    csock__loop_add_extension(loop, &lc->ext);
    lc->hook.run = start_ready;
    csock__loop_add_hook(loop, &lc->hook);
    return lc;
}

static void unlink_connecting(csock_connecting *c)
{
    struct loop_connects *lc =
        (struct loop_connects *)csock__loop_find_extension(c->loop, csock_loop_connect);
    if (c->prev)
        c->prev->next = c->next;
    else
        lc->first = c->next;
    if (c->next) c->next->prev = c->prev;
}

/* ---- the message ---- */

/* Adds an item to the list of what was tried, "; " between items; a list too long for its
 * buffer ends with " ..." rather than being cut silently. */
static void note(csock_connecting *c, const char *item)
{
    if (c->cut) return;
    if (!c->tried && !(c->tried = calloc(1, TRIED_SIZE))) {
        c->cut = 1; /* the message says what failed last, without the list */
        return;
    }
    size_t used = strlen(c->tried), room = TRIED_SIZE - used;
    int n = snprintf(c->tried + used, room, "%s%s", used ? "; " : "", item);
    if (n < 0 || (size_t)n + 5 > room) {
        c->tried[used] = '\0';
        snprintf(c->tried + used, room, " ...");
        c->cut = 1;
    }
}

/* Notes a failed attempt: "addr: reason" for its connect, else another step's whole message. */
static void note_failure(csock_connecting *c, const csock_addr *addr, int rc, int connecting,
                         const char *why)
{
    char where[CSOCK_ADDRSTRLEN], item[CSOCK_ADDRSTRLEN + 256];
    c->ntried++;
    c->rc = rc;
    c->connect_rc = connecting ? rc : 0;
    c->why = why;
    c->last_addr = *addr;
    if (connecting)
        snprintf(item, sizeof item, "%s: %s%s", csock__addr_text(addr, where), csock_strerror(rc),
                 why ? why : "");
    note(c, connecting ? item : csock_lasterror());
}

/* Records the failure's message: "connect host:port: " and the list, or for one address tried
 * the words csock_connect uses ("connect localhost:9 (127.0.0.1:9): Connection refused"). */
static void record_failure(csock_connecting *c)
{
    char asked[CSOCK_ADDRSTRLEN];
    csock__hostport_text(c->host, c->port, asked, sizeof asked);
    if (c->ntried == 0 && c->rc != CSOCK_ETIMEOUT) {
        if (c->lookup_rc && !(c->source.len && c->lookup_rc == CSOCK_EAI_ADDRFAMILY)) {
            csock__failf(c->lookup_rc, "connect %s: %s", asked, csock_strerror(c->lookup_rc));
            c->rc = c->lookup_rc;
        } else {
            /* The name has addresses, none of the source's family (asked for alone). */
            char src[CSOCK_ADDRSTRLEN];
            c->rc = CSOCK_EADDRNOTAVAIL;
            csock__failf(c->rc, "connect %s: no address of the source address's family (%s)", asked,
                         csock__addr_text(&c->source, src));
        }
        return;
    }
    if (c->ntried == 0) {
        csock_addr numeric;
        int named = !csock_unix_path(c->host) && csock__numeric_host(&numeric, c->host, 0) != 0;
        csock__failf(c->rc, "connect %s: timed out%s", asked, named ? " resolving the name" : "");
        return;
    }
    /* One address: the words csock_connect uses, also when the timeout ended it. */
    if (c->ntried == 1 && c->connect_rc < 0) {
        char addr[CSOCK_ADDRSTRLEN];
        const char *why = c->why ? c->why : "";
        csock__addr_text(&c->last_addr, addr);
        if (strcmp(addr, asked) == 0)
            csock__failf(c->rc, "connect %s: %s%s", asked, csock_strerror(c->rc), why);
        else
            csock__failf(c->rc, "connect %s (%s): %s%s", asked, addr, csock_strerror(c->rc), why);
        return;
    }
    csock__failf(c->rc, "connect %s: %s", asked, c->tried ? c->tried : csock_strerror(c->rc));
}

/* ---- the end ---- */

static void close_attempt(struct attempt *a)
{
    if (a->s.fd >= 0) csock_close(&a->s);
    csock_watch_remove(&a->watch); /* frees a, now or at the end of the pass */
}

static void free_connecting(csock_connecting *c)
{
    if (c->waiting_ready)
        unready((struct loop_connects *)csock__loop_find_extension(c->loop, csock_loop_connect), c);
    csock_resolve_cancel(c->lookup[0]);
    csock_resolve_cancel(c->lookup[1]);
    csock_timer_cancel(c->deadline);
    csock_timer_cancel(c->delay);
    csock_timer_cancel(c->resolution_delay);
    while (c->attempts) {
        struct attempt *a = c->attempts;
        c->attempts = a->next;
        close_attempt(a);
    }
    if (c->q[0].items != &c->one) free(c->q[0].items);
    free(c->q[1].items);
    free(c->tried);
    if (c->tls) csock__client_tls_release(c->tls);
    free(c->server_name);
    if (c->kept)
        csock__loop_give(c->loop, CSOCK__CACHE_CONNECT, c);
    else
        free(c);
}

/* The stream of s, a connected socket of the caller's object, for c: TLS when c asks for it,
 * its handshake within what is left of the deadline; a plain one takes the descriptor as it is
 * (csock_stream_connect checked the handler). NULL with a recorded failure, s left open. */
static csock_stream *stream_of(csock_connecting *c, csock *s)
{
    if (!c->tls) {
        unsigned kind = CSOCK__ADOPT_BYTES | (csock__is_tcp(s) ? CSOCK__ADOPT_TCP : 0);
        csock_stream *st = csock__stream_adopt(c->loop, s->fd, c->handler, c->data, kind);
        if (st) csock_detach(s);
        return st;
    }
    double limit = 0;
    if (c->end_ns) {
        int64_t left = c->end_ns - csock__loop_now_ns(c->loop);
        limit = left > 1000000 ? (double)left / 1e9 : 0.001; /* it ends at the next pass */
    }
    csock *own = csock__new(s->fd, s->family, s->type, s->protocol, s->timeout_ns);
    if (!own) return NULL;
    own->peer = s->peer;
    csock_stream *st = csock__stream_new_tls_within(c->loop, own, c->tls, c->server_name,
                                                    c->handler, c->data, limit);
    if (st)
        s->fd = -1; /* own, freed, had it */
    else
        csock_detach(own), csock_free(own);
    return st;
}

/* Ends c with s connected (an object of the caller's, whose descriptor this takes), or with the
 * failure c holds: everything else is closed first, then the callback runs, and c is freed. */
static void finish(csock_connecting *c, csock *s)
{
    csock_loop *loop = c->loop;
    unlink_connecting(c);
    csock_connect_cb cb = c->cb;
    const csock_stream_handler *handler = c->handler;
    void *data = c->data;
    if (!s) record_failure(c);
    int rc = s ? 0 : c->rc;
    if (!handler) {
        csock__loop_end_hand_over(loop); /* the socket is the user's */
        csock *own = NULL;
        if (s && !(own = csock__new(s->fd, s->family, s->type, s->protocol, s->timeout_ns))) {
            rc = csock_lastcode();
            csock_close(s);
        }
        if (own) own->peer = s->peer;
        free_connecting(c);
        cb(loop, own, rc, data);
        return;
    }
    /* The stream is made before c is freed (it reads c's TLS settings), after c has left the
     * loop's list: a plain stream's on_open runs at once. It takes the attempt's registration. */
    csock_stream *st = s ? stream_of(c, s) : NULL;
    csock__loop_end_hand_over(loop);
    if (s && !st) {
        rc = csock_lastcode();
        csock_close(s);
    }
    free_connecting(c);
    if (st) return;
    if (handler->on_close) handler->on_close(NULL, rc, data);
}

/* ---- attempts ---- */

static void unlink_attempt(struct attempt *a)
{
    struct attempt **at = &a->c->attempts;
    while (*at != a)
        at = &(*at)->next;
    *at = a->next;
}

static void trace_connect(const csock_addr *addr, int rc)
{
    if (csock__tracing()) {
        char where[CSOCK_ADDRSTRLEN];
        csock__trace("connect %s -> %s", csock__addr_text(addr, where), csock__result_text(rc));
    }
}

/* An attempt's socket became writable or readable: it connected, or failed. A failed connect is
 * reported as an error and a hang-up (its socket is closed), which the loop gives as readable
 * too: a socket only writable connected, and SO_ERROR is asked only otherwise (a peer that wrote
 * at once, or a failure). */
static void on_ready(csock_loop *loop, csock_watch *w, int events, void *data)
{
    struct attempt *a = data;
    csock_connecting *c = a->c;
    (void)loop, (void)w;
    int err = 0;
    socklen_t len = sizeof err;
    int rc = events == CSOCK_WRITE                                       ? 0
             : getsockopt(a->s.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ? csock__errno()
                                                                         : -err;
    const char *why = NULL;
    if (rc == 0 && csock__reached_itself(&a->s, &a->addr)) {
        rc = CSOCK_ECONNREFUSED;
        why = csock__reached_itself_text;
    }
    trace_connect(&a->addr, rc);
    unlink_attempt(a);
    if (rc == 0) {
        csock s = a->s;
        a->s.fd = -1;
        s.peer = a->addr;
        csock__watch_hand_over(&a->watch); /* to the stream, if one is made */
        close_attempt(a);
        finish(c, &s);
        return;
    }
    note_failure(c, &a->addr, rc, 1, why);
    close_attempt(a);
    /* A failure starts the next attempt at once. */
    csock_timer_cancel(c->delay);
    c->delay = NULL;
    c->next_at_ns = 0;
    pump(c);
}

/* Starts an attempt on item. Returns 1 when it is under way (also when it connected at once:
 * its watch finishes it in the next pass), 0 when it failed at once (noted). */
static int start_attempt(csock_connecting *c, const csock_addrinfo *item)
{
    struct attempt *a = csock__loop_take(c->loop, CSOCK__CACHE_ATTEMPT, sizeof *a);
    int rc = !a ? csock__failf(CSOCK_ENOMEM, "connect: out of memory")
                : csock__socket_init(&a->s, item->family, SOCK_STREAM, item->protocol, 0);
    if (rc == 0 && c->source.len) rc = csock_bind_addr(&a->s, &c->source);
    if (rc == 0) {
        /* An interrupted TCP connect goes on in the background; an interrupted AF_UNIX one is
         * abandoned, so it is made again. */
        do
            rc = connect(a->s.fd, (const struct sockaddr *)&item->addr.ss, item->addr.len) < 0
                     ? csock__errno()
                     : 0;
        while (rc == CSOCK_EINTR && item->family == AF_UNIX);
        /* A Unix socket connects or fails at once; a full backlog there is CSOCK_EAGAIN, a failed
         * attempt (the header says why it is not retried). */
        int under_way = rc == 0 || rc == CSOCK_EINPROGRESS || rc == CSOCK_EINTR;
        if (!under_way) {
            trace_connect(&item->addr, rc);
            note_failure(c, &item->addr, rc, 1, NULL);
            csock_close(&a->s);
            csock__loop_give(c->loop, CSOCK__CACHE_ATTEMPT, a);
            return 0;
        }
        rc = csock__loop_attach(c->loop, &a->watch, a->s.fd, CSOCK_READ | CSOCK_WRITE, on_ready, a,
                                release_attempt);
    }
    if (rc < 0) {
        note_failure(c, &item->addr, rc, 0, NULL);
        if (a && a->s.fd >= 0) csock_close(&a->s);
        csock__loop_give(c->loop, CSOCK__CACHE_ATTEMPT, a);
        return 0;
    }
    /* Kept in the order started, for the message. */
    a->c = c;
    a->addr = item->addr;
    struct attempt **at = &c->attempts;
    while (*at)
        at = &(*at)->next;
    *at = a;
    return 1; /* a connect done at once is writable at once: on_ready finishes it */
}

/* The next untried address, families taking turns (IPv6 first), or NULL. */
static const csock_addrinfo *next_address(csock_connecting *c)
{
    for (int i = 0; i < 2; i++) {
        struct queue *q = &c->q[c->turn ^ i];
        if (q->next < q->count) {
            c->turn = (c->turn ^ i) ^ 1;
            return &q->items[q->next++];
        }
    }
    return NULL;
}

static void on_delay(csock_loop *loop, csock_timer *t, void *data)
{
    csock_connecting *c = data;
    (void)loop, (void)t;
    c->delay = NULL;
    pump(c);
}

static void on_resolution_delay(csock_loop *loop, csock_timer *t, void *data)
{
    csock_connecting *c = data;
    (void)loop, (void)t;
    c->resolution_delay = NULL;
    pump(c);
}

static int has_next(const csock_connecting *c)
{
    return c->q[0].next < c->q[0].count || c->q[1].next < c->q[1].count;
}

/* Starts what may start now: an attempt when none is under way, or (Happy Eyeballs) when the
 * attempt delay since the last has passed; fails c when nothing is left to wait for. The delay's
 * timer is made only when an address waits for it: a name of one address needs none. */
static void pump(csock_connecting *c)
{
    while (!c->resolution_delay && !c->delay && !(c->sequential && c->attempts) && has_next(c)) {
        int64_t wait = c->attempts ? c->next_at_ns - csock__loop_now_ns(c->loop) : 0;
        if (wait > 0) {
            c->delay = csock_loop_call_later(c->loop, (double)wait / 1e9, on_delay, c);
            if (!c->delay) c->sequential = 1; /* no memory for a timer: one at a time */
            continue;
        }
        if (start_attempt(c, next_address(c)))
            c->next_at_ns = csock__loop_now_ns(c->loop) + c->delay_ns;
    }
    if (!c->attempts && !c->lookup[0] && !c->lookup[1] && !c->resolution_delay &&
        c->q[0].next == c->q[0].count && c->q[1].next == c->q[1].count)
        finish(c, NULL);
}

static void on_deadline(csock_loop *loop, csock_timer *t, void *data)
{
    csock_connecting *c = data;
    (void)loop, (void)t;
    c->deadline = NULL;
    char where[CSOCK_ADDRSTRLEN], item[CSOCK_ADDRSTRLEN + 32];
    size_t noted = 0;
    for (struct attempt *a = c->attempts; a; a = a->next) {
        snprintf(item, sizeof item, "%s: %s", csock__addr_text(&a->addr, where),
                 csock_strerror(CSOCK_ETIMEOUT));
        c->ntried++;
        noted++;
        c->last_addr = a->addr;
        note(c, item);
    }
    for (int i = 0; i < 2; i++)
        for (size_t j = c->q[i].next; j < c->q[i].count; j++) {
            snprintf(item, sizeof item, "%s: not tried, timed out",
                     csock__addr_text(&c->q[i].items[j].addr, where));
            c->ntried++;
            noted++;
            c->last_addr = c->q[i].items[j].addr;
            note(c, item);
        }
    c->why = NULL;
    c->rc = CSOCK_ETIMEOUT;
    /* When the one address noted is the deadline's, the message names it as csock_connect does. */
    c->connect_rc = c->ntried == 1 && noted == 1 ? CSOCK_ETIMEOUT : 0;
    finish(c, NULL);
}

/* ---- lookups ---- */

/* Whether addr is queued already: glibc, for one, gives 127.0.0.1 twice for an IPv4 lookup of a
 * name that /etc/hosts lists as both ::1 and 127.0.0.1. */
static int queued_before(const csock_connecting *c, const csock_addr *addr)
{
    for (int i = 0; i < 2; i++)
        for (size_t j = 0; j < c->q[i].count; j++)
            if (c->q[i].items[j].addr.len == addr->len &&
                memcmp(&c->q[i].items[j].addr.ss, &addr->ss, addr->len) == 0)
                return 1;
    return 0;
}

/* Queues the addresses of a lookup's answer that are new and of the source's family. */
static void take_addresses(csock_connecting *c, struct queue *q, const csock_addrlist *list)
{
    q->items = malloc((list->count ? list->count : 1) * sizeof *q->items);
    if (!q->items) {
        c->lookup_rc = CSOCK_ENOMEM;
        return;
    }
    for (size_t i = 0; i < list->count; i++) {
        const csock_addrinfo *item = &list->items[i];
        if (c->source.len && item->family != c->source.ss.ss_family) continue;
        if (c->family && item->family != c->family) continue;
        if (queued_before(c, &item->addr)) continue;
        q->items[q->count++] = *item;
    }
}

static void on_resolved(csock_connecting *c, int which, csock_addrlist *list, int error)
{
    c->lookup[which] = NULL;
    if (list) {
        take_addresses(c, &c->q[which], list);
        csock_freeaddrinfo(list);
    } else if (!c->lookup_rc || which == 1) {
        c->lookup_rc = error;
    }
    int attempted = c->ntried || c->attempts;
    if (which == 1 && c->lookup[0] && !attempted && c->q[1].count) {
        /* The A answer came first: the AAAA one gets the resolution delay. */
        c->resolution_delay = csock_loop_call_later(c->loop, (double)RESOLUTION_DELAY_NS / 1e9,
                                                    on_resolution_delay, c);
        if (c->resolution_delay) return; /* else (no memory for a timer) no delay */
    }
    if (which == 0 && c->resolution_delay) {
        csock_timer_cancel(c->resolution_delay);
        c->resolution_delay = NULL;
    }
    pump(c);
}

static void on_aaaa(csock_loop *loop, csock_addrlist *list, int error, void *data)
{
    (void)loop;
    on_resolved(data, 0, list, error);
}

static void on_a(csock_loop *loop, csock_addrlist *list, int error, void *data)
{
    (void)loop;
    on_resolved(data, 1, list, error);
}

/* ---- the calls ---- */

static csock_connecting *start(csock_loop *loop, const char *host, int port,
                               const csock_connect_options *opts, csock_connect_cb cb,
                               const csock_stream_handler *handler, void *data)
{
    csock_connect_options o = {0};
    if (opts) o = *opts;
    int64_t timeout_ns = 0, delay_ns = ATTEMPT_DELAY_NS;
    if (!loop || (!cb && !handler)) {
        csock__failf(CSOCK_EINVAL, "connect: NULL %s", !loop ? "loop" : "callback");
        return NULL;
    }
    if (!host || !*host) {
        csock__failf(CSOCK_EINVAL, "connect: no host to connect to");
        return NULL;
    }
    if (o.timeout != 0 &&
        csock__seconds_ns(o.timeout, CSOCK__TIMEOUT_ZERO, "connect: timeout", &timeout_ns) < 0)
        return NULL;
    if (o.attempt_delay != 0 &&
        csock__seconds_ns(o.attempt_delay, CSOCK__DELAY, "connect: attempt_delay", &delay_ns) < 0)
        return NULL;
    if (delay_ns < ATTEMPT_DELAY_MIN_NS) delay_ns = ATTEMPT_DELAY_MIN_NS;
    if (delay_ns > ATTEMPT_DELAY_MAX_NS) delay_ns = ATTEMPT_DELAY_MAX_NS;
    if (o.family != 0 && o.family != AF_INET && o.family != AF_INET6) {
        csock__failf(CSOCK_EINVAL, "connect: family %d: 0, AF_INET or AF_INET6", o.family);
        return NULL;
    }
    if (o.source.len && csock__addr_check(&o.source, "connect source") < 0) return NULL;
    int unix_host = csock_unix_path(host) != NULL;
    if (o.tls && !handler) {
        csock__failf(CSOCK_EINVAL, "connect: tls is for csock_stream_connect (wrap the socket "
                                   "csock_loop_connect gives with csock_tls_wrap_client)");
        return NULL;
    }
    const char *server_name = o.server_name ? o.server_name : unix_host ? NULL : host;
    csock_addr numeric;
    if ((!unix_host && (port < 0 || port > 65535)) ||
        (unix_host && csock__lookup(&numeric, host, port, o.family ? o.family : AF_UNIX,
                                    SOCK_STREAM, 0, "connect") < 0)) {
        if (!unix_host) {
            char where[CSOCK_ADDRSTRLEN];
            csock__failf(CSOCK_EINVAL, "connect %s: port out of range (0-65535)",
                         csock__hostport_text(host, port, where, sizeof where));
        }
        return NULL;
    }
    size_t n = strlen(host);
    int kept = n < HOST_KEPT;
    csock_connecting *c = kept ? csock__loop_take(loop, CSOCK__CACHE_CONNECT, sizeof *c + HOST_KEPT)
                               : calloc(1, sizeof *c + n + 1);
    if (c) c->loop = loop, c->kept = kept;
    struct loop_connects *lc = c ? connects_of(loop) : NULL;
    if (c && o.tls && server_name && !(c->server_name = strdup(server_name))) lc = NULL;
    if (!lc) {
        if (c) free_connecting(c);
        csock__failf(CSOCK_ENOMEM, "connect: out of memory");
        return NULL;
    }
    if (o.tls) {
        char where[CSOCK_ADDRSTRLEN], op[CSOCK_ADDRSTRLEN + 16];
        snprintf(op, sizeof op, "connect %s",
                 csock__hostport_text(host, port, where, sizeof where));
        if (csock__client_tls_hold(o.tls, server_name, op) < 0) {
            free_connecting(c);
            return NULL;
        }
        c->tls = o.tls;
    }
    memcpy(c->host, host, n + 1);
    c->cb = cb;
    c->handler = handler;
    c->data = data;
    c->port = port;
    c->source = o.source;
    c->family = o.family;
    c->sequential = o.sequential;
    c->delay_ns = delay_ns;
    int is_numeric = !unix_host && csock__numeric_host(&numeric, host, port) == 0;
    /* One lookup when the answer needs none, is for one family, or comes in order. */
    int one = unix_host || is_numeric || o.sequential || o.family ||
              (o.source.len && o.source.ss.ss_family != AF_UNSPEC);
    int family = o.family ? o.family : o.source.len ? o.source.ss.ss_family : 0;
    if (unix_host) family = 0;
    /* An address that needs no lookup is the one item of its queue (a numeric one of another
     * family than asked for goes to the lookup, whose error says so). */
    int direct = unix_host || (is_numeric && (!o.family || o.family == numeric.ss.ss_family));
    int asked = 0;
    if (direct) {
        int f = numeric.ss.ss_family;
        c->one = (csock_addrinfo){f, SOCK_STREAM, f == AF_UNIX ? 0 : IPPROTO_TCP, numeric};
        c->waiting_ready = 1;
        c->ready_round = lc->round;
        c->next_ready = NULL;
        if (lc->ready_tail)
            lc->ready_tail->next_ready = c;
        else
            lc->ready = c;
        lc->ready_tail = c;
        csock__loop_hook_due(loop, &lc->hook);
        asked = 1;
    } else if (one) {
        c->lookup[0] = csock_loop_resolve(loop, host, port, family, on_aaaa, c);
        asked = c->lookup[0] != NULL;
    } else {
        c->lookup[0] = csock_loop_resolve(loop, host, port, AF_INET6, on_aaaa, c);
        c->lookup[1] = c->lookup[0] ? csock_loop_resolve(loop, host, port, AF_INET, on_a, c) : NULL;
        asked = c->lookup[1] != NULL;
    }
    if (timeout_ns > 0) c->end_ns = csock__loop_now_ns(loop) + timeout_ns;
    if (timeout_ns > 0 && asked)
        c->deadline = csock_loop_call_later(loop, (double)timeout_ns / 1e9, on_deadline, c);
    if (!asked || (timeout_ns > 0 && !c->deadline)) {
        int rc = csock_lastcode();
        free_connecting(c);
        csock__failf(rc, "connect: %s", csock_strerror(rc));
        return NULL;
    }
    c->next = lc->first;
    if (lc->first) lc->first->prev = c;
    lc->first = c;
    return c;
}

csock_connecting *csock_loop_connect(csock_loop *loop, const char *host, int port,
                                     const csock_connect_options *opts, csock_connect_cb cb,
                                     void *data)
{
    if (!cb) {
        csock__failf(CSOCK_EINVAL, "connect: NULL callback");
        return NULL;
    }
    return start(loop, host, port, opts, cb, NULL, data);
}

csock_connecting *csock_stream_connect(csock_loop *loop, const char *host, int port,
                                       const csock_connect_options *opts,
                                       const csock_stream_handler *handler, void *data)
{
    if (!handler || !handler->on_data) {
        csock__failf(CSOCK_EINVAL, "connect: %s", !handler ? "NULL handler" : "no on_data");
        return NULL;
    }
    /* Checked here, once: the stream is made of the connected descriptor with no more checks. */
    if (csock__stream_check_handler(handler) < 0) return NULL;
    return start(loop, host, port, opts, NULL, handler, data);
}

void csock_connect_cancel(csock_connecting *c)
{
    if (!c) return;
    unlink_connecting(c);
    free_connecting(c);
}
