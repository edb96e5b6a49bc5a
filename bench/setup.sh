#!/usr/bin/env bash
# Shared by bench/run.sh and bench/profile.sh (sourced, not run): installs
# what the benchmark needs, starts the stub, nginx pass-through, nginx + njs,
# the translating imbridge (T: JMessage -> jmessage on $T1, JMessage -> easemob
# on $T2, admin $TA) and the embedded one (E: JMessage on $E, admin $EA), and
# checks that every path answers what it should. Set before sourcing: ROOT;
# optionally BENCH_BIN (a binary to use instead of building one), WRAP_T and
# WRAP_E (command prefixes for T and E, e.g. valgrind). Everything is stopped
# on exit.

need() { # command package...
  command -v "$1" >/dev/null && return
  apt-get update -qq && apt-get install -y -qq "${@:2}" >/dev/null
}
need wrk wrk
need nginx nginx
[ -f /usr/lib/nginx/modules/ngx_http_js_module.so ] ||
  { apt-get update -qq && apt-get install -y -qq libnginx-mod-http-js >/dev/null; }
need python3 python3
need curl curl
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -q
  BENCH_BIN=${CARGO_TARGET_DIR:-target}/release/imbridge
fi
BIN=$(realpath "$BENCH_BIN")
M="python3 $ROOT/bench/measure.py"

WORK=$(mktemp -d)
NGINXES=()
cleanup() {
  for conf in "${NGINXES[@]}"; do nginx -p "$WORK" -c "$conf" -s stop 2>/dev/null || true; done
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] && echo "bench: work dir kept: $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
STUB=$(port); PROXY=$(port); NJS=$(port)
T1=$(port); T2=$(port); TA=$(port); E=$(port); EA=$(port)
KEY=benchappkey0000000000001; SECRET=bench-master-secret
AUTH=$(printf '%s:%s' "$KEY" "$SECRET" | base64)

# --- peers: the stub, nginx pass-through, nginx + njs ---------------------
for name in stub proxy njs; do
  sed -e "s#__WORK__#$WORK#g; s#__STUB__#$STUB#g; s#__PROXY__#$PROXY#g; s#__NJS__#$NJS#g" \
      -e "s#__BENCH__#$ROOT/bench#g; s#__AUTH__#$AUTH#g" \
      "bench/nginx/$name.conf" > "$WORK/$name.conf"
  nginx -p "$WORK" -c "$WORK/$name.conf" -e "$WORK/$name-error.log"
  NGINXES+=("$WORK/$name.conf")
done

# --- imbridge ---------------------------------------------------------------
common() { # listen admin dir
  cat <<TOML
app_key = "$KEY"
mappings = "$ROOT/mappings"
[server]
listen = "127.0.0.1:$1"
admin_listen = "127.0.0.1:$2"
threads = 2
grace_period_secs = 0
log_format = "text"
[store]
path = "$3/state.db"
TOML
}
mkdir -p "$WORK/t" "$WORK/e" "$WORK/all"
vendor() { # name dialect params: a vendor provider pointed at the stub
  printf '[providers.%s]\nkind = "vendor"\ndialect = "%s"\nbase_url = "http://127.0.0.1:%s"\nparams = { %s }\n' \
    "$1" "$2" "$STUB" "$3"
}
JM_PARAMS="app_key = \"$KEY\", master_secret = \"$SECRET\""
EM_PARAMS='org_name = "bench", app_name = "stub", client_id = "YXA6bench-id", client_secret = "YXA6bench-secret"'
{ common "$T1" "$TA" "$WORK/t"
  vendor jm jmessage "$JM_PARAMS"
  vendor em easemob "$EM_PARAMS"
  cat <<TOML
[frontends.jmessage]
provider = "jm"
[frontends.jmessage.params]
master_secret = "$SECRET"
[frontends.jmessage_em]
dialect = "jmessage"
provider = "em"
listen = "127.0.0.1:$T2"
[frontends.jmessage_em.params]
master_secret = "$SECRET"
TOML
} > "$WORK/t.toml"
embedded() { # dir
  cat <<TOML
[providers.embedded]
kind = "embedded"
path = "$1/im.db"
media_dir = "$1/media"
TOML
}
{ common "$E" "$EA" "$WORK/e"; embedded "$WORK/e"; cat <<TOML
[frontends.jmessage.params]
master_secret = "$SECRET"
TOML
} > "$WORK/e.toml"
# Startup: every seed frontend on the embedded provider plus a provider of
# every vendor dialect (all mapping files are compiled in any case).
ALL=$(port); ALLA=$(port)
{ common "$ALL" "$ALLA" "$WORK/all"; embedded "$WORK/all"
  vendor jm jmessage "$JM_PARAMS"
  vendor em easemob "$EM_PARAMS"
  vendor rc rongcloud 'app_key = "k", app_secret = "s"'
  vendor wf wildfire 'secret = "s"'
  cat <<TOML
[frontends.jmessage]
params = { master_secret = "$SECRET" }
[frontends.haorenao]
[frontends.easemob-hx]
[frontends.wildfire]
params = { secret = "123456" }
[frontends.rongcloud-app]
TOML
} > "$WORK/all.toml"


