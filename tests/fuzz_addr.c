/* Fuzzes the address and port parsers: no input may crash them, read past the text, or leak;
 * and an IPv4, IPv6 or Unix-path address that parses formats back to text that parses to the
 * same address. Built with -fsanitize=fuzzer when CSOCK_FUZZ is on. */
#include "fuzz.h"

#include <csock.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* parse(format(a)) == a, for every address whose text form is meant to parse back. */
static void check_round_trip(const csock_addr *a)
{
    char out[CSOCK_ADDRSTRLEN], again[CSOCK_ADDRSTRLEN + 8];
    if (csock_addr_format(a, out, sizeof out) < 0) abort();
    if (out[0] == '@')
        return; /* abstract names print bytes as \xHH, which is for reading, not parsing */
    /* A relative Unix path prints bare; it parses back with its "unix:" prefix. */
    int relative = csock_addr_family(a) == AF_UNIX && out[0] != '/';
    snprintf(again, sizeof again, "%s%s", relative ? "unix:" : "", out);
    csock_addr b;
    if (csock_addr_parse(&b, again) != 0 || a->len != b.len || memcmp(&a->ss, &b.ss, a->len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text) return 0;

    csock_addr a;
    if (csock_addr_parse(&a, text) == 0) check_round_trip(&a);
    csock_parse_port(text);
    /* The text split at its last comma, as host and port. */
    char *comma = strrchr(text, ',');
    if (comma) {
        *comma = '\0';
        int port = csock_parse_port(comma + 1);
        if (csock_addr_make(&a, text, port < 0 ? 1 : port) == 0) check_round_trip(&a);
    }
    free(text);
    return 0;
}
