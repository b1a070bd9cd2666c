/* search.c - BM25F: block-max MaxScore for plain queries, query trees
 * exhaustively. */
#include "search.h"

#include <math.h>
#include <stdio.h>
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

/* MaxScore's step for a candidate that can enter the top k: push it;
 * once the heap is full, the new threshold grows the non-essential set
 * (the first *first_essential clauses, best bound last) while their bounds
 * sum to at most it.  Returns the threshold (-1 while the heap fills). */
static inline double offer(heap *hp, uint32_t doc, double score,
                           const double *prefix, size_t n, int exact_count,
                           size_t *first_essential, int *pruned)
{
    heap_push(hp, doc, score);
    if (hp->n < hp->cap)
        return -1;
    double theta = hp->h[0].score;
    while (!exact_count && *first_essential < n &&
           prefix[*first_essential + 1] <= theta) {
        (*first_essential)++;
        *pruned = 1;
    }
    return theta;
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

/* ---- The plan ----------------------------------------------------------- */

enum { SN_TERM, SN_PHRASE, SN_GROUP };

typedef struct snode snode;
struct snode {
    int type, occur;
    int title;              /* title field only */
    size_t name, name_len;  /* the clause as text, in plan->names */
    /* SN_TERM: the text-field term and the title-field term; a title:
     * term has only the latter.  A cursor is NULL when its term is absent
     * (no cursor at all: the clause matches nothing). */
    seg_term ta, tt;
    seg_cursor *ca, *ct;
    uint32_t qtf;
    double idf;
    /* SN_PHRASE: np terms of one field at relative positions prel */
    seg_term *pt;
    seg_cursor *pc;
    uint32_t *prel, np;
    uint32_t **ppos, *pcap;
    uint32_t pf;            /* phrase occurrences in doc */
    int empty;              /* a word of the phrase is absent */
    /* SN_GROUP */
    snode **kids;
    size_t nkids, nmust;
    /* evaluation */
    uint32_t doc;
    int started;
};

struct search_plan {
    const segment *s;
    snode *root;
    snode **all;            /* every node, for resetting and freeing */
    size_t nall, capall;
    buf names;
    int rc;                 /* a decoding error met during evaluation */
    /* Set by evaluation: the constants of BM25F. */
    double k1, b, bt, wt, avgdl, avgtl;
    double K0, K1;          /* k1 (1 - b) and k1 b / avgdl (text_K) */
};

static snode *node_new(search_plan *pl, int type, int occur, int title)
{
    if (pl->nall == pl->capall) {
        size_t cap = pl->capall ? pl->capall * 2 : 16;
        snode **v = mem_realloc(pl->all, cap * sizeof *v);
        if (!v)
            return NULL;
        pl->all = v;
        pl->capall = cap;
    }
    snode *n = mem_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    pl->all[pl->nall++] = n;
    n->type = type;
    n->occur = occur;
    n->title = title;
    n->qtf = 1;
    return n;
}

static int add_kid(snode *g, snode *k)
{
    if ((g->nkids & (g->nkids - 1)) == 0) {     /* 0 or a power of two */
        size_t cap = g->nkids ? g->nkids * 2 : 4;
        snode **v = mem_realloc(g->kids, cap * sizeof *v);
        if (!v)
            return err_set(AS_ERR_NOMEM, "out of memory");
        g->kids = v;
    }
    g->kids[g->nkids++] = k;
    if (k->occur == Q_MUST)
        g->nmust++;
    return AS_OK;
}

static void set_name(search_plan *pl, snode *n, const char *prefix,
                     const char *t, size_t len, const char *suffix)
{
    n->name = pl->names.len;
    buf_append(&pl->names, prefix, strlen(prefix));
    buf_append(&pl->names, t, len);
    buf_append(&pl->names, suffix, strlen(suffix));
    n->name_len = pl->names.len - n->name;
}

/* Look a term up in the text field, or the title field. */
static int lookup(const segment *s, const char *t, size_t len, int title,
                  seg_term *out)
{
    if (!title)
        return seg_lookup(s, t, len, out);
    char key[AN_MAX_TERM + 2];
    if (len > AN_MAX_TERM)
        return AS_ERR_NOTFOUND;
    key[0] = SEG_TITLE_MARK;
    memcpy(key + 1, t, len);
    return seg_lookup(s, key, len + 1, out);
}

static seg_cursor *cursor_new(void)
{
    return mem_calloc(1, sizeof(seg_cursor));
}

/* A term clause: term t in the text field (with its title-field twin
 * when the title counts), or in the title field alone. */
static int term_node(search_plan *pl, const search_params *p, snode *n,
                     const char *t, size_t len)
{
    int rc;
    uint64_t N = pl->s->ndocs;
    set_name(pl, n, n->title ? "title:" : "", t, len, "");
    if (!n->title) {
        rc = lookup(pl->s, t, len, 0, &n->ta);
        if (rc == AS_ERR_NOTFOUND)
            return AS_OK;
        if (rc)
            return rc;
        n->idf = search_idf(N, n->ta.df);
        if (!(n->ca = cursor_new()))
            return err_set(AS_ERR_NOMEM, "out of memory");
        if (!(p->title_weight > 0))
            return AS_OK;
    }
    rc = lookup(pl->s, t, len, 1, &n->tt);
    if (rc == AS_ERR_NOTFOUND)
        return AS_OK;
    if (rc)
        return rc;
    if (n->title)
        n->idf = search_idf(N, n->tt.df);
    if (!(n->ct = cursor_new()))
        return err_set(AS_ERR_NOMEM, "out of memory");
    return AS_OK;
}

typedef struct {
    const char *prefix;
    size_t len;
    int title;
    seg_term *terms;        /* kept: the most frequent, a min-heap by df */
    char (*names)[AN_MAX_TERM + 1];
    uint32_t *name_len;
    size_t n;
    uint64_t matched;
} expand_ctx;

static void exp_swap(expand_ctx *e, size_t a, size_t b)
{
    seg_term t = e->terms[a];
    e->terms[a] = e->terms[b];
    e->terms[b] = t;
    char nm[AN_MAX_TERM + 1];
    memcpy(nm, e->names[a], sizeof nm);
    memcpy(e->names[a], e->names[b], sizeof nm);
    memcpy(e->names[b], nm, sizeof nm);
    uint32_t l = e->name_len[a];
    e->name_len[a] = e->name_len[b];
    e->name_len[b] = l;
}

static void exp_sift(expand_ctx *e, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < e->n && e->terms[l].df < e->terms[m].df)
            m = l;
        if (r < e->n && e->terms[r].df < e->terms[m].df)
            m = r;
        if (m == i)
            return;
        exp_swap(e, i, m);
        i = m;
    }
}

static int expand_fn(void *ctx, const char *term, size_t len,
                     const seg_term *t)
{
    expand_ctx *e = ctx;
    if (len < e->len || memcmp(term, e->prefix, e->len) != 0)
        return 1;           /* past the prefix */
    e->matched++;
    size_t at;
    if (e->n < SEARCH_MAX_EXPANSIONS) {
        at = e->n++;
    } else if (t->df > e->terms[0].df) {
        at = 0;
    } else {
        return 0;
    }
    size_t skip = e->title ? 1 : 0;
    e->terms[at] = *t;
    e->name_len[at] = (uint32_t)(len - skip);
    memcpy(e->names[at], term + skip, len - skip);
    if (at == 0 && e->n == SEARCH_MAX_EXPANSIONS) {
        exp_sift(e, 0);
    } else if (e->n == SEARCH_MAX_EXPANSIONS) {
        for (size_t i = e->n / 2; i-- > 0;)
            exp_sift(e, i);
    }
    return 0;
}

