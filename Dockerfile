# syntax=docker/dockerfile:1
#
# jwtkit-proxy container image: builds the `jwtkit-proxy` and `jwtkit` release binaries from
# this workspace and runs the proxy as a non-root user. See docs/DEPLOYMENT.md.
#
#   docker build -t jwtkit-proxy .
#   docker run --rm -p 8000:8000 --env-file proxy.env jwtkit-proxy
#   docker run --rm -p 8000:8000 -v "$PWD/proxy.toml:/etc/jwtkit/proxy.toml:ro" \
#       jwtkit-proxy --config /etc/jwtkit/proxy.toml

# ---- build --------------------------------------------------------------------------------
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# The whole workspace: every member's manifest is needed to resolve it (.dockerignore keeps
# target/, node_modules and .git out).
COPY . .
# --locked: exactly the versions in Cargo.lock. aws-lc-sys needs only the C compiler that the
# rust image already has.
RUN cargo build --release --locked -p jwtkit-proxy -p jwtkit-cli

# ---- runtime ------------------------------------------------------------------------------
FROM debian:bookworm-slim
# CA certificates: the proxy fetches JWKS and calls upstreams over https with the system roots.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 jwtkit \
 && useradd --system --uid 10001 --gid jwtkit --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin jwtkit
COPY --from=build /src/target/release/jwtkit-proxy /src/target/release/jwtkit /usr/local/bin/
# Numeric, so Kubernetes can check runAsNonRoot.
USER 10001:10001
EXPOSE 8000
# No HEALTHCHECK: the image has no HTTP client. Orchestrators probe GET /health (liveness) and
# GET /ready (readiness) on port 8000 themselves; see docs/DEPLOYMENT.md.
ENTRYPOINT ["jwtkit-proxy"]
