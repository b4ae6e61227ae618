/* Datagrams per second over loopback UDP, csock against raw system calls, one datagram per call
 * and in batches (sendmmsg/recvmmsg, 32 at a time), side by side in one run.
 *
 * UDP has no flow control, so sending and receiving are timed apart: "send" sends into a socket
 * nobody reads (the kernel delivers or drops each datagram inside the sending call), "receive"
 * takes datagrams from a queue filled beforehand, CHUNK at a time so the queue never overflows.
 * Each variant runs several times, interleaved, and the median is reported.
 *
 * Usage: bench-datagram [rounds] [datagrams per round]   (defaults 9 50000) */
#define _GNU_SOURCE
#include "bench.h"

#include <csock.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE  64
#define BATCH 32
#define CHUNK 1000 /* datagrams queued before each timed drain: fits any receive buffer */

enum { RAW_ONE, CSOCK_ONE, RAW_BATCH, CSOCK_BATCH, VARIANTS };
static const char *const names[VARIANTS] = {"raw, one per call", "csock, one per call",
                                            "raw, batches of 32", "csock, batches of 32"};
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

/* One batch of buffers, described for raw sendmmsg/recvmmsg and for csock alike. */
struct batch {
    struct iovec iov[BATCH];
    struct mmsghdr raw[BATCH];
    csock_msg msgs[BATCH];
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
}

/* Sends count datagrams the variant's way. */
static void send_all(int variant, csock *tx, int count)
{
    int fd = csock_fileno(tx);
    struct batch b;
    point_at(&b, payload);
    for (int sent = 0; sent < count;) {
        int n = 0;
        switch (variant) {
        case RAW_ONE:
            n = send(fd, payload[0], SIZE, MSG_NOSIGNAL) == SIZE;
            break;
        case CSOCK_ONE:
            n = csock_send(tx, payload[0], SIZE) == SIZE;
            break;
        case RAW_BATCH:
            n = sendmmsg(fd, b.raw, BATCH, MSG_NOSIGNAL);
            break;
        case CSOCK_BATCH:
            n = csock_sendmany(tx, b.msgs, BATCH, 0);
            break;
        }
        if (n <= 0) die("send");
        sent += n;
    }
}

/* Receives count datagrams the variant's way. */
static void recv_all(int variant, csock *rx, int count)
{
    int fd = csock_fileno(rx);
    struct batch b;
    point_at(&b, inbox);
    for (int got = 0; got < count;) {
        int want = count - got < BATCH ? count - got : BATCH, n = 0;
        switch (variant) {
        case RAW_ONE:
            n = recv(fd, inbox[0], SIZE, 0) == SIZE;
            break;
        case CSOCK_ONE:
            n = csock_recv(rx, inbox[0], SIZE) == SIZE;
            break;
        case RAW_BATCH:
            n = recvmmsg(fd, b.raw, (unsigned)want, MSG_WAITFORONE, NULL);
            break;
        case CSOCK_BATCH:
            n = csock_recvmany(rx, b.msgs, (size_t)want, 0);
            break;
        }
        if (n <= 0) die("recv");
        got += n;
    }
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
    /* Receiving: from a queue filled first, with the same kind of calls; only draining is timed. */
    double spent = 0;
    for (int done = 0; done < count; done += CHUNK) {
        int n = count - done < CHUNK ? count - done : CHUNK;
        send_all(variant, tx, n);
        t0 = bench_now();
        recv_all(variant, rx, n);
        spent += bench_now() - t0;
    }
    *recv_rate = count / spent;
    csock_free(rx);
    csock_free(tx);
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

    double s[VARIANTS][100], r[VARIANTS][100], ms[VARIANTS], mr[VARIANTS];
    for (int i = 0; i < rounds; i++)
        for (int v = 0; v < VARIANTS; v++)
            measure(v, &s[v][i], &r[v][i]);
    for (int v = 0; v < VARIANTS; v++) {
        ms[v] = bench_median(s[v], rounds);
        mr[v] = bench_median(r[v], rounds);
    }
    printf("%d-byte UDP datagrams over loopback, one core; median of %d rounds of %d datagrams\n\n",
           SIZE, rounds, count);
    printf("| variant | send (datagrams/s) | receive (datagrams/s) | send vs raw | receive vs raw "
           "| send vs one per call | receive vs one per call |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (int v = 0; v < VARIANTS; v++) {
        int raw = v == CSOCK_ONE ? RAW_ONE : v == CSOCK_BATCH ? RAW_BATCH : v;
        int single = v >= RAW_BATCH ? v - 2 : v;
        printf("| %s | %.0f | %.0f | %.3f | %.3f | %.3f | %.3f |\n", names[v], ms[v], mr[v],
               ms[v] / ms[raw], mr[v] / mr[raw], ms[v] / ms[single], mr[v] / mr[single]);
    }
    return 0;
}
