/* test_e2e.c - the real artsearch binary on the real corpus/ folder. */
#include "testutil.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <regex.h>

static char *ixdir;     /* index of corpus/ built once for the group */

static int setup(void **state)
{
    (void)state;
    ixdir = tu_tmpdir();
    char *out;
    int st = tu_run(&out, 1, "%s build corpus/ -o %s/ix", tu_bin(), ixdir);
    if (st != 0)
        fprintf(stderr, "build failed (%d): %s\n", st, out);
    free(out);
    return st;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmrf(ixdir);
    free(ixdir);
    return 0;
}

/* The id of the top hit for a query, via TREC output. */
static char *top_id(const char *query)
{
    char *out;
    int st = tu_run(&out, 0, "%s query -i %s/ix -n 1 --format trec -- '%s'",
                    tu_bin(), ixdir, query);
    assert_int_equal(st, 0);
    char qid[64], q0[8], id[256];
    int rank;
    if (sscanf(out, "%63s %7s %255s %d", qid, q0, id, &rank) != 4) {
        free(out);
        return strdup("(none)");
    }
    free(out);
    return strdup(id);
}

static void test_expected_top_results(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"sciatic buttock pain", "pregnancy-buttock-cramps.txt"},
        {"cramps in my buttocks during pregnancy",
         "pregnancy-buttock-cramps.txt"},
        {"leg cramps at night", "night-leg-cramps.txt"},
        {"round ligament pain", "round-ligament-pain.txt"},
        {"magnesium deficiency", "magnesium-deficiency.txt"},
        {"piriformis", "piriformis-syndrome.txt"},
        {"signs of dehydration", "dehydration.txt"},
        {"prenatal yoga poses", "prenatal-yoga.txt"},
        {"B12", "vitamin-b12-deficiency.txt"},
        {"blood clot in the leg", "deep-vein-thrombosis-pregnancy.txt"},
        {"symphysis pubis dysfunction", "pelvic-girdle-pain.txt"},
        {"Braxton Hicks", "braxton-hicks-contractions.txt"},
        {"sacroiliac", "sacroiliac-joint-pain.txt"},
        {"restless legs", "restless-legs-pregnancy.txt"},
        {"hamstring", "hamstring-strain.txt"},
        {"potassium bananas", "potassium-and-muscle-cramps.txt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *id = top_id(cases[i][0]);
        if (strcmp(id, cases[i][1]) != 0)
            fail_msg("query \"%s\": top hit %s, want %s", cases[i][0], id,
                     cases[i][1]);
        free(id);
    }
}

static void test_text_output(void **state)
{
    (void)state;
    char *out;
    int st = tu_run(&out, 0, "%s query -i %s/ix --color=never sciatic "
                    "buttock pain", tu_bin(), ixdir);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "matching documents ("));
    assert_non_null(strstr(out, " 1. Why do I get cramps in my buttocks "
                                "during pregnancy?"));
    assert_non_null(strstr(out, "pregnancy-buttock-cramps.txt"));
    assert_non_null(strstr(out, "[sciatic]"));
    assert_null(strstr(out, "\033["));
    free(out);
    st = tu_run(&out, 0, "%s query -i %s/ix --color=always sciatic",
                tu_bin(), ixdir);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "\033[1;33msciatic\033[0m"));
    free(out);
}

static void test_json_output(void **state)
{
    (void)state;
    char *out;
    int st = tu_run(&out, 0, "%s query -i %s/ix --json -n 5 'pain \"in\" "
                    "(the) buttock'", tu_bin(), ixdir);
    assert_int_equal(st, 0);
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        if (!o)
            fail_msg("invalid JSON line: %s (%s)", line, e.text);
        assert_int_equal(json_integer_value(json_object_get(o, "rank")),
                         lines + 1);
        assert_true(json_is_number(json_object_get(o, "score")));
        assert_true(json_is_string(json_object_get(o, "id")));
        const char *snip = json_string_value(json_object_get(o, "snippet"));
        json_t *hl = json_object_get(o, "highlights");
        assert_true(json_is_array(hl));
        for (size_t k = 0; k < json_array_size(hl); k++) {
            json_t *pair = json_array_get(hl, k);
            size_t a = (size_t)json_integer_value(json_array_get(pair, 0));
            size_t n = (size_t)json_integer_value(json_array_get(pair, 1));
            assert_true(a + n <= strlen(snip));
        }
        json_decref(o);
        lines++;
    }
    assert_int_equal(lines, 5);
    free(out);
}

