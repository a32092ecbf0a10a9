//! OpenID Connect Back-Channel Logout 1.0: a relying party's server, started here on
//! 127.0.0.1, receives a logout token whenever a session it was issued tokens under
//! ends; each token is verified against the JWKS, as an RP does. Delivery survives
//! the RP being down and is never doubled, by retries or by a second instance.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{TimeDelta, Utc};
use gatehouse_core::grant::{AuthorizationCode, Session};
use gatehouse_core::ports::{AuthorizationCodeRepository, SessionRepository};
use gatehouse_core::{Account, AccountStatus, GrantType, SigningAlg};
use gatehouse_provider::clients::ClientRequest;
use gatehouse_provider::crypto::Secrets;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyId};
use reqwest::StatusCode;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{TestDatabase, TestServer, test_config};

const REDIRECT: &str = "https://rp.example.com/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0AarWhfKCbU0FoNtgqX4fvyFK29w";
const CHALLENGE: &str = "sudwJ2WjmNyx0v9qmeo7WlWTUyMYPS2aFMkHWKXwQOQ";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The first retry's wait (`retry_base_seconds`) in these tests.
const RETRY_BASE: i64 = 10;

/// A relying party's back-channel endpoint: records each `logout_token` POSTed to it
/// and answers with `status`; on https with `support/tls/rp.pem`, issued by the test
/// CA `support/tls/ca.pem` (made once with openssl: P-256, 100 years, SAN 127.0.0.1).
struct RpServer {
    port: u16,
    tls: bool,
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<String>>>,
}

const TEST_CA: &str = "integration/support/tls/ca.pem";

fn tls_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/support/tls");
    let certs = CertificateDer::pem_file_iter(dir.join("rp.pem"))
        .expect("rp.pem")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(dir.join("rp.key")).expect("rp.key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server certificate");
    Arc::new(config)
}

fn handle(mut stream: impl Read + Write, status: u16, received: &Mutex<Vec<String>>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let body = loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).into_owned();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text[..end]
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            break data[end + 4..end + 4 + length].to_vec();
        }
    };
    let head = String::from_utf8_lossy(&data).into_owned();
    assert!(head.starts_with("POST /backchannel "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-www-form-urlencoded"),
        "{head}"
    );
    if (200..300).contains(&status) {
        let token = url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
            .expect("a logout_token");
        received.lock().expect("lock").push(token);
    }
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

impl RpServer {
    fn listen(port: u16, tls: bool) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("RP listens");
        let port = listener.local_addr().expect("addr").port();
        let status = Arc::new(AtomicU16::new(200));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (status.clone(), received.clone());
        let config = tls.then(tls_config);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let status = s.load(Ordering::SeqCst);
                match &config {
                    Some(config) => {
                        let Ok(session) = rustls::ServerConnection::new(config.clone()) else {
                            continue;
                        };
                        handle(rustls::StreamOwned::new(session, stream), status, &r);
                    }
                    None => handle(stream, status, &r),
                }
            }
        });
        Self {
            port,
            tls,
            status,
            received,
        }
    }

    fn start_on(port: u16) -> Self {
        Self::listen(port, false)
    }

    fn start() -> Self {
        Self::start_on(0)
    }

    fn uri(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/backchannel", self.port)
    }

    fn tokens(&self) -> Vec<String> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until `n` tokens have arrived, then a little longer for any extra one.
    async fn expect(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.tokens().len() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} logout tokens arrived",
                self.tokens().len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        let tokens = self.tokens();
        assert_eq!(tokens.len(), n, "exactly {n} logout tokens");
        tokens
    }
}

/// A port nothing listens on (until a test starts the RP there).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

struct World {
    server: TestServer,
    account: Account,
    secret: String,
}

fn config(db: &TestDatabase) -> gatehouse_provider::Config {
    let mut config = test_config(&db.url);
    config.backchannel_logout.poll_interval_ms = 50;
    config.backchannel_logout.retry_base_seconds = RETRY_BASE as u32;
    config
}