RUST_LOG=warn ${WRAP_T:-} "$BIN" serve --config "$WORK/t.toml" 2>"$WORK/t.log" & TPID=$!
RUST_LOG=warn ${WRAP_E:-} "$BIN" serve --config "$WORK/e.toml" 2>"$WORK/e.log" & EPID=$!
up() { # port log
  for _ in $(seq "${UP_TRIES:-300}"); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.05; done
  echo "bench: nothing answers on port $1" >&2; cat "$2" >&2; exit 1
}
up "$STUB" "$WORK/stub-error.log"; up "$PROXY" "$WORK/proxy-error.log"; up "$NJS" "$WORK/njs-error.log"
up "$TA" "$WORK/t.log"; up "$EA" "$WORK/e.log"
STUB_PID=$(cat "$WORK/stub.pid"); PROXY_PID=$(cat "$WORK/proxy.pid"); NJS_PID=$(cat "$WORK/njs.pid")

curl -s -H "authorization: Basic $AUTH" -H 'content-type: application/json' \
  -d '[{"username":"javen","password":"password"},{"username":"fang","password":"password"}]' \
  "http://127.0.0.1:$E/v1/users/" >/dev/null

# The message every send row posts (wrk script, and the file profile.sh posts).
SEND_BODY='{"version":1,"target_type":"single","target_id":"javen","from_type":"user","from_id":"fang","msg_type":"text","msg_body":{"text":"hi"}}'
printf '%s' "$SEND_BODY" > "$WORK/send.json"
cat > "$WORK/send.lua" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '$SEND_BODY'
LUA

# Every translated path answers what it should before it is timed.
check() { # url expected-substring [curl args]
  local out
  out=$(curl -s -w ' %{http_code}' -H "authorization: Basic $AUTH" "${@:3}" "$1")
  case "$out" in *"$2"*2??) ;; *) echo "bench: $1 answered: $out" >&2; exit 1 ;; esac
}
SEND=(-H 'content-type: application/json' -d "$SEND_BODY")
check "http://127.0.0.1:$T1/v1/users/javen" '"signature":"life is short"'
check "http://127.0.0.1:$T2/v1/users/javen" '"avatar":"https://a1.easemob.com/avatars/javen.png"'
check "http://127.0.0.1:$NJS/v1/users/javen" '"avatar":"https://a1.easemob.com/avatars/javen.png"'
check "http://127.0.0.1:$T1/v1/messages" '"msg_id":1000001234' "${SEND[@]}"
check "http://127.0.0.1:$E/v1/users/javen" '"username":"javen"'
check "http://127.0.0.1:$E/v1/messages" '"msg_id"' "${SEND[@]}"
