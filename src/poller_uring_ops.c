/* SPDX-License-Identifier: MIT */
/* The io_uring backend's completions: operations the layers above start (a stream's multishot
 * receive, a server's multishot accept), named to the kernel by tokens of slot and generation,
 * and the loop's ring of provided buffers the receives fill. */
#include "poller_uring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The loop's provided buffers: page-sized, as the read buffer of readiness streams is filled a
 * page at a time. Their count bounds what every stream of the loop may have received and not yet
 * handled; a receive that finds none left ends (ENOBUFS) and its stream starts it again once the
 * pass has given them back. A variable only so that tests can make the ring small. */
unsigned csock__uring_buffers = 256;
#define BUF_SIZE  4096
#define BUF_GROUP 0

static uint64_t op_token(unsigned slot, unsigned gen)
{
    return OP_TAG | (uint64_t)slot << 32 | gen;
}

static struct slot *slot_of(csock__poller *p, uint64_t token)
{
    unsigned i = (unsigned)(token >> 32 & 0x3fffffff);
    struct slot *s = i < p->slot_cap ? &p->slots[i] : NULL;
    return s && s->state != SLOT_FREE && s->gen == (unsigned)token ? s : NULL;
}

static void free_slot(csock__poller *p, struct slot *s)
{
    s->state = SLOT_FREE;
    s->op = NULL;
    s->next = p->free_slot;
    p->free_slot = (unsigned)(s - p->slots);
}

/* Gives a buffer a completion used back to the ring, with the next wait. */
static void give_back(csock__poller *p, unsigned flags)
{
    if (flags & IORING_CQE_F_BUFFER)
        p->returns[p->return_count++] = flags >> IORING_CQE_BUFFER_SHIFT;
}

/* Puts the buffers given back since the last wait in the ring, with one store of its tail. */
void csock__uring_return_buffers(csock__poller *p)
{
    if (!p->return_count) return;
    unsigned mask = p->buf_count - 1;
    for (unsigned i = 0; i < p->return_count; i++) {
        unsigned bid = p->returns[i];
        /* Field by field: the ring's tail is the first entry's last field (resv), and writing
         * that entry whole would set the tail to 0 while the kernel may be reading it (then it
         * takes stale entries for buffers: a receive into a buffer of length 0 completes with 0,
         * which reads as the peer's end of file). */
        struct io_uring_buf *b = &p->buf_ring->bufs[p->buf_tail++ & mask];
        b->addr = (uint64_t)(uintptr_t)(p->buffers + (size_t)bid * BUF_SIZE);
        b->len = BUF_SIZE;
        b->bid = (unsigned short)bid;
    }
    __atomic_store_n(&p->buf_ring->tail, (unsigned short)p->buf_tail, __ATOMIC_RELEASE);
    p->return_count = 0;
}

/* Linux's version from uname, as major * 1000 + minor (0 when unreadable). */
static int kernel_version(void)
{
    struct utsname u;
    int major = 0, minor = 0;
    if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2) return 0;
    return major * 1000 + minor;
}

/* Finds out which kinds this kernel completes: the opcodes its probe lists, the multishot flags
 * by version (a probe cannot tell them: multishot accept came in 5.19, multishot receive in 6.0),
 * and a ring of provided buffers registered (5.19). Where one is missing, that kind is not
 * offered and its users stay on readiness, on this same ring. Completions are asked for with
 * CSOCK_URING_COMPLETIONS=1; without it the ring serves readiness only (docs/design.md says why).
 */
void csock__uring_probe(csock__poller *p)
{
    const char *env = getenv("CSOCK_URING_COMPLETIONS");
    if (!env || strcmp(env, "1") != 0) return;
    size_t probe_size = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
    struct io_uring_probe *probe = calloc(1, probe_size);
    if (!probe) return;
    int probed = syscall(SYS_io_uring_register, p->fd, IORING_REGISTER_PROBE, probe, 256) == 0;
    int version = kernel_version();
#define HAS(op) (probed && probe->last_op >= (op) && (probe->ops[op].flags & IO_URING_OP_SUPPORTED))
    int recv = HAS(IORING_OP_RECV) && HAS(IORING_OP_ASYNC_CANCEL) && version >= 6000;
    p->can[CSOCK__OP_ACCEPT] =
        HAS(IORING_OP_ACCEPT) && HAS(IORING_OP_ASYNC_CANCEL) && version >= 5019;
#undef HAS
    free(probe);
    unsigned count = csock__uring_buffers;
    if (!recv || count < 1 || count > 32768 || (count & (count - 1))) return;
    p->buf_ring_size = (count * sizeof(struct io_uring_buf) + 4095) & ~(size_t)4095;
    void *ring =
        mmap(NULL, p->buf_ring_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p->buffers = ring == MAP_FAILED ? NULL : aligned_alloc(4096, (size_t)count * BUF_SIZE);
    p->returns = p->buffers ? malloc(count * sizeof *p->returns) : NULL;
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)ring, .ring_entries = count, .bgid = BUF_GROUP};
    if (!p->returns ||
        syscall(SYS_io_uring_register, p->fd, IORING_REGISTER_PBUF_RING, &reg, 1) != 0) {
        if (ring != MAP_FAILED) munmap(ring, p->buf_ring_size);
        free(p->buffers);
        free(p->returns);
        p->buffers = NULL;
        p->returns = NULL;
        return;
    }
    p->buf_ring = ring;
    p->buf_count = count;
    for (unsigned i = 0; i < count; i++)
        p->returns[i] = i;
    p->return_count = count;
    csock__uring_return_buffers(p);
    p->can[CSOCK__OP_RECV] = 1;
}

