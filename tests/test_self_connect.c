/* SPDX-License-Identifier: MIT */
/* A TCP connection that reaches its own socket is refused. Runs under netns.sh, in a network
 * namespace whose range of source ports is one port, 40000: a connect to that port on loopback,
 * where nothing listens, is then given it as its source and meets itself ("simultaneous open"),
 * which the kernel lets succeed. */
#include "check.h"

#include <fcntl.h>
#include <unistd.h>

static int only_source_port(int port)
{
    int fd = open("/proc/sys/net/ipv4/ip_local_port_range", O_WRONLY);
    if (fd < 0) return -1;
    char text[32];
    int n = snprintf(text, sizeof text, "%d %d\n", port, port);
    int ok = write(fd, text, (size_t)n) == n;
    close(fd);
    return ok ? 0 : -1;
}

static void connect_refuses(int family, const char *host)
{
    char want[128];
    snprintf(want, sizeof want,
             "connect %s%s%s:40000: Connection refused (the connection reached itself: nothing "
             "listens there)",
             family == AF_INET6 ? "[" : "", host, family == AF_INET6 ? "]" : "");
    csock *s = csock_socket(family, SOCK_STREAM, 0);
    CHECK(s != NULL);
    CHECK_EQ(csock_connect(s, host, 40000), CSOCK_ECONNREFUSED);
    CHECK_STR(csock_lasterror(), want);
    csock_addr peer;
    CHECK_EQ(csock_getpeername(s, &peer), CSOCK_ENOTCONN); /* left unconnected */
    CHECK_EQ(csock_connect_ex(s, host, 40000), -CSOCK_ECONNREFUSED);
    csock_free(s);
}

static void connect_to_itself(void)
{
    connect_refuses(AF_INET, "127.0.0.1");
    connect_refuses(AF_INET6, "::1");
}

static void create_connection_to_itself(void)
{
    CHECK(csock_create_connection("127.0.0.1", 40000, 5, NULL) == NULL);
    CHECK_EQ(csock_lastcode(), CSOCK_ECONNREFUSED);
    CHECK_STR(csock_lasterror(), "connect 127.0.0.1:40000: Connection refused (the connection "
                                 "reached itself: nothing listens there)");
}

/* A listener on the port is reached as usual: only a connection to itself is refused. */
static void a_listener_is_reached(void)
{
    csock *l = csock_create_server("127.0.0.1", 40000, NULL);
    CHECK(l != NULL);
    CHECK(only_source_port(40001) == 0);
    csock *c = csock_create_connection("127.0.0.1", 40000, 5, NULL);
    CHECK(c != NULL);
    csock_free(c);
    csock_free(l);
    CHECK(only_source_port(40000) == 0);
}

int main(void)
{
    if (only_source_port(40000) < 0) {
        printf("SKIP: cannot set the namespace's source ports: %s\n", strerror(errno));
        return 77;
    }
    RUN(connect_to_itself);
    RUN(create_connection_to_itself);
    RUN(a_listener_is_reached);
    return check_done();
}
