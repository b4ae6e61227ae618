/* SPDX-License-Identifier: MIT */
/* A preloaded shim that makes socket calls misbehave the way the kernel is allowed to: stream
 * transfers that move fewer bytes than asked (down to one), EINTR before a call that could block
 * has had any effect, and EAGAIN from a non-blocking descriptor that looked ready. Each fault is
 * a real outcome of the real system call, never an invented one: a shortened send really sends
 * only the bytes it reports, a shortened receive asks the kernel for fewer bytes, and an
 * interrupted TCP connect goes on in the background as connect(2) describes.
 *
 * Set by the environment (tests/faults/README.md):
 *   CSOCK_FAULTS_SEED  the seed (default 1); the same seed gives each thread the same choices
 *   CSOCK_FAULTS_RATE  the probability that a call is disturbed, 0 to 1 (default 0.25)
 *   CSOCK_FAULTS_KINDS which faults: a comma list of short, eintr, eagain (default all three)
 *   CSOCK_FAULTS_ONLY  a directory: only programs under it are disturbed (default: every program)
 *   CSOCK_FAULTS_LOG   "stderr", or a file to append one line per injected fault to
 *
 * Datagrams are never shortened (SOCK_DGRAM, SOCK_SEQPACKET and SOCK_RAW keep their boundaries)
 * and messages that carry control data are never split. A MSG_WAITALL receive is not shortened
 * either: the kernel cuts one short only for a signal that arrives after data, and the shim's
 * signals come before a call has any effect. Descriptors are classified afresh at
 * every fault (fstat, then getsockopt), so a reused descriptor number is never mistaken for the
 * socket it used to be. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define EXPORT       __attribute__((visibility("default")))
#define IOV_COPY_MAX 64 /* iovecs copied to shorten a vector; beyond that it is cut shorter */

enum { SHORT = 1, EINTR_FAULT = 2, EAGAIN_FAULT = 4 };

static struct {
    int active;
    uint64_t seed;
    double rate;
    int kinds;
    int log_fd; /* -1: no log */
    char exe[64];
} config = {.log_fd = -1};

static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static atomic_uint thread_count;
static _Thread_local uint64_t rng_state;
static _Thread_local int rng_ready;

/* The real functions, found when first needed: a call may come before this library's
 * constructors have run. */
#define DECLARE_REAL(ret, name, ...)                                                               \
    typedef ret (*name##_fn)(__VA_ARGS__);                                                         \
    static void *real_##name;
#define REAL(name) ((name##_fn)resolve(&real_##name, #name))

static void *resolve(void **slot, const char *name)
{
    void *f = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (!f) __atomic_store_n(slot, f = dlsym(RTLD_NEXT, name), __ATOMIC_RELAXED);
    return f;
}

DECLARE_REAL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t)
DECLARE_REAL(ssize_t, sendmsg, int, const struct msghdr *, int)
DECLARE_REAL(int, sendmmsg, int, struct mmsghdr *, unsigned int, int)
DECLARE_REAL(ssize_t, write, int, const void *, size_t)
DECLARE_REAL(ssize_t, writev, int, const struct iovec *, int)
DECLARE_REAL(ssize_t, sendfile, int, int, off_t *, size_t)
DECLARE_REAL(ssize_t, splice, int, off_t *, int, off_t *, size_t, unsigned int)
DECLARE_REAL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *)
DECLARE_REAL(ssize_t, recvmsg, int, struct msghdr *, int)
DECLARE_REAL(int, recvmmsg, int, struct mmsghdr *, unsigned int, int, struct timespec *)
DECLARE_REAL(ssize_t, read, int, void *, size_t)
DECLARE_REAL(ssize_t, readv, int, const struct iovec *, int)
DECLARE_REAL(int, accept4, int, struct sockaddr *, socklen_t *, int)
DECLARE_REAL(int, connect, int, const struct sockaddr *, socklen_t)
DECLARE_REAL(int, poll, struct pollfd *, nfds_t, int)
DECLARE_REAL(int, ppoll, struct pollfd *, nfds_t, const struct timespec *, const sigset_t *)
DECLARE_REAL(int, epoll_wait, int, struct epoll_event *, int, int)
DECLARE_REAL(int, epoll_pwait, int, struct epoll_event *, int, int, const sigset_t *)
DECLARE_REAL(int, select, int, fd_set *, fd_set *, fd_set *, struct timeval *)
DECLARE_REAL(int, pselect, int, fd_set *, fd_set *, fd_set *, const struct timespec *,
             const sigset_t *)

