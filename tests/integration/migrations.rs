//! The two migration sets must stay twins: same names, same order.

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
