/* fuzz_index.c - libFuzzer target: open and query an index made of
 * arbitrary bytes.  The first input byte picks what to damage in a copy of
 * a valid index:
 *   0..5  a segment file (terms.lex ... store.ds): the rest of the input
 *         is (u24 offset, u8 value) patches applied at offset % size, so
 *         the file keeps the size the manifest expects and opening gets
 *         past the size checks to the decoders;
 *   6     the MANIFEST: replaced by the rest of the input.
 * Then queries (plain, phrase, prefix, boolean, with snippets), stats and
 * check must fail cleanly or succeed. */
#include <dirent.h>
#include <stdint.h>

#include "fuzz_util.h"

static char good[700], work[700];
static const char *const files[] = {"terms.lex", "postings.pst",
                                    "positions.pos", "norms.nrm", "docs.dt",
                                    "store.ds"};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *d = malloc((size_t)len + 1);
    if (fread(d, 1, (size_t)len, f) != (size_t)len)
        abort();
    fclose(f);
    *n = (size_t)len;
    return d;
}

static void spill(const char *p, const void *d, size_t n)
{
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(d, 1, n, f) != n))
        abort();
    fclose(f);
}

/* The generation folder named gen-* inside dir. */
static void gen_of(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    out[0] = '\0';
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, "gen-", 4) == 0)
            snprintf(out, cap, "%s/%s", dir, e->d_name);
    if (d)
        closedir(d);
    if (!out[0])
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(good, sizeof good, "%s", fuzz_index_dir());
    snprintf(work, sizeof work, "%s/work", fuzz_scratch());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16)
        return 0;
    char cmd[2000], g[1200], w[1200], p[1400];
    fuzz_rm(work);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", good, work);
    if (system(cmd) != 0)
        abort();
    gen_of(good, g, sizeof g);
    gen_of(work, w, sizeof w);
    int target = data[0] % 7;
    if (target < 6) {
        snprintf(p, sizeof p, "%s/%s", w, files[target]);
        size_t n;
        unsigned char *d = slurp(p, &n);
        for (size_t i = 1; i + 4 <= size && n > 0; i += 4) {
            size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8 |
                          (size_t)data[i + 2] << 16) % n;
            d[off] = data[i + 3];
        }
        spill(p, d, n);
        free(d);
    } else {
        snprintf(p, sizeof p, "%s/MANIFEST", work);
        spill(p, data + 1, size - 1);
    }
    as_index *ix;
    if (as_index_open(work, &ix) != AS_OK)
        return 0;
    static const char *const queries[] = {
        "sciatic buttock pain", "\"sciatic nerve\"", "preg*",
        "+pregnancy cramps -night", "title:pain OR legs",
    };
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        as_query_opts o;
        as_query_opts_init(&o);
        o.explain = (int)(i % 2);
        as_results *r;
        if (as_search(ix, queries[i], &o, &r) == AS_OK) {
            fuzz_touch_results(r);
            as_results_free(r);
        }
    }
    as_stats st;
    as_index_stats(ix, &st);
    as_index_check(ix);
    as_index_close(ix);
    return 0;
}
