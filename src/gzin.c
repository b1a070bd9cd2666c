/* gzin.c - gzip input through ISA-L's igzip (see gzin.h). */
#include "gzin.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

#define GZIN_BUF (1 << 18)      /* compressed bytes read at a time */

enum { G_RAW, G_HEADER, G_MEMBER, G_BETWEEN, G_END, G_ERROR };

struct gzin {
    int fd;
    int state;
    int eof;                    /* read() returned 0 */
    uint64_t read_bytes;        /* from the file so far */
    char msg[128];
    /* The compressed bytes not yet used are st.next_in[0..st.avail_in),
     * inside in[] (in G_RAW too). */
    struct inflate_state st;
    unsigned char in[GZIN_BUF];
};

static long fail(gzin *g, const char *msg)
{
    snprintf(g->msg, sizeof g->msg, "%s", msg);
    g->state = G_ERROR;
    return -1;
}

/* Move the unused bytes to the front of in[] and read more after them,
 * until at least want are there or the file ends.  0, or -1 on a read
 * error (reported). */
static int refill(gzin *g, size_t want)
{
    size_t have = g->st.avail_in;
    if (have > 0 && g->st.next_in != g->in)
        memmove(g->in, g->st.next_in, have);
    g->st.next_in = g->in;
    while (have < want && have < GZIN_BUF && !g->eof) {
        ssize_t r = read(g->fd, g->in + have, GZIN_BUF - have);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            g->st.avail_in = (uint32_t)have;
            fail(g, strerror(errno));
            return -1;
        }
        if (r == 0)
            g->eof = 1;
        have += (size_t)r;
        g->read_bytes += (uint64_t)r;
    }
    g->st.avail_in = (uint32_t)have;
    return 0;
}

/* The next byte of a member's header, added to *crc: 0 to 255, -1 at
 * the end of the file, -2 on a read error (reported). */
static int header_byte(gzin *g, uint32_t *crc)
{
    if (g->st.avail_in == 0 && refill(g, 1))
        return -2;
    if (g->st.avail_in == 0)
        return -1;
    unsigned char c = *g->st.next_in++;
    g->st.avail_in--;
    *crc = crc32_gzip_refl(*crc, &c, 1);
    return c;
}

/* Read a member's header (RFC 1952) and set igzip to inflate what
 * follows and check the trailer.  igzip can parse headers too, but not
 * one longer than the input it is given at once: a file name of 300 KB,
 * which zlib reads, came out as "invalid deflate block".  0, or -1 on an
 * error (reported). */
static int read_header(gzin *g)
{
    uint32_t crc = 0;
    int b[10], c = 0;
    for (int i = 0; i < 10; i++)
        if ((c = b[i] = header_byte(g, &crc)) < 0)
            goto cut;
    if (b[2] != 8)
        return (int)fail(g, "unknown compression method");
    if (b[3] & 0xe0)
        return (int)fail(g, "unknown header flags set");
    if (b[3] & 4) {                     /* FEXTRA: a length, the bytes */
        int lo, hi;
        if ((c = lo = header_byte(g, &crc)) < 0 ||
            (c = hi = header_byte(g, &crc)) < 0)
            goto cut;
        for (long n = lo | hi << 8; n > 0; n--)
            if ((c = header_byte(g, &crc)) < 0)
                goto cut;
    }
    for (int flag = 8; flag <= 16; flag *= 2) { /* FNAME, FCOMMENT */
        if (b[3] & flag) {
            while ((c = header_byte(g, &crc)) > 0)
                ;
            if (c < 0)
                goto cut;
        }
    }
    if (b[3] & 2) {                     /* FHCRC: the CRC's low 16 bits */
        uint32_t want = crc & 0xffff, unused = 0;
        int lo, hi;
        if ((c = lo = header_byte(g, &unused)) < 0 ||
            (c = hi = header_byte(g, &unused)) < 0)
            goto cut;
        if ((uint32_t)(lo | hi << 8) != want)
            return (int)fail(g, "header crc mismatch");
    }
    unsigned char *next = g->st.next_in;
    uint32_t avail = g->st.avail_in;
    isal_inflate_init(&g->st);      /* resets next_in and avail_in too */
    g->st.crc_flag = ISAL_GZIP_NO_HDR_VER;  /* the trailer is checked */
    g->st.next_in = next;
    g->st.avail_in = avail;
    g->state = G_MEMBER;
    return 0;
cut:
    return c == -1 ? (int)fail(g, "truncated gzip data") : -1;
}

