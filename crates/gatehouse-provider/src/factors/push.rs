//! Push approval (`push`), an open protocol in the spirit of Auth0 Guardian.
//!
//! Enrolment: `start` stores a pending factor and its device row holding a keyed hash
//! of a single-use ticket (`push.ticket_ttl_seconds`, 10 minutes), and answers the
//! ticket as `gatehouse-push://enroll?server=…&ticket=…` with its QR code. The phone
//! registers itself with the ticket, its ES256 public key, an optional push token and
//! a name (`POST /api/v1/push/devices`, see `api::push_device`); that activates the
//! factor, so there is no confirm step (confirming a pending push factor answers 409
//! `push_device_pending`: the UI polls the factor list until the status is `active`).
//!
//! Login: a challenge (`push.challenge_ttl_seconds`, 2 minutes) shows the user a
//! two-digit number; the phone sees three candidates and must approve with the right
//! one. The login UI polls `verify`: 202 while pending, done once approved (`amr`
//! `swk`: a proof of possession of the device's software key, plus `mfa`), 403
//! `push_denied`, 422 `push_number_mismatch`, 410 `push_expired`.

use super::bodies::{
    EnrolmentSetup, FactorChallenge, FactorConfirmation, FactorProof, LoginPending, PendingStep,
    PushPrompt, PushSetup,
};
use super::{EnrolFactor, Enrolment, FactorContext, FactorError, LoginFactor, Verdict, qr, stored};
use crate::crypto::random;
use crate::problem::{Problem, ProblemCode};
use chrono::TimeDelta;
use gatehouse_core::factor_guard::window_start;
use gatehouse_core::login::LoginRequest;
use gatehouse_core::ports::{FactorRepository, PushRepository, RateLimits, RepositoryError};
use gatehouse_core::push::{
    MAX_PUSHES, PushChallenge, PushDevice, PushNotice, PushStatus, numbers,
};
use gatehouse_core::{Account, Factor, FactorId, FactorKind, FactorStatus};
use gatehouse_store::Tx;

/// The URI scheme a phone app registers for enrolment QR codes.
pub const ENROL_URI_PREFIX: &str = "gatehouse-push://enroll";
/// How often the login UI should poll a pending challenge.
pub const POLL_INTERVAL_SECONDS: u64 = 2;

#[derive(Debug)]
pub struct Push;

fn unavailable(what: &str) -> FactorError {
    FactorError::Repository(RepositoryError::Unavailable(what.to_owned()))
}

