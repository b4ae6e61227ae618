/* SPDX-License-Identifier: MIT */
/* Addresses: parsing, making, formatting, ports, Unix paths, and bad input. */
#include "check.h"

#include <arpa/inet.h>
#include <sys/mman.h>

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
    CHECK_ERROR(CSOCK_EINVAL, "a port is needed: host:port, [v6]:port or :port");
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:65536"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "bad port \"65536\"");
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:-1"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:8o"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, "::1:80"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "an IPv6 address needs brackets before a port: [::1]:80");
    CHECK_EQ(csock_addr_parse(&a, "[::1]80"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "an IPv6 address in brackets looks like [::1]:80");
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

/* The address a Unix text should give: a path, or "@name" for an abstract name (its bytes). */
static int is_unix_name(const csock_addr *a, const char *name)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
    size_t n = strlen(name), off = offsetof(struct sockaddr_un, sun_path);
    if (a->ss.ss_family != AF_UNIX) return 0;
    if (name[0] == '@')
        return a->len == off + n && un->sun_path[0] == '\0' &&
               memcmp(un->sun_path + 1, name + 1, n - 1) == 0;
    return a->len == off + n + 1 && strcmp(un->sun_path, name) == 0;
}

/* Every call that takes an address's text reads a Unix address the same way. */
static void unix_text_reads_alike(void)
{
    char max_path[108], over[109];
    memset(max_path, 'm', sizeof max_path - 1);
    max_path[0] = '/';
    max_path[sizeof max_path - 1] = '\0';
    snprintf(over, sizeof over, "%sm", max_path);
    const struct {
        const char *text, *name; /* name NULL: not a Unix address */
    } cases[] = {
        {"unix:rel.sock", "rel.sock"},
        {"unix:/abs/path", "/abs/path"},
        {"/abs/path", "/abs/path"},
        {"@abstract", "@abstract"},
        {"@a\\b", "@a\\b"},
        {"unix:@a\\b", "@a\\b"},
        {"unix:./rel", "./rel"},
        {max_path, max_path},
        {"./rel", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        csock_addr parsed, made, resolved;
        int p = csock_addr_parse(&parsed, cases[i].text);
        int m = csock_addr_make(&made, cases[i].text, 0);
        if (!cases[i].name) {
            CHECK(p < 0 && m < 0); /* the look-ups would take it for a name: test_create */
            continue;
        }
        int r = csock_addr_resolve(&resolved, cases[i].text, 0, 0);
        csock_addrlist *list = csock_getaddrinfo(cases[i].text, 0, 0, SOCK_STREAM, 0, 0);
        if (p != 0 || m != 0 || r != 0 || !list || list->count != 1 ||
            !is_unix_name(&parsed, cases[i].name) || !is_unix_name(&made, cases[i].name) ||
            !is_unix_name(&resolved, cases[i].name) ||
            !is_unix_name(&list->items[0].addr, cases[i].name) ||
            list->items[0].family != AF_UNIX || list->items[0].type != SOCK_STREAM) {
            fprintf(stderr, "\"%s\": parse %d make %d resolve %d getaddrinfo %s (%s)\n",
                    cases[i].text, p, m, r, list ? "ok" : "failed", csock_lasterror());
            check_test_failed = 1;
        }
        csock_freeaddrinfo(list);
    }
    /* A relative path needs its prefix, and the message says so. */
    csock_addr a;
    CHECK_EQ(csock_addr_parse(&a, "./rel"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "parse address \"./rel\": not host:port (a relative Unix path is "
                              "written unix:./rel)");
    CHECK_EQ(csock_addr_parse(&a, "dir/x.sock:80"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "written unix:dir/x.sock:80");
    /* The same refusals everywhere. */
    const struct {
        const char *text, *says;
        int code;
    } bad[] = {
        {"@", "empty abstract Unix name", CSOCK_EINVAL},
        {"unix:", "empty Unix socket path", CSOCK_EINVAL},
        {over, "Unix socket path too long (108 bytes, at most 107)", CSOCK_ENAMETOOLONG},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(csock_addr_parse(&a, bad[i].text), bad[i].code);
        CHECK_ERROR(bad[i].code, bad[i].says);
        CHECK_EQ(csock_addr_make(&a, bad[i].text, 0), bad[i].code);
        CHECK_ERROR(bad[i].code, bad[i].says);
        CHECK_EQ(csock_addr_resolve(&a, bad[i].text, 0, 0), bad[i].code);
        CHECK_ERROR(bad[i].code, bad[i].says);
        CHECK(csock_getaddrinfo(bad[i].text, 0, 0, 0, 0, 0) == NULL);
        CHECK_ERROR(bad[i].code, bad[i].says);
    }
    /* A Unix address has no port, and is no address of another family. */
    CHECK_EQ(csock_addr_make(&a, "unix:x", 80), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "make address unix:x: a Unix address has no port");
    CHECK(csock_getaddrinfo("unix:x", 80, 0, 0, 0, 0) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "getaddrinfo unix:x: a Unix address has no port (got 80)");
    CHECK(csock_getaddrinfo("/x", 0, AF_INET, 0, 0, 0) == NULL);
    CHECK_ERROR(CSOCK_EAFNOSUPPORT, "getaddrinfo /x: an AF_UNIX address for an AF_INET socket");
    CHECK_EQ(csock_addr_resolve(&a, "@x", 0, AF_INET6), CSOCK_EAFNOSUPPORT);
    CHECK_ERROR(CSOCK_EAFNOSUPPORT, "resolve @x: an AF_UNIX address for an AF_INET6 socket");
    /* "" is the IPv4 wildcard where a host is asked for, and no address as text. */
    CHECK_EQ(csock_addr_make(&a, "", 7), 0);
    CHECK_STR(fmt(&a), "0.0.0.0:7");
    CHECK_EQ(csock_addr_parse(&a, ""), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "parse address \"\": empty address");
}

/* One split: host and port text, or the reason, for each case. */
static void split_host_port(void)
{
    const struct {
        const char *text;
        int flags, rc;
        const char *host, *port;
    } good[] = {
        {"127.0.0.1:80", 0, 1, "127.0.0.1", "80"},
        {"[::1]:80", 0, 1, "::1", "80"},
        {"[fe80::1%lo]:8080", 0, 1, "fe80::1%lo", "8080"},
        {":80", 0, 1, "", "80"},
        {"host:port", 0, 1, "host", "port"},
        {"localhost:http", 0, 1, "localhost", "http"},
        {"host:", 0, 1, "host", ""},
        {"host:99999", 0, 1, "host", "99999"}, /* the port's range is csock_parse_port's */
        {"localhost", CSOCK_SPLIT_PORT_OPTIONAL, 0, "localhost", ""},
        {"[::1]", CSOCK_SPLIT_PORT_OPTIONAL, 0, "::1", ""},
        {"::1", CSOCK_SPLIT_PORT_OPTIONAL, 0, "::1", ""},
        {"::1:80", CSOCK_SPLIT_PORT_OPTIONAL, 0, "::1:80", ""}, /* a bare IPv6 address */
        {"a:1", CSOCK_SPLIT_PORT_OPTIONAL, 1, "a", "1"},
        {"", CSOCK_SPLIT_PORT_OPTIONAL, 0, "", ""},
    };
    char host[64], port[16];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int rc = csock_split_host_port(good[i].text, host, sizeof host, port, sizeof port,
                                       good[i].flags);
        if (rc != good[i].rc || strcmp(host, good[i].host) != 0 || strcmp(port, good[i].port)) {
            fprintf(stderr, "split \"%s\": %d \"%s\" \"%s\" (%s)\n", good[i].text, rc, host, port,
                    csock_lasterror());
            check_test_failed = 1;
        }
    }
    const struct {
        const char *text, *says;
    } bad[] = {
        {"[::1", "an IPv6 address in brackets looks like [::1]:80"},
        {"[[]:3", "an IPv6 address in brackets looks like [::1]:80"},
        {"[::1]80", "an IPv6 address in brackets looks like [::1]:80"},
        {"[127.0.0.1]:80", "an IPv6 address in brackets looks like [::1]:80"},
        {"::1:80", "an IPv6 address needs brackets before a port: [::1]:80"},
        {"a]b:3", "brackets go around an IPv6 address only: [::1]:80"},
        {"localhost", "a port is needed: host:port, [v6]:port or :port"},
        {"", "a port is needed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(csock_split_host_port(bad[i].text, host, sizeof host, port, sizeof port, 0),
                 CSOCK_EINVAL);
        char want[160];
        snprintf(want, sizeof want, "split host:port \"%s\": %s", bad[i].text, bad[i].says);
        CHECK_ERROR(CSOCK_EINVAL, want);
    }
    CHECK_EQ(csock_split_host_port("[::1", host, sizeof host, port, sizeof port,
                                   CSOCK_SPLIT_PORT_OPTIONAL),
             CSOCK_EINVAL);
    CHECK_EQ(csock_split_host_port("[2001:db8::1]:80", host, 11, port, sizeof port, 0),
             CSOCK_ENOSPC);
    CHECK_ERROR(CSOCK_ENOSPC, "the host does not fit in 11 bytes");
    CHECK_EQ(csock_split_host_port("a:123456", host, sizeof host, port, 6, 0), CSOCK_ENOSPC);
    CHECK_ERROR(CSOCK_ENOSPC, "the port does not fit in 6 bytes");
    CHECK_EQ(csock_split_host_port("a:1", host, sizeof host, port, sizeof port, 4), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "unknown flags");
    CHECK_EQ(csock_split_host_port(NULL, host, sizeof host, port, sizeof port, 0), CSOCK_EINVAL);
    /* Syntax only: whether the host is a name, a number or nonsense is for later steps. */
    CHECK_EQ(csock_split_host_port("dir/x:1", host, sizeof host, port, sizeof port, 0), 1);
    CHECK_STR(host, "dir/x");
    /* Port out of range and port names: split, then refused by the port's own reader. */
    CHECK_EQ(csock_split_host_port("h:65536", host, sizeof host, port, sizeof port, 0), 1);
    CHECK_EQ(csock_parse_port(port), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "out of range (0-65535)");
    csock_addr a;
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:http"), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "bad port \"http\"");
}

static void join_host_port(void)
{
    char buf[64];
    CHECK_EQ(csock_join_host_port("::1", 80, buf, sizeof buf), 8);
    CHECK_STR(buf, "[::1]:80");
    CHECK_EQ(csock_join_host_port("fe80::1%lo", 1, buf, sizeof buf), 14);
    CHECK_STR(buf, "[fe80::1%lo]:1");
    CHECK_EQ(csock_join_host_port("localhost", 8080, buf, sizeof buf), 14);
    CHECK_STR(buf, "localhost:8080");
    CHECK_EQ(csock_join_host_port(NULL, 80, buf, sizeof buf), 3);
    CHECK_STR(buf, ":80");
    CHECK_EQ(csock_join_host_port("a", 65536, buf, sizeof buf), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "join host:port a 65536: port out of range (0-65535)");
    CHECK_EQ(csock_join_host_port("::1", 80, buf, 8), CSOCK_ENOSPC);
    CHECK_STR(buf, "");
    CHECK_ERROR(CSOCK_ENOSPC, "buffer of 8 bytes is too small");
    /* Split gives back what join wrote. */
    char host[64], port[8];
    CHECK_EQ(csock_join_host_port("2001:db8::7", 443, buf, sizeof buf), 17);
    CHECK_EQ(csock_split_host_port(buf, host, sizeof host, port, sizeof port, 0), 1);
    CHECK_STR(host, "2001:db8::7");
    CHECK_STR(port, "443");
}

static void unix_path_rule(void)
{
    CHECK_STR(csock_unix_path("unix:rel.sock"), "rel.sock");
    CHECK_STR(csock_unix_path("unix:/abs/path"), "/abs/path");
    CHECK_STR(csock_unix_path("unix:@x"), "@x");
    CHECK_STR(csock_unix_path("unix:"), "");
    CHECK_STR(csock_unix_path("/abs/path"), "/abs/path");
    CHECK_STR(csock_unix_path("@a\\b"), "@a\\b");
    CHECK_STR(csock_unix_path("@"), "@");
    CHECK(csock_unix_path("./rel") == NULL);
    CHECK(csock_unix_path("rel.sock") == NULL);
    CHECK(csock_unix_path("127.0.0.1:80") == NULL);
    CHECK(csock_unix_path("") == NULL);
    CHECK(csock_unix_path(NULL) == NULL);
}

/* Lengths given: an abstract name may hold any byte, a path no NUL; nothing is cut short. */
static void unix_address_from_bytes(void)
{
    csock_addr a;
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a.ss;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    CHECK_EQ(csock_addr_unix(&a, "@a\0b", 4), 0);
    CHECK_EQ(a.len, off + 4);
    CHECK(memcmp(un->sun_path, "\0a\0b", 4) == 0);
    CHECK_STR(fmt(&a), "@a\\x00b");
    CHECK_EQ(csock_addr_unix(&a, "unix:@a\0b", 9), 0);
    CHECK_EQ(a.len, off + 4);
    CHECK_EQ(csock_addr_unix(&a, "/a\0b", 4), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL,
                "make Unix address /a: a Unix socket path cannot hold a NUL byte (byte 2 of 4)");
    CHECK_EQ(csock_addr_unix(&a, "rel.sock", 8), 0);
    CHECK(is_unix_name(&a, "rel.sock"));
    CHECK_EQ(csock_addr_unix(&a, "/abc", 2), 0); /* the length given, not the string's */
    CHECK(is_unix_name(&a, "/a"));
    CHECK_EQ(csock_addr_unix(&a, "", 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "empty Unix socket path");
    CHECK_EQ(csock_addr_unix(&a, "@", 1), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "empty abstract Unix name");
    CHECK_EQ(csock_addr_unix(NULL, "/x", 2), CSOCK_EINVAL);
    /* An abstract name has all of sun_path but its leading NUL: 107 bytes. */
    char name[110];
    memset(name, 'n', sizeof name);
    name[0] = '@';
    CHECK_EQ(csock_addr_unix(&a, name, 108), 0);
    CHECK_EQ(a.len, sizeof(struct sockaddr_un));
    CHECK_EQ(csock_addr_unix(&a, name, 109), CSOCK_ENAMETOOLONG);
    CHECK_ERROR(CSOCK_ENAMETOOLONG, "abstract Unix name too long (108 bytes, at most 107)");
    name[108] = '\0';
    CHECK_EQ(csock_addr_parse(&a, name), 0);
    CHECK_EQ(a.len, sizeof(struct sockaddr_un));
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

/* A csock_addr that ends where readable memory ends: a byte read past it faults at once. Freed
 * with unguard. */
static csock_addr *guarded(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m =
        mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    mprotect(m + page, (size_t)page, PROT_NONE);
    csock_addr *a = (csock_addr *)(m + page - sizeof(csock_addr));
    memset(a, 'A', sizeof *a); /* no NUL anywhere, len included */
    return a;
}

static void unguard(csock_addr *a)
{
    long page = sysconf(_SC_PAGESIZE);
    munmap((char *)a + sizeof *a - page, 2 * (size_t)page);
}

/* A len that is not an address of its family (over the structure, over sockaddr_un, short of
 * sockaddr_in or sockaddr_in6) is refused by every call that takes a csock_addr, with the
 * length in the message, and nothing past the structure is read. */
static void lengths_are_checked_before_reading(void)
{
    csock_addr *a = guarded(), *b = guarded();
    CHECK(a && b);
    if (!a || !b) return;
    char buf[CSOCK_ADDRSTRLEN];
    const struct {
        int family;
        socklen_t len;
        const char *why;
    } bad[] = {
        {AF_UNIX, 0x41414141, "address length 1094795585 is over the 128 bytes of a csock_addr"},
        {AF_UNIX, 200, "address length 200 is over the 128 bytes of a csock_addr"},
        {AF_UNIX, 111, "address length 111 is over the 110 bytes of an AF_UNIX address"},
        {AF_INET, 8, "address length 8 is too short for AF_INET (16 bytes)"},
        {AF_INET6, 27, "address length 27 is too short for AF_INET6 (28 bytes)"},
        {AF_INET6, 129, "address length 129 is over the 128 bytes of a csock_addr"},
        {AF_UNIX, 1, "address length 1 is too short for an address family"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[160];
        memset(a, 'A', sizeof *a);
        a->ss.ss_family = (sa_family_t)bad[i].family;
        a->len = bad[i].len;
        CHECK_EQ(csock_addr_format(a, buf, sizeof buf), CSOCK_EINVAL);
        snprintf(want, sizeof want, "format address: %s", bad[i].why);
        CHECK_ERROR(CSOCK_EINVAL, want);
        CHECK_STR(buf, "");
        CHECK_EQ(csock_addr_host(a, buf, sizeof buf), CSOCK_EINVAL);
        CHECK_ERROR(CSOCK_EINVAL, want);
        CHECK_EQ(csock_addr_family(a), 0); /* no address of any family */
        if (bad[i].family != AF_UNIX) {
            CHECK_EQ(csock_addr_port(a), CSOCK_EINVAL);
            snprintf(want, sizeof want, "address port: %s", bad[i].why);
            CHECK_ERROR(CSOCK_EINVAL, want);
        }
        CHECK_EQ(csock_getnameinfo(a, NI_NUMERICHOST, buf, sizeof buf, NULL, 0), CSOCK_EINVAL);
        snprintf(want, sizeof want, "getnameinfo: %s", bad[i].why);
        CHECK_ERROR(CSOCK_EINVAL, want);

        int family = bad[i].family;
        csock *st = csock_socket(family, SOCK_STREAM, 0), *dg = csock_socket(family, SOCK_DGRAM, 0);
        CHECK_EQ(csock_bind_addr(st, a), CSOCK_EINVAL);
        snprintf(want, sizeof want, "bind: %s", bad[i].why);
        CHECK_ERROR(CSOCK_EINVAL, want);
        CHECK_EQ(csock_connect_addr(st, a), CSOCK_EINVAL);
        snprintf(want, sizeof want, "connect: %s", bad[i].why);
        CHECK_ERROR(CSOCK_EINVAL, want);
        CHECK_EQ(csock_sendto(dg, "x", 1, a), CSOCK_EINVAL);
        snprintf(want, sizeof want, "sendto: %s", bad[i].why);
        CHECK_ERROR(CSOCK_EINVAL, want);
        struct iovec iov = {"xy", 2};
        csock_msg m[2] = {{.iov = &iov, .iovcnt = 1, .addr = a},
                          {.iov = &iov, .iovcnt = 1, .addr = b}};
        *b = *a;
        CHECK_EQ(csock_sendmsg(dg, &m[0], 0), CSOCK_EINVAL);
        snprintf(want, sizeof want, "sendmsg: %s", bad[i].why);
        CHECK_ERROR(CSOCK_EINVAL, want);
        /* Two destinations that look alike: a segmented send would compare them first. */
        CHECK_EQ(csock_sendmany(dg, m, 2, 0), CSOCK_EINVAL);
        snprintf(want, sizeof want, "sendmany: %s", bad[i].why);
        CHECK_ERROR(CSOCK_EINVAL, want);
        csock_free(st);
        csock_free(dg);
        CHECK(csock_create_server_addr(a, NULL) == NULL);
        snprintf(want, sizeof want, "create_server: %s", bad[i].why);
        CHECK_ERROR(CSOCK_EINVAL, want);
        CHECK(csock_create_connection("127.0.0.1", 9, 5, a) == NULL);
        snprintf(want, sizeof want, "create_connection source: %s", bad[i].why);
        CHECK_ERROR(CSOCK_EINVAL, want);
    }
    /* A path that fills sun_path with no NUL is an address the kernel takes: all 108 bytes. */
    memset(a, 'A', sizeof *a);
    a->ss.ss_family = AF_UNIX;
    a->len = sizeof(struct sockaddr_un);
    CHECK_EQ(csock_addr_format(a, buf, sizeof buf), 108);
    CHECK_EQ(strspn(buf, "A"), 108);
    CHECK_EQ(csock_addr_family(a), AF_UNIX);
    unguard(a);
    unguard(b);
}

/* An IPv4 host is numeric exactly when inet_pton says so, with the same address: the edge cases
 * (leading zeros, 256, a part missing or too many, signs, spaces, hex, inet_aton's short forms)
 * and every text of up to 8 characters of digits and dots. */
static int same_as_inet_pton(const char *text)
{
    struct in_addr want;
    int numeric = inet_pton(AF_INET, text, &want) == 1;
    csock_addr a;
    int rc = csock_addr_make(&a, text, 80);
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a.ss;
    int same = numeric ? rc == 0 && a.ss.ss_family == AF_INET && in4->sin_addr.s_addr == want.s_addr
                       : rc == CSOCK_EINVAL;
    if (!same) fprintf(stderr, "\"%s\": inet_pton %d, csock %d\n", text, numeric, rc);
    return same;
}

static void numeric_ipv4_is_inet_pton(void)
{
    static const char *const edges[] = {
        "0.0.0.0",    "255.255.255.255", "127.0.0.1",      "1.2.3.4",  "01.2.3.4",   "1.2.3.04",
        "0.0.0.00",   "256.1.1.1",       "1.2.3.256",      "1.2.3",    "1.2.3.4.",   ".1.2.3.4",
        "1..2.3",     "1.2.3.4.5",       " 1.2.3.4",       "1.2.3.4 ", "0x7f.0.0.1", "127.1",
        "4294967295", "1.2.3.-4",        "+1.2.3.4",       "1.2.3.4a", "999.0.0.0",  "1.2.3.1000",
        "00.0.0.0",   "1.2.3.4\n",       "100.200.250.255"};
    int bad = 0;
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++)
        bad += !same_as_inet_pton(edges[i]);
    /* Every text over "0", "1", "5", "9" and "." of 1 to 8 characters (5^8 + ... texts). */
    static const char alphabet[] = "0159.";
    char text[10];
    for (int len = 1; len <= 8 && bad < 5; len++) {
        long total = 1;
        for (int i = 0; i < len; i++)
            total *= 5;
        for (long n = 0; n < total && bad < 5; n++) {
            long v = n;
            for (int i = 0; i < len; i++, v /= 5)
                text[i] = alphabet[v % 5];
            text[len] = '\0';
            bad += !same_as_inet_pton(text);
        }
    }
    CHECK_EQ(bad, 0);
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
    RUN(unix_text_reads_alike);
    RUN(split_host_port);
    RUN(join_host_port);
    RUN(unix_path_rule);
    RUN(unix_address_from_bytes);
    RUN(lengths_are_checked_before_reading);
    RUN(numeric_ipv4_is_inet_pton);
    return check_done();
}
