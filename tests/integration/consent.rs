//! Consent for clients that are not first-party, over HTTP as a browser, the login UI
//! and the relying party use it: the step after the second factor, remembered grants,
//! `prompt=consent` and `prompt=none`, a denial, and a grant revoked from the account
//! API (its refresh token then refused). Refresh tokens need `offline_access` for a
//! third-party client; the first-party client keeps today's behaviour.

use gatehouse_core::AuditKind;
use gatehouse_core::ports::AuditLog;
use openidconnect::PkceCodeChallenge;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::factors::{
    EMAIL, Login, PASSWORD, REDIRECT, World, account_api, count_codes, nth_code, problem, world,
};
use crate::support::TestDatabase;

/// A browser's login for `client` with `scope` and `extra`, through the password and
/// the mailed code: the verify step's answer.
async fn signed_in(
    w: &World,
    browser: reqwest::Client,
    client: &'static str,
    scope: &str,
    extra: &[(&str, &str)],
) -> (Login, Value) {
    let mut login = Login::authorize_in(w, browser, client, scope, extra).await;
    login.password(w, EMAIL).await;
    let before = count_codes(w.mail_dir.path(), EMAIL);
    login.challenge(w, "email").await;
    let code = nth_code(w.mail_dir.path(), EMAIL, before).await;
    let res = login.verify(w, "email", &code).await;
    assert_eq!(res.status(), StatusCode::OK);
    let done = res.json().await.expect("json");
    (login, done)
}

/// `GET /authorize` in `browser`: where it sends the browser, and the PKCE verifier.
async fn authorize(
    w: &World,
    browser: &reqwest::Client,
    scope: &str,
    extra: &[(&str, &str)],
) -> (url::Url, openidconnect::PkceCodeVerifier) {
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "partner"),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "st-9"),
            ("code_challenge", pkce.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .extend_pairs(extra.iter().copied())
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
    (url::Url::parse(&to).expect("url"), verifier)
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}

async fn json_of(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("json")
}

fn audited(w: &World, kind: AuditKind) -> Vec<gatehouse_core::AuditEvent> {
    w.server
        .store()
        .events_of(w.account.id, None, 100)
        .expect("events")
        .into_iter()
        .filter(|e| e.event.kind == kind)
        .collect()
}

