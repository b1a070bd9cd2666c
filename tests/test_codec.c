/* test_codec.c - varints and bit-packed blocks: round trips and bounds. */
#include "testutil.h"

#include "codec.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_varint_round_trip(void **state)
{
    (void)state;
    static const uint64_t edge[] = {0, 1, 127, 128, 255, 16383, 16384,
                                    UINT32_MAX, (uint64_t)UINT32_MAX + 1,
                                    UINT64_MAX - 1, UINT64_MAX};
    buf b;
    buf_init(&b);
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++)
        codec_put_varint(&b, edge[i]);
    uint64_t vals[5000];
    for (int i = 0; i < 5000; i++) {
        vals[i] = next_rand() >> (next_rand() % 64);
        codec_put_varint(&b, vals[i]);
    }
    cur c;
    cur_init(&c, b.p, b.len);
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++)
        assert_int_equal(cur_varint(&c), edge[i]);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(cur_varint(&c), vals[i]);
    assert_false(c.bad);
    assert_int_equal(cur_left(&c), 0);
    assert_int_equal(codec_varint_size(UINT64_MAX), 10);
    assert_int_equal(codec_varint_size(127), 1);
    buf_free(&b);
}

static void test_varint_overrun(void **state)
{
    (void)state;
    unsigned char t[10];
    size_t n = codec_varint_encode(t, 1ull << 40);
    cur c;
    cur_init(&c, t, n - 1);             /* cut the last byte */
    assert_int_equal(cur_varint(&c), 0);
    assert_true(c.bad);
    /* Eleven continuation bytes never decode. */
    unsigned char bad[11];
    memset(bad, 0xff, sizeof bad);
    cur_init(&c, bad, sizeof bad);
    cur_varint(&c);
    assert_true(c.bad);
    /* A value over 32 bits read as 32 bits is an error. */
    n = codec_varint_encode(t, (uint64_t)UINT32_MAX + 5);
    cur_init(&c, t, n);
    cur_varint32(&c);
    assert_true(c.bad);
    /* Fixed reads past the end. */
    cur_init(&c, t, 3);
    assert_int_equal(cur_u32(&c), 0);
    assert_true(c.bad);
    assert_null(cur_bytes(&c, 1));
}

static void test_pack_every_width(void **state)
{
    (void)state;
    /* Both unpackers where the CPU has AVX2: first the SIMD one, then the
     * scalar one. */
    for (int simd = 1; simd >= 0; simd--)
    for (unsigned bits = 0; bits <= 32; bits++) {
        codec_set_simd(simd);
        uint32_t in[128], out[128];
        for (int i = 0; i < 128; i++) {
            uint64_t mask = bits == 32 ? 0xffffffffull : ((1ull << bits) - 1);
            in[i] = (uint32_t)(next_rand() & mask);
        }
        if (bits > 0) {         /* the widest value appears */
            in[77] = bits == 32 ? UINT32_MAX : (uint32_t)((1ull << bits) - 1);
        }
        assert_int_equal(codec_bits_for(in, 128), bits);
        unsigned char packed[16 * 32 + CODEC_PAD];
        memset(packed, 0xaa, sizeof packed);
        codec_pack128(in, bits, packed);
        /* Nothing written past the block. */
        assert_int_equal(packed[CODEC_PACKED_BYTES(bits)], 0xaa);
        codec_unpack128(packed, bits, out);
        assert_memory_equal(in, out, sizeof in);
        /* The padded unpacker, with garbage after the block. */
        memset(out, 0, sizeof out);
        codec_unpack128_padded(packed, bits, out);
        assert_memory_equal(in, out, sizeof in);
    }
    codec_set_simd(1);
}

/* Gaps to documents: the same as a plain running sum, wrapping modulo
 * 2^32 as it does, from every kind of start. */
static void test_prefix(void **state)
{
    (void)state;
    const uint32_t starts[] = {UINT32_MAX, 0, 12345, UINT32_MAX - 300};
    for (int round = 0; round < 200; round++) {
        uint32_t v[128], want[128];
        unsigned bits = (unsigned)round % 33;
        for (int i = 0; i < 128; i++) {
            uint64_t mask = bits == 32 ? 0xffffffffull : ((1ull << bits) - 1);
            v[i] = (uint32_t)(next_rand() & mask);
        }
        uint32_t start = starts[round % 4], d = start;
        for (int i = 0; i < 128; i++)
            want[i] = d += v[i] + 1;
        codec_prefix128(v, start);
        assert_memory_equal(v, want, sizeof v);
    }
}

static void test_pack_edges(void **state)
{
    (void)state;
    uint32_t zero[128] = {0}, out[128];
    assert_int_equal(codec_bits_for(zero, 128), 0);
    memset(out, 0xff, sizeof out);
    codec_unpack128(NULL, 0, out);
    assert_memory_equal(zero, out, sizeof out);
    /* A width over 32 (damaged data) decodes to zeros, not a crash. */
    codec_unpack128(NULL, 40, out);
    assert_memory_equal(zero, out, sizeof out);
    uint32_t ones[128];
    for (int i = 0; i < 128; i++)
        ones[i] = 1;
    assert_int_equal(codec_bits_for(ones, 128), 1);
    assert_int_equal(codec_bits_for(ones, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_round_trip),
        cmocka_unit_test(test_varint_overrun),
        cmocka_unit_test(test_pack_every_width),
        cmocka_unit_test(test_pack_edges),
        cmocka_unit_test(test_prefix),
    };
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
