#!/usr/bin/env bash
# Soak: jwtkit-proxy under load while faults happen all the time, with its memory watched.
#
#   bash scripts/soak-proxy.sh [SECONDS]          # default 180 s of load, after the release build
#
# Starts on loopback: the hostile upstream (testing/fault-upstream/upstream.py) and a port that
# refuses connections, the test IdP (testing/idp, real oidc-provider), and the release proxy with
# a 1 s upstream timeout and 20 s JWKS max staleness. Then, for SECONDS:
#   - wrk (scripts/soak/wrk-faults.lua) cycles every connection through ordinary requests, an
#     upstream that hangs, one that stalls mid-body, resets mid-body (length and chunked), a
#     refusing upstream, IdP tokens, tokens with random kids (a kid flood), expired, garbage and
#     missing tokens, 64 KiB uploads;
#   - a second wrk sends plain authorised requests at full speed;
#   - scripts/soak/abort-uploads.py opens uploads and vanishes mid-body (FIN, RST, half-close);
#   - the IdP's JWKS goes through phases: normal, 503, key rotation, 8 s delay (beyond the fetch
#     timeout), normal, 500 after 2 s, then a 503 outage of 4 phases (longer than key lifetime +
#     max staleness, so the IdP's tokens get 503 for a while).
# Every SAMPLE_S seconds it records the proxy's RSS, threads and open file descriptors. It fails
# (exit 1) when the proxy dies, panics, stops answering afterwards, when RSS in the last 30 s
# exceeds the 30 s after warm-up by more than RSS_GROWTH_MIB, RSS ever exceeds RSS_LIMIT_MIB,
# open descriptors after the load stay above FD_LIMIT, or the upstream ever received an aborted
# upload as a complete body. Prints a markdown summary and writes it to target/soak-proxy.md.
#
# Settings (environment): SAMPLE_S (5), WARMUP_S (20), CONNS (32, fault mix), PLAIN_CONNS (16),
# THREADS (2), RSS_GROWTH_MIB (24), RSS_LIMIT_MIB (128), FD_LIMIT (256), PHASE_S (15),
# SKIP_BUILD (0), OUT (target/soak-proxy.md). Not part of the default test command.
#
# Installs wrk with apt-get when missing (needs root), as scripts/bench-proxy.sh does. Needs
# python3, curl, Node.js and `npm ci --prefix testing/idp`. Everything it starts listens on
# 127.0.0.1 and is stopped when the script exits, also on error or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${1:-180}
SAMPLE_S=${SAMPLE_S:-5}
WARMUP_S=${WARMUP_S:-20}
CONNS=${CONNS:-32}
PLAIN_CONNS=${PLAIN_CONNS:-16}
THREADS=${THREADS:-2}
RSS_GROWTH_MIB=${RSS_GROWTH_MIB:-24}
RSS_LIMIT_MIB=${RSS_LIMIT_MIB:-128}
FD_LIMIT=${FD_LIMIT:-256}
PHASE_S=${PHASE_S:-15}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT=${OUT:-target/soak-proxy.md}
WORK=$ROOT/target/soak-proxy

NAME=soak-proxy
# shellcheck source=scripts/lib/loopback.sh
. scripts/lib/loopback.sh

if ! [[ "$DURATION" =~ ^[0-9]+$ ]] || ((DURATION < 60)); then
  die "SECONDS must be a whole number >= 60, got '$DURATION'"
fi

# ---------------------------------------------------------------------------------------------
# 1. Tools and binaries
# ---------------------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
command -v wrk >/dev/null || die "wrk is still missing after apt-get"
command -v node >/dev/null || die "Node.js 20+ is required for the test IdP (apt-get install nodejs npm)"
[ -d testing/idp/node_modules/oidc-provider ] || die "the test IdP is not installed: run npm ci --prefix testing/idp"

build_release

rm -rf "$WORK"
mkdir -p "$WORK" "$(dirname "$OUT")"

