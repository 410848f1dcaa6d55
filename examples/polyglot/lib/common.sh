# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables here are used by the scripts that source this file
# Shared by the polyglot examples' build scripts; source it, do not run it.
#
# Everything a build installs goes under $TOOLCHAINS (default
# <repo>/target/toolchains, gitignored with the rest of target/), and every
# component lands in $OUT_DIR (<repo>/target/polyglot). Paths are computed
# from this file's location, so the repo can live anywhere.
#
# Environment knobs:
#   SWITCHBOARD_TOOLCHAINS  where toolchains go (default <repo>/target/toolchains)
#   SWITCHBOARD_POLYGLOT_OUT where components go (default <repo>/target/polyglot)
#   NICE                    prefix for heavy commands (default "nice -n 19";
#                           set NICE= to run at normal priority)

POLYGLOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(cd "$POLYGLOT_DIR/../.." && pwd)
WIT_DIR="$REPO_ROOT/wit"
TOOLCHAINS=${SWITCHBOARD_TOOLCHAINS:-$REPO_ROOT/target/toolchains}
OUT_DIR=${SWITCHBOARD_POLYGLOT_OUT:-$REPO_ROOT/target/polyglot}
NICE=${NICE-nice -n 19}

# Toolchain versions known to work together (see examples/polyglot/README.md).
WASM_TOOLS_VERSION=1.263.0
WIT_BINDGEN_VERSION=0.63.0
WASI_ADAPTER_VERSION=48.0.1 # wasi-preview1-component-adapter-provider, only if a C build needs WASI
COMPONENTIZE_PY_VERSION=0.25.1
WASMTIME_PY_VERSION=50.0.1 # only for test-all.sh

EXAMPLE=${EXAMPLE:-polyglot}

# Run a command under $NICE (word-split on purpose: "nice -n 19").
niced() {
  # shellcheck disable=SC2086
  $NICE "$@"
}

step() { printf '==> [%s] %s\n' "$EXAMPLE" "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
  printf 'error: [%s] %s\n' "$EXAMPLE" "$*" >&2
  exit 1
}

# Seconds since the epoch, for "took N s" lines.
now() { date +%s; }

# Run as root, or through sudo when there is one.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (no sudo found); install those packages and re-run"
  fi
}

# apt-get install the given packages (Debian/Ubuntu), updating the package
# lists once per run first.
APT_UPDATED=${APT_UPDATED:-}
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* with your package manager"
  if [ -z "$APT_UPDATED" ]; then
    step "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  step "apt-get install $*"
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive $NICE apt-get install -y -qq --no-install-recommends "$@"
}

# ensure_cargo_tool BIN CRATE VERSION [cargo install args...]
# Installs CRATE@VERSION into $TOOLCHAINS/cargo/bin unless BIN --version there
# already reports VERSION. Builds in a scratch target dir (never the
# workspace's, so a concurrent `cargo build` of the repo is not blocked) and
# deletes it afterwards.
ensure_cargo_tool() {
  local bin=$1 crate=$2 version=$3
  shift 3
  local exe="$TOOLCHAINS/cargo/bin/$bin"
  if [ -x "$exe" ] && "$exe" --version 2>/dev/null | grep -qF "$version"; then
    note "$bin $version: already installed"
    return
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup) first"
  step "cargo install $crate@$version (takes 5-15 min on 2 cores, once)"
  local t0 build
  t0=$(now)
  build="$TOOLCHAINS/cargo-build-$crate"
  niced cargo install --locked --quiet --root "$TOOLCHAINS/cargo" --target-dir "$build" \
    "$crate@$version" "$@"
  rm -rf "$build"
  note "$bin $version installed in $(($(now) - t0)) s"
}

ensure_wasm_tools() {
  ensure_cargo_tool wasm-tools wasm-tools "$WASM_TOOLS_VERSION" \
    --no-default-features --features component,validate,print,parse,metadata
  WASM_TOOLS="$TOOLCHAINS/cargo/bin/wasm-tools"
}

# The imports of a component, one per line, e.g. `switchboard:rules/log@0.1.0`.
component_imports() {
  "$WASM_TOOLS" component wit "$1" | sed -n 's/^  import \(.*\);$/\1/p'
}

# Print size and imports of a built component, and fail if it imports
# anything the switchboard host refuses (sockets, http, ...) or any WASI
# at all when STRICT_NO_WASI=1.
report_component() {
  local wasm=$1 size imports
  size=$(wc -c <"$wasm")
  step "built $wasm ($((size / 1024)) KiB)"
  imports=$(component_imports "$wasm")
  note "imports: $(paste -sd' ' - <<<"$imports")"
  if grep -Eq '^wasi:(sockets|http)/' <<<"$imports"; then
    die "the component imports network interfaces the host never links"
  fi
  if [ "${STRICT_NO_WASI:-1}" = 1 ] && grep -q '^wasi:' <<<"$imports"; then
    die "the component imports WASI; the examples are built to import only switchboard:rules/log"
  fi
}

# Validate with the host binary when one has been built (it is not built by
# these scripts). Checks world, WIT version and imports like the server.
inspect_with_host() {
  local wasm=$1 manifest=$2 host
  for host in "$REPO_ROOT/target/release/switchboard" "$REPO_ROOT/target/debug/switchboard"; do
    if [ -x "$host" ]; then
      step "switchboard plugin inspect (${host#"$REPO_ROOT"/})"
      "$host" --log-level warn plugin inspect "$wasm" --manifest "$manifest" | sed 's/^/    /'
      return
    fi
  done
  note "no switchboard binary under target/: skipped the host check (cargo build --release, then re-run)"
}
