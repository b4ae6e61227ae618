/* SPDX-License-Identifier: MIT */
/* Datagrams per second over loopback UDP, csock against raw system calls, one datagram per call
 * and in batches of 32 (raw: sendmmsg/recvmmsg, and a segmented send with UDP_SEGMENT), side by
 * side in one run.
 *
 * First on one core, sending and receiving timed apart (UDP has no flow control): "send" sends
 * into a socket nobody reads (the kernel delivers or drops each datagram inside the sending call),
 * "receive" takes datagrams from a queue filled beforehand, CHUNK at a time so the queue never
 * overflows. Then as a pipeline: a sender on one core, a receiver on the other, counting what is
 * delivered. Each round runs every variant once, the order turning every round; figures are
 * medians over rounds, ratios the median of same-round ratios with a 95% confidence interval.
 *
 * Usage: bench-datagram [rounds] [datagrams per round]   (defaults 9 50000) */
#define _GNU_SOURCE
#include "bench.h"

#include <csock.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE  64
#define BATCH 32
#define CHUNK 1000 /* datagrams queued before each timed drain: fits any receive buffer */

enum { RAW_ONE, CSOCK_ONE, RAW_MMSG, RAW_SEGMENT, CSOCK_BATCH, VARIANTS };
static const char *const names[VARIANTS] = {
    "raw, one per call", "csock, one per call", "raw sendmmsg/recvmmsg, batches of 32",
    "raw UDP_SEGMENT send, batches of 32", "csock sendmany/recvmany, batches of 32"};
static int count = 50000;
static char payload[BATCH][SIZE];
static char inbox[BATCH][SIZE];

static void die(const char *what)
{
    fprintf(stderr, "bench-datagram: %s: %s\n", what, csock_lasterror());
    exit(1);
}

/* A receiver with room for a whole round, and a sender connected to it. */
static void make_pair(csock **rx, csock **tx)
{
    csock_addr a;
    *rx = csock_socket(AF_INET, SOCK_DGRAM, 0);
    *tx = csock_socket(AF_INET, SOCK_DGRAM, 0);
    if (!*rx || !*tx || csock_bind(*rx, "127.0.0.1", 0) < 0 || csock_getsockname(*rx, &a) < 0 ||
        csock_connect_addr(*tx, &a) < 0)
        die("setup");
    csock_setrcvbuf(*rx, 4 << 20);
    /* A lost datagram ends the run with an error instead of a wait forever. */
    csock_settimeout(*rx, 5);
}

/* One batch of buffers, described for raw sendmmsg/recvmmsg, for one segmented send and for
 * csock alike. */
struct batch {
    struct iovec iov[BATCH];
    struct mmsghdr raw[BATCH];
    csock_msg msgs[BATCH];
    struct msghdr segmented;
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
};

static void point_at(struct batch *b, char bufs[BATCH][SIZE])
{
    for (int i = 0; i < BATCH; i++) {
        b->iov[i] = (struct iovec){bufs[i], SIZE};
        memset(&b->raw[i], 0, sizeof b->raw[i]);
        b->raw[i].msg_hdr.msg_iov = &b->iov[i];
        b->raw[i].msg_hdr.msg_iovlen = 1;
        b->msgs[i] = (csock_msg){.iov = &b->iov[i], .iovcnt = 1};
    }
    memset(&b->control, 0, sizeof b->control);
    b->segmented = (struct msghdr){.msg_iov = b->iov,
                                   .msg_iovlen = BATCH,
                                   .msg_control = b->control.buf,
                                   .msg_controllen = sizeof b->control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&b->segmented);
    *c = (struct cmsghdr){
        .cmsg_len = CMSG_LEN(sizeof(uint16_t)), .cmsg_level = SOL_UDP, .cmsg_type = UDP_SEGMENT};
    uint16_t size = SIZE;
    memcpy(CMSG_DATA(c), &size, sizeof size);
}

/* Sends count datagrams the variant's way. */
static void send_all(int variant, csock *tx, int count)
{
    int fd = csock_fileno(tx);
    struct batch b;
    point_at(&b, payload);
    for (int sent = 0; sent < count;) {
        int n = 0, want = count - sent < BATCH ? count - sent : BATCH;
        b.segmented.msg_iovlen = (size_t)want;
        switch (variant) {
        case RAW_ONE:
            n = send(fd, payload[0], SIZE, MSG_NOSIGNAL) == SIZE;
            break;
        case CSOCK_ONE:
            n = csock_send(tx, payload[0], SIZE) == SIZE;
            break;
        case RAW_MMSG:
            n = sendmmsg(fd, b.raw, (unsigned)want, MSG_NOSIGNAL);
            break;
        case RAW_SEGMENT:
            n = sendmsg(fd, &b.segmented, MSG_NOSIGNAL) == want * SIZE ? want : -1;
            break;
        case CSOCK_BATCH:
            n = csock_sendmany(tx, b.msgs, (size_t)want, 0);
            break;
        }
        if (n <= 0) die("send");
        sent += n;
    }
}

