#!/bin/sh
# Installs the Debian 12 packages pocket-id-sync needs to build, test and run
# its demo -- only the ones that are missing. Works as root or through sudo.
# Usage: contrib/dev/install-deps.sh
set -eu

PACKAGES="build-essential cmake pkg-config git ca-certificates curl sqlite3 python3
libevent-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev libcjson-dev libcmocka-dev
python3-cryptography python3-cbor2 haproxy prometheus systemd valgrind groff-base man-db"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: missing packages:$missing; run this script as root or install sudo" >&2
	exit 1
fi
echo "install-deps: installing:$missing" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
