/* SPDX-License-Identifier: MIT */
/* The command line, read into one struct and checked before anything runs: every option that
 * does not apply to the command, or conflicts with another, is refused with a specific reason. */
#define _GNU_SOURCE /* getopt_long */
#include "config.h"
#include "tls.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
    "usage: csock [options] connect ADDRESS\n"
    "       csock [options] listen ADDRESS\n"
    "       csock [options] serve echo|discard|chargen ADDRESS\n"
    "       csock [options] forward LISTEN TARGET\n"
    "       csock ping [-4|-6] [-c count] [-i interval] [-W wait] [-s size] [-v] HOST\n"
    "\n"
    "Moves standard input to the peer and the peer's data to standard output, both ways at\n"
    "once. At the end of standard input the connection is shut down for writing; csock exits\n"
    "when the peer closes (input from a pipe or a file is sent to its end first).\n"
    "forward connects each client accepted on LISTEN to TARGET, both ways at once.\n"
    "\n"
    "ADDRESS is host:port, [v6addr]:port, :port (every interface), unix:/path or unix:@name.\n"
    "\n"
    "  -u, --udp              datagrams: UDP, or a Unix datagram socket\n"
    "  -4, -6                 IPv4 only, IPv6 only\n"
    "  -s, --source ADDRESS   connect (forward: to TARGET) from this source address\n"
    "  --progress             bytes, rate and time so far on standard error\n"
    "  -k, --keep-open        listen: keep listening and serve many clients at once\n"
    "  -m, --max-conns N      listen -k, serve, forward: at most N connections at once\n"
    "  -w, --wait TIME        connect within TIME; listen: give up if no client comes by then\n"
    "                         forward: connect each client to TARGET within TIME\n"
    "  -i, --idle TIME        close a connection idle for TIME\n"
    "  -q, --quit-after TIME  quit TIME after the end of standard input (0: once it is sent)\n"
    "  -d, --no-stdin         do not read standard input\n"
    "  --no-shutdown          at the end of standard input, keep the connection open\n"
    "  -z, --scan             connect: scan HOST:PORT or HOST:LOW-HIGH, print each open port\n"
    "  -e, --exec CMD         run CMD with sh -c per connection, the socket as its stdin/stdout\n"
    "  --tls                  speak TLS (a client verifies the server; forward: with clients)\n"
    "  --target-tls           forward: speak TLS with TARGET, verifying it\n"
    "  --ca FILE              trust only the CAs in FILE (listen, serve: require client\n"
    "                         certificates; forward: for TARGET)\n"
    "  --cert FILE, --key FILE  this side's certificate chain and key (listen, serve and\n"
    "                         forward --tls: required)\n"
    "  --sni NAME             connect, forward: send and check NAME, not the host\n"
    "  --alpn LIST            offer (listen: accept) these protocols, comma-separated\n"
    "  --insecure             connect, forward: do not verify the server's certificate\n"
    "  -x, --hex              hex dump of the traffic on standard error\n"
    "  -v, --verbose          say what happens on standard error (listening on, connected to)\n"
    "  -h, --help             this text\n"
    "  -V, --version          the version\n"
    "\n"
    "TIME is 500ms, 2s, 1.5s, 1m or 1h (a bare number is seconds).\n"
    "Exit status: 0 done, 1 failed, 2 usage error, 3 timed out. See csock(1).\n";

