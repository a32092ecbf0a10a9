//! The account API (profile, password, sessions, security events, e-mail change) and
//! the admin API's account and client actions, over HTTP as the product's UI and an
//! operator's script use them. Tokens come from real logins (password + the e-mail
//! code read from the outbox) and from `client_credentials`; mails are read from the
//! outbox folder; what must be gone after an erasure is checked in the database.

use gatehouse_core::ports::{AccountRepository, EmailChangeRepository};
use gatehouse_core::{AccountStatus, LegacyUsername};
use gatehouse_provider::Config;
use gatehouse_provider::clients::ClientRequest;
use gatehouse_provider::config::MailTransportKind;
use openidconnect::PkceCodeChallenge;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::smtp::read_eml;
use crate::support::{TestDatabase, TestServer, tally, test_config};

const REDIRECT: &str = "https://app.example.com/callback";
pub(crate) const PASSWORD: &str = "Correct-Horse#42";
const NEW_PASSWORD: &str = "Battery-Staple#77!";
pub(crate) const EMAIL: &str = "rie@example.com";
pub(crate) const SCOPE: &str = "openid email gatehouse:account";

pub(crate) struct World {
    pub server: TestServer,
    /// Never reuses a connection: reading mail blocks this test's runtime, and a
    /// pooled connection the server closed meanwhile would fail the next request.
    pub http: reqwest::Client,
    pub mail_dir: tempfile::TempDir,
    pub app_secret: String,
    pub account: gatehouse_core::Account,
}

pub(crate) async fn world_with(db: TestDatabase, tweak: impl FnOnce(&mut Config)) -> World {
    let mail_dir = tempfile::tempdir().expect("mail dir");
    let mut config = test_config(&db.url);
    config.mail.transport = MailTransportKind::File;
    config.mail.file_dir = mail_dir.path().display().to_string();
    config.mail.poll_interval_seconds = 1;
    tweak(&mut config);
    let server = TestServer::start_with(config, Some(db)).await;
    let (_, secret) = server.register_client(ClientRequest {
        id: Some("app".to_owned()),
        name: "App".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        scopes: ["openid", "email", "gatehouse:account"]
            .map(str::to_owned)
            .to_vec(),
        first_party: true,
        ..ClientRequest::default()
    });
    let account = server.create_account(EMAIL, Some(PASSWORD), AccountStatus::Active);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    World {
        server,
        http,
        mail_dir,
        app_secret: secret.expect("secret"),
        account,
    }
}

async fn world(db: TestDatabase) -> World {
    world_with(db, |_| {}).await
}

/// Mails to `to`, oldest first, decoded. Only files whose `To:` header names `to`
/// are handed to the (slow) independent parser.
pub(crate) fn mails_to(dir: &Path, to: &str) -> Vec<Value> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    paths.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let header = format!("to: {}", to.to_lowercase());
    paths
        .iter()
        .filter(|p| {
            std::fs::read_to_string(p).is_ok_and(|text| {
                text.split("\r\n\r\n")
                    .next()
                    .is_some_and(|head| head.lines().any(|l| l.to_lowercase() == header))
            })
        })
        .map(|p| read_eml(p))
        .filter(|m| m["to"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(to)))
        .collect()
}

