#!/usr/bin/env bash
# Alert latency: from a series crossing a threshold to the webhook receiving the firing notification, for
# (a) `vigil server` alone (scrape, rule evaluation, in-process Alertmanager, webhook) and (b) Prometheus 2.42 +
# Alertmanager 0.25, with the same intervals: scrape and evaluation every 5s (INTERVAL), the rule `bench_value > 0.5`
# with `for: 10s`, group_wait 1s (GROUP_WAIT), group_interval 5s. Both scrape the same target, a file served over HTTP, so each run
# flips one series from 0 to 1 at one instant T0 for both; a run's latency is when the webhook sink received the
# notification minus T0, and its overhead is that minus `for`. The overhead is mostly where T0 falls between
# scrapes and evaluations (up to one scrape plus one evaluation interval), then group_wait and delivery; each run
# has its own alert name, so every notification is a new group's first and waits group_wait. The runs' T0 are
# spread evenly over the interval, so the median covers every phase. The last columns count from the scrape that
# saw the crossing instead (its samples' timestamp): what rule evaluation and alert dispatch add, whatever the
# scrape phase; beyond `for` and group_wait, that is the overhead the design's goal (1 s) is about.
#   usage: bench/alert-latency.sh              (RUNS=5 by default; about 30 s per run)
#          INTERVAL=1s GROUP_WAIT=0s bench/alert-latency.sh   (scrape and evaluation interval, group_wait: 5s, 1s)
# Needs ../shared/peers/install.sh to have run, and root (Alertmanager runs in a private mount namespace, see
# ../shared/peers/with-unpacked-share). Builds vigil in release mode first unless VIGIL_BIN names a binary.
# Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
INTERVAL=${INTERVAL:-5s}; GROUP_WAIT=${GROUP_WAIT:-1s}
period=${INTERVAL%s}; wait_s=${GROUP_WAIT%s}
PEERS=$PWD/../shared/peers
[[ -d $PEERS ]] || { echo "../shared/peers is missing" >&2; exit 1; }
if [[ -z ${VIGIL_BIN:-} ]]; then
  cargo build --release -q -p vigil
  VIGIL_BIN=${CARGO_TARGET_DIR:-target}/release/vigil
fi
VIGIL_BIN=$(realpath "$VIGIL_BIN")

export PEERS_RUN; PEERS_RUN=$(mktemp -d /tmp/alert-latency.XXXXXX)
trap 'bash "$PEERS/stop-all.sh" >/dev/null 2>&1 || true; rm -rf -- "$PEERS_RUN"' EXIT
source "$PEERS/common.sh"   # start_daemon, wait_http; pid files under $PEERS_RUN, stopped by stop-all.sh

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
target=127.0.0.1:$(free_port); sink=127.0.0.1:$(free_port); vigil=127.0.0.1:$(free_port)
prom=127.0.0.1:$(free_port); am=127.0.0.1:$(free_port)
W=$PEERS_RUN/bench; mkdir -p "$W/www"

# The target: one series per run, all 0 at first; run i sets bench_value{run="i"} to 1.
metrics() { # the run whose series is 1, or 0 for none
  local i
  { echo "# TYPE bench_value gauge"; for ((i = 1; i <= RUNS; i++)); do echo "bench_value{run=\"$i\"} $((i == $1))"; done; } \
    > "$W/www/metrics.tmp"
  mv "$W/www/metrics.tmp" "$W/www/metrics"
}
metrics 0
start_daemon target /usr/bin/python3 -m http.server --bind 127.0.0.1 "${target##*:}" --directory "$W/www" >/dev/null
wait_http target "http://$target/metrics" >/dev/null

{
  echo "groups:"
  echo "  - name: bench"
  echo "    rules:"
  for ((i = 1; i <= RUNS; i++)); do
    echo "      - alert: BenchRun$i"
    echo "        expr: bench_value{run=\"$i\"} > 0.5"
    echo "        for: 10s"
  done
} > "$W/rules.yml"

WEBHOOK_LISTEN=$sink WEBHOOK_OUT=$W/received.jsonl bash "$PEERS/start-webhook-sink.sh" >/dev/null

# (a) vigil: the same scrape, rules and Alertmanager settings as the peers get below.
cat > "$W/vigil.yml" <<YML
global:
  scrape_interval: $INTERVAL
  evaluation_interval: $INTERVAL
scrape_configs:
  - job_name: node
    static_configs: [ { targets: ["$target"] } ]
rule_files: ["rules.yml"]
alerting:
  route:
    receiver: webhook
    group_by: ['alertname']
    group_wait: $GROUP_WAIT
    group_interval: 5s
    repeat_interval: 1h
  receivers:
    - name: webhook
      webhook_configs:
        - url: "http://$sink/vigil"
          send_resolved: true
YML
VIGIL_LOG=warn start_daemon vigil "$VIGIL_BIN" server --config "$W/vigil.yml" --listen "$vigil" --data "$W/vigil-data" >/dev/null
wait_http vigil "http://$vigil/-/ready" 60 >/dev/null