/* Titles and text full of characters JSON must escape. */
static void test_json_hostile_text(void **state)
{
    (void)state;
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/hostile", ixdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    tu_writef(dir, "a.jsonl",
              "{\"id\":\"q\\\"uote\\\\back\",\"title\":\"Tab\\there "
              "\\u0001\\u001f \\u007f \\\"quoted\\\" \\\\ \\/ "
              "\\u2028\\u2029\",\"text\":\"cramp \\u0000 nul "
              "\\ud83d\\ude00 emoji \\u202e rtl \\r\\n cramp\"}\n");
    tu_writef(dir, "b.txt", "Bad \xff\xfe bytes cramp\nbody \x01 cramp\n");
    char *out;
    assert_int_equal(tu_run(&out, 1, "%s build %s -o %s/hix -q", tu_bin(),
                            dir, ixdir), 0);
    free(out);
    assert_int_equal(tu_run(&out, 0, "%s query -i %s/hix --json cramp",
                            tu_bin(), ixdir), 0);
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        if (!o)
            fail_msg("invalid JSON line: %s (%s)", line, e.text);
        const char *id = json_string_value(json_object_get(o, "id"));
        if (strcmp(id, "a.jsonl") != 0 && strcmp(id, "b.txt") != 0)
            assert_string_equal(id, "q\"uote\\back");
        json_decref(o);
        lines++;
    }
    assert_int_equal(lines, 2);
    free(out);
}

static void test_trec_and_batch(void **state)
{
    (void)state;
    char qfile[4300];
    snprintf(qfile, sizeof qfile, "%s/queries.tsv", ixdir);
    const char *qs = "Q1\tsciatic buttock pain\n\nQ2\tleg cramps at night\n"
                     "back pain, a query without id\nQ4\t\"!!\"\n";
    tu_write(qfile, qs, strlen(qs));
    char *out, *err;
    int st = tu_run(&out, 0, "%s query -i %s/ix --queries %s --format trec "
                    "-n 3 --timing 2>%s/err", tu_bin(), ixdir, qfile, ixdir);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "Q1 Q0 pregnancy-buttock-cramps.txt 1 "));
    assert_non_null(strstr(out, "Q2 Q0 night-leg-cramps.txt 1 "));
    assert_non_null(strstr(out, "\n4 Q0 "));    /* line number as id */
    assert_null(strstr(out, "Q4 Q0"));         /* punctuation: no hits */
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 9);
    free(out);
    tu_run(&err, 0, "cat %s/err", ixdir);
    assert_non_null(strstr(err, "queries 4"));
    assert_non_null(strstr(err, "p50"));
    assert_non_null(strstr(err, "p99"));
    free(err);
}

