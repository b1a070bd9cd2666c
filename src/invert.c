/* invert.c - in-memory inversion, spilling sorted runs, k-way merge. */
#include "invert.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "codec.h"
#include "err.h"
#include "hash.h"
#include "mem.h"

/* A chunk of a term's postings chain: next pointer, then data bytes
 * (used of size: whole records). */
typedef struct chunk chunk;
struct chunk {
    chunk *next;
    uint32_t size, used;
    unsigned char data[];
};

typedef struct {
    const char *term;
    uint32_t len;
    uint32_t df;
    uint64_t cf;
    uint32_t last_doc;      /* UINT32_MAX before the first posting */
    chunk *head, *tail;
    /* The current document. */
    uint32_t cur_tf;
    uint32_t first_tok, last_tok;
    uint32_t cur_doc_mark;  /* doc counter when last touched */
} term_ent;

/* Samples of the terms, for cutting the merge in two (inv_finish): the
 * terms of each run, in byte order, are taken in groups of SAMPLE_EVERY,
 * and a group's weight (2 df + cf + 16 a term, about its postings' bytes)
 * is given half to its first term and half to its last (all of it to the
 * first favoured the first terms when there were many short runs). */
#define SAMPLE_EVERY 256

typedef struct {
    const char *term;
    size_t len;
    uint64_t weight;
} sample;

typedef struct {
    sample *v;
    size_t n, cap;
    sample first, last;     /* the group being taken */
    size_t in_group;
} samples;

static uint64_t term_weight(const term_ent *e)
{
    return 2 * (uint64_t)e->df + e->cf + 16;
}

struct inverter {
    size_t budget;
    char *tmpdir;
    arena mem;
    term_ent *terms;
    size_t nterms, capterms;
    uint32_t *table;        /* open addressing: term index + 1, 0 empty */
    size_t tcap;
    /* Tokens of the current document. */
    uint32_t *tok_term, *tok_pos, *tok_next;
    size_t ntok, captok;
    uint32_t *touched;
    size_t ntouched, captouched;
    uint32_t doc_mark;      /* increments per document */
    uint32_t next_doc;      /* id of the current document */
    uint32_t runs;
    /* A document too big for the budget is spilled in parts: split[i] is
     * the id of the document that run i ends in the middle of (its
     * postings continue in run i + 1), UINT32_MAX if none. */
    uint32_t *split;
    size_t capsplit;
    /* Samples of the runs spilled so far; their terms are in sample_mem. */
    samples spilled;
    arena sample_mem;
};

/* Close the group being taken: its first and last terms become samples,
 * their bytes copied into mem when it is not NULL. */
static int samples_close(samples *s, arena *mem)
{
    if (s->in_group == 0)
        return AS_OK;
    s->in_group = 0;
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        sample *v = mem_realloc(s->v, cap * sizeof *v);
        if (!v)
            return AS_ERR_NOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->last.weight = s->first.weight / 2;
    s->first.weight -= s->last.weight;
    sample *g[2] = {&s->first, &s->last};
    for (int i = 0; i < 2; i++) {
        if (mem) {
            char *copy = arena_alloc(mem, g[i]->len ? g[i]->len : 1);
            if (!copy)
                return AS_ERR_NOMEM;
            memcpy(copy, g[i]->term, g[i]->len);
            g[i]->term = copy;
        }
        s->v[s->n++] = *g[i];
    }
    return AS_OK;
}

/* Take the next term of a run (terms come in byte order). */
static int samples_add(samples *s, const term_ent *e, arena *mem)
{
    if (s->in_group++ == 0)
        s->first = (sample){e->term, e->len, 0};
    s->last = (sample){e->term, e->len, 0};
    s->first.weight += term_weight(e);
    return s->in_group == SAMPLE_EVERY ? samples_close(s, mem) : AS_OK;
}

int inv_new(size_t budget, const char *tmpdir, inverter **out)
{
    inverter *inv = mem_calloc(1, sizeof *inv);
    if (!inv)
        return err_set(AS_ERR_NOMEM, "out of memory");
    inv->budget = budget;
    inv->tmpdir = mem_strndup(tmpdir, strlen(tmpdir));
    inv->tcap = 1 << 16;
    inv->table = mem_calloc(inv->tcap, sizeof *inv->table);
    arena_init(&inv->mem);
    arena_init(&inv->sample_mem);
    inv->doc_mark = 1;
    if (!inv->tmpdir || !inv->table) {
        inv_free(inv);
        return err_set(AS_ERR_NOMEM, "out of memory");
    }
    *out = inv;
    return AS_OK;
}

