//! The connection pool: one enum over both backends, opened by URL scheme.

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::{Connection, ConnectionError, PgConnection, RunQueryDsl, SqliteConnection};
use gatehouse_core::ports::RepositoryError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{StoreError, one_line};
use crate::url::{Backend, DatabaseUrl};

/// Runs a query on the backend's own connection (`$c` is a `PgConnection` or a
/// `SqliteConnection`): the query is built once, by that backend, and found in its
/// statement cache by type. Every query goes through it (the crate's doc says why).
macro_rules! natively {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            crate::connection::DbConnection::Postgresql($c) => $body,
            crate::connection::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use natively;

/// A connection to either backend; queries written once run on both.
#[allow(missing_debug_implementations)]
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Set on every SQLite connection: integrity, concurrent readers beside one writer,
/// waiting (rather than failing) while another connection writes, and a page cache of
/// 512 KiB instead of 2 MiB: each pooled connection has its own, the hot pages are in
/// the OS's cache anyway, and eight of SQLite's default would hold 16 MiB.
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 5000; \
     PRAGMA cache_size = -512;";

/// How long after a database failure connections are checked before use.
const SUSPECT_FOR: Duration = Duration::from_secs(30);
/// libpq's wait for a new connection, unless the URL sets `connect_timeout` itself:
/// without one, a connect to a database whose packets vanish waits for TCP to give up
/// (minutes), and the pool's few connecting threads with it.
const PG_CONNECT_TIMEOUT_SECONDS: u32 = 5;

/// The pool's view of the database's health. After a failure (a database restart
/// kills every pooled connection at once) each connection is pinged as it is checked
/// out, so the dead ones are thrown away and replaced before a request gets them; in
/// normal times no ping is spent.
#[derive(Debug, Default)]
pub(crate) struct Health {
    last_failure: Mutex<Option<Instant>>,
}

impl Health {
    pub(crate) fn failed(&self) {
        *self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    fn suspect(&self) -> bool {
        self.last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < SUSPECT_FOR)
    }
}

pub(crate) struct Manager {
    url: DatabaseUrl,
    health: Arc<Health>,
    work: Arc<Work>,
}

/// Statements and commits run on a store's connections, for `/metrics`: two relaxed
/// atomic adds per statement, nothing beside a round trip to the database.
#[derive(Debug, Default)]
struct Work {
    statements: AtomicU64,
    commits: AtomicU64,
}

/// Counts what one connection runs into the store's [`Work`].
struct Counting(Arc<Work>);

impl diesel::connection::Instrumentation for Counting {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent;
        match event {
            // `BEGIN` and `COMMIT` are statements too.
            InstrumentationEvent::StartQuery { .. } => {
                self.0.statements.fetch_add(1, Ordering::Relaxed);
            }
            // The outermost transaction only: a deeper one releases a savepoint.
            InstrumentationEvent::CommitTransaction { depth, .. } if depth.get() == 1 => {
                self.0.commits.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// `url` with libpq's `connect_timeout` set, unless it sets one.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={PG_CONNECT_TIMEOUT_SECONDS}")
}

impl Manager {
    fn open(&self) -> Result<DbConnection, ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(&with_connect_timeout(url))?;
                conn.set_instrumentation(Counting(self.work.clone()));
                Ok(DbConnection::Postgresql(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                conn.set_instrumentation(Counting(self.work.clone()));
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

    /// Runs as each connection is checked out: a ping only while the database is
    /// suspect (a dead connection is then discarded and another one handed out).
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        if !self.health.suspect() {
            return Ok(());
        }
        conn.ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

#[derive(Debug, Default)]
struct Waits {
    checkouts: AtomicU64,
    micros: AtomicU64,
}

/// The connection pool's figures (`Store::pool_stats`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    pub connections: u32,
    pub idle: u32,
    /// Connections taken from the pool since it opened.
    pub checkouts: u64,
    /// Time those checkouts waited, in all.
    pub waited: Duration,
    /// Statements run since the pool opened (`BEGIN` and `COMMIT` included).
    pub statements: u64,
    /// Transactions committed since the pool opened.
    pub commits: u64,
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

/// Where a repository's queries run: the pool (a [`Store`]) or an open transaction
/// (a [`crate::Tx`]). Each repository trait of the core is implemented once, for
/// every `Db<C>` that is [`crate::Connected`].
#[derive(Clone, Debug)]
pub struct Db<C>(pub(crate) C);

/// The store: a pool of connections to one database. Cheap to clone.
pub type Store = Db<Pooled>;

/// The pool behind a [`Store`].
#[derive(Clone)]
pub struct Pooled {
    pub(crate) pool: Pool<Manager>,
    /// Shared with the pool's manager: failures seen by queries make it check.
    health: Arc<Health>,
    /// Checkouts and the time they waited, for `/metrics`.
    waits: Arc<Waits>,
    /// Statements and commits, for `/metrics`.
    work: Arc<Work>,
    backend: Backend,
    /// SQLite's turn to write (see `Store::transaction`).
    pub(crate) sqlite_writer: Arc<Mutex<()>>,
    /// Counts this store's clones, so a shutdown can wait for the others to go.
    clones: Arc<()>,
}

impl std::fmt::Debug for Pooled {
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
        let health = Arc::new(Health::default());
        let work = Arc::new(Work::default());
        let manager = Manager {
            url: url.clone(),
            health: health.clone(),
            work: work.clone(),
        };
        // One direct attempt first: r2d2 would only report "timed out" after retrying.
        manager
            .open()
            .map_err(|e| connect_error(one_line(&e.to_string())))?;
        let pool = Pool::builder()
            .max_size(options.max_connections.max(1))
            .min_idle(Some(0))
            .connection_timeout(options.acquire_timeout)
            // `Manager::is_valid` pings only while the database is suspect.
            .test_on_check_out(true)
            .build(manager)
            .map_err(|e| connect_error(one_line(&e.to_string())))?;
        Ok(Db(Pooled {
            pool,
            health,
            waits: Arc::default(),
            work,
            backend: url.backend(),
            sqlite_writer: Arc::default(),
            clones: Arc::default(),
        }))
    }

    /// Waits, up to `timeout`, until every other clone of this store has been dropped,
    /// so that dropping this one closes the pool's connections on the caller's thread.
    /// A process must not exit while another thread is still inside libpq: its TLS
    /// teardown races OpenSSL's exit handlers and crashes. Returns whether they went.
    pub fn wait_until_last(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Arc::strong_count(&self.0.clones) > 1 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    pub fn backend(&self) -> Backend {
        self.0.backend
    }

    /// A round trip to the database.
    pub fn ping(&self) -> Result<(), RepositoryError> {
        self.ping_within(self.0.pool.connection_timeout())
    }

    /// A round trip to the database, waiting at most `timeout` for a connection (a
    /// readiness probe must answer promptly while the database is away).
    pub fn ping_within(&self, timeout: Duration) -> Result<(), RepositoryError> {
        let mut conn = self
            .0
            .pool
            .get_timeout(timeout)
            .map_err(|e| RepositoryError::Unavailable(one_line(&e.to_string())))?;
        natively!(&mut *conn, |c| diesel::sql_query("SELECT 1").execute(c))
            .map(|_| ())
            .map_err(|e| self.failed(e))
    }

    pub(crate) fn conn(&self) -> Result<PooledConnection<Manager>, RepositoryError> {
        let started = Instant::now();
        let conn = self.0.pool.get();
        self.0.waits.checkouts.fetch_add(1, Ordering::Relaxed);
        let waited = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.0.waits.micros.fetch_add(waited, Ordering::Relaxed);
        conn.map_err(|e: r2d2::PoolError| {
            self.0.health.failed();
            RepositoryError::Unavailable(one_line(&e.to_string()))
        })
    }

    /// The pool as it is now, and what checking out has cost so far.
    pub fn pool_stats(&self) -> PoolStats {
        let state = self.0.pool.state();
        PoolStats {
            connections: state.connections,
            idle: state.idle_connections,
            checkouts: self.0.waits.checkouts.load(Ordering::Relaxed),
            waited: Duration::from_micros(self.0.waits.micros.load(Ordering::Relaxed)),
            statements: self.0.work.statements.load(Ordering::Relaxed),
            commits: self.0.work.commits.load(Ordering::Relaxed),
        }
    }

    /// The port's error for a failed query; a failure that is not the query's own
    /// (the connection or the database went away) puts the pool on its guard.
    pub(crate) fn failed(&self, error: diesel::result::Error) -> RepositoryError {
        self.noticed(crate::error::db_error(error))
    }

    /// Notes a failure already mapped (see `failed`); returns it.
    pub(crate) fn noticed(&self, error: RepositoryError) -> RepositoryError {
        if matches!(error, RepositoryError::Unavailable(_)) {
            self.0.health.failed();
        }
        error
    }
}
