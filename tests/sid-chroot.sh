#!/bin/sh
# sid-chroot.sh [ensure|status|path]: the newest CPythons, stripped, for the
# integration tests: a Debian sid chroot holding every python3.N (N >= 13)
# that sid packages, in two shapes:
#   dbg/    with the -dbg packages (separate debug files under
#           /usr/lib/debug/.build-id: the layout can come from DWARF)
#   nodbg/  the same system with every -dbg package purged and no file
#           left under /usr/lib/debug (the production case)
# nodbg is a hard-linked copy of dbg (cp -al; dpkg only unlinks and
# renames), so the second shape costs almost no time or disk.
#
# Where:    $HW_TEST_CACHE (default /var/cache/heapwatch-test), outside
#           the checkout, shared by every checkout and worktree:
#             sid-current -> sid-<UTC stamp>/   (a symlink, swapped atomically)
#             sid-<stamp>/{dbg,nodbg,info,build.log,lock}
#             sid-status   "ok ..." or "unavailable: <reason>"
# Current:  a generation is reused while its recipe ($RECIPE below) and
#           mirror are the ones this script would use, it is younger than
#           $HW_SID_MAX_AGE_DAYS days (default 7: sid moves weekly, tests
#           read the versions they find), and its interpreters still run.
#           HW_SID_REFRESH=1 forces a new build; HW_SID=0 skips it all.
#           A stale generation is kept in use when a new one cannot be
#           built (mirror unreachable).
# Mirror:   the one apt already uses for this host's own release, read
#           from apt's configuration (apt-get indextargets);
#           HW_SID_MIRROR overrides it (tests of the unreachable case).
# Locks:    one builder at a time (flock on $CACHE/sid-build.lock; the
#           others wait and then reuse its result).  Tests hold a shared
#           flock on sid-<stamp>/lock while they use a generation; old
#           generations are removed only when nobody holds it.
#
# `ensure` never fails the caller for a network problem: it writes the
# reason to sid-status, which tests/integration/pythons.py prints in its
# SKIP lines, and exits 0 (not root, no mirror, mirror unreachable, sid
# without python3.13+ all end that way).
set -eu

RECIPE=1                       # bump when what a generation holds changes
CACHE=${HW_TEST_CACHE:-/var/cache/heapwatch-test}
MAX_AGE_DAYS=${HW_SID_MAX_AGE_DAYS:-7}
SUITE=sid
MIN_MINOR=13
HERE=$(cd "$(dirname "$0")" && pwd)

status() { # text...: the one line tests read
	mkdir -p "$CACHE"
	printf '%s\n' "$*" > "$CACHE/sid-status.tmp.$$"
	mv -f "$CACHE/sid-status.tmp.$$" "$CACHE/sid-status"
}
say() { echo "sid-chroot: $*" >&2; }
step() { echo "== $(date -u +%H:%M:%S) $*" >> "$log"; }

mirror() { # the Debian archive URI apt uses for this host's release
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null |
		awk -v c="$codename" '$1 == c { print $2; exit }'
}

probe() { # url: fetchable within 20 s, three tries (proxies hiccup)
	for try in 1 2 3; do
		if command -v curl >/dev/null; then
			curl -fsS -m 20 -o /dev/null "$1" && return 0
		else
			wget -q -T 20 -t 1 -O /dev/null "$1" && return 0
		fi
		[ $try = 3 ] || sleep 2
	done
	return 1
}

info_get() { # file key
	sed -n "s/^$2=//p" "$1" 2>/dev/null | head -1
}

# Whether generation $1 is current for mirror $2 (see the header).
current() {
	g=$1; m=$2
	[ -f "$g/info" ] || return 1
	[ "$(info_get "$g/info" recipe)" = "$RECIPE" ] || return 1
	[ "$(info_get "$g/info" mirror)" = "$m" ] || return 1
	built=$(info_get "$g/info" built_epoch)
	[ -n "$built" ] || return 1
	[ $(( $(date +%s) - built )) -lt $(( MAX_AGE_DAYS * 86400 )) ] || return 1
	usable "$g"
}

usable() { # generation: both shapes present, their pythons run
	g=$1
	[ -s "$g/info" ] || return 1
	for shape in dbg nodbg; do
		for exe in $(info_get "$g/info" pythons); do
			chroot "$g/$shape" "$exe" -c 'pass' 2>/dev/null || return 1
		done
	done
	[ -n "$(info_get "$g/info" pythons)" ]
}

# Remove a generation: anything a killed debootstrap left mounted in it
# first (proc, dev), then the files, never crossing into another file
# system.
unmount_in() {
	awk -v g="$1/" 'index($2, g) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
}
remove_gen() {
	unmount_in "$1"
	rm -rf --one-file-system "$1"
}

# Remove generations other than the current one that no test holds.
prune() {
	keep=$(readlink "$CACHE/sid-current" 2>/dev/null || true)
	for g in "$CACHE"/sid-2*; do
		[ -d "$g" ] || continue
		[ "$(basename "$g")" = "$keep" ] && continue
		if [ -f "$g/lock" ]; then
			unmount_in "$g"
			flock -xn "$g/lock" rm -rf --one-file-system "$g" || say "kept $g (in use)"
		else
			remove_gen "$g"
		fi
	done
	# keep only the newest log of a failed build
	ls -t "$CACHE"/sid-build-*.log 2>/dev/null | tail -n +2 | while read -r f; do rm -f "$f"; done
}

