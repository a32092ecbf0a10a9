//! E-mail addresses: validated, normalised for uniqueness, original kept for display.
//!
//! Normalisation is Unicode NFC followed by lower-casing of the whole address.
//! RFC 5321 lets the local part be case-sensitive, but no mail system a user meets
//! treats `Rie@` and `rie@` as two people, and Keycloak, Ory and Auth0 all compare
//! addresses case-insensitively; doing the same avoids duplicate accounts.

use email_address::{EmailAddress, Options};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::hash::{Hash, Hasher};
use unicode_normalization::UnicodeNormalization;

/// RFC 5321 §4.5.3.1.3: a path holds at most 256 octets, so an address at most 254.
pub const MAX_EMAIL_LENGTH: usize = 254;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the e-mail address is empty")]
    Empty,
    #[error("the e-mail address is longer than {MAX_EMAIL_LENGTH} bytes")]
    TooLong,
    #[error("the e-mail address is not valid")]
    Invalid,
}

impl EmailError {
    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Empty => "email_missing",
            Self::TooLong | Self::Invalid => "email_invalid",
        }
    }
}

/// A syntactically valid address. Equality and hashing use the normalised form.
#[derive(Clone)]
pub struct Email {
    display: String,
    normalized: String,
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let display: String = input.trim().nfc().collect();
        if display.is_empty() {
            return Err(EmailError::Empty);
        }
        if display.len() > MAX_EMAIL_LENGTH {
            return Err(EmailError::TooLong);
        }
        // Whitespace and control characters are legal only inside quoted local parts,
        // which no real sign-up form produces; refusing them keeps mail headers safe.
        if display.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::Invalid);
        }
        let options = Options::default()
            .with_required_tld()
            .without_domain_literal()
            .without_display_text();
        EmailAddress::parse_with_options(&display, options).map_err(|_| EmailError::Invalid)?;
        let normalized = display.to_lowercase();
        Ok(Self {
            display,
            normalized,
        })
    }

    /// The address as the user typed it (trimmed, NFC): use it to send mail and to show it.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form used for uniqueness and look-up.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// A label safe to show before the user has proven who they are: `r***@example.com`.
    pub fn masked(&self) -> String {
        let (local, domain) = self.display.rsplit_once('@').unwrap_or(("", &self.display));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.normalized == other.normalized
    }
}

impl Eq for Email {}

impl Hash for Email {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.normalized.hash(state);
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Email").field(&self.display).finish()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.display)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_display_form_and_normalises_for_uniqueness() {
        let email = Email::parse("  Rie.Tanaka@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Rie.Tanaka@Example.COM");
        assert_eq!(email.normalized(), "rie.tanaka@example.com");
        assert_eq!(email, Email::parse("rie.tanaka@example.com").unwrap());
    }

    #[test]
    fn composed_and_decomposed_accents_are_one_address() {
        let composed = Email::parse("jos\u{e9}@example.com");
        let decomposed = Email::parse("jose\u{301}@example.com");
        assert!(composed.is_ok());
        assert_eq!(composed, decomposed);
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "plainaddress",
            "@example.com",
            "user@",
            "user@localhost",
            "user@[127.0.0.1]",
            "Rie <rie@example.com>",
            "two@@example.com",
            "sp ace@example.com",
            "new\nline@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad:?}");
        }
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn masks_all_but_the_first_character_of_the_local_part() {
        let email = Email::parse("rie@example.com").unwrap();
        assert_eq!(email.masked(), "r***@example.com");
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent_and_case_insensitive(
            local in "[a-zA-Z0-9._%+-]{1,20}",
            domain in "[a-zA-Z0-9-]{1,20}",
        ) {
            prop_assume!(!local.starts_with('.') && !local.ends_with('.') && !local.contains(".."));
            prop_assume!(!domain.starts_with('-') && !domain.ends_with('-'));
            let raw = format!("{local}@{domain}.example");
            let email = Email::parse(&raw).unwrap();
            let again = Email::parse(email.normalized()).unwrap();
            prop_assert_eq!(again.normalized(), email.normalized());
            let upper = Email::parse(&raw.to_uppercase()).unwrap();
            prop_assert_eq!(upper, email);
        }

        #[test]
        fn parse_never_panics(input in "\\PC{0,80}") {
            let _ = Email::parse(&input);
        }
    }
}
