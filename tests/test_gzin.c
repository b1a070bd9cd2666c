/* test_gzin.c - gzip input through ISA-L: plain files, one and several
 * members, headers with a name, and every way a file can be damaged. */
#include "testutil.h"

#include <errno.h>
#include <zlib.h>

#include "gzin.h"

/* n bytes of text with some noise in it, so that compressed it spans
 * several of gzin's 256 KiB input buffers. */
static unsigned char *make_content(size_t n)
{
    unsigned char *p = malloc(n);
    assert_non_null(p);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (x % 7 == 0) ? (unsigned char)(x >> 24)
                            : (unsigned char)("the sciatic nerve "[i % 18]);
    }
    return p;
}

/* A gzip member of p[0..n), written by zlib, with the header fields of
 * h (NULL: none). */
static size_t gzip_member_hdr(unsigned char *out, size_t cap,
                              const unsigned char *p, size_t n, gz_header *h)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8,
                                  Z_DEFAULT_STRATEGY), Z_OK);
    if (h)
        assert_int_equal(deflateSetHeader(&z, h), Z_OK);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t o = z.total_out;
    deflateEnd(&z);
    return o;
}

/* With the file name in the header when name is not NULL (as the gzip
 * command writes it). */
static size_t gzip_member(unsigned char *out, size_t cap,
                          const unsigned char *p, size_t n, const char *name)
{
    gz_header h;
    memset(&h, 0, sizeof h);
    h.name = (Bytef *)name;
    return gzip_member_hdr(out, cap, p, n, name ? &h : NULL);
}

/* Read all of path step bytes at a time into *out; returns the last
 * gzin_read result (0 at a clean end, -1 on an error) and copies the
 * error message into msg. */
static long read_all(const char *path, size_t step, unsigned char **out,
                     size_t *outlen, char *msg, size_t msgcap,
                     uint64_t *offset)
{
    gzin *g = gzin_open(path);
    assert_non_null(g);
    size_t cap = 1 << 16, len = 0;
    unsigned char *p = malloc(cap);
    unsigned char *chunk = malloc(step);
    assert_non_null(p);
    assert_non_null(chunk);
    long r;
    while ((r = gzin_read(g, chunk, step)) > 0) {
        assert_true((size_t)r <= step);
        if (len + (size_t)r > cap) {
            cap = 2 * (len + (size_t)r);
            p = realloc(p, cap);
            assert_non_null(p);
        }
        memcpy(p + len, chunk, (size_t)r);
        len += (size_t)r;
    }
    snprintf(msg, msgcap, "%s", gzin_error(g));
    if (offset)
        *offset = gzin_offset(g);
    /* The end, or the error, stays. */
    assert_int_equal(gzin_read(g, chunk, step), r);
    gzin_close(g);
    free(chunk);
    *out = p;
    *outlen = len;
    return r;
}

typedef struct {
    char *dir;
    char path[4200];
    unsigned char *content;
    size_t n;
    unsigned char *gz;      /* room for members */
    size_t gzcap;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/f.gz", f->dir);
    f->n = 3u << 20;
    f->content = make_content(f->n);
    f->gzcap = 3 * f->n + 4096;
    f->gz = malloc(f->gzcap);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rmrf(f->dir);
    free(f->dir);
    free(f->content);
    free(f->gz);
    free(f);
    return 0;
}

static void test_plain_files(void **state)
{
    fixture *f = *state;
    static const size_t steps[] = {7, 65536, 1 << 20};
    unsigned char *out;
    size_t len;
    char msg[256];
    uint64_t off;
    /* Not gzip: read as it is, whatever the step. */
    tu_write(f->path, f->content, f->n);
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        assert_int_equal(read_all(f->path, steps[i], &out, &len, msg,
                                  sizeof msg, &off), 0);
        assert_int_equal(len, f->n);
        assert_memory_equal(out, f->content, f->n);
        assert_int_equal(off, f->n);
        free(out);
    }
    /* Empty, one byte (the first magic byte alone), two bytes. */
    static const char *const smalls[] = {"", "\x1f", "\x1f\x7f"};
    for (int i = 0; i < 3; i++) {
        tu_write(f->path, smalls[i], strlen(smalls[i]));
        assert_int_equal(read_all(f->path, 1, &out, &len, msg, sizeof msg,
                                  NULL), 0);
        assert_int_equal(len, strlen(smalls[i]));
        assert_memory_equal(out, smalls[i], len);
        free(out);
    }
    errno = 0;
    assert_null(gzin_open("/nonexistent/artsearch/f.gz"));
    assert_int_equal(errno, ENOENT);
}

