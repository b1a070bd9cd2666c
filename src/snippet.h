/* snippet.h - the best passage of a document for a query.
 *
 * The document text goes through the query's analyzer; the passage is the
 * window of `words` consecutive words holding the most distinct query terms
 * (then the most matches, then the earliest), moved back a few words so a
 * match does not open it.  Runs of white space become one space, "…" marks
 * text cut at either end, and the result is at most SNIPPET_MAX_BYTES.
 * Matched words come back as byte ranges of the snippet.
 */
#ifndef AS_SNIPPET_H
#define AS_SNIPPET_H

#include <stddef.h>
#include <stdint.h>

#include "analyze.h"
#include "artsearch.h"
#include "buf.h"

#define SNIPPET_MAX_BYTES 1024

typedef struct {
    const char *const *terms;   /* analyzed query terms, distinct */
    const uint32_t *lens;
    size_t n;
} snippet_query;

/* Writes the snippet to out (NUL-terminated) and the spans, as an array of
 * as_span, to spans.  Returns AS_OK or AS_ERR_NOMEM. */
int snippet_make(analyzer *an, const char *text, size_t len,
                 const snippet_query *q, uint32_t words, buf *out,
                 buf *spans);

#endif
