//! `/token` for the authorization-code grant, and discovery, as a relying party uses them.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{TimeDelta, Utc};
use gatehouse_core::grant::{AuthorizationCode, Session};
use gatehouse_core::ports::{AuthorizationCodeRepository, SessionRepository};
use gatehouse_core::{Account, AccountStatus, SigningAlg, TokenEndpointAuthMethod};
use gatehouse_provider::clients::ClientRequest;
use gatehouse_provider::crypto::Secrets;
use openidconnect::core::{CoreIdTokenVerifier, CoreJsonWebKeySet, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, ClientId, IssuerUrl, Nonce, OAuth2TokenResponse as _, TokenResponse as _,
};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{TestDatabase, TestServer};

const REDIRECT: &str = "https://rp.example.com/callback";
/// A verifier and its S256 challenge (computed independently, with Python's hashlib).
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0AarWhfKCbU0FoNtgqX4fvyFK29w";
const CHALLENGE: &str = "sudwJ2WjmNyx0v9qmeo7WlWTUyMYPS2aFMkHWKXwQOQ";

struct Rp {
    server: TestServer,
    secret: String,
    account: Account,
}

async fn setup(alg: SigningAlg) -> Rp {
    let server = TestServer::start(TestDatabase::sqlite()).await;
    let (_, secret) = server.register_client(ClientRequest {
        id: Some("portal".to_owned()),
        name: "Portal".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        post_logout_redirect_uris: vec!["https://rp.example.com/bye".to_owned()],
        id_token_alg: Some(alg),
        // The company's own portal: no consent step, refresh tokens without offline_access.
        first_party: true,
        ..ClientRequest::default()
    });
    server.register_client(ClientRequest {
        id: Some("spa".to_owned()),
        name: "SPA".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        auth_method: Some(TokenEndpointAuthMethod::None),
        first_party: true,
        ..ClientRequest::default()
    });
    let account = server.create_account(
        "rie@example.com",
        Some("Correct-Horse#42"),
        AccountStatus::Active,
    );
    Rp {
        server,
        secret: secret.expect("confidential client secret"),
        account,
    }
}

impl Rp {
    /// A finished login, as the login API leaves it: a session and a code.
    fn issue_code(&self, client_id: &str, expires_in: TimeDelta) -> (String, String) {
        let hasher = Secrets::load(&self.server.config.secrets)
            .expect("secrets")
            .hasher;
        let store = self.server.store();
        let now = Utc::now();
        let sid = format!("sid-{}", uuid::Uuid::new_v4().simple());
        store
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
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        store
            .insert_code(&AuthorizationCode {
                code_hash: hasher.hash(&code),
                client_id: client_id.to_owned(),
                account_id: self.account.id,
                session_id: sid.clone(),
                redirect_uri: REDIRECT.to_owned(),
                scopes: vec!["openid".into(), "email".into()],
                nonce: Some("n-0S6_WzA2Mj".into()),
                claims: None,
                code_challenge: CHALLENGE.to_owned(),
                auth_time: now,
                amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
                acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor".into(),
                created_at: now,
                expires_at: now + expires_in,
                used_at: None,
            })
            .expect("code");
        (code, sid)
    }

    async fn exchange(
        &self,
        auth: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .server
            .client
            .post(self.server.url("/token"))
            .form(form);
        if let Some((id, secret)) = auth {
            request = request.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
            );
        }
        request.send().await.expect("token request")
    }

    async fn exchange_code(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.exchange(
            Some(("portal", &self.secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ],
        )
        .await
    }
}

async fn oauth_error(res: reqwest::Response, status: StatusCode, error: &str) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.expect("error json");
    assert_eq!(body["error"], error, "{body}");
    body
}