/* One receiving call the variant's way, for at most want datagrams: how many came, or <= 0. */
static int receive_some(int variant, csock *rx, struct batch *b, int want)
{
    int fd = csock_fileno(rx);
    switch (variant) {
    case RAW_ONE:
        return recv(fd, inbox[0], SIZE, 0) == SIZE;
    case CSOCK_ONE:
        return csock_recv(rx, inbox[0], SIZE) == SIZE;
    case CSOCK_BATCH:
        return csock_recvmany(rx, b->msgs, (size_t)want, 0);
    default: /* raw batches are received with recvmmsg */
        return recvmmsg(fd, b->raw, (unsigned)want, MSG_WAITFORONE, NULL);
    }
}

/* Receives count datagrams the variant's way. */
static void recv_all(int variant, csock *rx, int count)
{
    struct batch b;
    point_at(&b, inbox);
    for (int got = 0; got < count;) {
        int n = receive_some(variant, rx, &b, count - got < BATCH ? count - got : BATCH);
        if (n <= 0) die("recv");
        got += n;
    }
}

/* The receiving end of a pipeline, on its own core: takes datagrams until count arrived or none
 * came for the socket's timeout, noting when the first and the last arrived. */
struct pipeline {
    int variant, count, got;
    csock *rx;
    double first, last;
};

static void *pipeline_receiver(void *arg)
{
    struct pipeline *p = arg;
    struct batch b;
    cpu_set_t other;
    CPU_ZERO(&other);
    CPU_SET(1, &other);
    sched_setaffinity(0, sizeof other, &other);
    point_at(&b, inbox);
    p->got = 0;
    while (p->got < p->count) {
        int n = receive_some(p->variant, p->rx, &b, BATCH);
        if (n <= 0) break;
        p->last = bench_now();
        if (p->got == 0) p->first = p->last;
        p->got += n;
    }
    return NULL;
}

/* A sender on one core and a receiver on the other, each the variant's way: datagrams delivered
 * per second end to end, and the share lost when the sender outruns the receiver. */
static void pipeline(int variant, double *rate, double *lost)
{
    csock *rx, *tx;
    make_pair(&rx, &tx);
    csock_settimeout(rx, 0.2);
    struct pipeline p = {.variant = variant, .count = count, .rx = rx};
    pthread_t t;
    if (pthread_create(&t, NULL, pipeline_receiver, &p) != 0) die("thread");
    send_all(variant, tx, count);
    pthread_join(t, NULL);
    *rate = p.got > 1 && p.last > p.first ? (p.got - 1) / (p.last - p.first) : 0;
    *lost = 1.0 - (double)p.got / count;
    csock_free(rx);
    csock_free(tx);
}

/* One round of a variant: datagrams per second sending, and receiving. */
static void measure(int variant, double *send_rate, double *recv_rate)
{
    csock *rx, *tx, *sink, *tx2;
    make_pair(&rx, &tx);
    /* Sending: into a receiver nobody reads, so the queue fills and the rest is dropped, all
     * inside the sending calls. */
    make_pair(&sink, &tx2);
    double t0 = bench_now();
    send_all(variant, tx2, count);
    *send_rate = count / (bench_now() - t0);
    csock_free(sink);
    csock_free(tx2);
    /* Receiving: from a queue filled first, the same way for every variant; only draining is
     * timed. A segmented send only sends: its row shows no receive figure. */
    if (variant == RAW_SEGMENT) {
        *recv_rate = 0;
        csock_free(rx);
        csock_free(tx);
        return;
    }
    double spent = 0;
    for (int done = 0; done < count; done += CHUNK) {
        int n = count - done < CHUNK ? count - done : CHUNK;
        send_all(RAW_MMSG, tx, n);
        t0 = bench_now();
        recv_all(variant, rx, n);
        spent += bench_now() - t0;
    }
    *recv_rate = count / spent;
    csock_free(rx);
    csock_free(tx);
}

/* Per round and variant, the two figures of the last run_rounds. */
static double fig_a[VARIANTS][100], fig_b[VARIANTS][100];
static int nrounds;

/* Runs every variant rounds times, interleaved (the order turning every round); each round's
 * figures go to fig_a and fig_b, their medians to a and b. */
