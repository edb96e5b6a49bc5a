#!/usr/bin/env bash
# imbridge benchmark: ratios against peers run on this machine in this run.
#
#   B      imbridge serving JMessage over its embedded store (the "vendor")
#   direct clients call B itself
#   nginx  nginx proxying to B (a dumb reverse proxy: the floor for one hop)
#   A      imbridge serving JMessage with provider jmessage -> B: a full
#          translation hop (route, auth, template, typed op, outbound template,
#          pooled HTTP call, answer mapping, render)
#
# Load: wrk, GET /v1/users/{u} with Basic auth (the commonest read) and
# POST /v1/messages (a write). Reports requests/s, latency, A's and B's memory,
# and checks the targets below. Usage: bench/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
THREADS=2
CONNECTIONS=32

# Targets (ratios, not absolute times): A keeps at least this share of
# nginx's throughput on the same hop, and at most this much memory.
MIN_THROUGHPUT_VS_NGINX="0.35"
MAX_RSS_MB=200

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light || apt-get install -y -qq nginx; }
cargo build --release -q
BIN=${CARGO_TARGET_DIR:-target}/release/imbridge

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; nginx -p "$WORK" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
B=$(port); BA=$(port); A=$(port); AA=$(port); N=$(port)
KEY=benchappkey0000000000001; SECRET=bench-master-secret
AUTH=$(printf '%s:%s' "$KEY" "$SECRET" | base64)

common() { # listen admin dir
  cat <<TOML
app_key = "$KEY"
mappings = "$PWD/mappings"
[server]
listen = "127.0.0.1:$1"
admin_listen = "127.0.0.1:$2"
threads = 2
grace_period_secs = 0
log_format = "text"
[store]
path = "$3/state.db"
[providers.embedded]
kind = "embedded"
path = "$3/im.db"
media_dir = "$3/media"
[frontends.jmessage.params]
master_secret = "$SECRET"
TOML
}
mkdir -p "$WORK/b" "$WORK/a"
common "$B" "$BA" "$WORK/b" > "$WORK/b.toml"
{ common "$A" "$AA" "$WORK/a"; cat <<TOML
[providers.vendor]
kind = "vendor"
dialect = "jmessage"
base_url = "http://127.0.0.1:$B"
[providers.vendor.params]
app_key = "$KEY"
master_secret = "$SECRET"
TOML
} | sed 's/^\[frontends.jmessage.params\]/[frontends.jmessage]\nprovider = "vendor"\n[frontends.jmessage.params]/' > "$WORK/a.toml"
cat > "$WORK/nginx.conf" <<NGINX
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
worker_processes 2;
events { worker_connections 1024; }
http {
  access_log off;
  upstream b { server 127.0.0.1:$B; keepalive 64; }
  server {
    listen 127.0.0.1:$N;
    location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX

RUST_LOG=warn "$BIN" serve --config "$WORK/b.toml" 2>"$WORK/b.log" & BPID=$!
RUST_LOG=warn "$BIN" serve --config "$WORK/a.toml" 2>"$WORK/a.log" & APID=$!
nginx -p "$WORK" -c nginx.conf
for p in $B $A $N; do for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done; done

curl -s -H "authorization: Basic $AUTH" -H 'content-type: application/json' \
  -d '[{"username":"javen","password":"password"},{"username":"fang","password":"password"}]' "http://127.0.0.1:$B/v1/users/" >/dev/null

cat > "$WORK/send.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"version":1,"target_type":"single","target_id":"javen","from_type":"user","from_id":"fang","msg_type":"text","msg_body":{"text":"hi"}}'
LUA

run() { # name port path [script]
  local out
  if [ -n "${4:-}" ]; then
    out=$(wrk -t$THREADS -c$CONNECTIONS -d"${DURATION}s" --latency -s "$4" -H "authorization: Basic $AUTH" "http://127.0.0.1:$2$3")
  else
    out=$(wrk -t$THREADS -c$CONNECTIONS -d"${DURATION}s" --latency -H "authorization: Basic $AUTH" "http://127.0.0.1:$2$3")
  fi
  local rps p50 p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  printf '%-28s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
  eval "RPS_$5=$rps"
}

echo "== GET /v1/users/javen (${DURATION}s, $CONNECTIONS connections, 2 cores shared by all)"
run "direct (B)" "$B" /v1/users/javen "" get_direct
run "nginx -> B" "$N" /v1/users/javen "" get_nginx
run "imbridge A -> B" "$A" /v1/users/javen "" get_imbridge
echo "== POST /v1/messages"
run "direct (B)" "$B" /v1/messages "$WORK/send.lua" send_direct
run "nginx -> B" "$N" /v1/messages "$WORK/send.lua" send_nginx
run "imbridge A -> B" "$A" /v1/messages "$WORK/send.lua" send_imbridge

RSS_A=$(( $(ps -o rss= -p $APID) / 1024 )); RSS_B=$(( $(ps -o rss= -p $BPID) / 1024 ))
echo "== memory after load: A ${RSS_A} MB, B ${RSS_B} MB"
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "== ratios: imbridge/nginx throughput GET $(ratio $RPS_get_imbridge $RPS_get_nginx), POST $(ratio $RPS_send_imbridge $RPS_send_nginx)"

fail=0
for kind in get send; do
  r=$(eval "ratio \$RPS_${kind}_imbridge \$RPS_${kind}_nginx")
  if python3 -c "import sys; sys.exit(0 if $r >= $MIN_THROUGHPUT_VS_NGINX else 1)"; then :; else
    echo "TARGET MISSED: $kind throughput ratio $r < $MIN_THROUGHPUT_VS_NGINX"; fail=1; fi
done
[ "$RSS_A" -le "$MAX_RSS_MB" ] || { echo "TARGET MISSED: A uses ${RSS_A} MB > ${MAX_RSS_MB} MB"; fail=1; }
[ $fail = 0 ] && echo "targets met"
exit $fail
