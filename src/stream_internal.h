/* SPDX-License-Identifier: MIT */
/* What the stream files share: stream.c (the loop's stream state, creating, buffers, accessors),
 * stream_io.c (reading, writing, the watch's callback), stream_close.c (closing, lingering,
 * deadlines), stream_frame.c (lines, frames), and the small interface every transport
 * (stream_plain.c, stream_tls.c) implements. */
#ifndef CSOCK_STREAM_INTERNAL_H
#define CSOCK_STREAM_INTERNAL_H

#include "loop_internal.h"

#include "csock/stream.h"

#include <sys/types.h>
#include <sys/uio.h>

/* ---- the transport: one file each, chosen per stream ----
 *
 * How a stream's bytes reach the peer: a plain socket (stream_plain.c), or TLS (stream_tls.c). Each
 * function is one step of the data path and makes no system call a raw socket would not make;
 * none records a failure (the stream words its own). Each returns a count or 0 on success, or a
 * negative CSOCK_E* code: CSOCK_EINTR when a signal came before anything moved (call again),
 * CSOCK_EAGAIN when nothing can move now, with *wants set to the readiness that lets the call go
 * on (CSOCK_READ or CSOCK_WRITE), or another code, the connection's failure. A plain socket
 * always wants the call's own direction, which is what the stream watches for today; TLS may
 * want to write to read (SSL_read wanting write) or read to write (SSL_write wanting read), and
 * comes with the stream watching for what *wants names. */
struct csock__transport {
    const char *name;
    /* Reads up to len bytes into buf. Returns how many, 0 at the peer's end of file. */
    ssize_t (*read)(csock_stream *st, void *buf, size_t len, int *wants);
    /* Writes the iovcnt buffers of iov (1 to IOV_MAX, adding up to at most SSIZE_MAX bytes) by
     * one gathered call, never raising SIGPIPE. Returns how many bytes were taken (maybe part). */
    ssize_t (*writev)(csock_stream *st, const struct iovec *iov, int iovcnt, int *wants);
    /* Ends the writing direction: the peer reads end of file after the last byte. */
    int (*shutdown)(csock_stream *st);
    /* Whether closing now could lose bytes the connection still holds: input waiting unread, or
     * output the peer has not acknowledged. A closing stream then lingers (stream_close.c). */
    int (*unsettled)(csock_stream *st);
    /* Closes the connection; the stream's descriptor is not used again. A stream closed
     * gracefully (CSOCK__STREAM_DRAINED) tells the peer first where the protocol has a way to
     * (TLS's close_notify). */
    void (*close)(csock_stream *st);
    /* The rest are optional (NULL for a plain socket). */
    /* Goes on with opening the connection before any data moves (a TLS handshake): 0 once done,
     * CSOCK_EAGAIN with *wants, or a failure, recorded with its reason. */
    int (*open)(csock_stream *st, int *wants);
    /* Whether the transport holds input a read returns without the socket becoming readable
     * (TLS's decrypted plaintext, or records already read): the stream then reads again on its
     * own, since no readiness will come for it. */
    int (*pending)(const csock_stream *st);
    /* The reason for a code the last call returned, when the transport knows better than
     * csock_strerror ("the peer ended without close_notify"), or NULL. */
    const char *(*reason)(const csock_stream *st, int code);
    /* Tells the peer that the stream ends gracefully, before a close (TLS's close_notify): 0
     * once told (or when it never can be), CSOCK_EAGAIN to wait for the socket to be writable.
     * shutdown may return CSOCK_EAGAIN in the same way. */
    int (*notify)(csock_stream *st);
};

/* A connected stream socket as it is. */
extern const struct csock__transport csock__plain;

/* ---- streams ---- */

/* Bytes held by a stream: unread input, or output the socket has not taken yet. */
struct csock__buffer {
    char *data;
    size_t start, len, cap;
};

struct csock__buffers {
    struct csock__buffer in, out;
    /* Input received by completions while reading was off, not yet handed to on_data (at most
     * what the loop's provided buffers hold: stream_recv.c). */
    struct csock__buffer held;
};

