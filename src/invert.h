/* invert.h - in-memory inversion under a memory budget.
 *
 * Documents arrive in doc-id order as streams of (term, position).
 * Postings accumulate in arena-allocated chunk chains, one chain per term,
 * holding for each (term, document): varint doc-id gap, varint tf, tf
 * varint position deltas; a record never straddles two chunks.  When the
 * memory used passes the budget, the terms are sorted and written to a
 * run file ("run-NNNN" in the build's folder) and memory starts afresh.  A
 * single document that outgrows the budget (a 100 MB article of distinct
 * words) is spilled in parts: the run ends in the middle of it, and the
 * merge joins its postings again.  inv_finish() then hands every term, in
 * byte order, with its postings from all runs concatenated, to a consumer
 * (the segment writer), or to two consumers on two threads, each taking a
 * range of terms; the terms still in memory are the last run, read where
 * they are.
 *
 * Run file format (internal to a build, never published):
 *   repeated: varint term_len, term bytes, varint df, varint cf,
 *             varint data_len, data (records as above; the first gap of each
 *             term in a run is doc_id + 1)
 */
#ifndef AS_INVERT_H
#define AS_INVERT_H

#include <stddef.h>
#include <stdint.h>

typedef struct inverter inverter;

/* budget: bytes of memory for postings and terms before a run is spilled.
 * tmpdir: where run files go. */
int inv_new(size_t budget, const char *tmpdir, inverter **out);
void inv_free(inverter *inv);   /* removes run files */

/* Add one token of the current document.  Positions of one term within a
 * document must increase.  When idx is not NULL it receives the term's
 * number, which inv_add_term takes until the next spill (inv_runs()
 * changes). */
int inv_add(inverter *inv, const char *term, size_t len, uint32_t pos,
            uint32_t *idx);
int inv_add_term(inverter *inv, uint32_t idx, uint32_t pos);
/* inv_add_term for the terms numbered idx1[i] - 1 at pos[i], in order,
 * their entries fetched into the cache first; it stops before the first
 * idx1[i] of 0 (a term not known) and after a spill (which renumbers the
 * terms).  *done: how many were added. */
int inv_add_terms(inverter *inv, const uint32_t *idx1, const uint32_t *pos,
                  size_t n, size_t *done);
/* Close the current document as doc_id (ids increase by one from 0). */
int inv_end_doc(inverter *inv, uint32_t doc_id);

uint32_t inv_runs(const inverter *inv);

/* A consumer of the merged terms.  For each term: begin, then one call of
 * posting or posting_raw per document, then end.  posting has the
 * positions decoded; posting_raw has them as they are kept (n bytes: tf
 * varints, each the gap from the previous position, the first from 0),
 * which is what most documents get, without decoding them. */
typedef struct {
    int (*begin)(void *ctx, const char *term, size_t len);
    int (*posting)(void *ctx, uint32_t doc, uint32_t tf,
                   const uint32_t *pos);
    int (*posting_raw)(void *ctx, uint32_t doc, uint32_t tf,
                       const unsigned char *pos, size_t n);
    int (*end)(void *ctx);
    void *ctx;
} inv_sink;

/* Hand every term to sink, in byte order.  With sink2 (may be NULL) the
 * terms are shared: sink takes those before a term chosen to halve the
 * postings in memory, on the calling thread, while sink2 takes the rest on
 * a thread of its own (or after sink, when no thread can be started).  An
 * error of either stops both; its message is the calling thread's. */
int inv_finish(inverter *inv, const inv_sink *sink, const inv_sink *sink2);

#endif
