/* bench.c - artsearch's benchmark, with SQLite FTS5 as the peer measured in
 * the same run on the same documents and queries.
 *
 *   bench [--corpus PATH | --docs N] [--queries FILE]... [--fts-every K]
 *         [--build-runs N] [--out NAME] [--no-fts] [--work DIR]
 *
 * 1. Corpus: PATH (any artsearch corpus), or, with --docs N (or when PATH is
 *    absent), N documents generated with a fixed seed from the vocabulary
 *    of corpus/ (word frequencies follow a Zipf law), written as JSONL.
 * 2. Builds, each in a child process so its peak RSS is its own: artsearch
 *    through as_build(), FTS5 through the SQLite C API with
 *    tokenize='porter unicode61 remove_diacritics 2', fed the documents of
 *    the same corpus reader in one transaction.  Each engine builds N times
 *    (--build-runs, default 3), the two taking turns, and the fastest build
 *    of each is the figure (every run is printed too): this machine's speed
 *    changes by half and more within seconds, and taking turns gives both
 *    engines the same chances.
 * 3. Index sizes by component.
 * 4. Queries, single-threaded, after a warm-up pass: top-10 ranked
 *    disjunctions (FTS5: words quoted and joined by OR, ORDER BY rank
 *    LIMIT 10, reading the id) and counting every match.  FTS5 runs every
 *    K-th query (default 10); artsearch runs all of them and, for the ratio,
 *    the same sample.
 * 5. A checksum of each engine's ranked ids per query set, so a change in
 *    ranking shows in every run; artsearch's pruned ranking is also
 *    checked against exhaustive scoring (the run fails if they differ).
 * 6. bench/results/NAME.json with every figure, and NAME-latency.svg, the
 *    latency distribution of both engines.
 * 7. A micro-benchmark of the postings codec (integers decoded per second).
 *
 * Every figure is printed beside the peer's and the ratio; timings are
 * never asserted.
 */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "artsearch.h"
#include "codec.h"
#include "corpus.h"

#define MAX_SETS 8

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                    noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

/* ---- Generated corpus --------------------------------------------------- */

static uint64_t rng = 20261124;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Words of corpus/ (lower-cased letters), in order of first appearance. */
static char **load_vocabulary(size_t *n)
{
    size_t cap = 4096, count = 0;
    char **words = malloc(cap * sizeof *words);
    FILE *p = popen("cat corpus/*.txt 2>/dev/null | tr 'A-Z' 'a-z' | "
                    "tr -cs 'a-z' '\\n' | awk 'length > 1 && !seen[$0]++'",
                    "r");
    if (!p || !words)
        die("cannot read corpus/");
    char line[256];
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        if (count == cap) {
            cap *= 2;
            words = realloc(words, cap * sizeof *words);
        }
        words[count++] = strdup(line);
    }
    pclose(p);
    if (count < 100)
        die("corpus/ has too few words to generate a corpus");
    *n = count;
    return words;
}

/* Zipf-distributed word index in [0, n). */
static size_t zipf(size_t n)
{
    double u = (double)(next_rand() >> 11) / 9007199254740992.0;
    double x = pow((double)n + 1, u) - 1;   /* log-uniform: ~ 1/x */
    size_t i = (size_t)x;
    return i < n ? i : n - 1;
}

static void generate_corpus(const char *path, size_t docs)
{
    size_t nv;
    char **v = load_vocabulary(&nv);
    gzFile z = gzopen(path, "wb1");
    if (!z)
        die("%s: cannot write", path);
    for (size_t d = 0; d < docs; d++) {
        gzprintf(z, "{\"id\":\"gen-%zu\",\"title\":\"", d);
        int tw = 3 + (int)(next_rand() % 6);
        for (int w = 0; w < tw; w++)
            gzprintf(z, "%s%s", w ? " " : "", v[zipf(nv)]);
        gzputs(z, "\",\"text\":\"");
        int words = 60 + (int)(next_rand() % 120);
        for (int w = 0; w < words; w++)
            gzprintf(z, "%s%s", w ? " " : "", v[zipf(nv)]);
        gzputs(z, "\"}\n");
    }
    gzclose(z);
    for (size_t i = 0; i < nv; i++)
        free(v[i]);
    free(v);
}