/* A prefix: a group of the index terms starting with it, each a term
 * clause. */
static int prefix_node(search_plan *pl, const search_params *p, snode *g,
                       const char *t, size_t len, buf *notice)
{
    char key[AN_MAX_TERM + 2];
    size_t klen = 0;
    if (g->title)
        key[klen++] = SEG_TITLE_MARK;
    memcpy(key + klen, t, len);
    klen += len;
    expand_ctx e = {key, klen, g->title, NULL, NULL, NULL, 0, 0};
    e.terms = mem_calloc(SEARCH_MAX_EXPANSIONS, sizeof *e.terms);
    e.names = mem_calloc(SEARCH_MAX_EXPANSIONS, sizeof *e.names);
    e.name_len = mem_calloc(SEARCH_MAX_EXPANSIONS, sizeof *e.name_len);
    int rc = AS_OK;
    if (!e.terms || !e.names || !e.name_len)
        rc = err_set(AS_ERR_NOMEM, "out of memory");
    if (rc == AS_OK) {
        rc = seg_terms_from(pl->s, key, klen, expand_fn, &e);
        if (rc == 1)
            rc = AS_OK;
    }
    if (rc == AS_OK && e.matched > e.n && notice) {
        char m[512];
        snprintf(m, sizeof m, "%s%.*s* matches %llu terms; the %zu most "
                 "frequent were used", g->title ? "title:" : "", (int)len, t,
                 (unsigned long long)e.matched, e.n);
        if (notice->len)
            buf_append(notice, "; ", 2);
        buf_append(notice, m, strlen(m));
    }
    for (size_t i = 0; i < e.n && rc == AS_OK; i++) {
        snode *k = node_new(pl, SN_TERM, Q_SHOULD, g->title);
        if (!k || add_kid(g, k))
            rc = err_set(AS_ERR_NOMEM, "out of memory");
        else
            rc = term_node(pl, p, k, e.names[i], e.name_len[i]);
    }
    mem_free(e.terms);
    mem_free(e.names);
    mem_free(e.name_len);
    return rc;
}

static int phrase_node(search_plan *pl, const query *q, const qnode *x,
                       snode *n)
{
    n->np = x->n;
    n->pt = mem_calloc(n->np, sizeof *n->pt);
    n->pc = mem_calloc(n->np, sizeof *n->pc);
    n->prel = mem_calloc(n->np, sizeof *n->prel);
    n->ppos = mem_calloc(n->np, sizeof *n->ppos);
    n->pcap = mem_calloc(n->np, sizeof *n->pcap);
    if (!n->pt || !n->pc || !n->prel || !n->ppos || !n->pcap)
        return err_set(AS_ERR_NOMEM, "out of memory");
    n->name = pl->names.len;
    buf_append(&pl->names, n->title ? "title:\"" : "\"", n->title ? 7 : 1);
    for (uint32_t i = 0; i < n->np; i++) {
        uint32_t len;
        const char *t = query_term(q, x->first + i, &len);
        buf_append(&pl->names, t, len);
        buf_putc(&pl->names, i + 1 < n->np ? ' ' : '"');
        n->prel[i] = q->terms[x->first + i].pos;
        int rc = lookup(pl->s, t, len, n->title, &n->pt[i]);
        if (rc == AS_ERR_NOTFOUND)
            n->empty = 1;
        else if (rc)
            return rc;
        else
            n->idf += search_idf(pl->s->ndocs, n->pt[i].df);
    }
    n->name_len = pl->names.len - n->name;
    return AS_OK;
}

static int build(search_plan *pl, const query *q, const search_params *p,
                 int32_t x, snode *parent, buf *notice)
{
    const qnode *qn = &q->nodes[x];
    static const int types[] = {[QN_TERM] = SN_TERM, [QN_PHRASE] = SN_PHRASE,
                                [QN_PREFIX] = SN_GROUP, [QN_GROUP] = SN_GROUP};
    snode *n = node_new(pl, types[qn->type], qn->occur, qn->title);
    if (!n)
        return err_set(AS_ERR_NOMEM, "out of memory");
    int rc = AS_OK;
    if (parent && (rc = add_kid(parent, n)))
        return rc;
    if (!parent)
        pl->root = n;
    uint32_t len = 0;
    const char *t = qn->n ? query_term(q, qn->first, &len) : NULL;
    switch (qn->type) {
    case QN_TERM:
        rc = term_node(pl, p, n, t, len);
        break;
    case QN_PHRASE:
        rc = phrase_node(pl, q, qn, n);
        break;
    case QN_PREFIX:
        rc = prefix_node(pl, p, n, t, len, notice);
        break;
    default:
        for (int32_t k = qn->kid; k >= 0 && rc == AS_OK; k = q->nodes[k].next)
            rc = build(pl, q, p, k, n, notice);
    }
    return rc;
}

/* A plain query: repeated terms become one with qtf > 1. */
static void merge_repeats(search_plan *pl)
{
    snode *g = pl->root;
    size_t out = 0;
    for (size_t i = 0; i < g->nkids; i++) {
        snode *k = g->kids[i];
        size_t j;
        for (j = 0; j < out; j++)
            if (g->kids[j]->name_len == k->name_len &&
                memcmp(pl->names.p + g->kids[j]->name, pl->names.p + k->name,
                       k->name_len) == 0)
                break;
        if (j < out)
            g->kids[j]->qtf++;
        else
            g->kids[out++] = k;
    }
    g->nkids = out;
}

void search_plan_free(search_plan *pl)
{
    if (!pl)
        return;
    for (size_t i = 0; i < pl->nall; i++) {
        snode *n = pl->all[i];
        mem_free(n->ca);
        mem_free(n->ct);
        mem_free(n->pt);
        mem_free(n->pc);
        mem_free(n->prel);
        for (uint32_t k = 0; n->ppos && k < n->np; k++)
            mem_free(n->ppos[k]);
        mem_free(n->ppos);
        mem_free(n->pcap);
        mem_free(n->kids);
        mem_free(n);
    }
    mem_free(pl->all);
    buf_free(&pl->names);
    mem_free(pl);
}

int search_plan_new(const segment *s, const query *q, const search_params *p,
                    search_plan **out, buf *notice)
{
    *out = NULL;
    search_plan *pl = mem_calloc(1, sizeof *pl);
    if (!pl)
        return err_set(AS_ERR_NOMEM, "out of memory");
    pl->s = s;
    buf_init(&pl->names);
    int rc = AS_OK;
    if (q->root >= 0)
        rc = build(pl, q, p, q->root, NULL, notice);
    if (rc == AS_OK && pl->names.err)
        rc = err_set(AS_ERR_NOMEM, "out of memory");
    if (rc == AS_OK && q->flat && pl->root)
        merge_repeats(pl);
    if (rc) {
        search_plan_free(pl);
        return rc;
    }
    *out = pl;
    return AS_OK;
}

