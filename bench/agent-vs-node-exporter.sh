#!/usr/bin/env bash
# Side-by-side benchmark of `vigil agent` and node_exporter 1.5 on this host, with the same collectors:
# resident memory after 100 scrapes, and CPU seconds per scrape (user + system, over SCRAPES scrapes).
# Scrapes ask for gzip, as Prometheus does.
#   usage: bench/agent-vs-node-exporter.sh            (SCRAPES=1000 by default)
# Needs ../shared/peers/install.sh to have run. Builds vigil in release mode first.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRAPES=${SCRAPES:-1000}
PEERS_HOME=${PEERS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-peers}
NE=$PEERS_HOME/root/usr/bin/prometheus-node-exporter
[[ -x $NE ]] || { echo "node_exporter missing: run ../shared/peers/install.sh" >&2; exit 1; }
COLLECTORS=cpu,meminfo,loadavg,filesystem,diskstats,netdev,netclass,stat,uname,time,pressure,vmstat,sockstat,netstat,tcpstat,filefd,entropy,conntrack,hwmon
[[ -S /run/systemd/private ]] && COLLECTORS+=,systemd

cargo build --release -q -p vigil
VIGIL=${CARGO_TARGET_DIR:-target}/release/vigil

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ne_port=$(free_port); vg_port=$(free_port)
ne_args=(--web.listen-address=127.0.0.1:$ne_port --collector.disable-defaults)
for c in ${COLLECTORS//,/ }; do ne_args+=(--collector.$c); done
"$NE" "${ne_args[@]}" >/dev/null 2>&1 &
ne_pid=$!
# Debian builds node_exporter with its own defaults (lo excluded from netdev; /run, /mnt, /media from
# filesystem). Give vigil the same filters so both do the same work.
cfg=$(mktemp --suffix=.yml)
cat > "$cfg" <<'YML'
agent:
  collectors:
    netdev_device_exclude: '^lo$'
    filesystem_mount_points_exclude: '^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)'
YML
VIGIL_LOG=warn "$VIGIL" agent --config "$cfg" --metrics-listen 127.0.0.1:$vg_port --collectors "$COLLECTORS" &
vg_pid=$!
trap 'kill $ne_pid $vg_pid 2>/dev/null || true; rm -f "$cfg"' EXIT

wait_up() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
wait_up http://127.0.0.1:$ne_port/metrics
wait_up http://127.0.0.1:$vg_port/metrics

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
scrape_n() { # url n
  local args=() i
  for ((i = 0; i < $2; i++)); do args+=(-o /dev/null "$1"); done
  # One curl process fetching sequentially over one kept-alive connection, like a scraper would.
  curl -sf -H 'Accept-Encoding: gzip' "${args[@]}"
}

measure() { # name pid url
  local name=$1 pid=$2 url=$3 t0 t1 rss
  scrape_n "$url" 100
  rss=$(rss_kib "$pid")
  t0=$(cpu_ticks "$pid")
  scrape_n "$url" "$SCRAPES"
  t1=$(cpu_ticks "$pid")
  local bytes
  bytes=$(curl -sf "$url" | wc -c)
  echo "$name $rss $(( t1 - t0 )) $bytes"
}

read -r _ ne_rss ne_ticks ne_bytes < <(measure node_exporter $ne_pid http://127.0.0.1:$ne_port/metrics)
read -r _ vg_rss vg_ticks vg_bytes < <(measure vigil $vg_pid http://127.0.0.1:$vg_port/metrics)

python3 - "$hz" "$SCRAPES" "$ne_rss" "$ne_ticks" "$ne_bytes" "$vg_rss" "$vg_ticks" "$vg_bytes" <<'PY'
import sys
hz, n, ne_rss, ne_t, ne_b, vg_rss, vg_t, vg_b = map(float, sys.argv[1:])
ne_cpu = ne_t / hz / n * 1000
vg_cpu = vg_t / hz / n * 1000
print(f"{'':<16}{'RSS after 100 scrapes':>24}{'CPU per scrape':>18}{'body bytes':>12}")
print(f"{'node_exporter':<16}{ne_rss/1024:>20.1f} MiB{ne_cpu:>15.3f} ms{ne_b:>12.0f}")
print(f"{'vigil agent':<16}{vg_rss/1024:>20.1f} MiB{vg_cpu:>15.3f} ms{vg_b:>12.0f}")
print(f"{'ratio':<16}{vg_rss/ne_rss:>22.2f}x{(vg_cpu/ne_cpu if ne_cpu else float('nan')):>16.2f}x   (goal: <= 0.50x RSS, <= 0.30x CPU)")
PY
