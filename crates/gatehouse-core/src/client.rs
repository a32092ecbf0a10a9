//! OAuth 2.0 / OpenID Connect clients (relying parties) and the rules a registration
//! must follow before it is stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A client identifier: unreserved URL characters only (RFC 3986 §2.3), so it is safe
/// in query strings and in HTTP Basic credentials (which split on `:`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, ClientError> {
        let ok = (1..=128).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ClientError::InvalidId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = ClientError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClientId> for String {
    fn from(value: ClientId) -> Self {
        value.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ClientError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| ClientError::Unsupported {
                        what: stringify!($name),
                        value: s.to_owned(),
                    })
            }
        }
    };
}

string_enum!(
    /// The grants a client may use at the token endpoint.
    GrantType {
        AuthorizationCode => "authorization_code",
        RefreshToken => "refresh_token",
        ClientCredentials => "client_credentials",
    }
);

string_enum!(
    /// How a client proves itself at the token endpoint (OIDC Core §9).
    TokenEndpointAuthMethod {
        ClientSecretBasic => "client_secret_basic",
        ClientSecretPost => "client_secret_post",
        PrivateKeyJwt => "private_key_jwt",
        None => "none",
    }
);

string_enum!(
    /// JWS algorithms for ID tokens. RS256 is mandatory in OIDC and the default.
    SigningAlg {
        Rs256 => "RS256",
        Es256 => "ES256",
        EdDsa => "EdDSA",
    }
);

