/* err.h - the project's error codes and per-thread error messages.
 *
 * Every fallible function returns an int: AS_OK (0) or one of the AS_ERR_*
 * codes of artsearch.h.  The function that detects a failure also records a
 * sentence naming what failed (a file, a line, a value) with err_set(); the
 * caller reads it with as_errmsg().  Messages are per thread, so concurrent
 * searches never see each other's errors.
 */
#ifndef AS_ERR_H
#define AS_ERR_H

#include <stddef.h>

#include "artsearch.h"

/* Record a message for code and return code, so a failure path can be
 * written `return err_set(AS_ERR_IO, "%s: %s", path, strerror(errno));`. */
int err_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "what: " (for example a file name) and
 * return code unchanged. */
int err_prefix(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write all n bytes of p to fd at offset off (off < 0: at the file
 * position), going on after short writes and EINTR, so a full disk is
 * reported by its own errno (ENOSPC, EFBIG) rather than as a short write.
 * AS_OK, or AS_ERR_IO with a message naming path. */
int err_write_all(int fd, const void *p, size_t n, long long off,
                  const char *path);

#endif
