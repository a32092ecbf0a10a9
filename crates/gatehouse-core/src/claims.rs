//! Standard claims (OIDC Core §5.1, §5.4) and the `claims` request parameter (§5.5).
//!
//! A scope grants its claims at `/userinfo`. In the ID token they appear only when the
//! client asks for them by name in the `claims` parameter's `id_token` member (§5.4:
//! with an access token issued, scope claims go to `/userinfo`). A claim is released
//! only with the scope that carries it: the `claims` parameter picks among what the
//! user granted, it never widens it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::account::Account;

/// The claims of the `profile` scope this server has.
pub const PROFILE_CLAIMS: [&str; 7] = [
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "locale",
    "zoneinfo",
    "updated_at",
];

/// The claims of the `email` scope.
pub const EMAIL_CLAIMS: [&str; 2] = ["email", "email_verified"];

/// Every scope this server knows; `offline_access` asks for a refresh token.
pub const SCOPES_SUPPORTED: [&str; 4] = ["openid", "email", "profile", "offline_access"];

/// The scope that carries `claim`, if any.
pub fn scope_of(claim: &str) -> Option<&'static str> {
    if PROFILE_CLAIMS.contains(&claim) {
        Some("profile")
    } else if EMAIL_CLAIMS.contains(&claim) {
        Some("email")
    } else {
        None
    }
}

/// The `claims` request parameter, reduced to what is honoured: the names asked for
/// in each member (`essential` and `value` do not change what a claim says here).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo: Vec<String>,
}

/// The `claims` parameter is not a JSON object of the shape §5.5 describes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the claims parameter is malformed: {0}")]
pub struct MalformedClaims(pub &'static str);

impl ClaimsRequest {
    /// Parses the parameter's JSON (OIDC Core §5.5). Each member's value maps a claim
    /// name to `null` or to an object; unknown members and claim names are ignored.
    pub fn parse(raw: &str) -> Result<Self, MalformedClaims> {
        let value: Value = serde_json::from_str(raw).map_err(|_| MalformedClaims("not JSON"))?;
        let Value::Object(top) = value else {
            return Err(MalformedClaims("not a JSON object"));
        };
        let names = |member: &str| -> Result<Vec<String>, MalformedClaims> {
            match top.get(member) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Object(claims)) => claims
                    .iter()
                    .map(|(name, request)| match request {
                        Value::Null | Value::Object(_) => Ok(name.clone()),
                        _ => Err(MalformedClaims("a claim's request is null or an object")),
                    })
                    .collect(),
                Some(_) => Err(MalformedClaims("id_token and userinfo are objects")),
            }
        };
        Ok(Self {
            id_token: names("id_token")?,
            userinfo: names("userinfo")?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }

    /// Stored form: compact JSON of the names only.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The `profile` claims `account` has (OIDC Core §5.1): `name` from the given and
/// family names, `preferred_username` only while a legacy username is kept,
/// `updated_at` in seconds.
pub fn profile_claims(account: &Account) -> Map<String, Value> {
    let mut claims = Map::new();
    let mut put = |name: &str, value: Option<&str>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            claims.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    };
    put("name", Some(account.full_name().as_str()));
    put("given_name", account.given_name.as_deref());
    put("family_name", account.family_name.as_deref());
    put(
        "preferred_username",
        account.legacy_username.as_ref().map(|u| u.as_str()),
    );
    put("locale", account.locale.as_deref());
    put("zoneinfo", account.zoneinfo.as_deref());
    claims.insert(
        "updated_at".to_owned(),
        Value::from(updated_at(account.updated_at)),
    );
    claims
}

fn updated_at(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

/// The claims of `scopes` for `account`, restricted to `names` when given: what the
/// ID token (with `names` from the `claims` parameter) or `/userinfo` (all of them)
/// carries besides `sub`.
pub fn released(
    account: &Account,
    scopes: &[String],
    names: Option<&[String]>,
) -> Map<String, Value> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let wanted = |claim: &str| names.is_none_or(|names| names.iter().any(|n| n == claim));
    let mut out = Map::new();
    if has("email")
        && let Some(email) = &account.email
    {
        if wanted("email") {
            out.insert("email".to_owned(), Value::String(email.as_str().to_owned()));
        }
        if wanted("email_verified") {
            out.insert(
                "email_verified".to_owned(),
                Value::Bool(account.email_verified),
            );
        }
    }
    if has("profile") {
        for (name, value) in profile_claims(account) {
            if wanted(&name) {
                out.insert(name, value);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountId, AccountStatus, Subject};
    use crate::username::LegacyUsername;

    fn account() -> Account {
        Account {
            id: AccountId::new(),
            subject: Subject::parse("legacy-42").unwrap(),
            email: None,
            email_verified: false,
            legacy_username: Some(LegacyUsername::parse("hanako").unwrap()),
            given_name: Some("Hanako".to_owned()),
            family_name: Some("Yamada".to_owned()),
            locale: Some("ja".to_owned()),
            zoneinfo: Some("Asia/Tokyo".to_owned()),
            status: AccountStatus::Active,
            password_hash: None,
            analytics_consent: false,
            deleted_at: None,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn the_claims_parameter_keeps_the_names_of_each_member() {
        let parsed = ClaimsRequest::parse(
            r#"{"id_token":{"name":null,"locale":{"essential":true}},"userinfo":{"zoneinfo":null},"other":1}"#,
        )
        .unwrap();
        assert_eq!(parsed.id_token, vec!["locale", "name"]);
        assert_eq!(parsed.userinfo, vec!["zoneinfo"]);
        // Stored as the names (serde), not as the parameter's shape.
        let stored: ClaimsRequest = serde_json::from_str(&parsed.to_json()).unwrap();
        assert_eq!(stored, parsed);
        for bad in [
            "",
            "[]",
            "{\"id_token\":[]}",
            "{\"id_token\":{\"name\":1}}",
            "nope",
        ] {
            assert!(ClaimsRequest::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ClaimsRequest::parse("{}").unwrap().is_empty());
    }

    #[test]
    fn profile_claims_come_from_the_account() {
        let claims = profile_claims(&account());
        assert_eq!(claims["name"], "Hanako Yamada");
        assert_eq!(claims["given_name"], "Hanako");
        assert_eq!(claims["family_name"], "Yamada");
        assert_eq!(claims["preferred_username"], "hanako");
        assert_eq!(claims["locale"], "ja");
        assert_eq!(claims["zoneinfo"], "Asia/Tokyo");
        assert_eq!(claims["updated_at"], 1_700_000_000);
        let retired = Account {
            legacy_username: None,
            family_name: None,
            ..account()
        };
        let claims = profile_claims(&retired);
        assert!(!claims.contains_key("preferred_username"));
        assert!(!claims.contains_key("family_name"));
        assert_eq!(claims["name"], "Hanako");
    }

    #[test]
    fn claims_go_with_their_scope_and_the_names_asked_for() {
        let scopes = vec!["openid".to_owned(), "profile".to_owned()];
        let all = released(&account(), &scopes, None);
        assert!(all.contains_key("zoneinfo") && all.contains_key("name"));
        let asked = vec!["name".to_owned(), "email".to_owned()];
        let picked = released(&account(), &scopes, Some(&asked));
        assert_eq!(picked.keys().collect::<Vec<_>>(), vec!["name"]);
        let without_profile = released(&account(), &["openid".to_owned()], Some(&asked));
        assert!(without_profile.is_empty());
        assert_eq!(scope_of("zoneinfo"), Some("profile"));
        assert_eq!(scope_of("email_verified"), Some("email"));
        assert_eq!(scope_of("phone_number"), None);
    }
}
