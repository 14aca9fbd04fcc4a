#!/bin/sh
# install-deps.sh PKG...: install the Debian packages that are missing.
# Used by `make deps` / `make check`; needs root (apt-get) only when
# something is missing.
set -eu
missing=""
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "heapwatch: installing missing packages:$missing" >&2
if [ "$(id -u)" != 0 ]; then
	echo "heapwatch: need root to apt-get install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