static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say_then("csock", "Try 'csock --help'.\n", fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

enum {
    OPT_NO_SHUTDOWN = 256,
    OPT_PROGRESS,
    OPT_TLS,
    OPT_CA,
    OPT_CERT,
    OPT_KEY,
    OPT_SNI,
    OPT_ALPN,
    OPT_INSECURE,
    OPT_TARGET_TLS,
    OPT_LAST = OPT_TARGET_TLS
};

static const struct option long_options[] = {
    {"udp", no_argument, NULL, 'u'},
    {"source", required_argument, NULL, 's'},
    {"keep-open", no_argument, NULL, 'k'},
    {"max-conns", required_argument, NULL, 'm'},
    {"wait", required_argument, NULL, 'w'},
    {"idle", required_argument, NULL, 'i'},
    {"quit-after", required_argument, NULL, 'q'},
    {"no-stdin", no_argument, NULL, 'd'},
    {"no-shutdown", no_argument, NULL, OPT_NO_SHUTDOWN},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"tls", no_argument, NULL, OPT_TLS},
    {"ca", required_argument, NULL, OPT_CA},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"sni", required_argument, NULL, OPT_SNI},
    {"alpn", required_argument, NULL, OPT_ALPN},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"target-tls", no_argument, NULL, OPT_TARGET_TLS},
    {"scan", no_argument, NULL, 'z'},
    {"exec", required_argument, NULL, 'e'},
    {"hex", no_argument, NULL, 'x'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Which commands each option applies to. */
enum { C = 1 << CMD_CONNECT, L = 1 << CMD_LISTEN, S = 1 << CMD_SERVE, F = 1 << CMD_FORWARD };
static const struct {
    int option;
    const char *name;
    int commands;
} applies[] = {
    {'s', "-s", C | F},
    {'k', "-k", L},
    {'m', "-m", L | S | F},
    {'w', "-w", C | L | F},
    {'i', "-i", C | L | S | F},
    {'q', "-q", C | L},
    {'d', "-d", C | L},
    {OPT_NO_SHUTDOWN, "--no-shutdown", C | L},
    {'z', "-z", C},
    {'e', "--exec", C | L},
    {'x', "-x", C | L},
    {'u', "-u", C | L | S},
    {OPT_PROGRESS, "--progress", C | L | F},
    {OPT_TLS, "--tls", C | L | S | F},
    {OPT_TARGET_TLS, "--target-tls", F},
    {OPT_CA, "--ca", C | L | S | F},
    {OPT_CERT, "--cert", C | L | S | F},
    {OPT_KEY, "--key", C | L | S | F},
    {OPT_SNI, "--sni", C | F},
    {OPT_ALPN, "--alpn", C | L | S | F},
    {OPT_INSECURE, "--insecure", C | F},
};

static const char *const command_names[] = {"connect", "listen", "serve", "forward"};

#define SHORT_OPTIONS ":46us:km:w:i:q:dze:xvhV"

/* Whether getopt_long's optopt names one of csock's options (its letter or a long option's
 * value), rather than a letter it does not know. */
static int known_option(int opt)
{
    return opt >= OPT_NO_SHUTDOWN || (opt > 0 && opt != ':' && strchr(SHORT_OPTIONS, opt));
}

/* What is wrong with an option getopt_long refused: a letter it does not know, or a long option
 * (arg) that is unknown, ambiguous, or given a value it does not take. getopt_long sets optopt to
 * the unknown letter, to the long option's value when it was given a value, and to 0 when no
 * long option is found. */
static int bad_option(const char *arg, int opt)
{
    /* nc's letters for listening and its port: csock names the command and the address. */
    if (opt == 'l' || opt == 'p')
        return usage(
            "unknown option -%c: csock listens with the listen command and takes the "
            "port in the address: csock listen :9000 (see DIFFERENCES FROM NC in csock(1))",
            opt);
    if (opt && !known_option(opt)) return usage("unknown option -%c", opt);
    const char *name = arg + 2;
    int len = (int)strcspn(name, "=");
    const struct option *first = NULL, *second = NULL;
    for (const struct option *o = long_options; o->name; o++) {
        if (strncmp(o->name, name, (size_t)len) != 0) continue;
        if ((int)strlen(o->name) == len) { /* exact: no abbreviation is ambiguous then */
            first = o;
            second = NULL;
            break;
        }
        *(first ? &second : &first) = o;
    }
    if (first && second)
        return usage("option --%.*s is ambiguous: --%s or --%s", len, name, first->name,
                     second->name);
    if (first && name[len] == '=' && first->has_arg == no_argument)
        return usage("option --%s takes no value", first->name);
    return usage("unknown option --%.*s", len, name);
}

static int duration_arg(const char *name, const char *text, double *out)
{
    const char *why;
    if (parse_duration(text, out, &why) == 0) return 0;
    return usage("%s takes a time such as 500ms, 2s or 1m, not '%s'%s%s", name, text,
                 why ? ": " : "", why ? why : "");
}

/* --alpn h2,http/1.1: 1 to 16 names of 1 to 255 bytes. */
static int alpn_arg(const char *list)
{
    size_t n = 0;
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len > 255)
            return usage("--alpn takes protocol names of 1 to 255 bytes, separated by commas "
                         "(h2,http/1.1), not '%s'",
                         list);
        if (++n > 16) return usage("--alpn takes at most 16 protocols");
        p += len;
        if (!*p) return 0;
    }
}

