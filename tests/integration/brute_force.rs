//! Brute-force protection of login passwords and the client-address rule, driven as
//! browsers behind a reverse proxy would: each "address" is the `X-Forwarded-For`
//! entry a trusted proxy (the test's own 127.0.0.1) adds.

use gatehouse_core::ports::AuditLog;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::account::{
    EMAIL, PASSWORD, SCOPE, World, call, login_via, mail_with_subject, ok, password_step_via,
    problem, world_with,
};
use crate::support::TestDatabase;

const WRONG: &str = "Wrong-Horse#42";

/// The password step from a browser at `address`.
async fn attempt(w: &World, identifier: &str, password: &str, address: &str) -> reqwest::Response {
    let (_, _, _, res) =
        password_step_via(w, identifier, password, "Browser", SCOPE, Some(address)).await;
    res
}

async fn refused(res: reqwest::Response) -> Value {
    let retry_after: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1);
    problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await
}

async fn behind_proxy(
    db: TestDatabase,
    tweak: impl FnOnce(&mut gatehouse_provider::Config),
) -> World {
    world_with(db, |c| {
        c.server.trusted_proxies = "127.0.0.1/32".to_owned();
        tweak(c);
    })
    .await
}

/// Ten wrong passwords from one address block that address for the account, never
/// the owner elsewhere (it was the whole account: anyone could lock anyone out).
#[tokio::test]
async fn a_strangers_guesses_never_lock_the_owner_out() {
    let w = behind_proxy(TestDatabase::sqlite(), |_| {}).await;
    for _ in 0..10 {
        problem(
            attempt(&w, EMAIL, WRONG, "203.0.113.66").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    // The stranger is refused unchecked, even with the right password…
    let body = refused(attempt(&w, EMAIL, PASSWORD, "203.0.113.66").await).await;
    assert_eq!(body["title"], "Too many attempts for this account");
    // … the owner is not, from their own address.
    assert_eq!(
        attempt(&w, EMAIL, PASSWORD, "198.51.100.7").await.status(),
        StatusCode::OK
    );
    // The refusal is among the owner's security events, with the stranger's address.
    let events = w
        .server
        .store()
        .events_of(w.account.id, None, 50)
        .expect("events");
    let refusal = events
        .iter()
        .find(|e| e.event.detail.get("reason").map(String::as_str) == Some("password_attempts"))
        .expect("the refusal is audited");
    assert_eq!(refusal.event.ip.as_deref(), Some("203.0.113.66"));
}

/// Wrong passwords from one address over many accounts (spraying) block that address;
/// right passwords are not counted against it, and other addresses go on.
async fn password_spraying_is_refused_per_address(db: TestDatabase) {
    let w = behind_proxy(db, |c| c.brute_force.address_failures = 12).await;
    // Right passwords from a busy address (an office behind NAT) count for nothing.
    for _ in 0..4 {
        assert_eq!(
            attempt(&w, EMAIL, PASSWORD, "192.0.2.10").await.status(),
            StatusCode::OK
        );
    }
    for n in 0..12 {
        problem(
            attempt(&w, &format!("user{n}@example.com"), WRONG, "192.0.2.10").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    let body = refused(attempt(&w, EMAIL, PASSWORD, "192.0.2.10").await).await;
    assert_eq!(body["title"], "Too many attempts from this address");
    refused(attempt(&w, "user99@example.com", WRONG, "192.0.2.10").await).await;
    // Another address is not concerned.
    problem(
        attempt(&w, "user0@example.com", WRONG, "192.0.2.11").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        attempt(&w, EMAIL, PASSWORD, "192.0.2.11").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn sqlite_password_spraying_is_refused_per_address() {
    password_spraying_is_refused_per_address(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_password_spraying_is_refused_per_address() {
    if let Some(db) = TestDatabase::postgres() {
        password_spraying_is_refused_per_address(db).await;
    }
}

/// Many wrong passwords for one account from many addresses never refuse its owner,
/// but mail them once per window and leave an audit event.
#[tokio::test]
async fn the_owner_hears_of_many_wrong_passwords_once_per_window() {
    let w = behind_proxy(TestDatabase::sqlite(), |c| {
        c.brute_force.account_address_failures = 3;
        c.brute_force.account_alert_failures = 4;
    })
    .await;
    for address in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        for _ in 0..3 {
            problem(
                attempt(&w, EMAIL, WRONG, address).await,
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
            )
            .await;
        }
    }
    assert_eq!(
        attempt(&w, EMAIL, PASSWORD, "198.51.100.7").await.status(),
        StatusCode::OK,
        "the right password is never refused for the account's sake"
    );
    let mail = mail_with_subject(w.mail_dir.path(), EMAIL, "Someone is trying to sign in").await;
    assert!(
        mail["body"]
            .as_str()
            .is_some_and(|b| b.contains("4 sign-in attempts")),
        "{mail}"
    );
    assert_eq!(
        w.server.count_sql(
            "SELECT COUNT(*) AS n FROM mail_outbox WHERE subject LIKE 'Someone is trying%'"
        ),
        1,
        "nine failures, one mail"
    );
    let alerts: Vec<_> = w
        .server
        .store()
        .events_of(w.account.id, None, 50)
        .expect("events")
        .into_iter()
        .filter(|e| e.event.kind == gatehouse_core::AuditKind::FailedLoginsAlert)
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
}

/// `X-Forwarded-For` is believed only from a trusted proxy, and then only its
/// right-most entry that is not a trusted proxy itself: one rule for the sessions
/// list, the audit trail and the resend limit.
#[tokio::test]
async fn the_client_address_is_the_peer_unless_a_trusted_proxy_says_otherwise() {
    let chain = "6.6.6.6, 192.0.2.44, 10.1.2.3";
    let direct = world_with(TestDatabase::sqlite(), |c| c.migration.resend_per_ip = 1).await;
    let proxied = world_with(TestDatabase::sqlite(), |c| {
        c.server.trusted_proxies = "127.0.0.1 10.0.0.0/8".to_owned();
        c.migration.resend_per_ip = 1;
    })
    .await;
    for (w, expected) in [(&direct, "127.0.0.1"), (&proxied, "192.0.2.44")] {
        let tokens = login_via(w, EMAIL, PASSWORD, EMAIL, "Laptop", SCOPE, Some(chain)).await;
        let t = Some(tokens.access.as_str());
        let list = ok(
            call(w, Method::GET, "/api/v1/account/sessions", t, None).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(list["sessions"][0]["ip"], expected, "{list}");
        let page = ok(
            call(w, Method::GET, "/api/v1/account/events?limit=1", t, None).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(page["events"][0]["kind"], "login_succeeded");
        assert_eq!(page["events"][0]["ip"], expected, "{page}");
    }
    // The resend limit counts per client address alike.
    let resend = |w: &World, address: &str| {
        w.http
            .post(w.server.url("/api/v1/registration/resend"))
            .header("x-forwarded-for", address)
            .json(&json!({"email": "someone@example.com"}))
            .send()
    };
    for w in [&direct, &proxied] {
        assert_eq!(
            resend(w, "192.0.2.1").await.expect("resend").status(),
            StatusCode::ACCEPTED
        );
    }
    // Directly, a forged header is no new address; behind the proxy it is one.
    assert_eq!(
        resend(&direct, "192.0.2.2").await.expect("resend").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        resend(&proxied, "192.0.2.2")
            .await
            .expect("resend")
            .status(),
        StatusCode::ACCEPTED
    );
}
