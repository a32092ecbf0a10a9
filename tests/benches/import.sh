#!/usr/bin/env bash
# make bench-import: generates ROWS (default 1,000,000) legacy accounts as JSON Lines
# and imports them with the release `gatehouse` into a fresh SQLite file and a fresh
# PostgreSQL database, reporting rows/s and the importer's peak RSS. A benchmark, not
# a test: it prints numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${ROWS:-1000000}"
PG="${GATEHOUSE_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p gatehouse
bin=target/release/gatehouse
key="$("$bin" secrets generate-key | tail -n 1)"

python3 - "$ROWS" "$work/users.jsonl" <<'PY'
import json, sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as out:
    for i in range(rows):
        record = {
            "legacy_subject": f"legacy|{i:08d}",
            "email": f"user{i}@example.com",
            "given_name": "Rie",
            "family_name": "Tanaka",
            "locale": "ja" if i % 3 == 0 else "en",
            "zoneinfo": "Asia/Tokyo",
            "email_verified": True,
        }
        if i % 2 == 0:
            record["username"] = f"user{i}"
        if i % 10 == 0:
            record["sms_phone"] = f"+81 90 {i:08d}"
        out.write(json.dumps(record) + "\n")
PY
echo "input: $ROWS rows, $(du -h "$work/users.jsonl" | cut -f1)"

run() { # name url
    local name="$1" url="$2"
    /usr/bin/time -f "%e %M" -o "$work/time" env GATEHOUSE_DATABASE_URL="$url" \
        GATEHOUSE_SECRETS_KEY="$key" "$bin" accounts import "$work/users.jsonl" --json >"$work/out.json"
    read -r seconds rss_kib <"$work/time"
    python3 - "$name" "$ROWS" "$seconds" "$rss_kib" "$work/out.json" <<'PY'
import json, sys
name, rows, seconds, rss, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
summary = json.load(open(out))
print(f"{name:<10} {rows / seconds:>10,.0f} rows/s   {seconds:6.1f} s   peak RSS {rss / 1024:6.1f} MiB   {summary['outcomes']}")
PY
}

run sqlite "sqlite://$work/bench.db"
db="gh_bench_import_$$"
if psql "$PG/postgres" -qc "CREATE DATABASE $db" >/dev/null 2>&1; then
    run postgres "$PG/$db"
    psql "$PG/postgres" -qc "DROP DATABASE $db" >/dev/null
else
    echo "postgres   skipped: cannot create a database at $PG"
fi
