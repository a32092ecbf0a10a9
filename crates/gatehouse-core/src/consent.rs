//! Consent: what a user agreed to share with a client that is not first-party, and
//! the rules that decide when to ask again (OIDC Core §3.1.2.4, `prompt` §3.1.2.1).
//!
//! A grant is remembered per (account, client) as the set of scopes granted so far.
//! A request is covered when every scope it asks for is in that set; otherwise the
//! user is asked for what is missing (the view shows what was granted before).

use chrono::{DateTime, Utc};

use crate::account::AccountId;
use crate::authorization::Prompt;
use crate::client::Client;

/// The scope every OpenID request carries: it is never a choice on the consent screen.
pub const OPENID: &str = "openid";

/// What an account has granted a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentGrant {
    pub account_id: AccountId,
    pub client_id: String,
    /// The scopes granted, `openid` included, in the order first granted.
    pub scopes: Vec<String>,
    pub granted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What to do about consent for a request, once the user is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsentDecision {
    /// First-party client, or a remembered grant covers every scope asked for.
    Covered,
    /// Ask the user; `missing` are the scopes no grant covers yet (all of them with
    /// `prompt=consent`).
    Ask { missing: Vec<String> },
    /// `prompt=none` and the user would have to be asked: `consent_required`.
    Required,
}

/// The scopes of `requested` that `granted` does not cover.
pub fn not_granted(requested: &[String], granted: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|s| !granted.contains(s))
        .cloned()
        .collect()
}

/// Whether the user must be asked, for a request of `client` for `requested` with
/// `prompt`, given the remembered grant (if any).
pub fn decide(
    client: &Client,
    requested: &[String],
    prompt: Prompt,
    grant: Option<&ConsentGrant>,
) -> ConsentDecision {
    if client.first_party {
        return ConsentDecision::Covered;
    }
    let missing = match grant {
        // `prompt=consent`: the user confirms again, whatever was granted.
        Some(_) if prompt.consent => requested.to_vec(),
        Some(grant) => not_granted(requested, &grant.scopes),
        None => requested.to_vec(),
    };
    if missing.is_empty() {
        ConsentDecision::Covered
    } else if prompt.none {
        ConsentDecision::Required
    } else {
        ConsentDecision::Ask { missing }
    }
}

/// Why a consent answer is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error("scope {0:?} was not asked for")]
    NotRequested(String),
}

/// The scopes the code carries once the user kept `kept` of `requested`: those asked
/// for and kept, in the request's order, `openid` always.
pub fn kept_scopes(requested: &[String], kept: &[String]) -> Result<Vec<String>, ConsentError> {
    if let Some(extra) = kept.iter().find(|s| !requested.contains(s)) {
        return Err(ConsentError::NotRequested(extra.clone()));
    }
    Ok(requested
        .iter()
        .filter(|s| *s == OPENID || kept.contains(s))
        .cloned()
        .collect())
}

/// The grant remembered after the user kept `kept`: what was granted before plus
/// what was kept now (a scope left out now is asked again next time, not revoked).
pub fn merged(previous: Option<&[String]>, kept: &[String]) -> Vec<String> {
    let mut scopes: Vec<String> = previous.unwrap_or_default().to_vec();
    for scope in kept {
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::test_client;

    fn client(first_party: bool) -> Client {
        Client {
            name: "Partner".to_owned(),
            first_party,
            refresh_without_offline_access: first_party,
            ..test_client("partner", "https://partner.example/cb")
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    fn grant(scopes: &[&str]) -> ConsentGrant {
        ConsentGrant {
            account_id: AccountId::new(),
            client_id: "partner".to_owned(),
            scopes: s(scopes),
            granted_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    const NO_PROMPT: Prompt = Prompt {
        none: false,
        login: false,
        consent: false,
    };

    #[test]
    fn first_party_clients_are_never_asked() {
        let prompt = Prompt {
            consent: true,
            ..NO_PROMPT
        };
        let decision = decide(&client(true), &s(&["openid", "email"]), prompt, None);
        assert_eq!(decision, ConsentDecision::Covered);
    }

    #[test]
    fn a_third_party_client_without_a_grant_asks_for_everything() {
        let decision = decide(&client(false), &s(&["openid", "email"]), NO_PROMPT, None);
        assert_eq!(
            decision,
            ConsentDecision::Ask {
                missing: s(&["openid", "email"])
            }
        );
    }

    #[test]
    fn a_covering_grant_is_remembered_and_a_new_scope_is_asked() {
        let g = grant(&["openid", "email"]);
        assert_eq!(
            decide(&client(false), &s(&["openid"]), NO_PROMPT, Some(&g)),
            ConsentDecision::Covered
        );
        assert_eq!(
            decide(
                &client(false),
                &s(&["openid", "email"]),
                NO_PROMPT,
                Some(&g)
            ),
            ConsentDecision::Covered
        );
        assert_eq!(
            decide(
                &client(false),
                &s(&["openid", "email", "profile"]),
                NO_PROMPT,
                Some(&g)
            ),
            ConsentDecision::Ask {
                missing: s(&["profile"])
            }
        );
    }

    #[test]
    fn prompt_consent_asks_again_and_prompt_none_cannot_ask() {
        let g = grant(&["openid", "email"]);
        let consent = Prompt {
            consent: true,
            ..NO_PROMPT
        };
        assert_eq!(
            decide(&client(false), &s(&["openid", "email"]), consent, Some(&g)),
            ConsentDecision::Ask {
                missing: s(&["openid", "email"])
            }
        );
        let none = Prompt {
            none: true,
            ..NO_PROMPT
        };
        assert_eq!(
            decide(&client(false), &s(&["openid"]), none, None),
            ConsentDecision::Required
        );
        assert_eq!(
            decide(&client(false), &s(&["openid", "email"]), none, Some(&g)),
            ConsentDecision::Covered
        );
    }

    #[test]
    fn kept_scopes_keep_openid_and_refuse_what_was_not_asked() {
        let requested = s(&["openid", "email", "profile"]);
        assert_eq!(
            kept_scopes(&requested, &s(&["profile"])),
            Ok(s(&["openid", "profile"]))
        );
        assert_eq!(kept_scopes(&requested, &[]), Ok(s(&["openid"])));
        assert_eq!(
            kept_scopes(&requested, &s(&["offline_access"])),
            Err(ConsentError::NotRequested("offline_access".to_owned()))
        );
    }

    #[test]
    fn a_grant_grows_with_what_is_kept() {
        assert_eq!(
            merged(Some(&s(&["openid", "email"])), &s(&["openid", "profile"])),
            s(&["openid", "email", "profile"])
        );
        assert_eq!(merged(None, &s(&["openid"])), s(&["openid"]));
    }
}
