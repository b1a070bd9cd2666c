/* main.c - the artsearch command: a thin client of artsearch.h.
 *
 * Exit statuses: 0 success (also a query without matches), 1 failure,
 * 2 usage error, 3 index missing or damaged.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "artsearch.h"

enum { EXIT_OKAY = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_INDEX = 3 };

static const char *const usage_main =
    "usage: artsearch COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Full-text search for collections of health articles.\n"
    "\n"
    "commands:\n"
    "  build PATH        index a folder or file of articles\n"
    "  query TEXT        search the index (BM25F), best matches first\n"
    "  stats             describe the index: documents, terms, sizes\n"
    "  check             verify the index's checksums and structures\n"
    "  help [COMMAND]    show help for a command\n"
    "\n"
    "options:\n"
    "  -h, --help        show this help\n"
    "  -V, --version     show the version\n"
    "\n"
    "The index lives in index/ unless -i DIR (query, stats, check), -o DIR\n"
    "(build) or the ARTSEARCH_INDEX environment variable says otherwise.\n"
    "Exit status: 0 success, 1 failure, 2 usage error, 3 index missing or\n"
    "damaged.\n";

static const char *const usage_build =
    "usage: artsearch build [OPTIONS] PATH\n"
    "\n"
    "Index every article under PATH (a folder, walked recursively, or one\n"
    "file) and replace the index atomically.  Formats: .txt and .md (title\n"
    "= first non-empty line), .html/.htm, .jsonl and .jsonl.gz (one object\n"
    "a line with id or _id, title, text or body).  Other files are skipped\n"
    "and counted.\n"
    "\n"
    "options:\n"
    "  -o, --output DIR      index folder (default: $ARTSEARCH_INDEX or\n"
    "                        index/)\n"
    "  -m, --memory SIZE     memory for inversion before spilling a run to\n"
    "                        disk, e.g. 64M, 1G (default 256M)\n"
    "  -l, --language LANG   Snowball stemmer: english (default), none, or\n"
    "                        any libstemmer language\n"
    "      --stopwords       drop common English words (off by default so\n"
    "                        queries like \"vitamin a\" work)\n"
    "      --max-doc SIZE    bytes read of one file (default 128M): a\n"
    "                        longer file is cut there, a longer JSONL line\n"
    "                        skipped, each with a warning\n"
    "  -q, --quiet           no progress line and no warnings\n"
    "  -h, --help            show this help\n";

static const char *const usage_query =
    "usage: artsearch query [OPTIONS] TEXT...\n"
    "       artsearch query [OPTIONS] --queries FILE\n"
    "\n"
    "Rank documents by BM25F (title and text) against TEXT.  Plain words\n"
    "are a disjunction: documents matching more of them rank higher by\n"
    "score.  The query language (operators in capitals):\n"
    "  \"sciatic nerve\"       a phrase: the words next to each other\n"
    "  +magnesium            required;  -caffeine  excluded\n"
    "  a AND b, a OR b, NOT a, ( ... )\n"
    "  preg*                 a prefix (its 128 most frequent terms)\n"
    "  title:word            the word in the title (also title:\"...\")\n"
    "Quote a query that starts with '-', or put it after --.\n"
    "\n"
    "options:\n"
    "  -i, --index DIR       index folder (default: $ARTSEARCH_INDEX or\n"
    "                        index/)\n"
    "  -n, --limit N         number of results (default 10)\n"
    "      --offset K        skip the first K results\n"
    "      --k1 X            BM25 k1 (default 1.2)\n"
    "      --b X             BM25 b (default 0.75)\n"
    "      --title-weight X  weight of a title word beside the text\n"
    "                        (default 1; 0: plain BM25 without fields)\n"
    "      --title-b X       the title's length normalization (default\n"
    "                        0.75)\n"
    "      --explain         show each term's share of every hit's score\n"
    "      --json            one JSON object per hit (same as --format json)\n"
    "  -f, --format FMT      text (default), json or trec\n"
    "      --color WHEN      auto (default), always or never; NO_COLOR in\n"
    "                        the environment turns colour off for auto\n"
    "      --no-snippets     do not make snippets\n"
    "      --exact-count     count every matching document even when\n"
    "                        pruning (slower)\n"
    "  -Q, --queries FILE    run every line of FILE (id<TAB>text, or text)\n"
    "                        against the index; - reads standard input\n"
    "      --timing          print query latency statistics on stderr\n"
    "  -h, --help            show this help\n";

static const char *const usage_stats =
    "usage: artsearch stats [OPTIONS]\n"
    "\n"
    "Describe the index: documents, terms, postings, tokens, average\n"
    "document length, bytes of each component, bits per posting and the\n"
    "ratio of index size to corpus text.\n"
    "\n"
    "options:\n"
    "  -i, --index DIR       index folder (default: $ARTSEARCH_INDEX or\n"
    "                        index/)\n"
    "      --json            print JSON\n"
    "  -h, --help            show this help\n";

static const char *const usage_check =
    "usage: artsearch check [OPTIONS]\n"
    "\n"
    "Verify every file's checksum and walk every structure (lexicon order,\n"
    "postings, positions, doc store).  Exit 0 when sound, 3 with the first\n"
    "problem named when not.\n"
    "\n"
    "options:\n"
    "  -i, --index DIR       index folder (default: $ARTSEARCH_INDEX or\n"
    "                        index/)\n"
    "  -h, --help            show this help\n";

static void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die_msg(const char *fmt, ...)
{
    va_list ap;
    fputs("artsearch: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int exit_for(int rc)
{
    switch (rc) {
    case AS_OK:
        return EXIT_OKAY;
    case AS_ERR_USAGE:
    case AS_ERR_TOOLONG:
    case AS_ERR_LANG:
        return EXIT_USAGE;
    case AS_ERR_CORRUPT:
    case AS_ERR_NOINDEX:
        return EXIT_INDEX;
    default:
        return EXIT_FAIL;
    }
}

static int fail(int rc)
{
    die_msg("%s", as_errmsg()[0] ? as_errmsg() : as_strerror(rc));
    if (rc == AS_ERR_CORRUPT)
        fputs("artsearch: rebuild the index with `artsearch build CORPUS`\n",
              stderr);
    return exit_for(rc);
}

static int usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("artsearch: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'artsearch %s--help' for more information.\n",
            cmd);
    return EXIT_USAGE;
}

static const char *default_index(void)
{
    const char *e = getenv("ARTSEARCH_INDEX");
    return e && *e ? e : "index";
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* "1,234,567" */
static const char *grouped(uint64_t v, char *out)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    int o = 0;
    for (int i = 0; i < n; i++) {
        out[o++] = tmp[i];
        if ((n - i - 1) % 3 == 0 && i < n - 1)
            out[o++] = ',';
    }
    out[o] = '\0';
    return out;
}

