#!/usr/bin/env bash
# The bounded attack suite (issue 11): starts one imbridge on loopback with
# its default limits (JMessage and rongcloud-app on the embedded provider; a
# second JMessage listener whose vendor provider points at a server that
# accepts and never answers), registers a user, and runs bench/attack.py:
# 600 wrong logins at 200 concurrency, 32 x 10 MB unauthenticated bodies,
# 500 slow-header connections and the hanging vendor, each while normal
# traffic runs. Reports imbridge's RSS peak and normal traffic's success
# rate and p99 per phase; exit status 1 when a target is missed
# (RSS < 300 MB, normal p99 < 1 s, every normal request served).
#
#   bench/attack.sh            # BENCH_BIN, else target/release, else target/debug
#   BENCH_BIN=path bench/attack.sh
#
# Stops by itself (each phase at most 90 s); everything is killed on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${BENCH_BIN:-}
for candidate in "${CARGO_TARGET_DIR:-target}/release/imbridge" "${CARGO_TARGET_DIR:-target}/debug/imbridge"; do
  [ -z "$BIN" ] && [ -x "$candidate" ] && BIN=$candidate
done
[ -n "$BIN" ] || { echo "attack: no imbridge binary (cargo build first, or BENCH_BIN=path)" >&2; exit 2; }
BIN=$(realpath "$BIN")

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] && echo "attack: work dir kept: $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
API=$(port); HANG_API=$(port); ADMIN=$(port); HANG=$(port)
KEY=attackappkey00000000001; SECRET=attack-master-secret

# The vendor that hangs: accepts, reads, never answers (bounded: 10 min).
timeout 600 python3 - "$HANG" <<'PY' &
import asyncio, sys
async def serve(reader, writer):
    await reader.read(65536)
    await asyncio.sleep(600)
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
PIDS+=($!)

cat > "$WORK/imbridge.toml" <<TOML
app_key = "$KEY"
mappings = "$ROOT/mappings"
[server]
listen = "127.0.0.1:$API"
admin_listen = "127.0.0.1:$ADMIN"
[store]
path = "$WORK/state.db"
[providers.embedded]
kind = "embedded"
path = "$WORK/imbridge.db"
media_dir = "$WORK/media"
[providers.hang]
kind = "vendor"
dialect = "jmessage"
base_url = "http://127.0.0.1:$HANG"
[providers.hang.params]
app_key = "$KEY"
master_secret = "$SECRET"
[frontends.jmessage]
provider = "embedded"
[frontends.jmessage.params]
master_secret = "$SECRET"
[frontends.rongcloud-app]
provider = "embedded"
[frontends.jm-hang]
dialect = "jmessage"
listen = "127.0.0.1:$HANG_API"
provider = "hang"
[frontends.jm-hang.params]
master_secret = "$SECRET"
TOML

"$BIN" serve --config "$WORK/imbridge.toml" > "$WORK/imbridge.log" 2>&1 &
IMB=$!
PIDS+=($IMB)
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$ADMIN/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$ADMIN/readyz" >/dev/null || { cat "$WORK/imbridge.log" >&2; exit 2; }
curl -fs -u "$KEY:$SECRET" -H 'content-type: application/json' \
  -d '[{"username":"ann","password":"ann-password"}]' "http://127.0.0.1:$API/v1/users/" >/dev/null

echo "attack: $BIN (pid $IMB), api :$API, hanging vendor behind :$HANG_API; load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/bench/attack.py" "$API" "$HANG_API" "$IMB" "$KEY" "$SECRET"
