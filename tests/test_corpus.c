/* test_corpus.c - the corpus reader: every format, every bad input. */
#include "testutil.h"

#include <jansson.h>
#include <zlib.h>

#include "artsearch.h"
#include "corpus.h"

#define MAXDOCS 64

typedef struct {
    int n;
    char *id[MAXDOCS], *title[MAXDOCS], *body[MAXDOCS];
    size_t body_len[MAXDOCS];
    char warnings[8192];
} got;

static int on_doc(void *ctx, const corpus_doc *d)
{
    got *g = ctx;
    if (g->n >= MAXDOCS)
        return 0;           /* counted in the report only */
    g->id[g->n] = strndup(d->id, d->id_len);
    g->title[g->n] = strndup(d->title, d->title_len);
    g->body[g->n] = strndup(d->body, d->body_len);
    g->body_len[g->n] = d->body_len;
    g->n++;
    return 0;
}

static void on_warn(void *ctx, const char *msg)
{
    got *g = ctx;
    strncat(g->warnings, msg, sizeof g->warnings - strlen(g->warnings) - 2);
    strcat(g->warnings, "\n");
}

static int read_all(const char *path, got *g, as_build_report *rep)
{
    memset(g, 0, sizeof *g);
    memset(rep, 0, sizeof *rep);
    corpus_opts o = {on_warn, NULL, g, 0};  /* 0: default max_doc */
    return corpus_read(path, &o, on_doc, g, rep);
}

static void free_got(got *g)
{
    for (int i = 0; i < g->n; i++) {
        free(g->id[i]);
        free(g->title[i]);
        free(g->body[i]);
    }
}

static void test_text_and_markdown(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    tu_writef(d, "a.txt", "\n\n  Leg cramps at night  \r\nBody line one.\n"
                          "Body line two.\n");
    tu_writef(d, "b.md", "# Prenatal yoga ##\n\nGentle *stretching*.\n");
    tu_writef(d, "c.TXT", "\xef\xbb\xbfTitle after BOM\nText.");
    tu_writef(d, "d.markdown", "Only a title");
    got g;
    as_build_report rep;
    assert_int_equal(read_all(d, &g, &rep), AS_OK);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.id[0], "a.txt");
    assert_string_equal(g.title[0], "Leg cramps at night");
    assert_string_equal(g.body[0], "Body line one.\nBody line two.\n");
    assert_string_equal(g.id[1], "b.md");
    assert_string_equal(g.title[1], "Prenatal yoga");
    assert_string_equal(g.body[1], "\nGentle *stretching*.\n");
    assert_string_equal(g.title[2], "Title after BOM");
    assert_string_equal(g.title[3], "Only a title");
    assert_string_equal(g.body[3], "");
    assert_int_equal(rep.docs, 4);
    assert_int_equal(rep.files, 4);
    free_got(&g);
    tu_rmrf(d);
    free(d);
}

static void test_html(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    tu_writef(d, "page.html",
              "<!DOCTYPE html><html><head><title>Sciatica &amp; "
              "pregnancy</title><style>p{color:red}</style>"
              "<script>var x = '<p>not text</p>';</script></head>"
              "<body><!-- a comment --><h1>Heading</h1>"
              "<p>Caf&eacute; &lt;b&gt; &#233;&#xE9; &unknown; 5 < 6</p>"
              "<div a=\"x>y\">inside</div>wo<b>rd</b></body></html>");
    tu_writef(d, "h1only.htm", "<body><h1>First <i>heading</i></h1>"
                               "<h1>Second</h1><p>text</p></body>");
    tu_writef(d, "notext.html", "<html><script>x</script></html>");
    got g;
    as_build_report rep;
    assert_int_equal(read_all(d, &g, &rep), AS_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.id[0], "h1only.htm");
    assert_string_equal(g.title[0], "First heading");
    assert_string_equal(g.id[1], "page.html");
    assert_string_equal(g.title[1], "Sciatica & pregnancy");
    const char *b = g.body[1];
    assert_null(strstr(b, "color"));
    assert_null(strstr(b, "not text"));
    assert_null(strstr(b, "comment"));
    assert_non_null(strstr(b, "Café <b> éé &unknown; 5 < 6"));
    assert_non_null(strstr(b, "inside"));
    assert_non_null(strstr(b, "word"));
    assert_int_equal(rep.skipped[AS_SKIP_EMPTY], 1);
    free_got(&g);
    tu_rmrf(d);
    free(d);
}

