/* index.c - building, publishing and opening an index folder.
 *
 * MANIFEST format (little-endian):
 *   offset size  field
 *   0      4     magic "ASMF"
 *   4      4     version (INDEX_MANIFEST_VERSION = 1)
 *   8      4     body length L
 *   12     4     CRC32 of the body
 *   16     L     body:
 *                  varint length + generation folder name
 *                  u64 documents, u64 tokens (sum of document lengths),
 *                  u64 terms, u64 postings, u64 bytes of text indexed
 *                  varint length + stemming language; u8 stopwords (0/1)
 *                  u32 number of files (6), then per file:
 *                    varint length + name, u64 size, u32 CRC32
 */
#include "index.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <isa-l/crc.h>
#include <zlib.h>

#include "analyze.h"
#include "buf.h"
#include "codec.h"
#include "corpus.h"
#include "err.h"
#include "invert.h"
#include "mem.h"
#include "ring.h"

#define DEFAULT_MEMORY ((size_t)256 << 20)

/* ---- Small file-system helpers ------------------------------------------ */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_set(AS_ERR_IO, "%s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0)
        return err_set(AS_ERR_IO, "%s: %s", dir, strerror(errno));
    return AS_OK;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return err_set(AS_ERR_USAGE, "%s: path too long", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return err_set(AS_ERR_IO, "%s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return err_set(AS_ERR_IO, "%s: %s", tmp, strerror(errno));
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(AS_ERR_IO, "%s: not a folder", tmp);
    return AS_OK;
}

/* Remove a folder holding only files (a generation or a tmp folder). */
static void remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[8300];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* ---- Manifest ----------------------------------------------------------- */

static void put_str(buf *b, const char *s)
{
    codec_put_varint(b, strlen(s));
    buf_puts(b, s);
}

static int get_str(cur *c, char *out, size_t cap)
{
    size_t n = (size_t)cur_varint(c);
    const unsigned char *p = cur_bytes(c, n);
    if (!p || n >= cap)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static int write_manifest(const char *dir, const as_index *m)
{
    buf body, all;
    buf_init(&body);
    buf_init(&all);
    put_str(&body, m->gen);
    buf_put_u64(&body, m->docs);
    buf_put_u64(&body, m->tokens);
    buf_put_u64(&body, m->terms);
    buf_put_u64(&body, m->postings);
    buf_put_u64(&body, m->text_bytes);
    put_str(&body, m->language);
    buf_putc(&body, m->stopwords ? 1 : 0);
    buf_put_u32(&body, SEG_NFILES);
    for (int i = 0; i < SEG_NFILES; i++) {
        put_str(&body, seg_file_names[i]);
        buf_put_u64(&body, m->files[i].size);
        buf_put_u32(&body, m->files[i].crc);
    }
    buf_append(&all, "ASMF", 4);
    buf_put_u32(&all, INDEX_MANIFEST_VERSION);
    buf_put_u32(&all, (uint32_t)body.len);
    buf_put_u32(&all, (uint32_t)crc32(0, body.p, (uInt)body.len));
    buf_append(&all, body.p, body.len);
    int rc = body.err || all.err ? err_set(AS_ERR_NOMEM, "out of memory")
                                 : AS_OK;
    char tmp[4200], final[4200];
    snprintf(tmp, sizeof tmp, "%s/MANIFEST.tmp", dir);
    snprintf(final, sizeof final, "%s/MANIFEST", dir);
    if (rc == AS_OK) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = err_set(AS_ERR_IO, "%s: %s", tmp, strerror(errno));
        } else {
            rc = err_write_all(fd, all.p, all.len, -1, tmp);
            if (rc == AS_OK && fsync(fd) != 0)
                rc = err_set(AS_ERR_IO, "%s: %s", tmp, strerror(errno));
            if (close(fd) != 0 && rc == AS_OK)
                rc = err_set(AS_ERR_IO, "%s: %s", tmp, strerror(errno));
        }
    }
    if (rc == AS_OK && rename(tmp, final) != 0)
        rc = err_set(AS_ERR_IO, "%s: %s", final, strerror(errno));
    if (rc != AS_OK)
        unlink(tmp);
    else
        rc = fsync_dir(dir);
    buf_free(&body);
    buf_free(&all);
    return rc;
}

/* Read dir/MANIFEST into m (gen, counts, files).  AS_ERR_NOINDEX when
 * there is none. */
static int read_manifest(const char *dir, as_index *m)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/MANIFEST", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            struct stat st;
            if (stat(dir, &st) != 0)
                return err_set(AS_ERR_NOINDEX, "no index at %s (the folder "
                               "does not exist); build one with "
                               "`artsearch build CORPUS -o %s`", dir, dir);
            return err_set(AS_ERR_NOINDEX, "no index in %s (no MANIFEST); "
                           "build one with `artsearch build CORPUS -o %s`",
                           dir, dir);
        }
        return err_set(AS_ERR_IO, "%s: %s", path, strerror(errno));
    }
    unsigned char data[8192];
    ssize_t n = read(fd, data, sizeof data);
    close(fd);
    if (n < 16 || memcmp(data, "ASMF", 4) != 0)
        return err_set(AS_ERR_CORRUPT, "%s: not an artsearch manifest", path);
    if (rd_u32(data + 4) != INDEX_MANIFEST_VERSION)
        return err_set(AS_ERR_CORRUPT, "%s: manifest version %u, this "
                       "artsearch reads %u; rebuild the index", path,
                       rd_u32(data + 4), INDEX_MANIFEST_VERSION);
    uint32_t len = rd_u32(data + 8), crc = rd_u32(data + 12);
    if ((size_t)len != (size_t)n - 16)
        return err_set(AS_ERR_CORRUPT, "%s: truncated manifest", path);
    if ((uint32_t)crc32(0, data + 16, len) != crc)
        return err_set(AS_ERR_CORRUPT, "%s: manifest checksum mismatch",
                       path);
    cur c;
    cur_init(&c, data + 16, len);
    int bad = get_str(&c, m->gen, sizeof m->gen);
    m->docs = cur_u64(&c);
    m->tokens = cur_u64(&c);
    m->terms = cur_u64(&c);
    m->postings = cur_u64(&c);
    m->text_bytes = cur_u64(&c);
    bad |= get_str(&c, m->language, sizeof m->language);
    const unsigned char *sw = cur_bytes(&c, 1);
    m->stopwords = sw ? sw[0] : 0;
    uint32_t nf = cur_u32(&c);
    if (nf != SEG_NFILES)
        bad = 1;
    for (int i = 0; i < SEG_NFILES && !bad; i++) {
        char name[64];
        bad |= get_str(&c, name, sizeof name);
        if (!bad && strcmp(name, seg_file_names[i]) != 0)
            bad = 1;
        m->files[i].size = cur_u64(&c);
        m->files[i].crc = cur_u32(&c);
    }
    if (bad || c.bad || strchr(m->gen, '/') || m->gen[0] == '.' ||
        !m->gen[0])
        return err_set(AS_ERR_CORRUPT, "%s: manifest does not decode", path);
    m->avgdl = m->docs ? (double)m->tokens / (double)m->docs : 0;
    return AS_OK;
}