/* Reading the configuration */

static int parse_kinds(const char *text)
{
    if (!text || !*text) return SHORT | EINTR_FAULT | EAGAIN_FAULT;
    int kinds = 0;
    if (strstr(text, "short")) kinds |= SHORT;
    if (strstr(text, "eintr")) kinds |= EINTR_FAULT;
    if (strstr(text, "eagain")) kinds |= EAGAIN_FAULT;
    return kinds;
}

/* Whether this program lives under the directory CSOCK_FAULTS_ONLY names. */
static int program_selected(const char *only, const char *exe)
{
    if (!only || !*only) return 1;
    char resolved[PATH_MAX];
    if (!realpath(only, resolved)) return 0;
    size_t n = strlen(resolved);
    return strncmp(exe, resolved, n) == 0 && exe[n] == '/';
}

static void read_config(void)
{
    int saved = errno;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    const char *base = strrchr(exe, '/');
    snprintf(config.exe, sizeof config.exe, "%.63s", base ? base + 1 : exe);
    const char *seed = getenv("CSOCK_FAULTS_SEED"), *rate = getenv("CSOCK_FAULTS_RATE");
    config.seed = seed ? strtoull(seed, NULL, 0) : 1;
    config.rate = rate ? strtod(rate, NULL) : 0.25;
    config.kinds = parse_kinds(getenv("CSOCK_FAULTS_KINDS"));
    config.active =
        config.rate > 0 && config.kinds && program_selected(getenv("CSOCK_FAULTS_ONLY"), exe);
    const char *log = getenv("CSOCK_FAULTS_LOG");
    if (config.active && log && *log) {
        config.log_fd = strcmp(log, "stderr") == 0
                            ? STDERR_FILENO
                            : open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        /* A program started with standard input (or output) closed must find it closed, not
         * the log in its place. */
        if (config.log_fd >= 0 && config.log_fd <= STDERR_FILENO && strcmp(log, "stderr") != 0) {
            int high = fcntl(config.log_fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
            close(config.log_fd);
            config.log_fd = high;
        }
    }
    errno = saved;
}

static int active(void)
{
    pthread_once(&config_once, read_config);
    return config.active;
}

/* The configuration, and the log's descriptor, before the program's main: opened at its first
 * intercepted call, the log would be a descriptor more at the end of a test than at its start. */
__attribute__((constructor)) static void configure_early(void)
{
    active();
}

/* The per-thread generator: splitmix64 seeded from the seed and the thread's number. */

static uint64_t next_random(void)
{
    if (!rng_ready) {
        unsigned index = atomic_fetch_add(&thread_count, 1);
        rng_state = config.seed * 0x9E3779B97F4A7C15u + index;
        rng_ready = 1;
    }
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static int roll(void)
{
    return active() && (double)(next_random() >> 11) / (double)(1ull << 53) < config.rate;
}

/* A shorter length in [1, len - 1]: a quarter of the time a single byte. */
static size_t shorter(size_t len)
{
    if (next_random() % 4 == 0) return 1;
    return 1 + (size_t)(next_random() % (len - 1));
}

static void note(const char *fmt, ...)
{
    if (config.log_fd < 0) return;
    char line[256];
    int n = snprintf(line, sizeof line, "csock-faults %s[%d]: ", config.exe, (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof line - 1) n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t ignored = REAL(write)(config.log_fd, line, (size_t)n);
    (void)ignored;
}

/* Classifying a descriptor */

struct fd_kind {
    int socket;   /* a socket at all */
    int stream;   /* SOCK_STREAM: bytes may be split anywhere */
    int blocking; /* no O_NONBLOCK */
    int family;
};

static struct fd_kind classify(int fd)
{
    int saved = errno;
    struct fd_kind k = {0, 0, 0, 0};
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
        int type = 0, flags;
        socklen_t len = sizeof type;
        k.socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
        k.stream = k.socket && type == SOCK_STREAM;
        len = sizeof k.family;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &k.family, &len) < 0) k.family = 0;
        k.blocking = (flags = fcntl(fd, F_GETFL)) >= 0 && !(flags & O_NONBLOCK);
    }
    errno = saved;
    return k;
}

