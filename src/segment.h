/* segment.h - one immutable segment: lexicon, postings, positions, norms,
 * doc table and doc store.  The byte layout is documented at the top of
 * segment.c, which writes it.
 *
 * Writing: seg_writer_new() in a folder, then documents in doc-id order with
 * seg_writer_doc() (text for the store, length for the norms), then terms in
 * byte order through the inv_sink from seg_writer_sink().  seg_writer_finish()
 * flushes, fsyncs and reports each file's size and CRC32.
 *
 * Reading: seg_open() maps the files and validates headers and sizes
 * (constant time).  Every offset read afterwards is checked before use; a
 * bad one is AS_ERR_CORRUPT naming the file, never a crash.
 */
#ifndef AS_SEGMENT_H
#define AS_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "codec.h"
#include "invert.h"

#define SEG_VERSION 5
#define SEG_NFILES 6
#define SEG_DOC_END UINT32_MAX
/* Bytes of a postings skip entry (see segment.c). */
#define SEG_SKIP_ENTRY 24
/* A term of at least SEG_KTH documents keeps the SEG_KTH-th best score
 * among them (see segment.c, terms.lex). */
#define SEG_KTH 10
/* The first byte of a title-field term (see segment.c). */
#define SEG_TITLE_MARK 0x01

enum { SEG_LEX, SEG_PST, SEG_POS, SEG_NRM, SEG_DT, SEG_DS };
extern const char *const seg_file_names[SEG_NFILES];

typedef struct {
    uint64_t size;
    uint32_t crc;
} seg_file_info;

/* BM25 parameters the writer precomputes block bounds for. */
#define SEG_DEFAULT_K1 1.2
#define SEG_DEFAULT_B 0.75

typedef struct seg_writer seg_writer;

int seg_writer_new(const char *dir, seg_writer **out);
void seg_writer_free(seg_writer *w);
/* Add document doc_id (the next one) with its length and its title's
 * length in positions. */
int seg_writer_doc(seg_writer *w, uint32_t doc_id, const char *id,
                   size_t id_len, const char *title, size_t title_len,
                   const char *body, size_t body_len, uint32_t length,
                   uint32_t title_length);
/* Compress one of the blocks queued for the compression worker, on the
 * calling thread, if there is one to take: 1 if so, else 0.  For a thread
 * that would otherwise wait (the build's inverting thread, waiting for
 * the reading thread); the worker writes the block, in its turn.  Not
 * while seg_writer_finish runs. */
int seg_writer_help(seg_writer *w);
/* After the last document: avgdl for the precomputed block bounds. */
void seg_writer_set_avgdl(seg_writer *w, double avgdl);
inv_sink seg_writer_sink(seg_writer *w);
/* A second sink, for a later range of terms written on another thread
 * while seg_writer_sink's takes the first range (inv_finish): its
 * postings and positions go to temporary files in the folder, which
 * seg_writer_finish appends after the first range's and removes. */
int seg_writer_part(seg_writer *w, inv_sink *out);
int seg_writer_finish(seg_writer *w, seg_file_info info[SEG_NFILES],
                      uint64_t *terms, uint64_t *postings);

/* ---- Reading ------------------------------------------------------------ */

typedef struct {
    const unsigned char *p;
    size_t size;
} seg_map;

typedef struct {
    char dir[4096];
    seg_map f[SEG_NFILES];
    uint64_t ndocs, nterms, nblocks_lex;
    uint32_t lex_per_block;
    const unsigned char *lex_index;     /* nblocks_lex u64 offsets */
    const unsigned char *lex_prefix;    /* nblocks_lex u64 term prefixes */
    const unsigned char *norms;         /* ndocs u32 */
    const unsigned char *tnorms;        /* ndocs u8: title lengths */
    uint64_t title_total;               /* sum of the title lengths */
    uint64_t bs_blocks[2];              /* blocks of docs.dt, store.ds */
    const unsigned char *bs_index[2];   /* their block index entries */
    const unsigned char *bs_dict[2];    /* their preset dictionaries */
    uint32_t bs_dict_len[2];
} segment;

typedef struct {
    uint32_t df;
    uint64_t cf;
    uint64_t post_off, post_len;        /* in postings.pst */
    uint64_t pos_off, pos_len;          /* in positions.pos */
    int title;                          /* a title-field term */
    float kth;      /* df >= SEG_KTH: the SEG_KTH-th largest tfnorm (see
                       terms.lex); else -1 */
} seg_term;

/* Map the files of the segment in dir; expected sizes from the manifest. */
int seg_open(segment *s, const char *dir, const seg_file_info *info);
void seg_close(segment *s);

/* AS_OK and *t filled, AS_ERR_NOTFOUND, or AS_ERR_CORRUPT. */
int seg_lookup(const segment *s, const char *term, size_t len, seg_term *t);

