//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636): which
//! parameters are accepted, and how each failure is answered.
//!
//! RFC 6749 §4.1.2.1 splits failures in two. A missing or unknown client, or a
//! redirect URI that is not registered, must never redirect (that would make the
//! provider an open redirector): the error is shown. Every other failure goes back
//! to the client's redirect URI with `error`, `state` and `iss`.

use chrono::{DateTime, Utc};

use crate::claims::ClaimsRequest;
use crate::client::{Client, GrantType};

/// A pushed authorization request (RFC 9126): the parameters a client sent to the
/// PAR endpoint, kept until `/authorize` takes them, once, or they expire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedRequest {
    /// Keyed hash of the random part of its `request_uri`.
    pub id_hash: String,
    pub client_id: String,
    /// The parameters as pushed (validated then, and again when taken).
    pub params: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// The raw parameters, as received (query string or form body).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizationParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub acr_values: Option<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub claims: Option<String>,
}

impl AuthorizationParams {
    /// Builds the parameters from name/value pairs. A parameter given twice is an
    /// error (RFC 6749 §3.1); unknown parameters are ignored, as the RFC requires.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        let mut params = Self::default();
        for (name, value) in pairs {
            let slot = match name {
                "response_type" => &mut params.response_type,
                "client_id" => &mut params.client_id,
                "redirect_uri" => &mut params.redirect_uri,
                "scope" => &mut params.scope,
                "state" => &mut params.state,
                "nonce" => &mut params.nonce,
                "code_challenge" => &mut params.code_challenge,
                "code_challenge_method" => &mut params.code_challenge_method,
                "prompt" => &mut params.prompt,
                "max_age" => &mut params.max_age,
                "acr_values" => &mut params.acr_values,
                "login_hint" => &mut params.login_hint,
                "ui_locales" => &mut params.ui_locales,
                "response_mode" => &mut params.response_mode,
                "request" => &mut params.request,
                "request_uri" => &mut params.request_uri,
                "claims" => &mut params.claims,
                _ => continue,
            };
            if slot.is_some() {
                return Err(name.to_owned());
            }
            *slot = Some(value.to_owned());
        }
        Ok(params)
    }
}

/// An error that is shown to the user, never redirected (bad client or redirect URI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownError {
    pub error: &'static str,
    pub description: String,
}

/// An error sent back to the client's redirect URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectedError {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub error: &'static str,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    Show(ShownError),
    Redirect(RedirectedError),
}

/// `prompt` (OIDC Core §3.1.2.1). `consent` asks a third-party client's user again
/// (first-party clients have no consent screen); `select_account` is accepted and has
/// no effect: a browser has one account session at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A request that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// S256 only: the base64url SHA-256 of the verifier.
    pub code_challenge: String,
    pub prompt: Prompt,
    pub max_age: Option<u32>,
    pub acr_values: Vec<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    /// The `claims` parameter (OIDC Core §5.5), when given.
    pub claims: Option<ClaimsRequest>,
}

/// Longest accepted value of a free-text parameter: requests are stored, so they are bounded.
const MAX_VALUE: usize = 2048;