static void run_path(const inverter *inv, uint32_t i, char *out, size_t n)
{
    snprintf(out, n, "%s/run-%04u", inv->tmpdir, i);
}

void inv_free(inverter *inv)
{
    if (!inv)
        return;
    for (uint32_t i = 0; i < inv->runs; i++) {
        char p[4096];
        run_path(inv, i, p, sizeof p);
        unlink(p);
    }
    arena_reset(&inv->mem);
    mem_free(inv->terms);
    mem_free(inv->table);
    mem_free(inv->tok_term);
    mem_free(inv->tok_pos);
    mem_free(inv->tok_next);
    mem_free(inv->touched);
    mem_free(inv->split);
    mem_free(inv->spilled.v);
    arena_reset(&inv->sample_mem);
    mem_free(inv->tmpdir);
    mem_free(inv);
}

uint32_t inv_runs(const inverter *inv)
{
    return inv->runs;
}

static size_t memory_used(const inverter *inv)
{
    return inv->mem.used + inv->capterms * sizeof(term_ent) +
           inv->tcap * sizeof(uint32_t) + inv->captok * 3 * sizeof(uint32_t) +
           inv->captouched * sizeof(uint32_t);
}

static int table_grow(inverter *inv)
{
    size_t cap = inv->tcap * 2;
    uint32_t *t = mem_calloc_touched(cap, sizeof *t);
    if (!t)
        return AS_ERR_NOMEM;
    for (size_t i = 0; i < inv->nterms; i++) {
        const term_ent *e = &inv->terms[i];
        size_t j = hash_bytes(e->term, e->len) & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = (uint32_t)i + 1;
    }
    mem_free(inv->table);
    inv->table = t;
    inv->tcap = cap;
    return AS_OK;
}

static int find_term(inverter *inv, const char *term, size_t len,
                     uint32_t *idx)
{
    size_t mask = inv->tcap - 1;
    size_t j = hash_bytes(term, len) & mask;
    while (inv->table[j]) {
        term_ent *e = &inv->terms[inv->table[j] - 1];
        if (e->len == len && memcmp(e->term, term, len) == 0) {
            *idx = inv->table[j] - 1;
            return AS_OK;
        }
        j = (j + 1) & mask;
    }
    if (inv->nterms == inv->capterms) {
        size_t cap = inv->capterms ? inv->capterms * 2 : 4096;
        term_ent *t = mem_realloc_huge(inv->terms,
                                       inv->capterms * sizeof *t,
                                       cap * sizeof *t);
        if (!t)
            return AS_ERR_NOMEM;
        inv->terms = t;
        inv->capterms = cap;
    }
    char *copy = arena_alloc(&inv->mem, len);
    if (!copy)
        return AS_ERR_NOMEM;
    memcpy(copy, term, len);
    term_ent *e = &inv->terms[inv->nterms];
    memset(e, 0, sizeof *e);
    e->term = copy;
    e->len = (uint32_t)len;
    e->last_doc = UINT32_MAX;
    inv->table[j] = (uint32_t)++inv->nterms;
    *idx = (uint32_t)inv->nterms - 1;
    if (inv->nterms * 2 > inv->tcap)
        return table_grow(inv);
    return AS_OK;
}

#define GROW(arr, cap, need)                                              \
    do {                                                                  \
        if ((need) > (cap)) {                                             \
            size_t c_ = (cap) ? (cap) * 2 : 1024;                         \
            while (c_ < (need))                                           \
                c_ *= 2;                                                  \
            void *p_ = mem_realloc((arr), c_ * sizeof *(arr));            \
            if (!p_)                                                      \
                return AS_ERR_NOMEM;                                      \
            (arr) = p_;                                                   \
            (cap) = c_;                                                   \
        }                                                                 \
    } while (0)

static int flush_doc(inverter *inv, uint32_t doc_id);
static int spill(inverter *inv, uint32_t split_doc);

int inv_add(inverter *inv, const char *term, size_t len, uint32_t pos,
            uint32_t *idxp)
{
    uint32_t idx;
    if (find_term(inv, term, len, &idx))
        return err_set(AS_ERR_NOMEM, "out of memory while indexing");
    if (idxp)
        *idxp = idx;
    return inv_add_term(inv, idx, pos);
}

