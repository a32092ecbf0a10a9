//! `GET /.well-known/openid-configuration` (OIDC Discovery 1.0): exactly what this
//! server implements, built from openidconnect's provider-metadata types.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, get, web};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, AuthenticationContextClass, IssuerUrl, JsonWebKeySetUrl,
    ProviderMetadata, ResponseTypes, Scope, TokenUrl, UserInfoUrl,
};
use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// Discovery fields openidconnect's `ProviderMetadata` has no slot for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExtraMetadata {
    pub revocation_endpoint: String,
    /// RP-Initiated Logout 1.0.
    pub end_session_endpoint: String,
    pub introspection_endpoint: String,
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: authorization responses carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The discovery document for `issuer`.
/// `acr_values` lists the `acr` values this server can establish.
pub fn document(issuer: &str, acr_values: &[&str]) -> Result<String, String> {
    let at = |path: &str| format!("{issuer}{path}");
    let fail = |e: openidconnect::url::ParseError| e.to_string();
    let metadata = Metadata::new(
        IssuerUrl::new(issuer.to_owned()).map_err(fail)?,
        AuthUrl::new(at("/authorize")).map_err(fail)?,
        JsonWebKeySetUrl::new(at("/jwks.json")).map_err(fail)?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::EdDsa,
        ],
        ExtraMetadata {
            revocation_endpoint: at("/revoke"),
            end_session_endpoint: at("/end_session"),
            introspection_endpoint: at("/introspect"),
            code_challenge_methods_supported: vec!["S256".to_owned()],
            authorization_response_iss_parameter_supported: true,
        },
    )
    .set_token_endpoint(Some(TokenUrl::new(at("/token")).map_err(fail)?))
    .set_userinfo_endpoint(Some(UserInfoUrl::new(at("/userinfo")).map_err(fail)?))
    .set_response_modes_supported(Some(vec![CoreResponseMode::Query]))
    .set_grant_types_supported(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
        CoreGrantType::ClientCredentials,
    ]))
    .set_token_endpoint_auth_methods_supported(Some(vec![
        CoreClientAuthMethod::ClientSecretBasic,
        CoreClientAuthMethod::ClientSecretPost,
        CoreClientAuthMethod::PrivateKeyJwt,
        CoreClientAuthMethod::None,
    ]))
    .set_token_endpoint_auth_signing_alg_values_supported(Some(vec![
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EdDsa,
    ]))
    .set_scopes_supported(Some(
        ["openid", "email"]
            .iter()
            .map(|s| Scope::new((*s).to_owned()))
            .collect(),
    ))
    .set_claims_supported(Some(
        [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "at_hash",
            "sid",
            "email",
            "email_verified",
        ]
        .iter()
        .map(|c| CoreClaimName::new((*c).to_owned()))
        .collect(),
    ))
    .set_acr_values_supported(Some(
        acr_values
            .iter()
            .map(|v| AuthenticationContextClass::new((*v).to_owned()))
            .collect(),
    ))
    .set_claims_parameter_supported(Some(false))
    .set_request_parameter_supported(Some(false))
    .set_request_uri_parameter_supported(Some(false));
    serde_json::to_string(&metadata).map_err(|e| e.to_string())
}

/// The OpenID Provider metadata.
#[utoipa::path(
    tag = "oidc",
    responses((status = 200, description = "OpenID Provider Metadata", content_type = "application/json", body = Object))
)]
#[get("/.well-known/openid-configuration")]
pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(3600),
        ]))
        .body(state.discovery.to_string())
}