/* ---- Queries ------------------------------------------------------------ */

typedef struct {
    char *name;
    char **id, **text;
    size_t n;
} query_set;

static void load_queries(const char *path, query_set *qs)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("%s: %s", path, strerror(errno));
    const char *base = strrchr(path, '/');
    qs->name = strdup(base ? base + 1 : path);
    size_t cap = 1024;
    qs->id = malloc(cap * sizeof *qs->id);
    qs->text = malloc(cap * sizeof *qs->text);
    qs->n = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    size_t lineno = 0;
    while ((len = getline(&line, &lcap, f)) != -1) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *tab = strchr(line, '\t');
        char idbuf[32];
        const char *id = idbuf, *text = line;
        if (tab) {
            *tab = '\0';
            id = line;
            text = tab + 1;
        } else {
            snprintf(idbuf, sizeof idbuf, "%zu", lineno);
        }
        if (strspn(text, " \t") == strlen(text))
            continue;
        if (qs->n == cap) {
            cap *= 2;
            qs->id = realloc(qs->id, cap * sizeof *qs->id);
            qs->text = realloc(qs->text, cap * sizeof *qs->text);
        }
        qs->id[qs->n] = strdup(id);
        qs->text[qs->n] = strdup(text);
        qs->n++;
    }
    free(line);
    fclose(f);
}

/* "do vegans get more cavities ?" -> "do" OR "vegans" OR ... ; words are
 * runs of letters and digits (bytes >= 0x80 count as letters). */
static char *fts_query(const char *q)
{
    size_t n = strlen(q);
    char *out = malloc(n * 8 + 16), *o = out;
    int words = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)q[i];
        int w = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' &&
                                           (c | 0x20) <= 'z') || c >= 0x80;
        if (!w) {
            i++;
            continue;
        }
        if (words++)
            o += sprintf(o, " OR ");
        *o++ = '"';
        while (i < n) {
            c = (unsigned char)q[i];
            if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' &&
                                              (c | 0x20) <= 'z') || c >= 0x80))
                break;
            *o++ = (char)c;
            i++;
        }
        *o++ = '"';
    }
    *o = '\0';
    return out;
}

/* ---- Builds, each in a child --------------------------------------------- */

typedef struct {
    double seconds;
    double peak_rss_mb;
    uint64_t docs, bytes;
    int ok;
} build_result;

typedef struct {
    sqlite3_stmt *ins;
    uint64_t docs;
    int rc;
} fts_ctx;

static int fts_doc(void *ctx, const corpus_doc *d)
{
    fts_ctx *f = ctx;
    sqlite3_bind_text(f->ins, 1, d->id, (int)d->id_len, SQLITE_STATIC);
    sqlite3_bind_text(f->ins, 2, d->title, (int)d->title_len, SQLITE_STATIC);
    sqlite3_bind_text(f->ins, 3, d->body, (int)d->body_len, SQLITE_STATIC);
    if (sqlite3_step(f->ins) != SQLITE_DONE)
        return f->rc = 1;
    sqlite3_reset(f->ins);
    f->docs++;
    return 0;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        die("sqlite: %s: %s", sql, err ? err : "?");
}

