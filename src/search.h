/* search.h - BM25F ranking: a disjunction of terms with MaxScore, and the
 * query language's trees exhaustively.
 *
 * Scoring is BM25F over two fields, the text (title and body) and the
 * title.  Per query term t and document d:
 *   idf(t)    = ln(1 + (N - df + 0.5) / (df + 0.5))        df in the text
 *   x(t, d)   = tf_text / B_text  +  wt * tf_title / B_title
 *   B_text    = 1 - b + b * dl / avgdl      (dl: words in the document)
 *   B_title   = 1 - bt + bt * tl / avgtl    (tl: words in its title)
 *   score(d)  = sum over t of  qtf(t) * idf(t) * x * (k1 + 1) / (x + k1)
 * wt is the title weight and bt the title's length normalization.  The
 * title's words are in the text field too, so a title word counts 1 + wt
 * times.  With wt = 0, or a title without the term, this is plain BM25.
 * qtf(t) is how many times t occurs in a plain query.  A phrase scores as
 * one term whose tf is the number of times the phrase occurs and whose idf
 * is the sum of its words' idfs; a title: term uses its title df and
 * x = tf_title / B_title.  Ties are broken by the lower document number, so
 * results are deterministic.
 *
 * A plain query (a disjunction of text terms) is evaluated with block-max
 * MaxScore over windows of documents (up to 4,096).  In each window a
 * term's upper bound is the best of the per-block bounds stored in the
 * postings for the blocks overlapping it; the terms whose bounds together
 * cannot lift a document into the current top k are "non-essential"
 * there, and a window where all are is skipped.  The essential terms'
 * scores are summed term by term into an array over the window; each
 * document found is then completed by probing the non-essential terms,
 * best bound first, while they can still matter (checked against the
 * bound of the block a probe would decode).  The threshold does not start
 * at zero: for k <= SEG_KTH with the default k1 and b, every term's stored
 * 10th best tfnorm times its weight bounds the k-th best score from below,
 * so the best of them starts it.  Scores are summed in fixed
 * point (2^-32), so they do not depend on the order of the sum, and the
 * ranking is the same as scoring every document.  Other queries (phrases, required and excluded
 * clauses, AND/OR/NOT, prefixes, title:) are evaluated exhaustively over a
 * tree of cursors that skip to the next document every required part has.
 */
#ifndef AS_SEARCH_H
#define AS_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "query.h"
#include "segment.h"

/* At most this many index terms stand for one prefix (the most frequent). */
#define SEARCH_MAX_EXPANSIONS 128

typedef struct {
    uint64_t docs;
    double avgdl, avgtl;    /* average document and title lengths */
    double k1, b;
    double title_weight;    /* wt above; 0 ignores the title field */
    double title_b;         /* bt above */
    uint32_t k;             /* hits wanted (offset included) */
    int exact_count;        /* score every matching document */
    int count;              /* count the union after pruning when cheap */
} search_params;

typedef struct {
    uint32_t doc;
    double score;
} search_hit;

/* A query prepared against a segment: terms looked up, prefixes
 * expanded. */
typedef struct search_plan search_plan;

/* notice (may be NULL) receives a sentence when a prefix had to be cut to
 * SEARCH_MAX_EXPANSIONS terms; it is left empty otherwise. */
int search_plan_new(const segment *s, const query *q, const search_params *p,
                    search_plan **out, buf *notice);
void search_plan_free(search_plan *pl);

/* Rank: fills hits (capacity p->k, best first) and *nhits; *total is the
 * number of matching documents, *estimate set when it is estimated. */
int search_rank(search_plan *pl, const search_params *p, search_hit *hits,
                size_t *nhits, uint64_t *total, int *estimate);

/* The number of documents the query matches, counted exactly. */
int search_count(search_plan *pl, uint64_t *total);

/* Why doc scored what it did: one line per matching clause with its
 * score, tf, df, idf, field and length normalization, appended to out. */
int search_explain(search_plan *pl, const search_params *p, uint32_t doc,
                   buf *out);

/* The text-field terms a snippet should highlight (clauses not excluded),
 * distinct: calls fn for each. */
void search_plan_terms(const search_plan *pl,
                       void (*fn)(void *ctx, const char *term, size_t len),
                       void *ctx);

/* BM25 idf for a term in n documents of which df match. */
double search_idf(uint64_t n, uint64_t df);

#endif
