/* test_search.c - BM25 against a hand computation, pruning against
 * exhaustive scoring, ties, paging, counts. */
#include "testutil.h"

#include <math.h>

#include "artsearch.h"


static as_index *build_index(const char *name, const char *const *docs,
                             size_t n)
{
    char dir[4300], ix[4300];
    snprintf(dir, sizeof dir, "%s/%s", tu_group_dir, name);
    snprintf(ix, sizeof ix, "%s/%s.ix", tu_group_dir, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    for (size_t i = 0; i < n; i++) {
        char file[64];
        snprintf(file, sizeof file, "d%03zu.txt", i);
        tu_writef(dir, file, docs[i]);
    }
    as_build_opts o = {0};
    o.language = "none";
    if (as_build(dir, ix, &o, NULL))
        fail_msg("build: %s", as_errmsg());
    as_index *x;
    assert_int_equal(as_index_open(ix, &x), AS_OK);
    return x;
}


/* Three documents, no stemming.  Lengths count title words too:
 *   d000 "a" / "cramp cramp leg"          -> length 4, tf(cramp) = 2
 *   d001 "b" / "leg pain"                 -> length 3
 *   d002 "c" / "cramp pain pain pain x y" -> length 7, tf(cramp) = 1
 * N = 3, avgdl = 14/3.
 * idf(cramp) = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln(1.6)
 * idf(leg)   = ln(1.6), idf(pain) = ln(1.6) (each df 2)
 * score(d, t) = idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl)) */
static double bm25(double idf, double tf, double dl, double avgdl, double k1,
                   double b)
{
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl));
}

static void test_hand_computed(void **state)
{
    (void)state;
    const char *docs[] = {"a\ncramp cramp leg\n", "b\nleg pain\n",
                          "c\ncramp pain pain pain x y\n"};
    as_index *ix = build_index("hand", docs, 3);
    const double idf = log(1.6), avgdl = 14.0 / 3;
    as_results *r;
    assert_int_equal(as_search(ix, "cramp", NULL, &r), AS_OK);
    assert_int_equal(as_results_count(r), 2);
    assert_int_equal(as_results_total(r, NULL), 2);
    const as_hit *h = as_results_hit(r, 0);
    assert_string_equal(h->id, "d000.txt");
    assert_true(fabs(h->score - bm25(idf, 2, 4, avgdl, 1.2, 0.75)) < 1e-9);
    h = as_results_hit(r, 1);
    assert_string_equal(h->id, "d002.txt");
    assert_true(fabs(h->score - bm25(idf, 1, 7, avgdl, 1.2, 0.75)) < 1e-9);
    as_results_free(r);

    /* A disjunction sums the terms' scores; a repeated query word counts
     * twice; other k1 and b are honoured. */
    as_query_opts o;
    as_query_opts_init(&o);
    o.k1 = 2.0;
    o.b = 0.3;
    assert_int_equal(as_search(ix, "pain cramp pain", &o, &r), AS_OK);
    assert_int_equal(as_results_count(r), 3);
    double want2 = bm25(idf, 1, 7, avgdl, 2, 0.3) +
                   2 * bm25(idf, 3, 7, avgdl, 2, 0.3);
    h = as_results_hit(r, 0);
    assert_string_equal(h->id, "d002.txt");
    assert_true(fabs(h->score - want2) < 1e-9);
    assert_null(as_results_hit(r, 3));
    as_results_free(r);

    /* Unknown words only: no hits, no error. */
    assert_int_equal(as_search(ix, "zebra", NULL, &r), AS_OK);
    assert_int_equal(as_results_count(r), 0);
    assert_int_equal(as_results_total(r, NULL), 0);
    as_results_free(r);
    as_index_close(ix);
}

static void test_ties_and_paging(void **state)
{
    (void)state;
    /* Identical documents score the same: the lower doc id wins. */
    const char *docs[8];
    for (int i = 0; i < 8; i++)
        docs[i] = "same\nword here\n";
    as_index *ix = build_index("ties", docs, 8);
    as_query_opts o;
    as_query_opts_init(&o);
    o.k = 3;
    as_results *r;
    assert_int_equal(as_search(ix, "word", &o, &r), AS_OK);
    assert_int_equal(as_results_count(r), 3);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(as_results_hit(r, i)->docid, i);
    as_results_free(r);
    o.offset = 6;
    assert_int_equal(as_search(ix, "word", &o, &r), AS_OK);
    assert_int_equal(as_results_count(r), 2);
    assert_int_equal(as_results_hit(r, 0)->docid, 6);
    assert_int_equal(as_results_total(r, NULL), 8);
    as_results_free(r);
    o.offset = 20;
    assert_int_equal(as_search(ix, "word", &o, &r), AS_OK);
    assert_int_equal(as_results_count(r), 0);
    as_results_free(r);
    as_index_close(ix);
}

