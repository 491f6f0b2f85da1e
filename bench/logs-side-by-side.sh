#!/usr/bin/env bash
# Log benchmark: SIZE of generated nginx access, sshd auth and JSON app lines (vigil-loadgen logs; HOSTS hosts,
# one stream per host and job, timestamps spread over the last hour) pushed to `vigil server` through the Loki
# push API, the same lines written to a raw file. Reports accepted lines/s, the server's CPU seconds and peak
# RSS, bytes on disk per line once the log store has persisted its head, and the median latency (of RUNS,
# after one warm-up run each) of:
#   (a) a needle query: {job=~".+"} |= "needle_<hex>" (one line in all), limit 100; also with the needle
#       written as it stands in the line ("needle_<hex>" with its JSON quotes), which the token blooms can use
#   (b) a 1 % line filter: {job=~".+"} |= "deadline_exceeded" with Grafana's limit 1000, and the count of all
#       matches, sum(count_over_time({job=~".+"} |= "deadline_exceeded" [1h])), the fair peer of grep -c
#   (c) sum by (host) (count_over_time({job="nginx"} | pattern ... | status >= 500 [1h])) as an instant query
# next to grep -F needle FILE, grep -F -c marker FILE and zstdcat FILE.zst | grep -F -c marker on the raw file
# (zstd -T1 at its default level), all with a warm page cache. Goals: (a) grep / vigil >= 10, (b) vigil count /
# zstdcat|grep <= 2. Not run in CI.
#   usage: bench/logs-side-by-side.sh
#   env:   SIZE=1GiB  HOSTS=20  CONCURRENCY=4  RUNS=5  BUILD=1 (0: use the binaries already in the target dir)
#          KEEP=0 (1: keep the temp dir with the raw file and the data dir)
# Needs zstd and curl (scripts/setup installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1GiB}
HOSTS=${HOSTS:-20}
CONCURRENCY=${CONCURRENCY:-4}
RUNS=${RUNS:-5}
BUILD=${BUILD:-1}
KEEP=${KEEP:-0}
for tool in zstd curl python3; do
  command -v $tool >/dev/null || { echo "$tool missing: run scripts/setup" >&2; exit 1; }
done

[[ $BUILD == 1 ]] && cargo build --release -q -p vigil -p vigil-loadgen
TARGET_DIR=${CARGO_TARGET_DIR:-target}/release
RUN=$(mktemp -d "${TMPDIR:-/tmp}/vigil-log-bench.XXXXXX")
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null
  if [[ $KEEP == 1 ]]; then echo "kept $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT

