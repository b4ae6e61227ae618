/* SPDX-License-Identifier: MIT */
/* What the fuzz harnesses share. */
#ifndef CSOCK_TESTS_FUZZ_H
#define CSOCK_TESTS_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The fuzzer's bytes as a NUL-terminated string the caller frees; NULL if out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return NULL;
    memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

#endif
