#!/bin/sh
# test_make.sh - the build's knobs do what the Makefile says: WERROR=1
# (or yes, or -Werror) makes warnings errors and puts nothing else into the
# flags; without it there is no -Werror; a packager's CFLAGS is honoured.
# Compiles one object for real into a scratch build directory.
set -u
fail=0; n=0
tmp=$(mktemp -d /tmp/hw-make-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
check() { # what cond-result
	n=$((n+1))
	if [ "$2" = 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=$((fail+1)); fi
}
line() { make -s -n -B "$@" B="$tmp" "$tmp/obj/err.o" 2>&1 | grep -- ' -c ' | head -1; }

for v in 1 yes -Werror; do
	l=$(line WERROR=$v)
	echo "$l" | grep -q -- ' -Werror ' ; r1=$?
	echo "$l" | grep -Eq -- ' (1|yes) ' ; r2=$?
	check "WERROR=$v: -Werror, and no stray '$v' in the flags" $([ $r1 = 0 ] && [ $r2 != 0 ]; echo $?)
done
l=$(line WERROR=)
echo "$l" | grep -q -- '-Werror'; check "no WERROR: no -Werror" $([ $? != 0 ]; echo $?)
l=$(line "CFLAGS=-O0 -g3")
echo "$l" | grep -q -- ' -O0 ' ; check "CFLAGS honoured" $?
make -s B="$tmp" WERROR=1 "$tmp/obj/err.o" >"$tmp/log" 2>&1
check "WERROR=1 builds (an object compiled for real)" $([ -s "$tmp/obj/err.o" ]; echo $?)
echo "$((n-fail)) passed, $fail failed, 0 skipped"
[ $fail -eq 0 ]
