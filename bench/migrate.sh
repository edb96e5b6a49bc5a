#!/usr/bin/env bash
# imbridge migrate benchmark: entities per second and peak memory of a copy
# from the embedded provider to a vendor emulator (a second imbridge serving
# WildfireChat's admin API over its own store; WildfireChat keeps no
# passwords, so the emulator hashes none and the copy is what is measured).
#
# Sizes are users:groups:members-per-group; the default runs 10,000 users /
# 1,000 groups / 50,000 memberships, then 100,000 / 10,000 / 500,000, so the
# peak RSS of the two runs shows whether memory grows with the count (it
# must not: entities are read a page at a time).
#
# Usage: bench/migrate.sh [SIZE ...]   e.g. bench/migrate.sh 20000:2000:50
#   BENCH_BIN=path   run this binary instead of building a release one
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000:1000:50 100000:10000:50)
CONCURRENCY="${CONCURRENCY:-16}"

BIN=${BENCH_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release -q
  BIN=${CARGO_TARGET_DIR:-target}/release/imbridge
fi
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KEY=benchappkey0000000000001; SECRET=123456

# A config serving WildfireChat's admin API over an embedded provider in $1.
server() { # dir listen admin
  cat <<TOML
app_key = "$KEY"
mappings = "$PWD/mappings"
[server]
listen = "127.0.0.1:$2"
admin_listen = "127.0.0.1:$3"
threads = 2
[store]
path = "$1/state.db"
[providers.embedded]
kind = "embedded"
path = "$1/im.db"
media_dir = "$1/media"
[frontends.wildfire]
[frontends.wildfire.params]
secret = "$SECRET"
TOML
}

wait_port() { for _ in $(seq 1200); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

printf '%-22s %9s %8s %11s %11s %9s %9s %10s\n' size entities seconds entities/s "peak RSS" users/s groups/s members/s
for size in "${SIZES[@]}"; do
  IFS=: read -r USERS NGROUPS PER <<<"$size"
  D="$WORK/$USERS"; mkdir -p "$D/source" "$D/target"
  S=$(port); SA=$(port); T=$(port); TA=$(port)
  server "$D/source" "$S" "$SA" > "$D/source.toml"
  server "$D/target" "$T" "$TA" > "$D/target.toml"
  # Seed the source through its own API (WildfireChat admin, 32 at a time).
  "$BIN" serve --config "$D/source.toml" > "$D/source.log" 2>&1 & SRC=$!
  wait_port "$S"
  python3 - "$S" "$USERS" "$NGROUPS" "$PER" "$SECRET" <<'PY'
import hashlib, json, random, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, users, groups, per, secret = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def call(path, body):
    nonce = str(random.randint(1, 10**9)); ts = str(int(time.time() * 1000))
    sign = hashlib.sha1(f"{nonce}|{secret}|{ts}".encode()).hexdigest()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
        headers={"nonce": nonce, "timestamp": ts, "sign": sign, "content-type": "application/json"})
    answer = json.loads(urllib.request.urlopen(req).read())
    assert answer["code"] == 0, answer
def user(i):
    u = f"u{i:07d}"
    call("/admin/user/create", {"userId": u, "name": u, "displayName": f"User {i}", "gender": i % 3,
                                "email": f"{u}@example.com"})
def group(g):
    owner = f"u{(g * per) % users:07d}"
    members = [{"member_id": owner, "type": 2}] + [
        {"member_id": f"u{(g * per + j) % users:07d}", "type": 0} for j in range(1, per)]
    call("/admin/group/create", {"operator": owner, "to_lines": [0], "group": {
        "group_info": {"target_id": f"g{g:06d}", "name": f"group {g}", "owner": owner, "type": 2},
        "members": members}})
with ThreadPoolExecutor(32) as pool:
    list(pool.map(user, range(users)))
    list(pool.map(group, range(groups)))
PY
  kill "$SRC"; wait "$SRC" 2>/dev/null || true
  # The target: an emulator of WildfireChat over its own store.
  "$BIN" serve --config "$D/target.toml" > "$D/target.log" 2>&1 & TGT=$!
  wait_port "$T"
  cat > "$D/migrate.toml" <<TOML
app_key = "$KEY"
mappings = "$PWD/mappings"
[store]
path = "$D/migrate-state.db"
[providers.embedded]
kind = "embedded"
path = "$D/source/im.db"
media_dir = "$D/source/media"
[providers.wildfire]
kind = "vendor"
dialect = "wildfire"
base_url = "http://127.0.0.1:$T"
timeout_ms = 10000
[providers.wildfire.params]
secret = "$SECRET"
TOML
  /usr/bin/time -v "$BIN" migrate --config "$D/migrate.toml" --from embedded --to wildfire \
      --only users,groups,members --concurrency "$CONCURRENCY" --report "$D/report.json" \
      > "$D/migrate.out" 2> "$D/time.txt" || { cat "$D/migrate.out" "$D/time.txt" >&2; exit 1; }
  kill "$TGT"; wait "$TGT" 2>/dev/null || true
  python3 - "$D/report.json" "$D/time.txt" "$size" <<'PY'
import json, re, sys
report = json.load(open(sys.argv[1])); time_v = open(sys.argv[2]).read()
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_v).group(1))
kinds = {k["kind"]: k for k in report["kinds"]}
def n(k): return sum(kinds[k][o] for o in ("copied", "updated", "skipped", "failed"))
entities = n("users") + n("groups") + n("members")
failed = sum(kinds[k]["failed"] for k in ("users", "groups", "members"))
assert failed == 0, report["failures"][:5]
secs = report["seconds"]
# Each kind's own time, from its progress line: "migrate users: ... (12.3s)".
took = {k: float(t) for k, t in re.findall(r"^migrate (\w+): .*\(([\d.]+)s\)$", time_v, re.M)}
rate = lambda k: n(k) / max(took.get(k, secs), 0.001)
print(f"{sys.argv[3]:<22} {entities:>9} {secs:>8.1f} {entities / secs:>11.0f} {rss_kb / 1024:>8.1f} MB"
      f" {rate('users'):>9.0f} {rate('groups'):>9.0f} {rate('members'):>10.0f}")
PY
done
