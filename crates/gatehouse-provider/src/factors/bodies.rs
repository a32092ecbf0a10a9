//! The bodies a factor exchanges with the UI, one variant per kind, tagged by `kind`:
//! what a challenge shows, the proof that answers it, what an enrolment shows to set a
//! factor up, and the proof that confirms it. Factor modules build and read these
//! types; the OpenAPI document describes them as discriminated unions.

use gatehouse_core::FactorKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::webauthn_json::{
    AuthenticationResponseJson, CredentialCreationOptionsJson, CredentialRequestOptionsJson,
    RegistrationResponseJson,
};
use crate::tagged_union::tagged_union;

/// The only encoding of binary WebAuthn fields here.
#[derive(Clone, Copy, Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BinaryEncoding {
    #[default]
    Base64url,
}

/// The kinds of sign-in method, as the document lists them.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum FactorKindName {
    EmailOtp,
    Totp,
    SecurityKey,
    Passkey,
    Platform,
    Push,
    RecoveryCode,
    Sms,
}

// ----- challenges (POST …/factors/{factor}/challenge) -----

/// What the UI shows for the chosen factor.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FactorChallenge {
    EmailOtp(EmailOtpChallenge),
    Totp(TotpChallenge),
    RecoveryCode(RecoveryCodeChallenge),
    Push(PushPrompt),
    SecurityKey(WebauthnChallenge),
    Passkey(WebauthnChallenge),
    Platform(WebauthnChallenge),
}

tagged_union!(FactorChallenge, "What to show for the chosen factor, by `kind`", {
    "email_otp" => "EmailOtpChallenge": EmailOtpChallenge,
    "totp" => "TotpChallenge": TotpChallenge,
    "recovery_code" => "RecoveryCodeChallenge": RecoveryCodeChallenge,
    "push" => "PushChallenge": PushPrompt,
    "security_key" => "SecurityKeyChallenge": WebauthnChallenge,
    "passkey" => "PasskeyChallenge": WebauthnChallenge,
    "platform" => "PlatformChallenge": WebauthnChallenge,
});

/// A code was mailed: "Email on r***@example.com".
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailOtpChallenge {
    /// The address, masked.
    pub sent_to: String,
    /// Seconds the code works for.
    pub expires_in: i64,
    pub code_length: usize,
}

/// Nothing is sent: ask for the code the authenticator app shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpChallenge {
    pub code_length: usize,
}

/// Ask for one of the recovery codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodeChallenge {
    /// `xxxxx-xxxxx`.
    pub format: String,
    /// Unused codes left.
    pub remaining: usize,
}

/// A push went to the phone: show `number` (the phone must pick it), then poll `verify`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushPrompt {
    pub challenge_id: String,
    pub number: u8,
    pub expires_in: i64,
    /// Seconds between polls.
    pub poll_interval: u64,
}

/// Options for `navigator.credentials.get`. The challenge works once, for `expires_in`
/// seconds, for this login (and this factor) only.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebauthnChallenge {
    #[schema(value_type = CredentialRequestOptionsJson)]
    pub public_key: Value,
    pub binary_encoding: BinaryEncoding,
    pub expires_in: i64,
}

// ----- proofs (POST …/factors/{factor}/verify) -----

/// The answer to a factor's challenge; `kind` is the factor's.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FactorProof {
    EmailOtp(CodeProof),
    Totp(CodeProof),
    RecoveryCode(CodeProof),
    Push(PushPoll),
    SecurityKey(AssertionProof),
    Passkey(AssertionProof),
    Platform(AssertionProof),
}

tagged_union!(FactorProof, "The answer to the challenge, by the factor's `kind`", {
    "email_otp" => "EmailOtpProof": CodeProof,
    "totp" => "TotpProof": CodeProof,
    "recovery_code" => "RecoveryCodeProof": CodeProof,
    "push" => "PushProof": PushPoll,
    "security_key" => "SecurityKeyProof": AssertionProof,
    "passkey" => "PasskeyProof": AssertionProof,
    "platform" => "PlatformProof": AssertionProof,
});

impl FactorProof {
    pub fn kind(&self) -> FactorKind {
        match self {
            Self::EmailOtp(_) => FactorKind::EmailOtp,
            Self::Totp(_) => FactorKind::Totp,
            Self::RecoveryCode(_) => FactorKind::RecoveryCode,
            Self::Push(_) => FactorKind::Push,
            Self::SecurityKey(_) => FactorKind::SecurityKey,
            Self::Passkey(_) => FactorKind::Passkey,
            Self::Platform(_) => FactorKind::Platform,
        }
    }

    /// The typed code, for the kinds that take one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::EmailOtp(p) | Self::Totp(p) | Self::RecoveryCode(p) => Some(&p.code),
            _ => None,
        }
    }

    /// The browser's answer, for the WebAuthn kinds.
    pub fn credential(&self) -> Option<&Value> {
        match self {
            Self::SecurityKey(p) | Self::Passkey(p) | Self::Platform(p) => Some(&p.credential),
            _ => None,
        }
    }
}

/// A code the user typed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeProof {
    /// `123456` (e-mail, app) or `xxxxx-xxxxx` (recovery code).
    pub code: String,
}

/// A poll: has the phone answered?
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushPoll {}

/// The browser's answer to `navigator.credentials.get`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssertionProof {
    /// `credential.toJSON()`.
    #[schema(value_type = AuthenticationResponseJson)]
    pub credential: Value,
}

