//! The two migration sets must stay twins: same names, same order, same content but for
//! the dialects' spellings of a column type.

use crate::support::workspace_root;

fn folder_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace_root().join(dir))
        .expect("migration folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn sqlite_and_postgres_migrations_have_identical_names() {
    let [sqlite_dir, postgres_dir] = gatehouse_store::MIGRATION_DIRS;
    let sqlite = folder_names(sqlite_dir);
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, folder_names(postgres_dir));

    let (embedded_sqlite, embedded_postgres) =
        gatehouse_store::Migrations::names().expect("embedded");
    assert_eq!(
        embedded_sqlite, embedded_postgres,
        "the binary embeds twin sets too"
    );
    assert_eq!(
        embedded_sqlite.len(),
        sqlite.len(),
        "every folder is embedded"
    );
}

#[test]
fn every_migration_can_be_reverted() {
    for dir in gatehouse_store::MIGRATION_DIRS {
        for name in folder_names(dir) {
            let folder = workspace_root().join(dir).join(&name);
            for file in ["up.sql", "down.sql"] {
                let sql = std::fs::read_to_string(folder.join(file)).unwrap_or_default();
                assert!(
                    !sql.trim().is_empty(),
                    "{dir}/{name}/{file} is missing or empty"
                );
            }
        }
    }
}

/// What may differ between a SQLite migration and its PostgreSQL twin: each dialect's
/// spelling of the same column type. Anything else is a drift.
const DIALECT: [(&str, &str); 2] = [
    // Binary data.
    ("BLOB", "BYTEA"),
    // An append-only sequence number the database assigns.
    (
        "INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT",
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    ),
];

/// A statement list as compared: SQL comments dropped, whitespace collapsed (and gone
/// beside brackets and commas), so layout never counts.
fn normalized(sql: &str) -> String {
    sql.lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
}

/// The same schema, whichever backend: a twin that says something else fails here,
/// naming the first place they part.
#[test]
fn sqlite_and_postgres_migrations_match_in_content() {
    for name in folder_names("migrations/sqlite") {
        for file in ["up.sql", "down.sql"] {
            let read = |dialect: &str| {
                let path = workspace_root()
                    .join("migrations")
                    .join(dialect)
                    .join(&name)
                    .join(file);
                normalized(&std::fs::read_to_string(&path).expect("migration"))
            };
            let mut sqlite = read("sqlite");
            for (ours, theirs) in DIALECT {
                sqlite = sqlite.replace(ours, theirs);
            }
            let postgres = read("postgres");
            let parted = sqlite
                .char_indices()
                .zip(postgres.chars())
                .find(|((_, a), b)| a != b)
                .map_or(sqlite.len().min(postgres.len()), |((i, _), _)| i);
            assert!(
                sqlite == postgres,
                "{name}/{file} differs beyond the dialect at: {:?} / {:?}",
                sqlite
                    .get(parted..)
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect::<String>(),
                postgres
                    .get(parted..)
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect::<String>(),
            );
        }
    }
}

/// The comparison bites: a column added on one side only is a drift.
#[test]
fn a_drifted_twin_is_told_apart() {
    let sqlite = "CREATE TABLE t (\n  id TEXT PRIMARY KEY, -- the id\n  data BLOB\n);";
    let postgres = "CREATE TABLE t (id TEXT PRIMARY KEY, data BYTEA);";
    let mut spelled = normalized(sqlite);
    for (ours, theirs) in DIALECT {
        spelled = spelled.replace(ours, theirs);
    }
    assert_eq!(spelled, normalized(postgres));
    let drifted = "CREATE TABLE t (id TEXT PRIMARY KEY, data BYTEA, extra TEXT);";
    assert_ne!(spelled, normalized(drifted));
}
