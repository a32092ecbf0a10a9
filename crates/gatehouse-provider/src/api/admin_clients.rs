//! `/api/v1/admin/clients…`: registering and maintaining OIDC clients over the admin
//! API, with the same rules as `gatehouse clients add` (shared in
//! [`crate::clients`]). A secret is shown once: when the client is created or its
//! secret rotated. Every change is an audit event naming the admin client.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use gatehouse_core::client::TokenLifetimes;
use gatehouse_core::ports::{AuditLog, ClientRepository, RepositoryError};
use gatehouse_core::{AuditKind, ClientId, GrantType, SigningAlg, TokenEndpointAuthMethod};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::account::{blocking, body_as, no_store};
use super::admin::audit_admin;
use super::bearer::AdminCaller;
use crate::clients::{
    ChangeError, ClientChange, ClientRequest, ClientView, RegistrationError, register,
    rotate_secret, update,
};
use crate::problem::{Problem, ProblemCode};
use crate::state::AppState;

/// `token_endpoint_auth_method` values, as the document lists them.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AuthMethodName {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

/// A client's public keys (RFC 7517 §5 JSON Web Key Set), kept as given: its client
/// assertions are verified with them.
#[derive(Debug, ToSchema)]
pub struct ClientJwkSet {
    pub keys: Vec<ClientJwk>,
}

/// One public key of a client (RFC 7517 §4), free-form by nature: besides `kty`, its
/// members depend on the key type (RFC 7518 §6: `n` and `e`, `crv`, `x` and `y`, …)
/// and may include any other JWK parameter (`kid`, `use`, `alg`, `x5c`, …).
#[derive(Debug, ToSchema)]
pub struct ClientJwk {
    /// The key type: `RSA`, `EC`, `OKP`, …
    pub kty: String,
    #[serde(flatten)]
    pub members: std::collections::BTreeMap<String, Value>,
}

/// A new client. Left out: a generated id, `authorization_code` + `refresh_token`,
/// `openid email profile offline_access`, `client_secret_basic`, RS256.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// 1 to 128 of `A-Z a-z 0-9 - . _ ~`.
    #[schema(pattern = r"^[A-Za-z0-9._~-]{1,128}$")]
    pub client_id: Option<String>,
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub client_name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Vec<crate::oidc::forms::GrantTypeName>, min_items = 1)]
    pub grant_types: Vec<GrantType>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[schema(value_type = Option<AuthMethodName>)]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// The client's public keys, for `private_key_jwt`.
    #[schema(value_type = Option<ClientJwkSet>)]
    pub jwks: Option<Value>,
    #[schema(value_type = Option<crate::jwks::SigningAlgName>)]
    pub id_token_signed_response_alg: Option<SigningAlg>,
    #[serde(default)]
    pub first_party: bool,
    /// Issue refresh tokens without the `offline_access` scope. Default: the value of
    /// `first_party` (third-party clients need `offline_access` asked for and granted).
    pub refresh_without_offline_access: Option<bool>,
    /// RFC 9126 §6: `/authorize` takes only pushed requests (`POST /par`) from it.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// RFC 9449 §5.2: `/token` answers it only with a DPoP proof.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// Where logout tokens are POSTed (Back-Channel Logout 1.0): https, or http on
    /// loopback; no fragment.
    pub backchannel_logout_uri: Option<String>,
    /// Logout tokens must carry `sid` (they always do). Default `false`.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// Seconds (an unsigned 32-bit number).
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u32)]
    pub access_token_lifetime: Option<u32>,
    /// Seconds (an unsigned 32-bit number).
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u32)]
    pub id_token_lifetime: Option<u32>,
    /// Seconds (an unsigned 32-bit number).
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u32)]
    pub refresh_token_lifetime: Option<u32>,
}