/* Every cursor back to its list's start. */
static int reset(search_plan *pl, const search_params *p)
{
    pl->k1 = p->k1;
    pl->b = p->b;
    pl->bt = p->title_b;
    pl->wt = p->title_weight;
    pl->avgdl = p->avgdl > 0 ? p->avgdl : 1;
    pl->avgtl = p->avgtl > 0 ? p->avgtl : 1;
    pl->K0 = pl->k1 * (1 - pl->b);
    pl->K1 = pl->k1 * pl->b / pl->avgdl;
    pl->rc = AS_OK;
    for (size_t i = 0; i < pl->nall; i++) {
        snode *n = pl->all[i];
        n->started = 0;
        n->doc = 0;
        int rc = AS_OK;
        if (n->ca)
            rc = seg_cursor_init(n->ca, pl->s, &n->ta);
        if (rc == AS_OK && n->ct)
            rc = seg_cursor_init(n->ct, pl->s, &n->tt);
        for (uint32_t k = 0; rc == AS_OK && !n->empty && k < n->np; k++)
            rc = seg_cursor_init(&n->pc[k], pl->s, &n->pt[k]);
        if (rc)
            return rc;
    }
    return AS_OK;
}

static int damaged(const search_plan *pl)
{
    if (pl->rc)
        return pl->rc;
    for (size_t i = 0; i < pl->nall; i++) {
        const snode *n = pl->all[i];
        int bad = (n->ca && n->ca->bad) || (n->ct && n->ct->bad);
        for (uint32_t k = 0; !n->empty && k < n->np; k++)
            bad |= n->pc[k].bad;
        if (bad)
            return err_set(AS_ERR_CORRUPT, "%s/postings.pst: postings do "
                           "not decode", pl->s->dir);
    }
    return AS_OK;
}

/* ---- Scoring ------------------------------------------------------------ */

/* x * (k1 + 1) / (x + k1), also for an unbounded x. */
static double saturate(double x, double k1)
{
    return x > 0 ? (k1 + 1) / (1 + k1 / x) : 0;
}

static double norm_text(const search_plan *pl, uint32_t doc)
{
    double B = 1 - pl->b + pl->b * seg_doclen(pl->s, doc) / pl->avgdl;
    return B > 1e-9 ? B : 1e-9;
}

static double norm_title(const search_plan *pl, uint32_t doc)
{
    double B = 1 - pl->bt + pl->bt * seg_titlelen(pl->s, doc) / pl->avgtl;
    return B > 1e-9 ? B : 1e-9;
}

/* The tf / B whose saturation is a stored bound f. */
static double block_x_of(float bound, double k1)
{
    double f = (double)bound * (1 + 1e-6);          /* float rounding */
    return f >= k1 + 1 ? INFINITY : k1 * f / (k1 + 1 - f);
}

/* Upper bound of tf / B over block k of a cursor.  When the stored bound
 * was made with the parameters in use it is inverted (it is
 * saturate(tf / B) at its best), else max tf over min B. */
static double block_x(const seg_cursor *c, uint32_t k, double k1, double b,
                      double avg, int stored)
{
    uint32_t last, max_tf, min_dl;
    float bound;
    seg_block_info(c, k, &last, &max_tf, &min_dl, &bound);
    if (stored && bound >= 0)
        return block_x_of(bound, k1);
    double B = 1 - b + b * min_dl / avg;
    return max_tf / (B > 1e-9 ? B : 1e-9);
}

/* Upper bound of tf / B over blocks [from, to] of a cursor.  With stored
 * bounds, the largest is found first: its inversion grows with it. */
static double blocks_x(const seg_cursor *c, uint32_t from, uint32_t to,
                       double k1, double b, double avg, int stored)
{
    if (stored && c->skips) {
        float f;
        if (seg_blocks_bound(c, from, to, &f))
            return block_x_of(f, k1);
    }
    double best = 0;
    for (uint32_t k = from; k <= to; k++) {
        double x = block_x(c, k, k1, b, avg, stored);
        if (x > best)
            best = x;
    }
    return best;
}

/* Upper bound of tf / B over a cursor's postings, from its blocks. */
static double x_bound(const seg_cursor *c, double k1, double b, double avg,
                      int stored)
{
    return c->nblocks ? blocks_x(c, 0, c->nblocks - 1, k1, b, avg, stored)
                      : 0;
}

static uint32_t node_next(search_plan *pl, snode *n, uint32_t target);

/* Occurrences of the phrase in the document all its cursors are on. */
static uint32_t phrase_count(search_plan *pl, snode *n)
{
    for (uint32_t i = 0; i < n->np; i++) {
        uint32_t tf = seg_cursor_tf(&n->pc[i]);
        if (tf > n->pcap[i]) {
            uint32_t *v = mem_realloc(n->ppos[i], (size_t)tf * sizeof *v);
            if (!v) {
                pl->rc = err_set(AS_ERR_NOMEM, "out of memory");
                return 0;
            }
            n->ppos[i] = v;
            n->pcap[i] = tf;
        }
        int rc = seg_positions(&n->pc[i], n->ppos[i], tf);
        if (rc) {
            pl->rc = rc;
            return 0;
        }
    }
    uint32_t count = 0, tf0 = seg_cursor_tf(&n->pc[0]);
    uint32_t at[QUERY_MAX_TERMS] = {0};
    for (uint32_t j = 0; j < tf0; j++) {
        uint64_t base = n->ppos[0][j];
        uint32_t i;
        for (i = 1; i < n->np; i++) {
            uint64_t want = base + n->prel[i];
            uint32_t tf = seg_cursor_tf(&n->pc[i]);
            while (at[i] < tf && n->ppos[i][at[i]] < want)
                at[i]++;
            if (at[i] >= tf || n->ppos[i][at[i]] != want)
                break;
        }
        count += i == n->np;
    }
    return count;
}

/* The first doc >= d that n parts all reach: adv(ctx, i, d) moves part i
 * to its first doc >= d (a part that does not constrain returns d). */
static uint32_t leapfrog(size_t n, uint32_t d,
                         uint32_t (*adv)(void *ctx, size_t i, uint32_t d),
                         void *ctx)
{
    int moved;
    do {
        moved = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t x = adv(ctx, i, d);
            if (x == SEG_DOC_END)
                return SEG_DOC_END;
            if (x > d) {
                d = x;
                moved = 1;
            }
        }
    } while (moved);
    return d;
}

static uint32_t adv_phrase(void *ctx, size_t i, uint32_t d)
{
    return seg_cursor_seek(&((snode *)ctx)->pc[i], d);
}

typedef struct {
    search_plan *pl;
    snode *g;
} group_ctx;

static uint32_t adv_must(void *ctx, size_t i, uint32_t d)
{
    group_ctx *c = ctx;
    snode *k = c->g->kids[i];
    return k->occur == Q_MUST ? node_next(c->pl, k, d) : d;
}

static uint32_t phrase_next(search_plan *pl, snode *n, uint32_t d)
{
    if (n->empty)
        return SEG_DOC_END;
    for (;;) {
        if ((d = leapfrog(n->np, d, adv_phrase, n)) == SEG_DOC_END)
            return d;
        if ((n->pf = phrase_count(pl, n)) > 0)
            return d;
        if (pl->rc || d + 1 == SEG_DOC_END)
            return SEG_DOC_END;
        d++;
    }
}

