#!/usr/bin/env bash
# Web UI page load with a fleet: `vigil server` (release build, UI embedded) on loopback, filled over remote_write
# by vigil-loadgen with HOSTS node_exporter-like hosts (their systemd units too) for the last DURATION at 15 s,
# which then keeps sending every 15 s as live hosts would, plus an hour of app logs per host and a few security
# events. Then ui/e2e/page-load.mjs loads the fleet overview and a host dashboard in headless Chromium, cold and
# warm, RUNS times each, and prints the median milliseconds from navigation start until the page is complete
# (every host row with its CPU and sparkline; every dashboard panel with its data). The host is one with a
# failed unit, so that the failed-units panel has data too. Screenshots of both pages go to target/ui-screenshots/.
#   usage: bench/ui-page-load.sh
#   env:   HOSTS=200 (each ~690 series)  DURATION=6h  RUNS=7  RANGE= (the dashboard's, e.g. now-6h; default 1 h)
#          MBIT= RTT=20 (emulate a network link instead of loopback)  PROFILE=1 (also each API request and panel
#          of the median runs)  BUILD=0 (use the existing release build)
# Needs Node.js and Chromium (/usr/bin/chromium, or CHROMIUM=path).
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS=${HOSTS:-200}
DURATION=${DURATION:-6h}
RUNS=${RUNS:-7}
RANGE=${RANGE:-}
PROFILE=${PROFILE:-0}

if [[ ${BUILD:-1} != 0 ]]; then
  (cd ui && npm ci --silent && npm run --silent build >/dev/null)
  cargo build --release -q -p vigil -p vigil-loadgen
fi
TARGET_DIR=${CARGO_TARGET_DIR:-target}/release
RUN=$(mktemp -d /tmp/vigil-ui-bench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$RUN"' EXIT
source bench/lib.sh

port=$(free_port)
url=http://127.0.0.1:$port
start_target vigil "$port" "$RUN/vigil"
vigil_pid=$pid
pids+=("$pid")

# instant QUERY -> the JSON result list
instant() { curl -sf --get "$url/api/v1/query" --data-urlencode "query=$1" | jq -c .data.result; }

# seconds DURATION -> its seconds (s, m, h or d)
seconds() { local n=${1%[smhd]}; case $1 in *m) n=$((n * 60)) ;; *h) n=$((n * 3600)) ;; *d) n=$((n * 86400)) ;; esac; echo "$n"; }

# The backfill runs on into a live feed (--realtime with a start in the past), for up to two hours more.
t0=$SECONDS
"$TARGET_DIR/vigil-loadgen" --url "$url/api/v1/write" --hosts "$HOSTS" --systemd --interval 15s \
  --start "now-$DURATION" --rounds $((($(seconds "$DURATION") + 7200) / 15)) --realtime --concurrency 2 \
  >"$RUN/loadgen.json" &
pids+=("$!")
until [[ $(instant "count(time() - timestamp(up) < 60)" | jq -r '.[0].value[1] // 0') == "$HOSTS" ]]; do
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "vigil-loadgen stopped: $(cat "$RUN/loadgen.json")" >&2; exit 1; }
  sleep 2
done
series=$(instant 'count({__name__=~".+"})' | jq -r '.[0].value[1]')
echo "loaded $HOSTS hosts, $series series, $DURATION at 15 s in $((SECONDS - t0)) s" >&2

# An hour of app lines per host (one every 15 s) and a few security events on the measured host.
host=$(instant 'node_systemd_unit_state{state="failed"} == 1' | jq -r '.[0].metric.instance // empty')
[[ -n $host ]] || { echo "no host with a failed unit among $HOSTS" >&2; exit 1; }
python3 - "$url" "$HOSTS" "$host" <<'EOF'
import json, sys, time, urllib.request
url, hosts, measured = sys.argv[1], int(sys.argv[2]), sys.argv[3]
now = time.time_ns()
def push(streams):
    req = urllib.request.Request(f"{url}/loki/api/v1/push", json.dumps({"streams": streams}).encode(),
                                 {"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
levels = ["info"] * 8 + ["warn", "error"]
for first in range(0, hosts, 20):
    streams = []
    for h in range(first, min(first + 20, hosts)):
        values = [[str(now - (240 - i) * 15_000_000_000),
                   f'level={levels[(i * 7 + h) % 10]} msg="request handled" path=/api/items/{i % 37} status=200 duration_ms={(i * 13 + h) % 250}']
                  for i in range(240)]
        streams.append({"stream": {"host": f"host-{h}:9100", "job": "app"}, "values": values})
    push(streams)
events = [[str(now - (10 - i) * 300_000_000_000), f"Failed password for invalid user admin{i} from 203.0.113.{i + 1} port 4{i}022 ssh2"]
          for i in range(10)]
push([{"stream": {"host": measured, "job": "security", "source": "guard"}, "values": events}])
EOF
echo "vigil idle after $(wait_idle "$vigil_pid") s; measuring host $host" >&2

extra=()
[[ $PROFILE != 0 ]] && extra+=(--profile)
[[ -n $RANGE ]] && extra+=(--range "$RANGE")
[[ -n ${MBIT:-} ]] && extra+=(--mbit "$MBIT" --rtt "${RTT:-20}")
echo "load: $HOSTS hosts, $series series, $DURATION at 15 s, live; vigil server $(git rev-parse --short HEAD), release"
node ui/e2e/page-load.mjs --base "$url" --hosts "$HOSTS" --host "$host" --runs "$RUNS" --shots "$PWD/target/ui-screenshots" \
  "${extra[@]}"