/// What to change; members left out keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub client_name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[schema(value_type = Option<Vec<crate::oidc::forms::GrantTypeName>>, min_items = 1)]
    pub grant_types: Option<Vec<GrantType>>,
    pub scopes: Option<Vec<String>>,
    #[schema(value_type = Option<crate::jwks::SigningAlgName>)]
    pub id_token_signed_response_alg: Option<SigningAlg>,
    pub first_party: Option<bool>,
    /// Issue refresh tokens without the `offline_access` scope.
    pub refresh_without_offline_access: Option<bool>,
    /// RFC 9126 §6: `/authorize` takes only pushed requests from it.
    pub require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 §5.2: `/token` answers it only with a DPoP proof.
    pub dpop_bound_access_tokens: Option<bool>,
    /// Where logout tokens are POSTed; `""` removes it (no more notices).
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: Option<bool>,
    /// Seconds (an unsigned 32-bit number).
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u32)]
    pub access_token_lifetime: Option<u32>,
    /// Seconds (an unsigned 32-bit number).
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u32)]
    pub id_token_lifetime: Option<u32>,
    /// Seconds (an unsigned 32-bit number).
    #[schema(format = Int64, minimum = 0, maximum = 4_294_967_295_u32)]
    pub refresh_token_lifetime: Option<u32>,
}

fn invalid(detail: impl ToString) -> Problem {
    Problem::new(ProblemCode::ClientInvalid, "The client is not valid")
        .with_detail(detail.to_string())
}

fn client_id(raw: &str) -> Result<ClientId, Problem> {
    ClientId::parse(raw).map_err(|_| Problem::not_found())
}

fn change_error(e: ChangeError) -> Problem {
    match e {
        ChangeError::Invalid(e) => invalid(e),
        ChangeError::NotFound(_) => Problem::not_found(),
        ChangeError::NoSecret => Problem::new(
            ProblemCode::ClientHasNoSecret,
            "This client authenticates without a secret",
        ),
        ChangeError::Repository(e) => e.into(),
        ChangeError::Crypto(_) => Problem::internal(),
    }
}

fn record(
    state: &AppState,
    admin: &AdminCaller,
    kind: AuditKind,
    client: &str,
) -> Result<(), Problem> {
    let mut event = audit_admin(state, kind, None, admin.client_id())
        .with_detail("client_id", client.to_owned());
    event.ip.clone_from(&admin.ip);
    event.user_agent.clone_from(&admin.user_agent);
    state
        .store
        .record(&event)
        .map(|_| ())
        .map_err(Problem::from)
}

