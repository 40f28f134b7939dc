#!/usr/bin/env bash
# Live reload under load, on loopback: the release jwtkit-proxy in front of nginx (a static 200),
# wrk with 64 connections for the whole run, and 10 reloads meanwhile, alternating a change of
# the configuration file (picked up by the file watch) and SIGHUP. Every request must succeed:
# the script fails unless wrk reports no non-2xx answer and no socket error, and the proxy
# logged 10 applied reloads and no refused one.
#
#   bash scripts/reload-under-load.sh
#   RELOADS=20 CONNS=128 bash scripts/reload-under-load.sh
#
# Settings (environment): RELOADS (10), CONNS (64), THREADS (wrk -t, 2), GAP (s between
# reloads, 1.5), SKIP_BUILD (0). Writes its report to target/reload-under-load.md.
#
# Installs wrk and nginx with apt-get when they are missing (needs root). Every server listens on
# 127.0.0.1 only and is stopped when the script exits, also on error or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RELOADS=${RELOADS:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
GAP=${GAP:-1.5}
SKIP_BUILD=${SKIP_BUILD:-0}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$ROOT/target/reload-under-load
OUT=$ROOT/target/reload-under-load.md
ISS=urn:jwtkit:reload-test

NAME=reload-under-load
# shellcheck source=scripts/lib/loopback.sh
. scripts/lib/loopback.sh

NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -n "$NGINX" ] || missing+=(nginx-light)
command -v python3 >/dev/null || missing+=(python3)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  apt_install "${missing[@]}"
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
[ -x "$NGINX" ] || die "nginx is missing"
command -v wrk >/dev/null || die "wrk is missing"

if [ "$SKIP_BUILD" != 1 ]; then
  log "cargo build --release -p jwtkit-cli -p jwtkit-proxy"
  cargo build --release -p jwtkit-cli -p jwtkit-proxy
fi
rm -rf "$WORK"
mkdir -p "$WORK/nginx/tmp"
# Copies: a build in the same target directory during the run cannot swap the binary under us.
cp "$TARGET/release/jwtkit" "$TARGET/release/jwtkit-proxy" "$WORK/" ||
  die "release binaries missing in $TARGET/release; run without SKIP_BUILD=1"
JWTKIT=$WORK/jwtkit
PROXY=$WORK/jwtkit-proxy
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true

read -r NGINX_PORT PROXY_PORT <<<"$(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')"

write_static_nginx_conf "$WORK/nginx" "$NGINX_PORT" 1
"$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)

"$JWTKIT" secret generate >"$WORK/api-secret"
TOKEN=$("$JWTKIT" mint --secret-file "$WORK/api-secret" --iss "$ISS" --sub load-user --expires-in 1h)

write_config() { # generation: a different token cache size each time, so the file changes
  cat >"$WORK/proxy.toml.new" <<EOF
# Written by scripts/reload-under-load.sh (generation $1).
listen = "127.0.0.1:$PROXY_PORT"
token_cache_capacity = $((10000 + $1))

[log]
level = "info"

[[issuers]]
name = "load"
iss = ["$ISS"]
secret = { file = "$WORK/api-secret" }
algorithms = ["HS256"]

[[upstreams]]
name = "static"
url = "http://127.0.0.1:$NGINX_PORT"

[[routes]]
prefix = "/load"
upstream = "static"
EOF
  # Replaced by a rename, as Kubernetes swaps a ConfigMap volume.
  mv "$WORK/proxy.toml.new" "$WORK/proxy.toml"
}
write_config 0

"$PROXY" --config "$WORK/proxy.toml" 2>"$WORK/proxy.log" &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PROXY_PORT/load/" -H "Authorization: Bearer $TOKEN" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$PROXY_PORT/load/" -H "Authorization: Bearer $TOKEN" ||
  die "the proxy does not answer: $(tail -3 "$WORK/proxy.log")"

reloaded() { grep -c 'configuration reloaded' "$WORK/proxy.log" || true; }
DURATION=$(awk -v n="$RELOADS" -v g="$GAP" 'BEGIN { printf "%d", n * g + 6 }')
log "wrk -t$THREADS -c$CONNS -d${DURATION}s, $RELOADS reloads"
wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" \
  "http://127.0.0.1:$PROXY_PORT/load/" >"$WORK/wrk.txt" &
WRK_PID=$!
PIDS+=("$WRK_PID")
sleep 2
for i in $(seq "$RELOADS"); do
  before=$(reloaded)
  if ((i % 2)); then
    how="file change"
    write_config "$i"
  else
    how=SIGHUP
    kill -HUP "$PROXY_PID"
  fi
  for _ in $(seq 100); do
    [ "$(reloaded)" -gt "$before" ] && break
    sleep 0.05
  done
  [ "$(reloaded)" -gt "$before" ] || die "reload $i ($how) not logged: $(tail -3 "$WORK/proxy.log")"
  log "reload $i ($how) applied"
  sleep "$GAP"
done
wait "$WRK_PID"
cat "$WORK/wrk.txt" >&2

REQUESTS=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
NON_2XX=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' "$WORK/wrk.txt")
NON_2XX=${NON_2XX:-0}
SOCKET_ERRORS=$(sed -nE 's/.*Socket errors: (.*)/\1/p' "$WORK/wrk.txt")
SOCKET_ERRORS=${SOCKET_ERRORS:-none}
APPLIED=$(reloaded)
REFUSED=$(grep -c 'reload refused' "$WORK/proxy.log" || true)

{
  echo "## Reloads under load ($(date -u +%F), scripts/reload-under-load.sh)"
  echo
  echo "| what | value |"
  echo "| --- | --- |"
  echo "| load | wrk -t$THREADS -c$CONNS -d${DURATION}s, one HS256 token, GET through the proxy to nginx |"
  echo "| reloads | $RELOADS (file change and SIGHUP alternating, ${GAP} s apart) |"
  echo "| requests | $REQUESTS |"
  echo "| non-2xx answers | $NON_2XX |"
  echo "| socket errors | $SOCKET_ERRORS |"
  echo "| reloads logged applied / refused | $APPLIED / $REFUSED |"
} | tee "$OUT"

[ "$NON_2XX" = 0 ] || die "$NON_2XX requests failed"
[ "$SOCKET_ERRORS" = none ] || die "socket errors: $SOCKET_ERRORS"
[ "$APPLIED" -ge "$RELOADS" ] && [ "$REFUSED" = 0 ] || die "reloads: $APPLIED applied, $REFUSED refused"
log "ok: zero failed requests during $RELOADS reloads"
