/* SPDX-License-Identifier: MIT */
/* csock ping: sends ICMP echo requests to a host and reports each reply and a summary, as
 * ping(8) does, over the library's ICMP API: a raw socket where the process may open one, else an
 * unprivileged ICMP datagram socket where the system allows them, and otherwise the missing
 * privilege is said. Its command line is its own (csock.1, SYNOPSIS), with csock's times and host
 * syntax; options may come before or after the host. Exit status: 0 if any reply came, 1 if none
 * did, 2 for errors (usage, name, socket). */
#define _GNU_SOURCE /* getopt_long (which permutes), sigaction */
#include "commands.h"
#include "session.h" /* monotonic_time */

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PING_ERROR   2     /* ping's own exit status for errors */
#define MIN_PAYLOAD  8     /* the send time */
#define MAX_PAYLOAD  65000 /* csock_icmp_send's largest */
#define MIN_INTERVAL 0.01  /* -i: faster is a flood */
#define MIN_WAIT     0.001 /* -W */
#define MAX_TIME     3600.0

struct ping {
    int family;      /* -4, -6; 0: as the host resolves */
    long count;      /* -c; 0: until interrupted */
    double interval; /* -i: seconds between requests */
    double wait;     /* -W: seconds to wait for the last reply */
    size_t size;     /* -s: payload bytes; the first 8 carry the send time */
    int verbose;     /* -v */
    char host[256];  /* as written, without the brackets of "[::1]" */
};

/* What came back: counts, and round trips in milliseconds. */
struct tally {
    long sent, received;
    double min, max, sum;
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int signo)
{
    (void)signo;
    interrupted = 1;
}

static void say_ping(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_then("csock ping", "", fmt, ap);
    va_end(ap);
}

static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_then("csock ping",
             "usage: csock ping [-4|-6] [-c count] [-i interval] [-W wait] [-s size] [-v] host\n",
             fmt, ap);
    va_end(ap);
    return PING_ERROR;
}

/* -i and -W: a time as csock's other options take it, from least to MAX_TIME. */
static int time_arg(int opt, const char *text, double least, double *out)
{
    const char *why = NULL;
    if (parse_duration(text, out, &why) < 0 || *out < least || *out > MAX_TIME) {
        usage("-%c takes a time from %gms to 1h, such as 200ms or 2s, not '%s'%s%s", opt,
              least * 1000, text, why ? ": " : "", why ? why : "");
        return -1;
    }
    return 0;
}

/* The host: a name or address, "[::1]" as well as "::1"; no port, no Unix address. */
static int host_arg(const char *text, struct ping *p)
{
    char port[8];
    if (!*text) return usage("the host is empty");
    if (csock_unix_path(text)) return usage("%s: a Unix address cannot be pinged", text);
    int rc = csock_split_host_port(text, p->host, sizeof p->host, port, sizeof port,
                                   CSOCK_SPLIT_PORT_OPTIONAL);
    if (rc == 1) return usage("%s: ping takes a host, without a port", text);
    if (rc < 0) return usage("%s: not a host (a name, 192.0.2.1, ::1 or [::1])", text);
    if (!p->host[0]) return usage("the host is empty");
    csock_addr a;
    int family = csock_addr_make(&a, p->host, 0) == 0 ? csock_addr_family(&a) : 0;
    if (p->family && family && family != p->family)
        return usage("cannot use %s with %s, an %s address", p->family == AF_INET ? "-4" : "-6",
                     text, family == AF_INET6 ? "IPv6" : "IPv4");
    return 0;
}

/* A decimal number from low to high. Returns 0, or -1 for anything else. */
static int number_arg(const char *text, long low, long high, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || text[0] == '-' || text[0] == '+' || v < low || v > high) return -1;
    *out = v;
    return 0;
}

