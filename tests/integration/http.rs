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
