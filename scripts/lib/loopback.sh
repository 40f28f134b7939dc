# Shared set-up of the loopback load scripts (bench-proxy.sh, soak-proxy.sh); sourced, not run.
# The sourcing script sets NAME (its log prefix), ROOT and SKIP_BUILD, and `set -euo pipefail`.

# Loopback only: no HTTP proxy between curl/the proxy and the servers; no environment overrides
# of the proxy's configuration file.
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy \
  JWTKIT_LISTEN JWTKIT_LOG_LEVEL LOG_LEVEL JWTKIT_LOG_FORMAT CORS_ORIGINS || true

log() { printf '[%s %s] %s\n' "$NAME" "$(date +%T)" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$NAME" "$*" >&2
  exit 1
}

# Installs the Debian packages named, with apt-get (needs root). `nginx-light` falls back to
# `nginx` on releases without it.
apt_install() {
  log "installing $* with apt-get"
  [ "$(id -u)" = 0 ] || die "missing $*; run as root or: sudo apt-get install -y $*"
  command -v apt-get >/dev/null || die "missing $* and no apt-get to install them"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  if ! apt-get install -y -qq "$@" >/dev/null; then
    local packages=("$@")
    apt-get install -y -qq "${packages[@]/nginx-light/nginx}" >/dev/null || die "apt-get install $* failed"
  fi
}

# Where the release binaries are: RELEASE when set (with SKIP_BUILD=1: binaries kept apart from a
# build directory that others rebuild), else where cargo puts them (CARGO_TARGET_DIR when set).
RELEASE=${RELEASE:-${CARGO_TARGET_DIR:-$ROOT/target}/release}

# Builds the release binaries unless SKIP_BUILD=1; sets JWTKIT, PROXY and BUILD_S (the time).
build_release() {
  BUILD_S=skipped
  if [ "$SKIP_BUILD" != 1 ]; then
    log "cargo build --release -p jwtkit-cli -p jwtkit-proxy"
    local t0
    t0=$(date +%s.%N)
    cargo build --release -p jwtkit-cli -p jwtkit-proxy
    BUILD_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f s", b - a }')
  fi
  JWTKIT=$RELEASE/jwtkit
  PROXY=$RELEASE/jwtkit-proxy
  if [ ! -x "$JWTKIT" ] || [ ! -x "$PROXY" ]; then
    die "release binaries missing; run without SKIP_BUILD=1"
  fi
  ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true
}

# Writes DIR/nginx.conf: nginx in the foreground with WORKERS workers, serving a static 200 on
# 127.0.0.1:PORT, plus the `location` lines in EXTRA (may be empty); temporary files under
# DIR/tmp.
write_static_nginx_conf() {
  local dir=$1 port=$2 workers=$3 extra=${4:-}
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
# Written by scripts/$NAME.sh: a static 200 on loopback.
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:$port;
$extra
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
EOF
}

# Process bookkeeping: every PID in PIDS is stopped when the script exits (also on error or
# Ctrl-C).
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
