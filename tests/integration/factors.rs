//! The account factor API and the factors it adds, over HTTP as the product's UI, a
//! browser and an authenticator app use them: access tokens come from a real login
//! (password + e-mail code read from the mailed .eml), TOTP codes are computed by
//! `totp-rs` from the `otpauth://` URI the API hands out, recovery codes are typed
//! back as shown. Mails are read from the outbox folder, audit events from the store.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{TimeDelta, Utc};
use gatehouse_core::ports::{
    AccountRepository, AuditLog, FactorGuardRepository, FactorRepository, RecoveryCodeRepository,
};
use gatehouse_core::recovery_code::RecoveryCode;
use gatehouse_core::{
    AccountStatus, AuditKind, Factor, FactorId, FactorKind, FactorStatus, ShiftedClock,
};
use gatehouse_provider::Config;
use gatehouse_provider::clients::ClientRequest;
use gatehouse_provider::config::MailTransportKind;
use openidconnect::PkceCodeChallenge;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{TestDatabase, TestServer, tally, test_config};

pub(crate) const REDIRECT: &str = "https://app.example.com/callback";
pub(crate) const PASSWORD: &str = "Correct-Horse#42";
pub(crate) const EMAIL: &str = "Rie@example.com";
pub(crate) const ACCOUNT_SCOPE: &str = "openid email gatehouse:account";

pub(crate) struct World {
    pub(crate) server: TestServer,
    /// The server's clock: the wall clock, until a test moves it ahead.
    pub(crate) clock: Arc<ShiftedClock>,
    pub(crate) mail_dir: tempfile::TempDir,
    /// First-party client "app": may ask for the account scope.
    pub(crate) app_secret: String,
    /// Third-party client "partner": registered with the scope, but not first-party.
    pub(crate) partner_secret: String,
    pub(crate) account: gatehouse_core::Account,
}

pub(crate) async fn world_with(db: TestDatabase, tweak: impl FnOnce(&mut Config)) -> World {
    let mail_dir = tempfile::tempdir().expect("mail dir");
    let mut config = test_config(&db.url);
    config.mail.transport = MailTransportKind::File;
    config.mail.file_dir = mail_dir.path().display().to_string();
    tweak(&mut config);
    let clock = Arc::new(ShiftedClock::default());
    let server = TestServer::start_on(config, Some(db), clock.clone()).await;
    let register = |id: &str, first_party: bool| {
        server
            .register_client(ClientRequest {
                id: Some(id.to_owned()),
                name: id.to_owned(),
                redirect_uris: vec![REDIRECT.to_owned()],
                scopes: [
                    "openid",
                    "email",
                    "profile",
                    "offline_access",
                    "gatehouse:account",
                ]
                .map(str::to_owned)
                .to_vec(),
                first_party,
                ..ClientRequest::default()
            })
            .1
            .expect("secret")
    };
    let app_secret = register("app", true);
    let partner_secret = register("partner", false);
    let account = server.create_account(EMAIL, Some(PASSWORD), AccountStatus::Active);
    World {
        clock,
        server,
        mail_dir,
        app_secret,
        partner_secret,
        account,
    }
}

pub(crate) async fn world(db: TestDatabase) -> World {
    world_with(db, |_| {}).await
}

/// The mails sent to `to` so far, oldest first, as (subject, body).
pub(crate) fn mails(dir: &Path, to: &str) -> Vec<(String, String)> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    entries.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    entries
        .iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            let (head, body) = text.split_once("\r\n\r\n")?;
            if !head
                .lines()
                .any(|l| l.eq_ignore_ascii_case(&format!("To: {to}")))
            {
                return None;
            }
            let subject = head
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))?
                .to_owned();
            Some((subject, body.to_owned()))
        })
        .collect()
}

