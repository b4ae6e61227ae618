/* SPDX-License-Identifier: MIT */
/* Error codes: values, names, texts, and the per-thread message. */
#include "check.h"

static void codes_are_negative_errno(void)
{
    CHECK_EQ(CSOCK_ECONNREFUSED, -ECONNREFUSED);
    CHECK_EQ(CSOCK_EADDRINUSE, -EADDRINUSE);
    CHECK_EQ(CSOCK_EAGAIN, -EAGAIN);
    CHECK(CSOCK_ETIMEOUT != CSOCK_ETIMEDOUT);
    CHECK_EQ(CSOCK_EAI_NONAME, -3007);
    CHECK_EQ(CSOCK_ETIMEOUT, -4000);
}

/* System errors, resolver errors and csock's own each keep to their named range. */
static void ranges_do_not_overlap(void)
{
    CHECK(CSOCK_ERRNO_LAST < -ENOTRECOVERABLE && CSOCK_ERRNO_LAST < -EHWPOISON);
    CHECK_EQ(CSOCK_RESOLVER_FIRST, CSOCK_ERRNO_LAST - 1);
    CHECK_EQ(CSOCK_EAI_ADDRFAMILY, CSOCK_RESOLVER_FIRST);
    CHECK(CSOCK_EAI_OVERFLOW < CSOCK_RESOLVER_FIRST && CSOCK_EAI_OVERFLOW > CSOCK_OWN_FIRST);
    /* Every code csock names has a text of its own, never the system's "Unknown error". */
    CHECK_STR(csock_strerror(CSOCK_EAI_OVERFLOW), "Buffer too small for the name or service");
#define CHECK_NAMED_TEXT_(name, value) CHECK(strstr(csock_strerror(value), "Unknown") == NULL);
    CSOCK_RESOLVER_MAP(CHECK_NAMED_TEXT_)
#undef CHECK_NAMED_TEXT_
    CHECK_EQ(CSOCK_ETIMEOUT, CSOCK_OWN_FIRST);
    /* A code in csock's ranges that names nothing is unknown, not some errno's text. */
    CHECK_STR(csock_strerror(CSOCK_RESOLVER_FIRST - 500), "Unknown error -3500");
    CHECK_STR(csock_errname(CSOCK_OWN_FIRST - 100), "EUNKNOWN");
    /* Unknown is said with the code as given, wherever it lies: the caller holds -2999, not
     * the errno 2999 the system has no text for. */
    CHECK_STR(csock_strerror(CSOCK_ERRNO_LAST), "Unknown error -2999");
    CHECK_STR(csock_strerror(-500), "Unknown error -500");
    CHECK_STR(csock_strerror(CSOCK_OWN_FIRST + 1), "Unknown error -3999");
    CHECK_STR(csock_strerror(-EHWPOISON), "Memory page has hardware error"); /* the last known */
}

static void names_and_texts(void)
{
    CHECK_STR(csock_errname(CSOCK_ECONNREFUSED), "ECONNREFUSED");
    CHECK_STR(csock_strerror(CSOCK_ECONNREFUSED), "Connection refused");
    CHECK_STR(csock_errname(CSOCK_EAI_NONAME), "EAI_NONAME");
    CHECK_STR(csock_strerror(CSOCK_EAI_NONAME), "Name or service not known");
    CHECK_STR(csock_errname(CSOCK_ETIMEOUT), "ETIMEOUT");
    CHECK_STR(csock_strerror(CSOCK_ETIMEOUT), "timed out");
    CHECK_STR(csock_strerror(CSOCK_ETIMEDOUT), "Connection timed out");
    /* TLS's codes are named even where TLS is not built: one table for every build. */
    CHECK_STR(csock_errname(CSOCK_ETLS), "ETLS");
    CHECK_STR(csock_errname(CSOCK_ETLSVERIFY), "ETLSVERIFY");
    CHECK_STR(csock_errname(CSOCK_ETLSEOF), "ETLSEOF");
    CHECK_STR(csock_strerror(CSOCK_ETLSVERIFY), "certificate verify failed");
    CHECK_STR(csock_errname(-ENOTEMPTY), "ENOTEMPTY"); /* not in csock's table: from libc */
    CHECK_STR(csock_errname(-12345), "EUNKNOWN");
    CHECK_STR(csock_strerror(-12345), "Unknown error -12345");
    CHECK_STR(csock_errname(0), "OK");
}

static void *other_thread(void *arg)
{
    (void)arg;
    csock_addr a;
    CHECK_EQ(csock_lastcode(), 0); /* a new thread starts with no error */
    CHECK_EQ(csock_addr_parse(&a, "1.2.3.4:99999"), CSOCK_EINVAL);
    return NULL;
}

static void message_is_per_thread(void)
{
    csock_addr a;
    CHECK_EQ(csock_addr_parse(&a, "nope"), CSOCK_EINVAL);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", csock_lasterror());
    check_join(check_thread(other_thread, NULL));
    CHECK_STR(csock_lasterror(), mine);
    CHECK_EQ(csock_lastcode(), CSOCK_EINVAL);
}

static void success_leaves_message(void)
{
    csock_addr a;
    CHECK_EQ(csock_addr_parse(&a, "x"), CSOCK_EINVAL);
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:80"), 0);
    CHECK_EQ(csock_lastcode(), CSOCK_EINVAL);
    CHECK(strstr(csock_lasterror(), "\"x\"") != NULL);
}

int main(void)
{
    check_watchdog(60);
    RUN(codes_are_negative_errno);
    RUN(names_and_texts);
    RUN(ranges_do_not_overlap);
    RUN(message_is_per_thread);
    RUN(success_leaves_message);
    return check_done();
}
