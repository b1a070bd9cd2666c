/* index.h - the index folder: manifest, atomic publish, open, check.
 *
 * An index folder holds:
 *   MANIFEST      names the live generation and records corpus statistics,
 *                 analyzer settings and each file's size and CRC32 (format
 *                 at the top of index.c)
 *   gen-<stamp>/  the live segment's files (segment.c)
 *   LOCK          held (flock) by a running build
 *   tmp-<...>/    a build in progress, or the remains of a killed one
 *
 * A build writes a new segment into tmp-<pid>-<stamp>/, fsyncs it, renames
 * it to gen-<stamp>/, then writes MANIFEST.tmp, fsyncs it and renames it
 * over MANIFEST: the rename is the moment the new index becomes visible.
 * Until then readers see the old index whole; a failed or killed build only
 * leaves a tmp- folder, which the next build deletes along with
 * generations no manifest names.
 */
#ifndef AS_INDEX_H
#define AS_INDEX_H

#include <pthread.h>

#include "analyze.h"
#include "artsearch.h"
#include "segment.h"

#define INDEX_MANIFEST_VERSION 1

struct as_index {
    char dir[4096];
    char gen[64];
    segment seg;
    uint64_t docs, tokens, terms, postings, text_bytes;
    double avgdl;
    char language[32];
    int stopwords;
    seg_file_info files[SEG_NFILES];
    pthread_mutex_t an_lock;
    void *an_spare;         /* one analyzer kept for reuse between queries */
    void *dctx_spare;       /* one doc store decompressor, likewise */
};

/* An analyzer configured as the index was built; return it with
 * index_analyzer_put().  Safe from several threads. */
int index_analyzer_get(as_index *ix, analyzer **out);
void index_analyzer_put(as_index *ix, analyzer *an);

/* A doc store decompressor for seg_doc_get (NULL: it makes one), and its
 * return: making one costs about as much as ranking a short query. */
void *index_dctx_get(as_index *ix);
void index_dctx_put(as_index *ix, void *dctx);

#endif
