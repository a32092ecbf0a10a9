//! Gatehouse storage: one diesel code path over SQLite (the embedded default) and
//! PostgreSQL (shared by several instances), implementing the core's ports.
//!
//! Every insertable row says `treat_none_as_default_value = false`: a `None` is bound as
//! NULL instead of leaving the column out, so an insert's SQL is the same for every row
//! and diesel keeps its prepared statement (no such column has a default but NULL).

mod account_migrations;
mod accounts;
mod at_most_one;
mod audit;
mod clients;
mod connection;
mod consent;
mod email_changes;
mod error;
mod factor_guards;
mod factors;
mod grants;
mod janitor;
mod json;
mod login_requests;
mod logout_notices;
mod migrations;
mod otp;
mod outbox;
mod push;
mod recovery_codes;
mod registration_tokens;
mod schema;
mod signing_keys;
mod time;
mod transaction;
mod url;
mod webauthn;

pub use connection::{DbConnection, PoolOptions, PoolStats, Store};
pub use error::StoreError;
pub use janitor::Purged;
pub use migrations::{MIGRATION_DIRS, Migrations};
pub use transaction::{Connected, TransactionError, Tx};
pub use url::{Backend, DatabaseUrl};
