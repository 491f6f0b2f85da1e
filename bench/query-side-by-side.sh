#!/usr/bin/env bash
# Side-by-side dashboard query latency: the same vigil-loadgen load written into `vigil server`,
# VictoriaMetrics 1.79 and (optionally) Prometheus 2.42, all kept running, each idle after its post-load work;
# then ROUNDS rounds in which every query runs once on every target, the targets' order rotating each round, so
# that whatever else the machine does falls on all of them alike. Prints the median seconds per query and
# window, each target's sum of medians, and vigil's ratio to each peer (below 1: vigil is faster).
#   usage: bench/query-side-by-side.sh
#   env:   HOSTS=20 (each ~700 series)  DURATION=24h (simulated, 10 s interval)  CONCURRENCY=4  ROUNDS=15
#          TARGETS="vigil victoria-metrics prometheus"
# Needs ../shared/peers/install.sh to have run. Builds vigil and vigil-loadgen in release mode first.
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS=${HOSTS:-20}
DURATION=${DURATION:-24h}
CONCURRENCY=${CONCURRENCY:-4}
ROUNDS=${ROUNDS:-15}
TARGETS=${TARGETS:-vigil victoria-metrics prometheus}
PEERS_HOME=${PEERS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-peers}
BIN=$PEERS_HOME/root/usr/bin
[[ -x $BIN/prometheus && -x $BIN/victoria-metrics ]] || { echo "peers missing: run ../shared/peers/install.sh" >&2; exit 1; }

cargo build --release -q -p vigil -p vigil-loadgen
TARGET_DIR=${CARGO_TARGET_DIR:-target}/release
RUN=$(mktemp -d /tmp/vigil-query-bench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$RUN"' EXIT
source bench/lib.sh

declare -A port_of
for name in $TARGETS; do
  port=$(free_port); port_of[$name]=$port
  start_target "$name" "$port" "$RUN/$name"
  pids+=("$pid")
  "$TARGET_DIR/vigil-loadgen" --url "http://127.0.0.1:$port/api/v1/write" --hosts "$HOSTS" \
    --duration "$DURATION" --concurrency "$CONCURRENCY" --start now-"$DURATION" >/dev/null
  [[ $name == victoria-metrics ]] && curl -sf "http://127.0.0.1:$port/internal/force_flush" >/dev/null
  echo "$name loaded, idle after $(wait_idle "$pid") s" >&2
done

windows=("1h 3600 15")
[[ $DURATION == *d || $DURATION == 24h ]] && windows+=("24h 86400 300")
targets=($TARGETS)
end=$(date +%s)
for w in "${windows[@]}"; do
  read -r wname span step <<<"$w"
  for ((round = 0; round < ROUNDS; round++)); do
    for qi in "${!QUERIES[@]}"; do
      for ((k = 0; k < ${#targets[@]}; k++)); do
        name=${targets[$(((k + round) % ${#targets[@]}))]}
        query_seconds "http://127.0.0.1:${port_of[$name]}" "${QUERIES[$qi]}" $((end - span)) "$end" "$step" \
          "$(no_cache "$name")" >>"$RUN/$name.$wname.$qi"
        echo >>"$RUN/$name.$wname.$qi"
      done
    done
  done
done

echo "load: $HOSTS hosts, $DURATION at 10s; median seconds of $ROUNDS interleaved runs per query"
printf '%-6s %-72s' window query; for name in $TARGETS; do printf ' %16s' "$name"; done; echo
for w in "${windows[@]}"; do
  read -r wname _ _ <<<"$w"
  declare -A total=()
  for qi in "${!QUERIES[@]}"; do
    printf '%-6s %-72s' "$wname" "${QUERIES[$qi]}"
    for name in $TARGETS; do
      m=$(median <"$RUN/$name.$wname.$qi")
      total[$name]=$(awk -v a="${total[$name]:-0}" -v b="$m" 'BEGIN {print a + b}')
      printf ' %16.4f' "$m"
    done
    echo
  done
  printf '%-6s %-72s' "$wname" "sum of medians"
  for name in $TARGETS; do printf ' %16.4f' "${total[$name]}"; done; echo
  for name in $TARGETS; do
    [[ $name == vigil ]] && continue
    printf '%-6s vigil / %s = %.2f\n' "$wname" "$name" "$(awk -v a="${total[vigil]}" -v b="${total[$name]}" 'BEGIN {print a / b}')"
  done
  unset total
done
