/* search.h - BM25 ranking of a disjunction of terms, top k.
 *
 * BM25, per query term t and document d (the formula DESIGN.md fixes):
 *   idf(t)    = ln(1 + (N - df + 0.5) / (df + 0.5))       never negative
 *   score(d)  = sum over t of  qtf(t) * idf(t) *
 *               tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
 * qtf(t) is how many times t occurs in the query.  Ties are broken by the
 * lower document number, so results are deterministic.
 *
 * Evaluation is document-at-a-time with MaxScore pruning: terms are ordered
 * by their upper bound (the best score any of their documents can give,
 * from the per-block bounds stored in the postings); the terms whose bounds
 * together cannot lift a document into the current top k are "non-
 * essential": they are only probed for documents found through the others.
 * The ranking is the same as scoring every document.
 */
#ifndef AS_SEARCH_H
#define AS_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "segment.h"

typedef struct {
    seg_term t;
    uint32_t qtf;
    double idf;
} search_term;

typedef struct {
    uint32_t doc;
    double score;
} search_hit;

typedef struct {
    double k1, b;
    uint32_t k;             /* hits wanted (offset included) */
    int exact_count;        /* score every matching document */
    int count;              /* count the union after pruning when cheap */
} search_params;

/* Rank: fills hits (capacity p->k, best first) and *nhits; *total is the
 * number of matching documents, *estimate set when it is estimated. */
int search_rank(const segment *s, double avgdl, const search_term *terms,
                size_t nterms, const search_params *p, search_hit *hits,
                size_t *nhits, uint64_t *total, int *estimate);

/* The number of documents matching any of the terms, counted exactly. */
int search_count(const segment *s, const search_term *terms, size_t nterms,
                 uint64_t *total);

/* BM25 idf for a term in n documents of which df match. */
double search_idf(uint64_t n, uint64_t df);

#endif