static void write_gz(const char *path, const char *text, size_t cut)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.full", path);
    gzFile z = gzopen(tmp, "wb");
    assert_non_null(z);
    assert_int_equal(gzwrite(z, text, (unsigned)strlen(text)),
                     (int)strlen(text));
    assert_int_equal(gzclose(z), Z_OK);
    FILE *f = fopen(tmp, "rb");
    char data[65536];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    unlink(tmp);
    tu_write(path, data, cut && cut < n ? n - cut : n);
}

static void test_jsonl(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    tu_writef(d, "a.jsonl",
              "{\"id\": \"D1\", \"title\": \"One\", \"text\": \"first\"}\n"
              "\n"
              "{\"_id\": \"D2\", \"title\": \"Two\", \"body\": \"second\"}\n"
              "{\"id\": 17, \"text\": \"no title\"}\n"
              "{\"id\": \"D4\", \"title\": \"Unicode \\u00e9\\ud83d\\ude00\","
              " \"text\": \"x\", \"extra\": [1,2]}\n"
              "not json at all\n"
              "{\"title\": \"no id\", \"text\": \"x\"}\n"
              "[1, 2, 3]\n"
              "{\"id\": \"D5\", \"title\": 5, \"text\": \"bad title\"}\n"
              "{\"id\": \"D6\", \"title\": \"truncated\", \"te\n"
              "{\"id\": \"D7\", \"title\": \"last\", \"text\": \"no newline\"}");
    got g;
    as_build_report rep;
    assert_int_equal(read_all(d, &g, &rep), AS_OK);
    assert_int_equal(g.n, 5);
    assert_string_equal(g.id[0], "D1");
    assert_string_equal(g.body[0], "first");
    assert_string_equal(g.id[1], "D2");
    assert_string_equal(g.body[1], "second");
    assert_string_equal(g.id[2], "17");
    assert_string_equal(g.title[2], "");
    assert_string_equal(g.title[3], "Unicode \xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(g.id[4], "D7");
    assert_int_equal(rep.skipped[AS_SKIP_BADLINE], 5);
    /* Messages name the file and line. */
    assert_non_null(strstr(g.warnings, "a.jsonl:6: malformed JSON"));
    assert_non_null(strstr(g.warnings, "a.jsonl:7: no \"id\""));
    assert_non_null(strstr(g.warnings, "a.jsonl:8: not a JSON object"));
    assert_non_null(strstr(g.warnings, "a.jsonl:9:"));
    assert_non_null(strstr(g.warnings, "a.jsonl:10: malformed JSON"));
    free_got(&g);
    tu_rmrf(d);
    free(d);
}

/* What jansson makes of a line, by the reader's rules: 1 with the fields
 * (id, title, text) as C strings, or 0 when the reader would skip it. */
static int jansson_fields(const char *line, char **id, char **title,
                          char **text)
{
    json_error_t e;
    json_t *o = json_loadb(line, strlen(line), JSON_ALLOW_NUL, &e);
    int ok = 0;
    *id = *title = *text = NULL;
    if (!o || !json_is_object(o))
        goto out;
    json_t *jid = json_object_get(o, "id");
    if (!jid)
        jid = json_object_get(o, "_id");
    char num[32];
    if (json_is_string(jid)) {
        *id = strndup(json_string_value(jid), json_string_length(jid));
    } else if (json_is_integer(jid)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(jid));
        *id = strdup(num);
    } else {
        goto out;
    }
    json_t *jt = json_object_get(o, "title"), *jb = json_object_get(o, "text");
    if (!jb)
        jb = json_object_get(o, "body");
    if ((jt && !json_is_string(jt) && !json_is_null(jt)) ||
        (jb && !json_is_string(jb) && !json_is_null(jb)))
        goto out;
    *title = json_is_string(jt) ? strndup(json_string_value(jt),
                                          json_string_length(jt)) : strdup("");
    *text = json_is_string(jb) ? strndup(json_string_value(jb),
                                         json_string_length(jb)) : strdup("");
    ok = 1;
out:
    json_decref(o);
    return ok;
}