/* ---- Opening ------------------------------------------------------------ */

int as_index_open(const char *dir, as_index **out)
{
    *out = NULL;
    as_index *ix = mem_calloc(1, sizeof *ix);
    if (!ix)
        return err_set(AS_ERR_NOMEM, "out of memory");
    snprintf(ix->dir, sizeof ix->dir, "%s", dir);
    int rc = AS_OK;
    /* A build may publish between reading the manifest and opening the
     * generation it names (and delete that one): read it again then. */
    for (int attempt = 0; attempt < 5; attempt++) {
        rc = read_manifest(dir, ix);
        if (rc)
            break;
        char gdir[4200];
        snprintf(gdir, sizeof gdir, "%s/%s", dir, ix->gen);
        rc = seg_open(&ix->seg, gdir, ix->files);
        if (rc == AS_OK) {
            if (ix->seg.ndocs != ix->docs || ix->seg.nterms != ix->terms) {
                seg_close(&ix->seg);
                rc = err_set(AS_ERR_CORRUPT, "%s: the segment does not "
                             "match the manifest", gdir);
            }
            break;
        }
        /* Retry only if the manifest now names another generation: the
         * one read was replaced, and may be half deleted (its folder
         * still there, some files gone).  Else the damage is real. */
        as_index *now = mem_calloc(1, sizeof *now);
        if (!now) {
            rc = err_set(AS_ERR_NOMEM, "out of memory");
            break;
        }
        char msg[1024];         /* seg_open's message, kept */
        snprintf(msg, sizeof msg, "%s", as_errmsg());
        int moved = read_manifest(dir, now) == AS_OK &&
                    strcmp(now->gen, ix->gen) != 0;
        mem_free(now);
        if (!moved) {
            err_set(rc, "%s", msg);
            break;
        }
    }
    if (rc) {
        mem_free(ix);
        return rc;
    }
    pthread_mutex_init(&ix->an_lock, NULL);
    *out = ix;
    return AS_OK;
}

void as_index_close(as_index *ix)
{
    if (!ix)
        return;
    seg_close(&ix->seg);
    analyzer_free(ix->an_spare);
    seg_doc_done(&ix->dctx_spare);
    pthread_mutex_destroy(&ix->an_lock);
    mem_free(ix);
}

/* The object kept in *slot (NULL if none), taken out. */
static void *spare_take(as_index *ix, void **slot)
{
    pthread_mutex_lock(&ix->an_lock);
    void *p = *slot;
    *slot = NULL;
    pthread_mutex_unlock(&ix->an_lock);
    return p;
}

/* Keep p in *slot if it is empty: returns NULL, or p for the caller to
 * free. */
static void *spare_keep(as_index *ix, void **slot, void *p)
{
    pthread_mutex_lock(&ix->an_lock);
    if (!*slot) {
        *slot = p;
        p = NULL;
    }
    pthread_mutex_unlock(&ix->an_lock);
    return p;
}

int index_analyzer_get(as_index *ix, analyzer **out)
{
    *out = spare_take(ix, &ix->an_spare);
    if (*out)
        return AS_OK;
    int rc = analyzer_new(ix->language, ix->stopwords, out);
    if (rc == AS_ERR_LANG)
        return err_set(AS_ERR_CORRUPT, "%s: the index was built with "
                       "stemming language '%s', which this libstemmer does "
                       "not have", ix->dir, ix->language);
    return rc;
}

void index_analyzer_put(as_index *ix, analyzer *an)
{
    analyzer_free(spare_keep(ix, &ix->an_spare, an));
}

void *index_dctx_get(as_index *ix)
{
    return spare_take(ix, &ix->dctx_spare);
}

void index_dctx_put(as_index *ix, void *dctx)
{
    dctx = spare_keep(ix, &ix->dctx_spare, dctx);
    seg_doc_done(&dctx);
}

