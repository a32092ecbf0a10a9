//! The factor registry: which kinds of second factor exist, and which may be used.
//!
//! Retiring a kind is configuration plus data, never a code change: the registry
//! says a kind is `retired`, stored factors of that kind stay readable (and are
//! listed as retired), and the kind is neither enrolled nor accepted at login.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::account::AccountId;
use crate::email::Email;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    EmailOtp,
    Totp,
    SecurityKey,
    Passkey,
    /// The "biometric key": a WebAuthn credential of a platform authenticator (Windows
    /// Hello, Touch ID, Android screen lock), with user verification.
    Platform,
    Push,
    RecoveryCode,
    Sms,
}

impl FactorKind {
    pub const ALL: [Self; 8] = [
        Self::EmailOtp,
        Self::Totp,
        Self::SecurityKey,
        Self::Passkey,
        Self::Platform,
        Self::Push,
        Self::RecoveryCode,
        Self::Sms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailOtp => "email_otp",
            Self::Totp => "totp",
            Self::SecurityKey => "security_key",
            Self::Passkey => "passkey",
            Self::Platform => "platform",
            Self::Push => "push",
            Self::RecoveryCode => "recovery_code",
            Self::Sms => "sms",
        }
    }
}

impl fmt::Display for FactorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown factor kind {0:?}")]
pub struct UnknownFactorKind(pub String);

impl FromStr for FactorKind {
    type Err = UnknownFactorKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownFactorKind(s.to_owned()))
    }
}

impl FactorKind {
    /// A WebAuthn credential (needs the server's WebAuthn relying party).
    pub fn is_webauthn(self) -> bool {
        matches!(self, Self::SecurityKey | Self::Passkey | Self::Platform)
    }

    /// A WebAuthn credential: bound to the origin, so a phishing site cannot replay it.
    /// Only these satisfy a request for phishing-resistant authentication.
    pub fn is_phishing_resistant(self) -> bool {
        self.is_webauthn()
    }
}

/// A kind's lifecycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindState {
    #[default]
    Available,
    /// Switched off by this deployment's configuration.
    Disabled,
    /// No longer supported anywhere (SMS): kept only so stored factors stay readable.
    Retired,
}

/// Why a kind cannot be enrolled or used. The code is the REST API's problem code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FactorUnavailable {
    #[error("{0} is retired and can no longer be used")]
    Retired(FactorKind),
    #[error("{0} is disabled on this server")]
    Disabled(FactorKind),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("factors.email_otp must stay available: it is every account's fallback second factor")]
pub struct FallbackUnavailable;

/// The state of every kind, from the `[factors]` configuration table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FactorRegistry {
    pub email_otp: KindState,
    pub totp: KindState,
    pub security_key: KindState,
    pub passkey: KindState,
    pub platform: KindState,
    pub push: KindState,
    pub recovery_code: KindState,
    pub sms: KindState,
}

impl Default for FactorRegistry {
    fn default() -> Self {
        Self {
            email_otp: KindState::Available,
            totp: KindState::Available,
            security_key: KindState::Available,
            passkey: KindState::Available,
            platform: KindState::Available,
            push: KindState::Available,
            recovery_code: KindState::Available,
            sms: KindState::Retired,
        }
    }
}

impl FactorRegistry {
    /// E-mail OTP is the factor of last resort ("I'll do this later", and the
    /// fallback for owners of retired factors): it cannot be switched off.
    pub fn validate(&self) -> Result<(), FallbackUnavailable> {
        if self.email_otp == KindState::Available {
            Ok(())
        } else {
            Err(FallbackUnavailable)
        }
    }

    pub fn state(&self, kind: FactorKind) -> KindState {
        match kind {
            FactorKind::EmailOtp => self.email_otp,
            FactorKind::Totp => self.totp,
            FactorKind::SecurityKey => self.security_key,
            FactorKind::Passkey => self.passkey,
            FactorKind::Platform => self.platform,
            FactorKind::Push => self.push,
            FactorKind::RecoveryCode => self.recovery_code,
            FactorKind::Sms => self.sms,
        }
    }

