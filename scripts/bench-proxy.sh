#!/usr/bin/env bash
# Proxy benchmark on loopback: nginx (a fast static upstream), jwtkit-proxy, HAProxy and wrk.
#
# Measures requests/s and p50/p90/p99 latency for: nginx direct; through the proxy with one
# reused RS256 token (the common case: a verified-token cache hit); with a distinct token per
# request (token cache off, so every request verifies RS256); with a minted Camunda upstream
# credential; the same at a paced load (latency without queueing; pauses jittered, and in
# lockstep) and at 256 connections; and,
# as yardsticks for what one proxy hop costs on this machine, nginx itself as a reverse proxy and
# a bare forwarder on the proxy's own HTTP stack (testing/bare-forwarder: hyper, no auth).
# Then the comparison of issue 16: jwtkit-proxy against HAProxy configured as a JWT gateway
# (`http_auth_bearer` + `jwt_verify` of RS256 + an `exp` check, no cache: it verifies every
# request), beside the nginx hop and the bare forwarder, under two loads: one reused token, and
# a distinct valid token per request, round-robin over a pool of TOKENS tokens, more than the
# proxy's token cache holds (TOKEN_CACHE). For every proxy: req/s, p99, CPU µs per request
# (utime+stime of its processes over the run / requests) and peak RSS (VmHWM), and the ratios
# against the targets.
# Also the proxy's RSS idle and under load, its CPU per request, its start-to-ready time, and
# the CPU the rest of the machine used during each run (a concurrent build makes numbers noisy).
# Prints a markdown report and writes it to target/bench-proxy.md.
#
#   bash scripts/bench-proxy.sh                  # about 4 minutes after the release build
#   bash scripts/bench-proxy.sh --quick          # smoke run: 3 s runs, 3000 tokens, cache 1000
#   DURATION=5 TOKENS=400 TOKEN_CACHE=100 bash scripts/bench-proxy.sh
#
# Settings (environment): DURATION (s per run, 10), WARMUP (s, 2), THREADS (wrk -t, 2),
# CONNS (64), CONNS_HIGH (256), DELAY_MS (pause per connection in the paced runs, 20),
# DELAY_JITTER (the jittered paced runs draw each pause from DELAY_MS * (1 +- this), 0.5),
# TOKENS (distinct tokens minted, 20000: the pool of the distinct-token runs), TOKEN_CACHE (the
# token_cache_capacity of the cache-on proxies, 10000, the shipped default; must be below TOKENS so
# the pool does not fit), READY_RUNS (7), NGINX_WORKERS (the static upstream's worker_processes,
# 1), HOP_WORKERS (worker_processes of nginx as reverse proxy, nproc), HAPROXY_THREADS (nbthread,
# nproc: the proxy's tokio runtime also runs one worker thread per core),
# PROXY_LOG_LEVEL (warn), PROXY_LOG_FORMAT (text), SKIP_BUILD (0), OUT (target/bench-proxy.md).
#
# Installs wrk, nginx and haproxy with apt-get when they are missing (needs root). Every server listens on
# 127.0.0.1 only and is stopped when the script exits, also on error or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${1:-}" = --quick ]; then
  DURATION=${DURATION:-3} WARMUP=${WARMUP:-1} TOKENS=${TOKENS:-3000} TOKEN_CACHE=${TOKEN_CACHE:-1000}
  READY_RUNS=${READY_RUNS:-3}
  shift
fi
[ $# = 0 ] || { echo "usage: bash scripts/bench-proxy.sh [--quick]" >&2; exit 2; }

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
CONNS_HIGH=${CONNS_HIGH:-256}
DELAY_MS=${DELAY_MS:-20}
DELAY_JITTER=${DELAY_JITTER:-0.5}
TOKENS=${TOKENS:-20000}
TOKEN_CACHE=${TOKEN_CACHE:-10000}
READY_RUNS=${READY_RUNS:-7}
NGINX_WORKERS=${NGINX_WORKERS:-1}
HOP_WORKERS=${HOP_WORKERS:-$(nproc)}
HAPROXY_THREADS=${HAPROXY_THREADS:-$(nproc)}
PROXY_LOG_LEVEL=${PROXY_LOG_LEVEL:-warn}
PROXY_LOG_FORMAT=${PROXY_LOG_FORMAT:-text}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT=${OUT:-target/bench-proxy.md}
WORK=$ROOT/target/bench-proxy
LUA=scripts/bench/wrk-report.lua
ISS=https://bench.jwtkit.test
AUD=bench-api

NAME=bench-proxy
# shellcheck source=scripts/lib/loopback.sh
. scripts/lib/loopback.sh
# shellcheck source=scripts/bench/compare-haproxy.sh
. scripts/bench/compare-haproxy.sh

# ---------------------------------------------------------------------------------------------
# 1. Tools and binaries
# ---------------------------------------------------------------------------------------------
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -n "$NGINX" ] || missing+=(nginx-light)
HAPROXY=$(command -v haproxy || true)
[ -z "$HAPROXY" ] && [ -x /usr/sbin/haproxy ] && HAPROXY=/usr/sbin/haproxy
[ -n "$HAPROXY" ] || missing+=(haproxy)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  apt_install "${missing[@]}"
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$NGINX" ] || die "nginx is still missing after apt-get"
  command -v wrk >/dev/null || die "wrk is still missing after apt-get"
  HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
  [ -x "$HAPROXY" ] || die "haproxy is still missing after apt-get"
