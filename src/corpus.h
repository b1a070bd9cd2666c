/* corpus.h - reading a corpus: a folder of articles or one file.
 *
 * A folder is walked recursively in a stable order (names sorted bytewise);
 * names starting with '.' are skipped (one count for the whole hidden
 * entry).  Symbolic links are followed; a link back to a folder being
 * walked is reported as a loop and not followed.
 *
 * Formats, chosen by extension (case-insensitive):
 *   .txt, .md, .markdown  title = first non-empty line (for Markdown the
 *                         leading and trailing '#' marks are removed),
 *                         body = the rest
 *   .html, .htm           title = <title>, else the first <h1>; text without
 *                         tags, comments, <script> or <style>; entities
 *                         decoded
 *   .jsonl, .ndjson, .jsonl.gz, .ndjson.gz
 *                         one JSON object a line: "id" or "_id" (string or
 *                         integer), "title", "text" or "body"; gzip is read
 *                         through ISA-L's igzip (gzin.h)
 * Anything else is skipped and counted.  The external id of a document is
 * its path relative to the corpus root (the file name when the corpus is one
 * file), or the JSON id.
 *
 * Bad input never stops a build: each problem is reported through warn()
 * naming the file (and line for JSONL) and counted by reason in the report.
 * Invalid UTF-8 is replaced by U+FFFD and the file counted.  A title is cut
 * to CORPUS_MAX_TITLE bytes; a longer first line stays in the body whole.
 */
#ifndef AS_CORPUS_H
#define AS_CORPUS_H

#include <stddef.h>

#include "artsearch.h"
#include "buf.h"

#define CORPUS_MAX_TITLE 512

typedef struct {
    const char *id;
    size_t id_len;
    const char *title;
    size_t title_len;
    const char *body;
    size_t body_len;
} corpus_doc;

/* Return nonzero to stop reading; corpus_read then returns that value. */
typedef int (*corpus_doc_fn)(void *ctx, const corpus_doc *d);

typedef struct {
    void (*warn)(void *ctx, const char *msg);
    void (*progress)(void *ctx, const as_progress *p);
    void *ctx;
    size_t max_doc;     /* bytes kept of one file (see as_build_opts);
                           0: AS_DEFAULT_MAX_DOC */
} corpus_opts;

/* Read every document under path, calling fn for each.  Counts go into rep
 * (files, docs, skipped, replaced_utf8, bytes_in, text_bytes are added to).
 * AS_ERR_USAGE if path does not exist, AS_ERR_NOMEM, or fn's value. */
int corpus_read(const char *path, const corpus_opts *o, corpus_doc_fn fn,
                void *fnctx, as_build_report *rep);

/* Exposed for tests: parse HTML into title and body text (both
 * NUL-terminated buffers owned by the caller afterwards). */
int corpus_parse_html(const char *s, size_t n, buf *title, buf *body);
/* The fields of one JSONL line as corpus_json_fast finds them: pointers
 * into the line, into scratch[] when the string had escapes, or into
 * num[] for an integer id.  has_*: 0 absent, 1 a string (or an integer
 * id), 2 null.  id is "id", else "_id"; body is "text", else "body". */
typedef struct {
    const char *id, *title, *body;
    size_t id_len, title_len, body_len;
    int has_id, has_title, has_body;
    char num[2][32];    /* decimal forms of an integer "id" and "_id" */
    buf scratch[5];     /* by key: id, title, text, body, _id */
} corpus_json;

/* The fast path of JSONL reading: a flat object whose values are
 * strings, null or integers of up to 18 digits, read in one pass.
 * Returns 1 with the fields in *j, or 0 for anything else (nested values,
 * true/false, other numbers, escapes in keys, any error): those lines go
 * to jansson, which alone decides what is malformed and says why.  A line
 * it accepts, jansson accepts too, with the same values.  AS_ERR_NOMEM is
 * returned as -1. */
int corpus_json_fast(const char *s, size_t n, corpus_json *j);

/* Replace invalid UTF-8 in s[0..n) by U+FFFD into out; returns how many
 * sequences were replaced (0: out is untouched). */
size_t corpus_fix_utf8(const char *s, size_t n, buf *out);

#endif
