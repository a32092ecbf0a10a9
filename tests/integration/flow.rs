//! The whole login, as a relying party (the openidconnect crate), a browser and the
//! login UI drive it: discovery, authorize, password, the e-mail code read from the
//! mail the server sent, code exchange with PKCE, ID token verified through the JWKS,
//! userinfo, refresh, logout. Then the e-mail code's refusals.

use diesel::{Connection, RunQueryDsl};
use gatehouse_core::{AccountStatus, SigningAlg};
use gatehouse_provider::clients::ClientRequest;
use gatehouse_provider::config::MailTransportKind;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse as _,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse as _,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{TestDatabase, TestServer, test_config};

const REDIRECT: &str = "https://rp.example.com/callback";
const PASSWORD: &str = "Correct-Horse#42";

struct World {
    server: TestServer,
    mail_dir: tempfile::TempDir,
    secret: String,
}

async fn world(db: TestDatabase, alg: SigningAlg) -> World {
    world_with(db, alg, |_| {}).await
}

async fn world_with(
    db: TestDatabase,
    alg: SigningAlg,
    tweak: impl FnOnce(&mut gatehouse_provider::Config),
) -> World {
    let mail_dir = tempfile::tempdir().expect("mail dir");
    let mut config = test_config(&db.url);
    // The issuer must be the address the RP really reaches, for discovery to work.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    config.server.bind = format!("127.0.0.1:{port}");
    config.server.issuer = format!("http://127.0.0.1:{port}");
    config.mail.transport = MailTransportKind::File;
    config.mail.file_dir = mail_dir.path().display().to_string();
    tweak(&mut config);
    let server = TestServer::start_with(config, Some(db)).await;
    let (_, secret) = server.register_client(ClientRequest {
        id: Some("portal".to_owned()),
        name: "Support Portal".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        post_logout_redirect_uris: vec!["https://rp.example.com/bye".to_owned()],
        id_token_alg: Some(alg),
        ..ClientRequest::default()
    });
    server.create_account("Rie@example.com", Some(PASSWORD), AccountStatus::Active);
    World {
        server,
        mail_dir,
        secret: secret.expect("secret"),
    }
}

