# Shared helpers of the side-by-side benchmarks; sourced, not run. start_target expects BIN (the peers' bin directory)
# and TARGET_DIR (vigil's release build) to be set by the caller.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

# wait_idle PID -> seconds until the process used under 5% of a core for 2 s (at most 600 s): every target
# compacts or merges after a load, and queries are measured once that work is done, for all of them alike.
wait_idle() {
  local t0=$SECONDS a b
  while ((SECONDS - t0 < 600)); do
    a=$(cpu_ticks "$1"); sleep 2; b=$(cpu_ticks "$1")
    ((b - a <= 2 * hz / 20)) && break
  done
  echo $((SECONDS - t0))
}

# Dashboard queries: rate, sum by, ratio, quantile, topk.
QUERIES=(
  'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'
  'node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes'
  'sum by (instance) (rate(node_network_receive_bytes_total[5m]))'
  'quantile(0.9, rate(node_disk_io_time_seconds_total[5m]))'
  'topk(5, node_load1)'
)

# query_seconds URL_BASE QUERY START END STEP EXTRA -> seconds one range query took, as curl saw it
query_seconds() {
  curl -s -o /dev/null -w '%{time_total}' --get "$1/api/v1/query_range" --data-urlencode "query=$2" \
    --data-urlencode "start=$3" --data-urlencode "end=$4" --data-urlencode "step=$5" $6
}

# median: the median of the numbers on stdin, one per line
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# start_target NAME PORT DIR: starts vigil, prometheus or victoria-metrics on loopback, sets pid, waits until ready
start_target() {
  case $1 in
    vigil)
      VIGIL_LOG=warn "$TARGET_DIR/vigil" server --listen "127.0.0.1:$2" --data "$3" >"$3.log" 2>&1 &
      pid=$!; wait_up "http://127.0.0.1:$2/-/ready" ;;
    prometheus)
      printf 'global:\n  scrape_interval: 1m\nscrape_configs: []\n' >"$3.yml"
      "$BIN/prometheus" --config.file="$3.yml" --storage.tsdb.path="$3" --web.listen-address="127.0.0.1:$2" \
        --web.enable-remote-write-receiver --storage.tsdb.retention.time=30d >"$3.log" 2>&1 &
      pid=$!; wait_up "http://127.0.0.1:$2/-/ready" ;;
    victoria-metrics)
      "$BIN/victoria-metrics" -httpListenAddr="127.0.0.1:$2" -storageDataPath="$3" -retentionPeriod=1 \
        -search.latencyOffset=1s >"$3.log" 2>&1 &
      pid=$!; wait_up "http://127.0.0.1:$2/health" ;;
  esac
}

# no_cache NAME -> the extra curl argument that turns a target's result cache off
no_cache() { [[ $1 == victoria-metrics ]] && echo "--data-urlencode nocache=1" || true; }
