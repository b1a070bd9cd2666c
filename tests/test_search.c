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

/* BM25F: a title word counts in the text and, weighted, in the title.
 *   d000 "leg cramp" / "cramp at night"  -> dl 5, tl 2; cramp: tf 2, ttf 1
 *   d001 "pain" / "cramp cramp"          -> dl 3, tl 1; cramp: tf 2, ttf 0
 *   d002 "other" / "words"               -> dl 2, tl 1
 * N = 3, avgdl = 10/3, avgtl = 4/3, df(cramp) = 2. */
static void test_bm25f_hand_computed(void **state)
{
    (void)state;
    const char *docs[] = {"leg cramp\ncramp at night\n", "pain\ncramp cramp\n",
                          "other\nwords\n"};
    as_index *ix = build_index("bm25f", docs, 3);
    const double idf = log(1 + (3 - 2 + 0.5) / (2 + 0.5));
    const double avgdl = 10.0 / 3, avgtl = 4.0 / 3, k1 = 1.2;
    as_query_opts o;
    as_query_opts_init(&o);
    o.title_weight = 2.5;
    o.title_b = 0.4;
    as_results *r;
    assert_int_equal(as_search(ix, "cramp", &o, &r), AS_OK);
    assert_int_equal(as_results_count(r), 2);
    double B0 = 1 - 0.75 + 0.75 * 5 / avgdl, T0 = 1 - 0.4 + 0.4 * 2 / avgtl;
    double x0 = 2 / B0 + 2.5 * 1 / T0;
    double s0 = idf * x0 * (k1 + 1) / (x0 + k1);
    double s1 = bm25(idf, 2, 3, avgdl, 1.2, 0.75);
    const as_hit *h = as_results_hit(r, 0);
    assert_string_equal(h->id, "d000.txt");
    assert_true(fabs(h->score - s0) < 1e-9);
    assert_true(fabs(as_results_hit(r, 1)->score - s1) < 1e-9);
    as_results_free(r);

    /* title:cramp: the title field alone, idf from its own df (1). */
    assert_int_equal(as_search(ix, "title:cramp", &o, &r), AS_OK);
    assert_int_equal(as_results_count(r), 1);
    double tidf = log(1 + (3 - 1 + 0.5) / (1 + 0.5)), xt = 1 / T0;
    assert_true(fabs(as_results_hit(r, 0)->score -
                     tidf * xt * (k1 + 1) / (xt + k1)) < 1e-9);
    as_results_free(r);

    /* Title weight 0 is plain BM25. */
    o.title_weight = 0;
    assert_int_equal(as_search(ix, "cramp", &o, &r), AS_OK);
    assert_string_equal(as_results_hit(r, 0)->id, "d001.txt");
    assert_true(fabs(as_results_hit(r, 1)->score -
                     bm25(idf, 2, 5, avgdl, 1.2, 0.75)) < 1e-9);
    as_results_free(r);

    /* A phrase: its occurrences as tf, the sum of its words' idfs. */
    o.title_weight = 1;
    assert_int_equal(as_search(ix, "\"cramp at\"", &o, &r), AS_OK);
    assert_int_equal(as_results_count(r), 1);
    double pidf = idf + log(1 + (3 - 1 + 0.5) / (1 + 0.5));
    assert_true(fabs(as_results_hit(r, 0)->score -
                     bm25(pidf, 1, 5, avgdl, 1.2, 0.75)) < 1e-9);
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
        /* Titles share the body's words, so the title field is tested
         * by the bounds too. */
        size_t n = (size_t)sprintf(text[d], "title w%u w%u\n", rnd(8),
                                   rnd(80));
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
        /* A third of the queries hold a phrase, a quarter an excluded
         * word: pruned over clauses rather than terms. */
        int phrase_at = rnd(3) == 0 ? (int)rnd((uint32_t)terms) : -1;
        for (int t = 0; t < terms; t++) {
            uint32_t r = rnd(100);
            uint32_t id = r < 30 ? rnd(8) : r < 70 ? rnd(80) : rnd(2000);
            if (t == phrase_at)
                n += (size_t)sprintf(query + n, "\"w%u w%u\" ", rnd(8),
                                     rnd(8));
            n += (size_t)sprintf(query + n, "w%u ", id);
        }
        if (rnd(4) == 0)
            n += (size_t)sprintf(query + n, "-w%u", rnd(80));
        as_query_opts fast, slow;
        as_query_opts_init(&fast);
        fast.k = 1 + rnd(20);
        fast.snippets = 0;
        /* Title weights and normalizations with and without stored
         * bounds (those are made for k1 1.2, b and title b 0.75). */
        fast.title_weight = 0.75 * rnd(4);
        fast.title_b = rnd(2) ? 0.75 : 0.3;
        if (rnd(4) == 0) {
            fast.k1 = 0.9;
            fast.b = 0.4;
        }
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

/* The query language against an oracle made of one-term queries: each
 * clause's document set and score. */
typedef struct {
    double score[1500];
    int in[1500];
} term_docs;

static void one_term(as_index *ix, const char *term, term_docs *t)
{
    memset(t, 0, sizeof *t);
    as_query_opts o;
    as_query_opts_init(&o);
    o.k = 1500;
    o.snippets = 0;
    as_results *r;
    assert_int_equal(as_search(ix, term, &o, &r), AS_OK);
    for (size_t i = 0; i < as_results_count(r); i++) {
        const as_hit *h = as_results_hit(r, i);
        t->in[h->docid] = 1;
        t->score[h->docid] = h->score;
    }
    as_results_free(r);
}

static void test_boolean_against_oracle(void **state)
{
    (void)state;
    enum { N = 1500 };
    as_index *ix;
    char ixp[4300];
    snprintf(ixp, sizeof ixp, "%s/prune.ix", tu_group_dir);
    assert_int_equal(as_index_open(ixp, &ix), AS_OK);
    static term_docs A, B, C;
    for (int round = 0; round < 60; round++) {
        char a[16], b[16], c[16];
        snprintf(a, sizeof a, "w%u", rnd(40));
        snprintf(b, sizeof b, "w%u", 40 + rnd(40));
        snprintf(c, sizeof c, "w%u", rnd(8));
        one_term(ix, a, &A);
        one_term(ix, b, &B);
        one_term(ix, c, &C);
        char q[6][128];
        snprintf(q[0], sizeof q[0], "+%s %s -%s", a, b, c);
        snprintf(q[1], sizeof q[1], "%s AND %s", a, b);
        snprintf(q[2], sizeof q[2], "(%s OR %s) AND NOT %s", a, b, c);
        snprintf(q[3], sizeof q[3], "%s AND (%s OR %s)", a, b, c);
        snprintf(q[4], sizeof q[4], "%s %s -%s", a, b, c);
        snprintf(q[5], sizeof q[5], "NOT %s", a);
        for (int k = 0; k < 6; k++) {
            as_query_opts o;
            as_query_opts_init(&o);
            o.k = N;
            o.snippets = 0;
            as_results *r;
            assert_int_equal(as_search(ix, q[k], &o, &r), AS_OK);
            static int got[N];
            static double gs[N];
            memset(got, 0, sizeof got);
            for (size_t i = 0; i < as_results_count(r); i++) {
                got[as_results_hit(r, i)->docid] = 1;
                gs[as_results_hit(r, i)->docid] = as_results_hit(r, i)->score;
            }
            uint64_t want_n = 0;
            for (int d = 0; d < N; d++) {
                int m;
                double sc = 0;
                switch (k) {
                case 0: m = A.in[d] && !C.in[d]; sc = A.score[d] + B.score[d];
                    break;
                case 1: m = A.in[d] && B.in[d]; sc = A.score[d] + B.score[d];
                    break;
                case 2: case 4:
                    m = (A.in[d] || B.in[d]) && !C.in[d];
                    sc = A.score[d] + B.score[d];
                    break;
                case 3: m = A.in[d] && (B.in[d] || C.in[d]);
                    sc = A.score[d] + B.score[d] + C.score[d];
                    break;
                default: m = 0;
                }
                want_n += (uint64_t)m;
                if (m != got[d])
                    fail_msg("'%s': doc %d matched %d, want %d", q[k], d,
                             got[d], m);
                if (m && fabs(gs[d] - sc) > 1e-9)
                    fail_msg("'%s': doc %d score %.12f, want %.12f", q[k], d,
                             gs[d], sc);
            }
            assert_int_equal(as_results_total(r, NULL), want_n);
            uint64_t counted;
            assert_int_equal(as_count(ix, q[k], &counted), AS_OK);
            assert_int_equal(counted, want_n);
            as_results_free(r);
        }
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
        cmocka_unit_test(test_bm25f_hand_computed),
        cmocka_unit_test(test_boolean_against_oracle),
    };
    return cmocka_run_group_tests_name("search", tests, tu_group_setup,
                                       tu_group_teardown);
}