int inv_add_term(inverter *inv, uint32_t idx, uint32_t pos)
{
    size_t need = inv->ntok + 1;
    if (need > inv->captok) {
        size_t cap = inv->captok;
        GROW(inv->tok_term, cap, need);
        cap = inv->captok;
        GROW(inv->tok_pos, cap, need);
        cap = inv->captok;
        GROW(inv->tok_next, cap, need);
        inv->captok = cap;
    }
    uint32_t t = (uint32_t)inv->ntok++;
    inv->tok_term[t] = idx;
    inv->tok_pos[t] = pos;
    inv->tok_next[t] = UINT32_MAX;
    term_ent *e = &inv->terms[idx];
    if (e->cur_doc_mark != inv->doc_mark) {
        e->cur_doc_mark = inv->doc_mark;
        e->cur_tf = 1;
        e->first_tok = e->last_tok = t;
        GROW(inv->touched, inv->captouched, inv->ntouched + 1);
        inv->touched[inv->ntouched++] = idx;
    } else {
        e->cur_tf++;
        inv->tok_next[e->last_tok] = t;
        e->last_tok = t;
    }
    /* A document bigger than the budget alone: spill what it has so far
     * and go on with the rest in the next run (checked every 64Ki tokens,
     * so ordinary documents never pay for it). */
    if ((inv->ntok & 0xffff) == 0 && memory_used(inv) > inv->budget) {
        int rc = flush_doc(inv, inv->next_doc);
        if (rc == AS_OK)
            rc = spill(inv, inv->next_doc);
        return rc;
    }
    return AS_OK;
}

int inv_add_terms(inverter *inv, const uint32_t *idx1, const uint32_t *pos,
                  size_t n, size_t *done)
{
    for (size_t i = 0; i < n; i++)
        if (idx1[i])
            __builtin_prefetch(&inv->terms[idx1[i] - 1]);
    uint32_t runs = inv->runs;
    size_t i = 0;
    int rc = AS_OK;
    while (i < n && idx1[i] && inv->runs == runs &&
           (rc = inv_add_term(inv, idx1[i] - 1, pos[i])) == AS_OK)
        i++;
    *done = i;
    return rc;
}

/* Room for a record of up to n bytes at the end of a term's chunk chain,
 * in one chunk (the merge reads records in place); NULL: out of memory.
 * The caller adds what it wrote to e->tail->used. */
static unsigned char *chain_room(inverter *inv, term_ent *e, size_t n)
{
    if (n > UINT32_MAX - sizeof(chunk))
        return NULL;
    if (!e->tail || e->tail->size - e->tail->used < n) {
        uint32_t size = e->tail ? e->tail->size * 2 : 16;
        if (size > 4096)
            size = 4096;
        if (size < n)
            size = (uint32_t)n;
        chunk *c = arena_alloc(&inv->mem, sizeof *c + size);
        if (!c)
            return NULL;
        c->next = NULL;
        c->size = size;
        c->used = 0;
        if (e->tail)
            e->tail->next = c;
        else
            e->head = c;
        e->tail = c;
    }
    return e->tail->data + e->tail->used;
}


/* Append the current document's postings so far (as doc_id) to the terms'
 * chains and forget its tokens. */
static int flush_doc(inverter *inv, uint32_t doc_id)
{
    /* The terms' entries and the chunks written to are all over memory:
     * fetch each entry twelve terms ahead, its tail chunk's header eight
     * ahead and the bytes written four ahead (waiting on them was a third
     * of a build's inverting time). */
    const uint32_t *tt = inv->touched;
    size_t nt = inv->ntouched;
    for (size_t k = 0; k < nt && k < 12; k++)
        __builtin_prefetch(&inv->terms[tt[k]]);
    for (size_t k = 0; k < nt; k++) {
        if (k + 12 < nt)
            __builtin_prefetch(&inv->terms[tt[k + 12]]);
        if (k + 8 < nt)
            __builtin_prefetch(inv->terms[tt[k + 8]].tail);
        if (k + 4 < nt) {
            const chunk *c = inv->terms[tt[k + 4]].tail;
            if (c)
                __builtin_prefetch(c->data + c->used, 1);
        }
        term_ent *e = &inv->terms[tt[k]];
        /* Three varints under 2^32 and tf of them: at most 5 bytes each. */
        unsigned char *o = chain_room(inv, e, 5 * ((size_t)e->cur_tf + 2));
        if (!o)
            return err_set(AS_ERR_NOMEM, "out of memory while indexing");
        unsigned char *start = o;
        o += codec_varint_encode(o, (uint32_t)(doc_id - e->last_doc));
        o += codec_varint_encode(o, e->cur_tf);
        uint32_t prev = 0;
        for (uint32_t t = e->first_tok; t != UINT32_MAX; t = inv->tok_next[t]) {
            o += codec_varint_encode(o, inv->tok_pos[t] - prev);
            prev = inv->tok_pos[t];
        }
        e->tail->used += (uint32_t)(o - start);
        e->last_doc = doc_id;
        e->df++;
        e->cf += e->cur_tf;
    }
    inv->ntouched = 0;
    inv->ntok = 0;
    inv->doc_mark++;
    return AS_OK;
}

