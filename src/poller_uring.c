/* SPDX-License-Identifier: MIT */
/* The io_uring backend's rings and readiness: the epoll backend's semantics (level-triggered,
 * paused watches silent, removal safe within a pass) on multishot polls, with one io_uring_enter
 * per pass that submits what changed and waits. Completions (operations the layers above start:
 * multishot receives and accepts) are in poller_uring_ops.c, and travel in the same enter.
 *
 * Raw system calls, not liburing: what a poller needs is three request shapes (poll add, poll
 * update, cancel) and the two rings, which take about a hundred lines. So the backend is always
 * built and always tested, and libcsock, its static archive, pkg-config file
 * and Debian packages gain no dependency. <linux/io_uring.h> comes with the kernel headers glibc's
 * own headers need. The two rings are shared with the kernel: their indices are read with acquire
 * and written with release ordering, as io_uring(7) prescribes.
 *
 * Level-triggered on multishot polls. A multishot poll posts a completion each time the file's
 * wait queue wakes it (new data, freed space), not while the descriptor stays ready, so alone it
 * is edge-triggered. A watch reported ready is therefore checked again before the next wait: its
 * poll is updated with the same events (IORING_POLL_UPDATE_EVENTS), which re-polls the file at
 * once and completes again if it is still ready (an update that cannot take, while a wake-up is
 * being handled, makes way for a new poll: see update()). That check travels in the next pass's one
 * io_uring_enter, so a level-triggered pass costs no more system calls than epoll_wait; a quiet
 * watch costs nothing. A multishot poll that ends (no IORING_CQE_F_MORE: an error, an overflowed
 * completion queue) is armed again if its watch still wants events. A paused watch has no poll
 * in the kernel at all.
 *
 * A completion names its watch by descriptor and generation (user_data = fd << 32 | gen), never by
 * address: completions for a poll removed or replaced (a removal's own is skipped,
 * IOSQE_CQE_SKIP_SUCCESS) may still arrive after its watch is freed, and are then recognised as
 * stale. A poll holds a reference to the open file, so a removal is submitted at once: the
 * descriptor the owner closes next then really closes.
 *
 * Only the loop's thread uses the ring, and only a thread that waits submits polls (removals and
 * changes may go from the thread that sets the loop up); other threads wake the loop through its
 * pipe, which is one more watch. No SQPOLL (a kernel thread spinning per loop). Needs Linux 5.17
 * (IORING_FEAT_CQE_SKIP; multishot poll came in 5.13, EXT_ARG timeouts in 5.11): elsewhere
 * creating fails and poller.c falls back to epoll. */
#include "poller_uring.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t poll_id(int fd, unsigned gen)
{
    return (uint64_t)(unsigned)fd << 32 | gen;
}

/* Marks the user_data of an update of poll_id's poll, whose failure comes back to it. */
#define UPDATE_OF ((uint64_t)1 << 63)

/* The generation after gen (never 0). */
static unsigned gen_after(unsigned gen)
{
    return gen + 1 ? gen + 1 : 1;
}

static unsigned next_gen(struct entry *e)
{
    return e->gen = gen_after(e->gen);
}

/* The poll mask of a watch's events: as the epoll backend asks, hang-ups and errors come anyway. */
static unsigned poll_mask(int events)
{
    return (events & CSOCK_READ ? POLLIN | POLLRDHUP : 0u) | (events & CSOCK_WRITE ? POLLOUT : 0u);
}

int csock__uring_enter(csock__poller *p, unsigned min_complete, unsigned flags,
                       const struct io_uring_getevents_arg *arg)
{
    long rc = syscall(SYS_io_uring_enter, p->fd, p->sq_pending, min_complete, flags, arg,
                      arg ? sizeof *arg : 0);
    if (rc < 0) return -errno;
    p->sq_pending -= (unsigned)rc;
    return (int)rc;
}

/* Submits what is queued, without waiting. */
static int flush(csock__poller *p)
{
    int rc = 0;
    while (p->sq_pending && (rc = csock__uring_enter(p, 0, 0, NULL)) == CSOCK_EINTR) {
    }
    return rc < 0 ? rc : 0;
}

