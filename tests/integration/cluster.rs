//! Gatehouse as a cluster on one database: instances started together, keys made by
//! one and used by another, and the database going away and coming back under load.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::{Duration, Instant};

use crate::account::{EMAIL, PASSWORD, SCOPE, World, call, login_as, world_with};
use crate::http::url_host_port;
use crate::support::process::ServerProcess;
use crate::support::proxy::Proxy;
use crate::support::{
    POSTGRES_VAR, TestDatabase, TestServer, client_credentials_token, test_config,
};

async fn introspect(base: &str, id: &str, secret: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect")
}

async fn active(base: &str, id: &str, secret: &str, token: &str) -> bool {
    let res = introspect(base, id, secret, token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    body["active"] == true
}

/// Two instances started at the same moment on an empty database: one key set (one
/// active and one next key per algorithm), and a token from either checks out at the
/// other at once. Each made a set of its own, and published only its own.
#[tokio::test]
async fn two_instances_started_together_share_one_key_set() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let mut config = test_config(&db.url);
    // No periodic reload to paper over a split.
    config.keys.reload_interval_seconds = 3600;
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let [a, b] = std::thread::scope(|scope| {
        let started = dirs
            .each_ref()
            .map(|dir| scope.spawn(|| ServerProcess::start(&config, dir.path())));
        started.map(|h| h.join().expect("started"))
    });
    assert_eq!(
        crate::support::count_rows(
            &db.url,
            "SELECT COUNT(*) AS n FROM signing_keys WHERE status = 'active'"
        ),
        3,
        "one active key per algorithm"
    );
    assert_eq!(
        crate::support::count_rows(&db.url, "SELECT COUNT(*) AS n FROM signing_keys"),
        6,
        "one active and one next key per algorithm"
    );
    let out = a.run(
        dirs[0].path(),
        &[
            "clients",
            "add",
            "--id",
            "rp",
            "--name",
            "RP",
            "--grant",
            "client_credentials",
            "--scope",
            "api",
        ],
    );
    let client: Value = serde_json::from_str(&out).expect("json");
    let secret = client["client_secret"].as_str().expect("secret").to_owned();
    let from_a = client_credentials_token(&reqwest::Client::new(), &a.base, "rp", &secret).await;
    let from_b = client_credentials_token(&reqwest::Client::new(), &b.base, "rp", &secret).await;
    assert!(
        active(&b.base, "rp", &secret, &from_a).await,
        "A's token at B"
    );
    assert!(
        active(&a.base, "rp", &secret, &from_b).await,
        "B's token at A"
    );
    let jwks = |base: String| async move {
        let body: Value = reqwest::get(format!("{base}/jwks.json"))
            .await
            .expect("jwks")
            .json()
            .await
            .expect("json");
        body
    };
    assert_eq!(jwks(a.base.clone()).await, jwks(b.base.clone()).await);
}

/// A token signed by a key another instance made after this one last loaded its keys
/// (two rotations since) is checked after a reload, not refused.
#[tokio::test]
async fn a_token_signed_by_a_key_this_instance_has_not_loaded_is_checked_after_a_reload() {
    let db = TestDatabase::sqlite();
    let mut config = test_config(&db.url);
    config.keys.reload_interval_seconds = 3600;
    let b = TestServer::start_with(config.clone(), Some(db)).await;
    let (_, secret) = b.register_client(gatehouse_provider::clients::ClientRequest {
        id: Some("rp".to_owned()),
        name: "RP".to_owned(),
        grant_types: vec![gatehouse_core::GrantType::ClientCredentials],
        scopes: vec!["api".to_owned()],
        ..gatehouse_provider::clients::ClientRequest::default()
    });
    let secret = secret.expect("secret");
    let secrets = gatehouse_provider::crypto::Secrets::load(&config.secrets).expect("secrets");
    for _ in 0..2 {
        gatehouse_provider::crypto::keyring::maintain(
            &b.store(),
            &secrets.sealer,
            chrono::Utc::now(),
            chrono::TimeDelta::hours(1),
            true,
        )
        .expect("rotate");
    }
    let a = TestServer::start_with(config, None).await;
    let token = client_credentials_token(&reqwest::Client::new(), &a.base, "rp", &secret).await;
    assert!(active(&b.base, "rp", &secret, &token).await);
    // A made-up key id is no live token (and reloads at most once per few seconds).
    let made_up = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6Im1hZGUtdXAifQ.e30.c2ln";
    for _ in 0..3 {
        assert!(!active(&b.base, "rp", &secret, made_up).await);
    }
}

