/* corpus.c - walking folders and reading .txt/.md, .html and .jsonl[.gz]. */
#include "corpus.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "err.h"
#include "gzin.h"
#include "mem.h"
#include "ring.h"

const char *as_skip_reason(int reason)
{
    static const char *const names[] = {
#define X(name, text) text,
        AS_SKIP_TABLE(X)
#undef X
    };
    if (reason < 0 || reason >= AS_SKIP_COUNT)
        return "unknown";
    return names[reason];
}

/* ---- The reading context ----------------------------------------------- */

typedef struct {
    char *path;         /* as opened */
    char *rel;          /* relative to the corpus root: the document id */
    uint64_t size;
} file_entry;

typedef struct {
    const corpus_opts *o;
    corpus_doc_fn fn;
    void *fnctx;
    as_build_report *rep;
    file_entry *files;
    size_t nfiles, capfiles;
    uint64_t bytes_total, bytes_done, files_done;
    struct timespec start, last_progress;
    int rc;             /* sticky error (out of memory) */
    corpus_json json;   /* scratch of the JSONL fast path */
} reader;

static void warn(reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Cut n bytes of s to at most max without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

/* A message too long for msg (a path thousands of bytes deep) keeps its
 * head and its tail, where the reason is, around " ... ". */
static void warn(reader *r, const char *fmt, ...)
{
    if (!r->o || !r->o->warn)
        return;
    enum { HEAD = 300, TAIL = 700 };
    char msg[HEAD + 5 + TAIL + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *full = NULL;
    if (n >= (int)sizeof msg && (full = mem_alloc((size_t)n + 1))) {
        va_start(ap, fmt);
        vsnprintf(full, (size_t)n + 1, fmt, ap);
        va_end(ap);
        size_t h = utf8_cut(full, (size_t)n, HEAD), t = (size_t)n - TAIL;
        while (t < (size_t)n && ((unsigned char)full[t] & 0xc0) == 0x80)
            t++;
        snprintf(msg, sizeof msg, "%.*s ... %s", (int)h, full, full + t);
        mem_free(full);
    }
    r->o->warn(r->o->ctx, msg);
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) +
           (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void progress(reader *r, uint64_t bytes_in_file, int force)
{
    if (!r->o || !r->o->progress)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!force && elapsed(&r->last_progress, &now) < 0.1)
        return;
    r->last_progress = now;
    as_progress p = {r->files_done, r->nfiles, r->bytes_done + bytes_in_file,
                     r->bytes_total, r->rep->docs, elapsed(&r->start, &now)};
    r->o->progress(r->o->ctx, &p);
}

static int deliver(reader *r, const corpus_doc *d)
{
    int rc = r->fn(r->fnctx, d);
    if (rc == 0) {
        r->rep->docs++;
        r->rep->text_bytes += d->title_len + d->body_len;
    }
    return rc;
}

/* ---- Walking ------------------------------------------------------------ */

typedef struct {
    dev_t dev;
    ino_t ino;
} dir_id;

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(reader *r, const char *path, const char *rel,
                    uint64_t size)
{
    if (r->nfiles == r->capfiles) {
        size_t cap = r->capfiles ? r->capfiles * 2 : 256;
        file_entry *f = mem_realloc(r->files, cap * sizeof *f);
        if (!f)
            return AS_ERR_NOMEM;
        r->files = f;
        r->capfiles = cap;
    }
    file_entry *f = &r->files[r->nfiles];
    f->path = mem_strndup(path, strlen(path));
    f->rel = mem_strndup(rel, strlen(rel));
    if (!f->path || !f->rel) {
        mem_free(f->path);
        mem_free(f->rel);
        return AS_ERR_NOMEM;
    }
    f->size = size;
    r->nfiles++;
    r->bytes_total += size;
    return AS_OK;
}

#define MAX_DEPTH 256

static int walk(reader *r, const char *dir, const char *rel, dir_id *stack,
                int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        warn(r, "%s: cannot read folder: %s", dir, strerror(errno));
        r->rep->skipped[AS_SKIP_UNREADABLE]++;
        return AS_OK;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = AS_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = mem_realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = AS_ERR_NOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[n] = mem_strndup(e->d_name, strlen(e->d_name)))) {
            rc = AS_ERR_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);

    buf path, relp;
    buf_init(&path);
    buf_init(&relp);
    for (size_t i = 0; i < n && rc == AS_OK; i++) {
        const char *name = names[i];
        buf_clear(&path);
        buf_printf(&path, "%s/%s", dir, name);
        buf_clear(&relp);
        if (rel[0])
            buf_printf(&relp, "%s/%s", rel, name);
        else
            buf_puts(&relp, name);
        buf_terminate(&relp);
        if (path.err || relp.err) {
            rc = AS_ERR_NOMEM;
            break;
        }
        const char *p = (const char *)path.p, *rp = (const char *)relp.p;
        if (name[0] == '.') {
            r->rep->skipped[AS_SKIP_HIDDEN]++;
            continue;
        }
        struct stat st;
        if (stat(p, &st) != 0) {
            warn(r, "%s: %s", p, strerror(errno));
            r->rep->skipped[errno == ELOOP ? AS_SKIP_LOOP
                                           : AS_SKIP_UNREADABLE]++;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            int loop = 0;
            for (int k = 0; k <= depth; k++)
                if (stack[k].dev == st.st_dev && stack[k].ino == st.st_ino)
                    loop = 1;
            if (loop) {
                warn(r, "%s: symlink loop (leads back to a folder above it); "
                        "not followed", p);
                r->rep->skipped[AS_SKIP_LOOP]++;
                continue;
            }
            if (depth + 1 >= MAX_DEPTH) {
                warn(r, "%s: folders nested deeper than %d levels; not read",
                     p, MAX_DEPTH);
                r->rep->skipped[AS_SKIP_UNREADABLE]++;
                continue;
            }
            stack[depth + 1] = (dir_id){st.st_dev, st.st_ino};
            rc = walk(r, p, rp, stack, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            rc = add_file(r, p, rp, (uint64_t)st.st_size);
        } else {
            warn(r, "%s: not a regular file; skipped", p);
            r->rep->skipped[AS_SKIP_SPECIAL]++;
        }
    }
    buf_free(&path);
    buf_free(&relp);
    for (size_t i = 0; i < n; i++)
        mem_free(names[i]);
    mem_free(names);
    return rc;
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t min, cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2; min = 0x80; cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3; min = 0x800; cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4; min = 0x10000; cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

size_t corpus_fix_utf8(const char *str, size_t n, buf *out)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, bad = 0, copied = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq(s + i, n - i);
        if (l) {
            i += l;
            continue;
        }
        if (bad == 0)
            buf_clear(out);
        buf_append(out, s + copied, i - copied);
        buf_append(out, "\xef\xbf\xbd", 3);
        bad++;
        i++;
        /* One replacement for a run of continuation bytes. */
        while (i < n && (s[i] & 0xc0) == 0x80)
            i++;
        copied = i;
    }
    if (bad) {
        buf_append(out, s + copied, n - copied);
        buf_terminate(out);
    }
    return bad;
}

