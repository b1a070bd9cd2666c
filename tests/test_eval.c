/* test_eval.c - bench/eval against hand-computed cases. */
#include "testutil.h"

#include <math.h>

static double field(const char *out, const char *name)
{
    const char *p = strstr(out, name);
    assert_non_null(p);
    return strtod(p + strlen(name), NULL);
}

static void test_hand_computed(void **state)
{
    (void)state;
    const char *bin = getenv("ARTSEARCH_EVAL");
    if (!bin)
        skip();
    char *d = tu_tmpdir();
    /* A: judged d1=2, d2=1, d3=1; run d2, d9, d1.
     * B: judged e1=1; run e1 and e5 tie: trec_eval puts the larger doc id
     *    first, e5, so e1 is second.
     * C: judged, no run (left out of the default mean).
     * D: run, no judgments (ignored). */
    tu_writef(d, "qrels", "A 0 d1 2\nA 0 d2 1\nA 0 d3 1\nB 0 e1 1\n"
                          "C 0 c1 1\n");
    tu_writef(d, "run", "A Q0 d2 1 3.0 x\nA Q0 d9 2 2.0 x\nA Q0 d1 3 1.0 x\n"
                        "B Q0 e1 1 5.0 x\nB Q0 e5 2 5.0 x\n"
                        "D Q0 z1 1 9.0 x\n");
    char *out;
    assert_int_equal(tu_run(&out, 1, "%s %s/qrels %s/run", bin, d, d), 0);
    double ndcg_a = (1 / log2(2) + 2 / log2(4)) /
                    (2 / log2(2) + 1 / log2(3) + 1 / log2(4));
    double ndcg_b = (1 / log2(3)) / 1.0;
    assert_true(fabs(field(out, "nDCG@10") - (ndcg_a + ndcg_b) / 2) < 1e-4);
    assert_true(fabs(field(out, "over all judged queries:") -
                     (ndcg_a + ndcg_b) / 3) < 1e-4);
    assert_true(fabs(field(out, "MRR@10") - (1.0 + 0.5) / 2) < 1e-4);
    assert_true(fabs(field(out, "Recall@10") - (2.0 / 3 + 1) / 2) < 1e-4);
    assert_non_null(strstr(out, "3 judged, 2 with results"));
    free(out);
    /* Bad input is refused with the line named. */
    tu_writef(d, "bad", "A Q0 d2\n");
    assert_int_equal(tu_run(&out, 1, "%s %s/qrels %s/bad", bin, d, d), 2);
    assert_non_null(strstr(out, "bad:1"));
    free(out);
    tu_rmrf(d);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
    };
    return cmocka_run_group_tests_name("eval", tests, NULL, NULL);
}