/// A world whose server reaches PostgreSQL through `Proxy`.
async fn proxied_world(db: TestDatabase) -> (World, Proxy) {
    let pg = std::env::var(POSTGRES_VAR).expect("set");
    let target = url_host_port(&pg);
    let proxy = Proxy::start(target).await;
    let proxied = db
        .url
        .replacen(&target.to_string(), &proxy.addr.to_string(), 1);
    assert_ne!(proxied, db.url, "the test URL must name {target} literally");
    // The default acquire timeout (5 s), as in production: a readiness probe must
    // not wait for it.
    let w = world_with(db, |c| {
        c.database.url = proxied;
        c.database.acquire_timeout_seconds = 5;
    })
    .await;
    (w, proxy)
}

fn retry_after(res: &reqwest::Response) -> Option<u64> {
    res.headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// While the database is away, whether a token is live is unknown: /userinfo,
/// /introspect and the account API answer 503 with Retry-After, never 401 or
/// `active: false` (an RP then throws its tokens away). The first request after the
/// database is back succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_never_a_revoked_token() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let (w, proxy) = proxied_world(db).await;
    let user = login_as(&w, EMAIL, PASSWORD, EMAIL, "Laptop", SCOPE).await;
    let (secret, machine) = w.server.machine_client("rp", &["api"]).await;
    let userinfo = || {
        w.http
            .get(w.server.url("/userinfo"))
            .bearer_auth(&user.access)
            .send()
    };
    assert_eq!(userinfo().await.expect("userinfo").status(), StatusCode::OK);

    proxy.go_down();
    let res = userinfo().await.expect("userinfo");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after(&res).is_some());
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "temporarily_unavailable");

    let res = introspect(&w.server.base, "rp", &secret, &machine).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after(&res).is_some());
    let body: Value = res.json().await.expect("json");
    assert_ne!(body["active"], false, "{body}");

    let res = call(&w, Method::GET, "/api/v1/account", Some(&user.access), None).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after(&res).is_some());
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "database_unavailable");

    let started = Instant::now();
    let res = w.server.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    proxy.restore();
    assert_eq!(
        userinfo().await.expect("userinfo").status(),
        StatusCode::OK,
        "the first request after the database is back"
    );
    assert!(active(&w.server.base, "rp", &secret, &machine).await);
    assert_eq!(
        call(&w, Method::GET, "/api/v1/account", Some(&user.access), None)
            .await
            .status(),
        StatusCode::OK
    );
}

/// While the database is away, whether a client's assertion was used before is
/// unknown: `/token` answers 503 `temporarily_unavailable`, never `invalid_client` (a
/// client told its key is wrong throws it away). It used to answer 401 when the client
/// itself came from the cache and only the replay ledger was out of reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_during_client_authentication_is_503_never_invalid_client() {
    use gatehouse_core::{GrantType, SigningAlg, TokenEndpointAuthMethod};
    use gatehouse_provider::crypto::SigningKey;
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let (w, proxy) = proxied_world(db).await;
    let (key, _) = SigningKey::generate(SigningAlg::Es256).expect("client key");
    w.server
        .register_client(gatehouse_provider::clients::ClientRequest {
            id: Some("signer".to_owned()),
            name: "Signer".to_owned(),
            grant_types: vec![GrantType::ClientCredentials],
            scopes: vec!["gatehouse:read".to_owned()],
            auth_method: Some(TokenEndpointAuthMethod::PrivateKeyJwt),
            jwks: Some(serde_json::json!({"keys": [key.public_jwk()]}).to_string()),
            ..gatehouse_provider::clients::ClientRequest::default()
        });
    let audience = format!("{}/token", w.server.config.server.issuer);
    let token = || {
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": "signer", "sub": "signer", "aud": audience,
            "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
        });
        let assertion = key.sign_jwt("JWT", &claims).expect("signed");
        w.http
            .post(w.server.url("/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
    };
    // The client is loaded (and cached for a few seconds) and its assertion recorded.
    assert_eq!(token().await.expect("token").status(), StatusCode::OK);

    proxy.go_down();
    let res = token().await.expect("token");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after(&res).is_some());
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");

    proxy.restore();
    assert_eq!(token().await.expect("token").status(), StatusCode::OK);
}

