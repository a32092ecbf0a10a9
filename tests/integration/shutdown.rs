//! Stopping: background tasks end when asked, and a stopping server waits for the
//! work it has begun (a mail on the wire, its database connections) before it returns.

use chrono::Utc;
use gatehouse_core::ports::MailOutbox;
use gatehouse_provider::config::{MailConfig, MailTransportKind, SmtpTls};
use gatehouse_provider::periodic::{self, FirstRun, Periodic};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::mail::{queue_code, server_outbox};
use crate::support::smtp::{SmtpServer, free_port};
use crate::support::{TestDatabase, TestServer, test_config};

fn counting(first: FirstRun) -> (Periodic, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let task = periodic::spawn(
        "test-periodic",
        Duration::from_secs(3600),
        first,
        move || {
            counter.fetch_add(1, Ordering::SeqCst);
        },
    )
    .expect("thread");
    (task, runs)
}

#[test]
fn a_periodic_task_runs_first_when_asked_and_stops_without_waiting_out_its_interval() {
    let (task, runs) = counting(FirstRun::Now);
    let started = Instant::now();
    // A stop right after the start may come before the first run, never instead of it.
    task.stop();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_periodic_task_otherwise_waits_one_interval_before_its_first_run() {
    let (task, runs) = counting(FirstRun::AfterInterval);
    task.stop();
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
fn a_store_waits_until_its_other_clones_are_dropped() {
    let db = TestDatabase::sqlite();
    let store = db.store();
    let other = store.clone();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(other);
    });
    let started = Instant::now();
    assert!(store.wait_until_last(Duration::from_secs(10)));
    assert!(started.elapsed() >= Duration::from_millis(150));
    holder.join().expect("holder");
}

#[test]
fn a_store_gives_up_waiting_while_a_clone_is_held() {
    let db = TestDatabase::sqlite();
    let store = db.store();
    let _held = store.clone();
    assert!(!store.wait_until_last(Duration::from_millis(50)));
}

/// A mail on the wire when the server is told to stop is finished, and marked sent,
/// before the server has stopped: a process that exits then neither cuts it off nor
/// leaves it leased, to be sent a second time later.
#[tokio::test]
async fn a_stopping_server_finishes_the_mail_it_is_sending() {
    let db = TestDatabase::sqlite();
    let smtp = SmtpServer::start(free_port());
    let mut config = test_config(&db.url);
    config.mail = MailConfig {
        transport: MailTransportKind::Smtp,
        smtp_host: "127.0.0.1".to_owned(),
        smtp_port: smtp.port,
        smtp_tls: SmtpTls::None,
        smtp_timeout_seconds: 20,
        ..MailConfig::default()
    };
    let outbox = server_outbox(&config);
    let server = TestServer::start_with(config, None).await;
    let store = db.store();

    smtp.pause();
    let id = queue_code(
        &store,
        &outbox,
        "stop@example.com",
        None,
        "616161",
        Utc::now(),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while store
        .mail_by_id(id)
        .expect("read")
        .is_none_or(|m| m.lease_owner.is_none())
    {
        assert!(
            Instant::now() < deadline,
            "the worker never claimed the mail"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The worker now waits for the SMTP greeting. It comes well after the stop begins.
    let resume = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        smtp.resume();
        smtp
    });
    server.stop().expect("the server stops cleanly");
    let mail = store.mail_by_id(id).expect("read").expect("kept");
    assert!(
        mail.sent_at.is_some(),
        "sent before the server stopped: {mail:?}"
    );
    let smtp = resume.join().expect("resumed");
    assert_eq!(smtp.received().len(), 1);
}
