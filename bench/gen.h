/* SPDX-License-Identifier: MIT */
/* What the load generators (loadgen.c, tlsgen.c) share: the clock, the latency histogram, its
 * percentiles, the result line every window prints, and setting an epoll watch. */
#ifndef CSOCK_BENCH_GEN_H
#define CSOCK_BENCH_GEN_H

#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <time.h>

#define BUCKETS 200000 /* latency histogram: 1 microsecond per bucket, up to 200 ms */

static unsigned long histogram[BUCKETS + 1];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Counts one message's round trip, started at `started`. */
static void record_latency(double started)
{
    double us = (now() - started) * 1e6;
    histogram[us < BUCKETS ? (int)us : BUCKETS]++;
}

static double percentile(unsigned long total, double p)
{
    unsigned long want = (unsigned long)(p * (double)total), seen = 0;
    for (int i = 0; i <= BUCKETS; i++) {
        seen += histogram[i];
        if (seen > want) return i;
    }
    return BUCKETS;
}

/* The result line of a window (or a run) of `messages` in `took` seconds. */
static void report(long messages, double took, unsigned long errors)
{
    printf("messages=%ld seconds=%.3f rate=%.0f p50_us=%.0f p99_us=%.0f errors=%lu\n", messages,
           took, (double)messages / took, percentile((unsigned long)messages, 0.50),
           percentile((unsigned long)messages, 0.99), errors);
    fflush(stdout);
}

static void watch(int ep, int op, int fd, uint32_t events, unsigned id)
{
    struct epoll_event e = {.events = events, .data.u32 = id};
    epoll_ctl(ep, op, fd, &e);
}

/* The byte at offset i of message seq on connection id. */
static char fill(unsigned id, unsigned seq, size_t i)
{
    return (char)(id * 131 + seq * 31 + i * 7);
}

#endif
