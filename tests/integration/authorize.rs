//! `/authorize` as a relying party and a browser use it, and the login API's first read.

use gatehouse_provider::clients::ClientRequest;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;

use crate::support::{TestDatabase, TestServer, test_config};

const REDIRECT: &str = "https://rp.example.com/callback";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn portal() -> ClientRequest {
    ClientRequest {
        id: Some("portal".to_owned()),
        name: "Support Portal".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        ..ClientRequest::default()
    }
}

fn query(overrides: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", "portal"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in overrides {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

fn location(res: &reqwest::Response) -> url::Url {
    let raw = res.headers()["location"].to_str().expect("ascii");
    url::Url::parse(raw).expect("absolute location")
}

fn query_map(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

async fn start() -> TestServer {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    server.register_client(portal());
    server
}

/// The RP's error: back at its redirect URI with `error`, `state` and `iss`.
async fn redirected_error(
    server: &TestServer,
    overrides: &[(&str, &str)],
) -> HashMap<String, String> {
    let res = server
        .get(&format!("/authorize?{}", query(overrides)))
        .await;
    assert_eq!(res.status(), StatusCode::FOUND, "{overrides:?}");
    let to = location(&res);
    assert!(to.as_str().starts_with(REDIRECT), "{to}");
    let params = query_map(&to);
    assert_eq!(
        params.get("state").map(String::as_str),
        Some("st-123"),
        "{params:?}"
    );
    assert_eq!(
        params.get("iss"),
        Some(&server.config.server.issuer),
        "{params:?}"
    );
    params
}

async fn shown_error(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none(), "never redirected");
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.expect("RFC 6749 error JSON")
}

#[tokio::test]
async fn a_valid_request_goes_to_the_login_ui_bound_to_the_browser() {
    let server = start().await;
    let browser = server.browser();
    let res = browser
        .get(server.url(&format!(
            "/authorize?{}",
            query(&[("login_hint", "rie@example.com")])
        )))
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), StatusCode::FOUND);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(cookie.starts_with("gatehouse_browser="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let to = location(&res);
    assert!(to.as_str().starts_with(&server.config.login.ui_url), "{to}");
    let challenge = query_map(&to)
        .remove("login_challenge")
        .expect("login_challenge");

    let view: Value = browser
        .get(server.url(&format!("/api/v1/login/{challenge}")))
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(view["client"]["client_name"], "Support Portal");
    assert_eq!(view["scopes"], serde_json::json!(["openid", "email"]));
    assert_eq!(view["login_hint"], "rie@example.com");
    assert_eq!(view["next"], "password");
    assert!(view.get("factors").is_none(), "no second step yet: {view}");

    // The same challenge from another browser (no cookie) is refused.
    let stranger = server.browser();
    let res = stranger
        .get(server.url(&format!("/api/v1/login/{challenge}")))
        .send()
        .await
        .expect("read");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.expect("problem");
    assert_eq!(body["code"], "browser_mismatch");

    let res = browser
        .get(server.url("/api/v1/login/nonexistent"))
        .send()
        .await
        .expect("read");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn post_works_like_get() {
    let server = start().await;
    let res = server
        .client
        .post(server.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[]))
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(query_map(&location(&res)).contains_key("login_challenge"));
}

#[tokio::test]
async fn bad_client_or_redirect_uri_is_shown_never_redirected() {
    let server = start().await;
    let body = shown_error(
        server
            .get(&format!("/authorize?{}", query(&[("client_id", "nobody")])))
            .await,
    )
    .await;
    assert_eq!(body["error"], "invalid_request");
    for uri in [
        "https://evil.example.com/callback",
        "https://rp.example.com/callback/extra",
        "",
    ] {
        let body = shown_error(
            server
                .get(&format!("/authorize?{}", query(&[("redirect_uri", uri)])))
                .await,
        )
        .await;
        assert_eq!(body["error"], "invalid_request", "{uri}");
    }
    let doubled = format!("/authorize?{}&state=again", query(&[]));
    shown_error(server.get(&doubled).await).await;
}

#[tokio::test]
async fn other_errors_go_back_to_the_client_with_state_and_iss() {
    let server = start().await;
    for (overrides, error) in [
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "email")], "invalid_scope"),
        (vec![("prompt", "none")], "login_required"),
    ] {
        let params = redirected_error(&server, &overrides).await;
        assert_eq!(
            params.get("error").map(String::as_str),
            Some(error),
            "{overrides:?}"
        );
        assert!(params.contains_key("error_description"));
    }
}