fi
build_release
# The bare-stack yardstick (testing/bare-forwarder): hyper's server and pooled client, no auth.
# The token pool's minter (benches/examples/mint_pool.rs): the claims of `jwtkit mint`, in one
# process.
if [ "$SKIP_BUILD" != 1 ]; then
  cargo build --release -p bare-forwarder
  cargo build --release -p jwtkit-benches --example mint_pool
fi
BARE=$RELEASE/bare-forwarder
MINT_POOL=$RELEASE/examples/mint_pool
[ -x "$BARE" ] || die "target/release/bare-forwarder missing; run without SKIP_BUILD=1"
[ -x "$MINT_POOL" ] || die "target/release/examples/mint_pool missing; run without SKIP_BUILD=1"

# ---------------------------------------------------------------------------------------------
# Process bookkeeping (PIDS and the exit trap come from scripts/lib/loopback.sh)
# ---------------------------------------------------------------------------------------------
forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# Runs a command in the background and waits for it, so that a signal to this script is handled
# at once (bash runs traps only between foreground commands) and the command is stopped too.
run_child() {
  local pid rc=0
  "$@" &
  pid=$!
  PIDS+=("$pid")
  wait "$pid" || rc=$?
  forget_pid "$pid"
  return "$rc"
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}

# N free loopback ports, distinct from each other.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

wait_http() { # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }
cpu_ticks() { # summed utime+stime of the given pids
  local total=0 p t
  for p in "$@"; do
    t=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)
# Busy and stolen jiffies of the whole machine (all cores), from /proc/stat.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }
# Sets CHILD_CPU to the CPU seconds (user + sys) of this shell's waited-for children so far.
# `times` must run in this shell, not in a $(...) subshell (whose children are its own).
children_cpu() {
  times >"$WORK/times.txt"
  CHILD_CPU=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] } printf "%.3f", s }' "$WORK/times.txt")
}

# ---------------------------------------------------------------------------------------------
# 2. Keys, secrets, tokens, configuration
# ---------------------------------------------------------------------------------------------
((TOKEN_CACHE < TOKENS)) || die "TOKENS ($TOKENS) must exceed TOKEN_CACHE ($TOKEN_CACHE): the pool must not fit the cache"
rm -rf "$WORK"
mkdir -p "$WORK/nginx/tmp" "$WORK/nginx-hop/tmp" "$WORK/haproxy" "$(dirname "$OUT")"
log "RS256 key pair, engine secret, tokens"
"$JWTKIT" keygen --alg RS256 --out "$WORK/keys" >/dev/null
KID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"][0]["kid"])' "$WORK/keys/jwks.json")
ENGINE_JWT_SECRET=$("$JWTKIT" secret generate --encoding base64)
export ENGINE_JWT_SECRET

mint() { "$JWTKIT" mint --key "$WORK/keys/private.pem" --kid "$KID" --iss "$ISS" --aud "$AUD" --expires-in 2h "$@"; }
TOKEN=$(mint --sub bench-user --claim email=bench-user@example.test)

# Distinct tokens, each with its own sub and claim n, the claims `jwtkit mint --sub user-N
# --claim n=N` writes, minted in one process (a `jwtkit mint` per token took minutes for 20,000).
t0=$(date +%s.%N)
run_child "$MINT_POOL" "$WORK/keys/private.pem" "$KID" "$ISS" "$AUD" "$TOKENS" >"$WORK/tokens.txt"
MINT_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
distinct=$(sort -u "$WORK/tokens.txt" | grep -c '^eyJ' || true)
[ "$distinct" = "$TOKENS" ] || die "minted $distinct distinct tokens, expected $TOKENS"
log "minted $TOKENS distinct tokens in ${MINT_S} s"

read -r NGINX_PORT REF_PORT BARE_PORT PORT_A PORT_B PORT_C HAPROXY_PORT <<<"$(free_ports 7)"

