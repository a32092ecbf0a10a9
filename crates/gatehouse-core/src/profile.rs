//! The fields a user edits on their own profile, and the rules each must meet. A
//! change is checked field by field so that every bad field is reported at once.

use crate::account::Account;
use crate::migration::{is_language_tag, is_zone_name};

/// Names are free text, but bounded and printable.
pub const MAX_NAME_CHARS: usize = 100;
/// BCP 47 allows long tags; none a user picks is longer than this.
pub const MAX_LOCALE_CHARS: usize = 35;

/// One refused field: its name and a stable code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
}

impl FieldError {
    pub fn new(field: &str, code: &'static str) -> Self {
        Self {
            field: field.to_owned(),
            code,
        }
    }
}

/// A requested change of one field: `None` clears it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileChange {
    GivenName(Option<String>),
    FamilyName(Option<String>),
    Locale(Option<String>),
    Zoneinfo(Option<String>),
    AnalyticsConsent(bool),
}

/// A given or family name: trimmed, empty means none, at most 100 characters, no
/// control characters.
pub fn check_name(raw: &str) -> Result<Option<String>, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err("name_invalid");
    }
    Ok(Some(name.to_owned()))
}

/// A BCP 47 language tag such as `ja` or `en-GB`.
pub fn check_locale(raw: &str) -> Result<String, &'static str> {
    let tag = raw.trim();
    if tag.len() > MAX_LOCALE_CHARS || !is_language_tag(tag) {
        return Err("locale_invalid");
    }
    Ok(tag.to_owned())
}

/// An IANA time zone name such as `Etc/UTC` or `Asia/Tokyo`.
pub fn check_zoneinfo(raw: &str) -> Result<String, &'static str> {
    let zone = raw.trim();
    if !is_zone_name(zone) {
        return Err("zoneinfo_invalid");
    }
    Ok(zone.to_owned())
}

/// Reads a JSON merge patch (RFC 7396) of the editable profile fields. A missing
/// member is left alone, `null` clears a field. Every refused member is reported.
pub fn parse_patch(
    patch: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<ProfileChange>, Vec<FieldError>> {
    use serde_json::Value;
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    for (field, value) in patch {
        let text = |check: fn(&str) -> Result<Option<String>, &'static str>| match value {
            Value::Null => Ok(None),
            Value::String(s) => check(s),
            _ => Err("type_invalid"),
        };
        let outcome = match field.as_str() {
            "given_name" => text(check_name).map(ProfileChange::GivenName),
            "family_name" => text(check_name).map(ProfileChange::FamilyName),
            "locale" => text(|s| check_locale(s).map(Some)).map(ProfileChange::Locale),
            "zoneinfo" => text(|s| check_zoneinfo(s).map(Some)).map(ProfileChange::Zoneinfo),
            "analytics_consent" => match value {
                Value::Bool(b) => Ok(ProfileChange::AnalyticsConsent(*b)),
                _ => Err("type_invalid"),
            },
            "email" | "email_verified" | "username" | "mfa" | "id" | "sub" => Err("read_only"),
            _ => Err("unknown_field"),
        };
        match outcome {
            Ok(change) => changes.push(change),
            Err(code) => errors.push(FieldError::new(field, code)),
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

/// Applies checked changes; true when anything differs.
pub fn apply(account: &mut Account, changes: Vec<ProfileChange>) -> bool {
    let before = account.clone();
    for change in changes {
        match change {
            ProfileChange::GivenName(v) => account.given_name = v,
            ProfileChange::FamilyName(v) => account.family_name = v,
            ProfileChange::Locale(v) => account.locale = v,
            ProfileChange::Zoneinfo(v) => account.zoneinfo = v,
            ProfileChange::AnalyticsConsent(v) => account.analytics_consent = v,
        }
    }
    *account != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(v: serde_json::Value) -> Result<Vec<ProfileChange>, Vec<FieldError>> {
        match v {
            serde_json::Value::Object(map) => parse_patch(&map),
            _ => Err(vec![]),
        }
    }

    #[test]
    fn good_values_are_accepted_and_null_clears() {
        let changes = patch(json!({
            "given_name": " Rie ", "family_name": null, "locale": "ja-JP",
            "zoneinfo": "Asia/Tokyo", "analytics_consent": true
        }))
        .unwrap_or_default();
        assert_eq!(changes.len(), 5);
        assert!(changes.contains(&ProfileChange::GivenName(Some("Rie".to_owned()))));
        assert!(changes.contains(&ProfileChange::FamilyName(None)));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = patch(json!({
            "given_name": "a\u{0007}", "locale": "not a tag", "zoneinfo": "Asia//Tokyo",
            "analytics_consent": "yes", "email": "x@example.com", "colour": "red"
        }))
        .err()
        .unwrap_or_default();
        let mut codes: Vec<(String, &str)> =
            errors.into_iter().map(|e| (e.field, e.code)).collect();
        codes.sort();
        assert_eq!(
            codes,
            vec![
                ("analytics_consent".to_owned(), "type_invalid"),
                ("colour".to_owned(), "unknown_field"),
                ("email".to_owned(), "read_only"),
                ("given_name".to_owned(), "name_invalid"),
                ("locale".to_owned(), "locale_invalid"),
                ("zoneinfo".to_owned(), "zoneinfo_invalid"),
            ]
        );
    }

    #[test]
    fn names_are_bounded() {
        assert_eq!(check_name(&"a".repeat(100)).map(|n| n.is_some()), Ok(true));
        assert_eq!(check_name(&"a".repeat(101)), Err("name_invalid"));
        assert_eq!(check_name("   "), Ok(None));
    }
}
