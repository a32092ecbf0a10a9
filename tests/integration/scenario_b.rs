//! Scenario B end to end (`shared/SCENARIOS.md`): the security vendor's portal where
//! one more factor always follows the password. Over real HTTP, in one browser that
//! keeps its cookies: e-mail + password and the mailed code → the "Enable
//! multi-factor authentication" screen from the account API → an authenticator app
//! (codes computed by `totp-rs` from the `otpauth://` URI), a security key, a passkey
//! and push approval (the reference phone, `gatehouse push-device`) are added → log
//! out → a login with each factor in turn: each starts on the factor offered first
//! (the last one used), challenges it, and finishes with another one ("Try another
//! method"); the ID token's `amr` and `acr` say what was used. A last login uses the
//! passkey alone, without the password.
//!
//! The helpers are those of the factor, WebAuthn and push tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use openidconnect::PkceCodeChallenge;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use crate::factors::{
    ACCOUNT_SCOPE, Api, EMAIL, Login, REDIRECT, World, account_api, amr, id_token_claims, problem,
    start_totp, with_room_in_window,
};
use crate::push::{Phone, poll, push_world, send_push};
use crate::support::TestDatabase;
use crate::webauthn::{MFA, PHR, done, passkey_device, security_key};

/// `/authorize` with `prompt=none` in `browser`: where it sends the browser back to.
async fn silent_authorize(w: &World, browser: &reqwest::Client) -> String {
    let (pkce, _) = PkceCodeChallenge::new_random_sha256();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("code_challenge", pkce.as_str()),
            ("code_challenge_method", "S256"),
            ("prompt", "none"),
        ])
        .finish();
    let res = browser
        .get(w.server.url(&format!("/authorize?{query}")))
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = res.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(to.starts_with(REDIRECT), "{to}");
    to
}

/// RP-initiated logout in `browser` with the ID token of its login: the session
/// cookie is dropped and the browser is signed out.
async fn log_out(w: &World, browser: &reqwest::Client, tokens: &Value) {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "id_token_hint",
            tokens["id_token"].as_str().expect("id_token"),
        )
        .finish();
    let res = browser
        .get(w.server.url(&format!("/end_session?{query}")))
        .send()
        .await
        .expect("end_session");
    assert_eq!(res.status(), StatusCode::OK);
    let cleared = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        cleared.starts_with("gatehouse_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["logged_out"], true);
    let back = silent_authorize(w, browser).await;
    assert!(back.contains("error=login_required"), "{back}");
}

/// E-mail + password in the signed-out `browser`: every enrolled factor is offered
/// and the screen shown first is that of `first`.
async fn password_login(w: &World, browser: &reqwest::Client, first: &str) -> Login {
    let login = Login::begin_in(w, browser.clone(), "app", "openid").await;
    let mut kinds = login.offered_kinds();
    kinds.sort();
    assert_eq!(
        kinds,
        ["email_otp", "passkey", "push", "security_key", "totp"]
    );
    assert_eq!(login.offered["default_factor"], first, "{}", login.offered);
    login
}

/// The ID token's claims from a finished login's answer; the session belongs to the
/// account.
async fn finished(w: &World, login: Login, answer: &Value) -> (Value, Value) {
    let tokens = login.tokens_from(w, answer).await;
    let claims = id_token_claims(&tokens);
    assert_eq!(claims["sub"], w.account.subject.to_string());
    (tokens, claims)
}

fn factor_of<'a>(screen: &'a Value, id: &str) -> &'a Value {
    screen["factors"]
        .as_array()
        .expect("factors")
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not listed: {screen}"))
}