write_proxy_config() { # file, port, token cache capacity
  cat >"$1" <<EOF
# Written by scripts/bench-proxy.sh.
listen = "127.0.0.1:$2"
token_cache_capacity = $3

[log]
level = "$PROXY_LOG_LEVEL"
format = "$PROXY_LOG_FORMAT"

[[issuers]]
name = "bench"
iss = ["$ISS"]
jwks_file = "$WORK/keys/jwks.json"
audiences = ["$AUD"]
algorithms = ["RS256"]

[[upstreams]]
name = "static"
url = "http://127.0.0.1:$NGINX_PORT"
auth = { type = "none" }

[[upstreams]]
name = "engine"
url = "http://127.0.0.1:$NGINX_PORT/engine"
auth = { type = "mint", profile = "camunda", secret = { env = "ENGINE_JWT_SECRET" } }

[[routes]]
prefix = "/bench"
upstream = "static"

[[routes]]
prefix = "/engine"
upstream = "engine"
strip_prefix = true
EOF
}
CONFIG_A=$WORK/proxy.toml            # token cache on (TOKEN_CACHE entries, 10000 by default)
CONFIG_B=$WORK/proxy-nocache.toml    # token cache off: every request verifies its RS256 token
CONFIG_C=$WORK/proxy-compare.toml    # as A, a fresh process for the comparison with HAProxy
write_proxy_config "$CONFIG_A" "$PORT_A" "$TOKEN_CACHE"
write_proxy_config "$CONFIG_B" "$PORT_B" 0
write_proxy_config "$CONFIG_C" "$PORT_C" "$TOKEN_CACHE"

# ---------------------------------------------------------------------------------------------
# 3. Start to ready
# ---------------------------------------------------------------------------------------------
log "start-to-ready, $READY_RUNS runs"
run_child python3 scripts/bench/ready.py --runs "$READY_RUNS" -- \
  "$PROXY" --config "$CONFIG_A" --listen "127.0.0.1:{port}" --log-format "$PROXY_LOG_FORMAT" \
  >"$WORK/ready.txt" || die "start-to-ready measurement failed: $(tail -1 "$WORK/ready.txt")"
READY_LINE=$(grep '^READY ' "$WORK/ready.txt")
READY_MEDIAN=$(sed -E 's/.*median_ms=([0-9.]+).*/\1/' <<<"$READY_LINE")
READY_MIN=$(sed -E 's/.*min_ms=([0-9.]+).*/\1/' <<<"$READY_LINE")
READY_MAX=$(sed -E 's/.*max_ms=([0-9.]+).*/\1/' <<<"$READY_LINE")
log "start-to-ready median ${READY_MEDIAN} ms"

# ---------------------------------------------------------------------------------------------
# 4. nginx
# ---------------------------------------------------------------------------------------------
write_static_nginx_conf "$WORK/nginx" "$NGINX_PORT" "$NGINX_WORKERS" \
  '    location = /engine/whoami { default_type text/plain; return 200 "$http_authorization\n"; }'
