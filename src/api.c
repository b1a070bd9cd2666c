/* api.c - as_search and the results object of artsearch.h. */
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "artsearch.h"
#include "buf.h"
#include "err.h"
#include "index.h"
#include "mem.h"
#include "query.h"
#include "search.h"
#include "snippet.h"

#define MAX_QUERY_BYTES 65536
#define MAX_QUERY_TERMS QUERY_MAX_TERMS

struct as_results {
    as_hit *hits;
    size_t n;
    uint64_t total;
    int estimate;
    buf strings;            /* ids, titles, snippets, explanations */
    buf notice;
    buf spans;              /* as_span arrays */
};

const char *as_version(void)
{
    return ARTSEARCH_VERSION;
}

void as_query_opts_init(as_query_opts *o)
{
    memset(o, 0, sizeof *o);
    o->k = 10;
    o->k1 = 1.2;
    o->b = 0.75;
    o->snippets = 1;
    o->snippet_words = 30;
    o->count = 1;
    o->title_weight = AS_DEFAULT_TITLE_WEIGHT;
    o->title_b = AS_DEFAULT_TITLE_B;
}

const char *as_results_notice(const as_results *r)
{
    return r && r->notice.len ? (const char *)r->notice.p : NULL;
}

size_t as_results_count(const as_results *r)
{
    return r ? r->n : 0;
}

uint64_t as_results_total(const as_results *r, int *estimate)
{
    if (estimate)
        *estimate = r ? r->estimate : 0;
    return r ? r->total : 0;
}

const as_hit *as_results_hit(const as_results *r, size_t i)
{
    return r && i < r->n ? &r->hits[i] : NULL;
}

void as_results_free(as_results *r)
{
    if (!r)
        return;
    mem_free(r->hits);
    buf_free(&r->strings);
    buf_free(&r->spans);
    buf_free(&r->notice);
    mem_free(r);
}

/* Check a query's size and that it is not blank. */
static int check_query(const char *text, size_t *qlen)
{
    if (!text)
        return err_set(AS_ERR_USAGE, "no query");
    *qlen = strlen(text);
    if (*qlen > MAX_QUERY_BYTES)
        return err_set(AS_ERR_TOOLONG, "query of %zu bytes; the limit is "
                       "%d bytes", *qlen, MAX_QUERY_BYTES);
    for (size_t i = 0; i < *qlen; i++)
        if (!strchr(" \t\r\n\f\v", text[i]))
            return AS_OK;
    return err_set(AS_ERR_USAGE, "empty query");
}

static void params_init(const as_index *ix, const as_query_opts *o,
                        search_params *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->docs = ix->docs;
    sp->avgdl = ix->avgdl;
    sp->avgtl = ix->docs ? (double)ix->seg.title_total / (double)ix->docs
                         : 1;
    sp->k1 = o->k1;
    sp->b = o->b;
    sp->title_weight = o->title_weight;
    sp->title_b = o->title_b;
    sp->k = o->k + o->offset;
    sp->exact_count = o->exact_count;
    sp->count = o->count;
}

/* Parse the query and prepare it against the index. */
static int prepare(as_index *ix, analyzer *an, const char *text,
                   const search_params *sp, search_plan **pl, buf *notice)
{
    size_t qlen = 0;
    int rc = check_query(text, &qlen);
    if (rc)
        return rc;
    query *q = NULL;
    if ((rc = query_parse(an, text, qlen, &q)))
        return rc;
    rc = search_plan_new(&ix->seg, q, sp, pl, notice);
    query_free(q);
    return rc;
}

int as_count(as_index *ix, const char *text, uint64_t *count)
{
    *count = 0;
    analyzer *an = NULL;
    int rc = index_analyzer_get(ix, &an);
    if (rc)
        return rc;
    as_query_opts o;
    as_query_opts_init(&o);
    search_params sp;
    params_init(ix, &o, &sp);
    search_plan *pl = NULL;
    rc = prepare(ix, an, text, &sp, &pl, NULL);
    index_analyzer_put(ix, an);
    if (rc == AS_OK)
        rc = search_count(pl, count);
    search_plan_free(pl);
    return rc;
}

/* The distinct terms to highlight. */
typedef struct {
    const char *terms[MAX_QUERY_TERMS];
    uint32_t lens[MAX_QUERY_TERMS];
    size_t n;
} hl_terms;

static void add_hl(void *ctx, const char *t, size_t len)
{
    hl_terms *h = ctx;
    for (size_t i = 0; i < h->n; i++)
        if (h->lens[i] == len && memcmp(h->terms[i], t, len) == 0)
            return;
    if (h->n < MAX_QUERY_TERMS) {
        h->terms[h->n] = t;
        h->lens[h->n++] = (uint32_t)len;
    }
}

