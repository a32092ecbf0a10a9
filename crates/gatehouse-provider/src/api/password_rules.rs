//! The password policy as a checklist a page can tick as the user types: the
//! registration link's "Set your password" and the account's password change.

use gatehouse_core::password::{PasswordPolicy, PasswordRule, RuleDescription};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::{Problem, ProblemCode};

/// 422 `password_policy` naming every rule `password` (and its confirmation) breaks.
pub(crate) fn check(
    policy: &PasswordPolicy,
    password: &str,
    confirmation: &str,
    title: &str,
) -> Result<(), Problem> {
    let broken = policy.check(password, confirmation);
    if broken.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = broken.iter().map(|r| r.code()).collect();
    Err(Problem::new(ProblemCode::PasswordPolicy, title)
        .with_extension("violations", serde_json::json!(codes)))
}

/// One line of the password checklist: "At least 12 characters".
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordRuleView {
    /// The rule; the checklist keys its lines on it, and `violations` names the same codes.
    #[schema(value_type = PasswordRuleName)]
    pub code: PasswordRule,
    /// The number in the rule, where it has one (12 for `too_short`).
    pub value: Option<usize>,
    /// An English fallback text; a UI localises on `code`.
    pub text: String,
}

impl From<RuleDescription> for PasswordRuleView {
    fn from(rule: RuleDescription) -> Self {
        Self {
            code: rule.code,
            value: rule.value,
            text: rule.text,
        }
    }
}

/// The password rules, as the document lists them.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum PasswordRuleName {
    TooShort,
    TooLong,
    NeedsUppercase,
    NeedsLowercase,
    NeedsDigit,
    NeedsSpecial,
    ForbiddenCharacter,
    Mismatch,
}

/// The policy's rules, in the order violations are reported.
pub fn checklist(policy: &PasswordPolicy) -> Vec<PasswordRuleView> {
    policy
        .describe()
        .into_iter()
        .map(PasswordRuleView::from)
        .collect()
}
