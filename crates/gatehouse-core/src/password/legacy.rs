//! Password hashes imported from an old system, kept only when the operator allows it
//! (`migration.keep_passwords`): bcrypt (`$2a$`, `$2b$`, `$2y$`), PBKDF2 in PHC form
//! (`$pbkdf2-sha256$i=…,l=…$salt$hash`, also `-sha512`) and argon2 in PHC form. A match
//! always asks for a rehash, so the first successful login upgrades it to argon2id.
//!
//! Legacy hashes see the password exactly as typed: the old system never normalised it.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordVerifier as _};
use aws_lc_rs::pbkdf2;
use std::num::NonZeroU32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a bcrypt, PBKDF2 or argon2 hash Gatehouse can verify")]
pub struct UnsupportedHash;

/// A recognised legacy hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegacyHash {
    Bcrypt(String),
    Pbkdf2 {
        digest: Pbkdf2Digest,
        iterations: NonZeroU32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Argon2(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pbkdf2Digest {
    Sha256,
    Sha512,
}

impl Pbkdf2Digest {
    fn algorithm(self) -> pbkdf2::Algorithm {
        match self {
            Self::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }
}

/// At least this many PBKDF2 rounds; fewer is not worth keeping.
const MIN_PBKDF2_ITERATIONS: u32 = 1_000;

impl LegacyHash {
    pub fn parse(stored: &str) -> Result<Self, UnsupportedHash> {
        if ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| stored.starts_with(p))
        {
            // bcrypt's own parser is the check: cost and the 53-character tail.
            return stored
                .parse::<bcrypt::HashParts>()
                .map(|_| Self::Bcrypt(stored.to_owned()))
                .map_err(|_| UnsupportedHash);
        }
        let phc = PasswordHash::new(stored).map_err(|_| UnsupportedHash)?;
        let digest = match phc.algorithm.as_str() {
            "argon2id" | "argon2i" | "argon2d" => return Ok(Self::Argon2(stored.to_owned())),
            "pbkdf2-sha256" => Pbkdf2Digest::Sha256,
            "pbkdf2-sha512" => Pbkdf2Digest::Sha512,
            _ => return Err(UnsupportedHash),
        };
        let iterations = phc
            .params
            .get_decimal("i")
            .filter(|i| *i >= MIN_PBKDF2_ITERATIONS)
            .and_then(NonZeroU32::new)
            .ok_or(UnsupportedHash)?;
        let salt = phc.salt.ok_or(UnsupportedHash)?.as_ref().to_vec();
        let hash = phc.hash.ok_or(UnsupportedHash)?.as_ref().to_vec();
        if hash.len() < 16 {
            return Err(UnsupportedHash);
        }
        Ok(Self::Pbkdf2 {
            digest,
            iterations,
            salt,
            hash,
        })
    }

    /// True when `password` (as typed) is the one this hash was made from. Every
    /// comparison is constant-time (bcrypt's, aws-lc's and argon2's own).
    pub fn verify(&self, password: &str) -> bool {
        match self {
            Self::Bcrypt(stored) => bcrypt::verify(password, stored).unwrap_or(false),
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
            } => pbkdf2::verify(
                digest.algorithm(),
                *iterations,
                salt,
                password.as_bytes(),
                hash,
            )
            .is_ok(),
            Self::Argon2(stored) => PasswordHash::new(stored).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn pbkdf2_phc(password: &str, iterations: u32) -> String {
        let salt = b"saltsaltsaltsalt";
        let mut out = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(iterations).unwrap(),
            salt,
            password.as_bytes(),
            &mut out,
        );
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        format!(
            "$pbkdf2-sha256$i={iterations},l=32${}${}",
            b64.encode(salt),
            b64.encode(out)
        )
    }

    #[test]
    fn bcrypt_hashes_verify_as_typed() {
        let stored = bcrypt::hash("old secret", 4).unwrap();
        let hash = LegacyHash::parse(&stored).unwrap();
        assert!(hash.verify("old secret"));
        assert!(!hash.verify("old secret "));
    }

    #[test]
    fn pbkdf2_phc_hashes_verify() {
        let stored = pbkdf2_phc("old secret", 1_000);
        let hash = LegacyHash::parse(&stored).unwrap();
        assert!(hash.verify("old secret"));
        assert!(!hash.verify("Old secret"));
    }

    #[test]
    fn too_few_pbkdf2_rounds_and_unknown_formats_are_refused() {
        assert_eq!(
            LegacyHash::parse(&pbkdf2_phc("x", 10)),
            Err(UnsupportedHash)
        );
        for junk in ["", "plaintext", "$1$abc$def", "$2b$04$short", "$md5$x$y"] {
            assert_eq!(LegacyHash::parse(junk), Err(UnsupportedHash), "{junk}");
        }
    }
}