/* ---- Text and Markdown -------------------------------------------------- */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
           c == '\v';
}

static int read_text(reader *r, const file_entry *f, const char *s, size_t n,
                     int markdown)
{
    size_t i = 0;
    if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        i = 3;                                  /* byte order mark */
    /* First non-empty line. */
    size_t ls = i, le = i;
    while (i < n) {
        ls = i;
        while (i < n && s[i] != '\n')
            i++;
        le = i;
        if (i < n)
            i++;
        size_t a = ls, b = le;
        while (a < b && is_space((unsigned char)s[a]))
            a++;
        while (b > a && is_space((unsigned char)s[b - 1]))
            b--;
        if (a < b) {
            ls = a;
            le = b;
            break;
        }
        ls = le = i;
    }
    const char *title = s + ls;
    size_t tlen = le - ls;
    size_t body_from = i;
    if (markdown) {
        while (tlen && title[0] == '#') {
            title++;
            tlen--;
        }
        while (tlen && title[tlen - 1] == '#')
            tlen--;
        while (tlen && is_space((unsigned char)title[0])) {
            title++;
            tlen--;
        }
        while (tlen && is_space((unsigned char)title[tlen - 1]))
            tlen--;
    }
    if (tlen > CORPUS_MAX_TITLE) {
        /* Keep the whole line in the body so none of it is lost. */
        tlen = utf8_cut(title, tlen, CORPUS_MAX_TITLE);
        body_from = ls;
    }
    const char *body = s + body_from;
    size_t blen = n - body_from;
    int blank = 1;
    for (size_t k = 0; k < blen && blank; k++)
        blank = is_space((unsigned char)body[k]);
    if (tlen == 0 && blank) {
        warn(r, "%s: empty; skipped", f->path);
        r->rep->skipped[AS_SKIP_EMPTY]++;
        return AS_OK;
    }
    corpus_doc d = {f->rel, strlen(f->rel), title, tlen, body, blen};
    return deliver(r, &d);
}

/* ---- HTML --------------------------------------------------------------- */

typedef struct {
    const char *name;
    uint32_t cp;
} entity;

