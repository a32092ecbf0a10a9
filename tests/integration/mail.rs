//! The mail outbox: queued in the caller's transaction, sealed at rest, drained by
//! workers that lease mails (never one mail to two workers), retried with backoff,
//! delivered as `.eml` files or over SMTP to a real server process.

use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::ports::{AccountRepository, MailOutbox, RepositoryError};
use gatehouse_core::{
    Account, AccountStatus, Clock, Email, FixedClock, MailId, Subject, SystemClock,
};
use gatehouse_provider::config::{MailConfig, MailTransportKind, SecretsConfig, SmtpTls};
use gatehouse_provider::crypto::{MasterKey, Sealer};
use gatehouse_provider::mail::{DrainReport, Outbox, Worker, seal_context};
use gatehouse_store::Store;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::support::smtp::{SmtpServer, free_port, read_eml};
use crate::support::{TestDatabase, TestServer, test_config};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000 + seconds, 0).expect("valid instant")
}

fn sealer() -> Sealer {
    let key = MasterKey::generate().expect("key").1;
    Sealer::new(
        &MasterKey::load(&SecretsConfig {
            key,
            key_file: String::new(),
        })
        .expect("load"),
    )
    .expect("sealer")
}

fn file_config(dir: &Path) -> MailConfig {
    MailConfig {
        transport: MailTransportKind::File,
        file_dir: dir.display().to_string(),
        ..MailConfig::default()
    }
}

fn email(address: &str) -> Email {
    Email::parse(address).expect("email")
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn drain(worker: &Worker) -> DrainReport {
    block_on(worker.drain_once()).expect("drain")
}

/// The one-time-code mail for `to`, queued on its own.
pub(crate) fn queue_code(
    store: &Store,
    outbox: &Outbox,
    to: &str,
    locale: Option<&str>,
    code: &str,
    now: DateTime<Utc>,
) -> MailId {
    let message =
        outbox
            .templates()
            .one_time_code(&email(to), locale, code, TimeDelta::minutes(10));
    store
        .transaction(|tx| outbox.enqueue_in(tx, &message, now))
        .expect("queued")
}

/// The outbox a server with this configuration queues into (its sealing key).
pub(crate) fn server_outbox(config: &gatehouse_provider::Config) -> Outbox {
    let sealer = gatehouse_provider::crypto::Secrets::load(&config.secrets)
        .expect("secrets")
        .sealer;
    Outbox::new(sealer, &config.mail)
}

fn eml_files(dir: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".eml") && !name.starts_with('.'))
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

// ---------------------------------------------------------------------------------
// On both backends.

fn enqueue_commits_or_rolls_back_with_the_transaction(db: &TestDatabase) {
    let store = db.store();
    let outbox = Outbox::new(sealer(), &MailConfig::default());
    let message = outbox.templates().one_time_code(
        &email("rie@example.com"),
        None,
        "111111",
        TimeDelta::minutes(10),
    );
    let account = Account::new(
        Subject::parse("legacy|1").expect("subject"),
        Some(email("rie@example.com")),
        AccountStatus::Active,
        at(0),
    );

    let refused: Result<(), _> = store.transaction(|tx| {
        tx.insert_account(&account)?;
        outbox.enqueue_in(tx, &message, at(0))?;
        Err(RepositoryError::NotFound)
    });
    assert_eq!(refused, Err(RepositoryError::NotFound));
    assert_eq!(
        store.outbox_counts().expect("counts").pending,
        0,
        "rolled back: no mail"
    );
    assert_eq!(store.account_by_id(account.id).expect("read"), None);

    let id = store
        .transaction(|tx| {
            tx.insert_account(&account)?;
            outbox.enqueue_in(tx, &message, at(0))
        })
        .expect("commits");
    assert_eq!(
        store.outbox_counts().expect("counts").pending,
        1,
        "committed: one mail"
    );
    let mail = store.mail_by_id(id).expect("read").expect("queued");
    assert_eq!(mail.recipient, "rie@example.com");
    assert_eq!(mail.subject, "Your Gatehouse one-time code");
    assert_eq!(
        (mail.attempts, mail.next_attempt_at, mail.created_at),
        (0, at(0), at(0))
    );
    assert!(mail.is_pending() && mail.lease_owner.is_none());
}

