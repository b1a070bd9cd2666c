/* artsearch.h - the public interface of libartsearch.
 *
 * libartsearch turns a folder of articles into a compressed inverted index
 * and answers BM25-ranked queries over it.  This is the only header a program
 * embedding artsearch includes; the `artsearch` command is a client of it.
 *
 * Link with `pkg-config --cflags --libs artsearch`.  Only the functions
 * declared here are exported by libartsearch.a and libartsearch.so.
 *
 * Conventions (every function below follows them unless it says otherwise)
 * - Every fallible function returns AS_OK (0) or an AS_ERR_* code.  After a
 *   failure, as_errmsg() returns a sentence for the calling thread naming
 *   what went wrong (the file, the line, the value); as_strerror() names a
 *   code.  Output parameters are set to NULL or 0 on failure.
 * - Handles are opaque.  Every *_free and *_close accepts NULL and does
 *   nothing with it.  Pointer arguments not marked "may be NULL" must not
 *   be NULL.
 * - Strings handed in are NUL-terminated UTF-8 and are copied if kept (the
 *   caller may free them when the call returns).  Strings and arrays handed
 *   out are owned by the object they came from and live as long as it does;
 *   the caller never frees them.
 * - Thread safety: functions on different handles may run in different
 *   threads at the same time.  An open as_index may be searched
 *   (as_search, as_count, as_index_stats) from several threads at once; it
 *   must not be closed while a search runs.  An as_results or as_builder
 *   is used by one thread at a time.  as_errmsg() is per thread.
 * - No function prints, exits or installs signal handlers.
 */
#ifndef ARTSEARCH_H
#define ARTSEARCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ARTSEARCH_VERSION "0.1.0"

#if defined(__GNUC__) && !defined(AS_NO_VISIBILITY)
#define AS_API __attribute__((visibility("default")))
#else
#define AS_API
#endif

/* The library's version at run time (ARTSEARCH_VERSION it was built as). */
AS_API const char *as_version(void);

/* X(name, value, description).  The command line maps these to exit
 * statuses: usage errors 2, index missing or damaged 3, others 1. */
#define AS_ERROR_TABLE(X)                                                   \
    X(AS_OK, 0, "success")                                                  \
    X(AS_ERR_NOMEM, 1, "out of memory")                                     \
    X(AS_ERR_IO, 2, "input/output error")                                   \
    X(AS_ERR_CORRUPT, 3, "index is damaged")                                \
    X(AS_ERR_NOINDEX, 4, "no index")                                        \
    X(AS_ERR_USAGE, 5, "invalid argument")                                  \
    X(AS_ERR_TOOLONG, 6, "query too long")                                  \
    X(AS_ERR_LANG, 7, "unknown stemming language")                          \
    X(AS_ERR_NOTFOUND, 8, "not found")                                      \
    X(AS_ERR_INTERNAL, 9, "internal error")

enum as_error {
#define X(name, value, text) name = value,
    AS_ERROR_TABLE(X)
#undef X
};

/* The name of an error code ("index is damaged"); never NULL. */
AS_API const char *as_strerror(int code);
/* The message of the last failure in the calling thread; never NULL. */
AS_API const char *as_errmsg(void);

/* ---- Building an index -------------------------------------------------- */

/* Why a file under the corpus path was not indexed. */
#define AS_SKIP_TABLE(X)                                                    \
    X(AS_SKIP_UNSUPPORTED, "unsupported type")                              \
    X(AS_SKIP_HIDDEN, "hidden")                                             \
    X(AS_SKIP_UNREADABLE, "unreadable")                                     \
    X(AS_SKIP_BINARY, "binary (NUL bytes)")                                 \
    X(AS_SKIP_EMPTY, "empty")                                               \
    X(AS_SKIP_LOOP, "symlink loop")                                         \
    X(AS_SKIP_BADLINE, "malformed JSON line")                               \
    X(AS_SKIP_TRUNCATED, "truncated or corrupt gzip")                       \
    X(AS_SKIP_SPECIAL, "not a regular file")                              \
    X(AS_SKIP_TOOBIG, "JSON line over the document size limit")

enum as_skip {
#define X(name, text) name,
    AS_SKIP_TABLE(X)
#undef X
    AS_SKIP_COUNT
};
AS_API const char *as_skip_reason(int reason);