/// Every registered client (without secrets).
#[utoipa::path(
    operation_id = "list_clients",
    tag = "admin",
    responses(
        (status = 200, body = Vec<ClientView>),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/admin/clients")]
pub async fn list(
    _admin: AdminCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let views = blocking(&state, |state| {
        let clients = state.store.list_clients().map_err(Problem::from)?;
        Ok(clients
            .iter()
            .map(|c| ClientView::of(c, None))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(views))
}

/// One client (without its secret).
#[utoipa::path(
    operation_id = "show_client",
    tag = "admin",
    params(("client_id" = String, Path)),
    responses(
        (status = 200, body = ClientView),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/admin/clients/{client_id}")]
pub async fn show(
    _admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = client_id(&path.into_inner())?;
    let view = blocking(&state, move |state| {
        let client = state
            .store
            .client_by_id(&id)
            .map_err(Problem::from)?
            .ok_or_else(Problem::not_found)?;
        Ok(ClientView::of(&client, None))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Registers a client; the answer holds its secret, shown this once.
#[utoipa::path(
    tag = "admin",
    request_body = NewClient,
    responses(
        (status = 201, body = ClientView),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`client_exists`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`client_invalid`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/admin/clients")]
pub async fn create(
    admin: AdminCaller,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let new: NewClient = body_as(body.into_inner())?;
    let defaults = TokenLifetimes::default();
    let request = ClientRequest {
        id: new.client_id,
        name: new.client_name,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        grant_types: new.grant_types,
        scopes: new.scopes,
        auth_method: new.token_endpoint_auth_method,
        jwks: new.jwks.map(|v| v.to_string()),
        id_token_alg: new.id_token_signed_response_alg,
        first_party: new.first_party,
        refresh_without_offline_access: new.refresh_without_offline_access,
        require_pushed_authorization_requests: new.require_pushed_authorization_requests,
        dpop_bound_access_tokens: new.dpop_bound_access_tokens,
        backchannel_logout_uri: new.backchannel_logout_uri,
        backchannel_logout_session_required: new.backchannel_logout_session_required,
        lifetimes: Some(TokenLifetimes {
            access_token: new.access_token_lifetime.unwrap_or(defaults.access_token),
            id_token: new.id_token_lifetime.unwrap_or(defaults.id_token),
            refresh_token: new.refresh_token_lifetime.unwrap_or(defaults.refresh_token),
        }),
    };
    let view = blocking(&state, move |state| {
        let now = state.clock.now();
        let (client, secret) = register(&state.store, &state.secrets.hasher, request, now)
            .map_err(|e| match e {
                RegistrationError::Taken(id) => {
                    Problem::new(ProblemCode::ClientExists, "A client with this id exists")
                        .with_detail(id)
                }
                RegistrationError::Invalid(e) => invalid(e),
                RegistrationError::Jwks(e) => invalid(e),
                RegistrationError::Repository(e) => e.into(),
                RegistrationError::Crypto(_) => Problem::internal(),
            })?;
        record(state, &admin, AuditKind::ClientCreated, client.id.as_str())?;
        Ok(ClientView::of(&client, secret))
    })
    .await?;
    Ok(HttpResponse::Created().insert_header(no_store()).json(view))
}

/// Changes a client; the result is validated as a new client would be.
#[utoipa::path(
    tag = "admin",
    params(("client_id" = String, Path)),
    request_body = ClientPatch,
    responses(
        (status = 200, body = ClientView),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`client_invalid`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/admin/clients/{client_id}")]
pub async fn change(
    admin: AdminCaller,
    path: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = client_id(&path.into_inner())?;
    let patch: ClientPatch = body_as(body.into_inner())?;
    let view = blocking(&state, move |state| {
        let now = state.clock.now();
        let current = state
            .store
            .client_by_id(&id)
            .map_err(Problem::from)?
            .ok_or_else(Problem::not_found)?;
        let lifetimes = (patch.access_token_lifetime.is_some()
            || patch.id_token_lifetime.is_some()
            || patch.refresh_token_lifetime.is_some())
        .then(|| TokenLifetimes {
            access_token: patch
                .access_token_lifetime
                .unwrap_or(current.lifetimes.access_token),
            id_token: patch
                .id_token_lifetime
                .unwrap_or(current.lifetimes.id_token),
            refresh_token: patch
                .refresh_token_lifetime
                .unwrap_or(current.lifetimes.refresh_token),
        });
        let change = ClientChange {
            name: patch.client_name,
            redirect_uris: patch.redirect_uris,
            post_logout_redirect_uris: patch.post_logout_redirect_uris,
            grant_types: patch.grant_types,
            scopes: patch.scopes,
            id_token_alg: patch.id_token_signed_response_alg,
            first_party: patch.first_party,
            refresh_without_offline_access: patch.refresh_without_offline_access,
            require_pushed_authorization_requests: patch.require_pushed_authorization_requests,
            dpop_bound_access_tokens: patch.dpop_bound_access_tokens,
            backchannel_logout_uri: patch
                .backchannel_logout_uri
                .map(|uri| Some(uri).filter(|u| !u.is_empty())),
            backchannel_logout_session_required: patch.backchannel_logout_session_required,
            lifetimes,
        };
        let client = update(&state.store, &id, change, now).map_err(change_error)?;
        state.clients.forget(id.as_str());
        record(state, &admin, AuditKind::ClientUpdated, id.as_str())?;
        Ok(ClientView::of(&client, None))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Gives the client a new secret; the old one stops working. The answer holds the
/// new secret, shown this once.
#[utoipa::path(
    tag = "admin",
    params(("client_id" = String, Path)),
    responses(
        (status = 200, body = ClientView),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`client_has_no_secret`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/admin/clients/{client_id}/secret")]
pub async fn rotate(
    admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = client_id(&path.into_inner())?;
    let view = blocking(&state, move |state| {
        let now = state.clock.now();
        let (client, secret) =
            rotate_secret(&state.store, &state.secrets.hasher, &id, now).map_err(change_error)?;
        state.clients.forget(id.as_str());
        record(state, &admin, AuditKind::ClientSecretRotated, id.as_str())?;
        Ok(ClientView::of(&client, Some(secret)))
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(view))
}

/// Deletes a client: its logins in progress, codes and refresh tokens go with it.
#[utoipa::path(
    operation_id = "remove_client",
    tag = "admin",
    params(("client_id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthorized`, `invalid_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`insufficient_scope`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/admin/clients/{client_id}")]
pub async fn remove(
    admin: AdminCaller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id = client_id(&path.into_inner())?;
    blocking(&state, move |state| {
        state.store.delete_client(&id).map_err(|e| match e {
            RepositoryError::NotFound => Problem::not_found(),
            other => other.into(),
        })?;
        state.clients.forget(id.as_str());
        record(state, &admin, AuditKind::ClientDeleted, id.as_str())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
