//! Push approval over HTTP, with the reference device of the `gatehouse` command as
//! the phone: it enrols from the URI of the QR code the account API hands out, lists
//! its pending sign-ins and answers them with requests signed by its own key. The
//! login UI is a browser that challenges the push factor and polls `verify`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gatehouse_core::AuditKind;
use gatehouse_core::ports::{AuditLog, PushRepository};
use gatehouse_core::push::PushStatus;
use gatehouse_provider::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Output;

use crate::factors::{
    Api, EMAIL, Login, World, account_api, amr, audit_kinds, early_in_an_account_window,
    id_token_claims, mails, problem, wait_for_subject, world_with,
};
use crate::support::{TestDatabase, gatehouse};

/// The issuer is the server's real address, so the URI in the QR code is one a phone
/// on this machine can reach.
fn on_a_known_port(config: &mut Config) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    config.server.bind = format!("127.0.0.1:{port}");
    config.server.issuer = format!("http://127.0.0.1:{port}");
}

/// A world whose issuer the reference phone can reach; `tweak` changes the rest.
pub(crate) async fn push_world(db: TestDatabase, tweak: impl FnOnce(&mut Config)) -> World {
    // Built before the server starts: a build must not stall a running test.
    crate::support::gatehouse_bin();
    world_with(db, |config| {
        on_a_known_port(config);
        tweak(config);
    })
    .await
}

/// The reference phone: `gatehouse push-device …` with its key in a temp folder.
pub(crate) struct Phone {
    dir: tempfile::TempDir,
    key: PathBuf,
}

impl Phone {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("phone dir");
        let key = dir.path().join("device.pem");
        Self { dir, key }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = vec!["push-device"];
        all.extend_from_slice(args);
        let key = self.key.display().to_string();
        all.extend_from_slice(&["--key-file", &key]);
        gatehouse(self.dir.path())
            .args(&all)
            .output()
            .expect("gatehouse runs")
    }

    /// Runs a command that must succeed; its JSON output.
    pub(crate) fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "push-device {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    }

    /// Runs a command that must fail; its error line.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "push-device {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub(crate) fn pending(&self) -> Vec<Value> {
        self.ok(&["pending"])["challenges"]
            .as_array()
            .expect("challenges")
            .clone()
    }

    /// The one pending challenge: its id and candidates.
    pub(crate) fn the_pending(&self) -> (String, Vec<u8>) {
        let pending = self.pending();
        assert_eq!(pending.len(), 1, "{pending:?}");
        (
            pending[0]["id"].as_str().expect("id").to_owned(),
            candidates(&pending[0]),
        )
    }

    /// The candidates of the pending challenge `id`, among others still pending (a
    /// push left unanswered when its login went on with another method).
    pub(crate) fn candidates_of(&self, id: &str) -> Vec<u8> {
        let pending = self.pending();
        let challenge = pending
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not pending: {pending:?}"));
        candidates(challenge)
    }

    pub(crate) fn approve(&self, challenge: &str, number: u8) -> Output {
        self.run(&["approve", challenge, "--number", &number.to_string()])
    }
}

