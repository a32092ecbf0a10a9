#!/usr/bin/env bash
# Every WebAuthn ceremony and the reference UI in headless Chromium: installs what the
# browser tests need (the npm packages of package-lock.json into a temp dir, Debian's
# chromium when /usr/bin/chromium is missing, never a browser download; Debian's
# fonts-ipafont-gothic for the Japanese pages), builds
# `gatehouse` (unless GATEHOUSE_TEST_BIN names a binary already built), and runs
# tests/browser/*.test.mjs with Node's test runner on SQLite and, when
# GATEHOUSE_TEST_POSTGRES_URL is set (required when CI is set), on PostgreSQL.
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
CARGO="${CARGO:-cargo}"

need() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  else
    echo "missing system packages: $* (install them and re-run)" >&2
    exit 1
  fi
}

# Debian's Chromium (the tests never download one).
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || need chromium
# A Japanese font: without one, headless Chromium draws the Japanese pages (and their
# screenshots) as empty boxes.
dpkg -s fonts-ipafont-gothic >/dev/null 2>&1 || need fonts-ipafont-gothic
command -v node >/dev/null && command -v npm >/dev/null || need nodejs npm
# The UI tests age a registration link in the database, as the Rust tests do.
command -v sqlite3 >/dev/null || need sqlite3
"$CHROMIUM" --version
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  { echo "the browser tests need Node.js 20 or later (found $(node --version))" >&2; exit 1; }

# The npm packages, exactly as the lockfile pins them, in a temp dir keyed by the
# lockfile (reused while it is unchanged), linked in as tests/browser/node_modules.
lock_hash="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)"
modules="${TMPDIR:-/tmp}/gatehouse-browser-npm-$lock_hash"
if [ ! -f "$modules/node_modules/.package-lock.json" ]; then
  staging="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-browser-npm.XXXXXX")"
  cp "$here/package.json" "$here/package-lock.json" "$staging/"
  (cd "$staging" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  rm -rf "$modules"
  mv "$staging" "$modules" 2>/dev/null || rm -rf "$staging" # another run got there first
fi
rm -rf "$here/node_modules"
ln -s "$modules/node_modules" "$here/node_modules"

# The server under test: the real binary. GATEHOUSE_TEST_BIN names one already built
# (nothing is compiled then); otherwise the debug build of this checkout.
if [ -n "${GATEHOUSE_TEST_BIN:-}" ]; then
  [ -x "$GATEHOUSE_TEST_BIN" ] || { echo "GATEHOUSE_TEST_BIN=$GATEHOUSE_TEST_BIN is not an executable" >&2; exit 1; }
  echo "browser tests: gatehouse from GATEHOUSE_TEST_BIN=$GATEHOUSE_TEST_BIN (not built)"
else
  $CARGO build -p gatehouse --bin gatehouse
  target="${CARGO_TARGET_DIR:-$($CARGO metadata --format-version 1 --no-deps |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')}"
  export GATEHOUSE_TEST_BIN="$target/debug/gatehouse"
fi

log="$(mktemp "${TMPDIR:-/tmp}/gatehouse-browser-tap.XXXXXX")"
trap 'rm -f "$log"' EXIT
started=$SECONDS
set +e
node --test --test-reporter=tap "$here"/*.test.mjs | tee "$log"
status=${PIPESTATUS[0]}
set -e

count() { grep -E "^# $1 [0-9]+\$" "$log" | tail -n 1 | awk '{print $3}'; }
passed="$(count pass)"
failed="$(count fail)"
cancelled="$(count cancelled)"
skipped="$(count skipped)"
failed=$(( ${failed:-0} + ${cancelled:-0} ))
passed=${passed:-0}
echo "browser tests: ${skipped:-0} skipped, $(( SECONDS - started )) s"
echo "$passed passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
