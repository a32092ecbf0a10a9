//! Every `code` a problem answer can carry, each with its HTTP status, in one place:
//! `Problem::new` takes a [`ProblemCode`], so a code is a name the compiler knows
//! and its status cannot differ from one handler to the next. Each problem answer
//! of the OpenAPI document lists the codes its description names
//! (`openapi::ProblemCodes`), and a conformance test fails on a name that is none.
//!
//! A new code: add a row below (sorted), and name it in backticks in the
//! description of each `#[utoipa::path]` response that gives it, e.g.
//! `(status = 422, description = "`factor_kind_mismatch`", body = Problem, …)`.

use actix_web::http::StatusCode;
use gatehouse_core::factor::FactorUnavailable;
use gatehouse_core::identifier::IdentifierError;
use gatehouse_core::otp::OtpRefusal;
use serde::Serialize;
use utoipa::ToSchema;

macro_rules! problem_codes {
    ($($variant:ident = $code:literal, $status:ident;)+) => {
        /// The stable machine-readable `code` of a problem answer.
        // serde's snake_case of each name is its code (a conformance test checks).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ProblemCode {
            $($variant,)+
        }

        /// Every code, in the order of their names.
        pub const ALL: &[ProblemCode] = &[$(ProblemCode::$variant,)+];

        impl ProblemCode {
            /// The code on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The HTTP status every answer with this code has.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)+
                }
            }
        }
    };
}

problem_codes! {
    AccountDeleted = "account_deleted", CONFLICT;
    AccountDisabled = "account_disabled", FORBIDDEN;
    AccountLocked = "account_locked", FORBIDDEN;
    AccountNotPending = "account_not_pending", CONFLICT;
    BrowserMismatch = "browser_mismatch", FORBIDDEN;
    Busy = "busy", SERVICE_UNAVAILABLE;
    ClientExists = "client_exists", CONFLICT;
    ClientHasNoSecret = "client_has_no_secret", CONFLICT;
    ClientInvalid = "client_invalid", UNPROCESSABLE_ENTITY;
    ConsentInvalid = "consent_invalid", UNPROCESSABLE_ENTITY;
    ConsentNotPending = "consent_not_pending", CONFLICT;
    CurrentPasswordInvalid = "current_password_invalid", UNPROCESSABLE_ENTITY;
    DatabaseUnavailable = "database_unavailable", SERVICE_UNAVAILABLE;
    DeviceTokenReplayed = "device_token_replayed", UNAUTHORIZED;
    EmailChangeNotPending = "email_change_not_pending", CONFLICT;
    EmailInvalid = "email_invalid", UNPROCESSABLE_ENTITY;
    EmailTaken = "email_taken", CONFLICT;
    EnrolmentExpired = "enrolment_expired", GONE;
    EnrolmentPending = "enrolment_pending", CONFLICT;
    FactorDisabled = "factor_disabled", CONFLICT;
    FactorKindMismatch = "factor_kind_mismatch", UNPROCESSABLE_ENTITY;
    FactorKindUnknown = "factor_kind_unknown", UNPROCESSABLE_ENTITY;
    FactorNotActive = "factor_not_active", CONFLICT;
    FactorNotAllowed = "factor_not_allowed", CONFLICT;
    FactorNotAvailable = "factor_not_available", UNPROCESSABLE_ENTITY;
    FactorNotConfirmed = "factor_not_confirmed", CONFLICT;
    FactorNotEnrollable = "factor_not_enrollable", CONFLICT;
    FactorNotFound = "factor_not_found", NOT_FOUND;
    FactorNotPending = "factor_not_pending", CONFLICT;
    FactorNotRemovable = "factor_not_removable", CONFLICT;
    FactorRetired = "factor_retired", CONFLICT;
    FactorUnavailable = "factor_unavailable", CONFLICT;
    GrantNotFound = "grant_not_found", NOT_FOUND;
    IdentifierInvalid = "identifier_invalid", UNPROCESSABLE_ENTITY;
    IdentifierMissing = "identifier_missing", UNPROCESSABLE_ENTITY;
    IllegalTransition = "illegal_transition", CONFLICT;
    ImportInvalid = "import_invalid", UNPROCESSABLE_ENTITY;
    InsufficientScope = "insufficient_scope", FORBIDDEN;
    InternalError = "internal_error", INTERNAL_SERVER_ERROR;
    InvalidAnswer = "invalid_answer", BAD_REQUEST;
    InvalidCredentials = "invalid_credentials", UNAUTHORIZED;
    InvalidCursor = "invalid_cursor", BAD_REQUEST;
    InvalidDeviceToken = "invalid_device_token", UNAUTHORIZED;
    InvalidFields = "invalid_fields", UNPROCESSABLE_ENTITY;
    InvalidJson = "invalid_json", BAD_REQUEST;
    InvalidName = "invalid_name", UNPROCESSABLE_ENTITY;
    InvalidPublicKey = "invalid_public_key", UNPROCESSABLE_ENTITY;
    InvalidPushToken = "invalid_push_token", UNPROCESSABLE_ENTITY;
    InvalidQuery = "invalid_query", BAD_REQUEST;
    InvalidRequest = "invalid_request", BAD_REQUEST;
    InvalidToken = "invalid_token", UNAUTHORIZED;
    LoginNotFinished = "login_not_finished", CONFLICT;
    LoginRequestCompleted = "login_request_completed", CONFLICT;
    LoginRequestExpired = "login_request_expired", GONE;
    LoginRequestNotFound = "login_request_not_found", NOT_FOUND;
    LogoutRequestExpired = "logout_request_expired", GONE;
    LogoutRequestNotFound = "logout_request_not_found", NOT_FOUND;
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED;
    NotFound = "not_found", NOT_FOUND;
    OtpExhausted = "otp_exhausted", CONFLICT;
    OtpExpired = "otp_expired", CONFLICT;
    OtpInvalid = "otp_invalid", UNPROCESSABLE_ENTITY;
    OtpNotSent = "otp_not_sent", CONFLICT;
    OtpReplayed = "otp_replayed", UNPROCESSABLE_ENTITY;
    OtpSendLimit = "otp_send_limit", TOO_MANY_REQUESTS;
    PasskeySignInDisabled = "passkey_sign_in_disabled", CONFLICT;
    PasswordPolicy = "password_policy", UNPROCESSABLE_ENTITY;
    PasswordRequired = "password_required", CONFLICT;
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE;
    PlatformEnrolmentNotOffered = "platform_enrolment_not_offered", CONFLICT;
    PushChallengeAnswered = "push_challenge_answered", CONFLICT;
    PushChallengeExpired = "push_challenge_expired", GONE;
    PushChallengeNotFound = "push_challenge_not_found", NOT_FOUND;
    PushDenied = "push_denied", FORBIDDEN;
    PushDevicePending = "push_device_pending", CONFLICT;
    PushExpired = "push_expired", GONE;
    PushNotSent = "push_not_sent", CONFLICT;
    PushNumberMismatch = "push_number_mismatch", UNPROCESSABLE_ENTITY;
    PushSendLimit = "push_send_limit", TOO_MANY_REQUESTS;
    PushTicketInvalid = "push_ticket_invalid", GONE;
    PushUsed = "push_used", CONFLICT;
    RateLimited = "rate_limited", TOO_MANY_REQUESTS;
    ReauthenticationRequired = "reauthentication_required", FORBIDDEN;
    RegistrationLinkExpired = "registration_link_expired", GONE;
    RegistrationLinkUnknown = "registration_link_unknown", NOT_FOUND;
    RegistrationLinkUsed = "registration_link_used", CONFLICT;
    SessionNotFound = "session_not_found", NOT_FOUND;
    Unauthorized = "unauthorized", UNAUTHORIZED;
    UndoLinkExpired = "undo_link_expired", GONE;
    UndoLinkUnknown = "undo_link_unknown", NOT_FOUND;
    UndoLinkUsed = "undo_link_used", CONFLICT;
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
    UsernameLoginDisabled = "username_login_disabled", UNPROCESSABLE_ENTITY;
    WebauthnCeremonyExpired = "webauthn_ceremony_expired", GONE;
    WebauthnCounterRegression = "webauthn_counter_regression", UNPROCESSABLE_ENTITY;
    WebauthnCredentialExists = "webauthn_credential_exists", CONFLICT;
    WebauthnInvalid = "webauthn_invalid", UNPROCESSABLE_ENTITY;
    WebauthnNotPlatform = "webauthn_not_platform", UNPROCESSABLE_ENTITY;
    WebauthnUnavailable = "webauthn_unavailable", CONFLICT;
}