static inline uint32_t seg_doclen(const segment *s, uint32_t doc)
{
    const unsigned char *p = s->norms + (size_t)doc * 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint32_t seg_titlelen(const segment *s, uint32_t doc)
{
    return s->tnorms[doc];
}

/* Lexicon iteration from the first term >= prefix (for prefix queries and
 * check).  fn returns nonzero to stop. */
typedef int (*seg_term_fn)(void *ctx, const char *term, size_t len,
                           const seg_term *t);
int seg_terms_from(const segment *s, const char *from, size_t len,
                   seg_term_fn fn, void *ctx);

/* Nonzero (the default): the second half of the merge is appended to the
 * index files in the kernel (copy_file_range) where it can be; tests set
 * 0 to take the portable path. */
extern int seg_kernel_copy;
/* Nonzero (tests): the store compression worker takes no block before
 * the end of the build unless its queue is full, so the caller's share of
 * them (worker_drain) is as big as it gets. */
extern int seg_hold_worker;
/* The bytes of the ring queued store blocks are copied into (64 MiB);
 * tests make it small, so that it wraps and fills. */
extern size_t seg_ring_bytes;
/* The store's file is fdatasync'd on the worker every so many bytes (32
 * MiB); tests make it small, and count the calls in seg_store_syncs. */
extern uint64_t seg_store_sync_bytes;
extern _Atomic uint64_t seg_store_syncs;

/* A postings cursor. */
typedef struct {
    const segment *s;
    seg_term t;
    uint32_t nblocks;       /* blocks of 128 (the last may be a tail) */
    const unsigned char *skips;   /* nblocks entries, or NULL if one block */
    const unsigned char *data, *end;
    uint32_t block;         /* current block */
    uint32_t n, i;          /* postings decoded in the block, index */
    uint32_t doc;           /* current doc, SEG_DOC_END when done */
    uint32_t block_last;    /* last doc of the current block */
    uint32_t base;          /* last doc before the current block */
    uint32_t docs[128], tfs[128];
    int bad;                /* decoding ran into damage */
    int tf_ready;           /* tfs[] decoded (else from tf_packed) */
    unsigned tf_bits;
    const unsigned char *tf_packed;
} seg_cursor;

int seg_cursor_init(seg_cursor *c, const segment *s, const seg_term *t);
/* Move to the first doc >= target (SEG_DOC_END when none). */
uint32_t seg_cursor_seek(seg_cursor *c, uint32_t target);
uint32_t seg_cursor_next_block(seg_cursor *c);
/* The first doc of the next block, leaving the rest of the current one
 * (SEG_DOC_END when none): for callers that read c->docs[c->i..c->n)
 * themselves. */
uint32_t seg_cursor_skip_block(seg_cursor *c);
/* The next doc (SEG_DOC_END when done); inline within a block. */
static inline uint32_t seg_cursor_next(seg_cursor *c)
{
    if (c->doc != SEG_DOC_END && c->i + 1 < c->n)
        return c->doc = c->docs[++c->i];
    return seg_cursor_next_block(c);
}
void seg_cursor_load_tfs(seg_cursor *c);
static inline uint32_t seg_cursor_tf(seg_cursor *c)
{
    if (!c->tf_ready)
        seg_cursor_load_tfs(c);
    return c->tfs[c->i];
}
/* The last document of block k (< c->nblocks). */
static inline uint32_t seg_block_last(const seg_cursor *c, uint32_t k)
{
    return c->skips ? rd_u32(c->skips + (size_t)k * SEG_SKIP_ENTRY)
                    : c->block_last;
}

/* The first block from k on whose last document is >= target (nblocks if
 * none): a galloping search, as a probe may jump over many blocks of a
 * long list. */
static inline uint32_t seg_block_find(const seg_cursor *c, uint32_t k,
                                      uint32_t target)
{
    uint32_t step = 1, lo = k;
    while (k < c->nblocks && seg_block_last(c, k) < target) {
        lo = k + 1;
        k += step;
        step *= 2;
    }
    uint32_t hi = k < c->nblocks ? k : c->nblocks;   /* last(hi) >= target */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seg_block_last(c, mid) < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
/* Bound information of block k (< c->nblocks) without decoding it: its
 * last doc, largest tf, smallest doc length and the default-parameter
 * bound (-1 when not stored: a term of one block, computed exactly from
 * the decoded block instead). */
void seg_block_info(const seg_cursor *c, uint32_t k, uint32_t *last,
                    uint32_t *max_tf, uint32_t *min_dl, float *bound);

/* The largest stored bound of blocks [from, to] (c->skips set): 1, or 0
 * when one is damaged (then use seg_block_info's fields). */
int seg_blocks_bound(const seg_cursor *c, uint32_t from, uint32_t to,
                     float *bound);

/* Positions of the current posting of c: decodes into pos (tf entries). */
int seg_positions(const seg_cursor *c, uint32_t *pos, uint32_t cap);

/* Stored document: id and title (pointing into the mapped doc table,
 * valid while the segment is open), and the text decompressed into text
 * unless text is NULL (then d->text is "").  *dctx is the decompressor,
 * made on first use (start with NULL) and kept for the next documents;
 * free it with seg_doc_done. */
typedef struct {
    const char *id, *title, *text;
    size_t id_len, title_len, text_len;
} seg_doc;
int seg_doc_get(const segment *s, uint32_t doc, buf *text, seg_doc *d,
                void **dctx);
void seg_doc_done(void **dctx);

/* Full verification for `check`: CRCs are checked by the index layer; this
 * walks the lexicon order, decodes every postings list and positions and
 * every doc store block. */
int seg_verify(const segment *s, uint64_t *postings);

#endif