/* Record that the run about to be spilled ends inside document doc (or
 * not: UINT32_MAX). */
static int note_split(inverter *inv, uint32_t doc)
{
    if (inv->runs >= inv->capsplit) {
        size_t cap = inv->capsplit;
        GROW(inv->split, cap, (size_t)inv->runs + 1);
        inv->capsplit = cap;
    }
    inv->split[inv->runs] = doc;
    return AS_OK;
}

int inv_end_doc(inverter *inv, uint32_t doc_id)
{
    int rc = flush_doc(inv, doc_id);
    if (rc)
        return rc;
    inv->next_doc = doc_id + 1;
    if (memory_used(inv) > inv->budget)
        return spill(inv, UINT32_MAX);
    return AS_OK;
}

/* Sorting the terms: each with its first 8 bytes as a big-endian number
 * (zero-padded), which orders them as the bytes do, so most comparisons
 * neither call memcmp nor read the terms (scattered over the arena);
 * equal prefixes fall back to the whole terms.  Comparing the terms
 * themselves was a sixth of the final merge's time, before its two
 * threads start. */
typedef struct {
    uint64_t prefix;
    uint32_t idx;
} sort_key;

static int sort_cmp(const void *x, const void *y, void *ctx)
{
    const sort_key *p = x, *q = y;
    if (p->prefix != q->prefix)
        return p->prefix < q->prefix ? -1 : 1;
    const inverter *inv = ctx;
    const term_ent *a = &inv->terms[p->idx], *b = &inv->terms[q->idx];
    return bytes_cmp(a->term, a->len, b->term, b->len);
}

static int prefix_cmp(const void *x, const void *y)
{
    const sort_key *p = x, *q = y;
    return p->prefix < q->prefix ? -1 : p->prefix > q->prefix;
}

/* Sort k[0..n) by prefix with a least-significant-byte-first radix sort
 * (tmp: room for n more); returns the array holding the result.  A byte
 * that is the same in every key is skipped.  The wiki passages' 441,627
 * terms took 150 ms to sort with qsort_r alone (comparisons through a
 * function pointer), 50 ms this way, while the merge threads wait. */
static sort_key *radix_sort(sort_key *k, sort_key *tmp, size_t n)
{
    size_t (*count)[256] = mem_calloc(8, sizeof *count);
    if (!count) {       /* out of memory: a comparison sort */
        qsort(k, n, sizeof *k, prefix_cmp);
        return k;
    }
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++)
            count[b][(k[i].prefix >> (8 * b)) & 255]++;
    for (int b = 0; b < 8; b++) {
        size_t *c = count[b];
        if (n == 0 || c[(k[0].prefix >> (8 * b)) & 255] == n)
            continue;
        size_t sum = 0;
        for (int v = 0; v < 256; v++) {
            size_t m = c[v];
            c[v] = sum;
            sum += m;
        }
        for (size_t i = 0; i < n; i++)
            tmp[c[(k[i].prefix >> (8 * b)) & 255]++] = k[i];
        sort_key *t = k;
        k = tmp;
        tmp = t;
    }
    mem_free(count);
    return k;
}

/* The in-memory terms' numbers in byte order of the terms (NULL: out of
 * memory). */
static uint32_t *sorted_terms(inverter *inv)
{
    size_t n = inv->nterms;
    uint32_t *order = mem_alloc_huge((n ? n : 1) * sizeof *order);
    sort_key *k = mem_alloc_huge((n ? n : 1) * 2 * sizeof *k);
    if (!order || !k) {
        mem_free(order);
        mem_free(k);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const term_ent *e = &inv->terms[i];
        k[i] = (sort_key){bytes_prefix64(e->term, e->len), (uint32_t)i};
    }
    sort_key *r = radix_sort(k, k + n, n);
    /* Terms sharing their first 8 bytes, by their whole bytes. */
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && r[j].prefix == r[i].prefix; j++)
            ;
        if (j - i > 1)
            qsort_r(r + i, j - i, sizeof *r, sort_cmp, inv);
    }
    for (size_t i = 0; i < n; i++)
        order[i] = r[i].idx;
    mem_free(k);
    return order;
}

