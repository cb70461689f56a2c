#!/usr/bin/env bash
# README "Pocket ID in Docker Compose", proven: the shell blocks marked `<!-- compose-test: NAME -->`
# run against a directory laid out like Pocket ID's Compose project (its docker-compose.yml, a .env
# like its .env.example, data/pocket-id.db), with /opt/pocket-id, /etc/pocket-id-sync and
# /etc/systemd/system moved into a scratch directory and stub `docker` and `systemctl` that only
# record and dispatch. check-config passes with the unit's two files, a container path in .env is
# named, the unit's paths match the layout, and an offline sync that replaces the JWT key makes
# the sidecar run pocket-id-restart.service's `docker restart pocket-id`. Skips (77) without
# python3-cryptography.
set -u
BIN=${PIS_BIN:?}
SRC=${PIS_SOURCE_DIR:?}
. "$SRC/tests/lib/script.sh"
pis_need_python_crypto
pis_clean_env
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { pass=$((pass+1)); echo "ok   $1"; }
bad() { fail=$((fail+1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     /' <<<"$2"; }
FIX=(/usr/bin/python3 "$SRC/tests/tools/pocketid_fixture.py")

PI=$tmp/opt/pocket-id ETC=$tmp/etc/pocket-id-sync UNITS=$tmp/etc/systemd/system
mkdir -p "$PI/data" "$ETC" "$UNITS" "$tmp/bin"

# --- the Compose project, as Pocket ID ships it (plus container_name, as README says) ---------
cat >"$PI/docker-compose.yml" <<'EOT'
services:
  pocket-id:
    image: pocketid/pocket-id:v2
    container_name: pocket-id
    restart: unless-stopped
    env_file: .env
    ports:
      - 1411:1411
    volumes:
      - "./data:/app/data"
EOT
key=$(head -c 32 /dev/urandom | base64)
cat >"$PI/.env" <<EOT
# See the documentation for more information: https://pocket-id.org/docs/configuration/environment-variables
APP_URL=https://id.example.org
ENCRYPTION_KEY=$key
TRUST_PROXY=false
MAXMIND_LICENSE_KEY=
PUID=1000
PGID=1000
EOT
printf '%s' "$key" >"$tmp/key"
"${FIX[@]}" create --db "$PI/data/pocket-id.db" --version v2.14 --instance-id "$(cat /proc/sys/kernel/random/uuid)" \
	--encryption-key-file "$tmp/key" --generate-jwk --seed none >/dev/null || exit 1

# --- stubs: docker records, systemctl runs the installed unit's ExecStart ----------------------
cat >"$tmp/bin/docker" <<EOT
#!/bin/sh
echo "\$*" >>"$tmp/docker.calls"
[ "\$1 \$2" = "compose ps" ] && echo pocket-id
exit 0
EOT
cat >"$tmp/bin/systemctl" <<EOT
#!/bin/sh
[ "\$1" = start ] && [ -f "$UNITS/\$2" ] || { echo "systemctl stub: \$*" >&2; exit 1; }
cmd=\$(sed -n 's/^ExecStart=//p' "$UNITS/\$2" | sed 's|^/usr/bin/docker|docker|')
exec sh -c "\$cmd"
EOT
chmod +x "$tmp/bin/docker" "$tmp/bin/systemctl"
export PATH="$tmp/bin:$PATH"

# block NAME: README's block, with the scratch paths
block() {
	awk -v m="<!-- compose-test: $1 -->" '$0 == m { f = 1; next } f && /^```sh/ { g = 1; next }
		g && /^```/ { exit } g { print }' "$SRC/README.md" |
		sed -e "s|/opt/pocket-id|$PI|g" -e "s|/etc/pocket-id-sync|$ETC|g" \
		    -e "s|/etc/systemd/system|$UNITS|g" -e "s|contrib/systemd/|$SRC/contrib/systemd/|g" \
		    -e "s|pocket-id-sync check-config|\"$BIN\" check-config|g"
}
# The sidecar's own paths are the unit's (StateDirectory, ports), kept out of the way here.
export SYNC_STATE_DIR=$tmp/state SYNC_LISTEN=127.0.0.1:0 SYNC_METRICS_LISTEN=127.0.0.1:0

for b in inspect syncenv check; do
	[ -n "$(block $b)" ] || bad "README has the block '$b'"
done
out=$(bash -e -c "$(block inspect)" 2>&1)
grep -qx "PGID=1000" <<<"$out" && grep -qx "pocket-id" <<<"$out" && grep -qx "ENCRYPTION_KEY=(set)" <<<"$out" &&
	ok "inspect: .env ids and the container name" || bad "inspect" "$out"
grep -qF -- "$key" <<<"$out" && bad "inspect printed the encryption key" || ok "inspect never prints the key"
out=$(bash -e -c "$(block syncenv)" 2>&1) && ok "syncenv: sync.env and the restart unit installed" || bad "syncenv" "$out"
[ "$(stat -c %a "$ETC/sync.env")" = 600 ] && ok "sync.env mode 0600" || bad "sync.env mode"
out=$(bash -e -c "$(block check)" 2>&1); rc=$?
[ $rc = 0 ] && grep -qx "configuration OK" <<<"$out" && ok "check: configuration OK with .env and sync.env" ||
	bad "check ($rc)" "$out"

# The unit's paths are the layout's.
unit=$SRC/contrib/systemd/pocket-id-sync.service
grep -qx 'EnvironmentFile=-/opt/pocket-id/.env' "$unit" && grep -qx 'WorkingDirectory=/opt/pocket-id' "$unit" &&
	grep -qx 'ReadWritePaths=/opt/pocket-id/data' "$unit" && ok "the unit reads /opt/pocket-id/.env, runs there, may write data/" ||
	bad "unit paths"
name=$(sed -n 's/^ *container_name: *//p' "$PI/docker-compose.yml")
grep -qx "ExecStart=/usr/bin/docker restart $name" "$SRC/contrib/systemd/pocket-id-restart.service" &&
	ok "pocket-id-restart.service restarts the container_name README sets" || bad "restart unit vs container_name"

# A container path in .env is named; the documented override fixes it.
cp "$PI/.env" "$tmp/env.orig"
echo 'DB_CONNECTION_STRING=file:/app/data/pocket-id.db?_pragma=journal_mode(WAL)' >>"$PI/.env"
out=$(bash -c "$(block check)" 2>&1); rc=$?
[ $rc = 2 ] && grep -qF "a path inside Pocket ID's container" <<<"$out" && ok "a container path in .env is named" ||
	bad "container path ($rc)" "$out"
echo "DB_CONNECTION_STRING=$PI/data/pocket-id.db" >>"$ETC/sync.env"
out=$(bash -c "$(block check)" 2>&1) && ok "... and the host path in sync.env fixes it" || bad "override" "$out"
cp "$tmp/env.orig" "$PI/.env"

# A sync that replaces the JWT key runs the documented restart: docker restart pocket-id.
mkdir -p "$tmp/a"
head -c 24 /dev/urandom | base64 | tr -d '\n' >"$tmp/a/key"; chmod 600 "$tmp/a/key"
"${FIX[@]}" create --db "$tmp/a/p.db" --version v2.14 --instance-id "$(cat /proc/sys/kernel/random/uuid)" \
	--encryption-key-file "$tmp/a/key" --generate-jwk --seed demo --users 2 >/dev/null || exit 1
AENV=(env SYNC_STATE_DIR="$tmp/a/state" SYNC_ROLE=primary DB_CONNECTION_STRING="$tmp/a/p.db" ENCRYPTION_KEY_FILE="$tmp/a/key")
spub=$(cd "$PI" && "$BIN" pubkey --env-file .env --env-file "$ETC/sync.env")
"${AENV[@]}" "$BIN" export --to "$spub" -o "$tmp/p.sealed" 2>/dev/null || bad "export on the primary"
: >"$tmp/docker.calls"
out=$(cd "$PI" && SYNC_PRIMARY_PUBKEY=$("${AENV[@]}" "$BIN" pubkey) \
	"$BIN" apply --env-file .env --env-file "$ETC/sync.env" "$tmp/p.sealed" 2>&1); rc=$?
[ $rc = 0 ] && grep -qx "jwt signing key: replaced" <<<"$out" && ok "apply on the Compose node replaces the JWT key" ||
	bad "apply ($rc)" "$out"
grep -qx "restart pocket-id" "$tmp/docker.calls" && grep -qF "event=restart.done" <<<"$out" &&
	ok "... and the sidecar ran docker restart pocket-id through the restart unit" || bad "restart" "$out
$(cat "$tmp/docker.calls")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
