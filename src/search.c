/* search.c - BM25 with MaxScore over the postings cursors. */
#include "search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"

double search_idf(uint64_t n, uint64_t df)
{
    return log(1.0 + ((double)n - (double)df + 0.5) / ((double)df + 0.5));
}

/* ---- Top-k heap: a min-heap whose root is the worst hit kept. ---------- */

/* a is worse than b: lower score, or equal score and higher doc. */
static int worse(const search_hit *a, const search_hit *b)
{
    return a->score < b->score || (a->score == b->score && a->doc > b->doc);
}

typedef struct {
    search_hit *h;
    size_t n, cap;
} heap;

static void sift_down(heap *hp, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < hp->n && worse(&hp->h[l], &hp->h[m]))
            m = l;
        if (r < hp->n && worse(&hp->h[r], &hp->h[m]))
            m = r;
        if (m == i)
            return;
        search_hit t = hp->h[i];
        hp->h[i] = hp->h[m];
        hp->h[m] = t;
        i = m;
    }
}

static void heap_push(heap *hp, uint32_t doc, double score)
{
    search_hit x = {doc, score};
    if (hp->n < hp->cap) {
        size_t i = hp->n++;
        hp->h[i] = x;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(&hp->h[i], &hp->h[p]))
                break;
            search_hit t = hp->h[i];
            hp->h[i] = hp->h[p];
            hp->h[p] = t;
            i = p;
        }
    } else if (worse(&hp->h[0], &x)) {
        hp->h[0] = x;
        sift_down(hp, 0);
    }
}

static int hit_order(const void *a, const void *b)
{
    const search_hit *x = a, *y = b;
    if (worse(x, y))
        return 1;
    if (worse(y, x))
        return -1;
    return 0;
}

/* ---- Scoring ------------------------------------------------------------ */

typedef struct {
    seg_cursor c;
    double w;           /* qtf * idf */
    double wk;          /* w * (k1 + 1) */
    double ub;          /* upper bound of w * tfnorm over the postings */
} term_state;

/* Upper bound of tf*(k1+1)/(tf + K(dl)) over the whole term. */
static double term_bound(const seg_cursor *c, const search_params *p,
                         double avgdl)
{
    int defaults = p->k1 == SEG_DEFAULT_K1 && p->b == SEG_DEFAULT_B;
    double best = 0;
    for (uint32_t k = 0; k < c->nblocks; k++) {
        uint32_t last, max_tf, min_dl;
        float bound;
        seg_block_info(c, k, &last, &max_tf, &min_dl, &bound);
        double v;
        if (defaults && bound >= 0)
            v = (double)bound * (1 + 1e-6);  /* float rounding margin */
        else
            v = max_tf * (p->k1 + 1) /
                (max_tf + p->k1 * (1 - p->b + p->b * min_dl / avgdl));
        if (v > best)
            best = v;
    }
    return best;
}

/* Below this many postings in all, a pruned query's matches are counted
 * exactly by a second, score-free pass; above it they are estimated. */
#define EXACT_COUNT_POSTINGS 65536

/* Count the documents matching any term (ts: scratch cursors). */
static int count_union(const segment *s, const search_term *terms,
                       size_t nterms, term_state *ts, uint64_t *total)
{
    for (size_t i = 0; i < nterms; i++) {
        int rc = seg_cursor_init(&ts[i].c, s, &terms[i].t);
        if (rc)
            return rc;
    }
    uint64_t n = 0;
    for (;;) {
        uint32_t doc = SEG_DOC_END;
        for (size_t i = 0; i < nterms; i++)
            if (ts[i].c.doc < doc)
                doc = ts[i].c.doc;
        if (doc == SEG_DOC_END)
            break;
        n++;
        for (size_t i = 0; i < nterms; i++)
            if (ts[i].c.doc == doc)
                seg_cursor_next(&ts[i].c);
    }
    *total = n;
    return AS_OK;
}

int search_count(const segment *s, const search_term *terms, size_t nterms,
                 uint64_t *total)
{
    *total = 0;
    if (nterms == 0)
        return AS_OK;
    term_state *ts = mem_calloc(nterms, sizeof *ts);
    if (!ts)
        return err_set(AS_ERR_NOMEM, "out of memory");
    int rc = count_union(s, terms, nterms, ts, total);
    for (size_t i = 0; i < nterms && rc == AS_OK; i++)
        if (ts[i].c.bad)
            rc = err_set(AS_ERR_CORRUPT, "%s/postings.pst: postings do not "
                         "decode", s->dir);
    mem_free(ts);
    return rc;
}

static int by_bound(const void *a, const void *b)
{
    const term_state *x = *(term_state *const *)a;
    const term_state *y = *(term_state *const *)b;
    return x->ub < y->ub ? -1 : x->ub > y->ub;
}

