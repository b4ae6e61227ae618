/* SPDX-License-Identifier: MIT */
/* Servers: 1,000 concurrent clients each verifying their bytes, on one loop, on two loops with a
 * shared listener and with SO_REUSEPORT; the connection limit; a thread per connection with a
 * shutdown from a handler, and its close lingering while the client still sends; shutdown with
 * connections open; running out of descriptors without spinning, and recovering. Nothing may leak:
 * descriptors are counted before and after. */
#include "check_stream.h"

#include <csock/server.h>

#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* ---- the server side: echo ---- */

static atomic_int shutdown_closes;

static void count_shutdown(csock_stream *st, int error, void *data)
{
    (void)st, (void)data;
    if (error == CSOCK_ESHUTDOWN) atomic_fetch_add(&shutdown_closes, 1);
}

static const csock_stream_handler echo_handler = {.on_data = check_echo,
                                                  .on_close = count_shutdown};

static void *serve(void *arg)
{
    CHECK_EQ(csock_server_run(arg), 0);
    return NULL;
}

static int port_of(csock_server *srv)
{
    csock_addr a;
    CHECK_EQ(csock_server_address(srv, &a), 0);
    return csock_addr_port(&a);
}

/* ---- the client side: many streams on one loop, each checking its echo ---- */

#define MESSAGE 3000

struct client {
    int id;
    size_t got;
    int ok;
};

static int clients_done, clients_ok;

static char pattern_byte(int id, size_t i)
{
    return (char)(id * 31 + i * 7);
}

static void client_open(csock_stream *st, void *data)
{
    struct client *c = data;
    char msg[MESSAGE];
    for (size_t i = 0; i < MESSAGE; i++)
        msg[i] = pattern_byte(c->id, i);
    CHECK(csock_stream_write(st, msg, MESSAGE) >= 0);
}

static void client_data(csock_stream *st, void *data)
{
    struct client *c = data;
    const char *p;
    size_t n = csock_stream_peek(st, &p);
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern_byte(c->id, c->got + i)) c->ok = 0;
    c->got += n;
    csock_stream_consume(st, n);
    if (c->got >= MESSAGE) csock_stream_close(st);
}

static void client_close(csock_stream *st, int error, void *data)
{
    (void)st;
    struct client *c = data;
    clients_done++;
    if (error == 0 && c->ok && c->got == MESSAGE) clients_ok++;
}

static const csock_stream_handler client_handler = {
    .on_open = client_open, .on_data = client_data, .on_close = client_close};

/* count clients connect at once (all connected before any is served), then all exchange their
 * bytes concurrently; returns how many got exactly theirs back. */
static int run_clients(int port, int count)
{
    csock_loop *loop = csock_loop_new();
    struct client *cs = calloc((size_t)count, sizeof *cs);
    clients_done = clients_ok = 0;
    for (int i = 0; i < count; i++) {
        cs[i] = (struct client){.id = i, .ok = 1};
        csock *s = csock_create_connection("127.0.0.1", port, 10, NULL);
        CHECK(s != NULL);
        if (!s) break;
        CHECK(csock_stream_new(loop, s, &client_handler, &cs[i]) != NULL);
    }
    for (int i = 0; i < 100000 && clients_done < count; i++)
        CHECK(csock_loop_run_once(loop, 10) >= 0);
    csock_loop_free(loop);
    free(cs);
    return clients_ok;
}

static void thousand_clients(int mode, int reuse_port)
{
    int fds = check_open_fds();
    csock_server_config config = {.handler = &echo_handler, .mode = mode};
    if (mode == CSOCK_SERVE_LOOPS) {
        config.loops = 2;
        config.reuse_port = reuse_port;
    }
    csock_server *srv = csock_server_new("127.0.0.1:0", &config);
    CHECK(srv != NULL);
    pthread_t t = check_thread(serve, srv);
    CHECK_EQ(run_clients(port_of(srv), 1000), 1000);
    csock_server_shutdown(srv);
    check_join(t);
    CHECK_EQ(csock_server_connections(srv), 0);
    csock_server_free(srv);
    CHECK_EQ(check_open_fds(), fds);
}

static void one_loop(void)
{
    thousand_clients(CSOCK_SERVE_LOOP, 0);
}

static void two_loops_shared_listener(void)
{
    thousand_clients(CSOCK_SERVE_LOOPS, 0);
}

static void two_loops_reuse_port(void)
{
    thousand_clients(CSOCK_SERVE_LOOPS, 1);
}

/* Connects n clients to port, each echoed msg back: the server serves them. */
static void connect_served(int port, csock **c, int n, const char *msg)
{
    char buf[16];
    size_t len = strlen(msg);
    for (int i = 0; i < n; i++) {
        c[i] = csock_create_connection("127.0.0.1", port, 5, NULL);
        CHECK_EQ(csock_sendall(c[i], msg, len, NULL), 0);
        CHECK_EQ(check_recv_exactly(c[i], buf, len), (ssize_t)len);
        CHECK(memcmp(buf, msg, len) == 0);
    }
}