typedef struct {
    uint64_t files;                 /* files read as documents or JSONL */
    uint64_t docs;                  /* documents indexed */
    uint64_t skipped[AS_SKIP_COUNT];/* files (or JSON lines) not indexed */
    uint64_t replaced_utf8;         /* files with invalid UTF-8 replaced */
    uint64_t bytes_in;              /* bytes of input read */
    uint64_t text_bytes;            /* bytes of title and body text */
    uint64_t terms;                 /* distinct terms in the index */
    uint64_t postings;              /* (term, document) pairs */
    uint64_t tokens;                /* positions indexed */
    uint64_t index_bytes;           /* size of the published index */
    uint32_t runs;                  /* in-memory runs spilled (1 = none) */
    double seconds;
    uint64_t cut;                   /* files cut to opts.max_doc bytes */
} as_build_report;

typedef struct {
    uint64_t files_done, files_total;
    uint64_t bytes_done, bytes_total; /* input bytes (compressed for .gz) */
    uint64_t docs;
    double seconds;
} as_progress;

typedef struct {
    const char *language;   /* Snowball algorithm, NULL = "english";
                               "none" disables stemming */
    int stopwords;          /* 1: drop English stopwords (default 0) */
    size_t memory;          /* inversion budget in bytes, 0 = 256 MiB */
    /* Called for each warning (unreadable file, bad JSON line, ...);
     * NULL: warnings are dropped. */
    void (*warn)(void *ctx, const char *msg);
    /* Called now and then while reading (at most ~10 times a second). */
    void (*progress)(void *ctx, const as_progress *p);
    void *ctx;
    /* Bytes of one file read as a document, 0 = AS_DEFAULT_MAX_DOC: a
     * longer .txt, .md or .html file is cut there (at a character
     * boundary; warned and counted in report->cut), and a longer JSONL line
     * is skipped (AS_SKIP_TOOBIG).  It bounds a build's memory. */
    size_t max_doc;
} as_build_opts;

#define AS_DEFAULT_MAX_DOC ((size_t)128 << 20)

/* Index every supported file under corpus_path (a folder or one file) into
 * index_dir (created if missing), replacing any index there atomically: a
 * failed or killed build leaves the previous index whole.  opts and report
 * may be NULL (defaults; no report).  A missing corpus path is
 * AS_ERR_USAGE, a corpus without documents AS_ERR_NOTFOUND (the index is
 * left as it was), another build running on index_dir AS_ERR_IO.  Calls
 * opts->warn and opts->progress from the calling thread only.  It runs
 * threads of its own (one reads and analyzes the corpus, one compresses
 * the doc store, one decompresses ahead while a JSONL file of 256 KiB or
 * more is read, one writes half the terms in the final merge) and has
 * joined them when it returns. */
AS_API int as_build(const char *corpus_path, const char *index_dir,
             const as_build_opts *opts, as_build_report *report);

/* Building from documents handed over one by one: as_builder_new, then
 * as_builder_add for each document, then as_builder_finish to publish the
 * index atomically (as as_build does), then as_builder_free.  Freeing a
 * builder that was not finished abandons the build: the previous index
 * stays as it was.  The builder holds index_dir's build lock from new to
 * free. */
typedef struct as_builder as_builder;

/* opts may be NULL; opts->warn and opts->progress are not used. */
AS_API int as_builder_new(const char *index_dir, const as_build_opts *opts,
                          as_builder **out);
/* Add a document.  id must be a non-empty string (AS_ERR_USAGE
 * otherwise); title and body may be NULL (empty).  Invalid UTF-8 is
 * replaced by U+FFFD; a title is cut to 512 bytes.  After a failure
 * (AS_ERR_NOMEM, AS_ERR_IO) every later call fails too. */
AS_API int as_builder_add(as_builder *b, const char *id, const char *title,
                          const char *body);
/* Write and publish the index; report may be NULL.  AS_ERR_NOTFOUND when
 * no document was added (the index is left as it was).  Further adds fail. */
AS_API int as_builder_finish(as_builder *b, as_build_report *report);
AS_API void as_builder_free(as_builder *b);

/* ---- Searching ---------------------------------------------------------- */

typedef struct as_index as_index;

