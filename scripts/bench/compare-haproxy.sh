# The issue-16 comparison of scripts/bench-proxy.sh: nginx as a reverse proxy (its own instance),
# HAProxy as a JWT gateway, and the runs and report of jwtkit-proxy against them. Sourced by
# bench-proxy.sh after its helpers and settings are defined; not run on its own.

# Starts nginx as a reverse proxy to the static server; sets HOP_PID, defines hop_workers.
start_nginx_hop() {
# Reference: nginx itself as a reverse proxy in front of the static server (one proxy hop with
# pooled upstream connections), to tell the cost of a hop on this machine from the cost of
# jwtkit-proxy. Its own nginx instance, so its CPU is counted apart from the upstream's.
cat >"$WORK/nginx-hop/nginx.conf" <<EOF
# Written by scripts/bench-proxy.sh: nginx as a reverse proxy to the static server.
worker_processes $HOP_WORKERS;
pid $WORK/nginx-hop/nginx.pid;
error_log $WORK/nginx-hop/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx-hop/tmp/body;
  proxy_temp_path $WORK/nginx-hop/tmp/proxy;
  fastcgi_temp_path $WORK/nginx-hop/tmp/fastcgi;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  upstream static_pool { server 127.0.0.1:$NGINX_PORT; keepalive 512; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:$REF_PORT;
    location / {
      proxy_pass http://static_pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
HOP_ARGS=(-p "$WORK/nginx-hop" -c "$WORK/nginx-hop/nginx.conf" -e "$WORK/nginx-hop/error.log")
"$NGINX" "${HOP_ARGS[@]}" -t >"$WORK/nginx-hop/test.log" 2>&1 ||
  die "nginx (hop) rejects its configuration: $(cat "$WORK/nginx-hop/test.log")"
"$NGINX" "${HOP_ARGS[@]}" 2>>"$WORK/nginx-hop/error.log" &
HOP_PID=$!
PIDS+=("$HOP_PID")
wait_http "http://127.0.0.1:$REF_PORT/bench" 10 || die "nginx (hop) did not start: $(cat "$WORK/nginx-hop/error.log")"
hop_workers() { pgrep -P "$HOP_PID" | tr '\n' ' '; }

}

# Starts HAProxy as a JWT gateway; sets HAPROXY_PID.
start_haproxy() {
# HAProxy as a JWT gateway (issue 16): the bearer token's alg must be RS256, its signature must
# verify with the bench key, and its exp must be present and in the future; anything else is a
# 401. No cache: every request is verified. (It checks neither iss nor aud, which jwtkit-proxy
# does: that favours HAProxy slightly.) nbthread matches the proxy's tokio worker threads.
cat >"$WORK/haproxy/haproxy.cfg" <<EOF
# Written by scripts/bench-proxy.sh.
global
  nbthread $HAPROXY_THREADS
  maxconn 1024
  pidfile $WORK/haproxy/haproxy.pid
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend jwt_gateway
  bind 127.0.0.1:$HAPROXY_PORT
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request deny status 401 unless { var(txn.alg) -m str RS256 }
  http-request deny status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"$WORK/keys/public.pem") -m int 1 }
  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
  http-request set-var(txn.now) date()
  http-request deny status 401 unless { var(txn.exp) -m found } { var(txn.exp),sub(txn.now) -m int gt 0 }
  default_backend static
backend static
  server nginx 127.0.0.1:$NGINX_PORT
EOF
"$HAPROXY" -c -f "$WORK/haproxy/haproxy.cfg" >"$WORK/haproxy/check.log" 2>&1 ||
  die "haproxy rejects its configuration: $(cat "$WORK/haproxy/check.log")"
"$HAPROXY" -db -f "$WORK/haproxy/haproxy.cfg" >"$WORK/haproxy/haproxy.log" 2>&1 &
HAPROXY_PID=$!
PIDS+=("$HAPROXY_PID")
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HAPROXY_PORT/bench")" = 401 ] && break
  kill -0 "$HAPROXY_PID" 2>/dev/null || die "haproxy did not start: $(tail -3 "$WORK/haproxy/haproxy.log")"
  sleep 0.05
done
}