build() { # mirror -> builds a new generation and makes it current
	m=$1
	stamp=$(date -u +%Y%m%dT%H%M%SZ)
	g=$CACHE/sid-$stamp
	log=$CACHE/sid-build-$stamp.log
	t0=$(date +%s)
	say "building a Debian $SUITE chroot from $m in $g (log: $log)"
	remove_gen "$g"
	mkdir -p "$g"
	if ! sh "$HERE/install-deps.sh" debootstrap >"$log" 2>&1; then
		remove_gen "$g"
		status "unavailable: could not install debootstrap (see $log)"
		return 1
	fi
	# debootstrap's wget retries for many minutes on a mirror that does
	# not answer: ask once, briefly, first.
	if ! probe "${m%/}/dists/$SUITE/Release" >>"$log" 2>&1; then
		remove_gen "$g"
		status "unavailable: mirror $m does not answer for $SUITE (no network?)"
		return 1
	fi
	step "debootstrap --variant=minbase $SUITE"
	if ! debootstrap --variant=minbase "$SUITE" "$g/dbg" "$m" >>"$log" 2>&1; then
		remove_gen "$g"
		status "unavailable: debootstrap $SUITE from $m failed: $(grep -E '^E:|Failed' "$log" | tail -1)"
		return 1
	fi
	# Every python3.N that sid packages, N >= 13 (no patch level or list
	# of minors written here: whatever sid holds when this runs).
	pkgs=$(chroot "$g/dbg" apt-cache pkgnames python3. 2>/dev/null |
		grep -E '^python3\.[0-9]+$' |
		awk -F. -v min="$MIN_MINOR" '$2 + 0 >= min' | sort -t. -k2,2n)
	if [ -z "$pkgs" ]; then
		remove_gen "$g"
		status "unavailable: $SUITE at $m packages no python3.N with N >= $MIN_MINOR"
		return 1
	fi
	step "apt-get install $(echo $pkgs) and their -dbg packages"
	dbgs=""
	for p in $pkgs; do dbgs="$dbgs $p-dbg"; done
	# shellcheck disable=SC2086
	if ! DEBIAN_FRONTEND=noninteractive chroot "$g/dbg" apt-get install -y -q \
	    --no-install-recommends $pkgs $dbgs >>"$log" 2>&1; then
		remove_gen "$g"
		status "unavailable: installing$pkgs and their -dbg packages in $SUITE failed (see $log)"
		return 1
	fi
	chroot "$g/dbg" apt-get clean >>"$log" 2>&1 || true
	step "nodbg: hard-linked copy, -dbg packages purged"
	cp -al "$g/dbg" "$g/nodbg"
	# shellcheck disable=SC2046
	DEBIAN_FRONTEND=noninteractive chroot "$g/nodbg" dpkg --purge \
		$(chroot "$g/nodbg" dpkg-query -W -f '${Package}\n' | grep -E -- '-dbg(:|$)') \
		>>"$log" 2>&1
	rm -rf "$g/nodbg/usr/lib/debug"
	exes=""
	vers=""
	for p in $pkgs; do
		exe=/usr/bin/$p
		v=$(chroot "$g/nodbg" "$exe" -c 'import platform; print(platform.python_version())')
		exes="$exes $exe"
		vers="$vers $v"
	done
	t1=$(date +%s)
	step "done"
	{
		echo "recipe=$RECIPE"
		echo "mirror=$m"
		echo "suite=$SUITE"
		echo "built_epoch=$t1"
		echo "built=$stamp"
		echo "build_seconds=$((t1 - t0))"
		echo "disk_kib=$(du -sk "$g" | cut -f1)"
		echo "pythons=$(echo $exes)"
		echo "versions=$(echo $vers)"
	} > "$g/info"
	mv "$log" "$g/build.log"
	: > "$g/lock"
	ln -sfn "sid-$stamp" "$CACHE/sid-current.tmp.$$"
	mv -T "$CACHE/sid-current.tmp.$$" "$CACHE/sid-current"
	say "built in $((t1 - t0)) s, $(info_get "$g/info" disk_kib) KiB: python$(echo $vers | sed 's/ /, /g')"
	return 0
}

ensure() {
	if [ "${HW_SID:-1}" = 0 ]; then
		say "HW_SID=0: not built or checked (tests skip the sid builds)"
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		status "unavailable: building and entering a chroot needs root"
		return 0
	fi
	mkdir -p "$CACHE"
	exec 9>"$CACHE/sid-build.lock"
	flock -w 1800 9 || { status "unavailable: another build held $CACHE/sid-build.lock for 30 min"; return 0; }
	m=${HW_SID_MIRROR:-$(mirror)}
	cur="$CACHE/sid-current"
	if [ -z "$m" ]; then
		if [ -e "$cur" ] && usable "$cur"; then
			status "ok $(readlink "$cur") (stale: no mirror in apt's configuration)"
		else
			status "unavailable: no Debian mirror for this host's release in apt's configuration"
		fi
		return 0
	fi
	if [ "${HW_SID_REFRESH:-0}" != 1 ] && [ -e "$cur" ] && current "$cur" "$m"; then
		status "ok $(readlink "$cur")"
		say "reusing $(readlink -f "$cur") (built $(info_get "$cur/info" built), python $(info_get "$cur/info" versions))"
		prune
		return 0
	fi
	if build "$m"; then
		status "ok $(readlink "$cur")"
		prune
	elif [ -e "$cur" ] && usable "$cur"; then
		reason=$(cat "$CACHE/sid-status")
		status "ok $(readlink "$cur") (stale: a new build failed: $reason)"
		say "new build failed ($reason); using $(readlink -f "$cur")"
	else
		say "$(cat "$CACHE/sid-status")"
	fi
	return 0
}

case ${1:-ensure} in
ensure) ensure ;;
status) cat "$CACHE/sid-status" 2>/dev/null || echo "unavailable: never built (make sid-chroot)" ;;
path) echo "$CACHE/sid-current" ;;
*) echo "usage: sid-chroot.sh [ensure|status|path]" >&2; exit 2 ;;
esac
