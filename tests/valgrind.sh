#!/bin/sh
# Run the artsearch binary under valgrind memcheck: `make valgrind` points
# ARTSEARCH_BIN here so every process the end-to-end tests start is checked.
# Errors and leaks (definite, indirect, possible) go to $VG_LOGDIR/vg.PID and
# turn the exit status into 99, which the tests see as a failure; the make
# target then fails if any log is non-empty.
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible \
    --log-file="$VG_LOGDIR/vg.%p" "$VG_BIN" "$@"