/// Clients registered with their back-channel URIs (`None`: no URI).
async fn world_on(server: TestServer, clients: &[(&str, Option<String>, SigningAlg)]) -> World {
    let mut secret = String::new();
    for (id, uri, alg) in clients {
        let (_, s) = server.register_client(ClientRequest {
            id: Some((*id).to_owned()),
            name: (*id).to_owned(),
            redirect_uris: vec![REDIRECT.to_owned()],
            post_logout_redirect_uris: vec!["https://rp.example.com/bye".to_owned()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: vec![
                "openid".to_owned(),
                "email".to_owned(),
                "gatehouse:account".to_owned(),
            ],
            id_token_alg: Some(*alg),
            first_party: true,
            backchannel_logout_uri: uri.clone(),
            backchannel_logout_session_required: *id == "portal",
            ..ClientRequest::default()
        });
        if *id == "portal" {
            secret = s.expect("portal's secret");
        }
    }
    let account = server.create_account(
        &format!("rie-{}@example.com", uuid::Uuid::new_v4().simple()),
        Some("Correct-Horse#42"),
        AccountStatus::Active,
    );
    World {
        server,
        account,
        secret,
    }
}

impl World {
    /// A live session of the account (its cookie value is its id).
    fn session(&self) -> String {
        let hasher = Secrets::load(&self.server.config.secrets)
            .expect("secrets")
            .hasher;
        let now = self.server.clock_now();
        let sid = format!("sid-{}", uuid::Uuid::new_v4().simple());
        self.server
            .store()
            .insert_session(&Session {
                id: sid.clone(),
                account_id: self.account.id,
                token_hash: hasher.hash(&sid),
                amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
                acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor".into(),
                auth_time: now,
                created_at: now,
                last_seen_at: now,
                expires_at: now + TimeDelta::hours(1),
                revoked_at: None,
                user_agent: None,
                ip: None,
            })
            .expect("session");
        sid
    }

    /// A code for `client_id` under session `sid`, as a finished login leaves it.
    fn code(&self, client_id: &str, sid: &str) -> String {
        let hasher = Secrets::load(&self.server.config.secrets)
            .expect("secrets")
            .hasher;
        let now = self.server.clock_now();
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        self.server
            .store()
            .insert_code(&AuthorizationCode {
                code_hash: hasher.hash(&code),
                client_id: client_id.to_owned(),
                account_id: self.account.id,
                session_id: sid.to_owned(),
                redirect_uri: REDIRECT.to_owned(),
                scopes: vec!["openid".into(), "email".into(), "gatehouse:account".into()],
                nonce: Some("n-0S6_WzA2Mj".into()),
                claims: None,
                code_challenge: CHALLENGE.to_owned(),
                auth_time: now,
                amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
                acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor".into(),
                created_at: now,
                expires_at: now + TimeDelta::seconds(60),
                used_at: None,
            })
            .expect("code");
        code
    }

    async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.server
            .client
            .post(self.server.url("/token"))
            .header(
                "authorization",
                format!(
                    "Basic {}",
                    STANDARD.encode(format!("portal:{}", self.secret))
                ),
            )
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    /// Portal's tokens for a new code under `sid`.
    async fn portal_tokens(&self, sid: &str) -> Value {
        let code = self.code("portal", sid);
        let res = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ])
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("tokens")
    }

    fn pending_attempts(&self) -> i64 {
        self.server.count_sql(
            "SELECT CAST(COALESCE(MAX(attempts), 0) AS BIGINT) AS n FROM logout_notices \
             WHERE delivered_at IS NULL AND failed_at IS NULL",
        )
    }
}

impl TestServer {
    fn clock_now(&self) -> chrono::DateTime<Utc> {
        use gatehouse_core::Clock;
        self.clock.now()
    }
}

fn part(token: &str, index: usize) -> Value {
    let raw = token.split('.').nth(index).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw).expect("base64url")).expect("json")
}