static const entity entities[] = {
    {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
    {"nbsp", ' '}, {"ndash", 0x2013}, {"mdash", 0x2014}, {"hellip", 0x2026},
    {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201c},
    {"rdquo", 0x201d}, {"copy", 0xa9}, {"reg", 0xae}, {"trade", 0x2122},
    {"deg", 0xb0}, {"middot", 0xb7}, {"bull", 0x2022}, {"times", 0xd7},
    {"divide", 0xf7}, {"plusmn", 0xb1}, {"micro", 0xb5}, {"frac12", 0xbd},
    {"frac14", 0xbc}, {"frac34", 0xbe}, {"sup2", 0xb2}, {"sup3", 0xb3},
    {"eacute", 0xe9}, {"Eacute", 0xc9}, {"egrave", 0xe8}, {"ecirc", 0xea},
    {"euml", 0xeb}, {"aacute", 0xe1}, {"agrave", 0xe0}, {"acirc", 0xe2},
    {"auml", 0xe4}, {"aring", 0xe5}, {"ccedil", 0xe7}, {"iacute", 0xed},
    {"iuml", 0xef}, {"ntilde", 0xf1}, {"oacute", 0xf3}, {"ocirc", 0xf4},
    {"ouml", 0xf6}, {"oslash", 0xf8}, {"uacute", 0xfa}, {"uuml", 0xfc},
    {"Auml", 0xc4}, {"Ouml", 0xd6}, {"Uuml", 0xdc}, {"szlig", 0xdf},
    {"alpha", 0x3b1}, {"beta", 0x3b2}, {"gamma", 0x3b3}, {"delta", 0x3b4},
    {"mu", 0x3bc}, {"le", 0x2264}, {"ge", 0x2265}, {"shy", 0xad},
    {"zwj", 0x200d}, {"zwnj", 0x200c}, {"ensp", ' '}, {"emsp", ' '},
    {"thinsp", ' '}, {NULL, 0},
};

static void put_utf8(buf *b, uint32_t cp)
{
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        cp = 0xfffd;
    unsigned char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (unsigned char)cp; n = 1;
    } else if (cp < 0x800) {
        t[0] = (unsigned char)(0xc0 | cp >> 6);
        t[1] = (unsigned char)(0x80 | (cp & 0x3f)); n = 2;
    } else if (cp < 0x10000) {
        t[0] = (unsigned char)(0xe0 | cp >> 12);
        t[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        t[2] = (unsigned char)(0x80 | (cp & 0x3f)); n = 3;
    } else {
        t[0] = (unsigned char)(0xf0 | cp >> 18);
        t[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        t[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        t[3] = (unsigned char)(0x80 | (cp & 0x3f)); n = 4;
    }
    buf_append(b, t, n);
}

/* Decode the entity at s[i] == '&'; returns bytes consumed (0: literal). */
static size_t decode_entity(const char *s, size_t n, size_t i, buf *out)
{
    size_t j = i + 1, max = i + 12 < n ? i + 12 : n;
    if (j < n && s[j] == '#') {
        j++;
        int hex = j < n && (s[j] == 'x' || s[j] == 'X');
        if (hex)
            j++;
        uint32_t cp = 0;
        size_t digits = 0;
        while (j < n && digits < 8) {
            int c = (unsigned char)s[j], v;
            if (c >= '0' && c <= '9')
                v = c - '0';
            else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                v = (c | 0x20) - 'a' + 10;
            else
                break;
            cp = cp * (hex ? 16u : 10u) + (uint32_t)v;
            j++;
            digits++;
        }
        if (!digits)
            return 0;
        put_utf8(out, cp);
        return (j < n && s[j] == ';') ? j + 1 - i : j - i;
    }
    size_t k = j;
    while (k < max && ((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z'))
        k++;
    if (k >= n || s[k] != ';' || k == j)
        return 0;
    for (const entity *e = entities; e->name; e++)
        if (strlen(e->name) == k - j && memcmp(e->name, s + j, k - j) == 0) {
            put_utf8(out, e->cp);
            return k + 1 - i;
        }
    return 0;
}

static int tag_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

static int is_block_tag(const char *name, size_t len)
{
    static const char *const blocks[] = {
        "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5",
        "h6", "tr", "td", "th", "table", "section", "article", "header",
        "footer", "blockquote", "pre", "hr", "dd", "dt", "dl", "nav", "main",
        "aside", "figure", "figcaption", "title", "body", "head", "html",
        NULL,
    };
    for (int i = 0; blocks[i]; i++)
        if (tag_is(name, len, blocks[i]))
            return 1;
    return 0;
}

/* Find the case-insensitive needle in s[i..n); returns n if absent. */
static size_t find_ci(const char *s, size_t n, size_t i, const char *needle)
{
    size_t m = strlen(needle);
    for (; i + m <= n; i++)
        if (strncasecmp(s + i, needle, m) == 0)
            return i;
    return n;
}

static void collapse_space(buf *b)
{
    size_t o = 0;
    int space = 1;
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = b->p[i];
        if (is_space(c)) {
            if (!space)
                b->p[o++] = ' ';
            space = 1;
        } else {
            b->p[o++] = c;
            space = 0;
        }
    }
    while (o > 0 && b->p[o - 1] == ' ')
        o--;
    b->len = o;
}

int corpus_parse_html(const char *s, size_t n, buf *title, buf *body)
{
    buf h1;
    buf_init(&h1);
    buf_clear(title);
    buf_clear(body);
    int in_title = 0, in_h1 = 0, seen_h1 = 0;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '&') {
            buf *dst = in_title ? title : body;
            size_t before = dst->len;
            size_t used = decode_entity(s, n, i, dst);
            if (used) {
                if (in_h1)
                    buf_append(&h1, dst->p + before, dst->len - before);
                i += used;
                continue;
            }
        }
        if (c != '<') {
            if (in_title) {
                buf_putc(title, c);
            } else {
                buf_putc(body, c);
                if (in_h1)
                    buf_putc(&h1, c);
            }
            i++;
            continue;
        }
        /* A comment, doctype or processing instruction. */
        if (i + 4 <= n && memcmp(s + i, "<!--", 4) == 0) {
            size_t e = find_ci(s, n, i + 4, "-->");
            i = e < n ? e + 3 : n;
            continue;
        }
        if (i + 1 < n && (s[i + 1] == '!' || s[i + 1] == '?')) {
            const char *gt = memchr(s + i, '>', n - i);
            i = gt ? (size_t)(gt - s) + 1 : n;
            continue;
        }
        size_t j = i + 1;
        int closing = 0;
        if (j < n && s[j] == '/') {
            closing = 1;
            j++;
        }
        size_t ns = j;
        while (j < n && (((s[j] | 0x20) >= 'a' && (s[j] | 0x20) <= 'z') ||
                         (s[j] >= '0' && s[j] <= '9')))
            j++;
        size_t nlen = j - ns;
        if (nlen == 0) {               /* a lone '<' is text */
            buf_putc(in_title ? title : body, '<');
            i++;
            continue;
        }
        /* Find the end of the tag, skipping quoted attribute values. */
        char quote = 0;
        while (j < n) {
            if (quote) {
                if (s[j] == quote)
                    quote = 0;
            } else if (s[j] == '"' || s[j] == '\'') {
                quote = s[j];
            } else if (s[j] == '>') {
                break;
            }
            j++;
        }
        size_t after = j < n ? j + 1 : n;
        const char *name = s + ns;
        if (!closing && (tag_is(name, nlen, "script") ||
                         tag_is(name, nlen, "style"))) {
            const char *end = tag_is(name, nlen, "script") ? "</script"
                                                           : "</style";
            size_t e = find_ci(s, n, after, end);
            const char *gt = e < n ? memchr(s + e, '>', n - e) : NULL;
            i = gt ? (size_t)(gt - s) + 1 : n;
            continue;
        }
        if (tag_is(name, nlen, "title")) {
            in_title = !closing && title->len == 0;
        } else if (tag_is(name, nlen, "h1") && !seen_h1) {
            if (closing && in_h1) {
                in_h1 = 0;
                seen_h1 = 1;
            } else if (!closing) {
                in_h1 = 1;
            }
        }
        if (is_block_tag(name, nlen))
            buf_putc(in_title ? title : body, '\n');
        i = after;
    }
    collapse_space(title);
    collapse_space(&h1);
    if (title->len == 0 && h1.len > 0) {
        buf_clear(title);
        buf_append(title, h1.p, h1.len);
    }
    buf_free(&h1);
    buf_terminate(title);
    buf_terminate(body);
    int rc = title->err ? title->err : body->err;
    return rc ? AS_ERR_NOMEM : AS_OK;
}

static int read_html(reader *r, const file_entry *f, const char *s, size_t n)
{
    buf title, body;
    buf_init(&title);
    buf_init(&body);
    int rc = corpus_parse_html(s, n, &title, &body);
    if (rc == AS_OK) {
        size_t tlen = utf8_cut((const char *)title.p, title.len,
                               CORPUS_MAX_TITLE);
        int blank = 1;
        for (size_t k = 0; k < body.len && blank; k++)
            blank = is_space(body.p[k]);
        if (tlen == 0 && blank) {
            warn(r, "%s: no text; skipped", f->path);
            r->rep->skipped[AS_SKIP_EMPTY]++;
        } else {
            corpus_doc d = {f->rel, strlen(f->rel), (const char *)title.p,
                            tlen, (const char *)body.p, body.len};
            rc = deliver(r, &d);
        }
    }
    buf_free(&title);
    buf_free(&body);
    return rc;
}

/* ---- JSONL -------------------------------------------------------------- */

#define MAX_LINE_WARNINGS 10

typedef struct {
    const char *path;
    unsigned long bad;   /* malformed lines in this file */
} jsonl_file;

static void bad_line(reader *r, jsonl_file *jf, unsigned long line,
                     const char *why)
{
    jf->bad++;
    r->rep->skipped[AS_SKIP_BADLINE]++;
    if (jf->bad <= MAX_LINE_WARNINGS)
        warn(r, "%s:%lu: %s; line skipped", jf->path, line, why);
}

static int hex4(const unsigned char *s, uint32_t *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = s[k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return 0;
        *v = *v << 4 | (uint32_t)d;
    }
    return 1;
}

/* A JSON string starting after its opening quote at s[*i]; on success *i
 * is past the closing quote and the value is in (*out, *outlen), decoded
 * into scratch when it has escapes (scratch NULL: validate only).
 * Returns 1, 0 for anything the fast path leaves to jansson, -1 out of
 * memory. */
static int fast_string(const unsigned char *s, size_t n, size_t *i,
                       buf *scratch, const char **out, size_t *outlen)
{
    size_t k = *i, start = k;
    int escaped = 0;
    if (scratch)
        buf_clear(scratch);
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
#endif
    while (k < n) {
#ifdef __SSE2__
        /* 16 bytes a step to the next byte the loop below must look at:
         * a quote, a backslash, a control character or a byte >= 0x80
         * (negative, so below 0x20 in a signed compare).  Byte by byte,
         * the strings took a sixth of the analyzing thread's instructions
         * on the wiki passages. */
        if (n - k >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + k));
            unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote),
                             _mm_cmpeq_epi8(v, bslash)),
                _mm_cmplt_epi8(v, space)));
            if (m == 0) {
                k += 16;
                continue;
            }
            k += (size_t)__builtin_ctz(m);
        }
