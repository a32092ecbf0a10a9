//! The password composition policy and its self-description for the frontend checklist.
//!
//! How characters count (after [`super::normalize`]):
//! - length is the number of Unicode scalar values, never bytes: `パスワード` is 5;
//! - uppercase / lowercase are Unicode's `Uppercase` / `Lowercase` properties, so `É`
//!   is uppercase and `ß` lowercase; letters without case (kana, kanji, hangul) count
//!   toward length only;
//! - a digit is `0`–`9` (full-width digits become these through NFKC);
//! - special is every other printable character: punctuation, symbols, spaces, emoji;
//! - control characters are refused outright (`forbidden_character`).

use serde::{Deserialize, Serialize};

/// One rule of the policy. The `code` is stable: the frontend keys its checklist on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordRule {
    TooShort,
    TooLong,
    NeedsUppercase,
    NeedsLowercase,
    NeedsDigit,
    NeedsSpecial,
    ForbiddenCharacter,
    Mismatch,
}

impl PasswordRule {
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::NeedsUppercase => "needs_uppercase",
            Self::NeedsLowercase => "needs_lowercase",
            Self::NeedsDigit => "needs_digit",
            Self::NeedsSpecial => "needs_special",
            Self::ForbiddenCharacter => "forbidden_character",
            Self::Mismatch => "mismatch",
        }
    }
}

/// How many characters of each class a password holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Composition {
    pub length: usize,
    pub uppercase: usize,
    pub lowercase: usize,
    pub digits: usize,
    pub special: usize,
    pub control: usize,
}

impl Composition {
    /// Counts an already normalised password.
    pub fn of(normalized: &str) -> Self {
        normalized.chars().fold(Self::default(), |mut c, ch| {
            c.length += 1;
            if ch.is_control() {
                c.control += 1;
            } else if ch.is_ascii_digit() {
                c.digits += 1;
            } else if ch.is_uppercase() {
                c.uppercase += 1;
            } else if ch.is_lowercase() {
                c.lowercase += 1;
            } else if !ch.is_alphanumeric() {
                c.special += 1;
            }
            c
        })
    }
}

/// A rule as the frontend shows it: "At least 12 characters".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleDescription {
    /// The code of the rule this line is about, as [`PasswordRule::code`].
    pub code: PasswordRule,
    /// The number in the rule, where it has one.
    pub value: Option<usize>,
    /// An English fallback text; frontends localise on `code`.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("password_policy.min_length must be at least 1")]
    ZeroMinimum,
    #[error("password_policy.min_length ({min}) is greater than max_length ({max})")]
    MinAboveMax { min: usize, max: usize },
    #[error(
        "password_policy requires {required} classed characters, more than max_length ({max}) allows"
    )]
    Unsatisfiable { required: usize, max: usize },
}

/// Scenario A's rules by default; every number is configurable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    pub min_uppercase: usize,
    pub min_lowercase: usize,
    pub min_digits: usize,
    pub min_special: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 12,
            max_length: 60,
            min_uppercase: 1,
            min_lowercase: 2,
            min_digits: 1,
            min_special: 2,
        }
    }
}