/// The response, after checking it is a 200 (showing the error body when it is not).
async fn ok(res: reqwest::Response) -> reqwest::Response {
    if res.status() != StatusCode::OK {
        panic!("{}: {}", res.status(), res.text().await.unwrap_or_default());
    }
    res
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("jwt part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

async fn code_exchange_yields_verifiable_tokens(alg: SigningAlg) {
    let rp = setup(alg).await;
    let (code, sid) = rp.issue_code("portal", TimeDelta::seconds(60));
    let res = rp.exchange_code(&code, VERIFIER).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let res = ok(res).await;
    let body: openidconnect::core::CoreTokenResponse = res.json().await.expect("token response");

    let access = body.access_token().secret().clone();
    let header = jwt_part(&access, 0);
    assert_eq!(header["typ"], "at+jwt");
    let claims = jwt_part(&access, 1);
    assert_eq!(claims["sub"], rp.account.subject.as_str());
    assert_eq!(claims["client_id"], "portal");
    assert_eq!(claims["scope"], "openid email");
    assert_eq!(claims["sid"], sid.as_str());

    let jwks: CoreJsonWebKeySet = rp
        .server
        .get("/jwks.json")
        .await
        .json()
        .await
        .expect("jwks");
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new("portal".to_owned()),
        openidconnect::ClientSecret::new(rp.secret.clone()),
        IssuerUrl::new(rp.server.config.server.issuer.clone()).expect("issuer"),
        jwks,
    )
    .set_allowed_algs(vec![gatehouse_provider::crypto::signing::jws_alg(alg)]);
    let id_token = body.id_token().expect("id token");
    let verified = id_token
        .claims(&verifier, &Nonce::new("n-0S6_WzA2Mj".to_owned()))
        .expect("ID token verifies");
    assert_eq!(verified.subject().as_str(), rp.account.subject.as_str());
    assert_eq!(
        verified.email().map(|e| e.as_str()),
        Some("rie@example.com")
    );
    assert_eq!(verified.email_verified(), Some(true));
    let amr: Vec<_> = verified
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    assert_eq!(amr, vec!["pwd", "otp", "mfa"]);
    assert!(verified.auth_time().is_some());
    let expected_hash = AccessTokenHash::from_token(
        body.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&verifier).expect("key"),
    )
    .expect("hash");
    assert_eq!(verified.access_token_hash(), Some(&expected_hash));
    assert_eq!(jwt_part(&id_token.to_string(), 1)["sid"], sid.as_str());
}

#[tokio::test]
async fn rs256_code_exchange_yields_verifiable_tokens() {
    code_exchange_yields_verifiable_tokens(SigningAlg::Rs256).await;
}

#[tokio::test]
async fn es256_code_exchange_yields_verifiable_tokens() {
    code_exchange_yields_verifiable_tokens(SigningAlg::Es256).await;
}

