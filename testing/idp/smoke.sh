#!/usr/bin/env bash
# Smoke test for the loopback test IdP (idp.mjs): starts it, exercises
# discovery, JWKS, both clients' client_credentials tokens and every
# /__admin endpoint, then the three ways it stops (stdin EOF, SIGTERM,
# --max-lifetime). Exits non-zero on the first failure.
# Needs: node (with `npm ci` done in this folder) and curl.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IDP="$HERE/idp.mjs"
WORK="$(mktemp -d)"
PASSED=0
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [[ -s "$WORK/idp.err" ]]; then echo "--- idp stderr:" >&2; cat "$WORK/idp.err" >&2; fi
  echo "smoke: $PASSED passed, 1 failed"
  exit 1
}
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }

# json FILE JS-EXPR: evaluate EXPR with `j` bound to the parsed JSON file.
json() { node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = eval(process.argv[2]); console.log(typeof v === "string" ? v : JSON.stringify(v))' "$1" "$2"; }

# GET/POST helpers: body to $WORK/body, headers to $WORK/headers, prints status.
get() { curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@"; }
admin() { get -X POST -H 'content-type: application/json' --data "$2" "$BASE/__admin/$1"; }
token() { get -u "$1:test-secret" -d grant_type=client_credentials "${@:2}" "$TOKEN_ENDPOINT"; }

# check_token ALG AUD [KID]: decodes the access_token in $WORK/body, verifies its
# signature against the current JWKS and checks header and claims.
check_token() {
  cp "$WORK/body" "$WORK/token.json"
  get "$JWKS_URI" >/dev/null && cp "$WORK/body" "$WORK/jwks.json"
  node - "$WORK/token.json" "$WORK/jwks.json" "$ISSUER" "$@" <<'EOF'
const fs = require('fs');
const crypto = require('crypto');
const [resp, jwksFile, iss, alg, aud, kid] = process.argv.slice(2);
const tok = JSON.parse(fs.readFileSync(resp, 'utf8')).access_token;
const die = (m) => { console.error(`token check: ${m}\n${tok}`); process.exit(1); };
if (typeof tok !== 'string') die('no access_token in response');
const [h, p, s] = tok.split('.');
const dec = (x) => JSON.parse(Buffer.from(x, 'base64url').toString('utf8'));
const header = dec(h);
const claims = dec(p);
if (header.alg !== alg) die(`alg ${header.alg} != ${alg}`);
if (header.typ !== 'at+jwt') die(`typ ${header.typ} != at+jwt`);
if (kid && header.kid !== kid) die(`kid ${header.kid} != ${kid}`);
const jwk = JSON.parse(fs.readFileSync(jwksFile, 'utf8')).keys.find((k) => k.kid === header.kid);
if (!jwk) die(`kid ${header.kid} not in JWKS`);
const ok = crypto.verify('sha256', Buffer.from(`${h}.${p}`), {
  key: crypto.createPublicKey({ key: jwk, format: 'jwk' }),
  dsaEncoding: 'ieee-p1363', // JWS ES256 signatures are raw r||s
}, Buffer.from(s, 'base64url'));
if (!ok) die('signature does not verify');
if (claims.iss !== iss) die(`iss ${claims.iss} != ${iss}`);
if (claims.aud !== aud) die(`aud ${JSON.stringify(claims.aud)} != ${aud}`);
const now = Math.floor(Date.now() / 1000);
if (!(claims.exp > now && claims.exp <= now + 300)) die(`exp ${claims.exp} not within (now, now+300]`);
EOF
}

# wait_ready FILE: waits for the ready line in FILE, prints it.
wait_ready() {
  local i
  for i in $(seq 100); do
    if [[ -s "$1" ]]; then head -n1 "$1"; return 0; fi
    sleep 0.1
  done
  return 1
}

# exited_within SECONDS PID
exited_within() {
  local i
  for i in $(seq $(($1 * 10))); do
    kill -0 "$2" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# ---- start: stdin is a pipe we hold, like a parent test process would.
coproc IDP_PROC { exec node "$IDP" --issuer 'http://localhost:{port}' 2>"$WORK/idp.err"; }
IDP_PID=$IDP_PROC_PID
PIDS+=("$IDP_PID")
read -r -t 20 READY <&"${IDP_PROC[0]}" || fail "no ready line"
echo "$READY" >"$WORK/ready.json"
[[ "$(json "$WORK/ready.json" 'j.ready')" == true ]] || fail "ready line: $READY"
PORT="$(json "$WORK/ready.json" 'j.port')"
BASE="http://127.0.0.1:$PORT"
ISSUER="$(json "$WORK/ready.json" 'j.issuer')"
JWKS_URI="$(json "$WORK/ready.json" 'j.jwks_uri')"
TOKEN_ENDPOINT="$(json "$WORK/ready.json" 'j.token_endpoint')"
[[ "$ISSUER" == "http://localhost:$PORT" ]] || fail "issuer placeholder: $ISSUER"
[[ "$JWKS_URI" == "$BASE/jwks" && "$TOKEN_ENDPOINT" == "$BASE/token" ]] || fail "ready line urls: $READY"
ok "ready line: $READY"

# ---- discovery
[[ "$(get "$BASE/.well-known/openid-configuration")" == 200 ]] || fail "discovery status"
[[ "$(json "$WORK/body" 'j.issuer')" == "$ISSUER" ]] || fail "discovery issuer"
[[ "$(json "$WORK/body" 'j.jwks_uri')" == "$JWKS_URI" ]] || fail "discovery jwks_uri"
[[ "$(json "$WORK/body" 'j.token_endpoint')" == "$TOKEN_ENDPOINT" ]] || fail "discovery token_endpoint"
json "$WORK/body" 'j.grant_types_supported' | grep -q client_credentials || fail "discovery grant types"
ok "discovery"

# ---- JWKS
[[ "$(get "$JWKS_URI")" == 200 ]] || fail "jwks status"
[[ "$(json "$WORK/body" 'j.keys.map((k) => k.alg).join(",")')" == "RS256,ES256" ]] || fail "jwks algs: $(cat "$WORK/body")"
[[ "$(json "$WORK/body" 'j.keys.some((k) => "d" in k)')" == false ]] || fail "jwks leaks private keys"
grep -qi '^cache-control' "$WORK/headers" && fail "jwks has a cache-control header by default"
OLD_RS_KID="$(json "$WORK/body" 'j.keys[0].kid')"
ok "jwks"                                                           # jwks requests: 1

# ---- tokens (each check_token also fetches the JWKS once)
[[ "$(token test-client)" == 200 ]] || fail "token test-client: $(cat "$WORK/body")"
check_token RS256 urn:jwtkit:api || fail "test-client token"
[[ "$(json "$WORK/token.json" 'j.token_type')" == Bearer ]] || fail "token_type"
ok "test-client: RS256 at+jwt, iss/aud/exp, signature"             # 2
[[ "$(token test-client-es)" == 200 ]] || fail "token test-client-es: $(cat "$WORK/body")"
check_token ES256 urn:jwtkit:api || fail "test-client-es token"
ok "test-client-es: ES256 at+jwt, iss/aud/exp, signature"          # 3
[[ "$(token test-client -d resource=urn:jwtkit:other)" == 200 ]] || fail "token with resource"
check_token RS256 urn:jwtkit:other || fail "resource=urn:jwtkit:other token"
ok "resource parameter picks aud"                                  # 4
[[ "$(token test-client -d resource=urn:jwtkit:nope)" == 400 ]] || fail "unknown resource accepted"
[[ "$(json "$WORK/body" 'j.error')" == invalid_target ]] || fail "unknown resource error"
[[ "$(get -u test-client:wrong -d grant_type=client_credentials "$TOKEN_ENDPOINT")" == 401 ]] || fail "bad secret accepted"
ok "unknown resource and bad secret rejected"

# ---- rotate: new keys first, old kept; tokens signed with the new kid
[[ "$(admin rotate '{}')" == 200 ]] || fail "rotate"
cp "$WORK/body" "$WORK/rotate.json"
NEW_RS_KID="$(json "$WORK/rotate.json" 'j.rs256_kid')"
NEW_ES_KID="$(json "$WORK/rotate.json" 'j.es256_kid')"
[[ "$NEW_RS_KID" != "$OLD_RS_KID" ]] || fail "rotate kept the kid"
get "$JWKS_URI" >/dev/null                                         # 5
[[ "$(json "$WORK/body" 'j.keys.map((k) => k.kid).join(",")')" == "$(json "$WORK/rotate.json" 'j.kids.join(",")')" ]] || fail "jwks after rotate"
[[ "$(json "$WORK/body" 'j.keys.length')" == 4 && "$(json "$WORK/body" 'j.keys[0].kid')" == "$NEW_RS_KID" ]] || fail "jwks order after rotate"
[[ "$(token test-client)" == 200 ]] && check_token RS256 urn:jwtkit:api "$NEW_RS_KID" || fail "RS256 token after rotate"   # 6
[[ "$(token test-client-es)" == 200 ]] && check_token ES256 urn:jwtkit:api "$NEW_ES_KID" || fail "ES256 token after rotate" # 7
ok "rotate keeps old keys, signs with new kids"
[[ "$(admin rotate '{"drop_old": true}')" == 200 ]] || fail "rotate drop_old"
get "$JWKS_URI" >/dev/null                                         # 8
[[ "$(json "$WORK/body" 'j.keys.length')" == 2 ]] || fail "drop_old left $(json "$WORK/body" 'j.keys.length') keys"
ok "rotate drop_old"

# ---- jwks-status: only the jwks_uri fails
[[ "$(admin jwks-status '{"status": 503}')" == 200 ]] || fail "jwks-status"
[[ "$(json "$WORK/body" 'j.status')" == 503 ]] || fail "jwks-status reply"
[[ "$(get "$JWKS_URI")" == 503 ]] || fail "jwks not 503"          # 9
[[ "$(get "$JWKS_URI")" == 503 ]] || fail "jwks not 503 again"    # 10
[[ "$(get "$BASE/.well-known/openid-configuration")" == 200 ]] || fail "discovery hit by jwks-status"
[[ "$(token test-client)" == 200 ]] || fail "token endpoint hit by jwks-status"
[[ "$(admin jwks-status '{"status": 0, "delay_ms": 400}')" == 200 ]] || fail "jwks-status restore"
T="$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' "$JWKS_URI")"   # 11
[[ "${T% *}" == 200 ]] || fail "jwks not restored: $T"
node -e 'process.exit(Number(process.argv[1]) >= 0.4 ? 0 : 1)' "${T#* }" || fail "jwks delay not applied: $T"
[[ "$(admin jwks-status '{"delay_ms": 0}')" == 200 ]] || fail "jwks delay reset"
ok "jwks-status 503 and delay_ms"

# ---- jwks-cache-control
admin jwks-cache-control '{"value": "max-age=60"}' >/dev/null
get "$JWKS_URI" >/dev/null                                         # 12
grep -qi '^cache-control: max-age=60' "$WORK/headers" || fail "cache-control not set"
admin jwks-cache-control '{"value": null}' >/dev/null
get "$JWKS_URI" >/dev/null                                         # 13
grep -qi '^cache-control' "$WORK/headers" && fail "cache-control not cleared"
ok "jwks-cache-control"

# ---- stats: JWKS fetched 13 times above, discovery twice
[[ "$(get "$BASE/__admin/stats")" == 200 ]] || fail "stats"
[[ "$(json "$WORK/body" 'j.jwks_requests')" == 13 && "$(json "$WORK/body" 'j.discovery_requests')" == 2 ]] || fail "stats: $(cat "$WORK/body")"
ok "stats: $(cat "$WORK/body")"

# ---- lifetime: EOF on stdin stops it
IDP_IN=${IDP_PROC[1]}
exec {IDP_IN}>&-
exited_within 5 "$IDP_PID" || fail "idp still running after stdin closed"
ok "exits when stdin closes"

# SIGTERM (stdin /dev/null would stop it at once, hence --ignore-stdin)
node "$IDP" --ignore-stdin </dev/null >"$WORK/b.out" 2>>"$WORK/idp.err" &
PIDS+=($!)
wait_ready "$WORK/b.out" >/dev/null || fail "second idp not ready"
kill -TERM "${PIDS[-1]}"
exited_within 5 "${PIDS[-1]}" || fail "idp ignored SIGTERM"
ok "exits on SIGTERM"

node "$IDP" --ignore-stdin --max-lifetime 1 </dev/null >"$WORK/c.out" 2>>"$WORK/idp.err" &
PIDS+=($!)
wait_ready "$WORK/c.out" >/dev/null || fail "third idp not ready"
exited_within 5 "${PIDS[-1]}" || fail "idp outlived --max-lifetime"
[[ "$(wc -l <"$WORK/c.out")" -eq 1 ]] || fail "stdout has more than the ready line"
[[ ! -s "$WORK/idp.err" ]] || fail "idp wrote to stderr without --verbose"
ok "exits after --max-lifetime; stdout is one line; stderr quiet"

echo "smoke: $PASSED passed, 0 failed"