int as_index_stats(const as_index *ix, as_stats *st)
{
    memset(st, 0, sizeof *st);
    st->docs = ix->docs;
    st->terms = ix->terms;
    st->postings = ix->postings;
    st->tokens = ix->tokens;
    st->avgdl = ix->avgdl;
    st->bytes_lexicon = ix->files[SEG_LEX].size;
    st->bytes_postings = ix->files[SEG_PST].size;
    st->bytes_positions = ix->files[SEG_POS].size;
    st->bytes_norms = ix->files[SEG_NRM].size;
    st->bytes_doctable = ix->files[SEG_DT].size;
    st->bytes_docstore = ix->files[SEG_DS].size;
    for (int i = 0; i < SEG_NFILES; i++)
        st->bytes_total += ix->files[i].size;
    st->text_bytes = ix->text_bytes;
    snprintf(st->language, sizeof st->language, "%s", ix->language);
    st->stopwords = ix->stopwords;
    snprintf(st->generation, sizeof st->generation, "%s", ix->gen);
    return AS_OK;
}

int as_index_check(as_index *ix)
{
    for (int i = 0; i < SEG_NFILES; i++) {
        const seg_map *f = &ix->seg.f[i];
        uint32_t crc = crc32_gzip_refl(0, f->p, f->size);
        if (crc != ix->files[i].crc)
            return err_set(AS_ERR_CORRUPT, "%s/%s: checksum mismatch "
                           "(CRC32 %08x, the manifest says %08x)",
                           ix->seg.dir, seg_file_names[i], crc,
                           ix->files[i].crc);
    }
    uint64_t postings = 0;
    int rc = seg_verify(&ix->seg, &postings);
    if (rc)
        return rc;
    if (postings != ix->postings)
        return err_set(AS_ERR_CORRUPT, "%s: postings count differs from "
                       "the manifest", ix->seg.dir);
    return AS_OK;
}

/* ---- Building ------------------------------------------------------------
 *
 * A build has two sides.  The analyzing side turns each document into
 * terms (the analyzer) and writes what is stored of it (the segment
 * writer's doc table, norms and store); the inverting side adds the terms
 * to the inverter.  as_build runs them on two threads (see "Reading and
 * analyzing on a second thread" below); as_builder_add runs one after the
 * other.  Between them goes a stream of 32-bit words (host order):
 *   a token:  key << 2 | S << 1 | T, then its position.
 *             T: a title word (a term of the text field and of the title
 *             field).  S: the term follows: u32 length, the bytes, zero
 *             padding to a multiple of 4.  key: the analyzer's stem-cache
 *             key (an_token.key), or K_NONE for a word without one (S is
 *             then set).  A key's term is sent the first time the key is
 *             used; the inverting side keeps it, and maps each key to its
 *             inverter term number, so most tokens skip hashing their term.
 *   K_EPOCH << 2:           the analyzer's keys start afresh
 *   K_END << 2, n:          the document ends; it has n positions
 *   K_WARN << 2, length, bytes, padding:  a warning from the corpus reader
 *   K_PROGRESS << 2, an as_progress, padding:  progress from the reader
 * The stream is only ever read by the process that wrote it. */

enum {
    K_PROGRESS = 0x3FFFFFFB,
    K_WARN,
    K_END,
    K_EPOCH,
    K_NONE,
    K_FIRST_SPECIAL = K_PROGRESS
};
#define F_TITLE 1u
#define F_TERM 2u

/* A document's tokens are handed on in pieces of about this size, so a
 * huge document never makes a huge stream. */
#define STREAM_PIECE ((size_t)1 << 20)

typedef struct {
    analyzer *an;
    seg_writer *sw;
    uint32_t docs;          /* documents analyzed */
    uint64_t tokens;        /* their positions */
    uint32_t epoch;         /* analyzer_epoch of the keys sent */
    uint32_t next_key;      /* keys below were sent (or never used) */
    uint32_t title;         /* F_TITLE while analyzing a title */
    buf *out;               /* the stream */
    /* out passed STREAM_PIECE in the middle of a document: hand it on;
     * sets out anew.  Nonzero stops the build. */
    int (*piece)(void *ctx);
    void *piece_ctx;
} an_side;

typedef struct {
    inverter *inv;
    uint32_t docs;          /* documents inverted */
    /* By key: its inverter term number + 1 for the text field (map[0])
     * and the title field (map[1]), 0 when not known; valid while
     * inv_runs() stays map_runs (a spill renumbers the terms). */
    uint32_t *map[2];
    uint32_t *kterm;        /* by key: offset + 1 of its term in kbuf */
    size_t mapcap;
    uint32_t map_runs;
    buf kbuf;               /* terms of keys: u8 length, bytes */
} inv_side;

static void put_u32(buf *o, uint32_t v)
{
    memcpy(o->p + o->len, &v, 4);
    o->len += 4;
}

