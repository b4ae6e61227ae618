/* SPDX-License-Identifier: MIT */
/* csock streams: a connected socket on a loop, with buffered reading, a bounded write queue and
 * framing, in the spirit of asyncio's streams without coroutines.
 *
 * A handler (usually a static const struct) says what to do when bytes arrive, when the peer
 * ends its side, when a full write queue drains, and when the stream closes; its zero fields
 * mean "the default". Inside on_data, take what you can use with the read functions (a line,
 * exactly n bytes, a length-prefixed frame, or everything); what you leave stays buffered for
 * the next on_data, up to max_buffer bytes. Writes go out at once when the socket takes them and
 * are queued (copied) otherwise, up to max_queue bytes; nothing is ever dropped silently.
 *
 * Lifetime: on_close is the last callback; the stream must not be used once it returns (it is
 * freed then, or once it has lingered: see csock_stream_close). Closing is always
 * deferred to the end of the loop's pass, so a stream stays valid (and its data readable) for the
 * rest of the callback that closed it, and on_close never runs inside another callback. All
 * functions are for the loop's thread. */
#ifndef CSOCK_STREAM_H
#define CSOCK_STREAM_H

#include <csock/loop.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct csock_stream csock_stream;
typedef struct csock_tls_context csock_tls_context; /* <csock/tls.h> */

typedef struct csock_stream_handler {
    /* Called once when the stream starts: by csock_stream_new before it returns, or by a server
     * for each connection it accepts. On TLS (csock_stream_new_tls, a server with a TLS
     * context) once the handshake is done, on the loop; again after csock_stream_start_tls's
     * handshake. NULL: nothing to do. */
    void (*on_open)(csock_stream *st, void *data);
    /* Bytes arrived (also once more at end of file if some are still unread). Required. */
    void (*on_data)(csock_stream *st, void *data);
    /* The peer ended its side (end of file; csock_stream_at_eof is true). NULL: close once the
     * write queue has drained. */
    void (*on_end)(csock_stream *st, void *data);
    /* The write queue fell to low_water after a write had filled it to high_water: write again.
     * NULL: nothing to do. */
    void (*on_drain)(csock_stream *st, void *data);
    /* The stream closed: error is 0 after csock_stream_close (or the default end of file), or
     * why it closed: CSOCK_ETIMEOUT (idle or total deadline, or close_timeout with bytes still
     * queued), CSOCK_EMSGSIZE (max_buffer bytes unread), CSOCK_ESHUTDOWN (a server's stop),
     * CSOCK_ECONNRESET and other socket errors, CSOCK_ENOMEM. The socket is still open during
     * the call; after it the socket is closed (or lingers, unseen, until the peer's end) and the
     * stream must not be used again. NULL: nothing to do. */
    void (*on_close)(csock_stream *st, int error, void *data);

    size_t max_buffer;    /* unread bytes held at most (the longest line or frame); 0: 64 KiB */
    size_t high_water;    /* queued bytes at which a write returns 1 and reading pauses until
                             the queue drains to low_water (see keep_reading); 0: 64 KiB */
    size_t low_water;     /* 0: high_water / 4 */
    size_t max_queue;     /* queued bytes at most: a write that would pass it fails with
                             CSOCK_ENOBUFS and queues nothing; 0: 4 * high_water (no limit when
                             that would pass SIZE_MAX) */
    double idle_timeout;  /* seconds without a byte read or written before the stream closes with
                             CSOCK_ETIMEOUT (checked every 1/8 of it, at most every second); 0:
                             none. Each timeout is 0 or positive up to 2^31 s (68 years) */
    double total_timeout; /* seconds from the start before it closes with CSOCK_ETIMEOUT; 0: none */
    double close_timeout; /* seconds a graceful close may take at most, from csock_stream_close
                             (or a server's shutdown) to the socket's close: sending what is
                             queued (past it: on_close(CSOCK_ETIMEOUT), the rest dropped), then
                             lingering (see csock_stream_close); 0: 5 s */
    int keep_reading;     /* nonzero: reading goes on while the queue is at high water, for a
                             relay whose two directions are independent (if both ends paused
                             reading while their queues were full, both would wait forever);
                             the handler then bounds what it queues itself. 0: reading pauses,
                             so a peer that sends without reading cannot grow the queue */
} csock_stream_handler;

