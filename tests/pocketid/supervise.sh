#!/usr/bin/env bash
# supervise.sh DIR BIN: the conformance suite's stand-in for systemd's Restart=always. Runs the
# Pocket ID server BIN in DIR (where its .env is), writes the running child's pid to
# DIR/pocket-id.pid and a start counter to DIR/starts, and starts it again whenever it exits.
# SIGTERM stops the child and the supervisor. It owns nothing else (restart_pocket_id.sh asks
# for a restart by stopping the child).
set -u
dir=$1 bin=$2
cd "$dir" || exit 1
child='' stopping=''
on_term() {
	stopping=1
	[ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap on_term TERM INT
n=0
while [ -z "$stopping" ]; do
	n=$((n + 1))
	"$bin" >>"$dir/pocket-id.log" 2>&1 &
	child=$!
	echo "$child" >"$dir/pocket-id.pid.new" && mv "$dir/pocket-id.pid.new" "$dir/pocket-id.pid"
	echo "$n" >"$dir/starts"
	# wait returns early when a trapped signal arrives: wait again until the child is gone.
	while kill -0 "$child" 2>/dev/null; do wait "$child"; done
	[ -z "$stopping" ] && sleep 0.2
done
exit 0
