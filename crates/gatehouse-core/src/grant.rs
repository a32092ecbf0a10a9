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
    /// RFC 9449 §5: the thumbprint of the DPoP key a public client's refresh tokens
    /// are bound to; a refresh needs a proof made with that key.
    pub dpop_jkt: Option<String>,
}

/// Why an authorization code is not exchanged (`invalid_grant`, RFC 6749 §5.2). The
/// text is the answer's `error_description`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefusal {
    #[error("the code is invalid")]
    Unknown,
    #[error("the code was issued to another client")]
    OtherClient,
    /// A second use: whoever holds the code is not the client that redeemed it first,
    /// so the caller revokes what the first exchange issued (RFC 6749 §4.1.2, §10.5).
    #[error("the code was already used")]
    Replayed,
    #[error("the code has expired")]
    Expired,
    #[error("redirect_uri does not match the authorization request")]
    RedirectUriMismatch,
    #[error("code_verifier does not match the code_challenge")]
    VerifierMismatch,
    #[error("the account can no longer sign in")]
    AccountCannotSignIn,
}

/// What a token request presents with a code (RFC 6749 §4.1.3, RFC 7636 §4.5).
#[derive(Clone, Copy, Debug)]
pub struct CodeExchange<'a> {
    /// The authenticated client.
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_verifier: &'a str,
}

impl AuthorizationCode {
    /// The rules of a code's exchange, in their order. `spend` marks the code used in
    /// the store, atomically, and says whether this request was the first to do so.
    /// Another client's code is refused before it is spent (nobody can burn a code
    /// they were not given); once spent, a second use is [`CodeRefusal::Replayed`]
    /// whatever else is wrong with it, then expiry, `redirect_uri` and PKCE.
    pub fn redeem<E>(
        &self,
        exchange: &CodeExchange<'_>,
        now: DateTime<Utc>,
        spend: impl FnOnce() -> Result<bool, E>,
    ) -> Result<Result<(), CodeRefusal>, E> {
        if self.client_id != exchange.client_id {
            return Ok(Err(CodeRefusal::OtherClient));
        }
        if !spend()? {
            return Ok(Err(CodeRefusal::Replayed));
        }
        Ok(if now >= self.expires_at {
            Err(CodeRefusal::Expired)
        } else if self.redirect_uri != exchange.redirect_uri {
            Err(CodeRefusal::RedirectUriMismatch)
        } else if !crate::pkce::verify_s256(exchange.code_verifier, &self.code_challenge) {
            Err(CodeRefusal::VerifierMismatch)
        } else {
            Ok(())
        })
    }
}

/// Why a refresh token is not exchanged. The text is the answer's `error_description`;
/// [`RefreshRefusal::ScopeExceeded`] is `invalid_scope`, every other `invalid_grant`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefreshRefusal {
    #[error("the refresh token is invalid")]
    Unknown,
    #[error("the refresh token was issued to another client")]
    OtherClient,
    #[error("the refresh token was revoked")]
    Revoked,
    /// Refused before the token is spent: it stays usable.
    #[error("scope exceeds what was granted")]
    ScopeExceeded,
    /// Used before: someone holds a copy. The caller revokes the whole family and its
    /// session (OAuth 2.0 Security BCP §4.14.2).
    #[error("the refresh token was already used")]
    Reused,
    #[error("the refresh token has expired")]
    Expired,
    #[error("the session has ended")]
    SessionEnded,
    #[error("the account can no longer sign in")]
    AccountCannotSignIn,
    /// Refused before the token is spent (RFC 9449 §5): it is bound to a DPoP key the
    /// request did not prove.
    #[error("the refresh token is bound to another DPoP key")]
    OtherDpopKey,
}