fn candidates(challenge: &Value) -> Vec<u8> {
    challenge["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|n| u8::try_from(n.as_u64().expect("number")).expect("small"))
        .collect()
}

/// Starts a push enrolment through the account API and lets `phone` register with the
/// URI; returns the factor id.
pub(crate) async fn enrol(api: &Api<'_>, phone: &Phone, name: &str) -> String {
    let res = api.start(json!({"kind": "push"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["factor"]["kind"], "push");
    assert_eq!(body["factor"]["status"], "pending");
    let id = body["factor"]["id"].as_str().expect("id").to_owned();
    let setup = &body["setup"];
    let uri = setup["enrolment_uri"].as_str().expect("enrolment_uri");
    assert!(uri.starts_with("gatehouse-push://enroll?"), "{uri}");
    let parsed = url::Url::parse(uri).expect("uri");
    let param = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(
        param("server").as_deref(),
        Some(api.w.server.config.server.issuer.as_str())
    );
    assert!(param("ticket").is_some_and(|t| t.len() >= 40));
    assert_eq!(setup["expires_in"], 600);
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(setup["qr_png_base64"].as_str().expect("png"))
        .expect("base64");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let svg = setup["qr_svg"].as_str().expect("svg");
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));

    // Nothing to confirm by hand: the phone's registration activates the method.
    problem(
        api.confirm(&id, json!({"kind": "push", "name": "x"})).await,
        StatusCode::CONFLICT,
        "push_device_pending",
    )
    .await;
    let registered = phone.ok(&["enroll", uri, "--name", name]);
    assert_eq!(registered["device_id"], id.as_str());
    assert_eq!(
        registered["audience"],
        api.w.server.config.server.issuer.as_str()
    );
    // Confirming now tells the page the phone has registered.
    let res = api.confirm(&id, json!({"kind": "push"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let confirmed: Value = res.json().await.expect("json");
    assert_eq!(
        (confirmed["id"].as_str(), confirmed["status"].as_str()),
        (Some(id.as_str()), Some("active"))
    );
    let key = std::fs::read_to_string(&phone.key).expect("key file");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");

    // The ticket works once.
    let other = Phone::new();
    let again = other.refused(&["enroll", uri]);
    assert!(again.contains("HTTP 410 push_ticket_invalid"), "{again}");
    id
}

/// A login past the password with the push factor challenged: (login, factor, number
/// shown).
async fn pushed_login(w: &World) -> (Login, String, u8) {
    let login = Login::begin(w, "app", "openid").await;
    let factor = login.offered("push").expect("push is offered");
    let (number, _) = send_push(w, &login, &factor).await;
    (login, factor, number)
}

/// Challenges the push `factor` in `login`: the number the screen shows and the id of
/// the challenge the phone receives.
pub(crate) async fn send_push(w: &World, login: &Login, factor: &str) -> (u8, String) {
    let shown = login.challenge(w, factor).await;
    let number = u8::try_from(shown["number"].as_u64().expect("number")).expect("small");
    assert!((10..=99).contains(&number), "{shown}");
    assert_eq!(shown["poll_interval"], 2);
    let id = shown["challenge_id"].as_str().expect("challenge_id");
    (number, id.to_owned())
}

/// The login screen asks whether the phone has answered.
pub(crate) async fn poll(w: &World, login: &Login, factor: &str) -> reqwest::Response {
    login
        .post(
            w,
            &format!("factors/{factor}/verify"),
            json!({"kind": "push"}),
        )
        .await
}

fn wrong(candidates: &[u8], number: u8) -> u8 {
    *candidates
        .iter()
        .find(|c| **c != number)
        .expect("another candidate")
}

async fn push_from_enrolment_to_login(db: TestDatabase) {
    let w = push_world(db, |_| {}).await;
    let api = account_api(&w).await;
    let phone = Phone::new();
    let id = enrol(&api, &phone, "Pixel 8").await;

    let listed = api.list().await;
    let push = listed["factors"]
        .as_array()
        .expect("factors")
        .iter()
        .find(|f| f["id"] == id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(push["status"], "active");
    assert_eq!(push["kind"], "push");
    assert_eq!(push["label"], "Push notification to Pixel 8");
    let push_kind = listed["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .find(|k| k["kind"] == "push")
        .expect("push kind")
        .clone();
    assert_eq!(push_kind["enrollable"], true);
    assert_eq!(
        audit_kinds(&w),
        vec![
            (AuditKind::PushDeviceEnrolled, "push".to_owned()),
            (AuditKind::FactorAdded, "push".to_owned()),
        ]
    );
    wait_for_subject(
        w.mail_dir.path(),
        EMAIL,
        "A sign-in method was added to your Gatehouse account",
        1,
    )
    .await;
    let mail = mails(w.mail_dir.path(), EMAIL)
        .into_iter()
        .find(|(s, _)| s.contains("added"))
        .expect("mail");
    assert!(mail.1.contains("Push notification"), "{}", mail.1);

    // The login: the screen shows a number, the phone sees it among three.
    let (login, factor, number) = pushed_login(&w).await;
    assert_eq!(factor, id);
    let waiting = poll(&w, &login, &factor).await;
    assert_eq!(waiting.status(), StatusCode::ACCEPTED);
    let waiting: Value = waiting.json().await.expect("json");
    assert_eq!(waiting["next"], "pending");
    let (challenge, candidates) = phone.the_pending();
    assert_eq!(candidates.len(), 3);
    assert!(
        candidates.contains(&number),
        "{candidates:?} lacks {number}"
    );
    let saved = phone.dir.path().join("approve.jwt");
    let approved = phone.ok(&[
        "approve",
        &challenge,
        "--number",
        &number.to_string(),
        "--save-request",
        &saved.display().to_string(),
    ]);
    assert_eq!(approved["status"], "approved");
    assert!(phone.pending().is_empty());

    // A signed request works once.
    let jwt = std::fs::read_to_string(&saved).expect("saved request");
    let replayed = w
        .server
        .client
        .post(
            w.server
                .url(&format!("/api/v1/push/challenges/{challenge}")),
        )
        .bearer_auth(jwt.trim())
        .send()
        .await
        .expect("replay");
    problem(replayed, StatusCode::UNAUTHORIZED, "device_token_replayed").await;

    let done = poll(&w, &login, &factor).await;
    let tokens = login.tokens(&w, done).await;
    assert_eq!(amr(&id_token_claims(&tokens)), ["pwd", "swk", "mfa"]);
    let kinds = audit_kinds(&w);
    assert!(
        kinds.contains(&(AuditKind::PushApproved, String::new())),
        "{kinds:?}"
    );

    // The approval finished its login; the challenge is spent.
    let store = w.server.store();
    let spent = store
        .push_challenge(&challenge)
        .expect("read")
        .expect("row");
    assert_eq!(spent.status, PushStatus::Used);

    // Removing the method tells the owner, and the phone is no longer known.
    let res = api.remove(&id).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    wait_for_subject(
        w.mail_dir.path(),
        EMAIL,
        "A sign-in method was removed from your Gatehouse account",
        1,
    )
    .await;
    let gone = phone.refused(&["pending"]);
    assert!(gone.contains("HTTP 401 invalid_device_token"), "{gone}");
}

#[tokio::test]
async fn sqlite_push_from_enrolment_to_login() {
    push_from_enrolment_to_login(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_push_from_enrolment_to_login() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    push_from_enrolment_to_login(db).await;
}

async fn denied_wrong_late_and_throttled(db: TestDatabase) {
    early_in_an_account_window().await;
    let w = push_world(db, |config| config.push.challenge_ttl_seconds = 4).await;
    let api = account_api(&w).await;
    let phone = Phone::new();
    enrol(&api, &phone, "Pixel").await;

    // Denied on the phone: the login fails, and the denial is audited.
    let (login, factor, _) = pushed_login(&w).await;
    let (challenge, _) = phone.the_pending();
    assert_eq!(phone.ok(&["deny", &challenge])["status"], "denied");
    problem(
        poll(&w, &login, &factor).await,
        StatusCode::FORBIDDEN,
        "push_denied",
    )
    .await;
    let kinds = audit_kinds(&w);
    assert!(
        kinds.contains(&(AuditKind::PushDenied, String::new())),
        "{kinds:?}"
    );
    // Answered once: a second answer is refused.
    let twice = phone.refused(&["deny", &challenge]);
    assert!(
        twice.contains("HTTP 409 push_challenge_answered"),
        "{twice}"
    );

    // The wrong number: the challenge fails, so does the login.
    let (login, factor, number) = pushed_login(&w).await;
    let (challenge, candidates) = phone.the_pending();
    let out = phone.approve(&challenge, wrong(&candidates, number));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 422 push_number_mismatch"), "{err}");
    let late_right = phone.approve(&challenge, number);
    assert!(
        String::from_utf8_lossy(&late_right.stderr).contains("HTTP 409 push_challenge_answered")
    );
    problem(
        poll(&w, &login, &factor).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "push_number_mismatch",
    )
    .await;

    // After expiry: the phone's answer is refused and the login screen says so.
    let (login, factor, number) = pushed_login(&w).await;
    let (challenge, _) = phone.the_pending();
    w.clock.advance(chrono::TimeDelta::seconds(5));
    assert!(
        phone.pending().is_empty(),
        "an expired challenge is not listed"
    );
    let late = phone.approve(&challenge, number);
    let err = String::from_utf8_lossy(&late.stderr);
    assert!(err.contains("HTTP 410 push_challenge_expired"), "{err}");
    problem(
        poll(&w, &login, &factor).await,
        StatusCode::GONE,
        "push_expired",
    )
    .await;

    // Wrong numbers are throttled per factor: five in 15 minutes (one is used above),
    // then 429 with Retry-After, even for the right number.
    for left in (0..4).rev() {
        let (_login, _factor, number) = pushed_login(&w).await;
        let (challenge, candidates) = phone.the_pending();
        let out = phone.approve(&challenge, wrong(&candidates, number));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("HTTP 422 push_number_mismatch"),
            "{left}: {err}"
        );
    }
    let (_login, _factor, number) = pushed_login(&w).await;
    let (challenge, _) = phone.the_pending();
    let out = phone.approve(&challenge, number);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HTTP 429 rate_limited (Retry-After: "),
        "{err}"
    );

    // … and per account: a second phone on the same account gets three more tries
    // (eight wrong numbers per account in 15 minutes), then 429 too.
    let second = Phone::new();
    let api = account_api(&w).await;
    let second_id = enrol(&api, &second, "Tablet").await;
    for attempt in 0..4 {
        let login = Login::begin(&w, "app", "openid").await;
        let (number, _) = send_push(&w, &login, &second_id).await;
        let (challenge, candidates) = second.the_pending();
        let out = second.approve(&challenge, wrong(&candidates, number));
        let err = String::from_utf8_lossy(&out.stderr);
        if attempt < 3 {
            assert!(
                err.contains("HTTP 422 push_number_mismatch"),
                "{attempt}: {err}"
            );
        } else {
            assert!(
                err.contains("HTTP 429 rate_limited (Retry-After: "),
                "{err}"
            );
            assert!(err.contains("account"), "{err}");
        }
    }
    let events = w
        .server
        .store()
        .events_of(w.account.id, None, 100)
        .expect("audit");
    assert!(events.iter().all(|e| {
        e.event
            .detail
            .values()
            .all(|v| !v.contains("BEGIN") && v.len() < 200)
    }));
}

#[tokio::test]
async fn sqlite_push_denied_wrong_number_late_answer_and_throttling() {
    denied_wrong_late_and_throttled(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_push_denied_wrong_number_late_answer_and_throttling() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    denied_wrong_late_and_throttled(db).await;
}

/// Requests the device did not sign, or signed wrongly, are refused.
#[tokio::test]
async fn unsigned_or_foreign_device_requests_are_refused() {
    let w = push_world(TestDatabase::sqlite(), |_| {}).await;
    let list = |auth: Option<&str>| {
        let req = w.server.client.get(w.server.url("/api/v1/push/challenges"));
        match auth {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
        .send()
    };
    problem(
        list(None).await.expect("list"),
        StatusCode::UNAUTHORIZED,
        "invalid_device_token",
    )
    .await;
    problem(
        list(Some("not.a.jwt")).await.expect("list"),
        StatusCode::UNAUTHORIZED,
        "invalid_device_token",
    )
    .await;
    // An unknown ticket, and a key that is not P-256.
    let res = w
        .server
        .client
        .post(w.server.url("/api/v1/push/devices"))
        .json(
            &json!({"ticket": "nope", "public_key": {"kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}),
        )
        .send()
        .await
        .expect("register");
    problem(res, StatusCode::GONE, "push_ticket_invalid").await;
    let res = w
        .server
        .client
        .post(w.server.url("/api/v1/push/devices"))
        .json(&json!({"ticket": "nope", "public_key": {"kty": "RSA", "n": "x", "e": "AQAB"}}))
        .send()
        .await
        .expect("register");
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_public_key").await;
    let res = w
        .server
        .client
        .post(w.server.url("/api/v1/push/devices"))
        .json(
            &json!({"ticket": "nope", "public_key": {"kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"}}),
        )
        .send()
        .await
        .expect("register");
    problem(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_public_key").await;
}

/// One request the fake push gateway received: its headers (lowercase names) and body.
struct GatewayCall {
    headers: Vec<(String, String)>,
    body: Value,
}

/// A push gateway on a local port: records each POST, answers 204.
async fn fake_gateway() -> (String, tokio::sync::mpsc::UnboundedReceiver<GatewayCall>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/push", listener.local_addr().expect("addr"));
    let (calls, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let calls = calls.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let (head, body) = loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break (head.to_owned(), body[..length].to_owned());
                    }
                };
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
                    .collect();
                let _ = calls.send(GatewayCall {
                    headers,
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                });
                let _ = socket
                    .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, received)
}

/// The webhook notifier POSTs the device's push token and the challenge id to the
/// gateway, with its bearer token; never the number.
#[tokio::test]
async fn the_webhook_notifier_feeds_the_push_gateway() {
    early_in_an_account_window().await;
    let (gateway, mut calls) = fake_gateway().await;
    let w = push_world(TestDatabase::sqlite(), |config| {
        config.push.notifier = "webhook".to_owned();
        config.push.webhook_url = gateway.clone();
        config.push.webhook_token = "gateway-secret".to_owned();
    })
    .await;
    let api = account_api(&w).await;
    // A device with a push token.
    let res = api.start(json!({"kind": "push"})).await;
    let body: Value = res.json().await.expect("json");
    let id = body["factor"]["id"].as_str().expect("id").to_owned();
    let uri = body["setup"]["enrolment_uri"].as_str().expect("uri");
    let phone = Phone::new();
    phone.ok(&[
        "enroll",
        uri,
        "--name",
        "Pixel",
        "--push-token",
        "apns-token-123",
    ]);

    let (_login, _factor, _number) = pushed_login(&w).await;
    let call = tokio::time::timeout(std::time::Duration::from_secs(10), calls.recv())
        .await
        .expect("the gateway is called")
        .expect("a call");
    let (challenge, _) = phone.the_pending();
    assert_eq!(call.body["push_token"], "apns-token-123");
    assert_eq!(call.body["device_id"], id.as_str());
    assert_eq!(call.body["challenge_id"], challenge.as_str());
    assert_eq!(call.body["client_id"], "app");
    assert!(call.body.get("number").is_none(), "{}", call.body);
    let header = |name: &str| {
        call.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("authorization").as_deref(),
        Some("Bearer gateway-secret")
    );

    // A phone is not flooded: ten pushes per factor per 15 minutes.
    let login = Login::begin(&w, "app", "openid").await;
    for _ in 1..10 {
        login.challenge(&w, &id).await;
    }
    let res = login
        .post(&w, &format!("factors/{id}/challenge"), json!({}))
        .await;
    let retry_after = res.headers().get("retry-after").cloned();
    let body = problem(res, StatusCode::TOO_MANY_REQUESTS, "push_send_limit").await;
    let retry: u64 = retry_after
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert_eq!(body["retry_after"], retry);
    assert!((1..=900).contains(&retry));
    // The login itself stays valid: another method still works.
    login.challenge(&w, "email").await;
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
}

/// The store keeps devices and challenges, lets one answer win, lists only live
/// pending challenges, and drops both with their factor.
fn push_storage(store: &gatehouse_store::Store) {
    use chrono::{TimeDelta, Utc};
    use gatehouse_core::ports::{AccountRepository, FactorRepository};
    use gatehouse_core::push::{PushChallenge, PushDevice};
    use gatehouse_core::{
        Account, AccountStatus, Email, Factor, FactorId, FactorKind, FactorStatus, Subject,
    };
    let now = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now");
    let account = Account::new(
        Subject::generate(),
        Some(Email::parse("push@example.com").expect("email")),
        AccountStatus::Active,
        now,
    );
    store.insert_account(&account).expect("account");
    let factor = Factor {
        id: FactorId::new(),
        account_id: account.id,
        kind: FactorKind::Push,
        status: FactorStatus::Pending,
        label: None,
        public_data: None,
        secret: None,
        created_at: now,
        last_used_at: None,
    };
    store.insert_factor(&factor).expect("factor");
    let mut device = PushDevice {
        factor_id: factor.id,
        account_id: account.id,
        ticket_hash: "hash-1".to_owned(),
        ticket_expires_at: now + TimeDelta::minutes(10),
        public_jwk: None,
        push_token: None,
        name: None,
        registered_at: None,
    };
    store.insert_push_device(&device).expect("device");
    assert_eq!(
        store.push_device_by_ticket("hash-1").expect("read"),
        Some(device.clone())
    );
    assert_eq!(store.push_device_by_ticket("hash-2").expect("read"), None);
    device.public_jwk = Some("{\"kty\":\"EC\"}".to_owned());
    device.push_token = Some("token".to_owned());
    device.name = Some("Pixel".to_owned());
    device.registered_at = Some(now);
    store.update_push_device(&device).expect("update");
    // Millisecond precision on both backends.
    let stored = store.push_device(factor.id).expect("read").expect("device");
    assert_eq!(stored.public_jwk, device.public_jwk);
    assert_eq!(stored.name.as_deref(), Some("Pixel"));
    let challenge = |id: &str, created: chrono::DateTime<Utc>, ttl: i64| PushChallenge {
        id: id.to_owned(),
        factor_id: factor.id,
        account_id: account.id,
        login_request_id: "login-1".to_owned(),
        client_id: "app".to_owned(),
        number: 42,
        candidates: vec![17, 42, 93],
        status: PushStatus::Pending,
        created_at: created,
        expires_at: created + TimeDelta::seconds(ttl),
        answered_at: None,
    };
    store
        .insert_push_challenge(&challenge("old", now - TimeDelta::minutes(5), 120))
        .expect("old");
    store
        .insert_push_challenge(&challenge("live", now, 120))
        .expect("live");
    let pending = store
        .pending_push_challenges(factor.id, now)
        .expect("pending");
    assert_eq!(
        pending.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["live"]
    );
    assert_eq!(pending[0].candidates, vec![17, 42, 93]);
    assert_eq!(
        store
            .latest_push_challenge("login-1", factor.id)
            .expect("latest")
            .map(|c| c.id),
        Some("live".to_owned())
    );
    // Of two answers, one wins.
    assert_eq!(
        store.settle_push_challenge("live", PushStatus::Pending, PushStatus::Approved, now),
        Ok(true)
    );
    assert_eq!(
        store.settle_push_challenge("live", PushStatus::Pending, PushStatus::Denied, now),
        Ok(false)
    );
    let live = store.push_challenge("live").expect("read").expect("row");
    assert_eq!(live.status, PushStatus::Approved);
    assert!(live.answered_at.is_some());
    assert!(
        store
            .pending_push_challenges(factor.id, now)
            .expect("pending")
            .is_empty()
    );
    // Removing the factor removes its device and challenges.
    store.delete_factor(factor.id).expect("delete");
    assert_eq!(store.push_device(factor.id).expect("read"), None);
    assert_eq!(store.push_challenge("live").expect("read"), None);
}

#[test]
fn sqlite_push_storage() {
    let db = TestDatabase::sqlite();
    push_storage(&db.store());
}

#[test]
fn postgres_push_storage() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    push_storage(&db.store());
}

/// `[push]` from the environment: the notifier is checked, the gateway token redacted.
#[test]
fn push_configuration_is_checked_and_its_token_redacted() {
    let env = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    let defaults = Config::load(None, env(&[])).expect("defaults");
    assert_eq!(defaults.push.notifier, "log");
    assert_eq!(defaults.push.challenge_ttl_seconds, 120);
    assert_eq!(defaults.push.ticket_ttl_seconds, 600);
    let webhook = Config::load(
        None,
        env(&[
            ("GATEHOUSE_PUSH_NOTIFIER", "webhook"),
            (
                "GATEHOUSE_PUSH_WEBHOOK_URL",
                "http://push-relay.internal:8081/push",
            ),
            ("GATEHOUSE_PUSH_WEBHOOK_TOKEN", "relay-secret"),
        ]),
    )
    .expect("webhook config");
    let shown = webhook.redacted_toml().expect("toml");
    assert!(!shown.contains("relay-secret"), "{shown}");
    assert!(shown.contains("webhook_token = \"***\""), "{shown}");
    assert!(!format!("{webhook:?}").contains("relay-secret"));
    for (pairs, key) in [
        (
            vec![("GATEHOUSE_PUSH_NOTIFIER", "carrier-pigeon")],
            "push.notifier",
        ),
        (
            vec![("GATEHOUSE_PUSH_NOTIFIER", "webhook")],
            "push.webhook_url",
        ),
        (
            vec![
                ("GATEHOUSE_PUSH_NOTIFIER", "webhook"),
                (
                    "GATEHOUSE_PUSH_WEBHOOK_URL",
                    "https://relay.example.com/push",
                ),
            ],
            "push.webhook_url",
        ),
        (
            vec![("GATEHOUSE_PUSH_CHALLENGE_TTL_SECONDS", "0")],
            "push.challenge_ttl_seconds",
        ),
    ] {
        let error = Config::load(None, env(&pairs)).expect_err("refused");
        assert!(error.to_string().contains(key), "{key}: {error}");
    }
}