/* The options as given, before the command word is known. */
struct given {
    int seen[OPT_LAST + 1];
    const char *source;
    const char *address; /* as written */
    const char *target;  /* forward's, as written */
};

static int read_options(int argc, char **argv, struct config *c, struct given *g, int *done)
{
    int opt;
    char *end;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, SHORT_OPTIONS, long_options, NULL)) != -1) {
        if (opt >= 0 && opt <= OPT_LAST) g->seen[opt] = 1;
        switch (opt) {
        case '4':
        case '6':
            if (family_option(opt, &c->family) < 0) return usage("cannot use -4 and -6 together");
            break;
        case 'u':
            c->udp = 1;
            break;
        case 's':
            g->source = optarg;
            break;
        case 'k':
            c->keep_open = 1;
            break;
        case 'm': {
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 1000000)
                return usage("-m takes a number of connections from 1 to 1000000, not '%s'",
                             optarg);
            c->max_conns = (int)v;
            break;
        }
        case 'w':
            if (duration_arg("-w", optarg, &c->wait)) return EXIT_USAGE;
            if (c->wait == 0) return usage("-w needs a time above 0");
            break;
        case 'i':
            if (duration_arg("-i", optarg, &c->idle)) return EXIT_USAGE;
            if (c->idle == 0) return usage("-i needs a time above 0");
            break;
        case 'q':
            if (duration_arg("-q", optarg, &c->quit_after)) return EXIT_USAGE;
            break;
        case 'd':
            c->no_stdin = 1;
            break;
        case OPT_NO_SHUTDOWN:
            c->no_shutdown = 1;
            break;
        case OPT_PROGRESS:
            c->progress = 1;
            break;
        case OPT_TLS:
            c->tls = 1;
            break;
        case OPT_TARGET_TLS:
            c->target_tls = 1;
            break;
        case OPT_INSECURE:
            c->insecure = 1;
            break;
        case OPT_CA:
        case OPT_CERT:
        case OPT_KEY:
        case OPT_SNI:
            /* Named from the option: argv[optind - 1] is its value ("") when given apart. */
            if (!*optarg)
                return usage("%s needs a value", opt == OPT_CA     ? "--ca"
                                                 : opt == OPT_CERT ? "--cert"
                                                 : opt == OPT_KEY  ? "--key"
                                                                   : "--sni");
            *(opt == OPT_CA     ? &c->ca
              : opt == OPT_CERT ? &c->cert
              : opt == OPT_KEY  ? &c->key
                                : &c->sni) = optarg;
            break;
        case OPT_ALPN:
            if (alpn_arg(optarg)) return EXIT_USAGE;
            c->alpn = optarg;
            break;
        case 'z':
            c->scan = 1;
            break;
        case 'e':
            if (!*optarg) return usage("--exec needs a command");
            c->exec = optarg;
            break;
        case 'x':
            c->hex = 1;
            break;
        case 'v':
            c->verbose = 1;
            break;
        case 'h':
            fputs(help_text, stdout);
            *done = 1;
            return EXIT_OK;
        case 'V':
            printf("csock %s\n", csock_version());
            *done = 1;
            return EXIT_OK;
        case ':': /* the option was the last argument: optind is past it */
            if (strncmp(argv[optind - 1], "--", 2) == 0)
                return usage("%s needs a value", argv[optind - 1]);
            return usage("-%c needs a value", optopt);
        default:
            return bad_option(argv[optind - 1], optopt);
        }
    }
    return EXIT_OK;
}

