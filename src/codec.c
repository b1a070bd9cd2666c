/* codec.c - varints and bit-packed blocks of 128. */
#include "codec.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

uint64_t cur_varint_slow(cur *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end)
            break;
        unsigned char byte = *c->p++;
        if (shift == 63 && byte > 1)
            break;                      /* would overflow 64 bits */
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return v;
    }
    c->bad = 1;
    c->p = c->end;
    return 0;
}

uint32_t cur_u32(cur *c)
{
    const unsigned char *p = cur_bytes(c, 4);
    return p ? rd_u32(p) : 0;
}

uint64_t cur_u64(cur *c)
{
    const unsigned char *p = cur_bytes(c, 8);
    return p ? rd_u64(p) : 0;
}


size_t codec_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void codec_put_varint(buf *b, uint64_t v)
{
    unsigned char t[10];
    buf_append(b, t, codec_varint_encode(t, v));
}

unsigned codec_bits_for(const uint32_t *v, size_t n)
{
    uint32_t all = 0;
    for (size_t i = 0; i < n; i++)
        all |= v[i];
    return all ? 32u - (unsigned)__builtin_clz(all) : 0u;
}

void codec_pack128(const uint32_t *in, unsigned bits, unsigned char *out)
{
    uint64_t acc = 0;
    unsigned fill = 0;
    size_t o = 0;
    if (bits == 0)
        return;
    for (int i = 0; i < CODEC_BLOCK; i++) {
        acc |= (uint64_t)in[i] << fill;
        fill += bits;
        while (fill >= 8) {
            out[o++] = (unsigned char)acc;
            acc >>= 8;
            fill -= 8;
        }
    }
    /* 128 * bits is a multiple of 8, so nothing is left in acc. */
}

/* One specialised unpacker per width: with `bits` a constant the compiler
 * turns the loop into straight-line loads, shifts and masks.  Each value
 * is read with one unaligned 8-byte load at its first byte (a value of up
 * to 32 bits starts at most 7 bits into it), so the last values read up
 * to CODEC_PAD bytes past the packed bytes: callers of
 * codec_unpack128_padded guarantee those bytes are readable. */
static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

#define UNPACK_FN(B)                                                        \
    static void unpack_##B(const unsigned char *in, uint32_t *out)          \
    {                                                                       \
        const uint64_t mask = (B) == 32 ? 0xffffffffu : ((1u << (B)) - 1u); \
        for (unsigned i = 0; i < CODEC_BLOCK; i++) {                        \
            unsigned bit = i * (B);                                         \
            out[i] = (uint32_t)((load_le64(in + (bit >> 3)) >> (bit & 7)) & \
                                mask);                                      \
        }                                                                   \
    }

UNPACK_FN(1) UNPACK_FN(2) UNPACK_FN(3) UNPACK_FN(4) UNPACK_FN(5)
UNPACK_FN(6) UNPACK_FN(7) UNPACK_FN(8) UNPACK_FN(9) UNPACK_FN(10)
UNPACK_FN(11) UNPACK_FN(12) UNPACK_FN(13) UNPACK_FN(14) UNPACK_FN(15)
UNPACK_FN(16) UNPACK_FN(17) UNPACK_FN(18) UNPACK_FN(19) UNPACK_FN(20)
UNPACK_FN(21) UNPACK_FN(22) UNPACK_FN(23) UNPACK_FN(24) UNPACK_FN(25)
UNPACK_FN(26) UNPACK_FN(27) UNPACK_FN(28) UNPACK_FN(29) UNPACK_FN(30)
UNPACK_FN(31) UNPACK_FN(32)

typedef void (*unpack_fn)(const unsigned char *, uint32_t *);
static const unpack_fn unpackers[33] = {
    NULL, unpack_1, unpack_2, unpack_3, unpack_4, unpack_5, unpack_6,
    unpack_7, unpack_8, unpack_9, unpack_10, unpack_11, unpack_12, unpack_13,
    unpack_14, unpack_15, unpack_16, unpack_17, unpack_18, unpack_19,
    unpack_20, unpack_21, unpack_22, unpack_23, unpack_24, unpack_25,
    unpack_26, unpack_27, unpack_28, unpack_29, unpack_30, unpack_31,
    unpack_32,
};

