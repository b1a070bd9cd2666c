/* test_index.c - building and reading the index: a round trip against a
 * naive inversion, edge-sized posting lists, several runs under a tiny
 * memory budget, lexicon lookups, atomic publish and damaged indexes. */
#include "testutil.h"

#include <math.h>
#include <zlib.h>

#include "analyze.h"
#include "artsearch.h"
#include "index.h"
#include "segment.h"

static char corpus_path[4300];

/* ---- A generated corpus ------------------------------------------------- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng_state >> 33) % n);
}

#define NDOCS 3000

/* Words are "wN" with a skewed distribution, plus terms sized to hit the
 * block edges: every doc (many blocks), exactly 128 and 129 docs, the first
 * and last doc only (the largest gap), and one doc with a huge tf. */
static void make_corpus(const char *path)
{
    gzFile z = gzopen(path, "wb1");
    assert_non_null(z);
    rng_state = 42;
    char *text = malloc(1 << 20);
    assert_non_null(text);
    for (int d = 0; d < NDOCS; d++) {
        size_t n = 0;
        int words = 20 + (int)rnd(150);
        n += (size_t)sprintf(text + n, "common");
        if (d < 128)
            n += (size_t)sprintf(text + n, " exactly128");
        if (d % 20 == 0 && d / 20 < 129)
            n += (size_t)sprintf(text + n, " exactly129");
        if (d == 0 || d == NDOCS - 1)
            n += (size_t)sprintf(text + n, " edges");
        if (d == 1234)
            for (int k = 0; k < 70000; k++)
                n += (size_t)sprintf(text + n, " tfmax");
        for (int w = 0; w < words; w++) {
            uint32_t r = rnd(1000);
            uint32_t id = r < 500 ? rnd(20) : r < 900 ? rnd(400) : rnd(20000);
            n += (size_t)sprintf(text + n, " w%u", id);
        }
        gzprintf(z, "{\"id\":\"doc%04d\",\"title\":\"Title %d\",\"text\":\"",
                 d, d);
        gzwrite(z, text, (unsigned)n);
        gzputs(z, "\"}\n");
    }
    free(text);
    assert_int_equal(gzclose(z), Z_OK);
}

static int setup(void **state)
{
    (void)state;
    tu_group_setup(state);
    snprintf(corpus_path, sizeof corpus_path, "%s/gen.jsonl.gz", tu_group_dir);
    make_corpus(corpus_path);
    return 0;
}


static void build(const char *dir, size_t memory, as_build_report *rep)
{
    as_build_opts o = {0};
    o.memory = memory;
    int rc = as_build(corpus_path, dir, &o, rep);
    if (rc)
        fail_msg("build: %s", as_errmsg());
}

/* ---- The naive inversion ------------------------------------------------ */

typedef struct {
    char term[64];
    uint32_t doc, pos;
} occ;

typedef struct {
    occ *v;
    size_t n, cap;
    uint32_t doc;
    int title;              /* also record a title-field occurrence */
} naive;

static int naive_token(void *ctx, const an_token *t)
{
    naive *nv = ctx;
    if (nv->title) {
        nv->title = 0;
        char term[300];
        term[0] = SEG_TITLE_MARK;
        memcpy(term + 1, t->term, t->len);
        an_token tt = *t;
        tt.term = term;
        tt.len = t->len + 1;
        naive_token(nv, &tt);
        nv->title = 1;
    }
    if (nv->n == nv->cap) {
        nv->cap = nv->cap ? nv->cap * 2 : 1 << 16;
        nv->v = realloc(nv->v, nv->cap * sizeof *nv->v);
        assert_non_null(nv->v);
    }
    assert_true(t->len < 64);
    occ *o = &nv->v[nv->n++];
    memcpy(o->term, t->term, t->len);
    o->term[t->len] = '\0';
    o->doc = nv->doc;
    o->pos = t->pos;
    return 0;
}

