//! Legacy usernames: kept from an old sign-in system only so that existing users can
//! still log in during the grace period (scenario B). New accounts never get one.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use unicode_normalization::UnicodeNormalization;

pub const MAX_USERNAME_CHARS: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("the username is empty")]
    Empty,
    #[error("the username is longer than {MAX_USERNAME_CHARS} characters")]
    TooLong,
    #[error("the username contains a control character")]
    ControlCharacter,
}

/// A username as the old system knew it. Compared case-insensitively after NFKC,
/// so `ＢＯＢ` (full-width) and `bob` are one name, as a Japanese IME user expects.
#[derive(Clone)]
pub struct LegacyUsername {
    display: String,
    normalized: String,
}

impl LegacyUsername {
    pub fn parse(input: &str) -> Result<Self, UsernameError> {
        let display = input.trim().to_owned();
        if display.is_empty() {
            return Err(UsernameError::Empty);
        }
        if display.chars().any(char::is_control) {
            return Err(UsernameError::ControlCharacter);
        }
        if display.chars().count() > MAX_USERNAME_CHARS {
            return Err(UsernameError::TooLong);
        }
        // NFKC again after lower-casing (a few characters lower-case into non-NFKC
        // sequences), and trimming last (NFKC can expand a character into a space).
        let folded: String = display
            .nfkc()
            .collect::<String>()
            .to_lowercase()
            .nfkc()
            .collect();
        let normalized = folded.trim().to_owned();
        if normalized.is_empty() {
            return Err(UsernameError::Empty);
        }
        Ok(Self {
            display,
            normalized,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

impl PartialEq for LegacyUsername {
    fn eq(&self, other: &Self) -> bool {
        self.normalized == other.normalized
    }
}

impl Eq for LegacyUsername {}

impl std::hash::Hash for LegacyUsername {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normalized.hash(state);
    }
}

impl fmt::Debug for LegacyUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LegacyUsername")
            .field(&self.display)
            .finish()
    }
}

impl fmt::Display for LegacyUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl Serialize for LegacyUsername {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.display)
    }
}

impl<'de> Deserialize<'de> for LegacyUsername {
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
    fn compares_case_and_width_insensitively() {
        let a = LegacyUsername::parse("ＢＯＢ").unwrap();
        let b = LegacyUsername::parse(" bob ").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "ＢＯＢ");
        assert_eq!(b.as_str(), "bob");
    }

    #[test]
    fn refuses_empty_long_and_control() {
        assert_eq!(LegacyUsername::parse(" \t"), Err(UsernameError::Empty));
        assert_eq!(
            LegacyUsername::parse("a\u{0}b"),
            Err(UsernameError::ControlCharacter)
        );
        assert_eq!(
            LegacyUsername::parse(&"名".repeat(MAX_USERNAME_CHARS + 1)),
            Err(UsernameError::TooLong)
        );
        assert!(LegacyUsername::parse(&"名".repeat(MAX_USERNAME_CHARS)).is_ok());
    }

    proptest! {
        #[test]
        fn normalised_form_is_stable(input in "\\PC{1,40}") {
            if let Ok(name) = LegacyUsername::parse(&input) {
                let again = LegacyUsername::parse(name.normalized());
                prop_assert_eq!(again.map(|n| n.normalized().to_owned()), Ok(name.normalized().to_owned()));
            }
        }
    }
}