static void test_one_member(void **state)
{
    fixture *f = *state;
    size_t zn = gzip_member(f->gz, f->gzcap, f->content, f->n, NULL);
    tu_write(f->path, f->gz, zn);
    static const size_t steps[] = {7, 4096, 65536, 1 << 22};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        unsigned char *out;
        size_t len;
        char msg[256];
        uint64_t off;
        assert_int_equal(read_all(f->path, steps[i], &out, &len, msg,
                                  sizeof msg, &off), 0);
        assert_int_equal(len, f->n);
        assert_memory_equal(out, f->content, f->n);
        assert_int_equal(off, zn);
        assert_string_equal(msg, "");
        free(out);
    }
}

/* Several members (with a name in the header) read as one stream;
 * bytes after the last member that are no member are ignored. */
static void test_members_and_trailing_bytes(void **state)
{
    fixture *f = *state;
    size_t cut[] = {0, 1000, 1001, 2u << 20, f->n};
    size_t zn = 0;
    for (int i = 0; i < 4; i++)
        zn += gzip_member(f->gz + zn, f->gzcap - zn, f->content + cut[i],
                          cut[i + 1] - cut[i], i % 2 ? "part.jsonl" : NULL);
    /* An empty member too. */
    zn += gzip_member(f->gz + zn, f->gzcap - zn, f->content, 0, NULL);
    memcpy(f->gz + zn, "\n\0\0garbage", 10);
    for (int garbage = 0; garbage < 2; garbage++) {
        tu_write(f->path, f->gz, zn + (garbage ? 10 : 0));
        unsigned char *out;
        size_t len;
        char msg[256];
        assert_int_equal(read_all(f->path, 65536, &out, &len, msg,
                                  sizeof msg, NULL), 0);
        assert_int_equal(len, f->n);
        assert_memory_equal(out, f->content, f->n);
        free(out);
    }
}

/* A file cut anywhere (inside the header, the data or the trailer) is an
 * error, "truncated gzip data", after a prefix of the content. */
static void test_truncated(void **state)
{
    fixture *f = *state;
    size_t zn = gzip_member(f->gz, f->gzcap, f->content, f->n, "n");
    size_t keeps[] = {5, 12, zn / 2, zn - 8, zn - 4, zn - 1};
    for (size_t i = 0; i < sizeof keeps / sizeof *keeps; i++) {
        tu_write(f->path, f->gz, keeps[i]);
        unsigned char *out;
        size_t len;
        char msg[256];
        assert_int_equal(read_all(f->path, 65536, &out, &len, msg,
                                  sizeof msg, NULL), -1);
        assert_string_equal(msg, "truncated gzip data");
        assert_true(len <= f->n);
        assert_memory_equal(out, f->content, len);
        free(out);
    }
}

/* A wrong CRC or length in the trailer, and damaged deflate data, are
 * errors; nothing crashes and what came before is the content. */