static uint32_t group_next(search_plan *pl, snode *g, uint32_t target)
{
    for (;;) {
        uint32_t d = target;
        if (g->nmust) {
            group_ctx c = {pl, g};
            if ((d = leapfrog(g->nkids, d, adv_must, &c)) == SEG_DOC_END)
                return d;
        } else {
            d = SEG_DOC_END;
            for (size_t i = 0; i < g->nkids; i++) {
                if (g->kids[i]->occur != Q_SHOULD)
                    continue;
                uint32_t x = node_next(pl, g->kids[i], target);
                if (x < d)
                    d = x;
            }
            if (d == SEG_DOC_END)
                return d;
        }
        int excluded = 0;
        for (size_t i = 0; i < g->nkids && !excluded; i++)
            if (g->kids[i]->occur == Q_NOT &&
                node_next(pl, g->kids[i], d) == d)
                excluded = 1;
        if (!excluded || pl->rc)
            return pl->rc ? SEG_DOC_END : d;
        if (d + 1 == SEG_DOC_END)
            return SEG_DOC_END;
        target = d + 1;
    }
}

/* Move n to the first document >= target it matches.  Targets given to a
 * node never decrease, so a node already there stays. */
static uint32_t node_next(search_plan *pl, snode *n, uint32_t target)
{
    if (n->started && n->doc >= target)
        return n->doc;
    n->started = 1;
    switch (n->type) {
    case SN_TERM: {
        seg_cursor *c = n->ca ? n->ca : n->ct;
        return n->doc = c ? seg_cursor_seek(c, target) : SEG_DOC_END;
    }
    case SN_PHRASE:
        return n->doc = phrase_next(pl, n, target);
    default:
        return n->doc = group_next(pl, n, target);
    }
}

/* The parts of a term clause's score at doc (the cursor is on it). */
typedef struct {
    uint32_t tf, ttf;
    double B, Bt, x, score;
} term_parts;

static double term_score(search_plan *pl, snode *n, uint32_t doc,
                         term_parts *tp)
{
    term_parts z = {0, 0, 1, 1, 0, 0};
    if (n->ca && n->ca->doc == doc) {
        z.tf = seg_cursor_tf(n->ca);
        z.B = norm_text(pl, doc);
        z.x = z.tf / z.B;
    }
    if (n->ct && seg_cursor_seek(n->ct, doc) == doc) {
        z.ttf = seg_cursor_tf(n->ct);
        z.Bt = norm_title(pl, doc);
        z.x += (n->ca ? pl->wt : 1) * z.ttf / z.Bt;
    }
    z.score = n->qtf * n->idf * saturate(z.x, pl->k1);
    if (tp)
        *tp = z;
    return z.score;
}

static double phrase_score(search_plan *pl, snode *n, uint32_t doc,
                           double *B)
{
    double b = n->title ? norm_title(pl, doc) : norm_text(pl, doc);
    if (B)
        *B = b;
    return n->idf * saturate(n->pf / b, pl->k1);
}

/* The score of n at doc, which n is on. */
static double node_score(search_plan *pl, snode *n, uint32_t doc)
{
    if (n->type == SN_TERM)
        return term_score(pl, n, doc, NULL);
    if (n->type == SN_PHRASE)
        return phrase_score(pl, n, doc, NULL);
    double s = 0;
    for (size_t i = 0; i < n->nkids; i++) {
        snode *k = n->kids[i];
        if (k->occur != Q_NOT && node_next(pl, k, doc) == doc)
            s += node_score(pl, k, doc);
    }
    return s;
}

/* ---- Plain queries: MaxScore -------------------------------------------- */

typedef struct {
    seg_cursor *c;      /* text field */
    seg_cursor *tc;     /* title field, or NULL */
    double w;           /* qtf * idf */
    double kth;         /* the text list's SEG_KTH-th best tfnorm, or -1 */
    double wk;          /* w * (k1 + 1) */
    double ub;          /* upper bound of the term's score */
    double xa, xt;      /* bounds of tf / B over the text and title lists */
    uint32_t ha, ht;    /* the first text and title blocks that may hold
                           documents of the current window */
    double wb;          /* upper bound of the score in the current window */
    double wxt;         /* bound of the title's tf / B in the window */
    uint32_t bk;        /* the text block whose bound bb is ... */
    double bb;          /* ... the score's bound in that block */
} term_state;

/* Below this many postings in all, a pruned query's matches are counted
 * exactly by a second, score-free pass; above it they are estimated. */
#define EXACT_COUNT_POSTINGS 65536

/* Count the documents in any of n fresh cursors: each list marks its
 * documents in a bitmap, which is then counted (a few ns a posting, where
 * merging the lists took a comparison per list and document).  The bitmap
 * is a 32nd of the norms file's size. */
static int count_lists(seg_cursor *const *c, size_t n, uint64_t ndocs,
                       uint64_t *total)
{
    *total = 0;
    size_t words = (size_t)(ndocs + 63) / 64;
    uint64_t *seen = mem_calloc(words ? words : 1, sizeof *seen);
    if (!seen)
        return err_set(AS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        seg_cursor *k = c[i];
        for (; k->doc != SEG_DOC_END; seg_cursor_skip_block(k))
            for (uint32_t j = k->i; j < k->n; j++)      /* docs < ndocs */
                seen[k->docs[j] >> 6] |= (uint64_t)1 << (k->docs[j] & 63);
    }
    uint64_t sum = 0;
    for (size_t w = 0; w < words; w++) {
        /* popcount without the CPU instruction the baseline lacks */
        uint64_t x = seen[w];
        x = x - ((x >> 1) & 0x5555555555555555ull);
        x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
        x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
        sum += (x * 0x0101010101010101ull) >> 56;
    }
    mem_free(seen);
    *total = sum;
    return AS_OK;
}

static int by_bound(const void *a, const void *b)
{
    const term_state *x = *(term_state *const *)a;
    const term_state *y = *(term_state *const *)b;
    return x->ub < y->ub ? -1 : x->ub > y->ub;
}

/* Scores are summed in fixed point, units of 2^-32: integer sums do not
 * depend on their order, which changes with the pruning, so a pruned
 * ranking equals the exhaustive one even between documents whose scores
 * tie to the last bit. */
static inline int64_t fixed(double s)
{
    return (int64_t)(s * 4294967296.0 + 0.5);
}

static inline double unfixed(int64_t v)
{
    return (double)v * (1.0 / 4294967296.0);
}

/* A bound with room for rounding: it must not fall below a term's score
 * rounded to fixed point. */
static inline double slack(double bound)
{
    return bound * (1 + 1e-9) + 1e-9;
}

/* A term's contribution at doc; K = k1 * B_text(doc). */
static inline double flat_score(search_plan *pl, const term_state *t,
                                double tf, double K, uint32_t doc)
{
    seg_cursor *tc = t->tc;
    if (tc && tc->doc <= doc) {
        if (tc->doc < doc)
            seg_cursor_seek(tc, doc);
        if (tc->doc == doc) {
            double x = tf / norm_text(pl, doc) +
                       pl->wt * seg_cursor_tf(tc) / norm_title(pl, doc);
            return t->w * saturate(x, pl->k1);
        }
    }
    return t->wk * tf / (tf + K);
}

/* k1 * B_text(doc), always computed the same way: a term's score must
 * not depend on the path that reached it (scored with the essential
 * terms, or probed).  Its two constants are set once (reset): dividing
 * by avgdl per posting had cost about 5% of a query's instructions. */
