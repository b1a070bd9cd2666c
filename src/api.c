/* api.c - as_search and the results object of artsearch.h. */
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "artsearch.h"
#include "buf.h"
#include "err.h"
#include "index.h"
#include "mem.h"
#include "search.h"
#include "snippet.h"

#define MAX_QUERY_BYTES 65536
#define MAX_QUERY_TERMS 1000

struct as_results {
    as_hit *hits;
    size_t n;
    uint64_t total;
    int estimate;
    buf strings;            /* ids, titles, snippets */
    buf spans;              /* as_span arrays */
};

void as_query_opts_init(as_query_opts *o)
{
    memset(o, 0, sizeof *o);
    o->k = 10;
    o->k1 = 1.2;
    o->b = 0.75;
    o->snippets = 1;
    o->snippet_words = 30;
    o->count = 1;
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
    mem_free(r);
}

/* The analyzed query: distinct terms with their counts. */
typedef struct {
    buf text;               /* term bytes */
    uint32_t off[MAX_QUERY_TERMS], len[MAX_QUERY_TERMS], qtf[MAX_QUERY_TERMS];
    size_t n, tokens;
    int too_many;
} query_terms;

static int on_query_token(void *ctx, const an_token *t)
{
    query_terms *q = ctx;
    if (++q->tokens > MAX_QUERY_TERMS) {
        q->too_many = 1;
        return AS_ERR_TOOLONG;
    }
    for (size_t i = 0; i < q->n; i++)
        if (q->len[i] == t->len &&
            memcmp(q->text.p + q->off[i], t->term, t->len) == 0) {
            q->qtf[i]++;
            return 0;
        }
    q->off[q->n] = (uint32_t)q->text.len;
    q->len[q->n] = t->len;
    q->qtf[q->n] = 1;
    q->n++;
    buf_append(&q->text, t->term, t->len);
    return q->text.err ? AS_ERR_NOMEM : 0;
}

/* Check a query's size and that it is not blank. */
static int check_query(const char *query, size_t *qlen)
{
    if (!query)
        return err_set(AS_ERR_USAGE, "no query");
    *qlen = strlen(query);
    if (*qlen > MAX_QUERY_BYTES)
        return err_set(AS_ERR_TOOLONG, "query of %zu bytes; the limit is "
                       "%d bytes", *qlen, MAX_QUERY_BYTES);
    for (size_t i = 0; i < *qlen; i++)
        if (!strchr(" \t\r\n\f\v", query[i]))
            return AS_OK;
    return err_set(AS_ERR_USAGE, "empty query");
}

/* Analyze the query and look its terms up: st gets the terms found (room
 * for q->n). */
static int prepare(as_index *ix, analyzer *an, const char *query,
                   size_t qlen, query_terms *q, search_term **st,
                   size_t *nst)
{
    uint32_t pos = 0;
    int rc = analyzer_run(an, query, qlen, &pos, on_query_token, q);
    if (q->too_many)
        return err_set(AS_ERR_TOOLONG, "query of more than %d terms",
                       MAX_QUERY_TERMS);
    if (rc)
        return err_set(AS_ERR_NOMEM, "out of memory");
    *st = mem_calloc(q->n ? q->n : 1, sizeof **st);
    if (!*st)
        return err_set(AS_ERR_NOMEM, "out of memory");
    *nst = 0;
    for (size_t i = 0; i < q->n; i++) {
        seg_term t;
        int lr = seg_lookup(&ix->seg, (const char *)q->text.p + q->off[i],
                            q->len[i], &t);
        if (lr == AS_ERR_NOTFOUND)
            continue;
        if (lr)
            return lr;
        search_term *x = &(*st)[(*nst)++];
        x->t = t;
        x->qtf = q->qtf[i];
        x->idf = search_idf(ix->docs, t.df);
    }
    return AS_OK;
}

