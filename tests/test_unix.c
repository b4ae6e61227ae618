/* SPDX-License-Identifier: MIT */
/* Unix-domain sockets: stream and datagram, on a path and on an abstract name. */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

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
    CHECK_EQ(check_recv_exactly(s, buf, 5), 5);
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

static void stale_live_and_foreign_paths(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/stale.sock", dir);
    csock *first = csock_create_server(path, 0, NULL);
    CHECK(first != NULL);
    /* A live server's path is never taken over. */
    CHECK(csock_create_server(path, 0, NULL) == NULL);
    char want[220];
    snprintf(want, sizeof want, "bind %s: Address already in use (a server is listening there)",
             path);
    CHECK_STR(csock_lasterror(), want);
    csock *c = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect(c, path, 0), 0); /* the first server is untouched */
    csock_free(c);
    csock_free(first); /* gone, its file left behind */
    csock_listen_options keep = {.keep_stale = 1};
    CHECK(csock_create_server(path, 0, &keep) == NULL);
    snprintf(want, sizeof want,
             "bind %s: Address already in use (a stale socket file: its server is gone)", path);
    CHECK_STR(csock_lasterror(), want);
    csock *second = csock_create_server(path, 0, NULL); /* replaces the stale file */
    CHECK(second != NULL);
    c = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect(c, path, 0), 0);
    csock_free(c);
    csock_free(second);
    unlink(path);

    /* A path that is not a socket is never removed. */
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    csock *u = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind_unix(u, path, 0, 1), CSOCK_EADDRINUSE);
    CHECK_ERROR(CSOCK_EADDRINUSE, "(the path is taken by a file that is not a socket)");
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
    unlink(path);
    csock_free(u);
}

/* Nothing is waiting on s, a listener or a datagram socket: the probe of a second bind left no
 * connection or datagram behind. */
static void nothing_arrived(csock *s)
{
    CHECK_EQ(csock_settimeout(s, 0), 0);
    if (csock_type(s) == SOCK_DGRAM) {
        char b;
        CHECK(csock_recv(s, &b, 1) < 0);
        return;
    }
    csock *phantom = csock_accept(s, NULL);
    CHECK(phantom == NULL);
    csock_free(phantom);
}

/* Finding out whether a bound path is stale connects to nobody: a live stream or seqpacket
 * server accepts no phantom client, a datagram server receives nothing, a socket bound but not
 * yet listening keeps its path, and an abstract name is never probed. Stale files of every type
 * are still replaced. */
static void the_stale_check_disturbs_no_live_server(void)
{
    static const int types[] = {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM};
    char path[128], want[220];
    snprintf(path, sizeof path, "%s/probe.sock", dir);
    for (size_t t = 0; t < 3; t++) {
        csock_listen_options o = {.type = types[t]};
        csock *live = csock_create_server(path, 0, &o);
        CHECK(live != NULL);
        if (!live) continue;
        for (size_t u = 0; u < 3; u++) { /* a second socket of each type tries the path */
            csock *second = csock_socket(AF_UNIX, types[u], 0);
            CHECK_EQ(csock_bind_unix(second, path, 0, 1), CSOCK_EADDRINUSE);
            snprintf(want, sizeof want,
                     "bind %s: Address already in use (a server is listening there)", path);
            CHECK_STR(csock_lasterror(), want);
            csock_free(second);
            nothing_arrived(live);
        }
        csock_free(live); /* its file stays behind, stale: replaced */
        live = csock_create_server(path, 0, &o);
        CHECK(live != NULL);
        csock_free(live);
        unlink(path);
    }

    /* Bound, not listening yet: its path is not stale, and is not taken over. */
    csock *early = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind_unix(early, path, 0, 0), 0);
    csock *second = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind_unix(second, path, 0, 1), CSOCK_EADDRINUSE);
    CHECK_ERROR(CSOCK_EADDRINUSE, "(a server is listening there)");
    CHECK_EQ(csock_listen(early, 5), 0);
    csock *c = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect(c, path, 0), 0); /* reaches early */
    csock_settimeout(early, 5);
    csock *accepted = csock_accept(early, NULL);
    CHECK(accepted != NULL);
    csock_free(accepted);
    csock_free(c);
    csock_free(second);
    csock_free(early);
    unlink(path);

    char name[64];
    snprintf(name, sizeof name, "@csock-probe-%d", (int)getpid());
    csock *abstract = csock_create_server(name, 0, NULL);
    CHECK(abstract != NULL);
    CHECK(csock_create_server(name, 0, NULL) == NULL);
    snprintf(want, sizeof want,
             "bind %s: Address already in use (another socket of this type holds the name)", name);
    CHECK_STR(csock_lasterror(), want);
    if (abstract) nothing_arrived(abstract);
    csock_free(abstract);
}