static size_t padded(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* Write a length, the bytes p[0..n) and zero padding at d; returns how
 * many bytes that took. */
static size_t write_bytes(unsigned char *d, const void *p, size_t n)
{
    uint32_t len = (uint32_t)n;
    memcpy(d, &len, 4);
    memcpy(d + 4, p, n);
    memset(d + 4 + n, 0, padded(n) - n);
    return 4 + padded(n);
}

/* Append a length, the bytes and padding; the room is reserved. */
static void put_bytes(buf *o, const void *p, size_t n)
{
    o->len += write_bytes(o->p + o->len, p, n);
}

static int on_token(void *ctx, const an_token *t)
{
    an_side *s = ctx;
    if (s->out->len >= STREAM_PIECE && s->piece) {
        int rc = s->piece(s->piece_ctx);
        if (rc)
            return rc;
    }
    buf *o = s->out;
    if (buf_reserve(o, 24 + t->len))
        return AS_ERR_NOMEM;
    uint32_t key = t->key, flags = s->title;
    if (key != AN_NO_KEY && key < K_FIRST_SPECIAL) {
        uint32_t ep = analyzer_epoch(s->an);
        if (ep != s->epoch) {
            put_u32(o, (uint32_t)K_EPOCH << 2);
            s->epoch = ep;
            s->next_key = 0;
        }
        if (key >= s->next_key) {
            flags |= F_TERM;
            s->next_key = key + 1;
        }
    } else {
        key = K_NONE;
        flags |= F_TERM;
    }
    /* Written through a local pointer, o->len updated once: through o,
     * the length was stored and loaded again for each word. */
    unsigned char *d = o->p + o->len;
    uint32_t head[2] = {key << 2 | flags, t->pos};
    memcpy(d, head, 8);
    size_t n = 8;
    if (flags & F_TERM)
        n += write_bytes(d + 8, t->term, t->len);
    o->len += n;
    return AS_OK;
}

/* The analyzing side of one document. */
static int analyze_doc(an_side *s, const corpus_doc *d)
{
    if (s->docs >= UINT32_MAX - 1)
        return err_set(AS_ERR_USAGE, "more than %u documents", UINT32_MAX - 2);
    uint32_t pos = 0;
    s->title = F_TITLE;
    int rc = analyzer_run(s->an, d->title, d->title_len, &pos, on_token, s);
    uint32_t title_pos = pos;
    s->title = 0;
    if (rc == AS_OK)
        rc = analyzer_run(s->an, d->body, d->body_len, &pos, on_token, s);
    if (rc == AS_OK) {
        if (buf_reserve(s->out, 8))
            rc = AS_ERR_NOMEM;
        else {
            put_u32(s->out, (uint32_t)K_END << 2);
            put_u32(s->out, pos);
        }
    }
    if (rc == AS_OK)
        rc = seg_writer_doc(s->sw, s->docs, d->id, d->id_len, d->title,
                            d->title_len, d->body, d->body_len, pos,
                            title_pos);
    if (rc == AS_ERR_NOMEM)
        return err_set(rc, "out of memory while indexing %.*s",
                       (int)d->id_len, d->id);
    if (rc)
        return rc;
    s->docs++;
    s->tokens += pos;
    return AS_OK;
}

static void inv_side_free(inv_side *v)
{
    inv_free(v->inv);           /* removes the run files */
    v->inv = NULL;
    mem_free(v->map[0]);
    mem_free(v->map[1]);
    mem_free(v->kterm);
    v->map[0] = v->map[1] = v->kterm = NULL;
    v->mapcap = 0;
    buf_free(&v->kbuf);
}

/* Room in the key tables for key. */
static int keys_room(inv_side *v, uint32_t key)
{
    if (key < v->mapcap)
        return AS_OK;
    size_t cap = v->mapcap ? v->mapcap * 2 : 4096;
    while (cap <= key)
        cap *= 2;
    uint32_t **t[3] = {&v->map[0], &v->map[1], &v->kterm};
    for (int i = 0; i < 3; i++) {
        uint32_t *m = mem_realloc_huge(*t[i], v->mapcap * sizeof *m,
                                       cap * sizeof *m);
        if (!m)
            return err_set(AS_ERR_NOMEM, "out of memory while indexing");
        memset(m + v->mapcap, 0, (cap - v->mapcap) * sizeof *m);
        *t[i] = m;
    }
    v->mapcap = cap;
    return AS_OK;
}

/* Forget every key's term number (and, with terms, its term too). */
static void keys_forget(inv_side *v, int terms)
{
    if (!v->mapcap)
        return;
    memset(v->map[0], 0, v->mapcap * sizeof *v->map[0]);
    memset(v->map[1], 0, v->mapcap * sizeof *v->map[1]);
    if (terms) {
        memset(v->kterm, 0, v->mapcap * sizeof *v->kterm);
        buf_clear(&v->kbuf);
    }
}

/* Add key's term (text field: f 0, title field: f 1) at pos. */
/* The keys' term numbers, forgotten if a spill renumbered the terms. */
static void keys_current(inv_side *v)
{
    if (v->map_runs != inv_runs(v->inv)) {
        keys_forget(v, 0);
        v->map_runs = inv_runs(v->inv);
    }
}

static int add_key(inv_side *v, int f, uint32_t key, uint32_t pos)
{
    keys_current(v);
    uint32_t idx = v->map[f][key];
    if (idx)
        return inv_add_term(v->inv, idx - 1, pos);
    if (!v->kterm[key])
        return err_set(AS_ERR_INTERNAL, "the analyzed stream is damaged");
    const unsigned char *k = v->kbuf.p + v->kterm[key] - 1;
    char term[AN_MAX_TERM + 1];
    term[0] = SEG_TITLE_MARK;
    memcpy(term + 1, k + 1, k[0]);
    uint32_t runs = inv_runs(v->inv);
    int rc = inv_add(v->inv, term + !f, k[0] + (size_t)f, pos, &idx);
    /* A spill inside inv_add (one huge document) renumbers the terms. */
    if (rc == AS_OK && inv_runs(v->inv) == runs)
        v->map[f][key] = idx + 1;
    return rc;
}

/* Plain token records (a known key, no term, no special record) are
 * taken PLAIN_BATCH at a time: first their keys' term numbers are
 * prefetched, then read, and inv_add_terms fetches the terms' entries
 * before it adds them.  Waiting for those two loads, one token after the
 * other, was half of add_key's time and three quarters of
 * inv_add_term's. */
#define PLAIN_BATCH 32

static int plain_record(const inv_side *v, const unsigned char *q,
                        const unsigned char *end)
{
    if (end - q < 8)
        return 0;
    uint32_t w;
    memcpy(&w, q, 4);
    return (w >> 2) < K_FIRST_SPECIAL && !(w & F_TERM) &&
           (w >> 2) < v->mapcap;
}

/* The plain records from *qp on, up to PLAIN_BATCH (at least one: the
 * caller saw it); *qp moves past them. */
static int invert_plain(inv_side *v, const unsigned char **qp,
                        const unsigned char *end)
{
    uint32_t key[2 * PLAIN_BATCH], pos[2 * PLAIN_BATCH];
    uint32_t idx[2 * PLAIN_BATCH];
    uint8_t field[2 * PLAIN_BATCH];
    size_t n = 0;
    const unsigned char *q = *qp;
    for (size_t i = 0; i < PLAIN_BATCH && plain_record(v, q, end); i++) {
        uint32_t w, a;
        memcpy(&w, q, 4);
        memcpy(&a, q + 4, 4);
        q += 8;
        /* A title word is added to the text field, then the title's. */
        for (uint8_t f = 0; f <= (w & F_TITLE); f++) {
            key[n] = w >> 2;
            pos[n] = a;
            field[n] = f;
            __builtin_prefetch(&v->map[f][w >> 2]);
            n++;
        }
    }
    *qp = q;
    uint32_t runs = 0;
    for (size_t i = 0; i < n;) {
        /* At first, and after a spill (one huge document) renumbered the
         * terms, the numbers are read again. */
        if (i == 0 || inv_runs(v->inv) != runs) {
            keys_current(v);
            runs = inv_runs(v->inv);
            for (size_t k = i; k < n; k++)
                idx[k] = v->map[field[k]][key[k]];
        }
        size_t done;
        int rc = inv_add_terms(v->inv, idx + i, pos + i, n - i, &done);
        if (rc)
            return rc;
        i += done;
        /* A term not known in its field yet, or one after a spill: add_key
         * looks it up. */
        if (i < n) {
            if ((rc = add_key(v, field[i], key[i], pos[i])))
                return rc;
            i++;
        }
    }
    return AS_OK;
}

/* Add a term without a key. */
static int add_term(inv_side *v, int f, const unsigned char *t, size_t n,
                    uint32_t pos)
{
    char term[AN_MAX_TERM + 1];
    term[0] = SEG_TITLE_MARK;
    memcpy(term + 1, t, n);
    return inv_add(v->inv, term + !f, n + (size_t)f, pos, NULL);
}

/* The inverting side: take a piece of the stream, p[0..n). */
static int invert_stream(inv_side *v, const unsigned char *p, size_t n,
                         const as_build_opts *opts)
{
    const unsigned char *q = p, *end = p + n;
    while (end - q >= 4) {
        if (plain_record(v, q, end)) {
            int rc = invert_plain(v, &q, end);
            if (rc)
                return rc;
            continue;
        }
        uint32_t w, key, a = 0;
        memcpy(&w, q, 4);
        key = w >> 2;
        if (end - q >= 8)
            memcpy(&a, q + 4, 4);
        q += 4;
        if (key >= K_FIRST_SPECIAL && key != K_NONE) {
            int rc = AS_OK;
            if (key == K_EPOCH) {
                keys_forget(v, 1);
                continue;
            }
            if (end - q < 4)
                break;
            q += 4;
            if (key == K_END) {
                rc = inv_end_doc(v->inv, v->docs);
                v->docs++;
            } else if (key == K_WARN) {
                if ((size_t)(end - q) < padded(a))
                    break;
                if (opts->warn) {
                    char *z = mem_strndup((const char *)q, a);
                    if (z)
                        opts->warn(opts->ctx, z);
                    mem_free(z);
                }
                q += padded(a);
            } else if (key == K_PROGRESS) {
                as_progress pr;
                if (a != sizeof pr || (size_t)(end - q) < padded(a))
                    break;
                memcpy(&pr, q, sizeof pr);
                if (opts->progress)
                    opts->progress(opts->ctx, &pr);
                q += padded(a);
            } else {
                break;
            }
            if (rc)
                return rc;
            continue;
        }
        if (end - q < 4)
            break;
        q += 4;
        uint32_t pos = a;
        const unsigned char *t = NULL;
        uint32_t tlen = 0;
        if (w & F_TERM) {
            if (end - q < 4)
                break;
            memcpy(&tlen, q, 4);
            q += 4;
            if (tlen > AN_MAX_TERM || (size_t)(end - q) < padded(tlen))
                break;
            t = q;
            q += padded(tlen);
        }
        int rc;
        if (key == K_NONE) {
            if (!t)
                break;
            rc = add_term(v, 0, t, tlen, pos);
            if (rc == AS_OK && (w & F_TITLE))
                rc = add_term(v, 1, t, tlen, pos);
        } else {
            if ((rc = keys_room(v, key)))
                return rc;
            if (t) {
                if (buf_reserve(&v->kbuf, 1 + tlen))
                    return err_set(AS_ERR_NOMEM,
                                   "out of memory while indexing");
                v->kterm[key] = (uint32_t)v->kbuf.len + 1;
                buf_putc(&v->kbuf, (int)tlen);
                buf_append(&v->kbuf, t, tlen);
            }
            rc = add_key(v, 0, key, pos);
            if (rc == AS_OK && (w & F_TITLE))
                rc = add_key(v, 1, key, pos);
        }
        if (rc)
            return rc;
    }
    if (q != end)
        return err_set(AS_ERR_INTERNAL, "the analyzed stream is damaged");
    return AS_OK;
}

static void clean_leftovers(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "tmp-", 4) != 0 &&
            strncmp(e->d_name, "gen-", 4) != 0)
            continue;
        if (keep && strcmp(e->d_name, keep) == 0)
            continue;
        char p[8300];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        remove_flat_dir(p);
    }
    closedir(d);
    char p[4200];
    snprintf(p, sizeof p, "%s/MANIFEST.tmp", dir);
    unlink(p);
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct as_builder {
    char dir[4096];
    char tmpdir[4200];
    char stamp[64];
    int lockfd;
    as_index old;
    int have_old;
    /* The analyzing and the inverting sides run on two threads (as_build),
     * each writing its side for every document: a cache line apart. */
    an_side a;
    unsigned char gap[64];
    inv_side v;
    unsigned char gap2[64];
    buf stream;             /* as_builder_add's stream */
    int stopwords;
    int rc;                 /* sticky: a failed add fails the build */
    as_build_report rep;
    double t0;
    buf fix[3];             /* UTF-8 repairs of an added document */
};

