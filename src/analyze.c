/* analyze.c - tokenizing, folding and stemming (the rule is in analyze.h). */
#include "analyze.h"

#include <libstemmer.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"
#include "err.h"
#include "hash.h"
#include "mem.h"

/* ---- Stem cache: folded word -> stem, open addressing, arena backed. ---- */

/* A slot keeps the word's first 16 bytes, so that words of up to 16
 * bytes are matched without reading the cached word (a second cache
 * miss: a memcmp of the bytes past 8 was a tenth of the analysis of the
 * wiki passages when the slot kept 8), and no hash: a growing table
 * hashes the words again. */
typedef struct {
    const char *folded;     /* folded word, then its stem, in one arena block */
    uint64_t head, head2;   /* the word's bytes 0-7 and 8-15 (word_head) */
    uint32_t key;           /* an_token.key */
    uint16_t flen, slen;
} cache_slot;

#define CACHE_MAX_LOG2 20   /* at most 2^20 slots, cleared when 3/4 full */

typedef struct {
    cache_slot *slots;
    size_t cap, count;
    uint32_t epoch;         /* analyzer_epoch */
    arena mem;
} stem_cache;

/* The scanner queues words (folded, in a->fold) and hands them on
 * AN_QUEUE at a time: each word's stem cache slot is prefetched when it is
 * queued, so the misses on the table (megabytes for a big corpus) overlap
 * instead of following one another.  That halved the analysis of the wiki
 * passages. */
#define AN_QUEUE 32

typedef struct {
    uint32_t off, len;      /* the folded word: a->fold.p[off..off+len) */
    uint32_t pos, start, end;
    int stem;               /* through the stem cache (then hash is its
                               hash): 1 stemmed, 2 as it is (a number) */
    uint64_t hash;
} queued;

struct analyzer {
    char language[32];
    int stopwords;
    struct sb_stemmer *stemmer;    /* NULL for "none" */
    stem_cache cache;
    const unsigned char *stem_first; /* see analyzer_stem_filter */
    int no_stem;                    /* see analyzer_set_stemming */
    buf fold;                       /* the queued words, folded */
    buf joined;                     /* scratch: a hyphen compound glued */
    queued q[AN_QUEUE];             /* words scanned, not yet handed on */
    int nq;
};

static const char *const english_stopwords[] = {
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if",
    "in", "into", "is", "it", "no", "not", "of", "on", "or", "such", "that",
    "the", "their", "then", "there", "these", "they", "this", "to", "was",
    "will", "with", NULL,
};

static int is_stopword(const char *w, size_t n)
{
    for (int i = 0; english_stopwords[i]; i++)
        if (strlen(english_stopwords[i]) == n &&
            memcmp(english_stopwords[i], w, n) == 0)
            return 1;
    return 0;
}

const char *analyzer_languages(void)
{
    static char list[1024];
    if (!list[0]) {
        size_t off = 0;
        for (const char **l = sb_stemmer_list(); *l; l++) {
            int n = snprintf(list + off, sizeof list - off, "%s%s",
                             off ? ", " : "", *l);
            if (n < 0 || (size_t)n >= sizeof list - off)
                break;
            off += (size_t)n;
        }
    }
    return list;
}

int analyzer_new(const char *language, int stopwords, analyzer **out)
{
    *out = NULL;
    if (!language)
        language = "english";
    if (strlen(language) >= 32)
        return err_set(AS_ERR_LANG, "unknown stemming language '%.40s'",
                       language);
    analyzer *a = mem_calloc(1, sizeof *a);
    if (!a)
        return err_set(AS_ERR_NOMEM, "out of memory");
    snprintf(a->language, sizeof a->language, "%s", language);
    a->stopwords = stopwords;
    buf_init(&a->fold);
    buf_init(&a->joined);
    arena_init(&a->cache.mem);
    if (strcmp(language, "none") != 0) {
        a->stemmer = sb_stemmer_new(language, "UTF_8");
        if (!a->stemmer) {
            mem_free(a);
            return err_set(AS_ERR_LANG,
                           "unknown stemming language '%s' (available: "
                           "none, %s)", language, analyzer_languages());
        }
    }
    *out = a;
    return AS_OK;
}

