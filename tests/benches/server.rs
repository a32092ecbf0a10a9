//! The release server as a separate process, loaded from loopback with `wrk` (16
//! connections): discovery, JWKS, `client_credentials`, introspection and refresh
//! (each connection follows its own rotating chain); then full password + e-mail-OTP
//! logins at production argon2 cost, 200 in flight at all times and counted over a
//! window of steady load, beside the standalone argon2 rate measured in the same run;
//! and the server's peak resident memory.

use gatehouse_core::SigningAlg;
use gatehouse_core::password::HashingParams;
use gatehouse_core::ports::AccountRepository;
use gatehouse_core::{Account, AccountStatus, Email, PasswordHasher, Subject};
use gatehouse_provider::crypto::{MasterKey, SigningKey};
use gatehouse_store::{DatabaseUrl, PoolOptions, Store};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const PASSWORD: &str = "Correct-Horse#42";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mJ0AarWhfKCbU0FoNtgqX4fvyFK29w";
const CHALLENGE: &str = "sudwJ2WjmNyx0v9qmeo7WlWTUyMYPS2aFMkHWKXwQOQ";
pub(crate) const REDIRECT: &str = "https://rp.example.com/cb";
/// Logins in flight at once.
const CONCURRENT_LOGINS: usize = 200;
/// Accounts made for the logins (each login takes one not used before).
const ACCOUNTS: usize = 1500;
/// All logins under way before the count starts…
const LOGIN_WARMUP: Duration = Duration::from_secs(2);
/// …and counted over this long.
const LOGIN_WINDOW: Duration = Duration::from_secs(5);

pub(crate) struct Server {
    child: Child,
    /// `127.0.0.1:<port>`
    pub(crate) host: String,
    base: String,
    pub(crate) dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    bin: PathBuf,
    pub(crate) database_url: String,
    /// The PostgreSQL database made for this server (dropped with it): the admin URL
    /// and the database's name.
    postgres: Option<(String, String)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((admin, name)) = &self.postgres {
            drop_postgres(admin, name);
        }
    }
}

/// Where a bench server keeps its data, and how it hashes passwords.
pub(crate) struct Setup {
    /// A PostgreSQL URL: the bench makes a database of its own beside it (and drops it
    /// afterwards); `None`: SQLite in the server's folder.
    pub(crate) postgres: Option<String>,
    pub(crate) hashing: HashingParams,
}

impl Setup {
    pub(crate) fn backend(&self) -> &'static str {
        if self.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }
}

/// The bench's own PostgreSQL database, `gatehouse_bench`, beside the one `admin` names,
/// made afresh (a stale one from an interrupted run is dropped); returns its URL.
fn fresh_postgres(admin: &str, name: &str) -> String {
    use diesel::{Connection, RunQueryDsl};
    let mut conn = diesel::PgConnection::establish(admin).expect("PostgreSQL");
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .expect("drop database");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .expect("create database");
    let mut url = url::Url::parse(admin).expect("PostgreSQL URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn drop_postgres(admin: &str, name: &str) {
    use diesel::{Connection, RunQueryDsl};
    if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn);
    }
}

impl Server {
    fn gatehouse(&self, args: &[&str]) -> Value {
        let output = Command::new(&self.bin)
            .args(args)
            .env_remove(BENCH_POSTGRES)
            .env_remove(BENCH_BIN)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(self.dir.path())
            .output()
            .expect("run gatehouse");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("json")
    }