fn code_in(body: &str) -> Option<String> {
    body.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

/// Waits for the `n`-th (0-based) one-time code mailed to `to`.
pub(crate) async fn nth_code(dir: &Path, to: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let codes: Vec<String> = mails(dir, to)
            .iter()
            .filter_map(|(_, body)| code_in(body))
            .collect();
        if let Some(code) = codes.get(n) {
            return code.clone();
        }
        assert!(Instant::now() < deadline, "no code #{n} mailed to {to}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn count_codes(dir: &Path, to: &str) -> usize {
    mails(dir, to)
        .iter()
        .filter(|(_, body)| code_in(body).is_some())
        .count()
}

/// Waits until a mail with `subject` has arrived `n` times.
pub(crate) async fn wait_for_subject(dir: &Path, to: &str, subject: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let seen = mails(dir, to).iter().filter(|(s, _)| s == subject).count();
        if seen >= n {
            assert_eq!(seen, n, "{subject:?} mailed more often than expected");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{subject:?} mailed {seen} times, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A login in progress: the browser has been to /authorize and past the password.
pub(crate) struct Login {
    pub(crate) browser: reqwest::Client,
    pub(crate) challenge: String,
    verifier: openidconnect::PkceCodeVerifier,
    client: &'static str,
    /// The password step's answer: the factors on offer and the default.
    pub(crate) offered: Value,
}

impl Login {
    pub(crate) async fn begin(w: &World, client: &'static str, scope: &str) -> Self {
        Self::begin_in(w, w.server.browser(), client, scope).await
    }

    /// As [`Login::begin`], in `browser` (which keeps its cookies from one login to
    /// the next): `browser` must not be signed in.
    pub(crate) async fn begin_in(
        w: &World,
        browser: reqwest::Client,
        client: &'static str,
        scope: &str,
    ) -> Self {
        let mut login = Self::authorize_in(w, browser, client, scope, &[]).await;
        login.password(w, EMAIL).await;
        login
    }

    /// The password step with `identifier` and [`PASSWORD`]: keeps the factors offered.
    pub(crate) async fn password(&mut self, w: &World, identifier: &str) {
        let res = self
            .post(
                w,
                "password",
                json!({"identifier": identifier, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        self.offered = res.json().await.expect("json");
    }

    /// A browser sent through /authorize (with `extra` parameters), at the login UI:
    /// nothing entered yet.
    pub(crate) async fn authorize(
        w: &World,
        client: &'static str,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::authorize_in(w, w.server.browser(), client, scope, extra).await
    }

    /// As [`Login::authorize`], in `browser`.
    pub(crate) async fn authorize_in(
        w: &World,
        browser: reqwest::Client,
        client: &'static str,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", REDIRECT),
                ("scope", scope),
                ("code_challenge", pkce.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .extend_pairs(extra.iter().copied())
            .finish();
        Self::authorize_query(w, browser, client, &query, verifier).await
    }

    /// A browser sent to `/authorize?{query}` (its PKCE verifier is `verifier`), at the
    /// login UI: nothing entered yet.
    pub(crate) async fn authorize_query(
        w: &World,
        browser: reqwest::Client,
        client: &'static str,
        query: &str,
        verifier: openidconnect::PkceCodeVerifier,
    ) -> Self {
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
        Self {
            browser,
            challenge,
            verifier,
            client,
            offered: Value::Null,
        }
    }

    /// The login view (`GET /api/v1/login/{login_challenge}`), in this browser.
    pub(crate) async fn view(&self, w: &World) -> Value {
        self.browser
            .get(w.server.url(&format!("/api/v1/login/{}", self.challenge)))
            .send()
            .await
            .expect("view")
            .json()
            .await
            .expect("json")
    }

    pub(crate) async fn post(&self, w: &World, step: &str, body: Value) -> reqwest::Response {
        self.browser
            .post(
                w.server
                    .url(&format!("/api/v1/login/{}/{step}", self.challenge)),
            )
            .json(&body)
            .send()
            .await
            .expect("login step")
    }

    pub(crate) async fn challenge(&self, w: &World, factor: &str) -> Value {
        let res = self
            .post(w, &format!("factors/{factor}/challenge"), json!({}))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("json")
    }

    pub(crate) async fn verify(&self, w: &World, factor: &str, code: &str) -> reqwest::Response {
        let kind = self.offered_kind(factor).unwrap_or_else(|| {
            if factor == "email" {
                "email_otp"
            } else {
                "totp"
            }
            .to_owned()
        });
        self.post(
            w,
            &format!("factors/{factor}/verify"),
            json!({"kind": kind, "code": code}),
        )
        .await
    }

    /// The `kind` the password step offered `factor` as, which a verify body names. A
    /// factor not on offer (pending, retired, another account's) is refused before
    /// its kind matters, so callers fall back to any kind of the same proof.
    pub(crate) fn offered_kind(&self, factor: &str) -> Option<String> {
        self.offered["factors"]
            .as_array()
            .and_then(|all| all.iter().find(|f| f["id"] == factor))
            .and_then(|f| f["kind"].as_str())
            .map(str::to_owned)
    }

    /// Finishes with the answer of a successful verify: the code goes to /token.
    pub(crate) async fn tokens(self, w: &World, done: reqwest::Response) -> Value {
        assert_eq!(done.status(), StatusCode::OK);
        let done: Value = done.json().await.expect("json");
        self.tokens_from(w, &done).await
    }

    /// Finishes with the JSON answer of a finished login: the code goes to /token. A
    /// third-party client's login that stops at the consent step is granted all it
    /// asks for first (tests/integration/consent.rs tests the step itself).
    pub(crate) async fn tokens_from(self, w: &World, done: &Value) -> Value {
        if done["next"] == "consent" {
            let res = self
                .post(w, "consent", json!({"grant": done["consent"]["scopes"]}))
                .await;
            assert_eq!(res.status(), StatusCode::OK);
            let granted: Value = res.json().await.expect("json");
            return Box::pin(self.tokens_from(w, &granted)).await;
        }
        let secret = if self.client == "app" {
            &w.app_secret
        } else {
            &w.partner_secret
        };
        w.server
            .redeem_login(
                done,
                (self.client, secret),
                REDIRECT,
                self.verifier.secret(),
            )
            .await
    }

    /// "Email on r***@example.com": the code mailed to `email` finishes the login;
    /// the tokens.
    pub(crate) async fn finish_with_email_code(self, w: &World, email: &str) -> Value {
        let before = count_codes(w.mail_dir.path(), email);
        self.challenge(w, "email").await;
        let code = nth_code(w.mail_dir.path(), email, before).await;
        let done = self.verify(w, "email", &code).await;
        self.tokens(w, done).await
    }

    /// The code (and the PKCE verifier) of a login the e-mail code finishes, for a
    /// relying party that redeems it itself.
    pub(crate) async fn code_with_email(self, w: &World, email: &str) -> (String, String) {
        let before = count_codes(w.mail_dir.path(), email);
        self.challenge(w, "email").await;
        let code = nth_code(w.mail_dir.path(), email, before).await;
        let done = self.verify(w, "email", &code).await;
        assert_eq!(done.status(), StatusCode::OK);
        let done: Value = done.json().await.expect("json");
        let back = url::Url::parse(done["redirect_to"].as_str().expect("redirect_to"))
            .expect("redirect_to is a URL");
        let code = back
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code");
        (code, self.verifier.secret().clone())
    }

    /// The factor id on offer for `kind`.
    pub(crate) fn offered(&self, kind: &str) -> Option<String> {
        self.offered["factors"]
            .as_array()
            .expect("factors")
            .iter()
            .find(|f| f["kind"] == kind)
            .and_then(|f| f["id"].as_str())
            .map(str::to_owned)
    }

    pub(crate) fn offered_kinds(&self) -> Vec<String> {
        self.offered["factors"]
            .as_array()
            .expect("factors")
            .iter()
            .map(|f| f["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// An access token from a full login with the e-mail code.
pub(crate) async fn token_via_email(w: &World, client: &'static str, scope: &str) -> String {
    token_via_email_for(w, EMAIL, client, scope).await
}

/// An access token for the account of `email` (its password is [`PASSWORD`]), from a
/// full login with the e-mail code.
pub(crate) async fn token_via_email_for(
    w: &World,
    email: &str,
    client: &'static str,
    scope: &str,
) -> String {
    let mut login = Login::authorize(w, client, scope, &[]).await;
    login.password(w, email).await;
    access_token(login.finish_with_email_code(w, email).await)
}

/// The account API as the product's UI calls it: with an access token of the
/// first-party client "app" with the account scope, from a login with the e-mail code.
pub(crate) async fn account_api(w: &World) -> Api<'_> {
    Api {
        w,
        token: Some(token_via_email(w, "app", ACCOUNT_SCOPE).await),
    }
}

fn access_token(tokens: Value) -> String {
    tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// The claims of a JWT, unverified: the test only reads `amr`.
pub(crate) fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("jwt payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

/// The claims of the ID token in a token answer.
pub(crate) fn id_token_claims(tokens: &Value) -> Value {
    claims(tokens["id_token"].as_str().expect("id_token"))
}

/// The `amr` of a token's claims, in order.
pub(crate) fn amr(claims: &Value) -> Vec<String> {
    claims["amr"]
        .as_array()
        .expect("amr")
        .iter()
        .map(|m| m.as_str().expect("str").to_owned())
        .collect()
}

pub(crate) struct Api<'a> {
    pub(crate) w: &'a World,
    pub(crate) token: Option<String>,
}

impl Api<'_> {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self
            .w
            .server
            .client
            .request(method, self.w.server.url(path));
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    pub(crate) async fn list(&self) -> Value {
        let res = self
            .request(reqwest::Method::GET, "/api/v1/account/factors")
            .send()
            .await
            .expect("list");
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("json")
    }

    pub(crate) async fn start(&self, body: Value) -> reqwest::Response {
        self.request(reqwest::Method::POST, "/api/v1/account/factors")
            .json(&body)
            .send()
            .await
            .expect("start")
    }

    pub(crate) async fn confirm(&self, id: &str, body: Value) -> reqwest::Response {
        self.request(
            reqwest::Method::POST,
            &format!("/api/v1/account/factors/{id}/confirm"),
        )
        .json(&body)
        .send()
        .await
        .expect("confirm")
    }

    pub(crate) async fn remove(&self, id: &str) -> reqwest::Response {
        self.request(
            reqwest::Method::DELETE,
            &format!("/api/v1/account/factors/{id}"),
        )
        .send()
        .await
        .expect("remove")
    }

    pub(crate) async fn new_recovery_codes(&self) -> Vec<String> {
        let res = self
            .request(reqwest::Method::POST, "/api/v1/account/recovery-codes")
            .send()
            .await
            .expect("recovery codes");
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["factor"]["kind"], "recovery_code");
        assert_eq!(body["factor"]["status"], "active");
        body["setup"]["codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect()
    }
}

pub(crate) async fn problem(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "{code}"
    );
    let body: Value = res.json().await.expect("problem");
    assert_eq!(body["code"], code, "{body}");
    body
}

/// What an authenticator app holds after scanning the QR code.
pub(crate) struct App(totp_rs::Totp);

impl App {
    /// The code the app shows `steps` steps from now.
    pub(crate) fn code(&self, steps: i64) -> String {
        let t = Utc::now().timestamp() + steps * 30;
        self.0
            .generate(u64::try_from(t).expect("after 1970"))
            .to_string()
    }

    /// A code that no step within two of now matches.
    pub(crate) fn wrong_code(&self) -> String {
        let near: Vec<String> = (-2..=2).map(|s| self.code(s)).collect();
        (0..10)
            .map(|d| d.to_string().repeat(6))
            .find(|c| !near.contains(c))
            .expect("a wrong code")
    }
}

/// Waits, if need be, for the next fixed window of `length` (windows are aligned to
/// the Unix epoch, as the server's are) so that at least `room` of it is left.
pub(crate) async fn with_room_in_window(length: Duration, room: Duration) {
    let length = i64::try_from(length.as_millis()).expect("short");
    let room = i64::try_from(room.as_millis()).expect("short");
    let into = Utc::now().timestamp_millis().rem_euclid(length);
    if into > length - room {
        let wait = u64::try_from(length - into + 200).expect("positive");
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

/// Time-sensitive checks start early in a 30-second step, so the server reads the
/// clock in the same step as the test did.
pub(crate) async fn early_in_a_step() {
    with_room_in_window(Duration::from_secs(30), Duration::from_secs(20)).await;
}

/// The per-account count of wrong proofs runs in fixed 15-minute windows
/// (`gatehouse_core::factor_guard::ACCOUNT_WINDOW`): a test that counts on it starts
/// well before a window ends.
pub(crate) async fn early_in_an_account_window() {
    let window = gatehouse_core::factor_guard::ACCOUNT_WINDOW
        .to_std()
        .expect("positive");
    with_room_in_window(window, Duration::from_secs(60)).await;
}

/// Starts a TOTP enrolment; returns the pending factor id and the scanning app.
pub(crate) async fn start_totp(api: &Api<'_>) -> (String, App) {
    let res = api.start(json!({"kind": "totp"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        res.headers()["cache-control"],
        "no-store",
        "it holds a secret"
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["factor"]["kind"], "totp");
    assert_eq!(body["factor"]["status"], "pending");
    let setup = &body["setup"];
    let uri = setup["otpauth_uri"].as_str().expect("otpauth_uri");
    assert!(uri.starts_with("otpauth://totp/Gatehouse:"), "{uri}");
    let totp = totp_rs::Totp::from_url(uri).expect("an otpauth URI an app accepts");
    assert_eq!(totp.issuer(), Some("Gatehouse"));
    assert_eq!(totp.account_name(), EMAIL);
    assert_eq!((totp.digits(), totp.step()), (6, 30));
    assert_eq!(totp.algorithm(), totp_rs::Algorithm::SHA1);
    assert_eq!(
        setup["secret"].as_str(),
        Some(totp.secret().to_base32().as_str())
    );
    let png = STANDARD
        .decode(setup["qr_png_base64"].as_str().expect("png"))
        .expect("base64");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG image");
    let svg = setup["qr_svg"].as_str().expect("svg");
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
    (
        body["factor"]["id"].as_str().expect("id").to_owned(),
        App(totp),
    )
}

pub(crate) fn audit_kinds(w: &World) -> Vec<(AuditKind, String)> {
    let mut events = w
        .server
        .store()
        .events_of(w.account.id, None, 100)
        .expect("audit");
    events.reverse();
    events
        .into_iter()
        // Changes to the factors only: logins (and their failures, recovery codes spent
        // and consent given to a third-party client) are login events.
        .filter(|e| {
            !matches!(
                e.event.kind,
                AuditKind::LoginSucceeded
                    | AuditKind::LoginFailed
                    | AuditKind::RecoveryCodeUsed
                    | AuditKind::ConsentGranted
            )
        })
        .map(|e| {
            (
                e.event.kind,
                e.event.detail.get("kind").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

async fn totp_from_enrolment_to_login(db: TestDatabase) {
    let w = world(db).await;
    let api = account_api(&w).await;
    let listed = api.list().await;
    assert_eq!(listed["factors"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["factors"][0]["id"], "email");
    assert_eq!(listed["factors"][0]["removable"], false);
    let kinds = listed["kinds"].as_array().expect("kinds");
    let kind = |name: &str| {
        kinds
            .iter()
            .find(|k| k["kind"] == name)
            .expect("kind")
            .clone()
    };
    assert_eq!(kind("totp")["enrollable"], true);
    assert_eq!(kind("recovery_code")["enrollable"], true);
    assert_eq!(kind("sms")["enrollable"], false);
    assert_eq!(kind("sms")["reason"], "retired");
    assert_eq!(kind("email_otp")["reason"], "automatic");

    // Enrolment: pending until a right code; a pending factor is never offered.
    let (factor, app) = start_totp(&api).await;
    // The secret is sealed at rest: the row holds neither its bytes nor its base32.
    let stored = w
        .server
        .store()
        .factor_by_id(FactorId(uuid::Uuid::parse_str(&factor).expect("uuid")))
        .expect("read")
        .expect("stored");
    let sealed = stored.secret.expect("sealed secret");
    let raw = app.0.secret().as_ref().to_vec();
    assert!(!sealed.windows(raw.len()).any(|w| w == raw.as_slice()));
    assert!(!String::from_utf8_lossy(&sealed).contains(&app.0.secret().to_base32()));
    let login = Login::begin(&w, "app", "openid").await;
    assert_eq!(login.offered_kinds(), vec!["email_otp"]);
    problem(
        login.verify(&w, &factor, &app.code(0)).await,
        StatusCode::CONFLICT,
        "factor_not_active",
    )
    .await;
    let body = problem(
        api.confirm(
            &factor,
            json!({"kind": "totp", "code": app.wrong_code(), "name": "Pixel"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "otp_invalid",
    )
    .await;
    assert_eq!(body["attempts_left"], 4);
    // One step of drift is accepted: the code of the step before. From here to the
    // first login everything happens within one step.
    early_in_a_step().await;
    let enrolled_with = app.code(-1);
    let res = api
        .confirm(
            &factor,
            json!({"kind": "totp", "code": enrolled_with, "name": "Pixel"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let confirmed: Value = res.json().await.expect("json");
    assert_eq!(confirmed["status"], "active");
    assert_eq!(confirmed["label"], "Pixel");
    problem(
        api.confirm(&factor, json!({"kind": "totp", "code": app.code(0)}))
            .await,
        StatusCode::CONFLICT,
        "factor_not_pending",
    )
    .await;

    // Login with the app: the default now; two steps away is refused, and so is the
    // step used at enrolment.
    let login = Login::begin(&w, "app", "openid").await;
    assert_eq!(
        login.offered["default_factor"].as_str(),
        Some(factor.as_str())
    );
    assert_eq!(login.offered_kinds(), vec!["totp", "email_otp"]);
    // A page reloaded now finds the same second step in the login view.
    let view = login.view(&w).await;
    assert_eq!(view["next"], "second_factor");
    assert_eq!(view["factors"], login.offered["factors"]);
    assert_eq!(view["default_factor"], login.offered["default_factor"]);
    let shown = login.challenge(&w, &factor).await;
    assert_eq!(
        (shown["kind"].as_str(), shown["code_length"].as_u64()),
        (Some("totp"), Some(6))
    );
    // The proof names its kind, and it must be the factor's: neither counts as a try.
    let body = |kind: Value| json!({"kind": kind, "code": app.code(0)});
    for (kind, status, code) in [
        (Value::Null, StatusCode::BAD_REQUEST, "invalid_json"),
        (
            json!("email_otp"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "factor_kind_mismatch",
        ),
    ] {
        let res = login
            .post(&w, &format!("factors/{factor}/verify"), body(kind))
            .await;
        problem(res, status, code).await;
    }
    for steps in [-2, 2] {
        problem(
            login.verify(&w, &factor, &app.code(steps)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp_invalid",
        )
        .await;
    }
    problem(
        login.verify(&w, &factor, &enrolled_with).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "otp_replayed",
    )
    .await;
    let done = login.verify(&w, &factor, &app.code(0)).await;
    let tokens = login.tokens(&w, done).await;
    let amr = claims(tokens["access_token"].as_str().expect("at"))["amr"].clone();
    assert_eq!(amr, json!(["pwd", "otp", "mfa"]));

    // The accepted step is never accepted again; the next one (drift ahead) is.
    let login = Login::begin(&w, "app", "openid").await;
    early_in_a_step().await;
    let now = app.code(0);
    let res = login.verify(&w, &factor, &now).await;
    if res.status() == StatusCode::OK {
        // The clock moved on to a new step since the last login: fine, try it again.
        let again = Login::begin(&w, "app", "openid").await;
        problem(
            again.verify(&w, &factor, &now).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp_replayed",
        )
        .await;
    } else {
        problem(res, StatusCode::UNPROCESSABLE_ENTITY, "otp_replayed").await;
        early_in_a_step().await;
        let done = login.verify(&w, &factor, &app.code(1)).await;
        assert_eq!(done.status(), StatusCode::OK);
    }

    // Five wrong codes, then even the right one is refused: throttled per factor.
    // "Try another method": the same login finishes with the e-mail code.
    let login = Login::begin(&w, "app", "openid").await;
    let wrong = app.wrong_code();
    for left in (0..5).rev() {
        let body = problem(
            login.verify(&w, &factor, &wrong).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp_invalid",
        )
        .await;
        assert_eq!(body["attempts_left"], left);
    }
    let body = problem(
        login.verify(&w, &factor, &app.code(1)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    assert!(
        body["retry_after"]
            .as_i64()
            .is_some_and(|s| s > 0 && s <= 900),
        "{body}"
    );
    let before = count_codes(w.mail_dir.path(), EMAIL);
    login.challenge(&w, "email").await;
    let code = nth_code(w.mail_dir.path(), EMAIL, before).await;
    assert_eq!(
        login.verify(&w, "email", &code).await.status(),
        StatusCode::OK
    );

    // Removing the last factor but e-mail is allowed; e-mail itself is not removable.
    let api = account_api(&w).await;
    assert_eq!(api.remove(&factor).await.status(), StatusCode::NO_CONTENT);
    problem(
        api.remove(&factor).await,
        StatusCode::NOT_FOUND,
        "factor_not_found",
    )
    .await;
    problem(
        api.remove("email").await,
        StatusCode::CONFLICT,
        "factor_not_removable",
    )
    .await;
    let login = Login::begin(&w, "app", "openid").await;
    assert_eq!(login.offered_kinds(), vec!["email_otp"]);

    // Each change was audited and mailed.
    assert_eq!(
        audit_kinds(&w),
        vec![
            (AuditKind::FactorAdded, "totp".to_owned()),
            (AuditKind::FactorRemoved, "totp".to_owned()),
        ]
    );
    let dir = w.mail_dir.path();
    wait_for_subject(
        dir,
        EMAIL,
        "A sign-in method was added to your Gatehouse account",
        1,
    )
    .await;
    wait_for_subject(
        dir,
        EMAIL,
        "A sign-in method was removed from your Gatehouse account",
        1,
    )
    .await;
    let added = mails(dir, EMAIL)
        .into_iter()
        .find(|(s, _)| s.contains("added"))
        .expect("added mail");
    assert!(
        added.1.contains("Authenticator app \"Pixel\" was added"),
        "{}",
        added.1
    );
}

#[tokio::test]
async fn sqlite_totp_from_enrolment_to_login() {
    totp_from_enrolment_to_login(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_totp_from_enrolment_to_login() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    totp_from_enrolment_to_login(db).await;
}

#[tokio::test]
async fn try_another_method_challenges_email_and_finishes_with_totp_or_a_recovery_code() {
    let w = world(TestDatabase::sqlite()).await;
    let api = account_api(&w).await;
    let (factor, app) = start_totp(&api).await;
    early_in_a_step().await;
    let res = api
        .confirm(&factor, json!({"kind": "totp", "code": app.code(0)}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body["label"], "Authenticator app",
        "unnamed: the kind's name"
    );
    let codes = api.new_recovery_codes().await;

    // A code is mailed, then the user switches to the app.
    let login = Login::begin(&w, "app", "openid").await;
    login.challenge(&w, "email").await;
    early_in_a_step().await;
    let done = login.verify(&w, &factor, &app.code(1)).await;
    assert_eq!(done.status(), StatusCode::OK);

    // Started on the app, finished with a recovery code.
    let login = Login::begin(&w, "app", "openid").await;
    login.challenge(&w, &factor).await;
    let recovery = login
        .offered("recovery_code")
        .expect("recovery codes offered");
    assert_ne!(
        login.offered["default_factor"].as_str(),
        Some(recovery.as_str())
    );
    let done = login.verify(&w, &recovery, &codes[3]).await;
    let tokens = login.tokens(&w, done).await;
    let amr = claims(tokens["access_token"].as_str().expect("at"))["amr"].clone();
    assert_eq!(amr, json!(["pwd", "otp", "mfa"]));
}

/// Two right proofs sent at the same instant finish the login once: the login request
/// is read inside the transaction that completes it, so the second proof finds it
/// complete (409) instead of opening a second session and minting a second code.
async fn a_login_finishes_once_when_two_proofs_race(db: TestDatabase) {
    let w = world(db).await;
    let api = account_api(&w).await;
    let codes = api.new_recovery_codes().await;
    let before = logins_succeeded(&w);
    for pair in codes.chunks(2) {
        let login = Login::begin(&w, "app", "openid").await;
        let set = login.offered("recovery_code").expect("offered");
        let (first, second) = tokio::join!(
            login.verify(&w, &set, &pair[0]),
            login.verify(&w, &set, &pair[1])
        );
        let mut statuses = [first.status(), second.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
        let refused = if first.status() == StatusCode::CONFLICT {
            first
        } else {
            second
        };
        problem(refused, StatusCode::CONFLICT, "login_request_completed").await;
    }
    assert_eq!(
        logins_succeeded(&w) - before,
        codes.len() / 2,
        "one finished login per pair"
    );
}

fn logins_succeeded(w: &World) -> usize {
    w.server
        .store()
        .events_of(w.account.id, None, 100)
        .expect("audit")
        .iter()
        .filter(|e| e.event.kind == AuditKind::LoginSucceeded)
        .count()
}

#[tokio::test]
async fn sqlite_a_login_finishes_once_when_two_proofs_race() {
    a_login_finishes_once_when_two_proofs_race(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_a_login_finishes_once_when_two_proofs_race() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    a_login_finishes_once_when_two_proofs_race(db).await;
}

#[tokio::test]
async fn recovery_codes_work_once_and_die_with_a_new_set() {
    let w = world(TestDatabase::sqlite()).await;
    let api = account_api(&w).await;
    let first = api.new_recovery_codes().await;
    assert_eq!(first.len(), 10);
    let distinct: std::collections::BTreeSet<_> = first.iter().collect();
    assert_eq!(distinct.len(), 10);
    assert!(
        first
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'),
        "{first:?}"
    );
    let listed = api.list().await;
    let set: Vec<_> = listed["factors"]
        .as_array()
        .expect("factors")
        .iter()
        .filter(|f| f["kind"] == "recovery_code")
        .collect();
    assert_eq!(set.len(), 1);
    assert_eq!(set[0]["status"], "active");

    // Stored as keyed hashes only.
    let set_id_typed =
        FactorId(uuid::Uuid::parse_str(set[0]["id"].as_str().expect("id")).expect("uuid"));
    let stored = w
        .server
        .store()
        .unused_recovery_codes(set_id_typed)
        .expect("codes");
    assert_eq!(stored.len(), 10);
    for row in &stored {
        assert!(first.iter().all(|c| {
            let plain = c.replace('-', "");
            !row.code_hash.contains(c.as_str()) && !row.code_hash.contains(&plain)
        }));
    }

    // Each code works once; typed in capitals without the dash is the same code.
    let login = Login::begin(&w, "app", "openid").await;
    let set_id = login.offered("recovery_code").expect("offered");
    assert_eq!(login.challenge(&w, &set_id).await["remaining"], 10);
    assert_eq!(
        login.verify(&w, &set_id, &first[0]).await.status(),
        StatusCode::OK
    );
    let login = Login::begin(&w, "app", "openid").await;
    problem(
        login.verify(&w, &set_id, &first[0]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "otp_invalid",
    )
    .await;
    let typed = first[1].replace('-', "").to_uppercase();
    assert_eq!(
        login.verify(&w, &set_id, &typed).await.status(),
        StatusCode::OK
    );

    // A new set: every old code is dead, the new ones work.
    let api = account_api(&w).await;
    let second = api.new_recovery_codes().await;
    let login = Login::begin(&w, "app", "openid").await;
    let new_set = login.offered("recovery_code").expect("offered");
    assert_ne!(new_set, set_id);
    problem(
        login.verify(&w, &set_id, &first[2]).await,
        StatusCode::NOT_FOUND,
        "factor_not_found",
    )
    .await;
    problem(
        login.verify(&w, &new_set, &first[2]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "otp_invalid",
    )
    .await;
    assert_eq!(
        login.verify(&w, &new_set, &second[9]).await.status(),
        StatusCode::OK
    );

    assert_eq!(
        audit_kinds(&w),
        vec![
            (AuditKind::FactorAdded, "recovery_code".to_owned()),
            (
                AuditKind::RecoveryCodesRegenerated,
                "recovery_code".to_owned()
            ),
        ]
    );
    let dir = w.mail_dir.path();
    wait_for_subject(
        dir,
        EMAIL,
        "A sign-in method was added to your Gatehouse account",
        1,
    )
    .await;
    wait_for_subject(
        dir,
        EMAIL,
        "New recovery codes were created for your Gatehouse account",
        1,
    )
    .await;
    // No code is ever mailed or stored in clear.
    for (_, body) in mails(dir, EMAIL) {
        assert!(second.iter().all(|c| !body.contains(c.as_str())));
    }
}

/// Wrong proofs are budgeted per account over all its factors
/// (`gatehouse_core::factor_guard`: eight per fixed 15-minute window, on top of five
/// per factor): five wrong app codes throttle the app, three wrong recovery codes
/// spend the rest, and then even the right recovery code is refused, for the account
/// and in any login. In the next window a right proof gets through and clears it.
/// An authenticator app (its factor id) and a set of recovery codes, both active,
/// and a recovery code that is not one of the set.
async fn app_and_recovery_codes(api: &Api<'_>) -> (String, App, Vec<String>, String) {
    let (factor, app) = start_totp(api).await;
    let res = api
        .confirm(&factor, json!({"kind": "totp", "code": app.code(0)}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let codes = api.new_recovery_codes().await;
    let wrong_recovery = (0..10)
        .map(|d| format!("{d}{d}{d}{d}{d}-{d}{d}{d}{d}{d}"))
        .find(|c| !codes.contains(c))
        .expect("a wrong recovery code");
    (factor, app, codes, wrong_recovery)
}

async fn wrong_proofs_are_budgeted_per_account(db: TestDatabase) {
    let w = world(db).await;
    let api = account_api(&w).await;
    let (factor, app, codes, wrong_recovery) = app_and_recovery_codes(&api).await;

    early_in_an_account_window().await;
    let login = Login::begin(&w, "app", "openid").await;
    let set = login.offered("recovery_code").expect("offered");
    let wrong = app.wrong_code();
    for left in (0..5).rev() {
        let body = problem(
            login.verify(&w, &factor, &wrong).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp_invalid",
        )
        .await;
        assert_eq!(body["attempts_left"], left);
    }
    // The app is throttled on its own: the answer suggests another method.
    let body = problem(
        login.verify(&w, &factor, &app.code(0)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    let detail = body["detail"].as_str().expect("detail");
    assert!(
        detail.contains("another method") && !detail.contains("account"),
        "{body}"
    );
    // Recovery codes have five tries of their own, but the account only three more.
    for left in [4, 3, 2] {
        let body = problem(
            login.verify(&w, &set, &wrong_recovery).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp_invalid",
        )
        .await;
        assert_eq!(body["attempts_left"], left);
    }
    let res = login.verify(&w, &set, &codes[0]).await;
    let retry_after: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let body = problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(body["retry_after"], retry_after);
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("account")),
        "{body}"
    );
    // The budget is the account's, not the login's: a new login is refused alike.
    let another = Login::begin(&w, "app", "openid").await;
    problem(
        another.verify(&w, &set, &codes[0]).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;

    // The next window (the stored count is moved back one window rather than waited
    // for): wrong codes count again, and the right one, unspent by the refusals, is
    // accepted and clears the account's count.
    let key = format!("wrong-proofs:{}", w.account.id);
    let aged = w.server.execute_sql(&format!(
        "UPDATE rate_limits SET window_start = window_start - 900000 WHERE key = '{key}'"
    ));
    assert_eq!(aged, 1, "the account's count is stored under {key}");
    let body = problem(
        login.verify(&w, &set, &wrong_recovery).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "otp_invalid",
    )
    .await;
    assert_eq!(body["attempts_left"], 1);
    let done = login.verify(&w, &set, &codes[0]).await;
    let tokens = login.tokens(&w, done).await;
    assert_eq!(amr(&id_token_claims(&tokens)), ["pwd", "otp", "mfa"]);
    let left = w.server.count_sql(&format!(
        "SELECT COUNT(*) AS n FROM rate_limits WHERE key = '{key}'"
    ));
    assert_eq!(left, 0, "a right proof clears the account's count");
    // … and the set's: five tries again.
    let login = Login::begin(&w, "app", "openid").await;
    let body = problem(
        login.verify(&w, &set, &wrong_recovery).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "otp_invalid",
    )
    .await;
    assert_eq!(body["attempts_left"], 4);
}

#[tokio::test]
async fn sqlite_wrong_proofs_are_budgeted_per_account() {
    wrong_proofs_are_budgeted_per_account(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_wrong_proofs_are_budgeted_per_account() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    wrong_proofs_are_budgeted_per_account(db).await;
}

/// Wrong proofs sent at the same instant, from ten logins and on two factors, are each
/// counted against the account before they are checked: eight are checked (the
/// account's budget), the other two refused unchecked, whichever finish first.
async fn wrong_proofs_sent_at_once_stay_within_the_account_budget(db: TestDatabase) {
    let w = world(db).await;
    let api = account_api(&w).await;
    let (factor, app, _, wrong_recovery) = app_and_recovery_codes(&api).await;
    let wrong_totp = app.wrong_code();

    early_in_an_account_window().await;
    for round in 0..3 {
        let logins =
            futures_util::future::join_all((0..10).map(|_| Login::begin(&w, "app", "openid")))
                .await;
        let set = logins[0].offered("recovery_code").expect("offered");
        let answers = futures_util::future::join_all(logins.iter().enumerate().map(|(i, l)| {
            if i % 2 == 0 {
                l.verify(&w, &factor, &wrong_totp)
            } else {
                l.verify(&w, &set, &wrong_recovery)
            }
        }))
        .await;
        assert_eq!(
            tally(&answers),
            BTreeMap::from([(422, 8), (429, 2)]),
            "round {round}"
        );
        // Fresh budgets for the next round.
        w.server.execute_sql("DELETE FROM rate_limits");
        w.server.execute_sql("DELETE FROM factor_guards");
    }
}

#[tokio::test]
async fn sqlite_wrong_proofs_sent_at_once_stay_within_the_account_budget() {
    wrong_proofs_sent_at_once_stay_within_the_account_budget(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_wrong_proofs_sent_at_once_stay_within_the_account_budget() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    wrong_proofs_sent_at_once_stay_within_the_account_budget(db).await;
}

/// E-mail codes asked for at the same instant, from ten logins of one account, stay
/// within the account's five sends per window.
async fn codes_asked_for_at_once_stay_within_the_send_limit(db: TestDatabase) {
    let w = world(db).await;
    let logins =
        futures_util::future::join_all((0..10).map(|_| Login::begin(&w, "app", "openid"))).await;
    let answers = futures_util::future::join_all(
        logins
            .iter()
            .map(|l| l.post(&w, "factors/email/challenge", json!({}))),
    )
    .await;
    assert_eq!(tally(&answers), BTreeMap::from([(200, 5), (429, 5)]));
}

#[tokio::test]
async fn sqlite_codes_asked_for_at_once_stay_within_the_send_limit() {
    codes_asked_for_at_once_stay_within_the_send_limit(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_codes_asked_for_at_once_stay_within_the_send_limit() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    codes_asked_for_at_once_stay_within_the_send_limit(db).await;
}

#[tokio::test]
async fn sms_is_retired_imported_sms_is_listed_but_never_offered() {
    let w = world(TestDatabase::sqlite()).await;
    // As the migration import stores it.
    let sms = Factor {
        id: FactorId::new(),
        account_id: w.account.id,
        kind: FactorKind::Sms,
        status: FactorStatus::Active,
        label: Some("+81 90-****-5678".to_owned()),
        public_data: None,
        secret: None,
        created_at: Utc::now() - TimeDelta::days(400),
        last_used_at: Some(Utc::now() - TimeDelta::days(30)),
    };
    w.server.store().insert_factor(&sms).expect("import sms");

    let login = Login::begin(&w, "app", "openid").await;
    assert_eq!(login.offered_kinds(), vec!["email_otp"]);
    assert_eq!(login.offered["default_factor"], "email");
    problem(
        login.verify(&w, &sms.id.to_string(), "123456").await,
        StatusCode::CONFLICT,
        "factor_retired",
    )
    .await;

    let api = account_api(&w).await;
    let listed = api.list().await;
    let shown = listed["factors"]
        .as_array()
        .expect("factors")
        .iter()
        .find(|f| f["kind"] == "sms")
        .expect("sms listed")
        .clone();
    assert_eq!(shown["status"], "retired");
    assert_eq!(shown["label"], "+81 90-****-5678");
    assert!(shown["last_used_at"].is_string());
    problem(
        api.start(json!({"kind": "sms"})).await,
        StatusCode::CONFLICT,
        "factor_retired",
    )
    .await;
    // The owner may clear it away.
    assert_eq!(
        api.remove(&sms.id.to_string()).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        audit_kinds(&w),
        vec![(AuditKind::FactorRemoved, "sms".to_owned())]
    );
    let events = w
        .server
        .store()
        .events_of(w.account.id, None, 1)
        .expect("audit");
    assert_eq!(events[0].event.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        events[0].event.detail.get("client_id").map(String::as_str),
        Some("app")
    );
}

#[tokio::test]
async fn the_account_api_refuses_what_it_must() {
    let w = world(TestDatabase::sqlite()).await;
    let anonymous = Api { w: &w, token: None };
    let res = anonymous
        .request(reqwest::Method::GET, "/api/v1/account/factors")
        .send()
        .await
        .expect("list");
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let forged = Api {
        w: &w,
        token: Some("not.a.token".to_owned()),
    };
    problem(
        forged.start(json!({"kind": "totp"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let no_scope = Api {
        w: &w,
        token: Some(token_via_email(&w, "app", "openid email").await),
    };
    let res = no_scope
        .request(reqwest::Method::GET, "/api/v1/account/factors")
        .send()
        .await
        .expect("list");
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .is_ok_and(|v| v.contains("insufficient_scope")),
    );
    problem(res, StatusCode::FORBIDDEN, "insufficient_scope").await;
    let partner = Api {
        w: &w,
        token: Some(token_via_email(&w, "partner", ACCOUNT_SCOPE).await),
    };
    problem(
        partner.start(json!({"kind": "totp"})).await,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;

    let api = account_api(&w).await;
    // Bodies that are not what the endpoint takes: problem+json with a code, never 500.
    let raw = api
        .request(reqwest::Method::POST, "/api/v1/account/factors")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("start");
    problem(raw, StatusCode::BAD_REQUEST, "invalid_json").await;
    for body in [
        json!({"kind": 5}),
        json!({"kind": "totp", "extra": 1}),
        json!([]),
    ] {
        problem(
            api.start(body).await,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        )
        .await;
    }
    problem(
        api.start(json!({"kind": "phone"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "factor_kind_unknown",
    )
    .await;
    for (kind, reason) in [("email_otp", "automatic")] {
        let body = problem(
            api.start(json!({"kind": kind})).await,
            StatusCode::CONFLICT,
            "factor_not_enrollable",
        )
        .await;
        assert_eq!(body["reason"], reason);
    }
    let (factor, app) = start_totp(&api).await;
    problem(
        api.confirm(&factor, json!({"kind": "totp", "code": 123456}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    problem(
        api.confirm(&factor, json!("123456")).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    // The proof names its kind, and it must be the factor's.
    problem(
        api.confirm(&factor, json!({"code": app.code(0)})).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    problem(
        api.confirm(&factor, json!({"kind": "passkey", "credential": {}}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "factor_kind_mismatch",
    )
    .await;
    problem(
        api.confirm(
            &factor,
            json!({"kind": "totp", "code": app.code(0), "name": "x".repeat(65)}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_name",
    )
    .await;
    problem(
        api.confirm(
            &factor,
            json!({"kind": "totp", "code": app.code(0), "name": "bad\u{7}name"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_name",
    )
    .await;
    problem(
        api.confirm(
            &FactorId::new().to_string(),
            json!({"kind": "totp", "code": "123456"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "factor_not_found",
    )
    .await;
    problem(
        api.remove("not-an-id").await,
        StatusCode::NOT_FOUND,
        "factor_not_found",
    )
    .await;
    problem(
        api.remove(&FactorId::new().to_string()).await,
        StatusCode::NOT_FOUND,
        "factor_not_found",
    )
    .await;

    // An enrolment left pending too long is gone.
    let (late, late_app) = start_totp(&api).await;
    let store = w.server.store();
    let late_id = FactorId(uuid::Uuid::parse_str(&late).expect("uuid"));
    let mut aged = store.factor_by_id(late_id).expect("read").expect("pending");
    aged.created_at -= TimeDelta::minutes(16);
    store.update_factor(&aged).expect("age it");
    problem(
        api.confirm(&late, json!({"kind": "totp", "code": late_app.code(0)}))
            .await,
        StatusCode::GONE,
        "enrolment_expired",
    )
    .await;
    assert_eq!(store.factor_by_id(late_id), Ok(None));

    // Another account's factor is not found either.
    let other = w
        .server
        .create_account("other@example.com", Some(PASSWORD), AccountStatus::Active);
    let foreign = Factor {
        id: FactorId::new(),
        account_id: other.id,
        kind: FactorKind::Totp,
        status: FactorStatus::Active,
        label: None,
        public_data: None,
        secret: None,
        created_at: Utc::now(),
        last_used_at: None,
    };
    w.server.store().insert_factor(&foreign).expect("insert");
    problem(
        api.remove(&foreign.id.to_string()).await,
        StatusCode::NOT_FOUND,
        "factor_not_found",
    )
    .await;

    assert!(audit_kinds(&w).is_empty(), "nothing changed");
}

#[tokio::test]
async fn changes_need_a_recent_login() {
    let w = world_with(TestDatabase::sqlite(), |c| {
        c.account_api.reauthentication_window_seconds = 1;
    })
    .await;
    let api = account_api(&w).await;
    let pending = Factor {
        id: FactorId::new(),
        account_id: w.account.id,
        kind: FactorKind::Totp,
        status: FactorStatus::Pending,
        label: None,
        public_data: None,
        secret: None,
        created_at: Utc::now(),
        last_used_at: None,
    };
    w.server.store().insert_factor(&pending).expect("insert");
    let factor = pending.id.to_string();
    // auth_time is in whole seconds: three seconds later it is surely over one old.
    w.clock.advance(TimeDelta::seconds(3));
    // Listing still works; changes do not.
    api.list().await;
    let body = problem(
        api.start(json!({"kind": "totp"})).await,
        StatusCode::FORBIDDEN,
        "reauthentication_required",
    )
    .await;
    assert_eq!(body["max_age"], 1);
    for res in [
        api.confirm(&factor, json!({"kind": "totp", "code": "123456"}))
            .await,
        api.remove(&factor).await,
        api.request(reqwest::Method::POST, "/api/v1/account/recovery-codes")
            .send()
            .await
            .expect("codes"),
    ] {
        problem(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
    }
    assert!(audit_kinds(&w).is_empty(), "nothing changed");
}

/// Two browsers send the same code at once (a phished code relayed while the user
/// types it): exactly one login gets through.
async fn a_code_raced_from_two_browsers_wins_once(db: TestDatabase) {
    let w = world(db).await;
    let api = account_api(&w).await;
    let (factor, app) = start_totp(&api).await;
    early_in_a_step().await;
    let res = api
        .confirm(&factor, json!({"kind": "totp", "code": app.code(-1)}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (one, two) = tokio::join!(
        Login::begin(&w, "app", "openid"),
        Login::begin(&w, "app", "openid")
    );
    let code = app.code(0);
    let (a, b) = tokio::join!(
        one.verify(&w, &factor, &code),
        two.verify(&w, &factor, &code)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNPROCESSABLE_ENTITY]);
    let refused = if a.status() == StatusCode::OK { b } else { a };
    problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "otp_replayed").await;
}

#[tokio::test]
async fn sqlite_a_code_raced_from_two_browsers_wins_once() {
    a_code_raced_from_two_browsers_wins_once(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_a_code_raced_from_two_browsers_wins_once() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    a_code_raced_from_two_browsers_wins_once(db).await;
}

/// With no WebAuthn relying party (an issuer on a public IP address and no `rp_id`),
/// the WebAuthn kinds are listed as not enrollable, and say why.
#[tokio::test]
async fn webauthn_kinds_are_not_enrollable_without_a_relying_party() {
    let w = world_with(TestDatabase::sqlite(), |c| {
        c.server.issuer = "https://192.0.2.10".to_owned();
    })
    .await;
    let api = account_api(&w).await;
    let listed = api.list().await;
    let kinds = listed["kinds"].as_array().expect("kinds");
    for name in ["security_key", "passkey", "platform"] {
        let kind = kinds.iter().find(|k| k["kind"] == name).expect("listed");
        assert_eq!(
            (kind["enrollable"].clone(), kind["reason"].clone()),
            (json!(false), json!("unavailable")),
            "{name}"
        );
        problem(
            api.start(json!({"kind": name})).await,
            StatusCode::CONFLICT,
            "webauthn_unavailable",
        )
        .await;
    }
    let totp = kinds.iter().find(|k| k["kind"] == "totp").expect("listed");
    assert_eq!(totp["enrollable"], true);
}

#[tokio::test]
async fn a_kind_switched_off_by_configuration_cannot_be_added() {
    let w = world_with(TestDatabase::sqlite(), |c| {
        c.factors.recovery_code = gatehouse_core::KindState::Disabled;
    })
    .await;
    let api = account_api(&w).await;
    let listed = api.list().await;
    let kind = listed["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .find(|k| k["kind"] == "recovery_code")
        .expect("listed")
        .clone();
    assert_eq!(
        (kind["enrollable"].clone(), kind["reason"].clone()),
        (json!(false), json!("disabled"))
    );
    let res = api
        .request(reqwest::Method::POST, "/api/v1/account/recovery-codes")
        .send()
        .await
        .expect("codes");
    problem(res, StatusCode::CONFLICT, "factor_disabled").await;
}

#[tokio::test]
async fn notices_follow_the_account_locale() {
    let w = world(TestDatabase::sqlite()).await;
    let api = account_api(&w).await;
    let mut account = w.account.clone();
    account.locale = Some("ja-JP".to_owned());
    w.server.store().update_account(&account).expect("locale");
    api.new_recovery_codes().await;
    api.new_recovery_codes().await;
    // Japanese subjects are encoded words in the .eml; the outbox row keeps them plain.
    let url = w
        .server
        .config
        .database
        .url
        .trim_start_matches("sqlite://")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    let subjects = loop {
        use diesel::{Connection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            subject: String,
        }
        let mut conn = diesel::SqliteConnection::establish(&url).expect("db");
        let rows: Vec<Row> =
            diesel::sql_query("SELECT subject FROM mail_outbox ORDER BY created_at")
                .load(&mut conn)
                .expect("subjects");
        let subjects: Vec<String> = rows.into_iter().map(|r| r.subject).collect();
        if subjects.len() >= 3 || Instant::now() > deadline {
            break subjects;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        subjects[1..],
        [
            "Gatehouse アカウントにサインイン方法が追加されました".to_owned(),
            "Gatehouse アカウントの新しいリカバリーコードが作成されました".to_owned(),
        ]
    );
}

fn guards_count_attempts_and_refuse_old_steps(store: &gatehouse_store::Store) {
    let account = gatehouse_core::Account::new(
        gatehouse_core::Subject::generate(),
        None,
        AccountStatus::Active,
        Utc::now(),
    );
    store.insert_account(&account).expect("account");
    let factor = Factor {
        id: FactorId::new(),
        account_id: account.id,
        kind: FactorKind::Totp,
        status: FactorStatus::Active,
        label: None,
        public_data: None,
        secret: None,
        created_at: Utc::now(),
        last_used_at: None,
    };
    store.insert_factor(&factor).expect("factor");
    let t0 = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("instant");
    let window = TimeDelta::minutes(15);
    // An imported factor has no guard yet: the first attempt makes one.
    let imported = Factor {
        id: FactorId::new(),
        ..factor.clone()
    };
    store.insert_factor(&imported).expect("imported");
    assert_eq!(
        store.take_attempt(imported.id, t0, window).map(|a| a.count),
        Ok(1)
    );
    store.open_guard(factor.id, t0).expect("guard");
    for n in 1..=3 {
        let attempts = store.take_attempt(factor.id, t0, window).expect("attempt");
        assert_eq!((attempts.count, attempts.window_started_at), (n, t0));
    }
    store.clear_attempts(factor.id).expect("clear");
    assert_eq!(
        store.take_attempt(factor.id, t0, window).expect("a").count,
        1
    );
    let later = t0 + window + TimeDelta::seconds(1);
    let fresh = store.take_attempt(factor.id, later, window).expect("a");
    assert_eq!(
        (fresh.count, fresh.window_started_at),
        (1, later),
        "a new window"
    );

    assert_eq!(store.advance_step(factor.id, 100), Ok(true));
    assert_eq!(store.advance_step(factor.id, 100), Ok(false), "a step once");
    assert_eq!(
        store.advance_step(factor.id, 99),
        Ok(false),
        "never an older one"
    );
    assert_eq!(store.advance_step(factor.id, 101), Ok(true));

    // Recovery codes: each used once; the set goes with its factor.
    let code = RecoveryCode {
        id: uuid::Uuid::now_v7().to_string(),
        factor_id: factor.id,
        code_hash: "hash".to_owned(),
        used_at: None,
    };
    store.insert_recovery_code(&code).expect("code");
    assert_eq!(
        store.unused_recovery_codes(factor.id).map(|c| c.len()),
        Ok(1)
    );
    assert_eq!(store.use_recovery_code(&code.id, t0), Ok(true));
    assert_eq!(store.use_recovery_code(&code.id, t0), Ok(false));
    assert_eq!(
        store.unused_recovery_codes(factor.id).map(|c| c.len()),
        Ok(0)
    );
    store.delete_factor(factor.id).expect("delete");
    assert_eq!(
        store.advance_step(factor.id, 200),
        Ok(false),
        "the guard went with the factor"
    );
}

#[test]
fn sqlite_guards_count_attempts_and_refuse_old_steps() {
    let db = TestDatabase::sqlite();
    guards_count_attempts_and_refuse_old_steps(&db.store());
}

#[test]
fn postgres_guards_count_attempts_and_refuse_old_steps() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    guards_count_attempts_and_refuse_old_steps(&db.store());
}
