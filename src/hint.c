/* SPDX-License-Identifier: MIT */
/* What to do next, where the system's words alone mislead a newcomer: a send on a socket never
 * connected fails with "Broken pipe", a second bind and an accept on a socket that is not
 * listening both with "Invalid argument", a port below 1024 with "Permission denied". Looked at
 * only once a call has failed with one of those codes, so it costs nothing on success. */
#define _GNU_SOURCE /* struct tcp_info */
#include "internal.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>

/* Whether s is listening. */
static int listening(const csock *s)
{
    int on = 0;
    socklen_t len = sizeof on;
    return getsockopt(s->fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* Whether the stream socket s was never connected: no peer now, and for TCP no connection ever
 * tried (the kernel sets the MSS it advertises when it builds a first SYN). */
static int never_connected(const csock *s)
{
    csock_addr peer;
    socklen_t len = sizeof peer.ss;
    if (getpeername(s->fd, (struct sockaddr *)&peer.ss, &len) == 0 || s->peer.len > 0) return 0;
    if (s->family != AF_INET && s->family != AF_INET6) return 1;
    struct tcp_info info;
    len = sizeof info;
    return getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
           info.tcpi_state == TCP_CLOSE && info.tcpi_advmss == 0;
}

/* The lowest port an unprivileged process may bind (Linux's sysctl; 1024 unless lowered). */
static int unprivileged_port_start(void)
{
    int port = 1024;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
    if (f) {
        if (fscanf(f, "%d", &port) != 1) port = 1024;
        fclose(f);
    }
    return port;
}

const char *csock__hint(const csock *s, int code, const char *op, const csock_addr *addr,
                        char buf[CSOCK__HINT_MAX])
{
    int sending = op[0] == 's', receiving = op[0] == 'r';
    if ((sending || receiving) && (code == CSOCK_EPIPE || code == CSOCK_ENOTCONN)) {
        if (listening(s))
            return "the socket is listening: send and receive on the sockets csock_accept returns";
        if (s->type != SOCK_DGRAM && never_connected(s))
            return "the socket is not connected: csock_connect it first";
        return NULL;
    }
    if (sending && code == CSOCK_EDESTADDRREQ)
        return "the socket is not connected: give the address with csock_sendto, or csock_connect "
               "it first";
    if (op[0] == 'a' && code == CSOCK_EINVAL && !listening(s))
        return "the socket is not listening: csock_listen first";
    if (op[0] == 'b' && code == CSOCK_EINVAL) {
        csock_addr self;
        socklen_t len = sizeof self.ss;
        if (getsockname(s->fd, (struct sockaddr *)&self.ss, &len) < 0) return NULL;
        self.len = len;
        int bound = s->family == AF_UNIX ? len > sizeof(sa_family_t) : csock_addr_port(&self) > 0;
        if (!bound) return NULL;
        char where[CSOCK_ADDRSTRLEN];
        snprintf(buf, CSOCK__HINT_MAX, "the socket is already bound, to %s",
                 csock__addr_text(&self, where));
        return buf;
    }
    if (op[0] == 'b' && code == CSOCK_EACCES && addr && addr->ss.ss_family != AF_UNIX) {
        int port = csock_addr_port(addr), start = unprivileged_port_start();
        if (port <= 0 || port >= start) return NULL;
        snprintf(buf, CSOCK__HINT_MAX,
                 "ports below %d need root or the CAP_NET_BIND_SERVICE capability; the sysctl "
                 "net.ipv4.ip_unprivileged_port_start sets that limit",
                 start);
        return buf;
    }
    return NULL;
}
