//! One way to reach the database for every repository: straight from the pool, or
//! inside a transaction, so that a state change and what must go with it (an outbox
//! mail, an audit event) commit together or not at all.

use diesel::Connection;
use diesel::result::QueryResult;
use gatehouse_core::ports::{RepositoryError, RepositoryResult};
use std::cell::{Cell, RefCell};
use std::sync::PoisonError;
use std::time::Duration;

use crate::connection::{Db, DbConnection, Store};
use crate::error::db_error;
use crate::url::Backend;

thread_local! {
    /// This thread is inside `Store::transaction` (and holds SQLite's turn if any).
    static IN_TRANSACTION: Cell<bool> = const { Cell::new(false) };
}

/// Marks the thread as inside a transaction until dropped (then restores what was).
struct Inside(bool);

impl Inside {
    fn enter() -> Self {
        Self(IN_TRANSACTION.replace(true))
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        IN_TRANSACTION.set(self.0);
    }
}

/// Something repositories can run queries on.
pub trait Connected {
    fn run<T>(
        &self,
        query: impl FnOnce(&mut DbConnection) -> QueryResult<T>,
    ) -> RepositoryResult<T>;
}

impl Connected for Store {
    fn run<T>(
        &self,
        query: impl FnOnce(&mut DbConnection) -> QueryResult<T>,
    ) -> RepositoryResult<T> {
        let mut conn = self.conn()?;
        query(&mut conn).map_err(|e| self.failed(e))
    }
}

/// An open transaction. Every repository trait the store implements, it implements too.
pub type Tx<'a> = Db<Open<'a>>;

/// The connection of an open transaction (see [`Tx`]).
pub struct Open<'a>(RefCell<&'a mut DbConnection>);

impl std::fmt::Debug for Open<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tx")
    }
}

impl Connected for Tx<'_> {
    fn run<T>(
        &self,
        query: impl FnOnce(&mut DbConnection) -> QueryResult<T>,
    ) -> RepositoryResult<T> {
        let mut conn = self.0.0.borrow_mut();
        query(&mut conn).map_err(db_error)
    }
}

/// What a transaction's work may end with besides success: a store error (retried
/// when it is a lost race), or a refusal of the caller's own (a handler's problem),
/// which rolls back and is handed back as it is.
pub trait TransactionError: From<RepositoryError> {
    /// The store error this is, or the refusal back.
    fn into_repository(self) -> Result<RepositoryError, Self>;
}

impl TransactionError for RepositoryError {
    fn into_repository(self) -> Result<RepositoryError, Self> {
        Ok(self)
    }
}

enum Abort<E> {
    Work(E),
    Database(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for Abort<E> {
    fn from(e: diesel::result::Error) -> Self {
        Self::Database(e)
    }
}

/// How often a transaction that lost a race is tried again before giving up.
const ATTEMPTS: u32 = 5;

impl Store {
    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back
    /// otherwise. A transaction that lost a race with a concurrent writer (SQLite's
    /// busy snapshot, PostgreSQL's serialization failure) runs again, a few times.
    pub fn transaction<T>(
        &self,
        work: impl FnMut(&Tx<'_>) -> RepositoryResult<T>,
    ) -> RepositoryResult<T> {
        self.transaction_with(work)
    }

    /// [`Store::transaction`] for work that may also end with a refusal of its own (a
    /// handler's problem): the refusal rolls back and is handed back as it is, at
    /// once; a store error is retried as a lost race or handed back as `E`.
    pub fn transaction_with<T, E: TransactionError>(
        &self,
        mut work: impl FnMut(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut attempt = 1;
        loop {
            // SQLite has one writer at a time. Left to SQLite, a transaction that reads
            // and then writes fails (busy snapshot) when another wrote in between, and
            // waits out a sleeping retry; taking turns on a lock here wakes the next one
            // the moment the last commits. A nested call already holds the turn.
            let _turn = (self.backend() == Backend::Sqlite && !IN_TRANSACTION.get()).then(|| {
                self.0
                    .sqlite_writer
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
            });
            let _inside = Inside::enter();
            let mut conn = self.conn()?;
            let outcome =
                conn.transaction(|c| work(&Db(Open(RefCell::new(c)))).map_err(Abort::Work));
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(Abort::Work(e)) => self.noticed(e.into_repository()?),
                Err(Abort::Database(e)) => self.failed(e),
            };
            match error {
                RepositoryError::Contention(_) if attempt < ATTEMPTS => {
                    std::thread::sleep(Duration::from_millis(5 << attempt));
                    attempt += 1;
                }
                other => return Err(other.into()),
            }
        }
    }
}
