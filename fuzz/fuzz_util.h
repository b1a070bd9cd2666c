/* fuzz_util.h - shared by the fuzz targets: a small index built once, and
 * reading every byte of results so the sanitizers see bad ones. */
#ifndef AS_FUZZ_UTIL_H
#define AS_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artsearch.h"

static volatile unsigned fuzz_sink;

static inline void fuzz_touch(const char *s)
{
    for (; s && *s; s++)
        fuzz_sink += (unsigned char)*s;
}

static inline void fuzz_touch_results(const as_results *r)
{
    for (size_t i = 0; i < as_results_count(r); i++) {
        const as_hit *h = as_results_hit(r, i);
        fuzz_touch(h->id);
        fuzz_touch(h->title);
        fuzz_touch(h->snippet);
        fuzz_touch(h->explain);
        for (size_t k = 0; k < h->nspans; k++)
            if (h->spans[k].start + h->spans[k].len > strlen(h->snippet))
                abort();
    }
    fuzz_touch(as_results_notice(r));
}

static inline void fuzz_rm(const char *path)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", path);
}

static char fuzz_dir[512];
static void fuzz_cleanup(void)
{
    fuzz_rm(fuzz_dir);
}

/* A private scratch folder for the process, removed at exit. */
static inline const char *fuzz_scratch(void)
{
    if (fuzz_dir[0])
        return fuzz_dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/artsearch-fuzz-%d", base,
             (int)getpid());
    fuzz_rm(fuzz_dir);
    if (mkdir(fuzz_dir, 0700) != 0)
        abort();
    atexit(fuzz_cleanup);
    return fuzz_dir;
}

/* An index of the project's corpus/ (or FUZZ_CORPUS), built once per
 * process in the scratch folder. */
static inline const char *fuzz_index_dir(void)
{
    static char dir[600];
    if (dir[0])
        return dir;
    snprintf(dir, sizeof dir, "%s/index", fuzz_scratch());
    const char *corpus = getenv("FUZZ_CORPUS");
    if (!corpus)
        corpus = "corpus";
    as_build_opts o = {0};
    if (as_build(corpus, dir, &o, NULL) != AS_OK) {
        fprintf(stderr, "fuzz: cannot build %s from %s: %s\n", dir, corpus,
                as_errmsg());
        abort();
    }
    return dir;
}

#endif
