//! The password step of the headless login API, driven as the login UI drives it.

use gatehouse_core::ports::{AccountRepository, AuditLog, FactorRepository};
use gatehouse_core::{
    AccountStatus, Factor, FactorId, FactorKind, FactorStatus, IdentifierPolicy, LegacyUsername,
};
use gatehouse_provider::Config;
use gatehouse_provider::clients::ClientRequest;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

use crate::support::{TestDatabase, TestServer, test_config};

const PASSWORD: &str = "Correct-Horse#42";

/// A browser at the login UI, holding a fresh `login_challenge`.
struct Login {
    browser: reqwest::Client,
    challenge: String,
}

impl Login {
    async fn start(server: &TestServer) -> Self {
        let browser = server.browser();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", "portal"),
                ("redirect_uri", "https://rp.example.com/cb"),
                ("scope", "openid email"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ])
            .finish();
        let res = browser
            .get(server.url(&format!("/authorize?{query}")))
            .send()
            .await
            .expect("authorize");
        let location =
            url::Url::parse(res.headers()["location"].to_str().expect("ascii")).expect("url");
        let challenge = location
            .query_pairs()
            .find(|(k, _)| k == "login_challenge")
            .map(|(_, v)| v.into_owned())
            .expect("challenge");
        Self { browser, challenge }
    }

    async fn password(
        &self,
        server: &TestServer,
        identifier: &str,
        password: &str,
    ) -> reqwest::Response {
        self.browser
            .post(server.url(&format!("/api/v1/login/{}/password", self.challenge)))
            .json(&json!({"identifier": identifier, "password": password}))
            .send()
            .await
            .expect("password step")
    }
}

async fn server_with(config: impl FnOnce(&mut Config)) -> TestServer {
    let db = TestDatabase::sqlite();
    let mut cfg = test_config(&db.url);
    config(&mut cfg);
    let server = TestServer::start_with(cfg, Some(db)).await;
    server.register_client(ClientRequest {
        id: Some("portal".to_owned()),
        name: "Portal".to_owned(),
        redirect_uris: vec!["https://rp.example.com/cb".to_owned()],
        first_party: true,
        ..ClientRequest::default()
    });
    server
}

async fn problem(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.expect("problem");
    assert_eq!(body["code"], code, "{body}");
    body
}

