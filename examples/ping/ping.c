/* SPDX-License-Identifier: MIT */
/* ping: sends ICMP echo requests to a host and reports each reply and a summary, as ping(8)
 * does, with csock. It uses a raw socket where it may, else an unprivileged ICMP datagram
 * socket where the system allows them, and otherwise says which privilege is missing.
 *
 * Usage: ping [-4|-6] [-c count] [-i interval] [-W wait] [-s size] [-v] host
 * Exit status: 0 if any reply came, 1 if none did, 2 for errors (usage, name, socket). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getopt, sigaction */
#include <csock.h>
#include <csock/icmp.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct config {
    int family;      /* 0: as the host resolves */
    long count;      /* 0: until interrupted */
    double interval; /* seconds between requests */
    double wait;     /* seconds to wait for the last reply */
    size_t size;     /* payload bytes; the first 8 carry the send time */
    int verbose;
    const char *host;
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(const char *why)
{
    fprintf(
        stderr,
        "ping: %s\nusage: ping [-4|-6] [-c count] [-i interval] [-W wait] [-s size] [-v] host\n",
        why);
    return 2;
}

static int parse(int argc, char **argv, struct config *c)
{
    *c = (struct config){.interval = 1.0, .wait = 2.0, .size = 56};
    int opt;
    char *end, why[40];
    while ((opt = getopt(argc, argv, ":46c:i:W:s:v")) != -1) { /* ':': getopt says nothing */
        switch (opt) {
        case '4':
        case '6':
            if (c->family) return usage("-4 and -6 cannot be used together");
            c->family = opt == '4' ? AF_INET : AF_INET6;
            break;
        case 'c':
            c->count = strtol(optarg, &end, 10);
            if (*end || c->count < 1) return usage("-c needs a count of 1 or more");
            break;
        case 'i':
        case 'W': {
            double v = strtod(optarg, &end);
            if (*end || !(v >= 0.001 && v <= 3600)) return usage("-i and -W take 0.001 to 3600 s");
            *(opt == 'i' ? &c->interval : &c->wait) = v;
            break;
        }
        case 's': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 8 || v > 65000) return usage("-s takes a payload of 8 to 65000 bytes");
            c->size = (size_t)v;
            break;
        }
        case 'v':
            c->verbose = 1;
            break;
        case ':':
            snprintf(why, sizeof why, "-%c needs a value", optopt);
            return usage(why);
        default: /* a control character is shown escaped, not sent to the terminal */
            if (optopt > 0x20 && optopt < 0x7f)
                snprintf(why, sizeof why, "unknown option -%c", optopt);
            else
                snprintf(why, sizeof why, "unknown option -\\x%02x", optopt & 0xff);
            return usage(why);
        }
    }
    if (optind != argc - 1) return usage("give one host");
    c->host = argv[optind];
    return 0;
}

int main(int argc, char **argv)
{
    struct config c;
    if (parse(argc, argv, &c)) return 2;
    csock_addr to;
    char text[CSOCK_ADDRSTRLEN];
    csock *s = NULL;
    if (csock_addr_resolve(&to, c.host, 0, c.family) < 0 ||
        !(s = csock_icmp_socket(csock_addr_family(&to)))) {
        fprintf(stderr, "ping: %s\n", csock_lasterror());
        return 2;
    }
    csock_addr_host(&to, text, sizeof text);
    if (c.verbose)
        fprintf(stderr, "ping: using %s\n",
                csock_type(s) == SOCK_RAW ? "a raw socket"
                                          : "an unprivileged ICMP datagram socket");
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigaction(SIGINT, &sa, NULL);
    printf("PING %s (%s): %zu data bytes\n", c.host, text, c.size);

    unsigned char *out = malloc(c.size), *in = malloc(c.size + 64);
    for (size_t i = 8; i < c.size; i++)
        out[i] = (unsigned char)i;
    unsigned short id = (unsigned short)getpid();
    long sent = 0, received = 0;
    double min = 1e9, max = 0, sum = 0;
    for (unsigned short seq = 1; !interrupted && (c.count == 0 || sent < c.count); seq++) {
        double start = now();
        memcpy(out, &start, sizeof start);
        sent++;
        if (csock_icmp_send(s, &to, id, seq, out, c.size) < 0)
            fprintf(stderr, "ping: %s\n", csock_lasterror());
        int last = c.count && sent == c.count;
        /* Replies are read until it is time for the next request (or, after the last, until
         * its reply came or the wait ran out). */
        double until = start + (last ? c.wait : c.interval);
        for (double left; !interrupted && (left = until - now()) > 0;) {
            csock_icmp_echo r;
            csock_settimeout(s, left);
            int rc = csock_icmp_recv(s, id, in, c.size + 64, &r);
            if (rc == CSOCK_ETIMEOUT) break;
            if (rc < 0) {
                fprintf(stderr, "ping: %s\n", csock_lasterror());
                break;
            }
            double sent_at, ms;
            memcpy(&sent_at, r.payload, sizeof sent_at);
            ms = (now() - sent_at) * 1000;
            received++;
            sum += ms;
            min = ms < min ? ms : min;
            max = ms > max ? ms : max;
            csock_addr_host(&r.from, text, sizeof text);
            printf("%zu bytes from %s: icmp_seq=%u ttl=%d time=%.3f ms\n", r.payload_len + 8, text,
                   r.seq, r.ttl, ms);
            fflush(stdout);
            if (last && r.seq == seq) break;
        }
    }
    printf("\n--- %s ping statistics ---\n%ld packets transmitted, %ld received, %ld%% packet "
           "loss\n",
           c.host, sent, received, sent ? (sent - received) * 100 / sent : 0);
    if (received) printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n", min, sum / received, max);
    free(out);
    free(in);
    csock_free(s);
    return received ? 0 : 1;
}
