/* test_fuzz_seeds.c - every fuzz target's seeds and the inputs that once
 * crashed it (fuzz/regressions), replayed through the same entry points
 * without libFuzzer.  The targets abort on any broken promise (a reader
 * failing on bad input, a highlight outside its snippet), so a replay that
 * exits 0 passed. */
#include "testutil.h"

static void replay(const char *target)
{
    const char *dir = getenv("ARTSEARCH_REPLAY");
    if (!dir)
        dir = "build/fuzz";
    char *out;
    int st = tu_run(&out, 1, "%s/replay-%s fuzz/seeds/%s fuzz/regressions/%s",
                    dir, target, target, target);
    if (st != 0)
        fail_msg("replay-%s: exit %d\n%s", target, st, out);
    assert_non_null(strstr(out, "replayed"));
    free(out);
}

static void test_query(void **state) { (void)state; replay("query"); }
static void test_text(void **state) { (void)state; replay("text"); }
static void test_html(void **state) { (void)state; replay("html"); }
static void test_jsonl(void **state) { (void)state; replay("jsonl"); }
static void test_gzip(void **state) { (void)state; replay("gzip"); }
static void test_index(void **state) { (void)state; replay("index"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query), cmocka_unit_test(test_text),
        cmocka_unit_test(test_html),  cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_gzip),  cmocka_unit_test(test_index),
    };
    return cmocka_run_group_tests_name("fuzz seeds", tests, NULL, NULL);
}
