//! Pushed authorization requests (RFC 9126) over HTTP, as a hand-built client makes
//! them (the openidconnect crate has no PAR): push with client authentication, then
//! send the browser to /authorize with the `request_uri`, once.

use openidconnect::PkceCodeChallenge;
use reqwest::StatusCode;
use serde_json::Value;

use gatehouse_provider::clients::ClientRequest;

use crate::factors::{EMAIL, Login, REDIRECT, World, world_with};
use crate::support::TestDatabase;

const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// `POST /par` as `client` (HTTP Basic) with the usual parameters, `extra` replacing
/// or adding some (an empty value leaves a parameter out).
async fn push(
    w: &World,
    client: (&str, &str),
    challenge: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "s-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        form.retain(|(n, _)| n != name);
        if !value.is_empty() {
            form.push((name, value));
        }
    }
    w.server
        .client
        .post(w.server.url("/par"))
        .basic_auth(client.0, Some(client.1))
        .form(&form)
        .send()
        .await
        .expect("par")
}

async fn error_of(res: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.expect("json");
    body["error"].as_str().expect("error").to_owned()
}

/// A pushed request's `request_uri`.
async fn pushed(w: &World, challenge: &str) -> String {
    let res = push(w, ("app", &w.app_secret), challenge, &[]).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"]
        .as_str()
        .expect("request_uri")
        .to_owned();
    assert!(uri.starts_with(PREFIX), "{uri}");
    uri
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().copied())
        .finish()
}

async fn authorize(w: &World, pairs: &[(&str, &str)]) -> reqwest::Response {
    w.server
        .browser()
        .get(w.server.url(&format!("/authorize?{}", query(pairs))))
        .send()
        .await
        .expect("authorize")
}

async fn pushed_requests(db: TestDatabase) {
    let w = world_with(db, |_| {}).await;
    let meta: Value = w
        .server
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        format!("{}/par", w.server.config.server.issuer)
    );
    assert_eq!(meta["require_pushed_authorization_requests"], false);

    // Pushed, then used: the other parameters beside client_id and request_uri are
    // ignored (a different redirect_uri and scope change nothing).
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let uri = pushed(&w, pkce.as_str()).await;
    let q = query(&[
        ("client_id", "app"),
        ("request_uri", &uri),
        ("redirect_uri", "https://evil.example.com/cb"),
        ("scope", "openid profile"),
    ]);
    let mut login = Login::authorize_query(&w, w.server.browser(), "app", &q, verifier).await;
    login.password(&w, EMAIL).await;
    let tokens = login.finish_with_email_code(&w, EMAIL).await;
    assert!(tokens["access_token"].is_string());
    assert_eq!(tokens["scope"], "openid email");

    // Single use: the same request_uri again is refused, and shown, not redirected.
    let again = authorize(&w, &[("client_id", "app"), ("request_uri", &uri)]).await;
    assert_eq!(
        error_of(again, StatusCode::BAD_REQUEST).await,
        "invalid_request_uri"
    );
    // Another client's request_uri, an expired one, an unknown one.
    let uri = pushed(&w, pkce.as_str()).await;
    let other = authorize(&w, &[("client_id", "partner"), ("request_uri", &uri)]).await;
    assert_eq!(
        error_of(other, StatusCode::BAD_REQUEST).await,
        "invalid_request_uri"
    );
    let uri = pushed(&w, pkce.as_str()).await;
    w.server.advance(61);
    let late = authorize(&w, &[("client_id", "app"), ("request_uri", &uri)]).await;
    assert_eq!(
        error_of(late, StatusCode::BAD_REQUEST).await,
        "invalid_request_uri"
    );
    let unknown = authorize(
        &w,
        &[
            ("client_id", "app"),
            ("request_uri", &format!("{PREFIX}nope")),
        ],
    )
    .await;
    assert_eq!(
        error_of(unknown, StatusCode::BAD_REQUEST).await,
        "invalid_request_uri"
    );

    // The endpoint authenticates the client as /token does, and checks what
    // /authorize checks.
    let res = push(&w, ("app", "wrong"), pkce.as_str(), &[]).await;
    assert_eq!(
        error_of(res, StatusCode::UNAUTHORIZED).await,
        "invalid_client"
    );
    for (extra, error) in [
        (
            ("redirect_uri", "https://evil.example.com/cb"),
            "invalid_request",
        ),
        (("response_type", "token"), "unsupported_response_type"),
        (("scope", "openid admin"), "invalid_scope"),
        (("code_challenge", ""), "invalid_request"),
        (("code_challenge_method", "plain"), "invalid_request"),
        (
            ("request", "eyJhbGciOiJub25lIn0.e30."),
            "request_not_supported",
        ),
        (
            ("request_uri", "urn:ietf:params:oauth:request_uri:x"),
            "invalid_request",
        ),
    ] {
        let res = push(&w, ("app", &w.app_secret), pkce.as_str(), &[extra]).await;
        assert_eq!(
            error_of(res, StatusCode::BAD_REQUEST).await,
            error,
            "{extra:?}"
        );
    }

    // A client registered to push: /authorize without request_uri is refused.
    let (_, secret) = w.server.register_client(ClientRequest {
        id: Some("strict".to_owned()),
        name: "strict".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        require_pushed_authorization_requests: true,
        ..ClientRequest::default()
    });
    let secret = secret.expect("secret");
    let plain = [
        ("response_type", "code"),
        ("client_id", "strict"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("code_challenge", pkce.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let refused = authorize(&w, &plain).await;
    assert_eq!(
        error_of(refused, StatusCode::BAD_REQUEST).await,
        "invalid_request"
    );
    let res = push(&w, ("strict", &secret), pkce.as_str(), &[]).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    let uri = body["request_uri"]
        .as_str()
        .expect("request_uri")
        .to_owned();
    let ok = authorize(&w, &[("client_id", "strict"), ("request_uri", &uri)]).await;
    assert_eq!(ok.status(), StatusCode::FOUND);
    let location = ok.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(location.contains("login_challenge="), "{location}");
    // Expired pushed requests go with the janitor's purge.
    pushed(&w, pkce.as_str()).await;
    w.server.advance(61);
    let now = gatehouse_core::Clock::now(&*w.clock);
    let purged = w.server.store().purge_expired(now, now).expect("purge");
    assert_eq!(purged.pushed_requests, 1);
}

#[tokio::test]
async fn sqlite_pushed_authorization_requests() {
    pushed_requests(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_pushed_authorization_requests() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    pushed_requests(db).await;
}

async fn required_everywhere(db: TestDatabase) {
    let w = world_with(db, |c| c.par.required = true).await;
    let meta: Value = w
        .server
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    let (pkce, _) = PkceCodeChallenge::new_random_sha256();
    let plain = authorize(
        &w,
        &[
            ("response_type", "code"),
            ("client_id", "partner"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("code_challenge", pkce.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(
        error_of(plain, StatusCode::BAD_REQUEST).await,
        "invalid_request"
    );
    let uri = pushed(&w, pkce.as_str()).await;
    let ok = authorize(&w, &[("client_id", "app"), ("request_uri", &uri)]).await;
    assert_eq!(ok.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn sqlite_par_required_server_wide() {
    required_everywhere(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_par_required_server_wide() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    required_everywhere(db).await;
}
