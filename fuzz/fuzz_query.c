/* fuzz_query.c - libFuzzer target: the query parser, then the query run
 * against a small index (planning, pruning, phrases, prefixes, snippets,
 * explanations), for any bytes a person could type. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "artsearch.h"
#include "fuzz_util.h"
#include "query.h"

static as_index *ix;
static analyzer *an;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = fuzz_index_dir();
    if (as_index_open(dir, &ix) != AS_OK ||
        analyzer_new("english", 0, &an) != AS_OK) {
        fprintf(stderr, "fuzz_query: %s\n", as_errmsg());
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    /* The parser on the raw bytes (NULs included). */
    query *q;
    if (query_parse(an, text, size, &q) == AS_OK) {
        buf b;
        buf_init(&b);
        query_describe(q, &b);
        buf_free(&b);
        query_free(q);
    }
    /* The whole search, as a string (up to the first NUL). */
    as_query_opts o;
    as_query_opts_init(&o);
    o.explain = size % 2;
    o.k = 1 + size % 12;
    as_results *r;
    if (as_search(ix, text, &o, &r) == AS_OK) {
        fuzz_touch_results(r);
        as_results_free(r);
    }
    uint64_t n;
    as_count(ix, text, &n);
    free(text);
    return 0;
}