# Starts a server that prints one JSON ready line with "port" on stdout; sets STARTED_PID and
# STARTED_PORT. The servers watch their parent (this shell) and stop after their lifetime too.
start_server() { # name, command...
  local name=$1 ready=$WORK/$1.ready
  shift
  "$@" >"$ready" 2>"$WORK/$name.log" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  local deadline=$((SECONDS + 30))
  until [ -s "$ready" ]; do
    kill -0 "$STARTED_PID" 2>/dev/null || die "$name exited: $(tail -3 "$WORK/$name.log")"
    ((SECONDS < deadline)) || die "$name did not start within 30 s"
    sleep 0.1
  done
  STARTED_PORT=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["port"])' "$ready")
}

LIFETIME=$((DURATION + 300))
start_server upstream python3 testing/fault-upstream/upstream.py --ignore-stdin --max-lifetime "$LIFETIME"
UPSTREAM_PORT=$STARTED_PORT
start_server refused python3 testing/fault-upstream/upstream.py --refuse --ignore-stdin --max-lifetime "$LIFETIME"
REFUSED_PORT=$STARTED_PORT
start_server idp node testing/idp/idp.mjs --ignore-stdin --max-lifetime "$LIFETIME" --ttl 7200
IDP_PORT=$STARTED_PORT
IDP=http://127.0.0.1:$IDP_PORT
log "fault upstream :$UPSTREAM_PORT, refusing :$REFUSED_PORT, IdP :$IDP_PORT"

idp_admin() { curl -fsS -X POST -H 'content-type: application/json' -d "$2" "$IDP/__admin/$1" >/dev/null; }
# Keys live 30 s (max-age=1 is raised to the cache's minimum), so IdP faults reach the proxy.
idp_admin jwks-cache-control '{"value": "max-age=1"}'

# ---------------------------------------------------------------------------------------------
# 2. Secrets, tokens, configuration, proxy
# ---------------------------------------------------------------------------------------------
JWT_SECRET_KEY=$("$JWTKIT" secret generate)
export JWT_SECRET_KEY
HS_TOKEN=$("$JWTKIT" mint --sub soak-user --expires-in 2h)
EXPIRED_TOKEN=$(python3 - "$JWT_SECRET_KEY" <<'EOF'
import base64, hashlib, hmac, json, sys, time
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=")
now = int(time.time())
head = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b(json.dumps({"sub": "old", "iat": now - 7200, "exp": now - 3600}).encode())
print((head + b"." + b(hmac.new(sys.argv[1].encode(), head, hashlib.sha256).digest())).decode())
EOF
)
IDP_TOKEN=$(curl -fsS -u test-client:test-secret -d grant_type=client_credentials "$IDP/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
ISSUER=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["issuer"])' "$WORK/idp.ready")
python3 - "$ISSUER" >"$WORK/flood.txt" <<'EOF'
import base64, json, os, sys, time
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
now = int(time.time())
for n in range(2000):
    header = {"alg": "RS256", "typ": "at+jwt", "kid": f"flood-{n}-{os.urandom(6).hex()}"}
    claims = {"iss": sys.argv[1], "aud": "urn:jwtkit:api", "sub": "flood", "iat": now, "exp": now + 7200}
    print(f"{b(json.dumps(header).encode())}.{b(json.dumps(claims).encode())}.{b(os.urandom(256))}")
EOF

PROXY_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/proxy.toml" <<EOF
# Written by scripts/soak-proxy.sh.
listen = "127.0.0.1:$PROXY_PORT"

[log]
level = "warn"
format = "json"

[limits]
max_body_bytes = 1048576

[[issuers]]
name = "api"
iss = ["urn:jwtkit:soak"]
secret = { env = "JWT_SECRET_KEY" }
algorithms = ["HS256"]
allow_missing_iss = true

[[issuers]]
name = "idp"
iss = ["$ISSUER"]
jwks_url = "$IDP/jwks"
audiences = ["urn:jwtkit:api"]
max_stale_seconds = 20

[[upstreams]]
name = "faulty"
url = "http://127.0.0.1:$UPSTREAM_PORT"
timeout_seconds = 1

[[upstreams]]
name = "refused"
url = "http://127.0.0.1:$REFUSED_PORT"
timeout_seconds = 1

[[routes]]
prefix = "/f"
upstream = "faulty"
strip_prefix = true