int csock__uring_completes(const csock__poller *p, int kind)
{
    return p->can[kind];
}

int csock__uring_start(csock__poller *p, csock__op *op, int kind, int fd)
{
    if (p->free_slot == NO_SLOT) {
        unsigned cap = p->slot_cap ? p->slot_cap * 2 : 64;
        struct slot *slots = cap < (1u << 30) ? realloc(p->slots, cap * sizeof *slots) : NULL;
        if (slots) p->slots = slots;
        unsigned *starts = slots ? realloc(p->starts, cap * sizeof *starts) : NULL;
        if (!starts) return csock__failf(CSOCK_ENOMEM, "loop: fd %d: out of memory", fd);
        p->starts = starts;
        for (unsigned i = p->slot_cap; i < cap; i++)
            slots[i] = (struct slot){.next = i + 1 < cap ? i + 1 : NO_SLOT};
        p->free_slot = p->slot_cap;
        p->slot_cap = cap;
    }
    unsigned i = p->free_slot;
    struct slot *s = &p->slots[i];
    p->free_slot = s->next;
    s->gen = s->gen + 1 ? s->gen + 1 : 1;
    s->state = SLOT_PENDING;
    s->op = op;
    s->kind = (unsigned char)kind;
    s->fd = fd;
    /* Submitted by the next wait, as polls are: by the thread that waits. */
    if (!s->listed) p->starts[p->start_count++] = i;
    s->listed = 1;
    op->token = op_token(i, s->gen);
    op->busy = 1;
    op->stopping = 0;
    return 0;
}

/* Queues the operations started since the last wait. */
int csock__uring_queue_starts(csock__poller *p)
{
    unsigned done = 0;
    int rc = 0;
    for (; done < p->start_count; done++) {
        unsigned i = p->starts[done];
        struct slot *s = &p->slots[i];
        if (s->state != SLOT_PENDING) { /* stopped before it went */
            s->listed = 0;
            continue;
        }
        struct io_uring_sqe sqe = {.fd = s->fd, .user_data = op_token(i, s->gen)};
        if (s->kind == CSOCK__OP_RECV) {
            sqe.opcode = IORING_OP_RECV;
            sqe.flags = IOSQE_BUFFER_SELECT;
            sqe.buf_group = BUF_GROUP;
            sqe.ioprio = IORING_RECV_MULTISHOT;
        } else {
            sqe.opcode = IORING_OP_ACCEPT;
            sqe.ioprio = IORING_ACCEPT_MULTISHOT;
            sqe.accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
        }
        rc = csock__uring_queue_sqe(p, &sqe);
        if (rc < 0) {
            rc = csock__failf(rc, "loop: start fd %d: io_uring_enter: %s", s->fd,
                              csock_strerror(rc));
            break; /* this one and the rest stay listed for the next wait */
        }
        s->listed = 0;
        s->state = SLOT_ACTIVE;
    }
    p->start_count -= done;
    if (p->start_count) memmove(p->starts, p->starts + done, p->start_count * sizeof *p->starts);
    return rc;
}

void csock__uring_stop(csock__poller *p, csock__op *op, int detach)
{
    struct slot *s = slot_of(p, op->token);
    if (!s) return;
    if (s->state == SLOT_PENDING) { /* never went to the kernel: nothing will complete */
        free_slot(p, s);            /* the list to submit skips it */
        op->busy = 0;
        op->stopping = 0;
        op->token = 0;
        return;
    }
    /* Cancelled by token, which only this operation has: a descriptor closed and reused since
     * cannot be hit. A failure means it had ended, and its last completion is on its way. */
    if (!op->stopping)
        csock__uring_queue(p, IORING_OP_ASYNC_CANCEL, -1, op->token, 0, 0, IOSQE_CQE_SKIP_SUCCESS,
                           0);
    op->stopping = 1;
    if (detach) {
        s->op = NULL; /* the slot stays taken until its last completion: see take_op */
        op->busy = 0;
        op->token = 0;
    }
}

