/* SPDX-License-Identifier: MIT */
/* Fuzzes csock_recvmsg's handling of control data: descriptors passed with SCM_RIGHTS (in one or
 * two messages, over stream or datagram Unix sockets) arrive in a control buffer of the fuzzer's
 * size. Whatever the size, every descriptor is either handed over, close-on-exec, in control
 * data that walks cleanly, or closed by the call, which then fails with CSOCK_EMSGSIZE and says
 * so: the process's descriptor count comes back to where it was. Built with -fsanitize=fuzzer
 * when CSOCK_FUZZ is on.
 *
 * Input: descriptors in the first and second control message, the control buffer's size, the
 * socket type and the receive buffer's size, then the bytes sent. */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FDS_MAX 8

/* Builds up to two SCM_RIGHTS messages of counts[0] and counts[1] copies of fd. Returns the
 * control length. */
static size_t rights(void *control, const int counts[2], int fd)
{
    struct msghdr h = {.msg_control = control,
                       .msg_controllen = CMSG_SPACE(FDS_MAX * sizeof(int)) * 2};
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    size_t len = 0;
    for (int m = 0; m < 2; m++) {
        if (counts[m] == 0) continue;
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(counts[m] * sizeof(int));
        for (int i = 0; i < counts[m]; i++)
            memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof fd);
        len += CMSG_SPACE(counts[m] * sizeof(int));
        c = (struct cmsghdr *)((char *)control + len);
    }
    return len;
}

/* Closes every descriptor in the control data that arrived; returns how many, or -1 if one is
 * not close-on-exec or the data does not walk inside its length. */
static int take_rights(void *control, size_t controllen)
{
    struct msghdr h = {.msg_control = control, .msg_controllen = controllen};
    int n = 0, bad = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if ((char *)c + c->cmsg_len > (char *)control + controllen) return -1;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC)) bad = 1;
            close(fd);
            n++;
        }
    }
    return bad ? -1 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 6) return 0;
    int counts[2] = {data[0] % (FDS_MAX + 1), data[1] % 4};
    size_t controlsize = data[2] % 160;
    int type = data[3] & 1 ? SOCK_DGRAM : SOCK_STREAM;
    size_t bufsize = data[4] % 64;
    const uint8_t *payload = data + 5;
    size_t len = size - 5;
    if (len > 512) len = 512;

    int before = check_open_fds();
    csock *pair[2];
    if (csock_socketpair(AF_UNIX, type, 0, pair) < 0) abort();
    union {
        char buf[CMSG_SPACE(FDS_MAX * sizeof(int)) * 2];
        struct cmsghdr align;
    } out;
    memset(&out, 0, sizeof out);
    int fd = csock_fileno(pair[0]);
    struct iovec siov = {(void *)payload, len};
    csock_msg sm = {.iov = &siov, .iovcnt = 1, .control = out.buf};
    sm.controllen = rights(out.buf, counts, fd);
    if (!sm.controllen) sm.control = NULL;
    if (csock_sendmsg(pair[0], &sm, 0) != (ssize_t)len) abort();

    /* The receiving buffers have exactly their sizes, so an over-read or over-write is caught. */
    char *buf = malloc(bufsize ? bufsize : 1), *control = controlsize ? malloc(controlsize) : NULL;
    if (!buf || (controlsize && !control)) abort();
    struct iovec riov = {buf, bufsize};
    csock_msg rm = {.iov = &riov, .iovcnt = 1, .control = control, .controllen = controlsize};
    csock_settimeout(pair[1], 0);
    ssize_t n = csock_recvmsg(pair[1], &rm, 0);
    if (n >= 0) {
        if (rm.controllen > controlsize || (size_t)n > bufsize) abort();
        int got = take_rights(control, rm.controllen);
        if (got < 0 || got > counts[0] + counts[1]) abort();
    } else if (n == CSOCK_EMSGSIZE) {
        if (!strstr(csock_lasterror(), "ancillary data cut") || rm.controllen != 0) abort();
    } else if (!(n == CSOCK_EAGAIN && len == 0)) {
        abort(); /* an empty stream write sends nothing, so nothing arrives */
    }
    free(buf);
    free(control);
    csock_free(pair[0]);
    csock_free(pair[1]);
    if (check_open_fds() != before) abort(); /* a descriptor leaked */
    return 0;
}