/// The keyed hash a ticket is stored as.
pub fn ticket_hash(secrets: &crate::crypto::Secrets, ticket: &str) -> String {
    secrets.hasher.hash(&format!("push-ticket:{ticket}"))
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl LoginFactor for Push {
    fn kind(&self) -> FactorKind {
        FactorKind::Push
    }

    fn challenge(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
    ) -> Result<FactorChallenge, FactorError> {
        let factor = stored(factor)?;
        let device = tx
            .push_device(factor.id)?
            .filter(|d| d.public_jwk.is_some())
            .ok_or_else(|| {
                FactorError::refused(ProblemCode::FactorNotActive, "This phone is not set up yet")
            })?;
        let window = gatehouse_core::push::ACCOUNT_WINDOW;
        let start = window_start(ctx.now, window);
        let key = ctx
            .state
            .secrets
            .hasher
            .hash(&format!("push-sends:factor:{}", factor.id));
        if tx.hit(&key, start)? > MAX_PUSHES {
            let retry = (start + window - ctx.now).num_seconds().max(1);
            return Err(FactorError::Refused(Box::new(
                Problem::new(ProblemCode::PushSendLimit, "Too many pushes to this phone")
                    .with_detail("Wait before sending another, or try another method")
                    .with_extension("retry_after", retry.into()),
            )));
        }
        // A new challenge for this login replaces the one still waiting, if any.
        if let Some(previous) = tx.latest_push_challenge(&login.id, factor.id)?
            && previous.status == PushStatus::Pending
        {
            tx.settle_push_challenge(
                &previous.id,
                PushStatus::Pending,
                PushStatus::Failed,
                ctx.now,
            )?;
        }
        let seed = random::bytes::<8>()?;
        let (number, candidates) = numbers(seed);
        let ttl = TimeDelta::seconds(ctx.state.config.push.challenge_ttl_seconds.into());
        let challenge = PushChallenge {
            // A prefix keeps ids from starting with `-` (they go on command lines).
            id: format!("pc_{}", random::token()?),
            factor_id: factor.id,
            account_id: account.id,
            login_request_id: login.id.clone(),
            client_id: login.request.client_id.to_string(),
            number,
            candidates,
            status: PushStatus::Pending,
            created_at: ctx.now,
            expires_at: ctx.now + ttl,
            answered_at: None,
        };
        tx.insert_push_challenge(&challenge)?;
        // Delivery is queued and happens off this request; should the transaction
        // still roll back, the phone finds no pending challenge and shows nothing.
        ctx.state.push.notify(PushNotice {
            device_id: device.factor_id,
            push_token: device.push_token.clone(),
            challenge_id: challenge.id.clone(),
            client_id: challenge.client_id.clone(),
            expires_at: challenge.expires_at,
        });
        Ok(FactorChallenge::Push(PushPrompt {
            challenge_id: challenge.id,
            number,
            expires_in: ttl.num_seconds(),
            poll_interval: POLL_INTERVAL_SECONDS,
        }))
    }

    fn verify(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        _account: &Account,
        factor: Option<&Factor>,
        login: &LoginRequest,
        _proof: &FactorProof,
    ) -> Result<Verdict, FactorError> {
        let factor = stored(factor)?;
        let Some(challenge) = tx.latest_push_challenge(&login.id, factor.id)? else {
            return Ok(Verdict::Refused(Problem::new(
                ProblemCode::PushNotSent,
                "Send a push first (challenge this factor)",
            )));
        };
        let refused = |code, title: &str| Ok(Verdict::Refused(Problem::new(code, title)));
        match challenge.status {
            PushStatus::Pending if challenge.is_expired(ctx.now) => refused(
                ProblemCode::PushExpired,
                "The phone did not answer in time; send a new push",
            ),
            PushStatus::Pending => Ok(Verdict::Pending(LoginPending {
                next: PendingStep::Pending,
                status: PendingStep::Pending,
                challenge_id: challenge.id,
                expires_in: (challenge.expires_at - ctx.now).num_seconds().max(0),
                poll_interval: POLL_INTERVAL_SECONDS,
            })),
            PushStatus::Approved => {
                // One approval finishes one login.
                if tx.settle_push_challenge(
                    &challenge.id,
                    PushStatus::Approved,
                    PushStatus::Used,
                    ctx.now,
                )? {
                    Ok(Verdict::Accepted(vec!["swk"]))
                } else {
                    refused(ProblemCode::PushUsed, "This approval was already used")
                }
            }
            PushStatus::Denied => refused(
                ProblemCode::PushDenied,
                "The sign-in was denied on the phone",
            ),
            PushStatus::Failed => refused(
                ProblemCode::PushNumberMismatch,
                "The phone picked another number; send a new push",
            ),
            PushStatus::Used => refused(ProblemCode::PushUsed, "This approval was already used"),
        }
    }
}

impl EnrolFactor for Push {
    fn kind(&self) -> FactorKind {
        FactorKind::Push
    }

    fn start(
        &self,
        ctx: &FactorContext<'_>,
        tx: &Tx<'_>,
        account: &Account,
    ) -> Result<Enrolment, FactorError> {
        let ticket = random::token()?;
        let ttl = TimeDelta::seconds(ctx.state.config.push.ticket_ttl_seconds.into());
        let id = FactorId::new();
        let factor = Factor {
            id,
            account_id: account.id,
            kind: FactorKind::Push,
            status: FactorStatus::Pending,
            label: None,
            public_data: None,
            secret: None,
            created_at: ctx.now,
            last_used_at: None,
        };
        tx.insert_factor(&factor)?;
        tx.insert_push_device(&PushDevice {
            factor_id: id,
            account_id: account.id,
            ticket_hash: ticket_hash(&ctx.state.secrets, &ticket),
            ticket_expires_at: ctx.now + ttl,
            public_jwk: None,
            push_token: None,
            name: None,
            registered_at: None,
        })?;
        let server = &ctx.state.config.server.issuer;
        let account_name = account
            .email
            .as_ref()
            .map_or_else(|| account.subject.to_string(), |e| e.as_str().to_owned());
        let uri = format!(
            "{ENROL_URI_PREFIX}?server={}&ticket={}&issuer={}&account={}",
            encode(server),
            encode(&ticket),
            encode(&ctx.state.config.mail.product_name),
            encode(&account_name),
        );
        let png = qr::png_base64(&uri).ok_or_else(|| unavailable("qr code"))?;
        let svg = qr::svg(&uri).ok_or_else(|| unavailable("qr code"))?;
        Ok(Enrolment {
            factor,
            setup: EnrolmentSetup::Push(PushSetup {
                enrolment_uri: uri,
                qr_png_base64: png,
                qr_svg: svg,
                expires_in: ttl.num_seconds(),
            }),
            renewed: false,
        })
    }

    fn confirm(
        &self,
        _ctx: &FactorContext<'_>,
        _tx: &Tx<'_>,
        _account: &Account,
        _factor: &Factor,
        _proof: &FactorConfirmation,
    ) -> Result<Verdict, FactorError> {
        // The phone's registration activates the factor; a pending one has no phone yet.
        Ok(Verdict::Refused(
            Problem::new(
                ProblemCode::PushDevicePending,
                "The phone has not registered yet",
            )
            .with_detail("Scan the QR code with the app; the method is active once it registers"),
        ))
    }
}
