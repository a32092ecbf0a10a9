//! What a user types in the login form's first field: an e-mail address, or, while
//! usernames are being retired (scenario B), a legacy username.

use crate::email::{Email, EmailError};
use crate::username::{LegacyUsername, UsernameError};
use serde::{Deserialize, Serialize};

/// Whether legacy usernames may still be used to log in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierPolicy {
    /// Usernames log in like e-mail addresses.
    Allowed,
    /// Usernames still log in, and the answer tells the UI to ask for the e-mail instead.
    #[default]
    Warn,
    /// Only e-mail addresses log in.
    Disabled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("enter your e-mail address")]
    Empty,
    #[error("the e-mail address is not valid")]
    InvalidEmail,
    #[error("log in with your e-mail address; usernames are no longer accepted")]
    UsernameNotAccepted,
    #[error("the username is not valid")]
    InvalidUsername,
}

/// A parsed login identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginIdentifier {
    Email(Email),
    /// `deprecated` is set under [`IdentifierPolicy::Warn`].
    Username {
        username: LegacyUsername,
        deprecated: bool,
    },
}

impl LoginIdentifier {
    /// Anything with an `@` is read as an e-mail address; anything else is a username,
    /// accepted only as far as `policy` allows.
    ///
    /// A legacy username that itself contains `@` but is not a valid address is still
    /// a username; one that *is* a valid address is parsed as an e-mail, and the caller
    /// may fall back to a username look-up (policy permitting) when no account has it.
    pub fn parse(input: &str, policy: IdentifierPolicy) -> Result<Self, IdentifierError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(IdentifierError::Empty);
        }
        if trimmed.contains('@') {
            match Email::parse(trimmed) {
                Ok(email) => return Ok(Self::Email(email)),
                Err(EmailError::Empty) => return Err(IdentifierError::Empty),
                Err(_) if policy == IdentifierPolicy::Disabled => {
                    return Err(IdentifierError::InvalidEmail);
                }
                Err(_) => {}
            }
        }
        if policy == IdentifierPolicy::Disabled {
            return Err(IdentifierError::UsernameNotAccepted);
        }
        let username = LegacyUsername::parse(trimmed).map_err(|e| match e {
            UsernameError::Empty => IdentifierError::Empty,
            UsernameError::TooLong | UsernameError::ControlCharacter => {
                IdentifierError::InvalidUsername
            }
        })?;
        Ok(Self::Username {
            username,
            deprecated: policy == IdentifierPolicy::Warn,
        })
    }

    /// True when the UI should tell the user to use their e-mail address instead.
    pub fn is_deprecated(&self) -> bool {
        matches!(
            self,
            Self::Username {
                deprecated: true,
                ..
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::IdentifierPolicy::*;
    use super::*;
    use proptest::prelude::*;

    fn email(s: &str) -> LoginIdentifier {
        LoginIdentifier::Email(Email::parse(s).unwrap())
    }

    fn username(s: &str, deprecated: bool) -> LoginIdentifier {
        LoginIdentifier::Username {
            username: LegacyUsername::parse(s).unwrap(),
            deprecated,
        }
    }

    #[test]
    fn e_mail_addresses_log_in_under_every_policy() {
        for policy in [Allowed, Warn, Disabled] {
            assert_eq!(
                LoginIdentifier::parse(" Rie@Example.com ", policy),
                Ok(email("rie@example.com"))
            );
        }
    }

    #[test]
    fn usernames_follow_the_policy() {
        assert_eq!(
            LoginIdentifier::parse("rtanaka", Allowed),
            Ok(username("rtanaka", false))
        );
        let warned = LoginIdentifier::parse("rtanaka", Warn);
        assert_eq!(warned, Ok(username("rtanaka", true)));
        assert!(warned.is_ok_and(|w| w.is_deprecated()));
        assert_eq!(
            LoginIdentifier::parse("rtanaka", Disabled),
            Err(IdentifierError::UsernameNotAccepted)
        );
    }

    #[test]
    fn an_at_sign_that_is_no_address_is_a_username_unless_usernames_are_off() {
        assert_eq!(
            LoginIdentifier::parse("rie@corp", Allowed),
            Ok(username("rie@corp", false))
        );
        assert_eq!(
            LoginIdentifier::parse("rie@corp", Disabled),
            Err(IdentifierError::InvalidEmail)
        );
    }

    #[test]
    fn empty_and_invalid_input() {
        for policy in [Allowed, Warn, Disabled] {
            assert_eq!(
                LoginIdentifier::parse("  ", policy),
                Err(IdentifierError::Empty)
            );
        }
        assert_eq!(
            LoginIdentifier::parse("a\u{1}b", Allowed),
            Err(IdentifierError::InvalidUsername)
        );
    }

    #[test]
    fn policy_reads_from_config_words() {
        let parsed: Result<Vec<IdentifierPolicy>, _> = ["allowed", "warn", "disabled"]
            .iter()
            .map(|w| serde_plain(w))
            .collect();
        assert_eq!(parsed, Ok(vec![Allowed, Warn, Disabled]));
    }

    fn serde_plain(word: &str) -> Result<IdentifierPolicy, String> {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};
        let de: StrDeserializer<'_, Error> = word.into_deserializer();
        IdentifierPolicy::deserialize(de).map_err(|e| e.to_string())
    }

    proptest! {
        #[test]
        fn disabled_policy_only_ever_yields_e_mail(input in "\\PC{0,60}") {
            if let Ok(id) = LoginIdentifier::parse(&input, Disabled) {
                prop_assert!(matches!(id, LoginIdentifier::Email(_)));
            }
        }

        #[test]
        fn parsing_is_total_and_case_insensitive(input in "[a-zA-Z0-9@._-]{1,40}") {
            let lower = LoginIdentifier::parse(&input.to_lowercase(), Allowed);
            let upper = LoginIdentifier::parse(&input.to_uppercase(), Allowed);
            prop_assert_eq!(lower, upper);
        }
    }
}
