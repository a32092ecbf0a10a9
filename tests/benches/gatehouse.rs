//! `make bench`: what the hot paths cost on this machine. A benchmark, never a test:
//! it prints numbers and asserts nothing about time.
//!
//! Runs: the password policy check, argon2id at production parameters (hash, verify,
//! the unknown-account dummy), the store on SQLite (and PostgreSQL when
//! GATEHOUSE_TEST_POSTGRES_URL is set), the mail outbox (queueing sealed mails,
//! draining them through the log and file transports) on the same backends, the
//! release server: one MFA login flow at a time, each step timed (see `flow.rs`), and
//! under load from `wrk` and 200 concurrent logins (see `server.rs`), on SQLite and,
//! when GATEHOUSE_BENCH_POSTGRES_URL is set, on a database the bench makes beside the
//! one it names.

mod flow;
mod server;

use gatehouse_core::password::HashingParams;
use gatehouse_core::ports::AccountRepository;
use gatehouse_core::{
    Account, AccountStatus, Email, PasswordHasher, PasswordPolicy, Subject, SystemClock,
};
use gatehouse_provider::config::{MailConfig, MailTransportKind};
use gatehouse_provider::crypto::{MasterKey, Sealer};
use gatehouse_provider::mail::{Outbox, Worker};
use gatehouse_store::{DatabaseUrl, PoolOptions, Store};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn per_op(label: &str, iterations: u32, mut op: impl FnMut(u32)) {
    let started = Instant::now();
    for i in 0..iterations {
        op(i);
    }
    let elapsed = started.elapsed();
    let each = elapsed / iterations;
    let rate = f64::from(iterations) / elapsed.as_secs_f64();
    println!("{label:<48} {each:>12.2?}/op {rate:>12.0} op/s  (n={iterations})");
}

fn bench_policy() {
    let policy = PasswordPolicy::default();
    per_op("password policy check (ASCII, 16 chars)", 200_000, |_| {
        black_box(policy.check(black_box("Correct-Horse#42"), black_box("Correct-Horse#42")));
    });
    per_op(
        "password policy check (kana + full-width, 24)",
        200_000,
        |_| {
            black_box(policy.check(
                black_box("パスワードですＡｂｃ１！＃ぱすわーど"),
                black_box("x"),
            ));
        },
    );
}

fn bench_argon2() {
    let hasher = PasswordHasher::new(&HashingParams::default()).expect("production params");
    let stored = hasher.hash("Correct-Horse#42").expect("hash");
    per_op("argon2id hash (m=19 MiB, t=2, p=1)", 30, |_| {
        black_box(hasher.hash("Correct-Horse#42").expect("hash"));
    });
    per_op("argon2id verify (known account)", 30, |_| {
        black_box(hasher.verify("Correct-Horse#42", &stored));
    });
    per_op("argon2id dummy verify (unknown account)", 30, |_| {
        black_box(hasher.verify_dummy("Correct-Horse#42"));
    });
}

fn open_store(url: &str) -> Store {
    let store = Store::open(
        &DatabaseUrl::parse(url).expect("url"),
        &PoolOptions::default(),
    )
    .expect("open");
    store.migrate().expect("migrate");
    store
}

/// Drains everything due; prints the time per mail sent.
fn drain_all(label: &str, worker: &Worker) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let mut sent = 0;
    loop {
        let round = runtime.block_on(worker.drain_once()).expect("drain");
        sent += round.sent;
        if round.claimed == 0 {
            break;
        }
    }
    let elapsed = started.elapsed();
    let each = elapsed / u32::try_from(sent.max(1)).unwrap_or(u32::MAX);
    let rate = sent as f64 / elapsed.as_secs_f64();
    println!("{label:<48} {each:>12.2?}/op {rate:>12.0} op/s  (n={sent})");
}