# (b) Prometheus 2.42 and Alertmanager 0.25 from the peer scripts (job "node" scrapes NODE_EXPORTER_TARGET).
AM_LISTEN=$am AM_WEBHOOK_URL=http://$sink/alertmanager AM_GROUP_WAIT=$GROUP_WAIT AM_GROUP_INTERVAL=5s \
  bash "$PEERS/start-alertmanager.sh" >/dev/null
PROM_LISTEN=$prom PROM_SCRAPE_INTERVAL=$INTERVAL PROM_EVAL_INTERVAL=$INTERVAL NODE_EXPORTER_TARGET=$target ALERTMANAGER_TARGET=$am \
  PROM_REMOTE_WRITE= bash "$PEERS/start-prometheus.sh" "$W/rules.yml" >/dev/null

# Both must have scraped the zeros before the first crossing, and Prometheus must know its Alertmanager.
wait_value() { # name url
  local i
  for ((i = 0; i < 300; i++)); do
    curl -sf "$2/api/v1/query?query=count(bench_value==0)" | grep -q "\"$RUNS\"\]" && return 0
    sleep 0.1
  done
  echo "$1 never scraped the target" >&2; exit 1
}
wait_value vigil "http://$vigil"
wait_value prometheus "http://$prom"
for ((i = 0; i < 300; i++)); do
  curl -sf "http://$prom/api/v1/alertmanagers" | grep -q "$am" && break
  sleep 0.1
done

# received_unix of the first firing notification on PATH for alert NAME, or nothing.
received() { # path name
  python3 - "$W/received.jsonl" "$1" "$2" <<'PY'
import json, sys
out, path, name = sys.argv[1:]
try:
    lines = open(out, encoding="utf-8").read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    r = json.loads(line)
    b = r["body"]
    if r["path"] == path and b.get("status") == "firing" and b.get("groupLabels", {}).get("alertname") == name:
        print(r["received_unix"]); break
PY
}

# When a system scraped the crossing: the timestamp of its first sample of 1 for run RUN's series (the scrape's
# start, as both stamp samples).
scraped() { # base_url run
  curl -sfG "$1/api/v1/query" --data-urlencode "query=bench_value{run=\"$2\"}[2m]" | python3 -c '
import json, sys
values = json.load(sys.stdin)["data"]["result"][0]["values"]
print(next(t for t, v in values if v == "1"))'
}

printf '%-4s %12s %12s %16s %16s\n' run "vigil (s)" "prom+am (s)" "vigil scraped" "prom scraped"
vigil_lat=(); peer_lat=(); vigil_after=(); peer_after=()
for ((run = 1; run <= RUNS; run++)); do
  # Scrapes and evaluations sit at fixed offsets within their period of wall-clock time: spread the runs' T0
  # evenly over that period, so the figures cover every phase rather than whichever the previous run left.
  python3 -c "import time; time.sleep(($((run - 1)) * $period / $RUNS - time.time()) % $period)"
  t0=$(date +%s.%N)
  metrics "$run"
  v=""; p=""
  for ((i = 0; i < 1200; i++)); do   # 60 s at most
    [[ -n $v ]] || v=$(received /vigil "BenchRun$run")
    [[ -n $p ]] || p=$(received /alertmanager "BenchRun$run")
    [[ -n $v && -n $p ]] && break
    sleep 0.05
  done
  [[ -n $v && -n $p ]] || { echo "run $run: no notification from $([[ -n $v ]] || echo vigil) $([[ -n $p ]] || echo prometheus+alertmanager) within 60 s" >&2; exit 1; }
  vl=$(python3 -c "print(f'{$v - $t0:.3f}')"); pl=$(python3 -c "print(f'{$p - $t0:.3f}')")
  vs=$(scraped "http://$vigil" "$run"); ps=$(scraped "http://$prom" "$run")
  va=$(python3 -c "print(f'{$v - $vs:.3f}')"); pa=$(python3 -c "print(f'{$p - $ps:.3f}')")
  vigil_lat+=("$vl"); peer_lat+=("$pl"); vigil_after+=("$va"); peer_after+=("$pa")
  printf '%-4s %12s %12s %16s %16s\n' "$run" "$vl" "$pl" "$va" "$pa"
  metrics 0   # back under the threshold: the alert resolves while the next run starts
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f", m}'; }
mv=$(median "${vigil_lat[@]}"); mp=$(median "${peer_lat[@]}")
printf 'median latency:         vigil %ss, prometheus+alertmanager %ss\n' "$mv" "$mp"
printf 'median overhead beyond for (10s): vigil %.3fs, prometheus+alertmanager %.3fs\n' \
  "$(python3 -c "print($mv - 10)")" "$(python3 -c "print($mp - 10)")"
# From the scrape that saw the crossing, what the rules and the Alertmanager add beyond `for` and group_wait.
mva=$(median "${vigil_after[@]}"); mpa=$(median "${peer_after[@]}")
printf 'median from the scrape:  vigil %ss, prometheus+alertmanager %ss\n' "$mva" "$mpa"
printf 'median overhead beyond for and group_wait (%ss) from the scrape: vigil %.3fs, prometheus+alertmanager %.3fs\n' \
  "$(python3 -c "print(10 + $wait_s)")" "$(python3 -c "print($mva - 10 - $wait_s)")" "$(python3 -c "print($mpa - 10 - $wait_s)")"
