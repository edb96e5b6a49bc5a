#!/usr/bin/env bash
# Profiles one row of bench/run.sh, on the same setup (stub, configs).
#
#   bench/profile.sh perf ROW [seconds]
#       perf record (software clock: hardware counters are not available
#       here) of the imbridge serving ROW under wrk load, with DWARF call
#       graphs; writes bench/out/ROW.perf.data and, with inferno installed
#       (`cargo install inferno`), the flame graph bench/out/ROW.svg
#   bench/profile.sh callgrind ROW [requests]
#       the imbridge serving ROW under valgrind's callgrind: a warm-up, then
#       a fixed number of requests (default 2000) with the counters zeroed
#       before and dumped after (bench/out/ROW.loaded), then 20 s unloaded
#       (bench/out/ROW.idle); prints instructions per request (steady on a
#       busy machine, unlike timings): the loaded count less what the idle
#       process spends in as long (timers, pollers), and the functions
#       that cost most; the dumps open in callgrind_annotate or kcachegrind
#
# ROW: 1call, 2call, send (the translating imbridge), emb_get, emb_send
# (the embedded one). BENCH_BIN=path profiles a given binary.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:?perf or callgrind}
ROW=${2:?row}
OUT=$ROOT/bench/out
mkdir -p "$OUT"

case $ROW in
  1call | 2call | send) side=T ;;
  emb_get | emb_send) side=E ;;
  *) echo "unknown row $ROW" >&2; exit 2 ;;
esac
if [ "$MODE" = callgrind ]; then
  command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
  rm -f "$OUT/$ROW.callgrind"* "$OUT/$ROW.loaded"* "$OUT/$ROW.idle"*
  wrap="valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file=$OUT/$ROW.callgrind --collect-atstart=yes"
  if [ $side = T ]; then WRAP_T=$wrap; else WRAP_E=$wrap; fi
  UP_TRIES=3000 # startup under valgrind is slow
fi
source bench/setup.sh

case $ROW in
  1call) port=$T1 path=/v1/users/javen script= body= ;;
  2call) port=$T2 path=/v1/users/javen script= body= ;;
  send) port=$T1 path=/v1/messages script=$WORK/send.lua body=$WORK/send.json ;;
  emb_get) port=$E path=/v1/users/javen script= body= ;;
  emb_send) port=$E path=/v1/messages script=$WORK/send.lua body=$WORK/send.json ;;
esac
if [ $side = T ]; then pid=$TPID; else pid=$EPID; fi
load() { # wrk args...
  local args=(-H "authorization: Basic $AUTH" "$@")
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "http://127.0.0.1:$port$path"
}

case $MODE in
  perf)
    seconds=${3:-10}
    command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
    perf record -e cpu-clock -F 999 --call-graph dwarf,16384 -p "$pid" -o "$OUT/$ROW.perf.data" \
      -- sleep "$seconds" 2>"$WORK/perf.log" &
    rec=$!
    load -t2 -c32 -d"${seconds}s" | grep -E 'Requests/sec|Latency '
    wait $rec
    echo "profile: $OUT/$ROW.perf.data (perf report -i $OUT/$ROW.perf.data --no-children)"
    if command -v inferno-collapse-perf >/dev/null; then
      perf script -i "$OUT/$ROW.perf.data" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph > "$OUT/$ROW.svg"
      echo "flame graph: $OUT/$ROW.svg"
    else
      echo "flame graph: cargo install inferno, then"
      echo "  perf script -i $OUT/$ROW.perf.data | inferno-collapse-perf | inferno-flamegraph > $OUT/$ROW.svg"
    fi
    ;;
  callgrind)
    requests=${3:-2000}
    # A fixed number of requests, then stop (wrk would run out its duration).
    counted() { # requests
      $M load "http://127.0.0.1:$port$path" "$1" 4 "$AUTH" $body
    }
    # dump NAME: the counters since the last zeroing into $OUT/$ROW.NAME,
    # its wall seconds beside it; the counters zeroed again.
    zeroed=$(date +%s.%N)
    dump() {
      local before now
      before=$(ls "$OUT/$ROW.callgrind"* | wc -l)
      callgrind_control -d "$pid" >/dev/null
      now=$(date +%s.%N)
      for _ in $(seq 100); do [ "$(ls "$OUT/$ROW.callgrind"* | wc -l)" -gt "$before" ] && break; sleep 0.1; done
      mv "$(ls -t "$OUT/$ROW.callgrind".* | head -1)" "$OUT/$ROW.$1"
      python3 -c "print($now - $zeroed)" > "$OUT/$ROW.$1.seconds"
      callgrind_control -z "$pid" >/dev/null
      zeroed=$(date +%s.%N)
    }
    counted 200 >/dev/null # warm-up: pools, caches, lazy statics
    callgrind_control -z "$pid" >/dev/null
    zeroed=$(date +%s.%N)
    n=$(counted "$requests")
    dump loaded
    # What the process does unloaded (pingora's clock thread, the outbox
    # worker's polls) in 20 s, scaled to the loaded time and subtracted.
    sleep 20
    dump idle
    echo "$ROW: $n requests (callgrind: $OUT/$ROW.loaded, $OUT/$ROW.idle)"
    $M callgrind "$OUT/$ROW.loaded" "$OUT/$ROW.idle" "$n" 25
    ;;
  *) echo "mode: perf or callgrind" >&2; exit 2 ;;
esac
