//! The connection pool: one enum over both backends, opened by URL scheme.

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::{Connection, ConnectionError, PgConnection, RunQueryDsl, SqliteConnection};
use gatehouse_core::ports::RepositoryError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{StoreError, one_line};
use crate::migrations::Migrations;
use crate::url::{Backend, DatabaseUrl};

/// A connection to either backend; queries written once run on both.
#[allow(missing_debug_implementations)]
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Set on every SQLite connection: integrity, concurrent readers beside one writer,
/// and waiting (rather than failing) while another connection writes.
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 5000;";

pub(crate) struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    fn open(&self) -> Result<DbConnection, ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                PgConnection::establish(url).map(DbConnection::Postgresql)
            }
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        conn.ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Pool sizing and waiting.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    pub max_connections: u32,
    /// How long a request waits for a free connection (and the first connect).
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The store: a pool of connections to one database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool<Manager>,
    backend: Backend,
    /// SQLite's turn to write (see `Store::transaction`).
    pub(crate) sqlite_writer: Arc<Mutex<()>>,
    /// Counts this store's clones, so a shutdown can wait for the others to go.
    clones: Arc<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Opens the database (creating a SQLite file and its folder when missing) and
    /// fails at once, with the driver's reason, when it cannot be reached.
    pub fn open(url: &DatabaseUrl, options: &PoolOptions) -> Result<Self, StoreError> {
        let connect_error = |reason: String| StoreError::Connect {
            backend: url.backend(),
            url: url.redacted(),
            reason,
        };
        if let DatabaseUrl::Sqlite(path) = url
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| connect_error(e.to_string()))?;
        }
        let manager = Manager { url: url.clone() };
        // One direct attempt first: r2d2 would only report "timed out" after retrying.
        manager
            .open()
            .map_err(|e| connect_error(one_line(&e.to_string())))?;
        let pool = Pool::builder()
            .max_size(options.max_connections.max(1))
            .min_idle(Some(0))
            .connection_timeout(options.acquire_timeout)
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| connect_error(one_line(&e.to_string())))?;
        Ok(Self {
            pool,
            backend: url.backend(),
            sqlite_writer: Arc::default(),
            clones: Arc::default(),
        })
    }

    /// Waits, up to `timeout`, until every other clone of this store has been dropped,
    /// so that dropping this one closes the pool's connections on the caller's thread.
    /// A process must not exit while another thread is still inside libpq: its TLS
    /// teardown races OpenSSL's exit handlers and crashes. Returns whether they went.
    pub fn wait_until_last(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Arc::strong_count(&self.clones) > 1 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns the names applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| StoreError::Migration(one_line(&e.to_string())))?;
        Migrations::run(&mut conn)
    }

    /// A round trip to the database, for readiness checks.
    pub fn ping(&self) -> Result<(), RepositoryError> {
        let mut conn = self.conn()?;
        diesel::sql_query("SELECT 1")
            .execute(&mut *conn)
            .map(|_| ())
            .map_err(crate::error::db_error)
    }

    pub(crate) fn conn(&self) -> Result<PooledConnection<Manager>, RepositoryError> {
        self.pool
            .get()
            .map_err(|e: r2d2::PoolError| RepositoryError::Unavailable(one_line(&e.to_string())))
    }
}
