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
#include <zlib.h>

#include "analyze.h"
#include "buf.h"
#include "codec.h"
#include "corpus.h"
#include "err.h"
#include "invert.h"
#include "mem.h"

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
        struct stat st;
        if (stat(gdir, &st) == 0)
            break;              /* the generation is there: real damage */
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
        uint32_t crc = (uint32_t)crc32_z(0, f->p, f->size);
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

/* ---- Building ----------------------------------------------------------- */

typedef struct {
    analyzer *an;
    inverter *inv;
    seg_writer *sw;
    uint32_t next_doc;
    uint64_t tokens;
    int rc;
    /* The analyzer's word keys mapped to the inverter's term numbers + 1
     * (0: not yet), [0] for the text field and [1] for the title field,
     * valid while the analyzer's epoch and the inverter's run count stay
     * what they were: most tokens then skip the inverter's hash table. */
    uint32_t *map[2];
    size_t mapcap;
    uint32_t map_epoch, map_runs;
} build_ctx;

static void map_free(build_ctx *b)
{
    mem_free(b->map[0]);
    mem_free(b->map[1]);
    b->map[0] = b->map[1] = NULL;
    b->mapcap = 0;
}

/* Add term[0..len) of field f (0 text, 1 title) for token t. */
static int add_term(build_ctx *b, int f, const char *term, size_t len,
                    const an_token *t)
{
    if (t->key == AN_NO_KEY)
        return inv_add(b->inv, term, len, t->pos, NULL);
    if (b->map_epoch != analyzer_epoch(b->an) ||
        b->map_runs != inv_runs(b->inv)) {
        for (int i = 0; i < 2 && b->map[i]; i++)
            memset(b->map[i], 0, b->mapcap * sizeof *b->map[i]);
        b->map_epoch = analyzer_epoch(b->an);
        b->map_runs = inv_runs(b->inv);
    }
    if (t->key >= b->mapcap) {
        size_t cap = b->mapcap ? b->mapcap * 2 : 4096;
        while (cap <= t->key)
            cap *= 2;
        for (int i = 0; i < 2; i++) {
            uint32_t *m = mem_realloc(b->map[i], cap * sizeof *m);
            if (!m)
                return err_set(AS_ERR_NOMEM, "out of memory while indexing");
            memset(m + b->mapcap, 0, (cap - b->mapcap) * sizeof *m);
            b->map[i] = m;
        }
        b->mapcap = cap;
    }
    uint32_t v = b->map[f][t->key];
    if (v)
        return inv_add_term(b->inv, v - 1, t->pos);
    uint32_t runs = inv_runs(b->inv), idx;
    int rc = inv_add(b->inv, term, len, t->pos, &idx);
    /* A spill inside inv_add (one huge document) renumbers the terms. */
    if (rc == AS_OK && inv_runs(b->inv) == runs)
        b->map[f][t->key] = idx + 1;
    return rc;
}

static int on_token(void *ctx, const an_token *t)
{
    return add_term(ctx, 0, t->term, t->len, t);
}

/* A title word is a term of the text field and of the title field. */
static int on_title_token(void *ctx, const an_token *t)
{
    build_ctx *b = ctx;
    int rc = add_term(b, 0, t->term, t->len, t);
    if (rc)
        return rc;
    char term[AN_MAX_TERM + 1];
    term[0] = SEG_TITLE_MARK;
    memcpy(term + 1, t->term, t->len);
    return add_term(b, 1, term, t->len + 1, t);
}