/* The JSONL fast path agrees with jansson on every line it takes, and
 * leaves to jansson every line it cannot take exactly. */
static void check_fast_line(const char *line, int expect, corpus_json *jp)
{
    corpus_json *j = jp;
    int fast = corpus_json_fast(line, strlen(line), j);
    if (fast != expect)
        fail_msg("(%s): fast path %d, expected %d", line, fast, expect);
    if (!fast)
        return;
    char *id, *title, *text;
    int ok = jansson_fields(line, &id, &title, &text);
    int usable = j->has_id == 1;
    if (!ok) {
        /* jansson takes the line but the reader skips it: so must the
         * fast path's caller (no usable id). */
        assert_false(usable);
        free(id);
        free(title);
        free(text);
        return;
    }
    assert_true(usable);
    assert_int_equal(j->id_len, strlen(id));
    assert_memory_equal(j->id, id, j->id_len);
    size_t tl = j->has_title == 1 ? j->title_len : 0;
    size_t bl = j->has_body == 1 ? j->body_len : 0;
    assert_int_equal(tl, strlen(title));
    assert_memory_equal(j->has_title == 1 ? j->title : "", title, tl);
    assert_int_equal(bl, strlen(text));
    assert_memory_equal(j->has_body == 1 ? j->body : "", text, bl);
    free(id);
    free(title);
    free(text);
}

