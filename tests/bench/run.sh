#!/bin/sh
# run.sh HEAPWATCH: the benchmark table of heapwatch against in-process
# counting and the copy floor (see bench.py).  BENCH_RUNS (default 5),
# BENCH_MODES (snapshot,stopped), BENCH_QUICK=1 for the two small rows;
# then bench_refs.py (BENCH_REFS_OBJECTS, default 1000000).
set -eu
/usr/bin/python3 "$(dirname "$0")/bench.py" "${1:-build/heapwatch}"
# who holds them: `refs` beside the census and in-process objgraph
exec /usr/bin/python3 "$(dirname "$0")/bench_refs.py" "${1:-build/heapwatch}"
