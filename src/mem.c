/* mem.c - allocation wrapper with failure injection, and the arena. */
#include "mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static _Atomic uint64_t fail_at;   /* 0: never fail */
static _Atomic uint64_t counter;
/* Set by the first mem_fail_after (tests only): until then allocations
 * are not counted, which spares each one an atomic increment (a query
 * makes about fifty). */
static _Atomic int counting;

uint64_t mem_fail_after(uint64_t n)
{
    counting = 1;
    uint64_t seen = counter;
    counter = 0;
    fail_at = n;
    return seen;
}

static int should_fail(void)
{
    if (!atomic_load_explicit(&counting, memory_order_relaxed))
        return 0;
    uint64_t c = ++counter;
    return fail_at != 0 && c == fail_at;
}

void *mem_alloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *mem_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *mem_calloc_touched(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = mem_alloc_huge(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

#define HUGE_PAGE ((size_t)2 << 20)

void *mem_alloc_huge(size_t n)
{
    if (n < HUGE_PAGE)
        return mem_alloc(n);
    if (should_fail())
        return NULL;
    void *p;
    if (posix_memalign(&p, HUGE_PAGE, n) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
    return p;
}

void *mem_realloc_huge(void *p, size_t old, size_t n)
{
    if (n < HUGE_PAGE)
        return mem_realloc(p, n);
    void *q = mem_alloc_huge(n);
    if (q) {
        if (old)
            memcpy(q, p, old < n ? old : n);
        mem_free(p);
    }
    return q;
}

void *mem_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void mem_free(void *p)
{
    free(p);
}

char *mem_strndup(const char *s, size_t n)
{
    char *d = mem_alloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

struct arena_chunk {
    arena_chunk *next;
    size_t size, off;
    _Alignas(8) unsigned char data[];
};

#define ARENA_CHUNK ((size_t)1 << 20)
#define ARENA_BIG_CHUNK ((size_t)8 << 20)

void arena_init(arena *a)
{
    a->head = NULL;
    a->used = 0;
}

void *arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    arena_chunk *c = a->head;
    if (!c || c->size - c->off < n) {
        size_t size = a->used >= ARENA_BIG_CHUNK ? ARENA_BIG_CHUNK - sizeof *c
                                                 : ARENA_CHUNK;
        if (size < n)
            size = n;
        c = mem_alloc_huge(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = a->head;
        c->size = size;
        c->off = 0;
        a->head = c;
        a->used += sizeof *c + size;
    }
    void *p = c->data + c->off;
    c->off += n;
    return p;
}

void arena_reset(arena *a)
{
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        mem_free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}