static int read_ping_options(int argc, char **argv, struct ping *p)
{
    static const struct option none[] = {{NULL, 0, NULL, 0}};
    *p = (struct ping){.interval = 1.0, .wait = 2.0, .size = 56};
    long size;
    int opt;
    opterr = 0; /* ':' first: a missing value is ':', and getopt says nothing itself */
    while ((opt = getopt_long(argc, argv, ":46c:i:W:s:v", none, NULL)) != -1) {
        if (opt == '4' || opt == '6') {
            if (family_option(opt, &p->family) < 0)
                return usage("-4 and -6 cannot be used together");
        } else if (opt == 'v') {
            p->verbose = 1;
        } else if (opt == 'c') {
            if (number_arg(optarg, 1, LONG_MAX, &p->count) < 0)
                return usage("-c needs a count of 1 or more");
        } else if (opt == 's') {
            if (number_arg(optarg, MIN_PAYLOAD, MAX_PAYLOAD, &size) < 0)
                return usage("-s takes a payload of %d to %d bytes", MIN_PAYLOAD, MAX_PAYLOAD);
            p->size = (size_t)size;
        } else if (opt == 'i' || opt == 'W') {
            if (time_arg(opt, optarg, opt == 'i' ? MIN_INTERVAL : MIN_WAIT,
                         opt == 'i' ? &p->interval : &p->wait) < 0)
                return PING_ERROR;
        } else if (opt == ':') {
            return usage("-%c needs a value", optopt);
        } else {
            return optopt ? usage("unknown option -%c", optopt)
                          : usage("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc) return usage("give one host");
    if (optind + 1 < argc) return usage("give one host; '%s' is one too many", argv[optind + 1]);
    return host_arg(argv[optind], p);
}

/* One request; says why it could not be sent. */
static void send_request(csock *s, const csock_addr *to, unsigned short id, unsigned short seq,
                         unsigned char *payload, size_t size)
{
    double at = monotonic_time();
    memcpy(payload, &at, sizeof at);
    if (csock_icmp_send(s, to, id, seq, payload, size) < 0) say_ping("%s", csock_lasterror());
}

/* Reads replies until the loop time until, or (last) the reply to seq; prints each. */
static void read_replies(csock *s, unsigned short id, unsigned short seq, int last, double until,
                         unsigned char *buf, size_t size, struct tally *t)
{
    for (double left; !interrupted && (left = until - monotonic_time()) > 0;) {
        csock_icmp_echo r;
        csock_settimeout(s, left);
        int rc = csock_icmp_recv(s, id, buf, size, &r);
        if (rc == CSOCK_ETIMEOUT) return;
        if (rc < 0) {
            say_ping("%s", csock_lasterror());
            return;
        }
        double sent_at;
        memcpy(&sent_at, r.payload, sizeof sent_at);
        double ms = (monotonic_time() - sent_at) * 1000;
        t->received++;
        t->sum += ms;
        if (ms < t->min) t->min = ms;
        if (ms > t->max) t->max = ms;
        char from[CSOCK_ADDRSTRLEN];
        csock_addr_host(&r.from, from, sizeof from);
        printf("%zu bytes from %s: icmp_seq=%u ttl=%d time=%.3f ms\n", r.payload_len + 8, from,
               r.seq, r.ttl, ms);
        fflush(stdout);
        if (last && r.seq == seq) return;
    }
}

static void summary(const struct ping *p, const struct tally *t)
{
    printf("\n--- %s ping statistics ---\n%ld packets transmitted, %ld received, %ld%% packet "
           "loss\n",
           p->host, t->sent, t->received, t->sent ? (t->sent - t->received) * 100 / t->sent : 0);
    if (t->received)
        printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n", t->min, t->sum / t->received, t->max);
}

static int ping_host(const struct ping *p, csock *s, const csock_addr *to)
{
    unsigned char *out = malloc(p->size), *in = malloc(p->size + 64);
    if (!out || !in) {
        say_ping("out of memory");
        free(out);
        free(in);
        return PING_ERROR;
    }
    for (size_t i = MIN_PAYLOAD; i < p->size; i++)
        out[i] = (unsigned char)i;
    unsigned short id = (unsigned short)getpid();
    struct tally t = {.min = 1e9};
    for (unsigned short seq = 1; !interrupted && (p->count == 0 || t.sent < p->count); seq++) {
        double start = monotonic_time();
        send_request(s, to, id, seq, out, p->size);
        t.sent++;
        /* Replies are read until it is time for the next request (or, after the last, until its
         * reply came or the wait ran out). */
        int last = p->count && t.sent == p->count;
        read_replies(s, id, seq, last, start + (last ? p->wait : p->interval), in, p->size + 64,
                     &t);
    }
    summary(p, &t);
    free(out);
    free(in);
    return t.received ? 0 : 1;
}

int run_ping(int argc, char **argv)
{
    struct ping p;
    if (read_ping_options(argc, argv, &p)) return PING_ERROR;
    csock_addr to;
    if (csock_addr_resolve(&to, p.host, 0, p.family) < 0) { /* a name: no port to speak of */
        say_ping("%s: %s", p.host, csock_strerror(csock_lastcode()));
        return PING_ERROR;
    }
    csock *s = csock_icmp_socket(csock_addr_family(&to));
    if (!s) {
        say_ping("%s", csock_lasterror());
        return PING_ERROR;
    }
    char text[CSOCK_ADDRSTRLEN];
    csock_addr_host(&to, text, sizeof text);
    if (p.verbose)
        say_ping("using %s", csock_type(s) == SOCK_RAW ? "a raw socket"
                                                       : "an unprivileged ICMP datagram socket");
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigaction(SIGINT, &sa, NULL);
    printf("PING %s (%s): %zu data bytes\n", p.host, text, p.size);
    int status = ping_host(&p, s, &to);
    csock_free(s);
    return status;
}