static int child_build_fts(const char *corpus, const char *dbpath,
                           uint64_t *docs, uint64_t *bytes)
{
    unlink(dbpath);
    sqlite3 *db;
    if (sqlite3_open(dbpath, &db) != SQLITE_OK)
        return 1;
    exec_sql(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;");
    exec_sql(db, "CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title,"
                 " text, tokenize='porter unicode61 remove_diacritics 2')");
    exec_sql(db, "BEGIN");
    fts_ctx f = {NULL, 0, 0};
    if (sqlite3_prepare_v2(db, "INSERT INTO docs(id, title, text) VALUES "
                               "(?, ?, ?)", -1, &f.ins, NULL) != SQLITE_OK)
        return 1;
    as_build_report rep;
    memset(&rep, 0, sizeof rep);
    corpus_opts co = {NULL, NULL, NULL, 0};  /* 0: default max_doc */
    int rc = corpus_read(corpus, &co, fts_doc, &f, &rep);
    sqlite3_finalize(f.ins);
    exec_sql(db, "COMMIT");
    sqlite3_close(db);
    *docs = f.docs;
    *bytes = rep.text_bytes;
    return rc || f.rc;
}

/* Run one build in a child; the child reports docs and bytes on a pipe. */
static build_result run_build(int fts, const char *corpus, const char *dest)
{
    build_result br = {0};
    int fd[2];
    if (pipe(fd) != 0)
        die("pipe: %s", strerror(errno));
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fd[0]);
        uint64_t out[2] = {0, 0};
        int rc;
        if (fts) {
            rc = child_build_fts(corpus, dest, &out[0], &out[1]);
        } else {
            as_build_report rep;
            rc = as_build(corpus, dest, NULL, &rep);
            if (rc)
                fprintf(stderr, "bench: artsearch build: %s\n", as_errmsg());
            out[0] = rep.docs;
            out[1] = rep.text_bytes;
        }
        if (write(fd[1], out, sizeof out) != (ssize_t)sizeof out)
            rc = 1;
        _exit(rc ? 1 : 0);
    }
    close(fd[1]);
    uint64_t got[2] = {0, 0};
    ssize_t n = read(fd[0], got, sizeof got);
    close(fd[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0)
        die("wait: %s", strerror(errno));
    br.seconds = now() - t0;
    /* Untimed: flush what the build left dirty, so that the next build
     * (the other engine's) does not share the disk with its writeback.
     * FTS5 runs with synchronous=OFF and left its 420 MB database to the
     * kernel, which wrote it back during artsearch's next build. */
    sync();
    br.peak_rss_mb = (double)ru.ru_maxrss / 1024.0;
    br.ok = n == (ssize_t)sizeof got && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0;
    br.docs = got[0];
    br.bytes = got[1];
    return br;
}

/* ---- Timing queries ----------------------------------------------------- */

typedef struct {
    size_t n;
    double mean, p50, p95, p99, qps;
    double *lat;            /* sorted latencies, seconds */
    uint64_t checksum;
} timing;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    size_t i = (size_t)ceil(p * (double)n);
    return n ? v[i > 0 ? i - 1 : 0] : 0;
}

static void summarize(timing *t)
{
    double sum = 0;
    for (size_t i = 0; i < t->n; i++)
        sum += t->lat[i];
    qsort(t->lat, t->n, sizeof *t->lat, cmp_double);
    t->mean = t->n ? sum / (double)t->n : 0;
    t->p50 = pct(t->lat, t->n, 0.50);
    t->p95 = pct(t->lat, t->n, 0.95);
    t->p99 = pct(t->lat, t->n, 0.99);
    t->qps = sum > 0 ? (double)t->n / sum : 0;
}

enum { MODE_TOP10, MODE_COUNT };

/* artsearch over queries i = 0, every, 2*every, ...; pass 0 warms up. */
static timing time_artsearch(as_index *ix, const query_set *qs, size_t every,
                             int mode, int exhaustive)
{
    timing t = {0};
    t.lat = malloc((qs->n / every + 1) * sizeof *t.lat);
    as_query_opts o;
    as_query_opts_init(&o);
    o.snippets = 0;
    o.count = 0;            /* FTS5's top 10 does not count either */
    o.exact_count = exhaustive;
    for (int pass = 0; pass < 2; pass++) {
        t.n = 0;
        t.checksum = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < qs->n; i += every) {
            double t0 = now();
            if (mode == MODE_TOP10) {
                as_results *r;
                if (as_search(ix, qs->text[i], &o, &r) != AS_OK)
                    die("query %s: %s", qs->id[i], as_errmsg());
                for (size_t k = 0; k < as_results_count(r); k++) {
                    const as_hit *h = as_results_hit(r, k);
                    t.checksum = fnv(t.checksum, h->id, strlen(h->id) + 1);
                }
                as_results_free(r);
            } else {
                uint64_t c;
                if (as_count(ix, qs->text[i], &c) != AS_OK)
                    die("query %s: %s", qs->id[i], as_errmsg());
                t.checksum = fnv(t.checksum, &c, sizeof c);
            }
            t.lat[t.n++] = now() - t0;
        }
    }
    summarize(&t);
    return t;
}

