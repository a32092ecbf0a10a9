//! What the server logs: route templates, never a secret. A registration and a whole
//! login are run against the real binary with its log captured, then every secret
//! they handled is looked for in that log.

use openidconnect::PkceCodeChallenge;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use crate::registration::{mailed_otp, registration_mail};
use crate::support::process::ServerProcess;
use crate::support::{TestDatabase, test_config};

const REDIRECT: &str = "https://portal.example.com/cb";
const UI: &str = "https://portal.example.com/register";
const PASSWORD: &str = "Tanaka-Rie#2026!";

/// Whether `secret` occurs in `log` as a whole word: a six-digit code counts only
/// where no other digit touches it (timings are full of digits).
fn occurs(log: &str, secret: &str) -> bool {
    if !secret.bytes().all(|b| b.is_ascii_digit()) {
        return log.contains(secret);
    }
    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
    log.match_indices(secret).any(|(at, _)| {
        !digit(log[..at].chars().next_back()) && !digit(log[at + secret.len()..].chars().next())
    })
}

fn json_ok(status: StatusCode, body: &Value) {
    assert!(status.is_success(), "{status}: {body}");
}

#[tokio::test]
async fn no_token_challenge_code_or_jwt_reaches_the_log() {
    let db = TestDatabase::sqlite();
    let dir = tempfile::tempdir().expect("dir");
    let mail_dir = tempfile::tempdir().expect("mail dir");
    let mut config = test_config(&db.url);
    config.mail.transport = gatehouse_provider::config::MailTransportKind::File;
    config.mail.file_dir = mail_dir.path().display().to_string();
    config.migration.registration_ui_url = UI.to_owned();
    // As verbose as an operator chasing a problem would set it.
    config.logging.level = "debug".to_owned();
    let server = ServerProcess::start(&config, dir.path());
    let cli = |args: &[&str]| server.run(dir.path(), args);
    let client: Value = serde_json::from_str(&cli(&[
        "clients",
        "add",
        "--id",
        "portal",
        "--name",
        "Portal",
        "--redirect-uri",
        REDIRECT,
        "--first-party",
    ]))
    .expect("client json");
    let client_secret = client["client_secret"].as_str().expect("secret").to_owned();
    let users = dir.path().join("users.csv");
    std::fs::write(&users, "legacy_subject,email\nauth0|rie,rie@example.com\n").expect("users");
    cli(&["accounts", "import", users.to_str().expect("path")]);
    cli(&["invitations", "send", "--all-pending"]);
    let (_, link_token) = registration_mail(mail_dir.path(), "rie@example.com", 0).await;

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("browser");
    let post = |path: String, body: Value| {
        let http = http.clone();
        let url = server.url(&path);
        async move {
            let res = http.post(url).json(&body).send().await.expect("post");
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            json_ok(status, &body);
            body
        }
    };
    // The registration, as its UI drives it.
    let res = http
        .get(server.url(&format!("/api/v1/registration/{link_token}")))
        .send()
        .await
        .expect("registration");
    assert_eq!(res.status(), StatusCode::OK);
    post(
        format!("/api/v1/registration/{link_token}/password"),
        json!({"password": PASSWORD, "password_confirmation": PASSWORD}),
    )
    .await;
    post(
        format!("/api/v1/registration/{link_token}/complete"),
        json!({"second_factor": "later"}),
    )
    .await;

    // A whole login, then the relying party's calls.
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "portal"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email"),
            ("state", "state-1"),
            ("code_challenge", pkce.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let res = http
        .get(server.url(&format!("/authorize?{query}")))
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), StatusCode::FOUND);
    let mut cookies: Vec<String> = res.cookies().map(|c| c.value().to_owned()).collect();
    let location =
        url::Url::parse(res.headers()["location"].to_str().expect("ascii")).expect("url");
    let challenge = location
        .query_pairs()
        .find(|(k, _)| k == "login_challenge")
        .map(|(_, v)| v.into_owned())
        .expect("login_challenge");
    let step = |path: &str| format!("/api/v1/login/{challenge}/{path}");
    post(
        step("password"),
        json!({"identifier": "rie@example.com", "password": PASSWORD}),
    )
    .await;
    post(step("factors/email/challenge"), json!({})).await;
    let otp = mailed_otp(mail_dir.path(), "rie@example.com", 0).await;
    let done = post(
        step("factors/email/verify"),
        json!({"kind": "email_otp", "code": otp}),
    )
    .await;
    let back = url::Url::parse(done["redirect_to"].as_str().expect("redirect_to")).expect("url");
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let rp = reqwest::Client::new();
    let tokens: Value = rp
        .post(server.url("/token"))
        .basic_auth("portal", Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.secret().as_str()),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("tokens");
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let id_token = tokens["id_token"].as_str().expect("id token").to_owned();
    let userinfo = rp
        .get(server.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(userinfo.status(), StatusCode::OK);
    // The session cookie the login set.
    let session = http
        .get(server.url(&format!("/authorize?{query}")))
        .send()
        .await
        .expect("authorize again");
    cookies.extend(session.cookies().map(|c| c.value().to_owned()));
    let refresh = tokens["refresh_token"].as_str().map(str::to_owned);

    let (status, log) = server.stop();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    // The log holds the requests, by route template.
    for route in [
        "/api/v1/registration/{token}",
        "/api/v1/login/{login_challenge}/password",
        "/api/v1/login/{login_challenge}/factors/{factor}/verify",
        "/token",
    ] {
        assert!(log.contains(route), "no {route} in the log:\n{log}");
    }
    let mut secrets = vec![
        ("registration token", link_token),
        ("login challenge", challenge),
        ("one-time code", otp),
        ("authorization code", code),
        ("client secret", client_secret),
        ("PKCE verifier", verifier.secret().clone()),
        ("access token", access),
        ("ID token", id_token),
    ];
    secrets.extend(refresh.map(|t| ("refresh token", t)));
    secrets.extend(cookies.into_iter().map(|c| ("cookie", c)));
    for (what, secret) in secrets {
        assert!(!occurs(&log, &secret), "the {what} is in the log:\n{log}");
    }
    // Every JWT starts with a base64url header `{"…`: none is in the log.
    assert!(!log.contains("eyJ"), "a JWT is in the log:\n{log}");
}
