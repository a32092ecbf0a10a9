//! The reference UI at `/ui/`: served from the binary under a strict
//! Content-Security-Policy, `/` leads there, the default UI URLs point at it, and a
//! deployment with its own frontend can turn it off.

use reqwest::StatusCode;

use crate::support::{TestDatabase, TestServer, test_config};

#[tokio::test]
async fn the_reference_ui_is_served_with_a_strict_policy() {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = client.get(server.url("/")).send().await.expect("get /");
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/ui/");

    let res = client.get(server.url("/ui/")).send().await.expect("index");
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str().expect("ascii");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let page = res.text().await.expect("html");
    assert!(page.contains("/ui/style.css"), "{page}");

    // The icon every page names, also where browsers look on their own, under the
    // same policy (an SVG: no inline script or style in it).
    let assets = crate::support::workspace_root().join("crates/gatehouse-ui/assets");
    for entry in std::fs::read_dir(assets).expect("assets") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "html") {
            let html = std::fs::read_to_string(&path).expect("page");
            let icon = r#"<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">"#;
            assert!(html.contains(icon), "{}", path.display());
        }
    }
    for icon in ["/favicon.ico", "/ui/favicon.svg"] {
        let res = client.get(server.url(icon)).send().await.expect("icon");
        assert_eq!(res.status(), StatusCode::OK, "{icon}");
        assert_eq!(res.headers()["content-type"], "image/svg+xml", "{icon}");
        assert!(res.headers().contains_key("content-security-policy"));
        let svg = res.text().await.expect("svg");
        assert!(svg.starts_with("<svg") && !svg.contains("<script") && !svg.contains("style="));
    }

    let res = client
        .get(server.url("/ui/style.css"))
        .send()
        .await
        .expect("css");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");

    for missing in [
        "/ui/no-such-page",
        "/ui/../Cargo.toml",
        "/ui/%2e%2e/Cargo.toml",
    ] {
        let res = client.get(server.url(missing)).send().await.expect("get");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{missing}");
    }
    // The login UI /authorize sends browsers to is this one, on the issuer's origin.
    assert_eq!(
        server.config.login.ui_url,
        format!("{}/ui/login", server.config.server.issuer)
    );
}

#[tokio::test]
async fn the_ui_can_be_turned_off_or_served_from_a_directory() {
    let db = TestDatabase::sqlite();
    let mut config = test_config(&db.url);
    config.ui.enabled = false;
    config.login.ui_url = "https://app.example.com/login".to_owned();
    config.login.logout_ui_url = "https://app.example.com/logout".to_owned();
    config.migration.registration_ui_url = "https://app.example.com/register".to_owned();
    config.account_api.email_undo_url = "https://app.example.com/undo".to_owned();
    config.account_api.sign_in_url = "https://app.example.com/".to_owned();
    let off = TestServer::start_with(config, Some(db)).await;
    let res = off.client.get(off.url("/ui/")).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    drop(off);

    // `[ui] assets_dir`: the files on disk, for working on the UI without a rebuild.
    let dir = tempfile::tempdir().expect("dir");
    let assets = dir.path().join("ui");
    std::fs::create_dir(&assets).expect("mkdir");
    std::fs::write(assets.join("login.html"), "<p>from disk</p>").expect("write");
    std::fs::write(dir.path().join("secret.txt"), "not a UI file").expect("write");
    let db = TestDatabase::sqlite();
    let mut config = test_config(&db.url);
    config.ui.assets_dir = assets.display().to_string();
    let server = TestServer::start_with(config, Some(db)).await;
    let res = server
        .client
        .get(server.url("/ui/login"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.expect("text"), "<p>from disk</p>");
    for outside in [
        "/ui/../secret.txt",
        "/ui/%2e%2e/secret.txt",
        "/ui//etc/passwd",
    ] {
        let res = server
            .client
            .get(server.url(outside))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{outside}");
    }
}

/// The settings page signs in as a public, first-party client the server registers
/// itself; a new issuer moves its redirect URI along, and `/authorize` takes it with
/// PKCE and sends the browser to the reference login page.
#[tokio::test]
async fn the_settings_page_has_a_client_of_its_own() {
    use gatehouse_core::ClientId;
    use gatehouse_core::ports::ClientRepository;
    let db = TestDatabase::sqlite();
    let mut config = test_config(&db.url);
    config.server.issuer = "http://localhost:9999".to_owned();
    let first = TestServer::start_with(config.clone(), None).await;
    let store = first.store();
    let id = ClientId::parse("gatehouse-ui").expect("id");
    let client = store.client_by_id(&id).expect("read").expect("registered");
    assert!(client.first_party && client.is_public(), "{client:?}");
    assert_eq!(client.redirect_uris, ["http://localhost:9999/ui/settings"]);
    assert!(client.allows_scope("gatehouse:account"));
    first.stop().expect("stop");

    // The same database and master key, another issuer.
    config.server.issuer = "http://localhost:8080".to_owned();
    let server = TestServer::start_with(config, Some(db)).await;
    let client = store.client_by_id(&id).expect("read").expect("registered");
    assert_eq!(client.redirect_uris, ["http://localhost:8080/ui/settings"]);
    let res = server
        .browser()
        .get(server.url(
            "/authorize?response_type=code&client_id=gatehouse-ui\
             &redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fui%2Fsettings\
             &scope=openid%20gatehouse%3Aaccount&state=s\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256",
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = res.headers()["location"].to_str().expect("ascii");
    assert!(
        to.starts_with("http://localhost:8080/ui/login?login_challenge="),
        "{to}"
    );
}