/* The index of word among the n names, or -1. */
static int one_of(const char *word, const char *const names[], int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(word, names[i]) == 0) return i;
    return -1;
}

/* forward LISTEN TARGET: two addresses. */
static int read_forward(int argc, char **argv, struct config *c, struct given *g)
{
    const char *why;
    if (argc - optind != 2)
        return usage(argc - optind < 2 ? "forward needs an address to listen on and a target, e.g. "
                                         ":8080 127.0.0.1:80"
                                       : "forward takes two addresses; '%s' is one too many",
                     argv[argc - 1]);
    g->address = argv[optind];
    g->target = argv[optind + 1];
    if (parse_endpoint(g->address, 0, 0, &c->address, &why) < 0)
        return usage("%s: %s", g->address, why);
    if (parse_endpoint(g->target, 0, 0, &c->target, &why) < 0)
        return usage("%s: %s", g->target, why);
    return EXIT_OK;
}

static int read_command(int argc, char **argv, struct config *c, struct given *g)
{
    static const char *const services[] = {"echo", "discard", "chargen"};
    if (optind >= argc) return usage("no command: use connect, listen, serve, forward or ping");
    const char *word = argv[optind++];
    int n = one_of(word, command_names, 4);
    if (n < 0)
        return usage("unknown command '%s': use connect, listen, serve, forward or ping", word);
    c->command = (enum command)n;
    if (c->command == CMD_SERVE) {
        if (optind >= argc) return usage("serve needs a service: echo, discard or chargen");
        const char *name = argv[optind++];
        int s = one_of(name, services, 3);
        if (s < 0) return usage("unknown service '%s': use echo, discard or chargen", name);
        c->service = (enum service)s;
    }
    if (c->command == CMD_FORWARD) return read_forward(argc, argv, c, g);
    if (optind >= argc) return usage("%s needs an address, e.g. 127.0.0.1:9000", word);
    const char *last = argv[optind];
    int all_digits = last[0] && strspn(last, "0123456789") == strlen(last);
    if (optind + 1 < argc) {
        const char *next = argv[optind + 1];
        if (optind + 2 == argc && next[0] && strspn(next, "0123456789") == strlen(next) &&
            !strchr(last, ':') && !csock_unix_path(last))
            return usage("%s takes one address; '%s' is one too many (did you mean %s:%s?)", word,
                         next, last, next);
        return usage("%s takes one address; '%s' is one too many", word, next);
    }
    const char *why;
    g->address = last;
    if (parse_endpoint(last, 0, c->scan, &c->address, &why) < 0) {
        if (all_digits && strlen(last) <= 5)
            return usage("%s: %s (did you mean :%s?)", last, why, last);
        return usage("%s: %s", last, why);
    }
    return EXIT_OK;
}

