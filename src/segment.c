/* segment.c - writing and reading one immutable segment.
 *
 * A segment is six files in one folder.  All integers are little-endian;
 * "varint" is the codec.h variable-byte encoding.  Every file starts with
 * the same 32-byte header:
 *
 *   offset size  field
 *   0      4     magic: "ASLX" lexicon, "ASPS" postings, "ASPO" positions,
 *                "ASNR" norms, "ASDT" doc table, "ASDS" doc store
 *   4      4     format version (SEG_VERSION = 5)
 *   8      8     a  } three counts whose meaning depends on the file,
 *   16     8     b  } given below; unused ones are 0
 *   24     8     c  }
 *
 * The manifest (index.c) records each file's size and CRC32; a reader
 * checks sizes and headers at open, `check` the CRCs.
 *
 * terms.lex - the lexicon.  a = number of terms, b = offset of the sparse
 * index, c = number of blocks | terms per block << 32.  Terms are sorted by
 * bytes and front-coded in blocks of 16 (the last block may hold fewer):
 *
 *   block:  varint postings offset of the block's first term (absolute,
 *                  in postings.pst)
 *           varint positions offset of the block's first term (absolute,
 *                  in positions.pos)
 *           per term:
 *             varint prefix   bytes shared with the previous term of the
 *                             block (0 for the first)
 *             varint suffix length, then the suffix bytes
 *             varint df       documents containing the term
 *             varint cf - df  occurrences beyond one per document
 *             f32 (only when df >= SEG_KTH = 10) the 10th largest
 *                             tfnorm of the term's postings (the f32 of
 *                             the skip entries below, rounded down): a
 *                             query's 10th best score is at least idf
 *                             times this for each of its terms, which
 *                             starts MaxScore with a threshold (search.c)
 *             varint postings length in bytes (the next term's postings
 *                             follow directly)
 *             varint positions length in bytes (likewise)
 *   sparse index (at offset b): one u64 per block, the block's file offset.
 *   prefix index (after it, format version 5): one u64 per block whose
 *   value is the first 8 bytes of the block's first term read as a
 *   big-endian number (zero bytes past a shorter term), so that comparing
 *   two of them as numbers compares the prefixes as bytes.
 *
 * A lookup narrows the blocks with a binary search over the prefix index
 * (8-byte entries side by side), then compares whole first terms of the
 * few blocks left, then scans one block.  Reading the first term of each
 * block a binary search visits (15 of the wiki passages' 27,600 blocks,
 * scattered over 5 MB) cost about half a microsecond a term: the prefix
 * index took 5% off the mean health title query.
 *
 * postings.pst - a = total postings.  For each term, df postings in
 * ceil(df / 128) blocks; all blocks are full (128 postings) but the last,
 * which holds df % 128 postings when that is not 0 (the "tail"):
 *
 *   skip table (only when the term has more than one block), per block
 *   24 bytes:
 *     u32 last doc id of the block
 *     u32 offset of the block's data from the end of the skip table
 *     u32 offset of the block's first positions from the term's positions
 *     u32 largest tf in the block
 *     u32 smallest document length in the block
 *     f32 largest tf*(k1+1)/(tf + k1*(1-b+b*dl/avgdl)) in the block, with
 *         k1 = 1.2, b = 0.75 (the block's best BM25 score is idf times this;
 *         for other k1 and b the two fields before it give a bound)
 *   blocks:
 *     full block: u8 bits of the gaps, u8 bits of tf-1, then 128 gaps
 *                 bit-packed (16*bits bytes), then 128 tf-1 values
 *                 bit-packed.  gap = doc - previous doc - 1, where the
 *                 previous doc of a term's first block is -1.
 *     tail:       per posting varint (gap << 1 | (tf == 1)), then varint tf
 *                 when tf != 1.
 *
 * positions.pos - a = total positions.  For each term, for each posting in
 * order, tf varints: the first position, then the differences.  Ranked
 * queries never read this file.
 *
 * Fields.  A document has two fields: its text (title and body; the
 * title's words come first) and its title.  A term of the title field is
 * stored as the byte 0x01 followed by the term (SEG_TITLE_MARK); its
 * positions are the word's positions in the document (the title's).  Its
 * skip entries hold the title length in place of the document length, and
 * their bound uses the average title length.
 *
 * norms.nrm - a = number of documents, c = sum of the title lengths; then
 * one u32 per document: its length in positions (exact), then one u8 per
 * document: its title's length in positions (255 for 255 and more).
 *
 * docs.dt and store.ds - stored documents, in the same blocked layout:
 * a = number of blocks, b = number of documents, c = offset of the block
 * index.  At offset 32: u32 dictionary length L (at most 32 KiB; 0 for
 * docs.dt), then L bytes: the store's first records uncompressed, the
 * raw-content dictionary of every block.  Then the blocks of records for
 * consecutive documents, a block closing once it holds DT_BLOCK (docs.dt)
 * or DS_BLOCK (store.ds) uncompressed bytes (the first block of store.ds
 * holds at least the dictionary's records); a document bigger than that
 * is a block of its own.
 *   store.ds blocks are Zstandard frames (level ZS_LEVEL, no checksum: the
 *   manifest's CRC32 covers the file; the frame header holds the
 *   uncompressed size; a block over 64 KiB, one big document, is
 *   compressed without the dictionary).  The dictionary lets small blocks
 *   compress nearly as well as large ones.
 *   docs.dt blocks are stored uncompressed: a result list reads ten
 *   records, and decompressing their blocks cost about 3 us a hit, as much
 *   as ranking a short query (the file is 6.9 MiB for the 300,000 wiki
 *   passages, against 1.4 MiB compressed).
 * At offset c, per block 24 bytes: u64 offset of the block, u32 stored
 * length, u32 uncompressed length (equal for docs.dt), u32 first doc id,
 * u32 number of documents.
 *   docs.dt records:  varint id length, id, varint title length, title
 *   store.ds records: varint text length, text
 * A snippet decompresses one 4 KiB text block: against 8 KiB blocks this
 * halved the snippets' time (ten of them took 0.4 ms of a 2 ms query
 * process) for a store 6% larger (98.4 MiB against 92.6 for the wiki
 * passages).
 */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isa-l/crc.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY    /* raw-content dictionaries, custom
                                       allocation */
#include <zstd.h>
#include <zstd_errors.h>

#include "codec.h"
#include "err.h"
#include "mem.h"

#define HDR 32
#define LEX_PER_BLOCK 16
#define SKIP_ENTRY SEG_SKIP_ENTRY
#define BS_ENTRY 24
#define DT_BLOCK 1024
#define DS_BLOCK (4 * 1024)      /* see "A snippet" above */
#define BS_DICT (32 * 1024)
/* Zstandard, not zlib: the dictionary is digested once (a CDict) rather
 * than for every 8 KiB block, which made zlib level 5 take 18 s of CPU on
 * the 220 MiB of wiki text (zstd level 3: about 5 s; the store 5% larger,
 * 92.6 MiB against 88.1).  Level 1, not 3: compressing the wiki store
 * takes about a sixth less CPU (2.3 s of a build's 12 s at level 3), for
 * a store 3.4% larger (106.7 MB against 103.1). */
#define ZS_LEVEL 1
/* Level 1's parameters against the dictionary, but for its hash table:
 * 2^15 entries (level 1 takes 2^13 for a 4 KiB block and a 32 KiB
 * dictionary), which finds more of the dictionary's matches: the wiki
 * store 1.7% smaller (104.9 MB against 106.7), compressed as fast (the
 * worker thread's samples in alternating builds: 3026-3240 against
 * 3059-3289). */
#define ZS_DICT_HASHLOG 15
/* Blocks larger than this (one big document) are compressed without the
 * dictionary (the reader's dictionary does no harm to them). */
#define ZS_DICT_MAX_BLOCK ((size_t)64 << 10)

/* The compression worker runs at the lowest priority and may lag behind
 * by up to BW_QUEUE_BYTES of blocks: while the reading and inverting
 * threads have the two cores it waits, and it catches up when one of them
 * waits and during the final merge, when one core would be idle.  That
 * took about 0.6 s off building the wiki passages.
 *   When the queue was full, though, the reading thread waited for room
 * (0.5 s of a wiki build, 21 times) and the inverting thread, soon out of
 * work, waited for the reading one: a core stood idle while the worker
 * compressed alone.  So the inverting thread compresses queued blocks
 * itself whenever it would wait (seg_writer_help): the cores' idle time
 * of a wiki build went from 0.70 to 0.33 s, its wall time from 3.82 to
 * 3.56 s (means of 10 alternating builds). */
#define BW_QUEUE 16384
#define BW_QUEUE_BYTES ((size_t)64 << 20)
/* The store's file is fdatasync'd every DS_SYNC_EVERY bytes on the
 * worker thread, which then waits while the other threads have the cores
 * (store_sync): the final fsyncs of a wiki build waited 0.01-0.06 s
 * (0.06 when the worker's last sync falls short of the store's end, the
 * calling thread writing its share of the queue) instead of 0.10-0.19 s. */
#define DS_SYNC_EVERY ((uint64_t)32 << 20)
/* Queued blocks of up to RING_BLOCK_MAX bytes (and a 32nd of the ring)
 * are copied into a ring of seg_ring_bytes (BW_QUEUE_BYTES but in tests)
 * on huge pages (mem_alloc_huge), freed in the order they were queued; the
 * block being gathered keeps its buffer.  A fresh malloc'd
 * buffer for every block, grown by doubling and freed by the worker, cost
 * the reading thread, on the build's critical path, 480,000 reallocs and
 * 14,000 page faults of about 10 us each (6,000 mprotect calls) for the
 * wiki passages.  Bigger blocks (a big document) are handed over in the
 * buffer they were gathered in. */
#define RING_BLOCK_MAX ZS_DICT_MAX_BLOCK
/* A queued job's state: seg_writer_help may compress one in its place,
 * for the worker to write; one it could not shrink is left to the worker
 * (JOB_LEFT), and no sweep takes it again. */
enum { JOB_QUEUED, JOB_HELPING, JOB_HELPED, JOB_LEFT };
/* docs.dt has none: its blocks are stored uncompressed. */
#define DT_DICT 0

const char *const seg_file_names[SEG_NFILES] = {
    "terms.lex", "postings.pst", "positions.pos", "norms.nrm", "docs.dt",
    "store.ds",
};
static const char magics[SEG_NFILES][5] = {"ASLX", "ASPS", "ASPO", "ASNR",
                                           "ASDT", "ASDS"};

/* Test switches (segment.h). */
int seg_kernel_copy = 1;
int seg_hold_worker = 0;
size_t seg_ring_bytes = BW_QUEUE_BYTES;
uint64_t seg_store_sync_bytes = DS_SYNC_EVERY;
_Atomic uint64_t seg_store_syncs;

/* ---- A file writer with a sticky error and a running CRC ---------------- */

typedef struct {
    int fd;
    char path[4200];
    buf b;
    uint64_t written;       /* bytes after the header, flushed or buffered */
    uint32_t crc;           /* of the bytes after the header */
    int err;
    int temp;               /* part 1's file: copied, then removed */
} fwriter;

/* flags: O_WRONLY, or O_RDWR for a file read back (seg_writer_part). */
static int fw_open(fwriter *w, const char *dir, const char *name, int flags)
{
    buf_init(&w->b);
    w->written = 0;
    w->temp = 0;
    w->crc = 0;
    w->err = AS_OK;
    snprintf(w->path, sizeof w->path, "%s/%s", dir, name);
    w->fd = open(w->path, flags | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0)
        return w->err = err_set(AS_ERR_IO, "%s: %s", w->path, strerror(errno));
    static const unsigned char zero[HDR];
    if (err_write_all(w->fd, zero, HDR, 0, w->path))
        return w->err = AS_ERR_IO;
    if (lseek(w->fd, HDR, SEEK_SET) != HDR)
        return w->err = err_set(AS_ERR_IO, "%s: %s", w->path, strerror(errno));
    return AS_OK;
}

/* Start writing bytes [off, off + len) of w's file to the disk, without
 * waiting.  The files are written a megabyte at a time and fsync'd at the
 * end, where a wiki build's six fsyncs waited 0.18 s with the cores idle
 * (0.14 s with this alone: an fsync's cost here grows with the bytes
 * written since the disk was last flushed, written back or not; hence
 * also store_sync). */
