/* hash.h - the hash function for in-memory tables (the analyzer's stem
 * cache, the inverter's terms). */
#ifndef AS_HASH_H
#define AS_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The bytes p[0..n), 8 at a time, each step a multiply-xorshift; the
 * last 1 to 7 bytes are read without reading past n (overlapping reads),
 * and the length is mixed in first, so words differing only in the
 * overlap still differ.  The low bits, which pick a slot in a power-of-two
 * table, are well mixed.  Byte by byte, hashing had been a tenth of the
 * analysis. */
static inline uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = (uint64_t)n * 0x9e3779b97f4a7c15ull, v;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, s + i, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    size_t r = n - i;
    if (r > 0) {
        if (n >= 8) {
            memcpy(&v, s + n - 8, 8);
        } else if (r >= 4) {
            uint32_t a, b;
            memcpy(&a, s, 4);
            memcpy(&b, s + r - 4, 4);
            v = (uint64_t)a << 32 | b;
        } else {
            v = (uint64_t)s[0] << 16 | (uint64_t)s[r / 2] << 8 | s[r - 1];
        }
        h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

#endif