static void test_json_fast_path(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int fast;           /* 1: the fast path must take it */
    } cases[] = {
        {"{\"id\":\"a\",\"title\":\"T\",\"text\":\"body\"}", 1},
        {" { \"id\" : \"a\" , \"text\" : \"x\" } \r", 1},
        {"{\"_id\":\"b\",\"body\":\"y\"}", 1},
        {"{\"id\":17,\"text\":\"x\"}", 1},
        {"{\"id\":-0,\"text\":\"x\"}", 1},
        {"{\"id\":-123456789012345678,\"text\":\"x\"}", 1},
        {"{\"id\":\"a\",\"title\":null,\"text\":\"x\"}", 1},
        {"{\"id\":\"a\",\"text\":null,\"body\":\"x\"}", 1},
        {"{\"id\":\"a\",\"text\":\"q\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", 1},
        {"{\"id\":\"\\u00e9\\ud83d\\ude00\",\"text\":\"caf\\u00E9 \xc3\xa9\"}", 1},
        {"{\"id\":\"a\",\"text\":\"one\",\"text\":\"two\"}", 1},
        {"{\"id\":\"a\",\"title\":\"x\\ny\",\"title\":\"z\"}", 1},
        {"{\"id\":1,\"id\":\"s\",\"text\":\"x\"}", 1},
        {"{\"id\":\"a\",\"n\":12,\"u\":null,\"s\":\"\\u0041\",\"text\":\"x\"}", 1},
        {"{\"_id\":5,\"id\":\"w\",\"text\":\"x\"}", 1},
        {"{}", 1},
        /* Left to jansson. */
        {"{\"id\":\"a\",\"text\":\"x\",\"tags\":[1]}", 0},
        {"{\"id\":\"a\",\"text\":\"x\",\"m\":{\"k\":1}}", 0},
        {"{\"id\":\"a\",\"text\":\"x\",\"f\":true}", 0},
        {"{\"id\":1.5,\"text\":\"x\"}", 0},
        {"{\"id\":1e3,\"text\":\"x\"}", 0},
        {"{\"id\":0123,\"text\":\"x\"}", 0},
        {"{\"id\":1234567890123456789,\"text\":\"x\"}", 0},
        {"{\"id\":\"a\",\"title\":5,\"text\":\"x\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\\u0000\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\\ud800\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\\udc00x\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\\ud800\\u0041\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\\x\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\\u12\"}", 0},
        {"{\"id\":\"a\",\"text\":\"tab\there\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\xff\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\xc0\xaf\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\xed\xa0\x80\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\xf4\x90\x80\x80\"}", 0},
        {"{\"id\":\"a\",\"text\":\"\xe2\x82\"}", 0},
        {"{\"id\":\"a\",\"text\":\"x\"} trailing", 0},
        {"{\"id\":\"a\",\"text\":\"x\"", 0},
        {"{\"id\":\"a\",\"text\":\"x}", 0},
        {"{\"id\":\"a\",,\"text\":\"x\"}", 0},
        {"{\"id\":\"a\",\"text\":\"x\",}", 0},
        {"{\"i\\u0064\":\"a\",\"text\":\"x\"}", 0},
        {"{\"id\":\"a\" \"text\":\"x\"}", 0},
        {"{\"id\":\"\\u00e9\",\"_id\":\"\\u00e8\",\"text\":\"x\"}", 1},
        {"{\"_id\":\"\\u00e8\",\"id\":\"\\u00e9\",\"text\":\"x\"}", 1},
        {"{\"id\":\"a\",\"text\":\"\\u00e9\",\"body\":\"\\u00e8\"}", 1},
        {"{\"id\":\"a\",\"body\":\"\\u00e8\",\"text\":\"\\u00e9\"}", 1},
        {"[1,2]", 0},
        {"\"str\"", 0},
        {"{\"id\":nul,\"text\":\"x\"}", 0},
        {"{\"id\":-,\"text\":\"x\"}", 0},
    };
    corpus_json j;
    memset(&j, 0, sizeof j);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        check_fast_line(cases[k].line, cases[k].fast, &j);
    for (int i = 0; i < 5; i++)
        buf_free(&j.scratch[i]);
}

/* Long strings, with the byte the fast path must stop at in every place
 * of its 16-byte steps: taken or refused as jansson decides. */
static void test_json_fast_long_strings(void **state)
{
    (void)state;
    static const struct {
        const char *piece;      /* bytes put in the string */
        int fast;
    } pieces[] = {
        {"\\\"", 1},            /* an escaped quote */
        {"\\n", 1},             /* an escaped newline */
        {"\\u00e9", 1},
        {"\xc3\xa9", 1},        /* UTF-8, 2 to 4 bytes */
        {"\xe2\x80\x99", 1},
        {"\xf0\x9f\x98\x80", 1},
        {"\x7f", 1},            /* DEL is no control character */
        {"\t", 0},              /* a raw control character */
        {"\x01", 0},
        {"\xff", 0},            /* not UTF-8 */
        {"\xc3", 0},            /* cut */
    };
    corpus_json j;
    memset(&j, 0, sizeof j);
    char line[256];
    for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
        size_t pl = strlen(pieces[k].piece);
        for (int at = 0; at < 50; at++) {
            int n = snprintf(line, sizeof line, "{\"id\":\"long%d\",\"text\":\"",
                             at);
            for (int i = 0; i < at; i++)
                line[n++] = (char)('a' + i % 26);
            memcpy(line + n, pieces[k].piece, pl);
            n += (int)pl;
            for (int i = 0; i < 37; i++)
                line[n++] = (char)('A' + i % 26);
            n += snprintf(line + n, sizeof line - (size_t)n, "\"}");
            check_fast_line(line, pieces[k].fast, &j);
            /* Not closed: refused, whatever comes before. */
            line[n - 2] = 0;
            check_fast_line(line, 0, &j);
        }
    }
    for (int i = 0; i < 5; i++)
        buf_free(&j.scratch[i]);
}