/* ---- limits and shutdown ---- */

static void connection_limit_and_shutdown_with_clients(void)
{
    int fds = check_open_fds();
    atomic_store(&shutdown_closes, 0);
    csock_server_config config = {.handler = &echo_handler, .max_connections = 2};
    csock_server *srv = csock_server_new("127.0.0.1:0", &config);
    pthread_t t = check_thread(serve, srv);
    int port = port_of(srv);
    csock *c[3];
    char buf[8];
    connect_served(port, c, 2, "hi");
    /* The third is over the limit: closed at once, not left waiting. */
    c[2] = csock_create_connection("127.0.0.1", port, 5, NULL);
    CHECK_EQ(csock_recv(c[2], buf, sizeof buf), 0);
    CHECK_EQ(csock_server_connections(srv), 2);
    csock_free(c[2]);
    /* Shutdown with two connections open: both closed with CSOCK_ESHUTDOWN, run returns. */
    csock_server_shutdown(srv);
    check_join(t);
    CHECK_EQ(atomic_load(&shutdown_closes), 2);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(csock_recv(c[i], buf, sizeof buf), 0);
        csock_free(c[i]);
    }
    csock_server_free(srv);
    CHECK_EQ(check_open_fds(), fds);
}

/* The program's own streams on the server's loop are not its connections: closing them does not
 * lower the count that max_connections limits, and the server's shutdown leaves them alone. */
static atomic_int own_closes, own_close_error;

static void own_data(csock_stream *st, void *data)
{
    (void)st, (void)data;
}
static void own_close(csock_stream *st, int error, void *data)
{
    (void)st, (void)data;
    atomic_fetch_add(&own_closes, 1);
    atomic_store(&own_close_error, error);
}
static const csock_stream_handler own_handler = {.on_data = own_data, .on_close = own_close};

static void own_streams_are_not_connections(void)
{
    int fds = check_open_fds();
    atomic_store(&shutdown_closes, 0);
    csock_server_config config = {.handler = &echo_handler, .max_connections = 2};
    csock_server *srv = csock_server_new("127.0.0.1:0", &config);
    CHECK(srv != NULL);
    csock_loop *loop = csock_server_loop(srv, 0);
    csock *a[2], *b[2];
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    CHECK_EQ(csock_socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    csock_stream *mine = csock_stream_new(loop, a[0], &own_handler, NULL);
    CHECK(csock_stream_new(loop, b[0], &own_handler, NULL) != NULL);
    csock_stream_close(mine); /* its on_close runs in the server's first pass */
    pthread_t t = check_thread(serve, srv);
    int port = port_of(srv);
    csock *c[3];
    char buf[8];
    connect_served(port, c, 2, "hi");
    CHECK_EQ(atomic_load(&own_closes), 1);
    CHECK_EQ(csock_server_connections(srv), 2);
    c[2] = csock_create_connection("127.0.0.1", port, 5, NULL);
    CHECK_EQ(csock_recv(c[2], buf, sizeof buf), 0); /* over the limit still */
    csock_free(c[2]);
    csock_server_shutdown(srv);
    check_join(t);
    CHECK_EQ(atomic_load(&shutdown_closes), 2);
    CHECK_EQ(atomic_load(&own_closes), 1); /* the other own stream is still open */
    for (int i = 0; i < 2; i++)
        csock_free(c[i]);
    csock_server_free(srv);
    csock_free(a[1]);
    csock_free(b[1]);
    CHECK_EQ(check_open_fds(), fds);
}

/* ---- a thread per connection ---- */

static csock_server *threads_server;
static atomic_int threads_served;

/* The tutorial's way: blocking calls. "stop" shuts the whole server down from here. */
static void blocking_echo(csock *client, void *data)
{
    (void)data;
    char buf[256];
    ssize_t n;
    atomic_fetch_add(&threads_served, 1);
    while ((n = check_recv_exactly(client, buf, 4)) > 0) { /* the messages are 4 bytes each */
        if (memcmp(buf, "stop", 4) == 0) {
            csock_server_shutdown(threads_server);
            return;
        }
        if (csock_sendall(client, buf, (size_t)n, NULL) < 0) return;
    }
}

static void thread_per_connection_shutdown_from_a_handler(void)
{
    int fds = check_open_fds();
    csock_server_config config = {
        .serve = blocking_echo, .mode = CSOCK_SERVE_THREADS, .timeout = 30};
    threads_server = csock_server_new("127.0.0.1:0", &config);
    CHECK(threads_server != NULL);
    pthread_t t = check_thread(serve, threads_server);
    int port = port_of(threads_server);
    csock *c[20];
    char buf[16];
    connect_served(port, c, 20, "ping");
    CHECK_EQ(atomic_load(&threads_served), 20);
    CHECK_EQ(csock_server_connections(threads_server), 20);
    /* Nineteen threads are blocked in recv; the twentieth asks for shutdown. All return. */
    CHECK_EQ(csock_sendall(c[19], "stop", 4, NULL), 0);
    check_join(t);
    CHECK_EQ(csock_server_connections(threads_server), 0);
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(csock_recv(c[i], buf, sizeof buf), 0);
        csock_free(c[i]);
    }
    csock_server_free(threads_server);
    CHECK_EQ(check_open_fds(), fds);
}