/// The newest one-time code mailed to `to`, waiting for the outbox worker to send it.
pub(crate) async fn mailed_code(dir: &Path, to: &str, skip: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut codes = vec![];
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        for path in entries
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if !text
                .lines()
                .any(|l| l.eq_ignore_ascii_case(&format!("To: {to}")))
            {
                continue;
            }
            let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
            if let Some(code) = body
                .lines()
                .map(str::trim)
                .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
            {
                codes.push(code.to_owned());
            }
        }
        if codes.len() > skip {
            return codes[skip].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no code mailed to {to} in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A browser at the login UI: it followed /authorize and holds the challenge.
pub(crate) struct Browser {
    pub http: reqwest::Client,
    pub challenge: String,
}

impl Browser {
    pub async fn open(server: &TestServer, authorize_url: &str) -> Self {
        let http = server.browser();
        let res = http.get(authorize_url).send().await.expect("authorize");
        assert_eq!(res.status(), StatusCode::FOUND);
        let to = url::Url::parse(res.headers()["location"].to_str().expect("ascii")).expect("url");
        let challenge = to
            .query_pairs()
            .find(|(k, _)| k == "login_challenge")
            .map(|(_, v)| v.into_owned())
            .expect("challenge");
        Self { http, challenge }
    }

    pub async fn post(&self, server: &TestServer, step: &str, body: Value) -> reqwest::Response {
        self.http
            .post(server.url(&format!("/api/v1/login/{}/{step}", self.challenge)))
            .json(&body)
            .send()
            .await
            .expect("login step")
    }
}

async fn rp_flow(db: TestDatabase, alg: SigningAlg) {
    let w = world(db, alg).await;
    let issuer = w.server.config.server.issuer.clone();
    // Discovery (and the JWKS), fetched by the RP library itself.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("rp http client");
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(issuer.clone()).expect("issuer"),
        &http,
    )
    .await
    .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("portal".to_owned()),
        Some(ClientSecret::new(w.secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).expect("redirect"));
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".to_owned()))
        .set_pkce_challenge(pkce_challenge)
        .url();
    let authorize_url = authorize_url.to_string();

    let browser = Browser::open(&w.server, &authorize_url).await;
    let step: Value = browser
        .post(
            &w.server,
            "password",
            json!({"identifier": "rie@example.com", "password": PASSWORD}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(step["next"], "second_factor");
    let factor = step["default_factor"].as_str().expect("default").to_owned();
    assert_eq!(factor, "email");
    let sent: Value = browser
        .post(&w.server, &format!("factors/{factor}/challenge"), json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(sent["sent_to"], "R***@example.com");
    let code = mailed_code(w.mail_dir.path(), "Rie@example.com", 0).await;
    let res = browser
        .post(
            &w.server,
            &format!("factors/{factor}/verify"),
            json!({"kind": "email_otp", "code": code}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let session_cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        session_cookie.starts_with("gatehouse_session=") && session_cookie.contains("HttpOnly"),
        "{session_cookie}"
    );
    let done: Value = res.json().await.expect("json");
    assert_eq!(done["next"], "done");
    let back = url::Url::parse(done["redirect_to"].as_str().expect("redirect_to")).expect("url");
    assert!(back.as_str().starts_with(REDIRECT));
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(param("iss").as_deref(), Some(issuer.as_str()));
    let code = param("code").expect("code");

    // The RP redeems the code with its PKCE verifier and client secret.
    let tokens = client
        .exchange_code(openidconnect::AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![gatehouse_provider::crypto::signing::jws_alg(alg)]);
    let id_token = tokens.id_token().expect("id token");
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token verifies");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("Rie@example.com"));
    let amr: Vec<_> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    assert_eq!(amr, vec!["pwd", "otp", "mfa"]);
    let at_hash = openidconnect::AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&verifier).expect("key"),
    )
    .expect("hash");
    assert_eq!(claims.access_token_hash(), Some(&at_hash));

    // Userinfo with the access token, then a refresh with rotation.
    let info: Value = w
        .server
        .client
        .get(w.server.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(info["sub"], claims.subject().as_str());
    let refresh = tokens
        .refresh_token()
        .expect("refresh token")
        .secret()
        .clone();
    let res = w
        .server
        .client
        .post(w.server.url("/token"))
        .basic_auth("portal", Some(&w.secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), StatusCode::OK);

    // RP-initiated logout with the ID token as hint ends the session and its tokens.
    let id_token_hint = id_token.to_string();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", id_token_hint.as_str()),
            ("post_logout_redirect_uri", "https://rp.example.com/bye"),
        ])
        .finish();
    let res = browser
        .http
        .get(w.server.url(&format!("/end_session?{query}")))
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), StatusCode::FOUND);
    let status = w
        .server
        .client
        .get(w.server.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .expect("userinfo")
        .status();
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "logout ends what the login issued"
    );
}

#[tokio::test]
async fn sqlite_rp_flow_rs256() {
    rp_flow(TestDatabase::sqlite(), SigningAlg::Rs256).await;
}

#[tokio::test]
async fn sqlite_rp_flow_es256() {
    rp_flow(TestDatabase::sqlite(), SigningAlg::Es256).await;
}

#[tokio::test]
async fn sqlite_rp_flow_eddsa() {
    rp_flow(TestDatabase::sqlite(), SigningAlg::EdDsa).await;
}

#[tokio::test]
async fn postgres_rp_flow_rs256() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    rp_flow(db, SigningAlg::Rs256).await;
}

#[tokio::test]
async fn postgres_rp_flow_eddsa() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    rp_flow(db, SigningAlg::EdDsa).await;
}