#[tokio::test]
async fn a_correct_password_leads_to_the_second_factor() {
    let server = server_with(|_| {}).await;
    server.create_account(
        "Rie.Tanaka@example.com",
        Some(PASSWORD),
        AccountStatus::Active,
    );
    let login = Login::start(&server).await;
    let res = login
        .password(&server, "rie.tanaka@EXAMPLE.com", PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let step: Value = res.json().await.expect("json");
    assert_eq!(step["next"], "second_factor");
    assert_eq!(
        step["factors"],
        json!([{
            "id": "email",
            "kind": "email_otp",
            "label": "Email on R***@example.com",
            "masked_email": "R***@example.com"
        }])
    );
    assert_eq!(step["default_factor"], "email");
    assert_eq!(step["identifier_deprecated"], false);

    let view: Value = login
        .browser
        .get(server.url(&format!("/api/v1/login/{}", login.challenge)))
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(view["next"], "second_factor");
}

#[tokio::test]
async fn wrong_password_unknown_account_and_pending_account_look_the_same() {
    let server = server_with(|_| {}).await;
    server.create_account("known@example.com", Some(PASSWORD), AccountStatus::Active);
    server.create_account(
        "pending@example.com",
        None,
        AccountStatus::PendingRegistration,
    );
    let login = Login::start(&server).await;
    let wrong = problem(
        login
            .password(&server, "known@example.com", "Wrong-Horse#42")
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown = problem(
        login
            .password(&server, "nobody@example.com", PASSWORD)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let pending = problem(
        login
            .password(&server, "pending@example.com", PASSWORD)
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, pending);
}

/// Each answer costs one argon2 verification, whether or not the account exists.
/// Password guessing is throttled per account: ten attempts in a row fail, then the
/// next is refused unchecked (even the right password) until the window ends. An
/// identifier that names no account is throttled alike, so the refusal tells nothing.
/// A right password before the limit starts the count again.
#[tokio::test]
async fn password_guessing_is_throttled_per_account_alike_for_unknown_ones() {
    let server = server_with(|_| {}).await;
    server.create_account("known@example.com", Some(PASSWORD), AccountStatus::Active);
    server.create_account("other@example.com", Some(PASSWORD), AccountStatus::Active);
    let login = Login::start(&server).await;
    let mut refusals = vec![];
    for identifier in ["known@example.com", "nobody@example.com"] {
        for _ in 0..10 {
            problem(
                login.password(&server, identifier, "Wrong-Horse#42").await,
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
            )
            .await;
        }
        let res = login.password(&server, identifier, PASSWORD).await;
        let retry_after: u64 = res.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=900).contains(&retry_after), "{retry_after}");
        let mut body = problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        body["retry_after"] = Value::Null;
        refusals.push(body);
    }
    assert_eq!(refusals[0], refusals[1], "known and unknown look the same");
    // The owner sees the refused attempt among their security events.
    let known = server
        .store()
        .account_by_email(&gatehouse_core::Email::parse("known@example.com").expect("email"))
        .expect("read")
        .expect("known");
    let events = server
        .store()
        .events_of(known.id, None, 20)
        .expect("events");
    assert_eq!(
        events[0].event.detail.get("reason").map(String::as_str),
        Some("password_attempts"),
        "{events:?}"
    );

    // Nine wrong, then the right one: the count starts again.
    for round in 0..2 {
        for _ in 0..9 {
            problem(
                login
                    .password(&server, "other@example.com", "Wrong-Horse#42")
                    .await,
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
            )
            .await;
        }
        let res = login.password(&server, "other@example.com", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "round {round}");
    }
}

/// Measured with moderately expensive parameters so the hash dominates.
#[tokio::test]
async fn unknown_accounts_cost_as_much_time_as_known_ones() {
    let server = server_with(|c| {
        c.password_hashing.memory_kib = 8 * 1024;
        c.password_hashing.iterations = 2;
    })
    .await;
    server.create_account("known@example.com", Some(PASSWORD), AccountStatus::Active);
    let login = Login::start(&server).await;
    let median = |samples: &mut Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let (mut known, mut unknown) = (vec![], vec![]);
    for _ in 0..9 {
        let t = Instant::now();
        assert_eq!(
            login
                .password(&server, "known@example.com", "Wrong-Horse#42")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        known.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(
            login
                .password(&server, "nobody@example.com", "Wrong-Horse#42")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        unknown.push(t.elapsed());
    }
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "known {known:?}, unknown {unknown:?}"
    );
}

#[tokio::test]
async fn legacy_usernames_follow_the_identifier_policy() {
    for (policy, expected) in [
        (IdentifierPolicy::Warn, Some(true)),
        (IdentifierPolicy::Allowed, Some(false)),
        (IdentifierPolicy::Disabled, None),
    ] {
        let server = server_with(|c| c.identifiers.username_login = policy).await;
        let mut account =
            server.create_account("rie@example.com", Some(PASSWORD), AccountStatus::Active);
        account.legacy_username = Some(LegacyUsername::parse("rtanaka").expect("name"));
        server.store().update_account(&account).expect("username");
        let login = Login::start(&server).await;
        let res = login.password(&server, "RTanaka", PASSWORD).await;
        match expected {
            Some(deprecated) => {
                assert_eq!(res.status(), StatusCode::OK, "{policy:?}");
                let step: Value = res.json().await.expect("json");
                assert_eq!(step["identifier_deprecated"], deprecated, "{policy:?}");
            }
            None => {
                problem(
                    res,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "username_login_disabled",
                )
                .await;
            }
        }
    }
}

#[tokio::test]
async fn locked_and_disabled_accounts_say_so_only_after_the_right_password() {
    let server = server_with(|_| {}).await;
    server.create_account("locked@example.com", Some(PASSWORD), AccountStatus::Locked);
    server.create_account("off@example.com", Some(PASSWORD), AccountStatus::Disabled);
    let login = Login::start(&server).await;
    problem(
        login
            .password(&server, "locked@example.com", "Wrong-Horse#42")
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    problem(
        login
            .password(&server, "locked@example.com", PASSWORD)
            .await,
        StatusCode::FORBIDDEN,
        "account_locked",
    )
    .await;
    problem(
        login.password(&server, "off@example.com", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
}

/// One hashing thread, no queue, a slow hash: of three simultaneous password checks,
/// the ones that find the thread busy are refused at once with 503 and `Retry-After`.
#[tokio::test]
async fn a_full_hashing_queue_answers_503_with_retry_after() {
    let server = server_with(|c| {
        c.login.password_queue = 0;
        c.login.password_threads = 1;
        c.password_hashing.memory_kib = 32 * 1024;
        c.password_hashing.iterations = 3;
    })
    .await;
    server.create_account("rie@example.com", Some(PASSWORD), AccountStatus::Active);
    let logins = [
        Login::start(&server).await,
        Login::start(&server).await,
        Login::start(&server).await,
    ];
    let (a, b, c) = tokio::join!(
        logins[0].password(&server, "rie@example.com", PASSWORD),
        logins[1].password(&server, "rie@example.com", PASSWORD),
        logins[2].password(&server, "rie@example.com", PASSWORD),
    );
    let answers = [a, b, c];
    let mut busy = 0;
    let mut ok = 0;
    for res in answers {
        if res.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(
                res.headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some("1")
            );
            problem(res, StatusCode::SERVICE_UNAVAILABLE, "busy").await;
            busy += 1;
        } else {
            assert_eq!(res.status(), StatusCode::OK);
            ok += 1;
        }
    }
    assert!(ok >= 1 && busy >= 1, "{ok} answered, {busy} refused");
}

#[tokio::test]
async fn old_hash_parameters_are_upgraded_at_login() {
    let server = server_with(|_| {}).await;
    let mut account = server.create_account("rie@example.com", None, AccountStatus::Active);
    let old = gatehouse_core::PasswordHasher::new(&gatehouse_core::password::HashingParams {
        memory_kib: 32,
        iterations: 1,
        parallelism: 1,
    })
    .expect("hasher");
    account.password_hash = Some(old.hash(PASSWORD).expect("hash"));
    server.store().update_account(&account).expect("update");
    let login = Login::start(&server).await;
    assert_eq!(
        login
            .password(&server, "rie@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    let stored = server
        .store()
        .account_by_id(account.id)
        .expect("read")
        .expect("account")
        .password_hash
        .expect("hash");
    assert!(
        stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
        "{stored}"
    );
}

#[tokio::test]
async fn stored_factors_are_offered_and_retired_sms_is_not() {
    let server = server_with(|_| {}).await;
    let account = server.create_account("rie@example.com", Some(PASSWORD), AccountStatus::Active);
    let sms = Factor {
        id: FactorId::new(),
        account_id: account.id,
        kind: FactorKind::Sms,
        status: FactorStatus::Active,
        label: Some("+81 90-****-5678".to_owned()),
        public_data: None,
        secret: None,
        created_at: chrono::Utc::now(),
        last_used_at: None,
    };
    server.store().insert_factor(&sms).expect("factor");
    let login = Login::start(&server).await;
    let step: Value = login
        .password(&server, "rie@example.com", PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let kinds: Vec<_> = step["factors"]
        .as_array()
        .expect("factors")
        .iter()
        .map(|f| f["kind"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("email_otp")]);
}

#[tokio::test]
async fn malformed_bodies_are_problems_not_500s() {
    let server = server_with(|_| {}).await;
    let login = Login::start(&server).await;
    let url = server.url(&format!("/api/v1/login/{}/password", login.challenge));
    let res = login
        .browser
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    problem(res, StatusCode::BAD_REQUEST, "invalid_json").await;
    let res = login
        .browser
        .post(&url)
        .json(&json!({"identifier": "a@example.com"}))
        .send()
        .await
        .expect("send");
    problem(res, StatusCode::BAD_REQUEST, "invalid_json").await;
    let res = login
        .browser
        .post(&url)
        .json(&json!({"identifier": "  ", "password": "x"}))
        .send()
        .await
        .expect("send");
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "identifier_missing").await;
}

/// A failed login whose audit event cannot be written is not answered as a mere wrong
/// password: the step fails (503) rather than lose the record silently.
#[tokio::test]
async fn a_failed_login_that_cannot_be_audited_fails_the_step() {
    let server = server_with(|_| {}).await;
    server.create_account("known@example.com", Some(PASSWORD), AccountStatus::Active);
    let login = Login::start(&server).await;
    problem(
        login
            .password(&server, "known@example.com", "Wrong-Horse#42")
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    // The audit log is gone (a broken disk, a bad migration): its writes fail.
    server.execute_sql("ALTER TABLE audit_events RENAME TO audit_events_away");
    problem(
        login
            .password(&server, "known@example.com", "Wrong-Horse#42")
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
}