void analyzer_free(analyzer *a)
{
    if (!a)
        return;
    if (a->stemmer)
        sb_stemmer_delete(a->stemmer);
    mem_free(a->cache.slots);
    arena_reset(&a->cache.mem);
    buf_free(&a->fold);
    buf_free(&a->joined);
    mem_free(a);
}

void analyzer_stem_filter(analyzer *a, const unsigned char *first)
{
    a->stem_first = first;
}

void analyzer_set_stemming(analyzer *a, int on)
{
    a->no_stem = !on;
}

int analyzer_suffix_only(const analyzer *a)
{
    return strcmp(a->language, "english") == 0 ||
           strcmp(a->language, "porter") == 0;
}

const char *analyzer_language(const analyzer *a)
{
    return a->language;
}

static void cache_clear(stem_cache *c)
{
    if (c->slots)
        memset(c->slots, 0, c->cap * sizeof *c->slots);
    c->count = 0;
    c->epoch++;
    arena_reset(&c->mem);
}

uint32_t analyzer_epoch(const analyzer *a)
{
    return a->cache.epoch;
}

static int cache_grow(stem_cache *c)
{
    /* A query stems a few words; a build's table grows four times at a
     * step once it has 2^14 slots: each table is zeroed and filled anew,
     * and doubling up to 2^20 had zeroed 64 MiB and rehashed 786,000
     * words on the reading thread (growing by four: 43 MiB, 270,000). */
    const size_t max = (size_t)1 << CACHE_MAX_LOG2;
    if (c->cap >= max) {
        cache_clear(c);
        return AS_OK;
    }
    size_t cap = !c->cap ? 64 : c->cap < ((size_t)1 << 14) ? c->cap * 2
                                                           : c->cap * 4;
    if (cap > max)
        cap = max;
    cache_slot *s = mem_calloc_touched(cap, sizeof *s);
    if (!s)
        return AS_ERR_NOMEM;
    /* The words are hashed again from their bytes, all over the arena, and
     * go all over the new table: a group of GROW_STEP at a time, the next
     * group's bytes and this group's new slots fetched ahead (0.13 s of
     * the analyzing thread for the wiki passages without). */
    enum { GROW_STEP = 16 };
    for (size_t i = 0; i < c->cap; i += GROW_STEP) {
        for (size_t k = i + GROW_STEP; k < i + 2 * GROW_STEP && k < c->cap; k++)
            __builtin_prefetch(c->slots[k].folded);
        size_t at[GROW_STEP], from[GROW_STEP], m = 0;
        for (size_t k = i; k < i + GROW_STEP && k < c->cap; k++) {
            if (!c->slots[k].folded)
                continue;
            at[m] = hash_bytes(c->slots[k].folded, c->slots[k].flen) &
                    (cap - 1);
            __builtin_prefetch(&s[at[m]], 1);
            from[m++] = k;
        }
        for (size_t k = 0; k < m; k++) {
            size_t j = at[k];
            while (s[j].folded)
                j = (j + 1) & (cap - 1);
            s[j] = c->slots[from[k]];
        }
    }
    mem_free(c->slots);
    c->slots = s;
    c->cap = cap;
    return AS_OK;
}

/* The first 8 bytes of w[0..n), zero past n.  w must have 8 readable
 * bytes (a->fold keeps 8 bytes of padding after every word). */
static inline uint64_t word_head(const unsigned char *w, size_t n)
{
    uint64_t v;
    memcpy(&v, w, 8);
    if (n >= 8)
        return v;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return v & ((1ull << (8 * n)) - 1);
#else
    return n ? v & ~(~0ull >> (8 * n)) : 0;
#endif
}

/* Stem w[0..n), whose hash_bytes is h, through the cache; *out points into
 * the cache.  w has 8 readable bytes past n (a->fold's padding).  raw: a
 * word without letters (a number), its own term, cached only for its key
 * (see queue_word). */