static void socket_file_mode(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/mode.sock", dir);
    csock_listen_options o = {.unix_mode = 0600};
    csock *s = csock_create_server(path, 0, &o);
    CHECK(s != NULL);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQ(st.st_mode & 07777, 0600);
    csock_free(s);
    unlink(path);
    csock *u = csock_socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK_EQ(csock_bind_unix(u, path, 0640, 0), 0);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
    CHECK_EQ(csock_bind_unix(u, path, 012345, 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "mode 12345 is not a file mode");
    csock_free(u);
    unlink(path);
    csock *t = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind_unix(t, path, 0, 0), CSOCK_EAFNOSUPPORT);
    CHECK_STR(csock_lasterror(), "bind: csock_bind_unix needs an AF_UNIX socket, not AF_INET");
    csock_free(t);
}

static void peer_credentials(void)
{
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    csock_cred cred;
    CHECK_EQ(csock_getpeercred(pair[0], &cred), 0);
    CHECK_EQ(cred.pid, getpid());
    CHECK_EQ(cred.uid, getuid());
    CHECK_EQ(cred.gid, getgid());
    CHECK_EQ(csock_getpeercred(pair[0], NULL), CSOCK_EINVAL);
    csock_free(pair[0]);
    csock_free(pair[1]);
    csock *t = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_getpeercred(t, &cred), CSOCK_EAFNOSUPPORT);
    CHECK_STR(csock_lasterror(),
              "getpeercred: peer credentials needs an AF_UNIX socket, not AF_INET");
    csock_free(t);
}