async fn consent_is_asked_remembered_and_asked_again(db: TestDatabase) {
    let w = world(db).await;
    let browser = w.server.browser();
    let (login, done) = signed_in(
        &w,
        browser.clone(),
        "partner",
        "openid email",
        &[("state", "st-1")],
    )
    .await;
    // After the second factor: the consent step, no code yet.
    assert_eq!(done["next"], "consent", "{done}");
    assert!(done.get("redirect_to").is_none(), "{done}");
    let asked = &done["consent"];
    assert_eq!(asked["client"]["client_id"], "partner");
    assert_eq!(asked["client"]["client_name"], "partner");
    assert_eq!(strings(&asked["scopes"]), ["openid", "email"]);
    assert_eq!(strings(&asked["granted_scopes"]), Vec::<String>::new());
    assert_eq!(strings(&asked["new_scopes"]), ["openid", "email"]);
    // The UI reloaded: the login view and the consent view say the same.
    assert_eq!(login.view(&w).await["next"], "consent");
    let shown = json_of(
        browser
            .get(
                w.server
                    .url(&format!("/api/v1/login/{}/consent", login.challenge)),
            )
            .send()
            .await
            .expect("consent view"),
    )
    .await;
    assert_eq!(&shown, asked);
    // Another browser may not answer for this one.
    let stranger = w
        .server
        .browser()
        .post(
            w.server
                .url(&format!("/api/v1/login/{}/consent", login.challenge)),
        )
        .json(&json!({"grant": ["email"]}))
        .send()
        .await
        .expect("consent");
    problem(stranger, StatusCode::FORBIDDEN, "browser_mismatch").await;
    // A scope that was not asked for is refused; the login still waits.
    problem(
        login
            .post(&w, "consent", json!({"grant": ["offline_access"]}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "consent_invalid",
    )
    .await;
    let granted = json_of(login.post(&w, "consent", json!({"grant": ["email"]})).await).await;
    assert_eq!(granted["next"], "done");
    let back = url::Url::parse(granted["redirect_to"].as_str().expect("redirect_to")).expect("url");
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(
        param(&back, "iss").as_deref(),
        Some(w.server.config.server.issuer.as_str())
    );
    assert!(param(&back, "code").is_some());
    let tokens = login.tokens_from(&w, &granted).await;
    assert_eq!(tokens["scope"], "openid email");
    // A third-party client without offline_access gets no refresh token.
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    let events = audited(&w, AuditKind::ConsentGranted);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.detail["client_id"], "partner");
    assert_eq!(events[0].event.detail["scopes"], "openid email");

    // Remembered: the same browser, the same scopes (or fewer): the code at once.
    for scope in ["openid email", "openid"] {
        let (to, verifier) = authorize(&w, &browser, scope, &[]).await;
        assert!(to.as_str().starts_with(REDIRECT), "{to}");
        let tokens = w
            .server
            .redeem_login(
                &json!({"redirect_to": to.as_str()}),
                ("partner", &w.partner_secret),
                REDIRECT,
                verifier.secret(),
            )
            .await;
        assert_eq!(tokens["scope"], scope);
    }
    // prompt=none with a covering grant: the code too.
    let (to, _) = authorize(&w, &browser, "openid email", &[("prompt", "none")]).await;
    assert!(param(&to, "code").is_some(), "{to}");

    // A new scope: asked again, for it alone; prompt=none cannot ask.
    let (to, _) = authorize(&w, &browser, "openid email profile", &[("prompt", "none")]).await;
    assert!(to.as_str().starts_with(REDIRECT), "{to}");
    assert_eq!(param(&to, "error").as_deref(), Some("consent_required"));
    assert_eq!(param(&to, "state").as_deref(), Some("st-9"));
    assert_eq!(
        param(&to, "iss").as_deref(),
        Some(w.server.config.server.issuer.as_str())
    );
    assert!(param(&to, "code").is_none());
    let (to, _) = authorize(&w, &browser, "openid email profile", &[]).await;
    let challenge = param(&to, "login_challenge").expect("to the login UI");
    let view = json_of(
        browser
            .get(w.server.url(&format!("/api/v1/login/{challenge}")))
            .send()
            .await
            .expect("view"),
    )
    .await;
    assert_eq!(view["next"], "consent", "signed in already: {view}");
    let shown = json_of(
        browser
            .get(w.server.url(&format!("/api/v1/login/{challenge}/consent")))
            .send()
            .await
            .expect("consent view"),
    )
    .await;
    assert_eq!(strings(&shown["granted_scopes"]), ["openid", "email"]);
    assert_eq!(strings(&shown["new_scopes"]), ["profile"]);

    // prompt=consent: asked again although the grant covers the request.
    let (to, _) = authorize(&w, &browser, "openid email", &[("prompt", "consent")]).await;
    let challenge = param(&to, "login_challenge").expect("to the login UI");
    let shown = json_of(
        browser
            .get(w.server.url(&format!("/api/v1/login/{challenge}/consent")))
            .send()
            .await
            .expect("consent view"),
    )
    .await;
    assert_eq!(strings(&shown["new_scopes"]), ["openid", "email"]);

    // The first-party client is never asked, and keeps its refresh tokens.
    let (app, done) = signed_in(&w, w.server.browser(), "app", "openid email", &[]).await;
    assert_eq!(done["next"], "done");
    let tokens = app.tokens_from(&w, &done).await;
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
}

async fn a_denial_goes_back_to_the_client(db: TestDatabase) {
    let w = world(db).await;
    let (login, done) = signed_in(
        &w,
        w.server.browser(),
        "partner",
        "openid email",
        &[("state", "st-2")],
    )
    .await;
    assert_eq!(done["next"], "consent");
    // Signed in already: the sign-in steps take no second proof (which would open a
    // second session) while the consent is pending.
    let before = count_codes(w.mail_dir.path(), EMAIL);
    problem(
        login.post(&w, "factors/email/challenge", json!({})).await,
        StatusCode::CONFLICT,
        "login_request_completed",
    )
    .await;
    problem(
        login
            .post(
                &w,
                "password",
                json!({"identifier": EMAIL, "password": PASSWORD}),
            )
            .await,
        StatusCode::CONFLICT,
        "login_request_completed",
    )
    .await;
    assert_eq!(
        count_codes(w.mail_dir.path(), EMAIL),
        before,
        "no code mailed"
    );
    problem(
        login.post(&w, "consent", json!({"deny": false})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "consent_invalid",
    )
    .await;
    let denied = json_of(login.post(&w, "consent", json!({"deny": true})).await).await;
    assert_eq!(denied["next"], "return_to_client");
    let back = url::Url::parse(denied["redirect_to"].as_str().expect("redirect_to")).expect("url");
    assert!(back.as_str().starts_with(REDIRECT));
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-2"));
    assert_eq!(
        param(&back, "iss").as_deref(),
        Some(w.server.config.server.issuer.as_str())
    );
    assert!(param(&back, "code").is_none());
    // The login is over: no second answer.
    problem(
        login.post(&w, "consent", json!({"grant": ["email"]})).await,
        StatusCode::CONFLICT,
        "login_request_completed",
    )
    .await;
    assert_eq!(audited(&w, AuditKind::ConsentDenied).len(), 1);
    assert!(audited(&w, AuditKind::ConsentGranted).is_empty());
    // Nothing was remembered: prompt=none still cannot get a code.
    let (to, _) = authorize(&w, &login.browser, "openid", &[("prompt", "none")]).await;
    assert_eq!(param(&to, "error").as_deref(), Some("consent_required"));
}

async fn a_revoked_grant_ends_the_clients_refresh_tokens(db: TestDatabase) {
    let w = world(db).await;
    let (login, done) = signed_in(
        &w,
        w.server.browser(),
        "partner",
        "openid email offline_access",
        &[],
    )
    .await;
    let browser = login.browser.clone();
    let granted = json_of(
        login
            .post(
                &w,
                "consent",
                json!({"grant": done["consent"]["scopes"].clone()}),
            )
            .await,
    )
    .await;
    let tokens = login.tokens_from(&w, &granted).await;
    // offline_access asked for and granted: a refresh token.
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();

    let api = account_api(&w).await;
    let token = api.token.clone().expect("token");
    let listed = json_of(
        w.server
            .client
            .get(w.server.url("/api/v1/account/grants"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("grants"),
    )
    .await;
    let grants = listed["grants"].as_array().expect("grants");
    assert_eq!(grants.len(), 1, "{listed}");
    assert_eq!(grants[0]["client_id"], "partner");
    assert_eq!(grants[0]["client_name"], "partner");
    assert_eq!(
        strings(&grants[0]["scopes"]),
        ["openid", "email", "offline_access"]
    );
    assert!(grants[0]["granted_at"].is_string());
    // The operator sees the same.
    let (_, admin) = w.server.machine_client("ops", &["gatehouse:admin"]).await;
    let seen = json_of(
        w.server
            .client
            .get(
                w.server
                    .url(&format!("/api/v1/admin/accounts/{}/grants", w.account.id)),
            )
            .bearer_auth(&admin)
            .send()
            .await
            .expect("admin grants"),
    )
    .await;
    assert_eq!(seen["grants"], listed["grants"]);

    let revoke = || {
        w.server
            .client
            .delete(w.server.url("/api/v1/account/grants/partner"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(
        revoke().await.expect("revoke").status(),
        StatusCode::NO_CONTENT
    );
    problem(
        revoke().await.expect("revoke"),
        StatusCode::NOT_FOUND,
        "grant_not_found",
    )
    .await;
    let revoked = audited(&w, AuditKind::ConsentRevoked);
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].event.detail["revoked_client_id"], "partner");
    // The client's refresh token is dead.
    let res = w
        .server
        .client
        .post(w.server.url("/token"))
        .basic_auth("partner", Some(&w.partner_secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    // The next sign-in asks again, and the list is empty.
    let (to, _) = authorize(&w, &browser, "openid email", &[]).await;
    assert!(param(&to, "login_challenge").is_some(), "{to}");
    let listed = json_of(
        w.server
            .client
            .get(w.server.url("/api/v1/account/grants"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("grants"),
    )
    .await;
    assert_eq!(listed["grants"], json!([]));
}

macro_rules! on_both_backends {
    ($($test:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[tokio::test]
        async fn $sqlite() {
            $test(TestDatabase::sqlite()).await;
        }

        #[tokio::test]
        async fn $postgres() {
            let Some(db) = TestDatabase::postgres() else {
                return;
            };
            $test(db).await;
        }
    )+};
}

on_both_backends! {
    consent_is_asked_remembered_and_asked_again =>
        sqlite_consent_is_asked_remembered_and_asked_again,
        postgres_consent_is_asked_remembered_and_asked_again;
    a_denial_goes_back_to_the_client =>
        sqlite_a_consent_denial_goes_back_to_the_client,
        postgres_a_consent_denial_goes_back_to_the_client;
    a_revoked_grant_ends_the_clients_refresh_tokens =>
        sqlite_a_revoked_grant_ends_the_clients_refresh_tokens,
        postgres_a_revoked_grant_ends_the_clients_refresh_tokens;
}