static int stem_word(analyzer *a, const unsigned char *w, size_t n,
                     uint64_t h, int raw, const char **out, size_t *outlen,
                     uint32_t *key)
{
    stem_cache *c = &a->cache;
    if (c->count * 4 >= c->cap * 3 && cache_grow(c))
        return AS_ERR_NOMEM;
    uint64_t head = word_head(w, n);
    uint64_t head2 = n > 8 ? word_head(w + 8, n - 8) : 0;
    size_t j = h & (c->cap - 1);
    while (c->slots[j].folded) {
        cache_slot *s = &c->slots[j];
        if (s->head == head && s->head2 == head2 && s->flen == n &&
            (n <= 16 || memcmp(s->folded + 16, w + 16, n - 16) == 0)) {
            *out = s->folded + s->flen;
            *outlen = s->slen;
            *key = s->key;
            return AS_OK;
        }
        j = (j + 1) & (c->cap - 1);
    }
    const sb_symbol *st = raw ? w
                              : sb_stemmer_stem(a->stemmer,
                                                (const sb_symbol *)w, (int)n);
    if (!st)
        return AS_ERR_NOMEM;
    size_t sl = raw ? n : (size_t)sb_stemmer_length(a->stemmer);
    if (sl > AN_MAX_TERM)
        sl = AN_MAX_TERM;
    char *mem = arena_alloc(&c->mem, n + sl);
    if (!mem)
        return AS_ERR_NOMEM;
    memcpy(mem, w, n);
    memcpy(mem + n, st, sl);
    *key = (uint32_t)c->count;
    c->slots[j] = (cache_slot){mem, head, head2, *key, (uint16_t)n,
                               (uint16_t)sl};
    c->count++;
    *out = mem + n;
    *outlen = sl;
    return AS_OK;
}

/* ---- Character classes -------------------------------------------------- */

enum { C_SEP = 0, C_LETTER = 1, C_DIGIT = 2 };

static int char_class_utf8(const unsigned char *s, size_t len, size_t i,
                           int32_t *cp, size_t *n);

/* Decode the code point at s[i]; returns its class and sets *n (>= 1).
 * ASCII, most of the text, inline. */
static inline int char_class(const unsigned char *s, size_t len, size_t i,
                             int32_t *cp, size_t *n)
{
    unsigned char c = s[i];
    if (c >= 0x80)
        return char_class_utf8(s, len, i, cp, n);
    *cp = c;
    *n = 1;
    if ((unsigned)((c | 0x20) - 'a') < 26u)
        return C_LETTER;
    return (unsigned)(c - '0') < 10u ? C_DIGIT : C_SEP;
}

static int char_class_utf8(const unsigned char *s, size_t len, size_t i,
                           int32_t *cp, size_t *n)
{
    utf8proc_int32_t u;
    utf8proc_ssize_t r = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i),
                                          &u);
    if (r <= 0) {
        *cp = -1;
        *n = 1;
        return C_SEP;
    }
    *cp = u;
    *n = (size_t)r;
    switch (utf8proc_category(u)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
        return C_LETTER;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return C_DIGIT;
    default:
        return C_SEP;
    }
}

static int is_apostrophe(int32_t cp)
{
    return cp == '\'' || cp == 0x2019;
}

static int is_hyphen(int32_t cp)
{
    return cp == '-' || cp == 0x2010 || cp == 0x2011;
}

/* ---- Folding ------------------------------------------------------------ */

/* Longest word folded while scanned (analyzer_run); a multiple of 16, so
 * fold_copy's 16-byte stores stay within it. */
#define FAST_WORD 64
_Static_assert(FAST_WORD % 16 == 0, "FAST_WORD: whole 16-byte stores");

static inline unsigned char fold_ascii(unsigned char c)
{
    return (unsigned char)(c + (((unsigned)(c - 'A') < 26u) << 5));
}

/* The end of the run of ASCII letters and digits at s[i] (the first
 * index >= i holding anything else, or len): 16 bytes a step with SSE2,
 * most words in one. */
