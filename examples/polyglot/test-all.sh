#!/usr/bin/env bash
# Run every example's fixtures (examples/polyglot/*/fixtures/*.json) against
# its built component in target/polyglot/, through wasmtime-py (PyPI
# `wasmtime`, installed into the examples' venv under target/toolchains/):
# host limits from the manifest, only switchboard:rules/log linked, results
# compared in the host's serde JSON format. Build first with build-all.sh.
#
#   examples/polyglot/test-all.sh            all three
#   examples/polyglot/test-all.sh c-kpi      one
#   BENCH=500 examples/polyglot/test-all.sh  also time 500 calls per fixture
set -euo pipefail
EXAMPLE="test"
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

VENV="$TOOLCHAINS/python"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if [ "$("$VENV/bin/pip" show wasmtime 2>/dev/null | sed -n 's/^Version: //p')" != "$WASMTIME_PY_VERSION" ]; then
  step "pip install wasmtime==$WASMTIME_PY_VERSION"
  niced "$VENV/bin/pip" install --quiet --disable-pip-version-check "wasmtime==$WASMTIME_PY_VERSION"
fi

examples=("$@")
[ ${#examples[@]} -gt 0 ] || examples=(c-kpi python-routing js-compliance)
extra=()
[ -n "${BENCH:-}" ] && extra+=(--bench "$BENCH")
failed=0
passed=0
for example in "${examples[@]}"; do
  wasm="$OUT_DIR/$example.wasm"
  [ -f "$wasm" ] || die "$wasm is missing: run examples/polyglot/$example/build.sh first"
  EXAMPLE=$example step "fixtures (compiling a JS or Python component takes 15-60 s the first time)"
  if out=$(niced env FIXTURE_CACHE="$TOOLCHAINS/fixture-cache" "$VENV/bin/python" "$POLYGLOT_DIR/tools/run_fixtures.py" \
    "$wasm" "$POLYGLOT_DIR/$example/manifest.json" "$POLYGLOT_DIR/$example/fixtures/"*.json "${extra[@]}"); then
    :
  fi
  # shellcheck disable=SC2001
  sed 's/^/    /' <<<"$out"
  line=$(tail -1 <<<"$out")
  passed=$((passed + $(sed -n 's/^\([0-9]*\) passed.*/\1/p' <<<"$line")))
  failed=$((failed + $(sed -n 's/.* \([0-9]*\) failed$/\1/p' <<<"$line")))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
