#!/bin/sh
# run-valgrind.sh HEAPWATCH: the CLI against a real CPython target under
# valgrind (memcheck): zero errors and zero leaks, or exit 1.
set -eu
HW=${1:-build/heapwatch}
PY=/usr/bin/python3.11
[ -x "$PY" ] || { echo "SKIP valgrind: no $PY"; exit 77; }
command -v valgrind >/dev/null || { echo "SKIP valgrind: not installed"; exit 77; }
dir=$(mktemp -d)
mkfifo "$dir/in"
"$PY" tests/integration/target.py < "$dir/in" > "$dir/out" &
pid=$!
exec 7>"$dir/in"
trap 'exec 7>&-; kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
i=0
until grep -q ready "$dir/out"; do i=$((i+1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done
rc=0
for args in "dump --json" "dump --mode stopped" "dump --growth 0 --top 5" "dump --sizes --sort bytes"; do
	# shellcheck disable=SC2086
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		"$HW" $args "$pid" > "$dir/vg.out" 2> "$dir/vg.err" || rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL valgrind heapwatch $args: exit $rc"; cat "$dir/vg.err"; exit 1
	fi
	echo "ok   valgrind heapwatch $args: 0 errors, 0 leaks ($(wc -c < "$dir/vg.out") bytes out)"
done
"$HW" check-config conf/heapwatch.yaml > /dev/null
valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	"$HW" check-config --dump conf/heapwatch.yaml > /dev/null
echo "ok   valgrind heapwatch check-config --dump"
echo "5 passed, 0 failed"