static inline size_t alnum_run(const unsigned char *s, size_t i, size_t len)
{
#ifdef __SSE2__
    const __m128i a1 = _mm_set1_epi8('a' - 1), z1 = _mm_set1_epi8('z' + 1);
    const __m128i d0 = _mm_set1_epi8('0' - 1), d9 = _mm_set1_epi8('9' + 1);
    const __m128i up = _mm_set1_epi8(0x20);
    while (len - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        /* Signed compares: bytes >= 0x80 are negative, never in range. */
        __m128i l = _mm_or_si128(v, up);
        __m128i ok = _mm_or_si128(
            _mm_and_si128(_mm_cmpgt_epi8(l, a1), _mm_cmplt_epi8(l, z1)),
            _mm_and_si128(_mm_cmpgt_epi8(v, d0), _mm_cmplt_epi8(v, d9)));
        unsigned stop = ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
        if (stop)
            return i + (size_t)__builtin_ctz(stop);
        i += 16;
    }
#endif
    while (i < len && ((unsigned)((s[i] | 0x20) - 'a') < 26u ||
                       (unsigned)(s[i] - '0') < 10u))
        i++;
    return i;
}

/* o[0..n) = s[0..n) (ASCII) folded; s has avail >= n readable bytes and
 * o room for n rounded up to 16. */
static inline void fold_copy(unsigned char *o, const unsigned char *s,
                             size_t n, size_t avail)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128i A1 = _mm_set1_epi8('A' - 1), Z1 = _mm_set1_epi8('Z' + 1);
    const __m128i up = _mm_set1_epi8(0x20);
    for (; i < n && avail - i >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i big = _mm_and_si128(_mm_cmpgt_epi8(v, A1),
                                    _mm_cmplt_epi8(v, Z1));
        _mm_storeu_si128((__m128i *)(o + i),
                         _mm_add_epi8(v, _mm_and_si128(big, up)));
    }
#endif
    for (; i < n; i++)
        o[i] = fold_ascii(s[i]);
}

/* Append word s[0..n), folded, to a->fold.  Returns AS_OK or
 * AS_ERR_NOMEM. */
static int fold_word(analyzer *a, const unsigned char *s, size_t n)
{
    buf *f = &a->fold;
    /* Drop a final possessive: 's or ’s */
    if (n >= 2 && (s[n - 1] | 0x20) == 's') {
        if (s[n - 2] == '\'')
            n -= 2;
        else if (n >= 4 && s[n - 4] == 0xe2 && s[n - 3] == 0x80 &&
                 s[n - 2] == 0x99)
            n -= 4;
    }
    /* Room for the word and queue_word's padding: folding ASCII never
     * lengthens a word. */
    if (buf_reserve(f, n + 8))
        return AS_ERR_NOMEM;
    unsigned char *o = f->p + f->len;
    size_t i = 0;
    for (; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x80)
            break;
        if (c == '\'' || c == ',')
            continue;
        *o++ = fold_ascii(c);
    }
    if (i == n) {
        f->len = (size_t)(o - f->p);
        return AS_OK;
    }
    utf8proc_uint8_t *m = NULL;
    utf8proc_ssize_t r = utf8proc_map(
        s, (utf8proc_ssize_t)n, &m,
        UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT |
            UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
    if (r < 0)
        return r == UTF8PROC_ERROR_NOMEM ? AS_ERR_NOMEM : AS_OK;
    for (utf8proc_ssize_t k = 0; k < r; k++) {
        if (m[k] == '\'' || m[k] == ',')
            continue;
        if (k + 2 < r && m[k] == 0xe2 && m[k + 1] == 0x80 && m[k + 2] == 0x99) {
            k += 2;
            continue;
        }
        buf_putc(f, m[k]);
    }
    free(m);        /* allocated by utf8proc with malloc */
    return buf_reserve(f, 8) ? AS_ERR_NOMEM : AS_OK;
}