static inline double text_K(const search_plan *pl, uint32_t doc)
{
    return pl->K0 + pl->K1 * seg_doclen(pl->s, doc);
}

/* Add term t's scores of its documents in [from, to] (its cursor at the
 * first) to acc[doc - from], marking them in seen and the words of seen
 * they are in in *words; the cursor ends past to. */
static void accumulate(search_plan *pl, const term_state *t, uint32_t from,
                       uint32_t to, int64_t *acc, uint64_t *seen,
                       uint64_t *words)
{
    seg_cursor *c = t->c;
    if (c->doc > to)
        return;
    uint64_t wd = *words;
    const double wk = t->wk;
    /* The title cursor's document: the few postings at or past it take
     * flat_score's BM25F path. */
    uint32_t title_doc = t->tc ? t->tc->doc : SEG_DOC_END;
    for (;;) {
        if (!c->tf_ready)
            seg_cursor_load_tfs(c);
        const uint32_t *docs = c->docs, *tfs = c->tfs;
        uint32_t i = c->i, n = c->n;
        for (; i < n && docs[i] <= to; i++) {
            uint32_t doc = docs[i];
            double tf = tfs[i], K = text_K(pl, doc), s;
            if (doc >= title_doc) {
                s = flat_score(pl, t, tf, K, doc);
                title_doc = t->tc->doc;
            } else {
                s = wk * tf / (tf + K);
            }
            uint32_t j = doc - from;
            acc[j] += fixed(s);
            seen[j >> 6] |= (uint64_t)1 << (j & 63);
            wd |= (uint64_t)1 << (j >> 6);
        }
        if (i < n) {
            c->i = i;
            c->doc = docs[i];
            break;
        }
        if (seg_cursor_skip_block(c) > to)
            break;
    }
    *words = wd;
}

/* Block-max MaxScore.  The documents are taken in windows of at least
 * win_docs (ending where the first block of an essential term ends).  In
 * each window a term's bound is the best of its blocks that overlap the
 * window, from the skip table without decoding: terms whose window bounds
 * together cannot reach the top k are non-essential there, and a window
 * where all of them are is skipped whole.  Within a window, documents come
 * from the essential terms' lists and the others are probed, best bound
 * first, while they can still lift the document into the top k. */

/* Parameters of tf / B bounds for the text or title field. */
typedef struct {
    double k1, b, avg;
    int stored;
} xparm;

/* The first block of c, from hint *h on, whose last document is >= start
 * (c->nblocks if none); blocks before the decoded one are behind c. */
static uint32_t win_block(const seg_cursor *c, uint32_t *h, uint32_t start)
{
    uint32_t k = *h > c->block ? *h : c->block;
    return *h = seg_block_find(c, k, start);
}

/* Bound of tf / B over c's documents in [start, end]; xall is the bound of
 * the whole list. */
static double win_x(const seg_cursor *c, uint32_t *h, uint32_t start,
                    uint32_t end, const xparm *xp, double xall)
{
    /* The cursor has passed every document before c->doc. */
    if (c->doc > end)
        return 0;
    uint32_t k = win_block(c, h, start);
    if (k >= c->nblocks)
        return 0;
    if (!c->skips)
        return xall;
    uint32_t last = k;
    while (last + 1 < c->nblocks && seg_block_last(c, last) < end)
        last++;
    return blocks_x(c, k, last, xp->k1, xp->b, xp->avg, xp->stored);
}

static int by_window_bound(const void *a, const void *b)
{
    const term_state *x = *(term_state *const *)a;
    const term_state *y = *(term_state *const *)b;
    return x->wb < y->wb ? -1 : x->wb > y->wb;
}

static void sort_by_window_bound(term_state **v, size_t n)
{
    if (n > 16) {
        qsort(v, n, sizeof *v, by_window_bound);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        term_state *t = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1]->wb > t->wb; j--)
            v[j] = v[j - 1];
        v[j] = t;
    }
}

/* The candidates cand[0..n) (documents from + cand[i], in order, their
 * essential terms' sums in cval) completed with the non-essential terms
 * win[0..wfirst), best bound first, a term at a time: each term is sought
 * in the candidates' order, and a candidate is dropped as soon as the
 * terms left cannot lift it above theta (tested with the window's bounds,
 * then with the bound of the term's block holding it, before that block
 * is decoded).  Returns how many are left, their sums updated. */
static uint32_t complete(search_plan *pl, term_state **win, size_t wfirst,
                         const double *wprefix, double theta, const xparm *xa,
                         uint32_t from, uint32_t *cand, int64_t *cval,
                         uint32_t n)
{
    for (size_t i = wfirst; i-- > 0 && n > 0;) {
        term_state *t = win[i];
        seg_cursor *c = t->c;
        const double with = wprefix[i + 1], rest = wprefix[i];
        uint32_t m = 0;
        for (uint32_t ci = 0; ci < n; ci++) {
            int64_t sum = cval[ci];
            double score = unfixed(sum);
            if (score + with <= theta)
                continue;
            uint32_t doc = from + cand[ci];
            if (c->doc < doc) {
                if (c->skips) {
                    uint32_t k = c->block;
                    if (doc > c->block_last &&
                        (k = win_block(c, &t->ha, doc)) >= c->nblocks)
                        goto keep;      /* the list has ended */
                    if (k != t->bk) {
                        double x = block_x(c, k, xa->k1, xa->b, xa->avg,
                                           xa->stored) +
                                   pl->wt * t->wxt;
                        t->bk = k;
                        t->bb = slack(t->w * saturate(x, pl->k1));
                    }
                    if (score + t->bb + rest <= theta)
                        continue;
                }
                if (doc <= c->block_last) {
                    /* Most candidates are a few documents on: a linear
                     * scan (docs[n - 1] = block_last stops it). */
                    const uint32_t *d = c->docs;
                    uint32_t j = c->i;
                    while (d[j] < doc)
                        j++;
                    c->i = j;
                    c->doc = d[j];
                } else {
                    seg_cursor_seek(c, doc);
                }
            }
            if (c->doc == doc)
                sum += fixed(flat_score(pl, t, seg_cursor_tf(c),
                                        text_K(pl, doc), doc));
        keep:
            cand[m] = cand[ci];
            cval[m++] = sum;
        }
        n = m;
    }
    return n;
}

static int count_flat(search_plan *pl, uint64_t *total);

