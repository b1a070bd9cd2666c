/* query.h - the query language, parsed into a tree.
 *
 * The grammar (operators in capitals only; everything else is text):
 *
 *   query    := sequence
 *   sequence := or_expr*             clauses: a plain clause is optional
 *                                    (scores if present), +clause is
 *                                    required, -clause is excluded
 *   or_expr  := and_expr (OR and_expr)*
 *   and_expr := unary (AND unary)*   every operand required
 *   unary    := NOT unary | primary  NOT excludes
 *   primary  := [+|-] [title:] ( word | word* | "phrase" | ( sequence ) )
 *
 * A word goes through the index's analyzer; one that yields several terms
 * (covid-19: covid, 19, covid19) is a group of optional terms.  word* is a
 * prefix: the word folded but not stemmed, matched against index terms.
 * "a phrase" matches its words at consecutive positions (stopwords keep
 * their places).  title: restricts a word, prefix, phrase or group to the
 * title field.
 *
 * Parsing never fails on punctuation: an unmatched quote runs to the end,
 * an unmatched parenthesis is closed at the end or ignored, an operator
 * with a missing operand is dropped, '+' or '-' not followed by a word is
 * punctuation, and a word with no letters or digits is no clause at all.
 * Parentheses nest at most QUERY_MAX_DEPTH deep (deeper ones are ignored).
 * Limits: QUERY_MAX_TERMS terms (AS_ERR_TOOLONG past them).
 *
 * Meaning: a group (the query itself, or parentheses) with required
 * clauses matches the documents that have all of them; otherwise the
 * documents that have any optional clause; excluded clauses then remove
 * documents.  A group of only excluded clauses matches nothing.  A
 * document's score is the sum of the scores of the clauses it matches
 * (excluded ones aside).
 */
#ifndef AS_QUERY_H
#define AS_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "analyze.h"
#include "buf.h"

#define QUERY_MAX_TERMS 1000
#define QUERY_MAX_DEPTH 32

enum { QN_TERM, QN_PHRASE, QN_PREFIX, QN_GROUP };
enum { Q_SHOULD, Q_MUST, Q_NOT };

typedef struct {
    int type;
    int occur;              /* Q_SHOULD, Q_MUST or Q_NOT in its group */
    int title;              /* restricted to the title field */
    int32_t kid, next;      /* QN_GROUP's first child; next sibling; -1 */
    uint32_t first, n;      /* terms[first .. first+n) of the query */
} qnode;

typedef struct {
    uint32_t off, len;      /* bytes in query.text */
    uint32_t pos;           /* phrase: position relative to the first */
} qterm;

typedef struct {
    qnode *nodes;
    size_t nnodes, capnodes;
    qterm *terms;
    size_t nterms, capterms;
    buf text;
    int32_t root;           /* a QN_GROUP; -1 when the query has no clause */
    /* Set when the query is a plain list of words: every clause an
     * optional term of the text field. */
    int flat;
} query;

/* Parse text[0..len) with an.  *out is freed with query_free. */
int query_parse(analyzer *an, const char *text, size_t len, query **out);
void query_free(query *q);

static inline const char *query_term(const query *q, uint32_t i,
                                     uint32_t *len)
{
    *len = q->terms[i].len;
    return (const char *)q->text.p + q->terms[i].off;
}

/* The tree as text, for tests and --explain: (+a b -"c d" title:e f*). */
void query_describe(const query *q, buf *out);

#endif