/* Queues one request (submitted by the next enter, or at once when the queue is full). */
int csock__uring_queue_sqe(csock__poller *p, const struct io_uring_sqe *request)
{
    unsigned tail = *p->sq_tail;
    if (tail - __atomic_load_n(p->sq_head, __ATOMIC_ACQUIRE) == p->sq_entries) {
        int rc = flush(p);
        if (rc < 0) return rc;
    }
    p->sqes[tail & p->sq_mask] = *request;
    __atomic_store_n(p->sq_tail, tail + 1, __ATOMIC_RELEASE);
    p->sq_pending++;
    return 0;
}

/* Queues a request of the shape polls and cancellations have. */
int csock__uring_queue(csock__poller *p, int op, int fd, uint64_t addr, unsigned len,
                       unsigned events, unsigned char flags, uint64_t user_data)
{
    return csock__uring_queue_sqe(p, &(struct io_uring_sqe){.opcode = (unsigned char)op,
                                                            .flags = flags,
                                                            .fd = fd,
                                                            .addr = addr,
                                                            .len = len,
                                                            .poll32_events = events,
                                                            .user_data = user_data});
}

/* Marks the entry's poll to be armed by the next wait, so that only a thread that waits submits
 * polls. A poll's completions are posted by the thread that submitted it, as task work when it
 * next enters the kernel (IORING_SETUP_COOP_TASKRUN: it is not interrupted for them), so a poll
 * submitted by the thread that made the loop, and is now busy with something else, would complete
 * late. */
static void arm_later(csock__poller *p, int fd, struct entry *e)
{
    e->state = PENDING;
    if (!e->to_arm) {
        e->to_arm = 1;
        p->arm_list[p->arm_count++] = fd;
    }
}

/* Changes the events of the entry's poll, which also polls the file again at once, and moves it
 * to a new generation. A wake-up's completion carries the events of the wake-up, not of the file
 * when it is posted: one posted after the owner has read everything (it is posted when the loop
 * next enters the kernel, before this update is taken) would report a descriptor ready that is
 * not, where epoll would not. Under the new generation such completions are stale; the update's
 * own poll reports what is ready now. The update fails (EALREADY) while a wake-up of the poll is
 * being handled, and (ENOENT) when the poll has ended: complete() then replaces the poll. Its
 * failure names the generation it came from. */
static int update(csock__poller *p, int fd, struct entry *e, int events)
{
    uint64_t from = poll_id(fd, e->gen), to = poll_id(fd, next_gen(e));
    return csock__uring_queue_sqe(p, &(struct io_uring_sqe){.opcode = IORING_OP_POLL_REMOVE,
                                                            .flags = IOSQE_CQE_SKIP_SUCCESS,
                                                            .fd = -1,
                                                            .addr = from,
                                                            .off = to,
                                                            .len = IORING_POLL_UPDATE_EVENTS |
                                                                   IORING_POLL_UPDATE_USER_DATA |
                                                                   IORING_POLL_ADD_MULTI,
                                                            .poll32_events = poll_mask(events),
                                                            .user_data = from | UPDATE_OF});
}

/* Cancels the entry's poll; its completions from now on are stale. IORING_OP_ASYNC_CANCEL, not
 * IORING_OP_POLL_REMOVE: a poll removal fails (EALREADY) while a wake-up of the poll is being
 * handled, and the poll would then keep its file; a cancellation always takes. */
static int disarm(csock__poller *p, int fd, struct entry *e)
{
    int rc = 0;
    if (e->state == ARMED)
        rc = csock__uring_queue(p, IORING_OP_ASYNC_CANCEL, -1, poll_id(fd, e->gen), 0, 0,
                                IOSQE_CQE_SKIP_SUCCESS, 0);
    next_gen(e);
    e->state = IDLE;
    e->ready = 0;
    return rc;
}

static void unmap(csock__poller *p)
{
    if (p->ring && p->ring != MAP_FAILED) munmap(p->ring, p->ring_size);
    if (p->sqes && p->sqes != MAP_FAILED) munmap(p->sqes, p->sqes_size);
}