static int occ_cmp(const void *a, const void *b)
{
    const occ *x = a, *y = b;
    int c = strcmp(x->term, y->term);
    if (c)
        return c;
    if (x->doc != y->doc)
        return x->doc < y->doc ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Analyze the generated corpus the way a build does: title then text. */
static void naive_invert(naive *nv)
{
    memset(nv, 0, sizeof *nv);
    analyzer *a;
    assert_int_equal(analyzer_new("english", 0, &a), AS_OK);
    gzFile z = gzopen(corpus_path, "rb");
    assert_non_null(z);
    size_t cap = 1 << 21;
    char *line = malloc(cap);
    while (gzgets(z, line, (int)cap)) {
        /* {"id":"docNNNN","title":"Title N","text":"..."} */
        char *title = strstr(line, "\"title\":\"") + 9;
        char *tend = strchr(title, '"');
        char *text = strstr(tend, "\"text\":\"") + 8;
        char *xend = strrchr(text, '"');
        uint32_t pos = 0;
        nv->title = 1;
        analyzer_run(a, title, (size_t)(tend - title), &pos, naive_token, nv);
        nv->title = 0;
        analyzer_run(a, text, (size_t)(xend - text), &pos, naive_token, nv);
        nv->doc++;
    }
    free(line);
    gzclose(z);
    analyzer_free(a);
    qsort(nv->v, nv->n, sizeof *nv->v, occ_cmp);
}

/* Walk every term of the index and compare it with the naive inversion. */
typedef struct {
    const naive *nv;
    size_t at;              /* next occurrence of the naive list */
    uint64_t terms;
    const segment *s;
    double avgdl, avgtl;
    uint64_t kth_checked;   /* terms with a stored k-th best tfnorm */
} walk_ctx;

static int by_value_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int compare_term(void *ctx, const char *term, size_t len,
                        const seg_term *t)
{
    walk_ctx *w = ctx;
    const naive *nv = w->nv;
    char name[300];
    memcpy(name, term, len);
    name[len] = '\0';
    if (w->at >= nv->n || strcmp(nv->v[w->at].term, name) != 0)
        fail_msg("index term '%s', naive term '%s'", name,
                 w->at < nv->n ? nv->v[w->at].term : "(end)");
    seg_cursor c;
    assert_int_equal(seg_cursor_init(&c, w->s, t), AS_OK);
    uint32_t df = 0;
    uint64_t cf = 0;
    static uint32_t pos[80000];
    static double norm[NDOCS];
    for (uint32_t d = c.doc; d != SEG_DOC_END; d = seg_cursor_next(&c)) {
        uint32_t tf = seg_cursor_tf(&c);
        /* tfnorm with k1 1.2, b 0.75, the title's for a title term */
        double dl = t->title ? seg_titlelen(w->s, d) : seg_doclen(w->s, d);
        double avg = t->title ? w->avgtl : w->avgdl;
        norm[df] = tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avg));
        assert_int_equal(seg_positions(&c, pos, 80000), AS_OK);
        for (uint32_t k = 0; k < tf; k++, w->at++) {
            const occ *o = &nv->v[w->at];
            if (strcmp(o->term, name) != 0 || o->doc != d || o->pos != pos[k])
                fail_msg("term %s: index (doc %u, pos %u), naive (%s, %u, "
                         "%u)", name, d, pos[k], o->term, o->doc, o->pos);
        }
        df++;
        cf += tf;
    }
    assert_false(c.bad);
    assert_int_equal(df, t->df);
    assert_int_equal(cf, t->cf);
    /* The stored 10th best tfnorm: that value rounded down to a float. */
    if (df >= SEG_KTH) {
        qsort(norm, df, sizeof *norm, by_value_desc);
        float want = (float)norm[SEG_KTH - 1];
        if ((double)want > norm[SEG_KTH - 1])
            want = nextafterf(want, 0);
        if (t->kth != want)
            fail_msg("term %s: stored 10th best %.9g, computed %.9g", name,
                     (double)t->kth, (double)want);
        w->kth_checked++;
    } else {
        assert_true(t->kth == -1);
    }
    w->terms++;
    return 0;
}

static void compare_with_naive(const char *dir, const naive *nv)
{
    as_index *ix;
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    walk_ctx w = {nv, 0, 0, &ix->seg, (double)ix->tokens / (double)ix->docs,
                  (double)ix->seg.title_total / (double)ix->docs, 0};
    assert_int_equal(seg_terms_from(&ix->seg, "", 0, compare_term, &w), 0);
    assert_int_equal(w.at, nv->n);      /* every occurrence was found */
    assert_true(w.kth_checked > 100);
    assert_int_equal(w.terms, ix->terms);
    assert_int_equal(as_index_check(ix), AS_OK);
    as_index_close(ix);
}