/* Write the in-memory terms, sorted, as the next run file; reset memory.
 * split_doc: the document the run ends inside, or UINT32_MAX. */
static int spill(inverter *inv, uint32_t split_doc)
{
    if (inv->nterms == 0)
        return AS_OK;
    if (note_split(inv, split_doc))
        return err_set(AS_ERR_NOMEM, "out of memory while indexing");
    uint32_t *order = sorted_terms(inv);
    if (!order)
        return err_set(AS_ERR_NOMEM, "out of memory while indexing");

    char path[4096];
    run_path(inv, inv->runs, path, sizeof path);
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        mem_free(order);
        return err_set(AS_ERR_IO, "%s: %s", path, strerror(errno));
    }
    setvbuf(fp, NULL, _IOFBF, 1 << 20);
    buf hdr;
    buf_init(&hdr);
    int rc = AS_OK, werr = 0;
    for (size_t i = 0; i < inv->nterms && rc == AS_OK; i++) {
        term_ent *e = &inv->terms[order[i]];
        uint64_t dlen = 0;
        for (chunk *c = e->head; c; c = c->next)
            dlen += c->used;
        buf_clear(&hdr);
        codec_put_varint(&hdr, e->len);
        buf_append(&hdr, e->term, e->len);
        codec_put_varint(&hdr, e->df);
        codec_put_varint(&hdr, e->cf);
        codec_put_varint(&hdr, dlen);
        if (hdr.err) {
            rc = AS_ERR_NOMEM;
            break;
        }
        if (samples_add(&inv->spilled, e, &inv->sample_mem)) {
            rc = AS_ERR_NOMEM;
            break;
        }
        if (fwrite(hdr.p, 1, hdr.len, fp) != hdr.len && !werr)
            werr = errno;
        for (chunk *c = e->head; c; c = c->next) {
            if (fwrite(c->data, 1, c->used, fp) != c->used && !werr)
                werr = errno;
        }
    }
    if (rc == AS_OK && samples_close(&inv->spilled, &inv->sample_mem))
        rc = AS_ERR_NOMEM;
    buf_free(&hdr);
    mem_free(order);
    /* The first failed write's errno (ENOSPC, EFBIG) names the cause. */
    if ((fflush(fp) != 0 || ferror(fp)) && !werr)
        werr = errno ? errno : EIO;
    if (werr && rc == AS_OK)
        rc = err_set(AS_ERR_IO, "%s: %s", path, strerror(werr));
    fclose(fp);
    if (rc == AS_ERR_NOMEM)
        rc = err_set(rc, "out of memory while writing %s", path);
    inv->runs++;
    if (rc)
        return rc;
    /* Start afresh. */
    arena_reset(&inv->mem);
    inv->nterms = 0;
    memset(inv->table, 0, inv->tcap * sizeof *inv->table);
    return AS_OK;
}

/* ---- Merging runs ------------------------------------------------------- */

/* A run being merged: a run file, or (mem set) the terms still in memory,
 * which inv_finish merges from there instead of writing them out and
 * reading them back (for most builds, the only run). */
typedef struct {
    cur c;
    const inverter *mem;
    const uint32_t *order;  /* mem's terms in byte order */
    size_t next, end;       /* the next of order, and the end of the part */
    const chunk *chunks;    /* mem: the current term's chunks */
    const char *term;       /* current term, or NULL at the end */
    size_t len;
    uint64_t df, cf, dlen;
    const unsigned char *data;
} run_reader;

static int mem_next(run_reader *r)
{
    const inverter *inv = r->mem;
    if (r->next == r->end) {
        r->term = NULL;
        return AS_OK;
    }
    /* The terms come in byte order, from all over memory: fetch the entry
     * eight terms ahead, and the bytes and first chunk four ahead. */
    if (r->next + 8 < r->end)
        __builtin_prefetch(&inv->terms[r->order[r->next + 8]]);
    if (r->next + 4 < r->end) {
        const term_ent *a = &inv->terms[r->order[r->next + 4]];
        __builtin_prefetch(a->term);
        __builtin_prefetch(a->head);
    }
    const term_ent *e = &inv->terms[r->order[r->next++]];
    r->term = e->term;
    r->len = e->len;
    r->df = e->df;
    r->cf = e->cf;
    r->chunks = e->head;
    return AS_OK;
}

