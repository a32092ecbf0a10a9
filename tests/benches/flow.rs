//! One browser at a time through the whole MFA login and the client's part after it:
//! authorize → password → e-mail challenge → the mail's `.eml` readable → verify →
//! token → userinfo, a fresh cookie jar each, on the release server (`server.rs` starts
//! it; its `Browser` and mail scanner do the work). Each step is timed on its own, and
//! `/metrics` is read between the steps (outside the timing) for the statements and
//! commits the step cost, the mail worker's included.

use crate::server::{
    Browser, LoginSteps, Mailbox, PASSWORD, REDIRECT, Server, Setup, VERIFIER, basic, login,
    scan_mail,
};
use gatehouse_core::PasswordHasher;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// Flows run before the measured ones (caches, connections, the statement caches).
const WARMUP: usize = 30;
/// Flows measured.
const FLOWS: usize = 300;
/// The steps in the order a flow takes them.
const STEPS: [&str; 7] = [
    "authorize",
    "password",
    "challenge",
    "mail",
    "verify",
    "token",
    "userinfo",
];

/// The database work counters of `/metrics`, and the mails sent.
#[derive(Clone, Copy, Default)]
struct Counts {
    statements: u64,
    commits: u64,
    mails: u64,
}

fn series(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// One step as measured: its time and the database work it caused.
struct Measured {
    step: &'static str,
    took: Duration,
    statements: u64,
    commits: u64,
}

/// Times the steps of one flow after another, reading `/metrics` between them.
struct Timed {
    metrics: Browser,
    /// What one scrape itself costs (it counts the outbox), taken off each reading.
    scrape: (u64, u64),
    since: Instant,
    last: Counts,
    /// Mails sent when the flow began.
    mails_before: u64,
    steps: Vec<Measured>,
}

impl Timed {
    async fn read(&mut self) -> Counts {
        let (_, _, body) = self
            .metrics
            .send("GET", "/metrics", None)
            .await
            .expect("/metrics");
        let text = String::from_utf8_lossy(&body);
        Counts {
            statements: series(&text, "gatehouse_db_statements_total"),
            commits: series(&text, "gatehouse_db_commits_total"),
            mails: series(&text, "gatehouse_mail_sent_total{transport=\"file\"}"),
        }
    }

    async fn calibrate(&mut self) {
        let mut cheapest = (u64::MAX, u64::MAX);
        for _ in 0..5 {
            let a = self.read().await;
            let b = self.read().await;
            cheapest = (
                cheapest.0.min(b.statements - a.statements),
                cheapest.1.min(b.commits - a.commits),
            );
        }
        self.scrape = cheapest;
    }

    async fn begin(&mut self) {
        self.last = self.read().await;
        self.mails_before = self.last.mails;
        self.since = Instant::now();
    }
}

impl LoginSteps for Timed {
    async fn done(&mut self, step: &'static str) {
        let took = self.since.elapsed();
        let mut now = self.read().await;
        let mut scrapes = 1;
        // The `.eml` is readable before the worker records the send: its statements
        // belong to the hand-off, so wait for them (untimed). The flow's one mail may
        // be recorded already (before the challenge step's reading, even).
        while step == "mail" && now.mails <= self.mails_before {
            tokio::time::sleep(Duration::from_millis(1)).await;
            now = self.read().await;
            scrapes += 1;
        }
        self.steps.push(Measured {
            step,
            took,
            statements: (now.statements - self.last.statements)
                .saturating_sub(scrapes * self.scrape.0),
            commits: (now.commits - self.last.commits).saturating_sub(scrapes * self.scrape.1),
        });
        self.last = now;
        self.since = Instant::now();
    }
}

/// The client's part: the code for tokens at `/token`, then `/userinfo`.
async fn client_part(
    client: &mut Browser,
    authorization: &str,
    code: &str,
    steps: &mut Timed,
) -> Option<()> {
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let (status, _, body) = client
        .send_raw(
            "POST",
            "/token",
            Some(("application/x-www-form-urlencoded", form.into_bytes())),
            Some(authorization),
        )
        .await?;
    if status != 200 {
        return None;
    }
    steps.done("token").await;
    let tokens: Value = serde_json::from_slice(&body).ok()?;
    let bearer = format!("Bearer {}", tokens["access_token"].as_str()?);
    let (status, _, _) = client
        .send_raw("GET", "/userinfo", None, Some(&bearer))
        .await?;
    if status != 200 {
        return None;
    }
    steps.done("userinfo").await;
    Some(())
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted
        .get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// Runs `WARMUP + FLOWS` flows on a server set up as `setup`, prints the table and
/// returns the whole flow's p50.
pub fn bench_flow(bin: &Path, setup: &Setup) -> Duration {
    let server = crate::server::start(bin, setup);
    let portal = server.add_portal();
    let authorization = basic("portal", portal.as_str());
    let hash = PasswordHasher::new(&setup.hashing)
        .expect("hasher")
        .hash(PASSWORD)
        .expect("hash");
    server.add_accounts(WARMUP + FLOWS, &hash);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let steps = runtime.block_on(flows(&server, &authorization));
    let label = format!(
        "{}, argon2 m={} KiB t={}",
        setup.backend(),
        setup.hashing.memory_kib,
        setup.hashing.iterations
    );
    let p50 = report(&label, &steps);
    if let Some(url) = setup
        .postgres
        .as_ref()
        .map(|_| server.database_url.as_str())
    {
        postgres_floor(url, &steps);
    }
    p50
}

/// What the flow's statements and commits cost on this PostgreSQL at the least: a
/// round trip each (`SELECT 1`), and each commit the wait for its WAL flush besides (an
/// `INSERT` committed on its own, less a round trip). In-process SQLite pays neither.
fn postgres_floor(url: &str, flows: &[Vec<Measured>]) {
    use diesel::connection::{Connection, SimpleConnection};
    let mut conn = diesel::PgConnection::establish(url).expect("PostgreSQL");
    conn.batch_execute("CREATE TABLE IF NOT EXISTS bench_commits (n integer)")
        .expect("table");
    let mut median_of = |sql: &str| {
        let times = (0..500)
            .map(|_| {
                let started = Instant::now();
                conn.batch_execute(sql).expect("statement");
                started.elapsed()
            })
            .collect::<Vec<_>>();
        Duration::from_nanos(median(times.iter().map(|t| t.as_nanos() as u64).collect()))
    };
    let round_trip = median_of("SELECT 1");
    let commit = median_of("INSERT INTO bench_commits VALUES (1)");
    let statements = median(
        flows
            .iter()
            .map(|f| f.iter().map(|s| s.statements).sum())
            .collect(),
    );
    let commits = median(
        flows
            .iter()
            .map(|f| f.iter().map(|s| s.commits).sum())
            .collect(),
    );
    let floor = round_trip * statements as u32 + commit.saturating_sub(round_trip) * commits as u32;
    println!(
        "  PostgreSQL here: a round trip {round_trip:.0?}, a committed insert {commit:.0?}; the \
         flow's {statements} statements and {commits} commits cost at least {floor:.2?}"
    );
}

async fn flows(server: &Server, authorization: &str) -> Vec<Vec<Measured>> {
    let mailbox = Mailbox::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // A sequential flow waits for each mail: scan often (a directory read is cheap).
    let scanner = tokio::spawn(scan_mail(
        server.dir.path().join("outbox"),
        mailbox.clone(),
        stopped,
        Duration::from_millis(1),
    ));
    let mut timed = Timed {
        metrics: Browser::open(&server.host).await.expect("connect"),
        scrape: (0, 0),
        since: Instant::now(),
        last: Counts::default(),
        mails_before: 0,
        steps: vec![],
    };
    timed.calibrate().await;
    // The client keeps its connection, as a client's HTTP pool does.
    let mut client = Browser::open(&server.host).await.expect("connect");
    let mut measured = vec![];
    for n in 0..WARMUP + FLOWS {
        timed.begin().await;
        let email = format!("user{n}@example.com");
        let done = match login(&server.host, &mailbox, &email, &mut timed).await {
            Some(code) => client_part(&mut client, authorization, &code, &mut timed).await,
            None => None,
        };
        let steps = std::mem::take(&mut timed.steps);
        if done.is_none() {
            println!("flow {n} failed after {} steps", steps.len());
        } else if n >= WARMUP {
            measured.push(steps);
        }
    }
    let _ = stop.send(true);
    let _ = scanner.await;
    measured
}

fn report(label: &str, flows: &[Vec<Measured>]) -> Duration {
    let total: Duration = flows.iter().flat_map(|f| f.iter().map(|s| s.took)).sum();
    let mut whole: Vec<Duration> = flows
        .iter()
        .map(|f| f.iter().map(|s| s.took).sum())
        .collect();
    whole.sort_unstable();
    println!(
        "flow {label}: {} flows, {:.1} flows/s (steps only), flow p50 {:.1?} p99 {:.1?}",
        flows.len(),
        flows.len() as f64 / total.as_secs_f64().max(f64::MIN_POSITIVE),
        percentile(&whole, 50),
        percentile(&whole, 99),
    );
    println!(
        "  {:<10} {:>10} {:>10} {:>11} {:>8}",
        "step", "p50", "p99", "statements", "commits"
    );
    for step in STEPS {
        let of_step: Vec<&Measured> = flows.iter().flatten().filter(|s| s.step == step).collect();
        let mut times: Vec<Duration> = of_step.iter().map(|s| s.took).collect();
        times.sort_unstable();
        println!(
            "  {step:<10} {:>10.2?} {:>10.2?} {:>11} {:>8}",
            percentile(&times, 50),
            percentile(&times, 99),
            median(of_step.iter().map(|s| s.statements).collect()),
            median(of_step.iter().map(|s| s.commits).collect()),
        );
    }
    percentile(&whole, 50)
}