int search_rank(const segment *s, double avgdl, const search_term *terms,
                size_t nterms, const search_params *p, search_hit *hits,
                size_t *nhits, uint64_t *total, int *estimate)
{
    *nhits = 0;
    *total = 0;
    *estimate = 0;
    if (nterms == 0 || p->k == 0 || avgdl <= 0)
        return AS_OK;
    term_state *ts = mem_calloc(nterms, sizeof *ts);
    term_state **ord = mem_calloc(nterms, sizeof *ord);
    double *prefix = mem_calloc(nterms + 1, sizeof *prefix);
    heap hp = {hits, 0, p->k};
    int rc = AS_OK;
    if (!ts || !ord || !prefix) {
        rc = err_set(AS_ERR_NOMEM, "out of memory");
        goto out;
    }
    const double k1 = p->k1, bb = p->b;
    const double kA = k1 * (1 - bb), kB = k1 * bb / avgdl;
    for (size_t i = 0; i < nterms; i++) {
        if ((rc = seg_cursor_init(&ts[i].c, s, &terms[i].t)))
            goto out;
        ts[i].w = terms[i].qtf * terms[i].idf;
        ts[i].wk = ts[i].w * (k1 + 1);
        ts[i].ub = ts[i].w * term_bound(&ts[i].c, p, avgdl);
        ord[i] = &ts[i];
    }
    qsort(ord, nterms, sizeof *ord, by_bound);
    /* prefix[i] = sum of the bounds of ord[0..i) */
    for (size_t i = 0; i < nterms; i++)
        prefix[i + 1] = prefix[i] + ord[i]->ub;

    size_t first_essential = 0;     /* ord[first_essential..] essential */
    double theta = -1;              /* score to beat once the heap is full */
    uint64_t matched = 0;
    int pruned = 0;
    for (;;) {
        /* The next candidate: the smallest doc among essential terms. */
        uint32_t doc = SEG_DOC_END;
        for (size_t i = first_essential; i < nterms; i++)
            if (ord[i]->c.doc < doc)
                doc = ord[i]->c.doc;
        if (doc == SEG_DOC_END)
            break;
        double K = kA + kB * seg_doclen(s, doc);
        double score = 0;
        for (size_t i = first_essential; i < nterms; i++) {
            seg_cursor *c = &ord[i]->c;
            if (c->doc == doc) {
                double tf = seg_cursor_tf(c);
                score += ord[i]->wk * tf / (tf + K);
                seg_cursor_next(c);
            }
        }
        /* Non-essential terms, best bound first, while they can matter. */
        for (size_t i = first_essential; i-- > 0;) {
            if (!p->exact_count && score + prefix[i + 1] <= theta)
                break;
            seg_cursor *c = &ord[i]->c;
            if (seg_cursor_seek(c, doc) == doc) {
                double tf = seg_cursor_tf(c);
                score += ord[i]->wk * tf / (tf + K);
            }
        }
        matched++;
        if (hp.n < hp.cap || score > theta) {
            heap_push(&hp, doc, score);
            if (hp.n == hp.cap) {
                theta = hp.h[0].score;
                /* Grow the non-essential set while its bounds sum to at
                 * most theta. */
                while (!p->exact_count && first_essential < nterms &&
                       prefix[first_essential + 1] <= theta) {
                    first_essential++;
                    pruned = 1;
                }
            }
        }
    }
    for (size_t i = 0; i < nterms; i++)
        if (ts[i].c.bad) {
            rc = err_set(AS_ERR_CORRUPT, "%s/postings.pst: postings do not "
                         "decode", s->dir);
            goto out;
        }
    qsort(hits, hp.n, sizeof *hits, hit_order);
    *nhits = hp.n;
    uint64_t sum_df = 0;
    for (size_t i = 0; i < nterms; i++)
        sum_df += terms[i].t.df;
    if (pruned && p->count && sum_df <= EXACT_COUNT_POSTINGS) {
        /* Cheap enough to count the union exactly with fresh cursors. */
        rc = count_union(s, terms, nterms, ts, total);
        if (rc)
            goto out;
    } else if (pruned) {
        /* Documents only in non-essential lists were not all visited:
         * estimate the union assuming independent terms. */
        double miss = 1;
        for (size_t i = 0; i < nterms; i++)
            miss *= 1 - (double)terms[i].t.df / (double)s->ndocs;
        uint64_t est = (uint64_t)llround((double)s->ndocs * (1 - miss));
        *total = est > matched ? est : matched;
        *estimate = 1;
    } else {
        *total = matched;
    }
out:
    mem_free(ts);
    mem_free(ord);
    mem_free(prefix);
    return rc;
}