static void fw_writeback(const fwriter *w, uint64_t off, uint64_t len)
{
#ifdef SYNC_FILE_RANGE_WRITE
    (void)sync_file_range(w->fd, (off_t)off, (off_t)len,
                          SYNC_FILE_RANGE_WRITE);
#else
    (void)w;
    (void)off;
    (void)len;
#endif
}

/* The CRC is taken here, a buffer at a time (ISA-L's crc32_gzip_refl,
 * about three times as fast as zlib's crc32_z and the same CRC-32): taken
 * in fw_write, most calls were a few bytes. */
static void fw_flush(fwriter *w)
{
    if (!w->err && w->b.len > 0) {
        w->crc = crc32_gzip_refl(w->crc, w->b.p, w->b.len);
        w->err = err_write_all(w->fd, w->b.p, w->b.len, -1, w->path);
        if (!w->err && !w->temp)
            fw_writeback(w, HDR + w->written - w->b.len, w->b.len);
    }
    buf_clear(&w->b);
}

static void fw_write_slow(fwriter *w, const void *p, size_t n)
{
    /* An empty dictionary is a NULL buffer. */
    if (w->err || n == 0)
        return;
    w->written += n;
    if (n >= (1 << 20)) {
        fw_flush(w);
        buf_append(&w->b, p, n);
        fw_flush(w);
        return;
    }
    buf_append(&w->b, p, n);
    if (w->b.err)
        w->err = err_set(AS_ERR_NOMEM, "out of memory writing %s", w->path);
    else if (w->b.len >= (1 << 20))
        fw_flush(w);
}

/* Most writes are a few bytes (a posting's positions, a varint): copied
 * in place when the buffer has room, without buf_append's call and
 * memcpy's (1.2% of a build's instructions). */
static inline void fw_write(fwriter *w, const void *p, size_t n)
{
    buf *b = &w->b;
    if (n > 16 || w->err || b->cap - b->len < n) {
        fw_write_slow(w, p, n);
        return;
    }
    const unsigned char *q = p;
    unsigned char *d = b->p + b->len;
    for (size_t i = 0; i < n; i++)
        d[i] = q[i];
    b->len += n;
    w->written += n;
    if (b->len >= (1 << 20))
        fw_flush(w);
}

static void fw_varint(fwriter *w, uint64_t v)
{
    unsigned char t[10];
    fw_write(w, t, codec_varint_encode(t, v));
}

static uint64_t fw_offset(const fwriter *w)
{
    return HDR + w->written;
}

/* Write the header, fsync, close.  Fills info. */
static int fw_finish(fwriter *w, int file, uint64_t a, uint64_t b,
                     uint64_t c, seg_file_info *info)
{
    fw_flush(w);
    unsigned char h[HDR];
    memcpy(h, magics[file], 4);
    wr_u32(h + 4, SEG_VERSION);
    wr_u32(h + 8, (uint32_t)a);
    wr_u32(h + 12, (uint32_t)(a >> 32));
    wr_u32(h + 16, (uint32_t)b);
    wr_u32(h + 20, (uint32_t)(b >> 32));
    wr_u32(h + 24, (uint32_t)c);
    wr_u32(h + 28, (uint32_t)(c >> 32));
    if (!w->err)
        w->err = err_write_all(w->fd, h, HDR, 0, w->path);
    if (!w->err && fsync(w->fd) != 0)
        w->err = err_set(AS_ERR_IO, "%s: %s", w->path, strerror(errno));
    if (w->fd >= 0 && close(w->fd) != 0 && !w->err)
        w->err = err_set(AS_ERR_IO, "%s: %s", w->path, strerror(errno));
    w->fd = -1;
    info->size = HDR + w->written;
    uint32_t hcrc = (uint32_t)crc32(0, h, HDR);
    info->crc = (uint32_t)crc32_combine(hcrc, w->crc, (z_off_t)w->written);
    buf_free(&w->b);
    return w->err;
}

static void fw_abort(fwriter *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    buf_free(&w->b);
}

/* ---- The segment writer ------------------------------------------------- */

/* One blocked record store being written (docs.dt or store.ds). */
typedef struct {
    /* The caller's, written for every document. */
    int file;               /* SEG_DT or SEG_DS */
    size_t target;          /* uncompressed bytes per block */
    size_t dict_max;        /* dictionary size */
    buf raw, dict;
    int dict_set;
    ZSTD_CDict *cdict;      /* dict digested; NULL while empty */
    void *cdict_mem;        /* cdict lives here (ZSTD_initStaticCDict) */
    buf ends;               /* u32 record end offsets in raw, before the
                               dictionary is set */
    uint32_t first, count;
    /* The worker's (bw_compress), written for every block, a cache line
     * apart from the caller's fields, which they had shared. */
    unsigned char gap[64];
    buf z, index;
    uint64_t nblocks, rawbytes;
    unsigned char gap2[64];
} blockw;

/* One part of the terms being written.  Part 0, the caller's, writes
 * postings and positions straight into postings.pst and positions.pos and
 * its lexicon entries into terms.lex.  Part 1 (seg_writer_part) takes the
 * terms after part 0's, on another thread: it writes its postings,
 * positions and lexicon records into files of its own (part_names), and
 * seg_writer_finish appends them after part 0's.  A part touches only its
 * own fields and reads the norms, which are complete by then. */
typedef struct {
    seg_writer *w;
    fwriter *pst, *pos;
    fwriter own[3];         /* part 1's postings, positions and lexicon
                               records (lex_record); fd -1: not open */
    buf term;
    uint32_t docs[CODEC_BLOCK], tfs[CODEC_BLOCK], n;
    uint32_t last_doc;          /* last doc of the previous block */
    uint32_t df;
    uint64_t cf;
    double kth[SEG_KTH];        /* the best tfnorms, a min-heap */
    uint32_t nkth;
    uint64_t pos_term_start;    /* positions offset of the term */
    uint32_t block_pos_off;
    buf blocks, skips;
    uint32_t nblocks;
    uint64_t postings_total, positions_total;
    int err;
    /* The two parts lie side by side in the seg_writer, between fields
     * the other thread writes: without this gap, part 0's counters
     * (written for every posting) shared a cache line with part 1's
     * pointers (read for every posting), and part 1's with the lexicon's
     * buffers, written by part 0 for every term. */
    unsigned char gap[64];
} term_writer;

struct seg_writer {
    fwriter f[SEG_NFILES];
    int opened;
    char dir[4096];
    /* norms */
    uint32_t *dl;
    uint8_t *tl;            /* title lengths */
    uint64_t title_total;
    size_t ndocs, capdocs;
    double avgdl, avgtl;
    /* tfnorm of the small tfs and lengths, by field (see tfnorm_of);
     * NULL without memory. */
    double *tfn;
    /* stored documents: [0] ids and titles (docs.dt), [1] text (store.ds) */
    blockw bw[2];
    ZSTD_CCtx *cctx;        /* used by whoever compresses (see worker) */
    ZSTD_CCtx *hcctx;       /* the caller's, helping (seg_writer_help) */
    /* The compression worker: blocks of both stores are compressed and
     * written by one thread, in order, while the caller goes on indexing.
     * Without a thread (pthread_create failed) they are done inline. */
    int threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct bw_job {
        blockw *b;
        unsigned char *data;
        size_t len;
        size_t take;        /* bytes of the ring it holds, waste included */
        int owned;          /* data malloc'd, freed with the job */
        int state;          /* JOB_QUEUED, _HELPING, _HELPED or _LEFT */
        size_t zlen;        /* JOB_HELPED: data[0..zlen) is compressed */
        uint32_t first, count;
    } *queue;               /* BW_QUEUE jobs, a ring */
    size_t qhead, qlen, qbytes;
    uint64_t popped;        /* jobs taken off the head so far: the head's
                               number (jobs are numbered from 0) */
    /* seg_writer_help's sweep: it goes down from the newest job to the
     * head; hnext is the next job to look at, 0 when the sweep is over. */
    uint64_t hnext;
    unsigned char *hbuf;    /* its compressed output, before the copy */
    /* The ring of queued blocks' bytes (NULL: none, blocks are malloc'd):
     * rused bytes end at rhead (with the bytes skipped at the end when a
     * block did not fit there); freed from the start, in queue order. */
    unsigned char *ring;
    size_t rsize, rmax;     /* its size; the biggest block it takes */
    size_t rhead, rused;
    int blocked;            /* the caller waits for room */
    int stop;
    uint64_t synced;        /* store bytes written at the last store_sync */
    int werr;               /* the worker's first error ... */
    char werr_msg[512];     /* ... and its message */
    term_writer part[2];
    int parts;                  /* 2 once seg_writer_part was called */
    /* lexicon */
    buf prev_term, lexblock, lexindex, lexprefix;
    uint32_t lex_in_block;
    uint64_t nterms, lexblocks;
    int err;
};

/* zstd allocates through mem_alloc, so allocation-failure tests reach it. */
static void *zs_alloc(void *opaque, size_t n)
{
    (void)opaque;
    return mem_alloc(n);
}

static void zs_free(void *opaque, void *p)
{
    (void)opaque;
    mem_free(p);
}

static const ZSTD_customMem zs_mem = {zs_alloc, zs_free, NULL};

static int fail(seg_writer *w, int rc)
{
    if (!w->err)
        w->err = rc;
    return w->err;
}

static void *worker_main(void *arg);
static int worker_stop(seg_writer *w);
static void part_close(term_writer *t);

/* Apply fn to every buffer the writer owns (one list for init and free). */
static void each_buf(seg_writer *w, void (*fn)(buf *))
{
    buf *bufs[] = {&w->bw[0].raw, &w->bw[0].z, &w->bw[0].index,
                   &w->bw[0].dict, &w->bw[0].ends, &w->bw[1].raw,
                   &w->bw[1].z, &w->bw[1].index, &w->bw[1].dict,
                   &w->bw[1].ends, &w->part[0].term, &w->part[0].blocks,
                   &w->part[0].skips, &w->part[1].term, &w->part[1].blocks,
                   &w->part[1].skips, &w->prev_term, &w->lexblock,
                   &w->lexindex, &w->lexprefix};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        fn(bufs[i]);
}

int seg_writer_new(const char *dir, seg_writer **out)
{
    seg_writer *w = mem_calloc(1, sizeof *w);
    if (!w)
        return err_set(AS_ERR_NOMEM, "out of memory");
    each_buf(w, buf_init);
    w->bw[0].file = SEG_DT;
    w->bw[0].target = DT_BLOCK;
    w->bw[0].dict_max = DT_DICT;
    w->bw[1].file = SEG_DS;
    w->bw[1].target = DS_BLOCK;
    w->bw[1].dict_max = BS_DICT;
    for (int i = 0; i < SEG_NFILES; i++)
        w->f[i].fd = -1;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    for (int p = 0; p < 2; p++) {
        w->part[p].w = w;
        for (int i = 0; i < 3; i++)
            w->part[p].own[i].fd = -1;
    }
    w->part[0].pst = &w->f[SEG_PST];
    w->part[0].pos = &w->f[SEG_POS];
    for (int i = 0; i < SEG_NFILES; i++) {
        int rc = fw_open(&w->f[i], dir, seg_file_names[i], O_WRONLY);
        w->opened = i + 1;
        if (rc) {
            seg_writer_free(w);
            return rc;
        }
    }
    w->avgdl = 1;
    w->avgtl = 1;
    w->queue = mem_alloc(BW_QUEUE * sizeof *w->queue);
    w->rsize = seg_ring_bytes;
    w->rmax = w->rsize / 32 < RING_BLOCK_MAX ? w->rsize / 32 : RING_BLOCK_MAX;
    w->ring = mem_alloc_huge(w->rsize);     /* NULL: blocks malloc'd */
    if (!w->queue) {
        seg_writer_free(w);
        return err_set(AS_ERR_NOMEM, "out of memory");
    }
    if (pthread_mutex_init(&w->mu, NULL) == 0) {
        pthread_cond_init(&w->not_empty, NULL);
        pthread_cond_init(&w->not_full, NULL);
        if (pthread_create(&w->thread, NULL, worker_main, w) == 0) {
            w->threaded = 1;
        } else {
            pthread_mutex_destroy(&w->mu);
            pthread_cond_destroy(&w->not_empty);
            pthread_cond_destroy(&w->not_full);
        }
    }
    *out = w;
    return AS_OK;
}