    /// Memory fields of the server process's `/proc/<pid>/status`, in KiB (0 where
    /// one cannot be read).
    fn status_kib<const N: usize>(&self, names: [&str; N]) -> [u64; N] {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        names.map(|name| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        })
    }

    /// Peak resident set of the server process (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let [peak] = self.status_kib(["VmHWM"]);
        peak
    }

    /// The server's resident memory now, in KiB: anonymous (its heap, stacks and
    /// argon2's working memory) and file-backed (the pages of the binary and libraries
    /// it has touched, which the kernel can drop and read again).
    fn rss_kib(&self) -> (u64, u64) {
        let [anon, file] = self.status_kib(["RssAnon", "RssFile"]);
        (anon, file)
    }

    /// CPU time the server's threads have used so far, by thread name (argon2
    /// hashing, HTTP workers, the blocking pool, the mail worker…).
    fn cpu_used(&self) -> CpuTime {
        cpu_time_by_thread(&format!("/proc/{}/task", self.child.id()))
    }

    /// The first-party confidential client `portal` (code flow to `REDIRECT`); returns
    /// its secret.
    pub(crate) fn add_portal(&self) -> String {
        let portal = self.gatehouse(&[
            "clients",
            "add",
            "--id",
            "portal",
            "--name",
            "Bench portal",
            "--redirect-uri",
            REDIRECT,
            // No consent step: the logins measured are the provider's own.
            "--first-party",
        ]);
        portal["client_secret"].as_str().expect("secret").to_owned()
    }

    /// Active accounts `user0@example.com`… with the password hash `hash`: each its own
    /// salt would cost a hash each here, and one hash is as slow to verify.
    pub(crate) fn add_accounts(&self, n: usize, hash: &str) {
        let store = self.store();
        for i in 0..n {
            let mut account = Account::new(
                Subject::generate(),
                Some(Email::parse(&format!("user{i}@example.com")).expect("email")),
                AccountStatus::Active,
                chrono::Utc::now(),
            );
            account.password_hash = Some(hash.to_owned());
            store.insert_account(&account).expect("account");
        }
    }

    fn store(&self) -> Store {
        let url = DatabaseUrl::parse(&self.database_url).expect("url");
        Store::open(&url, &PoolOptions::default()).expect("store")
    }
}

/// CPU time in microseconds, by thread name.
type CpuTime = std::collections::BTreeMap<String, u64>;

