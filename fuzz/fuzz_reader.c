/* fuzz_reader.c - libFuzzer target: one corpus reader, chosen at compile
 * time by READER_EXT (".txt", ".html", ".jsonl", ".jsonl.gz"), on a file
 * holding the input; every document read is then analyzed. */
#include <stdint.h>

#include "analyze.h"
#include "corpus.h"
#include "fuzz_util.h"

#ifndef READER_EXT
#define READER_EXT ".txt"
#endif

static analyzer *an;
static char path[700];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "%s/input%s", fuzz_scratch(), READER_EXT);
    if (analyzer_new("english", 0, &an) != AS_OK)
        abort();
    return 0;
}

static int on_token(void *ctx, const an_token *t)
{
    (void)ctx;
    if (t->len == 0 || t->len > AN_MAX_TERM || t->end < t->start)
        abort();
    fuzz_sink += (unsigned char)t->term[t->len - 1];
    return 0;
}

static int on_doc(void *ctx, const corpus_doc *d)
{
    (void)ctx;
    uint32_t pos = 0;
    if (d->id_len == 0)
        abort();
    fuzz_sink += (unsigned char)d->id[d->id_len - 1];
    if (analyzer_run(an, d->title, d->title_len, &pos, on_token, NULL) ||
        analyzer_run(an, d->body, d->body_len, &pos, on_token, NULL))
        abort();
    return 0;
}

static void on_warn(void *ctx, const char *msg)
{
    (void)ctx;
    if (strlen(msg) > 1100)
        abort();
    fuzz_sink += (unsigned char)msg[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    as_build_report rep;
    memset(&rep, 0, sizeof rep);
    /* A small document size limit, so that cutting files and skipping
     * long JSONL lines are fuzzed too. */
    corpus_opts o = {on_warn, NULL, NULL, 1000};
    int rc = corpus_read(path, &o, on_doc, NULL, &rep);
    if (rc != AS_OK)
        abort();            /* bad input is counted, never an error */
    return 0;
}
