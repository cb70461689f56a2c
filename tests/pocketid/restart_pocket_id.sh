#!/usr/bin/env bash
# restart_pocket_id.sh DIR HEALTH_URL: what the conformance suite sets as SYNC_RESTART_COMMAND,
# the equivalent of `systemctl restart pocket-id.service` under supervise.sh: stops the running
# Pocket ID of DIR gracefully (SIGTERM), then waits up to 60 s for the supervisor's next start to
# answer HEALTH_URL with 2xx. Exit 0 = restarted and healthy; 1 = not within the deadline.
set -u
dir=$1 health=$2
old=$(cat "$dir/pocket-id.pid" 2>/dev/null) || { echo "no running Pocket ID in $dir" >&2; exit 1; }
kill -TERM "$old" || exit 1
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
	new=$(cat "$dir/pocket-id.pid" 2>/dev/null)
	if [ -n "$new" ] && [ "$new" != "$old" ] && ! kill -0 "$old" 2>/dev/null; then
		code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$health")
		case $code in 2??) echo "restarted Pocket ID in $dir (pid $new)"; exit 0 ;; esac
	fi
	sleep 0.1
done
echo "Pocket ID in $dir not healthy 60 s after the restart" >&2
exit 1
