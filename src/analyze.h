/* analyze.h - the analyzer: text in, index terms out.
 *
 * Documents and queries go through the same analyzer, configured once when
 * an index is built (language, stopwords) and recorded in the index.
 *
 * The rule, in order:
 * 1. Text is UTF-8.  A word character is a Unicode letter (L*), number (N*)
 *    or combining mark (M*); everything else separates words.  Invalid bytes
 *    separate words too (the corpus reader has already replaced them).
 * 2. A word is a maximal run of word characters, where these stay inside it:
 *    an apostrophe (' or U+2019) between two letters (crohn's, don't), and a
 *    '.' or ',' between two digits (5.7, 1,000).
 * 3. Words joined by a hyphen (-, U+2010, U+2011) or a slash form a
 *    compound: each word is a token at its own position (covid, 19), and
 *    for hyphens the words glued together are one more token at the first
 *    word's position (covid19, nonsteroidal), so `COVID-19`, `covid 19` and
 *    `covid19` all find it.  At most 8 words are glued.
 * 4. Folding: Unicode NFKC, case folding and accent stripping (utf8proc), so
 *    Café = cafe, ﬁ = fi; a final possessive 's is dropped (crohn's = crohn),
 *    other apostrophes and digit-group commas removed (1,000 = 1000); decimal
 *    points stay (5.7; `5.7%` is found by 5.7).
 * 5. Terms are cut to at most AN_MAX_TERM bytes at a character boundary.
 * 6. Stopwords (only when enabled): a short English list, checked on the
 *    folded word; a stopword still takes its position so phrases keep their
 *    shape.
 * 7. Stemming: the Snowball stemmer of the chosen language (libstemmer),
 *    applied to terms that contain a letter, through a cache so a frequent
 *    word is stemmed once.  Language "none" turns stemming off.
 */
#ifndef AS_ANALYZE_H
#define AS_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#define AN_MAX_TERM 255

#define AN_NO_KEY UINT32_MAX

typedef struct {
    const char *term;     /* indexed form; valid only during the callback */
    uint32_t len;
    uint32_t pos;         /* word position */
    uint32_t start, end;  /* byte range of the word in the analyzed text */
    /* The stem cache's number for the word (0, 1, 2, ... in order of first
     * sight), or AN_NO_KEY for a word not stemmed through the cache.  The
     * same key always gives the same term until analyzer_epoch() changes
     * (the cache was emptied), so a caller can map keys to its own term
     * numbers and skip hashing the term again (the indexer does). */
    uint32_t key;
} an_token;

/* Return nonzero to stop the analysis (that value is returned). */
typedef int (*an_token_fn)(void *ctx, const an_token *t);

typedef struct analyzer analyzer;

/* language: a libstemmer algorithm name ("english", "french", ...), "none",
 * or NULL for english.  AS_ERR_LANG for an unknown one. */
int analyzer_new(const char *language, int stopwords, analyzer **out);
void analyzer_free(analyzer *a);
const char *analyzer_language(const analyzer *a);

/* Analyze text[0..len).  Positions start at *pos; on return *pos is one
 * past the last position used.  Returns 0, a callback's nonzero value, or
 * AS_ERR_NOMEM. */
int analyzer_run(analyzer *a, const char *text, size_t len, uint32_t *pos,
                 an_token_fn fn, void *ctx);

/* Snippets only need to know which words match the query.  When first is
 * not NULL (256 flags), words whose folded form starts with a byte not
 * flagged are passed on folded but unstemmed: they cannot stem to a query
 * term.  Only valid for stemmers that change word endings alone
 * (analyzer_suffix_only); NULL turns the filter off. */
void analyzer_stem_filter(analyzer *a, const unsigned char *first);
/* Stemming on (the default) or off: a query's prefix (preg*) is matched
 * against index terms folded but not stemmed. */
void analyzer_set_stemming(analyzer *a, int on);
/* 1 if the stemmer never changes the first byte of a word (English). */
int analyzer_suffix_only(const analyzer *a);

/* Changes whenever the keys of an_token are given anew. */
uint32_t analyzer_epoch(const analyzer *a);

/* A comma-separated list of the stemming languages available. */
const char *analyzer_languages(void);

#endif