#endif
        unsigned char c = s[k];
        if (c == '"') {
            if (scratch && escaped) {
                buf_append(scratch, s + start, k - start);
                if (scratch->err)
                    return -1;
                *out = (const char *)scratch->p;
                *outlen = scratch->len;
            } else {
                *out = (const char *)s + start;
                *outlen = k - start;
            }
            *i = k + 1;
            return 1;
        }
        if (c < 0x20)
            return 0;                   /* a control character */
        if (c >= 0x80) {
            size_t l = utf8_seq(s + k, n - k);
            if (!l)
                return 0;
            k += l;
            continue;
        }
        if (c != '\\') {
            k++;
            continue;
        }
        if (k + 1 >= n)
            return 0;
        if (scratch)
            buf_append(scratch, s + start, k - start);
        escaped = 1;
        unsigned char e = s[k + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            if (scratch)
                buf_putc(scratch, (unsigned char)map[simple - "\"\\/bfnrt"]);
            k += 2;
        } else if (e == 'u') {
            uint32_t u, u2;
            if (k + 6 > n || !hex4(s + k + 2, &u))
                return 0;
            k += 6;
            if (u >= 0xDC00 && u <= 0xDFFF)
                return 0;               /* a lone low surrogate */
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (k + 6 > n || s[k] != '\\' || s[k + 1] != 'u' ||
                    !hex4(s + k + 2, &u2) || u2 < 0xDC00 || u2 > 0xDFFF)
                    return 0;
                k += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00);
            }
            if (u == 0)
                return 0;               /* jansson keeps NUL; put_utf8 not */
            if (scratch)
                put_utf8(scratch, u);
        } else {
            return 0;
        }
        start = k;
        if (scratch && scratch->err)
            return -1;
    }
    return 0;                           /* no closing quote */
}

