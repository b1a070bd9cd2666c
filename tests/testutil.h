/* testutil.h - helpers shared by the cmocka tests: temporary folders,
 * writing files, running the artsearch binary. */
#ifndef AS_TESTUTIL_H
#define AS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* A fresh temporary folder; the caller frees the string (the folder is
 * removed with tu_rmrf). */
static inline char *tu_tmpdir(void)
{
    char tmpl[] = "/tmp/artsearch-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static inline void tu_rmrf(const char *path)
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static inline void tu_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static inline void tu_writef(const char *dir, const char *name,
                             const char *text)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    tu_write(p, text, strlen(text));
}

/* Run a shell command; returns its exit status and its standard output
 * (and standard error when merge is set) in *out (malloc'd). */
static inline int tu_run(char **out, int merge, const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (merge)
        strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A temporary folder for a whole test group: tu_group_dir is set by
 * tu_group_setup and removed by tu_group_teardown (cmocka group fixtures,
 * or called from a group's own). */
static char *tu_group_dir;

static inline int tu_group_setup(void **state)
{
    (void)state;
    tu_group_dir = tu_tmpdir();
    return 0;
}

static inline int tu_group_teardown(void **state)
{
    (void)state;
    tu_rmrf(tu_group_dir);
    free(tu_group_dir);
    tu_group_dir = NULL;
    return 0;
}

/* Path of the built artsearch binary (set by `make test`). */
static inline const char *tu_bin(void)
{
    const char *b = getenv("ARTSEARCH_BIN");
    return b ? b : "./artsearch";
}

/* Root of the repository (tests run from it). */
static inline const char *tu_shared(void)
{
    return "../shared";
}

static inline int tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

#endif
