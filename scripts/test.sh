#!/usr/bin/env bash
# The whole test suite. Installs what the tests need (PyJWT for interop, oidc-provider for the
# test IdP) into the work tree, then runs every Rust test. Usable on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# PyJWT (with cryptography) in a private virtualenv: the interop peer of the CLI tests.
if [ ! -x target/pyenv/bin/python ]; then
  python3 -m venv target/pyenv
fi
target/pyenv/bin/python -m pip install --quiet --disable-pip-version-check -r testing/interop/requirements.txt
export JWTKIT_TEST_PYTHON="$PWD/target/pyenv/bin/python"

# The real OIDC provider the JWKS tests start on loopback.
if ! command -v node >/dev/null; then
  echo "test.sh: Node.js 20+ is required (apt-get install nodejs npm)" >&2
  exit 1
fi
npm ci --prefix testing/idp --no-audit --no-fund --loglevel=error
bash testing/idp/smoke.sh

cargo test --workspace --all-features --all-targets --no-fail-fast
cargo test --workspace --all-features --doc
