/* test_analyze.c - tokenizing, folding, stemming: table-driven cases and a
 * golden file (tests/data/golden.txt -> tests/data/golden.tokens). */
#include "testutil.h"

#include "analyze.h"
#include "artsearch.h"
#include "buf.h"
#include "hash.h"

typedef struct {
    buf out;
    int with_offsets;
    const char *text;
} render;

static int on_token(void *ctx, const an_token *t)
{
    render *r = ctx;
    if (r->out.len)
        buf_putc(&r->out, ' ');
    buf_append(&r->out, t->term, t->len);
    if (r->with_offsets)
        buf_printf(&r->out, "@%u[%u,%u)=%.*s", t->pos, t->start, t->end,
                   (int)(t->end - t->start), r->text + t->start);
    return 0;
}

/* Analyze text and return the terms separated by spaces (static buffer). */
static const char *terms(analyzer *a, const char *text)
{
    static char result[4096];
    render r;
    buf_init(&r.out);
    r.with_offsets = 0;
    r.text = text;
    uint32_t pos = 0;
    assert_int_equal(analyzer_run(a, text, strlen(text), &pos, on_token, &r),
                     0);
    buf_terminate(&r.out);
    snprintf(result, sizeof result, "%s", r.out.p ? (char *)r.out.p : "");
    buf_free(&r.out);
    return result;
}

typedef struct {
    const char *in, *want;
} tcase;

static void run_table(const char *lang, int stop, const tcase *cases)
{
    analyzer *a;
    assert_int_equal(analyzer_new(lang, stop, &a), AS_OK);
    for (const tcase *c = cases; c->in; c++) {
        const char *got = terms(a, c->in);
        if (strcmp(got, c->want) != 0)
            fail_msg("analyze(\"%s\"): got \"%s\", want \"%s\"", c->in, got,
                     c->want);
    }
    analyzer_free(a);
}

static void test_english(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"", ""},
        {"   ...!?  ", ""},
        {"Cramps in the buttocks", "cramp in the buttock"},
        {"Café", "cafe"},
        {"CAFÉ café cafe", "cafe cafe cafe"},
        {"COVID-19", "covid 19 covid19"},
        {"covid19", "covid19"},
        {"B12 b12", "b12 b12"},
        {"Crohn's disease", "crohn diseas"},
        {"Crohn’s", "crohn"},
        {"don't", "dont"},
        {"non-steroidal", "non steroid nonsteroid"},
        {"5.7%", "5.7"},
        {"1,000 patients", "1000 patient"},
        {"3.", "3"},
        /* After a word: a period, comma or apostrophe joins only between
         * digits (period, comma) or letters (apostrophe); the scanner
         * decides at once for ASCII, and scans a non-ASCII byte after. */
        {"pain. Rest, cramps' end.", "pain rest cramp end"},
        {"a.b 1.a a,1 x'5 5'x 5'6", "a b 1 a a 1 x 5 5 x 5 6"},
        {"3.5mg 2,5 o'neil end'", "3.5mg 25 oneil end"},
        {"car'\xc3\xa9 7.\xc2\xb2 7,\xe2\x82\x82", "care 7.2 72"},
        {"x. y, z'", "x y z"},
        {"and/or", "and or"},
        /* A compound glues all its words, also those before a slash. */
        {"a/b-c", "a b c abc"},
        {"x-ray/mri-guided", "x ray mri guid xraymriguid"},
        {"one-two-three-four-five-six-seven-eight-nine",
         "one two three four five six seven eight nine "
         "onetwothreefourfivesixseveneight"},
        /* Long compounds and lists cross the analyzer's queue (32 words). */
        {"a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 a12 a13 a14 a15 a16 a17 a18 "
         "a19 a20 a21 a22 a23 a24 b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s-t-u",
         "a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 a12 a13 a14 a15 a16 a17 a18 "
         "a19 a20 a21 a22 a23 a24 b c d e f g h i j k l m n o p q r s t u "
         "bcdefghi"},
        {"vitamin a", "vitamin a"},
        {"ﬁbrosis", "fibrosi"},
        {"naïve résumé", "naiv resum"},
        {"Straße", "strass"},
        {"ΑΘΗΝΑ", "αθηνα"},
        {"x\xff y", "x y"},                 /* invalid byte separates */
        {"running runs ran", "run run ran"},
        {"-caffeine +magnesium", "caffein magnesium"},
        {"\"sciatic nerve\"", "sciatic nerv"},
        {"pre*", "pre"},
        {NULL, NULL},
    };
    run_table("english", 0, cases);
}

