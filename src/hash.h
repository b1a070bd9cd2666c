/* hash.h - the hash function for the inverter's term table. */
#ifndef AS_HASH_H
#define AS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over the bytes, finished with a multiply-xorshift so the low bits
 * used to pick a slot in a power-of-two table are well mixed. */
static inline uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

#endif