void seg_writer_free(seg_writer *w)
{
    if (!w)
        return;
    worker_stop(w);
    for (int i = 0; i < w->opened; i++)
        fw_abort(&w->f[i]);
    part_close(&w->part[1]);
    each_buf(w, buf_free);
    ZSTD_freeCCtx(w->cctx);
    ZSTD_freeCCtx(w->hcctx);
    mem_free(w->bw[0].cdict_mem);      /* static CDicts: no ZSTD_free */
    mem_free(w->bw[1].cdict_mem);
    mem_free(w->dl);
    mem_free(w->tl);
    mem_free(w->tfn);
    mem_free(w->queue);
    mem_free(w->ring);
    mem_free(w->hbuf);
    mem_free(w);
}

static int zs_error(size_t r)
{
    return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation
               ? err_set(AS_ERR_NOMEM, "out of memory")
               : err_set(AS_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
}

/* p[0..len) compressed into dst (room for ZSTD_compressBound(len)) with
 * cc, against b's dictionary once there is one: the size, or a zstd error
 * code.  b->cdict is only read, so two threads may share it. */
static size_t zs_into(ZSTD_CCtx *cc, const blockw *b, void *dst, size_t cap,
                      const unsigned char *p, size_t len)
{
    return b->cdict ? ZSTD_compress_usingCDict(cc, dst, cap, p, len, b->cdict)
                    : ZSTD_compressCCtx(cc, dst, cap, p, len, ZS_LEVEL);
}

/* A block of at most ZS_DICT_MAX_BLOCK bytes, with the dictionary once
 * there is one, into f; *zlen: its compressed size. */
static int zs_block(seg_writer *w, blockw *b, fwriter *f,
                    const unsigned char *p, size_t len, size_t *zlen)
{
    size_t bound = ZSTD_compressBound(len);
    buf_clear(&b->z);
    if (buf_reserve(&b->z, bound))
        return err_set(AS_ERR_NOMEM, "out of memory");
    size_t r = zs_into(w->cctx, b, b->z.p, bound, p, len);
    if (ZSTD_isError(r))
        return zs_error(r);
    fw_write(f, b->z.p, r);
    *zlen = r;
    return AS_OK;
}

/* A bigger block (one big document) without the dictionary (given a CDict
 * and a large input, zstd 1.5.4 chose an optimal-parsing match finder and
 * took 300 s over a 100 MB document), compressed a piece at a time: a
 * buffer of the whole output was as big as the document. */
#define ZS_STREAM_OUT ((size_t)1 << 20)

static int zs_stream(seg_writer *w, blockw *b, fwriter *f,
                     const unsigned char *p, size_t len, size_t *zlen)
{
    buf_clear(&b->z);
    if (buf_reserve(&b->z, ZS_STREAM_OUT))
        return err_set(AS_ERR_NOMEM, "out of memory");
    ZSTD_CCtx *z = w->cctx;
    size_t r = ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, ZS_LEVEL);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setPledgedSrcSize(z, len);
    ZSTD_inBuffer in = {p, len, 0};
    *zlen = 0;
    while (!ZSTD_isError(r)) {
        ZSTD_outBuffer out = {b->z.p, ZS_STREAM_OUT, 0};
        r = ZSTD_compressStream2(z, &out, &in, ZSTD_e_end);
        fw_write(f, b->z.p, out.pos);
        *zlen += out.pos;
        if (r == 0)
            break;
    }
    /* The next small block starts from the defaults again. */
    size_t r2 = ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
    if (ZSTD_isError(r))
        return zs_error(r);
    return ZSTD_isError(r2) ? zs_error(r2) : AS_OK;
}

/* The index entry of a block of b's file at off: stored bytes, len
 * uncompressed, count records from doc first. */
static int bw_index(seg_writer *w, blockw *b, uint64_t off, size_t stored,
                    size_t len, uint32_t first, uint32_t count)
{
    unsigned char e[BS_ENTRY];
    wr_u32(e, (uint32_t)off);
    wr_u32(e + 4, (uint32_t)(off >> 32));
    wr_u32(e + 8, (uint32_t)stored);
    wr_u32(e + 12, (uint32_t)len);
    wr_u32(e + 16, first);
    wr_u32(e + 20, count);
    buf_append(&b->index, e, sizeof e);
    b->rawbytes += len;
    b->nblocks++;
    if (b->index.err)
        return err_set(AS_ERR_NOMEM, "out of memory");
    return w->f[b->file].err;
}

/* Compress raw bytes p[0..len) holding count records from doc first as
 * the next block of b's file.  Runs on the worker thread (or inline): it
 * touches only w->cctx, b's file, b->z, b->index and b's counters, and
 * reports errors by its return value, never through w->err. */
static int bw_compress(seg_writer *w, blockw *b, const unsigned char *p,
                       size_t len, uint32_t first, uint32_t count)
{
    fwriter *f = &w->f[b->file];
    uint64_t off = fw_offset(f);
    size_t stored = len;
    if (b->file == SEG_DT) {        /* stored as it is */
        fw_write(f, p, len);
    } else {
        if (!w->cctx && !(w->cctx = ZSTD_createCCtx_advanced(zs_mem)))
            return err_set(AS_ERR_NOMEM, "out of memory");
        int rc = len > ZS_DICT_MAX_BLOCK ? zs_stream(w, b, f, p, len, &stored)
                                         : zs_block(w, b, f, p, len, &stored);
        if (rc)
            return rc;
    }
    return bw_index(w, b, off, stored, len, first, count);
}

/* Write a block seg_writer_help compressed: j->data[0..j->zlen). */
static int bw_write_helped(seg_writer *w, const struct bw_job *j)
{
    fwriter *f = &w->f[j->b->file];
    uint64_t off = fw_offset(f);
    fw_write(f, j->data, j->zlen);
    return bw_index(w, j->b, off, j->zlen, j->len, j->first, j->count);
}

/* Wake the caller waiting for room (bw_submit) once a sixteenth of the
 * queue, of its bytes and of the ring are free, which is room for any
 * block (a block in the ring takes less than twice w->rmax, an eighth of
 * that sixteenth), rather than at each block: the two threads then took
 * turns a block at a time, 30,000 more context switches a build.  Under
 * w->mu. */
static void wake_caller(seg_writer *w)
{
    if (w->blocked && w->qlen <= BW_QUEUE - BW_QUEUE / 16 &&
        w->qbytes <= BW_QUEUE_BYTES - BW_QUEUE_BYTES / 16 &&
        w->rused <= w->rsize - w->rsize / 16)
        pthread_cond_signal(&w->not_full);
}

/* On the worker: fdatasync the store's file once seg_store_sync_bytes
 * (DS_SYNC_EVERY) more of it are written, waiting while the other threads
 * have the cores (see DS_SYNC_EVERY). */
static int store_sync(seg_writer *w)
{
    fwriter *f = &w->f[SEG_DS];
    if (f->written - w->synced < seg_store_sync_bytes)
        return AS_OK;
    fw_flush(f);
    w->synced = f->written;
    if (f->err)
        return f->err;
    (void)fdatasync(f->fd);     /* a failure shows in the final fsync */
    seg_store_syncs++;
    return AS_OK;
}

static void *worker_main(void *arg)
{
#ifdef __linux__
    /* This thread only (Linux's nice is per thread); failing is harmless. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
#endif
    seg_writer *w = arg;
    size_t release = 0;     /* ring bytes of the last job, to free */
    for (;;) {
        pthread_mutex_lock(&w->mu);
        w->rused -= release;
        release = 0;
        wake_caller(w);
        /* The head job may be seg_writer_help's: wait for it. */
        while ((!w->stop &&
                (w->qlen == 0 || (seg_hold_worker && !w->blocked))) ||
               (w->qlen > 0 && w->queue[w->qhead].state == JOB_HELPING))
            pthread_cond_wait(&w->not_empty, &w->mu);
        if (w->qlen == 0) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        struct bw_job j = w->queue[w->qhead];
        w->qhead = (w->qhead + 1) % BW_QUEUE;
        w->qlen--;
        w->qbytes -= j.len;
        w->popped++;
        int failed = w->werr;
        wake_caller(w);
        pthread_mutex_unlock(&w->mu);
        if (!failed) {
            int rc = j.state == JOB_HELPED
                         ? bw_write_helped(w, &j)
                         : bw_compress(w, j.b, j.data, j.len, j.first,
                                       j.count);
            if (rc == AS_OK && j.b->file == SEG_DS)
                rc = store_sync(w);
            if (rc) {
                pthread_mutex_lock(&w->mu);
                w->werr = rc;
                snprintf(w->werr_msg, sizeof w->werr_msg, "%s", as_errmsg());
                pthread_cond_broadcast(&w->not_full);
                pthread_mutex_unlock(&w->mu);
            }
        }
        if (j.owned)
            mem_free(j.data);
        release = j.take;
    }
}

/* Wait for the worker to finish every queued block; then its error, if
 * any, becomes the writer's. */
static int worker_stop(seg_writer *w)
{
    if (!w->threaded)
        return w->err;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->not_empty);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->threaded = 0;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->not_empty);
    pthread_cond_destroy(&w->not_full);
    if (w->werr)
        return fail(w, err_set(w->werr, "%s", w->werr_msg));
    return w->err;
}

/* A queued block seg_writer_help compresses: the store's blocks that
 * zs_block takes (docs.dt's are stored as they are; a big one is
 * streamed, through w->cctx). */
static int help_here(const struct bw_job *j)
{
    return j->b->file == SEG_DS && j->len <= ZS_DICT_MAX_BLOCK;
}

/* The helper takes the store's small blocks (help_here) from the newest
 * down, never the head, which the worker may be taking: a sweep goes down
 * until it meets the head or a block an earlier sweep took (below which
 * all were taken), and the next sweep starts again from the newest.  It
 * compresses through hcctx (this thread's) into hbuf, then over the
 * block's own bytes in the queue (the worker writes them from there); a
 * block that does not shrink is left to the worker. */