static void test_jsonl_gz_and_truncated(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    char text[40000] = "";
    for (int i = 0; i < 300; i++) {
        char line[128];
        snprintf(line, sizeof line, "{\"id\":\"N%03d\",\"title\":\"T%d\","
                 "\"text\":\"some text number %d\"}\n", i, i, i * 7919);
        strcat(text, line);
    }
    char p[4300];
    snprintf(p, sizeof p, "%s/good.jsonl.gz", d);
    write_gz(p, text, 0);
    got g;
    as_build_report rep;
    assert_int_equal(read_all(p, &g, &rep), AS_OK);
    assert_int_equal(rep.docs, 300);
    assert_string_equal(g.id[0], "N000");
    free_got(&g);

    snprintf(p, sizeof p, "%s/good.jsonl.gz", d);
    unlink(p);
    snprintf(p, sizeof p, "%s/cut.jsonl.gz", d);
    write_gz(p, text, 100);             /* lose the last 100 bytes */
    /* The documents before the damage are kept; the loss is reported. */
    assert_int_equal(read_all(d, &g, &rep), AS_OK);
    assert_int_equal(rep.skipped[AS_SKIP_TRUNCATED], 1);
    assert_true(rep.docs > 200 && rep.docs < 300);
    assert_non_null(strstr(g.warnings, "cut.jsonl.gz: truncated gzip"));
    free_got(&g);
    tu_rmrf(d);
    free(d);
}

/* A JSONL.gz file big enough to be decompressed ahead on a thread of its
 * own (GZ_THREAD_MIN): read whole, cut short, and damaged in the middle,
 * each reported as when it is read on the calling thread. */
static void test_big_jsonl_gz_read_ahead(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    char p[4300], full[4300];
    snprintf(full, sizeof full, "%s/big.full", d);
    gzFile z = gzopen(full, "wb");
    assert_non_null(z);
    enum { N = 20000 };
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        char words[200];
        size_t n = 0;
        for (int w = 0; w < 12; w++) {
            for (int k = 0; k < 7; k++) {
                seed = seed * 1103515245u + 12345u;
                words[n++] = (char)('a' + (seed >> 16) % 26);
            }
            words[n++] = ' ';
        }
        words[n] = '\0';
        assert_true(gzprintf(z, "{\"id\":\"B%05d\",\"title\":\"T\","
                                "\"text\":\"%s\"}\n", i, words) > 0);
    }
    assert_int_equal(gzclose(z), Z_OK);
    FILE *f = fopen(full, "rb");
    assert_non_null(f);
    static unsigned char data[4 << 20];
    size_t size = fread(data, 1, sizeof data, f);
    fclose(f);
    unlink(full);
    assert_true(size > 512 * 1024 && size < sizeof data);

    got g;
    as_build_report rep;
    snprintf(p, sizeof p, "%s/a.jsonl.gz", d);
    tu_write(p, data, size);
    assert_int_equal(read_all(p, &g, &rep), AS_OK);
    assert_int_equal(rep.docs, N);
    assert_string_equal(g.id[0], "B00000");
    assert_int_equal(rep.skipped[AS_SKIP_TRUNCATED], 0);
    free_got(&g);
    unlink(p);

    snprintf(p, sizeof p, "%s/cut.jsonl.gz", d);
    tu_write(p, data, size - 1000);
    assert_int_equal(read_all(p, &g, &rep), AS_OK);
    assert_int_equal(rep.skipped[AS_SKIP_TRUNCATED], 1);
    assert_true(rep.docs > N / 2 && rep.docs < N);
    assert_non_null(strstr(g.warnings, "cut.jsonl.gz: truncated gzip"));
    free_got(&g);
    unlink(p);

    /* Bytes overwritten in the middle: the deflate data is invalid (or,
     * if it still decodes, the CRC fails at the end). */
    snprintf(p, sizeof p, "%s/bad.jsonl.gz", d);
    memset(data + size / 2, 0xff, 64);
    tu_write(p, data, size);
    assert_int_equal(read_all(p, &g, &rep), AS_OK);
    assert_int_equal(rep.skipped[AS_SKIP_TRUNCATED], 1);
    assert_true(rep.docs >= N / 4 && rep.docs < N);
    assert_non_null(strstr(g.warnings, "bad.jsonl.gz: "));
    assert_non_null(strstr(g.warnings, "the rest of the file is lost"));
    free_got(&g);
    tu_rmrf(d);
    free(d);
}

