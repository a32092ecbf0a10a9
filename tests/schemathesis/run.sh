#!/usr/bin/env bash
# The OpenAPI document against the real server: schemathesis (pinned, with hashes, in a
# virtualenv made here) runs every operation of /openapi.json with all its checks, a
# fixed seed and a bounded number of cases, against `gatehouse serve` on SQLite, with
# an admin token for /api/v1/admin/* and a signed-in user's token for the rest.
# Exits non-zero on any 5xx and any conformance failure.
#
# Environment: SCHEMATHESIS_SEED (default 1), SCHEMATHESIS_MAX_EXAMPLES (default 100),
# SCHEMATHESIS_WORKERS (default 1: one worker sends the same cases every run),
# SCHEMATHESIS_GATEHOUSE_BIN (a gatehouse binary to test instead of this tree's debug
# build), SCHEMATHESIS_VENV (a virtualenv that already has requirements.txt installed),
# SCHEMATHESIS_REPORT_DIR (keep the JUnit and NDJSON reports there).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

seed="${SCHEMATHESIS_SEED:-1}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
workers="${SCHEMATHESIS_WORKERS:-1}"

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

# 2. The real binary (SCHEMATHESIS_GATEHOUSE_BIN, or this tree's debug build), copied so a
#    concurrent build cannot swap it mid-run.
if [ -z "${SCHEMATHESIS_GATEHOUSE_BIN:-}" ]; then
  cargo build --quiet -p gatehouse --bin gatehouse
  SCHEMATHESIS_GATEHOUSE_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/gatehouse"
fi
cp "$SCHEMATHESIS_GATEHOUSE_BIN" "$tmp/gatehouse"
# Only the file configures it: a GATEHOUSE_* variable of the caller's (a database URL,
# say) would override the file, and the server refuses names it does not know.
read -r -a unset_gatehouse <<<"$(compgen -e | grep '^GATEHOUSE_' | sed 's/^/-u /' | tr '\n' ' ')"
gatehouse() {
  env "${unset_gatehouse[@]}" "$tmp/gatehouse" --config "$tmp/gatehouse.toml" "$@"
}

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
# Not through the function: $! must be the server itself (env execs it), for the trap.
env "${unset_gatehouse[@]}" "$tmp/gatehouse" --config "$tmp/gatehouse.toml" serve \
  >"$tmp/server.out" 2>"$tmp/server.log" &
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
"$venv/bin/python" - "$base/readyz" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as answer:
            if answer.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(f"not ready: {sys.argv[1]}")
PY

# 4. Tokens: an admin (client_credentials) and a signed-in user of a first-party client.
gatehouse clients add --name schemathesis-ops --grant client_credentials \
  --scope gatehouse:admin --access-token-ttl 3600 >"$tmp/admin-client.json"
gatehouse clients add --name schemathesis-ui --first-party \
  --redirect-uri http://localhost:3000/callback --grant authorization_code \
  --scope openid --scope gatehouse:account --access-token-ttl 3600 >"$tmp/ui-client.json"
"$venv/bin/python" "$here/tokens.py" "$base" "$tmp/outbox" \
  "$tmp/admin-client.json" "$tmp/ui-client.json" >"$tmp/tokens.json"
export SCHEMATHESIS_ADMIN_TOKEN SCHEMATHESIS_USER_TOKEN SCHEMATHESIS_HOOKS="$here/hooks.py"
SCHEMATHESIS_ADMIN_TOKEN="$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$tmp/tokens.json")"
SCHEMATHESIS_USER_TOKEN="$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["user"])' "$tmp/tokens.json")"
echo "server at $base; tokens ready after $(($(date +%s) - started)) s"

# 5. schemathesis: every operation, all checks, fixed seed, bounded cases. In two
#    runs: the operations that end the tokens' own session, account or client (found
#    through the ids other answers give) come last, so the rest is tested signed in.
ending='^(DELETE /api/v1/account/sessions/\{session\}|POST /api/v1/admin/accounts/\{account_id\}/(disable|logout)|DELETE /api/v1/admin/accounts/\{account_id\}|(PATCH|DELETE) /api/v1/admin/clients/\{client_id\})$'
report_dir="${SCHEMATHESIS_REPORT_DIR:-$tmp/report}"
mkdir -p "$report_dir/1-signed-in" "$report_dir/2-ending"
schemathesis_run() {
  local reports="$1"
  shift
  # From the temp dir: schemathesis keeps a cache folder in its working directory.
  (cd "$tmp" && "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" \
    run "$base/openapi.json" "$@" \
    --checks all --seed "$seed" --max-examples "$max_examples" --workers "$workers" \
    --generation-database none --no-color --report junit,ndjson --report-dir "$reports")
}
status=0
schemathesis_run "$report_dir/1-signed-in" --exclude-name-regex "$ending" || status=1
schemathesis_run "$report_dir/2-ending" --include-name-regex "$ending" || status=1

# 6. The figures.
echo "schemathesis: status $status after $(($(date +%s) - started)) s in all (seed $seed, at most $max_examples cases per operation and phase)"
"$venv/bin/python" "$here/figures.py" "$report_dir/1-signed-in" "$report_dir/2-ending" || status=1
exit "$status"
