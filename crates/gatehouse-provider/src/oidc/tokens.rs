//! Minting tokens: RFC 9068 JWT access tokens and OpenID Connect ID tokens, signed by
//! the key ring's active keys.

use actix_web::HttpResponse;
use actix_web::http::header::{CacheControl, CacheDirective, PRAGMA};
use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::claims::{self, ClaimsRequest};
use gatehouse_core::{Account, Client, SigningAlg};
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthenticationContextClass,
    AuthenticationMethodReference, AuthorizationCode, EndUserEmail, EndUserFamilyName,
    EndUserGivenName, EndUserName, EndUserTimezone, EndUserUsername, IdToken, IdTokenClaims,
    IssuerUrl, LanguageTag, LocalizedClaim, Nonce, StandardClaims, SubjectIdentifier,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::OAuthError;
use crate::crypto::random;
use crate::crypto::signing::jws_alg;
use crate::state::AppState;

/// Access tokens are signed with ES256: RS256 signing (~4k/s per core) could not keep
/// up with machine-to-machine traffic, and resource servers read the alg from the JWKS.
pub const ACCESS_TOKEN_ALG: SigningAlg = SigningAlg::Es256;

/// The `acr` of a login with a password and a second factor (OpenID PAPE multi-factor).
pub const ACR_MFA: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";

/// Claims OIDC Core defines that openidconnect's `IdTokenClaims` has no field for.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExtraIdClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl AdditionalClaims for ExtraIdClaims {}

type GatehouseIdToken = IdToken<
    ExtraIdClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// What the user proved, carried from the login to every token issued for it.
