/* test_limits.c - the real binary on the inputs that break naive indexers:
 * a 100 MB document, files and JSONL lines over the document size limit,
 * a word of 1,000 bytes, 1,000,000 tiny documents, a folder of 100,000
 * files, and folders nested past the walk's depth and PATH_MAX.  Each must
 * be indexed whole or cut with a clear message, within bounded memory (the
 * peak RSS of the build is asserted, except under the sanitizers, whose
 * shadow memory makes it meaningless).  The 100 MB document's words are
 * nearly all distinct, the worst case for the inversion's memory. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/resource.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_CHECKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_CHECKED 0
#endif
#endif
#ifndef RSS_CHECKED
#define RSS_CHECKED 1
#endif

static char *tmp;

/* Run the binary with args (NULL-terminated), its stdout and stderr into
 * *out (malloc'd); returns the exit status, the peak RSS in MiB in *rss. */
static int run(char **out, double *rss, const char *const *args)
{
    char outpath[4300];
    snprintf(outpath, sizeof outpath, "%s/out.txt", tmp);
    const char *argv[32];
    int n = 0;
    argv[n++] = tu_bin();
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execv(tu_bin(), (char *const *)argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    assert_int_equal(wait4(pid, &st, 0, &ru), pid);
    if (rss)
        *rss = (double)ru.ru_maxrss / 1024.0;
    FILE *f = fopen(outpath, "rb");
    assert_non_null(f);
    size_t cap = 1 << 16, len = 0, got;
    char *b = malloc(cap);
    assert_non_null(b);
    while ((got = fread(b + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            b = realloc(b, cap *= 2);
            assert_non_null(b);
        }
    }
    b[len] = '\0';
    fclose(f);
    *out = b;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void expect_in(const char *out, const char *what)
{
    if (!strstr(out, what))
        fail_msg("expected \"%s\" in:\n%.2000s", what, out);
}

static void check_rss(const char *what, double rss, double max_mib)
{
    printf("%s: peak RSS %.0f MiB\n", what, rss);
    if (RSS_CHECKED && rss > max_mib)
        fail_msg("%s: peak RSS %.0f MiB, over %.0f MiB", what, rss, max_mib);
}

/* dir = a new folder tmp/NAME for a corpus; ix = tmp/ix-NAME for its
 * index. */
static void dirs(const char *name, char *dir, char *ix)
{
    snprintf(dir, 4300, "%s/%s", tmp, name);
    snprintf(ix, 4300, "%s/ix-%s", tmp, name);
    assert_int_equal(mkdir(dir, 0755), 0);
}

/* `artsearch check` passes on ix. */
static void check_ok(const char *ix)
{
    char *out;
    const char *c[] = {"check", "-i", ix, NULL};
    if (run(&out, NULL, c) != 0)
        fail_msg("check failed: %s", out);
    free(out);
}

/* Pseudo-random lowercase words, deterministic. */
static uint64_t seed = 12345;
static void word(char *w, int *len)
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    int n = 2 + (int)((seed >> 40) % 9);
    for (int i = 0; i < n; i++)
        w[i] = (char)('a' + (seed >> (i * 5 % 40)) % 26);
    *len = n;
}

static void test_hundred_megabyte_document(void **state)
{
    (void)state;
    char dir[4300], path[4400], ix[4300];
    dirs("big", dir, ix);
    snprintf(path, sizeof path, "%s/huge.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("A very long article\n", f);
    size_t n = 0;
    char w[16];
    int len;
    /* Under the sanitizers (several times slower), 20 MB makes the same
     * point. */
    while (n < (size_t)(RSS_CHECKED ? 100 : 20) << 20) {
        word(w, &len);
        w[len] = n % 97 == 0 ? '\n' : ' ';
        fwrite(w, 1, (size_t)len + 1, f);
        n += (size_t)len + 1;
    }
    fputs(" endmarkerword\n", f);
    assert_int_equal(fclose(f), 0);
    char *out;
    double rss;
    const char *b[] = {"build", "-o", ix, dir, NULL};
    assert_int_equal(run(&out, &rss, b), 0);
    expect_in(out, "Indexed 1 documents");
    expect_in(out, "Nothing skipped.");
    assert_null(strstr(out, "cut"));
    free(out);
    check_rss("build of one 100 MB document", rss, 900);
    /* The last word is indexed: nothing was cut. */
    const char *q[] = {"query", "-i", ix, "--color=never", "endmarkerword",
                       NULL};
    assert_int_equal(run(&out, &rss, q), 0);
    expect_in(out, "huge.txt");
    expect_in(out, "[endmarkerword]");
    free(out);
    check_rss("query with a snippet of a 100 MB document", rss, 600);
    check_ok(ix);
    tu_rmrf(ix);
    tu_rmrf(dir);
}

static void test_document_size_limit(void **state)
{
    (void)state;
    char dir[4300], ix[4300];
    dirs("cut", dir, ix);
    /* A text file of 3 MiB whose byte 1 MiB falls inside "é" (two bytes). */
    size_t total = (size_t)3 << 20, lim = (size_t)1 << 20;
    char *t = malloc(total);
    assert_non_null(t);
    memcpy(t, "Cut article\n", 12);
    for (size_t i = 12; i < total; i++)
        t[i] = i % 8 == 7 ? ' ' : 'x';
    memcpy(t + 200, "beforecut ", 10);
    t[lim - 1] = (char)0xc3;
    t[lim] = (char)0xa9;
    memcpy(t + lim + 100, " aftercut ", 10);
    char p[4400];
    snprintf(p, sizeof p, "%s/cut.txt", dir);
    tu_write(p, t, total);
    free(t);
    /* JSONL: lines 2 (5,000 bytes) and 4 (200,000 bytes, longer than a
     * read) are over a 4K limit; lines 1, 3 and 5 are indexed. */
    snprintf(p, sizeof p, "%s/lines.jsonl", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("{\"id\":\"one\",\"text\":\"short first\"}\n", f);
    fputs("{\"id\":\"two\",\"text\":\"", f);
    for (int i = 0; i < 5000; i++)
        fputc(i % 6 == 5 ? ' ' : 'y', f);
    fputs("\"}\n{\"id\":\"three\",\"text\":\"short third\"}\n", f);
    fputs("{\"id\":\"four\",\"text\":\"", f);
    for (int i = 0; i < 200000; i++)
        fputc(i % 6 == 5 ? ' ' : 'z', f);
    fputs("\"}\n{\"id\":\"five\",\"text\":\"short fifth\"}", f);
    assert_int_equal(fclose(f), 0);

    char *out;
    const char *b[] = {"build", "--max-doc", "4K", "-o", ix, dir, NULL};
    assert_int_equal(run(&out, NULL, b), 0);
    expect_in(out, "lines.jsonl:2: line longer than the document size "
                   "limit (4096 bytes); skipped");
    expect_in(out, "lines.jsonl:4: line longer");
    expect_in(out, "cut.txt: larger than the document size limit (4096 "
                   "bytes); only its first 4096 bytes are indexed");
    expect_in(out, "Indexed 4 documents");
    expect_in(out, "2 JSON line over the document size limit");
    expect_in(out, "1 file cut to the document size limit");
    free(out);

    const char *b2[] = {"build", "--max-doc", "1M", "-q", "-o", ix, dir,
                        NULL};
    assert_int_equal(run(&out, NULL, b2), 0);
    free(out);
    /* Before the cut: found; after: not; the cut fell before "é", so the
     * stored text stays valid UTF-8 (check verifies the store). */
    const char *q1[] = {"query", "-i", ix, "-f", "trec", "beforecut", NULL};
    assert_int_equal(run(&out, NULL, q1), 0);
    expect_in(out, "cut.txt");
    free(out);
    const char *q2[] = {"query", "-i", ix, "-f", "trec", "aftercut", NULL};
    assert_int_equal(run(&out, NULL, q2), 0);
    assert_null(strstr(out, "cut.txt"));
    free(out);
    const char *q3[] = {"query", "-i", ix, "--json", "-n", "1", "xxxxxxx",
                        NULL};
    assert_int_equal(run(&out, NULL, q3), 0);
    assert_null(strstr(out, "\\ufffd"));
    assert_null(strstr(out, "\xef\xbf\xbd"));
    free(out);
    check_ok(ix);
    const char *bad[] = {"build", "--max-doc", "10", "-o", ix, dir, NULL};
    assert_int_equal(run(&out, NULL, bad), 2);
    expect_in(out, "--max-doc: '10' is not a size of at least 1K");
    free(out);
    tu_rmrf(ix);
    tu_rmrf(dir);
}

static void test_thousand_byte_word(void **state)
{
    (void)state;
    char dir[4300], ix[4300];
    dirs("word", dir, ix);
    char text[1100], q[1100];
    memcpy(text, "Long word\nsee ", 14);
    for (int i = 0; i < 1000; i++)
        text[14 + i] = (char)('a' + i % 26);
    memcpy(text + 1014, " here\n", 7);
    tu_writef(dir, "w.txt", text);
    memcpy(q, text + 14, 1000);
    q[1000] = '\0';
    char *out;
    const char *b[] = {"build", "-q", "-o", ix, dir, NULL};
    assert_int_equal(run(&out, NULL, b), 0);
    free(out);
    /* The word is indexed cut to 255 bytes; the query cuts it the same way
     * and finds it. */
    const char *qa[] = {"query", "-i", ix, "-f", "trec", q, NULL};
    assert_int_equal(run(&out, NULL, qa), 0);
    expect_in(out, "w.txt");
    free(out);
    tu_rmrf(ix);
    tu_rmrf(dir);
}

static void test_million_tiny_documents(void **state)
{
    (void)state;
    char path[4300], ix[4300];
    snprintf(path, sizeof path, "%s/tiny.jsonl", tmp);
    snprintf(ix, sizeof ix, "%s/ix-tiny", tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 1000000; i++)
        fprintf(f, "{\"id\":\"d%d\",\"title\":\"t%d\",\"text\":\"w%d x\"}\n",
                i, i % 100, i % 1000);
    assert_int_equal(fclose(f), 0);
    char *out;
    double rss;
    const char *b[] = {"build", "-o", ix, path, NULL};
    assert_int_equal(run(&out, &rss, b), 0);
    expect_in(out, "Indexed 1,000,000 documents");
    free(out);
    check_rss("build of 1,000,000 tiny documents", rss, 400);
    const char *q[] = {"query", "-i", ix, "--color=never", "--exact-count",
                       "w7", NULL};
    assert_int_equal(run(&out, &rss, q), 0);
    expect_in(out, "1,000 matching");
    free(out);
    check_ok(ix);
    tu_rmrf(ix);
    unlink(path);
}

static void test_hundred_thousand_files(void **state)
{
    (void)state;
    char dir[4300], ix[4300], p[4400];
    dirs("many", dir, ix);
    for (int i = 0; i < 100000; i++) {
        snprintf(p, sizeof p, "%s/article-%06d.txt", dir, i);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fprintf(f, "Article %d\nword%d common\n", i, i % 500);
        assert_int_equal(fclose(f), 0);
    }
    char *out;
    double rss;
    const char *b[] = {"build", "-o", ix, dir, NULL};
    assert_int_equal(run(&out, &rss, b), 0);
    expect_in(out, "Indexed 100,000 documents from 100,000 files");
    free(out);
    check_rss("build of a folder of 100,000 files", rss, 400);
    const char *q[] = {"query", "-i", ix, "-f", "trec", "-n", "200",
                       "word499", NULL};
    assert_int_equal(run(&out, NULL, q), 0);
    expect_in(out, "article-099999.txt");
    free(out);
    tu_rmrf(ix);
    tu_rmrf(dir);
}

/* 300 nested folders of 30-byte names: past the walk's 256 levels and
 * past PATH_MAX (4,096 bytes, at about level 130). */
static void test_deep_folders(void **state)
{
    (void)state;
    char dir[4300], ix[4300];
    dirs("deep", dir, ix);
    int here = open(".", O_RDONLY | O_DIRECTORY);
    assert_true(here >= 0);
    assert_int_equal(chdir(dir), 0);
    for (int level = 1; level <= 300; level++) {
        char name[64];
        snprintf(name, sizeof name, "a-rather-long-folder-name-%03d", level);
        assert_int_equal(mkdir(name, 0755), 0);
        assert_int_equal(chdir(name), 0);
        if (level == 10 || level == 200 || level == 300) {
            char text[64];
            snprintf(text, sizeof text, "Level %d\nlevelword%d\n", level,
                     level);
            tu_writef(".", "a.txt", text);
        }
    }
    assert_int_equal(fchdir(here), 0);
    close(here);
    char *out;
    double rss;
    const char *b[] = {"build", "-o", ix, dir, NULL};
    assert_int_equal(run(&out, &rss, b), 0);
    expect_in(out, "Indexed 1 documents");
    expect_in(out, "File name too long");
    free(out);
    check_rss("build of 300 nested folders", rss, 100);
    const char *q[] = {"query", "-i", ix, "-f", "trec", "levelword10", NULL};
    assert_int_equal(run(&out, NULL, q), 0);
    expect_in(out, "a-rather-long-folder-name-010/a.txt");
    free(out);
    /* Nested 300 deep within PATH_MAX: the walk stops at 256 levels. */
    tu_rmrf(dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    char p[4300];
    size_t n = (size_t)snprintf(p, sizeof p, "%s", dir);
    for (int level = 1; level <= 300; level++) {
        n += (size_t)snprintf(p + n, sizeof p - n, "/d");
        assert_int_equal(mkdir(p, 0755), 0);
        if (level == 255 || level == 256 || level == 300)
            tu_writef(p, "a.txt", level == 255 ? "Deep\nlevelword255\n"
                                               : "Deeper\nlevelwordfar\n");
    }
    const char *b2[] = {"build", "-o", ix, dir, NULL};
    assert_int_equal(run(&out, NULL, b2), 0);
    expect_in(out, "folders nested deeper than 256 levels; not read");
    expect_in(out, "Indexed 1 documents");
    free(out);
    const char *q2[] = {"query", "-i", ix, "-f", "trec", "levelword255",
                        NULL};
    assert_int_equal(run(&out, NULL, q2), 0);
    expect_in(out, "/d/a.txt");
    free(out);
    tu_rmrf(ix);
    tu_rmrf(dir);
}

static int setup(void **state)
{
    (void)state;
    tmp = tu_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmrf(tmp);
    free(tmp);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_size_limit),
        cmocka_unit_test(test_thousand_byte_word),
        cmocka_unit_test(test_deep_folders),
        cmocka_unit_test(test_hundred_thousand_files),
        cmocka_unit_test(test_million_tiny_documents),
        cmocka_unit_test(test_hundred_megabyte_document),
    };
    return cmocka_run_group_tests_name("limits", tests, setup, teardown);
}