fn bodies_are_sealed_and_erased_once_sent(db: &TestDatabase) {
    let store = db.store();
    let sealer = sealer();
    let dir = tempfile::tempdir().expect("dir");
    let config = file_config(dir.path());
    let outbox = Outbox::new(sealer.clone(), &config);
    let clock = Arc::new(FixedClock::at(at(0)));
    let id = queue_code(
        &store,
        &outbox,
        "kenji@example.jp",
        Some("ja"),
        "483920",
        at(0),
    );

    let stored = store.mail_by_id(id).expect("read").expect("queued");
    let sealed = stored.sealed_body.clone().expect("a body until sent");
    assert!(
        !sealed.windows(6).any(|w| w == b"483920"),
        "the code is not stored in the clear"
    );
    assert!(
        !sealed.windows("有効".len()).any(|w| w == "有効".as_bytes()),
        "nor the text"
    );
    let opened = sealer
        .open(&sealed, &seal_context(id))
        .expect("opens with its own context");
    assert!(String::from_utf8_lossy(&opened).contains("483920"));
    assert!(
        sealer.open(&sealed, &seal_context(MailId::new())).is_err(),
        "bound to its row"
    );

    let worker = Worker::new(store.clone(), sealer, &config, clock.clone()).expect("worker");
    assert_eq!(
        drain(&worker),
        DrainReport {
            claimed: 1,
            sent: 1,
            retried: 0,
            failed: 0,
            ..DrainReport::default()
        }
    );
    let sent = store.mail_by_id(id).expect("read").expect("kept for audit");
    assert_eq!(sent.sealed_body, None, "the body is erased once sent");
    assert_eq!(sent.sent_at, Some(at(0)));
    assert_eq!(sent.attempts, 1);
    assert_eq!((sent.lease_owner, sent.lease_until), (None, None));
    assert_eq!(
        (sent.recipient.as_str(), sent.subject.as_str()),
        ("kenji@example.jp", "Gatehouse のワンタイムコード")
    );
    assert_eq!(eml_files(dir.path()), BTreeSet::from([format!("{id}.eml")]));
    assert_eq!(
        drain(&worker).claimed,
        0,
        "sent mails are not claimed again"
    );

    // Old sent mails are purged; pending ones never are.
    let pending = queue_code(
        &store,
        &outbox,
        "later@example.com",
        None,
        "222222",
        at(40 * 86_400),
    );
    clock.set(at(30 * 86_400) - TimeDelta::seconds(1));
    assert_eq!(worker.purge().expect("purge"), 0, "kept for keep_sent_days");
    clock.set(at(31 * 86_400));
    assert_eq!(worker.purge().expect("purge"), 1);
    assert_eq!(store.mail_by_id(id).expect("read"), None);
    assert!(store.mail_by_id(pending).expect("read").is_some());
}