static const char *ip_version(int family)
{
    return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* -4 or -6, a numeric address a (as written: text) and a numeric source must agree. */
static int check_families(const struct config *c, const struct given *g, const struct endpoint *a,
                          const char *text)
{
    int address = endpoint_family(a);
    int source = c->has_source ? endpoint_family(&c->source) : 0;
    const char *option = c->family == AF_INET ? "-4" : "-6";
    if (c->family && address && address != c->family)
        return usage("cannot use %s with %s, an %s address", option, text, ip_version(address));
    if (c->family && source && source != c->family)
        return usage("cannot use %s with -s %s, an %s address", option, g->source,
                     ip_version(source));
    if (address && source && address != source)
        return usage("-s %s is an %s address and %s an %s one: the families differ", g->source,
                     ip_version(source), text, ip_version(address));
    return EXIT_OK;
}

/* forward LISTEN TARGET: the target is connected to as connect's address is, from -s. */
static int check_forward(const struct config *c, const struct given *g)
{
    const struct endpoint *t = &c->target;
    if (c->address.unix_socket && t->unix_socket && c->family)
        return usage("-4 and -6 do not apply to Unix addresses");
    if (!t->unix_socket && !t->host[0]) return usage("forward needs a target host: host:port");
    if (!t->unix_socket && t->port == 0) return usage("forward needs a target port above 0");
    if (c->has_source && c->source.unix_socket)
        return usage("-s %s: a Unix stream client has no name", g->source);
    if (c->has_source && t->unix_socket)
        return usage("-s %s: the source must be of the same kind as a Unix address", g->source);
    int listen = endpoint_family(&c->address);
    if (c->family && listen && listen != c->family)
        return usage("cannot use %s with %s, an %s address", c->family == AF_INET ? "-4" : "-6",
                     g->address, ip_version(listen));
    return check_families(c, g, t, g->target);
}

/* --tls (and forward's --target-tls) and the options that go with them. In forward, --cert
 * and --key are the listening side's (--tls), --ca, --sni and --insecure the target's
 * (--target-tls). */
static int check_tls(const struct config *c, const struct given *g)
{
    static const int options[] = {OPT_CA, OPT_CERT, OPT_KEY, OPT_SNI, OPT_ALPN, OPT_INSECURE};
    static const char *const names[] = {"--ca", "--cert", "--key", "--sni", "--alpn", "--insecure"};
    int forward = c->command == CMD_FORWARD;
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        if (!g->seen[options[i]]) continue;
        int listening_side = options[i] == OPT_CERT || options[i] == OPT_KEY;
        if (!forward && !c->tls) return usage("%s needs --tls", names[i]);
        if (forward && options[i] == OPT_ALPN && !c->tls && !c->target_tls)
            return usage("--alpn needs --tls or --target-tls");
        if (forward && options[i] != OPT_ALPN && listening_side && !c->tls)
            return usage("forward: %s needs --tls (it is the listening side's)", names[i]);
        if (forward && options[i] != OPT_ALPN && !listening_side && !c->target_tls)
            return usage("forward: %s needs --target-tls (it is for the target)", names[i]);
    }
    if (!c->tls && !c->target_tls) return EXIT_OK;
    if (!tool_has_tls())
        return usage("%s: csock was built without OpenSSL 3: TLS is not available",
                     c->tls ? "--tls" : "--target-tls");
    if (c->udp) return usage("cannot use --tls with -u: TLS runs over a stream (DTLS is not TLS)");
    if (c->scan) return usage("cannot use --tls with -z: a scan sends and receives nothing");
    if (c->exec)
        return usage("cannot use --tls with --exec: the command would get the encrypted bytes");
    if (c->key && !c->cert) return usage("--key needs --cert");
    if (c->tls && c->command != CMD_CONNECT && (!c->cert || !c->key))
        return usage("%s --tls needs --cert FILE and --key FILE: a TLS server shows a "
                     "certificate",
                     command_names[c->command]);
    if (c->insecure && c->ca)
        return usage("cannot use --insecure with --ca: --insecure verifies nothing");
    if (forward && c->target_tls && c->target.unix_socket && !c->sni && !c->insecure)
        return usage("forward --target-tls to a Unix address needs --sni NAME (the name its "
                     "certificate has) or --insecure");
    return EXIT_OK;
}

