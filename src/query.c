/* query.c - lexing and parsing the query language (grammar in query.h). */
#include "query.h"

#include <string.h>

#include "artsearch.h"
#include "err.h"
#include "mem.h"

/* ---- Lexer -------------------------------------------------------------- */

enum { T_END, T_LPAREN, T_RPAREN, T_AND, T_OR, T_NOT, T_WORD, T_PHRASE };

typedef struct {
    int type;
    int occur;              /* from a leading + or - */
    int title;              /* title: */
    int prefix;             /* word ending in '*' */
    const char *s;          /* word or phrase text */
    size_t len;
} token;

typedef struct {
    const char *s;
    size_t len, i;
    token tok;              /* the current token */
    analyzer *an;
    query *q;
    int rc;
} parser;

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* A word runs to white space, a parenthesis or a quote. */
static int word_end(char c)
{
    return is_space(c) || c == '(' || c == ')' || c == '"';
}

static void lex(parser *p)
{
    token *t = &p->tok;
    memset(t, 0, sizeof *t);
    const char *s = p->s;
    size_t n = p->len;
    for (;;) {
        while (p->i < n && is_space(s[p->i]))
            p->i++;
        if (p->i >= n) {
            t->type = T_END;
            return;
        }
        /* + or - directly before a word, phrase or group. */
        if ((s[p->i] == '+' || s[p->i] == '-') && p->i + 1 < n &&
            !is_space(s[p->i + 1]) && s[p->i + 1] != ')' &&
            s[p->i + 1] != '+' && s[p->i + 1] != '-') {
            t->occur = s[p->i] == '+' ? Q_MUST : Q_NOT;
            p->i++;
        }
        if (n - p->i > 6 && strncmp(s + p->i, "title:", 6) == 0 &&
            !is_space(s[p->i + 6]) && s[p->i + 6] != ')') {
            t->title = 1;
            p->i += 6;
        }
        char c = s[p->i];
        if (c == '(') {
            p->i++;
            t->type = T_LPAREN;
            return;
        }
        if (c == ')') {
            p->i++;
            t->type = T_RPAREN;
            return;
        }
        if (c == '"') {
            size_t start = ++p->i;
            while (p->i < n && s[p->i] != '"')
                p->i++;
            t->type = T_PHRASE;
            t->s = s + start;
            t->len = p->i - start;
            if (p->i < n)
                p->i++;
            return;
        }
        size_t start = p->i;
        while (p->i < n && !word_end(s[p->i]))
            p->i++;
        t->s = s + start;
        t->len = p->i - start;
        t->type = T_WORD;
        if (!t->occur && !t->title) {
            if (t->len == 3 && memcmp(t->s, "AND", 3) == 0)
                t->type = T_AND;
            else if (t->len == 2 && memcmp(t->s, "OR", 2) == 0)
                t->type = T_OR;
            else if (t->len == 3 && memcmp(t->s, "NOT", 3) == 0)
                t->type = T_NOT;
        }
        if (t->type == T_WORD) {
            while (t->len > 0 && t->s[t->len - 1] == '*') {
                t->len--;
                t->prefix = 1;
            }
            if (t->len == 0)
                continue;       /* a lone '*' (or "+*"): punctuation */
        }
        return;
    }
}

/* ---- Tree building ------------------------------------------------------ */

static int32_t new_node(parser *p, int type, int occur, int title)
{
    query *q = p->q;
    if (p->rc)
        return -1;
    if (q->nnodes == q->capnodes) {
        size_t cap = q->capnodes ? q->capnodes * 2 : 16;
        qnode *v = mem_realloc(q->nodes, cap * sizeof *v);
        if (!v) {
            p->rc = err_set(AS_ERR_NOMEM, "out of memory");
            return -1;
        }
        q->nodes = v;
        q->capnodes = cap;
    }
    qnode *x = &q->nodes[q->nnodes];
    memset(x, 0, sizeof *x);
    x->type = type;
    x->occur = occur;
    x->title = title;
    x->kid = x->next = -1;
    x->first = (uint32_t)q->nterms;
    return (int32_t)q->nnodes++;
}

static int add_term(parser *p, const char *term, size_t len, uint32_t pos)
{
    query *q = p->q;
    if (q->nterms >= QUERY_MAX_TERMS)
        return p->rc = err_set(AS_ERR_TOOLONG, "query of more than %d terms",
                               QUERY_MAX_TERMS);
    if (q->nterms == q->capterms) {
        size_t cap = q->capterms ? q->capterms * 2 : 16;
        qterm *v = mem_realloc(q->terms, cap * sizeof *v);
        if (!v)
            return p->rc = err_set(AS_ERR_NOMEM, "out of memory");
        q->terms = v;
        q->capterms = cap;
    }
    qterm *t = &q->terms[q->nterms++];
    t->off = (uint32_t)q->text.len;
    t->len = (uint32_t)len;
    t->pos = pos;
    buf_append(&q->text, term, len);
    if (q->text.err)
        return p->rc = err_set(AS_ERR_NOMEM, "out of memory");
    return 0;
}