static int rank_flat(search_plan *pl, const search_params *p, heap *hp,
                     uint64_t *total, int *estimate)
{
    snode *g = pl->root;
    size_t cap = g->nkids ? g->nkids : 1;
    term_state *ts = mem_calloc(cap, sizeof *ts);
    term_state **ord = mem_calloc(cap, sizeof *ord);
    term_state **win = mem_calloc(cap, sizeof *win);
    double *prefix = mem_calloc(cap + 1, sizeof *prefix);
    double *wprefix = mem_calloc(cap + 1, sizeof *wprefix);
    const uint32_t ndocs = (uint32_t)pl->s->ndocs;
    uint32_t win_docs = ndocs / 64;
    /* At most 4,096: one 64-bit word then marks the words of seen in use
     * (accumulate). */
    win_docs = win_docs < 128 ? 128 : win_docs > 4096 ? 4096 : win_docs;
    int64_t *acc = mem_calloc(win_docs, sizeof *acc);
    uint64_t *seen = mem_calloc(win_docs / 64 + 1, sizeof *seen);
    uint32_t *cand = mem_alloc(win_docs * sizeof *cand);
    int64_t *cval = mem_alloc(win_docs * sizeof *cval);
    int rc = AS_OK;
    if (!ts || !ord || !win || !prefix || !wprefix || !acc || !seen ||
        !cand || !cval) {
        rc = err_set(AS_ERR_NOMEM, "out of memory");
        goto out;
    }
    const double k1 = pl->k1, bb = pl->b;
    const xparm xa = {k1, bb, pl->avgdl,
                      k1 == SEG_DEFAULT_K1 && bb == SEG_DEFAULT_B};
    const xparm xt = {k1, pl->bt, pl->avgtl,
                      k1 == SEG_DEFAULT_K1 && pl->bt == SEG_DEFAULT_B};
    size_t nterms = 0;
    uint64_t sum_df = 0;
    for (size_t i = 0; i < g->nkids; i++) {
        snode *n = g->kids[i];
        if (!n->ca)
            continue;           /* not in the index */
        term_state *t = &ts[nterms];
        t->c = n->ca;
        t->tc = n->ct;
        t->w = n->qtf * n->idf;
        t->kth = n->ta.kth;
        t->wk = t->w * (k1 + 1);
        t->xa = x_bound(t->c, xa.k1, xa.b, xa.avg, xa.stored);
        if (t->tc)
            t->xt = x_bound(t->tc, xt.k1, xt.b, xt.avg, xt.stored);
        t->ub = slack(t->w * saturate(t->xa + pl->wt * t->xt, k1));
        ord[nterms] = t;
        win[nterms++] = t;
        sum_df += n->ta.df;
    }
    qsort(ord, nterms, sizeof *ord, by_bound);
    /* prefix[i] = sum of the bounds of ord[0..i) */
    for (size_t i = 0; i < nterms; i++)
        prefix[i + 1] = prefix[i] + ord[i]->ub;

    size_t first_essential = 0;     /* ord[first_essential..] essential */
    /* The score to beat: -1 until the heap is full, then its worst, but
     * never below theta0.  Each document of a term has a score of at
     * least the term's weight times its tfnorm (a title match only adds),
     * and every document of a term matches, so the stored k-th best
     * tfnorm of each term (SEG_KTH) bounds the k-th best score from below
     * before a document is read: MaxScore starts with the terms whose
     * bounds sum to less than it non-essential.  On the health titles
     * this saves a fifth of the instructions (callgrind, 428 against
     * 345 million over every 5th query). */
    double theta0 = -1;
    if (xa.stored && p->k <= SEG_KTH && !p->exact_count) {
        for (size_t i = 0; i < nterms; i++) {
            double v = ts[i].w * ts[i].kth;
            if (ts[i].kth >= 0 && v > theta0)
                theta0 = v;
        }
        /* Below the exact k-th score by more than the rounding of the
         * sums (2^-32 a term) and of the float kept. */
        theta0 = theta0 > 0 ? theta0 * (1 - 1e-6) - 1e-6 : -1;
    }
    double theta = theta0;
    while (first_essential < nterms && prefix[first_essential + 1] <= theta)
        first_essential++;
    uint64_t matched = 0;
    int pruned = first_essential > 0;
    uint32_t wstart = 0;            /* documents before it are done */
    while (wstart < ndocs) {
        /* The window: from the first document an essential term may
         * have (a cursor behind wstart has its next one at wstart or
         * after), to at least win_docs on, at the end of a block. */
        uint32_t start = SEG_DOC_END, end = SEG_DOC_END;
        for (size_t i = first_essential; i < nterms; i++) {
            const seg_cursor *c = ord[i]->c;
            uint32_t d = c->doc > wstart ? c->doc : wstart;
            if (d < start)
                start = d;
        }
        if (start >= ndocs)
            break;
        for (size_t i = first_essential; i < nterms; i++) {
            term_state *t = ord[i];
            uint32_t k = win_block(t->c, &t->ha, start);
            if (t->c->doc != SEG_DOC_END && k < t->c->nblocks) {
                uint32_t last = seg_block_last(t->c, k);
                if (last < end)
                    end = last;
            }
        }
        if (end - start < win_docs - 1)
            end = start + win_docs - 1;
        if (end >= ndocs)
            end = ndocs - 1;
        for (size_t i = 0; i < nterms; i++) {
            term_state *t = win[i];
            double x = win_x(t->c, &t->ha, start, end, &xa, t->xa);
            t->wxt = t->tc ? win_x(t->tc, &t->ht, start, end, &xt, t->xt) : 0;
            x += pl->wt * t->wxt;
            t->wb = x > 0 ? slack(t->w * saturate(x, k1)) : 0;
            t->bk = UINT32_MAX;     /* bb used the previous window's wxt */
        }
        sort_by_window_bound(win, nterms);
        for (size_t i = 0; i < nterms; i++)
            wprefix[i + 1] = wprefix[i] + win[i]->wb;
        size_t wfirst = 0;          /* win[wfirst..] essential here */
        while (wfirst < nterms && wprefix[wfirst + 1] <= theta)
            wfirst++;
        if (wfirst)
            pruned = 1;
        for (size_t i = wfirst; i < nterms; i++)
            seg_cursor_seek(win[i]->c, start);
        /* The window in chunks of at most win_docs from the next
         * essential document: the essential terms' scores are summed
         * term by term into acc, the documents found marked in seen;
         * then each is completed with the non-essential terms. */
        while (wfirst < nterms) {
            uint32_t from = SEG_DOC_END;
            for (size_t i = wfirst; i < nterms; i++)
                if (win[i]->c->doc < from)
                    from = win[i]->c->doc;
            if (from > end)
                break;
            uint32_t to = end - from < win_docs ? end : from + win_docs - 1;
            uint64_t words = 0;     /* the words of seen in use */
            for (size_t i = wfirst; i < nterms; i++)
                accumulate(pl, win[i], from, to, acc, seen, &words);
            /* The documents found, and among them those whose sum with
             * every non-essential bound beats the threshold (a little
             * loosely: the test is made again exactly below), gathered
             * without a branch per document. */
            double need = theta - wprefix[wfirst];
            int64_t fneed = need < 0 ? INT64_MIN
                                     : (int64_t)(need * 4294967296.0) - 2;
            uint32_t ncand = 0;
            for (; words; words &= words - 1) {
                uint32_t w = (uint32_t)__builtin_ctzll(words);
                uint64_t bits = seen[w];
                seen[w] = 0;
                while (bits) {
                    matched++;
                    uint32_t j = w << 6 | (uint32_t)__builtin_ctzll(bits);
                    bits &= bits - 1;
                    int64_t sum = acc[j];
                    acc[j] = 0;
                    cand[ncand] = j;
                    cval[ncand] = sum;
                    ncand += sum > fneed;
                }
            }
            ncand = complete(pl, win, wfirst, wprefix, theta, &xa, from, cand,
                             cval, ncand);
            for (uint32_t ci = 0; ci < ncand; ci++) {
                uint32_t doc = from + cand[ci];
                double score = unfixed(cval[ci]);
                /* While the heap fills, theta is -1 or theta0. */
                if (score > theta) {
                    theta = offer(hp, doc, score, prefix, nterms,
                                  p->exact_count, &first_essential, &pruned);
                    if (p->exact_count)
                        theta = -1;
                    else if (theta < theta0)
                        theta = theta0;
                }
            }
            /* A higher threshold may leave fewer essential terms. */
            while (wfirst < nterms && wprefix[wfirst + 1] <= theta) {
                wfirst++;
                pruned = 1;
            }
        }
        wstart = end + 1;
    }
    if ((rc = damaged(pl)))
        goto out;
    if (pruned && p->count && sum_df <= EXACT_COUNT_POSTINGS) {
        /* Cheap enough to count the union exactly with fresh cursors. */
        if ((rc = reset(pl, p)))
            goto out;
        rc = count_flat(pl, total);
    } else if (pruned) {
        /* Documents only in non-essential lists were not all visited:
         * estimate the union assuming independent terms. */
        double miss = 1;
        for (size_t i = 0; i < nterms; i++)
            miss *= 1 - (double)ts[i].c->t.df / (double)pl->s->ndocs;
        uint64_t est = (uint64_t)llround((double)pl->s->ndocs * (1 - miss));
        *total = est > matched ? est : matched;
        *estimate = 1;
    } else {
        *total = matched;
    }
out:
    mem_free(ts);
    mem_free(ord);
    mem_free(win);
    mem_free(prefix);
    mem_free(wprefix);
    mem_free(acc);
    mem_free(seen);
    mem_free(cand);
    mem_free(cval);
    return rc;
}