static int run_next(run_reader *r)
{
    if (r->mem)
        return mem_next(r);
    if (cur_left(&r->c) == 0) {
        r->term = NULL;
        return AS_OK;
    }
    r->len = (size_t)cur_varint(&r->c);
    r->term = (const char *)cur_bytes(&r->c, r->len);
    r->df = cur_varint(&r->c);
    r->cf = cur_varint(&r->c);
    r->dlen = cur_varint(&r->c);
    r->data = cur_bytes(&r->c, (size_t)r->dlen);
    if (r->c.bad)
        return err_set(AS_ERR_INTERNAL, "a run file of this build is damaged");
    return AS_OK;
}

/* A document's positions: one posting being decoded, or the part of a
 * posting held back because its document goes on in the next run. */
typedef struct {
    uint32_t doc, tf;       /* doc UINT32_MAX: none */
    uint32_t *pos;
    size_t cap;
} posting;

static int reserve_pos(posting *p, size_t n)
{
    if (n <= p->cap)
        return AS_OK;
    size_t nc = p->cap ? p->cap : 256;
    while (nc < n)
        nc *= 2;
    uint32_t *q = mem_realloc(p->pos, nc * sizeof *q);
    if (!q)
        return err_set(AS_ERR_NOMEM, "out of memory while merging");
    p->pos = q;
    p->cap = nc;
    return AS_OK;
}

static int emit(const inv_sink *sink, posting *p)
{
    int rc = sink->posting(sink->ctx, p->doc, p->tf, p->pos);
    p->doc = UINT32_MAX;
    return rc;
}

/* Where feed() is in one run's records of a term. */
typedef struct {
    uint32_t doc;           /* the last document decoded */
    uint64_t left;          /* records still to come */
    uint32_t split_doc;     /* the document the run ends inside (see
                               inverter.split), or UINT32_MAX */
} feed_state;

static int damaged(void)
{
    return err_set(AS_ERR_INTERNAL, "postings of this build damaged");
}

/* Pass whole records data[0..n) of a run on to the sink.  A posting of the
 * split document is held in carry and joined with its continuation in a
 * later run (with positions decoded); the others go on with their
 * positions as they are. */
static int feed(const unsigned char *data, size_t n, feed_state *fs,
                const inv_sink *sink, posting *p, posting *carry)
{
    cur c;
    cur_init(&c, data, n);
    while (cur_left(&c) > 0) {
        if (fs->left == 0)
            return damaged();
        uint32_t doc = fs->doc += cur_varint32(&c);
        uint32_t tf = cur_varint32(&c);
        if (c.bad)
            return damaged();
        int last = --fs->left == 0;
        int joined = carry->doc == doc;
        int rc = AS_OK;
        if (carry->doc != UINT32_MAX && !joined)
            rc = emit(sink, carry);     /* its document ended earlier */
        if (rc)
            return rc;
        if (!joined && !(last && doc == fs->split_doc)) {
            const unsigned char *start = c.p;
            for (uint32_t k = 0; k < tf; k++)
                (void)cur_varint(&c);
            if (c.bad)
                return damaged();
            rc = sink->posting_raw(sink->ctx, doc, tf, start,
                                   (size_t)(c.p - start));
            if (rc)
                return rc;
            continue;
        }
        posting *into = joined ? carry : p;
        uint32_t base = joined ? carry->tf : 0;
        if (reserve_pos(into, (size_t)base + tf))
            return AS_ERR_NOMEM;
        uint32_t prev = 0;
        for (uint32_t k = 0; k < tf; k++) {
            prev += cur_varint32(&c);
            into->pos[base + k] = prev;
        }
        if (c.bad)
            return damaged();
        into->doc = doc;
        into->tf = base + tf;
        if (last && doc == fs->split_doc) {
            if (!joined) {              /* hold it back */
                posting t = *carry;
                *carry = *p;
                *p = t;
            }
        } else {
            rc = emit(sink, into);
            if (rc)
                return rc;
        }
    }
    return AS_OK;
}