static size_t skip_ws(const unsigned char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
                     s[i] == '\n'))
        i++;
    return i;
}

/* The keys the reader uses, in corpus_json.scratch's order. */
enum { K_ID, K_TITLE, K_TEXT, K_BODY, K_ID2, K_N };

static int json_key(const char *k, size_t n)
{
    static const char *const names[K_N] = {"id", "title", "text", "body",
                                           "_id"};
    for (int f = 0; f < K_N; f++)
        if (strlen(names[f]) == n && memcmp(names[f], k, n) == 0)
            return f;
    return -1;
}

int corpus_json_fast(const char *str, size_t n, corpus_json *j)
{
    const unsigned char *s = (const unsigned char *)str;
    /* Per key: 0 absent, 1 string, 2 null, 3 integer; the last one given
     * counts, as in jansson. */
    int kind[K_N] = {0};
    const char *val[K_N] = {NULL};
    size_t len[K_N] = {0};
    size_t i = skip_ws(s, n, 0);
    if (i >= n || s[i] != '{')
        return 0;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}')
        i++;
    else
        for (;;) {
            if (i >= n || s[i] != '"')
                return 0;
            size_t k0 = ++i;
            while (i < n && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20 &&
                   s[i] < 0x80)
                i++;
            if (i >= n || s[i] != '"')
                return 0;               /* escapes, UTF-8: jansson */
            int f = json_key(str + k0, i - k0);
            i = skip_ws(s, n, i + 1);
            if (i >= n || s[i] != ':')
                return 0;
            i = skip_ws(s, n, i + 1);
            if (i >= n)
                return 0;
            const char *v = NULL;
            size_t vlen = 0;
            int k;
            if (s[i] == '"') {
                i++;
                int r = fast_string(s, n, &i, f < 0 ? NULL : &j->scratch[f],
                                    &v, &vlen);
                if (r <= 0)
                    return r;
                k = 1;
            } else if (n - i >= 4 && !memcmp(s + i, "null", 4)) {
                i += 4;
                k = 2;
            } else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
                int neg = s[i] == '-';
                size_t d = i + (size_t)neg;
                i = d;
                if (i < n && s[i] == '0')
                    i++;
                else
                    while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++;
                if (i == d || i - d > 18 ||
                    (i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                               (s[i] >= '0' && s[i] <= '9'))))
                    return 0;           /* a real, or too long */
                if (f == K_TITLE || f == K_TEXT || f == K_BODY)
                    return 0;           /* jansson names the wrong type */
                if (f >= 0) {           /* an id: jansson's decimal form */
                    long long x = 0;
                    for (size_t q = d; q < i; q++)
                        x = x * 10 + (s[q] - '0');
                    char *num = j->num[f == K_ID2];
                    snprintf(num, sizeof j->num[0], "%lld", neg ? -x : x);
                    v = num;
                    vlen = strlen(num);
                }
                k = 3;
            } else {
                return 0;               /* objects, arrays, true, false */
            }
            if (f >= 0) {
                kind[f] = k;
                val[f] = v;
                len[f] = vlen;
            }
            i = skip_ws(s, n, i);
            if (i < n && s[i] == ',') {
                i = skip_ws(s, n, i + 1);
                continue;
            }
            if (i < n && s[i] == '}') {
                i++;
                break;
            }
            return 0;
        }
    if (skip_ws(s, n, i) != n)
        return 0;                       /* something after the object */
    /* A key that is there wins over its alternative, even when null. */
    int id = kind[K_ID] ? K_ID : K_ID2, body = kind[K_TEXT] ? K_TEXT : K_BODY;
    j->has_id = kind[id] == 3 ? 1 : kind[id];
    j->id = val[id];
    j->id_len = len[id];
    j->has_title = kind[K_TITLE];
    j->title = val[K_TITLE];
    j->title_len = len[K_TITLE];
    j->has_body = kind[body];
    j->body = val[body];
    j->body_len = len[body];
    return 1;
}

