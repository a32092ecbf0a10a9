//! The form bodies (`application/x-www-form-urlencoded`) of the OAuth endpoints: how
//! the handlers read one ([`form`]: a parameter given twice is `invalid_request`), and
//! the types that show it in the OpenAPI document (they only describe it). A form has
//! no `null`: a parameter is there or not.

use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_TYPE;
use std::collections::HashMap;
use utoipa::ToSchema;

use super::error::{OAuthError, OAuthErrorCode};

/// The parameters of a form body; `invalid_request` when the body is not a form or
/// names a parameter twice (RFC 6749 §3.1, §3.2).
pub fn form(req: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "send application/x-www-form-urlencoded",
        ));
    }
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                format!("{name} was given more than once"),
            ));
        }
    }
    Ok(params)
}

/// A parameter that must be there and not empty, else `invalid_request`.
pub fn required<'a>(
    params: &'a HashMap<String, String>,
    name: &str,
) -> Result<&'a str, OAuthError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                format!("{name} is required"),
            )
        })
}

/// `grant_type` values `/token` serves.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum GrantTypeName {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

/// `client_assertion_type`: the one kind of assertion `private_key_jwt` takes.
#[derive(Debug, ToSchema)]
pub enum ClientAssertionType {
    #[schema(rename = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")]
    JwtBearer,
}

/// `POST /token`: the grant, its parameters and, for `client_secret_post` or
/// `private_key_jwt`, the client's authentication (else HTTP Basic).
#[derive(Debug, ToSchema)]
pub struct TokenForm {
    pub grant_type: GrantTypeName,
    /// `authorization_code`: the code from the redirect.
    #[schema(nullable = false)]
    pub code: Option<String>,
    /// `authorization_code`: the redirect URI of the authorization request.
    #[schema(nullable = false)]
    pub redirect_uri: Option<String>,
    /// `authorization_code`: the PKCE verifier (RFC 7636).
    #[schema(nullable = false)]
    pub code_verifier: Option<String>,
    /// `refresh_token`: the refresh token.
    #[schema(nullable = false)]
    pub refresh_token: Option<String>,
    /// `refresh_token`, `client_credentials`: space-separated scopes.
    #[schema(nullable = false)]
    pub scope: Option<String>,
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    #[schema(nullable = false)]
    pub client_secret: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` for `private_key_jwt`.
    #[schema(nullable = false)]
    pub client_assertion_type: Option<ClientAssertionType>,
    #[schema(nullable = false)]
    pub client_assertion: Option<String>,
}

/// `POST /revoke` (RFC 7009) and `POST /introspect` (RFC 7662): the token and the
/// client's authentication when not HTTP Basic.
#[derive(Debug, ToSchema)]
pub struct TokenAboutForm {
    pub token: String,
    /// `access_token` or `refresh_token`; a hint only: every kind is looked up.
    #[schema(nullable = false)]
    pub token_type_hint: Option<String>,
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    #[schema(nullable = false)]
    pub client_secret: Option<String>,
    #[schema(nullable = false)]
    pub client_assertion_type: Option<ClientAssertionType>,
    #[schema(nullable = false)]
    pub client_assertion: Option<String>,
}

/// `POST /authorize`: the parameters of `GET /authorize`, form-encoded.
#[derive(Debug, ToSchema)]
pub struct AuthorizeForm {
    /// `code`.
    pub response_type: String,
    pub client_id: String,
    /// Exactly as registered.
    pub redirect_uri: String,
    /// Must include `openid`.
    pub scope: String,
    #[schema(nullable = false)]
    pub state: Option<String>,
    #[schema(nullable = false)]
    pub nonce: Option<String>,
    /// RFC 7636, S256.
    pub code_challenge: String,
    /// `S256`.
    pub code_challenge_method: String,
    /// `none`, `login` or `consent`.
    #[schema(nullable = false)]
    pub prompt: Option<String>,
    #[schema(nullable = false)]
    pub max_age: Option<u32>,
    #[schema(nullable = false)]
    pub acr_values: Option<String>,
    #[schema(nullable = false)]
    pub login_hint: Option<String>,
    #[schema(nullable = false)]
    pub ui_locales: Option<String>,
    /// OIDC Core §5.5: JSON naming claims for the `id_token` and `userinfo`.
    #[schema(nullable = false)]
    pub claims: Option<String>,
}

/// `POST /end_session`: the parameters of `GET /end_session`, form-encoded.
#[derive(Debug, ToSchema)]
pub struct EndSessionForm {
    #[schema(nullable = false)]
    pub id_token_hint: Option<String>,
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    #[schema(nullable = false)]
    pub post_logout_redirect_uri: Option<String>,
    #[schema(nullable = false)]
    pub state: Option<String>,
}
