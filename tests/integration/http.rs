//! The server over HTTP: health, readiness, the error shape, request ids, OpenAPI.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::proxy::Proxy;
use crate::support::{TestDatabase, TestServer, test_config, workspace_root};

async fn problem(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status);
    let content_type = res.headers().get("content-type").cloned();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = res.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(
        body["type"],
        format!("urn:gatehouse:problem:{code}"),
        "{body}"
    );
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    body
}

async fn alive_and_ready(server: TestServer) {
    let res = server.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ok");

    let res = server.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn sqlite_server_is_alive_and_ready() {
    alive_and_ready(TestServer::start(TestDatabase::sqlite()).await).await;
}

#[tokio::test]
async fn postgres_server_is_alive_and_ready() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    alive_and_ready(TestServer::start(db).await).await;
}

/// The database is reached through a proxy the test cuts: readiness must turn 503
/// (problem+json) while liveness stays 200. Multi-threaded: the server's start-up
/// connects synchronously through the proxy, which must keep running meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_goes_away() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let pg = std::env::var(crate::support::POSTGRES_VAR).expect("set");
    let target = url_host_port(&pg);
    let proxy = Proxy::start(target).await;
    let proxied_url = db
        .url
        .replacen(&target.to_string(), &proxy.addr.to_string(), 1);
    assert_ne!(
        proxied_url, db.url,
        "the test URL must name {target} literally"
    );
    let server = TestServer::start_with(test_config(&proxied_url), Some(db)).await;
    assert_eq!(server.get("/readyz").await.status(), StatusCode::OK);

    proxy.cut().await;
    problem(
        server.get("/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
}

pub(crate) fn url_host_port(url: &str) -> std::net::SocketAddr {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .expect("the test PostgreSQL URL names an IP host and port")
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_problem_json() {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    problem(
        server.get("/no/such/thing").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let res = server
        .client
        .post(server.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        res.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET")
    );
    let body = problem(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("POST")),
        "{body}"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let res = server
        .client
        .get(server.url("/healthz"))
        .header("x-request-id", "lb-1234.abc")
        .send()
        .await
        .expect("request");
    assert_eq!(res.headers()["x-request-id"], "lb-1234.abc");

    // An id that could smuggle text into logs is replaced by a fresh one.
    let res = server
        .client
        .get(server.url("/healthz"))
        .header("x-request-id", "evil id\twith spaces")
        .send()
        .await
        .expect("request");
    let made = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");

    let res = server.get("/nowhere").await;
    assert!(
        res.headers().contains_key("x-request-id"),
        "errors carry the id too"
    );
}

#[tokio::test]
async fn openapi_is_served_and_matches_the_committed_document() {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let res = server.get("/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    let served: Value = res.json().await.expect("json");
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("openapi/gatehouse.json"))
            .expect("committed spec"),
    )
    .expect("committed spec is JSON");
    assert_eq!(
        served, committed,
        "run `make openapi` and commit openapi/gatehouse.json"
    );
    assert!(served["paths"]["/healthz"]["get"].is_object());
    assert!(served["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
}

#[test]
fn committed_openapi_document_has_not_drifted() {
    let generated = gatehouse_provider::openapi::document_json().expect("generate");
    let committed = std::fs::read_to_string(workspace_root().join("openapi/gatehouse.json"))
        .expect("committed spec");
    assert!(
        generated == committed,
        "openapi/gatehouse.json is stale: run `make openapi` and commit it"
    );
}

#[tokio::test]
async fn swagger_ui_works_offline() {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let res = server.get("/docs").await;
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/docs/");
    let res = server.get("/docs/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    // The assets are vendored into the binary, not fetched from a CDN.
    let res = server.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.expect("js").len() > 100_000);
    let init = server
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .expect("js");
    assert!(init.contains("/openapi.json"), "{init}");
}

/// A UI on another origin of the same site (`login.ui_url` on `localhost:3000`):
/// preflights and requests from it carry CORS headers with credentials, on the REST
/// API and on the endpoints a browser-based application calls; any other origin gets
/// no CORS headers at all, and `*` is never sent.
#[tokio::test]
async fn cors_lets_the_ui_origin_in_with_credentials_and_no_one_else() {
    let db = TestDatabase::sqlite();
    let mut config = test_config(&db.url);
    // The reference UI is on the issuer's origin: no other origin is let in by default.
    assert_eq!(config.clone().with_ui_defaults().cors_origins(), Ok(vec![]));
    config.login.ui_url = "http://localhost:3000/login".to_owned();
    let server = TestServer::start_with(config, Some(db)).await;
    let ui = "http://localhost:3000";
    let preflight = |path: &str, origin: &str, method: &str| {
        server
            .client
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
    };
    for (path, method) in [
        ("/api/v1/login/some-challenge/password", "POST"),
        ("/api/v1/account", "PATCH"),
        ("/token", "POST"),
        ("/userinfo", "GET"),
        ("/revoke", "POST"),
        ("/.well-known/openid-configuration", "GET"),
        ("/jwks.json", "GET"),
    ] {
        let res = preflight(path, ui, method).await.expect("preflight");
        assert!(res.status().is_success(), "{path}: {}", res.status());
        let headers = res.headers();
        assert_eq!(headers["access-control-allow-origin"], ui, "{path}");
        assert_eq!(
            headers["access-control-allow-credentials"], "true",
            "{path}"
        );
        let methods = headers["access-control-allow-methods"]
            .to_str()
            .expect("ascii");
        assert!(methods.contains(method), "{path}: {methods}");

        let refused = preflight(path, "https://evil.example.com", method)
            .await
            .expect("preflight");
        assert!(
            refused
                .headers()
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-")),
            "{path}: {:?}",
            refused.headers()
        );
    }
    // The request itself, a problem answer included.
    let res = server
        .client
        .post(server.url("/api/v1/login/some-challenge/password"))
        .header("origin", ui)
        .json(&serde_json::json!({"identifier": "a@example.com", "password": "x"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.headers()["access-control-allow-origin"], ui);
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let res = server
        .client
        .get(server.url("/jwks.json"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK, "served, without CORS headers");
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

/// `[cors] allowed_origins` replaces the derived list; a wildcard or a URL with a
/// path is no origin and is refused at start.
#[tokio::test]
async fn cors_origins_are_configured_and_checked() {
    let db = TestDatabase::sqlite();
    let mut config = test_config(&db.url);
    config.cors.allowed_origins = "https://app.example.com".to_owned();
    assert_eq!(
        config.cors_origins(),
        Ok(vec!["https://app.example.com".to_owned()])
    );
    for bad in ["*", "https://app.example.com/login", "app.example.com"] {
        config.cors.allowed_origins = bad.to_owned();
        assert!(config.validate().is_err(), "{bad}");
    }
    config.cors.allowed_origins = "https://app.example.com".to_owned();
    let server = TestServer::start_with(config, Some(db)).await;
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("http://localhost:3000", false),
    ] {
        let res = server
            .client
            .request(reqwest::Method::OPTIONS, server.url("/userinfo"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
            .await
            .expect("preflight");
        assert_eq!(
            res.headers().get("access-control-allow-origin").is_some(),
            allowed,
            "{origin}"
        );
    }
}

/// The value of the series `name{labels}` in a Prometheus text exposition, if present.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

/// `/metrics` scraped before and after a whole login: the HTTP, login, hashing, mail
/// and pool series move.
#[tokio::test]
async fn metrics_move_with_a_login() {
    let w = crate::account::world_with(TestDatabase::sqlite(), |_| {}).await;
    let scrape = || async {
        let res = w
            .http
            .get(w.server.url("/metrics"))
            .send()
            .await
            .expect("scrape");
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .is_ok_and(|t| t.starts_with("application/openmetrics-text")),
            "{:?}",
            res.headers()
        );
        res.text().await.expect("text")
    };
    let before = scrape().await;
    let password = r#"gatehouse_http_requests_total{route="/api/v1/login/{login_challenge}/password",method="POST",status="200"}"#;
    assert_eq!(series(&before, password), None);
    crate::account::login_as(
        &w,
        crate::account::EMAIL,
        crate::account::PASSWORD,
        crate::account::EMAIL,
        "Laptop",
        crate::account::SCOPE,
    )
    .await;
    let after = scrape().await;
    assert_eq!(series(&after, password), Some(1.0), "{after}");
    for (name, at_least) in [
        (
            r#"gatehouse_login_steps_total{step="password",kind="-",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"gatehouse_login_steps_total{step="challenge",kind="email_otp",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"gatehouse_login_steps_total{step="verify",kind="email_otp",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"gatehouse_login_steps_total{step="completed",kind="-",outcome="ok"}"#,
            1.0,
        ),
        ("gatehouse_password_hash_seconds_count", 1.0),
        ("gatehouse_password_hash_wait_seconds_count", 1.0),
        (r#"gatehouse_mail_sent_total{transport="file"}"#, 1.0),
        ("gatehouse_db_pool_connections", 1.0),
        ("gatehouse_db_pool_checkouts_total", 1.0),
    ] {
        let value = series(&after, name).unwrap_or_else(|| panic!("no {name} in {after}"));
        assert!(value >= at_least, "{name} = {value}");
    }
    assert_eq!(series(&after, "gatehouse_mail_outbox_pending"), Some(0.0));
    let checkouts_before = series(&before, "gatehouse_db_pool_checkouts_total").unwrap_or(0.0);
    assert!(series(&after, "gatehouse_db_pool_checkouts_total").unwrap_or(0.0) > checkouts_before);
    // A login writes in several transactions, each a BEGIN, its statements and a COMMIT.
    let counted = |text: &str, name: &str| series(text, name).unwrap_or(0.0);
    let commits = counted(&after, "gatehouse_db_commits_total")
        - counted(&before, "gatehouse_db_commits_total");
    let statements = counted(&after, "gatehouse_db_statements_total")
        - counted(&before, "gatehouse_db_statements_total");
    assert!(commits >= 3.0, "{commits} commits in {after}");
    assert!(
        statements >= 3.0 * commits,
        "{statements} statements, {commits} commits"
    );
}

/// With `metrics.bind`, `/metrics` is served there only, not on the public listener.
#[tokio::test]
async fn metrics_on_a_listener_of_their_own() {
    let db = TestDatabase::sqlite();
    let mut config = test_config(&db.url);
    let port = crate::support::smtp::free_port();
    config.metrics.bind = format!("127.0.0.1:{port}");
    let server = TestServer::start_with(config, Some(db)).await;
    assert_eq!(server.get("/metrics").await.status(), StatusCode::NOT_FOUND);
    let res = server
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .expect("text")
            .contains("gatehouse_db_pool_connections")
    );
}
