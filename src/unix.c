/* SPDX-License-Identifier: MIT */
/* Unix-domain sockets: binding over a stale socket file safely, the file's mode, the peer's
 * credentials, and passing descriptors. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int require_unix(const csock *s, const char *op, const char *what)
{
    int rc = csock__check(s, op);
    if (rc < 0) return rc;
    if (s->family != AF_UNIX) {
        char fbuf[24];
        return csock__failf(CSOCK_EAFNOSUPPORT, "%s: %s needs an AF_UNIX socket, not %s", op, what,
                            csock__family_name(s->family, fbuf));
    }
    return 0;
}

enum path_state { PATH_LIVE, PATH_STALE, PATH_NOT_A_SOCKET, PATH_UNKNOWN };

/* What holds the socket file that bind found in use: a live socket, a file nobody is bound to
 * any more, or something that is not a socket at all. The probe is a datagram socket, whatever
 * s's type, because connecting one to a path makes no connection: the kernel answers
 * ECONNREFUSED when no socket is bound to the path, EPROTOTYPE when a stream or seqpacket socket
 * is (listening or not), and connects (or, if that socket is connected elsewhere, EPERM) when a
 * datagram socket is. A stream probe would be accepted by a live server as a client nobody
 * made. (An abstract name needs no probe: it lives exactly as long as its socket.) */
static enum path_state probe_path(const char *file, const csock_addr *addr)
{
    struct stat st;
    if (lstat(file, &st) == 0 && !S_ISSOCK(st.st_mode)) return PATH_NOT_A_SOCKET;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return PATH_UNKNOWN;
    int rc = connect(fd, (const struct sockaddr *)&addr->ss, addr->len);
    int err = rc < 0 ? errno : 0;
    close(fd);
    if (err == ECONNREFUSED) return PATH_STALE;
    if (err == 0 || err == EPROTOTYPE || err == EPERM) return PATH_LIVE;
    return PATH_UNKNOWN; /* EACCES, say: the file's state stays unknown, and it stays */
}

/* The file a Unix address names, NUL-terminated in file; "" for an abstract or unnamed one. */
static void file_of(const csock_addr *addr,
                    char file[sizeof(((struct sockaddr_un *)0)->sun_path) + 1])
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&addr->ss;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t n = addr->len > off ? addr->len - off : 0;
    if (n > sizeof un->sun_path) n = sizeof un->sun_path;
    n = strnlen(un->sun_path, n); /* 0 for an abstract name, whose first byte is NUL */
    memcpy(file, un->sun_path, n);
    file[n] = '\0';
}

