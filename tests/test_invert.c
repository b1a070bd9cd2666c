/* test_invert.c - the inverter on its own: the merge shared by two sinks
 * on two threads hands over exactly what one sink gets, whether the terms
 * are all in memory, spread over spilled runs, or in runs that end inside
 * a document; and an error of either sink stops the merge with its
 * message. */
#include "testutil.h"

#include "buf.h"
#include "codec.h"
#include "err.h"
#include "invert.h"

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng_state >> 33) % n);
}

#define NDOCS 2000
#define BIG_DOC 777     /* 140,000 tokens: the inverter checks its budget
                           every 65,536 tokens of a document */

/* The same documents every time: words "wN" with a skewed distribution,
 * some with a 0x01 (title) mark, which sorts before the others. */
static inverter *invert_docs(size_t budget)
{
    inverter *inv;
    assert_int_equal(inv_new(budget, tu_group_dir, &inv), AS_OK);
    rng_state = 7;
    for (uint32_t d = 0; d < NDOCS; d++) {
        uint32_t n = d == BIG_DOC ? 140000 : 10 + rnd(200);
        for (uint32_t pos = 0; pos < n; pos++) {
            char w[32];
            uint32_t r = rnd(1000);
            uint32_t id = r < 500 ? rnd(30) : r < 900 ? rnd(600) : rnd(30000);
            int len = snprintf(w, sizeof w, "%sw%u", pos < 3 ? "\x01" : "",
                               id);
            assert_int_equal(inv_add(inv, w, (size_t)len, pos, NULL), AS_OK);
        }
        assert_int_equal(inv_end_doc(inv, d), AS_OK);
    }
    return inv;
}

/* A sink that writes down what it is given, positions decoded, and can
 * fail at its fail_at-th term. */
typedef struct {
    buf out;
    uint64_t terms;
    uint64_t fail_at;       /* 0: never */
} recorder;

static int rec_begin(void *ctx, const char *term, size_t len)
{
    recorder *r = ctx;
    if (++r->terms == r->fail_at)
        return err_set(AS_ERR_IO, "recorder failed at term %.*s", (int)len,
                       term);
    buf_putc(&r->out, 'T');
    codec_put_varint(&r->out, len);
    buf_append(&r->out, term, len);
    return AS_OK;
}

static int rec_posting(void *ctx, uint32_t doc, uint32_t tf,
                       const uint32_t *pos)
{
    recorder *r = ctx;
    buf_putc(&r->out, 'P');
    codec_put_varint(&r->out, doc);
    codec_put_varint(&r->out, tf);
    for (uint32_t k = 0; k < tf; k++)
        codec_put_varint(&r->out, pos[k]);
    return AS_OK;
}

static int rec_posting_raw(void *ctx, uint32_t doc, uint32_t tf,
                           const unsigned char *pos, size_t n)
{
    uint32_t *p = malloc((tf ? tf : 1) * sizeof *p);
    assert_non_null(p);
    cur c;
    cur_init(&c, pos, n);
    uint32_t prev = 0;
    for (uint32_t k = 0; k < tf; k++)
        p[k] = prev += (uint32_t)cur_varint(&c);
    assert_false(c.bad);
    assert_int_equal(cur_left(&c), 0);
    int rc = rec_posting(ctx, doc, tf, p);
    free(p);
    return rc;
}

static int rec_end(void *ctx)
{
    recorder *r = ctx;
    buf_putc(&r->out, 'E');
    return r->out.err ? AS_ERR_NOMEM : AS_OK;
}

static inv_sink rec_sink(recorder *r)
{
    inv_sink s = {rec_begin, rec_posting, rec_posting_raw, rec_end, r};
    return s;
}

/* runs: the runs spilled at least (0: exactly none). */
static void check_two_parts(size_t budget, uint32_t min_runs)
{
    recorder one = {0}, a = {0}, b = {0};
    buf_init(&one.out);
    buf_init(&a.out);
    buf_init(&b.out);

    inverter *inv = invert_docs(budget);
    if (min_runs == 0)
        assert_int_equal(inv_runs(inv), 0);
    else
        assert_true(inv_runs(inv) >= min_runs);
    inv_sink s = rec_sink(&one);
    assert_int_equal(inv_finish(inv, &s, NULL), AS_OK);
    inv_free(inv);

    inv = invert_docs(budget);
    inv_sink sa = rec_sink(&a), sb = rec_sink(&b);
    assert_int_equal(inv_finish(inv, &sa, &sb), AS_OK);
    inv_free(inv);

    /* Both parts had work, about half each, and together they are the
     * single sink's stream, in order. */
    assert_true(a.terms > 0 && b.terms > 0);
    assert_true(a.out.len > one.out.len / 5 && b.out.len > one.out.len / 5);
    assert_int_equal(a.out.len + b.out.len, one.out.len);
    assert_memory_equal(one.out.p, a.out.p, a.out.len);
    assert_memory_equal(one.out.p + a.out.len, b.out.p, b.out.len);
    /* Part b starts with a whole term. */
    assert_int_equal(b.out.p[0], 'T');
    buf_free(&one.out);
    buf_free(&a.out);
    buf_free(&b.out);
}

static void test_two_parts_in_memory(void **state)
{
    (void)state;
    check_two_parts((size_t)256 << 20, 0);
}

static void test_two_parts_spilled(void **state)
{
    (void)state;
    check_two_parts((size_t)256 << 10, 4);
}

/* Runs that end inside BIG_DOC: its postings are joined across runs in
 * both parts. */
static void test_two_parts_split_documents(void **state)
{
    (void)state;
    check_two_parts((size_t)48 << 10, 20);
}

static void check_failure(size_t budget, int second)
{
    recorder a = {0}, b = {0};
    buf_init(&a.out);
    buf_init(&b.out);
    (second ? &b : &a)->fail_at = 100;
    inverter *inv = invert_docs(budget);
    inv_sink sa = rec_sink(&a), sb = rec_sink(&b);
    assert_int_equal(inv_finish(inv, &sa, &sb), AS_ERR_IO);
    assert_non_null(strstr(as_errmsg(), "recorder failed at term"));
    inv_free(inv);
    buf_free(&a.out);
    buf_free(&b.out);
}

static void test_part_errors(void **state)
{
    (void)state;
    check_failure((size_t)256 << 20, 0);
    check_failure((size_t)256 << 20, 1);
    check_failure((size_t)256 << 10, 0);
    check_failure((size_t)256 << 10, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_parts_in_memory),
        cmocka_unit_test(test_two_parts_spilled),
        cmocka_unit_test(test_two_parts_split_documents),
        cmocka_unit_test(test_part_errors),
    };
    return cmocka_run_group_tests(tests, tu_group_setup, tu_group_teardown);
}
