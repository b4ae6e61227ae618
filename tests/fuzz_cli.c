/* SPDX-License-Identifier: MIT */
/* Fuzzes the csock tool's command line: the input is split at NUL bytes into arguments and
 * parsed as main does. No command line may crash the parser, read past an argument, or leak;
 * one that is accepted must give a config that holds what its fields promise; and an address
 * or time that parses on its own must be in range, with a host:port that formats back to text
 * that parses to the same host and port. Built with -fsanitize=fuzzer when CSOCK_FUZZ is on. */
#include "config.h"
#include "fuzz.h"

#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 24

static int terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static int time_ok(double t)
{
    return t == NO_LIMIT || (isfinite(t) && t >= 0 && t <= 2147483647.0);
}

static void check_endpoint(const struct endpoint *e)
{
    if (!terminated(e->host, sizeof e->host)) abort();
    if (e->has_port && (e->port < 0 || e->port_last < e->port || e->port_last > 65535)) abort();
}

static void check_config(const struct config *c)
{
    if (c->command > CMD_FORWARD || c->service > SERVICE_CHARGEN) abort();
    check_endpoint(&c->address);
    if (c->command == CMD_FORWARD) check_endpoint(&c->target);
    if (c->has_source) check_endpoint(&c->source);
    if (!time_ok(c->wait) || !time_ok(c->idle) || !time_ok(c->quit_after)) abort();
    if (c->wait == 0 || c->idle == 0 || c->max_conns < 0) abort();
    if (c->address.port_last != c->address.port && !c->scan) abort();
}

/* An address alone: in range, and host:port text parses back to itself. */
static void check_address(const char *text)
{
    struct endpoint e, again;
    const char *why;
    for (int optional = 0; optional < 2; optional++) {
        if (parse_endpoint(text, optional, 1, &e, &why) != 0) {
            if (!why || !*why) abort(); /* a refusal always says why */
            continue;
        }
        check_endpoint(&e);
        if (e.unix_socket || !e.has_port || e.port_last != e.port) continue;
        char formatted[300];
        endpoint_text(e.host, e.port, formatted, sizeof formatted);
        if (parse_endpoint(formatted, 0, 0, &again, &why) != 0 || strcmp(again.host, e.host) != 0 ||
            again.port != e.port)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text) return 0;

    char *argv[MAX_ARGS + 2] = {"csock"};
    int argc = 1;
    for (char *p = text; argc <= MAX_ARGS && p <= text + size; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    struct config c;
    int done;
    optind = 0; /* glibc: start over, as for a new process */
    int rc = parse_command_line(argc, argv, &c, &done);
    if (rc != EXIT_OK && rc != EXIT_USAGE) abort();
    if (rc == EXIT_OK && !done) check_config(&c);

    check_address(text);
    double t;
    const char *why;
    if (parse_duration(text, &t, &why) == 0 && !time_ok(t)) abort();
    free(text);
    return 0;
}