fn bench_mail(label: &str, url: &str) {
    let store = open_store(url);
    let sealer = Sealer::new(&MasterKey::generate().expect("key").0).expect("sealer");
    let config = MailConfig {
        transport: MailTransportKind::Log,
        batch_size: 100,
        ..MailConfig::default()
    };
    let outbox = Outbox::new(sealer.clone(), &config);
    let to = Email::parse("rie.tanaka@example.com").expect("email");
    let message =
        outbox
            .templates()
            .one_time_code(&to, Some("ja"), "123456", chrono::TimeDelta::minutes(10));
    let now = chrono::Utc::now();
    per_op(
        &format!("{label}: queue a sealed mail (own tx)"),
        2_000,
        |_| {
            store
                .transaction(|tx| outbox.enqueue_in(tx, &message, now))
                .expect("queued");
        },
    );
    let worker = Worker::new(
        store.clone(),
        sealer.clone(),
        &config,
        Arc::new(SystemClock),
    )
    .expect("worker");
    drain_all(
        &format!("{label}: drain, log transport (batch 100)"),
        &worker,
    );

    let dir = tempfile::tempdir().expect("dir");
    let files = MailConfig {
        transport: MailTransportKind::File,
        file_dir: dir.path().display().to_string(),
        ..config
    };
    for _ in 0..500 {
        store
            .transaction(|tx| outbox.enqueue_in(tx, &message, now))
            .expect("queued");
    }
    let worker = Worker::new(store, sealer, &files, Arc::new(SystemClock)).expect("worker");
    drain_all(
        &format!("{label}: drain, file transport (fsync each)"),
        &worker,
    );
}

fn bench_store(label: &str, url: &str) {
    let store = open_store(url);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let now = chrono::Utc::now();
    let n = 2_000;
    per_op(&format!("{label}: insert account"), n, |i| {
        let email = Email::parse(&format!("user{i}.{run}@example.com")).expect("email");
        let subject = Subject::parse(&format!("bench|{run}|{i}")).expect("subject");
        let account = Account::new(
            subject,
            Some(email),
            AccountStatus::PendingRegistration,
            now,
        );
        store.insert_account(&account).expect("insert");
    });
    per_op(&format!("{label}: account by e-mail"), 10_000, |i| {
        let email = Email::parse(&format!("user{}.{run}@example.com", i % n)).expect("email");
        black_box(store.account_by_email(&email).expect("lookup"));
    });
}

/// Runs every benchmark, or only those named on the command line
/// (`cargo bench -p gatehouse-tests --bench gatehouse -- server`).
fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    println!(
        "Gatehouse benchmarks ({} cores; release build)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if wanted("policy") {
        bench_policy();
    }
    if wanted("argon2") {
        bench_argon2();
    }
    let dir = tempfile::tempdir().expect("dir");
    if wanted("store") {
        bench_store(
            "SQLite",
            &format!("sqlite://{}", dir.path().join("store.db").display()),
        );
    }
    if wanted("mail") {
        bench_mail(
            "SQLite",
            &format!("sqlite://{}", dir.path().join("mail.db").display()),
        );
    }
    match std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => {
            if wanted("store") {
                bench_store("PostgreSQL", &url);
            }
            if wanted("mail") {
                bench_mail("PostgreSQL", &url);
            }
        }
        None => println!("PostgreSQL store: skipped (set GATEHOUSE_TEST_POSTGRES_URL)"),
    }
    let postgres = server::bench_postgres();
    if postgres.is_none() {
        println!("PostgreSQL server benches: skipped (set GATEHOUSE_BENCH_POSTGRES_URL)");
    }
    let backends: Vec<Option<String>> = std::iter::once(None).chain(postgres.map(Some)).collect();
    let Some(bin) = server::release_binary() else {
        return;
    };
    if wanted("flow") {
        // Low-cost hashing shows what the rest of a login costs; production, the sum.
        let low_cost = HashingParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        for hashing in [low_cost, HashingParams::default()] {
            let p50s: Vec<Duration> = backends
                .iter()
                .map(|postgres| {
                    let setup = server::Setup {
                        postgres: postgres.clone(),
                        hashing: hashing.clone(),
                    };
                    flow::bench_flow(&bin, &setup)
                })
                .collect();
            if let [sqlite, postgres] = p50s[..] {
                println!(
                    "flow p50, argon2 m={} KiB: PostgreSQL {:.2}× SQLite's",
                    hashing.memory_kib,
                    postgres.as_secs_f64() / sqlite.as_secs_f64().max(f64::MIN_POSITIVE)
                );
            }
        }
    }
    if wanted("server") {
        for postgres in &backends {
            let setup = server::Setup {
                postgres: postgres.clone(),
                hashing: HashingParams::default(),
            };
            server::bench_server(&bin, &setup);
        }
    }
}
