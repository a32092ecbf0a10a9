#!/usr/bin/env bash
# The OpenAPI document against the real server: schemathesis (pinned, with hashes, in a
# virtualenv made here) runs every operation of /openapi.json with all its checks, a
# fixed seed and a bounded number of cases, against `gatehouse serve` on SQLite, with
# an admin token for /api/v1/admin/* and a signed-in user's token for the rest.
# Exits non-zero on any 5xx and any conformance failure.
#
# Environment: SCHEMATHESIS_SEED (default 1), SCHEMATHESIS_MAX_EXAMPLES (default 100),
# SCHEMATHESIS_WORKERS (default 2), SCHEMATHESIS_VENV (reuse a virtualenv that already
# has requirements.txt installed), SCHEMATHESIS_REPORT_DIR (keep the reports there).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

seed="${SCHEMATHESIS_SEED:-1}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
workers="${SCHEMATHESIS_WORKERS:-2}"

tmp="$(mktemp -d -t gatehouse-schemathesis.XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

started=$(date +%s)

# 1. schemathesis, exactly as locked.
if [ -n "${SCHEMATHESIS_VENV:-}" ]; then
  venv="$SCHEMATHESIS_VENV"
else
  venv="$tmp/venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    --require-hashes --only-binary :all: -r "$here/requirements.txt"
fi
"$venv/bin/schemathesis" --version

# 2. The real binary, copied so a concurrent build cannot swap it mid-run.
cargo build --quiet -p gatehouse --bin gatehouse
target_dir="${CARGO_TARGET_DIR:-$root/target}"
cp "$target_dir/debug/gatehouse" "$tmp/gatehouse"
gatehouse() { "$tmp/gatehouse" --config "$tmp/gatehouse.toml" "$@"; }

# 3. A server on SQLite in the temp dir: port 0, cheap argon2, mail as .eml files.
mkdir -p "$tmp/outbox"
cat >"$tmp/gatehouse.toml" <<EOF
[server]
bind = "127.0.0.1:0"
workers = 2

[database]
url = "sqlite://$tmp/gatehouse.db"

[logging]
format = "json"
level = "warn,gatehouse=info,gatehouse_provider=info"

[password_hashing]
memory_kib = 64
iterations = 1
parallelism = 1

[secrets]
key_file = "$tmp/secret.key"

[account_api]
reauthentication_window_seconds = 3600

[mail]
transport = "file"
file_dir = "$tmp/outbox"
linger_ms = 0
EOF
gatehouse serve >"$tmp/server.out" 2>"$tmp/server.log" &
server_pid=$!
base=""
for _ in $(seq 1 300); do
  base="$(sed -n 's/.*"message":"gatehouse listening".*"addr":"\([^"]*\)".*/\1/p' "$tmp/server.log" | head -n 1)"
  [ -n "$base" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "the server did not say where it listens" >&2
  cat "$tmp/server.log" >&2
  exit 1
fi
base="http://$base"
for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null

# 4. Tokens: an admin (client_credentials) and a signed-in user of a first-party client.
gatehouse clients add --name schemathesis-ops --grant client_credentials \
  --scope gatehouse:admin --access-token-ttl 3600 >"$tmp/admin-client.json"
gatehouse clients add --name schemathesis-ui --first-party \
  --redirect-uri http://localhost:3000/callback --grant authorization_code \
  --scope openid --scope gatehouse:account --access-token-ttl 3600 >"$tmp/ui-client.json"
"$venv/bin/python" "$here/tokens.py" "$base" "$tmp/outbox" \
  "$tmp/admin-client.json" "$tmp/ui-client.json" >"$tmp/tokens.json"
export GATEHOUSE_ADMIN_TOKEN GATEHOUSE_USER_TOKEN SCHEMATHESIS_HOOKS="$here/hooks.py"
GATEHOUSE_ADMIN_TOKEN="$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$tmp/tokens.json")"
GATEHOUSE_USER_TOKEN="$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["user"])' "$tmp/tokens.json")"
echo "server at $base; tokens ready after $(($(date +%s) - started)) s"

# 5. schemathesis: every operation, all checks, fixed seed, bounded cases.
report_dir="${SCHEMATHESIS_REPORT_DIR:-$tmp/report}"
mkdir -p "$report_dir"
set +e
# From the temp dir: schemathesis keeps a cache folder in its working directory.
(cd "$tmp" && "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
  --checks all --seed "$seed" --max-examples "$max_examples" --workers "$workers" \
  --generation-database none --no-color \
  --report junit,ndjson --report-dir "$report_dir")
status=$?
set -e

# 6. The figures.
"$venv/bin/python" "$here/figures.py" "$report_dir" || true
if grep -q '"level":"ERROR"' "$tmp/server.log"; then
  echo "the server logged errors:" >&2
  grep '"level":"ERROR"' "$tmp/server.log" | head -n 20 >&2
fi
echo "schemathesis: exit $status after $(($(date +%s) - started)) s in all"
exit "$status"