NGINX_ARGS=(-p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log")
"$NGINX" "${NGINX_ARGS[@]}" -t >"$WORK/nginx/test.log" 2>&1 ||
  die "nginx rejects its configuration: $(cat "$WORK/nginx/test.log")"
"$NGINX" "${NGINX_ARGS[@]}" 2>>"$WORK/nginx/error.log" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_http "http://127.0.0.1:$NGINX_PORT/bench" 10 || die "nginx did not start: $(cat "$WORK/nginx/error.log")"
nginx_workers() { pgrep -P "$NGINX_PID" | tr '\n' ' '; }
log "nginx on 127.0.0.1:$NGINX_PORT, workers: $(nginx_workers)"

# nginx as a reverse proxy and HAProxy as a JWT gateway (scripts/bench/compare-haproxy.sh).
start_nginx_hop
start_haproxy
"$BARE" "127.0.0.1:$BARE_PORT" "127.0.0.1:$NGINX_PORT" >"$WORK/bare-forwarder.log" 2>&1 &
BARE_PID=$!
PIDS+=("$BARE_PID")
wait_http "http://127.0.0.1:$BARE_PORT/bench" 10 || die "bare-forwarder did not start: $(cat "$WORK/bare-forwarder.log")"

start_proxy() { # config, port, log file; sets PROXY_PID
  "$PROXY" --config "$1" --log-format "$PROXY_LOG_FORMAT" 2>"$3" &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  wait_http "http://127.0.0.1:$2/ready" 15 || die "the proxy did not become ready: $(tail -5 "$3")"
}

check_eq() { # what, expected, got
  [ "$2" = "$3" ] || die "sanity check failed: $1: expected '$2', got '$3'"
}

# ---------------------------------------------------------------------------------------------
# 5. wrk runs
# ---------------------------------------------------------------------------------------------
declare -A R           # R[case.key] = value from the RESULT line, plus cpu figures
CASES=()               # in report order
declare -A LABEL CMDLINE NOTE
NOISY=()               # runs during which other processes (or the hypervisor) took > 0.15 cores

# bench ID LABEL CONNS URL AUTH ENV...
#   AUTH: "token" (-H with the reused token) or "none"; ENV: KEY=VALUE pairs for the Lua script.
# Uses PROXY_PID_FOR_CPU (may be empty, or several pids) to report the proxy's CPU time during
# the run.
bench() {
  local id=$1 label=$2 conns=$3 url=$4 auth=$5
  shift 5
  local envs=("$@")
  local cmd=(wrk "-t$THREADS" "-c$conns" --timeout 5s -s "$LUA")
  local shown_auth=""
  if [ "$auth" = token ]; then
    cmd+=(-H "Authorization: Bearer $TOKEN")
    # shellcheck disable=SC2016  # shown literally in the report
    shown_auth=' -H "Authorization: Bearer $TOKEN"'
  fi
  local shown_env=""
  ((${#envs[@]})) && shown_env="${envs[*]} "
  shown_env=${shown_env//$WORK\//target\/bench-proxy\/}
  CMDLINE[$id]="${shown_env}wrk -t$THREADS -c$conns -d${DURATION}s --timeout 5s -s $LUA${shown_auth} $url"
  LABEL[$id]=$label
  CASES+=("$id")

  log "$label: warm-up ${WARMUP} s"
  run_child env "${envs[@]}" "${cmd[@]}" "-d${WARMUP}s" "$url" >"$WORK/wrk-$id-warmup.txt" 2>&1 ||
    die "wrk failed (warm-up of $id): $(tail -3 "$WORK/wrk-$id-warmup.txt")"
  local nginx_pids proxy_t0=0 nginx_t0 t0 t1 wrk_t0 busy_t0 steal_t0 busy_t1 steal_t1
  nginx_pids=$(nginx_workers)
  # shellcheck disable=SC2086
  nginx_t0=$(cpu_ticks $nginx_pids)
  # shellcheck disable=SC2086  # may name several processes (nginx's workers)
  [ -n "${PROXY_PID_FOR_CPU:-}" ] && proxy_t0=$(cpu_ticks $PROXY_PID_FOR_CPU)
  children_cpu
  wrk_t0=$CHILD_CPU
  read -r busy_t0 steal_t0 <<<"$(machine_ticks)"
  t0=$(date +%s.%N)
  log "$label: ${DURATION} s, $conns connections"
  run_child env "${envs[@]}" "${cmd[@]}" "-d${DURATION}s" "$url" >"$WORK/wrk-$id.txt" 2>&1 ||
    die "wrk failed ($id): $(tail -3 "$WORK/wrk-$id.txt")"
  t1=$(date +%s.%N)
  read -r busy_t1 steal_t1 <<<"$(machine_ticks)"
  local wrk_cpu
  children_cpu
  wrk_cpu=$(awk -v a="$wrk_t0" -v b="$CHILD_CPU" 'BEGIN { printf "%.3f", b - a }')
  local line kv
  line=$(grep '^RESULT ' "$WORK/wrk-$id.txt") || die "no RESULT line from wrk ($id): $(cat "$WORK/wrk-$id.txt")"
  for kv in ${line#RESULT }; do
    R[$id.${kv%%=*}]=${kv#*=}
  done
  local nginx_d proxy_d=0
  # shellcheck disable=SC2086
  nginx_d=$(($(cpu_ticks $nginx_pids) - nginx_t0))
  # shellcheck disable=SC2086
  [ -n "${PROXY_PID_FOR_CPU:-}" ] && proxy_d=$(($(cpu_ticks $PROXY_PID_FOR_CPU) - proxy_t0))
  R[$id.nginx_cpu]=$(awk -v d="$nginx_d" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", d / hz / (b - a) }')
  R[$id.wrk_cpu]=$(awk -v c="$wrk_cpu" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", c / (b - a) }')
  # Everything else that ran on the machine meanwhile (other builds, benches): noise.
  R[$id.other_cpu]=$(awk -v busy="$((busy_t1 - busy_t0))" -v ours="$((nginx_d + proxy_d))" -v w="$wrk_cpu" \
    -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { o = (busy - ours) / hz - w; if (o < 0) o = 0; printf "%.2f", o / (b - a) }')
  R[$id.steal]=$(awk -v d="$((steal_t1 - steal_t0))" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", d / hz / (b - a) }')
  if awk -v o="${R[$id.other_cpu]}" -v st="${R[$id.steal]}" 'BEGIN { exit !(o > 0.15 || st > 0.15) }'; then
    NOISY+=("$id")
  fi
  if [ -n "${PROXY_PID_FOR_CPU:-}" ]; then
    local d=$proxy_d
    R[$id.proxy_cpu]=$(awk -v d="$d" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", d / hz / (b - a) }')
    R[$id.proxy_us_req]=$(awk -v d="$d" -v hz="$CLK_TCK" -v n="${R[$id.requests]}" 'BEGIN { printf "%.1f", d / hz / n * 1e6 }')
  else
    R[$id.proxy_cpu]="-"
    R[$id.proxy_us_req]="-"
  fi
  local errs=$((${R[$id.connect_err]} + ${R[$id.read_err]} + ${R[$id.write_err]} + ${R[$id.timeout_err]} + ${R[$id.non2xx]}))
  R[$id.errors]=$errs
  log "$label: ${R[$id.rps]} req/s, p50 ${R[$id.p50_us]} us, p99 ${R[$id.p99_us]} us, errors $errs"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RUSTC_BEFORE=$(pgrep -c -x rustc || true)

DIRECT=http://127.0.0.1:$NGINX_PORT/bench
REF=http://127.0.0.1:$REF_PORT/bench
VIA_A=http://127.0.0.1:$PORT_A
VIA_B=http://127.0.0.1:$PORT_B

# Proxy A: the default configuration (token cache on).
start_proxy "$CONFIG_A" "$PORT_A" "$WORK/proxy-a.log"
PID_A=$PROXY_PID
sleep 1
IDLE_RSS=$(status_kb "$PID_A" VmRSS)
IDLE_HWM=$(status_kb "$PID_A" VmHWM)
IDLE_THREADS=$(status_kb "$PID_A" Threads)

# Sanity: the routes answer as expected, and the engine upstream gets a minted Camunda token.
check_eq "nginx direct" "ok" "$(curl -fsS "$DIRECT")"
check_eq "nginx reverse proxy" "ok" "$(curl -fsS "$REF")"
check_eq "proxy without token" "401" "$(curl -s -o /dev/null -w '%{http_code}' "$VIA_A/bench")"
check_eq "proxy with the RS256 token" "ok" "$(curl -fsS -H "Authorization: Bearer $TOKEN" "$VIA_A/bench")"
check_eq "proxy, engine route" "ok" "$(curl -fsS -H "Authorization: Bearer $TOKEN" "$VIA_A/engine/x")"
minted=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$VIA_A/engine/whoami")
minted_sub=$("$JWTKIT" decode --json "${minted#Bearer }" | python3 -c 'import json,sys; print(json.load(sys.stdin)["claims"]["sub"])')
check_eq "sub of the minted engine token" "bench-user" "$minted_sub"
"$JWTKIT" verify "${minted#Bearer }" --secret-env ENGINE_JWT_SECRET --secret-encoding base64 --alg HS256 >/dev/null ||
  die "the engine token the proxy minted does not verify with ENGINE_JWT_SECRET"

PROXY_PID_FOR_CPU=""   # the nginx-direct runs report no proxy CPU
bench direct "nginx direct" "$CONNS" "$DIRECT" none
PROXY_PID_FOR_CPU=$(hop_workers)  # nginx's hop: its workers' CPU goes in the proxy columns
bench nginx_hop "reference: nginx as reverse proxy → nginx" "$CONNS" "$REF" none
PROXY_PID_FOR_CPU=$BARE_PID  # its CPU goes in the proxy columns
bench bare_hop "reference: bare hyper forwarder → nginx (no auth)" "$CONNS" "http://127.0.0.1:$BARE_PORT/bench" token
PROXY_PID_FOR_CPU=$PID_A
bench reused "proxy, one reused RS256 token" "$CONNS" "$VIA_A/bench" token
bench mint "proxy, reused token + minted camunda credential" "$CONNS" "$VIA_A/engine/x" token
PROXY_PID_FOR_CPU=""
JITTERED=("DELAY_MS=$DELAY_MS" "DELAY_JITTER=$DELAY_JITTER")
bench direct_jittered "nginx direct, paced (${DELAY_MS} ms ± $(awk -v j="$DELAY_JITTER" 'BEGIN { print j * 100 }')% between requests per connection)" "$CONNS" "$DIRECT" none "${JITTERED[@]}"
bench nginx_hop_jittered "reference: nginx as reverse proxy, paced" "$CONNS" "$REF" none "${JITTERED[@]}"
PROXY_PID_FOR_CPU=$PID_A
bench reused_jittered "proxy, reused token, paced" "$CONNS" "$VIA_A/bench" token "${JITTERED[@]}"
PROXY_PID_FOR_CPU=""
bench direct_paced "nginx direct, paced in lockstep (exactly ${DELAY_MS} ms between requests per connection)" "$CONNS" "$DIRECT" none "DELAY_MS=$DELAY_MS"
bench nginx_hop_paced "reference: nginx as reverse proxy, paced in lockstep" "$CONNS" "$REF" none "DELAY_MS=$DELAY_MS"
PROXY_PID_FOR_CPU=$PID_A
bench reused_paced "proxy, reused token, paced in lockstep" "$CONNS" "$VIA_A/bench" token "DELAY_MS=$DELAY_MS"
HWM_A_64=$(status_kb "$PID_A" VmHWM)
PROXY_PID_FOR_CPU=""
bench direct_high "nginx direct" "$CONNS_HIGH" "$DIRECT" none
PROXY_PID_FOR_CPU=$PID_A
bench reused_high "proxy, one reused RS256 token" "$CONNS_HIGH" "$VIA_A/bench" token
HWM_A_HIGH=$(status_kb "$PID_A" VmHWM)
RSS_A_AFTER=$(status_kb "$PID_A" VmRSS)
THREADS_A_AFTER=$(status_kb "$PID_A" Threads)
sleep 2
RSS_A_SETTLED=$(status_kb "$PID_A" VmRSS)
if grep -qiE ' (WARN|ERROR) ' "$WORK/proxy-a.log"; then
  NOTE[proxy_a_log]="proxy A logged warnings or errors: see target/bench-proxy/proxy-a.log"
fi
stop_pid "$PID_A"

# Proxy B: token cache off, so each request's RS256 signature is verified.
start_proxy "$CONFIG_B" "$PORT_B" "$WORK/proxy-b.log"
PID_B=$PROXY_PID
check_eq "proxy B with a distinct token" "ok" \
  "$(curl -fsS -H "Authorization: Bearer $(head -1 "$WORK/tokens.txt")" "$VIA_B/bench")"
PROXY_PID_FOR_CPU=$PID_B
bench distinct "proxy, distinct token per request (cache off: RS256 verify every request)" "$CONNS" "$VIA_B/bench" none \
  "TOKENS_FILE=$WORK/tokens.txt" "WRK_THREADS=$THREADS"
bench distinct_jittered "proxy, distinct tokens, paced" "$CONNS" "$VIA_B/bench" none \
  "TOKENS_FILE=$WORK/tokens.txt" "WRK_THREADS=$THREADS" "${JITTERED[@]}"
HWM_B=$(status_kb "$PID_B" VmHWM)
stop_pid "$PID_B"
PROXY_PID_FOR_CPU=""

# Issue 16: jwtkit-proxy against HAProxy, the bare forwarder and nginx's hop (scripts/bench/compare-haproxy.sh).
compare_runs

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
RUSTC_AFTER=$(pgrep -c -x rustc || true)

# ---------------------------------------------------------------------------------------------
# 6. Report
# ---------------------------------------------------------------------------------------------
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
pass() { # value, op, limit -> PASS/MISS
  awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == "<") ? (v < l) : (v >= l); print ok ? "PASS" : "MISS" }'
}
RATIO=$(awk -v a="${R[reused.rps]}" -v b="${R[direct.rps]}" 'BEGIN { printf "%.2f", a / b }')
# " (disturbed)" when another process took CPU during one of the given runs.
disturbed() {
  local id n
  for id in "$@"; do
    for n in "${NOISY[@]}"; do
      if [ "$n" = "$id" ]; then
        echo " (disturbed run: see other CPU)"
        return
      fi
    done
  done
}
RATIO_REF=$(awk -v a="${R[nginx_hop.rps]}" -v b="${R[direct.rps]}" 'BEGIN { printf "%.2f", a / b }')
RATIO_BARE=$(awk -v a="${R[bare_hop.rps]}" -v b="${R[direct.rps]}" 'BEGIN { printf "%.2f", a / b }')
RATIO_HIGH=$(awk -v a="${R[reused_high.rps]}" -v b="${R[direct_high.rps]}" 'BEGIN { printf "%.2f", a / b }')
# Added latency in ms: percentile $1 of run $2 minus the same of run $3.
added() { awk -v a="${R[$2.$1]}" -v b="${R[$3.$1]}" 'BEGIN { printf "%.2f", (a - b) / 1000 }'; }
ADDED_P99=$(added p99_us reused direct)
ADDED_P99_PACED=$(added p99_us reused_jittered direct_jittered)
ADDED_P50_PACED=$(added p50_us reused_jittered direct_jittered)
ADDED_P99_REF_PACED=$(added p99_us nginx_hop_jittered direct_jittered)
ADDED_P99_DISTINCT_PACED=$(added p99_us distinct_jittered direct_jittered)
ADDED_P99_LOCKSTEP=$(added p99_us reused_paced direct_paced)
ADDED_P99_REF_LOCKSTEP=$(added p99_us nginx_hop_paced direct_paced)
CPU_MODEL=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
NOISE="none seen"
if ((${#NOISY[@]})); then
  NOISE="**yes**: other processes or the hypervisor took > 0.15 cores during: ${NOISY[*]} (see \"other CPU\"); those numbers are noisy"
elif [ "${RUSTC_BEFORE:-0}" != 0 ] || [ "${RUSTC_AFTER:-0}" != 0 ]; then
  NOISE="**maybe**: rustc processes were running (${RUSTC_BEFORE} at the start, ${RUSTC_AFTER} at the end)"
fi

{
  echo "# jwtkit-proxy benchmark"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), \`bash scripts/bench-proxy.sh\` (commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ', with local changes'))."
  echo
  echo "| machine | |"
  echo "|---|---|"
  echo "| cores (nproc) | $(nproc) |"
  echo "| CPU | ${CPU_MODEL:-unknown} |"
  echo "| kernel | $(uname -r) |"
  echo "| rustc | $(rustc --version 2>/dev/null || echo unknown) |"
  echo "| wrk | $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2) |"
  echo "| nginx | $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), worker_processes $NGINX_WORKERS |"
  echo "| load average before / after | $LOAD_BEFORE / $LOAD_AFTER |"
  echo "| other load during the runs | $NOISE |"
  echo
  echo "wrk, nginx and the proxy share the same $(nproc) cores; the proxy's log level is \`$PROXY_LOG_LEVEL\` ($PROXY_LOG_FORMAT)."
  echo "Each run: ${WARMUP} s warm-up (discarded), then ${DURATION} s. Latencies are wrk's (send to complete response),"
  echo "p50/p90/p99 from its histogram. \"paced\": each connection waits ${DELAY_MS} ms ± $(awk -v j="$DELAY_JITTER" 'BEGIN { print j * 100 }')% (uniform) after every"
  echo "response, so the load is below saturation and latency shows service time rather than queueing. \"paced in"
  echo "lockstep\": exactly ${DELAY_MS} ms, so the $CONNS connections, started together, stay in phase and send bursts"
  echo "of $CONNS requests at once; their p99 is the time to serve a burst. CPU columns: cores busy during the run"
  echo "(1.00 = one core) from /proc/PID/stat; µs/req = proxy CPU time per request (the bare forwarder's in its"
  echo "row); \"other CPU\" = what the rest of"
  echo "the machine used meanwhile (another build or benchmark): above ~0.15 the run is disturbed."
  echo
  echo "| case | conns | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | proxy CPU | µs/req | nginx CPU | wrk CPU | other CPU |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for id in "${CASES[@]}"; do
    conns=$(sed -E 's/.* -c([0-9]+) .*/\1/' <<<"${CMDLINE[$id]}")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
      "${LABEL[$id]}" "$conns" "$(printf '%.0f' "${R[$id.rps]}")" \
      "$(ms "${R[$id.p50_us]}")" "$(ms "${R[$id.p90_us]}")" "$(ms "${R[$id.p99_us]}")" "$(ms "${R[$id.p999_us]}")" \
      "${R[$id.errors]}" "${R[$id.proxy_cpu]}" "${R[$id.proxy_us_req]}" "${R[$id.nginx_cpu]}" \
      "${R[$id.wrk_cpu]}" "${R[$id.other_cpu]}"
  done
  echo
  echo "| proxy | value |"
  echo "|---|---|"
  echo "| start to ready (spawn to first 200 from /ready), median of $READY_RUNS | ${READY_MEDIAN} ms (min ${READY_MIN}, max ${READY_MAX}) |"
  echo "| RSS idle, 1 s after ready (VmRSS / VmHWM) | $(mib "$IDLE_RSS") MiB / $(mib "$IDLE_HWM") MiB, $IDLE_THREADS threads |"
  echo "| peak RSS after the ${CONNS}-connection runs (VmHWM) | $(mib "$HWM_A_64") MiB |"
  echo "| peak RSS after the ${CONNS_HIGH}-connection run (VmHWM) | $(mib "$HWM_A_HIGH") MiB |"
  echo "| RSS right after the ${CONNS_HIGH}-connection run / 2 s later | $(mib "$RSS_A_AFTER") MiB / $(mib "$RSS_A_SETTLED") MiB, $THREADS_A_AFTER threads |"
  echo "| peak RSS of the cache-off proxy (distinct-token runs) | $(mib "$HWM_B") MiB |"
  echo "| $TOKENS distinct tokens minted (benches/examples/mint_pool.rs) | ${MINT_S} s |"
  echo "| release build | $BUILD_S |"
  echo
  echo "| target | measured | |"
  echo "|---|---|---|"
  echo "| proxy (reused RS256 token) ≥ 50% of direct req/s at $CONNS connections | ${RATIO} ($(printf '%.0f' "${R[reused.rps]}") / $(printf '%.0f' "${R[direct.rps]}")) | $(pass "$RATIO" ">=" 0.5)$(disturbed direct reused) |"
  echo "| same at $CONNS_HIGH connections (no target) | ${RATIO_HIGH} | |"
  echo "| reference: nginx reverse proxy / direct req/s at $CONNS connections (no target) | ${RATIO_REF} | |"
  echo "| reference: bare hyper forwarder / direct req/s at $CONNS connections (no target) | ${RATIO_BARE} | |"
  echo "| added p99 at $CONNS connections, saturated (proxy p99 − direct p99) | ${ADDED_P99} ms | not meaningful: queueing (see below) |"
  echo "| added p99 < 1 ms at $CONNS connections, paced | ${ADDED_P99_PACED} ms (added p50 ${ADDED_P50_PACED} ms) | $(pass "$ADDED_P99_PACED" "<" 1)$(disturbed direct_jittered reused_jittered) |"
  echo "| reference: added p99 of an nginx reverse-proxy hop, paced (no target) | ${ADDED_P99_REF_PACED} ms | |"
  echo "| added p99, distinct tokens (RS256 verify per request), paced (no target) | ${ADDED_P99_DISTINCT_PACED} ms | |"
  echo "| added p99, paced in lockstep: bursts of $CONNS (no target) | ${ADDED_P99_LOCKSTEP} ms (nginx's hop: ${ADDED_P99_REF_LOCKSTEP} ms) | |"
  echo "| RSS idle < 20 MiB (VmHWM) | $(mib "$IDLE_HWM") MiB | $(pass "$(mib "$IDLE_HWM")" "<" 20) |"
  echo "| RSS under $CONNS_HIGH connections < 64 MiB (VmHWM) | $(mib "$HWM_A_HIGH") MiB | $(pass "$(mib "$HWM_A_HIGH")" "<" 64)$(disturbed reused_high) |"
  echo
  compare_report
  echo "On a 2-core machine a saturated run measures how the three processes share the cores more than the"
  echo "proxy alone: the saturated p99 at $CONNS connections is mostly queueing (latency ≈ connections / throughput),"
  echo "and nginx-direct's p99 there is inflated by wrk and nginx preempting each other, so the saturated"
  echo "difference can even be negative. The paced rows compare service times: that is the added-latency target."
  echo "The lockstep rows show what a synchronised burst of $CONNS requests costs instead: the last request of a"
  echo "burst waits for the CPU time of all the others on the machine's $(nproc) cores."
  for k in "${!NOTE[@]}"; do
    echo
    echo "Note: ${NOTE[$k]}"
  done
  echo
  echo "Commands (\`\$TOKEN\` is an RS256 token from \`jwtkit mint --key target/bench-proxy/keys/private.pem --kid KID --iss $ISS --aud $AUD --sub bench-user --claim email=bench-user@example.test --expires-in 2h\`;"
  echo "target/bench-proxy/tokens.txt has $TOKENS tokens minted the same way with \`--sub user-N --claim n=N\`):"
  echo
  echo '```sh'
  for id in "${CASES[@]}"; do
    echo "# ${LABEL[$id]}"
    echo "${CMDLINE[$id]}"
  done
  echo '```'
  echo
  echo "The proxy configurations are target/bench-proxy/proxy.toml (cache on, $TOKEN_CACHE entries), proxy-nocache.toml"
  echo "(\`token_cache_capacity = 0\`) and proxy-compare.toml (as proxy.toml, the HAProxy comparison); nginx's are"
  echo "target/bench-proxy/nginx/nginx.conf (upstream) and nginx-hop/nginx.conf (reverse proxy), HAProxy's"
  echo "target/bench-proxy/haproxy/haproxy.cfg; raw wrk outputs are target/bench-proxy/wrk-*.txt."
} >"$OUT"

cat "$OUT"
log "report written to $OUT"