static void passing_descriptors(void)
{
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    for (size_t t = 0; t < 3; t++) {
        csock *pair[2];
        CHECK_EQ(csock_socketpair(AF_UNIX, types[t], 0, pair), 0);
        int p[2];
        CHECK_EQ(pipe(p), 0);
        CHECK_EQ(csock_send_fds(pair[0], "fds", 3, p, 2), 3);
        char buf[8];
        int got[4];
        size_t n = 99;
        CHECK_EQ(csock_recv_fds(pair[1], buf, sizeof buf, got, 4, &n), 3);
        CHECK_EQ(n, 2);
        CHECK(memcmp(buf, "fds", 3) == 0);
        for (size_t i = 0; i < n && i < 2; i++)
            CHECK(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
        CHECK_EQ(write(got[1], "!", 1), 1); /* the write end, passed and usable */
        CHECK_EQ(read(p[0], buf, 1), 1);
        for (size_t i = 0; i < n && i < 2; i++)
            close(got[i]);
        /* More than asked for: an error, and every descriptor that came is closed. */
        int before = check_open_fds();
        int three[3] = {p[0], p[1], p[0]};
        CHECK_EQ(csock_send_fds(pair[0], "x", 1, three, 3), 1);
        CHECK_EQ(csock_recv_fds(pair[1], buf, sizeof buf, got, 1, &n), CSOCK_EMSGSIZE);
        CHECK_ERROR(CSOCK_EMSGSIZE, "recv_fds");
        CHECK_EQ(check_open_fds(), before);
        /* Data without descriptors is fine. */
        CHECK_EQ(csock_sendall(pair[0], "plain", 5, NULL), 0);
        size_t plain = 0; /* the bytes may come in pieces, none with descriptors */
        for (int i = 0; i < 5 && plain < 5; i++) {
            ssize_t r = csock_recv_fds(pair[1], buf + plain, 5 - plain, got, 4, &n);
            CHECK(r > 0);
            CHECK_EQ(n, 0);
            if (r <= 0) break;
            plain += (size_t)r;
        }
        CHECK_EQ(plain, 5);
        CHECK(memcmp(buf, "plain", 5) == 0);
        close(p[0]);
        close(p[1]);
        csock_free(pair[0]);
        csock_free(pair[1]);
    }
}

static void bad_descriptor_passing(void)
{
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    int fds[CSOCK_MAX_FDS + 1] = {0};
    size_t n;
    CHECK_EQ(csock_send_fds(pair[0], "x", 1, fds, 0), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "send_fds: 0 descriptors; 1 to 253 can be sent");
    CHECK_EQ(csock_send_fds(pair[0], "x", 1, fds, CSOCK_MAX_FDS + 1), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "send_fds: 254 descriptors; 1 to 253 can be sent");
    CHECK_EQ(csock_send_fds(pair[0], "", 0, fds, 1), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "a stream needs at least one byte of data");
    int bad = -3;
    CHECK_EQ(csock_send_fds(pair[0], "x", 1, &bad, 1), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "send_fds: descriptor 0 is -3");
    char buf[4];
    CHECK_EQ(csock_recv_fds(pair[1], buf, sizeof buf, fds, 4, NULL), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "recv_fds: NULL nfds");
    CHECK_EQ(csock_recv_fds(pair[1], buf, sizeof buf, NULL, 4, &n), CSOCK_EINVAL);
    CHECK_STR(csock_lasterror(), "recv_fds: NULL fds for 4 descriptors");
    csock *t = csock_socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(csock_send_fds(t, "x", 1, fds, 1), CSOCK_EAFNOSUPPORT);
    csock_free(t);
    csock_free(pair[0]);
    csock_free(pair[1]);
}

/* As csock_recv: a datagram larger than len is an error that gives its size, never a silent
 * cut, and the descriptors that came with it are closed. */
static void recv_fds_never_cuts_a_datagram_silently(void)
{
    static const int types[] = {SOCK_DGRAM, SOCK_SEQPACKET};
    for (size_t t = 0; t < 2; t++) {
        csock *pair[2];
        CHECK_EQ(csock_socketpair(AF_UNIX, types[t], 0, pair), 0);
        char buf[16];
        int got[4];
        size_t n = 99;
        CHECK_EQ(csock_send(pair[0], "hello world", 11), 11);
        CHECK_EQ(csock_recv_fds(pair[1], buf, 5, got, 4, &n), CSOCK_EMSGSIZE);
        CHECK_STR(csock_lasterror(), "recv_fds (unnamed): datagram of 11 bytes does not fit in 5 "
                                     "(the first 5 are in the buffer)");
        CHECK(memcmp(buf, "hello", 5) == 0);
        CHECK_EQ(n, 0);
        int p[2];
        CHECK_EQ(pipe(p), 0);
        int before = check_open_fds();
        CHECK_EQ(csock_send_fds(pair[0], "hello world", 11, p, 2), 11);
        CHECK_EQ(csock_recv_fds(pair[1], buf, 5, got, 4, &n), CSOCK_EMSGSIZE);
        CHECK_ERROR(CSOCK_EMSGSIZE, "datagram of 11 bytes does not fit in 5");
        CHECK_EQ(n, 0);
        CHECK_EQ(check_open_fds(), before); /* closed, none leaked */
        /* The next datagram is whole, and one that fits exactly is no error. */
        CHECK_EQ(csock_send_fds(pair[0], "hello", 5, p, 2), 5);
        CHECK_EQ(csock_recv_fds(pair[1], buf, 5, got, 4, &n), 5);
        CHECK_EQ(n, 2);
        for (size_t i = 0; i < n && i < 2; i++)
            close(got[i]);
        close(p[0]);
        close(p[1]);
        csock_free(pair[0]);
        csock_free(pair[1]);
    }
}

/* No message carries more than CSOCK_MAX_FDS descriptors, so any larger maxfds takes them all. */
static void recv_fds_takes_any_maxfds(void)
{
    csock *pair[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_DGRAM, 0, pair), 0);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    int fds[CSOCK_MAX_FDS], got[CSOCK_MAX_FDS + 50];
    for (int i = 0; i < CSOCK_MAX_FDS; i++)
        fds[i] = p[i % 2];
    int before = check_open_fds();
    CHECK_EQ(csock_send_fds(pair[0], "many", 4, fds, CSOCK_MAX_FDS), 4);
    char buf[8];
    size_t n = 0;
    CHECK_EQ(csock_recv_fds(pair[1], buf, sizeof buf, got, CSOCK_MAX_FDS + 50, &n), 4);
    CHECK_EQ(n, CSOCK_MAX_FDS);
    for (size_t i = 0; i < n && i < CSOCK_MAX_FDS; i++)
        close(got[i]);
    CHECK_EQ(check_open_fds(), before);
    close(p[0]);
    close(p[1]);
    csock_free(pair[0]);
    csock_free(pair[1]);
}

