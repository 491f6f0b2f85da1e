#!/usr/bin/env bash
# Side-by-side remote_write benchmark: the same vigil-loadgen load (node_exporter-like series) sent to
# `vigil server`, Prometheus 2.42 and VictoriaMetrics 1.79 on this machine, one after the other. Reports accepted
# samples/s, CPU seconds of the receiving process, its peak RSS, disk bytes per sample after the load, and the
# median latency of a fixed set of dashboard queries over the last 1 h (and 24 h when DURATION covers it), taken
# once the target has finished its post-load work (compaction, merges) and gone idle.
#   usage: bench/remote-write-side-by-side.sh
#   env:   HOSTS=100 (each ~700 series)  DURATION=3h (simulated, 10 s interval)  CONCURRENCY=4
#          TARGETS="vigil prometheus victoria-metrics"  QUERY_RUNS=5
# Needs ../shared/peers/install.sh to have run. Builds vigil and vigil-loadgen in release mode first.
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS=${HOSTS:-100}
DURATION=${DURATION:-3h}
CONCURRENCY=${CONCURRENCY:-4}
TARGETS=${TARGETS:-vigil prometheus victoria-metrics}
QUERY_RUNS=${QUERY_RUNS:-5}
PEERS_HOME=${PEERS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-peers}
BIN=$PEERS_HOME/root/usr/bin
[[ -x $BIN/prometheus && -x $BIN/victoria-metrics ]] || { echo "peers missing: run ../shared/peers/install.sh" >&2; exit 1; }

cargo build --release -q -p vigil -p vigil-loadgen
TARGET_DIR=${CARGO_TARGET_DIR:-target}/release
RUN=$(mktemp -d /tmp/vigil-rw-bench.XXXXXX)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$RUN"' EXIT

source bench/lib.sh

# median_latency URL_BASE QUERY START END STEP EXTRA -> median seconds of QUERY_RUNS range queries
median_latency() {
  local i
  for ((i = 0; i < QUERY_RUNS; i++)); do query_seconds "$@"; echo; done | median
}

results=()
for name in $TARGETS; do
  port=$(free_port); dir=$RUN/$name
  start_target "$name" "$port" "$dir"
  cpu0=$(cpu_ticks "$pid")
  summary=$("$TARGET_DIR/vigil-loadgen" --url "http://127.0.0.1:$port/api/v1/write" --hosts "$HOSTS" \
    --duration "$DURATION" --concurrency "$CONCURRENCY" --start now-"$DURATION")
  cpu1=$(cpu_ticks "$pid")
  [[ $name == victoria-metrics ]] && curl -sf "http://127.0.0.1:$port/internal/force_flush" >/dev/null
  settle=$(wait_idle "$pid")
  settle_cpu=$(awk -v a="$cpu1" -v b="$(cpu_ticks "$pid")" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}')
  extra=$(no_cache "$name")
  end=$(date +%s); lat1=0; lat24=-
  for q in "${QUERIES[@]}"; do
    l=$(median_latency "http://127.0.0.1:$port" "$q" $((end - 3600)) "$end" 15 "$extra")
    lat1=$(awk -v a="$lat1" -v b="$l" 'BEGIN {print a + b}')
  done
  if [[ $DURATION == *d || $DURATION == 24h ]]; then
    lat24=0
    for q in "${QUERIES[@]}"; do
      l=$(median_latency "http://127.0.0.1:$port" "$q" $((end - 86400)) "$end" 300 "$extra")
      lat24=$(awk -v a="$lat24" -v b="$l" 'BEGIN {print a + b}')
    done
  fi
  hwm=$(hwm_kib "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  bytes=$(du -sb "$dir" | cut -f1)
  accepted=$(sed -n 's/.*"samples_accepted":\([0-9]*\).*/\1/p' <<<"$summary")
  rate=$(sed -n 's/.*"samples_per_second":\([0-9.]*\).*/\1/p' <<<"$summary")
  cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) / hz}')
  results+=("$(printf '%-17s %12.0f %10s %12.0f %10.1f %10.3f %10s %10s %8s %8s %12d' "$name" "$rate" "$cpu" \
    "$(awk -v a="$accepted" -v c="$cpu" 'BEGIN {print (c > 0) ? a / c : 0}')" "$((hwm / 1024))" \
    "$(awk -v b="$bytes" -v a="$accepted" 'BEGIN {print (a > 0) ? b / a : 0}')" "$lat1" "$lat24" "$settle" "$settle_cpu" "$accepted")")
  echo "$name: $summary" >&2
done
echo "load: $HOSTS hosts, $DURATION at 10s, concurrency $CONCURRENCY; query latency = sum of ${#QUERIES[@]} median range queries (s)"
printf '%-17s %12s %10s %12s %10s %10s %10s %10s %8s %8s %12s\n' target samples/s cpu_s samples/cpu_s peak_MiB disk_B/smp q_1h_s q_24h_s \
  settle_s set_cpu accepted
printf '%s\n' "${results[@]}"
echo "(q_24h_s needs DURATION of 24h or more; settle_s, set_cpu: seconds and CPU seconds after the load until the target was idle; the queries ran after)"
