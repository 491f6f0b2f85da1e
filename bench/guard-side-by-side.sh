#!/usr/bin/env bash
# Side-by-side throughput of vigil's sshd parser + jail and fail2ban-regex 1.0.2 with the stock sshd filter,
# on the same generated auth log (LINES lines, default 1,000,000), each pinned to one core when taskset
# exists. Both use the sshd filter's default (normal) mode. Reported per program: lines per second of wall
# time (whole command: file reading, and Python's start-up for fail2ban-regex) and per second of CPU time
# (user + system), which stays fair when other work shares the machine.
#   usage: bench/guard-side-by-side.sh          (LINES=1000000 by default)
# Needs ../shared/peers/install.sh fail2ban to have run. Builds the benchmark in release mode first.
# Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-1000000}
F2B=$PWD/../shared/peers/fail2ban-regex.sh
[[ -x $F2B ]] || { echo "../shared/peers/fail2ban-regex.sh is missing" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time is missing (Debian package time)" >&2; exit 1; }
cargo build --release -q -p vigil-guard --example sshd_bench
BENCH=${CARGO_TARGET_DIR:-target}/release/examples/sshd_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/auth.log
"$BENCH" --generate "$log" --lines "$LINES"
pin=(); command -v taskset >/dev/null && pin=(taskset -c 0)

# Runs a command, prints "WALL CPU" seconds; its output goes to $2.
timed() {
  local out=$1; shift
  /usr/bin/time -f '%e %U %S' -o "$work/time.txt" "${pin[@]}" "$@" >"$out" 2>&1
  awk '{ printf "%s %s\n", $1, $2 + $3 }' "$work/time.txt"
}
rate() { echo "$LINES / $1" | bc -l; }

"$BENCH" "$log" >/dev/null   # warm the page cache
read -r v_wall v_cpu < <(timed "$work/vigil.txt" "$BENCH" "$log")
read -r f_wall f_cpu < <(timed "$work/f2b.txt" "$F2B" "$log" sshd)
cat "$work/vigil.txt"
echo "fail2ban-regex: $(grep -m1 '^Lines:' "$work/f2b.txt" || echo 'no summary')"
printf '%-15s %10s %12s %14s %14s\n' program wall_s cpu_s lines/s_wall lines/s_cpu
printf '%-15s %10.2f %12.2f %14.0f %14.0f\n' vigil "$v_wall" "$v_cpu" "$(rate "$v_wall")" "$(rate "$v_cpu")"
printf '%-15s %10.2f %12.2f %14.0f %14.0f\n' fail2ban-regex "$f_wall" "$f_cpu" "$(rate "$f_wall")" "$(rate "$f_cpu")"
printf 'ratio vigil / fail2ban-regex: %.1fx by wall time, %.1fx by CPU time (goal >= 40x, >= 1000000 lines/s)\n' \
  "$(echo "$f_wall / $v_wall" | bc -l)" "$(echo "$f_cpu / $v_cpu" | bc -l)"
