//! DPoP (RFC 9449) over HTTP with a hand-built client (the openidconnect crate has no
//! DPoP): proofs signed with an ES256 key made here, tokens bound at /token, used at
//! /userinfo and the account and admin APIs, replays, wrong keys and server nonces.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::{Clock, GrantType, TokenEndpointAuthMethod};
use gatehouse_provider::clients::ClientRequest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::factors::{ACCOUNT_SCOPE, EMAIL, Login, REDIRECT, World, claims, world_with};
use crate::support::TestDatabase;

/// A client's DPoP key.
struct DpopKey {
    signing: jsonwebtoken::EncodingKey,
    jwk: Value,
    /// RFC 7638 thumbprint, computed here from its definition.
    jkt: String,
}

impl DpopKey {
    fn new() -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("pair");
        let point = pair.public_key().as_ref();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        );
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let jkt = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            canonical.as_bytes(),
        ));
        Self {
            signing: jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            jkt,
        }
    }

    /// A proof for `htm` `htu`, at the server's time, with `ath` for `token`.
    fn proof(
        &self,
        w: &World,
        htm: &str,
        htu: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("dpop+jwt".to_owned());
        header.jwk = Some(serde_json::from_value(self.jwk.clone()).expect("jwk"));
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": htm,
            "htu": htu,
            "iat": w.clock.now().timestamp(),
        });
        if let Some(token) = token {
            claims["ath"] = URL_SAFE_NO_PAD
                .encode(aws_lc_rs::digest::digest(
                    &aws_lc_rs::digest::SHA256,
                    token.as_bytes(),
                ))
                .into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        jsonwebtoken::encode(&header, &claims, &self.signing).expect("proof")
    }
}

/// The server's public URL of `path` (its issuer's), which a proof's `htu` names.
fn htu(w: &World, path: &str) -> String {
    format!("{}{path}", w.server.config.server.issuer)
}

