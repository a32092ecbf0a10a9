//! Test support: real databases (a SQLite file, a PostgreSQL schema), the real server
//! on port 0, and the real `gatehouse` binary.

pub mod process;
pub mod proxy;
pub mod smtp;

use diesel::{Connection, PgConnection, RunQueryDsl};
use gatehouse_core::password::HashingParams;
use gatehouse_core::{Clock, ShiftedClock};
use gatehouse_provider::{Application, Config};
use gatehouse_store::{DatabaseUrl, PoolOptions, Store};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tempfile::TempDir;

pub const POSTGRES_VAR: &str = "GATEHOUSE_TEST_POSTGRES_URL";

/// A fresh, migrated-on-demand database that cleans up after itself.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<TempDir>,
    schema: Option<(String, String)>,
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
        Self {
            url,
            _dir: Some(dir),
            schema: None,
        }
    }

    /// A private schema in the CI's PostgreSQL database, or `None` (with a note on
    /// stderr) where no PostgreSQL was given. In CI a missing database is an error.
    pub fn postgres() -> Option<Self> {
        let Ok(base) = std::env::var(POSTGRES_VAR) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{POSTGRES_VAR} must be set in CI: the PostgreSQL suite may not be skipped there"
            );
            eprintln!("SKIPPED: {POSTGRES_VAR} is not set, so this PostgreSQL test did not run");
            return None;
        };
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&base).expect("connect to the test PostgreSQL");
        diesel::sql_query(format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .expect("create schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        Some(Self {
            url,
            _dir: None,
            schema: Some((base, schema)),
        })
    }

    pub fn store(&self) -> Store {
        let url = DatabaseUrl::parse(&self.url).expect("valid url");
        let store = Store::open(&url, &PoolOptions::default()).expect("open store");
        store.migrate().expect("migrate");
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.schema
            && let Ok(mut admin) = PgConnection::establish(base)
        {
            let _ = diesel::sql_query(format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin);
        }
    }
}

/// Cheap argon2 parameters: tests never pay the production cost.
pub fn cheap_hashing() -> HashingParams {
    HashingParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    }
}

/// The configuration every test server starts from.
pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".to_owned();
    config.server.workers = 1;
    config.database.url = database_url.to_owned();
    config.database.acquire_timeout_seconds = 1;
    config.password_hashing = cheap_hashing();
    // Never the default key file: it would land in the source tree.
    config.secrets.key = gatehouse_provider::crypto::MasterKey::generate()
        .expect("master key")
        .1;
    config.keys.reload_interval_seconds = 1;
    // Never the default outbox folder either; tests that read mail pick a temp dir.
    config.mail.transport = gatehouse_provider::config::MailTransportKind::Log;
    config
}

/// The real server on a free port, talking to a real database.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub config: Config,
    /// The server's clock: the wall clock until the test moves it (`advance`), so a
    /// test waits for nothing that the server measures itself.
    pub clock: Arc<ShiftedClock>,
    handle: actix_web::dev::ServerHandle,
    /// Ends (with the server's result) once the server has stopped completely.
    stopped: Option<std::sync::mpsc::Receiver<std::io::Result<()>>>,
    _db: Option<TestDatabase>,
}

impl TestServer {
    pub async fn start(db: TestDatabase) -> Self {
        let config = test_config(&db.url);
        Self::start_with(config, Some(db)).await
    }

    /// The server runs on a thread and runtime of its own, as `gatehouse serve` does,
    /// so stopping it can wait for it whatever the test's runtime is doing.
    pub async fn start_with(config: Config, db: Option<TestDatabase>) -> Self {
        Self::start_on(config, db, Arc::new(ShiftedClock::default())).await
    }

