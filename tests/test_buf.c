/* test_buf.c - the growable buffer, the allocation wrapper and the hash. */
#include "testutil.h"

#include "artsearch.h"
#include "buf.h"
#include "hash.h"
#include "mem.h"

static void test_append_grows(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    for (int i = 0; i < 10000; i++)
        buf_putc(&b, 'a' + i % 26);
    assert_int_equal(b.len, 10000);
    assert_int_equal(b.p[9999], 'a' + 9999 % 26);
    buf_terminate(&b);
    assert_int_equal(b.p[b.len], '\0');
    assert_int_equal(b.len, 10000);
    buf_clear(&b);
    assert_int_equal(b.len, 0);
    buf_printf(&b, "%d-%s", 42, "x");
    buf_terminate(&b);
    assert_string_equal((char *)b.p, "42-x");
    buf_free(&b);
    assert_null(b.p);
}

static void test_little_endian(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    buf_put_u32(&b, 0x04030201u);
    buf_put_u64(&b, 0x0c0b0a0908070605ull);
    assert_int_equal(b.len, 12);
    for (int i = 0; i < 12; i++)
        assert_int_equal(b.p[i], i + 1);
    buf_free(&b);
}

static void test_sticky_error(void **state)
{
    (void)state;
    buf b;
    buf_init(&b);
    mem_fail_after(1);
    buf_append(&b, "hello", 5);
    mem_fail_after(0);
    assert_int_equal(b.err, AS_ERR_NOMEM);
    buf_append(&b, "more", 4);      /* ignored once failed */
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_arena(void **state)
{
    (void)state;
    arena a;
    arena_init(&a);
    void *p = arena_alloc(&a, 3);
    void *q = arena_alloc(&a, 5);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % 8, 0);
    assert_true((char *)q >= (char *)p + 8);
    void *big = arena_alloc(&a, 3 << 20);   /* bigger than a chunk */
    assert_non_null(big);
    memset(big, 1, 3 << 20);
    assert_true(a.used >= (3u << 20));
    /* Past 8 MiB the chunks are 8 MiB on huge pages: allocations still
     * come 8-byte aligned, apart and whole. */
    unsigned char *last = NULL;
    for (int i = 0; i < 40000; i++) {
        unsigned char *r = arena_alloc(&a, 1000 + (size_t)i % 17);
        assert_non_null(r);
        assert_int_equal((uintptr_t)r % 8, 0);
        memset(r, i & 255, 1000 + (size_t)i % 17);
        if (last)
            assert_int_equal(last[0], (i - 1) & 255);
        last = r;
    }
    assert_true(a.used >= (size_t)40 << 20);
    arena_reset(&a);
    assert_int_equal(a.used, 0);
}

/* Big blocks come 2 MiB-aligned (for huge pages), small ones as from
 * malloc; mem_realloc_huge keeps the bytes, from small to big and big to
 * bigger, and on failure leaves the old block as it was. */
static void test_alloc_huge(void **state)
{
    (void)state;
    const size_t mib = (size_t)1 << 20;
    unsigned char *small = mem_alloc_huge(100);
    assert_non_null(small);
    memset(small, 7, 100);
    unsigned char *p = mem_realloc_huge(small, 100, 3 * mib);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % (2 * mib), 0);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(p[i], 7);
    for (size_t i = 0; i < 3 * mib; i++)
        p[i] = (unsigned char)(i * 31 + 1);
    mem_fail_after(1);
    assert_null(mem_realloc_huge(p, 3 * mib, 8 * mib));
    mem_fail_after(0);
    for (size_t i = 0; i < 3 * mib; i++)    /* untouched by the failure */
        assert_int_equal(p[i], (unsigned char)(i * 31 + 1));
    unsigned char *q = mem_realloc_huge(p, 3 * mib, 8 * mib);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % (2 * mib), 0);
    for (size_t i = 0; i < 3 * mib; i++)
        assert_int_equal(q[i], (unsigned char)(i * 31 + 1));
    memset(q + 3 * mib, 0, 5 * mib);
    mem_free(q);
    /* mem_calloc_touched: zeroed, at every size. */
    for (size_t n = 0; n <= 5 * mib; n += mib + 12345) {
        unsigned char *z = mem_calloc_touched(n, 1);
        assert_non_null(z);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(z[i], 0);
        mem_free(z);
    }
    assert_null(mem_calloc_touched(SIZE_MAX / 2, 4));   /* overflows */
}

/* hash_bytes reads every byte of its input and none past it: a buffer of
 * exactly n bytes (ASan in CI sees a read past it), and each byte changed
 * alone changes the hash, at every length around the 8-byte steps. */
static void test_hash_covers_every_byte(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 40; n++) {
        unsigned char *p = malloc(n ? n : 1);
        assert_non_null(p);
        for (size_t i = 0; i < n; i++)
            p[i] = (unsigned char)('a' + (i * 7) % 26);
        uint64_t h = hash_bytes(p, n);
        for (size_t k = 0; k < n; k++) {
            p[k] ^= 0x20;
            assert_true(hash_bytes(p, n) != h);
            p[k] ^= 0x20;
        }
        /* The length counts: a prefix differs from the whole. */
        if (n > 0)
            assert_true(hash_bytes(p, n - 1) != h);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_grows),
        cmocka_unit_test(test_little_endian),
        cmocka_unit_test(test_sticky_error),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_alloc_huge),
        cmocka_unit_test(test_hash_covers_every_byte),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
