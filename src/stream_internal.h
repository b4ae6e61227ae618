/* SPDX-License-Identifier: MIT */
/* What stream.c (lifecycle, reading, writing) and stream_frame.c (lines, frames) share. */
#ifndef CSOCK_STREAM_INTERNAL_H
#define CSOCK_STREAM_INTERNAL_H

#include "loop_internal.h"

#include "csock/stream.h"

/* Bytes held by a stream: unread input, or output the socket has not taken yet. */
struct csock__buffer {
    char *data;
    size_t start, len, cap;
};

struct csock__buffers {
    struct csock__buffer in, out;
};

struct csock_stream {
    csock_watch watch; /* watch.data is the user's data; watch.fd the socket */
    const csock_stream_handler *handler;
    struct csock__buffers *bufs; /* NULL while nothing is held: an idle stream costs no buffers */
    csock_stream *next_closing;  /* in the loop's list of streams whose on_close is due */
    uint32_t last_io_ms;         /* the loop's clock in ms, for the idle deadline */
    uint32_t started_ms;         /* for the total deadline */
    uint32_t close_by_ms;        /* a graceful close ends by then at the latest */
    uint16_t state;              /* STREAM_* bits */
    int32_t error;               /* why it closes, for on_close: 0 or a CSOCK_E* code */
};

/* The bytes on_data is reading now: taken straight from the loop's read buffer when the stream
 * had nothing held, so that a handler that takes everything costs no copy. */
struct csock__view {
    csock_stream *stream;
    const char *data;
    size_t len, used;
};

/* A loop's state for its streams, made with the first one. */
struct csock__streams {
    char *scratch; /* where a stream with nothing held reads into */
    size_t scratch_size;
    struct csock__view view;
    csock_stream *closing, *closing_tail; /* on_close due at the end of the pass, in order */
    csock_timer *sweep;                   /* checks deadlines, while a stream has one */
    int64_t sweep_ns;                     /* its interval */
    /* Told after each stream's on_close (servers count their connections this way). */
    void (*closed)(csock_stream *st, void *context);
    void *closed_context;
};

/* The loop's stream state, made if needed; NULL with a recorded failure. */
struct csock__streams *csock__streams_of(csock_loop *loop);

/* Puts fd, a connected non-blocking stream socket, on loop as a stream (csock_stream_new without
 * the checks of a csock object). On failure fd is left open. */
csock_stream *csock__stream_adopt(csock_loop *loop, int fd, const csock_stream_handler *handler,
                                  void *data);

/* Validates a handler: 0 or a recorded CSOCK_EINVAL. */
int csock__stream_check_handler(const csock_stream_handler *handler);

/* Closes every stream on loop gracefully, as csock_stream_close does, with error for their
 * on_close; streams already closing keep their own course. */
void csock__streams_close_all(csock_loop *loop, int error);

/* Closes every stream on loop now, with error for their on_close (run at the end of the pass),
 * and ends every lingering one. */
void csock__streams_abort_all(csock_loop *loop, int error);

/* Whether loop has streams still open, closing or lingering. */
int csock__streams_open(const csock_loop *loop);

/* Writes a frame's prefix and payload, reporting failures as "stream write_frame". */
int csock__stream_write_frame(csock_stream *st, const struct iovec iov[2]);

/* Unread bytes of st: *p and the count. */
size_t csock__stream_unread(csock_stream *st, const char **p);

/* The handler's limits with the defaults applied. */
size_t csock__stream_max_buffer(const csock_stream *st);

/* Whether end of file was read. */
int csock__stream_eof(const csock_stream *st);

#endif /* CSOCK_STREAM_INTERNAL_H */