impl ProblemCode {
    /// The code named `code` on the wire, if there is one.
    pub fn parse(code: &str) -> Option<Self> {
        ALL.binary_search_by(|c| c.as_str().cmp(code))
            .ok()
            .map(|i| ALL[i])
    }
}

/// Whether `code` is a registered code (the OpenAPI document's descriptions name
/// codes as text).
pub fn is_registered(code: &str) -> bool {
    ProblemCode::parse(code).is_some()
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// The core's refusals, as the API answers them.

impl From<&IdentifierError> for ProblemCode {
    fn from(e: &IdentifierError) -> Self {
        match e {
            IdentifierError::Empty => Self::IdentifierMissing,
            IdentifierError::InvalidEmail => Self::EmailInvalid,
            IdentifierError::UsernameNotAccepted => Self::UsernameLoginDisabled,
            IdentifierError::InvalidUsername => Self::IdentifierInvalid,
        }
    }
}

impl From<&OtpRefusal> for ProblemCode {
    fn from(r: &OtpRefusal) -> Self {
        match r {
            OtpRefusal::NotSent => Self::OtpNotSent,
            OtpRefusal::Expired => Self::OtpExpired,
            OtpRefusal::Exhausted => Self::OtpExhausted,
            OtpRefusal::Wrong { .. } => Self::OtpInvalid,
            OtpRefusal::SendLimit { .. } => Self::OtpSendLimit,
        }
    }
}

impl From<&FactorUnavailable> for ProblemCode {
    fn from(e: &FactorUnavailable) -> Self {
        match e {
            FactorUnavailable::Retired(_) => Self::FactorRetired,
            FactorUnavailable::Disabled(_) => Self::FactorDisabled,
        }
    }
}