void as_builder_free(as_builder *bd)
{
    if (!bd)
        return;
    inv_side_free(&bd->v);
    seg_writer_free(bd->a.sw);
    analyzer_free(bd->a.an);
    buf_free(&bd->stream);
    if (bd->tmpdir[0])
        remove_flat_dir(bd->tmpdir);
    if (bd->lockfd >= 0)
        close(bd->lockfd);
    for (int i = 0; i < 3; i++)
        buf_free(&bd->fix[i]);
    mem_free(bd);
}

/* Both sides on one thread: invert what the analyzing side wrote. */
static int builder_piece(void *ctx)
{
    as_builder *bd = ctx;
    static const as_build_opts none;
    int rc = invert_stream(&bd->v, bd->stream.p, bd->stream.len, &none);
    buf_clear(&bd->stream);
    return rc;
}

static int builder_doc(void *ctx, const corpus_doc *d)
{
    as_builder *bd = ctx;
    int rc = analyze_doc(&bd->a, d);
    return rc ? rc : builder_piece(bd);
}

int as_builder_new(const char *index_dir, const as_build_opts *opts,
                   as_builder **out)
{
    *out = NULL;
    as_build_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    if (!index_dir || !index_dir[0])
        return err_set(AS_ERR_USAGE, "no index folder given");
    as_builder *bd = mem_calloc(1, sizeof *bd);
    if (!bd)
        return err_set(AS_ERR_NOMEM, "out of memory");
    bd->lockfd = -1;
    bd->t0 = now_seconds();
    buf_init(&bd->stream);
    buf_init(&bd->v.kbuf);
    bd->stopwords = opts->stopwords;
    for (int i = 0; i < 3; i++)
        buf_init(&bd->fix[i]);
    if (snprintf(bd->dir, sizeof bd->dir, "%s", index_dir) >=
        (int)sizeof bd->dir) {
        mem_free(bd);
        return err_set(AS_ERR_USAGE, "%s: path too long", index_dir);
    }
    int rc = mkdir_p(index_dir);
    if (rc) {
        as_builder_free(bd);
        return rc;
    }
    /* One build at a time per index folder. */
    char lockpath[4200];
    snprintf(lockpath, sizeof lockpath, "%s/LOCK", index_dir);
    bd->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (bd->lockfd < 0) {
        rc = err_set(AS_ERR_IO, "%s: %s", lockpath, strerror(errno));
        as_builder_free(bd);
        return rc;
    }
    if (flock(bd->lockfd, LOCK_EX | LOCK_NB) != 0) {
        as_builder_free(bd);
        return err_set(AS_ERR_IO, "%s: another build is writing this index",
                       index_dir);
    }
    bd->have_old = read_manifest(index_dir, &bd->old) == AS_OK;
    clean_leftovers(index_dir, bd->have_old ? bd->old.gen : NULL);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(bd->stamp, sizeof bd->stamp, "%lld%09ld-%d",
             (long long)ts.tv_sec, ts.tv_nsec, (int)getpid());
    snprintf(bd->tmpdir, sizeof bd->tmpdir, "%s/tmp-%s", index_dir,
             bd->stamp);
    if (mkdir(bd->tmpdir, 0755) != 0) {
        rc = err_set(AS_ERR_IO, "%s: %s", bd->tmpdir, strerror(errno));
        bd->tmpdir[0] = '\0';
        as_builder_free(bd);
        return rc;
    }
    rc = analyzer_new(opts->language, opts->stopwords, &bd->a.an);
    if (rc == AS_OK)
        rc = inv_new(opts->memory ? opts->memory : DEFAULT_MEMORY,
                     bd->tmpdir, &bd->v.inv);
    if (rc == AS_OK)
        rc = seg_writer_new(bd->tmpdir, &bd->a.sw);
    if (rc) {
        as_builder_free(bd);
        return rc;
    }
    bd->a.out = &bd->stream;
    bd->a.piece = builder_piece;
    bd->a.piece_ctx = bd;
    *out = bd;
    return AS_OK;
}