impl RefreshToken {
    /// The rules of a refresh (RFC 6749 §6), in their order; on success, the scopes of
    /// the new access token. `spend` marks the token used in the store, atomically,
    /// and says whether this request was the first. A refusal that is the caller's
    /// mistake (another client, a revoked token, too wide a `scope`) comes before the
    /// token is spent: a refused request must not burn it (its next use would read as
    /// reuse and end the session).
    pub fn redeem<E>(
        &self,
        client_id: &str,
        requested_scope: Option<&str>,
        now: DateTime<Utc>,
        spend: impl FnOnce() -> Result<bool, E>,
    ) -> Result<Result<Vec<String>, RefreshRefusal>, E> {
        if self.client_id != client_id {
            return Ok(Err(RefreshRefusal::OtherClient));
        }
        if self.revoked_at.is_some() {
            return Ok(Err(RefreshRefusal::Revoked));
        }
        let Some(scopes) = narrowed(requested_scope, &self.scopes) else {
            return Ok(Err(RefreshRefusal::ScopeExceeded));
        };
        if !spend()? {
            return Ok(Err(RefreshRefusal::Reused));
        }
        if now >= self.expires_at {
            return Ok(Err(RefreshRefusal::Expired));
        }
        Ok(Ok(scopes))
    }
}