static int create(csock__poller **out, char *why, size_t size)
{
    csock__poller *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(why, size, "out of memory");
        return CSOCK_ENOMEM;
    }
    /* Completions are posted when the loop's thread enters the kernel anyway, rather than by
     * interrupting it (IORING_SETUP_COOP_TASKRUN, Linux 5.19; without it where refused). The
     * descriptor is close-on-exec: io_uring_setup always makes it so. */
    struct io_uring_params params = {.flags = IORING_SETUP_COOP_TASKRUN};
    p->fd = (int)syscall(SYS_io_uring_setup, SQ_ENTRIES, &params);
    if (p->fd < 0 && errno == EINVAL) {
        params = (struct io_uring_params){0};
        p->fd = (int)syscall(SYS_io_uring_setup, SQ_ENTRIES, &params);
    }
    int code = p->fd < 0 ? -errno : 0;
    if (code < 0) {
        snprintf(why, size, "io_uring_setup: %s", csock_strerror(code));
        free(p);
        return code;
    }
    if ((params.features & FEATURES_NEEDED) != FEATURES_NEEDED) {
        snprintf(why, size, "io_uring without IORING_FEAT_CQE_SKIP and EXT_ARG (Linux 5.17)");
        code = CSOCK_ENOSYS;
        goto fail;
    }
    /* One mapping holds both rings (IORING_FEAT_SINGLE_MMAP); the entries are a second one. */
    size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    p->ring_size = sq_size > cq_size ? sq_size : cq_size;
    p->sqes_size = params.sq_entries * sizeof(struct io_uring_sqe);
    p->ring = mmap(NULL, p->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, p->fd,
                   IORING_OFF_SQ_RING);
    p->sqes = p->ring == MAP_FAILED ? MAP_FAILED
                                    : mmap(NULL, p->sqes_size, PROT_READ | PROT_WRITE,
                                           MAP_SHARED | MAP_POPULATE, p->fd, IORING_OFF_SQES);
    if (p->sqes == MAP_FAILED) {
        code = -errno;
        snprintf(why, size, "io_uring mmap: %s", csock_strerror(code));
        goto fail;
    }
    char *ring = p->ring;
    p->sq_head = (unsigned *)(ring + params.sq_off.head);
    p->sq_tail = (unsigned *)(ring + params.sq_off.tail);
    p->sq_mask = *(unsigned *)(ring + params.sq_off.ring_mask);
    p->sq_entries = params.sq_entries;
    unsigned *array = (unsigned *)(ring + params.sq_off.array);
    for (unsigned i = 0; i < p->sq_entries; i++)
        array[i] = i; /* entry i of the queue is always request slot i */
    p->cq_head = (unsigned *)(ring + params.cq_off.head);
    p->cq_tail = (unsigned *)(ring + params.cq_off.tail);
    p->cq_mask = *(unsigned *)(ring + params.cq_off.ring_mask);
    p->cqes = (struct io_uring_cqe *)(ring + params.cq_off.cqes);
    p->free_slot = NO_SLOT;
    csock__uring_probe(p);
    *out = p;
    return 0;
fail:
    unmap(p);
    close(p->fd);
    free(p);
    return code;
}

static void destroy(csock__poller *p)
{
    if (!p) return;
    /* Cancelled first, so that the files the polls hold are let go now rather than when the
     * kernel tears the ring down in the background. */
    for (size_t fd = 0; fd < p->cap; fd++)
        disarm(p, (int)fd, &p->entries[fd]);
    csock__uring_drain(p);
    flush(p);
    unmap(p);
    close(p->fd);
    csock__uring_free_ops(p);
    free(p->entries);
    free(p->ready_list);
    free(p->arm_list);
    free(p);
}

static int grow(csock__poller *p, int fd)
{
    size_t cap = p->cap ? p->cap : 64;
    while (cap <= (size_t)fd)
        cap *= 2;
    struct entry *entries = realloc(p->entries, cap * sizeof *entries);
    if (entries) p->entries = entries;
    int *list = entries ? realloc(p->ready_list, cap * sizeof *list) : NULL;
    if (list) p->ready_list = list;
    int *arms = list ? realloc(p->arm_list, cap * sizeof *arms) : NULL;
    if (!arms) return csock__failf(CSOCK_ENOMEM, "loop: watch fd %d: out of memory", fd);
    p->arm_list = arms;
    memset(p->entries + p->cap, 0, (cap - p->cap) * sizeof *entries);
    p->cap = cap;
    return 0;
}

static int failed(int rc, const char *what, int fd)
{
    return csock__failf(rc, "loop: %s fd %d: io_uring_enter: %s", what, fd, csock_strerror(rc));
}

static int add(csock__poller *p, csock_watch *w, int events)
{
    if ((size_t)w->fd >= p->cap && grow(p, w->fd) < 0) return CSOCK_ENOMEM;
    struct entry *e = &p->entries[w->fd];
    if (e->watch) return CSOCK_EEXIST; /* the loop says so */
    e->watch = w;
    e->ready = 0;
    e->state = IDLE;
    if (events) arm_later(p, w->fd, e);
    return 0;
}