int as_search(as_index *ix, const char *text, const as_query_opts *opts,
              as_results **out)
{
    *out = NULL;
    as_query_opts defaults;
    if (!opts) {
        as_query_opts_init(&defaults);
        opts = &defaults;
    }
    if (!(opts->k1 >= 0 && opts->k1 <= 100) ||
        !(opts->b >= 0 && opts->b <= 1) ||
        !(opts->title_weight >= 0 && opts->title_weight <= 100) ||
        !(opts->title_b >= 0 && opts->title_b <= 1))
        return err_set(AS_ERR_USAGE, "k1 and the title weight must be in "
                       "[0, 100], b and the title b in [0, 1]");
    if ((uint64_t)opts->k + opts->offset > 1000000)
        return err_set(AS_ERR_USAGE, "at most 1,000,000 hits (k + offset)");

    analyzer *an = NULL;
    int rc = index_analyzer_get(ix, &an);
    if (rc)
        return rc;
    as_results *r = mem_calloc(1, sizeof *r);
    hl_terms *hl = mem_alloc(sizeof *hl);   /* 12 KiB: not zeroed */
    search_plan *pl = NULL;
    search_hit *hits = NULL;
    size_t (*offs)[5] = NULL;
    size_t *nspans = NULL;
    buf doc, snip, spans, expl;
    void *dctx = index_dctx_get(ix);
    buf_init(&doc);
    buf_init(&snip);
    buf_init(&spans);
    buf_init(&expl);
    if (!r || !hl) {
        rc = err_set(AS_ERR_NOMEM, "out of memory");
        goto out;
    }
    hl->n = 0;
    buf_init(&r->strings);
    buf_init(&r->spans);
    buf_init(&r->notice);
    search_params sp;
    params_init(ix, opts, &sp);
    if ((rc = prepare(ix, an, text, &sp, &pl, &r->notice)))
        goto out;
    buf_putc(&r->notice, 0);
    r->notice.len--;
    size_t k = (size_t)opts->k + opts->offset;
    hits = mem_calloc(k ? k : 1, sizeof *hits);
    if (!hits) {
        rc = err_set(AS_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t nhits;
    rc = search_rank(pl, &sp, hits, &nhits, &r->total, &r->estimate);
    if (rc)
        goto out;
    size_t from = opts->offset < nhits ? opts->offset : nhits;
    r->n = nhits - from;
    r->hits = mem_calloc(r->n ? r->n : 1, sizeof *r->hits);
    /* Fetch stored fields; record offsets, fix pointers at the end since
     * the buffers may move as they grow. */
    offs = mem_calloc(r->n ? r->n : 1, sizeof *offs);
    nspans = mem_calloc(r->n ? r->n : 1, sizeof *nspans);
    if (!r->hits || !offs || !nspans) {
        rc = err_set(AS_ERR_NOMEM, "out of memory");
        goto out;
    }
    search_plan_terms(pl, add_hl, hl);
    snippet_query sq = {hl->terms, hl->lens, hl->n};
    for (size_t i = 0; i < r->n && rc == AS_OK; i++) {
        const search_hit *h = &hits[from + i];
        seg_doc d;
        if ((rc = seg_doc_get(&ix->seg, h->doc,
                              opts->snippets ? &doc : NULL, &d, &dctx)))
            break;
        r->hits[i].docid = h->doc;
        r->hits[i].score = h->score;
        offs[i][0] = r->strings.len;
        buf_append(&r->strings, d.id, d.id_len);
        buf_putc(&r->strings, 0);
        offs[i][1] = r->strings.len;
        buf_append(&r->strings, d.title, d.title_len);
        buf_putc(&r->strings, 0);
        if (opts->snippets) {
            rc = snippet_make(an, d.text, d.text_len, &sq,
                              opts->snippet_words, &snip, &spans);
            if (rc) {
                rc = err_set(rc, "out of memory");
                break;
            }
            offs[i][2] = r->strings.len;
            buf_append(&r->strings, snip.p, snip.len);
            buf_putc(&r->strings, 0);
            offs[i][3] = r->spans.len;
            nspans[i] = spans.len / sizeof(as_span);
            buf_append(&r->spans, spans.p, spans.len);
        }
        if (opts->explain) {
            buf_clear(&expl);
            if ((rc = search_explain(pl, &sp, h->doc, &expl)))
                break;
            offs[i][4] = r->strings.len;
            buf_append(&r->strings, expl.p, expl.len);
            buf_putc(&r->strings, 0);
        }
        if (r->strings.err || r->spans.err)
            rc = err_set(AS_ERR_NOMEM, "out of memory");
    }
    if (rc == AS_OK) {
        for (size_t i = 0; i < r->n; i++) {
            r->hits[i].id = (const char *)r->strings.p + offs[i][0];
            r->hits[i].title = (const char *)r->strings.p + offs[i][1];
            if (opts->snippets) {
                r->hits[i].snippet = (const char *)r->strings.p + offs[i][2];
                r->hits[i].nspans = nspans[i];
                r->hits[i].spans =
                    nspans[i] ? (const as_span *)(r->spans.p + offs[i][3])
                              : NULL;
            }
            if (opts->explain)
                r->hits[i].explain = (const char *)r->strings.p + offs[i][4];
        }
    }
out:
    index_dctx_put(ix, dctx);
    index_analyzer_put(ix, an);
    buf_free(&doc);
    buf_free(&snip);
    buf_free(&spans);
    buf_free(&expl);
    mem_free(offs);
    mem_free(nspans);
    mem_free(hl);
    search_plan_free(pl);
    mem_free(hits);
    if (rc == AS_OK && r->notice.err)
        rc = err_set(AS_ERR_NOMEM, "out of memory");
    if (rc) {
        as_results_free(r);
        return rc;
    }
    *out = r;
    return AS_OK;
}