impl PasswordPolicy {
    /// Refuses a policy no password could meet.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.min_length == 0 {
            return Err(PolicyError::ZeroMinimum);
        }
        if self.min_length > self.max_length {
            return Err(PolicyError::MinAboveMax {
                min: self.min_length,
                max: self.max_length,
            });
        }
        let required = self.min_uppercase + self.min_lowercase + self.min_digits + self.min_special;
        if required > self.max_length {
            return Err(PolicyError::Unsatisfiable {
                required,
                max: self.max_length,
            });
        }
        Ok(())
    }

    /// Every rule the new password breaks, in checklist order; empty when it is acceptable.
    pub fn check(&self, new: &str, confirm: &str) -> Vec<PasswordRule> {
        let normalized = super::normalize(new);
        let c = Composition::of(&normalized);
        let mut broken = Vec::new();
        let mut require = |ok: bool, rule| {
            if !ok {
                broken.push(rule);
            }
        };
        require(c.length >= self.min_length, PasswordRule::TooShort);
        require(c.length <= self.max_length, PasswordRule::TooLong);
        require(
            c.uppercase >= self.min_uppercase,
            PasswordRule::NeedsUppercase,
        );
        require(
            c.lowercase >= self.min_lowercase,
            PasswordRule::NeedsLowercase,
        );
        require(c.digits >= self.min_digits, PasswordRule::NeedsDigit);
        require(c.special >= self.min_special, PasswordRule::NeedsSpecial);
        require(c.control == 0, PasswordRule::ForbiddenCharacter);
        require(
            normalized == super::normalize(confirm),
            PasswordRule::Mismatch,
        );
        broken
    }

    /// The checklist the frontend shows, in the order `check` reports.
    pub fn describe(&self) -> Vec<RuleDescription> {
        fn plural(n: usize, one: &str, many: &str) -> String {
            if n == 1 {
                format!("{n} {one}")
            } else {
                format!("{n} {many}")
            }
        }
        let mut rules = vec![
            (
                PasswordRule::TooShort,
                Some(self.min_length),
                format!(
                    "At least {}",
                    plural(self.min_length, "character", "characters")
                ),
            ),
            (
                PasswordRule::TooLong,
                Some(self.max_length),
                format!(
                    "At most {}",
                    plural(self.max_length, "character", "characters")
                ),
            ),
        ];
        for (rule, n, one, many) in [
            (
                PasswordRule::NeedsUppercase,
                self.min_uppercase,
                "uppercase letter",
                "uppercase letters",
            ),
            (
                PasswordRule::NeedsLowercase,
                self.min_lowercase,
                "lowercase letter",
                "lowercase letters",
            ),
            (
                PasswordRule::NeedsDigit,
                self.min_digits,
                "number",
                "numbers",
            ),
            (
                PasswordRule::NeedsSpecial,
                self.min_special,
                "special character",
                "special characters",
            ),
        ] {
            if n > 0 {
                rules.push((rule, Some(n), format!("At least {}", plural(n, one, many))));
            }
        }
        rules.push((
            PasswordRule::ForbiddenCharacter,
            None,
            "No control characters".to_owned(),
        ));
        rules.push((PasswordRule::Mismatch, None, "Passwords match".to_owned()));
        rules
            .into_iter()
            .map(|(code, value, text)| RuleDescription { code, value, text })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::PasswordRule::*;
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = "Correct-Horse#42";

    fn check(pw: &str) -> Vec<PasswordRule> {
        PasswordPolicy::default().check(pw, pw)
    }

    #[test]
    fn a_password_meeting_every_rule_passes() {
        assert_eq!(check(GOOD), vec![]);
    }

    #[test]
    fn each_rule_alone() {
        assert_eq!(check("Abc1!#"), vec![TooShort]);
        assert_eq!(check(&format!("Abc1!#{}", "x".repeat(55))), vec![TooLong]);
        assert_eq!(check("correct-horse#42"), vec![NeedsUppercase]);
        assert_eq!(check("CORRECT-HORSe#42"), vec![NeedsLowercase]);
        assert_eq!(check("Correct-Horse#xy"), vec![NeedsDigit]);
        assert_eq!(check("Correct-Horse442"), vec![NeedsSpecial]);
        assert_eq!(check("Correct-Horse#42\u{7}"), vec![ForbiddenCharacter]);
        assert_eq!(
            PasswordPolicy::default().check(GOOD, "Correct-Horse#43"),
            vec![Mismatch]
        );
    }

    #[test]
    fn every_broken_rule_is_reported_at_once() {
        assert_eq!(
            PasswordPolicy::default().check("", "x"),
            vec![
                TooShort,
                NeedsUppercase,
                NeedsLowercase,
                NeedsDigit,
                NeedsSpecial,
                Mismatch
            ]
        );
        let long_lower = "a".repeat(61);
        assert_eq!(
            check(&long_lower),
            vec![TooLong, NeedsUppercase, NeedsDigit, NeedsSpecial]
        );
    }

    #[test]
    fn length_boundaries_are_11_12_60_61() {
        let base = "Ab1!#c"; // 6 characters meeting every class rule
        let with_len = |n: usize| format!("{base}{}", "x".repeat(n - base.len()));
        assert_eq!(check(&with_len(11)), vec![TooShort]);
        assert_eq!(check(&with_len(12)), vec![]);
        assert_eq!(check(&with_len(60)), vec![]);
        assert_eq!(check(&with_len(61)), vec![TooLong]);
    }

    #[test]
    fn multibyte_characters_count_once() {
        // 6 kana (18 bytes) + 6 ASCII: 12 characters.
        assert_eq!(check("パスワードだAb1!#c"), vec![]);
        // 54 kana + 6 ASCII = 60 characters but 168 bytes: still within the maximum.
        assert_eq!(check(&format!("{}Ab1!#c", "あ".repeat(54))), vec![]);
        assert_eq!(check(&format!("{}Ab1!#c", "あ".repeat(55))), vec![TooLong]);
        // Kana have no case: they do not satisfy the lowercase rule.
        assert_eq!(check("パスワードですよA1!#"), vec![NeedsLowercase]);
    }

    #[test]
    fn accented_letters_have_case_and_combining_marks_do_not_inflate_length() {
        assert_eq!(check("Éléphant!!9x"), vec![]);
        // "é" typed as e + combining acute is one character after NFKC.
        let decomposed = "E\u{301}le\u{301}phant!!9";
        assert_eq!(check(decomposed), vec![TooShort]);
        assert_eq!(
            Composition::of(&crate::password::normalize(decomposed)).length,
            11
        );
    }

    #[test]
    fn full_width_input_is_its_ascii_twin() {
        // A Japanese IME in full-width mode: Ｃｏｒｒｅｃｔ－Ｈｏｒｓｅ＃４２
        let full_width = "Ｃｏｒｒｅｃｔ－Ｈｏｒｓｅ＃４２";
        assert_eq!(check(full_width), vec![]);
        assert_eq!(PasswordPolicy::default().check(full_width, GOOD), vec![]);
    }

    #[test]
    fn every_number_is_configurable() {
        let policy = PasswordPolicy {
            min_length: 4,
            max_length: 8,
            min_uppercase: 0,
            min_lowercase: 0,
            min_digits: 3,
            min_special: 0,
        };
        assert_eq!(policy.check("1234", "1234"), vec![]);
        assert_eq!(policy.check("12ab", "12ab"), vec![NeedsDigit]);
        assert_eq!(policy.check("123456789", "123456789"), vec![TooLong]);
        let codes: Vec<_> = policy.describe().iter().map(|r| r.code).collect();
        assert_eq!(
            codes,
            vec![TooShort, TooLong, NeedsDigit, ForbiddenCharacter, Mismatch]
        );
    }

    #[test]
    fn describes_itself_as_scenario_a_checklist() {
        let texts: Vec<_> = PasswordPolicy::default()
            .describe()
            .into_iter()
            .map(|r| (r.code.code(), r.value, r.text))
            .collect();
        assert_eq!(
            texts[0],
            ("too_short", Some(12), "At least 12 characters".to_owned())
        );
        assert_eq!(
            texts[1],
            ("too_long", Some(60), "At most 60 characters".to_owned())
        );
        assert_eq!(
            texts[2],
            (
                "needs_uppercase",
                Some(1),
                "At least 1 uppercase letter".to_owned()
            )
        );
        assert_eq!(
            texts[3],
            (
                "needs_lowercase",
                Some(2),
                "At least 2 lowercase letters".to_owned()
            )
        );
        assert_eq!(
            texts[4],
            ("needs_digit", Some(1), "At least 1 number".to_owned())
        );
        assert_eq!(
            texts[5],
            (
                "needs_special",
                Some(2),
                "At least 2 special characters".to_owned()
            )
        );
        assert_eq!(texts[7], ("mismatch", None, "Passwords match".to_owned()));
    }

    #[test]
    fn refuses_unsatisfiable_policies() {
        let p = |min_length, max_length, min_digits| PasswordPolicy {
            min_length,
            max_length,
            min_digits,
            ..PasswordPolicy::default()
        };
        assert_eq!(p(0, 60, 1).validate(), Err(PolicyError::ZeroMinimum));
        assert_eq!(
            p(20, 10, 1).validate(),
            Err(PolicyError::MinAboveMax { min: 20, max: 10 })
        );
        assert_eq!(
            p(4, 6, 4).validate(),
            Err(PolicyError::Unsatisfiable {
                required: 9,
                max: 6
            })
        );
        assert_eq!(PasswordPolicy::default().validate(), Ok(()));
    }

    fn classes() -> impl Strategy<Value = (String, String, String, String, String)> {
        (
            "[A-Z]{0,4}",
            "[a-z]{0,4}",
            "[0-9]{0,4}",
            "[!#$%&*+,.:;=?@^_~ -]{0,4}",
            "[ぁ-ゖ]{0,50}",
        )
    }

    proptest! {
        /// The reported rules are exactly those the counts break, whatever the mix.
        #[test]
        fn reports_exactly_the_broken_rules((up, low, dig, spec, kana) in classes()) {
            let pw = format!("{kana}{spec}{dig}{low}{up}");
            let len = pw.chars().count();
            let mut expected = vec![];
            if len < 12 { expected.push(TooShort) }
            if len > 60 { expected.push(TooLong) }
            if up.is_empty() { expected.push(NeedsUppercase) }
            if low.len() < 2 { expected.push(NeedsLowercase) }
            if dig.is_empty() { expected.push(NeedsDigit) }
            if spec.len() < 2 { expected.push(NeedsSpecial) }
            prop_assert_eq!(check(&pw), expected);
        }

        #[test]
        fn check_never_panics(new in "\\PC{0,100}", confirm in "\\PC{0,10}") {
            let _ = PasswordPolicy::default().check(&new, &confirm);
        }

        #[test]
        fn mismatch_is_reported_iff_normalised_forms_differ(a in "[a-zA-Z0-9!#]{0,20}", b in "[a-zA-Z0-9!#]{0,20}") {
            let broken = PasswordPolicy::default().check(&a, &b);
            prop_assert_eq!(broken.contains(&Mismatch), a != b);
        }
    }
}