    /// As [`TestServer::start_with`], on `clock` (shared with the test, which moves it).
    pub async fn start_on(
        config: Config,
        db: Option<TestDatabase>,
        clock: Arc<ShiftedClock>,
    ) -> Self {
        // As the server sees it: UI URLs left empty point at the reference UI.
        let config = config.with_ui_defaults();
        let (ready, started) = tokio::sync::oneshot::channel();
        let (done, stopped) = std::sync::mpsc::channel();
        let server_config = config.clone();
        let server_clock: Arc<dyn Clock> = clock.clone();
        std::thread::Builder::new()
            .name("test-server".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    match Application::build_with(server_config, server_clock) {
                        Ok(app) => {
                            let _ = ready.send(Ok((app.port(), app.handle())));
                            let _ = done.send(app.run_until_stopped().await);
                        }
                        Err(e) => drop(ready.send(Err(e))),
                    }
                });
            })
            .expect("server thread");
        let (port, handle) = started
            .await
            .expect("the server thread reports")
            .expect("server starts");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            // Below the server's 5 s keep-alive: a pooled connection the server is
            // closing must never be reused (a test may idle while a command runs).
            .pool_idle_timeout(Duration::from_secs(3))
            .build()
            .expect("http client");
        Self {
            base,
            client,
            config,
            clock,
            handle,
            stopped: Some(stopped),
            _db: db,
        }
    }

    /// Moves the server's clock `seconds` ahead (or back, when negative): what a test
    /// that needs time to pass does instead of sleeping.
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(chrono::TimeDelta::seconds(seconds));
    }

    /// Stops the server at once (open keep-alive connections are not waited for) and
    /// waits until it has stopped completely: its background threads joined and its
    /// database connections closed. Then the test's schema drops without waiting on a
    /// lock, and no server thread is inside libpq when the test process exits.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.stop_and_wait()
    }

    fn stop_and_wait(&mut self) -> std::io::Result<()> {
        let Some(stopped) = self.stopped.take() else {
            return Ok(());
        };
        drop(self.handle.stop(false));
        match stopped.recv_timeout(Duration::from_secs(30)) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(std::io::Error::other(
                "the test server did not stop within 30 s",
            )),
            Err(RecvTimeoutError::Disconnected) => {
                Err(std::io::Error::other("the test server's thread panicked"))
            }
        }
    }

    /// Registers a client straight in the server's database, as `gatehouse clients add` does.
    pub fn register_client(
        &self,
        request: gatehouse_provider::clients::ClientRequest,
    ) -> (gatehouse_core::Client, Option<String>) {
        let secrets =
            gatehouse_provider::crypto::Secrets::load(&self.config.secrets).expect("secrets");
        gatehouse_provider::clients::register(
            &self.store(),
            &secrets.hasher,
            request,
            chrono::Utc::now(),
        )
        .expect("client registers")
    }

    /// A new `client_credentials` client with these scopes: its secret, and an access
    /// token it got from `/token`.
    pub async fn machine_client(&self, id: &str, scopes: &[&str]) -> (String, String) {
        let (_, secret) = self.register_client(gatehouse_provider::clients::ClientRequest {
            id: Some(id.to_owned()),
            name: id.to_owned(),
            grant_types: vec![gatehouse_core::GrantType::ClientCredentials],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..gatehouse_provider::clients::ClientRequest::default()
        });
        let secret = secret.expect("a confidential client's secret");
        let token = client_credentials_token(&self.client, &self.base, id, &secret).await;
        (secret, token)
    }

    /// As the relying party: the code from a finished login's answer (its `redirect_to`)
    /// exchanged at /token with the client's secret and the PKCE verifier; the tokens.
    pub async fn redeem_login(
        &self,
        done: &serde_json::Value,
        client: (&str, &str),
        redirect_uri: &str,
        verifier: &str,
    ) -> serde_json::Value {
        let back = url::Url::parse(done["redirect_to"].as_str().expect("redirect_to"))
            .expect("redirect_to is a URL");
        let code = back
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code");
        let (id, secret) = client;
        let res = self
            .client
            .post(self.url("/token"))
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .expect("token");
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        res.json().await.expect("json")
    }

    /// An account straight in the database, with a password hashed as the server would.
    pub fn create_account(
        &self,
        email: &str,
        password: Option<&str>,
        status: gatehouse_core::AccountStatus,
    ) -> gatehouse_core::Account {
        use gatehouse_core::ports::AccountRepository;
        let mut account = gatehouse_core::Account::new(
            gatehouse_core::Subject::generate(),
            Some(gatehouse_core::Email::parse(email).expect("email")),
            status,
            chrono::Utc::now(),
        );
        account.email_verified = true;
        let hasher =
            gatehouse_core::PasswordHasher::new(&self.config.password_hashing).expect("hasher");
        account.password_hash = password.map(|p| hasher.hash(p).expect("hash"));
        self.store()
            .insert_account(&account)
            .expect("insert account");
        account
    }

    pub fn store(&self) -> Store {
        let url = DatabaseUrl::parse(&self.config.database.url).expect("url");
        Store::open(&url, &PoolOptions::default()).expect("store")
    }

    /// A browser: keeps cookies, does not follow redirects.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            // Below the server's 5 s keep-alive: a pooled connection the server is
            // closing must never be reused (a test may idle while a command runs).
            .pool_idle_timeout(Duration::from_secs(3))
            .build()
            .expect("browser")
    }

    /// Runs `sql` straight on the server's database, whichever backend: the rows
    /// changed. For what only time would do otherwise (ageing a row).
    pub fn execute_sql(&self, sql: &str) -> usize {
        let url = &self.config.database.url;
        if url.starts_with("postgres") {
            let mut conn = PgConnection::establish(url).expect("postgres");
            diesel::sql_query(sql).execute(&mut conn).expect(sql)
        } else {
            let path = url.trim_start_matches("sqlite://");
            let mut conn = diesel::SqliteConnection::establish(path).expect("sqlite");
            diesel::sql_query(sql).execute(&mut conn).expect(sql)
        }
    }

    /// `SELECT COUNT(*) AS n …` straight on the server's database, whichever backend.
    pub fn count_sql(&self, sql: &str) -> i64 {
        count_rows(&self.config.database.url, sql)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_wait() {
            eprintln!("stopping the test server: {e}");
        }
    }
}