/// Two workers with their own pools drain one outbox at the same time; each writes
/// into its own folder. Every mail is sent exactly once: the folders do not overlap
/// and together hold every mail.
fn two_workers_never_send_one_mail_twice(db: &TestDatabase) {
    const MAILS: usize = 200;
    let sealer = sealer();
    let store = db.store();
    let config = MailConfig {
        batch_size: 4,
        ..MailConfig::default()
    };
    let outbox = Outbox::new(sealer.clone(), &config);
    let mut ids = BTreeSet::new();
    for i in 0..MAILS {
        let to = format!("user{i}@example.com");
        ids.insert(format!(
            "{}.eml",
            queue_code(&store, &outbox, &to, None, "123456", Utc::now())
        ));
    }
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let barrier = Barrier::new(2);
    let reports: Vec<(DrainReport, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|dir| {
                let store = db.store();
                let worker = Worker::new(
                    store.clone(),
                    sealer.clone(),
                    &MailConfig {
                        batch_size: 3,
                        ..file_config(dir.path())
                    },
                    Arc::new(SystemClock),
                )
                .expect("worker");
                let barrier = &barrier;
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    let mut total = DrainReport::default();
                    let mut rounds = 0;
                    barrier.wait();
                    let deadline = Instant::now() + Duration::from_secs(60);
                    while Instant::now() < deadline {
                        let round = runtime.block_on(worker.drain_once()).expect("drain");
                        rounds += 1;
                        total.claimed += round.claimed;
                        total.sent += round.sent;
                        total.retried += round.retried;
                        total.failed += round.failed;
                        if round.claimed == 0 {
                            if store.outbox_counts().expect("counts").pending == 0 {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                    (total, rounds)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread"))
            .collect()
    });
    eprintln!("two workers: {reports:?}");
    let first = eml_files(dirs[0].path());
    let second = eml_files(dirs[1].path());
    assert!(
        first.is_disjoint(&second),
        "sent twice: {:?}",
        first.intersection(&second).collect::<Vec<_>>()
    );
    assert_eq!(
        first.union(&second).cloned().collect::<BTreeSet<_>>(),
        ids,
        "every mail sent"
    );
    let sent: usize = reports.iter().map(|(r, _)| r.sent).sum();
    let claimed: usize = reports.iter().map(|(r, _)| r.claimed).sum();
    assert_eq!((claimed, sent), (MAILS, MAILS), "{reports:?}");
    assert!(
        reports.iter().all(|(r, _)| r.retried == 0 && r.failed == 0),
        "{reports:?}"
    );
    let counts = store.outbox_counts().expect("counts");
    assert_eq!((counts.pending, counts.sent), (0, MAILS as u64));
}

/// The file transport fails while its folder cannot be created (a file is in the
/// way): each failure waits longer than the one before, nothing is sent early, and
/// the mail goes out once the way is clear.
fn a_failing_transport_backs_off_then_delivers(db: &TestDatabase) {
    let store = db.store();
    let sealer = sealer();
    let root = tempfile::tempdir().expect("dir");
    let blocked = root.path().join("outbox");
    std::fs::write(&blocked, b"in the way").expect("write");
    let config = file_config(&blocked);
    let clock = Arc::new(FixedClock::at(at(0)));
    let outbox = Outbox::new(sealer.clone(), &config);
    let worker = Worker::new(store.clone(), sealer, &config, clock.clone()).expect("worker");
    let id = queue_code(&store, &outbox, "a@example.com", None, "654321", at(0));

    let mut waits = vec![];
    for attempt in 1..=4u32 {
        let now = clock.now();
        assert_eq!(
            drain(&worker),
            DrainReport {
                claimed: 1,
                sent: 0,
                retried: 1,
                failed: 0,
                ..DrainReport::default()
            }
        );
        let mail = store.mail_by_id(id).expect("read").expect("still queued");
        assert_eq!(mail.attempts, attempt);
        assert!(mail.sealed_body.is_some(), "nothing lost");
        assert_eq!(mail.lease_owner, None, "the lease is freed");
        assert!(
            mail.last_error
                .as_deref()
                .is_some_and(|e| e.contains("outbox")),
            "{:?}",
            mail.last_error
        );
        let wait = mail.next_attempt_at - now;
        waits.push(wait);
        // Not due before its time.
        clock.set(mail.next_attempt_at - TimeDelta::milliseconds(1));
        assert_eq!(
            drain(&worker).claimed,
            0,
            "attempt {attempt} is not due yet"
        );
        clock.set(mail.next_attempt_at);
    }
    eprintln!("backoff: {waits:?}");
    let base = TimeDelta::seconds(30);
    for (n, wait) in waits.iter().enumerate() {
        let nominal = base * (1 << n);
        assert!(
            *wait <= nominal && *wait >= nominal * 3 / 4,
            "wait {n}: {wait} vs {nominal}"
        );
    }
    assert!(waits.windows(2).all(|w| w[1] > w[0]), "growing: {waits:?}");

    std::fs::remove_file(&blocked).expect("clear the way");
    assert_eq!(
        drain(&worker),
        DrainReport {
            claimed: 1,
            sent: 1,
            retried: 0,
            failed: 0,
            ..DrainReport::default()
        }
    );
    let mail = store.mail_by_id(id).expect("read").expect("kept");
    assert_eq!((mail.attempts, mail.sealed_body.is_none()), (5, true));
    assert_eq!(eml_files(&blocked), BTreeSet::from([format!("{id}.eml")]));
    let parsed = read_eml(&blocked.join(format!("{id}.eml")));
    assert_eq!(
        parsed["body"].as_str().and_then(|b| b.lines().next()),
        Some("654321")
    );
}

/// A lease that expired (its worker died mid-send) makes the mail due again, and the
/// worker that lost it can no longer record an outcome for it.
fn an_expired_lease_moves_to_another_worker(db: &TestDatabase) {
    let store = db.store();
    let outbox = Outbox::new(sealer(), &MailConfig::default());
    let id = queue_code(&store, &outbox, "b@example.com", None, "777777", at(0));
    let first = store.claim_mails("w1", at(0), at(60), 10).expect("claim");
    assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), vec![id]);
    assert_eq!(first[0].lease_owner.as_deref(), Some("w1"));
    assert!(
        store
            .claim_mails("w2", at(59), at(120), 10)
            .expect("claim")
            .is_empty(),
        "leased"
    );
    let second = store.claim_mails("w2", at(60), at(120), 10).expect("claim");
    assert_eq!(second.len(), 1, "the lease expired");
    // A worker renews only a lease it still holds.
    assert_eq!(
        store
            .renew_mail_leases(&[id], "w1", at(130))
            .expect("renew"),
        0
    );
    assert_eq!(
        store
            .renew_mail_leases(&[id], "w2", at(130))
            .expect("renew"),
        1
    );
    assert!(
        store
            .claim_mails("w3", at(125), at(200), 10)
            .expect("claim")
            .is_empty(),
        "renewed until 130"
    );
    assert!(
        !store.mark_mail_sent(id, "w1", at(61)).expect("update"),
        "w1 lost it"
    );
    assert!(
        !store
            .retry_mail_later(id, "w1", "x", at(90))
            .expect("update")
    );
    assert!(store.mark_mail_sent(id, "w2", at(61)).expect("update"));
    assert!(
        !store.mark_mail_sent(id, "w2", at(62)).expect("update"),
        "only once"
    );
    assert_eq!(
        store.mail_by_id(id).expect("read").and_then(|m| m.sent_at),
        Some(at(61))
    );

    // A mail handed back is due again at once, for anyone; only its holder can.
    let other = queue_code(&store, &outbox, "c@example.com", None, "888888", at(70));
    assert_eq!(
        store
            .claim_mails("w1", at(70), at(130), 10)
            .expect("claim")
            .len(),
        1
    );
    assert_eq!(
        store.release_mails(&[other, id], "w2").expect("release"),
        0,
        "not w2's"
    );
    assert_eq!(
        store.release_mails(&[other, id], "w1").expect("release"),
        1,
        "sent stays sent"
    );
    let again = store.claim_mails("w3", at(71), at(131), 10).expect("claim");
    assert_eq!(
        again.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(),
        vec![(other, 0)]
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&crate::support::TestDatabase::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    let Some(db) = crate::support::TestDatabase::postgres() else { return };
                    super::$name(&db);
                }
            )*
        }
    };
}