/* ---- the caller's own watches on the server's loop ---- */

static void pipe_says_stop(csock_loop *loop, csock_watch *w, int events, void *data)
{
    (void)loop, (void)events;
    char c;
    CHECK_EQ(read(csock_watch_fd(w), &c, 1), 1);
    csock_watch_remove(w);
    csock_server_shutdown(data);
}

static void own_watch_on_the_server_loop(void)
{
    int fds = check_open_fds();
    csock_server_config config = {.handler = &echo_handler};
    csock_server *srv = csock_server_new("127.0.0.1:0", &config);
    CHECK(srv != NULL);
    csock_loop *loop = csock_server_loop(srv, 0);
    CHECK(loop != NULL);
    CHECK(csock_server_loop(srv, 1) == NULL);
    CHECK(csock_server_loop(srv, -1) == NULL);
    CHECK(csock_server_loop(NULL, 0) == NULL);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK(csock_loop_add(loop, p[0], CSOCK_READ, pipe_says_stop, srv) != NULL);
    pthread_t t = check_thread(serve, srv);
    /* Connections are served beside the pipe, and a byte on the pipe ends the server. */
    csock *c = csock_create_connection("127.0.0.1", port_of(srv), 5, NULL);
    char buf[8];
    CHECK_EQ(csock_sendall(c, "hi", 2, NULL), 0);
    CHECK_EQ(check_recv_exactly(c, buf, 2), 2);
    CHECK_EQ(write(p[1], "x", 1), 1);
    check_join(t);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 0);
    csock_free(c);
    csock_server_free(srv);
    close(p[0]);
    close(p[1]);

    csock_server_config two = {.handler = &echo_handler, .mode = CSOCK_SERVE_LOOPS, .loops = 2};
    srv = csock_server_new("127.0.0.1:0", &two);
    CHECK(csock_server_loop(srv, 0) != NULL && csock_server_loop(srv, 1) != NULL);
    CHECK(csock_server_loop(srv, 0) != csock_server_loop(srv, 1));
    CHECK(csock_server_loop(srv, 2) == NULL);
    csock_server_free(srv);
    csock_server_config threads = {.serve = blocking_echo, .mode = CSOCK_SERVE_THREADS};
    srv = csock_server_new("127.0.0.1:0", &threads);
    CHECK(csock_server_loop(srv, 0) == NULL);
    csock_server_free(srv);
    CHECK_EQ(check_open_fds(), fds);
}

/* "unix:relative.sock" is a Unix path, though its first character is not '/' or '@'. */
static void relative_unix_path(void)
{
    char dir[] = "/tmp/csock-server-XXXXXX", old[4096];
    CHECK(mkdtemp(dir) != NULL);
    CHECK(getcwd(old, sizeof old) != NULL);
    CHECK_EQ(chdir(dir), 0);
    csock_server_config config = {.handler = &echo_handler};
    csock_server *srv = csock_server_new("unix:relative.sock", &config);
    CHECK(srv != NULL);
    csock_addr a;
    CHECK_EQ(csock_server_address(srv, &a), 0);
    CHECK_EQ(csock_addr_family(&a), AF_UNIX);
    pthread_t t = check_thread(serve, srv);
    csock *c = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    char buf[8];
    CHECK_EQ(csock_connect(c, "relative.sock", 0), 0);
    CHECK_EQ(csock_sendall(c, "hi", 2, NULL), 0);
    CHECK_EQ(check_recv_exactly(c, buf, 2), 2);
    csock_server_shutdown(srv);
    check_join(t);
    csock_free(c);
    csock_server_free(srv);
    unlink("relative.sock");
    CHECK_EQ(chdir(old), 0);
    rmdir(dir);
}