/* With AVX2, eight values at a time.  The values of a group of eight
 * take 8 * bits bits, a whole number of bytes, so every group has the same
 * layout from its first byte: the first four values are loaded into the
 * low 128-bit lane from the group's first byte, the next four into the
 * high lane from byte (4 * bits) / 8; a byte shuffle puts each value's four
 * bytes into its 32-bit lane (a value of up to 25 bits starts at most 7
 * bits into them), a shift per lane and a mask finish it.  The plan of
 * each width is computed once.  The last group reads up to 16 bytes past
 * the block (CODEC_PAD). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SIMD_MAX_BITS 25

typedef struct {
    uint8_t shuf[32];
    uint32_t shift[8];
    uint32_t hi;            /* the high lane's first byte in the group */
} simd_plan;

static simd_plan plans[SIMD_MAX_BITS + 1];
static int simd_ok;         /* the CPU has AVX2 and the plans are made */
static int simd_off;        /* codec_set_simd(0) */

__attribute__((constructor)) static void simd_init(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2"))
        return;
    for (unsigned b = 1; b <= SIMD_MAX_BITS; b++) {
        simd_plan *p = &plans[b];
        p->hi = (4 * b) >> 3;
        for (unsigned j = 0; j < 8; j++) {
            unsigned lane = j / 4;
            unsigned bit = j * b - (lane ? 8 * p->hi : 0);
            for (unsigned k = 0; k < 4; k++)
                p->shuf[lane * 16 + (j % 4) * 4 + k] =
                    (uint8_t)((bit >> 3) + k);
            p->shift[j] = bit & 7;
        }
    }
    simd_ok = 1;
}

__attribute__((target("avx2"))) static void
unpack_avx2(const unsigned char *in, unsigned bits, uint32_t *out)
{
    const simd_plan *p = &plans[bits];
    const __m256i shuf = _mm256_loadu_si256((const __m256i *)p->shuf);
    const __m256i shift = _mm256_loadu_si256((const __m256i *)p->shift);
    const __m256i mask = _mm256_set1_epi32((int)((1u << bits) - 1));
    for (unsigned g = 0; g < CODEC_BLOCK / 8; g++) {
        const unsigned char *q = in + g * bits;
        __m128i lo = _mm_loadu_si128((const __m128i *)q);
        __m128i hi = _mm_loadu_si128((const __m128i *)(q + p->hi));
        __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
        v = _mm256_shuffle_epi8(v, shuf);
        v = _mm256_srlv_epi32(v, shift);
        v = _mm256_and_si256(v, mask);
        _mm256_storeu_si256((__m256i *)(out + 8 * g), v);
    }
}

int codec_set_simd(int on)
{
    int was = !simd_off;
    simd_off = !on;
    return was;
}
#else
int codec_set_simd(int on)
{
    (void)on;
    return 0;
}
#endif

void codec_unpack128_padded(const unsigned char *in, unsigned bits,
                            uint32_t *out)
{
    if (bits == 0 || bits > 32) {
        memset(out, 0, CODEC_BLOCK * sizeof *out);
        return;
    }
#ifdef SIMD_MAX_BITS
    if (bits <= SIMD_MAX_BITS && simd_ok && !simd_off) {
        unpack_avx2(in, bits, out);
        return;
    }
#endif
    unpackers[bits](in, out);
}

void codec_prefix128(uint32_t *v, uint32_t start)
{
#ifdef __SSE2__
    /* Four lanes at a time: each adds its left neighbours (two shifted
     * adds), then the running total so far. */
    const __m128i one = _mm_set1_epi32(1);
    __m128i run = _mm_set1_epi32((int)start);
    for (int i = 0; i < CODEC_BLOCK; i += 4) {
        __m128i x = _mm_add_epi32(_mm_loadu_si128((const __m128i *)(v + i)),
                                  one);
        x = _mm_add_epi32(x, _mm_slli_si128(x, 4));
        x = _mm_add_epi32(x, _mm_slli_si128(x, 8));
        x = _mm_add_epi32(x, run);
        _mm_storeu_si128((__m128i *)(v + i), x);
        run = _mm_shuffle_epi32(x, 0xff);
    }
#else
    uint32_t d = start;
    for (int i = 0; i < CODEC_BLOCK; i++)
        v[i] = d += v[i] + 1;
#endif
}

void codec_unpack128(const unsigned char *in, unsigned bits, uint32_t *out)
{
    unsigned char padded[CODEC_PACKED_BYTES(32) + CODEC_PAD];
    size_t n = CODEC_PACKED_BYTES(bits <= 32 ? bits : 0);
    if (n > 0)                  /* in may be NULL for 0 bits */
        memcpy(padded, in, n);
    memset(padded + n, 0, CODEC_PAD);
    codec_unpack128_padded(padded, bits, out);
}
