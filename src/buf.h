/* buf.h - the one growable byte buffer.
 *
 * A buf owns its bytes.  Writers use a sticky error: once an append fails
 * (out of memory) every later append is a no-op and buf.err stays set, so a
 * long write path checks once at the end (as SQLite FTS5's buffers do).
 */
#ifndef AS_BUF_H
#define AS_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    unsigned char *p;
    size_t len, cap;
    int err;            /* AS_OK, or AS_ERR_NOMEM after a failed append */
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
/* len = 0, keeps capacity (inline: the analyzer clears a buffer a word) */
static inline void buf_clear(buf *b)
{
    b->len = 0;
}
int buf_grow(buf *b, size_t extra);           /* buf_reserve's slow path */
/* Room for extra more bytes: AS_OK (0), or the sticky error. */
static inline int buf_reserve(buf *b, size_t extra)
{
    if (!b->err && extra <= b->cap - b->len)
        return 0;
    return buf_grow(b, extra);
}
void buf_append(buf *b, const void *p, size_t n);
void buf_putc(buf *b, int c);
void buf_puts(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_put_u32(buf *b, uint32_t v);         /* little-endian */
void buf_put_u64(buf *b, uint64_t v);         /* little-endian */
/* Byte-wise order of two byte strings, a prefix first (the order of terms
 * in the lexicon and in run files). */
static inline int bytes_cmp(const void *a, size_t al, const void *b,
                            size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* The first 8 bytes of a byte string as a big-endian number, zero bytes
 * past its end: two such numbers compare as bytes_cmp compares the
 * strings' first 8 bytes (the terms' sort keys, the lexicon's prefix
 * index). */
static inline uint64_t bytes_prefix64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | (i < n ? b[i] : 0);
    return v;
}

/* Appends a NUL without counting it in len, so b->p is a C string. */
void buf_terminate(buf *b);

#endif
