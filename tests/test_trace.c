/* SPDX-License-Identifier: MIT */
/* CSOCK_TRACE=1: one line per call on stderr, naming the step, its arguments and its result. */
#include "check.h"

#include <fcntl.h>

static char trace[8192];

/* Runs fn with stderr captured into trace[]. */
static void capture(void (*fn)(void))
{
    char path[] = "/tmp/csock-trace-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, trace, sizeof trace - 1, 0);
    trace[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

#define CHECK_TRACED(line)                                                                         \
    do {                                                                                           \
        if (!strstr(trace, (line))) {                                                              \
            fprintf(stderr, "%s:%d: trace lacks \"%s\":\n%s", __FILE__, __LINE__, (line), trace);  \
            check_test_failed = 1;                                                                 \
        }                                                                                          \
    } while (0)

static int port;

static void tutorial_steps(void)
{
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    csock_bind(s, "127.0.0.1", 0);
    csock_listen(s, 5);
    csock_addr a;
    csock_getsockname(s, &a);
    port = csock_addr_port(&a);
    csock *c = csock_socket(AF_INET, SOCK_STREAM, 0);
    csock_connect(c, "127.0.0.1", port);
    csock *cs = csock_accept(s, NULL);
    csock_send(cs, "byebye", 6);
    char buf[512];
    csock_recv(c, buf, 512);
    csock_settimeout(c, 0.05);
    csock_recv(c, buf, 512);
    csock_close(cs);
    csock_recv(c, buf, 512);
    csock_free(cs);
    csock_free(c);
    csock_free(s);
    csock *r = csock_socket(AF_INET6, SOCK_STREAM, 0);
    csock_connect(r, "::1", port); /* the listener is gone: refused */
    csock_free(r);
}

static void environment_turns_it_on(void)
{
    capture(tutorial_steps);
    char line[128];
    CHECK_TRACED("csock: socket AF_INET SOCK_STREAM 0 -> fd ");
    CHECK_TRACED("csock: bind 127.0.0.1:0 -> ok\n");
    CHECK_TRACED("csock: listen 5 -> ok\n");
    snprintf(line, sizeof line, "csock: getsockname -> 127.0.0.1:%d\n", port);
    CHECK_TRACED(line);
    snprintf(line, sizeof line, "csock: connect 127.0.0.1:%d -> ok\n", port);
    CHECK_TRACED(line);
    CHECK_TRACED("csock: accept -> 127.0.0.1:");
    CHECK_TRACED("csock: send 6 -> 6 bytes\n");
    CHECK_TRACED("csock: recv 512 -> 6 bytes\n");
    CHECK_TRACED("csock: settimeout 0.05 -> ok\n");
    CHECK_TRACED("csock: recv 512 -> timed out\n");
    CHECK_TRACED("csock: close fd ");
    CHECK_TRACED("csock: recv 512 -> 0 bytes (end of stream)\n");
    snprintf(line, sizeof line, "csock: connect [::1]:%d -> Connection refused\n", port);
    CHECK_TRACED(line);
}

/* A name with an empty label is refused by the resolver itself: no query leaves the machine. */
#define NO_SUCH "no..such"

static void lookups(void)
{
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    csock_bind(s, NO_SUCH, 80);
    csock_connect(s, NO_SUCH, 81);
    csock_addr a;
    csock_addr_resolve(&a, NO_SUCH, 82, AF_INET);
    csock_freeaddrinfo(csock_getaddrinfo(NO_SUCH, 83, AF_INET, SOCK_STREAM, 0, 0));
    csock_freeaddrinfo(csock_getaddrinfo("127.0.0.1", 84, AF_INET, SOCK_STREAM, 0, 0));
    csock_addr_parse(&a, "127.0.0.1:85");
    char host[64];
    csock_getnameinfo(&a, NI_NUMERICHOST, host, sizeof host, NULL, 0);
    csock_free(s);
}

/* A call that fails in its name lookup prints its line too, with the resolver's answer. */
static void failed_lookups_are_traced(void)
{
    capture(lookups);
    CHECK_TRACED("csock: bind " NO_SUCH ":80 -> Name or service not known\n");
    CHECK_TRACED("csock: connect " NO_SUCH ":81 -> Name or service not known\n");
    CHECK_TRACED("csock: resolve " NO_SUCH ":82 -> Name or service not known\n");
    CHECK_TRACED("csock: getaddrinfo " NO_SUCH ":83 -> Name or service not known\n");
    CHECK_TRACED("csock: getaddrinfo 127.0.0.1:84 -> 1 address\n");
    CHECK_TRACED("csock: getnameinfo 127.0.0.1:85 -> 127.0.0.1\n");
}

/* A name with a newline, a terminal's escape sequence and a backslash in it (and an empty label,
 * so that it is refused without a query). */
#define ODD_NAME  "no\n..such\x1b[2J\\"
#define ODD_SHOWN "no\\x0a..such\\x1b[2J\\x5c"

static void odd_lookups(void)
{
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    csock_connect(s, ODD_NAME, 81);
    csock_freeaddrinfo(csock_getaddrinfo(ODD_NAME, 83, AF_INET, SOCK_STREAM, 0, 0));
    csock_free(s);
}

/* A name from the user is shown escaped, as messages show it: its bytes cannot end the line or
 * drive the terminal. */
static void names_are_escaped(void)
{
    capture(odd_lookups);
    CHECK_TRACED("csock: connect " ODD_SHOWN ":81 -> Name or service not known\n");
    CHECK_TRACED("csock: getaddrinfo " ODD_SHOWN ":83 -> Name or service not known\n");
    CHECK(strchr(trace, '\x1b') == NULL);
    CHECK_STR(csock_lasterror(), "getaddrinfo " ODD_SHOWN ":83: Name or service not known");
}

static void off_prints_nothing(void)
{
    csock_settrace(0);
    capture(tutorial_steps);
    CHECK_STR(trace, "");
    csock_settrace(1);
    capture(tutorial_steps);
    CHECK_TRACED("csock: listen 5 -> ok\n");
}

int main(void)
{
    check_watchdog(60);
    /* Read when the first csock call is made. */
    setenv("CSOCK_TRACE", "1", 1);
    RUN(environment_turns_it_on);
    RUN(off_prints_nothing);
    RUN(failed_lookups_are_traced);
    RUN(names_are_escaped);
    return check_done();
}