static void test_bad_files(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    char p[4300];
    tu_writef(d, "empty.txt", "");
    tu_writef(d, "blank.txt", "\n\n   \n");
    snprintf(p, sizeof p, "%s/binary.txt", d);
    tu_write(p, "abc\0def", 7);
    tu_writef(d, "latin1.txt", "Caf\xe9 title\nna\xefve \xff\xfe text\n");
    tu_writef(d, "image.png", "\x89PNG");
    tu_writef(d, ".hidden.txt", "Hidden\n");
    snprintf(p, sizeof p, "%s/dangling.txt", d);
    assert_int_equal(symlink("/nonexistent/nowhere.txt", p), 0);
    snprintf(p, sizeof p, "%s/fifo.txt", d);
    assert_int_equal(mkfifo(p, 0644), 0);
    got g;
    as_build_report rep;
    assert_int_equal(read_all(d, &g, &rep), AS_OK);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.id[0], "latin1.txt");
    assert_string_equal(g.title[0], "Caf\xef\xbf\xbd title");
    assert_non_null(strstr(g.body[0], "na\xef\xbf\xbdve \xef\xbf\xbd\xef\xbf\xbd text"));
    assert_int_equal(rep.replaced_utf8, 1);
    assert_int_equal(rep.skipped[AS_SKIP_EMPTY], 2);
    assert_int_equal(rep.skipped[AS_SKIP_BINARY], 1);
    assert_int_equal(rep.skipped[AS_SKIP_UNSUPPORTED], 1);
    assert_int_equal(rep.skipped[AS_SKIP_HIDDEN], 1);
    assert_int_equal(rep.skipped[AS_SKIP_UNREADABLE], 1);
    assert_int_equal(rep.skipped[AS_SKIP_SPECIAL], 1);
    assert_non_null(strstr(g.warnings, "binary.txt: contains NUL bytes"));
    assert_non_null(strstr(g.warnings, "latin1.txt: 4 invalid UTF-8"));
    assert_non_null(strstr(g.warnings, "dangling.txt"));
    assert_non_null(strstr(g.warnings, "empty.txt: empty"));
    free_got(&g);
    tu_rmrf(d);
    free(d);
}

static void test_unreadable_when_not_root(void **state)
{
    (void)state;
    if (geteuid() == 0)
        skip();                 /* root reads mode-000 files */
    char *d = tu_tmpdir();
    tu_writef(d, "secret.txt", "Title\nbody\n");
    char p[4300];
    snprintf(p, sizeof p, "%s/secret.txt", d);
    chmod(p, 0);
    got g;
    as_build_report rep;
    assert_int_equal(read_all(d, &g, &rep), AS_OK);
    assert_int_equal(g.n, 0);
    assert_int_equal(rep.skipped[AS_SKIP_UNREADABLE], 1);
    tu_rmrf(d);
    free(d);
}

