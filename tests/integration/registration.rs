//! Scenario A end to end: import (CLI and admin API) → invitations → the mail read
//! from the outbox → the link → the password checklist → "later" → login with e-mail,
//! password and e-mail code → the ID token's `sub` is the legacy subject. Then expired
//! links, resends, and the admin API's refusals.

use base64::Engine as _;
use chrono::Utc;
use gatehouse_core::AccountStatus;
use gatehouse_core::ports::AccountRepository;
use gatehouse_provider::clients::ClientRequest;
use gatehouse_provider::config::{Config, MailTransportKind};
use openidconnect::PkceCodeChallenge;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::flow::Browser;
use crate::support::smtp::read_eml;
use crate::support::{TestDatabase, TestServer, gatehouse, test_config};

const REDIRECT: &str = "https://portal.example.com/cb";
const UI: &str = "https://portal.example.com/register";
pub(crate) const NEW_PASSWORD: &str = "Tanaka-Rie#2026!";

pub(crate) struct Site {
    pub server: TestServer,
    pub mail_dir: tempfile::TempDir,
    pub work: tempfile::TempDir,
    pub secret: String,
}

pub(crate) async fn site(db: TestDatabase, tweak: impl FnOnce(&mut Config)) -> Site {
    let mail_dir = tempfile::tempdir().expect("mail dir");
    let mut config = test_config(&db.url);
    config.mail.transport = MailTransportKind::File;
    config.mail.file_dir = mail_dir.path().display().to_string();
    config.mail.product_name = "Support Portal".to_owned();
    config.mail.poll_interval_seconds = 1;
    config.migration.registration_ui_url = UI.to_owned();
    tweak(&mut config);
    let server = TestServer::start_with(config, Some(db)).await;
    let (_, secret) = server.register_client(ClientRequest {
        id: Some("portal".to_owned()),
        name: "Support Portal".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        first_party: true,
        ..ClientRequest::default()
    });
    Site {
        server,
        mail_dir,
        work: tempfile::tempdir().expect("work dir"),
        secret: secret.expect("secret"),
    }
}

impl Site {
    /// The `gatehouse` command on this site's database and master key.
    pub fn cli(&self) -> Command {
        let config = &self.server.config;
        let mut cmd = gatehouse(self.work.path());
        cmd.env("GATEHOUSE_DATABASE_URL", &config.database.url)
            .env("GATEHOUSE_SECRETS_KEY", &config.secrets.key)
            .env("GATEHOUSE_MAIL_PRODUCT_NAME", &config.mail.product_name)
            .env(
                "GATEHOUSE_MIGRATION_REGISTRATION_UI_URL",
                &config.migration.registration_ui_url,
            )
            .env(
                "GATEHOUSE_MIGRATION_LINK_TTL_SECONDS",
                config.migration.link_ttl_seconds.to_string(),
            )
            .env(
                "GATEHOUSE_MIGRATION_KEEP_PASSWORDS",
                config.migration.keep_passwords.to_string(),
            )
            .env(
                "GATEHOUSE_MIGRATION_IMPORT_TOTP_SECRETS",
                config.migration.import_totp_secrets.to_string(),
            );
        cmd
    }

    pub fn run(&self, args: &[&str]) -> String {
        let output = self.cli().args(args).output().expect("gatehouse runs");
        assert!(
            output.status.success(),
            "gatehouse {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.work.path().join(name);
        std::fs::write(&path, text).expect("write input");
        path
    }

    /// Logs in through /authorize, the password and the mailed code; the ID token's claims.
    pub async fn login(
        &self,
        identifier: &str,
        password: &str,
        mailbox: &str,
        skip: usize,
    ) -> Value {
        let proof = SecondStep::MailedCode { mailbox, skip };
        self.login_with(identifier, password, proof).await
    }

    /// Logs in through /authorize, the password and `second`; the ID token's claims.
    pub async fn login_with(
        &self,
        identifier: &str,
        password: &str,
        second: SecondStep<'_>,
    ) -> Value {
        let tokens = self
            .tokens_for(identifier, password, second, &[("scope", "openid email")])
            .await;
        let id_token = tokens["id_token"].as_str().expect("id_token");
        let payload = id_token.split('.').nth(1).expect("payload");
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("base64"),
        )
        .expect("claims")
    }

