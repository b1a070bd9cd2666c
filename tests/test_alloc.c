/* test_alloc.c - every allocation along a build and a query fails in turn:
 * each must end in a clean error (never a crash; no leak under the
 * sanitizer build), and a failed build must leave the previous index
 * whole. */
#include "testutil.h"

#include "artsearch.h"
#include "mem.h"


static int setup(void **state)
{
    (void)state;
    tu_group_setup(state);
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/corpus", tu_group_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    tu_writef(dir, "a.txt", "Leg cramps at night\nStretch the calf. Cramps "
                            "wake you; magnesium and potassium.\n");
    tu_writef(dir, "b.md", "# Sciatica\nPain down the leg from the sciatic "
                           "nerve, buttock pain.\n");
    tu_writef(dir, "c.html", "<title>Café</title><p>Hydration &amp; "
                             "cramps, COVID-19 and B12.</p>");
    tu_writef(dir, "d.jsonl", "{\"id\":\"j1\",\"title\":\"Yoga\",\"text\":"
                              "\"prenatal yoga eases back pain\"}\n"
                              "{\"id\":\"j2\",\"title\":\"Rest\",\"text\":"
                              "\"rest on your side\"}\n");
    return 0;
}


static void test_build_fails_cleanly(void **state)
{
    (void)state;
    char corpus[4300], ix[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus", tu_group_dir);
    snprintf(ix, sizeof ix, "%s/ix", tu_group_dir);
    as_build_opts o = {0};
    o.memory = 1 << 20;
    /* A good index first, and the number of allocations of a build. */
    assert_int_equal(as_build(corpus, ix, &o, NULL), AS_OK);
    mem_fail_after(0);
    assert_int_equal(as_build(corpus, ix, &o, NULL), AS_OK);
    uint64_t n = mem_fail_after(0);
    assert_true(n > 10);
    for (uint64_t k = 1; k <= n; k++) {
        mem_fail_after(k);
        int rc = as_build(corpus, ix, &o, NULL);
        mem_fail_after(0);
        if (rc != AS_OK && rc != AS_ERR_NOMEM)
            fail_msg("allocation %llu failed: build returned %d (%s)",
                     (unsigned long long)k, rc, as_errmsg());
        /* The index in place (old or new) is whole. */
        as_index *x;
        assert_int_equal(as_index_open(ix, &x), AS_OK);
        assert_int_equal(as_index_check(x), AS_OK);
        as_index_close(x);
    }
}

static void test_query_fails_cleanly(void **state)
{
    (void)state;
    char ix[4300];
    snprintf(ix, sizeof ix, "%s/ix", tu_group_dir);
    as_index *x;
    assert_int_equal(as_index_open(ix, &x), AS_OK);
    as_results *r;
    mem_fail_after(0);
    assert_int_equal(as_search(x, "leg cramps pain yoga", NULL, &r), AS_OK);
    as_results_free(r);
    uint64_t n = mem_fail_after(0);
    for (uint64_t k = 1; k <= n + 5; k++) {
        mem_fail_after(k);
        int rc = as_search(x, "leg cramps pain yoga", NULL, &r);
        mem_fail_after(0);
        if (rc == AS_OK) {
            assert_true(as_results_count(r) > 0);
            as_results_free(r);
        } else {
            assert_int_equal(rc, AS_ERR_NOMEM);
        }
        uint64_t c;
        mem_fail_after(k);
        rc = as_count(x, "leg cramps", &c);
        mem_fail_after(0);
        assert_true(rc == AS_OK || rc == AS_ERR_NOMEM);
    }
    as_index_close(x);
    /* Opening an index. */
    mem_fail_after(0);
    assert_int_equal(as_index_open(ix, &x), AS_OK);
    as_index_close(x);
    n = mem_fail_after(0);
    for (uint64_t k = 1; k <= n; k++) {
        mem_fail_after(k);
        int rc = as_index_open(ix, &x);
        mem_fail_after(0);
        if (rc == AS_OK)
            as_index_close(x);
        else
            assert_int_equal(rc, AS_ERR_NOMEM);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_fails_cleanly),
        cmocka_unit_test(test_query_fails_cleanly),
    };
    return cmocka_run_group_tests_name("alloc", tests, setup,
                                       tu_group_teardown);
}
