//! Gatehouse storage: one diesel code path over SQLite (the embedded default) and
//! PostgreSQL (shared by several instances), implementing the core's ports.
//!
//! # One rule for the two dialects
//!
//! A query is written once, with diesel's DSL, and runs on the backend's own
//! connection: `self.run(|c| natively!(c, |c| query))`. `natively!` expands the query
//! once per backend, so PostgreSQL and SQLite each build its SQL themselves and find
//! it in their statement cache by type. `DbConnection` (diesel's `MultiConnection`)
//! is only the pool's connection type: a query run through it builds its SQL text
//! twice per execution (once to ask whether it may be cached, again for the binds),
//! and a boxed query is typed by one backend, so it is built inside `natively!` too.
//!
//! Only where the SQL itself must differ does a repository match on the variant
//! (`match c`), each with its reason beside it: a row lock (`FOR UPDATE`, PostgreSQL;
//! SQLite's single writer already serialises), an advisory lock (signing keys,
//! migrations), and a bulk import (`COPY` on PostgreSQL).
//!
//! Each repository trait of the core is implemented once, for [`Db<C>`], so the pool
//! ([`Store`]) and an open transaction ([`Tx`]) share the body, and rustfmt reaches it.
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
mod lease;
mod login_requests;
mod logout_notices;
mod migrations;
mod otp;
mod outbox;
mod push;
mod pushed_requests;
mod recovery_codes;
mod registration_tokens;
mod schema;
mod signing_keys;
mod time;
mod transaction;
mod url;
mod webauthn;

pub use connection::{Db, DbConnection, PoolOptions, PoolStats, Pooled, Store};
pub use error::StoreError;
pub use janitor::Purged;
pub use migrations::{MIGRATION_DIRS, Migrations};
pub use transaction::{Connected, Open, TransactionError, Tx};
pub use url::{Backend, DatabaseUrl};