/// A server whose login requests live one second, with the portal registered.
async fn short_lived_logins() -> TestServer {
    let db = TestDatabase::sqlite();
    let mut config = test_config(&db.url);
    config.login.request_ttl_seconds = 1;
    let server = TestServer::start_with(config, Some(db)).await;
    server.register_client(portal());
    server
}

/// Starts a login in `browser`; returns its challenge.
async fn start_login(server: &TestServer, browser: &reqwest::Client) -> String {
    let res = browser
        .get(server.url(&format!("/authorize?{}", query(&[]))))
        .send()
        .await
        .expect("authorize");
    query_map(&location(&res))
        .remove("login_challenge")
        .expect("challenge")
}

#[tokio::test]
async fn an_expired_login_request_is_gone() {
    let server = short_lived_logins().await;
    let browser = server.browser();
    let challenge = start_login(&server, &browser).await;
    server.advance(2);
    let res = browser
        .get(server.url(&format!("/api/v1/login/{challenge}")))
        .send()
        .await
        .expect("read");
    assert_eq!(res.status(), StatusCode::GONE);
    let body: Value = res.json().await.expect("problem");
    assert_eq!(body["code"], "login_request_expired");
}

/// A running server purges on its own: at start, then hourly.
#[tokio::test]
async fn the_server_purges_login_requests_that_expired_a_day_ago() {
    use gatehouse_core::ports::{ClientRepository, LoginRequestRepository};
    let db = TestDatabase::sqlite();
    let store = db.store();
    store
        .insert_client(&crate::store::client("old-portal"))
        .expect("client");
    // Expired in 2026-09, long before the day of grace.
    let old = crate::store::login_request("ancient", "old-portal", None);
    store.insert_login_request(&old).expect("old login request");
    let config = test_config(&db.url);
    let _server = TestServer::start_with(config, Some(db)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.login_request("ancient").expect("read").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the janitor did not purge the expired login request"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The operator's purge (the server runs the same hourly) deletes a login request that
/// expired, after which its challenge is unknown rather than expired.
#[tokio::test]
async fn gatehouse_db_purge_deletes_expired_login_requests() {
    let server = short_lived_logins().await;
    let browser = server.browser();
    // The CLI reads the wall clock: the server writes the requests in its past.
    server.advance(-10);
    let challenges = [
        start_login(&server, &browser).await,
        start_login(&server, &browser).await,
    ];
    let dir = tempfile::tempdir().expect("dir");
    let purge = |keep_hours: &str| {
        let output = crate::support::gatehouse(dir.path())
            .args(["db", "purge", "--keep-hours", keep_hours])
            .env("GATEHOUSE_DATABASE_URL", &server.config.database.url)
            .output()
            .expect("run gatehouse db purge");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout).expect("json")
    };
    // Expired only a second ago: kept by the default day of grace.
    assert_eq!(purge("24")["login_requests"], 0);
    assert_eq!(purge("0")["login_requests"], 2);
    for challenge in challenges {
        let res = browser
            .get(server.url(&format!("/api/v1/login/{challenge}")))
            .send()
            .await
            .expect("read");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let body: Value = res.json().await.expect("problem");
        assert_eq!(body["code"], "login_request_not_found");
    }
}