/// The one-time codes mailed to `to` so far (the first line of each code mail).
pub(crate) fn codes_to(dir: &Path, to: &str) -> Vec<String> {
    mails_to(dir, to)
        .iter()
        .filter_map(|m| m["body"].as_str()?.lines().next().map(str::to_owned))
        .filter(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

/// Waits for code number `n` (0-based) mailed to `to`.
pub(crate) async fn nth_code(dir: &Path, to: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(code) = codes_to(dir, to).get(n) {
            return code.clone();
        }
        assert!(Instant::now() < deadline, "no code {n} mailed to {to}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for a mail to `to` whose subject contains `subject`; its decoded form.
pub(crate) async fn mail_with_subject(dir: &Path, to: &str, subject: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(mail) = mails_to(dir, to)
            .into_iter()
            .find(|m| m["subject"].as_str().is_some_and(|s| s.contains(subject)))
        {
            return mail;
        }
        assert!(
            Instant::now() < deadline,
            "no mail {subject:?} to {to}: {:?}",
            mails_to(dir, to)
                .iter()
                .map(|m| m["subject"].clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
}

/// The password step of a login from a browser calling itself `agent`: the browser
/// and its challenge, and the answer.
async fn password_step(
    w: &World,
    identifier: &str,
    password: &str,
    agent: &str,
    scope: &str,
) -> (
    reqwest::Client,
    String,
    openidconnect::PkceCodeVerifier,
    reqwest::Response,
) {
    password_step_via(w, identifier, password, agent, scope, None).await
}

/// The same from a browser behind a proxy that sends `X-Forwarded-For: forwarded_for`
/// on each of its requests.
pub(crate) async fn password_step_via(
    w: &World,
    identifier: &str,
    password: &str,
    agent: &str,
    scope: &str,
    forwarded_for: Option<&str>,
) -> (
    reqwest::Client,
    String,
    openidconnect::PkceCodeVerifier,
    reqwest::Response,
) {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(chain) = forwarded_for {
        headers.insert(
            "x-forwarded-for",
            reqwest::header::HeaderValue::from_str(chain).expect("header value"),
        );
    }
    let browser = reqwest::Client::builder()
        .default_headers(headers)
        .cookie_store(true)
        .pool_max_idle_per_host(0)
        .user_agent(agent)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser");
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("code_challenge", pkce.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let res = browser
        .get(w.server.url(&format!("/authorize?{query}")))
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = url::Url::parse(res.headers()["location"].to_str().expect("ascii")).expect("url");
    let challenge = to
        .query_pairs()
        .find(|(k, _)| k == "login_challenge")
        .map(|(_, v)| v.into_owned())
        .expect("login_challenge");
    let res = browser
        .post(w.server.url(&format!("/api/v1/login/{challenge}/password")))
        .json(&json!({"identifier": identifier, "password": password}))
        .send()
        .await
        .expect("password");
    (browser, challenge, verifier, res)
}

/// A full login: password, the e-mail code mailed to `mailbox`, /token.
pub(crate) async fn login_as(
    w: &World,
    identifier: &str,
    password: &str,
    mailbox: &str,
    agent: &str,
    scope: &str,
) -> Tokens {
    login_via(w, identifier, password, mailbox, agent, scope, None).await
}

/// The same from a browser behind a proxy (`password_step_via`).
pub(crate) async fn login_via(
    w: &World,
    identifier: &str,
    password: &str,
    mailbox: &str,
    agent: &str,
    scope: &str,
    forwarded_for: Option<&str>,
) -> Tokens {
    let (browser, challenge, verifier, res) =
        password_step_via(w, identifier, password, agent, scope, forwarded_for).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "password step of {identifier}"
    );
    let step = |path: &str| w.server.url(&format!("/api/v1/login/{challenge}/{path}"));
    let before = codes_to(w.mail_dir.path(), mailbox).len();
    let res = browser
        .post(step("factors/email/challenge"))
        .json(&json!({}))
        .send()
        .await
        .expect("challenge");
    assert_eq!(res.status(), StatusCode::OK);
    let code = nth_code(w.mail_dir.path(), mailbox, before).await;
    let res = browser
        .post(step("factors/email/verify"))
        .json(&json!({"kind": "email_otp", "code": code}))
        .send()
        .await
        .expect("verify");
    assert_eq!(res.status(), StatusCode::OK);
    let done: Value = res.json().await.expect("json");
    let tokens = w
        .server
        .redeem_login(&done, ("app", &w.app_secret), REDIRECT, verifier.secret())
        .await;
    Tokens {
        access: tokens["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh: tokens["refresh_token"].as_str().map(str::to_owned),
    }
}

async fn login(w: &World, agent: &str) -> Tokens {
    login_as(w, EMAIL, PASSWORD, EMAIL, agent, SCOPE).await
}

/// A wrong e-mail code at the second step (a failed login for the events list).
async fn failed_second_factor(w: &World) {
    let (browser, challenge, _, res) = password_step(w, EMAIL, PASSWORD, "Tablet", SCOPE).await;
    assert_eq!(res.status(), StatusCode::OK);
    let step = |path: &str| w.server.url(&format!("/api/v1/login/{challenge}/{path}"));
    let before = codes_to(w.mail_dir.path(), EMAIL).len();
    browser
        .post(step("factors/email/challenge"))
        .json(&json!({}))
        .send()
        .await
        .expect("challenge");
    let code = nth_code(w.mail_dir.path(), EMAIL, before).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let res = browser
        .post(step("factors/email/verify"))
        .json(&json!({"kind": "email_otp", "code": wrong}))
        .send()
        .await
        .expect("verify");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

pub(crate) async fn call(
    w: &World,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = w.http.request(method, w.server.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

pub(crate) async fn ok(res: reqwest::Response, status: StatusCode) -> Value {
    let got = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

pub(crate) async fn problem(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let got = res.status();
    let content_type = res.headers().get("content-type").cloned();
    let body: Value = res.json().await.expect("problem body");
    assert_eq!(got, status, "{body}");
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert_eq!(body["code"], code, "{body}");
    body
}

pub(crate) async fn refresh(w: &World, token: &str) -> reqwest::Response {
    w.http
        .post(w.server.url("/token"))
        .basic_auth("app", Some(&w.app_secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .expect("refresh")
}

fn kinds(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_owned())
        .collect()
}

#[tokio::test]
async fn the_profile_is_read_and_changed_field_by_field() {
    let w = world(TestDatabase::sqlite()).await;
    let mut account = w.account.clone();
    account.legacy_username = Some(LegacyUsername::parse("rtanaka").expect("username"));
    w.server.store().update_account(&account).expect("update");
    let token = login(&w, "Laptop").await.access;
    let t = Some(token.as_str());

    let me = ok(
        call(&w, Method::GET, "/api/v1/account", t, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["email"], EMAIL);
    assert_eq!(me["email_verified"], true);
    assert_eq!(
        me["username"],
        json!({"value": "rtanaka", "deprecated": true})
    );
    assert_eq!(me["sub"], w.account.subject.as_str());
    assert_eq!(me["analytics_consent"], false);
    assert_eq!(me["mfa"]["methods"], json!(["email_otp"]));
    assert_eq!(me["mfa"]["enabled_beyond_email"], false);
    // The password change form ticks the same checklist as registration.
    let rules: Vec<&str> = me["password_policy"]
        .as_array()
        .expect("checklist")
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(
        rules.starts_with(&["too_short", "too_long"]) && rules.contains(&"needs_special"),
        "{rules:?}"
    );

    let patch = json!({
        "given_name": "Rie", "family_name": "Tanaka", "locale": "ja",
        "zoneinfo": "Etc/UTC", "analytics_consent": true
    });
    let me = ok(
        call(&w, Method::PATCH, "/api/v1/account", t, Some(patch)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            &me["given_name"],
            &me["family_name"],
            &me["locale"],
            &me["zoneinfo"],
            &me["analytics_consent"]
        ),
        (
            &json!("Rie"),
            &json!("Tanaka"),
            &json!("ja"),
            &json!("Etc/UTC"),
            &json!(true)
        )
    );
    // Every bad field at once; nothing changes.
    let bad = json!({
        "given_name": "x\u{0007}", "locale": "日本語", "zoneinfo": "Asia//Tokyo",
        "analytics_consent": "yes", "email": "new@example.com", "favourite_colour": "red",
        "family_name": "Sato"
    });
    let body = problem(
        call(&w, Method::PATCH, "/api/v1/account", t, Some(bad)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_fields",
    )
    .await;
    let mut fields: Vec<(String, String)> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["field"].as_str().expect("field").to_owned(),
                f["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect();
    fields.sort();
    let expected: Vec<(String, String)> = [
        ("analytics_consent", "type_invalid"),
        ("email", "read_only"),
        ("favourite_colour", "unknown_field"),
        ("given_name", "name_invalid"),
        ("locale", "locale_invalid"),
        ("zoneinfo", "zoneinfo_invalid"),
    ]
    .iter()
    .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(fields, expected);
    let me = ok(
        call(&w, Method::GET, "/api/v1/account", t, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        me["family_name"], "Tanaka",
        "a refused patch changes nothing"
    );
    // null clears.
    let me = ok(
        call(
            &w,
            Method::PATCH,
            "/api/v1/account",
            t,
            Some(json!({"given_name": null})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["given_name"], Value::Null);
    problem(
        call(&w, Method::PATCH, "/api/v1/account", t, Some(json!([1]))).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;

    // Refusals: no token, a bad one, a token without the account scope.
    let res = call(&w, Method::GET, "/api/v1/account", None, None).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    problem(
        call(
            &w,
            Method::PATCH,
            "/api/v1/account",
            Some("not.a.token"),
            Some(json!({})),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let narrow = login_as(&w, EMAIL, PASSWORD, EMAIL, "Laptop", "openid email").await;
    for (method, path) in [
        (Method::GET, "/api/v1/account"),
        (Method::GET, "/api/v1/account/sessions"),
        (Method::GET, "/api/v1/account/events"),
        (Method::POST, "/api/v1/account/password"),
        (Method::POST, "/api/v1/account/email"),
    ] {
        problem(
            call(&w, method, path, Some(&narrow.access), Some(json!({}))).await,
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        )
        .await;
    }
}

async fn password_change_revokes_other_sessions(db: TestDatabase) {
    let w = world(db).await;
    let laptop = login(&w, "Laptop").await;
    let phone = login(&w, "Phone").await;
    failed_second_factor(&w).await;
    let t = Some(laptop.access.as_str());

    let list = ok(
        call(&w, Method::GET, "/api/v1/account/sessions", t, None).await,
        StatusCode::OK,
    )
    .await;
    let sessions = list["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "{list}");
    // Newest first: the phone, then the laptop (this token's session).
    assert_eq!(sessions[0]["user_agent"], "Phone");
    assert_eq!(sessions[0]["current"], false);
    assert_eq!(sessions[1]["user_agent"], "Laptop");
    assert_eq!(sessions[1]["current"], true);
    assert_eq!(sessions[1]["ip"], "127.0.0.1");
    assert_eq!(sessions[1]["amr"], json!(["pwd", "otp", "mfa"]));

    // Every broken rule at once; a wrong current password.
    let body = problem(
        call(
            &w,
            Method::POST,
            "/api/v1/account/password",
            t,
            Some(json!({"current_password": PASSWORD, "new_password": "short", "new_password_confirmation": "shorter"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "password_policy",
    )
    .await;
    assert_eq!(
        body["violations"],
        json!([
            "too_short",
            "needs_uppercase",
            "needs_digit",
            "needs_special",
            "mismatch"
        ])
    );
    problem(
        call(
            &w,
            Method::POST,
            "/api/v1/account/password",
            t,
            Some(json!({"current_password": "Wrong-Horse#42", "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "current_password_invalid",
    )
    .await;
    let done = ok(
        call(
            &w,
            Method::POST,
            "/api/v1/account/password",
            t,
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["sessions_revoked"], 1);

    // The phone is signed out: its access token and its refresh token are dead.
    problem(
        call(
            &w,
            Method::GET,
            "/api/v1/account",
            Some(&phone.access),
            None,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let res = refresh(&w, phone.refresh.as_deref().expect("refresh token")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    // The laptop goes on, and its refresh token still works.
    ok(
        call(&w, Method::GET, "/api/v1/account", t, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        refresh(&w, laptop.refresh.as_deref().expect("refresh token"))
            .await
            .status(),
        StatusCode::OK
    );
    let list = ok(
        call(&w, Method::GET, "/api/v1/account/sessions", t, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["sessions"].as_array().map(Vec::len), Some(1));
    assert_ne!(
        list["sessions"][0]["last_seen_at"], list["sessions"][0]["created_at"],
        "a refresh counts as the device being seen"
    );

    mail_with_subject(
        w.mail_dir.path(),
        EMAIL,
        "Your Gatehouse password was changed",
    )
    .await;
    // The old password is gone, the new one logs in.
    let (_, _, _, res) = password_step(&w, EMAIL, PASSWORD, "Laptop", SCOPE).await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    login_as(&w, EMAIL, NEW_PASSWORD, EMAIL, "Phone", SCOPE).await;

    // The security events tell what happened, newest first.
    let page = ok(
        call(&w, Method::GET, "/api/v1/account/events?limit=50", t, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        kinds(&page),
        [
            "login_succeeded",
            "login_failed",
            "password_changed",
            "password_change_failed",
            "login_failed",
            "login_succeeded",
            "login_succeeded",
        ]
    );
    assert!(page["next_cursor"].is_null());
    let failed_second = &page["events"][4];
    assert_eq!(failed_second["detail"]["reason"], "second_factor");
    assert_eq!(failed_second["user_agent"], "Tablet");
    // Paged: two at a time, the cursor leads on, nothing is seen twice.
    let mut seen = Vec::new();
    let mut path = "/api/v1/account/events?limit=2".to_owned();
    loop {
        let page = ok(call(&w, Method::GET, &path, t, None).await, StatusCode::OK).await;
        assert!(page["events"].as_array().map(Vec::len) <= Some(2));
        seen.extend(kinds(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/account/events?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, kinds(&page));
    problem(
        call(
            &w,
            Method::GET,
            "/api/v1/account/events?cursor=abc",
            t,
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
    )
    .await;
}

#[tokio::test]
async fn sqlite_password_change_revokes_other_sessions() {
    password_change_revokes_other_sessions(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_password_change_revokes_other_sessions() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    password_change_revokes_other_sessions(db).await;
}

async fn wrong_password(w: &World, token: &str) -> reqwest::Response {
    call(
        w,
        Method::POST,
        "/api/v1/account/password",
        Some(token),
        Some(json!({"current_password": "Wrong-Horse#42", "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD})),
    )
    .await
}

#[tokio::test]
async fn sessions_are_listed_and_signed_out_one_or_all_others() {
    let w = world(TestDatabase::sqlite()).await;
    let a = login(&w, "Laptop").await;
    let b = login(&w, "Phone").await;
    let c = login(&w, "Tablet").await;
    let t = Some(a.access.as_str());
    let list = ok(
        call(&w, Method::GET, "/api/v1/account/sessions", t, None).await,
        StatusCode::OK,
    )
    .await;
    let sessions = list["sessions"].as_array().expect("sessions").clone();
    assert_eq!(sessions.len(), 3);
    let phone = sessions
        .iter()
        .find(|s| s["user_agent"] == "Phone")
        .expect("phone session");
    let id = phone["id"].as_str().expect("id");
    assert_eq!(
        call(
            &w,
            Method::DELETE,
            &format!("/api/v1/account/sessions/{id}"),
            t,
            None
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    problem(
        call(&w, Method::GET, "/api/v1/account", Some(&b.access), None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_eq!(
        refresh(&w, b.refresh.as_deref().expect("refresh"))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    // Gone, unknown, or another account's: the same 404.
    for id in [id, "nope"] {
        problem(
            call(
                &w,
                Method::DELETE,
                &format!("/api/v1/account/sessions/{id}"),
                t,
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "session_not_found",
        )
        .await;
    }
    let body = ok(
        call(&w, Method::DELETE, "/api/v1/account/sessions", t, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["revoked"], 1);
    problem(
        call(&w, Method::GET, "/api/v1/account", Some(&c.access), None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let list = ok(
        call(&w, Method::GET, "/api/v1/account/sessions", t, None).await,
        StatusCode::OK,
    )
    .await;
    let left = list["sessions"].as_array().expect("sessions");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
    let page = ok(
        call(&w, Method::GET, "/api/v1/account/events?limit=2", t, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kinds(&page), ["sessions_revoked", "session_revoked"]);
    problem(
        call(&w, Method::DELETE, "/api/v1/account/sessions", None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled() {
    let w = world(TestDatabase::sqlite()).await;
    let token = login(&w, "Laptop").await.access;
    for left in (0..5).rev() {
        let body = problem(
            wrong_password(&w, &token).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "current_password_invalid",
        )
        .await;
        assert_eq!(body["attempts_left"], left, "{body}");
    }
    let res = wrong_password(&w, &token).await;
    assert!(res.headers().contains_key("retry-after"));
    let body = problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(body["retry_after"].as_i64() > Some(0));
    // Even the right password waits now.
    let res = call(
        &w,
        Method::POST,
        "/api/v1/account/password",
        Some(&token),
        Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

const NEW_EMAIL: &str = "rie.new@example.com";
const KEN: &str = "ken@example.com";

async fn change_email(w: &World, token: &str, email: &str) -> reqwest::Response {
    call(
        w,
        Method::POST,
        "/api/v1/account/email",
        Some(token),
        Some(json!({"email": email})),
    )
    .await
}

async fn confirm_email(w: &World, token: &str, code: &str) -> reqwest::Response {
    call(
        w,
        Method::POST,
        "/api/v1/account/email/confirm",
        Some(token),
        Some(json!({"code": code})),
    )
    .await
}

async fn email_change_end_to_end(db: TestDatabase) {
    let w = world_with(db, |c| {
        c.account_api.email_undo_url = "https://portal.example.com/undo".to_owned();
    })
    .await;
    let mut ken = w
        .server
        .create_account(KEN, Some(PASSWORD), AccountStatus::Active);
    ken.locale = Some("ja-JP".to_owned());
    w.server
        .store()
        .update_account(&ken)
        .expect("ken speaks Japanese");
    let dir = w.mail_dir.path();
    let laptop = login(&w, "Laptop").await;
    let phone = login(&w, "Phone").await;
    let t = laptop.access.as_str();

    // An address of another account: the same answer as a free one, a notice to its
    // owner (in the owner's language), no code anywhere.
    let taken = ok(
        change_email(&w, t, "Ken@Example.com").await,
        StatusCode::ACCEPTED,
    )
    .await;
    mail_with_subject(dir, KEN, "使用されようとしました").await;
    assert!(codes_to(dir, KEN).is_empty());
    let codes_to_old = codes_to(dir, EMAIL).len();
    let free = ok(change_email(&w, t, NEW_EMAIL).await, StatusCode::ACCEPTED).await;
    let shape = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        (keys, v["status"].clone(), v["code_length"].clone())
    };
    assert_eq!(shape(&taken), shape(&free));
    assert_eq!(taken["sent_to"], "K***@Example.com");
    assert_eq!(free["sent_to"], "r***@example.com");
    // The code goes to the new address only.
    let code = nth_code(dir, NEW_EMAIL, 0).await;
    assert_eq!(codes_to(dir, EMAIL).len(), codes_to_old);
    let me = ok(
        call(&w, Method::GET, "/api/v1/account", Some(t), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&me["email"], &me["pending_email"]),
        (&json!(EMAIL), &json!(NEW_EMAIL))
    );
    // Until it is confirmed the old address still logs in, the new one does not.
    let tablet = login(&w, "Tablet").await;
    let (_, _, _, res) = password_step(&w, NEW_EMAIL, PASSWORD, "x", SCOPE).await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let body = problem(
        confirm_email(&w, t, wrong).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "otp_invalid",
    )
    .await;
    assert_eq!(body["attempts_left"], 4);
    let done = ok(confirm_email(&w, t, &code).await, StatusCode::OK).await;
    assert_eq!(done["email"], NEW_EMAIL);
    assert_eq!(done["sessions_revoked"], 2);
    for other in [&phone, &tablet] {
        problem(
            call(
                &w,
                Method::GET,
                "/api/v1/account",
                Some(&other.access),
                None,
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
        let res = refresh(&w, other.refresh.as_deref().expect("refresh")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    // Afterwards the new address logs in and the old one does not.
    let (_, _, _, res) = password_step(&w, EMAIL, PASSWORD, "x", SCOPE).await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    login_as(&w, NEW_EMAIL, PASSWORD, NEW_EMAIL, "Phone", SCOPE).await;

    // Both notices sit in the outbox.
    let notice = mail_with_subject(dir, EMAIL, "Your Gatehouse e-mail address was changed").await;
    let body = notice["body"].as_str().expect("body");
    assert!(
        body.contains("You can no longer log in with this address"),
        "{body}"
    );
    assert!(body.contains("within 72 hours"), "{body}");
    assert!(
        !body.contains(NEW_EMAIL),
        "the old address sees the new one masked"
    );
    let instructions = mail_with_subject(
        dir,
        NEW_EMAIL,
        "Log in to Gatehouse with your new e-mail address",
    )
    .await;
    assert!(
        instructions["body"]
            .as_str()
            .is_some_and(|b| b.contains(&format!("new e-mail: {NEW_EMAIL}"))),
        "{instructions}"
    );
    let link = body
        .split_whitespace()
        .find(|w| w.starts_with("https://portal.example.com/undo?token="))
        .expect("an undo link");
    let token = url::Url::parse(link)
        .expect("link")
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("token");
    // Only a hash of the token is stored.
    let stored = w.server.store().email_undo(&token).expect("lookup");
    assert!(stored.is_none(), "the token itself is never a key");

    // The undo link restores the old address, once, and signs everything out.
    let undo = |token: String| {
        call(
            &w,
            Method::POST,
            "/api/v1/account/email/undo",
            None,
            Some(json!({"token": token})),
        )
    };
    let restored = ok(undo(token.clone()).await, StatusCode::OK).await;
    assert_eq!(restored["email"], EMAIL);
    problem(undo(token).await, StatusCode::CONFLICT, "undo_link_used").await;
    problem(
        undo("nope".to_owned()).await,
        StatusCode::NOT_FOUND,
        "undo_link_unknown",
    )
    .await;
    problem(
        call(&w, Method::GET, "/api/v1/account", Some(t), None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let (_, _, _, res) = password_step(&w, NEW_EMAIL, PASSWORD, "x", SCOPE).await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let fresh = login(&w, "Laptop").await;
    let page = ok(
        call(
            &w,
            Method::GET,
            "/api/v1/account/events?limit=50",
            Some(&fresh.access),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let seen: Vec<String> = kinds(&page)
        .into_iter()
        .filter(|k| k.starts_with("email"))
        .collect();
    assert_eq!(
        seen,
        [
            "email_change_undone",
            "email_changed",
            "email_change_requested",
            "email_change_requested"
        ]
    );
}

#[tokio::test]
async fn sqlite_email_change_end_to_end() {
    email_change_end_to_end(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_email_change_end_to_end() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    email_change_end_to_end(db).await;
}

/// Wrong codes for an address change sent at the same instant are counted one after
/// the other: five are checked, the rest find the request used up.
async fn wrong_email_change_codes_sent_at_once_get_five_tries(db: TestDatabase) {
    let w = world(db).await;
    let t = login(&w, "Laptop").await.access;
    ok(change_email(&w, &t, NEW_EMAIL).await, StatusCode::ACCEPTED).await;
    let code = nth_code(w.mail_dir.path(), NEW_EMAIL, 0).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let answers =
        futures_util::future::join_all((0..10).map(|_| confirm_email(&w, &t, wrong))).await;
    assert_eq!(tally(&answers), BTreeMap::from([(409, 5), (422, 5)]));
}

#[tokio::test]
async fn sqlite_wrong_email_change_codes_sent_at_once_get_five_tries() {
    wrong_email_change_codes_sent_at_once_get_five_tries(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_wrong_email_change_codes_sent_at_once_get_five_tries() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    wrong_email_change_codes_sent_at_once_get_five_tries(db).await;
}

#[tokio::test]
async fn email_change_codes_and_requests_are_throttled_and_fields_checked() {
    let w = world(TestDatabase::sqlite()).await;
    let t = login(&w, "Laptop").await.access;
    for (email, code) in [
        ("not an address", "email_invalid"),
        ("", "email_missing"),
        ("RIE@example.com", "email_unchanged"),
    ] {
        let body = problem(
            change_email(&w, &t, email).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_fields",
        )
        .await;
        assert_eq!(body["fields"], json!([{"field": "email", "code": code}]));
    }
    problem(
        confirm_email(&w, &t, "123456").await,
        StatusCode::CONFLICT,
        "email_change_not_pending",
    )
    .await;
    ok(change_email(&w, &t, NEW_EMAIL).await, StatusCode::ACCEPTED).await;
    let code = nth_code(w.mail_dir.path(), NEW_EMAIL, 0).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (0..5).rev() {
        let body = problem(
            confirm_email(&w, &t, wrong).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp_invalid",
        )
        .await;
        assert_eq!(body["attempts_left"], left);
    }
    // Five wrong codes end the request: even the right one is refused now.
    problem(
        confirm_email(&w, &t, &code).await,
        StatusCode::CONFLICT,
        "otp_exhausted",
    )
    .await;
    // Five requests per window.
    for _ in 0..4 {
        ok(change_email(&w, &t, NEW_EMAIL).await, StatusCode::ACCEPTED).await;
    }
    let res = change_email(&w, &t, NEW_EMAIL).await;
    assert!(res.headers().contains_key("retry-after"));
    problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn email_change_needs_a_recent_login() {
    let w = world_with(TestDatabase::sqlite(), |c| {
        c.account_api.reauthentication_window_seconds = 1;
    })
    .await;
    let t = login(&w, "Laptop").await.access;
    w.server.advance(3);
    for res in [
        change_email(&w, &t, NEW_EMAIL).await,
        confirm_email(&w, &t, "123456").await,
    ] {
        let body = problem(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
        assert_eq!(body["max_age"], 1);
    }
    // Reading and editing the profile need no fresh login.
    ok(
        call(
            &w,
            Method::PATCH,
            "/api/v1/account",
            Some(&t),
            Some(json!({"locale": "ja"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(codes_to(w.mail_dir.path(), NEW_EMAIL).is_empty());
}

/// A `client_credentials` token of a new machine client with these scopes.
async fn machine_token(w: &World, id: &str, scopes: &[&str]) -> String {
    w.server.machine_client(id, scopes).await.1
}

/// `SELECT COUNT(*) AS n …` straight on the database, whichever backend.
fn count(w: &World, sql: &str) -> i64 {
    w.server.count_sql(sql)
}

async fn admin_accounts(db: TestDatabase) {
    let w = world(db).await;
    let admin = machine_token(&w, "ops", &["gatehouse:admin"]).await;
    let reports = machine_token(&w, "reports", &["reports"]).await;
    let a = Some(admin.as_str());
    let mut rie = w.account.clone();
    rie.given_name = Some("Rie".to_owned());
    rie.family_name = Some("Tanaka".to_owned());
    rie.legacy_username = Some(LegacyUsername::parse("rtanaka").expect("username"));
    w.server.store().update_account(&rie).expect("names");
    let mut ken = w
        .server
        .create_account(KEN, Some(PASSWORD), AccountStatus::Active);
    ken.given_name = Some("Ken".to_owned());
    ken.family_name = Some("Sato".to_owned());
    w.server.store().update_account(&ken).expect("names");
    let rie_path = format!("/api/v1/admin/accounts/{}", rie.id);

    // Refusals: no token, another scope, a user's token.
    problem(
        call(&w, Method::GET, "/api/v1/admin/accounts", None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let user = login(&w, "Laptop").await;
    for token in [&reports, &user.access] {
        problem(
            call(
                &w,
                Method::POST,
                &format!("{rie_path}/disable"),
                Some(token),
                None,
            )
            .await,
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        )
        .await;
    }

    // Search by address or name prefix, paged.
    let found = ok(
        call(&w, Method::GET, "/api/v1/admin/accounts?q=TAN", a, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["accounts"][0]["email"], EMAIL);
    assert_eq!(found["accounts"].as_array().map(Vec::len), Some(1));
    let found = ok(
        call(&w, Method::GET, "/api/v1/admin/accounts?q=ken%40", a, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["accounts"][0]["given_name"], "Ken");
    let first = ok(
        call(&w, Method::GET, "/api/v1/admin/accounts?limit=1", a, None).await,
        StatusCode::OK,
    )
    .await;
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = ok(
        call(
            &w,
            Method::GET,
            &format!("/api/v1/admin/accounts?limit=1&cursor={cursor}"),
            a,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_ne!(first["accounts"][0]["id"], second["accounts"][0]["id"]);
    assert!(second["next_cursor"].is_null());
    let shown = ok(
        call(&w, Method::GET, &rie_path, a, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["username"], "rtanaka");
    assert_eq!(shown["live_sessions"], 1);
    problem(
        call(&w, Method::GET, "/api/v1/admin/accounts/nope", a, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Disable blocks login and refresh, and ends the sessions.
    let view = ok(
        call(&w, Method::POST, &format!("{rie_path}/disable"), a, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "disabled");
    let (_, _, _, res) = password_step(&w, EMAIL, PASSWORD, "x", SCOPE).await;
    problem(res, StatusCode::FORBIDDEN, "account_disabled").await;
    let page = ok(
        call(
            &w,
            Method::GET,
            &format!("{rie_path}/events?limit=1"),
            a,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["events"][0]["kind"], "login_failed");
    assert_eq!(page["events"][0]["detail"]["reason"], "disabled");
    let res = refresh(&w, user.refresh.as_deref().expect("refresh")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    problem(
        call(&w, Method::GET, "/api/v1/account", Some(&user.access), None).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    problem(
        call(&w, Method::POST, &format!("{rie_path}/disable"), a, None).await,
        StatusCode::CONFLICT,
        "illegal_transition",
    )
    .await;
    let view = ok(
        call(&w, Method::POST, &format!("{rie_path}/enable"), a, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "active");

    // Unlock clears the throttle on wrong current passwords.
    let token = login(&w, "Laptop").await.access;
    for _ in 0..5 {
        wrong_password(&w, &token).await;
    }
    assert_eq!(
        wrong_password(&w, &token).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // … and the account's budget of wrong second-factor proofs, here spent.
    let budget = format!("wrong-proofs:{}", rie.id);
    w.server.execute_sql(&format!(
        "INSERT INTO rate_limits (key, window_start, hits) VALUES ('{budget}', {}, 8)",
        chrono::Utc::now().timestamp_millis()
    ));
    // … and the throttle on login passwords, after ten wrong ones.
    for _ in 0..10 {
        let (_, _, _, res) = password_step(&w, EMAIL, "Wrong-Horse#42", "Laptop", SCOPE).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let (_, _, _, res) = password_step(&w, EMAIL, PASSWORD, "Laptop", SCOPE).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    ok(
        call(&w, Method::POST, &format!("{rie_path}/unlock"), a, None).await,
        StatusCode::OK,
    )
    .await;
    let (_, _, _, res) = password_step(&w, EMAIL, PASSWORD, "Laptop", SCOPE).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the operator's unlock lets them in"
    );
    assert_eq!(
        w.server.count_sql(&format!(
            "SELECT COUNT(*) AS n FROM rate_limits WHERE key = '{budget}'"
        )),
        0
    );
    problem(
        wrong_password(&w, &token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "current_password_invalid",
    )
    .await;

    // Force logout ends every session.
    let phone = login(&w, "Phone").await;
    let body = ok(
        call(&w, Method::POST, &format!("{rie_path}/logout"), a, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["revoked"], 2);
    for t in [&token, &phone.access] {
        problem(
            call(&w, Method::GET, "/api/v1/account", Some(t), None).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }

    // Every action is in the account's trail, naming the admin client.
    let page = ok(
        call(
            &w,
            Method::GET,
            &format!("{rie_path}/events?limit=100"),
            a,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let by_admin: Vec<(String, String)> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["detail"]["admin_client"] == "ops")
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_owned(),
                e["detail"]["admin_client"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let kinds: Vec<&str> = by_admin.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "sessions_revoked",
            "account_unlocked",
            "account_enabled",
            "account_disabled"
        ]
    );

    // Delete: personal data goes from every account table; the trail keeps its shape.
    let fresh = login(&w, "Laptop").await;
    let codes = call(
        &w,
        Method::POST,
        "/api/v1/account/recovery-codes",
        Some(&fresh.access),
        None,
    )
    .await;
    assert_eq!(codes.status(), StatusCode::CREATED);
    ok(
        change_email(&w, &fresh.access, NEW_EMAIL).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let events_before = count(
        &w,
        &format!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE account_id = '{}'",
            rie.id
        ),
    );
    assert_eq!(
        call(&w, Method::DELETE, &rie_path, a, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let id = rie.id;
    let personal = format!(
        "SELECT COUNT(*) AS n FROM accounts WHERE id = '{id}' AND (email IS NOT NULL \
         OR email_normalized IS NOT NULL OR legacy_username IS NOT NULL \
         OR legacy_username_normalized IS NOT NULL OR given_name IS NOT NULL \
         OR family_name IS NOT NULL OR locale IS NOT NULL OR zoneinfo IS NOT NULL \
         OR password_hash IS NOT NULL)"
    );
    assert_eq!(count(&w, &personal), 0, "personal columns erased");
    for table in [
        "factors",
        "sessions",
        "refresh_tokens",
        "authorization_codes",
        "otp_challenges",
        "login_requests",
        "email_changes",
        "email_undo_tokens",
        "registration_tokens",
        "account_migrations",
    ] {
        assert_eq!(
            count(
                &w,
                &format!("SELECT COUNT(*) AS n FROM {table} WHERE account_id = '{id}'")
            ),
            0,
            "{table}"
        );
    }
    assert_eq!(count(&w, "SELECT COUNT(*) AS n FROM recovery_codes"), 0);
    assert_eq!(count(&w, "SELECT COUNT(*) AS n FROM factor_guards"), 0);
    for address in [EMAIL, NEW_EMAIL] {
        assert_eq!(
            count(
                &w,
                &format!(
                    "SELECT COUNT(*) AS n FROM mail_outbox WHERE lower(recipient) = '{address}'"
                )
            ),
            0,
            "mail to {address}"
        );
    }
    let events_after = count(
        &w,
        &format!("SELECT COUNT(*) AS n FROM audit_events WHERE account_id = '{id}'"),
    );
    assert_eq!(events_after, events_before + 1, "the trail keeps its shape");
    assert_eq!(
        count(
            &w,
            &format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE account_id = '{id}' \
                 AND (ip IS NOT NULL OR user_agent IS NOT NULL)"
            )
        ),
        0
    );
    let shown = ok(
        call(&w, Method::GET, &rie_path, a, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["status"], "disabled");
    assert_eq!(
        shown["sub"],
        rie.subject.as_str(),
        "the sub is never reused"
    );
    assert!(shown["deleted_at"].is_string());
    assert!(shown["email"].is_null());
    problem(
        call(&w, Method::POST, &format!("{rie_path}/enable"), a, None).await,
        StatusCode::CONFLICT,
        "account_deleted",
    )
    .await;
    let (_, _, _, res) = password_step(&w, EMAIL, PASSWORD, "x", SCOPE).await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Nobody else was touched.
    let found = ok(
        call(&w, Method::GET, "/api/v1/admin/accounts", a, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["accounts"].as_array().map(Vec::len), Some(1));
    assert_eq!(found["accounts"][0]["email"], KEN);
}

#[tokio::test]
async fn sqlite_admin_accounts() {
    admin_accounts(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_admin_accounts() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    admin_accounts(db).await;
}

#[tokio::test]
async fn admin_clients_are_created_changed_rotated_and_deleted() {
    let w = world(TestDatabase::sqlite()).await;
    let admin = machine_token(&w, "ops", &["gatehouse:admin"]).await;
    let a = Some(admin.as_str());
    problem(
        call(
            &w,
            Method::POST,
            "/api/v1/admin/clients",
            None,
            Some(json!({})),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let created = ok(
        call(
            &w,
            Method::POST,
            "/api/v1/admin/clients",
            a,
            Some(json!({
                "client_id": "batch", "client_name": "Batch",
                "grant_types": ["client_credentials"], "scopes": ["reports"]
            })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    // Not first-party: refresh tokens only with offline_access, unless set otherwise.
    assert_eq!(created["refresh_without_offline_access"], false);
    assert_eq!(created["require_pushed_authorization_requests"], false);
    assert_eq!(created["dpop_bound_access_tokens"], false);
    let secret = created["client_secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    let token = |secret: String| {
        let http = w.http.clone();
        let url = w.server.url("/token");
        async move {
            http.post(url)
                .basic_auth("batch", Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("token")
                .status()
        }
    };
    assert_eq!(token(secret.clone()).await, StatusCode::OK);
    let shown = ok(
        call(&w, Method::GET, "/api/v1/admin/clients/batch", a, None).await,
        StatusCode::OK,
    )
    .await;
    assert!(shown.get("client_secret").is_none(), "never shown again");
    problem(
        call(&w, Method::POST, "/api/v1/admin/clients", a, Some(json!({"client_id": "batch", "client_name": "Again", "grant_types": ["client_credentials"]}))).await,
        StatusCode::CONFLICT,
        "client_exists",
    )
    .await;
    problem(
        call(
            &w,
            Method::POST,
            "/api/v1/admin/clients",
            a,
            Some(json!({"client_name": "Web", "redirect_uris": ["not a uri"]})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "client_invalid",
    )
    .await;
    let changed = ok(
        call(
            &w,
            Method::PATCH,
            "/api/v1/admin/clients/batch",
            a,
            Some(json!({
                "client_name": "Nightly batch", "access_token_lifetime": 120,
                "refresh_without_offline_access": true,
                "require_pushed_authorization_requests": true,
                "dpop_bound_access_tokens": true
            })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["client_name"], "Nightly batch");
    assert_eq!(changed["access_token_lifetime"], 120);
    assert_eq!(changed["refresh_without_offline_access"], true);
    assert_eq!(changed["require_pushed_authorization_requests"], true);
    assert_eq!(changed["dpop_bound_access_tokens"], true);
    // Its tokens now need a DPoP proof (tests/integration/dpop.rs makes them).
    assert_eq!(token(secret.clone()).await, StatusCode::BAD_REQUEST);
    let unchanged = ok(
        call(
            &w,
            Method::PATCH,
            "/api/v1/admin/clients/batch",
            a,
            Some(json!({"dpop_bound_access_tokens": false})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["dpop_bound_access_tokens"], false);
    assert_eq!(unchanged["require_pushed_authorization_requests"], true);
    let rotated = ok(
        call(
            &w,
            Method::POST,
            "/api/v1/admin/clients/batch/secret",
            a,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let fresh = rotated["client_secret"]
        .as_str()
        .expect("new secret")
        .to_owned();
    assert_ne!(fresh, secret);
    assert_eq!(token(secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(token(fresh.clone()).await, StatusCode::OK);
    assert_eq!(
        call(&w, Method::DELETE, "/api/v1/admin/clients/batch", a, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(token(fresh).await, StatusCode::UNAUTHORIZED);
    problem(
        call(&w, Method::DELETE, "/api/v1/admin/clients/batch", a, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let store = w.server.store();
    let kinds: Vec<String> =
        gatehouse_core::ports::AuditLog::events_of(&store, w.account.id, None, 5)
            .expect("events")
            .iter()
            .map(|e| e.event.kind.as_str().to_owned())
            .collect();
    assert!(
        kinds.is_empty(),
        "client events belong to no account: {kinds:?}"
    );
}

/// `/authorize` reads clients through the short-lived client cache; a change through
/// the admin API (redirect URIs, removal) reaches it at once all the same.
#[tokio::test]
async fn admin_client_changes_reach_authorize_at_once() {
    let w = world(TestDatabase::sqlite()).await;
    let admin = machine_token(&w, "ops", &["gatehouse:admin"]).await;
    let a = Some(admin.as_str());
    ok(
        call(
            &w,
            Method::POST,
            "/api/v1/admin/clients",
            a,
            Some(json!({
                "client_id": "web", "client_name": "Web",
                "redirect_uris": ["https://a.example.com/cb"]
            })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let authorize = |redirect_uri: &'static str| {
        let http = w.http.clone();
        let url = w.server.url(&format!(
            "/authorize?response_type=code&client_id=web&scope=openid&redirect_uri={redirect_uri}\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        ));
        async move { http.get(url).send().await.expect("authorize").status() }
    };
    let (first, second) = ("https://a.example.com/cb", "https://b.example.com/cb");
    assert_eq!(authorize(first).await, StatusCode::FOUND);
    assert_eq!(authorize(second).await, StatusCode::BAD_REQUEST);
    ok(
        call(
            &w,
            Method::PATCH,
            "/api/v1/admin/clients/web",
            a,
            Some(json!({"redirect_uris": [second]})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(authorize(first).await, StatusCode::BAD_REQUEST);
    assert_eq!(authorize(second).await, StatusCode::FOUND);
    assert_eq!(
        call(&w, Method::DELETE, "/api/v1/admin/clients/web", a, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(authorize(second).await, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn notices_are_written_in_the_account_language() {
    let w = world(TestDatabase::sqlite()).await;
    let dir = w.mail_dir.path();
    let t = login(&w, "Laptop").await.access;
    ok(
        call(
            &w,
            Method::PATCH,
            "/api/v1/account",
            Some(&t),
            Some(json!({"locale": "ja-JP"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    ok(
        call(
            &w,
            Method::POST,
            "/api/v1/account/password",
            Some(&t),
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    mail_with_subject(dir, EMAIL, "Gatehouse のパスワードが変更されました").await;
    ok(change_email(&w, &t, NEW_EMAIL).await, StatusCode::ACCEPTED).await;
    let code_mail = mail_with_subject(dir, NEW_EMAIL, "新しいメールアドレスの確認").await;
    let code = code_mail["body"]
        .as_str()
        .and_then(|b| b.lines().next())
        .expect("code line")
        .to_owned();
    ok(confirm_email(&w, &t, &code).await, StatusCode::OK).await;
    let old = mail_with_subject(dir, EMAIL, "Gatehouse のメールアドレスが変更されました").await;
    assert!(
        old["body"]
            .as_str()
            .is_some_and(|b| b.contains("今後このアドレスではログインできません")),
        "{old}"
    );
    let new = mail_with_subject(dir, NEW_EMAIL, "新しいメールアドレスでログインしてください").await;
    assert!(
        new["body"]
            .as_str()
            .is_some_and(|b| b.contains(&format!("新しいメールアドレス: {NEW_EMAIL}"))),
        "{new}"
    );
}

#[tokio::test]
async fn every_admin_endpoint_refuses_missing_and_narrow_tokens() {
    let w = world(TestDatabase::sqlite()).await;
    let narrow = machine_token(&w, "reports", &["reports"]).await;
    let id = w.account.id;
    let endpoints = [
        (Method::GET, "/api/v1/admin/accounts".to_owned()),
        (Method::GET, format!("/api/v1/admin/accounts/{id}")),
        (Method::GET, format!("/api/v1/admin/accounts/{id}/events")),
        (Method::POST, format!("/api/v1/admin/accounts/{id}/disable")),
        (Method::POST, format!("/api/v1/admin/accounts/{id}/enable")),
        (Method::POST, format!("/api/v1/admin/accounts/{id}/unlock")),
        (Method::POST, format!("/api/v1/admin/accounts/{id}/logout")),
        (Method::DELETE, format!("/api/v1/admin/accounts/{id}")),
        (Method::GET, "/api/v1/admin/clients".to_owned()),
        (Method::POST, "/api/v1/admin/clients".to_owned()),
        (Method::GET, "/api/v1/admin/clients/app".to_owned()),
        (Method::PATCH, "/api/v1/admin/clients/app".to_owned()),
        (Method::POST, "/api/v1/admin/clients/app/secret".to_owned()),
        (Method::DELETE, "/api/v1/admin/clients/app".to_owned()),
        (Method::GET, "/api/v1/admin/migration/status".to_owned()),
    ];
    for (method, path) in &endpoints {
        let res = call(&w, method.clone(), path, None, Some(json!({}))).await;
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer",
            "{method} {path}"
        );
        problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
        problem(
            call(
                &w,
                method.clone(),
                path,
                Some("not.a.token"),
                Some(json!({})),
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
        let res = call(&w, method.clone(), path, Some(&narrow), Some(json!({}))).await;
        assert!(
            res.headers()["www-authenticate"]
                .to_str()
                .is_ok_and(|v| v.contains("insufficient_scope")),
            "{method} {path}"
        );
        problem(res, StatusCode::FORBIDDEN, "insufficient_scope").await;
    }
    // Nothing changed.
    let account = w
        .server
        .store()
        .account_by_id(id)
        .expect("read")
        .expect("still there");
    assert_eq!(account.status, AccountStatus::Active);
    assert!(account.email.is_some());
}

#[tokio::test]
async fn a_user_token_never_acts_as_an_operator() {
    let w = world(TestDatabase::sqlite()).await;
    let admin = machine_token(&w, "ops", &["gatehouse:admin"]).await;
    // Even a client allowed the admin scope only gets a user's token from a login.
    ok(
        call(
            &w,
            Method::PATCH,
            "/api/v1/admin/clients/app",
            Some(&admin),
            Some(json!({"scopes": ["openid", "email", "gatehouse:account", "gatehouse:admin"]})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let user = login_as(
        &w,
        EMAIL,
        PASSWORD,
        EMAIL,
        "Laptop",
        "openid gatehouse:admin",
    )
    .await;
    let claims: Value = {
        use base64::Engine as _;
        let payload = user.access.split('.').nth(1).expect("payload");
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("base64"),
        )
        .expect("claims")
    };
    assert!(
        claims["scope"]
            .as_str()
            .is_some_and(|s| s.contains("gatehouse:admin"))
    );
    let body = problem(
        call(
            &w,
            Method::GET,
            "/api/v1/admin/accounts",
            Some(&user.access),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("client_credentials"))
    );
    ok(
        call(
            &w,
            Method::GET,
            "/api/v1/admin/accounts",
            Some(&admin),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
}
