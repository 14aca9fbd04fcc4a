#!/bin/sh
# run-tests.sh BUILDDIR [unit|integration]: run the test suites, print one
# summary line per suite and a final "N passed, N failed, N skipped".
# Unit tests: every build/tests/check_* binary (Check).  Integration tests:
# every tests/integration/test_*.py or test_*.sh.  Either kind exits 0
# (pass), 77 (skipped as a whole) or anything else (fail); a suite that
# passes may still have left parts out, each said on a "SKIP ..." line of
# its output (tests/unit/runner.h, tests/integration/harness.py): those
# are counted and listed at the end, never taken for passes.
set -u
B=${1:-build}
what=${2:-all}
pass=0; fail=0; skip=0; failed=""; parts=0
parts_log="$B/test-logs/skipped-parts.txt"
export HEAPWATCH="$PWD/$B/heapwatch"
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}
log_dir="$B/test-logs"; mkdir -p "$log_dir"
: >"$parts_log"

run_one() { # name cmd...
	name=$1; shift
	log="$log_dir/$(basename "$name").log"
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) pass=$((pass+1)); st=PASS
	   n=$(grep -c '^SKIP' "$log")
	   if [ "$n" -gt 0 ]; then
		parts=$((parts+n))
		grep '^SKIP' "$log" | sed "s|^|$name: |" >>"$parts_log"
	   fi ;;
	77) skip=$((skip+1)); st=SKIP ;;
	*) fail=$((fail+1)); st=FAIL; failed="$failed $name" ;;
	esac
	printf '%-4s %-40s %4ss  %s\n' "$st" "$name" "$secs" \
		"$(grep -E '^(SKIP|NOTE|[0-9]+%: Checks)' "$log" | tr '\n' ' ' | cut -c1-160)"
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then sed 's/^/    | /' "$log" | tail -40; fi
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$B"/tests/check_*; do
		[ -x "$t" ] || continue
		run_one "unit/$(basename "$t")" "$t"
	done
fi
if [ "$what" = all ] || [ "$what" = integration ]; then
	for t in tests/integration/test_*.py tests/integration/test_*.sh; do
		[ -f "$t" ] || continue
		case $t in
		*.py) run_one "integration/$(basename "$t")" /usr/bin/python3 "$t" ;;
		*.sh) run_one "integration/$(basename "$t")" sh "$t" ;;
		esac
	done
fi
[ -n "$failed" ] && echo "failed:$failed"
if [ "$parts" -gt 0 ]; then
	echo "parts skipped inside suites that passed ($parts, listed in $parts_log):"
	cut -c1-150 "$parts_log" | sed 's/^/    /'
fi
echo "$pass passed, $fail failed, $skip skipped; $parts parts skipped"
[ "$fail" -eq 0 ]