/* A string handed in: NULL is empty, invalid UTF-8 is repaired. */
static const char *api_text(as_builder *bd, int i, const char *s,
                            size_t *len)
{
    if (!s) {
        *len = 0;
        return "";
    }
    *len = strlen(s);
    buf_clear(&bd->fix[i]);
    if (corpus_fix_utf8(s, *len, &bd->fix[i]) == 0)
        return s;
    *len = bd->fix[i].len;
    return (const char *)bd->fix[i].p;
}

int as_builder_add(as_builder *bd, const char *id, const char *title,
                   const char *body)
{
    if (bd->rc)
        return err_set(bd->rc, "the build failed earlier");
    if (!id || !id[0])
        return err_set(AS_ERR_USAGE, "a document needs an id");
    corpus_doc d;
    size_t n;
    d.id = api_text(bd, 0, id, &n);
    d.id_len = n;
    d.title = api_text(bd, 1, title, &n);
    d.title_len = n < CORPUS_MAX_TITLE ? n : CORPUS_MAX_TITLE;
    while (d.title_len > 0 && d.title_len < n &&
           ((unsigned char)d.title[d.title_len] & 0xC0) == 0x80)
        d.title_len--;          /* cut at a character boundary */
    d.body = api_text(bd, 2, body, &n);
    d.body_len = n;
    if (bd->fix[0].err || bd->fix[1].err || bd->fix[2].err)
        return err_set(AS_ERR_NOMEM, "out of memory");
    int rc = builder_doc(bd, &d);
    if (rc) {
        bd->rc = rc;
        return rc;
    }
    bd->rep.files++;
    bd->rep.docs++;
    bd->rep.text_bytes += d.title_len + d.body_len;
    bd->rep.bytes_in += d.id_len + d.title_len + d.body_len;
    return AS_OK;
}

