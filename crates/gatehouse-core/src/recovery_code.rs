//! Recovery codes: ten single-use codes, shown once, stored as keyed hashes. A code
//! is ten characters of Crockford's base32 (50 random bits), shown as `xxxxx-xxxxx`;
//! what the user types is read leniently (case, spaces, dashes, `i`/`l` for `1`,
//! `o` for `0`).

use chrono::{DateTime, Utc};

use crate::factor::FactorId;

pub const CODES_PER_SET: usize = 10;
const LENGTH: usize = 10;
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// One stored code: only its keyed hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryCode {
    pub id: String,
    pub factor_id: FactorId,
    pub code_hash: String,
    pub used_at: Option<DateTime<Utc>>,
}

/// A new code, formatted for display. `next_byte` is a CSPRNG; 32 divides 256, so
/// five bits of each byte are uniform.
pub fn generate(mut next_byte: impl FnMut() -> u8) -> String {
    let chars: String = (0..LENGTH)
        .map(|_| char::from(ALPHABET[usize::from(next_byte() & 31)]))
        .collect();
    format!("{}-{}", &chars[..LENGTH / 2], &chars[LENGTH / 2..])
}

/// The canonical form of a typed code, or `None` when it cannot be one.
pub fn normalize(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(LENGTH);
    for c in typed.chars() {
        let c = match c.to_ascii_lowercase() {
            '-' | ' ' => continue,
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || out.len() == LENGTH {
            return None;
        }
        out.push(c);
    }
    (out.len() == LENGTH).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_read_leniently() {
        assert_eq!(normalize("ABCDE-FGHJK").as_deref(), Some("abcdefghjk"));
        assert_eq!(normalize(" o1il2 34567 ").as_deref(), Some("0111234567"));
        assert_eq!(normalize("abcde-fghj"), None, "too short");
        assert_eq!(normalize("abcde-fghjkm"), None, "too long");
        assert_eq!(normalize("abcde-fghju"), None, "u is not in the alphabet");
        assert_eq!(normalize("abcde-fghjé"), None);
    }

    proptest! {
        #[test]
        fn every_generated_code_normalizes_to_itself(bytes in proptest::collection::vec(any::<u8>(), LENGTH)) {
            let mut it = bytes.into_iter();
            let code = generate(|| it.next().unwrap_or(0));
            prop_assert_eq!(code.len(), LENGTH + 1);
            prop_assert_eq!(normalize(&code), Some(code.replace('-', "")));
        }
    }
}