on_both_backends!(
    enqueue_commits_or_rolls_back_with_the_transaction,
    bodies_are_sealed_and_erased_once_sent,
    two_workers_never_send_one_mail_twice,
    a_failing_transport_backs_off_then_delivers,
    an_expired_lease_moves_to_another_worker,
    an_expired_codes_mail_is_never_sent,
);

// ---------------------------------------------------------------------------------
// Transports (the backend does not matter here: SQLite).

fn assert_one_time_code_mail(parsed: &Value, from: &str, to: &str, subject: &str, code: &str) {
    assert_eq!(parsed["from"], from, "{parsed}");
    assert_eq!(parsed["to"], to, "{parsed}");
    assert_eq!(parsed["subject"], subject, "{parsed}");
    assert_eq!(parsed["content_type"], "text/plain", "{parsed}");
    assert_eq!(parsed["charset"], "utf-8", "{parsed}");
    assert_eq!(parsed["mime_version"], "1.0", "{parsed}");
    assert_eq!(parsed["defects"], serde_json::json!([]), "{parsed}");
    let body = parsed["body"].as_str().expect("body");
    assert_eq!(body.lines().next(), Some(code), "{body}");
}

#[test]
fn the_file_transport_writes_eml_in_english_and_japanese() {
    let db = TestDatabase::sqlite();
    let store = db.store();
    let sealer = sealer();
    let dir = tempfile::tempdir().expect("dir");
    let clock = Arc::new(FixedClock::at(at(0)));

    let english = file_config(dir.path());
    let en = queue_code(
        &store,
        &Outbox::new(sealer.clone(), &english),
        "Rie.Tanaka@Example.com",
        Some("en-US"),
        "042917",
        at(0),
    );
    Worker::new(store.clone(), sealer.clone(), &english, clock.clone())
        .map(|w| assert_eq!(drain(&w).sent, 1))
        .expect("worker");

    let japanese = MailConfig {
        product_name: "ゲートハウス".to_owned(),
        from: "accounts@id.example.jp".to_owned(),
        ..file_config(dir.path())
    };
    let ja = queue_code(
        &store,
        &Outbox::new(sealer.clone(), &japanese),
        "kenji@example.jp",
        Some("ja-JP"),
        "907113",
        at(0),
    );
    Worker::new(store.clone(), sealer, &japanese, clock)
        .map(|w| assert_eq!(drain(&w).sent, 1))
        .expect("worker");

    let parsed = read_eml(&dir.path().join(format!("{en}.eml")));
    assert_one_time_code_mail(
        &parsed,
        "Gatehouse <no-reply@localhost>",
        "Rie.Tanaka@Example.com",
        "Your Gatehouse one-time code",
        "042917",
    );
    assert!(
        parsed["body"]
            .as_str()
            .is_some_and(|b| b.contains("valid for 10 minutes")),
        "{parsed}"
    );
    assert_eq!(parsed["message_id"], format!("<{en}@localhost>"));
    assert_eq!(
        parsed["date"], "Mon, 21 Sep 2026 14:13:20 +0000",
        "{parsed}"
    );

    let path = dir.path().join(format!("{ja}.eml"));
    let parsed = read_eml(&path);
    assert_one_time_code_mail(
        &parsed,
        "ゲートハウス <accounts@id.example.jp>",
        "kenji@example.jp",
        "ゲートハウス のワンタイムコード",
        "907113",
    );
    assert!(
        parsed["body"]
            .as_str()
            .is_some_and(|b| b.contains("有効期限は10分です")),
        "{parsed}"
    );
    assert_eq!(parsed["message_id"], format!("<{ja}@id.example.jp>"));
    // RFC 5322 on the wire: 7-bit clean (the subject RFC 2047-encoded, the body
    // transfer-encoded) and CRLF line ends.
    assert_eq!(
        (
            parsed["ascii_only"].as_bool(),
            parsed["crlf_only"].as_bool()
        ),
        (Some(true), Some(true)),
        "{parsed}"
    );
    let raw = std::fs::read_to_string(&path).expect("ascii");
    assert!(
        raw.to_ascii_lowercase().contains("subject: =?utf-8?b?"),
        "{raw}"
    );
}

