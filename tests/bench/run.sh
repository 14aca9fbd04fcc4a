#!/bin/sh
# run.sh HEAPWATCH: the benchmark table of heapwatch against in-process
# counting and the copy floor (see bench.py).  BENCH_RUNS (default 5),
# BENCH_MODES (snapshot,stopped), BENCH_QUICK=1 for the two small rows.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "${1:-build/heapwatch}"