int seg_writer_help(seg_writer *w)
{
    if (!w || !w->threaded)
        return 0;
    size_t bound = ZSTD_compressBound(RING_BLOCK_MAX);
    if (!w->hcctx)
        w->hcctx = ZSTD_createCCtx_advanced(zs_mem);
    if (!w->hbuf)
        w->hbuf = mem_alloc(bound);
    if (!w->hcctx || !w->hbuf)
        return 0;           /* out of memory: the worker does it all */
    struct bw_job *j = NULL;
    pthread_mutex_lock(&w->mu);
    uint64_t head = w->popped, end = head + w->qlen;
    if (w->hnext <= head || w->hnext >= end)
        w->hnext = 0;
    if (w->hnext == 0 && end > head + 1 &&
        w->queue[(w->qhead + w->qlen - 1) % BW_QUEUE].state == JOB_QUEUED)
        w->hnext = end - 1;         /* a new sweep, from the newest job */
    for (; !w->werr && w->hnext > head; w->hnext--) {
        struct bw_job *c = &w->queue[(w->qhead + (w->hnext - head)) %
                                     BW_QUEUE];
        if (c->state != JOB_QUEUED) {
            w->hnext = 0;           /* the last sweep's: all taken below */
            break;
        }
        if (help_here(c)) {
            j = c;
            j->state = JOB_HELPING;
            w->hnext--;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (!j)
        return 0;
    size_t r = zs_into(w->hcctx, j->b, w->hbuf, bound, j->data, j->len);
    int done = !ZSTD_isError(r) && r <= j->len;
    if (done)
        memcpy(j->data, w->hbuf, r);
    pthread_mutex_lock(&w->mu);
    j->state = done ? JOB_HELPED : JOB_LEFT;
    j->zlen = done ? r : 0;
    pthread_cond_signal(&w->not_empty);
    pthread_mutex_unlock(&w->mu);
    return 1;
}

/* Stop the worker as worker_stop does, sharing its backlog first: this
 * thread compresses queued blocks from the newest down (seg_writer_help)
 * while the worker goes on from the oldest, until they meet; the worker
 * then writes them all, in order.  At the end of a build of the wiki
 * passages the worker, kept behind at the lowest priority, had about
 * 0.15 s of blocks left for one core while the other waited. */
static int worker_drain(seg_writer *w)
{
    while (seg_writer_help(w))
        ;
    return worker_stop(w);
}

/* Where in the ring a block of len bytes goes (*pos) and how many bytes
 * of it it takes (*take: len, and the bytes skipped at the end when it
 * does not fit there); 0 if they are not free now.  Under w->mu. */
static int ring_room(seg_writer *w, size_t len, size_t *pos, size_t *take)
{
    if (w->rused == 0)
        w->rhead = 0;
    *pos = w->rhead;
    *take = len;
    if (*pos + len > w->rsize) {
        *take += w->rsize - *pos;
        *pos = 0;
    }
    return w->rused + *take <= w->rsize;
}

/* Hand the block p[0..len) to the worker, or compress it here.  give: p
 * is malloc'd and given away; else it stays the caller's, and the worker
 * gets a copy (in the ring, if it fits there). */
static int bw_submit(seg_writer *w, blockw *b, unsigned char *p, size_t len,
                     int give, uint32_t first, uint32_t count)
{
    if (!w->threaded) {
        int rc = bw_compress(w, b, p, len, first, count);
        if (give)
            mem_free(p);
        return rc ? fail(w, rc) : AS_OK;
    }
    int in_ring = !give && w->ring && len <= w->rmax;
    if (!give && !in_ring) {
        unsigned char *d = mem_alloc(len);
        if (!d)
            return fail(w, err_set(AS_ERR_NOMEM, "out of memory"));
        memcpy(d, p, len);
        p = d;
        give = 1;
    }
    size_t pos = 0, take = 0;
    pthread_mutex_lock(&w->mu);
    while (!w->werr &&
           (w->qlen == BW_QUEUE ||
            (in_ring ? !ring_room(w, len, &pos, &take)
                     : w->qbytes >= BW_QUEUE_BYTES))) {
        w->blocked = 1;     /* a held worker (tests) goes on */
        pthread_cond_signal(&w->not_empty);
        pthread_cond_wait(&w->not_full, &w->mu);
    }
    w->blocked = 0;
    if (w->werr) {
        pthread_mutex_unlock(&w->mu);
        if (give)
            mem_free(p);
        return worker_stop(w);
    }
    unsigned char *data = p;
    if (in_ring) {
        data = w->ring + pos;
        memcpy(data, p, len);
        w->rhead = pos + len;
        w->rused += take;
    }
    w->queue[(w->qhead + w->qlen) % BW_QUEUE] = (struct bw_job){
        b, data, len, take, give, JOB_QUEUED, 0, first, count};
    w->qlen++;
    w->qbytes += len;
    pthread_cond_signal(&w->not_empty);
    pthread_mutex_unlock(&w->mu);
    return AS_OK;
}


static int bw_flush(seg_writer *w, blockw *b)
{
    if (b->count == 0)
        return w->err;
    uint32_t first = b->first, count = b->count;
    b->count = 0;
    if (b->raw.len > w->rmax) {
        /* Give a big block's buffer itself away; start a new one. */
        buf full = b->raw;
        buf_init(&b->raw);
        return bw_submit(w, b, full.p, full.len, 1, first, count);
    }
    int rc = bw_submit(w, b, b->raw.p, b->raw.len, 0, first, count);
    buf_clear(&b->raw);
    return rc;
}

/* Take the records gathered so far (up to BS_DICT bytes) as the store's
 * dictionary and write it after the header; then compress the gathered
 * records as ordinary blocks, keeping the last partial one open. */
static int bw_set_dict(seg_writer *w, blockw *b)
{
    size_t n = b->raw.len < b->dict_max ? b->raw.len : b->dict_max;
    buf_append(&b->dict, b->raw.p, n);
    if (b->dict.err)
        return fail(w, err_set(AS_ERR_NOMEM, "out of memory"));
    unsigned char t[4];
    wr_u32(t, (uint32_t)n);
    fw_write(&w->f[b->file], t, 4);
    fw_write(&w->f[b->file], b->dict.p, n);
    b->dict_set = 1;
    if (n > 0) {
        /* By reference: b->dict is never written again.  In memory we
         * allocate: zstd 1.5.4's ZSTD_createCDict_advanced crashes when
         * its own allocation fails (found by tests/test_alloc.c). */
        ZSTD_compressionParameters cp =
            ZSTD_getCParams(ZS_LEVEL, b->target, n);
        cp.hashLog = ZS_DICT_HASHLOG;
        size_t size = ZSTD_estimateCDictSize_advanced(n, cp, ZSTD_dlm_byRef);
        b->cdict_mem = mem_alloc(size);
        if (b->cdict_mem)
            b->cdict = (ZSTD_CDict *)ZSTD_initStaticCDict(
                b->cdict_mem, size, b->dict.p, n, ZSTD_dlm_byRef,
                ZSTD_dct_rawContent, cp);
        if (!b->cdict)
            return fail(w, err_set(AS_ERR_NOMEM, "out of memory"));
    }
    uint32_t nrec = (uint32_t)(b->ends.len / 4);
    size_t start = 0;
    uint32_t rec0 = 0;
    for (uint32_t r = 0; r < nrec; r++) {
        size_t end = rd_u32(b->ends.p + 4 * (size_t)r);
        if (end - start < b->target)
            continue;       /* a last, partial block stays open */
        if (bw_submit(w, b, b->raw.p + start, end - start, 0,
                      b->first + rec0, r + 1 - rec0))
            return w->err;
        start = end;
        rec0 = r + 1;
    }
    memmove(b->raw.p, b->raw.p + start, b->raw.len - start);
    b->raw.len -= start;
    b->first += rec0;
    b->count -= rec0;
    buf_free(&b->ends);
    return w->err;
}

/* Add one record of one or two length-prefixed fields. */
static int bw_add(seg_writer *w, blockw *b, uint32_t doc_id, const char *a,
                  size_t alen, const char *c, size_t clen, int two)
{
    size_t rec = alen + clen + 20;
    if (b->dict_set && b->count > 0 && b->raw.len + rec > b->target &&
        bw_flush(w, b))
        return w->err;
    if (b->count == 0)
        b->first = doc_id;
    codec_put_varint(&b->raw, alen);
    buf_append(&b->raw, a, alen);
    if (two) {
        codec_put_varint(&b->raw, clen);
        buf_append(&b->raw, c, clen);
    }
    b->count++;
    if (!b->dict_set)
        buf_put_u32(&b->ends, (uint32_t)b->raw.len);
    if (b->raw.err || b->ends.err)
        return fail(w, err_set(AS_ERR_NOMEM, "out of memory"));
    if (!b->dict_set) {
        if (b->raw.len >= b->dict_max)
            return bw_set_dict(w, b);
    } else if (b->raw.len >= b->target && bw_flush(w, b)) {
        return w->err;
    }
    return AS_OK;
}

int seg_writer_doc(seg_writer *w, uint32_t doc_id, const char *id,
                   size_t id_len, const char *title, size_t title_len,
                   const char *body, size_t body_len, uint32_t length,
                   uint32_t title_length)
{
    if (w->err)
        return w->err;
    if (doc_id != w->ndocs)
        return fail(w, err_set(AS_ERR_INTERNAL, "documents out of order"));
    if (w->ndocs == w->capdocs) {
        size_t cap = w->capdocs ? w->capdocs * 2 : 4096;
        uint32_t *dl = mem_realloc(w->dl, cap * sizeof *dl);
        if (!dl)
            return fail(w, err_set(AS_ERR_NOMEM, "out of memory"));
        w->dl = dl;
        uint8_t *tl = mem_realloc(w->tl, cap);
        if (!tl)
            return fail(w, err_set(AS_ERR_NOMEM, "out of memory"));
        w->tl = tl;
        w->capdocs = cap;
    }
    w->tl[w->ndocs] = (uint8_t)(title_length < 255 ? title_length : 255);
    w->title_total += w->tl[w->ndocs];
    w->dl[w->ndocs++] = length;
    unsigned char t[4];
    wr_u32(t, length);
    fw_write(&w->f[SEG_NRM], t, 4);
    if (bw_add(w, &w->bw[0], doc_id, id, id_len, title, title_len, 1) ||
        bw_add(w, &w->bw[1], doc_id, body, body_len, NULL, 0, 0))
        return w->err;
    return w->f[SEG_NRM].err ? fail(w, w->f[SEG_NRM].err) : AS_OK;
}

static double tfnorm(uint32_t tf, uint32_t dl, double avgdl, double k1,
                     double b)
{
    return tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl));
}

/* The block bounds and stored scores need tfnorm of every posting: two
 * dependent divisions, which a build's merge waited on (a third of
 * flush_block's time).  Nearly all postings have a small tf and length,
 * and their values are computed once, by the same function: the same
 * doubles. */
#define TFN_TF 16
#define TFN_DL 1024

static double tfnorm_of(const seg_writer *w, int title, uint32_t tf,
                        uint32_t dl)
{
    if (w->tfn && tf < TFN_TF && dl < TFN_DL)
        return w->tfn[((size_t)title * TFN_TF + tf) * TFN_DL + dl];
    return tfnorm(tf, dl, title ? w->avgtl : w->avgdl, SEG_DEFAULT_K1,
                  SEG_DEFAULT_B);
}

void seg_writer_set_avgdl(seg_writer *w, double avgdl)
{
    w->avgdl = avgdl > 0 ? avgdl : 1;
    w->avgtl = w->ndocs && w->title_total
                   ? (double)w->title_total / (double)w->ndocs
                   : 1;
    mem_free(w->tfn);
    w->tfn = mem_alloc(2 * TFN_TF * TFN_DL * sizeof *w->tfn);
    for (size_t f = 0; w->tfn && f < 2; f++)
        for (uint32_t tf = 0; tf < TFN_TF; tf++)
            for (uint32_t dl = 0; dl < TFN_DL; dl++)
                w->tfn[(f * TFN_TF + tf) * TFN_DL + dl] =
                    tfnorm(tf, dl, f ? w->avgtl : w->avgdl, SEG_DEFAULT_K1,
                           SEG_DEFAULT_B);
}

static int tfail(term_writer *t, int rc)
{
    if (!t->err)
        t->err = rc;
    return t->err;
}

static int w_begin(void *ctx, const char *term, size_t len)
{
    term_writer *t = ctx;
    if (t->err)
        return t->err;
    buf_clear(&t->term);
    buf_append(&t->term, term, len);
    t->n = 0;
    t->df = 0;
    t->cf = 0;
    t->nkth = 0;
    t->last_doc = UINT32_MAX;
    t->nblocks = 0;
    buf_clear(&t->blocks);
    buf_clear(&t->skips);
    t->pos_term_start = fw_offset(t->pos);
    return t->term.err ? tfail(t, AS_ERR_NOMEM) : AS_OK;
}

