/* SPDX-License-Identifier: MIT */
/* Name resolution, without DNS: runs under no_dns.sh, where only /etc/hosts answers. */
#include "check.h"

#include <netdb.h>

static void unknown_host_is_an_error(void)
{
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect(s, "nosuch.invalid", 80), CSOCK_EAI_NONAME);
    CHECK_STR(csock_lasterror(), "connect nosuch.invalid:80: Name or service not known");
    CHECK_EQ(csock_bind(s, "nosuch.invalid", 0), CSOCK_EAI_NONAME);
    CHECK_STR(csock_lasterror(), "bind nosuch.invalid:0: Name or service not known");
    CHECK(csock_create_connection("nosuch.invalid", 80, 1, NULL) == NULL);
    CHECK_STR(csock_lasterror(), "connect nosuch.invalid:80: Name or service not known");
    CHECK_EQ(csock_lastcode(), CSOCK_EAI_NONAME);
    csock_addr a;
    CHECK_EQ(csock_addr_resolve(&a, "nosuch.invalid", 80, 0), CSOCK_EAI_NONAME);
    CHECK_STR(csock_lasterror(), "resolve nosuch.invalid:80: Name or service not known");
    CHECK(csock_getaddrinfo("nosuch.invalid", 80, 0, 0, 0, 0) == NULL);
    CHECK_EQ(csock_lastcode(), CSOCK_EAI_NONAME);
    csock_free(s);
}

static void names_resolve(void)
{
    csock_addr a;
    char text[CSOCK_ADDRSTRLEN];
    CHECK_EQ(csock_addr_resolve(&a, "localhost", 8080, AF_INET), 0);
    csock_addr_format(&a, text, sizeof text);
    CHECK_STR(text, "127.0.0.1:8080");
    CHECK_EQ(csock_addr_resolve(&a, "csock-dual", 1, AF_INET6), 0);
    csock_addr_format(&a, text, sizeof text);
    CHECK_STR(text, "[::1]:1");
    CHECK_EQ(csock_addr_resolve(&a, "::1", 2, 0), 0); /* numeric needs no lookup */
    CHECK_EQ(csock_addr_resolve(&a, "localhost", 70000, 0), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "resolve localhost:70000: port out of range (0-65535)");
    /* Binding by name: the step the tutorial names "a host name or IP address". */
    csock *s = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind(s, "localhost", 0), 0);
    csock_getsockname(s, &a);
    csock_addr_host(&a, text, sizeof text);
    CHECK_STR(text, "127.0.0.1");
    csock_free(s);
}

static void connect_message_names_both(void)
{
    csock *holder;
    int port = check_refusing_port("127.0.0.1", &holder);
    csock *c = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect(c, "localhost", port), CSOCK_ECONNREFUSED);
    char want[128];
    snprintf(want, sizeof want, "connect localhost:%d (127.0.0.1:%d): Connection refused", port,
             port);
    CHECK_STR(csock_lasterror(), want);
    csock_free(c);
    csock_free(holder);
}

static void getaddrinfo_list(void)
{
    csock_addrlist *list = csock_getaddrinfo("csock-dual", 443, 0, SOCK_STREAM, 0, AI_CANONNAME);
    CHECK(list != NULL);
    CHECK_EQ(list->count, 2);
    char text[CSOCK_ADDRSTRLEN];
    csock_addr_format(&list->items[0].addr, text, sizeof text);
    CHECK_STR(text, "[::1]:443");
    CHECK_EQ(list->items[0].family, AF_INET6);
    CHECK_EQ(list->items[0].type, SOCK_STREAM);
    csock_addr_format(&list->items[1].addr, text, sizeof text);
    CHECK_STR(text, "127.0.0.1:443");
    CHECK(list->canonname != NULL && strcmp(list->canonname, "csock-dual") == 0);
    csock_freeaddrinfo(list);
    csock_freeaddrinfo(NULL);
    list = csock_getaddrinfo(NULL, 80, AF_INET, SOCK_STREAM, 0, AI_PASSIVE);
    CHECK(list != NULL && list->count == 1);
    csock_addr_format(&list->items[0].addr, text, sizeof text);
    CHECK_STR(text, "0.0.0.0:80");
    csock_freeaddrinfo(list);
    CHECK(csock_getaddrinfo("localhost", 65536, 0, 0, 0, 0) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "getaddrinfo localhost:65536: port out of range");
}