/// An access token from `/token` at `base` for a `client_credentials` client.
pub async fn client_credentials_token(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    secret: &str,
) -> String {
    let tokens: serde_json::Value = http
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {tokens}"))
        .to_owned()
}

/// `SELECT COUNT(*) AS n …` on the database at `url`, whichever backend.
pub fn count_rows(url: &str, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<Count> = if url.starts_with("postgres") {
        let mut conn = PgConnection::establish(url).expect("postgres");
        diesel::sql_query(sql).load(&mut conn).expect(sql)
    } else {
        let path = url.trim_start_matches("sqlite://");
        let mut conn = diesel::SqliteConnection::establish(path).expect("sqlite");
        diesel::sql_query(sql).load(&mut conn).expect(sql)
    };
    rows.first().map_or(0, |r| r.n)
}

/// How many of `answers` came back with each status.
pub fn tally(answers: &[reqwest::Response]) -> std::collections::BTreeMap<u16, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for answer in answers {
        *counts.entry(answer.status().as_u16()).or_default() += 1;
    }
    counts
}

/// The workspace root, to read committed files.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The `gatehouse` binary, built (or brought up to date) once per test process.
pub fn gatehouse_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "gatehouse", "--bin", "gatehouse"])
            .current_dir(workspace_root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p gatehouse failed");
        // target/<profile>/deps/integration-… → target/<profile>/gatehouse
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        profile_dir.join(format!("gatehouse{}", std::env::consts::EXE_SUFFIX))
    })
}

/// A `gatehouse` command with a clean environment: no GATEHOUSE_* from the caller.
pub fn gatehouse(dir: &Path) -> Command {
    let mut cmd = Command::new(gatehouse_bin());
    cmd.current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("GATEHOUSE_") {
            cmd.env_remove(name);
        }
    }
    cmd
}