/* Analyzed tokens of a word or phrase, collected before nodes are made. */
typedef struct {
    parser *p;
    uint32_t last_pos;
    int any;
    int phrase;             /* keep one term per position */
} collect;

static int on_token(void *ctx, const an_token *t)
{
    collect *c = ctx;
    /* A hyphen compound adds its glued form at its first word's
     * position: a phrase keeps the separate words. */
    if (c->phrase && c->any && t->pos <= c->last_pos)
        return 0;
    c->any = 1;
    c->last_pos = t->pos;
    return add_term(c->p, t->term, t->len, t->pos);
}

static void link_kid(query *q, int32_t group, int32_t *last, int32_t kid)
{
    if (*last < 0)
        q->nodes[group].kid = kid;
    else
        q->nodes[*last].next = kid;
    *last = kid;
}

/* A word, prefix or phrase: a node, or -1 when it yields no term. */
static int32_t leaf(parser *p, const token *t, int title)
{
    query *q = p->q;
    size_t first = q->nterms;
    collect c = {p, 0, 0, t->type == T_PHRASE};
    uint32_t pos = 0;
    if (t->prefix)
        analyzer_set_stemming(p->an, 0);
    int rc = analyzer_run(p->an, t->s, t->len, &pos, on_token, &c);
    if (t->prefix)
        analyzer_set_stemming(p->an, 1);
    if (rc && !p->rc)
        p->rc = err_set(AS_ERR_NOMEM, "out of memory");
    if (p->rc)
        return -1;
    size_t n = q->nterms - first;
    if (n == 0)
        return -1;
    if (t->type == T_PHRASE && n > 1) {
        uint32_t base = q->terms[first].pos;
        for (size_t i = first; i < q->nterms; i++)
            q->terms[i].pos -= base;
        int32_t x = new_node(p, QN_PHRASE, t->occur, title);
        if (x >= 0) {
            q->nodes[x].first = (uint32_t)first;
            q->nodes[x].n = (uint32_t)n;
        }
        return x;
    }
    int type = t->prefix ? QN_PREFIX : QN_TERM;
    if (n == 1) {
        int32_t x = new_node(p, type, t->occur, title);
        if (x >= 0) {
            q->nodes[x].first = (uint32_t)first;
            q->nodes[x].n = 1;
        }
        return x;
    }
    /* Several terms from one word: a group of optional terms. */
    int32_t g = new_node(p, QN_GROUP, t->occur, title), last = -1;
    for (size_t i = first; i < first + n && g >= 0; i++) {
        int32_t x = new_node(p, type, Q_SHOULD, title);
        if (x < 0)
            return -1;
        q->nodes[x].first = (uint32_t)i;
        q->nodes[x].n = 1;
        link_kid(q, g, &last, x);
    }
    return g;
}

static int32_t parse_sequence(parser *p, int depth, int title);

static int32_t parse_primary(parser *p, int depth, int title)
{
    while (p->tok.type == T_LPAREN && depth >= QUERY_MAX_DEPTH)
        lex(p);                 /* too deep: ignored */
    token t = p->tok;
    int ftitle = title || t.title;
    if (t.type == T_LPAREN) {
        lex(p);
        int32_t g = parse_sequence(p, depth + 1, ftitle);
        if (p->tok.type == T_RPAREN)
            lex(p);
        if (g >= 0 && t.occur != Q_SHOULD)
            p->q->nodes[g].occur = t.occur;
        return g;
    }
    if (t.type == T_WORD || t.type == T_PHRASE) {
        lex(p);
        return leaf(p, &t, ftitle);
    }
    return -1;
}

static int32_t parse_unary(parser *p, int depth, int title)
{
    int not = 0;
    while (p->tok.type == T_NOT) {
        lex(p);
        not = 1;
    }
    int32_t x = parse_primary(p, depth, title);
    if (x >= 0 && not)
        p->q->nodes[x].occur = Q_NOT;
    return x;
}

/* Operands joined by AND (every one required) or OR (optional). */
static int32_t parse_chain(parser *p, int depth, int title, int op)
{
    int32_t first = op == T_AND ? parse_unary(p, depth, title)
                                : parse_chain(p, depth, title, T_AND);
    if (p->tok.type != op)
        return first;
    query *q = p->q;
    int32_t g = new_node(p, QN_GROUP, Q_SHOULD, title), last = -1;
    if (g < 0)
        return -1;
    int32_t x = first;
    for (;;) {
        if (x >= 0) {
            if (op == T_AND && q->nodes[x].occur == Q_SHOULD)
                q->nodes[x].occur = Q_MUST;
            link_kid(q, g, &last, x);
        }
        if (p->tok.type != op || p->rc)
            break;
        lex(p);
        x = op == T_AND ? parse_unary(p, depth, title)
                        : parse_chain(p, depth, title, T_AND);
    }
    return q->nodes[g].kid >= 0 ? g : -1;
}