static int json_line(reader *r, jsonl_file *jf, unsigned long lineno,
                     const char *s, size_t n)
{
    size_t a = 0;
    while (a < n && is_space((unsigned char)s[a]))
        a++;
    if (a == n)
        return AS_OK;                               /* blank line */
    corpus_json *fj = &r->json;
    int fast = corpus_json_fast(s + a, n - a, fj);
    if (fast < 0)
        return AS_ERR_NOMEM;
    if (fast && fj->has_id == 1 && fj->id_len > 0 &&
        ((fj->has_title == 1 && fj->title_len > 0) ||
         (fj->has_body == 1 && fj->body_len > 0))) {
        const char *title = fj->has_title == 1 ? fj->title : "";
        size_t tlen = fj->has_title == 1 ? fj->title_len : 0;
        const char *body = fj->has_body == 1 ? fj->body : "";
        size_t blen = fj->has_body == 1 ? fj->body_len : 0;
        tlen = utf8_cut(title, tlen, CORPUS_MAX_TITLE);
        corpus_doc d = {fj->id, fj->id_len, title, tlen, body, blen};
        return deliver(r, &d);
    }
    /* Everything else, including every line to warn about, goes through
     * jansson, which names what is wrong. */
    json_error_t jerr;
    json_t *o = json_loadb(s + a, n - a, JSON_ALLOW_NUL, &jerr);
    if (!o) {
        char why[300];
        snprintf(why, sizeof why, "malformed JSON (%s)", jerr.text);
        bad_line(r, jf, lineno, why);
        return AS_OK;
    }
    int rc = AS_OK;
    char idbuf[32];
    const char *id = NULL;
    size_t idlen = 0;
    if (!json_is_object(o)) {
        bad_line(r, jf, lineno, "not a JSON object");
        goto done;
    }
    json_t *jid = json_object_get(o, "id");
    if (!jid)
        jid = json_object_get(o, "_id");
    if (json_is_string(jid)) {
        id = json_string_value(jid);
        idlen = json_string_length(jid);
    } else if (json_is_integer(jid)) {
        snprintf(idbuf, sizeof idbuf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(jid));
        id = idbuf;
        idlen = strlen(idbuf);
    }
    if (!id || idlen == 0) {
        bad_line(r, jf, lineno, "no \"id\" or \"_id\" (string or integer)");
        goto done;
    }
    json_t *jt = json_object_get(o, "title");
    json_t *jb = json_object_get(o, "text");
    if (!jb)
        jb = json_object_get(o, "body");
    if ((jt && !json_is_string(jt) && !json_is_null(jt)) ||
        (jb && !json_is_string(jb) && !json_is_null(jb))) {
        bad_line(r, jf, lineno, "\"title\" and \"text\" must be strings");
        goto done;
    }
    const char *title = json_is_string(jt) ? json_string_value(jt) : "";
    size_t tlen = json_is_string(jt) ? json_string_length(jt) : 0;
    const char *body = json_is_string(jb) ? json_string_value(jb) : "";
    size_t blen = json_is_string(jb) ? json_string_length(jb) : 0;
    if (tlen == 0 && blen == 0) {
        bad_line(r, jf, lineno, "no \"title\" or \"text\"");
        goto done;
    }
    tlen = utf8_cut(title, tlen, CORPUS_MAX_TITLE);
    corpus_doc d = {id, idlen, title, tlen, body, blen};
    rc = deliver(r, &d);
done:
    json_decref(o);
    return rc;
}

static void line_too_long(reader *r, const file_entry *f,
                          unsigned long lineno)
{
    warn(r, "%s:%lu: line longer than the document size limit (%zu bytes); "
         "skipped", f->path, lineno, r->o->max_doc);
    r->rep->skipped[AS_SKIP_TOOBIG]++;
}

/* ---- Decompressing ahead -----------------------------------------------
 *
 * A JSONL file (gzip or not: gzin reads both) is decompressed on a thread
 * of its own, GZ_CHUNK bytes at a time into a ring of GZ_SLOTS chunks,
 * while the caller parses (in a build, also analyzes) the ones before:
 * inflating the wiki passages with zlib was a fifth of the reading
 * thread's time, and that thread is a build's critical path.  Each chunk
 * carries what gzin_read returned and, on an error, its message, so a
 * damaged file is reported exactly as when the caller reads it itself,
 * which it does when no thread starts. */

#define GZ_SLOTS 4
/* 256 KiB, not 64: each chunk taken wakes the decompressing thread, which
 * preempts one of the build's busy threads for a chunk's worth of work;
 * a build of the wiki passages made 16,800 futex calls and 14,000 context
 * switches with 64 KiB chunks, 4,900 and 3,700 with these. */
#define GZ_CHUNK (1 << 18)
/* Smaller files are read on the caller's thread: starting a thread costs
 * more than it saves on them. */
#define GZ_THREAD_MIN ((uint64_t)256 << 10)

typedef struct {
    unsigned char data[GZ_CHUNK];
    long got;           /* gzin_read's result */
    char msg[128];      /* when got < 0: gzin_error */
    uint64_t offset;    /* gzin_offset after the read */
} gz_chunk;

typedef struct {
    gzin *gz;
    gz_chunk *slot;     /* GZ_SLOTS for the ring, then the caller's own */
    int threaded;
    ring ring;
    pthread_t th;
} gz_ahead;

static void gz_fill(gzin *gz, gz_chunk *c)
{
    c->got = gzin_read(gz, c->data, GZ_CHUNK);
    c->offset = gzin_offset(gz);
    if (c->got < 0)
        snprintf(c->msg, sizeof c->msg, "%s", gzin_error(gz));
}

static void *gz_main(void *arg)
{
    gz_ahead *a = arg;
    for (long i; (i = ring_put(&a->ring)) >= 0;) {
        gz_fill(a->gz, &a->slot[i]);
        ring_publish(&a->ring);
        if (a->slot[i].got <= 0)
            break;              /* the caller reads no further */
    }
    ring_done(&a->ring);
    return NULL;
}

/* Start reading gz ahead (threaded: a file of size bytes or more than
 * GZ_THREAD_MIN); AS_ERR_NOMEM (gz stays the caller's). */
static int gz_start(gz_ahead *a, gzin *gz, uint64_t size)
{
    memset(a, 0, sizeof *a);
    a->gz = gz;
    a->slot = mem_alloc((GZ_SLOTS + 1) * sizeof *a->slot);
    if (!a->slot)
        return AS_ERR_NOMEM;
    if (size < GZ_THREAD_MIN || ring_init(&a->ring, GZ_SLOTS) != 0)
        return AS_OK;
    if (pthread_create(&a->th, NULL, gz_main, a) != 0) {
        ring_destroy(&a->ring);
        return AS_OK;
    }
    a->threaded = 1;
    return AS_OK;
}