int as_builder_finish(as_builder *bd, as_build_report *report)
{
    as_build_report *rp = &bd->rep;
    int rc = bd->rc;
    if (rc)
        return err_set(rc, "the build failed earlier");
    an_side *a = &bd->a;
    if (a->docs == 0)
        rc = err_set(AS_ERR_NOTFOUND, "no documents were added; the index "
                     "was not changed");
    else if (bd->v.docs != a->docs)
        rc = err_set(AS_ERR_INTERNAL, "%u documents analyzed, %u inverted",
                     a->docs, bd->v.docs);
    as_index m;
    memset(&m, 0, sizeof m);
    if (rc == AS_OK) {
        seg_writer_set_avgdl(a->sw, (double)a->tokens / a->docs);
        /* The merge runs on two threads, each writing half the terms. */
        inv_sink sink = seg_writer_sink(a->sw), sink2;
        rc = seg_writer_part(a->sw, &sink2);
        if (rc == AS_OK)
            rc = inv_finish(bd->v.inv, &sink, &sink2);
        rp->runs = inv_runs(bd->v.inv) + 1;     /* and the last, in memory */
    }
    /* The postings in memory go before the writer waits for the last
     * blocks of the store to be compressed (a big document's block can
     * take a while, and memory with it). */
    inv_side_free(&bd->v);      /* removes the run files */
    if (rc == AS_OK)
        rc = seg_writer_finish(a->sw, m.files, &m.terms, &m.postings);
    seg_writer_free(a->sw);
    a->sw = NULL;

    char gendir[4200];
    if (rc == AS_OK)
        rc = fsync_dir(bd->tmpdir);
    if (rc == AS_OK) {
        snprintf(m.gen, sizeof m.gen, "gen-%s", bd->stamp);
        snprintf(gendir, sizeof gendir, "%s/%s", bd->dir, m.gen);
        if (rename(bd->tmpdir, gendir) != 0)
            rc = err_set(AS_ERR_IO, "%s: %s", gendir, strerror(errno));
        else
            bd->tmpdir[0] = '\0';
    }
    if (rc == AS_OK)
        rc = fsync_dir(bd->dir);
    if (rc == AS_OK) {
        m.docs = a->docs;
        m.tokens = a->tokens;
        m.text_bytes = rp->text_bytes;
        snprintf(m.language, sizeof m.language, "%s",
                 analyzer_language(a->an));
        m.stopwords = bd->stopwords;
        rc = write_manifest(bd->dir, &m);
        if (rc)
            remove_flat_dir(gendir);
    }
    if (rc == AS_OK && bd->have_old) {
        /* Readers that opened the old generation keep their mappings. */
        char olddir[4200];
        snprintf(olddir, sizeof olddir, "%s/%s", bd->dir, bd->old.gen);
        remove_flat_dir(olddir);
    }
    if (rc == AS_OK) {
        rp->terms = m.terms;
        rp->postings = m.postings;
        rp->tokens = m.tokens;
        for (int i = 0; i < SEG_NFILES; i++)
            rp->index_bytes += m.files[i].size;
    }
    rp->seconds = now_seconds() - bd->t0;
    if (report)
        *report = *rp;
    bd->rc = rc ? rc : AS_ERR_USAGE;    /* finished: no more adds */
    return rc;
}

/* ---- Reading and analyzing on a second thread ----------------------------
 *
 * as_build reads the corpus (decompressing, parsing JSON, repairing UTF-8)
 * and runs the analyzing side on a thread of its own, while the calling
 * thread runs the inverting side.  The reader writes the stream into
 * batches of about PIPE_BATCH bytes in a ring of PIPE_SLOTS; the caller
 * takes them in order.  Warnings and progress go through the stream too,
 * so the caller's callbacks run on the calling thread, in order with the
 * documents.  A huge document's stream is handed on in pieces (see
 * STREAM_PIECE), so memory stays bounded by the ring. */

#define PIPE_SLOTS 4
#define PIPE_BATCH STREAM_PIECE

typedef struct {
    ring ring;
    buf slot[PIPE_SLOTS];   /* pieces of the stream; the caller empties a
                               slot before giving it back */
    int rc;                 /* the reader's result, and its message */
    char msg[1024];
    /* the reader's arguments */
    const char *path;
    corpus_opts co;
    as_build_report *rep;
    an_side *a;
} pipe_t;

/* The reader: the slot to append to; NULL when the caller stopped. */
static buf *pipe_fill(pipe_t *p)
{
    long i = ring_put(&p->ring);
    return i < 0 ? NULL : &p->slot[i];
}