[[routes]]
prefix = "/r"
upstream = "refused"
strip_prefix = true
EOF
"$PROXY" --config "$WORK/proxy.toml" 2>"$WORK/proxy.log" &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
P=http://127.0.0.1:$PROXY_PORT
deadline=$((SECONDS + 20))
until curl -fsS -o /dev/null "$P/ready" 2>/dev/null; do
  kill -0 "$PROXY_PID" 2>/dev/null || die "the proxy exited: $(tail -5 "$WORK/proxy.log")"
  ((SECONDS < deadline)) || die "the proxy did not become ready: $(tail -5 "$WORK/proxy.log")"
  sleep 0.1
done
status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(status_of -H "Authorization: Bearer $HS_TOKEN" "$P/f/record/check")" = 200 ] || die "sanity: HS token not forwarded"
[ "$(status_of -H "Authorization: Bearer $IDP_TOKEN" "$P/f/record/check")" = 200 ] || die "sanity: IdP token not forwarded"
[ "$(status_of -H "Authorization: Bearer $HS_TOKEN" "$P/r/x")" = 502 ] || die "sanity: refusing upstream not 502"

# ---------------------------------------------------------------------------------------------
# 3. Load and faults
# ---------------------------------------------------------------------------------------------
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# Running, and not a zombie (kill -0 succeeds on an exited child that is not reaped yet).
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
IDLE_RSS=$(status_kb "$PROXY_PID" VmRSS)
IDLE_FDS=$(fds "$PROXY_PID")
echo "t_s,rss_kib,hwm_kib,threads,fds,idp_phase" >"$WORK/samples.csv"

log "load for ${DURATION} s: wrk -t$THREADS -c$CONNS, aborted uploads, IdP phases every ${PHASE_S} s"
HS_TOKEN=$HS_TOKEN IDP_TOKEN=$IDP_TOKEN EXPIRED_TOKEN=$EXPIRED_TOKEN FLOOD_FILE=$WORK/flood.txt WRK_THREADS=$THREADS \
  wrk "-t$THREADS" "-c$CONNS" "-d${DURATION}s" --timeout 5s -s scripts/soak/wrk-faults.lua "$P" \
  >"$WORK/wrk.txt" 2>&1 &
WRK_PID=$!
PIDS+=("$WRK_PID")
# Beside the faults, plain traffic at full speed (HS256 token, upstream answers at once).
wrk -t1 "-c$PLAIN_CONNS" "-d${DURATION}s" --timeout 5s -s scripts/bench/wrk-report.lua \
  -H "Authorization: Bearer $HS_TOKEN" "$P/f/record/plain" >"$WORK/wrk-plain.txt" 2>&1 &
PLAIN_PID=$!
PIDS+=("$PLAIN_PID")
python3 scripts/soak/abort-uploads.py --port "$PROXY_PORT" --token "$HS_TOKEN" --seconds "$DURATION" --workers 3 \
  >"$WORK/aborts.json" 2>"$WORK/aborts.log" &
ABORT_PID=$!
PIDS+=("$ABORT_PID")

# One cycle is 10 phases; the last four are one outage longer than key lifetime + max
# staleness (30 s + 20 s), so the IdP's tokens get 503 and /ready turns false for a while.
PHASES=("normal" "jwks 503" "rotate" "jwks 8 s delay" "normal" "jwks 500 after 2 s"
  "outage" "outage" "outage" "outage")
set_phase() {
  case $1 in
    "normal" | "rotate") idp_admin jwks-status '{"status": 0, "delay_ms": 0}' ;;
    "jwks 503" | "outage") idp_admin jwks-status '{"status": 503, "delay_ms": 0}' ;;
    "jwks 8 s delay") idp_admin jwks-status '{"status": 0, "delay_ms": 8000}' ;;
    "jwks 500 after 2 s") idp_admin jwks-status '{"status": 500, "delay_ms": 2000}' ;;
  esac
  [ "$1" = rotate ] && idp_admin rotate '{"drop_old": false}'
  return 0
}

