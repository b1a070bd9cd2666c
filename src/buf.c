/* buf.c - growable byte buffer. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "mem.h"

void buf_init(buf *b)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->err = AS_OK;
}

void buf_free(buf *b)
{
    mem_free(b->p);
    buf_init(b);
}

int buf_grow(buf *b, size_t extra)
{
    if (b->err)
        return b->err;
    if (extra > SIZE_MAX / 2 - b->len)
        return b->err = AS_ERR_NOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return AS_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    unsigned char *p = mem_realloc(b->p, cap);
    if (!p)
        return b->err = AS_ERR_NOMEM;
    b->p = p;
    b->cap = cap;
    return AS_OK;
}

void buf_append(buf *b, const void *p, size_t n)
{
    if (n == 0 || buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void buf_putc(buf *b, int c)
{
    if (buf_reserve(b, 1))
        return;
    b->p[b->len++] = (unsigned char)c;
}

void buf_puts(buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_put_u32(buf *b, uint32_t v)
{
    unsigned char t[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                          (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    buf_append(b, t, 4);
}

void buf_put_u64(buf *b, uint64_t v)
{
    buf_put_u32(b, (uint32_t)v);
    buf_put_u32(b, (uint32_t)(v >> 32));
}

void buf_terminate(buf *b)
{
    if (buf_reserve(b, 1))
        return;
    b->p[b->len] = '\0';
}