# The comparison runs; sets HWM_C, HWM_HAPROXY, HWM_BARE, HWM_HOP.
compare_runs() {
# Issue 16: jwtkit-proxy (token cache on, TOKEN_CACHE entries, a fresh process) against HAProxy
# as a JWT gateway, the bare forwarder and nginx's hop, under a distinct token per request (the
# pool of TOKENS round-robin, more than the cache holds) and one reused token. jwtkit-proxy and
# HAProxy run back to back under each load; peak RSS (VmHWM) is read right after the
# distinct-token run of each process.
start_proxy "$CONFIG_C" "$PORT_C" "$WORK/proxy-c.log"
PID_C=$PROXY_PID
VIA_C=http://127.0.0.1:$PORT_C
VIA_H=http://127.0.0.1:$HAPROXY_PORT
"$JWTKIT" keygen --alg RS256 --out "$WORK/other-keys" >/dev/null
FOREIGN=$("$JWTKIT" mint --key "$WORK/other-keys/private.pem" --kid "$KID" --iss "$ISS" --aud "$AUD" --expires-in 2h --sub bench-user)
# One character inside the signature changed: the last one of an RS256-2048 signature carries
# only 2 bits (4 unused), and HAProxy's base64url decoding ignores unused bits, so changing the
# last character can leave the signature the same for it.
SIG_AT=$((${#TOKEN} - 20))
TAMPERED=${TOKEN:0:SIG_AT}$([ "${TOKEN:SIG_AT:1}" = A ] && echo B || echo A)${TOKEN:SIG_AT+1}
check_eq "HAProxy with the RS256 token" "ok" "$(curl -fsS -H "Authorization: Bearer $TOKEN" "$VIA_H/bench")"
check_eq "HAProxy with a pool token" "ok" "$(curl -fsS -H "Authorization: Bearer $(tail -1 "$WORK/tokens.txt")" "$VIA_H/bench")"
check_eq "HAProxy without token" "401" "$(curl -s -o /dev/null -w '%{http_code}' "$VIA_H/bench")"
check_eq "HAProxy, token of another key" "401" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $FOREIGN" "$VIA_H/bench")"
check_eq "HAProxy, tampered signature" "401" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TAMPERED" "$VIA_H/bench")"
check_eq "proxy C, token of another key" "401" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $FOREIGN" "$VIA_C/bench")"
POOL=("TOKENS_FILE=$WORK/tokens.txt" "WRK_THREADS=$THREADS")
PROXY_PID_FOR_CPU=$PID_C
bench cmp_jwtkit_distinct "compare: jwtkit-proxy, distinct tokens ($TOKENS round-robin, cache $TOKEN_CACHE)" "$CONNS" "$VIA_C/bench" none "${POOL[@]}"
HWM_C=$(status_kb "$PID_C" VmHWM)
PROXY_PID_FOR_CPU=$HAPROXY_PID
bench cmp_haproxy_distinct "compare: HAProxy JWT gateway, distinct tokens" "$CONNS" "$VIA_H/bench" none "${POOL[@]}"
HWM_HAPROXY=$(status_kb "$HAPROXY_PID" VmHWM)
PROXY_PID_FOR_CPU=$PID_C
bench cmp_jwtkit_reused "compare: jwtkit-proxy, one reused token" "$CONNS" "$VIA_C/bench" token
PROXY_PID_FOR_CPU=$HAPROXY_PID
bench cmp_haproxy_reused "compare: HAProxy JWT gateway, one reused token" "$CONNS" "$VIA_H/bench" token
PROXY_PID_FOR_CPU=$BARE_PID
bench cmp_bare_distinct "compare: bare forwarder, distinct tokens" "$CONNS" "http://127.0.0.1:$BARE_PORT/bench" none "${POOL[@]}"
bench cmp_bare_reused "compare: bare forwarder, one reused token" "$CONNS" "http://127.0.0.1:$BARE_PORT/bench" token
HWM_BARE=$(status_kb "$BARE_PID" VmHWM)
PROXY_PID_FOR_CPU=$(hop_workers)
bench cmp_nginx_distinct "compare: nginx hop, distinct tokens" "$CONNS" "$REF" none "${POOL[@]}"
bench cmp_nginx_reused "compare: nginx hop, one reused token" "$CONNS" "$REF" token
HWM_HOP=0
for p in $(hop_workers); do HWM_HOP=$((HWM_HOP + $(status_kb "$p" VmHWM))); done
PROXY_PID_FOR_CPU=""
if grep -qiE ' (WARN|ERROR) ' "$WORK/proxy-c.log"; then
  NOTE[proxy_c_log]="proxy C logged warnings or errors: see target/bench-proxy/proxy-c.log"
fi
stop_pid "$PID_C"
}

# The comparison section of the report (markdown on stdout).
compare_report() {
# jwtkit-proxy against HAProxy (issue 16): req/s ratios and CPU per request.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
H_REUSED=$(ratio "${R[cmp_jwtkit_reused.rps]}" "${R[cmp_haproxy_reused.rps]}")
H_DISTINCT=$(ratio "${R[cmp_jwtkit_distinct.rps]}" "${R[cmp_haproxy_distinct.rps]}")
H_CPU=$(ratio "${R[cmp_jwtkit_distinct.proxy_us_req]}" "${R[cmp_haproxy_distinct.proxy_us_req]}")
H_CPU_REUSED=$(ratio "${R[cmp_jwtkit_reused.proxy_us_req]}" "${R[cmp_haproxy_reused.proxy_us_req]}")
echo "## jwtkit-proxy against HAProxy (issue 16)"
echo
echo "HAProxy $("$HAPROXY" -v 2>&1 | head -1 | awk '{ print $3 }'), nbthread $HAPROXY_THREADS, as a JWT gateway: \`http_auth_bearer\`, \`jwt_header_query('\$.alg')\` = RS256,"
echo "\`jwt_verify\` = 1 with the bench public key, \`jwt_payload_query('\$.exp','int')\` present and later than \`date()\`; else 401;"
echo "no cache (target/bench-proxy/haproxy/haproxy.cfg). jwtkit-proxy: a fresh process, token cache $TOKEN_CACHE entries,"
echo "tokio's default runtime ($(nproc) worker threads). Distinct load: the $TOKENS pool tokens round-robin, each thread of wrk"
echo "its own half (more tokens than the cache holds). nginx's hop: its own nginx, worker_processes $HOP_WORKERS; the static"
echo "upstream nginx has worker_processes $NGINX_WORKERS. CPU µs/req: utime+stime of the proxy's processes over the run"
echo "(/proc/PID/stat) / requests. Peak RSS: VmHWM after the distinct-token run (nginx: sum over its workers)."
echo
echo "| proxy | load | req/s | p99 ms | CPU µs/req | errors | other CPU | peak RSS |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for who in jwtkit haproxy bare nginx; do
  case $who in
    jwtkit) name=jwtkit-proxy hwm=$HWM_C ;;
    haproxy) name="HAProxy JWT gateway" hwm=$HWM_HAPROXY ;;
    bare) name="bare forwarder (no auth)" hwm=$HWM_BARE ;;
    nginx) name="nginx hop (no auth)" hwm=$HWM_HOP ;;
  esac
  for load in reused distinct; do
    id=cmp_${who}_$load
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$load" "$(printf '%.0f' "${R[$id.rps]}")" \
      "$(ms "${R[$id.p99_us]}")" "${R[$id.proxy_us_req]}" "${R[$id.errors]}" "${R[$id.other_cpu]}" \
      "$([ "$load" = distinct ] && echo "$(mib "$hwm") MiB")"
  done
