#!/usr/bin/env bash
# Live migration: what dual writes cost the caller. Two imbridge "vendors"
# (OLD and NEW, JMessage over their embedded stores) and two proxies serving
# the same JMessage app on OLD: PLAIN (no migration) and DUAL
# ([frontends.jmessage.migration] mode = "dual_write" to NEW). Same load on
# each, one after the other: writes (POST /v1/messages, PUT /v1/users/{u})
# and a read (GET /v1/users/{u}). Reports req/s and p50/p99 per proxy, the
# ratios DUAL/PLAIN, and how long DUAL's outbox takes to drain after the
# load. Usage: bench/live.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-8}"
CONNECTIONS="${2:-8}"
THREADS=2

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q
BIN=${CARGO_TARGET_DIR:-target}/release/imbridge

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KEY=benchappkey0000000000001; SECRET=bench-master-secret
AUTH=$(printf '%s:%s' "$KEY" "$SECRET" | base64)

server() { # name listen admin [extra toml]
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1.toml" <<TOML
app_key = "$KEY"
mappings = "$PWD/mappings"
[server]
listen = "127.0.0.1:$2"
admin_listen = "127.0.0.1:$3"
threads = 2
grace_period_secs = 0
[store]
path = "$WORK/$1/state.db"
[providers.embedded]
kind = "embedded"
path = "$WORK/$1/im.db"
media_dir = "$WORK/$1/media"
${4:-}
[frontends.jmessage.params]
master_secret = "$SECRET"
TOML
  RUST_LOG=warn "$BIN" serve --config "$WORK/$1.toml" 2>"$WORK/$1.log" &
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$2/" && break; sleep 0.1; done
}
vendor() { # name port
  printf '[providers.%s]\nkind = "vendor"\ndialect = "jmessage"\nbase_url = "http://127.0.0.1:%s"\n[providers.%s.params]\napp_key = "%s"\nmaster_secret = "%s"\n' "$1" "$2" "$1" "$KEY" "$SECRET"
}
OLD=$(port); NEW=$(port); PLAIN=$(port); DUAL=$(port); DUAL_ADMIN=$(port)
server old "$OLD" "$(port)"
server new "$NEW" "$(port)"
server plain "$PLAIN" "$(port)" "$(vendor old "$OLD")
[frontends.jmessage]
provider = \"old\""
server dual "$DUAL" "$DUAL_ADMIN" "$(vendor old "$OLD")
$(vendor new "$NEW")
[frontends.jmessage]
provider = \"old\"
[frontends.jmessage.migration]
to = \"new\"
mode = \"dual_write\""

USERS='[{"username":"javen","password":"password"},{"username":"fang","password":"password"}]'
for p in $OLD $NEW; do
  curl -s -H "authorization: Basic $AUTH" -H 'content-type: application/json' -d "$USERS" "http://127.0.0.1:$p/v1/users/" >/dev/null
done

cat > "$WORK/send.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"version":1,"target_type":"single","target_id":"javen","from_type":"user","from_id":"fang","msg_type":"text","msg_body":{"text":"hi"}}'
LUA
cat > "$WORK/update.lua" <<'LUA'
wrk.method = "PUT"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"nickname":"bench"}'
LUA

ms() { python3 -c "
v='$1'
for u, f in (('us', 0.001), ('ms', 1.0), ('s', 1000.0)):
    if v.endswith(u) and not (u == 's' and v.endswith(('us', 'ms'))):
        print(float(v[:-len(u)]) * f); break"; }
run() { # label port path script key
  local out rps p50 p99
  out=$(wrk -t$THREADS -c"$CONNECTIONS" -d"${DURATION}s" --latency ${4:+-s "$4"} -H "authorization: Basic $AUTH" "http://127.0.0.1:$2$3")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  printf '%-8s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "$(echo "$out" | awk '/Non-2xx/ {print $5}')"
  eval "RPS_$5=$rps P50_$5=$(ms "$p50") P99_$5=$(ms "$p99")"
}
depth() { curl -s "http://127.0.0.1:$DUAL_ADMIN/migration/outbox" | python3 -c 'import json,sys; print(sum(f["pending"]+f["inflight"] for f in json.load(sys.stdin)["frontends"]))'; }
drain() {
  local start; start=$(date +%s.%N)
  local left; left=$(depth)
  while [ "$left" != 0 ]; do sleep 0.1; left=$(depth); done
  printf '         outbox: %s entries left at the end of the load, drained in %.1f s\n' "$1" "$(python3 -c "import time; print(time.time() - $start)")"
}
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

for case in "POST /v1/messages|/v1/messages|$WORK/send.lua|send" "PUT /v1/users/javen|/v1/users/javen|$WORK/update.lua|update" "GET /v1/users/javen|/v1/users/javen||get"; do
  IFS='|' read -r title path script key <<<"$case"
  echo "== $title (${DURATION}s, $CONNECTIONS connections, 2 cores shared by wrk, both vendors and the proxy)"
  run plain "$PLAIN" "$path" "$script" "${key}_plain"
  run dual "$DUAL" "$path" "$script" "${key}_dual"
  left=$(depth); [ "$key" = get ] || drain "$left"
  eval "echo \"         dual/plain: throughput \$(ratio \$RPS_${key}_dual \$RPS_${key}_plain), p50 \$(ratio \$P50_${key}_dual \$P50_${key}_plain), p99 \$(ratio \$P99_${key}_dual \$P99_${key}_plain)\""
done
