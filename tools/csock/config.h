/* SPDX-License-Identifier: MIT */
/* The csock command: what the command line asks for, parsed and checked before anything runs,
 * and the parts that run it. csock.1 is the specification. */
#ifndef CSOCK_TOOL_CONFIG_H
#define CSOCK_TOOL_CONFIG_H

#include <csock.h>

#include <stdint.h>

/* Exit statuses (csock.1, EXIT STATUS). */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,  /* an operation failed: refused, reset, in use, no open port found */
    EXIT_USAGE = 2,   /* the command line is wrong; nothing was done */
    EXIT_TIMEOUT = 3, /* -w or -i ran out */
};

enum command { CMD_CONNECT, CMD_LISTEN, CMD_SERVE };
enum service { SERVICE_ECHO, SERVICE_DISCARD, SERVICE_CHARGEN };

#define NO_LIMIT (-1.0) /* a duration option that was not given */

/* An address as written on the command line: host and port (or a port range, for -z), or a Unix
 * path or abstract name. */
struct endpoint {
    int unix_socket;     /* a Unix address: host is the path, or "@name" */
    char host[256];      /* a name or numeric address; "" is the wildcard */
    int port, port_last; /* port_last > port only for a range ("20-25") */
    int has_port;        /* a port was given (a source address may omit it) */
};

struct config {
    enum command command;
    enum service service;    /* serve */
    struct endpoint address; /* what to connect to, listen on or serve on */
    int udp;                 /* -u: datagrams (UDP, or Unix datagram sockets) */
    int family;              /* -4, -6: AF_INET or AF_INET6; 0 for either */
    struct endpoint source;  /* -s */
    int has_source;
    int keep_open;     /* -k */
    int max_conns;     /* -m; 0: no limit */
    int scan;          /* -z */
    int verbose;       /* -v */
    int hex;           /* -x */
    int no_stdin;      /* -d */
    int no_shutdown;   /* --no-shutdown */
    double wait;       /* -w: seconds to connect (listen: for the first client); NO_LIMIT */
    double idle;       /* -i: seconds without traffic; NO_LIMIT */
    double quit_after; /* -q: seconds after end of standard input; NO_LIMIT */
    const char *exec;  /* --exec: a shell command per connection */
};

/* options.c: fills c from the command line and checks it. Returns EXIT_OK, or EXIT_USAGE with
 * the reason printed; *done is set when the call was --help or --version (nothing left to run). */
int parse_command_line(int argc, char **argv, struct config *c, int *done);

/* parse.c: "500ms", "2s", "1.5", "1m", "1h" to seconds (a bare number is seconds). Returns 0, or
 * -1 for anything else, negative or over 2^31 s. */
int parse_duration(const char *text, double *seconds);

/* parse.c: an address in csock's syntax, "unix:" paths included. A port is required unless
 * port_optional; a range "N-M" is taken only if ranges. Returns 0, or -1 with why set. */
int parse_endpoint(const char *text, int port_optional, int ranges, struct endpoint *out,
                   const char **why);

/* parse.c: formats a host and port the way csock writes addresses ("[::1]:80"). */
void endpoint_text(const char *host, int port, char *buf, size_t size);

/* Prints "csock: " and the message to standard error. */
void say(const char *fmt, ...);

/* Says why op ("connect", "bind") of host:port failed, from csock_lastcode(), in the words of
 * csock's other messages: "connect nosuch.invalid:80: Name or service not known" (rather than
 * naming the look-up step). */
void say_failed(const char *op, const char *host, int port);

/* The commands. Each returns an exit status. */
int run_connect(const struct config *c);
int run_listen(const struct config *c);
int run_serve(const struct config *c);
int run_scan(const struct config *c);
int csock_ping_main(int argc, char **argv); /* examples/ping/ping.c */

/* The exit status for a failed csock call: EXIT_TIMEOUT for a timeout, else EXIT_FAILED. */
int failure_status(int code);

#endif
