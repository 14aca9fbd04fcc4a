#!/bin/sh
# The CLI under valgrind against a real target (see tests/run-valgrind.sh).
exec sh tests/run-valgrind.sh "${HEAPWATCH:-build/heapwatch}"