static void bad_configs(void)
{
    csock_server_config none = {0};
    CHECK(csock_server_new("127.0.0.1:0", &none) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "a handler is needed");
    csock_server_config threads = {.mode = CSOCK_SERVE_THREADS};
    CHECK(csock_server_new("127.0.0.1:0", &threads) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "THREADS mode needs a serve function");
    csock_server_config odd = {.handler = &echo_handler, .mode = 7};
    CHECK(csock_server_new("127.0.0.1:0", &odd) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "server: unknown mode 7");
    csock_server_config ok = {.handler = &echo_handler};
    CHECK(csock_server_new("localhost:80", &ok) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "localhost");
    /* A port in use: the error comes from csock_server_new, with the address. */
    csock_server *a = csock_server_new("127.0.0.1:0", &ok);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%d", port_of(a));
    CHECK(csock_server_new(where, &ok) == NULL);
    CHECK_ERROR(CSOCK_EADDRINUSE, where);
    csock_server_free(a);
    /* Shut down before running: run returns at once. */
    csock_server *b = csock_server_new("127.0.0.1:0", &ok);
    csock_server_shutdown(b);
    CHECK_EQ(csock_server_run(b), 0);
    CHECK_EQ(csock_server_run(b), CSOCK_EINVAL);
    csock_server_free(b);
}

