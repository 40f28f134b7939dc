#!/usr/bin/env bash
# The main job on an embedded default: no IdP, no upstream, only the jwtkit CLI. It walks through
# the three workflows jwtkit replaces (API bearer token, Camunda engine token, Centrifugo agent token) and
# the secret mix-up that `jwtkit doctor` explains.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p jwtkit-cli
jwtkit() { target/release/jwtkit "$@"; }
step() { printf '\n== %s\n' "$*"; }

step "a fresh secret (32 random bytes) and its fingerprint"
SECRET=$(jwtkit secret generate)
export JWT_SECRET_KEY="$SECRET"
jwtkit secret fingerprint --secret-env JWT_SECRET_KEY

step "API bearer token, as generate_jwt.py made it: jwtkit mint --sub my-service --expires-in 7d"
TOKEN=$(jwtkit mint --sub my-service --expires-in 7d)
echo "$TOKEN"
jwtkit decode "$TOKEN"

step "verify it (exit 0 and the claims)"
jwtkit verify "$TOKEN" --alg HS256

step "a tampered token is refused (exit 1, one line on stderr)"
jwtkit verify "${TOKEN%?}A" || echo "exit code $?"

step "Camunda engine token with the engine's base64 secret"
ENGINE_SECRET=$(jwtkit secret generate --encoding base64)
ENGINE_TOKEN=$(jwtkit mint --profile camunda --sub demo --secret "$ENGINE_SECRET")
jwtkit decode --json "$ENGINE_TOKEN"

step "the engine-secret mix-up: which reading of the secret did the signer use?"
jwtkit doctor "$ENGINE_TOKEN" --secret "$ENGINE_SECRET" || true

step "Centrifugo connection token for an agent"
jwtkit mint --profile centrifugo --sub agent-linux-01 --claim tenant_id=test-tenant \
  --channel agents.test-tenant.agent-linux-01 --expires-in 24h | jwtkit decode -

step "an EdDSA key pair with an RFC 7638 kid, and a token signed with it"
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
jwtkit keygen --alg EdDSA --out "$DIR"
ED_TOKEN=$(jwtkit mint --key "$DIR/private.pem" --sub edge --expires-in 1h)
jwtkit verify "$ED_TOKEN" --jwks-file "$DIR/jwks.json"