/// A requested `scope` narrowed from what was granted (RFC 6749 §3.3, §6), or all of
/// it when none is requested; `None` when it asks for anything not granted (or is
/// empty).
pub fn narrowed(requested: Option<&str>, granted: &[String]) -> Option<Vec<String>> {
    let Some(requested) = requested else {
        return Some(granted.to_vec());
    };
    let scopes: Vec<String> = requested
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!scopes.is_empty() && scopes.iter().all(|s| granted.contains(s))).then_some(scopes)
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

    /// A fixed instant: the rules take time as a parameter.
    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn code() -> AuthorizationCode {
        AuthorizationCode {
            code_hash: "c".to_owned(),
            client_id: "rp".to_owned(),
            account_id: AccountId::new(),
            session_id: "s".to_owned(),
            redirect_uri: "https://rp.example/cb".to_owned(),
            scopes: vec!["openid".to_owned()],
            nonce: None,
            claims: None,
            code_challenge: CHALLENGE.to_owned(),
            auth_time: t0(),
            amr: vec!["pwd".to_owned()],
            acr: "1".to_owned(),
            created_at: t0(),
            expires_at: t0() + CODE_TTL,
            used_at: None,
        }
    }

    const EXCHANGE: CodeExchange<'static> = CodeExchange {
        client_id: "rp",
        redirect_uri: "https://rp.example/cb",
        code_verifier: VERIFIER,
    };

    /// The verdict, and whether the code was spent on the way.
    fn redeem_code(
        code: &AuthorizationCode,
        exchange: &CodeExchange<'_>,
        now: DateTime<Utc>,
        first_use: bool,
    ) -> (Result<(), CodeRefusal>, bool) {
        let mut spent = false;
        let verdict = code.redeem(exchange, now, || {
            spent = true;
            Ok::<_, std::convert::Infallible>(first_use)
        });
        match verdict {
            Ok(verdict) => (verdict, spent),
            Err(never) => match never {},
        }
    }

    #[test]
    fn a_fresh_code_with_the_right_proofs_is_redeemed_and_spent() {
        let last_instant = t0() + CODE_TTL - TimeDelta::seconds(1);
        assert_eq!(
            redeem_code(&code(), &EXCHANGE, last_instant, true),
            (Ok(()), true)
        );
    }

    #[test]
    fn another_clients_code_is_refused_without_spending_it() {
        let exchange = CodeExchange {
            client_id: "other",
            ..EXCHANGE
        };
        assert_eq!(
            redeem_code(&code(), &exchange, t0(), true),
            (Err(CodeRefusal::OtherClient), false)
        );
    }

    #[test]
    fn a_second_use_is_a_replay_before_anything_else() {
        // Even expired and with a wrong verifier: the replay is what the caller acts on.
        let exchange = CodeExchange {
            code_verifier: "x",
            ..EXCHANGE
        };
        assert_eq!(
            redeem_code(&code(), &exchange, t0() + TimeDelta::hours(1), false),
            (Err(CodeRefusal::Replayed), true)
        );
    }

    #[test]
    fn an_expired_code_is_refused_at_its_expiry() {
        assert_eq!(
            redeem_code(&code(), &EXCHANGE, t0() + CODE_TTL, true),
            (Err(CodeRefusal::Expired), true)
        );
    }

    #[test]
    fn the_redirect_uri_must_be_the_requests() {
        let exchange = CodeExchange {
            redirect_uri: "https://rp.example/cb/",
            ..EXCHANGE
        };
        assert_eq!(
            redeem_code(&code(), &exchange, t0(), true),
            (Err(CodeRefusal::RedirectUriMismatch), true)
        );
    }

    #[test]
    fn the_verifier_must_match_the_challenge() {
        let other = "a".repeat(43);
        let exchange = CodeExchange {
            code_verifier: &other,
            ..EXCHANGE
        };
        assert_eq!(
            redeem_code(&code(), &exchange, t0(), true),
            (Err(CodeRefusal::VerifierMismatch), true)
        );
    }

    #[test]
    fn a_store_failure_while_spending_is_handed_back() {
        let failed: Result<_, &str> = code().redeem(&EXCHANGE, t0(), || Err("down"));
        assert_eq!(failed, Err("down"));
    }

    fn refresh_token() -> RefreshToken {
        RefreshToken {
            token_hash: "r".to_owned(),
            family_id: "c".to_owned(),
            client_id: "rp".to_owned(),
            account_id: AccountId::new(),
            session_id: "s".to_owned(),
            scopes: vec!["openid".to_owned(), "email".to_owned()],
            auth_time: t0(),
            amr: vec!["pwd".to_owned()],
            acr: "1".to_owned(),
            created_at: t0(),
            expires_at: t0() + TimeDelta::days(30),
            used_at: None,
            revoked_at: None,
            dpop_jkt: None,
        }
    }

    /// The verdict, and whether the token was spent on the way.
    fn refresh(
        token: &RefreshToken,
        client_id: &str,
        scope: Option<&str>,
        now: DateTime<Utc>,
        first_use: bool,
    ) -> (Result<Vec<String>, RefreshRefusal>, bool) {
        let mut spent = false;
        let verdict = token.redeem(client_id, scope, now, || {
            spent = true;
            Ok::<_, std::convert::Infallible>(first_use)
        });
        match verdict {
            Ok(verdict) => (verdict, spent),
            Err(never) => match never {},
        }
    }

    fn scopes(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_live_refresh_token_rotates_with_its_scopes_or_fewer() {
        let token = refresh_token();
        let last_instant = token.expires_at - TimeDelta::seconds(1);
        assert_eq!(
            refresh(&token, "rp", None, last_instant, true),
            (Ok(scopes(&["openid", "email"])), true)
        );
        assert_eq!(
            refresh(&token, "rp", Some("email"), t0(), true),
            (Ok(scopes(&["email"])), true)
        );
    }

    #[test]
    fn refusals_of_the_callers_own_making_leave_the_token_unspent() {
        let token = refresh_token();
        assert_eq!(
            refresh(&token, "other", None, t0(), true),
            (Err(RefreshRefusal::OtherClient), false)
        );
        assert_eq!(
            refresh(&token, "rp", Some("openid admin"), t0(), true),
            (Err(RefreshRefusal::ScopeExceeded), false)
        );
        let revoked = RefreshToken {
            revoked_at: Some(t0()),
            ..refresh_token()
        };
        assert_eq!(
            refresh(&revoked, "rp", None, t0(), true),
            (Err(RefreshRefusal::Revoked), false)
        );
    }

    #[test]
    fn a_rotated_token_used_again_is_reuse() {
        let expired_too = t0() + TimeDelta::days(31);
        assert_eq!(
            refresh(&refresh_token(), "rp", None, expired_too, false),
            (Err(RefreshRefusal::Reused), true)
        );
    }

    #[test]
    fn an_expired_refresh_token_is_refused_at_its_expiry() {
        let token = refresh_token();
        assert_eq!(
            refresh(&token, "rp", None, token.expires_at, true),
            (Err(RefreshRefusal::Expired), true)
        );
    }

    #[test]
    fn a_scope_is_narrowed_never_widened() {
        let granted = scopes(&["openid", "email"]);
        assert_eq!(narrowed(None, &granted), Some(granted.clone()));
        assert_eq!(
            narrowed(Some("email  openid"), &granted),
            Some(scopes(&["email", "openid"]))
        );
        assert_eq!(narrowed(Some("profile"), &granted), None);
        assert_eq!(narrowed(Some(""), &granted), None);
        assert_eq!(narrowed(Some(" "), &granted), None);
    }

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
