/* SPDX-License-Identifier: MIT */
/* Happy Eyeballs' resolution delay against a real DNS server: tests/own_dns.sh runs this where
 * names are looked up only by DNS, from tests/dns_server.py, whose dN.test answers A (127.0.0.1)
 * at once and AAAA (::1) N milliseconds later. The listener takes both families on one port, so
 * the family a connection comes over says which answer the attempts waited for. */
#include "check_connect.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The descriptors open, less the C library's DNS sockets (a socket connected to 127.0.0.1:53):
 * a thread that has asked DNS keeps one open for its next lookups. */
static int open_fds_but_resolvers(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = atoi(e->d_name);
        if (fd > 2 && getpeername(fd, (struct sockaddr *)&peer, &len) == 0 &&
            peer.sin_family == AF_INET && ntohs(peer.sin_port) == 53 &&
            peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            continue;
        n++;
    }
    if (d) closedir(d);
    return n;
}

/* One port listening on [::1] and on 127.0.0.1. */
static int dual_listener(csock **six, csock **four)
{
    for (int i = 0; i < 50; i++) {
        int port;
        *six = check_listener("::1", &port);
        *four = csock_socket(AF_INET, SOCK_STREAM, 0);
        if (*four && csock_bind(*four, "127.0.0.1", port) == 0 && csock_listen(*four, 8) == 0)
            return port;
        csock_free(*four);
        csock_free(*six);
    }
    fprintf(stderr, "no port free on both families\n");
    exit(1);
}

/* The AAAA answer comes 300 ms after the A one: the attempts wait 50 ms for it, then go ahead
 * over IPv4, long before it comes. */
static void a_late_aaaa_answer_is_not_waited_for(void)
{
    csock *six, *four;
    int port = dual_listener(&six, &four);
    double took;
    outcome o = connect_once("d300.test", port, NULL, &took);
    CHECK_EQ(o.error, 0);
    if (o.error) fprintf(stderr, "%s\n", o.message);
    CHECK_EQ(o.family, AF_INET);
    CHECK(took >= 0.035); /* the resolution delay, less a tick of the loop's coarse clock */
    CHECK(took < 0.25);   /* not the AAAA answer's 300 ms */
    printf("     over IPv4 in %.3f s\n", took);
    csock_free(six);
    csock_free(four);
}

/* The AAAA answer comes 10 ms after the A one, within the resolution delay: the attempts wait
 * for it, and IPv6 goes first. */
static void an_aaaa_answer_within_the_delay_goes_first(void)
{
    csock *six, *four;
    int port = dual_listener(&six, &four);
    double took;
    outcome o = connect_once("d10.test", port, NULL, &took);
    CHECK_EQ(o.error, 0);
    if (o.error) fprintf(stderr, "%s\n", o.message);
    CHECK_EQ(o.family, AF_INET6);
    CHECK(took >= 0.009);
    printf("     over IPv6 in %.3f s\n", took);
    csock_free(six);
    csock_free(four);
}

/* A name the server does not know fails, saying so. */
static void an_unknown_name_fails_with_its_reason(void)
{
    double took;
    outcome o = connect_once("nothing.test", 9, NULL, &took);
    CHECK(o.error != 0);
    CHECK(strstr(o.message, "nothing.test:9: Name or service not known") != NULL);
}

int main(void)
{
    check_watchdog(100);
    int fds = open_fds_but_resolvers();
    RUN(a_late_aaaa_answer_is_not_waited_for);
    RUN(an_aaaa_answer_within_the_delay_goes_first);
    RUN(an_unknown_name_fails_with_its_reason);
    CHECK_EQ(open_fds_but_resolvers(), fds);
    return check_done();
}