/* Drops the completion of a detached operation: a connection a multishot accept took for it is
 * closed (nothing else knows of the descriptor). */
static void drop(csock__poller *p, struct slot *s, const struct io_uring_cqe *cqe)
{
    if (s->kind == CSOCK__OP_ACCEPT && cqe->res >= 0) close(cqe->res);
    if (!(cqe->flags & IORING_CQE_F_MORE)) free_slot(p, s);
}

/* Takes in an operation's completion: for the loop, or dropped when its operation was detached.
 * Returns 0, or -1 when the completions fetched are as many as a wait hands over. */
int csock__uring_take(csock__poller *p, const struct io_uring_cqe *cqe)
{
    if (p->done_count == FETCH_MAX) return -1;
    give_back(p, cqe->flags); /* the bytes stay there until the pass is over */
    struct slot *s = slot_of(p, cqe->user_data);
    if (!s) return 0;
    if (!s->op) {
        drop(p, s, cqe);
        return 0;
    }
    p->done[p->done_count++] =
        (csock__ready){.events = cqe->res, .flags = cqe->flags, .token = cqe->user_data};
    return 0;
}

csock__op *csock__uring_claim(csock__poller *p, const csock__ready *r, const char **data, int *more)
{
    struct slot *s = slot_of(p, r->token);
    *more = (r->flags & IORING_CQE_F_MORE) != 0;
    if (!s) return NULL;
    csock__op *op = s->op;
    if (!op) { /* detached since it was fetched */
        if (s->kind == CSOCK__OP_ACCEPT && r->events >= 0) close(r->events);
        if (!*more) free_slot(p, s);
        return NULL;
    }
    if (!*more) free_slot(p, s);
    *data = r->flags & IORING_CQE_F_BUFFER
                ? p->buffers + (size_t)(r->flags >> IORING_CQE_BUFFER_SHIFT) * BUF_SIZE
                : NULL;
    if (!*more) {
        op->busy = 0;
        op->stopping = 0;
        op->token = 0;
    }
    return op;
}

/* Before the ring goes: every operation still in the kernel is cancelled, and its last completion
 * waited for (briefly: a cancellation completes at once), so that no receive can still be writing
 * into a buffer when the buffers are freed. */
void csock__uring_move_ops(csock__poller *p)
{
    for (unsigned i = 0; i < p->slot_cap; i++) {
        struct slot *s = &p->slots[i];
        if (s->state == SLOT_ACTIVE && s->op && !s->op->stopping)
            csock__uring_queue(p, IORING_OP_ASYNC_CANCEL, -1, op_token(i, s->gen), 0, 0,
                               IOSQE_CQE_SKIP_SUCCESS, 0);
    }
}

void csock__uring_drain(csock__poller *p)
{
    int active = 0;
    for (unsigned i = 0; i < p->slot_cap; i++) {
        struct slot *s = &p->slots[i];
        if (s->state != SLOT_ACTIVE) continue;
        s->op = NULL;
        csock__uring_queue(p, IORING_OP_ASYNC_CANCEL, -1, op_token(i, s->gen), 0, 0,
                           IOSQE_CQE_SKIP_SUCCESS, 0);
        active++;
    }
    for (int tries = 0; active > 0 && tries < 100; tries++) {
        struct __kernel_timespec ts = {0, 10 * 1000000};
        struct io_uring_getevents_arg arg = {.ts = (uint64_t)(uintptr_t)&ts};
        int rc = csock__uring_enter(p, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg);
        if (rc < 0 && rc != CSOCK_EINTR && rc != -ETIME && rc != CSOCK_EBUSY) break;
        unsigned head = *p->cq_head, tail = __atomic_load_n(p->cq_tail, __ATOMIC_ACQUIRE);
        for (; head != tail; head++) {
            const struct io_uring_cqe *cqe = &p->cqes[head & p->cq_mask];
            struct slot *s = cqe->user_data & OP_TAG ? slot_of(p, cqe->user_data) : NULL;
            if (!s) continue;
            if (!(cqe->flags & IORING_CQE_F_MORE)) active--;
            drop(p, s, cqe);
        }
        __atomic_store_n(p->cq_head, head, __ATOMIC_RELEASE);
    }
}

void csock__uring_free_ops(csock__poller *p)
{
    if (p->buf_ring) munmap(p->buf_ring, p->buf_ring_size);
    free(p->buffers);
    free(p->returns);
    free(p->slots);
    free(p->starts);
}
