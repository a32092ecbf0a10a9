//! Embedded migrations, one set per backend with identical names.

use diesel::RunQueryDsl;
use diesel::migration::MigrationSource;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::{DbConnection, Store};
use crate::error::{StoreError, one_line};

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The folders the migrations are embedded from, relative to the workspace root.
pub const MIGRATION_DIRS: [&str; 2] = ["migrations/sqlite", "migrations/postgres"];

/// Any number for PostgreSQL's advisory lock, fixed so that every instance agrees.
const MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573; // "gatehous"

/// The migration sets compiled into this binary.
#[derive(Debug)]
pub struct Migrations;

impl Migrations {
    /// Migration names per backend, in order: `(sqlite, postgres)`.
    pub fn names() -> Result<(Vec<String>, Vec<String>), StoreError> {
        let names = |source: &EmbeddedMigrations| -> Result<Vec<String>, StoreError> {
            let list = MigrationSource::<diesel::sqlite::Sqlite>::migrations(source)
                .map_err(|e| StoreError::Migration(one_line(&e.to_string())))?;
            Ok(list.iter().map(|m| m.name().to_string()).collect())
        };
        Ok((names(&SQLITE)?, names(&POSTGRES)?))
    }

    /// Applies what is pending; returns the names applied. On PostgreSQL an advisory
    /// lock makes instances starting together take turns.
    pub(crate) fn run(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
        fn failed(e: impl std::fmt::Display) -> StoreError {
            StoreError::Migration(one_line(&e.to_string()))
        }
        fn names(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
            applied.iter().map(ToString::to_string).collect()
        }
        match conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE).map(names).map_err(failed),
            DbConnection::Postgresql(c) => {
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                    .execute(c)
                    .map_err(failed)?;
                let applied = c
                    .run_pending_migrations(POSTGRES)
                    .map(names)
                    .map_err(failed);
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                    .execute(c)
                    .map_err(failed)?;
                applied
            }
        }
    }
}

impl Store {
    /// Applies pending migrations; returns the names applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self
            .0
            .pool
            .get()
            .map_err(|e| StoreError::Migration(one_line(&e.to_string())))?;
        Migrations::run(&mut conn)
    }
}
