#!/usr/bin/env bash
# The OpenAPI document proves itself: generates TypeScript types from
# openapi/gatehouse.json with openapi-typescript, then compiles the typed client of
# tests/contract (client.ts and the flows beside it: login with every factor kind,
# push polling, passkey sign-in, registration, enrolment) against them with
# `tsc -p tests/contract` (strict, noEmit). A change to a body, a kind or a problem
# code the client relies on fails the compilation; so do duplicate operationIds.
# Then the reference UI's modules (crates/gatehouse-ui/assets/**/*.js, JavaScript with
# JSDoc types importing `gatehouse-api`) are type-checked against the same generated
# types with checkJs and the same strict options (tsconfig.ui.json).
#
# Usage: bash tests/contract/run.sh [DOCUMENT]   (default: openapi/gatehouse.json)
# The npm packages of package-lock.json are installed with `npm ci` into a temp dir
# keyed by the lockfile (reused while it is unchanged) and linked in as
# tests/contract/node_modules; the generated types go to a fresh temp dir, linked in
# as tests/contract/generated while tsc runs. Neither is committed. Needs Node 20+
# and npm, nothing else (no cargo, no server).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
document="$(realpath "${1:-openapi/gatehouse.json}")"
[ -f "$document" ] || { echo "no OpenAPI document at $document" >&2; exit 1; }

need() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  else
    echo "missing system packages: $* (install them and re-run)" >&2
    exit 1
  fi
}
command -v node >/dev/null && command -v npm >/dev/null || need nodejs npm
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  { echo "the contract check needs Node.js 20 or later (found $(node --version))" >&2; exit 1; }

started=$SECONDS

# The npm packages, exactly as the lockfile pins them, in a temp dir keyed by the
# lockfile (reused while it is unchanged), linked in as tests/contract/node_modules.
lock_hash="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)"
modules="${TMPDIR:-/tmp}/gatehouse-contract-npm-$lock_hash"
if [ ! -f "$modules/node_modules/.package-lock.json" ]; then
  staging="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-contract-npm.XXXXXX")"
  cp "$here/package.json" "$here/package-lock.json" "$staging/"
  (cd "$staging" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  rm -rf "$modules"
  mv "$staging" "$modules" 2>/dev/null || rm -rf "$staging" # another run got there first
fi
rm -rf "$here/node_modules"
ln -s "$modules/node_modules" "$here/node_modules"

# OpenAPI wants every operationId unique, and generators name types after them:
# openapi-typescript would declare `operations["verify"]` twice, and one of the two
# paths would get the other's bodies. Say which, rather than tsc's duplicate identifier.
node - "$document" <<'EOF'
const doc = JSON.parse(require("node:fs").readFileSync(process.argv[2], "utf8"));
const seen = new Map();
for (const [path, item] of Object.entries(doc.paths ?? {}))
  for (const [method, op] of Object.entries(item))
    if (op && typeof op === "object" && typeof op.operationId === "string")
      seen.set(op.operationId, [...(seen.get(op.operationId) ?? []), `${method.toUpperCase()} ${path}`]);
const dup = [...seen].filter(([, ops]) => ops.length > 1);
for (const [id, ops] of dup) console.error(`contract: operationId "${id}" is used ${ops.length} times: ${ops.join(", ")}`);
if (dup.length) {
  console.error("contract: FAILED: operationIds must be unique (set operation_id = \"…\" in #[utoipa::path])");
  process.exit(1);
}
EOF

# The types, generated afresh from the document (never committed), linked in as
# tests/contract/generated, which client.ts imports. --empty-objects-unknown: a schema
# that is only `{"type": "object"}` says nothing about its members, so
# `Record<string, unknown>`, not the default `Record<string, never>`, whose members are
# `never` and so would fit any type the client asks of them.
tmp="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-contract.XXXXXX")"
trap 'rm -rf "$tmp"; rm -f "$here/generated"' EXIT
"$here/node_modules/.bin/openapi-typescript" "$document" --output "$tmp/gatehouse.d.ts" \
  --empty-objects-unknown >/dev/null
rm -rf "$here/generated"
ln -s "$tmp" "$here/generated"

shown="${document#"$root"/}"
version() { node -p "require('$here/node_modules/$1/package.json').version"; }
echo "contract: openapi-typescript $(version openapi-typescript), tsc $(version typescript), against" \
  "$shown ($(grep -c '' "$tmp/gatehouse.d.ts") lines of generated types)"
if "$here/node_modules/.bin/tsc" -p "$here" --pretty false; then
  echo "contract: the typed client compiles against the document ($(( SECONDS - started )) s)"
else
  echo "contract: FAILED: the typed client does not compile against the document;" \
    "a body, kind or problem code it relies on has changed ($(( SECONDS - started )) s)" >&2
  exit 1
fi
# The reference UI (crates/gatehouse-ui/assets), JavaScript with JSDoc types from the
# same generated file, checked with checkJs under the same strict options.
if "$here/node_modules/.bin/tsc" -p "$here/tsconfig.ui.json" --pretty false; then
  echo "contract: the reference UI's modules type-check against the document ($(( SECONDS - started )) s)"
else
  echo "contract: FAILED: the reference UI's modules (crates/gatehouse-ui/assets) do not" \
    "type-check against the document ($(( SECONDS - started )) s)" >&2
  exit 1
fi