/* Open the index in dir.  Constant time: files are mapped and their headers
 * checked.  AS_ERR_NOINDEX if there is none, AS_ERR_CORRUPT if damaged.
 * The open index keeps answering from the files it opened even when a
 * build replaces the index meanwhile; open it again to see the new one. */
AS_API int as_index_open(const char *dir, as_index **out);
AS_API void as_index_close(as_index *ix);

/* Defaults of BM25F's title field, chosen on NFCorpus's dev split (see
 * the README). */
#define AS_DEFAULT_TITLE_WEIGHT 1.0
#define AS_DEFAULT_TITLE_B 0.75

typedef struct {
    uint32_t k;             /* hits wanted (default 10) */
    uint32_t offset;        /* hits to skip first (default 0) */
    double k1, b;           /* BM25 parameters (defaults 1.2, 0.75) */
    double title_weight;    /* weight of a title word beside the text
                               (default AS_DEFAULT_TITLE_WEIGHT; 0 ignores
                               the title field: plain BM25) */
    double title_b;         /* the title's length normalization
                               (default AS_DEFAULT_TITLE_B) */
    int explain;            /* 1: each hit explains its score */
    int snippets;           /* 1: make snippets (default 1) */
    uint32_t snippet_words; /* snippet length in words (default 30) */
    int exact_count;        /* 1: count every match even when pruning */
    int count;              /* 1 (default): as_results_total is exact when
                               cheap, else estimated; 0: skip the counting
                               pass (the total is then an estimate unless
                               nothing was pruned) */
} as_query_opts;

/* Fill opts with the defaults above.  as_search takes NULL for these. */
AS_API void as_query_opts_init(as_query_opts *opts);

typedef struct {
    uint32_t start, len;    /* byte range within the snippet */
} as_span;

typedef struct {
    uint32_t docid;         /* internal document number */
    double score;
    const char *id;         /* external id: relative path or JSON id */
    const char *title;
    const char *snippet;    /* NULL when snippets are off */
    const as_span *spans;   /* matched words within the snippet */
    size_t nspans;
    const char *explain;    /* opts.explain: lines, one per matching
                               clause, with its share of the score; else
                               NULL */
} as_hit;

typedef struct as_results as_results;

/* Run a query (opts may be NULL: defaults): free text, or the query language (see the README): "a
 * phrase", +required, -excluded, AND, OR, NOT, parentheses, prefix*,
 * title:word.  Punctuation never makes it fail.  AS_ERR_USAGE for an empty
 * query, AS_ERR_TOOLONG past 1,000 terms or 64 KiB.  A query that matches
 * nothing succeeds with zero hits. */
AS_API int as_search(as_index *ix, const char *query,
                     const as_query_opts *opts, as_results **out);
/* Count the documents a query matches, exactly, without ranking.  Same
 * errors as as_search. */
AS_API int as_count(as_index *ix, const char *query, uint64_t *count);

/* The hits in r (at most opts.k); 0 for NULL. */
AS_API size_t as_results_count(const as_results *r);
/* Matching documents: exact unless *estimate is set to 1 (estimate may be
 * NULL). */
AS_API uint64_t as_results_total(const as_results *r, int *estimate);
/* Hit i (0 is the best), or NULL when i >= as_results_count(r). */
AS_API const as_hit *as_results_hit(const as_results *r, size_t i);
/* A remark about the query (a prefix cut to its 128 most frequent
 * terms), or NULL. */
AS_API const char *as_results_notice(const as_results *r);
AS_API void as_results_free(as_results *r);

/* ---- Describing and checking -------------------------------------------- */

typedef struct {
    uint64_t docs, terms, postings, tokens;
    double avgdl;
    uint64_t bytes_lexicon, bytes_postings, bytes_positions, bytes_norms,
        bytes_doctable, bytes_docstore, bytes_total;
    uint64_t text_bytes;    /* corpus text indexed (titles and bodies) */
    char language[32];
    int stopwords;
    char generation[64];
} as_stats;

AS_API int as_index_stats(const as_index *ix, as_stats *st);
/* Verify every checksum and walk every structure.  AS_OK, or
 * AS_ERR_CORRUPT with the first problem in as_errmsg(). */
AS_API int as_index_check(as_index *ix);

#ifdef __cplusplus
}
#endif
#endif
