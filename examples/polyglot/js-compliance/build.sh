#!/usr/bin/env bash
# Build the JavaScript compliance check into target/polyglot/js-compliance.wasm.
#
# Installs @bytecodealliance/jco + componentize-js (npm; versions pinned in
# package.json, the rest by package-lock.json) into
# target/toolchains/npm-js-compliance on first use, or again when either file
# changes. Needs Node.js 18+ and npm; on
# Debian without them the script apt-installs nodejs and npm.
set -euo pipefail
EXAMPLE="js-compliance"
# shellcheck source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
HERE="$POLYGLOT_DIR/js-compliance"
t_start=$(now)

# ---- toolchain ------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || die "Node.js $(node --version) is too old: jco needs 18 or newer"

PREFIX="$TOOLCHAINS/npm-js-compliance"
STAMP="$PREFIX/.installed-from"
if [ -x "$PREFIX/node_modules/.bin/jco" ] && cat "$HERE/package.json" "$HERE/package-lock.json" | cmp -s - "$STAMP"; then
  note "jco $("$PREFIX/node_modules/.bin/jco" --version): already installed"
else
  step "npm install (jco + componentize-js, from package-lock.json) into $PREFIX"
  t0=$(now)
  mkdir -p "$PREFIX"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$PREFIX/"
  # `npm install` rather than `npm ci`: npm 11 leaves other platforms'
  # optional binaries (rolldown, jco-node-fs) without a version in the lock,
  # which `npm ci` rejects as out of sync; `npm install` keeps every locked
  # version and fills those in.
  (cd "$PREFIX" && niced npm install --no-audit --no-fund --loglevel=error)
  cat "$HERE/package.json" "$HERE/package-lock.json" >"$STAMP"
  note "npm install took $(($(now) - t0)) s"
fi
JCO="$PREFIX/node_modules/.bin/jco"

# ---- build ----------------------------------------------------------------
mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/js-compliance.wasm"
step "jco componentize: compliance.js -> $OUT (world compliance-check, --disable all)"
t0=$(now)
# --disable all: no stdio, random, clocks or http, so the component imports
# no WASI at all, only switchboard:rules/log. (An uncaught exception then
# traps instead of printing; the code turns every error into a result `err`.)
(
  cd "$HERE"
  niced "$JCO" componentize compliance.js \
    --wit "$WIT_DIR" --world-name compliance-check \
    --disable all \
    -o "$OUT.tmp" >/dev/null
)
mv "$OUT.tmp" "$OUT"
note "componentize took $(($(now) - t0)) s"

if [ -x "$TOOLCHAINS/cargo/bin/wasm-tools" ]; then
  WASM_TOOLS="$TOOLCHAINS/cargo/bin/wasm-tools"
  report_component "$OUT"
else
  step "built $OUT ($(($(wc -c <"$OUT") / 1024)) KiB)"
fi
inspect_with_host "$OUT" "$HERE/manifest.json"
step "done in $(($(now) - t_start)) s"