/* Keep the SEG_KTH largest tfnorms of the term's postings (a min-heap). */
static void kth_add(term_writer *t, double v)
{
    double *h = t->kth;
    uint32_t i;
    if (t->nkth < SEG_KTH) {
        for (i = t->nkth++; i > 0 && h[(i - 1) / 2] > v; i = (i - 1) / 2)
            h[i] = h[(i - 1) / 2];
        h[i] = v;
        return;
    }
    if (v <= h[0])
        return;
    for (i = 0;;) {
        uint32_t c = 2 * i + 1;
        if (c >= SEG_KTH)
            break;
        if (c + 1 < SEG_KTH && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

static void flush_block(term_writer *t)
{
    const seg_writer *w = t->w;
    uint32_t g[CODEC_BLOCK], tf1[CODEC_BLOCK];
    uint32_t prev = t->last_doc, max_tf = 0, min_dl = UINT32_MAX;
    float bound = 0;
    uint32_t off = (uint32_t)t->blocks.len;
    int title = t->term.len > 0 && t->term.p[0] == SEG_TITLE_MARK;
    for (uint32_t i = 0; i < t->n; i++) {
        g[i] = t->docs[i] - prev - 1;
        tf1[i] = t->tfs[i] - 1;
        prev = t->docs[i];
        if (t->tfs[i] > max_tf)
            max_tf = t->tfs[i];
        uint32_t dl = title ? w->tl[t->docs[i]] : w->dl[t->docs[i]];
        if (dl < min_dl)
            min_dl = dl;
        double sd = tfnorm_of(w, title, t->tfs[i], dl);
        kth_add(t, sd);
        float sf = (float)sd;
        if (sf > bound)
            bound = sf;
    }
    if (t->n == CODEC_BLOCK) {
        unsigned bg = codec_bits_for(g, CODEC_BLOCK);
        unsigned bt = codec_bits_for(tf1, CODEC_BLOCK);
        if (buf_reserve(&t->blocks, 2 + CODEC_PACKED_BYTES(bg) +
                                        CODEC_PACKED_BYTES(bt)) == 0) {
            unsigned char *p = t->blocks.p + t->blocks.len;
            p[0] = (unsigned char)bg;
            p[1] = (unsigned char)bt;
            codec_pack128(g, bg, p + 2);
            codec_pack128(tf1, bt, p + 2 + CODEC_PACKED_BYTES(bg));
            t->blocks.len += 2 + CODEC_PACKED_BYTES(bg) +
                             CODEC_PACKED_BYTES(bt);
        }
    } else {
        for (uint32_t i = 0; i < t->n; i++) {
            codec_put_varint(&t->blocks,
                             (uint64_t)g[i] << 1 | (t->tfs[i] == 1));
            if (t->tfs[i] != 1)
                codec_put_varint(&t->blocks, t->tfs[i]);
        }
    }
    unsigned char e[SKIP_ENTRY];
    wr_u32(e, t->docs[t->n - 1]);
    wr_u32(e + 4, off);
    wr_u32(e + 8, t->block_pos_off);
    wr_u32(e + 12, max_tf);
    wr_u32(e + 16, min_dl);
    uint32_t fb;
    memcpy(&fb, &bound, 4);
    wr_u32(e + 20, fb);
    buf_append(&t->skips, e, sizeof e);
    t->last_doc = t->docs[t->n - 1];
    t->nblocks++;
    t->n = 0;
}

/* The start of a posting: checks it, and notes where its block's
 * positions begin. */
static int posting_start(term_writer *t, uint32_t doc, uint32_t tf)
{
    if (t->err)
        return t->err;
    if (doc >= t->w->ndocs || tf == 0 ||
        (t->df > 0 && (t->n ? t->docs[t->n - 1] : t->last_doc) >= doc))
        return tfail(t, err_set(AS_ERR_INTERNAL, "postings out of order"));
    if (t->n == 0)
        t->block_pos_off = (uint32_t)(fw_offset(t->pos) - t->pos_term_start);
    return AS_OK;
}

static int posting_end(term_writer *t, uint32_t doc, uint32_t tf)
{
    t->docs[t->n] = doc;
    t->tfs[t->n] = tf;
    t->positions_total += tf;
    t->df++;
    t->cf += tf;
    if (++t->n == CODEC_BLOCK)
        flush_block(t);
    return t->pos->err ? tfail(t, t->pos->err) : AS_OK;
}

static int w_posting(void *ctx, uint32_t doc, uint32_t tf,
                     const uint32_t *pos)
{
    term_writer *t = ctx;
    int rc = posting_start(t, doc, tf);
    if (rc)
        return rc;
    uint32_t prev = 0;
    for (uint32_t k = 0; k < tf; k++) {
        fw_varint(t->pos, pos[k] - prev);
        prev = pos[k];
    }
    return posting_end(t, doc, tf);
}

/* The positions as the inverter keeps them are the format of
 * positions.pos: copied. */
static int w_posting_raw(void *ctx, uint32_t doc, uint32_t tf,
                         const unsigned char *pos, size_t n)
{
    term_writer *t = ctx;
    int rc = posting_start(t, doc, tf);
    if (rc)
        return rc;
    fw_write(t->pos, pos, n);
    return posting_end(t, doc, tf);
}

static void lex_flush_block(seg_writer *w)
{
    if (w->lex_in_block == 0)
        return;
    buf_put_u64(&w->lexindex, fw_offset(&w->f[SEG_LEX]));
    fw_write(&w->f[SEG_LEX], w->lexblock.p, w->lexblock.len);
    buf_clear(&w->lexblock);
    w->lex_in_block = 0;
    w->lexblocks++;
}

/* One term's lexicon entry (kth: the bits of its stored score, written
 * when df >= SEG_KTH).  Part 0's thread only. */
static int lex_add(seg_writer *w, const unsigned char *term, size_t len,
                   uint32_t df, uint64_t cf, uint32_t kth, uint64_t post_off,
                   uint64_t post_len, uint64_t pos_off, uint64_t pos_len)
{
    buf *lb = &w->lexblock;
    size_t prefix = 0;
    if (w->lex_in_block == 0) {
        buf_put_u64(&w->lexprefix, bytes_prefix64(term, len));
        codec_put_varint(lb, post_off);
        codec_put_varint(lb, pos_off);
    } else {
        size_t max = w->prev_term.len < len ? w->prev_term.len : len;
        while (prefix < max && w->prev_term.p[prefix] == term[prefix])
            prefix++;
    }
    codec_put_varint(lb, prefix);
    codec_put_varint(lb, len - prefix);
    buf_append(lb, term + prefix, len - prefix);
    codec_put_varint(lb, df);
    codec_put_varint(lb, cf - df);
    if (df >= SEG_KTH)
        buf_put_u32(lb, kth);
    codec_put_varint(lb, post_len);
    codec_put_varint(lb, pos_len);
    buf_clear(&w->prev_term);
    buf_append(&w->prev_term, term, len);
    w->nterms++;
    if (++w->lex_in_block == LEX_PER_BLOCK)
        lex_flush_block(w);
    if (lb->err || w->prev_term.err || w->lexindex.err || w->lexprefix.err)
        return fail(w, err_set(AS_ERR_NOMEM, "out of memory"));
    return w->f[SEG_LEX].err ? fail(w, w->f[SEG_LEX].err) : AS_OK;
}

/* Part 1's record of a lexicon entry, in a file of its own (a build of
 * millions of terms would hold hundreds of MB of them), replayed by
 * part_append: varint term length, the term, varint df, varint cf - df,
 * u32 kth when df >= SEG_KTH, varint postings length, varint positions
 * length (the offsets follow from the lengths: part 1 writes its terms one
 * after the other).  A record is at most LEXREC_MAX bytes. */
#define LEXREC_TERM_MAX 65536   /* terms are cut far shorter (analyze.h) */
#define LEXREC_MAX (LEXREC_TERM_MAX + 5 * 10 + 4)

static void lex_record(term_writer *t, uint32_t kth, uint64_t post_len,
                       uint64_t pos_len)
{
    fwriter *r = &t->own[2];
    unsigned char e[64];
    size_t n = codec_varint_encode(e, t->term.len);
    fw_write(r, e, n);
    fw_write(r, t->term.p, t->term.len);
    n = codec_varint_encode(e, t->df);
    n += codec_varint_encode(e + n, t->cf - t->df);
    if (t->df >= SEG_KTH) {
        wr_u32(e + n, kth);
        n += 4;
    }
    n += codec_varint_encode(e + n, post_len);
    n += codec_varint_encode(e + n, pos_len);
    fw_write(r, e, n);
}

static int w_end(void *ctx)
{
    term_writer *t = ctx;
    if (t->err)
        return t->err;
    if (t->df == 0)
        return AS_OK;
    if (t->n > 0)
        flush_block(t);
    fwriter *pst = t->pst;
    uint64_t post_off = fw_offset(pst);
    if (t->nblocks > 1)
        fw_write(pst, t->skips.p, t->skips.len);
    fw_write(pst, t->blocks.p, t->blocks.len);
    uint64_t post_len = fw_offset(pst) - post_off;
    uint64_t pos_len = fw_offset(t->pos) - t->pos_term_start;
    t->postings_total += t->df;
    uint32_t kth = 0;
    if (t->df >= SEG_KTH) {
        float f = (float)t->kth[0];
        if ((double)f > t->kth[0])
            f = nextafterf(f, 0);       /* a lower bound: rounded down */
        memcpy(&kth, &f, 4);
    }
    if (t->blocks.err || t->skips.err)
        return tfail(t, err_set(AS_ERR_NOMEM, "out of memory"));
    if (pst->err)
        return tfail(t, pst->err);
    if (t == &t->w->part[0]) {
        int rc = lex_add(t->w, t->term.p, t->term.len, t->df, t->cf, kth,
                         post_off, post_len, t->pos_term_start, pos_len);
        return rc ? tfail(t, rc) : AS_OK;
    }
    if (t->term.len > LEXREC_TERM_MAX)
        return tfail(t, err_set(AS_ERR_INTERNAL, "a term of %zu bytes",
                                t->term.len));
    lex_record(t, kth, post_len, pos_len);
    return t->own[2].err ? tfail(t, t->own[2].err) : AS_OK;
}

static inv_sink part_sink(term_writer *t)
{
    inv_sink s = {w_begin, w_posting, w_posting_raw, w_end, t};
    return s;
}

inv_sink seg_writer_sink(seg_writer *w)
{
    return part_sink(&w->part[0]);
}

static const char *const part_names[3] = {"part1.pst.tmp", "part1.pos.tmp",
                                          "part1.lex.tmp"};

/* Close part 1's files and remove them. */
static void part_close(term_writer *t)
{
    for (int i = 0; i < 3; i++) {
        if (t->own[i].fd < 0)
            continue;
        fw_abort(&t->own[i]);
        unlink(t->own[i].path);
    }
}

int seg_writer_part(seg_writer *w, inv_sink *out)
{
    term_writer *t = &w->part[1];
    if (w->err)
        return w->err;
    if (w->parts == 2)
        return err_set(AS_ERR_INTERNAL, "a second part was asked for twice");
    for (int i = 0; i < 3; i++) {
        int rc = fw_open(&t->own[i], w->dir, part_names[i], O_RDWR);
        t->own[i].temp = 1;     /* no writeback: read back, then removed */
        if (rc) {
            part_close(t);
            return fail(w, rc);
        }
    }
    t->pst = &t->own[0];
    t->pos = &t->own[1];
    w->parts = 2;
    *out = part_sink(t);
    return AS_OK;
}

/* Reading back a file part 1 wrote, a window at a time. */
typedef struct {
    fwriter *f;
    uint64_t off;           /* of the window's end, after the header */
    unsigned char *p;
    size_t at, len;         /* the window: p[at..len) */
} part_reader;

#define PART_WINDOW ((size_t)1 << 20)

/* Make the window hold at least want bytes, or all that is left. */
static int part_fill(seg_writer *w, part_reader *r, size_t want)
{
    if (r->len - r->at >= want)
        return AS_OK;
    memmove(r->p, r->p + r->at, r->len - r->at);
    r->len -= r->at;
    r->at = 0;
    while (r->len < PART_WINDOW && r->off < r->f->written) {
        uint64_t left = r->f->written - r->off;
        size_t n = PART_WINDOW - r->len;
        if (left < n)
            n = (size_t)left;
        ssize_t got = pread(r->f->fd, r->p + r->len, n, (off_t)(HDR + r->off));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return fail(w, err_set(AS_ERR_IO, "%s: %s", r->f->path,
                                   got < 0 ? strerror(errno)
                                           : "shorter than written"));
        r->len += (size_t)got;
        r->off += (uint64_t)got;
    }
    return AS_OK;
}

static int part_open(seg_writer *w, part_reader *r, fwriter *f,
                     unsigned char *window)
{
    fw_flush(f);
    if (f->err)
        return fail(w, f->err);
    *r = (part_reader){f, 0, window, 0, 0};
    return AS_OK;
}

/* Append the bytes part 1 wrote (after its header) to `to`.  In the
 * kernel where it can (copy_file_range), to's CRC combined with the one
 * part 1 took while writing: reading them back and writing them again
 * through fw_write took 0.24 s of one core at the end of a build of the
 * wiki passages, the other idle.  Through a window and fw_write where the
 * kernel will not (another kind of file system, an old kernel). */
static int part_copy(seg_writer *w, fwriter *from, fwriter *to,
                     unsigned char *window)
{
    part_reader r;
    int rc = part_open(w, &r, from, window);   /* flushes from */
    if (rc)
        return rc;
    fw_flush(to);
    if (to->err)
        return fail(w, to->err);
#ifdef __linux__
    loff_t in = HDR;
    uint64_t left = from->written;
    while (seg_kernel_copy && left > 0) {
        ssize_t n = copy_file_range(from->fd, &in, to->fd, NULL, left, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            left -= (uint64_t)n;
            continue;
        }
        if (n < 0 && left == from->written)
            break;              /* nothing copied: the portable way */
        return fail(w, to->err = err_set(AS_ERR_IO, "%s: %s", to->path,
                                         n < 0 ? strerror(errno)
                                               : "part 1 is short"));
    }
    if (seg_kernel_copy && left == 0) {
        to->crc = (uint32_t)crc32_combine(to->crc, from->crc,
                                          (z_off_t)from->written);
        fw_writeback(to, HDR + to->written, from->written);
        to->written += from->written;
        return AS_OK;
    }
#endif
    while (rc == AS_OK && (rc = part_fill(w, &r, PART_WINDOW)) == AS_OK &&
           r.len > 0) {
        fw_write(to, r.p, r.len);
        r.at = r.len;
    }
    if (rc == AS_OK && to->err)
        rc = fail(w, to->err);
    return rc;
}

/* Append part 1's postings and positions to part 0's and add its lexicon
 * entries. */
static int part_append(seg_writer *w)
{
    term_writer *t = &w->part[1];
    if (t->err)
        return fail(w, t->err);
    uint64_t post_off = fw_offset(&w->f[SEG_PST]);
    uint64_t pos_off = fw_offset(&w->f[SEG_POS]);
    unsigned char *window = mem_alloc(PART_WINDOW);
    if (!window)
        return fail(w, err_set(AS_ERR_NOMEM, "out of memory"));
    int rc = part_copy(w, t->pst, &w->f[SEG_PST], window);
    if (rc == AS_OK)
        rc = part_copy(w, t->pos, &w->f[SEG_POS], window);
    part_reader r;
    if (rc == AS_OK)
        rc = part_open(w, &r, &t->own[2], window);
    while (rc == AS_OK) {
        if ((rc = part_fill(w, &r, LEXREC_MAX)) || r.at == r.len)
            break;
        cur c;
        cur_init(&c, r.p + r.at, r.len - r.at);
        size_t len = (size_t)cur_varint(&c);
        const unsigned char *term = cur_bytes(&c, len);
        uint32_t df = (uint32_t)cur_varint(&c);
        uint64_t cf = cur_varint(&c) + df;
        uint32_t kth = 0;
        if (df >= SEG_KTH)
            kth = cur_u32(&c);
        uint64_t post_len = cur_varint(&c), pos_len = cur_varint(&c);
        if (c.bad) {
            rc = fail(w, err_set(AS_ERR_INTERNAL, "a lexicon record of this "
                                 "build is damaged"));
            break;
        }
        r.at = r.len - cur_left(&c);
        rc = lex_add(w, term, len, df, cf, kth, post_off, post_len, pos_off,
                     pos_len);
        post_off += post_len;
        pos_off += pos_len;
    }
    mem_free(window);
    w->part[0].postings_total += t->postings_total;
    w->part[0].positions_total += t->positions_total;
    part_close(t);
    return rc;
}

int seg_writer_finish(seg_writer *w, seg_file_info info[SEG_NFILES],
                      uint64_t *terms, uint64_t *postings)
{
    if (w->part[0].err)
        return fail(w, w->part[0].err);
    if (w->parts == 2 && part_append(w))
        return w->err;
    if (w->err)
        return w->err;
    for (int i = 0; i < 2; i++) {
        if (!w->bw[i].dict_set && bw_set_dict(w, &w->bw[i]))
            return w->err;
        if (bw_flush(w, &w->bw[i]))
            return w->err;
    }
    if (worker_drain(w))
        return w->err;
    uint64_t bs_index[2];
    for (int i = 0; i < 2; i++) {
        bs_index[i] = fw_offset(&w->f[w->bw[i].file]);
        fw_write(&w->f[w->bw[i].file], w->bw[i].index.p, w->bw[i].index.len);
    }
    fw_write(&w->f[SEG_NRM], w->tl, w->ndocs);
    lex_flush_block(w);
    uint64_t index_off = fw_offset(&w->f[SEG_LEX]);
    fw_write(&w->f[SEG_LEX], w->lexindex.p, w->lexindex.len);
    fw_write(&w->f[SEG_LEX], w->lexprefix.p, w->lexprefix.len);
    int rc = AS_OK;
    uint64_t counts[SEG_NFILES][3] = {
        {w->nterms, index_off,
         w->lexblocks | (uint64_t)LEX_PER_BLOCK << 32},
        {w->part[0].postings_total, 0, 0},
        {w->part[0].positions_total, 0, 0},
        {w->ndocs, 0, w->title_total},
        {w->bw[0].nblocks, w->ndocs, bs_index[0]},
        {w->bw[1].nblocks, w->ndocs, bs_index[1]},
    };
    for (int i = 0; i < SEG_NFILES; i++) {
        int r = fw_finish(&w->f[i], i, counts[i][0], counts[i][1],
                          counts[i][2], &info[i]);
        if (r && !rc)
            rc = r;
    }
    w->opened = 0;
    *terms = w->nterms;
    *postings = w->part[0].postings_total;
    return rc;
}

/* ---- Reading ------------------------------------------------------------ */

static int corrupt(const segment *s, int file, const char *what)
{
    return err_set(AS_ERR_CORRUPT, "%s/%s: %s", s->dir, seg_file_names[file],
                   what);
}

void seg_close(segment *s)
{
    for (int i = 0; i < SEG_NFILES; i++) {
        if (s->f[i].p)
            munmap((void *)s->f[i].p, s->f[i].size);
        s->f[i].p = NULL;
    }
}

static uint64_t hdr_u64(const segment *s, int file, int field)
{
    return rd_u64(s->f[file].p + 8 + 8 * field);
}

int seg_open(segment *s, const char *dir, const seg_file_info *info)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    for (int i = 0; i < SEG_NFILES; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, seg_file_names[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            seg_close(s);
            return err_set(e == ENOENT ? AS_ERR_CORRUPT : AS_ERR_IO,
                           "%s: %s", path, strerror(e));
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            int e = errno;
            close(fd);
            seg_close(s);
            return err_set(AS_ERR_IO, "%s: %s", path, strerror(e));
        }
        if ((uint64_t)st.st_size != info[i].size || st.st_size < HDR) {
            close(fd);
            seg_close(s);
            return err_set(AS_ERR_CORRUPT,
                           "%s: size is %lld bytes, the manifest says %llu "
                           "(truncated or replaced)", path,
                           (long long)st.st_size,
                           (unsigned long long)info[i].size);
        }
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (p == MAP_FAILED) {
            seg_close(s);
            return err_set(AS_ERR_IO, "%s: cannot map: %s", path,
                           strerror(errno));
        }
        s->f[i].p = p;
        s->f[i].size = (size_t)st.st_size;
        if (memcmp(p, magics[i], 4) != 0) {
            seg_close(s);
            return err_set(AS_ERR_CORRUPT, "%s: not an artsearch %s file "
                           "(bad magic number)", path, seg_file_names[i]);
        }
        uint32_t version = rd_u32(s->f[i].p + 4);
        if (version != SEG_VERSION) {
            seg_close(s);       /* unmaps: read nothing from it after this */
            return err_set(AS_ERR_CORRUPT, "%s: format version %u, this "
                           "artsearch reads %u; rebuild the index", path,
                           version, SEG_VERSION);
        }
    }
    /* Cross-check the counts against the file sizes. */
    s->nterms = hdr_u64(s, SEG_LEX, 0);
    uint64_t idx = hdr_u64(s, SEG_LEX, 1), c = hdr_u64(s, SEG_LEX, 2);
    s->nblocks_lex = (uint32_t)c;
    s->lex_per_block = (uint32_t)(c >> 32);
    if (s->lex_per_block == 0 || idx < HDR || idx > s->f[SEG_LEX].size ||
        s->f[SEG_LEX].size - idx != (uint64_t)s->nblocks_lex * 16 ||
        s->nblocks_lex != (s->nterms + s->lex_per_block - 1) /
                              s->lex_per_block) {
        int rc = corrupt(s, SEG_LEX, "header does not match the file");
        seg_close(s);
        return rc;
    }
    s->lex_index = s->f[SEG_LEX].p + idx;
    s->lex_prefix = s->lex_index + (size_t)s->nblocks_lex * 8;
    s->ndocs = hdr_u64(s, SEG_NRM, 0);
    if (s->ndocs >= UINT32_MAX ||
        s->f[SEG_NRM].size != HDR + s->ndocs * 5) {
        int rc = corrupt(s, SEG_NRM, "header does not match the file");
        seg_close(s);
        return rc;
    }
    s->norms = s->f[SEG_NRM].p + HDR;
    s->tnorms = s->norms + s->ndocs * 4;
    s->title_total = hdr_u64(s, SEG_NRM, 2);
    for (int i = 0; i < 2; i++) {
        int file = i ? SEG_DS : SEG_DT;
        uint64_t nb = hdr_u64(s, file, 0), at = hdr_u64(s, file, 2);
        if (hdr_u64(s, file, 1) != s->ndocs || at < HDR ||
            at > s->f[file].size || nb > (s->f[file].size - at) / BS_ENTRY ||
            s->f[file].size - at != nb * BS_ENTRY) {
            int rc = corrupt(s, file, "header does not match the file");
            seg_close(s);
            return rc;
        }
        s->bs_blocks[i] = nb;
        s->bs_index[i] = s->f[file].p + at;
        uint32_t dl = at >= HDR + 4 ? rd_u32(s->f[file].p + HDR) : UINT32_MAX;
        if (dl > BS_DICT || HDR + 4 + (uint64_t)dl > at) {
            int rc = corrupt(s, file, "bad dictionary length");
            seg_close(s);
            return rc;
        }
        s->bs_dict[i] = s->f[file].p + HDR + 4;
        s->bs_dict_len[i] = dl;
    }
    return AS_OK;
}

/* The byte range of lexicon block k; nonzero when it is out of bounds. */
static int lex_block_range(const segment *s, uint64_t k, uint64_t *off,
                           uint64_t *end)
{
    *off = rd_u64(s->lex_index + k * 8);
    *end = k + 1 < s->nblocks_lex ? rd_u64(s->lex_index + (k + 1) * 8)
                                  : (uint64_t)(s->lex_index - s->f[SEG_LEX].p);
    return *off < HDR || *end > s->f[SEG_LEX].size || *off >= *end;
}

/* Read the first term of lexicon block k. */
static int lex_block_first(const segment *s, uint64_t k, cur *c,
                           const char **term, size_t *len)
{
    uint64_t off, end;
    if (lex_block_range(s, k, &off, &end))
        return corrupt(s, SEG_LEX, "bad block offset");
    cur_init(c, s->f[SEG_LEX].p + off, (size_t)(end - off));
    cur_varint(c);
    cur_varint(c);
    uint64_t prefix = cur_varint(c);
    *len = (size_t)cur_varint(c);
    *term = (const char *)cur_bytes(c, *len);
    if (c->bad || prefix != 0 || *len > 4096)
        return corrupt(s, SEG_LEX, "bad block");
    return AS_OK;
}

/* Scan block k, calling fn for each term from the first >= from.  Stops
 * when fn returns nonzero (returned) or at the block's end (0). */
static int lex_scan_block(const segment *s, uint64_t k, const char *from,
                          size_t fromlen, seg_term_fn fn, void *ctx,
                          int *stop)
{
    uint64_t off, end;
    if (lex_block_range(s, k, &off, &end))
        return corrupt(s, SEG_LEX, "bad block offset");
    cur c;
    cur_init(&c, s->f[SEG_LEX].p + off, (size_t)(end - off));
    seg_term t;
    t.post_off = cur_varint(&c);
    t.pos_off = cur_varint(&c);
    uint64_t count = s->lex_per_block;
    if (k + 1 == s->nblocks_lex)
        count = s->nterms - k * s->lex_per_block;
    char term[4096];
    size_t len = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t prefix = cur_varint(&c), suffix = cur_varint(&c);
        const unsigned char *sfx = cur_bytes(&c, (size_t)suffix);
        if (c.bad || prefix > len || prefix + suffix > sizeof term ||
            (i == 0 && prefix != 0))
            return corrupt(s, SEG_LEX, "bad term entry");
        memcpy(term + prefix, sfx, (size_t)suffix);
        len = (size_t)(prefix + suffix);
        uint64_t df = cur_varint(&c), extra = cur_varint(&c);
        t.kth = -1;
        if (df >= SEG_KTH) {
            uint32_t bits = cur_u32(&c);
            memcpy(&t.kth, &bits, 4);
            if (!(t.kth >= 0 && t.kth <= SEG_DEFAULT_K1 + 1))
                return corrupt(s, SEG_LEX, "bad term entry");
        }
        t.post_len = cur_varint(&c);
        t.pos_len = cur_varint(&c);
        if (c.bad || df == 0 || df > s->ndocs ||
            t.post_off + t.post_len > s->f[SEG_PST].size ||
            t.post_off < HDR || t.pos_off < HDR ||
            t.pos_off + t.pos_len > s->f[SEG_POS].size ||
            extra > UINT64_MAX / 2)
            return corrupt(s, SEG_LEX, "term entry points outside the "
                                       "postings or positions");
        t.df = (uint32_t)df;
        t.cf = df + extra;
        t.title = len > 0 && term[0] == SEG_TITLE_MARK;
        if (bytes_cmp(term, len, from, fromlen) >= 0) {
            int r = fn(ctx, term, len, &t);
            if (r) {
                *stop = 1;
                return r;
            }
        }
        t.post_off += t.post_len;
        t.pos_off += t.pos_len;
    }
    return AS_OK;
}

/* Index of the last block whose first term <= term (0 if none). */
static int lex_find_block(const segment *s, const char *term, size_t len,
                          uint64_t *block)
{
    /* The blocks before the first whose prefix is >= the term's start
     * with smaller terms, those from the first whose prefix is greater
     * with greater ones: the block wanted is in [lo, hi). */
    uint64_t key = bytes_prefix64(term, len);
    uint64_t a = 0, b = s->nblocks_lex;
    while (a < b) {
        uint64_t mid = a + (b - a) / 2;
        if (rd_u64(s->lex_prefix + mid * 8) < key)
            a = mid + 1;
        else
            b = mid;
    }
    uint64_t lo = a ? a - 1 : 0;
    b = s->nblocks_lex;
    while (a < b) {
        uint64_t mid = a + (b - a) / 2;
        if (rd_u64(s->lex_prefix + mid * 8) <= key)
            a = mid + 1;
        else
            b = mid;
    }
    uint64_t hi = a > lo ? a : lo + 1;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        cur c;
        const char *ft = NULL;
        size_t fl = 0;
        int rc = lex_block_first(s, mid, &c, &ft, &fl);
        if (rc)
            return rc;
        if (bytes_cmp(ft, fl, term, len) <= 0)
            lo = mid;
        else
            hi = mid;
    }
    *block = lo;
    return AS_OK;
}