int csock__bind_unix_addr(csock *s, const csock_addr *addr, int mode, int replace_stale)
{
    char where[CSOCK_ADDRSTRLEN], file[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    csock__addr_text(addr, where);
    if (mode < 0 || mode > 07777)
        return csock__failf(CSOCK_EINVAL, "bind %s: mode %o is not a file mode", where, mode);
    file_of(addr, file);
    const struct sockaddr *sa = (const struct sockaddr *)&addr->ss;
    int rc = bind(s->fd, sa, addr->len) < 0 ? csock__errno() : 0;
    const char *why = NULL;
    if (rc == CSOCK_EADDRINUSE && !file[0]) {
        /* Abstract names are one namespace per socket type, and a name is in use only while a
         * socket holds it. */
        why = " (another socket of this type holds the name)";
    } else if (rc == CSOCK_EADDRINUSE) {
        switch (probe_path(file, addr)) {
        case PATH_LIVE:
            why = " (a server is listening there)";
            break;
        case PATH_NOT_A_SOCKET:
            why = " (the path is taken by a file that is not a socket)";
            break;
        case PATH_STALE:
            if (!replace_stale) {
                why = " (a stale socket file: its server is gone)";
            } else if (unlink(file) == 0) {
                rc = bind(s->fd, sa, addr->len) < 0 ? csock__errno() : 0;
                if (csock__tracing()) csock__trace("bind %s: removed a stale socket file", where);
            }
            break;
        case PATH_UNKNOWN:
            break;
        }
    }
    /* Before listen, nobody can connect yet: the mode is in place before the first client. */
    if (rc == 0 && mode && file[0] && chmod(file, (mode_t)mode) < 0) {
        rc = csock__errno();
        why = " (setting the socket file's mode)";
        unlink(file);
    }
    if (csock__tracing()) csock__trace("bind %s -> %s", where, csock__result_text(rc));
    if (rc < 0) return csock__failf(rc, "bind %s: %s%s", where, csock_strerror(rc), why ? why : "");
    return 0;
}

int csock_bind_unix(csock *s, const char *path, int mode, int replace_stale)
{
    int rc = require_unix(s, "bind", "csock_bind_unix");
    if (rc < 0) return rc;
    if (!path) return csock__failf(CSOCK_EINVAL, "bind: NULL path");
    if (mode < 0 || mode > 07777)
        return csock__failf(CSOCK_EINVAL, "bind %.300s: mode %o is not a file mode", path, mode);
    const char *name = csock__unix_text(path, AF_UNIX);
    csock_addr addr;
    if ((rc = csock__unix_addr(&addr, name, strlen(name), "bind")) < 0) return rc;
    return csock__bind_unix_addr(s, &addr, mode, replace_stale);
}

int csock_getpeercred(csock *s, csock_cred *out)
{
    int rc = require_unix(s, "getpeercred", "peer credentials");
    if (rc < 0) return rc;
    if (!out) return csock__failf(CSOCK_EINVAL, "getpeercred: NULL output");
    struct ucred cred;
    socklen_t len = sizeof cred;
    rc = getsockopt(s->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ? csock__errno() : 0;
    if (rc == 0 && cred.pid == 0) rc = CSOCK_ENOTCONN; /* Linux answers zeros when unconnected */
    if (csock__tracing()) {
        if (rc < 0)
            csock__trace("getpeercred -> %s", csock_strerror(rc));
        else
            csock__trace("getpeercred -> pid %d uid %u gid %u", (int)cred.pid, (unsigned)cred.uid,
                         (unsigned)cred.gid);
    }
    if (rc < 0) return csock__fail(rc, "getpeercred", &s->peer);
    out->pid = cred.pid;
    out->uid = cred.uid;
    out->gid = cred.gid;
    return 0;
}

/* Room for CSOCK_MAX_FDS descriptors, aligned for cmsghdr. */
union fd_control {
    char buf[CMSG_SPACE(CSOCK_MAX_FDS * sizeof(int))];
    struct cmsghdr align;
};

ssize_t csock_send_fds(csock *s, const void *buf, size_t len, const int *fds, size_t nfds)
{
    int rc = require_unix(s, "send_fds", "passing descriptors");
    if (rc < 0) return rc;
    if (!fds || nfds == 0 || nfds > CSOCK_MAX_FDS)
        return csock__failf(CSOCK_EINVAL, "send_fds: %zu descriptors; 1 to %d can be sent", nfds,
                            CSOCK_MAX_FDS);
    if (len == 0 && s->type == SOCK_STREAM)
        return csock__failf(CSOCK_EINVAL,
                            "send_fds: a stream needs at least one byte of data to carry "
                            "descriptors");
    for (size_t i = 0; i < nfds; i++)
        if (fds[i] < 0)
            return csock__failf(CSOCK_EINVAL, "send_fds: descriptor %zu is %d", i, fds[i]);
    union fd_control control;
    memset(&control, 0, sizeof control);
    struct msghdr h = {.msg_control = control.buf,
                       .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    struct iovec iov = {(void *)buf, len};
    csock_msg m = {
        .iov = &iov, .iovcnt = 1, .control = control.buf, .controllen = h.msg_controllen};
    return csock__sendmsg(s, &m, 0, "send_fds");
}

/* Stores the descriptors of a received message's SCM_RIGHTS data in fds (up to maxfds), counting
 * them in *nfds. */
static void take_fds(const void *control, size_t controllen, int *fds, size_t maxfds, size_t *nfds)
{
    struct msghdr h = {.msg_control = (void *)control, .msg_controllen = controllen};
    for (struct cmsghdr *c = controllen ? CMSG_FIRSTHDR(&h) : NULL; c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count && *nfds < maxfds; i++)
            memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
}

ssize_t csock_recv_fds(csock *s, void *buf, size_t len, int *fds, size_t maxfds, size_t *nfds)
{
    if (nfds) *nfds = 0;
    int rc = require_unix(s, "recv_fds", "passing descriptors");
    if (rc < 0) return rc;
    if (!nfds) return csock__failf(CSOCK_EINVAL, "recv_fds: NULL nfds");
    if (!fds && maxfds > 0)
        return csock__failf(CSOCK_EINVAL, "recv_fds: NULL fds for %zu descriptors", maxfds);
    /* No message carries more than CSOCK_MAX_FDS: room for that many holds any message. */
    if (maxfds > CSOCK_MAX_FDS) maxfds = CSOCK_MAX_FDS;
    union fd_control control;
    struct iovec iov = {buf, len};
    /* Exactly maxfds fit: one more and the kernel cuts the control data (MSG_CTRUNC), which
     * csock__recvmsg reports after closing what arrived. */
    csock_msg m = {.iov = &iov,
                   .iovcnt = 1,
                   .control = maxfds ? control.buf : NULL,
                   .controllen = maxfds ? CMSG_LEN(maxfds * sizeof(int)) : 0};
    ssize_t n = csock__recvmsg(s, &m, 0, "recv_fds");
    if (n < 0) return n;
    take_fds(control.buf, m.controllen, fds, maxfds, nfds);
    if (CSOCK_UNLIKELY(m.flags & MSG_TRUNC)) {
        /* As csock_recv: a cut datagram is an error, and the descriptors that came with it are
         * closed rather than left to a caller who sees only the error. */
        for (size_t i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        return csock__datagram_cut(s, "recv_fds", len, (ssize_t)m.size, NULL);
    }
    return n;
}
