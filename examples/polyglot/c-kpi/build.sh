#!/usr/bin/env bash
# Build the C KPI definition into target/polyglot/c-kpi.wasm.
#
# Toolchain: clang + wasm-ld + wasi-libc from Debian packages (apt-installed
# when missing; needs root or sudo), wit-bindgen-cli and wasm-tools from
# crates.io (cargo install into target/toolchains/cargo, once: 5-15 min each
# on 2 cores).
#
# Steps: wit-bindgen generates C bindings for the kpi-definition world;
# clang compiles them with kpi.c and json.c into a core module (wasm32-wasi,
# reactor: no main); `wasm-tools component new` wraps it into a component.
# The code calls nothing that needs WASI, so the module imports none and no
# WASI adapter is needed. Set C_KPI_DEBUG=1 to build a variant that prints to
# stderr: it then imports wasi_snapshot_preview1, and the script adapts it
# with the WASI preview1 reactor adapter from the crates.io crate
# wasi-preview1-component-adapter-provider (the host links a locked-down
# WASI and sends stderr to the plugin log).
set -euo pipefail
EXAMPLE="c-kpi"
# shellcheck source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
HERE="$POLYGLOT_DIR/c-kpi"
t_start=$(now)
DEBUG=${C_KPI_DEBUG:-0}

# ---- toolchain: clang, wasm-ld, wasi-libc (Debian) -----------------------
find_clang() {
  local c
  for c in clang-19 clang-20 clang-18 clang; do
    if command -v "$c" >/dev/null 2>&1; then
      echo "$c"
      return
    fi
  done
}
# wasi-libc's sysroot: Debian puts it in /usr (lib/wasm32-wasi); the upstream
# wasi-sdk layout is share/wasi-sysroot.
find_sysroot() {
  local d
  for d in /usr /usr/share/wasi-sysroot; do
    if [ -f "$d/lib/wasm32-wasi/libc.a" ] || [ -f "$d/lib/wasm32-wasip1/libc.a" ]; then
      echo "$d"
      return
    fi
  done
}
# clang that finds wasm-ld, the compiler-rt builtins for wasm32 and a sysroot.
c_toolchain_ok() {
  CLANG=$(find_clang)
  SYSROOT=$(find_sysroot)
  [ -n "$CLANG" ] && [ -n "$SYSROOT" ] || return 1
  local ld rt
  ld=$("$CLANG" --target=wasm32-wasi -print-prog-name=wasm-ld)
  rt=$("$CLANG" --target=wasm32-wasi -print-libgcc-file-name)
  command -v "$ld" >/dev/null 2>&1 && [ -f "$rt" ]
}
if ! c_toolchain_ok; then
  # Debian 12 (bookworm) and 13 (trixie) both ship clang-19; lld-19 provides
  # wasm-ld, libclang-rt-19-dev-wasm32 the compiler-rt builtins for wasm32.
  apt_install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32
  c_toolchain_ok || die "clang, wasm-ld, compiler-rt or wasi-libc still missing after apt-get install"
fi
TRIPLE=wasm32-wasi
[ -f "$SYSROOT/lib/wasm32-wasi/libc.a" ] || TRIPLE=wasm32-wasip1
note "$("$CLANG" --version | head -1), wasi-libc sysroot $SYSROOT ($TRIPLE)"

# ---- toolchain: wit-bindgen, wasm-tools (crates.io) -----------------------
ensure_cargo_tool wit-bindgen wit-bindgen-cli "$WIT_BINDGEN_VERSION" --no-default-features --features c
WIT_BINDGEN="$TOOLCHAINS/cargo/bin/wit-bindgen"
ensure_wasm_tools

# ---- build ----------------------------------------------------------------
BUILD="$OUT_DIR/build/c-kpi"
rm -rf "$BUILD"
mkdir -p "$BUILD/bindings"
OUT="$OUT_DIR/c-kpi.wasm"

step "wit-bindgen c (world kpi-definition)"
out=$("$WIT_BINDGEN" c "$WIT_DIR" --world kpi-definition --out-dir "$BUILD/bindings" 2>&1) || {
  echo "$out" >&2
  die "wit-bindgen failed"
}

step "clang: kpi.c json.c + bindings -> core module ($TRIPLE, reactor)"
t0=$(now)
CFLAGS=(-O2 -Wall -Wextra -std=c11)
[ "$DEBUG" = 1 ] && CFLAGS+=(-DKPI_DEBUG)
# -mexec-model=reactor: a library with exports and no main; --strip-debug
# drops the DWARF that Debian's libc.a carries (keeps the component-type
# section wit-bindgen's object file adds).
niced "$CLANG" --target="$TRIPLE" --sysroot="$SYSROOT" -mexec-model=reactor \
  "${CFLAGS[@]}" -Wl,--strip-debug \
  -I "$BUILD/bindings" -I "$HERE" \
  "$HERE/kpi.c" "$HERE/json.c" \
  "$BUILD/bindings/kpi_definition.c" "$BUILD/bindings/kpi_definition_component_type.o" \
  -o "$BUILD/c-kpi.core.wasm"
note "compiled in $(($(now) - t0)) s"

ADAPT=()
core_wat=$("$WASM_TOOLS" print "$BUILD/c-kpi.core.wasm")
if grep -q '(import "wasi_snapshot_preview1"' <<<"$core_wat"; then
  note "the core module imports WASI preview1: adapting it with the reactor adapter"
  # Resolve the adapter crate's files through cargo itself (no registry
  # paths guessed): a throw-away manifest that depends on it, cargo fetch,
  # then cargo metadata says where the crate was unpacked.
  FETCH="$TOOLCHAINS/wasi-adapter-$WASI_ADAPTER_VERSION"
  ADAPTER="$FETCH/wasi_snapshot_preview1.reactor.wasm"
  if [ ! -f "$ADAPTER" ]; then
    step "fetching wasi-preview1-component-adapter-provider $WASI_ADAPTER_VERSION (crates.io)"
    mkdir -p "$FETCH/src"
    cat >"$FETCH/Cargo.toml" <<EOF
[package]
name = "fetch-wasi-adapter"
version = "0.0.0"
edition = "2021"
publish = false
[lib]
path = "src/lib.rs"
[dependencies]
wasi-preview1-component-adapter-provider = "=$WASI_ADAPTER_VERSION"
[workspace]
EOF
    : >"$FETCH/src/lib.rs"
    (cd "$FETCH" && cargo fetch --quiet)
    crate_toml=$(cd "$FETCH" && cargo metadata --format-version 1 --quiet |
      grep -o '"manifest_path":"[^"]*wasi-preview1-component-adapter-provider-[^"]*"' | head -1 | cut -d'"' -f4)
    [ -n "$crate_toml" ] || die "cargo metadata did not locate the adapter crate"
    cp "$(dirname "$crate_toml")/artefacts/wasi_snapshot_preview1.reactor.wasm" "$ADAPTER"
  fi
  ADAPT=(--adapt "wasi_snapshot_preview1=$ADAPTER")
  export STRICT_NO_WASI=0
fi

step "wasm-tools component new"
"$WASM_TOOLS" component new "$BUILD/c-kpi.core.wasm" "${ADAPT[@]}" -o "$OUT.tmp"
"$WASM_TOOLS" validate "$OUT.tmp"
mv "$OUT.tmp" "$OUT"

report_component "$OUT"
inspect_with_host "$OUT" "$HERE/manifest.json"
step "done in $(($(now) - t_start)) s"