/// A push the phone has not answered yet (202): poll `verify` again after
/// `poll_interval` seconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginPending {
    /// `pending`.
    #[schema(value_type = PendingStep)]
    pub next: PendingStep,
    /// `pending`.
    #[schema(value_type = PendingStep)]
    pub status: PendingStep,
    pub challenge_id: String,
    pub expires_in: i64,
    pub poll_interval: u64,
}

/// The one value of a pending answer's `next` and `status`.
#[derive(Clone, Copy, Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PendingStep {
    #[default]
    Pending,
}

// ----- enrolment setups (POST …/factors: `setup`) -----

/// What the UI shows to set the new factor up, once.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EnrolmentSetup {
    Totp(TotpSetup),
    RecoveryCode(RecoveryCodeSetup),
    Push(PushSetup),
    SecurityKey(WebauthnSetup),
    Passkey(WebauthnSetup),
    Platform(WebauthnSetup),
}

tagged_union!(EnrolmentSetup, "What to show to set the new factor up, by `kind`; shown once", {
    "totp" => "TotpSetup": TotpSetup,
    "recovery_code" => "RecoveryCodeSetup": RecoveryCodeSetup,
    "push" => "PushSetup": PushSetup,
    "security_key" => "SecurityKeySetup": WebauthnSetup,
    "passkey" => "PasskeySetup": WebauthnSetup,
    "platform" => "PlatformSetup": WebauthnSetup,
});

/// The secret for the authenticator app, as text and QR code; confirm with a code.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    /// Base32, for typing in.
    pub secret: String,
    /// `otpauth://totp/…`, what the QR code holds.
    pub otpauth_uri: String,
    pub qr_png_base64: String,
    pub qr_svg: String,
    /// `SHA1`.
    pub algorithm: String,
    pub digits: usize,
    /// Seconds per code.
    pub period: i64,
}

/// Ten recovery codes, never shown again; active at once, nothing to confirm.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodeSetup {
    pub codes: Vec<String>,
}

/// The phone scans `enrolment_uri` (`gatehouse-push://enroll?server=…&ticket=…`) and
/// registers itself within `expires_in` seconds; that activates the factor, with no
/// confirm step.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushSetup {
    pub enrolment_uri: String,
    pub qr_png_base64: String,
    pub qr_svg: String,
    pub expires_in: i64,
}

/// Options for `navigator.credentials.create` (the account's credentials excluded);
/// confirm with the answer within `expires_in` seconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebauthnSetup {
    #[schema(value_type = CredentialCreationOptionsJson)]
    pub public_key: Value,
    pub binary_encoding: BinaryEncoding,
    pub expires_in: i64,
}

// ----- confirmations (POST …/factors/{factor}/confirm) -----

/// The proof that a new factor works; `kind` is the factor's.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FactorConfirmation {
    Totp(CodeConfirmation),
    Push(PushConfirmation),
    SecurityKey(AttestationConfirmation),
    Passkey(AttestationConfirmation),
    Platform(AttestationConfirmation),
}

tagged_union!(FactorConfirmation, "The proof that the new factor works, by its `kind`", {
    "totp" => "TotpConfirmation": CodeConfirmation,
    "push" => "PushConfirmation": PushConfirmation,
    "security_key" => "SecurityKeyConfirmation": AttestationConfirmation,
    "passkey" => "PasskeyConfirmation": AttestationConfirmation,
    "platform" => "PlatformConfirmation": AttestationConfirmation,
});

impl FactorConfirmation {
    pub fn kind(&self) -> FactorKind {
        match self {
            Self::Totp(_) => FactorKind::Totp,
            Self::Push(_) => FactorKind::Push,
            Self::SecurityKey(_) => FactorKind::SecurityKey,
            Self::Passkey(_) => FactorKind::Passkey,
            Self::Platform(_) => FactorKind::Platform,
        }
    }

    /// The name the user gives the factor, e.g. `Work laptop`.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Totp(c) => c.name.as_deref(),
            Self::Push(c) => c.name.as_deref(),
            Self::SecurityKey(c) | Self::Passkey(c) | Self::Platform(c) => c.name.as_deref(),
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Totp(c) => Some(&c.code),
            _ => None,
        }
    }

    pub fn credential(&self) -> Option<&Value> {
        match self {
            Self::SecurityKey(c) | Self::Passkey(c) | Self::Platform(c) => Some(&c.credential),
            _ => None,
        }
    }
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeConfirmation {
    pub code: String,
    /// A name for the factor: 1 to 64 characters, not only spaces, no control characters.
    #[schema(
        max_length = 64,
        pattern = r"^\s*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
}

/// Nothing to confirm: the phone's registration activates a push factor, so this
/// answers 409 `push_device_pending` until it has.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushConfirmation {
    #[schema(
        max_length = 64,
        pattern = r"^\s*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
}

/// The browser's answer to `navigator.credentials.create`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AttestationConfirmation {
    /// `credential.toJSON()`.
    #[schema(value_type = RegistrationResponseJson)]
    pub credential: Value,
    /// A name for the factor: 1 to 64 characters, not only spaces, no control characters.
    #[schema(
        max_length = 64,
        pattern = r"^\s*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
}

// ----- password-less sign-in (POST …/passkey/verify) -----

/// The browser's answer to the password-less challenge.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasskeySignIn {
    /// `credential.toJSON()`: its user handle names the account.
    #[schema(value_type = AuthenticationResponseJson)]
    pub credential: Value,
}
