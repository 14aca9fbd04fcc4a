#!/bin/sh
# Every unit suite and the fuzz corpus replays built with ASan + UBSan
# (build-san/), and the CLI so built against a real target.
set -eu
make --no-print-directory -s SANITIZER=address,undefined all unit-bins >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
sh tests/run-tests.sh build-san unit
HEAPWATCH=$PWD/build-san/heapwatch /usr/bin/python3 - <<'PYEOF'
import os, sys
sys.path.insert(0, "tests/integration")
from harness import Target, dump_json, diff_counts
exe = "/usr/bin/python3.11"
t = Target(exe)
try:
    hw = dump_json(t.pid)
    py = t.count()
    d = diff_counts(hw, py)
    print("ok   ASan+UBSan heapwatch dump: %d objects, %d differences" % (hw["gc_objects"], len(d)))
    hs = dump_json(t.pid, "--sizes")   # the object model on every object
    print("ok   ASan+UBSan heapwatch dump --sizes: %d objects, %d bytes" % (hs["gc_objects"], hs["bytes"]))
    sys.exit(1 if d or not hs["bytes"] else 0)
finally:
    t.close()
PYEOF