static void test_bad_input(void **state)
{
    (void)state;
    char *out;
    /* Empty query: usage error. */
    assert_int_equal(tu_run(&out, 1, "%s query -i %s/ix '   '", tu_bin(),
                            ixdir), 2);
    assert_non_null(strstr(out, "artsearch: empty query"));
    free(out);
    /* Unknown words, punctuation, operators: no results, exit 0. */
    const char *odd[] = {"zzzqqqxx", "!!! ??? ...", "\"(\" +- : *",
                         "-caffeine", "+magnesium cramps", "preg*",
                         "title:cramps", "a AND (b OR NOT c)"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        int st = tu_run(&out, 1, "%s query -i %s/ix -- '%s'", tu_bin(),
                        ixdir, odd[i]);
        if (st != 0)
            fail_msg("query '%s' exited %d: %s", odd[i], st, out);
        free(out);
    }
    assert_int_equal(tu_run(&out, 1, "%s query -i %s/ix zzzqqqxx", tu_bin(),
                            ixdir), 0);
    assert_non_null(strstr(out, "no documents match"));
    free(out);
    /* Too long. */
    char *big = malloc(70000);
    memset(big, 'a', 69999);
    big[69999] = '\0';
    assert_int_equal(tu_run(&out, 1, "%s query -i %s/ix %s", tu_bin(), ixdir,
                            "x"), 0);
    free(out);
    char words[9000] = "";
    for (int i = 0; i < 1100; i++)
        strcat(words, "ab ");
    assert_int_equal(tu_run(&out, 1, "%s query -i %s/ix '%s'", tu_bin(),
                            ixdir, words), 2);
    assert_non_null(strstr(out, "more than 1000 terms"));
    free(out);
    free(big);
    /* No index. */
    assert_int_equal(tu_run(&out, 1, "%s query -i %s/none pain", tu_bin(),
                            ixdir), 3);
    assert_non_null(strstr(out, "no index"));
    assert_non_null(strstr(out, "artsearch build"));
    free(out);
    /* Bad options. */
    assert_int_equal(tu_run(&out, 1, "%s query -i %s/ix -n 0 pain",
                            tu_bin(), ixdir), 2);
    free(out);
    assert_int_equal(tu_run(&out, 1, "%s query -i %s/ix --format xml pain",
                            tu_bin(), ixdir), 2);
    free(out);
    assert_int_equal(tu_run(&out, 1, "%s frobnicate", tu_bin()), 2);
    free(out);
}

static void test_build_errors(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(tu_run(&out, 1, "%s build /nonexistent/corpus -o %s/x",
                            tu_bin(), ixdir), 2);
    assert_non_null(strstr(out, "artsearch: /nonexistent/corpus"));
    free(out);
    assert_int_equal(tu_run(&out, 1, "%s build", tu_bin()), 2);
    free(out);
    assert_int_equal(tu_run(&out, 1, "%s build corpus/ -o %s/x --language "
                            "klingon", tu_bin(), ixdir), 2);
    assert_non_null(strstr(out, "klingon"));
    free(out);
}

static void test_help_and_version(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(tu_run(&out, 0, "%s --help", tu_bin()), 0);
    assert_non_null(strstr(out, "usage: artsearch COMMAND"));
    free(out);
    const char *cmds[] = {"build", "query", "stats", "check"};
    for (int i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "usage: artsearch %s", cmds[i]);
        assert_int_equal(tu_run(&out, 0, "%s help %s", tu_bin(), cmds[i]), 0);
        assert_non_null(strstr(out, want));
        free(out);
        assert_int_equal(tu_run(&out, 0, "%s %s --help", tu_bin(), cmds[i]),
                         0);
        assert_non_null(strstr(out, want));
        free(out);
    }
    assert_int_equal(tu_run(&out, 0, "%s --version", tu_bin()), 0);
    assert_non_null(strstr(out, "artsearch 0."));
    free(out);
}

static void test_stats_and_check(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(tu_run(&out, 0, "%s stats -i %s/ix", tu_bin(), ixdir),
                     0);
    assert_non_null(strstr(out, "documents      18"));
    assert_non_null(strstr(out, "bits per posting"));
    free(out);
    assert_int_equal(tu_run(&out, 0, "%s stats -i %s/ix --json", tu_bin(),
                            ixdir), 0);
    json_error_t e;
    json_t *o = json_loads(out, 0, &e);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "documents")), 18);
    json_decref(o);
    free(out);
    assert_int_equal(tu_run(&out, 0, "%s check -i %s/ix", tu_bin(), ixdir),
                     0);
    assert_non_null(strstr(out, "sound"));
    free(out);
    /* ARTSEARCH_INDEX names the index. */
    assert_int_equal(tu_run(&out, 0, "ARTSEARCH_INDEX=%s/ix %s stats",
                            ixdir, tu_bin()), 0);
    free(out);
}

