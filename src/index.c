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
    pthread_mutex_destroy(&ix->an_lock);
    mem_free(ix);
}

int index_analyzer_get(as_index *ix, analyzer **out)
{
    pthread_mutex_lock(&ix->an_lock);
    *out = ix->an_spare;
    ix->an_spare = NULL;
    pthread_mutex_unlock(&ix->an_lock);
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
    pthread_mutex_lock(&ix->an_lock);
    if (!ix->an_spare) {
        ix->an_spare = an;
        an = NULL;
    }
    pthread_mutex_unlock(&ix->an_lock);
    analyzer_free(an);
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
} build_ctx;

static int on_token(void *ctx, const an_token *t)
{
    build_ctx *b = ctx;
    return inv_add(b->inv, t->term, t->len, t->pos);
}

/* A title word is a term of the text field and of the title field. */
static int on_title_token(void *ctx, const an_token *t)
{
    build_ctx *b = ctx;
    char term[AN_MAX_TERM + 1];
    term[0] = SEG_TITLE_MARK;
    memcpy(term + 1, t->term, t->len);
    int rc = inv_add(b->inv, t->term, t->len, t->pos);
    return rc ? rc : inv_add(b->inv, term, t->len + 1, t->pos);
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
    rc = corpus_read(corpus_path, &co, on_doc, &bd->b, &bd->rep);
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