    fn usable(&self, kind: FactorKind) -> Result<(), FactorUnavailable> {
        match self.state(kind) {
            KindState::Available => Ok(()),
            KindState::Disabled => Err(FactorUnavailable::Disabled(kind)),
            KindState::Retired => Err(FactorUnavailable::Retired(kind)),
        }
    }

    /// May a user add a factor of this kind?
    pub fn check_enrollable(&self, kind: FactorKind) -> Result<(), FactorUnavailable> {
        self.usable(kind)
    }

    /// May a factor of this kind prove a login?
    pub fn check_accepted(&self, kind: FactorKind) -> Result<(), FactorUnavailable> {
        self.usable(kind)
    }

    /// Every kind with its state, in a stable order, for the "Enable MFA" screen.
    pub fn kinds(&self) -> impl Iterator<Item = (FactorKind, KindState)> + '_ {
        FactorKind::ALL.into_iter().map(|k| (k, self.state(k)))
    }

    /// How a stored factor is shown: its own status, unless its kind is gone.
    pub fn effective_status(&self, factor: &Factor) -> EffectiveStatus {
        match (self.state(factor.kind), factor.status) {
            (KindState::Retired, _) => EffectiveStatus::Retired,
            (KindState::Disabled, _) => EffectiveStatus::Disabled,
            (KindState::Available, FactorStatus::Pending) => EffectiveStatus::Pending,
            (KindState::Available, FactorStatus::Active) => EffectiveStatus::Active,
        }
    }

    /// The factors of an account that can prove a login now.
    pub fn usable_at_login<'a>(
        &'a self,
        factors: &'a [Factor],
    ) -> impl Iterator<Item = &'a Factor> {
        factors
            .iter()
            .filter(|f| self.effective_status(f) == EffectiveStatus::Active)
    }
}

/// A stored factor's own status: enrolment confirmed or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorStatus {
    Pending,
    Active,
}

impl FactorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
        }
    }
}

impl FromStr for FactorStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "active" => Ok(Self::Active),
            other => Err(format!("unknown factor status {other:?}")),
        }
    }
}

/// What the factor list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectiveStatus {
    Pending,
    Active,
    Disabled,
    Retired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FactorId(pub Uuid);

impl FactorId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for FactorId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for FactorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A second factor of one account.
///
/// `public_data` is kind-specific and non-secret (a masked phone number, a WebAuthn
/// credential's public key); `secret` is kind-specific and stored encrypted by the
/// layer that owns the key, never in clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Factor {
    pub id: FactorId,
    pub account_id: AccountId,
    pub kind: FactorKind,
    pub status: FactorStatus,
    pub label: Option<String>,
    pub public_data: Option<String>,
    pub secret: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// One way to pass the second step, as the login screen offers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FactorOffer {
    /// The factor's id, or `email` for the implicit e-mail code.
    pub id: String,
    pub kind: FactorKind,
    /// Safe to show before the second step: `Email on r***@example.com` (English).
    pub label: String,
    /// The parts of `label`, for a UI that names the factor in its own language: the
    /// masked address of an e-mail code (`r***@example.com`)…
    pub masked_email: Option<String>,
    /// …the name the user (or an import) gave the factor…
    pub name: Option<String>,
    /// …and the last digits of an imported SMS factor's phone.
    pub phone_ending: Option<String>,
}

/// The id of the e-mail code every account with an address has, enrolled or not.
pub const IMPLICIT_EMAIL_FACTOR: &str = "email";

/// How an import labels an SMS factor: this, then the phone's last digits.
pub const PHONE_ENDING_LABEL: &str = "Phone ending ";

