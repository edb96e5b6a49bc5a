#!/usr/bin/env bash
# imbridge benchmark: the cost of the translation hop, measured in isolation
# against peers run on this machine in this run, as ratios.
#
#   stub      nginx answering JMessage and Easemob server-API calls from
#             memory (bench/nginx/stub.conf): the "vendor", as cheap as a
#             backend gets, so only the hop in front of it is measured
#   nginx     nginx as a plain reverse proxy to the stub: the floor of a hop
#   njs       nginx + njs translating JMessage "get user" from Easemob's user
#             and user-metadata calls (bench/nginx/jm_from_easemob.js)
#   imbridge  one process, two listeners: JMessage -> provider jmessage (1
#             vendor call per request) and JMessage -> provider easemob (2
#             calls: user and metadata); plus a second process serving
#             JMessage over the embedded provider (SQLite)
#
# Prints for each row req/s, p50/p99 latency, CPU-µs per request of the hop
# (and of the stub), then imbridge's own latency (total - provider, from its
# metrics) at half of peak load, memory after the run, startup time with
# every mapping compiled, ratios, and whether the targets are met.
#
# Usage: bench/run.sh [seconds per row]
#   BENCH_BIN=path   benchmark this binary instead of building one
# Profiles and flame graphs of one row: bench/profile.sh (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION="${1:-10}"
THREADS=2
CONNECTIONS=32

# Targets (issue 12). Ratios against peers of the same run, not absolute times.
MIN_1CALL_VS_NGINX=0.5
STRETCH_1CALL_VS_NGINX=0.8
MIN_2CALL_VS_NJS=1.5
MAX_OWN_P99_MS=1
MAX_RSS_MB=60
MAX_STARTUP_MS=200

source bench/setup.sh

# Startup first, while the servers above are idle.
STARTUP_MS=$($M startup "$BIN" "$WORK/all.toml" "http://127.0.0.1:$ALLA/readyz" 5)

declare -A RPS CPU

# run KEY LABEL PORT PATH HOP_PID [lua script]
run() {
  local key=$1 label=$2 port=$3 path=$4 hop=$5 script=${6:-}
  local args=(-t$THREADS -c$CONNECTIONS -d"${DURATION}s" --latency -H "authorization: Basic $AUTH")
  [ -n "$script" ] && args+=(-s "$script")
  local hop0 stub0 out hop1 stub1
  hop0=$($M cpu "$hop"); stub0=$($M cpu "$STUB_PID")
  out=$(wrk "${args[@]}" "http://127.0.0.1:$port$path")
  hop1=$($M cpu "$hop"); stub1=$($M cpu "$STUB_PID")
  local rps n p50 p99 non2xx errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}')
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  errors=$(echo "$out" | awk '/Socket errors/ {print $0}')
  RPS[$key]=$rps
  CPU[$key]=$(( (hop1 - hop0) / n ))
  printf '%-40s %8s req/s  p50 %8s  p99 %8s  hop %5s CPU-µs/req  stub %4s  non-2xx %s%s\n' \
    "$label [$key]" "$rps" "$p50" "$p99" "${CPU[$key]}" "$(( (stub1 - stub0) / n ))" \
    "${non2xx:-0}" "${errors:+  $errors}"
}

# half KEY PORT PATH: imbridge's own latency at half of the row's peak
# (wrk paces each connection with a delay; the rate reached is printed).
half() {
  local key=$1 port=$2 path=$3 target delay before after out rps
  target=$(( RPS[$key] / 2 ))
  delay=$(( 1000 * CONNECTIONS / (target > 0 ? target : 1) ))
  printf 'function delay() return %d end\n' "$delay" > "$WORK/pace.lua"
  before=$WORK/$key.before; after=$WORK/$key.after
  $M hist "http://127.0.0.1:$TA/metrics" imbridge_overhead_duration_seconds 'op="user.get"' > "$before"
  out=$(wrk -t$THREADS -c$CONNECTIONS -d"${DURATION}s" --latency -s "$WORK/pace.lua" \
    -H "authorization: Basic $AUTH" "http://127.0.0.1:$port$path")
  $M hist "http://127.0.0.1:$TA/metrics" imbridge_overhead_duration_seconds 'op="user.get"' > "$after"
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}')
  read -r OWN_P50 OWN_P99 _ < <($M quantiles "$before" "$after")
  printf '%-40s %8s req/s  own p50 %6.3fms  own p99 %6.3fms  (total p99 %s)\n' \
    "$key at half load" "$rps" "$OWN_P50" "$OWN_P99" "$(echo "$out" | awk '$1=="99%" {print $2}')"
  eval "OWN_P99_$key=$OWN_P99"
}