#[test]
fn the_log_transport_sends_nothing_but_marks_sent() {
    let db = TestDatabase::sqlite();
    let store = db.store();
    let sealer = sealer();
    let config = MailConfig {
        transport: MailTransportKind::Log,
        ..MailConfig::default()
    };
    let id = queue_code(
        &store,
        &Outbox::new(sealer.clone(), &config),
        "c@example.com",
        None,
        "1",
        at(0),
    );
    let worker = Worker::new(
        store.clone(),
        sealer,
        &config,
        Arc::new(FixedClock::at(at(5))),
    )
    .expect("worker");
    assert_eq!(drain(&worker).sent, 1);
    let mail = store.mail_by_id(id).expect("read").expect("kept");
    assert_eq!((mail.sent_at, mail.sealed_body), (Some(at(5)), None));
}

/// Over SMTP to a real server process. While it is down, mails stay queued (retried
/// with backoff); once it is up again they are delivered, none lost.
#[test]
fn smtp_delivers_and_loses_nothing_while_the_server_is_down() {
    let db = TestDatabase::sqlite();
    let store = db.store();
    let sealer = sealer();
    let port = free_port();
    let config = MailConfig {
        transport: MailTransportKind::Smtp,
        smtp_host: "127.0.0.1".to_owned(),
        smtp_port: port,
        smtp_tls: SmtpTls::None,
        smtp_timeout_seconds: 5,
        ..MailConfig::default()
    };
    let clock = Arc::new(FixedClock::at(at(0)));
    let outbox = Outbox::new(sealer.clone(), &config);
    let worker = Worker::new(store.clone(), sealer, &config, clock.clone()).expect("worker");

    let en = queue_code(
        &store,
        &outbox,
        "one@example.com",
        Some("en"),
        "100001",
        at(0),
    );
    let ja = queue_code(
        &store,
        &outbox,
        "two@example.jp",
        Some("ja"),
        "200002",
        at(0),
    );
    assert_eq!(
        drain(&worker),
        DrainReport {
            claimed: 2,
            sent: 0,
            retried: 2,
            failed: 0,
            ..DrainReport::default()
        },
        "the server is down"
    );
    for id in [en, ja] {
        let mail = store.mail_by_id(id).expect("read").expect("queued");
        assert!(
            mail.is_pending() && mail.sealed_body.is_some(),
            "kept for later"
        );
        assert!(
            mail.last_error
                .as_deref()
                .is_some_and(|e| e.contains(&format!("127.0.0.1:{port}"))),
            "{:?}",
            mail.last_error
        );
    }

    let server = SmtpServer::start(port);
    assert_eq!(server.port, port);
    assert_eq!(drain(&worker).claimed, 0, "not due yet: backoff");
    clock.advance(TimeDelta::seconds(30));
    assert_eq!(
        drain(&worker),
        DrainReport {
            claimed: 2,
            sent: 2,
            retried: 0,
            failed: 0,
            ..DrainReport::default()
        }
    );
    let third = queue_code(
        &store,
        &outbox,
        "three@example.com",
        None,
        "300003",
        clock.now(),
    );
    assert_eq!(
        drain(&worker).sent,
        1,
        "straight through while the server is up"
    );

    let received = server.received();
    assert_eq!(received.len(), 3, "{received:?}");
    let find = |to: &str| {
        received
            .iter()
            .find(|(envelope, _)| envelope["rcpt_tos"] == serde_json::json!([to]))
            .unwrap_or_else(|| panic!("no mail to {to}: {received:?}"))
    };
    let (envelope, parsed) = find("one@example.com");
    assert_eq!(envelope["mail_from"], "no-reply@localhost");
    assert_one_time_code_mail(
        parsed,
        "Gatehouse <no-reply@localhost>",
        "one@example.com",
        "Your Gatehouse one-time code",
        "100001",
    );
    let (_, parsed) = find("two@example.jp");
    assert_one_time_code_mail(
        parsed,
        "Gatehouse <no-reply@localhost>",
        "two@example.jp",
        "Gatehouse のワンタイムコード",
        "200002",
    );
    find("three@example.com");
    for id in [en, ja, third] {
        let mail = store.mail_by_id(id).expect("read").expect("kept");
        assert!(mail.sent_at.is_some() && mail.sealed_body.is_none());
    }
    assert_eq!(
        store.mail_by_id(en).expect("read").map(|m| m.attempts),
        Some(2)
    );
}