/* Is the plan a plain disjunction of text terms? */
static int is_flat(const search_plan *pl)
{
    const snode *g = pl->root;
    for (size_t i = 0; i < g->nkids; i++)
        if (g->kids[i]->type != SN_TERM || g->kids[i]->occur != Q_SHOULD ||
            g->kids[i]->title)
            return 0;
    return 1;
}

/* The documents a plain query matches (its cursors fresh). */
static int count_flat(search_plan *pl, uint64_t *total)
{
    const snode *g = pl->root;
    seg_cursor **c = mem_calloc(g->nkids ? g->nkids : 1, sizeof *c);
    if (!c)
        return err_set(AS_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < g->nkids; i++)
        if (g->kids[i]->ca)
            c[n++] = g->kids[i]->ca;
    int rc = count_lists(c, n, pl->s->ndocs, total);
    mem_free(c);
    return rc ? rc : damaged(pl);
}

/* ---- Disjunctions of any clauses: MaxScore over nodes ------------------ */

/* An upper bound of a node's score. */
static double node_bound(const search_plan *pl, const snode *n)
{
    const int stored = pl->k1 == SEG_DEFAULT_K1 && pl->b == SEG_DEFAULT_B;
    const int tstored = pl->k1 == SEG_DEFAULT_K1 && pl->bt == SEG_DEFAULT_B;
    if (n->type == SN_TERM) {
        double x = 0;
        if (n->ca)
            x += x_bound(n->ca, pl->k1, pl->b, pl->avgdl, stored);
        if (n->ct)
            x += (n->ca ? pl->wt : 1) *
                 x_bound(n->ct, pl->k1, pl->bt, pl->avgtl, tstored);
        return n->qtf * n->idf * saturate(x, pl->k1);
    }
    if (n->type == SN_PHRASE) {
        if (n->empty)
            return 0;
        /* The phrase occurs at most as often as each of its words. */
        double x = INFINITY;
        for (uint32_t i = 0; i < n->np; i++) {
            double xi = n->title ? x_bound(&n->pc[i], pl->k1, pl->bt,
                                           pl->avgtl, tstored)
                                 : x_bound(&n->pc[i], pl->k1, pl->b,
                                           pl->avgdl, stored);
            if (xi < x)
                x = xi;
        }
        return n->idf * saturate(x, pl->k1);
    }
    double sum = 0;
    for (size_t i = 0; i < n->nkids; i++)
        if (n->kids[i]->occur != Q_NOT)
            sum += node_bound(pl, n->kids[i]);
    return sum;
}

/* Documents a node may match, for estimating a pruned total. */
static double node_df(const search_plan *pl, const snode *n)
{
    if (n->type == SN_TERM)
        return n->ca ? n->ta.df : n->ct ? n->tt.df : 0;
    double df = n->type == SN_PHRASE ? (double)pl->s->ndocs : 0;
    for (uint32_t i = 0; n->type == SN_PHRASE && !n->empty && i < n->np; i++)
        if (n->pt[i].df < df)
            df = n->pt[i].df;
    if (n->type == SN_PHRASE)
        return n->empty ? 0 : df;
    for (size_t i = 0; i < n->nkids; i++)
        if (n->kids[i]->occur != Q_NOT)
            df += node_df(pl, n->kids[i]);
    return df < (double)pl->s->ndocs ? df : (double)pl->s->ndocs;
}

typedef struct {
    snode *n;
    double ub;
} clause;

static int by_clause_bound(const void *a, const void *b)
{
    const clause *x = a, *y = b;
    return x->ub < y->ub ? -1 : x->ub > y->ub;
}

/* The root's optional clauses with MaxScore (as rank_flat, through
 * nodes); its excluded clauses veto candidates. */
static int rank_disjunction(search_plan *pl, const search_params *p,
                            heap *hp, uint64_t *total, int *estimate)
{
    snode *g = pl->root;
    clause *cl = mem_calloc(g->nkids, sizeof *cl);
    snode **nots = mem_calloc(g->nkids, sizeof *nots);
    double *prefix = mem_calloc(g->nkids + 1, sizeof *prefix);
    if (!cl || !nots || !prefix) {
        mem_free(cl);
        mem_free(nots);
        mem_free(prefix);
        return err_set(AS_ERR_NOMEM, "out of memory");
    }
    size_t n = 0, nn = 0;
    for (size_t i = 0; i < g->nkids; i++) {
        snode *k = g->kids[i];
        if (k->occur == Q_NOT) {
            nots[nn++] = k;
        } else {
            cl[n].n = k;
            cl[n++].ub = node_bound(pl, k);
            node_next(pl, k, 0);
        }
    }
    qsort(cl, n, sizeof *cl, by_clause_bound);
    for (size_t i = 0; i < n; i++)
        prefix[i + 1] = prefix[i] + cl[i].ub;
    size_t first_essential = 0;
    double theta = -1;
    uint64_t matched = 0;
    int pruned = 0;
    for (;;) {
        uint32_t doc = SEG_DOC_END;
        for (size_t i = first_essential; i < n; i++)
            if (cl[i].n->doc < doc)
                doc = cl[i].n->doc;
        if (doc == SEG_DOC_END || pl->rc)
            break;
        double score = 0;
        for (size_t i = first_essential; i < n; i++)
            if (cl[i].n->doc == doc)
                score += node_score(pl, cl[i].n, doc);
        for (size_t i = first_essential; i < n; i++)
            if (cl[i].n->doc == doc)
                node_next(pl, cl[i].n, doc + 1 == SEG_DOC_END ? doc : doc + 1);
        for (size_t i = first_essential; i-- > 0;) {
            if (!p->exact_count && score + prefix[i + 1] <= theta)
                break;
            if (node_next(pl, cl[i].n, doc) == doc)
                score += node_score(pl, cl[i].n, doc);
        }
        int excluded = 0;
        for (size_t i = 0; i < nn && !excluded; i++)
            excluded = node_next(pl, nots[i], doc) == doc;
        if (excluded)
            continue;
        matched++;
        if (hp->n < hp->cap || score > theta)
            theta = offer(hp, doc, score, prefix, n, p->exact_count,
                          &first_essential, &pruned);
        if (doc + 1 == SEG_DOC_END)
            break;
    }
    if (pruned) {
        double miss = 1;
        for (size_t i = 0; i < n; i++)
            miss *= 1 - node_df(pl, cl[i].n) / (double)pl->s->ndocs;
        uint64_t est = (uint64_t)llround((double)pl->s->ndocs * (1 - miss));
        *total = est > matched ? est : matched;
        *estimate = 1;
    } else {
        *total = matched;
    }
    mem_free(cl);
    mem_free(nots);
    mem_free(prefix);
    return damaged(pl);
}