/* The next chunk, valid until the next call. */
static const gz_chunk *gz_next(gz_ahead *a)
{
    gz_chunk *own = &a->slot[GZ_SLOTS];
    if (!a->threaded) {
        gz_fill(a->gz, own);
        return own;
    }
    long i = ring_get(&a->ring);
    if (i >= 0)
        return &a->slot[i];
    /* Cannot happen: the thread ends on the chunk that ends the file.
     * Reported as a cut file, never a hang. */
    own->got = -1;
    snprintf(own->msg, sizeof own->msg, "truncated gzip data");
    return own;
}

/* Stop the thread and close the file. */
static void gz_finish(gz_ahead *a)
{
    if (a->threaded) {
        ring_stop(&a->ring);
        pthread_join(a->th, NULL);
        ring_destroy(&a->ring);
    }
    mem_free(a->slot);
    gzin_close(a->gz);
}

static int read_jsonl(reader *r, const file_entry *f)
{
    gzin *gz = gzin_open(f->path);
    if (!gz) {
        if (errno == ENOMEM)
            return err_set(AS_ERR_NOMEM, "out of memory");
        warn(r, "%s: cannot open: %s", f->path, strerror(errno));
        r->rep->skipped[AS_SKIP_UNREADABLE]++;
        return AS_OK;
    }
    gz_ahead ga;
    if (gz_start(&ga, gz, (uint64_t)f->size)) {
        gzin_close(gz);
        return err_set(AS_ERR_NOMEM, "out of memory");
    }
    jsonl_file jf = {f->path, 0};
    r->rep->bytes_in += f->size;
    buf line;
    buf_init(&line);
    unsigned long lineno = 0;
    int rc = AS_OK, eof = 0;
    int skipping = 0;       /* 1: dropping a line over the size limit */
    size_t scan = 0;        /* bytes of line already searched for '\n' */
    r->rep->files++;
    while (rc == AS_OK && !eof) {
        if (buf_reserve(&line, GZ_CHUNK)) {
            rc = AS_ERR_NOMEM;
            break;
        }
        const gz_chunk *ch = gz_next(&ga);
        long got = ch->got;
        if (got < 0) {
            warn(r, "%s: %s after line %lu; the rest of the file is lost",
                 f->path, ch->msg, lineno);
            r->rep->skipped[AS_SKIP_TRUNCATED]++;
            break;
        }
        if (got == 0) {
            eof = 1;
            if (line.len > 0) {         /* a last line without '\n' */
                lineno++;
                rc = json_line(r, &jf, lineno, (const char *)line.p,
                               line.len);
                line.len = 0;
            }
            break;
        }
        memcpy(line.p + line.len, ch->data, (size_t)got);
        line.len += (size_t)got;
        if (skipping) {             /* the rest of a line over the limit */
            unsigned char *nl = memchr(line.p, '\n', line.len);
            size_t rest = nl ? line.len - (size_t)(nl + 1 - line.p) : 0;
            if (nl)
                memmove(line.p, nl + 1, rest);
            line.len = rest;
            scan = 0;
            skipping = !nl;
        }
        size_t start = 0;
        for (;;) {
            unsigned char *nl = memchr(line.p + scan, '\n', line.len - scan);
            if (!nl)
                break;
            size_t end = (size_t)(nl - line.p);
            lineno++;
            if (end - start > r->o->max_doc)
                line_too_long(r, f, lineno);
            else
                rc = json_line(r, &jf, lineno, (const char *)line.p + start,
                               end - start);
            if (rc)
                break;
            start = scan = end + 1;
        }
        if (start > 0) {
            memmove(line.p, line.p + start, line.len - start);
            line.len -= start;
        }
        if (line.len > r->o->max_doc) {
            line_too_long(r, f, ++lineno);
            skipping = 1;
            line.len = 0;
        }
        scan = line.len;
        progress(r, ch->offset, 0);
    }
    if (jf.bad > MAX_LINE_WARNINGS)
        warn(r, "%s: %lu more malformed lines skipped", f->path,
             jf.bad - MAX_LINE_WARNINGS);
    buf_free(&line);
    gz_finish(&ga);
    return rc;
}

/* ---- Files -------------------------------------------------------------- */

static int has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), m = strlen(ext);
    return n > m && strcasecmp(name + n - m, ext) == 0;
}

enum { F_NONE, F_TEXT, F_MD, F_HTML, F_JSONL };

static int file_kind(const char *name)
{
    if (has_ext(name, ".txt"))
        return F_TEXT;
    if (has_ext(name, ".md") || has_ext(name, ".markdown"))
        return F_MD;
    if (has_ext(name, ".html") || has_ext(name, ".htm"))
        return F_HTML;
    if (has_ext(name, ".jsonl") || has_ext(name, ".jsonl.gz") ||
        has_ext(name, ".ndjson") || has_ext(name, ".ndjson.gz"))
        return F_JSONL;
    return F_NONE;
}

/* Read a file, at most max bytes; *next is then the byte after them, or -1
 * at the end of the file.  *out is NUL-terminated. */