/* The state bits of a stream. */
enum {
    CSOCK__STREAM_PAUSED = 1 << 0, /* the owner paused reading */
    /* The queue reached high water: reading waits for the drain, unless the handler keeps
     * reading. */
    CSOCK__STREAM_BACKED_UP = 1 << 1,
    CSOCK__STREAM_EOF = 1 << 2,        /* the peer ended its side */
    CSOCK__STREAM_SHUT = 1 << 3,       /* shut down for writing once drained */
    CSOCK__STREAM_SHUT_DONE = 1 << 4,  /* the transport's shutdown done */
    CSOCK__STREAM_CLOSING = 1 << 5,    /* close once drained */
    CSOCK__STREAM_CLOSED = 1 << 6,     /* on_close is due: no other callback runs */
    CSOCK__STREAM_DEADLINES = 1 << 7,  /* the handler has an idle or total deadline */
    CSOCK__STREAM_OWES_DRAIN = 1 << 8, /* a write returned 1: on_drain is owed */
    CSOCK__STREAM_DRAINED = 1 << 9,    /* closed gracefully, its queue sent: may linger */
    CSOCK__STREAM_DROPPED = 1 << 10,   /* input arrived while closing and was dropped */
    /* on_close has run; reading and dropping until the peer's end. */
    CSOCK__STREAM_LINGERING = 1 << 11,
    CSOCK__STREAM_OPENING = 1 << 12, /* the transport's open (a handshake) is under way */
    /* The transport's last read wants the socket writable, or its last write wants it readable
     * (TLS: a record of the protocol's own must go out, or come in, first). */
    CSOCK__STREAM_READ_WANTS_WRITE = 1 << 13,
    CSOCK__STREAM_WRITE_WANTS_READ = 1 << 14,
    CSOCK__STREAM_PENDING = 1 << 15, /* in the loop's list of streams with input held */
    /* The transport's word of a graceful end (TLS's close_notify, for a close or a shutdown)
     * waits for room in the socket; the close or the shutdown goes on once it is out. */
    CSOCK__STREAM_NOTIFYING = 1 << 16,
    /* Receives by completions (stream_recv.c) rather than by readiness. */
    CSOCK__STREAM_COMPLETES = 1 << 17,
    /* Input received while reading was off, held for on_data until it is on again. */
    CSOCK__STREAM_HELD = 1 << 18,
    CSOCK__STREAM_EOF_HELD = 1 << 19, /* the peer's end came after held input */
    CSOCK__STREAM_LISTED = 1 << 20,   /* on the loop's list of streams with input held */
    CSOCK__STREAM_TCP = 1 << 21,      /* the socket is TCP's (csock__linger_needed asks less) */
    CSOCK__STREAM_SERVED = 1 << 22,   /* a server's connection (CSOCK__ADOPT_SERVED) */
};

/* What csock__stream_adopt is told of its socket. */
enum {
    /* SOCK_STREAM (not SOCK_SEQPACKET): its input may be received by completions where the loop
     * has them. */
    CSOCK__ADOPT_BYTES = 1 << 0,
    CSOCK__ADOPT_TCP = 1 << 1,    /* TCP's */
    CSOCK__ADOPT_SERVED = 1 << 2, /* a server's connection: the csock__streams_* calls below */
};

struct csock_stream {
    csock_watch watch; /* watch.data is the user's data; watch.fd the socket */
    const csock_stream_handler *handler;
    const struct csock__transport *transport;
    void *tls;                   /* the transport's own state (TLS's), or NULL */
    struct csock__buffers *bufs; /* NULL while nothing is held: an idle stream costs no buffers */
    csock_stream *prev, *next;   /* the loop's streams: open, closing or lingering */
    csock_stream *next_closing;  /* in the loop's list of streams whose on_close is due */
    csock_stream *next_pending;  /* in the loop's list of streams whose transport holds input */
    int64_t last_io_ns, started_ns; /* the loop's clock, for the idle and total deadlines */
    int64_t close_by_ns;            /* a graceful close ends by then at the latest */
    uint32_t state;                 /* CSOCK__STREAM_* bits */
    int32_t error;                  /* why it closes, for on_close: 0 or a CSOCK_E* code */
    csock__op recv;                 /* the multishot receive of a stream that completes */
    csock_stream *next_held;        /* in the loop's list of streams with input held */
    /* The message of error, kept from when it happened to on_close (the caller's own calls
     * meanwhile record theirs), or NULL. */
    char *message;
};