/* Chooses a fault for a call on fd, or 0. can_short says the call moves a length that may be
 * shortened (len > 1 and no control data); dontwait that the call itself asked not to block. */
static int choose(const char *op, int fd, struct fd_kind *k, int can_short, int dontwait)
{
    if (!roll()) return 0;
    *k = classify(fd);
    if (!k->socket) return 0;
    int nonblocking = !k->blocking || dontwait, choices[3], n = 0;
    if ((config.kinds & SHORT) && can_short && k->stream) choices[n++] = SHORT;
    if ((config.kinds & EINTR_FAULT) && !nonblocking) choices[n++] = EINTR_FAULT;
    if ((config.kinds & EAGAIN_FAULT) && nonblocking) choices[n++] = EAGAIN_FAULT;
    if (n == 0) return 0;
    int fault = choices[next_random() % (unsigned)n];
    if (fault == EINTR_FAULT) note("%s fd %d: EINTR", op, fd);
    if (fault == EAGAIN_FAULT) note("%s fd %d: EAGAIN", op, fd);
    return fault;
}

/* Returns -1 with errno set for an error fault, 0 to go on with the call. */
static int fail_with(int fault)
{
    if (fault == EINTR_FAULT) {
        errno = EINTR;
        return -1;
    }
    if (fault == EAGAIN_FAULT) {
        errno = EAGAIN;
        return -1;
    }
    return 0;
}

static size_t shorten(const char *op, int fd, size_t len)
{
    size_t n = shorter(len);
    note("%s fd %d: short %zu -> %zu", op, fd, len, n);
    return n;
}

static size_t iov_total(const struct iovec *iov, int count)
{
    size_t total = 0;
    for (int i = 0; i < count; i++)
        total += iov[i].iov_len;
    return total;
}

/* Copies the vector into out, cut to at most want bytes; returns the new count. */
static int iov_cut(const struct iovec *iov, int count, size_t want, struct iovec *out)
{
    int n = 0;
    while (n < count && n < IOV_COPY_MAX && want > 0) {
        out[n] = iov[n];
        if (out[n].iov_len > want) out[n].iov_len = want;
        want -= out[n].iov_len;
        n++;
    }
    return n;
}

static int iov_count(size_t count)
{
    return count > INT_MAX ? INT_MAX : (int)count;
}

