//! Signing keys: generated on first start, sealed at rest, published in the JWKS, used
//! through openidconnect's signer, rotated with an overlap.

use chrono::{TimeDelta, Utc};
use gatehouse_core::SigningAlg;
use gatehouse_provider::crypto::keyring::KeyRing;
use gatehouse_provider::crypto::signing::jws_alg;
use gatehouse_provider::crypto::{Secrets, SigningKey};
use openidconnect::core::{CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{
    Audience, ClientId, EmptyAdditionalClaims, IssuerUrl, Nonce, StandardClaims, SubjectIdentifier,
};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::{TestDatabase, TestServer, gatehouse, test_config};

async fn jwks(server: &TestServer) -> (Value, CoreJsonWebKeySet) {
    let res = server.get("/jwks.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    let text = res.text().await.expect("body");
    (
        serde_json::from_str(&text).expect("json"),
        serde_json::from_str(&text).expect("a JWKS openidconnect reads"),
    )
}

fn statuses(keys: &[Value]) -> BTreeMap<String, String> {
    keys.iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap_or_default().to_owned(),
                k["alg"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// An ID token as the provider will sign it, verified the way a relying party does.
fn sign_and_verify(key: &SigningKey, keys: &CoreJsonWebKeySet, issuer: &str) {
    let now = Utc::now();
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(issuer.to_owned()).expect("issuer"),
        vec![Audience::new("portal".to_owned())],
        now + TimeDelta::minutes(5),
        now,
        StandardClaims::new(SubjectIdentifier::new("legacy|42".to_owned())),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new("n-0S6".to_owned())));
    let alg = jws_alg(key.alg());
    let token = CoreIdToken::new(claims, key, alg.clone(), None, None).expect("signed");
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new("portal".to_owned()),
        IssuerUrl::new(issuer.to_owned()).expect("issuer"),
        keys.clone(),
    )
    .set_allowed_algs(vec![alg]);
    let verified = token
        .claims(&verifier, &Nonce::new("n-0S6".to_owned()))
        .expect("verifies against the JWKS");
    assert_eq!(verified.subject().as_str(), "legacy|42");
}

async fn keys_are_published_and_sign(db: TestDatabase) {
    let server = TestServer::start(db).await;
    let (json, set) = jwks(&server).await;
    let keys = json["keys"].as_array().expect("keys").clone();
    // One active and one next key per algorithm.
    assert_eq!(keys.len(), 6, "{json}");
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert_eq!(keys.iter().filter(|k| k["alg"] == alg).count(), 2, "{alg}");
    }
    for key in &keys {
        assert_eq!(key["use"], "sig");
        assert!(
            key.get("d").is_none() && key.get("p").is_none(),
            "public halves only: {key}"
        );
    }

    let ring = KeyRing::open(
        server_store(&server),
        Secrets::load(&server.config.secrets)
            .expect("secrets")
            .sealer,
        Utc::now(),
        TimeDelta::days(1),
    )
    .expect("the same keys, reopened");
    for alg in SigningAlg::ALL {
        let key = ring.active(*alg).expect("active key");
        assert!(statuses(&keys).contains_key(key.kid()));
        sign_and_verify(&key, &set, &server.config.server.issuer);
    }
}

fn server_store(server: &TestServer) -> gatehouse_store::Store {
    let url = gatehouse_store::DatabaseUrl::parse(&server.config.database.url).expect("url");
    gatehouse_store::Store::open(&url, &gatehouse_store::PoolOptions::default()).expect("store")
}

#[tokio::test]
async fn sqlite_keys_are_published_and_sign() {
    keys_are_published_and_sign(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_keys_are_published_and_sign() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    keys_are_published_and_sign(db).await;
}

/// `gatehouse keys rotate` on the shared database: the running server picks the
/// change up, the new active key was already published, the old one stays published.
#[tokio::test]
async fn rotation_overlaps_and_reaches_a_running_server() {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let (before, _) = jwks(&server).await;
    let before = statuses(before["keys"].as_array().expect("keys"));
    let store = server_store(&server);
    let active_before = KeyRing::open(
        store,
        Secrets::load(&server.config.secrets)
            .expect("secrets")
            .sealer,
        Utc::now(),
        TimeDelta::days(1),
    )
    .expect("ring")
    .active(SigningAlg::Rs256)
    .expect("active");

    let dir = tempfile::tempdir().expect("dir");
    let output = gatehouse(dir.path())
        .args(["keys", "rotate"])
        .env("GATEHOUSE_DATABASE_URL", &server.config.database.url)
        .env("GATEHOUSE_SECRETS_KEY", &server.config.secrets.key)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout).expect("json");
    let rs: Vec<_> = listed.iter().filter(|k| k["alg"] == "RS256").collect();
    let status_of = |status: &str| rs.iter().filter(|k| k["status"] == status).count();
    assert_eq!(
        (status_of("retired"), status_of("active"), status_of("next")),
        (1, 1, 1),
        "{listed:?}"
    );
    let new_active = rs.iter().find(|k| k["status"] == "active").expect("active");
    assert!(
        before.contains_key(new_active["kid"].as_str().expect("kid")),
        "published before it signs"
    );
    let retired = rs
        .iter()
        .find(|k| k["status"] == "retired")
        .expect("retired");
    assert_eq!(retired["kid"], active_before.kid());
    assert!(retired["expires_at"].is_string());

    // The server reloads within its interval (1 s in tests).
    let mut after = BTreeMap::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (json, _) = jwks(&server).await;
        after = statuses(json["keys"].as_array().expect("keys"));
        if after.len() == 9 {
            break;
        }
    }
    assert_eq!(
        after.len(),
        9,
        "three retired, three active, three next: {after:?}"
    );
    assert!(
        after.contains_key(active_before.kid()),
        "the retired key stays published"
    );
}

#[tokio::test]
async fn a_different_master_key_cannot_open_the_stored_keys() {
    let db = TestDatabase::sqlite();
    let first = test_config(&db.url);
    let server = TestServer::start_with(first, None).await;
    drop(server);
    let second = test_config(&db.url); // a new random master key
    let err = gatehouse_provider::Application::build(second).expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("does not open"), "{message}");
    assert!(!message.contains('\n'));
}

/// A key taken out of the ring (after a compromise, say) takes its tokens along, also
/// those introspection has already seen and remembers.
#[tokio::test]
async fn tokens_of_a_removed_key_are_inactive_even_when_seen_before() {
    use base64::Engine;
    use gatehouse_core::ports::SigningKeyRepository;
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let (secret, access) = server.machine_client("batch", &["api:read"]).await;
    let introspect = || async {
        let body: Value = server
            .client
            .post(server.url("/introspect"))
            .basic_auth("batch", Some(&secret))
            .form(&[("token", access.as_str())])
            .send()
            .await
            .expect("introspect")
            .json()
            .await
            .expect("json");
        body["active"].clone()
    };
    assert_eq!(introspect().await, true);

    let header = access.split('.').next().expect("header");
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("base64"),
    )
    .expect("json");
    let kid = header["kid"].as_str().expect("kid").to_owned();
    server_store(&server).delete_key(&kid).expect("delete key");
    // The server reloads its keys within its interval (1 s in tests).
    for _ in 0..50 {
        let (json, _) = jwks(&server).await;
        if !statuses(json["keys"].as_array().expect("keys")).contains_key(&kid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(introspect().await, false);
}
