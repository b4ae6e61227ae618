/* SPDX-License-Identifier: MIT */
/* --exec: a command per connection, the socket as its standard input and output. The command
 * gets nothing else of csock's: every descriptor above standard error is closed in the child
 * before exec (the listening socket, other clients, the loop's own), whatever its flags, and the
 * signal mask and the socket's blocking mode are put back as a new program expects them. */
#define _GNU_SOURCE /* close_range, strsignal */
#include "local.h"
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Only async-signal-safe calls from here to exec: the child of a process with threads. */
static void close_from(int lowest)
{
    if (close_range((unsigned)lowest, ~0U, 0) == 0) return;
    struct rlimit rl;
    int last =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1048576 ? (int)rl.rlim_cur : 1048576;
    for (int fd = lowest; fd < last; fd++)
        close(fd);
}

static void child(const char *command, int fd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    output_give_sigpipe(); /* the command gets SIGPIPE as csock's own caller gave it */
    /* A descriptor below 2 would be closed by the dup2 onto it, or keep its close-on-exec flag. */
    if (fd < 2 && (fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) _exit(127);
    if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0) _exit(127);
    int flags = fcntl(STDIN_FILENO, F_GETFL);
    if (flags >= 0) fcntl(STDIN_FILENO, F_SETFL, flags & ~O_NONBLOCK);
    close_from(3);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    static const char msg[] = "csock: exec /bin/sh failed\n";
    ssize_t rc = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)rc;
    _exit(127);
}

pid_t spawn_command(const char *command, int fd)
{
    pid_t pid = fork();
    if (pid < 0) {
        say("--exec %s: fork: %s", command, strerror(errno));
        return -1;
    }
    if (pid == 0) child(command, fd);
    return pid;
}

/* Says how the command ended unless it exited with 0 (or always, when verbose). Returns whether
 * it exited with 0. */
static int report(const struct config *c, pid_t pid, int status)
{
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok && !c->verbose) return 1;
    if (WIFEXITED(status))
        say("--exec %s (pid %d) exited with status %d", c->exec, (int)pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        say("--exec %s (pid %d) was killed by signal %d (%s)", c->exec, (int)pid, WTERMSIG(status),
            strsignal(WTERMSIG(status)));
    return ok;
}

int exec_session(const struct config *c, csock *s)
{
    pid_t pid = spawn_command(c->exec, csock_fileno(s));
    csock_free(s); /* the command has the connection now */
    if (pid < 0) return EXIT_FAILED;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            say("--exec %s: wait: %s", c->exec, strerror(errno));
            return EXIT_FAILED;
        }
    return report(c, pid, status) ? EXIT_OK : EXIT_FAILED;
}

/* ---- a command per connection, many at once (-k) ---- */

static struct {
    const struct config *c;
    int running;
} commands;

static void command_open(csock_stream *st, void *data)
{
    (void)data;
    char peer[CSOCK_ADDRSTRLEN];
    stream_peer_text(st, peer, sizeof peer);
    const struct config *c = commands.c;
    if (c->max_conns && commands.running >= c->max_conns) {
        say("%s refused: %d commands are running (-m %d)", peer, commands.running, c->max_conns);
    } else {
        pid_t pid = spawn_command(c->exec, csock_stream_fileno(st));
        if (pid > 0) {
            commands.running++;
            if (c->verbose) say("connection from %s: running %s (pid %d)", peer, c->exec, (int)pid);
        }
    }
    csock_stream_abort(st); /* csock's copy; the command keeps the connection */
}

static void command_data(csock_stream *st, void *data)
{
    (void)st, (void)data; /* never called: the stream is aborted as it opens */
}

static void reap(csock_loop *loop, void *data)
{
    (void)loop, (void)data;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        commands.running--;
        report(commands.c, pid, status);
    }
}

csock_server_config exec_server_config(const struct config *c)
{
    static const csock_stream_handler handler = {.on_open = command_open, .on_data = command_data};
    commands.c = c;
    return (csock_server_config){.handler = &handler, .stop_on_signals = 1};
}

int exec_serve(const struct config *c, csock_server *srv)
{
    csock_loop *loop = csock_server_loop(srv, 0);
    if (csock_loop_on_signal(loop, SIGCHLD, reap, NULL) < 0 || csock_server_run(srv) < 0) {
        say("%s", csock_lasterror());
        return EXIT_FAILED;
    }
    (void)c;
    return EXIT_OK;
}