/* Every conflict gets its own reason, so the user knows what to change. */
static int check(const struct config *c, const struct given *g)
{
    const char *cmd = command_names[c->command];
    for (size_t i = 0; i < sizeof applies / sizeof applies[0]; i++)
        if (g->seen[applies[i].option] && !(applies[i].commands & (1 << c->command)))
            return usage("%s does not apply to %s", applies[i].name, cmd);
    const struct endpoint *a = &c->address;
    if (check_tls(c, g) != EXIT_OK) return EXIT_USAGE;
    if (c->command == CMD_FORWARD) return check_forward(c, g);
    if (a->unix_socket && c->family) return usage("-4 and -6 do not apply to a Unix address");
    if (c->command == CMD_CONNECT && !a->unix_socket) {
        if (!a->host[0]) return usage("connect needs a host: host:port");
        if (a->port == 0 && !c->scan) return usage("connect needs a port above 0");
    }
    if (c->scan) {
        if (a->unix_socket) return usage("-z scans ports, and a Unix address has none");
        if (c->udp) return usage("cannot use -z with -u: connecting tells nothing of a UDP port");
        if (a->port == 0) return usage("-z scans ports from 1 to 65535");
        static const int conflicts[] = {'e', 'x', 'd', 'q', 'i', OPT_NO_SHUTDOWN};
        static const char *const names[] = {"--exec", "-x", "-d", "-q", "-i", "--no-shutdown"};
        for (size_t i = 0; i < sizeof conflicts / sizeof conflicts[0]; i++)
            if (g->seen[conflicts[i]])
                return usage("cannot use %s with -z: a scan sends and receives nothing", names[i]);
    }
    if (c->exec) {
        static const int conflicts[] = {'x', 'd', 'q', 'i', OPT_NO_SHUTDOWN};
        static const char *const names[] = {"-x", "-d", "-q", "-i", "--no-shutdown"};
        for (size_t i = 0; i < sizeof conflicts / sizeof conflicts[0]; i++)
            if (g->seen[conflicts[i]])
                return usage("cannot use %s with --exec: the command has the socket, not csock",
                             names[i]);
        if (c->udp && c->keep_open)
            return usage("cannot use --exec with -u -k: one UDP socket serves every peer");
    }
    if (c->keep_open) {
        if (g->seen['q']) return usage("cannot use -q with -k: the end of input ends nothing");
        if (c->no_shutdown)
            return usage("cannot use --no-shutdown with -k: the end of input shuts nothing down");
    }
    if (c->udp && c->max_conns)
        return usage("cannot use -m with -u: datagrams have no connections to count (-i forgets "
                     "silent peers)");
    if (c->udp && c->command == CMD_CONNECT && g->seen['w'])
        return usage("cannot use -w with connect -u: a datagram socket connects at once");
    if (c->command == CMD_LISTEN && c->max_conns && !c->keep_open)
        return usage("-m needs -k: without it listen serves one client");
    if (c->no_stdin && g->seen['q']) return usage("cannot use -q with -d: -d reads no input");
    if (c->no_stdin && c->no_shutdown)
        return usage("cannot use --no-shutdown with -d: -d reads no input");
    if (c->has_source && c->source.unix_socket != a->unix_socket)
        return usage("-s %s: the source must be of the same kind as %s", g->source,
                     a->unix_socket ? "a Unix address" : "an IP address");
    if (c->has_source && c->source.unix_socket && !c->udp)
        return usage("-s with a Unix address needs -u: a Unix stream client has no name");
    return check_families(c, g, a, g->address);
}

int parse_command_line(int argc, char **argv, struct config *c, int *done)
{
    *c = (struct config){.wait = NO_LIMIT, .idle = NO_LIMIT, .quit_after = NO_LIMIT};
    struct given g = {{0}, NULL, NULL, NULL};
    *done = 0;
    int rc = read_options(argc, argv, c, &g, done);
    if (rc != EXIT_OK || *done) return rc;
    if ((rc = read_command(argc, argv, c, &g)) != EXIT_OK) return rc;
    if (g.source) {
        const char *why;
        if (parse_endpoint(g.source, 1, 0, &c->source, &why) < 0)
            return usage("-s %s: %s", g.source, why);
        c->has_source = 1;
    }
    return check(c, &g);
}