/* Sending */

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
                      socklen_t tolen)
{
    struct fd_kind k;
    int fault = choose("sendto", fd, &k, len > 1, flags & MSG_DONTWAIT);
    if (fail_with(fault) < 0) return -1;
    if (fault == SHORT) len = shorten("sendto", fd, len);
    return REAL(sendto)(fd, buf, len, flags, to, tolen);
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    return sendto(fd, buf, len, flags, NULL, 0);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
    struct fd_kind k;
    int fault = choose("write", fd, &k, len > 1, 0);
    if (fail_with(fault) < 0) return -1;
    if (fault == SHORT) len = shorten("write", fd, len);
    return REAL(write)(fd, buf, len);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    int count = iov_count(msg->msg_iovlen);
    size_t total = iov_total(msg->msg_iov, count);
    struct fd_kind k;
    int fault =
        choose("sendmsg", fd, &k, total > 1 && msg->msg_controllen == 0, flags & MSG_DONTWAIT);
    if (fail_with(fault) < 0) return -1;
    if (fault != SHORT) return REAL(sendmsg)(fd, msg, flags);
    struct iovec iov[IOV_COPY_MAX];
    struct msghdr cut = *msg;
    cut.msg_iov = iov;
    cut.msg_iovlen = (size_t)iov_cut(msg->msg_iov, count, shorten("sendmsg", fd, total), iov);
    return REAL(sendmsg)(fd, &cut, flags);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int count)
{
    size_t total = count > 0 ? iov_total(iov, count) : 0;
    struct fd_kind k;
    int fault = choose("writev", fd, &k, total > 1, 0);
    if (fail_with(fault) < 0) return -1;
    if (fault != SHORT) return REAL(writev)(fd, iov, count);
    struct iovec cut[IOV_COPY_MAX];
    return REAL(writev)(fd, cut, iov_cut(iov, count, shorten("writev", fd, total), cut));
}

EXPORT int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int count, int flags)
{
    struct fd_kind k;
    if (fail_with(choose("sendmmsg", fd, &k, 0, flags & MSG_DONTWAIT)) < 0) return -1;
    return REAL(sendmmsg)(fd, msgs, count, flags);
}

EXPORT ssize_t sendfile(int out, int in, off_t *offset, size_t count)
{
    struct fd_kind k;
    int fault = choose("sendfile", out, &k, count > 1, 0);
    if (fail_with(fault) < 0) return -1;
    if (fault == SHORT) count = shorten("sendfile", out, count);
    return REAL(sendfile)(out, in, offset, count);
}

EXPORT ssize_t sendfile64(int out, int in, off_t *offset, size_t count)
{
    return sendfile(out, in, offset, count);
}

EXPORT ssize_t splice(int in, off_t *in_off, int out, off_t *out_off, size_t len,
                      unsigned int flags)
{
    struct fd_kind k;
    int dontwait = flags & SPLICE_F_NONBLOCK;
    int fault = choose("splice", in, &k, len > 1, dontwait);
    if (!k.socket && fault == 0) fault = choose("splice", out, &k, len > 1, dontwait);
    if (fail_with(fault) < 0) return -1;
    if (fault == SHORT) len = shorten("splice", k.socket ? in : out, len);
    return REAL(splice)(in, in_off, out, out_off, len, flags);
}

/* Receiving */

EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                        socklen_t *fromlen)
{
    struct fd_kind k;
    int fault = choose("recvfrom", fd, &k, len > 1 && !(flags & MSG_WAITALL), flags & MSG_DONTWAIT);
    if (fail_with(fault) < 0) return -1;
    if (fault == SHORT) len = shorten("recvfrom", fd, len);
    return REAL(recvfrom)(fd, buf, len, flags, from, fromlen);
}

EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    return recvfrom(fd, buf, len, flags, NULL, NULL);
}

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
    struct fd_kind k;
    int fault = choose("read", fd, &k, len > 1, 0);
    if (fail_with(fault) < 0) return -1;
    if (fault == SHORT) len = shorten("read", fd, len);
    return REAL(read)(fd, buf, len);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    int count = iov_count(msg->msg_iovlen);
    size_t total = iov_total(msg->msg_iov, count);
    struct fd_kind k;
    int fault =
        choose("recvmsg", fd, &k, total > 1 && msg->msg_controllen == 0, flags & MSG_DONTWAIT);
    if (fail_with(fault) < 0) return -1;
    if (fault != SHORT) return REAL(recvmsg)(fd, msg, flags);
    struct iovec iov[IOV_COPY_MAX];
    struct msghdr cut = *msg;
    cut.msg_iov = iov;
    cut.msg_iovlen = (size_t)iov_cut(msg->msg_iov, count, shorten("recvmsg", fd, total), iov);
    ssize_t n = REAL(recvmsg)(fd, &cut, flags);
    msg->msg_namelen = cut.msg_namelen;
    msg->msg_controllen = cut.msg_controllen;
    msg->msg_flags = cut.msg_flags;
    return n;
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int count)
{
    size_t total = count > 0 ? iov_total(iov, count) : 0;
    struct fd_kind k;
    int fault = choose("readv", fd, &k, total > 1, 0);
    if (fail_with(fault) < 0) return -1;
    if (fault != SHORT) return REAL(readv)(fd, iov, count);
    struct iovec cut[IOV_COPY_MAX];
    return REAL(readv)(fd, cut, iov_cut(iov, count, shorten("readv", fd, total), cut));
}