/* Puts a connected stream socket on loop. On success the stream owns the socket (s is freed; the
 * descriptor is closed with the stream) and handler->on_open has run; *handler must stay valid as
 * long as the stream. data is the stream's user data (csock_stream_data). Returns the stream, or
 * NULL leaving s untouched: CSOCK_EINVAL (NULL argument, no on_data, a socket that is not a
 * stream, low_water above high_water, high_water above max_queue, a timeout that is negative,
 * NaN, infinite or over 2^31 s: "stream: idle_timeout nan: a timeout is 0 (none) or positive up
 * to 2^31 s"), CSOCK_EINVAL for a listening socket ("stream: a listening socket (accept its
 * connections, then make streams of them)"), CSOCK_ENOTCONN for a socket never connected
 * ("stream: socket is not connected (getpeername: Transport endpoint is not connected)"; one
 * csock_connect started, done or under way, counts as connected), CSOCK_EBADF (closed socket),
 * CSOCK_ENOMEM or the loop's error. */
csock_stream *csock_stream_new(csock_loop *loop, csock *s, const csock_stream_handler *handler,
                               void *data);

/* Puts a connected stream socket on loop as a TLS stream of ctx: a client's (server_name as for
 * csock_tls_wrap_client: sent as SNI and checked against the certificate; NULL only with the
 * host name check or verification off) or a server's (server_name NULL), by ctx's side. The
 * handshake runs on the loop; handler->on_open runs once it is done, so the stream is returned
 * before that. Writes made meanwhile are queued and go out encrypted after it. A handshake that
 * fails closes the stream: on_close (with no on_open before it) gets CSOCK_ETLSVERIFY (the
 * message, as csock_lasterror reads it in on_close, "verify localhost:4433: certificate has
 * expired"), CSOCK_ETLS ("tls handshake 127.0.0.1:5000: wrong version number (the peer does not
 * seem to speak TLS)"), CSOCK_ETLSEOF, a socket error, or CSOCK_ETIMEOUT when the context's
 * handshake timeout (csock_tls_context_set_handshake_timeout, 10 s by default) passes first
 * ("tls handshake 127.0.0.1:5000: timed out before the handshake was done").
 *
 * Everything a stream does works as on a plain one: reading, watermarks, lines and frames,
 * deadlines. Plaintext that TLS has decrypted already is delivered without waiting for the
 * socket (also after a pause). csock_stream_shutdown sends close_notify, then ends the writing
 * direction; a graceful close sends close_notify once the queue has drained (and lingers as a
 * plain stream does); csock_stream_abort sends none. An end of the peer's stream without
 * close_notify is CSOCK_ETLSEOF for on_close ("stream recv 127.0.0.1:5000: the peer ended
 * without close_notify (what it sent may be cut short)") unless ctx takes ragged ends
 * (csock_tls_context_set_ragged_eof); what came before the end is delivered first. Returns the
 * stream, or NULL leaving s untouched: as csock_stream_new, and CSOCK_EINVAL for a context that
 * cannot serve (as csock_tls_wrap_client and csock_tls_wrap_server refuse it) or a socket that
 * speaks TLS already; CSOCK_EOPNOTSUPP where csock was built without OpenSSL ("stream tls: csock
 * was built without OpenSSL 3: TLS is not available"). */
csock_stream *csock_stream_new_tls(csock_loop *loop, csock *s, csock_tls_context *ctx,
                                   const char *server_name, const csock_stream_handler *handler,
                                   void *data);

/* Upgrades a plain stream to TLS in place (STARTTLS): the handshake of ctx's side starts on the
 * loop, and what is queued now still goes out plain first. Until the handshake is done nothing
 * is read (on_data does not run) and writes are queued; then handler (NULL: the stream's own)
 * takes over, and its on_open runs. A failed handshake closes the stream as for
 * csock_stream_new_tls. Call it when the protocol says TLS starts, typically from on_data right
 * after taking the line that asked for it. Returns 0, or CSOCK_EINVAL with nothing changed: NULL
 * stream or context, a stream that is TLS already, a context that cannot serve, a bad handler,
 * or input read past the upgrade point ("stream start_tls: 5 bytes were read past the upgrade
 * point (the peer sent them before the handshake; they are not TLS and would be lost or taken
 * for it)": a peer may not send before it has the answer, and bytes it did are not mixed into
 * the handshake), or a stream that receives by io_uring completions ("stream start_tls: the
 * stream receives by io_uring completions, ...": its receive may have taken bytes past the
 * upgrade point; streams read by readiness unless CSOCK_URING_COMPLETIONS=1 asks otherwise);
 * CSOCK_EPIPE for a stream closing, shut down or at its end; CSOCK_EOPNOTSUPP
 * without OpenSSL. (On a blocking csock socket, csock_tls_wrap_client and csock_tls_wrap_server
 * are the upgrade: a socket holds no bytes of its own.) */
