//! The security audit log: what happened to an account, when, and from where.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::account::AccountId;

/// What happened. Names are stable: they are stored and shown to users and operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    AccountCreated,
    AccountImported,
    AccountUpdated,
    RegistrationCompleted,
    LoginSucceeded,
    LoginFailed,
    PasswordChanged,
    EmailChanged,
    FactorAdded,
    FactorRemoved,
    RecoveryCodesRegenerated,
    AccountLocked,
    AccountUnlocked,
    AccountDisabled,
    AccountEnabled,
    AccountDeleted,
    RegistrationLinkSent,
    PushDeviceEnrolled,
    PushApproved,
    PushDenied,
    RecoveryCodeUsed,
    EmailChangeRequested,
    EmailChangeUndone,
    SessionRevoked,
    SessionsRevoked,
    PasswordChangeFailed,
    ClientCreated,
    ClientUpdated,
    ClientSecretRotated,
    ClientDeleted,
    /// Wrong passwords for the account reached `brute_force.account_alert_failures`
    /// within a window; its owner was mailed.
    FailedLoginsAlert,
    /// A mail carrying a code or a link was not sent: it had expired first.
    MailExpired,
    /// The user granted a third-party client scopes (detail: client_id, scopes).
    ConsentGranted,
    /// The user denied a third-party client at the consent step.
    ConsentDenied,
    /// The user (or an operator) revoked a client's grant.
    ConsentRevoked,
    /// A back-channel logout notice was given up: the client refused it, or stayed
    /// unreachable too long (detail: client_id, reason).
    BackchannelLogoutFailed,
}

impl AuditKind {
    const ALL: [Self; 36] = [
        Self::AccountCreated,
        Self::AccountImported,
        Self::AccountUpdated,
        Self::RegistrationCompleted,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::PasswordChanged,
        Self::EmailChanged,
        Self::FactorAdded,
        Self::FactorRemoved,
        Self::RecoveryCodesRegenerated,
        Self::AccountLocked,
        Self::AccountUnlocked,
        Self::AccountDisabled,
        Self::AccountEnabled,
        Self::AccountDeleted,
        Self::RegistrationLinkSent,
        Self::PushDeviceEnrolled,
        Self::PushApproved,
        Self::PushDenied,
        Self::RecoveryCodeUsed,
        Self::EmailChangeRequested,
        Self::EmailChangeUndone,
        Self::SessionRevoked,
        Self::SessionsRevoked,
        Self::PasswordChangeFailed,
        Self::ClientCreated,
        Self::ClientUpdated,
        Self::ClientSecretRotated,
        Self::ClientDeleted,
        Self::FailedLoginsAlert,
        Self::MailExpired,
        Self::ConsentGranted,
        Self::ConsentDenied,
        Self::ConsentRevoked,
        Self::BackchannelLogoutFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountCreated => "account_created",
            Self::AccountImported => "account_imported",
            Self::AccountUpdated => "account_updated",
            Self::RegistrationCompleted => "registration_completed",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::PasswordChanged => "password_changed",
            Self::EmailChanged => "email_changed",
            Self::FactorAdded => "factor_added",
            Self::FactorRemoved => "factor_removed",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::AccountLocked => "account_locked",
            Self::AccountUnlocked => "account_unlocked",
            Self::AccountDisabled => "account_disabled",
            Self::AccountEnabled => "account_enabled",
            Self::AccountDeleted => "account_deleted",
            Self::RegistrationLinkSent => "registration_link_sent",
            Self::PushDeviceEnrolled => "push_device_enrolled",
            Self::PushApproved => "push_approved",
            Self::PushDenied => "push_denied",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChangeUndone => "email_change_undone",
            Self::SessionRevoked => "session_revoked",
            Self::SessionsRevoked => "sessions_revoked",
            Self::PasswordChangeFailed => "password_change_failed",
            Self::ClientCreated => "client_created",
            Self::ClientUpdated => "client_updated",
            Self::ClientSecretRotated => "client_secret_rotated",
            Self::ClientDeleted => "client_deleted",
            Self::FailedLoginsAlert => "failed_logins_alert",
            Self::MailExpired => "mail_expired",
            Self::ConsentGranted => "consent_granted",
            Self::ConsentDenied => "consent_denied",
            Self::ConsentRevoked => "consent_revoked",
            Self::BackchannelLogoutFailed => "backchannel_logout_failed",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown audit event kind {s:?}"))
    }
}

/// An event about to be recorded. `detail` holds non-sensitive facts only
/// (a factor kind, a client id): never a password, code, token or secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub account_id: Option<AccountId>,
    pub kind: AuditKind,
    pub at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: BTreeMap<String, String>,
}

impl NewAuditEvent {
    pub fn new(kind: AuditKind, account_id: Option<AccountId>, at: DateTime<Utc>) -> Self {
        Self {
            account_id,
            kind,
            at,
            ip: None,
            user_agent: None,
            detail: BTreeMap::new(),
        }
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }
}

/// A recorded event. `sequence` orders events and pages the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub sequence: i64,
    pub event: NewAuditEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for kind in AuditKind::ALL {
            assert!(seen.insert(kind.as_str()));
            assert_eq!(kind.as_str().parse(), Ok(kind));
        }
        assert!("something_else".parse::<AuditKind>().is_err());
    }
}