static void test_bad_queries(void **state)
{
    (void)state;
    const char *docs[] = {"t\nsome words\n"};
    as_index *ix = build_index("bad", docs, 1);
    as_results *r = (as_results *)1;
    assert_int_equal(as_search(ix, "", NULL, &r), AS_ERR_USAGE);
    assert_null(r);
    assert_int_equal(as_search(ix, " \t\n", NULL, &r), AS_ERR_USAGE);
    assert_int_equal(as_search(ix, NULL, NULL, &r), AS_ERR_USAGE);
    char *big = malloc(70000);
    memset(big, 'a', 69999);
    big[69999] = '\0';
    assert_int_equal(as_search(ix, big, NULL, &r), AS_ERR_TOOLONG);
    free(big);
    as_query_opts o;
    as_query_opts_init(&o);
    o.b = 1.5;
    assert_int_equal(as_search(ix, "words", &o, &r), AS_ERR_USAGE);
    /* Punctuation only. */
    assert_int_equal(as_search(ix, "\"()+-:*\"", NULL, &r), AS_OK);
    assert_int_equal(as_results_count(r), 0);
    as_results_free(r);
    as_index_close(ix);
}

/* Pruned top-k must equal exhaustive top-k, for many queries over a corpus
 * with long posting lists. */
static uint64_t rs = 7;
static uint32_t rnd(uint32_t n)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rs >> 33) % n);
}

static void test_pruning_is_exact(void **state)
{
    (void)state;
    enum { N = 1500 };
    static char text[N][1200];
    const char *docs[N];
    for (int d = 0; d < N; d++) {
        size_t n = (size_t)sprintf(text[d], "title %d\n", d % 7);
        int words = 5 + (int)rnd(120);
        for (int w = 0; w < words; w++) {
            uint32_t r = rnd(100);
            uint32_t id = r < 50 ? rnd(8) : r < 90 ? rnd(80) : rnd(2000);
            n += (size_t)sprintf(text[d] + n, "w%u ", id);
        }
        docs[d] = text[d];
    }
    as_index *ix = build_index("prune", docs, N);
    for (int q = 0; q < 300; q++) {
        char query[256];
        size_t n = 0;
        int terms = 1 + (int)rnd(6);
        for (int t = 0; t < terms; t++) {
            uint32_t r = rnd(100);
            uint32_t id = r < 30 ? rnd(8) : r < 70 ? rnd(80) : rnd(2000);
            n += (size_t)sprintf(query + n, "w%u ", id);
        }
        as_query_opts fast, slow;
        as_query_opts_init(&fast);
        fast.k = 1 + rnd(20);
        fast.snippets = 0;
        slow = fast;
        slow.exact_count = 1;       /* no pruning */
        as_results *a, *b;
        assert_int_equal(as_search(ix, query, &fast, &a), AS_OK);
        assert_int_equal(as_search(ix, query, &slow, &b), AS_OK);
        assert_int_equal(as_results_count(a), as_results_count(b));
        for (size_t i = 0; i < as_results_count(a); i++) {
            const as_hit *x = as_results_hit(a, i), *y = as_results_hit(b, i);
            if (x->docid != y->docid || fabs(x->score - y->score) > 1e-9)
                fail_msg("query '%s' k=%u rank %zu: pruned doc %u %.12f, "
                         "exhaustive doc %u %.12f", query, fast.k, i,
                         x->docid, x->score, y->docid, y->score);
        }
        int est;
        uint64_t ta = as_results_total(a, &est);
        uint64_t exact = as_results_total(b, NULL), counted;
        if (!est)
            assert_int_equal(ta, exact);
        assert_int_equal(as_count(ix, query, &counted), AS_OK);
        assert_int_equal(counted, exact);
        as_results_free(a);
        as_results_free(b);
    }
    as_index_close(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_ties_and_paging),
        cmocka_unit_test(test_bad_queries),
        cmocka_unit_test(test_pruning_is_exact),
    };
    return cmocka_run_group_tests_name("search", tests, tu_group_setup,
                                       tu_group_teardown);
}