int as_count(as_index *ix, const char *query, uint64_t *count)
{
    *count = 0;
    size_t qlen;
    int rc = check_query(query, &qlen);
    if (rc)
        return rc;
    analyzer *an = NULL;
    if ((rc = index_analyzer_get(ix, &an)))
        return rc;
    query_terms *q = mem_calloc(1, sizeof *q);
    search_term *st = NULL;
    size_t nst = 0;
    if (!q) {
        rc = err_set(AS_ERR_NOMEM, "out of memory");
    } else {
        buf_init(&q->text);
        rc = prepare(ix, an, query, qlen, q, &st, &nst);
        if (rc == AS_OK)
            rc = search_count(&ix->seg, st, nst, count);
        buf_free(&q->text);
    }
    index_analyzer_put(ix, an);
    mem_free(q);
    mem_free(st);
    return rc;
}

int as_search(as_index *ix, const char *query, const as_query_opts *opts,
              as_results **out)
{
    *out = NULL;
    as_query_opts defaults;
    if (!opts) {
        as_query_opts_init(&defaults);
        opts = &defaults;
    }
    size_t qlen;
    int rc = check_query(query, &qlen);
    if (rc)
        return rc;
    if (!(opts->k1 >= 0 && opts->k1 <= 100) ||
        !(opts->b >= 0 && opts->b <= 1))
        return err_set(AS_ERR_USAGE, "k1 must be in [0, 100] and b in "
                       "[0, 1]");
    if ((uint64_t)opts->k + opts->offset > 1000000)
        return err_set(AS_ERR_USAGE, "at most 1,000,000 hits (k + offset)");

    analyzer *an = NULL;
    if ((rc = index_analyzer_get(ix, &an)))
        return rc;
    query_terms *q = mem_calloc(1, sizeof *q);
    as_results *r = mem_calloc(1, sizeof *r);
    search_term *st = NULL;
    search_hit *hits = NULL;
    if (!q || !r) {
        rc = err_set(AS_ERR_NOMEM, "out of memory");
        goto out;
    }
    buf_init(&q->text);
    buf_init(&r->strings);
    buf_init(&r->spans);
    size_t nst = 0;
    if ((rc = prepare(ix, an, query, qlen, q, &st, &nst)))
        goto out;
    size_t k = (size_t)opts->k + opts->offset;
    hits = mem_calloc(k ? k : 1, sizeof *hits);
    if (!hits) {
        rc = err_set(AS_ERR_NOMEM, "out of memory");
        goto out;
    }
    search_params sp = {opts->k1, opts->b, (uint32_t)k, opts->exact_count,
                        opts->count};
    size_t nhits;
    rc = search_rank(&ix->seg, ix->avgdl, st, nst, &sp, hits, &nhits,
                     &r->total, &r->estimate);
    if (rc)
        goto out;
    size_t from = opts->offset < nhits ? opts->offset : nhits;
    r->n = nhits - from;
    r->hits = mem_calloc(r->n ? r->n : 1, sizeof *r->hits);
    if (!r->hits) {
        rc = err_set(AS_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* Fetch stored fields; record offsets, fix pointers at the end since
     * the buffers may move as they grow. */
    size_t (*offs)[4] = mem_calloc(r->n ? r->n : 1, sizeof *offs);
    size_t *nspans = mem_calloc(r->n ? r->n : 1, sizeof *nspans);
    const char *terms[MAX_QUERY_TERMS];
    for (size_t i = 0; i < q->n; i++)
        terms[i] = (const char *)q->text.p + q->off[i];
    snippet_query sq = {terms, q->len, q->n};
    buf meta, doc, snip, spans;
    buf_init(&meta);
    buf_init(&doc);
    buf_init(&snip);
    buf_init(&spans);
    if (!offs || !nspans)
        rc = err_set(AS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n && rc == AS_OK; i++) {
        const search_hit *h = &hits[from + i];
        seg_doc d;
        if ((rc = seg_doc_get(&ix->seg, h->doc, &meta,
                              opts->snippets ? &doc : NULL, &d)))
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
        }
    }
    buf_free(&meta);
    buf_free(&doc);
    buf_free(&snip);
    buf_free(&spans);
    mem_free(offs);
    mem_free(nspans);
out:
    index_analyzer_put(ix, an);
    if (q)
        buf_free(&q->text);
    mem_free(q);
    mem_free(st);
    mem_free(hits);
    if (rc) {
        as_results_free(r);
        return rc;
    }
    *out = r;
    return AS_OK;
}