static void test_round_trip(void **state)
{
    (void)state;
    naive nv;
    naive_invert(&nv);
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/one", tu_group_dir);
    as_build_report rep;
    build(dir, 0, &rep);
    assert_int_equal(rep.docs, NDOCS);
    assert_int_equal(rep.runs, 1);
    compare_with_naive(dir, &nv);

    /* A tiny memory budget forces several runs; the result is the same. */
    snprintf(dir, sizeof dir, "%s/many", tu_group_dir);
    build(dir, 256 * 1024, &rep);
    assert_true(rep.runs > 3);
    compare_with_naive(dir, &nv);
    /* A budget smaller than document 1234 (70,000 tokens) alone: it is
     * spilled in parts and its postings joined again in the merge. */
    char tiny[4300];
    snprintf(tiny, sizeof tiny, "%s/tiny-budget", tu_group_dir);
    build(tiny, 32 * 1024, &rep);
    assert_true(rep.runs > 20);
    compare_with_naive(tiny, &nv);
    free(nv.v);

    /* Edge-sized lists have the document frequencies they should. */
    as_index *ix;
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    static const struct {
        const char *term;
        uint32_t df;
    } sizes[] = {{"common", NDOCS}, {"exactly128", 128}, {"exactly129", 129},
                 {"edg", 2}, {"tfmax", 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        seg_term t;
        assert_int_equal(seg_lookup(&ix->seg, sizes[i].term,
                                    strlen(sizes[i].term), &t), AS_OK);
        assert_int_equal(t.df, sizes[i].df);
    }
    seg_term t;
    assert_int_equal(seg_lookup(&ix->seg, "tfmax", 5, &t), AS_OK);
    assert_int_equal(t.cf, 70000);
    seg_cursor c;
    assert_int_equal(seg_cursor_init(&c, &ix->seg, &t), AS_OK);
    assert_int_equal(c.doc, 1234);
    assert_int_equal(seg_cursor_tf(&c), 70000);
    /* Seeking across blocks of the longest list. */
    assert_int_equal(seg_lookup(&ix->seg, "common", 6, &t), AS_OK);
    assert_int_equal(seg_cursor_init(&c, &ix->seg, &t), AS_OK);
    assert_int_equal(seg_cursor_seek(&c, 1000), 1000);
    assert_int_equal(seg_cursor_seek(&c, 2999), 2999);
    assert_int_equal(seg_cursor_next(&c), SEG_DOC_END);
    as_index_close(ix);
}

typedef struct {
    const segment *s;
    uint64_t n;
} lookup_all;

static int lookup_each(void *ctx, const char *term, size_t len,
                       const seg_term *t)
{
    lookup_all *l = ctx;
    seg_term u;
    assert_int_equal(seg_lookup(l->s, term, len, &u), AS_OK);
    assert_int_equal(u.post_off, t->post_off);
    assert_int_equal(u.df, t->df);
    /* Absent neighbours: the term with a byte added or changed. */
    char probe[300];
    memcpy(probe, term, len);
    probe[len] = '\x01';
    int rc = seg_lookup(l->s, probe, len + 1, &u);
    if (rc != AS_ERR_NOTFOUND)
        fail_msg("lookup of '%.*s' + \\x01 returned %d (df %u)", (int)len,
                 term, rc, u.df);
    l->n++;
    return 0;
}

static void test_lexicon_lookups(void **state)
{
    (void)state;
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/one", tu_group_dir);
    as_index *ix;
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    lookup_all l = {&ix->seg, 0};
    assert_int_equal(seg_terms_from(&ix->seg, "", 0, lookup_each, &l), 0);
    assert_int_equal(l.n, ix->terms);
    seg_term t;
    assert_int_equal(seg_lookup(&ix->seg, "", 0, &t), AS_ERR_NOTFOUND);
    assert_int_equal(seg_lookup(&ix->seg, "\xff\xff", 2, &t),
                     AS_ERR_NOTFOUND);
    assert_int_equal(seg_lookup(&ix->seg, "0", 1, &t), AS_OK); /* "Title 0" */
    assert_int_equal(seg_lookup(&ix->seg, "zzzz", 4, &t), AS_ERR_NOTFOUND);
    assert_int_equal(seg_lookup(&ix->seg, "w", 1, &t), AS_ERR_NOTFOUND);
    as_index_close(ix);
}

/* Many terms sharing their first 8 bytes and more, so that runs of
 * lexicon blocks have equal entries in the prefix index, beside terms
 * shorter than 8 bytes that begin the long ones: every term is found, and
 * no absent neighbour. */
static void test_lexicon_shared_prefixes(void **state)
{
    (void)state;
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/prefixes", tu_group_dir);
    as_builder *b;
    assert_int_equal(as_builder_new(dir, NULL, &b), AS_OK);
    char text[64];
    for (int i = 0; i < 600; i++) {
        snprintf(text, sizeof text, "%s%04d %.*s",
                 i % 3 ? "xylophonist" : "xylophone", i, 1 + i % 9,
                 "xylophoni");
        char id[16];
        snprintf(id, sizeof id, "d%d", i);
        assert_int_equal(as_builder_add(b, id, NULL, text), AS_OK);
    }
    assert_int_equal(as_builder_finish(b, NULL), AS_OK);
    as_builder_free(b);
    as_index *ix;
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    assert_true(ix->terms > 600);
    lookup_all l = {&ix->seg, 0};
    assert_int_equal(seg_terms_from(&ix->seg, "", 0, lookup_each, &l), 0);
    assert_int_equal(l.n, ix->terms);
    seg_term t;
    assert_int_equal(seg_lookup(&ix->seg, "xylophonist0301", 15, &t), AS_OK);
    assert_int_equal(t.df, 1);
    assert_int_equal(seg_lookup(&ix->seg, "xylophonist0300", 15, &t),
                     AS_ERR_NOTFOUND);       /* 300 is a multiple of 3 */
    assert_int_equal(seg_lookup(&ix->seg, "xylophon", 8, &t), AS_OK);
    assert_int_equal(seg_lookup(&ix->seg, "xylophonia", 10, &t),
                     AS_ERR_NOTFOUND);
    assert_int_equal(as_index_check(ix), AS_OK);
    as_index_close(ix);
}

static void test_stored_documents(void **state)
{
    (void)state;
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/one", tu_group_dir);
    as_index *ix;
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    buf t;
    void *dz = NULL;
    buf_init(&t);
    for (uint32_t d = 0; d < NDOCS; d += 97) {
        seg_doc doc;
        assert_int_equal(seg_doc_get(&ix->seg, d, &t, &doc, &dz), AS_OK);
        char want[32];
        snprintf(want, sizeof want, "doc%04u", d);
        assert_int_equal(doc.id_len, strlen(want));
        assert_memory_equal(doc.id, want, doc.id_len);
        snprintf(want, sizeof want, "Title %u", d);
        assert_memory_equal(doc.title, want, doc.title_len);
        assert_memory_equal(doc.text, "common", 6);
    }
    seg_doc doc;
    assert_int_equal(seg_doc_get(&ix->seg, NDOCS, &t, &doc, &dz),
                     AS_ERR_CORRUPT);
    assert_int_equal(seg_doc_get(&ix->seg, 5, NULL, &doc, &dz), AS_OK);
    assert_string_equal(doc.text, "");
    seg_doc_done(&dz);
    buf_free(&t);
    as_stats st;
    as_index_stats(ix, &st);
    assert_int_equal(st.docs, NDOCS);
    assert_true(st.bytes_postings > 0 && st.bytes_docstore > 0);
    as_index_close(ix);
}

/* Ids and titles of every length class: a record is found past fields
 * with one-byte lengths (skipped in a tight loop) and past longer ones
 * (skipped the general way), at every place in its block. */
static void record_field(char *out, size_t cap, const char *prefix,
                         uint32_t d, size_t len)
{
    int n = snprintf(out, cap, "%s%u", prefix, d);
    size_t at = (size_t)n;
    for (; at < len && at + 1 < cap; at++)
        out[at] = (char)('a' + (d + at) % 26);
    out[at] = 0;
}

static void test_record_lengths(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 5, 126, 127, 128, 129, 300, 512, 9};
    static const size_t idlens[] = {3, 20, 127, 128, 200, 1200};
    enum { N = 2000 };
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/records", tu_group_dir);
    as_builder *b;
    assert_int_equal(as_builder_new(dir, NULL, &b), AS_OK);
    char id[2048], title[2048];
    for (uint32_t d = 0; d < N; d++) {
        record_field(id, sizeof id, "id", d, idlens[(d / 7) % 6]);
        record_field(title, sizeof title, "t", d, lens[d % 9]);
        assert_int_equal(as_builder_add(b, id, title, "word"), AS_OK);
    }
    assert_int_equal(as_builder_finish(b, NULL), AS_OK);
    as_builder_free(b);
    as_index *ix;
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    void *dz = NULL;
    for (uint32_t d = 0; d < N; d++) {
        seg_doc doc;
        assert_int_equal(seg_doc_get(&ix->seg, d, NULL, &doc, &dz), AS_OK);
        record_field(id, sizeof id, "id", d, idlens[(d / 7) % 6]);
        record_field(title, sizeof title, "t", d, lens[d % 9]);
        assert_int_equal(doc.id_len, strlen(id));
        assert_memory_equal(doc.id, id, doc.id_len);
        assert_int_equal(doc.title_len, strlen(title));
        assert_memory_equal(doc.title, title, doc.title_len);
    }
    seg_doc_done(&dz);
    as_index_close(ix);
}