/* Cut to AN_MAX_TERM bytes without splitting a UTF-8 sequence. */
static size_t cut_term(const unsigned char *s, size_t n)
{
    if (n <= AN_MAX_TERM)
        return n;
    n = AN_MAX_TERM;
    while (n > 0 && (s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

static int has_letter(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0x80 || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z'))
            return 1;
    return 0;
}

/* Queue the word a->fold.p[off..a->fold.len) at pos, from the bytes
 * [start, end) of the text: cut it, decide whether it is stemmed, and if
 * so hash it and prefetch its cache slot. */
static void queue_word(analyzer *a, size_t off, uint32_t pos, size_t start,
                       size_t end)
{
    buf *f = &a->fold;
    const unsigned char *w = f->p + off;
    size_t n = cut_term(w, f->len - off);
    f->len = off + n;
    memset(f->p + f->len, 0, 8);    /* word_head's padding, reserved */
    queued *q = &a->q[a->nq++];
    *q = (queued){(uint32_t)off, (uint32_t)n, pos, (uint32_t)start,
                  (uint32_t)end, 0, 0};
    /* A word without letters (a number) is not stemmed, but it goes
     * through the cache too, for its key: without one, the inverting
     * thread looked each of the wiki passages' 904,000 such tokens up by
     * its bytes. */
    if (n > 0 && a->stemmer && !a->no_stem &&
        (!a->stem_first || a->stem_first[w[0]])) {
        q->stem = has_letter(w, n) ? 1 : 2;
        q->hash = hash_bytes(w, n);
        if (a->cache.slots)
            __builtin_prefetch(&a->cache.slots[q->hash &
                                               (a->cache.cap - 1)]);
    }
}

/* Turn the queued words into terms and hand them to fn, in order.  Their
 * bytes stay in a->fold (the caller reuses it). */
static int flush_queue(analyzer *a, an_token_fn fn, void *ctx)
{
    int nq = a->nq;
    a->nq = 0;
    for (int i = 0; i < nq; i++) {
        const queued *q = &a->q[i];
        const unsigned char *w = a->fold.p + q->off;
        size_t n = q->len;
        if (n == 0 || (a->stopwords && is_stopword((const char *)w, n)))
            continue;
        an_token t = {(const char *)w, (uint32_t)n, q->pos, q->start, q->end,
                      AN_NO_KEY};
        if (q->stem) {
            const char *st;
            size_t sl;
            if (stem_word(a, w, n, q->hash, q->stem == 2, &st, &sl, &t.key))
                return AS_ERR_NOMEM;
            if (sl == 0)
                continue;
            t.term = st;
            t.len = (uint32_t)sl;
        }
        int rc = fn(ctx, &t);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- The scanner -------------------------------------------------------- */

/* Whether the ASCII byte s[i], after a word whose last character is of
 * class prev, may join it to what follows (the scanner's rule: an
 * apostrophe between letters, a period or comma between digits); when it
 * cannot, the word ends at i as scanned.  A non-ASCII byte after it may be
 * a letter or a digit: the general scan decides.  Most words end so, at a
 * space or before a period or comma after letters. */
static inline int may_join(const unsigned char *s, size_t len, size_t i,
                           int prev)
{
    unsigned char c = s[i];
    if (prev == C_LETTER ? c != '\'' : c != '.' && c != ',')
        return 0;
    if (i + 1 == len)
        return 0;
    unsigned char d = s[i + 1];
    if (d >= 0x80)
        return 1;
    return prev == C_LETTER ? (unsigned)((d | 0x20) - 'a') < 26u
                            : (unsigned)(d - '0') < 10u;
}

int analyzer_run(analyzer *a, const char *text, size_t len, uint32_t *pos,
                 an_token_fn fn, void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    uint32_t p = *pos;
    int rc = 0;

    a->nq = 0;
    buf_clear(&a->fold);
    while (i < len) {
        int32_t cp;
        size_t n;
        int cls = char_class(s, len, i, &cp, &n);
        if (cls == C_SEP) {
            i += n;
            continue;
        }
        /* Room for a compound's words and its glued form. */
        if (a->nq > AN_QUEUE - 10) {
            if ((rc = flush_queue(a, fn, ctx)))
                return rc;
            buf_clear(&a->fold);
        }
        /* A compound: words joined by hyphens or slashes. */
        size_t cstart = i;
        uint32_t cpos = p;
        int words = 0, hyphenated = 0;
        buf_clear(&a->joined);
        for (;;) {
            size_t wstart = i;
            int prev = cls;
            i += n;
            /* Most words: a run of ASCII letters and digits, folded into
             * a->fold while they are scanned (up to FAST_WORD bytes). */
            size_t off = a->fold.len;
            if (buf_reserve(&a->fold, FAST_WORD + 8))
                return AS_ERR_NOMEM;
            unsigned char *o = a->fold.p + off;
            size_t run = alnum_run(s, i, len);
            if (run > i)
                prev = (unsigned)(s[run - 1] - '0') < 10u ? C_DIGIT : C_LETTER;
            i = run;
            int fast = s[wstart] < 0x80 && i - wstart <= FAST_WORD;
            if (fast) {
                fold_copy(o, s + wstart, i - wstart, len - wstart);
                o += i - wstart;
            }
            /* Done, unless a joiner or a non-ASCII character may go on
             * with the word: then the general scan and fold_word. */
            if (fast &&
                (i == len || (s[i] < 0x80 && !may_join(s, len, i, prev)))) {
                a->fold.len = (size_t)(o - a->fold.p);
            } else {
                while (i < len) {
                    cls = char_class(s, len, i, &cp, &n);
                    if (cls != C_SEP) {
                        prev = cls;
                        i += n;
                        continue;
                    }
                    /* A joiner stays inside the word when the next character
                     * is of the right class. */
                    if (i + n < len) {
                        int32_t ncp;
                        size_t nn;
                        int next = char_class(s, len, i + n, &ncp, &nn);
                        if ((is_apostrophe(cp) && prev == C_LETTER &&
                             next == C_LETTER) ||
                            ((cp == '.' || cp == ',') && prev == C_DIGIT &&
                             next == C_DIGIT)) {
                            i += n + nn;
                            prev = next;
                            continue;
                        }
                    }
                    break;
                }
                if ((rc = fold_word(a, s + wstart, i - wstart)))
                    return rc;
            }
            if (a->fold.len > off) {
                if (a->nq == AN_QUEUE && (rc = flush_queue(a, fn, ctx)))
                    return rc;
                if (a->nq == 0 && off > 0) {        /* flushed: move it */
                    memmove(a->fold.p, a->fold.p + off, a->fold.len - off);
                    a->fold.len -= off;
                    off = 0;
                }
                /* Glue only what a joiner may follow. */
                if (words < 8 && (words > 0 || (i < len &&
                                                (s[i] == '-' || s[i] == '/' ||
                                                 s[i] == 0xe2))))
                    buf_append(&a->joined, a->fold.p + off,
                               a->fold.len - off);
                queue_word(a, off, p, wstart, i);
                p++;
                words++;
            }
            /* Continue the compound across a hyphen or slash followed by a
             * word character (the other ASCII bytes end it at once). */
            if (i + 1 < len && (s[i] == '-' || s[i] == '/' || s[i] >= 0x80)) {
                cls = char_class(s, len, i, &cp, &n);
                if (is_hyphen(cp) || cp == '/') {
                    int32_t ncp;
                    size_t nn;
                    int next = char_class(s, len, i + n, &ncp, &nn);
                    if (next != C_SEP) {
                        hyphenated |= is_hyphen(cp);
                        i += n;
                        cp = ncp;
                        n = nn;
                        cls = next;
                        continue;
                    }
                }
            }
            break;
        }
        if (hyphenated && words >= 2) {
            if (a->joined.err)
                return AS_ERR_NOMEM;
            if (a->nq == AN_QUEUE) {
                if ((rc = flush_queue(a, fn, ctx)))
                    return rc;
                buf_clear(&a->fold);
            }
            size_t off = a->fold.len;
            if (buf_reserve(&a->fold, a->joined.len + 8))
                return AS_ERR_NOMEM;
            buf_append(&a->fold, a->joined.p, a->joined.len);
            queue_word(a, off, cpos, cstart, i);
        }
    }
    if ((rc = flush_queue(a, fn, ctx)))
        return rc;
    *pos = p;
    return 0;
}