static void test_stopwords_and_none(void **state)
{
    (void)state;
    static const tcase stop[] = {
        {"the cramps of the night", "cramp night"},
        {"vitamin a", "vitamin"},
        {NULL, NULL},
    };
    run_table("english", 1, stop);
    static const tcase none[] = {
        {"Running Cramps", "running cramps"},
        {NULL, NULL},
    };
    run_table("none", 0, none);
    static const tcase french[] = {
        {"les médicaments", "le medic"},
        {NULL, NULL},
    };
    run_table("french", 0, french);
}

static void test_unknown_language(void **state)
{
    (void)state;
    analyzer *a = (analyzer *)1;
    assert_int_equal(analyzer_new("klingon", 0, &a), AS_ERR_LANG);
    assert_null(a);
    assert_non_null(strstr(as_errmsg(), "klingon"));
    assert_non_null(strstr(as_errmsg(), "english"));
}

static void test_positions_and_offsets(void **state)
{
    (void)state;
    analyzer *a;
    assert_int_equal(analyzer_new("english", 0, &a), AS_OK);
    const char *text = "Ab  café-Ölé x";
    render r;
    buf_init(&r.out);
    r.with_offsets = 1;
    r.text = text;
    uint32_t pos = 10;
    assert_int_equal(analyzer_run(a, text, strlen(text), &pos, on_token, &r),
                     0);
    buf_terminate(&r.out);
    assert_string_equal((char *)r.out.p,
                        "ab@10[0,2)=Ab cafe@11[4,9)=café ole@12[10,15)=Ölé "
                        "cafeol@11[4,15)=café-Ölé x@13[16,17)=x");
    assert_int_equal(pos, 14);
    buf_free(&r.out);

    /* Stopwords keep their position. */
    analyzer *s;
    assert_int_equal(analyzer_new("english", 1, &s), AS_OK);
    buf_init(&r.out);
    r.text = "pain in the back";
    pos = 0;
    assert_int_equal(analyzer_run(s, r.text, strlen(r.text), &pos, on_token,
                                  &r), 0);
    buf_terminate(&r.out);
    assert_string_equal((char *)r.out.p,
                        "pain@0[0,4)=pain back@3[12,16)=back");
    buf_free(&r.out);
    analyzer_free(s);
    analyzer_free(a);
}

/* A compound of more words than the analyzer queues (32) after other
 * words: the queue is handed on in the middle of it, and every word still
 * comes with its position and offsets, then the glued first eight. */
static void test_compound_longer_than_queue(void **state)
{
    (void)state;
    analyzer *a;
    assert_int_equal(analyzer_new("none", 0, &a), AS_OK);
    buf text, want, glued;
    buf_init(&text);
    buf_init(&want);
    buf_init(&glued);
    uint32_t pos = 0;
    for (int i = 0; i < 20; i++) {
        size_t at = text.len;
        buf_printf(&text, "p%d ", i);
        buf_printf(&want, "%sp%d@%u[%zu,%zu)=p%d", i ? " " : "", i, pos++,
                   at, text.len - 1, i);
    }
    size_t cstart = text.len;
    uint32_t cpos = pos;
    for (int i = 0; i < 45; i++) {
        size_t at = text.len;
        buf_printf(&text, "%sw%d", i ? "-" : "", i);
        at += i > 0;
        buf_printf(&want, " w%d@%u[%zu,%zu)=w%d", i, pos++, at, text.len, i);
        if (i < 8)
            buf_printf(&glued, "w%d", i);
    }
    buf_terminate(&glued);
    buf_printf(&want, " %s@%u[%zu,%zu)=", (char *)glued.p, cpos, cstart,
               text.len);
    buf_append(&want, text.p + cstart, text.len - cstart);
    size_t at = text.len + 1;
    buf_puts(&text, " end");
    buf_printf(&want, " end@%u[%zu,%zu)=end", pos, at, text.len);
    buf_terminate(&text);
    buf_terminate(&want);

    render r;
    buf_init(&r.out);
    r.with_offsets = 1;
    r.text = (char *)text.p;
    uint32_t p = 0;
    assert_int_equal(analyzer_run(a, r.text, text.len, &p, on_token, &r), 0);
    buf_terminate(&r.out);
    assert_string_equal((char *)r.out.p, (char *)want.p);
    assert_int_equal(p, pos + 1);
    buf_free(&r.out);
    buf_free(&text);
    buf_free(&want);
    buf_free(&glued);
    analyzer_free(a);
}

