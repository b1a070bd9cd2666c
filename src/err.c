/* err.c - error code names and the per-thread message. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#define AS_ERRMSG_MAX 1024

static _Thread_local char errmsg[AS_ERRMSG_MAX];

const char *as_strerror(int code)
{
    switch (code) {
#define X(name, value, text) case name: return text;
    AS_ERROR_TABLE(X)
#undef X
    }
    return "unknown error";
}

const char *as_errmsg(void)
{
    return errmsg;
}

int err_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return code;
}

int err_prefix(int code, const char *fmt, ...)
{
    char prefix[AS_ERRMSG_MAX], old[AS_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errmsg, sizeof old);
    snprintf(errmsg, sizeof errmsg, "%s: %s", prefix, old);
    return code;
}

int err_write_all(int fd, const void *p, size_t n, long long off,
                  const char *path)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = off < 0 ? write(fd, c, n) : pwrite(fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return err_set(AS_ERR_IO, "%s: %s", path,
                           w < 0 ? strerror(errno) : "nothing written");
        c += w;
        n -= (size_t)w;
        if (off >= 0)
            off += w;
    }
    return AS_OK;
}