/* The analyzing side's piece callback: hand the batch on, take the next. */
static int pipe_piece(void *ctx)
{
    pipe_t *p = ctx;
    ring_publish(&p->ring);
    if (!(p->a->out = pipe_fill(p)))
        return AS_ERR_INTERNAL;         /* ignored: the caller's rc wins */
    return AS_OK;
}

static int pipe_doc(void *ctx, const corpus_doc *d)
{
    pipe_t *p = ctx;
    if (!(p->a->out = pipe_fill(p)))
        return AS_ERR_INTERNAL;
    int rc = analyze_doc(p->a, d);
    if (rc == AS_OK && p->a->out->len >= PIPE_BATCH)
        ring_publish(&p->ring);
    return rc;
}

/* A record of the reader's (K_WARN or K_PROGRESS) into the stream.  Out
 * of memory: it is lost and the build goes on (warnings are dropped the
 * same way without a callback). */
static void pipe_record(pipe_t *p, uint32_t kind, const void *data, size_t n)
{
    buf *b = pipe_fill(p);
    if (!b)
        return;
    if (buf_reserve(b, 8 + padded(n))) {
        b->err = 0;     /* nothing was appended: the batch stays whole */
        return;
    }
    put_u32(b, kind << 2);
    put_bytes(b, data, n);
}

static void pipe_warn(void *ctx, const char *msg)
{
    pipe_record(ctx, K_WARN, msg, strlen(msg));
}

static void pipe_progress(void *ctx, const as_progress *pr)
{
    pipe_record(ctx, K_PROGRESS, pr, sizeof *pr);
}

static void *pipe_reader(void *arg)
{
    pipe_t *p = arg;
    int rc = corpus_read(p->path, &p->co, pipe_doc, p, p->rep);
    p->rc = rc;         /* the caller reads them after ring_done */
    if (rc)
        snprintf(p->msg, sizeof p->msg, "%s", as_errmsg());
    ring_publish(&p->ring);
    ring_done(&p->ring);
    return NULL;
}

/* The caller, waiting for the reader: compress a block for the store's
 * worker meanwhile (seg_writer_help). */
static int pipe_idle(void *sw)
{
    return seg_writer_help(sw);
}

/* Read path into bd, on a second thread when one can be started. */
static int read_corpus(as_builder *bd, const char *path,
                       const as_build_opts *opts, const corpus_opts *co)
{
    pipe_t *p = mem_calloc(1, sizeof *p);
    if (!p)
        return err_set(AS_ERR_NOMEM, "out of memory");
    p->path = path;
    p->co = *co;
    p->co.warn = opts->warn ? pipe_warn : NULL;
    p->co.progress = opts->progress ? pipe_progress : NULL;
    p->co.ctx = p;
    p->rep = &bd->rep;
    p->a = &bd->a;
    for (int i = 0; i < PIPE_SLOTS; i++)
        buf_init(&p->slot[i]);
    pthread_t th;
    int threaded = ring_init(&p->ring, PIPE_SLOTS) == 0;
    bd->a.piece = pipe_piece;
    bd->a.piece_ctx = p;
    if (threaded && pthread_create(&th, NULL, pipe_reader, p) != 0) {
        ring_destroy(&p->ring);
        threaded = 0;
    }
    if (!threaded) {
        mem_free(p);
        bd->a.piece = builder_piece;
        bd->a.piece_ctx = bd;
        return corpus_read(path, co, builder_doc, bd, &bd->rep);
    }
    int rc = AS_OK;
    for (long i; (i = ring_get_idle(&p->ring, pipe_idle, bd->a.sw)) >= 0;) {
        buf *b = &p->slot[i];
        rc = invert_stream(&bd->v, b->p, b->len, opts);
        buf_clear(b);
        b->err = 0;
        if (rc) {
            ring_stop(&p->ring);
            break;
        }
    }
    pthread_join(th, NULL);
    bd->a.out = &bd->stream;
    bd->a.piece = builder_piece;
    bd->a.piece_ctx = bd;
    if (rc == AS_OK && p->rc)
        rc = err_set(p->rc, "%s", p->msg);
    ring_destroy(&p->ring);
    for (int i = 0; i < PIPE_SLOTS; i++)
        buf_free(&p->slot[i]);
    mem_free(p);
    return rc;
}

int as_build(const char *corpus_path, const char *index_dir,
             const as_build_opts *opts, as_build_report *report)
{
    as_build_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    if (report)
        memset(report, 0, sizeof *report);
    struct stat st;
    if (!corpus_path || stat(corpus_path, &st) != 0)
        return err_set(AS_ERR_USAGE, "%s: %s",
                       corpus_path ? corpus_path : "(null)",
                       corpus_path ? strerror(errno) : "no corpus path");
    as_builder *bd;
    int rc = as_builder_new(index_dir, opts, &bd);
    if (rc)
        return rc;
    corpus_opts co = {opts->warn, opts->progress, opts->ctx,
                      opts->max_doc ? opts->max_doc : AS_DEFAULT_MAX_DOC};
    rc = read_corpus(bd, corpus_path, opts, &co);
    if (rc == AS_OK && bd->a.docs == 0)
        rc = err_set(AS_ERR_NOTFOUND, "%s: no documents found (formats read:"
                     " .txt .md .html .htm .jsonl .jsonl.gz); the index was "
                     "not changed", corpus_path);
    if (rc == AS_OK) {
        rc = as_builder_finish(bd, report);
    } else if (report) {
        *report = bd->rep;
        report->seconds = now_seconds() - bd->t0;
    }
    as_builder_free(bd);
    return rc;
}