int search_rank(search_plan *pl, const search_params *p, search_hit *hits,
                size_t *nhits, uint64_t *total, int *estimate)
{
    *nhits = 0;
    *total = 0;
    *estimate = 0;
    if (!pl->root || p->k == 0 || pl->s->ndocs == 0)
        return AS_OK;
    int rc = reset(pl, p);
    if (rc)
        return rc;
    heap hp = {hits, 0, p->k};
    if (is_flat(pl)) {
        rc = rank_flat(pl, p, &hp, total, estimate);
    } else if (pl->root->nmust == 0) {
        rc = rank_disjunction(pl, p, &hp, total, estimate);
        if (rc == AS_OK && *estimate && p->count) {
            /* Count exactly when the lists are short. */
            double sum = 0;
            for (size_t i = 0; i < pl->root->nkids; i++)
                if (pl->root->kids[i]->occur != Q_NOT)
                    sum += node_df(pl, pl->root->kids[i]);
            if (sum <= EXACT_COUNT_POSTINGS &&
                (rc = search_count(pl, total)) == AS_OK)
                *estimate = 0;
        }
    } else {
        uint64_t matched = 0;
        for (uint32_t d = node_next(pl, pl->root, 0); d != SEG_DOC_END;
             d = d + 1 == SEG_DOC_END ? SEG_DOC_END
                                      : node_next(pl, pl->root, d + 1)) {
            heap_push(&hp, d, node_score(pl, pl->root, d));
            matched++;
        }
        *total = matched;
        rc = damaged(pl);
    }
    if (rc)
        return rc;
    qsort(hits, hp.n, sizeof *hits, hit_order);
    *nhits = hp.n;
    return AS_OK;
}

int search_count(search_plan *pl, uint64_t *total)
{
    *total = 0;
    if (!pl->root)
        return AS_OK;
    search_params p = {0};
    p.k1 = SEG_DEFAULT_K1;
    p.b = SEG_DEFAULT_B;
    int rc = reset(pl, &p);
    if (rc)
        return rc;
    if (is_flat(pl))
        return count_flat(pl, total);
    uint64_t n = 0;
    for (uint32_t d = node_next(pl, pl->root, 0); d != SEG_DOC_END;
         d = d + 1 == SEG_DOC_END ? SEG_DOC_END
                                  : node_next(pl, pl->root, d + 1))
        n++;
    *total = n;
    return damaged(pl);
}

/* ---- Explaining --------------------------------------------------------- */

static void explain_node(search_plan *pl, snode *n, uint32_t doc, int depth,
                         buf *out)
{
    char line[1024];
    if (n->type == SN_GROUP) {
        for (size_t i = 0; i < n->nkids; i++) {
            snode *k = n->kids[i];
            if (k->occur != Q_NOT && node_next(pl, k, doc) == doc)
                explain_node(pl, k, doc, depth + 1, out);
        }
        return;
    }
    const char *name = (const char *)pl->names.p + n->name;
    int nl = (int)(n->name_len < 300 ? n->name_len : 300);
    if (n->type == SN_PHRASE) {
        double B;
        double s = phrase_score(pl, n, doc, &B);
        snprintf(line, sizeof line, "  %8.4f  %.*s: %u occurrence%s in the "
                 "%s (length %u, norm %.3f), idf %.3f (sum of its words)\n",
                 s, nl, name, n->pf, n->pf == 1 ? "" : "s",
                 n->title ? "title" : "text",
                 n->title ? seg_titlelen(pl->s, doc) : seg_doclen(pl->s, doc),
                 B, n->idf);
        buf_append(out, line, strlen(line));
        return;
    }
    term_parts tp;
    term_score(pl, n, doc, &tp);
    int len = snprintf(line, sizeof line, "  %8.4f  %.*s:", tp.score, nl,
                       name);
    if (n->ca)
        len += snprintf(line + len, sizeof line - (size_t)len,
                        " text tf %u (length %u, norm %.3f);", tp.tf,
                        seg_doclen(pl->s, doc), tp.B);
    if (tp.ttf)
        len += snprintf(line + len, sizeof line - (size_t)len,
                        " title tf %u, weight %.2f (length %u, norm %.3f);", tp.ttf,
                        n->ca ? pl->wt : 1.0, seg_titlelen(pl->s, doc),
                        tp.Bt);
    snprintf(line + len, sizeof line - (size_t)len,
             " df %u, idf %.3f%s\n", n->ca ? n->ta.df : n->tt.df, n->idf,
             n->qtf > 1 ? " (twice or more in the query)" : "");
    buf_append(out, line, strlen(line));
}

int search_explain(search_plan *pl, const search_params *p, uint32_t doc,
                   buf *out)
{
    if (!pl->root)
        return AS_OK;
    int rc = reset(pl, p);
    if (rc)
        return rc;
    if (node_next(pl, pl->root, doc) == doc) {
        char line[160];
        snprintf(line, sizeof line, "  BM25F: k1 %.2f, b %.2f, title weight "
                 "%.2f, title b %.2f; avg length %.1f, avg title %.2f\n",
                 pl->k1, pl->b, pl->wt, pl->bt, pl->avgdl, pl->avgtl);
        buf_append(out, line, strlen(line));
        explain_node(pl, pl->root, doc, 0, out);
    }
    if (out->err)
        return err_set(AS_ERR_NOMEM, "out of memory");
    return damaged(pl);
}

static void collect_terms(const search_plan *pl, const snode *n,
                          void (*fn)(void *, const char *, size_t), void *ctx)
{
    if (n->occur == Q_NOT)
        return;
    /* Groups have no name (and names may be empty: no pointer then). */
    const char *name = n->type == SN_GROUP
                           ? NULL
                           : (const char *)pl->names.p + n->name;
    if (n->type == SN_TERM) {
        size_t skip = n->title ? 6 : 0;
        fn(ctx, name + skip, n->name_len - skip);
    } else if (n->type == SN_PHRASE) {
        size_t skip = n->title ? 7 : 1, end = n->name_len - 1, s = skip;
        for (size_t i = skip; i <= end; i++)
            if (i == end || name[i] == ' ') {
                fn(ctx, name + s, i - s);
                s = i + 1;
            }
    }
    for (size_t i = 0; i < n->nkids; i++)
        collect_terms(pl, n->kids[i], fn, ctx);
}

void search_plan_terms(const search_plan *pl,
                       void (*fn)(void *ctx, const char *term, size_t len),
                       void *ctx)
{
    if (pl->root)
        collect_terms(pl, pl->root, fn, ctx);
}
