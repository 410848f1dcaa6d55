#!/usr/bin/env bash
# Build the three polyglot example plugins into target/polyglot/:
#   c-kpi.wasm (C), python-routing.wasm (Python), js-compliance.wasm (JS).
# Each build.sh installs its own toolchain under target/toolchains/ on first
# use (see README.md for what and how long). C goes first: it installs
# wasm-tools, which the other two then use to list their components' imports.
#
#   examples/polyglot/build-all.sh          build all three
#   examples/polyglot/build-all.sh --test   then run their fixtures (test-all.sh)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

summary=()
t_all=$(now)
for example in c-kpi python-routing js-compliance; do
  t0=$(now)
  "$HERE/$example/build.sh"
  wasm="$OUT_DIR/$example.wasm"
  summary+=("$(printf '%-15s %9s KiB  %4s s' "$example" "$(($(wc -c <"$wasm") / 1024))" "$(($(now) - t0))")")
done

echo
echo "Built into ${OUT_DIR#"$REPO_ROOT"/} in $(($(now) - t_all)) s:"
printf '  %s\n' "${summary[@]}"

if [ "${1:-}" = --test ]; then
  echo
  "$HERE/test-all.sh"
fi