typedef struct {
    const char *term;
    size_t len;
    seg_term *out;
    int found;
} lookup_ctx;

static int lookup_fn(void *ctx, const char *term, size_t len,
                     const seg_term *t)
{
    lookup_ctx *l = ctx;
    if (len == l->len && memcmp(term, l->term, len) == 0) {
        *l->out = *t;
        l->found = 1;
    }
    return 1;       /* the first term >= the wanted one decides */
}

int seg_lookup(const segment *s, const char *term, size_t len, seg_term *t)
{
    if (s->nterms == 0)
        return AS_ERR_NOTFOUND;
    uint64_t k;
    int rc = lex_find_block(s, term, len, &k);
    if (rc)
        return rc;
    lookup_ctx l = {term, len, t, 0};
    int stop = 0;
    rc = lex_scan_block(s, k, term, len, lookup_fn, &l, &stop);
    if (rc && !stop)
        return rc;
    return l.found ? AS_OK : AS_ERR_NOTFOUND;
}

int seg_terms_from(const segment *s, const char *from, size_t len,
                   seg_term_fn fn, void *ctx)
{
    if (s->nterms == 0)
        return AS_OK;
    uint64_t k;
    int rc = lex_find_block(s, from, len, &k);
    if (rc)
        return rc;
    for (; k < s->nblocks_lex; k++) {
        int stop = 0;
        rc = lex_scan_block(s, k, from, len, fn, ctx, &stop);
        if (rc || stop)
            return rc;
    }
    return AS_OK;
}

