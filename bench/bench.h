/* SPDX-License-Identifier: MIT */
/* What the benchmarks share: a clock, a median, and pinning the process to one core. */
#ifndef CSOCK_BENCH_H
#define CSOCK_BENCH_H

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values (reorders them). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The process's CPU time in seconds (all its threads), to the nanosecond. */
static inline double bench_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A median and a distribution-free 95% confidence interval for it, from order statistics:
 * the values ranked n/2 - 0.98 sqrt(n) from either end (bench/echo.py's rule). */
struct bench_ci {
    double median, low, high;
};

/* The median of n values (at most 1000; v is left as it was) with its 95% interval. */
static inline struct bench_ci bench_median_ci(const double *v, int n)
{
    double s[1000];
    if (n > 1000) n = 1000;
    memcpy(s, v, (size_t)n * sizeof *s);
    struct bench_ci ci;
    ci.median = bench_median(s, n); /* sorts s */
    int k = (int)((double)n / 2 - 0.98 * sqrt((double)n));
    if (k < 0) k = 0;
    ci.low = s[k];
    ci.high = s[n - 1 - k];
    return ci;
}

/* Both ends of a benchmark on one core: per-call overhead is not hidden by parallelism. */
static inline void bench_one_core(void)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
}

#endif
