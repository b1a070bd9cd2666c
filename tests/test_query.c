/* test_query.c - the query language parser: a table of queries and the
 * trees they become, and input that must never make it fail. */
#include "testutil.h"

#include "analyze.h"
#include "artsearch.h"
#include "query.h"

static char *describe(analyzer *an, const char *text, int *flat)
{
    query *q;
    int rc = query_parse(an, text, strlen(text), &q);
    if (rc)
        fail_msg("parse '%s': %s", text, as_errmsg());
    buf b;
    buf_init(&b);
    query_describe(q, &b);
    buf_putc(&b, 0);
    if (flat)
        *flat = q->flat;
    char *s = strdup((const char *)b.p);
    buf_free(&b);
    query_free(q);
    return s;
}

static void test_table(void **state)
{
    (void)state;
    analyzer *an;
    assert_int_equal(analyzer_new("none", 0, &an), AS_OK);
    static const struct {
        const char *in, *tree;
        int flat;
    } cases[] = {
        {"sciatic buttock pain", "sciatic buttock pain", 1},
        {"Sciatic, BUTTOCK; pain?", "sciatic buttock pain", 1},
        {"+magnesium cramps -caffeine", "+magnesium cramps -caffeine", 0},
        {"\"sciatic nerve\" pain", "\"sciatic nerve\" pain", 0},
        {"a AND b OR c", "(+a +b) c", 0},
        {"a OR b AND c", "a (+b +c)", 0},
        {"a AND NOT b", "+a -b", 0},
        {"NOT a", "-a", 0},
        {"a NOT NOT b", "a -b", 0},
        {"a AND b AND c", "+a +b +c", 0},
        {"(a OR b) AND c", "+(a b) +c", 0},
        {"-(a b) c", "-(a b) c", 0},
        {"+(a b)", "a b", 1},
        {"((a))", "a", 1},
        {"(a b) c", "a b c", 1},
        {"title:cramp leg", "title:cramp leg", 0},
        {"title:(a b)", "title:a title:b", 0},
        {"title:\"sciatic nerve\"", "title:\"sciatic nerve\"", 0},
        {"preg*", "preg*", 0},
        {"Preg** pain", "preg* pain", 0},
        {"covid-19 vaccine", "covid 19 covid19 vaccine", 1},
        {"\"covid-19 vaccine\"", "\"covid 19 vaccine\"", 0},
        {"\"single\"", "single", 1},
        /* stray punctuation and operators */
        {"\"unclosed phrase", "\"unclosed phrase\"", 0},
        {"a) (b", "a b", 1},
        {"(((a", "a", 1},
        {"a -", "a", 1},
        {"a - b + c", "a b c", 1},
        {"--a ++b", "a b", 1},
        {"AND a OR", "a", 1},
        {"a AND AND b", "+a +b", 0},
        {"and or not", "and or not", 1},
        {"C++ c#", "c c", 1},
        {"title: leg", "title leg", 1},
        {"e-mail:x", "e mail email x", 1},
        {"AND OR NOT", "", 0},
        {"+ - * : ( ) \"\"", "", 0},
        {"***", "", 0},
        {"\"\"", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int flat;
        char *got = describe(an, cases[i].in, &flat);
        if (strcmp(got, cases[i].tree) != 0)
            fail_msg("'%s' parsed as '%s', want '%s'", cases[i].in, got,
                     cases[i].tree);
        if (flat != cases[i].flat)
            fail_msg("'%s': flat %d, want %d", cases[i].in, flat,
                     cases[i].flat);
        free(got);
    }
    analyzer_free(an);
}

static void test_stemming_and_prefixes(void **state)
{
    (void)state;
    analyzer *an;
    assert_int_equal(analyzer_new("english", 0, &an), AS_OK);
    /* Words are stemmed; a prefix is folded but not stemmed. */
    char *got = describe(an, "Pregnancies pregnanc* Café*", NULL);
    assert_string_equal(got, "pregnanc pregnanc* cafe*");
    free(got);
    analyzer_free(an);

    /* Stopwords keep their places in a phrase. */
    assert_int_equal(analyzer_new("english", 1, &an), AS_OK);
    query *q;
    const char *t = "\"pain in the buttock\"";
    assert_int_equal(query_parse(an, t, strlen(t), &q), AS_OK);
    qnode *root = &q->nodes[q->root];
    qnode *p = &q->nodes[root->kid];
    assert_int_equal(p->type, QN_PHRASE);
    assert_int_equal(p->n, 2);
    assert_int_equal(q->terms[p->first].pos, 0);
    assert_int_equal(q->terms[p->first + 1].pos, 3);
    query_free(q);
    analyzer_free(an);
}

static void test_limits(void **state)
{
    (void)state;
    analyzer *an;
    assert_int_equal(analyzer_new("none", 0, &an), AS_OK);
    /* Deep nesting is cut, not recursed into without end. */
    size_t n = 60000;
    char *s = malloc(2 * n + 2);
    memset(s, '(', n);
    s[n] = 'a';
    memset(s + n + 1, ')', n);
    s[2 * n + 1] = '\0';
    char *got = describe(an, s, NULL);
    assert_string_equal(got, "a");
    free(got);
    /* NOT NOT NOT ... */
    for (size_t i = 0; i + 4 < 2 * n; i += 4)
        memcpy(s + i, "NOT ", 4);
    strcpy(s + 2 * n - 4, "a b");
    got = describe(an, s, NULL);
    assert_string_equal(got, "-a b");
    free(got);
    /* 1,000 terms pass, 1,001 do not. */
    char *big = malloc(8 * 1002);
    size_t len = 0;
    for (int i = 0; i < 1000; i++)
        len += (size_t)sprintf(big + len, "w%d ", i);
    query *q;
    assert_int_equal(query_parse(an, big, len, &q), AS_OK);
    assert_int_equal(q->nterms, 1000);
    query_free(q);
    len += (size_t)sprintf(big + len, "one-more");
    assert_int_equal(query_parse(an, big, len, &q), AS_ERR_TOOLONG);
    assert_null(q);
    free(big);
    free(s);
    analyzer_free(an);
}

/* Random bytes drawn from the query language's alphabet never fail. */
static void test_random_input(void **state)
{
    (void)state;
    analyzer *an;
    assert_int_equal(analyzer_new("english", 0, &an), AS_OK);
    static const char *const atoms[] = {
        "a", "pain", "(", ")", "\"", "+", "-", "*", ":", "title:", "AND",
        "OR", "NOT", " ", " ", "é", "\xff", "\x01", "covid-19", "''",
    };
    uint64_t seed = 1;
    for (int round = 0; round < 20000; round++) {
        char s[256];
        size_t n = 0;
        int parts = 1 + (int)(round % 24);
        for (int i = 0; i < parts; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *a = atoms[(seed >> 33) % (sizeof atoms / sizeof *atoms)];
            size_t l = strlen(a);
            if (n + l + 1 >= sizeof s)
                break;
            memcpy(s + n, a, l);
            n += l;
        }
        query *q;
        int rc = query_parse(an, s, n, &q);
        if (rc)
            fail_msg("'%.*s': %s", (int)n, s, as_errmsg());
        buf b;
        buf_init(&b);
        query_describe(q, &b);
        buf_free(&b);
        query_free(q);
    }
    analyzer_free(an);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_stemming_and_prefixes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_random_input),
    };
    return cmocka_run_group_tests_name("query", tests, NULL, NULL);
}