/* Binary units, labelled as such (the benchmark reports decimal MB). */
static const char *human(double bytes, char *out)
{
    if (bytes < 1024)
        sprintf(out, "%.0f B", bytes);
    else if (bytes < 1024 * 1024)
        sprintf(out, "%.1f KiB", bytes / 1024);
    else if (bytes < 1024.0 * 1024 * 1024)
        sprintf(out, "%.1f MiB", bytes / (1024 * 1024));
    else
        sprintf(out, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    return out;
}

/* A size such as 64M or 1.5G (K, M, G: powers of 1024), at least min. */
static int parse_size(const char *s, double min, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v <= 0)
        return -1;
    double mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1024; end++; break;
    case 'm': case 'M': mult = 1024 * 1024; end++; break;
    case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v * mult < min || v * mult > 1e15)
        return -1;
    *out = (size_t)(v * mult);
    return 0;
}

static int parse_uint(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* ---- build -------------------------------------------------------------- */

typedef struct {
    int quiet, tty, progress_shown;
    uint64_t warnings;
} build_ui;

static void on_warn(void *ctx, const char *msg)
{
    build_ui *ui = ctx;
    ui->warnings++;
    if (ui->quiet)
        return;
    if (ui->progress_shown) {
        fputs("\r\033[K", stderr);
        ui->progress_shown = 0;
    }
    fprintf(stderr, "artsearch: warning: %s\n", msg);
}

static void on_progress(void *ctx, const as_progress *p)
{
    build_ui *ui = ctx;
    if (ui->quiet || !ui->tty)
        return;
    char a[32], b[32], c[32];
    double mbs = p->seconds > 0 ? p->bytes_done / p->seconds / 1e6 : 0;
    fprintf(stderr, "\r\033[Kfiles %s/%s  docs %s  %.1f MB/s  %.0fs",
            grouped(p->files_done, a), grouped(p->files_total, b),
            grouped(p->docs, c), mbs, p->seconds);
    if (p->bytes_total > 0 && p->bytes_done > 0 && p->seconds > 0.5) {
        double left = p->seconds * (double)(p->bytes_total - p->bytes_done) /
                      (double)p->bytes_done;
        if (p->bytes_done <= p->bytes_total)
            fprintf(stderr, "  ~%.0fs left", left);
    }
    ui->progress_shown = 1;
}

static int cmd_build(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"memory", required_argument, NULL, 'm'},
        {"language", required_argument, NULL, 'l'},
        {"stopwords", no_argument, NULL, 's'},
        {"max-doc", required_argument, NULL, 'D'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = default_index();
    as_build_opts bo = {0};
    build_ui ui = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:m:l:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'm':
            if (parse_size(optarg, 1024 * 1024, &bo.memory))
                return usage_error("build ", "--memory: '%s' is not a size "
                                   "of at least 1M (e.g. 64M, 1G)", optarg);
            break;
        case 'l': bo.language = optarg; break;
        case 's': bo.stopwords = 1; break;
        case 'D':
            if (parse_size(optarg, 1024, &bo.max_doc))
                return usage_error("build ", "--max-doc: '%s' is not a size "
                                   "of at least 1K (e.g. 512K, 128M)", optarg);
            break;
        case 'q': ui.quiet = 1; break;
        case 'h': fputs(usage_build, stdout); return EXIT_OKAY;
        default: return usage_error("build ", "bad option");
        }
    }
    if (optind != argc - 1)
        return usage_error("build ", optind == argc ? "build needs a PATH to"
                           " index" : "build takes one PATH");
    const char *path = argv[optind];
    ui.tty = isatty(2);
    bo.warn = on_warn;
    bo.progress = on_progress;
    bo.ctx = &ui;
    as_build_report rep;
    int rc = as_build(path, out, &bo, &rep);
    if (ui.progress_shown)
        fputs("\r\033[K", stderr);
    if (rc) {
        die_msg("%s", as_errmsg());
        if (rc != AS_ERR_USAGE && rc != AS_ERR_LANG)
            fprintf(stderr, "artsearch: the build failed; the previous index"
                    " in %s (if any) is unchanged\n", out);
        return exit_for(rc);
    }
    char a[32], b[32], t1[32], t2[32], d[32], e[32];
    printf("Indexed %s documents from %s files (%s of text) in %.1f s: "
           "%s terms, %s postings; index %s in %s/.",
           grouped(rep.docs, a), grouped(rep.files, b),
           human((double)rep.text_bytes, t1), rep.seconds,
           grouped(rep.terms, d), grouped(rep.postings, e),
           human((double)rep.index_bytes, t2), out);
    uint64_t skipped = 0;
    for (int i = 0; i < AS_SKIP_COUNT; i++)
        skipped += rep.skipped[i];
    if (skipped) {
        printf(" Skipped %s:", grouped(skipped, a));
        const char *sep = " ";
        for (int i = 0; i < AS_SKIP_COUNT; i++)
            if (rep.skipped[i]) {
                printf("%s%s %s", sep, grouped(rep.skipped[i], a),
                       as_skip_reason(i));
                sep = ", ";
            }
        printf(".");
    } else {
        printf(" Nothing skipped.");
    }
    if (rep.cut)
        printf(" %s file%s cut to the document size limit.",
               grouped(rep.cut, a), rep.cut == 1 ? "" : "s");
    if (rep.replaced_utf8)
        printf(" %s file%s had invalid UTF-8 replaced.",
               grouped(rep.replaced_utf8, a),
               rep.replaced_utf8 == 1 ? "" : "s");
    if (rep.runs > 1)
        printf(" Inverted in %u runs within the memory budget.", rep.runs);
    printf("\n");
    return EXIT_OKAY;
}