static int32_t parse_sequence(parser *p, int depth, int title)
{
    query *q = p->q;
    int32_t g = new_node(p, QN_GROUP, Q_SHOULD, title), last = -1;
    if (g < 0)
        return -1;
    while (!p->rc && p->tok.type != T_END) {
        if (p->tok.type == T_RPAREN) {
            if (depth > 0)
                break;
            lex(p);             /* unmatched: ignored */
            continue;
        }
        if (p->tok.type == T_AND || p->tok.type == T_OR) {
            lex(p);             /* no left operand: dropped */
            continue;
        }
        int32_t x = parse_chain(p, depth, title, T_OR);
        if (x >= 0)
            link_kid(q, g, &last, x);
    }
    return q->nodes[g].kid >= 0 ? g : -1;
}

/* A group's optional child that is itself a group of optional clauses
 * only adds the same documents and the same scores as its clauses would:
 * splice its clauses into the parent.  Then a group of one clause is that
 * clause. */
static int32_t simplify(query *q, int32_t g)
{
    if (g < 0 || q->nodes[g].type != QN_GROUP)
        return g;
    int32_t last = -1, x = q->nodes[g].kid;
    q->nodes[g].kid = -1;
    while (x >= 0) {
        int32_t next = q->nodes[x].next;
        q->nodes[x].next = -1;
        x = simplify(q, x);
        qnode *k = &q->nodes[x];
        int pure = k->type == QN_GROUP && k->occur == Q_SHOULD;
        for (int32_t y = pure ? k->kid : -1; y >= 0; y = q->nodes[y].next)
            if (q->nodes[y].occur != Q_SHOULD)
                pure = 0;
        if (pure) {
            for (int32_t y = k->kid, ny; y >= 0; y = ny) {
                ny = q->nodes[y].next;
                q->nodes[y].next = -1;
                link_kid(q, g, &last, y);
            }
        } else {
            link_kid(q, g, &last, x);
        }
        x = next;
    }
    int32_t only = q->nodes[g].kid;
    if (only >= 0 && q->nodes[only].next < 0 &&
        q->nodes[only].type == QN_GROUP) {
        int occur = q->nodes[g].occur;
        if (q->nodes[only].occur == Q_SHOULD ||
            q->nodes[only].occur == Q_MUST) {
            q->nodes[only].occur = occur;
            return only;
        }
    }
    return g;
}

int query_parse(analyzer *an, const char *text, size_t len, query **out)
{
    *out = NULL;
    query *q = mem_calloc(1, sizeof *q);
    if (!q)
        return err_set(AS_ERR_NOMEM, "out of memory");
    buf_init(&q->text);
    parser p = {text, len, 0, {0}, an, q, 0};
    lex(&p);
    q->root = parse_sequence(&p, 0, 0);
    if (p.rc) {
        query_free(q);
        return p.rc;
    }
    q->root = simplify(q, q->root);
    if (q->root >= 0 && q->nodes[q->root].type != QN_GROUP) {
        /* Keep the root a group. */
        int32_t g = new_node(&p, QN_GROUP, Q_SHOULD, 0), last = -1;
        if (p.rc) {
            query_free(q);
            return p.rc;
        }
        link_kid(q, g, &last, q->root);
        q->root = g;
    }
    q->flat = q->root >= 0;
    if (q->root >= 0)
        for (int32_t x = q->nodes[q->root].kid; x >= 0; x = q->nodes[x].next)
            if (q->nodes[x].type != QN_TERM || q->nodes[x].occur != Q_SHOULD ||
                q->nodes[x].title)
                q->flat = 0;
    *out = q;
    return AS_OK;
}

void query_free(query *q)
{
    if (!q)
        return;
    mem_free(q->nodes);
    mem_free(q->terms);
    buf_free(&q->text);
    mem_free(q);
}

static void describe(const query *q, int32_t x, int top, buf *out)
{
    const qnode *n = &q->nodes[x];
    if (n->occur == Q_MUST)
        buf_putc(out, '+');
    else if (n->occur == Q_NOT)
        buf_putc(out, '-');
    if (n->title && n->type != QN_GROUP)
        buf_append(out, "title:", 6);
    if (n->type == QN_GROUP) {
        if (!top)
            buf_putc(out, '(');
        for (int32_t k = n->kid; k >= 0; k = q->nodes[k].next) {
            describe(q, k, 0, out);
            if (q->nodes[k].next >= 0)
                buf_putc(out, ' ');
        }
        if (!top)
            buf_putc(out, ')');
        return;
    }
    if (n->type == QN_PHRASE)
        buf_putc(out, '"');
    for (uint32_t i = 0; i < n->n; i++) {
        uint32_t len;
        const char *t = query_term(q, n->first + i, &len);
        if (i)
            buf_putc(out, ' ');
        buf_append(out, t, len);
    }
    if (n->type == QN_PHRASE)
        buf_putc(out, '"');
    if (n->type == QN_PREFIX)
        buf_putc(out, '*');
}

void query_describe(const query *q, buf *out)
{
    if (q->root >= 0)
        describe(q, q->root, 1, out);
}