impl TokenEndpointAuthMethod {
    /// Methods that need a shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// Token lifetimes in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenLifetimes {
    pub access_token: u32,
    pub id_token: u32,
    pub refresh_token: u32,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            access_token: 600,
            id_token: 3600,
            refresh_token: 30 * 24 * 3600,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("a client id is 1 to 128 of A-Z a-z 0-9 - . _ ~")]
    InvalidId,
    #[error("the client needs a name")]
    MissingName,
    #[error("unsupported {what} {value:?}")]
    Unsupported { what: &'static str, value: String },
    #[error("redirect URI {uri:?}: {reason}")]
    InvalidRedirectUri { uri: String, reason: &'static str },
    #[error("scope {0:?} is not a valid scope token")]
    InvalidScope(String),
    #[error("{0}")]
    Inconsistent(&'static str),
}

/// A registered relying party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    /// Keyed hash of the secret for `client_secret_*`; never the secret itself.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub auth_method: TokenEndpointAuthMethod,
    /// The client's public keys (a JWKS document) for `private_key_jwt`.
    pub jwks: Option<String>,
    pub id_token_alg: SigningAlg,
    /// First-party clients skip the consent screen.
    pub first_party: bool,
    /// Issue refresh tokens without the `offline_access` scope (today's behaviour for
    /// first-party clients, and their default); otherwise a refresh token needs
    /// `offline_access` asked for and granted.
    pub refresh_without_offline_access: bool,
    /// RFC 9126 §6: `/authorize` takes this client's requests only pushed (PAR).
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: `/token` issues this client's tokens only with a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// Where logout tokens are POSTed (OIDC Back-Channel Logout 1.0); none: no notices.
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in its logout tokens (they always carry it here).
    pub backchannel_logout_session_required: bool,
    pub lifetimes: TokenLifetimes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// OAuth 2.0 Security BCP / RFC 8252: absolute, no fragment; https, or http on a
/// loopback host, or a private-use scheme (`com.example.app:/cb`) for native apps.
fn check_redirect_uri(uri: &str) -> Result<(), ClientError> {
    let invalid = |reason| ClientError::InvalidRedirectUri {
        uri: uri.to_owned(),
        reason,
    };
    let parsed = url::Url::parse(uri).map_err(|_| invalid("not an absolute URI"))?;
    if parsed.fragment().is_some() {
        return Err(invalid("must not contain a fragment"));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => match parsed.host_str() {
            Some("localhost" | "127.0.0.1" | "[::1]") => Ok(()),
            _ => Err(invalid("http is allowed for loopback hosts only")),
        },
        "javascript" | "data" | "file" | "vbscript" => Err(invalid("scheme not allowed")),
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(invalid(
            "use https, http on loopback, or a reverse-domain private-use scheme",
        )),
    }
}

/// Back-Channel Logout 1.0 §2.2: an absolute URI without a fragment, reached from
/// the server: https, or http on a loopback host, as for redirect URIs.
fn check_backchannel_logout_uri(uri: &str) -> Result<(), ClientError> {
    check_redirect_uri(uri)?;
    match url::Url::parse(uri).map(|u| u.scheme().to_owned()) {
        Ok(scheme) if scheme == "https" || scheme == "http" => Ok(()),
        _ => Err(ClientError::InvalidRedirectUri {
            uri: uri.to_owned(),
            reason: "a back-channel logout URI is https, or http on loopback",
        }),
    }
}

impl Client {
    /// Checks that the registration is internally consistent and safe.
    pub fn validate(&self) -> Result<(), ClientError> {
        if self.name.trim().is_empty() {
            return Err(ClientError::MissingName);
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            check_redirect_uri(uri)?;
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            check_backchannel_logout_uri(uri)?;
        }
        if let Some(bad) = self.scopes.iter().find(|s| !valid_scope(s)) {
            return Err(ClientError::InvalidScope(bad.clone()));
        }
        let has = |g| self.grant_types.contains(&g);
        if self.grant_types.is_empty() {
            return Err(ClientError::Inconsistent(
                "a client needs at least one grant type",
            ));
        }
        if has(GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(ClientError::Inconsistent(
                "authorization_code needs a redirect URI",
            ));
        }
        if has(GrantType::RefreshToken) && !has(GrantType::AuthorizationCode) {
            return Err(ClientError::Inconsistent(
                "refresh_token goes with authorization_code",
            ));
        }
        match self.auth_method {
            TokenEndpointAuthMethod::None => {
                if self.secret_hash.is_some() {
                    return Err(ClientError::Inconsistent("a public client has no secret"));
                }
                if has(GrantType::ClientCredentials) {
                    return Err(ClientError::Inconsistent(
                        "client_credentials needs a confidential client",
                    ));
                }
            }
            TokenEndpointAuthMethod::PrivateKeyJwt => {
                if self.jwks.is_none() {
                    return Err(ClientError::Inconsistent(
                        "private_key_jwt needs the client's JWKS",
                    ));
                }
            }
            TokenEndpointAuthMethod::ClientSecretBasic
            | TokenEndpointAuthMethod::ClientSecretPost => {
                if self.secret_hash.is_none() {
                    return Err(ClientError::Inconsistent("client_secret_* needs a secret"));
                }
            }
        }
        Ok(())
    }

    pub fn is_public(&self) -> bool {
        self.auth_method == TokenEndpointAuthMethod::None
    }

    /// Redirect URIs match exactly, character for character (OAuth 2.0 Security BCP §4.1).
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    pub fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether a login granted `scopes` gets a refresh token: the client uses the
    /// grant, and `offline_access` was granted or the client is set to do without.
    pub fn issues_refresh_token(&self, scopes: &[String]) -> bool {
        self.allows_grant(GrantType::RefreshToken)
            && (self.refresh_without_offline_access || scopes.iter().any(|s| s == "offline_access"))
    }
}

/// A public first-party client of the authorization code grant asking `openid email`,
/// registered at the epoch: the tests' starting point, so a new field is set here once.
#[cfg(test)]
pub(crate) fn test_client(id: &str, redirect_uri: &str) -> Client {
    Client {
        id: ClientId::parse(id).unwrap_or_else(|e| panic!("client id {id}: {e}")),
        name: id.to_owned(),
        secret_hash: None,
        redirect_uris: vec![redirect_uri.to_owned()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode],
        scopes: vec!["openid".to_owned(), "email".to_owned()],
        auth_method: TokenEndpointAuthMethod::None,
        jwks: None,
        id_token_alg: SigningAlg::Rs256,
        first_party: true,
        refresh_without_offline_access: true,
        require_pushed_authorization_requests: false,
        dpop_bound_access_tokens: false,
        backchannel_logout_uri: None,
        backchannel_logout_session_required: false,
        lifetimes: TokenLifetimes::default(),
        created_at: DateTime::UNIX_EPOCH,
        updated_at: DateTime::UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web_app() -> Client {
        Client {
            name: "Support Portal".to_owned(),
            secret_hash: Some("hash".to_owned()),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
            first_party: false,
            refresh_without_offline_access: false,
            ..test_client("portal", "https://portal.example.com/callback")
        }
    }

    #[test]
    fn a_confidential_web_app_is_valid() {
        assert_eq!(web_app().validate(), Ok(()));
    }

    #[test]
    fn client_ids_are_url_and_basic_auth_safe() {
        assert!(ClientId::parse("my-app_1.0~x").is_ok());
        for bad in ["", "has space", "colon:id", "ümlaut", &"a".repeat(129)] {
            assert_eq!(ClientId::parse(bad), Err(ClientError::InvalidId), "{bad:?}");
        }
    }

    #[test]
    fn redirect_uris_follow_the_security_bcp() {
        for ok in [
            "https://rp.example.com/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "/relative",
            "https://rp.example.com/cb#frag",
            "http://rp.example.com/cb",
            "javascript:alert(1)",
            "myapp:/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backchannel_logout_uris_are_https_or_loopback_http() {
        for ok in ["https://rp.example.com/bc?x=1", "http://127.0.0.1:8081/bc"] {
            assert_eq!(check_backchannel_logout_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "https://rp.example.com/bc#frag",
            "http://rp.example.com/bc",
            "com.example.app:/bc",
            "bc",
        ] {
            assert!(check_backchannel_logout_uri(bad).is_err(), "{bad}");
        }
        let client = Client {
            backchannel_logout_uri: Some("http://rp.example.com/bc".to_owned()),
            ..web_app()
        };
        assert!(client.validate().is_err());
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let client = web_app();
        assert!(client.allows_redirect("https://portal.example.com/callback"));
        assert!(!client.allows_redirect("https://portal.example.com/callback/"));
        assert!(!client.allows_redirect("https://portal.example.com/Callback"));
        assert!(!client.allows_redirect("https://portal.example.com/callback?x=1"));
    }

    #[test]
    fn inconsistent_registrations_are_refused() {
        let public_with_secret = Client {
            auth_method: TokenEndpointAuthMethod::None,
            ..web_app()
        };
        assert!(public_with_secret.validate().is_err());
        let public_machine = Client {
            auth_method: TokenEndpointAuthMethod::None,
            secret_hash: None,
            grant_types: vec![GrantType::ClientCredentials],
            ..web_app()
        };
        assert!(public_machine.validate().is_err());
        let jwt_without_keys = Client {
            auth_method: TokenEndpointAuthMethod::PrivateKeyJwt,
            secret_hash: None,
            ..web_app()
        };
        assert!(jwt_without_keys.validate().is_err());
        let code_without_redirect = Client {
            redirect_uris: vec![],
            ..web_app()
        };
        assert!(code_without_redirect.validate().is_err());
        let bad_scope = Client {
            scopes: vec!["has\"quote".to_owned()],
            ..web_app()
        };
        assert_eq!(
            bad_scope.validate(),
            Err(ClientError::InvalidScope("has\"quote".to_owned()))
        );
    }

    #[test]
    fn refresh_tokens_need_offline_access_unless_the_client_does_without() {
        let scopes = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let third_party = web_app();
        assert!(!third_party.issues_refresh_token(&scopes(&["openid", "email"])));
        assert!(third_party.issues_refresh_token(&scopes(&["openid", "offline_access"])));
        let first_party = Client {
            first_party: true,
            refresh_without_offline_access: true,
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
            ..web_app()
        };
        assert!(first_party.issues_refresh_token(&scopes(&["openid"])));
        let no_grant = Client {
            grant_types: vec![GrantType::AuthorizationCode],
            ..first_party
        };
        assert!(!no_grant.issues_refresh_token(&scopes(&["openid", "offline_access"])));
    }

    #[test]
    fn enum_names_round_trip() {
        for g in GrantType::ALL {
            assert_eq!(g.as_str().parse(), Ok(*g));
        }
        for m in TokenEndpointAuthMethod::ALL {
            assert_eq!(m.as_str().parse(), Ok(*m));
        }
        for a in SigningAlg::ALL {
            assert_eq!(a.as_str().parse(), Ok(*a));
        }
        assert!("implicit".parse::<GrantType>().is_err());
    }
}
