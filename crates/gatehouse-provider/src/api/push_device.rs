//! The push device API: what a phone calls. No bearer access token: registration is
//! authenticated by the single-use enrolment ticket from the QR code, everything
//! after by short-lived JWTs the phone signs with its own key (ES256):
//!
//! - header `kid` = the device id, `alg` = `ES256`;
//! - claims `iss` = `sub` = the device id, `aud` = this server's issuer, `iat`, `exp`
//!   (at most 2 minutes after `iat`, and never more than 2 minutes ahead), `jti`
//!   (single use: remembered until `exp`, a replay is refused);
//! - answering a challenge adds `action` (`approve` | `deny`), `challenge` (its id) and,
//!   to approve, `number` (the one the login screen shows), so the signature covers
//!   the answer itself.
//!
//! Sent as `Authorization: Bearer <jwt>`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use gatehouse_core::ports::{
    AccountRepository, AuditLog, ClientAssertionLedger, FactorRepository, PushRepository,
    RepositoryError,
};
use gatehouse_core::push::{MAX_REQUEST_LIFETIME, PushChallenge, PushDevice, PushStatus};
use gatehouse_core::{
    Account, AuditKind, Factor, FactorId, FactorKind, FactorStatus, NewAuditEvent,
};
use gatehouse_store::Tx;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::account::{blocking, in_tx, no_store};
use super::account_factors::{Actor, Change, Via, record_change};
use super::origin::Origin;
use crate::factors::guard;
use crate::factors::push::ticket_hash;
use crate::problem::{Failure, Problem, ProblemCode};
use crate::state::AppState;

const MAX_NAME_CHARS: usize = 64;
const MAX_PUSH_TOKEN_CHARS: usize = 4096;
/// Clock skew tolerated on `iat` and `exp`.
const LEEWAY_SECONDS: i64 = 30;

/// A phone registering with its enrolment ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    /// The `ticket` parameter of the `gatehouse-push://enroll` URI.
    pub ticket: String,
    /// The device's public key: a P-256 JWK `{"kty":"EC","crv":"P-256","x":…,"y":…}`.
    #[schema(value_type = P256Jwk)]
    pub public_key: Value,
    /// What the push gateway needs to reach the phone (APNs/FCM token), if anything:
    /// at most 4096 characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 4096, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub push_token: Option<String>,
    /// The name shown in the account's list of methods, e.g. `Pixel 8`: at most 64
    /// characters, no control characters.
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub name: Option<String>,
}

/// The `kty` of a device key.
#[derive(Debug, ToSchema)]
pub enum KeyTypeName {
    #[schema(rename = "EC")]
    Ec,
}

/// The `crv` of a device key.
#[derive(Debug, ToSchema)]
pub enum CurveName {
    #[schema(rename = "P-256")]
    P256,
}

/// A P-256 public key as a JWK (RFC 7518 §6.2.1): the point's coordinates, 32 bytes
/// each, base64url without padding.
#[derive(Debug, ToSchema)]
pub struct P256Jwk {
    pub kty: KeyTypeName,
    pub crv: CurveName,
    #[schema(pattern = r"^[A-Za-z0-9_-]{43}$")]
    pub x: String,
    #[schema(pattern = r"^[A-Za-z0-9_-]{43}$")]
    pub y: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceRegistered {
    /// The device id: `kid`, `iss` and `sub` of every request the phone signs.
    pub device_id: String,
    /// The audience of those requests.
    pub audience: String,
    pub name: Option<String>,
}

/// A login waiting for this phone's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingChallenge {
    /// Sign it into the answer's `challenge` claim.
    pub id: String,
    /// Three two-digit numbers: the login screen shows one of them.
    pub candidates: Vec<u8>,
    /// The client the user is signing in to.
    pub client_id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingChallenges {
    pub challenges: Vec<PendingChallenge>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeAnswered {
    /// `approved` or `denied`.
    pub status: String,
}

fn ticket_invalid() -> Problem {
    Problem::new(
        ProblemCode::PushTicketInvalid,
        "This enrolment code is unknown, used or expired; start again",
    )
}

fn invalid_key(why: &str) -> Problem {
    Problem::new(
        ProblemCode::InvalidPublicKey,
        "The public key must be a P-256 JWK",
    )
    .with_detail(why.to_owned())
}

/// The public key as stored: exactly `kty`, `crv`, `x`, `y`, checked to be a point
/// on P-256 (no private part accepted).
fn public_jwk(value: &Value) -> Result<String, Problem> {
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    if field("kty") != Some("EC") || field("crv") != Some("P-256") {
        return Err(invalid_key("kty must be EC and crv P-256"));
    }
    if value.get("d").is_some() {
        return Err(invalid_key("send the public key only"));
    }
    let (Some(x), Some(y)) = (field("x"), field("y")) else {
        return Err(invalid_key("x and y are required"));
    };
    let coordinate = |c: &str| URL_SAFE_NO_PAD.decode(c).ok().filter(|b| b.len() == 32);
    let (Some(xb), Some(yb)) = (coordinate(x), coordinate(y)) else {
        return Err(invalid_key("x and y must be 32 bytes, base64url"));
    };
    let mut point = Vec::with_capacity(65);
    point.push(4u8);
    point.extend_from_slice(&xb);
    point.extend_from_slice(&yb);
    // Parsing checks that the point is on the curve.
    aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        &point,
    )
    .map_err(|_| invalid_key("not a point on P-256"))?;
    Ok(serde_json::json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y }).to_string())
}