static int on_doc(void *ctx, const corpus_doc *d)
{
    build_ctx *b = ctx;
    if (b->next_doc >= UINT32_MAX - 1)
        return err_set(AS_ERR_USAGE, "more than %u documents", UINT32_MAX - 2);
    uint32_t pos = 0;
    int rc = analyzer_run(b->an, d->title, d->title_len, &pos,
                          on_title_token, b);
    uint32_t title_pos = pos;
    if (rc == AS_OK)
        rc = analyzer_run(b->an, d->body, d->body_len, &pos, on_token, b);
    if (rc == AS_OK)
        rc = inv_end_doc(b->inv, b->next_doc);
    if (rc == AS_OK)
        rc = seg_writer_doc(b->sw, b->next_doc, d->id, d->id_len, d->title,
                            d->title_len, d->body, d->body_len, pos,
                            title_pos);
    if (rc == AS_ERR_NOMEM)
        return err_set(rc, "out of memory while indexing %.*s",
                       (int)d->id_len, d->id);
    if (rc)
        return rc;
    b->next_doc++;
    b->tokens += pos;
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
    build_ctx b;
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
    inv_free(bd->b.inv);        /* removes the run files */
    map_free(&bd->b);
    seg_writer_free(bd->b.sw);
    analyzer_free(bd->b.an);
    if (bd->tmpdir[0])
        remove_flat_dir(bd->tmpdir);
    if (bd->lockfd >= 0)
        close(bd->lockfd);
    for (int i = 0; i < 3; i++)
        buf_free(&bd->fix[i]);
    mem_free(bd);
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
    rc = analyzer_new(opts->language, opts->stopwords, &bd->b.an);
    if (rc == AS_OK)
        rc = inv_new(opts->memory ? opts->memory : DEFAULT_MEMORY,
                     bd->tmpdir, &bd->b.inv);
    if (rc == AS_OK)
        rc = seg_writer_new(bd->tmpdir, &bd->b.sw);
    if (rc) {
        as_builder_free(bd);
        return rc;
    }
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
    int rc = on_doc(&bd->b, &d);
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
    build_ctx *b = &bd->b;
    if (b->next_doc == 0)
        rc = err_set(AS_ERR_NOTFOUND, "no documents were added; the index "
                     "was not changed");
    as_index m;
    memset(&m, 0, sizeof m);
    if (rc == AS_OK) {
        seg_writer_set_avgdl(b->sw, (double)b->tokens / b->next_doc);
        inv_sink sink = seg_writer_sink(b->sw);
        rc = inv_finish(b->inv, &sink);
        rp->runs = inv_runs(b->inv);
    }
    if (rc == AS_OK)
        rc = seg_writer_finish(b->sw, m.files, &m.terms, &m.postings);
    inv_free(b->inv);           /* removes the run files */
    b->inv = NULL;
    seg_writer_free(b->sw);
    b->sw = NULL;

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
        m.docs = b->next_doc;
        m.tokens = b->tokens;
        m.text_bytes = rp->text_bytes;
        snprintf(m.language, sizeof m.language, "%s",
                 analyzer_language(b->an));
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

/* ---- Reading on a second thread ----------------------------------------
 *
 * as_build reads the corpus (decompressing, parsing JSON, repairing UTF-8)
 * on a thread of its own while the calling thread analyzes and inverts.
 * The reader copies documents into batches of about PIPE_BATCH bytes in a
 * ring of PIPE_SLOTS; the caller takes them in order.  Warnings and
 * progress go through the batches too, so the caller's callbacks run on
 * the calling thread, in order with the documents.  A document over
 * PIPE_LEND bytes is not copied but lent: the reader waits until it has
 * been indexed, so memory stays bounded by one copy of it. */

#define PIPE_SLOTS 4
#define PIPE_BATCH ((size_t)1 << 20)
#define PIPE_LEND ((size_t)4 << 20)

enum { REC_DOC = 1, REC_WARN, REC_PROGRESS };

typedef struct {
    buf data;               /* records: a type byte, then its fields */
    const corpus_doc *lent; /* after the records, a lent document */
} batch;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* any change of the fields below */
    batch slot[PIPE_SLOTS];
    size_t head, count;     /* the filled batches, oldest first */
    int filling;            /* the reader holds slot (head + count) */
    int done;               /* the reader has finished */
    int stop;               /* the caller failed: the reader stops */
    int lent_done;
    int rc;                 /* the reader's result, and its message */
    char msg[1024];
    /* the reader's arguments */
    const char *path;
    corpus_opts co;
    as_build_report *rep;
} pipe_t;

