//! The WebAuthn Level 3 JSON forms, as OpenAPI schemas: what a browser's
//! `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`
//! take and `PublicKeyCredential.toJSON()` gives. The values on the wire are
//! webauthn-rs's own serializations of these W3C dictionaries (every binary field
//! base64url without padding), so these types only describe them: they are the
//! `value_type` of the fields that carry options and answers.

use serde::Serialize;
use utoipa::ToSchema;

/// The argument of `navigator.credentials.create`, in JSON: pass `publicKey` to
/// `PublicKeyCredential.parseCreationOptionsFromJSON`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialCreationOptionsJson {
    pub public_key: PublicKeyCredentialCreationOptionsJson,
}

/// `PublicKeyCredentialCreationOptionsJSON` (WebAuthn L3 §5.1.8).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyCredentialCreationOptionsJson {
    pub rp: RelyingPartyJson,
    pub user: UserEntityJson,
    /// base64url.
    pub challenge: String,
    pub pub_key_cred_params: Vec<CredentialParameters>,
    /// Milliseconds.
    #[schema(nullable = false)]
    pub timeout: Option<u32>,
    /// The account's credentials, so one authenticator is not registered twice.
    #[schema(nullable = false)]
    pub exclude_credentials: Option<Vec<CredentialDescriptorJson>>,
    #[schema(nullable = false)]
    pub authenticator_selection: Option<AuthenticatorSelection>,
    /// `client-device` for a biometric key of this device.
    #[schema(nullable = false)]
    pub hints: Option<Vec<String>>,
    /// `none`, `indirect`, `direct` or `enterprise`.
    #[schema(nullable = false)]
    pub attestation: Option<String>,
    #[schema(nullable = false)]
    pub attestation_formats: Option<Vec<String>>,
    #[schema(nullable = false)]
    pub extensions: Option<RegistrationExtensionsJson>,
}

/// The relying party: this server.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelyingPartyJson {
    pub id: String,
    pub name: String,
}

/// The account the credential is for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserEntityJson {
    /// base64url: the user handle (random, stable, no personal data).
    pub id: String,
    pub name: String,
    pub display_name: String,
}

/// An acceptable key type.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialParameters {
    /// `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A COSE algorithm number: -7 (ES256), -257 (RS256), -8 (EdDSA).
    pub alg: i64,
}

/// A credential, by id (`excludeCredentials`, `allowCredentials`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialDescriptorJson {
    /// `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// base64url.
    pub id: String,
    /// `usb`, `nfc`, `ble`, `hybrid`, `internal`.
    #[schema(nullable = false)]
    pub transports: Option<Vec<String>>,
}

/// Which authenticators may answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    /// `platform` (this device) or `cross-platform` (a roaming key).
    #[schema(nullable = false)]
    pub authenticator_attachment: Option<String>,
    /// `discouraged`, `preferred` or `required`.
    #[schema(nullable = false)]
    pub resident_key: Option<String>,
    #[schema(nullable = false)]
    pub require_resident_key: Option<bool>,
    /// `discouraged`, `preferred` or `required`.
    #[schema(nullable = false)]
    pub user_verification: Option<String>,
}

/// The extensions a registration asks for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationExtensionsJson {
    #[schema(nullable = false)]
    pub cred_props: Option<bool>,
    #[schema(nullable = false)]
    pub uvm: Option<bool>,
    #[schema(nullable = false)]
    pub min_pin_length: Option<bool>,
    #[schema(nullable = false)]
    pub hmac_create_secret: Option<bool>,
}

/// The argument of `navigator.credentials.get`, in JSON: pass `publicKey` to
/// `PublicKeyCredential.parseRequestOptionsFromJSON`, and `mediation` (when present)
/// beside it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRequestOptionsJson {
    pub public_key: PublicKeyCredentialRequestOptionsJson,
    /// `conditional` for passkey autofill.
    #[schema(nullable = false)]
    pub mediation: Option<String>,
}

/// `PublicKeyCredentialRequestOptionsJSON` (WebAuthn L3 §5.5.1).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyCredentialRequestOptionsJson {
    /// base64url.
    pub challenge: String,
    /// Milliseconds.
    #[schema(nullable = false)]
    pub timeout: Option<u32>,
    pub rp_id: String,
    /// The credentials that may answer; empty for a discoverable (password-less) sign-in.
    pub allow_credentials: Vec<CredentialDescriptorJson>,
    /// `discouraged`, `preferred` or `required`.
    pub user_verification: String,
    #[schema(nullable = false)]
    pub hints: Option<Vec<String>>,
    #[schema(nullable = false)]
    pub extensions: Option<AuthenticationExtensionsJson>,
}

/// The extensions an assertion asks for.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthenticationExtensionsJson {
    #[schema(nullable = false)]
    pub appid: Option<String>,
    #[schema(nullable = false)]
    pub uvm: Option<bool>,
}

/// `RegistrationResponseJSON`: `credential.toJSON()` after `navigator.credentials.create`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResponseJson {
    /// base64url.
    pub id: String,
    /// base64url.
    pub raw_id: String,
    /// `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    pub response: AttestationResponseJson,
    /// `platform` or `cross-platform`: a biometric key must be `platform`.
    #[schema(nullable = false)]
    pub authenticator_attachment: Option<String>,
    #[schema(nullable = false)]
    pub client_extension_results: Option<ClientExtensionResultsJson>,
}

/// `AuthenticatorAttestationResponseJSON`; members `toJSON()` adds beside these
/// (`authenticatorData`, `publicKey`, `publicKeyAlgorithm`) may be sent and are ignored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttestationResponseJson {
    /// base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// base64url.
    pub attestation_object: String,
    #[schema(nullable = false)]
    pub transports: Option<Vec<String>>,
}

/// `AuthenticationResponseJSON`: `credential.toJSON()` after `navigator.credentials.get`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationResponseJson {
    /// base64url.
    pub id: String,
    /// base64url.
    pub raw_id: String,
    /// `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    pub response: AssertionResponseJson,
    #[schema(nullable = false)]
    pub authenticator_attachment: Option<String>,
    #[schema(nullable = false)]
    pub client_extension_results: Option<ClientExtensionResultsJson>,
}

/// `AuthenticatorAssertionResponseJSON`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssertionResponseJson {
    /// base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// base64url.
    pub authenticator_data: String,
    /// base64url.
    pub signature: String,
    /// base64url; the account's user handle, from a discoverable credential.
    #[schema(nullable = false)]
    pub user_handle: Option<String>,
}

/// `getClientExtensionResults()`: what the browser says about the extensions asked for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientExtensionResultsJson {
    #[schema(nullable = false)]
    pub appid: Option<bool>,
    #[schema(nullable = false)]
    pub cred_props: Option<CredentialPropertiesJson>,
    #[schema(nullable = false)]
    pub hmac_create_secret: Option<bool>,
}

/// The `credProps` extension's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialPropertiesJson {
    /// Whether the credential is discoverable.
    #[schema(nullable = false)]
    pub rk: Option<bool>,
}