#[tokio::test]
async fn eddsa_code_exchange_yields_verifiable_tokens() {
    code_exchange_yields_verifiable_tokens(SigningAlg::EdDsa).await;
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_its_session() {
    let rp = setup(SigningAlg::Rs256).await;
    let (code, sid) = rp.issue_code("portal", TimeDelta::seconds(60));
    assert_eq!(
        rp.exchange_code(&code, VERIFIER).await.status(),
        StatusCode::OK
    );
    oauth_error(
        rp.exchange_code(&code, VERIFIER).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let session = rp
        .server
        .store()
        .session_by_id(&sid)
        .expect("read")
        .expect("session");
    assert!(
        session.revoked_at.is_some(),
        "what the first exchange issued is revoked"
    );
}

#[tokio::test]
async fn pkce_is_checked() {
    let rp = setup(SigningAlg::Rs256).await;
    let (code, _) = rp.issue_code("portal", TimeDelta::seconds(60));
    let wrong = "dBjftJeZ4CVP-mJ0AarWhfKCbU0FoNtgqX4fvyFK29x";
    oauth_error(
        rp.exchange_code(&code, wrong).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let (code, _) = rp.issue_code("portal", TimeDelta::seconds(60));
    let res = rp
        .exchange(
            Some(("portal", &rp.secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn codes_are_bound_to_client_redirect_uri_and_time() {
    let rp = setup(SigningAlg::Rs256).await;
    let (expired, _) = rp.issue_code("portal", TimeDelta::seconds(-1));
    oauth_error(
        rp.exchange_code(&expired, VERIFIER).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;

    let (code, _) = rp.issue_code("portal", TimeDelta::seconds(60));
    let res = rp
        .exchange(
            Some(("portal", &rp.secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://rp.example.com/other"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let (spa_code, _) = rp.issue_code("spa", TimeDelta::seconds(60));
    oauth_error(
        rp.exchange_code(&spa_code, VERIFIER).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    // The public client redeems its own code with PKCE alone.
    let res = rp
        .exchange(
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", &spa_code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn client_authentication_failures_are_invalid_client() {
    let rp = setup(SigningAlg::Rs256).await;
    let (code, _) = rp.issue_code("portal", TimeDelta::seconds(60));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let res = rp.exchange(Some(("portal", "wrong-secret")), &form).await;
    assert_eq!(
        res.headers()["www-authenticate"],
        "Basic realm=\"gatehouse\""
    );
    let wrong = oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let unknown = oauth_error(
        rp.exchange(Some(("nobody", "x")), &form).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    assert_eq!(wrong, unknown);
    // A confidential client may not fall back to no authentication.
    let mut public_style = form.to_vec();
    public_style.push(("client_id", "portal"));
    oauth_error(
        rp.exchange(None, &public_style).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    // The code survived all of that.
    assert_eq!(
        rp.exchange_code(&code, VERIFIER).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn malformed_token_requests() {
    let rp = setup(SigningAlg::Rs256).await;
    let res = rp
        .exchange(Some(("portal", &rp.secret)), &[("grant_type", "password")])
        .await;
    oauth_error(res, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let res = rp
        .server
        .client
        .post(rp.server.url("/token"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("send");
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = rp
        .server
        .client
        .post(rp.server.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&grant_type=authorization_code")
        .send()
        .await
        .expect("send");
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn discovery_advertises_what_is_implemented() {
    let rp = setup(SigningAlg::Rs256).await;
    let res = rp.server.get("/.well-known/openid-configuration").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
    let raw: Value = res.json().await.expect("json");
    let metadata: CoreProviderMetadata =
        serde_json::from_value(raw.clone()).expect("openidconnect reads it");
    let issuer = &rp.server.config.server.issuer;
    assert_eq!(metadata.issuer().as_str(), issuer);
    assert_eq!(
        metadata.authorization_endpoint().as_str(),
        format!("{issuer}/authorize")
    );
    assert_eq!(metadata.jwks_uri().as_str(), format!("{issuer}/jwks.json"));
    assert_eq!(raw["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(
        raw["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(raw["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        raw["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(raw["authorization_response_iss_parameter_supported"], true);
    assert_eq!(raw["userinfo_endpoint"], format!("{issuer}/userinfo"));
    assert_eq!(raw["revocation_endpoint"], format!("{issuer}/revoke"));
    assert_eq!(
        raw["introspection_endpoint"],
        format!("{issuer}/introspect")
    );
    // All of it: the members and values openidconnect's `ProviderMetadata` gave
    // before the server's own `ProviderMetadata` replaced it.
    let acr = &rp.server.config.webauthn.phishing_resistant_acr;
    assert_eq!(
        raw,
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks.json"),
            "scopes_supported": ["openid", "email", "profile", "offline_access"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "acr_values_supported": [gatehouse_provider::oidc::tokens::ACR_MFA, acr],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
            ],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
                "at_hash", "sid", "email", "email_verified", "name", "given_name",
                "family_name", "preferred_username", "locale", "zoneinfo", "updated_at"
            ],
            "claims_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "revocation_endpoint": format!("{issuer}/revoke"),
            "end_session_endpoint": format!("{issuer}/end_session"),
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "introspection_endpoint": format!("{issuer}/introspect"),
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "pushed_authorization_request_endpoint": format!("{issuer}/par"),
            "require_pushed_authorization_requests": false,
            "dpop_signing_alg_values_supported": [
                "ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"
            ]
        })
    );
}

async fn refresh(rp: &Rp, token: &str, scope: Option<&str>) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    rp.exchange(Some(("portal", &rp.secret)), &form).await
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let rp = setup(SigningAlg::Es256).await;
    let (code, sid) = rp.issue_code("portal", TimeDelta::seconds(60));
    let first: Value = ok(rp.exchange_code(&code, VERIFIER).await)
        .await
        .json()
        .await
        .expect("json");
    let r1 = first["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();

    let second: Value = ok(refresh(&rp, &r1, None).await)
        .await
        .json()
        .await
        .expect("json");
    let r2 = second["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(r1, r2);
    assert!(second["id_token"].is_string() && second["access_token"].is_string());
    assert_eq!(
        jwt_part(second["access_token"].as_str().expect("at"), 1)["sid"],
        sid.as_str()
    );

    let narrowed: Value = ok(refresh(&rp, &r2, Some("openid")).await)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(narrowed["scope"], "openid");
    let r3 = narrowed["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    oauth_error(
        refresh(&rp, &r3, Some("openid admin")).await,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
    )
    .await;
    // A refused request leaves the token usable: it was checked before the rotation.
    let after_refusal: Value = ok(refresh(&rp, &r3, None).await)
        .await
        .json()
        .await
        .expect("json");
    let r4 = after_refusal["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    let live = rp
        .server
        .store()
        .session_by_id(&sid)
        .expect("read")
        .expect("session");
    assert!(
        live.revoked_at.is_none(),
        "a refused scope ended the session"
    );

    // r1 again: a stolen copy. The family (r4 included) and the session end.
    oauth_error(
        refresh(&rp, &r1, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    oauth_error(
        refresh(&rp, &r4, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let session = rp
        .server
        .store()
        .session_by_id(&sid)
        .expect("read")
        .expect("session");
    assert!(session.revoked_at.is_some());
}

#[tokio::test]
async fn a_replayed_code_also_kills_its_refresh_tokens() {
    let rp = setup(SigningAlg::Rs256).await;
    let (code, _) = rp.issue_code("portal", TimeDelta::seconds(60));
    let first: Value = ok(rp.exchange_code(&code, VERIFIER).await)
        .await
        .json()
        .await
        .expect("json");
    let refresh_token = first["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    oauth_error(
        rp.exchange_code(&code, VERIFIER).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    oauth_error(
        refresh(&rp, &refresh_token, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn client_credentials_for_machine_clients_only() {
    let rp = setup(SigningAlg::Rs256).await;
    let (_, secret) = rp.server.register_client(ClientRequest {
        id: Some("importer".to_owned()),
        name: "Importer".to_owned(),
        grant_types: vec![gatehouse_core::GrantType::ClientCredentials],
        scopes: vec!["gatehouse:admin".to_owned(), "gatehouse:read".to_owned()],
        ..ClientRequest::default()
    });
    let secret = secret.expect("secret");
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "gatehouse:admin"),
    ];
    let body: Value = ok(rp.exchange(Some(("importer", &secret)), &form).await)
        .await
        .json()
        .await
        .expect("json");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    assert_eq!(body["scope"], "gatehouse:admin");
    let claims = jwt_part(body["access_token"].as_str().expect("at"), 1);
    assert_eq!(claims["sub"], "importer");
    assert_eq!(claims["client_id"], "importer");
    let form = [("grant_type", "client_credentials"), ("scope", "openid")];
    oauth_error(
        rp.exchange(Some(("importer", &secret)), &form).await,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
    )
    .await;
    let res = rp
        .exchange(
            Some(("portal", &rp.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    oauth_error(res, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}

/// Introspection remembers a token whose signature it checked, but not past its `exp`.
#[tokio::test]
async fn an_introspected_access_token_is_inactive_once_it_expires() {
    let rp = setup(SigningAlg::Rs256).await;
    let (_, secret) = rp.server.register_client(ClientRequest {
        id: Some("batch".to_owned()),
        name: "Batch".to_owned(),
        grant_types: vec![gatehouse_core::GrantType::ClientCredentials],
        scopes: vec!["api:read".to_owned()],
        lifetimes: Some(gatehouse_core::client::TokenLifetimes {
            access_token: 1,
            ..gatehouse_core::client::TokenLifetimes::default()
        }),
        ..ClientRequest::default()
    });
    let secret = secret.expect("secret");
    let body: Value = ok(rp
        .exchange(
            Some(("batch", &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await)
    .await
    .json()
    .await
    .expect("json");
    let access = body["access_token"].as_str().expect("at").to_owned();
    for _ in 0..2 {
        assert_eq!(
            introspect(&rp, ("batch", &secret), &access).await["active"],
            true
        );
    }
    rp.server.advance(3);
    assert_eq!(
        introspect(&rp, ("batch", &secret), &access).await["active"],
        false
    );
}

async fn userinfo(rp: &Rp, token: Option<&str>) -> reqwest::Response {
    let mut request = rp.server.client.get(rp.server.url("/userinfo"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("userinfo")
}

async fn introspect(rp: &Rp, client: (&str, &str), token: &str) -> Value {
    let res = rp
        .server
        .client
        .post(rp.server.url("/introspect"))
        .basic_auth(client.0, Some(client.1))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect");
    ok(res).await.json().await.expect("json")
}

async fn revoke(rp: &Rp, token: &str) {
    let res = rp
        .server
        .client
        .post(rp.server.url("/revoke"))
        .basic_auth("portal", Some(&rp.secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn userinfo_answers_for_live_tokens_only() {
    let rp = setup(SigningAlg::Rs256).await;
    let (code, _) = rp.issue_code("portal", TimeDelta::seconds(60));
    let tokens: Value = ok(rp.exchange_code(&code, VERIFIER).await)
        .await
        .json()
        .await
        .expect("json");
    let access = tokens["access_token"].as_str().expect("at").to_owned();
    let info: Value = ok(userinfo(&rp, Some(&access)).await)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(info["sub"], rp.account.subject.as_str());
    assert_eq!(info["email"], "rie@example.com");
    assert_eq!(info["email_verified"], true);
    let posted = rp
        .server
        .client
        .post(rp.server.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), StatusCode::OK);
    // The scheme's case does not matter (RFC 9110 §11.1), at resources and at /token.
    for scheme in ["bearer", "BEARER"] {
        let res = rp
            .server
            .client
            .get(rp.server.url("/userinfo"))
            .header("authorization", format!("{scheme} {access}"))
            .send()
            .await
            .expect("userinfo");
        assert_eq!(res.status(), StatusCode::OK, "{scheme}");
    }
    let lower_basic = rp
        .server
        .client
        .post(rp.server.url("/introspect"))
        .header(
            "authorization",
            format!("basic {}", STANDARD.encode(format!("portal:{}", rp.secret))),
        )
        .form(&[("token", access.as_str())])
        .send()
        .await
        .expect("introspect");
    assert_eq!(lower_basic.status(), StatusCode::OK);

    let missing = userinfo(&rp, None).await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(
        missing.headers()["www-authenticate"]
            .to_str()
            .unwrap_or("")
            .starts_with("Bearer")
    );
    let garbage = userinfo(&rp, Some("not.a.token")).await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    // An ID token is not an access token (no at+jwt typ).
    let id_token = tokens["id_token"].as_str().expect("id token");
    assert_eq!(
        userinfo(&rp, Some(id_token)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    revoke(&rp, &access).await;
    assert_eq!(
        userinfo(&rp, Some(&access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn tokens_die_with_their_session() {
    let rp = setup(SigningAlg::Rs256).await;
    let (code, _) = rp.issue_code("portal", TimeDelta::seconds(60));
    let tokens: Value = ok(rp.exchange_code(&code, VERIFIER).await)
        .await
        .json()
        .await
        .expect("json");
    let access = tokens["access_token"].as_str().expect("at").to_owned();
    assert_eq!(userinfo(&rp, Some(&access)).await.status(), StatusCode::OK);
    // A replay of the code revokes the session: the access token goes with it.
    oauth_error(
        rp.exchange_code(&code, VERIFIER).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        userinfo(&rp, Some(&access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn introspection_and_revocation() {
    let rp = setup(SigningAlg::EdDsa).await;
    let (_, other_secret) = rp.server.register_client(ClientRequest {
        id: Some("other".to_owned()),
        name: "Other".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        ..ClientRequest::default()
    });
    let other_secret = other_secret.expect("secret");
    let (code, _) = rp.issue_code("portal", TimeDelta::seconds(60));
    let tokens: Value = ok(rp.exchange_code(&code, VERIFIER).await)
        .await
        .json()
        .await
        .expect("json");
    let access = tokens["access_token"].as_str().expect("at").to_owned();
    let refresh_token = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let portal = ("portal", rp.secret.as_str());

    let active = introspect(&rp, portal, &access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], "portal");
    assert_eq!(active["sub"], rp.account.subject.as_str());
    assert_eq!(active["scope"], "openid email");
    // The token's claims, all of them, and what introspection adds.
    let mut claims = jwt_part(&access, 1);
    claims["active"] = true.into();
    claims["token_type"] = "Bearer".into();
    assert_eq!(active, claims);
    assert_eq!(
        introspect(&rp, ("other", &other_secret), &access).await["active"],
        false,
        "not yours"
    );
    assert_eq!(
        introspect(&rp, portal, "garbage").await,
        serde_json::json!({"active": false})
    );

    let refresh_view = introspect(&rp, portal, &refresh_token).await;
    assert_eq!(refresh_view["active"], true);
    assert_eq!(refresh_view["token_type"], "refresh_token");
    assert_eq!(refresh_view["client_id"], "portal");
    assert_eq!(refresh_view["sub"], rp.account.subject.as_str());
    assert_eq!(refresh_view["scope"], "openid email");
    assert_eq!(refresh_view["sid"], claims["sid"]);
    let mut members: Vec<&str> = refresh_view
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        [
            "active",
            "client_id",
            "exp",
            "iat",
            "scope",
            "sid",
            "sub",
            "token_type"
        ]
    );

    // Another client cannot revoke portal's token.
    let res = rp
        .server
        .client
        .post(rp.server.url("/revoke"))
        .basic_auth("other", Some(&other_secret))
        .form(&[("token", refresh_token.as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        introspect(&rp, portal, &refresh_token).await["active"],
        true
    );

    revoke(&rp, &refresh_token).await;
    assert_eq!(
        introspect(&rp, portal, &refresh_token).await["active"],
        false
    );
    oauth_error(
        refresh(&rp, &refresh_token, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    revoke(&rp, &access).await;
    assert_eq!(introspect(&rp, portal, &access).await["active"], false);

    let res = rp
        .server
        .client
        .post(rp.server.url("/introspect"))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .expect("send");
    oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn logout_ends_the_session_and_everything_it_issued() {
    let rp = setup(SigningAlg::Rs256).await;
    let (code, sid) = rp.issue_code("portal", TimeDelta::seconds(60));
    let tokens: Value = ok(rp.exchange_code(&code, VERIFIER).await)
        .await
        .json()
        .await
        .expect("json");
    let access = tokens["access_token"].as_str().expect("at").to_owned();
    let refresh_token = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let id_token = tokens["id_token"].as_str().expect("id").to_owned();
    let logout = |hint: &str, uri: &str| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", uri),
                ("state", "bye-state"),
            ])
            .finish();
        rp.server
            .client
            .get(rp.server.url(&format!("/end_session?{query}")))
            // The test's session was created with its id as the cookie value.
            .header("cookie", format!("gatehouse_session={sid}"))
            .send()
    };
    let res = logout(&id_token, "https://evil.example.com/bye")
        .await
        .expect("logout");
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "unregistered URI: shown, not followed"
    );
    let res = logout("not-a-token", "https://rp.example.com/bye")
        .await
        .expect("logout");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        userinfo(&rp, Some(&access)).await.status(),
        StatusCode::OK,
        "nothing happened yet"
    );

    let res = logout(&id_token, "https://rp.example.com/bye")
        .await
        .expect("logout");
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        res.headers()["location"],
        "https://rp.example.com/bye?state=bye-state"
    );
    let cleared = res.headers()["set-cookie"].to_str().expect("cookie");
    assert!(
        cleared.starts_with("gatehouse_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(
        userinfo(&rp, Some(&access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    oauth_error(
        refresh(&rp, &refresh_token, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

/// Without a valid `id_token_hint`, `/end_session` logs nobody out: any page could
/// send the browser there with its cookie. The browser goes to the logout
/// confirmation, and only the user's answer there ends the session.
#[tokio::test]
async fn logout_without_a_hint_asks_the_user_first() {
    let rp = setup(SigningAlg::Rs256).await;
    let (code, sid) = rp.issue_code("portal", TimeDelta::seconds(60));
    let tokens: Value = ok(rp.exchange_code(&code, VERIFIER).await)
        .await
        .json()
        .await
        .expect("json");
    let access = tokens["access_token"].as_str().expect("at").to_owned();
    let cookie = format!("gatehouse_session={sid}");
    let browser = |req: reqwest::RequestBuilder| req.header("cookie", cookie.clone()).send();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", "portal"),
            ("post_logout_redirect_uri", "https://rp.example.com/bye"),
            ("state", "bye-state"),
        ])
        .finish();
    let mut challenges = vec![];
    for query in [query.as_str(), ""] {
        let res = browser(
            rp.server
                .client
                .get(rp.server.url(&format!("/end_session?{query}"))),
        )
        .await
        .expect("end_session");
        assert_eq!(res.status(), StatusCode::FOUND);
        assert!(res.headers().get("set-cookie").is_none());
        let to = url::Url::parse(res.headers()["location"].to_str().expect("ascii")).expect("url");
        assert_eq!(
            to.as_str().split('?').next(),
            Some(rp.server.config.login.logout_ui_url.as_str())
        );
        let challenge = to
            .query_pairs()
            .find(|(k, _)| k == "logout_challenge")
            .map(|(_, v)| v.into_owned())
            .expect("logout_challenge");
        challenges.push(challenge);
    }
    assert_eq!(
        userinfo(&rp, Some(&access)).await.status(),
        StatusCode::OK,
        "nobody asked the user yet"
    );
    let api = |challenge: &str| rp.server.url(&format!("/api/v1/logout/{challenge}"));
    let view: Value = browser(rp.server.client.get(api(&challenges[0])))
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(view["client"]["client_id"], "portal", "{view}");
    assert_eq!(view["signed_in"], true);
    let bare: Value = rp
        .server
        .get(&format!("/api/v1/logout/{}", challenges[1]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(bare["client"], Value::Null);
    assert_eq!(
        bare["signed_in"], false,
        "no cookie, nothing to sign out of"
    );

    // "No": still signed in, back to the application.
    let kept: Value = browser(
        rp.server
            .client
            .post(api(&challenges[0]))
            .json(&serde_json::json!({"confirm": false})),
    )
    .await
    .expect("answer")
    .json()
    .await
    .expect("json");
    assert_eq!(kept["logged_out"], false);
    assert_eq!(
        kept["redirect_to"],
        "https://rp.example.com/bye?state=bye-state"
    );
    assert_eq!(userinfo(&rp, Some(&access)).await.status(), StatusCode::OK);

    // "Yes": the session and its tokens end, the cookie goes.
    let res = browser(
        rp.server
            .client
            .post(api(&challenges[0]))
            .json(&serde_json::json!({"confirm": true})),
    )
    .await
    .expect("answer");
    assert_eq!(res.status(), StatusCode::OK);
    let cleared = res.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        cleared.starts_with("gatehouse_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let done: Value = res.json().await.expect("json");
    assert_eq!(done["logged_out"], true);
    assert_eq!(
        done["redirect_to"],
        "https://rp.example.com/bye?state=bye-state"
    );
    assert_eq!(
        userinfo(&rp, Some(&access)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A challenge this server did not make, or one altered, is unknown.
    let mut altered = challenges[0].clone();
    altered.replace_range(10..11, if &altered[10..11] == "A" { "B" } else { "A" });
    for challenge in ["nope", altered.as_str()] {
        let res = rp.server.get(&format!("/api/v1/logout/{challenge}")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let body: Value = res.json().await.expect("problem");
        assert_eq!(body["code"], "logout_request_not_found");
    }
}

#[tokio::test]
async fn private_key_jwt_clients_sign_single_use_assertions() {
    use gatehouse_provider::crypto::SigningKey;
    let rp = setup(SigningAlg::Rs256).await;
    let (client_key, _) = SigningKey::generate(SigningAlg::Es256).expect("client key");
    let (stranger_key, _) = SigningKey::generate(SigningAlg::Es256).expect("other key");
    let jwks = serde_json::json!({"keys": [client_key.public_jwk()]}).to_string();
    rp.server.register_client(ClientRequest {
        id: Some("signer".to_owned()),
        name: "Signer".to_owned(),
        grant_types: vec![gatehouse_core::GrantType::ClientCredentials],
        scopes: vec!["gatehouse:read".to_owned()],
        auth_method: Some(TokenEndpointAuthMethod::PrivateKeyJwt),
        jwks: Some(jwks),
        ..ClientRequest::default()
    });
    let token_endpoint = format!("{}/token", rp.server.config.server.issuer);
    let assertion_as = |client: &str, key: &SigningKey, aud: &str, exp_in: i64| {
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "iss": client, "sub": client, "aud": aud,
            "iat": now, "exp": now + exp_in, "jti": uuid::Uuid::new_v4().to_string(),
        });
        key.sign_jwt("JWT", &claims).expect("signed")
    };
    let assertion =
        |key: &SigningKey, aud: &str, exp_in: i64| assertion_as("signer", key, aud, exp_in);
    let call = |assertion: String| {
        rp.server
            .client
            .post(rp.server.url("/token"))
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
    // Five minutes is the longest an assertion may live; it is accepted.
    ok(call(assertion(&client_key, &token_endpoint, 300))
        .await
        .expect("token"))
    .await;
    let good = assertion(&client_key, &token_endpoint, 60);
    let body: Value = ok(call(good.clone()).await.expect("token"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        jwt_part(body["access_token"].as_str().expect("at"), 1)["sub"],
        "signer"
    );
    oauth_error(
        call(good).await.expect("replay"),
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    let now = Utc::now().timestamp();
    let with_claims = |claims: Value| client_key.sign_jwt("JWT", &claims).expect("signed");
    let jti = || uuid::Uuid::new_v4().to_string();
    for bad in [
        assertion(&stranger_key, &token_endpoint, 60),
        assertion(&client_key, "https://elsewhere.example.com/token", 60),
        assertion(&client_key, &token_endpoint, -120),
        // Ten years: an assertion is made for one request, and lives minutes at most.
        assertion(&client_key, &token_endpoint, 10 * 365 * 24 * 3600),
        assertion(&client_key, &token_endpoint, 301),
        // No `iat`: its lifetime cannot be told.
        with_claims(serde_json::json!({
            "iss": "signer", "sub": "signer", "aud": token_endpoint,
            "exp": now + 60, "jti": jti(),
        })),
        // Issued in the future.
        with_claims(serde_json::json!({
            "iss": "signer", "sub": "signer", "aud": token_endpoint,
            "iat": now + 600, "exp": now + 700, "jti": jti(),
        })),
    ] {
        oauth_error(
            call(bad).await.expect("token"),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        )
        .await;
    }
    // A secret-based client cannot switch to assertions.
    let res = rp
        .server
        .client
        .post(rp.server.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            (
                "client_assertion",
                assertion_as("portal", &client_key, &token_endpoint, 60).as_str(),
            ),
        ])
        .send()
        .await
        .expect("token");
    oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
}
