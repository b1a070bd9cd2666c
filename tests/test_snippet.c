/* test_snippet.c - the best passage, its highlights, multi-byte text. */
#include "testutil.h"

#include "analyze.h"
#include "artsearch.h"
#include "snippet.h"

static analyzer *an;

static int setup(void **state)
{
    (void)state;
    return analyzer_new("english", 0, &an);
}

static int teardown(void **state)
{
    (void)state;
    analyzer_free(an);
    return 0;
}

/* Render a snippet with its spans as [brackets]. */
static char *render(const char *text, const char *const *terms, size_t n,
                    uint32_t words)
{
    uint32_t lens[16];
    for (size_t i = 0; i < n; i++)
        lens[i] = (uint32_t)strlen(terms[i]);
    snippet_query q = {terms, lens, n};
    buf out, spans;
    buf_init(&out);
    buf_init(&spans);
    assert_int_equal(snippet_make(an, text, strlen(text), &q, words, &out,
                                  &spans), AS_OK);
    const as_span *sp = (const as_span *)(const void *)spans.p;
    size_t ns = spans.len / sizeof *sp;
    buf r;
    buf_init(&r);
    size_t at = 0;
    for (size_t i = 0; i < ns; i++) {
        assert_true(sp[i].start >= at);
        assert_true(sp[i].start + sp[i].len <= out.len);
        buf_append(&r, out.p + at, sp[i].start - at);
        buf_putc(&r, '[');
        buf_append(&r, out.p + sp[i].start, sp[i].len);
        buf_putc(&r, ']');
        at = sp[i].start + sp[i].len;
    }
    buf_append(&r, out.p + at, out.len - at);
    buf_terminate(&r);
    buf_free(&out);
    buf_free(&spans);
    return (char *)r.p;
}

static void test_short_text_whole(void **state)
{
    (void)state;
    const char *terms[] = {"cramp"};
    char *s = render("Leg  cramps\n\tat night.", terms, 1, 30);
    assert_string_equal(s, "Leg [cramps] at night.");
    free(s);
}

static void test_best_window(void **state)
{
    (void)state;
    /* 40 filler words, then a dense passage, then 40 more. */
    char text[4096] = "";
    for (int i = 0; i < 40; i++)
        strcat(text, "filler ");
    strcat(text, "the sciatic nerve runs through the buttock and pain "
                 "follows it ");
    for (int i = 0; i < 40; i++)
        strcat(text, "padding ");
    const char *terms[] = {"sciatic", "buttock", "pain"};
    char *s = render(text, terms, 3, 12);
    /* Two words of context before the first match, as there is room. */
    assert_string_equal(s, "\xe2\x80\xa6 filler the [sciatic] nerve runs "
                           "through the [buttock] and [pain] follows it "
                           "\xe2\x80\xa6");
    free(s);
}

static void test_distinct_terms_beat_repeats(void **state)
{
    (void)state;
    char text[4096] = "";
    strcat(text, "pain pain pain pain pain ");
    for (int i = 0; i < 30; i++)
        strcat(text, "x ");
    strcat(text, "magnesium helps cramp ");
    for (int i = 0; i < 30; i++)
        strcat(text, "y ");
    const char *terms[] = {"pain", "magnesium", "cramp"};
    char *s = render(text, terms, 3, 8);
    assert_non_null(strstr(s, "[magnesium] helps [cramp]"));
    assert_null(strstr(s, "[pain]"));
    free(s);
}

static void test_multibyte_and_compounds(void **state)
{
    (void)state;
    const char *terms[] = {"cafe", "covid19", "naiv"};
    char *s = render("Un café — très naïve — après COVID-19 ☕ fin", terms, 3,
                     30);
    assert_string_equal(s, "Un [café] — très [naïve] — après [COVID]-[19] "
                           "☕ fin");
    free(s);
}

static void test_no_match_and_empty(void **state)
{
    (void)state;
    const char *terms[] = {"zebra"};
    char text[2048] = "";
    for (int i = 0; i < 50; i++)
        strcat(text, "word ");
    char *s = render(text, terms, 1, 5);
    assert_string_equal(s, "word word word word word \xe2\x80\xa6");
    free(s);
    s = render("", terms, 1, 5);
    assert_string_equal(s, "");
    free(s);
    s = render("... !!! ---", terms, 1, 5);
    assert_string_equal(s, "");
    free(s);
}

static void test_huge_word_is_cut(void **state)
{
    (void)state;
    size_t n = 100000;
    char *text = malloc(n + 32);
    memcpy(text, "pain ", 5);
    memset(text + 5, 'a', n);
    strcpy(text + 5 + n, " pain");
    const char *terms[] = {"pain"};
    char *s = render(text, terms, 1, 30);
    assert_true(strlen(s) <= SNIPPET_MAX_BYTES + 300);
    assert_memory_equal(s, "[pain] aaaa", 11);
    free(s);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_text_whole),
        cmocka_unit_test(test_best_window),
        cmocka_unit_test(test_distinct_terms_beat_repeats),
        cmocka_unit_test(test_multibyte_and_compounds),
        cmocka_unit_test(test_no_match_and_empty),
        cmocka_unit_test(test_huge_word_is_cut),
    };
    return cmocka_run_group_tests_name("snippet", tests, setup, teardown);
}