/* ---- Postings cursor ---------------------------------------------------- */

static const unsigned char *skip_entry(const seg_cursor *c, uint32_t k)
{
    return c->skips + (size_t)k * SKIP_ENTRY;
}

/* Unpack a packed block of the postings file: fast, reading past it,
 * unless it ends the file. */
static void unpack(const segment *s, const unsigned char *p, unsigned bits,
                   uint32_t *out)
{
    size_t left = s->f[SEG_PST].size - (size_t)(p - s->f[SEG_PST].p);
    if (left >= CODEC_PACKED_BYTES(bits) + CODEC_PAD)
        codec_unpack128_padded(p, bits, out);
    else
        codec_unpack128(p, bits, out);
}

void seg_cursor_load_tfs(seg_cursor *c)
{
    unpack(c->s, c->tf_packed, c->tf_bits, c->tfs);
    if (c->tf_bits == 32)               /* tf - 1 stored: tf may wrap */
        for (int i = 0; i < CODEC_BLOCK; i++)
            if (c->tfs[i] == UINT32_MAX) {
                c->bad = 1;             /* reported when the query ends */
                c->tfs[i] = 0;
            }
    for (int i = 0; i < CODEC_BLOCK; i++)
        c->tfs[i] += 1;
    c->tf_ready = 1;
}

/* The cursor's tfs, loaded when not yet: a cache, the cursor's position
 * does not change. */
static void need_tfs(const seg_cursor *c)
{
    if (!c->tf_ready)
        seg_cursor_load_tfs((seg_cursor *)c);
}

static int decode_block(seg_cursor *c, uint32_t k)
{
    uint32_t full = c->t.df / CODEC_BLOCK;
    uint32_t off = c->skips ? rd_u32(skip_entry(c, k) + 4) : 0;
    uint32_t base = k == 0 ? UINT32_MAX : rd_u32(skip_entry(c, k - 1));
    size_t avail = (size_t)(c->end - c->data);
    if (off > avail)
        goto bad;
    const unsigned char *p = c->data + off;
    avail -= off;
    if (k < full) {
        if (avail < 2 || p[0] > 32 || p[1] > 32)
            goto bad;
        unsigned bg = p[0], bt = p[1];
        if (avail < 2 + CODEC_PACKED_BYTES(bg) + CODEC_PACKED_BYTES(bt))
            goto bad;
        unpack(c->s, p + 2, bg, c->docs);
        uint64_t first = k == 0 ? 0 : (uint64_t)base + 1;
        if (bg <= 24) {
            /* The 128 steps (gap + 1) sum to at most 2^31, so the last
             * doc's distance from the first start is exact in 32 bits:
             * checked after the prefix sum, which then wrapped nowhere. */
            uint32_t start = k == 0 ? UINT32_MAX : base;
            codec_prefix128(c->docs, start);
            if (first + (uint32_t)(c->docs[CODEC_BLOCK - 1] - start) - 1 >=
                c->s->ndocs)
                goto bad;
        } else {
            /* The last doc, summed in 64 bits (gaps are below 2^32
             * each), is checked first; then no partial sum can wrap. */
            uint64_t gaps = 0;
            for (int i = 0; i < CODEC_BLOCK; i++)
                gaps += c->docs[i];
            if (first + gaps + CODEC_BLOCK - 1 >= c->s->ndocs)
                goto bad;
            codec_prefix128(c->docs, k == 0 ? UINT32_MAX : base);
        }
        /* The tfs are unpacked on first use (seg_cursor_tf): a probe
         * that misses never needs them. */
        c->tf_packed = p + 2 + CODEC_PACKED_BYTES(bg);
        c->tf_bits = bt;
        c->tf_ready = 0;
        c->n = CODEC_BLOCK;
    } else {
        uint32_t cnt = c->t.df - full * CODEC_BLOCK;
        cur q;
        cur_init(&q, p, avail);
        int64_t d = k == 0 ? -1 : (int64_t)base;
        for (uint32_t i = 0; i < cnt; i++) {
            uint64_t v = cur_varint(&q);
            if ((v >> 1) >= c->s->ndocs)
                goto bad;
            d += (int64_t)(v >> 1) + 1;
            c->docs[i] = (uint32_t)d;
            c->tfs[i] = (v & 1) ? 1 : cur_varint32(&q);
            if (q.bad || c->tfs[i] == 0 || d >= (int64_t)c->s->ndocs)
                goto bad;
        }
        c->tf_ready = 1;
        c->n = cnt;
    }
    if (c->skips && c->docs[c->n - 1] != rd_u32(skip_entry(c, k)))
        goto bad;
    c->block = k;
    c->base = base;
    c->i = 0;
    c->block_last = c->docs[c->n - 1];
    return AS_OK;
bad:
    c->bad = 1;
    c->n = 0;
    c->doc = SEG_DOC_END;
    return corrupt(c->s, SEG_PST, "postings block does not decode");
}

int seg_cursor_init(seg_cursor *c, const segment *s, const seg_term *t)
{
    c->s = s;
    c->t = *t;
    c->bad = 0;
    c->nblocks = (t->df + CODEC_BLOCK - 1) / CODEC_BLOCK;
    const unsigned char *start = s->f[SEG_PST].p + t->post_off;
    c->end = start + t->post_len;
    if (c->nblocks > 1) {
        if (t->post_len < (uint64_t)c->nblocks * SKIP_ENTRY) {
            c->bad = 1;
            c->doc = SEG_DOC_END;
            return corrupt(s, SEG_PST, "skip table overruns the term");
        }
        c->skips = start;
        c->data = start + (size_t)c->nblocks * SKIP_ENTRY;
    } else {
        c->skips = NULL;
        c->data = start;
    }
    int rc = decode_block(c, 0);
    if (rc)
        return rc;
    c->doc = c->docs[0];
    return AS_OK;
}

uint32_t seg_cursor_next_block(seg_cursor *c)
{
    if (c->doc == SEG_DOC_END)
        return SEG_DOC_END;
    if (++c->i < c->n)
        return c->doc = c->docs[c->i];
    return seg_cursor_skip_block(c);
}

uint32_t seg_cursor_skip_block(seg_cursor *c)
{
    if (c->doc == SEG_DOC_END)
        return SEG_DOC_END;
    if (c->block + 1 >= c->nblocks || decode_block(c, c->block + 1))
        return c->doc = SEG_DOC_END;
    return c->doc = c->docs[0];
}

uint32_t seg_cursor_seek(seg_cursor *c, uint32_t target)
{
    if (c->doc >= target)
        return c->doc;
    if (target > c->block_last) {
        uint32_t k = seg_block_find(c, c->block + 1, target);
        if (k >= c->nblocks || decode_block(c, k))
            return c->doc = SEG_DOC_END;
    }
    /* The first doc >= target in docs[i..n) (docs[n - 1] >= target):
     * galloping from i, as a probe of a long list often lands a few
     * documents on, then a branch-free binary search. */
    const uint32_t *base = c->docs + c->i;
    uint32_t len = c->n - c->i;
    if (len == 0)               /* cannot happen when block_last >= target */
        return c->doc = SEG_DOC_END;
    uint32_t step = 1;
    for (; step < len && base[step - 1] < target; step *= 2) {
        base += step;
        len -= step;
    }
    if (step < len)
        len = step;             /* base[step - 1] >= target */
    while (len > 1) {
        uint32_t half = len / 2;
        base = base[half - 1] < target ? base + half : base;
        len -= half;
    }
    c->i = (uint32_t)(base - c->docs);
    return c->doc = c->docs[c->i];
}

int seg_blocks_bound(const seg_cursor *c, uint32_t from, uint32_t to,
                     float *bound)
{
    float best = 0;
    for (uint32_t k = from; k <= to; k++) {
        uint32_t fb = rd_u32(skip_entry(c, k) + 20);
        float f;
        memcpy(&f, &fb, 4);
        if (!(f >= 0 && f < 1e30f))     /* damaged (or NaN): do not trust */
            return 0;
        if (f > best)
            best = f;
    }
    *bound = best;
    return 1;
}

void seg_block_info(const seg_cursor *c, uint32_t k, uint32_t *last,
                    uint32_t *max_tf, uint32_t *min_dl, float *bound)
{
    if (c->skips) {
        const unsigned char *e = skip_entry(c, k);
        *last = rd_u32(e);
        *max_tf = rd_u32(e + 12);
        *min_dl = rd_u32(e + 16);
        uint32_t fb = rd_u32(e + 20);
        memcpy(bound, &fb, 4);
        if (!(*bound >= 0 && *bound < 1e30f))   /* damaged: do not trust */
            *bound = -1;
        return;
    }
    uint32_t mt = 0, md = UINT32_MAX;
    need_tfs(c);
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->tfs[i] > mt)
            mt = c->tfs[i];
        uint32_t dl = c->t.title ? seg_titlelen(c->s, c->docs[i])
                                 : seg_doclen(c->s, c->docs[i]);
        if (dl < md)
            md = dl;
    }
    *last = c->n ? c->docs[c->n - 1] : 0;
    *max_tf = mt;
    *min_dl = md;
    *bound = -1;
}

