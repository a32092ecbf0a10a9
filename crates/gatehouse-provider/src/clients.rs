//! Registering and describing OAuth clients; shared by the CLI and (later) the admin API.

use chrono::{DateTime, Utc};
use gatehouse_core::client::TokenLifetimes;
use gatehouse_core::ports::{ClientRepository, RepositoryError};
use gatehouse_core::{
    Client, ClientError, ClientId, GrantType, SigningAlg, TokenEndpointAuthMethod,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::crypto::{CryptoError, KeyedHasher, random};

/// What an operator asks for. Anything left out takes the usual web-app default.
#[derive(Clone, Debug, Default)]
pub struct ClientRequest {
    pub id: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub auth_method: Option<TokenEndpointAuthMethod>,
    pub jwks: Option<String>,
    pub id_token_alg: Option<SigningAlg>,
    pub first_party: bool,
    /// Refresh tokens without `offline_access`; left out: on for first-party clients.
    pub refresh_without_offline_access: Option<bool>,
    /// RFC 9126 §6: `/authorize` takes only pushed requests from this client.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: tokens only with a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub lifetimes: Option<TokenLifetimes>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    Invalid(#[from] ClientError),
    #[error("a client with id {0:?} already exists")]
    Taken(String),
    #[error("the jwks is not a JSON Web Key Set: {0}")]
    Jwks(String),
    #[error(transparent)]
    Repository(RepositoryError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// The default scopes of a new client.
const DEFAULT_SCOPES: [&str; 4] = ["openid", "email", "profile", "offline_access"];

/// Validates and stores a new client. Returns it with its secret, which exists in
/// clear only in this answer: the store keeps a keyed hash.
pub fn register(
    store: &impl ClientRepository,
    hasher: &KeyedHasher,
    request: ClientRequest,
    now: DateTime<Utc>,
) -> Result<(Client, Option<String>), RegistrationError> {
    let id = match &request.id {
        Some(id) => ClientId::parse(id)?,
        None => ClientId::parse(&random::token()?[..22])?,
    };
    let auth_method = request
        .auth_method
        .unwrap_or(TokenEndpointAuthMethod::ClientSecretBasic);
    let secret = if auth_method.uses_secret() {
        Some(random::token()?)
    } else {
        None
    };
    if let Some(jwks) = &request.jwks {
        let parsed: serde_json::Value =
            serde_json::from_str(jwks).map_err(|e| RegistrationError::Jwks(e.to_string()))?;
        if !parsed["keys"].is_array() {
            return Err(RegistrationError::Jwks("no \"keys\" array".to_owned()));
        }
    }
    let grant_types = if request.grant_types.is_empty() {
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
    } else {
        request.grant_types
    };
    let scopes = if request.scopes.is_empty() {
        DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        request.scopes
    };
    let client = Client {
        id,
        name: request.name,
        secret_hash: secret.as_deref().map(|s| hasher.hash(s)),
        redirect_uris: request.redirect_uris,
        post_logout_redirect_uris: request.post_logout_redirect_uris,
        grant_types,
        scopes,
        auth_method,
        jwks: request.jwks,
        id_token_alg: request.id_token_alg.unwrap_or(SigningAlg::Rs256),
        first_party: request.first_party,
        refresh_without_offline_access: request
            .refresh_without_offline_access
            .unwrap_or(request.first_party),
        require_pushed_authorization_requests: request.require_pushed_authorization_requests,
        dpop_bound_access_tokens: request.dpop_bound_access_tokens,
        backchannel_logout_uri: request.backchannel_logout_uri,
        backchannel_logout_session_required: request.backchannel_logout_session_required,
        lifetimes: request.lifetimes.unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    client.validate()?;
    store.insert_client(&client).map_err(|e| match e {
        RepositoryError::Conflict(_) => RegistrationError::Taken(client.id.to_string()),
        other => RegistrationError::Repository(other),
    })?;
    Ok((client, secret))
}

/// What an operator may change on a registered client; `None` keeps the value.
#[derive(Clone, Debug, Default)]
pub struct ClientChange {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<GrantType>>,
    pub scopes: Option<Vec<String>>,
    pub id_token_alg: Option<SigningAlg>,
    pub first_party: Option<bool>,
    pub refresh_without_offline_access: Option<bool>,
    pub require_pushed_authorization_requests: Option<bool>,
    pub dpop_bound_access_tokens: Option<bool>,
    /// `Some(None)` removes the URI.
    pub backchannel_logout_uri: Option<Option<String>>,
    pub backchannel_logout_session_required: Option<bool>,
    pub lifetimes: Option<TokenLifetimes>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Invalid(#[from] ClientError),
    #[error("no client {0:?}")]
    NotFound(String),
    #[error("the client authenticates without a secret")]
    NoSecret,
    #[error(transparent)]
    Repository(RepositoryError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

fn existing(store: &impl ClientRepository, id: &ClientId) -> Result<Client, ChangeError> {
    store
        .client_by_id(id)
        .map_err(ChangeError::Repository)?
        .ok_or_else(|| ChangeError::NotFound(id.to_string()))
}

/// Applies `change` to the client, validated as a new one would be.
pub fn update(
    store: &impl ClientRepository,
    id: &ClientId,
    change: ClientChange,
    now: DateTime<Utc>,
) -> Result<Client, ChangeError> {
    let mut client = existing(store, id)?;
    if let Some(v) = change.name {
        client.name = v;
    }
    if let Some(v) = change.redirect_uris {
        client.redirect_uris = v;
    }
    if let Some(v) = change.post_logout_redirect_uris {
        client.post_logout_redirect_uris = v;
    }
    if let Some(v) = change.grant_types {
        client.grant_types = v;
    }
    if let Some(v) = change.scopes {
        client.scopes = v;
    }
    if let Some(v) = change.id_token_alg {
        client.id_token_alg = v;
    }
    if let Some(v) = change.first_party {
        client.first_party = v;
    }
    if let Some(v) = change.refresh_without_offline_access {
        client.refresh_without_offline_access = v;
    }
    if let Some(v) = change.require_pushed_authorization_requests {
        client.require_pushed_authorization_requests = v;
    }
    if let Some(v) = change.dpop_bound_access_tokens {
        client.dpop_bound_access_tokens = v;
    }
    if let Some(v) = change.backchannel_logout_uri {
        client.backchannel_logout_uri = v;
    }
    if let Some(v) = change.backchannel_logout_session_required {
        client.backchannel_logout_session_required = v;
    }
    if let Some(v) = change.lifetimes {
        client.lifetimes = v;
    }
    client.updated_at = now;
    client.validate()?;
    store
        .update_client(&client)
        .map_err(ChangeError::Repository)?;
    Ok(client)
}

/// Gives the client a new secret (the old one stops working); returns it, in clear
/// only here.
pub fn rotate_secret(
    store: &impl ClientRepository,
    hasher: &KeyedHasher,
    id: &ClientId,
    now: DateTime<Utc>,
) -> Result<(Client, String), ChangeError> {
    let mut client = existing(store, id)?;
    if !client.auth_method.uses_secret() {
        return Err(ChangeError::NoSecret);
    }
    let secret = random::token()?;
    client.secret_hash = Some(hasher.hash(&secret));
    client.updated_at = now;
    store
        .update_client(&client)
        .map_err(ChangeError::Repository)?;
    Ok((client, secret))
}

/// A client as operators and the admin API see it: everything but the secret's hash.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub client_name: String,
    /// Shown once, when the client is created or its secret rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub id_token_signed_response_alg: String,
    pub first_party: bool,
    /// Refresh tokens are issued without the `offline_access` scope.
    pub refresh_without_offline_access: bool,
    /// RFC 9126 §6: `/authorize` takes only pushed requests (`POST /par`) from it.
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: `/token` answers it only with a DPoP proof (bound tokens).
    pub dpop_bound_access_tokens: bool,
    /// Where logout tokens are POSTed (Back-Channel Logout 1.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub access_token_lifetime: u32,
    pub id_token_lifetime: u32,
    pub refresh_token_lifetime: u32,
    pub created_at: DateTime<Utc>,
}

impl ClientView {
    pub fn of(client: &Client, secret: Option<String>) -> Self {
        Self {
            client_id: client.id.to_string(),
            client_name: client.name.clone(),
            client_secret: secret,
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            grant_types: client
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            scopes: client.scopes.clone(),
            token_endpoint_auth_method: client.auth_method.as_str().to_owned(),
            id_token_signed_response_alg: client.id_token_alg.as_str().to_owned(),
            first_party: client.first_party,
            refresh_without_offline_access: client.refresh_without_offline_access,
            require_pushed_authorization_requests: client.require_pushed_authorization_requests,
            dpop_bound_access_tokens: client.dpop_bound_access_tokens,
            backchannel_logout_uri: client.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: client.backchannel_logout_session_required,
            access_token_lifetime: client.lifetimes.access_token,
            id_token_lifetime: client.lifetimes.id_token,
            refresh_token_lifetime: client.lifetimes.refresh_token,
            created_at: client.created_at,
        }
    }
}
