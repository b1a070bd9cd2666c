/* gzin.c - gzip input through ISA-L's igzip (see gzin.h). */
#include "gzin.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <isa-l/igzip_lib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

#define GZIN_BUF (1 << 18)      /* compressed bytes read at a time */

enum { G_RAW, G_MEMBER, G_BETWEEN, G_END, G_ERROR };

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

static void start_member(gzin *g)
{
    unsigned char *next = g->st.next_in;
    uint32_t avail = g->st.avail_in;
    isal_inflate_init(&g->st);      /* resets next_in and avail_in too */
    g->st.crc_flag = ISAL_GZIP;     /* parse the header, check the trailer */
    g->st.next_in = next;
    g->st.avail_in = avail;
    g->state = G_MEMBER;
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
        start_member(g);
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
            start_member(g);
        }
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
