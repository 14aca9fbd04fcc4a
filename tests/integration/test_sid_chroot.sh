#!/bin/sh
# test_sid_chroot.sh: the sid chroot environment degrades as promised.
# A mirror that does not answer: `ensure` exits 0, sid-status says why,
# pythons.py lists no sid build and skips them with that reason.  A stale
# generation whose rebuild fails is still used (and says it is stale).
set -u
here=$(cd "$(dirname "$0")" && pwd)
script=$here/../sid-chroot.sh
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
[ "$(id -u)" = 0 ] || { echo "SKIP sid chroot tests: need root"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# a port nobody listens on: bind one, note it, close it
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dead=http://127.0.0.1:$port/debian

HW_TEST_CACHE=$tmp/c1 HW_SID_MIRROR=$dead sh "$script" ensure 2>"$tmp/err1"
rc=$?
st=$(cat "$tmp/c1/sid-status" 2>/dev/null)
case "$rc:$st" in
0:unavailable:*"$dead"*) ok "unreachable mirror: exit 0, status: $st" ;;
*) bad "unreachable mirror: rc $rc, status '$st'"; cat "$tmp/err1" ;;
esac
skips=$(HW_TEST_CACHE=$tmp/c1 /usr/bin/python3 -c "
import sys; sys.path.insert(0, '$here')
import pythons
found, skipped = pythons.sid_builds()
print(len(found), skipped[0] if skipped else '')")
case "$skips" in
"0 sid chroot (unavailable: "*) ok "pythons.py skips sid builds: ${skips#0 }" ;;
*) bad "pythons.py with no chroot: $skips" ;;
esac

# A stale generation (max age 0) whose rebuild cannot reach the mirror.
real=$(readlink -f "${HW_TEST_CACHE:-/var/cache/heapwatch-test}/sid-current" 2>/dev/null)
if [ -n "$real" ] && [ -f "$real/info" ]; then
	mkdir -p "$tmp/c2"
	ln -s "$real" "$tmp/c2/$(basename "$real")"
	ln -s "$(basename "$real")" "$tmp/c2/sid-current"
	HW_TEST_CACHE=$tmp/c2 HW_SID_MAX_AGE_DAYS=0 HW_SID_MIRROR=$dead sh "$script" ensure 2>"$tmp/err2"
	rc=$?
	st=$(cat "$tmp/c2/sid-status")
	case "$rc:$st" in
	"0:ok $(basename "$real") (stale: a new build failed: unavailable: "*) ok "stale generation kept in use: $st" ;;
	*) bad "stale generation: rc $rc, status '$st'"; cat "$tmp/err2" ;;
	esac
	[ -e "$real/info" ] && ok "the real generation is untouched" || bad "the real generation was removed"
else
	echo "SKIP stale generation: no sid chroot built ($(sh "$script" status))"
fi
[ $fails -eq 0 ]