/* ---- query -------------------------------------------------------------- */

enum { FMT_TEXT, FMT_JSON, FMT_TREC };

typedef struct {
    int format, color, snippets;
} query_ui;

static void json_string(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

static void print_hit_text(const query_ui *ui, size_t rank, const as_hit *h)
{
    const char *bold = ui->color ? "\033[1m" : "";
    const char *dim = ui->color ? "\033[2m" : "";
    const char *mark = ui->color ? "\033[1;33m" : "[";
    const char *endmark = ui->color ? "\033[0m" : "]";
    const char *reset = ui->color ? "\033[0m" : "";
    printf("%2zu. %s%s%s  %s(%.2f)%s\n", rank, bold,
           h->title[0] ? h->title : "(untitled)", reset, dim, h->score, reset);
    printf("    %s%s%s\n", dim, h->id, reset);
    if (h->snippet && h->snippet[0]) {
        fputs("    ", stdout);
        size_t at = 0;
        for (size_t k = 0; k < h->nspans; k++) {
            const as_span *sp = &h->spans[k];
            if (sp->start < at)
                continue;
            fwrite(h->snippet + at, 1, sp->start - at, stdout);
            fputs(mark, stdout);
            fwrite(h->snippet + sp->start, 1, sp->len, stdout);
            fputs(endmark, stdout);
            at = sp->start + sp->len;
        }
        fputs(h->snippet + at, stdout);
        fputc('\n', stdout);
    }
    if (h->explain) {
        printf("    %s%.4f = sum of:%s\n", dim, h->score, reset);
        for (const char *p = h->explain; *p;) {
            const char *e = strchr(p, '\n');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            printf("    %s%.*s%s\n", dim, (int)n, p, reset);
            p += n + (e != NULL);
        }
    }
    fputc('\n', stdout);
}

static void print_hit_json(const char *qid, size_t rank, const as_hit *h)
{
    fputc('{', stdout);
    if (qid) {
        fputs("\"qid\":", stdout);
        json_string(stdout, qid, strlen(qid));
        fputc(',', stdout);
    }
    printf("\"rank\":%zu,\"score\":%.6f,\"id\":", rank, h->score);
    json_string(stdout, h->id, strlen(h->id));
    fputs(",\"title\":", stdout);
    json_string(stdout, h->title, strlen(h->title));
    if (h->snippet) {
        fputs(",\"snippet\":", stdout);
        json_string(stdout, h->snippet, strlen(h->snippet));
        fputs(",\"highlights\":[", stdout);
        for (size_t k = 0; k < h->nspans; k++)
            printf("%s[%u,%u]", k ? "," : "", h->spans[k].start,
                   h->spans[k].len);
        fputc(']', stdout);
    }
    if (h->explain) {
        fputs(",\"explain\":", stdout);
        json_string(stdout, h->explain, strlen(h->explain));
    }
    fputs("}\n", stdout);
}

static void print_results(const query_ui *ui, const char *qid,
                          const as_results *r, size_t offset)
{
    size_t n = as_results_count(r);
    for (size_t i = 0; i < n; i++) {
        const as_hit *h = as_results_hit(r, i);
        size_t rank = offset + i + 1;
        if (ui->format == FMT_TEXT) {
            print_hit_text(ui, rank, h);
        } else if (ui->format == FMT_JSON) {
            print_hit_json(qid, rank, h);
        } else {
            /* TREC ids must not contain white space. */
            printf("%s Q0 ", qid ? qid : "1");
            for (const char *p = h->id; *p; p++)
                putchar(*p == ' ' || *p == '\t' ? '_' : *p);
            printf(" %zu %.6f artsearch\n", rank, h->score);
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)ceil(p * (double)n);
    if (i > 0)
        i--;
    if (i >= n)
        i = n - 1;
    return v[i];
}

static int run_batch(as_index *ix, const char *file, const as_query_opts *qo,
                     const query_ui *ui, int timing)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (!f) {
        die_msg("%s: %s", file, strerror(errno));
        return EXIT_USAGE;
    }
    char *line = NULL;
    size_t cap = 0, count = 0, lineno = 0, capt = 0;
    ssize_t len;
    double *times = NULL;
    int status = EXIT_OKAY;
    while ((len = getline(&line, &cap, f)) != -1) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char qidbuf[32], *qid = qidbuf, *text = line;
        char *tab = strchr(line, '\t');
        if (tab) {
            *tab = '\0';
            qid = line;
            text = tab + 1;
        } else {
            snprintf(qidbuf, sizeof qidbuf, "%zu", lineno);
        }
        if (strspn(text, " \t\r\n") == strlen(text))
            continue;
        as_results *r;
        double t0 = now();
        int rc = as_search(ix, text, qo, &r);
        double dt = now() - t0;
        if (rc) {
            die_msg("%s:%zu: %s", file, lineno, as_errmsg());
            if (exit_for(rc) == EXIT_INDEX) {
                status = EXIT_INDEX;
                break;
            }
            continue;
        }
        if (count == capt) {
            capt = capt ? capt * 2 : 1024;
            double *t = realloc(times, capt * sizeof *t);
            if (!t) {
                as_results_free(r);
                die_msg("out of memory");
                status = EXIT_FAIL;
                break;
            }
            times = t;
        }
        times[count++] = dt;
        print_results(ui, qid, r, qo->offset);
        as_results_free(r);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    if (timing && count > 0) {
        double sum = 0;
        for (size_t i = 0; i < count; i++)
            sum += times[i];
        qsort(times, count, sizeof *times, cmp_double);
        fprintf(stderr,
                "queries %zu  mean %.1f us  p50 %.1f us  p95 %.1f us  "
                "p99 %.1f us  (%.0f queries/s)\n",
                count, sum / count * 1e6, percentile(times, count, 0.5) * 1e6,
                percentile(times, count, 0.95) * 1e6,
                percentile(times, count, 0.99) * 1e6,
                sum > 0 ? count / sum : 0);
    }
    free(times);
    return status;
}

static int cmd_query(int argc, char **argv)
{
    enum { O_OFFSET = 256, O_K1, O_B, O_JSON, O_COLOR, O_NOSNIP, O_TIMING,
           O_EXACT, O_TW, O_TB, O_EXPLAIN };
    static const struct option opts[] = {
        {"index", required_argument, NULL, 'i'},
        {"limit", required_argument, NULL, 'n'},
        {"offset", required_argument, NULL, O_OFFSET},
        {"k1", required_argument, NULL, O_K1},
        {"b", required_argument, NULL, O_B},
        {"title-weight", required_argument, NULL, O_TW},
        {"title-b", required_argument, NULL, O_TB},
        {"explain", no_argument, NULL, O_EXPLAIN},
        {"json", no_argument, NULL, O_JSON},
        {"format", required_argument, NULL, 'f'},
        {"color", required_argument, NULL, O_COLOR},
        {"colour", required_argument, NULL, O_COLOR},
        {"no-snippets", no_argument, NULL, O_NOSNIP},
        {"exact-count", no_argument, NULL, O_EXACT},
        {"queries", required_argument, NULL, 'Q'},
        {"timing", no_argument, NULL, O_TIMING},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = default_index(), *batch = NULL, *color = "auto";
    as_query_opts qo;
    as_query_opts_init(&qo);
    query_ui ui = {FMT_TEXT, 0, 1};
    int timing = 0, c;
    optind = 1;
    /* Options may come anywhere; a query word starting with '-' goes
     * after "--". */
    while ((c = getopt_long(argc, argv, "i:n:f:Q:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': dir = optarg; break;
        case 'n':
            if (parse_uint(optarg, 100000, &qo.k) || qo.k == 0)
                return usage_error("query ", "-n: '%s' is not a number from "
                                   "1 to 100000", optarg);
            break;
        case O_OFFSET:
            if (parse_uint(optarg, 1000000, &qo.offset))
                return usage_error("query ", "--offset: '%s' is not a number"
                                   " from 0 to 1000000", optarg);
            break;
        case O_K1:
            if (parse_double(optarg, &qo.k1) || qo.k1 < 0 || qo.k1 > 100)
                return usage_error("query ", "--k1: '%s' is not a number "
                                   "from 0 to 100", optarg);
            break;
        case O_B:
            if (parse_double(optarg, &qo.b) || qo.b < 0 || qo.b > 1)
                return usage_error("query ", "--b: '%s' is not a number from"
                                   " 0 to 1", optarg);
            break;
        case O_TW:
            if (parse_double(optarg, &qo.title_weight) ||
                qo.title_weight < 0 || qo.title_weight > 100)
                return usage_error("query ", "--title-weight: '%s' is not a "
                                   "number from 0 to 100", optarg);
            break;
        case O_TB:
            if (parse_double(optarg, &qo.title_b) || qo.title_b < 0 ||
                qo.title_b > 1)
                return usage_error("query ", "--title-b: '%s' is not a "
                                   "number from 0 to 1", optarg);
            break;
        case O_EXPLAIN: qo.explain = 1; break;
        case O_JSON: ui.format = FMT_JSON; break;
        case 'f':
            if (strcmp(optarg, "text") == 0)
                ui.format = FMT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                ui.format = FMT_JSON;
            else if (strcmp(optarg, "trec") == 0)
                ui.format = FMT_TREC;
            else
                return usage_error("query ", "--format: '%s' is not text, "
                                   "json or trec", optarg);
            break;
        case O_COLOR:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") &&
                strcmp(optarg, "never"))
                return usage_error("query ", "--color: '%s' is not auto, "
                                   "always or never", optarg);
            color = optarg;
            break;
        case O_NOSNIP: ui.snippets = 0; break;
        case O_EXACT: qo.exact_count = 1; break;
        case 'Q': batch = optarg; break;
        case O_TIMING: timing = 1; break;
        case 'h': fputs(usage_query, stdout); return EXIT_OKAY;
        default: return usage_error("query ", "bad option");
        }
    }
    if (strcmp(color, "always") == 0)
        ui.color = 1;
    else if (strcmp(color, "auto") == 0)
        ui.color = isatty(1) && !(getenv("NO_COLOR") && *getenv("NO_COLOR"));
    if (ui.format == FMT_TREC)
        ui.snippets = 0;
    /* The number of matches is printed only in the text header of a
     * single query. */
    qo.count = ui.format == FMT_TEXT && !batch;
    qo.snippets = ui.snippets;
    if (batch && optind < argc)
        return usage_error("query ", "give either --queries FILE or a query "
                           "text, not both");
    if (!batch && optind >= argc)
        return usage_error("query ", "query needs a TEXT to search for");

    /* Join the words of the query. */
    size_t total = 1;
    for (int i = optind; i < argc; i++)
        total += strlen(argv[i]) + 1;
    char *text = malloc(total);
    if (!text) {
        die_msg("out of memory");
        return EXIT_FAIL;
    }
    text[0] = '\0';
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            strcat(text, " ");
        strcat(text, argv[i]);
    }

    double t0 = now();
    as_index *ix;
    int rc = as_index_open(dir, &ix);
    if (rc) {
        free(text);
        return fail(rc);
    }
    int status;
    if (batch) {
        status = run_batch(ix, batch, &qo, &ui, timing);
    } else {
        as_results *r;
        rc = as_search(ix, text, &qo, &r);
        if (rc) {
            status = fail(rc);
        } else {
            double ms = (now() - t0) * 1e3;
            if (as_results_notice(r))
                fprintf(stderr, "artsearch: note: %s\n",
                        as_results_notice(r));
            int est;
            uint64_t n = as_results_total(r, &est);
            if (n == 0) {
                fprintf(stderr, "artsearch: no documents match \"%s\"\n",
                        text);
            } else if (ui.format == FMT_TEXT) {
                char a[32];
                printf("%s%s matching document%s (%.1f ms)\n\n",
                       est ? "about " : "", grouped(n, a), n == 1 ? "" : "s",
                       ms);
            }
            print_results(&ui, NULL, r, qo.offset);
            if (n > 0 && as_results_count(r) == 0 && ui.format == FMT_TEXT)
                printf("(no results past offset %u)\n", qo.offset);
            as_results_free(r);
            status = EXIT_OKAY;
            if (timing)
                fprintf(stderr, "queries 1  total %.1f us\n", ms * 1e3);
        }
    }
    as_index_close(ix);
    free(text);
    if (fflush(stdout) != 0 && status == EXIT_OKAY) {
        die_msg("writing results: %s", strerror(errno));
        status = EXIT_FAIL;
    }
    return status;
}

/* ---- stats and check ---------------------------------------------------- */

static int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        {"index", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = default_index();
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': dir = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage_stats, stdout); return EXIT_OKAY;
        default: return usage_error("stats ", "bad option");
        }
    }
    if (optind != argc)
        return usage_error("stats ", "stats takes no arguments");
    as_index *ix;
    int rc = as_index_open(dir, &ix);
    if (rc)
        return fail(rc);
    as_stats s;
    as_index_stats(ix, &s);
    as_index_close(ix);
    uint64_t inverted = s.bytes_lexicon + s.bytes_postings +
                        s.bytes_positions + s.bytes_norms;
    double bpp = s.postings ? 8.0 * (double)s.bytes_postings /
                                  (double)s.postings : 0;
    double ratio = s.text_bytes ? (double)s.bytes_total /
                                      (double)s.text_bytes : 0;
    if (json) {
        printf("{\"index\":");
        json_string(stdout, dir, strlen(dir));
        printf(",\"documents\":%llu,\"terms\":%llu,\"postings\":%llu,"
               "\"tokens\":%llu,\"avg_doc_length\":%.2f,"
               "\"bytes\":{\"lexicon\":%llu,\"postings\":%llu,"
               "\"positions\":%llu,\"norms\":%llu,\"doc_table\":%llu,"
               "\"doc_store\":%llu,\"inverted\":%llu,\"total\":%llu},"
               "\"bits_per_posting\":%.3f,\"text_bytes\":%llu,"
               "\"index_to_text\":%.4f,\"language\":\"%s\","
               "\"stopwords\":%s}\n",
               (unsigned long long)s.docs, (unsigned long long)s.terms,
               (unsigned long long)s.postings, (unsigned long long)s.tokens,
               s.avgdl, (unsigned long long)s.bytes_lexicon,
               (unsigned long long)s.bytes_postings,
               (unsigned long long)s.bytes_positions,
               (unsigned long long)s.bytes_norms,
               (unsigned long long)s.bytes_doctable,
               (unsigned long long)s.bytes_docstore,
               (unsigned long long)inverted,
               (unsigned long long)s.bytes_total, bpp,
               (unsigned long long)s.text_bytes, ratio, s.language,
               s.stopwords ? "true" : "false");
        return EXIT_OKAY;
    }
    char a[32], h[32];
    printf("index          %s (%s)\n", dir, s.generation);
    printf("documents      %s\n", grouped(s.docs, a));
    printf("terms          %s\n", grouped(s.terms, a));
    printf("postings       %s\n", grouped(s.postings, a));
    printf("tokens         %s\n", grouped(s.tokens, a));
    printf("avg doc length %.1f tokens\n", s.avgdl);
    printf("analyzer       %s stemming, stopwords %s\n", s.language,
           s.stopwords ? "dropped" : "kept");
    printf("lexicon        %12s bytes  %s\n", grouped(s.bytes_lexicon, a),
           human((double)s.bytes_lexicon, h));
    printf("postings       %12s bytes  %s  (%.2f bits per posting)\n",
           grouped(s.bytes_postings, a), human((double)s.bytes_postings, h),
           bpp);
    printf("positions      %12s bytes  %s\n", grouped(s.bytes_positions, a),
           human((double)s.bytes_positions, h));
    printf("norms          %12s bytes  %s\n", grouped(s.bytes_norms, a),
           human((double)s.bytes_norms, h));
    printf("doc table      %12s bytes  %s\n", grouped(s.bytes_doctable, a),
           human((double)s.bytes_doctable, h));
    printf("doc store      %12s bytes  %s\n", grouped(s.bytes_docstore, a),
           human((double)s.bytes_docstore, h));
    printf("inverted index %12s bytes  %s  (lexicon+postings+positions+"
           "norms)\n", grouped(inverted, a), human((double)inverted, h));
    printf("total          %12s bytes  %s\n", grouped(s.bytes_total, a),
           human((double)s.bytes_total, h));
    printf("corpus text    %12s bytes  %s  (index is %.1f%% of it)\n",
           grouped(s.text_bytes, a), human((double)s.text_bytes, h),
           ratio * 100);
    return EXIT_OKAY;
}