fn clean_text(
    text: Option<String>,
    max: usize,
    code: ProblemCode,
) -> Result<Option<String>, Problem> {
    match text.map(|t| t.trim().to_owned()) {
        None => Ok(None),
        Some(t) if t.is_empty() => Ok(None),
        Some(t) if t.chars().count() > max || t.chars().any(char::is_control) => {
            Err(Problem::new(code, "Too long, or holds control characters"))
        }
        Some(t) => Ok(Some(t)),
    }
}

/// Registers a phone for the push factor its ticket belongs to; the factor is active
/// from now on. The ticket works once, within `push.ticket_ttl_seconds`.
#[utoipa::path(
    tag = "push device",
    request_body = RegisterDevice,
    responses(
        (status = 201, body = DeviceRegistered),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`factor_disabled`, `factor_retired`: push is switched off here", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`push_ticket_invalid`: unknown, used or expired ticket", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_public_key`, `invalid_name`, `invalid_push_token`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/push/devices")]
pub async fn register(
    req: HttpRequest,
    body: web::Json<RegisterDevice>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let RegisterDevice {
        ticket,
        public_key,
        push_token,
        name,
    } = body.into_inner();
    state
        .config
        .factors
        .check_enrollable(FactorKind::Push)
        .map_err(|e| {
            Problem::new(
                ProblemCode::from(&e),
                "Push approval cannot be added on this server",
            )
        })?;
    let jwk = public_jwk(&public_key)?;
    let name = clean_text(name, MAX_NAME_CHARS, ProblemCode::InvalidName)?;
    let push_token = clean_text(
        push_token,
        MAX_PUSH_TOKEN_CHARS,
        ProblemCode::InvalidPushToken,
    )?;
    let origin = Origin::of(&req, &state);
    let registered = blocking(&state, move |state| {
        let now = state.clock.now();
        let hash = ticket_hash(&state.secrets, ticket.trim());
        in_tx(state, |tx| {
            let Some((mut device, mut factor, account)) = ticketed(tx, &hash, now)? else {
                return Ok(Err(ticket_invalid()));
            };
            device.public_jwk = Some(jwk.clone());
            device.push_token.clone_from(&push_token);
            device.name.clone_from(&name);
            device.registered_at = Some(now);
            tx.update_push_device(&device)?;
            factor.status = FactorStatus::Active;
            factor.label.clone_from(&name);
            tx.update_factor(&factor)?;
            let actor = Actor {
                account: &account,
                via: Via::PushDevice,
                ip: origin.ip.as_deref(),
                user_agent: origin.user_agent.as_deref(),
            };
            let mut enrolled =
                NewAuditEvent::new(AuditKind::PushDeviceEnrolled, Some(account.id), now)
                    .with_detail("factor_id", factor.id.to_string())
                    .with_detail("kind", factor.kind.as_str());
            enrolled.ip.clone_from(&origin.ip);
            enrolled.user_agent.clone_from(&origin.user_agent);
            tx.record(&enrolled)?;
            record_change(tx, state, actor, &factor, Change::Added, now)?;
            Ok(Ok(DeviceRegistered {
                device_id: device.factor_id.to_string(),
                audience: state.config.server.issuer.clone(),
                name: name.clone(),
            }))
        })
    })
    .await?;
    state.outbox.wake();
    Ok(HttpResponse::Created()
        .insert_header(no_store())
        .json(registered))
}

/// The pending device a live, unused ticket names, with its factor and account.
fn ticketed(
    tx: &Tx<'_>,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(PushDevice, Factor, Account)>, RepositoryError> {
    let Some(device) = tx.push_device_by_ticket(hash)? else {
        return Ok(None);
    };
    if device.registered_at.is_some() || now >= device.ticket_expires_at {
        return Ok(None);
    }
    let factor = tx
        .factor_by_id(device.factor_id)?
        .filter(|f| f.status == FactorStatus::Pending && f.kind == FactorKind::Push);
    let account = tx.account_by_id(device.account_id)?;
    Ok(factor
        .zip(account)
        .map(|(factor, account)| (device, factor, account)))
}

/// The claims of a device-signed request.
#[derive(Debug, Deserialize)]
struct DeviceClaims {
    iat: i64,
    exp: i64,
    jti: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    challenge: Option<String>,
    #[serde(default)]
    number: Option<u8>,
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(
        ProblemCode::InvalidDeviceToken,
        "A valid request signed by the device is required",
    )
    .with_detail(detail.to_owned())
}

/// Checks a device-signed request: signature, audience, lifetime, single use. The
/// `jti` is recorded in `tx`, so a replay fails even across instances.
fn authenticate(
    state: &AppState,
    tx: &Tx<'_>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<(PushDevice, DeviceClaims), Problem>, RepositoryError> {
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return Ok(Err(unauthorized("not a JWT")));
    };
    if header.alg != Algorithm::ES256 {
        return Ok(Err(unauthorized("alg must be ES256")));
    }
    let Some(device_id) = header
        .kid
        .as_deref()
        .and_then(|k| uuid::Uuid::parse_str(k).ok())
        .map(FactorId)
    else {
        return Ok(Err(unauthorized("kid must be the device id")));
    };
    let Some(device) = tx.push_device(device_id)? else {
        return Ok(Err(unauthorized("unknown device")));
    };
    let Some(jwk) = device.public_jwk.as_deref() else {
        return Ok(Err(unauthorized("unknown device")));
    };
    let key = serde_json::from_str::<jsonwebtoken::jwk::Jwk>(jwk)
        .ok()
        .and_then(|jwk| DecodingKey::from_jwk(&jwk).ok());
    let Some(key) = key else {
        return Err(RepositoryError::Corrupt("push device key".to_owned()));
    };
    let id = device_id.to_string();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[state.config.server.issuer.as_str()]);
    validation.set_issuer(&[id.as_str()]);
    validation.sub = Some(id.clone());
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.leeway = LEEWAY_SECONDS as u64;
    let claims = match jsonwebtoken::decode::<DeviceClaims>(token, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => return Ok(Err(unauthorized(&format!("rejected: {:?}", e.kind())))),
    };
    let lifetime = TimeDelta::seconds(claims.exp.saturating_sub(claims.iat));
    let leeway = TimeDelta::seconds(LEEWAY_SECONDS);
    let Some(expires_at) = DateTime::from_timestamp(claims.exp, 0) else {
        return Ok(Err(unauthorized("exp out of range")));
    };
    let issued_at = DateTime::from_timestamp(claims.iat, 0).unwrap_or(DateTime::UNIX_EPOCH);
    if lifetime <= TimeDelta::zero()
        || lifetime > MAX_REQUEST_LIFETIME
        || expires_at > now + MAX_REQUEST_LIFETIME + leeway
        || expires_at + leeway <= now
        || issued_at > now + leeway
    {
        return Ok(Err(unauthorized(
            "exp must follow iat by at most 120 seconds",
        )));
    }
    if claims.jti.is_empty() || claims.jti.len() > 128 {
        return Ok(Err(unauthorized("jti must be 1 to 128 characters")));
    }
    if !tx.use_client_assertion(&format!("push:{id}:{}", claims.jti), expires_at + leeway)? {
        return Ok(Err(Problem::new(
            ProblemCode::DeviceTokenReplayed,
            "This signed request was already used",
        )));
    }
    Ok(Ok((device, claims)))
}

fn bearer_of(req: &HttpRequest) -> Result<String, Problem> {
    crate::oidc::access::bearer(req).ok_or_else(|| unauthorized("Authorization: Bearer <jwt>"))
}

/// The challenges waiting for this phone, oldest first.
#[utoipa::path(
    tag = "push device",
    security(("device_jwt" = [])),
    responses(
        (status = 200, body = PendingChallenges),
        (status = 401, description = "`invalid_device_token`, `device_token_replayed`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/push/challenges")]
pub async fn pending(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let token = bearer_of(&req)?;
    let list = blocking(&state, move |state| {
        let now = state.clock.now();
        in_tx(state, |tx| {
            let (device, _) = match authenticate(state, tx, &token, now)? {
                Ok(found) => found,
                Err(problem) => return Ok(Err(problem)),
            };
            let challenges = tx
                .pending_push_challenges(device.factor_id, now)?
                .into_iter()
                .map(|c| PendingChallenge {
                    id: c.id,
                    candidates: c.candidates,
                    client_id: c.client_id,
                    created_at: c.created_at,
                    expires_at: c.expires_at,
                })
                .collect();
            Ok(Ok(PendingChallenges { challenges }))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(list))
}

/// Approves (with the number the login screen shows) or denies one challenge. The
/// request is a device-signed JWT whose `action`, `challenge` and `number` claims are
/// the answer. A wrong number fails the challenge and counts against the factor's
/// throttle (five per 15 minutes) and the account's (eight per 15 minutes).
#[utoipa::path(
    tag = "push device",
    security(("device_jwt" = [])),
    params(("challenge" = String, Path, description = "A challenge id from the pending list")),
    responses(
        (status = 200, body = ChallengeAnswered),
        (status = 400, description = "`invalid_answer`: `action` must be approve or deny, `challenge` the id in the path, and `number` set to approve", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_device_token`, `device_token_replayed`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`push_challenge_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`push_challenge_answered`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`push_challenge_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`push_number_mismatch` (with `attempts_left`): the login fails", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many wrong numbers for this factor or account; `Retry-After` and `retry_after` say when to try again", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/push/challenges/{challenge}")]
pub async fn answer(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let token = bearer_of(&req)?;
    let challenge_id = path.into_inner();
    let origin = Origin::of(&req, &state);
    let answered = blocking(&state, move |state| {
        let now = state.clock.now();
        in_tx(state, |tx| {
            let (device, claims) = match authenticate(state, tx, &token, now)? {
                Ok(found) => found,
                Err(problem) => return Ok(Err(problem)),
            };
            let action = match Action::of(&claims, &challenge_id) {
                Ok(action) => action,
                Err(problem) => return Ok(Err(problem)),
            };
            let challenge = match pending_challenge(tx, &challenge_id, device.factor_id, now)? {
                Ok(challenge) => challenge,
                Err(problem) => return Ok(Err(problem)),
            };
            let answered = Answered {
                challenge: &challenge,
                origin: &origin,
                now,
            };
            match action {
                Action::Deny => answered.deny(tx),
                Action::Approve(number) => answered.approve(tx, number),
            }
        })
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header(no_store()).json(answered))
}

/// What the device's signed request says to do.
enum Action {
    Deny,
    /// With the number the user picked.
    Approve(u8),
}

impl Action {
    fn of(claims: &DeviceClaims, challenge_id: &str) -> Result<Self, Problem> {
        let bad_answer = |detail: &str| {
            Problem::new(
                ProblemCode::InvalidAnswer,
                "The signed answer does not fit this challenge",
            )
            .with_detail(detail.to_owned())
        };
        if claims.challenge.as_deref() != Some(challenge_id) {
            return Err(bad_answer("the challenge claim must be the id in the path"));
        }
        match (claims.action.as_deref(), claims.number) {
            (Some("deny"), _) => Ok(Self::Deny),
            (Some("approve"), Some(number)) => Ok(Self::Approve(number)),
            (Some("approve"), None) => Err(bad_answer("number is required to approve")),
            _ => Err(bad_answer("action must be approve or deny")),
        }
    }
}

/// The device's challenge `id`, if it still waits for an answer at `now`.
fn pending_challenge(
    tx: &Tx<'_>,
    id: &str,
    factor: FactorId,
    now: DateTime<Utc>,
) -> Result<Result<PushChallenge, Problem>, RepositoryError> {
    let Some(challenge) = tx.push_challenge(id)?.filter(|c| c.factor_id == factor) else {
        return Ok(Err(Problem::new(
            ProblemCode::PushChallengeNotFound,
            "No such challenge for this device",
        )));
    };
    if challenge.status != PushStatus::Pending {
        return Ok(Err(already_answered()));
    }
    if challenge.is_expired(now) {
        return Ok(Err(Problem::new(
            ProblemCode::PushChallengeExpired,
            "This challenge has expired",
        )));
    }
    Ok(Ok(challenge))
}

fn already_answered() -> Problem {
    Problem::new(
        ProblemCode::PushChallengeAnswered,
        "This challenge was already answered or replaced",
    )
}

/// A pending challenge being answered.
struct Answered<'a> {
    challenge: &'a PushChallenge,
    origin: &'a Origin,
    now: DateTime<Utc>,
}

type AnswerResult = Result<Result<ChallengeAnswered, Problem>, Failure>;

impl Answered<'_> {
    /// Settles the challenge `to`, unless another answer settled it first.
    fn settle(&self, tx: &Tx<'_>, to: PushStatus) -> Result<bool, RepositoryError> {
        let challenge = self.challenge;
        tx.settle_push_challenge(&challenge.id, PushStatus::Pending, to, self.now)
    }

    fn audit(&self, tx: &Tx<'_>, kind: AuditKind) -> Result<(), RepositoryError> {
        let challenge = self.challenge;
        let mut event = NewAuditEvent::new(kind, Some(challenge.account_id), self.now)
            .with_detail("factor_id", challenge.factor_id.to_string())
            .with_detail("client_id", challenge.client_id.clone())
            .with_detail("challenge_id", challenge.id.clone());
        event.ip.clone_from(&self.origin.ip);
        event.user_agent.clone_from(&self.origin.user_agent);
        tx.record(&event).map(|_| ())
    }

    fn deny(&self, tx: &Tx<'_>) -> AnswerResult {
        if !self.settle(tx, PushStatus::Denied)? {
            return Ok(Err(already_answered()));
        }
        self.audit(tx, AuditKind::PushDenied)?;
        Ok(Ok(ChallengeAnswered {
            status: "denied".to_owned(),
        }))
    }

    /// The right number approves; a wrong one fails the challenge (and the login),
    /// counted before checking, per factor and per account.
    fn approve(&self, tx: &Tx<'_>, number: u8) -> AnswerResult {
        let challenge = self.challenge;
        let (factor, account) = (challenge.factor_id, challenge.account_id);
        let left = match guard::take_attempt(tx, factor, account, self.now)? {
            Ok(left) => left,
            Err(throttled) => return Ok(Err(throttled)),
        };
        if number != challenge.number {
            guard::count_wrong(tx, account, self.now)?;
            self.settle(tx, PushStatus::Failed)?;
            let mut event = NewAuditEvent::new(AuditKind::LoginFailed, Some(account), self.now)
                .with_detail("reason", "push_number_mismatch")
                .with_detail("client_id", challenge.client_id.clone());
            event.ip.clone_from(&self.origin.ip);
            tx.record(&event)?;
            return Ok(Err(Problem::new(
                ProblemCode::PushNumberMismatch,
                "That is not the number the sign-in screen shows; the sign-in failed",
            )
            .with_extension("attempts_left", left.into())));
        }
        if !self.settle(tx, PushStatus::Approved)? {
            return Ok(Err(already_answered()));
        }
        guard::clear(tx, factor, account)?;
        self.audit(tx, AuditKind::PushApproved)?;
        Ok(Ok(ChallengeAnswered {
            status: "approved".to_owned(),
        }))
    }
}