static void run_rounds(void (*round)(int, double *, double *), int rounds, double a[VARIANTS],
                       double b[VARIANTS])
{
    nrounds = rounds;
    for (int i = 0; i < rounds; i++)
        for (int k = 0; k < VARIANTS; k++) {
            int v = (k + i) % VARIANTS;
            round(v, &fig_a[v][i], &fig_b[v][i]);
        }
    for (int v = 0; v < VARIANTS; v++) {
        a[v] = bench_median_ci(fig_a[v], rounds).median;
        b[v] = bench_median_ci(fig_b[v], rounds).median;
    }
}

/* Prints the median over rounds of variant v's figure over ref's in the same round, with its 95%
 * confidence interval ("-" where either has none). */
static void print_ratio(double fig[VARIANTS][100], int v, int ref)
{
    double r[100];
    for (int i = 0; i < nrounds; i++) {
        if (fig[v][i] <= 0 || fig[ref][i] <= 0) {
            printf("-");
            return;
        }
        r[i] = fig[v][i] / fig[ref][i];
    }
    struct bench_ci ci = bench_median_ci(r, nrounds);
    printf("%.3f (%.3f-%.3f)", ci.median, ci.low, ci.high);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 9;
    if (argc > 2) count = atoi(argv[2]);
    if (rounds < 1 || rounds > 100 || count < CHUNK || count > 10000000) {
        fprintf(stderr, "usage: bench-datagram [rounds 1-100] [datagrams 1000-10000000]\n");
        return 2;
    }
    bench_one_core();
    memset(payload, 'd', sizeof payload);

    double ms[VARIANTS], mr[VARIANTS];
    run_rounds(measure, rounds, ms, mr);
    printf("%d-byte UDP datagrams over loopback, one core; median of %d rounds of %d datagrams; "
           "ratios are the median of each round's figure "
           "over the other's in the same round, with a 95%% confidence interval\n\n",
           SIZE, rounds, count);
    printf("| variant | send (datagrams/s) | receive (datagrams/s) | send vs raw | receive vs raw "
           "| send vs one per call | receive vs one per call |\n");
    printf("|---|---|---|---|---|---|---|\n");
    /* csock's batches are held to the faster raw batch for sending, recvmmsg for receiving. */
    int raw_send[VARIANTS] = {RAW_ONE, RAW_ONE, RAW_MMSG, RAW_SEGMENT,
                              ms[RAW_SEGMENT] > ms[RAW_MMSG] ? RAW_SEGMENT : RAW_MMSG};
    int raw_recv[VARIANTS] = {RAW_ONE, RAW_ONE, RAW_MMSG, RAW_MMSG, RAW_MMSG};
    for (int v = 0; v < VARIANTS; v++) {
        int single = v == CSOCK_ONE || v == CSOCK_BATCH ? CSOCK_ONE : RAW_ONE;
        printf("| %s | %.0f | ", names[v], ms[v]);
        if (mr[v] > 0)
            printf("%.0f", mr[v]);
        else
            printf("-");
        printf(" | ");
        print_ratio(fig_a, v, raw_send[v]);
        printf(" | ");
        print_ratio(fig_b, v, raw_recv[v]);
        printf(" | ");
        print_ratio(fig_a, v, single);
        printf(" | ");
        print_ratio(fig_b, v, single);
        printf(" |\n");
    }

    /* The pipeline: sender and receiver on separate cores, each the variant's way. */
    double md[VARIANTS], ml[VARIANTS];
    run_rounds(pipeline, rounds, md, ml);
    printf(
        "\nSender on core 0, receiver on core 1, each the variant's way (raw segmented sends are "
        "received with recvmmsg); datagrams delivered per second between the first and the "
        "last to arrive, median of %d rounds of %d datagrams\n\n",
        rounds, count);
    printf("| variant | delivered (datagrams/s) | lost | vs raw | vs one per call |\n");
    printf("|---|---|---|---|---|\n");
    int raw_pipe[VARIANTS] = {RAW_ONE, RAW_ONE, RAW_MMSG, RAW_SEGMENT, RAW_SEGMENT};
    for (int v = 0; v < VARIANTS; v++) {
        int single = v == CSOCK_ONE || v == CSOCK_BATCH ? CSOCK_ONE : RAW_ONE;
        printf("| %s | %.0f | %.1f%% | ", names[v], md[v], 100 * ml[v]);
        print_ratio(fig_a, v, raw_pipe[v]);
        printf(" | ");
        print_ratio(fig_a, v, single);
        printf(" |\n");
    }
    return 0;
}