/// Checks a logout token as Back-Channel Logout 1.0 §2.6 has the RP check it; its claims.
async fn verified(server: &TestServer, token: &str, alg: SigningAlg) -> Value {
    let header = part(token, 0);
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(header["alg"], alg.as_str());
    let jwks: CoreJsonWebKeySet = server.get("/jwks.json").await.json().await.expect("jwks");
    let kid = JsonWebKeyId::new(header["kid"].as_str().expect("kid").to_owned());
    let key = jwks
        .keys()
        .iter()
        .find(|k| k.key_id() == Some(&kid))
        .expect("the kid is in the JWKS");
    let jws_alg = match alg {
        SigningAlg::Rs256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        SigningAlg::Es256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        SigningAlg::EdDsa => CoreJwsSigningAlgorithm::EdDsa,
    };
    let (input, signature) = token.rsplit_once('.').expect("signature");
    key.verify_signature(
        &jws_alg,
        input.as_bytes(),
        &URL_SAFE_NO_PAD.decode(signature).expect("b64"),
    )
    .expect("the signature verifies");
    let claims = part(token, 1);
    assert_eq!(claims["iss"], server.config.server.issuer.as_str());
    assert!(claims["events"][EVENT].is_object(), "{claims}");
    assert!(claims.get("nonce").is_none(), "never a nonce: {claims}");
    let iat = claims["iat"].as_i64().expect("iat");
    let exp = claims["exp"].as_i64().expect("exp");
    let now = server.clock_now().timestamp();
    assert!(iat <= now && now < exp && exp - iat <= 300, "{claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    claims
}

/// (aud, sid, sub) of each token, sorted.
async fn audiences(
    server: &TestServer,
    tokens: &[String],
    alg: impl Fn(&str) -> SigningAlg,
) -> Vec<(String, String, String)> {
    let mut seen = Vec::new();
    for token in tokens {
        let aud = part(token, 1)["aud"].as_str().expect("aud").to_owned();
        let claims = verified(server, token, alg(&aud)).await;
        seen.push((
            aud,
            claims["sid"].as_str().expect("sid").to_owned(),
            claims["sub"].as_str().expect("sub").to_owned(),
        ));
    }
    seen.sort();
    seen
}

fn alg_of(aud: &str) -> SigningAlg {
    if aud == "shop" {
        SigningAlg::Es256
    } else {
        SigningAlg::Rs256
    }
}

async fn end_session_notifies_each_client_of_the_session(db: TestDatabase) {
    let rp = RpServer::start();
    let server = TestServer::start_with(config(&db), Some(db)).await;
    let w = world_on(
        server,
        &[
            ("portal", Some(rp.uri()), SigningAlg::Rs256),
            ("shop", Some(rp.uri()), SigningAlg::Es256),
            ("quiet", None, SigningAlg::Rs256),
            ("elsewhere", Some(rp.uri()), SigningAlg::Rs256),
        ],
    )
    .await;
    let sid = w.session();
    let other = w.session();
    w.code("shop", &sid);
    w.code("shop", &sid);
    w.code("quiet", &sid);
    w.code("elsewhere", &other);
    let tokens = w.portal_tokens(&sid).await;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            (
                "id_token_hint",
                tokens["id_token"].as_str().expect("id token"),
            ),
            ("post_logout_redirect_uri", "https://rp.example.com/bye"),
        ])
        .finish();
    let res = w
        .server
        .client
        .get(w.server.url(&format!("/end_session?{query}")))
        .header("cookie", format!("gatehouse_session={sid}"))
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), StatusCode::FOUND);
    let sub = w.account.subject.to_string();
    let got = audiences(&w.server, &rp.expect(2).await, alg_of).await;
    assert_eq!(
        got,
        vec![
            ("portal".to_owned(), sid.clone(), sub.clone()),
            ("shop".to_owned(), sid.clone(), sub.clone()),
        ],
        "one each to the session's listening clients, none to the other session's"
    );
    assert_eq!(
        w.server
            .count_sql("SELECT COUNT(*) AS n FROM logout_notices WHERE delivered_at IS NOT NULL"),
        2
    );
    w.server.stop().expect("stops");
}