/* The bytes on_data is reading now: taken straight from the loop's read buffer when the stream
 * had nothing held, so that a handler that takes everything costs no copy. */
struct csock__view {
    csock_stream *stream;
    const char *data;
    size_t len, used;
};

/* A loop's state for its streams, made with the first one: the loop's extension. */
struct csock__streams {
    csock__extension ext; /* first: the loop frees the state through it */
    csock__hook closing_hook;
    char *scratch; /* where a stream with nothing held reads into */
    size_t scratch_size;
    struct csock__view view;
    csock_stream *all;                    /* every stream not yet let go of, newest first */
    csock_stream *closing, *closing_tail; /* on_close due at the end of the pass, in order */
    csock__hook pending_hook;             /* reads what transports hold (stream_io.c) */
    csock_stream *pending;                /* streams whose transport holds input */
    csock_timer *sweep;                   /* checks deadlines, while a stream has one */
    int64_t sweep_ns;                     /* its interval */
    /* A sweep at the time a handshake or close ends, when that comes before the next one. */
    csock_timer *soon;
    int64_t soon_ns;
    csock__hook held_hook; /* hands held input to on_data once reading is on again */
    csock_stream *held;    /* the streams with input held, while their reading was off */
    /* Told after each stream's on_close (servers count their connections this way). */
    void (*closed)(csock_stream *st, void *context);
    void *closed_context;
};

/* The loop's stream state, made if needed; NULL with a recorded failure. */
struct csock__streams *csock__streams_of(csock_loop *loop);

/* The stream whose watch w is (the watch is its first member). */
static inline csock_stream *csock__stream_of_watch(csock_watch *w)
{
    return (csock_stream *)w;
}

/* The state of a loop that has streams. */
static inline struct csock__streams *csock__streams(const csock_loop *loop)
{
    return (struct csock__streams *)csock__loop_extension(loop);
}

/* ---- for servers ---- */

/* Puts fd, a connected non-blocking stream socket, on loop as a stream (csock_stream_new without
 * the checks of a csock object); kind is CSOCK__ADOPT_* bits. On failure fd is left open. */
csock_stream *csock__stream_adopt(csock_loop *loop, int fd, const csock_stream_handler *handler,
                                  void *data, unsigned kind);

/* csock__stream_adopt with transport tr and its state (st->tls); only the plain transport's
 * byte streams receive by completions. With tr->open the stream opens
 * first (on_open runs once that is done; a failure closes it with its code), within timeout
 * seconds (CSOCK_ETIMEOUT). On failure fd is left open and the state is the caller's. */
csock_stream *csock__stream_adopt_with(csock_loop *loop, int fd,
                                       const csock_stream_handler *handler, void *data,
                                       const struct csock__transport *tr, void *tls, double timeout,
                                       unsigned kind);

/* csock_stream_new (loop, s and handler not NULL) with transport tr and its state, opening within
 * timeout seconds as csock__stream_adopt_with. On failure s and the state are the caller's. */
csock_stream *csock__stream_new_with(csock_loop *loop, csock *s,
                                     const csock_stream_handler *handler, void *data,
                                     const struct csock__transport *tr, void *tls, double timeout);

/* Starts st's transport's open (a new transport on a stream, as STARTTLS), within timeout
 * seconds: on_open runs again once it is done. Returns 0 or a recorded failure (none once
 * csock__stream_watch_open succeeded for timeout on the loop). */
int csock__stream_begin_open(csock_stream *st, double timeout);

/* Makes sure the loop checks opening deadlines of timeout seconds (stream_close.c). Returns 0 or
 * a recorded failure. */
int csock__stream_watch_open(csock_loop *loop, double timeout);

/* A server's connection on TLS context ctx (stream_tls.c): as csock__stream_adopt, the
 * handshake first. */
