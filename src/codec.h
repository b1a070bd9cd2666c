/* codec.h - the one integer codec: variable-byte integers, little-endian
 * fixed-width reads, and bit-packed blocks of 128 integers.
 *
 * Variable-byte (varint): 7 bits per byte, least significant group first,
 * high bit set on every byte but the last (as LEB128, protobuf, Lucene's
 * VInt).  At most 10 bytes for a 64-bit value.
 *
 * Bit-packed block: 128 unsigned values of `bits` bits each (0..32), stored
 * as one little-endian bit stream: value i occupies bits [i*bits, (i+1)*bits)
 * of the block.  A block is exactly CODEC_PACKED_BYTES(bits) = 16*bits bytes.
 *
 * Reading goes through a cursor that never reads past `end`: a value that
 * would overrun sets cur.bad and returns 0, so a decoder checks once after a
 * sequence of reads.
 */
#ifndef AS_CODEC_H
#define AS_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

#define CODEC_BLOCK 128
#define CODEC_PACKED_BYTES(bits) ((size_t)(bits) * 16)
/* Bytes past a packed block that codec_unpack128_padded may read. */
#define CODEC_PAD 16

typedef struct {
    const unsigned char *p, *end;
    int bad;            /* set once a read ran past end or was malformed */
} cur;

static inline void cur_init(cur *c, const void *p, size_t n)
{
    c->p = p;
    c->end = c->p + n;
    c->bad = 0;
}

static inline size_t cur_left(const cur *c)
{
    return (size_t)(c->end - c->p);
}

uint64_t cur_varint_slow(cur *c);

static inline uint64_t cur_varint(cur *c)
{
    if (c->p < c->end && *c->p < 0x80)
        return *c->p++;
    return cur_varint_slow(c);
}

static inline uint32_t cur_varint32(cur *c)
{
    uint64_t v = cur_varint(c);
    if (v > UINT32_MAX) {
        c->bad = 1;
        return 0;
    }
    return (uint32_t)v;
}

static inline uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t rd_u64(const unsigned char *p)
{
    return (uint64_t)rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32;
}

static inline void wr_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

uint32_t cur_u32(cur *c);
uint64_t cur_u64(cur *c);
/* Returns a pointer to the next n bytes and advances, or NULL (and bad). */
static inline const unsigned char *cur_bytes(cur *c, size_t n)
{
    if (c->bad || n > cur_left(c)) {
        c->bad = 1;
        c->p = c->end;
        return NULL;
    }
    const unsigned char *p = c->p;
    c->p += n;
    return p;
}

/* Append v as a varint. */
void codec_put_varint(buf *b, uint64_t v);
/* Encode v into out (at least 10 bytes); returns the byte count. */
static inline size_t codec_varint_encode(unsigned char *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}
size_t codec_varint_size(uint64_t v);

/* Bits needed for the largest of n values (0 when all are 0). */
unsigned codec_bits_for(const uint32_t *v, size_t n);
/* Pack 128 values of `bits` bits into out (CODEC_PACKED_BYTES(bits) bytes).
 * Values must fit in `bits` bits. */
void codec_pack128(const uint32_t *in, unsigned bits, unsigned char *out);
/* Unpack 128 values; `in` must hold CODEC_PACKED_BYTES(bits) bytes. */
void codec_unpack128(const unsigned char *in, unsigned bits, uint32_t *out);
/* The same, faster: reads up to CODEC_PAD bytes past the packed bytes
 * (their values do not matter), which must be readable. */
void codec_unpack128_padded(const unsigned char *in, unsigned bits,
                            uint32_t *out);
/* Gaps to document numbers, in place: v[i] becomes start + the sum of
 * v[0..i] + i + 1, modulo 2^32 (SSE2 where the compiler targets it). */
void codec_prefix128(uint32_t *v, uint32_t start);
/* The unpackers use AVX2 where the CPU has it (widths up to 25 bits);
 * codec_set_simd(0) turns that off, for tests and the benchmark.  Returns
 * the previous setting; not for use while other threads decode. */
int codec_set_simd(int on);

#endif
