/* SPDX-License-Identifier: MIT */
/* What the io_uring backend's two files share: poller_uring.c (the rings, readiness by multishot
 * polls, the wait) and poller_uring_ops.c (completions: operations, provided buffers). */
#ifndef CSOCK_POLLER_URING_H
#define CSOCK_POLLER_URING_H

#include "loop_internal.h"

#include <linux/io_uring.h>

#define SQ_ENTRIES 256 /* queued changes per enter; more are submitted early (CQ: twice this) */
#define FETCH_MAX  256 /* watches reported per wait; the rest are reported by the next one */
#define FEATURES_NEEDED                                                                            \
    (IORING_FEAT_SINGLE_MMAP | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG | IORING_FEAT_CQE_SKIP)

/* Where a descriptor's poll is. */
enum { IDLE, PENDING, ARMED };

/* What the backend knows of one descriptor (the table is indexed by descriptor). */
struct entry {
    csock_watch *watch;   /* NULL: not watched */
    unsigned gen;         /* with the descriptor, names the current poll (never 0) */
    unsigned char state;  /* IDLE: no poll; PENDING: to arm at the next wait; ARMED */
    unsigned char ready;  /* CSOCK_READ | CSOCK_WRITE completed and not reported yet */
    unsigned char listed; /* on the ready list */
    unsigned char to_arm; /* on the list of polls to arm */
};

/* One operation's place in the table (poller_uring.c's completions): a token names the slot and
 * its generation. */
struct slot {
    csock__op *op;       /* NULL: detached (its completions are dropped) or free */
    unsigned gen;        /* bumped each time the slot is taken */
    unsigned char state; /* SLOT_FREE, SLOT_PENDING (to submit with the next wait), SLOT_ACTIVE */
    unsigned char kind;
    int fd;
    unsigned next;        /* the free list */
    unsigned char listed; /* on the list to submit */
};

enum { SLOT_FREE, SLOT_PENDING, SLOT_ACTIVE };

struct csock__poller {
    int fd;
    /* Completions: the operation table, the provided buffers and the kinds the kernel has. */
    struct slot *slots;
    unsigned slot_cap, free_slot;  /* the free list runs through slot.next; NO_SLOT ends it */
    unsigned *starts, start_count; /* slots to submit with the next wait */
    int can[2];                    /* CSOCK__OP_RECV, CSOCK__OP_ACCEPT */
    struct io_uring_buf_ring *buf_ring;
    char *buffers;
    unsigned buf_count, buf_tail, *returns, return_count;
    size_t buf_ring_size;
    csock__ready done[FETCH_MAX]; /* completions reaped, not yet handed to the loop */
    int done_count;
    /* The submission queue: the kernel's head, our tail, the index array, the entries. */
    unsigned *sq_head, *sq_tail, sq_mask, sq_entries, sq_pending;
    struct io_uring_sqe *sqes;
    /* The completion queue: our head, the kernel's tail. */
    unsigned *cq_head, *cq_tail, cq_mask;
    struct io_uring_cqe *cqes;
    void *ring;
    size_t ring_size, sqes_size;
    struct entry *entries;
    int *ready_list; /* descriptors whose entry is listed, in the order their readiness came */
    int *arm_list;   /* descriptors whose poll is to be armed by the next wait */
    size_t cap, ready_count, arm_count;
    pthread_t owner; /* the thread that waited last: the polls are its own */
    int owned;
    uint64_t checks[FETCH_MAX]; /* polls reported by the last wait, to re-poll before the next */
    int check_count;
};

#define NO_SLOT UINT32_MAX /* ends the free list of slots */

/* The provided buffers a new loop gets (a power of two up to 32768; another count: none, and
 * streams receive by readiness). A variable only so that tests can make the ring small. */
extern unsigned csock__uring_buffers;

/* Marks the user_data of an operation: OP_TAG | slot << 32 | generation. */
#define OP_TAG ((uint64_t)1 << 62)

/* ---- the rings (poller_uring.c) ---- */

/* io_uring_enter with what is queued: returns how many were submitted or a negative code. */
int csock__uring_enter(csock__poller *p, unsigned min_complete, unsigned flags,
                       const struct io_uring_getevents_arg *arg);
/* Queues one request (submitted by the next enter, or at once when the queue is full). */
int csock__uring_queue_sqe(csock__poller *p, const struct io_uring_sqe *request);
/* Queues a request of the shape polls and cancellations have. */
int csock__uring_queue(csock__poller *p, int op, int fd, uint64_t addr, unsigned len,
                       unsigned events, unsigned char flags, uint64_t user_data);

/* ---- completions (poller_uring_ops.c) ---- */

/* Finds out which kinds of operation the kernel completes, and sets up the provided buffers. */
void csock__uring_probe(csock__poller *p);
/* Frees what completions hold (after the ring is closed). */
void csock__uring_free_ops(csock__poller *p);
/* Puts the buffers the last pass used back in their ring. */
void csock__uring_return_buffers(csock__poller *p);
/* Queues the operations started since the last wait: 0 or a recorded failure. */
int csock__uring_queue_starts(csock__poller *p);
/* Takes in an operation's completion; -1 when the completions fetched are as many as a wait
 * hands over (it stays in the queue). */
int csock__uring_take(csock__poller *p, const struct io_uring_cqe *cqe);
/* Cancels every operation in the kernel, so that its owner starts it again from this thread. */
void csock__uring_move_ops(csock__poller *p);
/* Cancels every operation and waits (briefly) for their last completions. */
void csock__uring_drain(csock__poller *p);
/* The backend table's four functions for completions (csock__poller_ops). */
int csock__uring_completes(const csock__poller *p, int kind);
int csock__uring_start(csock__poller *p, csock__op *op, int kind, int fd);
void csock__uring_stop(csock__poller *p, csock__op *op, int detach);
csock__op *csock__uring_claim(csock__poller *p, const csock__ready *r, const char **data,
                              int *more);

#endif /* CSOCK_POLLER_URING_H */