int csock_stream_start_tls(csock_stream *st, csock_tls_context *ctx, const char *server_name,
                           const csock_stream_handler *handler);

/* The TLS version of a TLS stream whose handshake is done ("TLSv1.3"), else NULL. Static text. */
const char *csock_stream_tls_version(const csock_stream *st);

/* The server name of a TLS stream whose handshake is done: a client's, as given; a server's, the
 * SNI the client sent. NULL when there is none, or the stream is not TLS. Valid while the stream
 * is. */
const char *csock_stream_tls_server_name(const csock_stream *st);

/* The cipher suite of a TLS stream whose handshake is done ("TLS_AES_256_GCM_SHA384"), else
 * NULL. Static text. */
const char *csock_stream_tls_cipher(const csock_stream *st);

/* The ALPN protocol a TLS stream's handshake agreed on ("h2"; csock_tls_context_set_alpn), or
 * NULL when none was, the handshake is not done, or the stream is not TLS. Valid while the
 * stream is. */
const char *csock_stream_tls_alpn(const csock_stream *st);

/* Returns 1 if a TLS stream's handshake resumed an earlier session (a client context with a
 * session cache, csock_tls_context_set_session_cache; a server resumes by itself), else 0 (also
 * before the handshake is done, and for a stream that is not TLS). */
int csock_stream_tls_session_reused(const csock_stream *st);

/* Writes the subject of the peer's certificate of a TLS stream whose handshake is done, as RFC
 * 2253 text ("O=csock test,CN=localhost", as csock_tls_peer_subject), into buf (size bytes, NUL
 * included). Returns its length, or CSOCK_ENOENT (the peer sent none: a client its server did
 * not ask for one), CSOCK_ENOSPC (it does not fit: "stream tls peer subject 127.0.0.1:50312: 40
 * bytes of text (its NUL included) do not fit in 16"), with buf "" after either, or CSOCK_EINVAL
 * (not a TLS stream whose handshake is done, NULL buf), CSOCK_EOPNOTSUPP where csock was built
 * without OpenSSL. */
int csock_stream_tls_peer_subject(const csock_stream *st, char *buf, size_t size);

/* Copies the peer's certificate of a TLS stream whose handshake is done, DER-encoded, into buf
 * (size bytes); with buf NULL and size 0 it only says how long it is. Returns its length, or
 * CSOCK_ENOENT (the peer sent none), CSOCK_ENOSPC (buf too small: "... : 812 bytes of DER do not
 * fit in 100"), CSOCK_EINVAL (not a TLS stream whose handshake is done, NULL buf with size above
 * 0), CSOCK_EOPNOTSUPP where csock was built without OpenSSL. */
int csock_stream_tls_peer_certificate(const csock_stream *st, unsigned char *buf, size_t size);

/* Queues len bytes of buf for the peer (sending at once what the socket takes). Returns 0, or 1
 * when the queue has reached high_water (stop writing until on_drain; reading is paused until
 * then), or a negative code with nothing queued: CSOCK_EINVAL (NULL stream, NULL buf with len
 * above 0, len over SSIZE_MAX: the stream goes on), CSOCK_ENOBUFS (the queue would pass
 * max_queue: "stream write: 100 bytes would pass the 1000-byte queue limit (950 queued): the peer
 * is not reading", or with nothing queued "stream write: 2000 bytes are more than the 1000-byte
 * queue limit (max_queue) allows, with nothing queued"), CSOCK_EPIPE (the stream is closing, or was
 * shut down for writing), CSOCK_ENOMEM (no memory to queue the bytes: the stream goes on if none of
 * them was sent, and closes with CSOCK_ENOMEM otherwise), a socket error (the stream then closes
 * with it: "stream write 127.0.0.1:41234: Connection reset by peer", the descriptor named instead
 * of a peer that has no name or is gone, "stream write fd 7: Broken pipe"). */
int csock_stream_write(csock_stream *st, const void *buf, size_t len);

/* Like csock_stream_write for several buffers at once, sent by one gathered system call when the
 * queue is empty. CSOCK_EINVAL ("stream writev: ...", nothing queued, the stream goes on) for
 * iovcnt below 0 or over IOV_MAX, a NULL iov with iovcnt above 0, a NULL buffer with a nonzero
 * length, or lengths adding up to more than SSIZE_MAX. */
int csock_stream_writev(csock_stream *st, const struct iovec *iov, int iovcnt);

