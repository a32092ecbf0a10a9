//! WebAuthn credentials (security keys, passkeys, platform "biometric" keys) and the
//! server side of their ceremonies. The cryptography lives in the provider (webauthn-rs);
//! the domain keeps what is stored and the rules about it.

use chrono::{DateTime, TimeDelta, Utc};

use crate::account::AccountId;
use crate::factor::FactorId;

/// How long a started ceremony (registration or assertion) may be finished.
pub const DEFAULT_CEREMONY_TTL: TimeDelta = TimeDelta::minutes(5);

/// One registered credential: it belongs to one factor row of one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebauthnCredential {
    pub factor_id: FactorId,
    pub account_id: AccountId,
    /// The credential id, base64url without padding (unique across all accounts).
    pub credential_id: String,
    /// The library's credential (public key, counter, flags), as JSON. Not secret.
    pub credential: String,
    /// The authenticator model (AAGUID), when the authenticator said one.
    pub aaguid: Option<String>,
    /// How the browser can reach it: `usb`, `nfc`, `ble`, `internal`, `hybrid`.
    pub transports: Vec<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    /// The signature counter last seen (0 for authenticators that keep none).
    pub counter: u32,
    /// Registered as a discoverable credential (usable for password-less sign-in).
    pub discoverable: bool,
    pub created_at: DateTime<Utc>,
}

/// A started ceremony: the library's state, kept server-side, taken once.
///
/// `binding` names what the ceremony is for, so a proof can only finish the ceremony
/// it was made for: `enrol:{factor}`, `login:{login_request}:{factor}`,
/// `passwordless:{login_request}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ceremony {
    pub id: String,
    pub binding: String,
    pub account_id: Option<AccountId>,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Ceremony {
    pub fn enrolment(factor: FactorId) -> String {
        format!("enrol:{factor}")
    }

    pub fn login(login_request: &str, factor: FactorId) -> String {
        format!("login:{login_request}:{factor}")
    }

    pub fn passwordless(login_request: &str) -> String {
        format!("passwordless:{login_request}")
    }
}

/// Whether a signature counter may follow the stored one. Authenticators that keep no
/// counter always send 0; once one has counted, each use must count up.
pub fn counter_advances(stored: u32, presented: u32) -> bool {
    (stored == 0 && presented == 0) || presented > stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_must_move_forward_once_they_count() {
        assert!(counter_advances(0, 0));
        assert!(counter_advances(0, 1));
        assert!(counter_advances(4, 5));
        assert!(!counter_advances(5, 5));
        assert!(!counter_advances(5, 2));
        assert!(!counter_advances(5, 0));
    }

    #[test]
    fn bindings_name_what_a_ceremony_is_for() {
        let f = FactorId::new();
        assert_eq!(Ceremony::enrolment(f), format!("enrol:{f}"));
        assert_eq!(Ceremony::login("abc", f), format!("login:abc:{f}"));
        assert_eq!(Ceremony::passwordless("abc"), "passwordless:abc");
    }
}
