//! Passwords: the composition policy (scenario A's checklist) and argon2id hashing.
//!
//! Both sides see a password after [`normalize`]: Unicode NFKC, as NIST SP 800-63B
//! §5.1.1.2 advises. A password typed with a Japanese IME in full-width form
//! (`Ｐａｓｓ１`) is then the same password as its ASCII twin, and a letter typed
//! precomposed or with a combining accent is one character either way.

mod hashing;
pub mod legacy;
mod policy;

pub use hashing::{HashingError, HashingParams, PasswordHasher, Verification};
pub use policy::{Composition, PasswordPolicy, PasswordRule, PolicyError, RuleDescription};

use unicode_normalization::UnicodeNormalization;

/// The canonical form of a password, the one that is measured and hashed.
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}