static void seqpacket_keeps_boundaries(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/seq.sock", dir);
    csock_listen_options o = {.type = SOCK_SEQPACKET};
    csock *l = csock_create_server(path, 0, &o);
    CHECK(l != NULL);
    csock *c = csock_socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK_EQ(csock_connect(c, path, 0), 0);
    csock *s = csock_accept(l, NULL);
    CHECK(s != NULL);
    CHECK_EQ(csock_send(c, "one", 3), 3);
    CHECK_EQ(csock_send(c, "second", 6), 6);
    char buf[32];
    CHECK_EQ(csock_recv(s, buf, sizeof buf), 3);
    CHECK_EQ(csock_recv(s, buf, sizeof buf), 6);
    CHECK_EQ(csock_type(s), SOCK_SEQPACKET);
    csock_free(c);
    csock_free(s);
    csock_free(l);
    unlink(path);
}

/* ---- one meaning for a Unix address's text, whichever call takes it ---- */

/* The address a text should name: a path, or "@name" for an abstract name (its bytes exactly). */
static csock_addr unix_name(const char *name)
{
    csock_addr a = {0};
    struct sockaddr_un *un = (struct sockaddr_un *)&a.ss;
    size_t n = strlen(name), off = offsetof(struct sockaddr_un, sun_path);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, name, n);
    if (name[0] == '@') un->sun_path[0] = '\0';
    a.len = (socklen_t)(off + n + (name[0] == '@' ? 0 : 1));
    return a;
}