/// The server runs the worker in the background and stops it when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_drains_the_outbox_in_the_background_until_it_stops() {
    let db = TestDatabase::sqlite();
    let dir = tempfile::tempdir().expect("dir");
    let mut config = test_config(&db.url);
    config.mail = file_config(dir.path());
    let outbox = server_outbox(&config);
    let server = TestServer::start_with(config, None).await;
    let store = db.store();

    let id = queue_code(&store, &outbox, "d@example.com", None, "404404", Utc::now());
    let wanted = BTreeSet::from([format!("{id}.eml")]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while eml_files(dir.path()) != wanted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(eml_files(dir.path()), wanted, "the worker delivered it");

    drop(server);
    // The worker finishes its round and stops with the server.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let late = queue_code(&store, &outbox, "e@example.com", None, "505505", Utc::now());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(eml_files(dir.path()), wanted, "nothing sent once stopped");
    assert!(
        store
            .mail_by_id(late)
            .expect("read")
            .is_some_and(|m| m.is_pending())
    );
}

/// The worker lingers only behind a round that found several mails: mail queued one at a
/// time goes at once (an MFA login waits for its code), mail queued while a stream is
/// flowing waits for the next round (and goes out with the mail queued beside it), and
/// a stop does not wait the linger out.
#[test]
fn mail_queued_in_a_stream_lingers_for_one_round_and_lone_mail_goes_at_once() {
    let db = TestDatabase::sqlite();
    let store = db.store();
    let dir = tempfile::tempdir().expect("dir");
    let config = MailConfig {
        linger_ms: 1000,
        poll_interval_seconds: 60,
        ..file_config(dir.path())
    };
    let sealer = sealer();
    let wake = gatehouse_provider::mail::Wake::default();
    let outbox = Outbox::new(sealer.clone(), &config).with_wake(wake.clone());
    let worker = Worker::new(store.clone(), sealer, &config, Arc::new(SystemClock))
        .expect("worker")
        .with_wake(wake)
        .spawn()
        .expect("spawn");
    let queue_quietly = |to: &str| queue_code(&store, &outbox, to, None, "123123", Utc::now());
    let queue = |to: &str| {
        let id = queue_quietly(to);
        outbox.wake();
        (id, Instant::now())
    };
    let sent_within = |id: MailId, limit: Duration| {
        let deadline = Instant::now() + limit;
        loop {
            if eml_files(dir.path()).contains(&format!("{id}.eml")) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    // Mails one at a time, each right behind the last: none waits for a linger.
    for to in ["a@example.com", "b@example.com", "c@example.com"] {
        let (id, queued) = queue(to);
        assert!(sent_within(id, Duration::from_secs(5)));
        assert!(
            queued.elapsed() < Duration::from_millis(500),
            "a lone mail goes at once ({:?})",
            queued.elapsed()
        );
    }

    // Two mails found by one round: a stream. Mail right behind them waits for the
    // next round, a linger after the last began.
    let pair = [
        queue_quietly("d@example.com"),
        queue_quietly("e@example.com"),
    ];
    outbox.wake();
    for id in pair {
        assert!(sent_within(id, Duration::from_secs(5)));
    }
    let (behind, _) = queue("f@example.com");
    let (beside, _) = queue("g@example.com");
    assert!(!sent_within(behind, Duration::from_millis(300)), "lingers");
    assert!(sent_within(behind, Duration::from_secs(5)));
    assert!(
        sent_within(beside, Duration::from_secs(1)),
        "in the same round"
    );

    // A stop asked for while the worker lingers is not held up by it.
    let (left, _) = queue("e@example.com");
    let stopping = Instant::now();
    worker.stop();
    assert!(
        stopping.elapsed() < Duration::from_millis(700),
        "{:?}",
        stopping.elapsed()
    );
    assert!(
        store
            .mail_by_id(left)
            .expect("read")
            .is_some_and(|m| m.is_pending()),
        "unsent mail stays queued for the next start"
    );
}

// ---------------------------------------------------------------------------------
// Delivery through crashes and outages: as close to exactly once as SMTP allows, and
// never pointlessly late.

fn smtp_config(port: u16) -> MailConfig {
    MailConfig {
        transport: MailTransportKind::Smtp,
        smtp_host: "127.0.0.1".to_owned(),
        smtp_port: port,
        smtp_tls: SmtpTls::None,
        smtp_timeout_seconds: 10,
        poll_interval_seconds: 1,
        ..MailConfig::default()
    }
}

/// Waits until `server` has received `n` mails (or `within` has passed); the mails.
fn received_at_least(server: &SmtpServer, n: usize, within: Duration) -> Vec<(Value, Value)> {
    let deadline = Instant::now() + within;
    loop {
        let mails = server.received();
        if mails.len() >= n || Instant::now() >= deadline {
            return mails;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An instance killed (`kill -9`) between sending a mail and recording it: another
/// instance sends it again within seconds of the short lease's end, as the same mail
/// (the same `Message-ID`, so a receiving system can drop the repeat). It waited out a
/// whole lease of several minutes before.
#[test]
fn a_killed_instances_mail_goes_out_again_within_seconds_as_the_same_mail() {
    let db = TestDatabase::sqlite();
    let smtp = SmtpServer::start_holding(free_port(), Duration::from_secs(3));
    let mut config = test_config(&db.url);
    config.mail = smtp_config(smtp.port);
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let first = crate::support::process::ServerProcess::start(&config, dirs[0].path());
    let id = queue_code(
        &db.store(),
        &server_outbox(&config),
        "rie@example.com",
        None,
        "424242",
        Utc::now(),
    );
    // The first instance has handed the mail over; the server holds its answer.
    assert_eq!(
        received_at_least(&smtp, 1, Duration::from_secs(20)).len(),
        1
    );
    first.kill();
    let killed = Instant::now();
    assert!(
        db.store()
            .mail_by_id(id)
            .expect("read")
            .expect("row")
            .sent_at
            .is_none(),
        "killed before it recorded the send"
    );
    let _second = crate::support::process::ServerProcess::start(&config, dirs[1].path());
    let mails = received_at_least(&smtp, 2, Duration::from_secs(60));
    let again_after = killed.elapsed();
    eprintln!("a killed instance's mail went out again after {again_after:?}");
    assert_eq!(mails.len(), 2, "sent again by the other instance");
    assert_eq!(mails[0].1["message_id"], mails[1].1["message_id"]);
    assert_eq!(mails[0].1["message_id"], format!("<{id}@localhost>"));
    assert!(
        again_after < Duration::from_secs(30),
        "within seconds of the lease's end: {again_after:?}"
    );
}

/// A worker that sent a mail and then lost its database records the send once the
/// database is back, before anything else: the mail is delivered once. It used to
/// forget the mark and send the mail again when its lease ran out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_the_database_missed_is_recorded_when_it_is_back() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let pg = std::env::var(crate::support::POSTGRES_VAR).expect("set");
    let target = crate::http::url_host_port(&pg);
    let proxy = crate::support::proxy::Proxy::start(target).await;
    let proxied = db
        .url
        .replacen(&target.to_string(), &proxy.addr.to_string(), 1);
    let smtp = SmtpServer::start_holding(free_port(), Duration::from_secs(2));
    let config = smtp_config(smtp.port);
    let sealer = sealer();
    let direct = db.store();
    let id = queue_code(
        &direct,
        &Outbox::new(sealer.clone(), &config),
        "ken@example.com",
        None,
        "515151",
        Utc::now(),
    );
    let worker_store = Store::open(
        &gatehouse_store::DatabaseUrl::parse(&proxied).expect("url"),
        &gatehouse_store::PoolOptions {
            max_connections: 2,
            acquire_timeout: Duration::from_secs(1),
        },
    )
    .expect("store");
    let worker = Worker::new(worker_store, sealer, &config, Arc::new(SystemClock))
        .expect("worker")
        .spawn()
        .expect("spawn");
    let smtp_wait = tokio::task::spawn_blocking(move || {
        let got = received_at_least(&smtp, 1, Duration::from_secs(20)).len();
        (smtp, got)
    });
    let (smtp, got) = smtp_wait.await.expect("join");
    assert_eq!(got, 1);
    // The database goes away while the server still holds its 250.
    proxy.go_down();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        direct
            .mail_by_id(id)
            .expect("read")
            .expect("row")
            .sent_at
            .is_none()
    );
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    while direct
        .mail_by_id(id)
        .expect("read")
        .expect("row")
        .sent_at
        .is_none()
    {
        assert!(Instant::now() < deadline, "the send was never recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Past the lease, nothing was sent a second time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.received().len(), 1, "delivered once");
    tokio::task::spawn_blocking(move || worker.stop())
        .await
        .expect("stopped");
    drop(proxy);
}

/// Mail waiting out a backoff after a mail-server outage goes out as soon as a send
/// succeeds again, not when its backoff ends.
#[test]
fn mail_waiting_out_a_backoff_goes_out_once_a_send_succeeds() {
    let db = TestDatabase::sqlite();
    let store = db.store();
    let sealer = sealer();
    let port = free_port();
    let config = smtp_config(port);
    let clock = Arc::new(FixedClock::at(at(0)));
    let outbox = Outbox::new(sealer.clone(), &config);
    let worker = Worker::new(store.clone(), sealer, &config, clock.clone()).expect("worker");
    let early = queue_code(&store, &outbox, "early@example.com", None, "100001", at(0));
    assert_eq!(drain(&worker).retried, 1, "the mail server is down");
    let waiting = store.mail_by_id(early).expect("read").expect("row");
    assert!(waiting.next_attempt_at > at(20), "backing off");

    let server = SmtpServer::start(port);
    clock.advance(TimeDelta::seconds(5));
    queue_code(
        &store,
        &outbox,
        "late@example.com",
        None,
        "200002",
        clock.now(),
    );
    let report = drain(&worker);
    assert_eq!((report.sent, report.hurried), (1, 1), "{report:?}");
    assert_eq!(drain(&worker).sent, 1, "the waiting mail, at once");
    assert_eq!(server.received().len(), 2);
}

/// A mail whose code expired before it could be sent is not sent: it is marked
/// failed (expired) and audited.
fn an_expired_codes_mail_is_never_sent(db: &TestDatabase) {
    let store = db.store();
    let sealer = sealer();
    let dir = tempfile::tempdir().expect("dir");
    let config = file_config(dir.path());
    let outbox = Outbox::new(sealer.clone(), &config);
    // The code is good for 10 minutes; the mail server was away for 11.
    let id = queue_code(&store, &outbox, "late@example.com", None, "999999", at(0));
    let clock = Arc::new(FixedClock::at(at(11 * 60)));
    let worker = Worker::new(store.clone(), sealer, &config, clock).expect("worker");
    let report = drain(&worker);
    assert_eq!((report.claimed, report.expired, report.sent), (1, 1, 0));
    assert!(eml_files(dir.path()).is_empty(), "never sent");
    let mail = store.mail_by_id(id).expect("read").expect("row");
    assert_eq!(mail.failed_at, Some(at(11 * 60)));
    assert_eq!(mail.sealed_body, None, "its body is erased");
    assert_eq!(
        mail.last_error.as_deref(),
        Some(gatehouse_provider::mail::EXPIRED)
    );
    assert_eq!(
        crate::support::count_rows(
            &db.url,
            "SELECT COUNT(*) AS n FROM audit_events WHERE kind = 'mail_expired'"
        ),
        1,
        "audited"
    );
    // A code still good is sent.
    queue_code(
        &store,
        &outbox,
        "soon@example.com",
        None,
        "888888",
        at(11 * 60),
    );
    assert_eq!(drain(&worker).sent, 1);
}