/* Writes a frame: len as 4 bytes, big-endian, then len bytes of buf (the peer reads it with
 * csock_stream_read_frame). Returns as csock_stream_write, and CSOCK_EMSGSIZE for len over
 * 4 GiB - 1. */
int csock_stream_write_frame(csock_stream *st, const void *buf, size_t len);

/* Takes one line, up to and including "\n" (at end of file: the unterminated rest, if any).
 * *line points into the stream's buffer, valid until on_data returns; *len includes the "\n".
 * Returns 1 with a line, 0 when no whole line is buffered yet, or CSOCK_EMSGSIZE when max_buffer
 * bytes hold no "\n" (the line is too long; close the stream or take the bytes another way). */
int csock_stream_read_line(csock_stream *st, const char **line, size_t *len);

/* Takes exactly n bytes. Returns 1 with *p pointing at them (valid until on_data returns), 0
 * when fewer are buffered, or CSOCK_EMSGSIZE when n is over max_buffer. */
int csock_stream_read_exactly(csock_stream *st, size_t n, const char **p);

/* Takes one frame written as csock_stream_write_frame writes it. Returns 1 with *p and *len the
 * payload, 0 when the whole frame is not buffered yet, or CSOCK_EMSGSIZE when its announced
 * length (then in *len) does not fit in max_buffer, or when max_buffer is under 4 (no frame
 * fits; *len is left alone). */
int csock_stream_read_frame(csock_stream *st, const char **p, size_t *len);

/* Every unread byte, without taking it: returns how many, *p pointing at them. */
size_t csock_stream_peek(csock_stream *st, const char **p);

/* Takes n unread bytes (at most as many as there are). */
void csock_stream_consume(csock_stream *st, size_t n);

/* Stops (pause 1) or resumes (0) reading from the socket; the kernel buffers, then the peer
 * waits. Returns 0, or CSOCK_EPIPE for a closed stream. */
int csock_stream_pause(csock_stream *st, int pause);

/* Shuts the stream down for writing once the queue has drained (the peer reads end of file);
 * reading goes on. Returns 0, or CSOCK_EPIPE for a closed stream. */
int csock_stream_shutdown(csock_stream *st);

/* Closes gracefully, delivering everything queued. on_data runs no more, and what the peer still
 * sends is read and dropped; what is queued is sent; on_close(0) runs at the end of the pass in
 * which the queue drained, and the user never sees the stream again. If close_timeout passes
 * first (a peer that does not read), on_close gets CSOCK_ETIMEOUT and the rest is dropped.
 *
 * Then, unless the peer has ended its side, the stream lingers as HTTP servers do: closing a
 * TCP socket with unread input, or input arriving after the close, makes the kernel reset the
 * connection, and the peer then loses what it has not read yet. So when the peer may still be
 * sending (input was dropped or is waiting, or bytes of ours are not yet acknowledged), the
 * socket is shut down for writing (the peer reads end of file after the last byte), and input
 * is read and dropped until the peer's end of file, an error, or close_timeout after this call
 * at the latest; only then is the socket closed. Otherwise it is closed at once. All of it runs
 * on the loop without blocking it; a lingering stream costs its socket and 160 bytes, makes no
 * callback, and is freed with the loop if that comes first. Idempotent.
 *
 * This ends the connection for every holder of the socket (another process, after fork):
 * csock_stream_abort only lets go of the descriptor. */
void csock_stream_close(csock_stream *st);

/* Closes now, dropping whatever is still queued (csock_stream_queued says how much), without
 * lingering; on_close(0) runs at the end of the pass. Idempotent. */
void csock_stream_abort(csock_stream *st);

/* Bytes queued and not yet taken by the socket. */
size_t csock_stream_queued(const csock_stream *st);

/* Whether the peer has ended its side (end of file was read). */
int csock_stream_at_eof(const csock_stream *st);

/* The stream's user data, and a way to change it. */
void *csock_stream_data(const csock_stream *st);
void csock_stream_set_data(csock_stream *st, void *data);

/* The loop the stream is on, and its socket's descriptor (for getsockopt and the like; reading
 * or writing it directly bypasses the stream's buffers). */
csock_loop *csock_stream_loop(const csock_stream *st);
int csock_stream_fileno(const csock_stream *st);

/* The peer's address. Returns 0, or a negative code as csock_getpeername. */
int csock_stream_peername(const csock_stream *st, csock_addr *addr);

#ifdef __cplusplus
}
#endif

#endif /* CSOCK_STREAM_H */