/// RFC 7636 §4.2: 43–128 characters of `[A-Za-z0-9-._~]` (S256 gives exactly 43).
fn valid_code_challenge(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Checks a request against the client it names. `client` is the registered client
/// for `params.client_id`, if there is one.
pub fn validate(
    params: &AuthorizationParams,
    client: Option<&Client>,
) -> Result<AuthorizationRequest, Rejection> {
    let show = |error, description: &str| {
        Rejection::Show(ShownError {
            error,
            description: description.to_owned(),
        })
    };
    let Some(client) = client else {
        return Err(show("invalid_request", "unknown or missing client_id"));
    };
    let Some(redirect_uri) = params.redirect_uri.as_deref() else {
        return Err(show("invalid_request", "redirect_uri is required"));
    };
    if !client.allows_redirect(redirect_uri) {
        return Err(show(
            "invalid_request",
            "redirect_uri is not registered for this client",
        ));
    }
    let state = params.state.clone();
    let redirect = |error, description: &str| {
        Rejection::Redirect(RedirectedError {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error,
            description: description.to_owned(),
        })
    };
    let too_long = [
        &params.state,
        &params.nonce,
        &params.scope,
        &params.login_hint,
        &params.ui_locales,
        &params.acr_values,
        &params.prompt,
        &params.claims,
    ]
    .iter()
    .any(|v| v.as_ref().is_some_and(|v| v.len() > MAX_VALUE));
    if too_long {
        return Err(redirect("invalid_request", "a parameter is too long"));
    }
    if params.request.is_some() {
        return Err(redirect(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if params.request_uri.is_some() {
        return Err(redirect(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match params.response_type.as_deref() {
        None => return Err(redirect("invalid_request", "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(redirect(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if !matches!(params.response_mode.as_deref(), None | Some("query")) {
        return Err(redirect(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(redirect(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        ));
    }
    let scopes: Vec<String> = params
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(redirect("invalid_scope", "the openid scope is required"));
    }
    if let Some(denied) = scopes.iter().find(|s| !client.allows_scope(s)) {
        return Err(redirect(
            "invalid_scope",
            &format!("scope {denied} is not allowed for this client"),
        ));
    }
    let Some(code_challenge) = params.code_challenge.clone() else {
        return Err(redirect(
            "invalid_request",
            "PKCE is required: send code_challenge with S256",
        ));
    };
    if params.code_challenge_method.as_deref() != Some("S256") {
        return Err(redirect(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    if !valid_code_challenge(&code_challenge) {
        return Err(redirect("invalid_request", "code_challenge is malformed"));
    }
    let mut prompt = Prompt::default();
    for value in params
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
    {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => return Err(redirect("invalid_request", "unsupported prompt value")),
        }
    }
    if prompt.none && params.prompt.as_deref().is_some_and(|p| p.trim() != "none") {
        return Err(redirect(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(raw) => match raw.parse::<u32>() {
            Ok(seconds) => Some(seconds),
            Err(_) => {
                return Err(redirect(
                    "invalid_request",
                    "max_age must be a whole number of seconds",
                ));
            }
        },
    };
    let claims = match params.claims.as_deref().map(ClaimsRequest::parse) {
        None => None,
        Some(Ok(claims)) => Some(claims).filter(|c| !c.is_empty()),
        Some(Err(e)) => return Err(redirect("invalid_request", &e.to_string())),
    };
    Ok(AuthorizationRequest {
        client_id: client.id.to_string(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        code_challenge,
        prompt,
        max_age,
        acr_values: params
            .acr_values
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        login_hint: params.login_hint.clone(),
        ui_locales: params.ui_locales.clone(),
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::test_client;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> Client {
        Client {
            name: "Portal".to_owned(),
            ..test_client("portal", "https://rp.example.com/cb")
        }
    }

    fn params(extra: &[(&str, &str)]) -> AuthorizationParams {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", "portal"),
            ("redirect_uri", "https://rp.example.com/cb"),
            ("scope", "openid email"),
            ("state", "af0ifjsldkj"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            pairs.retain(|(name, _)| name != k);
            if !v.is_empty() {
                pairs.push((k, v));
            }
        }
        AuthorizationParams::from_pairs(pairs).unwrap()
    }

    fn redirected(extra: &[(&str, &str)]) -> &'static str {
        match validate(&params(extra), Some(&client())) {
            Err(Rejection::Redirect(e)) => {
                assert_eq!(e.state.as_deref(), Some("af0ifjsldkj"));
                assert_eq!(e.redirect_uri, "https://rp.example.com/cb");
                e.error
            }
            other => panic!("expected a redirected error, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_request_passes() {
        let request = validate(
            &params(&[("nonce", "n-0S6"), ("max_age", "300"), ("prompt", "login")]),
            Some(&client()),
        )
        .unwrap();
        assert_eq!(request.scopes, vec!["openid", "email"]);
        assert_eq!(request.max_age, Some(300));
        assert!(request.prompt.login && !request.prompt.none);
        assert_eq!(request.nonce.as_deref(), Some("n-0S6"));
    }

    #[test]
    fn bad_client_or_redirect_uri_is_shown_never_redirected() {
        assert!(matches!(
            validate(&params(&[]), None),
            Err(Rejection::Show(_))
        ));
        for uri in [
            "https://evil.example.com/cb",
            "https://rp.example.com/cb/",
            "https://rp.example.com/cb?x=1",
            "",
        ] {
            let result = validate(&params(&[("redirect_uri", uri)]), Some(&client()));
            assert!(matches!(result, Err(Rejection::Show(_))), "{uri:?}");
        }
    }

    #[test]
    fn other_errors_go_back_to_the_client() {
        assert_eq!(redirected(&[("response_type", "")]), "invalid_request");
        assert_eq!(
            redirected(&[("response_type", "token")]),
            "unsupported_response_type"
        );
        assert_eq!(
            redirected(&[("response_type", "code id_token")]),
            "unsupported_response_type"
        );
        assert_eq!(redirected(&[("scope", "email")]), "invalid_scope");
        assert_eq!(redirected(&[("scope", "openid admin")]), "invalid_scope");
        assert_eq!(redirected(&[("code_challenge", "")]), "invalid_request");
        assert_eq!(
            redirected(&[("code_challenge_method", "plain")]),
            "invalid_request"
        );
        assert_eq!(
            redirected(&[("code_challenge_method", "")]),
            "invalid_request"
        );
        assert_eq!(
            redirected(&[("code_challenge", "short")]),
            "invalid_request"
        );
        assert_eq!(redirected(&[("prompt", "none login")]), "invalid_request");
        assert_eq!(redirected(&[("prompt", "whatever")]), "invalid_request");
        assert_eq!(redirected(&[("max_age", "-1")]), "invalid_request");
        assert_eq!(
            redirected(&[("claims", "{\"id_token\":[]}")]),
            "invalid_request"
        );
        assert_eq!(
            redirected(&[("response_mode", "fragment")]),
            "invalid_request"
        );
        assert_eq!(
            redirected(&[("request", "eyJ...")]),
            "request_not_supported"
        );
        assert_eq!(
            redirected(&[("request_uri", "https://x")]),
            "request_uri_not_supported"
        );
        assert_eq!(
            redirected(&[("nonce", &"n".repeat(MAX_VALUE + 1))]),
            "invalid_request"
        );
    }

    #[test]
    fn a_client_without_the_code_grant_is_unauthorized() {
        let mut machine = client();
        machine.grant_types = vec![GrantType::ClientCredentials];
        match validate(&params(&[]), Some(&machine)) {
            Err(Rejection::Redirect(e)) => assert_eq!(e.error, "unauthorized_client"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parameters_given_twice_are_refused_and_unknown_ones_ignored() {
        let twice = AuthorizationParams::from_pairs([("state", "a"), ("state", "b")]);
        assert_eq!(twice, Err("state".to_owned()));
        let unknown = AuthorizationParams::from_pairs([("foo", "bar"), ("state", "a")]).unwrap();
        assert_eq!(unknown.state.as_deref(), Some("a"));
    }

    #[test]
    fn prompt_consent_and_the_claims_parameter_are_kept() {
        let request = validate(
            &params(&[
                ("prompt", "consent"),
                ("claims", r#"{"id_token":{"name":null}}"#),
            ]),
            Some(&client()),
        )
        .unwrap();
        assert!(request.prompt.consent && !request.prompt.none);
        assert_eq!(request.claims.unwrap().id_token, vec!["name"]);
        let empty = validate(&params(&[("claims", "{}")]), Some(&client())).unwrap();
        assert_eq!(empty.claims, None);
    }

    #[test]
    fn prompt_none_alone_is_fine() {
        let request = validate(&params(&[("prompt", "none")]), Some(&client())).unwrap();
        assert!(request.prompt.none);
    }
}