async fn scenario_b(db: TestDatabase) {
    let w = push_world(db, |c| c.webauthn.allow_any_port = true).await;
    let browser = w.server.browser();

    // Log in: e-mail + password; the only second factor is the e-mail code.
    let login = Login::begin_in(&w, browser.clone(), "app", ACCOUNT_SCOPE).await;
    assert_eq!(login.offered_kinds(), ["email_otp"]);
    assert_eq!(login.offered["default_factor"], "email");
    let tokens = login.finish_with_email_code(&w, EMAIL).await;
    let claims = id_token_claims(&tokens);
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    assert_eq!(claims["acr"], MFA);
    let signed_in = silent_authorize(&w, &browser).await;
    assert!(signed_in.contains("code="), "{signed_in}");

    // "Multi-factor authentication": the list, each kind with "+ Add" or not.
    let api = Api {
        w: &w,
        token: Some(
            tokens["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
        ),
    };
    let screen = api.list().await;
    assert_eq!(screen["factors"].as_array().map(Vec::len), Some(1));
    assert_eq!(factor_of(&screen, "email")["kind"], "email_otp");
    let kind = |name: &str| {
        screen["kinds"]
            .as_array()
            .expect("kinds")
            .iter()
            .find(|k| k["kind"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {screen}"))
            .clone()
    };
    for name in ["push", "totp", "security_key", "passkey", "platform"] {
        assert_eq!(kind(name)["enrollable"], true, "{name}");
    }
    assert_eq!(
        (
            kind("sms")["enrollable"].clone(),
            kind("sms")["reason"].clone()
        ),
        (json!(false), json!("retired"))
    );
    problem(
        api.start(json!({"kind": "sms"})).await,
        StatusCode::CONFLICT,
        "factor_retired",
    )
    .await;

    // + Add: the authenticator app (scan the QR code, type the code shown, Save).
    // It is typed with the code before the one on screen (one step of drift is
    // accepted), so the first login's code is surely a later step: sent at least two
    // seconds before that step ends.
    let (totp, app) = start_totp(&api).await;
    with_room_in_window(Duration::from_secs(30), Duration::from_secs(2)).await;
    let res = api
        .confirm(
            &totp,
            json!({"kind": "totp", "code": app.code(-1), "name": "Authenticator"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // + Add: a USB security key, and a passkey on a phone.
    let mut yubikey = security_key();
    let key = crate::webauthn::enrol(&api, "security_key", &mut yubikey, "YubiKey").await;
    let mut iphone = passkey_device();
    let passkey = crate::webauthn::enrol(&api, "passkey", &mut iphone, "iPhone").await;
    // + Add: push notifications (install the app, scan the QR code).
    let phone = Phone::new();
    let push = crate::push::enrol(&api, &phone, "Pixel 8").await;

    let screen = api.list().await;
    for (id, kind, label) in [
        (totp.as_str(), "totp", "Authenticator"),
        (key.as_str(), "security_key", "YubiKey"),
        (passkey.as_str(), "passkey", "iPhone"),
        (push.as_str(), "push", "Push notification to Pixel 8"),
    ] {
        let listed = factor_of(&screen, id);
        assert_eq!(
            (&listed["kind"], &listed["status"], &listed["label"]),
            (&json!(kind), &json!("active"), &json!(label)),
            "{listed}"
        );
        assert!(listed["last_used_at"].is_null(), "{listed}");
    }
    assert_eq!(screen["factors"].as_array().map(Vec::len), Some(5));

    // Log out: the session and what it issued end.
    log_out(&w, &browser, &tokens).await;
    problem(
        api.start(json!({"kind": "totp"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // 1. The push screen comes first (the newest factor): the phone is asked, but the
    //    user tries another method, the authenticator app. No biometric key yet: the
    //    answer offers to register one.
    let login = password_login(&w, &browser, &push).await;
    let (number, left_waiting) = send_push(&w, &login, &push).await;
    assert!(phone.candidates_of(&left_waiting).contains(&number));
    assert_eq!(login.challenge(&w, &totp).await["code_length"], 6);
    let answer = done(login.verify(&w, &totp, &app.code(0)).await).await;
    assert_eq!(answer["offer_platform_enrolment"], true);
    let (tokens, claims) = finished(&w, login, &answer).await;
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    assert_eq!(claims["acr"], MFA);
    log_out(&w, &browser, &tokens).await;

    // 2. The code entry screen first; the security key instead.
    let login = password_login(&w, &browser, &totp).await;
    login.challenge(&w, &totp).await;
    let options = crate::webauthn::challenge(&w, &login, &key).await;
    let assertion = yubikey.get(&options);
    let answer = done(crate::webauthn::verify(&w, &login, &key, &assertion).await).await;
    let (tokens, claims) = finished(&w, login, &answer).await;
    assert_eq!(amr(&claims), ["pwd", "hwk", "mfa"]);
    assert_eq!(claims["acr"], PHR);
    log_out(&w, &browser, &tokens).await;

    // 3. The security-key prompt first; the passkey on the phone instead.
    let login = password_login(&w, &browser, &key).await;
    crate::webauthn::challenge(&w, &login, &key).await;
    let options = crate::webauthn::challenge(&w, &login, &passkey).await;
    let assertion = iphone.get(&options);
    let answer = done(crate::webauthn::verify(&w, &login, &passkey, &assertion).await).await;
    let (tokens, claims) = finished(&w, login, &answer).await;
    assert_eq!(amr(&claims), ["pwd", "hwk", "user", "mfa"]);
    assert_eq!(claims["acr"], PHR);
    log_out(&w, &browser, &tokens).await;

    // 4. The passkey prompt first; approval on the phone instead, with the number
    //    the screen shows (the push left waiting by login 1 is not this one).
    let login = password_login(&w, &browser, &passkey).await;
    crate::webauthn::challenge(&w, &login, &passkey).await;
    let (number, challenge) = send_push(&w, &login, &push).await;
    assert_ne!(challenge, left_waiting);
    let waiting = poll(&w, &login, &push).await;
    assert_eq!(waiting.status(), StatusCode::ACCEPTED);
    assert!(phone.candidates_of(&challenge).contains(&number));
    let approved = phone.ok(&["approve", &challenge, "--number", &number.to_string()]);
    assert_eq!(approved["status"], "approved");
    let answer = done(poll(&w, &login, &push).await).await;
    let (tokens, claims) = finished(&w, login, &answer).await;
    assert_eq!(amr(&claims), ["pwd", "swk", "mfa"]);
    assert_eq!(claims["acr"], MFA);
    log_out(&w, &browser, &tokens).await;

    // 5. The push screen first again; the e-mail code instead.
    let login = password_login(&w, &browser, &push).await;
    send_push(&w, &login, &push).await;
    let tokens = login.finish_with_email_code(&w, EMAIL).await;
    let claims = id_token_claims(&tokens);
    assert_eq!(claims["sub"], w.account.subject.to_string());
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    assert_eq!(claims["acr"], MFA);
    log_out(&w, &browser, &tokens).await;

    // 6. The passkey alone, before any password.
    let login = Login::authorize_in(&w, browser.clone(), "app", "openid", &[]).await;
    let res = login.post(&w, "passkey/challenge", json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let options: Value = res.json().await.expect("json");
    let assertion = iphone.get(&options["public_key"]);
    let res = login
        .post(&w, "passkey/verify", json!({"credential": assertion}))
        .await;
    let answer = done(res).await;
    let (tokens, claims) = finished(&w, login, &answer).await;
    assert_eq!(amr(&claims), ["hwk", "user", "mfa"]);
    assert_eq!(claims["acr"], PHR);
    log_out(&w, &browser, &tokens).await;

    // Each method shows when it was last used.
    let api = account_api(&w).await;
    let screen = api.list().await;
    for id in [&totp, &key, &passkey, &push] {
        let listed = factor_of(&screen, id);
        assert!(listed["last_used_at"].is_string(), "{listed}");
    }
}

#[tokio::test]
async fn sqlite_scenario_b() {
    scenario_b(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_scenario_b() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    scenario_b(db).await;
}
