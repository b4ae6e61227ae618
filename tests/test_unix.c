/* Unix-domain sockets: stream and datagram, on a path and on an abstract name. */
#include "check.h"

#include <sys/stat.h>

static char dir[64];

static void stream_on_a_path(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/s.sock", dir);
    csock *l = csock_create_server(path, 0, NULL);
    CHECK(l != NULL);
    CHECK_EQ(csock_family(l), AF_UNIX);
    csock_addr a;
    char text[CSOCK_ADDRSTRLEN];
    CHECK_EQ(csock_getsockname(l, &a), 0);
    CHECK(csock_addr_format(&a, text, sizeof text) > 0);
    CHECK_STR(text, path);
    csock *c = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect(c, path, 0), 0);
    csock *s = csock_accept(l, &a);
    CHECK(s != NULL);
    CHECK_EQ(csock_addr_format(&a, text, sizeof text), 0); /* the client has no name */
    CHECK_EQ(csock_sendall(c, "hello", 5, NULL), 0);
    char buf[8];
    CHECK_EQ(csock_recv(s, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    /* The path is in use while the file exists: a clear error, not a silent takeover. */
    csock *again = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind(again, path, 0), CSOCK_EADDRINUSE);
    char want[200];
    snprintf(want, sizeof want, "bind %s: Address already in use", path);
    CHECK_STR(csock_lasterror(), want);
    csock_free(again);
    csock_free(c);
    csock_free(s);
    csock_free(l);
    unlink(path);
}

static void abstract_names(void)
{
    char name[64];
    snprintf(name, sizeof name, "@csock-test-%d", (int)getpid());
    csock *l = csock_create_server(name, 0, NULL);
    CHECK(l != NULL);
    csock_addr a;
    char text[CSOCK_ADDRSTRLEN];
    csock_getsockname(l, &a);
    csock_addr_format(&a, text, sizeof text);
    CHECK_STR(text, name);
    csock *c = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect(c, name, 0), 0);
    csock *s = csock_accept(l, NULL);
    CHECK(s != NULL);
    csock_free(c);
    csock_free(s);
    csock_free(l);
}

static void datagrams(void)
{
    char spath[128], cpath[128];
    snprintf(spath, sizeof spath, "%s/d.sock", dir);
    snprintf(cpath, sizeof cpath, "%s/c.sock", dir);
    csock *srv = csock_socket(AF_UNIX, SOCK_DGRAM, 0);
    csock *cli = csock_socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK_EQ(csock_bind(srv, spath, 0), 0);
    CHECK_EQ(csock_bind(cli, cpath, 0), 0);
    csock_addr to, from;
    CHECK_EQ(csock_addr_make(&to, spath, 0), 0);
    CHECK_EQ(csock_sendto(cli, "ping", 4, &to), 4);
    char buf[16], text[CSOCK_ADDRSTRLEN];
    CHECK_EQ(csock_recvfrom(srv, buf, sizeof buf, &from), 4);
    csock_addr_format(&from, text, sizeof text);
    CHECK_STR(text, cpath);
    CHECK_EQ(csock_sendto(srv, "pong", 4, &from), 4);
    CHECK_EQ(csock_recv(cli, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "pong", 4) == 0);
    csock_free(srv);
    csock_free(cli);
    unlink(spath);
    unlink(cpath);
}

static void bad_unix_addresses(void)
{
    csock *s = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    char longpath[200];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    CHECK_EQ(csock_bind(s, longpath, 0), CSOCK_ENAMETOOLONG);
    CHECK_ERROR(CSOCK_ENAMETOOLONG, "bind /ppp");
    CHECK_ERROR(CSOCK_ENAMETOOLONG, "Unix socket path too long (199 bytes, at most 107)");
    CHECK_EQ(csock_connect(s, "/tmp/x.sock", 80), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "connect /tmp/x.sock: a Unix address has no port (got 80)");
    CHECK_EQ(csock_connect(s, "", 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "connect: a Unix socket needs a path");
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nobody-here.sock", dir);
    CHECK_EQ(csock_connect(s, missing, 0), CSOCK_ENOENT);
    char want[200];
    snprintf(want, sizeof want, "connect %s: No such file or directory", missing);
    CHECK_STR(csock_lasterror(), want);
    csock_free(s);
}

int main(void)
{
    check_watchdog(60);
    snprintf(dir, sizeof dir, "/tmp/csock-test-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(stream_on_a_path);
    RUN(abstract_names);
    RUN(datagrams);
    RUN(bad_unix_addresses);
    rmdir(dir);
    return check_done();
}