/* A field set in a mode that does not use it is refused, never ignored: one message for each. */
static void fields_outside_their_mode(void)
{
    const struct {
        csock_server_config config;
        const char *message;
    } refused[] = {
        {{.handler = &echo_handler, .serve = blocking_echo},
         "server: serve is for THREADS mode, not LOOP (which takes a handler)"},
        {{.handler = &echo_handler, .serve = blocking_echo, .mode = CSOCK_SERVE_LOOPS},
         "server: serve is for THREADS mode, not LOOPS (which takes a handler)"},
        {{.handler = &echo_handler, .serve = blocking_echo, .mode = CSOCK_SERVE_THREADS},
         "server: handler is for LOOP and LOOPS modes, not THREADS (which takes a serve function)"},
        {{.handler = &echo_handler, .mode = CSOCK_SERVE_THREADS},
         "server: handler is for LOOP and LOOPS modes, not THREADS (which takes a serve function)"},
        {{.handler = &echo_handler, .loops = 2}, "server: loops is for LOOPS mode, not LOOP"},
        {{.serve = blocking_echo, .mode = CSOCK_SERVE_THREADS, .loops = 2},
         "server: loops is for LOOPS mode, not THREADS"},
        {{.handler = &echo_handler, .reuse_port = 1},
         "server: reuse_port is for LOOPS mode, not LOOP"},
        {{.serve = blocking_echo, .mode = CSOCK_SERVE_THREADS, .reuse_port = 1},
         "server: reuse_port is for LOOPS mode, not THREADS"},
        {{.handler = &echo_handler, .timeout = 5},
         "server: timeout is for THREADS mode, not LOOP (a stream's time limits are its "
         "handler's)"},
        {{.handler = &echo_handler, .mode = CSOCK_SERVE_LOOPS, .timeout = 5},
         "server: timeout is for THREADS mode, not LOOPS (a stream's time limits are its "
         "handler's)"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        csock_server *srv = csock_server_new("127.0.0.1:0", &refused[i].config);
        CHECK(srv == NULL);
        CHECK_ERROR(CSOCK_EINVAL, refused[i].message);
        csock_server_free(srv);
    }
    /* What every mode uses is taken in each. */
    int data = 0;
    const csock_server_config taken[] = {
        {.handler = &echo_handler,
         .data = &data,
         .max_connections = 3,
         .backlog = 8,
         .stop_on_signals = 1},
        {.handler = &echo_handler,
         .mode = CSOCK_SERVE_LOOPS,
         .loops = 2,
         .reuse_port = 1,
         .data = &data,
         .max_connections = 3,
         .backlog = 8,
         .stop_on_signals = 1},
        {.serve = blocking_echo,
         .mode = CSOCK_SERVE_THREADS,
         .timeout = 5,
         .data = &data,
         .max_connections = 3,
         .backlog = 8,
         .stop_on_signals = 1},
    };
    for (size_t i = 0; i < sizeof taken / sizeof *taken; i++) {
        csock_server *srv = csock_server_new("127.0.0.1:0", &taken[i]);
        CHECK(srv != NULL);
        csock_server_free(srv);
    }
}

/* ---- out of descriptors ---- */

/* CPU seconds a process has used, from /proc. */
static double cpu_of(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    /* After the name: state, then 10 fields, then utime and stime. */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* An echo server in a child process with 40 descriptors in all, of which a handful are its own.
 * Returns its port; *child is its pid, for stop_echo_child. */
static int start_echo_child(pid_t *child)
{
    int ready[2];
    CHECK_EQ(pipe(ready), 0);
    *child = fork();
    if (*child == 0) {
        struct rlimit r = {40, 40};
        setrlimit(RLIMIT_NOFILE, &r);
        csock_server_config config = {.handler = &echo_handler, .stop_on_signals = 1};
        csock_server *srv = csock_server_new("127.0.0.1:0", &config);
        int port = srv ? port_of(srv) : 0;
        if (write(ready[1], &port, sizeof port) != sizeof port) _exit(3);
        int rc = srv ? csock_server_run(srv) : 1;
        csock_server_free(srv);
        _exit(rc == 0 ? 0 : 4);
    }
    int port = 0;
    CHECK_EQ(read(ready[0], &port, sizeof port), (ssize_t)sizeof port);
    close(ready[0]);
    close(ready[1]);
    CHECK(port > 0);
    return port;
}

/* Ends the child's server with SIGTERM, its graceful way out. */
static void stop_echo_child(pid_t child)
{
    kill(child, SIGTERM);
    int status = 0;
    CHECK_EQ(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void descriptor_exhaustion_backs_off_and_recovers(void)
{
    pid_t child;
    int port = start_echo_child(&child);
    /* Twice as many clients as it has descriptors: each says hello. */
    csock *c[80];
    ssize_t sent[80];
    for (int i = 0; i < 80; i++) {
        c[i] = csock_create_connection("127.0.0.1", port, 5, NULL);
        CHECK(c[i] != NULL);
        csock_settimeout(c[i], 5);
        sent[i] = csock_send(c[i], "x", 1); /* a client shed already may learn it here */
        CHECK(sent[i] == 1 || sent[i] == CSOCK_ECONNRESET || sent[i] == CSOCK_EPIPE);
    }
    /* Every client hears at once: its echo, or, when it could not be taken, end of file or a
     * reset (a socket closed with unread bytes resets the connection). */
    int served = 0, shed = 0;
    char b;
    for (int i = 0; i < 80; i++) {
        ssize_t n = sent[i] == 1 ? csock_recv(c[i], &b, 1) : sent[i];
        served += n == 1;
        shed += n == 0 || n == CSOCK_ECONNRESET || n == CSOCK_EPIPE;
    }
    CHECK(served > 0 && shed > 0);
    CHECK_EQ(served + shed, 80);
    /* Out of descriptors with a client waiting, it must idle, not spin: over half a second it
     * may use a small share of a core. */
    csock *waiting = csock_create_connection("127.0.0.1", port, 5, NULL);
    double before = cpu_of(child);
    struct pollfd idle = {csock_fileno(waiting), POLLIN, 0};
    poll(&idle, 1, 500); /* a measurement window, not synchronisation */
    double used = cpu_of(child) - before;
    CHECK(before >= 0 && used < 0.2);
    /* Clients leave: the server takes new ones again. */
    for (int i = 0; i < 80; i++)
        csock_free(c[i]);
    csock_free(waiting);
    csock *late = csock_create_connection("127.0.0.1", port, 5, NULL);
    csock_settimeout(late, 10);
    char buf[8] = {0};
    ssize_t n = -1;
    for (int tries = 0; tries < 50 && n != 5; tries++) {
        /* A connection made while it was still full is shed: try again. */
        n = csock_sendall(late, "again", 5, NULL) == 0 ? check_recv_exactly(late, buf, 5) : -1;
        if (n != 5) {
            csock_free(late);
            late = csock_create_connection("127.0.0.1", port, 5, NULL);
            csock_settimeout(late, 10);
        }
    }
    CHECK_EQ(n, 5);
    csock_free(late);
    stop_echo_child(child);
}

/* Connects, sends a byte and waits for its echo. Returns the socket if the server took the
 * connection; NULL, with *shed set, if it was shed (end of file, or a reset). */
static csock *try_client(int port, int *shed)
{
    csock *c = csock_create_connection("127.0.0.1", port, 5, NULL);
    CHECK(c != NULL);
    char b;
    CHECK_EQ(csock_settimeout(c, 10), 0);
    /* A client shed before its byte went out learns it from the send. */
    ssize_t sent = csock_send(c, "x", 1);
    ssize_t n = sent == 1 ? csock_recv(c, &b, 1) : sent;
    *shed = n == 0 || n == CSOCK_ECONNRESET || n == CSOCK_EPIPE;
    if (n == 1) return c;
    CHECK(*shed);
    csock_free(c);
    return NULL;
}

/* Out of descriptors, each client that comes is shed and makes the pause before the next accept
 * longer. Once descriptors are free again, the next client must be taken within a fraction of a
 * second, however long the exhaustion lasted: the pause stays short. Returns how long the next
 * client took to be taken, in seconds. */
static double resume_after_exhaustion(int port)
{
    csock *held[40];
    int count = 0, shed = 0;
    while (count < 40 && !shed) {
        csock *c = try_client(port, &shed);
        if (c) held[count++] = c;
    }
    CHECK(shed && count > 20);
    /* Eight more, one after another, each shed when the pause before it ends: a pause that
     * doubles each time from 10 ms would be up to 1 s by now. */
    for (int i = 0; i < 8; i++) {
        CHECK(try_client(port, &shed) == NULL);
        CHECK(shed);
    }
    for (int i = 0; i < count; i++)
        csock_free(held[i]);
    double freed = check_now();
    csock *late = NULL;
    /* One that came before the server closed its ends of the freed clients is shed: tried until
     * one is taken, for at most 10 s (a loaded machine may take a while to run the server). */
    while (!late && check_now() - freed < 10)
        late = try_client(port, &shed);
    double took = check_now() - freed;
    CHECK(late != NULL);
    csock_free(late);
    return took;
}

/* A pause that stayed long would make every round take about a second; a loaded machine may
 * delay any one round, so the quickest of three is what is checked. */
static void accepting_resumes_soon_after_exhaustion(void)
{
    pid_t child;
    int port = start_echo_child(&child);
    double quickest = 1e9;
    for (int round = 0; round < 3 && quickest >= 0.5; round++) {
        double took = resume_after_exhaustion(port);
        if (took < quickest) quickest = took;
    }
    if (quickest >= 0.5) fprintf(stderr, "  taken %.3f s after descriptors were freed\n", quickest);
    CHECK(quickest < 0.5);
    stop_echo_child(child);
}

/* ---- addresses: parsed once, the value bound as it is ---- */

/* Runs srv, checks that client c gets its bytes echoed, then shuts srv down and frees both. */
static void check_echo_and_free(csock_server *srv, csock *c)
{
    pthread_t t = check_thread(serve, srv);
    char buf[8] = {0};
    CHECK_EQ(csock_sendall(c, "hi", 2, NULL), 0);
    CHECK_EQ(check_recv_exactly(c, buf, 2), 2);
    CHECK_STR(buf, "hi");
    csock_server_shutdown(srv);
    check_join(t);
    csock_free(c);
    csock_server_free(srv);
}

/* The server is on exactly the Unix name of text (an abstract name's bytes as written). */
static void serves_on_unix_name(const char *text, const char *name)
{
    csock_server_config config = {.handler = &echo_handler};
    csock_server *srv = csock_server_new(text, &config);
    CHECK(srv != NULL);
    if (!srv) {
        fprintf(stderr, "server on \"%s\": %s\n", text, csock_lasterror());
        return;
    }
    csock_addr a, want;
    CHECK_EQ(csock_server_address(srv, &a), 0);
    struct sockaddr_un *un = (struct sockaddr_un *)&want.ss;
    memset(&want, 0, sizeof want);
    un->sun_family = AF_UNIX;
    size_t n = strlen(name);
    memcpy(un->sun_path, name, n);
    if (name[0] == '@') un->sun_path[0] = '\0';
    want.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] != '@'));
    CHECK(a.len == want.len && memcmp(&a.ss, &want.ss, a.len) == 0);
    /* And a client reaches it by the same text. */
    csock *c = csock_create_connection(text, 0, 5, NULL);
    CHECK(c != NULL);
    check_echo_and_free(srv, c);
    if (name[0] != '@') unlink(name);
}

static void unix_addresses_bind_what_they_say(void)
{
    char dir[] = "/tmp/csock-server-XXXXXX", name[64], text[80], max_path[128], over[140];
    CHECK(mkdtemp(dir) != NULL);
    /* A backslash in an abstract name is a byte of the name, not an escape to undo. */
    snprintf(name, sizeof name, "@csock-server-%d\\b", (int)getpid());
    serves_on_unix_name(name, name);
    snprintf(text, sizeof text, "unix:%s-u", name);
    serves_on_unix_name(text, text + 5);
    int used = snprintf(max_path, sizeof max_path, "%s/", dir);
    memset(max_path + used, 'm', 107 - (size_t)used);
    max_path[107] = '\0';
    serves_on_unix_name(max_path, max_path);
    snprintf(over, sizeof over, "%sm", max_path);
    csock_server_config config = {.handler = &echo_handler};
    CHECK(csock_server_new(over, &config) == NULL);
    CHECK_ERROR(CSOCK_ENAMETOOLONG, "Unix socket path too long (108 bytes, at most 107)");
    CHECK(csock_server_new("@", &config) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "empty abstract Unix name");
    CHECK(csock_server_new("", &config) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "parse address \"\"");
    CHECK(csock_server_new("./rel", &config) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "a relative Unix path is written unix:./rel");
    rmdir(dir);
}

/* A server on a ready-made address: an abstract name with a NUL, which no text names. */
static void server_on_an_address(void)
{
    char name[64];
    int n = snprintf(name, sizeof name, "@csock-server-%d", (int)getpid());
    name[n++] = '\0';
    name[n++] = 'z';
    csock_addr a, got;
    CHECK_EQ(csock_addr_unix(&a, name, (size_t)n), 0);
    csock_server_config config = {.handler = &echo_handler};
    csock_server *srv = csock_server_new_addr(&a, &config);
    CHECK(srv != NULL);
    CHECK_EQ(csock_server_address(srv, &got), 0);
    CHECK(got.len == a.len && memcmp(&got.ss, &a.ss, a.len) == 0);
    csock *c = csock_socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(csock_connect_addr(c, &a), 0);
    check_echo_and_free(srv, c);
    csock_addr empty = {0};
    CHECK(csock_server_new_addr(&empty, &config) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "server: no address");
    CHECK(csock_server_new_addr(NULL, &config) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "server: NULL address");
    csock_server_config none = {0};
    CHECK_EQ(csock_addr_parse(&a, "127.0.0.1:0"), 0);
    CHECK(csock_server_new_addr(&a, &none) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "a handler is needed");
}

/* ---- a stop with replies still queued ---- */

#define REPLY (200 * 1000)

static csock_server *replying_server;
static int replied;

static char reply_byte(size_t i)
{
    return (char)(i * 13 + 1);
}

/* The first bytes in get a 200 KB reply, most of it queued, and the server is told to stop. */
static void reply_then_stop(csock_stream *st, void *data)
{
    (void)data;
    static char reply[REPLY];
    const char *p;
    csock_stream_consume(st, csock_stream_peek(st, &p));
    if (replied++) return;
    for (size_t i = 0; i < REPLY; i++)
        reply[i] = reply_byte(i);
    CHECK(csock_stream_write(st, reply, REPLY) >= 0);
    csock_server_shutdown(replying_server);
}

static atomic_int uploading;

static void *upload_until_refused(void *arg)
{
    static char buf[16384];
    while (atomic_load(&uploading) && csock_sendall(arg, buf, sizeof buf, NULL) == 0) {
    }
    return NULL;
}

/* Reads until end of file: the reply's bytes, each checked; returns how many, or -1 after a
 * wrong byte or an error (a reset). */
static long read_reply(csock *c)
{
    static char buf[65536];
    size_t got = 0;
    ssize_t n;
    while ((n = csock_recv(c, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != reply_byte(got + (size_t)i)) return -1;
        got += (size_t)n;
    }
    return n < 0 ? -1 : (long)got;
}

/* A server stopped with a reply queued still sends all of it, then end of file, also to a client
 * that keeps uploading; and it returns within the handler's close_timeout even then. */
static void stop_delivers_queued_replies(void)
{
    static const csock_stream_handler h = {.on_data = reply_then_stop, .close_timeout = 0.5};
    for (int upload = 0; upload <= 1; upload++) {
        int fds = check_open_fds();
        csock_server_config config = {.handler = &h};
        replied = 0;
        replying_server = csock_server_new("127.0.0.1:0", &config);
        CHECK(replying_server != NULL);
        pthread_t t = check_thread(serve, replying_server);
        csock *c = csock_create_connection("127.0.0.1", port_of(replying_server), 5, NULL);
        CHECK(c != NULL);
        CHECK_EQ(csock_setrcvbuf(c, 16384), 0); /* most of the reply waits on the server */
        csock_settimeout(c, 5);
        pthread_t up;
        atomic_store(&uploading, 1);
        double start = check_now();
        if (upload)
            up = check_thread(upload_until_refused, c);
        else
            CHECK_EQ(csock_sendall(c, "go", 2, NULL), 0);
        CHECK_EQ(read_reply(c), REPLY);
        check_join(t); /* the server returned */
        CHECK(check_now() - start < 3);
        if (upload) {
            atomic_store(&uploading, 0);
            check_join(up);
        }
        CHECK_EQ(csock_server_connections(replying_server), 0);
        csock_free(c);
        csock_server_free(replying_server);
        CHECK_EQ(check_open_fds(), fds);
    }
}

static char threads_reply[REPLY];

/* THREADS: reads a byte, sends the whole reply and returns, with the client's upload unread. */
static void reply_and_return(csock *client, void *data)
{
    (void)data;
    char first;
    CHECK_EQ(csock_recv(client, &first, 1), 1);
    CHECK_EQ(csock_sendall(client, threads_reply, REPLY, NULL), 0);
}

/* A serve function that returns with its client's bytes unread and most of its reply still
 * queued: closing then would reset the connection and lose the reply's tail. The connection
 * lingers instead, so a client that keeps uploading gets the whole reply, then end of file. */
static void threads_reply_survives_unread_input(void)
{
    int fds = check_open_fds();
    for (size_t i = 0; i < REPLY; i++)
        threads_reply[i] = reply_byte(i);
    csock_server_config config = {.serve = reply_and_return, .mode = CSOCK_SERVE_THREADS};
    csock_server *srv = csock_server_new("127.0.0.1:0", &config);
    CHECK(srv != NULL);
    pthread_t t = check_thread(serve, srv);
    csock *c = csock_create_connection("127.0.0.1", port_of(srv), 5, NULL);
    CHECK(c != NULL);
    CHECK_EQ(csock_setrcvbuf(c, 16384), 0); /* most of the reply waits on the server */
    atomic_store(&uploading, 1);
    pthread_t up = check_thread(upload_until_refused, c);
    CHECK_EQ(read_reply(c), REPLY);
    atomic_store(&uploading, 0);
    check_join(up);
    csock_free(c); /* the lingering server reads this end of file and closes */
    csock_server_shutdown(srv);
    check_join(t);
    CHECK_EQ(csock_server_connections(srv), 0);
    csock_server_free(srv);
    CHECK_EQ(check_open_fds(), fds);
}

/* THREADS: takes one byte and returns. */
static void take_one_byte(csock *client, void *data)
{
    (void)data;
    char first;
    CHECK_EQ(csock_recv(client, &first, 1), 1);
}

/* A connection lingering after serve returned, for a client that never ends its side, does not
 * hold up a shutdown for the linger's 5 s. */
static void threads_shutdown_ends_a_linger(void)
{
    int fds = check_open_fds();
    csock_server_config config = {.serve = take_one_byte, .mode = CSOCK_SERVE_THREADS};
    csock_server *srv = csock_server_new("127.0.0.1:0", &config);
    CHECK(srv != NULL);
    pthread_t t = check_thread(serve, srv);
    csock *c = csock_create_connection("127.0.0.1", port_of(srv), 5, NULL);
    char buf[8];
    CHECK_EQ(csock_sendall(c, "xy", 2, NULL), 0);
    CHECK_EQ(csock_recv(c, buf, sizeof buf), 0); /* serve returned; "y" unread: it lingers */
    CHECK_EQ(csock_server_connections(srv), 1);
    double start = check_now();
    csock_server_shutdown(srv);
    check_join(t);
    CHECK(check_now() - start < 2);
    CHECK_EQ(csock_server_connections(srv), 0);
    csock_free(c);
    csock_server_free(srv);
    CHECK_EQ(check_open_fds(), fds);
}

/* A client that never reads would hold a stopping server for close_timeout (a minute here): a
 * second shutdown ends the wait at once. */
static void second_shutdown_cuts_the_close_short(void)
{
    static const csock_stream_handler h = {.on_data = reply_then_stop, .close_timeout = 60};
    int fds = check_open_fds();
    csock_server_config config = {.handler = &h};
    replied = 0;
    replying_server = csock_server_new("127.0.0.1:0", &config);
    pthread_t t = check_thread(serve, replying_server);
    csock *c = csock_create_connection("127.0.0.1", port_of(replying_server), 5, NULL);
    CHECK_EQ(csock_setrcvbuf(c, 16384), 0);
    CHECK_EQ(csock_sendall(c, "go", 2, NULL), 0);
    double start = check_now();
    int joined = 0;
    /* The first shutdown comes from the handler; more follow until run returns. */
    while (!joined && check_now() - start < 10) {
        csock_server_shutdown(replying_server);
        struct pollfd none;
        poll(&none, 0, 20); /* a pause between requests, not synchronisation */
        joined = pthread_tryjoin_np(t, NULL) == 0;
    }
    CHECK(joined);
    CHECK(check_now() - start < 5);
    csock_free(c);
    csock_server_free(replying_server);
    CHECK_EQ(check_open_fds(), fds);
}

/* An address whose length its structure cannot hold is refused before a byte past it is read. */
static void server_address_lengths_are_checked(void)
{
    csock_server_config config = {.handler = &echo_handler};
    csock_addr a;
    memset(&a, 'A', sizeof a);
    a.ss.ss_family = AF_UNIX;
    a.len = 200;
    CHECK(csock_server_new_addr(&a, &config) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "server: address length 200 is over the 128 bytes of a csock_addr");
    a.len = sizeof(struct sockaddr_un) + 1;
    CHECK(csock_server_new_addr(&a, &config) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "server: address length 111 is over the 110 bytes of an AF_UNIX");
    a.ss.ss_family = AF_INET;
    a.len = 8;
    CHECK(csock_server_new_addr(&a, &config) == NULL);
    CHECK_ERROR(CSOCK_EINVAL, "server: address length 8 is too short for AF_INET (16 bytes)");
}

int main(void)
{
    check_watchdog(100);
    RUN(bad_configs);
    RUN(fields_outside_their_mode);
    RUN(one_loop);
    RUN(two_loops_shared_listener);
    RUN(two_loops_reuse_port);
    RUN(connection_limit_and_shutdown_with_clients);
    RUN(own_streams_are_not_connections);
    RUN(thread_per_connection_shutdown_from_a_handler);
    RUN(own_watch_on_the_server_loop);
    RUN(relative_unix_path);
    RUN(descriptor_exhaustion_backs_off_and_recovers);
    RUN(accepting_resumes_soon_after_exhaustion);
    RUN(unix_addresses_bind_what_they_say);
    RUN(server_on_an_address);
    RUN(stop_delivers_queued_replies);
    RUN(threads_reply_survives_unread_input);
    RUN(threads_shutdown_ends_a_linger);
    RUN(second_shutdown_cuts_the_close_short);
    RUN(server_address_lengths_are_checked);
    return check_done();
}