/// The offer of `factor`: its label and the label's parts.
pub fn offer_of(factor: &Factor, email: Option<&Email>) -> FactorOffer {
    let stored = factor.label.clone();
    let (mut name, mut masked_email, mut phone_ending) = (None, None, None);
    match factor.kind {
        FactorKind::EmailOtp => masked_email = email.map(Email::masked),
        FactorKind::RecoveryCode => {}
        FactorKind::Sms => match stored
            .as_deref()
            .and_then(|l| l.strip_prefix(PHONE_ENDING_LABEL))
        {
            Some(digits) => phone_ending = Some(digits.to_owned()),
            None => name = stored,
        },
        // An import's English default ("Authenticator app") is no name of the user's.
        _ => name = stored.filter(|n| Some(n.as_str()) != unnamed_label(factor.kind)),
    }
    FactorOffer {
        id: factor.id.to_string(),
        kind: factor.kind,
        label: offer_label(factor, email),
        masked_email,
        name,
        phone_ending,
    }
}

/// The offer of the e-mail code that comes with the account's address.
pub fn implicit_email_offer(email: &Email) -> FactorOffer {
    FactorOffer {
        id: IMPLICIT_EMAIL_FACTOR.to_owned(),
        kind: FactorKind::EmailOtp,
        label: format!("Email on {}", email.masked()),
        masked_email: Some(email.masked()),
        name: None,
        phone_ending: None,
    }
}

/// How a factor is named to its owner: the name they gave it, else its kind's.
pub fn offer_label(factor: &Factor, email: Option<&Email>) -> String {
    let named = |fallback: &str| factor.label.clone().unwrap_or_else(|| fallback.to_owned());
    match factor.kind {
        FactorKind::EmailOtp => email.map_or_else(
            || "Email".to_owned(),
            |e| format!("Email on {}", e.masked()),
        ),
        FactorKind::Push => format!("Push notification to {}", named("your phone")),
        FactorKind::RecoveryCode => "Recovery code".to_owned(),
        kind => named(unnamed_label(kind).unwrap_or_default()),
    }
}

/// The English name of a factor of `kind` its owner did not name.
fn unnamed_label(kind: FactorKind) -> Option<&'static str> {
    match kind {
        FactorKind::Totp => Some("Authenticator app"),
        FactorKind::SecurityKey => Some("Security key"),
        FactorKind::Passkey => Some("Passkey"),
        FactorKind::Platform => Some("Biometric key"),
        FactorKind::Sms => Some("Phone (SMS)"),
        FactorKind::EmailOtp | FactorKind::Push | FactorKind::RecoveryCode => None,
    }
}

/// The factors that can finish a login, and the one to start with.
///
/// Stored factors the registry accepts come first, most recently used first; e-mail
/// OTP on the account's address is always there when the account has an address
/// (the fallback for "I'll do this later" and for owners of retired SMS factors).
/// The default is the most recently used factor, else the e-mail code; recovery
/// codes are never the default.
pub fn login_offers(
    email: Option<&Email>,
    factors: &[Factor],
    registry: &FactorRegistry,
) -> (Vec<FactorOffer>, Option<String>) {
    offers_where(email, factors, registry, false)
}

/// The offers of a login that asked for phishing resistance: WebAuthn factors only
/// (no e-mail code, no codes of any kind, no push).
pub fn phishing_resistant_offers(
    factors: &[Factor],
    registry: &FactorRegistry,
) -> (Vec<FactorOffer>, Option<String>) {
    offers_where(None, factors, registry, true)
}