/* Feed run r's records of its current term. */
static int feed_run(const run_reader *r, uint32_t split_doc,
                    const inv_sink *sink, posting *p, posting *carry)
{
    feed_state fs = {UINT32_MAX, r->df, split_doc};
    int rc = AS_OK;
    if (r->mem) {
        for (const chunk *c = r->chunks; c && rc == AS_OK; c = c->next)
            rc = feed(c->data, c->used, &fs, sink, p, carry);
    } else {
        rc = feed(r->data, (size_t)r->dlen, &fs, sink, p, carry);
    }
    if (rc == AS_OK && fs.left != 0)
        return damaged();
    return rc;
}

/* A run file, mapped (NULL when empty). */
typedef struct {
    unsigned char *p;
    size_t size;
} run_map;

/* One part of the merge: the terms from lo (NULL: the first) up to hi
 * (excluded; NULL: to the last), which are order[mem_lo..mem_hi) of the
 * terms in memory. */
typedef struct {
    inverter *inv;
    const inv_sink *sink;
    const run_map *maps;    /* the run files, inv->runs of them */
    const uint32_t *order;
    size_t mem_lo, mem_hi;
    const char *lo, *hi;
    size_t lo_len, hi_len;
    _Atomic int *stop;      /* set when the other part failed */
    int rc;
    char msg[1024];         /* rc's message, from the part's thread */
} merge_part;

/* merge()'s result when it stopped for the other part's error. */
#define STOPPED (-1)

static int merge(merge_part *mp)
{
    inverter *inv = mp->inv;
    const inv_sink *sink = mp->sink;
    int rc = AS_OK;
    uint32_t files = inv->runs;
    /* The terms in memory are the last run. */
    uint32_t n = files + 1;
    run_reader *rr = mem_calloc(n, sizeof *rr);
    if (!rr)
        return err_set(AS_ERR_NOMEM, "out of memory while merging");
    rr[files].mem = inv;
    rr[files].order = mp->order;
    rr[files].next = mp->mem_lo;
    rr[files].end = mp->mem_hi;
    rc = run_next(&rr[files]);
    for (uint32_t i = 0; i < files && rc == AS_OK; i++) {
        cur_init(&rr[i].c, mp->maps[i].p, mp->maps[i].size);
        rc = run_next(&rr[i]);
        /* The part starts at lo: skip the run's earlier terms. */
        while (rc == AS_OK && mp->lo && rr[i].term &&
               bytes_cmp(rr[i].term, rr[i].len, mp->lo, mp->lo_len) < 0)
            rc = run_next(&rr[i]);
    }
    posting p = {UINT32_MAX, 0, NULL, 0}, carry = p;
    while (rc == AS_OK) {
        if (*mp->stop) {
            rc = STOPPED;
            break;
        }
        /* The smallest current term across the runs. */
        int min = -1;
        for (uint32_t i = 0; i < n; i++) {
            if (!rr[i].term)
                continue;
            if (min < 0 || bytes_cmp(rr[i].term, rr[i].len, rr[min].term,
                                    rr[min].len) < 0)
                min = (int)i;
        }
        if (min < 0)
            break;
        const char *term = rr[min].term;
        size_t len = rr[min].len;
        if (mp->hi && bytes_cmp(term, len, mp->hi, mp->hi_len) >= 0)
            break;
        if ((rc = sink->begin(sink->ctx, term, len)))
            break;
        /* Runs hold increasing doc ranges, so run order is doc order. */
        for (uint32_t i = 0; i < n && rc == AS_OK; i++) {
            if (!rr[i].term ||
                bytes_cmp(rr[i].term, rr[i].len, term, len) != 0)
                continue;
            rc = feed_run(&rr[i], inv->split[i], sink, &p, &carry);
            if (rc == AS_OK && (size_t)i != (size_t)min)
                rc = run_next(&rr[i]);
        }
        if (rc == AS_OK && carry.doc != UINT32_MAX)
            rc = emit(sink, &carry);
        if (rc == AS_OK)
            rc = sink->end(sink->ctx);
        if (rc == AS_OK)
            rc = run_next(&rr[min]);
    }
    mem_free(p.pos);
    mem_free(carry.pos);
    mem_free(rr);
    return rc;
}

static void *merge_main(void *arg)
{
    merge_part *mp = arg;
    mp->rc = merge(mp);
    if (mp->rc) {
        snprintf(mp->msg, sizeof mp->msg, "%s", as_errmsg());
        *mp->stop = 1;
    }
    return NULL;
}

static int sample_cmp(const void *x, const void *y)
{
    const sample *a = x, *b = y;
    return bytes_cmp(a->term, a->len, b->term, b->len);
}

