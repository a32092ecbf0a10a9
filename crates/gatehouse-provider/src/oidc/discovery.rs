//! `GET /.well-known/openid-configuration` (OIDC Discovery 1.0): exactly what this
//! server implements.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, get, web};
use gatehouse_core::claims;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// The OpenID Provider Metadata this server publishes (OIDC Discovery 1.0 §3, with
/// the members of RFC 8414, RFC 7009, RFC 7662, RFC 9207, RFC 9126 (PAR), RFC 9449
/// (DPoP), RP-Initiated Logout and Back-Channel Logout it
/// implements). Every member is always present.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProviderMetadata {
    /// The issuer identifier: the `iss` of every token.
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    /// Where the token-signing keys are published.
    pub jwks_uri: String,
    pub scopes_supported: Vec<String>,
    /// `code`: the authorization-code flow only.
    pub response_types_supported: Vec<String>,
    /// `query`.
    pub response_modes_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    /// The `acr` values a login here can establish.
    pub acr_values_supported: Vec<String>,
    /// `public`: a `sub` is the same for every client.
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// For `private_key_jwt` client assertions.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    pub claims_supported: Vec<String>,
    /// `true`: the `claims` request parameter names claims for the ID token and
    /// `/userinfo` (OIDC Core §5.5), within the scopes granted.
    pub claims_parameter_supported: bool,
    /// `false`: no request objects.
    pub request_parameter_supported: bool,
    /// `false`: no request objects by reference.
    pub request_uri_parameter_supported: bool,
    /// RFC 7009.
    pub revocation_endpoint: String,
    /// RP-Initiated Logout 1.0.
    pub end_session_endpoint: String,
    /// Back-Channel Logout 1.0: clients with a `backchannel_logout_uri` get a logout
    /// token when a session they were issued tokens under ends.
    pub backchannel_logout_supported: bool,
    /// Logout tokens carry `sid`, as ID tokens do.
    pub backchannel_logout_session_supported: bool,
    /// RFC 7662.
    pub introspection_endpoint: String,
    /// RFC 7636: `S256` only.
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: authorization responses carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 9126.
    pub pushed_authorization_request_endpoint: String,
    /// RFC 9126 §5: `true` when every client must push its requests (`[par] required`);
    /// a client's own registration may require it anyway.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.1: the algorithms a DPoP proof may be signed with.
    pub dpop_signing_alg_values_supported: Vec<String>,
}

/// The switches of the server that discovery reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    /// `[par] required`.
    pub par_required: bool,
}

/// The signing algorithms of ID tokens and of client assertions alike.
const SIGNING_ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

impl ProviderMetadata {
    /// What this server implements, for `issuer` (validated with the configuration).
    /// `acr_values` lists the `acr` values this server can establish.
    pub fn new(issuer: &str, acr_values: &[&str], features: Features) -> Self {
        let at = |path: &str| format!("{issuer}{path}");
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: at("/authorize"),
            token_endpoint: at("/token"),
            userinfo_endpoint: at("/userinfo"),
            jwks_uri: at("/jwks.json"),
            scopes_supported: strings(&claims::SCOPES_SUPPORTED),
            response_types_supported: strings(&["code"]),
            response_modes_supported: strings(&["query"]),
            grant_types_supported: strings(&[
                "authorization_code",
                "refresh_token",
                "client_credentials",
            ]),
            acr_values_supported: strings(acr_values),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: strings(&SIGNING_ALGS),
            token_endpoint_auth_methods_supported: strings(&[
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ]),
            token_endpoint_auth_signing_alg_values_supported: strings(&SIGNING_ALGS),
            // The ID token's own claims, then those the scopes release.
            claims_supported: [
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
            ]
            .iter()
            .chain(&claims::EMAIL_CLAIMS)
            .chain(&claims::PROFILE_CLAIMS)
            .map(|claim| (*claim).to_owned())
            .collect(),
            claims_parameter_supported: true,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            revocation_endpoint: at("/revoke"),
            end_session_endpoint: at("/end_session"),
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
            introspection_endpoint: at("/introspect"),
            code_challenge_methods_supported: strings(&["S256"]),
            authorization_response_iss_parameter_supported: true,
            pushed_authorization_request_endpoint: at("/par"),
            require_pushed_authorization_requests: features.par_required,
            dpop_signing_alg_values_supported: strings(&super::dpop::ALGS),
        }
    }
}

/// The discovery document for `issuer`, serialised once at start.
pub fn document(issuer: &str, acr_values: &[&str], features: Features) -> Result<String, String> {
    serde_json::to_string(&ProviderMetadata::new(issuer, acr_values, features))
        .map_err(|e| e.to_string())
}

/// The OpenID Provider metadata.
#[utoipa::path(
    tag = "oidc",
    responses((status = 200, description = "OpenID Provider Metadata", content_type = "application/json", body = ProviderMetadata))
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