csock_stream *csock__stream_adopt_tls(csock_loop *loop, int fd, csock_tls_context *ctx,
                                      const csock_stream_handler *handler, void *data,
                                      unsigned kind);

/* A THREADS server's connection on TLS context ctx: the handshake, blocking, within the
 * context's handshake timeout; the socket's own timeout is then restored. Returns 0 or a
 * recorded failure. */
int csock__server_tls_handshake(csock *s, csock_tls_context *ctx);

/* Checks that ctx may serve: a server context with a certificate. Returns 0 or a recorded
 * failure (CSOCK_EINVAL, CSOCK_EOPNOTSUPP without TLS). */
int csock__server_tls_check(csock_tls_context *ctx);

/* Gives back the reference csock__server_tls_check took. */
void csock__server_tls_release(csock_tls_context *ctx);

/* Checks that ctx may be a client for server_name (a client's context; a name where it checks
 * names), naming op, and takes a reference (csock_stream_connect's, until it has made its
 * stream). Returns 0 or a recorded failure (CSOCK_EINVAL, CSOCK_EOPNOTSUPP without TLS). */
int csock__client_tls_hold(csock_tls_context *ctx, const char *server_name, const char *op);

/* Gives back the reference csock__client_tls_hold took. */
void csock__client_tls_release(csock_tls_context *ctx);

/* csock_stream_new_tls, its handshake within limit seconds as well as within the context's
 * handshake timeout (limit 0: the context's alone). */
csock_stream *csock__stream_new_tls_within(csock_loop *loop, csock *s, csock_tls_context *ctx,
                                           const char *server_name,
                                           const csock_stream_handler *handler, void *data,
                                           double limit);

/* Validates a handler: 0 or a recorded CSOCK_EINVAL. */
int csock__stream_check_handler(const csock_stream_handler *handler);

/* Has closed(st, context) called after the on_close of each stream on loop that a server took
 * (CSOCK__ADOPT_SERVED): the program's own streams on the same loop are not the server's.
 * Returns 0, or a recorded failure when the loop's stream state cannot be made. */
int csock__streams_on_close(csock_loop *loop, void (*closed)(csock_stream *st, void *context),
                            void *context);

/* Closes every stream on loop that a server took gracefully, as csock_stream_close does, with
 * error for their on_close; streams already closing keep their own course. */
void csock__streams_close_all(csock_loop *loop, int error);

/* Closes every stream on loop that a server took now, with error for their on_close (run at the
 * end of the pass), and ends every lingering one. */
void csock__streams_abort_all(csock_loop *loop, int error);

/* Whether loop has streams that a server took still open, closing or lingering. */
int csock__streams_open(const csock_loop *loop);

/* ---- between the stream files ---- */

/* The handler's limits with the defaults applied. */
size_t csock__stream_max_buffer(const csock_stream *st);
size_t csock__stream_high_water(const csock_stream_handler *h);
size_t csock__stream_low_water(const csock_stream_handler *h);
size_t csock__stream_max_queue(const csock_stream_handler *h);

/* A handler's timeout in nanoseconds (0: none), read by the library's rule for seconds; the
 * handler was checked before. */
int64_t csock__stream_ns(double seconds);

/* Whether end of file was read. */
int csock__stream_eof(const csock_stream *st);

/* The stream's buffers, made if needed; NULL when memory is short. */
struct csock__buffers *csock__stream_buffers(csock_stream *st);

/* Releases the buffers once both are empty: an idle stream holds no memory beyond itself. */
void csock__stream_trim(csock_stream *st);

/* Makes room for more bytes after the held ones, up to limit in all. Returns 0, or -1 when the
 * bytes would pass limit (or what an allocation can be) or memory is short. */
int csock__buffer_reserve(struct csock__buffer *b, size_t more, size_t limit);

/* Unread bytes of st: *p and the count. */
size_t csock__stream_unread(csock_stream *st, const char **p);

/* Records "stream <op>: the stream is closing or shut down" and returns CSOCK_EPIPE. */
int csock__stream_closed_error(const char *op);

