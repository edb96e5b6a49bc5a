#!/usr/bin/env bash
# Replicas: throughput of a seed frontend (JMessage) over the embedded store
# on SQLite, on PostgreSQL, and as three replicas behind haproxy on one
# PostgreSQL. Same load on each, one after the other: a read (GET
# /v1/users/{u}) and a write (POST /v1/messages). PostgreSQL is a throwaway
# cluster made here (initdb in a temp dir, loopback port, as the postgres
# user when run as root) with synchronous_commit off, like SQLite's WAL
# with synchronous=NORMAL: neither waits for the disk at each commit.
# On one machine the replicas share its cores: this measures what the
# shared database and the balancer cost, not how far more machines go.
# Usage: bench/replicas.sh [seconds] [connections]; BENCH_BIN=path runs
# that binary instead of building a release one (a debug build only checks
# that the script works: its numbers mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-8}"
CONNECTIONS="${2:-32}"
THREADS=2

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v haproxy >/dev/null || { apt-get update -qq && apt-get install -y -qq haproxy; }
BIN=${BENCH_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release -q
  BIN=${CARGO_TARGET_DIR:-target}/release/imbridge
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

WORK=$(mktemp -d)
chmod 755 "$WORK"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  # The postmaster runs under runuser, which passes no signal on.
  [ -f "$WORK/pg/data/postmaster.pid" ] && kill -INT "$(head -1 "$WORK/pg/data/postmaster.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
up() { for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }
KEY=benchappkey0000000000001; SECRET=bench-master-secret
AUTH=$(printf '%s:%s' "$KEY" "$SECRET" | base64)

PG=$(port)
mkdir "$WORK/pg" && chown "$(as_pg id -u):$(as_pg id -g)" "$WORK/pg" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >/dev/null
as_pg "$PGBIN/postgres" -D "$WORK/pg/data" -h 127.0.0.1 -k '' -p "$PG" \
  -c synchronous_commit=off -c max_connections=100 2>"$WORK/pg.log" &
for _ in $(seq 100); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG" -U postgres && break; sleep 0.1; done

replica() { # name listen [database]
  local url=""
  [ -z "${3:-}" ] || url="url = \"postgres://postgres@127.0.0.1:$PG/$3\""
  mkdir -p "$WORK/$1"
  cat > "$WORK/$1.toml" <<TOML
app_key = "$KEY"
mappings = "$PWD/mappings"
[server]
listen = "127.0.0.1:$2"
admin_listen = "127.0.0.1:$(port)"
threads = 2
grace_period_secs = 0
[store]
$url
path = "$WORK/$1/state.db"
[providers.embedded]
kind = "embedded"
$url
path = "$WORK/$1/im.db"
media_dir = "$WORK/media"
[frontends.jmessage]
provider = "embedded"
[frontends.jmessage.params]
master_secret = "$SECRET"
TOML
  RUST_LOG=warn "$BIN" serve --config "$WORK/$1.toml" 2>"$WORK/$1.log" &
}
balancer() { # listen backend-ports...
  local listen=$1; shift
  {
    printf 'defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n'
    printf 'frontend api\n    bind 127.0.0.1:%s\n    default_backend imbridge\n' "$listen"
    printf 'backend imbridge\n    balance roundrobin\n'
    for p in "$@"; do printf '    server r%s 127.0.0.1:%s\n' "$p" "$p"; done
  } > "$WORK/haproxy.cfg"
  haproxy -f "$WORK/haproxy.cfg" 2>"$WORK/haproxy.log" &
}

SQLITE=$(port); ONE=$(port); THREE=$(port); R1=$(port); R2=$(port); R3=$(port)
"$PGBIN/createdb" -h 127.0.0.1 -p "$PG" -U postgres one
"$PGBIN/createdb" -h 127.0.0.1 -p "$PG" -U postgres three
replica sqlite "$SQLITE"
replica one "$ONE" one
replica r1 "$R1" three; replica r2 "$R2" three; replica r3 "$R3" three
balancer "$THREE" "$R1" "$R2" "$R3"
for p in $SQLITE $ONE $R1 $R2 $R3 $THREE; do up "$p"; done

USERS='[{"username":"javen","password":"password"},{"username":"fang","password":"password"}]'
for p in $SQLITE $ONE $THREE; do
  curl -s -H "authorization: Basic $AUTH" -H 'content-type: application/json' -d "$USERS" "http://127.0.0.1:$p/v1/users/" >/dev/null
done
cat > "$WORK/send.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"version":1,"target_type":"single","target_id":"javen","from_type":"user","from_id":"fang","msg_type":"text","msg_body":{"text":"hi"}}'
LUA

run() { # label port path script
  local out
  out=$(wrk -t$THREADS -c"$CONNECTIONS" -d"${DURATION}s" --latency ${4:+-s "$4"} -H "authorization: Basic $AUTH" "http://127.0.0.1:$2$3")
  printf '%-26s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$1" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1=="50%" {print $2}')" \
    "$(echo "$out" | awk '$1=="99%" {print $2}')" \
    "$(echo "$out" | awk '/Non-2xx/ {print $5}')"
}
for case in "GET /v1/users/javen|/v1/users/javen|" "POST /v1/messages|/v1/messages|$WORK/send.lua"; do
  IFS='|' read -r title path script <<<"$case"
  echo "== $title (${DURATION}s, $CONNECTIONS connections, $(nproc) cores shared by wrk, PostgreSQL and imbridge)"
  run "SQLite, 1 replica" "$SQLITE" "$path" "$script"
  run "PostgreSQL, 1 replica" "$ONE" "$path" "$script"
  run "PostgreSQL, 3 + haproxy" "$THREE" "$path" "$script"
done