static int is_member(const gzin *g)
{
    return g->st.avail_in >= 2 && g->st.next_in[0] == 0x1f &&
           g->st.next_in[1] == 0x8b;
}

gzin *gzin_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    gzin *g = mem_alloc(sizeof *g);
    if (!g) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    memset(g, 0, offsetof(gzin, in));
    g->fd = fd;
    g->st.next_in = g->in;
    g->st.avail_in = 0;
    g->state = G_RAW;
    if (refill(g, 2) == 0 && is_member(g))
        g->state = G_HEADER;
    return g;
}

static const char *isal_message(int r)
{
    switch (r) {
    case ISAL_INVALID_BLOCK:
        return "invalid deflate block";
    case ISAL_INVALID_SYMBOL:
        return "invalid deflate code";
    case ISAL_INVALID_LOOKBACK:
        return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER:
        return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD:
        return "unknown compression method";
    case ISAL_INCORRECT_CHECKSUM:
        return "incorrect data check";
    default:
        return "corrupt gzip data";
    }
}

static long read_raw(gzin *g, unsigned char *dst, size_t n)
{
    if (g->st.avail_in > 0) {
        size_t k = g->st.avail_in < n ? g->st.avail_in : n;
        memcpy(dst, g->st.next_in, k);
        g->st.next_in += k;
        g->st.avail_in -= (uint32_t)k;
        return (long)k;
    }
    for (;;) {
        ssize_t r = read(g->fd, dst, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail(g, strerror(errno));
        g->read_bytes += (uint64_t)r;
        return (long)r;
    }
}

long gzin_read(gzin *g, void *dst, size_t n)
{
    if (n > UINT32_MAX)
        n = UINT32_MAX;
    if (g->state == G_ERROR)
        return -1;
    if (g->state == G_RAW)
        return read_raw(g, dst, n);
    for (;;) {
        if (g->state == G_END)
            return 0;
        if (g->state == G_BETWEEN) {
            /* Another member, or the end (whatever else follows is
             * ignored). */
            if (g->st.avail_in < 2 && refill(g, 2))
                return -1;
            if (!is_member(g)) {
                g->state = G_END;
                return 0;
            }
            g->state = G_HEADER;
        }
        if (g->state == G_HEADER && read_header(g))
            return -1;
        uint32_t before = g->st.avail_in;
        g->st.next_out = dst;
        g->st.avail_out = (uint32_t)n;
        int r = isal_inflate(&g->st);
        if (r < 0)
            return fail(g, isal_message(r));
        long got = (long)(n - g->st.avail_out);
        if (g->st.block_state == ISAL_BLOCK_FINISH) {
            g->state = G_BETWEEN;
        } else if (got == 0 &&
                   (g->st.avail_in == 0 || g->st.avail_in == before)) {
            /* It needs more input than it has. */
            uint32_t had = g->st.avail_in;
            if (refill(g, (size_t)had + 1))
                return -1;
            if (g->st.avail_in == had)
                return fail(g, "truncated gzip data");
        }
        if (got > 0)
            return got;
    }
}

const char *gzin_error(const gzin *g)
{
    return g->msg;
}

uint64_t gzin_offset(const gzin *g)
{
    return g->read_bytes - g->st.avail_in;
}

void gzin_close(gzin *g)
{
    if (!g)
        return;
    close(g->fd);
    mem_free(g);
}