/* Where the second part starts: a term at about half the weight of the
 * samples of the spilled runs (taken by spill) and of the terms in memory.
 * *lo is set to NULL when there is nothing to share (fewer than two
 * distinct samples). */
static int split_point(inverter *inv, const uint32_t *order,
                       const char **lo, size_t *lo_len)
{
    *lo = NULL;
    samples *s = &inv->spilled;     /* no more runs: the memory's join them */
    int rc = AS_OK;
    for (size_t i = 0; i < inv->nterms && rc == AS_OK; i++)
        rc = samples_add(s, &inv->terms[order[i]], NULL);
    if (rc == AS_OK)
        rc = samples_close(s, NULL);
    if (rc == AS_OK && s->n >= 2) {
        sample *v = s->v;
        size_t n = s->n;
        qsort(v, n, sizeof *v, sample_cmp);
        uint64_t total = 0, half = 0;
        for (size_t i = 0; i < n; i++)
            total += v[i].weight;
        /* v[k]: the sample that takes the running weight to half; the
         * second part starts at the next one, but never at the first
         * term (the first part would be empty). */
        size_t k = 0;
        while (k + 1 < n && 2 * (half + v[k].weight) < total)
            half += v[k++].weight;
        k++;
        while (k < n && bytes_cmp(v[k].term, v[k].len, v[0].term,
                                  v[0].len) == 0)
            k++;
        if (k < n) {
            *lo = v[k].term;
            *lo_len = v[k].len;
        }
    }
    return rc ? err_set(rc, "out of memory while merging") : AS_OK;
}

/* The first of order[0..n) not before term. */
static size_t lower_bound(const inverter *inv, const uint32_t *order,
                          size_t n, const char *term, size_t len)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        const term_ent *e = &inv->terms[order[m]];
        if (bytes_cmp(e->term, e->len, term, len) < 0)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

/* Map the run files into maps[0..inv->runs). */
static int map_runs(const inverter *inv, run_map *maps)
{
    for (uint32_t i = 0; i < inv->runs; i++) {
        char path[4096];
        run_path(inv, i, path, sizeof path);
        int fd = open(path, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            int rc = err_set(AS_ERR_IO, "%s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return rc;
        }
        maps[i].size = (size_t)st.st_size;
        if (maps[i].size > 0) {
            void *m = mmap(NULL, maps[i].size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (m == MAP_FAILED) {
                int rc = err_set(AS_ERR_IO, "%s: %s", path, strerror(errno));
                close(fd);
                maps[i].size = 0;
                return rc;
            }
            maps[i].p = m;
            madvise(m, maps[i].size, MADV_SEQUENTIAL);
        }
        close(fd);
    }
    return AS_OK;
}

int inv_finish(inverter *inv, const inv_sink *sink, const inv_sink *sink2)
{
    if (note_split(inv, UINT32_MAX))
        return err_set(AS_ERR_NOMEM, "out of memory while merging");
    uint32_t *order = sorted_terms(inv);
    run_map *maps = mem_calloc(inv->runs + 1, sizeof *maps);
    if (!order || !maps) {
        mem_free(order);
        mem_free(maps);
        return err_set(AS_ERR_NOMEM, "out of memory while merging");
    }
    int rc = map_runs(inv, maps);
    _Atomic int stop = 0;
    merge_part a = {inv, sink, maps, order, 0, inv->nterms, NULL, NULL, 0,
                    0, &stop, AS_OK, ""};
    merge_part b = a;
    if (rc == AS_OK && sink2)
        rc = split_point(inv, order, &b.lo, &b.lo_len);
    int split = b.lo != NULL;
    if (split) {
        a.hi = b.lo;
        a.hi_len = b.lo_len;
        a.mem_hi = b.mem_lo =
            lower_bound(inv, order, inv->nterms, b.lo, b.lo_len);
        b.sink = sink2;
    }
    pthread_t th;
    int threaded = 0;
    if (rc == AS_OK) {
        threaded = split && pthread_create(&th, NULL, merge_main, &b) == 0;
        rc = merge(&a);
        if (rc)
            stop = 1;
    }
    if (threaded)
        pthread_join(th, NULL);
    else if (split && rc == AS_OK)
        merge_main(&b);
    for (uint32_t i = 0; i < inv->runs; i++)
        if (maps[i].p)
            munmap(maps[i].p, maps[i].size);
    mem_free(maps);
    mem_free(order);
    if ((rc == AS_OK || rc == STOPPED) && b.rc)
        rc = err_set(b.rc, "%s", b.msg);
    return rc;
}
