#!/usr/bin/env bash
# User-space instructions and heap allocations per proxied request, counted by callgrind: the
# same numbers on every run of the same binaries, whatever else the machine does (wall-clock
# figures on this shared 2-core machine move by 10-30%). Compares jwtkit-proxy (one reused RS256
# token, a verified-token cache hit) with testing/bare-forwarder (the same HTTP stack, no auth),
# plain and with --like-proxy (also the proxy's HTTP/1.1 + h2c listener and its head timer).
#
#   bash scripts/bench-proxy.sh                 # once first: writes keys, configuration, nginx.conf
#   bash scripts/proxy-instructions.sh [N]      # N requests per process (default 2000), ~1 min
#   bash scripts/proxy-instructions.sh --distinct [N]   # also the proxy with its token cache off
#                                               # and a distinct token per request (cache misses)
#
# Each process runs twice under `valgrind --tool=callgrind`: once answering only its readiness
# check and one warm-up request, once also N keep-alive requests over 8 connections;
# per-request figures are the difference divided by N, so start-up cost cancels out. Needs valgrind (installed with apt-get
# when missing). Servers listen on 127.0.0.1 only and are stopped when the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DISTINCT=0
if [ "${1:-}" = --distinct ]; then
  DISTINCT=1
  shift
fi
N=${1:-2000}
SKIP_BUILD=1
WORK=$ROOT/target/bench-proxy
OUT=$ROOT/target/proxy-instructions
NAME=proxy-instructions
# shellcheck source=scripts/lib/loopback.sh
. scripts/lib/loopback.sh

[ -f "$WORK/proxy.toml" ] && [ -f "$WORK/nginx/nginx.conf" ] ||
  die "run bash scripts/bench-proxy.sh once first (it writes $WORK)"
command -v valgrind >/dev/null || apt_install valgrind
build_release
BARE=$RELEASE/bare-forwarder
[ -x "$BARE" ] || die "target/release/bare-forwarder missing: cargo build --release -p bare-forwarder"
rm -rf "$OUT"
mkdir -p "$OUT"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" 2>>"$WORK/nginx/error.log" &
PIDS+=("$!")
UPSTREAM=$(sed -n 's/^url = "http:\/\/\(127.0.0.1:[0-9]*\)"$/\1/p' "$WORK/proxy.toml" | head -1)
PROXY_ADDR=$(sed -n 's/^listen = "\(127.0.0.1:[0-9]*\)"$/\1/p' "$WORK/proxy.toml")
BARE_ADDR=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
KID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"][0]["kid"])' "$WORK/keys/jwks.json")
TOKEN=$("$JWTKIT" mint --key "$WORK/keys/private.pem" --kid "$KID" --iss https://bench.jwtkit.test \
  --aud bench-api --sub bench-user --expires-in 2h)
ENGINE_JWT_SECRET=$("$JWTKIT" secret generate --encoding base64)
# TOKENS_FILE (set for the distinct-token run): every request carries the next token of the file.
TOKENS_FILE=
export ENGINE_JWT_SECRET TOKEN TOKENS_FILE

