/* mem.h - the one allocation wrapper, and an arena.
 *
 * All allocation in src/ goes through mem_alloc/mem_realloc/mem_free so that
 * tests can make the Nth allocation fail (mem_fail_after) and check that
 * every caller turns it into AS_ERR_NOMEM.  (zstd allocates through here
 * too; allocations made inside zlib, jansson, utf8proc and libstemmer do
 * not.)
 */
#ifndef AS_MEM_H
#define AS_MEM_H

#include <stddef.h>
#include <stdint.h>

void *mem_alloc(size_t n);             /* NULL on failure; n == 0 is 1 */
void *mem_calloc(size_t count, size_t size);
/* mem_calloc for a table that is read before it is written (open
 * addressing): its pages are written at once.  A fresh page of calloc'd
 * memory that is first read maps the shared zero page, and the first write
 * then faults again and flushes the TLB of every core running the
 * process.  From 2 MiB up, on huge pages (mem_alloc_huge). */
void *mem_calloc_touched(size_t count, size_t size);
void *mem_realloc(void *p, size_t n);  /* NULL on failure, p untouched */
/* For big blocks that a build fills at once or reads at random (the
 * arena's chunks, the inverter's terms, the key maps, the stem cache):
 * from 2 MiB up, the block is 2 MiB-aligned and transparent huge pages are
 * asked for before it is touched, so it takes one page fault per 2 MiB
 * instead of one per 4 KiB and its lookups rarely miss the TLB.  A fault
 * costs about 10 us on this project's virtual machines (0.25 us per 4 KiB
 * with huge pages): 77,000 of them were a tenth of a build's CPU time.
 * A hint: the kernel may say no, and nothing changes but speed.  Freed
 * with mem_free.  mem_realloc_huge moves p's first `old` bytes into a new
 * such block of n bytes (n >= old) and frees p; NULL on failure, p
 * untouched. */
void *mem_alloc_huge(size_t n);
void *mem_realloc_huge(void *p, size_t old, size_t n);
void mem_free(void *p);                /* accepts NULL */
char *mem_strndup(const char *s, size_t n);

/* Test hook: the n-th allocation from now fails (n >= 1); 0 turns it off.
 * Returns how many allocations have been counted since the last call
 * (counting starts with the first call). */
uint64_t mem_fail_after(uint64_t n);

/* An arena: many small allocations freed together.  Allocations are 8-byte
 * aligned and never move.  `used` counts the bytes obtained from the system
 * so callers can enforce a memory budget.  Its chunks are 1 MiB until it
 * holds 8 MiB, then 8 MiB on huge pages (mem_alloc_huge). */
typedef struct arena_chunk arena_chunk;
typedef struct {
    arena_chunk *head;
    size_t used;
} arena;

void arena_init(arena *a);
void *arena_alloc(arena *a, size_t n);  /* NULL on failure */
void arena_reset(arena *a);             /* frees everything */

#endif
