#!/usr/bin/env bash
# Run every test program given, then print one closing line:
#   tests: N passed, N failed
# (N counts cmocka test cases).  Exit status 1 if any failed.
set -u
passed=0
failed=0
broken=0
for t in "$@"; do
    name=$(basename "$t")
    out=$("$t" 2>&1)
    status=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$name: exited with status $status"
        broken=$((broken + 1))
        failed=$((failed + 1))
    fi
done
echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