static void getnameinfo_names(void)
{
    csock_addr a;
    char host[64], serv[16];
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:80"), 0);
    CHECK_EQ(csock_getnameinfo(&a, NI_NUMERICHOST | NI_NUMERICSERV, host, sizeof host, serv,
                               sizeof serv),
             0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_STR(serv, "80");
    CHECK_EQ(csock_getnameinfo(&a, NI_NAMEREQD, host, sizeof host, NULL, 0), 0);
    CHECK_STR(host, "localhost");
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.9:80"), 0);
    CHECK_EQ(csock_getnameinfo(&a, NI_NAMEREQD, host, sizeof host, NULL, 0), CSOCK_EAI_NONAME);
    CHECK_STR(csock_lasterror(), "getnameinfo 127.0.0.9:80: Name or service not known");
    csock_addr empty = {0};
    CHECK_EQ(csock_getnameinfo(&empty, 0, host, sizeof host, NULL, 0), CSOCK_EINVAL);
}

/* A numeric host's answer is getaddrinfo's own, item for item, for every family and type asked
 * (csock answers some of them without getaddrinfo). */
static void numeric_hosts_answer_as_getaddrinfo(void)
{
    static const char *const hosts[] = {
        "127.0.0.1", "::1",   "0.0.0.0",   "::",      "::ffff:127.0.0.1",
        "fe80::1%1", "127.1", "1.2.3.256", "10.0.0.1"};
    static const int families[] = {0, AF_INET, AF_INET6};
    static const int types[][2] = {{SOCK_STREAM, 0},           {SOCK_DGRAM, 0},
                                   {SOCK_STREAM, IPPROTO_TCP}, {SOCK_DGRAM, IPPROTO_UDP},
                                   {SOCK_STREAM, IPPROTO_UDP}, {0, 0},
                                   {SOCK_RAW, IPPROTO_ICMP}};
    for (size_t h = 0; h < sizeof hosts / sizeof *hosts; h++)
        for (size_t f = 0; f < sizeof families / sizeof *families; f++)
            for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
                struct addrinfo hints = {.ai_family = families[f],
                                         .ai_socktype = types[t][0],
                                         .ai_protocol = types[t][1]},
                                *res = NULL;
                int gai = getaddrinfo(hosts[h], "8080", &hints, &res);
                csock_addrlist *list =
                    csock_getaddrinfo(hosts[h], 8080, families[f], types[t][0], types[t][1], 0);
                if ((gai != 0) != (list == NULL))
                    fprintf(stderr,
                            "%s, family %d, type %d, protocol %d: getaddrinfo %s, csock %s\n",
                            hosts[h], families[f], types[t][0], types[t][1],
                            gai ? gai_strerror(gai) : "answers", list ? "answers" : "fails");
                CHECK((gai != 0) == (list == NULL));
                if (gai != 0) {
                    csock_freeaddrinfo(list);
                    continue;
                }
                size_t i = 0;
                for (struct addrinfo *ai = res; list && ai; ai = ai->ai_next, i++) {
                    CHECK(i < list->count);
                    if (i >= list->count) break;
                    const csock_addrinfo *it = &list->items[i];
                    CHECK_EQ(it->family, ai->ai_family);
                    CHECK_EQ(it->type, ai->ai_socktype);
                    CHECK_EQ(it->protocol, ai->ai_protocol);
                    CHECK_EQ((int)it->addr.len, (int)ai->ai_addrlen);
                    CHECK(memcmp(&it->addr.ss, ai->ai_addr, ai->ai_addrlen) == 0);
                }
                if (list) CHECK_EQ((int)list->count, (int)i);
                freeaddrinfo(res);
                csock_freeaddrinfo(list);
            }
}

int main(void)
{
    check_watchdog(60);
    RUN(unknown_host_is_an_error);
    RUN(names_resolve);
    RUN(connect_message_names_both);
    RUN(getaddrinfo_list);
    RUN(numeric_hosts_answer_as_getaddrinfo);
    RUN(getnameinfo_names);
    return check_done();
}
