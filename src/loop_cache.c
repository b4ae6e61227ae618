/* SPDX-License-Identifier: MIT */
/* A loop's lists of blocks kept for reuse (csock__loop_take, csock__loop_give). Under
 * AddressSanitizer a waiting block is poisoned, so that a use after its object was freed is
 * still reported. */
#include "loop_internal.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define CSOCK__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CSOCK__ASAN 1
#endif
#endif

#ifdef CSOCK__ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* A waiting block's first bytes: the next one. */
typedef struct waiting {
    struct waiting *next;
} waiting;

void *csock__loop_take(csock_loop *loop, unsigned kind, size_t size)
{
    csock__cache *c = &loop->caches[kind];
    waiting *w = c->first;
    c->size = size;
    if (!w) return calloc(1, size);
    UNPOISON(w, size);
    c->first = w->next;
    c->count--;
    memset(w, 0, size);
    return w;
}

void csock__loop_give(csock_loop *loop, unsigned kind, void *block)
{
    if (!block) return;
    csock__cache *c = &loop->caches[kind];
    if (c->count == CSOCK__CACHE_MAX) {
        free(block);
        return;
    }
    waiting *w = block;
    w->next = c->first;
    c->first = w;
    c->count++;
    /* The link stays readable: the list is walked when the loop is freed. */
    POISON((char *)block + sizeof *w, c->size - sizeof *w);
}

void csock__loop_free_caches(csock_loop *loop)
{
    for (int k = 0; k < CSOCK__CACHES; k++) {
        csock__cache *c = &loop->caches[k];
        while (c->first) {
            waiting *w = c->first;
            c->first = w->next;
            free(w);
        }
        c->count = 0;
    }
}