EXPORT int recvmmsg(int fd, struct mmsghdr *msgs, unsigned int count, int flags,
                    struct timespec *timeout)
{
    struct fd_kind k;
    if (fail_with(choose("recvmmsg", fd, &k, 0, flags & MSG_DONTWAIT)) < 0) return -1;
    return REAL(recvmmsg)(fd, msgs, count, flags, timeout);
}

/* Fortified programs call these instead when the compiler knows the buffer's size. */

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
    if (len > buflen) abort();
    return recv(fd, buf, len, flags);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
                              struct sockaddr *from, socklen_t *fromlen)
{
    if (len > buflen) abort();
    return recvfrom(fd, buf, len, flags, from, fromlen);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    if (len > buflen) abort();
    return read(fd, buf, len);
}

/* Accepting and connecting */

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    struct fd_kind k;
    if (fail_with(choose("accept", fd, &k, 0, 0)) < 0) return -1;
    return REAL(accept4)(fd, addr, len, flags);
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return accept4(fd, addr, len, 0);
}

/* A signal that interrupts a blocking TCP connect leaves the handshake going on in the
 * background: connect(2) returns EINTR, and a later connect reports EALREADY or EISCONN. The
 * shim lets the real connect finish, then reports the interruption, so the next connect sees
 * EISCONN. An interrupted AF_UNIX connect is abandoned instead, so it fails before the call. */
EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct fd_kind k;
    int fault = choose("connect", fd, &k, 0, 0);
    if (fault != EINTR_FAULT || !k.stream) return REAL(connect)(fd, addr, len);
    if (k.family == AF_UNIX) return fail_with(fault);
    int rc = REAL(connect)(fd, addr, len);
    if (rc < 0) return rc;
    errno = EINTR;
    return -1;
}

/* Waiting: any wait that may sleep may be interrupted. */

static int interrupted(const char *op, int may_sleep)
{
    if (!may_sleep || !(config.kinds & EINTR_FAULT) || !roll()) return 0;
    note("%s: EINTR", op);
    errno = EINTR;
    return 1;
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (interrupted("poll", timeout != 0)) return -1;
    return REAL(poll)(fds, n, timeout);
}

EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    if (fdslen / sizeof *fds < n) abort();
    return poll(fds, n, timeout);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
    if (interrupted("ppoll", !t || t->tv_sec || t->tv_nsec)) return -1;
    return REAL(ppoll)(fds, n, t, mask);
}

EXPORT int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout)
{
    if (interrupted("epoll_wait", timeout != 0)) return -1;
    return REAL(epoll_wait)(epfd, events, max, timeout);
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int max, int timeout,
                       const sigset_t *mask)
{
    if (interrupted("epoll_pwait", timeout != 0)) return -1;
    return REAL(epoll_pwait)(epfd, events, max, timeout, mask);
}

EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
    if (interrupted("select", !t || t->tv_sec || t->tv_usec)) return -1;
    return REAL(select)(n, r, w, e, t);
}

EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
                   const sigset_t *mask)
{
    if (interrupted("pselect", !t || t->tv_sec || t->tv_nsec)) return -1;
    return REAL(pselect)(n, r, w, e, t, mask);
}