    /// As [`Site::login_with`], with the authorization request's `params` (`scope` among
    /// them): the token answer.
    pub async fn tokens_for(
        &self,
        identifier: &str,
        password: &str,
        second: SecondStep<'_>,
        params: &[(&str, &str)],
    ) -> Value {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", "portal"),
                ("redirect_uri", REDIRECT),
                ("state", "s1"),
                ("nonce", "n1"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .extend_pairs(params.iter().copied())
            .finish();
        let browser = Browser::open(
            &self.server,
            &self.server.url(&format!("/authorize?{query}")),
        )
        .await;
        let res = browser
            .post(
                &self.server,
                "password",
                json!({"identifier": identifier, "password": password}),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "password step for {identifier}"
        );
        let step: Value = res.json().await.expect("json");
        let (factor, code) = match second {
            SecondStep::MailedCode { mailbox, skip } => {
                assert_eq!(step["default_factor"], "email", "{step}");
                let res = browser
                    .post(&self.server, "factors/email/challenge", json!({}))
                    .await;
                assert_eq!(res.status(), StatusCode::OK);
                let code = mailed_otp(self.mail_dir.path(), mailbox, skip).await;
                ("email".to_owned(), code)
            }
            SecondStep::NextAppCode(app) => {
                let offered = step["factors"].as_array().expect("factors");
                let totp = offered
                    .iter()
                    .find(|f| f["kind"] == "totp")
                    .unwrap_or_else(|| panic!("no authenticator app on offer: {step}"));
                assert_eq!(step["default_factor"], totp["id"], "{step}");
                let id = totp["id"].as_str().expect("id").to_owned();
                let next = Utc::now().timestamp() + 30;
                let code = app.generate(u64::try_from(next).expect("after 1970"));
                (id, code.to_string())
            }
        };
        let kind = if factor == "email" {
            "email_otp"
        } else {
            "totp"
        };
        let res = browser
            .post(
                &self.server,
                &format!("factors/{factor}/verify"),
                json!({"kind": kind, "code": code}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let done: Value = res.json().await.expect("json");
        self.server
            .redeem_login(&done, ("portal", &self.secret), REDIRECT, verifier.secret())
            .await
    }
}

/// The second step of a test login.
pub(crate) enum SecondStep<'a> {
    /// The `skip`-th code mailed to `mailbox`.
    MailedCode { mailbox: &'a str, skip: usize },
    /// An authenticator app's code for the step after the current one.
    NextAppCode(&'a totp_rs::Totp),
}

/// Mails to `to` in the outbox folder, oldest first, parsed (subject and body decoded).
pub(crate) fn mails_to(dir: &Path, to: &str) -> Vec<Value> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| read_eml(p))
        .filter(|m| m["to"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(to)))
        .collect()
}

/// Waits for the `n`-th (0-based) one-time code mailed to `to`, in any language: the
/// decoded body's first line.
pub(crate) async fn mailed_otp(dir: &Path, to: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let codes: Vec<String> = mails_to(dir, to)
            .iter()
            .filter_map(|m| m["body"].as_str()?.lines().next().map(str::to_owned))
            .filter(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        if let Some(code) = codes.get(n) {
            return code.clone();
        }
        assert!(Instant::now() < deadline, "no code {n} mailed to {to}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for the `n`-th (0-based) registration mail to `to`; its decoded mail and token.
pub(crate) async fn registration_mail(dir: &Path, to: &str, n: usize) -> (Value, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mails: Vec<Value> = mails_to(dir, to)
            .into_iter()
            .filter(|m| m["subject"].as_str().is_some_and(|s| s.contains("SSO")))
            .collect();
        if let Some(mail) = mails.get(n) {
            let body = mail["body"].as_str().expect("body");
            let link = body
                .split_whitespace()
                .find(|w| w.starts_with(UI))
                .expect("a Complete Registration link");
            let token = url::Url::parse(link)
                .expect("link")
                .query_pairs()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
                .expect("token");
            return (mail.clone(), token);
        }
        assert!(
            Instant::now() < deadline,
            "no registration mail {n} to {to}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn json_of(res: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(res.status(), status, "{:?}", res.url().path());
    res.json().await.expect("json")
}

const USERS_CSV: &str = "\
legacy_subject,email,username,given_name,family_name,locale,zoneinfo,email_verified,sms_phone
auth0|rie,Rie@example.com,rtanaka,Rie,Tanaka,ja,Asia/Tokyo,true,+81 90 1234 5678
auth0|ken,ken@example.com,,Ken,Sato,en,Etc/UTC,false,
";

async fn scenario_a(db: TestDatabase) {
    let site = site(db, |_| {}).await;
    let input = site.write("users.csv", USERS_CSV);
    let out = site.run(&[
        "accounts",
        "import",
        input.to_str().expect("path"),
        "--json",
    ]);
    let summary: Value = serde_json::from_str(&out).expect("summary json");
    assert_eq!(summary["outcomes"], json!({"created": 2}));
    let rie = site
        .server
        .store()
        .account_by_email(&gatehouse_core::Email::parse("rie@example.com").expect("email"))
        .expect("query")
        .expect("imported");
    assert_eq!(rie.status, AccountStatus::PendingRegistration);
    assert_eq!(rie.subject.as_str(), "auth0|rie");

    let status: Value =
        serde_json::from_str(&site.run(&["migration", "status", "--json"])).expect("json");
    assert_eq!(status["states"]["imported"], 2);

    let sent = site.run(&["invitations", "send", "--all-pending", "--json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&sent).expect("json")["invited"],
        2
    );
    // A second run finds nobody new to invite.
    let again = site.run(&["invitations", "send", "--all-pending", "--json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&again).expect("json")["invited"],
        0
    );

    let (mail, token) = registration_mail(site.mail_dir.path(), "Rie@example.com", 0).await;
    // Rie's locale is Japanese; the product name and the link are in it either way.
    assert!(
        mail["subject"]
            .as_str()
            .expect("subject")
            .contains("Support Portal"),
        "{mail}"
    );
    assert!(
        mail["from"].as_str().expect("from").contains("no-reply@"),
        "{mail}"
    );
    let (ken_mail, _) = registration_mail(site.mail_dir.path(), "ken@example.com", 0).await;
    assert_eq!(ken_mail["subject"], "SSO Registration for Support Portal");
    assert!(
        ken_mail["body"]
            .as_str()
            .expect("body")
            .contains("Complete Registration")
    );

    let http = &site.server.client;
    let view = json_of(
        http.get(site.server.url(&format!("/api/v1/registration/{token}")))
            .send()
            .await
            .expect("get"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "valid");
    assert_eq!(view["email"], "R***@example.com");
    // The page can speak the language the mails were written in.
    assert_eq!(view["locale"], "ja");
    assert_eq!(view["next"], "password");
    let rules: Vec<&str> = view["password_policy"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["code"].as_str().expect("code"))
        .collect();
    assert!(
        rules.contains(&"needs_special") && rules.contains(&"mismatch"),
        "{rules:?}"
    );

    // Every broken rule at once, as a checklist.
    let weak = json_of(
        http.post(
            site.server
                .url(&format!("/api/v1/registration/{token}/password")),
        )
        .json(&json!({"password": "short", "password_confirmation": "other"}))
        .send()
        .await
        .expect("post"),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(weak["code"], "password_policy");
    assert_eq!(
        weak["violations"],
        json!([
            "too_short",
            "needs_uppercase",
            "needs_digit",
            "needs_special",
            "mismatch"
        ])
    );
    // Completing before the password is refused.
    let early = json_of(
        http.post(
            site.server
                .url(&format!("/api/v1/registration/{token}/complete")),
        )
        .json(&json!({"second_factor": "later"}))
        .send()
        .await
        .expect("post"),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(early["code"], "password_required");
    let step = json_of(
        http.post(
            site.server
                .url(&format!("/api/v1/registration/{token}/password")),
        )
        .json(&json!({"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}))
        .send()
        .await
        .expect("post"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(step["next"], "second_factor");
    assert_eq!(step["default"], "later");
    let done = json_of(
        http.post(
            site.server
                .url(&format!("/api/v1/registration/{token}/complete")),
        )
        .json(&json!({"second_factor": "later"}))
        .send()
        .await
        .expect("post"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "registered");

    // The link is used up.
    let used = json_of(
        http.get(site.server.url(&format!("/api/v1/registration/{token}")))
            .send()
            .await
            .expect("get"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(used["status"], "used");
    let replay = json_of(
        http.post(
            site.server
                .url(&format!("/api/v1/registration/{token}/password")),
        )
        .json(&json!({"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}))
        .send()
        .await
        .expect("post"),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(replay["code"], "registration_link_used");

    // Login: e-mail + new password + e-mail code; the sub is the legacy subject.
    let claims = site
        .login("rie@example.com", NEW_PASSWORD, "Rie@example.com", 0)
        .await;
    assert_eq!(claims["sub"], "auth0|rie");
    assert_eq!(claims["email_verified"], true);
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .expect("amr")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        amr.contains(&"pwd") && amr.contains(&"otp") && amr.contains(&"mfa"),
        "{amr:?}"
    );

    let status: Value =
        serde_json::from_str(&site.run(&["migration", "status", "--json"])).expect("json");
    assert_eq!(status["states"]["registered"], 1);
    assert_eq!(status["states"]["invited"], 1);
    assert_eq!(status["by_age"]["registered"]["under_1d"], 1);
    let events = site
        .server
        .store()
        .events_of(rie.id, None, 50)
        .expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.event.kind.as_str()).collect();
    assert!(
        kinds.contains(&"registration_completed") && kinds.contains(&"registration_link_sent"),
        "{kinds:?}"
    );
}

use gatehouse_core::ports::AuditLog as _;

#[tokio::test]
async fn sqlite_scenario_a() {
    scenario_a(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_scenario_a() {
    if let Some(db) = TestDatabase::postgres() {
        scenario_a(db).await;
    }
}

/// The code an authenticator app shows now.
fn app_code(app: &totp_rs::Totp) -> String {
    app.generate_current().to_string()
}

/// Scenario A with an authenticator app chosen instead of "later": the registration
/// runs the factors' own enrolment ceremony, and the next login asks for the app.
async fn registration_with_an_authenticator_app(db: TestDatabase) {
    let site = site(db, |_| {}).await;
    let input = site.write(
        "users.jsonl",
        r#"{"legacy_subject": "legacy-app", "email": "app@example.com"}"#,
    );
    site.run(&["accounts", "import", input.to_str().expect("path")]);
    site.run(&["invitations", "send", "--all-pending"]);
    let (_, token) = registration_mail(site.mail_dir.path(), "app@example.com", 0).await;
    let http = &site.server.client;
    let at = |rest: &str| {
        site.server
            .url(&format!("/api/v1/registration/{token}{rest}"))
    };

    // Setting up a factor before the password is refused.
    let early = json_of(
        http.post(at("/factors"))
            .json(&json!({"kind": "totp"}))
            .send()
            .await
            .expect("post"),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(early["code"], "password_required");
    let step = json_of(
        http.post(at("/password"))
            .json(&json!({"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}))
            .send()
            .await
            .expect("post"),
        StatusCode::OK,
    )
    .await;
    let choices: Vec<&str> = step["choices"]
        .as_array()
        .expect("choices")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(choices.first(), Some(&"later"), "{choices:?}");
    assert!(choices.contains(&"totp"), "{choices:?}");
    assert!(
        !choices.contains(&"sms") && !choices.contains(&"recovery_code"),
        "{choices:?}"
    );
    for (kind, code) in [
        ("sms", "factor_not_available"),
        ("fax", "factor_kind_unknown"),
    ] {
        let refused = json_of(
            http.post(at("/factors"))
                .json(&json!({"kind": kind}))
                .send()
                .await
                .expect("post"),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(refused["code"], code, "{kind}");
    }

    let started = json_of(
        http.post(at("/factors"))
            .json(&json!({"kind": "totp"}))
            .send()
            .await
            .expect("post"),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(started["factor"]["status"], "pending");
    let uri = started["setup"]["otpauth_uri"]
        .as_str()
        .expect("otpauth_uri");
    let app = totp_rs::Totp::from_url(uri).expect("an otpauth URI an app accepts");
    assert_eq!(app.account_name(), "app@example.com");
    let factor = started["factor"]["id"].as_str().expect("id");

    // Completing with the app before it is confirmed is refused, the link stays valid.
    let unconfirmed = json_of(
        http.post(at("/complete"))
            .json(&json!({"second_factor": "totp"}))
            .send()
            .await
            .expect("post"),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(unconfirmed["code"], "factor_not_confirmed");
    let wrong = json_of(
        http.post(at(&format!("/factors/{factor}/confirm")))
            .json(&json!({"kind": "totp", "code": "000000"}))
            .send()
            .await
            .expect("post"),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    if wrong["code"] != "otp_invalid" {
        // 000000 was, by chance, the app's code: not a refusal to test.
        assert_eq!(wrong["code"], "otp_replayed", "{wrong}");
    }
    let confirmed = json_of(
        http.post(at(&format!("/factors/{factor}/confirm")))
            .json(&json!({"kind": "totp", "code": app_code(&app), "name": "Rie's phone"}))
            .send()
            .await
            .expect("post"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(confirmed["status"], "active");
    assert_eq!(confirmed["label"], "Rie's phone");
    let done = json_of(
        http.post(at("/complete"))
            .json(&json!({"second_factor": "totp"}))
            .send()
            .await
            .expect("post"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["second_factor"], "totp");
    // The link is spent for factor set-up too.
    let spent = json_of(
        http.post(at("/factors"))
            .json(&json!({"kind": "totp"}))
            .send()
            .await
            .expect("post"),
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(spent["code"], "registration_link_used");

    // The login asks for the app first; its code is the next step's (one step of drift
    // is accepted), as the step the confirmation used is never accepted again.
    let claims = site
        .login_with(
            "app@example.com",
            NEW_PASSWORD,
            SecondStep::NextAppCode(&app),
        )
        .await;
    assert_eq!(claims["sub"], "legacy-app");
    let amr = claims["amr"].as_array().expect("amr");
    assert!(
        amr.contains(&json!("otp")) && amr.contains(&json!("mfa")),
        "{amr:?}"
    );
    let account = site
        .server
        .store()
        .account_by_email(&gatehouse_core::Email::parse("app@example.com").expect("email"))
        .expect("query")
        .expect("account");
    let events = site
        .server
        .store()
        .events_of(account.id, None, 50)
        .expect("events");
    let added = events
        .iter()
        .find(|e| e.event.kind.as_str() == "factor_added")
        .expect("factor_added audited");
    assert_eq!(
        added.event.detail.get("via").map(String::as_str),
        Some("registration")
    );
    let completed = events
        .iter()
        .find(|e| e.event.kind.as_str() == "registration_completed")
        .expect("registration_completed audited");
    assert_eq!(
        completed
            .event
            .detail
            .get("second_factor")
            .map(String::as_str),
        Some("totp")
    );
}

#[tokio::test]
async fn sqlite_registration_with_an_authenticator_app() {
    registration_with_an_authenticator_app(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_registration_with_an_authenticator_app() {
    if let Some(db) = TestDatabase::postgres() {
        registration_with_an_authenticator_app(db).await;
    }
}

#[tokio::test]
async fn an_expired_link_is_resent_and_only_the_new_one_works() {
    let site = site(TestDatabase::sqlite(), |_| {}).await;
    let input = site.write(
        "users.jsonl",
        r#"{"legacy_subject": "legacy-1", "email": "pending@example.com"}"#,
    );
    site.run(&["accounts", "import", input.to_str().expect("path")]);
    site.run(&["invitations", "send", "--all-pending"]);
    let (_, old) = registration_mail(site.mail_dir.path(), "pending@example.com", 0).await;
    // The link runs out (aged in the database: a mail whose link has expired is never
    // sent, so a link that short would race its own mail).
    site.server
        .execute_sql("UPDATE registration_tokens SET expires_at = 1000");
    site.server
        .execute_sql("UPDATE account_migrations SET link_expires_at = 1000");
    let http = &site.server.client;
    let view = json_of(
        http.get(site.server.url(&format!("/api/v1/registration/{old}")))
            .send()
            .await
            .expect("get"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "expired");
    let gone = json_of(
        http.post(
            site.server
                .url(&format!("/api/v1/registration/{old}/password")),
        )
        .json(&json!({"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}))
        .send()
        .await
        .expect("post"),
        StatusCode::GONE,
    )
    .await;
    assert_eq!(gone["code"], "registration_link_expired");
    let status: Value =
        serde_json::from_str(&site.run(&["migration", "status", "--json"])).expect("json");
    assert_eq!(status["states"]["expired"], 1);

    // The resend answer is the same for the pending address, an unknown one and junk.
    let mut answers = Vec::new();
    for email in [
        "Pending@Example.com",
        "nobody@example.com",
        "not an address",
    ] {
        let res = http
            .post(site.server.url("/api/v1/registration/resend"))
            .json(&json!({"email": email}))
            .send()
            .await
            .expect("resend");
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        answers.push(res.text().await.expect("body"));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    let (_, new) = registration_mail(site.mail_dir.path(), "pending@example.com", 1).await;
    assert_ne!(new, old);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mails_to(site.mail_dir.path(), "nobody@example.com").is_empty());
    // The old link stays dead after the resend (voided, not revived).
    let view = json_of(
        http.get(site.server.url(&format!("/api/v1/registration/{old}")))
            .send()
            .await
            .expect("get"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "expired");
    let unknown = json_of(
        http.get(site.server.url("/api/v1/registration/not-a-token"))
            .send()
            .await
            .expect("get"),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(unknown["code"], "registration_link_unknown");
}

#[tokio::test]
async fn a_resent_link_works_and_voids_the_previous_one() {
    let site = site(TestDatabase::sqlite(), |_| {}).await;
    let input = site.write(
        "users.jsonl",
        r#"{"legacy_subject": "legacy-2", "email": "two@example.com"}"#,
    );
    site.run(&["accounts", "import", input.to_str().expect("path")]);
    site.run(&["invitations", "send", "--all-pending"]);
    let (_, first) = registration_mail(site.mail_dir.path(), "two@example.com", 0).await;
    let http = &site.server.client;
    let res = http
        .post(site.server.url("/api/v1/registration/resend"))
        .json(&json!({"email": "two@example.com"}))
        .send()
        .await
        .expect("resend");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let (_, second) = registration_mail(site.mail_dir.path(), "two@example.com", 1).await;
    let old = json_of(
        http.get(site.server.url(&format!("/api/v1/registration/{first}")))
            .send()
            .await
            .expect("get"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(old["status"], "expired");
    let res = http
        .post(
            site.server
                .url(&format!("/api/v1/registration/{second}/password")),
        )
        .json(&json!({"password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .post(
            site.server
                .url(&format!("/api/v1/registration/{second}/complete")),
        )
        .json(&json!({"second_factor": "later"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);
    let claims = site
        .login("two@example.com", NEW_PASSWORD, "two@example.com", 0)
        .await;
    assert_eq!(claims["sub"], "legacy-2");
    // A registered account is never mailed a link again.
    let res = http
        .post(site.server.url("/api/v1/registration/resend"))
        .json(&json!({"email": "two@example.com"}))
        .send()
        .await
        .expect("resend");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        mails_to(site.mail_dir.path(), "two@example.com")
            .iter()
            .filter(|m| m["subject"].as_str().is_some_and(|s| s.contains("SSO")))
            .count(),
        2
    );
}

#[tokio::test]
async fn resends_are_limited_per_client_ip() {
    let site = site(TestDatabase::sqlite(), |c| c.migration.resend_per_ip = 3).await;
    let http = &site.server.client;
    for n in 0..4 {
        let res = http
            .post(site.server.url("/api/v1/registration/resend"))
            .json(&json!({"email": format!("user{n}@example.com")}))
            .send()
            .await
            .expect("resend");
        if n < 3 {
            assert_eq!(res.status(), StatusCode::ACCEPTED);
        } else {
            assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
            assert!(res.headers().contains_key("retry-after"));
            let body: Value = res.json().await.expect("json");
            assert_eq!(body["code"], "rate_limited");
        }
    }
    // Bad bodies are problems, never 500s.
    let res = http
        .post(site.server.url("/api/v1/registration/resend"))
        .json(&json!({"mail": "x"}))
        .send()
        .await
        .expect("resend");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// A token from `/token` by `client_credentials` for a client with these scopes.
async fn client_token(site: &Site, id: &str, scopes: &[&str]) -> String {
    site.server.machine_client(id, scopes).await.1
}

#[tokio::test]
async fn the_admin_api_imports_reports_and_resends_with_the_admin_scope_only() {
    let site = site(TestDatabase::sqlite(), |_| {}).await;
    let admin = client_token(&site, "ops", &["gatehouse:admin"]).await;
    let other = client_token(&site, "reporting", &["reports"]).await;
    let http = &site.server.client;
    let body = "{\"legacy_subject\": \"a-1\", \"email\": \"a1@example.com\"}\n\
                {\"legacy_subject\": \"a-2\", \"email\": \"A1@example.com\"}\n\
                not json\n\
                {\"legacy_subject\": \"a-3\", \"email\": \"a3@example.com\", \"username\": \"alpha\"}\n";
    let import = |token: Option<&str>, query: &str| {
        let mut req = http
            .post(
                site.server
                    .url(&format!("/api/v1/admin/accounts/import{query}")),
            )
            .header("content-type", "application/x-ndjson")
            .body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    // No token at all: RFC 6750 §3.1 gives no error code (one bearer module answers
    // for the account and the admin API alike).
    let res = import(None, "").await.expect("import");
    assert_eq!(
        json_of(res, StatusCode::UNAUTHORIZED).await["code"],
        "unauthorized"
    );
    let res = import(Some(&other), "").await.expect("import");
    assert_eq!(
        json_of(res, StatusCode::FORBIDDEN).await["code"],
        "insufficient_scope"
    );
    let res = import(Some("not.a.token"), "").await.expect("import");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let dry = json_of(
        import(Some(&admin), "?dry_run=true").await.expect("import"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        dry["outcomes"],
        json!({"created": 1, "email_shared": 2, "row_invalid": 1})
    );
    assert_eq!(
        site.server.store().count_accounts().expect("count"),
        0,
        "a dry run writes nothing"
    );
    let real = json_of(
        import(Some(&admin), "").await.expect("import"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        real["outcomes"],
        json!({"created": 1, "email_shared": 2, "row_invalid": 1})
    );
    let problems: Vec<(u64, &str)> = real["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["line"].as_u64().expect("line"),
                p["outcome"].as_str().expect("outcome"),
            )
        })
        .collect();
    assert_eq!(
        problems,
        vec![(1, "email_shared"), (2, "email_shared"), (3, "row_invalid")]
    );
    let again = json_of(
        import(Some(&admin), "").await.expect("import"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["outcomes"]["unchanged"], 1);

    let status = json_of(
        http.get(site.server.url("/api/v1/admin/migration/status"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("status"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(status["states"]["imported"], 1);
    assert_eq!(status["total"], 1);
    let res = http
        .get(site.server.url("/api/v1/admin/migration/status"))
        .bearer_auth(&other)
        .send()
        .await
        .expect("status");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let account = site
        .server
        .store()
        .account_by_subject(&gatehouse_core::Subject::parse("a-3").expect("subject"))
        .expect("query")
        .expect("imported");
    let link = |id: String| {
        http.post(
            site.server
                .url(&format!("/api/v1/admin/accounts/{id}/registration-link")),
        )
        .bearer_auth(&admin)
        .send()
    };
    let res = link(account.id.to_string()).await.expect("resend");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    registration_mail(site.mail_dir.path(), "a3@example.com", 0).await;
    let res = link(uuid::Uuid::new_v4().to_string())
        .await
        .expect("resend");
    assert_eq!(
        json_of(res, StatusCode::NOT_FOUND).await["code"],
        "not_found"
    );
    let res = link("junk".to_owned()).await.expect("resend");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let active = site.server.create_account(
        "done@example.com",
        Some(NEW_PASSWORD),
        AccountStatus::Active,
    );
    let res = link(active.id.to_string()).await.expect("resend");
    assert_eq!(
        json_of(res, StatusCode::CONFLICT).await["code"],
        "account_not_pending"
    );
}

/// Resends run after the answer on a bounded set of slots (`AppState::background`).
#[tokio::test]
async fn work_after_the_answer_beyond_its_bound_is_dropped_and_a_freed_slot_is_reused() {
    let background = gatehouse_provider::background::Background::new(1);
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (done, finished) = std::sync::mpsc::channel::<&str>();
    let first_done = done.clone();
    assert!(background.run_blocking("first", move || {
        let _ = wait.recv();
        let _ = first_done.send("first");
    }));
    assert!(
        !background.run_blocking("second", || {}),
        "the only slot is taken"
    );
    let _ = release.send(());
    assert_eq!(finished.recv().ok(), Some("first"));
    // The permit is released when the work ends; give the pool a moment.
    let mut ran = false;
    for _ in 0..100 {
        let done = done.clone();
        if background.run_blocking("third", move || {
            let _ = done.send("third");
        }) {
            ran = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(ran, "a slot frees when its work ends");
    assert_eq!(finished.recv().ok(), Some("third"));
}