static void test_long_terms_cut(void **state)
{
    (void)state;
    analyzer *a;
    assert_int_equal(analyzer_new("none", 0, &a), AS_OK);
    char text[1200];
    /* 600 two-byte letters: the term is cut to <= 255 bytes at a
     * character boundary. */
    for (int i = 0; i < 600; i++) {
        text[2 * i] = (char)0xc3;
        text[2 * i + 1] = (char)0xa9;      /* é -> e after folding */
    }
    text[1200 - 1] = '\0';
    text[1198] = '\0';
    const char *t = terms(a, text);
    assert_true(strlen(t) <= AN_MAX_TERM);
    assert_true(strlen(t) >= AN_MAX_TERM - 1);
    analyzer_free(a);
}

/* Runs of ASCII letters and digits are scanned and folded 16 bytes at a
 * time: random words of 1 to 90 bytes (across the 64-byte fast path), at
 * every alignment, the text ending inside a word or after a separator,
 * must give each word lowercased at its own offsets. */
static void test_ascii_words_any_alignment(void **state)
{
    (void)state;
    analyzer *a;
    assert_int_equal(analyzer_new("none", 0, &a), AS_OK);
    static const char alnum[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char *const seps[] = {" ", "  ", ";", "(", ") ", "\n", "!",
                                       "?\t", "\"", "=", "@", "[", "`", "{"};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char text[2048];
    buf want;
    buf_init(&want);
    for (int round = 0; round < 400; round++) {
        size_t n = 0;
        buf_clear(&want);
        for (size_t lead = (size_t)round % 17; lead > 0; lead--)
            text[n++] = ' ';
        uint32_t pos = 0;
        while (n < 1800) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t wl = 1 + (size_t)(x % 90), start = n;
            if (want.len)
                buf_putc(&want, ' ');
            for (size_t i = 0; i < wl; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char c = alnum[(x >> 20) % (sizeof alnum - 1)];
                text[n++] = c;
                buf_putc(&want, c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            buf_printf(&want, "@%u[%zu,%zu)=%.*s", pos++, start, n,
                       (int)wl, text + start);
            if (x % 5 == 0 && round % 2)
                break;          /* the text ends inside the word */
            const char *sep = seps[(x >> 40) % (sizeof seps / sizeof *seps)];
            memcpy(text + n, sep, strlen(sep));
            n += strlen(sep);
        }
        text[n] = '\0';
        buf_terminate(&want);
        render r;
        buf_init(&r.out);
        r.with_offsets = 1;
        r.text = text;
        uint32_t p = 0;
        assert_int_equal(analyzer_run(a, text, n, &p, on_token, &r), 0);
        buf_terminate(&r.out);
        assert_string_equal((char *)r.out.p, (char *)want.p);
        assert_int_equal(p, pos);
        buf_free(&r.out);
    }
    buf_free(&want);
    analyzer_free(a);
}

static int stop_after_two(void *ctx, const an_token *t)
{
    (void)t;
    int *n = ctx;
    return ++*n == 2 ? 77 : 0;
}

static void test_callback_stops(void **state)
{
    (void)state;
    analyzer *a;
    assert_int_equal(analyzer_new(NULL, 0, &a), AS_OK);
    assert_string_equal(analyzer_language(a), "english");
    int n = 0;
    uint32_t pos = 0;
    assert_int_equal(analyzer_run(a, "one two three", 13, &pos,
                                  stop_after_two, &n), 77);
    assert_int_equal(n, 2);
    analyzer_free(a);
}

/* The stem cache tells apart words whose slots collide (the same hash
 * bits for the first table) and that share their first 8 or 16 bytes and
 * their length, differing in bytes 8-15 or past 16; a word keeps its key
 * and stem after the table grew. */
typedef struct {
    uint32_t key[4];
    char term[4][64];
    int n;
} keyed;

static int on_keyed(void *ctx, const an_token *t)
{
    keyed *k = ctx;
    assert_true(k->n < 4);
    k->key[k->n] = t->key;
    snprintf(k->term[k->n], sizeof k->term[k->n], "%.*s", (int)t->len,
             t->term);
    k->n++;
    return 0;
}

static keyed analyze_keyed(analyzer *a, const char *text)
{
    keyed k = {{0}, {{0}}, 0};
    uint32_t pos = 0;
    assert_int_equal(analyzer_run(a, text, strlen(text), &pos, on_keyed, &k),
                     0);
    return k;
}

/* Two words prefix + 3 letters whose hashes agree in their low 6 bits
 * (the first table has 64 slots). */
static void colliding_pair(const char *prefix, char *w1, char *w2, size_t n)
{
    static const char letters[] = "bcdfghjklmpqrtvwxz";
    size_t nl = sizeof letters - 1;
    int seen[64];
    for (int i = 0; i < 64; i++)
        seen[i] = -1;
    for (size_t c = 0; c < nl * nl * nl; c++) {
        char w[64];
        snprintf(w, sizeof w, "%s%c%c%c", prefix, letters[c / (nl * nl)],
                 letters[c / nl % nl], letters[c % nl]);
        int slot = (int)(hash_bytes(w, strlen(w)) & 63);
        if (seen[slot] >= 0) {
            size_t p = (size_t)seen[slot];
            snprintf(w1, n, "%s%c%c%c", prefix, letters[p / (nl * nl)],
                     letters[p / nl % nl], letters[p % nl]);
            snprintf(w2, n, "%s", w);
            return;
        }
        seen[slot] = (int)c;
    }
    fail_msg("no colliding pair");
}

/* Keys of a token: the largest seen. */
static int on_max_key(void *ctx, const an_token *t)
{
    uint32_t *max = ctx;
    if (t->key != AN_NO_KEY && (*max == AN_NO_KEY || t->key > *max))
        *max = t->key;
    return 0;
}

/* The stem cache holds up to 3/4 of 2^20 words (its table growing by
 * two, then by four at a step); once full, the next word clears it: a new
 * epoch, whose keys start again from 0. */
static void test_stem_cache_epoch(void **state)
{
    (void)state;
    analyzer *a;
    assert_int_equal(analyzer_new("english", 0, &a), AS_OK);
    uint32_t epoch = analyzer_epoch(a);
    keyed first = analyze_keyed(a, "cramps");
    assert_int_equal(first.key[0], 0);
    enum { FULL = (1 << 20) / 4 * 3 };
    buf text;
    buf_init(&text);
    uint32_t max = AN_NO_KEY, pos = 0;
    for (int i = 1; i <= FULL - 2; i++) {
        buf_printf(&text, "q%dz ", i);
        if (text.len > (1 << 16) || i == FULL - 2) {
            assert_int_equal(analyzer_run(a, (const char *)text.p, text.len,
                                          &pos, on_max_key, &max), 0);
            buf_clear(&text);
        }
    }
    assert_int_equal(max, FULL - 2);
    keyed again = analyze_keyed(a, "cramps");
    assert_int_equal(again.key[0], 0);              /* still cached */
    keyed last = analyze_keyed(a, "sciatica");      /* fills it */
    assert_int_equal(last.key[0], FULL - 1);
    assert_int_equal(analyzer_epoch(a), epoch);
    keyed after = analyze_keyed(a, "cramps");       /* clears it */
    assert_int_equal(analyzer_epoch(a), epoch + 1);
    assert_int_equal(after.key[0], 0);
    assert_string_equal(after.term[0], first.term[0]);
    keyed then = analyze_keyed(a, "sciatica");
    assert_int_equal(then.key[0], 1);
    assert_string_equal(then.term[0], last.term[0]);
    buf_free(&text);
    analyzer_free(a);
}

static void test_stem_cache_collisions(void **state)
{
    (void)state;
    /* Differing in bytes 8-15 (prefix of 8 + 3 + padding to 15), and
     * past byte 16. */
    static const char *const prefixes[] = {"abcdefgh", "abcdefghijklmnopq"};
    for (size_t p = 0; p < 2; p++) {
        char w1[64], w2[64], text[160];
        colliding_pair(prefixes[p], w1, w2, sizeof w1);
        analyzer *a;
        assert_int_equal(analyzer_new("english", 0, &a), AS_OK);
        keyed alone = analyze_keyed(a, w2);
        analyzer_free(a);
        assert_int_equal(analyzer_new("english", 0, &a), AS_OK);
        snprintf(text, sizeof text, "%s %s", w1, w2);
        keyed both = analyze_keyed(a, text);
        assert_int_equal(both.n, 2);
        assert_true(both.key[0] != both.key[1]);
        assert_string_equal(both.term[1], alone.term[0]);
        /* Thousands of other words: the table grows several times. */
        buf other;
        buf_init(&other);
        for (int i = 0; i < 20000; i++)
            buf_printf(&other, "w%dx%d ", i, i * 7);
        uint32_t epoch = analyzer_epoch(a), pos = 0;
        render r;
        buf_init(&r.out);
        r.with_offsets = 0;
        r.text = NULL;
        assert_int_equal(analyzer_run(a, (const char *)other.p, other.len,
                                      &pos, on_token, &r), 0);
        buf_free(&r.out);
        buf_free(&other);
        assert_int_equal(analyzer_epoch(a), epoch);     /* same keys */
        keyed again = analyze_keyed(a, text);
        assert_int_equal(again.n, 2);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(again.key[i], both.key[i]);
            assert_string_equal(again.term[i], both.term[i]);
        }
        analyzer_free(a);
    }
}

/* A word without letters (a number) is not stemmed but has a key: the
 * same one each time it comes, as a word does (the inverting thread maps
 * keys to terms instead of looking each number up by its bytes). */
static void test_number_keys(void **state)
{
    (void)state;
    analyzer *a;
    assert_int_equal(analyzer_new("english", 0, &a), AS_OK);
    keyed k = analyze_keyed(a, "1990 runs 1990 42");
    assert_int_equal(k.n, 4);
    assert_string_equal(k.term[0], "1990");
    assert_string_equal(k.term[1], "run");
    assert_string_equal(k.term[2], "1990");
    assert_string_equal(k.term[3], "42");
    for (int i = 0; i < 4; i++)
        assert_true(k.key[i] != AN_NO_KEY);
    assert_int_equal(k.key[2], k.key[0]);
    assert_true(k.key[1] != k.key[0] && k.key[3] != k.key[0] &&
                k.key[3] != k.key[1]);
    keyed again = analyze_keyed(a, "42");
    assert_int_equal(again.key[0], k.key[3]);
    analyzer_free(a);
}

/* The golden file: every token with position and offsets, one line per
 * input line.  Regenerate with ARTSEARCH_UPDATE_GOLDEN=1 and review. */
static void test_golden(void **state)
{
    (void)state;
    FILE *f = fopen("tests/data/golden.txt", "r");
    assert_non_null(f);
    analyzer *a;
    assert_int_equal(analyzer_new("english", 0, &a), AS_OK);
    buf all;
    buf_init(&all);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        render r;
        buf_init(&r.out);
        r.with_offsets = 1;
        r.text = line;
        uint32_t pos = 0;
        assert_int_equal(analyzer_run(a, line, strlen(line), &pos, on_token,
                                      &r), 0);
        buf_append(&all, r.out.p, r.out.len);
        buf_putc(&all, '\n');
        buf_free(&r.out);
    }
    fclose(f);
    analyzer_free(a);
    if (getenv("ARTSEARCH_UPDATE_GOLDEN")) {
        tu_write("tests/data/golden.tokens", all.p, all.len);
    } else {
        FILE *g = fopen("tests/data/golden.tokens", "r");
        assert_non_null(g);
        char want[16384];
        size_t n = fread(want, 1, sizeof want - 1, g);
        want[n] = '\0';
        fclose(g);
        buf_terminate(&all);
        assert_string_equal((char *)all.p, want);
    }
    buf_free(&all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_english),
        cmocka_unit_test(test_stopwords_and_none),
        cmocka_unit_test(test_unknown_language),
        cmocka_unit_test(test_positions_and_offsets),
        cmocka_unit_test(test_compound_longer_than_queue),
        cmocka_unit_test(test_long_terms_cut),
        cmocka_unit_test(test_ascii_words_any_alignment),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_stem_cache_collisions),
        cmocka_unit_test(test_stem_cache_epoch),
        cmocka_unit_test(test_number_keys),
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests_name("analyze", tests, NULL, NULL);
}
