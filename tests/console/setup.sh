#!/usr/bin/env bash
# Installs what the console's browser tests need, from the package
# registries, if it is missing: Debian's Chromium (no browser download at
# run time), Node.js, and playwright-core (pinned in package-lock.json).
# Idempotent: a second run does nothing. Called by host/tests/console.rs.
set -euo pipefail
cd "$(dirname "$0")"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else
    echo "setup: need root to run: $* (install the Debian packages chromium and nodejs yourself)" >&2
    exit 1
  fi
}

missing=()
command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} (Debian packages)" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/playwright-core/package.json ]; then
  echo "setup: npm ci (playwright-core, pinned)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