static timing time_fts(sqlite3 *db, const query_set *qs, size_t every,
                       int mode)
{
    timing t = {0};
    t.lat = malloc((qs->n / every + 1) * sizeof *t.lat);
    sqlite3_stmt *st;
    const char *sql = mode == MODE_TOP10
                          ? "SELECT id FROM docs WHERE docs MATCH ? "
                            "ORDER BY rank LIMIT 10"
                          : "SELECT count(*) FROM docs WHERE docs MATCH ?";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        die("sqlite: %s", sqlite3_errmsg(db));
    for (int pass = 0; pass < 2; pass++) {
        t.n = 0;
        t.checksum = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < qs->n; i += every) {
            char *q = fts_query(qs->text[i]);
            double t0 = now();
            if (q[0]) {
                sqlite3_bind_text(st, 1, q, -1, SQLITE_TRANSIENT);
                int rc;
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                    const unsigned char *v = sqlite3_column_text(st, 0);
                    size_t n = (size_t)sqlite3_column_bytes(st, 0);
                    t.checksum = fnv(t.checksum, v, n + 1);
                }
                if (rc != SQLITE_DONE)
                    die("sqlite query %s: %s", qs->id[i], sqlite3_errmsg(db));
                sqlite3_reset(st);
            }
            t.lat[t.n++] = now() - t0;
            free(q);
        }
    }
    sqlite3_finalize(st);
    summarize(&t);
    return t;
}

/* ---- Codec micro-benchmark ---------------------------------------------- */

static double codec_bench(unsigned bits)
{
    enum { BLOCKS = 4096 };
    /* Padded as in postings.pst, where blocks follow each other: the
     * query path's unpacker reads a few bytes past a block. */
    unsigned char *packed = calloc(1, BLOCKS * CODEC_PACKED_BYTES(32) +
                                          CODEC_PAD);
    uint32_t in[128], out[128];
    uint64_t mask = bits == 32 ? 0xffffffffull : (1ull << bits) - 1;
    for (int b = 0; b < BLOCKS; b++) {
        for (int i = 0; i < 128; i++)
            in[i] = (uint32_t)(next_rand() & mask);
        codec_pack128(in, bits, packed + (size_t)b * CODEC_PACKED_BYTES(bits));
    }
    uint64_t sink = 0;
    int rounds = 0;
    double t0 = now(), el;
    do {
        for (int b = 0; b < BLOCKS; b++) {
            codec_unpack128_padded(
                packed + (size_t)b * CODEC_PACKED_BYTES(bits), bits, out);
            sink += out[b & 127];
        }
        rounds++;
    } while ((el = now() - t0) < 0.05);
    free(packed);
    if (sink == 42)
        fputc(' ', stderr);
    return (double)rounds * BLOCKS * 128 / el;
}

static double varint_bench(void)
{
    enum { N = 1 << 20 };
    buf b;
    buf_init(&b);
    for (int i = 0; i < N; i++)
        codec_put_varint(&b, next_rand() >> (40 + next_rand() % 24));
    uint64_t sink = 0;
    int rounds = 0;
    double t0 = now(), el;
    do {
        cur c;
        cur_init(&c, b.p, b.len);
        for (int i = 0; i < N; i++)
            sink += cur_varint(&c);
        rounds++;
    } while ((el = now() - t0) < 0.05);
    buf_free(&b);
    if (sink == 42)
        fputc(' ', stderr);
    return (double)rounds * N / el;
}

/* ---- Output ------------------------------------------------------------- */

/* One line: artsearch's figure, FTS5's (f < 0: not measured), and how
 * many times better artsearch is (above 1: artsearch leads). */
static void row(const char *name, double a, double f, int decimals,
                int higher_better)
{
    char x[32], y[32];
    snprintf(x, sizeof x, "%.*f", decimals, a);
    if (f >= 0)
        snprintf(y, sizeof y, "%.*f", decimals, f);
    else
        snprintf(y, sizeof y, "-");
    printf("  %-26s %12s %12s", name, x, y);
    if (f > 0 && a > 0)
        printf("   %8.2fx\n", higher_better ? a / f : f / a);
    else
        printf("\n");
}