static int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"index", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = default_index();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': dir = optarg; break;
        case 'h': fputs(usage_check, stdout); return EXIT_OKAY;
        default: return usage_error("check ", "bad option");
        }
    }
    if (optind != argc)
        return usage_error("check ", "check takes no arguments");
    as_index *ix;
    int rc = as_index_open(dir, &ix);
    if (rc)
        return fail(rc);
    double t0 = now();
    rc = as_index_check(ix);
    as_stats s;
    as_index_stats(ix, &s);
    as_index_close(ix);
    if (rc)
        return fail(rc);
    char a[32], b[32];
    printf("%s: sound (%s documents, %s terms; checked in %.2f s)\n", dir,
           grouped(s.docs, a), grouped(s.terms, b), now() - t0);
    return EXIT_OKAY;
}

/* ---- main --------------------------------------------------------------- */

static const char *help_for(const char *cmd)
{
    if (strcmp(cmd, "build") == 0)
        return usage_build;
    if (strcmp(cmd, "query") == 0)
        return usage_query;
    if (strcmp(cmd, "stats") == 0)
        return usage_stats;
    if (strcmp(cmd, "check") == 0)
        return usage_check;
    if (strcmp(cmd, "help") == 0)
        return usage_main;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(usage_main, stdout);
        return EXIT_OKAY;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("artsearch %s\n", ARTSEARCH_VERSION);
        return EXIT_OKAY;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            fputs(usage_main, stdout);
            return EXIT_OKAY;
        }
        const char *h = help_for(argv[2]);
        if (!h)
            return usage_error("", "no command '%s'", argv[2]);
        fputs(h, stdout);
        return EXIT_OKAY;
    }
    argc--;
    argv++;
    if (strcmp(cmd, "build") == 0)
        return cmd_build(argc, argv);
    if (strcmp(cmd, "query") == 0 || strcmp(cmd, "search") == 0)
        return cmd_query(argc, argv);
    if (strcmp(cmd, "stats") == 0)
        return cmd_stats(argc, argv);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc, argv);
    return usage_error("", "no command '%s'", cmd);
}