/* Watches the socket for what the stream's state asks. */
void csock__stream_update_events(csock_stream *st);

/* ---- receiving by completions (stream_recv.c) ---- */

/* Makes st receive by completions if its loop can: a multishot receive into the loop's provided
 * buffers, started when the state asks for input and stopped when it does not. */
void csock__stream_use_completions(csock_stream *st);

/* Starts or stops the receive of a stream that completes, as reads says. */
void csock__stream_receive(csock_stream *st, int reads);

/* Lets go of the receive of a stream that completes: nothing more reaches it. */
void csock__stream_detach_receive(csock_stream *st);

/* The end-of-pass hook that hands held input to on_data. */
int csock__streams_held_pass(csock_loop *loop, csock__hook *hook);

/* Hands input to on_data (stream_io.c): data is the held input (held 1) or the loop's read
 * buffer or a provided buffer (held 0), whose leftover is then copied into the stream. */
void csock__stream_deliver(csock_stream *st, const char *data, size_t len, int held);

/* The peer's end of file: the last of the input, then on_end (or a close). */
void csock__stream_read_eof(csock_stream *st);

/* Notes that bytes moved, for the idle deadline; a stream without deadlines reads no clock. */
static inline void csock__stream_note_io(csock_stream *st)
{
    if (st->state & CSOCK__STREAM_DEADLINES) st->last_io_ns = csock__loop_now_ns(st->watch.loop);
}

/* Writes "127.0.0.1:41234" (or "fd 7" for a peer without a name) into buf. Returns buf. */
char *csock__stream_peer_text(const csock_stream *st, char buf[CSOCK_ADDRSTRLEN]);

/* Whether st reads now (not paused, not waiting for a drain, not at end of file). */
int csock__stream_reads(const csock_stream *st);

/* Puts st in the loop's list of streams whose transport holds input, if it is not yet. */
void csock__stream_note_pending(csock_stream *st);

/* The end-of-pass hook that reads what transports hold (stream_io.c). */
int csock__streams_pending_pass(csock_loop *loop, csock__hook *hook);

/* The open under way is done (0) or failed (a code): on_open, or the close. */
void csock__stream_opened(csock_stream *st, int rc);

/* The watch's callback: what the socket is ready for (stream_io.c). */
void csock__stream_io(csock_loop *loop, csock_watch *w, int events, void *data);

/* Writes a frame's prefix and payload, reporting failures as "stream write_frame". */
int csock__stream_write_frame(csock_stream *st, const struct iovec iov[2]);

/* Closes st for a socket error code met by op, and records "stream <op> <peer>: <reason>".
 * Returns code. */
int csock__stream_socket_error(csock_stream *st, int code, const char *op);

/* Marks st closed for the reason given and queues its on_close for the end of the pass. */
void csock__stream_finish(csock_stream *st, int error);

/* Ends st whose transport's open (a handshake) failed with rc: as csock__stream_finish, and the
 * stream then lingers (within close_timeout) if input is unread, so that the transport's last
 * word (a TLS alert) reaches the peer before the close. */
void csock__stream_fail_open(csock_stream *st, int rc);

/* A close whose queue has drained: it may linger. */
void csock__stream_finish_drained(csock_stream *st);

/* Shuts the transport down for writing; with end of file read too, nothing more can happen, and
 * the stream closes. */
void csock__stream_shut_down(csock_stream *st);

/* Reads and drops what the peer sends to a closing or lingering stream. Returns 1 when nothing
 * more is there for now, 0 at end of file, or a negative code. */
int csock__stream_drop_input(csock_stream *st);

/* Ends a lingering stream: its socket is closed and its memory freed. */
void csock__stream_end_linger(csock_stream *st);

/* Starts watching the deadlines of a new stream with handler h (stream_close.c). Returns 0 or a
 * recorded failure. */
int csock__stream_watch_deadlines(csock_loop *loop, const csock_stream_handler *h);

/* The end-of-pass hook of the loop's streams: runs the on_close callbacks due. */
int csock__streams_closing_pass(csock_loop *loop, csock__hook *hook);

#endif /* CSOCK_STREAM_INTERNAL_H */