static void test_shared_corpora(void **state)
{
    (void)state;
    char p[4300];
    snprintf(p, sizeof p, "%s/corpora/medquad", tu_shared());
    if (!tu_exists(p)) {
        fprintf(stderr, "skipping: %s is absent\n", p);
        skip();
    }
    char *out;
    assert_int_equal(tu_run(&out, 1, "%s build %s -o %s/mq -q", tu_bin(), p,
                            ixdir), 0);
    assert_non_null(strstr(out, "Indexed 5,473 documents"));
    assert_non_null(strstr(out, "Nothing skipped"));
    free(out);
    snprintf(p, sizeof p, "%s/corpora/clinicaltrials.jsonl.gz", tu_shared());
    assert_int_equal(tu_run(&out, 1, "%s build %s -o %s/ct", tu_bin(), p,
                            ixdir), 0);
    assert_non_null(strstr(out, "Indexed 6,786 documents"));
    assert_null(strstr(out, "warning"));
    free(out);
    assert_int_equal(tu_run(&out, 1, "%s check -i %s/ct", tu_bin(), ixdir),
                     0);
    free(out);
}

/* ---- The query language against an oracle over corpus/ ---------------- */

/* The ids a query returns, sorted, one per line. */
static char *query_ids(const char *query)
{
    char *out;
    int st = tu_run(&out, 0, "%s query -i %s/ix -n 100 --format trec -- '%s' "
                    "| awk '{print $3}' | LC_ALL=C sort", tu_bin(), ixdir,
                    query);
    assert_int_equal(st, 0);
    return out;
}

/* Does the regex (POSIX extended, on lower-cased text with white space
 * runs made one space) match? */
static int has(const char *text, const char *re)
{
    regex_t r;
    assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    int m = regexec(&r, text, 0, NULL, 0) == 0;
    regfree(&r);
    return m;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of corpus/ whose text (or title, when title is set) matches
 * every regex of all and none of none, sorted, one per line. */
static char *oracle(const char *const *all, const char *const *none,
                    int title)
{
    DIR *d = opendir("corpus");
    assert_non_null(d);
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".txt"))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, str_cmp);
    char *out = calloc(1, 8192);
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "corpus/%s", names[i]);
        FILE *f = fopen(path, "r");
        static char raw[1 << 16], text[1 << 16];
        size_t len = fread(raw, 1, sizeof raw - 1, f);
        fclose(f);
        raw[len] = '\0';
        size_t m = 0;
        for (size_t k = 0; k < len; k++) {
            if (title && raw[k] == '\n')
                break;
            char c = (char)tolower((unsigned char)raw[k]);
            if (isspace((unsigned char)c)) {
                if (m > 0 && text[m - 1] != ' ')
                    text[m++] = ' ';
            } else {
                text[m++] = c;
            }
        }
        text[m] = '\0';
        int ok = 1;
        for (const char *const *r = all; *r && ok; r++)
            ok = has(text, *r);
        for (const char *const *r = none; *r && ok; r++)
            ok = !has(text, *r);
        if (ok) {
            strcat(out, names[i]);
            strcat(out, "\n");
        }
        free(names[i]);
    }
    return out;
}