/// A browser past the password step, for the refusal tests.
async fn at_second_factor(w: &World) -> Browser {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "portal"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            (
                "code_challenge",
                "sudwJ2WjmNyx0v9qmeo7WlWTUyMYPS2aFMkHWKXwQOQ",
            ),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let browser = Browser::open(&w.server, &w.server.url(&format!("/authorize?{query}"))).await;
    let res = browser
        .post(
            &w.server,
            "password",
            json!({"identifier": "rie@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    browser
}

async fn problem(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.expect("problem");
    assert_eq!(body["code"], code, "{body}");
    body
}

/// `[email_otp]`: the code's lifetime, its tries and the sends per window.
#[tokio::test]
async fn the_email_code_limits_come_from_the_configuration() {
    let w = world_with(TestDatabase::sqlite(), SigningAlg::Rs256, |c| {
        c.email_otp.code_ttl_seconds = 120;
        c.email_otp.max_tries = 2;
        c.email_otp.max_sends = 2;
        c.email_otp.send_window_seconds = 60;
    })
    .await;
    let browser = at_second_factor(&w).await;
    for _ in 0..2 {
        let res = browser
            .post(&w.server, "factors/email/challenge", json!({}))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let sent: Value = res.json().await.expect("json");
        assert_eq!(sent["expires_in"], 120);
    }
    let body = problem(
        browser
            .post(&w.server, "factors/email/challenge", json!({}))
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "otp_send_limit",
    )
    .await;
    assert!(
        body["retry_after"]
            .as_i64()
            .is_some_and(|s| (1..=60).contains(&s)),
        "{body}"
    );
    let right = mailed_code(w.mail_dir.path(), "Rie@example.com", 1).await;
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let body = problem(
        browser
            .post(
                &w.server,
                "factors/email/verify",
                json!({"kind": "email_otp", "code": wrong}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "otp_invalid",
    )
    .await;
    assert_eq!(body["attempts_left"], 1);
    problem(
        browser
            .post(
                &w.server,
                "factors/email/verify",
                json!({"kind": "email_otp", "code": wrong}),
            )
            .await,
        StatusCode::CONFLICT,
        "otp_exhausted",
    )
    .await;
    let expires_at = w
        .server
        .count_sql("SELECT MAX(expires_at - created_at) AS n FROM otp_challenges");
    assert_eq!(expires_at, 120_000, "the code lives code_ttl_seconds");
}

#[tokio::test]
async fn five_wrong_codes_kill_the_code() {
    let w = world(TestDatabase::sqlite(), SigningAlg::Rs256).await;
    let browser = at_second_factor(&w).await;
    assert_eq!(
        browser
            .post(&w.server, "factors/email/challenge", json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    let right = mailed_code(w.mail_dir.path(), "Rie@example.com", 0).await;
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for left in (1..5).rev() {
        let body = problem(
            browser
                .post(
                    &w.server,
                    "factors/email/verify",
                    json!({"kind": "email_otp", "code": wrong}),
                )
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp_invalid",
        )
        .await;
        assert_eq!(body["attempts_left"], left);
    }
    problem(
        browser
            .post(
                &w.server,
                "factors/email/verify",
                json!({"kind": "email_otp", "code": wrong}),
            )
            .await,
        StatusCode::CONFLICT,
        "otp_exhausted",
    )
    .await;
    // The right code is dead too now.
    problem(
        browser
            .post(
                &w.server,
                "factors/email/verify",
                json!({"kind": "email_otp", "code": right}),
            )
            .await,
        StatusCode::CONFLICT,
        "otp_exhausted",
    )
    .await;
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let w = world(TestDatabase::sqlite(), SigningAlg::Rs256).await;
    let browser = at_second_factor(&w).await;
    browser
        .post(&w.server, "factors/email/challenge", json!({}))
        .await;
    let code = mailed_code(w.mail_dir.path(), "Rie@example.com", 0).await;
    let path = w
        .server
        .config
        .database
        .url
        .trim_start_matches("sqlite://")
        .to_owned();
    let mut conn = diesel::SqliteConnection::establish(&path).expect("db");
    diesel::sql_query("UPDATE otp_challenges SET expires_at = 0")
        .execute(&mut conn)
        .expect("age the code");
    problem(
        browser
            .post(
                &w.server,
                "factors/email/verify",
                json!({"kind": "email_otp", "code": code}),
            )
            .await,
        StatusCode::CONFLICT,
        "otp_expired",
    )
    .await;
}

#[tokio::test]
async fn at_most_five_codes_per_fifteen_minutes_and_a_new_code_voids_the_old() {
    let w = world(TestDatabase::sqlite(), SigningAlg::Rs256).await;
    let browser = at_second_factor(&w).await;
    for _ in 0..5 {
        assert_eq!(
            browser
                .post(&w.server, "factors/email/challenge", json!({}))
                .await
                .status(),
            StatusCode::OK
        );
    }
    let res = browser
        .post(&w.server, "factors/email/challenge", json!({}))
        .await;
    // Like every 429: when to come back, in the header and the body.
    let header: i64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    let body = problem(res, StatusCode::TOO_MANY_REQUESTS, "otp_send_limit").await;
    assert!((1..=900).contains(&header), "{header}");
    assert_eq!(body["retry_after"], header);
    assert_eq!(body["title"], "Too many codes were sent");
    let first = mailed_code(w.mail_dir.path(), "Rie@example.com", 0).await;
    let last = mailed_code(w.mail_dir.path(), "Rie@example.com", 4).await;
    if first != last {
        // The first code was replaced by later ones: only the newest counts.
        let body = problem(
            browser
                .post(
                    &w.server,
                    "factors/email/verify",
                    json!({"kind": "email_otp", "code": first}),
                )
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp_invalid",
        )
        .await;
        assert_eq!(body["attempts_left"], 4);
    }
    assert_eq!(
        browser
            .post(
                &w.server,
                "factors/email/verify",
                json!({"kind": "email_otp", "code": last})
            )
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_second_step_needs_the_first_and_the_same_browser() {
    let w = world(TestDatabase::sqlite(), SigningAlg::Rs256).await;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "portal"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            (
                "code_challenge",
                "sudwJ2WjmNyx0v9qmeo7WlWTUyMYPS2aFMkHWKXwQOQ",
            ),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let browser = Browser::open(&w.server, &w.server.url(&format!("/authorize?{query}"))).await;
    problem(
        browser
            .post(&w.server, "factors/email/challenge", json!({}))
            .await,
        StatusCode::CONFLICT,
        "password_required",
    )
    .await;
    let stranger = Browser {
        http: w.server.browser(),
        challenge: browser.challenge.clone(),
    };
    problem(
        stranger
            .post(&w.server, "factors/email/challenge", json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "browser_mismatch",
    )
    .await;
    let browser = at_second_factor(&w).await;
    problem(
        browser
            .post(&w.server, "factors/not-a-factor/challenge", json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "factor_not_found",
    )
    .await;
    problem(
        browser
            .post(
                &w.server,
                "factors/email/verify",
                json!({"kind": "email_otp", "code": "123456"}),
            )
            .await,
        StatusCode::CONFLICT,
        "otp_not_sent",
    )
    .await;
}

fn authorize_query(extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", "portal"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "again"),
        (
            "code_challenge",
            "sudwJ2WjmNyx0v9qmeo7WlWTUyMYPS2aFMkHWKXwQOQ",
        ),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[tokio::test]
async fn a_signed_in_browser_gets_its_code_at_once_unless_asked_to_log_in() {
    let w = world(TestDatabase::sqlite(), SigningAlg::Rs256).await;
    let browser = at_second_factor(&w).await;
    browser
        .post(&w.server, "factors/email/challenge", json!({}))
        .await;
    let code = mailed_code(w.mail_dir.path(), "Rie@example.com", 0).await;
    let res = browser
        .post(
            &w.server,
            "factors/email/verify",
            json!({"kind": "email_otp", "code": code}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let location = |res: &reqwest::Response| {
        res.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned()
    };
    for extra in [vec![], vec![("prompt", "none")], vec![("max_age", "3600")]] {
        let res = browser
            .http
            .get(
                w.server
                    .url(&format!("/authorize?{}", authorize_query(&extra))),
            )
            .send()
            .await
            .expect("authorize");
        assert_eq!(res.status(), StatusCode::FOUND);
        let to = location(&res);
        assert!(
            to.starts_with(REDIRECT) && to.contains("code=") && to.contains("state=again"),
            "{extra:?}: {to}"
        );
    }
    w.server.advance(2);
    for extra in [vec![("prompt", "login")], vec![("max_age", "0")]] {
        let res = browser
            .http
            .get(
                w.server
                    .url(&format!("/authorize?{}", authorize_query(&extra))),
            )
            .send()
            .await
            .expect("authorize");
        let to = location(&res);
        assert!(
            to.starts_with(&w.server.config.login.ui_url),
            "{extra:?} must log in again: {to}"
        );
    }
    let res = browser
        .http
        .get(w.server.url(&format!(
            "/authorize?{}",
            authorize_query(&[("prompt", "none"), ("max_age", "0")])
        )))
        .send()
        .await
        .expect("authorize");
    let to = location(&res);
    assert!(
        to.starts_with(REDIRECT) && to.contains("error=login_required"),
        "{to}"
    );
    // Another browser has no session.
    let res = w
        .server
        .browser()
        .get(w.server.url(&format!(
            "/authorize?{}",
            authorize_query(&[("prompt", "none")])
        )))
        .send()
        .await
        .expect("authorize");
    assert!(location(&res).contains("error=login_required"));
}

#[tokio::test]
async fn postgres_rp_flow_es256() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    rp_flow(db, SigningAlg::Es256).await;
}