static void test_order_ids_and_loops(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    char p[4300];
    /* Sibling folders with names of different lengths (a long one first):
     * the relative id must not keep bytes of the previous name. */
    const char *dirs[] = {"cancergov", "gard", "z", "gard/deeper"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", d, dirs[i]);
        assert_int_equal(mkdir(p, 0755), 0);
    }
    tu_writef(d, "cancergov/2.txt", "B\nb\n");
    tu_writef(d, "cancergov/10.txt", "A\na\n");
    tu_writef(d, "gard/1.txt", "C\nc\n");
    tu_writef(d, "gard/deeper/x.txt", "D\nd\n");
    tu_writef(d, "z/y.txt", "E\ne\n");
    tu_writef(d, "top.txt", "F\nf\n");
    snprintf(p, sizeof p, "%s/gard/deeper/loop", d);
    assert_int_equal(symlink("../..", p), 0);
    got g;
    as_build_report rep;
    assert_int_equal(read_all(d, &g, &rep), AS_OK);
    const char *want[] = {"cancergov/10.txt", "cancergov/2.txt",
                          "gard/1.txt", "gard/deeper/x.txt", "top.txt",
                          "z/y.txt"};
    assert_int_equal(g.n, 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(g.id[i], want[i]);
    assert_int_equal(rep.skipped[AS_SKIP_LOOP], 1);
    assert_non_null(strstr(g.warnings, "symlink loop"));
    free_got(&g);

    /* One file: its id is its name. */
    snprintf(p, sizeof p, "%s/gard/1.txt", d);
    assert_int_equal(read_all(p, &g, &rep), AS_OK);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.id[0], "1.txt");
    free_got(&g);
    tu_rmrf(d);
    free(d);
}

static void test_missing_path(void **state)
{
    (void)state;
    got g;
    as_build_report rep;
    assert_int_equal(read_all("/nonexistent/corpus", &g, &rep),
                     AS_ERR_USAGE);
    assert_non_null(strstr(as_errmsg(), "/nonexistent/corpus"));
}

static void test_huge_single_line(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    size_t n = 50u << 20;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (i % 7 == 6) ? ' ' : (char)('a' + i % 26);
    big[n] = '\0';
    char p[4300];
    snprintf(p, sizeof p, "%s/big.txt", d);
    tu_write(p, big, n);
    free(big);
    got g;
    as_build_report rep;
    assert_int_equal(read_all(d, &g, &rep), AS_OK);
    assert_int_equal(g.n, 1);
    assert_true(strlen(g.title[0]) <= CORPUS_MAX_TITLE);
    assert_true(strlen(g.title[0]) > 400);
    assert_int_equal(g.body_len[0], n);   /* the whole line stays */
    free_got(&g);
    tu_rmrf(d);
    free(d);
}

static void test_fix_utf8(void **state)
{
    (void)state;
    buf out;
    buf_init(&out);
    assert_int_equal(corpus_fix_utf8("plain é ok", 11, &out), 0);
    assert_int_equal(out.len, 0);
    /* Overlong, surrogate, truncated sequences. */
    const char *bad = "a\xc0\xaf b\xed\xa0\x80 c\xe2\x82";
    assert_int_equal(corpus_fix_utf8(bad, strlen(bad), &out), 3);
    assert_string_equal((char *)out.p,
                        "a\xef\xbf\xbd b\xef\xbf\xbd c\xef\xbf\xbd");
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_markdown),
        cmocka_unit_test(test_html),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_json_fast_path),
        cmocka_unit_test(test_json_fast_long_strings),
        cmocka_unit_test(test_jsonl_gz_and_truncated),
        cmocka_unit_test(test_big_jsonl_gz_read_ahead),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_unreadable_when_not_root),
        cmocka_unit_test(test_order_ids_and_loops),
        cmocka_unit_test(test_missing_path),
        cmocka_unit_test(test_huge_single_line),
        cmocka_unit_test(test_fix_utf8),
    };
    return cmocka_run_group_tests_name("corpus", tests, NULL, NULL);
}
