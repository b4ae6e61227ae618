/* SPDX-License-Identifier: MIT */
/* The csock command: what the command line asks for, parsed and checked before anything runs.
 * csock.1 is the specification. */
#ifndef CSOCK_TOOL_CONFIG_H
#define CSOCK_TOOL_CONFIG_H

#include "report.h"

#include <csock.h>

#include <stdint.h>

enum command { CMD_CONNECT, CMD_LISTEN, CMD_SERVE, CMD_FORWARD };
enum service { SERVICE_ECHO, SERVICE_DISCARD, SERVICE_CHARGEN };

#define NO_LIMIT (-1.0) /* a duration option that was not given */

/* An address as written on the command line: host and port (or a port range, for -z), or a Unix
 * path or abstract name. */
struct endpoint {
    int unix_socket;      /* a Unix address: host is the path, or "@name" */
    csock_addr unix_addr; /* unix_socket: the address, as parsed */
    char host[256];       /* a name or numeric address; "" is the wildcard */
    int port, port_last;  /* port_last > port only for a range ("20-25") */
    int has_port;         /* a port was given (a source address may omit it) */
};

struct config {
    enum command command;
    enum service service;    /* serve */
    struct endpoint address; /* what to connect to, listen on or serve on (forward: listen on) */
    struct endpoint target;  /* forward: what each client is connected to */
    int udp;                 /* -u: datagrams (UDP, or Unix datagram sockets) */
    int family;              /* -4, -6: AF_INET or AF_INET6; 0 for either */
    struct endpoint source;  /* -s */
    int has_source;
    int keep_open;     /* -k */
    int max_conns;     /* -m; 0: no limit */
    int scan;          /* -z */
    int verbose;       /* -v */
    int hex;           /* -x */
    int progress;      /* --progress: bytes, rate and time on standard error */
    int no_stdin;      /* -d */
    int no_shutdown;   /* --no-shutdown */
    double wait;       /* -w: seconds to connect (listen: for the first client); NO_LIMIT */
    double idle;       /* -i: seconds without traffic; NO_LIMIT */
    double quit_after; /* -q: seconds after end of standard input; NO_LIMIT */
    const char *exec;  /* --exec: a shell command per connection */
    int tls;           /* --tls: connect, listen and serve speak TLS (forward: with clients) */
    int target_tls;    /* --target-tls: forward speaks TLS with its target */
    int insecure;      /* --insecure: a client verifies nothing */
    const char *ca, *cert, *key; /* --ca, --cert, --key: PEM files */
    const char *sni;             /* --sni: the name a client sends and checks */
    const char *alpn;            /* --alpn: comma-separated protocols */
};

/* options.c: fills c from the command line and checks it. Returns EXIT_OK, or EXIT_USAGE with
 * the reason printed; *done is set when the call was --help or --version (nothing left to run). */
int parse_command_line(int argc, char **argv, struct config *c, int *done);

/* parse.c: "500ms", "2s", "1.5", "1m", "1h", "250us" to seconds (a bare number is seconds): a
 * decimal number and a unit, as csock.1 says. Returns 0, or -1 for anything else, with *why the
 * reason ("a time has no exponent: ...") or NULL where the text is no number at all. */
int parse_duration(const char *text, double *seconds, const char **why);

/* parse.c: -4 or -6 (opt) into *family. Returns 0, or -1 if *family is the other already. */
int family_option(int opt, int *family);

/* parse.c: the family of an IP address written as a number ("127.0.0.1", "::1"); 0 for a name,
 * the wildcard or a Unix address, whose family is not known before a look-up. */
int endpoint_family(const struct endpoint *e);

/* parse.c: an address in csock's syntax, "unix:" paths included. A port is required unless
 * port_optional; a range "N-M" is taken only if ranges. Returns 0, or -1 with why set. */
int parse_endpoint(const char *text, int port_optional, int ranges, struct endpoint *out,
                   const char **why);

#endif
