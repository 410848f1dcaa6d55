#!/usr/bin/env bash
# Build the partner guide (docs/book) with mdBook, for CI and by hand:
#
#   docs/book/build.sh          # -> target/book/index.html
#
# - installs mdBook from crates.io into target/toolchains/cargo when the
#   pinned version is not there (once; about a minute on 2 cores);
# - checks that every chapter listed in SUMMARY.md exists, and that every
#   relative link between chapters (and its #anchor) resolves;
# - runs `mdbook build` and fails on any warning or error it prints
#   (e.g. a missing {{#include}} file).
#
# Heavy steps run under `nice -n 19`; NICE= turns that off.
set -euo pipefail

MDBOOK_VERSION=0.4.52

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TOOLS="$ROOT/target/toolchains/cargo"
MDBOOK="$TOOLS/bin/mdbook"
NICE=${NICE-nice -n 19}

log() { printf 'book: %s\n' "$*" >&2; }

# ---- mdBook ---------------------------------------------------------------
if [ "$("$MDBOOK" --version 2>/dev/null || true)" != "mdbook v$MDBOOK_VERSION" ]; then
  command -v cargo >/dev/null || { log "cargo is needed to install mdBook (install Rust with rustup)"; exit 1; }
  log "installing mdbook $MDBOOK_VERSION into $TOOLS (once)"
  started=$SECONDS
  # shellcheck disable=SC2086 # NICE is a command prefix, split on purpose
  $NICE cargo install --locked "mdbook@$MDBOOK_VERSION" --no-default-features --features search \
    --root "$TOOLS" --quiet
  log "installed mdbook in $((SECONDS - started)) s"
fi

# ---- chapters and links ---------------------------------------------------
python3 - "$HERE/src" <<'PY'
"""Every chapter in SUMMARY.md exists; every relative link resolves.

Chapters are read with their {{#include}}s expanded (an included fragment's
links are relative to the chapter that includes it, as mdBook renders
them). A link to a chapter with #anchor must name a heading of that chapter,
with mdBook's heading ids.
"""
import os
import re
import sys

src = sys.argv[1]
problems = []

summary = open(os.path.join(src, "SUMMARY.md"), encoding="utf-8").read()
chapters = [m.group(1) for m in re.finditer(r"\]\(([^)#\s]+\.md)\)", summary)]
if not chapters:
    problems.append("SUMMARY.md lists no chapters")
for c in chapters:
    if not os.path.isfile(os.path.join(src, c)):
        problems.append(f"SUMMARY.md: chapter {c} does not exist")

INCLUDE = re.compile(r"\{\{#include\s+([^}\s]+)\s*\}\}")


def expand(path, depth=0):
    text = open(path, encoding="utf-8").read()
    if depth > 5:
        return text

    def sub(m):
        target = os.path.normpath(os.path.join(os.path.dirname(path), m.group(1).split(":")[0]))
        if not os.path.isfile(target):
            problems.append(f"{os.path.relpath(path, src)}: {{{{#include {m.group(1)}}}}}: no such file")
            return ""
        return expand(target, depth + 1)

    return INCLUDE.sub(sub, text)


def strip_code(text):
    """Drop fenced code blocks and inline code: links there are not links."""
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def heading_ids(text):
    """Heading ids as mdBook makes them: lower case, letters, digits, `_` and
    `-` kept, spaces to `-`, the rest dropped; repeats get -1, -2, ..."""
    ids, seen = set(), {}
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.S | re.M)
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M):
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))  # [text](url) -> text
        title = title.replace("`", "").replace("*", "")
        base = "".join(
            ch.lower() if (ch.isalnum() or ch in "_-") else ("-" if ch.isspace() else "")
            for ch in title
        )
        n = seen.get(base, 0)
        seen[base] = n + 1
        ids.add(base if n == 0 else f"{base}-{n}")
    return ids


texts = {c: expand(os.path.join(src, c)) for c in chapters if os.path.isfile(os.path.join(src, c))}
ids = {c: heading_ids(t) for c, t in texts.items()}
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
for c, text in texts.items():
    for m in LINK.finditer(strip_code(text)):
        url = m.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", url, re.I):
            continue  # https:, mailto:, ...
        path, _, anchor = url.partition("#")
        if path:
            target = os.path.normpath(os.path.join(os.path.dirname(c), path))
            if target.startswith(".."):
                problems.append(f"{c}: link {url} leaves the book (use a repository URL)")
                continue
            if not os.path.exists(os.path.join(src, target)):
                problems.append(f"{c}: link {url}: {target} does not exist")
                continue
        else:
            target = c
        if anchor and target.endswith(".md"):
            if target not in ids:
                problems.append(f"{c}: link {url}: {target} is not a chapter in SUMMARY.md")
            elif anchor not in ids[target]:
                problems.append(f"{c}: link {url}: no heading #{anchor} in {target}")

for p in problems:
    print(f"book: {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"book: {len(chapters)} chapters, links OK", file=sys.stderr)
PY

# ---- build ----------------------------------------------------------------
out="$ROOT/target/book"
logfile=$(mktemp)
trap 'rm -f "$logfile"' EXIT
started=$SECONDS
if ! "$MDBOOK" build "$HERE" >"$logfile" 2>&1; then
  cat "$logfile" >&2
  log "mdbook build failed"
  exit 1
fi
if grep -E '\[(WARN|ERROR)\]' "$logfile" >&2; then
  log "mdbook printed warnings or errors (above): fix them"
  exit 1
fi
[ -f "$out/index.html" ] || { log "no $out/index.html after the build"; exit 1; }
log "built $out/index.html in $((SECONDS - started)) s"