done
echo
echo "| target (issue 16) | measured | |"
echo "|---|---|---|"
echo "| reused token: jwtkit-proxy ≥ 1.5x HAProxy's req/s | ${H_REUSED}x | $(pass "$H_REUSED" ">=" 1.5)$(disturbed cmp_jwtkit_reused cmp_haproxy_reused) |"
echo "| distinct tokens: jwtkit-proxy ≥ 1.0x HAProxy's req/s | ${H_DISTINCT}x | $(pass "$H_DISTINCT" ">=" 1.0)$(disturbed cmp_jwtkit_distinct cmp_haproxy_distinct) |"
echo "| distinct tokens: jwtkit-proxy CPU per request ≤ HAProxy's | ${R[cmp_jwtkit_distinct.proxy_us_req]} / ${R[cmp_haproxy_distinct.proxy_us_req]} µs = ${H_CPU}x | $(pass "$H_CPU" "<" 1.0001)$(disturbed cmp_jwtkit_distinct cmp_haproxy_distinct) |"
echo "| reused token: CPU per request, jwtkit-proxy / HAProxy (no target) | ${R[cmp_jwtkit_reused.proxy_us_req]} / ${R[cmp_haproxy_reused.proxy_us_req]} µs = ${H_CPU_REUSED}x | |"
echo "| peak RSS under the distinct-token load ≤ 64 MiB (VmHWM) | $(mib "$HWM_C") MiB | $(pass "$(mib "$HWM_C")" "<" 64.0001) |"
echo "| instructions per cache-hit request ≤ 1.2x the bare forwarder's | \`bash scripts/proxy-instructions.sh\` | |"
echo
}
