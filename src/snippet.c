/* snippet.c - choosing and marking the best passage. */
#include "snippet.h"

#include <string.h>

#include "err.h"
#include "mem.h"

typedef struct {
    uint32_t start, end;
    int32_t term;           /* index of the query term matched, or -1 */
} word;

typedef struct {
    const snippet_query *q;
    word *w;
    size_t n, cap;
    int err;
} collect;

static int32_t match(const snippet_query *q, const an_token *t)
{
    for (size_t i = 0; i < q->n; i++)
        if (q->lens[i] == t->len && memcmp(q->terms[i], t->term, t->len) == 0)
            return (int32_t)i;
    return -1;
}

static int on_token(void *ctx, const an_token *t)
{
    collect *c = ctx;
    int32_t m = match(c->q, t);
    /* A glued hyphen compound overlaps the words it was made of: it marks
     * them rather than adding a word. */
    if (c->n > 0 && t->start < c->w[c->n - 1].end) {
        if (m >= 0)
            for (size_t i = c->n; i-- > 0 && c->w[i].start >= t->start;)
                if (c->w[i].term < 0)
                    c->w[i].term = m;
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        word *w = mem_realloc(c->w, cap * sizeof *w);
        if (!w)
            return c->err = AS_ERR_NOMEM;
        c->w = w;
        c->cap = cap;
    }
    c->w[c->n++] = (word){t->start, t->end, m};
    return 0;
}

/* White space and every other control character (a NUL from a damaged
 * store included) become one space in a snippet. */
static int is_space(unsigned char ch)
{
    return ch <= ' ' || ch == 0x7f;
}

int snippet_make(analyzer *an, const char *text, size_t len,
                 const snippet_query *q, uint32_t words, buf *out,
                 buf *spans)
{
    buf_clear(out);
    buf_clear(spans);
    if (words == 0)
        words = 30;
    collect c = {q, NULL, 0, 0, 0};
    uint32_t pos = 0;
    /* Stem only words that can become a query term. */
    unsigned char firsts[256] = {0};
    for (size_t i = 0; i < q->n; i++)
        if (q->lens[i] > 0)
            firsts[(unsigned char)q->terms[i][0]] = 1;
    if (analyzer_suffix_only(an))
        analyzer_stem_filter(an, firsts);
    int rc = analyzer_run(an, text, len, &pos, on_token, &c);
    analyzer_stem_filter(an, NULL);
    if (rc || c.err) {
        mem_free(c.w);
        return AS_ERR_NOMEM;
    }
    size_t best = 0;
    if (c.n > words && q->n > 0) {
        uint32_t *count = mem_calloc(q->n, sizeof *count);
        if (!count) {
            mem_free(c.w);
            return AS_ERR_NOMEM;
        }
        long distinct = 0, matches = 0, best_score = -1;
        for (size_t i = 0; i < c.n; i++) {
            if (c.w[i].term >= 0) {
                matches++;
                if (count[c.w[i].term]++ == 0)
                    distinct++;
            }
            if (i >= words) {
                int32_t t = c.w[i - words].term;
                if (t >= 0) {
                    matches--;
                    if (--count[t] == 0)
                        distinct--;
                }
            }
            if (i + 1 >= words) {
                long score = distinct * 1000 + matches;
                if (score > best_score) {
                    best_score = score;
                    best = i + 1 - words;
                }
            }
        }
        mem_free(count);
        /* Open a few words before the first match when there is room. */
        size_t first = SIZE_MAX, last = 0;
        for (size_t i = best; i < best + words; i++)
            if (c.w[i].term >= 0) {
                if (first == SIZE_MAX)
                    first = i;
                last = i;
            }
        if (first != SIZE_MAX) {
            size_t slack = words - (last - first + 1);
            size_t back = slack / 2 < 4 ? slack / 2 : 4;
            best = first >= back ? first - back : 0;
            if (best + words > c.n)
                best = c.n - words;
        }
    }
    size_t end = best + words < c.n ? best + words : c.n;
    if (c.n == 0) {
        buf_terminate(out);
        mem_free(c.w);
        return out->err ? AS_ERR_NOMEM : AS_OK;
    }
    if (best > 0)
        buf_puts(out, "\xe2\x80\xa6 ");
    size_t from = c.w[best].start, to = c.w[end - 1].end;
    /* Keep punctuation that closes the last word ("night.", "pain,"), and
     * the rest of the text when the window reaches its end. */
    size_t limit = to + (end == c.n ? 64 : 8);
    while (to < len && to < limit && (end == c.n || !is_space(text[to])))
        to++;
    while (to > c.w[end - 1].end && is_space((unsigned char)text[to - 1]))
        to--;
    while (to < len && ((unsigned char)text[to] & 0xc0) == 0x80)
        to++;                   /* never end inside a UTF-8 sequence */
    size_t wi = best;
    int space = 0, cut = 0;
    for (size_t i = from; i < to; i++) {
        if (out->len >= SNIPPET_MAX_BYTES) {
            cut = 1;
            break;
        }
        if (wi < end && i == c.w[wi].start && c.w[wi].term >= 0) {
            /* Copy the whole matched word and record its span. */
            if (space)
                buf_putc(out, ' ');
            space = 0;
            size_t wl = c.w[wi].end - c.w[wi].start;
            if (out->len + wl > SNIPPET_MAX_BYTES + 256) {
                cut = 1;
                break;
            }
            as_span sp = {(uint32_t)out->len, (uint32_t)wl};
            buf_append(out, text + i, wl);
            buf_append(spans, &sp, sizeof sp);
            i = c.w[wi].end - 1;
            wi++;
            continue;
        }
        while (wi < end && c.w[wi].end <= i + 1 && c.w[wi].start <= i)
            wi++;
        unsigned char ch = (unsigned char)text[i];
        if (is_space(ch)) {
            space = 1;
            continue;
        }
        if (space)
            buf_putc(out, ' ');
        space = 0;
        buf_putc(out, ch);
    }
    if (cut) {
        /* Do not leave half a UTF-8 sequence. */
        while (out->len > 0 && (out->p[out->len - 1] & 0xc0) == 0x80)
            out->len--;
        if (out->len > 0 && out->p[out->len - 1] >= 0xc0)
            out->len--;
    }
    if (cut || end < c.n)
        buf_puts(out, " \xe2\x80\xa6");
    buf_terminate(out);
    mem_free(c.w);
    return out->err || spans->err ? AS_ERR_NOMEM : AS_OK;
}
