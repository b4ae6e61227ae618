/* SPDX-License-Identifier: MIT */
/* create_connection (every address, one deadline, a source address) and create_server. Runs
 * under no_dns.sh, where csock-dual names ::1 and then 127.0.0.1. */
#include "check.h"

static void connects_by_name_trying_each_address(void)
{
    /* Only IPv4 listens: the IPv6 address is refused first, then IPv4 is tried and works. */
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    csock *c = csock_create_connection("csock-dual", port, 5, NULL);
    CHECK(c != NULL);
    CHECK_EQ(csock_family(c), AF_INET);
    CHECK(csock_gettimeout(c) == 5);
    csock *s = csock_accept(l, NULL);
    CHECK(s != NULL);
    csock_free(s);
    csock_free(c);
    csock_free(l);
}

static void failure_lists_every_address(void)
{
    csock *holder;
    int port = check_refusing_port("127.0.0.1", &holder);
    CHECK(csock_create_connection("csock-dual", port, CSOCK_DEFAULT_TIMEOUT, NULL) == NULL);
    char want[160];
    snprintf(want, sizeof want,
             "connect csock-dual:%d: [::1]:%d: Connection refused; 127.0.0.1:%d: Connection "
             "refused",
             port, port, port);
    CHECK_STR(csock_lasterror(), want);
    CHECK_EQ(csock_lastcode(), CSOCK_ECONNREFUSED);
    /* One address: the message reads as csock_connect's. */
    CHECK(csock_create_connection("127.0.0.1", port, 1, NULL) == NULL);
    snprintf(want, sizeof want, "connect 127.0.0.1:%d: Connection refused", port);
    CHECK_STR(csock_lasterror(), want);
    /* glibc gives 127.0.0.1 twice for an IPv4 lookup of csock-dual: it is tried once. */
    csock_addr any4;
    CHECK_EQ(csock_addr_parse(&any4, "0.0.0.0:0"), 0);
    CHECK(csock_create_connection("csock-dual", port, 1, &any4) == NULL);
    snprintf(want, sizeof want, "connect csock-dual:%d (127.0.0.1:%d): Connection refused", port,
             port);
    CHECK_STR(csock_lasterror(), want);
    CHECK(csock_create_connection(NULL, port, 1, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "create_connection: no host");
    CHECK(csock_create_connection("127.0.0.1", port, -7, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "create_connection -7");
    csock_free(holder);
}

/* A listener on host:port whose queue is full, so a further connect hangs. */
static csock *full_listener(const char *host, int port, csock **filler)
{
    csock *l = csock_socket(strchr(host, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (csock_bind(l, host, port) < 0 || csock_listen(l, 0) < 0) {
        csock_free(l);
        return NULL;
    }
    *filler = csock_create_connection(host, port, 1, NULL);
    return l;
}

static void timeout_bounds_the_whole_attempt(void)
{
    /* Both addresses hang. Python gives each address the whole timeout; csock gives the whole
     * call one deadline. Find a port free on both ::1 and 127.0.0.1 (bounded tries). */
    csock *l4 = NULL, *l6 = NULL, *f4 = NULL, *f6 = NULL, *extra4 = NULL, *extra6 = NULL;
    int port = 0;
    for (int i = 0; i < 20 && !l6; i++) {
        csock_free(l4);
        csock_free(f4);
        l4 = full_listener("127.0.0.1", 0, &f4);
        csock_addr a;
        csock_getsockname(l4, &a);
        port = csock_addr_port(&a);
        l6 = full_listener("::1", port, &f6);
    }
    CHECK(l6 != NULL);
    /* One more connection each fills the queues (backlog 0 admits one). */
    extra4 = csock_create_connection("127.0.0.1", port, 0.05, NULL);
    extra6 = csock_create_connection("::1", port, 0.05, NULL);
    double t0 = check_now();
    CHECK(csock_create_connection("csock-dual", port, 0.3, NULL) == NULL);
    double took = check_now() - t0;
    CHECK(took >= 0.29 && took < 0.55);
    CHECK_EQ(csock_lastcode(), CSOCK_ETIMEOUT);
    CHECK(strstr(csock_lasterror(), "timed out") != NULL);
    csock *all[] = {l4, l6, f4, f6, extra4, extra6};
    for (size_t i = 0; i < 6; i++)
        csock_free(all[i]);
}

/* IPv6 hangs (its listener's queue is full) and IPv4 answers: the addresses are raced, so the
 * call connects over IPv4 about the attempt delay (250 ms) after it starts, not at the timeout;
 * tried in order, the IPv6 attempt takes the whole timeout. */
static void a_hanging_ipv6_address_is_raced(void)
{
    csock *l4 = NULL, *l6 = NULL, *f6 = NULL, *extra6 = NULL;
    int port = 0;
    for (int i = 0; i < 20 && !l6; i++) {
        csock_free(l4);
        l4 = check_listener("127.0.0.1", &port);
        l6 = full_listener("::1", port, &f6);
    }
    CHECK(l6 != NULL);
    extra6 = csock_create_connection("::1", port, 0.05, NULL); /* the queue is full now */
    double t0 = check_now();
    csock *c = csock_create_connection("csock-dual", port, 5, NULL);
    double took = check_now() - t0;
    CHECK(c != NULL);
    CHECK_EQ(csock_family(c), AF_INET);
    CHECK(csock_gettimeout(c) == 5);
    CHECK(took >= 0.2 && took < 2.0);
    printf("     raced: connected over IPv4 in %.3f s\n", took);
    csock_free(c);
    /* Racing off is not checked here: the raced attempt's SYN to ::1 may still sit in the full
     * queue and be completed when a slot opens, so ::1 is no longer a sure black hole (seen in
     * CI: the in-order call connected there). */
    CHECK_EQ(csock_set_happy_eyeballs(0), 1);
    CHECK_EQ(csock_set_happy_eyeballs(1), 0);
    csock *all[] = {l4, l6, f6, extra6};
    for (size_t i = 0; i < 4; i++)
        csock_free(all[i]);
}

static void source_address(void)
{
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    csock_addr src, peer;
    CHECK_EQ(csock_addr_make(&src, "127.0.0.5", 0), 0);
    csock *c = csock_create_connection("127.0.0.1", port, 5, &src);
    CHECK(c != NULL);
    csock *s = csock_accept(l, &peer);
    char host[64];
    csock_addr_host(&peer, host, sizeof host);
    CHECK_STR(host, "127.0.0.5");
    csock_free(s);
    csock_free(c);
    /* Only addresses of the source's family are tried. */
    CHECK_EQ(csock_addr_make(&src, "::1", 0), 0);
    CHECK(csock_create_connection("127.0.0.1", port, 5, &src) == NULL);
    CHECK(strstr(csock_lasterror(), "connect 127.0.0.1:") == csock_lasterror());
    csock_free(l);
}

/* A step before connect that fails, here the source's bind, is listed by its own message. */
static void failed_bind_is_listed_whole(void)
{
    int port;
    csock *l = check_listener("127.0.0.1", &port);
    csock_addr taken;
    CHECK_EQ(csock_addr_make(&taken, "127.0.0.1", port), 0);
    char want[160];
    CHECK(csock_create_connection("127.0.0.1", port, 1, &taken) == NULL);
    snprintf(want, sizeof want, "connect 127.0.0.1:%d: bind 127.0.0.1:%d: Address already in use",
             port, port);
    CHECK_STR(csock_lasterror(), want);
    CHECK_EQ(csock_lastcode(), CSOCK_EADDRINUSE);
    CHECK(csock_create_connection("csock-dual", port, 1, &taken) == NULL);
    snprintf(want, sizeof want, "connect csock-dual:%d: bind 127.0.0.1:%d: Address already in use",
             port, port);
    CHECK_STR(csock_lasterror(), want);
    csock_free(l);
}

static void listen_options(void)
{
    csock *s = csock_create_server("127.0.0.1", 0, NULL);
    int v = 0;
    CHECK(s != NULL);
    CHECK_EQ(csock_getsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, &v), 0);
    CHECK(v != 0);
    CHECK_EQ(csock_getsockopt_int(s, SOL_SOCKET, SO_ACCEPTCONN, &v), 0);
    CHECK(v != 0);
    csock_free(s);

    csock *v6 = csock_create_server("::1", 0, NULL);
    CHECK(v6 != NULL);
    CHECK_EQ(csock_getsockopt_int(v6, IPPROTO_IPV6, IPV6_V6ONLY, &v), 0);
    CHECK(v != 0);
    csock_free(v6);

    csock_listen_options no_reuse = {.no_reuse_addr = 1};
    s = csock_create_server("127.0.0.1", 0, &no_reuse);
    CHECK_EQ(csock_getsockopt_int(s, SOL_SOCKET, SO_REUSEADDR, &v), 0);
    CHECK_EQ(v, 0);
    csock_free(s);

    csock_listen_options bad = {.family = AF_INET, .dualstack = 1};
    CHECK(csock_create_server(NULL, 0, &bad) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "dualstack needs an AF_INET6 socket");
}

static void dualstack_accepts_both_families(void)
{
    csock_listen_options o = {.dualstack = 1};
    csock *l = csock_create_server(NULL, 0, &o);
    CHECK(l != NULL);
    CHECK_EQ(csock_family(l), AF_INET6);
    csock_addr a;
    csock_getsockname(l, &a);
    int port = csock_addr_port(&a);
    csock *c4 = csock_create_connection("127.0.0.1", port, 5, NULL);
    csock *c6 = csock_create_connection("::1", port, 5, NULL);
    CHECK(c4 != NULL && c6 != NULL);
    csock *s1 = csock_accept(l, NULL), *s2 = csock_accept(l, NULL);
    CHECK(s1 != NULL && s2 != NULL);
    csock *all[] = {c4, c6, s1, s2, l};
    for (size_t i = 0; i < 5; i++)
        csock_free(all[i]);
}

static void reuse_port_shares_a_port(void)
{
    csock_listen_options o = {.reuse_port = 1};
    csock *a = csock_create_server("127.0.0.1", 0, &o);
    CHECK(a != NULL);
    csock_addr addr;
    csock_getsockname(a, &addr);
    csock *b = csock_create_server("127.0.0.1", csock_addr_port(&addr), &o);
    CHECK(b != NULL);
    csock_free(a);
    csock_free(b);
}

/* A server on a ready-made address, bound as it is: an abstract name with a NUL in it, which no
 * text can name. */
static void server_on_an_address(void)
{
    char name[64];
    int n = snprintf(name, sizeof name, "@csock-create-%d", (int)getpid());
    name[n++] = '\0';
    name[n++] = 'z';
    csock_addr a, got;
    CHECK_EQ(csock_addr_unix(&a, name, (size_t)n), 0);
    csock *l = csock_create_server_addr(&a, NULL);
    CHECK(l != NULL);
    CHECK_EQ(csock_family(l), AF_UNIX);
    CHECK_EQ(csock_getsockname(l, &got), 0);
    CHECK(got.len == a.len && memcmp(&got.ss, &a.ss, a.len) == 0);
    csock *c = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect_addr(c, &a), 0);
    csock *s = csock_accept(l, NULL);
    CHECK(s != NULL);
    csock_free(s);
    csock_free(c);
    csock_free(l);
    /* An IP address: the options apply as to csock_create_server. */
    CHECK_EQ(csock_addr_parse(&a, "[::1]:0"), 0);
    l = csock_create_server_addr(&a, NULL);
    CHECK(l != NULL);
    int v = 0;
    CHECK_EQ(csock_getsockopt_int(l, IPPROTO_IPV6, IPV6_V6ONLY, &v), 0);
    CHECK(v != 0);
    csock_free(l);
    csock_listen_options v4 = {.family = AF_INET};
    CHECK(csock_create_server_addr(&a, &v4) == NULL);
    CHECK_STR(csock_lasterror(),
              "create_server [::1]:0: an AF_INET6 address for an AF_INET socket");
    csock_addr empty = {0};
    CHECK(csock_create_server_addr(&empty, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "create_server: no address");
    CHECK(csock_create_server_addr(NULL, NULL) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "create_server: no address");
}

/* Unix text: a path is no host to look up, and takes no port or source of another family. */
static void unix_text_for_create(void)
{
    CHECK(csock_create_server("unix:x.sock", 80, NULL) == NULL);
    CHECK_STR(csock_lasterror(), "bind unix:x.sock: a Unix address has no port (got 80)");
    CHECK(csock_create_connection("unix:x.sock", 80, 1, NULL) == NULL);
    CHECK_STR(csock_lasterror(), "connect unix:x.sock: a Unix address has no port (got 80)");
    csock_addr any4;
    CHECK_EQ(csock_addr_parse(&any4, "0.0.0.0:0"), 0);
    CHECK(csock_create_connection("/tmp/x.sock", 0, 1, &any4) == NULL);
    CHECK_STR(csock_lasterror(), "connect /tmp/x.sock: an AF_UNIX address for an AF_INET socket");
    CHECK(csock_create_connection("/nonexistent/x.sock", 0, 1, NULL) == NULL);
    CHECK_STR(csock_lasterror(), "connect /nonexistent/x.sock: No such file or directory");
    CHECK_EQ(csock_lastcode(), CSOCK_ENOENT);
    /* "./rel" names a path only where the family is AF_UNIX already; elsewhere it is a name
     * to look up, which no_dns.sh keeps on this machine. */
    CHECK(csock_create_connection("./rel", 0, 1, NULL) == NULL);
    CHECK_ERROR(CSOCK_EAI_NONAME, "connect ./rel:0: ");
    CHECK(csock_create_server("./rel", 0, NULL) == NULL);
    CHECK_ERROR(CSOCK_EAI_NONAME, "bind ./rel:0: ");
    CHECK(csock_getaddrinfo("rel.sock", 0, 0, 0, 0, 0) == NULL);
    csock_listen_options unix_family = {.family = AF_UNIX, .type = SOCK_DGRAM};
    char dir[] = "/tmp/csock-create-XXXXXX", old[4096];
    CHECK(mkdtemp(dir) != NULL);
    CHECK(getcwd(old, sizeof old) != NULL);
    CHECK_EQ(chdir(dir), 0);
    csock *u = csock_create_server("./rel", 0, &unix_family);
    CHECK(u != NULL);
    csock_free(u);
    unlink("rel");
    CHECK_EQ(chdir(old), 0);
    rmdir(dir);
}

int main(void)
{
    check_watchdog(60);
    RUN(connects_by_name_trying_each_address);
    RUN(failure_lists_every_address);
    RUN(timeout_bounds_the_whole_attempt);
    RUN(a_hanging_ipv6_address_is_raced);
    RUN(source_address);
    RUN(failed_bind_is_listed_whole);
    RUN(listen_options);
    RUN(dualstack_accepts_both_families);
    RUN(reuse_port_shares_a_port);
    RUN(server_on_an_address);
    RUN(unix_text_for_create);
    return check_done();
}