static void test_damaged(void **state)
{
    fixture *f = *state;
    size_t zn = gzip_member(f->gz, f->gzcap, f->content, f->n, NULL);
    unsigned char *out;
    size_t len;
    char msg[256];
    f->gz[zn - 8] ^= 1;                         /* the CRC */
    tu_write(f->path, f->gz, zn);
    assert_int_equal(read_all(f->path, 65536, &out, &len, msg, sizeof msg,
                              NULL), -1);
    assert_string_equal(msg, "incorrect data check");
    free(out);
    f->gz[zn - 8] ^= 1;
    f->gz[zn - 2] ^= 1;                         /* the length */
    tu_write(f->path, f->gz, zn);
    assert_int_equal(read_all(f->path, 65536, &out, &len, msg, sizeof msg,
                              NULL), -1);
    assert_true(strlen(msg) > 0);
    free(out);
    f->gz[zn - 2] ^= 1;
    /* Bytes overwritten at several places in the data. */
    for (size_t at = 10; at < zn - 8; at += zn / 7) {
        unsigned char saved[64];
        memcpy(saved, f->gz + at, sizeof saved);
        memset(f->gz + at, 0xa5, sizeof saved);
        tu_write(f->path, f->gz, zn);
        long r = read_all(f->path, 65536, &out, &len, msg, sizeof msg, NULL);
        assert_int_equal(r, -1);
        assert_true(strlen(msg) > 0);
        assert_true(len <= f->n);
        free(out);
        memcpy(f->gz + at, saved, sizeof saved);
    }
    /* A header that is not deflate. */
    f->gz[2] = 7;
    tu_write(f->path, f->gz, zn);
    assert_int_equal(read_all(f->path, 65536, &out, &len, msg, sizeof msg,
                              NULL), -1);
    assert_int_equal(len, 0);
    free(out);
}

/* Every optional header field (extra, name, comment, header CRC), one
 * far longer than gzin's 256 KiB input buffer; a wrong header CRC, flags
 * no gzip knows, and a file cut inside the name. */
static void test_headers(void **state)
{
    fixture *f = *state;
    size_t big = 600000;
    char *name = malloc(big + 1);
    unsigned char *extra = malloc(65535);
    assert_non_null(name);
    assert_non_null(extra);
    memset(name, 'n', big);
    name[big] = '\0';
    memset(extra, 'x', 65535);
    unsigned char *out;
    size_t len;
    char msg[256];
    for (int variant = 0; variant < 3; variant++) {
        gz_header h;
        memset(&h, 0, sizeof h);
        h.name = (Bytef *)(variant == 1 ? "short.jsonl" : name);
        h.comment = (Bytef *)(variant == 2 ? name : "a comment");
        h.extra = extra;
        h.extra_len = variant == 0 ? 65535 : 3;
        h.hcrc = variant != 2;
        size_t zn = gzip_member_hdr(f->gz, f->gzcap, f->content, f->n, &h);
        /* Two members with these headers, one after the other. */
        memcpy(f->gz + zn, f->gz, zn);
        tu_write(f->path, f->gz, 2 * zn);
        assert_int_equal(read_all(f->path, 65536, &out, &len, msg,
                                  sizeof msg, NULL), 0);
        assert_int_equal(len, 2 * f->n);
        assert_memory_equal(out, f->content, f->n);
        assert_memory_equal(out + f->n, f->content, f->n);
        free(out);
        if (variant == 0) {
            /* Cut inside the name. */
            tu_write(f->path, f->gz, 10 + 2 + 65535 + big / 2);
            assert_int_equal(read_all(f->path, 65536, &out, &len, msg,
                                      sizeof msg, NULL), -1);
            assert_string_equal(msg, "truncated gzip data");
            assert_int_equal(len, 0);
            free(out);
        }
        if (variant == 1) {
            /* The header's CRC (the two bytes before the data) wrong. */
            size_t at = 10 + 2 + 3 + strlen("short.jsonl") + 1 +
                        strlen("a comment") + 1;
            f->gz[at] ^= 1;
            tu_write(f->path, f->gz, zn);
            assert_int_equal(read_all(f->path, 65536, &out, &len, msg,
                                      sizeof msg, NULL), -1);
            assert_string_equal(msg, "header crc mismatch");
            free(out);
            f->gz[at] ^= 1;
            /* A flag no gzip version defines. */
            f->gz[3] |= 0x20;
            tu_write(f->path, f->gz, zn);
            assert_int_equal(read_all(f->path, 65536, &out, &len, msg,
                                      sizeof msg, NULL), -1);
            assert_string_equal(msg, "unknown header flags set");
            assert_int_equal(len, 0);
            free(out);
        }
    }
    free(name);
    free(extra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_files),
        cmocka_unit_test(test_one_member),
        cmocka_unit_test(test_members_and_trailing_bytes),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_headers),
    };
    return cmocka_run_group_tests_name("gzin", tests, setup, teardown);
}