int seg_positions(const seg_cursor *c, uint32_t *pos, uint32_t cap)
{
    uint64_t off = c->t.pos_off;
    if (c->skips)
        off += rd_u32(skip_entry(c, c->block) + 8);
    if (off > c->t.pos_off + c->t.pos_len)
        return corrupt(c->s, SEG_POS, "positions offset out of range");
    cur q;
    cur_init(&q, c->s->f[SEG_POS].p + off,
             (size_t)(c->t.pos_off + c->t.pos_len - off));
    need_tfs(c);
    for (uint32_t i = 0; i < c->i; i++)
        for (uint32_t k = 0; k < c->tfs[i]; k++)
            cur_varint(&q);
    uint32_t tf = c->tfs[c->i], p = 0;
    for (uint32_t k = 0; k < tf; k++) {
        p += cur_varint32(&q);
        if (k < cap)
            pos[k] = p;
    }
    if (q.bad)
        return corrupt(c->s, SEG_POS, "positions do not decode");
    return AS_OK;
}

/* ---- Doc store ---------------------------------------------------------- */

/* Decompress block entry e of store i (0 docs.dt, 1 store.ds) into out
 * and parse it as far as record `want` (counted from the block's first
 * document), whose fields are then in f[] and fl[].  When want is the
 * block's last record, the block must end exactly there. */
static int bs_read(const segment *s, int i, const unsigned char *e,
                   uint32_t want, ZSTD_DCtx *dz, buf *out, const char **f,
                   size_t *fl)
{
    int file = i ? SEG_DS : SEG_DT, nfields = i ? 1 : 2;
    uint64_t off = rd_u64(e);
    uint32_t zlen = rd_u32(e + 8), rawlen = rd_u32(e + 12);
    uint32_t count = rd_u32(e + 20);
    if (off < HDR + 4 + (uint64_t)s->bs_dict_len[i] ||
        zlen > s->f[file].size || off > s->f[file].size - zlen ||
        count == 0 || want >= count || rawlen > (1u << 30))
        return corrupt(s, file, "block outside the file");
    const unsigned char *raw = s->f[file].p + off;
    if (file == SEG_DT) {           /* stored uncompressed */
        if (zlen != rawlen)
            return corrupt(s, file, "block length does not match");
        goto parse;
    }
    buf_clear(out);
    if (buf_reserve(out, (size_t)rawlen + 1))
        return err_set(AS_ERR_NOMEM, "out of memory");
    size_t r = ZSTD_DCtx_reset(dz, ZSTD_reset_session_only);
    if (!ZSTD_isError(r) && s->bs_dict_len[i] > 0)
        r = ZSTD_DCtx_refPrefix(dz, s->bs_dict[i], s->bs_dict_len[i]);
    if (!ZSTD_isError(r))
        r = ZSTD_decompressDCtx(dz, out->p, (size_t)rawlen + 1,
                                s->f[file].p + off, zlen);
    if (ZSTD_isError(r))
        return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation
                   ? err_set(AS_ERR_NOMEM, "out of memory")
                   : corrupt(s, file, "block does not decompress");
    if (r != rawlen)
        return corrupt(s, file, "block length does not match");
    out->len = rawlen;
    raw = out->p;
parse:;
    cur c;
    cur_init(&c, raw, rawlen);
    /* The records before want are skipped whole while their fields are
     * under 128 bytes (a one-byte length), in a loop of a few instructions
     * a field: through cur_varint and cur_bytes, fetching a result's
     * record (half a block of ids and titles) took about 1,500.  A longer
     * or damaged field leaves the rest to the general loop. */
    uint32_t rec = 0;
    const unsigned char *q = raw, *qe = raw + rawlen;
    /* Each length read waits for the one before: the block's lines are
     * asked for at once rather than missed one after another. */
    for (const unsigned char *l = q; l < qe && want; l += 64)
        __builtin_prefetch(l);
    for (; rec < want; rec++) {
        const unsigned char *n = q;
        int k = 0;
        for (; k < nfields && n < qe && *n < 0x80 && *n < qe - n; k++)
            n += 1 + *n;
        if (k < nfields)
            break;
        q = n;
    }
    c.p = q;
    for (; rec <= want && !c.bad; rec++)
        for (int k = 0; k < nfields; k++) {
            fl[k] = (size_t)cur_varint(&c);
            f[k] = (const char *)cur_bytes(&c, fl[k]);
        }
    if (c.bad)
        return corrupt(s, file, "record does not decode");
    if (want + 1 == count && cur_left(&c) != 0)
        return corrupt(s, file, "block length does not match");
    return AS_OK;
}

/* The index entry of the block of store i holding doc. */
static int bs_find(const segment *s, int i, uint32_t doc,
                   const unsigned char **entry)
{
    int file = i ? SEG_DS : SEG_DT;
    const unsigned char *ix = s->bs_index[i];
    uint64_t nb = s->bs_blocks[i], lo, hi;
    *entry = ix;
    if (nb == 0)
        return corrupt(s, file, "no blocks");
    /* Blocks hold about the same number of documents: start where doc's
     * share of them points, and gallop from there to a pair of blocks
     * (lo's first doc <= doc, or lo = 0; hi's > doc, or hi = nb), then
     * halve.  A plain binary search read 13 scattered entries of the
     * 7,000 of the wiki passages' docs.dt for each result. */
    uint64_t g = s->ndocs ? (uint64_t)doc * nb / s->ndocs : 0;
    if (g >= nb)
        g = nb - 1;
    if (rd_u32(ix + g * BS_ENTRY + 16) <= doc) {
        lo = g;
        for (uint64_t step = 1;; step *= 2) {
            hi = lo + step;
            if (hi >= nb) {
                hi = nb;
                break;
            }
            if (rd_u32(ix + hi * BS_ENTRY + 16) > doc)
                break;
            lo = hi;
        }
    } else {
        hi = g;
        for (uint64_t step = 1;; step *= 2) {
            if (hi <= step) {
                lo = 0;
                break;
            }
            lo = hi - step;
            if (rd_u32(ix + lo * BS_ENTRY + 16) <= doc)
                break;
            hi = lo;
        }
    }
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (rd_u32(ix + mid * BS_ENTRY + 16) <= doc)
            lo = mid;
        else
            hi = mid;
    }
    const unsigned char *e = ix + lo * BS_ENTRY;
    uint32_t first = rd_u32(e + 16), count = rd_u32(e + 20);
    if (doc < first || doc - first >= count)
        return corrupt(s, file, "document not in its block");
    *entry = e;
    return AS_OK;
}

/* Document doc's record in store i: its fields point into out, where it
 * is decompressed, or into the mapped file (docs.dt). */
static int bs_get(const segment *s, int i, uint32_t doc, ZSTD_DCtx *dz,
                  buf *out, const char **f, size_t *fl)
{
    const unsigned char *e;
    int rc = bs_find(s, i, doc, &e);
    if (rc)
        return rc;
    return bs_read(s, i, e, doc - rd_u32(e + 16), dz, out, f, fl);
}

void seg_doc_done(void **dctx)
{
    ZSTD_freeDCtx(*dctx);
    *dctx = NULL;
}

int seg_doc_get(const segment *s, uint32_t doc, buf *text, seg_doc *d,
                void **dctx)
{
    memset(d, 0, sizeof *d);
    d->text = "";
    if (doc >= s->ndocs)
        return corrupt(s, SEG_DT, "document number out of range");
    const char *f[2];
    size_t fl[2];
    int rc = bs_get(s, 0, doc, NULL, NULL, f, fl);
    if (rc || !text)
        goto out;
    if (!*dctx && !(*dctx = ZSTD_createDCtx_advanced(zs_mem)))
        return err_set(AS_ERR_NOMEM, "out of memory");
    const char *tf[1];
    size_t tfl[1];
    if ((rc = bs_get(s, 1, doc, *dctx, text, tf, tfl)) == AS_OK) {
        d->text = tf[0];
        d->text_len = tfl[0];
    }
out:
    if (rc == AS_OK) {
        d->id = f[0];
        d->id_len = fl[0];
        d->title = f[1];
        d->title_len = fl[1];
    }
    return rc;
}

/* ---- Verification ------------------------------------------------------- */

typedef struct {
    const segment *s;
    buf prev;
    uint64_t terms, postings;
    int rc;
} verify_ctx;

static int verify_term(void *ctx, const char *term, size_t len,
                       const seg_term *t)
{
    verify_ctx *v = ctx;
    if (v->terms > 0 && bytes_cmp((const char *)v->prev.p, v->prev.len, term,
                                 len) >= 0)
        return v->rc = corrupt(v->s, SEG_LEX, "terms out of order");
    buf_clear(&v->prev);
    buf_append(&v->prev, term, len);
    v->terms++;
    seg_cursor c;
    int rc = seg_cursor_init(&c, v->s, t);
    if (rc)
        return v->rc = rc;
    uint32_t n = 0;
    uint64_t cf = 0;
    uint32_t pos[64];
    for (uint32_t d = c.doc; d != SEG_DOC_END; d = seg_cursor_next(&c)) {
        n++;
        cf += seg_cursor_tf(&c);
        if ((rc = seg_positions(&c, pos, 64)))
            return v->rc = rc;
    }
    if (c.bad)
        return v->rc = err_prefix(AS_ERR_CORRUPT, "term '%.*s'", (int)len,
                                  term);
    if (n != t->df || cf != t->cf)
        return v->rc = corrupt(v->s, SEG_PST, "document or term frequency "
                                              "does not match the lexicon");
    v->postings += n;
    return 0;
}

int seg_verify(const segment *s, uint64_t *postings)
{
    /* The prefix index agrees with the blocks' first terms (a wrong entry
     * would send lookups to the wrong block). */
    for (uint64_t k = 0; k < s->nblocks_lex; k++) {
        cur c;
        const char *ft;
        size_t fl;
        int rc = lex_block_first(s, k, &c, &ft, &fl);
        if (rc)
            return rc;
        if (rd_u64(s->lex_prefix + k * 8) !=
            bytes_prefix64(ft, fl))
            return corrupt(s, SEG_LEX, "prefix index does not match the "
                                       "blocks");
    }
    verify_ctx v = {s, {0}, 0, 0, AS_OK};
    buf_init(&v.prev);
    int rc = seg_terms_from(s, "", 0, verify_term, &v);
    buf_free(&v.prev);
    if (v.rc)
        return v.rc;
    if (rc)
        return rc;
    if (v.terms != s->nterms)
        return corrupt(s, SEG_LEX, "fewer terms than the header says");
    if (v.postings != hdr_u64(s, SEG_PST, 0))
        return corrupt(s, SEG_PST, "postings count does not match");
    *postings = v.postings;
    /* Every block of both stores decodes to its last record and the
     * blocks cover the documents in order. */
    buf out;
    buf_init(&out);
    ZSTD_DCtx *dz = ZSTD_createDCtx_advanced(zs_mem);
    if (!dz)
        rc = err_set(AS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < 2 && rc == AS_OK; i++) {
        int file = i ? SEG_DS : SEG_DT;
        uint64_t next = 0;
        for (uint64_t k = 0; k < s->bs_blocks[i] && rc == AS_OK; k++) {
            const unsigned char *e = s->bs_index[i] + k * BS_ENTRY;
            uint32_t first = rd_u32(e + 16), count = rd_u32(e + 20);
            if (first != next || count == 0) {
                rc = corrupt(s, file, "blocks do not cover the documents "
                                      "in order");
                break;
            }
            const char *f[2];
            size_t fl[2];
            rc = bs_read(s, i, e, count - 1, dz, &out, f, fl);
            next = first + (uint64_t)count;
        }
        if (rc == AS_OK && next != s->ndocs)
            rc = corrupt(s, file, "blocks do not cover the documents");
    }
    ZSTD_freeDCtx(dz);
    buf_free(&out);
    return rc;
}
