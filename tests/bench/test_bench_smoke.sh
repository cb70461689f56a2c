#!/bin/sh
# bench.smoke: the benchmark runs in its three modes (protocol v2 in process,
# the default; format 1 in process, --format 1; two daemons) with tiny
# numbers, prints every key of its --tsv output with a numeric value, and
# verifies the secondary's data (it exits non-zero otherwise). Timings are
# never judged here; what a delta must be is: one updated users row, a delta
# smaller than a full snapshot, the daemons' changes all sent as deltas.
set -eu
bench="$1"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

check_keys() { # FILE KEY...
	file=$1
	shift
	for key in "$@"; do
		if ! awk -F '\t' -v k="$key" '$1 == k && $2 ~ /^-?[0-9]+(\.[0-9]+)?$/ { found = 1 }
			END { exit !found }' "$file"; then
			echo "bench.smoke: key '$key' missing or not numeric in:" >&2
			cat "$file" >&2
			exit 1
		fi
	done
}

"$bench" --help | grep -q -- '--daemons'

value() { # FILE KEY
	awk -F '\t' -v k="$2" '$1 == k { print $2 }' "$1"
}

"$bench" --users 200 --reps 2 --tsv >"$out"
check_keys "$out" format users reps durable_rows plaintext_bytes max_payload_bytes \
	initial_look_ms initial_produce_ms initial_ingest_ms initial_lock_ms initial_cycle_ms \
	initial_cycle_cpu_ms initial_wire_bytes initial_wire_bytes_max \
	changed_look_ms changed_produce_ms changed_ingest_ms changed_lock_ms changed_cycle_ms \
	changed_cycle_cpu_ms changed_wire_bytes changed_wire_bytes_max changed_rows_min changed_rows_max \
	initial_rows_written \
	floor_select_ms floor_insert_ms floor_cycle_ms \
	ratio_initial_cycle_to_floor ratio_changed_cycle_to_initial ratio_changed_cycle_cpu_to_initial \
	peak_rss_primary_side_kib peak_rss_secondary_side_kib peak_rss_bench_kib \
	ratio_peak_rss_primary_to_plaintext ratio_peak_rss_secondary_to_plaintext verified
grep -qx 'format	2' "$out"
grep -qx 'verified	1' "$out"
grep -qx 'users	200' "$out"
grep -qx 'changed_rows_min	1' "$out"
grep -qx 'changed_rows_max	1' "$out"
grep -qx 'max_payload_bytes	268435456' "$out" # the default SYNC_MAX_PAYLOAD_SIZE
full=$(value "$out" initial_wire_bytes)
delta=$(value "$out" changed_wire_bytes_max)
plain=$(value "$out" plaintext_bytes)
if [ "$delta" -ge "$full" ] || [ "$plain" -ge "$full" ] || [ "$delta" -le 0 ]; then
	echo "bench.smoke: wire sizes make no sense: full $full, delta $delta, plaintext $plain" >&2
	exit 1
fi

"$bench" --format 1 --users 200 --reps 1 --tsv >"$out"
check_keys "$out" users reps durable_rows plaintext_bytes \
	initial_export_ms initial_seal_ms initial_open_ms initial_apply_ms initial_lock_ms \
	initial_cycle_ms initial_wire_bytes \
	changed_export_ms changed_seal_ms changed_open_ms changed_apply_ms changed_lock_ms \
	changed_cycle_ms changed_wire_bytes \
	unchanged_export_ms unchanged_seal_ms unchanged_open_ms unchanged_apply_ms \
	unchanged_lock_ms unchanged_cycle_ms unchanged_wire_bytes \
	initial_cycle_cpu_ms changed_cycle_cpu_ms unchanged_cycle_cpu_ms \
	floor_select_ms floor_insert_ms floor_cycle_ms floor_select_cpu_ms floor_insert_cpu_ms \
	ratio_initial_cycle_cpu_to_floor_cpu ratio_changed_cycle_cpu_to_initial \
	ratio_export_to_select ratio_initial_apply_to_insert ratio_initial_lock_to_insert \
	ratio_initial_cycle_to_floor ratio_changed_cycle_to_initial ratio_unchanged_cycle_to_initial \
	peak_rss_primary_side_kib peak_rss_secondary_side_kib peak_rss_bench_kib \
	ratio_peak_rss_to_plaintext verified
grep -qx 'verified	1' "$out"
grep -qx 'users	200' "$out"

"$bench" --daemons --users 50 --changes 10 --login-load 10 --load-seconds 2 --load-warmup 1 --tsv >"$out"
check_keys "$out" daemon_users daemon_changes change_visible_p50_ms change_visible_p99_ms \
	change_visible_max_ms unchanged_poll_bytes unchanged_poll_primary_cpu_ms \
	idle_rss_primary_kib idle_rss_secondary_kib idle_anon_primary_kib idle_anon_secondary_kib \
	idle_file_primary_kib idle_file_secondary_kib idle_heap_anon_primary_kib \
	idle_heap_anon_secondary_kib idle_pss_primary_kib idle_pss_secondary_kib \
	daemon_durable_identical daemon_initial_sync_ms daemon_initial_wire_bytes \
	change_wire_bytes_p50 change_wire_bytes_max change_payloads_delta change_payloads_full \
	change_visible_first_ms change_visible_max_after_first_ms \
	login_load_per_s login_load_seconds login_load_warmup_seconds login_load_writes \
	login_load_primary_cpu_pct login_load_generation_moved
grep -qx 'daemon_durable_identical	1' "$out"
grep -qx 'change_payloads_delta	10' "$out"
grep -qx 'change_payloads_full	0' "$out"
grep -qx 'login_load_writes	20' "$out"
echo "bench.smoke: ok"
