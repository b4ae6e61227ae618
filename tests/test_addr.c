/* Addresses: parsing, making, formatting, ports, Unix paths, and bad input. */
#include "check.h"

static const char *fmt(const csock_addr *a)
{
    static char buf[CSOCK_ADDRSTRLEN];
    if (csock_addr_format(a, buf, sizeof buf) < 0) return "(error)";
    return buf;
}

static void parse_round_trips(void)
{
    static const char *const good[] = {"127.0.0.1:80",         "0.0.0.0:0",   "[::1]:8080",
                                       "[fe80::1%lo]:1",       "/tmp/x.sock", "@abstract",
                                       "255.255.255.255:65535"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        csock_addr a;
        CHECK_EQ(csock_addr_parse(&a, good[i]), 0);
        CHECK_STR(fmt(&a), good[i]);
    }
    csock_addr a;
    CHECK_EQ(csock_addr_parse(&a, ":9000"), 0);
    CHECK_STR(fmt(&a), "0.0.0.0:9000");
    CHECK_EQ(csock_addr_family(&a), AF_INET);
    CHECK_EQ(csock_addr_port(&a), 9000);
    CHECK_EQ(csock_addr_parse(&a, "unix:rel.sock"), 0);
    CHECK_STR(fmt(&a), "rel.sock");
    CHECK_EQ(csock_addr_family(&a), AF_UNIX);
    CHECK_EQ(csock_addr_port(&a), CSOCK_EAFNOSUPPORT);
}

static void parse_rejects_bad_text(void)
{
    csock_addr a;
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "missing port");
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:65536"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "bad port \"65536\"");
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:-1"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:8o"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, "::1:80"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "need brackets");
    CHECK_EQ(csock_addr_parse(&a, "[::1]80"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "expected [IPv6]:port");
    CHECK_EQ(csock_addr_parse(&a, "[127.0.0.1]:80"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, "localhost:80"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "\"localhost\" is not a numeric IP address");
    CHECK_EQ(csock_addr_parse(&a, "300.1.1.1:80"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, ""), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, "@"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(NULL, "1.2.3.4:5"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, NULL), CSOCK_EINVAL);
    char longpath[300];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    CHECK_EQ(csock_addr_parse(&a, longpath), CSOCK_ENAMETOOLONG);
    CHECK_ERROR(CSOCK_ENAMETOOLONG, "Unix socket path too long (299 bytes, at most 107)");
    longpath[108] = '\0'; /* exactly 108 bytes: one too many */
    CHECK_EQ(csock_addr_parse(&a, longpath), CSOCK_ENAMETOOLONG);
    longpath[107] = '\0'; /* 107 bytes fit */
    CHECK_EQ(csock_addr_parse(&a, longpath), 0);
    CHECK_STR(fmt(&a), longpath);
}

static void make_from_host_and_port(void)
{
    csock_addr a;
    CHECK_EQ(csock_addr_make(&a, "10.1.2.3", 443), 0);
    CHECK_STR(fmt(&a), "10.1.2.3:443");
    CHECK_EQ(csock_addr_make(&a, "::", 0), 0);
    CHECK_STR(fmt(&a), "[::]:0");
    CHECK_EQ(csock_addr_make(&a, NULL, 7), 0);
    CHECK_STR(fmt(&a), "0.0.0.0:7");
    CHECK_EQ(csock_addr_make(&a, "127.0.0.1", 65536), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "make address 127.0.0.1:65536: port out of range (0-65535)");
    CHECK_EQ(csock_addr_make(&a, "127.0.0.1", -5), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_make(&a, "example.com", 80), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "not a numeric address");
    CHECK_EQ(csock_addr_make(&a, "/run/x.sock", 80), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "a Unix address has no port");
    CHECK_EQ(csock_addr_make(&a, "/run/x.sock", 0), 0);
    char host[64];
    CHECK_EQ(csock_addr_make(&a, "::1", 80), 0);
    CHECK_EQ(csock_addr_host(&a, host, sizeof host), 3);
    CHECK_STR(host, "::1");
}

static void format_is_bounded(void)
{
    csock_addr a;
    char small[8];
    CHECK_EQ(csock_addr_parse(&a, "[2001:db8::1]:65535"), 0);
    CHECK_EQ(csock_addr_format(&a, small, sizeof small), CSOCK_ENOSPC);
    CHECK_STR(small, "");
    CHECK_ERROR(CSOCK_ENOSPC, "buffer of 8 bytes is too small");
    char exact[20];
    CHECK_EQ(csock_addr_format(&a, exact, sizeof exact), 19);
    CHECK_EQ(csock_addr_format(&a, exact, 19), CSOCK_ENOSPC);
    CHECK_EQ(csock_addr_format(NULL, exact, sizeof exact), CSOCK_EINVAL);
    csock_addr empty = {0};
    CHECK_EQ(csock_addr_format(&empty, exact, sizeof exact), CSOCK_EINVAL);
}

static void abstract_names_escape_binary(void)
{
    csock_addr a;
    CHECK_EQ(csock_addr_parse(&a, "@x"), 0);
    struct sockaddr_un *un = (struct sockaddr_un *)&a.ss;
    un->sun_path[2] = '\n'; /* a name with a byte that is not printable */
    a.len++;
    CHECK_STR(fmt(&a), "@x\\x0a");
}

static void ports(void)
{
    CHECK_EQ(csock_parse_port("0"), 0);
    CHECK_EQ(csock_parse_port("65535"), 65535);
    CHECK_EQ(csock_parse_port("65536"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "parse port \"65536\": out of range (0-65535)");
    CHECK_EQ(csock_parse_port("99999999999999999999"), CSOCK_EINVAL);
    CHECK_EQ(csock_parse_port("+80"), CSOCK_EINVAL);
    CHECK_EQ(csock_parse_port(" 80"), CSOCK_EINVAL);
    CHECK_EQ(csock_parse_port("http"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "parse port \"http\": not a number");
    CHECK_EQ(csock_parse_port(""), CSOCK_EINVAL);
    CHECK_EQ(csock_parse_port(NULL), CSOCK_EINVAL);
}

int main(void)
{
    check_watchdog(60);
    RUN(parse_round_trips);
    RUN(parse_rejects_bad_text);
    RUN(make_from_host_and_port);
    RUN(format_is_bounded);
    RUN(abstract_names_escape_binary);
    RUN(ports);
    return check_done();
}