async fn token_request(
    w: &World,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut req = w.server.client.post(w.server.url("/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    req.send().await.expect("token")
}

async fn error_of(res: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.expect("json");
    body["error"].as_str().expect("error").to_owned()
}

/// GET `path` with `Authorization: {scheme} {token}` and, if any, a proof.
async fn get(
    w: &World,
    path: &str,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut req = w
        .server
        .client
        .get(w.server.url(path))
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    req.send().await.expect("get")
}

fn challenge(res: &reqwest::Response) -> String {
    res.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A public client's login redeemed with a DPoP proof of `key`: the tokens.
async fn bound_login(w: &World, key: &DpopKey) -> Value {
    let mut login = Login::authorize(w, "spa", ACCOUNT_SCOPE, &[]).await;
    login.password(w, EMAIL).await;
    let (code, verifier) = login.code_with_email(w, EMAIL).await;
    let url = htu(w, "/token");
    let res = token_request(
        w,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        None,
        Some(&key.proof(w, "POST", &url, None, None)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("json")
}

async fn bound_tokens(db: TestDatabase) {
    let w = world_with(db, |_| {}).await;
    w.server.register_client(ClientRequest {
        id: Some("spa".to_owned()),
        name: "spa".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        scopes: ["openid", "email", "offline_access", "gatehouse:account"]
            .map(str::to_owned)
            .to_vec(),
        auth_method: Some(TokenEndpointAuthMethod::None),
        first_party: true,
        ..ClientRequest::default()
    });
    let meta: Value = w
        .server
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .expect("json");
    let algs = meta["dpop_signing_alg_values_supported"]
        .as_array()
        .expect("dpop algs");
    assert!(algs.contains(&json!("ES256")) && !algs.contains(&json!("HS256")));

    let key = DpopKey::new();
    let tokens = bound_login(&w, &key).await;
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().expect("access_token");
    assert_eq!(claims(access)["cnf"]["jkt"], key.jkt.as_str());
    let userinfo = htu(&w, "/userinfo");

    // At /userinfo: with a proof, fine; as a bearer token, refused.
    let proof = key.proof(&w, "GET", &userinfo, Some(access), None);
    let ok = get(&w, "/userinfo", "DPoP", access, Some(&proof)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let bearer = get(&w, "/userinfo", "Bearer", access, None).await;
    assert!(
        challenge(&bearer).starts_with("DPoP "),
        "{}",
        challenge(&bearer)
    );
    assert_eq!(
        error_of(bearer, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
    // The same proof again, a proof for another method or URL, none, or another key's.
    let replayed = get(&w, "/userinfo", "DPoP", access, Some(&proof)).await;
    assert_eq!(
        error_of(replayed, StatusCode::UNAUTHORIZED).await,
        "invalid_dpop_proof"
    );
    for proof in [
        key.proof(&w, "POST", &userinfo, Some(access), None),
        key.proof(&w, "GET", &htu(&w, "/token"), Some(access), None),
        key.proof(&w, "GET", &userinfo, Some("another token"), None),
        DpopKey::new().proof(&w, "GET", &userinfo, Some(access), None),
    ] {
        let res = get(&w, "/userinfo", "DPoP", access, Some(&proof)).await;
        assert_eq!(
            error_of(res, StatusCode::UNAUTHORIZED).await,
            "invalid_dpop_proof"
        );
    }
    let stale = get(&w, "/userinfo", "DPoP", access, None).await;
    assert_eq!(
        error_of(stale, StatusCode::UNAUTHORIZED).await,
        "invalid_dpop_proof"
    );

    // The account API takes the same.
    let account = htu(&w, "/api/v1/account");
    let proof = key.proof(&w, "GET", &account, Some(access), None);
    let ok = get(&w, "/api/v1/account", "DPoP", access, Some(&proof)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let bearer = get(&w, "/api/v1/account", "Bearer", access, None).await;
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&bearer).starts_with("DPoP "));

    // The public client's refresh token is bound too: another key, or none, is refused
    // (and the token stays good); the same key rotates it.
    let refresh = tokens["refresh_token"].as_str().expect("refresh_token");
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "spa"),
        ("refresh_token", refresh),
    ];
    let url = htu(&w, "/token");
    let other = DpopKey::new().proof(&w, "POST", &url, None, None);
    let res = token_request(&w, &form, None, Some(&other)).await;
    assert_eq!(
        error_of(res, StatusCode::BAD_REQUEST).await,
        "invalid_dpop_proof"
    );
    let res = token_request(&w, &form, None, None).await;
    assert_eq!(
        error_of(res, StatusCode::BAD_REQUEST).await,
        "invalid_dpop_proof"
    );
    let proof = key.proof(&w, "POST", &url, None, None);
    let res = token_request(&w, &form, None, Some(&proof)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let rotated: Value = res.json().await.expect("json");
    assert_eq!(rotated["token_type"], "DPoP");
    // A proof used at /token is spent there too.
    let next = [
        ("grant_type", "refresh_token"),
        ("client_id", "spa"),
        (
            "refresh_token",
            rotated["refresh_token"].as_str().expect("refresh"),
        ),
    ];
    let res = token_request(&w, &next, None, Some(&proof)).await;
    assert_eq!(
        error_of(res, StatusCode::BAD_REQUEST).await,
        "invalid_dpop_proof"
    );
    let fresh = key.proof(&w, "POST", &url, None, None);
    assert_eq!(
        token_request(&w, &next, None, Some(&fresh)).await.status(),
        StatusCode::OK
    );

    // An unbound token is no DPoP token.
    let plain = crate::factors::token_via_email(&w, "app", ACCOUNT_SCOPE).await;
    let proof = key.proof(&w, "GET", &userinfo, Some(&plain), None);
    let res = get(&w, "/userinfo", "DPoP", &plain, Some(&proof)).await;
    assert!(challenge(&res).starts_with("DPoP error=\"invalid_token\""));
    assert_eq!(
        error_of(res, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
    let proof = key.proof(&w, "GET", &account, Some(&plain), None);
    let res = get(&w, "/api/v1/account", "DPoP", &plain, Some(&proof)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&res).starts_with("DPoP error=\"invalid_token\""));
    assert_eq!(
        get(&w, "/userinfo", "Bearer", &plain, None).await.status(),
        StatusCode::OK
    );

    // A machine client registered for bound tokens: refused without a proof; its
    // bound token's introspection shows the key.
    let (_, secret) = w.server.register_client(ClientRequest {
        id: Some("robot".to_owned()),
        name: "robot".to_owned(),
        grant_types: vec![GrantType::ClientCredentials],
        scopes: vec!["gatehouse:admin".to_owned()],
        dpop_bound_access_tokens: true,
        ..ClientRequest::default()
    });
    let secret = secret.expect("secret");
    let form = [("grant_type", "client_credentials")];
    let res = token_request(&w, &form, Some(("robot", &secret)), None).await;
    assert_eq!(
        error_of(res, StatusCode::BAD_REQUEST).await,
        "invalid_request"
    );
    let res = token_request(
        &w,
        &form,
        Some(("robot", &secret)),
        Some(&key.proof(&w, "POST", &url, None, None)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["token_type"], "DPoP");
    let robot_token = body["access_token"].as_str().expect("token");
    let seen: Value = w
        .server
        .client
        .post(w.server.url("/introspect"))
        .basic_auth("robot", Some(&secret))
        .form(&[("token", robot_token)])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(seen["active"], true);
    assert_eq!(seen["token_type"], "DPoP");
    assert_eq!(seen["cnf"]["jkt"], key.jkt.as_str());
}

#[tokio::test]
async fn sqlite_dpop_bound_tokens() {
    bound_tokens(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_dpop_bound_tokens() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    bound_tokens(db).await;
}

async fn server_nonces(db: TestDatabase) {
    let w = world_with(db, |c| c.dpop.require_nonce = true).await;
    let (_, secret) = w.server.register_client(ClientRequest {
        id: Some("robot".to_owned()),
        name: "robot".to_owned(),
        grant_types: vec![GrantType::ClientCredentials],
        scopes: vec!["gatehouse:admin".to_owned()],
        ..ClientRequest::default()
    });
    let secret = secret.expect("secret");
    let key = DpopKey::new();
    let url = htu(&w, "/token");
    let form = [("grant_type", "client_credentials")];
    let basic = Some(("robot", secret.as_str()));

    // Without a nonce: use_dpop_nonce and one to use; with it: a bound token.
    let res = token_request(
        &w,
        &form,
        basic,
        Some(&key.proof(&w, "POST", &url, None, None)),
    )
    .await;
    let nonce = res.headers()["dpop-nonce"]
        .to_str()
        .expect("nonce")
        .to_owned();
    assert_eq!(
        error_of(res, StatusCode::BAD_REQUEST).await,
        "use_dpop_nonce"
    );
    let forged = key.proof(&w, "POST", &url, None, Some("1.AAAA"));
    let res = token_request(&w, &form, basic, Some(&forged)).await;
    assert_eq!(
        error_of(res, StatusCode::BAD_REQUEST).await,
        "use_dpop_nonce"
    );
    let proof = key.proof(&w, "POST", &url, None, Some(&nonce));
    let res = token_request(&w, &form, basic, Some(&proof)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token");

    // At a resource: 401 with the DPoP challenge and a nonce; then accepted.
    let clients = htu(&w, "/api/v1/admin/clients");
    let res = get(
        &w,
        "/api/v1/admin/clients",
        "DPoP",
        token,
        Some(&key.proof(&w, "GET", &clients, Some(token), None)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&res).contains("use_dpop_nonce"),
        "{}",
        challenge(&res)
    );
    let nonce = res.headers()["dpop-nonce"]
        .to_str()
        .expect("nonce")
        .to_owned();
    let proof = key.proof(&w, "GET", &clients, Some(token), Some(&nonce));
    let res = get(&w, "/api/v1/admin/clients", "DPoP", token, Some(&proof)).await;
    assert_eq!(res.status(), StatusCode::OK);

    // Nonces age out: two lifetimes later the old one is refused.
    w.server.advance(2 * 300 + 1);
    let late = key.proof(&w, "POST", &url, None, Some(&nonce));
    let res = token_request(&w, &form, basic, Some(&late)).await;
    assert_eq!(
        error_of(res, StatusCode::BAD_REQUEST).await,
        "use_dpop_nonce"
    );
}

#[tokio::test]
async fn sqlite_dpop_server_nonces() {
    server_nonces(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn postgres_dpop_server_nonces() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    server_nonces(db).await;
}