static int set(csock__poller *p, csock_watch *w, int events)
{
    struct entry *e = &p->entries[w->fd];
    e->watch = w; /* it may be taking the registration over */
    int rc = 0;
    if (!events)
        rc = disarm(p, w->fd, e);
    else if (e->state == ARMED)
        rc = update(p, w->fd, e, events);
    else
        arm_later(p, w->fd, e); /* armed with the watch's events as they are then */
    return rc < 0 ? failed(rc, "change", w->fd) : 0;
}

static void forget(csock__poller *p, csock_watch *w)
{
    struct entry *e = &p->entries[w->fd];
    disarm(p, w->fd, e);
    /* The owner may close the descriptor next: the poll (cancelled now, or by a pause still
     * queued) must let go of the file first, or the close would not close it. */
    if (p->sq_pending) flush(p);
    e->watch = NULL;
}

/* Takes in one completion: readiness for its entry, or the end of its poll. */
static void complete(csock__poller *p, const struct io_uring_cqe *cqe)
{
    if (!cqe->user_data) return; /* a cancellation that failed: its poll had ended */
    uint64_t id = cqe->user_data & ~UPDATE_OF;
    size_t fd = (size_t)(id >> 32);
    struct entry *e = fd < p->cap ? &p->entries[fd] : NULL;
    int res = cqe->res;
    if (cqe->user_data & UPDATE_OF) {
        /* An update that failed, from generation (unsigned)id. Unless it ended (ENOENT), that poll
         * is still in the kernel, holding its file: it is cancelled, whatever the entry became
         * since. If the entry is still where the update took it, it is armed afresh (a poll that
         * ended posted its last completion under the old generation, which was stale). */
        if (res != -ENOENT)
            csock__uring_queue(p, IORING_OP_ASYNC_CANCEL, -1, id, 0, 0, IOSQE_CQE_SKIP_SUCCESS, 0);
        if (e && e->watch && e->state == ARMED && e->gen == gen_after((unsigned)id)) {
            next_gen(e);
            e->state = IDLE;
            e->ready = 0;
            if (e->watch->events) arm_later(p, (int)fd, e);
        }
        return;
    }
    if (!e || !e->watch || e->gen != (unsigned)id) return; /* stale */
    /* An error on the poll (a bad descriptor) is reported as both, as poll reports POLLNVAL:
     * the owner's next call says what it is. A cancellation is only the end of the poll. */
    int events = res < 0 ? (res == -ECANCELED ? 0 : CSOCK_READ | CSOCK_WRITE)
                         : (res & (POLLIN | POLLRDHUP | POLLHUP | POLLERR) ? CSOCK_READ : 0) |
                               (res & (POLLOUT | POLLHUP | POLLERR) ? CSOCK_WRITE : 0);
    e->ready |= (unsigned char)events;
    if (e->ready && !e->listed) {
        e->listed = 1;
        p->ready_list[p->ready_count++] = (int)fd;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        e->state = IDLE;
        if (e->watch->events) arm_later(p, (int)fd, e);
    }
}

/* Takes in every completion posted so far. */
static void reap(csock__poller *p)
{
    unsigned head = *p->cq_head, tail = __atomic_load_n(p->cq_tail, __ATOMIC_ACQUIRE);
    for (; head != tail; head++) {
        const struct io_uring_cqe *cqe = &p->cqes[head & p->cq_mask];
        if (!(cqe->user_data & OP_TAG))
            complete(p, cqe);
        else if (csock__uring_take(p, cqe) < 0)
            break; /* the rest wait in the queue for the next wait */
    }
    __atomic_store_n(p->cq_head, head, __ATOMIC_RELEASE);
}

/* Queues the re-poll of every watch the last wait reported that still has its poll. */
static void queue_checks(csock__poller *p)
{
    for (int i = 0; i < p->check_count; i++) {
        size_t fd = (size_t)(p->checks[i] >> 32);
        struct entry *e = &p->entries[fd];
        if (e->watch && e->state == ARMED && e->gen == (unsigned)p->checks[i])
            update(p, (int)fd, e, e->watch->events);
    }
    p->check_count = 0;
}

/* Queues the polls marked to arm, each under a new generation. A loop that another thread runs now
 * moves its polls to this one, for the same reason (a thread that ran it and has ended had its
 * polls cancelled by the kernel, and they are armed again as any poll that ends). */