start=$SECONDS
phase_index=-1
CRASHED=""
while ((SECONDS - start < DURATION)); do
  t=$((SECONDS - start))
  want=$(((t / PHASE_S) % ${#PHASES[@]}))
  if ((want != phase_index)); then
    phase_index=$want
    set_phase "${PHASES[$phase_index]}" || log "IdP admin call failed"
  fi
  if ! alive "$PROXY_PID"; then
    CRASHED="the proxy died after ${t} s"
    break
  fi
  printf '%s,%s,%s,%s,%s,%s\n' "$t" "$(status_kb "$PROXY_PID" VmRSS)" "$(status_kb "$PROXY_PID" VmHWM)" \
    "$(status_kb "$PROXY_PID" Threads)" "$(fds "$PROXY_PID")" "${PHASES[$phase_index]}" >>"$WORK/samples.csv"
  sleep "$SAMPLE_S"
done
set_phase normal || true
wait "$WRK_PID" || true
wait "$PLAIN_PID" || true
wait "$ABORT_PID" || true

# ---------------------------------------------------------------------------------------------
# 4. After the load
# ---------------------------------------------------------------------------------------------
FAILS=()
[ -n "$CRASHED" ] && FAILS+=("$CRASHED")
sleep 5
if alive "$PROXY_PID"; then
  AFTER_RSS=$(status_kb "$PROXY_PID" VmRSS)
  AFTER_FDS=$(fds "$PROXY_PID")
  PEAK_HWM=$(status_kb "$PROXY_PID" VmHWM)
  [ "$(status_of "$P/health")" = 200 ] || FAILS+=("/health does not answer 200 after the load")
  [ "$(status_of -H "Authorization: Bearer $HS_TOKEN" "$P/f/record/after")" = 200 ] ||
    FAILS+=("an ordinary request is not forwarded after the load")
  # The IdP is back to normal: the proxy must find its keys again.
  ready=""
  for _ in $(seq 1 20); do
    if [ "$(status_of "$P/ready")" = 200 ]; then ready=yes; break; fi
    sleep 1
  done
  [ -n "$ready" ] || FAILS+=("/ready did not return to 200 once the IdP was back")
  [ "$(status_of -H "Authorization: Bearer $IDP_TOKEN" "$P/f/record/after-idp")" = 200 ] ||
    FAILS+=("the IdP token is not accepted once the IdP is back")
  ((AFTER_FDS <= FD_LIMIT)) || FAILS+=("$AFTER_FDS open descriptors after the load (limit $FD_LIMIT)")
else
  FAILS+=("the proxy is not running after the load")
  AFTER_RSS=0 AFTER_FDS=0 PEAK_HWM=0
fi
grep -q 'panicked' "$WORK/proxy.log" && FAILS+=("the proxy log has a panic: $(grep -m1 panicked "$WORK/proxy.log")")

# RSS: the 30 s after warm-up against the last 30 s.
read -r RSS_MIN RSS_MAX BASE_MAX FINAL_MAX SLOPE NSAMPLES < <(python3 - "$WORK/samples.csv" "$WARMUP_S" "$DURATION" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["rss_kib"]]
warm, dur = int(sys.argv[2]), int(sys.argv[3])
pts = [(int(r["t_s"]), int(r["rss_kib"]) / 1024) for r in rows]
post = [p for p in pts if p[0] >= warm] or pts
base = [v for t, v in post if t < warm + 30] or [post[0][1]]
final = [v for t, v in post if t >= dur - 30] or [post[-1][1]]
n = len(post)
mt = sum(t for t, _ in post) / n
mv = sum(v for _, v in post) / n
den = sum((t - mt) ** 2 for t, _ in post) or 1
slope = sum((t - mt) * (v - mv) for t, v in post) / den * 60
print(f"{min(v for _, v in pts):.1f} {max(v for _, v in pts):.1f} {max(base):.1f} {max(final):.1f} {slope:.2f} {len(pts)}")
EOF
)
awk -v f="$FINAL_MAX" -v b="$BASE_MAX" -v g="$RSS_GROWTH_MIB" 'BEGIN { exit !(f > b + g) }' &&
  FAILS+=("RSS grew from ${BASE_MAX} MiB (after warm-up) to ${FINAL_MAX} MiB (last 30 s), more than ${RSS_GROWTH_MIB} MiB")
awk -v m="$RSS_MAX" -v l="$RSS_LIMIT_MIB" 'BEGIN { exit !(m > l) }' &&
  FAILS+=("RSS reached ${RSS_MAX} MiB (limit ${RSS_LIMIT_MIB} MiB)")

# No aborted upload ever reached the upstream as a complete body.
curl -fsS "http://127.0.0.1:$UPSTREAM_PORT/__fault/stats" >"$WORK/upstream-stats.json" || echo '{}' >"$WORK/upstream-stats.json"
read -r ABORT_COMPLETE ABORT_INCOMPLETE UP_REQUESTS UP_CONNECTIONS < <(python3 - "$WORK/upstream-stats.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
paths = s.get("paths", {})
aborted = [v for p, v in paths.items() if p.startswith("/record/abort-")]
print(sum(v["complete"] for v in aborted), sum(v["incomplete"] for v in aborted),
      s.get("requests", 0), s.get("connections", 0))
EOF
)
((ABORT_COMPLETE == 0)) || FAILS+=("$ABORT_COMPLETE aborted uploads reached the upstream as complete bodies")

STATUS_LINE=$(grep '^STATUS ' "$WORK/wrk.txt" || echo "STATUS (none)")
RESULT_LINE=$(grep '^RESULT ' "$WORK/wrk.txt" || echo "RESULT (none)")
PLAIN_LINE=$(grep '^RESULT ' "$WORK/wrk-plain.txt" || echo "RESULT (none)")
ABORTS=$(cat "$WORK/aborts.json" 2>/dev/null || echo '{}')
grep -q '^RESULT ' "$WORK/wrk.txt" || FAILS+=("wrk produced no result: $(tail -3 "$WORK/wrk.txt")")
grep -q '^RESULT ' "$WORK/wrk-plain.txt" || FAILS+=("the plain wrk produced no result: $(tail -3 "$WORK/wrk-plain.txt")")

VERDICT=PASS
((${#FAILS[@]})) && VERDICT=FAIL
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }
{
  echo "# jwtkit-proxy soak, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Command: \`bash scripts/soak-proxy.sh $DURATION\` (fault mix wrk -t$THREADS -c$CONNS, plain wrk -t1 -c$PLAIN_CONNS, sample every $SAMPLE_S s, IdP phase every $PHASE_S s)."
  echo "Machine: $(nproc) cores, $(uname -r); load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| verdict | **$VERDICT** |"
  echo "| wrk, fault mix | \`${RESULT_LINE#RESULT }\` |"
  echo "| statuses seen by the fault mix | \`${STATUS_LINE#STATUS }\` |"
  echo "| wrk, plain traffic | \`${PLAIN_LINE#RESULT }\` |"
  echo "| aborted uploads (client side) | \`$ABORTS\` |"
  echo "| aborted uploads at the upstream | $ABORT_COMPLETE complete, $ABORT_INCOMPLETE incomplete |"
  echo "| upstream totals | $UP_REQUESTS requests on $UP_CONNECTIONS connections |"
  echo "| RSS idle before the load | $(mib "$IDLE_RSS") MiB |"
  echo "| RSS samples ($NSAMPLES) | min $RSS_MIN MiB, max $RSS_MAX MiB; max of the 30 s after warm-up $BASE_MAX MiB, max of the last 30 s $FINAL_MAX MiB; trend after warm-up $SLOPE MiB/min |"
  echo "| RSS 5 s after the load | $(mib "$AFTER_RSS") MiB (high-water mark $(mib "$PEAK_HWM") MiB) |"
  echo "| open descriptors | $IDLE_FDS idle, $AFTER_FDS 5 s after the load |"
  echo "| bounds | growth <= $RSS_GROWTH_MIB MiB, peak <= $RSS_LIMIT_MIB MiB, descriptors after <= $FD_LIMIT |"
  echo
  echo "RSS samples (s: MiB): $(awk -F, 'NR > 1 { printf "%s%s: %.1f", sep, $1, $2 / 1024; sep = ", " }' "$WORK/samples.csv")"
  if ((${#FAILS[@]})); then
    echo
    echo "Failures:"
    for f in "${FAILS[@]}"; do echo "- $f"; done
  fi
} | tee "$OUT"
log "report written to $OUT; samples in $WORK/samples.csv"
[ "$VERDICT" = PASS ]