/* The reader: take the next free slot (0) or learn that the caller
 * stopped (nonzero).  Called with the lock held. */
static int pipe_take(pipe_t *p)
{
    while (p->count == PIPE_SLOTS && !p->stop)
        pthread_cond_wait(&p->cv, &p->mu);
    if (p->stop)
        return 1;
    p->filling = 1;
    buf_clear(&p->slot[(p->head + p->count) % PIPE_SLOTS].data);
    p->slot[(p->head + p->count) % PIPE_SLOTS].lent = NULL;
    return 0;
}

/* The reader: hand the slot being filled to the caller. */
static void pipe_publish(pipe_t *p)
{
    pthread_mutex_lock(&p->mu);
    if (p->filling) {
        p->filling = 0;
        p->count++;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

/* The reader: the slot to append to, taking one if needed; NULL when the
 * caller stopped. */
static batch *pipe_fill(pipe_t *p)
{
    pthread_mutex_lock(&p->mu);
    int stopped = p->filling ? p->stop : pipe_take(p);
    batch *b = stopped ? NULL : &p->slot[(p->head + p->count) % PIPE_SLOTS];
    pthread_mutex_unlock(&p->mu);
    return b;
}

static void put_size(buf *b, size_t n)
{
    buf_append(b, &n, sizeof n);
}

/* Room for a whole record first, so a failed allocation never leaves half
 * a record in a batch. */
static int room(buf *b, size_t n)
{
    if (buf_reserve(b, n) == 0)
        return 1;
    b->err = 0;         /* nothing was appended: the batch stays whole */
    return 0;
}

static int pipe_doc(void *ctx, const corpus_doc *d)
{
    pipe_t *p = ctx;
    batch *b = pipe_fill(p);
    if (!b)
        return AS_ERR_INTERNAL;         /* ignored: the caller's rc wins */
    if (d->body_len > PIPE_LEND) {
        if (b->data.len > 0) {
            pipe_publish(p);
            if (!(b = pipe_fill(p)))
                return AS_ERR_INTERNAL;
        }
        b->lent = d;
        pthread_mutex_lock(&p->mu);
        p->lent_done = 0;
        pthread_mutex_unlock(&p->mu);
        pipe_publish(p);
        pthread_mutex_lock(&p->mu);
        while (!p->lent_done && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        return stop ? AS_ERR_INTERNAL : AS_OK;
    }
    if (!room(&b->data, 1 + 3 * sizeof(size_t) + d->id_len + d->title_len +
                            d->body_len))
        return err_set(AS_ERR_NOMEM, "out of memory while reading");
    buf_putc(&b->data, REC_DOC);
    put_size(&b->data, d->id_len);
    put_size(&b->data, d->title_len);
    put_size(&b->data, d->body_len);
    buf_append(&b->data, d->id, d->id_len);
    buf_append(&b->data, d->title, d->title_len);
    buf_append(&b->data, d->body, d->body_len);
    if (b->data.len >= PIPE_BATCH)
        pipe_publish(p);
    return AS_OK;
}

static void pipe_warn(void *ctx, const char *msg)
{
    pipe_t *p = ctx;
    batch *b = pipe_fill(p);
    if (!b)
        return;
    size_t n = strlen(msg);
    /* Out of memory: the warning is lost, the build goes on (warnings
     * are dropped the same way without a callback). */
    if (!room(&b->data, 1 + sizeof n + n))
        return;
    buf_putc(&b->data, REC_WARN);
    put_size(&b->data, n);
    buf_append(&b->data, msg, n);
}

static void pipe_progress(void *ctx, const as_progress *pr)
{
    pipe_t *p = ctx;
    batch *b = pipe_fill(p);
    if (!b)
        return;
    if (!room(&b->data, 1 + sizeof *pr))
        return;
    buf_putc(&b->data, REC_PROGRESS);
    buf_append(&b->data, pr, sizeof *pr);
}

static void *pipe_reader(void *arg)
{
    pipe_t *p = arg;
    int rc = corpus_read(p->path, &p->co, pipe_doc, p, p->rep);
    pipe_publish(p);
    pthread_mutex_lock(&p->mu);
    p->rc = rc;
    if (rc)
        snprintf(p->msg, sizeof p->msg, "%s", as_errmsg());
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static size_t get_size(cur *c)
{
    size_t n = 0;
    const unsigned char *q = cur_bytes(c, sizeof n);
    if (q)
        memcpy(&n, q, sizeof n);
    return n;
}

/* The caller: index one batch's records. */
static int pipe_run_batch(as_builder *bd, const as_build_opts *opts,
                          const batch *b)
{
    cur c;
    cur_init(&c, b->data.p, b->data.len);
    int rc = AS_OK;
    while (rc == AS_OK && cur_left(&c) > 0) {
        const unsigned char *t = cur_bytes(&c, 1);
        if (!t)
            break;              /* cannot happen: cur_left() > 0 */
        if (*t == REC_DOC) {
            corpus_doc d;
            d.id_len = get_size(&c);
            d.title_len = get_size(&c);
            d.body_len = get_size(&c);
            d.id = (const char *)cur_bytes(&c, d.id_len);
            d.title = (const char *)cur_bytes(&c, d.title_len);
            d.body = (const char *)cur_bytes(&c, d.body_len);
            rc = c.bad ? err_set(AS_ERR_INTERNAL, "a reading batch is "
                                 "damaged") : on_doc(&bd->b, &d);
        } else if (*t == REC_WARN) {
            size_t n = get_size(&c);
            const char *m = (const char *)cur_bytes(&c, n);
            if (opts->warn && m) {
                char *z = mem_strndup(m, n);
                if (z)
                    opts->warn(opts->ctx, z);
                mem_free(z);
            }
        } else {
            as_progress pr;
            const unsigned char *q = cur_bytes(&c, sizeof pr);
            if (q && opts->progress) {
                memcpy(&pr, q, sizeof pr);
                opts->progress(opts->ctx, &pr);
            }
        }
    }
    if (rc == AS_OK && b->lent)
        rc = on_doc(&bd->b, b->lent);
    return rc;
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
    for (int i = 0; i < PIPE_SLOTS; i++)
        buf_init(&p->slot[i].data);
    pthread_t th;
    int threaded = pthread_mutex_init(&p->mu, NULL) == 0;
    if (threaded && pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        threaded = 0;
    }
    if (threaded && pthread_create(&th, NULL, pipe_reader, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        threaded = 0;
    }
    if (!threaded) {
        mem_free(p);
        return corpus_read(path, co, on_doc, &bd->b, &bd->rep);
    }
    int rc = AS_OK;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->count == 0 && !p->done)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->count == 0) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        const batch *b = &p->slot[p->head];
        pthread_mutex_unlock(&p->mu);
        rc = pipe_run_batch(bd, opts, b);
        pthread_mutex_lock(&p->mu);
        if (b->lent)
            p->lent_done = 1;
        p->head = (p->head + 1) % PIPE_SLOTS;
        p->count--;
        if (rc)
            p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (rc)
            break;
    }
    pthread_join(th, NULL);
    if (rc == AS_OK && p->rc)
        rc = err_set(p->rc, "%s", p->msg);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    for (int i = 0; i < PIPE_SLOTS; i++)
        buf_free(&p->slot[i].data);
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
    if (rc == AS_OK && bd->b.next_doc == 0)
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
