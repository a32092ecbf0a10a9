//! `GET|POST /userinfo` (OIDC Core §5.3): claims about the user, for a bearer token.

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use gatehouse_core::Subject;
use gatehouse_core::ports::AccountRepository;
use serde::Serialize;
use utoipa::ToSchema;

use super::access;
use super::dpop::Refusal;
use super::error::{OAuthError, OAuthErrorCode, blocking};
use super::presented::{self, Refused, dpop_challenge};
use crate::state::AppState;

/// The claims about the user a token's scopes grant (OIDC Core §5.1, §5.3.2): `sub`
/// always, each other claim with its scope and only when the account has it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    /// The subject: the same `sub` as in the user's ID tokens.
    pub sub: String,
    /// With the `email` scope, when the account has an address.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = Email)]
    pub email: Option<String>,
    /// With `email`: whether the address was proven to belong to the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub email_verified: Option<bool>,
    /// With `profile`: the given and family names together.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// With `profile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub given_name: Option<String>,
    /// With `profile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub family_name: Option<String>,
    /// With `profile`, only while the account still has a legacy username.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub preferred_username: Option<String>,
    /// With `profile`: a BCP 47 language tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub locale: Option<String>,
    /// With `profile`: an IANA time zone name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub zoneinfo: Option<String>,
    /// With `profile`: when the account was last updated, in seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub updated_at: Option<i64>,
}

impl UserInfo {
    /// What `account` discloses to a token with `claims`' scopes: every claim of each
    /// granted scope the account has (OIDC Core §5.4).
    fn of(account: &gatehouse_core::Account, claims: &access::AccessClaims) -> Self {
        let scopes: Vec<String> = claims.scope.split(' ').map(str::to_owned).collect();
        let released = gatehouse_core::claims::released(account, &scopes, None);
        let text = |name: &str| {
            released
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Self {
            sub: account.subject.to_string(),
            email: text("email"),
            email_verified: released.get("email_verified").and_then(|v| v.as_bool()),
            name: text("name"),
            given_name: text("given_name"),
            family_name: text("family_name"),
            preferred_username: text("preferred_username"),
            locale: text("locale"),
            zoneinfo: text("zoneinfo"),
            updated_at: released.get("updated_at").and_then(|v| v.as_i64()),
        }
    }
}

/// RFC 6750 §3.1: the token is not (or no longer) good; the challenge names why.
fn invalid_token() -> OAuthError {
    OAuthError::bare(OAuthErrorCode::InvalidToken).with_challenge("Bearer error=\"invalid_token\"")
}

/// A refused token as RFC 6750 §3.1 and RFC 9449 §7.1 answer it.
fn refused(refusal: Refused) -> OAuthError {
    let dpop_error = |code: OAuthErrorCode, description: &str| {
        OAuthError::new(code, description)
            .unauthenticated()
            .with_challenge(dpop_challenge(code.as_str()))
    };
    match refusal {
        // RFC 6750 §3.1: no credentials at all is 401 with a bare challenge.
        Refused::Missing => {
            OAuthError::new(OAuthErrorCode::InvalidRequest, "a bearer token is required")
                .unauthenticated()
                .with_challenge("Bearer")
        }
        Refused::InvalidToken => invalid_token(),
        Refused::BoundAsBearer => dpop_error(
            OAuthErrorCode::InvalidToken,
            "the token is DPoP-bound: send it as DPoP with a proof",
        ),
        Refused::InvalidDpopToken => dpop_error(
            OAuthErrorCode::InvalidToken,
            "the token is invalid, expired, revoked or not DPoP-bound",
        ),
        Refused::Proof(Refusal::Invalid(why)) => dpop_error(OAuthErrorCode::InvalidDpopProof, why),
        Refused::Proof(Refusal::UseNonce(nonce)) => dpop_error(
            OAuthErrorCode::UseDpopNonce,
            "send the DPoP-Nonce in the proof",
        )
        .with_dpop_nonce(nonce),
        // The database did not answer: the token may well be live, so never 401.
        Refused::Unknown => OAuthError::temporarily_unavailable(),
    }
}

async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let claims = presented::verify(&state, &req).await.map_err(refused)?;
    if !claims.has_scope("openid") {
        return Err(OAuthError::bare(OAuthErrorCode::InsufficientScope)
            .with_challenge("Bearer error=\"insufficient_scope\", scope=\"openid\""));
    }
    // A signed token whose `sub` is no subject of ours names nobody: nothing to log.
    let subject = Subject::parse(&claims.sub).map_err(|_| invalid_token())?;
    let store = state.store.clone();
    let account = blocking(move || store.account_by_subject(&subject))
        .await?
        .filter(|account| account.status.can_log_in())
        .ok_or_else(invalid_token)?;
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(UserInfo::of(&account, &claims)))
}

/// The UserInfo endpoint: `sub`; `email` / `email_verified` with the `email` scope;
/// `name`, `given_name`, `family_name`, `locale`, `zoneinfo`, `updated_at` (and
/// `preferred_username` while a legacy username is kept) with `profile`.
#[utoipa::path(
    tag = "oidc",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "UserInfo claims", body = UserInfo),
        (status = 401, description = "`invalid_request`: no bearer token; `invalid_token`: invalid, expired or revoked (`WWW-Authenticate: Bearer`), or DPoP-bound and sent as `Bearer`; `invalid_dpop_proof`, `use_dpop_nonce` (with `DPoP-Nonce`) for `Authorization: DPoP` (RFC 9449)", body = OAuthError),
        (status = 403, description = "`insufficient_scope`: the token lacks `openid`", body = OAuthError),
    )
)]
#[get("/userinfo")]
pub async fn userinfo_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    userinfo(req, state).await
}

/// The same as `GET /userinfo`.
#[utoipa::path(
    tag = "oidc",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "UserInfo claims", body = UserInfo),
        (status = 401, description = "As for GET", body = OAuthError),
        (status = 403, description = "As for GET", body = OAuthError),
    )
)]
#[post("/userinfo")]
pub async fn userinfo_post(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    userinfo(req, state).await
}