static uint64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Latency distribution of both engines (percentile curves, log scale). */
static void write_svg(const char *path, const char *title, timing *a,
                      timing *f)
{
    FILE *o = fopen(path, "w");
    if (!o)
        return;
    const int W = 760, H = 420, L = 70, R = 20, T = 40, B = 50;
    double lo = 1e-6, hi = 1;
    for (size_t i = 0; i < a->n; i++)
        if (a->lat[i] > 0 && a->lat[i] < lo * 10)
            lo = fmin(lo, a->lat[i]);
    fprintf(o, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' "
               "height='%d' font-family='sans-serif' font-size='12'>\n"
               "<rect width='100%%' height='100%%' fill='white'/>\n"
               "<text x='%d' y='22' font-size='15'>%s: query latency "
               "percentiles (log scale)</text>\n", W, H, L, title);
    double lx0 = log10(lo), lx1 = log10(hi);
    for (int e = (int)floor(lx0); e <= (int)ceil(lx1); e++) {
        double x = L + (e - lx0) / (lx1 - lx0) * (W - L - R);
        if (x < L || x > W - R)
            continue;
        const char *lab[] = {"1 µs", "10 µs", "100 µs", "1 ms", "10 ms",
                             "100 ms", "1 s"};
        fprintf(o, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' "
                   "stroke='#ddd'/><text x='%.1f' y='%d' "
                   "text-anchor='middle'>%s</text>\n", x, T, x, H - B, x,
                H - B + 18, e + 6 >= 0 && e + 6 < 7 ? lab[e + 6] : "");
    }
    for (int p = 0; p <= 100; p += 25) {
        double y = H - B - p / 100.0 * (H - T - B);
        fprintf(o, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' "
                   "stroke='#ddd'/><text x='%d' y='%.1f' "
                   "text-anchor='end'>p%d</text>\n", L, y, W - R, y, L - 6,
                y + 4, p);
    }
    timing *ts[2] = {a, f};
    const char *color[2] = {"#d62728", "#1f77b4"};
    const char *name[2] = {"artsearch", "SQLite FTS5"};
    for (int k = 0; k < 2; k++) {
        if (!ts[k] || ts[k]->n == 0)
            continue;
        fprintf(o, "<polyline fill='none' stroke='%s' stroke-width='2' "
                   "points='", color[k]);
        for (size_t i = 0; i < ts[k]->n; i++) {
            double v = fmax(ts[k]->lat[i], lo);
            double x = L + (log10(v) - lx0) / (lx1 - lx0) * (W - L - R);
            double y = H - B - (double)(i + 1) / (double)ts[k]->n *
                                   (H - T - B);
            fprintf(o, "%.1f,%.1f ", fmin(x, W - R), y);
        }
        fprintf(o, "'/>\n<text x='%d' y='%d' fill='%s'>%s (n=%zu)</text>\n",
                L + 10, T + 18 + 16 * k, color[k], name[k], ts[k]->n);
    }
    fprintf(o, "</svg>\n");
    fclose(o);
}

static void json_timing(FILE *o, const char *name, const timing *t, int last)
{
    fprintf(o, "      \"%s\": {\"n\": %zu, \"mean_us\": %.2f, \"p50_us\": "
               "%.2f, \"p95_us\": %.2f, \"p99_us\": %.2f, \"qps\": %.1f, "
               "\"checksum\": \"%016llx\"}%s\n", name, t->n, t->mean * 1e6,
            t->p50 * 1e6, t->p95 * 1e6, t->p99 * 1e6, t->qps,
            (unsigned long long)t->checksum, last ? "" : ",");
}

/* ---- main --------------------------------------------------------------- */

#define MAX_BUILD_RUNS 16     /* --build-runs above this is taken as it */