# measure LABEL REQUESTS ADDR COMMAND...: prints "instructions allocations" of the whole run.
measure() {
  local label=$1 requests=$2 addr=$3 pid i
  shift 3
  local file=$OUT/$label-$requests.callgrind
  valgrind --tool=callgrind --callgrind-out-file="$file" "$@" >"$OUT/$label-$requests.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for i in $(seq 1 150); do
    curl -s -o /dev/null "http://$addr/health" && break
    ((i < 150)) || die "$label did not start under valgrind: $(tail -3 "$OUT/$label-$requests.log")"
    sleep 0.2
  done
  python3 - "$addr" "$requests" <<'EOF'
import http.client, os, sys, threading
host, port = sys.argv[1].split(":")
total = int(sys.argv[2])
tokens = [os.environ["TOKEN"]]
if os.environ.get("TOKENS_FILE"):
    tokens = [t for t in open(os.environ["TOKENS_FILE"]).read().split() if t]
    if len(tokens) < total:
        sys.exit(f"{len(tokens)} tokens in TOKENS_FILE, fewer than the {total} requests")
failures = []
def client(first, count):
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    for i in range(count):
        token = tokens[(first + i) % len(tokens)]
        connection.request("GET", "/bench", headers={"Authorization": "Bearer " + token})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            failures.append(response.status)
# One request with the reused token first, in both runs of a process: its one verification (a
# cache miss) then cancels out, and the 8 clients' first requests do not race to verify it
# (each racing miss adds an RSA verification, ~140 instructions per request over 2000).
warm = http.client.HTTPConnection(host, int(port), timeout=60)
warm.request("GET", "/bench", headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
warm_response = warm.getresponse()
warm_response.read()
if warm_response.status != 200:
    sys.exit(f"the warm-up request got {warm_response.status}")
warm.close()
threads = [threading.Thread(target=client, args=(k * (total // 8), total // 8)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
if failures:
    sys.exit(f"{len(failures)} requests failed, first status {failures[0]}")
EOF
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  # Total instructions, and the calls into the Rust allocator (one per heap allocation).
  python3 - "$file" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))
# callgrind: a "cfn=(id)" line names a callee, a "fn=(id)" line the function the costs after it
# belong to; an id's name is written only where it first appears, in either kind of line. The
# "calls=N ..." line after a "cfn=" counts the calls. The binaries allocate with mimalloc, whose
# entries for Rust's allocations are mi_malloc_aligned and mi_zalloc_aligned; __rdl_alloc and
# __rdl_alloc_zeroed are the System allocator's.
ENTRIES = {"mi_malloc_aligned", "mi_zalloc_aligned", "__rustc::__rdl_alloc",
           "__rustc::__rdl_alloc_zeroed"}
names, calls, callee = {}, 0, None
for line in text.splitlines():
    m = re.match(r"(c?)fn=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3)
        callee = names.get(m.group(2)) if m.group(1) else None
    elif line.startswith("calls="):
        if callee in ENTRIES:
            calls += int(line.split("=")[1].split()[0])
        callee = None
print(total, calls)
EOF
}

declare -A RESULT
TARGETS=(proxy bare like)
if [ "$DISTINCT" = 1 ]; then
  TARGETS+=(distinct)
  [ -f "$WORK/proxy-nocache.toml" ] && [ -f "$WORK/tokens.txt" ] ||
    die "run bash scripts/bench-proxy.sh once first (it writes proxy-nocache.toml and tokens.txt)"
  NOCACHE_ADDR=$(sed -n 's/^listen = "\(127.0.0.1:[0-9]*\)"$/\1/p' "$WORK/proxy-nocache.toml")
fi
for target in "${TARGETS[@]}"; do
  TOKENS_FILE=
  if [ "$target" = proxy ]; then
    cmd=("$PROXY" --config "$WORK/proxy.toml")
    addr=$PROXY_ADDR
  elif [ "$target" = distinct ]; then
    # Token cache off, a distinct token per request: every request parses and verifies RS256.
    cmd=("$PROXY" --config "$WORK/proxy-nocache.toml")
    addr=$NOCACHE_ADDR
    TOKENS_FILE=$WORK/tokens.txt
  elif [ "$target" = like ]; then
    cmd=("$BARE" "$BARE_ADDR" "$UPSTREAM" --like-proxy)
    addr=$BARE_ADDR
  else
    cmd=("$BARE" "$BARE_ADDR" "$UPSTREAM")
    addr=$BARE_ADDR
  fi
  log "$target: readiness only, then $N requests"
  read -r i0 a0 < <(measure "$target" 0 "$addr" "${cmd[@]}")
  read -r i1 a1 < <(measure "$target" "$N" "$addr" "${cmd[@]}")
  RESULT[$target.ins]=$(((i1 - i0) / N))
  RESULT[$target.alloc]=$(awk -v a="$a0" -v b="$a1" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / n }')
done

{
  echo "| per proxied request ($N requests, callgrind) | instructions | heap allocations |"
  echo "|---|---:|---:|"
  echo "| jwtkit-proxy, reused RS256 token | ${RESULT[proxy.ins]} | ${RESULT[proxy.alloc]} |"
  echo "| bare hyper forwarder | ${RESULT[bare.ins]} | ${RESULT[bare.alloc]} |"
  echo "| bare forwarder \`--like-proxy\` (HTTP/1.1 + h2c listener, head timer) | ${RESULT[like.ins]} | ${RESULT[like.alloc]} |"
  if [ "$DISTINCT" = 1 ]; then
    echo "| jwtkit-proxy, token cache off, a distinct RS256 token per request | ${RESULT[distinct.ins]} | ${RESULT[distinct.alloc]} |"
  fi
  echo
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3fx", a / b }'; }
  echo "jwtkit-proxy (cache hit) / bare forwarder: $(ratio "${RESULT[proxy.ins]}" "${RESULT[bare.ins]}");" \
    "/ bare forwarder --like-proxy: $(ratio "${RESULT[proxy.ins]}" "${RESULT[like.ins]}")"
  echo
  echo "Profiles: $OUT/*.callgrind (callgrind_annotate --inclusive=yes FILE)."
} | tee "$OUT/report.md"