/* ---- Publishing --------------------------------------------------------- */

static void test_failed_build_keeps_old_index(void **state)
{
    (void)state;
    char dir[4300], empty[4300], p[4400];
    snprintf(dir, sizeof dir, "%s/keep", tu_group_dir);
    snprintf(empty, sizeof empty, "%s/emptycorpus", tu_group_dir);
    assert_int_equal(mkdir(empty, 0755), 0);
    as_build_report rep;
    build(dir, 0, &rep);
    as_index *ix;
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    char gen[64];
    snprintf(gen, sizeof gen, "%s", ix->gen);
    as_index_close(ix);
    /* Leftovers of a killed build. */
    snprintf(p, sizeof p, "%s/tmp-123-killed", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/tmp-123-killed/postings.pst", dir);
    tu_write(p, "x", 1);
    snprintf(p, sizeof p, "%s/gen-orphan", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    /* A build with nothing to index fails and changes nothing. */
    as_build_opts o = {0};
    assert_int_equal(as_build(empty, dir, &o, &rep), AS_ERR_NOTFOUND);
    assert_non_null(strstr(as_errmsg(), "no documents"));
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    assert_string_equal(ix->gen, gen);
    assert_int_equal(ix->docs, NDOCS);
    as_index_close(ix);
    /* The failed build already cleaned the leftovers. */
    snprintf(p, sizeof p, "%s/tmp-123-killed", dir);
    assert_false(tu_exists(p));
    snprintf(p, sizeof p, "%s/gen-orphan", dir);
    assert_false(tu_exists(p));
    /* A readers' mapping outlives the next publish. */
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    build(dir, 0, &rep);
    as_results *r;
    assert_int_equal(as_search(ix, "exactly128", NULL, &r), AS_OK);
    assert_int_equal(as_results_total(r, NULL), 128);
    as_results_free(r);
    as_index_close(ix);
    snprintf(p, sizeof p, "%s/%s", dir, gen);
    assert_false(tu_exists(p));         /* the old generation is gone */
}

/* ---- Damage ------------------------------------------------------------- */

static void copy_dir(const char *from, const char *to)
{
    char *out;
    assert_int_equal(tu_run(&out, 1, "rm -rf '%s' && cp -r '%s' '%s'", to,
                            from, to), 0);
    free(out);
}

static int gen_file(const char *ixdir, const char *name, char *out,
                    size_t n)
{
    as_index *ix;
    if (as_index_open(ixdir, &ix))
        return -1;
    snprintf(out, n, "%s/%s/%s", ixdir, ix->gen, name);
    as_index_close(ix);
    return 0;
}

/* The end of a build, each way it can go: the second half of the merge
 * appended to the files by the kernel or read back and written again;
 * the stored blocks still queued compressed by the worker alone or, all
 * of them queued, all but the oldest by the caller (worker_drain, through
 * seg_writer_help).  And the queue of
 * stored blocks when its ring is small (wrapping many times, blocks
 * skipping its end, bigger ones handed over as they are, the caller
 * waiting for room), with the worker free or held back until the ring is
 * full.  The same bytes each way, CRCs that check. */
static void test_build_tail_paths(void **state)
{
    (void)state;
    enum { WAYS = 5 };
    char dirs[WAYS][4300];
    static const char *const names[WAYS] = {
        "kernel-copy", "portable-copy", "worker-held", "small-ring",
        "small-ring-held"};
    as_build_report rep;
    size_t ring = seg_ring_bytes;
    for (int k = 0; k < WAYS; k++) {
        snprintf(dirs[k], sizeof dirs[k], "%s/%s", tu_group_dir, names[k]);
        seg_kernel_copy = k != 1;
        seg_hold_worker = k == 2 || k == 4;
        if (k >= 3) {
            seg_ring_bytes = 256 << 10;     /* blocks up to 8 KiB in it */
            seg_store_sync_bytes = 1;       /* at every flush of the store */
        }
        uint64_t syncs = seg_store_syncs;
        build(dirs[k], 0, &rep);
        /* The store's file is fdatasync'd as it is written (its flushes:
         * the last one, at least). */
        if (k >= 3)
            assert_true(seg_store_syncs > syncs);
        else
            assert_true(seg_store_syncs == syncs);
        seg_kernel_copy = 1;
        seg_hold_worker = 0;
        seg_ring_bytes = ring;
        seg_store_sync_bytes = (uint64_t)32 << 20;
    }
    for (int k = 1; k < WAYS; k++)
        for (int i = 0; i < SEG_NFILES; i++) {
            char a[4400], b[4400];
            assert_int_equal(gen_file(dirs[0], seg_file_names[i], a,
                                      sizeof a), 0);
            assert_int_equal(gen_file(dirs[k], seg_file_names[i], b,
                                      sizeof b), 0);
            char *out;
            if (tu_run(&out, 1, "cmp '%s' '%s'", a, b) != 0)
                fail_msg("%s: %s differs: %s", names[k], seg_file_names[i],
                         out);
            free(out);
        }
    for (int k = 0; k < WAYS; k++) {
        as_index *ix;
        assert_int_equal(as_index_open(dirs[k], &ix), AS_OK);
        if (as_index_check(ix) != AS_OK)
            fail_msg("check %s: %s", names[k], as_errmsg());
        as_index_close(ix);
    }
}

/* The text of the next generated document (random words; rng_state
 * drives it), in body[0..*len); its length in words. */
static uint32_t helper_body(char *body, size_t cap, size_t *len)
{
    size_t n = 0;
    uint32_t words = 20 + rnd(200);
    for (uint32_t k = 0; k < words && n < cap - 16; k++)
        n += (size_t)sprintf(body + n, " w%u", rnd(k % 3 ? 300 : 9000));
    *len = n;
    return words;
}

/* Write n generated documents to w from doc first on; the helper
 * (seg_writer_help) is called until it has nothing left every `every`
 * documents, when every is not 0: the blocks it compressed, added to
 * *helped. */
static void store_docs(seg_writer *w, uint32_t first, uint32_t n,
                       uint32_t every, unsigned *helped)
{
    char body[2048], id[32];
    for (uint32_t d = first; d < first + n; d++) {
        size_t len;
        uint32_t words = helper_body(body, sizeof body, &len);
        int idlen = snprintf(id, sizeof id, "d%u", d);
        assert_int_equal(seg_writer_doc(w, d, id, (size_t)idlen, "t", 1, body,
                                        len, words, 1),
                         AS_OK);
        if (every && d % every == every - 1)
            while (seg_writer_help(w))
                ++*helped;
    }
}

/* Stored blocks compressed by a thread that would otherwise wait
 * (seg_writer_help), with the worker held back so that they queue up:
 * each sweep takes every queued block but the head, from the newest
 * down, and stops at the blocks an earlier sweep took; at the end
 * (worker_drain) it takes those still queued, and the worker writes them
 * all in their turn.  Every document reads back as it was written (the
 * drain helps every build, so no build here is without the helper). */
static void test_store_helper(void **state)
{
    (void)state;
    enum { DOCS = 3040, NOISE = 8, NOISE_LEN = 4000 };
    char dir[4300];
    unsigned helped = 0, later = 0;
    seg_hold_worker = 1;
    snprintf(dir, sizeof dir, "%s/helper", tu_group_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    seg_writer *w;
    assert_int_equal(seg_writer_new(dir, &w), AS_OK);
    rng_state = 7;
    store_docs(w, 0, 3000, 500, &helped);
    /* All taken: nothing for another sweep until a block comes. */
    assert_int_equal(seg_writer_help(w), 0);
    store_docs(w, 3000, DOCS - 3000, 0, &later);
    /* Random bytes, a block each that zstd cannot shrink: the helper
     * leaves them to the worker, once (it had compressed them again at
     * every new sweep, each time the inverting thread waited). */
    static unsigned char noise[NOISE][NOISE_LEN];
    for (int i = 0; i < NOISE; i++) {
        for (int k = 0; k < NOISE_LEN; k++)
            noise[i][k] = (unsigned char)rnd(256);
        assert_int_equal(seg_writer_doc(w, DOCS + (uint32_t)i, "n", 1, "t",
                                        1, (const char *)noise[i],
                                        NOISE_LEN, 1, 1),
                         AS_OK);
    }
    while (seg_writer_help(w))
        if (++later > 1000)
            fail_msg("the helper goes on taking blocks");
    assert_true(later > NOISE);
    assert_int_equal(seg_writer_help(w), 0);
    seg_writer_set_avgdl(w, 100);
    seg_file_info info[SEG_NFILES];
    uint64_t terms, postings;
    assert_int_equal(seg_writer_finish(w, info, &terms, &postings), AS_OK);
    /* The worker has stopped: nothing to help with. */
    assert_int_equal(seg_writer_help(w), 0);
    seg_writer_free(w);
    seg_hold_worker = 0;
    /* 3040 documents of about 800 bytes: some 600 blocks of 4 KiB. */
    assert_true(helped > 300);
    assert_int_equal(seg_writer_help(NULL), 0);

    segment sg;
    assert_int_equal(seg_open(&sg, dir, info), AS_OK);
    buf t;
    buf_init(&t);
    void *dz = NULL;
    rng_state = 7;
    for (uint32_t d = 0; d < DOCS; d++) {
        char body[2048];
        size_t len;
        helper_body(body, sizeof body, &len);
        seg_doc doc;
        assert_int_equal(seg_doc_get(&sg, d, &t, &doc, &dz), AS_OK);
        if (doc.text_len != len || memcmp(doc.text, body, len) != 0)
            fail_msg("document %u does not read back as written", d);
    }
    for (uint32_t i = 0; i < NOISE; i++) {
        seg_doc doc;
        assert_int_equal(seg_doc_get(&sg, DOCS + i, &t, &doc, &dz), AS_OK);
        assert_int_equal(doc.text_len, NOISE_LEN);
        assert_memory_equal(doc.text, noise[i], NOISE_LEN);
    }
    seg_doc_done(&dz);
    buf_free(&t);
    seg_close(&sg);
}

/* Open, check and query a damaged index in-process: any result is fine
 * except a crash (the sanitizer build turns a bad read into one). */
static int exercise(const char *dir, int *check_rc)
{
    as_index *ix;
    int rc = as_index_open(dir, &ix);
    *check_rc = rc;
    if (rc)
        return rc;
    static const char *const qs[] = {"common w1 w2", "exactly129 edges",
                                     "tfmax w7", "w19999 w3 w5 w11"};
    for (size_t i = 0; i < 4; i++) {
        as_results *r = NULL;
        as_query_opts o;
        as_query_opts_init(&o);
        o.k = 20;
        if (as_search(ix, qs[i], &o, &r) == AS_OK)
            as_results_free(r);
    }
    *check_rc = as_index_check(ix);
    as_index_close(ix);
    return AS_OK;
}

static void test_flipped_bytes(void **state)
{
    (void)state;
    char good[4300], bad[4300];
    snprintf(good, sizeof good, "%s/one", tu_group_dir);
    snprintf(bad, sizeof bad, "%s/flipped", tu_group_dir);
    for (int f = 0; f < SEG_NFILES; f++) {
        for (int k = 0; k < 24; k++) {
            copy_dir(good, bad);
            char path[4400];
            assert_int_equal(gen_file(bad, seg_file_names[f], path,
                                      sizeof path), 0);
            FILE *fp = fopen(path, "r+b");
            assert_non_null(fp);
            fseek(fp, 0, SEEK_END);
            long size = ftell(fp);
            /* Headers, then spread over the file. */
            long at = k < 8 ? k * 4 : (long)((size - 1) * (k - 8) / 15);
            fseek(fp, at, SEEK_SET);
            int c = fgetc(fp);
            fseek(fp, at, SEEK_SET);
            fputc(c ^ (k % 2 ? 0x01 : 0xff), fp);
            fclose(fp);
            int check_rc;
            int rc = exercise(bad, &check_rc);
            if (rc == AS_OK && check_rc != AS_ERR_CORRUPT)
                fail_msg("%s byte %ld flipped: check said %d",
                         seg_file_names[f], at, check_rc);
            if (rc != AS_OK)
                assert_int_equal(rc, AS_ERR_CORRUPT);
            assert_non_null(strstr(as_errmsg(), seg_file_names[f]));
        }
    }
    /* The manifest: flipped anywhere, the index does not open. */
    for (int k = 0; k < 40; k++) {
        copy_dir(good, bad);
        char path[4400];
        snprintf(path, sizeof path, "%s/MANIFEST", bad);
        FILE *fp = fopen(path, "r+b");
        fseek(fp, 0, SEEK_END);
        long size = ftell(fp);
        long at = (size - 1) * k / 39;
        fseek(fp, at, SEEK_SET);
        int c = fgetc(fp);
        fseek(fp, at, SEEK_SET);
        fputc(c ^ 0x10, fp);
        fclose(fp);
        as_index *ix;
        assert_int_equal(as_index_open(bad, &ix), AS_ERR_CORRUPT);
        assert_non_null(strstr(as_errmsg(), "MANIFEST"));
    }
}

/* An index of another format version is refused, with what to do. */
static void test_old_version_refused(void **state)
{
    (void)state;
    char good[4300], old[4300], path[4400];
    snprintf(good, sizeof good, "%s/one", tu_group_dir);
    snprintf(old, sizeof old, "%s/old-version", tu_group_dir);
    copy_dir(good, old);
    assert_int_equal(gen_file(old, "terms.lex", path, sizeof path), 0);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 4, SEEK_SET);
    fputc(SEG_VERSION - 1, fp);
    fclose(fp);
    as_index *ix;
    assert_int_equal(as_index_open(old, &ix), AS_ERR_CORRUPT);
    char want[64];
    snprintf(want, sizeof want, "format version %d, this artsearch reads %d",
             SEG_VERSION - 1, SEG_VERSION);
    assert_non_null(strstr(as_errmsg(), want));
    assert_non_null(strstr(as_errmsg(), "rebuild the index"));
}

static void test_truncated_and_deleted(void **state)
{
    (void)state;
    char good[4300], bad[4300];
    snprintf(good, sizeof good, "%s/one", tu_group_dir);
    snprintf(bad, sizeof bad, "%s/cut", tu_group_dir);
    const char *bin = tu_bin();
    for (int f = 0; f <= SEG_NFILES; f++) {
        const char *name = f < SEG_NFILES ? seg_file_names[f] : "MANIFEST";
        for (int cut = 0; cut < 5; cut++) {
            copy_dir(good, bad);
            char path[4400];
            if (f < SEG_NFILES)
                assert_int_equal(gen_file(bad, name, path, sizeof path), 0);
            else
                snprintf(path, sizeof path, "%s/MANIFEST", bad);
            struct stat st;
            assert_int_equal(stat(path, &st), 0);
            char *out;
            if (cut == 4) {
                assert_int_equal(unlink(path), 0);
            } else {
                off_t sizes[] = {0, 16, st.st_size / 2, st.st_size - 1};
                assert_int_equal(truncate(path, sizes[cut]), 0);
            }
            int status = tu_run(&out, 1, "%s query -i %s common w1", bin, bad);
            if (status != 3 || !strstr(out, name))
                fail_msg("%s cut %d: query exited %d: %s", name, cut, status,
                         out);
            free(out);
            status = tu_run(&out, 1, "%s check -i %s", bin, bad);
            assert_int_equal(status, 3);
            free(out);
        }
    }
}

/* The term with the longest postings. */
typedef struct {
    seg_term t;
    char name[300];
} longest;

static int find_longest(void *ctx, const char *term, size_t len,
                        const seg_term *t)
{
    longest *l = ctx;
    if (t->post_len > l->t.post_len && len < sizeof l->name) {
        l->t = *t;
        memcpy(l->name, term, len);
        l->name[len] = '\0';
    }
    return 0;
}

/* The first block of the longest term in a copy of the "one" index. */
typedef struct {
    char dir[4300];
    char term[300];
    uint64_t at;            /* its offset in postings.pst */
    uint64_t skip;          /* the offset of its skip entry */
    unsigned bg;            /* its gaps' width */
} block0;

static void first_block(const char *copy, block0 *b)
{
    char good[4300];
    snprintf(good, sizeof good, "%s/one", tu_group_dir);
    snprintf(b->dir, sizeof b->dir, "%s/%s", tu_group_dir, copy);
    copy_dir(good, b->dir);
    as_index *ix;
    assert_int_equal(as_index_open(b->dir, &ix), AS_OK);
    longest l;
    memset(&l, 0, sizeof l);
    assert_int_equal(seg_terms_from(&ix->seg, "", 0, find_longest, &l), 0);
    seg_term t = l.t;
    assert_false(t.title);
    assert_true(t.df >= 3 * CODEC_BLOCK);
    uint32_t nblocks = (t.df + CODEC_BLOCK - 1) / CODEC_BLOCK;
    /* Block 0 follows the skip table; its first data offset is 0. */
    const unsigned char *pst = ix->seg.f[SEG_PST].p;
    b->at = t.post_off + (uint64_t)nblocks * SEG_SKIP_ENTRY +
            rd_u32(pst + t.post_off + 4);
    b->skip = t.post_off;
    b->bg = pst[b->at];
    /* Room in the term for the block with both widths at 32 bits. */
    assert_true(2 + 2 * CODEC_PACKED_BYTES(32) <=
                t.post_off + t.post_len - b->at);
    snprintf(b->term, sizeof b->term, "%s", l.name);
    as_index_close(ix);
}

/* Write n bytes at offset off of b's postings.pst. */
static void write_pst(const block0 *b, uint64_t off, const void *p, size_t n)
{
    char path[4400];
    assert_int_equal(gen_file(b->dir, "postings.pst", path, sizeof path), 0);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, (long)off, SEEK_SET);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    fclose(fp);
}

/* Every document of b's term scored: the query reports a damaged index. */
static void expect_damaged(const block0 *b)
{
    as_index *ix;
    assert_int_equal(as_index_open(b->dir, &ix), AS_OK);
    as_query_opts o;
    as_query_opts_init(&o);
    o.snippets = 0;
    o.exact_count = 1;      /* every document scored: no block skipped */
    as_results *r = NULL;
    assert_int_equal(as_search(ix, b->term, &o, &r), AS_ERR_CORRUPT);
    assert_non_null(strstr(as_errmsg(), "postings.pst"));
    as_results_free(r);
    as_index_close(ix);
}

static const unsigned char ff[4] = {0xff, 0xff, 0xff, 0xff};

/* A full block whose tfs are packed in 32 bits, one of them 2^32 - 1:
 * stored as tf - 1, it wraps to 0 when the tfs are unpacked (on first
 * use), and the query must report a damaged index, not rank with it. */
static void test_wrapped_tf(void **state)
{
    (void)state;
    block0 b;
    first_block("wrapped", &b);
    write_pst(&b, b.at + 1, &(unsigned char){32}, 1);       /* tf bits */
    write_pst(&b, b.at + 2 + CODEC_PACKED_BYTES(b.bg), ff, 4); /* tf - 1 */
    expect_damaged(&b);
}

/* A full block whose gaps are all the widest of their width, and whose
 * skip entry agrees with the last document they sum to: with 24 bits
 * they run past the last document (2^31 - 1), found after the prefix sum;
 * with 32 bits every step wraps to the block's start (2^32 - 1, the end
 * marker), found before it. */
static void test_gaps_past_the_end(void **state)
{
    (void)state;
    for (unsigned bits = 24; bits <= 32; bits += 8) {
        char name[32];
        snprintf(name, sizeof name, "gaps%u", bits);
        block0 b;
        first_block(name, &b);
        unsigned char gaps[CODEC_PACKED_BYTES(32)];
        memset(gaps, 0xff, sizeof gaps);
        write_pst(&b, b.at, &(unsigned char){(unsigned char)bits}, 1);
        write_pst(&b, b.at + 2, gaps, CODEC_PACKED_BYTES(bits));
        unsigned char last[4];
        wr_u32(last, bits == 24 ? 0x7fffffffu : 0xffffffffu);
        write_pst(&b, b.skip, last, 4);
        expect_damaged(&b);
    }
}

/* Documents handed over one by one; an abandoned build changes nothing. */
static void test_builder_api(void **state)
{
    (void)state;
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/builder", tu_group_dir);
    as_builder *b;
    assert_int_equal(as_builder_new(dir, NULL, &b), AS_OK);
    /* A second builder on the same folder is refused while one runs. */
    as_builder *b2 = (as_builder *)1;
    assert_int_equal(as_builder_new(dir, NULL, &b2), AS_ERR_IO);
    assert_null(b2);
    assert_non_null(strstr(as_errmsg(), "another build"));
    assert_int_equal(as_builder_add(b, NULL, "t", "x"), AS_ERR_USAGE);
    assert_int_equal(as_builder_add(b, "", "t", "x"), AS_ERR_USAGE);
    /* NULL title and body are empty; invalid UTF-8 is repaired. */
    assert_int_equal(as_builder_add(b, "a", "Leg cramps", "cramp at night"),
                     AS_OK);
    assert_int_equal(as_builder_add(b, "b", NULL, "bad \xff byte cramp"),
                     AS_OK);
    assert_int_equal(as_builder_add(b, "c", "only a title", NULL), AS_OK);
    as_build_report rep;
    assert_int_equal(as_builder_finish(b, &rep), AS_OK);
    assert_int_equal(rep.docs, 3);
    assert_int_equal(as_builder_add(b, "d", "late", "too late"),
                     AS_ERR_USAGE);
    as_builder_free(b);
    as_index *ix;
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    as_results *r;
    assert_int_equal(as_search(ix, "cramp", NULL, &r), AS_OK);
    assert_int_equal(as_results_count(r), 2);
    assert_string_equal(as_results_hit(r, 0)->id, "a");
    assert_non_null(strstr(as_results_hit(r, 1)->snippet, "\xef\xbf\xbd"));
    as_results_free(r);
    as_index_close(ix);

    /* Abandoned, and finished empty: the index stays as it was. */
    assert_int_equal(as_builder_new(dir, NULL, &b), AS_OK);
    assert_int_equal(as_builder_add(b, "z", "other", "words"), AS_OK);
    as_builder_free(b);
    assert_int_equal(as_builder_new(dir, NULL, &b), AS_OK);
    assert_int_equal(as_builder_finish(b, NULL), AS_ERR_NOTFOUND);
    as_builder_free(b);
    assert_int_equal(as_index_open(dir, &ix), AS_OK);
    assert_int_equal(ix->docs, 3);
    as_index_close(ix);
    as_builder_free(NULL);

    /* Every error code has a name. */
    for (int c = AS_OK; c <= AS_ERR_INTERNAL; c++)
        assert_true(strlen(as_strerror(c)) > 0);
    assert_string_equal(as_version(), ARTSEARCH_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_build_tail_paths),
        cmocka_unit_test(test_lexicon_lookups),
        cmocka_unit_test(test_lexicon_shared_prefixes),
        cmocka_unit_test(test_stored_documents),
        cmocka_unit_test(test_record_lengths),
        cmocka_unit_test(test_failed_build_keeps_old_index),
        cmocka_unit_test(test_builder_api),
        cmocka_unit_test(test_store_helper),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_old_version_refused),
        cmocka_unit_test(test_truncated_and_deleted),
        cmocka_unit_test(test_wrapped_tf),
        cmocka_unit_test(test_gaps_past_the_end),
    };
    return cmocka_run_group_tests_name("index", tests, setup,
                                       tu_group_teardown);
}
