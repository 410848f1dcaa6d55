#!/usr/bin/env bash
# Build the Python routing policy into target/polyglot/python-routing.wasm.
#
# Installs componentize-py (PyPI) into a venv under target/toolchains/python
# on first use; later runs reuse it. Needs python3 (3.9+) with venv; on
# Debian without python3-venv the script apt-installs it.
set -euo pipefail
EXAMPLE="python-routing"
# shellcheck source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
HERE="$POLYGLOT_DIR/python-routing"
t_start=$(now)

# ---- toolchain ------------------------------------------------------------
VENV="$TOOLCHAINS/python"
if [ ! -x "$VENV/bin/python" ]; then
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  step "creating venv $VENV"
  mkdir -p "$TOOLCHAINS"
  python3 -m venv "$VENV"
fi
if "$VENV/bin/componentize-py" --version 2>/dev/null | grep -qF "$COMPONENTIZE_PY_VERSION"; then
  note "componentize-py $COMPONENTIZE_PY_VERSION: already installed"
else
  step "pip install componentize-py==$COMPONENTIZE_PY_VERSION"
  niced "$VENV/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

# ---- build ----------------------------------------------------------------
mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/python-routing.wasm"
step "componentize-py: app.py -> $OUT (world routing-policy, --stub-wasi)"
t0=$(now)
# --stub-wasi replaces every WASI import with a trapping stub: the host links
# no sockets, and a policy has no business with files, clocks or env anyway.
# -p . only: the app must not pick up packages from the machine's Python.
(
  cd "$HERE"
  niced env -u VIRTUAL_ENV PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/componentize-py" \
    -d "$WIT_DIR" -w routing-policy \
    componentize --stub-wasi -p . app -o "$OUT.tmp"
)
mv "$OUT.tmp" "$OUT"
rm -rf "$HERE/__pycache__"
note "componentize took $(($(now) - t0)) s"

# The import check needs wasm-tools, which only the C example installs (a
# 5-15 min cargo install); without it, the host check below lists imports.
if [ -x "$TOOLCHAINS/cargo/bin/wasm-tools" ]; then
  WASM_TOOLS="$TOOLCHAINS/cargo/bin/wasm-tools"
  report_component "$OUT"
else
  step "built $OUT ($(($(wc -c <"$OUT") / 1024)) KiB)"
fi
inspect_with_host "$OUT" "$HERE/manifest.json"
step "done in $(($(now) - t_start)) s"