static void test_query_language(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        const char *all[3], *none[2];
        int title;
        size_t at_least;
    } cases[] = {
        /* phrase */
        {"\"sciatic nerve\"", {"sciatic nerve"}, {NULL}, 0, 3},
        {"\"vitamin B12\"", {"vitamin b12"}, {NULL}, 0, 1},
        /* required */
        {"+magnesium cramps", {"magnesium"}, {NULL}, 0, 2},
        /* excluded */
        {"cramps -night", {"cramp"}, {"night"}, 0, 1},
        {"legs -\"restless legs\"", {"\\blegs?\\b"}, {"restless legs"}, 0, 2},
        /* boolean */
        {"legs AND cramps", {"\\blegs?\\b", "cramp"}, {NULL}, 0, 2},
        {"hamstring OR sacroiliac", {"hamstring|sacroiliac"}, {NULL}, 0, 2},
        {"(sciatica OR piriformis) AND NOT pregnancy",
         {"sciatica|piriformis"}, {"pregnanc"}, 0, 1},
        {"+(sciatica OR piriformis) +buttock", {"sciatica|piriformis",
         "buttock"}, {NULL}, 0, 1},
        /* prefix */
        {"preg*", {"\\bpreg"}, {NULL}, 0, 10},
        {"hamstr* sacro*", {"hamstr|sacro"}, {NULL}, 0, 2},
        /* title field */
        {"title:cramps", {"cramp"}, {NULL}, 1, 3},
        {"title:\"sciatic nerve\"", {"sciatic nerve"}, {NULL}, 1, 2},
        {"title:(deficiency OR syndrome)", {"deficiency|syndrome"}, {NULL}, 1,
         3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = query_ids(cases[i].query);
        char *want = oracle(cases[i].all, cases[i].none, cases[i].title);
        if (strcmp(got, want) != 0)
            fail_msg("query %s\ngot:\n%swant:\n%s", cases[i].query, got,
                     want);
        size_t lines = 0;
        for (const char *p = want; *p; p++)
            lines += *p == '\n';
        if (lines < cases[i].at_least)
            fail_msg("query %s: %zu hits, the test wants at least %zu",
                     cases[i].query, lines, cases[i].at_least);
        free(got);
        free(want);
    }

    /* Only excluded clauses, or only operators: no results, exit 0. */
    char *out;
    static const char *const empty[] = {"NOT pregnancy", "-pregnancy",
                                        "AND OR NOT", "+ - * : ( ) \"\""};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        int st = tu_run(&out, 1, "%s query -i %s/ix -- '%s'", tu_bin(),
                        ixdir, empty[i]);
        assert_int_equal(st, 0);
        assert_non_null(strstr(out, "no documents match"));
        free(out);
    }

    /* A phrase ranks the article about it first; a required word keeps
     * documents without it out of the top. */
    char *id = top_id("\"round ligament\"");
    assert_string_equal(id, "round-ligament-pain.txt");
    free(id);

    /* --explain shows each term's share; JSON carries it. */
    int st = tu_run(&out, 0, "%s query -i %s/ix --color=never --explain -n 1 "
                    "'sciatic buttock pain'", tu_bin(), ixdir);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "= sum of:"));
    assert_non_null(strstr(out, "sciatic: text tf 7"));
    assert_non_null(strstr(out, "buttock: text tf"));
    assert_non_null(strstr(out, "idf"));
    free(out);
    st = tu_run(&out, 0, "%s query -i %s/ix --json --explain -n 1 "
                "'title:cramps'", tu_bin(), ixdir);
    assert_int_equal(st, 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_non_null(strstr(json_string_value(json_object_get(j, "explain")),
                           "title tf 1"));
    json_decref(j);
    free(out);

    /* A prefix over the expansion bound says so, and still answers. */
    char *dir = tu_tmpdir(), text[4096];
    size_t n = (size_t)sprintf(text, "many words\n");
    for (int i = 0; i < 300; i++)
        n += (size_t)sprintf(text + n, "zz%d ", i);
    tu_writef(dir, "many.txt", text);
    st = tu_run(&out, 1, "%s build -q %s -o %s/ix && %s query -i %s/ix "
                "--no-snippets 'zz*'", tu_bin(), dir, dir, tu_bin(), dir);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "zz* matches 300 terms; the 128 most "
                                "frequent were used"));
    assert_non_null(strstr(out, "many.txt"));
    free(out);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_top_results),
        cmocka_unit_test(test_query_language),
        cmocka_unit_test(test_text_output),
        cmocka_unit_test(test_json_output),
        cmocka_unit_test(test_json_hostile_text),
        cmocka_unit_test(test_trec_and_batch),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_stats_and_check),
        cmocka_unit_test(test_shared_corpora),
    };
    return cmocka_run_group_tests_name("e2e", tests, setup, teardown);
}