static int same_addr(const csock_addr *a, const csock_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

enum binder { BIND, BIND_UNIX, CREATE_SERVER, CREATE_SERVER_UNIX, BINDERS };
enum connecter { CONNECT, CONNECT_EX, CREATE_CONNECTION, CONNECTERS };
static const char *const binder_names[] = {"csock_bind", "csock_bind_unix", "csock_create_server",
                                           "csock_create_server(AF_UNIX)"};
static const char *const connecter_names[] = {"csock_connect", "csock_connect_ex",
                                              "csock_create_connection"};

/* A listening Unix socket on text, made by one of the calls that take an address's text. */
static csock *listen_by(enum binder how, const char *text, int *rc)
{
    csock_listen_options unix_family = {.family = AF_UNIX};
    csock *s = NULL;
    if (how == CREATE_SERVER || how == CREATE_SERVER_UNIX) {
        s = csock_create_server(text, 0, how == CREATE_SERVER ? NULL : &unix_family);
        *rc = s ? 0 : csock_lastcode();
        return s;
    }
    s = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    *rc = how == BIND ? csock_bind(s, text, 0) : csock_bind_unix(s, text, 0, 1);
    if (*rc == 0) *rc = csock_listen(s, 8);
    if (*rc < 0) {
        csock_free(s);
        return NULL;
    }
    return s;
}

/* A connected Unix socket to text, made by one of the calls that take an address's text. */
static csock *connect_by(enum connecter how, const char *text, int *rc)
{
    if (how == CREATE_CONNECTION) {
        csock *c = csock_create_connection(text, 0, 5, NULL);
        *rc = c ? 0 : csock_lastcode();
        return c;
    }
    csock *c = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    *rc = how == CONNECT ? csock_connect(c, text, 0) : csock_connect_ex(c, text, 0);
    if (*rc > 0) *rc = -*rc; /* connect_ex's errno */
    if (*rc < 0) {
        csock_free(c);
        return NULL;
    }
    return c;
}

static void unix_text_means_one_thing_everywhere(void)
{
    char old[4096], abs_path[128], abs_text[140], max_path[128], max_text[140];
    char abstract[64], backslash[64], abstract_text[72];
    CHECK(getcwd(old, sizeof old) != NULL);
    CHECK_EQ(chdir(dir), 0); /* relative paths land in the test's directory */
    snprintf(abs_path, sizeof abs_path, "%s/abs.sock", dir);
    snprintf(abs_text, sizeof abs_text, "unix:%s", abs_path);
    /* The longest path sun_path holds: 107 bytes and its NUL. */
    int used = snprintf(max_path, sizeof max_path, "%s/", dir);
    memset(max_path + used, 'm', 107 - (size_t)used);
    max_path[107] = '\0';
    snprintf(max_text, sizeof max_text, "unix:%s", max_path);
    snprintf(abstract, sizeof abstract, "@csock-test-%d", (int)getpid());
    snprintf(backslash, sizeof backslash, "@csock-test-%d\\b", (int)getpid());
    snprintf(abstract_text, sizeof abstract_text, "unix:%s-u", abstract);
    /* Every text, and the name it must give, byte for byte. The last ones are paths only where
     * the socket is AF_UNIX already: alone, "./rel" and "rel2.sock" name no Unix address. */
    const struct {
        const char *text, *name;
        int needs_unix_family;
    } cases[] = {
        {"unix:rel.sock", "rel.sock", 0},
        {abs_text, abs_path, 0},
        {abs_path, abs_path, 0},
        {abstract, abstract, 0},
        {backslash, backslash, 0},
        {abstract_text, abstract_text + 5, 0},
        {max_path, max_path, 0},
        {max_text, max_path, 0},
        {"./rel", "./rel", 1},
        {"rel2.sock", "rel2.sock", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        csock_addr want = unix_name(cases[i].name);
        for (int b = 0; b < BINDERS; b++) {
            /* Without a family, "./rel" is a host name to look up: test_create, where no
             * look-up leaves the machine, has that. */
            if (b == CREATE_SERVER && cases[i].needs_unix_family) continue;
            int rc;
            csock *l = listen_by((enum binder)b, cases[i].text, &rc);
            csock_addr got = {0};
            if (!l || csock_getsockname(l, &got) < 0 || !same_addr(&got, &want)) {
                char text[CSOCK_ADDRSTRLEN] = "";
                csock_addr_format(&got, text, sizeof text);
                fprintf(stderr, "%s \"%s\": rc %d, bound \"%s\" (%s)\n", binder_names[b],
                        cases[i].text, rc, text, csock_lasterror());
                check_test_failed = 1;
            }
            for (int c = 0; l && c < CONNECTERS; c++) {
                if (c == CREATE_CONNECTION && cases[i].needs_unix_family) continue;
                csock *conn = connect_by((enum connecter)c, cases[i].text, &rc);
                if (!conn) {
                    fprintf(stderr, "%s \"%s\" to a %s server: %s\n", connecter_names[c],
                            cases[i].text, binder_names[b], csock_lasterror());
                    check_test_failed = 1;
                } else {
                    csock *s = csock_accept(l, NULL);
                    CHECK(s != NULL);
                    csock_free(s);
                }
                csock_free(conn);
            }
            csock_free(l);
            if (cases[i].name[0] != '@') unlink(cases[i].name);
        }
    }
    CHECK_EQ(chdir(old), 0);
}

static void bad_unix_text_is_refused_alike(void)
{
    char over[140], over_text[150];
    int used = snprintf(over, sizeof over, "%s/", dir);
    memset(over + used, 'o', 108 - (size_t)used); /* one byte more than sun_path holds */
    over[108] = '\0';
    snprintf(over_text, sizeof over_text, "unix:%s", over);
    const struct {
        const char *text, *says;
        int code;
    } cases[] = {
        {"@", "empty abstract Unix name", CSOCK_EINVAL},
        {"unix:", "empty Unix socket path", CSOCK_EINVAL},
        {"unix:@", "empty abstract Unix name", CSOCK_EINVAL},
        {over, "Unix socket path too long (108 bytes, at most 107)", CSOCK_ENAMETOOLONG},
        {over_text, "Unix socket path too long (108 bytes, at most 107)", CSOCK_ENAMETOOLONG},
    };
    /* Every call that binds, then every call that connects. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int k = 0; k < BINDERS + CONNECTERS; k++) {
            int rc;
            csock *s = k < BINDERS ? listen_by((enum binder)k, cases[i].text, &rc)
                                   : connect_by((enum connecter)(k - BINDERS), cases[i].text, &rc);
            CHECK(s == NULL);
            csock_free(s);
            if (rc != cases[i].code || !strstr(csock_lasterror(), cases[i].says)) {
                fprintf(stderr, "%s \"%.20s\": %d \"%s\", wanted %d \"%s\"\n",
                        k < BINDERS ? binder_names[k] : connecter_names[k - BINDERS], cases[i].text,
                        rc, csock_lasterror(), cases[i].code, cases[i].says);
                check_test_failed = 1;
            }
        }
    }
    /* "" is no path on a Unix socket (elsewhere it is the wildcard address). */
    csock *s = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind(s, "", 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "bind: a Unix socket needs a path");
    CHECK_EQ(csock_bind_unix(s, "", 0, 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "bind: empty Unix socket path");
    CHECK_EQ(csock_connect_ex(s, "", 0), CSOCK_EINVAL);
    CHECK_ERROR(CSOCK_EINVAL, "connect_ex: a Unix socket needs a path");
    csock_free(s);
}

/* A Unix address's text given to an IP socket is an address of the wrong family, said so, not a
 * host name to look up. */
static void unix_text_on_an_ip_socket(void)
{
    static const char *const texts[] = {"/tmp/x.sock", "unix:x.sock", "unix:/tmp/x.sock", "@x"};
    static const int families[] = {AF_INET, AF_INET6};
    for (size_t f = 0; f < 2; f++) {
        const char *name = families[f] == AF_INET ? "AF_INET" : "AF_INET6";
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            csock *s = csock_socket(families[f], SOCK_STREAM, 0);
            char want[96];
            CHECK_EQ(csock_bind(s, texts[i], 0), CSOCK_EAFNOSUPPORT);
            snprintf(want, sizeof want, "bind %s: an AF_UNIX address for an %s socket", texts[i],
                     name);
            CHECK_STR(csock_lasterror(), want);
            CHECK_EQ(csock_connect(s, texts[i], 0), CSOCK_EAFNOSUPPORT);
            CHECK_ERROR(CSOCK_EAFNOSUPPORT, want + 5);
            CHECK_EQ(csock_connect_ex(s, texts[i], 0), CSOCK_EAFNOSUPPORT);
            CHECK_ERROR(CSOCK_EAFNOSUPPORT, want + 5);
            csock_free(s);
            csock_listen_options ip = {.family = families[f]};
            CHECK(csock_create_server(texts[i], 0, &ip) == NULL);
            CHECK_ERROR(CSOCK_EAFNOSUPPORT, want);
        }
    }
}

/* A signal abandons an AF_UNIX connect waiting for room in a full backlog (a TCP handshake would
 * go on instead): the socket is left unconnected and writable, so an interrupted connect must
 * not be taken for a finished one. The connect goes on waiting, and times out. */
static void ignore_signal(int signo)
{
    (void)signo;
}

static void interrupted_connect_to_a_full_backlog(void)
{
    char name[64];
    snprintf(name, sizeof name, "@csock-test-full-%d", (int)getpid());
    csock *l = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_bind(l, name, 0), 0);
    CHECK_EQ(csock_listen(l, 0), 0);
    csock *fill[8] = {NULL};
    int rc = 0;
    for (int i = 0; i < 8 && rc == 0; i++) {
        fill[i] = csock_socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK_EQ(csock_settimeout(fill[i], 0), 0);
        rc = csock_connect(fill[i], name, 0);
    }
    CHECK_EQ(rc, CSOCK_EAGAIN); /* the backlog is full */
    struct sigaction sa = {.sa_handler = ignore_signal}, old;
    CHECK_EQ(sigaction(SIGUSR2, &sa, &old), 0);
    timer_t timer;
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &ev, &timer), 0);
    struct itimerspec soon = {{0, 0}, {0, 50000000}};
    CHECK_EQ(timer_settime(timer, 0, &soon, NULL), 0);
    csock *c = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_settimeout(c, 0.3), 0);
    CHECK_EQ(csock_connect(c, name, 0), CSOCK_ETIMEOUT);
    CHECK_ERROR(CSOCK_ETIMEOUT, "connect");
    timer_delete(timer);
    sigaction(SIGUSR2, &old, NULL);
    csock_free(c);
    for (int i = 0; i < 8; i++)
        csock_free(fill[i]);
    csock_free(l);
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
    RUN(stale_live_and_foreign_paths);
    RUN(the_stale_check_disturbs_no_live_server);
    RUN(socket_file_mode);
    RUN(peer_credentials);
    RUN(passing_descriptors);
    RUN(bad_descriptor_passing);
    RUN(recv_fds_never_cuts_a_datagram_silently);
    RUN(recv_fds_takes_any_maxfds);
    RUN(seqpacket_keeps_boundaries);
    RUN(unix_text_means_one_thing_everywhere);
    RUN(bad_unix_text_is_refused_alike);
    RUN(unix_text_on_an_ip_socket);
    RUN(interrupted_connect_to_a_full_backlog);
    rmdir(dir);
    return check_done();
}
