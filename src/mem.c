/* mem.c - allocation wrapper with failure injection, and the arena. */
#include "mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static _Atomic uint64_t fail_at;   /* 0: never fail */
static _Atomic uint64_t counter;

uint64_t mem_fail_after(uint64_t n)
{
    uint64_t seen = counter;
    counter = 0;
    fail_at = n;
    return seen;
}

static int should_fail(void)
{
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

#define TABLE_MIN (1u << 20)
#define HUGE_PAGE ((size_t)2 << 20)

void *mem_table(size_t n)
{
    if (n < TABLE_MIN)
        return mem_calloc(1, n);
    if (should_fail())
        return NULL;
    /* Map 2 MiB more than asked and trim, so the table starts on a 2 MiB
     * boundary and every page of it can be a huge page. */
    size_t len = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    unsigned char *m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    size_t lead = (HUGE_PAGE - ((uintptr_t)m & (HUGE_PAGE - 1))) &
                  (HUGE_PAGE - 1);
    if (lead)
        munmap(m, lead);
    munmap(m + lead + len, HUGE_PAGE - lead);
#ifdef MADV_HUGEPAGE
    madvise(m + lead, len, MADV_HUGEPAGE);  /* advice: failure is harmless */
#endif
    return m + lead;
}

void mem_table_free(void *p, size_t n)
{
    if (!p)
        return;
    if (n < TABLE_MIN) {
        mem_free(p);
        return;
    }
    munmap(p, (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
}

struct arena_chunk {
    arena_chunk *next;
    size_t size, off;
    int big;                /* from mem_table */
    _Alignas(8) unsigned char data[];
};

#define ARENA_CHUNK (1u << 20)
#define ARENA_BIG_CHUNK ((size_t)8 << 20)

void arena_init(arena *a)
{
    a->head = NULL;
    a->used = 0;
    a->chunk = ARENA_CHUNK;
}

void arena_init_big(arena *a)
{
    arena_init(a);
    a->chunk = ARENA_BIG_CHUNK - sizeof(arena_chunk);
}

void *arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    arena_chunk *c = a->head;
    if (!c || c->size - c->off < n) {
        size_t size = n > a->chunk ? n : a->chunk;
        int big = a->chunk > ARENA_CHUNK;
        c = big ? mem_table(sizeof *c + size) : mem_alloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = a->head;
        c->size = size;
        c->off = 0;
        c->big = big;
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
        if (c->big)
            mem_table_free(c, sizeof *c + c->size);
        else
            mem_free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}