source bench/lib.sh
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2"; }
metric() { curl -sf "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# seconds CMD...: wall seconds of one run of CMD. Its output goes to a file: GNU grep stops at the first match
# when it writes to /dev/null.
seconds() {
  local t0 t1
  t0=$(date +%s%N); "$@" >"$RUN/out"; t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e9}'
}
# timed CMD...: median seconds of RUNS runs of CMD, after one untimed warm-up run
timed() {
  local i
  "$@" >"$RUN/out"
  for ((i = 0; i < RUNS; i++)); do seconds "$@"; echo; done | median
}
loki() { # loki ENDPOINT PARAM=VALUE...: the body of a GET on the Loki API
  local endpoint=$1 args=() p
  shift
  for p in "$@"; do args+=(--data-urlencode "$p"); done
  curl -sf --get "$BASE/loki/api/v1/$endpoint" "${args[@]}"
}
timed_loki() { # timed_loki ENDPOINT PARAM=VALUE...: median seconds of RUNS requests (curl's time_total)
  local endpoint=$1 args=() p i
  shift
  for p in "$@"; do args+=(--data-urlencode "$p"); done
  curl -sf -o /dev/null --get "$BASE/loki/api/v1/$endpoint" "${args[@]}"
  for ((i = 0; i < RUNS; i++)); do
    curl -sf -o /dev/null -w '%{time_total}\n' --get "$BASE/loki/api/v1/$endpoint" "${args[@]}"
  done | median
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
port=$(free_port)
BASE=http://127.0.0.1:$port
VIGIL_LOG=warn "$TARGET_DIR/vigil" server --listen "127.0.0.1:$port" --data "$RUN/data" >"$RUN/server.log" 2>&1 &
pid=$!
wait_up "$BASE/-/ready"

# Ingest. The generator builds every push body first (not counted in lines/s), then sends.
cpu0=$(cpu_ticks "$pid")
summary=$("$TARGET_DIR/vigil-loadgen" logs --url "$BASE" --bytes "$SIZE" --hosts "$HOSTS" \
  --concurrency "$CONCURRENCY" --raw-out "$RUN/raw.log")
cpu1=$(cpu_ticks "$pid")
load_ingest=$(cut -d' ' -f1-3 /proc/loadavg)
echo "loadgen: $summary" >&2
lines=$(json_field lines_accepted "$summary")
[[ $lines == "$(json_field lines_sent "$summary")" ]] || { echo "not every line was accepted" >&2; exit 1; }
rate=$(json_field lines_per_second "$summary")
raw_bytes=$(json_field raw_bytes "$summary")
needle=$(json_field needle "$summary")
marker=$(json_field marker "$summary")
marker_lines=$(json_field marker_lines "$summary")
end_ns=$(json_field end_ns "$summary")
at=$((end_ns - 1)) # an instant query's [1h] at this time covers every line: (at - 1h, at]
start_s=$(($(json_field start_ns "$summary") / 1000000000)) end_s=$((end_ns / 1000000000 + 1))

# The server persists its log head every minute (maintain_every, 60 s); sizes and queries are taken after.
t0=$SECONDS
until [[ $(metric vigil_logstore_head_lines) == 0 ]]; do
  ((SECONDS - t0 < 600)) || { echo "log head not persisted after 600 s" >&2; exit 1; }
  sleep 1
done
wait_idle "$pid" >/dev/null
settle=$((SECONDS - t0))
cpu2=$(cpu_ticks "$pid")
parts=$(metric vigil_logstore_parts)
parts_bytes=$(metric vigil_logstore_disk_bytes)
disk_bytes=$(du -sb "$RUN/data/logs" | cut -f1)

# vigil, through the Loki query API.
q_needle="{job=~\".+\"} |= \"$needle\""
q_needle_quoted="{job=~\".+\"} |= \"\\\"$needle\\\"\""
q_marker="{job=~\".+\"} |= \"$marker\""
q_count="sum(count_over_time({job=~\".+\"} |= \"$marker\" [1h]))"
q_sum_by="sum by (host) (count_over_time({job=\"nginx\"} | pattern \`<_> - - [<_>] \"<_> <_> <_>\" <status> <_>\` | status >= 500 [1h]))"
range_args=("start=$start_s" "end=$end_s")
# Check the answers before timing them.
found=$(loki query_range "query=$q_needle" "${range_args[@]}" limit=100 | grep -o "$needle" | wc -l)
[[ $found == 1 ]] || { echo "needle query found $found lines, not 1" >&2; exit 1; }
count=$(loki query "query=$q_count" "time=$at" | sed -n 's/.*"value":\[[^,]*,"\([0-9]*\)"\].*/\1/p')
[[ $count == "$marker_lines" ]] || { echo "count query says $count, the generator planted $marker_lines" >&2; exit 1; }
hosts_found=$(loki query "query=$q_sum_by" "time=$at" | grep -o '"host":' | wc -l)
[[ $hosts_found == "$HOSTS" ]] || { echo "sum by (host) returned $hosts_found series, not $HOSTS" >&2; exit 1; }
t_needle=$(timed_loki query_range "query=$q_needle" "${range_args[@]}" limit=100)
t_needle_quoted=$(timed_loki query_range "query=$q_needle_quoted" "${range_args[@]}" limit=100)
t_marker=$(timed_loki query_range "query=$q_marker" "${range_args[@]}" limit=1000)
t_count=$(timed_loki query "query=$q_count" "time=$at")
t_sum_by=$(timed_loki query "query=$q_sum_by" "time=$at")
hwm=$(hwm_kib "$pid")
cpu3=$(cpu_ticks "$pid")

# The same questions to grep on the raw file.
raw=$RUN/raw.log
zstd -q -T1 -f "$raw" -o "$raw.zst"
zst_bytes=$(stat -c %s "$raw.zst")
grep_count=$(grep -F -c "$marker" "$raw")
[[ $grep_count == "$marker_lines" ]] || { echo "grep -c found $grep_count, not $marker_lines" >&2; exit 1; }
t_grep_needle=$(timed grep -F "$needle" "$raw")
[[ $(wc -l <"$RUN/out") == 1 ]] || { echo "grep -F found not one needle line" >&2; exit 1; }
t_grep_count=$(timed grep -F -c "$marker" "$raw")
t_zstd_count=$(timed bash -c 'zstdcat "$1" | grep -F -c "$2"' _ "$raw.zst" "$marker")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

secs() { awk -v a="$1" -v b="$2" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }
ms() { awk -v s="$1" 'BEGIN {printf "%.1f", s * 1000}'; }
ingest_cpu=$(secs "$cpu0" "$cpu1")
echo
echo "load: $SIZE of lines ($raw_bytes bytes, $lines lines, $HOSTS hosts x nginx/sshd/app, last 1 h), concurrency" \
  "$CONCURRENCY; $(nproc) cores; load average before $load_before, after ingest $load_ingest, at the end $load_after"
printf '%-44s %14s\n' "ingest lines/s (accepted)" "$rate"
printf '%-44s %14s\n' "server CPU s during ingest" "$ingest_cpu"
printf '%-44s %14.0f\n' "lines per server CPU s" "$(ratio "$lines" "$ingest_cpu")"
printf '%-44s %14s\n' "settle s until persisted and idle (CPU s)" "$settle ($(secs "$cpu1" "$cpu2"))"
printf '%-44s %14s\n' "server peak RSS MiB" "$((hwm / 1024))"
printf '%-44s %14s\n' "disk bytes/line: DATA/logs (parts only)" "$(ratio "$disk_bytes" "$lines") ($(ratio "$parts_bytes" "$lines"))"
printf '%-44s %14s\n' "raw bytes/line; zstd -T1 bytes/line" "$(ratio "$raw_bytes" "$lines"); $(ratio "$zst_bytes" "$lines")"
printf '%-44s %14s\n' "parts after settling" "$parts"
echo
printf '%-52s %10s %10s %10s %8s\n' query vigil_ms peer_ms ratio goal
printf '%-52s %10s %10s %10s %8s\n' "(a) needle |= \"needle_..\" vs grep -F" "$(ms "$t_needle")" "$(ms "$t_grep_needle")" \
  "$(ratio "$t_grep_needle" "$t_needle")" ">= 10"
printf '%-52s %10s %10s %10s %8s\n' "(a') needle |= \"\\\"needle_..\\\"\" vs grep -F" "$(ms "$t_needle_quoted")" \
  "$(ms "$t_grep_needle")" "$(ratio "$t_grep_needle" "$t_needle_quoted")" ">= 10"
printf '%-52s %10s %10s %10s %8s\n' "(b) 1% filter, limit 1000 vs zstdcat|grep -c" "$(ms "$t_marker")" \
  "$(ms "$t_zstd_count")" "$(ratio "$t_marker" "$t_zstd_count")" "-"
printf '%-52s %10s %10s %10s %8s\n' "(b) count_over_time of all 1% vs zstdcat|grep -c" "$(ms "$t_count")" \
  "$(ms "$t_zstd_count")" "$(ratio "$t_count" "$t_zstd_count")" "<= 2"
printf '%-52s %10s %10s %10s %8s\n' "(b) count_over_time vs grep -F -c (uncompressed)" "$(ms "$t_count")" \
  "$(ms "$t_grep_count")" "$(ratio "$t_count" "$t_grep_count")" "-"
printf '%-52s %10s %10s %10s %8s\n' "(c) sum by (host) over 1h, pattern + status>=500" "$(ms "$t_sum_by")" - - -
echo "(medians of $RUNS runs after a warm-up run; ratio is peer/vigil for (a), vigil/peer for (b);" \
  "server CPU s during the queries: $(secs "$cpu2" "$cpu3"))"