static int slurp(const char *path, size_t max, buf *out, int *errnum,
                 int *next)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        *errnum = errno;
        return AS_ERR_IO;
    }
    buf_clear(out);
    *next = -1;
    for (;;) {
        size_t want = max - out->len < (1 << 16) ? max - out->len : 1 << 16;
        int done;
        if (want == 0) {
            *next = fgetc(fp);
            done = 1;
        } else {
            if (buf_reserve(out, want)) {
                fclose(fp);
                return AS_ERR_NOMEM;
            }
            size_t got = fread(out->p + out->len, 1, want, fp);
            out->len += got;
            done = got < want;
        }
        if (done || ferror(fp)) {
            if (ferror(fp)) {
                *errnum = errno ? errno : EIO;
                fclose(fp);
                return AS_ERR_IO;
            }
            break;
        }
    }
    fclose(fp);
    buf_terminate(out);
    return out->err ? AS_ERR_NOMEM : AS_OK;
}

static int read_file(reader *r, const file_entry *f, buf *data, buf *fixed)
{
    int kind = file_kind(f->rel);
    if (kind == F_NONE) {
        r->rep->skipped[AS_SKIP_UNSUPPORTED]++;
        return AS_OK;
    }
    if (kind == F_JSONL)
        return read_jsonl(r, f);
    int errnum = 0, next;
    size_t max = r->o->max_doc;
    int rc = slurp(f->path, max, data, &errnum, &next);
    if (rc == AS_ERR_NOMEM)
        return rc;
    if (rc) {
        warn(r, "%s: cannot read: %s", f->path, strerror(errnum));
        r->rep->skipped[AS_SKIP_UNREADABLE]++;
        return AS_OK;
    }
    r->rep->bytes_in += data->len;
    const char *s = (const char *)data->p;
    size_t n = data->len;
    if (next >= 0) {
        /* Cut before the character the limit falls in. */
        for (int at = next; n > 0 && (at & 0xc0) == 0x80;)
            at = (unsigned char)s[--n];
        data->p[n] = '\0';
        data->len = n;
        warn(r, "%s: larger than the document size limit (%zu bytes); "
             "only its first %zu bytes are indexed", f->path, max, n);
        r->rep->cut++;
    }
    if (n == 0) {
        warn(r, "%s: empty; skipped", f->path);
        r->rep->skipped[AS_SKIP_EMPTY]++;
        return AS_OK;
    }
    if (memchr(s, '\0', n)) {
        warn(r, "%s: contains NUL bytes (a binary file?); skipped", f->path);
        r->rep->skipped[AS_SKIP_BINARY]++;
        return AS_OK;
    }
    size_t bad = corpus_fix_utf8(s, n, fixed);
    if (fixed->err)
        return AS_ERR_NOMEM;
    if (bad) {
        warn(r, "%s: %zu invalid UTF-8 sequence%s replaced by U+FFFD",
             f->path, bad, bad == 1 ? "" : "s");
        r->rep->replaced_utf8++;
        s = (const char *)fixed->p;
        n = fixed->len;
    }
    r->rep->files++;
    if (kind == F_HTML)
        return read_html(r, f, s, n);
    return read_text(r, f, s, n, kind == F_MD);
}

int corpus_read(const char *path, const corpus_opts *o, corpus_doc_fn fn,
                void *fnctx, as_build_report *rep)
{
    reader r = {0};
    corpus_opts opts = o ? *o : (corpus_opts){0};
    if (!opts.max_doc)
        opts.max_doc = AS_DEFAULT_MAX_DOC;
    r.o = &opts;
    r.fn = fn;
    r.fnctx = fnctx;
    r.rep = rep;
    clock_gettime(CLOCK_MONOTONIC, &r.start);
    r.last_progress = r.start;

    struct stat st;
    if (stat(path, &st) != 0)
        return err_set(AS_ERR_USAGE, "%s: %s", path, strerror(errno));
    int rc = AS_OK;
    if (S_ISDIR(st.st_mode)) {
        dir_id stack[MAX_DEPTH];
        stack[0] = (dir_id){st.st_dev, st.st_ino};
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/')
            n--;
        char *root = mem_strndup(path, n);
        if (!root)
            return err_set(AS_ERR_NOMEM, "out of memory");
        rc = walk(&r, root, "", stack, 0);
        mem_free(root);
    } else if (S_ISREG(st.st_mode)) {
        const char *base = strrchr(path, '/');
        rc = add_file(&r, path, base ? base + 1 : path, (uint64_t)st.st_size);
    } else {
        return err_set(AS_ERR_USAGE, "%s: not a file or folder", path);
    }

    for (int i = 0; i < 5; i++)
        buf_init(&r.json.scratch[i]);
    buf data, fixed;
    buf_init(&data);
    buf_init(&fixed);
    for (size_t i = 0; i < r.nfiles && rc == AS_OK; i++) {
        rc = read_file(&r, &r.files[i], &data, &fixed);
        r.files_done++;
        r.bytes_done += r.files[i].size;
        progress(&r, 0, i + 1 == r.nfiles);
        /* Do not keep a huge file's buffer for the rest of the walk. */
        if (data.cap > (64u << 20))
            buf_free(&data);
        if (fixed.cap > (64u << 20))
            buf_free(&fixed);
    }
    buf_free(&data);
    buf_free(&fixed);
    for (int i = 0; i < 5; i++)
        buf_free(&r.json.scratch[i]);
    for (size_t i = 0; i < r.nfiles; i++) {
        mem_free(r.files[i].path);
        mem_free(r.files[i].rel);
    }
    mem_free(r.files);
    if (rc == AS_ERR_NOMEM)
        return err_set(rc, "out of memory while reading %s", path);
    return rc;
}