/// The start of a login (authorize, then the password step): whether it succeeded.
async fn login_starts(w: &World) -> bool {
    let browser = w.server.browser();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", "https://app.example.com/callback"),
            ("scope", SCOPE),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let Ok(res) = browser
        .get(w.server.url(&format!("/authorize?{query}")))
        .send()
        .await
    else {
        return false;
    };
    let Some(challenge) = res
        .headers()
        .get("location")
        .and_then(|l| url::Url::parse(l.to_str().ok()?).ok())
        .and_then(|to| {
            to.query_pairs()
                .find(|(k, _)| k == "login_challenge")
                .map(|(_, v)| v.into_owned())
        })
    else {
        return false;
    };
    browser
        .post(w.server.url(&format!("/api/v1/login/{challenge}/password")))
        .json(&serde_json::json!({"identifier": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .is_ok_and(|res| res.status() == StatusCode::OK)
}

/// PostgreSQL restarted under a stream of logins (every connection cut at once, down
/// for a second): the first login after it is back succeeds, and `/readyz` answers
/// within its bound throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_recover_at_once_after_a_database_restart() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let (w, proxy) = proxied_world(db).await;
    // Logins at once: the pool holds several connections, all of which the restart kills.
    let warm = futures_util::future::join_all((0..8).map(|_| login_starts(&w))).await;
    assert!(warm.iter().all(|ok| *ok));
    proxy.go_down();
    let down = Instant::now();
    let mut failed = 0;
    let mut slowest_probe = Duration::ZERO;
    while down.elapsed() < Duration::from_secs(1) {
        let probe = Instant::now();
        let ready = w.server.get("/readyz").await.status();
        slowest_probe = slowest_probe.max(probe.elapsed());
        assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE);
        if !login_starts(&w).await {
            failed += 1;
        }
    }
    proxy.restore();
    let back = Instant::now();
    let first = login_starts(&w).await;
    let recovered_in = back.elapsed();
    let probe = Instant::now();
    assert_eq!(w.server.get("/readyz").await.status(), StatusCode::OK);
    slowest_probe = slowest_probe.max(probe.elapsed());
    eprintln!(
        "database restart: {failed} logins failed while it was down; the first login after \
         it came back succeeded: {first} (in {recovered_in:?}); slowest /readyz {slowest_probe:?}"
    );
    assert!(first, "the first login after the database is back succeeds");
    assert!(slowest_probe < Duration::from_secs(1), "{slowest_probe:?}");
    // … and every one after it: no request meets a connection the restart killed.
    for n in 0..10 {
        assert!(login_starts(&w).await, "login {n} after the restart");
    }
}

/// A balancer that hands each new connection to the next backend in turn (skipping
/// one that does not answer). Clients that open a connection per request (the test's
/// browsers do) see every step of a login land on another instance.
struct RoundRobin {
    addr: std::net::SocketAddr,
    served: Vec<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
    task: tokio::task::JoinHandle<()>,
}

impl RoundRobin {
    async fn start(backends: Vec<std::net::SocketAddr>) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let served: Vec<Arc<AtomicUsize>> = backends
            .iter()
            .map(|_| Arc::new(AtomicUsize::new(0)))
            .collect();
        let counts = served.clone();
        let task = tokio::spawn(async move {
            let mut next = 0usize;
            while let Ok((mut inbound, _)) = listener.accept().await {
                let first = next;
                next = (next + 1) % backends.len();
                let (backends, counts) = (backends.clone(), counts.clone());
                tokio::spawn(async move {
                    for n in 0..backends.len() {
                        let i = (first + n) % backends.len();
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(backends[i]).await
                        {
                            counts[i].fetch_add(1, Ordering::SeqCst);
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        Self { addr, served, task }
    }

    /// A balancer between `w`'s server and the instance at `other`; `w`'s requests go
    /// through it from now on.
    async fn in_front_of(w: &mut World, other: &str) -> Self {
        let backend = |base: &str| -> std::net::SocketAddr {
            base.trim_start_matches("http://").parse().expect("addr")
        };
        let balancer = Self::start(vec![backend(&w.server.base), backend(other)]).await;
        w.server.base = format!("http://{}", balancer.addr);
        balancer
    }

    fn served(&self) -> Vec<usize> {
        self.served
            .iter()
            .map(|c| c.load(std::sync::atomic::Ordering::SeqCst))
            .collect()
    }
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Two instances on one PostgreSQL database behind a per-connection round-robin
/// balancer: logins whose steps cross instances, token checks, refresh rotation with
/// reuse detection and the account API all work, and each one-time code is mailed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_a_round_robin_balancer_serve_every_flow() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let mut w = world_with(db, |c| c.keys.reload_interval_seconds = 3600).await;
    let second = TestServer::start_with(w.server.config.clone(), None).await;
    let balancer = RoundRobin::in_front_of(&mut w, &second.base).await;

    let mut sessions = vec![];
    for agent in ["Laptop", "Phone", "Tablet"] {
        sessions.push(login_as(&w, EMAIL, PASSWORD, EMAIL, agent, SCOPE).await);
    }
    for tokens in &sessions {
        for _ in 0..2 {
            let res = call(
                &w,
                Method::GET,
                "/api/v1/account",
                Some(&tokens.access),
                None,
            )
            .await;
            assert_eq!(res.status(), StatusCode::OK);
            let res = w
                .http
                .get(w.server.url("/userinfo"))
                .bearer_auth(&tokens.access)
                .send()
                .await
                .expect("userinfo");
            assert_eq!(res.status(), StatusCode::OK);
        }
    }
    // Refresh rotation across instances; a reused token ends its family on either.
    let first = sessions[0].refresh.clone().expect("refresh token");
    let rotated: Value = crate::account::refresh(&w, &first)
        .await
        .json()
        .await
        .expect("json");
    let next = rotated["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    let again: Value = crate::account::refresh(&w, &next)
        .await
        .json()
        .await
        .expect("json");
    assert!(again["access_token"].is_string(), "{again}");
    assert_eq!(
        crate::account::refresh(&w, &first).await.status(),
        StatusCode::BAD_REQUEST,
        "reuse detected"
    );
    let page = call(
        &w,
        Method::GET,
        "/api/v1/account/sessions",
        Some(&sessions[1].access),
        None,
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    // Every code went out once: three logins, three code mails.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(crate::account::codes_to(w.mail_dir.path(), EMAIL).len(), 3);
    let served = balancer.served();
    eprintln!("connections per instance: {served:?}");
    assert!(
        served.iter().all(|n| *n >= 5),
        "both instances served: {served:?}"
    );
}

/// The rest of a cluster's life through the round-robin balancer: an imported account
/// re-registers through its mailed link and logs in, enrols an authenticator app, keys
/// are rotated and picked up by both instances, and one instance is killed
/// (`kill -9`) between the password and the second factor: the other finishes the
/// login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_registers_enrols_rotates_keys_and_outlives_a_killed_instance() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let mut w = world_with(db, |c| c.keys.reload_interval_seconds = 1).await;
    let dir = tempfile::tempdir().expect("dir");
    let second = ServerProcess::start(&w.server.config, dir.path());
    let _balancer = RoundRobin::in_front_of(&mut w, &second.base).await;
    let cli = |args: &[&str]| second.run(dir.path(), args);

    // Re-registration of an imported account, every step on whichever instance.
    let users = dir.path().join("users.csv");
    std::fs::write(&users, "legacy_subject,email\nauth0|ken,ken@example.com\n").expect("csv");
    cli(&["accounts", "import", users.to_str().expect("path")]);
    cli(&["invitations", "send", "--account", "ken@example.com"]);
    let mail = crate::account::mail_with_subject(w.mail_dir.path(), "ken@example.com", "SSO").await;
    let token = mail["body"]
        .as_str()
        .and_then(|b| b.split_whitespace().find(|w| w.contains("?token=")))
        .and_then(|link| link.split_once("?token="))
        .map(|(_, t)| t.to_owned())
        .expect("the registration link");
    let api = |path: String| w.server.url(&path);
    let res = w
        .http
        .get(api(format!("/api/v1/registration/{token}")))
        .send()
        .await
        .expect("link");
    assert_eq!(res.status(), StatusCode::OK);
    let ken_password = "Sato-Ken#2026!";
    for (step, body) in [
        (
            "password",
            serde_json::json!({"password": ken_password, "password_confirmation": ken_password}),
        ),
        ("complete", serde_json::json!({"second_factor": "later"})),
    ] {
        let res = w
            .http
            .post(api(format!("/api/v1/registration/{token}/{step}")))
            .json(&body)
            .send()
            .await
            .expect("registration step");
        assert!(res.status().is_success(), "{step}: {}", res.status());
    }
    let ken = login_as(
        &w,
        "ken@example.com",
        ken_password,
        "ken@example.com",
        "Laptop",
        SCOPE,
    )
    .await;

    // An authenticator app enrolled through the account API.
    let res = call(
        &w,
        Method::POST,
        "/api/v1/account/factors",
        Some(&ken.access),
        Some(serde_json::json!({"kind": "totp"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let started: Value = res.json().await.expect("json");
    let app = totp_rs::Totp::from_url(started["setup"]["otpauth_uri"].as_str().expect("uri"))
        .expect("otpauth URI");
    let now = u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970");
    let id = started["factor"]["id"].as_str().expect("id");
    let res = call(
        &w,
        Method::POST,
        &format!("/api/v1/account/factors/{id}/confirm"),
        Some(&ken.access),
        Some(serde_json::json!({"kind": "totp", "code": app.generate(now).to_string(), "name": "Phone"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Keys rotated: both instances pick them up, and new tokens check out on both.
    cli(&["keys", "rotate"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after_rotation = login_as(&w, EMAIL, PASSWORD, EMAIL, "Phone", SCOPE).await;
    for _ in 0..4 {
        let res = call(
            &w,
            Method::GET,
            "/api/v1/account",
            Some(&after_rotation.access),
            None,
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
    }

    // An instance killed between the password and the second factor.
    let (browser, challenge, verifier, res) =
        crate::account::password_step_via(&w, EMAIL, PASSWORD, "Tablet", SCOPE, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    second.kill();
    let step = |path: &str| w.server.url(&format!("/api/v1/login/{challenge}/{path}"));
    let before = crate::account::codes_to(w.mail_dir.path(), EMAIL).len();
    let res = browser
        .post(step("factors/email/challenge"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("challenge");
    assert_eq!(res.status(), StatusCode::OK);
    let code = crate::account::nth_code(w.mail_dir.path(), EMAIL, before).await;
    let res = browser
        .post(step("factors/email/verify"))
        .json(&serde_json::json!({"kind": "email_otp", "code": code}))
        .send()
        .await
        .expect("verify");
    assert_eq!(res.status(), StatusCode::OK);
    let done: Value = res.json().await.expect("json");
    let tokens = w
        .server
        .redeem_login(
            &done,
            ("app", &w.app_secret),
            "https://app.example.com/callback",
            verifier.secret(),
        )
        .await;
    assert!(tokens["access_token"].is_string());
}