#[tokio::test]
async fn sqlite_end_session_notifies_each_client_of_the_session() {
    end_session_notifies_each_client_of_the_session(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_end_session_notifies_each_client_of_the_session() {
    if let Some(db) = TestDatabase::postgres() {
        end_session_notifies_each_client_of_the_session(db).await;
    }
}

/// Revoked from the account settings, by refresh-token reuse, by a replayed code, by
/// an operator's disable, by erasure: each ends sessions, and each end is told.
async fn every_way_a_session_ends_is_told(db: TestDatabase) {
    let rp = RpServer::start();
    let server = TestServer::start_with(config(&db), Some(db)).await;
    let w = world_on(server, &[("portal", Some(rp.uri()), SigningAlg::Rs256)]).await;
    let sub = w.account.subject.to_string();

    // Settings: the user signs out another device.
    let current = w.session();
    let device = w.session();
    let tokens = w.portal_tokens(&current).await;
    w.code("portal", &device);
    let access = tokens["access_token"].as_str().expect("at");
    let res = w
        .server
        .client
        .delete(w.server.url(&format!("/api/v1/account/sessions/{device}")))
        .bearer_auth(access)
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let got = audiences(&w.server, &rp.expect(1).await, alg_of).await;
    assert_eq!(
        got,
        vec![("portal".to_owned(), device.clone(), sub.clone())]
    );

    // Refresh-token reuse: the family and its session end.
    let refresh = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    assert_eq!(w.token(&form).await.status(), StatusCode::OK);
    assert_eq!(w.token(&form).await.status(), StatusCode::BAD_REQUEST);
    let tokens = rp.expect(2).await;
    let got = audiences(&w.server, &tokens[1..], alg_of).await;
    assert_eq!(
        got,
        vec![("portal".to_owned(), current.clone(), sub.clone())]
    );

    // A replayed code: the session it was issued under ends.
    let replayed = w.session();
    let code = w.code("portal", &replayed);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    assert_eq!(w.token(&form).await.status(), StatusCode::OK);
    assert_eq!(w.token(&form).await.status(), StatusCode::BAD_REQUEST);
    let tokens = rp.expect(3).await;
    let got = audiences(&w.server, &tokens[2..], alg_of).await;
    assert_eq!(got, vec![("portal".to_owned(), replayed, sub.clone())]);

    // An operator disables the account: both of its live sessions end.
    let (a, b) = (w.session(), w.session());
    w.code("portal", &a);
    w.code("portal", &b);
    let (_, admin) = w.server.machine_client("ops", &["gatehouse:admin"]).await;
    let res = w
        .server
        .client
        .post(
            w.server
                .url(&format!("/api/v1/admin/accounts/{}/disable", w.account.id)),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .expect("disable");
    assert_eq!(res.status(), StatusCode::OK);
    let tokens = rp.expect(5).await;
    let got = audiences(&w.server, &tokens[3..], alg_of).await;
    let mut want = vec![
        ("portal".to_owned(), a.clone(), sub.clone()),
        ("portal".to_owned(), b.clone(), sub.clone()),
    ];
    want.sort();
    assert_eq!(got, want);

    // Erased: its (re-enabled) session ends with it, though its rows go.
    let res = w
        .server
        .client
        .post(
            w.server
                .url(&format!("/api/v1/admin/accounts/{}/enable", w.account.id)),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .expect("enable");
    assert_eq!(res.status(), StatusCode::OK);
    let last = w.session();
    w.code("portal", &last);
    let res = w
        .server
        .client
        .delete(
            w.server
                .url(&format!("/api/v1/admin/accounts/{}", w.account.id)),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .expect("erase");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let tokens = rp.expect(6).await;
    let got = audiences(&w.server, &tokens[5..], alg_of).await;
    assert_eq!(got, vec![("portal".to_owned(), last, sub)]);
    w.server.stop().expect("stops");
}

#[tokio::test]
async fn sqlite_every_way_a_session_ends_is_told() {
    every_way_a_session_ends_is_told(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_every_way_a_session_ends_is_told() {
    if let Some(db) = TestDatabase::postgres() {
        every_way_a_session_ends_is_told(db).await;
    }
}

/// Waits until the pending notice has failed `n` times.
async fn attempts_reach(w: &World, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while w.pending_attempts() < n {
        assert!(Instant::now() < deadline, "no attempt {n}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The RP's port closed, then its server answering 503, then up: delivered once, on
/// the retry due by the server's clock; a client answering 4xx is given up at once.
async fn an_rp_that_was_down_gets_its_notice_once(db: TestDatabase) {
    let port = closed_port();
    let uri = format!("http://127.0.0.1:{port}/backchannel");
    let server = TestServer::start_with(config(&db), Some(db)).await;
    let w = world_on(server, &[("portal", Some(uri), SigningAlg::Rs256)]).await;
    let (ops_secret, _) = w.server.machine_client("ops", &["gatehouse:admin"]).await;
    let sid = w.session();
    w.code("portal", &sid);
    let logout = || async {
        // A fresh token each time: the test moves the clock past their lifetime.
        let admin = crate::support::client_credentials_token(
            &w.server.client,
            &w.server.base,
            "ops",
            &ops_secret,
        )
        .await;
        let res = w
            .server
            .client
            .post(
                w.server
                    .url(&format!("/api/v1/admin/accounts/{}/logout", w.account.id)),
            )
            .bearer_auth(&admin)
            .send()
            .await
            .expect("logout");
        assert_eq!(res.status(), StatusCode::OK);
    };
    logout().await;
    attempts_reach(&w, 1).await;
    // Not due again until the backoff has passed on the server's clock.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.pending_attempts(), 1, "no retry before its time");

    let rp = RpServer::start_on(port);
    rp.status.store(503, Ordering::SeqCst);
    w.server.advance(RETRY_BASE);
    attempts_reach(&w, 2).await;
    assert!(rp.tokens().is_empty());

    rp.status.store(200, Ordering::SeqCst);
    w.server.advance(RETRY_BASE * 2);
    let tokens = rp.expect(1).await;
    let got = audiences(&w.server, &tokens, alg_of).await;
    assert_eq!(
        got,
        vec![("portal".to_owned(), sid, w.account.subject.to_string())]
    );
    // Time goes on: nothing is sent again.
    w.server.advance(3600);
    rp.expect(1).await;
    assert_eq!(
        w.server.count_sql(
            "SELECT COUNT(*) AS n FROM logout_notices WHERE delivered_at IS NOT NULL AND attempts = 3"
        ),
        1
    );

    // A refusal (4xx) is final: given up, and audited.
    rp.status.store(400, Ordering::SeqCst);
    let again = w.session();
    w.code("portal", &again);
    logout().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while w
        .server
        .count_sql("SELECT COUNT(*) AS n FROM logout_notices WHERE failed_at IS NOT NULL")
        < 1
    {
        assert!(Instant::now() < deadline, "the refusal is not recorded");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        w.server.count_sql(
            "SELECT COUNT(*) AS n FROM audit_events WHERE kind = 'backchannel_logout_failed'"
        ),
        1
    );
    w.server.advance(RETRY_BASE * 10);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        w.server.count_sql(
            "SELECT COUNT(*) AS n FROM logout_notices WHERE attempts > 1 AND failed_at IS NOT NULL"
        ),
        0,
        "a refused notice is not retried"
    );
    // The janitor's purge takes delivered and given-up notices a day later.
    w.server.advance(2 * 86_400);
    let purged = w
        .server
        .store()
        .purge_expired(
            w.server.clock_now() - TimeDelta::hours(24),
            w.server.clock_now(),
        )
        .expect("purge");
    assert_eq!(purged.logout_notices, 2);
    w.server.stop().expect("stops");
}

#[tokio::test]
async fn sqlite_an_rp_that_was_down_gets_its_notice_once() {
    an_rp_that_was_down_gets_its_notice_once(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_an_rp_that_was_down_gets_its_notice_once() {
    if let Some(db) = TestDatabase::postgres() {
        an_rp_that_was_down_gets_its_notice_once(db).await;
    }
}

/// Two instances on one PostgreSQL database, both delivering: each notice once.
#[tokio::test]
async fn postgres_two_instances_deliver_each_notice_once() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let rp = RpServer::start();
    let first_config = config(&db);
    let mut second_config = first_config.clone();
    second_config.server.bind = "127.0.0.1:0".to_owned();
    let first = TestServer::start_with(first_config, Some(db)).await;
    let second = TestServer::start_with(second_config, None).await;
    let w = world_on(
        first,
        &[
            ("portal", Some(rp.uri()), SigningAlg::Rs256),
            ("shop", Some(rp.uri()), SigningAlg::Es256),
        ],
    )
    .await;
    let mut want = Vec::new();
    let sub = w.account.subject.to_string();
    for _ in 0..10 {
        let sid = w.session();
        w.code("portal", &sid);
        w.code("shop", &sid);
        want.push(("portal".to_owned(), sid.clone(), sub.clone()));
        want.push(("shop".to_owned(), sid, sub.clone()));
    }
    want.sort();
    let (_, admin) = w.server.machine_client("ops", &["gatehouse:admin"]).await;
    let res = second
        .client
        .post(second.url(&format!("/api/v1/admin/accounts/{}/logout", w.account.id)))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), StatusCode::OK);
    let tokens = rp.expect(20).await;
    assert_eq!(audiences(&w.server, &tokens, alg_of).await, want);
    second.stop().expect("second stops");
    w.server.stop().expect("first stops");
}

/// The admin API sets, changes and removes both settings, refusing a bad URI.
async fn the_admin_api_sets_the_back_channel(db: TestDatabase) {
    let server = TestServer::start_with(config(&db), Some(db)).await;
    let (_, admin) = server.machine_client("ops", &["gatehouse:admin"]).await;
    let call = |method: reqwest::Method, path: &str, body: Value| {
        server
            .client
            .request(method, server.url(path))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let res = call(
        reqwest::Method::POST,
        "/api/v1/admin/clients",
        serde_json::json!({
            "client_id": "shop", "client_name": "Shop",
            "redirect_uris": [REDIRECT],
            "backchannel_logout_uri": "https://shop.example.com/bc",
            "backchannel_logout_session_required": true
        }),
    )
    .await
    .expect("create");
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.expect("json");
    assert_eq!(
        created["backchannel_logout_uri"],
        "https://shop.example.com/bc"
    );
    assert_eq!(created["backchannel_logout_session_required"], true);
    let patch = |body: Value| call(reqwest::Method::PATCH, "/api/v1/admin/clients/shop", body);
    let res = patch(serde_json::json!({"backchannel_logout_uri": "http://shop.example.com/bc"}))
        .await
        .expect("patch");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused: Value = res.json().await.expect("problem");
    assert_eq!(refused["code"], "client_invalid");
    let res = patch(serde_json::json!({
        "backchannel_logout_uri": "http://127.0.0.1:9/bc",
        "backchannel_logout_session_required": false
    }))
    .await
    .expect("patch");
    assert_eq!(res.status(), StatusCode::OK);
    let changed: Value = res.json().await.expect("json");
    assert_eq!(changed["backchannel_logout_uri"], "http://127.0.0.1:9/bc");
    assert_eq!(changed["backchannel_logout_session_required"], false);
    let res = patch(serde_json::json!({"backchannel_logout_uri": ""}))
        .await
        .expect("patch");
    assert_eq!(res.status(), StatusCode::OK);
    let removed: Value = res.json().await.expect("json");
    assert!(removed.get("backchannel_logout_uri").is_none(), "{removed}");
    server.stop().expect("stops");
}

#[tokio::test]
async fn sqlite_the_admin_api_sets_the_back_channel() {
    the_admin_api_sets_the_back_channel(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_the_admin_api_sets_the_back_channel() {
    if let Some(db) = TestDatabase::postgres() {
        the_admin_api_sets_the_back_channel(db).await;
    }
}

/// An RP on https, its certificate from a private CA the server is configured to
/// trust (`ca_file`): delivered over TLS. Without that CA the RP cannot be verified:
/// nothing is delivered, and the notice waits for a retry.
#[tokio::test]
async fn an_https_rp_on_a_private_ca_gets_its_token() {
    let rp = RpServer::listen(0, true);
    let db = TestDatabase::sqlite();
    let mut trusting = config(&db);
    trusting.backchannel_logout.ca_file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(TEST_CA)
        .display()
        .to_string();
    let server = TestServer::start_with(trusting, Some(db)).await;
    let w = world_on(server, &[("portal", Some(rp.uri()), SigningAlg::Rs256)]).await;
    let sid = w.session();
    w.code("portal", &sid);
    w.server
        .store()
        .end_sessions_of(w.account.id, None, w.server.clock_now())
        .expect("logout");
    let got = audiences(&w.server, &rp.expect(1).await, alg_of).await;
    assert_eq!(
        got,
        vec![("portal".to_owned(), sid, w.account.subject.to_string())]
    );
    w.server.stop().expect("stops");

    let rp = RpServer::listen(0, true);
    let db = TestDatabase::sqlite();
    let server = TestServer::start_with(config(&db), Some(db)).await;
    let w = world_on(server, &[("portal", Some(rp.uri()), SigningAlg::Rs256)]).await;
    let sid = w.session();
    w.code("portal", &sid);
    w.server
        .store()
        .end_sessions_of(w.account.id, None, w.server.clock_now())
        .expect("logout");
    attempts_reach(&w, 1).await;
    assert!(rp.tokens().is_empty(), "an unverified RP gets nothing");
    w.server.stop().expect("stops");
}