echo "== $(date -u '+%F %T') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores shared by wrk, the stub, nginx and imbridge"
echo "== wrk -t$THREADS -c$CONNECTIONS, ${DURATION}s per row; $BIN"
echo "== GET /v1/users/javen: 1 vendor call"
run direct   "stub directly"                 "$STUB"  /v1/users/javen "$STUB_PID"
run nginx    "nginx -> stub"                 "$PROXY" /v1/users/javen "$PROXY_PID"
run 1call    "imbridge JMessage -> jmessage"  "$T1"   /v1/users/javen "$TPID"
echo "== GET /v1/users/javen from Easemob: 2 vendor calls (user, metadata)"
run njs      "nginx+njs JMessage <- Easemob" "$NJS"   /v1/users/javen "$NJS_PID"
run 2call    "imbridge JMessage -> easemob"  "$T2"    /v1/users/javen "$TPID"
echo "== POST /v1/messages: 1 vendor call"
run send_direct "stub directly"              "$STUB"  /v1/messages "$STUB_PID"  "$WORK/send.lua"
run send_nginx  "nginx -> stub"              "$PROXY" /v1/messages "$PROXY_PID" "$WORK/send.lua"
run send     "imbridge JMessage -> jmessage" "$T1"    /v1/messages "$TPID"      "$WORK/send.lua"
echo "== the embedded provider (SQLite) under the JMessage frontend"
run emb_get  "imbridge GET /v1/users/javen"   "$E"    /v1/users/javen "$EPID"
run emb_send "imbridge POST /v1/messages"     "$E"    /v1/messages "$EPID"    "$WORK/send.lua"
echo "== imbridge's own time (total - provider), from its metrics"
half 1call "$T1" /v1/users/javen
half 2call "$T2" /v1/users/javen

RSS_T=$($M rss "$TPID"); RSS_E=$($M rss "$EPID")
echo "== memory after the run: translating imbridge ${RSS_T} MB, embedded imbridge ${RSS_E} MB"
echo "== startup with every mapping compiled (median of 5, exec to /readyz): ${STARTUP_MS} ms"

ratio() { python3 -c "print(f'{$1/max($2,1):.2f}')"; }
R1=$(ratio "${RPS[1call]}" "${RPS[nginx]}")
R2=$(ratio "${RPS[2call]}" "${RPS[njs]}")
RS=$(ratio "${RPS[send]}" "${RPS[send_nginx]}")
echo "== throughput ratios: 1-call imbridge/nginx $R1, 2-call imbridge/njs $R2, send imbridge/nginx $RS"
# CPU per request is steadier than req/s on a shared machine: nginx's CPU-µs
# over imbridge's is the throughput ratio the two would have with equal cores.
echo "== CPU-per-request ratios (peer/imbridge): 1-call $(ratio "${CPU[nginx]}" "${CPU[1call]}"), 2-call $(ratio "${CPU[njs]}" "${CPU[2call]}"), send $(ratio "${CPU[send_nginx]}" "${CPU[send]}")"

fail=0
verdict() { # ok? description
  if python3 -c "import sys; sys.exit(0 if $1 else 1)"; then echo "  met     $2"; else echo "  MISSED  $2"; fail=1; fi
}
echo "== targets"
verdict "$R1 >= $MIN_1CALL_VS_NGINX" "1-call throughput >= $MIN_1CALL_VS_NGINX x nginx ($R1; stretch $STRETCH_1CALL_VS_NGINX)"
verdict "$R2 >= $MIN_2CALL_VS_NJS" "2-call throughput >= $MIN_2CALL_VS_NJS x nginx+njs ($R2)"
verdict "$OWN_P99_1call <= $MAX_OWN_P99_MS and $OWN_P99_2call <= $MAX_OWN_P99_MS" \
  "own latency p99 <= ${MAX_OWN_P99_MS} ms at half load (1-call $OWN_P99_1call, 2-call $OWN_P99_2call)"
verdict "$RSS_T <= $MAX_RSS_MB" "RSS <= ${MAX_RSS_MB} MB after the run (${RSS_T} MB)"
verdict "$STARTUP_MS <= $MAX_STARTUP_MS" "startup <= ${MAX_STARTUP_MS} ms with every mapping (${STARTUP_MS} ms)"
exit $fail