static int queue_arms(csock__poller *p)
{
    pthread_t self = pthread_self();
    if (p->owned && !pthread_equal(p->owner, self))
        for (size_t fd = 0; fd < p->cap; fd++) {
            struct entry *e = &p->entries[fd];
            if (e->state != ARMED) continue;
            disarm(p, (int)fd, e);
            arm_later(p, (int)fd, e);
        }
    if (p->owned && !pthread_equal(p->owner, self)) csock__uring_move_ops(p);
    p->owner = self;
    p->owned = 1;
    for (size_t i = 0; i < p->arm_count; i++) {
        int fd = p->arm_list[i];
        struct entry *e = &p->entries[fd];
        e->to_arm = 0;
        if (!e->watch || e->state != PENDING || !e->watch->events) continue;
        int rc = csock__uring_queue(p, IORING_OP_POLL_ADD, fd, 0, IORING_POLL_ADD_MULTI,
                                    poll_mask(e->watch->events), 0, poll_id(fd, next_gen(e)));
        if (rc < 0) {
            /* The rest stay marked for the next wait. */
            memmove(p->arm_list, p->arm_list + i, (p->arm_count - i) * sizeof *p->arm_list);
            p->arm_count -= i;
            e->to_arm = 1;
            return csock__failf(rc, "loop: watch fd %d: io_uring_enter: %s", fd,
                                csock_strerror(rc));
        }
        e->state = ARMED;
    }
    p->arm_count = 0;
    return 0;
}

static int fetch(csock__poller *p, csock__ready *ready, int max, int timeout_ms)
{
    csock__uring_return_buffers(p);
    int rc = queue_arms(p);
    if (rc == 0) rc = csock__uring_queue_starts(p);
    if (rc < 0) return rc;
    queue_checks(p);
    struct io_uring_getevents_arg arg = {0};
    struct __kernel_timespec ts = {timeout_ms / 1000, (long long)(timeout_ms % 1000) * 1000000};
    if (timeout_ms > 0) arg.ts = (uint64_t)(uintptr_t)&ts;
    unsigned submitting = p->sq_pending;
    rc = csock__uring_enter(p, p->ready_count || p->done_count || !timeout_ms ? 0 : 1,
                            IORING_ENTER_GETEVENTS | (timeout_ms > 0 ? IORING_ENTER_EXT_ARG : 0),
                            timeout_ms > 0 ? &arg : NULL);
    if (rc < 0 && rc != CSOCK_EINTR && rc != -ETIME && rc != CSOCK_EBUSY && rc != CSOCK_EAGAIN)
        return csock__failf(rc, "loop: io_uring_enter: %s", csock_strerror(rc));
    reap(p);
    if (!p->ready_count && !p->done_count) {
        /* Nothing for the loop: the time ran out, or the wait ended early (a signal, or only
         * completions of no interest), and the loop waits again for what is left. io_uring_enter
         * reports the time running out (ETIME) only when it submitted nothing. */
        return !timeout_ms || (rc == -ETIME && !submitting) ? 0 : CSOCK_EINTR;
    }
    if (max > FETCH_MAX) max = FETCH_MAX;
    int got = p->done_count < max ? p->done_count : max;
    memcpy(ready, p->done, (size_t)got * sizeof *ready);
    p->done_count -= got;
    memmove(p->done, p->done + got, (size_t)p->done_count * sizeof *p->done);
    size_t i = 0;
    for (; i < p->ready_count && got < max; i++) {
        struct entry *e = &p->entries[p->ready_list[i]];
        e->listed = 0;
        if (!e->watch || !e->ready) continue; /* removed or paused since */
        ready[got].watch = e->watch;
        ready[got].events = e->ready;
        e->ready = 0;
        got++;
        if (e->state == ARMED) p->checks[p->check_count++] = poll_id(p->ready_list[i], e->gen);
    }
    p->ready_count -= i;
    memmove(p->ready_list, p->ready_list + i, p->ready_count * sizeof *p->ready_list);
    return got;
}

const csock__poller_ops csock__poller_uring = {"uring",
                                               create,
                                               destroy,
                                               add,
                                               set,
                                               forget,
                                               fetch,
                                               csock__uring_completes,
                                               csock__uring_start,
                                               csock__uring_stop,
                                               csock__uring_claim};