/// CPU time of every thread under `/proc/<pid>/task`, summed by name: the scheduler's
/// own count (`se.sum_exec_runtime` in `sched`, to the microsecond) where the kernel
/// shows it, else user + system clock ticks from `stat` (10 ms each).
fn cpu_time_by_thread(tasks: &str) -> CpuTime {
    let mut by_name = CpuTime::new();
    for task in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state …`: comm may hold spaces, so split after its ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map_or("?", |(_, n)| n);
        let runtime_ms = std::fs::read_to_string(task.path().join("sched"))
            .ok()
            .and_then(|sched| {
                sched
                    .lines()
                    .find_map(|l| l.strip_prefix("se.sum_exec_runtime"))
                    .and_then(|l| l.trim_start_matches([' ', ':']).trim().parse::<f64>().ok())
            });
        let micros = match runtime_ms {
            Some(ms) => (ms * 1000.0) as u64,
            None => {
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let ticks: u64 = fields
                    .get(11..13)
                    .map_or(0, |t| t.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
                ticks * 10_000
            }
        };
        *by_name.entry(name.to_owned()).or_default() += micros;
    }
    by_name
}

/// What each thread name used between two readings. (Threads that ended in between take
/// their time with them: a name's count never goes below zero.)
fn spent<'a>(before: &'a CpuTime, after: &'a CpuTime) -> impl Iterator<Item = (&'a String, u64)> {
    after.iter().map(|(name, t)| {
        (
            name,
            t.saturating_sub(before.get(name).copied().unwrap_or(0)),
        )
    })
}

/// What each thread name used between two readings, in ms, largest first.
fn cpu_spent(before: &CpuTime, after: &CpuTime) -> String {
    let mut used: Vec<(&String, u64)> = spent(before, after).filter(|(_, t)| *t >= 500).collect();
    used.sort_by_key(|(_, micros)| std::cmp::Reverse(*micros));
    used.iter()
        .map(|(name, t)| format!("{name} {:.0}", *t as f64 / 1000.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Microseconds used between two readings by the threads whose name starts with `prefix`.
fn micros_used(before: &CpuTime, after: &CpuTime, prefix: &str) -> u64 {
    spent(before, after)
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(_, t)| t)
        .sum()
}

/// CPU time all of this machine's PostgreSQL processes have used so far, in
/// microseconds: on one machine, the database's work takes from the cores the hashing
/// could have had.
fn postgres_micros() -> u64 {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|p| {
            std::fs::read_to_string(p.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|p| {
            cpu_time_by_thread(&p.path().join("task").to_string_lossy())
                .values()
                .sum::<u64>()
        })
        .sum()
}

/// CPU time the hypervisor gave to other guests (the `steal` column of /proc/stat), in
/// clock ticks summed over all cores: what the machine took away during a measurement.
fn stolen_ticks() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| {
            stat.lines()
                .next()
                .and_then(|cpu| cpu.split_whitespace().nth(8))
                .and_then(|steal| steal.parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The PostgreSQL server the benches use besides SQLite, when set (the server would
/// refuse it as an unknown `GATEHOUSE_*` variable: it is not passed on).
pub(crate) const BENCH_POSTGRES: &str = "GATEHOUSE_BENCH_POSTGRES_URL";

pub(crate) fn bench_postgres() -> Option<String> {
    std::env::var(BENCH_POSTGRES).ok().filter(|u| !u.is_empty())
}

/// Another build of the server to bench instead of this tree's (an older commit's, to
/// set before and after side by side); not passed on to the server either.
const BENCH_BIN: &str = "GATEHOUSE_BENCH_BIN";

/// The release binary, when built (or the one `GATEHOUSE_BENCH_BIN` names).
pub(crate) fn release_binary() -> Option<PathBuf> {
    let bin = std::env::var_os(BENCH_BIN)
        .filter(|b| !b.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/gatehouse")
        });
    if bin.exists() {
        Some(bin)
    } else {
        println!(
            "server benches: skipped ({} not built; `make bench` builds it)",
            bin.display()
        );
        None
    }
}

pub(crate) fn start(bin: &Path, setup: &Setup) -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let postgres = setup
        .postgres
        .as_ref()
        .map(|admin| (admin.clone(), "gatehouse_bench".to_owned()));
    let database_url = match &postgres {
        Some((admin, name)) => fresh_postgres(admin, name),
        None => format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
    };
    let env: Vec<(String, String)> = [
        ("GATEHOUSE_BIND", format!("127.0.0.1:{port}")),
        ("GATEHOUSE_DATABASE_URL", database_url.clone()),
        (
            "GATEHOUSE_PASSWORD_HASHING_MEMORY_KIB",
            setup.hashing.memory_kib.to_string(),
        ),
        (
            "GATEHOUSE_PASSWORD_HASHING_ITERATIONS",
            setup.hashing.iterations.to_string(),
        ),
        (
            "GATEHOUSE_SECRETS_KEY",
            MasterKey::generate().expect("key").1,
        ),
        ("GATEHOUSE_MAIL_TRANSPORT", "file".to_owned()),
        (
            "GATEHOUSE_MAIL_FILE_DIR",
            dir.path().join("outbox").display().to_string(),
        ),
        ("GATEHOUSE_MAIL_POLL_INTERVAL_SECONDS", "1".to_owned()),
        ("GATEHOUSE_MAIL_BATCH_SIZE", "200".to_owned()),
        ("GATEHOUSE_LOGGING_LEVEL", "warn".to_owned()),
        ("GATEHOUSE_LOGIN_PASSWORD_QUEUE", "1000".to_owned()),
        // Every bench login comes from 127.0.0.1, and the address's budget counts a
        // password from its admission until it proves right: 200 at once would pass it.
        (
            "GATEHOUSE_BRUTE_FORCE_ADDRESS_FAILURES",
            "100000".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let child = Command::new(bin)
        .arg("serve")
        .env_remove(BENCH_POSTGRES)
        .env_remove(BENCH_BIN)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the release server");
    let host = format!("127.0.0.1:{port}");
    let server = Server {
        child,
        base: format!("http://{host}"),
        host,
        dir,
        env,
        bin: bin.to_owned(),
        database_url,
        postgres,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not start");
}

/// Requests/s and p99 from wrk's report, 16 connections on two threads; the rate is
/// returned for figures set beside it.
fn wrk(label: &str, url: &str, script: Option<&Path>) -> Option<f64> {
    wrk_on_threads(label, url, script, 2)
}

/// The same on `threads` wrk threads (a script that keeps one token chain per
/// connection needs a thread per connection).
fn wrk_on_threads(label: &str, url: &str, script: Option<&Path>, threads: u32) -> Option<f64> {
    let mut cmd = Command::new("wrk");
    cmd.arg(format!("-t{threads}"))
        .args(["-c16", "-d8s", "--latency"]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let output = cmd.arg(url).output().expect("wrk (make bench installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .map(str::trim)
        .unwrap_or("?");
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(str::trim)
        .unwrap_or("?");
    let non_2xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .map(str::trim)
        .unwrap_or("0");
    println!("wrk c=16 {label:<28} {rate:>10} req/s   p99 {p99:>9}   non-2xx {non_2xx}");
    rate.parse().ok()
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write wrk script");
    path
}

pub(crate) fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// ES256 signatures per second over an access token's signing input, one thread per
/// core: what `client_credentials` could reach if signing were all it did.
fn standalone_es256_per_second() -> f64 {
    let (key, _) = SigningKey::generate(SigningAlg::Es256).expect("key");
    let input = [b'x'; 400];
    let run_for = Duration::from_secs(3);
    let started = Instant::now();
    let signed: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..cores())
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0u64;
                    while started.elapsed() < run_for {
                        std::hint::black_box(key.sign_bytes(&input).expect("sign"));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("thread")).sum()
    });
    signed as f64 / started.elapsed().as_secs_f64()
}

/// The standalone argon2 rate with one hashing thread per core, as the server runs them.
fn standalone_argon2_per_second() -> f64 {
    let cores = cores();
    let hasher = PasswordHasher::new(&HashingParams::default()).expect("hasher");
    let stored = hasher.hash(PASSWORD).expect("hash");
    let per_thread = 40;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    std::hint::black_box(hasher.verify(PASSWORD, &stored));
                }
            });
        }
    });
    (cores * per_thread) as f64 / started.elapsed().as_secs_f64()
}

/// Codes mailed so far, by recipient, and a counter bumped whenever one arrives: one
/// scanner reads each new `.eml` once, and the logins wait on the counter instead of
/// polling, so the load generator takes as little of the two cores as it can.
#[derive(Clone)]
pub(crate) struct Mailbox {
    codes: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    arrived: tokio::sync::watch::Sender<u64>,
}

impl Mailbox {
    pub(crate) fn new() -> Self {
        Self {
            codes: std::sync::Arc::default(),
            arrived: tokio::sync::watch::channel(0).0,
        }
    }

    /// The code mailed to `to`, taken out of the box.
    fn take_code_for(&self, to: &str) -> Option<String> {
        self.codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(to)
    }
}

/// Reads each mail the file transport finished (it writes `.<id>.eml.partial` and
/// renames it to `<id>.eml`) and deletes it, so every scan reads only new mail.
pub(crate) async fn scan_mail(
    dir: PathBuf,
    mailbox: Mailbox,
    stop: tokio::sync::watch::Receiver<bool>,
    every: Duration,
) {
    while !*stop.borrow() {
        let mut found = 0;
        let finished = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"));
        for path in finished {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let _ = std::fs::remove_file(&path);
            let to = text.lines().find_map(|l| l.strip_prefix("To: "));
            let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
            let code = body
                .lines()
                .map(str::trim)
                .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()));
            if let (Some(to), Some(code)) = (to, code) {
                mailbox
                    .codes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(to.to_owned(), code.to_owned());
                found += 1;
            }
        }
        if found > 0 {
            mailbox.arrived.send_modify(|n| *n += found);
        }
        tokio::time::sleep(every).await;
    }
}

async fn mailed_code(mailbox: &Mailbox, to: &str) -> Option<String> {
    let mut arrivals = mailbox.arrived.subscribe();
    let wait = async {
        loop {
            if let Some(code) = mailbox.take_code_for(to) {
                return Some(code);
            }
            arrivals.changed().await.ok()?;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .ok()
        .flatten()
}

type Connection = hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>;

/// A browser for one login, as lean as the load generator can make it (it shares the
/// two cores with the server): one keep-alive HTTP/1.1 connection, opened for the
/// login as a browser opens one, and its cookies kept by hand.
pub(crate) struct Browser {
    connection: Connection,
    host: String,
    /// `name=value` of each cookie the server set.
    cookies: Vec<String>,
}

impl Browser {
    pub(crate) async fn open(host: &str) -> Option<Self> {
        Some(Self {
            connection: Self::connect(host).await?,
            host: host.to_owned(),
            cookies: vec![],
        })
    }

    async fn connect(host: &str) -> Option<Connection> {
        let stream = tokio::net::TcpStream::connect(host).await.ok()?;
        stream.set_nodelay(true).ok()?;
        let (connection, driver) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .ok()?;
        // Ends when the browser (the sending half) is dropped.
        tokio::spawn(driver);
        Some(connection)
    }

    /// Sends a request (a JSON body when there is one) and returns the status, the
    /// `Location` header and the body, keeping what `Set-Cookie` says.
    pub(crate) async fn send(
        &mut self,
        method: &str,
        path: &str,
        json: Option<&Value>,
    ) -> Option<(u16, Option<String>, hyper::body::Bytes)> {
        let body = match json {
            Some(json) => Some(("application/json", serde_json::to_vec(json).ok()?)),
            None => None,
        };
        self.send_raw(method, path, body, None).await
    }

    /// Sends a request with a body of any type (`(content type, bytes)`) and an
    /// `Authorization` header when given: the client's own requests (`/token`,
    /// `/userinfo`) go through it.
    pub(crate) async fn send_raw(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        authorization: Option<&str>,
    ) -> Option<(u16, Option<String>, hyper::body::Bytes)> {
        use http_body_util::BodyExt;
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        if !self.cookies.is_empty() {
            request = request.header("cookie", self.cookies.join("; "));
        }
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header("content-type", content_type);
                bytes
            }
            None => vec![],
        };
        // The last answer may still be finishing; a connection the server closed (it
        // keeps an idle one for seconds) is opened again, as a browser would.
        if self.connection.ready().await.is_err() {
            self.connection = Self::connect(&self.host).await?;
        }
        let response = self
            .connection
            .send_request(request.body(body.into()).ok()?)
            .await
            .ok()?;
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().ok()?.split(';').next()?.trim().to_owned();
            let name = pair.split('=').next()?.to_owned();
            self.cookies.retain(|c| c.split('=').next() != Some(&name));
            self.cookies.push(pair);
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, location, body))
    }
}

/// Told as each step of a login is done (the flow bench times them).
pub(crate) trait LoginSteps {
    async fn done(&mut self, step: &'static str);
}

/// Untimed.
impl LoginSteps for () {
    async fn done(&mut self, _: &'static str) {}
}

/// One whole login as browser + login UI; returns the authorization code.
pub(crate) async fn login(
    host: &str,
    mailbox: &Mailbox,
    email: &str,
    steps: &mut impl LoginSteps,
) -> Option<String> {
    let mut browser = Browser::open(host).await?;
    let query = format!(
        "response_type=code&client_id=portal&redirect_uri={}&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256",
        "https%3A%2F%2Frp.example.com%2Fcb"
    );
    let (_, location, _) = browser
        .send("GET", &format!("/authorize?{query}"), None)
        .await?;
    let challenge = location?.split("login_challenge=").nth(1)?.to_owned();
    steps.done("authorize").await;
    let api = format!("/api/v1/login/{challenge}");
    let credentials = serde_json::json!({"identifier": email, "password": PASSWORD});
    let (status, _, _) = browser
        .send("POST", &format!("{api}/password"), Some(&credentials))
        .await?;
    if status != 200 {
        return None;
    }
    steps.done("password").await;
    browser
        .send(
            "POST",
            &format!("{api}/factors/email/challenge"),
            Some(&serde_json::json!({})),
        )
        .await?;
    steps.done("challenge").await;
    let code = mailed_code(mailbox, email).await?;
    steps.done("mail").await;
    let (_, _, body) = browser
        .send(
            "POST",
            &format!("{api}/factors/email/verify"),
            Some(&serde_json::json!({"kind": "email_otp", "code": code})),
        )
        .await?;
    let done: Value = serde_json::from_slice(&body).ok()?;
    let redirect = done["redirect_to"].as_str()?;
    let code = redirect.split("code=").nth(1)?.split('&').next()?;
    steps.done("verify").await;
    Some(code.to_owned())
}

/// What the steady login phase saw.
struct SteadyLogins {
    /// Logins that finished inside the window.
    in_window: usize,
    failed: usize,
    /// Authorization codes of every finished login, for the refresh run.
    codes: Vec<String>,
    /// CPU time at the window's start and end.
    server_cpu: (CpuTime, CpuTime),
    client_cpu: (CpuTime, CpuTime),
    stolen: u64,
    /// CPU time PostgreSQL's processes used in the window (0 on SQLite).
    database_micros: u64,
}

/// `CONCURRENT_LOGINS` browsers, each logging in again as soon as it is done, until
/// the window closes; each login on an account not used before (the e-mail code has a
/// send limit per account).
async fn steady_logins(server: &Server, outbox: PathBuf) -> SteadyLogins {
    let mailbox = Mailbox::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Logins wait seconds for their hash: a 40 ms scan delays none of them much, and
    // scanning less often keeps the load generator off the server's cores.
    let scanner = tokio::spawn(scan_mail(
        outbox,
        mailbox.clone(),
        stopped,
        Duration::from_millis(40),
    ));
    let next_account = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = tokio::time::Instant::now();
    let (window_start, window_end) = (
        started + LOGIN_WARMUP,
        started + LOGIN_WARMUP + LOGIN_WINDOW,
    );
    let mut browsers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENT_LOGINS {
        let (host, mailbox, next_account) =
            (server.host.clone(), mailbox.clone(), next_account.clone());
        browsers.spawn(async move {
            let mut finished = vec![];
            while tokio::time::Instant::now() < window_end {
                let n = next_account.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= ACCOUNTS {
                    break;
                }
                let code = login(&host, &mailbox, &format!("user{n}@example.com"), &mut ()).await;
                finished.push((tokio::time::Instant::now(), code));
            }
            finished
        });
    }
    tokio::time::sleep_until(window_start).await;
    let (server_before, client_before, stolen_before, database_before) = (
        server.cpu_used(),
        cpu_time_by_thread("/proc/self/task"),
        stolen_ticks(),
        postgres_micros(),
    );
    tokio::time::sleep_until(window_end).await;
    let (server_after, client_after, stolen_after, database_after) = (
        server.cpu_used(),
        cpu_time_by_thread("/proc/self/task"),
        stolen_ticks(),
        postgres_micros(),
    );
    let mut report = SteadyLogins {
        in_window: 0,
        failed: 0,
        codes: vec![],
        server_cpu: (server_before, server_after),
        client_cpu: (client_before, client_after),
        stolen: stolen_after - stolen_before,
        database_micros: database_after.saturating_sub(database_before),
    };
    while let Some(finished) = browsers.join_next().await {
        for (at, code) in finished.unwrap_or_default() {
            match code {
                Some(code) => {
                    if (window_start..window_end).contains(&at) {
                        report.in_window += 1;
                    }
                    report.codes.push(code);
                }
                None => report.failed += 1,
            }
        }
    }
    if next_account.load(std::sync::atomic::Ordering::Relaxed) >= ACCOUNTS {
        println!(
            "logins: ran out of the {} accounts before the window closed",
            ACCOUNTS
        );
    }
    let _ = stop.send(true);
    let _ = scanner.await;
    report
}

pub fn bench_server(bin: &Path, setup: &Setup) {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("server bench: skipped (wrk is not installed; `make bench` installs it)");
        return;
    }
    println!("server bench on {}:", setup.backend());
    let server = start(bin, setup);
    let base = server.base.clone();
    let machine = server.gatehouse(&[
        "clients",
        "add",
        "--id",
        "machine",
        "--name",
        "Bench machine",
        "--grant",
        "client_credentials",
        "--scope",
        "api:read",
    ]);
    let machine_secret = machine["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let portal_secret = server.add_portal();

    // Accounts with production-cost password hashes, made before the clock starts.
    let hasher = PasswordHasher::new(&setup.hashing).expect("hasher");
    server.add_accounts(ACCOUNTS, &hasher.hash(PASSWORD).expect("hash"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let http = reqwest::Client::new();
    let scripts = tempfile::tempdir().expect("dir");
    let discovery = wrk(
        "GET discovery",
        &format!("{base}/.well-known/openid-configuration"),
        None,
    );
    wrk("GET jwks", &format!("{base}/jwks.json"), None);
    let cc = script(
        scripts.path(),
        "cc.lua",
        &format!(
            "wrk.method = \"POST\"\nwrk.body = \"grant_type=client_credentials&scope=api:read\"\nwrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\nwrk.headers[\"Authorization\"] = \"{}\"\n",
            basic("machine", &machine_secret)
        ),
    );
    let client_credentials = wrk(
        "POST token client_credentials",
        &format!("{base}/token"),
        Some(&cc),
    );
    // Measured beside the server's figure, after it: the same machine, the same minute.
    // A token costs at least a discovery request (HTTP, wrk's share of the cores) plus
    // a signature: that sum's rate is the ceiling the server's figure is set against.
    let signing = standalone_es256_per_second();
    let percent = |rate: f64| format!("{rate:.0}/s = {:.0}%", 100.0 * rate / signing);
    println!(
        "  standalone ES256 on {} threads: {signing:.0} signatures/s; client_credentials {}; \
         ceiling (a discovery request plus a signature) {}",
        cores(),
        client_credentials.map_or("?".to_owned(), percent),
        discovery.map_or("?".to_owned(), |d| percent(1.0 / (1.0 / d + 1.0 / signing))),
    );
    let access: Value = runtime.block_on(async {
        http.post(format!("{base}/token"))
            .basic_auth("machine", Some(&machine_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json")
    });
    let introspect = script(
        scripts.path(),
        "introspect.lua",
        &format!(
            "wrk.method = \"POST\"\nwrk.body = \"token={}\"\nwrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\nwrk.headers[\"Authorization\"] = \"{}\"\n",
            access["access_token"].as_str().expect("at"),
            basic("machine", &machine_secret)
        ),
    );
    wrk(
        "POST introspect",
        &format!("{base}/introspect"),
        Some(&introspect),
    );

    println!(
        "server peak RSS before the logins: {} KiB",
        server.peak_rss_kib()
    );
    // 200 logins in flight at all times: password (argon2 at production cost) and the
    // e-mail code, each on an account of its own. Counted over a window that starts once
    // all 200 are under way and ends before any stop, so neither the ramp at the start
    // nor the drain at the end is in the rate.
    let outbox = server.dir.path().join("outbox");
    // Measured before and after the logins: the machine's speed drifts (other guests on
    // the host), so the mean of the two is what the logins are compared with.
    let standalone_before = standalone_argon2_per_second();
    // The peak's parts, sampled while the logins run (the kernel keeps only the
    // total's peak).
    let sampling = std::sync::atomic::AtomicBool::new(true);
    let (logins, (anon_peak, file_peak)) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = (0, 0);
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                let (anon, file) = server.rss_kib();
                peak = (peak.0.max(anon), peak.1.max(file));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        let logins = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(steady_logins(&server, outbox));
        sampling.store(false, std::sync::atomic::Ordering::Relaxed);
        (logins, sampler.join().expect("sampler"))
    });
    let standalone_after = standalone_argon2_per_second();
    let standalone = f64::midpoint(standalone_before, standalone_after);
    let window = LOGIN_WINDOW.as_secs_f64();
    let rate = logins.in_window as f64 / window;
    println!(
        "logins (password + e-mail OTP), {CONCURRENT_LOGINS} in flight: {} done in the {window:.0} s window = {rate:.1}/s \
         ({} in all, {} failed); standalone argon2 verify {standalone:.1}/s ({standalone_before:.1} before, \
         {standalone_after:.1} after); ratio {:.0}%",
        logins.in_window,
        logins.codes.len(),
        logins.failed,
        100.0 * rate / standalone
    );
    println!(
        "CPU in the window, in ms ({:.0} available): server threads: {}; this load generator: {}; \
         PostgreSQL's processes: {:.0}; taken by the hypervisor (steal): {} ms",
        window * 1000.0 * cores() as f64,
        cpu_spent(&logins.server_cpu.0, &logins.server_cpu.1),
        cpu_spent(&logins.client_cpu.0, &logins.client_cpu.1),
        logins.database_micros as f64 / 1000.0,
        logins.stolen * 10,
    );
    // The share of the CPU the hashing got: what the ratio comes to when an in-server
    // hash costs what a standalone one does (the machine's speed drifts between them).
    // What the rest costs per login is the steadier figure to improve against.
    let (in_server, in_client) = (&logins.server_cpu, &logins.client_cpu);
    let argon2 = micros_used(&in_server.0, &in_server.1, "gatehouse-argon");
    let server_all = micros_used(&in_server.0, &in_server.1, "");
    let client_all = micros_used(&in_client.0, &in_client.1, "");
    let per_login = |micros: u64| micros as f64 / 1000.0 / logins.in_window.max(1) as f64;
    println!(
        "argon2 share of the CPU the server, load generator and PostgreSQL used in the window: {:.1}%; \
         CPU per login besides argon2: server {:.2} ms, load generator {:.2} ms, PostgreSQL {:.2} ms",
        100.0 * argon2 as f64 / (server_all + client_all + logins.database_micros).max(1) as f64,
        per_login(server_all - argon2),
        per_login(client_all),
        per_login(logins.database_micros),
    );
    println!(
        "server peak RSS after the logins: {} KiB (during them at most {anon_peak} KiB \
         anonymous, {file_peak} KiB file-backed: the pages of the binary and libraries)",
        server.peak_rss_kib()
    );
    let codes = logins.codes;

    // Refresh: each wrk connection follows its own rotating chain.
    let refresh_tokens: Vec<String> = runtime.block_on(async {
        let mut tokens = vec![];
        for code in codes.iter().take(16) {
            let body: Value = http
                .post(format!("{base}/token"))
                .basic_auth("portal", Some(&portal_secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", VERIFIER),
                ])
                .send()
                .await
                .expect("token")
                .json()
                .await
                .expect("json");
            if let Some(t) = body["refresh_token"].as_str() {
                tokens.push(t.to_owned());
            }
        }
        tokens
    });
    if refresh_tokens.len() == 16 {
        let list = refresh_tokens
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let refresh = script(
            scripts.path(),
            "refresh.lua",
            &format!(
                "local tokens = {{ {list} }}\nlocal n = 0\nfunction setup(thread) n = n + 1; thread:set(\"id\", n) end\n\
             function init(args) token = tokens[id] end\n\
             function request() return wrk.format(\"POST\", \"/token\", {{[\"Content-Type\"] = \"application/x-www-form-urlencoded\", [\"Authorization\"] = \"{}\"}}, \"grant_type=refresh_token&refresh_token=\" .. token) end\n\
             function response(status, headers, body) local t = body:match('\"refresh_token\":\"([^\"]+)\"'); if t then token = t end end\n",
                basic("portal", &portal_secret)
            ),
        );
        wrk_on_threads(
            "POST token refresh (rotating)",
            &format!("{base}/token"),
            Some(&refresh),
            16,
        );
    } else {
        println!(
            "refresh bench: skipped (only {} of 16 logins gave a refresh token)",
            refresh_tokens.len()
        );
    }
    println!(
        "server peak RSS over the whole run: {} KiB",
        server.peak_rss_kib()
    );
}