int main(int argc, char **argv)
{
    const char *corpus = NULL, *out = "latest", *work = "bench/results";
    size_t gen_docs = 0, every = 10;
    int no_fts = 0, build_runs = 3;
    const char *qfiles[MAX_SETS];
    int nq = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--corpus") == 0 && v) {
            corpus = v;
            i++;
        } else if (strcmp(a, "--docs") == 0 && v) {
            gen_docs = (size_t)strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--queries") == 0 && v && nq < MAX_SETS) {
            qfiles[nq++] = v;
            i++;
        } else if (strcmp(a, "--fts-every") == 0 && v) {
            every = (size_t)strtoull(v, NULL, 10);
            if (every == 0)
                every = 1;
            i++;
        } else if (strcmp(a, "--build-runs") == 0 && v) {
            build_runs = atoi(v);
            if (build_runs < 1)
                build_runs = 1;
            if (build_runs > MAX_BUILD_RUNS)
                build_runs = MAX_BUILD_RUNS;
            i++;
        } else if (strcmp(a, "--out") == 0 && v) {
            out = v;
            i++;
        } else if (strcmp(a, "--work") == 0 && v) {
            work = v;
            i++;
        } else if (strcmp(a, "--no-fts") == 0) {
            no_fts = 1;
        } else {
            fprintf(stderr, "usage: bench [--corpus PATH | --docs N] "
                            "[--queries FILE]... [--fts-every K] "
                            "[--build-runs N] [--out NAME] [--work DIR] "
                            "[--no-fts]\n");
            return 2;
        }
    }
    mkdir(work, 0755);
    char genpath[4300], ixdir[4300], dbpath[4300];
    snprintf(ixdir, sizeof ixdir, "%s/%s-index", work, out);
    snprintf(dbpath, sizeof dbpath, "%s/%s-fts5.db", work, out);
    struct stat st;
    if (!corpus || stat(corpus, &st) != 0) {
        if (corpus)
            printf("corpus %s is absent: generating one instead\n", corpus);
        if (!gen_docs)
            gen_docs = 50000;
        snprintf(genpath, sizeof genpath, "%s/generated-%zu.jsonl.gz", work,
                 gen_docs);
        if (stat(genpath, &st) != 0)
            generate_corpus(genpath, gen_docs);
        corpus = genpath;
        printf("corpus: %zu documents generated from corpus/'s vocabulary "
               "(seed fixed) in %s\n", gen_docs, genpath);
    } else {
        printf("corpus: %s\n", corpus);
    }
    query_set sets[MAX_SETS];
    for (int i = 0; i < nq; i++)
        load_queries(qfiles[i], &sets[i]);

    /* Builds. */
    char *cmd;
    if (asprintf(&cmd, "rm -rf '%s'", ixdir) > 0) {
        if (system(cmd) != 0)
            die("cannot clear %s", ixdir);
        free(cmd);
    }
    build_result ba = {0}, bf = {0};
    double runs[2][MAX_BUILD_RUNS];
    int nruns = build_runs;
    for (int r = 0; r < nruns; r++) {
        for (int e = 0; e < (no_fts ? 1 : 2); e++) {
            build_result b = run_build(e, corpus, e ? dbpath : ixdir);
            if (!b.ok)
                die(e ? "FTS5 build failed" : "artsearch build failed");
            runs[e][r] = b.seconds;
            build_result *best = e ? &bf : &ba;
            if (r == 0 || b.seconds < best->seconds)
                *best = b;
        }
    }
    as_index *ix;
    if (as_index_open(ixdir, &ix))
        die("%s", as_errmsg());
    as_stats s;
    as_index_stats(ix, &s);
    double mb = (double)ba.bytes / 1e6;
    printf("\n%llu documents, %.1f MB of text (FTS5 in the same run, "
           "SQLite %s)\n\n", (unsigned long long)ba.docs, mb,
           sqlite3_libversion());
    printf("  %-26s %12s %12s   %9s\n", "build", "artsearch", "FTS5",
           "art lead");
    const double fneg = -1;     /* FTS5's components are not measured */
    row("wall time (s), fastest", ba.seconds, no_fts ? -1 : bf.seconds, 2, 0);
    row("MB/s", mb / ba.seconds, no_fts ? -1 : mb / bf.seconds, 1, 1);
    row("documents/s", (double)ba.docs / ba.seconds,
        no_fts ? -1 : (double)bf.docs / bf.seconds, 0, 1);
    row("peak RSS (MB)", ba.peak_rss_mb, no_fts ? -1 : bf.peak_rss_mb,
        0, 0);
    for (int e = 0; e < (no_fts ? 1 : 2); e++) {
        printf("  %-26s", e ? "  FTS5 runs (s)" : "  artsearch runs (s)");
        for (int r = 0; r < nruns; r++)
            printf(" %.2f", runs[e][r]);
        printf("\n");
    }
    uint64_t inverted = s.bytes_lexicon + s.bytes_postings +
                        s.bytes_positions + s.bytes_norms;
    printf("\n  %-26s %12s %12s\n", "index size (MB)", "artsearch", "FTS5");
    row("lexicon", s.bytes_lexicon / 1e6, fneg, 2, 0);
    row("postings", s.bytes_postings / 1e6, fneg, 2, 0);
    row("positions", s.bytes_positions / 1e6, fneg, 2, 0);
    row("norms", s.bytes_norms / 1e6, fneg, 2, 0);
    row("doc table + store", (s.bytes_doctable + s.bytes_docstore) / 1e6,
        fneg, 2, 0);
    row("total on disk", s.bytes_total / 1e6,
        no_fts ? -1 : file_size(dbpath) / 1e6, 2, 0);
    printf("  %-26s %12.2f\n", "bits per posting",
           s.postings ? 8.0 * s.bytes_postings / s.postings : 0);
    printf("  %-26s %12.2f\n", "inverted index (MB)", inverted / 1e6);

    sqlite3 *db = NULL;
    if (!no_fts && sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL))
        die("sqlite: cannot open %s", dbpath);

    char jpath[4300], svgpath[4300];
    snprintf(jpath, sizeof jpath, "%s/%s.json", work, out);
    FILE *jo = fopen(jpath, "w");
    if (!jo)
        die("%s: %s", jpath, strerror(errno));
    fprintf(jo, "{\n  \"corpus\": \"%s\",\n  \"documents\": %llu,\n"
                "  \"text_mb\": %.3f,\n  \"sqlite\": \"%s\",\n"
                "  \"build\": {\"artsearch\": {\"seconds\": %.3f, "
                "\"peak_rss_mb\": %.1f}, \"fts5\": {\"seconds\": %.3f, "
                "\"peak_rss_mb\": %.1f}},\n"
                "  \"index_bytes\": {\"artsearch\": %llu, \"inverted\": %llu,"
                " \"fts5\": %llu},\n",
            corpus, (unsigned long long)ba.docs, mb, sqlite3_libversion(),
            ba.seconds, ba.peak_rss_mb, bf.seconds, bf.peak_rss_mb,
            (unsigned long long)s.bytes_total,
            (unsigned long long)inverted,
            (unsigned long long)(no_fts ? 0 : file_size(dbpath)));
    fprintf(jo, "  \"build_runs_seconds\": {");
    for (int e = 0; e < (no_fts ? 1 : 2); e++) {
        fprintf(jo, "%s\"%s\": [", e ? ", " : "", e ? "fts5" : "artsearch");
        for (int r = 0; r < nruns; r++)
            fprintf(jo, "%s%.3f", r ? ", " : "", runs[e][r]);
        fprintf(jo, "]");
    }
    fprintf(jo, "},\n  \"query_sets\": {\n");
    int mismatch = 0;
    for (int q = 0; q < nq; q++) {
        query_set *qs = &sets[q];
        timing all = time_artsearch(ix, qs, 1, MODE_TOP10, 0);
        timing exh = time_artsearch(ix, qs, 1, MODE_TOP10, 1);
        timing samp = time_artsearch(ix, qs, every, MODE_TOP10, 0);
        timing cnt = time_artsearch(ix, qs, every, MODE_COUNT, 0);
        timing fa = {0}, fc = {0};
        if (!no_fts) {
            fa = time_fts(db, qs, every, MODE_TOP10);
            fc = time_fts(db, qs, every, MODE_COUNT);
        }
        if (all.checksum != exh.checksum)
            mismatch = 1;
        printf("\nqueries %s: %zu (artsearch all; both engines on every "
               "%zu%s query: %zu)\n", qs->name, qs->n, every,
               every == 1 ? "st" : "th", samp.n);
        printf("  %-26s %12s %12s   %9s\n", "latency (µs)", "artsearch",
               "FTS5", "art lead");
        printf("  all queries, top 10:  mean %.1f  p50 %.1f  p95 %.1f  "
               "p99 %.1f  (%.0f q/s)\n", all.mean * 1e6, all.p50 * 1e6,
               all.p95 * 1e6, all.p99 * 1e6, all.qps);
        row("top-10 mean", samp.mean * 1e6, no_fts ? -1 : fa.mean * 1e6,
            1, 0);
        row("top-10 p50", samp.p50 * 1e6, no_fts ? -1 : fa.p50 * 1e6, 1, 0);
        row("top-10 p95", samp.p95 * 1e6, no_fts ? -1 : fa.p95 * 1e6, 1, 0);
        row("top-10 p99", samp.p99 * 1e6, no_fts ? -1 : fa.p99 * 1e6, 1, 0);
        row("top-10 queries/s", samp.qps, no_fts ? -1 : fa.qps, 0, 1);
        row("count-all mean", cnt.mean * 1e6, no_fts ? -1 : fc.mean * 1e6,
            1, 0);
        row("count-all p99", cnt.p99 * 1e6, no_fts ? -1 : fc.p99 * 1e6,
            1, 0);
        printf("  checksums: artsearch %016llx (exhaustive %016llx, %s)  "
               "FTS5 %016llx\n", (unsigned long long)all.checksum,
               (unsigned long long)exh.checksum,
               all.checksum == exh.checksum ? "same" : "DIFFERENT",
               (unsigned long long)fa.checksum);
        char title[300];
        snprintf(title, sizeof title, "%s, sample of %zu", qs->name, samp.n);
        snprintf(svgpath, sizeof svgpath, "%s/%s-%s.svg", work, out,
                 qs->name);
        write_svg(svgpath, title, &samp, no_fts ? NULL : &fa);
        printf("  plot: %s\n", svgpath);
        fprintf(jo, "    \"%s\": {\n      \"queries\": %zu, \"sample_every\""
                    ": %zu,\n", qs->name, qs->n, every);
        json_timing(jo, "artsearch_all_top10", &all, 0);
        json_timing(jo, "artsearch_exhaustive_top10", &exh, 0);
        json_timing(jo, "artsearch_sample_top10", &samp, 0);
        json_timing(jo, "artsearch_sample_count", &cnt, no_fts);
        if (!no_fts) {
            json_timing(jo, "fts5_sample_top10", &fa, 0);
            json_timing(jo, "fts5_sample_count", &fc, 1);
        }
        fprintf(jo, "    }%s\n", q + 1 < nq ? "," : "");
        free(all.lat);
        free(exh.lat);
        free(samp.lat);
        free(cnt.lat);
        free(fa.lat);
        free(fc.lat);
    }
    printf("\ncodec: bit-packed blocks of 128, integers decoded per second "
           "(as used; scalar)\n");
    fprintf(jo, "  },\n  \"codec_ints_per_s\": {");
    unsigned widths[] = {1, 4, 8, 12, 16, 24, 32};
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        double r = codec_bench(widths[i]);
        int was = codec_set_simd(0);
        double rs = codec_bench(widths[i]);
        codec_set_simd(was);
        printf("  %2u bits: %8.0f M/s  %8.0f M/s\n", widths[i], r / 1e6,
               rs / 1e6);
        fprintf(jo, "%s\"%u\": %.0f, \"%u_scalar\": %.0f", i ? ", " : "",
                widths[i], r, widths[i], rs);
    }
    double vr = varint_bench();
    printf("  varint:  %8.0f M/s\n", vr / 1e6);
    fprintf(jo, ", \"varint\": %.0f}\n}\n", vr);
    fclose(jo);
    printf("\nresults: %s\n", jpath);
    if (db)
        sqlite3_close(db);
    as_index_close(ix);
    if (mismatch) {
        fprintf(stderr, "bench: pruned and exhaustive rankings differ\n");
        return 1;
    }
    return 0;
}
