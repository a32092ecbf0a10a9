//! What a finished login leaves behind: a browser session, a one-time authorization
//! code, and later refresh tokens. Secrets (session cookie, code, refresh token) are
//! stored as keyed hashes only.

use chrono::{DateTime, TimeDelta, Utc};

use crate::account::AccountId;

/// RFC 6749 §4.1.2 recommends at most 10 minutes; OAuth 2.1 and this issue, 60 seconds.
pub const CODE_TTL: TimeDelta = TimeDelta::seconds(60);

/// A signed-in browser (the OIDC `sid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub account_id: AccountId,
    /// Keyed hash of the session cookie's value.
    pub token_hash: String,
    pub amr: Vec<String>,
    pub acr: String,
    pub auth_time: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl Session {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// Whether this session may answer a request with `max_age` without a new login
    /// (OIDC Core §3.1.2.1).
    pub fn satisfies_max_age(&self, max_age: Option<u32>, now: DateTime<Utc>) -> bool {
        max_age.is_none_or(|seconds| now - self.auth_time <= TimeDelta::seconds(seconds.into()))
    }
}

/// An issued authorization code, keyed by its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub account_id: AccountId,
    pub session_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    /// The `claims` parameter of the request, for the ID token the code gives.
    pub claims: Option<crate::claims::ClaimsRequest>,
    pub code_challenge: String,
    pub auth_time: DateTime<Utc>,
    pub amr: Vec<String>,
    pub acr: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set at the first exchange; a second exchange is a replay.
    pub used_at: Option<DateTime<Utc>>,
}

/// A refresh token, keyed by its hash. Every use rotates it: the used token is kept
/// (marked used) so that a second use is recognised as theft and the whole family,
/// every token descended from the same login, is revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub account_id: AccountId,
    pub session_id: String,
    pub scopes: Vec<String>,
    pub auth_time: DateTime<Utc>,
    pub amr: Vec<String>,
    pub acr: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// RFC 8176 methods plus `mfa` when two different kinds of proof were given.
pub fn amr_with_mfa(methods: &[String]) -> Vec<String> {
    let mut amr: Vec<String> = Vec::new();
    for m in methods {
        if !amr.contains(m) {
            amr.push(m.clone());
        }
    }
    let proofs = amr.iter().filter(|m| *m != "mfa").count();
    if proofs >= 2 && !amr.iter().any(|m| m == "mfa") {
        amr.push("mfa".to_owned());
    }
    amr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_kinds_of_proof_add_mfa_once() {
        let s = |v: &[&str]| v.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>();
        assert_eq!(amr_with_mfa(&s(&["pwd", "otp"])), s(&["pwd", "otp", "mfa"]));
        assert_eq!(amr_with_mfa(&s(&["pwd"])), s(&["pwd"]));
        assert_eq!(
            amr_with_mfa(&s(&["pwd", "otp", "otp", "mfa"])),
            s(&["pwd", "otp", "mfa"])
        );
    }

    #[test]
    fn max_age_counts_from_the_authentication() {
        let t0 = DateTime::UNIX_EPOCH;
        let session = Session {
            id: "s".to_owned(),
            account_id: AccountId::new(),
            token_hash: "h".to_owned(),
            amr: vec![],
            acr: "1".to_owned(),
            auth_time: t0,
            created_at: t0,
            last_seen_at: t0,
            expires_at: t0 + TimeDelta::days(1),
            revoked_at: None,
            user_agent: None,
            ip: None,
        };
        assert!(session.satisfies_max_age(None, t0 + TimeDelta::hours(5)));
        assert!(session.satisfies_max_age(Some(300), t0 + TimeDelta::seconds(300)));
        assert!(!session.satisfies_max_age(Some(300), t0 + TimeDelta::seconds(301)));
        assert!(session.is_live(t0));
        assert!(!session.is_live(t0 + TimeDelta::days(1)));
    }
}