#[derive(Clone, Debug)]
pub struct Authentication {
    pub scopes: Vec<String>,
    /// The `claims` parameter of the login (OIDC Core §5.5), for the ID token.
    pub claims: Option<ClaimsRequest>,
    pub nonce: Option<String>,
    pub auth_time: DateTime<Utc>,
    pub amr: Vec<String>,
    pub acr: String,
    pub sid: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to the request's DPoP key.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u32,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

fn signing_failed<E: std::fmt::Display>(e: E) -> OAuthError {
    tracing::error!(error = %e, "token signing failed");
    OAuthError::server_error()
}

/// An RFC 9068 access token for `account` (or for the client itself, with no account).
pub fn access_token(
    state: &AppState,
    client: &Client,
    subject: &str,
    scopes: &[String],
    authentication: Option<&Authentication>,
    jkt: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, OAuthError> {
    let key = state
        .keys
        .active(ACCESS_TOKEN_ALG)
        .map_err(signing_failed)?;
    let issued = now.timestamp();
    let mut claims = json!({
        "iss": state.config.server.issuer,
        "sub": subject,
        "aud": state.config.server.issuer,
        "client_id": client.id.as_str(),
        "iat": issued,
        "exp": issued + i64::from(client.lifetimes.access_token),
        "jti": random::token().map_err(signing_failed)?,
        "scope": scopes.join(" "),
    });
    if let (Some(jkt), Some(map)) = (jkt, claims.as_object_mut()) {
        map.insert("cnf".to_owned(), json!({ "jkt": jkt }));
    }
    if let (Some(a), Some(map)) = (authentication, claims.as_object_mut()) {
        map.insert("auth_time".to_owned(), a.auth_time.timestamp().into());
        map.insert("acr".to_owned(), a.acr.clone().into());
        map.insert("amr".to_owned(), a.amr.clone().into());
        map.insert("sid".to_owned(), a.sid.clone().into());
    }
    key.sign_jwt("at+jwt", &claims).map_err(signing_failed)
}

/// An ID token (OIDC Core §2) with `at_hash` and, when a code is given, `c_hash`.
pub fn id_token(
    state: &AppState,
    client: &Client,
    account: &Account,
    authentication: &Authentication,
    access_token: &str,
    now: DateTime<Utc>,
) -> Result<String, OAuthError> {
    let key = state
        .keys
        .active(client.id_token_alg)
        .map_err(signing_failed)?;
    let issuer = IssuerUrl::new(state.config.server.issuer.clone()).map_err(signing_failed)?;
    let standard = standard_claims(account, authentication);
    let claims = IdTokenClaims::new(
        issuer,
        vec![Audience::new(client.id.to_string())],
        now + TimeDelta::seconds(client.lifetimes.id_token.into()),
        now,
        standard,
        ExtraIdClaims {
            sid: Some(authentication.sid.clone()),
        },
    )
    .set_auth_time(Some(authentication.auth_time))
    .set_nonce(authentication.nonce.clone().map(Nonce::new))
    .set_auth_context_ref(Some(AuthenticationContextClass::new(
        authentication.acr.clone(),
    )))
    .set_auth_method_refs(Some(
        authentication
            .amr
            .iter()
            .cloned()
            .map(AuthenticationMethodReference::new)
            .collect(),
    ));
    let token = GatehouseIdToken::new(
        claims,
        key.as_ref(),
        jws_alg(client.id_token_alg),
        Some(&AccessToken::new(access_token.to_owned())),
        None::<&AuthorizationCode>,
    )
    .map_err(signing_failed)?;
    Ok(token.to_string())
}

/// The ID token's standard claims: `sub`; `email` with the `email` scope; profile
/// claims only as the `claims` parameter names them (an access token is always
/// issued, so they go to /userinfo otherwise: OIDC Core §5.4, §5.5).
fn standard_claims(
    account: &Account,
    authentication: &Authentication,
) -> StandardClaims<CoreGenderClaim> {
    let mut standard = StandardClaims::new(SubjectIdentifier::new(account.subject.to_string()));
    if authentication.scopes.iter().any(|s| s == "email")
        && let Some(email) = &account.email
    {
        standard = standard
            .set_email(Some(EndUserEmail::new(email.as_str().to_owned())))
            .set_email_verified(Some(account.email_verified));
    }
    let asked = authentication
        .claims
        .as_ref()
        .map(|c| c.id_token.as_slice())
        .unwrap_or_default();
    let profile = claims::released(account, &authentication.scopes, Some(asked));
    let text = |name: &str| {
        profile
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    if let Some(name) = text("name") {
        standard = standard.set_name(Some(localized(EndUserName::new(name))));
    }
    if let Some(name) = text("given_name") {
        standard = standard.set_given_name(Some(localized(EndUserGivenName::new(name))));
    }
    if let Some(name) = text("family_name") {
        standard = standard.set_family_name(Some(localized(EndUserFamilyName::new(name))));
    }
    if let Some(name) = text("preferred_username") {
        standard = standard.set_preferred_username(Some(EndUserUsername::new(name)));
    }
    if let Some(locale) = text("locale") {
        standard = standard.set_locale(Some(LanguageTag::new(locale)));
    }
    if let Some(zone) = text("zoneinfo") {
        standard = standard.set_zoneinfo(Some(EndUserTimezone::new(zone)));
    }
    if let Some(at) = profile.get("updated_at").and_then(|v| v.as_i64()) {
        standard = standard.set_updated_at(DateTime::from_timestamp(at, 0));
    }
    standard
}

impl TokenResponse {
    /// The token endpoint's answer (RFC 6749 §5.1): never cached.
    pub fn answer(&self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header(CacheControl(vec![CacheDirective::NoStore]))
            .insert_header((PRAGMA, "no-cache"))
            .json(self)
    }
}

/// Access and ID token (and the refresh token, if any) for a user's login.
pub fn user_tokens(
    state: &AppState,
    client: &Client,
    account: &Account,
    authentication: &Authentication,
    refresh_token: Option<String>,
    jkt: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    let subject = account.subject.to_string();
    let access_token = access_token(
        state,
        client,
        &subject,
        &authentication.scopes,
        Some(authentication),
        jkt,
        now,
    )?;
    let id_token = id_token(state, client, account, authentication, &access_token, now)?;
    Ok(TokenResponse {
        access_token,
        token_type: token_type(jkt),
        expires_in: client.lifetimes.access_token,
        scope: authentication.scopes.join(" "),
        id_token: Some(id_token),
        refresh_token,
    })
}

/// `DPoP` for a token bound to a key (RFC 9449 §5), else `Bearer`.
pub fn token_type(jkt: Option<&str>) -> &'static str {
    if jkt.is_some() { "DPoP" } else { "Bearer" }
}

/// A claim without a language tag.
fn localized<T>(value: T) -> LocalizedClaim<T> {
    let mut claim = LocalizedClaim::new();
    claim.insert(None, value);
    claim
}