fn offers_where(
    email: Option<&Email>,
    factors: &[Factor],
    registry: &FactorRegistry,
    phishing_resistant: bool,
) -> (Vec<FactorOffer>, Option<String>) {
    let mut usable: Vec<&Factor> = registry
        .usable_at_login(factors)
        .filter(|f| !phishing_resistant || f.kind.is_phishing_resistant())
        .collect();
    usable.sort_by_key(|f| std::cmp::Reverse((f.last_used_at, f.created_at)));
    let mut offers: Vec<FactorOffer> = usable.iter().map(|f| offer_of(f, email)).collect();
    let has_email_factor = usable.iter().any(|f| f.kind == FactorKind::EmailOtp);
    if let Some(address) = email
        && !has_email_factor
        && registry.check_accepted(FactorKind::EmailOtp).is_ok()
    {
        offers.push(implicit_email_offer(address));
    }
    let default = offers
        .iter()
        .find(|o| o.kind != FactorKind::RecoveryCode)
        .map(|o| o.id.clone());
    (offers, default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(kind: FactorKind, status: FactorStatus) -> Factor {
        Factor {
            id: FactorId::new(),
            account_id: AccountId::new(),
            kind,
            status,
            label: None,
            public_data: None,
            secret: None,
            created_at: DateTime::UNIX_EPOCH,
            last_used_at: None,
        }
    }

    #[test]
    fn sms_is_retired_by_default_and_everything_else_available() {
        let registry = FactorRegistry::default();
        for (kind, state) in registry.kinds() {
            let expected = if kind == FactorKind::Sms {
                KindState::Retired
            } else {
                KindState::Available
            };
            assert_eq!(state, expected, "{kind}");
        }
        assert_eq!(
            registry.check_enrollable(FactorKind::Sms),
            Err(FactorUnavailable::Retired(FactorKind::Sms))
        );
        assert_eq!(
            registry.check_accepted(FactorKind::Sms),
            Err(FactorUnavailable::Retired(FactorKind::Sms))
        );
        assert_eq!(registry.check_enrollable(FactorKind::Totp), Ok(()));
    }

    #[test]
    fn stored_sms_factors_stay_readable_but_are_never_usable() {
        let registry = FactorRegistry::default();
        let factors = vec![
            factor(FactorKind::Sms, FactorStatus::Active),
            factor(FactorKind::EmailOtp, FactorStatus::Active),
            factor(FactorKind::Totp, FactorStatus::Pending),
        ];
        assert_eq!(
            registry.effective_status(&factors[0]),
            EffectiveStatus::Retired
        );
        let usable: Vec<_> = registry.usable_at_login(&factors).map(|f| f.kind).collect();
        assert_eq!(usable, vec![FactorKind::EmailOtp]);
    }

    #[test]
    fn a_kind_disabled_by_config_is_refused_as_disabled() {
        let registry = FactorRegistry {
            push: KindState::Disabled,
            ..FactorRegistry::default()
        };
        let err = registry.check_enrollable(FactorKind::Push);
        assert_eq!(err, Err(FactorUnavailable::Disabled(FactorKind::Push)));
        let push = factor(FactorKind::Push, FactorStatus::Active);
        assert_eq!(registry.effective_status(&push), EffectiveStatus::Disabled);
    }

    #[test]
    fn email_otp_cannot_be_switched_off() {
        let registry = FactorRegistry {
            email_otp: KindState::Disabled,
            ..FactorRegistry::default()
        };
        assert_eq!(registry.validate(), Err(FallbackUnavailable));
        assert_eq!(FactorRegistry::default().validate(), Ok(()));
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in FactorKind::ALL {
            assert_eq!(kind.as_str().parse(), Ok(kind));
        }
        assert!("phone".parse::<FactorKind>().is_err());
    }

    #[test]
    fn login_offers_put_the_last_used_first_and_always_keep_email() {
        let registry = FactorRegistry::default();
        let email = Email::parse("rie@example.com").unwrap();
        let mut totp = factor(FactorKind::Totp, FactorStatus::Active);
        totp.label = Some("Pixel".to_owned());
        totp.last_used_at = Some(DateTime::UNIX_EPOCH + chrono::TimeDelta::days(2));
        let mut key = factor(FactorKind::SecurityKey, FactorStatus::Active);
        key.last_used_at = Some(DateTime::UNIX_EPOCH + chrono::TimeDelta::days(1));
        let recovery = factor(FactorKind::RecoveryCode, FactorStatus::Active);
        let sms = factor(FactorKind::Sms, FactorStatus::Active);
        let pending = factor(FactorKind::Push, FactorStatus::Pending);
        let factors = vec![recovery.clone(), key.clone(), sms, pending, totp.clone()];
        let (offers, default) = login_offers(Some(&email), &factors, &registry);
        let kinds: Vec<_> = offers.iter().map(|o| o.kind).collect();
        assert_eq!(
            kinds,
            vec![
                FactorKind::Totp,
                FactorKind::SecurityKey,
                FactorKind::RecoveryCode,
                FactorKind::EmailOtp
            ]
        );
        assert_eq!(default, Some(totp.id.to_string()));
        assert_eq!(offers[0].label, "Pixel");
        assert_eq!(offers[3].label, "Email on r***@example.com");
        assert_eq!(offers[3].id, IMPLICIT_EMAIL_FACTOR);
        // The label's parts, for a UI in another language.
        assert_eq!(offers[0].name.as_deref(), Some("Pixel"));
        assert_eq!(offers[1].name, None);
        assert_eq!(offers[3].masked_email.as_deref(), Some("r***@example.com"));
        assert_eq!(offers[3].name, None);
    }

    #[test]
    fn an_offer_gives_the_parts_of_its_label_apart() {
        let email = Email::parse("rie@example.com").unwrap();
        let mut sms = factor(FactorKind::Sms, FactorStatus::Active);
        sms.label = Some(format!("{PHONE_ENDING_LABEL}1234"));
        let offer = offer_of(&sms, Some(&email));
        assert_eq!(offer.label, "Phone ending 1234");
        assert_eq!(offer.phone_ending.as_deref(), Some("1234"));
        assert_eq!((offer.name, offer.masked_email), (None, None));
        let mut imported = factor(FactorKind::Totp, FactorStatus::Active);
        imported.label = Some("Authenticator app".to_owned());
        assert_eq!(offer_of(&imported, Some(&email)).name, None);
        let mut enrolled = factor(FactorKind::EmailOtp, FactorStatus::Active);
        enrolled.label = Some("ignored".to_owned());
        let offer = offer_of(&enrolled, Some(&email));
        assert_eq!(offer.masked_email.as_deref(), Some("r***@example.com"));
        assert_eq!(offer.name, None);
    }

    #[test]
    fn phishing_resistance_offers_webauthn_factors_only() {
        let registry = FactorRegistry::default();
        let factors = vec![
            factor(FactorKind::Totp, FactorStatus::Active),
            factor(FactorKind::SecurityKey, FactorStatus::Active),
            factor(FactorKind::Platform, FactorStatus::Active),
            factor(FactorKind::Passkey, FactorStatus::Pending),
            factor(FactorKind::RecoveryCode, FactorStatus::Active),
        ];
        let (offers, default) = phishing_resistant_offers(&factors, &registry);
        let mut kinds: Vec<_> = offers.iter().map(|o| o.kind).collect();
        kinds.sort();
        assert_eq!(kinds, vec![FactorKind::SecurityKey, FactorKind::Platform]);
        assert!(default.is_some());
        assert!(
            phishing_resistant_offers(&factors[..1], &registry)
                .0
                .is_empty()
        );
    }

    #[test]
    fn an_account_with_only_retired_sms_falls_back_to_email() {
        let email = Email::parse("rie@example.com").unwrap();
        let factors = vec![factor(FactorKind::Sms, FactorStatus::Active)];
        let (offers, default) = login_offers(Some(&email), &factors, &FactorRegistry::default());
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].kind, FactorKind::EmailOtp);
        assert_eq!(default.as_deref(), Some(IMPLICIT_EMAIL_FACTOR));
    }
}
